/**
 * The top K nodes of rendezvous(key, alive) for many keys, kept across view changes: recomputing a
 * key costs one hash per member (15 ms per key at 5,000 members), but after a change only the
 * newcomers can outscore the current top K, and only a leaving top-K node forces a full recompute.
 * The result is always the same as `rank(key, evenly(alive), k)`.
 */
import { evenly, rank, score, type WeightedNode } from '../placement/rendezvous.js';

interface Top {
  nodes: string[];
  scores: number[];
}

const before = (s: number, n: string, t: number, m: string): boolean => s > t || (s === t && n < m);

export class TopKCache {
  readonly #k: number;
  readonly #max: number;
  #members: WeightedNode[] = [];
  readonly #tops = new Map<string, Top>();
  /** Results handed out, by key: replaced (not mutated) when the top K changes. */
  readonly #frozen = new Map<string, readonly string[]>();

  constructor(k: number, max: number) {
    this.#k = k;
    this.#max = max;
  }

  /** The top K of `key` (fewer when there are fewer members). The array must not be changed. */
  get(key: string): readonly string[] {
    const f = this.#frozen.get(key);
    if (f !== undefined) return f;
    const nodes = rank(key, this.#members, this.#k);
    const top: Top = { nodes, scores: nodes.map((n) => score(key, { name: n, weight: 1 })) };
    if (this.#tops.size >= this.#max) {
      this.#tops.clear();
      this.#frozen.clear();
    }
    this.#tops.set(key, top);
    const out = Object.freeze([...nodes]);
    this.#frozen.set(key, out);
    return out;
  }

  /** The members changed from `prev` to `next`: keeps what it can, with one hash per newcomer per key. */
  update(next: readonly string[], prev: readonly string[]): void {
    this.#members = evenly(next);
    const nextSet = new Set(next);
    const prevSet = new Set(prev);
    const added = next.filter((n) => !prevSet.has(n));
    const removed = prev.filter((n) => !nextSet.has(n));
    const removedSet = new Set(removed);
    for (const [key, top] of this.#tops) {
      // A top node left, or the top was short (fewer members than K) and members left: recompute later.
      if (top.nodes.some((n) => removedSet.has(n)) || (top.nodes.length < this.#k && removed.length > 0)) {
        this.#tops.delete(key);
        this.#frozen.delete(key);
        continue;
      }
      let changed = false;
      for (const n of added) {
        const s = score(key, { name: n, weight: 1 });
        let i = top.nodes.length;
        while (i > 0 && before(s, n, top.scores[i - 1] as number, top.nodes[i - 1] as string)) i--;
        if (i >= this.#k) continue;
        top.nodes.splice(i, 0, n);
        top.scores.splice(i, 0, s);
        if (top.nodes.length > this.#k) {
          top.nodes.pop();
          top.scores.pop();
        }
        changed = true;
      }
      if (changed) this.#frozen.set(key, Object.freeze([...top.nodes]));
    }
  }
}
