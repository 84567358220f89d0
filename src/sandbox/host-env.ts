/**
 * Where an agent's host reads time and randomness: the clock behind caxton.time_now_us,
 * caxton.time_monotonic_us and the agent timers (caxton.timer_set), and the source behind
 * caxton.random_fill. The node uses REAL_HOST_ENV; the test harness (src/testing/) passes a clock the
 * test moves by hand and a seeded generator, so that an agent's behaviour is reproducible.
 *
 * Chosen once per instance (createHostImports) and per runtime (RuntimeOptions.env): no call checks
 * which one it has.
 */
import { webcrypto } from 'node:crypto';

/** A pending timer, as the clock that armed it knows it. */
export type TimerHandle = unknown;

export interface HostClock {
  /** Wall clock, epoch milliseconds (when timers are due). */
  now(): number;
  /** Wall clock, epoch microseconds (caxton.time_now_us). */
  nowUs(): bigint;
  /** Monotonic clock, microseconds (caxton.time_monotonic_us). */
  monotonicUs(): bigint;
  /** Calls `fn` once, `ms` from now. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(timer: TimerHandle): void;
}

export interface HostRandom {
  /** Fills `bytes` (a view of guest memory) with random bytes. */
  fill(bytes: Uint8Array): void;
}

export interface HostEnv {
  readonly clock: HostClock;
  readonly random: HostRandom;
}

// Wall-clock time with sub-millisecond resolution, without a Date allocation per call.
const epochOffsetMs = performance.timeOrigin;

export const REAL_HOST_ENV: HostEnv = Object.freeze({
  clock: Object.freeze({
    now: Date.now,
    nowUs: () => BigInt(Math.round((epochOffsetMs + performance.now()) * 1000)),
    // The host's monotonic clock (CLOCK_MONOTONIC), the same in every thread: readings compare across
    // agents, workers, restarts of an agent and of the node, as long as the host does not reboot.
    // performance.now() would not: each worker thread counts from its own start.
    monotonicUs: () => process.hrtime.bigint() / 1000n,
    setTimer: (fn: () => void, ms: number): TimerHandle => setTimeout(fn, ms),
    clearTimer: (t: TimerHandle) => clearTimeout(t as NodeJS.Timeout),
  }),
  random: Object.freeze({
    fill: (bytes: Uint8Array) => {
      webcrypto.getRandomValues(bytes);
    },
  }),
});
