/**
 * Per-agent key-value state: what `caxton.kv_get/kv_set/kv_delete` read and write.
 * Every write is committed before the host function returns, so a value an agent was told is stored
 * survives a trap, a worker restart and a kill -9 of the node.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';
import { openDatabase, type OpenOptions } from './database.js';
import { SqliteAgentTimerStore } from './agent-timer-store.js';

type Statement = Database.Statement<unknown[], unknown>;

export interface AgentStateStore {
  /** The value, or undefined. The returned bytes may be reused by the next call: copy them out. */
  get(agent: string, key: Uint8Array): Uint8Array | undefined;
  set(agent: string, key: Uint8Array, value: Uint8Array): void;
  delete(agent: string, key: Uint8Array): void;
  /** Every key of one agent, for inspection. */
  keys(agent: string): Uint8Array[];
  /** Removes all state of one agent, its key-value pairs and its pending timers (agent removal). */
  clear(agent: string): void;
  /** How many keys an agent has, and the bytes of its keys plus values (for quotas). */
  usage(agent: string): { keys: number; bytes: number };
  /** The size of one value in bytes, or undefined when the key does not exist. */
  valueSize(agent: string, key: Uint8Array): number | undefined;
  close(): void;
}

export class SqliteAgentStateStore implements AgentStateStore {
  readonly #db: SqliteDatabase;
  readonly #ownsDb: boolean;
  readonly #get: Statement;
  readonly #set: Statement;
  readonly #delete: Statement;
  readonly #keys: Statement;
  readonly #clear: (agent: string) => void;
  readonly #usage: Statement;
  readonly #size: Statement;

  /** Opens its own connection (each worker thread has one), or shares `db` when given one. */
  constructor(pathOrDb: string | SqliteDatabase, options: OpenOptions = {}) {
    this.#ownsDb = typeof pathOrDb === 'string';
    this.#db = typeof pathOrDb === 'string' ? openDatabase(pathOrDb, options) : pathOrDb;
    this.#get = this.#db.prepare('SELECT value FROM agent_kv WHERE agent = ? AND key = ?').pluck();
    this.#set = this.#db.prepare(
      'INSERT INTO agent_kv (agent, key, value, updated_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (agent, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    );
    this.#delete = this.#db.prepare('DELETE FROM agent_kv WHERE agent = ? AND key = ?');
    this.#keys = this.#db.prepare('SELECT key FROM agent_kv WHERE agent = ? ORDER BY key').pluck();
    const clearKv = this.#db.prepare('DELETE FROM agent_kv WHERE agent = ?');
    const timers = new SqliteAgentTimerStore(this.#db);
    this.#clear = this.#db.transaction((agent: string) => {
      clearKv.run(agent);
      timers.clear(agent);
    });
    this.#usage = this.#db.prepare('SELECT count(*) AS keys, coalesce(sum(length(key) + length(value)), 0) AS bytes FROM agent_kv WHERE agent = ?');
    this.#size = this.#db.prepare('SELECT length(value) FROM agent_kv WHERE agent = ? AND key = ?').pluck();
  }

  get(agent: string, key: Uint8Array): Uint8Array | undefined {
    return this.#get.get(agent, key) as Uint8Array | undefined;
  }

  set(agent: string, key: Uint8Array, value: Uint8Array): void {
    this.#set.run(agent, key, value, Date.now());
  }

  delete(agent: string, key: Uint8Array): void {
    this.#delete.run(agent, key);
  }

  keys(agent: string): Uint8Array[] {
    return this.#keys.all(agent) as Uint8Array[];
  }

  clear(agent: string): void {
    this.#clear(agent);
  }

  usage(agent: string): { keys: number; bytes: number } {
    return this.#usage.get(agent) as { keys: number; bytes: number };
  }

  valueSize(agent: string, key: Uint8Array): number | undefined {
    return this.#size.get(agent, key) as number | undefined;
  }

  close(): void {
    if (this.#ownsDb && this.#db.open) this.#db.close();
  }
}
