/**
 * The conversations of one worker's agents, seen from the messages they send: who takes part, under
 * which protocol, how many messages, when it started and when it was last active. A conversation idle
 * for longer than the timeout is forgotten. Bounded: past the limit the least recently active one
 * makes room.
 *
 * Fed from the send path, where the message is already parsed, so tracking costs one Map update.
 */
import { fnv1a } from './fnv1a.js';

export interface ConversationInfo {
  readonly id: string;
  readonly protocol: string | undefined;
  readonly participants: string[];
  readonly messages: number;
  readonly startedAt: number;
  readonly lastActiveAt: number;
  readonly lastPerformative: string;
}

export const DEFAULT_CONVERSATION_IDLE_MS = 5 * 60_000;
export const MAX_CONVERSATIONS_PER_WORKER = 100_000;

interface Entry {
  /** fnv1a of the id, computed once: how the main thread counts conversations across workers. */
  readonly hash: number;
  protocol: string | undefined;
  readonly participants: Set<string>;
  messages: number;
  readonly startedAt: number;
  lastActiveAt: number;
  lastPerformative: string;
}

export class ConversationTable {
  // Map iteration order is insertion order; re-inserting on activity keeps it least-recent first.
  readonly #entries = new Map<string, Entry>();

  constructor(
    readonly idleMs = DEFAULT_CONVERSATION_IDLE_MS,
    readonly limit = MAX_CONVERSATIONS_PER_WORKER,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  record(id: string, sender: string, receiver: string | undefined, performative: string, protocol: string | undefined, nowMs: number): void {
    let e = this.#entries.get(id);
    if (e === undefined) {
      if (this.#entries.size >= this.limit) {
        const oldest = this.#entries.keys().next().value as string;
        this.#entries.delete(oldest);
      }
      e = { hash: fnv1a(id), protocol, participants: new Set(), messages: 0, startedAt: nowMs, lastActiveAt: nowMs, lastPerformative: performative };
    } else {
      this.#entries.delete(id);
    }
    this.#entries.set(id, e);
    e.participants.add(sender);
    if (receiver !== undefined) e.participants.add(receiver);
    e.messages++;
    e.lastActiveAt = nowMs;
    e.lastPerformative = performative;
    if (protocol !== undefined) e.protocol = protocol;
  }

  /** Forgets conversations idle for longer than the timeout; returns how many. */
  sweep(nowMs: number): number {
    let n = 0;
    for (const [id, e] of this.#entries) {
      if (nowMs - e.lastActiveAt <= this.idleMs) break; // the rest are more recent
      this.#entries.delete(id);
      n++;
    }
    return n;
  }

  list(): ConversationInfo[] {
    return [...this.#entries].map(([id, e]) => info(id, e));
  }

  get(id: string): ConversationInfo | undefined {
    const e = this.#entries.get(id);
    return e === undefined ? undefined : info(id, e);
  }

  /**
   * The ids' hashes, for counting conversations without shipping them: one conversation between
   * agents of two workers is in both workers' tables, and the main thread counts distinct hashes.
   */
  hashes(): Uint32Array {
    const out = new Uint32Array(this.#entries.size);
    let i = 0;
    for (const e of this.#entries.values()) out[i++] = e.hash;
    return out;
  }
}

function info(id: string, e: Entry): ConversationInfo {
  return {
    id,
    protocol: e.protocol,
    participants: [...e.participants],
    messages: e.messages,
    startedAt: e.startedAt,
    lastActiveAt: e.lastActiveAt,
    lastPerformative: e.lastPerformative,
  };
}
