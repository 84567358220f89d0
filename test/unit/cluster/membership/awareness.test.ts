import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Awareness } from '../../../../src/cluster/membership/awareness.js';

test('Awareness - memberlist TestAwareness: clamped to 0..max-1, timeout × (score+1)', () => {
  const cases: [delta: number, score: number, timeoutMs: number][] = [
    [0, 0, 1000],
    [-1, 0, 1000],
    [-10, 0, 1000],
    [1, 1, 2000],
    [-1, 0, 1000],
    [10, 7, 8000],
    [-1, 6, 7000],
    [-1, 5, 6000],
    [-1, 4, 5000],
    [-1, 3, 4000],
    [-1, 2, 3000],
    [-1, 1, 2000],
    [-1, 0, 1000],
    [-1, 0, 1000],
  ];
  const changes: number[] = [];
  const a = new Awareness(8, (s) => changes.push(s));
  cases.forEach(([delta, score, timeout], i) => {
    a.applyDelta(delta);
    assert.equal(a.score, score, `case ${i}: score`);
    assert.equal(a.scaleTimeout(1000), timeout, `case ${i}: timeout`);
  });
  assert.deepEqual(changes, [1, 0, 7, 6, 5, 4, 3, 2, 1, 0], 'onChange only on a real change');
});

test('Awareness - max 1 never degrades', () => {
  const a = new Awareness(1);
  a.applyDelta(5);
  assert.equal(a.score, 0);
  assert.equal(a.scaleTimeout(500), 500);
});
