import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiSenders } from '../../../src/api/api-senders.js';

test('api senders - the API\'s own name is always taken; a client\'s name once it sent, until it has been idle too long', () => {
  const s = new ApiSenders('api', 1_000, 10);
  assert.ok(s.has('api', 0));
  assert.ok(s.has('api', 10 ** 12), 'never expires');
  assert.ok(!s.has('carol', 0));
  s.remember('carol', 100);
  assert.ok(s.has('carol', 100));
  assert.ok(s.has('carol', 1_100), 'idle exactly idleMs: still taken');
  assert.ok(!s.has('carol', 1_101), 'idle longer: forgotten');
  assert.equal(s.size, 0, 'and dropped from memory when found expired');
  // A send renews the name.
  s.remember('dave', 0);
  s.remember('dave', 900);
  assert.ok(s.has('dave', 1_800));
  s.remember('api', 0);
  assert.equal(s.size, 1, 'the permanent name takes no room');
});

test('api senders - at most `limit` client names: the least recently used makes room, and a send counts as a use', () => {
  const s = new ApiSenders('api', 60_000, 3);
  s.remember('a', 1);
  s.remember('b', 2);
  s.remember('c', 3);
  s.remember('a', 4); // a is now the most recent: b is the least recently used
  s.remember('d', 5);
  assert.equal(s.size, 3);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((n) => s.has(n, 6)), [true, false, true, true]);
  for (let i = 0; i < 1_000; i++) s.remember(`n${i}`, 10 + i);
  assert.equal(s.size, 3, 'never more than the limit');
  assert.ok(s.has('n999', 2_000) && s.has('n997', 2_000) && !s.has('n996', 2_000));
});
