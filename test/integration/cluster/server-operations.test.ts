/**
 * Cluster operations on real `caxton server start` processes, driven by the CLI: a gossip key rotation
 * (install, use, remove) that keeps every member and survives a restart, verify-auth, and removing a
 * failed node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { api, runCli, startServer, type RunningServer } from '../../helpers/server.js';
import { freePort } from '../../unit/cluster/serf/serf-harness.js';
import { until } from '../../helpers/until.js';
import { keyFingerprint } from '../../../src/cluster/serf/key-manager.js';

type MemberView = { name: string; status: string };

const members = async (s: RunningServer): Promise<MemberView[]> => (await api(s, 'GET', '/cluster/members')).body.members as MemberView[];
const statusOf = async (s: RunningServer, name: string): Promise<string | undefined> => (await members(s)).find((m) => m.name === name)?.status;
const cli = (s: RunningServer, args: string[], stdin?: string) => runCli([...args, '--api-url', s.apiUrl, '--api-key', s.adminKey], stdin === undefined ? {} : { stdin });

test('cluster ops - servers: key rotation from the CLI keeps every member and survives a restart; verify-auth; remove a failed node', async () => {
  const port = await freePort('127.0.0.90');
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');
  const args = (host: string, id: string, keys: string[], extra: string[] = []) => [
    '--bind-addr', `127.0.0.${host}:${port}`, '--node-id', id,
    '--set', `security.cluster.gossip.keys=${JSON.stringify(keys)}`, '--set', 'coordination.cluster.profile=local', ...extra,
  ];
  const servers: RunningServer[] = [];
  try {
    servers.push(await startServer({ args: args('90', 'ops-a', [k1], ['--bootstrap']) }));
    servers.push(await startServer({ args: args('91', 'ops-b', [k1], ['--join', `127.0.0.90:${port}`]) }));
    servers.push(await startServer({ args: args('92', 'ops-c', [k1], ['--join', `127.0.0.90:${port}`]) }));
    const [a, b, c] = servers as [RunningServer, RunningServer, RunningServer];
    // Every node, not only ops-a: the rotation below is asked on ops-b, whose own view must hold all
    // three (on a loaded machine ops-b learnt of ops-c after ops-a did, and its query reached 2/2).
    for (const s of [a, b, c]) await until(`3 alive on ${s.apiUrl}`, async () => (await members(s)).filter((m) => m.status === 'alive').length === 3);

    const verified = await cli(a, ['cluster', 'verify-auth']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /OK: every member holds the same keys/);
    assert.match(verified.stdout, new RegExp(`primary key:\\s+${keyFingerprint(k1)}`));

    const pingAll = await cli(a, ['cluster', 'ping']);
    assert.equal(pingAll.code, 0, pingAll.stderr);
    assert.match(pingAll.stdout, /ops-b\s+127\.0\.0\.91:\d+\s+\d+\.\d+ ms/);
    assert.match(pingAll.stdout, /ops-c\s+127\.0\.0\.92:\d+/);
    assert.match(pingAll.stdout, /2 members probed/);

    // The rotation, from one node's CLI; the new key through stdin so it stays out of `ps`.
    for (const step of [['install', '-'], ['use', k2], ['remove', k1]]) {
      const r = await cli(b, ['cluster', 'keys', step[0] as string, step[1] as string], step[1] === '-' ? k2 : undefined);
      assert.equal(r.code, 0, `${step[0]}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /on 3\/3 members/);
    }
    const list = JSON.parse((await cli(c, ['cluster', 'keys', 'list', '-o', 'json'])).stdout) as { keys: { fingerprint: string; nodes: number }[]; primary_keys: { fingerprint: string; nodes: number }[] };
    assert.deepEqual(list.keys, [{ fingerprint: keyFingerprint(k2), nodes: 3 }]);
    assert.deepEqual(list.primary_keys, [{ fingerprint: keyFingerprint(k2), nodes: 3 }]);
    assert.ok(!JSON.stringify(list).includes(k2), 'no key material in the answer');
    // Each node wrote its new keyring next to its data, readable by the node's user only.
    for (const s of servers) {
      const file = join(s.dataDir, 'gossip.keyring');
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), [k2]);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    }
    assert.ok((await members(a)).every((m) => m.status === 'alive'), 'nobody was lost in the rotation');

    // ops-c restarts with its config still naming the old key: the keyring file wins, it rejoins.
    assert.equal(await c.stop(), 0);
    servers[2] = await startServer({ dataDir: c.dataDir, args: args('92', 'ops-c', [k1], ['--join', `127.0.0.90:${port}`]) });
    await until('ops-c alive again on ops-a', async () => (await statusOf(a, 'ops-c')) === 'alive');

    // A wrong removal is refused with the reason; then ops-b dies and is removed.
    const refused = await cli(a, ['cluster', 'remove', '--node', 'ops-c']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ops-c is alive, not failed/);
    await b.kill('SIGKILL');
    await until('ops-b failed on ops-a', async () => (await statusOf(a, 'ops-b')) === 'failed', 20_000);
    const removed = await cli(a, ['cluster', 'remove', '--node', 'ops-b']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /ops-b \(failed\) removed from the cluster/);
    await until('ops-b left on ops-c too', async () => (await statusOf(servers[2] as RunningServer, 'ops-b')) === 'left');
    const pruned = await cli(a, ['cluster', 'remove', '--node', 'ops-b', '--force']);
    assert.equal(pruned.code, 0, pruned.stderr);
    await until('ops-b erased on both', async () => (await statusOf(a, 'ops-b')) === undefined && (await statusOf(servers[2] as RunningServer, 'ops-b')) === undefined);
  } finally {
    for (const s of servers) {
      await s.stop().catch(() => 0);
      s.cleanup();
    }
  }
});

test('cluster ops - servers: verify-auth fails when gossip encryption is off, and names it', async () => {
  const port = await freePort('127.0.0.95');
  const servers: RunningServer[] = [];
  try {
    servers.push(await startServer({ args: ['--bootstrap', '--bind-addr', `127.0.0.95:${port}`, '--node-id', 'plain-a', '--set', 'coordination.cluster.profile=local'] }));
    servers.push(await startServer({ args: ['--join', `127.0.0.95:${port}`, '--bind-addr', `127.0.0.96:${port}`, '--node-id', 'plain-b', '--set', 'coordination.cluster.profile=local'] }));
    const [a] = servers as [RunningServer];
    await until('2 alive', async () => (await members(a)).filter((m) => m.status === 'alive').length === 2);
    const r = await cli(a, ['cluster', 'verify-auth']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /problem: gossip encryption is off on 2 of 2 answering member\(s\)/);
    const install = await cli(a, ['cluster', 'keys', 'install', randomBytes(16).toString('base64')]);
    assert.equal(install.code, 1);
    assert.match(install.stderr, /gossip encryption is off on this node/);
  } finally {
    for (const s of servers) {
      await s.stop().catch(() => 0);
      s.cleanup();
    }
  }
});
