/**
 * Per-sender circuits of one agent, against poison messages (docs/sandbox.md "Supervision"). A message
 * that crashes the agent is dead-lettered and the agent re-instantiated at once; a sender whose
 * messages do that `SENDER_POISON_LIMIT` times within `SENDER_POISON_WINDOW_MS` is refused for a
 * cool-down, so that it cannot keep the agent busy re-instantiating. The cool-down doubles each time
 * the same sender trips its circuit again (up to `SENDER_MAX_COOLDOWN_MS`), and starts over once the
 * circuit has stayed closed for `SENDER_FORGET_MS`.
 *
 * Cost: nothing until a circuit is open. Callers read `anyOpen` first; only while it is true is a
 * message parsed to find its sender. Pure: the (wall) clock is passed in, so that the refusal can say
 * when the circuit closes.
 *
 * Named constants rather than config keys, like the agent-wide breaker's (circuit-breaker.ts).
 */

/** Poison messages from one sender within the window that open its circuit. */
export const SENDER_POISON_LIMIT = 3;
/** The window those are counted in, ms. */
export const SENDER_POISON_WINDOW_MS = 60_000;
/** First cool-down of a sender's circuit, ms. */
export const SENDER_COOLDOWN_MS = 60_000;
/** Longest cool-down, ms. */
export const SENDER_MAX_COOLDOWN_MS = 3_600_000;
/** A sender whose circuit has stayed closed this long starts over with the first cool-down, ms. */
export const SENDER_FORGET_MS = 3_600_000;
/** Senders remembered per agent; beyond it the oldest entries make room (open ones last). */
export const SENDER_MAX_TRACKED = 1000;

interface Entry {
  /** Times of recent poison messages, oldest first (at most SENDER_POISON_LIMIT). */
  poisons: number[];
  /** Refused until this time; 0 when the circuit never opened. */
  until: number;
  /** The last cool-down; 0 until the circuit first opened. */
  cooldown: number;
}

export interface OpenSenderCircuit {
  readonly sender: string;
  /** Wall-clock ms when the circuit closes. */
  readonly until: number;
}

export class SenderCircuits {
  /**
   * True while some circuit may still be open (until the latest closing time has passed). The
   * per-message paths read only this while it is false.
   */
  anyOpen = false;
  readonly #entries = new Map<string, Entry>();
  /** The latest `until` of any entry: once past, nothing is open. */
  #lastClose = 0;

  /**
   * Records a poison message from `sender` at `now`. Returns the open circuit when this message
   * opened it, else undefined.
   */
  poisoned(sender: string, now: number): OpenSenderCircuit | undefined {
    let e = this.#entries.get(sender);
    if (e !== undefined && e.poisons.length === 0 && e.cooldown > 0 && now - e.until >= SENDER_FORGET_MS) {
      this.#entries.delete(sender);
      e = undefined;
    }
    if (e === undefined) {
      this.#makeRoom(now);
      e = { poisons: [], until: 0, cooldown: 0 };
      this.#entries.set(sender, e);
    }
    if (e.until > now) return undefined; // already refused; a message queued before it opened
    const since = now - SENDER_POISON_WINDOW_MS;
    while (e.poisons.length > 0 && (e.poisons[0] as number) <= since) e.poisons.shift();
    e.poisons.push(now);
    if (e.poisons.length < SENDER_POISON_LIMIT) return undefined;
    e.poisons = [];
    e.cooldown = e.cooldown > 0 && now - e.until < SENDER_FORGET_MS ? Math.min(SENDER_MAX_COOLDOWN_MS, e.cooldown * 2) : SENDER_COOLDOWN_MS;
    e.until = now + e.cooldown;
    this.anyOpen = true;
    if (e.until > this.#lastClose) this.#lastClose = e.until;
    return { sender, until: e.until };
  }

  /** The open circuit of the message's sender at `now`, if any. Parses the message: call it only while `anyOpen`. */
  refusing(json: string, now: number): OpenSenderCircuit | undefined {
    if (now >= this.#lastClose) {
      this.anyOpen = false;
      return undefined;
    }
    const sender = senderOf(json);
    if (sender === undefined) return undefined;
    const e = this.#entries.get(sender);
    return e !== undefined && e.until > now ? { sender, until: e.until } : undefined;
  }

  /** Circuits open at `now`, for statistics. */
  open(now: number): OpenSenderCircuit[] {
    const out: OpenSenderCircuit[] = [];
    if (!this.anyOpen) return out;
    for (const [sender, e] of this.#entries) if (e.until > now) out.push({ sender, until: e.until });
    return out;
  }

  /** Operator reset: every circuit closes and the history is forgotten. */
  reset(): void {
    this.#entries.clear();
    this.anyOpen = false;
    this.#lastClose = 0;
  }

  #makeRoom(now: number): void {
    if (this.#entries.size < SENDER_MAX_TRACKED) return;
    // A closed entry first, the oldest (insertion order); an open one only when all are open.
    for (const [sender, e] of this.#entries) {
      if (e.until <= now) {
        this.#entries.delete(sender);
        return;
      }
    }
    const oldest = this.#entries.keys().next();
    if (oldest.done !== true) this.#entries.delete(oldest.value);
  }
}

/** The `sender` of a message as JSON text, or undefined. */
export function senderOf(json: string): string | undefined {
  try {
    const s = (JSON.parse(json) as { sender?: unknown }).sender;
    return typeof s === 'string' && s !== '' ? s : undefined;
  } catch {
    return undefined;
  }
}
