/**
 * Network-partition benchmarks (opt-in: `npm run bench -- partitions`; issue 12, "Benchmarks").
 *
 * Method
 * ------
 * 1. Hold and replay: a real PartitionQueue on its own SQLite file (openDatabase in a temp dir, WAL,
 *    synchronous=normal as the node opens it) holds 10,000 messages for the counter example agent
 *    (examples/counter), half at-least-once (each with its outbox row, parked by the hold), half
 *    at-most-once; hold rate = 10,000 / the time of the 10,000 hold() calls. Then one replay pass
 *    routes every message through a real AgentPool's Router.replayHeld (one worker thread, the counter
 *    agent running) as the node does at a heal. Replay rate = 10,000 / the pass (queue read, route into
 *    the agent's mailbox, delete + outbox unpark per message); "consumed" adds the time until the agent
 *    has handled every one (its 10,000 replies reached the client endpoint). The pool's mailbox
 *    capacity is raised to 20,000 so the whole pass fits in one mailbox. 3 runs, each on a fresh file.
 * 2. Capacity at the default bounds (100,000 messages / 256 MiB): 1 KiB at-most-once messages held
 *    until the queue says 'full'. Reported: the count held, the database file size (db + WAL, after a
 *    checkpoint), heap growth over the fill (process.memoryUsage().heapUsed, after gc when the process
 *    runs with --expose-gc, else as measured), and one more hold past the bound: 'full', with the
 *    file's row count and size unchanged.
 * 3. Partition detection and heal on real server processes (needs root + iproute2: skipped otherwise,
 *    see netnsSupport()): 3 nodes, each in its own network namespace (test/helpers/netns-cluster.ts),
 *    profiles fast and lan, reconnect_interval=1s. cut([[0,1],[2]]): time until node-1's GET
 *    /cluster/partition says majority and node-3's says minority or alone (polled every 100 ms).
 *    heal(): time until node-3's event stream (/events?types=cluster.*) shows "Cluster synchronized".
 *    One run per profile.
 */
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { AgentPool } from '../src/sandbox/index.js';
import { openDatabase } from '../src/storage/index.js';
import { OutboxStore } from '../src/storage/outbox-store.js';
import { PartitionQueueStore } from '../src/storage/partition-queue-store.js';
import { PartitionQueue, DEFAULT_MAX_BYTES, DEFAULT_MAX_MESSAGES, type HeldMessage } from '../src/messaging/partition-queue.js';
import { agentWasm, Client } from '../test/helpers/agents.js';
import { tempDir } from '../test/helpers/tmp.js';
import { netnsSupport, startNetnsCluster } from '../test/helpers/netns-cluster.js';
import { api, type RunningServer } from '../test/helpers/server.js';
import { until } from '../test/helpers/until.js';
import { stream } from '../test/helpers/partition-traffic.js';
import { percentile, sortedCopy, type Row } from './report.js';

const NORMAL = 1;

function fileBytes(path: string): number {
  let n = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      n += statSync(p).size;
    } catch {
      // no WAL file
    }
  }
  return n;
}

async function holdAndReplay(rows: Row[]): Promise<void> {
  const n = 10_000;
  const holdRates: number[] = [];
  const replayRates: number[] = [];
  const consumedRates: number[] = [];
  for (let run = 0; run < 3; run++) {
    const dir = tempDir('caxton-bench-partq-');
    const pool = await AgentPool.start({ workers: 1, databasePath: join(dir.path, 'pool.db'), mailboxCapacity: 2 * n });
    const db = openDatabase(join(dir.path, 'queue.db'));
    const client = new Client(pool);
    try {
      const m = await pool.admit(agentWasm('counter'));
      await pool.spawn({ name: 'counter', module: m.hash });
      const outbox = new OutboxStore(db);
      const queue = new PartitionQueue(new PartitionQueueStore(db), outbox);
      const messages: HeldMessage[] = [];
      for (let i = 0; i < n; i++) {
        const reliable = i % 2 === 0;
        const id = reliable ? `bench-${run}-${i}` : '';
        const json = JSON.stringify({ performative: 'request', sender: client.name, receiver: 'counter', content: { op: 'increment' }, reply_with: `r-${i}`, ...(reliable ? { delivery: 'at-least-once', message_id: id } : {}) });
        if (reliable) outbox.add(id, 'counter', json, Date.now() + 60_000);
        messages.push({ messageId: id, to: 'counter', json, priority: NORMAL, from: client.name, replyTo: '' });
      }
      const t0 = performance.now();
      for (const msg of messages) if (queue.hold(msg) !== 'held') throw new Error('hold refused a message under the bounds');
      const t1 = performance.now();
      const r = queue.replay((q) => pool.router.replayHeld(q.from, q.to, q.json, q.priority, q.replyTo));
      const t2 = performance.now();
      if (r.sent !== n) throw new Error(`replay sent ${r.sent} of ${n} (kept ${r.kept}, gone ${r.gone})`);
      await client.waitFor(() => client.inbox.length >= n, 120_000, 'every reply');
      const t3 = performance.now();
      if (queue.size !== 0 || outbox.parked() !== 0) throw new Error(`after replay: ${queue.size} held, ${outbox.parked()} parked`);
      holdRates.push(n / ((t1 - t0) / 1000));
      replayRates.push(n / ((t2 - t1) / 1000));
      consumedRates.push(n / ((t3 - t1) / 1000));
    } finally {
      client.close();
      await pool.close();
      db.close();
      dir.cleanup();
    }
  }
  const range = (xs: number[]) => {
    const s = sortedCopy(xs);
    return { mid: percentile(s, 50), note: `3 runs: ${s[0]!.toFixed(0)}-${s[s.length - 1]!.toFixed(0)}` };
  };
  const h = range(holdRates);
  const rp = range(replayRates);
  const c = range(consumedRates);
  rows.push({ name: 'partition queue: hold rate (10,000, half at-least-once)', value: h.mid, unit: 'msg/s', note: `median; ${h.note}` });
  rows.push({ name: 'partition queue: replay pass through Router.replayHeld', value: rp.mid, unit: 'msg/s', note: `median; ${rp.note}; into the counter agent's mailbox` });
  rows.push({ name: 'partition queue: replay until the agent handled all', value: c.mid, unit: 'msg/s', note: `median; ${c.note}; 10,000 replies back` });
}

function gc(): boolean {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) return false;
  g();
  g();
  return true;
}

async function capacity(rows: Row[]): Promise<void> {
  const dir = tempDir('caxton-bench-partcap-');
  const path = join(dir.path, 'queue.db');
  const db = openDatabase(path);
  try {
    const queue = new PartitionQueue(new PartitionQueueStore(db), new OutboxStore(db));
    const body = 'x'.repeat(1024 - 100);
    const msg = (i: number): HeldMessage => {
      // 1 KiB of message text: the JSON's padding makes up the rest.
      const head = JSON.stringify({ performative: 'inform', sender: 'a', receiver: 'b', content: { i, pad: '' } });
      const json = JSON.stringify({ performative: 'inform', sender: 'a', receiver: 'b', content: { i, pad: body.slice(0, 1024 - head.length) } });
      return { messageId: '', to: 'b', json, priority: NORMAL, from: 'a', replyTo: '' };
    };
    const withGc = gc();
    const heap0 = process.memoryUsage().heapUsed;
    const limit = DEFAULT_MAX_MESSAGES + 10; // bounded: the default bound stops it first
    const t0 = performance.now();
    let held = 0;
    let result = 'held';
    for (let i = 0; i < limit; i++) {
      result = queue.hold(msg(i));
      if (result !== 'held') break;
      held++;
    }
    const s = (performance.now() - t0) / 1000;
    gc();
    const heap1 = process.memoryUsage().heapUsed;
    db.pragma('wal_checkpoint(TRUNCATE)');
    const size = fileBytes(path);
    const countBefore = db.prepare('SELECT count(*) FROM partition_queue').pluck().get() as number;
    const past = queue.hold(msg(held));
    db.pragma('wal_checkpoint(TRUNCATE)');
    const countAfter = db.prepare('SELECT count(*) FROM partition_queue').pluck().get() as number;
    const sizeAfter = fileBytes(path);
    const bound = held >= DEFAULT_MAX_MESSAGES ? `${DEFAULT_MAX_MESSAGES} messages` : `${DEFAULT_MAX_BYTES / 2 ** 20} MiB`;
    rows.push({ name: 'partition queue capacity, 1 KiB messages, default bounds', value: held, unit: 'msg', note: `stopped by ${result === 'full' ? `'full' at ${bound}` : `the loop (${result})`}; ${queue.bytes} bytes counted; ${s.toFixed(1)} s to fill` });
    rows.push({ name: 'partition queue capacity: database file size when full', value: size / 2 ** 20, unit: 'MiB', note: 'db + WAL after a checkpoint' });
    rows.push({ name: 'partition queue capacity: heap growth over the fill', value: (heap1 - heap0) / 2 ** 20, unit: 'MiB', note: withGc ? 'heapUsed after gc, before/after' : 'heapUsed before/after, no gc (run node with --expose-gc for after-gc figures)' });
    rows.push({
      name: 'partition queue: one more hold past the bound',
      value: countAfter - countBefore,
      unit: 'rows',
      note: `returned '${past}'; rows written (0 expected); file ${sizeAfter === size ? 'unchanged' : `changed by ${sizeAfter - size} bytes`}`,
    });
  } finally {
    db.close();
    dir.cleanup();
  }
}

async function partitionView(n: RunningServer): Promise<string | undefined> {
  const r = await api(n, 'GET', '/cluster/partition').catch(() => undefined);
  return r?.status === 200 ? (r.body as { state: string }).state : undefined;
}

async function cutAndHeal(rows: Row[]): Promise<void> {
  const skip = netnsSupport().skip;
  if (skip !== false) {
    process.stderr.write(`  partition detection/heal skipped: ${skip}\n`);
    return;
  }
  for (const profile of ['fast', 'lan'] as const) {
    process.stderr.write(`  cut and heal, profile ${profile}\n`);
    const c = await startNetnsCluster({ size: 3, subnet: '10.250.9', profile, args: ['--set', 'coordination.cluster.reconnect_interval=1s'] });
    const events = stream(c.nodes[2]!);
    try {
      const [n1, n3] = [c.nodes[0]!, c.nodes[2]!];
      await until('all healthy before the cut', async () => (await partitionView(n1)) === 'healthy' && (await partitionView(n3)) === 'healthy', 30_000, 250);
      const t0 = performance.now();
      await c.cut([[0, 1], [2]]);
      let majorityAt = 0;
      let minorityAt = 0;
      await until('node-1 majority and node-3 minority', async () => {
        if (majorityAt === 0 && (await partitionView(n1)) === 'majority') majorityAt = performance.now();
        const s3 = minorityAt === 0 ? await partitionView(n3) : undefined;
        if (s3 === 'minority' || s3 === 'alone') minorityAt = performance.now();
        return majorityAt !== 0 && minorityAt !== 0;
      }, 120_000, 100);
      const before = events.text().length;
      const t1 = performance.now();
      await c.heal();
      await until('node-3 reports Cluster synchronized', () => events.text().slice(before).includes('Cluster synchronized'), 180_000, 100);
      const t2 = performance.now();
      rows.push({ name: `partition (${profile}): cut → node-1 majority`, value: (majorityAt - t0) / 1000, unit: 's', note: '3 nodes in netns, {2}/{1}, 1 run' });
      rows.push({ name: `partition (${profile}): cut → node-3 minority/alone`, value: (minorityAt - t0) / 1000, unit: 's', note: '1 run' });
      rows.push({ name: `partition (${profile}): heal → node-3 "Cluster synchronized"`, value: (t2 - t1) / 1000, unit: 's', note: 'reconnect_interval=1s, 1 run' });
    } finally {
      events.close();
      await c.stop();
    }
  }
}

export async function partitionBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  process.stderr.write('  hold and replay, 10,000 messages\n');
  await holdAndReplay(rows);
  process.stderr.write('  capacity at the default bounds, 1 KiB messages\n');
  await capacity(rows);
  await cutAndHeal(rows);
  return rows;
}
