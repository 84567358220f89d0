/**
 * Which node owns a new deployment: weighted rendezvous hashing (src/cluster/placement/rendezvous.ts)
 * of the agent's name over the alive Caxton members, so that every node computes the same owner from
 * the same view, without asking anyone.
 *
 * - `even-distribution` (the default): equal weights, plain HRW. The owner is the one the directory
 *   computes for the name, so the deployment needs no directory entry.
 * - `least-loaded`: weights from the members' load tags (`agents`, `cpu`, `mem`: src/cluster/node-tags.ts),
 *   so that a lightly loaded node wins more names. It stays a hash, not "the emptiest node": deploys
 *   made in a burst, before the tags move, spread in proportion to the weights instead of all landing
 *   on one node.
 * - `--prefer-nodes a,b`: only those of the named nodes that are alive compete; when none of them is
 *   alive, every alive member does (a preference, not a pin).
 * - `--target-node x`: x, which must be an alive member.
 *
 * An owner other than the plain HRW one (a pin, a preference, or weights) is an exception the directory
 * records (docs/cluster-routing.md).
 */
import { CaxtonError } from '../errors.js';
import { evenly, ownerOf, type WeightedNode } from '../cluster/placement/rendezvous.js';
import { memberLoad } from '../cluster/node-tags.js';

export const PLACEMENT_STRATEGIES = ['least-loaded', 'even-distribution'] as const;
export type PlacementStrategy = (typeof PLACEMENT_STRATEGIES)[number];

export interface PlacementOptions {
  /** @default 'even-distribution' */
  readonly strategy?: PlacementStrategy;
  /** Nodes to place on when one of them is alive. */
  readonly preferNodes?: readonly string[];
  /** The node to place on; it must be an alive member. Excludes the other two. */
  readonly targetNode?: string;
}

/** A member as placement sees it (a ClusterMember fits). */
export interface PlacementMember {
  readonly name: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Weights never fall below this, so a loaded node still owns some names and the ranking stays total. */
export const MIN_WEIGHT = 0.02;

/**
 * The members that may own agents: alive Caxton nodes (serf agents in the cluster host none) that are
 * not isolated (`caxton cluster isolate` sets their `isolated` tag: out of placement).
 */
export function candidates(members: readonly PlacementMember[]): PlacementMember[] {
  return members.filter((m) => m.status === 'alive' && m.tags['role'] === 'caxton' && m.tags['isolated'] !== '1');
}

/**
 * A member's weight under `least-loaded`: free CPU × free memory (relative to the most loaded member)
 * × 1 / (1 + agents). A tag that is absent or not a number counts as the members' average (unknown is
 * neither favoured nor avoided).
 *
 * | agents | cpu % | mem (of the max) | weight |
 * |---|---|---|---|
 * | 0 | 0 | 0 | 1 |
 * | 9 | 0 | 0 | 0.1 |
 * | 0 | 90 | 0 | 0.1 |
 * | 0 | 0 | 100 % | 0.5 |
 */
export function loadWeights(members: readonly PlacementMember[]): WeightedNode[] {
  const loads = members.map((m) => {
    const l = memberLoad(m.tags);
    const agents = m.tags['agents'] !== undefined && /^\d{1,9}$/.test(m.tags['agents']) ? Number(m.tags['agents']) : null;
    return { name: m.name, cpu: l.cpuPercent, mem: l.rssBytes, agents };
  });
  const mean = (xs: (number | null)[]): number => {
    const known = xs.filter((x): x is number => x !== null);
    return known.length === 0 ? 0 : known.reduce((a, b) => a + b, 0) / known.length;
  };
  const cpuMean = mean(loads.map((l) => l.cpu));
  const memMean = mean(loads.map((l) => l.mem));
  const agentsMean = mean(loads.map((l) => l.agents));
  const maxMem = Math.max(1, ...loads.map((l) => l.mem ?? memMean));
  return loads.map((l) => {
    const cpuFree = 1 - Math.min(100, l.cpu ?? cpuMean) / 100;
    const memFree = 1 - 0.5 * ((l.mem ?? memMean) / maxMem);
    const agentShare = 1 / (1 + (l.agents ?? agentsMean));
    return { name: l.name, weight: Math.max(MIN_WEIGHT, cpuFree * memFree * agentShare) };
  });
}

/**
 * The owner of a new deployment of `agent` among `members` (every member known, any status). Throws
 * CAXTON_ERR_CLUSTER_UNKNOWN_NODE for a target or preferred node that is no member,
 * CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE for a target that is not alive (or when no member is), and
 * CAXTON_ERR_API_INVALID_REQUEST for options that contradict each other.
 */
export function placeAgent(agent: string, members: readonly PlacementMember[], options: PlacementOptions = {}): string {
  const known = new Map(members.map((m) => [m.name, m]));
  const alive = candidates(members);
  if (options.targetNode !== undefined) {
    if (options.preferNodes !== undefined) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'target_node and prefer_nodes exclude each other: a target pins the agent, a preference only favours nodes', { field: 'body.target_node' });
    const t = known.get(options.targetNode);
    if (t === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `target node ${options.targetNode} is not a member of the cluster`, { node: options.targetNode });
    if (!alive.includes(t)) {
      const why = t.status !== 'alive' ? t.status : t.tags['isolated'] === '1' ? 'isolated (out of placement: `caxton cluster rejoin --node` it first)' : 'not a Caxton node';
      throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `target node ${options.targetNode} is ${why}: it cannot take the agent now`, { node: options.targetNode, status: t.status });
    }
    return t.name;
  }
  let pool = alive;
  if (options.preferNodes !== undefined) {
    const unknown = options.preferNodes.filter((n) => !known.has(n));
    if (unknown.length > 0) throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `prefer_nodes names ${unknown.join(', ')}, not a member of the cluster`, { nodes: unknown });
    const preferred = alive.filter((m) => options.preferNodes?.includes(m.name));
    if (preferred.length > 0) pool = preferred;
  }
  const weighted = (options.strategy ?? 'even-distribution') === 'least-loaded' ? loadWeights(pool) : evenly(pool.map((m) => m.name));
  const owner = ownerOf(agent, weighted);
  if (owner === undefined) throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', 'no alive Caxton node can take the agent', {});
  return owner;
}
