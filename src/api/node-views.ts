/**
 * This node's own views (docs/api.md "Views"): its agents, their statistics, its queues, resources and
 * memory, and its performance against the budgets. The API routes answer with them on a single node;
 * in a cluster the same objects answer other nodes' view calls (cluster-views.ts), so both see the
 * same figures (one CPU sampler: each reading covers the time since the previous one, whoever asked).
 */
import { freemem, totalmem } from 'node:os';
import type { Deployments } from '../agents/deployments.js';
import type { DeadLetterQueue } from '../messaging/dead-letter-queue.js';
import type { AgentLogs, LogLevelName } from '../observability/agent-logs.js';
import { CpuSampler, memoryAvailableBytes } from '../observability/host.js';
import type { NodePerformance, PerformanceView } from '../observability/performance.js';
import type { AgentPool } from '../sandbox/index.js';
import type { OutboxStore } from '../storage/index.js';
import { agentView, statsView } from './views.js';

export interface NodeViewParts {
  readonly nodeId: string;
  readonly pool: AgentPool;
  readonly deployments: Deployments;
  readonly outbox: OutboxStore;
  readonly deadLetters: DeadLetterQueue;
  readonly performance: NodePerformance;
  /** The agents' last log lines (GET /agents/:name/logs, here or asked by another node). */
  readonly logs: AgentLogs;
}

export type Row = Record<string, unknown>;

export interface AgentListView {
  agents: Row[];
  total: number;
}
export interface StatsListView {
  agents: Row[];
}
export interface QueueView {
  total_queued: number;
  total_queued_bytes: number;
  outbox_pending: number;
  dead_letters: number;
  agents: Row[];
}
export interface ResourcesView {
  node: Row & { id: string };
  agents: Row[];
}
export interface LogsView {
  logs: { time: string; level: string; text: string; conversation_id: string | null }[];
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

export class NodeViews {
  readonly #cpu = new CpuSampler();

  constructor(readonly parts: NodeViewParts) {}

  get nodeId(): string {
    return this.parts.nodeId;
  }

  agents(state?: string): AgentListView {
    const all = this.parts.deployments.list().map(agentView);
    const agents = state === undefined ? all : all.filter((a) => a['state'] === state);
    return { agents, total: agents.length };
  }

  /** The last `tail` lines of `agent` at `level` or above, oldest first; null when the agent is not on this node. */
  logs(agent: string, tail: number, level: LogLevelName): LogsView | null {
    if (this.parts.deployments.get(agent) === undefined) return null;
    return { logs: this.parts.logs.tail(agent, tail, level).map((l) => ({ time: new Date(l.time).toISOString(), level: l.level, text: l.text, conversation_id: l.conversationId ?? null })) };
  }

  async stats(): Promise<StatsListView> {
    return { agents: (await this.parts.pool.stats()).map(statsView) };
  }

  async queue(): Promise<QueueView> {
    const stats = await this.parts.pool.stats();
    stats.sort((a, b) => b.queued - a.queued);
    return {
      total_queued: stats.reduce((n, s) => n + s.queued, 0),
      total_queued_bytes: stats.reduce((n, s) => n + s.queuedBytes, 0),
      outbox_pending: this.parts.outbox.count(),
      dead_letters: this.parts.deadLetters.count(),
      agents: stats.map((s) => ({ name: s.name, queued: s.queued, queued_bytes: s.queuedBytes, state: s.state })),
    };
  }

  async resources(): Promise<ResourcesView> {
    const stats = await this.parts.pool.stats();
    return {
      node: {
        id: this.parts.nodeId,
        cpu_percent: Math.round(this.#cpu.sample() * 10) / 10,
        memory_rss_bytes: process.memoryUsage.rss(),
        memory_total_bytes: totalmem(),
        memory_available_bytes: await memoryAvailableBytes(),
        agents: this.parts.deployments.count(),
        workers: this.parts.pool.workerCount,
      },
      agents: stats.map((s) => ({ name: s.name, memory_bytes: s.memoryBytes, fuel_used: s.fuelUsed, queued: s.queued })),
    };
  }

  async memory(): Promise<MemoryView> {
    const stats = await this.parts.pool.stats();
    const mem = process.memoryUsage();
    return {
      node_id: this.parts.nodeId,
      used_bytes: mem.rss,
      limit_bytes: totalmem(),
      available_bytes: await memoryAvailableBytes().catch(() => freemem()),
      heap_used_bytes: mem.heapUsed,
      agents_memory_bytes: stats.reduce((n, s) => n + s.memoryBytes, 0),
      agents: this.parts.deployments.count(),
    };
  }

  performance(): Promise<PerformanceView> {
    return this.parts.performance.view();
  }
}
