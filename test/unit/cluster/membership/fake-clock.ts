/** A Clock on manual time, for deterministic timer tests. */
import type { Clock, Timer } from '../../../../src/cluster/membership/clock.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  live: boolean;
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Pending[] = [];

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const t: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#timers.push(t);
    return {
      cancel: () => {
        if (!t.live) return false;
        t.live = false;
        return true;
      },
    };
  }

  /** Moves time forward by ms, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.#now = Math.max(this.#now, due.at);
      due.live = false;
      due.fn();
    }
    this.#now = end;
    this.#timers = this.#timers.filter((t) => t.live);
  }

  /** Live timers. */
  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }
}
