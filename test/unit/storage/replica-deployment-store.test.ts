import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AgentSnapshotStore, DeploymentStore, openDatabase, ReplicaDeploymentStore, SqliteAgentStateStore, SqliteAgentTimerStore, type Deployment } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';

const HASH = 'a'.repeat(64);

function dep(name: string, epoch: number, module = HASH): Deployment {
  return { name, id: `id-${name}`, module, config: '{}', priority: 'normal', desiredState: 'running', restarts: 1, deployedAt: 10, updatedAt: 20, epoch };
}

function withDb(fn: (db: ReturnType<typeof openDatabase>) => void): void {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'caxton.db'));
  try {
    fn(db);
  } finally {
    db.close();
    dir.cleanup();
  }
}

test('replica deployments - a push of a lower epoch than the row held is ignored, equal or higher replaces it', () => {
  withDb((db) => {
    new DeploymentStore(db).putModule(HASH, new Uint8Array([0, 97, 115, 109]));
    const s = new ReplicaDeploymentStore(db);
    assert.equal(s.put({ deployment: dep('x', 2), owner: 'n1', replicas: ['n2'] }), true);
    assert.equal(s.put({ deployment: dep('x', 1), owner: 'n3', replicas: ['n2'] }), false);
    assert.equal(s.get('x')?.owner, 'n1');
    assert.equal(s.put({ deployment: dep('x', 3), owner: 'n3', replicas: ['n2', 'n1'] }), true);
    assert.deepEqual(s.get('x')?.replicas, ['n2', 'n1']);
    assert.deepEqual(s.get('x')?.deployment, dep('x', 3));
    assert.equal(s.list().length, 1);
    assert.equal(s.clear(), 1);
  });
});

test('replica deployments - modules a replica keeps survive the start-time cleanup of unused modules', () => {
  withDb((db) => {
    const store = new DeploymentStore(db);
    store.putModule(HASH, new Uint8Array([1]));
    store.putModule('b'.repeat(64), new Uint8Array([2]));
    new ReplicaDeploymentStore(db).put({ deployment: dep('x', 0), owner: 'n1', replicas: ['n2'] });
    assert.equal(store.dropUnusedModules(), 1);
    assert.ok(store.module(HASH));
  });
});

test('deployments - adopt records another node\'s deployment as it was, at its epoch; setEpoch raises it', () => {
  withDb((db) => {
    const store = new DeploymentStore(db);
    store.putModule(HASH, new Uint8Array([1]));
    store.adopt(dep('x', 4));
    assert.deepEqual(new DeploymentStore(db).get('x'), dep('x', 4), 'as read back from the table');
    store.setEpoch('x', 5);
    assert.equal(new DeploymentStore(db).get('x')?.epoch, 5);
  });
});

test('agent snapshot - an agent\'s key-value pairs, timers and timer counter move whole and replace what was there', () => {
  withDb((db) => {
    const kv = new SqliteAgentStateStore(db);
    const timers = new SqliteAgentTimerStore(db);
    const snaps = new AgentSnapshotStore(db);
    kv.set('a', Buffer.from('count'), Buffer.from('41'));
    kv.set('a', new Uint8Array([0, 255]), new Uint8Array([1, 2, 3]));
    timers.add('a', 1234, '{"performative":"inform"}');
    timers.add('a', 5678, '{"performative":"request"}');
    const s = snaps.read('a');
    assert.equal(s.kv.length, 2);
    assert.equal(s.timers.length, 2);
    assert.equal(s.lastTimerId, 2);
    kv.set('b', Buffer.from('stale'), Buffer.from('x'));
    snaps.write('b', JSON.parse(JSON.stringify(s)));
    assert.deepEqual(Buffer.from(kv.get('b', Buffer.from('count')) as Uint8Array).toString(), '41');
    assert.deepEqual([...(kv.get('b', new Uint8Array([0, 255])) as Uint8Array)], [1, 2, 3]);
    assert.equal(kv.get('b', Buffer.from('stale')), undefined);
    assert.deepEqual(timers.list('b'), timers.list('a'));
    assert.equal(timers.add('b', 1, '{}'), 3, 'timer ids go on from the moved counter');
    snaps.drop('a');
    assert.equal(kv.keys('a').length, 0);
    assert.equal(timers.list('a').length, 0);
  });
});

test('deployments - a pin (target_node) is kept with the deployment and its replicas\' rows, as read back from the tables', () => {
  withDb((db) => {
    const store = new DeploymentStore(db);
    const added = store.add({ name: 'p', id: 'id-p', module: HASH, config: '{}', priority: 'normal', desiredState: 'running', pin: 'node-1' }, new Uint8Array([1]));
    assert.equal(added.pin, 'node-1');
    assert.equal(new DeploymentStore(db).get('p')?.pin, 'node-1');
    store.adopt({ ...dep('q', 3), pin: 'node-2' });
    assert.deepEqual(new DeploymentStore(db).get('q'), { ...dep('q', 3), pin: 'node-2' });
    new ReplicaDeploymentStore(db).put({ deployment: { ...dep('r', 1), pin: 'node-3' }, owner: 'node-2', replicas: ['node-1'] });
    assert.deepEqual(new ReplicaDeploymentStore(db).get('r')?.deployment, { ...dep('r', 1), pin: 'node-3' });
  });
});
