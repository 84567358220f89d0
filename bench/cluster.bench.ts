/**
 * Cluster benchmarks: Caxton side by side with real `serf agent` processes (serf 0.9.4, memberlist
 * v0.2.2) in the same run, for 3, 5 and 10 nodes, both on memberlist's LAN timing (Caxton's default
 * profile `lan`, serf's default `-profile=lan`: probe every 1 s, probe timeout 500 ms, gossip every
 * 200 ms to 3 nodes, suspicion_mult 4, Lifeguard max multiplier 6). Opt-in (`npm run bench -- cluster`,
 * about 5 minutes); every wait is bounded and every child process is killed on exit, error or signal.
 *
 * Nodes
 * -----
 * Caxton: real `caxton server start` processes (the product, from source under tsx, as the process
 * tests start them) with `--workers 1 --bootstrap --bind-addr 127.0.0.1:<port>`; they are joined with
 * `POST /api/v1/cluster/join` (the same `Cluster.join` `--join` calls) so that every system's joins
 * start at one known instant instead of "whenever tsx finished loading". Serf: `serf agent -node
 * -bind -rpc-addr -profile=lan`, joined with the RPC `join` command (msgpack over its RPC port, the
 * call `serf join` makes, without starting a Go CLI per request). Before a timed join each joiner
 * makes one join to a closed port (it fails at once), for both systems: the first POST /cluster/join
 * of a fresh Caxton process costs 100-200 ms of first-use work that is not membership. Gossip ports
 * are a fixed block (20000 + 100·k for the k-th size, serf at +50), API and RPC ports are elsewhere.
 *
 * What is measured (all times on this process's monotonic clock)
 * -----------------------------------------------------------------
 * Membership changes are read from each node's own event stream: Caxton's log lines `cluster.join|
 * alive|update|suspect|failed|left|reaped` (the same events as GET /api/v1/events?types=cluster.*),
 * serf's `serf: EventMemberJoin|Failed|Leave|Update|Reap` lines, stamped when the line arrives here
 * (no polling granularity). Each node keeps a view (name → status) built from its own events; a node
 * "sees N alive" when every other node is alive (or suspect: serf shows suspects as alive) in its view.
 * After convergence the members APIs (GET /cluster/members, RPC members) are read once to check the
 * views agree.
 *
 * 1. Join convergence: nodes 2..N are told to join node 1 at the same instant t0 (in parallel); the
 *    value is the time from t0 until every node sees N alive. Caxton first, then serf (not at once,
 *    so one's join traffic does not slow the other's).
 * 2. Failure detection: one node of each system is SIGKILLed at the same instant (a different node
 *    each repetition, never node 1); the value is the time until every other node has declared it
 *    failed; mean/min/max over the repetitions (and the first node to declare it, for information).
 *    The victim is then restarted on the same address and data dir and rejoined (POST join / RPC
 *    join), untimed: serf's reconnect (and Caxton's) sometimes brings it back before the join call.
 * 3. False failures under 10 % loss: when root, the whole measurement runs in a private network
 *    namespace (`unshare -n`, re-executing this file), where nftables drops 10 % of the UDP datagrams
 *    to the gossip ports (`numgen random mod 100 < 10 drop`; TCP, API and RPC ports untouched), so both
 *    systems share one lossy loopback. For a fixed window both N-node clusters run under loss; every
 *    "X declared Y failed" about a live node is a false failure (counted as events and as distinct
 *    observer→subject pairs). Also counted: local probe suspicions ("suspect node has failed, no acks
 *    received" / memberlist's "Suspect X has failed, no acks received") and the datagrams the rule saw
 *    and dropped per system. Failures are counted until the views are back to N alive (at least 6 s
 *    after the window, so a suspicion raised under loss that times out just after it still counts).
 *    Note: UDP-only loss hardly ever makes a probe fail in either system, because a probe whose UDP
 *    ping and indirect pings are lost is saved by memberlist's TCP ping (not dropped);
 *    CAXTON_BENCH_CLUSTER_LOSS_TCP=1 drops the same share of TCP segments to the gossip ports too.
 *    Without root, unshare or nft the loss rows are skipped with a message.
 *
 * Theoretical bound (memberlist LAN): suspicion timeout = suspicionMult(4) × max(1, log10 N) × probe
 * interval (1 s) = 4 s for N ≤ 10; Lifeguard starts it at 6 × that (24 s) and shrinks it towards 4 s as
 * k = suspicionMult − 2 = 2 independent suspicions confirm (k = 0 below 4 nodes, so N = 3 always waits
 * 4 s). So a killed node is declared failed after: waiting for some node to probe it (≤ 1 s, ~0.5 s
 * on average) + the failed probe round (1 s: 500 ms ack timeout, indirect pings until the interval
 * ends) + the suspicion timeout (≥ 4 s) + spreading the dead message (a few 200 ms gossip rounds):
 * about 5.5 s at best, more when confirmations come late.
 *
 * Knobs: CAXTON_BENCH_CLUSTER_SIZES (default 3,5,10), CAXTON_BENCH_CLUSTER_REPS (3),
 * CAXTON_BENCH_CLUSTER_LOSS_WINDOW (seconds, 30), CAXTON_BENCH_CLUSTER_LOSS_PERCENT (10),
 * CAXTON_BENCH_CLUSTER_LOSS_TCP=1, CAXTON_BENCH_CLUSTER_CAXTON_SET="coordination.cluster.probe_interval=500ms;..."
 * (extra --set for the Caxton servers, for timing experiments; serf stays on LAN), CAXTON_BENCH_CLUSTER_NETNS=0 (no namespace, no loss), CAXTON_BENCH_CLUSTER_DEBUG=1 (per-node join
 * timelines on stderr).
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MsgpackReader, encodeValue, fromUtf8, type MsgpackValue } from '../src/cluster/wire/msgpack.js';
import { WireError } from '../src/cluster/wire/errors.js';
import type { Row } from './report.js';
import { which } from '../scripts/outside-tools.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const thisFile = fileURLToPath(import.meta.url);
const cliEntry = join(root, 'test', 'helpers', 'cli-entry.ts');

const PROBE_INTERVAL_MS = 1000;
const SUSPICION_MULT = 4;
const SUSPICION_MAX_MULT = 6;
/** Hard limit on the whole measurement: past it everything is killed. */
const WATCHDOG_MS = 20 * 60_000;

// ---------------------------------------------------------------------------------------------------
// settings, small helpers

interface Settings {
  readonly sizes: number[];
  readonly reps: number;
  readonly lossWindowS: number;
  readonly lossPercent: number;
  /** Also drop TCP segments to the gossip ports (push/pull, TCP pings): off by default, the issue asks for UDP loss. */
  readonly lossTcp: boolean;
}

/** CAXTON_BENCH_CLUSTER_CAXTON_SET="key=value;key=value": extra `--set`s for every Caxton server (timing experiments). */
function caxtonSets(): string[] {
  const text = process.env['CAXTON_BENCH_CLUSTER_CAXTON_SET'] ?? '';
  const pairs = text.split(';').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of pairs) if (!/^[a-z_.]+=\S+$/.test(p)) throw new Error(`CAXTON_BENCH_CLUSTER_CAXTON_SET: expected key=value;key=value, got "${p}"`);
  return pairs.flatMap((p) => ['--set', p]);
}

function intEnv(name: string, dflt: number, lo: number, hi: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${name} must be an integer from ${lo} to ${hi}, got ${v}`);
  return n;
}

function settings(): Settings {
  const sizesText = process.env['CAXTON_BENCH_CLUSTER_SIZES'] ?? '3,5,10';
  const sizes = sizesText.split(',').filter((s) => s.trim() !== '').map(Number);
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 20)) throw new Error(`CAXTON_BENCH_CLUSTER_SIZES must be a comma list of integers 2..20, got ${sizesText}`);
  return {
    sizes,
    reps: intEnv('CAXTON_BENCH_CLUSTER_REPS', 3, 1, 10),
    lossWindowS: intEnv('CAXTON_BENCH_CLUSTER_LOSS_WINDOW', 30, 5, 300),
    lossPercent: intEnv('CAXTON_BENCH_CLUSTER_LOSS_PERCENT', 10, 1, 90),
    lossTcp: process.env['CAXTON_BENCH_CLUSTER_LOSS_TCP'] === '1',
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();
const say = (s: string): void => void process.stderr.write(s);

/** Polls an in-memory predicate (cheap) until it holds or `ms` pass. Times come from the events, not from this loop. */
async function until(pred: () => boolean, ms: number, stepMs = 10): Promise<boolean> {
  const end = now() + ms;
  while (now() < end) {
    if (pred()) return true;
    await sleep(stepMs);
  }
  return pred();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Whether UDP and TCP `port` on 127.0.0.1 are both free. */
async function portFree(port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((r) => {
    const s = net.createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((r) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => {
      u.close();
      r(false);
    });
    u.bind(port, '127.0.0.1', () => u.close(() => r(true)));
  });
}

const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

// ---------------------------------------------------------------------------------------------------
// child processes: tracked, killed on every way out

const children = new Set<ChildProcess>();

function killAllChildren(): void {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills every child on exit and on SIGINT/SIGTERM while `fn` runs; then removes the handlers. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  const onSignal = (sig: NodeJS.Signals) => {
    say(`\ncluster bench: ${sig}, killing ${children.size} child processes\n`);
    killAllChildren();
    process.exit(130);
  };
  const watchdog = setTimeout(() => {
    say(`\ncluster bench: still running after ${WATCHDOG_MS / 60_000} min, giving up\n`);
    killAllChildren();
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  process.on('exit', killAllChildren);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    killAllChildren();
    clearTimeout(watchdog);
    process.off('exit', killAllChildren);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

class Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly #tail: string[] = [];

  constructor(cmd: string, args: readonly string[], onLine: (line: string, t: number) => void) {
    this.child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    children.add(this.child);
    this.exited = new Promise<void>((r) =>
      this.child.once('exit', () => {
        children.delete(this.child);
        r();
      }),
    );
    this.child.once('error', () => children.delete(this.child));
    for (const s of [this.child.stdout, this.child.stderr]) {
      let buf = '';
      s?.on('data', (d: Buffer) => {
        const t = now();
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.#tail.push(line);
          if (this.#tail.length > 40) this.#tail.shift();
          onLine(line, t);
        }
      });
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(): string {
    return this.#tail.join('\n');
  }

  /** SIGKILL, then waits (bounded) for the exit. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await withTimeout(this.exited, 10_000, `exit of pid ${this.child.pid}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// serf RPC (msgpack over TCP): handshake, join, members

type Js = null | boolean | number | string | Js[] | { [k: string]: Js };

function toJs(v: MsgpackValue): Js {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return fromUtf8(v);
  if (Array.isArray(v)) return v.map(toJs);
  if (v instanceof Map) {
    const o: { [k: string]: Js } = {};
    for (const [k, e] of v) o[k instanceof Uint8Array ? fromUtf8(k) : String(k)] = toJs(e);
    return o;
  }
  return null;
}

class SerfRpc {
  #buf = new Uint8Array(0);
  #seq = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #waiting: { body: boolean; resolve: (v: { header: Js; body: Js }) => void; reject: (e: Error) => void } | undefined;
  #closed = false;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      const b = new Uint8Array(this.#buf.length + d.length);
      b.set(this.#buf);
      b.set(d, this.#buf.length);
      this.#buf = b;
      this.#drain();
    });
    const fail = () => {
      this.#closed = true;
      this.#waiting?.reject(new Error('serf RPC connection closed'));
      this.#waiting = undefined;
    };
    sock.on('error', fail);
    sock.on('close', fail);
  }

  static async connect(port: number, timeoutMs: number): Promise<SerfRpc> {
    const end = now() + timeoutMs;
    for (let i = 0; i < 1000 && now() < end; i++) {
      const sock = await new Promise<net.Socket | undefined>((r) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => r(s));
        s.once('error', () => r(undefined));
      });
      if (sock !== undefined) {
        sock.removeAllListeners('error');
        const rpc = new SerfRpc(sock);
        await rpc.request('handshake', new Map([['Version', 1]]), false);
        return rpc;
      }
      await sleep(100);
    }
    throw new Error(`serf RPC on port ${port} did not answer within ${timeoutMs} ms`);
  }

  #drain(): void {
    const w = this.#waiting;
    if (w === undefined) return;
    const r = new MsgpackReader(this.#buf);
    let header: Js;
    let body: Js = null;
    try {
      header = toJs(r.readValue());
      if (w.body) body = toJs(r.readValue());
    } catch (e) {
      if (e instanceof WireError && e.reason === 'truncated') return; // wait for more bytes
      this.#waiting = undefined;
      w.reject(e as Error);
      return;
    }
    this.#buf = this.#buf.slice(r.pos);
    this.#waiting = undefined;
    w.resolve({ header, body });
  }

  /** One request at a time on this connection; `body`: whether the command answers with a body. */
  request(command: string, args: Map<string, MsgpackValue> | undefined, body: boolean, timeoutMs = 15_000): Promise<Js> {
    const run = async (): Promise<Js> => {
      if (this.#closed) throw new Error('serf RPC connection closed');
      const seq = this.#seq++;
      const got = new Promise<{ header: Js; body: Js }>((resolve, reject) => (this.#waiting = { body, resolve, reject }));
      const head = encodeValue(new Map<string, MsgpackValue>([['Command', command], ['Seq', seq]]));
      this.sock.write(args === undefined ? head : Buffer.concat([head, encodeValue(args)]));
      const { header, body: b } = await withTimeout(got, timeoutMs, `serf RPC ${command}`);
      const err = (header as { Error?: string } | null)?.Error;
      if (typeof err === 'string' && err !== '') throw new Error(`serf RPC ${command}: ${err}`);
      return b;
    };
    const p = this.#chain.then(run, run);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.#closed = true;
    this.sock.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------
// nodes

type Status = 'alive' | 'suspect' | 'failed' | 'left';
interface Stamp {
  readonly t: number;
  readonly subject: string;
}

/** One node of either system: its process, and its view of the cluster built from its own events. */
abstract class BenchNode {
  readonly view = new Map<string, Status>();
  /** Every "subject failed" this node declared or learnt, with when. */
  readonly failed: Stamp[] = [];
  /** Tag (node meta) updates this node learnt of: cluster.update / EventMemberUpdate. */
  readonly updates: Stamp[] = [];
  /** This node's own probes that ended without an ack ("suspect node has failed, no acks received"). */
  readonly probeSuspicions: Stamp[] = [];
  /** When each peer last went from not-alive to alive in this node's view. */
  readonly aliveSince = new Map<string, number>();
  /** Since when this node sees every expected peer alive (undefined: it does not). */
  fullSince: number | undefined;
  expected: readonly string[] = [];
  proc: Proc | undefined;

  constructor(
    readonly name: string,
    readonly gossipPort: number,
  ) {}

  abstract start(): Promise<void>;
  abstract join(seed: BenchNode): Promise<void>;
  /** A join to a closed port (it fails at once): takes the first-request cost of the join path out of the timed join. */
  abstract warmJoin(closedPort: number): Promise<void>;
  abstract members(): Promise<{ name: string; status: string }[]>;

  get running(): boolean {
    return this.proc?.running === true;
  }

  protected reset(): void {
    this.view.clear();
    this.aliveSince.clear();
    this.fullSince = undefined;
  }

  protected member(t: number, subject: string, status: Status | undefined): void {
    if (subject === this.name) return;
    const up = (x: Status | undefined) => x === 'alive' || x === 'suspect';
    if (up(status) && !up(this.view.get(subject))) this.aliveSince.set(subject, t);
    if (status === undefined) this.view.delete(subject);
    else this.view.set(subject, status);
    if (status === 'failed') this.failed.push({ t, subject });
    this.#recheck(t);
  }

  #recheck(t: number): void {
    const full = this.expected.length > 0 && this.expected.every((n) => n === this.name || this.view.get(n) === 'alive' || this.view.get(n) === 'suspect');
    if (!full) this.fullSince = undefined;
    else this.fullSince ??= t;
  }

  setExpected(names: readonly string[]): void {
    this.expected = names;
    this.#recheck(now());
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }
}

class CaxtonNode extends BenchNode {
  apiUrl = '';
  adminKey = '';
  #started: ((api: { host: string; port: number }) => void) | undefined;

  constructor(
    name: string,
    gossipPort: number,
    readonly dataDir: string,
  ) {
    super(name, gossipPort);
  }

  async start(): Promise<void> {
    this.reset();
    const started = new Promise<{ host: string; port: number }>((r) => (this.#started = r));
    const args = ['--import', 'tsx', cliEntry, 'server', 'start', '--data-dir', this.dataDir, '--node-id', this.name, '--api-addr', '127.0.0.1:0', '--metrics-addr', '127.0.0.1:0', '--workers', '1', '--bind-addr', `127.0.0.1:${this.gossipPort}`, '--bootstrap', '--set', 'coordination.cluster.profile=lan', ...caxtonSets()];
    const proc = new Proc(process.execPath, args, (line, t) => this.#line(line, t));
    this.proc = proc;
    const exited = proc.exited.then(() => {
      throw new Error(`caxton ${this.name} exited before it started:\n${proc.tail()}`);
    });
    const api = await withTimeout(Promise.race([started, exited]), 120_000, `start of caxton ${this.name}`).catch((e: unknown) => {
      proc.child.kill('SIGKILL');
      throw e;
    });
    this.apiUrl = `http://${api.host}:${api.port}/api/v1`;
    this.adminKey = readFileSync(join(this.dataDir, 'admin.key'), 'utf8').trim();
    await this.members(); // opens the keep-alive connection before anything is timed
  }

  #line(line: string, t: number): void {
    if (!line.startsWith('{')) return;
    let rec: { msg?: unknown; node?: unknown; status?: unknown; api?: { host: string; port: number } };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      return;
    }
    const msg = typeof rec.msg === 'string' ? rec.msg : '';
    if (msg.startsWith('cluster.') && typeof rec.node === 'string' && typeof rec.status === 'string') {
      const type = msg.slice('cluster.'.length);
      if (type === 'update' && rec.node !== this.name) this.updates.push({ t, subject: rec.node });
      if (type === 'reaped') this.member(t, rec.node, undefined);
      else if (type !== 'conflict') this.member(t, rec.node, rec.status as Status);
    } else if (msg === 'suspect node has failed, no acks received' && typeof rec.node === 'string') {
      this.probeSuspicions.push({ t, subject: rec.node });
    } else if (msg === 'caxton node started' && rec.api !== undefined) {
      this.#started?.(rec.api);
    }
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await withTimeout(
      fetch(`${this.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
      15_000,
      `${method} ${path} on ${this.name}`,
    );
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} on ${this.name}: ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  }

  async join(seed: BenchNode): Promise<void> {
    await this.#call('POST', '/cluster/join', { addresses: [`127.0.0.1:${seed.gossipPort}`] });
  }

  async warmJoin(closedPort: number): Promise<void> {
    await this.#call('POST', '/cluster/join', { addresses: [`127.0.0.1:${closedPort}`] }).catch(() => undefined);
  }

  async members(): Promise<{ name: string; status: string }[]> {
    return ((await this.#call('GET', '/cluster/members')) as { members: { name: string; status: string }[] }).members;
  }
}

const SERF_EVENT = /serf: EventMember(Join|Failed|Leave|Update|Reap): (\S+)/;
const SERF_SUSPECT = /memberlist: Suspect (\S+) has failed, no acks received/;

class SerfNode extends BenchNode {
  rpc: SerfRpc | undefined;
  #rpcPort = 0;

  constructor(
    name: string,
    gossipPort: number,
    readonly bin: string,
  ) {
    super(name, gossipPort);
  }

  async start(): Promise<void> {
    this.reset();
    this.rpc?.close();
    if (this.#rpcPort === 0) this.#rpcPort = await freePort();
    const args = ['agent', `-node=${this.name}`, `-bind=127.0.0.1:${this.gossipPort}`, `-rpc-addr=127.0.0.1:${this.#rpcPort}`, '-profile=lan', '-log-level=info'];
    const proc = new Proc(this.bin, args, (line, t) => this.#line(line, t));
    this.proc = proc;
    try {
      this.rpc = await SerfRpc.connect(this.#rpcPort, 30_000);
    } catch (e) {
      proc.child.kill('SIGKILL');
      throw new Error(`serf ${this.name} did not start: ${(e as Error).message}\n${proc.tail()}`);
    }
  }

  #line(line: string, t: number): void {
    const m = SERF_EVENT.exec(line);
    if (m !== null) {
      const kind = m[1] as string;
      const subject = m[2] as string;
      if (kind === 'Update' && subject !== this.name) this.updates.push({ t, subject });
      if (kind === 'Join' || kind === 'Update') this.member(t, subject, 'alive');
      else if (kind === 'Failed') this.member(t, subject, 'failed');
      else if (kind === 'Leave') this.member(t, subject, 'left');
      else this.member(t, subject, undefined);
      return;
    }
    const s = SERF_SUSPECT.exec(line);
    if (s !== null) this.probeSuspicions.push({ t, subject: s[1] as string });
  }

  async join(seed: BenchNode): Promise<void> {
    if (this.rpc === undefined) throw new Error(`serf ${this.name} is not started`);
    await this.rpc.request('join', new Map<string, MsgpackValue>([['Existing', [`127.0.0.1:${seed.gossipPort}`]], ['Replay', false]]), true);
  }

  async warmJoin(closedPort: number): Promise<void> {
    await this.rpc?.request('join', new Map<string, MsgpackValue>([['Existing', [`127.0.0.1:${closedPort}`]], ['Replay', false]]), true).catch(() => undefined);
  }

  async members(): Promise<{ name: string; status: string }[]> {
    if (this.rpc === undefined) throw new Error(`serf ${this.name} is not started`);
    const body = (await this.rpc.request('members', undefined, true)) as { Members?: { Name: string; Status: string }[] };
    return (body.Members ?? []).map((m) => ({ name: m.Name, status: m.Status }));
  }

  override async kill(): Promise<void> {
    this.rpc?.close();
    this.rpc = undefined;
    await super.kill();
  }
}

// ---------------------------------------------------------------------------------------------------
// one system's cluster of N nodes

type SystemName = 'caxton' | 'serf';

interface LossResult {
  readonly windowS: number;
  /** "X declared Y failed" events about live nodes within the window. */
  readonly failedEvents: number;
  /** Distinct observer→subject pairs among them. */
  readonly failedPairs: number;
  readonly probeSuspicions: number;
  /** Tag updates (another node's meta changed) seen in the window, summed over the nodes. */
  readonly tagUpdates: number;
  /** Gossip packets (UDP datagrams, and TCP segments with lossTcp) the nft rule saw (to this system's ports) and dropped. */
  readonly datagrams: number;
  readonly dropped: number;
  /** After the loss ended: how long until all N saw N alive again (0: never diverged; NaN: not within 36 s). */
  readonly recoveredMs: number;
}

interface SystemResult {
  readonly system: SystemName;
  readonly n: number;
  readonly convergenceMs: number;
  /** Until the last of the N-1 join calls returned. */
  readonly joinCallMs: number;
  /** Which node saw N alive last, and which peer it learnt of last. */
  readonly convergenceLast: string;
  readonly apiAgrees: boolean;
  /** Per repetition: until every other node declared the victim failed (NaN: timed out). */
  readonly detectMs: number[];
  /** Per repetition: until the first node declared it failed. */
  readonly firstDetectMs: number[];
  /** Per repetition: until the first probe of it went unanswered (its first suspicion). */
  readonly firstSuspicionMs: number[];
  loss?: LossResult;
}

interface BenchReport {
  readonly settings: Settings;
  readonly lossSkipped?: string;
  readonly results: SystemResult[];
  readonly seconds: number;
}

class SystemCluster {
  constructor(
    readonly system: SystemName,
    readonly nodes: BenchNode[],
    /** A gossip port nobody listens on (for warmJoin). */
    readonly closedPort: number,
  ) {
    const names = nodes.map((x) => x.name);
    for (const x of nodes) x.setExpected(names);
  }

  get seed(): BenchNode {
    return this.nodes[0] as BenchNode;
  }

  converged(): boolean {
    return this.nodes.every((x) => x.running && x.fullSince !== undefined);
  }

  /** When the last node came to see N alive. */
  convergedAt(): number {
    return Math.max(...this.nodes.map((x) => x.fullSince ?? Infinity));
  }

  /**
   * Joins `joiners` to the seed at one instant. `ms`: until every node sees N alive (NaN on timeout);
   * `callMs`: until the last join call returned (the push/pull with the seed is done by then).
   */
  async joinAndConverge(joiners: BenchNode[], timeoutMs: number): Promise<{ ms: number; callMs: number; last: string }> {
    await Promise.all(joiners.map((x) => x.warmJoin(this.closedPort)));
    await sleep(200);
    const t0 = now();
    const calls = await Promise.all(
      joiners.map(async (x) => {
        await x.join(this.seed);
        return now() - t0;
      }),
    );
    const callMs = Math.max(...calls);
    if (!(await until(() => this.converged(), timeoutMs))) {
      say(`\n  ${this.system}: not converged after ${timeoutMs} ms: ${this.nodes.map((x) => `${x.name} sees ${[...x.view].map(([k, v]) => `${k}:${v}`).join(',')}`).join('; ')}\n`);
      return { ms: NaN, callMs, last: 'not converged' };
    }
    if (process.env['CAXTON_BENCH_CLUSTER_DEBUG'] === '1') say(`\n    ${this.system}: join calls ${calls.map(f0).join('/')} ms; each node full at ${this.nodes.map((x) => `${x.name} +${f0((x.fullSince ?? NaN) - t0)}`).join(', ')}\n`);
    // who was last: the node that saw N alive last, and the peer it learnt of last
    const slow = this.nodes.reduce((a, b) => ((b.fullSince ?? 0) > (a.fullSince ?? 0) ? b : a));
    const [peer, at] = [...slow.aliveSince].reduce((a, b) => (b[1] > a[1] ? b : a), ['', -Infinity] as [string, number]);
    return { ms: this.convergedAt() - t0, callMs, last: `${slow.name} learnt of ${peer} last, at +${f0(at - t0)} ms` };
  }

  /** Whether every node's members API lists all N as alive. */
  async apiAgrees(): Promise<boolean> {
    const views = await Promise.all(this.nodes.map((x) => x.members()));
    return views.every((v) => v.length === this.nodes.length && v.every((m) => m.status === 'alive'));
  }
}

// ---------------------------------------------------------------------------------------------------
// loss injection (inside the private network namespace)

const NFT_TABLE = 'caxton_bench';

function nft(args: string[]): string {
  return execFileSync('nft', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Drops `percent` % of UDP (and TCP when `tcp`) to each range, counting per range. */
function lossOn(ranges: { tag: string; lo: number; hi: number }[], percent: number, tcp: boolean): void {
  const proto = tcp ? ['meta', 'l4proto', '{', 'tcp,', 'udp', '}', 'th'] : ['udp'];
  nft(['add', 'table', 'inet', NFT_TABLE]);
  nft(['add', 'chain', 'inet', NFT_TABLE, 'in', '{ type filter hook input priority 0; policy accept; }']);
  for (const r of ranges) {
    nft(['add', 'rule', 'inet', NFT_TABLE, 'in', ...proto, 'dport', `${r.lo}-${r.hi}`, 'counter', 'comment', `"${r.tag}-seen"`]);
    nft(['add', 'rule', 'inet', NFT_TABLE, 'in', ...proto, 'dport', `${r.lo}-${r.hi}`, 'numgen', 'random', 'mod', '100', '<', String(percent), 'counter', 'drop', 'comment', `"${r.tag}-dropped"`]);
  }
}

/** Reads the counters, then removes the table. */
function lossOff(): Map<string, number> {
  const counters = new Map<string, number>();
  try {
    const json = JSON.parse(nft(['-j', 'list', 'table', 'inet', NFT_TABLE])) as { nftables: { rule?: { comment?: string; expr?: { counter?: { packets: number } }[] } }[] };
    for (const e of json.nftables) {
      const c = e.rule?.expr?.find((x) => x.counter !== undefined)?.counter;
      if (e.rule?.comment !== undefined && c !== undefined) counters.set(e.rule.comment, c.packets);
    }
  } finally {
    nft(['delete', 'table', 'inet', NFT_TABLE]);
  }
  return counters;
}

/** Why the loss rows cannot run here, or undefined when they can (checked in a throwaway namespace). */
function lossUnsupported(): string | undefined {
  if (process.env['CAXTON_BENCH_CLUSTER_NETNS'] === '0') return 'CAXTON_BENCH_CLUSTER_NETNS=0';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root (a network namespace and nftables need it)';
  for (const cmd of ['unshare', 'ip', 'nft']) if (which(cmd) === undefined) return `${cmd} is not installed`;
  const probe = spawnSync('unshare', ['-n', '--', 'sh', '-c', `ip link set lo up && nft add table inet ${NFT_TABLE}_probe && nft delete table inet ${NFT_TABLE}_probe`], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) return `unshare -n / nft failed: ${(probe.stderr || probe.error?.message || `exit ${probe.status}`).trim()}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// the measurement

async function startAll(nodes: BenchNode[], parallel: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < nodes.length) {
      const x = nodes[next++] as BenchNode;
      await x.start();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, nodes.length) }, worker));
}

interface Detection {
  readonly all: number;
  readonly first: number;
  /** The first probe of the victim that went unanswered (the first suspicion), anywhere. */
  readonly suspected: number;
}

/** ms from `t0` until every other node declared `victim` failed (NaN when some did not within `ms`). */
async function detection(c: SystemCluster, victim: BenchNode, t0: number, ms: number): Promise<Detection> {
  const observers = c.nodes.filter((x) => x !== victim);
  const firstFailed = (x: BenchNode) => x.failed.find((f) => f.subject === victim.name && f.t >= t0)?.t;
  const ok = await until(() => observers.every((x) => firstFailed(x) !== undefined), ms, 20);
  const times = observers.map(firstFailed).filter((t): t is number => t !== undefined);
  if (!ok) say(`\n  ${c.system}: ${victim.name} not declared failed by ${observers.length - times.length} of ${observers.length} nodes within ${ms} ms\n`);
  const susp = observers.map((x) => x.probeSuspicions.find((f) => f.subject === victim.name && f.t >= t0)?.t).filter((t): t is number => t !== undefined);
  return { all: ok ? Math.max(...times) - t0 : NaN, first: times.length === 0 ? NaN : Math.min(...times) - t0, suspected: susp.length === 0 ? NaN : Math.min(...susp) - t0 };
}

async function measureSize(n: number, k: number, s: Settings, loss: boolean, serfBin: string, work: string): Promise<SystemResult[]> {
  const base = 20_000 + 100 * k;
  const caxton: BenchNode[] = [];
  const serf: BenchNode[] = [];
  for (let i = 0; i < n; i++) {
    if (!(await portFree(base + i)) || !(await portFree(base + 50 + i))) throw new Error(`gossip port ${base + i} or ${base + 50 + i} on 127.0.0.1 is taken`);
    caxton.push(new CaxtonNode(`c${i + 1}`, base + i, join(work, `n${n}-c${i + 1}`)));
    serf.push(new SerfNode(`s${i + 1}`, base + 50 + i, serfBin));
  }
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = now();
    say(`  N=${n}: ${what}...`);
    const r = await fn();
    say(` ${((now() - t0) / 1000).toFixed(1)} s\n`);
    return r;
  };
  try {
    await step(`starting ${n} serf agents and ${n} caxton servers`, async () => {
      await startAll(serf, n);
      await startAll(caxton, 2); // tsx start-up is CPU-bound: two at a time on two cores
    });
    const cc = new SystemCluster('caxton', caxton, base + 49);
    const sc = new SystemCluster('serf', serf, base + 99);
    const both = [cc, sc];
    const res = new Map<SystemName, { conv: number; convCall: number; convLast: string; api: boolean; detect: number[]; first: number[]; suspected: number[]; loss?: LossResult }>();
    await step('join convergence', async () => {
      for (const c of both) {
        const { ms: conv, callMs, last } = await c.joinAndConverge(c.nodes.slice(1), 30_000);
        const api = await c.apiAgrees();
        if (!api) say(`\n  ${c.system}: members API disagrees with the event views after convergence\n`);
        res.set(c.system, { conv, convCall: callMs, convLast: last, api, detect: [], first: [], suspected: [] });
        say(` ${c.system} ${conv.toFixed(0)} ms`);
        await sleep(1000);
      }
    });
    await sleep(2000);
    for (let r = 0; r < s.reps; r++) {
      const v = 1 + (r % (n - 1));
      await step(`kill -9 #${r + 1} (c${v + 1}, s${v + 1})`, async () => {
        const victims = both.map((c) => c.nodes[v] as BenchNode);
        const t0s = victims.map((x) => {
          const t = now();
          x.proc?.child.kill('SIGKILL');
          return t;
        });
        await Promise.all(victims.map((x) => x.kill()));
        const d = await Promise.all(both.map((c, i) => detection(c, victims[i] as BenchNode, t0s[i] as number, 60_000)));
        both.forEach((c, i) => {
          const e = res.get(c.system);
          e?.detect.push((d[i] as Detection).all);
          e?.first.push((d[i] as Detection).first);
          e?.suspected.push((d[i] as Detection).suspected);
          say(` ${c.system} ${(d[i] as Detection).all.toFixed(0)} ms`);
        });
        // back to N: restart on the same address (and data dir) and rejoin; nothing else is timed meanwhile
        await Promise.all(victims.map((x) => x.start()));
        await sleep(500);
        for (const [i, c] of both.entries()) {
          // Not reported: serf's (and Caxton's) reconnect may have brought it back before this join.
          const j = await c.joinAndConverge([victims[i] as BenchNode], 30_000);
          if (!Number.isFinite(j.ms)) throw new Error(`${c.system}: the restarted ${victims[i]?.name} did not rejoin`);
        }
      });
      await sleep(2000);
    }
    if (loss) {
      await step(`${s.lossWindowS} s at ${s.lossPercent} % ${s.lossTcp ? 'UDP+TCP' : 'UDP'} loss, both clusters`, async () => {
        await until(() => cc.converged() && sc.converged(), 30_000);
        const mark = both.map((c) => c.nodes.map((x) => ({ failed: x.failed.length, susp: x.probeSuspicions.length, upd: x.updates.length })));
        const ranges = [
          { tag: 'caxton', lo: base, hi: base + n - 1 },
          { tag: 'serf', lo: base + 50, hi: base + 50 + n - 1 },
        ];
        lossOn(ranges, s.lossPercent, s.lossTcp);
        let counters: Map<string, number>;
        try {
          await sleep(s.lossWindowS * 1000);
        } finally {
          counters = lossOff();
        }
        // Failures that loss-era suspicions lead to may be declared just after the window: count
        // until every view is back to N alive (at least 6 s: the 4 s suspicion timeout plus gossip).
        const tEnd = now();
        await sleep(6000);
        await until(() => cc.converged() && sc.converged(), 30_000, 20);
        for (const [ci, c] of both.entries()) {
          let failedEvents = 0;
          let suspicions = 0;
          let updates = 0;
          const pairs = new Set<string>();
          c.nodes.forEach((x, i) => {
            const m = mark[ci]?.[i] ?? { failed: 0, susp: 0, upd: 0 };
            const fs = x.failed.slice(m.failed);
            failedEvents += fs.length;
            for (const f of fs) pairs.add(`${x.name}>${f.subject}`);
            suspicions += x.probeSuspicions.slice(m.susp).filter((f) => f.t <= tEnd).length;
            updates += x.updates.slice(m.upd).filter((f) => f.t <= tEnd).length;
          });
          const e = res.get(c.system);
          if (e !== undefined) {
            e.loss = {
              windowS: s.lossWindowS,
              failedEvents,
              failedPairs: pairs.size,
              probeSuspicions: suspicions,
              tagUpdates: updates,
              datagrams: counters.get(`${c.system}-seen`) ?? NaN,
              dropped: counters.get(`${c.system}-dropped`) ?? NaN,
              recoveredMs: c.converged() ? Math.max(0, c.convergedAt() - tEnd) : NaN,
            };
          }
          say(` ${c.system}: ${failedEvents} false failed`);
        }
      });
    }
    return both.map((c) => {
      const e = res.get(c.system);
      return { system: c.system, n, convergenceMs: e?.conv ?? NaN, joinCallMs: e?.convCall ?? NaN, convergenceLast: e?.convLast ?? '', apiAgrees: e?.api ?? false, detectMs: e?.detect ?? [], firstDetectMs: e?.first ?? [], firstSuspicionMs: e?.suspected ?? [], ...(e?.loss === undefined ? {} : { loss: e.loss }) };
    });
  } finally {
    await Promise.all([...caxton, ...serf].map((x) => x.kill().catch(() => undefined)));
  }
}

async function runMeasurements(s: Settings, loss: boolean, lossSkipped: string | undefined): Promise<BenchReport> {
  const serfBin = which('serf');
  if (serfBin === undefined) throw new Error('serf is not installed (Debian: apt-get install serf); the cluster bench compares against it');
  const t0 = now();
  const work = mkdtempSync(join(tmpdir(), 'caxton-bench-cluster-'));
  // a signal ends the process from guarded() without running the finally below
  const removeWork = () => {
    killAllChildren();
    rmSync(work, { recursive: true, force: true });
  };
  process.on('exit', removeWork);
  try {
    return await guarded(async () => {
      const results: SystemResult[] = [];
      for (const [k, n] of s.sizes.entries()) results.push(...(await measureSize(n, k, s, loss, serfBin, work)));
      return { settings: s, ...(lossSkipped === undefined ? {} : { lossSkipped }), results, seconds: (now() - t0) / 1000 };
    });
  } finally {
    process.off('exit', removeWork);
    removeWork();
  }
}

/** Runs the measurement in a private network namespace (this file re-executed under `unshare -n`). */
async function runInNamespace(s: Settings): Promise<BenchReport> {
  const dir = mkdtempSync(join(tmpdir(), 'caxton-bench-cluster-out-'));
  const out = join(dir, 'report.json');
  try {
    const child = spawn('unshare', ['-n', '--', process.execPath, '--import', 'tsx', thisFile, '--inner', out], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
    let interrupted = false;
    const forward = (sig: NodeJS.Signals) => {
      // the inner process kills its own children and exits
      interrupted = true;
      child.kill('SIGTERM');
      say(`\ncluster bench: ${sig}, stopping\n`);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const exitKill = () => child.kill('SIGTERM');
    process.on('exit', exitKill);
    try {
      const code = await new Promise<number>((r) => child.once('exit', (c, sig) => r(c ?? (sig === null ? 1 : 128))));
      if (interrupted) {
        rmSync(dir, { recursive: true, force: true });
        process.exit(130);
      }
      if (code !== 0) throw new Error(`the cluster bench in its network namespace exited with ${code}`);
    } finally {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      process.off('exit', exitKill);
    }
    return JSON.parse(readFileSync(out, 'utf8'), (_k, v: unknown) => (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)) as BenchReport;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// report

function boundNote(n: number): { minMs: number; maxMs: number; k: number } {
  const minMs = SUSPICION_MULT * Math.max(1, Math.log10(n)) * PROBE_INTERVAL_MS;
  return { minMs, maxMs: SUSPICION_MAX_MULT * minMs, k: n < SUSPICION_MULT - 2 + 2 ? 0 : SUSPICION_MULT - 2 };
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '—');

function comparison(rep: BenchReport): string {
  const head = ['system', 'N', 'converge ms', '(join call)', 'detect mean', 'min', 'max', 'first node', '1st suspicion', `false failed (pairs) in ${rep.settings.lossWindowS} s @${rep.settings.lossPercent}%${rep.settings.lossTcp ? ' udp+tcp' : ''}`, 'probe suspicions', 'tag updates', 'gossip pkts / dropped'];
  const lines = [head];
  for (const r of rep.results) {
    const d = r.detectMs.filter(Number.isFinite);
    lines.push([
      r.system,
      String(r.n),
      f0(r.convergenceMs),
      f0(r.joinCallMs),
      `${f0(mean(d))}${d.length < r.detectMs.length ? ` (${r.detectMs.length - d.length} timed out)` : ''}`,
      f0(Math.min(...d)),
      f0(Math.max(...d)),
      f0(mean(r.firstDetectMs.filter(Number.isFinite))),
      f0(mean(r.firstSuspicionMs.filter(Number.isFinite))),
      r.loss === undefined ? 'skipped' : `${r.loss.failedEvents} (${r.loss.failedPairs})`,
      r.loss === undefined ? '' : String(r.loss.probeSuspicions),
      r.loss === undefined ? '' : String(r.loss.tagUpdates),
      r.loss === undefined ? '' : `${r.loss.datagrams} / ${r.loss.dropped}`,
    ]);
  }
  const w = head.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  const text = lines.map((l) => l.map((c, i) => (i < 2 ? c.padEnd(w[i] ?? 0) : c.padStart(w[i] ?? 0))).join('  '));
  text.splice(1, 0, w.map((x) => '-'.repeat(x)).join('  '));
  const bounds = [...new Set(rep.results.map((r) => r.n))].map((n) => {
    const b = boundNote(n);
    return `N=${n}: suspicion timeout ${b.minMs / 1000} s (Lifeguard: from ${b.maxMs / 1000} s down to it after k=${b.k} confirmations)`;
  });
  return [
    `cluster: Caxton vs serf side by side, LAN timing${caxtonSets().length === 0 ? '' : ` (Caxton with ${process.env['CAXTON_BENCH_CLUSTER_CAXTON_SET']})`}, ${rep.settings.reps} kill -9 per size, ${rep.seconds.toFixed(0)} s in all`,
    ...text,
    `bound: detect ≳ wait for a probe (~0.5 s) + failed probe round (1 s) + suspicion timeout + dead gossip (~0.2-0.6 s); ${bounds.join('; ')}`,
    ...(rep.lossSkipped === undefined ? [] : [`loss rows skipped: ${rep.lossSkipped}`]),
    '',
  ].join('\n');
}

function toRows(rep: BenchReport): Row[] {
  const rows: Row[] = [];
  const serfOf = (n: number) => rep.results.find((r) => r.system === 'serf' && r.n === n);
  for (const r of rep.results) {
    const label = `cluster ${r.system} N=${r.n}`;
    const isBudget = r.system === 'caxton' && r.n === 5;
    const d = r.detectMs.filter(Number.isFinite);
    const b = boundNote(r.n);
    rows.push({
      name: `${label}: join convergence`,
      value: r.convergenceMs,
      unit: 'ms',
      ...(isBudget ? { budget: '≤ 200 ms', ok: r.convergenceMs <= 200 } : {}),
      note: `${r.n - 1} joins at once via node 1 → all see ${r.n} alive${r.apiAgrees ? '' : ' (members API disagreed!)'}; the join calls returned after ${f0(r.joinCallMs)} ms; ${r.convergenceLast}`,
    });
    rows.push({
      name: `${label}: failure detection, mean`,
      value: mean(d),
      unit: 'ms',
      ...(isBudget ? { budget: '≤ 3 s', ok: mean(d) <= 3000 } : {}),
      note: `kill -9 → all ${r.n - 1} others declare it failed; min ${f0(Math.min(...d))} / max ${f0(Math.max(...d))} ms over [${r.detectMs.map(f0).join(', ')}]; first node ${f0(mean(r.firstDetectMs))} ms; first unanswered probe ${f0(mean(r.firstSuspicionMs))} ms; bound: suspicion ${b.minMs / 1000}–${b.maxMs / 1000} s (k=${b.k}) + ~1.5 s probing`,
    });
    if (r.loss !== undefined) {
      const sf = serfOf(r.n)?.loss;
      rows.push({
        name: `${label}: false failures, ${rep.settings.lossPercent}% ${rep.settings.lossTcp ? 'UDP+TCP' : 'UDP'} loss, ${r.loss.windowS} s`,
        value: r.loss.failedEvents,
        unit: 'events',
        ...(r.system === 'caxton' && sf !== undefined ? { budget: `≤ serf (${sf.failedEvents})`, ok: r.loss.failedEvents <= sf.failedEvents } : {}),
        note: `${r.loss.failedPairs} observer→subject pairs; ${r.loss.probeSuspicions} probe suspicions; ${r.loss.tagUpdates} tag updates seen (sum over nodes); ${r.loss.dropped} of ${r.loss.datagrams} gossip packets dropped; views back to ${r.n} alive ${Number.isFinite(r.loss.recoveredMs) ? `${f0(r.loss.recoveredMs)} ms after` : 'not within 36 s'}`,
      });
    }
  }
  if (rep.lossSkipped !== undefined) rows.push({ name: `cluster: false failures under ${rep.settings.lossPercent}% loss`, value: NaN, unit: '', note: `skipped: ${rep.lossSkipped}` });
  return rows;
}

export async function clusterBenchmarks(): Promise<Row[]> {
  const s = settings();
  const why = lossUnsupported();
  let rep: BenchReport;
  if (why === undefined) {
    say(`  (in a private network namespace: unshare -n, nftables drops ${s.lossPercent} % of gossip ${s.lossTcp ? 'UDP and TCP' : 'UDP'} in the loss phase)\n`);
    rep = await runInNamespace(s);
  } else {
    say(
      `  the ${s.lossPercent} % loss rows are skipped: ${why}.\n` +
        `  To run them: as root, with unshare (util-linux), ip (iproute2) and nft (apt-get install -y nftables);\n` +
        `  the bench then re-runs itself under \`unshare -n\`, so the drop rule never touches the host's network.\n`,
    );
    rep = await runMeasurements(s, false, why);
  }
  process.stdout.write(comparison(rep));
  return toRows(rep);
}

// `unshare -n -- node --import tsx bench/cluster.bench.ts --inner <out.json>`: the namespace side.
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url && process.argv[2] === '--inner') {
  const out = process.argv[3];
  if (out === undefined) throw new Error('usage: cluster.bench.ts --inner <report.json>');
  let lossSkipped: string | undefined;
  try {
    execFileSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'ignore', timeout: 10_000 });
  } catch (e) {
    throw new Error(`cannot bring lo up in the namespace: ${(e as Error).message}`);
  }
  try {
    nft(['add', 'table', 'inet', NFT_TABLE]);
    nft(['delete', 'table', 'inet', NFT_TABLE]);
  } catch (e) {
    lossSkipped = `nft in the namespace: ${(e as Error).message}`;
  }
  const rep = await runMeasurements(settings(), lossSkipped === undefined, lossSkipped);
  // NaN (a timed-out measurement) survives as a string; runInNamespace turns it back.
  writeFileSync(out, JSON.stringify(rep, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));
  process.exit(0);
}
