/**
 * Two real nodes (CaxtonNode: pool, SQLite, API over HTTP) joined by the in-process Peers network
 * instead of the link: a deploy on one is placed on the other and runs there, and API keys work on both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CaxtonNode } from '../../src/node.js';
import { createLogger } from '../../src/observability/logger.js';
import { placeAgent } from '../../src/agents/placement.js';
import { MemoryNetwork } from '../helpers/memory-peers.js';
import { agentWasm, Client } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const names = ['node-a', 'node-b'];
const members = () => names.map((name) => ({ name, status: 'alive' as const, tags: { role: 'caxton', agents: '0', cpu: '0', mem: '100' } }));

async function withTwoNodes(fn: (nodes: { node: CaxtonNode; url: string; key: string }[]) => Promise<void>): Promise<void> {
  const net = new MemoryNetwork();
  const dirs = names.map(() => tempDir());
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const nodes: { node: CaxtonNode; url: string; key: string }[] = [];
  try {
    for (const [i, name] of names.entries()) {
      const dataDir = (dirs[i] as ReturnType<typeof tempDir>).path;
      const node = await CaxtonNode.start({
        dataDir,
        nodeId: name,
        logger: createLogger({ level: 'warn', destination: quiet }),
        workers: 1,
        api: { addr: { host: '127.0.0.1', port: 0 } },
        peers: net.add(name),
        peerMembers: members,
      });
      nodes.push({ node, url: `http://127.0.0.1:${node.apiAddress?.port}/api/v1`, key: readFileSync(join(dataDir, 'admin.key'), 'utf8').trim() });
    }
    await fn(nodes);
  } finally {
    for (const n of nodes) await n.node.stop();
    for (const d of dirs) d.cleanup();
  }
}

async function call(url: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string } } }> {
  const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
}

test('peer services - a deploy on node-a placed on node-b runs on node-b, which fetched the module from node-a', async () => {
  await withTwoNodes(async ([a, b]) => {
    if (a === undefined || b === undefined) throw new Error('two nodes');
    // Each node's admin key, written at its first start, reaches the other by anti-entropy.
    await until('admin keys on both nodes', async () => (await call(b.url, a.key, 'GET', '/keys')).status === 200 && (await call(a.url, b.key, 'GET', '/keys')).status === 200);
    const module = Buffer.from(agentWasm('echo')).toString('base64');
    const r = await call(a.url, a.key, 'POST', '/agents', { name: 'far-echo', module, target_node: 'node-b' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body['node'], 'node-b');
    assert.equal(r.body['state'], 'running');
    assert.equal(a.node.deployments.get('far-echo'), undefined, 'not on node-a');
    assert.equal(b.node.deployments.get('far-echo')?.live?.state, 'running');
    const client = new Client(b.node.pool);
    assert.deepEqual((await client.request('far-echo', 'request', { hi: 1 })).content, { hi: 1 });
    // Without a pin, the owner is the one every node computes.
    for (const name of ['e1', 'e2', 'e3', 'e4']) {
      const d = await call(b.url, b.key, 'POST', '/agents', { name, module });
      assert.equal(d.status, 201, JSON.stringify(d.body));
      const owner = placeAgent(name, members());
      assert.equal(d.body['node'], owner);
      assert.ok((owner === 'node-a' ? a : b).node.deployments.get(name) !== undefined, `${name} on ${owner}`);
    }
    // The owner's errors come back through the forwarding node.
    const taken = await call(a.url, a.key, 'POST', '/agents', { name: 'far-echo', module, target_node: 'node-b' });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error?.code, 'CAXTON_ERR_AGENT_EXISTS');
  });
});

test('peer services - a key created on one node works on the other; revoked on the other, it works on neither', async () => {
  await withTwoNodes(async ([a, b]) => {
    if (a === undefined || b === undefined) throw new Error('two nodes');
    const created = await call(a.url, a.key, 'POST', '/keys', { name: 'ci', role: 'viewer' });
    assert.equal(created.status, 201);
    const ci = created.body['key'] as string;
    await until('the key works on node-b', async () => (await call(b.url, ci, 'GET', '/agents')).status === 200);
    const changed = await call(b.url, b.key, 'PATCH', `/keys/${String(created.body['id'])}`, { role: 'admin' });
    assert.equal(changed.status, 200);
    await until('the role change on node-a', async () => (await call(a.url, ci, 'GET', '/keys')).status === 200);
    assert.equal((await call(b.url, b.key, 'DELETE', `/keys/${String(created.body['id'])}`)).status, 200);
    await until('revoked on node-a', async () => (await call(a.url, ci, 'GET', '/agents')).status === 401);
    assert.equal((await call(b.url, ci, 'GET', '/agents')).status, 401);
  });
});
