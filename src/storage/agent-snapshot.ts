/**
 * An agent's whole durable state as one value (its key-value pairs, its pending timers and its timer
 * id counter), taken from and written into this node's database: what a live move hands from the old
 * owner to the new one, and what a rebuild restores. JSON-able (bytes as base64), to cross Peers.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

export interface AgentSnapshot {
  /** [key, value], base64. */
  readonly kv: readonly (readonly [string, string])[];
  readonly timers: readonly { readonly id: number; readonly dueAt: number; readonly message: string }[];
  /** The agent's last timer id (0: none yet), so ids are not handed out twice after the move. */
  readonly lastTimerId: number;
}

export class AgentSnapshotStore {
  readonly #kv: Statement;
  readonly #timers: Statement;
  readonly #lastId: Statement;
  readonly #write: (agent: string, s: AgentSnapshot) => void;
  readonly #drop: (agent: string) => void;

  constructor(readonly db: SqliteDatabase) {
    this.#kv = db.prepare('SELECT key, value FROM agent_kv WHERE agent = ? ORDER BY key').raw();
    this.#timers = db.prepare('SELECT id, due_at AS dueAt, message FROM agent_timers WHERE agent = ? ORDER BY id');
    this.#lastId = db.prepare('SELECT last_id FROM agent_timer_ids WHERE agent = ?').pluck();
    const delKv = db.prepare('DELETE FROM agent_kv WHERE agent = ?');
    const delTimers = db.prepare('DELETE FROM agent_timers WHERE agent = ?');
    const delIds = db.prepare('DELETE FROM agent_timer_ids WHERE agent = ?');
    const putKv = db.prepare('INSERT INTO agent_kv (agent, key, value, updated_at) VALUES (?, ?, ?, ?)');
    const putTimer = db.prepare('INSERT INTO agent_timers (agent, id, due_at, message, created_at) VALUES (?, ?, ?, ?, ?)');
    const putId = db.prepare('INSERT INTO agent_timer_ids (agent, last_id) VALUES (?, ?)');
    this.#drop = db.transaction((agent: string) => {
      delKv.run(agent);
      delTimers.run(agent);
      delIds.run(agent);
    });
    // One transaction: the new owner never starts from half a state.
    this.#write = db.transaction((agent: string, s: AgentSnapshot) => {
      this.#drop(agent);
      const now = Date.now();
      for (const [k, v] of s.kv) putKv.run(agent, Buffer.from(k, 'base64'), Buffer.from(v, 'base64'), now);
      for (const t of s.timers) putTimer.run(agent, t.id, t.dueAt, t.message, now);
      if (s.lastTimerId > 0) putId.run(agent, s.lastTimerId);
    });
  }

  /** The agent's state now. Take it once the agent has stopped, or it may change after. */
  read(agent: string): AgentSnapshot {
    const kv = (this.#kv.all(agent) as [Uint8Array, Uint8Array][]).map(([k, v]) => [Buffer.from(k).toString('base64'), Buffer.from(v).toString('base64')] as const);
    const timers = this.#timers.all(agent) as { id: number; dueAt: number; message: string }[];
    return { kv, timers, lastTimerId: (this.#lastId.get(agent) as number | undefined) ?? 0 };
  }

  /** Replaces the agent's state with `s`, atomically. */
  write(agent: string, s: AgentSnapshot): void {
    this.#write(agent, s);
  }

  /** Forgets the agent's state (after it moved away). */
  drop(agent: string): void {
    this.#drop(agent);
  }
}

/** Bad input from a peer is refused before it reaches the database. */
export function isAgentSnapshot(x: unknown): x is AgentSnapshot {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  return (
    Array.isArray(s['kv']) &&
    s['kv'].every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string') &&
    Array.isArray(s['timers']) &&
    s['timers'].every((t) => typeof t === 'object' && t !== null && Number.isInteger((t as Record<string, unknown>)['id']) && typeof (t as Record<string, unknown>)['dueAt'] === 'number' && typeof (t as Record<string, unknown>)['message'] === 'string') &&
    Number.isInteger(s['lastTimerId'])
  );
}
