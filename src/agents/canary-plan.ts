/**
 * A canary upgrade's plan: the share of messages the new version takes at each stage and for how
 * long, and the limits that roll it back. Defaults follow the spec's canary strategy (5 % for 5 min,
 * 25 % and 50 % for 10 min each, then 100 %; roll back on error rate > 1 % or P99 > 100 ms).
 */
import { CaxtonError } from '../errors.js';
import type { CanaryLimits } from '../sandbox/worker-protocol.js';

export interface CanaryStage {
  /** Share of the agent's messages for the new version, 1..100. */
  readonly percent: number;
  /** How long the stage lasts before the next one, ms. The 100 % stage's duration is a last watch before promotion. */
  readonly durationMs: number;
}

export interface CanaryPlan extends CanaryLimits {
  readonly stages: readonly CanaryStage[];
}

export const DEFAULT_CANARY_PLAN: CanaryPlan = {
  stages: [
    { percent: 5, durationMs: 5 * 60_000 },
    { percent: 25, durationMs: 10 * 60_000 },
    { percent: 50, durationMs: 10 * 60_000 },
    { percent: 100, durationMs: 0 },
  ],
  maxErrorRate: 0.01,
  maxP99Ms: 100,
  minSamples: 100,
};

/** Fills in the defaults and checks the plan. A plan whose last stage is below 100 % gets a final 100 % stage. Throws CAXTON_ERR_UPGRADE_PLAN. */
export function canaryPlan(partial: Partial<CanaryPlan> = {}): CanaryPlan {
  const plan = { ...DEFAULT_CANARY_PLAN, ...dropUndefined(partial) };
  const bad = (what: string) => new CaxtonError('CAXTON_ERR_UPGRADE_PLAN', `invalid canary plan: ${what}`);
  if (plan.stages.length === 0) throw bad('no stages');
  let last = 0;
  for (const [i, s] of plan.stages.entries()) {
    if (!Number.isFinite(s.percent) || s.percent < 1 || s.percent > 100) throw bad(`stage ${i + 1}: percent ${s.percent} is not within 1..100`);
    if (s.percent <= last) throw bad(`stage ${i + 1}: percent ${s.percent} is not above the previous stage's ${last}`);
    if (!Number.isFinite(s.durationMs) || s.durationMs < 0) throw bad(`stage ${i + 1}: duration ${s.durationMs} ms is negative or not a number`);
    last = s.percent;
  }
  if (!(plan.maxErrorRate >= 0 && plan.maxErrorRate <= 1)) throw bad(`maxErrorRate ${plan.maxErrorRate} is not within 0..1`);
  if (!(plan.maxP99Ms > 0)) throw bad(`maxP99Ms ${plan.maxP99Ms} must be above 0`);
  if (!(Number.isInteger(plan.minSamples) && plan.minSamples >= 1)) throw bad(`minSamples ${plan.minSamples} must be an integer of 1 or more`);
  const stages = last === 100 ? plan.stages : [...plan.stages, { percent: 100, durationMs: 0 }];
  return { ...plan, stages };
}

/**
 * Parses the CLI's stage list, `5:5m,25:10m,50:10m` (percent:duration, duration in ms, s, m or h;
 * a bare percent lasts 0). Throws CAXTON_ERR_UPGRADE_PLAN.
 */
export function parseCanaryStages(text: string): CanaryStage[] {
  return text.split(',').map((part, i) => {
    const m = /^\s*(\d+(?:\.\d+)?)%?\s*(?::\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?)?\s*$/.exec(part);
    if (m === null) throw new CaxtonError('CAXTON_ERR_UPGRADE_PLAN', `invalid canary stage ${i + 1} ${JSON.stringify(part)}: write percent:duration, for example 5:5m`);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[3] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
    return { percent: Number(m[1]), durationMs: m[2] === undefined ? 0 : Number(m[2]) * unit };
  });
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
