import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRetention } from '../../../../src/storage/backup/retention.js';

const b = (id: string, at: string, parent: string | null = null) => ({ id, created_at: at, parent });

// Three days of backups: a full each night at 02:00, incrementals on top during the day.
const week = [
  b('f1', '2024-01-13T02:00:00Z'),
  b('i1a', '2024-01-13T12:00:00Z', 'f1'),
  b('f2', '2024-01-14T02:00:00Z'),
  b('i2a', '2024-01-14T12:00:00Z', 'f2'),
  b('i2b', '2024-01-14T18:00:00Z', 'i2a'),
  b('f3', '2024-01-15T02:00:00Z'),
  b('i3a', '2024-01-15T12:00:00Z', 'f3'),
];

test('retention - keep-last keeps the N newest, and the chains they need', () => {
  assert.deepEqual(applyRetention(week, { keepLast: 1, keepDaily: 0 }), { keep: ['i3a', 'f3'], remove: ['i2b', 'i2a', 'f2', 'i1a', 'f1'] });
  assert.deepEqual(applyRetention(week, { keepLast: 3, keepDaily: 0 }).keep, ['i3a', 'f3', 'i2b', 'i2a', 'f2']);
});

test('retention - keep-daily keeps the newest backup of each of the D most recent days, with its chain', () => {
  assert.deepEqual(applyRetention(week, { keepLast: 0, keepDaily: 2 }), { keep: ['i3a', 'f3', 'i2b', 'i2a', 'f2'], remove: ['i1a', 'f1'] });
  assert.deepEqual(applyRetention(week, { keepLast: 0, keepDaily: 30 }).remove, []);
});

test('retention - the two rules add up; zero and zero keeps nothing; an empty catalog is fine', () => {
  const fulls = [b('a', '2024-01-10T02:00:00Z'), b('b', '2024-01-11T02:00:00Z'), b('c', '2024-01-11T03:00:00Z'), b('d', '2024-01-12T02:00:00Z'), b('e', '2024-01-12T05:00:00Z')];
  // last 1: e; daily 3: e (12th), c (11th), a (10th).
  assert.deepEqual(applyRetention(fulls, { keepLast: 1, keepDaily: 3 }), { keep: ['e', 'c', 'a'], remove: ['d', 'b'] });
  assert.deepEqual(applyRetention(fulls, { keepLast: 0, keepDaily: 0 }).keep, []);
  assert.deepEqual(applyRetention([], { keepLast: 5, keepDaily: 5 }), { keep: [], remove: [] });
});

test('retention - days are UTC days, and a parent missing from the catalog does not stop the walk', () => {
  const late = [b('x', '2024-01-14T23:59:59Z'), b('y', '2024-01-15T00:00:01Z', 'gone')];
  assert.deepEqual(applyRetention(late, { keepLast: 0, keepDaily: 1 }), { keep: ['y'], remove: ['x'] });
  assert.deepEqual(applyRetention(late, { keepLast: 0, keepDaily: 2 }).keep, ['y', 'x']);
});
