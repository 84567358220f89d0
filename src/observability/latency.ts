/**
 * Pure helpers over the per-call latency histogram that every agent keeps in its worker
 * (AgentRuntimeStats.latency): LATENCY_BUCKET_COUNT counters, bucket 0 counts calls under 1 µs,
 * bucket i ≥ 1 counts calls in [2^(i-1), 2^i) µs, and the last bucket is open-ended (≥ 2^24 µs ≈ 16.8 s).
 *
 * The worker records floor(µs), so a bucket's lower bound is inclusive and its upper bound exclusive.
 *
 * Placing a value inside a bucket: we only know how many calls fell in [lo, 2·lo), not where. The
 * buckets double in width, and call latencies are roughly log-normal, so within one bucket the calls are
 * spread about evenly on a log scale. We therefore interpolate geometrically: the k-th of n calls in
 * the bucket sits at lo · 2^((k − 0.5) / n). A single call lands on the bucket's geometric middle,
 * lo·√2, so the estimate is never off by more than a factor √2 (≈ 41 %), where reporting the upper
 * bound could be off by 2× and would make every quiet agent look twice as slow as it is. Bucket 0
 * ([0, 1 µs)) has no log scale and is interpolated linearly. The open last bucket reports its lower
 * bound: nothing better is known, and such a call is far past any watchdog limit anyway.
 *
 * Prometheus' histogram_quantile() interpolates linearly inside a bucket instead, so it can differ
 * from percentileMs on the same counts by at most the width of the bucket the quantile falls in.
 */

/** Mirrors LATENCY_BUCKETS in src/sandbox/worker-protocol.ts (a unit test checks they agree). */
export const LATENCY_BUCKET_COUNT = 26;

/** Per-bucket counts (not cumulative), as the workers report them. A shorter array means zeros after it. */
export type LatencyHistogram = readonly number[];

/** Lower bound of bucket i, in µs. */
function lowerUs(i: number): number {
  return i === 0 ? 0 : 2 ** (i - 1);
}

/**
 * Upper bound of bucket i, in seconds, for i < LATENCY_BUCKET_COUNT - 1 (the last one is +Inf).
 * Computed as a division so that the printed value is the exact decimal (2^i / 10^6), not 2^i times an
 * inexact 1e-6.
 */
export function bucketUpperSeconds(i: number): number {
  return 2 ** i / 1e6;
}

/** The finite upper bounds of the buckets, in seconds: the `le` values of a Prometheus histogram. */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = Array.from({ length: LATENCY_BUCKET_COUNT - 1 }, (_, i) => bucketUpperSeconds(i));

/** Total number of calls recorded. */
export function count(buckets: LatencyHistogram): number {
  let n = 0;
  for (const c of buckets) n += c;
  return n;
}

/**
 * The q-quantile (0 ≤ q ≤ 1, e.g. 0.99 for P99) of the recorded calls, in milliseconds, placed inside
 * its bucket by geometric interpolation (see the file comment). 0 when nothing was recorded: any
 * recorded call, even one under 1 µs, gives a value above 0, so 0 means "no data".
 */
export function percentileMs(buckets: LatencyHistogram, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is not within 0..1`);
  const n = count(buckets);
  if (n === 0) return 0;
  // Nearest rank (1-based), as the canary's own P99 uses; q = 0 means the first call.
  const rank = Math.max(1, Math.ceil(q * n));
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const inBucket = buckets[i] ?? 0;
    if (below + inBucket < rank) {
      below += inBucket;
      continue;
    }
    const f = (rank - below - 0.5) / inBucket; // in (0, 1): where in the bucket the rank falls
    if (i === 0) return f / 1000; // [0, 1 µs), linear
    if (i >= LATENCY_BUCKET_COUNT - 1) return lowerUs(i) / 1000; // open-ended
    return (lowerUs(i) * 2 ** f) / 1000;
  }
  return 0; // unreachable: rank ≤ n
}

/**
 * Mean call time in milliseconds, 0 when nothing was recorded. Each call counts as its bucket's mean
 * under the same log-uniform assumption as percentileMs: (hi − lo) / ln(hi / lo) = lo / ln 2 for a
 * doubling bucket; 0.5 µs for bucket 0; the lower bound for the open last bucket.
 */
export function meanMs(buckets: LatencyHistogram): number {
  return count(buckets) === 0 ? 0 : sumMs(buckets) / count(buckets);
}

/** Estimated total time of the recorded calls, in milliseconds (the mean's numerator; a histogram's _sum). */
export function sumMs(buckets: LatencyHistogram): number {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) {
    const c = buckets[i] ?? 0;
    if (c === 0) continue;
    const rep = i === 0 ? 0.5 : i >= LATENCY_BUCKET_COUNT - 1 ? lowerUs(i) : lowerUs(i) / Math.LN2;
    total += c * rep;
  }
  return total / 1000;
}

/** Bucket-wise sum of any number of histograms (of any lengths; the result is as long as the longest). */
export function mergeHistograms(...histograms: readonly LatencyHistogram[]): number[] {
  const len = Math.max(LATENCY_BUCKET_COUNT, ...histograms.map((h) => h.length));
  const out = new Array<number>(len).fill(0);
  for (const h of histograms) for (let i = 0; i < h.length; i++) out[i] = (out[i] ?? 0) + (h[i] ?? 0);
  return out;
}

/**
 * What was recorded between two readings of the same counters: `later − earlier`, bucket-wise. If any
 * bucket went down, the counters were reset in between (the agent was re-spawned after its worker was
 * replaced, or removed and started again), and — as Prometheus does for counters — everything in
 * `later` is taken as new.
 */
export function subtractHistograms(later: LatencyHistogram, earlier: LatencyHistogram): number[] {
  const len = Math.max(LATENCY_BUCKET_COUNT, later.length, earlier.length);
  const out = new Array<number>(len).fill(0);
  for (let i = 0; i < len; i++) {
    const d = (later[i] ?? 0) - (earlier[i] ?? 0);
    if (d < 0) return mergeHistograms(later);
    out[i] = d;
  }
  return out;
}
