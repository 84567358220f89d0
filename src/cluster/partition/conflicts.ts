/**
 * Second copies of an agent that lost (partition_conflicts, migration 10). After a partition, an agent
 * can have run on both sides: the majority took it over at a higher epoch while the minority's copy
 * went on. When they meet, the copy with the lower epoch stops (src/agents/failover.ts, claims) — and
 * whatever it wrote meanwhile is not silently dropped: its whole state is kept here, logged, and listed
 * by `caxton cluster conflicts` for the operator to review and, if wanted, apply by hand.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from '../../storage/database.js';
import type { AgentSnapshot } from '../../storage/agent-snapshot.js';

type Statement = Database.Statement<unknown[], unknown>;

export interface Conflict {
  readonly id: number;
  readonly agent: string;
  /** The node whose copy lost (this node). */
  readonly node: string;
  readonly epoch: number;
  readonly winner: string;
  readonly winnerEpoch: number;
  /** The losing copy's state when it stopped. */
  readonly state: AgentSnapshot;
  readonly createdAt: number;
  readonly reviewedAt: number | null;
}

interface Row {
  id: number;
  agent: string;
  node: string;
  epoch: number;
  winner: string;
  winner_epoch: number;
  state: string;
  created_at: number;
  reviewed_at: number | null;
}

/** Rows kept at most; the oldest reviewed ones go first, then the oldest. */
const MAX_ROWS = 10_000;

export class ConflictStore {
  readonly #add: Statement;
  readonly #list: Statement;
  readonly #review: Statement;
  readonly #count: Statement;
  readonly #trim: Statement;

  constructor(db: SqliteDatabase) {
    this.#add = db.prepare('INSERT INTO partition_conflicts (agent, node, epoch, winner, winner_epoch, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#list = db.prepare('SELECT * FROM partition_conflicts WHERE (? = 1 OR reviewed_at IS NULL) ORDER BY id DESC LIMIT ?');
    this.#review = db.prepare('UPDATE partition_conflicts SET reviewed_at = ? WHERE id = ? AND reviewed_at IS NULL');
    this.#count = db.prepare('SELECT count(*) FROM partition_conflicts WHERE reviewed_at IS NULL').pluck();
    this.#trim = db.prepare('DELETE FROM partition_conflicts WHERE id IN (SELECT id FROM partition_conflicts ORDER BY reviewed_at IS NULL, id LIMIT max(0, (SELECT count(*) FROM partition_conflicts) - ?))');
  }

  record(c: Omit<Conflict, 'id' | 'createdAt' | 'reviewedAt'>): number {
    const id = Number(this.#add.run(c.agent, c.node, c.epoch, c.winner, c.winnerEpoch, JSON.stringify(c.state), Date.now()).lastInsertRowid);
    this.#trim.run(MAX_ROWS);
    return id;
  }

  /** Newest first; reviewed ones too when `all`. */
  list(all = false, limit = 100): Conflict[] {
    return (this.#list.all(all ? 1 : 0, limit) as Row[]).map((r) => ({
      id: r.id,
      agent: r.agent,
      node: r.node,
      epoch: r.epoch,
      winner: r.winner,
      winnerEpoch: r.winner_epoch,
      state: JSON.parse(r.state) as AgentSnapshot,
      createdAt: r.created_at,
      reviewedAt: r.reviewed_at,
    }));
  }

  /** Marks one reviewed; false when there is no such unreviewed conflict. */
  review(id: number): boolean {
    return this.#review.run(Date.now(), id).changes > 0;
  }

  /** Conflicts not reviewed yet. */
  pending(): number {
    return this.#count.get() as number;
  }
}
