import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_STATES, allowedFrom, assertTransition, canTransition } from '../../../src/agents/lifecycle.js';
import { isCaxtonError } from '../../../src/errors.js';

test('lifecycle - the normal path and its detours are allowed', () => {
  const path: [string, string][] = [
    ['loaded', 'ready'], ['ready', 'running'], ['running', 'suspended'], ['suspended', 'running'],
    ['running', 'loaded'], // crash, waiting for the restart
    ['running', 'draining'], ['draining', 'stopped'], ['stopped', 'loaded'], // restarted by hand
    ['running', 'failed'], ['failed', 'loaded'],
  ];
  for (const [a, b] of path) assert.ok(canTransition(a as never, b as never), `${a} → ${b}`);
});

test('lifecycle - illegal transitions are refused with the allowed ones named', () => {
  for (const [a, b] of [['stopped', 'running'], ['failed', 'running'], ['draining', 'running'], ['loaded', 'running'], ['stopped', 'suspended']] as const) {
    assert.equal(canTransition(a, b), false, `${a} → ${b}`);
    assert.throws(
      () => assertTransition('x', a, b, 'test'),
      (e) => isCaxtonError(e, 'CAXTON_ERR_AGENT_STATE') && e.message.includes(`it is ${a}`) && e.message.includes(allowedFrom(a).join(', ')),
    );
  }
});

test('lifecycle - no state moves to itself, and every state has a way on', () => {
  for (const s of AGENT_STATES) {
    assert.equal(canTransition(s, s), false, s);
    assert.ok(allowedFrom(s).length > 0, s);
  }
});
