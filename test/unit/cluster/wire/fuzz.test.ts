/**
 * Fuzzing every decoder with a seeded PRNG: random inputs and mutations of valid ones (including
 * serf's real packets and streams). For each input and decoder:
 *   - the only thing that may be thrown is a WireError;
 *   - each call returns quickly (no hangs);
 *   - what comes back is bounded by the input: the total of its bytes, characters and values
 *     (weigh below) stays under 16 x (input length + the decompression allowance) + 256, which is
 *     how we check that no input makes a decoder build more than its size allows.
 * Change SEED to explore; a failure prints the seed, the decoder and the input hex.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Keyring,
  MessageType,
  StreamReader,
  WireError,
  compressPayload,
  decodeCompoundMessage,
  decodeMessage,
  decodePacket,
  decodeSerfTags,
  decodeStream,
  decodeValue,
  encodeMessage,
  encodePacket,
  encodePushPullStream,
  encodeSerfTags,
  encodeUserMsgStream,
  encodePingStream,
  lzwCompress,
  lzwDecompress,
  makeCompoundMessage,
} from '../../../../src/cluster/wire/index.js';
import { ACK_PACKET, CRC_PACKET, ENC_ACK_PACKET, ENC_KEY, ENC_PUSH_PULL_REPLY, PUSH_PULL_REPLY, SOURCE_PING_PACKET } from './fixtures/serf-0.9.4.js';
import { fromHex, prng, randomBytes, toHex, utf8 } from './helpers.js';

const SEED = 0x5eed_2026;
const RANDOM_INPUTS = 2500;
const MUTATED_INPUTS = 4000;
const DECOMPRESS_ALLOWANCE = 64 * 1024;
const MAX_CALL_MS = 500; // generous: the machine is shared

/** Sums the sizes of everything reachable from `v` (bytes, characters, and 1 per value). */
function weigh(v: unknown, seen = new Set<unknown>()): number {
  if (v === null || v === undefined || typeof v !== 'object') return typeof v === 'string' ? v.length + 1 : 1;
  if (seen.has(v)) return 0;
  seen.add(v);
  if (v instanceof Uint8Array) return v.length + 1;
  let n = 1;
  if (Array.isArray(v)) for (const e of v) n += weigh(e, seen);
  else if (v instanceof Map) for (const [k, e] of v) n += weigh(k, seen) + weigh(e, seen);
  else for (const e of Object.values(v)) n += weigh(e, seen);
  return n;
}

const ring = new Keyring([], fromHex(ENC_KEY));

function corpus(): Uint8Array[] {
  const alive = encodeMessage(MessageType.Alive, {
    Incarnation: 3,
    Node: 'node-a',
    Addr: Uint8Array.of(10, 0, 0, 1),
    Port: 7946,
    Meta: encodeSerfTags({ role: 'web', dc: 'east' }),
    Vsn: Uint8Array.of(1, 5, 2, 2, 5, 4),
  });
  const ping = encodeMessage(MessageType.Ping, { SeqNo: 7, Node: 'b', SourceAddr: Uint8Array.of(1, 2, 3, 4), SourcePort: 1, SourceNode: 'c' });
  const msgs = [
    ping,
    encodeMessage(MessageType.IndirectPing, { SeqNo: 1, Target: Uint8Array.of(1, 2, 3, 4), Port: 9, Node: 'x', Nack: true }),
    encodeMessage(MessageType.AckResp, { SeqNo: 2, Payload: utf8('payload') }),
    encodeMessage(MessageType.Suspect, { Incarnation: 1, Node: 'a', From: 'b' }),
    alive,
    encodeMessage(MessageType.Dead, { Incarnation: 1, Node: 'a', From: 'a' }),
    encodeMessage(MessageType.NackResp, { SeqNo: 3 }),
    encodeMessage(MessageType.Err, { Error: 'e' }),
    encodeMessage(MessageType.User, utf8('user bytes')),
    encodeMessage(MessageType.HasCrc, { Payload: ping }),
  ];
  const state = {
    Join: true,
    Nodes: [0, 1, 2].map((i) => ({ Name: `n${i}`, Addr: Uint8Array.of(10, 0, 0, i), Port: 7946, Meta: null, Incarnation: i, State: i, Vsn: Uint8Array.of(1, 5, 2, 2, 5, 4) })),
    UserState: utf8('state'),
  };
  return [
    ...msgs,
    makeCompoundMessage(msgs.slice(0, 6)),
    compressPayload(makeCompoundMessage([alive, alive, alive])),
    encodePacket(makeCompoundMessage([ping, alive]), { peerProtocolMax: 5 }),
    encodePacket(alive, { keyring: ring, peerProtocolMax: 5 }),
    encodeMessage(MessageType.PushPull, state),
    encodePushPullStream(state),
    encodePushPullStream(state, { keyring: ring }),
    encodeUserMsgStream(utf8('hello'), { compress: false }),
    encodePingStream({ SeqNo: 1, Node: 'n' }),
    lzwCompress(utf8('abababababababab hello hello hello')),
    encodeSerfTags({ role: 'web', zone: 'z1' }),
    ...[ACK_PACKET, CRC_PACKET, SOURCE_PING_PACKET, ENC_ACK_PACKET, PUSH_PULL_REPLY, ENC_PUSH_PULL_REPLY].map(fromHex),
  ];
}

const INTERESTING = [0x00, 0x01, 0x06, 0x07, 0x09, 0x0a, 0x0c, 0x7f, 0x80, 0x8f, 0x90, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc6, 0xca, 0xcb, 0xce, 0xcf, 0xd3, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff];

function mutate(rand: () => number, input: Uint8Array, pool: Uint8Array[]): Uint8Array {
  const b = Array.from(input);
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 7)) {
      case 0:
        if (b.length > 0) b[at % b.length] = (b[at % b.length] ?? 0) ^ (1 << Math.floor(rand() * 8));
        break;
      case 1:
        if (b.length > 0) b[at % b.length] = INTERESTING[Math.floor(rand() * INTERESTING.length)] ?? 0;
        break;
      case 2:
        b.splice(at, 0, ...randomBytes(rand, 1 + Math.floor(rand() * 8)));
        break;
      case 3:
        b.splice(at, 1 + Math.floor(rand() * 8));
        break;
      case 4:
        b.length = Math.floor(rand() * b.length);
        break;
      case 5: {
        const other = pool[Math.floor(rand() * pool.length)] ?? new Uint8Array(0);
        const from = Math.floor(rand() * other.length);
        b.splice(at, 0, ...other.subarray(from, from + 1 + Math.floor(rand() * 64)));
        break;
      }
      default:
        // 0xff bytes over a length field make huge claims.
        for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = 0xff;
    }
  }
  return Uint8Array.from(b);
}

interface Decoder {
  readonly name: string;
  readonly run: (input: Uint8Array, rand: () => number) => unknown;
  readonly allowance: number;
}

const decoders: Decoder[] = [
  { name: 'decodeMessage', run: (i) => decodeMessage(i), allowance: 0 },
  { name: 'decodePacket', run: (i) => decodePacket(i, { maxDecompressedBytes: DECOMPRESS_ALLOWANCE }), allowance: DECOMPRESS_ALLOWANCE },
  {
    name: 'decodePacket+keys',
    run: (i) => decodePacket(i, { keyring: ring, verifyIncoming: false, maxDecompressedBytes: DECOMPRESS_ALLOWANCE }),
    allowance: DECOMPRESS_ALLOWANCE,
  },
  { name: 'decodeStream', run: (i) => decodeStream(i, { maxDecompressedBytes: DECOMPRESS_ALLOWANCE }), allowance: DECOMPRESS_ALLOWANCE },
  {
    name: 'decodeStream+keys',
    run: (i) => decodeStream(i, { keyring: ring, verifyIncoming: false, maxDecompressedBytes: DECOMPRESS_ALLOWANCE }),
    allowance: DECOMPRESS_ALLOWANCE,
  },
  {
    name: 'StreamReader chunks',
    run: (i, rand) => {
      const r = new StreamReader({ maxDecompressedBytes: DECOMPRESS_ALLOWANCE });
      for (let off = 0; off < i.length; ) {
        const n = 1 + Math.floor(rand() * 16);
        const f = r.push(i.subarray(off, off + n));
        if (f !== undefined) return f;
        off += n;
      }
      return r.finish();
    },
    allowance: DECOMPRESS_ALLOWANCE,
  },
  { name: 'lzwDecompress', run: (i) => lzwDecompress(i, DECOMPRESS_ALLOWANCE), allowance: DECOMPRESS_ALLOWANCE },
  { name: 'decodeCompoundMessage', run: (i) => decodeCompoundMessage(i), allowance: 0 },
  { name: 'decodeSerfTags', run: (i) => decodeSerfTags(i), allowance: 0 },
  { name: 'decodeValue', run: (i) => decodeValue(i), allowance: 0 },
];

function check(input: Uint8Array, rand: () => number, stats: Map<string, { ok: number; err: number; maxMs: number }>): void {
  for (const d of decoders) {
    const s = stats.get(d.name) ?? { ok: 0, err: 0, maxMs: 0 };
    stats.set(d.name, s);
    const t0 = performance.now();
    let out: unknown;
    try {
      out = d.run(input, rand);
      s.ok++;
    } catch (err) {
      s.err++;
      if (!(err instanceof WireError)) {
        assert.fail(`seed ${SEED.toString(16)}: ${d.name} threw ${String(err)} on ${toHex(input)}`);
      }
    }
    const ms = performance.now() - t0;
    s.maxMs = Math.max(s.maxMs, ms);
    assert.ok(ms < MAX_CALL_MS, `${d.name} took ${ms.toFixed(0)} ms on ${toHex(input).slice(0, 200)}`);
    if (out !== undefined) {
      const bound = 16 * (input.length + d.allowance) + 256;
      const w = weigh(out);
      assert.ok(w <= bound, `${d.name} returned weight ${w} > ${bound} for ${input.length} bytes: ${toHex(input).slice(0, 200)}`);
    }
  }
}

test('fuzz - random inputs never throw anything but WireError, never hang, stay bounded', () => {
  const rand = prng(SEED);
  const stats = new Map<string, { ok: number; err: number; maxMs: number }>();
  for (let i = 0; i < RANDOM_INPUTS; i++) {
    const len = Math.floor(rand() * (rand() < 0.8 ? 64 : 600));
    const input = randomBytes(rand, len);
    // Half the time, start with a valid type byte so the message decoders get past the first byte.
    if (len > 0 && rand() < 0.5) input[0] = Math.floor(rand() * 14);
    check(input, rand, stats);
  }
  assert.ok([...stats.values()].every((s) => s.ok + s.err === RANDOM_INPUTS));
});

test('fuzz - mutated valid inputs (ours and serf 0.9.4 captures) behave the same', () => {
  const rand = prng(SEED + 1);
  const pool = corpus();
  for (const c of pool) check(c, rand, new Map()); // the unmutated corpus too
  const stats = new Map<string, { ok: number; err: number; maxMs: number }>();
  for (let i = 0; i < MUTATED_INPUTS; i++) {
    const base = pool[Math.floor(rand() * pool.length)] ?? new Uint8Array(0);
    check(mutate(rand, base, pool), rand, stats);
  }
  // Mutations must leave some inputs decodable, or the fuzzer only tests the first check.
  assert.ok((stats.get('decodeMessage')?.ok ?? 0) > MUTATED_INPUTS / 10, JSON.stringify([...stats]));
  assert.ok((stats.get('decodePacket')?.ok ?? 0) > MUTATED_INPUTS / 10, JSON.stringify([...stats]));
});

test('fuzz - hostile length claims are refused before allocation', () => {
  const before = process.memoryUsage().arrayBuffers;
  const claims = [
    fromHex('06 83 a4 4a6f696e c2 a5 4e6f646573 ce 7fffffff ac 5573657253746174654c656e ce 7fffffff'),
    fromHex('08 81 aa 557365724d73674c656e cf 7fffffffffffffff'),
    fromHex('0a ffffffff 01'),
    fromHex('09 82 a4 416c676f 00 a3 427566 db ffffffff'),
    fromHex('07 ff'),
    fromHex('00 df ffffffff'),
    fromHex('04 81 a4 41646472 dd ffffffff'),
  ];
  for (const c of claims) {
    for (const d of decoders) {
      try {
        d.run(c, () => 0.5);
      } catch (err) {
        assert.ok(err instanceof WireError, `${d.name}: ${String(err)}`);
      }
    }
  }
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(grew < 64 * 1024 * 1024, `array buffers grew by ${grew} bytes`);
});
