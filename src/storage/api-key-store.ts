/**
 * API keys, stored as SHA-256 hashes: the database never holds a usable key. Every request checks a
 * key, so the records are also kept in memory (by hash), loaded once and updated on each change; this
 * store is the only writer of the table.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly createdAt: number;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class ApiKeyStore {
  readonly #insert: Statement;
  readonly #list: Statement;
  readonly #delete: Statement;
  readonly #countRole: Statement;
  readonly #all: Statement;
  /** hash → record; undefined until first used. */
  #byHashCache: Map<string, ApiKeyRecord> | undefined;

  constructor(db: SqliteDatabase) {
    this.#insert = db.prepare('INSERT INTO api_keys (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)');
    this.#list = db.prepare('SELECT id, name, role, created_at AS createdAt FROM api_keys ORDER BY created_at, id');
    this.#delete = db.prepare('DELETE FROM api_keys WHERE id = ?');
    this.#countRole = db.prepare('SELECT count(*) FROM api_keys WHERE role = ?').pluck();
    this.#all = db.prepare('SELECT id, name, role, hash, created_at AS createdAt FROM api_keys');
  }

  #cache(): Map<string, ApiKeyRecord> {
    if (this.#byHashCache === undefined) {
      this.#byHashCache = new Map();
      for (const r of this.#all.all() as (ApiKeyRecord & { hash: string })[]) {
        this.#byHashCache.set(r.hash, { id: r.id, name: r.name, role: r.role, createdAt: r.createdAt });
      }
    }
    return this.#byHashCache;
  }

  add(record: Omit<ApiKeyRecord, 'createdAt'>, key: string, now = Date.now()): ApiKeyRecord {
    const hash = hashKey(key);
    this.#insert.run(record.id, record.name, record.role, hash, now);
    const rec = { ...record, createdAt: now };
    this.#byHashCache?.set(hash, rec);
    return rec;
  }

  /** The record of a presented key, or undefined. */
  find(key: string): ApiKeyRecord | undefined {
    return this.#cache().get(hashKey(key));
  }

  list(): ApiKeyRecord[] {
    return this.#list.all() as ApiKeyRecord[];
  }

  remove(id: string): boolean {
    const removed = this.#delete.run(id).changes > 0;
    if (removed && this.#byHashCache !== undefined) {
      for (const [h, r] of this.#byHashCache) if (r.id === id) this.#byHashCache.delete(h);
    }
    return removed;
  }

  countWithRole(role: string): number {
    return this.#countRole.get(role) as number;
  }
}
