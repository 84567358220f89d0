/**
 * A false suspicion must end with every node that holds it hearing the refutation before its
 * suspicion timer fires, whatever gossip happens to pick (issue 10).
 *
 * The refutation (the accused's alive at a higher incarnation) is sent retransmit_mult ×
 * ceil(log10(N + 1)) times by each node that learns it, and piggybacking spends that budget on
 * whoever a ping or ack goes to, often a node that already knows. In a 5-node process cluster the
 * copies of a refutation went to the 3 nodes that had it already and never to s0, which held the
 * accusation, heard no copy, was not due to probe the accused (Lifeguard's buddy system) before its
 * timer ran out, and declared a live node failed. The test below builds that sequence on purpose:
 * the network drops every copy of the refutation gossip would carry to one node, and that node's
 * pings to the accused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, decodePacket, encodeMessage, encodePacket, makeCompoundMessage, type PacketMessage } from '../../../../src/cluster/wire/index.js';
import { suspicionTimeout } from '../../../../src/cluster/membership/timing.js';
import { TestCluster, fastConfig, sleep, waitFor } from './helpers.js';

function messagesIn(bytes: Uint8Array): PacketMessage[] {
  try {
    return decodePacket(bytes).messages;
  } catch {
    return [];
  }
}

/** Messages back into one packet (a compound when more than one). */
function repack(msgs: readonly PacketMessage[]): Uint8Array {
  // encodeMessage is typed per message type; each decoded message carries the body of its own type.
  const encode = encodeMessage as (type: number, body: unknown) => Uint8Array;
  const parts = msgs.map((m) => encode(m.type, m.body));
  return encodePacket(parts.length === 1 ? (parts[0] as Uint8Array) : makeCompoundMessage(parts));
}

test('refutation - a node that heard the accusation but no gossiped copy of the refutation is told by the accused, and fails nobody', async () => {
  const c = new TestCluster();
  try {
    // Push/pull off: the periodic full-state exchange repairs a missed message eventually, but on
    // its own schedule (15 s in the local profile), not before a suspicion timer. The join's own
    // push/pull gets 2 s rather than the helpers' 300 ms, which a loaded machine can exceed.
    const noPushPull = { pushPullIntervalMs: 0, tcpTimeoutMs: 2_000 };
    const y = await c.start('y', noPushPull); // an accuser
    // The accused gossips its refutation only piggybacked on its pings and acks, so no periodic
    // gossip round of its own can happen to pick z.
    const x = await c.start('x', { ...noPushPull, gossipNodes: 0 });
    const z = await c.start('z', noPushPull); // holds the accusation, misses the refutation's gossip
    const w = await c.start('w', noPushPull); // another accuser
    for (const n of [x, z, w]) assert.equal(await n.m.join([y.transport.local]), 1);
    await waitFor(() => c.converged(), 3_000, () => c.view());

    const inc0 = x.m.localMember().incarnation;
    let copiesStripped = 0;
    let accusationsStripped = 0;
    // Every copy of the refutation that gossip or piggybacking would bring to z is lost, and so is
    // the accusation z's pings to x carry (Lifeguard's buddy system: z's probe of x comes too late,
    // z probes its 3 peers in turn and its timer runs out first). The pings and acks themselves go
    // through, so nobody's probes fail. A packet from x holding nothing but x's alive arrives.
    c.network.shape = (from, to, bytes) => {
      const msgs = messagesIn(bytes);
      const isRefutation = (m: PacketMessage): boolean => m.type === MessageType.Alive && m.body.Node === 'x' && m.body.Incarnation > inc0;
      const straightFromX = from.host === x.host && msgs.length === 1;
      const buddyProbe = from.host === z.host && to.host === x.host && msgs.some((m) => m.type === MessageType.Ping);
      const keep = msgs.filter((m) => {
        if (to.host === z.host && isRefutation(m) && !straightFromX) {
          copiesStripped += 1;
          return false;
        }
        if (buddyProbe && m.type === MessageType.Suspect && m.body.Node === 'x') {
          accusationsStripped += 1;
          return false;
        }
        return true;
      });
      if (keep.length === msgs.length) return bytes;
      return keep.length === 0 ? undefined : repack(keep);
    };

    // Two accusers' suspicions (as when two probes of a paused node fail) reach z, w, y and x, as
    // gossip would bring them. With two accusers z's timer is at its minimum (one confirmation, k = 1).
    const since = Date.now();
    for (const accuser of [y, w]) {
      const suspect = encodePacket(encodeMessage(MessageType.Suspect, { Incarnation: inc0, Node: 'x', From: accuser.name }));
      for (const to of [z, w, y, x]) c.network.inject(to.transport.local, accuser.transport.local, suspect);
    }
    await waitFor(() => z.events.some((e) => e.type === 'suspect' && e.member.name === 'x'), 2_000, () => 'z suspects x');

    // x refutes, and the accusers have the refutation.
    await waitFor(
      () => [y, w].every((n) => n.m.member('x')?.status === 'alive' && (n.m.member('x')?.incarnation ?? 0) > inc0),
      2_000,
      () => `y and w see x alive above ${inc0}\n${c.view()}`,
    );
    assert.ok(x.m.stats().transitions.refutations >= 1, 'x refuted');

    // Past z's longest suspicion timeout: nobody may have declared x failed.
    const cfg = fastConfig('z');
    const max = cfg.suspicionMaxTimeoutMult * suspicionTimeout(cfg.suspicionMult, 4, cfg.probeIntervalMs);
    await sleep(Math.max(0, max + 300 - (Date.now() - since)));
    const failures = c.running().flatMap((n) => n.events.filter((e) => e.type === 'failed').map((e) => `${n.name} saw ${'member' in e ? e.member.name : '?'} fail`));
    const zSaw = z.events.map((e) => ('member' in e ? `${e.type} ${e.member.name}/${e.member.incarnation}` : e.type)).join(', ');
    assert.deepEqual(
      failures,
      [],
      `z saw: ${zSaw}; lost on the way: ${copiesStripped} copies of the refutation to z, ${accusationsStripped} accusations in z's pings to x\n${c.view()}`,
    );
    assert.equal(z.m.member('x')?.status, 'alive', c.view());
    assert.ok((z.m.member('x')?.incarnation ?? 0) > inc0, 'z holds the refutation');
  } finally {
    await c.shutdownAll();
  }
});
