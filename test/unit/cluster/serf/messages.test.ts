/**
 * Serf message codec: golden vectors written by hand from the Go structs (go-msgpack sorts struct
 * fields by name), bytes captured from serf 0.9.4, and the tolerant reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FilterType,
  QueryFlag,
  SerfMessageType,
  decodeQueryFilter,
  decodeSerfMessage,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  ipFromBytes,
  ipToBytes,
  type MessagePushPull,
  type MessageQuery,
  type SerfMessage,
} from '../../../../src/cluster/serf/index.js';
import { MsgpackWriter, decodeValue, isWireError } from '../../../../src/cluster/wire/index.js';
import { fromHex, h, toHex, utf8 } from '../wire/helpers.js';
import * as cap from './fixtures/serf-0.9.4.js';

function roundTrip(m: SerfMessage): SerfMessage {
  return decodeSerfMessage(encodeSerfMessage(m.type, m.body as never));
}

test('join, leave: golden bytes (= serf captures)', () => {
  const join = encodeSerfMessage(SerfMessageType.Join, { LTime: 1, Node: 'ts1' });
  assert.equal(toHex(join), `01 82 a5${h('LTime')} 01 a4${h('Node')} a3${h('ts1')}`.replace(/ /g, ''));
  assert.equal(toHex(join), cap.joinTs1);
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.Join, { LTime: 2, Node: 's1' })), cap.joinS1);

  const leave = encodeSerfMessage(SerfMessageType.Leave, { LTime: 3, Node: 's1', Prune: false });
  assert.equal(toHex(leave), `00 83 a5${h('LTime')} 03 a4${h('Node')} a2${h('s1')} a5${h('Prune')} c2`.replace(/ /g, ''));
  assert.equal(toHex(leave), cap.leaveS1);
  assert.deepEqual(decodeSerfMessage(fromHex(cap.leaveS1)), { type: SerfMessageType.Leave, body: { LTime: 3, Node: 's1', Prune: false } });
  // a big Lamport time takes the uint64 form
  const big = encodeSerfMessage(SerfMessageType.Join, { LTime: 2 ** 40, Node: '' });
  assert.equal(toHex(big), `01 82 a5${h('LTime')} cf 0000010000000000 a4${h('Node')} a0`.replace(/ /g, ''));
});

test('user event: fields CC, LTime, Name, Payload (= serf captures)', () => {
  const ev = encodeSerfMessage(SerfMessageType.UserEvent, { LTime: 1, Name: 'deploy', Payload: utf8('v1'), CC: true });
  assert.equal(toHex(ev), `03 84 a2${h('CC')} c3 a5${h('LTime')} 01 a4${h('Name')} a6${h('deploy')} a7${h('Payload')} a2${h('v1')}`.replace(/ /g, ''));
  assert.equal(toHex(ev), cap.userEventDeploy);
  // an empty payload from the CLI is a nil []byte
  const empty = decodeSerfMessage(fromHex(cap.userEventEmpty));
  assert.deepEqual(empty, { type: SerfMessageType.UserEvent, body: { LTime: 2, Name: 'empty', Payload: null, CC: false } });
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.UserEvent, { LTime: 2, Name: 'empty', Payload: null, CC: false })), cap.userEventEmpty);
});

test('push/pull: hand-built vector, and serf states re-encode byte for byte', () => {
  const pp: MessagePushPull = {
    LTime: 5,
    StatusLTimes: new Map([
      ['b', 2],
      ['a', 300],
    ]),
    LeftMembers: ['b'],
    EventLTime: 1,
    Events: [null, { LTime: 0, Events: [{ Name: 'e', Payload: null }] }],
    QueryLTime: 1,
  };
  const want =
    `02 86` +
    `aa${h('EventLTime')} 01` +
    `a6${h('Events')} 92 c0 82 a6${h('Events')} 91 82 a4${h('Name')} a1${h('e')} a7${h('Payload')} c0 a5${h('LTime')} 00` +
    `a5${h('LTime')} 05` +
    `ab${h('LeftMembers')} 91 a1${h('b')}` +
    `aa${h('QueryLTime')} 01` +
    `ac${h('StatusLTimes')} 82 a1${h('a')} cd012c a1${h('b')} 02`; // map keys sorted for stable bytes
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.PushPull, pp)), want.replace(/ /g, ''));
  assert.deepEqual(roundTrip({ type: SerfMessageType.PushPull, body: pp }), {
    type: SerfMessageType.PushPull,
    body: { ...pp, StatusLTimes: new Map([['b', 2], ['a', 300]]) },
  });

  // serf's reply to our join: 512 event slots, all nil
  const reply = decodeSerfMessage(fromHex(cap.pushPullReplyToJoin));
  assert.equal(reply.type, SerfMessageType.PushPull);
  if (reply.type !== SerfMessageType.PushPull) return;
  assert.equal(reply.body.Events.length, 512);
  assert.ok(reply.body.Events.every((e) => e === null));
  assert.deepEqual([...reply.body.StatusLTimes], [['s1', 0]]);
  assert.deepEqual(reply.body.LeftMembers, []);
  assert.equal(reply.body.LTime, 1);
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.PushPull, reply.body)), cap.pushPullReplyToJoin);

  // serf pushing to us after events: two filled slots. (Go writes map entries in random order; this
  // capture happens to be in sorted order, which is how we write them.)
  const pushed = decodeSerfMessage(fromHex(cap.pushPullSerfJoiningUs));
  assert.equal(pushed.type, SerfMessageType.PushPull);
  if (pushed.type !== SerfMessageType.PushPull) return;
  assert.deepEqual(pushed.body.Events.slice(0, 3), [
    null,
    { LTime: 1, Events: [{ Name: 'deploy', Payload: utf8('v1') }] },
    { LTime: 2, Events: [{ Name: 'empty', Payload: null }] },
  ]);
  assert.deepEqual(Object.fromEntries(pushed.body.StatusLTimes), { s1: 0, ts1: 1 });
  assert.equal(pushed.body.EventLTime, 3);
  assert.equal(pushed.body.QueryLTime, 4);
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.PushPull, pushed.body)), cap.pushPullSerfJoiningUs);
});

test('query: captured `serf query -node -tag` and `serf keys` queries decode and re-encode exactly', () => {
  const q = decodeSerfMessage(fromHex(cap.queryEchoFiltered));
  assert.equal(q.type, SerfMessageType.Query);
  if (q.type !== SerfMessageType.Query) return;
  assert.equal(q.body.Name, 'caxton-echo');
  assert.equal(ipFromBytes(q.body.Addr), '127.0.0.1');
  assert.equal(q.body.Port, 42805);
  assert.equal(q.body.SourceNode, 's1');
  assert.equal(q.body.Flags, QueryFlag.Ack);
  assert.equal(q.body.Timeout, 1e9, 'time.Duration in ns');
  assert.equal(q.body.RelayFactor, 0);
  assert.deepEqual(
    (q.body.Filters ?? []).map(decodeQueryFilter),
    [
      { type: FilterType.Node, nodes: ['ts1'] },
      { type: FilterType.Tag, tag: 'role', expr: 'cax.*' },
    ],
  );
  assert.equal(toHex(encodeNodeFilter(['ts1'])), toHex(q.body.Filters?.[0] ?? new Uint8Array()));
  assert.equal(toHex(encodeTagFilter('role', 'cax.*')), toHex(q.body.Filters?.[1] ?? new Uint8Array()));
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.Query, q.body)), cap.queryEchoFiltered);

  const install = decodeSerfMessage(fromHex(cap.queryInstallKey));
  assert.equal(install.type, SerfMessageType.Query);
  if (install.type !== SerfMessageType.Query) return;
  assert.equal(install.body.Name, '_serf_install-key');
  assert.equal(install.body.Filters, null, 'no filters: nil');
  const req = decodeSerfMessage(install.body.Payload ?? new Uint8Array());
  assert.deepEqual(req, { type: SerfMessageType.KeyRequest, body: { Key: new Uint8Array(32).fill(2) } });
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.Query, install.body)), cap.queryInstallKey);

  const list = decodeSerfMessage(fromHex(cap.queryListKeys));
  assert.equal(list.type === SerfMessageType.Query && list.body.Name, '_serf_list-keys');
  if (list.type !== SerfMessageType.Query) return;
  assert.deepEqual(decodeSerfMessage(list.body.Payload ?? new Uint8Array()), { type: SerfMessageType.KeyRequest, body: { Key: new Uint8Array(0) } });
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.Query, list.body)), cap.queryListKeys);
});

test('query: hand-built vector with every field', () => {
  const q: MessageQuery = {
    LTime: 7,
    ID: 0xdeadbeef,
    Addr: Uint8Array.of(127, 0, 0, 2),
    Port: 7946,
    SourceNode: 'n',
    Filters: [Uint8Array.of(0, 0x90)],
    Flags: QueryFlag.Ack | QueryFlag.NoBroadcast,
    RelayFactor: 2,
    Timeout: -1,
    Name: 'q',
    Payload: null,
  };
  const want =
    `04 8b a4${h('Addr')} a4 7f000002 a7${h('Filters')} 91 a2 0090 a5${h('Flags')} 03 a2${h('ID')} ce deadbeef` +
    ` a5${h('LTime')} 07 a4${h('Name')} a1${h('q')} a7${h('Payload')} c0 a4${h('Port')} cd 1f0a` +
    ` ab${h('RelayFactor')} 02 aa${h('SourceNode')} a1${h('n')} a7${h('Timeout')} ff`;
  assert.equal(toHex(encodeSerfMessage(SerfMessageType.Query, q)), want.replace(/ /g, ''));
  assert.deepEqual(roundTrip({ type: SerfMessageType.Query, body: q }).body, q);
});

test('query response, key request/response, conflict response, relay', () => {
  const resp = encodeSerfMessage(SerfMessageType.QueryResponse, { LTime: 2, ID: 0x7adc26f7, From: 'ts2', Flags: 0, Payload: Uint8Array.of(8, 0x80) });
  assert.equal(
    toHex(resp),
    `05 85 a5${h('Flags')} 00 a4${h('From')} a3${h('ts2')} a2${h('ID')} ce7adc26f7 a5${h('LTime')} 02 a7${h('Payload')} a2 0880`.replace(/ /g, ''),
  );
  const keyResp = encodeSerfMessage(SerfMessageType.KeyResponse, { Result: true, Message: '', Keys: null, PrimaryKey: '' });
  assert.equal(toHex(keyResp), `08 84 a4${h('Keys')} c0 a7${h('Message')} a0 aa${h('PrimaryKey')} a0 a6${h('Result')} c3`.replace(/ /g, ''));
  const listResp = encodeSerfMessage(SerfMessageType.KeyResponse, { Result: true, Message: 'm', Keys: ['AQ==', 'Ag=='], PrimaryKey: 'AQ==' });
  assert.deepEqual(decodeSerfMessage(listResp).body, { Result: true, Message: 'm', Keys: ['AQ==', 'Ag=='], PrimaryKey: 'AQ==' });
  const keyReq = encodeSerfMessage(SerfMessageType.KeyRequest, { Key: new Uint8Array(16).fill(7) });
  assert.equal(toHex(keyReq), `07 81 a3${h('Key')} b0 ${'07'.repeat(16)}`.replace(/ /g, ''));

  assert.equal(toHex(encodeSerfMessage(SerfMessageType.ConflictResponse, null)), '06c0');
  const member = {
    Name: 'x',
    Addr: Uint8Array.of(10, 0, 0, 1),
    Port: 7946,
    Tags: new Map([['role', 'r']]),
    Status: 1,
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4,
  };
  const conflict = encodeSerfMessage(SerfMessageType.ConflictResponse, member);
  const generic = decodeValue(conflict.subarray(1));
  assert.ok(generic instanceof Map);
  assert.deepEqual(
    [...generic.keys()].map((k) => (k instanceof Uint8Array ? new TextDecoder().decode(k) : String(k))),
    ['Addr', 'DelegateCur', 'DelegateMax', 'DelegateMin', 'Name', 'Port', 'ProtocolCur', 'ProtocolMax', 'ProtocolMin', 'Status', 'Tags'],
  );
  assert.deepEqual(decodeSerfMessage(conflict).body, member);

  const inner = encodeSerfMessage(SerfMessageType.QueryResponse, { LTime: 1, ID: 1, From: 'a', Flags: 1, Payload: null });
  const relay = encodeSerfMessage(SerfMessageType.Relay, {
    Header: { DestAddr: { IP: Uint8Array.of(127, 0, 0, 1), Port: 7946, Zone: '' }, DestName: 's1' },
    Message: inner,
  });
  assert.equal(
    toHex(relay.subarray(0, relay.length - inner.length)),
    `09 82 a8${h('DestAddr')} 83 a2${h('IP')} a4 7f000001 a4${h('Port')} cd1f0a a4${h('Zone')} a0 a8${h('DestName')} a2${h('s1')}`.replace(/ /g, ''),
  );
  const back = decodeSerfMessage(relay);
  assert.equal(back.type, SerfMessageType.Relay);
  if (back.type === SerfMessageType.Relay) assert.equal(toHex(back.body.Message), toHex(inner));
});

test('reader: any key order, unknown keys, nil fields, array form, str8/bin, trailing bytes', () => {
  const w = new MsgpackWriter();
  w.byte(SerfMessageType.Leave).mapHeader(4);
  w.str('Prune').bool(true);
  w.str('Extra').arrayHeader(2).uint(1).str('x');
  w.str('Node').nil();
  w.str('LTime').uint(9);
  w.byte(0xff); // trailing garbage is ignored, as in Go
  assert.deepEqual(decodeSerfMessage(w.finish()).body, { LTime: 9, Node: '', Prune: true });

  // struct as an array (declaration order: LTime, Node)
  assert.deepEqual(decodeSerfMessage(fromHex(`01 92 05 a1${h('n')}`.replace(/ /g, ''))).body, { LTime: 5, Node: 'n' });
  // nil body: every field zero
  assert.deepEqual(decodeSerfMessage(fromHex('02c0')).body, {
    LTime: 0,
    StatusLTimes: new Map(),
    LeftMembers: [],
    EventLTime: 0,
    Events: [],
    QueryLTime: 0,
  });
  // new-spec str8 and bin for strings and bytes
  const ev = decodeSerfMessage(fromHex(`03 82 a4${h('Name')} d9 01 ${h('x')} a7${h('Payload')} c4 02 0102`.replace(/ /g, '')));
  assert.deepEqual(ev.body, { LTime: 0, Name: 'x', Payload: Uint8Array.of(1, 2), CC: false });
});

test('reader refuses bad input with WireError', () => {
  const bad = (hex: string, reason: string): void =>
    assert.throws(() => decodeSerfMessage(fromHex(hex.replace(/ /g, ''))), (e: unknown) => isWireError(e) && e.reason === reason, hex);
  bad('', 'empty');
  bad('0a80', 'unknown-message-type');
  bad(`01 81 a5${h('LTime')} ff`, 'int-range'); // negative Lamport time
  bad(`01 81 a5${h('LTime')} cf ffffffffffffffff`, 'int-range'); // beyond 2^53
  bad(`02 81 aa${h('EventLTime')}`, 'truncated');
  bad(`02 81 ac${h('StatusLTimes')} 81 a1${h('a')} a1${h('b')}`, 'type-mismatch');
  bad(`04 81 a2${h('ID')} cf 0000000100000000`, 'int-range'); // ID is a uint32
  bad(`02 81 ab${h('LeftMembers')} dd 7fffffff`, 'truncated'); // length beyond the input
  bad('09 80', 'truncated'); // relay without a message
  // nesting: 20 arrays deep under an unknown key
  bad(`02 81 a1${h('x')} ${'91'.repeat(20)} c0`, 'too-deep');
  bad(`02 81 a6${h('Events')} 91 a1 78`, 'type-mismatch'); // an event slot is a struct, not a string
  assert.throws(() => encodeSerfMessage(SerfMessageType.Join, { LTime: -1, Node: 'x' }), (e: unknown) => isWireError(e, 'invalid-value') || isWireError(e, 'int-range'));
  assert.throws(() => decodeQueryFilter(Uint8Array.of(7, 0x90)), (e: unknown) => isWireError(e, 'invalid-value'));
});

test('IP bytes: IPv4, IPv4-mapped, IPv6', () => {
  assert.equal(ipFromBytes(Uint8Array.of(127, 0, 0, 2)), '127.0.0.2');
  const mapped = new Uint8Array(16);
  mapped.set([0xff, 0xff, 10, 1, 2, 3], 10);
  assert.equal(ipFromBytes(mapped), '10.1.2.3');
  assert.equal(ipFromBytes(ipToBytes('::1') ?? null), '0:0:0:0:0:0:0:1');
  assert.deepEqual(ipToBytes('fe80::1:2'), Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2));
  assert.deepEqual(ipToBytes('::ffff:1.2.3.4')?.subarray(10), Uint8Array.of(0xff, 0xff, 1, 2, 3, 4));
  assert.equal(ipFromBytes(Uint8Array.of(1, 2, 3)), undefined);
  assert.equal(ipFromBytes(null), undefined);
  assert.equal(ipToBytes('host.example'), undefined);
});
