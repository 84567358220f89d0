/**
 * Packets peers send us (memberlist net.go ingestPacket, handleCommand, packetHandler).
 *
 * Everything received is untrusted: decoding failures are counted by reason and the packet (or the
 * bad part of a compound) is dropped; nothing a peer sends can throw out of here. Probe traffic
 * (ping, indirect ping, ack, nack) is handled at once, since its timing is what is measured. State
 * messages (alive, suspect, dead) and user messages go through the bounded handoff queue and are
 * applied on a later turn of the event loop, alive first, newest first.
 */
import { MessageType, decodePacket, isWireError, type PacketMessage } from '../wire/index.js';
import type { Address } from '../transport/transport.js';
import type { MembershipConfig } from './config.js';
import type { MembershipDelegate } from './delegate.js';
import type { Clock } from './clock.js';
import { HandoffQueue } from './handoff-queue.js';
import type { MembershipLogger } from './log.js';
import type { Prober } from './probe.js';
import type { MemberTable } from './state.js';
import type { Counters } from './stats.js';

export interface PacketHandlerEnv {
  readonly config: MembershipConfig;
  readonly clock: Clock;
  readonly counters: Counters;
  readonly log: MembershipLogger;
  readonly table: MemberTable;
  readonly prober: Prober;
  readonly delegate: MembershipDelegate;
  /** Port for alive messages that carry 0 (and for all under protocol 1). */
  readonly bindPort: number;
  isShutdown(): boolean;
}

interface Handoff {
  readonly message: PacketMessage;
  readonly from: Address;
}

/** Messages applied per turn of the event loop before yielding to I/O. */
const DRAIN_BATCH = 256;

export class PacketHandler {
  readonly queue: HandoffQueue<Handoff>;
  readonly #env: PacketHandlerEnv;
  #draining = false;

  constructor(env: PacketHandlerEnv) {
    this.#env = env;
    this.queue = new HandoffQueue<Handoff>(env.config.handoffQueueDepth);
  }

  /** The transport's packet callback. Never throws. */
  ingest(bytes: Uint8Array, from: Address): void {
    const env = this.#env;
    if (env.isShutdown()) {
      env.counters.drop('shut-down');
      return;
    }
    env.counters.packetsReceived += 1;
    env.counters.bytesReceived += bytes.length;
    try {
      const decoded = decodePacket(bytes, { keyring: env.config.keyring, verifyIncoming: env.config.gossipVerifyIncoming });
      for (const d of decoded.dropped) env.counters.drop(d.reason);
      if (decoded.truncated > 0) {
        env.counters.drop('compound-truncated', decoded.truncated);
        env.log.warn({ from: `${from.host}:${from.port}`, truncated: decoded.truncated }, 'compound request had truncated messages');
      }
      const at = env.clock.now();
      let queued = false;
      for (const m of decoded.messages) queued = this.#dispatch(m, from, at) || queued;
      if (queued) this.#scheduleDrain();
    } catch (err) {
      if (isWireError(err)) {
        env.counters.drop(err.reason);
        env.log.debug({ err, from: `${from.host}:${from.port}` }, 'dropped a packet');
      } else {
        env.counters.drop('handler-error');
        env.log.error({ err, from: `${from.host}:${from.port}` }, 'failed to handle a packet');
      }
    }
  }

  /** Handles probe traffic now; queues the rest. True when something was queued. */
  #dispatch(m: PacketMessage, from: Address, at: number): boolean {
    const env = this.#env;
    try {
      switch (m.type) {
        case MessageType.Ping:
          env.prober.handlePing(m.body, from);
          return false;
        case MessageType.IndirectPing:
          env.prober.handleIndirectPing(m.body, from);
          return false;
        case MessageType.AckResp:
          env.prober.handleAck(m.body, at);
          return false;
        case MessageType.NackResp:
          env.prober.handleNack(m.body);
          return false;
        case MessageType.Alive:
        case MessageType.Suspect:
        case MessageType.Dead:
        case MessageType.User:
          if (!this.queue.push({ message: m, from }, m.type === MessageType.Alive)) {
            env.log.warn({ type: m.type, from: `${from.host}:${from.port}` }, 'handler queue full, dropped its oldest message');
          }
          return true;
        default:
          return false;
      }
    } catch (err) {
      env.counters.drop('handler-error');
      env.log.error({ err, type: m.type }, 'failed to handle a message');
      return false;
    }
  }

  #scheduleDrain(): void {
    if (this.#draining) return;
    this.#draining = true;
    setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#draining = false;
    const env = this.#env;
    for (let i = 0; i < DRAIN_BATCH; i++) {
      if (env.isShutdown()) {
        this.queue.clear();
        return;
      }
      const h = this.queue.shift();
      if (h === undefined) return;
      this.#apply(h);
    }
    if (this.queue.length > 0) this.#scheduleDrain();
  }

  #apply(h: Handoff): void {
    const env = this.#env;
    const m = h.message;
    try {
      switch (m.type) {
        case MessageType.Alive: {
          const fixPort = env.config.protocolVersion < 2 || m.body.Port === 0;
          env.table.aliveNode(fixPort ? { ...m.body, Port: env.bindPort } : m.body);
          break;
        }
        case MessageType.Suspect:
          env.table.suspectNode(m.body, h.from);
          break;
        case MessageType.Dead:
          env.table.deadNode(m.body, undefined, h.from);
          break;
        case MessageType.User:
          if (m.body.length > 0) env.delegate.notifyMessage(m.body);
          break;
        default:
          break;
      }
    } catch (err) {
      env.counters.drop('handler-error');
      env.log.error({ err, type: m.type, from: `${h.from.host}:${h.from.port}` }, 'failed to apply a message');
    }
  }
}
