/**
 * `caxton cluster shed-load` against two real `caxton server start` processes: the order reaches every
 * node, each refuses exactly its share of new external messages with 503 CAXTON_ERR_LOAD_SHED and a
 * Retry-After, replies pass, metrics say so, `--percentage 0` stops it, bad percentages are clear CLI
 * errors, and a node that does not answer makes the command fail naming it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, metricValue, runCli, type RunningServer } from '../../helpers/server.js';
import { startServerCluster, type ServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { EXIT_USAGE } from '../../../src/cli/errors.js';

let c: ServerCluster;
let n1: RunningServer;
let n2: RunningServer;
let key: string;

before(async () => {
  c = await startServerCluster({ size: 2, base: 150 });
  n1 = c.nodes[0] as RunningServer;
  n2 = c.nodes[1] as RunningServer;
  key = n1.adminKey;
  for (const n of c.nodes) await until(`node-1's admin key works on ${n.apiUrl}`, async () => (await api(n, 'GET', '/status', undefined, key)).status === 200);
});
after(() => c?.stop());

const cli = (args: readonly string[], on: RunningServer = n1) => runCli(['cluster', 'shed-load', ...args, '--api-url', on.apiUrl, '--api-key', key]);

/** `n` new external messages (to a topic: accepted whether or not anyone subscribes) posted one after another. */
async function post(on: RunningServer, n: number, extra: Record<string, unknown> = {}): Promise<{ accepted: number; shed: { status: number; body: any; headers: Headers }[] }> {
  let accepted = 0;
  const shed: { status: number; body: any; headers: Headers }[] = [];
  for (let i = 0; i < n; i++) {
    const r = await api(on, 'POST', '/messages', { performative: 'inform', topic: 'load.test', content: { i }, ...extra }, key);
    if (r.status === 202) accepted++;
    else shed.push(r);
  }
  return { accepted, shed };
}

test('cluster shed-load - 50% on every node: exactly 10 of 20 new messages refused per node with 503, CAXTON_ERR_LOAD_SHED and Retry-After; metrics and the status agree; 0 stops it', { timeout: 120_000 }, async () => {
  const set = await cli(['--percentage', '50']);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout, '✓ shedding 50% of new external messages on node-1, node-2\n');

  for (const [i, n] of [n1, n2].entries()) {
    const r = await post(n, 20);
    assert.equal(r.accepted, 10, `node-${i + 1}: 10 accepted`);
    assert.equal(r.shed.length, 10, `node-${i + 1}: 10 refused`);
    for (const s of r.shed) {
      assert.equal(s.status, 503);
      assert.equal(s.body.error.code, 'CAXTON_ERR_LOAD_SHED');
      assert.match(s.body.error.message, new RegExp(`node node-${i + 1} is shedding 50% of new external messages`));
      assert.match(s.body.error.hint, /caxton cluster shed-load --percentage 0/);
      assert.equal(s.headers.get('retry-after'), '2');
    }
    assert.equal(await metricValue(n, 'caxton_load_shed_percent'), 50, `node-${i + 1} gauge`);
    assert.equal(await metricValue(n, 'caxton_messages_shed_total'), 10, `node-${i + 1} counter`);
  }

  const status = await cli(['-o', 'json']);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout), {
    nodes: [
      { node: 'node-1', percentage: 50, shed_total: 10 },
      { node: 'node-2', percentage: 50, shed_total: 10 },
    ],
    missing: [],
  });

  const stop = await cli(['--percentage', '0']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout, '✓ load shedding stopped on node-1, node-2\n');
  for (const n of [n1, n2]) {
    assert.equal((await post(n, 20)).accepted, 20, 'nothing refused once stopped');
    assert.equal(await metricValue(n, 'caxton_load_shed_percent'), 0);
    assert.equal(await metricValue(n, 'caxton_messages_shed_total'), 10, 'the count stays');
  }
});

test('cluster shed-load - --node sets one node only; replies are never shed, even at 100%', { timeout: 60_000 }, async () => {
  const set = await cli(['--percentage', '100', '--node', 'node-2']);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout, '✓ shedding 100% of new external messages on node-2\n');
  assert.equal((await post(n2, 3)).accepted, 0, 'node-2 refuses every new message');
  assert.equal((await post(n2, 3, { in_reply_to: 'q-1' })).accepted, 3, 'node-2 takes replies');
  assert.equal((await post(n1, 3)).accepted, 3, 'node-1 was not told');
  const one = await api(n1, 'GET', '/cluster/shed-load?node=node-2', undefined, key);
  assert.equal(one.status, 200);
  assert.equal(one.body.nodes[0].percentage, 100);
  const off = await cli(['--percentage', '0', '--node', 'node-2']);
  assert.equal(off.code, 0, off.stderr);
  assert.equal((await post(n2, 3)).accepted, 3);
});

test('cluster shed-load - a bad percentage or an unknown node is a clear error, and nothing changes', { timeout: 60_000 }, async () => {
  for (const bad of ['101', '-1', 'abc']) {
    const r = await cli(['--percentage', bad]);
    assert.equal(r.code, EXIT_USAGE, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`--percentage takes a whole number from 0 to 100, got "${bad}"`));
  }
  const api101 = await api(n1, 'POST', '/cluster/shed-load', { percentage: 101 }, key);
  assert.equal(api101.status, 400);
  assert.equal(api101.body.error.code, 'CAXTON_ERR_API_INVALID_REQUEST');
  assert.match(api101.body.error.message, /percentage/);
  const unknown = await cli(['--percentage', '10', '--node', 'node-9']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /CAXTON_ERR_CLUSTER_UNKNOWN_NODE|no Caxton node named node-9/);
  for (const n of [n1, n2]) assert.equal(await metricValue(n, 'caxton_load_shed_percent'), 0);
});

test('cluster shed-load - a node that does not answer is named and the command fails; the others applied it', { timeout: 60_000 }, async () => {
  await n2.kill();
  const r = await cli(['--percentage', '20']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout.split('\n')[0], '✓ shedding 20% of new external messages on node-1');
  assert.match(r.stderr, /1 node\(s\) did not apply it: node-2 /);
  assert.equal(await metricValue(n1, 'caxton_load_shed_percent'), 20);
});
