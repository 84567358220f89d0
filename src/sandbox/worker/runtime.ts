/**
 * The agent runtime inside one worker thread: the agents it hosts, their mailboxes and the run loop.
 *
 * Invariants:
 * - Calls into agents never nest. A message an agent sends to another agent of this worker goes into
 *   that agent's mailbox and is handled after the current call returns, in the same drain loop: it
 *   never hops through the main thread.
 * - Messages to one agent are handled in the order they were enqueued.
 * - A fault never escapes an agent: its instance is replaced, the fault is reported, and the loop
 *   goes on with the next message.
 */
import { AgentFault, AgentInstance } from '../agent-instance.js';
import type { AgentServices } from '../host-functions.js';
import { HostError } from '../abi.js';
import type { OutgoingMessage } from '../outgoing.js';
import type { AgentStateStore } from '../../storage/agent-state-store.js';
import type { AgentRuntimeStats, FromWorker, SpawnCommand } from '../worker-protocol.js';
import { WATCH_AGENT, WATCH_QUEUED, WATCH_SEQ } from '../worker-protocol.js';
import { AbiLimits } from '../abi.js';

export interface RuntimeOptions {
  readonly fuelPerCall: number;
  readonly maxMessageBytes: number;
  readonly mailboxCapacity: number;
  readonly store: AgentStateStore;
  /** Shared watchdog slots (see WorkerInit.watch). */
  readonly watch: Int32Array;
  readonly post: (msg: FromWorker) => void;
}

/**
 * One agent's turn ends after this many messages or this much time, whichever comes first, so an
 * agent with a backlog of slow (fuel-bounded) calls delays its neighbours by at most about one call.
 */
const TURN = 32;
const TURN_MS = 1;
/** How long one drain may run before yielding to the event loop (new deliveries, stop commands), ms. */
const SLICE_MS = 5;

class LocalAgent implements AgentServices {
  instance: AgentInstance | undefined;
  readonly mailbox: string[] = [];
  head = 0;
  scheduled = false;
  stopped = false;
  readonly timers = new Map<number, NodeJS.Timeout>();
  nextTimer = 1;
  messagesIn = 0;
  messagesOut = 0;
  errors = 0;
  faults = 0;
  fuelUsed = 0;
  restarts: number;

  constructor(
    readonly rt: WorkerRuntime,
    readonly key: number,
    readonly id: string,
    readonly name: string,
    readonly module: WebAssembly.Module,
    readonly config: string,
    restarts: number,
  ) {
    this.restarts = restarts;
  }

  get maxMessageBytes(): number {
    return this.rt.opts.maxMessageBytes;
  }

  get queued(): number {
    return this.mailbox.length - this.head;
  }

  send(json: string, msg: OutgoingMessage): number {
    this.messagesOut++;
    return this.rt.route(this.name, msg.receiver, json);
  }

  log(level: number, text: string): void {
    this.rt.log(this.name, level, text);
  }

  kvGet(key: Uint8Array): Uint8Array | undefined {
    return this.rt.opts.store.get(this.name, key);
  }

  kvSet(key: Uint8Array, value: Uint8Array): void {
    this.rt.opts.store.set(this.name, key, value);
  }

  kvDelete(key: Uint8Array): void {
    this.rt.opts.store.delete(this.name, key);
  }

  timerSet(delayMs: number, json: string): number {
    if (this.timers.size >= AbiLimits.maxTimersPerAgent) return HostError.QUOTA;
    const id = this.nextTimer++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      if (!this.stopped) this.rt.enqueueLocal(this, json);
    }, delayMs);
    this.timers.set(id, t);
    return id;
  }

  timerCancel(id: number): number {
    const t = this.timers.get(id);
    if (t === undefined) return HostError.NOT_FOUND;
    clearTimeout(t);
    this.timers.delete(id);
    return HostError.OK;
  }

  hostFault(what: string, error: unknown): void {
    this.rt.log(this.name, 4, `host fault in ${what}: ${(error as Error)?.message ?? String(error)}`);
  }

  initDocument(): string {
    return `{"abi_version":1,"agent_id":${JSON.stringify(this.id)},"name":${JSON.stringify(this.name)},"config":${this.config},"restarts":${this.restarts}}`;
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
      timers: this.timers.size,
    };
  }
}

export class WorkerRuntime {
  readonly modules = new Map<string, WebAssembly.Module>();
  readonly #agents = new Map<string, LocalAgent>();
  readonly #runQueue: LocalAgent[] = [];
  #draining = false;
  #resumeScheduled = false;
  // Outbound batches, flushed once per drain.
  #out: string[] = [];
  #logs: (string | number)[] = [];

  constructor(readonly opts: RuntimeOptions) {}

  addModule(hash: string, module: WebAssembly.Module): void {
    this.modules.set(hash, module);
  }

  spawn(cmd: SpawnCommand): void {
    const module = this.modules.get(cmd.hash);
    if (module === undefined) {
      this.opts.post({ op: 'spawn_failed', key: cmd.key, name: cmd.name, kind: 'bad_abi', phase: 'start', message: `module ${cmd.hash} was never sent to this worker` });
      return;
    }
    const agent = new LocalAgent(this, cmd.key, cmd.id, cmd.name, module, cmd.config, cmd.restarts);
    try {
      agent.instance = this.#start(agent);
    } catch (e) {
      const f = e as AgentFault;
      this.opts.post({ op: 'spawn_failed', key: cmd.key, name: cmd.name, kind: f.kind ?? 'trap', phase: f.phase ?? 'start', message: f.message });
      this.#flush();
      return;
    }
    this.#agents.set(cmd.name, agent);
    this.opts.post({ op: 'spawned', key: cmd.key, name: cmd.name, memoryBytes: agent.instance.memoryBytes });
    this.#flush();
  }

  /** Deliveries from the main thread: flat [receiver, json, ...]. */
  deliverBatch(batch: string[]): void {
    for (let i = 0; i + 1 < batch.length; i += 2) {
      const to = batch[i] as string;
      const json = batch[i + 1] as string;
      const agent = this.#agents.get(to);
      if (agent === undefined) {
        this.opts.post({ op: 'undeliverable', to, json, reason: `no agent named ${to} on this worker` });
      } else if (!this.enqueueLocal(agent, json)) {
        this.opts.post({ op: 'undeliverable', to, json, reason: `mailbox of ${to} is full (${this.opts.mailboxCapacity} messages)` });
      }
    }
    this.drain();
  }

  /** Routes a message sent by `from`: to a local mailbox, or out to the main thread. */
  route(from: string, to: string | undefined, json: string): number {
    if (to !== undefined) {
      const local = this.#agents.get(to);
      if (local !== undefined) {
        return this.enqueueLocal(local, json) ? HostError.OK : HostError.BACKPRESSURE;
      }
    }
    this.#out.push(from, to ?? '', json);
    return HostError.OK;
  }

  enqueueLocal(agent: LocalAgent, json: string): boolean {
    if (agent.stopped) return false;
    if (agent.queued >= this.opts.mailboxCapacity) return false;
    agent.mailbox.push(json);
    if (!agent.scheduled) {
      agent.scheduled = true;
      this.#runQueue.push(agent);
    }
    if (!this.#draining) this.#scheduleResume();
    return true;
  }

  log(name: string, level: number, text: string): void {
    this.#logs.push(name, level, text);
  }

  stop(name: string, graceful: boolean): void {
    const agent = this.#agents.get(name);
    if (agent === undefined) {
      this.opts.post({ op: 'stopped', name, status: HostError.NOT_FOUND });
      return;
    }
    if (graceful) {
      // Drain what is already queued for this agent before it goes.
      while (agent.queued > 0 && agent.instance !== undefined) this.#handleOne(agent);
    }
    let status = 0;
    if (agent.instance !== undefined) {
      try {
        status = this.#guard(agent, () => agent.instance!.shutdown());
      } catch (e) {
        status = -1;
        this.log(name, 3, `agent_shutdown failed: ${(e as Error).message}`);
      }
    }
    agent.stopped = true;
    for (const t of agent.timers.values()) clearTimeout(t);
    agent.timers.clear();
    this.#agents.delete(name);
    this.#flush();
    this.opts.post({ op: 'stopped', name, status });
  }

  stats(): AgentRuntimeStats[] {
    return [...this.#agents.values()].map((a) => a.stats());
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
        while (agent.queued > 0 && !agent.stopped) {
          this.#handleOne(agent);
          if (++n >= TURN || performance.now() > turnEnd) break;
        }
        if (agent.queued > 0 && !agent.stopped) q.push(agent);
        else agent.scheduled = false;
        if (performance.now() > deadline) break;
      }
    } finally {
      this.#draining = false;
      this.#flush();
      if (this.#runQueue.length > 0) this.#scheduleResume();
    }
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
    const json = agent.mailbox[agent.head] as string;
    agent.mailbox[agent.head] = '';
    agent.head++;
    if (agent.head === agent.mailbox.length) {
      agent.mailbox.length = 0;
      agent.head = 0;
    } else if (agent.head >= 1024 && agent.head * 2 >= agent.mailbox.length) {
      // Compact once the consumed prefix dominates, so the array does not grow without bound.
      agent.mailbox.splice(0, agent.head);
      agent.head = 0;
    }
    const instance = agent.instance;
    if (instance === undefined) return;
    agent.messagesIn++;
    try {
      const rc = this.#guard(agent, () => instance.handle(json));
      if (rc !== 0) agent.errors++;
    } catch (e) {
      this.#fault(agent, e);
    }
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

  #start(agent: LocalAgent): AgentInstance {
    const instance = new AgentInstance(agent.module, agent, this.opts.fuelPerCall);
    this.#guard(agent, () => {
      instance.instantiate();
      instance.init(agent.initDocument());
    });
    return instance;
  }

  /** Replaces a faulted instance with a fresh one (docs/agent-abi.md §6). */
  #fault(agent: LocalAgent, e: unknown): void {
    agent.faults++;
    agent.errors++;
    const f = e instanceof AgentFault ? e : new AgentFault('trap', 'message', String(e));
    const old = agent.instance;
    if (old !== undefined) agent.fuelUsed += old.totalFuelUsed;
    agent.instance = undefined;
    agent.restarts++;
    let recovered = true;
    try {
      agent.instance = this.#start(agent);
    } catch (e2) {
      recovered = false;
      const f2 = e2 as AgentFault;
      this.log(agent.name, 4, `could not be brought back after ${f.kind}: ${f2.message}`);
    }
    this.opts.post({ op: 'fault', name: agent.name, kind: f.kind, phase: f.phase, message: f.message, recovered });
  }

  #flush(): void {
    let queued = 0;
    for (const a of this.#runQueue) queued += a.queued;
    Atomics.store(this.opts.watch, WATCH_QUEUED, queued);
    if (this.#logs.length > 0) {
      this.opts.post({ op: 'log', batch: this.#logs });
      this.#logs = [];
    }
    if (this.#out.length > 0) {
      this.opts.post({ op: 'out', batch: this.#out });
      this.#out = [];
    }
  }
}
