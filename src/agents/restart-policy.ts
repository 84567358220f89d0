/**
 * When to bring a crashed agent back, and when to stop trying (OTP's restart intensity).
 * Pure: callers pass the clock in, so the schedule is table-testable.
 */

export interface RestartPolicy {
  /** Delay before the first restart after a quiet period, ms. @default 100 */
  readonly baseDelayMs: number;
  /** Each further restart within the window multiplies the delay by this. @default 2 */
  readonly factor: number;
  /** Upper bound of the delay, ms. @default 30,000 */
  readonly maxDelayMs: number;
  /** More than this many crashes within `windowMs` and the agent is marked failed. @default 5 */
  readonly maxRestarts: number;
  /** The intensity window, ms. @default 60,000 */
  readonly windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = Object.freeze({
  baseDelayMs: 100,
  factor: 2,
  maxDelayMs: 30_000,
  maxRestarts: 5,
  windowMs: 60_000,
});

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly recent: number }
  | { readonly action: 'give_up'; readonly recent: number };

/** Delay for the n-th crash (1-based) within the window. */
export function restartDelay(policy: RestartPolicy, n: number): number {
  return Math.min(policy.maxDelayMs, Math.round(policy.baseDelayMs * policy.factor ** Math.max(0, n - 1)));
}

/** Remembers one agent's recent crashes. */
export class CrashHistory {
  #times: number[] = [];

  constructor(readonly policy: RestartPolicy) {}

  /** Records a crash at `nowMs` and decides what to do about it. */
  record(nowMs: number): RestartDecision {
    const since = nowMs - this.policy.windowMs;
    this.#times = this.#times.filter((t) => t > since);
    this.#times.push(nowMs);
    const recent = this.#times.length;
    if (recent > this.policy.maxRestarts) return { action: 'give_up', recent };
    return { action: 'restart', delayMs: restartDelay(this.policy, recent), recent };
  }

  /** Forget the history (an operator restarted the agent by hand). */
  reset(): void {
    this.#times = [];
  }
}
