/**
 * Requests answered by every live worker (stats, conversations): each request gets an id, the
 * answers are collected under it, and the caller gets them all once every worker answered.
 */
import type { ConversationInfo } from './worker/conversations.js';

/** A worker replaced while answering would otherwise leave the caller waiting forever. */
const GATHER_TIMEOUT_MS = 2000;

interface Gather {
  left: number;
  readonly acc: unknown[];
  readonly resolve: (v: unknown[]) => void;
  readonly timer: NodeJS.Timeout;
}

export class Gathers {
  readonly #open = new Map<number, Gather>();
  #nextReq = 1;

  /**
   * Opens a request expecting `answers` replies; `send` posts it (with its id) to the workers.
   * Settles with what came when all answered, or after GATHER_TIMEOUT_MS.
   */
  open(answers: number, send: (reqId: number) => void): Promise<unknown[]> {
    const reqId = this.#nextReq++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(reqId), GATHER_TIMEOUT_MS);
      timer.unref();
      this.#open.set(reqId, { left: answers, acc: [], resolve, timer });
      send(reqId);
    });
  }

  /** One worker's answer; answers to a settled (timed out) request are ignored. */
  answer(reqId: number, items: readonly unknown[]): void {
    const g = this.#open.get(reqId);
    if (g === undefined) return;
    g.acc.push(...items);
    if (--g.left === 0) this.#settle(reqId);
  }

  /** Settles every open request with what it has (the pool is closing). */
  settleAll(): void {
    for (const id of [...this.#open.keys()]) this.#settle(id);
  }

  #settle(reqId: number): void {
    const g = this.#open.get(reqId);
    if (g === undefined) return;
    this.#open.delete(reqId);
    clearTimeout(g.timer);
    g.resolve(g.acc);
  }
}

/**
 * Merges the workers' views of conversations: an agent only tracks what it sent, so one conversation
 * between agents on different workers arrives in parts.
 */
export function mergeConversations(parts: readonly ConversationInfo[]): ConversationInfo[] {
  const merged = new Map<string, ConversationInfo>();
  for (const c of parts) {
    const m = merged.get(c.id);
    if (m === undefined) {
      merged.set(c.id, c);
      continue;
    }
    const later = c.lastActiveAt >= m.lastActiveAt ? c : m;
    merged.set(c.id, {
      id: c.id,
      protocol: m.protocol ?? c.protocol,
      participants: [...new Set([...m.participants, ...c.participants])],
      messages: m.messages + c.messages,
      startedAt: Math.min(m.startedAt, c.startedAt),
      lastActiveAt: later.lastActiveAt,
      lastPerformative: later.lastPerformative,
    });
  }
  return [...merged.values()];
}
