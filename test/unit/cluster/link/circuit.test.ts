import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Circuit } from '../../../../src/cluster/link/circuit.js';

test('link circuit - opens after consecutive failures, half-opens after openMs, a success closes it', () => {
  let now = 0;
  const c = new Circuit({ failureThreshold: 3, openMs: 100 }, () => now);
  assert.equal(c.state, 'closed');
  assert.equal(c.failure(), false);
  assert.equal(c.failure(), false);
  c.success(); // resets the count
  assert.equal(c.failure(), false);
  assert.equal(c.failure(), false);
  assert.equal(c.failure(), true);
  assert.equal(c.state, 'open');
  assert.equal(c.allows, false);
  assert.equal(c.retryInMs, 100);
  now = 99;
  assert.equal(c.state, 'open');
  now = 100;
  assert.equal(c.state, 'half-open');
  assert.equal(c.allows, true);
  c.success();
  assert.equal(c.state, 'closed');
  assert.equal(c.opened, 1);
});

test('link circuit - a failed half-open probe opens it again for another openMs', () => {
  let now = 0;
  const c = new Circuit({ failureThreshold: 1, openMs: 50 }, () => now);
  assert.equal(c.failure(), true);
  now = 60;
  assert.equal(c.state, 'half-open');
  assert.equal(c.failure(), true);
  assert.equal(c.state, 'open');
  now = 100;
  assert.equal(c.state, 'open');
  now = 110;
  assert.equal(c.state, 'half-open');
  assert.equal(c.opened, 2);
  assert.throws(() => new Circuit({ failureThreshold: 0 }), /failureThreshold 0 must be 1 or more/);
});
