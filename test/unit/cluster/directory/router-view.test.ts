import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterDirectory, StaticView, routerDirectory } from '../../../../src/cluster/directory/index.js';
import { SETTLING } from '../../../../src/messaging/directory.js';
import { MemoryNetwork } from '../../../helpers/memory-peers.js';
import { until } from '../../../helpers/until.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('directory - a known remote provider never vanishes from the router’s view when its cached answer expires', async (t) => {
  const net = new MemoryNetwork();
  const view = new StaticView(['a', 'b']);
  const a = new ClusterDirectory({ peers: net.add('a'), view, lookupTtlMs: 30, viewChangeDelayMs: 10 });
  const b = new ClusterDirectory({ peers: net.add('b'), view, lookupTtlMs: 30, viewChangeDelayMs: 10 });
  t.after(() => {
    a.close();
    b.close();
  });
  b.upsert({ name: 'prov', id: '1', state: 'running', capabilities: ['cap1'], topics: [], epoch: 1 });
  await until('a learns of the provider on b', () => a.otherNodes('cap', 'cap1').length === 1);
  const seen: number[] = [];
  for (let i = 0; i < 40; i++) {
    seen.push(a.otherNodes('cap', 'cap1').length);
    await sleep(5);
  }
  assert.ok(!seen.includes(0), `the provider was invisible at some lookups: ${seen.join('')}`);
});

test('directory - a name this node owns but cannot place yet, just after a view change, is SETTLING for the router, not nowhere', async (t) => {
  const net = new MemoryNetwork();
  const a = new ClusterDirectory({ peers: net.add('a'), view: new StaticView(['a', 'b']), settleMs: 60_000 });
  t.after(() => a.close());
  const name = Array.from({ length: 100 }, (_, i) => `x${i}`).find((n) => a.ownerOf(n) === 'a') as string;
  assert.equal(a.whereIs(name).kind, 'pending');
  assert.equal(routerDirectory(a).nodeFor(name), SETTLING);
});

test('directory - confirm resolves once both holders hold an agent placed off its owner; at once for one on its owner; false at the deadline when a holder is cut off', async (t) => {
  const net = new MemoryNetwork();
  const view = new StaticView(['a', 'b', 'c']);
  const dirs = new Map(['a', 'b', 'c'].map((n) => [n, new ClusterDirectory({ peers: net.add(n), view, viewChangeDelayMs: 10 })]));
  t.after(() => {
    for (const d of dirs.values()) d.close();
  });
  const a = dirs.get('a')!;
  const names = Array.from({ length: 200 }, (_, i) => `p${i}`);
  const onOwner = names.find((n) => a.ownerOf(n) === 'a') as string;
  const offOwner = names.find((n) => a.ownerOf(n) !== 'a' && !a.holdersOf(n).includes('a')) as string;
  const host = (name: string) => ({ name, id: name, state: 'running', capabilities: [], topics: [], epoch: 1 });

  a.upsert(host(onOwner));
  assert.equal(await a.confirm(onOwner), true, 'on its owner: nothing to wait for');

  a.upsert(host(offOwner));
  assert.equal(await a.confirm(offOwner), true);
  for (const h of a.holdersOf(offOwner)) assert.equal(dirs.get(h)!.whereIs(offOwner).kind, 'forward', `${h} holds the entry`);

  const other = names.find((n) => n !== offOwner && a.ownerOf(n) !== 'a' && !a.holdersOf(n).includes('a')) as string;
  net.cut('a', a.holdersOf(other)[0]!);
  a.upsert(host(other));
  assert.equal(await a.confirm(other, 200), false, 'a holder that cannot be reached: not confirmed, within the deadline');
});

test('directory - an agent still on a node that left placement (isolated, or handing its agents over before it leaves) is routed to that node, not declared nonexistent by its new owner', async (t) => {
  const net = new MemoryNetwork();
  const nodes = ['a', 'b', 'c'];
  const views = new Map(nodes.map((n) => [n, new StaticView(nodes)]));
  const dirs = new Map(nodes.map((n) => [n, new ClusterDirectory({ peers: net.add(n), view: views.get(n)!, viewChangeDelayMs: 10, settleMs: 50 })]));
  t.after(() => {
    for (const d of dirs.values()) d.close();
  });
  const c = dirs.get('c')!;
  // An agent on c, its owner by rank: no directory entry is needed while c is in placement.
  const name = Array.from({ length: 200 }, (_, i) => `x${i}`).find((n) => c.ownerOf(n) === 'c') as string;
  c.upsert({ name, id: name, state: 'running', capabilities: ['cap-x'], topics: [], epoch: 1 });
  // c leaves placement (its isolated tag) and still runs the agent while its move is under way.
  for (const v of views.values()) v.set(['a', 'b'], nodes);
  const owner = dirs.get('a')!.ownerOf(name);
  await until(`the agent's new owner ${owner} holds c's entry`, () => routerDirectory(dirs.get(owner)!).nodeFor(name) === 'c');
  await sleep(100); // past the settle window of the view change
  for (const n of ['a', 'b']) {
    assert.equal(routerDirectory(dirs.get(n)!).nodeFor(name), 'c', `${n} routes the agent to c`);
    assert.deepEqual(await dirs.get(n)!.providers('cap-x'), [{ agent: name, node: 'c' }], `${n} sees c's capability`);
  }
  // Once the agent has moved (c no longer hosts it), its new owner hosts it and the entry goes.
  c.remove(name);
  dirs.get(owner)!.upsert({ name, id: name, state: 'running', capabilities: [], topics: [], epoch: 2 });
  const other = owner === 'a' ? 'b' : 'a';
  await until(`${other} routes the agent to ${owner}`, () => routerDirectory(dirs.get(other)!).nodeFor(name) === owner);
});
