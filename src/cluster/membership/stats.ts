/**
 * Counters and gauges for metrics (memberlist's go-metrics calls, gathered in one place). Counters
 * are bumped at the transition itself; stats() adds the gauges read from the live state.
 */

/** Why received bytes were thrown away: a WireError reason, or one of ours below. */
export type DropReason =
  | string // WireError reasons: 'decrypt-failed', 'crc-mismatch', 'truncated', ...
  | 'handoff-full' // a handoff lane was full (its oldest message was dropped)
  | 'compound-truncated' // compound parts announced but missing from the packet
  | 'wrong-node' // a ping meant for another node name
  | 'bad-address' // an indirect ping or alive with an unusable address
  | 'shut-down' // arrived after shutdown
  | 'handler-error' // a bug in a handler (logged); the packet is dropped, the loop goes on
  | 'stream-error'; // a stream that failed to read, or sent an unexpected message

export class Counters {
  packetsReceived = 0;
  packetsSent = 0;
  bytesReceived = 0;
  bytesSent = 0;
  readonly dropped = new Map<DropReason, number>();

  probesSent = 0;
  probesAcked = 0;
  probesIndirectAcked = 0;
  probesTcpAcked = 0;
  probesFailed = 0;
  /** Probes run with an interval stretched by the health score (memberlist degraded.probe). */
  probesDegraded = 0;

  rttLastMs = 0;
  rttAvgMs = 0;
  rttSamples = 0;

  gossipRounds = 0;
  gossipPackets = 0;

  aliveMessages = 0;
  suspectMessages = 0;
  deadMessages = 0;
  refutations = 0;
  /** Our current alive sent straight to a node holding an accusation about us (state.ts #answerAccusation). */
  reassertions = 0;
  /** Suspicions we started and sent straight to the suspect, so it can refute to us (state.ts suspectNode). */
  accusationsSent = 0;
  conflicts = 0;
  suspicionTimeouts = 0;
  /** Suspicion timeouts with fewer confirmations than expected (memberlist degraded.timeout). */
  degradedSuspicionTimeouts = 0;
  reaped = 0;

  pushPullInitiated = 0;
  pushPullFailed = 0;
  pushPullServed = 0;
  pushPullRejected = 0;

  reconnectAttempts = 0;
  reconnectSuccesses = 0;

  /** When our view of the membership last changed (ms since epoch). */
  lastChangeAt = 0;
  /** How long the last memberlist broadcast took from queueing to reaching its transmit limit. */
  lastDisseminationMs = 0;

  drop(reason: DropReason, n = 1): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + n);
  }

  /** Exponentially weighted average of direct probe RTTs (weight 1/8, as TCP's SRTT). */
  rtt(ms: number): void {
    this.rttLastMs = ms;
    this.rttAvgMs = this.rttSamples === 0 ? ms : this.rttAvgMs + (ms - this.rttAvgMs) / 8;
    this.rttSamples += 1;
  }
}

export interface MemberCounts {
  readonly total: number;
  readonly alive: number;
  readonly suspect: number;
  readonly failed: number;
  readonly left: number;
}

export interface MembershipStats {
  /** Members in our table, by state (this node included). */
  readonly members: MemberCounts;
  /** Lifeguard health score, 0 (healthy) .. awarenessMaxMultiplier − 1. */
  readonly healthScore: number;
  /** Our incarnation number. */
  readonly incarnation: number;
  readonly probes: {
    readonly sent: number;
    readonly acked: number;
    readonly indirectAcked: number;
    readonly tcpAcked: number;
    readonly failed: number;
    readonly degraded: number;
  };
  /** Gossip latency: the round trip of direct probes (last, running average, samples). */
  readonly rttMs: { readonly last: number; readonly avg: number; readonly samples: number };
  readonly gossip: { readonly rounds: number; readonly packets: number };
  readonly packets: {
    readonly received: number;
    readonly sent: number;
    readonly bytesReceived: number;
    readonly bytesSent: number;
    /** Dropped received packets (or parts of them), by reason. */
    readonly dropped: Readonly<Record<string, number>>;
  };
  readonly handoff: { readonly queued: number; readonly dropped: number };
  readonly transitions: {
    readonly alive: number;
    readonly suspect: number;
    readonly dead: number;
    readonly refutations: number;
    readonly reassertions: number;
    readonly accusationsSent: number;
    readonly conflicts: number;
    readonly suspicionTimeouts: number;
    readonly degradedSuspicionTimeouts: number;
    readonly reaped: number;
  };
  readonly pushPull: { readonly initiated: number; readonly failed: number; readonly served: number; readonly rejected: number };
  readonly reconnect: { readonly pending: number; readonly attempts: number; readonly successes: number };
  /**
   * Convergence hints: when our view last changed, how many memberlist broadcasts are still being
   * gossiped (0 = everything we know has been sent its full retransmit count), and how long the last
   * one took to get there.
   */
  readonly convergence: { readonly lastChangeAt: number; readonly broadcastsPending: number; readonly lastDisseminationMs: number };
}

export interface Gauges {
  readonly members: MemberCounts;
  readonly healthScore: number;
  readonly incarnation: number;
  readonly handoffQueued: number;
  readonly handoffDropped: number;
  readonly broadcastsPending: number;
  readonly reconnectPending: number;
}

export function snapshot(c: Counters, g: Gauges): MembershipStats {
  const dropped: Record<string, number> = {};
  for (const [k, v] of c.dropped) dropped[k] = v;
  if (g.handoffDropped > 0) dropped['handoff-full'] = g.handoffDropped;
  return {
    members: g.members,
    healthScore: g.healthScore,
    incarnation: g.incarnation,
    probes: {
      sent: c.probesSent,
      acked: c.probesAcked,
      indirectAcked: c.probesIndirectAcked,
      tcpAcked: c.probesTcpAcked,
      failed: c.probesFailed,
      degraded: c.probesDegraded,
    },
    rttMs: { last: c.rttLastMs, avg: c.rttAvgMs, samples: c.rttSamples },
    gossip: { rounds: c.gossipRounds, packets: c.gossipPackets },
    packets: { received: c.packetsReceived, sent: c.packetsSent, bytesReceived: c.bytesReceived, bytesSent: c.bytesSent, dropped },
    handoff: { queued: g.handoffQueued, dropped: g.handoffDropped },
    transitions: {
      alive: c.aliveMessages,
      suspect: c.suspectMessages,
      dead: c.deadMessages,
      refutations: c.refutations,
      reassertions: c.reassertions,
      accusationsSent: c.accusationsSent,
      conflicts: c.conflicts,
      suspicionTimeouts: c.suspicionTimeouts,
      degradedSuspicionTimeouts: c.degradedSuspicionTimeouts,
      reaped: c.reaped,
    },
    pushPull: { initiated: c.pushPullInitiated, failed: c.pushPullFailed, served: c.pushPullServed, rejected: c.pushPullRejected },
    reconnect: { pending: g.reconnectPending, attempts: c.reconnectAttempts, successes: c.reconnectSuccesses },
    convergence: { lastChangeAt: c.lastChangeAt, broadcastsPending: g.broadcastsPending, lastDisseminationMs: c.lastDisseminationMs },
  };
}
