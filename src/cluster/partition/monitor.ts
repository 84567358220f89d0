/**
 * Which side of a partition this node is on, at every moment: recomputed from membership at each of
 * its events (src/cluster/partition/quorum.ts has the rule). Drives `cluster status`, the
 * `caxton_cluster_partition_state` gauge, the read-only gate and the partition queue.
 */
import type { KnownMembers } from './known-members.js';
import { partitionView, type PartitionView } from './quorum.js';

/** A member as membership reports it (Cluster.members()). */
export interface MonitoredMember {
  readonly name: string;
  readonly status: 'alive' | 'suspect' | 'failed' | 'left';
  readonly tags: Readonly<Record<string, string>>;
}

export interface PartitionChange {
  readonly previous: PartitionView;
  readonly current: PartitionView;
}

export interface MonitorOptions {
  readonly self: string;
  /** coordination.cluster.bootstrap_expect. */
  readonly expect: number;
  readonly known: KnownMembers;
  readonly members: () => readonly MonitoredMember[];
}

export class PartitionMonitor {
  readonly #o: MonitorOptions;
  #view: PartitionView;
  readonly #listeners: ((c: PartitionChange) => void)[] = [];
  /**
   * Members first seen while the cluster was split: they count toward the expected size but not as
   * reachable until the members known before are all reachable again, so that nodes joining a minority
   * cannot make it a second majority.
   */
  readonly #newcomers = new Set<string>();
  /** When the state or the sides last changed (performance.now()). */
  #changedAt = performance.now();
  /** Counts those changes: a takeover confirmed for one view is not for the next (Partitions). */
  #generation = 0;

  constructor(o: MonitorOptions) {
    this.#o = o;
    this.#view = this.#compute();
  }

  get view(): PartitionView {
    return this.#view;
  }

  get self(): string {
    return this.#o.self;
  }

  /** Which view this is: it goes up at every change of the state or the sides. */
  get generation(): number {
    return this.#generation;
  }

  /** How long the view has been as it is, ms. */
  stableForMs(): number {
    return performance.now() - this.#changedAt;
  }

  /**
   * Forgets a member for good (`cluster remove`): it no longer counts toward the cluster's size. A
   * failed member is dropped from membership's list after gossip_to_dead_time and from serf's soon
   * after, which is no removal: only a graceful leave, a removal, or this, shrink the agreed size.
   */
  forget(name: string): PartitionChange | undefined {
    if (name === this.#o.self) return undefined;
    this.#o.known.remove(name);
    this.#newcomers.delete(name);
    return this.update();
  }

  onChange(fn: (c: PartitionChange) => void): void {
    this.#listeners.push(fn);
  }

  /**
   * Recomputes from membership (call it at every membership event). Suspect members count as
   * reachable: only membership's verdict (failed) moves a node to the other side, so a slow probe does
   * not flip the cluster into read-only. Returns the change, if the state or the sides changed.
   */
  update(): PartitionChange | undefined {
    const previous = this.#view;
    const current = this.#compute();
    this.#view = current;
    if (current.state === previous.state && same(current.reachable, previous.reachable) && same(current.unreachable, previous.unreachable) && current.expected === previous.expected) return undefined;
    this.#changedAt = performance.now();
    this.#generation++;
    const change = { previous, current };
    for (const fn of this.#listeners) fn(change);
    return change;
  }

  #compute(): PartitionView {
    const o = this.#o;
    const split = this.#view !== undefined && this.#view.state !== 'healthy' && !this.#view.forming;
    const reachable: string[] = [];
    const suspect: string[] = [];
    for (const m of o.members()) {
      if (m.name === o.self || m.tags['role'] !== 'caxton') continue;
      if (m.status === 'left') {
        o.known.remove(m.name);
        this.#newcomers.delete(m.name);
      } else if (m.status === 'alive' || m.status === 'suspect') {
        if (o.known.add(m.name) && split) this.#newcomers.add(m.name);
        reachable.push(m.name);
        if (m.status === 'suspect') suspect.push(m.name);
      }
    }
    if (reachable.length + 1 >= o.expect) o.known.form();
    const base = { self: o.self, expect: o.expect, formed: o.known.formed, known: o.known.names(), suspect };
    if (this.#newcomers.size > 0) {
      // Healed once every member known before the split is reachable again: newcomers count from then on.
      const before = partitionView({ ...base, known: [...o.known.names()].filter((n) => !this.#newcomers.has(n)), reachable: reachable.filter((n) => !this.#newcomers.has(n)) });
      if (before.state === 'healthy') this.#newcomers.clear();
      else return partitionView({ ...base, reachable: reachable.filter((n) => !this.#newcomers.has(n)) });
    }
    return partitionView({ ...base, reachable });
  }
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
