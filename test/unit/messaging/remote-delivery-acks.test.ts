import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase, OutboxStore } from '../../../src/storage/index.js';
import { RemoteDelivery } from '../../../src/messaging/remote-delivery.js';
import { MemoryNetwork } from '../../helpers/memory-peers.js';
import { tempDir } from '../../helpers/tmp.js';
import { until } from '../../helpers/until.js';

const msg = (id: string) => JSON.stringify({ performative: 'inform', sender: 'x', receiver: 'slow', message_id: id, delivery: 'at-least-once', content: 1 });

test('remote delivery - messages a receiver cannot handle for a while never keep the others from being acknowledged', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const net = new MemoryNetwork();
  const outA = new OutboxStore(openDatabase(join(dir.path, 'a.db')));
  const outB = new OutboxStore(openDatabase(join(dir.path, 'b.db')));
  // Two rows per scan: the two oldest stay unhandled on b (a suspended agent, say).
  const a = new RemoteDelivery(net.add('a'), outA, { ackScan: 2, ackIntervalMs: 5 });
  const b = new RemoteDelivery(net.add('b'), outB, { ackScan: 2, ackIntervalMs: 5 });
  t.after(() => {
    a.close();
    b.close();
  });
  a.attach({ fromNode() {} });
  b.attach({ fromNode() {} });
  for (const id of ['m1', 'm2', 'm3']) {
    outA.add(id, 'slow', msg(id), Date.now() + 60_000);
    assert.ok(a.deliver('b', 'slow', msg(id), 1, 1));
  }
  await until('b holds the three', () => b.held === 3);
  outB.ack('m3'); // handled on b
  await until('m3 is acknowledged to a', () => !outA.has('m3'), 5_000);
  assert.ok(outA.has('m1') && outA.has('m2'), 'the unhandled ones stay in the sender’s outbox');
});
