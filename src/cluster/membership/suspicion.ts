/**
 * Lifeguard's dynamic suspicion timer (memberlist suspicion.go).
 *
 * A node suspected by one peer starts with a long timeout (max). Each further, independent peer that
 * suspects it (a distinct `From`) is a confirmation that the node is really gone, and shrinks the
 * timeout logarithmically towards min, reached after k confirmations. A node that is merely slow to
 * answer (or a prober that is itself in trouble) thus gets time to refute, while a node everyone
 * agrees on is declared dead quickly. With k = 0 (too few nodes to expect confirmations) the timer
 * starts at min. The timeout function runs at most once.
 */
import type { Clock, Timer } from './clock.js';

/**
 * The time left on a suspicion timer after n confirmations out of k expected, `elapsed` after it
 * started (suspicion.go remainingSuspicionTime):
 *
 *     timeout = max(min, floor_ms(max − log(n + 1) / log(k + 1) × (max − min)))
 *     remaining = timeout − elapsed          (negative: already overdue)
 *
 * The timeout is floored to whole milliseconds as Go does. With k < 1 there is nothing to scale by
 * (Go never calls it then) and the result is min − elapsed.
 */
export function remainingSuspicionTime(n: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs - elapsedMs;
  const frac = Math.log(n + 1) / Math.log(k + 1);
  const raw = maxMs - frac * (maxMs - minMs);
  const timeout = Math.max(minMs, Math.floor(raw));
  return timeout - elapsedMs;
}

export class Suspicion {
  /** Confirmations received so far (not counting the first accuser). */
  #n = 0;
  readonly #k: number;
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #start: number;
  readonly #clock: Clock;
  readonly #confirmations = new Set<string>();
  readonly #fn: (numConfirmations: number) => void;
  #timer: Timer;
  #fired = false;

  /**
   * @param from the first accuser (counts as the start, not as a confirmation)
   * @param k confirmations expected before the timeout reaches min
   * @param fn called once with the number of confirmations when the timer runs out
   */
  constructor(from: string, k: number, minMs: number, maxMs: number, fn: (numConfirmations: number) => void, clock: Clock) {
    this.#k = k;
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#clock = clock;
    this.#fn = fn;
    this.#confirmations.add(from);
    this.#start = clock.now();
    this.#timer = clock.setTimer(k < 1 ? minMs : maxMs, () => this.#fire());
  }

  /** Confirmations counted so far. */
  get confirmations(): number {
    return this.#n;
  }

  /**
   * Records a suspicion from another peer. Returns true when it is new information (a distinct peer,
   * and fewer than k so far), which the caller re-gossips so other nodes can count it too.
   */
  confirm(from: string): boolean {
    // Once we have k confirmations the timer is at min already; more add nothing.
    if (this.#n >= this.#k) return false;
    // The same peer only counts once.
    if (this.#confirmations.has(from)) return false;
    this.#confirmations.add(from);

    this.#n += 1;
    const elapsed = this.#clock.now() - this.#start;
    const remaining = remainingSuspicionTime(this.#n, this.#k, elapsed, this.#minMs, this.#maxMs);
    if (this.#timer.cancel()) {
      // Overdue: fire on a later turn (Go runs it in a goroutine), never inside the caller.
      this.#timer = this.#clock.setTimer(Math.max(0, remaining), () => this.#fire());
    }
    return true;
  }

  /** Stops the timer without firing (the node refuted or was declared dead another way). */
  cancel(): void {
    this.#timer.cancel();
  }

  #fire(): void {
    if (this.#fired) return;
    this.#fired = true;
    this.#fn(this.#n);
  }
}
