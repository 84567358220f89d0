/**
 * The emergency and troubleshooting operations over every node of the cluster (docs/operations.md,
 * "Emergency procedures"): emergency stop (agents, state copies, the nodes themselves), memory gc,
 * suspending agents by priority, circuit breakers, the errors behind `trace --error-cascade` and the
 * debug dump. Each node does the work on its own agents (the `#…Local` methods below) and answers the
 * same work from its peers through the `ops.*` calls; the node an operator asks fans the order out
 * (src/cluster/every-node.ts) and reports per node, naming the nodes that did not answer.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CaxtonError } from '../errors.js';
import { bodyField, onEveryNode, type EveryNodeScope } from '../cluster/every-node.js';
import type { FanOutOptions, MissingNode } from '../cluster/fan-out.js';
import type { NodeName, PeerBody, Peers } from '../cluster/peers.js';
import type { Deployments } from '../agents/deployments.js';
import type { DeadLetterQueue } from '../messaging/dead-letter-queue.js';
import type { MessageJournal } from '../messaging/journal.js';
import type { AgentLogs } from '../observability/agent-logs.js';
import type { Logger } from '../observability/logger.js';
import type { TarEntry } from '../observability/tar.js';
import type { AgentPool } from '../sandbox/index.js';
import type { ViewMember } from './cluster-views.js';
import { cascadeEvents, type CascadeEvent, type CascadeKind } from './error-cascade.js';
import { agentView, statsView } from './views.js';

/** Peer call methods; only append (other nodes call them by name). */
export const OPS_METHODS = {
  emergencyStop: 'ops.emergency.stop',
  exit: 'ops.node.exit',
  gc: 'ops.memory.gc',
  suspend: 'ops.agents.suspend',
  circuitsOpen: 'ops.circuits.activate',
  circuitsReset: 'ops.circuits.reset',
  errors: 'ops.errors',
  dump: 'ops.debug.dump',
} as const;

/**
 * How long one node may take, ms. Stopping thousands of agents or copying a large database takes
 * seconds, not the 2 s of a view; the whole order still has a deadline (fan-out.ts).
 */
const SLOW: FanOutOptions = { timeoutMs: 120_000, deadlineMs: 180_000 };
const QUICK: FanOutOptions = { timeoutMs: 10_000, deadlineMs: 30_000 };

/**
 * The most error events one node sends for a cascade, the earliest kept: the root cause of a cascade
 * is its earliest error, and 20,000 events of ~300 bytes stay well under the link's 16 MiB frame.
 */
export const MAX_EVENTS_PER_NODE = 20_000;

/** How long after answering a node waits before it stops, ms: the answer must leave first. */
const EXIT_DELAY_MS = 100;

export interface OperationParts {
  readonly nodeId: string;
  readonly version: string;
  readonly startedAt: number;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly pool: AgentPool;
  readonly deployments: Deployments;
  readonly deadLetters: DeadLetterQueue;
  readonly journal: MessageJournal;
  readonly logs: AgentLogs;
  /** A consistent copy of the node's SQLite database at `path`. */
  backupDatabase(path: string): Promise<void>;
  /** The Prometheus exposition, when metrics are on. */
  metricsText(): Promise<string>;
  /** The running configuration, secrets redacted. */
  config(): unknown;
  /**
   * Stops this node now, without a drain (`emergency stop --cluster`; its agents are stopped by
   * then): under `caxton server start` the process exits with status 0 (src/cli/server.ts).
   */
  exit(reason: string): void;
  /**
   * Marks the agents this node keeps replicas of as stopped (ClusterAgents.stopReplicas), so that an
   * agent of a node that is down fails over stopped; absent on a single node.
   */
  stopReplicas?: (() => number) | undefined;
  /** Absent: a node alone, the only node there is. */
  readonly peers?: Peers | undefined;
  readonly members?: () => readonly ViewMember[];
}

export interface AgentFailure {
  readonly agent: string;
  readonly reason: string;
}

export interface EmergencyRow {
  readonly node: NodeName;
  /** Agents stopped, by name. */
  readonly stopped: string[];
  /** Agents that did not stop, and why. */
  readonly failed: AgentFailure[];
  /** The copy of the node's database (a path on that node's machine), with --preserve-state. */
  readonly dump: string | null;
}

export interface ExitRow {
  readonly node: NodeName;
  readonly exiting: boolean;
}

export interface GcRow {
  readonly node: NodeName;
  readonly before_bytes: number;
  readonly after_bytes: number;
  readonly freed_bytes: number;
  readonly modules_evicted: number;
}

export interface SuspendRow {
  readonly node: NodeName;
  readonly suspended: string[];
  readonly failed: AgentFailure[];
}

export interface CircuitRow {
  readonly node: NodeName;
  /** Breakers opened (or reset) on the node: its agents, or 1 / 0 for one agent it does or does not host. */
  readonly agents: number;
}

/** One error as it crosses the link (CascadeEvent with JSON-able fields). */
export interface ErrorEventWire {
  readonly time: number;
  readonly kind: CascadeKind;
  readonly agent: string;
  readonly peer: string | null;
  readonly detail: string;
  readonly message_id: string | null;
  readonly conversation_id: string | null;
}

export interface ErrorsRow {
  readonly node: NodeName;
  readonly events: ErrorEventWire[];
  /** Errors in the window beyond MAX_EVENTS_PER_NODE, not sent (the latest ones). */
  readonly dropped: number;
}

export interface DumpRow {
  readonly node: NodeName;
  readonly files: { name: string; data: string }[];
}

/** Every node's answer (this node first), and the nodes that did not answer, with the reason. */
export interface NodeReport<T> {
  readonly nodes: T[];
  readonly missing: MissingNode[];
}

export class ClusterOperations {
  readonly #p: OperationParts;
  readonly #scope: EveryNodeScope;
  #exiting = false;

  constructor(parts: OperationParts) {
    this.#p = parts;
    this.#scope = { self: parts.nodeId, peers: parts.peers, members: parts.members ?? (() => []) };
    const peers = parts.peers;
    if (peers === undefined) return;
    // Bodies come from other nodes: checked like any input.
    peers.onCall(OPS_METHODS.emergencyStop, (from, body) =>
      this.#emergencyStopLocal({ dumpTo: optionalText(body, 'dump_to'), preserveState: bodyField(body, 'preserve_state') === true, everywhere: bodyField(body, 'everywhere') === true }, `node ${from}`),
    );
    peers.onCall(OPS_METHODS.exit, (from, body) => this.#exitLocal(text(body, 'reason'), `node ${from}`));
    peers.onCall(OPS_METHODS.gc, (_from, body) => this.#gcLocal(bodyField(body, 'aggressive') === true));
    peers.onCall(OPS_METHODS.suspend, (from, body) => this.#suspendLocal(text(body, 'priority'), `node ${from}`));
    peers.onCall(OPS_METHODS.circuitsOpen, (_from, body) => this.#circuitsLocal('open', optionalText(body, 'agent'), undefined));
    peers.onCall(OPS_METHODS.circuitsReset, (_from, body) => this.#circuitsLocal('reset', optionalText(body, 'agent'), optionalNumber(body, 'gradual_ms')));
    peers.onCall(OPS_METHODS.errors, (_from, body) => this.#errorsLocal(number(body, 'since')));
    peers.onCall(OPS_METHODS.dump, () => this.#dumpLocal());
  }

  /** Whether this node has peers (the API then answers with `nodes` and `missing`). */
  get clustered(): boolean {
    return this.#p.peers !== undefined;
  }

  /** This node's Prometheus exposition (GET /api/v1/metrics, and metrics.txt of a dump). */
  metricsText(): Promise<string> {
    return this.#p.metricsText();
  }

  get nodeId(): NodeName {
    return this.#p.nodeId;
  }

  /** Stops every agent on every node (or `node`), each node first copying its database with `preserveState`. */
  emergencyStop(o: { preserveState: boolean; dumpTo: string | undefined; node?: string | undefined }, by: string): Promise<NodeReport<EmergencyRow>> {
    // Every node, or one: only a stop of every node also stops the replicas (an agent of another node
    // that one node keeps a replica of is not that node's to stop).
    const everywhere = o.node === undefined;
    const body = { preserve_state: o.preserveState, everywhere, ...(o.dumpTo === undefined ? {} : { dump_to: o.dumpTo }) };
    return this.#every(o.node, () => this.#emergencyStopLocal({ ...o, everywhere }, by), OPS_METHODS.emergencyStop, body, checkEmergency, SLOW);
  }

  /**
   * Tells every node (this one included, last) to stop at once, without a drain: the second half of
   * `emergency stop --cluster`, once the agents are stopped. Each node answers, then stops.
   */
  async exitAll(reason: string, by: string): Promise<NodeReport<ExitRow>> {
    const others = await this.#every(undefined, () => ({ node: this.nodeId, exiting: true }), OPS_METHODS.exit, { reason }, checkExit, QUICK);
    const mine = this.#exitLocal(reason, by);
    return { nodes: others.nodes.map((r) => (r.node === this.nodeId ? mine : r)), missing: others.missing };
  }

  gc(aggressive: boolean, node: string | undefined): Promise<NodeReport<GcRow>> {
    return this.#every(node, () => this.#gcLocal(aggressive), OPS_METHODS.gc, { aggressive }, checkGc, SLOW);
  }

  /** Suspends every running agent of `priority` on every node (or `node`). */
  suspendPriority(priority: string, node: string | undefined, by: string): Promise<NodeReport<SuspendRow>> {
    return this.#every(node, () => this.#suspendLocal(priority, by), OPS_METHODS.suspend, { priority }, checkSuspend, SLOW);
  }

  /**
   * Opens (or resets) the circuit breakers of every agent on every node, or of one agent wherever it
   * runs (the nodes that do not host it answer 0). An agent no node hosts is CAXTON_ERR_AGENT_NOT_FOUND.
   */
  async circuits(action: 'open' | 'reset', agent: string | undefined, gradualMs: number | undefined, node: string | undefined): Promise<NodeReport<CircuitRow>> {
    const r = await this.#every(
      node,
      () => this.#circuitsLocal(action, agent, gradualMs),
      action === 'open' ? OPS_METHODS.circuitsOpen : OPS_METHODS.circuitsReset,
      { ...(agent === undefined ? {} : { agent }), ...(gradualMs === undefined ? {} : { gradual_ms: gradualMs }) },
      checkCircuit,
      QUICK,
    );
    if (agent !== undefined && r.missing.length === 0 && r.nodes.every((n) => n.agents === 0)) {
      throw new CaxtonError('CAXTON_ERR_AGENT_NOT_FOUND', `no agent named ${agent}${this.clustered ? ' on any node' : ''}`, { agent });
    }
    return r;
  }

  /** Every node's errors since `since` (ms since the epoch), for the error cascade. */
  errors(since: number): Promise<NodeReport<ErrorsRow>> {
    return this.#every(undefined, () => this.#errorsLocal(since), OPS_METHODS.errors, { since }, checkErrors, QUICK);
  }

  /** Every node's debug dump files (or `node`'s). */
  dump(node: string | undefined): Promise<NodeReport<DumpRow>> {
    return this.#every(node, () => this.#dumpLocal(), OPS_METHODS.dump, {}, checkDump, QUICK);
  }

  async #every<T>(node: string | undefined, mine: () => T | Promise<T>, method: string, body: PeerBody, check: (v: unknown) => T, options: FanOutOptions): Promise<NodeReport<T>> {
    const r = await onEveryNode(this.#scope, { node, mine, method, body, check, options });
    return { nodes: r.answers.map((a) => a.value), missing: r.missing };
  }

  async #emergencyStopLocal(o: { preserveState: boolean; dumpTo: string | undefined; everywhere: boolean }, by: string): Promise<EmergencyRow> {
    const p = this.#p;
    let dump: string | null = null;
    if (o.preserveState || o.dumpTo !== undefined) {
      const dir = resolve(o.dumpTo ?? join(p.dataDir, 'emergency'));
      mkdirSync(dir, { recursive: true });
      // In a cluster several nodes may write to one directory (a shared mount): the name says whose.
      const who = this.clustered ? `${p.nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}-` : '';
      dump = join(dir, `caxton-emergency-${who}${new Date().toISOString().replace(/[:.]/g, '-')}.db`);
      await p.backupDatabase(dump);
    }
    // Already stopped or failed: nothing to stop (and not a failure to report).
    const live = p.deployments.list().filter((a) => a.live !== undefined && a.live.state !== 'stopped' && a.live.state !== 'failed');
    const stopped: string[] = [];
    const failed: AgentFailure[] = [];
    await Promise.all(
      live.map(async (a) => {
        const name = a.deployment.name;
        try {
          await p.deployments.stop(name, { graceful: false });
          stopped.push(name);
        } catch (e) {
          failed.push({ agent: name, reason: (e as Error).message });
          p.logger.warn({ agent: name, err: (e as Error).message }, 'emergency stop: agent did not stop');
        }
      }),
    );
    stopped.sort();
    const replicas = o.everywhere ? (p.stopReplicas?.() ?? 0) : 0;
    p.logger.warn({ stopped: stopped.length, failed: failed.length, replicasStopped: replicas, by, dump }, 'emergency stop');
    return { node: p.nodeId, stopped, failed, dump };
  }

  #exitLocal(reason: string, by: string): ExitRow {
    if (!this.#exiting) {
      this.#exiting = true;
      this.#p.logger.warn({ reason, by }, 'emergency stop of the node: stopping now, without a drain');
      setTimeout(() => this.#p.exit(reason), EXIT_DELAY_MS);
    }
    return { node: this.#p.nodeId, exiting: true };
  }

  #gcLocal(aggressive: boolean): GcRow {
    const before = process.memoryUsage.rss();
    const evicted = aggressive ? evictUnusedModules(this.#p.pool) : 0;
    collectGarbage();
    const after = process.memoryUsage.rss();
    return { node: this.#p.nodeId, before_bytes: before, after_bytes: after, freed_bytes: Math.max(0, before - after), modules_evicted: evicted };
  }

  #suspendLocal(priority: string, by: string): SuspendRow {
    const p = this.#p;
    const suspended: string[] = [];
    const failed: AgentFailure[] = [];
    for (const a of p.deployments.list()) {
      if (a.deployment.priority !== priority || a.live?.state !== 'running') continue;
      try {
        p.deployments.suspend(a.deployment.name);
        suspended.push(a.deployment.name);
      } catch (e) {
        failed.push({ agent: a.deployment.name, reason: (e as Error).message });
      }
    }
    if (suspended.length + failed.length > 0) p.logger.warn({ priority, suspended: suspended.length, failed: failed.length, by }, 'agents suspended by priority');
    return { node: p.nodeId, suspended, failed };
  }

  #circuitsLocal(action: 'open' | 'reset', agent: string | undefined, gradualMs: number | undefined): CircuitRow {
    const pool = this.#p.pool;
    // One agent: only the node that runs it has its breaker; the others answer 0.
    if (agent !== undefined && pool.agent(agent) === undefined) return { node: this.#p.nodeId, agents: 0 };
    if (action === 'open') pool.openCircuits(agent);
    else pool.resetCircuits({ ...(agent === undefined ? {} : { name: agent }), ...(gradualMs === undefined ? {} : { gradualMs }) });
    return { node: this.#p.nodeId, agents: agent === undefined ? pool.list().length : 1 };
  }

  #errorsLocal(since: number): ErrorsRow {
    const p = this.#p;
    const events = cascadeEvents(p.journal.entries(), p.logs.since(since), since);
    const kept = events.slice(0, MAX_EVENTS_PER_NODE);
    return { node: p.nodeId, events: kept.map(wireEvent), dropped: events.length - kept.length };
  }

  async #dumpLocal(): Promise<DumpRow> {
    const p = this.#p;
    const stats = await p.pool.stats();
    const logs = [...p.logs.since(0)].map((l) => JSON.stringify({ ...l, time: new Date(l.time).toISOString() })).join('\n');
    const files: TarEntry[] = [
      { name: 'status.json', data: json({ node_id: p.nodeId, version: p.version, pid: process.pid, started_at: new Date(p.startedAt).toISOString(), dumped_at: new Date().toISOString(), memory: process.memoryUsage() }) },
      { name: 'agents.json', data: json(p.deployments.list().map(agentView)) },
      { name: 'stats.json', data: json(stats.map(statsView)) },
      { name: 'conversations.json', data: json(await p.pool.conversations()) },
      { name: 'dead-letters.json', data: json(p.deadLetters.list({}, 1000)) },
      { name: 'journal.json', data: json(p.journal.entries().slice(-5000)) },
      { name: 'config.json', data: json(p.config()) },
      { name: 'logs.jsonl', data: logs },
      { name: 'metrics.txt', data: await p.metricsText() },
    ];
    return { node: p.nodeId, files: files.map((f) => ({ name: f.name, data: String(f.data) })) };
  }
}

/** A CascadeEvent from a node's wire form, marked with the node it happened on. */
export function eventFromWire(node: NodeName, e: ErrorEventWire): CascadeEvent {
  return { time: e.time, kind: e.kind, agent: e.agent, peer: e.peer ?? undefined, detail: e.detail, messageId: e.message_id ?? undefined, conversationId: e.conversation_id ?? undefined, node };
}

function wireEvent(e: CascadeEvent): ErrorEventWire {
  return { time: e.time, kind: e.kind, agent: e.agent, peer: e.peer ?? null, detail: e.detail, message_id: e.messageId ?? null, conversation_id: e.conversationId ?? null };
}

/** Drops compiled modules that no agent (nor a canary) uses; deployments keep the bytes in SQLite. */
function evictUnusedModules(pool: AgentPool): number {
  const used = new Set<string>();
  for (const a of pool.list()) {
    used.add(a.module);
    if (a.canary !== undefined) used.add(a.canary.module);
  }
  return pool.evictModules(used);
}

let gc: (() => void) | undefined;
/** Runs a full collection on the main thread; Node does not expose gc() without a flag, so set it once. */
function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

function json(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

function invalid(what: string): CaxtonError {
  return new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `ops: ${what}`);
}

function text(body: PeerBody, key: string): string {
  const v = bodyField(body, key);
  if (typeof v !== 'string' || v === '' || v.length > 1000) throw invalid(`${key} must be a non-empty text`);
  return v;
}

function optionalText(body: PeerBody, key: string): string | undefined {
  return bodyField(body, key) === undefined ? undefined : text(body, key);
}

function number(body: PeerBody, key: string): number {
  const v = bodyField(body, key);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(`${key} must be a number of 0 or more`);
  return v;
}

function optionalNumber(body: PeerBody, key: string): number | undefined {
  return bodyField(body, key) === undefined ? undefined : number(body, key);
}

// A peer's answer is checked before it is reported: a node that answers something else (another
// version, a bug) is reported missing (fan-out.ts), never shown as having done the work.

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function strings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function failures(v: unknown): v is AgentFailure[] {
  return Array.isArray(v) && v.every((f) => isObject(f) && typeof f['agent'] === 'string' && typeof f['reason'] === 'string');
}

function checkEmergency(v: unknown): EmergencyRow {
  if (!isObject(v) || typeof v['node'] !== 'string' || !strings(v['stopped']) || !failures(v['failed']) || (v['dump'] !== null && typeof v['dump'] !== 'string')) throw new Error('not an emergency stop row');
  return v as unknown as EmergencyRow;
}

function checkExit(v: unknown): ExitRow {
  if (!isObject(v) || typeof v['node'] !== 'string' || v['exiting'] !== true) throw new Error('not an exit row');
  return v as unknown as ExitRow;
}

function checkGc(v: unknown): GcRow {
  if (!isObject(v) || typeof v['node'] !== 'string') throw new Error('not a gc row');
  for (const k of ['before_bytes', 'after_bytes', 'freed_bytes', 'modules_evicted']) if (typeof v[k] !== 'number') throw new Error(`${k} is not a number`);
  return v as unknown as GcRow;
}

function checkSuspend(v: unknown): SuspendRow {
  if (!isObject(v) || typeof v['node'] !== 'string' || !strings(v['suspended']) || !failures(v['failed'])) throw new Error('not a suspend row');
  return v as unknown as SuspendRow;
}

function checkCircuit(v: unknown): CircuitRow {
  if (!isObject(v) || typeof v['node'] !== 'string' || typeof v['agents'] !== 'number') throw new Error('not a circuit breaker row');
  return v as unknown as CircuitRow;
}

const KINDS: ReadonlySet<string> = new Set<CascadeKind>(['fault', 'undeliverable', 'poison', 'failure', 'log.error']);

function checkErrors(v: unknown): ErrorsRow {
  if (!isObject(v) || typeof v['node'] !== 'string' || typeof v['dropped'] !== 'number' || !Array.isArray(v['events'])) throw new Error('not an errors row');
  for (const e of v['events'] as unknown[]) {
    if (!isObject(e) || typeof e['time'] !== 'number' || typeof e['kind'] !== 'string' || !KINDS.has(e['kind']) || typeof e['agent'] !== 'string' || typeof e['detail'] !== 'string') throw new Error('an error event is malformed');
  }
  return v as unknown as ErrorsRow;
}

function checkDump(v: unknown): DumpRow {
  if (!isObject(v) || typeof v['node'] !== 'string' || !Array.isArray(v['files'])) throw new Error('not a dump row');
  for (const f of v['files'] as unknown[]) {
    if (!isObject(f) || typeof f['name'] !== 'string' || !/^[a-z0-9._-]{1,60}$/.test(f['name']) || typeof f['data'] !== 'string') throw new Error('a dump file is malformed');
  }
  return v as unknown as DumpRow;
}
