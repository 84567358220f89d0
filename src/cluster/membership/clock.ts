/**
 * Time as membership sees it. Every timer goes through a Clock, so tests can run the Lifeguard
 * timers on fake time (test/unit/cluster/membership/fake-clock.ts) and the node can use real time.
 */
export interface Timer {
  /** Stops the timer. True when it had not fired yet (Go's Timer.Stop). */
  cancel(): boolean;
}

export interface Clock {
  /** Milliseconds since the epoch (Member.since and stateChange use it). */
  now(): number;
  /** Calls fn once after ms (0 = on a later turn of the event loop, never synchronously). */
  setTimer(ms: number, fn: () => void): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    let pending = true;
    const h = setTimeout(
      () => {
        pending = false;
        fn();
      },
      Math.max(0, ms),
    );
    return {
      cancel() {
        if (!pending) return false;
        pending = false;
        clearTimeout(h);
        return true;
      },
    };
  },
};

/** Resolves after ms on the given clock (for awaiting inside probes). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimer(ms, resolve);
  });
}

export const TIMED_OUT: unique symbol = Symbol('timed out');

/** The promise's value, or TIMED_OUT if ms pass first (the timer is cancelled either way). */
export function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimer(ms, () => resolve(TIMED_OUT));
    promise.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (err: unknown) => {
        timer.cancel();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
