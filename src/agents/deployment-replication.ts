/**
 * Deployments live with their owner and its replicas, not on every node (issue 11, point 3): the node
 * running an agent pushes its deployment row (with the ownership epoch) and, when a replica lacks it,
 * the module bytes to the agent's replicas, on every change (deploy, upgrade, desired state, remove)
 * and again whenever the view changes the replica set. A replica keeps the row in replica_deployments
 * (src/storage/replica-deployment-store.ts); a failover starts the agent from it.
 *
 * Calls (Peers), answered by every node:
 * - `agents.replica.put` {row}: keep the row; answers {kept, needModule} (needModule: send the bytes first)
 * - `agents.replica.module` bytes: keep module bytes under their sha256; answers {hash}
 * - `agents.replica.drop` {name, epoch}: forget the row (the agent was removed, or this node left its replica set)
 * - `agents.module.get` {hash}: the module bytes (a new owner fetches a module it lacks)
 */
import { createHash } from 'node:crypto';
import { CaxtonError } from '../errors.js';
import { isAgentName } from '../messaging/message-schema.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import type { Deployment, ReplicaDeploymentStore } from '../storage/index.js';
import type { Logger } from '../observability/logger.js';
import type { Deployments } from './deployments.js';
import { replicasFor, type RankRule } from './ownership.js';
import type { ReplicaState } from './cluster-events.js';

/** A deployment row as pushed to a replica. */
export interface ReplicaRow {
  readonly deployment: Deployment;
  readonly owner: NodeName;
  readonly replicas: readonly NodeName[];
}

export interface ReplicationOptions {
  readonly peers: Peers;
  readonly deployments: Deployments;
  readonly replicaStore: ReplicaDeploymentStore;
  /** The members agents are placed on now (placementNodes), this node included. */
  readonly nodes: () => readonly NodeName[];
  readonly rank: RankRule;
  /** Told where each agent's state goes (StateReplicator.setReplica), whenever its replica set is pushed. */
  readonly replicaState?: ReplicaState;
  /** Replicas per agent (R). @default 1 */
  readonly replicas?: number;
  readonly logger: Logger;
  /** Deadline of one push, ms. @default 10 s (a module can be megabytes) */
  readonly timeoutMs?: number;
}

/** How many agents a view change re-pushes at once. */
const PUSH_CONCURRENCY = 8;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class DeploymentReplicator {
  readonly #o: ReplicationOptions;
  readonly #r: number;
  /** name → the replicas it was last pushed to (and kept), for drops when the set changes. */
  readonly #pushedTo = new Map<string, readonly NodeName[]>();
  /** The replicas state replication was last told of, per agent (setReplicas). */
  readonly #told = new Map<string, readonly NodeName[]>();
  /** name → the push under way: pushes of one agent run in order. */
  readonly #chain = new Map<string, Promise<void>>();

  constructor(o: ReplicationOptions) {
    this.#o = o;
    this.#r = o.replicas ?? 1;
    const p = o.peers;
    p.onCall('agents.replica.put', (from, body) => this.#onPut(from, body));
    p.onCall('agents.replica.module', (_from, body) => this.#onModule(body));
    p.onCall('agents.replica.drop', (_from, body) => this.#onDrop(body));
    p.onCall('agents.module.get', (_from, body) => this.#onModuleGet(body));
    o.deployments.onChange((c) => void (c.type === 'put' ? this.push(c.name) : this.drop(c.name)));
  }

  /** The replicas of an agent this node holds, as placement stands now. */
  replicasOf(name: string): NodeName[] {
    return replicasFor(name, this.#o.peers.self, this.#o.nodes(), this.#r, this.#o.rank);
  }

  /** Forgets where an agent was pushed (it left this node: its new holder pushes it now). */
  forget(name: string): void {
    this.#pushedTo.delete(name);
    this.#told.delete(name);
    this.#o.replicaState?.setReplicas?.(name, []);
  }

  /** Where an agent was last pushed to. */
  pushedTo(name: string): readonly NodeName[] {
    return this.#pushedTo.get(name) ?? [];
  }

  /**
   * Pushes an agent's deployment to its replicas now, and drops it from nodes that no longer are.
   * Resolves when every reachable replica answered; failures are logged (the next view change or
   * change retries), never thrown.
   */
  push(name: string): Promise<void> {
    return this.#serial(name, () => this.#push(name));
  }

  /** Tells the agent's last replicas to forget it (the agent was removed). */
  drop(name: string): Promise<void> {
    return this.#serial(name, async () => {
      const to = this.#pushedTo.get(name) ?? [];
      this.#pushedTo.delete(name);
      this.#told.delete(name);
      // Its state copy goes too (told while replication still knows the replica): a later deploy under
      // the same name starts from nothing, not from it.
      this.#o.replicaState?.removed?.(name);
      this.#o.replicaState?.setReplicas?.(name, []);
      await Promise.all(to.map((n) => this.#call(n, 'agents.replica.drop', { name, epoch: Number.MAX_SAFE_INTEGER }).catch((e: unknown) => this.#warn(name, n, e))));
    });
  }

  /** Re-pushes every agent whose replica set changed (a view change), a few at a time. */
  async pushAll(): Promise<number> {
    const names = this.#o.deployments.store
      .list()
      .map((d) => d.name)
      .filter((n) => {
        const r = this.replicasOf(n);
        return !sameList(r, this.pushedTo(n)) || !sameList(r, this.#told.get(n) ?? []);
      });
    for (let i = 0; i < names.length; i += PUSH_CONCURRENCY) await Promise.all(names.slice(i, i + PUSH_CONCURRENCY).map((n) => this.push(n)));
    return names.length;
  }

  /** Fetches module bytes by sha256 from `node`, verified before they are kept. */
  async fetchModule(node: NodeName, hash: string): Promise<Uint8Array> {
    const bytes = toBytes(await this.#call(node, 'agents.module.get', { hash }));
    if (bytes === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `node ${node} answered a module request with something other than bytes`, { node });
    const got = sha256Hex(bytes);
    if (got !== hash) throw new CaxtonError('CAXTON_ERR_MODULE_HASH_MISMATCH', `module from node ${node} hashes to ${got}, not the ${hash} asked for`, { node, expected: hash, actual: got });
    this.#o.deployments.store.putModule(hash, bytes);
    return bytes;
  }

  async #push(name: string): Promise<void> {
    const d = this.#o.deployments.store.get(name);
    if (d === undefined) return;
    const replicas = this.replicasOf(name);
    // Compared with what state replication was told last, not with where the row was kept: a push that
    // failed (the replicas just became unreachable) keeps nothing, and the next view change, with no
    // replica left, must still tell replication so, or a sync agent would hold its outputs for ever.
    if (!sameList(replicas, this.#told.get(name) ?? [])) {
      this.#told.set(name, replicas);
      this.#o.replicaState?.setReplicas?.(name, replicas);
    }
    const row: ReplicaRow = { deployment: d, owner: this.#o.peers.self, replicas };
    const kept: NodeName[] = [];
    await Promise.all(
      replicas.map(async (n) => {
        try {
          let a = (await this.#call(n, 'agents.replica.put', { row })) as { kept: boolean; needModule: boolean };
          if (a.needModule) {
            const bytes = this.#o.deployments.store.module(d.module);
            if (bytes === undefined) throw new CaxtonError('CAXTON_ERR_STORAGE_UNAVAILABLE', `module ${d.module} of agent ${name} is missing from the database`, { agent: name });
            await this.#call(n, 'agents.replica.module', bytes);
            a = (await this.#call(n, 'agents.replica.put', { row })) as { kept: boolean; needModule: boolean };
          }
          if (a.kept) kept.push(n);
        } catch (e) {
          this.#warn(name, n, e);
        }
      }),
    );
    const before = this.#pushedTo.get(name) ?? [];
    this.#pushedTo.set(name, replicas.filter((n) => kept.includes(n)));
    // Nodes that left the replica set forget the row, unless they hold a newer epoch (then it is theirs).
    const gone = before.filter((n) => !replicas.includes(n));
    await Promise.all(gone.map((n) => this.#call(n, 'agents.replica.drop', { name, epoch: d.epoch }).catch((e: unknown) => this.#warn(name, n, e))));
  }

  #onPut(from: NodeName, body: PeerBody): { kept: boolean; needModule: boolean } {
    const row = checkRow(body, from);
    const store = this.#o.deployments.store;
    // A node that runs the agent itself is not its replica: an older owner's push is ignored, a newer one
    // is for the failover logic (claims) to settle, not for this table.
    if (store.get(row.deployment.name) !== undefined) return { kept: false, needModule: false };
    if (store.module(row.deployment.module) === undefined) return { kept: false, needModule: true };
    return { kept: this.#o.replicaStore.put(row), needModule: false };
  }

  #onModule(body: PeerBody): { hash: string } {
    const bytes = toBytes(body);
    if (bytes === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', 'agents.replica.module takes the module bytes as its body');
    const hash = sha256Hex(bytes);
    this.#o.deployments.store.putModule(hash, bytes);
    return { hash };
  }

  #onDrop(body: PeerBody): { dropped: boolean } {
    const b = body as { name?: unknown; epoch?: unknown };
    if (typeof b?.name !== 'string' || typeof b.epoch !== 'number') throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', 'agents.replica.drop takes {name, epoch}');
    const have = this.#o.replicaStore.get(b.name);
    if (have === undefined || have.deployment.epoch > b.epoch) return { dropped: false };
    return { dropped: this.#o.replicaStore.delete(b.name) };
  }

  #onModuleGet(body: PeerBody): Uint8Array {
    const hash = (body as { hash?: unknown })?.hash;
    if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', 'agents.module.get takes {hash}: 64 hex digits of sha256');
    const bytes = this.#o.deployments.store.module(hash);
    if (bytes === undefined) throw new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', `no module ${hash} on node ${this.#o.peers.self}`, { hash });
    return new Uint8Array(bytes);
  }

  #call(node: NodeName, method: string, body: PeerBody): Promise<unknown> {
    return this.#o.peers.call(node, method, body, { timeoutMs: this.#o.timeoutMs ?? 10_000 });
  }

  #serial(name: string, work: () => Promise<void>): Promise<void> {
    const next = (this.#chain.get(name) ?? Promise.resolve()).then(work, work);
    const tail = next.catch(() => {});
    this.#chain.set(name, tail);
    void tail.then(() => {
      if (this.#chain.get(name) === tail) this.#chain.delete(name);
    });
    return next;
  }

  #warn(name: string, node: NodeName, e: unknown): void {
    this.#o.logger.warn({ agent: name, node, err: (e as Error).message }, 'could not replicate a deployment (retried at the next change or view change)');
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Bytes as the link hands them over (Uint8Array or Buffer), or undefined. */
function toBytes(b: PeerBody): Uint8Array | undefined {
  return b instanceof Uint8Array ? b : undefined;
}

/** A pushed row, checked field by field: a peer's frame is input like any other. */
export function checkRow(body: PeerBody, from: NodeName): ReplicaRow {
  const row = (body as { row?: unknown })?.row as Record<string, unknown> | undefined;
  const d = row?.['deployment'] as Record<string, unknown> | undefined;
  const bad = (what: string) => new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `node ${from} pushed a deployment whose ${what} is invalid`, { node: from, field: what });
  if (row === undefined || d === undefined || typeof d !== 'object') throw bad('row');
  if (typeof d['name'] !== 'string' || !isAgentName(d['name'])) throw bad('name');
  if (typeof d['id'] !== 'string' || typeof d['config'] !== 'string') throw bad('id or config');
  if (typeof d['module'] !== 'string' || !/^[0-9a-f]{64}$/.test(d['module'])) throw bad('module');
  if (!['low', 'normal', 'high', 'critical'].includes(d['priority'] as string)) throw bad('priority');
  if (!['running', 'suspended', 'stopped'].includes(d['desiredState'] as string)) throw bad('desiredState');
  for (const k of ['restarts', 'deployedAt', 'updatedAt', 'epoch']) if (!Number.isSafeInteger(d[k]) || (d[k] as number) < 0) throw bad(k);
  if (d['pin'] !== undefined && (typeof d['pin'] !== 'string' || d['pin'].length === 0 || d['pin'].length > 255)) throw bad('pin');
  if (typeof row['owner'] !== 'string' || !Array.isArray(row['replicas']) || !row['replicas'].every((n) => typeof n === 'string')) throw bad('owner or replicas');
  return row as unknown as ReplicaRow;
}
