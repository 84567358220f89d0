/**
 * One agent's mailbox: four FIFO lanes by priority (critical, high, normal, low), taken highest
 * first. Within a lane, order is arrival order, so the messages of a conversation that share a
 * priority are handled in the order they were sent.
 *
 * Bounded: low, normal and high share `capacity`; critical messages (control traffic) have a
 * reserve of their own, so they still get through to an agent whose mailbox is full.
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

  /**
   * @param capacity messages of priority low, normal and high together
   * @param criticalReserve critical messages on top of that. @default max(16, capacity / 10)
   */
  constructor(
    readonly capacity: number,
    readonly criticalReserve = Math.max(16, Math.floor(capacity / 10)),
  ) {}

  get size(): number {
    return this.#size;
  }

  /** Queues a message; false when its lane's bound is reached (the caller reports backpressure). */
  push(json: string, level: PriorityLevel): boolean {
    const critical = this.#lanes[3].size;
    if (level === CRITICAL ? critical >= this.criticalReserve : this.#size - critical >= this.capacity) return false;
    this.#lanes[level].push(json);
    this.#size++;
    return true;
  }

  /** The next message, highest priority first, or undefined when empty. */
  shift(): string | undefined {
    if (this.#size === 0) return undefined;
    for (let level = 3; level >= 0; level--) {
      const lane = this.#lanes[level as PriorityLevel];
      if (lane.size > 0) {
        this.#size--;
        return lane.shift();
      }
    }
    return undefined;
  }

  /** Empties the mailbox; returns how many messages were dropped. */
  clear(): number {
    const n = this.#size;
    for (const lane of this.#lanes) lane.clear();
    this.#size = 0;
    return n;
  }
}
