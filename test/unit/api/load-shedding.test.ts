import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCaxtonError } from '../../../src/errors.js';
import { LoadShedder, parsePercentage, SHED_RETRY_AFTER_S } from '../../../src/api/load-shedding.js';
import { LoadShedding } from '../../../src/api/shed-load.js';

const quiet = { warn: () => {} };

/** How many of `n` decisions shed, and at which positions (0-based). */
function run(s: LoadShedder, n: number): { shed: number; at: number[] } {
  const at: number[] = [];
  for (let i = 0; i < n; i++) if (s.shed()) at.push(i);
  return { shed: at.length, at };
}

test('load shedding - exactly N of every 100 decisions, over 1,000, for several percentages', () => {
  for (const p of [1, 5, 20, 33, 50, 67, 75, 99]) {
    const s = new LoadShedder();
    s.set(p);
    const { at } = run(s, 1000);
    assert.equal(at.length, p * 10, `${p}%: ${p * 10} of 1,000`);
    assert.equal(s.shedTotal, p * 10);
    // Not bunched: every run of 100 consecutive decisions from the change sheds exactly p.
    for (let w = 0; w < 10; w++) assert.equal(at.filter((i) => i >= w * 100 && i < (w + 1) * 100).length, p, `${p}%, decisions ${w * 100}-${w * 100 + 99}`);
  }
});

test('load shedding - 50% alternates: every second message is refused', () => {
  const s = new LoadShedder();
  s.set(50);
  assert.deepEqual(run(s, 10).at, [1, 3, 5, 7, 9]);
});

test('load shedding - 0 is off (nothing shed, nothing counted) and 100 refuses every message', () => {
  const off = new LoadShedder();
  assert.equal(off.percentage, 0, 'a new node starts at 0');
  assert.equal(run(off, 1000).shed, 0);
  assert.equal(off.shedTotal, 0);
  const all = new LoadShedder();
  all.set(100);
  assert.equal(run(all, 1000).shed, 1000);
  all.set(0);
  assert.equal(run(all, 100).shed, 0, 'set back to 0: shedding stops');
  assert.equal(all.shedTotal, 1000, 'the total stays');
});

test('load shedding - a new percentage starts the count over (no debt carried from the previous one)', () => {
  const s = new LoadShedder();
  s.set(99);
  run(s, 1); // owes 99
  s.set(1);
  assert.equal(run(s, 99).shed, 0, 'the first shed of 1% is the 100th decision, not the next one');
  assert.equal(run(s, 1).shed, 1);
});

test('load shedding - a bad percentage is refused with the field and the range, and leaves the share unchanged', () => {
  const s = new LoadShedder();
  s.set(20);
  for (const bad of [101, -1, 2.5, Number.NaN, Infinity, '50', null, undefined]) {
    assert.throws(
      () => parsePercentage(bad),
      (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_API_INVALID_REQUEST') && /percentage must be a whole number from 0 \(off\) to 100, got /.test(e.message) && e.details?.['field'] === 'percentage',
      String(bad),
    );
    assert.throws(() => s.set(bad as number), /whole number from 0/);
  }
  assert.equal(s.percentage, 20);
});

test('load shedding - the refusal is a 503 CAXTON_ERR_LOAD_SHED naming the node and the share, with retryAfter for the Retry-After header', () => {
  const s = new LoadShedder();
  s.set(20);
  const e = s.refusal('node-1');
  assert.equal(e.code, 'CAXTON_ERR_LOAD_SHED');
  assert.equal(e.status, 503);
  assert.match(e.message, /node node-1 is shedding 20% of new external messages/);
  assert.match(e.hint, /caxton cluster shed-load --percentage 0/);
  assert.deepEqual(e.details, { node: 'node-1', percentage: 20, retryAfter: SHED_RETRY_AFTER_S });
});

test('load shedding - on a single node apply and status cover the node itself; another name is an unknown node', async () => {
  const shedder = new LoadShedder();
  const ls = new LoadShedding({ nodeId: 'solo', shedder, logger: quiet });
  assert.deepEqual(await ls.apply(30, undefined, 'test'), { nodes: [{ node: 'solo', percentage: 30, shed_total: 0 }], missing: [] });
  assert.equal(ls.percentage, 30);
  shedder.shed();
  shedder.shed();
  shedder.shed();
  shedder.shed();
  assert.deepEqual(await ls.status('solo'), { nodes: [{ node: 'solo', percentage: 30, shed_total: 1 }], missing: [] });
  assert.equal(ls.shedTotal, 1);
  await assert.rejects(ls.apply(10, 'node-9', 'test'), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE') && /node-9/.test(e.message));
  await assert.rejects(ls.apply(101, undefined, 'test'), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_API_INVALID_REQUEST'));
  assert.equal(ls.percentage, 30, 'unchanged by refused orders');
});
