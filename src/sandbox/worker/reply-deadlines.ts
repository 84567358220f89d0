/**
 * `reply_by` deadlines of the messages one agent sent. A reply (a message whose `in_reply_to` is the
 * request's `reply_with`, or, when the request had none, any message in its conversation) clears the
 * deadline; when none comes in time, the agent receives a `failure` from the node with the error
 * `reply_timeout`.
 *
 * Tracked in the initiator's worker: every reply to an agent is delivered there, whether it comes from
 * the same worker or from anywhere else, so no other thread needs to see it.
 */
import { SYSTEM_SENDER } from '../../messaging/system-messages.js';
import type { OutgoingMessage } from '../outgoing.js';
import { REAL_HOST_ENV, type HostClock, type TimerHandle } from '../host-env.js';

/** At most this many open deadlines per agent; beyond, new ones are not tracked (and logged). */
export const MAX_DEADLINES_PER_AGENT = 10_000;

interface Pending {
  readonly timer: TimerHandle;
}

export class ReplyDeadlines {
  readonly #pending = new Map<string, Pending>();

  constructor(
    readonly agent: string,
    /** Delivers the timeout failure to the agent (its own mailbox). */
    readonly deliverToAgent: (json: string) => void,
    /** The clock the deadlines run on: the agent's (RuntimeOptions.env), so a test clock moves them too. */
    readonly clock: HostClock = REAL_HOST_ENV.clock,
  ) {}

  get size(): number {
    return this.#pending.size;
  }

  /** Starts tracking a sent message that carries reply_by. Returns false when over the limit. */
  track(msg: OutgoingMessage, nowMs: number): boolean {
    if (msg.reply_by === undefined) return true;
    const key = keyOf(msg.reply_with, msg.conversation_id);
    if (key === undefined) return true; // nothing a reply could be matched on
    if (this.#pending.size >= MAX_DEADLINES_PER_AGENT && !this.#pending.has(key)) return false;
    this.#clear(key);
    const delay = Math.max(0, Date.parse(msg.reply_by) - nowMs);
    const failure = JSON.stringify({
      message_id: `${msg.message_id}:reply-timeout`,
      performative: 'failure',
      sender: SYSTEM_SENDER,
      receiver: this.agent,
      content: {
        error: 'reply_timeout',
        reason: `no reply from ${msg.receiver ?? msg.capability ?? 'the receiver'} by ${msg.reply_by}`,
        message_id: msg.message_id,
      },
      ...(msg.conversation_id === undefined ? {} : { conversation_id: msg.conversation_id }),
      ...(msg.reply_with === undefined ? {} : { in_reply_to: msg.reply_with }),
      ...(msg.protocol === undefined ? {} : { protocol: msg.protocol }),
    });
    const timer = this.clock.setTimer(() => {
      this.#pending.delete(key);
      this.deliverToAgent(failure);
    }, delay);
    this.#pending.set(key, { timer });
    return true;
  }

  /**
   * Looks at a message delivered to the agent and clears the deadline it answers. Only parses the
   * message while deadlines are open, so agents that use none pay nothing.
   */
  observe(json: string): void {
    if (this.#pending.size === 0) return;
    let m: { in_reply_to?: unknown; conversation_id?: unknown; sender?: unknown };
    try {
      m = JSON.parse(json) as typeof m;
    } catch {
      return;
    }
    if (m.sender === SYSTEM_SENDER) return; // the node's own timeout failure is not a reply
    if (typeof m.in_reply_to === 'string' && this.#clear(`r:${m.in_reply_to}`)) return;
    if (typeof m.conversation_id === 'string') this.#clear(`c:${m.conversation_id}`);
  }

  clearAll(): void {
    for (const p of this.#pending.values()) this.clock.clearTimer(p.timer);
    this.#pending.clear();
  }

  #clear(key: string): boolean {
    const p = this.#pending.get(key);
    if (p === undefined) return false;
    this.clock.clearTimer(p.timer);
    this.#pending.delete(key);
    return true;
  }
}

function keyOf(replyWith: string | undefined, conversationId: string | undefined): string | undefined {
  if (replyWith !== undefined) return `r:${replyWith}`;
  if (conversationId !== undefined) return `c:${conversationId}`;
  return undefined;
}
