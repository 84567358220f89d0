/**
 * State replication of agents' key-value state, owner and replica side (issue 11 point 5, design
 * point 8). Every node runs one StateReplicator: for the agents it owns it ships their workers'
 * deltas to each agent's replica through `Peers`, retransmits what was not acknowledged, sends a
 * snapshot when the replica is new or behind, and tells the pool when the replica holds a seq (sync
 * mode releases the handlers' messages and acks then). For agents owned elsewhere it is the replica
 * (replica.ts). `promote` is the step failover builds on: fence the replicas and take their state.
 *
 * What it does not do: choose owners and replicas, or restart agents after a node died. The failover
 * orchestrator (wave 2) calls `setReplica` on view changes and `promote` + `pool.spawn` on failover.
 *
 * Sync mode with the replica unreachable (docs/cluster-routing.md, "Replication"): outputs stay held
 * and are retransmitted; nothing is ever released on a timeout, since a replica that only looks dead
 * may be promoted (PacificA: a primary drops a backup only by reconfiguration). Past MAX_HELD held
 * handlers the agent stops taking messages, so its senders see backpressure (Kafka: acks=all refuses
 * writes without enough in-sync replicas). The view change that declares the replica dead calls
 * `setReplica` with the next node (a snapshot, then release) or none (the agent runs unreplicated).
 */
import { CaxtonError } from '../../errors.js';
import type { NodeName, Peers } from '../../cluster/peers.js';
import type { AgentPool } from '../../sandbox/pool.js';
import type { ReplicationMode, WorkerDelta } from '../../sandbox/worker-protocol.js';
import type { ReplicaStore } from '../../storage/replica-store.js';
import { ReplicaSide } from './replica.js';
import {
  ACK_BEHIND,
  ACK_FENCED,
  ACK_OK,
  KIND_ACKS,
  KIND_DELTAS,
  METHOD_FENCE,
  METHOD_FORGET,
  b64,
  parseAcks,
  parseDeltas,
  parseFence,
  unb64,
  type FenceReply,
  type WireAgentDeltas,
  type WireDelta,
} from './protocol.js';

export type { ReplicationMode } from '../../sandbox/worker-protocol.js';

/** How long applied message ids are kept on a replica: the workers' dedup window (worker/dedup-window.ts). */
export const APPLIED_TTL_MS = 10 * 60_000;

export interface ReplicatorOptions {
  readonly peers: Peers;
  readonly pool: AgentPool;
  readonly store: ReplicaStore;
  /** The node's default (`coordination.replication.mode`). @default sync */
  readonly mode?: ReplicationMode;
  /** Unacknowledged deltas are sent again after this long, ms (a lost post, a reconnect). @default 200 */
  readonly retransmitMs?: number;
  /**
   * Unacknowledged deltas kept per agent; beyond, they are dropped and the replica gets a snapshot
   * once it answers again (async mode: nothing stops the agent). @default 4096
   */
  readonly maxUnacked?: number;
  /** Deadline of a fence call during promote, ms. @default 5000 */
  readonly fenceTimeoutMs?: number;
  /** Reports frames refused and fencing (the node's log). */
  readonly log?: (level: 'warn' | 'error', text: string) => void;
}

export type ReplicaState = 'in-sync' | 'behind' | 'fenced';

export interface ReplicaStatus {
  readonly agent: string;
  readonly replica: NodeName;
  readonly mode: ReplicationMode;
  readonly epoch: number;
  /** The last delta the agent's worker produced. */
  readonly seq: number;
  /** The last delta the replica acknowledged. */
  readonly acked: number;
  /** Deltas sent and not yet acknowledged (async: what a kill of this node now would lose). */
  readonly unacked: number;
  /** Age of the oldest unacknowledged delta, ms (0 when none). */
  readonly oldestUnackedMs: number;
  readonly state: ReplicaState;
}

export interface Promotion {
  /** The epoch this node now owns the agent under. */
  readonly epoch: number;
  /** The seq of the state taken over (0: the replicas held no copy). */
  readonly seq: number;
  /** At-least-once message ids already applied: pass them to `pool.spawn({ seen })`. */
  readonly applied: string[];
  /** Keys installed into the agent's local state. */
  readonly keys: number;
  /** Pending timers installed (armed when the agent is spawned). */
  readonly timers: number;
  /** The replica whose copy was taken. */
  readonly from: NodeName;
}

export type ReplicationEvent = { readonly type: 'fenced'; readonly agent: string; readonly epoch: number; readonly by: NodeName };

interface Owned {
  readonly agent: string;
  replica: NodeName;
  mode: ReplicationMode;
  epoch: number;
  seq: number;
  acked: number;
  /** Sent, not acknowledged, in seq order, with when they were last sent. */
  unacked: { readonly d: WireDelta; readonly at: number; sentAt: number }[];
  fenced: boolean;
  /** The buffer overflowed: a snapshot is due once the replica answers. */
  needSnapshot: boolean;
  lastSnapshotAt: number;
}

export class StateReplicator {
  readonly replica: ReplicaSide;
  readonly #peers: Peers;
  readonly #pool: AgentPool;
  readonly #store: ReplicaStore;
  readonly #mode: ReplicationMode;
  readonly #retransmitMs: number;
  readonly #maxUnacked: number;
  readonly #fenceTimeoutMs: number;
  readonly #log: (level: 'warn' | 'error', text: string) => void;
  readonly #owned = new Map<string, Owned>();
  /** Seq to go on from for agents taken over by promote (consumed by the next setReplica). */
  readonly #seqBase = new Map<string, number>();
  readonly #listeners: ((e: ReplicationEvent) => void)[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #pruneTimer: NodeJS.Timeout;
  #closed = false;

  constructor(opts: ReplicatorOptions) {
    this.#peers = opts.peers;
    this.#pool = opts.pool;
    this.#store = opts.store;
    this.#mode = opts.mode ?? 'sync';
    this.#retransmitMs = opts.retransmitMs ?? 200;
    this.#maxUnacked = opts.maxUnacked ?? 4096;
    this.#fenceTimeoutMs = opts.fenceTimeoutMs ?? 5000;
    this.#log = opts.log ?? (() => {});
    this.replica = new ReplicaSide(opts.store);
    this.#pool.onDeltas((batch) => this.#onDeltas(batch));
    const peers = this.#peers;
    peers.onPost(KIND_DELTAS, (from, body) => this.#guard(from, KIND_DELTAS, () => {
      const acks = this.replica.apply(from, parseDeltas(from, body));
      if (acks.length > 0) peers.post(from, KIND_ACKS, { b: acks });
    }));
    peers.onPost(KIND_ACKS, (from, body) => this.#guard(from, KIND_ACKS, () => this.#onAcks(from, parseAcks(from, body).b)));
    peers.onCall(METHOD_FENCE, (from, body) => {
      const f = parseFence(from, body);
      return this.replica.fence(from, f.a, f.e);
    });
    peers.onCall(METHOD_FORGET, (from, body) => {
      const agent = (body as { a?: unknown } | null)?.a;
      if (typeof agent !== 'string') throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `bad ${METHOD_FORGET} request from node ${from}`, { node: from });
      const head = this.#store.head(agent);
      // Only the owner of the copy may drop it (a fenced old owner must not erase the new one's).
      if (head !== undefined && head.owner === from) this.#store.forget(agent);
      return true;
    });
    this.#timer = setInterval(() => this.#retransmit(), Math.max(10, this.#retransmitMs / 2));
    this.#timer.unref();
    this.#pruneTimer = setInterval(() => this.#store.prune(Date.now() - APPLIED_TTL_MS), 60_000);
    this.#pruneTimer.unref();
  }

  /**
   * Makes `replica` the node that holds the agent's state (undefined: none, the agent runs
   * unreplicated and whatever it held is released). The agent must exist in the pool, except to
   * switch replication off (an agent that moved away or was removed). The replica
   * gets a snapshot first, then every handler's delta. For a guarantee from the first message, spawn
   * the agent with `start: false`, call this, then `pool.start`. `mode` overrides the node's default
   * (a per-deployment setting). `ownership` is the agent's ownership epoch (its deployment's: 0 for a
   * deployment made here, raised by every failover and live move).
   */
  setReplica(agent: string, replica: NodeName | undefined, opts: { mode?: ReplicationMode; ownership?: number } = {}): void {
    if (replica === undefined) {
      this.#owned.delete(agent);
      // An agent that already left the pool (moved away, removed) has nothing to switch off.
      if (this.#pool.agent(agent) !== undefined) this.#pool.setReplication(agent, 'off');
      return;
    }
    if (replica === this.#peers.self) {
      throw new CaxtonError('CAXTON_ERR_CONFIG_INVALID', `agent ${agent}: its replica must be another node than its owner ${replica}`, { agent });
    }
    // Above the agent's ownership epoch, so that each ownership term replicates under an epoch of its
    // own (1 is the least: 0 means "no copy" to a fence). Ownership 0 and 1 must not share one: after
    // an agent's first move, a replica holding the previous owner's copy at a higher seq would take the
    // new owner's deltas and snapshot for ones it already holds, keep the old state, and acknowledge
    // the old seq, so that a sync agent's replies and acks stay held. And a node that owns the agent
    // again after others did must not send under its old, fenced epoch.
    let epoch = this.#store.ownedEpoch(agent);
    const min = (opts.ownership ?? 0) + 1;
    if (epoch === undefined || epoch < min) {
      epoch = Math.max(epoch ?? 1, min);
      this.#store.setOwnedEpoch(agent, epoch);
    }
    const prev = this.#owned.get(agent);
    const mode = opts.mode ?? prev?.mode ?? this.#mode;
    const base = this.#seqBase.get(agent);
    this.#seqBase.delete(agent);
    const o: Owned = {
      agent,
      replica,
      mode,
      epoch,
      seq: Math.max(prev?.seq ?? 0, base ?? 0),
      acked: 0,
      unacked: [],
      fenced: false,
      needSnapshot: false,
      lastSnapshotAt: Date.now(),
    };
    this.#owned.set(agent, o);
    this.#pool.setReplication(agent, { mode, epoch, ...(base === undefined ? {} : { seq: base }) });
  }

  /**
   * Takes the agent over from `replicas` (this node may be one of them): raises its epoch at every one
   * of them to max + 1 and takes their copies back in the same step, then installs the most recent
   * copy as the agent's local state (agent_kv). From then on each of them refuses the previous owner's
   * deltas. Every replica listed must answer (all of them may hold acknowledged writes); rejects with
   * CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE or CAXTON_ERR_CLUSTER_TIMEOUT otherwise, and nothing is
   * installed. Afterwards: `pool.spawn({ name, module, seen: applied })` and `setReplica` with the
   * agent's next replica.
   */
  async promote(agent: string, replicas: readonly NodeName[]): Promise<Promotion> {
    if (replicas.length === 0) throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `cannot promote ${agent}: no replica named`, { agent });
    const self = this.#peers.self;
    let want = Math.max(this.#store.ownedEpoch(agent) ?? 0, this.#store.head(agent)?.epoch ?? 0) + 1;
    const fence = (node: NodeName, e: number): Promise<FenceReply> =>
      node === self ? Promise.resolve(this.replica.fence(self, agent, e)) : this.#peers.call<FenceReply>(node, METHOD_FENCE, { a: agent, e }, { timeoutMs: this.#fenceTimeoutMs });
    let replies = await Promise.all(replicas.map((n) => fence(n, want)));
    // Replicas that had seen different epochs answer different ones: fence the lower ones again at the max,
    // so that every copy refuses anything below the epoch this node now owns the agent under.
    want = Math.max(...replies.map((r) => r.epoch));
    if (replies.some((r) => r.epoch !== want)) replies = await Promise.all(replicas.map((n) => fence(n, want)));
    // The most recent copy: highest epoch it followed, then highest seq. Never an older one (Kafka's HW bug).
    let best = 0;
    for (let i = 1; i < replies.length; i++) {
      const r = replies[i] as FenceReply;
      const b = replies[best] as FenceReply;
      if (r.priorEpoch > b.priorEpoch || (r.priorEpoch === b.priorEpoch && r.seq > b.seq)) best = i;
    }
    const src = replies[best] as FenceReply;
    const kv = src.kv.map(([k, v]) => [unb64(k), unb64(v)] as const);
    this.#store.transaction(() => {
      this.#store.installLocal(agent, kv, src.timers, src.lastTimerId);
      this.#store.setOwnedEpoch(agent, want);
      if (replicas.includes(self)) this.#store.dropData(agent);
    });
    const prev = this.#owned.get(agent);
    this.#owned.delete(agent);
    // Seq goes on from the copy's: a replica that kept the fenced copy must see the new deltas as newer.
    this.#seqBase.set(agent, Math.max(src.seq, prev?.seq ?? 0));
    return { epoch: want, seq: src.seq, applied: src.applied, keys: kv.length, timers: src.timers.length, from: replicas[best] as NodeName };
  }

  /** Replication of `agent` as its owner sees it, or undefined when it has no replica here. */
  status(agent: string): ReplicaStatus | undefined {
    const o = this.#owned.get(agent);
    return o === undefined ? undefined : this.#statusOf(o, Date.now());
  }

  statuses(): ReplicaStatus[] {
    const now = Date.now();
    return [...this.#owned.values()].map((o) => this.#statusOf(o, now));
  }

  /** The agent was removed: its replica drops its copy. Best effort (a replica that missed it keeps a stale copy). */
  async forget(agent: string): Promise<void> {
    const o = this.#owned.get(agent);
    this.#owned.delete(agent);
    this.#store.forgetOwned(agent);
    if (o !== undefined) await this.#peers.call(o.replica, METHOD_FORGET, { a: agent }).catch(() => undefined);
  }

  onEvent(fn: (e: ReplicationEvent) => void): () => void {
    this.#listeners.push(fn);
    return () => {
      const i = this.#listeners.indexOf(fn);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#pruneTimer);
  }

  #statusOf(o: Owned, now: number): ReplicaStatus {
    const first = o.unacked[0];
    const state: ReplicaState = o.fenced ? 'fenced' : o.unacked.length > 0 || o.needSnapshot || o.acked < o.seq ? 'behind' : 'in-sync';
    return {
      agent: o.agent,
      replica: o.replica,
      mode: o.mode,
      epoch: o.epoch,
      seq: o.seq,
      acked: o.acked,
      unacked: o.unacked.length,
      oldestUnackedMs: first === undefined ? 0 : now - first.at,
      state,
    };
  }

  #onDeltas(batch: WorkerDelta[]): void {
    const now = Date.now();
    const posts = new Map<NodeName, WireAgentDeltas[]>();
    for (const d of batch) {
      const o = this.#owned.get(d.name);
      // A delta cut under an epoch this node no longer owns the agent at is never sent.
      if (o === undefined || o.fenced || d.epoch !== o.epoch) continue;
      if (d.seq > o.seq) o.seq = d.seq;
      const w: (string | null)[] = new Array(d.writes.length);
      for (let i = 0; i < d.writes.length; i++) {
        const x = d.writes[i];
        w[i] = x === null || x === undefined ? null : b64(x);
      }
      const wire: WireDelta = {
        s: d.seq,
        w,
        ...(d.full ? { f: 1 as const } : {}),
        ...(d.timers.length === 0 ? {} : { t: d.timers }),
        ...(d.lastTimerId === undefined ? {} : { l: d.lastTimerId }),
        ...(d.applied === '' ? {} : { m: d.applied }),
      };
      if (d.full) {
        // Supersedes everything before it.
        o.unacked = [];
        o.needSnapshot = false;
      }
      if (o.needSnapshot) continue; // the replica gets the snapshot asked for instead
      o.unacked.push({ d: wire, at: now, sentAt: now });
      if (o.unacked.length > this.#maxUnacked) {
        o.unacked = [];
        o.needSnapshot = true;
        continue;
      }
      addTo(posts, o.replica, o.agent, o.epoch, wire);
    }
    for (const [node, b] of posts) this.#peers.post(node, KIND_DELTAS, { b });
  }

  #onAcks(from: NodeName, b: (string | number)[]): void {
    for (let i = 0; i + 3 < b.length; i += 4) {
      const o = this.#owned.get(b[i] as string);
      if (o === undefined || o.replica !== from || o.fenced) continue;
      const epoch = b[i + 1] as number;
      const seq = b[i + 2] as number;
      const code = b[i + 3] as number;
      if (code === ACK_FENCED) {
        if (epoch > o.epoch) this.#fenced(o, epoch, from);
        continue;
      }
      if (epoch !== o.epoch) continue; // about an epoch this node no longer replicates under
      if (code === ACK_OK) {
        if (seq > o.seq) {
          // The replica holds a copy at a seq this run of the node never produced: an earlier run's
          // (a restarted node numbers its deltas from the start again, under the same epoch). It took
          // ours for ones it holds and kept the old state: no ack of ours. Number on after its seq,
          // from a new snapshot, whose ack releases what waits.
          this.#rebase(o, seq);
          continue;
        }
        if (seq <= o.acked) continue;
        o.acked = seq;
        let n = 0;
        while (n < o.unacked.length && (o.unacked[n] as { d: WireDelta }).d.s <= seq) n++;
        if (n > 0) o.unacked.splice(0, n);
        if (o.mode === 'sync') this.#pool.replicated(o.agent, seq);
        if (o.needSnapshot) this.#snapshot(o);
      } else if (code === ACK_BEHIND) {
        const first = o.unacked[0];
        if (seq >= 0 && first !== undefined && first.d.s <= seq + 1) {
          this.#resend(o, seq + 1, Date.now());
        } else {
          this.#snapshot(o);
        }
      }
    }
  }

  /** Goes on numbering after `seq` (held by the replica from an earlier run), from a new snapshot. */
  #rebase(o: Owned, seq: number): void {
    this.#log('warn', `agent ${o.agent}: replica ${o.replica} holds a copy at seq ${seq} from an earlier run of this node (this run is at ${o.seq}): sending a snapshot numbered after it`);
    o.seq = seq;
    o.unacked = [];
    o.needSnapshot = true;
    o.lastSnapshotAt = Date.now();
    try {
      this.#pool.setReplication(o.agent, { mode: o.mode, epoch: o.epoch, seq });
    } catch {
      this.#owned.delete(o.agent); // the agent is gone from the pool
    }
  }

  /** Asks the agent's worker for a snapshot (at most once per retransmit period). */
  #snapshot(o: Owned): void {
    const now = Date.now();
    o.needSnapshot = true; // what the worker sends until the snapshot is superseded by it
    o.unacked = [];
    if (now - o.lastSnapshotAt < this.#retransmitMs) return; // the retransmit timer asks again
    o.lastSnapshotAt = now;
    try {
      this.#pool.setReplication(o.agent, { mode: o.mode, epoch: o.epoch });
    } catch {
      this.#owned.delete(o.agent); // the agent is gone from the pool
    }
  }

  #resend(o: Owned, fromSeq: number, now: number): void {
    const b: WireAgentDeltas = { a: o.agent, e: o.epoch, d: [] };
    for (const u of o.unacked) {
      if (u.d.s < fromSeq) continue;
      b.d.push(u.d);
      u.sentAt = now;
    }
    if (b.d.length > 0) this.#peers.post(o.replica, KIND_DELTAS, { b: [b] });
  }

  /** Sends again what was not acknowledged in time: a post lost with a connection, or refused under backpressure. */
  #retransmit(): void {
    const now = Date.now();
    for (const o of this.#owned.values()) {
      if (o.fenced) continue;
      if (o.needSnapshot) {
        this.#snapshot(o);
        continue;
      }
      const first = o.unacked[0];
      if (first !== undefined && now - first.sentAt >= this.#retransmitMs) this.#resend(o, first.d.s, now);
    }
  }

  #fenced(o: Owned, epoch: number, by: NodeName): void {
    o.fenced = true;
    o.unacked = [];
    this.#log('warn', `agent ${o.agent} was taken over under epoch ${epoch} (replica ${by} refuses epoch ${o.epoch}): this copy no longer acknowledges anything`);
    try {
      this.#pool.setReplication(o.agent, 'fenced');
    } catch {
      // removed meanwhile
    }
    for (const fn of this.#listeners) {
      try {
        fn({ type: 'fenced', agent: o.agent, epoch, by });
      } catch (e) {
        this.#log('error', `a replication listener failed: ${(e as Error).message}`);
      }
    }
  }

  #guard(from: NodeName, kind: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log(e instanceof CaxtonError && e.code === 'CAXTON_ERR_CLUSTER_FRAME' ? 'warn' : 'error', `${kind} from ${from}: ${(e as Error).message}`);
    }
  }
}

function addTo(posts: Map<NodeName, WireAgentDeltas[]>, node: NodeName, agent: string, epoch: number, d: WireDelta): void {
  let list = posts.get(node);
  if (list === undefined) {
    list = [];
    posts.set(node, list);
  }
  const last = list[list.length - 1];
  if (last !== undefined && last.a === agent) last.d.push(d);
  else list.push({ a: agent, e: epoch, d: [d] });
}
