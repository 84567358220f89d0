import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CANARY_PLAN, canaryPlan, parseCanaryStages } from '../../../src/agents/canary-plan.js';
import { isCaxtonError } from '../../../src/errors.js';

test('canary plan - the defaults are the spec\'s 5 → 25 → 50 → 100 % with 1 % / 100 ms limits', () => {
  const p = canaryPlan();
  assert.deepEqual(p.stages.map((s) => s.percent), [5, 25, 50, 100]);
  assert.equal(p.maxErrorRate, 0.01);
  assert.equal(p.maxP99Ms, 100);
  assert.deepEqual(p, DEFAULT_CANARY_PLAN);
});

test('canary plan - a plan that stops short of 100 % gets a final 100 % stage', () => {
  const p = canaryPlan({ stages: [{ percent: 10, durationMs: 5 }] });
  assert.deepEqual(p.stages, [{ percent: 10, durationMs: 5 }, { percent: 100, durationMs: 0 }]);
});

test('canary plan - bad stages and limits are refused with the stage named', () => {
  const bad = (partial: Parameters<typeof canaryPlan>[0], re: RegExp) =>
    assert.throws(() => canaryPlan(partial), (e) => isCaxtonError(e, 'CAXTON_ERR_UPGRADE_PLAN') && re.test(e.message));
  bad({ stages: [] }, /no stages/);
  bad({ stages: [{ percent: 50, durationMs: 1 }, { percent: 25, durationMs: 1 }] }, /stage 2: percent 25 is not above the previous stage's 50/);
  bad({ stages: [{ percent: 0, durationMs: 1 }] }, /stage 1: percent 0 is not within 1..100/);
  bad({ stages: [{ percent: 101, durationMs: 1 }] }, /stage 1/);
  bad({ stages: [{ percent: 5, durationMs: -1 }] }, /duration -1 ms/);
  bad({ maxErrorRate: 1.5 }, /maxErrorRate/);
  bad({ maxP99Ms: 0 }, /maxP99Ms/);
  bad({ minSamples: 0.5 }, /minSamples/);
});

test('canary plan - the CLI form percent:duration parses with units', () => {
  assert.deepEqual(parseCanaryStages('5:5m,25:10m, 50:30s,75:250ms,100'), [
    { percent: 5, durationMs: 300_000 },
    { percent: 25, durationMs: 600_000 },
    { percent: 50, durationMs: 30_000 },
    { percent: 75, durationMs: 250 },
    { percent: 100, durationMs: 0 },
  ]);
  assert.deepEqual(parseCanaryStages('10%:1h'), [{ percent: 10, durationMs: 3_600_000 }]);
  assert.throws(() => parseCanaryStages('5:5 minutes'), (e) => isCaxtonError(e, 'CAXTON_ERR_UPGRADE_PLAN') && /stage 1 "5:5 minutes"/.test(e.message));
});
