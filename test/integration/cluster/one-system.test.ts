/**
 * N real `caxton server start` processes behave as one Caxton: one admin key works on every node,
 * a deploy on any node lands on the owner rendezvous hashing computes, every node's agent list shows
 * every agent with its node. Driven through the API and the CLI, as an operator would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, runCli } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { evenly, ownerOf } from '../../../src/cluster/placement/rendezvous.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

test('cluster - three nodes are one system: keys, placement and views span every node', async (t) => {
  const c = await startServerCluster({ size: 3, base: 60 });
  t.after(() => c.stop());
  const [n1, n2, n3] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  const names = ['node-1', 'node-2', 'node-3'];

  // node-1's admin key reaches the others (cluster-wide keys) and theirs reach node-1.
  await until('node-1 admin key works on node-3', async () => (await api(n3, 'GET', '/status', undefined, n1.adminKey)).status === 200);
  await until('node-3 admin key works on node-1', async () => (await api(n1, 'GET', '/status', undefined, n3.adminKey)).status === 200);

  // Deploys from node-1 land on their computed owners.
  const agents = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
  for (const name of agents) {
    const r = await api(n1, 'POST', '/agents', { name, module: b64(agentWasm('echo')) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.node, ownerOf(name, evenly(names)), `${name} on its owner`);
  }
  const list = await api(n2, 'GET', '/agents');
  assert.deepEqual(
    (list.body.agents as { name: string; node: string }[]).map((a) => `${a.node}/${a.name}`).sort(),
    agents.map((a) => `${ownerOf(a, evenly(names))}/${a}`).sort(),
  );
  const table = await runCli(['agent', 'list', '--api-url', n3.apiUrl, '--api-key', n1.adminKey]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /NODE/);

  // A key revoked on node-2 stops working on every node.
  const made = await api(n2, 'POST', '/keys', { name: 'ops', role: 'viewer' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const key = made.body.key as string;
  await until('the new key works on node-1', async () => (await api(n1, 'GET', '/agents', undefined, key)).status === 200);
  assert.equal((await api(n2, 'DELETE', `/keys/${made.body.id}`)).status < 300, true);
  for (const n of [n1, n2, n3]) await until('the revoked key is refused everywhere', async () => (await api(n, 'GET', '/agents', undefined, key)).status === 401);
});
