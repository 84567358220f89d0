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

  constructor(o: MonitorOptions) {
    this.#o = o;
    this.#view = this.#compute();
  }

  get view(): PartitionView {
    return this.#view;
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
    const change = { previous, current };
    for (const fn of this.#listeners) fn(change);
    return change;
  }

  #compute(): PartitionView {
    const o = this.#o;
    const reachable: string[] = [];
    for (const m of o.members()) {
      if (m.name === o.self || m.tags['role'] !== 'caxton') continue;
      if (m.status === 'left') o.known.remove(m.name);
      else if (m.status === 'alive' || m.status === 'suspect') {
        o.known.add(m.name);
        reachable.push(m.name);
      }
    }
    if (reachable.length + 1 >= o.expect) o.known.form();
    return partitionView({ self: o.self, expect: o.expect, formed: o.known.formed, known: o.known.names(), reachable });
  }
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
