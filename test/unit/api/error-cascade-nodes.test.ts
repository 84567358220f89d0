/** The error cascade over several nodes: each node's errors merged before grouping (mergeNodeEvents). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupCascades, mergeNodeEvents, type CascadeEvent } from '../../../src/api/error-cascade.js';

const ev = (time: number, kind: CascadeEvent['kind'], agent: string, peer?: string, conversationId?: string): CascadeEvent => ({
  time,
  kind,
  agent,
  peer,
  detail: `${kind} ${agent}`,
  messageId: undefined,
  conversationId,
});

// db fails on node-2; orders (node-1) feels it and fails; frontend (node-3) feels orders and fails.
const perNode = [
  { node: 'node-1', events: [ev(11, 'undeliverable', 'db', 'orders', 'c-1'), ev(13, 'fault', 'orders'), ev(20, 'fault', 'lonely')] },
  { node: 'node-2', events: [ev(10, 'fault', 'db'), ev(10.5, 'poison', 'db', 'orders', 'c-1')] },
  { node: 'node-3', events: [ev(14, 'undeliverable', 'orders', 'frontend', 'c-2'), ev(15, 'log.error', 'frontend', undefined, 'c-2')] },
];

test('error cascade across nodes - one cascade rooted at the earliest error on any node, with the nodes and conversations it spread through', () => {
  const merged = mergeNodeEvents(perNode);
  assert.deepEqual(merged.map((e) => [e.time, e.node]), [[10, 'node-2'], [10.5, 'node-2'], [11, 'node-1'], [13, 'node-1'], [14, 'node-3'], [15, 'node-3'], [20, 'node-1']]);
  const [storm, lonely, ...rest] = groupCascades(merged);
  assert.equal(rest.length, 0);
  assert.deepEqual([storm?.root.kind, storm?.root.agent, storm?.root.node], ['fault', 'db', 'node-2'], 'the root is node-2\'s fault, not the first error node-1 saw');
  assert.deepEqual(storm?.agents.map((a) => [a.name, a.causedBy]), [['db', undefined], ['orders', 'db'], ['frontend', 'orders']]);
  assert.deepEqual(storm?.nodes, ['node-2', 'node-1', 'node-3'], 'in the order the cascade reached them');
  assert.deepEqual(storm?.conversations.map((c) => [c.id, c.firstAt, c.errors, c.nodes]), [['c-1', 10.5, 2, ['node-2', 'node-1']], ['c-2', 14, 2, ['node-3']]]);
  assert.deepEqual([lonely?.root.agent, lonely?.nodes], ['lonely', ['node-1']]);
});

test('error cascade across nodes - per node, the same errors look like separate cascades with the wrong roots', () => {
  // What a node alone would conclude: the reason the errors are merged before grouping.
  const one = groupCascades(mergeNodeEvents([perNode[0]!]));
  const roots = one.map((c) => `${c.root.kind} ${c.root.agent}`);
  assert.deepEqual(roots, ['undeliverable db', 'fault lonely'], 'node-1 alone roots the storm at an undeliverable message, not db\'s fault');
  const three = groupCascades(mergeNodeEvents([perNode[2]!]));
  assert.equal(three[0]?.root.agent, 'orders');
});

test('error cascade across nodes - a single node\'s events carry no node, and its cascades list none', () => {
  const [c] = groupCascades([ev(1, 'fault', 'a', undefined, 'x'), ev(2, 'undeliverable', 'a', 'b', 'x')]);
  assert.deepEqual(c?.nodes, []);
  assert.deepEqual(c?.conversations.map((x) => [x.id, x.errors, x.nodes]), [['x', 2, []]]);
});
