/**
 * What gossip carries (memberlist broadcast.go): our own alive/suspect/dead messages from a
 * TransmitLimitedQueue, named after the node they are about so newer news replaces older, topped up
 * with the delegate's (Serf's) user messages, each framed as a userMsg `[8][bytes]`.
 */
import { USER_MSG_OVERHEAD, MessageType, encodeMessage } from '../wire/index.js';
import { TransmitLimitedQueue } from './broadcast-queue.js';
import type { Clock } from './clock.js';
import type { MembershipDelegate } from './delegate.js';
import type { MembershipLogger } from './log.js';
import type { Counters } from './stats.js';

export interface BroadcastsEnv {
  readonly retransmitMult: number;
  readonly numNodes: () => number;
  readonly delegate: MembershipDelegate;
  readonly clock: Clock;
  readonly counters: Counters;
  readonly log: MembershipLogger;
}

export class Broadcasts {
  readonly queue: TransmitLimitedQueue;
  readonly #env: BroadcastsEnv;

  constructor(env: BroadcastsEnv) {
    this.#env = env;
    this.queue = new TransmitLimitedQueue({ retransmitMult: env.retransmitMult, numNodes: env.numNodes });
  }

  /**
   * Starts gossiping `message` about `node`; `notify` runs once it is no longer gossiped (sent its
   * full count, or replaced by newer news about the node), as memberlist's notify channel.
   */
  queueBroadcast(node: string, message: Uint8Array, notify?: () => void): void {
    const queuedAt = this.#env.clock.now();
    const counters = this.#env.counters;
    this.queue.queueBroadcast({
      name: node,
      message,
      finished: (reason) => {
        if (reason === 'sent') counters.lastDisseminationMs = this.#env.clock.now() - queuedAt;
        notify?.();
      },
    });
  }

  /** Messages for one packet: ours first, then the delegate's in what space is left. */
  getBroadcasts(overhead: number, limit: number): Uint8Array[] {
    const toSend = this.queue.getBroadcasts(overhead, limit);
    let bytesUsed = 0;
    for (const m of toSend) bytesUsed += m.length + overhead;
    const avail = limit - bytesUsed;
    if (avail <= overhead + USER_MSG_OVERHEAD) return toSend;
    let user: Uint8Array[];
    try {
      user = this.#env.delegate.getBroadcasts(overhead + USER_MSG_OVERHEAD, avail);
    } catch (err) {
      this.#env.log.error({ err }, 'delegate getBroadcasts failed');
      return toSend;
    }
    for (const m of user) {
      // An empty user message would be a lone type byte; Go handles it, but it carries nothing.
      if (m.length === 0) continue;
      toSend.push(encodeMessage(MessageType.User, m));
    }
    return toSend;
  }
}
