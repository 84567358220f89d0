/**
 * Network partitions between real `caxton server start` processes, each in its own network namespace
 * (test/helpers/netns-cluster.ts): node-3 is cut off from node-1 and node-2 while clients on both sides
 * send at-least-once increments to counters on the other side and on their own.
 *
 * - Roles: node-1 reports `Status: HEALTHY (majority partition)`, node-3 `DEGRADED (minority
 *   partition)`, `Operations: READ-ONLY` and its queued writes; the metric says 1 and 2; a deploy on
 *   node-3 is refused with 503 CAXTON_ERR_CLUSTER_READ_ONLY; detect-partition prints the runbook's lines.
 * - The majority takes node-3's counter over; node-3 keeps running its copy and serving local traffic.
 * - Heal: no operator. node-3's stream shows "Partition healed, merging state", "Replaying N queued
 *   messages", "Cluster synchronized"; the copy with the lower epoch (node-3's) stops, and what it wrote
 *   meanwhile is kept for review (`cluster conflicts`); `cluster verify` shows no drift.
 * - Counting: every increment the API accepted for the majority's counters is applied exactly once
 *   (the counter's final value equals the accepted count: none lost, none twice), and two
 *   conversations of numbered messages across the cut, one each way, reach their sequence checker
 *   (fixtures/sdk/sequence.ts) in the order they were sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { netnsSupport, startNetnsCluster } from '../../helpers/netns-cluster.js';
import { b64, count, increment, named, status, stream } from '../../helpers/partition-traffic.js';
import { api, type RunningServer } from '../../helpers/server.js';
import { until } from '../../helpers/until.js';
import { agentWasm, fixtureWasm } from '../../helpers/agents.js';
import { evenly, rank } from '../../../src/cluster/placement/rendezvous.js';

const support = netnsSupport();
const NODES = ['node-1', 'node-2', 'node-3'];
/** Owned by node-1, replica node-2: on the majority side. */
const MAJ = named(NODES, 'node-1,node-2,node-3');
/** Owned by node-3, replica node-1: the majority takes it over during the split. */
const MIN = named(NODES, 'node-3,node-1,node-2');
const seqNamed = (order: string) => Array.from({ length: 2000 }, (_, i) => `seq-${i}`).find((n) => rank(n, evenly(NODES)).join() === order) as string;
/** Sequence checkers (fixtures/sdk/sequence.ts), placed as MAJ and MIN are. */
const SEQ_MAJ = seqNamed('node-1,node-2,node-3');
const SEQ_MIN = seqNamed('node-3,node-1,node-2');

/** One stream of numbered at-least-once messages, in one conversation: the order the receiver sees them in is checked. */
class Stream {
  seq = 0;
  accepted = 0;
  readonly conversation = randomUUID();
  constructor(
    readonly from: RunningServer,
    readonly to: string,
    readonly name: string,
  ) {}
  async next(): Promise<void> {
    const body = { performative: 'request', receiver: this.to, delivery: 'at-least-once', message_id: randomUUID(), conversation_id: this.conversation, content: { op: 'next', stream: this.name, seq: ++this.seq } };
    const r = await api(this.from, 'POST', '/messages', body, this.from.adminKey).catch(() => undefined);
    if (r?.status === 202) this.accepted++;
  }
  async report(via: RunningServer): Promise<{ applied: number; late: number; last: number } | undefined> {
    const r = await api(via, 'POST', '/messages?wait_reply=true&timeout_ms=2000', { performative: 'request', receiver: this.to, content: { op: 'report', stream: this.name } }, via.adminKey).catch(() => undefined);
    return r?.status === 200 && r.body.reply?.performative === 'inform' ? (r.body.reply.content as { applied: number; late: number; last: number }) : undefined;
  }
}

test('partitions - a {2}/{1} split: majority read-write, minority read-only with queued writes, healed without an operator, nothing acknowledged lost or applied twice, conversations in order', { skip: support.skip, timeout: 300_000 }, async (t) => {
  const c = await startNetnsCluster({ size: 3, subnet: '10.250.4', args: ['--set', 'coordination.cluster.reconnect_interval=1s'] });
  t.after(() => c.stop());
  const [n1, , n3] = c.nodes as [RunningServer, RunningServer, RunningServer];
  for (const [name, wasm] of [[MAJ, agentWasm('counter')], [MIN, agentWasm('counter')], [SEQ_MAJ, fixtureWasm('sequence')], [SEQ_MIN, fixtureWasm('sequence')]] as const) {
    const d = await api(n1, 'POST', '/agents', { name, module: b64(wasm) }, n1.adminKey);
    assert.equal(d.status, 201, JSON.stringify(d.body));
  }
  // Conversations both ways across the cut: node-3 → the majority's checker, node-1 → node-3's.
  const streams = [new Stream(n3, SEQ_MAJ, 'from-node-3'), new Stream(n1, SEQ_MIN, 'from-node-1')];
  await until('both counters answer from either side', async () => (await count(n1, MIN)) === 0 && (await count(n3, MAJ)) === 0, 30_000, 250);
  const accepted: Record<string, number> = { [MAJ]: 0, [MIN]: 0 };
  for (let i = 0; i < 10; i++) {
    if (await increment(n1, MIN)) accepted[MIN] = (accepted[MIN] ?? 0) + 1;
    if (await increment(n3, MAJ)) accepted[MAJ] = (accepted[MAJ] ?? 0) + 1;
  }
  await until('the counters hold what was sent before the cut', async () => (await count(n1, MIN)) === accepted[MIN] && (await count(n1, MAJ)) === accepted[MAJ], 30_000, 250);

  const events = stream(n3);
  t.after(() => events.close());
  const t0 = Date.now();
  await c.cut([[0, 1], [2]]);
  // At-least-once traffic in both directions while the sides find out, and after.
  let minorityLocal = 0;
  const traffic = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await increment(n1, MIN)) accepted[MIN] = (accepted[MIN] ?? 0) + 1;
      if (await increment(n3, MAJ)) accepted[MAJ] = (accepted[MAJ] ?? 0) + 1;
      for (const s of streams) await s.next();
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await traffic(2000);
  await until('node-1 is the majority', async () => /^Status: HEALTHY \(majority partition\)$/m.test((await status(c, 0)).stdout), 30_000, 500);
  const minority = await until('node-3 is the minority', async () => {
    const s = await status(c, 2);
    return /^Status: DEGRADED \(minority partition\)$/m.test(s.stdout) ? s : undefined;
  }, 40_000, 500);
  console.log(`roles agreed ${Date.now() - t0} ms after the cut`);
  assert.equal(minority.code, 1, 'the minority status is a failure exit');
  assert.match(minority.stdout, /^Operations: READ-ONLY/m);
  await traffic(3000);
  // node-3's own counter copy keeps serving local traffic on the minority side.
  for (let i = 0; i < 5; i++) if (await increment(n3, MIN)) minorityLocal++;
  const queued = Number(/^Queued writes: (\d+)/m.exec((await status(c, 2)).stdout)?.[1]);
  assert.ok(queued > 0, `node-3 holds writes for the other side (${queued})`);
  console.log(`node-3: ${queued} queued writes; ${minorityLocal} increments applied by its own copy of ${MIN}`);

  const refused = await api(n3, 'POST', '/agents', { name: 'late', module: b64(agentWasm('counter')) }, n3.adminKey);
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error.code, 'CAXTON_ERR_CLUSTER_READ_ONLY');
  assert.match(refused.body.error.message, /node-3 reaches no other node of its cluster/);
  const majorityDeploy = await api(n1, 'POST', '/agents', { name: 'during-split', module: b64(agentWasm('counter')) }, n1.adminKey);
  assert.equal(majorityDeploy.status, 201, 'the majority stays read-write');

  const detect = await c.cli(0, 'cluster', 'detect-partition');
  assert.equal(detect.code, 1);
  assert.match(detect.stdout, /^WARNING: Network partition detected\nPartition A: \[node-1, node-2\] \(majority\)\nPartition B: \[node-3\] \(minority\)$/m);
  const m3 = await (await fetch(`${n3.metricsUrl}/metrics`)).text();
  assert.match(m3, /^caxton_cluster_partition_state 3$/m, 'node-3 is alone: 3');
  const m1 = await (await fetch(`${n1.metricsUrl}/metrics`)).text();
  assert.match(m1, /^caxton_cluster_partition_state 1$/m);

  const healAt = Date.now();
  await c.heal();
  await until('every node healthy again', async () => {
    for (const i of [0, 1, 2]) if (!/^Status: HEALTHY$/m.test((await status(c, i)).stdout)) return false;
    return true;
  }, 60_000, 500);
  await until('node-3 reports the cluster synchronized', async () => events.text().includes('Cluster synchronized'), 60_000, 250);
  console.log(`synchronized ${Date.now() - healAt} ms after the heal`);
  const text = events.text();
  assert.match(text, /Partition healed, merging state/);
  assert.match(text, /Replaying \d+ queued messages/);
  assert.ok(text.indexOf('Partition healed') < text.indexOf('Replaying') && text.indexOf('Replaying') < text.indexOf('Cluster synchronized'), `in the runbook's order:\n${text.split('\n').filter((l) => l.startsWith('data:') && /partition|split|synchron/.test(l)).join('\n')}`);

  // Every accepted increment applied once: nothing lost, nothing twice.
  const final = await until('every queued and redelivered increment is in', async () => {
    const a = await count(n1, MAJ);
    const b = await count(n1, MIN);
    return a === accepted[MAJ] && b === accepted[MIN] ? { a, b } : undefined;
  }, 90_000, 500).catch(async (e: unknown) => {
    throw new Error(`${(e as Error).message}: ${MAJ} counts ${await count(n1, MAJ)} of ${accepted[MAJ]} accepted, ${MIN} counts ${await count(n1, MIN)} of ${accepted[MIN]} accepted`);
  });
  console.log(`counted: ${MAJ} ${final.a} of ${accepted[MAJ]} accepted (sent from the minority), ${MIN} ${final.b} of ${accepted[MIN]} accepted (sent from the majority)`);
  // Per-conversation order: each checker saw its stream's messages in the order they were sent.
  for (const s of streams) {
    const r = await until(`${s.to} has all of ${s.name}`, async () => {
      const x = await s.report(n1);
      return x !== undefined && x.applied + x.late >= s.accepted ? x : undefined;
    }, 60_000, 500);
    console.log(`order: ${s.name} → ${s.to}: ${s.accepted} accepted, ${r.applied} applied in order, ${r.late} overtaken, last seq ${r.last}`);
    assert.deepEqual([r.applied, r.late, r.last], [s.accepted, 0, s.seq], `${s.name}: every accepted message once, none overtaken`);
  }
  // One copy of the minority's counter survives: the majority's (higher epoch). What node-3's copy
  // wrote meanwhile is kept for review, not dropped silently.
  const agents = await api(n1, 'GET', '/agents', undefined, n1.adminKey);
  assert.equal((agents.body.agents as { name: string }[]).filter((a) => a.name === MIN).length, 1);
  if (minorityLocal > 0) {
    const conflicts = await c.cli(2, 'cluster', 'conflicts', '-o', 'json');
    assert.equal(conflicts.code, 0, conflicts.stdout);
    const list = JSON.parse(conflicts.stdout).conflicts as { agent: string; keys: number }[];
    assert.ok(list.some((x) => x.agent === MIN && x.keys > 0), `node-3 kept its copy's state for review: ${conflicts.stdout}`);
  }
  await until('cluster verify shows no drift', async () => (await c.cli(0, 'cluster', 'verify')).code === 0, 60_000, 1000);
});

test('partitions - a {3}/{2} split of 5 under at-least-once traffic both ways, a minority node killed and restarted during the split: nothing acknowledged lost or applied twice', { skip: support.skip, timeout: 300_000 }, async (t) => {
  const c = await startNetnsCluster({ size: 5, subnet: '10.250.5', args: ['--set', 'coordination.cluster.reconnect_interval=1s'] });
  t.after(() => c.stop());
  const five = ['node-1', 'node-2', 'node-3', 'node-4', 'node-5'];
  const pick = (pre: string) => Array.from({ length: 5000 }, (_, i) => `counter-${i}`).find((n) => rank(n, evenly(five)).slice(0, 2).join() === pre) as string;
  const onMaj = pick('node-1,node-2');
  const onMin = pick('node-4,node-5'); // owner and replica both on the minority: nobody takes it over
  const crossed = pick('node-1,node-4'); // owned by the majority, replicated on the minority
  const n = c.nodes as RunningServer[];
  for (const name of [onMaj, onMin, crossed]) assert.equal((await api(n[0]!, 'POST', '/agents', { name, module: b64(agentWasm('counter')) }, n[0]!.adminKey)).status, 201);
  await until(`${crossed} answers`, async () => (await count(n[3]!, crossed)) === 0, 30_000, 250);
  /** Whether node-4 itself runs `crossed` (its own list, not the cluster's). */
  const node4Runs = async () => ((await api(n[3]!, 'GET', '/agents?node=node-4', undefined, n[3]!.adminKey)).body.agents as { name: string }[] | undefined)?.some((a) => a.name === crossed) === true;
  let tookOver = false;
  await until('both counters answer', async () => (await count(n[0]!, onMin)) === 0 && (await count(n[4]!, onMaj)) === 0, 30_000, 250);
  const accepted: Record<string, number> = { [onMaj]: 0, [onMin]: 0 };
  const send = async (from: RunningServer, to: string) => {
    if (await increment(from, to)) accepted[to] = (accepted[to] ?? 0) + 1;
  };
  await c.cut([[0, 1, 2], [3, 4]]);
  const traffic = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      await send(n[0]!, onMin);
      await send(n[3]!, onMaj);
      // The minority learns of its failures one verdict at a time: it must never take the majority's
      // agent over meanwhile (a stable quorum is required).
      if (await node4Runs()) tookOver = true;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await traffic(2000);
  await until('node-1 majority, node-4 minority', async () => /^Status: HEALTHY \(majority partition\)$/m.test((await status(c, 0)).stdout) && /^Status: DEGRADED \(minority partition\)$/m.test((await status(c, 3)).stdout), 40_000, 500);
  const m4 = await (await fetch(`${n[3]!.metricsUrl}/metrics`)).text();
  assert.match(m4, /^caxton_cluster_partition_state 2$/m, 'two of five: a minority, not alone');
  await traffic(2000);
  // node-5 (minority) is killed and restarted on its data dir during the split: it comes back knowing
  // the cluster has 5 nodes, so it is a minority again, and what was queued there is still there.
  await n[4]!.kill('SIGKILL');
  const n5 = await c.start(4, { dataDir: n[4]!.dataDir, args: ['--set', 'coordination.cluster.reconnect_interval=1s'], wait: false });
  await until('the restarted node-5 is on the minority side', async () => /^Status: DEGRADED \(minority partition\)$/m.test((await status(c, 4)).stdout), 40_000, 500);
  await traffic(2000);
  assert.equal(tookOver, false, `node-4 (minority) took ${crossed} over from the majority's node-1`);
  await c.heal();
  await until('every node healthy again', async () => {
    for (const i of [0, 1, 2, 3, 4]) if (!/^Status: HEALTHY$/m.test((await status(c, i)).stdout)) return false;
    return true;
  }, 90_000, 1000);
  const where = ((await api(n[0]!, 'GET', '/agents', undefined, n[0]!.adminKey)).body.agents as { name: string; node: string }[]).filter((a) => a.name === crossed).map((a) => a.node);
  assert.deepEqual(where, ['node-1'], `${crossed} ran on the majority all along`);
  const final = await until('every accepted increment is in, once', async () => {
    const a = await count(n[0]!, onMaj);
    const b = await count(n[0]!, onMin);
    return a === accepted[onMaj] && b === accepted[onMin] ? { a, b } : undefined;
  }, 120_000, 1000).catch(async (e: unknown) => {
    throw new Error(`${(e as Error).message}: ${onMaj} counts ${await count(n[0]!, onMaj)} of ${accepted[onMaj]}, ${onMin} counts ${await count(n[0]!, onMin)} of ${accepted[onMin]}`);
  });
  console.log(`counted: ${onMaj} ${final.a} of ${accepted[onMaj]} accepted (from the minority), ${onMin} ${final.b} of ${accepted[onMin]} accepted (from the majority); node-5 restarted during the split (pid ${n5.pid})`);
  await until('cluster verify shows no drift', async () => (await c.cli(0, 'cluster', 'verify')).code === 0, 60_000, 1000);
});

test('partitions - split brain by hand: detect-partition --resolve-strategy manual holds the merge after the heal (both copies run, nothing settled), resolve-partition --prefer node-3 keeps node-3\'s copy and files the other for review', { skip: support.skip, timeout: 300_000 }, async (t) => {
  const c = await startNetnsCluster({ size: 3, subnet: '10.250.11', args: ['--set', 'coordination.cluster.reconnect_interval=1s'] });
  t.after(() => c.stop());
  const [n1, , n3] = c.nodes as [RunningServer, RunningServer, RunningServer];
  assert.equal((await api(n1, 'POST', '/agents', { name: MIN, module: b64(agentWasm('counter')) }, n1.adminKey)).status, 201);
  await until('the counter answers', async () => (await count(n1, MIN)) === 0, 30_000, 250);
  for (let i = 0; i < 3; i++) assert.ok(await increment(n1, MIN));
  await until('3 increments in', async () => (await count(n1, MIN)) === 3, 30_000, 250);
  /** Whether node i runs the counter itself. */
  const runs = async (s: RunningServer, node: string) => ((await api(s, 'GET', `/agents?node=${node}`, undefined, s.adminKey)).body.agents as { name: string }[] | undefined)?.some((a) => a.name === MIN) === true;

  await c.cut([[0, 1], [2]]);
  await until('node-1 is the majority', async () => /^Status: HEALTHY \(majority partition\)$/m.test((await status(c, 0)).stdout), 30_000, 500);
  await until('node-3 is the minority', async () => /^Status: DEGRADED \(minority partition\)$/m.test((await status(c, 2)).stdout), 40_000, 500);
  const held = await c.cli(0, 'cluster', 'detect-partition', '--resolve-strategy', 'manual');
  assert.equal(held.code, 0, held.stdout);
  assert.match(held.stdout, /^WARNING: Network partition detected\nPartition A: \[node-1, node-2\] \(majority\)\nPartition B: \[node-3\] \(minority\)\n/m);
  assert.match(held.stdout, /✓ the merge waits for `caxton cluster resolve-partition` on node-1, node-2/);
  await until('the majority took the counter over', async () => runs(n1, 'node-1'), 40_000, 500);
  for (let i = 0; i < 4; i++) assert.ok(await increment(n1, MIN)); // the majority's copy: 7
  await until('7 on the majority', async () => (await count(n1, MIN)) === 7, 30_000, 250);
  for (let i = 0; i < 2; i++) assert.ok(await increment(n3, MIN)); // node-3's own copy: 5
  let seen: number | undefined;
  await until('5 on node-3', async () => (seen = await count(n3, MIN)) === 5, 30_000, 250).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}: node-3's copy counts ${seen}; node-3 runs it: ${c.nodes[2]?.logs().split('\n').filter((l) => l.includes(MIN) || l.includes('replicat') || l.includes('fenced') || l.includes('partition')).slice(-25).join('\n')}`);
  });

  await c.heal();
  await until('node-1 reports the merge held', async () => /^Merge: HELD/m.test((await status(c, 0)).stdout), 60_000, 500);
  await until('node-3 holds its merge too', async () => /^Merge: HELD/m.test((await status(c, 2)).stdout), 30_000, 500);
  // Held: both copies still run, for the operator to compare.
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual([await runs(n1, 'node-1'), await runs(n3, 'node-3')], [true, true], 'nothing settled while the merge is held');

  const resolved = await c.cli(0, 'cluster', 'resolve-partition', '--prefer', 'node-3');
  assert.equal(resolved.code, 0, resolved.stdout + resolved.stderr);
  assert.match(resolved.stdout, /✓ resolved in favour of node-3 on node-1, node-2, node-3: \d+ queued messages replayed; 1 agent kept as node-3 runs it/);
  await until('one copy left, node-3\'s', async () => !(await runs(n1, 'node-1')) && (await runs(n3, 'node-3')), 60_000, 500).catch((e: unknown) => {
    const lines = (i: number) => (c.nodes[i]?.logs() ?? '').split('\n').filter((l) => l.includes(MIN) || /resolve|supersed|claim|epoch/.test(l)).slice(-12).join('\n');
    throw new Error(`${(e as Error).message}\nnode-1:\n${lines(0)}\nnode-3:\n${lines(2)}`);
  });
  assert.equal(await until('the counter answers through node-1', () => count(n1, MIN), 30_000, 250), 5, 'node-3\'s state won');
  const conflicts = await c.cli(0, 'cluster', 'conflicts', '-o', 'json');
  const list = JSON.parse(conflicts.stdout).conflicts as { agent: string; winner: string; keys: number; state: { kv: { key: string; value: string }[] } }[];
  const mine = list.find((x) => x.agent === MIN);
  assert.ok(mine !== undefined && mine.winner === 'node-3', conflicts.stdout);
  assert.equal(Buffer.from(mine.state.kv.find((e) => e.key === 'count')?.value ?? '', 'base64').toString(), '7', 'the majority\'s copy is kept for review, with its count');
  assert.match((await status(c, 0)).stdout, /^Status: HEALTHY$/m);
  await until('cluster verify shows no drift', async () => (await c.cli(0, 'cluster', 'verify')).code === 0, 60_000, 1000);
});
