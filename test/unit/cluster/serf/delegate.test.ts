/**
 * SerfDelegate without a network: push/pull between two delegates, intents and their queue, user
 * events, queries (internal key queries against a Keyring, acks, filters, relays, conflict, user
 * queries), meta and lifecycle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  QueryFlag,
  SerfDelegate,
  SerfMessageType,
  decodeSerfMessage,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  type MessageQuery,
  type NodeKeyResponse,
  type SerfDelegateOptions,
  type SerfIntent,
  type SerfKeyChange,
  type SerfQuery,
  type SerfUserEvent,
} from '../../../../src/cluster/serf/index.js';
import { Keyring, decodeSerfTags, isWireError } from '../../../../src/cluster/wire/index.js';
import type { Member, MemberStatus } from '../../../../src/cluster/membership/delegate.js';
import type { Address } from '../../../../src/cluster/transport/transport.js';
import { fromHex, utf8 } from '../wire/helpers.js';
import * as cap from './fixtures/serf-0.9.4.js';

interface Sent {
  readonly to: Address;
  readonly msg: Uint8Array;
}

function make(name: string, extra: Partial<SerfDelegateOptions> = {}): { d: SerfDelegate; sent: Sent[] } {
  const sent: Sent[] = [];
  const d = new SerfDelegate({ nodeName: name, tags: { role: name }, sendTo: (to, msg) => sent.push({ to, msg }), ...extra });
  return { d, sent };
}

function member(name: string, status: MemberStatus = 'alive', vsn: number[] = [1, 5, 2, 2, 5, 4], host = '127.0.0.9'): Member {
  return { name, host, port: 7946, meta: new Uint8Array(0), incarnation: 1, status, since: 0, vsn };
}

const join = (node: string, LTime: number): Uint8Array => encodeSerfMessage(SerfMessageType.Join, { LTime, Node: node });
const leave = (node: string, LTime: number, Prune = false): Uint8Array => encodeSerfMessage(SerfMessageType.Leave, { LTime, Node: node, Prune });

function query(over: Partial<MessageQuery>): Uint8Array {
  return encodeSerfMessage(SerfMessageType.Query, {
    LTime: 5,
    ID: 1234,
    Addr: Uint8Array.of(127, 0, 0, 1),
    Port: 7373,
    SourceNode: 's1',
    Filters: null,
    Flags: 0,
    RelayFactor: 0,
    Timeout: 5e9,
    Name: 'q',
    Payload: null,
    ...over,
  });
}

const keyQuery = (name: string, key: Uint8Array, over: Partial<MessageQuery> = {}): Uint8Array =>
  query({ Name: `_serf_${name}`, Payload: encodeSerfMessage(SerfMessageType.KeyRequest, { Key: key }), ...over });

/** Opens a response we sent: [5] queryResponse; returns it and its payload decoded. */
function response(s: Sent | undefined): { flags: number; from: string; ltime: number; id: number; payload: Uint8Array | null } {
  assert.ok(s, 'a response was sent');
  const m = decodeSerfMessage(s.msg);
  assert.equal(m.type, SerfMessageType.QueryResponse);
  if (m.type !== SerfMessageType.QueryResponse) throw new Error('unreachable');
  return { flags: m.body.Flags, from: m.body.From, ltime: m.body.LTime, id: m.body.ID, payload: m.body.Payload };
}

function keyResponse(s: Sent | undefined): NodeKeyResponse {
  const r = response(s);
  const inner = decodeSerfMessage(r.payload ?? new Uint8Array(0));
  assert.equal(inner.type, SerfMessageType.KeyResponse);
  if (inner.type !== SerfMessageType.KeyResponse) throw new Error('unreachable');
  return inner.body;
}

const b64 = (k: Uint8Array): string => Buffer.from(k).toString('base64');

test('a new delegate: clocks at 1, itself alive, tags as meta, empty ack payload', () => {
  const { d } = make('a');
  assert.equal(d.clock.time(), 1);
  assert.equal(d.eventClock.time(), 1);
  assert.equal(d.queryClock.time(), 1);
  assert.deepEqual(d.members().map((m) => [m.name, m.status, m.statusLTime]), [['a', 'alive', 0]]);
  assert.deepEqual(Object.fromEntries(decodeSerfTags(d.nodeMeta(512))), { role: 'a' });
  assert.equal(d.ackPayload().length, 0);
  assert.throws(() => d.nodeMeta(3), (e: unknown) => isWireError(e, 'meta-too-large'));
  assert.throws(() => d.setTags({ big: 'x'.repeat(600) }), (e: unknown) => isWireError(e, 'meta-too-large'));
  assert.deepEqual(Object.fromEntries(decodeSerfTags(d.nodeMeta(512))), { role: 'a' }, 'a refused setTags changes nothing');
  const meta = d.setTags(new Map([['dc', 'x']]));
  assert.deepEqual(Object.fromEntries(decodeSerfTags(meta)), { dc: 'x' });
  assert.deepEqual(d.nodeMeta(512), meta);
});

test('push/pull between two delegates: clocks, intents, left members, events', () => {
  const A = make('a').d;
  const B = make('b').d;
  A.memberEvent({ type: 'join', member: member('c') });
  A.memberEvent({ type: 'join', member: member('d') });
  A.notifyMessage(join('c', 4));
  A.notifyMessage(leave('d', 10));
  A.memberEvent({ type: 'left', member: member('d', 'left') });
  assert.equal(A.member('d')?.status, 'left');
  A.userEvent('deploy', utf8('v1'));
  A.join();
  assert.equal(A.member('a')?.statusLTime, 11);
  assert.equal(A.clock.time(), 12);

  const stateA = A.localState(false);
  const decoded = decodeSerfMessage(stateA);
  assert.equal(decoded.type, SerfMessageType.PushPull);
  if (decoded.type !== SerfMessageType.PushPull) return;
  assert.deepEqual(Object.fromEntries(decoded.body.StatusLTimes), { a: 11, c: 4, d: 10 });
  assert.deepEqual(decoded.body.LeftMembers, ['d']);
  assert.equal(decoded.body.LTime, 12);
  assert.equal(decoded.body.EventLTime, 2);
  assert.deepEqual(decoded.body.Events, [{ LTime: 1, Events: [{ Name: 'deploy', Payload: utf8('v1') }] }]);

  const eventsB: SerfUserEvent[] = [];
  const intentsB: SerfIntent[] = [];
  B.onUserEvent((e) => eventsB.push(e));
  B.onIntent((i) => intentsB.push(i));
  B.memberEvent({ type: 'join', member: member('c') });
  B.mergeRemoteState(stateA, true);
  assert.equal(B.clock.time(), 12, 'witnessed LTime - 1, so one past it');
  assert.equal(B.eventClock.time(), 2);
  assert.equal(B.member('c')?.statusLTime, 4, 'known member: status time applied');
  assert.deepEqual(
    intentsB.map((i) => [i.type, i.node, i.ltime, i.known]),
    [
      ['leave', 'd', 11, false], // left members first, one past their status time
      ['join', 'a', 11, false],
      ['join', 'c', 4, true],
    ],
  );
  assert.deepEqual(eventsB.map((e) => [e.name, new TextDecoder().decode(e.payload), e.ltime]), [['deploy', 'v1', 1]]);
  // buffered intents apply when the nodes join
  B.memberEvent({ type: 'join', member: member('a') });
  B.memberEvent({ type: 'join', member: member('d') });
  assert.deepEqual([B.member('a')?.status, B.member('a')?.statusLTime], ['alive', 11]);
  assert.deepEqual([B.member('d')?.status, B.member('d')?.statusLTime], ['leaving', 11]);
  // the same state again changes nothing and emits nothing
  B.mergeRemoteState(stateA, false);
  assert.equal(eventsB.length, 1);
  assert.equal(intentsB.length, 3);

  // and back: A learns about b
  A.mergeRemoteState(B.localState(false), false);
  A.memberEvent({ type: 'join', member: member('b') });
  assert.equal(A.member('b')?.status, 'alive');
  // bad states are ignored
  A.mergeRemoteState(new Uint8Array(0), false);
  A.mergeRemoteState(Uint8Array.of(1, 0x80), false);
  A.mergeRemoteState(Uint8Array.of(2, 0xc1), false);
});

test('ignoreEventsOnJoin drops the events of the state we join with', () => {
  const A = make('a').d;
  A.userEvent('old', utf8('x'));
  const B = make('b', { ignoreEventsOnJoin: true }).d;
  const got: string[] = [];
  B.onUserEvent((e) => got.push(e.name));
  B.mergeRemoteState(A.localState(true), true);
  assert.deepEqual(got, []);
  B.notifyMessage(encodeSerfMessage(SerfMessageType.UserEvent, { LTime: 2, Name: 'new', Payload: null, CC: false }));
  assert.deepEqual(got, ['new']);
});

test('intents: newer wins, older is ignored, rebroadcast once per node, leave/failed transitions', () => {
  const { d } = make('a');
  d.memberEvent({ type: 'join', member: member('b') });
  d.notifyMessage(join('b', 5));
  assert.equal(d.member('b')?.statusLTime, 5);
  assert.equal(d.clock.time(), 6, 'witnessed');
  d.notifyMessage(join('b', 3));
  assert.equal(d.member('b')?.statusLTime, 5, 'older ignored');
  d.notifyMessage(join('b', 7));
  assert.equal(d.queued().intents, 1, 'newest intent per node only');
  const out = d.getBroadcasts(1, 1400);
  assert.deepEqual(out.map((m) => decodeSerfMessage(m).body), [{ LTime: 7, Node: 'b' }]);

  d.notifyMessage(leave('b', 8));
  assert.equal(d.member('b')?.status, 'leaving');
  d.memberEvent({ type: 'failed', member: member('b', 'failed') });
  assert.equal(d.member('b')?.status, 'left', 'a leaving member that drops out has left');
  d.memberEvent({ type: 'alive', member: member('b') });
  assert.equal(d.member('b')?.status, 'alive');
  d.notifyMessage(join('b', 9));
  d.memberEvent({ type: 'failed', member: member('b', 'failed') });
  assert.equal(d.member('b')?.status, 'failed', 'no leave intent: failed');
  d.notifyMessage(leave('b', 10));
  assert.equal(d.member('b')?.status, 'left', 'force-leave of a failed member');
  d.notifyMessage(leave('b', 11, true));
  assert.equal(d.member('b'), undefined, 'prune forgets it');

  // an intent for a node we do not know is buffered, and a newer one replaces it
  d.notifyMessage(join('x', 20));
  d.notifyMessage(leave('x', 21));
  d.notifyMessage(join('x', 19));
  d.memberEvent({ type: 'join', member: member('x') });
  assert.deepEqual([d.member('x')?.status, d.member('x')?.statusLTime], ['leaving', 21]);
  // retransmits: 4 × ceil(log10(n + 1)) with n = known members
  let rounds = 0;
  while (d.getBroadcasts(1, 1400).length > 0) rounds++;
  assert.equal(rounds, 4);
});

test('a leave intent about ourselves while alive is refuted with a newer join', () => {
  const { d } = make('a');
  d.memberEvent({ type: 'join', member: member('b') });
  d.notifyMessage(leave('a', 30));
  assert.equal(d.member('a')?.status, 'alive');
  const out = d.getBroadcasts(1, 1400).map((m) => decodeSerfMessage(m));
  assert.deepEqual(out, [{ type: SerfMessageType.Join, body: { LTime: 31, Node: 'a' } }]);
  assert.equal(d.member('a')?.statusLTime, 31);
});

test('leave(): a leave intent (gossiped only with someone alive), then markLeft', () => {
  const alone = make('a').d;
  alone.leave();
  assert.equal(alone.state, 'leaving');
  assert.equal(alone.member('a')?.status, 'leaving');
  assert.equal(alone.queued().intents, 0, 'nobody to tell');
  alone.markLeft();
  assert.equal(alone.state, 'left');

  const { d } = make('a');
  d.memberEvent({ type: 'join', member: member('b') });
  const t = d.clock.time();
  d.leave();
  d.leave(); // idempotent while leaving
  const out = d.getBroadcasts(1, 1400).map((m) => decodeSerfMessage(m));
  assert.deepEqual(out, [{ type: SerfMessageType.Leave, body: { LTime: t, Node: 'a', Prune: false } }]);
  // a leave intent about us now is not refuted
  d.notifyMessage(leave('a', t + 5));
  assert.equal(d.queued().intents, 1);
});

test('user events: emitted once, old ones dropped, size limits, re-gossiped', () => {
  const { d } = make('a', { eventBufferSize: 4 });
  const got: SerfUserEvent[] = [];
  d.onUserEvent((e) => got.push(e));
  const ev = (LTime: number, Name: string, Payload: Uint8Array | null = null): Uint8Array =>
    encodeSerfMessage(SerfMessageType.UserEvent, { LTime, Name, Payload, CC: true });
  d.notifyMessage(ev(3, 'x', utf8('1')));
  d.notifyMessage(ev(3, 'x', utf8('1'))); // duplicate
  d.notifyMessage(ev(3, 'x', utf8('2'))); // same time, other payload
  d.notifyMessage(ev(3, 'y'));
  assert.deepEqual(got.map((e) => `${e.ltime}:${e.name}:${new TextDecoder().decode(e.payload)}`), ['3:x:1', '3:x:2', '3:y:']);
  assert.equal(d.queued().events, 3);
  assert.equal(d.eventClock.time(), 4);
  d.notifyMessage(ev(20, 'z'));
  d.notifyMessage(ev(10, 'too-old')); // 10 < 21 - 4
  assert.deepEqual(got.map((e) => e.name).slice(3), ['z']);
  assert.deepEqual(d.recentEvents().map((s) => s.LTime), [3, 20]);

  d.userEvent('mine', utf8('p'), false);
  assert.deepEqual([got.at(-1)?.name, got.at(-1)?.ltime, got.at(-1)?.coalesce], ['mine', 21, false]);
  assert.equal(d.eventClock.time(), 22);
  assert.throws(() => d.userEvent('n', new Uint8Array(600)), RangeError);
  assert.throws(() => d.userEvent('n'.repeat(400), new Uint8Array(100)), RangeError);
  // the captured serf events decode and apply
  const { d: e2 } = make('b');
  const seen: string[] = [];
  e2.onUserEvent((e) => seen.push(e.name));
  e2.notifyMessage(fromHex(cap.userEventDeploy));
  e2.notifyMessage(fromHex(cap.userEventEmpty));
  assert.deepEqual(seen, ['deploy', 'empty']);
});

test('key queries: install, use, remove, list against the keyring; responses go to the asker', () => {
  const k1 = new Uint8Array(32).fill(1);
  const k2 = new Uint8Array(32).fill(2);
  const keyring = new Keyring([], k1);
  const { d, sent } = make('ts1', { keyring });
  const changes: SerfKeyChange[] = [];
  d.onKeyChange((c) => changes.push(c));

  // serf's own bytes (captured): install 0x02 × 32, answer to 127.0.0.1:42805
  d.notifyMessage(fromHex(cap.queryInstallKey));
  assert.equal(keyring.size, 2);
  assert.deepEqual(sent[0]?.to, { host: '127.0.0.1', port: 42805 });
  const r0 = response(sent[0]);
  assert.equal(r0.from, 'ts1');
  assert.equal(r0.ltime, 2);
  assert.equal(r0.flags, 0);
  assert.deepEqual(keyResponse(sent[0]), { Result: true, Message: '', Keys: null, PrimaryKey: '' });
  assert.equal(d.queued().queries, 1, 'the query is re-gossiped');
  d.notifyMessage(fromHex(cap.queryInstallKey));
  assert.equal(sent.length, 1, 'a duplicate query is ignored');

  d.notifyMessage(keyQuery('use-key', k2, { LTime: 6, ID: 1 }));
  assert.deepEqual(keyResponse(sent[1]).Result, true);
  assert.deepEqual(keyring.getPrimaryKey(), k2);

  d.notifyMessage(keyQuery('remove-key', k2, { LTime: 7, ID: 2 }));
  assert.deepEqual(keyResponse(sent[2]), { Result: false, Message: 'Removing the primary key is not allowed', Keys: null, PrimaryKey: '' });
  d.notifyMessage(keyQuery('remove-key', k1, { LTime: 8, ID: 3 }));
  assert.equal(keyResponse(sent[3]).Result, true);
  assert.deepEqual(keyring.getKeys(), [k2]);

  d.notifyMessage(keyQuery('use-key', k1, { LTime: 9, ID: 4 }));
  assert.deepEqual(keyResponse(sent[4]), { Result: false, Message: 'Requested key is not in the keyring', Keys: null, PrimaryKey: '' });
  d.notifyMessage(keyQuery('install-key', new Uint8Array(7), { LTime: 10, ID: 5 }));
  assert.deepEqual(keyResponse(sent[5]).Message, 'key size must be 16, 24 or 32 bytes');

  d.notifyMessage(fromHex(cap.queryListKeys)); // LTime 3: older, but within the buffer
  assert.deepEqual(keyResponse(sent[6]), { Result: true, Message: '', Keys: [b64(k2)], PrimaryKey: b64(k2) });

  assert.deepEqual(
    changes.map((c) => [c.op, c.key[0], c.key.length, c.ok]),
    [
      ['install', 2, 32, true],
      ['use', 2, 32, true],
      ['remove', 2, 32, false],
      ['remove', 1, 32, true],
      ['use', 1, 32, false],
      ['install', 0, 7, false],
    ],
  );
});

test('key queries without encryption fail as in serf; a long key list is truncated to fit', () => {
  const { d, sent } = make('ts1');
  d.notifyMessage(keyQuery('install-key', new Uint8Array(16)));
  assert.deepEqual(keyResponse(sent[0]), { Result: false, Message: 'No keyring to modify (encryption not enabled)', Keys: null, PrimaryKey: '' });
  d.notifyMessage(query({ Name: '_serf_list-keys', LTime: 6, Payload: Uint8Array.of(7, 0x80) }));
  assert.deepEqual(keyResponse(sent[1]), { Result: false, Message: 'Keyring is empty (encryption not enabled)', Keys: null, PrimaryKey: '' });

  const keys = Array.from({ length: 50 }, (_, i) => new Uint8Array(32).fill(i + 1));
  const ring = new Keyring(keys.slice(1), keys[0]);
  const big = make('ts1', { keyring: ring });
  big.d.notifyMessage(query({ Name: '_serf_list-keys', Payload: Uint8Array.of(7, 0x80) }));
  const raw = big.sent[0]?.msg;
  assert.ok(raw !== undefined && raw.length <= 1024, `response of ${raw?.length} bytes`);
  const r = keyResponse(big.sent[0]);
  assert.equal(r.Result, true);
  const n = r.Keys?.length ?? 0;
  assert.ok(n > 10 && n < 50);
  assert.equal(r.Message, `truncated key list response, showing first ${n} of 50 keys`);
  assert.equal(r.PrimaryKey, b64(keys[0] ?? new Uint8Array()));
});

test('queries: ack flag, no-broadcast, filters, ping, deadline, relay, conflict', () => {
  const { d, sent } = make('ts1', { tags: { role: 'caxton-web' } });
  d.notifyMessage(query({ Name: '_serf_ping', Flags: QueryFlag.Ack | QueryFlag.NoBroadcast }));
  assert.equal(sent.length, 1);
  const ack = response(sent[0]);
  assert.deepEqual([ack.flags, ack.from, ack.ltime, ack.id, ack.payload], [QueryFlag.Ack, 'ts1', 5, 1234, null]);
  assert.equal(d.queued().queries, 0, 'NoBroadcast');

  // filters: not for us → no answer, still re-gossiped
  d.notifyMessage(query({ ID: 2, Name: '_serf_ping', Flags: QueryFlag.Ack, Filters: [encodeNodeFilter(['other'])] }));
  d.notifyMessage(query({ ID: 3, Name: '_serf_ping', Flags: QueryFlag.Ack, Filters: [encodeTagFilter('role', '^db')] }));
  d.notifyMessage(query({ ID: 4, Name: '_serf_ping', Flags: QueryFlag.Ack, Filters: [encodeTagFilter('role', '([')] }));
  d.notifyMessage(query({ ID: 5, Name: '_serf_ping', Flags: QueryFlag.Ack, Filters: [Uint8Array.of(9)] }));
  assert.equal(sent.length, 1);
  assert.equal(d.queued().queries, 4);
  d.notifyMessage(query({ ID: 6, Name: '_serf_ping', Flags: QueryFlag.Ack, Filters: [encodeNodeFilter(['x', 'ts1']), encodeTagFilter('role', 'cax.*web')] }));
  assert.equal(sent.length, 2);
  // the captured `serf query -node=ts1 -tag role=cax.*` passes the filters (and asks for an ack)
  d.notifyMessage(fromHex(cap.queryEchoFiltered));
  assert.equal(response(sent[2]).flags, QueryFlag.Ack);

  // deadline: a zero timeout cannot be answered
  const q0 = make('ts1');
  let late: unknown;
  q0.d.onQuery((q) => {
    try {
      q.respond(utf8('late'));
    } catch (e) {
      late = e;
    }
  });
  q0.d.notifyMessage(query({ Name: 'app', Timeout: 0 }));
  assert.match(String(late), /past the deadline/);
  assert.equal(q0.sent.length, 0);

  // relay: a copy through RelayFactor alive members that speak protocol 5
  const r = make('ts1');
  r.d.memberEvent({ type: 'join', member: member('p5', 'alive', [1, 5, 2, 2, 5, 4], '127.0.0.5') });
  r.d.memberEvent({ type: 'join', member: member('p4', 'alive', [1, 4, 2, 2, 5, 4], '127.0.0.4') });
  r.d.notifyMessage(query({ Name: '_serf_ping', Flags: QueryFlag.Ack, RelayFactor: 2 }));
  assert.deepEqual(r.sent.map((s) => s.to.host), ['127.0.0.1', '127.0.0.5']);
  const relay = decodeSerfMessage(r.sent[1]?.msg ?? new Uint8Array());
  assert.equal(relay.type, SerfMessageType.Relay);
  if (relay.type === SerfMessageType.Relay) {
    assert.deepEqual(relay.body.Header, { DestAddr: { IP: Uint8Array.of(127, 0, 0, 1), Port: 7373, Zone: '' }, DestName: 's1' });
    assert.equal(response({ to: { host: '', port: 0 }, msg: relay.body.Message }).flags, QueryFlag.Ack);
  }
  // and a relay we receive is forwarded to its destination
  r.d.notifyMessage(r.sent[1]?.msg ?? new Uint8Array());
  assert.deepEqual(r.sent[2]?.to, { host: '127.0.0.1', port: 7373 });
  assert.equal(r.sent[2]?.msg[0], SerfMessageType.QueryResponse);

  // conflict: what we know about another node; nothing about ourselves
  r.d.notifyMessage(query({ ID: 7, Name: '_serf_conflict', Payload: utf8('p5') }));
  const conflict = decodeSerfMessage(response(r.sent[3]).payload ?? new Uint8Array());
  assert.equal(conflict.type, SerfMessageType.ConflictResponse);
  if (conflict.type === SerfMessageType.ConflictResponse) {
    assert.equal(conflict.body?.Name, 'p5');
    assert.deepEqual(conflict.body?.Addr, Uint8Array.of(127, 0, 0, 5));
    assert.equal(conflict.body?.Status, 1);
    assert.equal(conflict.body?.ProtocolMax, 5);
  }
  r.d.notifyMessage(query({ ID: 8, Name: '_serf_conflict', Payload: utf8('nobody') }));
  assert.equal(decodeSerfMessage(response(r.sent[4]).payload ?? new Uint8Array()).body, null);
  const before = r.sent.length;
  r.d.notifyMessage(query({ ID: 9, Name: '_serf_conflict', Payload: utf8('ts1') }));
  assert.equal(r.sent.length, before);
});

test('user queries reach onQuery; respond once, within the size limit', () => {
  const { d, sent } = make('ts1');
  let got: SerfQuery | undefined;
  d.onQuery((q) => {
    got = q;
  });
  d.notifyMessage(query({ Name: 'hello', Payload: utf8('hi') }));
  assert.equal(got?.name, 'hello');
  assert.deepEqual(got?.payload, utf8('hi'));
  assert.equal(got?.sourceNode, 's1');
  assert.deepEqual(got?.replyTo, { host: '127.0.0.1', port: 7373 });
  const respond = got?.respond;
  assert.ok(respond);
  respond(utf8('there'));
  assert.deepEqual(response(sent[0]).payload, utf8('there'));
  assert.throws(() => respond?.(utf8('again')), /already sent/);
  const other = make('ts1');
  let tooBig: unknown;
  other.d.onQuery((q) => {
    try {
      q.respond(new Uint8Array(2000));
    } catch (e) {
      tooBig = e;
    }
  });
  other.d.notifyMessage(query({ Name: 'big' }));
  assert.match(String(tooBig), /exceeds limit of 1024 bytes/);
  assert.equal(other.sent.length, 0);
});

test('old and duplicate queries are dropped; the query clock witnesses', () => {
  const { d, sent } = make('ts1', { queryBufferSize: 4 });
  d.notifyMessage(query({ LTime: 50, Name: '_serf_ping', Flags: QueryFlag.Ack }));
  assert.equal(d.queryClock.time(), 51);
  d.notifyMessage(query({ LTime: 10, ID: 9, Name: '_serf_ping', Flags: QueryFlag.Ack }));
  assert.equal(sent.length, 1, 'too old');
  d.notifyMessage(query({ LTime: 50, ID: 99, Name: '_serf_ping', Flags: QueryFlag.Ack }));
  assert.equal(sent.length, 2, 'same time, other ID');
});

test('getBroadcasts: intents, then queries, then events, within the limit', () => {
  const { d } = make('a');
  d.memberEvent({ type: 'join', member: member('b') });
  d.notifyMessage(encodeSerfMessage(SerfMessageType.UserEvent, { LTime: 1, Name: 'e', Payload: null, CC: false }));
  d.notifyMessage(query({ Name: '_serf_ping' }));
  d.notifyMessage(join('b', 3));
  const all = d.getBroadcasts(2, 1400).map((m) => m[0]);
  assert.deepEqual(all, [SerfMessageType.Join, SerfMessageType.Query, SerfMessageType.UserEvent]);
  const joinLen = join('b', 3).length;
  const some = d.getBroadcasts(2, joinLen + 2 + 1);
  assert.deepEqual(some.map((m) => m[0]), [SerfMessageType.Join]);
  assert.deepEqual(d.getBroadcasts(2, 2), []);
});

test('memberEvent bookkeeping and reap', () => {
  let now = 1_000_000;
  const { d } = make('a', { now: () => now, reconnectTimeoutMs: 1000, tombstoneTimeoutMs: 2000, recentIntentTimeoutMs: 500 });
  const statuses: string[] = [];
  d.onStatusChange((c) => statuses.push(`${c.member.name}:${c.previous ?? '-'}>${c.member.status}`));
  d.memberEvent({ type: 'join', member: member('b') });
  d.memberEvent({ type: 'join', member: member('c') });
  d.memberEvent({ type: 'suspect', member: member('b', 'suspect'), from: 'c' });
  d.memberEvent({ type: 'update', member: { ...member('b'), port: 9999 } });
  assert.equal(d.member('b')?.member?.port, 9999);
  d.memberEvent({ type: 'failed', member: member('b', 'failed') });
  d.notifyMessage(leave('c', 5));
  d.memberEvent({ type: 'left', member: member('c', 'left') });
  d.notifyMessage(join('ghost', 9));
  assert.deepEqual(statuses, ['b:->alive', 'c:->alive', 'b:alive>failed', 'c:alive>leaving', 'c:leaving>left']);
  now += 1500;
  d.reap();
  assert.deepEqual(d.members().map((m) => m.name).sort(), ['a', 'c']);
  now += 1000;
  d.reap();
  assert.deepEqual(d.members().map((m) => m.name), ['a']);
  d.memberEvent({ type: 'join', member: member('ghost') });
  assert.equal(d.member('ghost')?.statusLTime, 0, 'the buffered intent expired');
  d.memberEvent({ type: 'reaped', member: member('ghost') });
  assert.equal(d.member('ghost'), undefined);
  d.memberEvent({ type: 'reaped', member: member('a') });
  assert.ok(d.member('a'), 'never forgets itself');
});

test('garbage never throws out of notifyMessage', () => {
  const { d } = make('a');
  for (const bytes of [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(42), Uint8Array.of(4, 0xc1), Uint8Array.of(6, 0xc0), Uint8Array.of(5, 0x80)]) {
    assert.doesNotThrow(() => d.notifyMessage(bytes));
  }
  let seed = 1;
  for (let i = 0; i < 2000; i++) {
    const len = 1 + (i % 40);
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      b[j] = seed >>> 24;
    }
    b[0] = i % 11;
    assert.doesNotThrow(() => d.notifyMessage(b));
    assert.doesNotThrow(() => d.mergeRemoteState(b, false));
  }
});
