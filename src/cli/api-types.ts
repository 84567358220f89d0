/** The JSON shapes of docs/api.md that the CLI reads. Fields the CLI does not use are left out. */

export type AgentState = 'loaded' | 'ready' | 'running' | 'suspended' | 'draining' | 'stopped' | 'failed';
export const AGENT_STATES: readonly AgentState[] = ['loaded', 'ready', 'running', 'suspended', 'draining', 'stopped', 'failed'];
export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];
/** POST /agents `placement_strategy`. */
export const PLACEMENT_STRATEGIES = ['least-loaded', 'even-distribution'] as const;

export interface Fault {
  kind: string;
  phase?: string;
  message: string;
  at: string;
}

export interface AgentView {
  id: string;
  name: string;
  module: string;
  state: AgentState;
  worker: number | null;
  priority: Priority;
  restarts: number;
  running_since: string | null;
  deployed_at: string;
  updated_at: string;
  last_fault: Fault | null;
  canary: { module: string; percent: number } | null;
  config?: Record<string, unknown>;
  /** The node that runs it, in a cluster-wide list. */
  node?: string;
}

export interface LatencyView {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p99_ms: number;
  buckets: number[];
}

export interface StatsView {
  name: string;
  state: AgentState;
  messages_in: number;
  messages_out: number;
  errors: number;
  faults: number;
  restarts: number;
  fuel_used: number;
  memory_bytes: number;
  queued: number;
  queued_bytes: number;
  timers: number;
  duplicates: number;
  poisoned: number;
  circuit: string;
  blocked_senders: { sender: string; until: string }[];
  latency: LatencyView;
  canary: null | { module: string; percent: number; messages_in: number; errors: number; faults: number; p99_ms: number };
  node?: string;
}

export type AgentDetail = AgentView & { stats?: StatsView };

export interface AgentList extends Coverage {
  agents: AgentView[];
  total: number;
}

export interface StatusView {
  node_id: string;
  version: string;
  pid: number;
  uptime_s: number;
  started_at: string;
  data_dir: string;
  api_addr: string;
  metrics_addr: string;
  workers: number;
  agents: { total: number; by_state: Record<string, number> };
  outbox_pending: number;
  dead_letters: number;
}

export interface QueueTotals {
  total_queued: number;
  total_queued_bytes: number;
  outbox_pending: number;
  dead_letters: number;
}

export interface QueueView extends Coverage {
  total_queued: number;
  /** Bytes of the queued messages (2 per UTF-16 code unit, as the mailbox bound counts them). */
  total_queued_bytes: number;
  outbox_pending: number;
  dead_letters: number;
  agents: { name: string; queued: number; queued_bytes: number; state: string; node?: string }[];
  /** Each node's totals, in a cluster. */
  per_node?: (QueueTotals & { node: string })[];
}

export interface NodeResourcesView {
  id: string;
  cpu_percent: number;
  memory_rss_bytes: number;
  memory_total_bytes: number;
  memory_available_bytes: number;
  agents: number;
  workers: number;
}

export interface ResourcesView extends Coverage {
  node: NodeResourcesView;
  agents: { name: string; memory_bytes: number; fuel_used: number; queued: number; node?: string }[];
  /** Every node's figures, in a cluster. */
  per_node?: (NodeResourcesView & { node: string })[];
}

export interface NodeMemoryView {
  node_id: string;
  used_bytes: number;
  limit_bytes: number;
  available_bytes: number;
  heap_used_bytes: number;
  agents_memory_bytes: number;
  agents: number;
}

export interface MemoryView extends NodeMemoryView, Coverage {
  /** Every node's figures, in a cluster. */
  per_node?: (NodeMemoryView & { node: string })[];
}

export interface TraceEntry {
  time: string;
  kind: string;
  from?: string;
  to?: string;
  performative?: string | null;
  message_id?: string | null;
  detail?: string | null;
}

export interface ConversationView {
  /** null when the conversation is no longer active but its journal still has its trace. */
  conversation: null | {
    id: string;
    protocol?: string | null;
    participants?: string[];
    messages?: number;
    started_at?: string;
    last_active_at?: string;
    last_performative?: string;
  };
  trace: TraceEntry[];
}

export interface CascadeEventView {
  time: string;
  kind: 'fault' | 'undeliverable' | 'poison' | 'failure' | 'log.error';
  /** The agent that failed or could not be reached; null when the journal does not say. */
  agent: string | null;
  /** Who felt it: the sender of an undeliverable message, the receiver of a failure. */
  peer: string | null;
  detail: string;
  message_id: string | null;
  conversation_id: string | null;
  /** The node it happened on (a cluster's cascades). */
  node?: string;
}

/** GET /error-cascade. */
export interface ErrorCascadeView {
  since: string;
  until: string;
  errors: number;
  /** Cascades in the window; `cascades` holds the largest 100 of them (`truncated` when there were more). */
  cascades_total: number;
  truncated: boolean;
  cascades: {
    root: CascadeEventView;
    first_at: string;
    last_at: string;
    errors: number;
    agents: { name: string; first_at: string; errors: number; caused_by: string | null }[];
    affected: string[];
    /** The nodes its errors happened on, in the order it reached them (empty on a single node). */
    nodes?: string[];
    /** The conversations it spread through, in the order it reached them. */
    conversations?: { id: string; first_at: string; errors: number; nodes: string[] }[];
    events: CascadeEventView[];
  }[];
  /** In a cluster: the nodes whose errors are in it, and the ones that did not answer. */
  nodes?: string[];
  missing?: MissingNodeView[];
}

export interface KeyView {
  id: string;
  name: string;
  role: string;
  created_at?: string;
  key?: string;
}

/** An audit log entry (GET /audit). */
export interface AuditEntryView {
  id: number;
  time: string;
  node: string;
  actor: string;
  actor_id: string | null;
  actor_kind: string;
  action: string;
  target: string | null;
  result: 'ok' | 'error';
  status: number;
  error_code: string | null;
  detail: Record<string, unknown>;
}

/** A node that did not answer a cluster-wide view. */
export interface MissingNodeView {
  node: string;
  code: string | null;
  reason: string;
}

/**
 * What a cluster-wide view adds (docs/api.md "Cluster-wide views"): rows carry `node`, `nodes` lists
 * the nodes that answered, `missing` the ones that did not. A single node answers without them.
 */
export interface Coverage {
  nodes?: string[];
  missing?: MissingNodeView[];
}

export interface PerformanceRowView {
  key: string;
  metric: string;
  unit: 'seconds' | 'per_second';
  target: number;
  actual: number | null;
  status: 'ok' | 'degraded' | 'no_data' | 'n/a';
  basis: 'measured' | 'expected';
  source: string;
  note: string | null;
}

/** GET /cluster/performance. */
export interface PerformanceView {
  per_node: { node: string; window_ms: number; metrics: PerformanceRowView[] }[];
  nodes: string[];
  missing: MissingNodeView[];
}

/** GET /cluster/verify: drift of the cluster directory, per node (src/cluster/directory/drift.ts). */
export interface VerifyView {
  deep: boolean;
  /** True when every node agrees and every node answered. */
  ok: boolean;
  /** The nodes asked: every up Caxton member. */
  nodes: string[];
  rows: VerifyRowView[];
  /** With deep: agents hosted by more than one node. */
  conflicts: { agent: string; nodes: string[] }[];
}

export interface VerifyRowView {
  node: string;
  status: 'ok' | 'drift' | 'unreachable';
  hosted: number;
  held: number;
  mismatched: number;
  /** With deep only. */
  missing?: number;
  stale?: number;
  extra?: number;
  conflicting?: number;
  error: string | null;
}

/** GET /cluster/compare-state: what each node sees, to tell the sides of a partition apart. */
export interface CompareStateView {
  nodes: {
    node: string;
    status: 'ok' | 'unreachable';
    alive: number | null;
    view_digest: string | null;
    majority_view: boolean | null;
    hosted: number | null;
    held: number | null;
    error: string | null;
  }[];
  /** The nodes that see the view most nodes share. */
  majority: string[];
}
