/**
 * Cluster-wide views over real nodes: three in-process CaxtonNodes (real pools, SQLite, API on
 * loopback) talk through the in-process Peers network (test/helpers/memory-peers.ts) standing in for
 * the cluster link, which is tested on its own. The API of one node and the CLI against it show every
 * node's agents and figures with their node, `node=` restricts, a node down or failed is reported
 * missing, an unknown node is refused.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CaxtonNode } from '../../src/node.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ViewMember } from '../../src/api/cluster-views.js';
import { MemoryNetwork } from '../helpers/memory-peers.js';
import { agentWasm } from '../helpers/agents.js';
import { runCli } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

interface Running {
  readonly node: CaxtonNode;
  readonly url: string;
  readonly key: string;
  readonly dir: ReturnType<typeof tempDir>;
}

const NAMES = ['n1', 'n2', 'n3'] as const;
const net = new MemoryNetwork();
/** The membership every node sees; tests change statuses. */
const members = new Map<string, ViewMember>([
  ...NAMES.map((n): [string, ViewMember] => [n, { name: n, status: 'alive', tags: { role: 'caxton' } }]),
  // A serf agent in the cluster: no views to ask, never missing.
  ['serf-1', { name: 'serf-1', status: 'alive', tags: {} }],
]);
const nodes = new Map<string, Running>();

before(async () => {
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  for (const name of NAMES) {
    const dir = tempDir();
    const node = await CaxtonNode.start({
      dataDir: dir.path,
      nodeId: name,
      logger: createLogger({ level: 'warn', destination: quiet }),
      workers: 1,
      api: { addr: { host: '127.0.0.1', port: 0 } },
      peers: net.add(name),
      peerMembers: () => [...members.values()],
    });
    nodes.set(name, { node, url: `http://127.0.0.1:${node.apiAddress?.port}`, key: readFileSync(join(dir.path, 'admin.key'), 'utf8').trim(), dir });
  }
  // n1 runs two agents, n2 one, n3 one (pinned: the views are about where agents run, not where placement puts them).
  await call('n1', 'POST', '/agents', { name: 'a1', module: b64(agentWasm('echo')), target_node: 'n1' });
  await call('n1', 'POST', '/agents', { name: 'a2', module: b64(agentWasm('echo')), target_node: 'n1' });
  await call('n2', 'POST', '/agents', { name: 'b1', module: b64(agentWasm('echo')), target_node: 'n2' });
  await call('n3', 'POST', '/agents', { name: 'c1', module: b64(agentWasm('echo')), target_node: 'n3' });
});

after(async () => {
  for (const r of nodes.values()) {
    await r.node.stop();
    r.dir.cleanup();
  }
});

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(on: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = nodes.get(on) as Running;
  const res = await fetch(`${r.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${r.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

function cli(args: string[]) {
  const r = nodes.get('n1') as Running;
  return runCli(args, { env: { CAXTON_API_URL: r.url, CAXTON_API_KEY: r.key } });
}

const pairs = (rows: { name: string; node: string }[]) => rows.map((a) => `${a.node}/${a.name}`).sort();

test('cluster views - agent list from any node shows every node\'s agents with their node; node= restricts', async () => {
  const all = await call('n2', 'GET', '/agents');
  assert.equal(all.status, 200);
  assert.deepEqual(pairs(all.body.agents), ['n1/a1', 'n1/a2', 'n2/b1', 'n3/c1']);
  assert.equal(all.body.total, 4);
  assert.deepEqual(all.body.nodes, ['n2', 'n1', 'n3'], 'the node asked first, then the others');
  assert.deepEqual(all.body.missing, []);
  assert.equal(all.body.agents.find((a: { name: string }) => a.name === 'b1').state, 'running', 'rows keep their single-node fields');

  const one = await call('n2', 'GET', '/agents?node=n1');
  assert.deepEqual(pairs(one.body.agents), ['n1/a1', 'n1/a2']);
  assert.deepEqual(one.body.nodes, ['n1']);
  const self = await call('n2', 'GET', '/agents?node=n2&state=running');
  assert.deepEqual(pairs(self.body.agents), ['n2/b1']);
  const none = await call('n2', 'GET', '/agents?state=stopped');
  assert.deepEqual(none.body.agents, [], 'the state filter reaches the other nodes');
});

test('cluster views - statistics, queues, resources and memory cover every node', async () => {
  const stats = await call('n1', 'GET', '/stats/agents');
  assert.deepEqual(pairs(stats.body.agents), ['n1/a1', 'n1/a2', 'n2/b1', 'n3/c1']);
  assert.equal(typeof stats.body.agents[0].latency.p99_ms, 'number');

  await call('n3', 'POST', '/agents/c1/suspend');
  for (let i = 0; i < 3; i++) await call('n3', 'POST', '/messages', { performative: 'inform', receiver: 'c1', content: i });
  const q = await call('n1', 'GET', '/queue');
  assert.equal(q.body.total_queued, 3, 'n3\'s backlog counts in the cluster total');
  assert.deepEqual({ node: q.body.agents[0].node, name: q.body.agents[0].name, queued: q.body.agents[0].queued }, { node: 'n3', name: 'c1', queued: 3 });
  assert.deepEqual(q.body.per_node.map((n: { node: string; total_queued: number }) => [n.node, n.total_queued]), [['n1', 0], ['n2', 0], ['n3', 3]]);
  await call('n3', 'POST', '/agents/c1/resume');

  const r = await call('n1', 'GET', '/resources');
  assert.equal(r.body.node.id, 'n1', 'node stays the node asked, as on a single node');
  assert.deepEqual(r.body.per_node.map((n: { node: string; id: string; agents: number }) => [n.node, n.id, n.agents]), [['n1', 'n1', 2], ['n2', 'n2', 1], ['n3', 'n3', 1]]);
  assert.deepEqual(pairs(r.body.agents), ['n1/a1', 'n1/a2', 'n2/b1', 'n3/c1']);

  const m = await call('n1', 'GET', '/memory');
  assert.equal(m.body.node_id, 'n1');
  assert.deepEqual(m.body.per_node.map((n: { node: string; agents: number }) => [n.node, n.agents]), [['n1', 2], ['n2', 1], ['n3', 1]]);
  assert.ok(m.body.per_node.every((n: { used_bytes: number }) => n.used_bytes > 0));
});

test('cluster views - a node that is down is reported missing and the rest still answer; asked alone, its error is the answer', async () => {
  net.down('n3');
  try {
    const all = await call('n1', 'GET', '/agents');
    assert.equal(all.status, 200);
    assert.deepEqual(pairs(all.body.agents), ['n1/a1', 'n1/a2', 'n2/b1']);
    assert.deepEqual(all.body.missing.map((m: { node: string; code: string }) => [m.node, m.code]), [['n3', 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE']]);
    const alone = await call('n1', 'GET', '/resources?node=n3');
    assert.equal(alone.status, 503);
    assert.equal(alone.body.error.code, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE');
    assert.match(alone.body.error.message, /n3/);
  } finally {
    net.up('n3');
  }
  // Declared failed: listed without being asked.
  members.set('n3', { name: 'n3', status: 'failed', tags: { role: 'caxton' } });
  try {
    const q = await call('n1', 'GET', '/queue');
    assert.deepEqual(q.body.missing, [{ node: 'n3', code: null, reason: 'failed: the cluster declared it dead' }]);
    assert.deepEqual(q.body.nodes, ['n1', 'n2']);
  } finally {
    members.set('n3', { name: 'n3', status: 'alive', tags: { role: 'caxton' } });
  }
});

test('cluster views - a member that never answers costs the view its timeout, not a hang: it is reported, the others are shown', async () => {
  // A member of the in-process network whose view handlers never settle (a stuck process).
  const stuck = net.add('n4');
  for (const m of ['views.agents', 'views.queue']) stuck.onCall(m, () => new Promise(() => undefined));
  members.set('n4', { name: 'n4', status: 'suspect', tags: { role: 'caxton' } });
  try {
    const t0 = Date.now();
    const all = await call('n1', 'GET', '/agents');
    assert.equal(all.status, 200);
    assert.deepEqual(pairs(all.body.agents), ['n1/a1', 'n1/a2', 'n2/b1', 'n3/c1']);
    assert.deepEqual(all.body.missing.map((m: { node: string; code: string }) => [m.node, m.code]), [['n4', 'CAXTON_ERR_CLUSTER_TIMEOUT']]);
    assert.ok(Date.now() - t0 < 15_000, 'bounded by the per-node timeout');
    const alone = await call('n1', 'GET', '/queue?node=n4');
    assert.equal(alone.status, 504);
    assert.equal(alone.body.error.code, 'CAXTON_ERR_CLUSTER_TIMEOUT');
  } finally {
    members.delete('n4');
  }
});

test('cluster views - an unknown node, or a serf agent, is refused with CAXTON_ERR_CLUSTER_UNKNOWN_NODE', async () => {
  for (const path of ['/agents?node=n9', '/stats/agents?node=n9', '/queue?node=serf-1', '/resources?node=n9', '/memory?node=n9', '/cluster/performance?node=n9']) {
    const r = await call('n1', 'GET', path);
    assert.equal(r.status, 404, path);
    assert.equal(r.body.error.code, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE', path);
    assert.match(r.body.error.message, /no Caxton node named (n9|serf-1)/);
  }
});

test('cluster views - cluster performance: one group of rows per node, from each node\'s metrics', async () => {
  const p = await call('n1', 'GET', '/cluster/performance');
  assert.equal(p.status, 200);
  assert.deepEqual(p.body.per_node.map((n: { node: string }) => n.node), ['n1', 'n2', 'n3']);
  const start = p.body.per_node[0].metrics.find((m: { key: string }) => m.key === 'agent_start_p99');
  assert.ok(start.status === 'ok' || start.status === 'degraded', `agent starts are measured: ${JSON.stringify(start)}`);
  assert.ok(start.actual > 0);
  const cross = p.body.per_node[1].metrics.find((m: { key: string }) => m.key === 'cross_node_p99');
  assert.equal(cross.status, 'n/a', 'no link metric on these nodes');
});

test('cluster views - the CLI shows a NODE column, --node restricts, a node down is a warning', async () => {
  const list = await cli(['agent', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^AGENT-ID\s+NAME\s+NODE\s+STATUS\s+PRIORITY\s+UPTIME\s+MESSAGES\s+RESTARTS$/m);
  assert.match(list.stdout, /^\S+\s+b1\s+n2\s+running\s/m);
  assert.match(list.stdout, /^4 agents \(4 running\) on 3 nodes$/m);
  const only = await cli(['agents', 'list', '--node', 'n3']);
  assert.doesNotMatch(only.stdout, /\ba1\b/);
  assert.match(only.stdout, /^\S+\s+c1\s+n3\s/m);

  const res = await cli(['resources']);
  assert.match(res.stdout, /^NODE\s+CPU\s+MEMORY\s+AGENTS\nn1\s+\d+(\.\d)?%\s+\S+\s+2\nn2\s+\S+\s+\S+\s+1\nn3\s+\S+\s+\S+\s+1$/m);
  const mem = await cli(['memory', 'stats', '--node', 'n2']);
  assert.match(mem.stdout, /^NODE\s+USED\s+LIMIT\s+AGENTS\nn2\s+\S+\s+\S+\s+1$/m);
  const q = await cli(['queue', 'stats']);
  assert.match(q.stdout, /^NODE\s+QUEUED\s+BYTES\s+OUTBOX\s+DEAD-LETTERS$/m);
  const slow = await cli(['agents', 'slow', '--threshold', '0ms', '-o', 'json']);
  assert.deepEqual(JSON.parse(slow.stdout).nodes, ['n1', 'n2', 'n3']);

  net.down('n2');
  try {
    const partial = await cli(['resources']);
    assert.equal(partial.code, 0, 'a partial view is still a view');
    assert.match(partial.stdout, /^warning: n2 did not answer: node n2 cannot be reached$/m);
  } finally {
    net.up('n2');
  }
  const unknown = await cli(['queue', 'stats', '--node', 'nowhere']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: no Caxton node named nowhere in the cluster\nhint: Check the node name with `caxton cluster members`/);

  const perf = await cli(['cluster', 'performance']);
  assert.match(perf.stdout, /^NODE\s+METRIC\s+TARGET\s+ACTUAL\s+STATUS$/m);
  assert.match(perf.stdout, /^n2\s+Cross-node round trip P99\s+500µs\s+n\/a\s+- n\/a$/m);
  assert.match(perf.stdout, /^n3\s+Failure detection\s+3s\s+n\/a\s+- n\/a$/m);
});
