import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mailbox, priorityLevel, PRIORITY_LEVELS } from '../../../src/sandbox/worker/mailbox.js';

test('mailbox - highest priority first, FIFO within a priority', () => {
  const m = new Mailbox(100);
  m.push('n1', PRIORITY_LEVELS.normal);
  m.push('l1', PRIORITY_LEVELS.low);
  m.push('h1', PRIORITY_LEVELS.high);
  m.push('n2', PRIORITY_LEVELS.normal);
  m.push('c1', PRIORITY_LEVELS.critical);
  m.push('h2', PRIORITY_LEVELS.high);
  const out: string[] = [];
  for (let x = m.shift(); x !== undefined; x = m.shift()) out.push(x);
  assert.deepEqual(out, ['c1', 'h1', 'h2', 'n1', 'n2', 'l1']);
  assert.equal(m.size, 0);
});

test('mailbox - the bound refuses the excess; critical messages have their own reserve', () => {
  const m = new Mailbox(3, 2);
  assert.ok(m.push('a', 1) && m.push('b', 0) && m.push('c', 2));
  assert.equal(m.push('d', 1), false, 'full');
  assert.equal(m.push('e', 2), false, 'high does not bypass the bound');
  assert.ok(m.push('x', 3) && m.push('y', 3), 'critical still gets through');
  assert.equal(m.push('z', 3), false, 'up to its reserve');
  assert.equal(m.size, 5);
  m.shift(); // x
  assert.equal(m.push('d', 1), false, 'taking a critical message frees no normal room');
  m.shift();
  m.shift(); // c (high)
  assert.ok(m.push('d', 1));
});

test('mailbox - the byte bound refuses a message that would pass it, whole; critical messages have their own bytes', () => {
  // 2 bytes per UTF-16 code unit: 100 bytes = 50 characters, 20 critical bytes = 10 characters.
  const m = new Mailbox(1000, 16, 100, 20);
  assert.ok(m.push('x'.repeat(30), 1));
  assert.equal(m.bytes, 60);
  assert.equal(m.push('y'.repeat(21), 2), false, '60 + 42 > 100: refused whole, though the count is far from its bound');
  assert.equal(m.fullByCount(2), false, 'refused by bytes, not by count');
  assert.ok(m.push('y'.repeat(20), 0), '60 + 40 = 100 fits exactly');
  assert.equal(m.push('z', 1), false);
  assert.ok(m.push('c'.repeat(10), 3), 'critical traffic still gets in');
  assert.equal(m.push('c', 3), false, 'up to its own byte reserve');
  assert.equal(m.bytes, 120);
  assert.equal(m.shift(), 'c'.repeat(10));
  assert.equal(m.push('z', 1), false, 'taking a critical message frees no normal room');
  assert.equal(m.shift(), 'x'.repeat(30));
  assert.ok(m.push('é'.repeat(30), 1), 'non-ASCII counts 2 bytes per code unit too');
  assert.equal(m.bytes, 100);
  m.clear();
  assert.equal(m.bytes, 0);
});

test('mailbox - order survives many messages and compaction', () => {
  const m = new Mailbox(10_000);
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 300; i++) assert.ok(m.push(String(next++), 1));
    for (let i = 0; i < 250; i++) assert.equal(m.shift(), String(expect++));
  }
  while (m.size > 0) assert.equal(m.shift(), String(expect++));
  assert.equal(expect, next);
});

test('mailbox - clear drops and counts', () => {
  const m = new Mailbox(10);
  m.push('a', 0);
  m.push('b', 3);
  assert.equal(m.clear(), 2);
  assert.equal(m.shift(), undefined);
});

test('mailbox - priority names map to levels; unknown is normal', () => {
  assert.equal(priorityLevel('critical'), 3);
  assert.equal(priorityLevel('high'), 2);
  assert.equal(priorityLevel('low'), 0);
  for (const v of ['normal', undefined, 'urgent', 7, null]) assert.equal(priorityLevel(v), 1);
});
