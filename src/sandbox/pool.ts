/**
 * The agent pool: worker threads that each host many agents, and the main-thread side that places
 * agents, forwards messages between workers, owns every agent's lifecycle state, supervises crashes
 * (restart with exponential back-off, give up after too many), and watches for calls that overrun
 * their wall-clock limit.
 *
 * The pool delivers only to its own agents. Where a message goes (an agent of this node, an API
 * caller, another node; by name, capability or topic) and how a refusal is answered is the router's
 * decision (src/messaging/router.ts): the pool hands it what its workers send out and tells it about
 * its agents (LocalAgents).
 *
 * This file is the facade and the per-message path (deliver, batching); the parts with a job of their
 * own live beside it: workers.ts (threads, peers, placement, watchdog), canary-runs.ts (canary
 * schedules), gathers.ts (requests to every worker), agent-record.ts, events.ts and envelope.ts.
 */
import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import { CaxtonError } from '../errors.js';
import { assertTransition, type AgentState } from '../agents/lifecycle.js';
import { CrashHistory, DEFAULT_RESTART_POLICY, type RestartPolicy } from '../agents/restart-policy.js';
import { capacityError, processCeiling, type CapacityLimit } from './capacity.js';
import { AdmissionWorker } from './admission.js';
import { ModuleCache, type CachedModule } from './module-cache.js';
import { DEFAULT_POLICY, type SandboxPolicy } from './policy.js';
import type { AgentRuntimeStats, FromWorker, RefusalCode, ReplicationMode, ToWorker, WorkerDelta } from './worker-protocol.js';
import { NORMAL, type PriorityLevel } from './worker/mailbox.js';
import type { ConversationInfo } from './worker/conversations.js';
import type { Hop } from './worker/hop-log.js';
import { AGENT_NAME_RULE, isAgentName } from '../messaging/message-schema.js';
import { SYSTEM_SENDER, SystemError, type SystemErrorCode } from '../messaging/system-messages.js';
import type { Directory, ExternalEndpoint, RemoteLink } from '../messaging/directory.js';
import { Registry, type CapabilityStrategy } from '../messaging/registry.js';
import { Router, type Where } from '../messaging/router.js';
import { canaryPlan, type CanaryPlan } from '../agents/canary-plan.js';
import { ACCEPTING, info, type AgentFaultInfo, type AgentInfo, type AgentRecord } from './agent-record.js';
import { CanaryRuns } from './canary-runs.js';
import { emitTo, subscribe, type Listener, type PoolEvent } from './events.js';
import { Gathers, mergeConversations } from './gathers.js';
import { WORKER_CRASH_WINDOW_MS, Workers, type WorkerConfig, type WorkerSlot } from './workers.js';
import type { RevokedEntry } from '../security/revoked-certs.js';
import { COUNTER_RECEIVED, COUNTER_ROUTES, COUNTER_SENT, type DirectStart, type DirectTls } from './worker/direct-link.js';

/** What the pool needs from the cluster for the workers' direct paths (src/cluster/direct-paths.ts). */
export interface DirectPathHooks {
  /** Worker `worker` asks for a fence for `name` to be sent to `node` (then answers refuseRoute, or nothing). */
  fence(worker: number, name: string, node: string, token: string, host: string, port: number): void;
}

export type { AgentFaultInfo, AgentInfo } from './agent-record.js';
export type { ExternalEndpoint } from '../messaging/directory.js';
export { isReliable, reliableIdOf } from './envelope.js';
export type { PoolEvent } from './events.js';
export type { CapabilityStrategy } from '../messaging/registry.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 100 * 1024; // spec max_message_size
export const DEFAULT_MAILBOX_CAPACITY = 10_000;
/** Bytes of messages per mailbox (2 × UTF-16 code units): about 10,000 messages of 3 KiB. */
export const DEFAULT_MAILBOX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

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
  /**
   * Bytes of messages queued per agent, counted as 2 × UTF-16 code units, before senders see
   * ERR_BACKPRESSURE, like a full mailbox. Critical messages have a tenth of it (at least two of
   * the largest messages) on top. @default 64 MiB
   */
  readonly mailboxBytes?: number;
  /** Crash supervision. @default DEFAULT_RESTART_POLICY (100 ms doubling to 30 s; failed after 5 crashes in 60 s) */
  readonly restartPolicy?: RestartPolicy;
  /**
   * How a message addressed to a capability picks one of the agents that registered it:
   * `round-robin` in turn; `least-loaded` the one with the fewest queued messages (sampled every
   * 200 ms, plus what was sent to it since). @default round-robin
   */
  readonly capabilityStrategy?: CapabilityStrategy;
  /** When an unacknowledged at-least-once message is first due for redelivery, ms after it was sent. @default 5,000 */
  readonly redeliverAfterMs?: number;
  /** Where names that are not agents of this pool live (the cluster). @default none: single node */
  readonly directory?: Directory;
  /** How the router hands messages to other nodes (src/messaging/remote-delivery.ts). @default none */
  readonly link?: RemoteLink;
  /**
   * Agents the pool holds at once, in any state (remove() frees a place); a spawn beyond fails at once
   * with CAXTON_ERR_NODE_CAPACITY. @default what the process allows (./capacity.ts): 12,000 while V8's
   * wasm trap handler is on (address space), else vm.max_map_count / 2.1 × 0.9 (28,084 by default)
   */
  readonly maxAgents?: number;
  /**
   * Bytes of admitted modules the pool keeps once no agent needs them; beyond, the least recently used
   * are forgotten (a deployment admits its module again from the database). @default 256 MiB
   */
  readonly moduleCacheBytes?: number;
}

export interface AgentSpec {
  readonly name: string;
  /** Hash of a module admitted with `admit()`. */
  readonly module: string;
  readonly id?: string;
  /** Handed to agent_init as `config`. @default {} */
  readonly config?: unknown;
  /** Start taking messages right away (running) or stay ready until `start()`. @default true */
  readonly start?: boolean;
  /**
   * Starts before this one that the agent should count (what agent_init reads as `restarts`): a
   * deployment brought back after a node restart carries on from its stored count. @default 0
   */
  readonly restarts?: number;
  /**
   * At-least-once message ids already applied to the agent's state (what a promoted replica returns,
   * src/agents/replication/): redelivered copies of them are dropped as duplicates.
   */
  readonly seen?: readonly string[];
}

export type UpgradeStrategy = 'immediate' | 'graceful' | 'canary';

export interface UpgradeOptions {
  /** @default graceful */
  readonly strategy?: UpgradeStrategy;
  /** For `canary`: stages and rollback limits; missing fields take DEFAULT_CANARY_PLAN's. */
  readonly canary?: Partial<CanaryPlan>;
}

export interface AgentStats extends AgentRuntimeStats {
  readonly state: AgentState;
  readonly restarts: number;
}

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
}

const REFUSAL_ERRORS: Readonly<Record<RefusalCode, SystemErrorCode>> = {
  no_agent: SystemError.noSuchAgent,
  mailbox_full: SystemError.mailboxFull,
  draining: SystemError.agentUnavailable,
  circuit_open: SystemError.circuitOpen,
};

export class AgentPool {
  readonly modules: ModuleCache;
  readonly policy: SandboxPolicy;
  readonly restartPolicy: RestartPolicy;
  readonly #opts: Required<Omit<PoolOptions, 'policy' | 'restartPolicy' | 'directory' | 'link' | 'maxAgents' | 'moduleCacheBytes'>>;
  /** At most this many agents; whether the limit is the caller's or the address space's. */
  readonly #capacity: { readonly agents: number; readonly limit: CapacityLimit };
  /** Agents held when a worker could not allocate an agent's memory: no new agent while as many are held. */
  #fullAt = Infinity;
  #fullReason = '';
  readonly #registry: Registry;
  /** Where every message that leaves a worker, or enters from the API or another node, goes. */
  readonly router: Router;
  readonly #threads: Workers;
  /** The same array as #threads.slots, read directly on the delivery path. */
  readonly #workers: WorkerSlot[];
  readonly #canaries: CanaryRuns<AgentRecord>;
  /** Requests answered by every worker (stats, conversations). */
  readonly #gathers = new Gathers();
  readonly #agents = new Map<string, AgentRecord>();
  readonly #byKey = new Map<number, AgentRecord>();
  readonly #spawnWaiters = new Map<number, Waiter<AgentInfo>>();
  readonly #stopWaiters = new Map<string, Waiter<number>[]>();
  /** With the module each upgrade goes to, which the module cache must keep. */
  readonly #upgradeWaiters = new Map<string, Waiter<AgentInfo> & { readonly hash: string }>();
  readonly #eventListeners: Listener<[PoolEvent]>[] = [];
  #onDeltas: ((batch: WorkerDelta[]) => void) | undefined;
  /** Replication releases not yet posted, per worker index: flat [name, seq, ...]. */
  readonly #releases = new Map<number, (string | number)[]>();
  #nextKey = 1;
  #closed = false;
  /** The cluster's side of the workers' direct paths, once started. */
  #direct: DirectPathHooks | undefined;

  private constructor(opts: PoolOptions) {
    this.policy = opts.policy ?? DEFAULT_POLICY;
    this.restartPolicy = opts.restartPolicy ?? DEFAULT_RESTART_POLICY;
    this.modules = new ModuleCache(this.policy, {
      admitter: new AdmissionWorker(),
      ...(opts.moduleCacheBytes === undefined ? {} : { maxBytes: opts.moduleCacheBytes }),
      inUse: () => this.#modulesInUse(),
      onEvict: (hash) => this.#threads.forgetModule(hash),
    });
    this.#capacity = opts.maxAgents === undefined ? processCeiling() : { agents: opts.maxAgents, limit: 'max_agents' };
    this.#opts = {
      databasePath: opts.databasePath,
      workers: opts.workers ?? Math.max(1, availableParallelism() - 1),
      maxMessageBytes: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      mailboxCapacity: opts.mailboxCapacity ?? DEFAULT_MAILBOX_CAPACITY,
      mailboxBytes: opts.mailboxBytes ?? DEFAULT_MAILBOX_BYTES,
      capabilityStrategy: opts.capabilityStrategy ?? 'round-robin',
      redeliverAfterMs: opts.redeliverAfterMs ?? 5000,
    };
    this.#registry = new Registry(this.#opts.capabilityStrategy, {
      deliver: (to, json, priority) => this.deliver(to, json, priority),
      accepting: (name) => this.#accepting(name),
      queued: () => this.stats(),
    });
    this.router = new Router(
      {
        deliver: (to, json, priority) => this.deliver(to, json, priority),
        stateOf: (name) => this.#agents.get(name)?.state,
        undeliverable: (from, to, json, code, reason, kept) => this.#emit({ type: 'undeliverable', from, to, reason, json, kept, code }),
        warn: (name, text) => this.#emit({ type: 'agent_log', name, level: 4, text }),
      },
      this.#registry,
      { ...(opts.directory === undefined ? {} : { directory: opts.directory }), ...(opts.link === undefined ? {} : { link: opts.link }) },
    );
    const config: WorkerConfig = {
      databasePath: this.#opts.databasePath,
      fuelPerCall: this.policy.fuelPerCall,
      maxMessageBytes: this.#opts.maxMessageBytes,
      mailboxCapacity: this.#opts.mailboxCapacity,
      mailboxBytes: this.#opts.mailboxBytes,
      redeliverAfterMs: this.#opts.redeliverAfterMs,
      maxCallMs: this.policy.maxCallMs,
    };
    this.#threads = new Workers(config, {
      listener: (slot) => (msg: FromWorker) => this.#onWorkerMessage(slot, msg),
      log: (slot, text) => this.#emit({ type: 'agent_log', name: `worker-${slot.index}`, level: 4, text }),
      exited: (slot, reason, abandon) => {
        if (abandon) this.#abandonWorker(slot, reason);
        else this.#replaceWorker(slot, reason, undefined);
      },
      overran: (slot, key) => this.#overran(slot, key),
      placements: (except) => {
        const all: (string | number)[] = [];
        for (const rec of this.#agents.values()) if (rec.inWorker && rec.worker !== except) all.push(rec.name, rec.worker);
        return all;
      },
      compiled: (hash) => this.modules.get(hash)?.module,
    });
    this.#workers = this.#threads.slots;
    this.#canaries = new CanaryRuns<AgentRecord>({
      post: (rec, msg) => this.#post(this.#slotOf(rec), msg),
      emit: (e) => this.#emit(e),
      rejectUpgrade: (name, e) => {
        const w = this.#upgradeWaiters.get(name);
        this.#upgradeWaiters.delete(name);
        w?.reject(e);
      },
    });
  }

  /** Starts the worker threads and resolves once all of them are online. */
  static async start(opts: PoolOptions): Promise<AgentPool> {
    const pool = new AgentPool(opts);
    await pool.#threads.start(pool.#opts.workers);
    pool.#registry.start();
    return pool;
  }

  get workerCount(): number {
    return this.#workers.length;
  }

  /** The most agents this pool holds (maxAgents, or what the process allows, ./capacity.ts; Infinity: unlimited). */
  get capacity(): number {
    return this.#capacity.agents;
  }

  /**
   * Agent-to-agent messages that crossed the main thread because sender and receiver live on
   * different workers. Messages between agents of one worker never do.
   */
  get forwardedMessages(): number {
    return this.router.forwarded;
  }

  /**
   * Admits (validates, rewrites, compiles) a module once, in the admission worker thread; resolves
   * with its cache entry, rejects with a CaxtonError for a bad module.
   */
  admit(bytes: Uint8Array): Promise<CachedModule> {
    return this.modules.admit(bytes);
  }

  /** Every module an agent of the pool runs or may run again (stopped ones included), or is being upgraded to. */
  #modulesInUse(): Set<string> {
    const used = new Set<string>();
    for (const rec of this.#agents.values()) {
      used.add(rec.hash);
      if (rec.canary !== undefined) used.add(rec.canary.hash);
    }
    for (const w of this.#upgradeWaiters.values()) used.add(w.hash);
    return used;
  }

  /**
   * Forgets compiled modules that no agent of the pool runs and `keep` does not name. Workers keep
   * their own copy of a module until they are replaced. Returns how many were dropped.
   */
  evictModules(keep: ReadonlySet<string>): number {
    const used = this.#modulesInUse();
    for (const hash of keep) used.add(hash);
    let n = 0;
    for (const hash of this.modules.hashes()) {
      if (used.has(hash) || !this.modules.delete(hash)) continue;
      this.#threads.forgetModule(hash);
      n++;
    }
    return n;
  }

  /** Starts an agent on the least-loaded worker. Resolves once agent_init returned. */
  spawn(spec: AgentSpec): Promise<AgentInfo> {
    if (this.#closed) return Promise.reject(new CaxtonError('CAXTON_ERR_POOL_CLOSED', 'the agent pool is closed'));
    if (!isAgentName(spec.name) || spec.name === SYSTEM_SENDER) {
      return Promise.reject(
        new CaxtonError('CAXTON_ERR_AGENT_NAME', `agent name ${JSON.stringify(spec.name)} is not allowed: use ${AGENT_NAME_RULE}; "${SYSTEM_SENDER}" is reserved for the node`, { agent: spec.name }),
      );
    }
    if (this.#agents.has(spec.name)) {
      return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_EXISTS', `an agent named ${spec.name} already exists on this node`, { agent: spec.name }));
    }
    const held = this.#agents.size;
    if (held >= this.#capacity.agents) return Promise.reject(capacityError(spec.name, held, this.#capacity.limit, this.#capacity.agents));
    if (held >= this.#fullAt) return Promise.reject(capacityError(spec.name, held, 'memory', this.#fullAt, this.#fullReason));
    const cached = this.modules.get(spec.module);
    if (cached === undefined) {
      return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `module ${spec.module} has not been admitted on this node`, { module: spec.module }));
    }
    const rec: AgentRecord = {
      key: this.#nextKey++,
      id: spec.id ?? randomUUID(),
      name: spec.name,
      hash: cached.hash,
      config: JSON.stringify(spec.config ?? {}),
      worker: -1,
      state: 'loaded',
      resumeTo: spec.start === false ? 'ready' : 'running',
      inWorker: false,
      restarts: spec.restarts ?? 0,
      started: false,
      runningSince: 0,
      lastFault: undefined,
      crashes: new CrashHistory(this.restartPolicy),
      restartTimer: undefined,
      drainTimer: undefined,
      stopRequested: false,
      canary: undefined,
      replication: undefined,
      replSeq: 0,
      fenced: false,
      seen: spec.seen,
    };
    this.#agents.set(rec.name, rec);
    this.#byKey.set(rec.key, rec);
    return this.#place(rec);
  }

  /**
   * Queues `json` for the agent `to`. Returns false when the pool has no such agent or it takes no
   * messages (draining, stopped, failed). Messages for a suspended, ready or restarting agent wait in
   * its mailbox. Deliveries to one worker are batched into one postMessage per microtask.
   */
  deliver(to: string, json: string, priority: PriorityLevel = NORMAL): boolean {
    const rec = this.#agents.get(to);
    if (rec === undefined || !rec.inWorker || !ACCEPTING.has(rec.state)) return false;
    const slot = this.#workers[rec.worker] as WorkerSlot;
    slot.pending.push(to, json, priority);
    if (!slot.flushScheduled) {
      slot.flushScheduled = true;
      queueMicrotask(() => this.#flushDeliveries(slot));
    }
    return true;
  }

  /**
   * Delivers `json` to one agent that registered `capability`: of this pool, chosen by the pool's
   * strategy among those taking messages, else on another node (the router). Returns the local
   * agent's name, `remote:<node>`, or undefined when no provider can take it.
   */
  deliverToCapability(capability: string, json: string, priority: PriorityLevel = NORMAL): string | undefined {
    return this.router.toCapability(capability, json, priority);
  }

  /**
   * Publishes `json` to every running subscriber of `topic` except `from` (the publisher), as it is,
   * here and on the other nodes with subscribers (the router). Returns how many local agents and
   * other nodes took it (0 is not an error: nobody listens).
   */
  publish(topic: string, json: string, from = '', priority: PriorityLevel = NORMAL): number {
    return this.router.publish(topic, json, from, priority);
  }

  /** The agents subscribed to a topic. */
  subscribersOf(topic: string): readonly string[] {
    return this.#registry.subscribersOf(topic);
  }

  /** What one agent offers: its capabilities and topic subscriptions, sorted. */
  offersOf(name: string): { capabilities: string[]; topics: string[] } {
    return this.#registry.offersOf(name);
  }

  /** The agents that registered a capability. */
  providersOf(capability: string): readonly string[] {
    return this.#registry.providersOf(capability);
  }

  /** Every capability at least one agent has registered, sorted. */
  capabilities(): string[] {
    return this.#registry.capabilities();
  }

  /**
   * Opens circuit breakers by hand: messages to the agent (or to every agent, without a name) are
   * refused with a `circuit_open` failure until `resetCircuits`.
   */
  openCircuits(name?: string): void {
    if (name !== undefined) this.#require(name);
    for (const slot of this.#live(name)) this.#post(slot, { op: 'circuit', name: name ?? null, action: 'force' });
  }

  /**
   * Closes circuit breakers (one agent's, or every agent's), and the agents' per-sender circuits.
   * With `gradualMs`, a breaker that was open lets traffic back in gradually: the share of its
   * messages it admits rises linearly from 0 to 100 % over that time (the rest are refused with
   * circuit_open as before), so a recovering agent is not hit by every sender at once.
   */
  resetCircuits(options: { name?: string; gradualMs?: number } = {}): void {
    if (options.name !== undefined) this.#require(options.name);
    const rampMs = options.gradualMs ?? 0;
    for (const slot of this.#live(options.name)) this.#post(slot, { op: 'circuit', name: options.name ?? null, action: 'reset', ...(rampMs > 0 ? { rampMs } : {}) });
  }

  /** Resolves with agent_shutdown's status once the agent's worker confirms it stopped. */
  #stoppedSignal(name: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const list = this.#stopWaiters.get(name) ?? [];
      list.push({ resolve, reject });
      this.#stopWaiters.set(name, list);
    });
  }

  /** The live workers hosting `name`, or all live workers. */
  #live(name: string | undefined): WorkerSlot[] {
    if (name === undefined) return this.#threads.live();
    const rec = this.#agents.get(name);
    return rec !== undefined && rec.inWorker ? [this.#slotOf(rec)] : [];
  }

  /** ready → running: the agent starts taking its messages. */
  start(name: string): void {
    const rec = this.#require(name);
    assertTransition(name, rec.state, 'running', 'start');
    this.#setState(rec, 'running');
    this.#post(this.#slotOf(rec), { op: 'hold', name, held: false });
  }

  /** running → suspended: messages are held in the mailbox; the instance and its memory stay. */
  suspend(name: string): void {
    const rec = this.#require(name);
    if (rec.state === 'loaded' && rec.resumeTo === 'running') {
      rec.resumeTo = 'suspended'; // restarting: it comes back suspended
      return;
    }
    assertTransition(name, rec.state, 'suspended', 'suspend');
    this.#setState(rec, 'suspended');
    this.#post(this.#slotOf(rec), { op: 'hold', name, held: true });
  }

  /** suspended → running: the held messages are handled, in order. */
  resume(name: string): void {
    const rec = this.#require(name);
    if (rec.state === 'loaded' && rec.resumeTo === 'suspended') {
      rec.resumeTo = 'running';
      return;
    }
    if (rec.state !== 'suspended') {
      throw new CaxtonError('CAXTON_ERR_AGENT_STATE', `cannot resume agent ${name}: it is ${rec.state}, and only a suspended agent can be resumed`, { agent: name, state: rec.state });
    }
    this.#setState(rec, 'running');
    this.#post(this.#slotOf(rec), { op: 'hold', name, held: false });
  }

  /**
   * Stops an agent. Graceful (the default): it takes no new messages, handles those already queued,
   * runs agent_shutdown, and is stopped; after `drainTimeoutMs` the rest is dropped. Otherwise the
   * queued messages are dropped at once. Resolves with agent_shutdown's status. The agent keeps its
   * name (and its key-value state) until `remove()`.
   */
  stop(name: string, options: { graceful?: boolean; drainTimeoutMs?: number } = {}): Promise<number> {
    const rec = this.#agents.get(name);
    if (rec === undefined) return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', `no agent named ${name}`, { agent: name }));
    if (rec.state === 'stopped' || rec.state === 'failed') {
      return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${name} is already ${rec.state}`, { agent: name, state: rec.state }));
    }
    const done = this.#stoppedSignal(name);
    this.#clearTimers(rec);
    rec.stopRequested = true;
    if (!rec.inWorker) {
      // Waiting for a restart: nothing runs, so there is nothing to drain.
      this.#stopped(rec, 0, 0);
      return done;
    }
    const slot = this.#slotOf(rec);
    this.#flushDeliveries(slot);
    if (options.graceful ?? true) {
      if (rec.state !== 'draining') this.#setState(rec, 'draining');
      this.#post(slot, { op: 'drain', name });
      rec.drainTimer = setTimeout(() => {
        this.#post(slot, { op: 'stop', name });
      }, options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    } else {
      this.#post(slot, { op: 'stop', name });
    }
    return done;
  }

  /**
   * Replaces a live agent's module, keeping its name, mailbox, timers and key-value state.
   * `immediate` swaps at the next message boundary; `graceful` lets the old version finish the
   * messages queued now, then swaps. The new version starts before the old one shuts down, so a new
   * version that fails to start leaves the old one running and the promise rejects.
   *
   * `canary` runs the new version beside the old one, under the same name, taking a growing share of
   * the messages stage by stage (worker/canary.ts), and promotes it after the last stage. It is rolled
   * back, and the promise rejects with CAXTON_ERR_UPGRADE_ROLLED_BACK, when it crashes, crosses its
   * error-rate or P99 limit, the operator calls `rollbackCanary`, or the agent stops or restarts.
   */
  upgrade(name: string, moduleHash: string, options: UpgradeOptions = {}): Promise<AgentInfo> {
    const rec = this.#agents.get(name);
    if (rec === undefined) return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', `no agent named ${name}`, { agent: name }));
    if (!rec.inWorker || !(rec.state === 'running' || rec.state === 'suspended' || rec.state === 'ready')) {
      return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_STATE', `cannot upgrade agent ${name}: it is ${rec.state}; upgrade a running, suspended or ready agent`, { agent: name, state: rec.state }));
    }
    if (this.#upgradeWaiters.has(name)) {
      return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${name} is already being upgraded`, { agent: name }));
    }
    const cached = this.modules.get(moduleHash);
    if (cached === undefined) {
      return Promise.reject(new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `module ${moduleHash} has not been admitted on this node`, { module: moduleHash }));
    }
    const strategy = options.strategy ?? 'graceful';
    let plan: CanaryPlan | undefined;
    if (strategy === 'canary') {
      try {
        plan = canaryPlan(options.canary);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const slot = this.#slotOf(rec);
    this.#threads.ensureModule(slot, cached.hash);
    this.#flushDeliveries(slot);
    return new Promise<AgentInfo>((resolve, reject) => {
      this.#upgradeWaiters.set(name, { resolve, reject, hash: cached.hash });
      if (plan === undefined) this.#post(slot, { op: 'upgrade', name, hash: cached.hash, graceful: strategy === 'graceful' });
      else this.#canaries.begin(rec, cached.hash, plan);
    });
  }

  /** Ends a canary upgrade now, promoting the new version. */
  promoteCanary(name: string): void {
    this.#canaries.end(this.#require(name), true, '');
  }

  /** Ends a canary upgrade now, rolling it back: the old version takes every message again. */
  rollbackCanary(name: string, reason = 'rolled back by the operator'): void {
    this.#canaries.end(this.#require(name), false, reason);
  }

  /** stopped or failed → loaded → running: starts the agent again from its module, with its state. */
  async restart(name: string): Promise<AgentInfo> {
    const rec = this.#require(name);
    if (rec.state !== 'stopped' && rec.state !== 'failed') await this.stop(name, { graceful: true });
    if (rec.inWorker) {
      // Given up on a moment ago: its worker has not confirmed dropping it yet. Starting it again
      // before that confirmation would let the late 'stopped' cancel the new start.
      await this.#stoppedSignal(name);
    }
    assertTransition(name, rec.state, 'loaded', 'restart');
    rec.crashes.reset();
    rec.restarts++;
    rec.stopRequested = false;
    rec.resumeTo = 'running';
    this.#setState(rec, 'loaded');
    return this.#place(rec);
  }

  /**
   * For an agent removed with its state discarded (a superseded copy, src/agents/handoff.ts): the
   * workers forget the at-least-once ids it applied, so that a copy redelivered to this node (its ack
   * was never given) is applied to the state the agent comes back with, not dropped as handled.
   */
  forgetHandled(name: string): void {
    this.#threads.forgetHandled(name);
  }

  /** Forgets an agent. A live agent is stopped at once first. Its key-value state is kept. */
  async remove(name: string): Promise<void> {
    const rec = this.#require(name);
    if (rec.state !== 'stopped' && rec.state !== 'failed') await this.stop(name, { graceful: false });
    this.#clearTimers(rec);
    this.#registry.unregister(name);
    this.#agents.delete(name);
    this.#byKey.delete(rec.key);
    this.#fullAt = Infinity; // a place is free: the next failed allocation measures capacity again
    this.#emit({ type: 'agent_removed', name });
  }

  agent(name: string): AgentInfo | undefined {
    const rec = this.#agents.get(name);
    return rec === undefined ? undefined : info(rec);
  }

  list(): AgentInfo[] {
    return [...this.#agents.values()].map(info);
  }

  /** Live counters of every agent that is in a worker, collected from all workers. */
  async stats(): Promise<AgentStats[]> {
    const raw = (await this.#gather((reqId) => ({ op: 'stats', reqId }))) as AgentRuntimeStats[];
    const out: AgentStats[] = [];
    for (const s of raw) {
      const rec = this.#agents.get(s.name);
      if (rec !== undefined) out.push({ ...s, state: rec.state, restarts: rec.restarts });
    }
    return out;
  }

  /**
   * The at-least-once message ids agent `name` applied lately (its workers' dedup windows), at most
   * `max`, the newest: a live move hands them to the agent's new node, which then drops copies of them.
   */
  async handledIds(name: string, max: number): Promise<string[]> {
    const parts = (await this.#gather((reqId) => ({ op: 'handled', reqId, name, max }))) as string[][];
    const ids = [...new Set(parts.flat())];
    return ids.length > max ? ids.slice(ids.length - max) : ids;
  }

  /**
   * Conversations the agents took part in (as senders), merged across workers: participants,
   * protocol, message count, first and last activity. Idle ones (5 min) are forgotten.
   */
  async conversations(): Promise<ConversationInfo[]> {
    return mergeConversations((await this.#gather((reqId) => ({ op: 'conversations', reqId }))) as ConversationInfo[]);
  }

  /**
   * Waits until the agents are quiet: no message is waiting for an agent that would handle it, and
   * nothing moved between two looks `everyMs` apart (a message between threads shows as a count that
   * still changes). Messages held for suspended or restarting agents are not waited for. Resolves with
   * whether it got there within `timeoutMs`, and how many messages were still waiting if not.
   * Used by a node that shuts down: agent-to-agent traffic finishes before any agent stops.
   */
  async quiesce(timeoutMs: number, everyMs = 10): Promise<{ quiet: boolean; queued: number }> {
    const deadline = performance.now() + timeoutMs;
    let last = -1;
    for (;;) {
      const parts = (await this.#gather((reqId) => ({ op: 'activity', reqId }))) as { queued: number; moved: number }[];
      let queued = 0;
      let moved = this.router.forwarded;
      for (const p of parts) {
        queued += p.queued;
        moved += p.moved;
      }
      for (const slot of this.#workers) queued += slot.pending.length / 3; // batched here, not yet posted
      if (queued === 0 && moved === last) return { quiet: true, queued: 0 };
      if (performance.now() >= deadline || this.#closed) return { quiet: false, queued };
      last = moved;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** How many conversations the agents take part in (the metric), without shipping them. */
  async conversationCount(): Promise<number> {
    const parts = (await this.#gather((reqId) => ({ op: 'conversation_hashes', reqId }))) as Uint32Array[];
    if (parts.length === 1) return (parts[0] as Uint32Array).length;
    const distinct = new Set<number>();
    for (const p of parts) for (const h of p) distinct.add(h);
    return distinct.size;
  }

  /**
   * One conversation as the workers know it: the merged table entry (undefined when no agent took
   * part or it went idle) and the hops agents sent in it that are still in the workers' hop logs,
   * oldest first.
   */
  async conversation(id: string): Promise<{ info: ConversationInfo | undefined; hops: Hop[] }> {
    const parts = (await this.#gather((reqId) => ({ op: 'conversation', reqId, id }))) as { conversation: ConversationInfo | undefined; hops: Hop[] }[];
    const infos = parts.flatMap((p) => (p.conversation === undefined ? [] : [p.conversation]));
    const hops = parts.flatMap((p) => p.hops).sort((a, b) => a.time - b.time);
    return { info: mergeConversations(infos)[0], hops };
  }

  /** Sends a request to every live worker and collects the answers. */
  #gather(request: (reqId: number) => ToWorker): Promise<unknown[]> {
    const live = this.#threads.live();
    if (live.length === 0 || this.#closed) return Promise.resolve([]);
    return this.#gathers.open(live.length, (reqId) => {
      const msg = request(reqId);
      for (const slot of live) this.#post(slot, msg);
    });
  }

  // ---- state replication (the engine is src/agents/replication/; the pool carries its messages) ----

  /** Takes the replication deltas of every agent (one listener: the node's StateReplicator). */
  onDeltas(fn: (batch: WorkerDelta[]) => void): void {
    this.#onDeltas = fn;
  }

  /**
   * Starts, changes or stops replicating an agent's state. With settings, its worker posts a full
   * snapshot, then a delta per handler that wrote; kept across re-spawns. `off` releases what is held;
   * `fenced` (another node owns the agent now) drops it and stops the agent handling messages.
   */
  setReplication(name: string, settings: { readonly mode: ReplicationMode; readonly epoch: number; readonly seq?: number } | 'off' | 'fenced'): void {
    const rec = this.#require(name);
    rec.replication = typeof settings === 'string' ? undefined : { mode: settings.mode, epoch: settings.epoch };
    rec.fenced = settings === 'fenced';
    // A promoted agent numbers its deltas on from the copy it took over.
    if (typeof settings !== 'string' && settings.seq !== undefined && settings.seq > rec.replSeq) rec.replSeq = settings.seq;
    if (!rec.inWorker) return;
    const s = typeof settings === 'string' ? { mode: settings, epoch: 0 } : settings;
    this.#post(this.#slotOf(rec), { op: 'replicate', name, mode: s.mode, epoch: s.epoch, seq: rec.replSeq });
  }

  /** The replica holds the agent's deltas up to `seq`: its worker releases what waited for them. */
  replicated(name: string, seq: number): void {
    const rec = this.#agents.get(name);
    if (rec === undefined || !rec.inWorker) return;
    let batch = this.#releases.get(rec.worker);
    if (batch === undefined) {
      batch = [];
      this.#releases.set(rec.worker, batch);
      const worker = rec.worker;
      queueMicrotask(() => {
        const b = this.#releases.get(worker);
        this.#releases.delete(worker);
        const slot = this.#workers[worker];
        if (b !== undefined && slot !== undefined && !slot.dead) this.#post(slot, { op: 'replicated', batch: b });
      });
    }
    batch.push(name, seq);
  }

  /** Subscribes to pool events; returns the unsubscribe function. A throwing listener is isolated. */
  onEvent(fn: Listener<[PoolEvent]>): () => void {
    return subscribe(this.#eventListeners, fn);
  }

  /**
   * Adds a receiver outside the agents (src/messaging/directory.ts): messages by name that no agent
   * of this node and no other node takes go to the first endpoint that accepts the name. Returns the
   * function that removes it again.
   */
  addEndpoint(ep: ExternalEndpoint): () => void {
    return this.router.addEndpoint(ep);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#threads.close();
    this.#registry.close();
    for (const rec of this.#agents.values()) {
      this.#clearTimers(rec);
      this.#canaries.cancel(rec);
    }
    const err = new CaxtonError('CAXTON_ERR_POOL_CLOSED', 'the agent pool was closed');
    for (const w of this.#spawnWaiters.values()) w.reject(err);
    for (const list of this.#stopWaiters.values()) for (const w of list) w.reject(err);
    for (const w of this.#upgradeWaiters.values()) w.reject(err);
    this.#gathers.settleAll();
    this.#upgradeWaiters.clear();
    this.#spawnWaiters.clear();
    this.#stopWaiters.clear();
    await Promise.all([...this.#workers.map((s) => s.worker.terminate()), this.modules.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- lifecycle ----

  #accepting(name: string): boolean {
    const rec = this.#agents.get(name);
    return rec !== undefined && rec.inWorker && ACCEPTING.has(rec.state);
  }

  #require(name: string): AgentRecord {
    const rec = this.#agents.get(name);
    if (rec === undefined) throw new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', `no agent named ${name}`, { agent: name });
    return rec;
  }

  #setState(rec: AgentRecord, to: AgentState): void {
    const from = rec.state;
    if (from === to) return;
    rec.state = to;
    if (to === 'running') rec.runningSince = Date.now();
    this.#emit({ type: 'agent_state', name: rec.name, from, to });
  }

  #slotOf(rec: AgentRecord): WorkerSlot {
    return this.#workers[rec.worker] as WorkerSlot;
  }

  /** Puts a loaded agent on the least-loaded live worker and starts it there. */
  #place(rec: AgentRecord): Promise<AgentInfo> {
    const slot = this.#threads.emptiest();
    if (slot === undefined) {
      this.#agents.delete(rec.name);
      this.#byKey.delete(rec.key);
      return Promise.reject(new CaxtonError('CAXTON_ERR_POOL_CLOSED', 'every agent worker has crashed repeatedly; restart the node and check its logs'));
    }
    rec.worker = slot.index;
    slot.agents.add(rec.name);
    return new Promise<AgentInfo>((resolve, reject) => {
      this.#spawnWaiters.set(rec.key, { resolve, reject });
      this.#sendSpawn(slot, rec);
    });
  }

  /**
   * A crash no single message explains (an overrun, a failed start or re-instantiation, a fault outside
   * handle_message): back off and restart, or give up. A crash in handle_message is poison instead
   * (#poisoned): not counted here.
   */
  #crashed(rec: AgentRecord, fault: AgentFaultInfo): void {
    rec.lastFault = fault;
    if (rec.stopRequested || rec.state === 'failed' || rec.state === 'stopped') {
      // It was being stopped (or is already given up on): do not bring it back.
      this.#emit({ type: 'agent_fault', name: rec.name, kind: fault.kind, phase: fault.phase, message: fault.message, recovered: false });
      if (rec.state !== 'failed' && rec.state !== 'stopped') {
        if (rec.inWorker) this.#post(this.#slotOf(rec), { op: 'stop', name: rec.name });
        else this.#stopped(rec, 0, 0);
      }
      return;
    }
    if (rec.state !== 'loaded') {
      if (rec.state !== 'draining') rec.resumeTo = rec.state === 'ready' || rec.state === 'suspended' ? rec.state : 'running';
      else rec.resumeTo = 'draining';
      this.#setState(rec, 'loaded');
    }
    const decision = rec.crashes.record(performance.now());
    const recovered = decision.action === 'restart';
    this.#emit({ type: 'agent_fault', name: rec.name, kind: fault.kind, phase: fault.phase, message: fault.message, recovered });
    if (decision.action === 'give_up') {
      this.#fail(rec, `crashed ${decision.recent} times within ${this.restartPolicy.windowMs / 1000} s; last: ${fault.kind}: ${fault.message}`);
      return;
    }
    rec.restartTimer = setTimeout(() => {
      rec.restartTimer = undefined;
      if (this.#closed || rec.state !== 'loaded' || this.#agents.get(rec.name) !== rec) return;
      rec.restarts++;
      if (rec.inWorker) this.#post(this.#slotOf(rec), { op: 'restart', name: rec.name, restarts: rec.restarts });
      else this.#sendSpawn(this.#slotOf(rec), rec);
    }, decision.delayMs);
  }

  /**
   * A message crashed the agent and its worker re-instantiated it at once (or reports, in a 'fault'
   * after this, that it could not): not a crash for the restart intensity. The message is handed to
   * the listeners as poison (the node dead-letters it).
   */
  #poisoned(slot: WorkerSlot, msg: Extract<FromWorker, { op: 'poison' }>): void {
    const rec = this.#agents.get(msg.name);
    if (rec !== undefined) {
      rec.restarts = Math.max(rec.restarts, msg.restarts);
      rec.lastFault = { kind: msg.kind, phase: 'message', message: msg.message, at: Date.now() };
    }
    // The fault first, then what it did to the message: cause before effect, in the journal too.
    this.#emit({ type: 'agent_fault', name: msg.name, kind: msg.kind, phase: 'message', message: msg.message, recovered: true });
    this.#emit({ type: 'message_poisoned', name: msg.name, sender: msg.sender, reason: msg.reason, json: msg.json, ...(msg.messageId === '' ? {} : { messageId: msg.messageId }) });
    if (rec !== undefined && msg.reinstantiated) this.#emit({ type: 'agent_started', name: rec.name, worker: slot.index, restarts: rec.restarts });
  }

  /** Gives up on an agent: it is failed, its worker drops it, and the reason is kept for inspection. */
  #fail(rec: AgentRecord, reason: string): void {
    this.#clearTimers(rec);
    this.#registry.unregister(rec.name);
    this.#setState(rec, 'failed');
    rec.lastFault = { kind: rec.lastFault?.kind ?? 'trap', phase: rec.lastFault?.phase ?? 'message', message: reason, at: Date.now() };
    if (rec.inWorker) this.#post(this.#slotOf(rec), { op: 'stop', name: rec.name });
    else this.#workers[rec.worker]?.agents.delete(rec.name);
    const w = this.#spawnWaiters.get(rec.key);
    this.#spawnWaiters.delete(rec.key);
    w?.reject(new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `agent ${rec.name} failed: ${reason}`, { agent: rec.name }));
  }

  #stopped(rec: AgentRecord, status: number, dropped: number): void {
    this.#threads.announce(rec.name, -1);
    this.#clearTimers(rec);
    this.#canaries.rolledBack(rec, 'the agent stopped');
    this.#registry.unregister(rec.name);
    rec.inWorker = false;
    const spawn = this.#spawnWaiters.get(rec.key);
    this.#spawnWaiters.delete(rec.key);
    spawn?.reject(new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${rec.name} was stopped before it finished starting`, { agent: rec.name }));
    this.#workers[rec.worker]?.agents.delete(rec.name);
    if (rec.state !== 'failed') this.#setState(rec, 'stopped');
    this.#emit({ type: 'agent_stopped', name: rec.name, status, dropped });
    const list = this.#stopWaiters.get(rec.name) ?? [];
    this.#stopWaiters.delete(rec.name);
    for (const w of list) w.resolve(status);
  }

  #clearTimers(rec: AgentRecord): void {
    if (rec.restartTimer !== undefined) clearTimeout(rec.restartTimer);
    if (rec.drainTimer !== undefined) clearTimeout(rec.drainTimer);
    rec.restartTimer = undefined;
    rec.drainTimer = undefined;
  }

  // ---- workers ----

  /**
   * A new worker took the slot's place: its agents come back. `culprit` (an agent whose call overran)
   * goes through crash supervision; the others are re-spawned at once.
   */
  #replaceWorker(slot: WorkerSlot, reason: string, culprit: AgentRecord | undefined): void {
    const lost = this.#threads.restart(slot);
    const names = [...slot.agents];
    for (const name of names) {
      const rec = this.#agents.get(name);
      if (rec === undefined) continue;
      rec.inWorker = false;
      this.#threads.announce(name, -1); // through this thread until it is back
      this.#canaries.rolledBack(rec, 'its worker was replaced');
      if (rec.state === 'failed' || rec.state === 'stopped') {
        slot.agents.delete(name);
        continue;
      }
      if (rec === culprit) continue;
      if (rec.state === 'draining' || rec.stopRequested) {
        this.#stopped(rec, 0, 0); // it was stopping anyway; what it had queued died with the worker
        continue;
      }
      if (rec.state === 'loaded' && rec.restartTimer !== undefined) continue; // its restart will re-spawn it
      rec.restarts++;
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
      rec.inWorker = false;
      this.#threads.announce(name, -1);
      this.#canaries.rolledBack(rec, 'its worker crashed');
      this.#fail(rec, `its worker crashed ${slot.crashes.length} times in ${WORKER_CRASH_WINDOW_MS / 1000} s (${reason})`);
    }
    slot.agents.clear();
    this.#emit({ type: 'worker_replaced', worker: slot.index, reason: `${reason}; crashed too often, not restarted`, agents: [], lostMessages: slot.queued });
  }

  /** The watchdog saw a call into agent `key` overrun: the worker is the only thing that can stop it. */
  #overran(slot: WorkerSlot, key: number): void {
    const rec = this.#byKey.get(key);
    const old = slot.worker;
    // Replace first, so the 'exit' of the old worker is not taken for an unplanned crash.
    this.#replaceWorker(slot, `watchdog: agent ${rec?.name ?? `#${key}`} overran ${this.policy.maxCallMs} ms`, rec);
    void old.terminate();
    if (rec !== undefined) {
      this.#crashed(rec, { kind: 'timeout', phase: rec.state === 'loaded' ? 'start' : 'message', message: `call ran longer than ${this.policy.maxCallMs} ms; worker ${slot.index} terminated`, at: Date.now() });
    }
  }

  #sendSpawn(slot: WorkerSlot, rec: AgentRecord): void {
    this.#threads.ensureModule(slot, rec.hash);
    rec.inWorker = true;
    slot.agents.add(rec.name);
    this.#threads.announce(rec.name, slot.index);
    const hold = rec.resumeTo === 'ready' || rec.resumeTo === 'suspended';
    const r = rec.replication;
    const seen = rec.seen;
    rec.seen = undefined;
    this.#post(slot, {
      op: 'spawn',
      key: rec.key,
      id: rec.id,
      name: rec.name,
      hash: rec.hash,
      config: rec.config,
      restarts: rec.restarts,
      hold,
      ...(r === undefined ? {} : { replicate: { mode: r.mode, epoch: r.epoch, seq: rec.replSeq } }),
      ...(seen === undefined ? {} : { seen }),
    });
    // Before any delivery reaches the new instance (deliveries are posted after this).
    if (rec.fenced) this.#post(slot, { op: 'replicate', name: rec.name, mode: 'fenced', epoch: 0, seq: rec.replSeq });
  }

  /**
   * Opens the workers' direct paths to other nodes' workers (src/cluster/direct-paths.ts): from now on
   * a worker's fence requests go to `hooks`.
   */
  startDirect(config: DirectStart, hooks: DirectPathHooks): void {
    this.#direct = hooks;
    this.#threads.startDirect(config);
  }

  /** A message of worker `worker` to `name` went to `node`: the worker may open a direct route for it. */
  grantRoute(worker: number, name: string, node: string): void {
    const slot = this.#workers[worker];
    if (slot !== undefined && !slot.dead) this.#post(slot, { op: 'route', name, node });
  }

  /** The fence worker `worker` asked for was not sent. */
  refuseRoute(worker: number, name: string): void {
    const slot = this.#workers[worker];
    if (slot !== undefined && !slot.dead) this.#post(slot, { op: 'route_refused', name });
  }

  /**
   * Another node's fence for agent `name`: handed to its worker behind the deliveries queued for it.
   * False when no worker of this node hosts it now (the fence is dropped; its sender falls back).
   */
  fenceArrived(name: string, token: string, host: string, port: number, node: string): boolean {
    const rec = this.#agents.get(name);
    if (rec === undefined || !rec.inWorker || !ACCEPTING.has(rec.state)) return false;
    const slot = this.#slotOf(rec);
    this.#flushDeliveries(slot);
    this.#post(slot, { op: 'fence', name, token, host, port, node });
    return true;
  }

  /** New TLS material for the workers' direct connections (mTLS on). */
  setDirectTls(tls: DirectTls): void {
    this.#threads.setDirectTls(tls);
  }

  /** Rows added to the revocation list: the workers close direct connections they revoke (mTLS on). */
  directRevoked(rows: readonly RevokedEntry[]): void {
    this.#threads.directRevoked(rows);
  }

  /** `node` left the view: the workers drop their direct connections to it. */
  dropDirectNode(node: string): void {
    this.#threads.broadcast({ op: 'drop_node', node });
  }

  /** The direct path's totals over every worker (and the threads they replaced). */
  directStats(): { sent: number; received: number; routes: number } {
    let sent = 0;
    let received = 0;
    let routes = 0;
    for (const slot of this.#workers) {
      sent += (slot.direct[COUNTER_SENT] as number) + (slot.directBefore[COUNTER_SENT] as number);
      received += (slot.direct[COUNTER_RECEIVED] as number) + (slot.directBefore[COUNTER_RECEIVED] as number);
      if (!slot.dead) routes += slot.direct[COUNTER_ROUTES] as number;
    }
    return { sent, received, routes };
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
        this.router.fromAgents(msg.batch, slot.index);
        break;
      case 'deltas':
        for (const d of msg.batch) {
          const rec = this.#agents.get(d.name);
          if (rec !== undefined && d.seq > rec.replSeq) rec.replSeq = d.seq;
        }
        this.#onDeltas?.(msg.batch);
        break;
      case 'log':
        for (let i = 0; i + 4 < msg.batch.length; i += 5) {
          const conversation = msg.batch[i + 3] as string;
          const trace = msg.batch[i + 4] as string;
          this.#emit({
            type: 'agent_log',
            name: msg.batch[i] as string,
            level: msg.batch[i + 1] as number,
            text: msg.batch[i + 2] as string,
            ...(conversation === '' ? {} : { conversationId: conversation }),
            ...(trace === '' ? {} : { traceparent: trace }),
          });
        }
        break;
      case 'spawned': {
        const rec = this.#byKey.get(msg.key);
        if (rec === undefined) break;
        rec.started = true;
        this.#back(rec, slot);
        const w = this.#spawnWaiters.get(msg.key);
        this.#spawnWaiters.delete(msg.key);
        w?.resolve(info(rec));
        break;
      }
      case 'restarted': {
        const rec = this.#agents.get(msg.name);
        if (rec !== undefined) this.#back(rec, slot);
        break;
      }
      case 'spawn_failed':
      case 'restart_failed': {
        const rec = msg.op === 'spawn_failed' ? this.#byKey.get(msg.key) : this.#agents.get(msg.name);
        this.#emit({ type: 'agent_start_failed', name: msg.name, kind: msg.kind, phase: msg.phase, message: msg.message });
        if (rec === undefined) break;
        if (msg.op === 'spawn_failed') {
          rec.inWorker = false;
          slot.agents.delete(rec.name);
        }
        const fault = { kind: msg.kind, phase: msg.phase, message: msg.message, at: Date.now() };
        if (!rec.started && msg.op === 'spawn_failed') {
          // A first start that fails is the deployer's problem, reported at once: no retries. What
          // agent_init registered before it failed goes with the agent.
          rec.lastFault = fault;
          this.#registry.unregister(rec.name);
          this.#setState(rec, 'failed');
          this.#agents.delete(rec.name);
          this.#byKey.delete(rec.key);
          const w = this.#spawnWaiters.get(rec.key);
          this.#spawnWaiters.delete(rec.key);
          if (msg.kind === 'no_memory') {
            // The process is full: later spawns fail here at once instead of in a worker.
            this.#fullAt = Math.min(this.#fullAt, this.#agents.size);
            this.#fullReason = msg.message;
            w?.reject(capacityError(msg.name, this.#agents.size, 'memory', this.#fullAt, msg.message));
            break;
          }
          w?.reject(new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `agent ${msg.name} did not start: ${msg.kind} in ${msg.phase}: ${msg.message}`, { agent: msg.name, kind: msg.kind, phase: msg.phase }));
        } else {
          this.#crashed(rec, fault);
        }
        break;
      }
      case 'fault': {
        const rec = this.#agents.get(msg.name);
        if (rec !== undefined) this.#crashed(rec, { kind: msg.kind, phase: msg.phase, message: msg.message, at: Date.now() });
        break;
      }
      case 'poison':
        this.#poisoned(slot, msg);
        break;
      case 'upgraded': {
        const rec = this.#agents.get(msg.name);
        const w = this.#upgradeWaiters.get(msg.name);
        this.#upgradeWaiters.delete(msg.name);
        if (rec === undefined) break;
        this.#canaries.finished(rec);
        const from = rec.hash;
        rec.hash = msg.hash;
        this.#emit({ type: 'agent_upgraded', name: rec.name, from, to: msg.hash });
        w?.resolve(info(rec));
        break;
      }
      case 'capability':
        if (this.#agents.has(msg.name)) {
          this.#registry.addProvider(msg.capability, msg.name);
          this.#emit({ type: 'agent_offers', name: msg.name });
        }
        break;
      case 'topic':
        if (this.#agents.has(msg.name)) {
          this.#registry.setSubscribed(msg.topic, msg.name, msg.subscribed);
          this.#emit({ type: 'agent_offers', name: msg.name });
        }
        break;
      case 'canary_started': {
        const rec = this.#agents.get(msg.name);
        if (rec !== undefined) this.#canaries.started(rec, msg.hash);
        break;
      }
      case 'canary_ended': {
        const rec = this.#agents.get(msg.name);
        if (rec !== undefined) this.#canaries.ended(rec, msg.hash, msg.reason);
        break;
      }
      case 'upgrade_failed': {
        const rec = this.#agents.get(msg.name);
        if (rec !== undefined) this.#canaries.failed(rec, msg.hash);
        const w = this.#upgradeWaiters.get(msg.name);
        this.#upgradeWaiters.delete(msg.name);
        w?.reject(new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `upgrade of ${msg.name} failed, the previous version keeps running: ${msg.kind} in ${msg.phase}: ${msg.message}`, { agent: msg.name, module: msg.hash }));
        break;
      }
      case 'fence':
        if (this.#direct === undefined) this.#post(slot, { op: 'route_refused', name: msg.name });
        else this.#direct.fence(slot.index, msg.name, msg.node, msg.token, msg.host, msg.port);
        break;
      case 'from_node':
        // A direct-path message for an agent that is not on that worker (any more): one hop done.
        this.router.fromNode(msg.to, msg.json, msg.priority, 1, msg.origin, '');
        break;
      case 'warn':
        this.#emit({ type: 'agent_log', name: `worker-${slot.index}`, level: 4, text: msg.text });
        break;
      case 'direct_listening':
        if (msg.error !== undefined) this.#emit({ type: 'agent_log', name: `worker-${slot.index}`, level: 4, text: `the direct path to other nodes could not start (messages take the main thread's link): ${msg.error}` });
        break;
      case 'undeliverable': {
        // Sent straight from another worker that had not yet heard the agent moved or went away: route
        // it again by name, at its own priority, unless the refusing worker is the one the agent is
        // placed on (that would loop). A name that is gone is then decided like any other.
        const rec = msg.refusal === 'no_agent' ? this.#agents.get(msg.to) : undefined;
        if (msg.refusal === 'no_agent' && rec?.worker !== slot.index) this.router.send('', msg.to, msg.json, msg.priority);
        else this.router.refused('', msg.to, msg.json, REFUSAL_ERRORS[msg.refusal], msg.reason);
        break;
      }
      case 'stopped': {
        const rec = this.#agents.get(msg.name);
        if (rec !== undefined) this.#stopped(rec, msg.status, msg.dropped);
        break;
      }
      case 'conversations':
        this.#gathers.answer(msg.reqId, msg.conversations);
        break;
      case 'conversation_hashes':
        this.#gathers.answer(msg.reqId, [msg.hashes]);
        break;
      case 'activity':
        this.#gathers.answer(msg.reqId, [{ queued: msg.queued, moved: msg.moved }]);
        break;
      case 'conversation':
        this.#gathers.answer(msg.reqId, [{ conversation: msg.conversation, hops: msg.hops }]);
        break;
      case 'stats':
        this.#gathers.answer(msg.reqId, msg.agents);
        break;
      case 'handled':
        this.#gathers.answer(msg.reqId, [msg.ids]);
        break;
    }
  }

  /** An agent has a live instance again (first start, restart or re-spawn). */
  #back(rec: AgentRecord, slot: WorkerSlot): void {
    if (rec.state === 'failed' || rec.state === 'stopped') {
      // Given up on or stopped while this start was under way: it must not run.
      this.#post(slot, { op: 'stop', name: rec.name });
      return;
    }
    if (rec.stopRequested && rec.state !== 'draining') {
      this.#post(slot, { op: 'stop', name: rec.name });
      return;
    }
    if (rec.state === 'loaded') this.#setState(rec, 'ready');
    const target = rec.resumeTo;
    if (target === 'draining') {
      this.#setState(rec, 'draining');
      this.#post(slot, { op: 'drain', name: rec.name });
    } else if (target !== 'ready') {
      this.#setState(rec, target);
    }
    this.#emit({ type: 'agent_started', name: rec.name, worker: slot.index, restarts: rec.restarts });
  }

  /**
   * Routes a message by name, from the API, a test or a cluster link (src/messaging/router.ts
   * Router.route): to a local agent, an external endpoint or another node. The caller answers a refusal.
   */
  route(to: string, json: string, priority: PriorityLevel = NORMAL, from = ''): Where {
    return this.router.route(to, json, priority, from);
  }

  #emit(e: PoolEvent): void {
    emitTo(this.#eventListeners, e);
  }
}
