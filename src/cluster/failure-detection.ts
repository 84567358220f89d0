/**
 * How long this cluster takes to declare a dead node failed, for `caxton cluster performance`.
 *
 * Observed: when a member this node saw suspected is then declared failed, the time between the two
 * is the suspicion this node waited through; the suspicion itself started about one probe (interval
 * + timeout) after the node died (the N−1 other members each probe one member per interval), so the
 * detection is taken as suspicion + probe interval + probe timeout: an estimate, since a node that
 * died right before a probe is suspected sooner, and one the probes reach late, later.
 * Expected, until a failure has been observed: the same sum with the minimum suspicion timeout for
 * the current cluster size (memberlist util.go suspicionTimeout), which is what Lifeguard reaches once
 * peers confirm the suspicion. docs/cluster-membership.md gives the formula, fastConfig() in
 * membership/config.ts the measured figures (5 nodes: 2.6 s with fast; serf LAN 5.8 s).
 */
import type { MemberEvent } from './membership/delegate.js';
import { suspicionTimeout } from './membership/index.js';

export interface DetectionTimings {
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly suspicionMult: number;
}

export interface DetectionReading {
  readonly ms: number;
  /** observed: from the last failure this node saw; expected: from the timings, none seen yet. */
  readonly source: 'observed' | 'expected';
  /** For an observed reading: which member failed and when (ms since epoch). */
  readonly node?: string;
  readonly at?: number;
}

export class FailureDetectionWatch {
  /** When this node first heard each member suspected, ms since epoch. */
  readonly #suspectedAt = new Map<string, number>();
  #last: DetectionReading | undefined;

  constructor(
    readonly timings: DetectionTimings,
    /** Members in the cluster now, this node included. */
    readonly clusterSize: () => number,
    readonly now: () => number = Date.now,
  ) {}

  /** Feed it every membership event (Cluster.onEvent). */
  event(e: MemberEvent): void {
    if (e.type === 'conflict') return;
    const name = e.member.name;
    switch (e.type) {
      case 'suspect':
        if (!this.#suspectedAt.has(name)) this.#suspectedAt.set(name, this.now());
        break;
      case 'failed': {
        const since = this.#suspectedAt.get(name);
        this.#suspectedAt.delete(name);
        // Declared dead without a suspicion seen here (a dead message gossiped first): nothing to time.
        if (since === undefined) break;
        const at = this.now();
        this.#last = { ms: at - since + this.timings.probeIntervalMs + this.timings.probeTimeoutMs, source: 'observed', node: name, at };
        break;
      }
      default:
        // alive (refuted), join, left, update, reaped: no failure to time for it any more.
        this.#suspectedAt.delete(name);
    }
  }

  /** The time a failure is expected to take with these timings and `n` members. */
  expectedMs(n: number): number {
    const t = this.timings;
    return t.probeIntervalMs + t.probeTimeoutMs + suspicionTimeout(t.suspicionMult, n, t.probeIntervalMs);
  }

  reading(): DetectionReading {
    return this.#last ?? { ms: this.expectedMs(this.clusterSize()), source: 'expected' };
  }
}
