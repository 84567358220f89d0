/**
 * `caxton cluster verify` and `cluster compare-state` against real `caxton server start` processes:
 * once the directory converged every node agrees (no drift, same view), `--node` restricts the
 * check, an unknown node is a clear error; the runbook's data-corruption procedure (verify --deep,
 * isolate, rebuild --from-peers, verify --node, rejoin) runs through. A single node answers 409.
 * Drift itself is rendered by test/unit/cli/cluster-verify.test.ts (real processes do not drift on
 * demand).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster, type ServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { withNode } from '../../helpers/node.js';
import { evenly, ownerOf } from '../../../src/cluster/placement/rendezvous.js';
import type { CompareStateView, VerifyView } from '../../../src/cli/api-types.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const NODES = ['node-1', 'node-2', 'node-3'];
/** The first name with this prefix whose computed owner is not `node`: pinned there, it is a directory exception. */
const exceptionOn = (prefix: string, node: string) => Array.from({ length: 100 }, (_, i) => `${prefix}-${i}`).find((n) => ownerOf(n, evenly(NODES)) !== node) as string;

let c: ServerCluster;
let n1: RunningServer;
let key: string;

before(async () => {
  c = await startServerCluster({ size: 3, base: 100 });
  n1 = c.nodes[0] as RunningServer;
  key = n1.adminKey;
  for (const n of c.nodes) await until(`node-1's admin key works on ${n.apiUrl}`, async () => (await api(n, 'GET', '/status', undefined, key)).status === 200);
});
after(() => c?.stop());

const cli = (args: readonly string[], on: RunningServer = n1) => runCli([...args, '--api-url', on.apiUrl, '--api-key', key]);

async function verifyJson(args: readonly string[] = [], on?: RunningServer): Promise<{ code: number; v: VerifyView; stderr: string }> {
  const r = await cli(['cluster', 'verify', ...args, '-o', 'json'], on);
  return { code: r.code, v: JSON.parse(r.stdout) as VerifyView, stderr: r.stderr };
}

/** verify --deep until every node agrees (the directory converges within a few anti-entropy rounds of the fast profile). */
async function converged(on?: RunningServer): Promise<VerifyView> {
  return until('cluster verify --deep finds no drift', async () => {
    const r = await verifyJson(['--deep'], on);
    return r.code === 0 && r.v.ok && r.v.rows.length === 3 ? r.v : undefined;
  }, 60_000, 500);
}

test('cluster verify - converged directory with exception and capability entries: no drift on every node, --deep counts every entry, --node restricts', { timeout: 240_000 }, async () => {
  const calc2 = exceptionOn('calc', 'node-2');
  const echo3 = exceptionOn('echo', 'node-3');
  const deploy = async (name: string, agent: 'calculator' | 'echo', target?: string) => {
    const r = await api(n1, 'POST', '/agents', { name, module: b64(agentWasm(agent)), ...(target === undefined ? {} : { target_node: target }) }, key);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.node, target ?? ownerOf(name, evenly(NODES)));
  };
  await deploy(calc2, 'calculator', 'node-2'); // a name exception and a capability entry
  await deploy(echo3, 'echo', 'node-3'); // a name exception
  await deploy('calc-free', 'calculator'); // on its owner: a capability entry only

  const v = await converged();
  assert.equal(v.deep, true);
  assert.deepEqual(v.nodes, NODES);
  assert.deepEqual(v.rows.map((r) => [r.node, r.status, r.mismatched, r.missing, r.stale, r.extra, r.conflicting]), NODES.map((n) => [n, 'ok', 0, 0, 0, 0, 0]));
  assert.deepEqual(v.conflicts, []);
  assert.equal(v.rows.reduce((s, r) => s + r.hosted, 0), 3, 'each agent hosted once');
  // Two name exceptions and two `cap:arithmetic` entries, each at its 2 holders.
  assert.equal(v.rows.reduce((s, r) => s + r.held, 0), 8, JSON.stringify(v.rows));

  // The same answer through every node's API, in the runbook's words.
  for (const n of c.nodes) {
    const r = await cli(['cluster', 'verify'], n);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NODE\s+STATUS\s+HOSTED\s+HELD\s+MISMATCHED\n/);
    for (const name of NODES) assert.match(r.stdout, new RegExp(`^${name}\\s+ok\\s+`, 'm'));
    assert.match(r.stdout, /^OK: 3 nodes verified, no drift/m);
  }
  const deep = await cli(['cluster', 'verify', '--deep']);
  assert.equal(deep.code, 0, deep.stderr);
  assert.match(deep.stdout, /MISSING\s+STALE\s+EXTRA\s+CONFLICTING/);
  assert.match(deep.stdout, /^OK: 3 nodes verified, no drift \(every directory entry and hosted agent compared\)$/m);

  // --node: node-2's rows and those it is authority or holder for; asked through node-3's API.
  const only = await verifyJson(['--node', 'node-2', '--deep'], c.nodes[2]);
  assert.equal(only.code, 0, only.stderr);
  assert.ok(only.v.ok);
  assert.ok(only.v.rows.some((r) => r.node === 'node-2'), JSON.stringify(only.v.rows));
  assert.ok(only.v.rows.every((r) => NODES.includes(r.node) && r.status === 'ok'));

  // Through the API with a viewer's key: verify is a read.
  const viewer = await api(n1, 'POST', '/keys', { name: 'auditor', role: 'viewer' }, key);
  assert.equal(viewer.status, 201, JSON.stringify(viewer.body));
  const read = await until('the viewer key works on node-2', async () => {
    const x = await api(c.nodes[1] as RunningServer, 'GET', '/cluster/verify?deep=true', undefined, viewer.body.key as string);
    return x.status === 200 ? x : undefined;
  });
  assert.equal(read.body.ok, true);
});

test('cluster compare-state - every node listed with the same view, the majority; an unknown node is a clear error', { timeout: 120_000 }, async () => {
  const r = await cli(['cluster', 'compare-state', '-o', 'json'], c.nodes[1]);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as CompareStateView;
  assert.deepEqual(v.nodes.map((n) => [n.node, n.status, n.alive, n.majority_view]), NODES.map((n) => [n, 'ok', 3, true]));
  assert.equal(new Set(v.nodes.map((n) => n.view_digest)).size, 1);
  assert.deepEqual(v.majority, NODES);
  const table = await cli(['cluster', 'compare-state']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NODE\s+STATUS\s+MEMBERS\s+VIEW\s+MAJORITY\s+HOSTED\s+HELD\n/);
  assert.match(table.stdout, /^node-3\s+ok\s+3\s+[0-9a-f]{16}\s+yes\s+/m);
  assert.match(table.stdout, /^OK: 3 nodes see the same 3 members/m);

  const unknown = await cli(['cluster', 'verify', '--node', 'node-9']);
  assert.equal(unknown.code, 1, unknown.stdout);
  assert.match(unknown.stderr, /^error: no cluster member named node-9\nhint: Check the node name with `caxton cluster members`/);
  const viaApi = await api(n1, 'GET', '/cluster/verify?node=node-9', undefined, key);
  assert.equal(viaApi.status, 404);
  assert.equal(viaApi.body.error.code, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE');
  const bad = await api(n1, 'GET', '/cluster/verify?deep=maybe', undefined, key);
  assert.equal(bad.status, 400, JSON.stringify(bad.body));
});

test('cluster verify - the runbook\'s data corruption procedure: verify --deep, isolate, rebuild --from-peers, verify --node, rejoin', { timeout: 240_000 }, async () => {
  await converged();
  const step = async (args: readonly string[]) => {
    const r = await cli(args);
    assert.equal(r.code, 0, `caxton ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  assert.match(await step(['cluster', 'isolate', '--node', 'node-2']), /node-2 isolated/);
  await until('node-2 hosts no agent', async () => {
    const list = await api(n1, 'GET', '/agents', undefined, key);
    return (list.body.agents as { node: string }[]).every((a) => a.node !== 'node-2');
  }, 60_000, 250);
  await step(['cluster', 'rebuild', '--node', 'node-2', '--from-peers']);
  // Isolated, node-2 is out of the directory's view but still verified: it must hold nothing stale.
  const isolated = await until('verify --node node-2 finds no drift', async () => {
    const r = await verifyJson(['--node', 'node-2', '--deep']);
    return r.code === 0 && r.v.ok ? r.v : undefined;
  }, 60_000, 500);
  const row2 = isolated.rows.find((r) => r.node === 'node-2');
  assert.ok(row2 !== undefined, JSON.stringify(isolated.rows));
  assert.equal(row2.hosted, 0);
  assert.equal(row2.held, 0, 'an isolated node holds no directory entries');
  const human = await step(['cluster', 'verify', '--node', 'node-2']);
  assert.match(human, /^node-2\s+ok\s+/m);
  await step(['cluster', 'rejoin', '--node', 'node-2']);
  const after = await converged();
  assert.equal(after.rows.reduce((s, r) => s + r.hosted, 0), 3, 'each agent hosted once after the procedure');
  const state = JSON.parse((await cli(['cluster', 'compare-state', '-o', 'json'])).stdout) as CompareStateView;
  assert.ok(state.nodes.every((n) => n.majority_view === true && n.alive === 3), JSON.stringify(state.nodes));
});

test('cluster verify - a single node answers CAXTON_ERR_CLUSTER_DISABLED (409) for verify and compare-state', async () => {
  await withNode({}, async (n) => {
    for (const path of ['/cluster/verify', '/cluster/verify?deep=true&node=test-node', '/cluster/compare-state']) {
      const r = await n.call('GET', path);
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'CAXTON_ERR_CLUSTER_DISABLED');
    }
    const r = await runCli(['cluster', 'verify', '--api-url', n.url.replace(/\/api\/v1$/, ''), '--api-key', n.adminKey]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: clustering is off on this node\nhint: This node runs alone/);
  });
});
