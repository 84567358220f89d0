import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evenly, ownerOf, pairHash, rank } from '../../../../src/cluster/placement/rendezvous.js';

const nodes = (n: number) => evenly(Array.from({ length: n }, (_, i) => `node-${i + 1}`));
const keys = (n: number) => Array.from({ length: n }, (_, i) => `agent-${i}`);

test('rendezvous - the hash is stable (placement is part of the wire contract)', () => {
  assert.equal(pairHash('echo', 'node-1'), pairHash('echo', 'node-1'));
  assert.notEqual(pairHash('ab', 'c'), pairHash('a', 'bc'));
  // Pinned values: changing the hash moves every agent of a running cluster on upgrade.
  assert.equal(pairHash('echo', 'node-1').toString(16), 'ec526b2527881');
  assert.deepEqual(rank('echo', nodes(3)), ['node-1', 'node-3', 'node-2']);
  assert.equal(ownerOf('echo', nodes(5)), rank('echo', nodes(5))[0]);
});

test('rendezvous - every order of the member list gives the same owner and ranking', () => {
  const ns = nodes(7);
  const reversed = [...ns].reverse();
  for (const k of keys(200)) {
    assert.deepEqual(rank(k, ns), rank(k, reversed));
    assert.equal(ownerOf(k, ns), ownerOf(k, reversed));
  }
});

test('rendezvous - equal weights spread keys evenly', () => {
  const counts = new Map<string, number>();
  for (const k of keys(20_000)) {
    const o = ownerOf(k, nodes(5))!;
    counts.set(o, (counts.get(o) ?? 0) + 1);
  }
  for (const c of counts.values()) assert.ok(c > 3600 && c < 4400, `share ${c} of 20000 is not near 4000`);
});

test('rendezvous - the replica (second rank) is spread evenly too, whatever the owner', () => {
  const pairs = new Map<string, number>();
  for (const k of keys(40_000)) {
    const r = rank(k, nodes(5), 2).join();
    pairs.set(r, (pairs.get(r) ?? 0) + 1);
  }
  assert.equal(pairs.size, 20, 'every ordered (owner, replica) pair occurs');
  for (const c of pairs.values()) assert.ok(c > 1700 && c < 2300, `pair share ${c} of 40000 is not near 2000`);
});

test('rendezvous - weights set the share', () => {
  const ns = [
    { name: 'a', weight: 1 },
    { name: 'b', weight: 3 },
  ];
  let b = 0;
  for (const k of keys(20_000)) if (ownerOf(k, ns) === 'b') b++;
  assert.ok(b > 14_400 && b < 15_600, `b owns ${b} of 20000, expected about 15000`);
});

test('rendezvous - a leave moves only the leaver’s keys, to their next-ranked node', () => {
  const before = nodes(5);
  const after = before.filter((n) => n.name !== 'node-3');
  for (const k of keys(5000)) {
    const r = rank(k, before);
    const o = ownerOf(k, after);
    if (r[0] === 'node-3') assert.equal(o, r[1]);
    else assert.equal(o, r[0]);
  }
});

test('rendezvous - a join moves keys only to the newcomer, about its share', () => {
  const before = nodes(4);
  const after = nodes(5);
  let moved = 0;
  for (const k of keys(10_000)) {
    const a = ownerOf(k, before);
    const b = ownerOf(k, after);
    if (a !== b) {
      assert.equal(b, 'node-5');
      moved++;
    }
  }
  assert.ok(moved > 1600 && moved < 2400, `moved ${moved} of 10000, expected about 2000`);
});

test('rendezvous - no nodes, zero weights and limits', () => {
  assert.equal(ownerOf('x', []), undefined);
  assert.equal(ownerOf('x', [{ name: 'a', weight: 0 }]), undefined);
  assert.deepEqual(rank('x', nodes(3), 2).length, 2);
  assert.deepEqual(rank('x', nodes(3), 0), []);
});
