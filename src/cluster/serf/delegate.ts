/**
 * SerfDelegate: the Serf 0.9.4 layer of a Caxton node, as a MembershipDelegate. With it, a memberlist
 * peer running Serf (Debian's `serf` agent) treats the Caxton node as a Serf member: tags in node
 * meta, Lamport-clocked join/leave intents, push/pull user state, user events, and the internal
 * queries `serf keys` and `serf members`' reachability use.
 *
 * Spec (read, not copied): serf v0.9.4 serf/delegate.go (NotifyMsg, GetBroadcasts, LocalState,
 * MergeRemoteState), serf/serf.go (handleNodeJoin/Leave/Update, handleNodeJoinIntent/LeaveIntent,
 * handleUserEvent, handleQuery, intents), serf/query.go + event.go (filters, responses, relays),
 * serf/internal_query.go + keymanager.go (`_serf_*` queries), serf/ping_delegate.go (ack payload).
 *
 * Wiring expected from the owner (the membership core):
 * - `nodeMeta`, `notifyMessage`, `getBroadcasts`, `localState`, `mergeRemoteState`, `ackPayload`:
 *   the MembershipDelegate contract.
 * - `memberEvent(ev)` for every MemberEvent (Serf's EventDelegate: join/alive → NotifyJoin,
 *   update → NotifyUpdate, failed/left → NotifyLeave, reaped → forget).
 * - `join()` once memberlist joined someone (broadcasts our join intent); `leave()` before a graceful
 *   memberlist leave, `markLeft()` after.
 * - `sendTo(address, userMsg)`: send `userMsg` (a Serf message, type byte first) to `address` as
 *   memberlist SendToAddress does: `[8] + userMsg` as one UDP packet through the packet pipeline
 *   (compressed if smaller, encrypted with the primary key, no CRC). Query responses, acks and relays
 *   go this way.
 * - `keyring`: the same Keyring the packet and stream codecs use, so key queries take effect at once.
 * - `reap()` now and then (Serf: every 15 s) to expire intents and long-gone members.
 */
import type { Member, MemberEvent, MembershipDelegate } from '../membership/delegate.js';
import type { Address } from '../transport/transport.js';
import { type ClusterLogger, silentLogger } from '../transport/logger.js';
import { META_MAX_SIZE, WireError, encodeSerfTags, isWireError, type Keyring, type SerfTags } from '../wire/index.js';
import { ipFromBytes, ipToBytes } from './addr.js';
import { TransmitLimitedQueue, type FinishReason } from '../membership/broadcast-queue.js';
import { LamportClock, type LamportTime } from './lamport.js';
import { QueryResponse, type QueryParams } from './query-response.js';
import { QueryResponder, answerInternalQuery, type InternalQueryEnv } from './internal-queries.js';
import {
  FilterType,
  INTERNAL_QUERY_PREFIX,
  QueryFlag,
  SerfMessageType,
  decodeQueryFilter,
  decodeSerfMessage,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  type MessageJoin,
  type MessageLeave,
  type MessagePushPull,
  type MessageQuery,
  type MessageQueryResponse,
  type MessageUserEvent,
  type UserEvent,
  type UserEvents,
} from './messages.js';

/** Serf delegate protocol versions (serf/config.go ProtocolVersionMin/Max; the library default is 4). */
export const SERF_PROTOCOL_MIN = 2;
export const SERF_PROTOCOL_MAX = 5;
export const SERF_PROTOCOL_DEFAULT = 4;

/** serf.go UserEventSizeLimit: name + payload can never exceed this. */
export const USER_EVENT_SIZE_LIMIT = 9 * 1024;
/** serf config.go QueryTimeoutMult: default query timeout = gossip interval × this × ceil(log10(N + 1)). */
const QUERY_TIMEOUT_MULT = 16;
/** serf config.go MaxQueueDepth: each of the three queues keeps at most this many messages. */
const MAX_QUEUE_DEPTH = 4096;
/** serf config.go BroadcastTimeout: how long a force-leave waits for its intent to be gossiped. */
const BROADCAST_TIMEOUT_MS = 5000;

export type SerfMemberStatus = 'alive' | 'leaving' | 'left' | 'failed';

export interface SerfMemberState {
  readonly name: string;
  readonly status: SerfMemberStatus;
  /** The Lamport time of the last join/leave intent applied to the member. */
  readonly statusLTime: LamportTime;
  /** What membership last reported for the node (undefined for ourselves until reported). */
  readonly member: Member | undefined;
  /** When it left or failed (ms since epoch); 0 while alive. */
  readonly leaveTime: number;
}

export interface SerfUserEvent {
  readonly ltime: LamportTime;
  readonly name: string;
  readonly payload: Uint8Array;
  readonly coalesce: boolean;
}

export interface SerfIntent {
  readonly type: 'join' | 'leave';
  readonly node: string;
  readonly ltime: LamportTime;
  readonly prune: boolean;
  /** False when the node is not a member yet: the intent is buffered until it joins. */
  readonly known: boolean;
}

export interface SerfKeyChange {
  readonly op: 'install' | 'use' | 'remove';
  readonly key: Uint8Array;
  readonly ok: boolean;
  /** Serf's error text when not ok. */
  readonly message: string;
  /** The node that ran `serf keys`. */
  readonly sourceNode: string;
}

/** A query that is not internal (`_serf_*`), for the application. */
export interface SerfQuery {
  readonly ltime: LamportTime;
  readonly id: number;
  readonly name: string;
  readonly payload: Uint8Array;
  readonly sourceNode: string;
  readonly replyTo: Address;
  /** ms since epoch; responding later fails. */
  readonly deadline: number;
  /** Sends the response (once, before the deadline, ≤ the response size limit). Throws otherwise. */
  respond(payload: Uint8Array): void;
}

export interface SerfStatusChange {
  readonly member: SerfMemberState;
  /** undefined when the member is new. */
  readonly previous: SerfMemberStatus | undefined;
}

export interface SerfDelegateOptions {
  readonly nodeName: string;
  readonly tags?: SerfTags;
  /** The ring memberlist encrypts with; key queries change it. Without one, key queries fail as in Serf. */
  readonly keyring?: Keyring;
  /** Sends a Serf message to an address as a memberlist user message over UDP (see the file comment). */
  readonly sendTo?: (to: Address, userMsg: Uint8Array) => void;
  /** Nodes in the cluster for retransmit limits. @default the members this delegate knows */
  readonly numNodes?: () => number;
  /** Where answers to our queries must be sent: this node's advertised gossip address. */
  readonly localAddress?: () => Address;
  /** memberlist GossipInterval, for the default query timeout. @default 200 */
  readonly gossipIntervalMs?: number;
  /** Largest encoded query we send (serf QuerySizeLimit). @default 1024 */
  readonly querySizeLimit?: number;
  /** memberlist RetransmitMult. @default 4 */
  readonly retransmitMult?: number;
  /** @default 512 */
  readonly eventBufferSize?: number;
  /** @default 512 */
  readonly queryBufferSize?: number;
  /** @default 5 min */
  readonly recentIntentTimeoutMs?: number;
  /** Failed members are forgotten after this. @default 24 h */
  readonly reconnectTimeoutMs?: number;
  /** Left members are forgotten after this. @default 24 h */
  readonly tombstoneTimeoutMs?: number;
  /** @default 1024 */
  readonly queryResponseSizeLimit?: number;
  /** Our own user events (encoded). @default 512 */
  readonly userEventSizeLimit?: number;
  /** Ignore user events older than a join's push/pull (serf -replay=false semantics). @default false */
  readonly ignoreEventsOnJoin?: boolean;
  /** Longest tag-filter regular expression we evaluate. @default 256 */
  readonly maxFilterExprLength?: number;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly logger?: ClusterLogger;
}

interface MemberRecord {
  name: string;
  status: SerfMemberStatus;
  statusLTime: LamportTime;
  member: Member | undefined;
  leaveTime: number;
}

interface NodeIntent {
  readonly type: 'join' | 'leave';
  readonly ltime: LamportTime;
  readonly wallTime: number;
}

interface EventSlot {
  readonly LTime: LamportTime;
  readonly Events: UserEvent[];
}

interface QuerySlot {
  readonly LTime: LamportTime;
  readonly ids: number[];
}

type Listener<T> = (value: T) => void;

const EMPTY = new Uint8Array(0);

function equalBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const x = a ?? EMPTY;
  const y = b ?? EMPTY;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export class SerfDelegate implements MembershipDelegate {
  readonly nodeName: string;
  /** Membership clock: join/leave intents. */
  readonly clock = new LamportClock();
  /** User event clock. */
  readonly eventClock = new LamportClock();
  /** Query clock. */
  readonly queryClock = new LamportClock();

  #tags: Map<string, string>;
  #meta: Uint8Array;
  #state: 'alive' | 'leaving' | 'left' = 'alive';
  readonly #keyring: Keyring | undefined;
  readonly #sendTo: ((to: Address, userMsg: Uint8Array) => void) | undefined;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #logger: ClusterLogger;
  readonly #members = new Map<string, MemberRecord>();
  readonly #recentIntents = new Map<string, NodeIntent>();
  readonly #eventBuffer: (EventSlot | undefined)[];
  readonly #queryBuffer: (QuerySlot | undefined)[];
  #eventMinTime = 0;
  readonly #queryMinTime = 0;
  readonly #intents: TransmitLimitedQueue;
  readonly #queries: TransmitLimitedQueue;
  readonly #events: TransmitLimitedQueue;
  /** Queries we originated, by Lamport time, until they close. */
  readonly #pending = new Map<LamportTime, QueryResponse>();
  readonly #numNodes: () => number;
  readonly #localAddress: (() => Address) | undefined;
  readonly #opts: {
    readonly recentIntentTimeoutMs: number;
    readonly reconnectTimeoutMs: number;
    readonly tombstoneTimeoutMs: number;
    readonly queryResponseSizeLimit: number;
    readonly querySizeLimit: number;
    readonly gossipIntervalMs: number;
    readonly userEventSizeLimit: number;
    readonly ignoreEventsOnJoin: boolean;
    readonly maxFilterExprLength: number;
  };
  readonly #userEventListeners: Listener<SerfUserEvent>[] = [];
  readonly #keyChangeListeners: Listener<SerfKeyChange>[] = [];
  readonly #intentListeners: Listener<SerfIntent>[] = [];
  readonly #queryListeners: Listener<SerfQuery>[] = [];
  readonly #statusListeners: Listener<SerfStatusChange>[] = [];
  readonly #internalEnv: InternalQueryEnv;

  constructor(options: SerfDelegateOptions) {
    if (options.nodeName === '') throw new TypeError('nodeName is required');
    this.nodeName = options.nodeName;
    this.#tags = new Map(options.tags instanceof Map ? options.tags : Object.entries(options.tags ?? {}));
    this.#meta = encodeSerfTags(this.#tags);
    this.#keyring = options.keyring;
    this.#sendTo = options.sendTo;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? silentLogger;
    this.#opts = {
      recentIntentTimeoutMs: options.recentIntentTimeoutMs ?? 5 * 60_000,
      reconnectTimeoutMs: options.reconnectTimeoutMs ?? 24 * 3600_000,
      tombstoneTimeoutMs: options.tombstoneTimeoutMs ?? 24 * 3600_000,
      queryResponseSizeLimit: options.queryResponseSizeLimit ?? 1024,
      querySizeLimit: options.querySizeLimit ?? 1024,
      gossipIntervalMs: options.gossipIntervalMs ?? 200,
      userEventSizeLimit: Math.min(options.userEventSizeLimit ?? 512, USER_EVENT_SIZE_LIMIT),
      ignoreEventsOnJoin: options.ignoreEventsOnJoin ?? false,
      maxFilterExprLength: options.maxFilterExprLength ?? 256,
    };
    this.#eventBuffer = new Array<EventSlot | undefined>(options.eventBufferSize ?? 512).fill(undefined);
    this.#queryBuffer = new Array<QuerySlot | undefined>(options.queryBufferSize ?? 512).fill(undefined);
    const numNodes = options.numNodes ?? ((): number => this.#members.size);
    this.#numNodes = numNodes;
    this.#localAddress = options.localAddress;
    const queue = (): TransmitLimitedQueue => new TransmitLimitedQueue({ retransmitMult: options.retransmitMult ?? 4, numNodes });
    this.#intents = queue();
    this.#queries = queue();
    this.#events = queue();
    // serf.Create: clocks start at 1 so the zero join time of a fresh member is never "newer".
    this.clock.increment();
    this.eventClock.increment();
    this.queryClock.increment();
    // memberlist reports the local node to Serf at creation (NotifyJoin on setAlive).
    this.#members.set(this.nodeName, { name: this.nodeName, status: 'alive', statusLTime: 0, member: undefined, leaveTime: 0 });
    this.#internalEnv = {
      nodeName: this.nodeName,
      keyring: this.#keyring,
      responseSizeLimit: this.#opts.queryResponseSizeLimit,
      logger: this.#logger,
      member: (name) => this.#members.get(name),
      keyChanged: (change) => this.#emit(this.#keyChangeListeners, change),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Listeners (each returns an unsubscribe function)

  onUserEvent(fn: Listener<SerfUserEvent>): () => void {
    return this.#listen(this.#userEventListeners, fn);
  }

  onKeyChange(fn: Listener<SerfKeyChange>): () => void {
    return this.#listen(this.#keyChangeListeners, fn);
  }

  onIntent(fn: Listener<SerfIntent>): () => void {
    return this.#listen(this.#intentListeners, fn);
  }

  onQuery(fn: Listener<SerfQuery>): () => void {
    return this.#listen(this.#queryListeners, fn);
  }

  onStatusChange(fn: Listener<SerfStatusChange>): () => void {
    return this.#listen(this.#statusListeners, fn);
  }

  #listen<T>(list: Listener<T>[], fn: Listener<T>): () => void {
    list.push(fn);
    return () => {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  }

  #emit<T>(list: readonly Listener<T>[], value: T): void {
    for (const fn of list) {
      try {
        fn(value);
      } catch (err) {
        this.#logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'serf: listener threw');
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // State

  get tags(): ReadonlyMap<string, string> {
    return this.#tags;
  }

  get state(): 'alive' | 'leaving' | 'left' {
    return this.#state;
  }

  /** Serf's members as this node sees them (ourselves included). */
  members(): SerfMemberState[] {
    return [...this.#members.values()].map((r) => ({ ...r }));
  }

  member(name: string): SerfMemberState | undefined {
    const r = this.#members.get(name);
    return r === undefined ? undefined : { ...r };
  }

  /** Messages waiting in the intent, query and event queues. */
  queued(): { readonly intents: number; readonly queries: number; readonly events: number } {
    return { intents: this.#intents.numQueued(), queries: this.#queries.numQueued(), events: this.#events.numQueued() };
  }

  /** The user events in the buffer (the last `eventBufferSize` Lamport times), oldest first. */
  recentEvents(): UserEvents[] {
    return this.#eventBuffer
      .filter((s): s is EventSlot => s !== undefined)
      .sort((a, b) => a.LTime - b.LTime)
      .map((s) => ({ LTime: s.LTime, Events: [...s.Events] }));
  }

  /**
   * Replaces our tags (serf SetTags): returns the new meta. Throws WireError('meta-too-large') when
   * the encoded tags exceed 512 bytes. The owner must then re-announce the node (memberlist UpdateNode).
   */
  setTags(tags: SerfTags): Uint8Array {
    const next = new Map(tags instanceof Map ? (tags as ReadonlyMap<string, string>) : Object.entries(tags));
    this.#meta = encodeSerfTags(next);
    this.#tags = next;
    return this.#meta;
  }

  // -------------------------------------------------------------------------------------------
  // MembershipDelegate

  nodeMeta(limit: number): Uint8Array {
    if (this.#meta.length > Math.min(limit, META_MAX_SIZE)) {
      throw new WireError('meta-too-large', `node tags exceed the length limit of ${limit} bytes`);
    }
    return this.#meta;
  }

  notifyMessage(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    let msg;
    try {
      msg = decodeSerfMessage(bytes);
    } catch (err) {
      if (!isWireError(err)) throw err;
      this.#logger.warn({ type: bytes[0], err: err.message }, 'serf: cannot decode message');
      return;
    }
    switch (msg.type) {
      case SerfMessageType.Leave:
        if (this.#handleLeaveIntent(msg.body)) this.#queueIntent(bytes.slice(), msg.body.Node);
        return;
      case SerfMessageType.Join:
        if (this.#handleJoinIntent(msg.body)) this.#queueIntent(bytes.slice(), msg.body.Node);
        return;
      case SerfMessageType.UserEvent:
        if (this.#handleUserEvent(msg.body)) this.#queue(this.#events, bytes.slice());
        return;
      case SerfMessageType.Query:
        if (this.#handleQuery(msg.body)) this.#queue(this.#queries, bytes.slice());
        return;
      case SerfMessageType.QueryResponse:
        this.#handleQueryResponse(msg.body);
        return;
      case SerfMessageType.Relay: {
        const host = ipFromBytes(msg.body.Header.DestAddr.IP);
        const port = msg.body.Header.DestAddr.Port;
        if (host === undefined || port <= 0 || port > 0xffff) {
          this.#logger.warn({ dest: msg.body.Header.DestName }, 'serf: relay with a bad destination');
          return;
        }
        this.#send({ host, port }, msg.body.Message);
        return;
      }
      default:
        this.#logger.warn({ type: msg.type }, 'serf: received message of unexpected type');
    }
  }

  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    const out = this.#intents.getBroadcasts(overhead, limit);
    let used = out.reduce((n, m) => n + overhead + m.length, 0);
    for (const q of [this.#queries, this.#events]) {
      const more = q.getBroadcasts(overhead, limit - used);
      for (const m of more) {
        used += overhead + m.length;
        out.push(m);
      }
    }
    return out;
  }

  localState(_join: boolean): Uint8Array {
    const statusLTimes = new Map<string, LamportTime>();
    const left: string[] = [];
    for (const r of this.#members.values()) {
      statusLTimes.set(r.name, r.statusLTime);
      if (r.status === 'left') left.push(r.name);
    }
    const pp: MessagePushPull = {
      LTime: this.clock.time(),
      StatusLTimes: statusLTimes,
      LeftMembers: left,
      EventLTime: this.eventClock.time(),
      Events: this.#eventBuffer.filter((s): s is EventSlot => s !== undefined),
      QueryLTime: this.queryClock.time(),
    };
    return encodeSerfMessage(SerfMessageType.PushPull, pp);
  }

  mergeRemoteState(bytes: Uint8Array, join: boolean): void {
    if (bytes.length === 0) {
      this.#logger.warn({}, 'serf: remote state is zero bytes');
      return;
    }
    if (bytes[0] !== SerfMessageType.PushPull) {
      this.#logger.warn({ type: bytes[0] }, 'serf: remote state has bad type prefix');
      return;
    }
    let pp: MessagePushPull;
    try {
      const m = decodeSerfMessage(bytes);
      if (m.type !== SerfMessageType.PushPull) return;
      pp = m.body;
    } catch (err) {
      if (!isWireError(err)) throw err;
      this.#logger.warn({ err: err.message }, 'serf: failed to decode remote state');
      return;
    }
    // Witness the clocks first, one less: no message with that time has been sent yet.
    if (pp.LTime > 0) this.clock.witness(pp.LTime - 1);
    if (pp.EventLTime > 0) this.eventClock.witness(pp.EventLTime - 1);
    if (pp.QueryLTime > 0) this.queryClock.witness(pp.QueryLTime - 1);
    // Left members first, one past their join time (the leave came after it).
    const left = new Set(pp.LeftMembers);
    for (const name of pp.LeftMembers) {
      this.#handleLeaveIntent({ LTime: (pp.StatusLTimes.get(name) ?? 0) + 1, Node: name, Prune: false });
    }
    for (const [name, ltime] of pp.StatusLTimes) {
      if (!left.has(name)) this.#handleJoinIntent({ LTime: ltime, Node: name });
    }
    if (join && this.#opts.ignoreEventsOnJoin && pp.EventLTime > this.#eventMinTime) this.#eventMinTime = pp.EventLTime;
    for (const slot of pp.Events) {
      if (slot === null) continue;
      for (const e of slot.Events) this.#handleUserEvent({ LTime: slot.LTime, Name: e.Name, Payload: e.Payload, CC: false });
    }
  }

  /** Empty: Serf ignores an empty ack payload (no Vivaldi coordinates from us). */
  ackPayload(): Uint8Array {
    return new Uint8Array(0);
  }

  // -------------------------------------------------------------------------------------------
  // Membership events (Serf's EventDelegate)

  memberEvent(ev: MemberEvent): void {
    switch (ev.type) {
      case 'join':
      case 'alive':
        this.#handleNodeJoin(ev.member);
        return;
      case 'update': {
        const r = this.#members.get(ev.member.name);
        if (r !== undefined) r.member = ev.member;
        return;
      }
      case 'failed':
      case 'left':
        this.#handleNodeLeave(ev.member);
        return;
      case 'reaped':
        if (ev.member.name !== this.nodeName) this.#members.delete(ev.member.name);
        return;
      default:
        return; // suspect and conflict change nothing in Serf's member table
    }
  }

  #handleNodeJoin(m: Member): void {
    let r = this.#members.get(m.name);
    let previous: SerfMemberStatus | undefined;
    if (r === undefined) {
      r = { name: m.name, status: 'alive', statusLTime: 0, member: m, leaveTime: 0 };
      // An intent that arrived before the node did: the newer one (only one is kept) applies.
      const intent = this.#recentIntents.get(m.name);
      if (intent?.type === 'join') r.statusLTime = intent.ltime;
      if (intent?.type === 'leave') {
        r.status = 'leaving';
        r.statusLTime = intent.ltime;
      }
      this.#members.set(m.name, r);
    } else {
      previous = r.status;
      r.status = 'alive';
      r.leaveTime = 0;
      r.member = m;
    }
    this.#emit(this.#statusListeners, { member: { ...r }, previous });
  }

  #handleNodeLeave(m: Member): void {
    const r = this.#members.get(m.name);
    if (r === undefined) return;
    const previous = r.status;
    if (r.status === 'leaving') r.status = 'left';
    else if (r.status === 'alive') r.status = 'failed';
    else return;
    r.leaveTime = this.#now();
    r.member = m;
    this.#emit(this.#statusListeners, { member: { ...r }, previous });
  }

  /** Forgets intents older than the intent timeout, failed and left members past their timeouts. */
  reap(now = this.#now()): void {
    for (const [node, intent] of this.#recentIntents) {
      if (now - intent.wallTime > this.#opts.recentIntentTimeoutMs) this.#recentIntents.delete(node);
    }
    for (const [name, r] of this.#members) {
      if (name === this.nodeName || r.leaveTime === 0) continue;
      const timeout = r.status === 'failed' ? this.#opts.reconnectTimeoutMs : r.status === 'left' ? this.#opts.tombstoneTimeoutMs : Infinity;
      if (now - r.leaveTime > timeout) this.#members.delete(name);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Intents

  /** Broadcasts our join intent (serf Join → broadcastJoin(clock.Time())). */
  join(): void {
    this.#broadcastJoin(this.clock.time());
  }

  /**
   * Starts a graceful leave (serf Leave): a leave intent at the current time, applied locally and
   * gossiped when another member is alive. The owner then leaves memberlist and calls markLeft().
   */
  leave(): void {
    if (this.#state !== 'alive') return;
    this.#state = 'leaving';
    const msg: MessageLeave = { LTime: this.clock.time(), Node: this.nodeName, Prune: false };
    this.clock.increment();
    this.#handleLeaveIntent(msg);
    const othersAlive = [...this.#members.values()].some((r) => r.name !== this.nodeName && r.status === 'alive');
    if (othersAlive) this.#queueIntent(encodeSerfMessage(SerfMessageType.Leave, msg), this.nodeName);
  }

  /**
   * Marks another node as having left (serf forceLeave, `serf force-leave`): a leave intent on its
   * behalf, applied here and gossiped. A failed node becomes left, so no member tries to reconnect
   * to it; with `prune` every member forgets it at once. An alive node refutes the intent. Resolves
   * once the intent has been gossiped its full count (at once when no other member is alive);
   * rejects after 5 s (serf BroadcastTimeout).
   */
  forceLeave(node: string, prune = false): Promise<void> {
    const msg: MessageLeave = { LTime: this.clock.time(), Node: node, Prune: prune };
    this.clock.increment();
    this.#handleLeaveIntent(msg);
    const othersAlive = [...this.#members.values()].some((r) => r.name !== this.nodeName && r.status === 'alive');
    if (!othersAlive) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out gossiping the removal of ${node}`)), BROADCAST_TIMEOUT_MS);
      timer.unref();
      this.#queueIntent(encodeSerfMessage(SerfMessageType.Leave, msg), node, (reason) => {
        clearTimeout(timer);
        if (reason === 'sent' || reason === 'invalidated') resolve();
        else reject(new Error(`the removal of ${node} was dropped from the gossip queue`));
      });
    });
  }

  markLeft(): void {
    this.#state = 'left';
  }

  #broadcastJoin(ltime: LamportTime): void {
    const msg: MessageJoin = { LTime: ltime, Node: this.nodeName };
    this.clock.witness(ltime);
    this.#handleJoinIntent(msg);
    this.#queueIntent(encodeSerfMessage(SerfMessageType.Join, msg), this.nodeName);
  }

  /** Intents are named after their node: a newer intent about a node replaces the queued one. */
  #queueIntent(msg: Uint8Array, node: string, finished?: (reason: FinishReason) => void): void {
    this.#intents.queueBroadcast({ message: msg, name: node, ...(finished === undefined ? {} : { finished }) });
    this.#intents.prune(MAX_QUEUE_DEPTH);
  }

  #queue(q: TransmitLimitedQueue, msg: Uint8Array): void {
    q.queueBroadcast({ message: msg });
    q.prune(MAX_QUEUE_DEPTH);
  }

  #upsertIntent(node: string, type: 'join' | 'leave', ltime: LamportTime): boolean {
    const now = this.#now();
    const cur = this.#recentIntents.get(node);
    if (cur !== undefined && !(ltime > cur.ltime)) return false;
    this.#recentIntents.set(node, { type, ltime, wallTime: now });
    return true;
  }

  /** serf handleNodeJoinIntent: returns whether to rebroadcast. */
  #handleJoinIntent(msg: MessageJoin): boolean {
    this.clock.witness(msg.LTime);
    const r = this.#members.get(msg.Node);
    if (r === undefined) {
      const fresh = this.#upsertIntent(msg.Node, 'join', msg.LTime);
      if (fresh) this.#emit(this.#intentListeners, { type: 'join', node: msg.Node, ltime: msg.LTime, prune: false, known: false });
      return fresh;
    }
    if (msg.LTime <= r.statusLTime) return false;
    r.statusLTime = msg.LTime;
    if (r.status === 'leaving') {
      r.status = 'alive';
      this.#emit(this.#statusListeners, { member: { ...r }, previous: 'leaving' });
    }
    this.#emit(this.#intentListeners, { type: 'join', node: msg.Node, ltime: msg.LTime, prune: false, known: true });
    return true;
  }

  /** serf handleNodeLeaveIntent: returns whether to rebroadcast. */
  #handleLeaveIntent(msg: MessageLeave): boolean {
    this.clock.witness(msg.LTime);
    const r = this.#members.get(msg.Node);
    if (r === undefined) {
      const fresh = this.#upsertIntent(msg.Node, 'leave', msg.LTime);
      if (fresh) this.#emit(this.#intentListeners, { type: 'leave', node: msg.Node, ltime: msg.LTime, prune: msg.Prune, known: false });
      return fresh;
    }
    if (msg.LTime <= r.statusLTime) return false;
    if (msg.Node === this.nodeName && this.#state === 'alive') {
      // Someone says we are leaving and we are not: refute with a newer join intent.
      this.#logger.debug({ ltime: msg.LTime }, 'serf: refuting an older leave intent');
      this.#broadcastJoin(this.clock.time());
      return false;
    }
    r.statusLTime = msg.LTime;
    const previous = r.status;
    switch (r.status) {
      case 'alive':
        r.status = 'leaving';
        break;
      case 'failed':
        r.status = 'left';
        break;
      default:
        break; // leaving or left: only the time moves
    }
    if (r.status !== previous) this.#emit(this.#statusListeners, { member: { ...r }, previous });
    this.#emit(this.#intentListeners, { type: 'leave', node: msg.Node, ltime: msg.LTime, prune: msg.Prune, known: true });
    if (msg.Prune && msg.Node !== this.nodeName) this.#members.delete(msg.Node); // serf waits for a leaving node first
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // User events

  /**
   * Broadcasts a user event (serf UserEvent). Throws RangeError when name + payload exceed the size
   * limit (512 by default, never above 9 KiB), before or after encoding.
   */
  userEvent(name: string, payload: Uint8Array, coalesce = true): void {
    const limit = this.#opts.userEventSizeLimit;
    const raw = Buffer.byteLength(name) + payload.length;
    if (raw > limit) throw new RangeError(`user event exceeds the limit of ${limit} bytes before encoding`);
    const msg: MessageUserEvent = { LTime: this.eventClock.time(), Name: name, Payload: payload, CC: coalesce };
    const encoded = encodeSerfMessage(SerfMessageType.UserEvent, msg);
    if (encoded.length > limit) throw new RangeError(`encoded user event exceeds the limit of ${limit} bytes`);
    this.eventClock.increment();
    this.#handleUserEvent(msg);
    this.#queue(this.#events, encoded);
  }

  /** serf handleUserEvent: returns whether to rebroadcast; emits new events. */
  #handleUserEvent(msg: MessageUserEvent): boolean {
    this.eventClock.witness(msg.LTime);
    if (msg.LTime < this.#eventMinTime) return false;
    const size = this.#eventBuffer.length;
    const cur = this.eventClock.time();
    if (cur > size && msg.LTime < cur - size) {
      this.#logger.warn({ name: msg.Name, ltime: msg.LTime, current: cur }, 'serf: received old event');
      return false;
    }
    const idx = msg.LTime % size;
    let slot = this.#eventBuffer[idx];
    if (slot !== undefined && slot.LTime === msg.LTime) {
      if (slot.Events.some((e) => e.Name === msg.Name && equalBytes(e.Payload, msg.Payload))) return false;
    } else {
      slot = { LTime: msg.LTime, Events: [] };
      this.#eventBuffer[idx] = slot;
    }
    slot.Events.push({ Name: msg.Name, Payload: msg.Payload });
    this.#emit(this.#userEventListeners, { ltime: msg.LTime, name: msg.Name, payload: msg.Payload ?? new Uint8Array(0), coalesce: msg.CC });
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  /** serf DefaultQueryTimeout: gossip interval × 16 × ceil(log10(N + 1)). */
  defaultQueryTimeoutMs(): number {
    return this.#opts.gossipIntervalMs * QUERY_TIMEOUT_MULT * Math.ceil(Math.log10(this.#numNodes() + 1));
  }

  /**
   * Starts a query (serf Query): answered here too, then gossiped to every member. Collect the
   * answers from the returned QueryResponse. Throws RangeError when the encoded query exceeds the
   * size limit or a parameter is out of range, Error when no local address is configured.
   */
  query(name: string, payload: Uint8Array, params: QueryParams = {}): QueryResponse {
    if (this.#localAddress === undefined) throw new Error('queries need the localAddress option (where answers are sent)');
    const relayFactor = params.relayFactor ?? 0;
    if (!Number.isInteger(relayFactor) || relayFactor < 0 || relayFactor > 5) throw new RangeError('relayFactor must be an integer from 0 to 5');
    const timeoutMs = params.timeoutMs ?? this.defaultQueryTimeoutMs();
    if (!(timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    const local = this.#localAddress();
    const filters: Uint8Array[] = [];
    if (params.filterNodes !== undefined && params.filterNodes.length > 0) filters.push(encodeNodeFilter(params.filterNodes));
    for (const [tag, expr] of Object.entries(params.filterTags ?? {})) filters.push(encodeTagFilter(tag, expr));
    const q: MessageQuery = {
      LTime: this.queryClock.time(),
      // serf: uint32(rand.Int31())
      ID: Math.floor(this.#random() * 0x80000000),
      Addr: ipToBytes(local.host) ?? null,
      Port: local.port,
      SourceNode: this.nodeName,
      Filters: filters.length === 0 ? null : filters,
      Flags: params.requestAck === true ? QueryFlag.Ack : 0,
      RelayFactor: relayFactor,
      Timeout: Math.round(timeoutMs * 1e6),
      Name: name,
      Payload: payload,
    };
    const raw = encodeSerfMessage(SerfMessageType.Query, q);
    if (raw.length > this.#opts.querySizeLimit) throw new RangeError(`query exceeds limit of ${this.#opts.querySizeLimit} bytes`);
    // One query per Lamport time: handling it below witnesses q.LTime, which moves the clock on.
    const resp = new QueryResponse(q.LTime, q.ID, this.#now() + timeoutMs, params.requestAck === true, timeoutMs, () => this.#pending.delete(q.LTime));
    this.#pending.set(q.LTime, resp);
    this.#handleQuery(q);
    this.#queue(this.#queries, raw);
    return resp;
  }

  /** Closes every query still collecting answers (on shutdown). */
  closeQueries(): void {
    for (const q of [...this.#pending.values()]) q.close();
  }

  /** serf handleQueryResponse: route an ack or answer to the query it belongs to. */
  #handleQueryResponse(r: MessageQueryResponse): void {
    const query = this.#pending.get(r.LTime);
    if (query === undefined) {
      this.#logger.debug({ from: r.From, ltime: r.LTime, id: r.ID }, 'serf: reply for non-running query');
      return;
    }
    if (query.id !== r.ID) {
      this.#logger.warn({ local: query.id, response: r.ID }, 'serf: query reply ID mismatch');
      return;
    }
    if ((r.Flags & QueryFlag.Ack) !== 0) query.addAck(r.From);
    else query.addResponse(r.From, r.Payload ?? EMPTY);
  }

  /** serf handleQuery: dedupe, filter, ack, then answer internal queries or hand the query out. */
  #handleQuery(q: MessageQuery): boolean {
    this.queryClock.witness(q.LTime);
    if (q.LTime < this.#queryMinTime) return false;
    const size = this.#queryBuffer.length;
    const cur = this.queryClock.time();
    if (cur > size && q.LTime < cur - size) {
      this.#logger.warn({ name: q.Name, ltime: q.LTime, current: cur }, 'serf: received old query');
      return false;
    }
    const idx = q.LTime % size;
    let slot = this.#queryBuffer[idx];
    if (slot !== undefined && slot.LTime === q.LTime) {
      if (slot.ids.includes(q.ID)) return false;
    } else {
      slot = { LTime: q.LTime, ids: [] };
      this.#queryBuffer[idx] = slot;
    }
    slot.ids.push(q.ID);

    const rebroadcast = (q.Flags & QueryFlag.NoBroadcast) === 0;
    if (!this.#shouldProcess(q.Filters)) return rebroadcast;

    const host = ipFromBytes(q.Addr);
    if (host === undefined) {
      this.#logger.warn({ name: q.Name, from: q.SourceNode }, 'serf: query without a usable reply address');
      return rebroadcast;
    }
    const replyTo: Address = { host, port: q.Port };
    if ((q.Flags & QueryFlag.Ack) !== 0) {
      const ack: MessageQueryResponse = { LTime: q.LTime, ID: q.ID, From: this.nodeName, Flags: QueryFlag.Ack, Payload: null };
      this.#send(replyTo, encodeSerfMessage(SerfMessageType.QueryResponse, ack));
      this.#relay(q, ack);
    }
    const responder = new QueryResponder(q, this.nodeName, this.#now() + q.Timeout / 1e6, this.#now, (raw, resp) => {
      if (raw.length > this.#opts.queryResponseSizeLimit) {
        throw new RangeError(`response exceeds limit of ${this.#opts.queryResponseSizeLimit} bytes`);
      }
      this.#send(replyTo, raw);
      this.#relay(q, resp);
    });
    if (q.Name.startsWith(INTERNAL_QUERY_PREFIX)) answerInternalQuery(q, responder, this.#internalEnv);
    else {
      this.#emit(this.#queryListeners, {
        ltime: q.LTime,
        id: q.ID,
        name: q.Name,
        payload: q.Payload ?? new Uint8Array(0),
        sourceNode: q.SourceNode,
        replyTo,
        deadline: responder.deadline,
        respond: (payload: Uint8Array) => responder.respond(payload),
      });
    }
    return rebroadcast;
  }

  /** serf shouldProcessQuery. */
  #shouldProcess(filters: readonly Uint8Array[] | null): boolean {
    for (const raw of filters ?? []) {
      let f;
      try {
        f = decodeQueryFilter(raw);
      } catch (err) {
        if (!isWireError(err)) throw err;
        this.#logger.warn({ err: err.message }, 'serf: bad query filter');
        return false;
      }
      if (f.type === FilterType.Node) {
        if (!f.nodes.includes(this.nodeName)) return false;
        continue;
      }
      if (f.expr.length > this.#opts.maxFilterExprLength) return false;
      let re: RegExp;
      try {
        // Go's RE2 is close enough to JS for tag filters; an invalid pattern refuses the query, as in Go.
        re = new RegExp(f.expr);
      } catch {
        this.#logger.warn({ expr: f.expr }, 'serf: failed to compile filter regex');
        return false;
      }
      if (!re.test(this.#tags.get(f.tag) ?? '')) return false;
    }
    return true;
  }

  /** serf relayResponse: a copy through `RelayFactor` other alive members that speak protocol ≥ 5. */
  #relay(q: MessageQuery, resp: MessageQueryResponse): void {
    const factor = q.RelayFactor;
    if (factor === 0 || this.#members.size < factor + 1) return;
    const raw = encodeSerfMessage(SerfMessageType.Relay, {
      Header: { DestAddr: { IP: q.Addr, Port: q.Port, Zone: '' }, DestName: q.SourceNode },
      Message: encodeSerfMessage(SerfMessageType.QueryResponse, resp),
    });
    if (raw.length > this.#opts.queryResponseSizeLimit) {
      this.#logger.warn({}, 'serf: relayed response exceeds the size limit');
      return;
    }
    const candidates = [...this.#members.values()].filter(
      (r) => r.name !== this.nodeName && r.status === 'alive' && r.member !== undefined && (r.member.vsn[1] ?? 0) >= 5,
    );
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j] as MemberRecord, candidates[i] as MemberRecord];
    }
    for (const r of candidates.slice(0, factor)) {
      if (r.member !== undefined) this.#send({ host: r.member.host, port: r.member.port }, raw);
    }
  }

  #send(to: Address, userMsg: Uint8Array): void {
    if (this.#sendTo === undefined) {
      this.#logger.warn({ to: `${to.host}:${to.port}` }, 'serf: no sendTo configured, dropping a direct message');
      return;
    }
    try {
      this.#sendTo(to, userMsg);
    } catch (err) {
      this.#logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'serf: sendTo threw');
    }
  }
}
