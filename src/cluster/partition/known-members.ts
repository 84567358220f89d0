/**
 * The largest membership this node has agreed on, kept in SQLite (cluster_known_members, migration 10)
 * so that a node restarted during a partition still knows how big its cluster is: without it, a
 * restarted minority of two, with bootstrap_expect 3 in a cluster grown to 5, would count 2 of 3 and
 * call itself the majority.
 *
 * A Caxton member is added when it is seen alive; removed when it leaves gracefully or an operator
 * removes it (both show as `left`). A failed member stays: it is exactly the one a partition hides.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from '../../storage/database.js';

type Statement = Database.Statement<unknown[], unknown>;

export class KnownMembers {
  readonly #names: Set<string>;
  readonly #add: Statement;
  readonly #remove: Statement;
  readonly #form: Statement;
  #formed: boolean;

  constructor(db: SqliteDatabase, self: string) {
    this.#add = db.prepare('INSERT OR IGNORE INTO cluster_known_members (name, since) VALUES (?, ?)');
    this.#remove = db.prepare('DELETE FROM cluster_known_members WHERE name = ?');
    this.#form = db.prepare('INSERT OR IGNORE INTO cluster_formed (id, at) VALUES (1, ?)');
    this.#names = new Set(db.prepare('SELECT name FROM cluster_known_members').pluck().all() as string[]);
    this.#formed = db.prepare('SELECT 1 FROM cluster_formed').pluck().get() !== undefined;
    this.add(self);
  }

  /** Whether the cluster has reached bootstrap_expect once (from then on, its agreed membership is its size). */
  get formed(): boolean {
    return this.#formed;
  }

  /** Records that the cluster reached bootstrap_expect. */
  form(): void {
    if (this.#formed) return;
    this.#formed = true;
    this.#form.run(Date.now());
  }

  /** Returns whether it was new. */
  add(name: string): boolean {
    if (this.#names.has(name)) return false;
    this.#names.add(name);
    this.#add.run(name, Date.now());
    return true;
  }

  /** Returns whether it was known. */
  remove(name: string): boolean {
    if (!this.#names.delete(name)) return false;
    this.#remove.run(name);
    return true;
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  names(): ReadonlySet<string> {
    return this.#names;
  }
}
