/**
 * Membership: SWIM with the Lifeguard extensions, wire-compatible with hashicorp/memberlist v0.2.2
 * (what Debian's serf 0.9.4 runs). This file wires the parts together and holds the lifecycle
 * (memberlist.go Create, Join, Leave, UpdateNode, Shutdown; state.go schedule):
 *
 * - state.ts      the member table: aliveNode / suspectNode / deadNode / refute / mergeState
 * - probe.ts      failure detection: ping → indirect pings + TCP ping → suspect
 * - gossip.ts     broadcasting state changes to a few random peers every gossip interval
 * - push-pull.ts  full state exchange: join, and periodic anti-entropy
 * - reconnect.ts  retrying failed members, so healed partitions merge back
 * - packet-handler.ts / stream-handler.ts   everything peers send us
 *
 * Timers run through a Clock; state changes are synchronous, so there are no locks. Events go to
 * onEvent listeners synchronously, after the table is consistent; a listener that throws is logged
 * and the others still run.
 */
import { MessageType, encodeMessage, encodeUserMsgStream, parseVsn, type Alive } from '../wire/index.js';
import type { Address, Transport } from '../transport/transport.js';
import type { Member, MemberEvent, MembershipDelegate } from './delegate.js';
import { AckHandlers } from './ack-handlers.js';
import { ipToBytes } from './address.js';
import { Awareness } from './awareness.js';
import { Broadcasts } from './broadcasts.js';
import { TIMED_OUT, systemClock, withTimeout, type Clock, type Timer } from './clock.js';
import { META_LIMIT, buildVsn, validateConfig, type MembershipConfig } from './config.js';
import { MembershipError } from './errors.js';
import { Gossiper } from './gossip.js';
import { silentLogger, type MembershipLogger } from './log.js';
import { PacketHandler } from './packet-handler.js';
import { PacketSender } from './packet-sender.js';
import { Prober, type PingResult } from './probe.js';
import { PushPullSync } from './push-pull.js';
import { Reconnector } from './reconnect.js';
import type { Random } from './selection.js';
import { MemberTable, isDeadOrLeft, toMember } from './state.js';
import { Counters, snapshot, type MembershipStats } from './stats.js';
import { StreamHandler } from './stream-handler.js';
import { streamCodec } from './stream-io.js';
import { pushPullScale } from './timing.js';

export interface MembershipOptions {
  /** Where to log (a pino child logger fits). @default silent */
  readonly logger?: MembershipLogger;
  /** Time source for every timer. @default systemClock */
  readonly clock?: Clock;
  /** Random source in [0, 1) for shuffles, peer choice and staggering. @default Math.random */
  readonly random?: Random;
}

/** Returned by onEvent; dispose() unsubscribes. */
export interface Subscription {
  dispose(): void;
}

/** Events emitted before the first onEvent subscription are kept (up to this many) and replayed to it. */
const EARLY_EVENT_LIMIT = 1024;

export class Membership {
  readonly config: MembershipConfig;
  readonly #transport: Transport;
  readonly #delegate: MembershipDelegate;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #log: MembershipLogger;
  readonly #counters = new Counters();
  readonly #awareness: Awareness;
  readonly #table: MemberTable;
  readonly #broadcasts: Broadcasts;
  readonly #acks: AckHandlers;
  readonly #sender: PacketSender;
  readonly #prober: Prober;
  readonly #gossiper: Gossiper;
  readonly #pushPull: PushPullSync;
  readonly #packets: PacketHandler;
  readonly #streams: StreamHandler;
  readonly #reconnector: Reconnector;
  readonly #advertiseAddr: Uint8Array;
  readonly #advertisePort: number;

  readonly #listeners = new Set<(ev: MemberEvent) => void>();
  #early: MemberEvent[] | undefined = [];
  readonly #tickers = new Map<string, Timer>();
  #left = false;
  #shutdown = false;

  private constructor(config: MembershipConfig, transport: Transport, delegate: MembershipDelegate, options: MembershipOptions) {
    validateConfig(config);
    this.config = config;
    this.#transport = transport;
    this.#delegate = delegate;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#log = options.logger ?? silentLogger;

    const advertise = transport.advertise;
    const addr = ipToBytes(advertise.host);
    if (addr === undefined) {
      throw new MembershipError('advertise-address', `the advertise address must be an IP literal, not ${advertise.host}`);
    }
    this.#advertiseAddr = addr;
    this.#advertisePort = advertise.port;

    const clock = this.#clock;
    const random = this.#random;
    const log = this.#log;
    const counters = this.#counters;
    const isShutdown = (): boolean => this.#shutdown;

    this.#awareness = new Awareness(config.awarenessMaxMultiplier, (score) => log.debug({ score }, 'health score changed'));
    this.#acks = new AckHandlers(clock);
    // The table and the broadcast queue need each other's size / queueing; wire them by closure.
    let table: MemberTable | undefined;
    this.#broadcasts = new Broadcasts({
      retransmitMult: config.retransmitMult,
      numNodes: () => table?.estNumNodes() ?? 1,
      delegate,
      clock,
      counters,
      log,
    });
    table = new MemberTable({
      config,
      clock,
      random,
      awareness: this.#awareness,
      counters,
      log,
      broadcast: (node, message, notify) => this.#broadcasts.queueBroadcast(node, message, notify),
      emit: (ev) => this.#emit(ev),
      hasLeft: () => this.#left,
      sendTo: (node, message) => this.#sender.sendRaw({ host: node.host, port: node.port }, message, node),
    });
    this.#table = table;
    const streams = streamCodec(config);
    this.#sender = new PacketSender({ config, transport, table, broadcasts: this.#broadcasts, counters, log, isShutdown });
    this.#prober = new Prober({
      config,
      clock,
      random,
      awareness: this.#awareness,
      counters,
      log,
      table,
      sender: this.#sender,
      acks: this.#acks,
      transport,
      delegate,
      streams,
      advertiseAddr: addr,
      advertisePort: advertise.port,
      isShutdown,
    });
    this.#gossiper = new Gossiper({ config, clock, random, counters, table, sender: this.#sender, broadcasts: this.#broadcasts });
    this.#pushPull = new PushPullSync({ config, random, counters, log, table, transport, delegate, streams, bindPort: advertise.port, isShutdown });
    this.#packets = new PacketHandler({ config, clock, counters, log, table, prober: this.#prober, delegate, bindPort: advertise.port, isShutdown });
    this.#streams = new StreamHandler({ config, counters, log, delegate, pushPull: this.#pushPull, streams, isShutdown });
    this.#reconnector = new Reconnector({
      config,
      clock,
      random,
      counters,
      log,
      numAlive: () => this.numMembers(),
      join: (addresses) => this.join(addresses),
      active: () => !this.#shutdown && !this.#left,
    });
  }

  /**
   * Starts membership on a bound transport: announces this node alive (incarnation 1) and starts
   * probing, gossip, push/pull and reconnect. Join a cluster with join(). Throws MembershipError for
   * a bad config, a non-IP advertise address or oversized meta.
   */
  static async create(config: MembershipConfig, transport: Transport, delegate: MembershipDelegate, options: MembershipOptions = {}): Promise<Membership> {
    const m = new Membership(config, transport, delegate, options);
    transport.onPacket((bytes, from) => m.#packets.ingest(bytes, from));
    transport.onStream((stream) => {
      void m.#streams.handle(stream);
    });
    m.#setAlive();
    m.#schedule();
    return Promise.resolve(m);
  }

  // ------------------------------------------------------------------------------------------
  // Cluster operations

  /**
   * Joins through each address (a push/pull with Join = true, all at once). Resolves with how many
   * answered; 0 means none did (the reasons are logged).
   */
  async join(addresses: readonly Address[]): Promise<number> {
    this.#assertRunning();
    const results = await Promise.all(
      addresses.map(async (a) => {
        try {
          await this.#pushPull.pushPullNode(a, true);
          return 1;
        } catch (err) {
          this.#log.debug({ err, addr: `${a.host}:${a.port}` }, 'failed to join');
          return 0;
        }
      }),
    );
    return results.reduce<number>((s, r) => s + r, 0);
  }

  /**
   * Leaves gracefully: gossips our death with From = ourselves, which peers record as `left`, and
   * waits until that message has been sent its full count (when anyone is there to hear it). Keep
   * running until it resolves, then shutdown(). timeoutMs <= 0 waits without limit. Rejects with
   * MembershipError('broadcast-timeout') if it had not gone out in time. Calling it again is a no-op.
   */
  async leave(timeoutMs: number): Promise<void> {
    this.#assertRunning();
    if (this.#left) return;
    this.#left = true;
    const me = this.#table.local();
    if (me === undefined) return;
    let notify: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => {
      notify = resolve;
    });
    this.#table.deadNode({ Incarnation: me.incarnation, Node: me.name, From: me.name }, notify);
    if (!this.#table.anyAlive()) return;
    await this.#waitBroadcast(sent, timeoutMs, 'leave');
  }

  /**
   * Re-reads our meta from the delegate and announces it with a higher incarnation (memberlist
   * UpdateNode), waiting (up to timeoutMs; <= 0 without limit) until it has been gossiped.
   */
  async updateMeta(timeoutMs = 0): Promise<void> {
    this.#assertRunning();
    if (this.#left) throw new MembershipError('left', 'cannot update meta after leave');
    const meta = this.#nodeMeta();
    const me = this.#table.local();
    if (me === undefined) return;
    let notify: () => void = () => undefined;
    const sent = new Promise<void>((resolve) => {
      notify = resolve;
    });
    const a: Alive = {
      Incarnation: this.#table.nextIncarnation(),
      Node: me.name,
      Addr: me.addr,
      Port: me.port,
      Meta: meta,
      Vsn: buildVsn(this.config),
    };
    this.#table.aliveNode(a, notify, true);
    if (!this.#table.anyAlive()) return;
    await this.#waitBroadcast(sent, timeoutMs, 'meta update');
  }

  /** Pings a member directly, through peers and over TCP, for diagnostics (`caxton cluster ping`). */
  ping(name: string): Promise<PingResult> {
    this.#assertRunning();
    return this.#prober.ping(name);
  }

  /** A user message in one packet, unreliable (memberlist SendToAddress / SendBestEffort). */
  sendBestEffort(to: Address, payload: Uint8Array): void {
    this.#assertRunning();
    this.#sender.sendRaw(to, encodeMessage(MessageType.User, payload));
  }

  /** A user message over a stream (memberlist SendReliable). Rejects when it could not be delivered. */
  async sendReliable(to: Address, payload: Uint8Array): Promise<void> {
    this.#assertRunning();
    const codec = streamCodec(this.config);
    const stream = await this.#transport.dial(to, this.config.tcpTimeoutMs);
    try {
      stream.setDeadline(this.config.tcpTimeoutMs);
      await stream.write(encodeUserMsgStream(payload, codec.encode));
    } finally {
      stream.close();
    }
  }

  /**
   * Stops everything: timers, probes, handlers, and the transport. Does not leave (peers will see
   * us fail); call leave() first for a graceful exit. Idempotent.
   */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return;
    this.#shutdown = true;
    for (const t of this.#tickers.values()) t.cancel();
    this.#tickers.clear();
    this.#table.clearTimers();
    this.#acks.clear();
    this.#packets.queue.clear();
    try {
      await this.#transport.close();
    } catch (err) {
      this.#log.error({ err }, 'failed to close the transport');
    }
  }

  // ------------------------------------------------------------------------------------------
  // Views

  /** Every member in our table, failed and left ones included until they are reaped. */
  members(): Member[] {
    return this.#table.nodes.map(toMember);
  }

  /** One member by name. */
  member(name: string): Member | undefined {
    const n = this.#table.get(name);
    return n === undefined ? undefined : toMember(n);
  }

  localMember(): Member {
    const me = this.#table.local();
    if (me === undefined) throw new MembershipError('shut-down', 'the local node is not in the table');
    return toMember(me);
  }

  /** Members alive or suspect, us included (memberlist NumMembers). */
  numMembers(): number {
    let n = 0;
    for (const node of this.#table.nodes) if (!isDeadOrLeft(node)) n++;
    return n;
  }

  /** Stops trying to reconnect to a failed member (it was removed for good). */
  stopReconnecting(name: string): void {
    this.#reconnector.forget(name);
  }

  /** Lifeguard health score: 0 is healthy, up to awarenessMaxMultiplier − 1. */
  healthScore(): number {
    return this.#awareness.score;
  }

  /** The protocol version we speak. */
  get protocolVersion(): number {
    return this.config.protocolVersion;
  }

  get hasLeft(): boolean {
    return this.#left;
  }

  get isShutdown(): boolean {
    return this.#shutdown;
  }

  /** Counters and gauges for metrics. */
  stats(): MembershipStats {
    return snapshot(this.#counters, {
      members: this.#table.counts(),
      healthScore: this.#awareness.score,
      incarnation: this.#table.incarnation,
      handoffQueued: this.#packets.queue.length,
      handoffDropped: this.#packets.queue.dropped,
      broadcastsPending: this.#broadcasts.queue.numQueued(),
      reconnectPending: this.#reconnector.pending,
    });
  }

  /**
   * Subscribes to member events. The first subscriber also receives the events that happened
   * before it subscribed (at least our own `join` from create()).
   */
  onEvent(fn: (ev: MemberEvent) => void): Subscription {
    this.#listeners.add(fn);
    const early = this.#early;
    this.#early = undefined;
    if (early !== undefined) for (const ev of early) this.#call(fn, ev);
    return { dispose: () => this.#listeners.delete(fn) };
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  #emit(ev: MemberEvent): void {
    this.#reconnector.observe(ev);
    if (this.#early !== undefined) {
      if (this.#early.length < EARLY_EVENT_LIMIT) this.#early.push(ev);
      return;
    }
    for (const fn of this.#listeners) this.#call(fn, ev);
  }

  #call(fn: (ev: MemberEvent) => void, ev: MemberEvent): void {
    try {
      fn(ev);
    } catch (err) {
      this.#log.error({ err, event: ev.type }, 'member event listener failed');
    }
  }

  #nodeMeta(): Uint8Array {
    const meta = this.#delegate.nodeMeta(META_LIMIT);
    if (meta.length > META_LIMIT) {
      throw new MembershipError('meta-too-large', `node meta is ${meta.length} bytes, the limit is ${META_LIMIT}`);
    }
    return meta;
  }

  /** memberlist setAlive: announce ourselves at the next incarnation. */
  #setAlive(): void {
    const a: Alive = {
      Incarnation: this.#table.nextIncarnation(),
      Node: this.config.name,
      Addr: this.#advertiseAddr,
      Port: this.#advertisePort,
      Meta: this.#nodeMeta(),
      Vsn: buildVsn(this.config),
    };
    if (parseVsn(a.Vsn) === undefined) throw new MembershipError('invalid-config', 'bad version vector');
    this.#table.aliveNode(a, undefined, true);
  }

  async #waitBroadcast(sent: Promise<void>, timeoutMs: number, what: string): Promise<void> {
    if (timeoutMs <= 0) {
      await sent;
      return;
    }
    const r = await withTimeout(this.#clock, sent, timeoutMs);
    if (r === TIMED_OUT) throw new MembershipError('broadcast-timeout', `timeout waiting for ${what} broadcast`);
  }

  #assertRunning(): void {
    if (this.#shutdown) throw new MembershipError('shut-down', 'membership has been shut down');
  }

  /** memberlist schedule: probe, push/pull (scaled with size), gossip; plus Serf-style reconnect. */
  #schedule(): void {
    const cfg = this.config;
    if (cfg.probeIntervalMs > 0) this.#every('probe', () => cfg.probeIntervalMs, () => this.#prober.tick());
    if (cfg.pushPullIntervalMs > 0) {
      this.#every('push-pull', () => pushPullScale(cfg.pushPullIntervalMs, this.#table.estNumNodes()), () => this.#pushPull.pushPull());
    }
    if (cfg.gossipIntervalMs > 0 && cfg.gossipNodes > 0) this.#every('gossip', () => cfg.gossipIntervalMs, () => this.#gossiper.gossip());
    if (cfg.reconnectIntervalMs > 0) this.#every('reconnect', () => cfg.reconnectIntervalMs, () => this.#reconnector.tick());
  }

  /**
   * Runs fn every interval() ms after a random stagger (so nodes started together do not act in
   * lockstep). An async fn finishes before the next interval starts, as Go's push/pull loop does.
   */
  #every(name: string, interval: () => number, fn: () => void | Promise<void>): void {
    const run = (): void => {
      if (this.#shutdown) return;
      let result: void | Promise<void> = undefined;
      try {
        result = fn();
      } catch (err) {
        this.#log.error({ err, task: name }, 'periodic task failed');
      }
      const next = (): void => {
        if (this.#shutdown) return;
        this.#tickers.set(name, this.#clock.setTimer(interval(), run));
      };
      if (result instanceof Promise) {
        result.catch((err: unknown) => this.#log.error({ err, task: name }, 'periodic task failed')).finally(next);
      } else {
        next();
      }
    };
    this.#tickers.set(name, this.#clock.setTimer(this.#random() * interval(), run));
  }
}
