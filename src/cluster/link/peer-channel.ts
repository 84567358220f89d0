/**
 * What the link keeps per peer, whatever connection it has at the moment: the batch being filled and
 * the queue of closed batches (bounded by the link), the credit the peer granted, the calls waiting
 * for answers, the circuit breaker, the dial state, and the counters the metrics read. link.ts drives
 * it; this file only holds the state and the queue operations.
 */
import type { NodeName } from '../peers.js';
import { BatchWriter } from './batch.js';
import { Circuit, type CircuitOptions, type CircuitState } from './circuit.js';
import type { LinkConnection } from './connection.js';

/** Upper bounds (s) of the call latency buckets: 25 µs … 10 s. */
export const CALL_LATENCY_BOUNDS = [25e-6, 50e-6, 100e-6, 150e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface PeerLinkStats {
  readonly peer: NodeName;
  readonly connected: boolean;
  readonly circuit: CircuitState;
  /** Bytes waiting to be sent (queued batches and the batch being filled). */
  readonly queueBytes: number;
  readonly credit: number;
  readonly bytesOut: number;
  readonly framesOut: number;
  readonly bytesIn: number;
  readonly framesIn: number;
  readonly postsOut: number;
  readonly postsIn: number;
  /** Posts refused: queue full, circuit open, not reachable. */
  readonly postsRefused: number;
  /** Posts dropped after being queued (the circuit opened, the member left, shutdown). */
  readonly postsDropped: number;
  readonly callsOut: number;
  readonly callsFailed: number;
  readonly callsTimedOut: number;
  /** Answered calls per CALL_LATENCY_BOUNDS bucket, the overflow last. */
  readonly callLatency: readonly number[];
  readonly callLatencySum: number;
  readonly circuitOpened: number;
}

export interface PendingCall {
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly started: number;
  readonly method: string;
  sent: boolean;
}

export interface Queued {
  readonly frame: Uint8Array;
  readonly calls: number[] | undefined;
  readonly posts: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class PeerChannel {
  conn: LinkConnection | undefined;
  /** Open connection's credit: bytes of batches we may still send. */
  credit = 0;
  writer: BatchWriter;
  #postsInBatch = 0;
  readonly queue: Queued[] = [];
  queueHead = 0;
  queuedBytes = 0;
  readonly calls = new Map<number, PendingCall>();
  nextId = 1;
  readonly circuit: Circuit;
  backoffMs = 0;
  retryTimer: NodeJS.Timeout | undefined;
  dialing = false;
  /** Membership said it failed or left: refuse traffic until it is a member again. */
  gone = false;
  flushScheduled = false;
  /** Bytes of batches consumed and not yet granted back. */
  consumed = 0;
  readonly stats: Mutable<Omit<PeerLinkStats, 'peer' | 'connected' | 'circuit' | 'queueBytes' | 'credit' | 'callLatency' | 'circuitOpened'>> = {
    bytesOut: 0,
    framesOut: 0,
    bytesIn: 0,
    framesIn: 0,
    postsOut: 0,
    postsIn: 0,
    postsRefused: 0,
    postsDropped: 0,
    callsOut: 0,
    callsFailed: 0,
    callsTimedOut: 0,
    callLatencySum: 0,
  };
  readonly latency = new Array<number>(CALL_LATENCY_BOUNDS.length + 1).fill(0);

  constructor(
    readonly name: NodeName,
    maxFrame: number,
    circuit: CircuitOptions | undefined,
  ) {
    this.writer = new BatchWriter(maxFrame);
    this.circuit = new Circuit(circuit);
  }

  get queueBytes(): number {
    return this.queuedBytes + (this.writer.empty ? 0 : this.writer.bytes);
  }

  countPost(): void {
    this.#postsInBatch++;
  }

  /** Closes the current batch into the queue. */
  seal(): void {
    if (this.writer.empty) return;
    const calls = this.writer.calls;
    this.writer.calls = undefined;
    const frame = this.writer.take();
    this.queue.push({ frame, calls, posts: this.#postsInBatch });
    this.#postsInBatch = 0;
    this.queuedBytes += frame.length;
  }

  peek(): Queued | undefined {
    return this.queueHead < this.queue.length ? this.queue[this.queueHead] : undefined;
  }

  shift(): Queued | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const q = this.queue[this.queueHead] as Queued;
    this.queue[this.queueHead] = undefined as unknown as Queued;
    this.queueHead++;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    this.queuedBytes -= q.frame.length;
    return q;
  }

  get pending(): number {
    return this.queue.length - this.queueHead;
  }

  /** Drops everything queued; returns how many posts were in it. */
  drop(maxFrame: number): number {
    let posts = this.#postsInBatch;
    for (let i = this.queueHead; i < this.queue.length; i++) posts += (this.queue[i] as Queued).posts;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.writer = new BatchWriter(maxFrame);
    this.#postsInBatch = 0;
    return posts;
  }
}
