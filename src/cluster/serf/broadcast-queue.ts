/**
 * A transmit-limited broadcast queue, as memberlist v0.2.2 queue.go TransmitLimitedQueue:
 *
 * - each message is handed out at most `retransmitLimit(mult, n)` = mult × ceil(log10(n + 1)) times
 *   (n = numNodes()), then dropped;
 * - `getBroadcasts(overhead, limit)` takes the least-transmitted messages first, larger before smaller,
 *   newer before older at equal size, skipping those that do not fit the room left (each message costs
 *   `overhead` + its length);
 * - a message queued with a `key` replaces a queued message with the same key (memberlist's
 *   NamedBroadcast; we key Serf intents by node so only the newest intent per node is gossiped);
 * - beyond `maxDepth` messages, the most-transmitted (then smallest, oldest) are dropped, as Serf's
 *   checkQueueDepth prunes to MaxQueueDepth.
 */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

interface Item {
  readonly msg: Uint8Array;
  readonly key: string | undefined;
  readonly id: number;
  transmits: number;
}

export interface BroadcastQueueOptions {
  readonly retransmitMult: number;
  readonly numNodes: () => number;
  /** @default 4096 (Serf's MaxQueueDepth) */
  readonly maxDepth?: number;
}

/** queue.go order: fewer transmits first, then longer messages, then newer (higher id). */
function before(a: Item, b: Item): number {
  if (a.transmits !== b.transmits) return a.transmits - b.transmits;
  if (a.msg.length !== b.msg.length) return b.msg.length - a.msg.length;
  return b.id - a.id;
}

export class BroadcastQueue {
  readonly #mult: number;
  readonly #numNodes: () => number;
  readonly #maxDepth: number;
  #items: Item[] = [];
  #nextId = 0;

  constructor(options: BroadcastQueueOptions) {
    this.#mult = options.retransmitMult;
    this.#numNodes = options.numNodes;
    this.#maxDepth = options.maxDepth ?? 4096;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Queues `msg` (not copied: do not modify it afterwards). */
  queue(msg: Uint8Array, key?: string): void {
    if (key !== undefined) this.#items = this.#items.filter((i) => i.key !== key);
    this.#items.push({ msg, key, id: ++this.#nextId, transmits: 0 });
    if (this.#items.length > this.#maxDepth) {
      this.#items.sort(before);
      this.#items.length = this.#maxDepth;
    }
  }

  /** Messages to piggyback, at most `limit` bytes counting `overhead` per message. */
  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    if (this.#items.length === 0) return [];
    const transmitLimit = retransmitLimit(this.#mult, this.#numNodes());
    const ordered = [...this.#items].sort(before);
    const out: Uint8Array[] = [];
    let used = 0;
    for (const item of ordered) {
      const free = limit - used - overhead;
      if (free <= 0) break;
      if (item.msg.length > free) continue;
      used += overhead + item.msg.length;
      out.push(item.msg);
      item.transmits++;
    }
    this.#items = this.#items.filter((i) => i.transmits < transmitLimit);
    if (this.#items.length === 0) this.#nextId = 0;
    return out;
  }

  reset(): void {
    this.#items = [];
    this.#nextId = 0;
  }
}
