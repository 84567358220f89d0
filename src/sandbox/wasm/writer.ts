/** One growable output buffer with LEB128 encoders. Sized once from the input; doubles when full. */
export class Writer {
  buf: Uint8Array;
  len = 0;

  constructor(initialCapacity: number) {
    this.buf = new Uint8Array(Math.max(64, initialCapacity));
  }

  private grow(extra: number): void {
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  ensure(extra: number): void {
    if (this.len + extra > this.buf.length) this.grow(extra);
  }

  u8(b: number): void {
    if (this.len >= this.buf.length) this.grow(1);
    this.buf[this.len++] = b;
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.len + n > this.buf.length) this.grow(n);
    const buf = this.buf;
    if (n < 256) {
      // Small copies: a loop beats creating a subarray for TypedArray.set.
      let p = this.len;
      for (let i = start; i < end; i++) buf[p++] = src[i]!;
    } else {
      buf.set(src.subarray(start, end), this.len);
    }
    this.len += n;
  }

  /** Unsigned LEB128 of a value in [0, 2^32). */
  u32(v: number): void {
    this.ensure(5);
    let x = v >>> 0;
    while (x >= 0x80) {
      this.buf[this.len++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    this.buf[this.len++] = x;
  }

  /** Signed LEB128 of a non-negative safe integer (i64.const immediates). */
  sleb(v: number): void {
    this.ensure(10);
    let x = v;
    for (;;) {
      const b = x % 128;
      x = Math.floor(x / 128);
      if (x === 0 && (b & 0x40) === 0) {
        this.buf[this.len++] = b;
        return;
      }
      this.buf[this.len++] = b | 0x80;
    }
  }

  /** Reserves room for a u32 LEB128 size that `patchSize` fills in once the content is written. */
  reserveSize(): number {
    this.ensure(5);
    const at = this.len;
    this.len += 5;
    return at;
  }

  /**
   * Writes the size of the content after the reservation at `at` as a minimal LEB128, moving the
   * content left when the size needs fewer than 5 bytes.
   */
  patchSize(at: number): void {
    const contentStart = at + 5;
    const size = this.len - contentStart;
    const width = u32Width(size);
    if (width < 5) {
      this.buf.copyWithin(at + width, contentStart, this.len);
      this.len -= 5 - width;
    }
    let x = size;
    let p = at;
    while (x >= 0x80) {
      this.buf[p++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    this.buf[p] = x;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export function u32Width(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Byte width of the signed LEB128 encoding of a non-negative safe integer. */
export function s64WidthNonNegative(v: number): number {
  let w = 1;
  // Each byte holds 7 bits; the top byte must leave the sign bit (0x40) clear.
  let limit = 0x40;
  while (v >= limit) {
    w++;
    limit *= 128;
  }
  return w;
}
