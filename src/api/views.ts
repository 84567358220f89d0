/** The JSON shapes the API answers with (docs/api.md "Views"), built from the node's own types. */
import type { DeployedAgent } from '../agents/deployments.js';
import type { AgentStats } from '../sandbox/index.js';
import { count, meanMs, percentileMs } from '../observability/latency.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function agentView(a: DeployedAgent): Record<string, unknown> {
  const { deployment: d, live } = a;
  const state = live?.state ?? (a.restoreError !== undefined ? 'failed' : 'stopped');
  const fault = live?.lastFault ?? (a.restoreError !== undefined ? { kind: 'start', phase: 'start', message: a.restoreError, at: d.updatedAt } : undefined);
  return {
    id: d.id,
    name: d.name,
    module: live?.module ?? d.module,
    state,
    worker: live?.worker ?? null,
    priority: d.priority,
    restarts: live?.restarts ?? d.restarts,
    running_since: live?.runningSince === undefined ? null : iso(live.runningSince),
    deployed_at: iso(d.deployedAt),
    updated_at: iso(d.updatedAt),
    last_fault: fault === undefined ? null : { kind: fault.kind, phase: fault.phase, message: fault.message, at: iso(fault.at) },
    canary: live?.canary ?? null,
    config: JSON.parse(d.config) as unknown,
  };
}

export function statsView(s: AgentStats): Record<string, unknown> {
  return {
    name: s.name,
    state: s.state,
    messages_in: s.messagesIn,
    messages_out: s.messagesOut,
    errors: s.errors,
    faults: s.faults,
    restarts: s.restarts,
    fuel_used: s.fuelUsed,
    memory_bytes: s.memoryBytes,
    queued: s.queued,
    queued_bytes: s.queuedBytes,
    timers: s.timers,
    duplicates: s.duplicates,
    poisoned: s.poisoned,
    circuit: s.circuit,
    blocked_senders: s.blockedSenders.map((b) => ({ sender: b.sender, until: iso(b.until) })),
    latency: {
      count: count(s.latency),
      mean_ms: meanMs(s.latency),
      p50_ms: percentileMs(s.latency, 0.5),
      p99_ms: percentileMs(s.latency, 0.99),
      buckets: s.latency,
    },
    canary:
      s.canary === undefined
        ? null
        : { module: s.canary.module, percent: s.canary.percent, messages_in: s.canary.messagesIn, errors: s.canary.errors, faults: s.canary.faults, p99_ms: s.canary.p99Ms },
  };
}

/** Stats of an agent that is not in the pool (stopped): zeros, so clients need no special case. */
export function idleStatsView(name: string, state: string): Record<string, unknown> {
  return {
    name,
    state,
    messages_in: 0,
    messages_out: 0,
    errors: 0,
    faults: 0,
    restarts: 0,
    fuel_used: 0,
    memory_bytes: 0,
    queued: 0,
    queued_bytes: 0,
    timers: 0,
    duplicates: 0,
    poisoned: 0,
    circuit: 'closed',
    blocked_senders: [],
    latency: { count: 0, mean_ms: 0, p50_ms: 0, p99_ms: 0, buckets: [] },
    canary: null,
  };
}
