/**
 * The agent worker threads: starting them, giving every pair a direct channel, telling them where
 * agents live, noticing when one dies or a call in one overruns its limit, and starting a new thread
 * in its place. What happens to the agents of a lost worker is the pool's business (`WorkersEnv`).
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { CallWatch, watchIntervalMs } from './watchdog.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';
import { WATCH_QUEUED, WATCH_SLOTS } from './worker-protocol.js';
import type { RevokedEntry } from '../security/revoked-certs.js';
import { DIRECT_COUNTERS, type DirectStart, type DirectTls } from './worker/direct-link.js';

/** A worker that dies unplanned more than this often within the window is not restarted again. */
const MAX_WORKER_CRASHES = 5;
export const WORKER_CRASH_WINDOW_MS = 60_000;

/** One worker position: its index stays while the thread in it is replaced. */
export class WorkerSlot {
  worker!: Worker;
  watch!: CallWatch;
  slots!: Int32Array;
  /** Modules the current thread has been sent. */
  readonly modules = new Set<string>();
  readonly agents = new Set<string>();
  /** Deliveries not yet posted: flat [receiver, json, priority, ...]. */
  pending: (string | number)[] = [];
  flushScheduled = false;
  /** Times of unplanned exits within the crash window. */
  crashes: number[] = [];
  /** Set once the worker crashed too often: it hosts nothing and gets no new agents. */
  dead = false;
  /** The current thread's direct-path counters (worker/direct-link.ts), and the sums of the threads before it. */
  direct: Float64Array<ArrayBufferLike> = new Float64Array(DIRECT_COUNTERS);
  readonly directBefore = new Float64Array(DIRECT_COUNTERS);
  constructor(readonly index: number) {}

  /** Messages queued in the thread as of its last drain (read from shared memory, no round trip). */
  get queued(): number {
    return Atomics.load(this.slots, WATCH_QUEUED);
  }
}

/** A worker's own direct-path settings: with a configured first port, worker i listens on port + i. */
function directOf(config: DirectStart, slot: WorkerSlot): DirectStart {
  return config.port === 0 ? config : { ...config, port: config.port + slot.index };
}

/** Starts a worker thread on `entry`, a module path relative to this directory without its extension. */
export function newWorker(entry: string, workerData: unknown, name: string): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running under tsx (tests, benchmarks): on Node 20 worker threads do not inherit tsx's module
    // hooks, so the worker registers them itself before loading the TypeScript entry.
    const url = new URL(`${entry}.ts`, here).href;
    const api = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(url)}); });`;
    return new Worker(boot, { eval: true, workerData, name });
  }
  return new Worker(new URL(`${entry}.js`, here), { workerData, name });
}

/** Starts one agent worker thread. */
export function newAgentWorker(init: WorkerInit, name: string): Worker {
  return newWorker('./worker/agent-worker', init, name);
}

/** Every worker's settings except those the slot decides. */
export type WorkerConfig = Omit<WorkerInit, 'workerIndex' | 'watch' | 'directStats'> & {
  /** Wall-clock limit of one call into an agent, ms. */
  readonly maxCallMs: number;
};

/** What the workers need from the pool. */
export interface WorkersEnv {
  /**
   * The handler for the messages of the thread in `slot`. Built once per thread, so a message from a
   * worker costs no extra call on its way to the pool.
   */
  listener(slot: WorkerSlot): (msg: FromWorker) => void;
  /** A thread reported an error. */
  log(slot: WorkerSlot, text: string): void;
  /** A thread exited unplanned; `abandon`: it crashed too often and must not be restarted. */
  exited(slot: WorkerSlot, reason: string, abandon: boolean): void;
  /** A call into agent `key` in the thread of `slot` ran past maxCallMs. */
  overran(slot: WorkerSlot, key: number): void;
  /** Where agents live, flat [name, worker, ...], leaving out those on worker `except`. */
  placements(except: number): (string | number)[];
  /** A compiled module by hash. */
  compiled(hash: string): WebAssembly.Module | undefined;
}

export class Workers {
  readonly slots: WorkerSlot[] = [];
  readonly #config: WorkerConfig;
  readonly #env: WorkersEnv;
  /** Placement changes not yet sent to the workers: flat [name, worker, ...]. */
  #placements: (string | number)[] = [];
  #watchTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The direct path's settings once the node is in a cluster: every thread, and every replacement, gets them. */
  #direct: DirectStart | undefined;

  constructor(config: WorkerConfig, env: WorkersEnv) {
    this.#config = config;
    this.#env = env;
  }

  /** Starts `count` threads, resolves once all are online, then connects them and starts the watchdog. */
  async start(count: number): Promise<void> {
    const online: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const slot = new WorkerSlot(i);
      this.slots.push(slot);
      online.push(this.#startThread(slot));
    }
    await Promise.all(online);
    for (const slot of this.slots) this.#connectPeers(slot);
    this.#watchTimer = setInterval(() => this.#checkWatchdogs(), watchIntervalMs(this.#config.maxCallMs));
    this.#watchTimer.unref();
  }

  /** Stops the watchdog and the announcements; exits from now on are planned. Terminating is the caller's. */
  close(): void {
    this.#closed = true;
    if (this.#watchTimer !== undefined) clearInterval(this.#watchTimer);
  }

  /** The workers that have not been abandoned. */
  live(): WorkerSlot[] {
    return this.slots.filter((w) => !w.dead);
  }

  /** The live worker hosting the fewest agents (the first of equals), or undefined when none is left. */
  emptiest(): WorkerSlot | undefined {
    let slot: WorkerSlot | undefined;
    for (const w of this.slots) if (!w.dead && (slot === undefined || w.agents.size < slot.agents.size)) slot = w;
    return slot;
  }

  /**
   * Starts a new thread in the slot, in place of one that died or was terminated, and connects it.
   * Its agents are not brought back here. Returns how many messages were lost with the old thread.
   */
  restart(slot: WorkerSlot): number {
    const lost = slot.queued + slot.pending.length / 3;
    slot.pending = [];
    slot.flushScheduled = false;
    void this.#startThread(slot).catch(() => {});
    // Commands posted before 'online' are queued by Node and delivered in order.
    this.#connectPeers(slot);
    if (this.#direct !== undefined) slot.worker.postMessage({ op: 'direct_start', config: directOf(this.#direct, slot) } satisfies ToWorker);
    return lost;
  }

  /** Opens every worker's direct path to other nodes' workers (answered 'direct_listening' by each). */
  startDirect(config: DirectStart): void {
    this.#direct = config;
    for (const slot of this.slots) if (!slot.dead) slot.worker.postMessage({ op: 'direct_start', config: directOf(config, slot) } satisfies ToWorker);
  }

  /** New TLS material for the direct path: every thread now, and every later replacement. */
  setDirectTls(tls: DirectTls): void {
    if (this.#direct?.tls === undefined) return;
    this.#direct = { ...this.#direct, tls };
    this.broadcast({ op: 'direct_tls', tls });
  }

  /** Rows added to the revocation list: every thread now, and every later replacement with the whole list. */
  directRevoked(rows: readonly RevokedEntry[]): void {
    if (this.#direct?.tls === undefined) return;
    this.#direct = { ...this.#direct, revoked: [...(this.#direct.revoked ?? []), ...rows] };
    this.broadcast({ op: 'direct_revoked', rows });
  }

  /** Posts `msg` to every live worker. */
  broadcast(msg: ToWorker): void {
    for (const slot of this.slots) if (!slot.dead) slot.worker.postMessage(msg);
  }

  /** Sends a compiled module to a worker once. */
  ensureModule(slot: WorkerSlot, hash: string): void {
    if (slot.modules.has(hash)) return;
    const module = this.#env.compiled(hash);
    if (module === undefined) throw new Error(`module ${hash} vanished from the cache`);
    slot.worker.postMessage({ op: 'module', hash, module } satisfies ToWorker);
    slot.modules.add(hash);
  }

  /** Drops a module the pool forgot from the workers that have it (their agents no longer use it). */
  forgetModule(hash: string): void {
    for (const slot of this.slots) {
      if (slot.dead || !slot.modules.delete(hash)) continue;
      slot.worker.postMessage({ op: 'forget_module', hash } satisfies ToWorker);
    }
  }

  /** Tells every worker to forget the at-least-once ids an agent applied (its state was discarded). */
  forgetHandled(name: string): void {
    for (const slot of this.slots) if (!slot.dead) slot.worker.postMessage({ op: 'forget_handled', name } satisfies ToWorker);
  }

  /** Tells every worker where an agent lives now (-1: nowhere); batched per microtask. */
  announce(name: string, worker: number): void {
    this.#placements.push(name, worker);
    if (this.#placements.length > 2) return;
    queueMicrotask(() => {
      const batch = this.#placements;
      this.#placements = [];
      if (this.#closed) return;
      for (const w of this.slots) if (!w.dead) w.worker.postMessage({ op: 'placement', batch } satisfies ToWorker);
    });
  }

  #startThread(slot: WorkerSlot): Promise<void> {
    const watch = new SharedArrayBuffer(WATCH_SLOTS * 4);
    const directStats = new SharedArrayBuffer(DIRECT_COUNTERS * 8);
    const { maxCallMs, ...config } = this.#config;
    const init: WorkerInit = { workerIndex: slot.index, ...config, watch, directStats };
    // The counters of the thread replaced (sent and received are totals; open routes died with it).
    slot.directBefore[0] = (slot.directBefore[0] as number) + (slot.direct[0] as number);
    slot.directBefore[1] = (slot.directBefore[1] as number) + (slot.direct[1] as number);
    slot.direct = new Float64Array(directStats);
    const worker = newAgentWorker(init, `caxton-agents-${slot.index}`);
    slot.worker = worker;
    slot.slots = new Int32Array(watch);
    slot.watch = new CallWatch(slot.slots, maxCallMs);
    slot.modules.clear();
    worker.on('message', this.#env.listener(slot));
    worker.on('error', (e) => this.#env.log(slot, `worker error: ${e.message}`));
    worker.on('exit', (code) => {
      if (this.#closed || slot.worker !== worker) return; // planned: closing, or already replaced
      const now = performance.now();
      slot.crashes = slot.crashes.filter((t) => now - t < WORKER_CRASH_WINDOW_MS);
      slot.crashes.push(now);
      this.#env.exited(slot, `worker exited with code ${code}`, slot.crashes.length > MAX_WORKER_CRASHES);
    });
    return new Promise((resolve, reject) => {
      worker.once('online', () => resolve());
      worker.once('error', reject);
    });
  }

  /**
   * Gives `slot`'s worker a direct channel to every other live worker (and them to it), so agents on
   * different workers message each other without a hop through this thread. Channels to a replaced
   * worker are replaced with it; what was in flight to the old one died with it.
   */
  #connectPeers(slot: WorkerSlot): void {
    for (const other of this.slots) {
      if (other === slot || other.dead) continue;
      const { port1, port2 } = new MessageChannel();
      slot.worker.postMessage({ op: 'peer', worker: other.index, port: port1 } satisfies ToWorker, [port1]);
      other.worker.postMessage({ op: 'peer', worker: slot.index, port: port2 } satisfies ToWorker, [port2]);
    }
    // The new worker learns where every agent lives (the others already know).
    const all = this.#env.placements(slot.index);
    if (all.length > 0) slot.worker.postMessage({ op: 'placement', batch: all } satisfies ToWorker);
  }

  #checkWatchdogs(): void {
    const now = performance.now();
    for (const slot of this.slots) {
      if (slot.dead) continue;
      const key = slot.watch.check(now);
      if (key === undefined) continue;
      slot.watch.reset();
      this.#env.overran(slot, key);
    }
  }
}
