/**
 * Pending timers (`caxton.timer_set`), kept with the agent's state so that they outlive the agent's
 * instance, its worker and the node: the worker writes a row before timer_set returns, re-arms an
 * agent's rows whenever the agent starts, and deletes a row once the timer's message was handled or
 * the timer was cancelled (docs/agent-abi.md §3). Keyed by agent name, like the key-value store.
 *
 * Timer ids come from a per-agent counter (table agent_timer_ids) that survives restarts, so an id
 * handed out before a restart still means the same timer after it, and is not handed out again until
 * the counter wraps at 2^31 − 1 (then ids still pending are skipped).
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

/** Timer ids are positive i32 (ABI: timer_set returns the id, negative numbers are error codes). */
export const MAX_TIMER_ID = 0x7fff_ffff;

export interface StoredTimer {
  readonly id: number;
  /** Wall-clock ms since the Unix epoch when it is due. */
  readonly dueAt: number;
  /** The message it delivers, as completed by the host (JSON text). */
  readonly message: string;
}

export interface AgentTimerStore {
  /** Keeps a new timer under the agent's next id and returns the id. Committed on return. */
  add(agent: string, dueAt: number, message: string): number;
  /** Forgets a timer; returns whether it was there. */
  delete(agent: string, id: number): boolean;
  /** The agent's pending timers, by id. */
  list(agent: string): StoredTimer[];
  /** Forgets every timer of the agent and its id counter (agent removal). */
  clear(agent: string): void;
  /** The last id handed out to the agent (0: none yet): what a replica must carry on from. */
  lastId(agent: string): number;
}

export class SqliteAgentTimerStore implements AgentTimerStore {
  readonly #lastId: Statement;
  readonly #setLastId: Statement;
  readonly #exists: Statement;
  readonly #insert: Statement;
  readonly #delete: Statement;
  readonly #list: Statement;
  readonly #add: (agent: string, dueAt: number, message: string) => number;
  readonly #clear: (agent: string) => void;

  constructor(readonly db: SqliteDatabase) {
    this.#lastId = db.prepare('SELECT last_id FROM agent_timer_ids WHERE agent = ?').pluck();
    this.#setLastId = db.prepare('INSERT INTO agent_timer_ids (agent, last_id) VALUES (?, ?) ON CONFLICT (agent) DO UPDATE SET last_id = excluded.last_id');
    this.#exists = db.prepare('SELECT 1 FROM agent_timers WHERE agent = ? AND id = ?').pluck();
    this.#insert = db.prepare('INSERT INTO agent_timers (agent, id, due_at, message, created_at) VALUES (?, ?, ?, ?, ?)');
    this.#delete = db.prepare('DELETE FROM agent_timers WHERE agent = ? AND id = ?');
    this.#list = db.prepare('SELECT id, due_at AS dueAt, message FROM agent_timers WHERE agent = ? ORDER BY id');
    const clearTimers = db.prepare('DELETE FROM agent_timers WHERE agent = ?');
    const clearIds = db.prepare('DELETE FROM agent_timer_ids WHERE agent = ?');
    this.#add = db.transaction((agent: string, dueAt: number, message: string): number => {
      let id = (this.#lastId.get(agent) as number | undefined) ?? 0;
      // Only after a wrap can the next id still be pending; an agent has at most 1,000 pending timers.
      do id = (id % MAX_TIMER_ID) + 1;
      while (this.#exists.get(agent, id) !== undefined);
      this.#setLastId.run(agent, id);
      this.#insert.run(agent, id, dueAt, message, Date.now());
      return id;
    });
    this.#clear = db.transaction((agent: string) => {
      clearTimers.run(agent);
      clearIds.run(agent);
    });
  }

  add(agent: string, dueAt: number, message: string): number {
    return this.#add(agent, dueAt, message);
  }

  delete(agent: string, id: number): boolean {
    return this.#delete.run(agent, id).changes > 0;
  }

  list(agent: string): StoredTimer[] {
    return this.#list.all(agent) as StoredTimer[];
  }

  clear(agent: string): void {
    this.#clear(agent);
  }

  lastId(agent: string): number {
    return (this.#lastId.get(agent) as number | undefined) ?? 0;
  }
}
