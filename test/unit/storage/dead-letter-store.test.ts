import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DeadLetterStore, openDatabase } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';

const letter = (receiver: string, n: number) => ({ messageId: `m${n}`, sender: 's', receiver, reason: 'no agent', message: `{"n":${n}}` });

test('dead letters - kept in order, filtered, deleted and purged', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'x.db'));
  try {
    const s = new DeadLetterStore(db);
    s.add(letter('a', 1), 1000);
    s.add(letter('b', 2), 2000);
    const id3 = s.add(letter('a', 3), 3000);
    assert.deepEqual(s.list().map((l) => l.messageId), ['m1', 'm2', 'm3']);
    assert.deepEqual(s.list({ receiver: 'a' }).map((l) => l.message), ['{"n":1}', '{"n":3}']);
    assert.equal(s.count({ before: 2500 }), 2);
    assert.equal(s.get(id3)!.createdAt, 3000);
    assert.equal(s.list({}, 10, id3 - 1).length, 1, 'paging after an id');
    assert.ok(s.delete(id3));
    assert.equal(s.delete(id3), false);
    assert.equal(s.purge({ receiver: 'a' }), 1);
    assert.equal(s.purge(), 1);
    assert.equal(s.count(), 0);
  } finally {
    db.close();
    dir.cleanup();
  }
});

test('dead letters - bounded: the oldest make room, and are counted', () => {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'x.db'));
  try {
    const s = new DeadLetterStore(db, 3);
    for (let i = 1; i <= 5; i++) s.add(letter('a', i));
    assert.deepEqual(s.list().map((l) => l.messageId), ['m3', 'm4', 'm5']);
    assert.equal(s.evicted, 2);
  } finally {
    db.close();
    dir.cleanup();
  }
});
