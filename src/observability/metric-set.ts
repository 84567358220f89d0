/**
 * Every metric a node exports, declared in one place (docs/metrics.md describes each). NodeMetrics
 * (metrics.ts) fills them. Gauges and counters read from the pool carry `collect: refresh`, so that
 * whoever asks the registry — NodeMetrics.text(), or a caller merging our registry into another — gets
 * values gathered for that scrape; `refresh` coalesces concurrent calls into one gather.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BucketHistogram, type BucketSeries } from './bucket-histogram.js';
import { LATENCY_BOUNDS_SECONDS } from './latency.js';

/** HTTP request durations, s: the spec's 0.001 … 10. */
export const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/**
 * Routing one message on the main thread, s. The budget is microseconds, so the buckets start at 1 µs;
 * 0.005 is there for the spec's alert on a routing P99 above 5 ms.
 */
export const ROUTING_BUCKETS = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 0.001, 0.0025, 0.005, 0.01, 0.1];
/** Starting an agent from an admitted module, s: budget P50 ≤ 1 ms, P99 ≤ 5 ms. */
export const SPAWN_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

export interface MetricSetOptions {
  readonly registry: Registry;
  /** Gathers the pool's numbers for this scrape (coalesced); every pool-derived metric awaits it. */
  readonly refresh: () => Promise<void>;
  /** The node's handling-time buckets (see NodeMetrics). */
  readonly processing: () => Promise<readonly BucketSeries[]>;
}

// One function rather than a class of fields: the declarations read as the table in docs/metrics.md,
// and the return type (MetricSet) follows from them.
export function defineMetrics({ registry, refresh, processing }: MetricSetOptions) {
  const registers = [registry];
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers, collect: refresh });
  /** A counter that NodeMetrics increments (by events or by per-scrape deltas); never goes down. */
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers, collect: refresh });

  return {
    nodeInfo: new Gauge<'node_id'>({ name: 'caxton_node_info', help: 'Always 1; the node_id label names this node.', labelNames: ['node_id'], registers }),

    // ---- the runbook's names ----
    latencyP99: gauge(
      'caxton_agent_message_latency_p99',
      'P99 time agents took to handle one message, in seconds, over the last latency window (default 60 s) across all agents of this node; 0 when none was handled.',
    ),
    crashes: new Counter({ name: 'caxton_agent_crashes_total', help: 'Agent crashes on this node (traps, fuel exhaustion, watchdog kills, failed restarts), counted from pool events.', registers }),
    memoryUsed: gauge('caxton_agent_memory_used_bytes', 'Linear memory of all agents of this node, bytes.'),
    cpu: gauge('caxton_system_cpu_usage_percent', 'Host CPU use across all cores since the previous scrape, percent (0-100).'),
    memAvailable: gauge('caxton_system_memory_available_bytes', 'Host memory available for new work (MemAvailable, else free memory), bytes.'),

    // ---- cluster ----
    nodesTotal: gauge('caxton_cluster_nodes_total', 'Cluster members known to this node, itself included.'),
    nodesAlive: gauge('caxton_cluster_nodes_alive', 'Cluster members alive.'),
    nodesSuspect: gauge('caxton_cluster_nodes_suspect', 'Cluster members suspected of failure (SWIM suspect).'),
    nodesFailed: gauge('caxton_cluster_nodes_failed', 'Cluster members declared failed.'),
    nodesLeft: gauge('caxton_cluster_nodes_left', 'Cluster members that left gracefully.'),
    gossipLatency: gauge('caxton_cluster_gossip_latency_ms', 'Recent gossip round-trip time to peers, milliseconds (0 without peers).'),
    convergence: gauge('caxton_cluster_convergence_time_ms', 'Time the last membership change took to reach every member, milliseconds (0 without peers).'),

    // ---- agents, node totals ----
    agentsByState: gauge('caxton_agents', 'Agents on this node by lifecycle state.', ['state'] as const),
    activeAgents: gauge('caxton_active_agents', 'Agents on this node in state running.'),
    spawns: new Counter({ name: 'caxton_agent_spawns_total', help: 'Agent first starts on this node.', registers }),
    restarts: new Counter({ name: 'caxton_agent_restarts_total', help: 'Agent restarts on this node (after a crash, or re-spawned after its worker was replaced).', registers }),
    spawnDuration: new Histogram({ name: 'caxton_agent_spawn_duration_seconds', help: 'Time to start an agent from an admitted module, seconds.', buckets: SPAWN_BUCKETS, registers }),
    queueDepth: gauge('caxton_queue_depth', 'Messages waiting in the mailboxes of all agents of this node.'),
    queueBytes: gauge('caxton_queue_bytes', 'Bytes of the messages waiting in the mailboxes of all agents of this node (2 per UTF-16 code unit, as the mailbox bound counts them).'),
    conversations: gauge('caxton_active_conversations', 'Conversations with activity in the last 5 minutes.'),
    received: counter('caxton_messages_received_total', 'Messages agents of this node took from their mailboxes and handled.'),
    sent: counter('caxton_messages_sent_total', 'Messages agents of this node sent.'),
    errors: counter('caxton_message_errors_total', 'Messages whose handler returned an error or crashed.'),
    fuel: counter('caxton_fuel_used_total', 'Fuel (metered wasm instructions) used by all agents of this node.'),
    processing: new BucketHistogram({
      name: 'caxton_message_processing_duration_seconds',
      help: 'Time agents took to handle one message, seconds (power-of-two buckets from 1 µs; _sum is estimated from the buckets).',
      bounds: LATENCY_BOUNDS_SECONDS,
      registers,
      source: processing,
    }),
    undeliverable: new Counter({ name: 'caxton_messages_undeliverable_total', help: 'Messages the pool could not deliver (no such agent, mailbox full, circuit open, ...).', registers }),
    noSuchAgent: new Counter({ name: 'caxton_messages_no_such_agent_total', help: 'Messages addressed to a name that exists nowhere, on this node or in its cluster (decided on this node; also in caxton_messages_undeliverable_total).', registers }),
    poisoned: new Counter({ name: 'caxton_messages_poisoned_total', help: 'Messages that crashed the agent handling them and were dead-lettered as poison (the agent was re-instantiated).', registers }),
    forwarded: counter('caxton_messages_forwarded_total', 'Agent-to-agent messages that crossed the main thread between workers.'),
    passedOn: counter('caxton_cluster_messages_passed_on_total', 'Messages another node sent here for an agent on a third node, passed on (one extra hop). Flat in a settled cluster: the sender is told where the agent lives.'),
    workers: gauge('caxton_workers', 'Agent worker threads.'),
    agentCapacity: gauge('caxton_agent_capacity', 'Agents this node\'s pool can hold (12,000 while V8\'s wasm trap handler is on; +Inf when only memory limits it).'),

    // ---- module cache ----
    moduleCacheBytes: gauge('caxton_module_cache_bytes', 'Bytes of admitted modules held (rewritten module size; compiled code comes on top).'),
    moduleCacheModules: gauge('caxton_module_cache_modules', 'Admitted modules held.'),
    moduleCacheEvictions: counter('caxton_module_cache_evictions_total', 'Modules forgotten to keep the cache within runtime.module_cache_size.'),

    // ---- routing from the API ----
    routed: new Counter({ name: 'caxton_messages_routed_total', help: 'Messages routed from outside the agents (API, cluster links).', registers }),
    routingErrors: new Counter({ name: 'caxton_message_routing_errors_total', help: 'Messages from outside the agents that nobody could take.', registers }),
    routing: new Histogram({ name: 'caxton_message_routing_duration_seconds', help: 'Main-thread time to route one message from outside the agents, seconds.', buckets: ROUTING_BUCKETS, registers }),

    // ---- load shedding (caxton cluster shed-load) ----
    loadShedPercent: gauge('caxton_load_shed_percent', 'Share of new external messages (POST /messages, replies excepted) this node refuses on the operator\'s order, percent (0 = off).'),
    shed: counter('caxton_messages_shed_total', 'New external messages this node refused with 503 CAXTON_ERR_LOAD_SHED while shedding load.'),

    // ---- durable delivery ----
    outboxPending: gauge('caxton_outbox_pending', 'At-least-once messages in the durable outbox awaiting acknowledgement.'),
    deadLetters: gauge('caxton_dead_letters', 'Messages in the dead-letter queue.'),

    // ---- HTTP API ----
    httpRequests: new Counter({ name: 'caxton_http_requests_total', help: 'HTTP API requests by method, route template and status code.', labelNames: ['method', 'route', 'status'] as const, registers }),
    httpDuration: new Histogram({ name: 'caxton_http_request_duration_seconds', help: 'HTTP API request duration by method and route template, seconds.', labelNames: ['method', 'route'] as const, buckets: HTTP_BUCKETS, registers }),

    // ---- per agent (capped) ----
    agentState: gauge('caxton_agent_state', 'Always 1, for each agent with per-agent series; the state label is its lifecycle state.', ['agent', 'state'] as const),
    agentQueue: gauge('caxton_agent_queue_depth', 'Messages waiting in the agent\'s mailbox.', ['agent'] as const),
    agentQueueBytes: gauge('caxton_agent_queue_bytes', 'Bytes of the messages waiting in the agent\'s mailbox (2 per UTF-16 code unit).', ['agent'] as const),
    agentMemory: gauge('caxton_agent_memory_bytes', 'The agent\'s linear memory, bytes.', ['agent'] as const),
    agentFuel: counter('caxton_agent_fuel_used_total', 'Fuel the agent used (resets when its worker is replaced).', ['agent'] as const),
    agentReceived: counter('caxton_agent_messages_received_total', 'Messages the agent handled (resets when its worker is replaced).', ['agent'] as const),
    agentSent: counter('caxton_agent_messages_sent_total', 'Messages the agent sent (resets when its worker is replaced).', ['agent'] as const),
    agentCrashes: counter('caxton_agent_faults_total', 'Crashes of the agent seen by this node since it was deployed here.', ['agent'] as const),
    agentRestarts: gauge('caxton_agent_restarts', 'Times the agent was restarted since it was deployed.', ['agent'] as const),
    omitted: gauge('caxton_metrics_agents_omitted', 'Agents beyond the per-agent series cap: counted in node totals only.'),
    scrapeDuration: gauge('caxton_metrics_gather_duration_seconds', 'Time the last scrape spent gathering agent statistics from the workers, seconds.'),
  };
}

export type MetricSet = ReturnType<typeof defineMetrics>;
