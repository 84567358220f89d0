/**
 * Addresses on real `caxton server start` processes: a host name (and a bracketed IPv6 literal) is
 * accepted wherever an address is taken — --bind-addr, --join, `caxton cluster add-node`,
 * POST /cluster/join — resolved the same way, and a bad address or a name that does not resolve gets
 * one error that names the value, the form expected and an example, never a regular expression.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, runCli, startServer, type RunningServer } from '../../helpers/server.js';
import { freePort } from '../../unit/cluster/serf/serf-harness.js';
import { until } from '../../helpers/until.js';

const FORM = /expected host:port, where host is a name or an IP address \(IPv6 in brackets\), e\.g\. node-1\.example\.com:7946, 10\.0\.0\.5:7946 or \[::1\]:7946/;
const alive = async (s: RunningServer, name: string) => (await api(s, 'GET', '/cluster/members')).body.members.some((m: { name: string; status: string }) => m.name === name && m.status === 'alive');

test('cluster addresses - names work in --bind-addr, --join, add-node and POST /cluster/join; bad ones get one clear error', async () => {
  const pa = await freePort('127.0.0.1');
  const pb = await freePort('127.0.0.33');
  const local = ['--set', 'coordination.cluster.profile=local'];
  const servers: RunningServer[] = [];
  try {
    // localhost is 127.0.0.1 here (/etc/hosts): the node binds and advertises what the name resolves to.
    servers.push(await startServer({ args: ['--bootstrap', '--bind-addr', `localhost:${pa}`, '--node-id', 'addr-a', ...local] }));
    servers.push(await startServer({ args: ['--join', `localhost:${pa}`, '--bind-addr', `127.0.0.33:${pb}`, '--node-id', 'addr-b', ...local] }));
    const [a, b] = servers as [RunningServer, RunningServer];
    assert.match(a.logs(), /"msg":"resolving host names \(up to 5 s each\)"/, 'a start that looks names up says so first');
    assert.match(a.logs(), /"names":\["--bind-addr localhost"\]/);
    await until('addr-b joined addr-a through a name', () => alive(a, 'addr-b'));
    const me = (await api(b, 'GET', '/cluster/members')).body.members.find((m: { name: string }) => m.name === 'addr-a');
    assert.equal(me.address, `127.0.0.1:${pa}`);

    // A node whose seed does not resolve starts anyway, says why in its log, and joins with add-node.
    servers.push(await startServer({ args: ['--bootstrap', '--join', 'no-such-host.invalid:7946', '--bind-addr', `127.0.0.34:${pb}`, '--node-id', 'addr-c', ...local] }));
    const c = servers[2] as RunningServer;
    await until('the unresolvable seed is logged', () => /the name \\"no-such-host\.invalid\\" does not resolve/.test(c.logs()));
    const add = await runCli(['cluster', 'add-node', `localhost:${pa}`, '--api-url', c.apiUrl, '--api-key', c.adminKey]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /joined: 1 of 1 answered/);
    await until('addr-c joined through add-node with a name', () => alive(a, 'addr-c'));
    const joined = await api(b, 'POST', '/cluster/join', { addresses: [`localhost:${pa}`] });
    assert.deepEqual([joined.status, joined.body], [200, { answered: 1, skipped: [] }]);

    // As with --join: a name that does not resolve is skipped and reported; the rest are joined through.
    const some = await api(b, 'POST', '/cluster/join', { addresses: [`localhost:${pa}`, 'no-such-host.invalid:7946'] });
    assert.equal(some.status, 200, JSON.stringify(some.body));
    assert.equal(some.body.answered, 1);
    assert.deepEqual(some.body.skipped.map((x: Record<string, unknown>) => [x['address'], x['field'], x['code']]), [['no-such-host.invalid:7946', 'body.addresses[1]', 'CAXTON_ERR_ADDRESS_INVALID']]);
    const someCli = await runCli(['cluster', 'add-node', `localhost:${pa}`, 'no-such-host.invalid:7946', '--api-url', c.apiUrl, '--api-key', c.adminKey]);
    assert.equal(someCli.code, 0, someCli.stderr);
    assert.match(someCli.stdout, /^skipped no-such-host\.invalid:7946: address 2: "no-such-host\.invalid:7946" is not a usable address: the name "no-such-host\.invalid" does not resolve/m);
    assert.match(someCli.stdout, /joined: 1 of 2 answered/);

    // One error, from the CLI before asking the node and from the API: value, problem, form, example.
    const noPort = await runCli(['cluster', 'add-node', 'new-node', '--api-url', c.apiUrl, '--api-key', c.adminKey]);
    assert.equal(noPort.code, 2, noPort.stderr);
    assert.match(noPort.stderr, /^error: address: "new-node" is not a usable address: the port is missing; /m);
    assert.match(noPort.stderr, FORM);
    assert.doesNotMatch(noPort.stderr, /\^|\[0-9/, 'no regular expression');
    // None resolves: the node's error, naming the argument as the CLI's own check does.
    const unresolved = await runCli(['cluster', 'add-node', 'no-such-host.invalid:7946', '--api-url', c.apiUrl, '--api-key', c.adminKey]);
    assert.equal(unresolved.code, 1);
    assert.match(unresolved.stderr, /^error: address: "no-such-host\.invalid:7946" is not a usable address: the name "no-such-host\.invalid" does not resolve \(no such host\); /m);
    assert.match(unresolved.stderr, FORM);
    // With -o json, the CLI's own check prints the error as JSON too (exit 2: nothing was sent).
    const asJson = await runCli(['cluster', 'add-node', 'ok-node:7946', 'new-node', '-o', 'json', '--api-url', c.apiUrl, '--api-key', c.adminKey]);
    assert.equal(asJson.code, 2, asJson.stderr);
    const err = JSON.parse(asJson.stdout).error;
    assert.deepEqual([err.code, err.details.field], ['CAXTON_ERR_ADDRESS_INVALID', 'address 2']);
    const v6 = await api(c, 'POST', '/cluster/join', { addresses: [`localhost:${pa}`, '::1:7946'] });
    assert.equal(v6.status, 400);
    assert.equal(v6.body.error.code, 'CAXTON_ERR_ADDRESS_INVALID');
    assert.match(v6.body.error.message, /^body\.addresses\[1\]: "::1:7946" is not a usable address: an IPv6 address goes in brackets, e\.g\. \[::1\]:7946; /);
    assert.equal(v6.body.error.details.field, 'body.addresses[1]');

    // A listen address whose name does not resolve stops the start, naming the flag.
    const bad = await runCli(['server', 'start', '--data-dir', `${c.dataDir}-bad`, '--bootstrap', '--bind-addr', 'no-such-host.invalid:0', '--api-addr', '127.0.0.1:0', '--metrics-addr', '127.0.0.1:0'], { timeoutMs: 30_000 });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^error: --bind-addr: "no-such-host\.invalid:0" is not a usable address: the name "no-such-host\.invalid" does not resolve/m);
  } finally {
    for (const s of servers.reverse()) {
      await s.stop();
      s.cleanup();
    }
  }
});

test('cluster addresses - the API and metrics addresses go to listen() unresolved; metrics_addr is not looked up when metrics are off', async () => {
  // Metrics off: a name nobody resolves in server.metrics_addr does not stop the start.
  const s = await startServer({ args: ['--metrics-addr', 'no-such-host.invalid:0', '--set', 'observability.metrics.enabled=false'] });
  try {
    assert.equal((await api(s, 'GET', '/health')).status, 200);
  } finally {
    await s.stop();
    s.cleanup();
  }
  // listen() looks the API's name up itself; one that does not resolve is still named by its flag.
  const bad = await runCli(['server', 'start', '--data-dir', `${s.dataDir}-api`, '--api-addr', 'no-such-host.invalid:0', '--metrics-addr', '127.0.0.1:0'], { timeoutMs: 30_000 });
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /^error: --api-addr: "no-such-host\.invalid:0" is not a usable address: the name "no-such-host\.invalid" does not resolve \(no such host\)/m);
});

test('cluster addresses - a bracketed IPv6 literal binds and is shown with its brackets', async () => {
  const s = await startServer({ args: ['--bootstrap', '--bind-addr', '[::1]:0', '--node-id', 'addr-v6'] });
  try {
    const me = (await api(s, 'GET', '/cluster/members')).body.members[0];
    assert.match(me.address, /^\[::1\]:\d+$/);
  } finally {
    await s.stop();
    s.cleanup();
  }
});
