/**
 * Cross-node routing on real processes (opt-in: `npm run bench -- cluster-routing`, about 90 s):
 * issue 11's benchmark table, each figure beside its peer in the same run. Three real `caxton server
 * start` processes (test/helpers/server-cluster.ts: from source under tsx, `--workers 1`, the `fast`
 * timing profile, the API's per-key rate limit off) on 127.0.0.121-123 (cluster A) and, for the failover, a fresh three on
 * 127.0.0.126-128 (cluster B). Every wait is bounded; every server is killed (SIGKILL) on exit, error,
 * SIGINT/SIGTERM or the watchdog.
 *
 * Cluster A, in this order:
 *
 * 1. Agent→agent request→reply across nodes: the "bounce" agent of bench/messaging.bench.ts (WAT,
 *    assembled here), `lat0000a` pinned to node-1 and `lat0000b` to node-2 (`target_node`), bouncing
 *    one message for WARM_HOPS + HOPS round trips; the last HOPS are measured (the path runs as
    optimized code then, as on a node that has carried traffic; the first HOPS are reported as the
    "cold" figure). Each receiver reads `caxton.time_now_us` on entry to handle_message and stores
 *    (sender's clock before send, own clock on entry) per receipt; after N receipts it writes them with
 *    one `kv_set`, and the bench reads both blobs from the nodes' SQLite files (read-only). One hop =
 *    sender's `send` → receiver entry on the other node: worker → main thread → router → link (TCP,
 *    batched frame) → the other node's router → worker → the agent. The two processes' clocks are the
 *    same system clock (timeOrigin + now); the clock-independent cross-check (round trip on one clock
 *    minus the peer's time from entry to send, halved) is in the note. request→reply = two hops, so
 *    the round trip on the initiator's clock (A sent → A received the answer) is the request→reply
 *    figure compared with the budget (≤ 150 / ≤ 500 µs) and with NATS request/reply.
 *    For information: POST /messages?wait_reply=true from node-1's API to an echo agent on node-2
 *    (HTTP in the figure), and to one on node-1 (the same without the link).
 * 2. The NATS peer (bench/peers/nats.ts): nats-server on 127.0.0.1, nats.js requester here, responder
 *    in a child process, while cluster A sits idle. Before cluster A starts, the floor of `npm run
 *    bench -- hop-floor` (one frame back and forth between two bare processes): thread wake-ups vary from
 *    run to run (main to main 13-82 µs at P50, worker-main-TCP-main-worker 43-243 µs, the same code),
 *    and the latency rows are read against the floor of their own run.
 * 3. Throughput, every pair remote: PAIRS bounce pairs (untimed variant), pair i split over
 *    node (i mod 3) and node (i+1 mod 3), 4 and then 64 messages in flight per pair (kicked through
 *    the API; the budget row is the saturating one: throughput is a capacity, and the links only fill
 *    their batches with many messages in flight); rate = Δ(Σ messages_in
 *    of the pair agents, from GET /stats/agents, the cluster view) / Δt over a fixed window after a
 *    warm-up. The agents stop by themselves after a bounded count, and are removed afterwards.
 * 4. Key revocation reaching every node: a viewer key made on node-1, once it works on every node it
 *    is revoked on node-1 (DELETE /keys/:id) and every node is polled (GET /status with the key) until
 *    it answers 401; value = time from the DELETE's start until the last node refuses. REVOKE_TRIALS.
 * 5. Rebalance pause per agent: REBALANCE_AGENTS counters pinned to node-1, then POST
 *    /cluster/rebalance even-distribution (what `caxton cluster rebalance` calls); the pause of each
 *    live move is the node's own measure (`pause_ms`: redirect until the agent takes messages on the
 *    target). The in-process `agent-moves` group measures the protocol alone.
 * 6. Directory convergence after DIR_DEPLOYS deploys: echo agents deployed through node-1, pinned
 *    round robin to node-1/2/3 (`target_node`, so most are exceptions the partitioned directory must
 *    record, not names routable by rendezvous alone), DIR_CONCURRENCY deploys at a time. As soon as a
 *    deploy is acknowledged, every node is asked to route a request to the name (POST /messages,
 *    wait_reply, retried until an `inform` reply comes back); value = time from the first deploy until
 *    the last (node, name) pair answered. Includes the deploys themselves and the check's own HTTP
 *    round trip; the note counts why checks had to be repeated.
 *
 * Cluster B: failover of FAILOVER_AGENTS counters (rendezvous placement, replication `sync`), each
 * answering from node-1 first; node-3 is killed with SIGKILL, and every agent it ran is asked
 * (`get`, from node-1, retried with a 300 ms reply timeout) until it answers; value = kill → the last
 * one answering (failure detection on the `fast` profile included).
 *
 * Knobs: CAXTON_BENCH_ROUTING_STEPS=latency,nats,floor,throughput,revocation,rebalance,directory,double,failover
 * (run a subset); CAXTON_BENCH_ROUTING_DUMP=<file> writes the measured round trips of the latency step
 * with the time each one ended (JSON, µs), to look for periodic stalls; CAXTON_BENCH_ROUTING_MTLS=1
 * runs the clusters with mTLS between nodes (a test CA; the link and the direct path over TLS 1.3).
 */
import Database from 'better-sqlite3';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createCa, issueNodeCert, writePemFile } from '../src/security/pki.js';
import { tempDir } from '../test/helpers/tmp.js';
import { api, type RunningServer } from '../test/helpers/server.js';
import { startServerCluster, type ServerCluster } from '../test/helpers/server-cluster.js';
import { until } from '../test/helpers/until.js';
import { agentWasm } from '../test/helpers/agents.js';
import { bounceModule, pairName, KV_KEY, PAD, T_ZERO } from './messaging.bench.js';
import { natsPeerBenchmarks } from './peers/nats.js';
import { hopFloorBenchmarks } from './hop-floor.bench.js';
import { percentile, sortedCopy, type Row } from './report.js';

const HOPS = 5_000;
/** Round trips of the latency step's bounce before the measured HOPS (16 bytes of samples each, 1 MiB at most). */
const WARM_HOPS = 30_000;
const PAIRS = 30;
/** Messages in flight per throughput pair: light, and enough to fill the links' batches (the budget row). */
const IN_FLIGHT = [4, 64] as const;
const TP_WARMUP_MS = 1_000;
const TP_WINDOW_MS = 3_000;
const REVOKE_TRIALS = 5;
const REBALANCE_AGENTS = 30;
const DIR_DEPLOYS = 1_000;
const DIR_CONCURRENCY = 8;
const FAILOVER_AGENTS = 100;
/** Counters of the double-run step (about a third of them on the node that is frozen). */
const DOUBLE_RUN_AGENTS = 30;
/** Past this the whole group is abandoned and every server killed. */
const WATCHDOG_MS = 8 * 60_000;

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stderr.write(s);

// ---------------------------------------------------------------------------------------------------
// every server started here is killed on every way out

const clusters = new Set<ServerCluster>();

/** On the way out (exit, signal, watchdog): SIGKILL, then the data dirs go (a killed node's files can). */
function killAll(): void {
  for (const c of clusters) {
    killCluster(c);
    for (const s of c.nodes) s?.cleanup();
  }
}

function killCluster(c: ServerCluster): void {
  for (const s of c.nodes) {
    try {
      if (s !== undefined) process.kill(s.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  const onSignal = (sig: NodeJS.Signals) => {
    say(`\ncluster-routing bench: ${sig}, killing the servers\n`);
    killAll();
    process.exit(130);
  };
  const watchdog = setTimeout(() => {
    say(`\ncluster-routing bench: still running after ${WATCHDOG_MS / 60_000} min, giving up\n`);
    killAll();
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  process.on('exit', killAll);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    clearTimeout(watchdog);
    process.off('exit', killAll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const MTLS = process.env['CAXTON_BENCH_ROUTING_MTLS'] === '1';

/** CAXTON_BENCH_ROUTING_MTLS=1: a test CA and a certificate per node; the --set arguments of node i. */
async function mtlsArgs(size: number): Promise<((i: number) => string[]) | undefined> {
  if (!MTLS) return undefined;
  const dir = tempDir('caxton-bench-mtls-');
  process.once('exit', () => dir.cleanup());
  const ca = await createCa();
  const caCrt = join(dir.path, 'ca.crt');
  writePemFile(caCrt, ca.certPem);
  const files: [string, string][] = [];
  for (let i = 0; i < size; i++) {
    const c = await issueNodeCert(ca, { nodeId: `node-${i + 1}` });
    const [crt, key] = [join(dir.path, `node-${i + 1}.crt`), join(dir.path, `node-${i + 1}.key`)];
    writePemFile(crt, c.certPem);
    writePemFile(key, c.keyPem, { secret: true });
    files.push([crt, key]);
  }
  return (i) => ['--set', 'security.cluster.mtls.enabled=true', '--set', `security.cluster.mtls.ca_cert=${caCrt}`, '--set', `security.cluster.mtls.node_cert=${files[i]![0]}`, '--set', `security.cluster.mtls.node_key=${files[i]![1]}`];
}

async function cluster(base: number): Promise<ServerCluster> {
  // The API's per-key rate limit (100/s by default) would pace the bench's own requests.
  const nodeArgs = await mtlsArgs(3);
  const c = await startServerCluster({ size: 3, base, args: ['--set', 'security.api.rate_limit.enabled=false'], ...(nodeArgs === undefined ? {} : { nodeArgs }) });
  clusters.add(c);
  const [n1] = c.nodes as [RunningServer];
  for (const n of c.nodes) await until(`node-1's admin key works on ${n?.apiUrl}`, async () => (await api(n as RunningServer, 'GET', '/status', undefined, n1.adminKey)).status === 200, 30_000);
  return c;
}

/** SIGTERM (bounded: SIGKILL after 20 s), then the data dirs go. */
async function stopCluster(c: ServerCluster): Promise<void> {
  const late = setTimeout(() => killCluster(c), 20_000);
  await c.stop();
  clearTimeout(late);
  clusters.delete(c);
}

const node = (c: ServerCluster, i: number) => c.nodes[i] as RunningServer;

async function deploy(c: ServerCluster, name: string, module: Uint8Array, target?: string): Promise<string> {
  const n1 = node(c, 0);
  const r = await api(n1, 'POST', '/agents', { name, module: b64(module), ...(target === undefined ? {} : { target_node: target }) });
  if (r.status !== 201) throw new Error(`deploy of ${name}${target === undefined ? '' : ` on ${target}`}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.node as string;
}

/** Where the agents whose names start with `prefix` run now (the cluster view). */
async function whereNow(c: ServerCluster, prefix: string): Promise<Map<string, string>> {
  const r = await api(node(c, 0), 'GET', '/agents');
  return new Map((r.body.agents as { name: string; node: string }[]).filter((a) => a.name.startsWith(prefix)).map((a) => [a.name, a.node]));
}

/** Removes agents on the nodes that run them (DELETE /agents/:name acts on the node's own agents). */
async function remove(c: ServerCluster, at: ReadonlyMap<string, string>): Promise<void> {
  await pool([...at], 8, async ([n, where]) => {
    const r = await api(node(c, Number(where.replace('node-', '')) - 1), 'DELETE', `/agents/${n}`);
    if (r.status >= 300) throw new Error(`removing ${n}: ${r.status} ${JSON.stringify(r.body)}`);
  });
}

/** Runs fn over items, `width` at a time. */
async function pool<T>(items: readonly T[], width: number, fn: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i] as T, i);
      }
    }),
  );
}

/** The kick a bounce agent needs: content last, t = 0 (not a sample). */
const kick = (to: string) => ({ performative: 'inform', receiver: to, content: { pad: PAD, t: T_ZERO } });

async function request(from: RunningServer, to: string, content: unknown, timeoutMs: number): Promise<{ performative: string; content: unknown } | undefined> {
  const r = await api(from, 'POST', `/messages?wait_reply=true&timeout_ms=${timeoutMs}`, { performative: 'request', receiver: to, content }).catch(() => undefined);
  return r?.status === 200 ? (r.body.reply as { performative: string; content: unknown }) : undefined;
}

// ---------------------------------------------------------------------------------------------------
// 1. latency

/** The samples one bounce agent stored: sent[k] (peer's clock), recv[k] (own clock), µs. */
interface Samples {
  readonly sent: number[];
  readonly recv: number[];
}

function samples(s: RunningServer, agent: string, n: number): Samples | undefined {
  const db = new Database(join(s.dataDir, 'caxton.db'), { readonly: true, fileMustExist: true });
  try {
    const v = db.prepare('SELECT value FROM agent_kv WHERE agent = ? AND key = ?').pluck().get(agent, Buffer.from(KV_KEY)) as Buffer | undefined;
    if (v === undefined || v.length !== n * 16) return undefined;
    const sent: number[] = [];
    const recv: number[] = [];
    for (let i = 0; i < n; i++) {
      sent.push(Number(v.readBigInt64LE(i * 16)));
      recv.push(Number(v.readBigInt64LE(i * 16 + 8)));
    }
    return { sent, recv };
  } finally {
    db.close();
  }
}

/**
 * CPU time a server process has used so far, µs: its main thread, and all its other threads (the
 * agent worker, V8's GC and compiler helpers, libuv's pool), from /proc/<pid>/task/<tid>/schedstat
 * (Linux; undefined elsewhere). Unlike the latency itself, this hardly depends on what else the
 * machine runs: it says how much work the path costs, not how long it waited for a core.
 */
interface ThreadCpu {
  readonly main: number;
  readonly other: number;
}

function threadCpu(pid: number): ThreadCpu | undefined {
  try {
    let main = 0;
    let other = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (Number(tid) === pid) main += ns / 1000;
      else other += ns / 1000;
    }
    return { main, other };
  } catch {
    return undefined;
  }
}

/** Messages a node's workers wrote on the direct path (caxton_cluster_direct_messages_total, out). */
async function directOut(s: RunningServer): Promise<number> {
  const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
  return Number(/^caxton_cluster_direct_messages_total\{direction="out"\} (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** The system clock in µs, as agents read it (caxton.time_now_us: timeOrigin + now). */
const nowUs = (): number => (performance.timeOrigin + performance.now()) * 1000;

async function latency(c: ServerCluster, rows: Row[]): Promise<void> {
  // One long bounce; only its last HOPS round trips are measured. A server that has carried traffic
  // for a few seconds runs the path as optimized code (V8 tiers a function up to TurboFan after
  // thousands of calls), and the NATS peer is warmed up too; the first few thousand round trips of a
  // fresh node run in the baseline tier (the "cold" row).
  const n = WARM_HOPS + HOPS;
  const m = await bounceModule(n, true, null);
  const a = pairName('lat', 0, 'a');
  const b = pairName('lat', 0, 'b');
  await deploy(c, a, m, 'node-1');
  await deploy(c, b, m, 'node-2');
  // b is on node-2: the kick from node-1's API reaches a on node-1, which starts the bounce.
  await until(`${b} is listed on node-2`, async () => (await api(node(c, 1), 'GET', `/agents/${b}`)).status === 200, 15_000);
  // Both nodes' thread CPU every 500 ms (a few /proc reads), to charge warm round trips with
  // the CPU of their window. The samples are looked for once a second only: opening the nodes'
  // SQLite files takes the driver ~2 ms of a core, which every 50 ms showed as a train of 2 ms round
  // trips at P99.
  const cpuAt: { t: number; cpu: readonly [ThreadCpu, ThreadCpu] }[] = [];
  const snap = () => {
    const t = nowUs();
    const x = threadCpu(node(c, 0).pid);
    const y = threadCpu(node(c, 1).pid);
    if (x !== undefined && y !== undefined) cpuAt.push({ t, cpu: [x, y] });
  };
  snap();
  const snaps = setInterval(snap, 500);
  const directBefore = (await directOut(node(c, 0))) + (await directOut(node(c, 1)));
  let A: Samples;
  let B: Samples;
  try {
    const k = await api(node(c, 0), 'POST', '/messages', kick(a));
    if (k.status !== 202) throw new Error(`kick: ${k.status} ${JSON.stringify(k.body)}`);
    [A, B] = await until(
      'both bounce agents stored their samples',
      () => {
        const x = samples(node(c, 0), a, n);
        const y = samples(node(c, 1), b, n);
        return x !== undefined && y !== undefined ? ([x, y] as const) : undefined;
      },
      120_000,
      1000,
    );
  } finally {
    clearInterval(snaps);
  }
  snap();
  // Which path carried the bounce: the direct path (worker to worker) once its routes opened.
  const direct = (await directOut(node(c, 0))) + (await directOut(node(c, 1))) - directBefore;
  if (direct < 1.8 * n) {
    say(`  the direct path carried ${direct} of ${2 * n} messages (node-1 wrote ${await directOut(node(c, 0))}, node-2 ${await directOut(node(c, 1))}); the nodes' log lines about it:\n`);
    for (const i of [0, 1]) for (const line of node(c, i).logs().split('\n')) if (line.includes('direct')) say(`  node-${i + 1}: ${line}\n`);
  }
  await remove(c, new Map([[a, 'node-1'], [b, 'node-2']]));
  const cold: number[] = [];
  for (let i = Math.floor(HOPS / 10); i < HOPS; i++) cold.push((A.recv[i] as number) - (B.sent[i] as number));
  // B's k-th receipt is A's send after its (k−1)-th receipt; A's k-th receipt is B's answer to it.
  const hops: number[] = [];
  const rtt: number[] = [];
  const cross: number[] = [];
  for (let i = WARM_HOPS; i < n; i++) {
    hops.push((B.recv[i] as number) - (B.sent[i] as number), (A.recv[i] as number) - (A.sent[i] as number));
    const r = (A.recv[i] as number) - (B.sent[i] as number); // A sent → A got the answer, A's clock
    rtt.push(r);
    cross.push((r - ((A.sent[i] as number) - (B.recv[i] as number))) / 2);
  }
  const dump = process.env['CAXTON_BENCH_ROUTING_DUMP'];
  if (dump !== undefined && dump !== '') writeFileSync(dump, JSON.stringify({ answeredAtUs: A.recv.slice(WARM_HOPS), roundTripUs: rtt }));
  const sr = sortedCopy(rtt);
  const sh = sortedCopy(hops);
  const sc = sortedCopy(cross);
  const p50 = percentile(sr, 50);
  const p99 = percentile(sr, 99);
  rows.push({ name: 'agent→agent request→reply across nodes, P50', value: p50, unit: 'µs', budget: '≤ 150 µs', ok: p50 <= 150, note: `the last ${sr.length} of ${n} round trips node-1 ⇄ node-2 (bounce agents), send → the answer's entry, on the initiator's clock; ${direct} of the ${2 * n} messages on the direct path${MTLS ? '; mTLS on (TLS 1.3 on the link and the direct path)' : ''}` });
  rows.push({ name: 'agent→agent request→reply across nodes, P99', value: p99, unit: 'µs', budget: '≤ 500 µs', ok: p99 <= 500, note: `P999 ${percentile(sr, 99.9).toFixed(0)} µs, max ${sr[sr.length - 1]} µs` });
  rows.push({
    name: 'agent→agent one hop across nodes, P50',
    value: percentile(sh, 50),
    unit: 'µs',
    note: `P99 ${percentile(sh, 99).toFixed(0)} µs (both directions, two processes' clocks); cross-check (RTT − peer's entry→send)/2 P50 ${percentile(sc, 50).toFixed(1)} / P99 ${percentile(sc, 99).toFixed(1)} µs`,
  });
  // CPU of the measured round trips: from the last poll before the first of them started to the
  // first poll after the bounce ended, divided by the round trips that ended in that window.
  const from = cpuAt.filter((x) => x.t <= (B.sent[WARM_HOPS] as number)).pop();
  const to = cpuAt.find((x) => x.t >= (A.recv[n - 1] as number));
  if (from !== undefined && to !== undefined) {
    const trips = A.recv.filter((t) => t >= from.t && t <= to.t).length;
    const per = (i: 0 | 1, k: keyof ThreadCpu) => (to.cpu[i][k] - from.cpu[i][k]) / trips;
    const total = per(0, 'main') + per(0, 'other') + per(1, 'main') + per(1, 'other');
    rows.push({
      name: 'agent→agent request→reply across nodes, CPU per round trip',
      value: total,
      unit: 'µs',
      note: `node-1 main thread ${per(0, 'main').toFixed(1)}, its other threads (agent worker, GC, ...) ${per(0, 'other').toFixed(1)}; node-2 ${per(1, 'main').toFixed(1)} / ${per(1, 'other').toFixed(1)} µs (schedstat, ${trips} round trips between two polls)`,
    });
  }
  const sCold = sortedCopy(cold);
  rows.push({
    name: 'agent→agent request→reply across nodes, cold, P50',
    value: percentile(sCold, 50),
    unit: 'µs',
    note: `the first ${HOPS} round trips on fresh nodes (10% skipped), for information; P99 ${percentile(sCold, 99).toFixed(0)} µs`,
  });

  // For information: the same through the API, HTTP included.
  await deploy(c, 'api-echo2', agentWasm('echo'), 'node-2');
  await deploy(c, 'api-echo1', agentWasm('echo'), 'node-1');
  for (const [to, where] of [
    ['api-echo2', 'node-1 API → agent on node-2 (across nodes)'],
    ['api-echo1', 'node-1 API → agent on node-1 (same node)'],
  ] as const) {
    await until(`${to} answers`, async () => (await request(node(c, 0), to, 1, 2000))?.performative === 'inform');
    for (let i = 0; i < 100; i++) await request(node(c, 0), to, i, 2000);
    const xs: number[] = [];
    const end = performance.now() + 15_000;
    for (let i = 0; i < 1000 && performance.now() < end; i++) {
      const t0 = performance.now();
      const r = await request(node(c, 0), to, i, 2000);
      if (r?.performative !== 'inform') throw new Error(`${to} did not answer request ${i}`);
      xs.push((performance.now() - t0) * 1000);
    }
    const s = sortedCopy(xs);
    rows.push({ name: `API request→reply, ${to === 'api-echo2' ? 'across nodes' : 'same node'}, P50`, value: percentile(s, 50), unit: 'µs', note: `${s.length} sequential POST /messages?wait_reply, ${where}; HTTP included, for information` });
    rows.push({ name: `API request→reply, ${to === 'api-echo2' ? 'across nodes' : 'same node'}, P99`, value: percentile(s, 99), unit: 'µs' });
  }
  await remove(c, new Map([['api-echo1', 'node-1'], ['api-echo2', 'node-2']]));
}

// ---------------------------------------------------------------------------------------------------
// 3. throughput

async function throughput(c: ServerCluster, rows: Row[], inFlight: number, budget: boolean): Promise<void> {
  const perAgent = 100_000;
  const m = await bounceModule(perAgent, false, null);
  const nodes = ['node-1', 'node-2', 'node-3'];
  const placed: [string, string][] = [];
  for (let i = 0; i < PAIRS; i++) {
    placed.push([pairName('tp', i, 'a'), nodes[i % 3] as string], [pairName('tp', i, 'b'), nodes[(i + 1) % 3] as string]);
  }
  await pool(placed, 4, async ([n, at]) => {
    if ((await deploy(c, n, m, at)) !== at) throw new Error(`${n} is not on ${at}`);
  });
  const handled = async () => {
    const r = await api(node(c, 0), 'GET', '/stats/agents');
    if (r.status !== 200) throw new Error(`stats: ${r.status}`);
    const agents = r.body.agents as { name: string; messages_in: number; errors?: number }[];
    return { n: agents.filter((x) => x.name.startsWith('tp')).reduce((s, x) => s + x.messages_in, 0), errors: agents.filter((x) => x.name.startsWith('tp')).reduce((s, x) => s + (x.errors ?? 0), 0) };
  };
  for (let i = 0; i < PAIRS; i++) for (let k = 0; k < inFlight; k++) await api(node(c, i % 3), 'POST', '/messages', kick(pairName('tp', i, 'a')));
  await sleep(TP_WARMUP_MS);
  const s0 = await handled();
  const t0 = performance.now();
  await sleep(TP_WINDOW_MS);
  const s1 = await handled();
  const secs = (performance.now() - t0) / 1000;
  const rate = (s1.n - s0.n) / secs;
  if (s1.n >= 2 * PAIRS * perAgent * 0.95) throw new Error('the throughput agents ran out of messages within the window');
  rows.push({
    name: `messages/s across 3 nodes, every pair remote, ${inFlight} in flight per pair`,
    value: rate,
    unit: 'msg/s',
    ...(budget ? { budget: '≥ 100k msg/s', ok: rate >= 100_000 } : {}),
    note: `${PAIRS} pairs × ${inFlight} in flight, ${(s1.n - s0.n).toLocaleString('en')} agent deliveries in ${secs.toFixed(2)} s (Σ messages_in, cluster view); ${s1.errors} handler errors`,
  });
  await remove(c, new Map(placed));
}

// ---------------------------------------------------------------------------------------------------
// 4. key revocation

async function revocation(c: ServerCluster, rows: Row[]): Promise<void> {
  const times: number[] = [];
  const spread: number[] = [];
  for (let t = 0; t < REVOKE_TRIALS; t++) {
    const made = await api(node(c, 0), 'POST', '/keys', { name: `bench-rev-${t}`, role: 'viewer' });
    if (made.status !== 201) throw new Error(`key: ${made.status} ${JSON.stringify(made.body)}`);
    const key = made.body.key as string;
    const m0 = performance.now();
    await Promise.all(c.nodes.map((n) => until('the new key works on every node', async () => (await api(n as RunningServer, 'GET', '/status', undefined, key)).status === 200, 15_000, 5)));
    spread.push(performance.now() - m0);
    const t0 = performance.now();
    const del = api(node(c, 0), 'DELETE', `/keys/${made.body.id}`);
    const refused = await Promise.all(
      c.nodes.map(async (n) => {
        await until('the revoked key is refused on every node', async () => (await api(n as RunningServer, 'GET', '/status', undefined, key)).status === 401, 15_000, 2);
        return performance.now() - t0;
      }),
    );
    if ((await del).status >= 300) throw new Error('revoke failed');
    times.push(Math.max(...refused));
  }
  const s = sortedCopy(times);
  rows.push({ name: 'key revocation reaching every node, P50', value: percentile(s, 50), unit: 'ms', note: `${REVOKE_TRIALS} keys revoked on node-1, each node polled (GET /status, 2 ms apart) until 401; measured, no budget` });
  rows.push({ name: 'key revocation reaching every node, max', value: s[s.length - 1] as number, unit: 'ms', note: `a new key working on every node: P50 ${percentile(sortedCopy(spread), 50).toFixed(1)} ms` });
}

// ---------------------------------------------------------------------------------------------------
// 5. rebalance

async function rebalance(c: ServerCluster, rows: Row[]): Promise<void> {
  const names = Array.from({ length: REBALANCE_AGENTS }, (_, i) => `rb-${i}`);
  await pool(names, 4, async (n) => void (await deploy(c, n, agentWasm('counter'), 'node-1')));
  await pool(names, 4, async (n) => void (await until(`${n} answers`, async () => (await request(node(c, 1), n, { op: 'get' }, 2000))?.performative === 'inform')));
  const r = await api(node(c, 0), 'POST', '/cluster/rebalance', { strategy: 'even-distribution', max_moves: REBALANCE_AGENTS });
  if (r.status !== 200) throw new Error(`rebalance: ${r.status} ${JSON.stringify(r.body)}`);
  const moves = r.body.moves as { ok: boolean; pause_ms: number | null }[];
  const pauses = sortedCopy(moves.filter((m) => m.ok && m.pause_ms !== null).map((m) => m.pause_ms as number));
  rows.push({ name: 'rebalance pause per agent, P50', value: percentile(pauses, 50), unit: 'ms', note: `POST /cluster/rebalance even-distribution: ${pauses.length} of ${moves.length} moves ok (${REBALANCE_AGENTS} idle counters from node-1); measured, no budget` });
  rows.push({ name: 'rebalance pause per agent, max', value: pauses[pauses.length - 1] ?? NaN, unit: 'ms' });
  await remove(c, await whereNow(c, 'rb-'));
}

// ---------------------------------------------------------------------------------------------------
// 6. directory convergence

async function directory(c: ServerCluster, rows: Row[]): Promise<void> {
  const echo = agentWasm('echo');
  const nodes = ['node-1', 'node-2', 'node-3'];
  const names = Array.from({ length: DIR_DEPLOYS }, (_, i) => `dir-${String(i).padStart(4, '0')}`);
  const end = performance.now() + 150_000;
  let lastAnswer = 0;
  let lastDeploy = 0;
  let checks = 0;
  const checking: Promise<void>[] = [];
  const at = new Map<string, string>();
  /** Why a check had to be repeated → how often. */
  const retried = new Map<string, number>();
  /** Per name: its deploy acknowledged → it answered from all three nodes. */
  const lags: number[] = [];
  const t0 = performance.now();
  await pool(names, DIR_CONCURRENCY, async (n, i) => {
    await deploy(c, n, echo, nodes[i % 3]);
    at.set(n, nodes[i % 3] as string);
    const acked = performance.now();
    lastDeploy = acked;
    checking.push(
      Promise.all(
        c.nodes.map(async (s) => {
          for (;;) {
            checks++;
            const r = await api(s as RunningServer, 'POST', '/messages?wait_reply=true&timeout_ms=1000', { performative: 'request', receiver: n, content: 1 }).catch((e: unknown) => ({ status: 0, body: { error: { code: (e as Error).message } } }));
            if (r.status === 200 && r.body.reply?.performative === 'inform') break;
            const why = r.status === 200 ? `${r.body.reply?.performative} ${JSON.stringify(r.body.reply?.content).slice(0, 40)}` : `${r.status} ${r.body?.error?.code}`;
            retried.set(why, (retried.get(why) ?? 0) + 1);
            if (performance.now() > end) throw new Error(`${n} not routable from ${s?.apiUrl} within the bound`);
            await sleep(20);
          }
          lastAnswer = Math.max(lastAnswer, performance.now());
        }),
      ).then(() => void lags.push(performance.now() - acked)),
    );
  });
  await Promise.all(checking);
  const lag = sortedCopy(lags);
  rows.push({
    name: `directory convergence after ${DIR_DEPLOYS} deploys`,
    value: (lastAnswer - t0) / 1000,
    unit: 's',
    note: `first deploy → every name answered from every node; deploys (pinned round robin, ${DIR_CONCURRENCY} at a time) took ${((lastDeploy - t0) / 1000).toFixed(1)} s, the last answer came ${(lastAnswer - lastDeploy).toFixed(0)} ms after the last deploy; per name, deploy acknowledged → answered from all 3 nodes P50 ${percentile(lag, 50).toFixed(0)} / max ${lag[lag.length - 1]?.toFixed(0)} ms; ${checks} checks for ${3 * DIR_DEPLOYS} (node, name) pairs, repeated because: ${[...retried].map(([w, k]) => `${w} ×${k}`).join(', ') || 'none'}`,
  });
  await remove(c, at);
}

// ---------------------------------------------------------------------------------------------------
// cluster B: two copies after a view change, then failover

/**
 * How long an agent runs twice after a view change: node-2 is frozen (SIGSTOP) until the others
 * declared it failed and took its counters over from their replicas, then thawed (SIGCONT). Its old
 * copies run again, beside the new ones, until the claims (src/agents/failover.ts) stop the loser.
 * Every node's own agent list is read every 10 ms from the thaw; the value is, over the agents, the
 * longest time after the thaw at which some agent ran (state running) on two nodes at once.
 */
async function doubleRun(c: ServerCluster, rows: Row[]): Promise<void> {
  const counter = agentWasm('counter');
  const names = Array.from({ length: DOUBLE_RUN_AGENTS }, (_, i) => `dr-${i}`);
  const where = new Map<string, string>();
  await pool(names, 4, async (n) => void where.set(n, await deploy(c, n, counter)));
  await pool(names, 8, async (n) => void (await until(`${n} answers`, async () => (await request(node(c, 0), n, { op: 'get' }, 2000))?.performative === 'inform')));
  await sleep(2000); // deployments and state at their replicas
  const victims = names.filter((n) => where.get(n) === 'node-2');
  const s2 = node(c, 1);
  process.kill(s2.pid, 'SIGSTOP');
  try {
    await pool(victims, 8, async (n) => void (await until(`${n} taken over while node-2 is frozen`, async () => (await request(node(c, 0), n, { op: 'get' }, 300))?.performative === 'inform', 60_000, 20)));
  } finally {
    process.kill(s2.pid, 'SIGCONT');
  }
  const t0 = performance.now();
  let lastDouble = 0;
  let quietSince = performance.now();
  const nodes = [node(c, 0), node(c, 1), node(c, 2)];
  while (performance.now() - quietSince < 2000 && performance.now() - t0 < 30_000) {
    const lists = await Promise.all(
      nodes.map(async (n, i) => {
        const r = await api(n, 'GET', `/agents?node=node-${i + 1}`).catch(() => undefined);
        return r?.status === 200 ? ((r.body.agents ?? []) as { name: string; state: string }[]) : [];
      }),
    );
    const running = new Map<string, number>();
    for (const l of lists) for (const a of l) if (a.state === 'running' && victims.includes(a.name)) running.set(a.name, (running.get(a.name) ?? 0) + 1);
    if ([...running.values()].some((k) => k > 1)) {
      lastDouble = performance.now() - t0;
      quietSince = performance.now();
    }
    await sleep(10);
  }
  rows.push({
    name: 'an agent running twice after a view change (frozen node thawed), longest',
    value: lastDouble,
    unit: 'ms',
    note: `${victims.length} counters of node-2 taken over while it was frozen (SIGSTOP), then SIGCONT; every node's agent list read every 10 ms; 0 = never seen twice; gossip round on the fast profile: 100 ms`,
  });
}

async function failover(c: ServerCluster, rows: Row[]): Promise<void> {
  const counter = agentWasm('counter');
  const names = Array.from({ length: FAILOVER_AGENTS }, (_, i) => `fo-${i}`);
  const where = new Map<string, string>();
  await pool(names, 4, async (n) => void where.set(n, await deploy(c, n, counter)));
  await pool(names, 8, async (n) => void (await until(`${n} answers`, async () => (await request(node(c, 0), n, { op: 'get' }, 2000))?.performative === 'inform')));
  // The deployments and the counters' state reach their replicas (snapshots on start).
  await sleep(2000);
  const victims = names.filter((n) => where.get(n) === 'node-3');
  const s3 = node(c, 2);
  const t0 = performance.now();
  await s3.kill('SIGKILL');
  const back: number[] = [];
  await Promise.all(
    victims.map(async (n) => {
      for (;;) {
        if ((await request(node(c, 0), n, { op: 'get' }, 300))?.performative === 'inform') break;
        if (performance.now() - t0 > 60_000) throw new Error(`${n} did not answer within 60 s of the kill`);
        await sleep(10);
      }
      back.push(performance.now() - t0);
    }),
  );
  const s = sortedCopy(back);
  const last = (s[s.length - 1] as number) / 1000;
  rows.push({
    name: `failover of ${FAILOVER_AGENTS} agents after kill -9 (fast profile)`,
    value: last,
    unit: 's',
    budget: '≤ 3 s',
    ok: last <= 3,
    note: `kill of node-3 → the last of its ${victims.length} counters answering from node-1; first ${(s[0]! / 1000).toFixed(2)} s, P50 ${(percentile(s, 50) / 1000).toFixed(2)} s; detection on the fast profile included`,
  });
}

// ---------------------------------------------------------------------------------------------------

export async function clusterRoutingBenchmarks(): Promise<Row[]> {
  const rows: Row[] = [];
  const only = process.env['CAXTON_BENCH_ROUTING_STEPS']?.split(',').filter((w) => w !== '');
  const wanted = (name: string) => only === undefined || only.length === 0 || only.some((w) => name.includes(w));
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!wanted(name)) return;
    const t0 = performance.now();
    say(`  ${name}...`);
    await fn();
    say(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  };
  await guarded(async () => {
    // The machine's own thread wake-ups in this run (no cluster needed): the same code measures up to 5x apart.
    await step('floor (this machine, now)', async () => void rows.push(...(await hopFloorBenchmarks())));
    if (['latency', 'nats', 'throughput', 'revocation', 'rebalance', 'directory'].some(wanted)) {
      say('  starting cluster A (127.0.0.121-123)...');
      const a = await cluster(120);
      say(' up\n');
      try {
        await step('latency', () => latency(a, rows));
        await step('nats (peer)', async () => void rows.push(...(await natsPeerBenchmarks())));
        for (const [i, n] of IN_FLIGHT.entries()) await step(`throughput, ${n} in flight per pair`, () => throughput(a, rows, n, i === IN_FLIGHT.length - 1));
        await step('revocation', () => revocation(a, rows));
        await step('rebalance', () => rebalance(a, rows));
        await step('directory', () => directory(a, rows));
      } finally {
        await stopCluster(a);
      }
    }
    if (wanted('failover') || wanted('double run')) {
      say('  starting cluster B (127.0.0.126-128)...');
      const b = await cluster(125);
      say(' up\n');
      try {
        await step('double run', () => doubleRun(b, rows));
        await step('failover', () => failover(b, rows));
      } finally {
        await stopCluster(b);
      }
    }
  });
  return rows;
}
