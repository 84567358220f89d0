/**
 * One Caxton cluster node in its own process (cluster-node-entry.ts under tsx, forked with an IPC
 * channel), for cluster tests that need real processes: SIGKILL, SIGSTOP/SIGCONT, a node per
 * 127.0.0.x address, faults injected by the transport's drop hook.
 *
 * Every request has an id and a timeout: a dead or paused child gives a clear error, never a hang.
 * `start` registers the kill with t.after before anything can fail, so no child outlives its test.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  checkResult,
  parseResponse,
  type BoundAddress,
  type Faults,
  type MemberView,
  type NodeSpec,
  type NodeStats,
  type Op,
  type Ops,
  type RecordedEvent,
} from './cluster-protocol.js';

export type { BoundAddress, Faults, MemberView, NodeSpec, NodeStats, RecordedEvent } from './cluster-protocol.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = fileURLToPath(new URL('./cluster-node-entry.ts', import.meta.url));
const LOG_TAIL_CHARS = 32_000;
/** How much of it an error message quotes. */
const ERROR_TAIL_CHARS = 3000;
const EXIT_WAIT_MS = 5000;

interface Pending {
  readonly op: Op;
  readonly resolve: (x: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class ClusterProcess {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<void>;
  #nextId = 1;
  #log = '';
  #exit: string | undefined;
  #paused = false;
  #address: BoundAddress | undefined;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.#child = child;
    const keep = (d: Buffer): void => {
      this.#log = (this.#log + d.toString()).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('message', (raw: unknown) => this.#onMessage(raw));
    // An IPC send to a child that just died can fail asynchronously: the pending request reports it.
    child.on('error', (e) => keep(Buffer.from(`\n[child process error: ${e.message}]\n`)));
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = signal === null ? `exited with code ${code}` : `killed by ${signal}`;
        for (const [id, p] of this.#pending) {
          clearTimeout(p.timer);
          this.#pending.delete(id);
          p.reject(new Error(`${name} (pid ${child.pid}) ${this.#exit} before answering ${p.op}; log tail:\n${this.#log.slice(-ERROR_TAIL_CHARS)}`));
        }
        resolve();
      });
    });
  }

  /**
   * Forks a node and starts its cluster (not joined yet). The child is killed when the test ends,
   * whether it passes or not. Under `t` pass the test's context (or anything with `after`).
   */
  static async start(t: { after(fn: () => Promise<void>): void }, spec: NodeSpec, timeoutMs = 20_000): Promise<ClusterProcess> {
    const child = fork(entry, [], { cwd: root, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' });
    const p = new ClusterProcess(spec.name, child);
    t.after(() => p.kill());
    p.#address = await p.#request('start', spec, timeoutMs);
    return p;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** The address the node's cluster is bound to (what others join through). */
  get address(): BoundAddress {
    if (this.#address === undefined) throw new Error(`${this.name} is not started`);
    return this.#address;
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  /** The last few KB of the child's stdout and stderr (the cluster's info/warn/error log lines). */
  logTail(): string {
    return this.#log;
  }

  /** Joins through any of `seeds`; resolves with how many answered. */
  join(seeds: readonly BoundAddress[], timeoutMs = 10_000): Promise<number> {
    return this.#request('join', { seeds }, timeoutMs);
  }

  members(timeoutMs = 5000): Promise<MemberView[]> {
    return this.#request('members', null, timeoutMs);
  }

  /** Every membership event the node recorded since it started, oldest first. */
  events(timeoutMs = 5000): Promise<RecordedEvent[]> {
    return this.#request('events', null, timeoutMs);
  }

  stats(timeoutMs = 5000): Promise<NodeStats> {
    return this.#request('stats', null, timeoutMs);
  }

  /** Replaces the faults the node's drop hook applies; `{}` clears them. */
  setFaults(faults: Faults, timeoutMs = 5000): Promise<null> {
    return this.#request('setFaults', faults, timeoutMs);
  }

  /** A graceful leave (peers see `left`), waiting up to `ms` for it to be gossiped. */
  leave(ms: number): Promise<null> {
    return this.#request('leave', { timeoutMs: ms }, ms + 5000);
  }

  /**
   * Shuts the cluster down without leaving (peers will see a failure unless leave() came first) and
   * waits for the process to exit: what a server does on SIGTERM after its leave.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    await this.#request('shutdown', null, timeoutMs);
    const timer = new Promise<void>((r) => setTimeout(r, EXIT_WAIT_MS).unref());
    await Promise.race([this.#exited, timer]);
    if (this.#exit === undefined) throw new Error(`${this.name} (pid ${this.pid}) still running ${EXIT_WAIT_MS} ms after its shutdown`);
  }

  /** SIGSTOP: the process keeps its sockets (the kernel queues what arrives) but runs nothing. */
  pause(): void {
    this.#signal('SIGSTOP');
    this.#paused = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.#signal('SIGCONT');
    this.#paused = false;
  }

  /** SIGKILL (a crash), and waits until the process is gone. Idempotent. */
  async kill(): Promise<void> {
    if (this.#exit === undefined) {
      this.#child.kill('SIGKILL');
      const timer = new Promise<void>((r) => setTimeout(r, EXIT_WAIT_MS).unref());
      await Promise.race([this.#exited, timer]);
      if (this.#exit === undefined) throw new Error(`${this.name} (pid ${this.pid}) still running ${EXIT_WAIT_MS} ms after SIGKILL`);
    }
  }

  #signal(sig: NodeJS.Signals): void {
    if (this.#exit !== undefined) throw new Error(`${this.name} (pid ${this.pid}) ${this.#exit}: cannot send ${sig}`);
    this.#child.kill(sig);
  }

  #request<O extends Op>(op: O, arg: Ops[O][0], timeoutMs: number): Promise<Ops[O][1]> {
    if (this.#exit !== undefined) return Promise.reject(new Error(`${this.name} (pid ${this.pid}) ${this.#exit}: cannot ${op}; log tail:\n${this.#log.slice(-ERROR_TAIL_CHARS)}`));
    if (this.#paused) return Promise.reject(new Error(`${this.name} is paused (SIGSTOP): resume it before ${op}`));
    const id = this.#nextId++;
    return new Promise<Ops[O][1]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name} (pid ${this.pid}) did not answer ${op} within ${timeoutMs} ms; log tail:\n${this.#log.slice(-ERROR_TAIL_CHARS)}`));
      }, timeoutMs);
      this.#pending.set(id, { op, resolve: (x) => resolve(checkResult(op, x)), reject, timer });
      this.#child.send({ id, op, arg }, (err) => {
        if (err === null) return;
        const p = this.#pending.get(id);
        if (p === undefined) return;
        clearTimeout(p.timer);
        this.#pending.delete(id);
        reject(new Error(`${this.name}: could not send ${op}: ${err.message}`));
      });
    });
  }

  #onMessage(raw: unknown): void {
    let r;
    try {
      r = parseResponse(raw);
    } catch (e) {
      this.#log += `\n[${e instanceof Error ? e.message : String(e)}]\n`;
      return;
    }
    const p = this.#pending.get(r.id);
    if (p === undefined) return; // answered after its timeout
    clearTimeout(p.timer);
    this.#pending.delete(r.id);
    if (!r.ok) {
      p.reject(new Error(`${this.name}: ${p.op} failed: ${r.error}`));
      return;
    }
    try {
      p.resolve(r.result);
    } catch (e) {
      p.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
