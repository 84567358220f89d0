import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { sleep } from '../../../src/cli/commands/common.js';

test('cli common - sleep removes its abort listener when the timer fires, so a polling loop does not pile them up', async () => {
  const ac = new AbortController();
  // `caxton profile --duration 60s` sleeps 120 times on one signal.
  for (let i = 0; i < 20; i++) await sleep(1, ac.signal);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

test('cli common - sleep ends early when the signal aborts, and at once when it already has', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const waiting = sleep(30_000, ac.signal);
  ac.abort();
  await waiting;
  await sleep(30_000, ac.signal);
  assert.ok(Date.now() - t0 < 10_000, 'did not wait for the timers');
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
});
