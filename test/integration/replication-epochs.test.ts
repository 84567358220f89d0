/**
 * State replication across ownership changes (src/agents/replication/ as src/node.ts wires it to
 * failover and moves): real AgentPools (worker threads, their own SQLite files) joined by the
 * in-process Peers network, the counter example agent as the state. A node that owns an agent again
 * after others did replicates under the agent's current ownership epoch, not its old fenced one; a
 * removed agent's replica copy is dropped, so a new agent of the same name is replicated from nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/until.js';
import { cluster, enc, replicaCount, startCounter } from '../helpers/replication-cluster.js';
import { StateReplicator } from '../../src/agents/replication/index.js';

test('replication epochs - an agent moved after a failover replicates under its ownership epoch and is not fenced', async () => {
  const c = await cluster(['a', 'b', 'c', 'd']);
  try {
    const a = c.node('a'); const b = c.node('b'); const d = c.node('d');
    await startCounter(a, 'b');
    for (let i = 0; i < 3; i++) await a.client.request('counter', 'request', { op: 'increment' });
    await c.kill('a');
    const p = await b.repl.promote('counter', ['b']);
    await b.pool.spawn({ name: 'counter', module: b.counterHash, seen: p.applied, start: false });
    b.repl.setReplica('counter', 'c');
    b.pool.start('counter');
    await b.client.request('counter', 'request', { op: 'increment' });
    // live move b -> d as node.ts wires it: handoff writes the state, d adopts, its push calls setReplica(agent, replicas[0])
    b.repl.setReplica('counter', undefined);
    await b.pool.remove('counter');
    await d.pool.spawn({ name: 'counter', module: d.counterHash, start: false });
    // The move raised the deployment's epoch above the failover's (node.ts passes it as ownership).
    d.repl.setReplica('counter', 'c', { ownership: p.epoch + 1 });
    d.pool.start('counter');
    const r = await d.client.request('counter', 'request', { op: 'increment' });
    assert.equal(d.events.filter((e) => e.type === 'fenced').length, 0, 'the moved agent was fenced on its new owner');
    await until('the replica c follows the agent on d', () => replicaCount(c.node('c')) === (r.content as { count: number }).count);
  } finally {
    await c.close();
  }
});

test('replication epochs - a removed agent’s replica copy is dropped: a new agent of the same name is replicated from nothing', async () => {
  const c = await cluster(['a', 'b']);
  try {
    const a = c.node('a'); const b = c.node('b');
    await startCounter(a, 'b');
    for (let i = 0; i < 5; i++) await a.client.request('counter', 'request', { op: 'increment' });
    await until('b holds 5', () => replicaCount(b) === 5);
    // What DeploymentReplicator.drop does through node.ts: removed(), then setReplicas([]).
    await a.repl.forget('counter');
    a.repl.setReplica('counter', undefined);
    await a.pool.remove('counter');
    a.kv.clear('counter');
    await startCounter(a, 'b');
    const r = await a.client.request('counter', 'request', { op: 'increment' });
    await until('the replica follows the new agent', () => replicaCount(b) === (r.content as { count: number }).count);
  } finally {
    await c.close();
  }
});

test('replication epochs - after an agent\'s first live move, a replica that held the previous owner\'s copy takes the new owner\'s state, and sync replies are released', async () => {
  // As in a rolling restart: the agent (deployed at ownership epoch 0) ran on a replicating to c, then
  // moved to b (ownership 1), whose replica is c again. The two ownership terms need epochs of their
  // own: c holds a's copy at a higher seq than b's first deltas.
  const c = await cluster(['a', 'b', 'c']);
  try {
    const a = c.node('a'); const b = c.node('b');
    await a.pool.spawn({ name: 'counter', module: a.counterHash, start: false });
    a.repl.setReplica('counter', 'c', { ownership: 0 });
    a.pool.start('counter');
    for (let i = 0; i < 8; i++) await a.client.request('counter', 'request', { op: 'increment' });
    await until('c holds a\'s copy', () => replicaCount(c.node('c')) === 8);
    // The live move as node.ts wires it: a stops replicating, b adopts the state at ownership 1 and its
    // push calls setReplica(agent, replicas[0]).
    a.repl.setReplica('counter', undefined);
    await a.pool.remove('counter');
    b.kv.set('counter', enc.encode('count'), enc.encode('8'));
    await b.pool.spawn({ name: 'counter', module: b.counterHash, start: false });
    b.repl.setReplica('counter', 'c', { ownership: 1 });
    b.pool.start('counter');
    // Two handlers on b: each reply is released once c acknowledges its delta.
    for (const want of [9, 10]) {
      const r = await Promise.race([
        b.client.request('counter', 'request', { op: 'increment' }),
        new Promise<undefined>((res) => setTimeout(() => res(undefined), 3000)),
      ]);
      assert.ok(r !== undefined, `the reply of increment ${want} stayed held: c did not acknowledge b's delta`);
      assert.equal((r.content as { count: number }).count, want);
    }
    await until('c holds b\'s copy, not a\'s', () => replicaCount(c.node('c')) === 10);
  } finally {
    await c.close();
  }
});

test('replication epochs - a restarted owner (its deltas numbered from the start again, same epoch) gets its replica to take its state, and sync replies are released', async () => {
  // As after a node restart (a cluster stop and start): the agent comes back on the same node, at the
  // same ownership epoch, while its replica holds the copy the previous run wrote at a higher seq.
  const c = await cluster(['a', 'c']);
  try {
    const a = c.node('a');
    await a.pool.spawn({ name: 'counter', module: a.counterHash, start: false });
    a.repl.setReplica('counter', 'c', { ownership: 0 });
    a.pool.start('counter');
    for (let i = 0; i < 8; i++) await a.client.request('counter', 'request', { op: 'increment' });
    await until('c holds a\'s copy', () => replicaCount(c.node('c')) === 8);
    // The restart: a new run of the replicator (nothing in memory) over the same database, and the
    // agent spawned again, its worker numbering from the start.
    a.repl.close();
    await a.pool.remove('counter');
    const again = new StateReplicator({ peers: c.net.add('a'), pool: a.pool, store: a.store, retransmitMs: 50 });
    try {
      await a.pool.spawn({ name: 'counter', module: a.counterHash, start: false });
      again.setReplica('counter', 'c', { ownership: 0 });
      a.pool.start('counter');
      for (const want of [9, 10]) {
        const r = await Promise.race([
          a.client.request('counter', 'request', { op: 'increment' }),
          new Promise<undefined>((res) => setTimeout(() => res(undefined), 3000)),
        ]);
        assert.ok(r !== undefined, `the reply of increment ${want} stayed held: c did not acknowledge the restarted owner's delta`);
        assert.equal((r.content as { count: number }).count, want);
      }
      await until('c holds the restarted owner\'s copy', () => replicaCount(c.node('c')) === 10);
    } finally {
      again.close();
    }
  } finally {
    await c.close();
  }
});
