import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyWindow } from '../../../src/observability/latency-window.js';
import { LATENCY_BUCKET_COUNT } from '../../../src/observability/latency.js';

function hist(entries: Record<number, number>): number[] {
  const h = new Array<number>(LATENCY_BUCKET_COUNT).fill(0);
  for (const [i, c] of Object.entries(entries)) h[Number(i)] = c;
  return h;
}

test('latency window - early on it covers everything since the start', () => {
  const w = new LatencyWindow(60_000, 0);
  assert.deepEqual(w.push(15_000, hist({ 1: 3 })), hist({ 1: 3 }));
  assert.deepEqual(w.push(30_000, hist({ 1: 5 })), hist({ 1: 5 }));
});

test('latency window - later it covers the newest snapshot at least a window old until now', () => {
  const w = new LatencyWindow(60_000, 0);
  const steps: [number, number[], number[]][] = [
    // at, cumulative, expected window
    [15_000, hist({ 1: 10 }), hist({ 1: 10 })],
    [30_000, hist({ 1: 20 }), hist({ 1: 20 })],
    [60_000, hist({ 1: 30 }), hist({ 1: 30 })], // start (0) is exactly a window old
    [75_000, hist({ 1: 30, 9: 1 }), hist({ 1: 20, 9: 1 })], // base: 15 s
    [90_000, hist({ 1: 30, 9: 1 }), hist({ 1: 10, 9: 1 })], // base: 30 s
    [200_000, hist({ 1: 31, 9: 1 }), hist({ 1: 1 })], // base: 90 s
  ];
  for (const [at, cum, expected] of steps) assert.deepEqual(w.push(at, cum), expected, `at ${at}`);
  assert.ok(w.size <= 3, `old snapshots are dropped (${w.size} kept)`);
});

test('latency window - frequent scrapes keep a bounded number of snapshots', () => {
  const w = new LatencyWindow(1000, 0);
  for (let t = 1; t <= 10_000; t += 10) w.push(t, hist({ 2: t }));
  assert.ok(w.size <= 1000 / 10 + 2, `${w.size} snapshots`);
});
