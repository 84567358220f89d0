/**
 * Cluster operations started from a Caxton node, in a cluster with a real serf 0.9.4 agent: gossip key
 * rotation and listing (the `_serf_*-key` queries `serf keys` sends), removal of a failed node (serf
 * force-leave), and the other way round. Skipped, with the reason, where serf is not installed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Cluster } from '../../../src/cluster/cluster.js';
import { keyResponseProblem } from '../../../src/cluster/serf/key-manager.js';
import { freePort, serfCli, startSerf, waitForMember, type Agent } from '../../unit/cluster/serf/serf-harness.js';
import { outsideTool } from '../../helpers/outside-tools.js';
import { until } from '../../helpers/until.js';

const { path: serfBin, skip } = outsideTool('serf');
// Key operations end as soon as every member answered; the long timeout only matters on a loaded machine.
const wait = { timeoutMs: 10_000 } as const;
const fast = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 300 } as const;

async function caxton(t: TestContext, name: string, host: string, port: number, keys?: Uint8Array[]): Promise<Cluster> {
  const c = await Cluster.start({ name, bind: { host, port }, profile: 'local', timings: fast, tags: { role: 'caxton' }, ...(keys === undefined ? {} : { keys }) });
  t.after(() => c.shutdown());
  return c;
}

/** A serf agent and two Caxton nodes on 127.0.0.<base>..<base+1>, all joined. */
async function mixed(t: TestContext, base: number, key?: Buffer): Promise<{ serf: Agent; a: Cluster; b: Cluster }> {
  const serf = await startSerf(t, serfBin as string, ['-profile=local', ...(key === undefined ? [] : [`-encrypt=${key.toString('base64')}`])]);
  const keys = key === undefined ? undefined : [new Uint8Array(key)];
  const a = await caxton(t, 'cx-a', `127.0.0.${base}`, serf.addr.port, keys);
  const b = await caxton(t, 'cx-b', `127.0.0.${base + 1}`, serf.addr.port, keys);
  assert.equal(await a.join([serf.addr]), 1);
  assert.equal(await b.join([serf.addr]), 1);
  await until('3 alive on both Caxton nodes', () => [a, b].every((c) => c.members().filter((m) => m.status === 'alive').length === 3));
  await waitForMember(serf, 'cx-b', 'alive');
  return { serf, a, b };
}

test('cluster ops - key rotation started from Caxton: install, use, remove reach serf and Caxton; nobody is lost', { skip, timeout: 60_000 }, async (t) => {
  const old = randomBytes(32);
  const { serf, a, b } = await mixed(t, 40, old);
  const next = randomBytes(32);
  for (const [op, run] of [
    ['install', () => a.keys.install(next, wait)],
    ['use', () => a.keys.use(next, wait)],
    ['remove', () => a.keys.remove(old, wait)],
  ] as const) {
    const r = await run();
    assert.equal(keyResponseProblem(r), undefined, `${op}: ${JSON.stringify(r)}`);
    assert.deepEqual([...r.responded].sort(), ['cx-a', 'cx-b', 's1'], op);
  }
  for (const c of [a, b]) {
    assert.equal(Buffer.from(c.keyring!.getPrimaryKey()!).toString('base64'), next.toString('base64'));
    assert.equal(c.keyring!.getKeys().length, 1);
  }
  const listed = await serfCli(serf, ['keys', '-list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(next.toString('base64').replace(/[+/]/g, '\\$&')));
  assert.doesNotMatch(listed.stdout, new RegExp(old.toString('base64').replace(/[+/]/g, '\\$&')));

  const list = await b.keys.list(wait);
  assert.equal(keyResponseProblem(list), undefined);
  assert.deepEqual(list.keys, { [next.toString('base64')]: 3 });
  assert.deepEqual(list.primaryKeys, { [next.toString('base64')]: 3 });
  // Gossip still flows under the new key: every member is still alive a few probe rounds later.
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok([a, b].every((c) => c.members().every((m) => m.status === 'alive')));
  assert.equal((await waitForMember(serf, 'cx-a', 'alive'))?.status, 'alive');
});

test('cluster ops - a key that is not installed cannot be used: every member reports the failure', { skip, timeout: 60_000 }, async (t) => {
  const { a } = await mixed(t, 43, randomBytes(16));
  const r = await a.keys.use(randomBytes(16), wait);
  assert.equal(r.numErrors, 3);
  assert.equal(r.messages['s1'], 'Requested key is not in the keyring');
  assert.equal(r.messages['cx-b'], 'Requested key is not in the keyring');
  assert.equal(keyResponseProblem(r), '3/3 nodes reported failure');
});

test('cluster ops - list-keys shows a key held by one member only (what verify-auth reports)', { skip, timeout: 60_000 }, async (t) => {
  const key = randomBytes(32);
  const { a, b } = await mixed(t, 46, key);
  const stray = randomBytes(32);
  b.keyring!.addKey(new Uint8Array(stray));
  const list = await a.keys.list(wait);
  assert.equal(list.numResponses, 3);
  assert.deepEqual(list.keys, { [key.toString('base64')]: 3, [stray.toString('base64')]: 1 });
  assert.deepEqual(list.primaryKeys, { [key.toString('base64')]: 3 });
});

test('cluster ops - without encryption, key queries fail on every member with serf\'s message', { skip, timeout: 60_000 }, async (t) => {
  const { a } = await mixed(t, 49);
  const list = await a.keys.list(wait);
  assert.equal(list.numErrors, 3);
  assert.equal(list.messages['s1'], 'Keyring is empty (encryption not enabled)');
});

test('cluster ops - removing a failed node from Caxton: serf and Caxton see it left, nobody reconnects to it', { skip, timeout: 60_000 }, async (t) => {
  const { serf, a, b } = await mixed(t, 52);
  await b.shutdown();
  await until('cx-b failed on cx-a', () => a.members().find((m) => m.name === 'cx-b')?.status === 'failed', 10_000);
  assert.equal((await waitForMember(serf, 'cx-b', 'failed', 12_000))?.status, 'failed');
  assert.equal(a.membership.stats().reconnect.pending, 1);
  await a.removeNode('cx-b');
  assert.equal(a.members().find((m) => m.name === 'cx-b')?.status, 'left');
  assert.equal(a.membership.stats().reconnect.pending, 0);
  assert.equal((await waitForMember(serf, 'cx-b', 'left'))?.status, 'left');
});

test('cluster ops - serf force-leave of a failed Caxton node is seen as left by Caxton', { skip, timeout: 60_000 }, async (t) => {
  const { serf, a, b } = await mixed(t, 55);
  await b.shutdown();
  await waitForMember(serf, 'cx-b', 'failed', 12_000);
  await until('cx-b failed on cx-a', () => a.members().find((m) => m.name === 'cx-b')?.status === 'failed', 10_000);
  const r = await serfCli(serf, ['force-leave', 'cx-b']);
  assert.equal(r.code, 0, r.stderr);
  await until('cx-b left on cx-a', () => a.members().find((m) => m.name === 'cx-b')?.status === 'left');
  assert.equal(a.membership.stats().reconnect.pending, 0);
});

test('cluster ops - removing with prune: the node disappears from every member list', { skip, timeout: 60_000 }, async (t) => {
  const port = await freePort('127.0.0.58');
  const nodes = [await caxton(t, 'p0', '127.0.0.58', port), await caxton(t, 'p1', '127.0.0.59', port), await caxton(t, 'p2', '127.0.0.60', port)];
  for (const n of nodes.slice(1)) await n.join([{ host: '127.0.0.58', port }]);
  await until('3 alive', () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 3));
  await (nodes[2] as Cluster).shutdown();
  await until('p2 failed', () => nodes.slice(0, 2).every((n) => n.members().find((m) => m.name === 'p2')?.status === 'failed'), 10_000);
  await (nodes[0] as Cluster).removeNode('p2', true);
  await until('p2 gone on both', () => nodes.slice(0, 2).every((n) => n.members().every((m) => m.name !== 'p2')));
});
