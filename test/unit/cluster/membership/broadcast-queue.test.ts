import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransmitLimitedQueue, type Broadcast, type FinishReason } from '../../../../src/cluster/membership/broadcast-queue.js';
import { retransmitLimit } from '../../../../src/cluster/membership/timing.js';

const text = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s));
const str = (b: Uint8Array): string => Buffer.from(b).toString();

/** A memberlistBroadcast: named after the node it is about. */
function named(name: string, msg = '', finished?: (r: FinishReason) => void): Broadcast {
  return finished === undefined ? { name, message: text(msg) } : { name, message: text(msg), finished };
}

function queue(retransmitMult: number, numNodes: number): TransmitLimitedQueue {
  return new TransmitLimitedQueue({ retransmitMult, numNodes: () => numNodes });
}

test('TransmitLimitedQueue - order: fewer transmits, then longer, then newer (TestLimitedBroadcastLess, TestTransmitLimited_ordering)', () => {
  const q = queue(1, 10);
  q.queueBroadcast(named('node0', 'node0'), 0);
  q.queueBroadcast(named('node1', 'node1'), 10);
  q.queueBroadcast(named('node2', 'node2'), 3);
  q.queueBroadcast(named('node3', 'node3'), 4);
  q.queueBroadcast(named('node4', 'node4'), 7);
  assert.deepEqual(
    q.orderedView().map((i) => i.transmits),
    [0, 3, 4, 7, 10],
  );

  const q2 = queue(1, 10);
  q2.queueBroadcast({ message: text('a'.repeat(10)) });
  q2.queueBroadcast({ message: text('b'.repeat(12)) });
  q2.queueBroadcast({ message: text('c'.repeat(12)) });
  assert.deepEqual(
    q2.orderedView().map((i) => [i.msgLen, i.id]),
    [
      [12, 3],
      [12, 2],
      [10, 1],
    ],
  );
});

test('TransmitLimitedQueue - a newer broadcast about the same node invalidates the older (TestTransmitLimited_Queue)', () => {
  const q = queue(1, 1);
  const finished: string[] = [];
  q.queueBroadcast(named('test', '', (r) => finished.push(`test:${r}`)));
  q.queueBroadcast(named('foo'));
  q.queueBroadcast(named('bar'));
  assert.equal(q.numQueued(), 3);
  // Go's orderedView(reverse=true) lists the oldest first.
  assert.deepEqual(
    q.orderedView().reverse().map((i) => i.broadcast.name),
    ['test', 'foo', 'bar'],
  );
  q.queueBroadcast(named('test'));
  assert.equal(q.numQueued(), 3);
  assert.deepEqual(
    q.orderedView().reverse().map((i) => i.broadcast.name),
    ['foo', 'bar', 'test'],
  );
  assert.deepEqual(finished, ['test:invalidated']);
});

test('TransmitLimitedQueue - packs by size with per-message overhead (TestTransmitLimited_GetBroadcasts)', () => {
  const q = queue(3, 10);
  // 18 bytes per message
  q.queueBroadcast(named('test', '1. this is a test.'));
  q.queueBroadcast(named('foo', '2. this is a test.'));
  q.queueBroadcast(named('bar', '3. this is a test.'));
  q.queueBroadcast(named('baz', '4. this is a test.'));
  assert.equal(q.getBroadcasts(2, 80).length, 4, '2-byte overhead: all four fit');
  assert.equal(q.getBroadcasts(3, 80).length, 3, '3-byte overhead: three fit');
});

test('TransmitLimitedQueue - retransmit limit and id generator (TestTransmitLimited_GetBroadcasts_Limit)', () => {
  const q = queue(1, 10);
  assert.equal(q.idGen, 0);
  assert.equal(retransmitLimit(1, 10), 2, 'sanity check transmit limits');
  q.queueBroadcast(named('test', '1. this is a test.'));
  q.queueBroadcast(named('foo', '2. this is a test.'));
  q.queueBroadcast(named('bar', '3. this is a test.'));
  q.queueBroadcast(named('baz', '4. this is a test.'));
  assert.equal(q.idGen, 4);
  assert.equal(q.getBroadcasts(3, 80).length, 3);
  assert.equal(q.idGen, 4, 'id generator does not reset until empty');
  assert.equal(q.getBroadcasts(3, 80).length, 3);
  assert.equal(q.idGen, 4);
  assert.equal(q.getBroadcasts(3, 80).length, 2, 'only two not expired');
  assert.equal(q.idGen, 0, 'id generator resets on empty');
  assert.equal(q.getBroadcasts(3, 80).length, 0);
});

test('TransmitLimitedQueue - prune keeps the freshest (TestTransmitLimited_Prune)', () => {
  const q = queue(1, 10);
  const finished: string[] = [];
  q.queueBroadcast(named('test', '1. this is a test.', (r) => finished.push(`test:${r}`)));
  q.queueBroadcast(named('foo', '2. this is a test.', (r) => finished.push(`foo:${r}`)));
  q.queueBroadcast(named('bar', '3. this is a test.'));
  q.queueBroadcast(named('baz', '4. this is a test.'));
  q.prune(2);
  assert.equal(q.numQueued(), 2);
  assert.deepEqual(finished.sort(), ['foo:dropped', 'test:dropped']);
  assert.deepEqual(
    q.orderedView().reverse().map((i) => i.broadcast.name),
    ['bar', 'baz'],
  );
});

test('TransmitLimitedQueue - the retransmit limit grows with the cluster', () => {
  for (const [n, sends] of [
    [1, 4],
    [9, 4],
    [10, 8],
    [100, 12],
  ] as const) {
    const q = queue(4, n);
    let done: FinishReason | undefined;
    q.queueBroadcast(named('x', 'payload', (r) => (done = r)));
    let count = 0;
    while (q.getBroadcasts(2, 1400).length > 0) count++;
    assert.equal(count, sends, `n=${n}`);
    assert.equal(done, 'sent');
  }
});

test('TransmitLimitedQueue - fresher tiers first, largest that fits within a tier, oversize skipped', () => {
  const q = queue(10, 10);
  q.queueBroadcast({ message: text('x'.repeat(50)) });
  q.queueBroadcast({ message: text('y'.repeat(10)) });
  q.queueBroadcast({ message: text('z'.repeat(500)) });
  // 60 bytes, no overhead: the 50 fits first, then the 10; the 500 never fits.
  assert.deepEqual(
    q.getBroadcasts(0, 60).map((b) => b.length),
    [50, 10],
  );
  q.queueBroadcast({ message: text('w'.repeat(20)) });
  // The new one (0 transmits) goes before the older ones (1 transmit).
  assert.deepEqual(
    q.getBroadcasts(0, 80).map((b) => str(b)[0]),
    ['w', 'x', 'y'],
  );
  assert.equal(q.numQueued(), 4);
});

test('TransmitLimitedQueue - unnamed broadcasts: invalidates() or unique', () => {
  const q = queue(1, 10);
  const finished: string[] = [];
  const serfLike = (key: string, body: string): Broadcast => {
    const b: Broadcast & { key: string } = {
      key,
      message: text(body),
      invalidates: (other) => (other as Broadcast & { key?: string }).key === key,
      finished: (r) => finished.push(`${body}:${r}`),
    };
    return b;
  };
  q.queueBroadcast(serfLike('k1', 'one'));
  q.queueBroadcast(serfLike('k2', 'two'));
  q.queueBroadcast({ message: text('unique') });
  q.queueBroadcast(named('k1', 'named'));
  q.queueBroadcast(serfLike('k1', 'three'));
  assert.deepEqual(finished, ['one:invalidated']);
  assert.deepEqual(q.orderedView().map((i) => str(i.broadcast.message)).sort(), ['named', 'three', 'two', 'unique']);
  q.reset();
  assert.equal(q.numQueued(), 0);
  assert.deepEqual(finished.sort(), ['one:invalidated', 'three:dropped', 'two:dropped']);
});
