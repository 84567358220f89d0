import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase, PartitionQueueStore } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';

const row = (messageId: string, receiver: string, n: number) => ({ messageId, receiver, sender: 's', replyTo: '', priority: 1, message: `{"n":${n}}`, bytes: 10 * n });

test('partition queue store - appends in seq order, dedups by non-empty id, deletes, keeps totals', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'x.db'));
  try {
    const s = new PartitionQueueStore(db);
    const a = s.add(row('m1', 'a', 1), 1000)!;
    const b = s.add(row('', 'b', 2))!;
    const c = s.add(row('', 'b', 3))!; // at-most-once: '' never dedups
    assert.equal(s.add(row('m1', 'z', 4)), undefined, 'same id: ignored');
    assert.ok(a < b && b < c);
    assert.equal(s.count(), 3);
    assert.equal(s.bytes(), 60);
    assert.ok(s.has('m1'));
    assert.equal(s.has(''), false);
    assert.equal(s.lastSeq(), c);
    assert.deepEqual(s.range(0, 10).map((r) => r.message), ['{"n":1}', '{"n":2}', '{"n":3}']);
    assert.deepEqual(s.range(a, 1).map((r) => r.seq), [b]);
    assert.equal(s.range(0, 1)[0]!.createdAt, 1000);
    assert.equal(s.range(0, 1)[0]!.receiver, 'a');
    assert.ok(s.delete(b));
    assert.equal(s.delete(b), false);
    assert.equal(s.deleteMany([a, b, c]), 2);
    assert.equal(s.count(), 0);
    assert.equal(s.bytes(), 0);
    assert.equal(s.has('m1'), false);
    assert.ok(s.add(row('m1', 'a', 1))! > c, 'seq is never reused');
  } finally {
    db.close();
    dir.cleanup();
  }
});

test('partition queue store - survives reopening: rows, order and totals', () => {
  const dir = tempDir();
  const path = join(dir.path, 'x.db');
  try {
    let db = openDatabase(path);
    let s = new PartitionQueueStore(db);
    for (let i = 1; i <= 4; i++) s.add(row(i % 2 === 0 ? `m${i}` : '', 'a', i));
    s.delete(s.range(0, 1)[0]!.seq);
    db.close();
    db = openDatabase(path);
    s = new PartitionQueueStore(db);
    assert.equal(s.count(), 3);
    assert.equal(s.bytes(), 20 + 30 + 40);
    assert.deepEqual(s.range(0, 10).map((r) => r.messageId), ['m2', '', 'm4']);
    db.close();
  } finally {
    dir.cleanup();
  }
});
