/**
 * The quorum rule (DESIGN.md, "Partitions"): which side of a partition this node is on, from who it
 * can reach. Pure, so that every node, the tests and the simulation compute it alike.
 *
 * - expected = the largest membership the cluster agreed on: the Caxton members this node knows of
 *   (src/cluster/partition/known-members.ts), itself included, and at least bootstrap_expect until the
 *   cluster has reached that size once (it is forming). Joins grow it; a failure does not shrink it (a
 *   failed node is exactly what a partition hides); a member that left gracefully, or that an operator
 *   removed, is no longer known and no longer counts — as a server leaving a Raft cluster leaves its
 *   configuration. So 3 nodes of which one left are a cluster of 2 (quorum 2); 3 of which one failed
 *   are still a cluster of 3 (quorum 2, the two survivors are the majority).
 * - quorum = expected / 2 + 1 (integer division): 2 of 3, 3 of 4, 3 of 5.
 * - healthy: every known member is reachable and there are at least bootstrap_expect of them.
 * - majority: at least a quorum is reachable (this node included): read-write.
 * - minority: fewer than a quorum, but another node is reachable: read-only for management writes.
 * - alone: no other node is reachable: local-only.
 *
 * An even split (2 and 2 of 4) leaves both sides a minority: neither may write, by design — two
 * majorities would be two clusters. A crashed node and a node behind a partition look the same from
 * here: the survivors are the majority either way.
 */

export type PartitionState = 'healthy' | 'majority' | 'minority' | 'alone';

/** `caxton_cluster_partition_state`: 0 healthy, 1 majority, 2 minority, 3 alone. */
export const PARTITION_STATE_CODE: Readonly<Record<PartitionState, number>> = { healthy: 0, majority: 1, minority: 2, alone: 3 };

export interface PartitionView {
  readonly state: PartitionState;
  /** Nodes the cluster should have: max(bootstrap_expect, known members). */
  readonly expected: number;
  readonly quorum: number;
  /** Known members this node reaches, itself included, sorted. */
  readonly reachable: readonly string[];
  /** Known members it does not reach, sorted. */
  readonly unreachable: readonly string[];
  /** The cluster has not reached bootstrap_expect yet: a node waiting for its peers is not a split. */
  readonly forming: boolean;
  /** Reachable members membership suspects now (counted reachable until declared failed). */
  readonly suspect: readonly string[];
}

export interface QuorumInput {
  readonly self: string;
  /** coordination.cluster.bootstrap_expect. */
  readonly expect: number;
  /** Whether the cluster has reached bootstrap_expect once: then `expect` is no longer a floor. */
  readonly formed?: boolean;
  /** The members this node has agreed on (persisted); `self` and every reachable one count even if missing here. */
  readonly known: Iterable<string>;
  /** Members this node reaches now (alive or suspect Caxton members). */
  readonly reachable: Iterable<string>;
  /** Those of them membership suspects. */
  readonly suspect?: Iterable<string>;
}

export function quorumOf(expected: number): number {
  return Math.floor(expected / 2) + 1;
}

/**
 * While the cluster is forming (fewer than bootstrap_expect nodes have ever met), a node is not on the
 * minority side of anything: it is read-write and waits for its peers, as before quorum existed.
 */
export function partitionView(i: QuorumInput): PartitionView {
  const reachable = new Set(i.reachable);
  reachable.add(i.self);
  const known = new Set(i.known);
  for (const n of reachable) known.add(n);
  const unreachable = [...known].filter((n) => !reachable.has(n)).sort();
  const expected = Math.max(1, i.formed === true ? 0 : i.expect, known.size);
  const quorum = quorumOf(expected);
  const n = reachable.size;
  let state: PartitionState;
  if (unreachable.length === 0 && n >= expected) state = 'healthy';
  else if (n >= quorum) state = 'majority';
  else if (n === 1) state = 'alone';
  else state = 'minority';
  return { state, expected, quorum, reachable: [...reachable].sort(), unreachable, forming: i.formed !== true, suspect: [...(i.suspect ?? [])].sort() };
}

/** Whether management writes (deploy, undeploy, upgrade, key changes...) are refused on this side. */
export function readOnly(state: PartitionState): boolean {
  return state === 'minority' || state === 'alone';
}

/** What `cluster status` prints on its Status line. */
export function statusLine(state: PartitionState): string {
  switch (state) {
    case 'healthy':
      return 'HEALTHY';
    case 'majority':
      return 'HEALTHY (majority partition)';
    // A node cut off alone is the runbook's minority too; the gauge (3) and the Operations line say alone.
    case 'minority':
    case 'alone':
      return 'DEGRADED (minority partition)';
  }
}

/** What `cluster status` prints on its Operations line. */
export function operationsLine(state: PartitionState): string {
  return state === 'alone' ? 'READ-ONLY (alone: local-only, no other node reachable)' : readOnly(state) ? 'READ-ONLY' : 'READ-WRITE';
}
