/**
 * One replicated agent's side of state replication inside its worker (see worker-protocol.ts, the
 * 'replicate' command): the writes of the call under way, the messages it sent (sync mode), and the
 * handlers' outputs held until the replica holds their delta.
 *
 * Invariants:
 * - Deltas are numbered in the order their handlers ran; held outputs are released in seq order, so
 *   an agent's messages leave in the order it sent them.
 * - In sync mode, a handler that wrote nothing while earlier outputs are still held joins the last
 *   held entry: what it sent may reveal state that is not replicated yet, and must not overtake it.
 * - Agents without replication never reach this file: the runtime's hot path checks one field.
 */
import type { ReplicationMode } from '../worker-protocol.js';

/**
 * Held entries (handlers whose delta the replica has not acknowledged yet) at which the agent stops
 * handling messages: its mailbox then fills and senders see backpressure, as Kafka refuses writes
 * without enough in-sync replicas. Bounds the memory a stalled replica can cost.
 */
export const MAX_HELD = 1024;

export interface HeldOutput {
  readonly seq: number;
  /** Flat [receiver-or-'', json, priority, ...], routed on release. */
  readonly out: (string | number)[];
  /** At-least-once message ids to acknowledge in the outbox on release. */
  readonly acks: string[];
}

export class Replication {
  sync: boolean;
  epoch: number;
  /** The last delta seq handed out. */
  seq: number;
  /** The current call's writes, flat [key, value-or-null, ...] (copies: guest memory moves). */
  writes: (Uint8Array | null)[] = [];
  /** The current call's timer changes, flat [id, due_at, message-or-null (gone), ...]. */
  timers: (number | string | null)[] = [];
  /** What the current call sent (sync mode only), flat [receiver-or-'', json, priority, ...]. */
  out: (string | number)[] = [];
  readonly held: HeldOutput[] = [];
  fenced = false;

  constructor(mode: ReplicationMode, epoch: number, seq: number) {
    this.sync = mode === 'sync';
    this.epoch = epoch;
    this.seq = seq;
  }

  /** Whether the agent must not handle its next message now. */
  get stalled(): boolean {
    return this.fenced || this.held.length >= MAX_HELD;
  }

  /** Whether the ack of `messageId` is held (a redelivered copy must not acknowledge it early). */
  holdsAck(messageId: string): boolean {
    for (const h of this.held) if (h.acks.includes(messageId)) return true;
    return false;
  }
}
