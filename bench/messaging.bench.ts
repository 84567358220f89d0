/**
 * Messaging benchmarks: agent→agent routing latency, sustained throughput, contract-net round time.
 * Every loop is bounded in count and in time; progress goes to stderr.
 *
 * Method
 * ------
 * The latency and throughput numbers use a small "bounce" agent written in WAT below and assembled at
 * bench time (nothing binary is committed). Two bounce agents form a pair: agent `xxxxa` talks to
 * `xxxxb` and back (each finds its own name in the init document and flips the last letter to get its
 * peer). A message is ~200 bytes of JSON once the host has added `sender` and `message_id`:
 *
 *   {"performative":"inform","receiver":"<peer>","content":{"pad":"<48 x>","t":"<16 digits>"}}
 *
 * 1. Latency of one hop. On every message the receiving agent reads `caxton.time_now_us` as the first
 *    thing in `handle_message`, parses the sender's timestamp `t` (the last 16 digits of the text,
 *    which the host passes through unchanged), and stores the pair (t, now) in its own memory. It then
 *    reads the clock again as the last thing before `caxton.send`, writes it into `t` and sends the
 *    message back. So one sample = from the sender's clock read just before `caxton.send` to the
 *    receiver's clock read on entry to `handle_message`. It includes everything the runtime does for a
 *    hop: the host side of `send` (UTF-8 decode, JSON parse and validation, sender/message_id filled
 *    in), routing and the mailbox, the rest of the sender's call and its bookkeeping, the drain loop,
 *    copying the message into the receiver (encode, caxton_alloc, copy, fuel reset) and entering the
 *    receiver, plus one host clock call (a BigInt). It does NOT include the receiver's own handling after
 *    its first clock read (that is spent before the next hop's clock read and is not counted anywhere).
 *    After N receipts each agent writes its samples with one `caxton.kv_set` (binary, 16 bytes per
 *    sample) and sends "done" to an endpoint outside the pool; the bench then reads both blobs from the
 *    node's SQLite file. The first 10% of samples are dropped as warm-up.
 *    `time_now_us` is used rather than `time_monotonic_us` because the latter is `performance.now()`,
 *    whose origin differs per worker thread; `time_now_us` is timeOrigin + now, comparable across
 *    threads to about a microsecond. Same worker: one clock, exact. Across workers the clocks of the two
 *    threads may differ by a small constant, so the note also gives the clock-independent cross-check
 *    (round trip on the initiator's clock − the peer's time from entry to send) / 2 and the estimated
 *    offset (median A→B − median B→A) / 2. Host clock values are whole microseconds, so percentiles are
 *    quantised to 1 µs; the mean is exact to well under that.
 *    Same worker: a pool with one worker, measured with 0, 98 and 9,998 idle (echo) agents beside the
 *    pair, i.e. 2, 100 and 10,000 agents in the pool. Across workers: a pool with two workers, the two
 *    agents on different workers (checked with pool.agent(name).worker), so every hop goes worker →
 *    main thread → worker (two postMessage hops and the main thread's routing).
 *
 * 2. Throughput. Pairs of bounce agents without the clock reads (same code path otherwise), one message
 *    in flight per pair, many pairs per worker so both cores stay busy. One "message" = one agent→agent
 *    delivery + its handling (send validation in the sender, routing, mailbox, copy in, the receiver's
 *    handle_message). Rate = Δ(sum of messagesIn from pool.stats()) / Δt over a fixed window after a
 *    warm-up; the agents stop by themselves after a bounded count. Measured with pairs inside each of two
 *    workers (the deployment shape on 2 cores when agents talk to neighbours), and, for information,
 *    one worker and pairs split across two workers (every message through the main thread). The note
 *    also gives messages per CPU-second of the whole process (process.cpuUsage), which is less
 *    sensitive to other load on a shared machine than the wall-clock rate.
 *
 * 3. Contract net. cn-manager and 10 or 100 cn-bidder agents (the AssemblyScript examples), one round at
 *    a time: time from pool.deliver(request) on the main thread to the manager's inform reaching the
 *    external endpoint. A round = request in, cfp to every bidder, every propose back, accept-proposal
 *    to the winner and reject-proposal to the others, the winner's inform, the manager's inform out,
 *    plus the two timers the manager sets and cancels. No DESIGN.md budget.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { AgentPool, DEFAULT_POLICY } from '../src/sandbox/index.js';
import { SqliteAgentStateStore } from '../src/storage/index.js';
import { processCeiling } from '../src/sandbox/capacity.js';
import { ceilingNote } from './sandbox.bench.js';
import { percentile, sortedCopy, type Row } from './report.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const agent = (n: string) => new Uint8Array(readFileSync(join(root, 'build', 'agents', `${n}.wasm`)));

type Wabt = { parseWat(n: string, t: string, f?: object): { toBinary(o: object): { buffer: Uint8Array }; destroy(): void } };
async function wat(text: string): Promise<Uint8Array> {
  const w = await ((await import('wabt')).default as unknown as () => Promise<Wabt>)();
  const m = w.parseWat('bench.wat', text, { mutable_globals: true, sign_extension: true });
  try {
    return new Uint8Array(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

/** Bounce agents' names: fixed length, the peer differs in the last letter (a ↔ b). */
const NAME_LEN = 8;
export const pairName = (prefix: string, i: number, side: 'a' | 'b') => `${prefix}${String(i).padStart(NAME_LEN - 1 - prefix.length, '0')}${side}`;
const SINK = 'bench-sink';
export const PAD = 'x'.repeat(48);
export const T_ZERO = '0'.repeat(16);
/** The message a bounce agent sends; the receiver placeholder is filled in agent_init. */
const TEMPLATE = `{"performative":"inform","receiver":"${'?'.repeat(NAME_LEN)}","content":{"pad":"${PAD}","t":"${T_ZERO}"}}`;
/** What the bench sends to start a pair: the same shape, t = 0 (not a sample). */
const kick = (to: string) => `{"performative":"inform","sender":"bench","receiver":"${to}","content":{"pad":"${PAD}","t":"${T_ZERO}"}}`;

const SAMPLES_AT = 65536;
export const KV_KEY = 'lat';

function watBytes(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'), (b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
}

/**
 * The bounce agent. `timed`: read the clock and record (t_sent, t_received) per receipt, dump with
 * kv_set after `n` receipts. Untimed: the same path without clock reads or recording.
 * After its n-th receipt an agent reports "done" to `sink` and forwards once more, so its peer also
 * reaches n; receipts past n are ignored. With `sink` null (agents on server processes, started by a
 * message through the API, whose fields the API orders) there is no "done" (the caller polls the
 * key-value state), and a message that does not end in the `t` field is a kick (t = 0), not an error.
 */
export async function bounceModule(n: number, timed: boolean, sink: string | null = SINK): Promise<Uint8Array> {
  const recv = TEMPLATE.indexOf('?');
  const tOff = TEMPLATE.indexOf(T_ZERO);
  const done = `{"performative":"inform","receiver":"${sink ?? SINK}","content":"done"}`;
  const DONE_AT = 2048;
  const KEY_AT = 2560;
  const namePat = Buffer.from('"name":"').readBigInt64LE(0);
  const pages = timed ? Math.ceil((SAMPLES_AT + n * 16) / 65536) : 2;
  const text = `(module
  (import "caxton" "send" (func $send (param i32 i32) (result i32)))
  (import "caxton" "time_now_us" (func $now (result i64)))
  (import "caxton" "kv_set" (func $kv_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") ${pages})
  (data (i32.const 0) "${watBytes(TEMPLATE)}")
  (data (i32.const ${DONE_AT}) "${watBytes(done)}")
  (data (i32.const ${KEY_AT}) "${watBytes(KV_KEY)}")
  (global $count (mut i32) (i32.const 0))
  (func (export "caxton_abi_version") (result i32) i32.const 1)
  (func (export "caxton_alloc") (param $len i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $len) (i32.const 60000)) (then (i32.const 0)) (else (i32.const 4096))))
  (func (export "agent_init") (param $p i32) (param $len i32) (result i32) (local $i i32) (local $end i32) (local $k i32)
    (local.set $end (i32.add (local.get $p) (i32.sub (local.get $len) (i32.const ${8 + NAME_LEN}))))
    (local.set $i (local.get $p))
    (block $found (loop $scan
      (br_if $found (i64.eq (i64.load (local.get $i)) (i64.const ${namePat})))
      (if (i32.ge_s (local.get $i) (local.get $end)) (then (return (i32.const -1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $scan)))
    (local.set $i (i32.add (local.get $i) (i32.const 8)))
    (loop $copy
      (i32.store8 (i32.add (i32.const ${recv}) (local.get $k)) (i32.load8_u (i32.add (local.get $i) (local.get $k))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $copy (i32.lt_u (local.get $k) (i32.const ${NAME_LEN}))))
    ;; the peer: last letter a <-> b
    (i32.store8 (i32.const ${recv + NAME_LEN - 1}) (i32.xor (i32.load8_u (i32.const ${recv + NAME_LEN - 1})) (i32.const 3)))
    (i32.const 0))
  (func (export "handle_message") (param $p i32) (param $len i32) (result i32)
    (local $t i64) (local $m i64) (local $i i32) (local $q i32) (local $c i32) (local $at i32)
    ${timed ? '(local.set $t (call $now))' : ''}
    (if (i32.lt_u (local.get $len) (i32.const 20)) (then (return (i32.const -2))))
    (local.set $q (i32.add (local.get $p) (i32.sub (local.get $len) (i32.const 19))))
    ;; t is the last 16 characters before "}} : anything else (a system failure, say) is not ours
    (if (i32.eq (i32.load8_u (i32.add (local.get $q) (i32.const 16))) (i32.const 34))
      (then (loop $digits
        (local.set $m (i64.add (i64.mul (local.get $m) (i64.const 10))
          (i64.extend_i32_u (i32.sub (i32.load8_u (i32.add (local.get $q) (local.get $i))) (i32.const 48)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $digits (i32.lt_u (local.get $i) (i32.const 16)))))
      ${sink === null ? '' : '(else (return (i32.const -2)))'})
    (if (i64.ne (local.get $m) (i64.const 0)) (then
      (local.set $c (i32.add (global.get $count) (i32.const 1)))
      (global.set $count (local.get $c))
      (if (i32.gt_u (local.get $c) (i32.const ${n})) (then (return (i32.const 0))))
      ${
        timed
          ? `(local.set $at (i32.add (i32.const ${SAMPLES_AT}) (i32.shl (i32.sub (local.get $c) (i32.const 1)) (i32.const 4))))
      (i64.store (local.get $at) (local.get $m))
      (i64.store (i32.add (local.get $at) (i32.const 8)) (local.get $t))`
          : ''
      }
      (if (i32.eq (local.get $c) (i32.const ${n})) (then
        ${timed ? `(drop (call $kv_set (i32.const ${KEY_AT}) (i32.const ${KV_KEY.length}) (i32.const ${SAMPLES_AT}) (i32.const ${n * 16})))` : ''}
        ${sink === null ? '' : `(drop (call $send (i32.const ${DONE_AT}) (i32.const ${Buffer.byteLength(done)})))`}))))
    ${
      timed
        ? `(local.set $t (call $now))
    (local.set $i (i32.const 15))
    (loop $write
      (i32.store8 (i32.add (i32.const ${tOff}) (local.get $i)) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $t) (i64.const 10)))))
      (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $write (i32.ge_s (local.get $i) (i32.const 0))))`
        : `(i32.store8 (i32.const ${tOff + 15}) (i32.const 49))`
    }
    (call $send (i32.const 0) (i32.const ${Buffer.byteLength(TEMPLATE)}))))`;
  return wat(text);
}

async function withPool<T>(dataDir: string, file: string, workers: number, fn: (pool: AgentPool, db: string) => Promise<T>): Promise<T> {
  const db = join(dataDir, file);
  const pool = await AgentPool.start({ databasePath: db, workers });
  pool.onEvent((e) => {
    if (e.type === 'undeliverable') process.stderr.write(`\n  undeliverable ${e.from} → ${e.to}: ${e.reason}\n`);
    if (e.type === 'agent_fault') process.stderr.write(`\n  agent fault ${e.name}: ${e.kind} ${e.message}\n`);
    if (e.type === 'agent_log' && e.level >= 3) process.stderr.write(`\n  agent log ${e.name}: ${e.text}\n`);
  });
  try {
    return await fn(pool, db);
  } finally {
    await pool.close();
  }
}

/** Resolves once `names` all reported done to SINK, or rejects after `ms`. */
function doneFrom(pool: AgentPool, names: string[], ms: number): Promise<void> {
  const left = new Set(names);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${[...left].join(', ')}`));
    }, ms);
    const off = pool.addEndpoint({
      accepts: (to) => to === SINK,
      deliver: (from) => {
        left.delete(from);
        if (left.size === 0) {
          clearTimeout(timer);
          off();
          resolve();
        }
      },
    });
  });
}

async function spawnIdle(pool: AgentPool, prefix: string, from: number, to: number): Promise<void> {
  const m = await pool.admit(agent('echo'));
  for (let i = from; i < to; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(to, i + 500); j++) batch.push(pool.spawn({ name: `${prefix}-${j}`, module: m.hash }));
    await Promise.all(batch);
  }
}

interface HopResult {
  /** Every hop, both directions, after warm-up, µs. */
  hops: Float64Array;
  mean: number;
  /** (round trip on A's clock − B's entry-to-send time) / 2, per round, µs. */
  crossCheck: Float64Array;
  /** (median A→B − median B→A) / 2, µs: the clock offset between the two agents' threads. */
  offset: number;
}

/** Bounces N messages each way between `a` and `b` (already spawned) and reads back their samples. */
async function bounce(pool: AgentPool, db: string, a: string, b: string, n: number, timeoutMs: number): Promise<HopResult> {
  const done = doneFrom(pool, [a, b], timeoutMs);
  if (!pool.deliver(a, kick(a))) throw new Error(`cannot deliver to ${a}`);
  await done;
  const store = new SqliteAgentStateStore(db);
  const key = Buffer.from(KV_KEY);
  const read = (name: string) => {
    const v = store.get(name, key);
    if (v === undefined || v.length !== n * 16) throw new Error(`samples of ${name} missing or short (${v?.length})`);
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const sent: number[] = [];
    const recv: number[] = [];
    for (let i = 0; i < n; i++) {
      sent.push(Number(dv.getBigInt64(i * 16, true)));
      recv.push(Number(dv.getBigInt64(i * 16 + 8, true)));
    }
    return { sent, recv };
  };
  const A = read(a);
  const B = read(b);
  store.close();
  // B's k-th receipt is what A sent after its (k−1)-th receipt; A's k-th receipt is B's answer to it.
  const skip = Math.floor(n / 10);
  const ab: number[] = [];
  const ba: number[] = [];
  const cross: number[] = [];
  for (let k = skip; k < n; k++) {
    ab.push((B.recv[k] as number) - (B.sent[k] as number));
    ba.push((A.recv[k] as number) - (A.sent[k] as number));
    const rtt = (A.recv[k] as number) - (B.sent[k] as number); // both on A's clock
    const peer = (A.sent[k] as number) - (B.recv[k] as number); // both on B's clock
    cross.push((rtt - peer) / 2);
  }
  const all = [...ab, ...ba];
  const sab = sortedCopy(ab);
  const sba = sortedCopy(ba);
  return {
    hops: sortedCopy(all),
    mean: all.reduce((s, x) => s + x, 0) / all.length,
    crossCheck: sortedCopy(cross),
    offset: (percentile(sab, 50) - percentile(sba, 50)) / 2,
  };
}

const HOPS_PER_AGENT = 25_000;

function latencyRows(rows: Row[], label: string, r: HopResult, p50Budget: number, p99Budget: number, what: string): void {
  const p50 = percentile(r.hops, 50);
  const p99 = percentile(r.hops, 99);
  const p999 = percentile(r.hops, 99.9);
  const basis = `${r.hops.length} hops, ${what}; mean ${r.mean.toFixed(2)} µs`;
  rows.push({ name: `agent→agent ${label}, P50`, value: p50, unit: 'µs', budget: `≤ ${p50Budget} µs`, ok: p50 <= p50Budget, note: basis });
  rows.push({ name: `agent→agent ${label}, P99`, value: p99, unit: 'µs', budget: `≤ ${p99Budget} µs`, ok: p99 <= p99Budget });
  rows.push({
    name: `agent→agent ${label}, P999`,
    value: p999,
    unit: 'µs',
    note: `max ${r.hops[r.hops.length - 1]} µs; cross-check (RTT − peer handling)/2 P50 ${percentile(r.crossCheck, 50).toFixed(1)} / P99 ${percentile(r.crossCheck, 99).toFixed(1)} µs; clock offset est. ${r.offset.toFixed(1)} µs`,
  });
}

async function sameWorkerLatency(rows: Row[], dataDir: string): Promise<void> {
  const module = await bounceModule(HOPS_PER_AGENT, true);
  await withPool(dataDir, 'lat1.db', 1, async (pool, db) => {
    const m = await pool.admit(module);
    let idle = 0;
    // 50,000: DESIGN.md's idle agents per node, when the process allows it (src/sandbox/capacity.ts).
    const big = processCeiling().agents >= 50_000;
    const totals = big ? [2, 100, 10_000, 50_000] : [2, 100, 10_000];
    if (!big) process.stderr.write(` [50000 agents: skipped, ${ceilingNote()}]`);
    for (const [i, total] of totals.entries()) {
      await spawnIdle(pool, 'idle', idle, total - 2);
      idle = total - 2;
      const a = pairName('lat', i, 'a');
      const b = pairName('lat', i, 'b');
      await pool.spawn({ name: a, module: m.hash });
      await pool.spawn({ name: b, module: m.hash });
      if (pool.list().length !== total) throw new Error(`expected ${total} agents, have ${pool.list().length}`);
      process.stderr.write(` [${total} agents]`);
      const r = await bounce(pool, db, a, b, HOPS_PER_AGENT, 15_000);
      latencyRows(rows, `same worker, ${total} agents in pool`, r, 5, 50, 'send → receiver entry, excl. receiver handling');
      await pool.remove(a);
      await pool.remove(b);
    }
  });
}

async function crossWorkerLatency(rows: Row[], dataDir: string): Promise<void> {
  const module = await bounceModule(HOPS_PER_AGENT, true);
  await withPool(dataDir, 'lat2.db', 2, async (pool, db) => {
    const m = await pool.admit(module);
    const a = pairName('x', 0, 'a');
    const b = pairName('x', 0, 'b');
    await pool.spawn({ name: a, module: m.hash });
    await pool.spawn({ name: b, module: m.hash });
    if (pool.agent(a)?.worker === pool.agent(b)?.worker) throw new Error('the pair landed on one worker');
    const before = pool.forwardedMessages;
    const r = await bounce(pool, db, a, b, HOPS_PER_AGENT, 30_000);
    // Since worker-to-worker channels, a hop between workers does not touch the main thread.
    const viaMain = pool.forwardedMessages - before;
    latencyRows(rows, 'across workers', r, 30, 200, `worker → worker (MessagePort); ${viaMain} of ${2 * HOPS_PER_AGENT} hops via main`);
  });
}

/** Sums messagesIn of the bench agents. */
async function handled(pool: AgentPool, prefix: string): Promise<number> {
  let n = 0;
  for (const s of await pool.stats()) if (s.name.startsWith(prefix)) n += s.messagesIn;
  return n;
}

async function throughput(rows: Row[], dataDir: string, workers: number, pairs: number, split: boolean, label: string, budget: boolean): Promise<void> {
  // Bounded in count: each agent stops after this many receipts (far more than the window needs).
  const perAgent = 200_000;
  const module = await bounceModule(perAgent, false);
  await withPool(dataDir, `tp-${workers}-${split}.db`, workers, async (pool) => {
    const m = await pool.admit(module);
    const prefix = 'tp';
    const names: [string, string][] = [];
    // Placement is least-loaded with ties to the lowest index, so spawning a..., then b... alternates
    // workers; spawning [a_i, a_i+1, b_i, b_i+1] puts each pair on one worker.
    if (split || workers === 1) {
      for (let i = 0; i < pairs; i++) names.push([pairName(prefix, i, 'a'), pairName(prefix, i, 'b')]);
      for (const [a, b] of names) {
        await pool.spawn({ name: a, module: m.hash });
        await pool.spawn({ name: b, module: m.hash });
      }
    } else {
      for (let i = 0; i < pairs; i += workers) {
        const group: [string, string][] = [];
        for (let w = 0; w < workers && i + w < pairs; w++) group.push([pairName(prefix, i + w, 'a'), pairName(prefix, i + w, 'b')]);
        for (const [a] of group) await pool.spawn({ name: a, module: m.hash });
        for (const [, b] of group) await pool.spawn({ name: b, module: m.hash });
        names.push(...group);
      }
    }
    for (const [a, b] of names) {
      const same = pool.agent(a)?.worker === pool.agent(b)?.worker;
      if (same === split && workers > 1) throw new Error(`placement of ${a}/${b} is not as intended`);
    }
    for (const [a] of names) pool.deliver(a, kick(a));
    const WARMUP_MS = 500;
    const WINDOW_MS = 3000;
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const n0 = await handled(pool, prefix);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const fw0 = pool.forwardedMessages;
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const n1 = await handled(pool, prefix);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSecs = (cpu.user + cpu.system) / 1e6;
    const fw = pool.forwardedMessages - fw0;
    const rate = (n1 - n0) / secs;
    if (n1 >= 2 * pairs * perAgent * 0.95) throw new Error('throughput agents ran out of messages within the window');
    const stats = await pool.stats();
    const errors = stats.reduce((s, x) => s + x.errors, 0);
    if (errors > 0) throw new Error(`${errors} handler errors (send refused?) during the throughput run`);
    rows.push({
      name: `messages/s, ${label}`,
      value: rate,
      unit: 'msg/s',
      ...(budget ? { budget: '≥ 300,000', ok: rate >= 300_000 } : {}),
      note: `${pairs} pairs, 1 in flight each, ${(n1 - n0).toLocaleString('en')} msgs in ${secs.toFixed(2)} s, ${((n1 - n0) / cpuSecs / 1000).toFixed(0)} k per CPU-second (process, all threads: ${(cpuSecs / secs).toFixed(2)} cores busy); ${(fw / secs).toFixed(0)}/s via main thread; 1 msg = one delivery + handling`,
    });
  });
}

/**
 * Every round runs at the default sandbox policy, so each call into an agent has the default fuel
 * budget (DEFAULT_POLICY.fuelPerCall); a round that needed more would end in an agent fault, not in
 * the manager's inform. The largest calls of a 100-bidder round are the request (100 cfps out) and
 * the last propose (100 accept/reject out); `npm run bench -- sdk` gives their fuel.
 */
async function contractNet(rows: Row[], dataDir: string, bidders: number, rounds: number, workers: number): Promise<void> {
  await withPool(dataDir, `cn-${bidders}-${workers}.db`, workers, async (pool) => {
    const mgr = await pool.admit(agent('cn-manager'));
    const bid = await pool.admit(agent('cn-bidder'));
    await pool.spawn({ name: 'manager', module: mgr.hash });
    const names: string[] = [];
    for (let i = 0; i < bidders; i++) names.push(`bidder-${i}`);
    await Promise.all(names.map((name) => pool.spawn({ name, module: bid.hash })));
    let waiting: { rw: string; resolve: (json: string) => void } | undefined;
    pool.addEndpoint({
      accepts: (to) => to === 'bench-client',
      deliver: (_from, _to, json) => {
        const w = waiting;
        if (w !== undefined && json.includes(`"in_reply_to":${JSON.stringify(w.rw)}`)) {
          waiting = undefined;
          w.resolve(json);
        }
      },
    });
    const once = (i: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const rw = `r-${i}`;
        const timer = setTimeout(() => reject(new Error(`contract-net round ${i} timed out`)), 5000);
        waiting = { rw, resolve: (j) => (clearTimeout(timer), resolve(j)) };
        const msg = JSON.stringify({ performative: 'request', sender: 'bench-client', receiver: 'manager', conversation_id: `req-${i}`, reply_with: rw, protocol: 'fipa-contract-net', content: { task: `task-${i}`, bidders: names, deadline_ms: 10_000 } });
        if (!pool.deliver('manager', msg)) reject(new Error('manager takes no messages'));
      });
    const warm = Math.max(5, Math.floor(rounds / 10));
    const deadline = performance.now() + 10_000;
    const xs: number[] = [];
    for (let i = 0; i < warm + rounds && performance.now() < deadline; i++) {
      const t0 = performance.now();
      const reply = JSON.parse(await once(i)) as { performative: string; content: { winner?: string; result?: unknown } };
      const dt = performance.now() - t0;
      if (reply.performative !== 'inform' || reply.content.winner === undefined) throw new Error(`round ${i}: ${JSON.stringify(reply)}`);
      if (i >= warm) xs.push(dt);
    }
    const t = sortedCopy(xs);
    const stats = await pool.stats();
    const done = warm + xs.length;
    const fuelOf = (pred: (n: string) => boolean) => stats.filter((s) => pred(s.name)).reduce((a, s) => a + s.fuelUsed, 0) / done;
    const mgrFuel = fuelOf((n) => n === 'manager');
    const bidFuel = fuelOf((n) => n.startsWith('bidder-'));
    const where = workers === 1 ? 'one worker' : `${workers} workers, spread`;
    const fuelNote = `default fuel (${DEFAULT_POLICY.fuelPerCall / 1e6} M per call)`;
    rows.push({ name: `contract-net round, ${bidders} bidders, ${where}, P50`, value: percentile(t, 50) * 1000, unit: 'µs', note: `${t.length} rounds; request in → inform out, on the main thread; no budget; ${fuelNote}` });
    rows.push({
      name: `contract-net round, ${bidders} bidders, ${where}, P99`,
      value: percentile(t, 99) * 1000,
      unit: 'µs',
      note: `${3 * bidders + 3} agent msgs/round, ≈ ${((percentile(t, 50) * 1000) / (3 * bidders + 3)).toFixed(1)} µs each at P50; fuel/round: manager ${(mgrFuel / 1e6).toFixed(2)} M, bidders ${(bidFuel / 1e6).toFixed(2)} M`,
    });
  });
}

export async function messagingBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'caxton-bench-msg-'));
  // CAXTON_BENCH_STEPS=across,contract runs only the steps whose names contain one of the words (for profiling).
  const only = process.env['CAXTON_BENCH_STEPS']?.split(',').filter((w) => w !== '');
  const step = async (name: string, fn: () => Promise<void>) => {
    if (only !== undefined && only.length > 0 && !only.some((w) => name.includes(w))) return;
    const t0 = performance.now();
    process.stderr.write(`  ${name}...`);
    await fn();
    process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  };
  try {
    await step('latency, same worker', () => sameWorkerLatency(rows, dataDir));
    await step('latency, across workers', () => crossWorkerLatency(rows, dataDir));
    await step('throughput, pairs inside each of 2 workers', () => throughput(rows, dataDir, 2, 200, false, '2 workers, pairs within a worker', true));
    await step('throughput, 1 worker', () => throughput(rows, dataDir, 1, 100, false, '1 worker (one core)', false));
    await step('throughput, pairs across 2 workers', () => throughput(rows, dataDir, 2, 200, true, '2 workers, every pair across workers', false));
    await step('contract net, 10 bidders', () => contractNet(rows, dataDir, 10, 500, 1));
    await step('contract net, 100 bidders', () => contractNet(rows, dataDir, 100, 200, 1));
    await step('contract net, 100 bidders, 2 workers', () => contractNet(rows, dataDir, 100, 200, 2));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}
