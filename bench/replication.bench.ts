/**
 * State replication benchmarks (opt-in: `npm run bench -- replication`): what sync and async
 * replication cost a stateful agent, and what async loses when its owner is killed.
 *
 * Method
 * ------
 * Two nodes in one process: each a real AgentPool (one worker thread, its own SQLite file in WAL mode)
 * with a StateReplicator, joined by the in-process Peers network of the tests (test/helpers/
 * memory-peers.ts: every post is one setImmediate hop and a JSON copy). The real link adds its own
 * loopback round trip (tens of µs) on top: these figures are the replication engine's share.
 * The agent is the counter example (examples/counter): every increment reads and writes one key and
 * replies, so every handler produces one delta.
 *
 * 1. Request→reply, sequential: a client outside the pool sends an increment and waits for the reply,
 *    1,000 times after 100 warm-up; P50/P99 of the round trip. Unreplicated, async, sync.
 * 2. Throughput, pipelined: 5,000 increments sent at once, time until the last reply. Sync mode holds
 *    each reply until the replica acknowledged its delta, but the worker goes on meanwhile.
 * 3. Async loss window: increments streamed with 200 in flight; after 1,000 replies the owner is
 *    taken off the network (net.down, as a kill -9 looks to the replica) and the pool closed. Lost =
 *    the owner's own count − the replica's count: writes the owner had made (and, async, already
 *    acknowledged) that the replica never got. Also lost = sent − replica for sync, where every
 *    acknowledged increment must be at the replica (checked: the acknowledged count ≤ the replica's).
 *    Repeated 5 times per mode.
 */
import { join } from 'node:path';
import { AgentPool } from '../src/sandbox/index.js';
import { openDatabase, SqliteAgentStateStore } from '../src/storage/index.js';
import { ReplicaStore } from '../src/storage/replica-store.js';
import { StateReplicator, type ReplicationMode } from '../src/agents/replication/index.js';
import { MemoryNetwork } from '../test/helpers/memory-peers.js';
import { agentWasm, Client } from '../test/helpers/agents.js';
import { tempDir } from '../test/helpers/tmp.js';
import { percentile, sortedCopy, type Row } from './report.js';

type Mode = ReplicationMode | 'none';

interface Pair {
  readonly owner: { pool: AgentPool; repl: StateReplicator; client: Client; kv: SqliteAgentStateStore };
  readonly replica: { pool: AgentPool; repl: StateReplicator; store: ReplicaStore };
  readonly net: MemoryNetwork;
  close(): Promise<void>;
}

async function pair(mode: Mode): Promise<Pair> {
  const dir = tempDir('caxton-bench-repl-');
  const net = new MemoryNetwork();
  const mk = async (name: string) => {
    const databasePath = join(dir.path, `${name}.db`);
    const pool = await AgentPool.start({ workers: 1, databasePath });
    const db = openDatabase(databasePath);
    const store = new ReplicaStore(db);
    const repl = new StateReplicator({ peers: net.add(name), pool, store, mode: mode === 'none' ? 'sync' : mode });
    return { pool, db, store, repl, kv: new SqliteAgentStateStore(db) };
  };
  const a = await mk('a');
  const b = await mk('b');
  const m = await a.pool.admit(agentWasm('counter'));
  await a.pool.spawn({ name: 'counter', module: m.hash, start: false });
  if (mode !== 'none') a.repl.setReplica('counter', 'b');
  a.pool.start('counter');
  const client = new Client(a.pool);
  let closed = false;
  return {
    owner: { pool: a.pool, repl: a.repl, client, kv: a.kv },
    replica: { pool: b.pool, repl: b.repl, store: b.store },
    net,
    async close() {
      if (closed) return;
      closed = true;
      client.close();
      a.repl.close();
      b.repl.close();
      await Promise.all([a.pool.close(), b.pool.close()]);
      a.db.close();
      b.db.close();
      dir.cleanup();
    },
  };
}

const count = (kv: SqliteAgentStateStore): number => {
  const v = kv.get('counter', new TextEncoder().encode('count'));
  return v === undefined ? 0 : Number(new TextDecoder().decode(v));
};
const replicaCount = (store: ReplicaStore): number => {
  const p = store.kv('counter').find(([k]) => new TextDecoder().decode(k) === 'count');
  return p === undefined ? 0 : Number(new TextDecoder().decode(p[1]));
};

async function roundTrips(mode: Mode, rows: Row[]): Promise<void> {
  const p = await pair(mode);
  try {
    const t: number[] = [];
    for (let i = 0; i < 1100; i++) {
      const t0 = performance.now();
      await p.owner.client.request('counter', 'request', { op: 'increment' });
      if (i >= 100) t.push((performance.now() - t0) * 1000);
      p.owner.client.inbox.length = 0;
    }
    const s = sortedCopy(t);
    rows.push({ name: `counter request→reply, replication ${mode}, P50`, value: percentile(s, 50), unit: 'µs' });
    rows.push({ name: `counter request→reply, replication ${mode}, P99`, value: percentile(s, 99), unit: 'µs', note: `${t.length} sequential round trips` });
  } finally {
    await p.close();
  }
}

async function throughput(mode: Mode, rows: Row[]): Promise<void> {
  const p = await pair(mode);
  try {
    const n = 5000;
    const c = p.owner.client;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) c.send('counter', 'request', { op: 'increment' });
    await c.waitFor(() => c.inbox.length >= n, 60_000, 'every reply');
    const s = (performance.now() - t0) / 1000;
    rows.push({ name: `counter increments/s pipelined, replication ${mode}`, value: n / s, unit: 'msg/s', note: `${n} increments` });
  } finally {
    await p.close();
  }
}

async function lossWindow(mode: ReplicationMode, rows: Row[]): Promise<void> {
  const lost: number[] = [];
  const ackedNotHeld: number[] = [];
  for (let run = 0; run < 5; run++) {
    const p = await pair(mode);
    try {
      const c = p.owner.client;
      let sent = 0;
      while (c.inbox.length < 1000) {
        while (sent - c.inbox.length < 200) {
          c.send('counter', 'request', { op: 'increment' });
          sent++;
        }
        await new Promise((r) => setImmediate(r));
      }
      const acked = c.inbox.length;
      p.net.down('a');
      p.owner.repl.close();
      await p.owner.pool.close();
      const own = count(p.owner.kv);
      const rep = replicaCount(p.replica.store);
      lost.push(own - rep);
      ackedNotHeld.push(Math.max(0, acked - rep));
    } finally {
      await p.close();
    }
  }
  const s = sortedCopy(lost);
  rows.push({
    name: `replication ${mode}: owner's writes missing at the replica after a kill, median`,
    value: percentile(s, 50),
    unit: 'writes',
    note: `max ${s[s.length - 1]}; acknowledged but missing: max ${Math.max(...ackedNotHeld)} (5 kills, 200 in flight)`,
  });
}

export async function replicationBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of ['none', 'async', 'sync'] as const) {
    process.stderr.write(`  round trips, ${mode}\n`);
    await roundTrips(mode, rows);
  }
  for (const mode of ['none', 'async', 'sync'] as const) {
    process.stderr.write(`  throughput, ${mode}\n`);
    await throughput(mode, rows);
  }
  for (const mode of ['async', 'sync'] as const) {
    process.stderr.write(`  loss window, ${mode}\n`);
    await lossWindow(mode, rows);
  }
  return rows;
}
