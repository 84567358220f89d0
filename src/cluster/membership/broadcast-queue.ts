/**
 * TransmitLimitedQueue (memberlist queue.go): messages waiting to be piggybacked on gossip, each sent
 * at most retransmitLimit(retransmitMult, numNodes()) times.
 *
 * Order (queue.go limitedBroadcast.Less): fewest transmits first, then the largest message, then the
 * newest. getBroadcasts walks the transmit tiers from the freshest and takes, in each tier, the largest
 * message that still fits, until the byte budget is spent. Taking a message counts one transmit; at
 * the limit it leaves the queue and its `finished` callback runs.
 *
 * Invalidation: a named broadcast replaces the queued one with the same name (memberlist names its
 * alive/suspect/dead messages after the node they are about, so news about a node supersedes older
 * news). An unnamed broadcast with `invalidates` replaces every unnamed queued one it invalidates (how
 * Serf's queues work). An unnamed broadcast without it is unique and replaces nothing.
 *
 * Go keeps the items in a B-tree; a sorted array is enough here (queues hold tens to a few thousand
 * messages, and insertion is a binary search plus one splice).
 */
import { retransmitLimit } from './timing.js';

export type FinishReason = 'sent' | 'invalidated' | 'dropped';

export interface Broadcast {
  /** The bytes to send (a whole message, type byte first). Must not change while queued. */
  readonly message: Uint8Array;
  /** Named broadcasts replace any queued broadcast with the same name. */
  readonly name?: string;
  /** For unnamed broadcasts: whether queueing this one makes `other` (also unnamed) obsolete. */
  invalidates?(other: Broadcast): boolean;
  /**
   * Called once when the broadcast leaves the queue: `sent` when it reached its transmit limit,
   * `invalidated` when a newer one replaced it, `dropped` when pruned or reset.
   */
  finished?(reason: FinishReason): void;
}

export interface QueuedBroadcast {
  readonly transmits: number;
  readonly msgLen: number;
  readonly id: number;
  readonly broadcast: Broadcast;
}

interface Item {
  transmits: number;
  readonly msgLen: number;
  readonly id: number;
  readonly b: Broadcast;
}

/** queue.go limitedBroadcast.Less: negative when a sorts before b. */
function compare(a: Item, b: Item): number {
  if (a.transmits !== b.transmits) return a.transmits - b.transmits;
  if (a.msgLen !== b.msgLen) return b.msgLen - a.msgLen;
  return b.id - a.id;
}

export interface TransmitLimitedQueueOptions {
  /** RetransmitMult: sends per message = retransmitMult × ceil(log10(numNodes + 1)). */
  readonly retransmitMult: number;
  /** The cluster size estimate the limit scales with. */
  readonly numNodes: () => number;
}

export class TransmitLimitedQueue {
  readonly retransmitMult: number;
  readonly #numNodes: () => number;
  /** Sorted by compare(). */
  #items: Item[] = [];
  readonly #named = new Map<string, Item>();
  #idGen = 0;

  constructor(options: TransmitLimitedQueueOptions) {
    this.retransmitMult = options.retransmitMult;
    this.#numNodes = options.numNodes;
  }

  /** Queues a broadcast (replacing what it invalidates). `initialTransmits` is for tests. */
  queueBroadcast(b: Broadcast, initialTransmits = 0): void {
    this.#idGen = this.#idGen >= Number.MAX_SAFE_INTEGER ? 1 : this.#idGen + 1;
    const item: Item = { transmits: initialTransmits, msgLen: b.message.length, id: this.#idGen, b };

    if (b.name !== undefined) {
      const old = this.#named.get(b.name);
      if (old !== undefined) {
        this.#delete(old);
        old.b.finished?.('invalidated');
      }
    } else if (b.invalidates !== undefined) {
      // Slow path: only unnamed broadcasts can invalidate one another.
      const stale = this.#items.filter((cur) => cur.b.name === undefined && b.invalidates?.(cur.b) === true);
      for (const cur of stale) {
        this.#delete(cur);
        cur.b.finished?.('invalidated');
      }
    }
    this.#insert(item);
  }

  /**
   * Takes broadcasts for one packet: at most `limit` bytes, counting `overhead` extra bytes per
   * message (compound framing). Each message returned counts as one transmit.
   */
  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    if (this.#items.length === 0) return [];
    const transmitLimit = retransmitLimit(this.retransmitMult, this.#numNodes());

    let bytesUsed = 0;
    const toSend: Uint8Array[] = [];
    const reinsert: Item[] = [];
    let transmits = this.#items[0]?.transmits ?? 0;
    const maxTransmits = this.#items[this.#items.length - 1]?.transmits ?? 0;

    while (transmits <= maxTransmits) {
      const free = limit - bytesUsed - overhead;
      if (free <= 0) break;
      const keep = this.#largestFitting(transmits, free);
      if (keep === undefined) {
        // Nothing of this tier fits: move to the next tier.
        transmits += 1;
        continue;
      }
      bytesUsed += overhead + keep.b.message.length;
      toSend.push(keep.b.message);
      this.#delete(keep);
      if (keep.transmits + 1 >= transmitLimit) {
        keep.b.finished?.('sent');
      } else {
        // Reinsert after the walk, or the item would be met again in the next tier.
        keep.transmits += 1;
        reinsert.push(keep);
      }
    }
    for (const item of reinsert) this.#insert(item);
    return toSend;
  }

  /** Number of queued broadcasts. */
  numQueued(): number {
    return this.#items.length;
  }

  /** Keeps the maxRetain freshest broadcasts and drops (finishes) the rest. */
  prune(maxRetain: number): void {
    while (this.#items.length > Math.max(0, maxRetain)) {
      const last = this.#items[this.#items.length - 1];
      if (last === undefined) break;
      this.#delete(last);
      last.b.finished?.('dropped');
    }
  }

  /** Drops everything (each broadcast is finished). */
  reset(): void {
    const items = this.#items;
    this.#items = [];
    this.#named.clear();
    this.#idGen = 0;
    for (const item of items) item.b.finished?.('dropped');
  }

  /** The queue in transmit order (freshest first), for tests and diagnostics. */
  orderedView(): QueuedBroadcast[] {
    return this.#items.map((i) => ({ transmits: i.transmits, msgLen: i.msgLen, id: i.id, broadcast: i.b }));
  }

  /** The id generator (reset to 0 whenever the queue empties, as in Go); for tests. */
  get idGen(): number {
    return this.#idGen;
  }

  /** The first item of tier `transmits` whose message fits in `free` bytes (the tier is sorted by size, largest first). */
  #largestFitting(transmits: number, free: number): Item | undefined {
    // First index with (transmits, msgLen <= free): compare against the pivot {transmits, free, id: +inf}.
    let lo = 0;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const it = this.#items[mid];
      if (it === undefined) break;
      const before = it.transmits < transmits || (it.transmits === transmits && it.msgLen > free);
      if (before) lo = mid + 1;
      else hi = mid;
    }
    const found = this.#items[lo];
    return found !== undefined && found.transmits === transmits ? found : undefined;
  }

  #insert(item: Item): void {
    let lo = 0;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const it = this.#items[mid];
      if (it !== undefined && compare(it, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.#items.splice(lo, 0, item);
    if (item.b.name !== undefined) this.#named.set(item.b.name, item);
  }

  #delete(item: Item): void {
    const idx = this.#items.indexOf(item);
    if (idx >= 0) this.#items.splice(idx, 1);
    if (item.b.name !== undefined && this.#named.get(item.b.name) === item) this.#named.delete(item.b.name);
    // At idle there is no reason to let the id generator keep going (queue.go deleteItem).
    if (this.#items.length === 0) this.#idGen = 0;
  }
}
