/**
 * `caxton cluster rebalance`: which agents to move where so that the nodes' shares match the strategy.
 * A pure plan (table-tested), carried out by live moves (src/agents/handoff.ts), at most `maxMoves`
 * per round, like Akka's shard rebalance (≤ a bound per round, so a rebalance never stops the world).
 *
 * - even-distribution: every placement node gets the same number of agents (± 1).
 * - least-loaded: shares in proportion to each node's free CPU (100 − its `cpu` tag, at least 5; a
 *   node without the tag counts as half busy), so busy nodes give agents to idle ones.
 *
 * Among the agents a node has too many of, those whose rendezvous owner is a node with too few move
 * first (back to their computed place: no directory exception needed), then the rest by name.
 */
import type { NodeName } from '../cluster/peers.js';
import type { RankRule } from './ownership.js';

export type RebalanceStrategy = 'least-loaded' | 'even-distribution';

export const REBALANCE_STRATEGIES: readonly RebalanceStrategy[] = ['least-loaded', 'even-distribution'];

export interface NodeLoad {
  readonly node: NodeName;
  /** Agents it runs now. */
  readonly agents: readonly string[];
  /** Host CPU busy, percent; null when unknown. */
  readonly cpuPercent: number | null;
}

export interface PlannedMove {
  readonly agent: string;
  readonly from: NodeName;
  readonly to: NodeName;
}

/**
 * Each node's target count: shares by weight, rounded by largest remainder; equal remainders go first to
 * the node that runs more agents now (fewer moves), then to the smaller name.
 */
export function targets(nodes: readonly NodeLoad[], strategy: RebalanceStrategy): Map<NodeName, number> {
  const total = nodes.reduce((n, x) => n + x.agents.length, 0);
  const weight = (x: NodeLoad) => (strategy === 'even-distribution' ? 1 : Math.max(5, 100 - (x.cpuPercent ?? 50)));
  const sum = nodes.reduce((s, x) => s + weight(x), 0);
  const exact = nodes.map((x) => ({ node: x.node, share: sum > 0 ? (total * weight(x)) / sum : 0, has: x.agents.length }));
  const out = new Map(exact.map((e) => [e.node, Math.floor(e.share)]));
  let left = total - [...out.values()].reduce((a, b) => a + b, 0);
  const byRemainder = [...exact].sort((a, b) => b.share - Math.floor(b.share) - (a.share - Math.floor(a.share)) || b.has - a.has || (a.node < b.node ? -1 : 1));
  for (const e of byRemainder) {
    if (left <= 0) break;
    out.set(e.node, (out.get(e.node) ?? 0) + 1);
    left--;
  }
  return out;
}

/** The moves of one round, at most `maxMoves`. Empty: balanced. */
export function planRebalance(nodes: readonly NodeLoad[], strategy: RebalanceStrategy, maxMoves: number, rank: RankRule): PlannedMove[] {
  const want = targets(nodes, strategy);
  const have = new Map(nodes.map((x) => [x.node, [...x.agents].sort()]));
  const names = nodes.map((x) => x.node);
  const moves: PlannedMove[] = [];
  const over = () => names.filter((n) => (have.get(n) as string[]).length > (want.get(n) ?? 0));
  const under = () => names.filter((n) => (have.get(n) as string[]).length < (want.get(n) ?? 0));
  while (moves.length < maxMoves) {
    const o = over();
    const u = under();
    if (o.length === 0 || u.length === 0) break;
    // The fullest node gives first; ties to the smaller name.
    const from = o.sort((a, b) => excess(b) - excess(a) || (a < b ? -1 : 1))[0] as NodeName;
    const list = have.get(from) as string[];
    let pick: { agent: string; to: NodeName } | undefined;
    for (const agent of list) {
      const home = rank(agent, names)[0];
      if (home !== undefined && home !== from && u.includes(home)) {
        pick = { agent, to: home };
        break;
      }
    }
    if (pick === undefined) {
      const to = u.sort((a, b) => excess(a) - excess(b) || (a < b ? -1 : 1))[0] as NodeName;
      pick = { agent: list[0] as string, to };
    }
    list.splice(list.indexOf(pick.agent), 1);
    (have.get(pick.to) as string[]).push(pick.agent);
    moves.push({ agent: pick.agent, from, to: pick.to });
  }
  return moves;

  function excess(n: NodeName): number {
    return (have.get(n) as string[]).length - (want.get(n) ?? 0);
  }
}
