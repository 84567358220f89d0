/**
 * Queries this node starts (serf Query, handleQueryResponse) and force-leave, on delegates wired to
 * each other without a network: what is gossiped, who answers, and which answers count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryFlag, SerfDelegate, SerfMessageType, decodeSerfMessage, encodeSerfMessage, type SerfQuery } from '../../../../src/cluster/serf/index.js';
import { KeyManager, decodeGossipKey, keyResponseProblem } from '../../../../src/cluster/serf/key-manager.js';
import { Keyring } from '../../../../src/cluster/wire/index.js';
import type { Member } from '../../../../src/cluster/membership/delegate.js';
import type { Address } from '../../../../src/cluster/transport/transport.js';

const USER_MSG_OVERHEAD = 1;

/** Delegates that deliver `sendTo` to one another by port: 127.0.0.1:<index+1>. */
function mesh(names: string[], keyrings?: Keyring[]): SerfDelegate[] {
  const byPort = new Map<number, SerfDelegate>();
  const ds = names.map((nodeName, i) => {
    const d = new SerfDelegate({
      nodeName,
      tags: { role: i === 0 ? 'origin' : 'worker' },
      ...(keyrings?.[i] === undefined ? {} : { keyring: keyrings[i] }),
      sendTo: (to: Address, msg: Uint8Array) => byPort.get(to.port)?.notifyMessage(msg),
      localAddress: () => ({ host: '127.0.0.1', port: i + 1 }),
      numNodes: () => names.length,
      gossipIntervalMs: 10,
    });
    byPort.set(i + 1, d);
    return d;
  });
  for (const d of ds) for (const [i, n] of names.entries()) d.memberEvent({ type: 'join', member: memberOf(n, i + 1) });
  return ds;
}

function memberOf(name: string, port: number): Member {
  return { name, host: '127.0.0.1', port, meta: new Uint8Array(0), incarnation: 1, status: 'alive', since: 0, vsn: [1, 5, 2, 2, 5, 4] };
}

/** Gossips whatever `from` has queued to every other delegate (one round). */
function gossip(from: SerfDelegate, to: SerfDelegate[]): number {
  const msgs = from.getBroadcasts(USER_MSG_OVERHEAD, 1400);
  for (const m of msgs) for (const d of to) if (d !== from) d.notifyMessage(m);
  return msgs.length;
}

test('query: answered locally and by every member it reaches; acks and responses once per node', async () => {
  const [a, b, c] = mesh(['a', 'b', 'c']) as [SerfDelegate, SerfDelegate, SerfDelegate];
  for (const d of [a, b, c]) d.onQuery((q: SerfQuery) => q.respond(new TextEncoder().encode(`${d.nodeName}:${new TextDecoder().decode(q.payload)}`)));
  const before = a.queryClock.time();
  const q = a.query('echo', new TextEncoder().encode('hi'), { requestAck: true, timeoutMs: 1000 });
  assert.equal(q.ltime, before);
  assert.ok(a.queryClock.time() > before, 'the query moved the clock: the next one gets another time');
  assert.equal(q.responseCount, 1, 'the origin answers itself');
  assert.equal(gossip(a, [b, c]), 1);
  // Re-gossiped by b: c has seen it already, nothing is answered twice.
  gossip(b, [a, c]);
  q.close();
  const out = await q.done;
  assert.deepEqual(out.acks.slice().sort(), ['a', 'b', 'c']);
  assert.deepEqual(out.responses.map((r) => `${r.from}=${new TextDecoder().decode(r.payload)}`).sort(), ['a=a:hi', 'b=b:hi', 'c=c:hi']);
});

test('query: node and tag filters select who answers', async () => {
  const [a, b, c] = mesh(['a', 'b', 'c']) as [SerfDelegate, SerfDelegate, SerfDelegate];
  for (const d of [a, b, c]) d.onQuery((q) => q.respond(new Uint8Array([1])));
  const byNode = a.query('x', new Uint8Array(0), { filterNodes: ['c'], timeoutMs: 1000 });
  gossip(a, [b, c]);
  byNode.close();
  assert.deepEqual((await byNode.done).responses.map((r) => r.from), ['c']);
  const byTag = a.query('y', new Uint8Array(0), { filterTags: { role: '^work' }, timeoutMs: 1000 });
  gossip(a, [b, c]);
  byTag.close();
  assert.deepEqual((await byTag.done).responses.map((r) => r.from).sort(), ['b', 'c']);
});

test('query: answers for another query id, unknown times, or after close are ignored', async () => {
  const [a] = mesh(['a', 'b']) as [SerfDelegate, SerfDelegate];
  const q = a.query('nobody-answers', new Uint8Array(0), { timeoutMs: 1000 });
  const reply = (id: number, from: string, ltime = q.ltime): Uint8Array => encodeSerfMessage(SerfMessageType.QueryResponse, { LTime: ltime, ID: id, From: from, Flags: 0, Payload: Uint8Array.of(7) });
  a.notifyMessage(reply(q.id + 1, 'b'));
  a.notifyMessage(reply(q.id, 'b', q.ltime + 100));
  assert.equal(q.responseCount, 0);
  a.notifyMessage(reply(q.id, 'b'));
  a.notifyMessage(reply(q.id, 'b'));
  assert.equal(q.responseCount, 1, 'one answer per node');
  q.close();
  a.notifyMessage(reply(q.id, 'c'));
  assert.equal((await q.done).responses.length, 1);
  // An ack that was not asked for does not count.
  a.notifyMessage(encodeSerfMessage(SerfMessageType.QueryResponse, { LTime: q.ltime, ID: q.id, From: 'd', Flags: QueryFlag.Ack, Payload: null }));
  assert.deepEqual((await q.done).acks, []);
});

test('query: closes by itself at its timeout; the default timeout scales with the cluster', async () => {
  const [a] = mesh(['a', 'b', 'c']) as [SerfDelegate, SerfDelegate, SerfDelegate];
  // gossip 10 ms × 16 × ceil(log10(3 + 1)) = 160 ms
  assert.equal(a.defaultQueryTimeoutMs(), 160);
  const t0 = Date.now();
  const q = a.query('slow', new Uint8Array(0));
  await q.done;
  const took = Date.now() - t0;
  assert.ok(took >= 150 && took < 2000, `closed after ${took} ms`);
  assert.ok(q.closed);
});

test('query: refused when too large, with a bad relay factor, or without a local address', () => {
  const [a] = mesh(['a']) as [SerfDelegate];
  assert.throws(() => a.query('big', new Uint8Array(2000)), /query exceeds limit of 1024 bytes/);
  assert.throws(() => a.query('r', new Uint8Array(0), { relayFactor: 6 }), /relayFactor must be an integer from 0 to 5/);
  const lone = new SerfDelegate({ nodeName: 'lone' });
  assert.throws(() => lone.query('x', new Uint8Array(0)), /localAddress/);
});

test('query: with a relay factor, answers also come back through another member', async () => {
  const sent: { to: number; type: number | undefined }[] = [];
  const names = ['a', 'b', 'c', 'd'];
  const byPort = new Map<number, SerfDelegate>();
  const ds = names.map((nodeName, i) => {
    const d = new SerfDelegate({
      nodeName,
      sendTo: (to, msg) => {
        sent.push({ to: to.port, type: msg[0] });
        byPort.get(to.port)?.notifyMessage(msg);
      },
      localAddress: () => ({ host: '127.0.0.1', port: i + 1 }),
    });
    byPort.set(i + 1, d);
    return d;
  });
  for (const d of ds) for (const [i, n] of names.entries()) d.memberEvent({ type: 'join', member: memberOf(n, i + 1) });
  const [a, ...others] = ds as [SerfDelegate, ...SerfDelegate[]];
  for (const d of others) d.onQuery((q) => q.respond(Uint8Array.of(1)));
  const q = a.query('relayed', new Uint8Array(0), { relayFactor: 1, timeoutMs: 1000 });
  gossip(a, others);
  q.close();
  assert.equal((await q.done).responses.length, 3, 'each answer counted once although it arrived twice');
  assert.equal(sent.filter((s) => s.type === SerfMessageType.Relay).length, 3, 'each answerer relayed one copy');
});

test('key manager: install, use and remove across members; an unanswered member is reported', async () => {
  const k1 = new Uint8Array(16).fill(1);
  const k2 = new Uint8Array(16).fill(2);
  const rings = [new Keyring([k1], k1), new Keyring([k1], k1), new Keyring([k1], k1)];
  const [a, b, c] = mesh(['a', 'b', 'c'], rings) as [SerfDelegate, SerfDelegate, SerfDelegate];
  const km = new KeyManager(a, () => 3);
  // Gossip rounds while the query is open (the key manager waits for answers).
  const pump = setInterval(() => gossip(a, [b, c]), 5);
  try {
    const wait = { timeoutMs: 5000 }; // ends as soon as all three answered
    for (const r of [await km.install(k2, wait), await km.use(k2, wait), await km.remove(k1, wait)]) assert.equal(keyResponseProblem(r), undefined, JSON.stringify(r));
    for (const ring of rings) assert.deepEqual(ring.getKeys(), [k2]);
    const list = await km.list(wait);
    const b64 = Buffer.from(k2).toString('base64');
    assert.deepEqual(list.keys, { [b64]: 3 });
    assert.deepEqual(list.primaryKeys, { [b64]: 3 });
    // Four members expected, three answer: the fourth is reported missing.
    const short = await new KeyManager(a, () => 4).list();
    assert.equal(keyResponseProblem(short), '3/4 nodes reported success');
  } finally {
    clearInterval(pump);
  }
});

test('gossip keys: base64 of 16, 24 or 32 bytes, anything else named', () => {
  assert.equal(decodeGossipKey(Buffer.alloc(32, 7).toString('base64')).length, 32);
  assert.throws(() => decodeGossipKey(Buffer.alloc(20).toString('base64')), /16, 24 or 32 bytes.*got 20 bytes/);
  assert.throws(() => decodeGossipKey('not base64!'), /not a gossip key/);
});

test('force-leave: a failed member becomes left here and wherever the intent is gossiped; prune forgets it', async () => {
  const [a, b] = mesh(['a', 'b', 'c']) as [SerfDelegate, SerfDelegate, SerfDelegate];
  for (const d of [a, b]) d.memberEvent({ type: 'failed', member: { ...memberOf('c', 3), status: 'failed' } });
  const done = a.forceLeave('c');
  assert.equal(a.member('c')?.status, 'left');
  // Gossip until the intent has been sent its full count (4 × ceil(log10(4)) = 4 for 3 nodes).
  for (let i = 0; i < 10 && a.queued().intents > 0; i++) gossip(a, [b]);
  await done;
  assert.equal(b.member('c')?.status, 'left');

  const [x, y] = mesh(['x', 'y', 'z']) as [SerfDelegate, SerfDelegate, SerfDelegate];
  for (const d of [x, y]) d.memberEvent({ type: 'failed', member: { ...memberOf('z', 3), status: 'failed' } });
  const pruned = x.forceLeave('z', true);
  for (let i = 0; i < 10 && x.queued().intents > 0; i++) gossip(x, [y]);
  await pruned;
  assert.equal(x.member('z'), undefined);
  assert.equal(y.member('z'), undefined);
});

test('force-leave: an alive member refutes it with a newer join intent', () => {
  // A third member: with none alive but the target, serf does not gossip the intent at all.
  const [a, b] = mesh(['a', 'b', 'c']) as [SerfDelegate, SerfDelegate, SerfDelegate];
  void a.forceLeave('b').catch(() => undefined);
  const msgs = a.getBroadcasts(USER_MSG_OVERHEAD, 1400);
  for (const m of msgs) b.notifyMessage(m);
  const refute = b.getBroadcasts(USER_MSG_OVERHEAD, 1400).map((m) => decodeSerfMessage(m));
  assert.ok(refute.some((m) => m.type === SerfMessageType.Join && m.body.Node === 'b'), 'b gossips a newer join intent');
  for (const m of refute) if (m.type === SerfMessageType.Join) a.notifyMessage(encodeSerfMessage(SerfMessageType.Join, m.body));
  assert.equal(a.member('b')?.status, 'alive');
});
