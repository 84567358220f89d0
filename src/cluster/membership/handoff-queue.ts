/**
 * The bounded handoff between packet receipt and the state machine (memberlist net.go
 * highPriorityMsgQueue / lowPriorityMsgQueue, hashicorp/memberlist#159). Alive messages go to the
 * high-priority lane so joins and refutations are not starved by a flood of suspect/dead/user
 * messages. Each lane is LIFO: the newest message is applied first, because under a burst (a
 * thousand-node cluster after a partition) the newest is the likeliest to still be true, and an
 * older suspect or dead message about a node whose alive message was applied since is then a
 * no-op (its incarnation is stale). State messages carry incarnations and user messages Lamport
 * times, so no receiver relies on arrival order.
 *
 * When a lane is full the *oldest* message in it is dropped and counted, not the new one: with LIFO
 * the oldest would be applied last, after everything newer, so it is the one most likely stale.
 * (Go refuses the new message instead, leaving the stale ones to occupy the lane.) The receive path
 * never blocks or grows without bound.
 */
export class HandoffQueue<T> {
  readonly depth: number;
  readonly #high: Lane<T>;
  readonly #low: Lane<T>;
  #dropped = 0;

  constructor(depth: number) {
    this.depth = Math.max(1, Math.floor(depth));
    this.#high = new Lane<T>(this.depth);
    this.#low = new Lane<T>(this.depth);
  }

  /** Queues an item; false when its lane was full and its oldest item was dropped (counted) to make room. */
  push(item: T, high: boolean): boolean {
    const evicted = (high ? this.#high : this.#low).push(item);
    if (evicted) this.#dropped += 1;
    return !evicted;
  }

  /** The newest item of the high-priority lane, else the newest of the low one. */
  shift(): T | undefined {
    return this.#high.pop() ?? this.#low.pop();
  }

  get length(): number {
    return this.#high.size + this.#low.size;
  }

  /** Items dropped because their lane was full. */
  get dropped(): number {
    return this.#dropped;
  }

  clear(): void {
    this.#high.clear();
    this.#low.clear();
  }
}

/** A fixed-capacity ring: push at the top (evicting the bottom when full), pop from the top. */
class Lane<T> {
  readonly #slots: (T | undefined)[];
  #bottom = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#slots = new Array<T | undefined>(capacity).fill(undefined);
  }

  get size(): number {
    return this.#size;
  }

  /** True when the lane was full and its oldest item was evicted. */
  push(item: T): boolean {
    const cap = this.#slots.length;
    if (this.#size === cap) {
      this.#slots[this.#bottom] = item;
      this.#bottom = (this.#bottom + 1) % cap;
      return true;
    }
    this.#slots[(this.#bottom + this.#size) % cap] = item;
    this.#size += 1;
    return false;
  }

  pop(): T | undefined {
    if (this.#size === 0) return undefined;
    this.#size -= 1;
    const i = (this.#bottom + this.#size) % this.#slots.length;
    const item = this.#slots[i];
    this.#slots[i] = undefined;
    return item;
  }

  clear(): void {
    this.#slots.fill(undefined);
    this.#bottom = 0;
    this.#size = 0;
  }
}
