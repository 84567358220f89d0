/**
 * The relay over a real SQLite outbox and a real dead-letter queue. Its way back into the node is the
 * Redelivery seam (the router's in a node); here a recorder of what the relay hands over, since what
 * is tested is the relay's choice of what to redeliver, not routing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DeadLetterStore, OutboxStore, openDatabase, PARKED } from '../../../src/storage/index.js';
import { DeadLetterQueue, type Redelivery } from '../../../src/messaging/dead-letter-queue.js';
import { OutboxRelay } from '../../../src/messaging/outbox-relay.js';
import { tempDir } from '../../helpers/tmp.js';

const YEAR = 365 * 24 * 3600 * 1000;

function setUp(opts: { holdDeadLetters?: () => boolean } = {}) {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'x.db'));
  const outbox = new OutboxStore(db);
  const sent: string[] = [];
  const delivery: Redelivery = {
    deliver: (to) => (sent.push(to), true),
    deliverToCapability: () => undefined,
  };
  const deadLetters = new DeadLetterQueue(new DeadLetterStore(db), delivery);
  const relay = new OutboxRelay(outbox, delivery, deadLetters, { intervalMs: 3_600_000, baseDelayMs: 100, maxAttempts: 3, ...opts });
  return {
    outbox,
    sent,
    deadLetters,
    relay,
    done() {
      relay.stop();
      db.close();
      dir.cleanup();
    },
  };
}

test('outbox relay - a parked row is neither redelivered nor dead-lettered, however late', () => {
  const t = setUp();
  try {
    t.outbox.add('m1', 'a', '{}', 0);
    t.outbox.add('m2', 'b', '{}', 0);
    assert.ok(t.outbox.park('m1'));
    assert.equal(t.outbox.park('none'), false);
    assert.equal(t.outbox.parked(), 1);
    // Far past every back-off and the attempt limit: only m2 is ever handled.
    for (let i = 1; i <= 6; i++) t.relay.tick(Date.now() + i * YEAR);
    assert.deepEqual(t.sent, ['b', 'b']);
    assert.equal(t.deadLetters.count(), 1, 'm2 reached maxAttempts; m1 did not');
    assert.ok(t.outbox.has('m1'));
    assert.equal(t.outbox.due(PARKED - 1, 10).length, 0);
  } finally {
    t.done();
  }
});

test('outbox relay - an unparked row is due at the given time, its attempts counted afresh', () => {
  const t = setUp();
  try {
    t.outbox.add('m1', 'a', '{}', 0);
    t.relay.tick(1_000); // one redelivery: attempts 1
    t.outbox.park('m1');
    assert.ok(t.outbox.unpark('m1', 50_000));
    assert.equal(t.outbox.unpark('m1', 60_000), false, 'not parked any more');
    assert.equal(t.outbox.parked(), 0);
    assert.deepEqual(t.outbox.due(49_999, 10), []);
    const [e] = t.outbox.due(50_000, 10);
    assert.equal(e!.nextAt, 50_000);
    assert.equal(e!.attempts, 0);
    t.relay.tick(50_000);
    assert.deepEqual(t.sent, ['a', 'a']);
  } finally {
    t.done();
  }
});

test('outbox relay - holdDeadLetters: at its limit a message is redelivered at the largest back-off, not dead-lettered', () => {
  let partitioned = true;
  const t = setUp({ holdDeadLetters: () => partitioned });
  try {
    t.outbox.add('m1', 'a', '{}', 0);
    let now = 0;
    for (let i = 0; i < 6; i++) {
      t.relay.tick(now);
      now = t.outbox.due(Number.MAX_SAFE_INTEGER, 1)[0]!.nextAt;
    }
    assert.equal(t.deadLetters.count(), 0);
    assert.equal(t.sent.length, 6, 'still redelivered while held');
    // baseDelay 100, maxAttempts 3: redeliveries wait 100, 200, then 200 for as long as it is held.
    const [e] = t.outbox.due(Number.MAX_SAFE_INTEGER, 1);
    assert.equal(e!.attempts, 6);
    t.relay.tick(now);
    assert.equal(t.outbox.due(Number.MAX_SAFE_INTEGER, 1)[0]!.nextAt - now, 200);
    partitioned = false;
    t.relay.tick(now + 200);
    assert.equal(t.deadLetters.count(), 1, 'healed: the relay rules as before');
    assert.equal(t.outbox.has('m1'), false);
  } finally {
    t.done();
  }
});
