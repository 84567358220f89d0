/** LamportClock: serf/lamport.go semantics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LamportClock } from '../../../../src/cluster/serf/index.js';

test('time starts at 0 (or the given start); increment returns the new value', () => {
  const c = new LamportClock();
  assert.equal(c.time(), 0);
  assert.equal(c.increment(), 1);
  assert.equal(c.increment(), 2);
  assert.equal(c.time(), 2);
  assert.equal(new LamportClock(41).increment(), 42);
  assert.throws(() => new LamportClock(-1), RangeError);
  assert.throws(() => new LamportClock(1.5), RangeError);
});

test('witness: a time at or past ours moves us one past it; an older time changes nothing', () => {
  const c = new LamportClock();
  c.witness(0); // equal to ours: one past it
  assert.equal(c.time(), 1);
  c.witness(0); // older: no change
  assert.equal(c.time(), 1);
  c.witness(1); // equal again
  assert.equal(c.time(), 2);
  c.witness(10);
  assert.equal(c.time(), 11);
  c.witness(5);
  assert.equal(c.time(), 11);
  assert.equal(c.increment(), 12);
});

test('witness ignores times it cannot step past exactly', () => {
  const c = new LamportClock(3);
  c.witness(Number.MAX_SAFE_INTEGER);
  c.witness(Number.NaN);
  c.witness(2.5);
  assert.equal(c.time(), 3);
  c.witness(Number.MAX_SAFE_INTEGER - 1);
  assert.equal(c.time(), Number.MAX_SAFE_INTEGER);
  assert.throws(() => c.increment(), RangeError);
});
