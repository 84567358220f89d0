/**
 * Callers of `POST /messages?wait_reply=true` waiting for their reply. Replies to API senders leave the
 * pool as external messages; this matches them to the request they answer: the reply's `in_reply_to`
 * is the request's `reply_with`, and its `receiver` is the request's `sender`. The receiver counts
 * because `reply_with` is the client's to choose: a message for someone else that quotes another
 * caller's `reply_with` is not that caller's reply.
 *
 * An `agree` is an interim answer (fipa-request: agree, then inform or failure), so the wait goes on
 * for the reply after it; the agrees are handed back too.
 */

/** The fields of a message the matching reads. */
export interface ReplyFields {
  readonly receiver?: unknown;
  readonly in_reply_to?: unknown;
  readonly performative?: unknown;
}

type Waiter = (json: string, performative: unknown) => void;

export class ReplyWaiters {
  /** `${sender}\n${reply_with}` → the waiting request. Names cannot hold a newline. */
  readonly #waiting = new Map<string, Waiter>();

  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Waits for the reply to a request `sender` sent with `replyWith`. Resolves with the final reply's
   * JSON (undefined after `timeoutMs` or a cancel) and the interim agrees.
   */
  wait(sender: string, replyWith: string, timeoutMs: number): { promise: Promise<{ reply: string | undefined; interim: string[] }>; cancel(): void } {
    const key = `${sender}\n${replyWith}`;
    let cancel = () => {};
    const interim: string[] = [];
    const promise = new Promise<{ reply: string | undefined; interim: string[] }>((resolve) => {
      // Only its own entry: a later request of the same sender reusing the reply_with took the key over.
      const end = (reply: string | undefined) => {
        clearTimeout(timer);
        if (this.#waiting.get(key) === waiter) this.#waiting.delete(key);
        resolve({ reply, interim });
      };
      const timer = setTimeout(() => end(undefined), timeoutMs);
      const waiter: Waiter = (json, performative) => {
        if (performative === 'agree') interim.push(json);
        else end(json);
      };
      this.#waiting.set(key, waiter);
      cancel = () => end(undefined);
    });
    return { promise, cancel };
  }

  /** Offers a message addressed to an API sender (`m` is its JSON parsed); true when a waiter took it. */
  offer(json: string, m: ReplyFields): boolean {
    if (this.#waiting.size === 0 || typeof m.receiver !== 'string' || typeof m.in_reply_to !== 'string') return false;
    const w = this.#waiting.get(`${m.receiver}\n${m.in_reply_to}`);
    if (w === undefined) return false;
    w(json, m.performative);
    return true;
  }
}
