/**
 * The plan of a cluster upgrade or rollback (`caxton cluster upgrade`, docs/operations.md "Upgrading
 * Caxton") and its state machine, without any I/O: the coordinator (./coordinator.ts) drives it, the
 * store (./store.ts) keeps it, `status` renders it. It is plain JSON, kept in every node's data dir,
 * so that any node can show it and the coordinator can carry on after its own restart.
 *
 *   upgrade:  canary ──(healthy for the canary duration)──▶ rolling ──▶ completed
 *                │ gate failed                                  │ gate failed
 *                ▼                                              ▼
 *           canary_failed (the canary is put back)            halted (operator: rollback)
 *   rollback: rolling_back ──▶ rolled_back | rollback_failed
 *
 * Each node goes pending → restarting → watching → done (or failed).
 */
import { CaxtonError } from '../../errors.js';

export type UpgradePhase = 'canary' | 'rolling' | 'completed' | 'canary_failed' | 'halted' | 'rolling_back' | 'rolled_back' | 'rollback_failed';
export type StepState = 'pending' | 'restarting' | 'watching' | 'done' | 'failed';

/** A node's counters, read before and during its watch (the health gate). */
export interface NodeHealth {
  /** Agent crashes since the node process started (caxton_agent_crashes_total). */
  readonly crashes: number;
  /** Messages handled by its agents since it started (caxton_messages_received_total). */
  readonly messages: number;
  /** Messages whose handling failed (caxton_message_errors_total). */
  readonly errors: number;
}

export interface NodeStep {
  readonly node: string;
  /** The version it ran before this plan. */
  readonly from: string;
  readonly to: string;
  state: StepState;
  /** Its process' start time before the restart: the restarted one has a later one. */
  before_started_at?: string;
  /** Counters before the restart: the error rate to compare with. */
  baseline?: NodeHealth;
  restart_at?: string;
  /** When it was back (member, new version, agents running, placement settled). */
  back_at?: string;
  watch_until?: string;
  done_at?: string;
  error?: string;
}

export interface UpgradePlan {
  readonly id: string;
  readonly kind: 'upgrade' | 'rollback';
  /** The version the upgrade goes to; for a rollback, each step has its own `to`. */
  readonly version: string;
  /** The node that drives the plan (the one the CLI asked). */
  readonly coordinator: string;
  /** The first node, watched for canary_duration_ms; null for a rollback. */
  readonly canary: string | null;
  readonly canary_duration_ms: number;
  /** How long each later node is watched. */
  readonly node_watch_ms: number;
  /** Agents running when the plan started: each must run again after each node. */
  readonly agents: readonly string[];
  phase: UpgradePhase;
  readonly steps: NodeStep[];
  readonly started_at: string;
  updated_at: string;
  finished_at?: string;
  error?: string;
  /** Bumped at every change: a node keeps the highest it heard of a plan. */
  seq: number;
  readonly by?: string;
}

export const TERMINAL: ReadonlySet<UpgradePhase> = new Set(['completed', 'canary_failed', 'halted', 'rolled_back', 'rollback_failed']);

export function isActive(p: UpgradePlan | undefined): p is UpgradePlan {
  return p !== undefined && !TERMINAL.has(p.phase);
}

export interface PlanUpgradeInput {
  readonly id: string;
  readonly version: string;
  readonly coordinator: string;
  /** Every Caxton member and the version it runs. */
  readonly members: readonly { readonly node: string; readonly version: string }[];
  readonly canaryDurationMs: number;
  readonly nodeWatchMs: number;
  readonly agents: readonly string[];
  readonly now: Date;
  readonly by?: string;
}

/**
 * The canary is the first other node (by name) still on another version, so that the node the
 * operator talks to keeps answering while the canary is watched; the coordinator goes last, the
 * others in name order. Nodes already on `version` have nothing to do.
 */
export function planUpgrade(i: PlanUpgradeInput): UpgradePlan {
  const todo = i.members.filter((m) => m.version !== i.version);
  if (todo.length === 0) throw new CaxtonError('CAXTON_ERR_API_INVALID_REQUEST', `every Caxton node already runs ${i.version}: there is nothing to upgrade`, { version: i.version });
  const others = todo.filter((m) => m.node !== i.coordinator).sort((a, b) => a.node.localeCompare(b.node));
  const self = todo.filter((m) => m.node === i.coordinator);
  const order = [...others, ...self];
  const now = i.now.toISOString();
  return {
    id: i.id,
    kind: 'upgrade',
    version: i.version,
    coordinator: i.coordinator,
    canary: (order[0] as { node: string }).node,
    canary_duration_ms: i.canaryDurationMs,
    node_watch_ms: i.nodeWatchMs,
    agents: [...i.agents].sort(),
    phase: 'canary',
    steps: order.map((m) => ({ node: m.node, from: m.version, to: i.version, state: 'pending' })),
    started_at: now,
    updated_at: now,
    seq: 1,
    ...(i.by === undefined ? {} : { by: i.by }),
  };
}

export interface PlanRollbackInput {
  readonly id: string;
  readonly coordinator: string;
  /** The upgrade to undo. */
  readonly last: UpgradePlan;
  /** Every Caxton member and the version it runs now. */
  readonly members: readonly { readonly node: string; readonly version: string }[];
  readonly agents: readonly string[];
  readonly now: Date;
  readonly by?: string;
}

/** Every node that runs another version than before `last` goes back to it, one at a time, the coordinator last. */
export function planRollback(i: PlanRollbackInput): UpgradePlan {
  if (i.last.kind !== 'upgrade') throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_NONE', `the last plan (${i.last.id}) was a rollback already: there is no upgrade to roll back`);
  const before = new Map(i.last.steps.map((s) => [s.node, s.from]));
  const back = i.members
    .filter((m) => before.has(m.node) && before.get(m.node) !== m.version)
    .map((m) => ({ node: m.node, from: m.version, to: before.get(m.node) as string }))
    .sort((a, b) => (a.node === i.coordinator ? 1 : b.node === i.coordinator ? -1 : a.node.localeCompare(b.node)));
  if (back.length === 0) throw new CaxtonError('CAXTON_ERR_CLUSTER_UPGRADE_NONE', `every node runs the version it ran before upgrade ${i.last.id}: there is nothing to roll back`);
  const now = i.now.toISOString();
  return {
    id: i.id,
    kind: 'rollback',
    version: [...new Set(back.map((b) => b.to))].join(','),
    coordinator: i.coordinator,
    canary: null,
    canary_duration_ms: 0,
    node_watch_ms: i.last.node_watch_ms,
    agents: [...i.agents].sort(),
    phase: 'rolling_back',
    steps: back.map((b) => ({ ...b, state: 'pending' })),
    started_at: now,
    updated_at: now,
    seq: 1,
    ...(i.by === undefined ? {} : { by: i.by }),
  };
}

/** The step to work on: the first not done. */
export function currentStep(p: UpgradePlan): NodeStep | undefined {
  return p.steps.find((s) => s.state !== 'done');
}

/** How long a step's node is watched once back. */
export function watchMs(p: UpgradePlan, s: NodeStep): number {
  return s.node === p.canary ? p.canary_duration_ms : p.node_watch_ms;
}

function touch(p: UpgradePlan, now: Date): void {
  p.updated_at = now.toISOString();
  p.seq++;
}

export function stepRestarting(p: UpgradePlan, s: NodeStep, beforeStartedAt: string, baseline: NodeHealth, now: Date): void {
  s.state = 'restarting';
  s.before_started_at = beforeStartedAt;
  s.baseline = baseline;
  s.restart_at = now.toISOString();
  touch(p, now);
}

export function stepBack(p: UpgradePlan, s: NodeStep, now: Date): void {
  s.state = 'watching';
  s.back_at = now.toISOString();
  s.watch_until = new Date(now.getTime() + watchMs(p, s)).toISOString();
  touch(p, now);
}

/** The step passed its gate: the next node's turn (the canary passing moves the plan to `rolling`). */
export function stepDone(p: UpgradePlan, s: NodeStep, now: Date): void {
  s.state = 'done';
  s.done_at = now.toISOString();
  if (p.phase === 'canary') p.phase = 'rolling';
  if (currentStep(p) === undefined) {
    p.phase = p.kind === 'upgrade' ? 'completed' : 'rolled_back';
    p.finished_at = p.updated_at = now.toISOString();
  }
  touch(p, now);
}

/** The step failed its gate: the plan stops (a canary's failure is the caller's to put back). */
export function stepFailed(p: UpgradePlan, s: NodeStep, reason: string, now: Date): void {
  s.state = 'failed';
  s.error = reason;
  p.error = `${s.node}: ${reason}`;
  p.phase = p.kind === 'rollback' ? 'rollback_failed' : p.phase === 'canary' ? 'canary_failed' : 'halted';
  p.finished_at = now.toISOString();
  touch(p, now);
}

/** An operator's rollback stopped a running upgrade between two nodes. */
export function stopPlan(p: UpgradePlan, reason: string, now: Date): void {
  p.phase = 'halted';
  p.error = reason;
  p.finished_at = now.toISOString();
  touch(p, now);
}

// --- What `caxton cluster upgrade status` shows ------------------------------------------------

export interface StatusLines {
  readonly phase: string;
  readonly progress: string;
  readonly canary: string;
  readonly eta: string;
}

const PHASE_TEXT: Record<UpgradePhase, string> = {
  canary: 'Canary',
  rolling: 'Rolling upgrade',
  completed: 'Completed',
  canary_failed: 'Canary failed (canary put back)',
  halted: 'Halted',
  rolling_back: 'Rolling back',
  rolled_back: 'Rolled back',
  rollback_failed: 'Rollback failed',
};

/** When no restart has been timed yet: a guess for one node's restart and settle. */
export const DEFAULT_RESTART_ESTIMATE_MS = 60_000;

/** What is left, ms: the canary's watch, then per node still to go a restart (as measured so far) and its watch. */
export function remainingMs(p: UpgradePlan, now: Date): number | null {
  if (TERMINAL.has(p.phase)) return null;
  const timed = p.steps.filter((s) => s.restart_at !== undefined && s.back_at !== undefined).map((s) => Date.parse(s.back_at as string) - Date.parse(s.restart_at as string));
  const restart = timed.length === 0 ? DEFAULT_RESTART_ESTIMATE_MS : timed.reduce((a, b) => a + b, 0) / timed.length;
  let left = 0;
  for (const s of p.steps) {
    if (s.state === 'done') continue;
    if (s.state === 'watching') left += Math.max(0, Date.parse(s.watch_until as string) - now.getTime());
    else if (s.state === 'restarting') left += Math.max(0, restart - (now.getTime() - Date.parse(s.restart_at as string))) + watchMs(p, s);
    else left += restart + watchMs(p, s);
  }
  return Math.round(left);
}

export function statusLines(p: UpgradePlan, now: Date): StatusLines {
  const done = p.steps.filter((s) => s.state === 'done').length;
  const verb = p.kind === 'upgrade' ? 'upgraded' : 'rolled back';
  const left = remainingMs(p, now);
  return {
    phase: PHASE_TEXT[p.phase],
    progress: `${done}/${p.steps.length} nodes ${verb}`,
    canary: canaryLine(p, now),
    eta: left === null ? (p.finished_at === undefined ? '-' : `finished ${p.finished_at}`) : etaText(left),
  };
}

function canaryLine(p: UpgradePlan, now: Date): string {
  const s = p.canary === null ? undefined : p.steps.find((x) => x.node === p.canary);
  if (s === undefined) return 'none (rollback)';
  const who = `${s.node}, ${s.to}`;
  switch (s.state) {
    case 'pending':
      return `${s.node} (not started)`;
    case 'restarting':
      return `Restarting on ${who}`;
    case 'watching':
      return `Healthy for ${humanDuration(now.getTime() - Date.parse(s.back_at as string))} of ${humanDuration(p.canary_duration_ms)} (${who})`;
    case 'done':
      return `Passed: healthy for ${humanDuration(p.canary_duration_ms)} (${who})`;
    case 'failed':
      return `Failed: ${s.error ?? 'unknown'} (${s.node})`;
  }
}

/** `45 minutes`, `50 seconds` below an hour (as the runbook's ETA), `3h 10m` above. */
export function etaText(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s >= 3600) return humanDuration(ms);
  if (s >= 60) {
    const m = Math.round(s / 60);
    return `${m} minute${m === 1 ? '' : 's'}`;
  }
  return `${s} second${s === 1 ? '' : 's'}`;
}

/** `23h 45m`, `4m 10s`, `12s`, `45 minutes` style as the runbook shows: the two largest units. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return sec > 0 ? `${m}m ${sec}s` : `${m}m`;
  return `${sec}s`;
}
