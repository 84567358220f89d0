/**
 * The main thread's side of canary upgrades: the schedule. The worker runs the canary beside the old
 * version, splits the messages and enforces the limits (worker/canary.ts); this side moves it from
 * stage to stage on timers, promotes it after the last one, and settles the upgrade when the worker
 * reports that the canary is gone.
 *
 * The run lives on the agent's record (`canary`), so whatever ends the agent's instance (a stop, a
 * crash, a worker replacement) can end the run with it.
 */
import { CaxtonError } from '../errors.js';
import type { CanaryPlan, CanaryStage } from '../agents/canary-plan.js';
import type { ToWorker } from './worker-protocol.js';
import type { PoolEvent } from './events.js';

export interface CanaryRun {
  readonly hash: string;
  readonly plan: CanaryPlan;
  /** Index of the current stage; -1 until the worker confirmed the canary started. */
  stage: number;
  timer: NodeJS.Timeout | undefined;
}

/** The part of an agent's record a canary run reads and writes. */
export interface CanaryHost {
  readonly name: string;
  readonly inWorker: boolean;
  canary: CanaryRun | undefined;
}

export interface CanaryEnv<R extends CanaryHost> {
  /** Sends a command to the worker hosting the agent. */
  post(rec: R, msg: ToWorker): void;
  emit(e: PoolEvent): void;
  /** Rejects the caller of `upgrade()` for this agent, if one waits. */
  rejectUpgrade(name: string, e: Error): void;
}

export class CanaryRuns<R extends CanaryHost> {
  readonly #env: CanaryEnv<R>;

  constructor(env: CanaryEnv<R>) {
    this.#env = env;
  }

  /** Asks the agent's worker to start `hash` as a canary at the plan's first stage. */
  begin(rec: R, hash: string, plan: CanaryPlan): void {
    rec.canary = { hash, plan, stage: -1, timer: undefined };
    const { maxErrorRate, maxP99Ms, minSamples } = plan;
    this.#env.post(rec, { op: 'canary_start', name: rec.name, hash, percent: (plan.stages[0] as CanaryStage).percent, limits: { maxErrorRate, maxP99Ms, minSamples } });
  }

  /** Ends the run now (the operator asked): promote, or roll back for `reason`. */
  end(rec: R, promote: boolean, reason: string): void {
    if (rec.canary === undefined || !rec.inWorker) throw new CaxtonError('CAXTON_ERR_AGENT_STATE', `agent ${rec.name} has no canary upgrade in progress`, { agent: rec.name });
    this.#env.post(rec, { op: 'canary_end', name: rec.name, promote, reason });
  }

  /** The worker confirmed the canary of `hash` runs: its schedule starts. */
  started(rec: R, hash: string): void {
    if (rec.canary !== undefined && rec.canary.hash === hash) this.#stage(rec, rec.canary, 0);
  }

  /** The worker rolled the canary of `hash` back (its limits, a crash, or on request). */
  ended(rec: R, hash: string, reason: string): void {
    if (rec.canary !== undefined && rec.canary.hash === hash) this.rolledBack(rec, reason);
  }

  /** The canary of `hash` did not start; the upgrade's caller is answered by the pool. */
  failed(rec: R, hash: string): void {
    if (rec.canary !== undefined && rec.canary.hash === hash) rec.canary = undefined;
  }

  /** The agent was upgraded (a promoted canary, or any other upgrade): no run is left. */
  finished(rec: R): void {
    this.cancel(rec);
    rec.canary = undefined;
  }

  /** Stops the run's schedule (the pool is closing). */
  cancel(rec: R): void {
    if (rec.canary?.timer !== undefined) clearTimeout(rec.canary.timer);
  }

  /** The canary is gone without promotion: the upgrade is over, rolled back. */
  rolledBack(rec: R, reason: string): void {
    const run = rec.canary;
    if (run === undefined) return;
    if (run.timer !== undefined) clearTimeout(run.timer);
    rec.canary = undefined;
    this.#env.emit({ type: 'canary_rolled_back', name: rec.name, module: run.hash, reason });
    this.#env.rejectUpgrade(
      rec.name,
      new CaxtonError('CAXTON_ERR_UPGRADE_ROLLED_BACK', `canary upgrade of ${rec.name} to ${run.hash.slice(0, 12)} rolled back: ${reason}`, { agent: rec.name, module: run.hash, reason }),
    );
  }

  /** Enters stage `i` of the run's plan; after the last one, promotes it. */
  #stage(rec: R, run: CanaryRun, i: number): void {
    // A timer of a run that ended, or an agent that left its worker, is stale.
    if (rec.canary !== run || !rec.inWorker) return;
    const stage = run.plan.stages[i];
    if (stage === undefined) {
      run.timer = undefined;
      this.#env.post(rec, { op: 'canary_end', name: rec.name, promote: true, reason: '' });
      return;
    }
    run.stage = i;
    if (i > 0) this.#env.post(rec, { op: 'canary_percent', name: rec.name, percent: stage.percent });
    this.#env.emit({ type: 'canary_step', name: rec.name, module: run.hash, percent: stage.percent });
    run.timer = setTimeout(() => this.#stage(rec, run, i + 1), stage.durationMs);
    run.timer.unref();
  }
}

/** The canary's module and share of messages, once it runs; for AgentInfo. */
export function canaryShare(run: CanaryRun | undefined): { readonly module: string; readonly percent: number } | undefined {
  return run === undefined || run.stage < 0 ? undefined : { module: run.hash, percent: (run.plan.stages[run.stage] as CanaryStage).percent };
}
