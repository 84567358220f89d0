/**
 * The dead-letter queue: every message the node could not deliver is kept (in SQLite, bounded), can be
 * inspected, replayed once its receiver exists again, or purged. Messages addressed to the node itself
 * (an agent answering a system failure) are not kept: nobody could ever receive them.
 */
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from '../storage/dead-letter-store.js';
import { SYSTEM_SENDER } from './system-messages.js';

/** How the queue hands a replayed message back to the node. */
export interface Redelivery {
  deliver(to: string, json: string): boolean;
  deliverToCapability(capability: string, json: string): string | undefined;
}

export interface ReplayResult {
  readonly id: number;
  readonly delivered: boolean;
  /** The agent it went to, when delivered. */
  readonly to?: string;
  /** Why not, when not delivered. */
  readonly reason?: string;
}

export class DeadLetterQueue {
  constructor(
    readonly store: DeadLetterStore,
    readonly delivery: Redelivery,
  ) {}

  /** Keeps an undeliverable message. Returns its letter id, or undefined when it is not kept. */
  record(to: string, json: string, reason: string): number | undefined {
    if (to === SYSTEM_SENDER) return undefined;
    let messageId: string | null = null;
    let sender: string | null = null;
    let receiver = to;
    try {
      const m = JSON.parse(json) as Record<string, unknown>;
      if (typeof m['message_id'] === 'string') messageId = m['message_id'];
      if (typeof m['sender'] === 'string') sender = m['sender'];
      if (receiver === '' && typeof m['capability'] === 'string') receiver = `capability:${m['capability']}`;
    } catch {
      // kept as it came: the letter shows what was sent
    }
    return this.store.add({ messageId, sender, receiver, reason, message: json });
  }

  list(filter: DeadLetterFilter = {}, limit = 100, afterId = 0): DeadLetter[] {
    return this.store.list(filter, limit, afterId);
  }

  count(filter: DeadLetterFilter = {}): number {
    return this.store.count(filter);
  }

  get(id: number): DeadLetter | undefined {
    return this.store.get(id);
  }

  /** Hands one letter back to the node; it leaves the queue only once it was accepted. */
  replay(id: number): ReplayResult {
    const letter = this.store.get(id);
    if (letter === undefined) return { id, delivered: false, reason: `no dead letter ${id}` };
    let target: { receiver?: unknown; capability?: unknown };
    try {
      target = JSON.parse(letter.message) as typeof target;
    } catch {
      return { id, delivered: false, reason: 'the letter is not JSON; it can only be purged' };
    }
    let to: string | undefined;
    if (typeof target.receiver === 'string') {
      to = this.delivery.deliver(target.receiver, letter.message) ? target.receiver : undefined;
    } else if (typeof target.capability === 'string') {
      to = this.delivery.deliverToCapability(target.capability, letter.message);
    }
    if (to === undefined) return { id, delivered: false, reason: `${letter.receiver} still takes no messages` };
    this.store.delete(id);
    return { id, delivered: true, to };
  }

  /** Replays the matching letters, oldest first, at most `limit` of them. */
  replayAll(filter: DeadLetterFilter = {}, limit = 1000): { replayed: number; failed: number } {
    let replayed = 0;
    let failed = 0;
    let after = 0;
    while (replayed + failed < limit) {
      const batch = this.store.list(filter, Math.min(100, limit - replayed - failed), after);
      if (batch.length === 0) break;
      for (const l of batch) {
        if (this.replay(l.id).delivered) replayed++;
        else failed++;
        after = l.id;
      }
    }
    return { replayed, failed };
  }

  purge(filter: DeadLetterFilter = {}): number {
    return this.store.purge(filter);
  }
}
