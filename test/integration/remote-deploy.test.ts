/**
 * deploy.forward between two nodes joined by the in-process Peers network: the owner has a real pool
 * (worker threads, real wasm), real SQLite and real Deployments; the forwarding node offers the module
 * by hash and the owner fetches, verifies, admits and starts it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Deployments } from '../../src/agents/deployments.js';
import { ModuleServer, sha256Hex } from '../../src/agents/module-fetch.js';
import { DEPLOY_FORWARD, forwardDeploy, serveForwardedDeploys } from '../../src/agents/remote-deploy.js';
import { AgentPool } from '../../src/sandbox/index.js';
import { DeploymentStore, openDatabase, SqliteAgentStateStore, type SqliteDatabase } from '../../src/storage/index.js';
import { agentView } from '../../src/api/views.js';
import { createLogger } from '../../src/observability/logger.js';
import { isCaxtonError, type CaxtonError } from '../../src/errors.js';
import { MemoryNetwork, type MemoryPeers } from '../helpers/memory-peers.js';
import { agentWasm, Client, fixtureWasm } from '../helpers/agents.js';
import { tempDir } from '../helpers/tmp.js';

interface Owner {
  readonly pool: AgentPool;
  readonly db: SqliteDatabase;
  readonly deployments: Deployments;
  readonly peers: MemoryPeers;
  readonly warnings: string[];
}

async function withTwoNodes(fn: (net: MemoryNetwork, caller: { peers: MemoryPeers; server: ModuleServer }, owner: Owner) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const net = new MemoryNetwork();
  const callerDb = openDatabase(join(dir.path, 'caller.db'));
  const callerPeers = net.add('caller');
  const callerServer = new ModuleServer(callerPeers, new DeploymentStore(callerDb));
  const databasePath = join(dir.path, 'owner.db');
  const db = openDatabase(databasePath);
  const pool = await AgentPool.start({ workers: 1, databasePath });
  const warnings: string[] = [];
  const logger = createLogger({ level: 'warn', destination: new Writable({ write: (c, _e, cb) => (warnings.push(String(c)), cb()) }) });
  const deployments = new Deployments(pool, new DeploymentStore(db), new SqliteAgentStateStore(db), logger);
  const peers = net.add('owner');
  new ModuleServer(peers, deployments.store);
  serveForwardedDeploys(peers, deployments, { view: agentView, logger });
  try {
    await fn(net, { peers: callerPeers, server: callerServer }, { pool, db, deployments, peers, warnings });
  } finally {
    await pool.close();
    db.close();
    callerDb.close();
    dir.cleanup();
  }
}

test('remote deploy - the owner fetches the module by hash from the caller, deploys and starts it; the agent answers', async () => {
  await withTwoNodes(async (net, caller, owner) => {
    const echo = agentWasm('echo');
    const view = (await forwardDeploy(caller.peers, caller.server, 'owner', { name: 'echo1', module: echo, config: { greeting: 'hi' }, priority: 'high', start: true })) as Record<string, unknown>;
    assert.equal(view['name'], 'echo1');
    assert.equal(view['state'], 'running');
    assert.equal(view['priority'], 'high');
    assert.equal(view['module'], await sha256Hex(echo));
    assert.deepEqual(view['config'], { greeting: 'hi' });
    assert.equal(owner.deployments.get('echo1')?.deployment.priority, 'high', 'recorded durably on the owner');
    const client = new Client(owner.pool);
    const reply = await client.request('echo1', 'request', { ping: 1 });
    assert.deepEqual(reply.content, { ping: 1 });
    // The same module again: the owner already keeps it, nothing is fetched (one call: the forward).
    const calls = net.calls;
    await forwardDeploy(caller.peers, caller.server, 'owner', { name: 'echo2', module: echo, config: {}, priority: 'normal', start: false, pinned: true });
    assert.equal(net.calls - calls, 1);
    assert.equal(owner.deployments.get('echo2')?.live?.state, 'suspended');
    // target_node: the owner keeps itself as the agent's pin; a deploy placed by rank has none.
    assert.equal(owner.deployments.get('echo2')?.deployment.pin, 'owner');
    assert.equal(owner.deployments.get('echo1')?.deployment.pin, undefined);
  });
});

test('remote deploy - the owner\'s errors come back with their codes, and nothing stays deployed', async () => {
  await withTwoNodes(async (_net, caller, owner) => {
    await assert.rejects(
      forwardDeploy(caller.peers, caller.server, 'owner', { name: 'bad', module: fixtureWasm('not-wasm'), config: {}, priority: 'normal', start: true }),
      (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_MODULE_MALFORMED'),
    );
    assert.equal(owner.deployments.get('bad'), undefined);
    await forwardDeploy(caller.peers, caller.server, 'owner', { name: 'taken', module: agentWasm('echo'), config: {}, priority: 'normal', start: true });
    await assert.rejects(
      forwardDeploy(caller.peers, caller.server, 'owner', { name: 'taken', module: agentWasm('counter'), config: {}, priority: 'normal', start: true }),
      (e: unknown) => isCaxtonError(e, 'CAXTON_ERR_AGENT_EXISTS'),
    );
  });
});

test('remote deploy - a caller serving bytes that do not match the hash is refused before admission', async () => {
  await withTwoNodes(async (net, _caller, owner) => {
    const evilDb = openDatabase(':memory:');
    try {
      const evil = net.add('evil');
      const evilStore = new DeploymentStore(evilDb);
      new ModuleServer(evil, evilStore);
      const echo = agentWasm('echo');
      const hash = await sha256Hex(echo);
      // Claims the echo module's hash, serves the counter module under it.
      evilStore.putModule(hash, agentWasm('counter'));
      await assert.rejects(evil.call('owner', DEPLOY_FORWARD, { name: 'sneaky', module: hash, config: {}, priority: 'normal', start: true }), (e: CaxtonError) => {
        assert.equal(e.code, 'CAXTON_ERR_MODULE_HASH_MISMATCH');
        assert.match(e.message, /from node evil/);
        return true;
      });
      assert.equal(owner.deployments.get('sneaky'), undefined);
      assert.equal(owner.deployments.store.module(hash), undefined, 'the refused bytes were not kept');
      assert.ok(owner.warnings.some((w) => /could not fetch a module from a peer/.test(w) && /CAXTON_ERR_MODULE_HASH_MISMATCH/.test(w)));
      // A malformed forward is refused with its reason.
      await assert.rejects(evil.call('owner', DEPLOY_FORWARD, { name: 'x', module: hash, config: [], priority: 'normal', start: true }), (e: CaxtonError) => e.code === 'CAXTON_ERR_CLUSTER_FRAME' && /config must be an object/.test(e.message));
      await assert.rejects(evil.call('owner', DEPLOY_FORWARD, { name: 'x', module: hash, config: {}, priority: 'urgent', start: true }), (e: CaxtonError) => e.code === 'CAXTON_ERR_CLUSTER_FRAME' && /priority/.test(e.message));
    } finally {
      evilDb.close();
    }
  });
});
