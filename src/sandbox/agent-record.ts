/** What the main thread keeps per agent, and the read-only view of it that callers get. */
import type { AgentState } from '../agents/lifecycle.js';
import type { CrashHistory } from '../agents/restart-policy.js';
import type { CallPhase, FaultKind } from './agent-instance.js';
import { canaryShare, type CanaryRun } from './canary-runs.js';
import type { ReplicationMode } from './worker-protocol.js';

export interface AgentFaultInfo {
  readonly kind: FaultKind | 'timeout';
  readonly phase: CallPhase;
  readonly message: string;
  readonly at: number;
}

export interface AgentInfo {
  readonly id: string;
  readonly name: string;
  readonly module: string;
  readonly worker: number;
  readonly state: AgentState;
  readonly restarts: number;
  /** When the agent last entered `running` (ms since the epoch); undefined when it is not running. */
  readonly runningSince: number | undefined;
  readonly lastFault: AgentFaultInfo | undefined;
  /** A canary upgrade in progress: the new module and the share of messages it takes. */
  readonly canary: { readonly module: string; readonly percent: number } | undefined;
}

export interface AgentRecord {
  readonly key: number;
  readonly id: string;
  readonly name: string;
  hash: string;
  readonly config: string;
  worker: number;
  state: AgentState;
  /** The state to return to once a crashed agent is back (running, suspended, ready or draining). */
  resumeTo: AgentState;
  /** Whether the agent currently exists in its worker (false after a stop, or a worker loss). */
  inWorker: boolean;
  restarts: number;
  /** Whether it ever had a live instance in this pool: a first start that fails is not retried. */
  started: boolean;
  /** When it last entered `running`, ms since the epoch (read only while it is running). */
  runningSince: number;
  lastFault: AgentFaultInfo | undefined;
  readonly crashes: CrashHistory;
  restartTimer: NodeJS.Timeout | undefined;
  drainTimer: NodeJS.Timeout | undefined;
  /** A stop was asked for: a worker replacement or a crash must not bring the agent back. */
  stopRequested: boolean;
  canary: CanaryRun | undefined;
  /** State replication (src/agents/replication/): sent with every spawn, so a re-spawn resumes it. */
  replication: { readonly mode: ReplicationMode; readonly epoch: number } | undefined;
  /** The last replication delta seq its worker reported. */
  replSeq: number;
  /** Another node took the agent over: whatever worker it is (re)spawned in must keep it fenced. */
  fenced: boolean;
  /** At-least-once ids to seed the worker's dedup window with at the first spawn (a promoted replica's). */
  seen: readonly string[] | undefined;
}

/** States in which the agent exists in its worker and messages may be queued for it. */
export const ACCEPTING: ReadonlySet<AgentState> = new Set(['loaded', 'ready', 'running', 'suspended']);

export function info(rec: AgentRecord): AgentInfo {
  return {
    id: rec.id,
    name: rec.name,
    module: rec.hash,
    worker: rec.worker,
    state: rec.state,
    restarts: rec.restarts,
    runningSince: rec.state === 'running' ? rec.runningSince : undefined,
    lastFault: rec.lastFault,
    canary: canaryShare(rec.canary),
  };
}
