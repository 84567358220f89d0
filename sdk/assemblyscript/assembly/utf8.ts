// String <-> UTF-8 for the SDK, with fast paths for ASCII (names, keys, log lines) and tight loops for
// the 2- and 3-byte forms of other text. Not part of the SDK's public API.
//
// The loops are small functions of their own, ending right after the loop, because the host charges a
// loop iteration for every operator up to the next loop header (see json-scan.ts).

/** Narrows UTF-16 [s, stop) to bytes at d while the code units are ASCII; returns where it stopped. */
export function narrowRun(s: usize, stop: usize, d: usize): usize {
  while (s < stop) {
    let c = load<u16>(s);
    if (c >= 0x80) break;
    store<u8>(d, <u8>c);
    s += 2;
    d++;
  }
  return s;
}

/**
 * Length of the well-formed UTF-8 sequence at p (whose first byte is >= 0x80), or 0 when it is
 * malformed (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, or cut short).
 */
function utf8SequenceLength(p: usize, end: usize): usize {
  let c = <u32>load<u8>(p);
  if (c >= 0xC2 && c <= 0xDF) {
    return p + 1 < end && (load<u8>(p + 1) & 0xC0) == 0x80 ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (p + 2 >= end || (load<u8>(p + 1) & 0xC0) != 0x80 || (load<u8>(p + 2) & 0xC0) != 0x80) return 0;
    let v = ((c & 0x0F) << 12) | ((<u32>load<u8>(p + 1) & 0x3F) << 6) | (<u32>load<u8>(p + 2) & 0x3F);
    return v >= 0x800 && (v & 0xF800) != 0xD800 ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (p + 3 >= end || (load<u8>(p + 1) & 0xC0) != 0x80 || (load<u8>(p + 2) & 0xC0) != 0x80 ||
        (load<u8>(p + 3) & 0xC0) != 0x80) return 0;
    let v = ((c & 0x07) << 18) | ((<u32>load<u8>(p + 1) & 0x3F) << 12) |
            ((<u32>load<u8>(p + 2) & 0x3F) << 6) | (<u32>load<u8>(p + 3) & 0x3F);
    return v >= 0x10000 && v <= 0x10FFFF ? 4 : 0;
  }
  return 0;
}

/** Bytes >= 0x80: where a run of plain (ASCII) UTF-8 ends. Indexed by byte. */
const HIGH_BYTES: usize = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
]);

/** Where the last decodeStep stopped writing. */
export let decodeStepOut: usize = 0;

/**
 * Decodes UTF-8 [s, stop) into UTF-16 at d: first ASCII bytes up to one that `stops` flags (a table
 * indexed by byte, which must flag every byte >= 0x80), then 2- and 3-byte sequences, until ASCII
 * again, a 4-byte sequence or stop. Returns where it stopped; the output end is in decodeStepOut.
 * The text must be well-formed UTF-8 (malformed input gives wrong characters, never a read or write
 * out of bounds). Two loops with small bodies: the meter charges an iteration for its whole body.
 */
export function decodeStep(s: usize, stop: usize, d: usize, stops: usize): usize {
  while (s < stop) {
    let c = load<u8>(s);
    if (load<u8>(stops + <usize>c)) break;
    store<u16>(d, <u16>c);
    s++;
    d += 2;
  }
  while (s < stop) {
    let c = <u32>load<u8>(s);
    if (c < 0xC0 || c >= 0xF0) break;
    if (c < 0xE0) {
      if (s + 1 >= stop) break;
      store<u16>(d, <u16>(((c & 0x1F) << 6) | (<u32>load<u8>(s + 1) & 0x3F)));
      s += 2;
    } else {
      if (s + 2 >= stop) break;
      store<u16>(d, <u16>(((c & 0x0F) << 12) | ((<u32>load<u8>(s + 1) & 0x3F) << 6) | (<u32>load<u8>(s + 2) & 0x3F)));
      s += 3;
    }
    d += 2;
  }
  decodeStepOut = d;
  return s;
}

/**
 * Decodes the UTF-8 at s, which decodeStep stopped at (neither ASCII nor a 2- or 3-byte sequence it
 * took: a 4-byte sequence, or a malformed one), to UTF-16 at d: a surrogate pair, or U+FFFD for one
 * bad byte. Returns the new s; the output end is in decodeStepOut.
 */
export function decodeOne(s: usize, stop: usize, d: usize): usize {
  let n = utf8SequenceLength(s, stop);
  if (n == 4) {
    let c = <u32>load<u8>(s);
    let v = (((c & 0x07) << 18) | ((<u32>load<u8>(s + 1) & 0x3F) << 12) |
             ((<u32>load<u8>(s + 2) & 0x3F) << 6) | (<u32>load<u8>(s + 3) & 0x3F)) - 0x10000;
    store<u16>(d, <u16>(0xD800 | (v >> 10)));
    store<u16>(d + 2, <u16>(0xDC00 | (v & 0x3FF)));
    decodeStepOut = d + 4;
    return s + 4;
  }
  if (n) {
    // A well-formed 2- or 3-byte sequence decodeStep left (it was cut short by stop: cannot happen
    // inside a literal, but decode it rather than lose it).
    decodeStep(s, s + n, d, HIGH_BYTES);
    return s + n;
  }
  store<u16>(d, 0xFFFD);
  decodeStepOut = d + 2;
  return s + 1;
}

/**
 * Whether [p, end) is well-formed UTF-8. ASCII runs and multi-byte runs each get their own loop, one
 * after the other, so that an ASCII byte is charged for its small loop only.
 */
export function utf8Valid(p: usize, end: usize): bool {
  while (p < end) {
    while (p < end && load<u8>(p) < 0x80) p++;
    while (p < end && load<u8>(p) >= 0x80) {
      let n = utf8SequenceLength(p, end);
      if (!n) return false;
      p += n;
    }
  }
  return true;
}

// Scratch buffer (outside the GC heap) for decoding into UTF-16, reused by every decode.
let scratch16: usize = 0;
let scratch16Cap: usize = 0;

/** The UTF-16 scratch buffer, with room for at least `bytes` bytes (its contents are not kept). */
export function scratch(bytes: usize): usize {
  if (bytes > scratch16Cap) {
    let cap = max<usize>(bytes, 256);
    if (scratch16) heap.free(scratch16);
    scratch16 = heap.alloc(cap);
    scratch16Cap = cap;
  }
  return scratch16;
}

/** `s` as UTF-8 in a new buffer; lone surrogates become U+FFFD (String.UTF8.ErrorMode.REPLACE). */
export function utf8Encode(s: string): ArrayBuffer {
  let n = <usize>s.length;
  let src = changetype<usize>(s);
  let buf = changetype<ArrayBuffer>(__new(n, idof<ArrayBuffer>()));
  if (narrowRun(src, src + (n << 1), changetype<usize>(buf)) == src + (n << 1)) return buf;
  return String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE);
}

/** The UTF-8 text of n bytes at p as a string (malformed sequences become U+FFFD). */
export function utf8Decode(p: usize, n: usize): string {
  if (!n) return "";
  if (!utf8Valid(p, p + n)) return String.UTF8.decodeUnsafe(p, n);
  // Every byte yields at most one UTF-16 code unit.
  let out = scratch(n << 1);
  let s = p;
  let end = p + n;
  let d = out;
  while (true) {
    s = decodeStep(s, end, d, HIGH_BYTES);
    d = decodeStepOut;
    if (s >= end) break;
    // ASCII after a multi-byte run goes back to decodeStep; a 4-byte sequence to decodeOne.
    if (load<u8>(s) >= 0x80) {
      s = decodeOne(s, end, d);
      d = decodeStepOut;
    }
  }
  return String.UTF16.decodeUnsafe(out, d - out);
}
