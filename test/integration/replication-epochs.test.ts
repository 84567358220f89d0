/**
 * State replication across ownership changes (src/agents/replication/ as src/node.ts wires it to
 * failover and moves): real AgentPools (worker threads, their own SQLite files) joined by the
 * in-process Peers network, the counter example agent as the state. A node that owns an agent again
 * after others did replicates under the agent's current ownership epoch, not its old fenced one; a
 * removed agent's replica copy is dropped, so a new agent of the same name is replicated from nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentPool } from '../../src/sandbox/index.js';
import { openDatabase, OutboxStore, SqliteAgentStateStore, type SqliteDatabase } from '../../src/storage/index.js';
import { ReplicaStore } from '../../src/storage/replica-store.js';
import { StateReplicator, type ReplicationEvent, type ReplicationMode } from '../../src/agents/replication/index.js';
import { MemoryNetwork } from '../helpers/memory-peers.js';
import { agentWasm, Client } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Node {
  readonly name: string;
  readonly pool: AgentPool;
  readonly db: SqliteDatabase;
  readonly store: ReplicaStore;
  readonly kv: SqliteAgentStateStore;
  readonly outbox: OutboxStore;
  readonly repl: StateReplicator;
  readonly client: Client;
  readonly events: ReplicationEvent[];
  counterHash: string;
  closed: boolean;
}

async function cluster(names: string[], opts: { mode?: ReplicationMode; maxUnacked?: number } = {}) {
  const dir = tempDir();
  const net = new MemoryNetwork();
  const nodes = new Map<string, Node>();
  for (const name of names) {
    const databasePath = join(dir.path, `${name}.db`);
    const pool = await AgentPool.start({ workers: 1, databasePath });
    const db = openDatabase(databasePath);
    const store = new ReplicaStore(db);
    const repl = new StateReplicator({ peers: net.add(name), pool, store, retransmitMs: 50, ...opts });
    const events: ReplicationEvent[] = [];
    repl.onEvent((e) => events.push(e));
    const counterHash = (await pool.admit(agentWasm('counter'))).hash;
    nodes.set(name, { name, pool, db, store, kv: new SqliteAgentStateStore(db), outbox: new OutboxStore(db), repl, client: new Client(pool), events, counterHash, closed: false });
  }
  const node = (n: string): Node => nodes.get(n) as Node;
  return {
    net,
    node,
    /** The owner's death: off the network, its worker threads terminated. */
    async kill(n: string): Promise<void> {
      const x = node(n);
      net.down(n);
      x.repl.close();
      x.closed = true;
      await x.pool.close();
    },
    async close(): Promise<void> {
      for (const x of nodes.values()) {
        x.client.close();
        x.repl.close();
        if (!x.closed) await x.pool.close();
        x.db.close();
      }
      dir.cleanup();
    },
  };
}

/** The counter as stored in a node's local agent state, or in its replica copy. */
function localCount(n: Node, agent = 'counter'): number {
  const v = n.kv.get(agent, enc.encode('count'));
  return v === undefined ? 0 : Number(dec.decode(v));
}
function replicaCount(n: Node, agent = 'counter'): number {
  const pair = n.store.kv(agent).find(([k]) => dec.decode(k) === 'count');
  return pair === undefined ? 0 : Number(dec.decode(pair[1]));
}

/** Starts the counter on `owner` replicating to `replica`, held until replication is on (no unreplicated window). */
async function startCounter(owner: Node, replica: string, mode?: ReplicationMode): Promise<void> {
  await owner.pool.spawn({ name: 'counter', module: owner.counterHash, start: false });
  owner.repl.setReplica('counter', replica, mode === undefined ? {} : { mode });
  owner.pool.start('counter');
}

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
