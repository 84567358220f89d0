/** The UDP pipeline (net.go rawSendMsgPacket / ingestPacket / handleCommand), including serf's packets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Keyring,
  MessageType,
  WireError,
  crc32,
  decodePacket,
  decodeSerfTags,
  encodeMessage,
  encodePacket,
  makeCompoundMessage,
  compressPayload,
  type PacketMessage,
} from '../../../../src/cluster/wire/index.js';
import { ACK_PACKET, CRC_PACKET, ENC_ACK_PACKET, ENC_KEY, SOURCE_PING_PACKET } from './fixtures/serf-0.9.4.js';
import { fromHex, toHex } from './helpers.js';

const ping = encodeMessage(MessageType.Ping, { SeqNo: 42, Node: 's1' });
const bigUser = encodeMessage(MessageType.User, new Uint8Array(600).fill(0x61));

test('packet - send: plain by default; compressed only when smaller', () => {
  assert.equal(toHex(encodePacket(ping)), toHex(ping), 'a ping does not shrink');
  const out = encodePacket(bigUser);
  assert.equal(out[0], MessageType.Compress);
  assert.ok(out.length < bigUser.length);
  assert.equal(toHex(encodePacket(bigUser, { compress: false })), toHex(bigUser));
});

test('packet - send: a CRC header only for peers speaking protocol 5', () => {
  assert.equal(toHex(encodePacket(ping, { peerProtocolMax: 4 })), toHex(ping));
  const out = encodePacket(ping, { peerProtocolMax: 5 });
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(ping));
  assert.equal(toHex(out), '0c' + crc.toString('hex') + toHex(ping));
});

test('packet - send: encrypt last, with the primary key and no AAD', () => {
  const key = new Uint8Array(16).fill(5);
  const ring = new Keyring([], key);
  const out = encodePacket(bigUser, { keyring: ring, peerProtocolMax: 5 });
  assert.equal(out[0], 1, 'encryption version 1');
  const back = decodePacket(out, { keyring: ring });
  assert.equal(back.encrypted, true);
  assert.equal(back.checksummed, true);
  assert.deepEqual(back.messages, [{ type: MessageType.User, body: bigUser.subarray(1) }]);
  // verifyOutgoing off: plaintext even with keys.
  assert.equal(toHex(encodePacket(ping, { keyring: ring, verifyOutgoing: false })), toHex(ping));
});

test('packet - receive: a packet no key opens is dropped, unless verifyIncoming is off', () => {
  const ring = new Keyring([], new Uint8Array(32).fill(1));
  assert.throws(() => decodePacket(ping, { keyring: ring }), (e: unknown) => e instanceof WireError && e.reason === 'decrypt-failed');
  const lax = decodePacket(ping, { keyring: ring, verifyIncoming: false });
  assert.equal(lax.encrypted, false);
  assert.equal(lax.messages[0]?.type, MessageType.Ping);
  const wrong = encodePacket(ping, { keyring: new Keyring([], new Uint8Array(32).fill(2)) });
  assert.throws(() => decodePacket(wrong, { keyring: ring }), (e: unknown) => e instanceof WireError && e.reason === 'decrypt-failed');
});

test('packet - receive: a CRC mismatch drops the packet', () => {
  const out = encodePacket(ping, { peerProtocolMax: 5 });
  out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0xff;
  assert.throws(() => decodePacket(out), (e: unknown) => e instanceof WireError && e.reason === 'crc-mismatch');
  // Fewer than 5 bytes starting with 12 is not a CRC header; it is an unsupported type.
  const short = decodePacket(fromHex('0c0102'));
  assert.equal(short.messages.length, 0);
  assert.equal(short.dropped[0]?.reason, 'unexpected-message-type');
});

test('packet - receive: compound and compress are opened; bad parts are dropped, good ones kept', () => {
  const alive = encodeMessage(MessageType.Dead, { Incarnation: 1, Node: 'a', From: 'b' });
  const packet = makeCompoundMessage([
    ping,
    fromHex('ff'), // unknown type
    encodeMessage(MessageType.Err, { Error: 'x' }), // not allowed in packets
    compressPayload(makeCompoundMessage([alive, alive])),
    fromHex('0081'), // a truncated ping
  ]);
  const r = decodePacket(packet);
  assert.deepEqual(
    r.messages.map((m: PacketMessage) => m.type),
    [MessageType.Ping, MessageType.Dead, MessageType.Dead],
  );
  assert.deepEqual(
    r.dropped.map((e) => e.reason),
    ['unknown-message-type', 'unexpected-message-type', 'truncated'],
  );
  // Truncated compound: the missing parts are counted.
  const cut = packet.subarray(0, packet.length - 1);
  assert.equal(decodePacket(cut).truncated, 1);
});

test('packet - receive: nesting and decompression are bounded', () => {
  let m = ping;
  for (let i = 0; i < 6; i++) m = makeCompoundMessage([m]);
  const r = decodePacket(m);
  assert.equal(r.messages.length, 0);
  assert.equal(r.dropped[0]?.reason, 'nesting-too-deep');
  assert.equal(decodePacket(m, { maxNesting: 8 }).messages.length, 1);
  const bomb = compressPayload(encodeMessage(MessageType.User, new Uint8Array(200_000)));
  assert.equal(decodePacket(bomb, { maxDecompressedBytes: 10_000 }).dropped[0]?.reason, 'too-large');
  assert.throws(() => decodePacket(new Uint8Array(0)), (e: unknown) => e instanceof WireError && e.reason === 'empty');
});

test('packet - serf 0.9.4: compressed ack + alive', () => {
  const r = decodePacket(fromHex(ACK_PACKET));
  assert.equal(r.dropped.length, 0);
  const [ack, alive] = r.messages;
  assert.equal(ack?.type, MessageType.AckResp);
  if (ack?.type === MessageType.AckResp) {
    assert.equal(ack.body.SeqNo, 42);
    assert.equal(ack.body.Payload?.length, 130);
    assert.equal(ack.body.Payload?.[0], 1, 'serf ping delegate: version byte 1, then a msgpack coordinate');
  }
  assert.equal(alive?.type, MessageType.Alive);
  if (alive?.type === MessageType.Alive) {
    assert.equal(alive.body.Node, 's1');
    assert.deepEqual(alive.body.Addr, Uint8Array.of(127, 0, 0, 1));
    assert.equal(alive.body.Port, 17946);
    assert.deepEqual(alive.body.Vsn, Uint8Array.of(1, 5, 2, 2, 5, 5));
    assert.deepEqual(decodeSerfTags(alive.body.Meta), new Map([['role', 'anchor']]));
  }
  // Re-encode: compress(compound(ack, alive)) is exactly what serf sent.
  const again = compressPayload(makeCompoundMessage(r.messages.map((m) => encodeMessage(m.type, m.body as never))));
  assert.equal(toHex(again), ACK_PACKET);
});

test('packet - serf 0.9.4: a CRC-protected compound, and a ping with Source fields', () => {
  const r = decodePacket(fromHex(CRC_PACKET));
  assert.equal(r.checksummed, true);
  assert.equal(r.dropped.length, 0);
  assert.ok(r.messages.length >= 2);
  assert.ok(r.messages.every((m) => m.type === MessageType.Alive));
  const p = decodePacket(fromHex(SOURCE_PING_PACKET)).messages[0];
  assert.deepEqual(p, {
    type: MessageType.Ping,
    body: { SeqNo: 1, Node: 'ts1', SourceAddr: Uint8Array.of(127, 0, 0, 1), SourcePort: 17946, SourceNode: 's1' },
  });
});

test('packet - serf 0.9.4 with -encrypt: the ack opens with the key', () => {
  const ring = new Keyring([], fromHex(ENC_KEY));
  const r = decodePacket(fromHex(ENC_ACK_PACKET), { keyring: ring });
  assert.equal(r.encrypted, true);
  assert.equal(r.messages[0]?.type, MessageType.AckResp);
  assert.throws(() => decodePacket(fromHex(ENC_ACK_PACKET), { keyring: new Keyring([], new Uint8Array(32)) }), WireError);
});
