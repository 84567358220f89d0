import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from '../../../../src/cluster/cluster.js';
import { clusterView } from '../../../../src/cluster/directory/index.js';
import { freePort } from '../serf/serf-harness.js';
import { until } from '../../../helpers/until.js';

async function node(name: string, tags: Record<string, string>): Promise<Cluster> {
  return Cluster.start({ name, bind: { host: '127.0.0.1', port: await freePort() }, profile: 'fast', tags });
}

test('directory view - a real cluster’s view holds the alive Caxton members, not other serf members, and tells every change', async () => {
  const a = await node('cx-a', { role: 'caxton' });
  const b = await node('cx-b', { role: 'caxton' });
  const other = await node('tool', { role: 'monitor' });
  const stopped: Cluster[] = [];
  try {
    const view = clusterView(a, (m) => m.name === 'cx-isolated');
    assert.deepEqual(view.alive(), ['cx-a']);
    let changes = 0;
    view.onChange(() => changes++);
    const addr = (c: Cluster) => c.membership.localMember();
    await b.join([{ host: '127.0.0.1', port: addr(a).port }]);
    await other.join([{ host: '127.0.0.1', port: addr(a).port }]);
    await until('cx-b in the view', () => view.alive().includes('cx-b'));
    await until('the monitor is a member', () => a.members().some((m) => m.name === 'tool' && m.status === 'alive'));
    assert.deepEqual(view.alive(), ['cx-a', 'cx-b'], 'the monitor is a member but hosts no agents');
    const seen = changes;
    assert.ok(seen >= 1);
    await b.leave(2000);
    await b.shutdown();
    stopped.push(b);
    await until('cx-b left the view', () => view.alive().length === 1);
    assert.deepEqual(view.alive(), ['cx-a']);
    assert.ok(changes > seen);
  } finally {
    for (const c of [a, b, other]) if (!stopped.includes(c)) await c.shutdown();
  }
});
