/**
 * SWIM failure detection (memberlist state.go probe, probeNode, Ping; net.go handlePing,
 * handleIndirectPing, handleAck, handleNack, sendPingAndWaitForAck).
 *
 * Each probe interval (stretched by the health score) the next node in the shuffled table is
 * pinged. No ack within probeTimeout → indirectChecks random live peers are asked to ping it for us
 * (asking for a nack from peers that speak protocol 4, so we can tell "target down" from "we are
 * cut off"), and a TCP ping is tried alongside (peers speaking 3+). No ack by the end of the interval
 * → the node is suspected, and Lifeguard's suspicion timer takes over (state.ts).
 */
import {
  MessageType,
  NodeState,
  encodeMessage,
  encodePingStream,
  makeCompoundMessage,
  type AckResp,
  type IndirectPingReq,
  type NackResp,
  type Ping,
} from '../wire/index.js';
import type { Address, Transport } from '../transport/transport.js';
import type { MembershipConfig } from './config.js';
import type { MembershipDelegate } from './delegate.js';
import type { Awareness } from './awareness.js';
import type { AckHandlers } from './ack-handlers.js';
import { TIMED_OUT, withTimeout, type Clock, type Timer } from './clock.js';
import type { MembershipLogger } from './log.js';
import type { PacketSender } from './packet-sender.js';
import { kRandomNodes, shuffleInPlace, type Random } from './selection.js';
import { isDeadOrLeft, toMember, type MemberTable, type NodeRecord } from './state.js';
import type { Counters } from './stats.js';
import { readFrame, type StreamCodec } from './stream-io.js';
import { bytesToIp } from './address.js';
import { MembershipError } from './errors.js';

export interface ProberEnv {
  readonly config: MembershipConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly awareness: Awareness;
  readonly counters: Counters;
  readonly log: MembershipLogger;
  readonly table: MemberTable;
  readonly sender: PacketSender;
  readonly acks: AckHandlers;
  readonly transport: Transport;
  readonly delegate: MembershipDelegate;
  readonly streams: StreamCodec;
  /** Our advertised IP bytes and port (the Source* fields of pings). */
  readonly advertiseAddr: Uint8Array;
  readonly advertisePort: number;
  isShutdown(): boolean;
}

/** Result of Membership.ping (for `caxton cluster ping`). */
export interface PingResult {
  readonly node: string;
  readonly address: Address;
  /** Round trip of the direct UDP ping, ms; undefined when no ack came within probeTimeout. */
  readonly direct: number | undefined;
  /** One entry per peer asked to ping the node for us. */
  readonly indirect: readonly IndirectPingResult[];
  /** Round trip of the TCP ping, ms; undefined when it failed or was not tried (disabled, or a peer below protocol 3). */
  readonly tcp: number | undefined;
}

export interface IndirectPingResult {
  /** The relay's name. */
  readonly via: string;
  /** Round trip through the relay, ms; undefined when no ack came back. */
  readonly rttMs: number | undefined;
  /** The relay reported that the node did not answer it (protocol 4+ relays only). */
  readonly nack: boolean;
}

interface AckInfo {
  readonly payload: Uint8Array | null;
  readonly at: number;
}

function replyAddress(addr: Uint8Array | null | undefined, port: number | undefined, from: Address): Address {
  if (addr !== null && addr !== undefined && addr.length > 0 && port !== undefined && port > 0) {
    const host = bytesToIp(addr);
    if (host !== undefined) return { host, port };
  }
  return from;
}

export class Prober {
  readonly #env: ProberEnv;
  #seq = 0;
  #probeIndex = 0;
  #running = false;
  #pendingTick = false;

  constructor(env: ProberEnv) {
    this.#env = env;
  }

  nextSeqNo(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  /**
   * The probe ticker. A probe may outlast the base interval (awareness stretches it); like Go's
   * ticker, one missed tick is kept and runs as soon as the probe ends, the rest are skipped.
   */
  tick(): void {
    if (this.#running) {
      this.#pendingTick = true;
      return;
    }
    this.#running = true;
    void this.probe()
      .catch((err: unknown) => this.#env.log.error({ err }, 'probe failed'))
      .finally(() => {
        this.#running = false;
        if (this.#pendingTick && !this.#env.isShutdown()) {
          this.#pendingTick = false;
          this.tick();
        }
      });
  }

  /** One round: the next probeable node in table order, reshuffling (and reaping) on wrap-around. */
  async probe(): Promise<void> {
    const { table, config } = this.#env;
    let numCheck = 0;
    for (;;) {
      // Do not wrap around forever when nobody is probeable.
      if (numCheck >= table.nodes.length) return;
      if (this.#probeIndex >= table.nodes.length) {
        table.resetNodes();
        this.#probeIndex = 0;
        numCheck++;
        continue;
      }
      const node = table.nodes[this.#probeIndex];
      this.#probeIndex++;
      if (node === undefined || node.name === config.name || isDeadOrLeft(node)) {
        numCheck++;
        continue;
      }
      // Probe a snapshot: the table entry may change while we wait.
      await this.probeNode({ ...node });
      return;
    }
  }

  /** Probes one node and suspects it if nothing at all comes back. */
  async probeNode(node: NodeRecord): Promise<void> {
    const env = this.#env;
    const cfg = env.config;
    // Health stretches the whole probe, so a struggling node slows down instead of accusing others.
    const probeInterval = env.awareness.scaleTimeout(cfg.probeIntervalMs);
    if (probeInterval > cfg.probeIntervalMs) env.counters.probesDegraded += 1;

    const ping: Ping = {
      SeqNo: this.nextSeqNo(),
      Node: node.name,
      SourceAddr: env.advertiseAddr,
      SourcePort: env.advertisePort,
      SourceNode: cfg.name,
    };
    let nacks = 0;
    let settle: (v: AckInfo | undefined) => void = () => undefined;
    const acked = new Promise<AckInfo | undefined>((resolve) => {
      settle = resolve;
    });
    env.acks.set(ping.SeqNo, probeInterval, {
      onAck: (payload, at) => settle({ payload, at }),
      onNack: () => {
        nacks += 1;
      },
      onTimeout: () => settle(undefined),
    });

    // Taken before the send: taking it after gave negative RTTs in Go.
    const sent = env.clock.now();
    const to: Address = { host: node.host, port: node.port };
    env.counters.probesSent += 1;
    if (node.state === NodeState.Alive) {
      env.sender.sendMsg(to, encodeMessage(MessageType.Ping, ping), node);
    } else {
      // A suspect gets the accusation along with the ping, so it can refute at once.
      const suspect = encodeMessage(MessageType.Suspect, { Incarnation: node.incarnation, Node: node.name, From: cfg.name });
      env.sender.sendRaw(to, makeCompoundMessage([encodeMessage(MessageType.Ping, ping), suspect]), node);
    }

    // From here on a return means the probe succeeded, which improves our health.
    let awarenessDelta = -1;
    try {
      // probeTimeout is not scaled by health: waiting longer does not get UDP through; the longer
      // interval gives the indirect and TCP probes more time instead.
      const first = await withTimeout(env.clock, acked, cfg.probeTimeoutMs);
      if (first !== TIMED_OUT && first !== undefined) {
        const rtt = Math.max(0, first.at - sent);
        env.counters.probesAcked += 1;
        env.counters.rtt(rtt);
        const current = env.table.get(node.name);
        if (current !== undefined && env.delegate.notifyPingComplete !== undefined) {
          try {
            env.delegate.notifyPingComplete(toMember(current), rtt, first.payload ?? new Uint8Array(0));
          } catch (err) {
            env.log.error({ err }, 'delegate notifyPingComplete failed');
          }
        }
        return;
      }
      if (env.isShutdown()) {
        awarenessDelta = 0;
        return;
      }
      env.log.debug({ node: node.name }, 'failed ping (timeout reached)');

      // Ask some live peers to try for us.
      const self = cfg.name;
      const peers = kRandomNodes(
        cfg.indirectChecks,
        env.table.nodes,
        (n) => n.name === self || n.name === node.name || n.state !== NodeState.Alive,
        env.random,
      );
      let expectedNacks = 0;
      for (const peer of peers) {
        // Only peers that speak protocol 4 send nacks.
        const nack = peer.vsn.pmax >= 4;
        if (nack) expectedNacks++;
        const ind: IndirectPingReq = {
          SeqNo: ping.SeqNo,
          Target: node.addr,
          Port: node.port,
          Node: node.name,
          Nack: nack,
          SourceAddr: env.advertiseAddr,
          SourcePort: env.advertisePort,
          SourceNode: cfg.name,
        };
        env.sender.sendMsg({ host: peer.host, port: peer.port }, encodeMessage(MessageType.IndirectPing, ind), peer);
      }

      // Also try TCP: a node cut off from UDP but reachable over TCP would otherwise flap (and could
      // spread stale state through push/pull). Tried for any peer that understands protocol 3.
      const fallback = !cfg.disableTcpPings && node.vsn.pmax >= 3 ? this.tcpPing(to, ping, sent + probeInterval) : Promise.resolve(undefined);

      // Wait for any ack until the (scaled) interval ends; only then look at the TCP result, so
      // we can warn when TCP was the only way through.
      const second = await acked;
      if (second !== undefined) {
        env.counters.probesIndirectAcked += 1;
        return;
      }
      if ((await fallback) !== undefined) {
        env.counters.probesTcpAcked += 1;
        env.log.warn({ node: node.name }, 'was able to connect over TCP but other probes failed, network may be misconfigured');
        return;
      }
      if (env.isShutdown()) {
        awarenessDelta = 0;
        return;
      }

      // With peers that send nacks, a missing nack means the problem may be ours: count each one.
      // Without them, any failed probe counts once.
      awarenessDelta = expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1;
      env.counters.probesFailed += 1;
      env.log.info({ node: node.name }, 'suspect node has failed, no acks received');
      env.table.suspectNode({ Incarnation: node.incarnation, Node: node.name, From: cfg.name });
    } finally {
      env.awareness.applyDelta(awarenessDelta);
    }
  }

  /** The TCP fallback: ping over a stream and wait for the ack until `deadline`. RTT in ms, or undefined. */
  async tcpPing(to: Address, ping: Ping, deadline: number): Promise<number | undefined> {
    const env = this.#env;
    const remaining = deadline - env.clock.now();
    if (remaining <= 0) return undefined;
    const started = env.clock.now();
    let stream;
    try {
      stream = await env.transport.dial(to, remaining);
    } catch {
      return undefined;
    }
    try {
      stream.setDeadline(Math.max(1, deadline - env.clock.now()));
      await stream.write(encodePingStream(ping, env.streams.encode));
      const frame = await readFrame(stream, env.streams.read);
      if (frame.message.type !== MessageType.AckResp) {
        env.log.warn({ to: `${to.host}:${to.port}`, type: frame.message.type }, 'unexpected message in reply to a TCP ping');
        return undefined;
      }
      if (frame.message.body.SeqNo !== ping.SeqNo) {
        env.log.warn({ got: frame.message.body.SeqNo, want: ping.SeqNo }, 'sequence number from TCP ack does not match ping');
        return undefined;
      }
      return Math.max(0, env.clock.now() - started);
    } catch (err) {
      env.log.debug({ err, to: `${to.host}:${to.port}` }, 'failed fallback ping');
      return undefined;
    } finally {
      stream.close();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Incoming

  /** A ping: ack it (with the delegate's payload) to where the sender asked. */
  handlePing(p: Ping, from: Address): void {
    const env = this.#env;
    // A ping meant for a previous owner of our address: do not ack it.
    if (p.Node !== '' && p.Node !== env.config.name) {
      env.counters.drop('wrong-node');
      env.log.warn({ node: p.Node, from: `${from.host}:${from.port}` }, 'got ping for unexpected node');
      return;
    }
    let payload: Uint8Array | null = null;
    try {
      const p2 = env.delegate.ackPayload();
      payload = p2.length > 0 ? p2 : null;
    } catch (err) {
      env.log.error({ err }, 'delegate ackPayload failed');
    }
    const ack: AckResp = { SeqNo: p.SeqNo, Payload: payload };
    env.sender.sendMsg(replyAddress(p.SourceAddr, p.SourcePort, from), encodeMessage(MessageType.AckResp, ack));
  }

  /** Ping `Node` for someone else, forward the ack, or a nack if asked and nothing came in time. */
  handleIndirectPing(ind: IndirectPingReq, from: Address): void {
    const env = this.#env;
    const cfg = env.config;
    const targetHost = bytesToIp(ind.Target);
    if (targetHost === undefined) {
      env.counters.drop('bad-address');
      return;
    }
    // Protocol 1 had no port; a zero port means "the same as ours".
    const port = cfg.protocolVersion < 2 || ind.Port === 0 ? env.advertisePort : ind.Port;
    const localSeq = this.nextSeqNo();
    const ping: Ping = { SeqNo: localSeq, Node: ind.Node, SourceAddr: env.advertiseAddr, SourcePort: env.advertisePort, SourceNode: cfg.name };
    const requester = replyAddress(ind.SourceAddr, ind.SourcePort, from);

    let nackTimer: Timer | undefined;
    env.acks.set(localSeq, cfg.probeTimeoutMs, {
      onAck: () => {
        nackTimer?.cancel();
        env.sender.sendMsg(requester, encodeMessage(MessageType.AckResp, { SeqNo: ind.SeqNo, Payload: null }));
      },
    });
    env.sender.sendMsg({ host: targetHost, port }, encodeMessage(MessageType.Ping, ping), env.table.get(ind.Node));
    if (ind.Nack) {
      nackTimer = env.clock.setTimer(cfg.probeTimeoutMs, () => {
        const nack: NackResp = { SeqNo: ind.SeqNo };
        env.sender.sendMsg(requester, encodeMessage(MessageType.NackResp, nack));
      });
    }
  }

  handleAck(ack: AckResp, at: number): void {
    this.#env.acks.ack(ack.SeqNo, ack.Payload, at);
  }

  handleNack(nack: NackResp): void {
    this.#env.acks.nack(nack.SeqNo);
  }

  // ------------------------------------------------------------------------------------------
  // On demand

  /**
   * Pings a node every way at once, for diagnostics: directly (waiting probeTimeout), through up to
   * indirectChecks live peers (each with its own sequence number, so answers can be told apart;
   * waiting probeInterval), and over TCP. Never changes the node's state.
   */
  async ping(name: string): Promise<PingResult> {
    const env = this.#env;
    const cfg = env.config;
    const node = env.table.get(name);
    if (node === undefined) throw new MembershipError('unknown-node', `no member named ${name}`);
    const to: Address = { host: node.host, port: node.port };
    const makePing = (seq: number): Ping => ({
      SeqNo: seq,
      Node: name,
      SourceAddr: env.advertiseAddr,
      SourcePort: env.advertisePort,
      SourceNode: cfg.name,
    });

    const seq = this.nextSeqNo();
    const sent = env.clock.now();
    const direct = new Promise<number | undefined>((resolve) => {
      env.acks.set(seq, cfg.probeTimeoutMs, {
        onAck: (_p, at) => resolve(Math.max(0, at - sent)),
        onTimeout: () => resolve(undefined),
      });
    });
    env.sender.sendMsg(to, encodeMessage(MessageType.Ping, makePing(seq)), node);

    // All eligible relays up to indirectChecks (not Go's kRandomNodes, which may return fewer).
    const self = cfg.name;
    const eligible = env.table.nodes.filter((n) => n.name !== self && n.name !== name && n.state === NodeState.Alive);
    shuffleInPlace(eligible, env.random);
    const relays = eligible.slice(0, cfg.indirectChecks);
    const indirect = relays.map((relay) => {
      const s = this.nextSeqNo();
      const nack = relay.vsn.pmax >= 4;
      const started = env.clock.now();
      const result = new Promise<IndirectPingResult>((resolve) => {
        env.acks.set(s, cfg.probeIntervalMs, {
          onAck: (_p, at) => resolve({ via: relay.name, rttMs: Math.max(0, at - started), nack: false }),
          onNack: () => resolve({ via: relay.name, rttMs: undefined, nack: true }),
          onTimeout: () => resolve({ via: relay.name, rttMs: undefined, nack: false }),
        });
      });
      const ind: IndirectPingReq = {
        SeqNo: s,
        Target: node.addr,
        Port: node.port,
        Node: name,
        Nack: nack,
        SourceAddr: env.advertiseAddr,
        SourcePort: env.advertisePort,
        SourceNode: self,
      };
      env.sender.sendMsg({ host: relay.host, port: relay.port }, encodeMessage(MessageType.IndirectPing, ind), relay);
      return result;
    });

    const tcp = !cfg.disableTcpPings && node.vsn.pmax >= 3 ? this.tcpPing(to, makePing(this.nextSeqNo()), env.clock.now() + cfg.probeIntervalMs) : Promise.resolve(undefined);
    const [d, ind, t] = await Promise.all([direct, Promise.all(indirect), tcp]);
    return { node: name, address: to, direct: d, indirect: ind, tcp: t };
  }
}
