import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConversationTable } from '../../../src/sandbox/worker/conversations.js';

test('conversations - participants, counts, protocol and activity are tracked', () => {
  const t = new ConversationTable(1000);
  t.record('c1', 'a', 'b', 'request', 'fipa-request', 10);
  t.record('c1', 'b', 'a', 'agree', undefined, 20);
  t.record('c1', 'b', 'a', 'inform', undefined, 30);
  const [c] = t.list();
  assert.deepEqual(c, { id: 'c1', protocol: 'fipa-request', participants: ['a', 'b'], messages: 3, startedAt: 10, lastActiveAt: 30, lastPerformative: 'inform' });
});

test('conversations - idle ones are swept; active ones stay', () => {
  const t = new ConversationTable(100);
  t.record('old', 'a', 'b', 'request', undefined, 0);
  t.record('busy', 'a', 'b', 'request', undefined, 0);
  t.record('busy', 'b', 'a', 'inform', undefined, 150);
  assert.equal(t.sweep(160), 1);
  assert.deepEqual(t.list().map((c) => c.id), ['busy']);
  assert.equal(t.sweep(260), 1);
  assert.equal(t.size, 0);
});

test('conversations - bounded: the least recently active makes room', () => {
  const t = new ConversationTable(1000, 2);
  t.record('x', 'a', 'b', 'request', undefined, 1);
  t.record('y', 'a', 'b', 'request', undefined, 2);
  t.record('x', 'b', 'a', 'inform', undefined, 3);
  t.record('z', 'a', 'b', 'request', undefined, 4);
  assert.deepEqual(t.list().map((c) => c.id).sort(), ['x', 'z']);
});
