/**
 * LZW exactly as Go's compress/lzw with `lzw.LSB` and litWidth 8, which memberlist uses for compress
 * messages (util.go compressPayload / decompressBuffer). GIF-style: codes 0-255 are literals, 256 is
 * clear, 257 is EOF, new codes start at 258; codes are 9 bits wide and grow to 12, packed least
 * significant bit first.
 *
 * Writer (Go writer.go): the stream opens with a clear code, as the GIF spec asks ("Encoders should
 * output a Clear code as the first code of each image data stream"); the Go that built Debian's serf
 * does this (measured: serf's compressed acks start with code 256), while older Go writers started
 * straight with a literal. Readers accept both. After each emitted code the next free code `hi` is
 * incremented; when it reaches 1 << width the width grows by one; when it reaches 4095 a clear code is
 * written (at the current width) and the table restarts at 9 bits. Close writes the pending code
 * (which may itself trigger that clear), then EOF, then the last partial byte. So the empty input is
 * clear + EOF at 9 bits: 0x00 0x03 0x02.
 *
 * Reader (Go reader.go): the stream must end with EOF (else io.ErrUnexpectedEOF, which memberlist
 * treats as failure); bytes after EOF are ignored; a code above `hi` is invalid. At 12 bits with the
 * table full the reader keeps decoding 12-bit codes without adding entries until a clear arrives. The
 * prefix/suffix tables are not wiped by a clear, as in Go, so every stream decodes to Go's bytes.
 */
import { WireError } from './errors.js';
import { MAX_PUSH_STATE_BYTES } from './constants.js';

const CLEAR = 256;
const EOF = 257;
const FIRST_WIDTH = 9;
const MAX_WIDTH = 12;
const MAX_CODE = (1 << MAX_WIDTH) - 1; // 4095
const INVALID = 0xffff;

/** A growable byte buffer. */
class Sink {
  buf: Uint8Array;
  len = 0;
  constructor(cap: number) {
    this.buf = new Uint8Array(Math.max(16, cap));
  }
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  push(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

// Dictionary for the writer: open addressing over (prefix code << 8 | byte) keys, at most 3838 live
// entries between clears, in a table twice that size rounded to a power of two.
const TABLE_SIZE = 8192;
const TABLE_MASK = TABLE_SIZE - 1;

/** Compresses `input` into Go's lzw.NewWriter(w, lzw.LSB, 8) output, byte for byte. */
export function lzwCompress(input: Uint8Array): Uint8Array {
  const out = new Sink(input.length / 2 + 8);
  const keys = new Int32Array(TABLE_SIZE).fill(-1);
  const vals = new Uint16Array(TABLE_SIZE);
  let bits = 0;
  let nBits = 0;
  let width = FIRST_WIDTH;
  let hi = EOF;
  let overflow = 1 << FIRST_WIDTH;

  const emit = (code: number): void => {
    bits |= code << nBits;
    nBits += width;
    while (nBits >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      nBits -= 8;
    }
  };
  /** Returns true when the codes ran out and the table was reset (a clear code was written). */
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === MAX_CODE) {
      emit(CLEAR);
      width = FIRST_WIDTH;
      hi = EOF;
      overflow = 1 << FIRST_WIDTH;
      keys.fill(-1);
      return true;
    }
    return false;
  };

  emit(CLEAR);
  if (input.length > 0) {
    let code = input[0] ?? 0;
    for (let i = 1; i < input.length; i++) {
      const lit = input[i] ?? 0;
      const key = (code << 8) | lit;
      let h = (key ^ (key >>> 11)) & TABLE_MASK;
      let found = -1;
      for (let k = keys[h] ?? -1; k !== -1; k = keys[h] ?? -1) {
        if (k === key) {
          found = vals[h] ?? 0;
          break;
        }
        h = (h + 1) & TABLE_MASK;
      }
      if (found >= 0) {
        code = found;
        continue;
      }
      emit(code);
      code = lit;
      if (incHi()) continue;
      // h is the empty slot where the probe for `key` stopped.
      keys[h] = key;
      vals[h] = hi;
    }
    emit(code);
    incHi();
  }
  emit(EOF);
  if (nBits > 0) out.push(bits & 0xff);
  return out.result();
}

/**
 * Decompresses Go LZW (LSB, litWidth 8). Throws WireError `lzw-truncated` when the input ends before
 * the EOF code, `lzw-invalid` for a code outside the table, and `too-large` as soon as the output
 * would exceed `maxOutput` bytes (one 12-bit code can expand to 4 KiB, so caps matter).
 */
export function lzwDecompress(input: Uint8Array, maxOutput: number = MAX_PUSH_STATE_BYTES): Uint8Array {
  const out = new Sink(Math.min(maxOutput, input.length * 3 + 16));
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const stack = new Uint8Array((1 << MAX_WIDTH) + 1);
  let pos = 0;
  let bits = 0;
  let nBits = 0;
  let width = FIRST_WIDTH;
  let hi = EOF;
  let overflow = 1 << FIRST_WIDTH;
  let last = INVALID;

  const append = (bytes: Uint8Array): void => {
    if (out.len + bytes.length > maxOutput) {
      throw new WireError('too-large', `lzw: output exceeds ${maxOutput} bytes`, { offset: pos });
    }
    out.ensure(bytes.length);
    out.buf.set(bytes, out.len);
    out.len += bytes.length;
  };

  for (;;) {
    while (nBits < width) {
      if (pos >= input.length) {
        throw new WireError('lzw-truncated', 'lzw: input ended before the EOF code', { offset: pos });
      }
      bits |= (input[pos++] ?? 0) << nBits;
      nBits += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    nBits -= width;

    if (code < CLEAR) {
      if (out.len + 1 > maxOutput) throw new WireError('too-large', `lzw: output exceeds ${maxOutput} bytes`, { offset: pos });
      out.push(code);
      if (last !== INVALID) {
        suffix[hi] = code;
        prefix[hi] = last;
      }
    } else if (code === CLEAR) {
      width = FIRST_WIDTH;
      hi = EOF;
      overflow = 1 << FIRST_WIDTH;
      last = INVALID;
      continue;
    } else if (code === EOF) {
      return out.result();
    } else if (code <= hi) {
      let c = code;
      let i = stack.length - 1;
      if (code === hi && last !== INVALID) {
        // hi is being defined by this very code: it is last's expansion plus last's first byte.
        c = last;
        while (c >= CLEAR) c = prefix[c] ?? 0;
        stack[i--] = c;
        c = last;
      }
      while (c >= CLEAR) {
        // prefix[c] < c always holds, so this walk ends; the check only guards the buffer.
        if (i <= 0) throw new WireError('lzw-invalid', 'lzw: expansion longer than the table', { offset: pos });
        stack[i--] = suffix[c] ?? 0;
        c = prefix[c] ?? 0;
      }
      stack[i] = c;
      append(stack.subarray(i));
      if (last !== INVALID) {
        suffix[hi] = c;
        prefix[hi] = last;
      }
    } else {
      throw new WireError('lzw-invalid', `lzw: invalid code ${code} (next free code ${hi})`, { offset: pos });
    }
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        last = INVALID;
        hi--;
      } else {
        width++;
        overflow <<= 1;
      }
    }
  }
}
