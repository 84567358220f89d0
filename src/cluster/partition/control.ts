/**
 * The operator's side of partitions, cluster-wide: `detect-partition --resolve-strategy manual` holds
 * the merge on every node this one reaches, `resolve-partition` ends it on them all. Each node decides
 * for itself (its own Partitions); this only carries the order through Peers.
 */
import { CaxtonError } from '../../errors.js';
import type { NodeName, PeerBody, Peers } from '../peers.js';
import type { ConflictStore } from './conflicts.js';
import type { Partitions } from './partitions.js';

export const HOLD_CALL = 'partition.hold';
export const RESOLVE_CALL = 'partition.resolve';
export const EPOCHS_CALL = 'partition.epochs';
export const FORGET_CALL = 'partition.forget';
export const RECLAIM_CALL = 'partition.reclaim';
/** Answered at once: the quorum confirmation of a takeover (Partitions, `ping`). */
export const PING_CALL = 'partition.ping';

/** What resolving needs of the node's agents (src/agents/cluster-agents.ts). */
export interface ResolvableAgents {
  /** The agents this node runs. */
  running(): string[];
  /** The epochs of those of `names` this node runs. */
  epochsOf(names: readonly string[]): Record<string, number>;
  /** Makes this node's copy win over a copy at epoch `above` (raises its epoch); undefined: not run here. */
  reclaim(name: string, above: number): Promise<number | undefined>;
  /** Claims and moves for the view as it is: duplicates are settled now. */
  resettle(): Promise<void>;
}

const CALL_TIMEOUT_MS = 5000;
/** Raising the epochs of a node's duplicates: a replica push each. */
const RECLAIM_TIMEOUT_MS = 60_000;

/** Per node: applied, or why not. */
export interface FanOutResult {
  readonly applied: readonly NodeName[];
  readonly failed: readonly { readonly node: NodeName; readonly error: string }[];
}

export interface ResolveResult extends FanOutResult {
  readonly prefer: string;
  /** Agents whose preferred copy had its epoch raised above the other copies'. */
  readonly reclaimed: number;
  /** Messages that were queued on the nodes that applied it, replayed from now. */
  readonly replayed: number;
}

export class PartitionControl {
  constructor(
    readonly partitions: Partitions,
    readonly conflicts: ConflictStore,
    readonly peers: Peers,
    readonly agents?: ResolvableAgents,
  ) {
    peers.onCall(PING_CALL, () => ({ ok: true }));
    peers.onCall(HOLD_CALL, () => {
      partitions.holdMerge();
      return { ok: true };
    });
    peers.onCall(RESOLVE_CALL, (_from: NodeName, body: PeerBody) => {
      const prefer = (body as { prefer?: unknown } | null)?.prefer;
      if (typeof prefer !== 'string') throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${RESOLVE_CALL} takes {prefer}`);
      return { replayed: this.#resolveHere() };
    });
    peers.onCall(EPOCHS_CALL, (_from: NodeName, body: PeerBody) => {
      const names = (body as { names?: unknown } | null)?.names;
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${EPOCHS_CALL} takes {names: string[]}`);
      return agents?.epochsOf(names as string[]) ?? {};
    });
    peers.onCall(RECLAIM_CALL, () => this.#reclaimDuplicates());
    peers.onCall(FORGET_CALL, (_from: NodeName, body: PeerBody) => {
      const node = (body as { node?: unknown } | null)?.node;
      if (typeof node !== 'string') throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${FORGET_CALL} takes {node}`);
      partitions.forget(node);
      return { ok: true };
    });
    // A heal held here: the nodes that come back from the other side did not hear the hold; they do now,
    // before their own replay (which waits a settle period).
    partitions.onMergeHeld(() => void this.#fanOut(HOLD_CALL, {}, () => 0));
  }

  /** Whether `node` counts toward this node's agreed cluster size. */
  knows(node: NodeName): boolean {
    return this.partitions.knows(node);
  }

  /** `cluster remove`: `node` no longer counts toward the cluster's size, here and on every node this one reaches. */
  async forget(node: NodeName): Promise<FanOutResult> {
    this.partitions.forget(node);
    return this.#fanOut(FORGET_CALL, { node }, () => 0);
  }

  /** Holds the next merge on this node and every node it reaches. */
  async holdMerge(): Promise<FanOutResult> {
    this.partitions.holdMerge();
    return this.#fanOut(HOLD_CALL, {}, () => 0);
  }

  /**
   * Ends a held merge (or the manual strategy) everywhere this node reaches: directories merge, the
   * duplicate agents' claims are settled (the copy with the higher epoch, i.e. the majority's, wins;
   * the loser's state is kept for review) and queued messages are replayed. `prefer` is `majority`, or
   * a node whose copies of duplicate agents must win (whichever side it was on).
   */
  async resolve(prefer: string): Promise<ResolveResult> {
    const p = this.partitions;
    const view = p.view;
    if (!p.mergeHeld && !p.manual && view.state === 'healthy') {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_NOT_PARTITIONED', 'no partition is detected and no merge is held: there is nothing to resolve');
    }
    let reclaimed = 0;
    if (prefer !== 'majority') {
      if (!view.reachable.includes(prefer)) {
        const known = view.unreachable.includes(prefer);
        throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', known ? `${prefer} is not reachable from ${this.peers.self}: its copies cannot be preferred until it is` : `no cluster member named ${prefer}`, { node: prefer });
      }
      // The preferred node raises its copies' epochs above the others' first, while every node still
      // holds its claims: once they are released, its copies win everywhere.
      const r = prefer === this.peers.self ? await this.#reclaimDuplicates() : await this.peers.call<{ reclaimed: number }>(prefer, RECLAIM_CALL, {}, { timeoutMs: RECLAIM_TIMEOUT_MS });
      reclaimed = r.reclaimed;
    }
    let replayed = this.#resolveHere();
    const r = await this.#fanOut(RESOLVE_CALL, { prefer }, (v) => Number((v as { replayed?: unknown })?.replayed ?? 0));
    replayed += r.total;
    return { prefer, applied: r.applied, failed: r.failed, replayed, reclaimed };
  }

  /** Ends the held merge here and settles this node's duplicates now. Returns the messages that were queued. */
  #resolveHere(): number {
    const n = this.partitions.resolve();
    void this.agents?.resettle();
    return n;
  }

  /**
   * On the preferred node: every agent it runs that another reachable node runs too gets an epoch above
   * the highest other copy's.
   */
  async #reclaimDuplicates(): Promise<{ reclaimed: number }> {
    const agents = this.agents;
    if (agents === undefined) return { reclaimed: 0 };
    const names = agents.running();
    const above = new Map<string, number>();
    const self = this.peers.self;
    await Promise.all(
      this.partitions.view.reachable
        .filter((n) => n !== self)
        .map(async (node) => {
          const epochs = await this.peers.call<Record<string, number>>(node, EPOCHS_CALL, { names }, { timeoutMs: CALL_TIMEOUT_MS });
          for (const [name, e] of Object.entries(epochs)) if (typeof e === 'number') above.set(name, Math.max(above.get(name) ?? 0, e));
        }),
    );
    let reclaimed = 0;
    for (const [name, e] of above) if ((await agents.reclaim(name, e)) !== undefined) reclaimed++;
    return { reclaimed };
  }

  async #fanOut(method: string, body: PeerBody, count: (v: unknown) => number): Promise<FanOutResult & { total: number }> {
    const self = this.peers.self;
    const others = this.partitions.view.reachable.filter((n) => n !== self);
    const applied: NodeName[] = [self];
    const failed: { node: NodeName; error: string }[] = [];
    let total = 0;
    await Promise.all(
      others.map(async (node) => {
        try {
          total += count(await this.peers.call(node, method, body, { timeoutMs: CALL_TIMEOUT_MS }));
          applied.push(node);
        } catch (e) {
          failed.push({ node, error: (e as Error).message });
        }
      }),
    );
    return { applied: applied.sort(), failed, total };
  }
}
