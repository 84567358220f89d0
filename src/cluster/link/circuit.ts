/**
 * A circuit breaker per peer. Closed: traffic flows, consecutive failures (failed dials and handshakes,
 * call timeouts) are counted and any success resets the count. At `failureThreshold` it opens: posts
 * are refused and calls fail at once, so a dead or stuck peer costs its callers nothing. After
 * `openMs` it is half-open: one probe (a dial) is let through; success closes it, failure opens it
 * again for another `openMs`.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  /** Consecutive failures that open the circuit. @default 5 */
  readonly failureThreshold?: number;
  /** How long it stays open before a probe, ms. @default 2000 */
  readonly openMs?: number;
}

export class Circuit {
  readonly #threshold: number;
  readonly #openMs: number;
  readonly #now: () => number;
  #failures = 0;
  #openedAt = 0;
  #state: CircuitState = 'closed';
  /** Times it opened, for the metrics. */
  opened = 0;

  constructor(options: CircuitOptions = {}, now: () => number = Date.now) {
    this.#threshold = options.failureThreshold ?? 5;
    this.#openMs = options.openMs ?? 2000;
    this.#now = now;
    if (!(this.#threshold >= 1)) throw new RangeError(`circuit failureThreshold ${this.#threshold} must be 1 or more`);
  }

  /** The state now (open turns half-open once openMs has passed). */
  get state(): CircuitState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#openMs) this.#state = 'half-open';
    return this.#state;
  }

  /** True when traffic may be queued (closed, or half-open: the probe's traffic waits for it). */
  get allows(): boolean {
    return this.state !== 'open';
  }

  /** Ms until an open circuit goes half-open (0 when not open). */
  get retryInMs(): number {
    return this.state === 'open' ? Math.max(0, this.#openMs - (this.#now() - this.#openedAt)) : 0;
  }

  success(): void {
    this.#failures = 0;
    this.#state = 'closed';
  }

  /** Counts a failure; true when it opened the circuit. */
  failure(): boolean {
    this.#failures++;
    const s = this.state;
    if (s === 'half-open' || (s === 'closed' && this.#failures >= this.#threshold)) {
      this.#state = 'open';
      this.#openedAt = this.#now();
      this.opened++;
      return true;
    }
    if (s === 'open') this.#openedAt = this.#now();
    return false;
  }
}
