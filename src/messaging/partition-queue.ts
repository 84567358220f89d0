/**
 * The partition queue: messages this node cannot deliver while it is cut off from part of the cluster
 * (a receiver on the other side, a capability with no reachable provider), held durably in the order
 * they came, and replayed through the router when the partition heals (docs/operations.md, "Network
 * partition"). The router decides what to hold; this module keeps it, bounds it and replays it.
 *
 * At-least-once messages also have a row in the outbox. Holding one parks that row (the relay leaves it
 * alone: no redelivery, no dead letter) and replaying it unparks it, so the relay owns it again and
 * redelivers it until the receiver acknowledges it. An acknowledgement that arrives while it is held
 * removes the outbox row, and replay then drops the held copy without routing it.
 *
 * Bounded by messages and by bytes: a message that does not fit is refused ('full') and nothing is
 * written; the queue lives in SQLite, so neither bound costs memory.
 */
import type { OutboxStore } from '../storage/outbox-store.js';
import type { PartitionQueueStore, StoredPartitionMessage } from '../storage/partition-queue-store.js';
import type { PriorityLevel } from '../sandbox/worker/mailbox.js';

export interface HeldMessage {
  /**
   * The message id of an at-least-once message, whose row is in `outbox` (this node's); '' for an
   * at-most-once message. A second message with the same id is a duplicate (not held twice).
   */
  readonly messageId: string;
  /** The agent it is for; '' when it is addressed to a capability (the message's `capability`). */
  readonly to: string;
  /** The message as it was sent (JSON text). */
  readonly json: string;
  readonly priority: PriorityLevel;
  /** Who sent it (for the refusal a sender gets, and for replay). */
  readonly from: string;
  /** The node an API caller's reply goes back to ('' for none). */
  readonly replyTo: string;
}

export interface QueuedMessage extends HeldMessage {
  /** Replay order. */
  readonly seq: number;
  /** When it was held, ms since the Unix epoch. */
  readonly createdAt: number;
}

/** held: durable now; duplicate: a message with this id is held already; full: refused, nothing written. */
export type HoldResult = 'held' | 'duplicate' | 'full';

/**
 * What replay did with one message: sent (routed), hold (still cannot go: keep it, and keep every
 * later message for the same receiver), gone (decided for good: delete).
 */
export type ReplayOutcome = 'sent' | 'hold' | 'gone';

export interface ReplayResult {
  readonly sent: number;
  /** Still held after the pass (said 'hold', or behind one that did for the same receiver). */
  readonly kept: number;
  readonly gone: number;
}

export interface PartitionQueueOptions {
  /** Messages held at most. @default 100,000 */
  readonly maxMessages?: number;
  /** Bytes held at most (UTF-8 of the message and its addressing). @default 256 MiB */
  readonly maxBytes?: number;
  /** Delay before the relay redelivers a replayed at-least-once message not acknowledged by then, ms. @default 5,000 */
  readonly redeliverAfterMs?: number;
}

/** Counters since this queue was opened, for metrics. */
export interface PartitionQueueStats {
  readonly held: number;
  readonly duplicates: number;
  readonly refusedFull: number;
  /** Messages replay sent (routed). */
  readonly replayed: number;
}

export const DEFAULT_MAX_MESSAGES = 100_000;
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const REDELIVER_AFTER_MS = 5_000;
/** Rows read per query during replay: memory stays bounded whatever the queue holds. */
const REPLAY_BATCH = 500;

export class PartitionQueue {
  readonly #store: PartitionQueueStore;
  readonly #outbox: OutboxStore;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #redeliverAfterMs: number;
  readonly #hold: (row: Parameters<PartitionQueueStore['add']>[0], messageId: string) => number | undefined;
  readonly #done: (seq: number, messageId: string, nextAt: number) => void;
  readonly #stats = { held: 0, duplicates: 0, refusedFull: 0, replayed: 0 };
  #replaying = false;

  constructor(store: PartitionQueueStore, outbox: OutboxStore, opts: PartitionQueueOptions = {}) {
    // Holding and parking (replaying and unparking) are one transaction each, so a crash never leaves
    // a parked row without its held message: both stores must share the database.
    if (store.db !== outbox.db) throw new Error('the partition queue and the outbox must be stores of the same database');
    this.#maxMessages = positive('maxMessages', opts.maxMessages ?? DEFAULT_MAX_MESSAGES);
    this.#maxBytes = positive('maxBytes', opts.maxBytes ?? DEFAULT_MAX_BYTES);
    this.#redeliverAfterMs = nonNegative('redeliverAfterMs', opts.redeliverAfterMs ?? REDELIVER_AFTER_MS);
    this.#store = store;
    this.#outbox = outbox;
    this.#hold = store.db.transaction((row: Parameters<PartitionQueueStore['add']>[0], messageId: string) => {
      const seq = store.add(row);
      if (seq !== undefined && messageId !== '') outbox.park(messageId);
      return seq;
    });
    this.#done = store.db.transaction((seq: number, messageId: string, nextAt: number) => {
      store.delete(seq);
      if (messageId !== '') outbox.unpark(messageId, nextAt);
    });
  }

  /** Counters since this queue was opened (a live view). */
  get stats(): PartitionQueueStats {
    return this.#stats;
  }

  /** Messages held now. */
  get size(): number {
    return this.#store.count();
  }

  /** Bytes held now (what maxBytes bounds). */
  get bytes(): number {
    return this.#store.bytes();
  }

  /**
   * Keeps a message until replay; durable on return. Parks the outbox row of an at-least-once message.
   * 'full' when it would pass either bound (nothing is written), 'duplicate' when a message with its
   * id is held already.
   */
  hold(m: HeldMessage): HoldResult {
    if (m.messageId !== '' && this.#store.has(m.messageId)) {
      this.#stats.duplicates++;
      return 'duplicate';
    }
    const bytes = sizeOf(m);
    if (this.#store.count() + 1 > this.#maxMessages || this.#store.bytes() + bytes > this.#maxBytes) {
      this.#stats.refusedFull++;
      return 'full';
    }
    const row = { messageId: m.messageId, receiver: m.to, sender: m.from, replyTo: m.replyTo, priority: m.priority, message: m.json, bytes };
    let seq: number | undefined;
    try {
      seq = this.#hold(row, m.messageId);
    } catch (e) {
      this.#store.recount(); // rolled back: the store's totals had counted the row
      throw e;
    }
    if (seq === undefined) {
      this.#stats.duplicates++;
      return 'duplicate';
    }
    this.#stats.held++;
    return 'held';
  }

  /**
   * One pass over the queue in hold order, `batch` rows read at a time. Each message goes to `route`
   * (see ReplayOutcome); sent and gone ones are deleted, each in its own transaction (with the unpark
   * of a sent at-least-once message's outbox row), so a crash mid-pass replays only what was not yet
   * done. Per receiver (the agent, or the capability of a message addressed to one) order holds: once
   * a message for R is kept, every later message for R stays too, without being routed.
   *
   * An at-least-once message whose outbox row is gone (acknowledged while held) is gone without being
   * routed, even behind a kept message for its receiver.
   *
   * The pass covers the messages held when it started. A message held during the pass (`route` may
   * hold new messages, e.g. the router holding another one) is appended after them and left for the
   * next pass, so a pass always ends. `route` must not hold the message it is given: it returns 'hold'
   * instead (holding it again would be a duplicate, or a second copy of an at-most-once message). A
   * replay started from inside `route` does nothing and returns zeros.
   */
  replay(route: (m: QueuedMessage) => ReplayOutcome, opts: { batch?: number } = {}): ReplayResult {
    if (this.#replaying) return { sent: 0, kept: 0, gone: 0 };
    const batch = positive('batch', opts.batch ?? REPLAY_BATCH);
    this.#replaying = true;
    let sent = 0;
    let kept = 0;
    let gone = 0;
    // Receivers with a kept message in this pass: grows with distinct receivers, not with messages.
    const blocked = new Set<string>();
    try {
      const end = this.#store.lastSeq(); // the pass's bound, taken before route can hold anything
      let after = 0;
      while (after < end) {
        const rows = this.#store.range(after, batch);
        if (rows.length === 0) break;
        for (const r of rows) {
          if (r.seq > end) break;
          after = r.seq;
          // Acknowledged while held: nothing left to deliver, so not even a blocked receiver keeps it.
          if (r.messageId !== '' && !this.#outbox.has(r.messageId)) {
            this.#finish(r.seq, '', 0);
            gone++;
            continue;
          }
          const key = keyOf(r);
          if (blocked.has(key)) {
            kept++;
            continue;
          }
          const outcome = route(toQueued(r));
          if (outcome === 'hold') {
            blocked.add(key);
            kept++;
            continue;
          }
          // Gone or sent, an at-least-once message's row goes back to the relay: redelivered until
          // acknowledged, or dead-lettered by the relay's rules (a parked row left behind would stay
          // in the outbox for ever).
          this.#finish(r.seq, r.messageId, Date.now() + this.#redeliverAfterMs);
          if (outcome === 'sent') {
            this.#stats.replayed++;
            sent++;
          } else gone++;
        }
      }
      return { sent, kept, gone };
    } finally {
      this.#replaying = false;
    }
  }

  #finish(seq: number, messageId: string, nextAt: number): void {
    try {
      this.#done(seq, messageId, nextAt);
    } catch (e) {
      this.#store.recount();
      throw e;
    }
  }
}

function positive(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`partition queue: ${name} must be a positive integer, got ${n}`);
  return n;
}

function nonNegative(name: string, n: number): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`partition queue: ${name} must be a number of ms ≥ 0, got ${n}`);
  return n;
}

/** What a held message counts against maxBytes: the UTF-8 size of what the row keeps. */
function sizeOf(m: HeldMessage): number {
  return Buffer.byteLength(m.json) + Buffer.byteLength(m.to) + Buffer.byteLength(m.from) + Buffer.byteLength(m.replyTo) + Buffer.byteLength(m.messageId);
}

/** The receiver a message waits for: its agent, or the capability it is addressed to. */
function keyOf(r: StoredPartitionMessage): string {
  if (r.receiver !== '') return r.receiver;
  let capability: unknown;
  try {
    capability = (JSON.parse(r.message) as { capability?: unknown }).capability;
  } catch {
    // not JSON: the router refuses it; it waits with the other unaddressed ones meanwhile
  }
  // A NUL, which no agent name holds, keeps capabilities apart from agent names.
  return typeof capability === 'string' ? `\0capability:${capability}` : '\0capability';
}

function toQueued(r: StoredPartitionMessage): QueuedMessage {
  return {
    seq: r.seq,
    createdAt: r.createdAt,
    messageId: r.messageId,
    to: r.receiver,
    json: r.message,
    priority: r.priority as PriorityLevel,
    from: r.sender,
    replyTo: r.replyTo,
  };
}
