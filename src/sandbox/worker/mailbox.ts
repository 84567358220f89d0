/**
 * One agent's mailbox: four FIFO lanes by priority (critical, high, normal, low), taken highest
 * first. Within a lane, order is arrival order, so the messages of a conversation that share a
 * priority are handled in the order they were sent.
 *
 * Bounded twice, by messages and by bytes: low, normal and high share `capacity` messages and
 * `maxBytes` bytes; critical messages (control traffic) have a reserve of their own of each, so they
 * still get through to an agent whose mailbox is full. A message that would pass either bound is
 * refused whole.
 *
 * Bytes are the strings' length in UTF-16 code units × 2 (what a two-byte JavaScript string
 * occupies), not UTF-8 bytes: `length` is O(1), while the UTF-8 size would need a scan of every
 * message on the enqueue path. For ASCII this counts twice the UTF-8 size; it never counts less than
 * the UTF-8 size of any text.
 */

export const PRIORITY_LEVELS = { low: 0, normal: 1, high: 2, critical: 3 } as const;
export type PriorityLevel = (typeof PRIORITY_LEVELS)[keyof typeof PRIORITY_LEVELS];
export const NORMAL: PriorityLevel = 1;
export const CRITICAL: PriorityLevel = 3;

/** The level of a message's `priority` field; anything unknown or absent is normal. */
export function priorityLevel(value: unknown): PriorityLevel {
  switch (value) {
    case 'critical':
      return 3;
    case 'high':
      return 2;
    case 'low':
      return 0;
    default:
      return 1;
  }
}

class Lane {
  items: string[] = [];
  head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(x: string): void {
    this.items.push(x);
  }

  shift(): string {
    const x = this.items[this.head] as string;
    this.items[this.head] = '';
    this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Compact once the consumed prefix dominates, so the array does not grow without bound.
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return x;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class Mailbox {
  // Index = priority level.
  readonly #lanes = [new Lane(), new Lane(), new Lane(), new Lane()] as const;
  #size = 0;
  /** UTF-16 code units queued, all lanes; and in the critical lane. */
  #units = 0;
  #criticalUnits = 0;
  /** The byte bounds in code units (bytes / 2), so that push compares lengths without a multiply. */
  readonly #maxUnits: number;
  readonly #criticalReserveUnits: number;

  /**
   * @param capacity messages of priority low, normal and high together
   * @param criticalReserve critical messages on top of `capacity`. @default max(16, capacity / 10)
   * @param maxBytes bytes (2 × UTF-16 code units) of messages of priority low, normal and high together. @default unbounded
   * @param criticalReserveBytes bytes of critical messages on top of `maxBytes`. @default maxBytes / 10
   */
  constructor(
    readonly capacity: number,
    readonly criticalReserve = Math.max(16, Math.floor(capacity / 10)),
    readonly maxBytes = Infinity,
    readonly criticalReserveBytes = maxBytes / 10,
  ) {
    this.#maxUnits = Math.floor(maxBytes / 2);
    this.#criticalReserveUnits = Math.floor(criticalReserveBytes / 2);
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes queued (2 × UTF-16 code units), all lanes. */
  get bytes(): number {
    return this.#units * 2;
  }

  /** Queues a message; false when its lane's message or byte bound would be passed (the caller reports backpressure). */
  push(json: string, level: PriorityLevel): boolean {
    const n = json.length;
    const critical = this.#lanes[3].size;
    if (level === CRITICAL) {
      if (critical >= this.criticalReserve || this.#criticalUnits + n > this.#criticalReserveUnits) return false;
      this.#criticalUnits += n;
    } else if (this.#size - critical >= this.capacity || this.#units - this.#criticalUnits + n > this.#maxUnits) {
      return false;
    }
    this.#lanes[level].push(json);
    this.#size++;
    this.#units += n;
    return true;
  }

  /** Whether the message bound (not the byte bound) is what a refused push of this level ran into. */
  fullByCount(level: PriorityLevel): boolean {
    const critical = this.#lanes[3].size;
    return level === CRITICAL ? critical >= this.criticalReserve : this.#size - critical >= this.capacity;
  }

  /** The next message, highest priority first, or undefined when empty. */
  shift(): string | undefined {
    if (this.#size === 0) return undefined;
    for (let level = 3; level >= 0; level--) {
      const lane = this.#lanes[level as PriorityLevel];
      if (lane.size > 0) {
        this.#size--;
        const x = lane.shift();
        this.#units -= x.length;
        if (level === CRITICAL) this.#criticalUnits -= x.length;
        return x;
      }
    }
    return undefined;
  }

  /** Empties the mailbox; returns how many messages were dropped. */
  clear(): number {
    const n = this.#size;
    for (const lane of this.#lanes) lane.clear();
    this.#size = 0;
    this.#units = 0;
    this.#criticalUnits = 0;
    return n;
  }
}
