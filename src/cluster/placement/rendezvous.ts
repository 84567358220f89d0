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
 * The pair's 53 bits come from two 32-bit lanes: each name (key and node) is hashed once into two
 * lanes (a cyrb53-style string hash over UTF-16 code units, Math.imul only), the lanes of key and node
 * are combined and put through two rounds of cross-lane mixing (murmur3's finaliser constants), so names
 * differing in one character still score independently. No BigInt and no allocation per pair: a
 * lookup over 5,000 members costs tens of microseconds. The hash is stable across processes, platforms
 * and versions: placement is part of the wire contract between nodes.
 */

/** A candidate node and its weight (> 0; equal weights give plain rendezvous hashing). */
export interface WeightedNode {
  readonly name: string;
  readonly weight: number;
}

/** Two 32-bit lanes of a name's hash, kept per node name (names are few and long-lived). */
interface Lanes {
  readonly a: number;
  readonly b: number;
}

function lanes(s: string): Lanes {
  let a = 0xdeadbeef;
  let b = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 2654435761);
    b = Math.imul(b ^ c, 1597334677);
  }
  // The length too, so that no name is a prefix-collision of another.
  a = Math.imul(a ^ s.length, 2246822507);
  b = Math.imul(b ^ s.length, 3266489909);
  return { a, b };
}

const NODE_LANES_MAX = 100_000;
const nodeLanes = new Map<string, Lanes>();

function lanesOfNode(name: string): Lanes {
  let l = nodeLanes.get(name);
  if (l === undefined) {
    if (nodeLanes.size >= NODE_LANES_MAX) nodeLanes.clear();
    l = lanes(name);
    nodeLanes.set(name, l);
  }
  return l;
}

/** The pair's 53 bits as a number in [0, 2^53). */
function pairBits(k: Lanes, n: Lanes): number {
  // Swap the node's lanes so that (key, node) and (node, key) differ.
  let a = k.a ^ n.b;
  let b = k.b ^ Math.imul(n.a, 0x9e3779b1);
  for (let round = 0; round < 2; round++) {
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
    b = Math.imul(b ^ (b >>> 16), 0x85ebca6b) ^ Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  }
  a ^= a >>> 16;
  b ^= b >>> 15;
  return (b >>> 0) * 2097152 + (a >>> 11);
}

/** The pair's hash, 53 bits: exposed so that tests can pin it (a change moves every agent on upgrade). */
export function pairHash(key: string, node: string): number {
  return pairBits(lanes(key), lanesOfNode(node));
}

function scoreOf(k: Lanes, node: WeightedNode): number {
  const u = (pairBits(k, lanesOfNode(node.name)) + 0.5) / 2 ** 53;
  return -node.weight / Math.log(u);
}

/** The pair's score: −w / ln(u) with u the pair's 53 bits mapped strictly inside (0, 1). */
export function score(key: string, node: WeightedNode): number {
  return scoreOf(lanes(key), node);
}

/**
 * The nodes ranked for `key`, best first: [owner, first replica, ...]. Ties (equal scores, in practice
 * never) fall to the smaller name so that every node ranks alike. `limit` keeps only the first ones.
 */
export function rank(key: string, nodes: readonly WeightedNode[], limit = nodes.length): string[] {
  const k = lanes(key);
  const scored = nodes.filter((n) => n.weight > 0).map((n) => ({ name: n.name, s: scoreOf(k, n) }));
  scored.sort((a, b) => b.s - a.s || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return scored.slice(0, Math.max(0, limit)).map((n) => n.name);
}

/** The owner of `key` among `nodes`, or undefined when there is none. O(n): cache per view. */
export function ownerOf(key: string, nodes: readonly WeightedNode[]): string | undefined {
  const k = lanes(key);
  let best: string | undefined;
  let bestScore = -Infinity;
  for (const n of nodes) {
    if (!(n.weight > 0)) continue;
    const s = scoreOf(k, n);
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
