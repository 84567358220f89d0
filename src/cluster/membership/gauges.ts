/** Membership as the metrics module sees it (src/observability/cluster-gauges.ts). */
import type { ClusterGauges } from '../../observability/cluster-gauges.js';
import type { Membership } from './membership.js';

export function membershipGauges(m: Membership): ClusterGauges {
  return {
    members: () => m.stats().members,
    gossipLatencyMs: () => m.stats().rttMs.avg,
    convergenceTimeMs: () => m.stats().convergence.lastDisseminationMs,
  };
}
