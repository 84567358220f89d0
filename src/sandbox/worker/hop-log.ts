/**
 * The last messages one worker's agents sent in conversations: a fixed-size ring kept for
 * `caxton trace`, which otherwise sees only what crosses the main thread (the API's messages, replies
 * to it, failures) and not the hops between agents.
 *
 * Recording is on the send path, so it allocates nothing for a message to a receiver: each slot of
 * parallel arrays takes references to strings the message already has and the time as a number (the
 * `capability:`/`topic:` name of a message without a receiver is the one string made here). The ring is bounded for the
 * whole worker (not per conversation), so a flood of conversations costs no more memory than one.
 */

export interface Hop {
  readonly time: number;
  readonly conversationId: string;
  readonly from: string;
  /** The receiver, or `capability:<name>` / `topic:<name>` for a message without one. */
  readonly to: string;
  readonly performative: string;
  readonly messageId: string;
}

/** Hops kept per worker. At about 150 bytes a hop, some 10 MiB when full. */
export const HOP_LOG_CAPACITY = 65_536;

export class HopLog {
  readonly #time: Float64Array;
  readonly #conversation: string[];
  readonly #from: string[];
  readonly #to: string[];
  readonly #performative: string[];
  readonly #messageId: string[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity = HOP_LOG_CAPACITY) {
    this.#time = new Float64Array(capacity);
    // Filled up front so the arrays stay packed (no holes, no shape changes as the ring fills).
    this.#conversation = new Array<string>(capacity).fill('');
    this.#from = new Array<string>(capacity).fill('');
    this.#to = new Array<string>(capacity).fill('');
    this.#performative = new Array<string>(capacity).fill('');
    this.#messageId = new Array<string>(capacity).fill('');
  }

  get size(): number {
    return this.#size;
  }

  record(conversationId: string, from: string, to: string, performative: string, messageId: string, nowMs: number): void {
    const i = this.#next;
    this.#time[i] = nowMs;
    this.#conversation[i] = conversationId;
    this.#from[i] = from;
    this.#to[i] = to;
    this.#performative[i] = performative;
    this.#messageId[i] = messageId;
    this.#next = i + 1 === this.capacity ? 0 : i + 1;
    if (this.#size < this.capacity) this.#size++;
  }

  /** The hops of one conversation still in the ring, oldest first. */
  forConversation(id: string): Hop[] {
    const out: Hop[] = [];
    const start = this.#size < this.capacity ? 0 : this.#next;
    for (let k = 0; k < this.#size; k++) {
      const i = (start + k) % this.capacity;
      if (this.#conversation[i] !== id) continue;
      out.push({
        time: this.#time[i] as number,
        conversationId: id,
        from: this.#from[i] as string,
        to: this.#to[i] as string,
        performative: this.#performative[i] as string,
        messageId: this.#messageId[i] as string,
      });
    }
    return out;
  }
}
