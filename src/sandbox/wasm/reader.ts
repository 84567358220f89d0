/**
 * A bounds-checked cursor over module bytes: LEB128 integers, fixed-size values, names and vector
 * counts. Every read past `end` or every ill-formed LEB128 becomes CAXTON_ERR_MODULE_MALFORMED
 * naming the byte offset and where in the module the reader was (`where`, plus the function index
 * while a body is decoded). The reader never allocates except for names.
 */
import { at, malformed } from './fail.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Reader {
  readonly buf: Uint8Array;
  pos: number;
  end: number;
  /** What is being read, for error messages: "section 'code'", "module header", ... */
  where = 'module';
  /** Absolute function index while a function body is read, else -1. */
  func = -1;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** The current location for error messages. */
  context(): string {
    return this.func >= 0 ? `${this.where} (function #${this.func})` : this.where;
  }

  eof(what: string, start: number = this.pos): never {
    return malformed(
      `truncated: unexpected end of ${this.context()} while reading ${what} at ${at(start)}`,
      start,
    );
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  u8(what = 'a byte'): number {
    if (this.pos >= this.end) this.eof(what);
    return this.buf[this.pos++]!;
  }

  peek(what = 'a byte'): number {
    if (this.pos >= this.end) this.eof(what);
    return this.buf[this.pos]!;
  }

  /** Skips n bytes (fixed-size immediates, data). */
  skip(n: number, what: string): void {
    if (n > this.end - this.pos) this.eof(what);
    this.pos += n;
  }

  /** Unsigned LEB128, at most 5 bytes, value < 2^32. */
  u32(what = 'a LEB128 u32'): number {
    const p = this.pos;
    if (p < this.end) {
      const b = this.buf[p]!;
      if (b < 0x80) {
        this.pos = p + 1;
        return b;
      }
    }
    return this.u32Slow(what);
  }

  private u32Slow(what: string): number {
    const start = this.pos;
    let result = 0;
    let shift = 0;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.eof(what, start);
      const b = this.buf[this.pos++]!;
      if (i === 4) {
        if ((b & 0xf0) !== 0) this.overflow(what, start);
        return (result + b * 0x10000000) >>> 0;
      }
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  }

  /** Validates and skips a signed LEB128 of `bits` bits (32 or 64); the value is not needed. */
  skipSigned(bits: 32 | 64, what: string): void {
    const start = this.pos;
    const maxBytes = bits === 32 ? 5 : 10;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.eof(what, start);
      const b = this.buf[this.pos++]!;
      if (i === maxBytes - 1) {
        // The last byte: no continuation bit, and the unused high bits must repeat the sign bit.
        if (bits === 32) {
          const hi = b & 0xf8;
          if (hi !== 0x00 && hi !== 0x78) this.overflow(what, start);
        } else if (b !== 0x00 && b !== 0x7f) {
          this.overflow(what, start);
        }
        return;
      }
      if ((b & 0x80) === 0) return;
    }
  }

  /** Signed 33-bit LEB128 (block types). Returns the value as a number. */
  s33(what: string): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.eof(what, start);
      const b = this.buf[this.pos++]!;
      if (i === 4) {
        const hi = b & 0xf0;
        if (hi !== 0x00 && hi !== 0x70) this.overflow(what, start);
        result += (b & 0x7f) * mul;
        mul *= 128;
        return result >= mul / 2 ? result - mul : result;
      }
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return (b & 0x40) !== 0 ? result - mul : result;
    }
  }

  private overflow(what: string, start: number): never {
    return malformed(`LEB128 overflow in ${this.context()}: ${what} at ${at(start)} is too long or out of range`, start);
  }

  /**
   * A vector count whose entries take at least `minBytes` bytes each: a count that cannot fit in
   * the rest of the current range is malformed, which also bounds every allocation by input size.
   */
  count(what: string, minBytes = 1): number {
    const start = this.pos;
    const n = this.u32('a vector length');
    if (n * minBytes > this.end - this.pos) {
      malformed(
        `truncated: ${this.context()} declares ${n} ${what} at ${at(start)}, but only ${this.end - this.pos} bytes remain`,
        start,
      );
    }
    return n;
  }

  /** A UTF-8 name (u32 length + bytes). */
  name(what: string): string {
    const start = this.pos;
    const len = this.u32(`the length of ${what}`);
    if (len > this.end - this.pos) this.eof(what, start);
    const bytes = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    try {
      return utf8.decode(bytes);
    } catch {
      return malformed(`${what} at ${at(start)} in ${this.context()} is not valid UTF-8`, start);
    }
  }
}
