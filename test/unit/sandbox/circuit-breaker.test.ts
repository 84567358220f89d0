import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker } from '../../../src/sandbox/worker/circuit-breaker.js';

const policy = { threshold: 3, cooldownMs: 100, maxCooldownMs: 300 };

test('circuit breaker - opens after consecutive failures; a success in between resets the count', () => {
  const b = new CircuitBreaker(policy);
  b.failure(0);
  b.failure(0);
  b.success();
  b.failure(0);
  b.failure(0);
  assert.equal(b.state(0), 'closed');
  b.failure(0);
  assert.equal(b.state(0), 'open');
  assert.equal(b.admits(50), false);
});

test('circuit breaker - half-open lets one trial through; success closes, failure reopens longer', () => {
  const b = new CircuitBreaker(policy);
  for (let i = 0; i < 3; i++) b.failure(0);
  assert.equal(b.state(100), 'half-open');
  assert.equal(b.admits(100), true);
  assert.equal(b.admits(100), false, 'one trial at a time');
  b.failure(110);
  assert.equal(b.state(250), 'open', 'cool-down doubled to 200 ms');
  assert.equal(b.state(310), 'half-open');
  assert.ok(b.admits(310));
  b.failure(310);
  assert.equal(b.state(600), 'open', 'capped at 300 ms');
  assert.equal(b.state(610), 'half-open');
  assert.ok(b.admits(610));
  b.success();
  assert.equal(b.state(610), 'closed');
  for (let i = 0; i < 3; i++) b.failure(700);
  assert.equal(b.state(800), 'half-open', 'the cool-down starts over after closing');
});

test('circuit breaker - forced open until reset, whatever happens', () => {
  const b = new CircuitBreaker(policy);
  b.force();
  b.success();
  assert.equal(b.admits(1e9), false);
  b.reset();
  assert.equal(b.admits(1e9), true);
});
