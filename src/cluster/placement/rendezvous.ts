/**
 * Rendezvous (highest-random-weight) hashing: which node owns a key, computed alone by every node from
 * the same member list, so that nodes agree on an owner without asking each other.
 *
 * Each (key, node) pair gets a score; the node with the highest score owns the key, the next ones are
 * its replicas and successors, in that order. Weighted scores use the logarithmic method
 * (Schindelhauer & Schomaker, SPAA 2005): score = −w / ln(u), with u the pair's hash mapped into (0, 1),
 * so node i wins with probability w_i / Σw. A key moves only when its top node leaves or a newcomer
 * outscores it: a join moves the newcomer's share of keys, a leave only the leaver's keys.
 *
 * The hash is FNV-1a 64 over the key, a zero byte and the node name, mixed with a 64-bit finaliser
 * (splitmix64) so that names differing in one character still score independently. It is stable across
 * processes, platforms and versions: placement is part of the wire contract between nodes.
 */

/** A candidate node and its weight (> 0; equal weights give plain rendezvous hashing). */
export interface WeightedNode {
  readonly name: string;
  readonly weight: number;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
const encoder = new TextEncoder();

/** 64-bit hash of `key` + 0x00 + `node`, finalised. */
export function pairHash(key: string, node: string): bigint {
  let h = FNV_OFFSET;
  for (const b of encoder.encode(key)) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  h = (h * FNV_PRIME) & MASK64; // the 0x00 separator: "ab"+"c" and "a"+"bc" differ
  for (const b of encoder.encode(node)) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  // splitmix64 finaliser
  h = ((h ^ (h >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  h = ((h ^ (h >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return h ^ (h >> 31n);
}

/** The pair's score: −w / ln(u) with u = (top 53 bits + 0.5) / 2^53, strictly inside (0, 1). */
export function score(key: string, node: WeightedNode): number {
  const u = (Number(pairHash(key, node.name) >> 11n) + 0.5) / 2 ** 53;
  return -node.weight / Math.log(u);
}

/**
 * The nodes ranked for `key`, best first: [owner, first replica, ...]. Ties (equal scores, in practice
 * never) fall to the smaller name so that every node ranks alike. `limit` keeps only the first ones.
 */
export function rank(key: string, nodes: readonly WeightedNode[], limit = nodes.length): string[] {
  const scored = nodes.filter((n) => n.weight > 0).map((n) => ({ name: n.name, s: score(key, n) }));
  scored.sort((a, b) => b.s - a.s || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return scored.slice(0, Math.max(0, limit)).map((n) => n.name);
}

/** The owner of `key` among `nodes`, or undefined when there is none. O(n): cache per view. */
export function ownerOf(key: string, nodes: readonly WeightedNode[]): string | undefined {
  let best: string | undefined;
  let bestScore = -Infinity;
  for (const n of nodes) {
    if (!(n.weight > 0)) continue;
    const s = score(key, n);
    if (s > bestScore || (s === bestScore && best !== undefined && n.name < best)) {
      best = n.name;
      bestScore = s;
    }
  }
  return best;
}

/** Equal weights for a list of names. */
export function evenly(names: readonly string[]): WeightedNode[] {
  return names.map((name) => ({ name, weight: 1 }));
}
