/**
 * Five real `caxton server start` processes: every node reaches every agent wherever it runs; a node
 * that leaves gracefully (`caxton cluster leave`) hands its agents over with their state, while the
 * others keep sending, and nothing is lost; `cluster watch` shows the moves; a rebalance under traffic
 * loses nothing either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { api, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { caxtonArgs } from '../../helpers/caxton-command.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Statuses of refused sends during the traffic, for the failure message. */
const refusals: string[] = [];

async function request(n: RunningServer, key: string, to: string, content: unknown, reliable = false): Promise<{ count: number } | undefined> {
  const r = await api(n, 'POST', '/messages?wait_reply=true&timeout_ms=3000', { performative: 'request', receiver: to, content, ...(reliable ? { delivery: 'at-least-once' } : {}) }, key).catch(() => undefined);
  return r?.status === 200 && r.body.reply?.performative === 'inform' ? (r.body.reply.content as { count: number }) : undefined;
}

/**
 * An at-least-once increment: true when the node accepted it (answered, or still waiting for the
 * answer: it is in the outbox then), false when it was refused before anything was stored.
 */
async function increment(n: RunningServer, key: string, to: string): Promise<boolean> {
  const r = await api(n, 'POST', '/messages?wait_reply=true&timeout_ms=3000', { performative: 'request', receiver: to, content: { op: 'increment' }, delivery: 'at-least-once' }, key).catch(() => undefined);
  if (r === undefined) throw new Error('the API of node-1 did not answer');
  if (r.status === 200 || r.status === 504) return true;
  refusals.push(`${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  return false;
}

test('cluster - five nodes: every node reaches every agent; a graceful leave and a rebalance under traffic lose nothing', { timeout: 240_000 }, async (t) => {
  const c = await startServerCluster({ size: 5, base: 84 });
  t.after(() => c.stop());
  const nodes = c.nodes as RunningServer[];
  const key = nodes[0]!.adminKey;
  for (const n of nodes) await until('the admin key of node-1 works everywhere', async () => (await api(n, 'GET', '/status', undefined, key)).status === 200);

  // `cluster watch` on node-1 records every move from now on.
  const watch = spawn(process.execPath, [...caxtonArgs, 'cluster', 'watch', '--api-url', nodes[0]!.apiUrl, '--api-key', key], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => watch.kill('SIGKILL'));
  let watched = '';
  watch.stdout.on('data', (d: Buffer) => (watched += d.toString()));

  const agents = Array.from({ length: 10 }, (_, i) => `tally-${i}`);
  const where = new Map<string, string>();
  for (const name of agents) {
    const r = await api(nodes[2]!, 'POST', '/agents', { name, module: b64(agentWasm('counter')) }, key);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    where.set(name, r.body.node as string);
  }
  assert.ok(new Set(where.values()).size >= 3, `placement spreads the agents: ${JSON.stringify([...where])}`);

  // Every node reaches every agent: one increment from each node.
  const expected = new Map(agents.map((a) => [a, 0]));
  for (const n of nodes) {
    for (const a of agents) {
      const r = await until(`${a} answers`, () => request(n, key, a, { op: 'increment' }, true));
      expected.set(a, (expected.get(a) ?? 0) + 1);
      assert.equal(r.count, expected.get(a));
    }
  }

  // node-4 leaves gracefully while node-1 keeps sending at-least-once increments.
  const leaving = nodes[3]!;
  const mine = agents.filter((a) => where.get(a) === 'node-4');
  let sending = true;
  let sent = 0;
  const traffic = (async () => {
    while (sending) {
      const a = agents[sent % agents.length]!;
      sent++;
      if (await increment(nodes[0]!, key, a)) expected.set(a, (expected.get(a) ?? 0) + 1);
    }
  })();
  const left = await runCli(['cluster', 'leave', '--api-url', leaving.apiUrl, '--api-key', key], { timeoutMs: 90_000 });
  assert.equal(left.code, 0, left.stderr + left.stdout);
  await until('node-4 is seen as left', async () => ((await api(nodes[0]!, 'GET', '/cluster/members', undefined, key)).body.members as { name: string; status: string }[]).some((m) => m.name === 'node-4' && m.status === 'left'), 30_000);

  // A rebalance under the same traffic.
  const rebalance = await runCli(['cluster', 'rebalance', '--strategy', 'even-distribution', '--api-url', nodes[0]!.apiUrl, '--api-key', key], { timeoutMs: 90_000 });
  assert.equal(rebalance.code, 0, rebalance.stderr + rebalance.stdout);
  sending = false;
  await traffic;
  assert.ok(sent > 0);

  // Nothing lost, nothing counted twice: every counter holds exactly what was sent to it.
  for (const n of [nodes[0]!, nodes[1]!, nodes[2]!, nodes[4]!]) await until('outboxes empty', async () => (await api(n, 'GET', '/status', undefined, key)).body.outbox_pending === 0, 60_000, 250);
  const letters: string[] = [];
  for (const n of [nodes[0]!, nodes[1]!, nodes[2]!, nodes[4]!]) {
    const dl = await api(n, 'GET', '/dead-letters', undefined, key);
    for (const l of (dl.body.letters ?? []) as { receiver: string; reason: string }[]) letters.push(`${l.receiver}: ${l.reason}`);
  }
  if (process.env['DEBUG_FIVE'] === '1') process.stderr.write(`where=${JSON.stringify([...where])}\nletters=${letters.join('\n')}\nwatched=${watched}\nrebalance=${rebalance.stdout}\nleave=${left.stdout}\n`);
  for (const a of agents) {
    const r = await until(`${a} answers after the leave`, () => request(nodes[4]!, key, a, { op: 'get' }), 30_000, 250);
    assert.equal(r.count, expected.get(a), `${a}: every increment accepted is counted once (refused: ${refusals.join('; ')})`);
  }
  const list = (await api(nodes[0]!, 'GET', '/agents', undefined, key)).body.agents as { name: string; node: string }[];
  assert.equal(list.filter((a) => agents.includes(a.name)).length, agents.length, 'one copy of each agent');
  assert.ok(list.every((a) => a.node !== 'node-4'), 'none left on node-4');
  for (const a of mine) assert.match(watched, new RegExp(`agent ${a} moved node-4 → node-\\d`), `cluster watch shows ${a} moving`);
});
