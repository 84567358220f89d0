/** BroadcastQueue: memberlist queue.go TransmitLimitedQueue behaviour. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BroadcastQueue, retransmitLimit } from '../../../../src/cluster/serf/index.js';

const msg = (tag: number, len = 4): Uint8Array => new Uint8Array(len).fill(tag);
const tags = (list: Uint8Array[]): number[] => list.map((m) => m[0] ?? -1);

test('retransmitLimit = mult × ceil(log10(n + 1))', () => {
  assert.equal(retransmitLimit(4, 0), 0);
  assert.equal(retransmitLimit(4, 1), 4);
  assert.equal(retransmitLimit(4, 9), 4);
  assert.equal(retransmitLimit(4, 10), 8);
  assert.equal(retransmitLimit(4, 99), 8);
  assert.equal(retransmitLimit(4, 100), 12);
  assert.equal(retransmitLimit(2, 1000), 8);
});

test('each message goes out retransmitLimit times, then is dropped', () => {
  let n = 3;
  const q = new BroadcastQueue({ retransmitMult: 4, numNodes: () => n });
  q.queue(msg(1));
  for (let i = 0; i < 4; i++) assert.deepEqual(tags(q.getBroadcasts(2, 1400)), [1], `round ${i}`);
  assert.equal(q.length, 0);
  assert.deepEqual(q.getBroadcasts(2, 1400), []);
  n = 50; // a bigger cluster: 8 sends
  q.queue(msg(2));
  let sends = 0;
  while (q.getBroadcasts(2, 1400).length > 0) sends++;
  assert.equal(sends, 8);
});

test('order: fewest transmits, then longest, then newest; limit and overhead respected', () => {
  const q = new BroadcastQueue({ retransmitMult: 4, numNodes: () => 5 });
  q.queue(msg(1, 10));
  q.queue(msg(2, 10));
  q.queue(msg(3, 30));
  assert.deepEqual(tags(q.getBroadcasts(1, 1000)), [3, 2, 1], 'longest first, then newest');
  q.queue(msg(4, 10)); // never sent: goes first
  assert.deepEqual(tags(q.getBroadcasts(1, 1000)), [4, 3, 2, 1]);
  // room for 31 + 11 bytes only: the 30-byte message and one 10-byte one (fewest transmits: 4)
  assert.deepEqual(tags(q.getBroadcasts(1, 42)), [4, 3]);
  // room for one 10-byte message: fewest transmits (4, 2, 1 at 2 sends), newest first
  assert.deepEqual(tags(q.getBroadcasts(1, 20)), [4]);
  // a message that does not fit is skipped, smaller ones still go
  q.queue(msg(5, 100));
  assert.deepEqual(tags(q.getBroadcasts(1, 30)), [2, 1]);
  assert.deepEqual(q.getBroadcasts(1, 1), []);
});

test('a keyed message replaces the queued one with the same key', () => {
  const q = new BroadcastQueue({ retransmitMult: 4, numNodes: () => 5 });
  q.queue(msg(1), 'node-a');
  q.queue(msg(2), 'node-b');
  q.queue(msg(3), 'node-a');
  q.queue(msg(4));
  q.queue(msg(5));
  assert.equal(q.length, 4);
  assert.deepEqual(tags(q.getBroadcasts(0, 1000)).sort(), [2, 3, 4, 5]);
});

test('maxDepth drops the most-sent messages first', () => {
  const q = new BroadcastQueue({ retransmitMult: 100, numNodes: () => 5, maxDepth: 3 });
  q.queue(msg(1));
  q.queue(msg(2));
  q.getBroadcasts(0, 1000); // both sent once
  q.queue(msg(3));
  q.queue(msg(4)); // 4 items > 3: drop one of the sent ones (the older at equal size)
  assert.equal(q.length, 3);
  assert.deepEqual(tags(q.getBroadcasts(0, 1000)), [4, 3, 2]);
  q.reset();
  assert.equal(q.length, 0);
});
