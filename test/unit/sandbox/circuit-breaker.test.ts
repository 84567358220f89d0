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

test('circuit breaker - a trial that never reports back is given up after a cool-down; one not queued after all is handed back at once', () => {
  const b = new CircuitBreaker(policy);
  for (let i = 0; i < 3; i++) b.failure(0);
  assert.equal(b.admits(100), true);
  assert.equal(b.admits(150), false, 'the trial is in flight');
  assert.equal(b.admits(200), true, 'no success or failure within a cool-down: another message may try');
  b.cancelTrial();
  assert.equal(b.admits(201), true, 'the trial was not queued after all');
  assert.equal(b.state(201), 'half-open');
});

test('circuit breaker - forced open until reset, whatever happens', () => {
  const b = new CircuitBreaker(policy);
  b.force();
  b.success();
  assert.equal(b.admits(1e9), false);
  b.reset();
  assert.equal(b.admits(1e9), true);
});

test('circuit breaker - a gradual reset admits exactly p in every 100 messages, p rising linearly over the ramp', () => {
  const b = new CircuitBreaker(policy);
  b.force();
  b.reset(1000, 1000); // ramp from t = 1000 to 2000
  assert.equal(b.state(1000), 'recovering');
  const admitted = (t: number, n = 100) => Array.from({ length: n }, () => b.admits(t)).filter(Boolean).length;
  assert.equal(admitted(1000), 0, 'nothing at the start');
  for (const [t, p] of [
    [1100, 10],
    [1250, 25],
    [1500, 50],
    [1500, 50],
    [1733, 73],
    [1990, 99],
  ] as const) {
    assert.equal(b.admittedPercent(t), p);
    assert.equal(admitted(t), p, `at ${t - 1000} ms of 1000: ${p} of 100`);
  }
  assert.equal(b.state(2000), 'closed', 'closed at the end of the ramp');
  assert.equal(admitted(2000), 100);
});

test('circuit breaker - during a ramp successes do not end it early; failures open it again', () => {
  const b = new CircuitBreaker(policy);
  for (let i = 0; i < 3; i++) b.failure(0);
  b.reset(0, 1000);
  b.success();
  assert.equal(b.state(10), 'recovering', 'a success keeps the ramp going');
  for (let i = 0; i < 3; i++) b.failure(20);
  assert.equal(b.state(20), 'open', 'the agent still fails: open as before');
  b.reset(30, 1000);
  b.reset(40); // an immediate reset ends a ramp
  assert.equal(b.state(40), 'closed');
});

test('circuit breaker - a gradual reset leaves a closed breaker closed', () => {
  const b = new CircuitBreaker(policy);
  b.reset(0, 1000);
  assert.equal(b.state(0), 'closed');
  assert.equal(b.admits(0), true);
});
