/**
 * What the metrics need from the cluster layer. The cluster module implements it once it exists; until
 * then (and for a node started without clustering) the single-node default reports this node alone.
 */

export interface ClusterMembers {
  readonly total: number;
  readonly alive: number;
  readonly suspect: number;
  readonly failed: number;
  readonly left: number;
}

export interface ClusterGauges {
  /** Members known to this node, by SWIM state. `total` counts this node too. */
  members(): ClusterMembers;
  /** Recent gossip round-trip time to peers, ms (0 when there are none). */
  gossipLatencyMs(): number;
  /** How long the last membership change took to reach every member, ms (0 when alone). */
  convergenceTimeMs(): number;
}

/** A node without peers: itself, alive; no gossip, so nothing to measure. */
export function singleNodeCluster(): ClusterGauges {
  return {
    members: () => ({ total: 1, alive: 1, suspect: 0, failed: 0, left: 0 }),
    gossipLatencyMs: () => 0,
    convergenceTimeMs: () => 0,
  };
}
