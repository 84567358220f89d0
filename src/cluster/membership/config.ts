/**
 * Membership configuration: memberlist v0.2.2's Config (config.go), in milliseconds, plus Serf's
 * reconnect settings (serf/config.go), which Caxton's membership runs itself.
 *
 * Profiles are built like memberlist's: lanConfig() is the base (DefaultLANConfig), and wanConfig()
 * and localConfig() start from it and override only what differs. Adjust with a spread:
 * `{ ...localConfig('n1'), probeIntervalMs: 500 }`, then Membership.create validates the result.
 *
 * Failure detection takes about probeIntervalMs + probeTimeoutMs + the suspicion timeout, where the
 * suspicion timeout starts at suspicionMaxTimeoutMult × min and shrinks to
 * min = suspicionMult × max(1, log10(N)) × probeIntervalMs as peers confirm (timing.ts, suspicion.ts).
 * LAN in a small cluster: min 4 s, max 24 s; local: min 3 s.
 */
import {
  META_MAX_SIZE,
  PROTOCOL_VERSION_DEFAULT,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  UDP_BUFFER_SIZE,
  makeVsn,
  type Keyring,
  type Versions,
} from '../wire/index.js';
import { MembershipError } from './errors.js';

export interface MembershipConfig {
  /** This node's name; unique in the cluster. A second node claiming it from another address is refused (a `conflict` event). */
  readonly name: string;

  /**
   * The memberlist protocol version we speak. We understand 1..5 (PROTOCOL_VERSION_MIN..MAX) and
   * advertise that range in Vsn. 2 is what memberlist and Serf speak by default; 1 switches packet
   * encryption to the padded version 0 format. Peers' maxima decide what we send them: a CRC header
   * to peers understanding 5, nack requests to 4, TCP fallback pings to 3.
   * @default 2
   */
  readonly protocolVersion: number;
  /** Lowest delegate (Serf) protocol the layer above understands; 0 = no checking. Serf 0.9.4: 2. @default 0 */
  readonly delegateProtocolMin: number;
  /** Highest delegate protocol understood. Serf 0.9.4: 5. @default 0 */
  readonly delegateProtocolMax: number;
  /** Delegate protocol spoken. Serf 0.9.4 agent: 5 (library default 4). @default 0 */
  readonly delegateProtocolVersion: number;

  /**
   * Timeout for a stream: dialing, and reading or writing a push/pull or user message (memberlist
   * TCPTimeout). Longer tolerates slow links; shorter frees a stuck join sooner.
   * @default 10_000 ms (WAN 30 s, local 1 s)
   */
  readonly tcpTimeoutMs: number;
  /**
   * Peers asked to probe a node for us when our direct ping got no ack. Any one ack suffices, so more
   * makes a false suspicion (a lossy path from us) less likely, at more packets.
   * @default 3 (local 1)
   */
  readonly indirectChecks: number;
  /**
   * Sends per gossiped message: retransmitMult × ceil(log10(N + 1)) (timing.ts retransmitLimit).
   * Higher spreads news more reliably, at more bandwidth.
   * @default 4 (local 2)
   */
  readonly retransmitMult: number;
  /**
   * Suspicion timeout multiplier: a suspect is declared dead after at least
   * suspicionMult × max(1, log10(N)) × probeIntervalMs. Higher gives a live but slow node more time
   * to refute, at slower failure detection. Lifeguard expects suspicionMult − 2 confirmations.
   * @default 4 (WAN 6, local 3)
   */
  readonly suspicionMult: number;
  /**
   * Upper bound of the suspicion timeout, as a multiple of the minimum. Without confirmations from
   * other nodes (e.g. we are the one with the bad network) the timer runs this long.
   * @default 6
   */
  readonly suspicionMaxTimeoutMult: number;
  /**
   * Full state sync (push/pull over a stream) with one random live node, scaled up beyond 32 nodes
   * (timing.ts pushPullScale). Repairs whatever gossip missed; 0 disables it.
   * @default 30_000 ms (WAN 60 s, local 15 s)
   */
  readonly pushPullIntervalMs: number;
  /**
   * How often one node is probed (round-robin over a shuffled table). Lower detects failures
   * sooner at more packets. Scaled by the health score (awareness.ts). 0 disables probing.
   * @default 1_000 ms (WAN 5 s)
   */
  readonly probeIntervalMs: number;
  /**
   * How long to wait for a direct ack before asking peers for indirect probes; about the 99th
   * percentile RTT of the network. Must be below probeIntervalMs.
   * @default 500 ms (WAN 3 s, local 200 ms)
   */
  readonly probeTimeoutMs: number;
  /** Turns off the TCP ping sent alongside indirect probes (memberlist DisableTcpPings). @default false */
  readonly disableTcpPings: boolean;
  /**
   * Lifeguard's Local Health Multiplier cap: the probe interval can grow to this many times its
   * configured value while this node looks unhealthy.
   * @default 8
   */
  readonly awarenessMaxMultiplier: number;
  /**
   * How often queued broadcasts are gossiped to gossipNodes random peers (on top of piggybacking on
   * probes). Lower spreads news faster at more packets. 0 disables it.
   * @default 200 ms (WAN 500 ms, local 100 ms)
   */
  readonly gossipIntervalMs: number;
  /** Peers gossiped to per gossipIntervalMs. @default 3 (WAN 4) */
  readonly gossipNodes: number;
  /**
   * How long a dead node keeps receiving gossip (so it can learn it was declared dead and refute)
   * and stays in the table before it is reaped.
   * @default 30_000 ms (WAN 60 s, local 15 s)
   */
  readonly gossipToTheDeadMs: number;
  /** With a keyring: refuse plaintext packets and streams. Turn off only while rolling encryption out. @default true */
  readonly gossipVerifyIncoming: boolean;
  /** With a keyring: encrypt what we send. Turn off only while rolling encryption out. @default true */
  readonly gossipVerifyOutgoing: boolean;
  /** LZW-compress packets (when that makes them smaller) and streams (always). @default true */
  readonly enableCompression: boolean;
  /**
   * Gossip encryption keys (AES-GCM, 16/24/32 bytes). Encryption is on when the ring holds a key;
   * the primary key seals, every key is tried to open. The ring is shared: rotating keys in it takes
   * effect at once. @default undefined (no encryption)
   */
  readonly keyring?: Keyring;
  /**
   * Depth of each handoff queue between the packet receiver and the state machine (one for alive,
   * one for suspect/dead/user messages; each newest first). When one is full, its oldest message is
   * dropped and counted.
   * @default 1024
   */
  readonly handoffQueueDepth: number;
  /** Largest packet we send, bytes: gossip is packed into compound packets up to this size. @default 1400 */
  readonly udpBufferSize: number;
  /**
   * After a node has been dead this long, another address may take its name (memberlist
   * DeadNodeReclaimTime). 0 = never: a dead node's name at a new address is a conflict until it is
   * reaped. Left nodes can always be replaced.
   * @default 0
   */
  readonly deadNodeReclaimTimeMs: number;
  /**
   * Every interval, try a push/pull (join) with one random failed member, throttled as Serf does
   * (probability failed/alive), so a healed partition merges back without an operator. 0 disables.
   * @default 30_000 ms (Serf ReconnectInterval)
   */
  readonly reconnectIntervalMs: number;
  /** Stop trying to reconnect to a failed member after this long (Serf ReconnectTimeout). @default 86_400_000 ms (24 h) */
  readonly reconnectTimeoutMs: number;
}

export const DEFAULT_TCP_TIMEOUT_MS = 10_000;
export const DEFAULT_INDIRECT_CHECKS = 3;
export const DEFAULT_RETRANSMIT_MULT = 4;
export const DEFAULT_SUSPICION_MULT = 4;
export const DEFAULT_SUSPICION_MAX_TIMEOUT_MULT = 6;
export const DEFAULT_PUSH_PULL_INTERVAL_MS = 30_000;
export const DEFAULT_PROBE_INTERVAL_MS = 1_000;
export const DEFAULT_PROBE_TIMEOUT_MS = 500;
export const DEFAULT_AWARENESS_MAX_MULTIPLIER = 8;
export const DEFAULT_GOSSIP_INTERVAL_MS = 200;
export const DEFAULT_GOSSIP_NODES = 3;
export const DEFAULT_GOSSIP_TO_THE_DEAD_MS = 30_000;
export const DEFAULT_HANDOFF_QUEUE_DEPTH = 1024;
export const DEFAULT_RECONNECT_INTERVAL_MS = 30_000;
export const DEFAULT_RECONNECT_TIMEOUT_MS = 24 * 60 * 60 * 1000;

/** memberlist DefaultLANConfig: conservative values for a LAN. */
export function lanConfig(name: string): MembershipConfig {
  return {
    name,
    protocolVersion: PROTOCOL_VERSION_DEFAULT, // speak 2, understand 1..5
    delegateProtocolMin: 0,
    delegateProtocolMax: 0,
    delegateProtocolVersion: 0,
    tcpTimeoutMs: DEFAULT_TCP_TIMEOUT_MS, // 10 s
    indirectChecks: DEFAULT_INDIRECT_CHECKS, // 3 peers for indirect pings
    retransmitMult: DEFAULT_RETRANSMIT_MULT, // 4 × log10(N+1) sends
    suspicionMult: DEFAULT_SUSPICION_MULT, // 4 × log10(N) × probe interval
    suspicionMaxTimeoutMult: DEFAULT_SUSPICION_MAX_TIMEOUT_MULT, // up to 6 × that without confirmations
    pushPullIntervalMs: DEFAULT_PUSH_PULL_INTERVAL_MS, // 30 s, low frequency
    probeIntervalMs: DEFAULT_PROBE_INTERVAL_MS, // a probe every second
    probeTimeoutMs: DEFAULT_PROBE_TIMEOUT_MS, // reasonable LAN RTT
    disableTcpPings: false, // TCP pings are safe, even with mixed versions
    awarenessMaxMultiplier: DEFAULT_AWARENESS_MAX_MULTIPLIER, // probe interval backs off to 8 s
    gossipIntervalMs: DEFAULT_GOSSIP_INTERVAL_MS, // gossip every 200 ms
    gossipNodes: DEFAULT_GOSSIP_NODES, // to 3 nodes
    gossipToTheDeadMs: DEFAULT_GOSSIP_TO_THE_DEAD_MS, // same as push/pull
    gossipVerifyIncoming: true,
    gossipVerifyOutgoing: true,
    enableCompression: true,
    handoffQueueDepth: DEFAULT_HANDOFF_QUEUE_DEPTH,
    udpBufferSize: UDP_BUFFER_SIZE, // 1400 bytes
    deadNodeReclaimTimeMs: 0, // dead names are never reclaimed by another address
    reconnectIntervalMs: DEFAULT_RECONNECT_INTERVAL_MS, // 30 s (Serf)
    reconnectTimeoutMs: DEFAULT_RECONNECT_TIMEOUT_MS, // 24 h (Serf)
  };
}

/** memberlist DefaultWANConfig: LAN with slower probes and longer timeouts. */
export function wanConfig(name: string): MembershipConfig {
  return {
    ...lanConfig(name),
    tcpTimeoutMs: 30_000,
    suspicionMult: 6,
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3_000,
    probeIntervalMs: 5_000,
    gossipNodes: 4, // gossip less often, but to one more node
    gossipIntervalMs: 500,
    gossipToTheDeadMs: 60_000,
  };
}

/** memberlist DefaultLocalConfig: LAN tuned for loopback or one rack (faster failure detection). */
export function localConfig(name: string): MembershipConfig {
  return {
    ...lanConfig(name),
    tcpTimeoutMs: 1_000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200,
    probeIntervalMs: 1_000,
    gossipIntervalMs: 100,
    gossipToTheDeadMs: 15_000,
  };
}

/**
 * Caxton's `fast` profile: LAN with probes twice as often, a 250 ms probe timeout, suspicion_mult 3
 * and gossip every 100 ms. It meets DESIGN.md's budget (failure detection ≤ 3 s, join convergence
 * ≤ 200 ms for 5 nodes) that memberlist's LAN timing cannot (serf LAN detects in ~5.8 s). Measured
 * with `npm run bench -- cluster` beside serf LAN: 5 nodes 2.6 s / 134 ms, 10 nodes 3.2 s, no false
 * failure under 10 % UDP or 25 % UDP+TCP gossip loss (serf none either), at about twice serf's
 * gossip packets. Only timings differ: it interoperates with any memberlist profile.
 */
export function fastConfig(name: string): MembershipConfig {
  return {
    ...lanConfig(name),
    probeIntervalMs: 500,
    probeTimeoutMs: 250,
    suspicionMult: 3,
    gossipIntervalMs: 100,
  };
}

/** The Vsn we advertise: [PROTOCOL_VERSION_MIN, PROTOCOL_VERSION_MAX, protocolVersion, dmin, dmax, dcur] (memberlist BuildVsnArray). */
export function buildVersions(c: MembershipConfig): Versions {
  return {
    pmin: PROTOCOL_VERSION_MIN,
    pmax: PROTOCOL_VERSION_MAX,
    pcur: c.protocolVersion,
    dmin: c.delegateProtocolMin,
    dmax: c.delegateProtocolMax,
    dcur: c.delegateProtocolVersion,
  };
}

export function buildVsn(c: MembershipConfig): Uint8Array {
  return makeVsn(buildVersions(c));
}

/** Every problem with a config (empty when valid). */
export function configProblems(c: MembershipConfig): string[] {
  const problems: string[] = [];
  const int = (key: keyof MembershipConfig, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      problems.push(`${key} must be an integer in [${min}, ${max}], not ${String(v)}`);
    }
  };
  const ms = (key: keyof MembershipConfig, min: number): void => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) problems.push(`${key} must be a number of ms >= ${min}, not ${String(v)}`);
  };
  if (typeof c.name !== 'string' || c.name.length === 0) problems.push('name must be a non-empty string');
  int('protocolVersion', PROTOCOL_VERSION_MIN, PROTOCOL_VERSION_MAX);
  int('delegateProtocolMin', 0, 255);
  int('delegateProtocolMax', 0, 255);
  int('delegateProtocolVersion', 0, 255);
  if (c.delegateProtocolMin > c.delegateProtocolMax) problems.push('delegateProtocolMin must not exceed delegateProtocolMax');
  ms('tcpTimeoutMs', 1);
  int('indirectChecks', 0);
  int('retransmitMult', 1);
  int('suspicionMult', 1);
  int('suspicionMaxTimeoutMult', 1);
  ms('pushPullIntervalMs', 0);
  ms('probeIntervalMs', 0);
  ms('probeTimeoutMs', 1);
  if (c.probeIntervalMs > 0 && c.probeTimeoutMs >= c.probeIntervalMs) problems.push('probeTimeoutMs must be below probeIntervalMs');
  int('awarenessMaxMultiplier', 1);
  ms('gossipIntervalMs', 0);
  int('gossipNodes', 0);
  ms('gossipToTheDeadMs', 0);
  int('handoffQueueDepth', 1);
  int('udpBufferSize', 64, 65_507);
  ms('deadNodeReclaimTimeMs', 0);
  ms('reconnectIntervalMs', 0);
  ms('reconnectTimeoutMs', 0);
  return problems;
}

/** Throws MembershipError('invalid-config') listing every problem. */
export function validateConfig(c: MembershipConfig): void {
  const problems = configProblems(c);
  if (problems.length > 0) throw new MembershipError('invalid-config', `invalid membership config: ${problems.join('; ')}`);
}

/** The meta limit handed to the delegate (memberlist MetaMaxSize). */
export const META_LIMIT = META_MAX_SIZE;
