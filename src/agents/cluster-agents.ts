/**
 * The agents' side of the cluster, assembled: deployments replicated to their owner's replicas, live
 * moves, failover on view changes, and the operator's commands (rebalance, isolate, rejoin, rebuild,
 * and the hand-over before a graceful leave). node.ts builds one per clustered node and calls
 * viewChanged() on every membership event; the API reaches the commands through it.
 *
 * Calls between nodes (Peers), besides those of deployment-replication.ts and handoff.ts:
 * - `agents.hosted` {}: the agents this node runs, for a rebalance plan
 * - `agents.move` {name, to}: move one of this node's agents live (a rebalance round)
 * - `agents.isolate` {isolated}: isolate this node (its agents move away) or let it rejoin
 * - `agents.rebuild` {}: rebuild this node from its peers; `agents.rebuild.peer` {hosted}: a peer's part
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaxtonError } from '../errors.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import { AgentSnapshotStore, ReplicaDeploymentStore, type SqliteDatabase } from '../storage/index.js';
import type { Logger } from '../observability/logger.js';
import type { PriorityLevel } from '../sandbox/worker/mailbox.js';
import type { Deployments } from './deployments.js';
import { DeploymentReplicator } from './deployment-replication.js';
import { Handoff, HandoffGate, type ConflictRecorder } from './handoff.js';
import { Failover, type PartitionGate, type ViewOutcome } from './failover.js';
import { hrwRank, takeoverNode, type MemberView, type RankRule } from './ownership.js';
import { planRebalance, type NodeLoad, type PlannedMove, type RebalanceStrategy } from './rebalance.js';
import type { AgentsEvent, DirectoryUpdates, ReplicaState } from './cluster-events.js';

export interface ClusterAgentsOptions {
  readonly peers: Peers;
  readonly deployments: Deployments;
  /** The node's database (replica_deployments, agent state). */
  readonly db: SqliteDatabase;
  /** Where the isolation flag is kept across restarts (`<dataDir>/isolated`); absent: not kept. */
  readonly dataDir?: string;
  readonly members: () => readonly MemberView[];
  /** Tells the cluster whether this node is out of placement (its `isolated` tag). */
  readonly announce: (outOfPlacement: boolean) => Promise<void>;
  readonly deliverLocal: (name: string, json: string, priority: PriorityLevel) => boolean;
  readonly reroute: (name: string, json: string, priority: PriorityLevel) => void;
  readonly rank?: RankRule;
  /** Replicas per agent. @default 1 */
  readonly replicas?: number;
  readonly replicaState?: ReplicaState;
  readonly directory?: DirectoryUpdates;
  readonly logger: Logger;
  readonly drainTimeoutMs?: number;
  readonly forwardMs?: number;
  readonly callTimeoutMs?: number;
  /** Partitions (src/cluster/partition/): takeovers only with a quorum; claims wait while a merge is held. */
  readonly partition?: PartitionGate;
  /** While the cluster starts again after a cluster stop, no agent moves by a view change (failover.ts). */
  readonly startHeld?: () => boolean;
  /** Where a second copy that lost keeps its state for the operator's review (partition_conflicts). */
  readonly conflicts?: ConflictRecorder;
}

export interface MoveReport {
  readonly agent: string;
  readonly from: NodeName;
  readonly to: NodeName;
  readonly ok: boolean;
  readonly epoch?: number;
  readonly pauseMs?: number;
  readonly error?: string;
}

export interface RebalanceReport {
  readonly strategy: RebalanceStrategy;
  readonly rounds: number;
  readonly moves: readonly MoveReport[];
  /** Moves the plan still wants after the last round (0: balanced). */
  readonly remaining: number;
}

export interface RebuildReport {
  readonly node: NodeName;
  /** Agents a peer took back from its replica state and handed to this node. */
  readonly restored: number;
  /** Deployments peers pushed to this node again as their replica. */
  readonly repushed: number;
  /** Agents moved live to this node (their owner by rank). */
  readonly moved: number;
  readonly failed: readonly string[];
  /** Peers that did not answer. */
  readonly silent: readonly NodeName[];
}

const ISOLATED_FILE = 'isolated';

/** Whether the node whose data dir this is was isolated (`cluster isolate`) when it last ran. */
export function isolatedOnDisk(dataDir: string): boolean {
  return existsSync(join(dataDir, ISOLATED_FILE));
}

export class ClusterAgents {
  readonly gate = new HandoffGate();
  readonly snapshots: AgentSnapshotStore;
  readonly replicaStore: ReplicaDeploymentStore;
  readonly replicator: DeploymentReplicator;
  readonly handoff: Handoff;
  readonly failover: Failover;
  readonly #o: ClusterAgentsOptions;
  readonly #rank: RankRule;
  readonly #listeners: ((e: AgentsEvent) => void)[] = [];
  #isolated: boolean;
  #leaving = false;

  constructor(o: ClusterAgentsOptions) {
    this.#o = o;
    this.#rank = o.rank ?? hrwRank;
    this.#isolated = o.dataDir !== undefined && isolatedOnDisk(o.dataDir);
    this.snapshots = new AgentSnapshotStore(o.db);
    this.replicaStore = new ReplicaDeploymentStore(o.db);
    const emit = (e: AgentsEvent) => this.#emit(e);
    this.replicator = new DeploymentReplicator({
      peers: o.peers,
      deployments: o.deployments,
      replicaStore: this.replicaStore,
      nodes: () => this.failover.placement(),
      rank: this.#rank,
      ...(o.replicas === undefined ? {} : { replicas: o.replicas }),
      ...(o.replicaState === undefined ? {} : { replicaState: o.replicaState }),
      logger: o.logger,
    });
    this.handoff = new Handoff({
      peers: o.peers,
      deployments: o.deployments,
      snapshots: this.snapshots,
      replicaStore: this.replicaStore,
      replicator: this.replicator,
      gate: this.gate,
      deliverLocal: o.deliverLocal,
      reroute: o.reroute,
      ...(o.directory === undefined ? {} : { directory: o.directory }),
      emit,
      logger: o.logger,
      ...(o.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: o.drainTimeoutMs }),
      ...(o.conflicts === undefined ? {} : { conflicts: o.conflicts }),
      ...(o.partition === undefined ? {} : { mergeHeld: () => o.partition?.mergeHeld() === true }),
      ...(o.forwardMs === undefined ? {} : { forwardMs: o.forwardMs }),
      ...(o.callTimeoutMs === undefined ? {} : { callTimeoutMs: o.callTimeoutMs }),
    });
    this.failover = new Failover({
      peers: o.peers,
      deployments: o.deployments,
      replicaStore: this.replicaStore,
      snapshots: this.snapshots,
      replicator: this.replicator,
      handoff: this.handoff,
      members: o.members,
      outOfPlacement: () => (this.#leaving ? 'leave' : this.#isolated ? 'isolate' : undefined),
      rank: this.#rank,
      ...(o.replicas === undefined ? {} : { replicas: o.replicas }),
      ...(o.replicaState === undefined ? {} : { replicaState: o.replicaState }),
      ...(o.directory === undefined ? {} : { directory: o.directory }),
      ...(o.partition === undefined ? {} : { partition: o.partition }),
      ...(o.startHeld === undefined ? {} : { startHeld: o.startHeld }),
      emit,
      logger: o.logger,
    });
    const p = o.peers;
    p.onCall('agents.hosted', () => ({ agents: this.#hosted() }));
    p.onCall('agents.move', (from, body) => this.#onMove(from, body));
    p.onCall('agents.isolate', (_from, body) => this.#onIsolate(body));
    p.onCall('agents.rebuild', () => this.rebuild(p.self));
    p.onCall('agents.rebuild.peer', (from, body) => this.#onRebuildPeer(from, body));
  }

  /** Whether this node keeps itself out of placement: isolated by the operator, or leaving. */
  outOfPlacement(): boolean {
    return this.#isolated || this.#leaving;
  }

  get isolated(): boolean {
    return this.#isolated;
  }

  onEvent(fn: (e: AgentsEvent) => void): () => void {
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** A membership event: takeovers, claims, replica pushes, moves (see failover.ts). */
  viewChanged(): Promise<ViewOutcome> {
    return this.failover.viewChanged();
  }

  /** The ownership epoch of each of `names` this node runs (the others are left out). */
  epochsOf(names: readonly string[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of names) {
      const d = this.#o.deployments.store.get(n);
      if (d !== undefined && !this.handoff.moving(n)) out[n] = d.epoch;
    }
    return out;
  }

  /** The agents this node runs (not in motion). */
  running(): string[] {
    return this.#o.deployments.store
      .list()
      .map((d) => d.name)
      .filter((n) => !this.handoff.moving(n));
  }

  /**
   * `resolve-partition --prefer <this node>`: this node's copy of `name` must win over another copy at
   * epoch `above` (the other side took it over meanwhile). Raises its epoch above both, hands its
   * replicas this copy's state at the new epoch (they were fenced at most at `above`), re-announces it,
   * and claims it: the other copy stops when its node settles claims (its state kept for review).
   * Returns the new epoch, or undefined when this node does not run it.
   */
  async reclaim(name: string, above: number): Promise<number | undefined> {
    const o = this.#o;
    const d = o.deployments.store.get(name);
    if (d === undefined || this.handoff.moving(name)) return undefined;
    const epoch = Math.max(d.epoch, above) + 1;
    o.deployments.store.setEpoch(name, epoch);
    o.replicaState?.setReplicas?.(name, this.replicator.replicasOf(name));
    await this.replicator.push(name);
    o.directory?.hosted(name, epoch);
    o.logger.warn({ agent: name, epoch, above }, 'resolve-partition: this copy is preferred; its epoch is raised above the other copy\'s');
    return epoch;
  }

  /** Claims and moves again for the view as it is (after a held merge is resolved). */
  async resettle(): Promise<void> {
    await this.failover.resettle();
  }

  /**
   * Takes `node` out of placement: it stays a member, its agents move live to their owners among the
   * other nodes, and no node places agents on it until `rejoin`. Kept across its restarts.
   */
  async isolate(node: NodeName): Promise<{ node: NodeName; isolated: true; moves: MoveReport[] }> {
    if (node !== this.#o.peers.self) return (await this.#callNode(node, 'agents.isolate', { isolated: true })) as { node: NodeName; isolated: true; moves: MoveReport[] };
    const others = this.failover.placement().filter((n) => n !== node);
    if (others.length === 0) throw new CaxtonError('CAXTON_ERR_CLUSTER_NO_PLACEMENT', `isolating ${node} would leave no node to place agents on`, { node });
    // The tag change is a view change of its own, which may run the moves before ours does: the report
    // comes from the moves' events, whichever run made them.
    const moves = await this.#collectMoves(async () => {
      await this.#setIsolated(true);
      await this.failover.viewChanged();
    });
    return { node, isolated: true, moves };
  }

  /** The moves away from this node (done or failed) while `work` runs. */
  async #collectMoves(work: () => Promise<void>): Promise<MoveReport[]> {
    const self = this.#o.peers.self;
    const moves: MoveReport[] = [];
    const off = this.onEvent((e) => {
      if (e.type === 'agent_moved' && e.from === self) moves.push({ agent: e.agent, from: e.from, to: e.to, ok: true, epoch: e.epoch, ...(e.pauseMs === undefined ? {} : { pauseMs: e.pauseMs }) });
      if (e.type === 'agent_move_failed' && e.from === self) moves.push({ agent: e.agent, from: e.from, to: e.to, ok: false, error: e.error });
    });
    try {
      await work();
    } finally {
      off();
    }
    return moves;
  }

  /** Puts `node` back into placement: agents whose owner it is by rank move back to it, live. */
  async rejoin(node: NodeName): Promise<{ node: NodeName; isolated: false }> {
    if (node !== this.#o.peers.self) return (await this.#callNode(node, 'agents.isolate', { isolated: false })) as { node: NodeName; isolated: false };
    await this.#setIsolated(false);
    void this.failover.viewChanged();
    return { node, isolated: false };
  }

  /**
   * Before a graceful leave: takes this node out of placement and moves every agent live to its owner
   * among the others. What could not move (no other node, a failed move) is reported and stays here.
   */
  async handOver(): Promise<{ moves: MoveReport[]; stayed: string[] }> {
    this.#leaving = true;
    // Out of placement, every agent's owner is another node: the view change moves them all (reason
    // leave), whether it is ours or the one the tag change triggers.
    const moves = await this.#collectMoves(async () => {
      await this.#o.announce(true).catch((e: unknown) => this.#o.logger.warn({ err: e }, 'could not announce that this node leaves placement'));
      await this.failover.viewChanged();
    });
    return { moves, stayed: this.#o.deployments.store.list().map((d) => d.name) };
  }

  /**
   * Moves agents live so that the placement nodes' shares match `strategy`, at most `maxMoves` per
   * round, for at most `rounds` rounds (each round plans again from what the nodes run then).
   */
  async rebalance(strategy: RebalanceStrategy, maxMoves = 10, rounds = 10): Promise<RebalanceReport> {
    const moves: MoveReport[] = [];
    let round = 0;
    let plan: PlannedMove[] = [];
    for (; round < rounds; round++) {
      plan = planRebalance(await this.#loads(), strategy, maxMoves, this.#rank);
      if (plan.length === 0) break;
      let next = 0;
      const worker = async () => {
        while (next < plan.length) {
          const m = plan[next++] as PlannedMove;
          moves.push(await this.#moveOne(m));
        }
      };
      await Promise.all([worker(), worker()]);
      if (moves.slice(-plan.length).every((m) => !m.ok)) break; // nothing moves: do not spin
    }
    const remaining = plan.length === 0 ? 0 : planRebalance(await this.#loads(), strategy, Number.MAX_SAFE_INTEGER, this.#rank).length;
    return { strategy, rounds: round, moves, remaining };
  }

  /**
   * Rebuilds `node` from its peers (after its data was wiped or found corrupt): it forgets the replica
   * rows it kept (owners push them again); each agent it owned that it no longer runs is taken back by
   * its first live replica from the replicated state and moved to it live; agents it owns by rank come
   * back to it.
   */
  async rebuild(node: NodeName): Promise<RebuildReport> {
    const self = this.#o.peers.self;
    if (node !== self) return (await this.#callNode(node, 'agents.rebuild', {})) as RebuildReport;
    this.replicaStore.clear();
    const hosted = this.#hosted();
    const peers = this.failover.up().filter((n) => n !== self);
    const silent: NodeName[] = [];
    let restored = 0;
    let repushed = 0;
    let moved = 0;
    const failed: string[] = [];
    await Promise.all(
      peers.map(async (p) => {
        try {
          const r = (await this.#o.peers.call(p, 'agents.rebuild.peer', { hosted }, { timeoutMs: this.#longMs() })) as { restored: number; repushed: number; moved: number; failed: string[] };
          restored += r.restored;
          repushed += r.repushed;
          moved += r.moved;
          failed.push(...r.failed);
        } catch {
          silent.push(p);
        }
      }),
    );
    return { node: self, restored, repushed, moved, failed, silent };
  }

  close(): void {
    this.failover.close();
    this.gate.close();
  }

  async #onRebuildPeer(from: NodeName, body: PeerBody): Promise<{ restored: number; repushed: number; moved: number; failed: string[] }> {
    const hosted = (body as { hosted?: unknown })?.hosted;
    if (!Array.isArray(hosted) || !hosted.every((h) => typeof h === 'string')) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', 'agents.rebuild.peer takes {hosted: string[]}', { node: from });
    const self = this.#o.peers.self;
    const up = this.failover.up();
    let restored = 0;
    const failed: string[] = [];
    // Agents the rebuilt node owned and lost: the first live holder takes them back from the replicated
    // state, then hands them over live below.
    for (const row of this.replicaStore.list()) {
      const name = row.deployment.name;
      if (row.owner !== from || hosted.includes(name) || this.#o.deployments.store.get(name) !== undefined) continue;
      if (takeoverNode(name, row.replicas, up, this.#rank) !== self) continue;
      try {
        await this.failover.takeOver(row, 'rebuild');
        restored++;
      } catch (e) {
        failed.push(`${name}: ${(e as Error).message}`);
      }
    }
    let repushed = 0;
    const placement = this.failover.placement();
    const todo: { name: string; to: NodeName; reason: 'rebuild' }[] = [];
    for (const d of this.#o.deployments.store.list()) {
      if (this.replicator.replicasOf(d.name).includes(from)) {
        this.replicator.forget(d.name); // it lost what we pushed: push again
        await this.replicator.push(d.name);
        repushed++;
      }
      if (placement.includes(from) && this.#rank(d.name, placement)[0] === from) todo.push({ name: d.name, to: from, reason: 'rebuild' });
    }
    const { moved, failed: notMoved } = await this.failover.moveAll(todo);
    for (const f of notMoved) failed.push(`${f.agent}: ${f.error}`);
    return { restored, repushed, moved: moved.length, failed };
  }

  async #onMove(from: NodeName, body: PeerBody): Promise<MoveReport> {
    const b = body as { name?: unknown; to?: unknown };
    if (typeof b?.name !== 'string' || typeof b.to !== 'string') throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', 'agents.move takes {name, to}', { node: from });
    if (!this.failover.placement().includes(b.to)) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `${b.to} is not a node agents can be placed on (not up, or isolated)`, { node: b.to });
    const r = await this.handoff.move(b.name, b.to, 'rebalance');
    return { agent: r.agent, from: r.from, to: r.to, ok: true, epoch: r.epoch, pauseMs: r.pauseMs };
  }

  async #onIsolate(body: PeerBody): Promise<unknown> {
    const v = (body as { isolated?: unknown })?.isolated;
    if (typeof v !== 'boolean') throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', 'agents.isolate takes {isolated: boolean}');
    const self = this.#o.peers.self;
    return v ? this.isolate(self) : this.rejoin(self);
  }

  async #moveOne(m: PlannedMove): Promise<MoveReport> {
    try {
      if (m.from === this.#o.peers.self) {
        const r = await this.handoff.move(m.agent, m.to, 'rebalance');
        return { agent: m.agent, from: m.from, to: m.to, ok: true, epoch: r.epoch, pauseMs: r.pauseMs };
      }
      return (await this.#o.peers.call(m.from, 'agents.move', { name: m.agent, to: m.to }, { timeoutMs: this.#longMs() })) as MoveReport;
    } catch (e) {
      return { agent: m.agent, from: m.from, to: m.to, ok: false, error: (e as Error).message };
    }
  }

  /** What each placement node runs now, with its CPU tag. */
  async #loads(): Promise<NodeLoad[]> {
    const self = this.#o.peers.self;
    const members = new Map(this.#o.members().map((m) => [m.name, m]));
    const cpu = (n: NodeName) => {
      const v = members.get(n)?.tags['cpu'];
      return v !== undefined && /^\d{1,3}$/.test(v) ? Number(v) : null;
    };
    return Promise.all(
      this.failover.placement().map(async (node): Promise<NodeLoad> => {
        if (node === self) return { node, agents: this.#hosted(), cpuPercent: cpu(node) };
        const r = (await this.#o.peers.call(node, 'agents.hosted', {}, { timeoutMs: this.#o.callTimeoutMs ?? 10_000 })) as { agents: string[] };
        return { node, agents: r.agents, cpuPercent: cpu(node) };
      }),
    );
  }

  #hosted(): string[] {
    return this.#o.deployments.store
      .list()
      .map((d) => d.name)
      .filter((n) => !this.handoff.moving(n));
  }

  async #setIsolated(v: boolean): Promise<void> {
    this.#isolated = v;
    if (this.#o.dataDir !== undefined) {
      const f = join(this.#o.dataDir, ISOLATED_FILE);
      if (v) writeFileSync(f, `isolated at ${new Date().toISOString()}\n`, { mode: 0o600 });
      else rmSync(f, { force: true });
    }
    await this.#o.announce(this.outOfPlacement());
  }

  #callNode(node: NodeName, method: string, body: PeerBody): Promise<unknown> {
    if (!this.failover.up().includes(node)) return Promise.reject(new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no up Caxton member named ${node}`, { node }));
    return this.#o.peers.call(node, method, body, { timeoutMs: this.#longMs() });
  }

  /** Deadline of a call that moves agents (drains and hands state over). */
  #longMs(): number {
    return (this.#o.drainTimeoutMs ?? 30_000) + 2 * (this.#o.callTimeoutMs ?? 30_000) + 60_000;
  }

  #emit(e: AgentsEvent): void {
    for (const fn of this.#listeners) {
      try {
        fn(e);
      } catch {
        // a listener's failure (a closed stream) must not stop a failover
      }
    }
  }
}
