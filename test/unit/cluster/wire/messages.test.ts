/**
 * Golden vectors for every memberlist v0.2.2 message type, written by hand from net.go (the structs)
 * and go-msgpack 0.5.5 (how they are written). The rules used in each comment:
 *
 * - `[type]` then a msgpack map keyed by the Go field names, **sorted by name** (helper.go sorts
 *   typeInfo.sfi by encName and kStruct walks it when writing maps);
 * - omitempty fields holding a zero value are left out and not counted in the map header;
 * - strings and []byte are raw str (fixstr below 32 bytes: 0xa0 | len), a nil []byte is 0xc0;
 * - integers in the smallest form (positive fixint up to 127, 0xcc/0xcd/0xce above).
 *
 * Where serf produced the same message (see fixtures/serf-0.9.4.ts), the vector is Go's own output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MessageType,
  NodeState,
  WireError,
  decodeMessage,
  encodeMessage,
  encodeSerfTags,
  encodeUserMsgStreamMessage,
  lzwCompress,
  makeVsn,
  parseVsn,
  type Message,
  type MessageBodies,
  type MessageTypeCode,
} from '../../../../src/cluster/wire/index.js';
import { fromHex, h, toHex, utf8 } from './helpers.js';

function golden<T extends MessageTypeCode>(type: T, body: MessageBodies[T], hex: string): void {
  const bytes = encodeMessage(type, body);
  assert.equal(toHex(bytes), toHex(fromHex(hex)), `encode type ${type}`);
  const back = decodeMessage(bytes);
  assert.equal(back.type, type);
  // Decoding then encoding gives the same bytes.
  assert.equal(toHex(encodeMessage(back.type, back.body as never)), toHex(bytes), `re-encode type ${type}`);
}

test('messages - ping (0): omitempty Source* fields are dropped', () => {
  golden(
    MessageType.Ping,
    { SeqNo: 42, Node: 's1' },
    `00 | 82 | a4 ${h('Node')} a2 ${h('s1')} | a5 ${h('SeqNo')} 2a`,
  );
});

test('messages - ping (0) with Source fields, exactly as serf 0.9.4 sent it', () => {
  // Node < SeqNo < SourceAddr < SourceNode < SourcePort; 17946 = 0x461a as uint16.
  golden(
    MessageType.Ping,
    { SeqNo: 1, Node: 'ts1', SourceAddr: Uint8Array.of(127, 0, 0, 1), SourcePort: 17946, SourceNode: 's1' },
    `00 | 85 | a4 ${h('Node')} a3 ${h('ts1')} | a5 ${h('SeqNo')} 01 | aa ${h('SourceAddr')} a4 7f000001 |
     aa ${h('SourceNode')} a2 ${h('s1')} | aa ${h('SourcePort')} cd 461a`,
  );
});

test('messages - indirectPingReq (1)', () => {
  // Nack < Node ('a' < 'o') < Port < SeqNo < Target; true is 0xc3; 7946 = 0x1f0a.
  golden(
    MessageType.IndirectPing,
    { SeqNo: 7, Target: Uint8Array.of(10, 0, 0, 2), Port: 7946, Node: 'n2', Nack: true },
    `01 | 85 | a4 ${h('Nack')} c3 | a4 ${h('Node')} a2 ${h('n2')} | a4 ${h('Port')} cd 1f0a |
     a5 ${h('SeqNo')} 07 | a6 ${h('Target')} a4 0a000002`,
  );
});

test('messages - ackResp (2): nil payload is 0xc0, a 32-byte payload is str16 (never str8)', () => {
  // Go's TCP ping handler sends ackResp{SeqNo, nil}. 300 = 0x012c as uint16.
  golden(MessageType.AckResp, { SeqNo: 300, Payload: null }, `02 | 82 | a7 ${h('Payload')} c0 | a5 ${h('SeqNo')} cd 012c`);
  golden(
    MessageType.AckResp,
    { SeqNo: 1, Payload: new Uint8Array(32).fill(7) },
    `02 | 82 | a7 ${h('Payload')} da 0020 ${'07'.repeat(32)} | a5 ${h('SeqNo')} 01`,
  );
});

test('messages - suspect (3)', () => {
  golden(
    MessageType.Suspect,
    { Incarnation: 5, Node: 'n2', From: 'n1' },
    `03 | 83 | a4 ${h('From')} a2 ${h('n1')} | ab ${h('Incarnation')} 05 | a4 ${h('Node')} a2 ${h('n2')}`,
  );
});

test('messages - alive (4), as serf 0.9.4 re-broadcast our node', () => {
  // Addr < Incarnation < Meta < Node < Port < Vsn. Meta is serf tags: ff + {role: "ts-probe"}
  // (16 bytes, fixstr b0). Vsn is bytes, not an array: a6 + 6 bytes.
  const meta = encodeSerfTags({ role: 'ts-probe' });
  assert.equal(toHex(meta), `ff81a4${h('role')}a8${h('ts-probe')}`);
  golden(
    MessageType.Alive,
    { Incarnation: 1, Node: 'ts1', Addr: Uint8Array.of(127, 0, 0, 2), Port: 17946, Meta: meta, Vsn: Uint8Array.of(1, 5, 2, 2, 5, 4) },
    `04 | 86 | a4 ${h('Addr')} a4 7f000002 | ab ${h('Incarnation')} 01 | a4 ${h('Meta')} b0 ${toHex(meta)} |
     a4 ${h('Node')} a3 ${h('ts1')} | a4 ${h('Port')} cd 461a | a3 ${h('Vsn')} a6 010502020504`,
  );
});

test('messages - dead (5): From == Node is a graceful leave', () => {
  golden(
    MessageType.Dead,
    { Incarnation: 2, Node: 'n1', From: 'n1' },
    `05 | 83 | a4 ${h('From')} a2 ${h('n1')} | ab ${h('Incarnation')} 02 | a4 ${h('Node')} a2 ${h('n1')}`,
  );
});

test('messages - pushPull (6): header, node states, raw user state', () => {
  // Header: Join < Nodes < UserStateLen. Node: Addr < Incarnation < Meta < Name < Port < State < Vsn;
  // Meta nil (no delegate) is c0; State is a Go int (alive = 0). Then the 2 user-state bytes, raw.
  golden(
    MessageType.PushPull,
    {
      Join: true,
      Nodes: [{ Name: 'n1', Addr: Uint8Array.of(10, 0, 0, 1), Port: 7946, Meta: null, Incarnation: 3, State: NodeState.Alive, Vsn: Uint8Array.of(1, 5, 2, 2, 5, 4) }],
      UserState: Uint8Array.of(0x02, 0x80),
    },
    `06 | 83 a4 ${h('Join')} c3 a5 ${h('Nodes')} 01 ac ${h('UserStateLen')} 02 |
     87 a4 ${h('Addr')} a4 0a000001 ab ${h('Incarnation')} 03 a4 ${h('Meta')} c0 a4 ${h('Name')} a2 ${h('n1')}
        a4 ${h('Port')} cd 1f0a a5 ${h('State')} 00 a3 ${h('Vsn')} a6 010502020504 |
     02 80`,
  );
});

test('messages - compound (7): [count][u16 BE lengths][parts]', () => {
  golden(
    MessageType.Compound,
    { Parts: [Uint8Array.of(8, 0x41), Uint8Array.of(11, 0x81, 0xa5, ...utf8('SeqNo'), 0x07)] },
    `07 | 02 | 0002 0009 | 08 41 | 0b 81 a5 ${h('SeqNo')} 07`,
  );
});

test('messages - user (8): raw bytes in a packet; header + bytes on a stream', () => {
  golden(MessageType.User, utf8('hi'), `08 ${h('hi')}`);
  // Stream form (net.go sendUserMsg): [8] userMsgHeader{UserMsgLen: 3} then the bytes.
  assert.equal(toHex(encodeUserMsgStreamMessage(utf8('abc'))), toHex(fromHex(`08 81 aa ${h('UserMsgLen')} 03 ${h('abc')}`)));
});

test('messages - compress (9): Algo 0 (LZW) and the compressed bytes', () => {
  // lzw("aaaa") = 00c3080c1310 (derived in lzw.test.ts).
  const buf = lzwCompress(utf8('aaaa'));
  golden(MessageType.Compress, { Algo: 0, Buf: buf }, `09 | 82 | a4 ${h('Algo')} 00 | a3 ${h('Buf')} a6 00c3080c1310`);
});

test('messages - encrypt (10): the stream frame [10][u32 BE len][payload]', () => {
  golden(MessageType.Encrypt, { Payload: Uint8Array.of(1, 2, 3) }, '0a 00000003 010203');
});

test('messages - nackResp (11)', () => {
  // 70000 = 0x11170 needs uint32.
  golden(MessageType.NackResp, { SeqNo: 70000 }, `0b | 81 | a5 ${h('SeqNo')} ce 00011170`);
});

test('messages - hasCrc (12): CRC-32/IEEE big-endian over the rest', () => {
  // The check value of CRC-32/IEEE: crc32("123456789") = 0xcbf43926.
  golden(MessageType.HasCrc, { Payload: utf8('123456789') }, `0c cbf43926 ${h('123456789')}`);
  const bad = fromHex(`0c cbf43927 ${h('123456789')}`);
  assert.throws(() => decodeMessage(bad), (e: unknown) => e instanceof WireError && e.reason === 'crc-mismatch');
});

test('messages - errResp (13)', () => {
  golden(MessageType.Err, { Error: 'boom' }, `0d | 81 | a5 ${h('Error')} a4 ${h('boom')}`);
});

test('messages - decoding fills Go zero values and skips unknown fields', () => {
  // An alive with only Node and an extra field "X": [1,2] that Go would skip.
  const m = decodeMessage(fromHex(`04 82 a4 ${h('Node')} a2 ${h('n9')} a1 ${h('X')} 92 01 02`));
  assert.deepEqual(m, {
    type: MessageType.Alive,
    body: { Incarnation: 0, Node: 'n9', Addr: null, Port: 0, Meta: null, Vsn: null },
  });
  // nil for a field is the zero value; keys may come in any order; duplicates: the last wins.
  const p = decodeMessage(fromHex(`00 83 a5 ${h('SeqNo')} 05 a4 ${h('Node')} c0 a5 ${h('SeqNo')} 06`));
  assert.deepEqual(p.body, { SeqNo: 6, Node: '', SourceAddr: null, SourcePort: 0, SourceNode: '' });
});

test('messages - decoding accepts the new-spec forms Go accepts (str8, bin, arrays for bytes)', () => {
  // Addr as bin8, Node as str8, Vsn as an array of fixints (go-msgpack decodes arrays into []uint8).
  const m = decodeMessage(
    fromHex(`04 84 a4 ${h('Addr')} c4 04 7f000001 a4 ${h('Node')} d9 02 ${h('n1')} a4 ${h('Port')} cd 1f0a a3 ${h('Vsn')} 96 01 05 02 02 05 04`),
  );
  assert.equal(m.type, MessageType.Alive);
  if (m.type !== MessageType.Alive) return;
  assert.deepEqual(m.body.Addr, Uint8Array.of(127, 0, 0, 1));
  assert.equal(m.body.Node, 'n1');
  assert.deepEqual(parseVsn(m.body.Vsn), { pmin: 1, pmax: 5, pcur: 2, dmin: 2, dmax: 5, dcur: 4 });
  // The array form of a struct (fields in declaration order) is accepted too.
  const s = decodeMessage(fromHex(`03 93 05 a2 ${h('n2')} a2 ${h('n1')}`));
  assert.deepEqual(s.body, { Incarnation: 5, Node: 'n2', From: 'n1' });
});

test('messages - type ranges are enforced in both directions', () => {
  assert.throws(() => encodeMessage(MessageType.Ping, { SeqNo: 2 ** 32, Node: 'x' }), (e: unknown) => e instanceof WireError && e.reason === 'invalid-value');
  assert.throws(
    () => encodeMessage(MessageType.IndirectPing, { SeqNo: 1, Target: null, Port: 70000, Node: 'x', Nack: false }),
    (e: unknown) => e instanceof WireError && e.reason === 'invalid-value',
  );
  // A Port of 65536 on the wire does not fit the Go uint16.
  assert.throws(() => decodeMessage(fromHex(`04 81 a4 ${h('Port')} ce 00010000`)), (e: unknown) => e instanceof WireError && e.reason === 'int-range');
  // A string where a number belongs.
  assert.throws(() => decodeMessage(fromHex(`00 81 a5 ${h('SeqNo')} a1 ${h('x')}`)), (e: unknown) => e instanceof WireError && e.reason === 'type-mismatch');
});

test('messages - Meta is limited to 512 bytes and Vsn must be 6 bytes when encoding', () => {
  const base = { Incarnation: 1, Node: 'n', Addr: Uint8Array.of(1, 2, 3, 4), Port: 1, Vsn: makeVsn({ pmin: 1, pmax: 5, pcur: 2, dmin: 2, dmax: 5, dcur: 4 }) };
  encodeMessage(MessageType.Alive, { ...base, Meta: new Uint8Array(512) });
  assert.throws(() => encodeMessage(MessageType.Alive, { ...base, Meta: new Uint8Array(513) }), (e: unknown) => e instanceof WireError && e.reason === 'meta-too-large');
  assert.throws(
    () => encodeMessage(MessageType.PushPull, { Join: false, Nodes: [{ Name: 'n', Addr: null, Port: 1, Meta: new Uint8Array(600), Incarnation: 1, State: 0, Vsn: null }], UserState: null }),
    (e: unknown) => e instanceof WireError && e.reason === 'meta-too-large',
  );
  assert.throws(() => encodeMessage(MessageType.Alive, { ...base, Meta: null, Vsn: Uint8Array.of(1, 5, 2) }), (e: unknown) => e instanceof WireError && e.reason === 'invalid-value');
  assert.equal(parseVsn(Uint8Array.of(1, 2, 3)), undefined);
});

test('messages - unknown and label types are refused', () => {
  assert.throws(() => decodeMessage(fromHex('0e')), (e: unknown) => e instanceof WireError && e.reason === 'unknown-message-type');
  assert.throws(() => decodeMessage(fromHex('f4 03 616263')), (e: unknown) => e instanceof WireError && /hasLabel/.test(e.message));
  assert.throws(() => decodeMessage(new Uint8Array(0)), (e: unknown) => e instanceof WireError && e.reason === 'empty');
});

test('messages - round trips of every type', () => {
  const samples: Message[] = [
    { type: 0, body: { SeqNo: 0xffffffff, Node: 'ünïcødé', SourceAddr: new Uint8Array(16).fill(0xfe), SourcePort: 65535, SourceNode: 'x'.repeat(300) } },
    { type: 1, body: { SeqNo: 1, Target: Uint8Array.of(1, 2, 3, 4), Port: 1, Node: '', Nack: false, SourceAddr: null, SourcePort: 0, SourceNode: '' } },
    { type: 2, body: { SeqNo: 9, Payload: new Uint8Array(70000).fill(3) } },
    { type: 3, body: { Incarnation: 0xffffffff, Node: 'a', From: 'b' } },
    { type: 5, body: { Incarnation: 0, Node: '', From: '' } },
    { type: 6, body: { Join: false, Nodes: [], UserState: null } },
    { type: 7, body: { Parts: [Uint8Array.of(8)], Truncated: 0 } },
    { type: 8, body: new Uint8Array(0) },
    { type: 9, body: { Algo: 0, Buf: null } },
    { type: 11, body: { SeqNo: 0 } },
    { type: 13, body: { Error: '' } },
  ];
  for (const m of samples) {
    const back = decodeMessage(encodeMessage(m.type, m.body as never));
    assert.deepEqual(back, m, `type ${m.type}`);
  }
});
