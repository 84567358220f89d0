import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HandoffQueue } from '../../../../src/cluster/membership/handoff-queue.js';
import { AckHandlers } from '../../../../src/cluster/membership/ack-handlers.js';
import { FakeClock } from './fake-clock.js';

test('HandoffQueue - high lane first, newest first within a lane (memberlist#159)', () => {
  const q = new HandoffQueue<string>(4);
  for (const s of ['s1', 's2', 's3']) assert.ok(q.push(s, false));
  for (const a of ['a1', 'a2']) assert.ok(q.push(a, true));
  assert.equal(q.length, 5);
  assert.deepEqual([q.shift(), q.shift(), q.shift()], ['a2', 'a1', 's3']);
  assert.ok(q.push('s4', false));
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], ['s4', 's2', 's1', undefined]);
  assert.equal(q.dropped, 0);
});

test('HandoffQueue - a full lane drops its oldest item, counted, and keeps the new one', () => {
  const q = new HandoffQueue<string>(2);
  assert.ok(q.push('s1', false));
  assert.ok(q.push('s2', false));
  assert.ok(!q.push('s3', false), 'low lane full: s1 goes');
  assert.ok(!q.push('s4', false), 'still full: s2 goes');
  assert.ok(q.push('a1', true), 'high lane has its own room');
  assert.ok(q.push('a2', true));
  assert.ok(!q.push('a3', true), 'high lane full: a1 goes');
  assert.equal(q.dropped, 3);
  assert.equal(q.length, 4);
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], ['a3', 'a2', 's4', 's3', undefined]);
  // The ring wraps cleanly after evictions and pops.
  for (const s of ['s5', 's6', 's7']) q.push(s, false);
  assert.deepEqual([q.shift(), q.shift(), q.shift()], ['s7', 's6', undefined]);
  q.push('s8', false);
  q.clear();
  assert.equal(q.length, 0);
  assert.equal(q.shift(), undefined);
});

test('AckHandlers - ack once, nacks counted, timeout reaps, clear times out', () => {
  const clock = new FakeClock();
  const acks = new AckHandlers(clock);
  const log: string[] = [];
  acks.set(1, 100, { onAck: (p) => log.push(`ack1:${p?.length ?? 0}`), onNack: () => log.push('nack1'), onTimeout: () => log.push('timeout1') });
  acks.set(2, 100, { onAck: () => log.push('ack2'), onTimeout: () => log.push('timeout2') });
  acks.set(3, 100, { onAck: () => log.push('ack3'), onTimeout: () => log.push('timeout3') });
  assert.ok(acks.nack(1));
  assert.ok(acks.nack(1));
  assert.ok(!acks.nack(2), 'no nack handler');
  assert.ok(acks.ack(1, Uint8Array.of(9), clock.now()));
  assert.ok(!acks.ack(1, null, clock.now()), 'only once');
  clock.advance(100);
  assert.ok(!acks.ack(2, null, clock.now()), 'reaped');
  acks.set(4, 1000, { onAck: () => log.push('ack4'), onTimeout: () => log.push('timeout4') });
  acks.clear();
  assert.equal(acks.size, 0);
  assert.deepEqual(log, ['nack1', 'nack1', 'ack1:1', 'timeout2', 'timeout3', 'timeout4']);
});
