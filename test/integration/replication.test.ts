/**
 * State replication with fencing (src/agents/replication/): real AgentPools (worker threads, their
 * own SQLite files) joined by the in-process Peers network, the counter example agent as the state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timerAgent } from '../helpers/wat-agents.js';
import { SqliteAgentTimerStore } from '../../src/storage/index.js';
import { until } from '../helpers/until.js';
import { cluster, enc, localCount, replicaCount, startCounter, type Node } from '../helpers/replication-cluster.js';

/** An at-least-once increment as a receiving node holds it: in its outbox until handled (and, sync, replicated). */
function increment(n: Node, id: string): void {
  const json = JSON.stringify({ performative: 'request', sender: 'client', receiver: 'counter', content: { op: 'increment' }, message_id: id, reply_with: id, delivery: 'at-least-once' });
  n.outbox.add(id, 'counter', json, Date.now() + 60_000);
  assert.ok(n.pool.deliver('counter', json));
}
const hasRow = (n: Node, id: string): boolean => n.outbox.db.prepare('SELECT 1 FROM outbox WHERE message_id = ?').get(id) !== undefined;

test('replication - sync mode holds the messages a handler sent and the ack of its message until the replica holds its delta', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const a = c.node('a');
    const b = c.node('b');
    await startCounter(a, 'b');
    await until('the snapshot at the replica', () => b.store.head('counter')?.seq === 1 || undefined);
    c.net.down('b');
    increment(a, 'm-1');
    await until('the handler to run', () => localCount(a) === 1);
    // Several retransmissions go unanswered meanwhile; nothing may leave.
    await until('retransmissions', () => (a.repl.status('counter')?.oldestUnackedMs ?? 0) > 300 || undefined);
    assert.equal(a.client.inbox.length, 0, 'the reply is held');
    assert.ok(hasRow(a, 'm-1'), 'the inbound message is not acknowledged');
    assert.equal(a.repl.status('counter')?.state, 'behind');
    c.net.up('b');
    const reply = await a.client.waitFor((m) => m.in_reply_to === 'm-1', 5000, 'the reply after the replica came back');
    assert.deepEqual(reply.content, { count: 1 });
    assert.equal(replicaCount(b), 1);
    await until('the ack', () => !hasRow(a, 'm-1'));
    assert.equal(a.repl.status('counter')?.state, 'in-sync');
  } finally {
    await c.close();
  }
});

test('replication - a graceful stop waits for the outputs its last handlers hold, then stops', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const a = c.node('a');
    await startCounter(a, 'b');
    await until('the snapshot at the replica', () => c.node('b').store.head('counter')?.seq === 1 || undefined);
    c.net.down('b');
    increment(a, 'm-1');
    await until('the handler to run', () => localCount(a) === 1);
    let stopped = false;
    const stop = a.pool.stop('counter').then(() => (stopped = true));
    await until('retransmissions', () => (a.repl.status('counter')?.oldestUnackedMs ?? 0) > 300 || undefined);
    assert.equal(stopped, false, 'not stopped while its reply is held');
    assert.equal(a.pool.agent('counter')?.state, 'draining');
    c.net.up('b');
    await stop;
    assert.ok(a.client.inbox.some((m) => m.in_reply_to === 'm-1'), 'the held reply left before the agent stopped');
    assert.equal(hasRow(a, 'm-1'), false);
  } finally {
    await c.close();
  }
});

test('replication - async mode holds nothing: the reply and the ack go while the replica is unreachable', async () => {
  const c = await cluster(['a', 'b'], { mode: 'async' });
  try {
    const a = c.node('a');
    await startCounter(a, 'b');
    c.net.down('b');
    increment(a, 'm-1');
    await a.client.waitFor((m) => m.in_reply_to === 'm-1', 5000, 'the reply');
    await until('the ack', () => !hasRow(a, 'm-1'));
    assert.ok((a.repl.status('counter')?.unacked ?? 0) >= 1, 'the delta is what a kill now would lose');
    c.net.up('b');
    await until('the replica to catch up', () => replicaCount(c.node('b')) === 1);
  } finally {
    await c.close();
  }
});

test('replication - pipelined deltas reach the replica in order, and outputs are released in the order they were produced', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const a = c.node('a');
    const b = c.node('b');
    await startCounter(a, 'b');
    const n = 200;
    for (let i = 1; i <= n; i++) a.client.send('counter', 'request', { op: 'increment' });
    await until('every reply', () => a.client.inbox.length === n || undefined);
    assert.deepEqual(a.client.inbox.map((m) => (m.content as { count: number }).count), Array.from({ length: n }, (_, i) => i + 1));
    await until('the replica at the last delta', () => b.store.head('counter')?.seq === a.repl.status('counter')?.seq || undefined);
    assert.equal(replicaCount(b), n);
    assert.equal(a.repl.status('counter')?.seq, n + 1, 'one snapshot, then one delta per increment');
  } finally {
    await c.close();
  }
});

test('replication - a new replica, or one that fell too far behind, catches up by snapshot', async () => {
  const c = await cluster(['a', 'b', 'c'], { mode: 'async', maxUnacked: 5 });
  try {
    const a = c.node('a');
    // State from before the agent had a replica.
    await a.pool.spawn({ name: 'counter', module: a.counterHash });
    for (let i = 0; i < 3; i++) await a.client.request('counter', 'request', { op: 'increment' });
    a.repl.setReplica('counter', 'b');
    await until('the snapshot at b', () => replicaCount(c.node('b')) === 3);
    // b gone for longer than the unacknowledged buffer: its deltas are dropped, a snapshot replaces them.
    c.net.down('b');
    for (let i = 0; i < 10; i++) await a.client.request('counter', 'request', { op: 'increment' });
    assert.ok((a.repl.status('counter')?.unacked ?? 0) <= 5, 'the unacknowledged buffer stays bounded: a snapshot replaces it');
    c.net.up('b');
    await until('b caught up', () => replicaCount(c.node('b')) === 13);
    // A change of replica: c starts from a snapshot.
    a.repl.setReplica('counter', 'c');
    await until('the snapshot at c', () => replicaCount(c.node('c')) === 13);
    await a.client.request('counter', 'request', { op: 'increment' });
    await until('c follows', () => replicaCount(c.node('c')) === 14);
  } finally {
    await c.close();
  }
});

test('replication - after promote, the old owner is fenced: its deltas are refused and what it held is never released', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const a = c.node('a');
    const b = c.node('b');
    await startCounter(a, 'b');
    await a.client.request('counter', 'request', { op: 'increment' });
    await until('b holds 1', () => replicaCount(b) === 1);
    // b takes the agent over (a looked dead to it), while a is still running.
    const p = await b.repl.promote('counter', ['b']);
    assert.equal(p.epoch, 2);
    assert.equal(localCount(b), 1);
    a.client.send('counter', 'request', { op: 'increment' }, { reply_with: 'late' });
    await until('a learns it is fenced', () => a.events.find((e) => e.type === 'fenced'));
    assert.deepEqual(a.events[0], { type: 'fenced', agent: 'counter', epoch: 2, by: 'b' });
    assert.equal(a.repl.status('counter')?.state, 'fenced');
    assert.equal(localCount(a), 2, 'the stale copy did run the handler');
    assert.deepEqual(b.store.head('counter'), { owner: 'b', epoch: 2, seq: 2 }, 'the fenced replica kept its epoch and took nothing');
    assert.equal(a.client.inbox.some((m) => m.in_reply_to === 'late'), false, 'the stale owner acknowledged nothing');
    // Started again (as after a worker crash), the stale copy stays fenced: it handles nothing.
    await a.pool.restart('counter');
    a.client.send('counter', 'request', { op: 'increment' });
    await until('the message queued', async () => (await a.pool.stats()).find((s) => s.name === 'counter')?.queued === 1 || undefined);
    assert.equal(localCount(a), 2);
  } finally {
    await c.close();
  }
});

test('replication - promote after the owner died returns every acknowledged write, and the promoted agent goes on replicating', async () => {
  const c = await cluster(['a', 'b', 'c']);
  try {
    const a = c.node('a');
    const b = c.node('b');
    await startCounter(a, 'b');
    const n = 25;
    for (let i = 0; i < n; i++) await a.client.request('counter', 'request', { op: 'increment' });
    await c.kill('a');
    const p = await b.repl.promote('counter', ['b']);
    assert.equal(p.from, 'b');
    assert.equal(localCount(b), n, 'every acknowledged increment');
    await b.pool.spawn({ name: 'counter', module: b.counterHash, seen: p.applied, start: false });
    b.repl.setReplica('counter', 'c');
    b.pool.start('counter');
    const r = await b.client.request('counter', 'request', { op: 'increment' });
    assert.deepEqual(r.content, { count: n + 1 });
    assert.equal(replicaCount(c.node('c')), n + 1, 'acknowledged in sync mode: c holds it');
    assert.equal(c.node('c').store.head('counter')?.epoch, p.epoch);
  } finally {
    await c.close();
  }
});

test('replication - counter: at-least-once increments, owner killed mid-stream, redelivery to the promoted replica applies each exactly once', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const a = c.node('a');
    const b = c.node('b');
    await startCounter(a, 'b');
    const n = 300;
    const ids = Array.from({ length: n }, (_, i) => `inc-${i}`);
    let sent = 0;
    const acked = () => ids.slice(0, sent).filter((id) => !hasRow(a, id)).length;
    while (acked() < n / 3) {
      while (sent - acked() < 50) increment(a, ids[sent++] as string);
      await new Promise((r) => setImmediate(r));
    }
    // The kill lands with a burst in flight: some handled and replicated, some handled only, some queued.
    for (let i = 0; i < 50; i++) increment(a, ids[sent++] as string);
    await new Promise((r) => setImmediate(r));
    await c.kill('a');
    // What the client saw acknowledged: the rows the receiving node deleted (its database outlives it).
    const ackedIds = ids.slice(0, sent).filter((id) => !hasRow(a, id));
    assert.ok(ackedIds.length >= n / 3 && ackedIds.length < sent, `killed mid-stream (${ackedIds.length} of ${sent} sent acknowledged)`);

    const p = await b.repl.promote('counter', ['b']);
    assert.ok(localCount(b) >= ackedIds.length, `the promoted counter (${localCount(b)}) has every acknowledged increment (${ackedIds.length})`);
    await b.pool.spawn({ name: 'counter', module: b.counterHash, seen: p.applied });
    // The sender's outbox redelivers everything it has no ack for; copies of acknowledged ones may be in flight too.
    for (const id of ids) increment(b, id);
    await until('every redelivery handled', () => ids.every((id) => !hasRow(b, id)) || undefined);
    assert.equal(localCount(b), n, 'every increment applied exactly once');
  } finally {
    await c.close();
  }
});

test('replication - pending timers fail over with the agent: a handled one is gone, a pending one fires on the new owner, ids go on', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const a = c.node('a');
    const b = c.node('b');
    const tm = await timerAgent();
    const ha = (await a.pool.admit(tm)).hash;
    const hb = (await b.pool.admit(tm)).hash;
    const int = (n: Node, key: string): number => {
      const v = n.kv.get('tm', enc.encode(key));
      return v === undefined ? -99 : Buffer.from(v).readInt32LE(0);
    };
    const arm = (n: Node, ms: number) => assert.ok(n.pool.deliver('tm', JSON.stringify({ performative: 'inform', sender: 'client', receiver: 'tm', content: `arm:${ms}` })));
    await a.pool.spawn({ name: 'tm', module: ha, start: false });
    a.repl.setReplica('tm', 'b');
    a.pool.start('tm');
    arm(a, 100);
    await until('the first timer to fire on a', () => int(a, 'ticks') === 1);
    arm(a, 1500);
    const second = await until('the second timer id', () => int(a, 'id') > 1 && int(a, 'id'));
    await until('the replica to hold the second timer', () => b.store.timers('tm').length === 1 || undefined);
    await c.kill('a');
    const p = await b.repl.promote('tm', ['b']);
    assert.equal(p.timers, 1, 'only the pending timer: the handled one went with its delta');
    await b.pool.spawn({ name: 'tm', module: hb, seen: p.applied });
    const timers = new SqliteAgentTimerStore(b.db);
    // Had the handled timer come back, it would fire at once (overdue) and ticks would pass 2.
    await until('the second timer to fire on b, and nothing else pending', () => (int(b, 'ticks') >= 2 && timers.list('tm').length === 0) || undefined);
    assert.equal(int(b, 'ticks'), 2);
    arm(b, 60_000);
    await until('a new timer id on b', () => int(b, 'id') !== second || undefined);
    assert.ok(int(b, 'id') > second, 'timer ids go on from the old owner\'s, never reused');
  } finally {
    await c.close();
  }
});
