import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionView, quorumOf } from '../../../../src/cluster/partition/quorum.js';
import { KnownMembers } from '../../../../src/cluster/partition/known-members.js';
import { PartitionMonitor, type MonitoredMember } from '../../../../src/cluster/partition/monitor.js';
import { openDatabase } from '../../../../src/storage/index.js';
import { tempDir } from '../../../helpers/tmp.js';

const view = (o: { expect: number; known: string[]; reachable: string[]; formed?: boolean }) => partitionView({ self: 'n1', formed: true, ...o });

test('quorum - expected / 2 + 1, integer division', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumOf), [1, 2, 2, 3, 3, 4, 4]);
});

test('quorum - the sides of a 3-node cluster: all, 2 of 3, 1 of 3', () => {
  const known = ['n1', 'n2', 'n3'];
  assert.equal(view({ expect: 3, known, reachable: ['n2', 'n3'] }).state, 'healthy');
  const maj = view({ expect: 3, known, reachable: ['n2'] });
  assert.deepEqual([maj.state, maj.quorum, maj.reachable, maj.unreachable], ['majority', 2, ['n1', 'n2'], ['n3']]);
  assert.equal(view({ expect: 3, known, reachable: [] }).state, 'alone');
});

test('quorum - {3}/{2} of 5: majority and minority; an even split of 4 leaves both sides a minority', () => {
  const five = ['n1', 'n2', 'n3', 'n4', 'n5'];
  assert.equal(view({ expect: 3, known: five, reachable: ['n2', 'n3'] }).state, 'majority');
  assert.equal(view({ expect: 3, known: five, reachable: ['n2'] }).state, 'minority');
  const four = ['n1', 'n2', 'n3', 'n4'];
  const half = view({ expect: 3, known: four, reachable: ['n2'] });
  assert.deepEqual([half.state, half.quorum], ['minority', 3]);
});

test('quorum - a cluster grown past bootstrap_expect counts its agreed membership; before it formed, bootstrap_expect is the floor', () => {
  // Grown to 5 with bootstrap_expect 3: two of five is not a majority.
  assert.equal(view({ expect: 3, known: ['n1', 'n2', 'n3', 'n4', 'n5'], reachable: ['n2'] }).state, 'minority');
  const forming = partitionView({ self: 'n1', expect: 3, known: ['n1', 'n2'], reachable: ['n2'] });
  assert.deepEqual([forming.expected, forming.state, forming.forming], [3, 'majority', true]);
  // Formed, then a member left gracefully: it no longer counts (a cluster of 2, both reachable).
  assert.equal(view({ expect: 3, known: ['n1', 'n2'], reachable: ['n2'] }).state, 'healthy');
});

test('quorum monitor - failed members stay known (a partition hides them), left ones are forgotten; known members survive a restart', () => {
  const dir = tempDir();
  try {
    const path = `${dir.path}/db`;
    let db = openDatabase(path);
    const caxton = { role: 'caxton' };
    let members: MonitoredMember[] = [
      { name: 'n1', status: 'alive', tags: caxton },
      { name: 'n2', status: 'alive', tags: caxton },
      { name: 'n3', status: 'alive', tags: caxton },
      { name: 'serf', status: 'alive', tags: {} },
    ];
    let m = new PartitionMonitor({ self: 'n1', expect: 3, known: new KnownMembers(db, 'n1'), members: () => members });
    assert.deepEqual([m.view.state, m.view.expected], ['healthy', 3], 'a serf agent is no Caxton node: not counted');
    members = members.map((x) => (x.name === 'n3' ? { ...x, status: 'failed' } : x));
    const change = m.update();
    assert.deepEqual([change?.previous.state, change?.current.state, m.view.unreachable], ['healthy', 'majority', ['n3']]);
    db.close();
    // Restarted during the split, seeing only itself: it still knows the cluster has 3 nodes.
    db = openDatabase(path);
    members = [{ name: 'n1', status: 'alive', tags: caxton }];
    m = new PartitionMonitor({ self: 'n1', expect: 1, known: new KnownMembers(db, 'n1'), members: () => members });
    assert.deepEqual([m.view.state, m.view.expected, m.view.unreachable], ['alone', 3, ['n2', 'n3']]);
    // n2 and n3 come back, then n3 leaves gracefully: a cluster of 2.
    members = [{ name: 'n1', status: 'alive', tags: caxton }, { name: 'n2', status: 'alive', tags: caxton }, { name: 'n3', status: 'left', tags: caxton }];
    m.update();
    assert.deepEqual([m.view.state, m.view.expected], ['healthy', 2]);
    db.close();
  } finally {
    dir.cleanup();
  }
});
