import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallWatch, watchIntervalMs } from '../../../src/sandbox/watchdog.js';
import { WATCH_AGENT, WATCH_SEQ, WATCH_SLOTS } from '../../../src/sandbox/worker-protocol.js';

function slots(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(WATCH_SLOTS * 4));
}

function beginCall(s: Int32Array, key: number): void {
  Atomics.store(s, WATCH_AGENT, key);
  Atomics.add(s, WATCH_SEQ, 1);
}
function endCall(s: Int32Array): void {
  Atomics.add(s, WATCH_SEQ, 1);
}

test('watchdog - an idle worker is never reported', () => {
  const s = slots();
  const w = new CallWatch(s, 100);
  for (let t = 0; t < 10_000; t += 50) assert.equal(w.check(t), undefined);
});

test('watchdog - a call is reported only after it was seen running for the whole limit', () => {
  const s = slots();
  const w = new CallWatch(s, 100);
  beginCall(s, 42);
  assert.equal(w.check(1000), undefined, 'first sight starts the clock');
  assert.equal(w.check(1050), undefined);
  assert.equal(w.check(1099), undefined);
  assert.equal(w.check(1100), 42, 'reports the key of the agent in the call');
});

test('watchdog - many short calls never add up to an overrun', () => {
  const s = slots();
  const w = new CallWatch(s, 100);
  for (let t = 0; t < 2000; t += 25) {
    beginCall(s, 1);
    assert.equal(w.check(t), undefined);
    endCall(s);
    beginCall(s, 2); // a new call is running at every sample, but never the same one
  }
});

test('watchdog - reset forgets the current observation', () => {
  const s = slots();
  const w = new CallWatch(s, 100);
  beginCall(s, 7);
  w.check(0);
  w.reset();
  assert.equal(w.check(150), undefined, 'the clock restarts after reset');
  assert.equal(w.check(250), 7);
});

test('watchdog - sampling interval is a quarter of the limit, clamped', () => {
  assert.equal(watchIntervalMs(5000), 250);
  assert.equal(watchIntervalMs(400), 100);
  assert.equal(watchIntervalMs(8), 5);
});
