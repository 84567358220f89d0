/**
 * Real CaxtonNodes in one process, with real SWIM membership on loopback and their REST APIs: the
 * agents' cluster layer driven by real view changes (joins, a graceful leave, a node that stops
 * answering). Peers between them is the in-process MemoryNetwork (the link is issue 11's other part);
 * the multi-process tests come with the integration of both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CaxtonNode } from '../../../src/node.js';
import type { NodeEvent } from '../../../src/api/context.js';
import { createLogger } from '../../../src/observability/logger.js';
import { evenly, rank } from '../../../src/cluster/placement/rendezvous.js';
import { MemoryNetwork } from '../../helpers/memory-peers.js';
import { agentWasm, Client } from '../../helpers/agents.js';
import { freePort } from '../../unit/cluster/serf/serf-harness.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';

const fast = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 500 } as const;
const NAMES = ['node-1', 'node-2', 'node-3'];
const quiet = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn', destination: process.env['TEST_LOG_LEVEL'] ? process.stderr : new Writable({ write: (_c, _e, cb) => cb() }) });

interface Started {
  readonly node: CaxtonNode;
  readonly events: NodeEvent[];
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

async function startNodes(): Promise<{ nodes: Map<string, Started>; net: MemoryNetwork; cleanup(): Promise<void> }> {
  const dir = tempDir();
  const net = new MemoryNetwork();
  const host = '127.0.0.1';
  const nodes = new Map<string, Started>();
  let seed: { host: string; port: number } | undefined;
  for (const name of NAMES) {
    const port = await freePort(host);
    const dataDir = join(dir.path, name);
    const node = await CaxtonNode.start({
      dataDir,
      nodeId: name,
      logger: quiet,
      workers: 1,
      drainTimeoutMs: 5000,
      api: { addr: { host, port: 0 } },
      cluster: { bind: { host, port }, profile: 'local', timings: fast, seeds: seed === undefined ? [] : [seed], expect: 3 },
      peers: net.add(name),
    });
    seed ??= { host, port };
    const events: NodeEvent[] = [];
    node.onEvent((e) => events.push(e));
    const key = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
    const url = `http://${host}:${node.apiAddress?.port}/api/v1`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    nodes.set(name, { node, events, api });
  }
  for (const s of nodes.values()) await until('every node sees three alive Caxton members', () => s.node.cluster?.members().filter((m) => m.status === 'alive' && m.tags['role'] === 'caxton').length === 3);
  return {
    nodes,
    net,
    cleanup: async () => {
      for (const s of nodes.values()) await s.node.stop();
      dir.cleanup();
    },
  };
}

/** Names whose rendezvous owner among `among` is `owner`. */
function ownedBy(owner: string, n: number, among: readonly string[] = NAMES): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (rank(`c${i}`, evenly(among))[0] === owner) out.push(`c${i}`);
  return out;
}

async function count(node: CaxtonNode, agent: string): Promise<number> {
  const client = new Client(node.pool, `probe-${Math.random().toString(36).slice(2)}`);
  try {
    return ((await client.request(agent, 'request', { op: 'get' })).content as { count: number }).count;
  } finally {
    client.close();
  }
}

test('cluster agents - a graceful leave hands every agent over with its state; then the last other node stops answering: without a quorum its agents are not taken over', async () => {
  const { nodes, net, cleanup } = await startNodes();
  try {
    const n2 = nodes.get('node-2') as Started;
    const names = ownedBy('node-2', 2);
    for (const a of names) await n2.node.deployments.deploy({ name: a, module: agentWasm('counter') });
    // The owner pushed each deployment to its replica (the next in rank), and nowhere else.
    for (const a of names) {
      const replica = rank(a, evenly(NAMES))[1] as string;
      await until(`${a} on its replica`, () => nodes.get(replica)?.node.clusterAgents?.replicaStore.get(a) !== undefined);
      const other = NAMES.find((x) => x !== 'node-2' && x !== replica) as string;
      assert.equal(nodes.get(other)?.node.clusterAgents?.replicaStore.get(a), undefined);
    }
    const client = new Client(n2.node.pool);
    for (const a of names) for (let i = 0; i < 3; i++) await client.request(a, 'request', { op: 'increment' });
    client.close();

    const left = await n2.api('POST', '/cluster/leave', { drain_timeout_ms: 5000 });
    assert.equal(left.status, 200, JSON.stringify(left.body));
    const moved = left.body['moved'] as { agent: string; to: string; ok: boolean; epoch: number; pause_ms: number }[];
    assert.equal(moved.length, 2);
    assert.ok(moved.every((m) => m.ok && m.epoch === 1 && m.pause_ms >= 0), JSON.stringify(moved));
    assert.deepEqual(left.body['stayed'], []);
    for (const m of moved) {
      const to = nodes.get(m.to) as Started;
      assert.equal(to.node.deployments.store.get(m.agent)?.epoch, 1);
      assert.equal(await count(to.node, m.agent), 3);
    }
    const watch = n2.events.filter((e) => e.type === 'cluster.agent_moved').map((e) => e['text']);
    assert.equal(watch.length, 2);
    for (const t of watch) assert.match(String(t), /^\[INFO\] agent c\d+ moved node-2 → node-[13] \(leave, epoch 1, paused [\d.]+ ms\)$/);

    // node-3 stops answering (its gossip and its link), without leaving. node-2 left gracefully, so the
    // cluster is node-1 and node-3 now (quorum 2): node-1 alone cannot tell a crash from a partition,
    // and taking node-3's agents over could run them twice (docs/operations.md, "Quorum"). It keeps them
    // as replicas, starts none, and reports itself alone.
    const n1 = nodes.get('node-1') as Started;
    const n3 = nodes.get('node-3') as Started;
    await until('node-2 seen left', () => n1.node.cluster?.members().find((m) => m.name === 'node-2')?.status === 'left');
    const on3 = n3.node.deployments.store.list().map((d) => d.name);
    assert.ok(on3.length > 0, 'node-3 runs some of the agents');
    for (const a of on3) await until(`${a} replicated to node-1`, () => n1.node.clusterAgents?.replicaStore.get(a)?.owner === 'node-3');
    net.down('node-3');
    await n3.node.cluster?.shutdown();
    await until('node-1 sees node-3 failed', () => n1.node.cluster?.members().find((m) => m.name === 'node-3')?.status === 'failed');
    await until('node-1 knows it is alone', async () => (await n1.api('GET', '/cluster/partition')).body['state'] === 'alone');
    await n1.node.clusterAgents?.viewChanged();
    for (const a of on3) {
      assert.equal(n1.node.deployments.store.get(a), undefined, `${a} is not taken over without a quorum`);
      assert.equal(n1.node.clusterAgents?.replicaStore.get(a)?.owner, 'node-3', `${a} stays a replica`);
    }
    assert.deepEqual(n1.events.filter((e) => e.type === 'cluster.agent_moved' && e['reason'] === 'failover'), []);
  } finally {
    await cleanup();
  }
});

test('cluster agents - isolate over the API moves a node\'s agents away and tags it; rejoin brings them back; rebalance evens them out', async () => {
  const { nodes, cleanup } = await startNodes();
  try {
    const n1 = nodes.get('node-1') as Started;
    const n3 = nodes.get('node-3') as Started;
    const names = ownedBy('node-3', 2);
    for (const a of names) await n3.node.deployments.deploy({ name: a, module: agentWasm('counter') });
    const r = await n1.api('POST', '/cluster/isolate', { node: 'node-3' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((r.body['moves'] as unknown[]).length, 2);
    assert.equal(n3.node.deployments.count(), 0);
    await until('node-1 sees node-3 isolated', () => n1.node.cluster?.members().find((m) => m.name === 'node-3')?.tags['isolated'] === '1');
    const bad = await n1.api('POST', '/cluster/isolate', { node: 'node-9' });
    assert.equal(bad.status, 404);
    assert.equal((bad.body['error'] as { code: string }).code, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE');
    const back = await n1.api('POST', '/cluster/rejoin', { node: 'node-3' });
    assert.equal(back.status, 200);
    await until('the agents are back on node-3', () => names.every((a) => n3.node.pool.agent(a)?.state === 'running'), 20_000);
    assert.equal(n1.node.cluster?.members().find((m) => m.name === 'node-3')?.tags['isolated'], undefined);
    // Both agents on node-3 and none elsewhere: an even distribution moves one of them, live.
    const reb = await n1.api('POST', '/cluster/rebalance', { strategy: 'even-distribution', max_moves: 1 });
    assert.equal(reb.status, 200, JSON.stringify(reb.body));
    assert.equal(reb.body['remaining'], 0);
    const moves = reb.body['moves'] as { from: string; ok: boolean; pause_ms: number }[];
    assert.equal(moves.length, 1);
    assert.ok(moves[0]?.ok && moves[0].from === 'node-3' && moves[0].pause_ms >= 0, JSON.stringify(moves));
    const wrong = await n1.api('POST', '/cluster/rebalance', { strategy: 'round-robin' });
    assert.equal(wrong.status, 400);
    assert.equal((wrong.body['error'] as { code: string }).code, 'CAXTON_ERR_API_INVALID_REQUEST');
  } finally {
    await cleanup();
  }
});
