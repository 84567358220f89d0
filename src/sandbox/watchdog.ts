/**
 * Watches one worker's call counter (WorkerInit.watch) and says when a single call into an agent has
 * run longer than the limit. The worker pays two Atomics.add per call and reads no clock; the main
 * thread samples the counter on a timer. A call is only reported once it was seen still running for
 * `limitMs`, so a call shorter than the limit is never reported, and an overrun is seen at most
 * limitMs + one sampling interval after it started.
 */
import { WATCH_AGENT, WATCH_SEQ } from './worker-protocol.js';

export class CallWatch {
  #lastSeq = -1;
  #since = 0;

  constructor(
    readonly slots: Int32Array,
    readonly limitMs: number,
  ) {}

  /** Returns the key of the agent whose call overran, or undefined. */
  check(nowMs: number): number | undefined {
    const seq = Atomics.load(this.slots, WATCH_SEQ);
    if ((seq & 1) === 0 || seq !== this.#lastSeq) {
      // Idle, or a different call than at the last look.
      this.#lastSeq = seq;
      this.#since = nowMs;
      return undefined;
    }
    return nowMs - this.#since >= this.limitMs ? Atomics.load(this.slots, WATCH_AGENT) : undefined;
  }

  /** Forget the current observation (after the worker was replaced). */
  reset(): void {
    this.#lastSeq = -1;
  }
}

/** How often to sample: a quarter of the limit, within [5 ms, 250 ms]. */
export function watchIntervalMs(limitMs: number): number {
  return Math.min(250, Math.max(5, Math.floor(limitMs / 4)));
}
