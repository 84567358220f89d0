/**
 * The analytic side of the cluster simulation: serf's convergence simulator's epidemic model
 * (hashicorp/serf website/source/assets/javascripts/_simulator.js) and memberlist's timing formulas,
 * used to put the simulated figures beside the model and to extend them to sizes too big to run here.
 */
import { pushPullScale, suspicionTimeout } from '../../src/cluster/membership/timing.js';

export interface EpidemicParams {
  /** Gossip fanout (memberlist GossipNodes). */
  readonly fanout: number;
  /** Gossip interval, ms. */
  readonly intervalMs: number;
  /** Packet loss, 0..1. */
  readonly loss?: number;
  /** Fraction of failed nodes, 0..1. */
  readonly failed?: number;
}

/**
 * Rounds until `fraction` of n nodes are informed under serf's logistic model:
 * β = fanout/N·(1−loss)·(1−failed)·½ and informed(x) = N / (1 + (N+1)·e^(−βNx)).
 */
export function epidemicRounds(n: number, fraction: number, p: EpidemicParams): number {
  const betaN = p.fanout * (1 - (p.loss ?? 0)) * (1 - (p.failed ?? 0)) * 0.5;
  const x = Math.log((n + 1) / (1 / fraction - 1)) / betaN;
  return Math.max(0, Math.ceil(x));
}

/** serf's bandwidth figure: every round each node sends `fanout` full packets and receives as many. */
export function epidemicBandwidthBytesPerS(p: EpidemicParams, packetBytes = 1_400): number {
  return (2 * packetBytes * p.fanout * 1_000) / p.intervalMs;
}

/** memberlist's minimum suspicion timeout for n nodes (LAN: 4 × log10 n × 1 s), ms. */
export function minSuspicionMs(n: number, suspicionMult = 4, probeIntervalMs = 1_000): number {
  return suspicionTimeout(suspicionMult, n, probeIntervalMs);
}

/**
 * Steady-state push/pull bytes a node sends per second: it initiates one exchange and serves about one
 * per scaled interval, sending half of each, so one exchange's worth (n entries × `bytesPerEntry`, both
 * directions counted) per interval.
 */
export function pushPullBytesPerNodeS(n: number, bytesPerEntry: number, intervalMs = 30_000): number {
  return (n * bytesPerEntry) / (pushPullScale(intervalMs, n) / 1_000);
}
