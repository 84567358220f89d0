/**
 * `caxton cluster performance`: this node's live figures against DESIGN.md's performance budgets, in
 * the runbook's METRIC / TARGET / ACTUAL / STATUS shape.
 *
 * Latencies and rates are read from the node's own Prometheus metrics (by name, from any registry
 * given), over a sliding window: each reading keeps a snapshot of the cumulative values, and the
 * window is "now minus the newest snapshot at least `windowMs` old" (or minus the node's start,
 * early on), as caxton_agent_message_latency_p99 does. A metric that is not registered (the
 * cross-node route latency before the cluster link exists) is `n/a`; one with no samples in the
 * window is `no_data`. Neither counts as degraded.
 *
 * Percentiles are placed inside their bucket by linear interpolation, as Prometheus'
 * histogram_quantile() does, so the figure matches what a dashboard shows for the same window.
 */
import type { Registry } from 'prom-client';
import type { DetectionReading } from '../cluster/failure-detection.js';

/** DESIGN.md "Performance budgets"; each row says which budget line it holds the metric to. */
export const PERFORMANCE_TARGETS = {
  /** Local agent→agent across workers (the path through the main thread): P50 ≤ 30 µs, P99 ≤ 200 µs. */
  routingP50Seconds: 30e-6,
  routingP99Seconds: 200e-6,
  /** Cross-node request→reply, loopback: P50 ≤ 150 µs, P99 ≤ 500 µs. */
  crossNodeP50Seconds: 150e-6,
  crossNodeP99Seconds: 500e-6,
  /** Failure detection ≤ 3 s (the `fast` profile; lan's timings take about 5.5 s by design). */
  failureDetectionSeconds: 3,
  /** Messages per second, one node, 2 cores: ≥ 300,000. */
  throughputPerSecond: 300_000,
  /** Agent start from a cached module: P50 ≤ 1 ms, P99 ≤ 5 ms. */
  agentStartP50Seconds: 0.001,
  agentStartP99Seconds: 0.005,
} as const;

/** The metrics read, by name (docs/metrics.md). */
export const PERFORMANCE_METRICS = {
  routing: 'caxton_message_routing_duration_seconds',
  crossNode: 'caxton_cluster_link_call_latency_seconds',
  handled: 'caxton_messages_received_total',
  queueDepth: 'caxton_queue_depth',
  agentStart: 'caxton_agent_spawn_duration_seconds',
} as const;

/** The runbook's backlog rule (`caxton queue stats`): a node with more queued is not keeping up. */
export const BACKLOG_DEPTH = 10_000;

export const DEFAULT_PERFORMANCE_WINDOW_MS = 60_000;

export type PerformanceStatus = 'ok' | 'degraded' | 'no_data' | 'n/a';

export interface PerformanceRow {
  /** Stable key for scripts: routing_p50, routing_p99, cross_node_p50, ... */
  readonly key: string;
  /** As the table shows it: "Message routing P99". */
  readonly metric: string;
  readonly unit: 'seconds' | 'per_second';
  readonly target: number;
  /** null: no figure (see status). */
  readonly actual: number | null;
  readonly status: PerformanceStatus;
  /** measured: from what happened; expected: computed from the configuration (failure detection before any failure). */
  readonly basis: 'measured' | 'expected';
  /** Where the figure comes from: a metric name, or `membership`. */
  readonly source: string;
  /** What the figure means when that is not obvious (expected vs observed, why n/a). */
  readonly note: string | null;
}

export interface PerformanceView {
  readonly node: string;
  readonly window_ms: number;
  readonly metrics: PerformanceRow[];
}

export interface NodePerformanceOptions {
  readonly nodeId: string;
  /** Where the metrics are registered (the node's NodeMetrics registry, and any other part's). */
  readonly registries: () => readonly Registry[];
  /** Failure detection; absent on a single node (the row is n/a). */
  readonly detection?: () => DetectionReading;
  /** @default 60 s */
  readonly windowMs?: number;
  readonly now?: () => number;
}

/** Cumulative values of one metric: a histogram's per-bound counts then +Inf, or a counter's one value. */
interface Snapshot {
  readonly at: number;
  readonly values: readonly number[];
}

interface HistogramReading {
  /** Finite upper bounds, ascending, seconds. */
  readonly bounds: readonly number[];
  /** Cumulative counts per bound, then the +Inf count (the total). */
  readonly cumulative: readonly number[];
}

export class NodePerformance {
  readonly windowMs: number;
  readonly #o: NodePerformanceOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #snapshots = new Map<string, Snapshot[]>();

  constructor(o: NodePerformanceOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.windowMs = o.windowMs ?? DEFAULT_PERFORMANCE_WINDOW_MS;
    if (!(this.windowMs > 0)) throw new RangeError(`windowMs ${this.windowMs} must be above 0`);
    this.#startedAt = this.#now();
  }

  async view(): Promise<PerformanceView> {
    const T = PERFORMANCE_TARGETS;
    const M = PERFORMANCE_METRICS;
    const now = this.#now();
    // The counter first: reading it makes NodeMetrics gather the pool's figures, the queue depth too.
    const handled = await this.#counterWindow(M.handled, now);
    const depth = await this.#value(M.queueDepth);
    const routing = await this.#histogramWindow(M.routing, now);
    const cross = await this.#histogramWindow(M.crossNode, now);
    const start = await this.#histogramWindow(M.agentStart, now);
    const rows: PerformanceRow[] = [
      latencyRow('routing_p50', 'Message routing P50', routing, 0.5, T.routingP50Seconds, M.routing),
      latencyRow('routing_p99', 'Message routing P99', routing, 0.99, T.routingP99Seconds, M.routing),
      latencyRow('cross_node_p50', 'Cross-node round trip P50', cross, 0.5, T.crossNodeP50Seconds, M.crossNode),
      latencyRow('cross_node_p99', 'Cross-node round trip P99', cross, 0.99, T.crossNodeP99Seconds, M.crossNode),
      this.#detectionRow(),
      throughputRow(handled, depth),
      latencyRow('agent_start_p50', 'Agent start P50', start, 0.5, T.agentStartP50Seconds, M.agentStart),
      latencyRow('agent_start_p99', 'Agent start P99', start, 0.99, T.agentStartP99Seconds, M.agentStart),
    ];
    return { node: this.#o.nodeId, window_ms: this.windowMs, metrics: rows };
  }

  #detectionRow(): PerformanceRow {
    const base = { key: 'failure_detection', metric: 'Failure detection', unit: 'seconds', target: PERFORMANCE_TARGETS.failureDetectionSeconds, source: 'membership' } as const;
    if (this.#o.detection === undefined) return { ...base, actual: null, status: 'n/a', basis: 'measured', note: 'single node: no cluster membership' };
    const r = this.#o.detection();
    const s = r.ms / 1000;
    const note =
      r.source === 'observed'
        ? `observed: ${r.node ?? 'a member'} failed at ${new Date(r.at ?? 0).toISOString()} (suspicion seen here + one probe interval and timeout)`
        : 'expected from the running timings and member count (no failure observed since start)';
    return { ...base, actual: s, status: s <= base.target ? 'ok' : 'degraded', basis: r.source === 'observed' ? 'measured' : 'expected', note };
  }

  /** The histogram's counts within the window; undefined when no registry has it. */
  async #histogramWindow(name: string, now: number): Promise<{ bounds: readonly number[]; counts: number[] } | undefined> {
    const h = await this.#histogram(name);
    if (h === undefined) return undefined;
    return { bounds: h.bounds, counts: this.#windowed(name, now, h.cumulative) };
  }

  /** The counter's growth per second within the window; undefined when no registry has it. */
  async #counterWindow(name: string, now: number): Promise<{ perSecond: number; seconds: number } | undefined> {
    const v = await this.#value(name);
    if (v === undefined) return undefined;
    const snaps = this.#snapshots.get(name);
    const base = snaps === undefined ? { at: this.#startedAt, values: [0] } : this.#baseline(snaps, now);
    const grew = this.#windowed(name, now, [v])[0] ?? 0;
    const seconds = Math.max(1e-3, (now - base.at) / 1000);
    return { perSecond: grew / seconds, seconds };
  }

  /** Records `cumulative` as of `now` and returns it minus the window's baseline (all of it after a reset). */
  #windowed(name: string, now: number, cumulative: readonly number[]): number[] {
    let snaps = this.#snapshots.get(name);
    if (snaps === undefined) {
      snaps = [{ at: this.#startedAt, values: cumulative.map(() => 0) }];
      this.#snapshots.set(name, snaps);
    }
    const base = this.#baseline(snaps, now);
    snaps.push({ at: now, values: [...cumulative] });
    // Keep the baseline and what came after it; the ones before can no longer be a baseline.
    const i = snaps.indexOf(base);
    if (i > 0) snaps.splice(0, i);
    const diff = cumulative.map((v, j) => v - (base.values[j] ?? 0));
    return diff.some((d) => d < 0) ? [...cumulative] : diff;
  }

  /** The newest snapshot at least windowMs old, else the oldest one. */
  #baseline(snaps: readonly Snapshot[], now: number): Snapshot {
    let base = snaps[0] as Snapshot;
    for (const s of snaps) if (s.at <= now - this.windowMs) base = s;
    return base;
  }

  async #histogram(name: string): Promise<HistogramReading | undefined> {
    for (const r of this.#o.registries()) {
      const m = r.getSingleMetric(name);
      if (m === undefined) continue;
      const { values } = await m.get();
      // Every series (label set) summed per bound: one figure for the node.
      const byBound = new Map<number, number>();
      let inf = 0;
      for (const v of values) {
        if ((v as { metricName?: string }).metricName !== `${name}_bucket`) continue;
        const le = v.labels['le'];
        if (le === '+Inf') inf += v.value;
        else if (le !== undefined) byBound.set(Number(le), (byBound.get(Number(le)) ?? 0) + v.value);
      }
      const bounds = [...byBound.keys()].sort((a, b) => a - b);
      return { bounds, cumulative: [...bounds.map((b) => byBound.get(b) ?? 0), inf] };
    }
    return undefined;
  }

  /** A counter's or gauge's value, every series summed. */
  async #value(name: string): Promise<number | undefined> {
    for (const r of this.#o.registries()) {
      const m = r.getSingleMetric(name);
      if (m === undefined) continue;
      const { values } = await m.get();
      return values.reduce((n, v) => n + v.value, 0);
    }
    return undefined;
  }
}

/**
 * The q-quantile of windowed cumulative counts (per bound, then +Inf), seconds, interpolated linearly
 * inside its bucket as histogram_quantile() does; the last finite bound when it falls past it. 0
 * when there is nothing.
 */
export function quantileSeconds(bounds: readonly number[], cumulative: readonly number[], q: number): number {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (total <= 0) return 0;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const c = cumulative[i] ?? 0;
    if (c < rank) continue;
    const below = i === 0 ? 0 : (cumulative[i - 1] ?? 0);
    const lo = i === 0 ? 0 : (bounds[i - 1] as number);
    const hi = bounds[i] as number;
    return c === below ? hi : lo + ((hi - lo) * (rank - below)) / (c - below);
  }
  return bounds[bounds.length - 1] ?? 0;
}

function latencyRow(key: string, metric: string, h: { bounds: readonly number[]; counts: number[] } | undefined, q: number, target: number, source: string): PerformanceRow {
  const base = { key, metric, unit: 'seconds', target, source, basis: 'measured' } as const;
  if (h === undefined) return { ...base, actual: null, status: 'n/a', note: `${source} is not measured on this node` };
  if ((h.counts[h.counts.length - 1] ?? 0) === 0) return { ...base, actual: null, status: 'no_data', note: 'nothing measured in the window' };
  const actual = quantileSeconds(h.bounds, h.counts, q);
  return { ...base, actual, status: actual <= target ? 'ok' : 'degraded', note: null };
}

/**
 * A live rate is load, not capacity: a quiet node handles few messages and is fine. The node is
 * degraded on throughput only when it has a backlog (more than BACKLOG_DEPTH queued) while handling
 * fewer messages per second than the budget.
 */
function throughputRow(handled: { perSecond: number } | undefined, depth: number | undefined): PerformanceRow {
  const base = { key: 'throughput', metric: 'Throughput', unit: 'per_second', target: PERFORMANCE_TARGETS.throughputPerSecond, source: PERFORMANCE_METRICS.handled, basis: 'measured' } as const;
  if (handled === undefined) return { ...base, actual: null, status: 'n/a', note: `${base.source} is not measured on this node` };
  const backlog = (depth ?? 0) > BACKLOG_DEPTH;
  const degraded = backlog && handled.perSecond < base.target;
  const note = backlog ? `${depth ?? 0} messages queued (backlog above ${BACKLOG_DEPTH})` : 'messages handled per second; below target is fine without a backlog';
  return { ...base, actual: handled.perSecond, status: degraded ? 'degraded' : 'ok', note };
}
