import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Suspicion, remainingSuspicionTime } from '../../../../src/cluster/membership/suspicion.js';
import { FakeClock } from './fake-clock.js';

test('remainingSuspicionTime - memberlist TestSuspicion_remainingSuspicionTime, negatives included', () => {
  const cases: [n: number, k: number, elapsed: number, min: number, max: number, expected: number][] = [
    [0, 3, 0, 2000, 30000, 30000],
    [1, 3, 2000, 2000, 30000, 14000],
    [2, 3, 3000, 2000, 30000, 4810],
    [3, 3, 4000, 2000, 30000, -2000],
    [4, 3, 5000, 2000, 30000, -3000],
    [5, 3, 10000, 2000, 30000, -8000],
  ];
  for (const [n, k, elapsed, min, max, expected] of cases) {
    assert.equal(remainingSuspicionTime(n, k, elapsed, min, max), expected, `n=${n} k=${k} elapsed=${elapsed}`);
  }
});

test('remainingSuspicionTime - k < 1 means min', () => {
  assert.equal(remainingSuspicionTime(0, 0, 0, 300, 1800), 300);
  assert.equal(remainingSuspicionTime(2, 0, 500, 300, 1800), -200);
});

interface Pair {
  readonly from: string;
  readonly newInfo: boolean;
}

// memberlist TestSuspicion_Timer, on fake time: k = 3, min 500 ms, max 2 s, 25 ms between confirmations.
// Go checks ±25 ms windows around 810 ms for two confirmations; on fake time we can pin the exact
// value, floor(2000 − log 3 / log 4 × 1500) = 811 ms.
const timerCases: { numConfirmations: number; confirmations: Pair[]; expected: number }[] = [
  { numConfirmations: 0, confirmations: [], expected: 2000 },
  { numConfirmations: 1, confirmations: [{ from: 'me', newInfo: false }, { from: 'foo', newInfo: true }], expected: 1250 },
  {
    numConfirmations: 1,
    confirmations: [
      { from: 'me', newInfo: false },
      { from: 'foo', newInfo: true },
      { from: 'foo', newInfo: false },
      { from: 'foo', newInfo: false },
    ],
    expected: 1250,
  },
  {
    numConfirmations: 2,
    confirmations: [
      { from: 'me', newInfo: false },
      { from: 'foo', newInfo: true },
      { from: 'bar', newInfo: true },
    ],
    expected: 811,
  },
  {
    numConfirmations: 3,
    confirmations: [
      { from: 'me', newInfo: false },
      { from: 'foo', newInfo: true },
      { from: 'bar', newInfo: true },
      { from: 'baz', newInfo: true },
    ],
    expected: 500,
  },
  {
    numConfirmations: 3,
    confirmations: [
      { from: 'me', newInfo: false },
      { from: 'foo', newInfo: true },
      { from: 'bar', newInfo: true },
      { from: 'baz', newInfo: true },
      { from: 'zoo', newInfo: false },
    ],
    expected: 500,
  },
];

test('Suspicion - confirmations shrink the timeout (memberlist TestSuspicion_Timer cases)', () => {
  const fudge = 25;
  timerCases.forEach((c, i) => {
    const clock = new FakeClock();
    const fired: { n: number; at: number }[] = [];
    const start = clock.now();
    const s = new Suspicion('me', 3, 500, 2000, (n) => fired.push({ n, at: clock.now() - start }), clock);
    for (const p of c.confirmations) {
      clock.advance(fudge);
      assert.equal(s.confirm(p.from), p.newInfo, `case ${i}: newInfo for ${p.from}`);
    }
    const already = c.confirmations.length * fudge;
    clock.advance(c.expected - already - 1);
    assert.equal(fired.length, 0, `case ${i}: fired early`);
    clock.advance(1);
    assert.deepEqual(fired, [{ n: c.numConfirmations, at: c.expected }], `case ${i}`);
    assert.equal(s.confirmations, c.numConfirmations);

    // A confirmation after the timeout must not fire it again.
    s.confirm('late');
    clock.advance(c.expected * 2);
    assert.equal(fired.length, 1, `case ${i}: fired twice`);
  });
});

test('Suspicion - k = 0 starts at min and takes no confirmations (TestSuspicion_Timer_ZeroK)', () => {
  const clock = new FakeClock();
  let fired = 0;
  const s = new Suspicion('me', 0, 25, 30_000, () => fired++, clock);
  assert.equal(s.confirm('foo'), false);
  clock.advance(24);
  assert.equal(fired, 0);
  clock.advance(1);
  assert.equal(fired, 1);
});

test('Suspicion - an overdue confirmation fires on the next turn, not inside confirm (TestSuspicion_Timer_Immediate)', () => {
  const clock = new FakeClock();
  let fired = 0;
  const s = new Suspicion('me', 1, 100, 30_000, () => fired++, clock);
  clock.advance(200);
  assert.equal(s.confirm('foo'), true);
  assert.equal(fired, 0, 'not synchronously');
  clock.advance(0);
  assert.equal(fired, 1);
  clock.advance(60_000);
  assert.equal(fired, 1, 'once');
});

test('Suspicion - cancel stops it for good', () => {
  const clock = new FakeClock();
  let fired = 0;
  const s = new Suspicion('me', 2, 100, 600, () => fired++, clock);
  s.cancel();
  assert.equal(s.confirm('a'), true);
  clock.advance(10_000);
  assert.equal(fired, 0);
});
