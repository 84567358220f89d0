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

const CALL_TIMEOUT_MS = 5000;

/** Per node: applied, or why not. */
export interface FanOutResult {
  readonly applied: readonly NodeName[];
  readonly failed: readonly { readonly node: NodeName; readonly error: string }[];
}

export interface ResolveResult extends FanOutResult {
  readonly prefer: string;
  /** Messages that were queued on the nodes that applied it, replayed from now. */
  readonly replayed: number;
}

export class PartitionControl {
  constructor(
    readonly partitions: Partitions,
    readonly conflicts: ConflictStore,
    readonly peers: Peers,
  ) {
    peers.onCall(HOLD_CALL, () => {
      partitions.holdMerge();
      return { ok: true };
    });
    peers.onCall(RESOLVE_CALL, (_from: NodeName, body: PeerBody) => {
      const prefer = (body as { prefer?: unknown } | null)?.prefer;
      if (typeof prefer !== 'string') throw new CaxtonError('CAXTON_ERR_CLUSTER_FRAME', `${RESOLVE_CALL} takes {prefer}`);
      return { replayed: partitions.resolve() };
    });
  }

  /** Holds the next merge on this node and every node it reaches. */
  async holdMerge(): Promise<FanOutResult> {
    this.partitions.holdMerge();
    return this.#fanOut(HOLD_CALL, {}, () => 0);
  }

  /**
   * Ends a held merge (or the manual strategy) everywhere this node reaches: directories merge, the
   * duplicate agents' claims are settled (the copy with the higher epoch, i.e. the majority's, wins;
   * the loser's state is kept for review) and queued messages are replayed. `prefer` is `majority` or
   * the name of a node of the majority side (the side whose copies win).
   */
  async resolve(prefer: string): Promise<ResolveResult> {
    const p = this.partitions;
    const view = p.view;
    if (!p.mergeHeld && !p.manual && view.state === 'healthy') {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_NOT_PARTITIONED', 'no partition is detected and no merge is held: there is nothing to resolve');
    }
    if (prefer !== 'majority') {
      const side = p.lastSplit;
      if (!view.reachable.includes(prefer) && !view.unreachable.includes(prefer)) {
        throw new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no cluster member named ${prefer}`, { node: prefer });
      }
      if (side !== undefined && !side.majority.includes(prefer)) {
        throw new CaxtonError(
          'CAXTON_ERR_API_INVALID_REQUEST',
          `--prefer ${prefer}: ${prefer} was on the minority side of the last partition ([${side.minority.join(', ')}]); this version settles duplicate agents by epoch, so the majority's copies win. Review what the minority's copies wrote with \`caxton cluster conflicts\``,
          { field: 'prefer' },
        );
      }
    }
    let replayed = p.resolve();
    const r = await this.#fanOut(RESOLVE_CALL, { prefer }, (v) => Number((v as { replayed?: unknown })?.replayed ?? 0));
    replayed += r.total;
    return { prefer, applied: r.applied, failed: r.failed, replayed };
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
