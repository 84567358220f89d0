/**
 * The whole cluster stack (NetTransport + Membership + SerfDelegate) against real Debian serf 0.9.4
 * agents on loopback, plaintext and with -encrypt. Skipped, with the reason,
 * where serf is not installed (.ci/run installs it).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Cluster, type ClusterMember } from '../../../src/cluster/cluster.js';
import { SERF_LOCAL_FAILURE_BOUND_MS, encryptionVariants, freePort, serfCli, sleep, startSerf, waitForMember } from '../../unit/cluster/serf/serf-harness.js';
import { outsideTool } from '../../helpers/outside-tools.js';
import { until } from '../../helpers/until.js';

const { path: serfBin, skip } = outsideTool('serf');
// Local-profile timings, shortened further: failures are seen in about a second.
const fast = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 2000, reconnectIntervalMs: 500 } as const;


async function startCaxton(t: TestContext, name: string, host: string, port: number, extra: Partial<Parameters<typeof Cluster.start>[0]> = {}): Promise<Cluster> {
  const c = await Cluster.start({ name, bind: { host, port }, profile: 'local', timings: fast, tags: { role: 'caxton', api: `${host}:8080` }, ...extra });
  t.after(() => c.shutdown());
  return c;
}

const status = (c: Cluster, name: string): ClusterMember['status'] | undefined => c.members().find((m) => m.name === name)?.status;

// Each interop test runs twice: plaintext, and with -encrypt on serf and the same key on Caxton.
// The plaintext runs use 127.0.0.12-14, the encrypted ones 127.0.0.15-17, so no two runs share an address.
for (const enc of encryptionVariants()) {
  const host = (n: number): string => `127.0.0.${(enc.key === undefined ? 10 : 13) + n}`;
  const keys = enc.keys === undefined ? {} : { keys: enc.keys };

  test(`cluster - a Caxton node joins serf: serf lists it alive with its tags, Caxton sees serf with its tags (${enc.label})`, { skip }, async (t) => {
    const serf = await startSerf(t, serfBin as string, ['-profile=local', ...enc.serfArgs]);
    const c = await startCaxton(t, 'caxton-1', host(2), serf.addr.port, keys);
    assert.equal(await c.join([serf.addr]), 1);
    const seen = await waitForMember(serf, 'caxton-1', 'alive');
    assert.equal(seen?.status, 'alive');
    assert.deepEqual(seen?.tags, { role: 'caxton', api: `${host(2)}:8080` });
    const s1 = await until('serf in the member list', () => c.members().find((m) => m.name === 's1'));
    assert.equal(s1.status, 'alive');
    assert.equal(s1.tags['role'], 'anchor');
  });

  test(`cluster - serf joins a Caxton node; a graceful serf leave is seen as left (${enc.label})`, { skip }, async (t) => {
    const port = await freePort(host(3));
    const c = await startCaxton(t, 'caxton-1', host(3), port, keys);
    const serf = await startSerf(t, serfBin as string, ['-profile=local', `-join=${host(3)}:${port}`, ...enc.serfArgs]);
    await until('serf joined us', () => status(c, 's1') === 'alive');
    assert.equal((await waitForMember(serf, 'caxton-1', 'alive'))?.status, 'alive');
    const r = await serfCli(serf, ['leave']);
    assert.equal(r.code, 0, r.stderr);
    await until('serf seen as left', () => status(c, 's1') === 'left');
  });

  test(`cluster - serf marks a stopped Caxton node failed within the bound (${enc.label})`, { skip }, async (t) => {
    const serf = await startSerf(t, serfBin as string, ['-profile=local', ...enc.serfArgs]);
    const c = await Cluster.start({ name: 'caxton-gone', bind: { host: host(4), port: serf.addr.port }, profile: 'local', tags: { role: 'caxton' }, ...keys });
    t.after(() => c.shutdown()); // a no-op once stopped below; covers a failure before that
    assert.equal(await c.join([serf.addr]), 1);
    assert.equal((await waitForMember(serf, 'caxton-gone', 'alive'))?.status, 'alive');
    const t0 = Date.now();
    await c.shutdown(); // no leave: to serf this is a crash
    const seen = await waitForMember(serf, 'caxton-gone', 'failed', SERF_LOCAL_FAILURE_BOUND_MS + 6000);
    const polledMs = Date.now() - t0;
    assert.equal(seen?.status, 'failed', serf.log().slice(-2000));
    const failed = await until('serf logged the failure', () => serf.logLineAt(/EventMemberFailed: caxton-gone /), 5000);
    const ms = failed - t0;
    t.diagnostic(`serf declared the node failed ${ms} ms after it stopped (bound ${SERF_LOCAL_FAILURE_BOUND_MS} ms); \`serf members\` showed it after ${polledMs} ms`);
    assert.ok(ms <= SERF_LOCAL_FAILURE_BOUND_MS, `failed after ${ms} ms, over the bound of ${SERF_LOCAL_FAILURE_BOUND_MS} ms`);
  });
}

test('cluster - encrypted: Caxton and serf share a key; serf keys rotation is followed', { skip }, async (t) => {
  const key = randomBytes(32);
  const serf = await startSerf(t, serfBin as string, ['-profile=local', `-encrypt=${key.toString('base64')}`]);
  const c = await startCaxton(t, 'caxton-enc', '127.0.0.18', serf.addr.port, { keys: [key] });
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
