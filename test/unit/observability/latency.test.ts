import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LATENCY_BOUNDS_SECONDS,
  LATENCY_BUCKET_COUNT,
  count,
  meanMs,
  mergeHistograms,
  percentileMs,
  subtractHistograms,
  sumMs,
} from '../../../src/observability/latency.js';
import { LATENCY_BUCKETS } from '../../../src/sandbox/worker-protocol.js';

/** A 26-bucket histogram with the given counts at the given bucket indices. */
function hist(entries: Record<number, number>): number[] {
  const h = new Array<number>(LATENCY_BUCKET_COUNT).fill(0);
  for (const [i, c] of Object.entries(entries)) h[Number(i)] = c;
  return h;
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= Math.abs(expected) * 1e-9 + 1e-15, `${what}: ${actual} != ${expected}`);
}

test('latency - the bucket count matches the worker protocol, and the bounds are exact decimals', () => {
  assert.equal(LATENCY_BUCKET_COUNT, LATENCY_BUCKETS);
  assert.equal(LATENCY_BOUNDS_SECONDS.length, LATENCY_BUCKET_COUNT - 1);
  assert.deepEqual(LATENCY_BOUNDS_SECONDS.slice(0, 6).map(String), ['0.000001', '0.000002', '0.000004', '0.000008', '0.000016', '0.000032']);
  assert.equal(String(LATENCY_BOUNDS_SECONDS[24]), '16.777216');
});

test('latency - percentileMs places the rank geometrically inside its bucket', () => {
  const cases: { what: string; h: number[]; q: number; ms: number }[] = [
    { what: 'empty', h: hist({}), q: 0.99, ms: 0 },
    { what: 'one call under 1 µs: linear in [0, 1)', h: hist({ 0: 1 }), q: 0.99, ms: 0.0005 },
    { what: 'one call in [1, 2) µs: geometric middle', h: hist({ 1: 1 }), q: 0.5, ms: Math.SQRT2 / 1000 },
    { what: 'one call in [1024, 2048) µs', h: hist({ 11: 1 }), q: 0.99, ms: 1.4481546878700495 },
    { what: '100 calls in [512, 1024) µs, P99', h: hist({ 10: 100 }), q: 0.99, ms: 1.0134084161691719 },
    { what: '100 calls in [512, 1024) µs, P50', h: hist({ 10: 100 }), q: 0.5, ms: 0.721572226632714 },
    { what: 'P99 ignores one outlier in 100', h: hist({ 5: 99, 20: 1 }), q: 0.99, ms: 0.03188817206789305 },
    { what: 'q = 1 is the slowest call', h: hist({ 5: 99, 20: 1 }), q: 1, ms: 741.4552001894654 },
    { what: 'q = 0 is the fastest call', h: hist({ 3: 1, 9: 5 }), q: 0, ms: (4 * Math.SQRT2) / 1000 },
    { what: 'the open last bucket reports its lower bound', h: hist({ 25: 1 }), q: 0.99, ms: 16777.216 },
    { what: 'a shorter array works', h: [0, 0, 4], q: 0.5, ms: (2 * 2 ** (1.5 / 4)) / 1000 },
  ];
  for (const c of cases) close(percentileMs(c.h, c.q), c.ms, c.what);
});

test('latency - a single call is estimated within √2 of any value its bucket could hold', () => {
  for (let i = 1; i < LATENCY_BUCKET_COUNT - 1; i++) {
    const est = percentileMs(hist({ [i]: 1 }), 0.99) * 1000; // µs
    const lo = 2 ** (i - 1);
    assert.ok(est >= lo && est < 2 * lo, `bucket ${i}: ${est} outside [${lo}, ${2 * lo})`);
    assert.ok(est / lo <= Math.SQRT2 + 1e-9 && (2 * lo) / est <= Math.SQRT2 + 1e-9);
  }
});

test('latency - percentileMs refuses a quantile outside 0..1', () => {
  for (const q of [-0.01, 1.01, NaN, 99]) assert.throws(() => percentileMs(hist({ 1: 1 }), q), RangeError, String(q));
});

test('latency - count, sumMs and meanMs', () => {
  const cases: { what: string; h: number[]; n: number; mean: number }[] = [
    { what: 'empty', h: hist({}), n: 0, mean: 0 },
    { what: 'bucket 0 counts 0.5 µs', h: hist({ 0: 4 }), n: 4, mean: 0.0005 },
    { what: 'a doubling bucket counts lo / ln 2', h: hist({ 10: 3 }), n: 3, mean: 0.7386598609351492 },
    { what: 'mixed', h: hist({ 5: 99, 20: 1 }), n: 100, mean: 7.5867292654236085 },
    { what: 'the open bucket counts its lower bound', h: hist({ 25: 2 }), n: 2, mean: 16777.216 },
  ];
  for (const c of cases) {
    assert.equal(count(c.h), c.n, c.what);
    close(meanMs(c.h), c.mean, c.what);
    close(sumMs(c.h), c.mean * c.n, c.what);
  }
});

test('latency - mergeHistograms adds bucket-wise', () => {
  const cases: { what: string; inputs: number[][]; out: number[] }[] = [
    { what: 'nothing', inputs: [], out: hist({}) },
    { what: 'one', inputs: [hist({ 2: 3 })], out: hist({ 2: 3 }) },
    { what: 'three', inputs: [hist({ 2: 3 }), hist({ 2: 1, 7: 2 }), hist({ 25: 1 })], out: hist({ 2: 4, 7: 2, 25: 1 }) },
    { what: 'short arrays are padded', inputs: [[1], [0, 2]], out: hist({ 0: 1, 1: 2 }) },
  ];
  for (const c of cases) assert.deepEqual(mergeHistograms(...c.inputs), c.out, c.what);
  const a = hist({ 1: 1 });
  mergeHistograms(a, a);
  assert.deepEqual(a, hist({ 1: 1 }), 'inputs are not modified');
});

test('latency - subtractHistograms gives the window, or everything after a reset', () => {
  const cases: { what: string; later: number[]; earlier: number[]; out: number[] }[] = [
    { what: 'no change', later: hist({ 3: 5 }), earlier: hist({ 3: 5 }), out: hist({}) },
    { what: 'growth', later: hist({ 3: 5, 8: 2 }), earlier: hist({ 3: 4 }), out: hist({ 3: 1, 8: 2 }) },
    { what: 'from nothing', later: hist({ 3: 5 }), earlier: hist({}), out: hist({ 3: 5 }) },
    { what: 'a bucket went down: reset, all of later is new', later: hist({ 3: 1, 4: 9 }), earlier: hist({ 3: 2 }), out: hist({ 3: 1, 4: 9 }) },
  ];
  for (const c of cases) assert.deepEqual(subtractHistograms(c.later, c.earlier), c.out, c.what);
});

test('latency - windowed P99 from subtracting two readings', () => {
  const before = hist({ 4: 1000 });
  const after = mergeHistograms(before, hist({ 12: 100 }));
  close(percentileMs(subtractHistograms(after, before), 0.99), (2048 * 2 ** (98.5 / 100)) / 1000, 'only the new, slow calls');
});
