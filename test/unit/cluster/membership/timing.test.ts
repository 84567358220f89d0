import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pushPullScale, retransmitLimit, suspicionTimeout } from '../../../../src/cluster/membership/timing.js';

test('suspicionTimeout - memberlist TestSuspicionTimeout (mult 3, 1 s interval, divided by 3)', () => {
  const cases: [n: number, expectedMs: number][] = [
    [5, 1000],
    [10, 1000],
    [50, 1698],
    [100, 2000],
    [500, 2698],
    [1000, 3000],
  ];
  for (const [n, expected] of cases) {
    assert.equal(suspicionTimeout(3, n, 1000) / 3, expected, `n=${n}`);
  }
});

test('suspicionTimeout - LAN minimum and maximum (× SuspicionMaxTimeoutMult 6) by cluster size', () => {
  const cases: [n: number, minMs: number, maxMs: number][] = [
    [0, 4000, 24000],
    [1, 4000, 24000],
    [10, 4000, 24000],
    [100, 8000, 48000],
    [1000, 12000, 72000],
    [10000, 16000, 96000],
  ];
  for (const [n, min, max] of cases) {
    const t = suspicionTimeout(4, n, 1000);
    assert.equal(t, min, `min n=${n}`);
    assert.equal(6 * t, max, `max n=${n}`);
  }
});

test('suspicionTimeout - local profile and fractional intervals', () => {
  assert.equal(suspicionTimeout(3, 5, 1000), 3000);
  assert.equal(suspicionTimeout(3, 5, 100), 300);
  assert.equal(suspicionTimeout(3, 50, 100), 509.4); // 3 × 1.698 × 100
});

test('retransmitLimit - memberlist TestRetransmitLimit and the LAN table', () => {
  const cases: [mult: number, n: number, expected: number][] = [
    [3, 0, 0],
    [3, 1, 3],
    [3, 99, 6],
    [4, 1, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [4, 999, 12],
    [4, 1000, 16],
  ];
  for (const [mult, n, expected] of cases) assert.equal(retransmitLimit(mult, n), expected, `mult=${mult} n=${n}`);
});

test('pushPullScale - memberlist TestPushPullScale: 1× to 32, 2× to 64, 3× to 128', () => {
  const sec = 1000;
  for (let i = 0; i <= 32; i++) assert.equal(pushPullScale(sec, i), sec, `n=${i}`);
  for (let i = 33; i <= 64; i++) assert.equal(pushPullScale(sec, i), 2 * sec, `n=${i}`);
  for (let i = 65; i <= 128; i++) assert.equal(pushPullScale(sec, i), 3 * sec, `n=${i}`);
  assert.equal(pushPullScale(30_000, 256), 120_000);
});
