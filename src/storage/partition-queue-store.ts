/**
 * The partition queue's storage (table partition_queue, migration 10): messages for the other side of
 * a network partition, kept in the order they were held (seq) until the partition heals and they are
 * replayed (src/messaging/partition-queue.ts).
 *
 * The count and the byte total are kept in this object (read from the table once, at construction, and
 * updated by every add and delete), so that asking whether the queue is full costs no query on the
 * hold path. That holds while this store is the only writer of the table: open one per database.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

export interface PartitionQueueRow {
  /** '' for an at-most-once message; otherwise unique in the table. */
  readonly messageId: string;
  /** The agent it is for; '' when it is addressed to a capability (named in the message). */
  readonly receiver: string;
  readonly sender: string;
  /** The node an API caller's reply goes back to ('' for none). */
  readonly replyTo: string;
  readonly priority: number;
  /** The message as it was sent (JSON text). */
  readonly message: string;
  /** What the row counts against the queue's byte bound (the caller measures it). */
  readonly bytes: number;
}

export interface StoredPartitionMessage extends PartitionQueueRow {
  /** Replay order: increasing, never reused (AUTOINCREMENT). */
  readonly seq: number;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
}

interface Row {
  seq: number;
  message_id: string;
  receiver: string;
  sender: string;
  reply_to: string;
  priority: number;
  message: string;
  bytes: number;
  created_at: number;
}

export class PartitionQueueStore {
  readonly #add: Statement;
  readonly #range: Statement;
  readonly #delete: Statement;
  readonly #has: Statement;
  readonly #totals: Statement;
  readonly #lastSeq: Statement;
  readonly #receivers: Statement;
  readonly #deleteMany: (seqs: readonly number[]) => number;
  #count: number;
  #bytes: number;

  constructor(readonly db: SqliteDatabase) {
    this.#add = db.prepare(
      'INSERT OR IGNORE INTO partition_queue (message_id, receiver, sender, reply_to, priority, message, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#range = db.prepare('SELECT * FROM partition_queue WHERE seq > ? ORDER BY seq LIMIT ?');
    this.#delete = db.prepare('DELETE FROM partition_queue WHERE seq = ? RETURNING bytes').pluck();
    this.#lastSeq = db.prepare('SELECT coalesce(max(seq), 0) FROM partition_queue').pluck();
    this.#receivers = db.prepare('SELECT receiver FROM partition_queue').pluck();
    this.#has = db.prepare("SELECT 1 FROM partition_queue WHERE message_id = ? AND message_id <> ''").pluck();
    this.#totals = db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM partition_queue');
    this.#count = 0;
    this.#bytes = 0;
    this.recount();
    const deleteMany = db.transaction((seqs: readonly number[]) => {
      let n = 0;
      for (const seq of seqs) if (this.delete(seq)) n++;
      return n;
    });
    this.#deleteMany = (seqs) => {
      try {
        return deleteMany(seqs);
      } catch (e) {
        this.recount(); // rolled back: the totals counted deletes that did not happen
        throw e;
      }
    };
  }

  /**
   * Reads the count and byte total from the table again. For a caller whose transaction around add or
   * delete rolled back (the totals had counted the change).
   */
  recount(): void {
    const totals = this.#totals.get() as { n: number; b: number };
    this.#count = totals.n;
    this.#bytes = totals.b;
  }

  /**
   * Appends a row; committed on return (unless inside the caller's transaction). Returns its seq, or
   * undefined when a row with the same non-empty message id is kept already (left as it is).
   */
  add(row: PartitionQueueRow, now = Date.now()): number | undefined {
    const r = this.#add.run(row.messageId, row.receiver, row.sender, row.replyTo, row.priority, row.message, row.bytes, now);
    if (r.changes === 0) return undefined;
    this.#count++;
    this.#bytes += row.bytes;
    return Number(r.lastInsertRowid);
  }

  /** Up to `limit` rows with seq > afterSeq, in seq order. */
  range(afterSeq: number, limit: number): StoredPartitionMessage[] {
    return (this.#range.all(afterSeq, limit) as Row[]).map((r) => ({
      seq: r.seq,
      messageId: r.message_id,
      receiver: r.receiver,
      sender: r.sender,
      replyTo: r.reply_to,
      priority: r.priority,
      message: r.message,
      bytes: r.bytes,
      createdAt: r.created_at,
    }));
  }

  /** Removes one row. Returns whether it was there. */
  delete(seq: number): boolean {
    const bytes = this.#delete.get(seq) as number | undefined;
    if (bytes === undefined) return false;
    this.#count--;
    this.#bytes -= bytes;
    return true;
  }

  /** Removes rows in one transaction. Returns how many were there. */
  deleteMany(seqs: readonly number[]): number {
    return this.#deleteMany(seqs);
  }

  /** Whether a message with this (non-empty) id is queued. */
  has(messageId: string): boolean {
    return this.#has.get(messageId) !== undefined;
  }

  /** The largest seq kept now; 0 when empty. */
  /** The receiver of every queued message, one per row ('' for a capability), without reading the messages. */
  receivers(): IterableIterator<string> {
    return this.#receivers.iterate() as IterableIterator<string>;
  }

  lastSeq(): number {
    return this.#lastSeq.get() as number;
  }

  count(): number {
    return this.#count;
  }

  /** The sum of the rows' `bytes`. */
  bytes(): number {
    return this.#bytes;
  }
}
