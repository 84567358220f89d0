/**
 * API keys, stored as SHA-256 hashes: the database never holds a usable key. Every request checks a
 * key, so the records are also kept in memory (by id and by hash), loaded once and updated on each
 * change; this store is the only writer of the table.
 *
 * Keys are the same on every node of a cluster (src/cluster/key-sync.ts copies them). Each key's row is
 * versioned: a Lamport `version` (one more than the highest this node has seen, at each local change)
 * and the `origin` node that made the change. A revoked key is kept as a tombstone, so that an older
 * copy of it arriving from a peer cannot bring it back. `merge()` applies a peer's entries with a rule
 * that gives the same result on every node, whatever the order they arrive in (compareKeyEntries).
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

/** A key's row as it is replicated: its record, its hash and the version of its last change. */
export interface ApiKeyEntry extends ApiKeyRecord {
  /** sha256 of the key, hex. */
  readonly hash: string;
  /** Lamport version of the last change (creation, role change, revocation); 1 or more. */
  readonly version: number;
  /** The node that made that change. */
  readonly origin: string;
  /** A tombstone: the key was revoked and never works again. */
  readonly revoked: boolean;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * A short fingerprint of what an entry says, so that two entries with the same version and origin
 * but different contents (a node that lost its database and counted again from 1) still order the
 * same way everywhere.
 */
export function entryFingerprint(e: ApiKeyEntry): string {
  return createHash('sha256').update(`${e.name}\0${e.role}\0${e.hash}\0${e.createdAt}\0${e.revoked ? 1 : 0}`).digest('hex').slice(0, 16);
}

/** What decides between two versions of one key, as anti-entropy exchanges it. */
export interface KeyVersion {
  readonly version: number;
  readonly revoked: boolean;
  readonly origin: string;
  readonly fingerprint: string;
}

export function versionOf(e: ApiKeyEntry): KeyVersion {
  return { version: e.version, revoked: e.revoked, origin: e.origin, fingerprint: entryFingerprint(e) };
}

/**
 * > 0 when `a` wins over `b`, < 0 when `b` wins, 0 when they are the same change. A total order, so
 * every node keeps the same winner: the higher Lamport version; at equal versions a revocation
 * (revoking is never undone by a concurrent change); then the greater origin name; then the greater
 * fingerprint.
 */
export function compareKeyVersions(a: KeyVersion, b: KeyVersion): number {
  if (a.version !== b.version) return a.version > b.version ? 1 : -1;
  if (a.revoked !== b.revoked) return a.revoked ? 1 : -1;
  if (a.origin !== b.origin) return a.origin > b.origin ? 1 : -1;
  if (a.fingerprint !== b.fingerprint) return a.fingerprint > b.fingerprint ? 1 : -1;
  return 0;
}

interface Row {
  id: string;
  name: string;
  role: string;
  hash: string;
  created_at: number;
  version: number;
  origin: string;
  revoked: number;
}

export class ApiKeyStore {
  readonly #upsert: Statement;
  readonly #all: Statement;
  /** id → entry, tombstones included. */
  readonly #byId = new Map<string, ApiKeyEntry>();
  /** hash → live key. */
  readonly #byHash = new Map<string, ApiKeyEntry>();
  /** hash → id of every row, tombstones included: the table's hashes are unique. */
  readonly #hashOwner = new Map<string, string>();
  readonly #listeners: ((changed: readonly ApiKeyEntry[]) => void)[] = [];
  /** The Lamport clock: the highest version seen here. */
  #clock = 0;

  /** `origin` is this node's name, recorded with each change made here. */
  constructor(
    readonly db: SqliteDatabase,
    readonly origin = '',
  ) {
    this.#upsert = db.prepare(
      `INSERT INTO api_keys (id, name, role, hash, created_at, version, origin, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, hash = excluded.hash, created_at = excluded.created_at,
         version = excluded.version, origin = excluded.origin, revoked = excluded.revoked`,
    );
    this.#all = db.prepare('SELECT id, name, role, hash, created_at, version, origin, revoked FROM api_keys');
    for (const r of this.#all.all() as Row[]) this.#remember(fromRow(r));
  }

  add(record: Omit<ApiKeyRecord, 'createdAt'>, key: string, now = Date.now()): ApiKeyRecord {
    const e: ApiKeyEntry = { ...record, createdAt: now, hash: hashKey(key), version: this.#clock + 1, origin: this.origin, revoked: false };
    this.#write([e]);
    this.#changed([e]);
    return recordOf(e);
  }

  /** The record of a presented key, or undefined (unknown or revoked). */
  find(key: string): ApiKeyRecord | undefined {
    const e = this.#byHash.get(hashKey(key));
    return e === undefined ? undefined : recordOf(e);
  }

  /** A live key's record by id. */
  get(id: string): ApiKeyRecord | undefined {
    const e = this.#byId.get(id);
    return e === undefined || e.revoked ? undefined : recordOf(e);
  }

  /** Live keys, oldest first. */
  list(): ApiKeyRecord[] {
    return [...this.#byId.values()]
      .filter((e) => !e.revoked)
      .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map(recordOf);
  }

  /** Revokes a key: it becomes a tombstone. False when there is no live key with that id. */
  remove(id: string): boolean {
    const e = this.#byId.get(id);
    if (e === undefined || e.revoked) return false;
    const t: ApiKeyEntry = { ...e, revoked: true, version: this.#clock + 1, origin: this.origin };
    this.#write([t]);
    this.#changed([t]);
    return true;
  }

  /** Gives a live key another role. Undefined when there is no live key with that id. */
  setRole(id: string, role: string): ApiKeyRecord | undefined {
    const e = this.#byId.get(id);
    if (e === undefined || e.revoked) return undefined;
    if (e.role === role) return recordOf(e);
    const u: ApiKeyEntry = { ...e, role, version: this.#clock + 1, origin: this.origin };
    this.#write([u]);
    this.#changed([u]);
    return recordOf(u);
  }

  countWithRole(role: string): number {
    let n = 0;
    for (const e of this.#byHash.values()) if (e.role === role) n++;
    return n;
  }

  /** Every entry, tombstones included (what anti-entropy compares). */
  entries(): ApiKeyEntry[] {
    return [...this.#byId.values()];
  }

  entry(id: string): ApiKeyEntry | undefined {
    return this.#byId.get(id);
  }

  /**
   * Applies entries from a peer: each one that wins over the local copy (compareKeyVersions) replaces
   * it, in one transaction. Returns those applied. An entry whose hash belongs to another key here
   * (live or revoked) is skipped (`conflicts`): two ids cannot share one key.
   */
  merge(entries: readonly ApiKeyEntry[]): { applied: ApiKeyEntry[]; conflicts: ApiKeyEntry[] } {
    const applied: ApiKeyEntry[] = [];
    const conflicts: ApiKeyEntry[] = [];
    const batch = new Map<string, string>();
    // One id twice in a batch: only its winner counts.
    const best = new Map<string, ApiKeyEntry>();
    for (const e of entries) {
      const b = best.get(e.id);
      if (b === undefined || compareKeyVersions(versionOf(e), versionOf(b)) > 0) best.set(e.id, e);
    }
    for (const e of best.values()) {
      // The clock moves past everything seen, applied or not, so that the next local change wins.
      if (e.version > this.#clock) this.#clock = e.version;
      const mine = this.#byId.get(e.id);
      if (mine !== undefined && compareKeyVersions(versionOf(e), versionOf(mine)) <= 0) continue;
      const owner = batch.get(e.hash) ?? this.#hashOwner.get(e.hash);
      if (owner !== undefined && owner !== e.id) {
        conflicts.push(e);
        continue;
      }
      batch.set(e.hash, e.id);
      applied.push(e);
    }
    if (applied.length > 0) this.#write(applied);
    return { applied, conflicts };
  }

  /** Called with the entries of each change made on this node (not with merged ones). */
  onChange(fn: (changed: readonly ApiKeyEntry[]) => void): () => void {
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** The Lamport clock (highest version seen). */
  get clock(): number {
    return this.#clock;
  }

  #write(entries: readonly ApiKeyEntry[]): void {
    this.db.transaction(() => {
      for (const e of entries) this.#upsert.run(e.id, e.name, e.role, e.hash, e.createdAt, e.version, e.origin, e.revoked ? 1 : 0);
    })();
    for (const e of entries) this.#remember(e);
  }

  #remember(e: ApiKeyEntry): void {
    const old = this.#byId.get(e.id);
    if (old !== undefined) {
      if (this.#byHash.get(old.hash) === old) this.#byHash.delete(old.hash);
      if (this.#hashOwner.get(old.hash) === e.id) this.#hashOwner.delete(old.hash);
    }
    this.#byId.set(e.id, e);
    this.#hashOwner.set(e.hash, e.id);
    if (!e.revoked) this.#byHash.set(e.hash, e);
    if (e.version > this.#clock) this.#clock = e.version;
  }

  #changed(entries: readonly ApiKeyEntry[]): void {
    for (const fn of this.#listeners) {
      try {
        fn(entries);
      } catch {
        // a listener's failure (a peer that cannot be told now) must not undo the change: anti-entropy repairs it
      }
    }
  }
}

function recordOf(e: ApiKeyEntry): ApiKeyRecord {
  return { id: e.id, name: e.name, role: e.role, createdAt: e.createdAt };
}

function fromRow(r: Row): ApiKeyEntry {
  return { id: r.id, name: r.name, role: r.role, hash: r.hash, createdAt: r.created_at, version: r.version, origin: r.origin, revoked: r.revoked !== 0 };
}
