/**
 * The bounded handoff between packet receipt and the state machine (memberlist net.go
 * highPriorityMsgQueue / lowPriorityMsgQueue). Alive messages go to the high-priority lane so joins
 * and refutations are not starved by a flood of suspect/dead/user messages. When a lane is full the
 * message is dropped and counted: the receive path never blocks or grows without bound.
 *
 * Go takes the newest message first (list.Back); we keep arrival order (FIFO), so an alive followed
 * by a dead in one packet is applied in the order the sender meant.
 */
export class HandoffQueue<T> {
  readonly depth: number;
  #high: T[] = [];
  #highHead = 0;
  #low: T[] = [];
  #lowHead = 0;
  #dropped = 0;

  constructor(depth: number) {
    this.depth = Math.max(1, Math.floor(depth));
  }

  /** Queues an item; false (and counted) when its lane is full. */
  push(item: T, high: boolean): boolean {
    if (high) {
      if (this.#high.length - this.#highHead >= this.depth) return this.#drop();
      this.#high.push(item);
    } else {
      if (this.#low.length - this.#lowHead >= this.depth) return this.#drop();
      this.#low.push(item);
    }
    return true;
  }

  /** The next item, high-priority lane first. */
  shift(): T | undefined {
    if (this.#highHead < this.#high.length) {
      const item = this.#high[this.#highHead++];
      if (this.#highHead === this.#high.length) {
        this.#high = [];
        this.#highHead = 0;
      }
      return item;
    }
    if (this.#lowHead < this.#low.length) {
      const item = this.#low[this.#lowHead++];
      if (this.#lowHead === this.#low.length) {
        this.#low = [];
        this.#lowHead = 0;
      }
      return item;
    }
    return undefined;
  }

  get length(): number {
    return this.#high.length - this.#highHead + (this.#low.length - this.#lowHead);
  }

  /** Items dropped because a lane was full. */
  get dropped(): number {
    return this.#dropped;
  }

  clear(): void {
    this.#high = [];
    this.#highHead = 0;
    this.#low = [];
    this.#lowHead = 0;
  }

  #drop(): false {
    this.#dropped += 1;
    return false;
  }
}
