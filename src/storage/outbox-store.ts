/**
 * The at-least-once outbox. A message whose sender asked for at-least-once delivery is written here
 * before the sender is told it was accepted, and deleted once its receiver has handled it. Whatever is
 * still here — the worker died, the node was killed — is delivered again by the relay
 * (src/messaging/outbox-relay.ts). Keyed by message_id, so a retry never creates a second row.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

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

  constructor(readonly db: SqliteDatabase) {
    this.#add = db.prepare('INSERT OR IGNORE INTO outbox (message_id, receiver, message, attempts, created_at, next_at) VALUES (?, ?, ?, 0, ?, ?)');
    this.#ack = db.prepare('DELETE FROM outbox WHERE message_id = ?');
    this.#due = db.prepare('SELECT * FROM outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?');
    this.#retry = db.prepare('UPDATE outbox SET attempts = attempts + 1, next_at = ? WHERE message_id = ?');
    this.#count = db.prepare('SELECT count(*) FROM outbox').pluck();
    this.#has = db.prepare('SELECT 1 FROM outbox WHERE message_id = ?').pluck();
  }

  /**
   * Keeps a message until it is acknowledged; its first redelivery is due at `nextAt`. Committed on
   * return. False when a message with this id is kept already (it is left as it is: dedup by id).
   */
  add(messageId: string, receiver: string, message: string, nextAt: number, now = Date.now()): boolean {
    return this.#add.run(messageId, receiver, message, now, nextAt).changes > 0;
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

  count(): number {
    return this.#count.get() as number;
  }
}
