/**
 * Membership under network faults, over the in-memory network with short timings (helpers.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, sleep, waitFor } from './helpers.js';

test('partition - a {3}/{2} split is detected on both sides and heals on its own', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(5);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    const a = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
    const b = ['10.0.0.4', '10.0.0.5'];
    c.network.partition(a, b);
    const sideA = ['n1', 'n2', 'n3'];
    const sideB = ['n4', 'n5'];
    const split = (): boolean =>
      sideA.every((o) => sideB.every((t) => c.status(o, t) !== 'alive' && c.status(o, t) !== 'suspect')) &&
      sideB.every((o) => sideA.every((t) => c.status(o, t) !== 'alive' && c.status(o, t) !== 'suspect'));
    await waitFor(split, 5_000, () => c.view());
    // Each side still sees itself whole.
    for (const o of sideA) for (const t of sideA) assert.equal(c.status(o, t), 'alive', `${o} sees ${t}`);
    for (const o of sideB) for (const t of sideB) assert.equal(c.status(o, t), 'alive', `${o} sees ${t}`);

    c.network.heal();
    const healed = await waitFor(() => c.converged(), 8_000, () => c.view());
    const attempts = c.running().reduce((s, n) => s + n.m.stats().reconnect.attempts, 0);
    assert.ok(attempts > 0, 'merged back through reconnect');
    // Stays merged.
    await sleep(500);
    assert.ok(c.converged(), c.view());
    assert.ok(healed < 8_000);
    for (const n of c.running()) assert.equal(n.m.stats().reconnect.pending, 0, `${n.name} still retrying`);
  } finally {
    await c.shutdownAll();
  }
});

test('packet loss - 10% loss on every link declares no live node failed', async () => {
  const c = new TestCluster({ seed: 42 });
  try {
    await c.startJoined(5);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    c.network.setLoss(0.1);
    await sleep(3_000);
    c.network.setLoss(0);
    for (const n of c.running()) {
      const failed = n.events.filter((e) => e.type === 'failed');
      assert.deepEqual(failed, [], `${n.name} failed someone`);
    }
    await waitFor(() => c.converged(), 2_000, () => c.view());
    const dropped = c.network.stats.packetsDropped;
    assert.ok(dropped > 50, `the network dropped packets (${dropped})`);
  } finally {
    await c.shutdownAll();
  }
});

test('indirect probe - a node whose direct link is cut is kept alive through peers', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(5);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    // No packets and no streams between n1 and n2: only the indirect path through n3..n5 works.
    c.network.cut('10.0.0.1', '10.0.0.2');
    await waitFor(
      () => c.node('n1').m.stats().probes.indirectAcked > 0 && c.node('n2').m.stats().probes.indirectAcked > 0,
      4_000,
      () => 'indirect acks on both sides',
    );
    await sleep(1_500);
    for (const [o, t] of [
      ['n1', 'n2'],
      ['n2', 'n1'],
    ] as const) {
      assert.equal(c.status(o, t), 'alive', `${o} sees ${t}`);
      const bad = c.node(o).events.filter((e) => (e.type === 'suspect' || e.type === 'failed') && e.member.name === t);
      assert.deepEqual(bad, [], `${o} never suspected ${t}`);
    }
    assert.ok(c.converged(), c.view());
    assert.equal(c.node('n1').m.stats().probes.tcpAcked, 0, 'TCP was cut too');
  } finally {
    await c.shutdownAll();
  }
});

test('TCP fallback - a node that only reaches us over TCP is not suspected', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(3, { indirectChecks: 0 });
    await waitFor(() => c.converged(), 3_000, () => c.view());
    // n1 <-> n3: packets lost, streams fine.
    c.network.cut('10.0.0.1', '10.0.0.3', { packets: true, streams: false });
    await waitFor(() => c.node('n1').m.stats().probes.tcpAcked > 0, 3_000, () => 'a TCP-saved probe');
    assert.equal(c.status('n1', 'n3'), 'alive');
    assert.ok(!c.node('n1').events.some((e) => e.type === 'suspect' && e.member.name === 'n3'));
  } finally {
    await c.shutdownAll();
  }
});
