import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { at, pagesToHuman, quote } from '../../../../src/sandbox/wasm/fail.js';
import { Reader } from '../../../../src/sandbox/wasm/reader.js';
import { s64WidthNonNegative, u32Width, Writer } from '../../../../src/sandbox/wasm/writer.js';
import { expectError, leb, sleb } from './helpers.js';

const r = (...bytes: number[]) => new Reader(new Uint8Array(bytes));

describe('Reader', () => {
  it('decodes unsigned LEB128 up to 2^32 - 1, including non-minimal encodings', () => {
    for (const v of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1]) {
      const rd = r(...leb(v), 0xaa);
      assert.equal(rd.u32(), v);
      assert.equal(rd.u8(), 0xaa);
    }
    assert.equal(r(0x80, 0x80, 0x80, 0x80, 0x00).u32(), 0, 'padded to 5 bytes');
    assert.equal(r(0x81, 0x00).u32(), 1);
  });

  it('rejects LEB128 overflow and truncation with the offset', () => {
    expectError(() => r(0xff, 0xff, 0xff, 0xff, 0x10).u32(), 'CAXTON_ERR_MODULE_MALFORMED', 'LEB128 overflow', 'offset 0');
    expectError(() => r(0x80, 0x80, 0x80, 0x80, 0x80, 0x00).u32(), 'CAXTON_ERR_MODULE_MALFORMED', 'LEB128 overflow');
    const rd = r(0x01, 0x80, 0x80);
    rd.u8();
    rd.where = "section 'type'";
    expectError(() => rd.u32('the number of types'), 'CAXTON_ERR_MODULE_MALFORMED', "truncated: unexpected end of section 'type'", 'the number of types', 'offset 1');
    expectError(() => r().u8(), 'CAXTON_ERR_MODULE_MALFORMED', 'unexpected end');
  });

  it('stays inside its end bound', () => {
    const rd = new Reader(new Uint8Array([1, 2, 3, 4]), 0, 2);
    rd.u8();
    rd.u8();
    expectError(() => rd.u8(), 'CAXTON_ERR_MODULE_MALFORMED', 'offset 2');
    rd.pos = 0;
    expectError(() => rd.skip(3, 'an f32.const immediate'), 'CAXTON_ERR_MODULE_MALFORMED', 'an f32.const immediate');
  });

  it('validates signed LEB128 (i32 and i64 immediates)', () => {
    for (const v of [0, -1, 63, 64, -64, -65, 2 ** 31 - 1, -(2 ** 31)]) {
      const rd = r(...sleb(v), 0xaa);
      rd.skipSigned(32, 'x');
      assert.equal(rd.u8(), 0xaa, `${v}`);
    }
    for (const v of [2 ** 53, -(2 ** 53), 2 ** 40]) {
      const rd = r(...sleb(v), 0xaa);
      rd.skipSigned(64, 'x');
      assert.equal(rd.u8(), 0xaa);
    }
    // i64 min and max need all 10 bytes.
    r(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f).skipSigned(64, 'x');
    r(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00).skipSigned(64, 'x');
    expectError(() => r(0xff, 0xff, 0xff, 0xff, 0x0f).skipSigned(32, 'an i32'), 'CAXTON_ERR_MODULE_MALFORMED', 'LEB128 overflow', 'an i32');
    expectError(() => r(0x80, 0x80, 0x80, 0x80, 0x70).skipSigned(32, 'x'), 'CAXTON_ERR_MODULE_MALFORMED', 'LEB128 overflow');
    expectError(() => r(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01).skipSigned(64, 'x'), 'CAXTON_ERR_MODULE_MALFORMED', 'LEB128 overflow');
    expectError(() => r(0x80, 0x80).skipSigned(64, 'x'), 'CAXTON_ERR_MODULE_MALFORMED', 'truncated');
  });

  it('decodes signed 33-bit block types', () => {
    assert.equal(r(0x40).s33('bt'), -64);
    assert.equal(r(0x05).s33('bt'), 5);
    assert.equal(r(0x80, 0x01).s33('bt'), 128);
    assert.equal(r(0xff, 0xff, 0xff, 0xff, 0x0f).s33('bt'), 2 ** 32 - 1);
    assert.equal(r(0x80, 0x80, 0x80, 0x80, 0x70).s33('bt'), -(2 ** 32));
    expectError(() => r(0x80, 0x80, 0x80, 0x80, 0x20).s33('bt'), 'CAXTON_ERR_MODULE_MALFORMED', 'LEB128 overflow');
  });

  it('bounds vector counts by the bytes left', () => {
    assert.equal(r(2, 0, 0).count('things', 1), 2);
    expectError(() => r(3, 0, 0).count('things', 1), 'CAXTON_ERR_MODULE_MALFORMED', 'declares 3 things', 'only 2 bytes remain');
    expectError(() => r(0xff, 0xff, 0xff, 0xff, 0x0f).count('types', 3), 'CAXTON_ERR_MODULE_MALFORMED', 'declares 4294967295 types');
  });

  it('reads UTF-8 names and refuses invalid UTF-8', () => {
    assert.equal(r(3, 0x61, 0xc3, 0xa9).name('a name'), 'aé');
    expectError(() => r(2, 0xc3, 0x28).name('an export name'), 'CAXTON_ERR_MODULE_MALFORMED', 'an export name at offset 0', 'not valid UTF-8');
    expectError(() => r(5, 0x61).name('an import name'), 'CAXTON_ERR_MODULE_MALFORMED', 'truncated', 'an import name');
  });
});

describe('Writer', () => {
  it('encodes LEB128 like the reference encoder and grows', () => {
    const w = new Writer(1);
    const values = [0, 1, 127, 128, 624485, 2 ** 31, 2 ** 32 - 1];
    for (const v of values) w.u32(v);
    assert.deepEqual([...w.result()], values.flatMap(leb));
    for (const v of values) assert.equal(u32Width(v), leb(v).length);
    const s = new Writer(4);
    const svals = [0, 1, 63, 64, 1000, 10_000_000, 2 ** 53 - 1];
    for (const v of svals) s.sleb(v);
    assert.deepEqual([...s.result()], svals.flatMap(sleb));
    for (const v of svals) assert.equal(s64WidthNonNegative(v), sleb(v).length, `${v}`);
  });

  it('patches section sizes as minimal LEB128s, moving the content', () => {
    for (const n of [0, 5, 127, 128, 20000]) {
      const w = new Writer(8);
      w.u8(0x0a);
      const at = w.reserveSize();
      for (let i = 0; i < n; i++) w.u8(i & 0xff);
      w.patchSize(at);
      const out = w.result();
      assert.deepEqual([...out.subarray(0, 1 + leb(n).length)], [0x0a, ...leb(n)]);
      assert.equal(out.length, 1 + leb(n).length + n);
      assert.equal(out[out.length - 1], n === 0 ? 0 : (n - 1) & 0xff);
    }
  });

  it('copies ranges small and large', () => {
    const src = new Uint8Array(300).map((_, i) => i & 0xff);
    const w = new Writer(2);
    w.bytes(src, 10, 20);
    w.bytes(src, 0, 300);
    assert.deepEqual([...w.result()], [...src.subarray(10, 20), ...src]);
  });
});

describe('message helpers', () => {
  it('quotes untrusted names safely and formats sizes', () => {
    assert.equal(quote('env.abort'), "'env.abort'");
    assert.equal(quote("a'b\n\u2028"), "'a\\x27b\\x0a\\u2028'");
    assert.ok(quote('x'.repeat(500)).length < 100);
    assert.equal(pagesToHuman(65536), '4 GiB');
    assert.equal(pagesToHuman(1024), '64 MiB');
    assert.equal(pagesToHuman(3), '192 KiB');
    assert.equal(at(255), 'offset 255 (0xff)');
  });
});
