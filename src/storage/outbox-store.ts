/**
 * The at-least-once outbox. A message whose sender asked for at-least-once delivery is written here
 * before the sender is told it was accepted, and deleted once its receiver has handled it. Whatever is
 * still here — the worker died, the node was killed — is delivered again by the relay
 * (src/messaging/outbox-relay.ts). Keyed by message_id, so a retry never creates a second row.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

/**
 * The next_at of a parked row: the largest time a JavaScript Date can hold (year 275760), so no clock
 * ever makes the row due. A row is parked while its message waits in the partition queue
 * (src/messaging/partition-queue.ts): the relay must neither redeliver it (the queue replays it, in
 * order, when the partition heals) nor dead-letter it. It stays in the outbox, so an acknowledgement
 * that arrives meanwhile still removes it.
 */
export const PARKED = 8_640_000_000_000_000;

export interface OutboxEntry {
  readonly messageId: string;
  readonly receiver: string;
  readonly message: string;
  readonly attempts: number;
  readonly createdAt: number;
  readonly nextAt: number;
}

interface Row {
  message_id: string;
  receiver: string;
  message: string;
  attempts: number;
  created_at: number;
  next_at: number;
}

export class OutboxStore {
  readonly #add: Statement;
  readonly #ack: Statement;
  readonly #due: Statement;
  readonly #retry: Statement;
  readonly #count: Statement;
  readonly #has: Statement;
  readonly #message: Statement;
  readonly #park: Statement;
  readonly #unpark: Statement;
  readonly #parked: Statement;
  readonly #allDue: Statement;

  constructor(readonly db: SqliteDatabase) {
    this.#add = db.prepare('INSERT OR IGNORE INTO outbox (message_id, receiver, message, attempts, created_at, next_at) VALUES (?, ?, ?, 0, ?, ?)');
    this.#ack = db.prepare('DELETE FROM outbox WHERE message_id = ?');
    this.#due = db.prepare('SELECT * FROM outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?');
    this.#retry = db.prepare('UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE message_id = ?');
    this.#count = db.prepare('SELECT count(*) FROM outbox').pluck();
    this.#has = db.prepare('SELECT 1 FROM outbox WHERE message_id = ?').pluck();
    this.#message = db.prepare('SELECT message FROM outbox WHERE message_id = ?').pluck();
    this.#park = db.prepare('UPDATE outbox SET next_at = ? WHERE message_id = ?');
    // attempts starts again: the deliveries tried during the partition failed because of it, not
    // because of the receiver, and must not bring the message closer to the dead letters.
    this.#unpark = db.prepare('UPDATE outbox SET next_at = ?, attempts = 0 WHERE message_id = ? AND next_at = ?');
    this.#parked = db.prepare('SELECT count(*) FROM outbox WHERE next_at = ?').pluck();
    this.#allDue = db.prepare('UPDATE outbox SET next_at = ?, attempts = 0 WHERE next_at <> ?');
  }

  /**
   * Every row not parked is due at `nextAt`, its attempts counted from zero: the cluster is whole
   * again after `cluster stop --all`, and the deliveries tried while members were still coming back
   * failed because of that (they would otherwise wait out their back-off, up to 40 s, or become dead
   * letters). Returns how many rows.
   */
  allDue(nextAt: number): number {
    return this.#allDue.run(nextAt, PARKED).changes;
  }

  /**
   * Keeps a message until it is acknowledged; its first redelivery is due at `nextAt`. Committed on
   * return. False when a message with this id is kept already (it is left as it is: dedup by id).
   */
  add(messageId: string, receiver: string, message: string, nextAt: number, now = Date.now()): boolean {
    return this.#add.run(messageId, receiver, message, now, nextAt).changes > 0;
  }

  /** The text of a message still kept, or undefined. */
  message(messageId: string): string | undefined {
    return this.#message.get(messageId) as string | undefined;
  }

  /** Whether the message is still kept (not yet acknowledged). */
  has(messageId: string): boolean {
    return this.#has.get(messageId) !== undefined;
  }

  /** The receiver handled it: forget it. Returns whether it was there. */
  ack(messageId: string): boolean {
    return this.#ack.run(messageId).changes > 0;
  }

  /** Entries whose redelivery is due, oldest first. */
  due(now: number, limit: number): OutboxEntry[] {
    return (this.#due.all(now, limit) as Row[]).map((r) => ({
      messageId: r.message_id,
      receiver: r.receiver,
      message: r.message,
      attempts: r.attempts,
      createdAt: r.created_at,
      nextAt: r.next_at,
    }));
  }

  /** Records one more delivery attempt and when the next is due. */
  retry(messageId: string, nextAt: number): void {
    this.#retry.run(nextAt, messageId);
  }

  /** Never due again until unparked (see PARKED). Returns whether the row was there. */
  park(messageId: string): boolean {
    return this.#park.run(PARKED, messageId).changes > 0;
  }

  /**
   * Hands a parked row back to the relay: due at `nextAt`, its attempts counted from zero again.
   * Returns false when there is no parked row with this id (acknowledged meanwhile, or not parked).
   */
  unpark(messageId: string, nextAt: number): boolean {
    return this.#unpark.run(nextAt, messageId, PARKED).changes > 0;
  }

  /** Rows parked now (one range scan of the next_at index). */
  parked(): number {
    return this.#parked.get(PARKED) as number;
  }

  count(): number {
    return this.#count.get() as number;
  }
}
