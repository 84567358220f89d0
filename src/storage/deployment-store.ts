/**
 * The operator's desired state: which agents are deployed, from which module, with which config, and
 * whether they should be running. Written before the API answers, so a deployment the operator was
 * told about survives a kill -9; the node rebuilds its agents from it at start.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

type Statement = Database.Statement<unknown[], unknown>;

export type AgentPriority = 'low' | 'normal' | 'high' | 'critical';
/** What the node brings back at start: running, suspended (held), or stopped (not started). */
export type DesiredState = 'running' | 'suspended' | 'stopped';

export interface Deployment {
  readonly name: string;
  readonly id: string;
  readonly module: string;
  /** The agent's config as JSON text. */
  readonly config: string;
  readonly priority: AgentPriority;
  readonly desiredState: DesiredState;
  /** Starts after the first (crash restarts, operator restarts, node restarts). */
  readonly restarts: number;
  readonly deployedAt: number;
  readonly updatedAt: number;
  /**
   * The ownership epoch in the cluster (the fencing token): 0 for a deployment made here, raised by
   * one at every failover and live move (src/agents/). A node that sees a higher epoch for an agent it
   * runs has lost it and stops its copy.
   */
  readonly epoch: number;
  /**
   * The node the agent was deployed to with `target_node`: it stays there, and comes back there when
   * that node is back in placement. Absent: placed by rank (or moved on purpose), no pin.
   */
  readonly pin?: string;
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
  epoch: number;
  pinned_node: string | null;
}

export class DeploymentStore {
  readonly #putModule: Statement;
  readonly #getModule: Statement;
  readonly #dropUnused: Statement;
  readonly #insert: Statement;
  readonly #get: Statement;
  readonly #list: Statement;
  readonly #setState: Statement;
  readonly #setModule: Statement;
  readonly #setRestarts: Statement;
  readonly #setEpoch: Statement;
  readonly #adopt: Statement;
  readonly #delete: Statement;
  /**
   * name → deployment, in deployment order: the API looks deployments up on every message (is the
   * sender one of our agents?), so reads come from memory. This store is the table's only writer.
   */
  readonly #cache = new Map<string, Deployment>();

  constructor(readonly db: SqliteDatabase) {
    this.#putModule = db.prepare('INSERT OR IGNORE INTO modules (hash, bytes, created_at) VALUES (?, ?, ?)');
    this.#getModule = db.prepare('SELECT bytes FROM modules WHERE hash = ?').pluck();
    // Replicas' deployments keep their modules too: they are what a failover starts from.
    this.#dropUnused = db.prepare('DELETE FROM modules WHERE hash NOT IN (SELECT module FROM deployments UNION SELECT module FROM replica_deployments)');
    this.#insert = db.prepare(
      'INSERT INTO deployments (name, id, module, config, priority, desired_state, deployed_at, updated_at, pinned_node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#get = db.prepare('SELECT * FROM deployments WHERE name = ?');
    this.#list = db.prepare('SELECT * FROM deployments ORDER BY deployed_at, name');
    this.#setState = db.prepare('UPDATE deployments SET desired_state = ?, updated_at = ? WHERE name = ?');
    this.#setModule = db.prepare('UPDATE deployments SET module = ?, updated_at = ? WHERE name = ?');
    this.#setRestarts = db.prepare('UPDATE deployments SET restarts = ? WHERE name = ?');
    this.#setEpoch = db.prepare('UPDATE deployments SET epoch = ? WHERE name = ?');
    this.#adopt = db.prepare(
      'INSERT INTO deployments (name, id, module, config, priority, desired_state, restarts, deployed_at, updated_at, epoch, pinned_node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#delete = db.prepare('DELETE FROM deployments WHERE name = ?');
    for (const r of this.#list.all() as Row[]) this.#cache.set(r.name, fromRow(r));
  }

  /** Keeps module bytes under their hash (idempotent). */
  putModule(hash: string, bytes: Uint8Array, now = Date.now()): void {
    this.#putModule.run(hash, bytes, now);
  }

  module(hash: string): Uint8Array | undefined {
    return this.#getModule.get(hash) as Uint8Array | undefined;
  }

  /** Records a new deployment and its module in one transaction. */
  add(d: Omit<Deployment, 'deployedAt' | 'updatedAt' | 'restarts' | 'epoch'>, bytes: Uint8Array, now = Date.now()): Deployment {
    this.db.transaction(() => {
      this.#putModule.run(d.module, bytes, now);
      this.#insert.run(d.name, d.id, d.module, d.config, d.priority, d.desiredState, now, now, d.pin ?? null);
    })();
    const dep = { ...d, restarts: 0, deployedAt: now, updatedAt: now, epoch: 0 };
    this.#cache.set(d.name, dep);
    return dep;
  }

  /**
   * Records a deployment made on another node, as it was there (same id, times, restarts), at `epoch`:
   * this node takes the agent over (a failover or a move). Its module must be stored already.
   */
  adopt(d: Deployment): Deployment {
    this.#adopt.run(d.name, d.id, d.module, d.config, d.priority, d.desiredState, d.restarts, d.deployedAt, d.updatedAt, d.epoch, d.pin ?? null);
    this.#cache.set(d.name, d);
    return d;
  }

  /** Raises (or sets) the ownership epoch of a deployment. */
  setEpoch(name: string, epoch: number): void {
    const d = this.#cache.get(name);
    if (d === undefined || d.epoch === epoch) return;
    this.#setEpoch.run(epoch, name);
    this.#cache.set(name, { ...d, epoch });
  }

  get(name: string): Deployment | undefined {
    return this.#cache.get(name);
  }

  list(): Deployment[] {
    return [...this.#cache.values()];
  }

  setDesiredState(name: string, state: DesiredState, now = Date.now()): void {
    this.#setState.run(state, now, name);
    this.#refresh(name);
  }

  #refresh(name: string): void {
    const r = this.#get.get(name) as Row | undefined;
    if (r === undefined) this.#cache.delete(name);
    else this.#cache.set(name, fromRow(r));
  }

  /** Points a deployment at a module already stored with putModule (after an upgrade). */
  setModule(name: string, hash: string, now = Date.now()): void {
    this.#setModule.run(hash, now, name);
    this.#refresh(name);
  }

  /** Records how often the agent was started again (not a change of the desired state: updatedAt stays). */
  setRestarts(name: string, restarts: number): void {
    const d = this.#cache.get(name);
    if (d === undefined || d.restarts === restarts) return;
    this.#setRestarts.run(restarts, name);
    this.#cache.set(name, { ...d, restarts });
  }

  remove(name: string): void {
    this.#delete.run(name);
    this.#cache.delete(name);
  }

  count(): number {
    return this.#cache.size;
  }

  /**
   * Deletes module bytes no deployment uses. Run at start only: while the node runs, a module may be
   * stored for an upgrade (a canary) that has not switched the deployment over yet.
   */
  dropUnusedModules(): number {
    return this.#dropUnused.run().changes;
  }
}

function fromRow(r: Row): Deployment {
  return {
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
  };
}
