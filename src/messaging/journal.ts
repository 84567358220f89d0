/**
 * A bounded in-memory journal of the messages and failures the main thread sees: what the API sent,
 * replies to API callers, undeliverable and poison messages, system failures, faults. It backs
 * `caxton trace`, `trace --error-cascade` and `caxton analyze messages`. Messages between agents
 * never reach the main thread; `caxton trace` takes those from the workers' hop logs
 * (src/sandbox/worker/hop-log.ts), whose times are on the same clock (journalNow).
 */

/**
 * Epoch milliseconds with a sub-millisecond part, on the clock every thread shares: the journal's
 * and the hop logs' times, so that one conversation's rows order as they happened.
 */
export function journalNow(): number {
  return performance.timeOrigin + performance.now();
}

/** `poison`: a message that crashed its receiver, dead-lettered (docs/sandbox.md, supervision). */
export type JournalKind = 'sent' | 'reply' | 'undeliverable' | 'poison' | 'failure' | 'fault';

export interface JournalEntry {
  readonly time: number;
  readonly kind: JournalKind;
  readonly from: string;
  readonly to: string;
  readonly performative: string | undefined;
  readonly messageId: string | undefined;
  readonly conversationId: string | undefined;
  /** Why (undeliverable, poison, failure, fault), or a short summary. */
  readonly detail: string | undefined;
}

interface Envelope {
  performative?: unknown;
  message_id?: unknown;
  conversation_id?: unknown;
  sender?: unknown;
  receiver?: unknown;
  capability?: unknown;
  content?: unknown;
}

export class MessageJournal {
  #ring: JournalEntry[] = [];
  #next = 0;

  constructor(readonly capacity = 50_000) {}

  /** Records a message given as JSON text (parsed here, off the agents' path). */
  recordMessage(kind: JournalKind, json: string, detail?: string, time = journalNow()): void {
    let m: Envelope = {};
    try {
      m = JSON.parse(json) as Envelope;
    } catch {
      // kept with what we know
    }
    this.recordParsed(kind, m, detail, time);
  }

  /** Records a message the caller already has as an object. */
  recordParsed(kind: JournalKind, m: Envelope, detail?: string, time = journalNow()): void {
    const to = typeof m.receiver === 'string' ? m.receiver : typeof m.capability === 'string' ? `capability:${m.capability}` : '';
    if (kind === 'sent' || kind === 'reply') {
      // A system failure is a reply too; name it as such, with its reason.
      if (m.performative === 'failure' && m.sender === 'caxton') kind = 'failure';
    }
    this.add({
      time,
      kind,
      from: typeof m.sender === 'string' ? m.sender : '',
      to,
      performative: str(m.performative),
      messageId: str(m.message_id),
      conversationId: str(m.conversation_id),
      detail: detail ?? (kind === 'failure' ? summary(m.content) : undefined),
    });
  }

  add(e: JournalEntry): void {
    if (this.#ring.length < this.capacity) this.#ring.push(e);
    else this.#ring[this.#next] = e;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Entries in time order. */
  entries(): JournalEntry[] {
    return this.#ring.length < this.capacity ? [...this.#ring] : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }

  conversation(id: string): JournalEntry[] {
    return this.entries().filter((e) => e.conversationId === id);
  }

  since(time: number): JournalEntry[] {
    return this.entries().filter((e) => e.time >= time);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function summary(content: unknown): string | undefined {
  if (content === undefined) return undefined;
  const text = typeof content === 'string' ? content : JSON.stringify(content);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
