/** TCP stream framing (net.go readStream, sendLocalState, readRemoteState, readUserMsg, encryptLocalState). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Keyring,
  MessageType,
  StreamReader,
  WireError,
  decodeSerfTags,
  decodeStream,
  decryptPayload,
  encodeAckStream,
  encodeErrStream,
  encodeMessage,
  encodePingStream,
  encodePushPullStream,
  encodeStream,
  encodeUserMsgStream,
  encryptPayload,
  encryptStreamFrame,
  compressPayload,
  type PushPull,
  type StreamFrame,
} from '../../../../src/cluster/wire/index.js';
import { ENC_KEY, ENC_PUSH_PULL_REPLY, PUSH_PULL_REPLY } from './fixtures/serf-0.9.4.js';
import { BIG_PUSH_PULL_REPLY_B64 } from './fixtures/serf-big-push-pull.js';
import { fromHex, h, prng, toHex, utf8 } from './helpers.js';

const state: PushPull = {
  Join: true,
  Nodes: Array.from({ length: 20 }, (_, i) => ({
    Name: `node-${i}`,
    Addr: Uint8Array.of(10, 0, 0, i),
    Port: 7946,
    Meta: utf8(`meta-${i}`),
    Incarnation: i,
    State: i % 4,
    Vsn: Uint8Array.of(1, 5, 2, 2, 5, 4),
  })),
  UserState: utf8('user state bytes'),
};

/** Feeds `bytes` in pieces and checks the frame appears exactly when the last needed byte arrives. */
function feed(bytes: Uint8Array, sizes: () => number, options = {}): StreamFrame {
  const r = new StreamReader(options);
  let off = 0;
  let frame: StreamFrame | undefined;
  while (off < bytes.length) {
    const n = Math.max(1, Math.min(bytes.length - off, sizes()));
    frame = r.push(bytes.subarray(off, off + n));
    off += n;
    if (frame !== undefined) break;
  }
  assert.ok(frame, 'frame complete');
  assert.equal(off, bytes.length, 'the frame completes with the last byte');
  return frame;
}

test('stream - push/pull: plain, compressed and encrypted round trips', () => {
  const ring = new Keyring([], new Uint8Array(32).fill(7));
  for (const opts of [{ compress: false }, {}, { keyring: ring }, { keyring: ring, compress: false }]) {
    const bytes = encodePushPullStream(state, opts);
    const f = decodeStream(bytes, { keyring: opts.keyring });
    assert.deepEqual(f.message, { type: MessageType.PushPull, body: state });
    assert.equal(f.compressed, opts.compress !== false);
    assert.equal(f.encrypted, opts.keyring !== undefined);
    assert.equal(f.length, bytes.length);
  }
});

test('stream - onMessageType sees the type once, before the body is parsed, through every layer; a throw stops the read', () => {
  const ring = new Keyring([], new Uint8Array(32).fill(7));
  for (const opts of [{ compress: false }, {}, { keyring: ring }]) {
    const bytes = encodePushPullStream(state, opts);
    const seen: number[] = [];
    const f = feed(bytes, () => 7, { keyring: opts.keyring, onMessageType: (t: number) => seen.push(t) });
    assert.equal(f.message.type, MessageType.PushPull);
    assert.deepEqual(seen, [MessageType.PushPull]);
  }
  // Plaintext: the type is known from the first byte, so a refusal reads nothing more.
  const refused = new Error('refused');
  const r = new StreamReader({ onMessageType: () => { throw refused; } });
  const plain = encodePushPullStream(state, { compress: false });
  assert.throws(() => r.push(plain.subarray(0, 1)), refused);
  assert.equal(r.buffered, 1);
});

test('stream - the reader works on arbitrary chunks, down to one byte at a time', () => {
  const rand = prng(11);
  const ring = new Keyring([], new Uint8Array(16).fill(3));
  for (const opts of [{ compress: false }, {}, { keyring: ring }]) {
    const bytes = encodePushPullStream(state, opts);
    const one = feed(bytes, () => 1, { keyring: opts.keyring });
    assert.deepEqual(one.message.body, state);
    const random = feed(bytes, () => Math.floor(rand() * 50), { keyring: opts.keyring });
    assert.deepEqual(random.message.body, state);
  }
});

test('stream - the plain layout is [6] header nodes userstate, uncompressed', () => {
  const small: PushPull = { Join: false, Nodes: [], UserState: utf8('ab') };
  const bytes = encodePushPullStream(small, { compress: false });
  assert.equal(toHex(bytes), toHex(fromHex(`06 83 a4 ${h('Join')} c2 a5 ${h('Nodes')} 00 ac ${h('UserStateLen')} 02 ${h('ab')}`)));
  // Trailing bytes after the message are not part of it.
  const f = decodeStream(Uint8Array.of(...bytes, 0xff, 0xff));
  assert.equal(f.length, bytes.length);
});

test('stream - encryption: [10][u32 BE length][sealed], the first 5 bytes are the AAD', () => {
  const key = new Uint8Array(16).fill(1);
  const nonce = new Uint8Array(12).fill(2);
  const msg = encodeMessage(MessageType.Ping, { SeqNo: 1, Node: 'n' });
  const frame = encryptStreamFrame(msg, key, 1, nonce);
  const len = 1 + 12 + msg.length + 16;
  assert.equal(toHex(frame.subarray(0, 18)), '0a' + len.toString(16).padStart(8, '0') + '01' + '02'.repeat(12));
  assert.equal(frame.length, 5 + len);
  assert.deepEqual(decryptPayload([key], frame.subarray(5), frame.subarray(0, 5)), msg);
  // The same payload sealed without the header as AAD (as packets are) is refused on a stream.
  const noAad = encryptPayload(1, key, msg, undefined, nonce);
  const forged = Uint8Array.of(...frame.subarray(0, 5), ...noAad);
  assert.throws(
    () => decodeStream(forged, { keyring: new Keyring([], key) }),
    (e: unknown) => e instanceof WireError && e.reason === 'decrypt-failed',
  );
});

test('stream - plaintext is refused when keys are set (unless verifyIncoming is off); ciphertext without keys too', () => {
  const ring = new Keyring([], new Uint8Array(24).fill(4));
  const plain = encodePushPullStream(state);
  assert.throws(() => decodeStream(plain, { keyring: ring }), (e: unknown) => e instanceof WireError && e.reason === 'not-encrypted');
  assert.deepEqual(decodeStream(plain, { keyring: ring, verifyIncoming: false }).message.body, state);
  const sealed = encodePushPullStream(state, { keyring: ring });
  assert.throws(() => decodeStream(sealed), (e: unknown) => e instanceof WireError && e.reason === 'unexpected-encryption');
  const other = new Keyring([], new Uint8Array(24).fill(5));
  assert.throws(() => decodeStream(sealed, { keyring: other }), (e: unknown) => e instanceof WireError && e.reason === 'decrypt-failed');
  // Rotation: the reader's ring has the sender's key as a secondary key.
  other.addKey(new Uint8Array(24).fill(4));
  assert.deepEqual(decodeStream(sealed, { keyring: other }).message.body, state);
});

test('stream - user messages, TCP ping/ack and errors', () => {
  const u = decodeStream(encodeUserMsgStream(utf8('hello')));
  assert.deepEqual(u.message, { type: MessageType.User, body: utf8('hello') });
  assert.deepEqual(decodeStream(encodeUserMsgStream(new Uint8Array(0), { compress: false })).message, {
    type: MessageType.User,
    body: new Uint8Array(0),
  });
  const p = decodeStream(encodePingStream({ SeqNo: 9, Node: 's1' }));
  assert.deepEqual(p.message, { type: MessageType.Ping, body: { SeqNo: 9, Node: 's1', SourceAddr: null, SourcePort: 0, SourceNode: '' } });
  const a = decodeStream(encodeAckStream({ SeqNo: 9, Payload: null }));
  assert.deepEqual(a.message, { type: MessageType.AckResp, body: { SeqNo: 9, Payload: null } });
  const e = decodeStream(encodeErrStream({ Error: 'nope' }, { compress: false }));
  assert.deepEqual(e.message, { type: MessageType.Err, body: { Error: 'nope' } });
});

test('stream - only ping, ack, push/pull, user and err are stream messages; one compress layer only', () => {
  const suspect = encodeMessage(MessageType.Suspect, { Incarnation: 1, Node: 'a', From: 'b' });
  assert.throws(() => decodeStream(suspect), (e: unknown) => e instanceof WireError && e.reason === 'unexpected-message-type');
  const twice = compressPayload(compressPayload(encodeMessage(MessageType.Ping, { SeqNo: 1, Node: '' })));
  assert.throws(() => decodeStream(twice), (e: unknown) => e instanceof WireError && e.reason === 'unexpected-message-type');
});

test('stream - limits: node counts, user state and totals that cannot fit are refused early', () => {
  const refuse = (bytes: Uint8Array, reason: string, options = {}): void =>
    assert.throws(() => new StreamReader(options).push(bytes), (e: unknown) => e instanceof WireError && e.reason === reason, reason);
  // A header claiming 2^31 nodes (and then nothing): refused from the header alone.
  refuse(fromHex(`06 83 a4 ${h('Join')} c2 a5 ${h('Nodes')} ce 80000000 ac ${h('UserStateLen')} 00`), 'too-large');
  // More nodes than the stream cap could hold at one byte each.
  refuse(fromHex(`06 83 a4 ${h('Join')} c2 a5 ${h('Nodes')} cd 1000 ac ${h('UserStateLen')} 00`), 'too-large', { maxBytes: 1000 });
  refuse(fromHex(`06 83 a4 ${h('Join')} c2 a5 ${h('Nodes')} 00 ac ${h('UserStateLen')} ce 7fffffff`), 'too-large');
  refuse(fromHex(`06 83 a4 ${h('Join')} c2 a5 ${h('Nodes')} ff ac ${h('UserStateLen')} 00`), 'int-range');
  refuse(fromHex(`08 81 aa ${h('UserMsgLen')} ce 7fffffff`), 'too-large');
  // An encrypted frame longer than maxPushStateBytes (20 MiB).
  refuse(fromHex('0a 01400001'), 'too-large', { keyring: new Keyring([], new Uint8Array(16)) });
  // A plain stream past maxBytes.
  refuse(encodePushPullStream(state, { compress: false }), 'too-large', { maxBytes: 100 });
  // Compressed: the inflated size is capped.
  refuse(encodeUserMsgStream(new Uint8Array(100_000)), 'too-large', { maxDecompressedBytes: 1000 });
  // A whole buffer that ends early.
  const cut = encodePushPullStream(state, { compress: false }).subarray(0, 50);
  const r = new StreamReader();
  assert.equal(r.push(cut), undefined);
  assert.throws(() => r.finish(), (e: unknown) => e instanceof WireError && e.reason === 'stream-incomplete');
});

test('stream - serf 0.9.4: the compressed push/pull reply to a join', () => {
  const f = decodeStream(fromHex(PUSH_PULL_REPLY));
  assert.equal(f.compressed, true);
  assert.equal(f.message.type, MessageType.PushPull);
  if (f.message.type !== MessageType.PushPull) return;
  const [s1] = f.message.body.Nodes;
  assert.equal(f.message.body.Nodes.length, 1, 'serf answers before merging our state');
  assert.equal(s1?.Name, 's1');
  assert.deepEqual(s1?.Vsn, Uint8Array.of(1, 5, 2, 2, 5, 5));
  assert.deepEqual(decodeSerfTags(s1?.Meta ?? null), new Map([['role', 'anchor']]));
  assert.equal(f.message.body.UserState?.[0], 2, 'serf user state: messagePushPullType');
  assert.equal(f.message.body.Join, true, 'handleConn echoes the Join flag it read (sendLocalState(conn, join))');
  // Re-encoding what we decoded gives serf's exact bytes.
  assert.equal(toHex(encodeStream(encodeMessage(MessageType.PushPull, f.message.body))), PUSH_PULL_REPLY);
});

test('stream - serf 0.9.4 with -encrypt: the sealed push/pull reply', () => {
  const f = decodeStream(fromHex(ENC_PUSH_PULL_REPLY), { keyring: new Keyring([], fromHex(ENC_KEY)) });
  assert.equal(f.encrypted, true);
  assert.equal(f.compressed, true);
  assert.equal(f.message.type, MessageType.PushPull);
});

test('stream - serf 0.9.4: a 402-node push/pull in 1400-byte chunks', () => {
  const bytes = Uint8Array.from(Buffer.from(BIG_PUSH_PULL_REPLY_B64, 'base64'));
  const f = feed(bytes, () => 1400);
  assert.equal(f.message.type, MessageType.PushPull);
  if (f.message.type !== MessageType.PushPull) return;
  assert.equal(f.message.body.Nodes.length, 402);
  const fake = f.message.body.Nodes.find((n) => n.Name.startsWith('fake-7-'));
  assert.equal(decodeSerfTags(fake?.Meta ?? null).get('zone'), 'z0');
  assert.equal(toHex(encodeStream(encodeMessage(MessageType.PushPull, f.message.body))), toHex(bytes));
});
