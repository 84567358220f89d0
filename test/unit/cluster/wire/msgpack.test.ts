/**
 * msgpack as go-msgpack v0.5.5 writes it with MsgpackHandle{} (WriteExt=false): the expected bytes
 * follow codec/msgpack.go encodeUint / encodeInt / writeContainerLen, derived by hand below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MsgpackReader, MsgpackWriter, WireError, decodeValue, encodeValue, type MsgpackValue } from '../../../../src/cluster/wire/index.js';
import { fromHex, toHex } from './helpers.js';

const enc = (f: (w: MsgpackWriter) => void): string => {
  const w = new MsgpackWriter();
  f(w);
  return toHex(w.finish());
};

test('msgpack - unsigned integers take the smallest form (encodeUint)', () => {
  const cases: [number | bigint, string][] = [
    [0, '00'], // positive fixint
    [127, '7f'], // i <= MaxInt8: still one byte
    [128, 'cc80'], // uint8
    [255, 'ccff'],
    [256, 'cd0100'], // uint16 big-endian
    [7946, 'cd1f0a'], // memberlist's default port
    [65535, 'cdffff'],
    [65536, 'ce00010000'], // uint32
    [0xffffffff, 'ceffffffff'],
    [0x100000000, 'cf0000000100000000'], // uint64
    [0xffffffffffffffffn, 'cfffffffffffffffff'],
  ];
  for (const [n, hex] of cases) assert.equal(enc((w) => w.uint(n)), hex, `uint ${n}`);
});

test('msgpack - Go ints: non-negative as unsigned, negative in the smallest signed form (encodeInt)', () => {
  const cases: [number | bigint, string][] = [
    [0, '00'],
    [300, 'cd012c'], // a Go int 300 is written as uint16, never int16
    [-1, 'ff'], // negative fixint
    [-32, 'e0'],
    [-33, 'd0df'], // int8
    [-128, 'd080'],
    [-129, 'd1ff7f'], // int16
    [-32768, 'd18000'],
    [-32769, 'd2ffff7fff'], // int32
    [-2147483648, 'd280000000'],
    [-2147483649, 'd3ffffffff7fffffff'], // int64
  ];
  for (const [n, hex] of cases) assert.equal(enc((w) => w.int(n)), hex, `int ${n}`);
});

test('msgpack - strings and byte slices are raw str: fixstr < 32, then str16, then str32; never str8 or bin', () => {
  assert.equal(enc((w) => w.str('')), 'a0');
  assert.equal(enc((w) => w.str('Node')), 'a44e6f6465');
  assert.equal(enc((w) => w.bytes(new Uint8Array(31))), 'bf' + '00'.repeat(31));
  // 32 bytes: str8 (d9 20) would be shorter, but go-msgpack only writes it with WriteExt.
  assert.equal(enc((w) => w.bytes(new Uint8Array(32))), 'da0020' + '00'.repeat(32));
  assert.equal(enc((w) => w.bytes(new Uint8Array(255))).slice(0, 6), 'da00ff');
  assert.equal(enc((w) => w.bytes(new Uint8Array(65535))).slice(0, 6), 'daffff');
  assert.equal(enc((w) => w.bytes(new Uint8Array(65536))).slice(0, 10), 'db00010000');
  // A nil []byte is nil; an empty one is an empty str.
  assert.equal(enc((w) => w.bytes(null)), 'c0');
  assert.equal(enc((w) => w.bytes(new Uint8Array(0))), 'a0');
  // UTF-8 is written as is.
  assert.equal(enc((w) => w.str('é')), 'a2c3a9');
});

test('msgpack - container headers: fix < 16, then 16-bit, then 32-bit', () => {
  assert.equal(enc((w) => w.mapHeader(15)), '8f');
  assert.equal(enc((w) => w.mapHeader(16)), 'de0010');
  assert.equal(enc((w) => w.arrayHeader(0)), '90');
  assert.equal(enc((w) => w.arrayHeader(65536)), 'dd00010000');
});

test('msgpack - the reader accepts every raw form: fixstr, str8/16/32, bin8/16/32', () => {
  const forms = ['a3616263', 'd903616263', 'da0003616263', 'db00000003616263', 'c403616263', 'c50003616263', 'c600000003616263'];
  for (const f of forms) {
    const r = new MsgpackReader(fromHex(f));
    assert.deepEqual(r.readRawBytes(), Uint8Array.of(0x61, 0x62, 0x63), f);
    assert.equal(r.remaining, 0);
    assert.equal(new MsgpackReader(fromHex(f)).readString(), 'abc');
  }
});

test('msgpack - integers read from every int and uint form, with range checks', () => {
  const r = (hex: string): MsgpackReader => new MsgpackReader(fromHex(hex));
  assert.equal(r('7f').readInt(0, 0xffff), 127);
  assert.equal(r('cd1f0a').readInt(0, 0xffff), 7946);
  assert.equal(r('d001').readInt(0, 0xff), 1); // an int8 holding a positive value is fine for a uint
  assert.equal(r('ff').readInt(-10, 10), -1);
  assert.equal(r('cf0000000000000005').readInt(0, 10), 5);
  assert.throws(() => r('ff').readInt(0, 10), (e: unknown) => e instanceof WireError && e.reason === 'int-range');
  assert.throws(() => r('ce00010000').readInt(0, 0xffff), (e: unknown) => e instanceof WireError && e.reason === 'int-range');
  assert.throws(() => r('cb3ff0000000000000').readInt(0, 10), (e: unknown) => e instanceof WireError && e.reason === 'type-mismatch');
  // decodeBool also takes the fixints 0 and 1.
  assert.equal(r('01').readBool(), true);
  assert.equal(r('c2').readBool(), false);
});

test('msgpack - truncation reports the bytes needed, without reading past the end', () => {
  try {
    new MsgpackReader(fromHex('da0010 6162')).readRawBytes();
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof WireError);
    assert.equal(e.reason, 'truncated');
    assert.equal(e.needed, 3 + 16);
  }
});

test('msgpack - a length claim larger than the input is refused before any allocation', () => {
  // str32 / array32 / map32 claiming 4 GiB in a 5-byte buffer.
  for (const hex of ['dbffffffff', 'ddffffffff', 'dfffffffff', 'c6ffffffff', 'c9ffffffff01']) {
    assert.throws(
      () => new MsgpackReader(fromHex(hex)).readValue(),
      (e: unknown) => e instanceof WireError && e.reason === 'truncated',
      hex,
    );
  }
});

test('msgpack - nesting is limited', () => {
  const deep = fromHex('91'.repeat(40) + 'c0');
  assert.throws(() => decodeValue(deep), (e: unknown) => e instanceof WireError && e.reason === 'too-deep');
  assert.throws(() => new MsgpackReader(deep).skip(), (e: unknown) => e instanceof WireError && e.reason === 'too-deep');
  assert.deepEqual(decodeValue(fromHex('91'.repeat(5) + 'c0')), [[[[[null]]]]]);
});

test('msgpack - 0xc1 is never a value', () => {
  assert.throws(() => decodeValue(fromHex('c1')), (e: unknown) => e instanceof WireError && e.reason === 'invalid-format');
});

test('msgpack - generic values round trip (raw strings come back as bytes)', () => {
  const value = new Map<MsgpackValue, MsgpackValue>([
    [Uint8Array.of(0x6b), [1, -1, 300, -300, 2 ** 40, -(2 ** 40), 1.5, true, false, null]],
    [Uint8Array.of(0x62), Uint8Array.of(1, 2, 3)],
  ]);
  const bytes = encodeValue(value);
  const back = decodeValue(bytes);
  assert.deepEqual(back, value);
  assert.deepEqual(decodeValue(fromHex('d6ff00000001')), { extType: -1, data: Uint8Array.of(0, 0, 0, 1) });
  assert.equal(decodeValue(fromHex('cbbff8000000000000')), -1.5);
  assert.equal(decodeValue(fromHex('ca3fc00000')), 1.5);
  assert.equal(decodeValue(fromHex('cfffffffffffffffff')), 0xffffffffffffffffn);
});
