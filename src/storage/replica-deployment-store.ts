/**
 * Deployments this node keeps as a replica for another node (their owner), with the owner, the replica
 * set and the ownership epoch the owner last pushed. The owner pushes a deployment to its replicas on
 * every change and on every view change (src/agents/deployment-replication.ts); a failover starts the
 * agent from this row (src/agents/failover.ts). Modules stay in the `modules` table, under their hash.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';
import type { AgentPriority, Deployment, DesiredState } from './deployment-store.js';

type Statement = Database.Statement<unknown[], unknown>;

export interface ReplicaDeployment {
  readonly deployment: Deployment;
  /** The node that owned the agent when it pushed this row. */
  readonly owner: string;
  /** The owner's replicas then, in rank order (this node among them). */
  readonly replicas: readonly string[];
  /** When this node received it, ms since the Unix epoch. */
  readonly receivedAt: number;
}

interface Row {
  name: string;
  id: string;
  module: string;
  config: string;
  priority: AgentPriority;
  desired_state: DesiredState;
  restarts: number;
  deployed_at: number;
  updated_at: number;
  owner: string;
  replicas: string;
  epoch: number;
  received_at: number;
  pinned_node: string | null;
}

export class ReplicaDeploymentStore {
  readonly #put: Statement;
  readonly #get: Statement;
  readonly #list: Statement;
  readonly #delete: Statement;
  readonly #clear: Statement;

  constructor(readonly db: SqliteDatabase) {
    this.#put = db.prepare(
      'INSERT INTO replica_deployments (name, id, module, config, priority, desired_state, restarts, deployed_at, updated_at, owner, replicas, epoch, received_at, pinned_node) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET id = excluded.id, module = excluded.module, config = excluded.config, ' +
        'priority = excluded.priority, desired_state = excluded.desired_state, restarts = excluded.restarts, deployed_at = excluded.deployed_at, ' +
        'updated_at = excluded.updated_at, owner = excluded.owner, replicas = excluded.replicas, epoch = excluded.epoch, received_at = excluded.received_at, pinned_node = excluded.pinned_node',
    );
    this.#get = db.prepare('SELECT * FROM replica_deployments WHERE name = ?');
    this.#list = db.prepare('SELECT * FROM replica_deployments ORDER BY name');
    this.#delete = db.prepare('DELETE FROM replica_deployments WHERE name = ?');
    this.#clear = db.prepare('DELETE FROM replica_deployments');
  }

  /**
   * Keeps a pushed row unless this node holds one of a higher epoch for the same agent: pushes from an
   * owner that has lost the agent are ignored. Returns whether it was kept.
   */
  put(r: Omit<ReplicaDeployment, 'receivedAt'>, now = Date.now()): boolean {
    const d = r.deployment;
    const have = this.get(d.name);
    if (have !== undefined && have.deployment.epoch > d.epoch) return false;
    this.#put.run(d.name, d.id, d.module, d.config, d.priority, d.desiredState, d.restarts, d.deployedAt, d.updatedAt, r.owner, JSON.stringify(r.replicas), d.epoch, now, d.pin ?? null);
    return true;
  }

  get(name: string): ReplicaDeployment | undefined {
    const row = this.#get.get(name) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  list(): ReplicaDeployment[] {
    return (this.#list.all() as Row[]).map(fromRow);
  }

  delete(name: string): boolean {
    return this.#delete.run(name).changes > 0;
  }

  /** Forgets every row (a rebuild from peers refills them). */
  clear(): number {
    return this.#clear.run().changes;
  }
}

function fromRow(r: Row): ReplicaDeployment {
  return {
    deployment: {
      name: r.name,
      id: r.id,
      module: r.module,
      config: r.config,
      priority: r.priority,
      desiredState: r.desired_state,
      restarts: r.restarts,
      deployedAt: r.deployed_at,
      updatedAt: r.updated_at,
      epoch: r.epoch,
      ...(r.pinned_node === null ? {} : { pin: r.pinned_node }),
    },
    owner: r.owner,
    replicas: JSON.parse(r.replicas) as string[],
    receivedAt: r.received_at,
  };
}
