/**
 * When a side may take other nodes' agents over (Partitions.takeoverAllowed): a quorum, no member
 * suspect, and either a view stable for takeoverStableMs or a quorum of members answering now (ping).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { KnownMembers } from '../../../../src/cluster/partition/known-members.js';
import { PartitionMonitor, type MonitoredMember } from '../../../../src/cluster/partition/monitor.js';
import { Partitions } from '../../../../src/cluster/partition/partitions.js';
import { PartitionQueue } from '../../../../src/messaging/partition-queue.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { OutboxStore, PartitionQueueStore, openDatabase } from '../../../../src/storage/index.js';
import { tempDir } from '../../../helpers/tmp.js';

const caxton = { role: 'caxton' };
const silent = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

/** n1 in a cluster of `names`, all alive; `ping` answers for the members it is given. */
function setUp(names: string[], opts: { stableMs: number; ping?: (node: string) => Promise<boolean> }) {
  const dir = tempDir();
  const db = openDatabase(join(dir.path, 'x.db'));
  let members: MonitoredMember[] = names.map((name) => ({ name, status: 'alive', tags: caxton }));
  const monitor = new PartitionMonitor({ self: 'n1', expect: names.length, known: new KnownMembers(db, 'n1'), members: () => members });
  const store = new PartitionQueueStore(db);
  const parts = new Partitions({
    monitor,
    queue: new PartitionQueue(store, new OutboxStore(db)),
    replay: () => 'sent',
    takeUnacked: () => [],
    pending: () => undefined,
    emit: () => {},
    logger: silent,
    queuedReceivers: () => store.receivers(),
    takeoverStableMs: opts.stableMs,
    ...(opts.ping === undefined ? {} : { ping: opts.ping }),
  });
  let ready = 0;
  parts.onTakeoverReady(() => ready++);
  return {
    parts,
    monitor,
    get ready() {
      return ready;
    },
    set(name: string, status: MonitoredMember['status']) {
      members = members.map((m) => (m.name === name ? { ...m, status } : m));
      monitor.update();
    },
    done() {
      parts.close();
      db.close();
      dir.cleanup();
    },
  };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('takeover - without ping, a majority waits until its view has been stable for takeoverStableMs', async () => {
  const t = setUp(['n1', 'n2', 'n3'], { stableMs: 300 });
  try {
    t.set('n3', 'failed');
    assert.equal(t.monitor.view.state, 'majority');
    assert.equal(t.parts.takeoverAllowed(), false, 'the view just changed');
    await tick(150);
    assert.equal(t.ready, 0);
    await tick(300);
    assert.equal(t.ready, 1, 'the listeners run once the wait is over');
    assert.equal(t.parts.takeoverAllowed(), true);
  } finally {
    t.done();
  }
});

test('takeover - a quorum of members answering confirms it at once, for that view only', async () => {
  const asked: string[] = [];
  const t = setUp(['n1', 'n2', 'n3'], { stableMs: 60_000, ping: async (n) => (asked.push(n), true) });
  try {
    t.set('n3', 'failed');
    assert.equal(t.parts.takeoverAllowed(), false, 'not before the answers');
    await tick();
    assert.deepEqual(asked, ['n2'], 'every other reachable member is asked, the failed one not');
    assert.equal(t.ready, 1, 'the listeners run when the quorum answered');
    assert.equal(t.parts.takeoverAllowed(), true);
    assert.equal(t.parts.takeoverAllowed(), true, 'asked once per view');
    assert.deepEqual(asked, ['n2']);
    // The next view change (n3 back) needs its own confirmation.
    t.set('n3', 'alive');
    t.set('n2', 'failed');
    assert.equal(t.parts.takeoverAllowed(), false);
    await tick();
    assert.deepEqual(asked, ['n2', 'n3']);
    assert.equal(t.parts.takeoverAllowed(), true);
  } finally {
    t.done();
  }
});

test('takeover - a cut-off side that looks like a majority gets too few answers and keeps waiting', async () => {
  // {n1, n2} | {n3, n4, n5}: n1 has declared n3 failed but has no verdict on n4 and n5 yet. Its
  // view says majority (4 of 5 reachable); only n2 answers.
  const t = setUp(['n1', 'n2', 'n3', 'n4', 'n5'], { stableMs: 60_000, ping: async (n) => n === 'n2' });
  try {
    t.set('n3', 'failed');
    assert.equal(t.monitor.view.state, 'majority');
    assert.equal(t.parts.takeoverAllowed(), false);
    await tick(10);
    assert.equal(t.ready, 0);
    assert.equal(t.parts.takeoverAllowed(), false, '2 answers of a quorum of 3: no takeover');
  } finally {
    t.done();
  }
});

test('takeover - no confirmation while a member is suspect, nor for a view that changed while asking', async () => {
  // n2's answer, held until the test lets it go.
  const n2: { answer?: () => void } = {};
  const t = setUp(['n1', 'n2', 'n3', 'n4', 'n5'], {
    stableMs: 60_000,
    ping: (n) => (n === 'n2' ? new Promise<boolean>((r) => (n2.answer = () => r(true))) : Promise.resolve(true)),
  });
  try {
    t.set('n5', 'failed');
    t.set('n4', 'suspect');
    assert.equal(t.parts.takeoverAllowed(), false);
    await tick(10);
    const asked = () => n2.answer !== undefined;
    assert.equal(asked(), false, 'nobody is asked while a member is suspect');
    t.set('n4', 'failed');
    assert.equal(t.parts.takeoverAllowed(), false);
    await tick();
    assert.equal(asked(), true, 'asked once no member is suspect');
    t.set('n3', 'failed'); // the view changes while n2's answer is on its way
    n2.answer?.();
    await tick(10);
    assert.equal(t.ready, 0);
    assert.equal(t.monitor.view.state, 'minority');
    assert.equal(t.parts.takeoverAllowed(), false);
  } finally {
    t.done();
  }
});

test('takeover - a ping that fails counts as no answer', async () => {
  const t = setUp(['n1', 'n2', 'n3'], { stableMs: 60_000, ping: () => Promise.reject(new Error('unreachable')) });
  try {
    t.set('n3', 'failed');
    assert.equal(t.parts.takeoverAllowed(), false);
    await tick(10);
    assert.equal(t.ready, 0);
    assert.equal(t.parts.takeoverAllowed(), false);
  } finally {
    t.done();
  }
});
