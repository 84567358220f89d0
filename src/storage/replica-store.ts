/**
 * Replicated agent state in this node's SQLite (migration 7). As a replica, the node keeps a copy of
 * agents owned elsewhere: their head (owner, epoch, seq), their key-value pairs, and the at-least-once
 * message ids their deltas applied. As an owner, it keeps the epoch under which it owns each agent.
 * The rules (fencing, order) are the replication module's (src/agents/replication/replica.ts); this
 * file only reads and writes, and every method that changes several rows runs in one transaction.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

export interface ReplicaHead {
  /** The node whose deltas this copy follows. */
  readonly owner: string;
  /** The highest ownership epoch seen for the agent: deltas of a lower epoch are refused. */
  readonly epoch: number;
  /** The owner's last delta applied here. */
  readonly seq: number;
}

/** One key-value write: a value, or null for a delete. */
export type KvWrite = readonly [key: Uint8Array, value: Uint8Array | null];

/** A pending timer as replicated: id, due (ms since the epoch), message; a null message: gone. */
export type TimerWrite = readonly [id: number, dueAt: number, message: string | null];

export class ReplicaStore {
  readonly #head: Statement;
  readonly #setHead: Statement;
  readonly #set: Statement;
  readonly #del: Statement;
  readonly #clearKv: Statement;
  readonly #kv: Statement;
  readonly #addApplied: Statement;
  readonly #applied: Statement;
  readonly #clearApplied: Statement;
  readonly #prune: Statement;
  readonly #forget: Statement;
  readonly #ownedEpoch: Statement;
  readonly #setOwnedEpoch: Statement;
  readonly #forgetOwned: Statement;
  readonly #clearLocal: Statement;
  readonly #setLocal: Statement;
  readonly #setTimer: Statement;
  readonly #delTimer: Statement;
  readonly #clearTimers: Statement;
  readonly #timers: Statement;
  readonly #bumpTimerId: Statement;
  readonly #timerLastId: Statement;
  readonly #clearLocalTimers: Statement;
  readonly #setLocalTimer: Statement;
  readonly #setLocalTimerId: Statement;

  constructor(readonly db: SqliteDatabase) {
    this.#head = db.prepare('SELECT owner, epoch, seq FROM replica_agents WHERE agent = ?');
    this.#setHead = db.prepare(
      'INSERT INTO replica_agents (agent, owner, epoch, seq, updated_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (agent) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch, seq = excluded.seq, updated_at = excluded.updated_at',
    );
    this.#set = db.prepare('INSERT INTO replica_kv (agent, key, value) VALUES (?, ?, ?) ON CONFLICT (agent, key) DO UPDATE SET value = excluded.value');
    this.#del = db.prepare('DELETE FROM replica_kv WHERE agent = ? AND key = ?');
    this.#clearKv = db.prepare('DELETE FROM replica_kv WHERE agent = ?');
    this.#kv = db.prepare('SELECT key, value FROM replica_kv WHERE agent = ? ORDER BY key').raw();
    this.#addApplied = db.prepare('INSERT OR IGNORE INTO replica_applied (agent, message_id, seq, at) VALUES (?, ?, ?, ?)');
    this.#applied = db.prepare('SELECT message_id FROM replica_applied WHERE agent = ? ORDER BY seq').pluck();
    this.#clearApplied = db.prepare('DELETE FROM replica_applied WHERE agent = ?');
    this.#prune = db.prepare('DELETE FROM replica_applied WHERE at < ?');
    this.#forget = db.prepare('DELETE FROM replica_agents WHERE agent = ?');
    this.#ownedEpoch = db.prepare('SELECT epoch FROM agent_epochs WHERE agent = ?').pluck();
    this.#forgetOwned = db.prepare('DELETE FROM agent_epochs WHERE agent = ?');
    this.#setOwnedEpoch = db.prepare('INSERT INTO agent_epochs (agent, epoch) VALUES (?, ?) ON CONFLICT (agent) DO UPDATE SET epoch = excluded.epoch');
    this.#clearLocal = db.prepare('DELETE FROM agent_kv WHERE agent = ?');
    this.#setLocal = db.prepare('INSERT INTO agent_kv (agent, key, value, updated_at) VALUES (?, ?, ?, ?)');
    this.#setTimer = db.prepare('INSERT INTO replica_timers (agent, id, due_at, message) VALUES (?, ?, ?, ?) ON CONFLICT (agent, id) DO UPDATE SET due_at = excluded.due_at, message = excluded.message');
    this.#delTimer = db.prepare('DELETE FROM replica_timers WHERE agent = ? AND id = ?');
    this.#clearTimers = db.prepare('DELETE FROM replica_timers WHERE agent = ?');
    this.#timers = db.prepare('SELECT id, due_at, message FROM replica_timers WHERE agent = ? ORDER BY id').raw();
    this.#bumpTimerId = db.prepare('UPDATE replica_agents SET timer_last_id = max(timer_last_id, ?) WHERE agent = ?');
    this.#timerLastId = db.prepare('SELECT timer_last_id FROM replica_agents WHERE agent = ?').pluck();
    this.#clearLocalTimers = db.prepare('DELETE FROM agent_timers WHERE agent = ?');
    this.#setLocalTimer = db.prepare('INSERT INTO agent_timers (agent, id, due_at, message, created_at) VALUES (?, ?, ?, ?, ?)');
    this.#setLocalTimerId = db.prepare('INSERT INTO agent_timer_ids (agent, last_id) VALUES (?, ?) ON CONFLICT (agent) DO UPDATE SET last_id = excluded.last_id');
  }

  /** Runs `fn` in one transaction (BEGIN IMMEDIATE: a worker's write lock is waited for, not raced). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  head(agent: string): ReplicaHead | undefined {
    return this.#head.get(agent) as ReplicaHead | undefined;
  }

  setHead(agent: string, head: ReplicaHead, now = Date.now()): void {
    this.#setHead.run(agent, head.owner, head.epoch, head.seq, now);
  }

  /** Applies key-value writes to the copy; `replace` first drops every pair (a full snapshot). */
  write(agent: string, writes: readonly KvWrite[], replace: boolean): void {
    if (replace) this.#clearKv.run(agent);
    for (const [key, value] of writes) {
      if (value === null) this.#del.run(agent, key);
      else this.#set.run(agent, key, value);
    }
  }

  /**
   * Applies timer writes to the copy (`replace`: a snapshot, dropping every other timer) and raises
   * its last timer id to `lastId` and to every id written. Call after setHead (the id is in the head row).
   */
  writeTimers(agent: string, timers: readonly TimerWrite[], replace: boolean, lastId = 0): void {
    if (replace) this.#clearTimers.run(agent);
    let last = lastId;
    for (const [id, dueAt, message] of timers) {
      if (message === null) this.#delTimer.run(agent, id);
      else this.#setTimer.run(agent, id, dueAt, message);
      if (id > last) last = id;
    }
    if (last > 0) this.#bumpTimerId.run(last, agent);
  }

  /** The copy's pending timers, by id. */
  timers(agent: string): [number, number, string][] {
    return this.#timers.all(agent) as [number, number, string][];
  }

  timerLastId(agent: string): number {
    return (this.#timerLastId.get(agent) as number | undefined) ?? 0;
  }

  addApplied(agent: string, messageId: string, seq: number, now = Date.now()): void {
    this.#addApplied.run(agent, messageId, seq, now);
  }

  /** The copy's key-value pairs, by key. */
  kv(agent: string): [Uint8Array, Uint8Array][] {
    return this.#kv.all(agent) as [Uint8Array, Uint8Array][];
  }

  /** The at-least-once message ids the copy's deltas applied, oldest first. */
  applied(agent: string): string[] {
    return this.#applied.all(agent) as string[];
  }

  /** Forgets applied ids recorded before `before` (ms since the epoch). */
  prune(before: number): number {
    return this.#prune.run(before).changes;
  }

  /** Drops the copy of an agent entirely (the agent was removed). */
  forget(agent: string): void {
    this.transaction(() => {
      this.#forget.run(agent);
      this.#clearKv.run(agent);
      this.#clearTimers.run(agent);
      this.#clearApplied.run(agent);
    });
  }

  /** Drops the copy's data, keeping its head: a promoted replica still refuses the old owner's deltas. */
  dropData(agent: string): void {
    this.#clearKv.run(agent);
    this.#clearTimers.run(agent);
    this.#clearApplied.run(agent);
  }

  /** The epoch under which this node owns `agent`, or undefined. */
  ownedEpoch(agent: string): number | undefined {
    return this.#ownedEpoch.get(agent) as number | undefined;
  }

  setOwnedEpoch(agent: string, epoch: number): void {
    this.#setOwnedEpoch.run(agent, epoch);
  }

  /** This node no longer owns `agent` (removed): a new deployment of the name starts again at epoch 1. */
  forgetOwned(agent: string): void {
    this.#forgetOwned.run(agent);
  }

  /**
   * Makes `kv` and `timers` the agent's local state (agent_kv, agent_timers), replacing what was
   * there, and carries its timer ids on from `lastTimerId` (an id handed out before is never reused).
   */
  installLocal(agent: string, kv: readonly (readonly [Uint8Array, Uint8Array])[], timers: readonly (readonly [number, number, string])[], lastTimerId: number, now = Date.now()): void {
    this.#clearLocal.run(agent);
    for (const [key, value] of kv) this.#setLocal.run(agent, key, value, now);
    this.#clearLocalTimers.run(agent);
    let last = lastTimerId;
    for (const [id, dueAt, message] of timers) {
      this.#setLocalTimer.run(agent, id, dueAt, message, now);
      if (id > last) last = id;
    }
    if (last > 0) this.#setLocalTimerId.run(agent, last);
  }
}
