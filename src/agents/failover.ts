/**
 * What every node does when the view changes (a member joined, failed, left, or changed its tags):
 *
 * 1. takeovers: for each deployment this node keeps as a replica whose owner is down, the first up
 *    holder in rank takes the agent over: it fences the replicas (state replication's promote: epoch =
 *    max seen + 1) and gets their state in the same step, writes it, starts the agent at that epoch,
 *    tells the directory and emits `agent_moved` (reason failover).
 * 2. claims: for each agent this node runs, it posts its claim (name, epoch) to the agent's top-ranked
 *    nodes and its replicas. A node that runs the same agent compares the claims (ownership.claimBeats:
 *    higher epoch, then rank): the loser stops its copy at once (`agent_superseded`), the winner answers
 *    with its own claim. Two copies after a partition heals therefore last one round trip after the
 *    view change that reunites them, within the gossip round that carried it.
 * 3. replicas: deployments whose replica set changed are pushed to the new set.
 * 4. moves: an agent that this node owned by rank in the previous view but not in this one moves live
 *    to its new owner (a join outranks it, or this node left placement: isolated or leaving). Agents
 *    placed elsewhere on purpose (rebalance, a preference, a failover to a non-owner) stay. A pinned
 *    agent (target_node, Deployment.pin) stays on its pin, and goes back to it when the pin is in
 *    placement again (it moved away while its node restarted, left or was isolated).
 */
import { CaxtonError } from '../errors.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import type { AgentSnapshotStore, ReplicaDeployment, ReplicaDeploymentStore } from '../storage/index.js';
import type { Logger } from '../observability/logger.js';
import type { Deployments } from './deployments.js';
import type { DeploymentReplicator } from './deployment-replication.js';
import type { Handoff, MoveResult } from './handoff.js';
import type { AgentsEvent, DirectoryUpdates, MoveReason, ReplicaState } from './cluster-events.js';
import { claimBeats, placementNodes, takeoverNode, upNodes, type MemberView, type RankRule } from './ownership.js';

/** Takeovers running at once after a view change. */
const TAKEOVER_CONCURRENCY = 8;

export interface FailoverOptions {
  readonly peers: Peers;
  readonly deployments: Deployments;
  readonly replicaStore: ReplicaDeploymentStore;
  readonly snapshots: AgentSnapshotStore;
  readonly replicator: DeploymentReplicator;
  readonly handoff: Handoff;
  /** The cluster's members as this node sees them (Cluster.members()). */
  readonly members: () => readonly MemberView[];
  /**
   * Why this node keeps itself out of placement ('isolate' or 'leave'; undefined: it is in), known here
   * before gossip carries its tag.
   */
  readonly outOfPlacement: () => MoveReason | undefined;
  readonly rank: RankRule;
  /** Replicas per agent (R). @default 1 */
  readonly replicas?: number;
  /** State replication; absent: a failover starts the agent from the state this node's database has. */
  readonly replicaState?: ReplicaState;
  readonly directory?: DirectoryUpdates;
  readonly emit: (e: AgentsEvent) => void;
  readonly logger: Logger;
  /** Live moves running at once during a view change. @default 2 */
  readonly moveConcurrency?: number;
  /** Partitions; absent: every view change may take agents over and settle claims. */
  readonly partition?: PartitionGate;
  /**
   * True while the cluster starts again after `cluster stop --all` (src/cluster/stop-record.ts): the
   * agents stay on the nodes they ran on, as the members come back one by one (no join moves); the
   * placement is remembered all the same, and the view change that ends the hold moves nothing either,
   * so that none follows once every member is back.
   */
  readonly startHeld?: () => boolean;
}

/**
 * What failover asks about partitions (src/cluster/partition/): a side without a quorum never takes
 * another node's agents over (it could be the minority of a split: the majority takes them), and while
 * an operator holds the merge after a heal (resolve strategy manual) duplicate agents are not settled.
 */
export interface PartitionGate {
  /** Whether this node's side of the cluster holds a quorum. */
  quorum(): boolean;
  /** Whether claims (which stop second copies) wait for the operator. */
  mergeHeld(): boolean;
}

export interface ViewOutcome {
  readonly takenOver: readonly string[];
  readonly claims: number;
  readonly pushed: number;
  readonly moved: readonly MoveResult[];
  readonly failed: readonly { agent: string; to: NodeName; error: string }[];
}

export class Failover {
  readonly #o: FailoverOptions;
  /** The placement of the previous view: an agent moves only when its owner by rank changed. */
  #previous: readonly NodeName[] | undefined;
  /** Agents reported as having no live holder, so that each view change does not report them again. */
  readonly #unavailable = new Set<string>();
  /**
   * Agents this node took over → the node it took each from. That node may still run its copy (it was
   * cut off, not dead) and may be neither top-ranked nor a replica (the agent ran there off its rank:
   * pinned, rebalanced), and the takeover's own claim to it was sent into the cut: the claims of every
   * later view change go to it too, until the agent leaves this node. Without this, a node that never
   * saw the split (a cut shorter than its suspicion timeout) keeps its copy after the heal.
   */
  readonly #takenFrom = new Map<string, NodeName>();
  /** The up and placement nodes claims and moves were last computed for. */
  #lastKey = '';
  /** Whether the last placement change was handled while the cluster started again (startHeld). */
  #held = false;
  #running: Promise<ViewOutcome> | undefined;
  #again = false;
  #closed = false;

  constructor(o: FailoverOptions) {
    this.#o = o;
    // A stopping node settles no claims (the claims of the next view change do). One that fails here
    // is logged, not left unhandled: the node may have stopped while it ran (its database closed).
    o.peers.onPost('agents.claim', (from, body) => {
      if (this.#closed) return;
      this.#onClaim(from, body).catch((e: unknown) => {
        const err = e instanceof Error ? e.message : String(e);
        if (this.#closed) o.logger.debug({ node: from, err }, 'a claim from another node was cut short by this node stopping');
        else o.logger.warn({ node: from, err }, 'could not settle a claim from another node');
      });
    });
  }

  /** The nodes agents are placed on now, as this node sees them. */
  placement(): NodeName[] {
    const self = this.#o.peers.self;
    const nodes = placementNodes(this.#o.members());
    const out = this.#o.outOfPlacement() !== undefined;
    return out ? nodes.filter((n) => n !== self) : nodes.includes(self) ? nodes : [...nodes, self];
  }

  /** Caxton members that are up (isolated ones included), this node among them. */
  up(): NodeName[] {
    const self = this.#o.peers.self;
    const nodes = upNodes(this.#o.members());
    return nodes.includes(self) ? nodes : [...nodes, self];
  }

  /**
   * Handles a view change. Changes that arrive while one is handled are coalesced into one more run.
   * Never rejects: failures are logged, emitted and retried at the next view change.
   */
  viewChanged(): Promise<ViewOutcome> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    const run = (async (): Promise<ViewOutcome> => {
      let outcome: ViewOutcome;
      do {
        this.#again = false;
        outcome = await this.#handle();
      } while (this.#again && !this.#closed);
      return outcome;
    })();
    this.#running = run;
    void run.finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    return run;
  }

  /** Sets the placement the next view change compares with (at start: the view the node came up in). */
  remember(placement: readonly NodeName[]): void {
    this.#previous = [...placement];
  }

  close(): void {
    this.#closed = true;
  }

  async #handle(): Promise<ViewOutcome> {
    const o = this.#o;
    // Closed: the node is stopping (or frozen for a cluster stop): nothing is taken over or moved.
    if (this.#closed) return { takenOver: [], claims: 0, pushed: 0, moved: [], failed: [] };
    const takenOver = await this.#takeovers();
    // After the takeovers: what this node holds for an agent it just took over went to its copy already.
    o.handoff.sourcesDown(new Set(this.up()));
    const pushed = await o.replicator.pushAll();
    // A merge held for the operator: no claims and no moves (either would stop a copy) until it is
    // resolved; then resettle() runs them with the view as it is.
    if (o.partition?.mergeHeld() === true) return { takenOver, claims: 0, pushed, moved: [], failed: [] };
    const placement = this.placement();
    // Tag updates (load figures every minute from every node) are view changes too: claims and moves
    // depend only on who is up and who is in placement, so they wait for a change of those.
    const key = JSON.stringify([[...this.up()].sort(), [...placement].sort()]);
    if (key === this.#lastKey) return { takenOver, claims: 0, pushed, moved: [], failed: [] };
    this.#lastKey = key;
    const claims = this.#claims();
    const previous = this.#previous ?? placement;
    this.#previous = placement;
    // The start gate opens on the membership event that brings the last recorded member back, before
    // this view change runs: the one view change after a held one compares with a placement seen while
    // members were missing, where a node may have owned by rank an agent it runs on purpose (a pin:
    // target_node), and would move it to its owner in the whole cluster. It moves nothing either.
    const held = o.startHeld?.() === true;
    const wasHeld = this.#held;
    this.#held = held;
    if (held || wasHeld) return { takenOver, claims, pushed, moved: [], failed: [] };
    const self = o.peers.self;
    const todo: { name: string; to: NodeName; reason: MoveReason }[] = [];
    for (const d of o.deployments.store.list()) {
      if (o.handoff.moving(d.name) || placement.length === 0) continue;
      // A pinned agent (target_node) belongs on its pin whenever that node is in placement, whatever
      // its rank: owning it by rank in a smaller view (a member was down) does not make it movable.
      const pin = d.pin !== undefined && placement.includes(d.pin) ? d.pin : undefined;
      const owner = pin ?? o.rank(d.name, placement)[0];
      if (owner === undefined || owner === self) continue;
      if (!placement.includes(self)) todo.push({ name: d.name, to: owner, reason: o.outOfPlacement() ?? 'isolate' });
      // Its pin is back (restarted, rejoined): it goes back there, as an owner's agents do by rank.
      else if (pin !== undefined ? !previous.includes(pin) : o.rank(d.name, previous)[0] === self) todo.push({ name: d.name, to: owner, reason: 'join' });
    }
    const { moved, failed } = await this.moveAll(todo);
    // A move refused because the target runs the agent already (a second copy after a partition):
    // the claims of this round may have crossed the move and been ignored; claim again, so that the
    // copy with the lower epoch stops now rather than at the next view change.
    for (const f of failed) {
      const d = o.deployments.store.get(f.agent);
      if (d !== undefined && !o.handoff.moving(f.agent)) this.#claim(f.agent, d.epoch, f.to);
    }
    return { takenOver, claims, pushed, moved, failed };
  }

  /** Moves agents live, a few at a time; failures are collected, not thrown. */
  async moveAll(todo: readonly { name: string; to: NodeName; reason: MoveReason }[]): Promise<{ moved: MoveResult[]; failed: { agent: string; to: NodeName; error: string }[] }> {
    const moved: MoveResult[] = [];
    const failed: { agent: string; to: NodeName; error: string }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < todo.length && !this.#closed) {
        const m = todo[next++] as { name: string; to: NodeName; reason: MoveReason };
        try {
          moved.push(await this.#o.handoff.move(m.name, m.to, m.reason));
        } catch (e) {
          failed.push({ agent: m.name, to: m.to, error: (e as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.#o.moveConcurrency ?? 2) }, worker));
    return { moved, failed };
  }

  async #takeovers(): Promise<string[]> {
    const o = this.#o;
    const up = this.up();
    const taken: string[] = [];
    // Without a quorum this side may be a minority: the agents of the nodes it cannot see are taken
    // over by the majority, and a second copy here would only have to lose later.
    if (o.partition !== undefined && !o.partition.quorum()) return taken;
    const mine: ReplicaDeployment[] = [];
    for (const row of o.replicaStore.list()) {
      if (up.includes(row.owner) || o.deployments.store.get(row.deployment.name) !== undefined) continue;
      const t = takeoverNode(row.deployment.name, row.replicas, up, o.rank);
      if (t === undefined) {
        if (!this.#unavailable.has(row.deployment.name)) o.emit({ type: 'agent_unavailable', agent: row.deployment.name, owner: row.owner, replicas: row.replicas });
        this.#unavailable.add(row.deployment.name);
        continue;
      }
      this.#unavailable.delete(row.deployment.name);
      if (t === o.peers.self) mine.push(row);
    }
    // A few at a time: each start is a round trip to a worker, and a node's agents fail over together.
    let next = 0;
    const worker = async () => {
      while (next < mine.length) {
        const row = mine[next++] as ReplicaDeployment;
        try {
          await this.takeOver(row, 'failover');
          taken.push(row.deployment.name);
        } catch (e) {
          o.logger.error({ agent: row.deployment.name, owner: row.owner, err: (e as Error).message }, 'failover: could not take the agent over (retried at the next view change)');
        }
      }
    };
    await Promise.all(Array.from({ length: TAKEOVER_CONCURRENCY }, worker));
    return taken;
  }

  /** Starts an agent this node keeps as a replica, from the replicas' state, at a new (fenced) epoch. */
  async takeOver(row: ReplicaDeployment, reason: MoveReason): Promise<number> {
    const o = this.#o;
    const d = row.deployment;
    // Every path here (failover, rebuild) fences the replicas: never from a side without a stable quorum.
    if (o.partition !== undefined && !o.partition.quorum()) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_READ_ONLY', `${o.peers.self} cannot take agent ${d.name} over: it does not see a stable quorum of the cluster (a partition?)`, { agent: d.name });
    }
    const promoted = o.replicaState === undefined ? { epoch: d.epoch + 1 } : await o.replicaState.promote(d.name, row.replicas, d.epoch);
    // Replication's fencing epoch and the deployment's may count from different starts: the claim this
    // node makes must beat every earlier one, so it is above both.
    const fenced = { ...promoted, epoch: Math.max(promoted.epoch, d.epoch + 1) };
    if (fenced.snapshot !== undefined) o.snapshots.write(d.name, fenced.snapshot);
    // Adopted first, then the row goes: a crash in between leaves the row, and the next start's view
    // change sees the agent deployed here and skips it.
    await o.deployments.adopt({ ...d, epoch: fenced.epoch }, fenced.applied);
    o.replicaStore.delete(d.name);
    o.directory?.hosted(d.name, fenced.epoch);
    o.handoff.tookOver(d.name);
    o.emit({ type: 'agent_moved', agent: d.name, from: row.owner, to: o.peers.self, reason, epoch: fenced.epoch });
    o.logger.warn({ agent: d.name, from: row.owner, epoch: fenced.epoch, reason }, 'took an agent over');
    // Whoever else may still run it learns of the higher epoch now, and again at each view change.
    this.#takenFrom.set(d.name, row.owner);
    this.#claim(d.name, fenced.epoch);
    return fenced.epoch;
  }

  /**
   * Runs claims and moves again for the view as it is, even if it did not change: after an operator
   * ends a held merge (resolve-partition), duplicates are settled and agents go to their owners at once.
   */
  resettle(): Promise<ViewOutcome> {
    this.#lastKey = '';
    return this.viewChanged();
  }

  /** Posts this node's claim for every agent it runs; returns how many posts went out. */
  #claims(): number {
    let n = 0;
    for (const name of this.#takenFrom.keys()) if (this.#o.deployments.store.get(name) === undefined) this.#takenFrom.delete(name);
    for (const d of this.#o.deployments.store.list()) if (!this.#o.handoff.moving(d.name)) n += this.#claim(d.name, d.epoch);
    return n;
  }

  #claim(name: string, epoch: number, also?: NodeName): number {
    const o = this.#o;
    const self = o.peers.self;
    const to = new Set([...o.rank(name, this.up()).slice(0, 1 + (o.replicas ?? 1)), ...o.replicator.pushedTo(name)]);
    const from = this.#takenFrom.get(name);
    if (from !== undefined) to.add(from);
    if (also !== undefined) to.add(also);
    to.delete(self);
    let n = 0;
    for (const node of to) if (o.peers.post(node, 'agents.claim', { name, epoch })) n++;
    return n;
  }

  async #onClaim(from: NodeName, body: PeerBody): Promise<void> {
    const o = this.#o;
    const b = body as { name?: unknown; epoch?: unknown };
    if (typeof b?.name !== 'string' || !Number.isSafeInteger(b.epoch)) {
      o.logger.warn({ node: from }, 'ignored a malformed agents.claim (CAXTON_ERR_CLUSTER_FRAME)');
      return;
    }
    const name = b.name;
    const theirs = { node: from, epoch: b.epoch as number };
    const d = o.deployments.store.get(name);
    if (d === undefined || o.handoff.moving(name) || o.partition?.mergeHeld() === true) return;
    const mine = { node: o.peers.self, epoch: d.epoch };
    const nodes = this.up();
    if (claimBeats(name, theirs, mine, nodes, o.rank)) {
      await o.handoff.supersede(name, from, theirs.epoch);
    } else if (claimBeats(name, mine, theirs, nodes, o.rank)) {
      o.peers.post(from, 'agents.claim', { name, epoch: mine.epoch });
    }
  }
}
