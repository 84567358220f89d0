import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeState } from '../../../../src/cluster/wire/index.js';
import { kRandomNodes, moveDeadNodes, randomOffset, shuffleInPlace } from '../../../../src/cluster/membership/selection.js';
import { prng } from '../wire/helpers.js';

test('moveDeadNodes - memberlist TestMoveDeadNodes, plus left nodes (HEAD #254)', () => {
  const now = 1_000_000;
  const nodes = [
    { id: 0, state: NodeState.Dead as number, stateChange: now - 20_000 },
    { id: 1, state: NodeState.Alive as number, stateChange: now - 20_000 },
    // dead less than gossipToTheDead ago: stays
    { id: 2, state: NodeState.Dead as number, stateChange: now - 10_000 },
    { id: 3, state: NodeState.Alive as number, stateChange: now - 20_000 },
    { id: 4, state: NodeState.Dead as number, stateChange: now - 20_000 },
    { id: 5, state: NodeState.Alive as number, stateChange: now - 20_000 },
  ];
  const idx = moveDeadNodes(nodes, 15_000, now);
  assert.equal(idx, 4);
  nodes.slice(0, idx).forEach((n, i) => assert.equal(n.state, i === 2 ? NodeState.Dead : NodeState.Alive, `index ${i}`));
  nodes.slice(idx).forEach((n) => assert.equal(n.state, NodeState.Dead));

  const withLeft = [
    { state: NodeState.Left as number, stateChange: now - 20_000 },
    { state: NodeState.Suspect as number, stateChange: now - 20_000 },
    { state: NodeState.Left as number, stateChange: now - 1_000 },
  ];
  assert.equal(moveDeadNodes(withLeft, 15_000, now), 2);
  assert.equal(withLeft[2]?.state, NodeState.Left);
  assert.equal(withLeft[2]?.stateChange, now - 20_000);
});

test('kRandomNodes - distinct, filtered, at most k (memberlist TestKRandomNodes)', () => {
  const random = prng(7);
  const nodes = Array.from({ length: 90 }, (_, i) => ({ name: `test${i}`, state: [NodeState.Alive, NodeState.Suspect, NodeState.Dead][i % 3] }));
  const exclude = (n: { name: string; state: number | undefined }): boolean => n.name === 'test0' || n.state !== NodeState.Alive;
  const picks = [kRandomNodes(3, nodes, exclude, random), kRandomNodes(3, nodes, exclude, random), kRandomNodes(3, nodes, exclude, random)];
  for (const p of picks) {
    assert.equal(p.length, 3);
    assert.equal(new Set(p).size, 3);
    for (const n of p) assert.equal(exclude(n), false);
  }
  assert.notDeepEqual(picks[0], picks[1]);
  assert.notDeepEqual(picks[1], picks[2]);
  assert.deepEqual(kRandomNodes(3, [], () => false, random), []);
  assert.equal(kRandomNodes(5, nodes.slice(0, 2), () => false, random).length, 2);
});

test('randomOffset and shuffleInPlace', () => {
  const random = prng(3);
  assert.equal(randomOffset(0, random), 0);
  assert.equal(randomOffset(1, random), 0);
  assert.equal(randomOffset(10, () => 0.999999999), 9);
  const seen = new Set<number>();
  for (let i = 0; i < 100; i++) seen.add(randomOffset(1000, random));
  assert.ok(seen.size > 90, 'offsets spread out');
  const items = Array.from({ length: 20 }, (_, i) => i);
  shuffleInPlace(items, random);
  assert.notDeepEqual(items, Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual([...items].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
});
