/**
 * N directories over the in-process Peers network, each with its own membership view (so that a
 * partition can show each side a different cluster), all timers on one fake clock.
 */
import { MemoryNetwork, type MemoryPeers } from '../../../helpers/memory-peers.js';
import { FakeClock } from '../membership/fake-clock.js';
import { ClusterDirectory, StaticView, type DirectoryOptions, type HostedAgent } from '../../../../src/cluster/directory/index.js';
import { computeDrift } from '../../../../src/cluster/directory/drift.js';

export const AE_MS = 1000;
export const DEAD_MS = 3000;
export const TOMB_MS = 5000;

export interface Warn {
  readonly node: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

export class Harness {
  readonly net = new MemoryNetwork();
  readonly clock = new FakeClock();
  readonly dirs = new Map<string, ClusterDirectory>();
  readonly peers = new Map<string, MemoryPeers>();
  readonly views = new Map<string, StaticView>();
  readonly warns: Warn[] = [];
  #all: string[];

  constructor(n: number, opts: Partial<DirectoryOptions> = {}) {
    this.#all = Array.from({ length: n }, (_, i) => `node-${i + 1}`);
    for (const name of this.#all) this.start(name, this.#all, opts);
  }

  start(name: string, alive: readonly string[], opts: Partial<DirectoryOptions> = {}): ClusterDirectory {
    const peers = this.net.add(name);
    const view = new StaticView(alive);
    const d = new ClusterDirectory({
      peers,
      view,
      clock: this.clock,
      antiEntropyMs: AE_MS,
      viewChangeDelayMs: 50,
      deadWindowMs: DEAD_MS,
      tombstoneTtlMs: TOMB_MS,
      lookupTtlMs: 100,
      settleMs: 500,
      incarnation: this.clock.now(),
      logger: { debug: () => undefined, warn: (obj, msg) => this.warns.push({ node: name, obj: obj as Record<string, unknown>, msg }) },
      ...opts,
    });
    this.dirs.set(name, d);
    this.peers.set(name, peers);
    this.views.set(name, view);
    return d;
  }

  get names(): string[] {
    return [...this.dirs.keys()];
  }

  d(name: string): ClusterDirectory {
    const d = this.dirs.get(name);
    if (d === undefined) throw new Error(`no directory ${name}`);
    return d;
  }

  /** Gives every node in `nodes` the view `alive`. */
  setView(alive: readonly string[], nodes: readonly string[] = alive): void {
    for (const n of nodes) this.views.get(n)?.set(alive);
  }

  /** Lets every post in flight land (they hop through setImmediate, calls through promises). */
  async settle(): Promise<void> {
    for (let i = 0; i < 8; i++) await new Promise<void>((r) => setImmediate(r));
  }

  /** Moves the fake clock by `ms` in steps, letting posts land between them. */
  async advance(ms: number, step = 100): Promise<void> {
    for (let t = 0; t < ms; t += step) {
      this.clock.advance(Math.min(step, ms - t));
      await this.settle();
    }
  }

  /** Enough time for two anti-entropy rounds everywhere. */
  async rounds(n = 2): Promise<void> {
    await this.advance(n * AE_MS * 1.1 + 200);
  }

  /** Deep verify from `from`: the drift report. */
  async verify(from: string, node?: string) {
    return this.d(from).verify({ deep: true, ...(node === undefined ? {} : { node }) });
  }

  /** Deep verify, computed from every node's own report (no calls): works across partitions. */
  driftOf(nodes: readonly string[]) {
    return computeDrift(new Map(nodes.map((n) => [n, this.d(n).report(true)])), true);
  }

  close(): void {
    for (const d of this.dirs.values()) d.close();
  }
}

export function agent(name: string, extra: Partial<HostedAgent> = {}): HostedAgent {
  return { name, id: `id-${name}`, state: 'running', capabilities: [], topics: [], epoch: 1, ...extra };
}

/** A name whose HRW owner among `alive` is `owner` (and, with `not`, one whose owner is not). */
export function nameOwnedBy(d: ClusterDirectory, owner: string, prefix = 'agent'): string {
  for (let i = 0; i < 10_000; i++) if (d.ownerOf(`${prefix}-${i}`) === owner) return `${prefix}-${i}`;
  throw new Error(`no name owned by ${owner}`);
}

export function nameNotOwnedBy(d: ClusterDirectory, node: string, prefix = 'agent'): string {
  for (let i = 0; i < 10_000; i++) if (d.ownerOf(`${prefix}-${i}`) !== node) return `${prefix}-${i}`;
  throw new Error(`no name not owned by ${node}`);
}
