/**
 * The membership the directory needs: who the alive Caxton members are, and a call when that changes.
 * The real cluster (src/cluster/cluster.ts) provides it through `clusterView`; a simulation of
 * thousands of nodes in one process provides its own (one shared list, one callback per node).
 */
import type { Cluster, ClusterMember } from '../cluster.js';

export interface MembershipView {
  /**
   * Names of the alive Caxton members, this node included (isolated nodes left out): the nodes
   * agents are placed on and directory entries are held by. The directory reads it once per change;
   * the array must not change afterwards (return a new one on change).
   */
  alive(): readonly string[];
  /**
   * The members that are up, isolated ones included: an isolated or leaving node is out of placement
   * but still runs its agents until they have moved, so its entries stay valid and messages for those
   * agents go to it. Absent: the same as alive().
   */
  up?(): readonly string[];
  /** Calls `fn` after every change of `alive()` or `up()`. Returns the unsubscribe. */
  onChange(fn: () => void): () => void;
}

/** The Serf tag that marks a Caxton node (node-tags.ts). */
const ROLE_TAG = 'role';
const ROLE_CAXTON = 'caxton';

/**
 * The view of a running cluster: alive (or suspect) members tagged role=caxton (serf agents and other tools in the
 * cluster are members but host no agents); alive() without those `exclude` names (`cluster isolate`,
 * a node leaving), up() with them.
 */
export function clusterView(cluster: Cluster, exclude: (m: ClusterMember) => boolean = () => false): MembershipView {
  const compute = (): { alive: readonly string[]; up: readonly string[] } => {
    // A suspect member is alive until it is declared failed: leaving it out would flap the view.
    const up = cluster.members().filter((m) => (m.status === 'alive' || m.status === 'suspect') && m.tags[ROLE_TAG] === ROLE_CAXTON);
    return { alive: up.filter((m) => !exclude(m)).map((m) => m.name).sort(), up: up.map((m) => m.name).sort() };
  };
  let current = compute();
  const listeners = new Set<() => void>();
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((n, i) => n === b[i]);
  cluster.onEvent(() => {
    const next = compute();
    // Membership events also fire for updates (tag changes) and suspicion, which do not change the view.
    if (same(next.alive, current.alive) && same(next.up, current.up)) return;
    current = next;
    for (const fn of listeners) fn();
  });
  return {
    alive: () => current.alive,
    up: () => current.up,
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

/** A view set by hand: tests and simulations call `set`. */
export class StaticView implements MembershipView {
  #alive: readonly string[];
  #up: readonly string[];
  readonly #listeners = new Set<() => void>();

  /** `up`: the alive nodes and the isolated ones (default: `alive`). */
  constructor(alive: readonly string[], up: readonly string[] = alive) {
    this.#alive = [...alive];
    this.#up = [...up];
  }

  alive(): readonly string[] {
    return this.#alive;
  }

  up(): readonly string[] {
    return this.#up;
  }

  set(alive: readonly string[], up: readonly string[] = alive): void {
    this.#alive = [...alive];
    this.#up = [...up];
    for (const fn of this.#listeners) fn();
  }

  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}
