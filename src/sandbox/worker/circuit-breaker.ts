/**
 * A per-agent circuit breaker. After `threshold` consecutive failed calls (a non-zero handler result
 * or a fault) it opens: messages are refused at once, so senders learn quickly instead of queueing
 * behind an agent that fails everything. After `cooldownMs` it lets one message through (half-open);
 * success closes it, failure opens it again with the cool-down doubled (up to `maxCooldownMs`).
 * An operator can open it by hand (until reset) or reset it.
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

export type BreakerState = 'closed' | 'open' | 'half-open' | 'forced-open';

export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #cooldown: number;
  #trialInFlight = false;

  constructor(readonly policy: BreakerPolicy = DEFAULT_BREAKER_POLICY) {
    this.#cooldown = policy.cooldownMs;
  }

  /** True while closed: the fast path checks this before reading the clock. */
  get closed(): boolean {
    return this.#state === 'closed';
  }

  state(nowMs: number): BreakerState {
    if (this.#state === 'open' && nowMs - this.#openedAt >= this.#cooldown) this.#state = 'half-open';
    return this.#state;
  }

  /** Whether a message may be queued now. In half-open, only one trial at a time. */
  admits(nowMs: number): boolean {
    switch (this.state(nowMs)) {
      case 'closed':
        return true;
      case 'half-open':
        if (this.#trialInFlight) return false;
        this.#trialInFlight = true;
        return true;
      default:
        return false;
    }
  }

  success(): void {
    if (this.#state === 'forced-open') return;
    this.#failures = 0;
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
    if (++this.#failures >= this.policy.threshold && this.#state === 'closed') this.#open(nowMs);
  }

  /** Operator action: refuse everything until reset. */
  force(): void {
    this.#state = 'forced-open';
    this.#trialInFlight = false;
  }

  /** Operator action: close now and forget the failures. */
  reset(): void {
    this.#state = 'closed';
    this.#failures = 0;
    this.#trialInFlight = false;
    this.#cooldown = this.policy.cooldownMs;
  }

  #open(nowMs: number): void {
    this.#state = 'open';
    this.#openedAt = nowMs;
    this.#failures = 0;
  }
}
