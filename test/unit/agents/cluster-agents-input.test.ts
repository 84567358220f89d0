/** Frames from a hostile or broken peer: refused with CAXTON_ERR_CLUSTER_FRAME / _MODULE_HASH_MISMATCH, the node keeps serving. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentCluster } from '../../helpers/agent-cluster.js';
import { agentWasm } from '../../helpers/agents.js';
import { sha256Hex } from '../../../src/agents/deployment-replication.js';

test('cluster agents input - malformed pushes, moves and module requests are refused with CAXTON_ERR_CLUSTER_FRAME', async () => {
  const c = await AgentCluster.start(['node-1', 'node-2']);
  try {
    const hostile = c.net.add('mallory');
    const good = { name: 'x', id: 'i', module: 'a'.repeat(64), config: '{}', priority: 'normal', desiredState: 'running', restarts: 0, deployedAt: 1, updatedAt: 1, epoch: 0 };
    const bad: [string, unknown][] = [
      ['agents.replica.put', { row: { deployment: { ...good, name: '../etc' }, owner: 'mallory', replicas: [] } }],
      ['agents.replica.put', { row: { deployment: { ...good, epoch: -1 }, owner: 'mallory', replicas: [] } }],
      ['agents.replica.put', { row: { deployment: { ...good, module: 'zz' }, owner: 'mallory', replicas: [] } }],
      ['agents.replica.put', { nothing: true }],
      ['agents.replica.module', { not: 'bytes' }],
      ['agents.replica.drop', { name: 3 }],
      ['agents.module.get', { hash: '../../x' }],
      ['agents.move.commit', { row: { deployment: good, owner: 'mallory', replicas: [] }, snapshot: { kv: [[1, 2]], timers: [], lastTimerId: 0 } }],
      ['agents.move.prepare', { row: { deployment: good, owner: 'mallory', replicas: [] }, holdMs: -5 }],
      ['agents.move', { name: 'x' }],
      ['agents.isolate', { isolated: 'yes' }],
      ['agents.rebuild.peer', { hosted: 'all' }],
    ];
    for (const [method, body] of bad) await assert.rejects(hostile.call('node-1', method, body), { code: 'CAXTON_ERR_CLUSTER_FRAME' }, method);
    // Still serving.
    await c.deploy('node-1', 'after');
    assert.equal(await c.count('node-2', 'after'), 0);
  } finally {
    await c.close();
  }
});

test('cluster agents input - module bytes that do not hash to what was asked for are refused before they are kept', async () => {
  const c = await AgentCluster.start(['node-1']);
  try {
    const hostile = c.net.add('mallory');
    const wasm = agentWasm('counter');
    const claimed = sha256Hex(new Uint8Array([1, 2, 3]));
    hostile.onCall('agents.module.get', () => wasm);
    await assert.rejects(c.node('node-1').agents.replicator.fetchModule('mallory', claimed), { code: 'CAXTON_ERR_MODULE_HASH_MISMATCH' });
    assert.equal(c.node('node-1').deployments.store.module(claimed), undefined);
    assert.equal(c.node('node-1').deployments.store.module(sha256Hex(wasm)), undefined);
  } finally {
    await c.close();
  }
});
