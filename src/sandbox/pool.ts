/**
 * The agent pool: worker threads that each host many agents, and the main-thread side that places
 * agents, forwards messages between workers, watches for calls that overrun their wall-clock limit
 * and brings agents back when their worker dies.
 *
 * The pool routes only between its own agents. A message for a name it does not host goes to the
 * `onExternal` handlers (the router, the API's reply waiters), or is reported as undeliverable.
 */
import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { CaxtonError } from '../errors.js';
import type { CallPhase, FaultKind } from './agent-instance.js';
import { ModuleCache, type CachedModule } from './module-cache.js';
import { DEFAULT_POLICY, type SandboxPolicy } from './policy.js';
import { CallWatch, watchIntervalMs } from './watchdog.js';
import type { AgentRuntimeStats, FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';
import { WATCH_QUEUED, WATCH_SLOTS } from './worker-protocol.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 100 * 1024; // spec max_message_size
export const DEFAULT_MAILBOX_CAPACITY = 10_000;

export interface PoolOptions {
  /** SQLite file holding agent key-value state; every worker opens its own connection. */
  readonly databasePath: string;
  readonly policy?: SandboxPolicy;
  /** Worker threads. @default max(1, cores - 1) */
  readonly workers?: number;
  /** Largest message an agent may send, in bytes. @default 100 KiB */
  readonly maxMessageBytes?: number;
  /** Messages queued per agent before senders see ERR_BACKPRESSURE. @default 10,000 */
  readonly mailboxCapacity?: number;
}

export interface AgentSpec {
  readonly name: string;
  /** Hash of a module admitted with `admit()`. */
  readonly module: string;
  readonly id?: string;
  /** Handed to agent_init as `config`. @default {} */
  readonly config?: unknown;
}

export type AgentRunState = 'starting' | 'running';

export interface AgentInfo {
  readonly id: string;
  readonly name: string;
  readonly module: string;
  readonly worker: number;
  readonly restarts: number;
  readonly state: AgentRunState;
}

export type PoolEvent =
  | { readonly type: 'agent_started'; readonly name: string; readonly worker: number; readonly restarts: number }
  | { readonly type: 'agent_fault'; readonly name: string; readonly kind: FaultKind | 'timeout'; readonly phase: CallPhase; readonly message: string; readonly recovered: boolean }
  | { readonly type: 'agent_start_failed'; readonly name: string; readonly kind: FaultKind; readonly phase: CallPhase; readonly message: string }
  | { readonly type: 'agent_stopped'; readonly name: string; readonly status: number }
  | { readonly type: 'agent_log'; readonly name: string; readonly level: number; readonly text: string }
  | { readonly type: 'worker_replaced'; readonly worker: number; readonly reason: string; readonly agents: readonly string[]; readonly lostMessages: number }
  | { readonly type: 'undeliverable'; readonly from: string; readonly to: string; readonly reason: string; readonly json: string };

type Listener<T extends unknown[]> = (...args: T) => void;

interface AgentRecord {
  readonly key: number;
  readonly id: string;
  readonly name: string;
  readonly hash: string;
  readonly config: string;
  worker: number;
  restarts: number;
  timeouts: number;
  state: AgentRunState;
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

class WorkerSlot {
  worker!: Worker;
  watch!: CallWatch;
  slots!: Int32Array;
  readonly modules = new Set<string>();
  readonly agents = new Set<string>();
  pending: string[] = [];
  flushScheduled = false;
  /** Times of unplanned exits within the crash window. */
  crashes: number[] = [];
  /** Set once the worker crashed too often: it hosts nothing and gets no new agents. */
  dead = false;
  constructor(readonly index: number) {}
}

/** Starts one agent worker thread. */
function newAgentWorker(init: WorkerInit, name: string): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running under tsx (tests, benchmarks): on Node 20 worker threads do not inherit tsx's module
    // hooks, so the worker registers them itself before loading the TypeScript entry.
    const entry = new URL('./worker/agent-worker.ts', here).href;
    const api = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(boot, { eval: true, workerData: init, name });
  }
  return new Worker(new URL('./worker/agent-worker.js', here), { workerData: init, name });
}

/** A worker that dies unplanned more than this often within the window is not restarted again. */
const MAX_WORKER_CRASHES = 5;
const WORKER_CRASH_WINDOW_MS = 60_000;
/** An agent whose calls overrun the watchdog this many times is not brought back again. */
const MAX_AGENT_TIMEOUTS = 3;

export class AgentPool {
  readonly modules: ModuleCache;
  readonly policy: SandboxPolicy;
  readonly #opts: Required<Omit<PoolOptions, 'policy'>>;
  readonly #workers: WorkerSlot[] = [];
  readonly #agents = new Map<string, AgentRecord>();
  readonly #byKey = new Map<number, AgentRecord>();
  readonly #spawnWaiters = new Map<number, Waiter<AgentInfo>>();
  readonly #stopWaiters = new Map<string, Waiter<number>>();
  readonly #statsWaiters = new Map<number, { left: number; acc: AgentRuntimeStats[]; resolve(v: AgentRuntimeStats[]): void }>();
  readonly #eventListeners: Listener<[PoolEvent]>[] = [];
  readonly #externalListeners: Listener<[string, string, string]>[] = [];
  #nextKey = 1;
  #nextReq = 1;
  #forwarded = 0;
  #closed = false;
  #watchTimer: NodeJS.Timeout | undefined;

  private constructor(opts: PoolOptions) {
    this.policy = opts.policy ?? DEFAULT_POLICY;
    this.modules = new ModuleCache(this.policy);
    this.#opts = {
      databasePath: opts.databasePath,
      workers: opts.workers ?? Math.max(1, availableParallelism() - 1),
      maxMessageBytes: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      mailboxCapacity: opts.mailboxCapacity ?? DEFAULT_MAILBOX_CAPACITY,
    };
  }

  /** Starts the worker threads and resolves once all of them are online. */
  static async start(opts: PoolOptions): Promise<AgentPool> {
    const pool = new AgentPool(opts);
    const online: Promise<void>[] = [];
    for (let i = 0; i < pool.#opts.workers; i++) {
      const slot = new WorkerSlot(i);
      pool.#workers.push(slot);
      online.push(pool.#startWorker(slot));
    }
    await Promise.all(online);
    const interval = watchIntervalMs(pool.policy.maxCallMs);
    pool.#watchTimer = setInterval(() => pool.#checkWatchdogs(), interval);
    pool.#watchTimer.unref();
    return pool;
  }

  get workerCount(): number {
    return this.#workers.length;
  }

  /**
   * Agent-to-agent messages that crossed the main thread because sender and receiver live on
   * different workers. Messages between agents of one worker never do.
   */
  get forwardedMessages(): number {
    return this.#forwarded;
  }

  /** Admits (validates, rewrites, compiles) a module once; returns its cache entry. Throws CaxtonError. */
  admit(bytes: Uint8Array): CachedModule {
    return this.modules.admit(bytes);
  }

  /** Starts an agent on the least-loaded worker. Resolves when agent_init returned. */
  spawn(spec: AgentSpec): Promise<AgentInfo> {
    if (this.#closed) return Promise.reject(new CaxtonError('CAXTON_ERR_POOL_CLOSED', 'the agent pool is closed'));
    if (this.#agents.has(spec.name)) {
      return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_EXISTS', `an agent named ${spec.name} already runs on this node`, { agent: spec.name }));
    }
    const cached = this.modules.get(spec.module);
    if (cached === undefined) {
      return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `module ${spec.module} has not been admitted on this node`, { module: spec.module }));
    }
    let slot: WorkerSlot | undefined;
    for (const w of this.#workers) if (!w.dead && (slot === undefined || w.agents.size < slot.agents.size)) slot = w;
    if (slot === undefined) {
      return Promise.reject(new CaxtonError('CAXTON_ERR_POOL_CLOSED', 'every agent worker has crashed repeatedly; restart the node and check its logs'));
    }
    const rec: AgentRecord = {
      key: this.#nextKey++,
      id: spec.id ?? randomUUID(),
      name: spec.name,
      hash: cached.hash,
      config: JSON.stringify(spec.config ?? {}),
      worker: slot.index,
      restarts: 0,
      timeouts: 0,
      state: 'starting',
    };
    this.#agents.set(rec.name, rec);
    this.#byKey.set(rec.key, rec);
    slot.agents.add(rec.name);
    return new Promise<AgentInfo>((resolve, reject) => {
      this.#spawnWaiters.set(rec.key, { resolve, reject });
      this.#sendSpawn(slot, rec);
    });
  }

  /**
   * Queues `json` for the agent `to`. Returns false when the pool hosts no such agent. Deliveries
   * to one worker are batched into one postMessage per microtask.
   */
  deliver(to: string, json: string): boolean {
    const rec = this.#agents.get(to);
    if (rec === undefined) return false;
    const slot = this.#workers[rec.worker] as WorkerSlot;
    slot.pending.push(to, json);
    if (!slot.flushScheduled) {
      slot.flushScheduled = true;
      queueMicrotask(() => this.#flushDeliveries(slot));
    }
    return true;
  }

  /** Stops an agent: optionally drains its mailbox, runs agent_shutdown, clears its timers. */
  stop(name: string, options: { graceful?: boolean } = {}): Promise<number> {
    const rec = this.#agents.get(name);
    if (rec === undefined) return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', `no agent named ${name}`, { agent: name }));
    const slot = this.#workers[rec.worker] as WorkerSlot;
    this.#flushDeliveries(slot);
    return new Promise<number>((resolve, reject) => {
      this.#stopWaiters.set(name, { resolve, reject });
      this.#post(slot, { op: 'stop', name, graceful: options.graceful ?? true });
    });
  }

  agent(name: string): AgentInfo | undefined {
    const rec = this.#agents.get(name);
    return rec === undefined ? undefined : info(rec);
  }

  list(): AgentInfo[] {
    return [...this.#agents.values()].map(info);
  }

  /** Live counters of every agent, collected from all workers. */
  stats(): Promise<AgentRuntimeStats[]> {
    const reqId = this.#nextReq++;
    return new Promise((resolve) => {
      this.#statsWaiters.set(reqId, { left: this.#workers.length, acc: [], resolve });
      for (const slot of this.#workers) this.#post(slot, { op: 'stats', reqId });
    });
  }

  /** Subscribes to pool events; returns the unsubscribe function. A throwing listener is isolated. */
  onEvent(fn: Listener<[PoolEvent]>): () => void {
    return subscribe(this.#eventListeners, fn);
  }

  /** Receives messages whose receiver is not an agent of this pool: (from, to, json). */
  onExternal(fn: Listener<[string, string, string]>): () => void {
    return subscribe(this.#externalListeners, fn);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#watchTimer !== undefined) clearInterval(this.#watchTimer);
    const err = new CaxtonError('CAXTON_ERR_POOL_CLOSED', 'the agent pool was closed');
    for (const w of this.#spawnWaiters.values()) w.reject(err);
    for (const w of this.#stopWaiters.values()) w.reject(err);
    this.#spawnWaiters.clear();
    this.#stopWaiters.clear();
    await Promise.all(this.#workers.map((s) => s.worker.terminate()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- workers ----

  #startWorker(slot: WorkerSlot): Promise<void> {
    const watch = new SharedArrayBuffer(WATCH_SLOTS * 4);
    const init: WorkerInit = {
      workerIndex: slot.index,
      databasePath: this.#opts.databasePath,
      fuelPerCall: this.policy.fuelPerCall,
      maxMessageBytes: this.#opts.maxMessageBytes,
      mailboxCapacity: this.#opts.mailboxCapacity,
      watch,
    };
    const worker = newAgentWorker(init, `caxton-agents-${slot.index}`);
    slot.worker = worker;
    slot.slots = new Int32Array(watch);
    slot.watch = new CallWatch(slot.slots, this.policy.maxCallMs);
    slot.modules.clear();
    worker.on('message', (msg: FromWorker) => this.#onWorkerMessage(slot, msg));
    worker.on('error', (e) => this.#emit({ type: 'agent_log', name: `worker-${slot.index}`, level: 4, text: `worker error: ${e.message}` }));
    worker.on('exit', (code) => {
      if (this.#closed || slot.worker !== worker) return; // planned: closing, or already replaced
      const now = performance.now();
      slot.crashes = slot.crashes.filter((t) => now - t < WORKER_CRASH_WINDOW_MS);
      slot.crashes.push(now);
      if (slot.crashes.length > MAX_WORKER_CRASHES) this.#abandonWorker(slot, `worker exited with code ${code}`);
      else this.#replaceWorker(slot, `worker exited with code ${code}`);
    });
    return new Promise((resolve, reject) => {
      worker.once('online', () => resolve());
      worker.once('error', reject);
    });
  }

  #replaceWorker(slot: WorkerSlot, reason: string): void {
    const lost = Atomics.load(slot.slots, WATCH_QUEUED) + slot.pending.length / 2;
    slot.pending = [];
    slot.flushScheduled = false;
    void this.#startWorker(slot).catch(() => {});
    // Commands posted before 'online' are queued by Node and delivered in order.
    const names = [...slot.agents];
    for (const name of names) {
      const rec = this.#agents.get(name);
      if (rec === undefined) continue;
      rec.restarts++;
      rec.state = 'starting';
      this.#sendSpawn(slot, rec);
    }
    this.#emit({ type: 'worker_replaced', worker: slot.index, reason, agents: names, lostMessages: lost });
  }

  /** Gives up on a worker that keeps crashing: its agents fail instead of looping forever. */
  #abandonWorker(slot: WorkerSlot, reason: string): void {
    slot.dead = true;
    const names = [...slot.agents];
    for (const name of names) {
      const rec = this.#agents.get(name);
      if (rec === undefined) continue;
      this.#forget(rec);
      const err = new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `agent ${name} lost its worker, which crashed ${slot.crashes.length} times in ${WORKER_CRASH_WINDOW_MS / 1000} s (${reason})`, { agent: name });
      this.#spawnWaiters.get(rec.key)?.reject(err);
      this.#spawnWaiters.delete(rec.key);
      this.#emit({ type: 'agent_fault', name, kind: 'trap', phase: 'message', message: err.message, recovered: false });
    }
    this.#emit({ type: 'worker_replaced', worker: slot.index, reason: `${reason}; crashed too often, not restarted`, agents: [], lostMessages: Atomics.load(slot.slots, WATCH_QUEUED) });
  }

  #checkWatchdogs(): void {
    const now = performance.now();
    for (const slot of this.#workers) {
      const key = slot.watch.check(now);
      if (key === undefined) continue;
      slot.watch.reset();
      const rec = this.#byKey.get(key);
      const name = rec?.name ?? `#${key}`;
      // An agent that keeps overrunning would take its neighbours down with it every time.
      const giveUp = rec !== undefined && ++rec.timeouts >= MAX_AGENT_TIMEOUTS;
      if (giveUp) this.#forget(rec);
      this.#emit({
        type: 'agent_fault',
        name,
        kind: 'timeout',
        phase: rec?.state === 'starting' ? 'start' : 'message',
        message: `call ran longer than ${this.policy.maxCallMs} ms; worker ${slot.index} terminated${giveUp ? `; overran ${MAX_AGENT_TIMEOUTS} times, not brought back` : ''}`,
        recovered: !giveUp,
      });
      const old = slot.worker;
      // Replace first, so the 'exit' of the old worker is not taken for an unplanned crash.
      this.#replaceWorker(slot, `watchdog: agent ${name} overran ${this.policy.maxCallMs} ms`);
      void old.terminate();
    }
  }

  #sendSpawn(slot: WorkerSlot, rec: AgentRecord): void {
    if (!slot.modules.has(rec.hash)) {
      const cached = this.modules.get(rec.hash);
      if (cached === undefined) throw new Error(`module ${rec.hash} vanished from the cache`);
      this.#post(slot, { op: 'module', hash: rec.hash, module: cached.module });
      slot.modules.add(rec.hash);
    }
    this.#post(slot, { op: 'spawn', key: rec.key, id: rec.id, name: rec.name, hash: rec.hash, config: rec.config, restarts: rec.restarts });
  }

  #flushDeliveries(slot: WorkerSlot): void {
    slot.flushScheduled = false;
    if (slot.pending.length === 0) return;
    const batch = slot.pending;
    slot.pending = [];
    this.#post(slot, { op: 'deliver', batch });
  }

  #post(slot: WorkerSlot, msg: ToWorker): void {
    slot.worker.postMessage(msg);
  }

  #onWorkerMessage(slot: WorkerSlot, msg: FromWorker): void {
    switch (msg.op) {
      case 'out':
        this.#routeOut(msg.batch);
        break;
      case 'log':
        for (let i = 0; i + 2 < msg.batch.length; i += 3) {
          this.#emit({ type: 'agent_log', name: msg.batch[i] as string, level: msg.batch[i + 1] as number, text: msg.batch[i + 2] as string });
        }
        break;
      case 'spawned': {
        const rec = this.#byKey.get(msg.key);
        if (rec === undefined) break;
        rec.state = 'running';
        this.#emit({ type: 'agent_started', name: rec.name, worker: slot.index, restarts: rec.restarts });
        const w = this.#spawnWaiters.get(msg.key);
        this.#spawnWaiters.delete(msg.key);
        w?.resolve(info(rec));
        break;
      }
      case 'spawn_failed': {
        const rec = this.#byKey.get(msg.key);
        if (rec !== undefined) this.#forget(rec);
        this.#emit({ type: 'agent_start_failed', name: msg.name, kind: msg.kind, phase: msg.phase, message: msg.message });
        const w = this.#spawnWaiters.get(msg.key);
        this.#spawnWaiters.delete(msg.key);
        w?.reject(new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `agent ${msg.name} did not start: ${msg.kind} in ${msg.phase}: ${msg.message}`, { agent: msg.name, kind: msg.kind, phase: msg.phase }));
        break;
      }
      case 'fault': {
        const rec = this.#agents.get(msg.name);
        if (rec !== undefined) {
          rec.restarts++;
          if (!msg.recovered) this.#forget(rec);
        }
        this.#emit({ type: 'agent_fault', name: msg.name, kind: msg.kind, phase: msg.phase, message: msg.message, recovered: msg.recovered });
        break;
      }
      case 'undeliverable':
        this.#emit({ type: 'undeliverable', from: '', to: msg.to, reason: msg.reason, json: msg.json });
        break;
      case 'stopped': {
        const rec = this.#agents.get(msg.name);
        if (rec !== undefined) this.#forget(rec);
        this.#emit({ type: 'agent_stopped', name: msg.name, status: msg.status });
        const w = this.#stopWaiters.get(msg.name);
        this.#stopWaiters.delete(msg.name);
        w?.resolve(msg.status);
        break;
      }
      case 'stats': {
        const w = this.#statsWaiters.get(msg.reqId);
        if (w === undefined) break;
        w.acc.push(...msg.agents);
        if (--w.left === 0) {
          this.#statsWaiters.delete(msg.reqId);
          w.resolve(w.acc);
        }
        break;
      }
    }
  }

  /** Messages from agents to receivers outside their worker: flat [from, to, json, ...]. */
  #routeOut(batch: string[]): void {
    for (let i = 0; i + 2 < batch.length; i += 3) {
      const from = batch[i] as string;
      const to = batch[i + 1] as string;
      const json = batch[i + 2] as string;
      if (to !== '' && this.deliver(to, json)) {
        this.#forwarded++;
        continue;
      }
      if (this.#externalListeners.length > 0) {
        for (const fn of this.#externalListeners) {
          try {
            fn(from, to, json);
          } catch (e) {
            this.#emit({ type: 'agent_log', name: from, level: 4, text: `external handler failed: ${(e as Error).message}` });
          }
        }
      } else {
        this.#emit({ type: 'undeliverable', from, to, reason: to === '' ? 'no route for capability-addressed message' : `no agent named ${to}`, json });
      }
    }
  }

  #forget(rec: AgentRecord): void {
    this.#agents.delete(rec.name);
    this.#byKey.delete(rec.key);
    this.#workers[rec.worker]?.agents.delete(rec.name);
  }

  #emit(e: PoolEvent): void {
    for (const fn of this.#eventListeners) {
      try {
        fn(e);
      } catch {
        // A listener's failure must not stop the pool or the other listeners.
      }
    }
  }
}

function info(rec: AgentRecord): AgentInfo {
  return { id: rec.id, name: rec.name, module: rec.hash, worker: rec.worker, restarts: rec.restarts, state: rec.state };
}

function subscribe<T extends unknown[]>(list: Listener<T>[], fn: Listener<T>): () => void {
  list.push(fn);
  return () => {
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  };
}
