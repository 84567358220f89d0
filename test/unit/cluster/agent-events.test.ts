import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_EVENT_POST, AgentEventSharing } from '../../../src/cluster/agent-events.js';
import { MemoryNetwork } from '../../helpers/memory-peers.js';
import { until } from '../../helpers/until.js';

const members: { name: string; status: string; tags: Record<string, string> }[] = [
  { name: 'a', status: 'alive', tags: { role: 'caxton' } },
  { name: 'b', status: 'alive', tags: { role: 'caxton' } },
  { name: 'c', status: 'failed', tags: { role: 'caxton' } },
  { name: 'serf', status: 'alive', tags: {} },
];

test('agent events - a move on one node reaches the event stream of every other alive Caxton node, and only well-formed events are taken', async () => {
  const net = new MemoryNetwork();
  const got = new Map<string, Record<string, unknown>[]>();
  const warnings: string[] = [];
  const sharing = new Map<string, AgentEventSharing>();
  for (const n of ['a', 'b', 'c']) {
    got.set(n, []);
    sharing.set(n, new AgentEventSharing(net.add(n), () => members, (e) => got.get(n)!.push(e), (w) => warnings.push(w)));
  }
  const serf = net.add('serf');
  sharing.get('a')!.share({ type: 'cluster.agent_moved', time: 't', text: '[INFO] agent x moved a → b (failover, epoch 2)', agent: 'x', epoch: 2 });
  await until('b shows the move', () => got.get('b')!.length === 1);
  assert.deepEqual(got.get('b')![0], { type: 'cluster.agent_moved', time: 't', text: '[INFO] agent x moved a → b (failover, epoch 2)', agent: 'x', epoch: 2, reported_by: 'a' });
  assert.equal(got.get('a')!.length, 0, 'not echoed to itself');
  assert.equal(got.get('c')!.length, 0, 'a failed member is not told');

  for (const bad of [null, [1], { type: 'cluster.join', time: 't', text: 'x' }, { type: 'cluster.agent_moved', time: 't' }, { type: 'cluster.agent_moved', time: 't', text: 'x'.repeat(3000) }]) serf.post('b', AGENT_EVENT_POST, bad);
  serf.post('b', AGENT_EVENT_POST, { type: 'cluster.agent_moved', time: 't', text: 'ok', nested: { a: 1 }, reported_by: 'forged' });
  await until('the well-formed one arrives', () => got.get('b')!.length === 2);
  assert.deepEqual(got.get('b')![1], { type: 'cluster.agent_moved', time: 't', text: 'ok', reported_by: 'serf' });
  assert.equal(warnings.length, 5);
});
