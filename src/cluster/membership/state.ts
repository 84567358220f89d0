/**
 * The member table and its state machine (memberlist v0.2.2 state.go aliveNode, suspectNode,
 * deadNode, refute, mergeState, resetNodes). Everything here is synchronous: a message is applied in
 * one step, and the events it causes are emitted once the table is consistent again.
 *
 * Incarnation numbers order what is said about a node. Only the node itself raises its own: to
 * refute a suspicion or death (refute), or to announce new meta. News about a node at a lower
 * incarnation than we hold is stale and ignored; alive needs a strictly higher one to override
 * suspect or dead, while suspect and dead at an equal one override alive.
 */
import {
  MessageType,
  NodeState,
  encodeMessage,
  makeVsn,
  parseVsn,
  type Alive,
  type Dead,
  type NodeStateCode,
  type PushNodeState,
  type Suspect,
  type Versions,
} from '../wire/index.js';
import { addressKey, type Address } from '../transport/transport.js';
import type { Member, MemberEvent, MemberStatus } from './delegate.js';
import type { MembershipConfig } from './config.js';
import type { Clock } from './clock.js';
import type { Awareness } from './awareness.js';
import type { Counters, MemberCounts } from './stats.js';
import type { MembershipLogger } from './log.js';
import { Suspicion } from './suspicion.js';
import { suspicionTimeout } from './timing.js';
import { moveDeadNodes, randomOffset, shuffleInPlace, type Random } from './selection.js';
import { bytesToIp, sameBytes } from './address.js';

/** What we know about one node (memberlist nodeState). */
export interface NodeRecord {
  readonly name: string;
  addr: Uint8Array;
  host: string;
  port: number;
  meta: Uint8Array;
  incarnation: number;
  state: NodeStateCode;
  /** When the state last changed, ms since epoch. */
  stateChange: number;
  /** Bumped on every state change: a suspicion timer only fires for the suspicion it was made for. */
  changeSeq: number;
  vsn: Versions;
}

/** What the table needs from the rest of membership. */
export interface StateEnv {
  readonly config: MembershipConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly awareness: Awareness;
  readonly counters: Counters;
  readonly log: MembershipLogger;
  /** Queues a memberlist broadcast about `node` (replacing older news about it). */
  broadcast(node: string, message: Uint8Array, notify?: () => void): void;
  emit(event: MemberEvent): void;
  /** True once leave() has started: we no longer refute our own death. */
  hasLeft(): boolean;
  /** Sends one message straight to a member, alone in its packet (best effort; gossip's budget is untouched). */
  sendTo(node: NodeRecord, message: Uint8Array): void;
}

const ZERO_VERSIONS: Versions = { pmin: 0, pmax: 0, pcur: 0, dmin: 0, dmax: 0, dcur: 0 };
const EMPTY = new Uint8Array(0);
/** Nodes remembered for the reassert rate limit; beyond this the memory starts over. */
const REASSERT_MEMORY = 1024;

const STATUS: Record<NodeStateCode, MemberStatus> = {
  [NodeState.Alive]: 'alive',
  [NodeState.Suspect]: 'suspect',
  [NodeState.Dead]: 'failed',
  [NodeState.Left]: 'left',
};

export function isDeadOrLeft(n: { readonly state: number }): boolean {
  return n.state === NodeState.Dead || n.state === NodeState.Left;
}

export function toMember(n: NodeRecord): Member {
  const v = n.vsn;
  return {
    name: n.name,
    host: n.host,
    port: n.port,
    meta: Uint8Array.from(n.meta),
    incarnation: n.incarnation,
    status: STATUS[n.state],
    since: n.stateChange,
    vsn: [v.pmin, v.pmax, v.pcur, v.dmin, v.dmax, v.dcur],
  };
}

export class MemberTable {
  /** Probe order: new nodes go to a random position, and the whole list is reshuffled on wrap-around. */
  readonly nodes: NodeRecord[] = [];
  readonly #byName = new Map<string, NodeRecord>();
  readonly #byAddress = new Map<string, NodeRecord>();
  readonly #timers = new Map<string, Suspicion>();
  /** When, and at which incarnation, we last sent our alive straight to a node (#reassert). */
  readonly #reasserted = new Map<string, { readonly at: number; readonly incarnation: number }>();
  readonly #env: StateEnv;
  #incarnation = 0;
  #changeSeq = 0;

  constructor(env: StateEnv) {
    this.#env = env;
  }

  // ------------------------------------------------------------------------------------------
  // Queries

  get(name: string): NodeRecord | undefined {
    return this.#byName.get(name);
  }

  /** The node at host:port, if any. */
  atAddress(host: string, port: number): NodeRecord | undefined {
    return this.#byAddress.get(addressKey({ host, port }));
  }

  /** The local node (present from Membership.create on). */
  local(): NodeRecord | undefined {
    return this.#byName.get(this.#env.config.name);
  }

  /** Nodes in the table, dead ones included until reaped (memberlist estNumNodes). */
  estNumNodes(): number {
    return this.nodes.length;
  }

  /** Whether any other node is alive or suspect (memberlist anyAlive). */
  anyAlive(): boolean {
    const self = this.#env.config.name;
    return this.nodes.some((n) => n.name !== self && !isDeadOrLeft(n));
  }

  counts(): MemberCounts {
    let alive = 0;
    let suspect = 0;
    let failed = 0;
    let left = 0;
    for (const n of this.nodes) {
      if (n.state === NodeState.Alive) alive++;
      else if (n.state === NodeState.Suspect) suspect++;
      else if (n.state === NodeState.Dead) failed++;
      else left++;
    }
    return { total: this.nodes.length, alive, suspect, failed, left };
  }

  get incarnation(): number {
    return this.#incarnation;
  }

  nextIncarnation(): number {
    this.#incarnation = (this.#incarnation + 1) >>> 0;
    return this.#incarnation;
  }

  skipIncarnation(offset: number): number {
    this.#incarnation = (this.#incarnation + offset) >>> 0;
    return this.#incarnation;
  }

  /** Stops every suspicion timer (shutdown). */
  clearTimers(): void {
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
  }

  // ------------------------------------------------------------------------------------------
  // Transitions

  /**
   * An alive message (gossip, push/pull, or our own announcement when `bootstrap`). `notify` runs
   * when the resulting broadcast has been sent its full count (updateMeta waits for it).
   */
  aliveNode(a: Alive, notify?: () => void, bootstrap = false): void {
    const env = this.#env;
    const cfg = env.config;
    const isSelf = a.Node === cfg.name;

    // A leave may race with an alive about us already queued: accepting it would re-join us.
    if (env.hasLeft() && isSelf) return;

    // Ignore nonsense versions (a Vsn of at least 3 bytes with a zero or inverted range).
    const raw = a.Vsn;
    if (raw !== null && raw.length >= 3) {
      const pmin = raw[0] ?? 0;
      const pmax = raw[1] ?? 0;
      if (pmin === 0 || pmax === 0 || pmin > pmax) {
        env.log.warn({ node: a.Node, vsn: Array.from(raw) }, 'ignoring an alive message with wrong protocol versions');
        return;
      }
    }
    const versions = parseVsn(raw);

    // Node addresses are IP bytes; anything else cannot be dialled.
    const host = bytesToIp(a.Addr);
    if (host === undefined) {
      env.counters.drop('bad-address');
      env.log.warn({ node: a.Node }, 'ignoring an alive message without a usable IP address');
      return;
    }

    let state = this.#byName.get(a.Node);
    let updatesNode = false;
    if (state === undefined) {
      // Nothing is ever announced at incarnation 0; Go would add a dead entry and then ignore it.
      if (a.Incarnation === 0 && !isSelf) return;
      state = {
        name: a.Node,
        addr: Uint8Array.from(a.Addr ?? EMPTY),
        host,
        port: a.Port,
        meta: Uint8Array.from(a.Meta ?? EMPTY),
        incarnation: 0,
        state: NodeState.Dead,
        stateChange: 0,
        changeSeq: 0,
        vsn: versions ?? ZERO_VERSIONS,
      };
      this.#byName.set(state.name, state);
      this.#byAddress.set(addressKey(state), state);
      // A random position keeps the average failure-detection bound low: if every node appended,
      // a new node would be probed last by everyone.
      const n = this.nodes.length;
      const offset = randomOffset(n, env.random);
      this.nodes.push(state);
      const swap = this.nodes[offset] as NodeRecord;
      this.nodes[offset] = state;
      this.nodes[n] = swap;
    } else if (!sameBytes(state.addr, a.Addr) || state.port !== a.Port) {
      // Another address for a known name: allowed only to replace a node that left, or one dead
      // for longer than deadNodeReclaimTime. Otherwise two nodes claim one name.
      const canReclaim = cfg.deadNodeReclaimTimeMs > 0 && env.clock.now() - state.stateChange > cfg.deadNodeReclaimTimeMs;
      if (state.state === NodeState.Left || (state.state === NodeState.Dead && canReclaim)) {
        env.log.info({ node: state.name, from: `${state.host}:${state.port}`, to: `${host}:${a.Port}` }, 'updating address for left or failed node');
        updatesNode = true;
      } else {
        env.log.error(
          { node: state.name, mine: `${state.host}:${state.port}`, theirs: `${host}:${a.Port}`, state: STATUS[state.state] },
          'conflicting address for node',
        );
        env.counters.conflicts += 1;
        const other: Member = {
          name: a.Node,
          host,
          port: a.Port,
          meta: Uint8Array.from(a.Meta ?? EMPTY),
          incarnation: a.Incarnation,
          status: 'alive',
          since: env.clock.now(),
          vsn: raw === null ? [] : Array.from(raw),
        };
        env.emit({ type: 'conflict', existing: toMember(state), other });
        return;
      }
    }

    const isLocalNode = state.name === cfg.name;
    // Stale news about someone else.
    if (a.Incarnation <= state.incarnation && !isLocalNode && !updatesNode) return;
    // Strictly older news about us.
    if (a.Incarnation < state.incarnation && isLocalNode) return;

    this.#clearTimer(a.Node);
    const oldState = state.state;
    const oldMeta = state.meta;

    if (!bootstrap && isLocalNode) {
      // Someone says we are alive at an incarnation we hold or above. After a restart the same
      // incarnation may carry another meta or version (configuration changed), so only an exact
      // match is harmless; anything else is refuted with a higher incarnation.
      if (a.Incarnation === state.incarnation && sameBytes(a.Meta, state.meta) && sameBytes(a.Vsn, makeVsn(state.vsn))) return;
      this.refute(state, a.Incarnation);
      env.log.warn({ node: a.Node, incarnation: a.Incarnation }, 'refuting an alive message about us');
    } else {
      env.broadcast(a.Node, encodeMessage(MessageType.Alive, a), notify);
      if (versions !== undefined) state.vsn = versions;
      state.incarnation = a.Incarnation;
      state.meta = Uint8Array.from(a.Meta ?? EMPTY);
      this.#setAddress(state, Uint8Array.from(a.Addr ?? EMPTY), host, a.Port);
      if (state.state !== NodeState.Alive) this.#setState(state, NodeState.Alive);
    }
    env.counters.aliveMessages += 1;

    if (oldState === NodeState.Dead || oldState === NodeState.Left) {
      env.emit({ type: 'join', member: toMember(state) });
      return;
    }
    if (oldState === NodeState.Suspect && state.state === NodeState.Alive) env.emit({ type: 'alive', member: toMember(state) });
    if (!sameBytes(oldMeta, state.meta)) env.emit({ type: 'update', member: toMember(state) });
  }

  /**
   * A suspect message, or our own probe's verdict. `sender` is where the message came from when it
   * arrived in a packet: the accuser, or a node that passed the accusation on.
   */
  suspectNode(s: Suspect, sender?: Address): void {
    const env = this.#env;
    const cfg = env.config;
    const state = this.#byName.get(s.Node);
    // Unknown node.
    if (state === undefined) return;
    // Stale. About us: whoever holds it missed our refutation (see #answerAccusation).
    if (s.Incarnation < state.incarnation) {
      if (state.name === cfg.name && !env.hasLeft()) this.#answerAccusation(state, s.From, sender);
      return;
    }

    // Already suspect: count a confirmation from a new accuser, and pass new information on so
    // other nodes can count it too (Lifeguard).
    const timer = this.#timers.get(s.Node);
    if (timer !== undefined) {
      if (timer.confirm(s.From)) env.broadcast(s.Node, encodeMessage(MessageType.Suspect, s));
      return;
    }
    // Only alive nodes become suspect.
    if (state.state !== NodeState.Alive) return;

    // About us: refute, never suspect ourselves.
    if (state.name === cfg.name) {
      this.refute(state, s.Incarnation);
      this.#answerAccusation(state, s.From, sender);
      env.log.warn({ from: s.From }, 'refuting a suspect message');
      return;
    }
    env.broadcast(s.Node, encodeMessage(MessageType.Suspect, s));
    env.counters.suspectMessages += 1;

    state.incarnation = s.Incarnation;
    this.#setState(state, NodeState.Suspect);
    const changeSeq = state.changeSeq;

    // Expect suspicionMult − 2 confirmations, so the nominal (min) timeout is reached two probe
    // intervals early; none when the cluster is too small to give them (minus us and the suspect).
    let k = cfg.suspicionMult - 2;
    const n = this.estNumNodes();
    if (n - 2 < k) k = 0;
    const min = suspicionTimeout(cfg.suspicionMult, n, cfg.probeIntervalMs);
    const max = cfg.suspicionMaxTimeoutMult * min;
    const name = s.Node;
    const onTimeout = (confirmations: number): void => {
      const cur = this.#byName.get(name);
      if (cur === undefined || cur.state !== NodeState.Suspect || cur.changeSeq !== changeSeq) return;
      env.counters.suspicionTimeouts += 1;
      if (k > 0 && confirmations < k) env.counters.degradedSuspicionTimeouts += 1;
      env.log.info({ node: name, confirmations }, 'marking node as failed, suspect timeout reached');
      this.deadNode({ Incarnation: cur.incarnation, Node: name, From: cfg.name });
    };
    this.#timers.set(name, new Suspicion(s.From, k, min, max, onTimeout, env.clock));
    // Tell the suspect now. Lifeguard's buddy system tells it when we next probe it, which in our
    // round-robin can be after this timer fires, and gossip may never bring us its refutation: the
    // suspect refutes to us directly (#answerAccusation), or answers at once if it already has.
    env.counters.accusationsSent += 1;
    env.sendTo(state, encodeMessage(MessageType.Suspect, s));
    env.emit({ type: 'suspect', member: toMember(state), from: s.From });
  }

  /**
   * A dead message (From === Node: the node left). `notify` is for our own leave: it runs when the
   * message has been gossiped its full count. `sender` as for suspectNode.
   */
  deadNode(d: Dead, notify?: () => void, sender?: Address): void {
    const env = this.#env;
    const cfg = env.config;
    const state = this.#byName.get(d.Node);
    // Unknown node.
    if (state === undefined) return;
    // Stale. About us: whoever holds it missed our refutation (see #answerAccusation).
    if (d.Incarnation < state.incarnation) {
      if (state.name === cfg.name && !env.hasLeft()) this.#answerAccusation(state, d.From, sender);
      return;
    }
    this.#clearTimer(d.Node);
    // Already dead or left.
    if (isDeadOrLeft(state)) return;

    if (state.name === cfg.name) {
      // About us: refute unless we are the one leaving.
      if (!env.hasLeft()) {
        this.refute(state, d.Incarnation);
        this.#answerAccusation(state, d.From, sender);
        env.log.warn({ from: d.From }, 'refuting a dead message');
        return;
      }
      env.broadcast(d.Node, encodeMessage(MessageType.Dead, d), notify);
    } else {
      env.broadcast(d.Node, encodeMessage(MessageType.Dead, d));
    }
    env.counters.deadMessages += 1;

    state.incarnation = d.Incarnation;
    const left = d.Node === d.From;
    this.#setState(state, left ? NodeState.Left : NodeState.Dead);
    env.emit(left ? { type: 'left', member: toMember(state) } : { type: 'failed', member: toMember(state) });
  }

  /**
   * An accusation about us (suspect or dead), fresh or older than our incarnation. A node that holds
   * it declares us failed when its suspicion timer fires unless our refutation reaches it first, and
   * gossip does not guarantee that: each node sends a message retransmit_mult × ceil(log10(N + 1))
   * times (twice at 5 nodes with the local profile), piggybacked on whatever pings and acks it sends,
   * often to nodes that know already. So the nodes we know to hold the accusation get our current
   * alive straight away: the accuser, and the node the message came from (it passed it on, so it
   * holds it too), each at most once per probe interval and incarnation. memberlist refutes by gossip only and
   * ignores an accusation older than our incarnation; what we send is an ordinary alive message.
   */
  #answerAccusation(me: NodeRecord, accuser: string, sender: Address | undefined): void {
    this.#reassert(me, this.#byName.get(accuser));
    if (sender !== undefined) this.#reassert(me, this.atAddress(sender.host, sender.port));
  }

  /**
   * Our current alive, straight to `to`, unless it was sent the same one within the last probe
   * interval (a new refutation always goes out).
   */
  #reassert(me: NodeRecord, to: NodeRecord | undefined): void {
    const env = this.#env;
    if (to === undefined || to === me || isDeadOrLeft(to)) return;
    const now = env.clock.now();
    const last = this.#reasserted.get(to.name);
    if (last !== undefined && last.incarnation === me.incarnation && now - last.at < env.config.probeIntervalMs) return;
    if (this.#reasserted.size >= REASSERT_MEMORY) this.#reasserted.clear();
    this.#reasserted.set(to.name, { at: now, incarnation: me.incarnation });
    env.counters.reassertions += 1;
    const a: Alive = { Incarnation: me.incarnation, Node: me.name, Addr: me.addr, Port: me.port, Meta: me.meta, Vsn: makeVsn(me.vsn) };
    env.sendTo(to, encodeMessage(MessageType.Alive, a));
  }

  /**
   * Announces us alive at an incarnation above `accusedInc` (or just the next one), and counts
   * against our health: being accused suggests we are slow.
   */
  refute(me: NodeRecord, accusedInc: number): void {
    const env = this.#env;
    let inc = this.nextIncarnation();
    if (accusedInc >= inc) inc = this.skipIncarnation(accusedInc - inc + 1);
    me.incarnation = inc;
    env.awareness.applyDelta(1);
    env.counters.refutations += 1;
    // Go names this broadcast after our address, so it does not replace older news about us; we
    // name it after us, like every other broadcast about a node.
    const a: Alive = { Incarnation: inc, Node: me.name, Addr: me.addr, Port: me.port, Meta: me.meta, Vsn: makeVsn(me.vsn) };
    env.broadcast(me.name, encodeMessage(MessageType.Alive, a));
  }

  /**
   * Applies a push/pull's node list. A remote "dead" only makes the node suspect here: we give it
   * the chance to refute rather than trust one peer's verdict.
   */
  mergeState(remote: readonly PushNodeState[]): void {
    const self = this.#env.config.name;
    for (const r of remote) {
      switch (r.State) {
        case NodeState.Alive:
          this.aliveNode({ Incarnation: r.Incarnation, Node: r.Name, Addr: r.Addr, Port: r.Port, Meta: r.Meta, Vsn: r.Vsn });
          break;
        case NodeState.Left:
          this.deadNode({ Incarnation: r.Incarnation, Node: r.Name, From: r.Name });
          break;
        case NodeState.Dead:
        case NodeState.Suspect:
          this.suspectNode({ Incarnation: r.Incarnation, Node: r.Name, From: self });
          break;
        default:
          break; // an unknown state from a newer peer: ignore
      }
    }
  }

  /**
   * On probe wrap-around: removes nodes dead or left for longer than gossipToTheDead (emitting
   * `reaped`) and reshuffles the rest (memberlist resetNodes).
   */
  resetNodes(): NodeRecord[] {
    const env = this.#env;
    const deadIdx = moveDeadNodes(this.nodes, env.config.gossipToTheDeadMs, env.clock.now());
    const reaped = this.nodes.splice(deadIdx);
    for (const r of reaped) {
      this.#byName.delete(r.name);
      const key = addressKey(r);
      if (this.#byAddress.get(key) === r) this.#byAddress.delete(key);
      this.#clearTimer(r.name);
      env.counters.reaped += 1;
    }
    shuffleInPlace(this.nodes, env.random);
    for (const r of reaped) env.emit({ type: 'reaped', member: toMember(r) });
    return reaped;
  }

  /** Our node list as a push/pull carries it (memberlist sendLocalState). */
  pushState(): PushNodeState[] {
    return this.nodes.map((n) => ({
      Name: n.name,
      Addr: n.addr,
      Port: n.port,
      Meta: n.meta,
      Incarnation: n.incarnation,
      State: n.state,
      Vsn: makeVsn(n.vsn),
    }));
  }

  #setState(n: NodeRecord, state: NodeStateCode): void {
    n.state = state;
    n.stateChange = this.#env.clock.now();
    n.changeSeq = ++this.#changeSeq;
    this.#env.counters.lastChangeAt = n.stateChange;
  }

  #setAddress(n: NodeRecord, addr: Uint8Array, host: string, port: number): void {
    const oldKey = addressKey(n);
    n.addr = addr;
    n.host = host;
    n.port = port;
    const key = addressKey(n);
    if (key === oldKey) return;
    if (this.#byAddress.get(oldKey) === n) this.#byAddress.delete(oldKey);
    this.#byAddress.set(key, n);
  }

  #clearTimer(name: string): void {
    const t = this.#timers.get(name);
    if (t === undefined) return;
    t.cancel();
    this.#timers.delete(name);
  }
}
