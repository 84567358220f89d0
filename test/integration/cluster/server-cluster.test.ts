/**
 * Cluster membership in the server: real `caxton server start` processes on 127.0.0.x form a
 * cluster with --bootstrap and --join, and the API, the CLI and the metrics show it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, runCli, startServer, type RunningServer } from '../../helpers/server.js';
import { freePort, sleep } from '../../unit/cluster/serf/serf-harness.js';
import { until } from '../../helpers/until.js';


test('cluster - two servers join with --bootstrap/--join; members, status and metrics show both; a stopped one is seen as left', async () => {
  const port = await freePort('127.0.0.20');
  const timing = ['--set', 'coordination.cluster.profile=local'];
  const servers: RunningServer[] = [];
  try {
    servers.push(await startServer({ args: ['--bootstrap', '--bootstrap-expect', '2', '--bind-addr', `127.0.0.20:${port}`, '--node-id', 'node-a', ...timing] }));
    servers.push(await startServer({ args: ['--join', `127.0.0.20:${port}`, '--bind-addr', `127.0.0.21:${port}`, '--node-id', 'node-b', ...timing] }));
    const [a, b] = servers as [RunningServer, RunningServer];
    await until('both see two alive members', async () => {
      for (const s of [a, b]) {
        const r = await api(s, 'GET', '/cluster/members');
        if (r.body.members?.filter((m: { status: string }) => m.status === 'alive').length !== 2) return false;
      }
      return true;
    });
    const members = (await api(a, 'GET', '/cluster/members')).body.members as { name: string; address: string; cpu_percent: number | null; memory_rss_bytes: number | null; tags: Record<string, string> }[];
    const nb = members.find((m) => m.name === 'node-b');
    assert.equal(nb?.address, `127.0.0.21:${port}`);
    assert.equal(nb?.tags['role'], 'caxton');
    assert.match(nb?.tags['version'] ?? '', /^\d+\.\d+\.\d+$/);
    // Load and capabilities travel as short tags: whole CPU percent, RSS in MiB, an 8-hex digest.
    assert.match(nb?.tags['cpu'] ?? '', /^\d{1,3}$/);
    assert.match(nb?.tags['mem'] ?? '', /^[1-9]\d*$/);
    assert.match(nb?.tags['caps'] ?? '', /^[0-9a-f]{8}$/);
    assert.equal(nb?.tags['caps_n'], '0');
    assert.deepEqual([nb?.cpu_percent, nb?.memory_rss_bytes], [Number(nb?.tags['cpu']), Number(nb?.tags['mem']) * 1024 * 1024]);

    const status = await runCli(['cluster', 'status', '--api-url', a.apiUrl, '--api-key', a.adminKey]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^Status: HEALTHY\nOperations: READ-WRITE\nNodes: 2\/2 active \(quorum 2;/m);
    assert.match(status.stdout, /^Queued writes: 0$/m);
    assert.match(status.stdout, /^Node-to-node: NOT ENCRYPTED — routing, replication and module transfer travel in plaintext/m, 'a cluster without mTLS says so');
    const table = await runCli(['cluster', 'members', '--api-url', a.apiUrl, '--api-key', a.adminKey]);
    assert.match(table.stdout, /NODE-ID\s+STATUS\s+ADDRESS\s+LAST-SEEN\s+AGENTS\s+CPU\s+MEMORY/);
    assert.match(table.stdout, /node-b\s+alive\s+127\.0\.0\.21:\d+\s+now\s+0\s+\d{1,3}%\s+\d+(\.\d)?[KMG]B/);

    const ping = await runCli(['cluster', 'ping', 'node-b', '-o', 'json', '--api-url', a.apiUrl, '--api-key', a.adminKey]);
    assert.equal(ping.code, 0, ping.stderr);
    const p = JSON.parse(ping.stdout) as { node: string; direct_ms: number | null; tcp_ms: number | null };
    assert.equal(p.node, 'node-b');
    assert.ok(p.direct_ms !== null && p.direct_ms >= 0, 'a direct round trip');
    assert.equal((await api(a, 'POST', '/cluster/ping/nobody', {})).body.error.code, 'CAXTON_ERR_CLUSTER_UNKNOWN_NODE');

    // A third node that starts alone, then joins with `cluster add-node`.
    servers.push(await startServer({ args: ['--bootstrap', '--bind-addr', `127.0.0.22:${port}`, '--node-id', 'node-c', ...timing] }));
    const c = servers[2] as RunningServer;
    const add = await runCli(['cluster', 'add-node', `127.0.0.20:${port}`, '--api-url', c.apiUrl, '--api-key', c.adminKey]);
    assert.equal(add.code, 0, add.stderr);
    await until('node-c seen by node-a', async () => (await api(a, 'GET', '/cluster/members')).body.members.some((m: { name: string; status: string }) => m.name === 'node-c' && m.status === 'alive'));
    assert.equal(await c.stop(), 0);
    await until('node-c left', async () => (await api(a, 'GET', '/cluster/members')).body.members.some((m: { name: string; status: string }) => m.name === 'node-c' && m.status === 'left'));

    // The event stream carries membership changes (what `caxton cluster watch` prints).
    const ac = new AbortController();
    const stream = await fetch(`${a.apiUrl}/api/v1/events?types=cluster.*`, { headers: { authorization: `Bearer ${a.adminKey}` }, signal: ac.signal });
    const reader = stream.body!.getReader();
    let events = '';
    const reading = (async () => {
      while (!events.includes('"node":"node-b"')) {
        const { value, done } = await reader.read();
        if (done) break;
        events += Buffer.from(value).toString('utf8');
      }
    })().catch(() => undefined);

    const metrics = await (await fetch(`${a.metricsUrl}/metrics`)).text();
    assert.match(metrics, /^caxton_cluster_nodes_alive 2$/m);
    assert.match(metrics, /^caxton_cluster_nodes_total 3$/m, 'node-c is counted (left) until it is reaped');
    assert.match(metrics, /^# TYPE caxton_cluster_link_queue_bytes gauge$/m, 'the link metrics are registered');

    assert.equal(await b.stop(), 0, 'SIGTERM leaves the cluster and exits cleanly');
    await until('node-b seen as left', async () => (await api(a, 'GET', '/cluster/members')).body.members.some((m: { name: string; status: string }) => m.name === 'node-b' && m.status === 'left'));
    await Promise.race([reading, sleep(5000)]);
    ac.abort();
    assert.match(events, /event: cluster\.left\ndata: \{"type":"cluster\.left","time":"[^"]+","node":"node-b","status":"left"/);
    // A node that left gracefully leaves the cluster's agreed membership (docs/operations.md, "Quorum"):
    // node-a is a cluster of one now, not a minority of two (node-c left before, node-b now).
    const after = await runCli(['cluster', 'status', '--api-url', a.apiUrl, '--api-key', a.adminKey]);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /^Status: HEALTHY\n.*\nNodes: 1\/1 active \(quorum 1; suspect 0, failed 0, left 2\)/m);
  } finally {
    for (const s of servers) {
      await s.stop().catch(() => 0);
      s.cleanup();
    }
  }
});

test('cluster - a single node reports itself alone, with clustering off', async () => {
  const s = await startServer();
  try {
    const r = await api(s, 'GET', '/cluster/status');
    assert.deepEqual([r.body.enabled, r.body.alive, r.body.expected, r.body.healthy], [false, 1, 1, true]);
    const m = await runCli(['cluster', 'members', '--api-url', s.apiUrl, '--api-key', s.adminKey]);
    assert.match(m.stdout, /clustering is off/);
  } finally {
    await s.stop();
    s.cleanup();
  }
});

test('cluster - gossip encryption from the config: the same key joins, another key cannot', async () => {
  const { randomBytes } = await import('node:crypto');
  const port = await freePort('127.0.0.30');
  const keyArg = (k: string) => ['--set', `security.cluster.gossip.keys=${JSON.stringify([k])}`, '--set', 'coordination.cluster.profile=local'];
  const key = randomBytes(32).toString('base64');
  const servers: RunningServer[] = [];
  try {
    servers.push(await startServer({ args: ['--bootstrap', '--bind-addr', `127.0.0.30:${port}`, '--node-id', 'enc-a', ...keyArg(key)] }));
    servers.push(await startServer({ args: ['--join', `127.0.0.30:${port}`, '--bind-addr', `127.0.0.31:${port}`, '--node-id', 'enc-b', ...keyArg(key)] }));
    servers.push(await startServer({ args: ['--join', `127.0.0.30:${port}`, '--bind-addr', `127.0.0.32:${port}`, '--node-id', 'enc-x', ...keyArg(randomBytes(32).toString('base64'))] }));
    const [a, , x] = servers as [RunningServer, RunningServer, RunningServer];
    await until('enc-b joined enc-a', async () => (await api(a, 'GET', '/cluster/members')).body.members.some((m: { name: string; status: string }) => m.name === 'enc-b' && m.status === 'alive'));
    await sleep(1000);
    const names = (await api(a, 'GET', '/cluster/members')).body.members.map((m: { name: string }) => m.name);
    assert.ok(!names.includes('enc-x'), `a node with another key stays out: ${names.join(', ')}`);
    assert.equal((await api(x, 'GET', '/cluster/members')).body.members.length, 1, 'and it sees nobody');
    assert.deepEqual((await api(a, 'GET', '/config')).body.security.cluster.gossip.keys, ['***'], 'the keys are not shown by the API');
  } finally {
    for (const s of servers) {
      await s.stop().catch(() => 0);
      s.cleanup();
    }
  }
});
