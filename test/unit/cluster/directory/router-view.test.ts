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
