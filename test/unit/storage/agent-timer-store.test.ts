import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MAX_TIMER_ID, openDatabase, SqliteAgentStateStore, SqliteAgentTimerStore } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';

test('agent timer store - ids count up per agent and are never reused, also after the timers are gone and across connections', () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'node.db');
    const db = openDatabase(path);
    const timers = new SqliteAgentTimerStore(db);
    assert.equal(timers.add('a', 1000, '{"n":1}'), 1);
    assert.equal(timers.add('a', 2000, '{"n":2}'), 2);
    assert.equal(timers.add('b', 3000, '{"n":3}'), 1, 'each agent has its own ids');
    assert.deepEqual(timers.list('a'), [
      { id: 1, dueAt: 1000, message: '{"n":1}' },
      { id: 2, dueAt: 2000, message: '{"n":2}' },
    ]);
    assert.equal(timers.delete('a', 1), true);
    assert.equal(timers.delete('a', 2), true);
    assert.equal(timers.delete('a', 2), false);
    db.close();
    // Another connection (a worker after a restart): the counter goes on.
    const db2 = openDatabase(path);
    const again = new SqliteAgentTimerStore(db2);
    assert.deepEqual(again.list('a'), []);
    assert.equal(again.add('a', 4000, '{}'), 3);
    db2.close();
  } finally {
    dir.cleanup();
  }
});

test('agent timer store - at the last id the counter wraps to 1 and skips ids still pending', () => {
  const dir = tempDir();
  try {
    const db = openDatabase(join(dir.path, 'node.db'));
    const timers = new SqliteAgentTimerStore(db);
    assert.equal(timers.add('a', 0, 'x'), 1);
    assert.equal(timers.add('a', 0, 'x'), 2);
    db.prepare('UPDATE agent_timer_ids SET last_id = ? WHERE agent = ?').run(MAX_TIMER_ID - 1, 'a');
    assert.equal(timers.add('a', 0, 'x'), MAX_TIMER_ID);
    assert.equal(timers.add('a', 0, 'x'), 3, '1 and 2 are still pending');
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('agent timer store - removing an agent\'s state deletes its timers and its id counter, and only its own', () => {
  const dir = tempDir();
  try {
    const db = openDatabase(join(dir.path, 'node.db'));
    const timers = new SqliteAgentTimerStore(db);
    const state = new SqliteAgentStateStore(db);
    timers.add('a', 0, 'x');
    timers.add('a', 0, 'y');
    timers.add('b', 0, 'z');
    state.set('a', new Uint8Array([1]), new Uint8Array([2]));
    state.clear('a');
    assert.deepEqual(timers.list('a'), []);
    assert.deepEqual(state.keys('a'), []);
    assert.equal(timers.list('b').length, 1);
    assert.equal(timers.add('a', 0, 'again'), 1, 'a new agent under the old name starts over');
    db.close();
  } finally {
    dir.cleanup();
  }
});
