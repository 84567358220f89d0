/**
 * Live migration of one agent from this node (the source) to another (the target): the one protocol
 * behind a graceful leave, `cluster rebalance`, `cluster isolate` and join-driven moves. Like Akka's
 * shard handoff, with the state moved too and the ownership epoch raised:
 *
 * 1. prepare: the target fetches the module if it lacks it (by sha256, verified), admits it, and starts
 *    holding messages for the agent (HandoffGate.hold).
 * 2. flip: the source redirects the agent's name to the target: what arrives for it from now on is
 *    forwarded there and held, while the source's copy drains what its mailbox already had (a graceful
 *    stop: agent_shutdown runs). Older messages are handled before newer ones, so per-conversation
 *    order holds across the move.
 * 3. commit: the source reads the agent's whole state (key-value pairs, timers) and hands it over with
 *    the deployment at epoch + 1, and the at-least-once ids the agent applied lately (its dedup
 *    window: a copy redelivered to the target after the move is a duplicate there too); the target
 *    writes the state, starts the agent, then delivers what it held.
 * 4. the source forgets the agent and keeps forwarding stragglers (senders with an old route) for
 *    `forwardMs`. The pause of the agent is measured from the flip to the target's start.
 *
 * A failure before the commit is answered brings the agent back on the source (at its old epoch) and
 * the target sends what it held back through the router. If the commit did land but its answer was
 * lost, both copies run for a moment: the claims (src/agents/failover.ts) stop the lower epoch's.
 *
 * What the router must do for this (issue 11's router, src/messaging/): for a message by name, first
 * `gate.holding(name)` → `gate.hold(...)`; else a local agent that takes it; else, before refusing a
 * local agent that takes no messages now (draining), `gate.redirectOf(name)` → forward to that node.
 */
import { performance } from 'node:perf_hooks';
import { CaxtonError } from '../errors.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import { isAgentSnapshot, type AgentSnapshot, type AgentSnapshotStore, type Deployment, type ReplicaDeploymentStore } from '../storage/index.js';
import type { Logger } from '../observability/logger.js';
import type { PriorityLevel } from '../sandbox/worker/mailbox.js';
import type { Deployments } from './deployments.js';
import { checkRow, type DeploymentReplicator } from './deployment-replication.js';
import type { AgentsEvent, DirectoryUpdates, MoveReason } from './cluster-events.js';

/** A message held for an agent that is arriving, in arrival order. */
interface Held {
  readonly json: string;
  readonly priority: PriorityLevel;
}

/** Messages held per incoming agent at most; beyond, hold() refuses (backpressure: the sender keeps it). */
export const MAX_HELD = 10_000;

/**
 * At-least-once ids an agent applied that a move hands over at most (the newest): a sender whose ack
 * was late redelivers within its relay's back-off (about a minute), so the latest ones are what a
 * copy arriving at the new node can match. About 40 bytes each in the commit.
 */
export const MOVE_SEEN_MAX = 20_000;

/** Where messages for agents in motion go: redirected away from the source, held at the target. */
export class HandoffGate {
  readonly #redirects = new Map<string, { node: NodeName; until: number }>();
  readonly #held = new Map<string, Held[]>();
  readonly #holdTimers = new Map<string, NodeJS.Timeout>();
  /** The node moving each held agent here. */
  readonly #sources = new Map<string, NodeName>();

  /** The node that now hosts an agent that just left this node, while stragglers are forwarded. */
  redirectOf(name: string): NodeName | undefined {
    const r = this.#redirects.get(name);
    if (r === undefined) return undefined;
    if (Date.now() > r.until) {
      this.#redirects.delete(name);
      return undefined;
    }
    return r.node;
  }

  /** Whether messages for `name` are held here (an agent arriving). */
  holding(name: string): boolean {
    return this.#held.has(name);
  }

  /** Holds a message for an arriving agent. False: not arriving here, or too many held (backpressure). */
  hold(name: string, json: string, priority: PriorityLevel): boolean {
    const q = this.#held.get(name);
    if (q === undefined || q.length >= MAX_HELD) return false;
    q.push({ json, priority });
    return true;
  }

  /** How many messages are held for `name`. */
  heldCount(name: string): number {
    return this.#held.get(name)?.length ?? 0;
  }

  redirect(name: string, node: NodeName, forMs: number): void {
    this.#redirects.set(name, { node, until: Date.now() + forMs });
  }

  unredirect(name: string): void {
    this.#redirects.delete(name);
  }

  /** Starts holding for a move from `source`; `onExpire` runs if nothing took the messages within `ms` (an abandoned move). */
  startHolding(name: string, source: NodeName, ms: number, onExpire: () => void): void {
    if (!this.#held.has(name)) this.#held.set(name, []);
    this.#sources.set(name, source);
    clearTimeout(this.#holdTimers.get(name));
    const t = setTimeout(onExpire, ms);
    t.unref();
    this.#holdTimers.set(name, t);
  }

  /** Stops holding and returns what was held, in order. */
  takeHeld(name: string): Held[] {
    clearTimeout(this.#holdTimers.get(name));
    this.#holdTimers.delete(name);
    this.#sources.delete(name);
    const q = this.#held.get(name) ?? [];
    this.#held.delete(name);
    return q;
  }

  /** The agents held here whose source is not in `up`. */
  heldFromGone(up: ReadonlySet<NodeName>): string[] {
    return [...this.#sources].filter(([, source]) => !up.has(source)).map(([name]) => name);
  }

  close(): void {
    for (const t of this.#holdTimers.values()) clearTimeout(t);
    this.#holdTimers.clear();
  }
}

export interface HandoffOptions {
  readonly peers: Peers;
  readonly deployments: Deployments;
  readonly snapshots: AgentSnapshotStore;
  readonly replicaStore: ReplicaDeploymentStore;
  readonly replicator: DeploymentReplicator;
  readonly gate: HandoffGate;
  /**
   * Delivers a message to a local agent (the pool's deliver, priority included); false when it does not
   * take it now.
   */
  readonly deliverLocal: (name: string, json: string, priority: PriorityLevel) => boolean;
  /** Routes a message by name through the router (for held messages of an abandoned move). */
  readonly reroute: (name: string, json: string, priority: PriorityLevel) => void;
  readonly directory?: DirectoryUpdates;
  readonly emit: (e: AgentsEvent) => void;
  readonly logger: Logger;
  /** How long the source's copy may take to drain its mailbox, ms. @default 30 s */
  readonly drainTimeoutMs?: number;
  /** How long the source forwards stragglers after a move, ms. @default 30 s */
  readonly forwardMs?: number;
  /** Deadline of prepare (a module fetch) and commit (the state), ms. @default 30 s */
  readonly callTimeoutMs?: number;
  /** Keeps the state of a second copy that loses (supersede), for the operator's review. */
  readonly conflicts?: ConflictRecorder;
  /** While an operator holds a merge, no move may stop a second copy here. */
  readonly mergeHeld?: () => boolean;
}

/** Where the state of a copy that lost to another copy of the agent goes (src/cluster/partition/conflicts.ts). */
export interface ConflictRecorder {
  record(c: { agent: string; node: NodeName; epoch: number; winner: NodeName; winnerEpoch: number; state: AgentSnapshot }): number;
}

export interface MoveResult {
  readonly agent: string;
  readonly from: NodeName;
  readonly to: NodeName;
  readonly epoch: number;
  /** From the flip to the agent taking messages on the target, ms. */
  readonly pauseMs: number;
  /** Messages the target held during the pause and then delivered. */
  readonly held: number;
}

export class Handoff {
  readonly #o: HandoffOptions;
  /** Agents leaving this node now: one move per agent at a time. */
  readonly #moving = new Set<string>();
  readonly #superseding = new Map<string, Promise<void>>();

  constructor(o: HandoffOptions) {
    this.#o = o;
    o.peers.onCall('agents.move.prepare', (from, body) => this.#onPrepare(from, body));
    o.peers.onCall('agents.move.commit', (from, body) => this.#onCommit(from, body));
    o.peers.onCall('agents.move.abort', (from, body) => this.#onAbort(from, body));
  }

  /** Whether `name` is leaving this node now. */
  moving(name: string): boolean {
    return this.#moving.has(name);
  }

  /**
   * This node took the agent over (failover) while holding its messages for a move here that was
   * prepared and can no longer commit (its source was cut off): they go to the copy that runs here
   * now, and new ones with them, instead of waiting out the hold (drain + 2 call timeouts, 90 s).
   */
  tookOver(name: string): void {
    if (!this.#o.gate.holding(name)) return;
    const held = this.#release(name);
    this.#o.logger.warn({ agent: name, held }, 'took over an agent whose move here was prepared: the messages held for it go to this copy');
  }

  /**
   * A view change: moves here whose source is no longer up cannot commit (a source cut off cannot
   * reach this node either), so what is held for them is routed again now, to wherever the agent
   * runs, rather than after the hold's 90 s. Should the commit come after all, it is refused and the
   * source runs the agent again.
   */
  sourcesDown(up: ReadonlySet<NodeName>): void {
    for (const name of this.#o.gate.heldFromGone(up)) this.#giveBack(name, 'the node moving it here is down');
  }

  /** Moves a local agent to `to`, live. Rejects (and the agent runs here again) when the move failed. */
  async move(name: string, to: NodeName, reason: MoveReason): Promise<MoveResult> {
    const o = this.#o;
    const self = o.peers.self;
    if (to === self) throw new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${name} is already on ${self}`, { agent: name, node: self });
    if (this.#moving.has(name)) throw new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${name} is already moving`, { agent: name });
    const d = o.deployments.require(name).deployment;
    this.#moving.add(name);
    const timeoutMs = o.callTimeoutMs ?? 30_000;
    const drainTimeoutMs = o.drainTimeoutMs ?? 30_000;
    const moved: Deployment = { ...d, epoch: d.epoch + 1 };
    try {
      await o.peers.call(to, 'agents.move.prepare', { row: { deployment: moved, owner: self, replicas: [] }, holdMs: drainTimeoutMs + 2 * timeoutMs }, { timeoutMs });
      o.gate.redirect(name, to, o.forwardMs ?? 30_000);
      const t0 = performance.now();
      let committed: { held: number; startedMs: number };
      try {
        const live = o.deployments.pool.agent(name);
        if (live !== undefined && live.state !== 'stopped' && live.state !== 'failed') await o.deployments.pool.stop(name, { graceful: true, drainTimeoutMs });
        const snapshot = o.snapshots.read(name);
        const seen = await o.deployments.pool.handledIds(name, MOVE_SEEN_MAX);
        committed = (await o.peers.call(to, 'agents.move.commit', { row: { deployment: moved, owner: self, replicas: [] }, snapshot, seen }, { timeoutMs })) as { held: number; startedMs: number };
      } catch (e) {
        o.gate.unredirect(name);
        o.peers.post(to, 'agents.move.abort', { name, epoch: moved.epoch });
        await this.#comeBack(d);
        throw e;
      }
      const pauseMs = performance.now() - t0;
      // The agent lives on the target now: forget it here (its state too), and tell its old replicas to
      // drop their rows unless the target's push already gave them the new epoch.
      if (o.deployments.store.get(name)?.epoch === d.epoch) await o.deployments.release(name);
      o.snapshots.drop(name);
      const before = o.replicator.pushedTo(name);
      for (const n of before) if (n !== to) void o.peers.call(n, 'agents.replica.drop', { name, epoch: d.epoch }).catch(() => {});
      o.replicator.forget(name);
      o.directory?.moved(name, to, moved.epoch);
      const result: MoveResult = { agent: name, from: self, to, epoch: moved.epoch, pauseMs, held: committed.held };
      o.emit({ type: 'agent_moved', agent: name, from: self, to, reason, epoch: moved.epoch, pauseMs: Math.round(pauseMs * 10) / 10 });
      o.logger.info({ agent: name, to, reason, epoch: moved.epoch, pauseMs, held: committed.held }, 'agent moved');
      return result;
    } catch (e) {
      o.emit({ type: 'agent_move_failed', agent: name, from: self, to, reason, error: (e as Error).message });
      o.logger.warn({ agent: name, to, reason, err: (e as Error).message }, 'agent move failed; it runs here again');
      throw e;
    } finally {
      this.#moving.delete(name);
    }
  }

  /**
   * Stops this node's copy of an agent that `by` runs at `byEpoch` (higher, or equal and better
   * ranked): forgets its deployment and state here. Concurrent calls for one agent share one stop.
   */
  supersede(name: string, by: NodeName, byEpoch: number): Promise<void> {
    const running = this.#superseding.get(name);
    if (running !== undefined) return running;
    const o = this.#o;
    const work = (async () => {
      const d = o.deployments.store.get(name);
      if (d === undefined) return;
      await o.deployments.release(name);
      // What this copy wrote while the other ran (a partition let both sides run it) is not dropped
      // silently: kept for the operator's review (`caxton cluster conflicts`).
      const state = o.snapshots.read(name);
      if (o.conflicts !== undefined && (state.kv.length > 0 || state.timers.length > 0)) {
        const id = o.conflicts.record({ agent: name, node: o.peers.self, epoch: d.epoch, winner: by, winnerEpoch: byEpoch, state });
        o.logger.warn({ agent: name, conflict: id, keys: state.kv.length, timers: state.timers.length }, 'kept the state of the stopped copy for review: caxton cluster conflicts');
      }
      o.snapshots.drop(name);
      // What it applied went into the state just dropped: a redelivered message is not a duplicate here.
      o.deployments.pool.forgetHandled(name);
      o.replicator.forget(name);
      o.emit({ type: 'agent_superseded', agent: name, node: o.peers.self, by, epoch: d.epoch, byEpoch });
      o.logger.warn({ agent: name, by, epoch: d.epoch, byEpoch }, 'stopped a second copy of an agent: another node runs it at a higher epoch or rank');
    })();
    this.#superseding.set(name, work);
    void work.finally(() => this.#superseding.delete(name)).catch(() => {});
    return work;
  }

  /** After a failed commit: the agent runs here again, as its deployment wants, at its old epoch. */
  async #comeBack(d: Deployment): Promise<void> {
    const o = this.#o;
    if (o.deployments.store.get(d.name) === undefined) return; // superseded meanwhile (a claim): nothing to bring back
    if (d.desiredState === 'stopped') return;
    try {
      const live = o.deployments.pool.agent(d.name);
      if (live === undefined || live.state === 'stopped' || live.state === 'failed') await o.deployments.restart(d.name);
      if (d.desiredState === 'suspended') o.deployments.suspend(d.name);
    } catch (e) {
      o.logger.error({ agent: d.name, err: (e as Error).message }, 'agent did not come back after a failed move');
    }
  }

  async #onPrepare(from: NodeName, body: PeerBody): Promise<{ ok: true }> {
    const o = this.#o;
    const row = checkRow(body, from);
    const holdMs = (body as { holdMs?: unknown }).holdMs;
    if (typeof holdMs !== 'number' || !(holdMs > 0) || holdMs > 3_600_000) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `node ${from} sent a move whose holdMs is invalid`, { node: from });
    const d = row.deployment;
    const here = o.deployments.store.get(d.name);
    if (here !== undefined && o.mergeHeld?.() === true) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_READ_ONLY', `agent ${d.name} runs on ${o.peers.self} too, and the merge after a partition is held for the operator: nothing moves onto it until \`caxton cluster resolve-partition\``, { agent: d.name, node: o.peers.self });
    }
    if (here !== undefined) {
      // A copy of a lower epoch here lost the agent (a partition let both sides run it): the move is
      // its claim, as failover.ts's claims would settle it.
      if (here.epoch >= d.epoch || this.#moving.has(d.name)) throw new CaxtonError('CAXTON_ERR_AGENT_EXISTS', `agent ${d.name} already runs on ${o.peers.self} (epoch ${here.epoch})`, { agent: d.name, node: o.peers.self });
      await this.supersede(d.name, from, d.epoch);
    }
    if (o.deployments.store.module(d.module) === undefined) await o.replicator.fetchModule(from, d.module);
    // Admitted now, so that the commit cannot fail on the module with the source already drained.
    await o.deployments.pool.admit(o.deployments.store.module(d.module) as Uint8Array);
    o.gate.startHolding(d.name, from, holdMs, () => this.#giveBack(d.name, 'the move was abandoned'));
    return { ok: true };
  }

  async #onCommit(from: NodeName, body: PeerBody): Promise<{ held: number; startedMs: number }> {
    const o = this.#o;
    const row = checkRow(body, from);
    const snapshot = (body as { snapshot?: unknown }).snapshot;
    if (!isAgentSnapshot(snapshot)) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `node ${from} sent a move whose state is invalid`, { node: from, field: 'snapshot' });
    // Absent from a node of an earlier version: the new copy then starts with an empty dedup window.
    const seen = (body as { seen?: unknown }).seen;
    if (seen !== undefined && !(Array.isArray(seen) && seen.length <= MOVE_SEEN_MAX && seen.every((s) => typeof s === 'string' && s.length <= 256))) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `node ${from} sent a move whose applied message ids are invalid (at most ${MOVE_SEEN_MAX} texts of at most 256 characters)`, { node: from, field: 'seen' });
    }
    const d = row.deployment;
    if (!o.gate.holding(d.name)) throw new CaxtonError('CAXTON_ERR_AGENT_STATE', `no move of agent ${d.name} was prepared on ${o.peers.self} (or it expired)`, { agent: d.name });
    const t0 = performance.now();
    o.snapshots.write(d.name, snapshot as AgentSnapshot);
    o.replicaStore.delete(d.name);
    try {
      await o.deployments.adopt(d, seen as string[] | undefined);
    } catch (e) {
      o.snapshots.drop(d.name);
      this.#giveBack(d.name, `the agent did not start: ${(e as Error).message}`);
      throw e;
    }
    const held = this.#release(d.name);
    o.directory?.hosted(d.name, d.epoch);
    return { held, startedMs: performance.now() - t0 };
  }

  #onAbort(from: NodeName, body: PeerBody): { aborted: boolean } {
    const b = body as { name?: unknown };
    if (typeof b?.name !== 'string') throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', 'agents.move.abort takes {name, epoch}');
    if (!this.#o.gate.holding(b.name)) return { aborted: false };
    this.#giveBack(b.name, `node ${from} aborted the move`);
    return { aborted: true };
  }

  /** Delivers what was held to the agent that now runs here, in order. */
  #release(name: string): number {
    const held = this.#o.gate.takeHeld(name);
    for (const m of held) if (!this.#o.deliverLocal(name, m.json, m.priority)) this.#o.reroute(name, m.json, m.priority);
    return held.length;
  }

  /** An abandoned move: what was held goes back through the router (to wherever the agent runs). */
  #giveBack(name: string, why: string): void {
    const held = this.#o.gate.takeHeld(name);
    if (held.length > 0) this.#o.logger.warn({ agent: name, held: held.length, why }, 'messages held for an arriving agent are routed again');
    for (const m of held) this.#o.reroute(name, m.json, m.priority);
  }
}
