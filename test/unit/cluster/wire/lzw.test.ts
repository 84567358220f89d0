/**
 * LZW as Go's compress/lzw (LSB, litWidth 8). The short vectors are derived by hand from the
 * algorithm; the long ones are real Go output captured from serf 0.9.4, which we must reproduce byte
 * for byte when compressing the same input.
 *
 * Packing: codes are written least significant bit first, each `width` bits wide, so a code sequence
 * c0, c1, ... at 9 bits is the little-endian integer c0 | c1 << 9 | c2 << 18 | ..., padded to a byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MessageType,
  WireError,
  compressIfSmaller,
  compressPayload,
  decodeMessage,
  decompressPayload,
  lzwCompress,
  lzwDecompress,
} from '../../../../src/cluster/wire/index.js';
import { ACK_PACKET, PUSH_PULL_REPLY } from './fixtures/serf-0.9.4.js';
import { BIG_PUSH_PULL_REPLY_B64 } from './fixtures/serf-big-push-pull.js';
import { fromHex, prng, randomBytes, toHex, utf8 } from './helpers.js';

/** Reads LSB-first codes of the given widths (an independent bit reader for checking vectors). */
function readCodes(bytes: Uint8Array, widths: number[]): number[] {
  let bit = 0;
  return widths.map((w) => {
    let c = 0;
    for (let i = 0; i < w; i++, bit++) c |= (((bytes[bit >> 3] ?? 0) >> (bit & 7)) & 1) << i;
    return c;
  });
}

test('lzw - empty input is clear + EOF', () => {
  // Go's writer opens every stream with a clear code (256) and Close writes EOF (257), both 9 bits:
  // 0x100 | 0x101 << 9 = 0x20300 -> 00 03 02.
  assert.equal(toHex(lzwCompress(new Uint8Array(0))), '000302');
  assert.deepEqual(lzwDecompress(fromHex('000302')), new Uint8Array(0));
});

test('lzw - a repetitive input: "aaaa"', () => {
  // clear 256; 'a' starts the match; next 'a': (a,a) unknown -> emit 97, define 258 = "aa";
  // next 'a': (a,a) known -> match 258; next 'a': (258,a) unknown -> emit 258, define 259;
  // Close: emit the pending 97, then EOF 257. Codes 256 97 258 97 257, all 9 bits:
  // 0x100 | 0x61<<9 | 0x102<<18 | 0x61<<27 | 0x101<<36 = 0x10130c08c300 -> 00 c3 08 0c 13 10.
  assert.equal(toHex(lzwCompress(utf8('aaaa'))), '00c3080c1310');
  assert.deepEqual(lzwDecompress(fromHex('00c3080c1310')), utf8('aaaa'));
});

test('lzw - "ababab" uses the code being defined (the KwKwK case is not needed, 258 is known)', () => {
  // Codes: 256, 97 (def 258=ab), 98 (def 259=ba), 258 (def 260=aba), then Close emits 258 and 257.
  assert.deepEqual(readCodes(lzwCompress(utf8('ababab')), [9, 9, 9, 9, 9, 9]), [256, 97, 98, 258, 258, 257]);
  assert.equal(toHex(lzwCompress(utf8('ababab'))), '00c38811283020');
});

test('lzw - the decoder handles a code equal to the next free code (KwKwK)', () => {
  // "aaa": 97 then 258 which is being defined by this very code (= "a" + "a").
  // Hand-packed codes 256, 97, 258, 257 at 9 bits.
  const v = 0x100n | (0x61n << 9n) | (0x102n << 18n) | (0x101n << 27n);
  const bytes = new Uint8Array(5);
  for (let i = 0; i < 5; i++) bytes[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  assert.deepEqual(lzwDecompress(bytes), utf8('aaa'));
});

test('lzw - the code width grows to 10 bits once code 511 is defined', () => {
  // Bytes 0..255: no pair repeats, so every step emits a literal and defines a code. After the
  // 255th emission hi reaches 512 = 1 << 9 and the width becomes 10: the pending 255 and EOF are
  // 10 bits wide. 9 + 255*9 + 10 + 10 = 2324 bits -> 291 bytes.
  const input = Uint8Array.from({ length: 256 }, (_, i) => i);
  const out = lzwCompress(input);
  assert.equal(out.length, 291);
  const widths = [...Array<number>(256).fill(9), 10, 10];
  assert.deepEqual(readCodes(out, widths), [256, ...Array.from({ length: 255 }, (_, i) => i), 255, 257]);
  assert.deepEqual(lzwDecompress(out), input);
});

test('lzw - streams from older Go writers (no leading clear) decode too', () => {
  // The same "aaaa" codes without the clear: 97 258 97 257 -> 61 04 86 09 08.
  assert.deepEqual(lzwDecompress(fromHex('6104860908')), utf8('aaaa'));
});

test('lzw - bytes after EOF are ignored; a missing EOF or an unknown code is an error', () => {
  assert.deepEqual(lzwDecompress(fromHex('00c3080c1310 ffff')), utf8('aaaa'));
  assert.throws(() => lzwDecompress(fromHex('00c3080c')), (e: unknown) => e instanceof WireError && e.reason === 'lzw-truncated');
  assert.throws(() => lzwDecompress(new Uint8Array(0)), (e: unknown) => e instanceof WireError && e.reason === 'lzw-truncated');
  // First code 300 (> hi 257): 0x12c | 0x101 << 9.
  assert.throws(() => lzwDecompress(fromHex('2c0302')), (e: unknown) => e instanceof WireError && e.reason === 'lzw-invalid');
});

test('lzw - output is capped (decompression bombs)', () => {
  const zeros = new Uint8Array(1 << 20);
  const c = lzwCompress(zeros);
  assert.ok(c.length < 20_000, `1 MiB of zeros compresses to ${c.length}`);
  assert.deepEqual(lzwDecompress(c, 1 << 20).length, 1 << 20);
  assert.throws(() => lzwDecompress(c, 4096), (e: unknown) => e instanceof WireError && e.reason === 'too-large');
});

test('lzw - round trips across table resets', () => {
  const rand = prng(7);
  for (const n of [1, 2, 3, 100, 4095, 4096, 10_000, 200_000]) {
    const rnd = randomBytes(rand, n);
    const text = Uint8Array.from({ length: n }, (_, i) => 97 + ((i * i) % 13));
    for (const input of [rnd, text]) assert.deepEqual(lzwDecompress(lzwCompress(input), n), input, `n=${n}`);
  }
});

test('lzw - matches real Go output byte for byte (serf 0.9.4 packets and streams)', () => {
  const big = Uint8Array.from(Buffer.from(BIG_PUSH_PULL_REPLY_B64, 'base64'));
  for (const [name, bytes] of [
    ['ack packet', fromHex(ACK_PACKET)],
    ['push/pull reply', fromHex(PUSH_PULL_REPLY)],
    ['402-node push/pull reply', big],
  ] as const) {
    const m = decodeMessage(bytes);
    assert.equal(m.type, MessageType.Compress, name);
    if (m.type !== MessageType.Compress) continue;
    const goBuf = m.body.Buf ?? new Uint8Array(0);
    const plain = lzwDecompress(goBuf);
    assert.equal(toHex(lzwCompress(plain)), toHex(goBuf), `${name}: our LZW equals Go's`);
    // And the whole compress message re-encodes to serf's bytes.
    assert.equal(toHex(compressPayload(plain)), toHex(bytes.subarray(0, compressPayload(plain).length)), name);
  }
  // The big one: ~50 KB of state, past 4095 codes, so it holds clear codes mid-stream.
  const m = decodeMessage(big);
  if (m.type === MessageType.Compress) assert.equal(lzwDecompress(m.body.Buf ?? new Uint8Array(0)).length, 50_508);
});

test('compress - packets compress only when it is smaller', () => {
  const small = Uint8Array.of(2, 0x81, 0xa5, 0x53, 0x65, 0x71, 0x4e, 0x6f, 0x01);
  assert.equal(compressIfSmaller(small), small, 'a 9-byte ack grows when compressed, so it stays as is');
  const big = new Uint8Array(400).fill(0x41);
  big[0] = 8;
  const c = compressIfSmaller(big);
  assert.equal(c[0], MessageType.Compress);
  assert.ok(c.length < big.length);
  assert.deepEqual(decompressPayload(c.subarray(1)), big);
  // Unknown algorithm.
  assert.throws(
    () => decompressPayload(fromHex('82 a4416c676f 01 a3427566 a0')),
    (e: unknown) => e instanceof WireError && e.reason === 'compress-algo',
  );
});
