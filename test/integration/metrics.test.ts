/**
 * NodeMetrics and the metrics server over a real pool: real workers, the echo agent built from source,
 * a trapping fixture, and scrapes over HTTP on a free port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeMetrics, type NodeMetricsOptions } from '../../src/observability/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../src/observability/metrics-server.js';
import type { AgentPool } from '../../src/sandbox/index.js';
import { Client, fixtureWasm, spawnAgent, waitForEvent } from '../helpers/agents.js';
import { withPool } from '../helpers/pool.js';
import { initiatorAgent } from '../helpers/wat-agents.js';
import { parseExposition, type Exposition } from '../unit/observability/exposition.js';

/** Every name the brief, the runbook and spec §10.2 ask for. */
const REQUIRED = [
  'caxton_agent_message_latency_p99',
  'caxton_agent_crashes_total',
  'caxton_agent_memory_used_bytes',
  'caxton_system_cpu_usage_percent',
  'caxton_system_memory_available_bytes',
  'caxton_cluster_nodes_total',
  'caxton_cluster_nodes_alive',
  'caxton_cluster_nodes_suspect',
  'caxton_cluster_nodes_failed',
  'caxton_cluster_gossip_latency_ms',
  'caxton_cluster_convergence_time_ms',
  'caxton_message_processing_duration_seconds',
  'caxton_message_routing_duration_seconds',
  'caxton_messages_routed_total',
  'caxton_queue_depth',
  'caxton_agent_queue_depth',
  'caxton_active_conversations',
  'caxton_fuel_used_total',
  'caxton_agent_fuel_used_total',
  'caxton_agent_restarts_total',
  'caxton_agent_restarts',
  'caxton_messages_received_total',
  'caxton_messages_sent_total',
  'caxton_agents',
  'caxton_active_agents',
  'caxton_http_requests_total',
  'caxton_http_request_duration_seconds',
  'caxton_outbox_pending',
  'caxton_dead_letters',
  'process_cpu_user_seconds_total',
  'nodejs_heap_size_used_bytes',
];

async function withMetrics(
  pool: AgentPool,
  options: Partial<NodeMetricsOptions>,
  fn: (scrape: () => Promise<Exposition>, metrics: NodeMetrics, server: MetricsServer) => Promise<void>,
): Promise<void> {
  const metrics = new NodeMetrics({ nodeId: 'node-a', pool, extra: () => ({ outboxPending: 2, deadLetters: 1 }), ...options });
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0, metrics });
  const scrape = async (): Promise<Exposition> => {
    const r = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseExposition(await r.text());
  };
  try {
    await fn(scrape, metrics, server);
  } finally {
    await server.close();
    metrics.close();
  }
}

test('metrics - a scrape over HTTP has every required metric, parses, and counts the echo traffic', async () => {
  await withPool({ workers: 2 }, async (pool) => {
    await withMetrics(pool, {}, async (scrape, metrics) => {
      await spawnAgent(pool, 'echo', 'echo-1');
      const c = new Client(pool);
      for (let i = 0; i < 10; i++) await c.request('echo-1', 'request', { i });
      metrics.observeHttp('get', '/api/v1/agents', 200, 0.003);
      metrics.observeHttp('POST', '/api/v1/messages', 202, 0.0007);
      metrics.observeRouting(0.000004);
      metrics.observeRouting(0.00002, true);
      metrics.observeSpawn(0.0008);

      const e = await scrape();
      const missing = REQUIRED.filter((n) => (e.families.get(n)?.samples.length ?? 0) === 0);
      assert.deepEqual(missing, [], 'every required metric has samples');
      for (const n of REQUIRED.filter((x) => x.startsWith('caxton_'))) assert.ok(e.families.get(n)?.help, `${n} has HELP`);

      assert.equal(e.value('caxton_node_info', { node_id: 'node-a' }), 1);
      assert.equal(e.value('caxton_agents', { state: 'running' }), 1);
      assert.equal(e.value('caxton_agents', { state: 'failed' }), 0);
      assert.equal(e.value('caxton_active_agents'), 1);
      assert.equal(e.value('caxton_agent_spawns_total'), 1);
      assert.equal(e.value('caxton_messages_received_total'), 10);
      assert.equal(e.value('caxton_messages_sent_total'), 10);
      assert.equal(e.value('caxton_agent_messages_received_total', { agent: 'echo-1' }), 10);
      assert.equal(e.value('caxton_agent_state', { agent: 'echo-1', state: 'running' }), 1);
      assert.equal(e.value('caxton_agent_queue_depth', { agent: 'echo-1' }), 0);
      assert.ok((e.value('caxton_agent_memory_bytes', { agent: 'echo-1' }) ?? 0) >= 65536);
      assert.equal(e.value('caxton_agent_memory_used_bytes'), e.value('caxton_agent_memory_bytes', { agent: 'echo-1' }));
      assert.ok((e.value('caxton_fuel_used_total') ?? 0) > 0);
      assert.equal(e.value('caxton_fuel_used_total'), e.value('caxton_agent_fuel_used_total', { agent: 'echo-1' }));
      assert.equal(e.value('caxton_active_conversations'), 10);
      assert.equal(e.value('caxton_message_processing_duration_seconds_count'), 10);
      const p99 = e.value('caxton_agent_message_latency_p99') ?? 0;
      assert.ok(p99 > 0 && p99 < 1, `P99 in seconds: ${p99}`);
      assert.equal(e.value('caxton_cluster_nodes_total'), 1);
      assert.equal(e.value('caxton_cluster_nodes_alive'), 1);
      assert.equal(e.value('caxton_cluster_nodes_failed'), 0);
      assert.equal(e.value('caxton_workers'), 2);
      assert.equal(e.value('caxton_outbox_pending'), 2);
      assert.equal(e.value('caxton_dead_letters'), 1);
      const cpu = e.value('caxton_system_cpu_usage_percent') ?? -1;
      assert.ok(cpu >= 0 && cpu <= 100, `cpu ${cpu}`);
      assert.ok((e.value('caxton_system_memory_available_bytes') ?? 0) > 0);
      assert.equal(e.value('caxton_metrics_agents_omitted'), 0);

      assert.equal(e.value('caxton_http_requests_total', { method: 'GET', route: '/api/v1/agents', status: '200' }), 1);
      assert.equal(e.value('caxton_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/messages' }), 1);
      assert.equal(e.value('caxton_messages_routed_total'), 2);
      assert.equal(e.value('caxton_message_routing_errors_total'), 1);
      assert.equal(e.value('caxton_message_routing_duration_seconds_bucket', { le: '0.000005' }), 1);
      assert.equal(e.value('caxton_agent_spawn_duration_seconds_count'), 1);

      // The runbook's greps show these as plain, unlabelled lines.
      const text = await metrics.text();
      for (const n of ['caxton_cluster_nodes_alive', 'caxton_agent_message_latency_p99', 'caxton_agent_crashes_total', 'caxton_agent_memory_used_bytes', 'caxton_system_cpu_usage_percent', 'caxton_system_memory_available_bytes']) {
        assert.match(text, new RegExp(`^${n} [0-9.e+-]+$`, 'm'), n);
      }
      c.close();
    });
  });
});

test('metrics - crashes are counted from pool events and never go down; totals survive removing the agent', async () => {
  await withPool({ workers: 1 }, async (pool, { events }) => {
    await withMetrics(pool, {}, async (scrape) => {
      const trap = await pool.admit(fixtureWasm('trap-handler'));
      await pool.spawn({ name: 'trapper', module: trap.hash });
      await spawnAgent(pool, 'echo', 'echo-1');
      const c = new Client(pool);
      await c.request('echo-1', 'request', 'hi');
      const before = await scrape();
      assert.equal(before.value('caxton_agent_crashes_total'), 0);
      assert.equal(before.value('caxton_agent_faults_total', { agent: 'trapper' }), 0);

      c.send('trapper', 'request', 'boom');
      c.send('trapper', 'request', 'boom');
      await waitForEvent(events, (e) => e.type === 'agent_started' && e.name === 'trapper' && e.restarts === 2);
      const after = await scrape();
      assert.equal(after.value('caxton_agent_crashes_total'), 2);
      assert.equal(after.value('caxton_agent_faults_total', { agent: 'trapper' }), 2);
      assert.equal(after.value('caxton_agent_restarts_total'), 2);
      assert.equal(after.value('caxton_agent_restarts', { agent: 'trapper' }), 2);
      assert.ok((after.value('caxton_message_errors_total') ?? 0) >= 2, 'a crashed call is an error');
      const received = after.value('caxton_messages_received_total') ?? 0;
      assert.ok(received >= 3);

      await pool.remove('trapper');
      await pool.remove('echo-1');
      const gone = await scrape();
      assert.equal(gone.value('caxton_agent_crashes_total'), 2, 'the node total keeps the crashes of removed agents');
      assert.equal(gone.value('caxton_agent_faults_total', { agent: 'trapper' }), undefined, 'per-agent series go with the agent');
      assert.equal(gone.value('caxton_messages_received_total'), received, 'counters do not go down when agents leave');
      assert.equal(gone.value('caxton_agents', { state: 'running' }), 0);
      c.close();
    });
  });
});

test('metrics - per-agent series stop at the cap; node totals count every agent', async () => {
  await withPool({ workers: 1 }, async (pool) => {
    await withMetrics(pool, { perAgentLimit: 2 }, async (scrape) => {
      for (const name of ['a1', 'a2', 'a3']) await spawnAgent(pool, 'echo', name);
      const c = new Client(pool);
      for (const name of ['a1', 'a2', 'a3']) await c.request(name, 'request', name);
      const e = await scrape();
      assert.deepEqual(e.samples('caxton_agent_queue_depth').map((s) => s.labels.agent), ['a1', 'a2'], 'the first two, in deployment order');
      assert.equal(e.samples('caxton_agent_state').length, 2);
      assert.equal(e.value('caxton_metrics_agents_omitted'), 1);
      assert.equal(e.value('caxton_agents', { state: 'running' }), 3);
      assert.equal(e.value('caxton_messages_received_total'), 3);
      c.close();
    });
  });
});

test('metrics - one scrape gathers from the workers once, however many metrics and concurrent scrapes', async () => {
  await withPool({ workers: 2 }, async (pool) => {
    await spawnAgent(pool, 'echo', 'echo-1');
    const calls = { stats: 0, conversationCount: 0, conversations: 0 };
    const stats = pool.stats.bind(pool);
    const conversationCount = pool.conversationCount.bind(pool);
    const conversations = pool.conversations.bind(pool);
    pool.stats = () => (calls.stats++, stats());
    pool.conversationCount = () => (calls.conversationCount++, conversationCount());
    pool.conversations = () => (calls.conversations++, conversations());
    const metrics = new NodeMetrics({ nodeId: 'n', pool, processMetrics: false });
    try {
      await metrics.text();
      assert.deepEqual(calls, { stats: 1, conversationCount: 1, conversations: 0 }, 'the scrape asks for a count, never for the conversations themselves');
      await Promise.all([metrics.text(), metrics.text(), metrics.registry.getMetricsAsJSON()]);
      assert.deepEqual(calls, { stats: 2, conversationCount: 2, conversations: 0 }, 'concurrent scrapes share one gather');
      const text = await metrics.text();
      assert.doesNotMatch(text, /caxton_outbox_pending|caxton_dead_letters/, 'not wired: not exported');
      assert.doesNotMatch(text, /^process_/m, 'process metrics off');
      parseExposition(text);
    } finally {
      metrics.close();
    }
  });
});

test('metrics - cluster gauges come from the cluster layer', async () => {
  await withPool({ workers: 1 }, async (pool) => {
    const cluster = {
      members: () => ({ total: 5, alive: 3, suspect: 1, failed: 1, left: 0 }),
      gossipLatencyMs: () => 1.2,
      convergenceTimeMs: () => 423,
    };
    await withMetrics(pool, { cluster, processMetrics: false }, async (scrape) => {
      const e = await scrape();
      const got = ['total', 'alive', 'suspect', 'failed', 'left'].map((s) => e.value(`caxton_cluster_nodes_${s}`));
      assert.deepEqual(got, [5, 3, 1, 1, 0]);
      assert.equal(e.value('caxton_cluster_gossip_latency_ms'), 1.2);
      assert.equal(e.value('caxton_cluster_convergence_time_ms'), 423);
    });
  });
});

test('metrics - a conversation between agents of two workers is counted once', async () => {
  await withPool({ workers: 2 }, async (pool) => {
    await spawnAgent(pool, 'echo', 'echo-1');
    await spawnAgent(pool, 'echo', 'echo-2');
    assert.notEqual(pool.agent('echo-1')?.worker, pool.agent('echo-2')?.worker, 'one echo on each worker');
    const c = new Client(pool);
    try {
      // Both echoes answer in conversation "shared"; echo-1 also in "alone".
      c.send('echo-1', 'request', 1, { conversation_id: 'shared', reply_with: 'r1' });
      c.send('echo-2', 'request', 2, { conversation_id: 'shared', reply_with: 'r2' });
      c.send('echo-1', 'request', 3, { conversation_id: 'alone', reply_with: 'r3' });
      await c.waitFor((m) => m.in_reply_to === 'r1');
      await c.waitFor((m) => m.in_reply_to === 'r2');
      await c.waitFor((m) => m.in_reply_to === 'r3');
      assert.equal(await pool.conversationCount(), 2);
      assert.equal((await pool.conversations()).length, 2);
    } finally {
      c.close();
    }
  });
});

test('metrics - queue bytes per agent and in total, as the mailbox counts them; poison messages are counted', async () => {
  await withPool({}, async (pool) => {
    await withMetrics(pool, {}, async (scrape) => {
      await spawnAgent(pool, 'echo', 'held');
      pool.suspend('held');
      const sent = ['a', 'bb', 'é'.repeat(100)].map((content) => JSON.stringify({ performative: 'inform', sender: 'client', receiver: 'held', content }));
      for (const json of sent) assert.ok(pool.deliver('held', json));
      const bytes = 2 * sent.reduce((n, json) => n + json.length, 0);
      let e = await scrape();
      for (let i = 0; i < 50 && e.value('caxton_agent_queue_depth', { agent: 'held' }) !== 3; i++) e = await scrape();
      assert.equal(e.value('caxton_agent_queue_depth', { agent: 'held' }), 3);
      assert.equal(e.value('caxton_agent_queue_bytes', { agent: 'held' }), bytes, '2 bytes per UTF-16 code unit, é included');
      assert.equal(e.value('caxton_queue_bytes'), bytes);
      assert.equal(e.value('caxton_messages_poisoned_total'), 0);

      const trap = await pool.admit(fixtureWasm('trap-handler'));
      await pool.spawn({ name: 'trapper', module: trap.hash });
      const c = new Client(pool);
      await c.request('trapper', 'request', 'boom', 'failure');
      const after = await scrape();
      assert.equal(after.value('caxton_messages_poisoned_total'), 1);
      assert.equal(after.value('caxton_agent_crashes_total'), 1);
    });
  });
});

test('metrics - a message to a name that exists nowhere counts in caxton_messages_no_such_agent_total; other refusals do not', async () => {
  await withPool({ workers: 1 }, async (pool, { events }) => {
    await withMetrics(pool, {}, async (scrape) => {
      await spawnAgent(pool, 'echo', 'echo-1');
      await pool.stop('echo-1');
      // An agent that sends to a stopped agent, then to a name nobody has.
      for (const [name, to] of [['asker-1', 'echo-1'], ['asker-2', 'nobody']] as const) {
        const m = await pool.admit(await initiatorAgent(JSON.stringify({ performative: 'request', receiver: to, content: 'x' })));
        await pool.spawn({ name, module: m.hash });
        pool.deliver(name, JSON.stringify({ performative: 'inform', sender: 'client', receiver: name, content: 'go' }));
      }
      await waitForEvent(events, (e) => e.type === 'undeliverable' && e.to === 'nobody');
      await waitForEvent(events, (e) => e.type === 'undeliverable' && e.to === 'echo-1');
      const e = await scrape();
      assert.equal(e.value('caxton_messages_undeliverable_total'), 2);
      assert.equal(e.value('caxton_messages_no_such_agent_total'), 1);
    });
  });
});
