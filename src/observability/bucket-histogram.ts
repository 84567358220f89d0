/**
 * A Prometheus histogram whose bucket counts are already counted elsewhere. The agents' handling times
 * are bucketed in the workers (26 power-of-two buckets, see latency.ts); prom-client's Histogram can only
 * observe one value at a time, so re-observing millions of calls per scrape is out. This subclass keeps
 * prom-client's registration and exposition and replaces only where the series come from: each scrape
 * asks `source` for the per-bucket counts and writes them out as cumulative `le` buckets, `+Inf`,
 * `_sum` and `_count`, exactly as prom-client writes its own histograms.
 */
import { Histogram, type MetricType, type Registry } from 'prom-client';

type Exported = Awaited<ReturnType<Histogram['get']>>;

/** One series: its labels, counts per finite bucket (not cumulative), the overflow count, and the sum. */
export interface BucketSeries {
  readonly labels: Readonly<Record<string, string>>;
  /** counts[i] is the number of values ≤ bounds[i] and > bounds[i-1]. */
  readonly counts: readonly number[];
  /** Values above the last bound. */
  readonly overflow: number;
  readonly sum: number;
}

export interface BucketHistogramConfig {
  readonly name: string;
  readonly help: string;
  /** The finite upper bounds, ascending. */
  readonly bounds: readonly number[];
  readonly labelNames?: readonly string[];
  readonly registers: Registry[];
  readonly source: () => Promise<readonly BucketSeries[]>;
}

// prom-client's typings declare `type` as a numeric enum, but the registry writes the field verbatim
// after `# TYPE`, so at run time it must be the string.
const HISTOGRAM = 'histogram' as unknown as MetricType;

export class BucketHistogram extends Histogram<string> {
  readonly #config: BucketHistogramConfig;

  constructor(config: BucketHistogramConfig) {
    // prom-client checks the name and labels, and registers the metric, but not the bounds.
    const b = config.bounds;
    if (b.length === 0 || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= (b[i - 1] as number)))) {
      throw new RangeError(`histogram ${config.name}: bounds must be finite and ascending, got ${JSON.stringify(b)}`);
    }
    super({ name: config.name, help: config.help, buckets: [...config.bounds], labelNames: [...(config.labelNames ?? [])], registers: config.registers });
    this.#config = config;
  }

  override async get(): Promise<Exported> {
    return this.#export();
  }

  /** The registry prefers this over get() when present (prom-client's Histogram has it), so it must agree. */
  async getForPromString(): Promise<Exported> {
    return this.#export();
  }

  async #export(): Promise<Exported> {
    const { name, help, bounds } = this.#config;
    const values: Exported['values'] = [];
    for (const s of await this.#config.source()) {
      let acc = 0;
      for (let i = 0; i < bounds.length; i++) {
        acc += s.counts[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: bounds[i] as number }, value: acc });
      }
      const total = acc + s.overflow;
      values.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: total });
      values.push({ metricName: `${name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${name}_count`, labels: { ...s.labels }, value: total });
    }
    return { name, help, type: HISTOGRAM, aggregator: 'sum', collect: () => undefined, values };
  }
}
