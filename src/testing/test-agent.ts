/**
 * One agent under test, run in-process by the node's own WorkerRuntime (src/sandbox/worker/runtime.ts)
 * on the test's thread: the same admission (validator + fuel rewriter), host functions, key-value
 * store (SQLite), timers, mailbox and fault handling as on a node. Only the clock and randomness are
 * the test's (./test-clock.ts, ./seeded-random.ts), and nothing leaves: what the agent sends is
 * recorded, not routed.
 *
 * Each send(), publish() or advance() is one step: it runs until the agent has nothing left to handle (the
 * message, and anything the agent sent itself meanwhile) and reports what the step did.
 */
import { createHash } from 'node:crypto';
import { AbiLimits } from '../sandbox/abi.js';
import { readFile } from 'node:fs/promises';
import { CaxtonError } from '../errors.js';
import { AGENT_NAME_RULE, isAgentName } from '../messaging/message-schema.js';
import { validateMessage } from '../messaging/validate.js';
import { SYSTEM_SENDER } from '../messaging/system-messages.js';
import { makePolicy, WASM_PAGE_BYTES, DEFAULT_FUEL_PER_CALL, DEFAULT_MAX_MEMORY_PAGES } from '../sandbox/policy.js';
import { admitModule } from '../sandbox/wasm/index.js';
import { WorkerRuntime } from '../sandbox/worker/runtime.js';
import { priorityLevel } from '../sandbox/worker/mailbox.js';
import { WATCH_SLOTS, type AgentRuntimeStats, type FromWorker } from '../sandbox/worker-protocol.js';
import { openDatabase, OutboxStore, SqliteAgentStateStore, SqliteAgentTimerStore, type SqliteDatabase } from '../storage/index.js';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import { parseSize } from '../config/units.js';
import { SeededRandom } from './seeded-random.js';
import { DEFAULT_TEST_NOW, TestClock } from './test-clock.js';
import { KvView } from './kv-view.js';
import type { AgentMessage, LoadOptions, LogLevel, LogLine, Outcome, StepResult, TestMessage } from './types.js';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
/** The one agent's key in the runtime (the pool numbers agents; a harness has one). */
const AGENT_KEY = 1;
const DEFAULT_SEED = 1;
/**
 * handle_message calls one step may make before it is stopped: an agent that keeps messaging itself
 * (or re-arming a timer due at once) would otherwise never let send() or advance() resolve.
 */
export const MAX_CALLS_PER_STEP = 10_000;

/** What the current step has seen so far. */
class StepLog {
  sent: AgentMessage[] = [];
  logs: LogLine[] = [];
  /** The first crash of the step: its fault kind and message. */
  fault: { kind: Outcome; message: string } | undefined;
  refused: string | undefined;
}

/**
 * Loads a module (a path, file URL or its bytes) and starts it as the node would: admission, then
 * instantiation and agent_init. Rejects with the node's CaxtonError when the module is refused
 * (CAXTON_ERR_MODULE_*) or does not start (CAXTON_ERR_AGENT_START_FAILED).
 */
export async function loadAgent(wasm: string | URL | Uint8Array, options: LoadOptions = {}): Promise<TestAgent> {
  const name = options.name ?? 'agent';
  if (!isAgentName(name) || name === SYSTEM_SENDER) {
    throw new CaxtonError('CAXTON_ERR_AGENT_NAME', `invalid agent name ${JSON.stringify(name)}: names are ${AGENT_NAME_RULE}; "${SYSTEM_SENDER}" is reserved`, { name });
  }
  const fuel = options.fuel ?? DEFAULT_FUEL_PER_CALL;
  if (!Number.isInteger(fuel) || fuel < 1000) throw new RangeError(`fuel must be an integer of at least 1000 (fuel per call), got ${fuel}`);
  const pages = options.memoryLimitMb === undefined ? DEFAULT_MAX_MEMORY_PAGES : Math.floor((options.memoryLimitMb * 1024 * 1024) / WASM_PAGE_BYTES);
  if (!(pages >= 1 && pages <= 65536)) throw new RangeError(`memoryLimitMb must be between 0.0625 (one 64 KiB page) and 4096, got ${options.memoryLimitMb}`);
  const bytes = wasm instanceof Uint8Array ? wasm : await readFile(wasm);
  const policy = makePolicy({ fuelPerCall: fuel, maxMemoryPages: pages });
  // The node admits in its admission worker (sandbox/admission-worker.ts) with this same call.
  const admitted = admitModule(bytes, policy);
  const module = await WebAssembly.compile(admitted.bytes);
  const hash = createHash('sha256').update(bytes).digest('hex');
  const agent = new TestAgent(name, options, fuel);
  try {
    agent.start(hash, module, options.config);
  } catch (e) {
    agent.dispose();
    throw e;
  }
  return agent;
}

/** The `kv` option as the store's keys and values, checked against the limits kv_set enforces. */
function initialState(kv: Readonly<Record<string, string | Uint8Array>>): [Uint8Array, Uint8Array][] {
  const encoder = new TextEncoder();
  let bytes = 0;
  const out: [Uint8Array, Uint8Array][] = [];
  for (const [k, v] of Object.entries(kv)) {
    const key = encoder.encode(k);
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw new TypeError(`kv[${JSON.stringify(k)}] must be a string or a Uint8Array, got ${typeof v}`);
    const value = typeof v === 'string' ? encoder.encode(v) : v;
    if (key.length === 0 || key.length > AbiLimits.maxKeyBytes) throw new RangeError(`kv key ${JSON.stringify(k)} must be 1 to ${AbiLimits.maxKeyBytes} bytes (ABI key limit), got ${key.length}`);
    if (value.length > AbiLimits.maxValueBytes) throw new RangeError(`kv[${JSON.stringify(k)}] is ${value.length} bytes; a value holds at most ${AbiLimits.maxValueBytes} (ABI value limit)`);
    bytes += key.length + value.length;
    out.push([key, value]);
  }
  if (out.length > AbiLimits.maxKeysPerAgent || bytes > AbiLimits.maxStateBytesPerAgent) {
    throw new RangeError(`kv holds ${out.length} keys and ${bytes} bytes; an agent's state is at most ${AbiLimits.maxKeysPerAgent} keys and ${AbiLimits.maxStateBytesPerAgent} bytes (ABI quota)`);
  }
  return out;
}

export class TestAgent {
  /** Every message the agent sent since it was loaded (agent_init's included), in order. */
  readonly sent: AgentMessage[] = [];
  /** Every log line since it was loaded, in order. */
  readonly logs: LogLine[] = [];
  readonly #capabilities = new Set<string>();
  readonly #topics = new Set<string>();
  /** The agent's key-value state, read from the store the agent writes. */
  readonly kv: KvView;
  /** The test's clock: epoch ms seen by the agent (caxton.time_now_us) and its timers. */
  readonly clock: TestClock;

  readonly #db: SqliteDatabase;
  readonly #rt: WorkerRuntime;
  #step: StepLog | undefined;
  #seq = 0;
  #broken: string | undefined;
  #restarts = 0;
  #closed = false;
  #stopped = false;
  #spawnError: CaxtonError | undefined;
  /** messagesIn when the current step began. */
  #stepStart = 0;

  /** @internal use loadAgent() */
  constructor(
    readonly name: string,
    options: LoadOptions,
    /** Fuel granted to each call. */
    readonly fuelPerCall: number,
  ) {
    this.clock = new TestClock(options.now ?? DEFAULT_TEST_NOW);
    const random = new SeededRandom(options.seed ?? DEFAULT_SEED);
    const initial = initialState(options.kv ?? {});
    // The node's own store, in memory: nothing to clean up but the connection.
    this.#db = openDatabase(':memory:');
    const store = new SqliteAgentStateStore(this.#db);
    for (const [k, v] of initial) store.set(name, k, v);
    this.kv = new KvView(store, name);
    this.#rt = new WorkerRuntime({
      fuelPerCall: this.fuelPerCall,
      maxMessageBytes: parseSize(DEFAULT_CONFIG.messaging.max_message_size),
      mailboxCapacity: DEFAULT_CONFIG.messaging.queue_size,
      store,
      outbox: new OutboxStore(this.#db),
      timers: new SqliteAgentTimerStore(this.#db),
      watch: new Int32Array(new SharedArrayBuffer(WATCH_SLOTS * 4)),
      post: (m) => this.#onPost(m),
      env: { clock: this.clock, random },
    });
  }

  /** @internal Spawns the agent (start function, agent_init); throws when it does not start. */
  start(hash: string, module: WebAssembly.Module, config: unknown): void {
    this.#rt.addModule(hash, module);
    this.#rt.spawn({ op: 'spawn', key: AGENT_KEY, id: `test-${this.name}`, name: this.name, hash, config: JSON.stringify(config ?? {}), restarts: 0, hold: false });
    if (this.#spawnError !== undefined) throw this.#spawnError;
  }

  /** Capabilities the agent registered, in the order it registered them. */
  get capabilities(): string[] {
    return [...this.#capabilities];
  }

  /** Topics the agent is subscribed to now, in the order it subscribed. */
  get topics(): string[] {
    return [...this.#topics];
  }

  /** Timers the agent armed that have not fired yet. */
  get pendingTimers(): number {
    return this.clock.pending;
  }

  /** The agent's linear memory now, in bytes. */
  get memoryBytes(): number {
    return this.#stats()?.memoryBytes ?? 0;
  }

  /**
   * Delivers one message to the agent, as the API would: completed (sender 'tester', a message_id)
   * and validated; an invalid message is refused with the node's CaxtonError. Resolves once the agent
   * has handled it and whatever it sent itself meanwhile.
   */
  async send(message: TestMessage): Promise<StepResult> {
    this.#checkOpen();
    const raw: Record<string, unknown> = { sender: 'tester', message_id: `test-${++this.#seq}`, ...message, receiver: this.name };
    const msg = validateMessage(raw, { maxBytes: this.#rt.opts.maxMessageBytes, complete: true });
    const json = JSON.stringify(msg);
    return this.#run(() => this.#rt.deliverBatch([this.name, json, priorityLevel(msg.priority)]));
  }

  /**
   * Delivers a message published to `topic`, as a node hands a publication to each subscriber: the
   * message as published (with `topic` and no `receiver`), completed and validated as the API does.
   * Only when the agent is subscribed to `topic` now: otherwise nothing is delivered and the result's
   * outcome is 'not_subscribed' (no calls, no fuel), where a node would publish to nobody. A message
   * that names a receiver or capability is refused, and so is one the agent publishes itself (sender
   * = its name): a node never delivers a publication back to its publisher.
   */
  async publish(topic: string, message: TestMessage): Promise<StepResult> {
    this.#checkOpen();
    if (message['topic'] !== undefined && message['topic'] !== topic) {
      throw new CaxtonError('CAXTON_ERR_MESSAGE_INVALID', `/topic: publish(${JSON.stringify(topic)}, message) got a message with topic ${JSON.stringify(message['topic'])}: leave the message's topic out or make it the same`, { field: '/topic' });
    }
    const raw: Record<string, unknown> = { sender: 'tester', message_id: `test-${++this.#seq}`, ...message, topic };
    const msg = validateMessage(raw, { maxBytes: this.#rt.opts.maxMessageBytes, complete: true });
    if (msg.sender === this.name) {
      throw new CaxtonError('CAXTON_ERR_MESSAGE_INVALID', `/sender: sender equals the agent (${JSON.stringify(this.name)}): a node does not deliver an agent's own publication back to it; publish as another sender`, { field: '/sender' });
    }
    if (!this.#topics.has(topic)) {
      const now = this.#topics.size === 0 ? 'it is subscribed to no topic' : `it is subscribed to ${[...this.#topics].map((t) => JSON.stringify(t)).join(', ')}`;
      return { sent: [], logs: [], fuel: 0, calls: 0, memoryBytes: this.memoryBytes, outcome: 'not_subscribed', error: `agent ${this.name} is not subscribed to topic ${JSON.stringify(topic)} (${now}): nothing was delivered` };
    }
    const json = JSON.stringify(msg);
    return this.#run(() => this.#rt.deliverBatch([this.name, json, priorityLevel(msg.priority)]));
  }

  /**
   * Moves the test clock `ms` forward, firing the timers that become due, in due order (the clock
   * stands at each timer's due time while its message is handled). Timers a handler sets that fall
   * due within the window fire too. Reports everything the fired timers' messages did.
   */
  async advance(ms: number): Promise<StepResult> {
    this.#checkOpen();
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance takes a non-negative number of ms, got ${ms}`);
    const until = this.clock.now() + ms;
    return this.#run(async () => {
      for (let fire = this.clock.nextDue(until); fire !== undefined; fire = this.clock.nextDue(until)) {
        fire();
        await this.#idle();
      }
      this.clock.moveTo(until);
    });
  }

  /** Runs agent_shutdown and releases the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#stopped && this.#stats() !== undefined) this.#rt.stop(this.name);
    this.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal */
  dispose(): void {
    if (!this.#db.open) return;
    this.#closed = true;
    this.#db.close();
  }

  async #run(work: () => void | Promise<void>): Promise<StepResult> {
    // A crash whose re-instantiation failed left no instance: start it again, as supervision would.
    if (this.#broken !== undefined) this.#restart();
    const before = this.#stats();
    this.#stepStart = before?.messagesIn ?? 0;
    const step = (this.#step = new StepLog());
    try {
      await work();
      await this.#idle();
    } finally {
      this.#step = undefined;
    }
    const after = this.#stats();
    const fuel = (after?.fuelUsed ?? 0) - (before?.fuelUsed ?? 0);
    const calls = (after?.messagesIn ?? 0) - (before?.messagesIn ?? 0);
    const failed = (after?.errors ?? 0) - (before?.errors ?? 0) - ((after?.poisoned ?? 0) - (before?.poisoned ?? 0));
    let outcome: Outcome = 'ok';
    let error: string | undefined;
    if (step.fault !== undefined) {
      outcome = step.fault.kind;
      error = step.fault.message;
    } else if (step.refused !== undefined) {
      outcome = 'refused';
      error = step.refused;
    } else if (failed > 0) {
      outcome = 'error';
      error = `handle_message returned a non-zero status (${failed} of ${calls} calls)`;
    }
    return { sent: step.sent, logs: step.logs, fuel, calls, memoryBytes: after?.memoryBytes ?? 0, outcome, ...(error === undefined ? {} : { error }) };
  }

  /** Waits until the agent has nothing queued (the runtime drains in time slices). */
  async #idle(): Promise<void> {
    this.#rt.drain();
    while (this.#rt.activity().queued > 0) {
      this.#checkRunaway();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#checkRunaway();
  }

  /** Ends a step that will not end by itself: the agent is held (it handles nothing more) and closed. */
  #checkRunaway(): void {
    const calls = (this.#stats()?.messagesIn ?? 0) - this.#stepStart;
    if (calls <= MAX_CALLS_PER_STEP) return;
    this.#rt.hold(this.name, true);
    this.dispose();
    throw new Error(`agent ${this.name} made ${calls} calls in one step without running out of work (it keeps sending itself messages or setting timers due at once); it was closed. More than ${MAX_CALLS_PER_STEP} calls per send() or advance() is taken for a loop.`);
  }

  #restart(): void {
    this.#broken = undefined;
    this.#rt.restart(this.name, ++this.#restarts);
    const why = this.#broken as string | undefined;
    if (why !== undefined) throw new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `agent ${this.name} did not start again: ${why}`, { agent: this.name });
  }

  #stats(): AgentRuntimeStats | undefined {
    return this.#rt.stats()[0];
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`agent ${this.name} is closed: load it again with loadAgent()`);
  }

  #onPost(m: FromWorker): void {
    const step = this.#step;
    switch (m.op) {
      case 'out':
        for (let i = 0; i + 3 < m.batch.length; i += 4) {
          // Failures the node itself sends (to a sender whose message crashed the agent) are not the agent's.
          if (m.batch[i] !== this.name) continue;
          const msg = JSON.parse(m.batch[i + 2] as string) as AgentMessage;
          this.sent.push(msg);
          step?.sent.push(msg);
        }
        break;
      case 'log':
        for (let i = 0; i + 4 < m.batch.length; i += 5) {
          const line: LogLine = { level: LEVELS[m.batch[i + 1] as number] ?? 'info', text: m.batch[i + 2] as string };
          this.logs.push(line);
          step?.logs.push(line);
        }
        break;
      case 'poison':
        this.#restarts = m.restarts;
        if (step !== undefined) step.fault ??= { kind: m.kind, message: m.message };
        break;
      case 'fault':
      case 'restart_failed':
        this.#broken = `${m.kind} in ${m.phase}: ${m.message}`;
        break;
      case 'spawn_failed':
        this.#spawnError = new CaxtonError('CAXTON_ERR_AGENT_START_FAILED', `agent ${m.name} did not start: ${m.kind} in ${m.phase}: ${m.message}`, { agent: m.name, kind: m.kind, phase: m.phase });
        break;
      case 'undeliverable':
        if (step !== undefined) step.refused ??= `${m.refusal}: ${m.reason}`;
        break;
      case 'capability':
        this.#capabilities.add(m.capability);
        break;
      case 'topic':
        if (m.subscribed) this.#topics.add(m.topic);
        else this.#topics.delete(m.topic);
        break;
      case 'stopped':
        this.#stopped = true;
        break;
      default:
        break;
    }
  }
}
