import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countFooter,
  formatAge,
  formatBytes,
  formatDuration,
  formatLatency,
  formatPercent,
  formatRate,
  renderFields,
  renderTable,
} from '../../../src/cli/output.js';
import { renderProfile, profileWindow } from '../../../src/cli/commands/debug.js';
import type { StatsView } from '../../../src/cli/api-types.js';

test('cli output - tables look like the runbook: CAPS headings, aligned columns, no borders, no trailing blanks', () => {
  const text = renderTable(['NODE', 'CPU', 'MEMORY', 'AGENTS'], [['node-1', '89%', '7.2GB', 3421]]);
  assert.equal(text, 'NODE      CPU    MEMORY    AGENTS\nnode-1    89%    7.2GB     3421\n');
  const lines = renderTable(['AGENT-ID', 'AVG-LATENCY', 'P99-LATENCY'], [['processor-5', '250ms', '1.2s'], ['a', '1ms', '2ms']]).split('\n');
  assert.equal(lines[0], 'AGENT-ID       AVG-LATENCY    P99-LATENCY');
  assert.equal(lines[1], 'processor-5    250ms          1.2s');
  for (const l of lines) assert.equal(l, l.trimEnd());
  for (const l of lines) assert.ok(!/[│─┌└]/.test(l), 'no box drawing');
});

test('cli output - missing cells show as -', () => {
  assert.equal(renderTable(['A', 'B'], [['x', null], [undefined, '']]), 'A    B\nx    -\n-    -\n');
});

test('cli output - key: value listings align their values', () => {
  assert.equal(renderFields([['node', 'n1'], ['dead letters', 0], ['x', null]]), 'node:         n1\ndead letters: 0\nx:            -\n');
});

test('cli output - list footers count by state, like "3 agents (2 running, 1 failed)"', () => {
  assert.equal(countFooter(3, 'agent', { running: 2, failed: 1 }), '3 agents (2 running, 1 failed)');
  assert.equal(countFooter(1, 'agent', { running: 1 }), '1 agent (1 running)');
  assert.equal(countFooter(0, 'agent', {}), '0 agents');
  assert.equal(countFooter(2, 'match'), '2 matches');
  assert.equal(countFooter(2, 'key', { suspended: 0, running: 2 }), '2 keys (2 running)');
});

test('cli output - bytes the runbook way (7.2GB, 16GB)', () => {
  assert.equal(formatBytes(512), '512B');
  assert.equal(formatBytes(65536), '64KB');
  assert.equal(formatBytes(7.2 * 1024 ** 3), '7.2GB');
  assert.equal(formatBytes(16 * 1024 ** 3), '16GB');
  assert.equal(formatBytes(15.2 * 1024 ** 3), '15.2GB');
  assert.equal(formatBytes(178 * 1024 ** 2), '178MB');
  assert.equal(formatBytes(-2048), '-2KB');
  assert.equal(formatBytes(undefined), '-');
});

test('cli output - latencies and durations (250ms, 1.2s, 3m 12s)', () => {
  assert.equal(formatLatency(0.016), '16µs');
  assert.equal(formatLatency(0.5), '500µs');
  assert.equal(formatLatency(2.5), '2.5ms');
  assert.equal(formatLatency(250), '250ms');
  assert.equal(formatLatency(1200), '1.2s');
  assert.equal(formatLatency(0), '0ms');
  assert.equal(formatDuration(45_000), '45s');
  assert.equal(formatDuration(192_000), '3m 12s');
  assert.equal(formatDuration(600_000), '10m');
  assert.equal(formatDuration(7_500_000), '2h 5m');
  assert.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000), '3d 4h');
  assert.equal(formatAge(new Date(Date.now() - 45_000).toISOString()), '45s ago');
  assert.equal(formatPercent(89.4), '89%');
  assert.equal(formatRate(0.25), '0.25/s');
  assert.equal(formatRate(41418.2), '41,418/s');
});

function stats(over: Partial<StatsView> & { buckets?: number[] }): StatsView {
  const buckets = over.buckets ?? new Array<number>(26).fill(0);
  return {
    name: 'calc', state: 'running', messages_in: 0, messages_out: 0, errors: 0, faults: 0, restarts: 0, fuel_used: 0,
    memory_bytes: 65536, queued: 0, queued_bytes: 0, timers: 0, duplicates: 0, poisoned: 0, circuit: 'closed', blocked_senders: [],
    latency: { count: buckets.reduce((a, b) => a + b, 0), mean_ms: 0, p50_ms: 0, p99_ms: 0, buckets },
    canary: null,
    ...over,
  };
}

test('cli profile - the window is the difference of two snapshots, latency from the subtracted histograms', () => {
  const b1 = new Array<number>(26).fill(0);
  b1[20] = 100; // 100 old slow calls, [524 ms, 1 s): must not count in the window
  const b2 = [...b1];
  b2[10] = 99; // 99 calls in [512 µs, 1024 µs)
  b2[14] = 1; //   1 call  in [8 ms, 16 ms)
  const w = profileWindow(
    stats({ messages_in: 100, messages_out: 90, errors: 1, fuel_used: 1000, buckets: b1 }),
    stats({ messages_in: 200, messages_out: 190, errors: 3, fuel_used: 21_000, memory_bytes: 131072, buckets: b2 }),
    10_000,
  );
  assert.equal(w.messages_in, 100);
  assert.equal(w.messages_per_s, 10);
  assert.equal(w.errors, 2);
  assert.equal(w.fuel_per_s, 2000);
  assert.equal(w.memory_delta_bytes, 65536);
  assert.equal(w.calls, 100);
  assert.ok(w.p50_ms >= 0.512 && w.p50_ms < 1.024, `p50 ${w.p50_ms} in the 512 µs bucket`);
  assert.ok(w.p99_ms >= 0.512 && w.p99_ms < 1.024, `p99 ${w.p99_ms}: the 99th of 100 is still in the 512 µs bucket`);
  assert.equal(w.reset, false);
  const text = renderProfile('calc', w);
  assert.match(text, /^METRIC\s+VALUE$/m);
  assert.match(text, /^messages in\s+100 \(10\/s\)$/m);
  assert.match(text, /^errors\s+2 \(2%\)$/m);
  assert.match(text, /^memory\s+128KB \(\+64KB\)$/m);
  assert.match(text, new RegExp(`^latency P99\\s+${formatLatency(w.p99_ms)}$`, 'm'));
  assert.match(text, /^latency P50\s+7\d\dµs$/m);
});

test('cli profile - counters that went down mean a restart: the later snapshot counts from zero', () => {
  const b = new Array<number>(26).fill(0);
  b[5] = 4;
  const w = profileWindow(stats({ messages_in: 50, fuel_used: 500, buckets: new Array<number>(26).fill(1) }), stats({ messages_in: 4, fuel_used: 40, buckets: b }), 1000);
  assert.equal(w.reset, true);
  assert.equal(w.messages_in, 4);
  assert.equal(w.calls, 4);
  assert.match(renderProfile('calc', w), /restarted during the window/);
});
