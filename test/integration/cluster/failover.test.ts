/**
 * Failover with state, on real `caxton server start` processes: a counter agent receives at-least-once
 * increments from a client on another node, and its node is killed with SIGKILL under that load. Its
 * deployment and its state were replicated (sync, the default) to the next node in rendezvous order,
 * which takes it over; the client's node redelivers what was not acknowledged. After failover the
 * counter is never below the number of increments the client saw acknowledged (sync mode), and once
 * every redelivery landed it equals the number of increments sent (duplicates dropped by message id).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { evenly, rank } from '../../../src/cluster/placement/rendezvous.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const NODES = ['node-1', 'node-2', 'node-3'];

/** A name whose owner is node-2 and whose replica is node-3 (the client is on node-1). */
const COUNTER = Array.from({ length: 500 }, (_, i) => `counter-${i}`).find((n) => rank(n, evenly(NODES)).join() === 'node-2,node-3,node-1') as string;

async function increment(n: RunningServer, key: string): Promise<number | undefined> {
  const r = await api(n, 'POST', '/messages?wait_reply=true&timeout_ms=2000', { performative: 'request', receiver: COUNTER, delivery: 'at-least-once', content: { op: 'increment' } }, key).catch(() => undefined);
  if (r?.status !== 200 || r.body.reply?.performative !== 'inform') return undefined;
  return (r.body.reply.content as { count: number }).count;
}

async function count(n: RunningServer, key: string): Promise<number | undefined> {
  const r = await api(n, 'POST', '/messages?wait_reply=true&timeout_ms=2000', { performative: 'request', receiver: COUNTER, content: { op: 'get' } }, key).catch(() => undefined);
  return r?.status === 200 && r.body.reply?.performative === 'inform' ? (r.body.reply.content as { count: number }).count : undefined;
}

test('failover - kill -9 of a counter\'s node under at-least-once increments: after failover the count is every increment sent, never below those acknowledged', { timeout: 180_000 }, async (t) => {
  const c = await startServerCluster({ size: 3, base: 76 });
  t.after(() => c.stop());
  const [n1, n2] = c.nodes as [RunningServer, RunningServer, RunningServer];
  const key = n1.adminKey;
  await until('node-1 admin key works on node-2', async () => (await api(n2, 'GET', '/status', undefined, key)).status === 200);
  const d = await api(n1, 'POST', '/agents', { name: COUNTER, module: b64(agentWasm('counter')) }, key);
  assert.equal(d.status, 201, JSON.stringify(d.body));
  assert.equal(d.body.node, 'node-2');
  await until('the counter answers from node-1', async () => (await count(n1, key)) === 0);

  let sent = 0;
  let acked = 0;
  let lastAck = 0;
  const SENDS = 80;
  for (let i = 0; i < SENDS; i++) {
    if (i === 30) await c.nodes[1]!.kill('SIGKILL');
    sent++;
    const v = await increment(n1, key);
    if (v !== undefined) {
      acked++;
      lastAck = Math.max(lastAck, v);
    }
  }
  assert.ok(acked >= 30, `the increments before the kill were acknowledged (${acked})`);

  // The takeover, then every redelivery: node-1's outbox empties.
  const watched = await runCli(['cluster', 'members', '--api-url', n1.apiUrl, '--api-key', key]);
  assert.match(watched.stdout, /node-2\s+(failed|left)/);
  await until('node-1 has nothing left to redeliver', async () => (await api(n1, 'GET', '/status', undefined, key)).body.outbox_pending === 0, 90_000, 250);
  const final = await until('the counter answers on its new owner', () => count(n1, key), 30_000, 250);
  assert.ok(final >= acked, `count ${final} is below the ${acked} increments acknowledged`);
  assert.ok(final >= lastAck, `count ${final} is below the last acknowledged value ${lastAck}`);
  assert.equal(final, sent, `every increment sent is counted once (${sent} sent, ${acked} acknowledged)`);
  const list = await api(n1, 'GET', '/agents', undefined, key);
  assert.deepEqual((list.body.agents as { name: string; node: string }[]).filter((a) => a.name === COUNTER).map((a) => a.node), ['node-3']);
  // node-3 took it over once node-1 answered its quorum check, not after the stable-view wait.
  assert.match(c.nodes[2]!.logs(), /quorum confirmed by the members answering/);
});
