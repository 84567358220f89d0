/**
 * Virtual time for the cluster simulation: a membership Clock whose timers live in a binary heap and
 * fire only when the simulation runs them, so a thousand nodes' probe, gossip and suspicion timers
 * advance in virtual seconds at whatever speed the CPU allows.
 *
 * The code under simulation also uses promises and setImmediate (the packet handler drains its
 * handoff queue on a later turn). `run` therefore fires every timer of one millisecond, then yields
 * one real event-loop turn before moving time on, so what those timers set in motion settles at the
 * virtual time it started.
 */
import type { Clock, Timer } from '../../src/cluster/membership/clock.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  live: boolean;
}

export class SimClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: Pending[] = [];
  /** Timers fired so far. */
  fired = 0;

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const t: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#push(t);
    return {
      cancel: () => {
        if (!t.live) return false;
        t.live = false;
        return true;
      },
    };
  }

  /**
   * Runs virtual time forward by `ms`, one busy millisecond at a time (idle stretches are skipped).
   * Stops early when `stop()` turns true (checked after each busy millisecond). Resolves with whether
   * it did (false: the time ran out first).
   */
  async run(ms: number, stop?: () => boolean): Promise<boolean> {
    const end = this.#now + ms;
    while (this.#now < end) {
      const next = this.#peek();
      if (next === undefined || next.at >= end) break;
      if (next.at > this.#now) this.#now = Math.floor(next.at);
      const bucketEnd = this.#now + 1;
      for (let t = this.#peek(); t !== undefined && t.at < bucketEnd; t = this.#peek()) {
        this.#pop();
        t.live = false;
        this.fired += 1;
        t.fn();
      }
      // Let the promises and setImmediate callbacks those timers started run at this virtual time.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.#now = bucketEnd;
      if (stop?.() === true) return true;
    }
    this.#now = end;
    return stop?.() === true;
  }

  #peek(): Pending | undefined {
    // Cancelled timers are dropped lazily as they reach the top.
    while (this.#heap.length > 0 && !(this.#heap[0] as Pending).live) this.#pop();
    return this.#heap[0];
  }

  #less(a: Pending, b: Pending): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(t: Pending): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i] as Pending, h[p] as Pending)) break;
      [h[i], h[p]] = [h[p] as Pending, h[i] as Pending];
      i = p;
    }
  }

  #pop(): Pending | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l] as Pending, h[m] as Pending)) m = l;
        if (r < h.length && this.#less(h[r] as Pending, h[m] as Pending)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Pending, h[i] as Pending];
        i = m;
      }
    }
    return top;
  }
}
