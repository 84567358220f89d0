import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { OutboxStore, openDatabase, PARKED, PartitionQueueStore, type SqliteDatabase } from '../../../src/storage/index.js';
import { PartitionQueue, type HeldMessage, type PartitionQueueOptions, type QueuedMessage, type ReplayOutcome } from '../../../src/messaging/partition-queue.js';
import { tempDir } from '../../helpers/tmp.js';
import { prng } from '../../helpers/prng.js';

const NORMAL = 1 as const;

function setUp(opts: PartitionQueueOptions = {}) {
  const dir = tempDir();
  const path = join(dir.path, 'x.db');
  let db: SqliteDatabase = openDatabase(path);
  const open = () => {
    const outbox = new OutboxStore(db);
    return { outbox, queue: new PartitionQueue(new PartitionQueueStore(db), outbox, opts) };
  };
  let parts = open();
  return {
    get outbox() {
      return parts.outbox;
    },
    get queue() {
      return parts.queue;
    },
    get db() {
      return db;
    },
    reopen() {
      db.close();
      db = openDatabase(path);
      parts = open();
    },
    done() {
      db.close();
      dir.cleanup();
    },
  };
}

/** At-most-once by default; `id` makes it at-least-once (the caller adds its outbox row). */
const msg = (to: string, n: number, id = ''): HeldMessage => ({ messageId: id, to, json: JSON.stringify({ n, receiver: to }), priority: NORMAL, from: 'sender', replyTo: '' });
const nOf = (m: QueuedMessage) => (JSON.parse(m.json) as { n: number }).n;

test('partition queue - replays in hold order, with every field kept', () => {
  const t = setUp();
  try {
    for (let n = 1; n <= 5; n++) assert.equal(t.queue.hold({ ...msg(`a${n % 2}`, n), replyTo: 'node-2', priority: 3 }), 'held');
    const seen: QueuedMessage[] = [];
    assert.deepEqual(t.queue.replay((m) => (seen.push(m), 'sent')), { sent: 5, kept: 0, gone: 0 });
    assert.deepEqual(seen.map(nOf), [1, 2, 3, 4, 5]);
    assert.deepEqual({ ...seen[0]!, seq: 0, createdAt: 0 }, { ...msg('a1', 1), replyTo: 'node-2', priority: 3, seq: 0, createdAt: 0 });
    assert.equal(t.queue.size, 0);
    assert.equal(t.queue.bytes, 0);
    assert.deepEqual(t.queue.stats, { held: 5, duplicates: 0, refusedFull: 0, replayed: 5 });
  } finally {
    t.done();
  }
});

test('partition queue - an at-least-once message is held once, its outbox row parked until replay sends it', () => {
  const t = setUp({ redeliverAfterMs: 60_000 });
  try {
    t.outbox.add('m1', 'a', '{}', 0);
    assert.equal(t.queue.hold(msg('a', 1, 'm1')), 'held');
    assert.equal(t.queue.hold(msg('a', 1, 'm1')), 'duplicate');
    assert.equal(t.queue.size, 1);
    assert.equal(t.queue.stats.duplicates, 1);
    assert.equal(t.outbox.parked(), 1);
    assert.deepEqual(t.outbox.due(PARKED - 1, 10), [], 'parked: the relay never sees it');
    // Still unreachable: kept, still parked.
    assert.deepEqual(t.queue.replay(() => 'hold'), { sent: 0, kept: 1, gone: 0 });
    assert.equal(t.outbox.parked(), 1);
    const before = Date.now();
    assert.deepEqual(t.queue.replay(() => 'sent'), { sent: 1, kept: 0, gone: 0 });
    assert.equal(t.outbox.parked(), 0);
    const [e] = t.outbox.due(Number.MAX_SAFE_INTEGER, 10);
    assert.ok(e!.nextAt >= before + 60_000 && e!.nextAt <= Date.now() + 60_000, 'due again after redeliverAfterMs');
  } finally {
    t.done();
  }
});

test('partition queue - a message acknowledged while held is gone without being routed', () => {
  const t = setUp();
  try {
    t.outbox.add('m1', 'a', '{}', 0);
    t.outbox.add('m2', 'a', '{}', 0);
    t.queue.hold(msg('a', 1, 'm1'));
    t.queue.hold(msg('a', 2, 'm2'));
    t.outbox.ack('m1');
    const routed: number[] = [];
    assert.deepEqual(t.queue.replay((m) => (routed.push(nOf(m)), 'sent')), { sent: 1, kept: 0, gone: 1 });
    assert.deepEqual(routed, [2]);
  } finally {
    t.done();
  }
});

test('partition queue - gone from route deletes the message and hands its outbox row back to the relay', () => {
  const t = setUp();
  try {
    t.outbox.add('m1', 'a', '{}', 0);
    t.queue.hold(msg('a', 1, 'm1'));
    assert.deepEqual(t.queue.replay(() => 'gone'), { sent: 0, kept: 0, gone: 1 });
    assert.equal(t.queue.size, 0);
    assert.equal(t.outbox.parked(), 0, 'the relay dead-letters it by its rules');
  } finally {
    t.done();
  }
});

test('partition queue - head of line per receiver: after a kept message, later ones for it stay unrouted', () => {
  const t = setUp();
  try {
    // a: 1 3 5, b: 2 6, capability x: 4 7, capability y: 8
    const cap = (c: string, n: number): HeldMessage => ({ ...msg('', n), json: JSON.stringify({ n, capability: c }) });
    for (const m of [msg('a', 1), msg('b', 2), msg('a', 3), cap('x', 4), msg('a', 5), msg('b', 6), cap('x', 7), cap('y', 8)]) t.queue.hold(m);
    const routed: number[] = [];
    const result = t.queue.replay((m) => {
      routed.push(nOf(m));
      return nOf(m) === 3 || nOf(m) === 4 ? 'hold' : 'sent';
    });
    assert.deepEqual(routed, [1, 2, 3, 4, 6, 8]);
    assert.deepEqual(result, { sent: 4, kept: 4, gone: 0 });
    const left: number[] = [];
    t.queue.replay((m) => (left.push(nOf(m)), 'sent'));
    assert.deepEqual(left, [3, 4, 5, 7]);
  } finally {
    t.done();
  }
});

test('partition queue - replay reads in batches smaller than the queue, and keeps order across them', () => {
  const t = setUp();
  try {
    for (let n = 1; n <= 23; n++) t.queue.hold(msg(`r${n % 3}`, n));
    const routed: number[] = [];
    const result = t.queue.replay(
      (m) => {
        routed.push(nOf(m));
        return m.to === 'r1' && nOf(m) >= 10 ? 'hold' : 'sent';
      },
      { batch: 4 },
    );
    assert.deepEqual(routed, Array.from({ length: 23 }, (_, i) => i + 1).filter((n) => n % 3 !== 1 || n <= 10));
    assert.equal(result.kept, 5); // 10, 13, 16, 19, 22
    assert.equal(t.queue.size, 5);
  } finally {
    t.done();
  }
});

test('partition queue - a message held during replay waits for the next pass', () => {
  const t = setUp();
  try {
    t.queue.hold(msg('a', 1));
    t.queue.hold(msg('b', 2));
    t.queue.hold(msg('c', 0));
    const routed: number[] = [];
    const first = t.queue.replay((m) => {
      routed.push(nOf(m));
      if (nOf(m) === 1) assert.equal(t.queue.hold(msg('a', 3)), 'held');
      assert.deepEqual(t.queue.replay(() => 'sent'), { sent: 0, kept: 0, gone: 0 }, 'a nested replay does nothing');
      return 'sent';
    }, { batch: 2 });
    assert.deepEqual(first, { sent: 3, kept: 0, gone: 0 });
    assert.deepEqual(routed, [1, 2, 0]);
    assert.deepEqual(t.queue.replay((m) => (routed.push(nOf(m)), 'sent')).sent, 1);
    assert.deepEqual(routed, [1, 2, 0, 3]);
  } finally {
    t.done();
  }
});

test('partition queue - full by count or by bytes: refused, counted, nothing written', () => {
  const t = setUp({ maxMessages: 3, maxBytes: 400 });
  try {
    t.outbox.add('m9', 'a', '{}', 0);
    for (let n = 1; n <= 3; n++) assert.equal(t.queue.hold(msg('a', n)), 'held');
    assert.equal(t.queue.hold(msg('a', 9, 'm9')), 'full');
    assert.equal(t.queue.size, 3);
    assert.equal(t.outbox.parked(), 0, 'a refused message is not parked');
    assert.equal(t.queue.replay(() => 'sent').sent, 3);
    const big: HeldMessage = { ...msg('a', 1), json: 'x'.repeat(390) };
    assert.equal(t.queue.hold(msg('a', 4)), 'held');
    const bytes = t.queue.bytes;
    assert.equal(t.queue.hold(big), 'full', 'by bytes');
    assert.equal(t.queue.bytes, bytes);
    assert.equal(t.queue.size, 1);
    assert.equal(t.queue.stats.refusedFull, 2);
    assert.equal((t.db.prepare('SELECT count(*) FROM partition_queue').pluck().get() as number), 1);
    // Exactly at the bound fits: bytes are UTF-8 ('é' is two).
    const room = 400 - bytes - Buffer.byteLength('a') - Buffer.byteLength('sender');
    assert.equal(room % 2, 0);
    assert.equal(t.queue.hold({ ...msg('a', 5), json: 'é'.repeat(room / 2) }), 'held');
    assert.equal(t.queue.bytes, 400);
    assert.equal(t.queue.hold({ ...msg('a', 6), json: '' }), 'full');
  } finally {
    t.done();
  }
});

test('partition queue - durable: held messages and parked rows survive reopening the database', () => {
  const t = setUp();
  try {
    t.outbox.add('m2', 'b', '{}', 0);
    t.queue.hold(msg('a', 1));
    t.queue.hold(msg('b', 2, 'm2'));
    t.queue.hold(msg('a', 3));
    t.reopen();
    assert.equal(t.queue.size, 3);
    assert.equal(t.outbox.parked(), 1);
    assert.equal(t.queue.hold(msg('b', 2, 'm2')), 'duplicate');
    const routed: number[] = [];
    t.queue.replay((m) => (routed.push(nOf(m)), 'sent'));
    assert.deepEqual(routed, [1, 2, 3]);
  } finally {
    t.done();
  }
});

test('partition queue - bad options are refused with the option named', () => {
  const t = setUp();
  try {
    assert.throws(() => new PartitionQueue(new PartitionQueueStore(t.db), t.outbox, { maxMessages: 0 }), /maxMessages must be a positive integer/);
    assert.throws(() => t.queue.replay(() => 'sent', { batch: 0.5 }), /batch must be a positive integer/);
  } finally {
    t.done();
  }
});

/**
 * Random interleavings of hold and replay (with random outcomes, acks and reopenings): no message is
 * lost unless it was sent or gone, none is sent twice, and per receiver the sent order is hold order.
 */
test('partition queue - property: no loss, no double send, per-receiver order (seeded)', () => {
  for (const seed of [1, 2, 3, 7, 42, 1234]) {
    const rand = prng(seed);
    const t = setUp({ maxMessages: 40 });
    try {
      const receivers = ['a', 'b', 'c', ''];
      const caps = ['x', 'y'];
      let next = 1;
      const pending = new Set<number>(); // held, not yet sent or gone
      const acked = new Set<number>();
      const sent: number[] = [];
      const holdOrder = new Map<string, number[]>();
      const keyOf = (to: string, json: string) => (to !== '' ? to : `cap:${(JSON.parse(json) as { capability: string }).capability}`);
      for (let step = 0; step < 400; step++) {
        const r = rand();
        if (r < 0.6) {
          const n = next++;
          const to = receivers[Math.floor(rand() * receivers.length)]!;
          const reliable = rand() < 0.5;
          const id = reliable ? `m${n}` : '';
          const json = JSON.stringify(to === '' ? { n, capability: caps[Math.floor(rand() * caps.length)] } : { n, receiver: to });
          if (reliable) t.outbox.add(id, to, json, 0);
          const res = t.queue.hold({ messageId: id, to, json, priority: NORMAL, from: 's', replyTo: '' });
          if (res === 'held') {
            pending.add(n);
            const k = keyOf(to, json);
            holdOrder.set(k, [...(holdOrder.get(k) ?? []), n]);
            if (reliable && rand() < 0.1) {
              t.outbox.ack(id); // acknowledged while held
              acked.add(n);
            }
          } else assert.equal(res, 'full');
        } else if (r < 0.95) {
          const outcomes: ReplayOutcome[] = ['sent', 'sent', 'hold', 'gone'];
          t.queue.replay(
            (m) => {
              const n = nOf(m);
              assert.ok(pending.has(n), `seed ${seed}: ${n} routed but not pending`);
              assert.ok(!acked.has(n), `seed ${seed}: ${n} routed after its ack`);
              const o = outcomes[Math.floor(rand() * outcomes.length)]!;
              if (o === 'sent') sent.push(n);
              if (o !== 'hold') pending.delete(n);
              return o;
            },
            { batch: 1 + Math.floor(rand() * 7) },
          );
          for (const n of acked) pending.delete(n);
          acked.clear();
        } else t.reopen();
        assert.equal(t.queue.size, pending.size, `seed ${seed}: step ${step}`);
      }
      // Everything still pending is still there, in hold order.
      const rows = t.db.prepare('SELECT message FROM partition_queue ORDER BY seq').pluck().all() as string[];
      const left = rows.map((json) => (JSON.parse(json) as { n: number }).n);
      assert.deepEqual(left, [...pending].sort((x, y) => x - y), `seed ${seed}: what is left`);
      assert.equal(new Set(sent).size, sent.length, `seed ${seed}: sent twice`);
      for (const [k, held] of holdOrder) {
        const mine = sent.filter((n) => held.includes(n));
        assert.deepEqual(mine, held.filter((n) => mine.includes(n)), `seed ${seed}: order for ${k}`);
      }
    } finally {
      t.done();
    }
  }
});
