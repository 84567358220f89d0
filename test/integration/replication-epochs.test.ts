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
import { cluster, replicaCount, startCounter } from '../helpers/replication-cluster.js';

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
    // The move raised the deployment's epoch above the failover's (node.ts passes it as minEpoch).
    d.repl.setReplica('counter', 'c', { minEpoch: p.epoch + 1 });
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
