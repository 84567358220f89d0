/**
 * Who owns an agent, who replicates it, who takes it over, and which of two copies survives: pure
 * functions of the member list, so that every node computes the same answers alone (issue 11's model,
 * docs/cluster-routing.md). Placement members are the alive Caxton members that are not isolated; the
 * owner is the first of rank(name, members), its replicas the next R.
 */
import { evenly, rank } from '../cluster/placement/rendezvous.js';

/** The serf tag an isolated node carries (`caxton cluster isolate`): it stays a member, out of placement. */
export const ISOLATED_TAG = 'isolated';

/** A member as the cluster reports it (src/cluster/cluster.ts ClusterMember fits). */
export interface MemberView {
  readonly name: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Whether a member counts as up: suspect ones do, so that one missed probe moves nothing. */
export function isUp(m: MemberView): boolean {
  return m.status === 'alive' || m.status === 'suspect';
}

/** Up Caxton members (a serf agent in the cluster hosts nothing), isolated ones included. */
export function upNodes(members: readonly MemberView[]): string[] {
  return members.filter((m) => isUp(m) && m.tags['role'] === 'caxton').map((m) => m.name);
}

/** The members agents are placed on: up Caxton members that are not isolated. */
export function placementNodes(members: readonly MemberView[]): string[] {
  return members.filter((m) => isUp(m) && m.tags['role'] === 'caxton' && m.tags[ISOLATED_TAG] !== '1').map((m) => m.name);
}

/**
 * Ranks the nodes for an agent, best first. The default is plain rendezvous hashing; keys-and-placement
 * (src/agents/placement.ts) plugs in its weighted strategies and pinned nodes here.
 */
export type RankRule = (name: string, nodes: readonly string[]) => string[];

export const hrwRank: RankRule = (name, nodes) => rank(name, evenly(nodes));

/**
 * The replicas the holder `self` of an agent pushes it to: the first `r` other nodes in rank order.
 * When `self` is the computed owner these are the next r in rank; when the agent sits elsewhere (pinned,
 * or moved and not yet settled) they are still the nodes that would take it over.
 */
export function replicasFor(name: string, self: string, nodes: readonly string[], r: number, rule: RankRule = hrwRank): string[] {
  return rule(name, nodes)
    .filter((n) => n !== self)
    .slice(0, r);
}

/**
 * Which node takes an agent over once its owner is gone: the first in rank, among the up nodes, of those
 * that held it (its replicas as the owner last pushed them). Undefined when none of them is up: the
 * agent waits (its state lives nowhere else).
 */
export function takeoverNode(name: string, holders: readonly string[], up: readonly string[], rule: RankRule = hrwRank): string | undefined {
  const held = new Set(holders);
  return rule(name, up).find((n) => held.has(n));
}

/** A node's claim to run an agent: the ownership epoch it runs it at. */
export interface Claim {
  readonly node: string;
  readonly epoch: number;
}

/**
 * Whether claim `a` beats claim `b` for agent `name`: the higher epoch wins (it was granted later, by a
 * failover or a move); at equal epochs the node ranked first among `nodes` wins (a node not in it ranks
 * last), then the smaller name. Total and the same on every node, so two copies always resolve to one.
 */
export function claimBeats(name: string, a: Claim, b: Claim, nodes: readonly string[], rule: RankRule = hrwRank): boolean {
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  if (a.node === b.node) return false;
  const order = rule(name, nodes);
  const ia = order.indexOf(a.node);
  const ib = order.indexOf(b.node);
  const ra = ia < 0 ? Infinity : ia;
  const rb = ib < 0 ? Infinity : ib;
  if (ra !== rb) return ra < rb;
  return a.node < b.node;
}
