/** API keys, stored as SHA-256 hashes: the database never holds a usable key. */
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
  readonly #byHash: Statement;
  readonly #list: Statement;
  readonly #delete: Statement;
  readonly #countRole: Statement;

  constructor(db: SqliteDatabase) {
    this.#insert = db.prepare('INSERT INTO api_keys (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)');
    this.#byHash = db.prepare('SELECT id, name, role, created_at AS createdAt FROM api_keys WHERE hash = ?');
    this.#list = db.prepare('SELECT id, name, role, created_at AS createdAt FROM api_keys ORDER BY created_at, id');
    this.#delete = db.prepare('DELETE FROM api_keys WHERE id = ?');
    this.#countRole = db.prepare('SELECT count(*) FROM api_keys WHERE role = ?').pluck();
  }

  add(record: Omit<ApiKeyRecord, 'createdAt'>, key: string, now = Date.now()): ApiKeyRecord {
    this.#insert.run(record.id, record.name, record.role, hashKey(key), now);
    return { ...record, createdAt: now };
  }

  /** The record of a presented key, or undefined. */
  find(key: string): ApiKeyRecord | undefined {
    return this.#byHash.get(hashKey(key)) as ApiKeyRecord | undefined;
  }

  list(): ApiKeyRecord[] {
    return this.#list.all() as ApiKeyRecord[];
  }

  remove(id: string): boolean {
    return this.#delete.run(id).changes > 0;
  }

  countWithRole(role: string): number {
    return this.#countRole.get(role) as number;
  }
}
