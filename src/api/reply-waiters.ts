/**
 * Callers of `POST /messages?wait_reply=true` waiting for their reply. Replies to API senders leave the
 * pool as external messages; this matches them by `in_reply_to` (the request's reply_with).
 *
 * An `agree` is an interim answer (fipa-request: agree, then inform or failure), so the wait goes on
 * for the reply after it; the agrees are handed back too.
 */
export class ReplyWaiters {
  readonly #waiting = new Map<string, (json: string, performative: unknown) => void>();

  get size(): number {
    return this.#waiting.size;
  }

  /** Resolves with the final reply's JSON (undefined after `timeoutMs`) and the interim agrees. */
  wait(replyWith: string, timeoutMs: number): { promise: Promise<{ reply: string | undefined; interim: string[] }>; cancel(): void } {
    let cancel = () => {};
    const interim: string[] = [];
    const promise = new Promise<{ reply: string | undefined; interim: string[] }>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(replyWith);
        resolve({ reply: undefined, interim });
      }, timeoutMs);
      this.#waiting.set(replyWith, (json, performative) => {
        if (performative === 'agree') {
          interim.push(json);
          return;
        }
        clearTimeout(timer);
        this.#waiting.delete(replyWith);
        resolve({ reply: json, interim });
      });
      cancel = () => {
        clearTimeout(timer);
        this.#waiting.delete(replyWith);
        resolve({ reply: undefined, interim });
      };
    });
    return { promise, cancel };
  }

  /** Offers a message addressed outside the pool; true when a waiter took it. */
  offer(json: string): boolean {
    if (this.#waiting.size === 0) return false;
    let m: { in_reply_to?: unknown; performative?: unknown };
    try {
      m = JSON.parse(json) as typeof m;
    } catch {
      return false;
    }
    const w = typeof m.in_reply_to === 'string' ? this.#waiting.get(m.in_reply_to) : undefined;
    if (w === undefined) return false;
    w(json, m.performative);
    return true;
  }
}
