/**
 * The dead-letter queue's storage: messages that could not be delivered, in arrival order, bounded.
 * When full, the oldest letters make room (and the store counts them), so a flood of undeliverable
 * traffic cannot fill the disk.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

export interface DeadLetter {
  readonly id: number;
  readonly messageId: string | null;
  readonly sender: string | null;
  readonly receiver: string;
  readonly reason: string;
  /** The message exactly as it was sent (JSON text). */
  readonly message: string;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
}

export interface DeadLetterFilter {
  readonly receiver?: string;
  /** Only letters older than this many ms since the epoch. */
  readonly before?: number;
}

export const DEFAULT_DEAD_LETTER_CAPACITY = 100_000;

interface Row {
  id: number;
  message_id: string | null;
  sender: string | null;
  receiver: string;
  reason: string;
  message: string;
  created_at: number;
}

export class DeadLetterStore {
  readonly #insert: Statement;
  readonly #get: Statement;
  readonly #count: Statement;
  readonly #evict: Statement;
  readonly #delete: Statement;
  #evicted = 0;

  constructor(
    readonly db: SqliteDatabase,
    /** Letters kept at most. @default 100,000 */
    readonly capacity = DEFAULT_DEAD_LETTER_CAPACITY,
  ) {
    this.#insert = db.prepare('INSERT INTO dead_letters (message_id, sender, receiver, reason, message, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.#get = db.prepare('SELECT * FROM dead_letters WHERE id = ?');
    this.#count = db.prepare('SELECT count(*) FROM dead_letters').pluck();
    this.#evict = db.prepare('DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?)');
    this.#delete = db.prepare('DELETE FROM dead_letters WHERE id = ?');
  }

  /** Letters dropped to make room since this store was opened. */
  get evicted(): number {
    return this.#evicted;
  }

  add(letter: Omit<DeadLetter, 'id' | 'createdAt'>, now = Date.now()): number {
    const count = this.#count.get() as number;
    if (count >= this.capacity) {
      const n = count - this.capacity + 1;
      this.#evict.run(n);
      this.#evicted += n;
    }
    const r = this.#insert.run(letter.messageId, letter.sender, letter.receiver, letter.reason, letter.message, now);
    return Number(r.lastInsertRowid);
  }

  get(id: number): DeadLetter | undefined {
    const row = this.#get.get(id) as Row | undefined;
    return row === undefined ? undefined : toLetter(row);
  }

  /** Oldest first. */
  list(filter: DeadLetterFilter = {}, limit = 100, afterId = 0): DeadLetter[] {
    const { where, params } = whereOf(filter);
    const rows = this.db.prepare(`SELECT * FROM dead_letters WHERE id > ?${where} ORDER BY id LIMIT ?`).all(afterId, ...params, limit) as Row[];
    return rows.map(toLetter);
  }

  count(filter: DeadLetterFilter = {}): number {
    const { where, params } = whereOf(filter);
    return this.db.prepare(`SELECT count(*) FROM dead_letters WHERE 1 = 1${where}`).pluck().get(...params) as number;
  }

  delete(id: number): boolean {
    return this.#delete.run(id).changes > 0;
  }

  /** Deletes the matching letters; returns how many. */
  purge(filter: DeadLetterFilter = {}): number {
    const { where, params } = whereOf(filter);
    return this.db.prepare(`DELETE FROM dead_letters WHERE 1 = 1${where}`).run(...params).changes;
  }
}

function whereOf(filter: DeadLetterFilter): { where: string; params: unknown[] } {
  let where = '';
  const params: unknown[] = [];
  if (filter.receiver !== undefined) {
    where += ' AND receiver = ?';
    params.push(filter.receiver);
  }
  if (filter.before !== undefined) {
    where += ' AND created_at < ?';
    params.push(filter.before);
  }
  return { where, params };
}

function toLetter(r: Row): DeadLetter {
  return { id: r.id, messageId: r.message_id, sender: r.sender, receiver: r.receiver, reason: r.reason, message: r.message, createdAt: r.created_at };
}
