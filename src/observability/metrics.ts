/**
 * A node's Prometheus metrics (docs/metrics.md lists them all). NodeMetrics owns its own prom-client
 * Registry — not the global one, so that several nodes (tests, benchmarks) can live in one process.
 *
 * One scrape gathers the pool's numbers once: pool.stats() and pool.conversationCount() each message every
 * worker, so every pool-derived metric awaits a single shared gather (`#refresh`) instead of asking
 * for itself. Crashes, restarts and undeliverable messages are counted from pool events as they happen,
 * so those counters never go down, whatever happens to the agents. Node totals of the agents' own
 * counters (messages, fuel, handling-time buckets) are accumulated per scrape from what grew (see
 * agent-totals.ts), for the same reason.
 *
 * Per-agent series: with 10,000 agents, ten series each would swamp Prometheus, so only the first
 * `perAgentLimit` agents (in deployment order, which keeps the set stable between scrapes) get them;
 * node totals always count every agent, and caxton_metrics_agents_omitted says how many were left out.
 */
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { AGENT_STATES, type AgentState } from '../agents/index.js';
import type { AgentInfo, AgentPool, AgentStats, PoolEvent } from '../sandbox/index.js';
import { AgentTotals } from './agent-totals.js';
import type { BucketSeries } from './bucket-histogram.js';
import { singleNodeCluster, type ClusterGauges } from './cluster-gauges.js';
import { CpuSampler, memoryAvailableBytes } from './host.js';
import { LATENCY_BUCKET_COUNT, percentileMs, sumMs } from './latency.js';
import { LatencyWindow } from './latency-window.js';
import { defineMetrics, type MetricSet } from './metric-set.js';
import { SystemError } from '../messaging/system-messages.js';

export type { ClusterGauges, ClusterMembers } from './cluster-gauges.js';
export { singleNodeCluster } from './cluster-gauges.js';

export const DEFAULT_PER_AGENT_LIMIT = 1000;
export const DEFAULT_LATENCY_WINDOW_MS = 60_000;

export interface ExtraGauges {
  readonly outboxPending: number;
  readonly deadLetters: number;
}

/** Load shedding as the node runs it (src/api/load-shedding.ts LoadShedder fits). */
export interface SheddingReading {
  readonly percentage: number;
  readonly shedTotal: number;
}

export interface NodeMetricsOptions {
  readonly nodeId: string;
  readonly pool: AgentPool;
  /** Cluster membership; without it the node reports itself alone (1 total, 1 alive). */
  readonly cluster?: ClusterGauges;
  /** Outbox and dead-letter counts; without it those two metrics are not exported. */
  readonly extra?: () => ExtraGauges;
  /** Load shedding; without it the shedding metrics read 0. */
  readonly shedding?: SheddingReading;
  /** Agents that get per-agent series; the rest count in node totals only. @default 1000 */
  readonly perAgentLimit?: number;
  /** Window of caxton_agent_message_latency_p99. @default 60 s */
  readonly latencyWindowMs?: number;
  /** Node.js process metrics (prom-client's collectDefaultMetrics). @default true */
  readonly processMetrics?: boolean;
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly perAgentLimit: number;
  readonly #m: MetricSet;
  readonly #pool: AgentPool;
  readonly #cluster: ClusterGauges;
  readonly #extra: (() => ExtraGauges) | undefined;
  readonly #shedding: SheddingReading | undefined;
  readonly #cpu = new CpuSampler();
  readonly #totals = new AgentTotals();
  readonly #window: LatencyWindow;
  /** Crashes per agent name, from events; forgotten when the agent is removed. */
  readonly #crashesByAgent = new Map<string, number>();
  #forwardedSeen = 0;
  #passedOnSeen = 0;
  #evictionsSeen = 0;
  #shedSeen = 0;
  #inflight: Promise<void> | undefined;
  readonly #unsubscribe: () => void;

  constructor(options: NodeMetricsOptions) {
    this.#pool = options.pool;
    this.#cluster = options.cluster ?? singleNodeCluster();
    this.#extra = options.extra;
    this.#shedding = options.shedding;
    this.perAgentLimit = options.perAgentLimit ?? DEFAULT_PER_AGENT_LIMIT;
    if (!(this.perAgentLimit >= 0)) throw new RangeError(`perAgentLimit ${this.perAgentLimit} must be 0 or more`);
    this.#window = new LatencyWindow(options.latencyWindowMs ?? DEFAULT_LATENCY_WINDOW_MS, performance.now());
    this.#m = defineMetrics({
      registry: this.registry,
      refresh: () => this.#refresh(),
      processing: async () => {
        await this.#refresh();
        return [this.#processingSeries()];
      },
    });
    this.#m.nodeInfo.set({ node_id: options.nodeId }, 1);
    if (this.#extra === undefined) {
      // Not wired: say nothing rather than a 0 that looks like an empty outbox.
      this.registry.removeSingleMetric('caxton_outbox_pending');
      this.registry.removeSingleMetric('caxton_dead_letters');
    }
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.#forwardedSeen = this.#pool.forwardedMessages;
    this.#passedOnSeen = this.#pool.router.passedOn;
    this.#evictionsSeen = this.#pool.modules.evictions;
    this.#unsubscribe = this.#pool.onEvent((e) => this.#onEvent(e));
  }

  /** One HTTP API request. `route` must be the route template (e.g. /api/v1/agents/:name), never the raw URL. */
  observeHttp(method: string, route: string, statusCode: number, seconds: number): void {
    const m = method.toUpperCase();
    this.#m.httpRequests.inc({ method: m, route, status: String(statusCode) });
    this.#m.httpDuration.observe({ method: m, route }, seconds);
  }

  /** Main-thread time spent routing one message from outside the agents; `failed` when nobody took it. */
  observeRouting(seconds: number, failed = false): void {
    this.#m.routed.inc();
    if (failed) this.#m.routingErrors.inc();
    this.#m.routing.observe(seconds);
  }

  /** Time from spawn request to a started agent (the pool's events carry no start time). */
  observeSpawn(seconds: number): void {
    this.#m.spawnDuration.observe(seconds);
  }

  /** The whole exposition, Prometheus text format 0.0.4. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the pool and empties the registry. */
  close(): void {
    this.#unsubscribe();
    this.registry.clear();
  }

  #onEvent(e: PoolEvent): void {
    switch (e.type) {
      case 'agent_fault':
        this.#m.crashes.inc();
        this.#crashesByAgent.set(e.name, (this.#crashesByAgent.get(e.name) ?? 0) + 1);
        break;
      case 'agent_started':
        (e.restarts === 0 ? this.#m.spawns : this.#m.restarts).inc();
        break;
      case 'worker_replaced':
        this.#totals.markReset(e.agents);
        break;
      case 'undeliverable':
        this.#m.undeliverable.inc();
        if (e.code === SystemError.noSuchAgent) this.#m.noSuchAgent.inc();
        break;
      case 'message_poisoned':
        this.#m.poisoned.inc();
        break;
      default:
        break;
    }
  }

  /** One gather per scrape, shared by every metric that asks while it runs. */
  #refresh(): Promise<void> {
    this.#inflight ??= this.#gather().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #gather(): Promise<void> {
    const started = performance.now();
    const [stats, conversations, memAvailable] = await Promise.all([this.#pool.stats(), this.#pool.conversationCount(), memoryAvailableBytes()]);
    this.#m.scrapeDuration.set((performance.now() - started) / 1000);
    const agents = this.#pool.list();
    this.#applyTotals(agents, stats);
    this.#applyPerAgent(agents, stats);
    this.#m.conversations.set(conversations);
    this.#m.cpu.set(this.#cpu.sample());
    this.#m.memAvailable.set(memAvailable);
    this.#m.workers.set(this.#pool.workerCount);
    const forwarded = this.#pool.forwardedMessages;
    this.#m.forwarded.inc(Math.max(0, forwarded - this.#forwardedSeen));
    this.#forwardedSeen = forwarded;
    const passedOn = this.#pool.router.passedOn;
    this.#m.passedOn.inc(Math.max(0, passedOn - this.#passedOnSeen));
    this.#passedOnSeen = passedOn;
    this.#applyModules();
    this.#applyCluster();
    this.#applyExtra();
    this.#applyShedding();
  }

  #applyTotals(agents: readonly AgentInfo[], stats: readonly AgentStats[]): void {
    const m = this.#m;
    const byState = new Map<AgentState, number>(AGENT_STATES.map((s) => [s, 0]));
    for (const a of agents) byState.set(a.state, (byState.get(a.state) ?? 0) + 1);
    for (const [state, n] of byState) m.agentsByState.set({ state }, n);
    m.activeAgents.set(byState.get('running') ?? 0);

    let queued = 0;
    let queuedBytes = 0;
    let memory = 0;
    for (const s of stats) {
      queued += s.queued;
      queuedBytes += s.queuedBytes;
      memory += s.memoryBytes;
    }
    m.queueDepth.set(queued);
    m.queueBytes.set(queuedBytes);
    m.memoryUsed.set(memory);

    const grew = this.#totals.update(stats, new Set(agents.map((a) => a.name)));
    m.received.inc(grew.messagesIn);
    m.sent.inc(grew.messagesOut);
    m.errors.inc(grew.errors);
    m.fuel.inc(grew.fuelUsed);
    const recent = this.#window.push(performance.now(), this.#totals.total.latency);
    m.latencyP99.set(percentileMs(recent, 0.99) / 1000);
  }

  #applyPerAgent(agents: readonly AgentInfo[], stats: readonly AgentStats[]): void {
    const m = this.#m;
    const perAgent = [m.agentState, m.agentQueue, m.agentQueueBytes, m.agentMemory, m.agentFuel, m.agentReceived, m.agentSent, m.agentCrashes, m.agentRestarts];
    // Rebuilt each scrape, so removed agents' series disappear.
    for (const metric of perAgent) metric.reset();
    const known = new Set(agents.map((a) => a.name));
    for (const name of this.#crashesByAgent.keys()) if (!known.has(name)) this.#crashesByAgent.delete(name);

    const byName = new Map(stats.map((s) => [s.name, s]));
    const shown = agents.slice(0, this.perAgentLimit);
    for (const a of shown) {
      const agent = { agent: a.name };
      m.agentState.set({ agent: a.name, state: a.state }, 1);
      m.agentRestarts.set(agent, a.restarts);
      m.agentCrashes.inc(agent, this.#crashesByAgent.get(a.name) ?? 0);
      const s = byName.get(a.name);
      if (s === undefined) continue; // no instance (loaded, stopped, failed), or its worker did not answer in time
      m.agentQueue.set(agent, s.queued);
      m.agentQueueBytes.set(agent, s.queuedBytes);
      m.agentMemory.set(agent, s.memoryBytes);
      m.agentFuel.inc(agent, s.fuelUsed);
      m.agentReceived.inc(agent, s.messagesIn);
      m.agentSent.inc(agent, s.messagesOut);
    }
    m.omitted.set(agents.length - shown.length);
  }

  #applyModules(): void {
    const m = this.#m;
    const cache = this.#pool.modules;
    m.agentCapacity.set(this.#pool.capacity);
    m.moduleCacheBytes.set(cache.bytes);
    m.moduleCacheModules.set(cache.size);
    m.moduleCacheEvictions.inc(Math.max(0, cache.evictions - this.#evictionsSeen));
    this.#evictionsSeen = cache.evictions;
  }

  #applyCluster(): void {
    const m = this.#m;
    try {
      const c = this.#cluster.members();
      m.nodesTotal.set(c.total);
      m.nodesAlive.set(c.alive);
      m.nodesSuspect.set(c.suspect);
      m.nodesFailed.set(c.failed);
      m.nodesLeft.set(c.left);
      m.gossipLatency.set(this.#cluster.gossipLatencyMs());
      m.convergence.set(this.#cluster.convergenceTimeMs());
    } catch {
      // A cluster layer in trouble must not fail the whole scrape; its gauges keep their last values.
    }
  }

  #applyExtra(): void {
    if (this.#extra === undefined) return;
    try {
      const x = this.#extra();
      this.#m.outboxPending.set(x.outboxPending);
      this.#m.deadLetters.set(x.deadLetters);
    } catch {
      // As above: keep the last values.
    }
  }

  #applyShedding(): void {
    const s = this.#shedding;
    if (s === undefined) return;
    this.#m.loadShedPercent.set(s.percentage);
    // Counted by the shedder as it refuses (no metrics call on that path): the counter grows by the difference.
    this.#m.shed.inc(Math.max(0, s.shedTotal - this.#shedSeen));
    this.#shedSeen = s.shedTotal;
  }

  #processingSeries(): BucketSeries {
    const buckets = this.#totals.total.latency;
    return {
      labels: {},
      counts: buckets.slice(0, LATENCY_BUCKET_COUNT - 1),
      overflow: buckets[LATENCY_BUCKET_COUNT - 1] ?? 0,
      sum: sumMs(buckets) / 1000,
    };
  }
}
