/** The worker's ring of conversation hops, for `caxton trace`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HopLog } from '../../../src/sandbox/worker/hop-log.js';
import { ConversationTable } from '../../../src/sandbox/worker/conversations.js';
import { fnv1a } from '../../../src/sandbox/worker/fnv1a.js';

test('hop log - returns one conversation\'s hops oldest first, and forgets the oldest once full', () => {
  const log = new HopLog(4);
  log.record('a', 'x', 'y', 'request', 'm1', 1);
  log.record('b', 'p', 'q', 'cfp', 'm2', 2);
  log.record('a', 'y', 'x', 'inform', 'm3', 3);
  assert.deepEqual(log.forConversation('a').map((h) => [h.time, h.from, h.to, h.performative, h.messageId]), [
    [1, 'x', 'y', 'request', 'm1'],
    [3, 'y', 'x', 'inform', 'm3'],
  ]);
  log.record('a', 'x', 'y', 'request', 'm4', 4);
  log.record('a', 'y', 'x', 'inform', 'm5', 5); // overwrites m1
  log.record('a', 'x', 'y', 'request', 'm6', 6); // overwrites m2
  assert.equal(log.size, 4);
  assert.deepEqual(log.forConversation('a').map((h) => h.messageId), ['m3', 'm4', 'm5', 'm6']);
  assert.deepEqual(log.forConversation('b'), []);
});

test('conversations - hashes() gives one fnv1a per tracked conversation, so workers can be counted together', () => {
  const t = new ConversationTable();
  t.record('c1', 'a', 'b', 'request', undefined, 1);
  t.record('c2', 'a', 'b', 'request', undefined, 2);
  t.record('c1', 'b', 'a', 'inform', undefined, 3);
  assert.deepEqual([...t.hashes()].sort(), [fnv1a('c1'), fnv1a('c2')].sort());
  assert.equal(t.get('c1')?.messages, 2);
  assert.equal(t.get('nope'), undefined);
});
