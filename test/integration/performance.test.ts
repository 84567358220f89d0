/**
 * `cluster performance` and the views on a single node (no peers): the views are exactly today's, and
 * the performance table comes from the node's own metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentWasm } from '../helpers/agents.js';
import { withNode } from '../helpers/node.js';
import { runCli } from '../helpers/server.js';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

test('performance - single node: the runbook\'s rows from live data; no failure detection nor cross-node figure; another node is unknown', async () => {
  await withNode({}, async (ctx) => {
    await ctx.call('POST', '/agents', { name: 'echo', module: b64(agentWasm('echo')) });
    for (let i = 0; i < 20; i++) await ctx.call('POST', '/messages', { performative: 'inform', receiver: 'echo', content: i });
    const r = await ctx.call('GET', '/cluster/performance');
    assert.equal(r.status, 200);
    assert.deepEqual([r.body.nodes, r.body.missing], [['test-node'], []]);
    const rows = r.body.per_node[0].metrics as { key: string; status: string; actual: number | null; target: number }[];
    const by = (k: string) => rows.find((m) => m.key === k) as (typeof rows)[number];
    for (const k of ['routing_p50', 'routing_p99', 'agent_start_p50', 'agent_start_p99']) {
      assert.ok(['ok', 'degraded'].includes(by(k).status) && (by(k).actual as number) > 0, `${k} measured: ${JSON.stringify(by(k))}`);
    }
    assert.equal(by('routing_p99').target, 200e-6);
    assert.equal(by('throughput').status, 'ok');
    assert.equal(by('failure_detection').status, 'n/a');
    assert.equal(by('cross_node_p99').status, 'n/a');
    const other = await ctx.call('GET', '/cluster/performance?node=elsewhere');
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE');
    assert.equal((await ctx.call('GET', '/cluster/performance?node=test-node')).status, 200);

    const cli = await runCli(['cluster', 'performance'], { env: { CAXTON_API_URL: ctx.url.replace(/\/api\/v1$/, ''), CAXTON_API_KEY: ctx.adminKey } });
    assert.match(cli.stdout, /^METRIC\s+TARGET\s+ACTUAL\s+STATUS\nMessage routing P50\s+30µs\s+\S+\s+[✓✗] (OK|DEGRADED)$/m);
    assert.match(cli.stdout, /^Failure detection\s+3s\s+n\/a\s+- n\/a$/m);
    assert.match(cli.stdout, /^Throughput\s+300,000\/s\s+\S+\s+✓ OK$/m);
    // Exit 1 exactly when a row is degraded (scripts and alerts rely on it).
    assert.equal(cli.code, rows.some((m) => m.status === 'degraded') ? 1 : 0, cli.stderr);
  });
});

test('performance - views on a single node are today\'s: no node field, no coverage lists; node= names only itself', async () => {
  await withNode({}, async (ctx) => {
    await ctx.call('POST', '/agents', { name: 'echo', module: b64(agentWasm('echo')) });
    const list = await ctx.call('GET', '/agents');
    assert.deepEqual(Object.keys(list.body), ['agents', 'total']);
    assert.equal('node' in list.body.agents[0], false);
    assert.deepEqual(Object.keys((await ctx.call('GET', '/stats/agents')).body), ['agents']);
    assert.deepEqual(Object.keys((await ctx.call('GET', '/queue')).body), ['total_queued', 'total_queued_bytes', 'outbox_pending', 'dead_letters', 'agents']);
    assert.deepEqual(Object.keys((await ctx.call('GET', '/resources')).body), ['node', 'agents']);
    assert.deepEqual(Object.keys((await ctx.call('GET', '/memory')).body), ['node_id', 'used_bytes', 'limit_bytes', 'available_bytes', 'heap_used_bytes', 'agents_memory_bytes', 'agents']);
    assert.equal((await ctx.call('GET', '/agents?node=test-node')).body.total, 1);
    const other = await ctx.call('GET', '/memory?node=node-2');
    assert.equal(other.status, 404);
    assert.equal(other.body.error.code, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE');
  });
});
