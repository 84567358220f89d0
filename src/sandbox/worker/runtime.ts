/**
 * The agent runtime inside one worker thread: the agents it hosts, their mailboxes and the run loop.
 *
 * Invariants:
 * - Calls into agents never nest. A message an agent sends to another agent of this worker goes into
 *   that agent's mailbox and is handled after the current call returns, in the same drain loop: it
 *   never hops through the main thread.
 * - Messages to one agent are handled in the order they were enqueued.
 * - A fault never escapes an agent: its instance is discarded and its mailbox kept. A message that
 *   crashed it is poison: dead-lettered (through the main thread), and the agent is re-instantiated
 *   here at once. A crash no message explains (that re-instantiation failing) goes to the main
 *   thread, which owns supervision and decides when to bring the agent back with a 'restart' command.
 * - Pending timers are rows in SQLite (storage/agent-timer-store.ts) until their message was handled,
 *   and are armed again whenever the agent starts.
 * - Only running agents are called. Held agents (ready, suspended) and agents without an instance keep
 *   their messages queued, up to the mailbox capacity.
 * - A replicated agent's key-value and timer writes leave as one delta per call (worker/replication.ts); in
 *   sync mode what the call sent and the ack of the message it handled wait for the replica.
 */
import { AgentFault, AgentInstance } from '../agent-instance.js';
import type { AgentServices } from '../host-functions.js';
import { REAL_HOST_ENV, type HostEnv, type TimerHandle } from '../host-env.js';
import { AbiLimits, HostError } from '../abi.js';
import type { OutgoingMessage } from '../outgoing.js';
import type { AgentStateStore } from '../../storage/agent-state-store.js';
import type { AgentTimerStore } from '../../storage/agent-timer-store.js';
import type { AgentRuntimeStats, FromWorker, SpawnCommand } from '../worker-protocol.js';
import { LATENCY_BUCKETS, WATCH_AGENT, WATCH_QUEUED, WATCH_SEQ } from '../worker-protocol.js';
import { Mailbox, NORMAL, priorityLevel, type PriorityLevel } from './mailbox.js';
import { SYSTEM_SENDER, SystemError, systemFailure } from '../../messaging/system-messages.js';
import { ReplyDeadlines } from './reply-deadlines.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { ConversationTable } from './conversations.js';
import { HopLog } from './hop-log.js';
import { journalNow } from '../../messaging/journal.js';
import { DedupWindow } from './dedup-window.js';
import { Canary } from './canary.js';
import { SenderCircuits, senderOf } from './sender-circuits.js';
import type { CanaryLimits, RefusalCode, ReplicationMode, WorkerDelta } from '../worker-protocol.js';
import { isReliable, reliableIdOf } from '../envelope.js';
import { Replication } from './replication.js';
import type { RevokedEntry } from '../../security/revoked-certs.js';
import { DIRECT_COUNTERS, DirectLink, type DirectHost, type DirectStart, type DirectTls } from './direct-link.js';

/** The part of a worker_threads MessagePort the runtime uses (tests can pass a stand-in). */
export interface MessagePortLike {
  postMessage(msg: unknown): void;
  close(): void;
}

/** The at-least-once outbox, as the worker uses it (storage: src/storage/outbox-store.ts). */
export interface Outbox {
  add(messageId: string, receiver: string, message: string, nextAt: number): void;
  ack(messageId: string): boolean;
}

/** How long after sending an unacknowledged at-least-once message is first delivered again, ms. */
export const REDELIVER_AFTER_MS = 5000;

export interface RuntimeOptions {
  /** This worker's index in the pool (placements name workers by index). @default 0 */
  readonly workerIndex?: number;
  readonly fuelPerCall: number;
  readonly maxMessageBytes: number;
  readonly mailboxCapacity: number;
  /** Bytes (2 × UTF-16 code units) of messages per mailbox. @default unbounded */
  readonly mailboxBytes?: number;
  readonly store: AgentStateStore;
  readonly timers: AgentTimerStore;
  readonly outbox: Outbox;
  /** First redelivery of unacknowledged at-least-once messages, ms after sending. @default REDELIVER_AFTER_MS */
  readonly redeliverAfterMs?: number;
  /** Shared watchdog slots (see WorkerInit.watch). */
  readonly watch: Int32Array;
  readonly post: (msg: FromWorker) => void;
  /** The clock of agent timers and time host calls, and the source of random_fill. @default REAL_HOST_ENV */
  readonly env?: HostEnv;
  /** The direct path's counters, read by the main thread (direct-link.ts DIRECT_COUNTERS). @default private */
  readonly directCounters?: Float64Array;
}

/**
 * One agent's turn ends after this many messages or this much time, whichever comes first, so an
 * agent with a backlog of slow (fuel-bounded) calls delays its neighbours by at most about one call.
 */
const TURN = 32;
const TURN_MS = 1;
/** Log lines one call may write; the rest are dropped and counted in one summary line. */
const MAX_LOG_LINES_PER_CALL = 100;
/** Messages to another worker sent in one postMessage at most, before the drain ends. */
const PEER_SLICE = 16;
/** How long one drain may run before yielding to the event loop (new deliveries, commands), ms. */
const SLICE_MS = 5;
/** A timer whose message found the mailbox full tries again after this long, ms (its row is kept). */
const TIMER_RETRY_MS = 1000;

/** Why a message could not be queued. */
const enum Refusal {
  None,
  Full,
  Draining,
  CircuitOpen,
  /** The sender's own circuit is open after its poison messages (sender-circuits.ts). */
  SenderCircuitOpen,
}

/** A timer whose message is in the mailbox; its row is deleted once that message was handled. */
interface FiredTimer {
  readonly id: number;
  readonly json: string;
}

class LocalAgent implements AgentServices {
  instance: AgentInstance | undefined;
  readonly mailbox: Mailbox;
  scheduled = false;
  /** Ready or suspended: messages wait in the mailbox. */
  held: boolean;
  /** Stop requested: no new messages; shut down once the mailbox is empty. */
  draining = false;
  gone = false;
  /** Armed timers by id (fired ones leave this map; their rows stay until handled). */
  readonly timers = new Map<number, TimerHandle>();
  /** Fired timers whose messages wait in the mailbox, in the order they were queued (all in the normal lane). */
  fired: FiredTimer[] = [];
  messagesIn = 0;
  messagesOut = 0;
  errors = 0;
  faults = 0;
  /** Fuel used by instances already discarded. */
  fuelUsed = 0;
  readonly latency = new Uint32Array(LATENCY_BUCKETS);
  readonly deadlines: ReplyDeadlines;
  readonly capabilities = new Set<string>();
  readonly topics = new Set<string>();
  readonly breaker = new CircuitBreaker();
  /** Created at the first poison message. */
  senders: SenderCircuits | undefined;
  /** Messages dead-lettered as poison. */
  poisoned = 0;
  logsThisCall = 0;
  logsDropped = 0;
  /** At-least-once messages recognised as already handled and dropped. */
  duplicates = 0;
  /** Key-value usage for the quota; undefined until the first write. */
  kvUsage: { keys: number; bytes: number } | undefined;
  /** A graceful upgrade waiting for `remaining` more messages to be handled by the old version. */
  upgrade: { hash: string; module: WebAssembly.Module; remaining: number } | undefined;
  /** A new version taking a share of the messages (canary upgrade). */
  canary: Canary | undefined;
  /** State replication; undefined (the common case) when the agent has no replica. */
  repl: Replication | undefined;
  restarts: number;

  constructor(
    readonly rt: WorkerRuntime,
    readonly key: number,
    readonly id: string,
    readonly name: string,
    public module: WebAssembly.Module,
    readonly config: string,
    restarts: number,
    held: boolean,
  ) {
    this.restarts = restarts;
    this.held = held;
    // Critical messages get their own reserve of bytes too, room for two of the largest at least: the
    // mailbox counts 2 bytes per UTF-16 code unit, so a largest (ASCII) message counts 2 × its limit.
    const bytes = rt.opts.mailboxBytes ?? Infinity;
    this.mailbox = new Mailbox(rt.opts.mailboxCapacity, undefined, bytes, Math.max(bytes / 10, 4 * rt.opts.maxMessageBytes));
    this.deadlines = new ReplyDeadlines(name, (json) => {
      if (!this.gone && this.rt.enqueue(this, json, NORMAL) !== Refusal.None) {
        this.rt.log(this.name, 3, 'a reply_by timeout failure found the mailbox full and was dropped');
      }
    }, rt.env.clock);
  }

  get maxMessageBytes(): number {
    return this.rt.opts.maxMessageBytes;
  }

  get queued(): number {
    return this.mailbox.size;
  }

  /** Whether the run loop may call this agent now. */
  get runnable(): boolean {
    return !this.held && !this.gone && this.instance !== undefined && this.queued > 0 && (this.repl === undefined || !this.repl.stalled);
  }

  send(json: string, msg: OutgoingMessage): number {
    this.messagesOut++;
    const reliable = msg.delivery === 'at-least-once' && msg.topic === undefined;
    if (reliable) {
      // Durable before the agent hears "accepted": from here on the relay will deliver it.
      try {
        this.rt.opts.outbox.add(msg.message_id, msg.receiver ?? '', json, Date.now() + (this.rt.opts.redeliverAfterMs ?? REDELIVER_AFTER_MS));
      } catch (e) {
        this.hostFault('send (outbox)', e);
        return HostError.UNAVAILABLE;
      }
    }
    const repl = this.repl;
    let rc: number;
    if (repl !== undefined && repl.sync) {
      // Held until the replica holds what this call wrote (WorkerRuntime.#cut decides).
      repl.out.push(msg.receiver ?? '', json, priorityLevel(msg['priority']));
      rc = HostError.OK;
    } else {
      rc = this.rt.route(this.name, msg.receiver, json, priorityLevel(msg['priority']), reliable);
    }
    // Refused now (a full mailbox), but kept in the outbox: it will be delivered, so it was accepted.
    if (reliable && rc !== HostError.OK) rc = HostError.OK;
    if (msg.conversation_id !== undefined) {
      // Epoch ms with a sub-millisecond part, on one clock in every thread (journalNow): the messages
      // of one conversation sent within a millisecond on two workers still order as they happened.
      const now = journalNow();
      this.rt.conversations.record(msg.conversation_id, this.name, msg.receiver ?? msg.capability, msg.performative, msg.protocol, now);
      const to = msg.receiver ?? (msg.capability !== undefined ? `capability:${msg.capability}` : `topic:${msg.topic ?? ''}`);
      this.rt.hops.record(msg.conversation_id, this.name, to, msg.performative, msg.message_id, now);
    }
    if (rc === HostError.OK && msg.reply_by !== undefined && !this.deadlines.track(msg, this.rt.env.clock.now())) {
      this.log(3, `reply_by of message ${msg.message_id} not tracked: ${this.deadlines.size} deadlines already open`);
    }
    return rc;
  }

  log(level: number, text: string): void {
    if (this.logsThisCall++ >= MAX_LOG_LINES_PER_CALL) {
      this.logsDropped++;
      return;
    }
    this.rt.log(this.name, level, text);
  }

  /** Called after each call: reports dropped log lines once and opens the next call's allowance. */
  endCall(): void {
    if (this.logsDropped > 0) {
      this.rt.log(this.name, 3, `${this.logsDropped} log lines dropped: at most ${MAX_LOG_LINES_PER_CALL} per call`);
      this.logsDropped = 0;
    }
    this.logsThisCall = 0;
  }

  kvGet(key: Uint8Array): Uint8Array | undefined {
    return this.rt.opts.store.get(this.name, key);
  }

  kvSet(key: Uint8Array, value: Uint8Array): number {
    const store = this.rt.opts.store;
    // Loaded once per worker lifetime of the agent, then kept up to date with each write.
    const usage = (this.kvUsage ??= store.usage(this.name));
    const old = store.valueSize(this.name, key);
    const keys = usage.keys + (old === undefined ? 1 : 0);
    const bytes = usage.bytes - (old === undefined ? 0 : key.length + old) + key.length + value.length;
    if (keys > AbiLimits.maxKeysPerAgent || bytes > AbiLimits.maxStateBytesPerAgent) return HostError.QUOTA;
    store.set(this.name, key, value);
    usage.keys = keys;
    usage.bytes = bytes;
    if (this.repl !== undefined) this.repl.writes.push(key.slice(), value.slice());
    return HostError.OK;
  }

  kvDelete(key: Uint8Array): void {
    const store = this.rt.opts.store;
    const old = store.valueSize(this.name, key);
    store.delete(this.name, key);
    if (this.repl !== undefined) this.repl.writes.push(key.slice(), null);
    if (old !== undefined && this.kvUsage !== undefined) {
      this.kvUsage.keys--;
      this.kvUsage.bytes -= key.length + old;
    }
  }

  timerSet(delayMs: number, json: string): number {
    if (this.timers.size >= AbiLimits.maxTimersPerAgent) return HostError.QUOTA;
    let id: number;
    const dueAt = this.rt.env.clock.now() + delayMs;
    try {
      // Durable before the agent hears the id: from here on the timer survives any restart.
      id = this.rt.opts.timers.add(this.name, dueAt, json);
    } catch (e) {
      this.hostFault('timer_set', e);
      return HostError.UNAVAILABLE;
    }
    if (this.repl !== undefined) this.repl.timers.push(id, dueAt, json);
    this.armTimer(id, delayMs, json);
    return id;
  }

  /** Sets the in-memory timer of a stored one; when it fires, its message is queued. */
  armTimer(id: number, delayMs: number, json: string): void {
    this.timers.set(
      id,
      this.rt.env.clock.setTimer(() => {
        this.timers.delete(id);
        this.rt.fireTimer(this, id, json);
      }, delayMs),
    );
  }

  registerCapability(capability: string): number {
    if (this.capabilities.has(capability)) return HostError.OK;
    if (this.capabilities.size >= AbiLimits.maxCapabilitiesPerAgent) return HostError.QUOTA;
    this.capabilities.add(capability);
    this.rt.opts.post({ op: 'capability', name: this.name, capability });
    return HostError.OK;
  }

  subscribe(topic: string, on: boolean): number {
    if (on === this.topics.has(topic)) return HostError.OK;
    if (on && this.topics.size >= AbiLimits.maxTopicsPerAgent) return HostError.QUOTA;
    if (on) this.topics.add(topic);
    else this.topics.delete(topic);
    this.rt.opts.post({ op: 'topic', name: this.name, topic, subscribed: on });
    return HostError.OK;
  }

  timerCancel(id: number): number {
    const t = this.timers.get(id);
    if (t === undefined) return HostError.NOT_FOUND;
    try {
      this.rt.opts.timers.delete(this.name, id);
    } catch (e) {
      this.hostFault('timer_cancel', e);
      return HostError.UNAVAILABLE; // still armed: the row would bring it back after a restart
    }
    if (this.repl !== undefined) this.repl.timers.push(id, 0, null);
    this.rt.env.clock.clearTimer(t);
    this.timers.delete(id);
    return HostError.OK;
  }

  hostFault(what: string, error: unknown): void {
    this.rt.log(this.name, 4, `host fault in ${what}: ${error instanceof Error ? error.message : String(error)}`);
  }

  initDocument(): string {
    return `{"abi_version":1,"agent_id":${JSON.stringify(this.id)},"name":${JSON.stringify(this.name)},"config":${this.config},"restarts":${this.restarts}}`;
  }

  recordLatency(ms: number): void {
    const us = (ms * 1000) | 0;
    const bucket = us < 1 ? 0 : Math.min(LATENCY_BUCKETS - 1, 32 - Math.clz32(us));
    this.latency[bucket] = (this.latency[bucket] ?? 0) + 1;
  }

  stats(): AgentRuntimeStats {
    return {
      name: this.name,
      key: this.key,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      errors: this.errors,
      faults: this.faults,
      fuelUsed: this.fuelUsed + (this.instance?.totalFuelUsed ?? 0),
      memoryBytes: this.instance?.memoryBytes ?? 0,
      queued: this.queued,
      queuedBytes: this.mailbox.bytes,
      timers: this.timers.size,
      latency: Array.from(this.latency),
      duplicates: this.duplicates,
      poisoned: this.poisoned,
      circuit: this.breaker.state(performance.now()),
      blockedSenders: this.senders?.open(Date.now()) ?? [],
      ...(this.canary === undefined ? {} : { canary: this.canary.stats() }),
    };
  }
}

export class WorkerRuntime {
  readonly modules = new Map<string, WebAssembly.Module>();
  readonly conversations = new ConversationTable();
  /** The hops agents of this worker sent in conversations, for `caxton trace`. */
  readonly hops = new HopLog();
  readonly #dedup = new DedupWindow();
  readonly #agents = new Map<string, LocalAgent>();
  readonly #runQueue: LocalAgent[] = [];
  #draining = false;
  #resumeScheduled = false;
  // Outbound batches, flushed once per drain.
  #out: (string | number)[] = [];
  /** Replication deltas waiting for the next flush. */
  #deltas: WorkerDelta[] = [];
  /** Direct channels to the other workers, by worker index. */
  readonly #peers = new Map<number, MessagePortLike>();
  /** Which worker hosts each agent of the other workers, as the main thread last said. */
  readonly #placements = new Map<string, number>();
  /** Deliveries waiting for the next flush, per peer worker: flat [receiver, json, priority, ...]. */
  readonly #peerOut = new Map<number, (string | number)[]>();
  #logs: (string | number)[] = [];
  /** Messages in all mailboxes, published to the watchdog slots at each flush. */
  #queued = 0;
  /** The message being handled, so a log line can carry its conversation and trace ids. */
  #current = '';
  /** Agent-to-agent messages to other nodes without the main thread, once started (direct-link.ts). */
  #direct: DirectLink | undefined;
  /** Calls for the direct path made while its listener binds, applied once it has. */
  #directLater: ((d: DirectLink) => void)[] | undefined;
  /** Agents this worker held when an agent's memory could not be allocated: no new agent while as many run. */
  #fullAt = Infinity;
  #fullReason = '';

  readonly env: HostEnv;

  constructor(readonly opts: RuntimeOptions) {
    this.env = opts.env ?? REAL_HOST_ENV;
  }

  addModule(hash: string, module: WebAssembly.Module): void {
    this.modules.set(hash, module);
  }

  /** The state these ids went into is gone (a superseded copy): redelivered copies must be applied again. */
  forgetHandled(name: string): void {
    this.#dedup.forgetPrefix(`${name}\n`);
  }

  /** The at-least-once ids the agent applied lately (a copy that crashed it is not among them): a live move hands them over. */
  handled(name: string, max: number): string[] {
    return this.#dedup.recent(`${name}\n`, Date.now(), max).filter((id) => !id.startsWith('!'));
  }

  spawn(cmd: SpawnCommand): void {
    const module = this.modules.get(cmd.hash);
    if (module === undefined) {
      this.opts.post({ op: 'spawn_failed', key: cmd.key, name: cmd.name, kind: 'bad_abi', phase: 'start', message: `module ${cmd.hash} was never sent to this worker` });
      return;
    }
    if (this.#agents.size >= this.#fullAt) {
      // Another failed allocation would cost V8's retries again (~2 s of full GCs each, this thread
      // blocked); the spawns already queued behind the first failure fail at once instead.
      this.opts.post({ op: 'spawn_failed', key: cmd.key, name: cmd.name, kind: 'no_memory', phase: 'start', message: this.#fullReason });
      return;
    }
    const agent = new LocalAgent(this, cmd.key, cmd.id, cmd.name, module, cmd.config, cmd.restarts, cmd.hold);
    if (cmd.seen !== undefined) {
      // Applied to the agent's state before it came here (a promoted replica): redelivered copies are duplicates.
      const now = Date.now();
      for (const id of cmd.seen) this.#dedup.add(`${cmd.name}\n${id}`, now);
    }
    // Captured from agent_init on; the snapshot below supersedes what init wrote.
    const r = cmd.replicate;
    if (r !== undefined) agent.repl = new Replication(r.mode, r.epoch, r.seq);
    try {
      agent.instance = this.#start(agent);
    } catch (e) {
      const f = asFault(e);
      if (f.kind === 'no_memory') {
        this.#fullAt = this.#agents.size;
        this.#fullReason = f.message;
      }
      this.#flush();
      this.opts.post({ op: 'spawn_failed', key: cmd.key, name: cmd.name, kind: f.kind, phase: f.phase, message: f.message });
      return;
    }
    this.#agents.set(cmd.name, agent);
    this.#rearmTimers(agent);
    if (r !== undefined) this.#snapshot(agent, agent.repl as Replication);
    this.#flush();
    this.opts.post({ op: 'spawned', key: cmd.key, name: cmd.name, memoryBytes: agent.instance.memoryBytes });
  }

  /**
   * Arms the stored timers of an agent that starts in this worker (first start, re-spawn after a
   * worker loss, restart after a stop or failure, node restart). Overdue ones fire at once.
   */
  #rearmTimers(agent: LocalAgent): void {
    let stored;
    try {
      stored = this.opts.timers.list(agent.name);
    } catch (e) {
      agent.hostFault('loading timers (they fire after the next start)', e);
      return;
    }
    const now = this.env.clock.now();
    for (const t of stored) agent.armTimer(t.id, Math.max(0, t.dueAt - now), t.message);
  }

  restart(name: string, restarts: number): void {
    const agent = this.#agents.get(name);
    if (agent === undefined || agent.instance !== undefined) return;
    agent.restarts = restarts;
    try {
      agent.instance = this.#start(agent);
    } catch (e) {
      const f = asFault(e);
      this.#flush();
      this.opts.post({ op: 'restart_failed', name, kind: f.kind, phase: f.phase, message: f.message });
      return;
    }
    this.#flush();
    this.opts.post({ op: 'restarted', name });
    this.#schedule(agent);
  }

  hold(name: string, held: boolean): void {
    const agent = this.#agents.get(name);
    if (agent === undefined) return;
    agent.held = held;
    if (!held) this.#schedule(agent);
  }

  upgrade(name: string, hash: string, graceful: boolean): void {
    const agent = this.#agents.get(name);
    const module = this.modules.get(hash);
    if (agent === undefined || module === undefined) {
      this.opts.post({ op: 'upgrade_failed', name, hash, kind: 'bad_abi', phase: 'start', message: agent === undefined ? `no agent named ${name} on this worker` : `module ${hash} was never sent to this worker` });
      return;
    }
    if (graceful && agent.queued > 0 && agent.instance !== undefined) {
      agent.upgrade = { hash, module, remaining: agent.queued };
      return;
    }
    this.#swap(agent, hash, module);
  }

  /** Starts the new version, then shuts the old one down; on a failed start the old one stays. */
  #swap(agent: LocalAgent, hash: string, module: WebAssembly.Module): void {
    agent.upgrade = undefined;
    let fresh: AgentInstance;
    try {
      fresh = this.#start(agent, module);
    } catch (e) {
      const f = asFault(e);
      this.#flush();
      this.opts.post({ op: 'upgrade_failed', name: agent.name, hash, kind: f.kind, phase: f.phase, message: f.message });
      return;
    }
    this.#takeOver(agent, fresh, module, hash);
  }

  /** `fresh` becomes the agent's instance; the old one is shut down. Reports 'upgraded'. */
  #takeOver(agent: LocalAgent, fresh: AgentInstance, module: WebAssembly.Module, hash: string): void {
    if (agent.instance !== undefined) this.#retire(agent, agent.instance, 'the old version');
    agent.instance = fresh;
    agent.module = module;
    this.#flush();
    this.opts.post({ op: 'upgraded', name: agent.name, hash });
    this.#schedule(agent);
  }

  /** Runs an instance's agent_shutdown (a failure is logged, not fatal) and keeps its fuel count. */
  #retire(agent: LocalAgent, instance: AgentInstance, what: string): void {
    try {
      this.#guard(agent, () => instance.shutdown());
    } catch (e) {
      this.log(agent.name, 3, `agent_shutdown of ${what} failed: ${asFault(e).message}`);
    }
    agent.fuelUsed += instance.totalFuelUsed;
  }

  /** Starts a new version beside the current one, taking `percent` of the agent's messages. */
  startCanary(name: string, hash: string, percent: number, limits: CanaryLimits): void {
    const agent = this.#agents.get(name);
    const module = this.modules.get(hash);
    if (agent === undefined || module === undefined || agent.canary !== undefined) {
      const why = agent === undefined ? `no agent named ${name} on this worker` : module === undefined ? `module ${hash} was never sent to this worker` : `agent ${name} already runs a canary`;
      this.opts.post({ op: 'upgrade_failed', name, hash, kind: 'bad_abi', phase: 'start', message: why });
      return;
    }
    const canary = new Canary(hash, module, percent, limits);
    try {
      canary.instance = this.#start(agent, module);
    } catch (e) {
      const f = asFault(e);
      this.#flush();
      this.opts.post({ op: 'upgrade_failed', name, hash, kind: f.kind, phase: f.phase, message: f.message });
      return;
    }
    agent.canary = canary;
    this.#flush();
    this.opts.post({ op: 'canary_started', name, hash });
  }

  setCanaryPercent(name: string, percent: number): void {
    const canary = this.#agents.get(name)?.canary;
    if (canary !== undefined) canary.percent = percent;
  }

  /** Promotes the canary to be the agent's only version, or rolls it back. */
  endCanary(name: string, promote: boolean, reason: string): void {
    const agent = this.#agents.get(name);
    const canary = agent?.canary;
    if (agent === undefined || canary === undefined) return;
    if (!promote || canary.instance === undefined) {
      this.#rollBack(agent, canary.instance === undefined ? 'the canary crashed' : reason);
      return;
    }
    agent.canary = undefined;
    this.#takeOver(agent, canary.instance, canary.module, canary.hash);
  }

  /** Shuts the canary down; the current version takes every message again. */
  #rollBack(agent: LocalAgent, reason: string): void {
    const canary = agent.canary as Canary;
    agent.canary = undefined;
    if (canary.instance !== undefined) this.#retire(agent, canary.instance, 'the canary');
    this.#flush();
    this.opts.post({ op: 'canary_ended', name: agent.name, hash: canary.hash, reason });
  }

  /** Operator control of circuit breakers; a reset (gradual with `rampMs`) also closes the per-sender circuits. */
  circuit(name: string | null, action: 'force' | 'reset', rampMs = 0): void {
    const targets = name === null ? [...this.#agents.values()] : [this.#agents.get(name)].filter((a): a is LocalAgent => a !== undefined);
    const now = performance.now();
    for (const a of targets) {
      if (action === 'force') {
        a.breaker.force();
      } else {
        a.breaker.reset(now, rampMs);
        a.senders?.reset();
      }
    }
  }

  /** Graceful stop: refuse new messages, finish the queued ones, then shut down. */
  drainAgent(name: string): void {
    const agent = this.#agents.get(name);
    if (agent === undefined) {
      this.opts.post({ op: 'stopped', name, status: HostError.NOT_FOUND, dropped: 0 });
      return;
    }
    agent.draining = true;
    agent.held = false; // a suspended agent is released to finish its queue
    if ((agent.queued === 0 && !holdsOutputs(agent)) || agent.instance === undefined) this.#finish(agent);
    else this.#schedule(agent); // (with nothing queued but outputs held, `replicated` finishes it)
  }

  /** Immediate stop: queued messages are dropped and counted. */
  stop(name: string): void {
    const agent = this.#agents.get(name);
    if (agent === undefined) {
      this.opts.post({ op: 'stopped', name, status: HostError.NOT_FOUND, dropped: 0 });
      return;
    }
    this.#finish(agent);
  }

  /** Deliveries from the main thread: flat [receiver, json, priority, ...]. */
  deliverBatch(batch: (string | number)[]): void {
    for (let i = 0; i + 2 < batch.length; i += 3) {
      const to = batch[i] as string;
      const json = batch[i + 1] as string;
      const priority = batch[i + 2] as PriorityLevel;
      const agent = this.#agents.get(to);
      const refusal = agent === undefined ? undefined : this.enqueue(agent, json, priority);
      if (refusal !== Refusal.None) {
        const [code, reason] = agent === undefined ? (['no_agent', `no agent named ${to} on this worker`] as const) : this.#refusal(agent, refusal as Refusal, json, priority);
        this.opts.post({ op: 'undeliverable', to, json, priority, reason, refusal: code });
      }
    }
    this.drain();
  }

  /** Why `agent` refused a message (the cold path: work is done here, never in enqueue). */
  #refusal(agent: LocalAgent, refusal: Refusal, json: string, priority: PriorityLevel): [RefusalCode, string] {
    const to = agent.name;
    switch (refusal) {
      case Refusal.Full:
        return agent.mailbox.fullByCount(priority)
          ? ['mailbox_full', `mailbox of ${to} is full (${this.opts.mailboxCapacity} messages)`]
          : ['mailbox_full', `mailbox of ${to} is full (${agent.mailbox.bytes} bytes queued, at most ${this.opts.mailboxBytes} bytes)`];
      case Refusal.CircuitOpen: {
        const now = performance.now();
        return agent.breaker.state(now) === 'recovering'
          ? ['circuit_open', `the circuit breaker of ${to} is recovering after a reset: ${agent.breaker.admittedPercent(now)}% of messages are let through`]
          : ['circuit_open', `the circuit breaker of ${to} is open after repeated failures`];
      }
      case Refusal.SenderCircuitOpen: {
        const open = agent.senders?.refusing(json, Date.now());
        return ['circuit_open', senderCircuitReason(to, open?.sender ?? '?', open?.until ?? Date.now())];
      }
      default:
        return ['draining', `agent ${to} is draining and takes no new messages`];
    }
  }

  /**
   * Routes a message sent by `from`: to a local mailbox, straight to the worker that hosts the
   * receiver, or out to the main thread (capabilities, topics, unknown names, other nodes).
   */
  route(from: string, to: string | undefined, json: string, priority: PriorityLevel, reliable = false): number {
    if (to !== undefined) {
      const local = this.#agents.get(to);
      if (local !== undefined) {
        const r = this.enqueue(local, json, priority);
        return r === Refusal.None ? HostError.OK : r === Refusal.Full ? HostError.BACKPRESSURE : HostError.UNAVAILABLE;
      }
      const w = this.#placements.get(to);
      if (w !== undefined && this.#peers.has(w)) {
        let batch = this.#peerOut.get(w);
        if (batch === undefined) {
          batch = [];
          this.#peerOut.set(w, batch);
        }
        batch.push(to, json, priority);
        // Sent in slices rather than all at the end of the drain: the other worker starts on the
        // first ones while this one goes on. One batch per drain made the two workers take turns.
        if (batch.length >= PEER_SLICE * 3) this.#flushPeer(w, batch);
        return HostError.OK;
      }
      const direct = this.#direct;
      if (direct !== undefined) {
        const rc = direct.send(from, to, json, priority, reliable);
        if (rc !== undefined) return rc;
      }
    }
    this.#out.push(from, to ?? '', json, priority);
    return HostError.OK;
  }

  /** Opens this worker's direct path (a node in a cluster); resolves with the port it listens on. */
  async startDirect(cfg: DirectStart): Promise<number> {
    if (this.#direct !== undefined) return this.#direct.port;
    this.#directLater = [];
    try {
      const direct = await DirectLink.start(this.#directHost(), cfg);
      this.#direct = direct;
      for (const f of this.#directLater) f(direct);
      return direct.port;
    } finally {
      this.#directLater = undefined;
    }
  }

  /** New TLS material for the direct path's new connections. */
  setDirectTls(material: DirectTls): void {
    this.#onDirect((d) => d.setTls(material));
  }

  /** Rows added to the revocation list. */
  directRevoked(rows: readonly RevokedEntry[]): void {
    this.#onDirect((d) => d.revoke(rows));
  }

  #onDirect(f: (d: DirectLink) => void): void {
    if (this.#direct !== undefined) f(this.#direct);
    else this.#directLater?.push(f);
  }

  /** The main thread sent a message of this worker's to `name` on `node`: try the direct path for it. */
  grantRoute(name: string, node: string): void {
    // The fence must follow every message this worker handed the main thread so far.
    this.#flush();
    this.#direct?.grant(name, node);
  }

  routeRefused(name: string): void {
    this.#direct?.refused(name);
  }

  /** A fence from another node's worker for agent `name` of this one (its earlier messages are queued). */
  fenceArrived(name: string, token: string, host: string, port: number, node: string): void {
    // (While the listener binds too: a fence dropped here would cost its sender a 2 s timeout.)
    if (this.#agents.has(name)) this.#onDirect((d) => d.fenceArrived(name, token, host, port, node));
  }

  dropNode(node: string): void {
    this.#direct?.dropNode(node);
  }

  closeDirect(): void {
    this.#direct?.close();
  }

  #directHost(): DirectHost {
    return {
      deliver: (to, json, priority, origin) => {
        const agent = this.#agents.get(to);
        const refusal = agent === undefined ? Refusal.Draining : this.enqueue(agent, json, priority);
        if (refusal === Refusal.Draining) {
          // Not here, or leaving (a move drains it first, a stop): the main thread routes it as a
          // message from that node, to the agent's new node while it moves (as the link's would be).
          this.opts.post({ op: 'from_node', to, json, priority, origin });
          return false;
        }
        if (refusal !== Refusal.None && agent !== undefined) {
          const [code, reason] = this.#refusal(agent, refusal, json, priority);
          this.opts.post({ op: 'undeliverable', to, json, priority, reason, refusal: code });
        }
        return true;
      },
      viaMain: (batch) => {
        for (let i = 0; i + 3 < batch.length; i += 4) this.#out.push(batch[i] as string, batch[i + 1] as string, batch[i + 2] as string, batch[i + 3] as number);
        this.#flush();
      },
      fence: (name, node, token, host, port) => this.opts.post({ op: 'fence', name, node, token, host, port }),
      drain: () => this.drain(),
      warn: (text) => this.opts.post({ op: 'warn', text }),
      counters: this.opts.directCounters ?? new Float64Array(DIRECT_COUNTERS),
    };
  }

  setPeer(worker: number, port: MessagePortLike): void {
    if (worker === (this.opts.workerIndex ?? 0)) return;
    this.#peers.get(worker)?.close();
    this.#peers.set(worker, port);
  }

  /** Flat [name, worker, ...]; -1 (or this worker) forgets the name: the main thread routes it. */
  setPlacements(batch: (string | number)[]): void {
    const self = this.opts.workerIndex ?? 0;
    for (let i = 0; i + 1 < batch.length; i += 2) {
      const name = batch[i] as string;
      const w = batch[i + 1] as number;
      if (w < 0 || w === self) this.#placements.delete(name);
      else this.#placements.set(name, w);
    }
  }

  enqueue(agent: LocalAgent, json: string, priority: PriorityLevel): Refusal {
    if (agent.draining || agent.gone) return Refusal.Draining;
    // Only while one of the agent's per-sender circuits is open is the message parsed for its sender.
    // Checked before the breaker: a half-open breaker's trial must go to a message that is queued.
    const senders = agent.senders;
    if (senders !== undefined && senders.anyOpen && senders.refusing(json, Date.now()) !== undefined) return Refusal.SenderCircuitOpen;
    const breaker = agent.breaker;
    if (!breaker.closed && !breaker.admits(performance.now())) return Refusal.CircuitOpen;
    if (!agent.mailbox.push(json, priority)) {
      if (!breaker.closed) breaker.cancelTrial();
      return Refusal.Full;
    }
    // Published at once, so a watchdog kill in the middle of a call counts what it loses.
    Atomics.store(this.opts.watch, WATCH_QUEUED, ++this.#queued);
    this.#schedule(agent);
    return Refusal.None;
  }

  /**
   * A timer fired: its message joins the mailbox (the agent's own continuation, so no circuit stops
   * it). Its row stays until the message was handled; a stopping or stopped agent gets it after its
   * next start, and a full mailbox gets it again in TIMER_RETRY_MS.
   */
  fireTimer(agent: LocalAgent, id: number, json: string): void {
    if (agent.gone || agent.draining) return;
    if (!agent.mailbox.push(json, NORMAL)) {
      this.log(agent.name, 3, `timer ${id} fired into a full mailbox; it fires again in ${TIMER_RETRY_MS} ms`);
      agent.armTimer(id, TIMER_RETRY_MS, json);
      return;
    }
    agent.fired.push({ id, json });
    Atomics.store(this.opts.watch, WATCH_QUEUED, ++this.#queued);
    this.#schedule(agent);
  }

  /** Queues a log line, tagged with the conversation and trace of the message being handled. */
  log(name: string, level: number, text: string): void {
    // Parsed only when an agent logs, never per message.
    const cur = this.#current;
    const conversation = cur === '' ? '' : (CONVERSATION_ID.exec(cur)?.[1] ?? '');
    const trace = cur === '' ? '' : (TRACEPARENT.exec(cur)?.[1] ?? '');
    this.#logs.push(name, level, text, conversation, trace);
  }

  stats(): AgentRuntimeStats[] {
    return [...this.#agents.values()].map((a) => a.stats());
  }

  /**
   * How busy the worker is, for a node that drains: messages waiting for agents that will handle them
   * (held agents and agents without an instance are not counted: they handle nothing until resumed or
   * restarted), and a running total of messages in and out, which moves while anything is in flight.
   */
  activity(): { queued: number; moved: number } {
    let queued = 0;
    let moved = 0;
    for (const a of this.#agents.values()) {
      moved += a.messagesIn + a.messagesOut;
      if (!a.held && !a.gone && a.instance !== undefined) queued += a.queued;
    }
    return { queued, moved };
  }

  /** Runs queued messages until none are left or the time slice is used up. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    const deadline = performance.now() + SLICE_MS;
    try {
      const q = this.#runQueue;
      while (q.length > 0) {
        const agent = q.shift() as LocalAgent;
        const turnEnd = performance.now() + TURN_MS;
        let n = 0;
        while (agent.runnable) {
          this.#handleOne(agent);
          if (++n >= TURN || performance.now() > turnEnd) break;
        }
        if (agent.draining && !agent.gone && agent.queued === 0 && agent.instance !== undefined && !holdsOutputs(agent)) this.#finish(agent);
        if (agent.runnable) q.push(agent);
        else agent.scheduled = false;
        if (performance.now() > deadline) break;
      }
    } finally {
      this.#draining = false;
      this.#flush();
      if (this.#runQueue.length > 0) this.#scheduleResume();
    }
  }

  #schedule(agent: LocalAgent): void {
    if (agent.scheduled || !agent.runnable) return;
    agent.scheduled = true;
    this.#runQueue.push(agent);
    if (!this.#draining) this.#scheduleResume();
  }

  #scheduleResume(): void {
    if (this.#resumeScheduled) return;
    this.#resumeScheduled = true;
    setImmediate(() => {
      this.#resumeScheduled = false;
      this.drain();
    });
  }

  #handleOne(agent: LocalAgent): void {
    const json = agent.mailbox.shift() as string; // runnable: not empty
    Atomics.store(this.opts.watch, WATCH_QUEUED, --this.#queued);
    // A timer's own message (only the agent itself can be its sender, so equal text is that message).
    const fired = agent.fired;
    const timerId = fired.length !== 0 && (fired[0] as FiredTimer).json === json ? (fired.shift() as FiredTimer).id : 0;
    // Queued before its sender's circuit opened: refused now rather than crash the agent again.
    const senders = agent.senders;
    if (senders !== undefined && senders.anyOpen && this.#refuseQueued(agent, senders, json)) return;
    const canary = agent.canary !== undefined && agent.canary.instance !== undefined && agent.canary.takes(json) ? agent.canary : undefined;
    const instance = (canary === undefined ? agent.instance : canary.instance) as AgentInstance;
    agent.messagesIn++;
    agent.deadlines.observe(json);
    // At-least-once: a cheap substring test first, so other messages are never parsed here.
    const reliableId = reliableIdOf(json);
    if (reliableId !== undefined) {
      const now = Date.now();
      const handled = this.#dedup.has(`${agent.name}\n${reliableId}`, now);
      // A copy of a message that crashed the agent: the node acknowledges it once it is a dead letter.
      const poison = !handled && this.#dedup.has(`${agent.name}\n!${reliableId}`, now);
      if (handled || poison) {
        agent.duplicates++;
        // A copy of a message whose ack is held for the replica is acknowledged with it, not now.
        if (handled && (agent.repl === undefined || !agent.repl.holdsAck(reliableId))) {
          try {
            this.opts.outbox.ack(reliableId);
          } catch (e) {
            agent.hostFault('outbox ack', e);
          }
        }
        if (timerId !== 0) this.#timerDone(agent, timerId);
        return;
      }
    }
    const t0 = performance.now();
    // The watchdog marks, inline rather than through #guard: no closure per message.
    const w = this.opts.watch;
    Atomics.store(w, WATCH_AGENT, agent.key);
    Atomics.add(w, WATCH_SEQ, 1);
    let rc = 0;
    let fault: unknown;
    let crashed = false;
    this.#current = json;
    try {
      rc = instance.handle(json);
    } catch (e) {
      crashed = true;
      fault = e;
    } finally {
      Atomics.add(w, WATCH_SEQ, 1);
      this.#current = '';
    }
    // The timer is done once its message was handled (or crashed the agent): its row goes with this call's delta.
    if (timerId !== 0) this.#timerDone(agent, timerId);
    // Writes are committed even when the call crashed: they are state, and replicated like any other.
    const ackHeld = agent.repl !== undefined && this.#cut(agent, agent.repl, crashed ? undefined : reliableId);
    if (!crashed) {
      if (reliableId !== undefined) {
        // Handled (whatever it answered): acknowledged. A crash makes it poison (#poisoned).
        this.#dedup.add(`${agent.name}\n${reliableId}`, Date.now());
        if (!ackHeld) this.#ack(agent, reliableId);
      }
      if (rc === 0) {
        agent.breaker.success(); // a few field writes: cheaper than a branch on the state
      } else {
        agent.errors++;
        agent.breaker.failure(performance.now());
      }
    } else {
      agent.breaker.failure(performance.now());
      if (canary === undefined) {
        this.#poisoned(agent, json, fault, reliableId);
      } else {
        const f = this.#canaryFault(agent, canary, fault);
        // The sender would otherwise wait for an answer that never comes. An at-least-once message
        // stays in the outbox and will be redelivered (to the old version), so its sender is not told.
        const reply = reliableId !== undefined ? undefined : systemFailure(json, SystemError.agentCrashed, `${agent.name} crashed while handling the message: ${f.kind}: ${f.message}`);
        if (reply !== undefined) this.route(SYSTEM_SENDER, reply.to, reply.json, NORMAL);
      }
    }
    const ms = performance.now() - t0;
    agent.recordLatency(ms);
    agent.endCall();
    if (canary !== undefined && agent.canary === canary) {
      const why = canary.record(ms, rc !== 0);
      if (why !== undefined) this.#rollBack(agent, why);
    }
    const up = agent.upgrade;
    if (up !== undefined && --up.remaining <= 0) this.#swap(agent, up.hash, up.module);
  }

  #ack(agent: LocalAgent, messageId: string): void {
    try {
      this.opts.outbox.ack(messageId);
    } catch (e) {
      agent.hostFault('outbox ack (the message may be delivered again)', e);
    }
  }

  /**
   * Ends a replicated agent's call: its writes become the next delta, and in sync mode what it sent
   * and the ack of `ackId` are held until the replica holds that delta (or, when it wrote nothing, the
   * last delta still held). Returns whether the ack of `ackId` is held (else the caller acks now).
   */
  #cut(agent: LocalAgent, r: Replication, ackId: string | undefined): boolean {
    if (r.fenced) {
      // Another node owns the agent now: nothing this copy does may be acknowledged or seen.
      r.writes = [];
      r.timers = [];
      r.out = [];
      return true;
    }
    if (r.writes.length > 0 || r.timers.length > 0) {
      const seq = ++r.seq;
      this.#deltas.push({ name: agent.name, epoch: r.epoch, seq, full: false, writes: r.writes, timers: r.timers, applied: ackId ?? '' });
      r.writes = [];
      r.timers = [];
      if (r.sync) {
        r.held.push({ seq, out: r.out, acks: ackId === undefined ? [] : [ackId] });
        r.out = [];
        return true;
      }
      return false;
    }
    if (!r.sync) return false;
    const last = r.held[r.held.length - 1];
    if (last !== undefined) {
      for (const x of r.out) last.out.push(x);
      r.out = [];
      if (ackId !== undefined) last.acks.push(ackId);
      return true;
    }
    if (r.out.length > 0) {
      const out = r.out;
      r.out = [];
      this.#release(agent, out);
    }
    return false;
  }

  /** Routes messages a replicated agent sent, now that they may leave. */
  #release(agent: LocalAgent, out: (string | number)[]): void {
    for (let i = 0; i + 2 < out.length; i += 3) {
      const to = out[i] as string;
      const json = out[i + 1] as string;
      const priority = out[i + 2] as PriorityLevel;
      const rc = this.route(agent.name, to === '' ? undefined : to, json, priority, isReliable(json));
      if (rc !== HostError.OK) {
        // The agent was told "sent" long ago: the main thread answers its sender (or keeps it, at-least-once).
        this.opts.post({ op: 'undeliverable', to, json, priority, reason: `mailbox of ${to} is full or it takes no messages`, refusal: rc === HostError.BACKPRESSURE ? 'mailbox_full' : 'draining' });
      }
    }
  }

  /** Posts the agent's whole state (key-value pairs, timers) as the next delta: the base a (new) replica starts from. */
  #snapshot(agent: LocalAgent, r: Replication): void {
    const writes: (Uint8Array | null)[] = [];
    const timers: (number | string | null)[] = [];
    let lastTimerId: number;
    try {
      const store = this.opts.store;
      for (const key of store.keys(agent.name)) {
        const value = store.get(agent.name, key);
        if (value !== undefined) writes.push(key, value.slice());
      }
      for (const t of this.opts.timers.list(agent.name)) timers.push(t.id, t.dueAt, t.message);
      lastTimerId = this.opts.timers.lastId(agent.name);
    } catch (e) {
      agent.hostFault('reading state for a replication snapshot', e);
      return;
    }
    this.#deltas.push({ name: agent.name, epoch: r.epoch, seq: ++r.seq, full: true, writes, timers, lastTimerId, applied: '' });
  }

  /** The main thread's replication settings for an agent (worker-protocol.ts, 'replicate'). */
  replicate(name: string, mode: ReplicationMode | 'off' | 'fenced', epoch: number, seq: number): void {
    const agent = this.#agents.get(name);
    if (agent === undefined) return;
    const r = agent.repl;
    if (mode === 'off') {
      if (r === undefined) return;
      agent.repl = undefined;
      // Nothing left to wait for: what was held goes now, in order.
      for (const h of r.held) this.#releaseHeld(agent, h.out, h.acks);
      if (r.out.length > 0) this.#release(agent, r.out);
      this.#schedule(agent);
      this.#flush();
      return;
    }
    if (mode === 'fenced') {
      const f = (agent.repl ??= new Replication('sync', epoch, seq));
      f.fenced = true;
      f.held.length = 0;
      f.writes = [];
      f.out = [];
      return;
    }
    if (r === undefined || r.fenced) {
      // A fenced copy made owner again at a higher epoch (resolve-partition --prefer its node): it
      // starts over, numbering after whatever it sent before.
      agent.repl = new Replication(mode, epoch, Math.max(seq, r?.seq ?? 0));
    } else {
      // Deltas cut since the main thread's last look are in flight to it: never reuse their numbers.
      r.seq = Math.max(r.seq, seq);
      r.epoch = epoch;
      if (r.sync && mode === 'async') {
        for (const h of r.held.splice(0)) this.#releaseHeld(agent, h.out, h.acks);
      }
      r.sync = mode === 'sync';
    }
    this.#snapshot(agent, agent.repl as Replication);
    this.#schedule(agent);
    this.#flush();
  }

  #releaseHeld(agent: LocalAgent, out: (string | number)[], acks: string[]): void {
    this.#release(agent, out);
    for (const id of acks) this.#ack(agent, id);
  }

  /** The replica holds deltas up to seq: flat [name, seq, ...]. Releases what waited for them, in order. */
  replicated(batch: (string | number)[]): void {
    for (let i = 0; i + 1 < batch.length; i += 2) {
      const agent = this.#agents.get(batch[i] as string);
      const r = agent?.repl;
      if (agent === undefined || r === undefined || r.fenced) continue;
      const seq = batch[i + 1] as number;
      const wasStalled = r.stalled;
      let n = 0;
      while (n < r.held.length && (r.held[n] as { seq: number }).seq <= seq) n++;
      if (n === 0) continue;
      for (const h of r.held.splice(0, n)) this.#releaseHeld(agent, h.out, h.acks);
      if (wasStalled) this.#schedule(agent);
      // A graceful stop waits for what its last handlers sent to be released.
      if (agent.draining && !agent.gone && agent.queued === 0 && r.held.length === 0) this.#finish(agent);
    }
    this.drain();
  }

  /** Marks the call in the watchdog slots around `fn`. */
  #guard<T>(agent: LocalAgent, fn: () => T): T {
    const w = this.opts.watch;
    Atomics.store(w, WATCH_AGENT, agent.key);
    Atomics.add(w, WATCH_SEQ, 1);
    try {
      return fn();
    } finally {
      Atomics.add(w, WATCH_SEQ, 1);
    }
  }

  #start(agent: LocalAgent, module: WebAssembly.Module = agent.module): AgentInstance {
    const instance = new AgentInstance(module, agent, this.opts.fuelPerCall, this.env);
    this.#guard(agent, () => {
      instance.instantiate();
      instance.init(agent.initDocument());
    });
    // What agent_init wrote or sent is its own delta (nothing it handled is acknowledged with it).
    if (agent.repl !== undefined) this.#cut(agent, agent.repl, undefined);
    return instance;
  }

  /**
   * A message crashed the agent (docs/agent-abi.md §6). The instance is discarded — its heap may be
   * half updated — and a fresh one made at once: the instance was fine until this message, so there is
   * no back-off, and the crash does not count toward the restart intensity. The message is poison: the
   * main thread dead-letters it (and acknowledges it in the outbox when it was at-least-once), and its
   * sender gets an agent_crashed failure. Its sender's poison count may open a per-sender circuit.
   * Only a failed re-instantiation, which no message explains, is a 'fault' for supervision.
   */
  #poisoned(agent: LocalAgent, json: string, e: unknown, reliableId: string | undefined): void {
    agent.faults++;
    agent.errors++;
    agent.poisoned++;
    // A copy the relay sent meanwhile is a duplicate, not a second crash (see #handleOne).
    if (reliableId !== undefined) this.#dedup.add(`${agent.name}\n!${reliableId}`, Date.now());
    const f = asFault(e);
    const old = agent.instance;
    if (old !== undefined) agent.fuelUsed += old.totalFuelUsed;
    agent.instance = undefined;
    const sender = senderOf(json);
    // The node and the agent itself (its timers) are never shut out.
    if (sender !== undefined && sender !== SYSTEM_SENDER && sender !== agent.name) {
      const opened = (agent.senders ??= new SenderCircuits()).poisoned(sender, Date.now());
      if (opened !== undefined) this.log(agent.name, 3, senderCircuitReason(agent.name, sender, opened.until));
    }
    agent.restarts++;
    let refault: AgentFault | undefined;
    try {
      agent.instance = this.#start(agent);
    } catch (e2) {
      refault = asFault(e2);
    }
    this.#flush(); // what agent_init logged or sent goes before the notice
    const reason = `poison: ${agent.name} crashed while handling it: ${f.kind}: ${f.message}`;
    this.opts.post({
      op: 'poison',
      name: agent.name,
      json,
      sender: sender ?? '',
      messageId: reliableId ?? '',
      kind: f.kind,
      message: f.message,
      reason,
      restarts: agent.restarts,
      reinstantiated: refault === undefined,
    });
    if (refault !== undefined) this.opts.post({ op: 'fault', name: agent.name, kind: refault.kind, phase: refault.phase, message: refault.message });
    // It will not be delivered again (at-least-once included: it is dead-lettered), so the sender is told now.
    const reply = systemFailure(json, SystemError.agentCrashed, `${agent.name} crashed while handling the message: ${f.kind}: ${f.message}; it was dead-lettered as poison`);
    if (reply !== undefined) this.route(SYSTEM_SENDER, reply.to, reply.json, NORMAL);
  }

  /** A queued message whose sender's circuit is open now: refused as at enqueue. Returns whether it was. */
  #refuseQueued(agent: LocalAgent, senders: SenderCircuits, json: string): boolean {
    const open = senders.refusing(json, Date.now());
    if (open === undefined) return false;
    // A circuit_open refusal is answered, never routed again, so the priority it had no longer matters.
    this.opts.post({ op: 'undeliverable', to: agent.name, json, priority: NORMAL, reason: senderCircuitReason(agent.name, open.sender, open.until), refusal: 'circuit_open' });
    return true;
  }

  /** The timer's message was handled (or crashed the agent): the timer is done. */
  #timerDone(agent: LocalAgent, id: number): void {
    try {
      this.opts.timers.delete(agent.name, id);
    } catch (e) {
      agent.hostFault(`deleting fired timer ${id} (it may fire again after a restart)`, e);
      return;
    }
    if (agent.repl !== undefined) agent.repl.timers.push(id, 0, null);
  }

  /** A crash of the canary rolls it back; the current version carries on. */
  #canaryFault(agent: LocalAgent, canary: Canary, e: unknown): AgentFault {
    agent.errors++;
    canary.faults++;
    canary.errors++;
    canary.messagesIn++;
    const f = asFault(e);
    const instance = canary.instance;
    if (instance !== undefined) agent.fuelUsed += instance.totalFuelUsed;
    canary.instance = undefined;
    this.#rollBack(agent, `the canary crashed: ${f.kind} in ${f.phase}: ${f.message}`);
    return f;
  }

  /** Shuts an agent down and forgets it. */
  #finish(agent: LocalAgent): void {
    if (agent.gone) return;
    agent.gone = true;
    let status = 0;
    if (agent.instance !== undefined) {
      try {
        status = this.#guard(agent, () => (agent.instance as AgentInstance).shutdown());
      } catch (e) {
        status = -1;
        this.log(agent.name, 3, `agent_shutdown failed: ${asFault(e).message}`);
      }
    }
    if (agent.canary !== undefined) this.#rollBack(agent, 'the agent stopped');
    // Their rows stay: the timers are armed again when the agent next starts (remove deletes them).
    for (const t of agent.timers.values()) this.env.clock.clearTimer(t);
    agent.timers.clear();
    agent.fired = [];
    agent.deadlines.clearAll();
    const dropped = agent.mailbox.clear();
    this.#queued -= dropped;
    Atomics.store(this.opts.watch, WATCH_QUEUED, this.#queued);
    this.#agents.delete(agent.name);
    this.#flush();
    this.opts.post({ op: 'stopped', name: agent.name, status, dropped });
  }

  #flush(): void {
    if (this.#deltas.length > 0) {
      this.opts.post({ op: 'deltas', batch: this.#deltas });
      this.#deltas = [];
    }
    if (this.#logs.length > 0) {
      this.opts.post({ op: 'log', batch: this.#logs });
      this.#logs = [];
    }
    if (this.#out.length > 0) {
      this.opts.post({ op: 'out', batch: this.#out });
      this.#out = [];
    }
    if (this.#peerOut.size > 0) {
      for (const [w, batch] of this.#peerOut) this.#peers.get(w)?.postMessage({ op: 'deliver', batch });
      this.#peerOut.clear();
    }
    this.#direct?.flush();
  }

  #flushPeer(worker: number, batch: (string | number)[]): void {
    this.#peers.get(worker)?.postMessage({ op: 'deliver', batch });
    this.#peerOut.delete(worker);
  }
}

const CONVERSATION_ID = /"conversation_id"\s*:\s*"((?:[^"\\]|\\.)*)"/;
const TRACEPARENT = /"traceparent"\s*:\s*"([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"/;

/** Why a sender's messages are refused: who, until when, and why. */
function senderCircuitReason(agent: string, sender: string, until: number): string {
  return `messages from ${sender} to ${agent} are refused until ${new Date(until).toISOString()}: ${sender}'s messages crashed ${agent} repeatedly (poison)`;
}

/** Whether a sync-replicated agent still has handlers' outputs waiting for its replica. */
function holdsOutputs(agent: LocalAgent): boolean {
  return agent.repl !== undefined && agent.repl.held.length > 0;
}

function asFault(e: unknown): AgentFault {
  return e instanceof AgentFault ? e : new AgentFault('trap', 'message', e instanceof Error ? e.message : String(e));
}
