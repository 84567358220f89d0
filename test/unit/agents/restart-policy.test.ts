import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrashHistory, DEFAULT_RESTART_POLICY, restartDelay, type RestartPolicy } from '../../../src/agents/restart-policy.js';

const policy: RestartPolicy = { baseDelayMs: 100, factor: 2, maxDelayMs: 1000, maxRestarts: 3, windowMs: 10_000 };

test('restart policy - delays grow exponentially up to the cap', () => {
  const cases: [number, number][] = [[1, 100], [2, 200], [3, 400], [4, 800], [5, 1000], [50, 1000], [0, 100]];
  for (const [n, want] of cases) assert.equal(restartDelay(policy, n), want, `crash ${n}`);
});

test('restart policy - more than maxRestarts crashes within the window gives up', () => {
  const h = new CrashHistory(policy);
  assert.deepEqual(h.record(0), { action: 'restart', delayMs: 100, recent: 1 });
  assert.deepEqual(h.record(1000), { action: 'restart', delayMs: 200, recent: 2 });
  assert.deepEqual(h.record(2000), { action: 'restart', delayMs: 400, recent: 3 });
  assert.deepEqual(h.record(3000), { action: 'give_up', recent: 4 });
});

test('restart policy - crashes older than the window are forgotten', () => {
  const h = new CrashHistory(policy);
  h.record(0);
  h.record(1000);
  h.record(2000);
  assert.deepEqual(h.record(12_500), { action: 'restart', delayMs: 100, recent: 1 }, 'a quiet window resets the back-off');
  h.reset();
  assert.equal(h.record(12_600).recent, 1);
});

test('restart policy - defaults are OTP-like', () => {
  assert.equal(DEFAULT_RESTART_POLICY.maxRestarts, 5);
  assert.equal(DEFAULT_RESTART_POLICY.windowMs, 60_000);
});
