/**
 * Redelivers at-least-once messages that were not acknowledged in time: their worker died, the node
 * was killed, or the receiver was stopped or full. (A message whose handler crashed is not retried: it
 * is poison, a dead letter at once.) Runs on the main thread; on a
 * node's start its first pass replays whatever the previous run left in the outbox. A message still
 * unacknowledged after `maxAttempts` deliveries goes to the dead-letter queue, except while
 * `holdDeadLetters` says the node is partitioned. A parked row (OutboxStore.park: its message waits in
 * the partition queue) is never due, so the relay neither redelivers nor dead-letters it.
 *
 * Duplicates are expected (a slow receiver may get a second copy): the receiving worker drops copies
 * of message ids it has recently handled.
 */
import type { OutboxStore } from '../storage/outbox-store.js';
import type { DeadLetterQueue, Redelivery } from './dead-letter-queue.js';

export interface RelayOptions {
  /** How often the outbox is scanned, ms. @default 1,000 */
  readonly intervalMs?: number;
  /** Delay before the n-th redelivery: baseDelayMs · 2^(n−1), ms. @default 5,000 */
  readonly baseDelayMs?: number;
  /** Deliveries (first one included) before the message becomes a dead letter. @default 5 */
  readonly maxAttempts?: number;
  /** Messages handled per scan. @default 500 */
  readonly batch?: number;
  /**
   * Asked before a message becomes a dead letter: while it returns true (this node is partitioned) the
   * message is redelivered and rescheduled at the largest back-off instead, since a partition must not
   * turn at-least-once messages into dead letters. @default never
   */
  readonly holdDeadLetters?: () => boolean;
}

export class OutboxRelay {
  readonly #timer: NodeJS.Timeout;
  readonly #opts: Required<RelayOptions>;

  constructor(
    readonly outbox: OutboxStore,
    readonly delivery: Redelivery,
    readonly deadLetters: DeadLetterQueue,
    options: RelayOptions = {},
  ) {
    this.#opts = { intervalMs: 1000, baseDelayMs: 5000, maxAttempts: 5, batch: 500, ...options, holdDeadLetters: options.holdDeadLetters ?? (() => false) };
    this.#timer = setInterval(() => this.tick(), this.#opts.intervalMs);
    this.#timer.unref();
  }

  /** One scan: redelivers what is due. Returns how many messages it handed over. */
  tick(now = Date.now()): number {
    let sent = 0;
    const { maxAttempts, baseDelayMs } = this.#opts;
    let hold: boolean | undefined; // asked once per scan, and only when a message is at its limit
    for (const e of this.outbox.due(now, this.#opts.batch)) {
      // attempts counts redeliveries; the original send was the first delivery.
      if (e.attempts + 1 >= maxAttempts && !(hold ??= this.#opts.holdDeadLetters())) {
        this.deadLetters.record(e.receiver, e.message, `not acknowledged after ${e.attempts + 1} deliveries (at-least-once)`);
        this.outbox.ack(e.messageId);
        continue;
      }
      // Held past its limit, the delay stays at the largest one a message gets (its last redelivery's).
      this.outbox.retry(e.messageId, now + baseDelayMs * 2 ** Math.min(e.attempts, Math.max(maxAttempts - 2, 0)));
      if (this.#send(e.receiver, e.message)) sent++;
    }
    return sent;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #send(receiver: string, message: string): boolean {
    if (receiver !== '') return this.delivery.deliver(receiver, message);
    try {
      const capability = (JSON.parse(message) as { capability?: unknown }).capability;
      return typeof capability === 'string' && this.delivery.deliverToCapability(capability, message) !== undefined;
    } catch {
      return false;
    }
  }
}
