/**
 * The node's handling-time histogram over a sliding window, for caxton_agent_message_latency_p99. A P99
 * over the node's whole life would barely move when an agent turns slow after a day of fast calls; one
 * over "since the previous scrape" would change meaning with every extra scraper. So each scrape keeps a
 * snapshot of the cumulative buckets and the window is "now minus the newest snapshot at least
 * `windowMs` old" (or minus the start, early on).
 */
import { LATENCY_BUCKET_COUNT, subtractHistograms, type LatencyHistogram } from './latency.js';

interface Sample {
  readonly at: number;
  readonly buckets: LatencyHistogram;
}

export class LatencyWindow {
  /** Oldest first; the first one is the baseline. */
  #samples: Sample[];

  constructor(
    readonly windowMs: number,
    now: number,
  ) {
    this.#samples = [{ at: now, buckets: new Array<number>(LATENCY_BUCKET_COUNT).fill(0) }];
  }

  /** Records the cumulative buckets as of `now` and returns the calls within the window. */
  push(now: number, cumulative: LatencyHistogram): number[] {
    this.#samples.push({ at: now, buckets: [...cumulative] });
    // Keep the newest sample that is at least windowMs old as the baseline; drop the ones before it.
    let base = 0;
    for (let i = 1; i < this.#samples.length - 1; i++) if ((this.#samples[i] as Sample).at <= now - this.windowMs) base = i;
    if (base > 0) this.#samples = this.#samples.slice(base);
    return subtractHistograms(cumulative, (this.#samples[0] as Sample).buckets);
  }

  /** Snapshots held (for tests: bounded by window / scrape interval + 2). */
  get size(): number {
    return this.#samples.length;
  }
}
