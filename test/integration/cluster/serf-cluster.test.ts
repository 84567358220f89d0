/**
 * The whole cluster stack (NetTransport + Membership + SerfDelegate) against real Debian serf 0.9.4
 * agents on loopback, and Caxton nodes among themselves over real sockets. Skipped, with the reason,
 * where serf is not installed (.ci/run installs it).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Cluster, type ClusterMember } from '../../../src/cluster/cluster.js';
import { freePort, serfCli, sleep, startSerf, waitForMember, which } from '../../unit/cluster/serf/serf-harness.js';
import { until } from '../../helpers/until.js';

const serfBin = which('serf');
// Local-profile timings, shortened further: failures are seen in about a second.
const fast = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 500 } as const;


async function startCaxton(t: TestContext, name: string, host: string, port: number, extra: Partial<Parameters<typeof Cluster.start>[0]> = {}): Promise<Cluster> {
  const c = await Cluster.start({ name, bind: { host, port }, profile: 'local', timings: fast, tags: { role: 'caxton', api: `${host}:8080` }, ...extra });
  t.after(() => c.shutdown());
  return c;
}

const status = (c: Cluster, name: string): ClusterMember['status'] | undefined => c.members().find((m) => m.name === name)?.status;

test('cluster - a Caxton node joins serf: serf lists it alive with its tags, Caxton sees serf with its tags', { skip: serfBin === undefined ? 'serf is not installed (apt-get install serf)' : false }, async (t) => {
  const serf = await startSerf(t, serfBin as string, ['-profile=local']);
  const c = await startCaxton(t, 'caxton-1', '127.0.0.2', serf.addr.port);
  assert.equal(await c.join([serf.addr]), 1);
  const seen = await waitForMember(serf, 'caxton-1', 'alive');
  assert.equal(seen?.status, 'alive');
  assert.deepEqual(seen?.tags, { role: 'caxton', api: '127.0.0.2:8080' });
  const s1 = await until('serf in the member list', () => c.members().find((m) => m.name === 's1'));
  assert.equal(s1.status, 'alive');
  assert.equal(s1.tags['role'], 'anchor');
});

test('cluster - serf joins a Caxton node; a graceful serf leave is seen as left', { skip: serfBin === undefined ? 'serf is not installed' : false }, async (t) => {
  const port = await freePort('127.0.0.3');
  const c = await startCaxton(t, 'caxton-1', '127.0.0.3', port);
  const serf = await startSerf(t, serfBin as string, ['-profile=local', `-join=127.0.0.3:${port}`]);
  await until('serf joined us', () => status(c, 's1') === 'alive');
  assert.equal((await waitForMember(serf, 'caxton-1', 'alive'))?.status, 'alive');
  const r = await serfCli(serf, ['leave']);
  assert.equal(r.code, 0, r.stderr);
  await until('serf seen as left', () => status(c, 's1') === 'left');
});

test('cluster - serf marks a stopped Caxton node failed within the bound', { skip: serfBin === undefined ? 'serf is not installed' : false }, async (t) => {
  const serf = await startSerf(t, serfBin as string, ['-profile=local']);
  const c = await Cluster.start({ name: 'caxton-gone', bind: { host: '127.0.0.4', port: serf.addr.port }, profile: 'local', tags: { role: 'caxton' } });
  await c.join([serf.addr]);
  await waitForMember(serf, 'caxton-gone', 'alive');
  const t0 = Date.now();
  await c.shutdown(); // no leave: to serf this is a crash
  // serf -profile=local, 2 members: probe 1 s + timeout 200 ms + suspicion 3 × 1 s ≈ 4.2 s, plus gossip.
  const seen = await waitForMember(serf, 'caxton-gone', 'failed', 12_000);
  assert.equal(seen?.status, 'failed', serf.log().slice(-2000));
  t.diagnostic(`serf declared the node failed ${Date.now() - t0} ms after it stopped`);
});

test('cluster - encrypted: Caxton and serf share a key; serf keys rotation is followed', { skip: serfBin === undefined ? 'serf is not installed' : false }, async (t) => {
  const key = randomBytes(32);
  const serf = await startSerf(t, serfBin as string, ['-profile=local', `-encrypt=${key.toString('base64')}`]);
  const c = await startCaxton(t, 'caxton-enc', '127.0.0.5', serf.addr.port, { keys: [key] });
  assert.equal(await c.join([serf.addr]), 1);
  assert.equal((await waitForMember(serf, 'caxton-enc', 'alive'))?.status, 'alive');
  const next = randomBytes(32).toString('base64');
  for (const args of [['-install', next], ['-use', next], ['-remove', key.toString('base64')]]) {
    const r = await serfCli(serf, ['keys', ...args]);
    assert.equal(r.code, 0, `serf keys ${args[0]}: ${r.stdout}${r.stderr}`);
  }
  assert.equal(Buffer.from(c.keyring!.getPrimaryKey()!).toString('base64'), next);
  assert.equal(c.keyring!.getKeys().length, 1);
  await sleep(1500);
  assert.equal((await waitForMember(serf, 'caxton-enc', 'alive'))?.status, 'alive', 'still alive after the rotation');
});

test('cluster - five Caxton nodes converge over real sockets; a stopped one is failed by all, a leaving one is left', async (t) => {
  const port = await freePort('127.0.0.10');
  const nodes: Cluster[] = [];
  for (let i = 0; i < 5; i++) nodes.push(await startCaxton(t, `n${i}`, `127.0.0.${10 + i}`, port));
  for (let i = 1; i < 5; i++) await (nodes[i] as Cluster).join([{ host: '127.0.0.10', port }]);
  await until('convergence', () => nodes.every((n) => n.members().filter((m) => m.status === 'alive').length === 5));
  await (nodes[4] as Cluster).shutdown();
  await until('n4 failed everywhere', () => nodes.slice(0, 4).every((n) => status(n, 'n4') === 'failed'), 10_000);
  await (nodes[3] as Cluster).leave(2000);
  await until('n3 left everywhere', () => nodes.slice(0, 3).every((n) => status(n, 'n3') === 'left'));
  assert.ok(nodes.slice(0, 3).every((n) => status(n, 'n0') === 'alive' && status(n, 'n1') === 'alive' && status(n, 'n2') === 'alive'), 'no false failures');
});
