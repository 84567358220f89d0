/**
 * Cluster-wide views: `agent list`, `agents slow` (statistics), `queue stats`, `resources`, `memory
 * stats` and `cluster performance` over every node. Each node answers view calls from its peers with
 * its own view (NodeViews); the node an operator asks fans the call out to every alive Caxton member
 * (fan-out.ts: bounded concurrency, a timeout per node, a deadline for the whole) and merges the
 * answers with its own rows, each row marked with its `node`. Nodes that did not answer are listed in
 * `missing`, with the reason; a failed member is listed without being asked. With `node` the view is
 * one node's (an unknown name is CAXTON_ERR_CLUSTER_UNKNOWN_NODE; a node that does not answer is the
 * error it gave).
 */
import { Type } from '@sinclair/typebox';
import { CaxtonError } from '../errors.js';
import { fanOut, type FanOutOptions, type MissingNode } from '../cluster/fan-out.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import type { PerformanceView } from '../observability/performance.js';
import { LOG_LEVELS, type LogLevelName } from '../observability/agent-logs.js';
import type { AgentListView, LogsView, MemoryView, NodeViews, QueueView, ResourcesView, Row, StatsListView } from './node-views.js';

/** A cluster member as the views need it (Cluster.members() gives these). */
export interface ViewMember {
  readonly name: NodeName;
  readonly status: 'alive' | 'suspect' | 'failed' | 'left';
  /** Serf tags: only members tagged role=caxton run Caxton (a serf agent has no views). */
  readonly tags: Readonly<Record<string, string>>;
}

/** Call methods, one per view; only append (other nodes call them by name). */
export const VIEW_METHODS = {
  agents: 'views.agents',
  stats: 'views.stats',
  queue: 'views.queue',
  resources: 'views.resources',
  memory: 'views.memory',
  performance: 'views.performance',
  logs: 'views.logs',
} as const;

export interface ClusterViewsOptions extends FanOutOptions {
  readonly peers: Peers;
  /** Every member this node knows, itself included or not. */
  readonly members: () => readonly ViewMember[];
  readonly local: NodeViews;
}

/** What every merged view adds: who answered (this node first), who did not. */
export interface Coverage {
  nodes: NodeName[];
  missing: MissingNode[];
}

interface Gathered<T> {
  readonly answers: { readonly node: NodeName; readonly value: T }[];
  readonly missing: MissingNode[];
}

const AGENT_STATE = /^[a-z_]{1,32}$/;

/** The `node` query parameter of every view route. */
export const NodeQuery = Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'only this node (a cluster member\'s name)' }));

export class ClusterViews {
  readonly local: NodeViews;
  readonly #o: ClusterViewsOptions;

  constructor(o: ClusterViewsOptions) {
    this.#o = o;
    this.local = o.local;
    const { peers, local } = o;
    // Bodies come from other nodes: checked like any input.
    peers.onCall(VIEW_METHODS.agents, (_from, body) => local.agents(stateParam(body)));
    peers.onCall(VIEW_METHODS.stats, () => local.stats());
    peers.onCall(VIEW_METHODS.queue, () => local.queue());
    peers.onCall(VIEW_METHODS.resources, () => local.resources());
    peers.onCall(VIEW_METHODS.memory, () => local.memory());
    peers.onCall(VIEW_METHODS.performance, () => local.performance());
    peers.onCall(VIEW_METHODS.logs, (_from, body) => {
      const q = logsParams(body);
      return local.logs(q.agent, q.tail, q.level);
    });
  }

  get self(): NodeName {
    return this.#o.peers.self;
  }

  async agents(state: string | undefined, node?: string): Promise<AgentListView & Coverage> {
    const g = await this.#gather(node, () => this.local.agents(state), VIEW_METHODS.agents, state === undefined ? {} : { state }, (v) => checkRows<AgentListView>(v, 'agents'));
    const agents = g.answers.flatMap((a) => a.value.agents.map((r) => ({ ...r, node: a.node })));
    return { agents, total: agents.length, ...coverage(g) };
  }

  async stats(node?: string): Promise<StatsListView & Coverage> {
    const g = await this.#gather(node, () => this.local.stats(), VIEW_METHODS.stats, {}, (v) => checkRows<StatsListView>(v, 'agents'));
    return { agents: g.answers.flatMap((a) => a.value.agents.map((r) => ({ ...r, node: a.node }))), ...coverage(g) };
  }

  /** Totals over the nodes that answered; `per_node` has each node's; agents by depth, deepest first. */
  async queue(node?: string): Promise<QueueView & Coverage & { per_node: Row[] }> {
    const g = await this.#gather(node, () => this.local.queue(), VIEW_METHODS.queue, {}, (v) => checkNumbers(checkRows<QueueView>(v, 'agents'), ['total_queued', 'total_queued_bytes', 'outbox_pending', 'dead_letters']));
    const sum = (k: 'total_queued' | 'total_queued_bytes' | 'outbox_pending' | 'dead_letters') => g.answers.reduce((n, a) => n + a.value[k], 0);
    const agents = g.answers.flatMap((a) => a.value.agents.map((r): Row => ({ ...r, node: a.node }))).sort((x, y) => Number(y['queued']) - Number(x['queued']));
    return {
      total_queued: sum('total_queued'),
      total_queued_bytes: sum('total_queued_bytes'),
      outbox_pending: sum('outbox_pending'),
      dead_letters: sum('dead_letters'),
      agents,
      per_node: g.answers.map((a) => ({ node: a.node, total_queued: a.value.total_queued, total_queued_bytes: a.value.total_queued_bytes, outbox_pending: a.value.outbox_pending, dead_letters: a.value.dead_letters })),
      ...coverage(g),
    };
  }

  /** `node` stays the first answering node's (this one's, as on a single node); `per_node` has every node's. */
  async resources(node?: string): Promise<ResourcesView & Coverage & { per_node: Row[] }> {
    const g = await this.#gather(node, () => this.local.resources(), VIEW_METHODS.resources, {}, (v) => checkResources(v));
    return {
      node: first(g).node,
      agents: g.answers.flatMap((a) => a.value.agents.map((r) => ({ ...r, node: a.node }))),
      per_node: g.answers.map((a) => ({ ...a.value.node, node: a.node })),
      ...coverage(g),
    };
  }

  /** The flat fields are the first answering node's (this node's, unless `node` names another). */
  async memory(node?: string): Promise<MemoryView & Coverage & { per_node: Row[] }> {
    const g = await this.#gather(node, () => this.local.memory(), VIEW_METHODS.memory, {}, (v) => checkNumbers(v as MemoryView, ['used_bytes', 'limit_bytes', 'agents']));
    return { ...first(g), per_node: g.answers.map((a) => ({ ...a.value, node: a.node })), ...coverage(g) };
  }

  async performance(node?: string): Promise<{ per_node: PerformanceView[] } & Coverage> {
    const g = await this.#gather(node, () => this.local.performance(), VIEW_METHODS.performance, {}, (v) => checkRows<PerformanceView>(v, 'metrics'));
    return { per_node: g.answers.map((a) => ({ ...a.value, node: a.node })), ...coverage(g) };
  }

  /**
   * The last log lines of `agent`, from whichever node runs it (the lines stay where the agent logged
   * them): this node's when it runs it, else every alive Caxton member is asked and the one that runs
   * it answers. Null when none does; when a node did not answer, that node may run it, and the error
   * says so rather than that the agent does not exist.
   */
  async logs(agent: string, tail: number, level: LogLevelName): Promise<(LogsView & { node: NodeName }) | null> {
    const own = this.local.logs(agent, tail, level);
    if (own !== null) return { ...own, node: this.self };
    const self = this.self;
    const ask = this.#o.members().filter((m) => m.name !== self && m.tags['role'] === 'caxton' && (m.status === 'alive' || m.status === 'suspect')).map((m) => m.name);
    const r = await fanOut(this.#o.peers, ask, VIEW_METHODS.logs, { agent, tail, level }, (v) => (v === null ? null : checkRows<LogsView>(v, 'logs')), this.#o);
    const found = r.answers.find((a) => a.value !== null);
    if (found !== undefined) return { ...(found.value as LogsView), node: found.node };
    if (r.missing.length > 0) {
      throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `no agent named ${agent} on this node or the nodes that answered; ${r.missing.map((m) => `${m.node} did not answer (${m.reason})`).join(', ')}`, { agent, missing: r.missing.map((m) => m.node) });
    }
    return null;
  }

  /**
   * This node's view (unless `node` names another) and every other alive Caxton member's. With
   * `node`: that one only, and its failure is the request's.
   */
  async #gather<T>(node: string | undefined, mine: () => T | Promise<T>, method: string, body: PeerBody, check: (v: unknown) => T): Promise<Gathered<T>> {
    const self = this.self;
    const members = this.#o.members().filter((m) => m.name !== self && m.tags['role'] === 'caxton');
    if (node !== undefined) {
      if (node === self) return { answers: [{ node: self, value: await mine() }], missing: [] };
      const m = members.find((x) => x.name === node);
      if (m === undefined) throw unknownNode(node);
      if (m.status === 'failed' || m.status === 'left') throw new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `node ${node} is ${m.status}`, { node });
      const r = await fanOut(this.#o.peers, [node], method, body, check, this.#o);
      const miss = r.missing[0];
      if (miss !== undefined) {
        throw miss.code === 'CAXTON_ERR_CLUSTER_TIMEOUT' || miss.code === 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE'
          ? new CaxtonError(miss.code, `node ${node}: ${miss.reason}`, { node })
          : new CaxtonError('CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE', `node ${node}: ${miss.reason}`, { node, cause: miss.code });
      }
      return r;
    }
    const ask = members.filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => m.name);
    const failed = members.filter((m) => m.status === 'failed').map((m): MissingNode => ({ node: m.name, code: null, reason: 'failed: the cluster declared it dead' }));
    const [own, others] = await Promise.all([mine(), fanOut(this.#o.peers, ask, method, body, check, this.#o)]);
    return { answers: [{ node: self, value: own }, ...others.answers], missing: [...others.missing, ...failed] };
  }
}

/** `--node X` on a node without a cluster: only its own name is known. */
export function requireLocalNode(nodeId: string, node: string | undefined): void {
  if (node !== undefined && node !== nodeId) throw unknownNode(node);
}

function unknownNode(node: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_CLUSTER_UNKNOWN_NODE', `no Caxton node named ${node} in the cluster`, { node });
}

/** The first answer: always there (this node's, or the one node asked, whose failure was thrown). */
function first<T>(g: Gathered<T>): T {
  return (g.answers[0] as { readonly value: T }).value;
}

function coverage<T>(g: Gathered<T>): Coverage {
  return { nodes: g.answers.map((a) => a.node), missing: g.missing };
}

function stateParam(body: PeerBody): string | undefined {
  const s = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['state'] : undefined;
  if (s === undefined) return undefined;
  if (typeof s !== 'string' || !AGENT_STATE.test(s)) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'views.agents: state must be an agent state name');
  return s;
}

/** The body of a views.logs call: which agent, how many lines, from which level. */
function logsParams(body: PeerBody): { agent: string; tail: number; level: LogLevelName } {
  const o = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const { agent, tail, level } = o;
  if (typeof agent !== 'string' || agent.length === 0 || agent.length > 255) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'views.logs: agent must be an agent name');
  if (typeof tail !== 'number' || !Number.isInteger(tail) || tail < 1 || tail > 1000) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', 'views.logs: tail must be an integer from 1 to 1000');
  if (!LOG_LEVELS.includes(level as LogLevelName)) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `views.logs: level must be one of ${LOG_LEVELS.join(', ')}`);
  return { agent, tail, level: level as LogLevelName };
}

/** An object whose `key` is an array of objects. */
function checkRows<T>(v: unknown, key: string): T {
  if (typeof v !== 'object' || v === null) throw new Error('not an object');
  const rows = (v as Record<string, unknown>)[key];
  if (!Array.isArray(rows) || rows.some((r) => typeof r !== 'object' || r === null)) throw new Error(`no ${key} list`);
  return v as T;
}

function checkNumbers<T>(v: T, keys: readonly string[]): T {
  if (typeof v !== 'object' || v === null) throw new Error('not an object');
  for (const k of keys) if (typeof (v as Record<string, unknown>)[k] !== 'number') throw new Error(`${k} is not a number`);
  return v;
}

function checkResources(v: unknown): ResourcesView {
  const r = checkRows<ResourcesView>(v, 'agents');
  if (typeof r.node !== 'object' || r.node === null || typeof r.node.id !== 'string') throw new Error('no node');
  return r;
}
