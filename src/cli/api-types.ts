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
}

export type AgentDetail = AgentView & { stats?: StatsView };

export interface AgentList {
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

export interface QueueView {
  total_queued: number;
  /** Bytes of the queued messages (2 per UTF-16 code unit, as the mailbox bound counts them). */
  total_queued_bytes: number;
  outbox_pending: number;
  dead_letters: number;
  agents: { name: string; queued: number; queued_bytes: number; state: string }[];
}

export interface ResourcesView {
  node: {
    id: string;
    cpu_percent: number;
    memory_rss_bytes: number;
    memory_total_bytes: number;
    memory_available_bytes: number;
    agents: number;
    workers: number;
  };
  agents: { name: string; memory_bytes: number; fuel_used: number; queued: number }[];
}

export interface MemoryView {
  node_id: string;
  used_bytes: number;
  limit_bytes: number;
  available_bytes: number;
  heap_used_bytes: number;
  agents_memory_bytes: number;
  agents: number;
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
    events: CascadeEventView[];
  }[];
}

export interface KeyView {
  id: string;
  name: string;
  role: string;
  created_at?: string;
  key?: string;
}
