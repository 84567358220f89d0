/**
 * Nodes for state replication tests (src/agents/replication/): real AgentPools (worker threads, their
 * own SQLite files) joined by the in-process Peers network, each with a StateReplicator, a client
 * endpoint and the counter example agent admitted.
 */
import { join } from 'node:path';
import { AgentPool } from '../../src/sandbox/index.js';
import { openDatabase, OutboxStore, SqliteAgentStateStore, type SqliteDatabase } from '../../src/storage/index.js';
import { ReplicaStore } from '../../src/storage/replica-store.js';
import { StateReplicator, type ReplicationEvent, type ReplicationMode } from '../../src/agents/replication/index.js';
import { MemoryNetwork } from './memory-peers.js';
import { agentWasm, Client } from './agents.js';
import { tempDir } from './tmp.js';

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export interface Node {
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

export async function cluster(names: string[], opts: { mode?: ReplicationMode; maxUnacked?: number } = {}) {
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
export function localCount(n: Node, agent = 'counter'): number {
  const v = n.kv.get(agent, enc.encode('count'));
  return v === undefined ? 0 : Number(dec.decode(v));
}
export function replicaCount(n: Node, agent = 'counter'): number {
  const pair = n.store.kv(agent).find(([k]) => dec.decode(k) === 'count');
  return pair === undefined ? 0 : Number(dec.decode(pair[1]));
}

/** Starts the counter on `owner` replicating to `replica`, held until replication is on (no unreplicated window). */
export async function startCounter(owner: Node, replica: string, mode?: ReplicationMode): Promise<void> {
  await owner.pool.spawn({ name: 'counter', module: owner.counterHash, start: false });
  owner.repl.setReplica('counter', replica, mode === undefined ? {} : { mode });
  owner.pool.start('counter');
}
