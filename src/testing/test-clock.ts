/**
 * A clock that moves only when the test says so (TestAgent.advance). Timers armed on it fire in due
 * order, never on their own: a test sees exactly the timers it let become due.
 */
import type { HostClock, TimerHandle } from '../sandbox/host-env.js';

/** The default start of the test clock: 2023-11-14T22:13:20Z, epoch ms. */
export const DEFAULT_TEST_NOW = 1_700_000_000_000;

interface PendingTimer {
  readonly dueAt: number;
  /** Arming order: timers due at the same moment fire in the order they were set. */
  readonly seq: number;
  readonly fn: () => void;
}

export class TestClock implements HostClock {
  #now: number;
  readonly #start: number;
  #seq = 0;
  readonly #pending = new Set<PendingTimer>();

  constructor(now: number = DEFAULT_TEST_NOW) {
    if (!Number.isFinite(now) || now < 0) throw new RangeError(`now must be a non-negative epoch time in ms, got ${now}`);
    this.#now = now;
    this.#start = now;
  }

  now(): number {
    return this.#now;
  }

  nowUs(): bigint {
    return BigInt(Math.round(this.#now * 1000));
  }

  /** Microseconds since the clock was made: moves with advance() and with nothing else. */
  monotonicUs(): bigint {
    return BigInt(Math.round((this.#now - this.#start) * 1000));
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const t: PendingTimer = { dueAt: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#pending.add(t);
    return t;
  }

  clearTimer(timer: TimerHandle): void {
    this.#pending.delete(timer as PendingTimer);
  }

  /** Timers armed and not yet fired. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Takes the earliest timer due at or before `until`, moves the clock to its due time and returns
   * its callback; undefined (the clock unmoved) when none is due by then.
   */
  nextDue(until: number): (() => void) | undefined {
    let first: PendingTimer | undefined;
    for (const t of this.#pending) {
      if (t.dueAt > until) continue;
      if (first === undefined || t.dueAt < first.dueAt || (t.dueAt === first.dueAt && t.seq < first.seq)) first = t;
    }
    if (first === undefined) return undefined;
    this.#pending.delete(first);
    if (first.dueAt > this.#now) this.#now = first.dueAt;
    return first.fn;
  }

  /** Moves the clock to `to` (never backwards). */
  moveTo(to: number): void {
    if (to > this.#now) this.#now = to;
  }
}
