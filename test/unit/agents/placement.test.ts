import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadWeights, placeAgent, type PlacementMember } from '../../../src/agents/placement.js';
import { evenly, ownerOf } from '../../../src/cluster/placement/rendezvous.js';
import { isCaxtonError } from '../../../src/errors.js';

const member = (name: string, tags: Record<string, string> = {}, status = 'alive'): PlacementMember => ({ name, status, tags: { role: 'caxton', ...tags } });
const names = Array.from({ length: 400 }, (_, i) => `agent-${i}`);

test('placement - even-distribution is plain rendezvous hashing over alive Caxton members, whatever the order of the view', () => {
  const members = [member('n1'), member('n2'), member('n3'), member('n4', {}, 'failed'), member('n5', {}, 'suspect'), { name: 'serf-1', status: 'alive', tags: { role: 'other' } }];
  const shuffled = [...members].reverse();
  for (const n of names) {
    const owner = placeAgent(n, members);
    assert.equal(owner, ownerOf(n, evenly(['n1', 'n2', 'n3'])));
    assert.equal(placeAgent(n, shuffled), owner);
    assert.equal(placeAgent(n, members, { strategy: 'even-distribution' }), owner);
  }
});

test('placement - least-loaded gives more names to the lightly loaded node, the same on every node', () => {
  const members = [member('busy-1', { agents: '9', cpu: '60', mem: '800' }), member('busy-2', { agents: '9', cpu: '60', mem: '800' }), member('idle', { agents: '0', cpu: '5', mem: '200' })];
  const count = new Map<string, number>();
  for (const n of names) {
    const o = placeAgent(n, members, { strategy: 'least-loaded' });
    assert.equal(placeAgent(n, [...members].reverse(), { strategy: 'least-loaded' }), o);
    count.set(o, (count.get(o) ?? 0) + 1);
  }
  // Weights: idle 0.95 × 0.875 × 1 = 0.83; busy 0.4 × 0.5 × 0.1 = 0.02 each → idle wins ~95 %.
  assert.ok((count.get('idle') ?? 0) > names.length * 0.85, JSON.stringify([...count]));
  assert.ok((count.get('busy-1') ?? 0) > 0, 'a loaded node still owns some names');
});

test('placement - load weights: the documented table; absent tags count as the average', () => {
  const w = loadWeights([member('a', { agents: '0', cpu: '0', mem: '0' }), member('b', { agents: '9', cpu: '0', mem: '0' }), member('c', { agents: '0', cpu: '90', mem: '0' }), member('d', { agents: '0', cpu: '0', mem: '100' })]);
  const by = Object.fromEntries(w.map((x) => [x.name, Math.round(x.weight * 1000) / 1000]));
  assert.deepEqual(by, { a: 1, b: 0.1, c: 0.1, d: 0.5 });
  const u = loadWeights([member('x', { agents: '2', cpu: '20', mem: '100' }), member('y', { agents: '4', cpu: '40', mem: '100' }), member('unknown', {})]);
  const ub = Object.fromEntries(u.map((x) => [x.name, x.weight]));
  assert.ok((ub['unknown'] as number) < (ub['x'] as number) && (ub['unknown'] as number) > (ub['y'] as number), JSON.stringify(ub));
});

test('placement - --prefer-nodes restricts to the alive preferred nodes, and falls back to all when none is alive', () => {
  const members = [member('n1'), member('n2'), member('n3'), member('n4', {}, 'failed')];
  for (const n of names.slice(0, 100)) {
    const o = placeAgent(n, members, { preferNodes: ['n2', 'n3'] });
    assert.ok(o === 'n2' || o === 'n3');
    assert.equal(o, ownerOf(n, evenly(['n2', 'n3'])));
    assert.equal(placeAgent(n, members, { preferNodes: ['n4'] }), placeAgent(n, members), 'n4 is down: every alive node competes');
  }
  assert.throws(() => placeAgent('x', members, { preferNodes: ['n2', 'nope'] }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE') && /nope/.test((e as Error).message));
});

test('placement - --target-node pins to an alive member, and is refused otherwise', () => {
  const members = [member('n1'), member('n2'), member('n3', {}, 'failed'), { name: 'serf', status: 'alive', tags: { role: 'agent' } }];
  for (const n of names.slice(0, 50)) assert.equal(placeAgent(n, members, { targetNode: 'n2' }), 'n2');
  assert.throws(() => placeAgent('a', members, { targetNode: 'n9' }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE'));
  assert.throws(() => placeAgent('a', members, { targetNode: 'n3' }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE') && /is failed/.test((e as Error).message));
  assert.throws(() => placeAgent('a', members, { targetNode: 'serf' }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE') && /not a Caxton node/.test((e as Error).message));
  assert.throws(() => placeAgent('a', members, { targetNode: 'n1', preferNodes: ['n1'] }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_API_INVALID_REQUEST'));
  assert.throws(() => placeAgent('a', [member('n1', {}, 'left')]), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE'));
});

test('placement - an isolated node (cluster isolate) owns nothing new, and cannot be a target', () => {
  const members = [member('n1'), member('n2', { isolated: '1' }), member('n3')];
  for (const n of names.slice(0, 200)) assert.notEqual(placeAgent(n, members), 'n2');
  assert.throws(() => placeAgent('a', members, { targetNode: 'n2' }), (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE') && /isolated/.test((e as Error).message));
});
