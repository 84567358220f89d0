/**
 * N real `caxton server start` processes behave as one Caxton: one admin key works on every node,
 * a deploy on any node lands on the owner rendezvous hashing computes, every node's agent list shows
 * every agent with its node. Driven through the API and the CLI, as an operator would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, metricValue, runCli } from '../../helpers/server.js';
import { startServerCluster } from '../../helpers/server-cluster.js';
import { until } from '../../helpers/until.js';
import { agentWasm } from '../../helpers/agents.js';
import { subscriberAgent } from '../../helpers/wat-agents.js';
import { evenly, ownerOf, rank } from '../../../src/cluster/placement/rendezvous.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

test('cluster - three nodes are one system: keys, placement and views span every node', async (t) => {
  const c = await startServerCluster({ size: 3, base: 60 });
  t.after(() => c.stop());
  const [n1, n2, n3] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  const names = ['node-1', 'node-2', 'node-3'];

  // node-1's admin key reaches the others (cluster-wide keys) and theirs reach node-1.
  await until('node-1 admin key works on node-3', async () => (await api(n3, 'GET', '/status', undefined, n1.adminKey)).status === 200);
  await until('node-3 admin key works on node-1', async () => (await api(n1, 'GET', '/status', undefined, n3.adminKey)).status === 200);

  // Deploys from node-1 land on their computed owners.
  const agents = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
  for (const name of agents) {
    const r = await api(n1, 'POST', '/agents', { name, module: b64(agentWasm('echo')) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.node, ownerOf(name, evenly(names)), `${name} on its owner`);
  }
  const list = await api(n2, 'GET', '/agents');
  assert.deepEqual(
    (list.body.agents as { name: string; node: string }[]).map((a) => `${a.node}/${a.name}`).sort(),
    agents.map((a) => `${ownerOf(a, evenly(names))}/${a}`).sort(),
  );
  const table = await runCli(['agent', 'list', '--api-url', n3.apiUrl, '--api-key', n1.adminKey]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /NODE/);

  // A key revoked on node-2 stops working on every node.
  const made = await api(n2, 'POST', '/keys', { name: 'ops', role: 'viewer' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const key = made.body.key as string;
  await until('the new key works on node-1', async () => (await api(n1, 'GET', '/agents', undefined, key)).status === 200);
  assert.equal((await api(n2, 'DELETE', `/keys/${made.body.id}`)).status < 300, true);
  for (const n of [n1, n2, n3]) await until('the revoked key is refused everywhere', async () => (await api(n, 'GET', '/agents', undefined, key)).status === 401);
});

test('cluster - messages reach agents on other nodes by name, capability and topic; a name that exists nowhere is one failure', async (t) => {
  const c = await startServerCluster({ size: 3, base: 64 });
  t.after(() => c.stop());
  const [n1, n2, n3] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>];
  const key = n1.adminKey;
  await until('node-1 admin key works on node-3', async () => (await api(n3, 'GET', '/status', undefined, key)).status === 200);
  const deploy = async (name: string, wasm: Uint8Array, node: string) => {
    const r = await api(n1, 'POST', '/agents', { name, module: b64(wasm), target_node: node }, key);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.node, node);
  };
  await deploy('echo2', agentWasm('echo'), 'node-2');
  await deploy('calc3', agentWasm('calculator'), 'node-3');
  const sub = await subscriberAgent('news');
  await deploy('reader2', sub, 'node-2');
  await deploy('reader3', sub, 'node-3');

  // A deploy off the name's computed owner is answered once every node can route to it: the owner,
  // asked at once, forwards instead of declaring the name nonexistent. Names node-1 owns, pinned to
  // node-3 through node-1's API and asked on node-1 at once (the deploy's answer and the directory
  // entry both come from node-3; the answer must not overtake the entry). Six at a time, as a deploy
  // script would.
  const off = Array.from({ length: 400 }, (_, i) => `pinned-${i}`).filter((n) => ownerOf(n, evenly(['node-1', 'node-2', 'node-3'])) === 'node-1').slice(0, 12);
  const echo = agentWasm('echo');
  for (let i = 0; i < off.length; i += 6) {
    await Promise.all(
      off.slice(i, i + 6).map(async (name) => {
        await deploy(name, echo, 'node-3');
        const r = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: name, content: 'now' }, key);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.reply.sender, name, `${name} answers from its owner node at once: ${JSON.stringify(r.body.reply)}`);
      }),
    );
  }

  // A pinned agent whose entry node-1 does not hold: node-1 sends the first message to the name's
  // owner, which passes it on and tells node-1 where the agent lives; the next ones go straight to
  // the agent's node, not through the owner (one extra hop each way otherwise).
  const names = ['node-1', 'node-2', 'node-3'];
  const far = Array.from({ length: 400 }, (_, i) => `far-${i}`).find((n) => rank(n, evenly(names)).join() === 'node-3,node-2,node-1') as string;
  await deploy(far, echo, 'node-2');
  const passedOnBefore = await metricOf(n3, 'caxton_cluster_messages_passed_on_total');
  for (let i = 0; i < 20; i++) {
    const r = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: far, content: i }, key);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.reply.sender, far);
  }
  const passedOn = (await metricOf(n3, 'caxton_cluster_messages_passed_on_total')) - passedOnBefore;
  assert.ok(passedOn >= 1 && passedOn <= 2, `node-3 (${far}'s owner) passed on ${passedOn} of 20 messages from node-1; the first (or two) only, once node-1 knows`);

  // By name, from the CLI on node-1, to an agent on node-2: the reply comes back to node-1's API.
  const sent = await until('echo2 is routable from node-1', async () => {
    const r = await runCli(['message', 'send', '--to', 'echo2', '--performative', 'request', '--content', '{"hello":1}', '--wait-reply', '-o', 'json', '--api-url', n1.apiUrl, '--api-key', key]);
    return r.code === 0 ? r : undefined;
  });
  const reply = JSON.parse(sent.stdout) as { delivered_to: string; reply: { sender: string; receiver: string; content: unknown } };
  assert.equal(reply.delivered_to, 'remote');
  assert.equal(reply.reply.sender, 'echo2');
  assert.equal(reply.reply.receiver, 'api@node-1');
  assert.deepEqual(reply.reply.content, { hello: 1 });
  // A client's own name carries its node, and the reply comes back to it there.
  const bob = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: 'echo2', sender: 'bob@node-1', content: 2 }, key);
  assert.equal(bob.status, 200, JSON.stringify(bob.body));
  assert.equal(bob.body.reply.receiver, 'bob@node-1');
  // No client passes for an agent of another node, which node-1 could not check otherwise.
  for (const sender of ['calc3', 'bob', 'bob@node-2']) {
    const spoof = await api(n1, 'POST', '/messages', { performative: 'inform', receiver: 'echo2', sender, content: 1 }, key);
    assert.equal(spoof.status, 403, `${sender}: ${JSON.stringify(spoof.body)}`);
    assert.equal(spoof.body.error.code, 'CAXTON_ERR_MESSAGE_SPOOFED');
  }

  // By capability: the only provider is on node-3.
  const sum = await until('the arithmetic capability is known on node-1', async () => {
    const r = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', capability: 'arithmetic', content: { op: 'add', args: [2, 3] } }, key);
    return r.status === 200 ? r : undefined;
  });
  assert.deepEqual(sum.body.reply.content, { result: 5 });
  assert.equal(sum.body.reply.sender, 'calc3');

  // By topic: one publication from node-1 reaches the subscribers on node-2 and node-3.
  await until('the news subscribers are known on node-1', async () => (await api(n1, 'POST', '/messages', { performative: 'inform', topic: 'news', content: 'extra' }, key)).body.delivered_to === 'topic:2');
  for (const [n, name] of [[n2, 'reader2'], [n3, 'reader3']] as const) {
    await until(`${name} received the news`, async () => ((await api(n, 'GET', `/agents/${name}/stats`, undefined, key)).body.messages_in ?? 0) >= 1);
  }

  // A name that exists nowhere is decided on its owner node (whichever it is), answered with one
  // failure that comes back to the asking API, and counted once in the whole cluster.
  // (A name whose owner is another node: one owned by node-1 is refused at once, as on a node alone.)
  const ghost = Array.from({ length: 50 }, (_, i) => `ghost-${i}`).find((g) => ownerOf(g, evenly(['node-1', 'node-2', 'node-3'])) !== 'node-1') as string;
  // Right after a membership change its owner says "not known yet" (agent_unavailable: send again)
  // rather than declare it nonexistent while an entry may be on its way.
  const before = await noSuchAgent([n1, n2, n3]);
  const nowhere = await until('the owner decides', async () => {
    const r = await api(n1, 'POST', '/messages?wait_reply=true&timeout_ms=5000', { performative: 'request', receiver: ghost, content: 1 }, key);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.reply.performative, 'failure');
    const why = JSON.stringify(r.body.reply.content);
    if (/not known yet/.test(why)) return undefined;
    return why;
  });
  assert.match(nowhere, /no_such_agent/);
  await until('the refusal is counted', async () => (await noSuchAgent([n1, n2, n3])) === before + 1);
});

async function noSuchAgent(nodes: readonly { metricsUrl: string }[]): Promise<number> {
  let n = 0;
  for (const s of nodes) n += await metricOf(s, 'caxton_messages_no_such_agent_total');
  return n;
}

/** A counter without labels (0 before its first increment). */
async function metricOf(s: { metricsUrl: string }, name: string): Promise<number> {
  return (await metricValue(s, name)) ?? 0;
}
