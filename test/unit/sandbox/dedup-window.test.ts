import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DedupWindow } from '../../../src/sandbox/worker/dedup-window.js';

test('dedup window - remembers ids for the TTL, then forgets them', () => {
  const w = new DedupWindow(100, 10);
  w.add('a', 0);
  assert.ok(w.has('a', 50));
  assert.ok(!w.has('b', 50));
  assert.ok(!w.has('a', 101));
  w.add('b', 200); // also sweeps the expired 'a'
  assert.equal(w.size, 1);
});

test('dedup window - bounded in count, oldest out first', () => {
  const w = new DedupWindow(1e9, 3);
  for (const id of ['a', 'b', 'c', 'd']) w.add(id, 0);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => w.has(id, 0)), [false, true, true, true]);
});

test('dedup window - forgets one agent\'s ids by prefix, keeping the others\'', () => {
  const w = new DedupWindow(1e9, 100);
  for (const id of ['a\nm1', 'a\n!m2', 'ab\nm1', 'b\nm1']) w.add(id, 0);
  w.forgetPrefix('a\n');
  assert.deepEqual(['a\nm1', 'a\n!m2', 'ab\nm1', 'b\nm1'].map((id) => w.has(id, 0)), [false, false, true, true]);
  assert.equal(w.size, 2);
});
