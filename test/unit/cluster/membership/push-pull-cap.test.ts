/**
 * The cap on concurrent inbound push/pulls (hashicorp/memberlist#158): a flood of joins or
 * anti-entropy exchanges is refused as soon as each stream's type byte is read, before the remote
 * state is buffered or decoded, and the slots come back when the exchanges end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PUSH_PULL_REQUESTS, NodeState, encodePushPullStream } from '../../../../src/cluster/wire/index.js';
import type { Stream } from '../../../../src/cluster/transport/transport.js';
import { buildVsn } from '../../../../src/cluster/membership/config.js';
import { Membership } from '../../../../src/cluster/membership/membership.js';
import { MemoryNetwork } from './memory-transport.js';
import { RecordingDelegate, fastConfig, waitFor } from './helpers.js';

test('push/pull cap - excess inbound push/pulls are closed before their state is read, counted, and slots return', async () => {
  const net = new MemoryNetwork();
  const quiet = { probeIntervalMs: 0, gossipIntervalMs: 0, pushPullIntervalMs: 0, reconnectIntervalMs: 0, tcpTimeoutMs: 10_000 };
  const config = fastConfig('n1', quiet);
  const t1 = net.transport('10.0.0.1');
  const m = await Membership.create(config, t1, new RecordingDelegate());
  const n2 = await Membership.create(fastConfig('n2', quiet), net.transport('10.0.0.2'), new RecordingDelegate());
  const streams: { stream: Stream; ended: boolean }[] = [];
  try {
    // A real push/pull carrying 200 nodes, of which each flooder sends only the first half: a peer
    // that is slow to send its state (or a 10k-node state still in flight).
    const nodes = Array.from({ length: 200 }, (_, i) => ({
      Name: `x${i}`,
      Addr: Uint8Array.of(10, 1, i >> 8, i & 255),
      Port: 7946,
      Meta: new Uint8Array(0),
      Incarnation: 1,
      State: NodeState.Alive,
      Vsn: buildVsn(config),
    }));
    const bytes = encodePushPullStream({ Join: true, Nodes: nodes, UserState: null }, { compress: false });
    const half = bytes.subarray(0, bytes.length >> 1);
    const flood = MAX_PUSH_PULL_REQUESTS + 22;
    for (let i = 0; i < flood; i++) {
      const stream = await net.rawDial({ host: `10.2.${i >> 8}.${i & 255}`, port: 7946 }, t1.local);
      const entry = { stream, ended: false };
      stream.onData(() => undefined);
      stream.onEnd(() => {
        entry.ended = true;
      });
      await stream.write(half);
      streams.push(entry);
    }
    // Go's bound: the 128th concurrent exchange is the first refused, so 127 are served at once.
    const admitted = MAX_PUSH_PULL_REQUESTS - 1;
    await waitFor(() => m.stats().pushPull.rejected === flood - admitted, 2_000, () => JSON.stringify(m.stats().pushPull));
    await waitFor(() => streams.filter((s) => s.ended).length === flood - admitted, 2_000, () => `${streams.filter((s) => s.ended).length} closed`);
    assert.ok(streams.slice(0, admitted).every((s) => !s.ended), 'the first ones hold their slots, still reading');
    assert.equal(m.members().length, 1, 'no state from the flood was merged');

    // A real join is refused while the slots are taken...
    assert.equal(await n2.join([t1.local]), 0);
    assert.equal(m.stats().pushPull.rejected, flood - admitted + 1);

    // ...and served once the stalled exchanges end (their peers hang up mid-state).
    for (const s of streams) s.stream.close();
    await waitFor(() => m.stats().packets.dropped['stream-incomplete'] === admitted, 2_000, () => JSON.stringify(m.stats().packets.dropped));
    assert.equal(await n2.join([t1.local]), 1);
    assert.equal(m.member('n2')?.status, 'alive');
  } finally {
    for (const s of streams) s.stream.close();
    await n2.shutdown();
    await m.shutdown();
  }
});
