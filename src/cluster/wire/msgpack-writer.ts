/**
 * The msgpack writer: go-msgpack v0.5.x output with MsgpackHandle{} (WriteExt = false). The rules are
 * listed in msgpack.ts.
 */
import { WireError } from './errors.js';
import { DEFAULT_MAX_DEPTH, utf8, type MsgpackValue } from './msgpack-value.js';

const U32 = 0x1_0000_0000;

/** A growable output buffer with go-msgpack's encoding rules. */
export class MsgpackWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(initialCapacity = 64) {
    this.#buf = new Uint8Array(Math.max(16, initialCapacity));
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#len;
  }

  #ensure(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  byte(b: number): this {
    this.#ensure(1);
    this.#buf[this.#len++] = b & 0xff;
    return this;
  }

  u16be(n: number): this {
    this.#ensure(2);
    this.#view.setUint16(this.#len, n);
    this.#len += 2;
    return this;
  }

  u32be(n: number): this {
    this.#ensure(4);
    this.#view.setUint32(this.#len, n);
    this.#len += 4;
    return this;
  }

  /** Appends bytes verbatim (no msgpack header). */
  raw(bytes: Uint8Array): this {
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
    return this;
  }

  nil(): this {
    return this.byte(0xc0);
  }

  bool(b: boolean): this {
    return this.byte(b ? 0xc3 : 0xc2);
  }

  /** go-msgpack encodeUint: the smallest unsigned form. */
  uint(n: number | bigint): this {
    if (typeof n === 'bigint') {
      if (n < 0n || n > 0xffff_ffff_ffff_ffffn) throw new WireError('invalid-value', `uint out of range: ${n}`);
      if (n <= 0xffff_ffffn) return this.uint(Number(n));
      this.#ensure(9);
      this.#buf[this.#len] = 0xcf;
      this.#view.setBigUint64(this.#len + 1, n);
      this.#len += 9;
      return this;
    }
    if (!Number.isSafeInteger(n) || n < 0) throw new WireError('invalid-value', `uint out of range: ${n}`);
    if (n <= 0x7f) return this.byte(n);
    if (n <= 0xff) return this.byte(0xcc).byte(n);
    if (n <= 0xffff) return this.byte(0xcd).u16be(n);
    if (n < U32) return this.byte(0xce).u32be(n);
    return this.uint(BigInt(n));
  }

  /** go-msgpack encodeInt: non-negative values are written as unsigned. */
  int(n: number | bigint): this {
    if (typeof n === 'bigint') {
      if (n >= 0n) return this.uint(n);
      if (n < -0x8000_0000_0000_0000n) throw new WireError('invalid-value', `int out of range: ${n}`);
      if (n >= -0x8000_0000n) return this.int(Number(n));
      this.#ensure(9);
      this.#buf[this.#len] = 0xd3;
      this.#view.setBigInt64(this.#len + 1, n);
      this.#len += 9;
      return this;
    }
    if (!Number.isSafeInteger(n)) throw new WireError('invalid-value', `int out of range: ${n}`);
    if (n >= 0) return this.uint(n);
    if (n >= -32) return this.byte(n & 0xff);
    if (n >= -0x80) return this.byte(0xd0).byte(n & 0xff);
    if (n >= -0x8000) {
      this.byte(0xd1);
      this.#ensure(2);
      this.#view.setInt16(this.#len, n);
      this.#len += 2;
      return this;
    }
    if (n >= -0x8000_0000) {
      this.byte(0xd2);
      this.#ensure(4);
      this.#view.setInt32(this.#len, n);
      this.#len += 4;
      return this;
    }
    return this.int(BigInt(n));
  }

  float64(f: number): this {
    this.#ensure(9);
    this.#buf[this.#len] = 0xcb;
    this.#view.setFloat64(this.#len + 1, f);
    this.#len += 9;
    return this;
  }

  /** Raw str header as go-msgpack writes it with WriteExt=false: fixstr, str16, str32 (never str8). */
  strHeader(len: number): this {
    if (len < 32) return this.byte(0xa0 | len);
    if (len < 0x1_0000) return this.byte(0xda).u16be(len);
    if (len < U32) return this.byte(0xdb).u32be(len);
    throw new WireError('too-large', `string of ${len} bytes cannot be encoded`);
  }

  /** A Go `string`: UTF-8 bytes as raw str. */
  str(s: string): this {
    const b = utf8(s);
    return this.strHeader(b.length).raw(b);
  }

  /** A Go `[]byte`: raw str, or nil (0xc0) for a nil slice (`null`). */
  bytes(b: Uint8Array | null): this {
    if (b === null) return this.nil();
    return this.strHeader(b.length).raw(b);
  }

  arrayHeader(n: number): this {
    if (n < 16) return this.byte(0x90 | n);
    if (n < 0x1_0000) return this.byte(0xdc).u16be(n);
    return this.byte(0xdd).u32be(n);
  }

  mapHeader(n: number): this {
    if (n < 16) return this.byte(0x80 | n);
    if (n < 0x1_0000) return this.byte(0xde).u16be(n);
    return this.byte(0xdf).u32be(n);
  }

  /**
   * Writes a generic value the way go-msgpack writes the matching Go value: JS strings and Uint8Array
   * as raw str, integers by encodeInt, other numbers as float64, Maps with their entries in insertion
   * order (Go iterates maps randomly, so callers wanting stable bytes should sort first).
   */
  value(v: MsgpackValue, depth = 0): this {
    if (depth > DEFAULT_MAX_DEPTH) throw new WireError('too-deep', 'value nests too deeply to encode');
    if (v === null) return this.nil();
    if (typeof v === 'boolean') return this.bool(v);
    if (typeof v === 'bigint') return this.int(v);
    if (typeof v === 'number') return Number.isSafeInteger(v) ? this.int(v) : this.float64(v);
    if (typeof v === 'string') return this.str(v);
    if (v instanceof Uint8Array) return this.bytes(v);
    if (Array.isArray(v)) {
      this.arrayHeader(v.length);
      for (const e of v) this.value(e, depth + 1);
      return this;
    }
    if (v instanceof Map) {
      this.mapHeader(v.size);
      for (const [k, e] of v) this.value(k, depth + 1).value(e, depth + 1);
      return this;
    }
    const len = v.data.length;
    if (len === 1 || len === 2 || len === 4 || len === 8 || len === 16) {
      this.byte(({ 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 } as const)[len]);
    } else if (len < 0x100) {
      this.byte(0xc7).byte(len);
    } else if (len < 0x1_0000) {
      this.byte(0xc8).u16be(len);
    } else {
      this.byte(0xc9).u32be(len);
    }
    return this.byte(v.extType).raw(v.data);
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}
