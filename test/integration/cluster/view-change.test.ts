/**
 * A view change that races deploys, on real processes: while a fourth node joins a three-node
 * cluster, agents are deployed through node-1. Some land on owners computed before the join, some
 * after; the join then moves the agents the newcomer now owns. In the end every agent runs exactly
 * once, where the cluster-wide list says, and answers from every node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

test('cluster - deploys racing a join: every agent runs exactly once and answers from every node', { timeout: 180_000 }, async (t) => {
  const c = await startServerCluster({ size: 3, base: 140 });
  t.after(() => c.stop());
  const n1 = c.nodes[0] as RunningServer;
  const key = n1.adminKey;
  const joining = c.start(3);
  const names = Array.from({ length: 20 }, (_, i) => `racer-${i}`);
  for (const name of names) {
    const r = await api(n1, 'POST', '/agents', { name, module: b64(agentWasm('echo')) }, key);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  await joining;
  const nodes = c.nodes as RunningServer[];
  await until('node-1 admin key works on node-4', async () => (await api(nodes[3]!, 'GET', '/status', undefined, key)).status === 200, 30_000);

  // One copy of each, once the moves the join caused are done.
  await until(
    'every agent listed exactly once, on a running node',
    async () => {
      const list = await api(n1, 'GET', '/agents', undefined, key);
      if (list.status !== 200 || (list.body.missing?.length ?? 0) > 0) return false;
      const seen = (list.body.agents as { name: string; state: string }[]).filter((a) => names.includes(a.name) && a.state === 'running');
      return seen.length === names.length && new Set(seen.map((a) => a.name)).size === names.length;
    },
    60_000,
    250,
  );
  for (const n of nodes) {
    for (const name of names) {
      const r = await until(`${name} answers`, async () => {
        const m = await api(n, 'POST', '/messages?wait_reply=true&timeout_ms=3000', { performative: 'request', receiver: name, content: { from: 'test' } }, key);
        return m.status === 200 && m.body.reply?.performative !== 'failure' ? m : undefined;
      });
      assert.equal(r.body.reply.sender, name);
    }
  }
});
