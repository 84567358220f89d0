/**
 * Random choices and table housekeeping from memberlist v0.2.2 util.go (randomOffset, shuffleNodes,
 * kRandomNodes, moveDeadNodes), pure so they can be tested with a seeded random source.
 */
import { NodeState } from '../wire/index.js';

/** A source of uniform numbers in [0, 1), like Math.random. */
export type Random = () => number;

/** A uniform index in [0, n); 0 when n is 0. */
export function randomOffset(n: number, random: Random): number {
  if (n <= 0) return 0;
  return Math.min(n - 1, Math.floor(random() * n));
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[], random: Random): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomOffset(i + 1, random);
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
}

/**
 * Up to k distinct nodes picked at random, skipping those `exclude` rejects. Like Go it makes at most
 * 3·n random picks, so it may return fewer than k even when enough nodes qualify (rarely, and it
 * keeps the cost bounded on large tables).
 */
export function kRandomNodes<T>(k: number, nodes: readonly T[], exclude: (node: T) => boolean, random: Random): T[] {
  const n = nodes.length;
  const picked: T[] = [];
  for (let i = 0; i < 3 * n && picked.length < k; i++) {
    const node = nodes[randomOffset(n, random)];
    if (node === undefined || exclude(node)) continue;
    if (picked.includes(node)) continue;
    picked.push(node);
  }
  return picked;
}

export interface Reapable {
  readonly state: number;
  /** When the state last changed, same clock as `now`. */
  readonly stateChange: number;
}

/**
 * Moves the nodes that have been dead or left for longer than gossipToTheDeadMs to the end of the
 * array and returns the index where they start (util.go moveDeadNodes). Others keep their relative
 * order apart from the swaps. memberlist v0.2.2 moves only dead nodes, so left nodes stay in its table
 * forever; HEAD (PR #254) moves left nodes too, and so do we.
 */
export function moveDeadNodes<T extends Reapable>(nodes: T[], gossipToTheDeadMs: number, now: number): number {
  let numDead = 0;
  const n = nodes.length;
  for (let i = 0; i < n - numDead; i++) {
    const node = nodes[i] as T;
    if (node.state !== NodeState.Dead && node.state !== NodeState.Left) continue;
    // Respect the gossip-to-the-dead interval: it may still refute.
    if (now - node.stateChange <= gossipToTheDeadMs) continue;
    const last = n - numDead - 1;
    nodes[i] = nodes[last] as T;
    nodes[last] = node;
    numDead++;
    i--;
  }
  return n - numDead;
}
