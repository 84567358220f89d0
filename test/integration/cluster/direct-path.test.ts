/**
 * The direct path (docs/cluster-routing.md, "The direct path"): agent-to-agent messages between nodes
 * go worker to worker once a route is open, keep their order through every switch of path (the first
 * messages on the link, the fence, an at-least-once message that sends the route back to the link),
 * and still reach an agent that moved to another node; with mTLS on, the same over TLS. Real server
 * processes on loopback, driven through the API; the metrics say which path carried what.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { api, type RunningServer } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { fixtureWasm } from '../../helpers/agents.js';
import { tempDir } from '../../helpers/tmp.js';
import { evenly, ownerOf } from '../../../src/cluster/placement/rendezvous.js';
import { createCa, issueNodeCert, writePemFile } from '../../../src/security/pki.js';

const burstWasm = Buffer.from(fixtureWasm('ordered-burst')).toString('base64');

interface Report {
  last: number;
  in_order: number;
  duplicates: number;
  out_of_order: number;
}

async function deploy(on: RunningServer, name: string, node: string): Promise<void> {
  const r = await api(on, 'POST', '/agents', { name, module: burstWasm, target_node: node });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.node, node);
}

async function ask(on: RunningServer, to: string, content: unknown): Promise<Record<string, number>> {
  const r = await api(on, 'POST', '/messages?wait_reply=true&timeout_ms=10000', { performative: 'request', receiver: to, content });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.reply.content as Record<string, number>;
}

/** Messages one handler sends: within the default fuel of one call. */
const PER_CALL = 50;

/**
 * `from` sends `count` numbered messages to `to` (every `reliableEvery`-th at-least-once), PER_CALL
 * per request it handles, the requests back to back. Returns the last number sent.
 */
async function burst(on: RunningServer, from: string, to: string, count: number, reliableEvery = 0): Promise<number> {
  let last = 0;
  for (let left = count; left > 0; left -= PER_CALL) {
    const r = await ask(on, from, { op: 'burst', to, count: Math.min(PER_CALL, left), reliable_every: reliableEvery });
    assert.equal(r.refused, 0, `${from} had sends refused: ${JSON.stringify(r)}`);
    last = r.sent as number;
  }
  return last;
}

/** Waits until `name` received message `last` and `count` messages in all (its in-memory counts). */
async function received(on: RunningServer, name: string, last: number, count = last): Promise<Report> {
  let report: Report | undefined;
  await until(`${name} received up to ${last}, ${count} messages`, async () => {
    report = (await ask(on, name, { op: 'report' })) as unknown as Report;
    return report.last >= last && report.in_order + report.duplicates + report.out_of_order >= count;
  }).catch((e: Error) => {
    throw new Error(`${e.message}; it reports ${JSON.stringify(report)}`);
  });
  return report as Report;
}

/** The node's direct-path metrics: messages out and in, routes open. */
async function direct(on: RunningServer): Promise<{ out: number; in: number; routes: number }> {
  const text = await (await fetch(`${on.metricsUrl}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    out: value(/^caxton_cluster_direct_messages_total\{direction="out"\} (\S+)$/m),
    in: value(/^caxton_cluster_direct_messages_total\{direction="in"\} (\S+)$/m),
    routes: value(/^caxton_cluster_direct_routes (\S+)$/m),
  };
}

test('cluster - direct path: messages between nodes go worker to worker, in order through every switch, and follow an agent that moved', async (t) => {
  const c = await startServerCluster({ size: 3, base: 103 });
  t.after(() => c.stop());
  const [n1, n2, n3] = c.nodes as [RunningServer, RunningServer, RunningServer];
  // A receiver that node-3 takes when node-2 is isolated (step 4), so that its new place is remote too.
  const dst = Array.from({ length: 50 }, (_, i) => `dst-${i}`).find((n) => ownerOf(n, evenly(['node-1', 'node-3'])) === 'node-3') as string;
  await deploy(n1, 'src', 'node-1');
  await deploy(n1, dst, 'node-2');

  // 1. At-most-once: the first messages take the link, the rest the direct path once its fence came back.
  let sent = await burst(n1, 'src', dst, 400);
  let r = await received(n1, dst, sent);
  assert.deepEqual(r, { last: 400, in_order: 400, duplicates: 0, out_of_order: 0 });
  const a1 = await direct(n1);
  const a2 = await direct(n2);
  assert.ok(a1.out > 0, `node-1 wrote messages on the direct path: ${JSON.stringify(a1)}`);
  assert.ok(a2.in > 0, `node-2 took messages from the direct path: ${JSON.stringify(a2)}`);
  assert.equal(a1.routes, 1, 'node-1 has one route open (to dst)');

  // Once the route is open, a whole burst goes direct.
  sent = await burst(n1, 'src', dst, 300);
  r = await received(n1, dst, sent);
  assert.deepEqual(r, { last: 700, in_order: 700, duplicates: 0, out_of_order: 0 });
  assert.equal((await direct(n1)).out - a1.out, 300, 'the second burst went direct');

  // 2. Every 25th message at-least-once: the route closes (CLOSE / CLOSED) before the first of them,
  // which takes the link with its outbox acknowledgements; the order holds across the switch.
  sent = await burst(n1, 'src', dst, 400, 25);
  r = await received(n1, dst, sent);
  assert.deepEqual(r, { last: 1100, in_order: 1100, duplicates: 0, out_of_order: 0 });
  assert.equal((await direct(n1)).routes, 0, 'the route went back to the link');
  await until('node-1 acknowledged every at-least-once message', async () => (await api(n1, 'GET', '/status')).body.outbox_pending === 0);

  // 3. The other way: dst answers with bursts of its own, on a route of node-2's worker.
  sent = await burst(n1, dst, 'src', 400);
  r = await received(n1, 'src', sent);
  assert.deepEqual(r, { last: 400, in_order: 400, duplicates: 0, out_of_order: 0 });
  assert.ok((await direct(n2)).out > 0, 'node-2 wrote messages on the direct path');

  // 4. dst moves away from node-2 (isolated for maintenance) while src's route points there: node-2's
  // worker hands what it gets to its main thread, which forwards it, and tells src's worker REVOKE.
  const iso = await api(n1, 'POST', '/cluster/isolate', { node: 'node-2' });
  assert.equal(iso.status, 200, JSON.stringify(iso.body));
  await until(`${dst} runs on node-3`, async () => {
    const list = await api(n3, 'GET', '/agents');
    return (list.body.agents as { name: string; node: string; state: string }[]).some((a) => a.name === dst && a.state === 'running' && a.node === 'node-3');
  });
  // Traffic until src's worker has a route to node-3 (after the cool-down the at-least-once messages of
  // step 2 started) and a burst went over it.
  const start = 1100; // src's last number to dst (steps 1 and 2)
  let viaNode3 = false;
  const deadline = Date.now() + 25_000;
  while (!viaNode3 && Date.now() < deadline) {
    const before = await direct(n3);
    sent = await burst(n1, 'src', dst, 100);
    viaNode3 = (await direct(n3)).in - before.in === 100;
    if (!viaNode3) await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(viaNode3, 'a whole burst went to node-3 on the direct path');
  // ordered-burst counts in memory: the instance on node-3 started from 0 and got every message since.
  r = await received(n1, dst, sent, sent - start);
  // Every message arrived, once (one forwarded by node-2 may be overtaken by a later one that took the
  // new route: order across a move is not promised, delivery is; the first one is a jump from 0).
  assert.equal(r.in_order + r.duplicates + r.out_of_order, sent - start, JSON.stringify(r));
  assert.equal(r.duplicates, 0, JSON.stringify(r));
  assert.equal(r.last, sent);
  assert.equal((await direct(n1)).routes, 1);
});

test('cluster - direct path off (coordination.cluster.direct_messages=false): every message takes the link, in order', async (t) => {
  const c = await startServerCluster({ size: 2, base: 106, args: ['--set', 'coordination.cluster.direct_messages=false'] });
  t.after(() => c.stop());
  const [n1, n2] = c.nodes as [RunningServer, RunningServer];
  await deploy(n1, 'src', 'node-1');
  await deploy(n1, 'dst', 'node-2');
  const sent = await burst(n1, 'src', 'dst', 500);
  const r = await received(n1, 'dst', sent);
  assert.deepEqual(r, { last: 500, in_order: 500, duplicates: 0, out_of_order: 0 });
  assert.deepEqual(await direct(n1), { out: 0, in: 0, routes: 0 });
  assert.deepEqual(await direct(n2), { out: 0, in: 0, routes: 0 });
});

test('cluster - direct path with mTLS on: the workers\' connections run TLS with the nodes\' certificates, in order', async (t) => {
  const dir = tempDir('caxton-direct-mtls-');
  t.after(() => dir.cleanup());
  const ca = await createCa();
  const caCrt = join(dir.path, 'ca.crt');
  writePemFile(caCrt, ca.certPem);
  const files: { crt: string; key: string }[] = [];
  for (const node of ['node-1', 'node-2']) {
    const c = await issueNodeCert(ca, { nodeId: node });
    const f = { crt: join(dir.path, `${node}.crt`), key: join(dir.path, `${node}.key`) };
    writePemFile(f.crt, c.certPem);
    writePemFile(f.key, c.keyPem, { secret: true });
    files.push(f);
  }
  const mtls = (i: number) => {
    const f = files[i] as { crt: string; key: string };
    return ['--set', 'security.cluster.mtls.enabled=true', '--set', `security.cluster.mtls.ca_cert=${caCrt}`, '--set', `security.cluster.mtls.node_cert=${f.crt}`, '--set', `security.cluster.mtls.node_key=${f.key}`];
  };
  const c = await startServerCluster({ size: 2, base: 134, nodeArgs: mtls });
  t.after(() => c.stop());
  const [n1, n2] = c.nodes as [RunningServer, RunningServer];
  assert.equal((await api(n1, 'GET', '/cluster/status')).body.mtls, true);
  await until('node-1 admin key works on node-2', async () => (await api(n2, 'GET', '/status', undefined, n1.adminKey)).status === 200);
  await deploy(n1, 'src', 'node-1');
  await deploy(n1, 'dst', 'node-2');
  let sent = await burst(n1, 'src', 'dst', 400);
  let r = await received(n1, 'dst', sent);
  assert.deepEqual(r, { last: 400, in_order: 400, duplicates: 0, out_of_order: 0 });
  const a1 = await direct(n1);
  assert.equal(a1.routes, 1, `node-1 has a route open to dst: ${JSON.stringify(a1)}`);
  sent = await burst(n1, 'src', 'dst', 300);
  r = await received(n1, 'dst', sent);
  assert.deepEqual(r, { last: 700, in_order: 700, duplicates: 0, out_of_order: 0 });
  assert.equal((await direct(n1)).out - a1.out, 300, 'the second burst went direct');
  assert.ok((await direct(n2)).in >= 300);
  for (const n of [n1, n2]) assert.doesNotMatch(n.logs(), /direct path: (refused|closed|a TLS handshake|could not open)/);

  // node-2 revoked on node-1: node-1's worker closes its direct connection to node-2's worker.
  const rev = await api(n1, 'POST', '/security/revoke', { node: 'node-2', reason: 'test' });
  assert.equal(rev.status, 200, JSON.stringify(rev.body));
  await until('node-1 closed the direct connection', async () => (await direct(n1)).routes === 0 && /direct path: closed the connection from node-2: its certificate \(serial [0-9A-F]+\) (for node node-2 )?is revoked/.test(n1.logs()));
});
