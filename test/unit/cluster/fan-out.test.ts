/** The cluster-wide views' fan-out over the in-process Peers network: answers, missing nodes, bounds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fanOut } from '../../../src/cluster/fan-out.js';
import { MemoryNetwork } from '../../helpers/memory-peers.js';

const asNumber = (v: unknown): number => {
  if (typeof v !== 'number') throw new Error('not a number');
  return v;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('fan-out - gathers every answer in the order asked; a node down and a silent one are missing with their reasons', async () => {
  const net = new MemoryNetwork();
  const me = net.add('n0');
  for (let i = 1; i <= 4; i++) net.add(`n${i}`).onCall('v', () => i * 10);
  net.add('slow').onCall('v', () => new Promise(() => undefined)); // never answers
  net.down('n3');
  const t0 = Date.now();
  const r = await fanOut(me, ['n4', 'n1', 'n3', 'slow', 'n2'], 'v', {}, asNumber, { timeoutMs: 200 });
  assert.deepEqual(r.answers, [
    { node: 'n4', value: 40 },
    { node: 'n1', value: 10 },
    { node: 'n2', value: 20 },
  ]);
  assert.deepEqual(r.missing.map((m) => [m.node, m.code]), [
    ['n3', 'CAXTON_ERR_CLUSTER_PEER_UNAVAILABLE'],
    ['slow', 'CAXTON_ERR_CLUSTER_TIMEOUT'],
  ]);
  assert.ok(Date.now() - t0 < 5000, 'the silent node costs its timeout, not a hang');
});

test('fan-out - at most `concurrency` calls are in flight at once', async () => {
  const net = new MemoryNetwork();
  const me = net.add('me');
  let inFlight = 0;
  let most = 0;
  const nodes = Array.from({ length: 12 }, (_, i) => `n${i}`);
  for (const n of nodes) {
    net.add(n).onCall('v', async () => {
      most = Math.max(most, ++inFlight);
      await sleep(10);
      inFlight--;
      return 1;
    });
  }
  const r = await fanOut(me, nodes, 'v', {}, asNumber, { concurrency: 3 });
  assert.equal(r.answers.length, 12);
  assert.equal(most, 3);
});

test('fan-out - the deadline bounds the whole gather: the call under way gets what is left of it, the nodes not yet asked are reported, not asked', async () => {
  const net = new MemoryNetwork();
  const me = net.add('me');
  const asked: string[] = [];
  const nodes = ['a', 'b', 'c', 'd'];
  for (const n of nodes) {
    net.add(n).onCall('v', async () => {
      asked.push(n);
      await sleep(150);
      return 1;
    });
  }
  // a takes 150 ms of the 250; b is asked with the 100 left and cannot make it; c and d never get a turn.
  const r = await fanOut(me, nodes, 'v', {}, asNumber, { concurrency: 1, timeoutMs: 1000, deadlineMs: 250 });
  assert.deepEqual(r.answers.map((a) => a.node), ['a']);
  assert.deepEqual(asked, ['a', 'b']);
  assert.deepEqual(r.missing.map((m) => [m.node, m.code]), [
    ['b', 'CAXTON_ERR_CLUSTER_TIMEOUT'],
    ['c', 'CAXTON_ERR_CLUSTER_TIMEOUT'],
    ['d', 'CAXTON_ERR_CLUSTER_TIMEOUT'],
  ]);
  assert.match(r.missing[0]?.reason ?? '', /did not answer v within/);
  assert.match(r.missing[1]?.reason ?? '', /not asked/);
});

test('fan-out - an answer of the wrong shape and a handler that throws make that node missing, not the view', async () => {
  const net = new MemoryNetwork();
  const me = net.add('me');
  net.add('good').onCall('v', () => 1);
  net.add('odd').onCall('v', () => 'one');
  net.add('broken').onCall('v', () => {
    throw new Error('handler bug');
  });
  const r = await fanOut(me, ['good', 'odd', 'broken'], 'v', {}, asNumber);
  assert.deepEqual(r.answers, [{ node: 'good', value: 1 }]);
  assert.deepEqual(r.missing.map((m) => m.node), ['odd', 'broken']);
  assert.match(r.missing[0]?.reason ?? '', /unexpected: not a number/);
  assert.match(r.missing[1]?.reason ?? '', /handler bug/);
});

test('fan-out - no nodes: nothing asked, nothing missing', async () => {
  const net = new MemoryNetwork();
  assert.deepEqual(await fanOut(net.add('me'), [], 'v', {}, asNumber), { answers: [], missing: [] });
});
