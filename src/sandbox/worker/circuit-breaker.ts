/**
 * A per-agent circuit breaker. After `threshold` consecutive failed calls (a non-zero handler result
 * or a fault) it opens: messages are refused at once, so senders learn quickly instead of queueing
 * behind an agent that fails everything. After `cooldownMs` it lets one message through (half-open);
 * success closes it, failure opens it again with the cool-down doubled (up to `maxCooldownMs`).
 * An operator can open it by hand (until reset) or reset it; a gradual reset lets a share of the
 * messages through that rises linearly from 0 to 100 % over the ramp ('recovering'), split
 * deterministically like a canary (worker/canary.ts): an accumulator admits exactly p in every 100
 * messages while the share is p %.
 * Pure: the clock is passed in.
 */

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. @default 5 */
  readonly threshold: number;
  /** First cool-down, ms. @default 1,000 */
  readonly cooldownMs: number;
  /** Longest cool-down, ms. @default 60,000 */
  readonly maxCooldownMs: number;
}

export const DEFAULT_BREAKER_POLICY: BreakerPolicy = Object.freeze({ threshold: 5, cooldownMs: 1000, maxCooldownMs: 60_000 });

export type BreakerState = 'closed' | 'open' | 'half-open' | 'forced-open' | 'recovering';

export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #cooldown: number;
  #trialInFlight = false;
  /** When the half-open trial was let through. */
  #trialAt = 0;
  // The ramp of a gradual reset: its start, its length, and the split's accumulator.
  #rampStart = 0;
  #rampMs = 0;
  #acc = 0;

  constructor(readonly policy: BreakerPolicy = DEFAULT_BREAKER_POLICY) {
    this.#cooldown = policy.cooldownMs;
  }

  /** True while closed: the fast path checks this before reading the clock. */
  get closed(): boolean {
    return this.#state === 'closed';
  }

  state(nowMs: number): BreakerState {
    if (this.#state === 'open' && nowMs - this.#openedAt >= this.#cooldown) this.#state = 'half-open';
    else if (this.#state === 'recovering' && nowMs - this.#rampStart >= this.#rampMs) this.#state = 'closed';
    return this.#state;
  }

  /** While recovering: the whole percentage of messages let through at `nowMs` (0-99); else 0 or 100. */
  admittedPercent(nowMs: number): number {
    switch (this.state(nowMs)) {
      case 'closed':
        return 100;
      case 'recovering':
        return Math.min(99, Math.max(0, Math.floor((100 * (nowMs - this.#rampStart)) / this.#rampMs)));
      default:
        return 0;
    }
  }

  /**
   * Whether a message may be queued now. In half-open, only one trial at a time; a trial that has
   * neither succeeded nor failed within a cool-down (it was refused after all, found to be a
   * duplicate, or its agent restarted) is given up, so that the breaker can never stay half-open.
   */
  admits(nowMs: number): boolean {
    switch (this.state(nowMs)) {
      case 'closed':
        return true;
      case 'half-open':
        if (this.#trialInFlight && nowMs - this.#trialAt < this.#cooldown) return false;
        this.#trialInFlight = true;
        this.#trialAt = nowMs;
        return true;
      case 'recovering':
        this.#acc += this.admittedPercent(nowMs);
        if (this.#acc < 100) return false;
        this.#acc -= 100;
        return true;
      default:
        return false;
    }
  }

  success(): void {
    this.#failures = 0;
    const s = this.#state;
    // Closed: nothing else to do (the per-message case). Forced open stays until reset; a ramp runs its course.
    if (s === 'closed' || s === 'forced-open' || s === 'recovering') return;
    this.#trialInFlight = false;
    this.#state = 'closed';
    this.#cooldown = this.policy.cooldownMs;
  }

  failure(nowMs: number): void {
    if (this.#state === 'forced-open') return;
    this.#trialInFlight = false;
    if (this.#state === 'half-open') {
      this.#cooldown = Math.min(this.policy.maxCooldownMs, this.#cooldown * 2);
      this.#open(nowMs);
      return;
    }
    if (++this.#failures >= this.policy.threshold && (this.#state === 'closed' || this.#state === 'recovering')) this.#open(nowMs);
  }

  /** The message `admits` just let through as the trial was not queued after all: the next one may try. */
  cancelTrial(): void {
    this.#trialInFlight = false;
  }

  /** Operator action: refuse everything until reset. */
  force(): void {
    this.#state = 'forced-open';
    this.#trialInFlight = false;
  }

  /**
   * Operator action: close and forget the failures. With `rampMs` > 0, a breaker that was not closed
   * recovers gradually instead: the share of messages let through rises from 0 to 100 % over `rampMs`.
   */
  reset(nowMs = 0, rampMs = 0): void {
    const wasClosed = this.#state === 'closed';
    this.#state = 'closed';
    this.#failures = 0;
    this.#trialInFlight = false;
    this.#cooldown = this.policy.cooldownMs;
    if (rampMs > 0 && !wasClosed) {
      this.#state = 'recovering';
      this.#rampStart = nowMs;
      this.#rampMs = rampMs;
      this.#acc = 0;
    }
  }

  #open(nowMs: number): void {
    this.#state = 'open';
    this.#openedAt = nowMs;
    this.#failures = 0;
  }
}
