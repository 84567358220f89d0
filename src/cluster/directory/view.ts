/**
 * The membership the directory needs: who the alive Caxton members are, and a call when that changes.
 * The real cluster (src/cluster/cluster.ts) provides it through `clusterView`; a simulation of
 * thousands of nodes in one process provides its own (one shared list, one callback per node).
 */
import type { Cluster, ClusterMember } from '../cluster.js';

export interface MembershipView {
  /**
   * Names of the alive Caxton members, this node included (isolated nodes left out). The directory
   * reads it once per change; the array must not change afterwards (return a new one on change).
   */
  alive(): readonly string[];
  /** Calls `fn` after every change of `alive()`. Returns the unsubscribe. */
  onChange(fn: () => void): () => void;
}

/** The Serf tag that marks a Caxton node (node-tags.ts). */
const ROLE_TAG = 'role';
const ROLE_CAXTON = 'caxton';

/**
 * The view of a running cluster: alive (or suspect) members tagged role=caxton (serf agents and other tools in the
 * cluster are members but host no agents), minus those `exclude` names (`cluster isolate`).
 */
export function clusterView(cluster: Cluster, exclude: (m: ClusterMember) => boolean = () => false): MembershipView {
  let current: readonly string[] = [];
  const compute = (): readonly string[] =>
    cluster
      .members()
      // A suspect member is alive until it is declared failed: leaving it out would flap the view.
      .filter((m) => (m.status === 'alive' || m.status === 'suspect') && m.tags[ROLE_TAG] === ROLE_CAXTON && !exclude(m))
      .map((m) => m.name)
      .sort();
  current = compute();
  const listeners = new Set<() => void>();
  cluster.onEvent(() => {
    const next = compute();
    // Membership events also fire for updates (tag changes) and suspicion, which do not change the view.
    if (next.length === current.length && next.every((n, i) => n === current[i])) return;
    current = next;
    for (const fn of listeners) fn();
  });
  return {
    alive: () => current,
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

/** A view set by hand: tests and simulations call `set`. */
export class StaticView implements MembershipView {
  #alive: readonly string[];
  readonly #listeners = new Set<() => void>();

  constructor(alive: readonly string[]) {
    this.#alive = [...alive];
  }

  alive(): readonly string[] {
    return this.#alive;
  }

  set(alive: readonly string[]): void {
    this.#alive = [...alive];
    for (const fn of this.#listeners) fn();
  }

  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}
