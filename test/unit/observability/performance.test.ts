/** `cluster performance` figures from real prom-client metrics, over a sliding window. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { NodePerformance, quantileSeconds, type PerformanceRow } from '../../../src/observability/performance.js';

test('performance - quantiles interpolate inside their bucket, as histogram_quantile does', () => {
  const bounds = [0.001, 0.002, 0.004];
  // 10 values ≤ 1 ms, 10 in (1, 2] ms, none above 4 ms; cumulative, then +Inf.
  const cumulative = [10, 20, 20, 20];
  assert.equal(quantileSeconds(bounds, cumulative, 0.5), 0.001);
  assert.ok(Math.abs(quantileSeconds(bounds, cumulative, 0.75) - 0.0015) < 1e-12);
  assert.ok(Math.abs(quantileSeconds(bounds, cumulative, 0.25) - 0.0005) < 1e-12, 'the first bucket starts at 0');
  assert.equal(quantileSeconds(bounds, [0, 0, 0, 5], 0.99), 0.004, 'past the last bound: the last bound');
  assert.equal(quantileSeconds(bounds, [0, 0, 0, 0], 0.99), 0, 'nothing: 0');
});

function setup() {
  const registry = new Registry();
  const routing = new Histogram({ name: 'caxton_message_routing_duration_seconds', help: 'h', buckets: [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 0.001, 0.01], registers: [registry] });
  const handled = new Counter({ name: 'caxton_messages_received_total', help: 'h', registers: [registry] });
  const depth = new Gauge({ name: 'caxton_queue_depth', help: 'h', registers: [registry] });
  const spawn = new Histogram({ name: 'caxton_agent_spawn_duration_seconds', help: 'h', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01], registers: [registry] });
  let now = 0;
  const perf = new NodePerformance({ nodeId: 'n1', registries: () => [registry], windowMs: 60_000, now: () => now });
  return { registry, routing, handled, depth, spawn, perf, advance: (ms: number) => (now += ms) };
}

const row = (rows: readonly PerformanceRow[], key: string) => rows.find((r) => r.key === key) as PerformanceRow;

test('performance - rows with targets from the budgets; OK within, DEGRADED past, no data and n/a never degraded', async () => {
  const s = setup();
  let v = await s.perf.view();
  assert.deepEqual(v.metrics.map((r) => r.key), ['routing_p50', 'routing_p99', 'cross_node_p50', 'cross_node_p99', 'failure_detection', 'throughput', 'agent_start_p50', 'agent_start_p99']);
  assert.deepEqual([row(v.metrics, 'routing_p99').status, row(v.metrics, 'routing_p99').actual], ['no_data', null]);
  assert.equal(row(v.metrics, 'cross_node_p99').status, 'n/a', 'no link metric registered');
  assert.equal(row(v.metrics, 'failure_detection').status, 'n/a', 'single node');

  for (let i = 0; i < 98; i++) s.routing.observe(2e-5);
  s.routing.observe(0.005);
  s.routing.observe(0.005);
  s.spawn.observe(0.0008);
  s.advance(1000);
  v = await s.perf.view();
  const p50 = row(v.metrics, 'routing_p50');
  assert.equal(p50.status, 'ok');
  assert.ok((p50.actual as number) <= 30e-6 && (p50.actual as number) > 1e-5);
  const p99 = row(v.metrics, 'routing_p99');
  assert.equal(p99.target, 200e-6);
  assert.equal(p99.status, 'degraded', `two calls of 5 ms in 100 put the P99 past 200 µs: ${p99.actual}`);
  assert.equal(row(v.metrics, 'agent_start_p99').status, 'ok');
});

test('performance - the window forgets what is older than it; a reading after a quiet minute has no data', async () => {
  const s = setup();
  for (let i = 0; i < 10; i++) s.routing.observe(0.005);
  s.advance(30_000);
  assert.equal(row((await s.perf.view()).metrics, 'routing_p99').status, 'degraded');
  s.advance(40_000);
  // At 70 s no reading is 60 s old but the start: the window still reaches back to it.
  assert.equal(row((await s.perf.view()).metrics, 'routing_p99').status, 'degraded', 'still within the window of the start');
  s.advance(61_000);
  assert.equal(row((await s.perf.view()).metrics, 'routing_p99').status, 'no_data', 'nothing new since a reading over a minute old');
  s.routing.observe(1e-5);
  s.advance(1000);
  assert.equal(row((await s.perf.view()).metrics, 'routing_p99').status, 'ok');
});

test('performance - throughput is a rate over the window, degraded only with a backlog', async () => {
  const s = setup();
  s.handled.inc(1000);
  s.advance(10_000);
  let t = row((await s.perf.view()).metrics, 'throughput');
  assert.equal(t.actual, 100);
  assert.equal(t.status, 'ok', 'a quiet node below the target is fine');
  s.depth.set(50_000);
  s.handled.inc(500);
  s.advance(10_000);
  t = row((await s.perf.view()).metrics, 'throughput');
  assert.equal(t.actual, 75, '1,500 in 20 s since the start');
  assert.equal(t.status, 'degraded');
  assert.match(t.note ?? '', /50000 messages queued/);
});

test('performance - the cross-node round trip is read from the link\'s call latency, every peer\'s series together', async () => {
  const s = setup();
  const link = new Registry();
  const route = new Histogram({ name: 'caxton_cluster_link_call_latency_seconds', help: 'h', labelNames: ['peer'], buckets: [1e-4, 2.5e-4, 5e-4, 0.001], registers: [link] });
  const perf = new NodePerformance({ nodeId: 'n1', registries: () => [s.registry, link] });
  for (let i = 0; i < 50; i++) route.observe({ peer: 'n2' }, 9e-5);
  for (let i = 0; i < 50; i++) route.observe({ peer: 'n3' }, 8e-4);
  const v = await perf.view();
  assert.equal(row(v.metrics, 'cross_node_p50').status, 'ok');
  assert.equal(row(v.metrics, 'cross_node_p99').status, 'degraded');
  assert.ok((row(v.metrics, 'cross_node_p99').actual as number) > 5e-4);
});

test('performance - failure detection comes from the cluster when there is one', async () => {
  const registry = new Registry();
  const expected = new NodePerformance({ nodeId: 'n', registries: () => [registry], detection: () => ({ ms: 2250, source: 'expected' }) });
  const e = row((await expected.view()).metrics, 'failure_detection');
  assert.deepEqual([e.actual, e.status, e.basis], [2.25, 'ok', 'expected']);
  const observed = new NodePerformance({ nodeId: 'n', registries: () => [registry], detection: () => ({ ms: 5800, source: 'observed', node: 'n3', at: 0 }) });
  const o = row((await observed.view()).metrics, 'failure_detection');
  assert.deepEqual([o.actual, o.status, o.basis], [5.8, 'degraded', 'measured']);
  assert.match(o.note ?? '', /n3 failed/);
});
