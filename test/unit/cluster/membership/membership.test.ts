/**
 * Membership behaviour over the in-memory network, with short timings (helpers.ts fastConfig:
 * probe 100 ms / timeout 40 ms, gossip 20 ms, suspicion 300 ms..1.2 s, gossip-to-the-dead 1 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, encodeMessage, encodePacket } from '../../../../src/cluster/wire/index.js';
import { suspicionTimeout } from '../../../../src/cluster/membership/timing.js';
import { TestCluster, fastConfig, sleep, waitFor, type TestNode } from './helpers.js';

test('join - 5 nodes converge, each sees the others join, delegate state and broadcasts flow', async () => {
  const c = new TestCluster();
  try {
    const nodes: TestNode[] = [];
    for (let i = 1; i <= 5; i++) {
      const n = await c.start(`n${i}`);
      n.delegate.state = Uint8Array.of(0xaa, i);
      nodes.push(n);
    }
    const [n1, n2, n3, n4, n5] = nodes;
    assert.ok(n1 && n2 && n3 && n4 && n5);
    // Join through two seeds, one of them unreachable.
    assert.equal(await n2.m.join([n1.transport.local, { host: '10.9.9.9', port: 7946 }]), 1);
    assert.equal(await n3.m.join([n2.transport.local]), 1);
    assert.equal(await n4.m.join([n1.transport.local]), 1);
    assert.equal(await n5.m.join([n3.transport.local, n4.transport.local]), 2);
    const ms = await waitFor(() => c.converged(), 3_000, () => c.view());
    assert.ok(ms < 3_000);
    for (const n of nodes) {
      assert.equal(n.m.numMembers(), 5);
      const joined = n.events.filter((e) => e.type === 'join').map((e) => ('member' in e ? e.member.name : ''));
      assert.deepEqual(joined.sort(), ['n1', 'n2', 'n3', 'n4', 'n5'], `${n.name} join events (own included)`);
      assert.ok(!n.events.some((e) => e.type === 'failed' || e.type === 'suspect'), `${n.name}: no failures`);
    }
    // The joiner got the seed's delegate state, marked as a join (and n3's, when n3 joined through it).
    assert.deepEqual(
      n2.delegate.remoteStates.filter((s) => s.join).map((s) => Array.from(s.bytes)),
      [
        [0xaa, 1],
        [0xaa, 3],
      ],
    );
    // A user broadcast from the delegate reaches everyone by gossip.
    n3.delegate.broadcast(Uint8Array.from(Buffer.from('hello cluster')));
    await waitFor(
      () => nodes.filter((n) => n !== n3).every((n) => n.delegate.messages.some((m) => Buffer.from(m).toString() === 'hello cluster')),
      2_000,
      () => 'user broadcast everywhere',
    );
    // Probes ran and measured RTTs; the delegate heard about completed pings.
    await waitFor(() => n1.m.stats().rttMs.samples > 0 && n1.delegate.pings.length > 0, 2_000, () => 'probe RTTs');
    const st = n1.m.stats();
    assert.deepEqual(st.members, { total: 5, alive: 5, suspect: 0, failed: 0, left: 0 });
    assert.equal(st.healthScore, 0);
    assert.deepEqual(st.packets.dropped, {});
  } finally {
    await c.shutdownAll();
  }
});

test('failure detection - a stopped node is failed everywhere within the computed bound', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(5);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    const cfg = fastConfig('x');
    // Probed within (N−1) rounds, the probe itself, then at most the max suspicion timeout, plus gossip slack.
    const min = suspicionTimeout(cfg.suspicionMult, 5, cfg.probeIntervalMs);
    const bound = 4 * cfg.probeIntervalMs + cfg.probeIntervalMs + cfg.suspicionMaxTimeoutMult * min + 300;
    const stoppedAt = Date.now();
    await c.node('n5').m.shutdown();
    const took = await waitFor(() => c.allSee('n5', 'failed'), bound + 2_000, () => `${c.view()}\nbound ${bound} ms`);
    assert.ok(took <= bound, `failed after ${took} ms, bound ${bound} ms`);
    assert.ok(Date.now() - stoppedAt >= cfg.probeTimeoutMs + min, 'not before probe timeout + min suspicion');
    for (const n of c.running()) {
      const kinds = n.events.filter((e) => 'member' in e && e.member.name === 'n5').map((e) => e.type);
      assert.ok(kinds.includes('failed'), `${n.name} saw n5 fail: ${kinds.join(',')}`);
      assert.equal(n.m.numMembers(), 4);
    }
    // Lifeguard: at least one survivor counted another's suspicion as a confirmation, or declared it itself.
    const timeouts = c.running().reduce((s, n) => s + n.m.stats().transitions.suspicionTimeouts, 0);
    assert.ok(timeouts >= 1);
  } finally {
    await c.shutdownAll();
  }
});

test('refutation - a false suspicion is refuted by the accused with a higher incarnation', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(4, { suspicionMult: 6 });
    await waitFor(() => c.converged(), 3_000, () => c.view());
    const n2 = c.node('n2');
    const before = n2.m.localMember().incarnation;
    // Someone (not a member) tells n3 that n2 is suspect at n2's current incarnation.
    const lie = encodeMessage(MessageType.Suspect, { Incarnation: before, Node: 'n2', From: 'liar' });
    c.network.inject(c.node('n3').transport.local, { host: '10.0.0.99', port: 7946 }, encodePacket(lie));
    await waitFor(() => c.node('n3').events.some((e) => e.type === 'suspect' && e.member.name === 'n2'), 2_000, () => 'n3 suspects n2');
    // n2 hears it (gossip, or the suspect piggybacked on n3's probes) and refutes.
    await waitFor(() => c.allSee('n2', 'alive') && c.running().every((n) => (n.m.member('n2')?.incarnation ?? 0) > before), 3_000, () => c.view());
    assert.ok(n2.m.stats().transitions.refutations >= 1);
    assert.ok(c.node('n3').events.some((e) => e.type === 'alive' && e.member.name === 'n2'), 'suspect → alive seen');
    assert.ok(!c.running().some((n) => n.events.some((e) => e.type === 'failed')), 'nobody failed');

    // Told directly that it is dead, a node refutes too.
    const dead = encodeMessage(MessageType.Dead, { Incarnation: n2.m.localMember().incarnation, Node: 'n2', From: 'liar' });
    const inc = n2.m.localMember().incarnation;
    c.network.inject(n2.transport.local, { host: '10.0.0.99', port: 7946 }, encodePacket(dead));
    await waitFor(() => n2.m.localMember().incarnation > inc, 1_000, () => 'n2 refuted dead');
    assert.equal(n2.m.localMember().status, 'alive');
  } finally {
    await c.shutdownAll();
  }
});

test('leave - a graceful leave is seen as left, never failed, and is reaped later', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(5);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    const n5 = c.node('n5');
    await n5.m.leave(2_000);
    assert.equal(n5.m.localMember().status, 'left');
    await waitFor(() => c.allSee('n5', 'left', ['n5']), 2_000, () => c.view());
    await n5.m.shutdown();
    // Left nodes are not probed, so nobody declares them failed; after gossipToTheDead they are reaped.
    await waitFor(() => c.allSee('n5', undefined), 4_000, () => c.view());
    for (const n of c.running()) {
      const kinds = n.events.filter((e) => 'member' in e && e.member.name === 'n5').map((e) => e.type);
      assert.deepEqual(kinds.filter((k) => k !== 'join'), ['left', 'reaped'], `${n.name}: ${kinds.join(',')}`);
      assert.equal(n.m.stats().reconnect.pending, 0, 'left members are not reconnected');
    }
  } finally {
    await c.shutdownAll();
  }
});

test('reaping - a failed node is reaped after gossipToTheDead and still retried by reconnect', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(3);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    await c.node('n3').m.shutdown();
    await waitFor(() => c.allSee('n3', 'failed'), 4_000, () => c.view());
    const failedAt = Date.now();
    await waitFor(() => c.allSee('n3', undefined), 4_000, () => c.view());
    assert.ok(Date.now() - failedAt >= 900, 'kept for gossipToTheDead (1 s)');
    for (const n of c.running()) {
      assert.ok(n.events.some((e) => e.type === 'reaped' && e.member.name === 'n3'));
      assert.equal(n.m.stats().reconnect.pending, 1);
      assert.equal(n.m.stats().members.total, 2);
    }
    await waitFor(() => c.running().some((n) => n.m.stats().reconnect.attempts > 0), 2_000, () => 'reconnect attempts');
  } finally {
    await c.shutdownAll();
  }
});

test('restart - a node restarted at a lower incarnation comes back alive by refuting with a higher one', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(4);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    const old = c.node('n4');
    // Make its incarnation non-trivial, then kill it.
    old.delegate.meta = Uint8Array.of(1);
    await old.m.updateMeta(1_000);
    await old.m.updateMeta(1_000);
    const oldInc = old.m.localMember().incarnation;
    assert.equal(oldInc, 3);
    await waitFor(() => c.allSee('n4', 'alive') && c.running().every((n) => n.m.member('n4')?.incarnation === 3), 2_000, () => c.view());
    await old.m.shutdown();
    await waitFor(() => c.allSee('n4', 'failed'), 4_000, () => c.view());

    // Same name, same address, fresh process: incarnation 1.
    const fresh = await c.start('n4', {}, old.host);
    assert.equal(fresh.m.localMember().incarnation, 1);
    assert.equal(await fresh.m.join([c.node('n1').transport.local]), 1);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    const inc = fresh.m.localMember().incarnation;
    assert.ok(inc > oldInc, `took incarnation ${inc} > ${oldInc}`);
    for (const n of c.running()) assert.equal(n.m.member('n4')?.incarnation, inc, n.name);
    assert.ok(c.node('n1').events.some((e) => e.type === 'join' && e.member.name === 'n4' && e.member.incarnation === inc));
    assert.equal(c.node('n1').m.stats().reconnect.pending, 0, 'no longer retried');
  } finally {
    await c.shutdownAll();
  }
});

test('conflict - another address claiming a live name is reported and not accepted', async () => {
  const c = new TestCluster();
  try {
    await c.startJoined(3);
    await waitFor(() => c.converged(), 3_000, () => c.view());
    const impostor = await c.start('n2', {}, '10.0.0.66');
    assert.equal(await impostor.m.join([c.node('n1').transport.local]), 1);
    await waitFor(() => c.node('n1').events.some((e) => e.type === 'conflict'), 2_000, () => 'conflict at n1');
    const ev = c.node('n1').events.find((e) => e.type === 'conflict');
    assert.ok(ev?.type === 'conflict');
    assert.equal(ev.existing.name, 'n2');
    assert.equal(ev.existing.host, '10.0.0.2');
    assert.equal(ev.other.host, '10.0.0.66');
    // The impostor learns of the real n2 and reports the conflict too.
    assert.ok(impostor.events.some((e) => e.type === 'conflict' && e.other.host === '10.0.0.2'));
    await sleep(300);
    for (const name of ['n1', 'n3']) assert.equal(c.node(name).m.member('n2')?.host, '10.0.0.2', name);
    assert.ok(c.node('n1').m.stats().transitions.conflicts >= 1);
  } finally {
    await c.shutdownAll();
  }
});
