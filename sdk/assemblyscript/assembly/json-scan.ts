// Byte-level JSON over UTF-8 text in linear memory: a validating scanner, and decoders for the values
// it found. json.ts and message.ts build on it; it is not part of the SDK's public API.
//
// Everything works on raw pointers: a scanner takes the position of a value's first byte and the end
// of the text, and returns the position just after the value, or 0 after recording why the text is
// not JSON (see failAt / scanError). Nothing here allocates on the success path except the decoders
// and takeTape.
//
// Why it looks like this: the host meters fuel at function entries and loop headers, charging each
// check for the operators up to the next check in code order, so a loop that ends early in a big
// function pays for the rest of the function on every iteration, and a function without loops is
// charged its whole body on every call. The per-byte loops are therefore kept to a few operators
// each, in small functions where the loop is the last thing before the return (plainRun, widenRun,
// digitsEnd, skipWsLoop, and decodeStep in utf8.ts), and a loop's rare cases live elsewhere: the meter
// charges an iteration for the loop's whole body, whichever branch runs. Special bytes are found a
// word at a time.
//
// UTF-8: text from the host is well-formed by construction (it encodes JavaScript strings), so
// messages and the init document are not checked; bytes an agent hands to the parser itself are
// (beginDocument's checkUtf8), and a document with malformed UTF-8 is then decoded at once, each bad
// byte becoming U+FFFD, so that it is never written back as it came.

import { decodeOne, decodeStep, decodeStepOut, scratch, utf8Decode, utf8Valid } from "./utf8";

/**
 * Maximum nesting depth the parser accepts; deeper documents are rejected, not overflowed. The host's
 * limit for a message (docs/messages.md, MAX_MESSAGE_DEPTH): a deeper message could not be delivered
 * nor sent, so one limit serves both sides.
 */
export const JSON_MAX_DEPTH: i32 = 128;

/**
 * Bytes that end a run of plain ASCII inside a string literal: '"', '\\', control characters
 * (0x00-0x1F) and every byte of a multi-byte UTF-8 sequence (0x80-0xFF). Indexed by byte; the writer
 * indexes it with UTF-16 code units below 0x80, for which it flags exactly the ones to escape.
 */
export const SPECIAL: usize = memory.data<u8>([
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0x00
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0x10
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x20  '"'
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x30
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x40
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, // 0x50  '\\'
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x60
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 0x70
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // 0x80
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
]);

/** Bytes that end a run of string text when multi-byte UTF-8 is let through: '"', '\\', controls. */
const SPECIAL_ASCII: usize = memory.data<u8>([
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/**
 * Whether a string reference is null. (`s === null` on a `string | null` calls String's == operator,
 * a function call that the fuel meter charges in full; this is one compare.)
 */
// @ts-ignore: decorator
@inline export function isNull(s: string | null): bool {
  return changetype<usize>(s) == 0;
}

// ---- errors and per-document state -------------------------------------------------------------

let docStart: usize = 0;
let errWhat: string = "";
let errAt: i32 = 0;
let checkingUtf8: bool = true;
let sawBadUtf8: bool = false;
let lastSpecial: bool = false;
let carefulDecoding: bool = false;

// The tape of the document being scanned: for every object and array inside it, its start and end
// as offsets from the document start (i32 pairs, in order of start). Building a parsed container
// looks its children's ends up here instead of walking them again, so taking a document apart level
// by level costs its size once, not once per level.
let tape: usize = 0;
let tapeLen: i32 = 0;
let tapeCap: i32 = 0;
/** The depth of the deepest container on the tape (-1: none). */
let tapeDepth: i32 = -1;

/**
 * Starts scanning a document at `start` (error and tape offsets are relative to it). `checkUtf8`:
 * whether its strings are checked for malformed UTF-8 (see the note at the top).
 */
export function beginDocument(start: usize, checkUtf8: bool): void {
  docStart = start;
  checkingUtf8 = checkUtf8;
  sawBadUtf8 = false;
  tapeLen = 0;
  tapeDepth = -1;
}

/** While set, decodeLiteral checks every multi-byte sequence (for a document with malformed UTF-8). */
export function setCarefulDecoding(on: bool): void { carefulDecoding = on; }

/** Records why the text is not JSON; returns 0, the scanners' failure value. */
export function failAt(what: string, p: usize): usize {
  errWhat = what;
  errAt = <i32>(p - docStart);
  return 0;
}

/** "<what> at byte <n>" for the last failure (built only when asked for). */
export function scanError(): string {
  return errWhat + " at byte " + errAt.toString();
}

/** Whether the document scanned since beginDocument held malformed UTF-8 inside a string. */
export function documentHasBadUtf8(): bool { return sawBadUtf8; }

/** Whether the last string scanned by scanString held an escape or a non-ASCII byte. */
export function lastStringSpecial(): bool { return lastSpecial; }

/** Opens a tape entry for the container at p, `depth` containers deep; returns its index. */
function tapeOpen(p: usize, depth: i32): i32 {
  if (depth > tapeDepth) tapeDepth = depth;
  let i = tapeLen;
  if (i == tapeCap) {
    let cap = max<i32>(tapeCap << 1, 16);
    tape = tape ? heap.realloc(tape, <usize>cap << 3) : heap.alloc(<usize>cap << 3);
    tapeCap = cap;
  }
  store<i32>(tape + (<usize>i << 3), <i32>(p - docStart));
  tapeLen = i + 1;
  return i;
}

// @ts-ignore: decorator
@inline function tapeClose(i: i32, q: usize): usize {
  store<i32>(tape + (<usize>i << 3), <i32>(q - docStart), 4);
  return q;
}

/**
 * The tape of the document scanned since beginDocument, as a buffer the values keep; null when no
 * container below `rootDepth` has a container inside it (then no end is ever looked up: a root's
 * end is known from its slice).
 */
export function takeTape(rootDepth: i32): ArrayBuffer | null {
  if (tapeDepth <= rootDepth) return null;
  let bytes = <usize>tapeLen << 3;
  let t = changetype<ArrayBuffer>(__new(bytes, idof<ArrayBuffer>()));
  memory.copy(changetype<usize>(t), tape, bytes);
  return t;
}

/** The end offset of the container that starts at offset `at`, from a tape (binary search). */
function tapeEnd(t: ArrayBuffer, at: i32): i32 {
  let b = changetype<usize>(t);
  let lo = 0;
  let hi = (t.byteLength >> 3) - 1;
  while (lo < hi) {
    let mid = (lo + hi) >>> 1;
    if (load<i32>(b + (<usize>mid << 3)) < at) lo = mid + 1;
    else hi = mid;
  }
  return load<i32>(b + (<usize>lo << 3), 4);
}

// ---- whitespace ---------------------------------------------------------------------------------

function skipWsLoop(p: usize, end: usize): usize {
  while (p < end) {
    let c = load<u8>(p);
    if (c != 0x20 && c != 0x0A && c != 0x0D && c != 0x09) break;
    p++;
  }
  return p;
}

/** Skips JSON whitespace. Text from the host has none, so the common case is one compare, inline. */
// @ts-ignore: decorator
@inline export function ws(p: usize, end: usize): usize {
  return p < end && load<u8>(p) <= 0x20 ? skipWsLoop(p, end) : p;
}

// ---- strings ------------------------------------------------------------------------------------

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/**
 * Non-zero when one of the 8 bytes of w is below 0x20 or equal to '"' or '\\' (the "has less than"
 * and "has zero byte" tests of Bit Twiddling Hacks; they are exact about whether such a byte exists,
 * and the lowest flagged byte is always a true one, because borrows only run upwards). Bytes >= 0x80
 * are never flagged.
 */
// @ts-ignore: decorator
@inline function hasStop(w: u64): u64 {
  let q = w ^ (ONES * 0x22);
  let b = w ^ (ONES * 0x5C);
  return (((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS;
}

/** Whether the last plainRun passed a byte >= 0x80. */
let runHigh: bool = false;

/**
 * The first position in [p, end) holding '"', '\\' or a control byte, or end; multi-byte UTF-8
 * passes (runHigh tells whether there was any). Eight bytes per step while it can.
 */
function plainRun(p: usize, end: usize): usize {
  let high: u64 = 0;
  while (p + 8 <= end) {
    let w = load<u64>(p);
    let m = hasStop(w);
    if (m) {
      let at = <usize>ctz(m) >> 3;
      // Only the bytes before the stop count; the mask keeps them.
      runHigh = ((high | (w & ((<u64>1 << (<u64>at << 3)) - 1))) & HIGHS) != 0;
      return p + at;
    }
    high |= w;
    p += 8;
  }
  while (p < end && !load<u8>(SPECIAL_ASCII + <usize>load<u8>(p))) {
    high |= <u64>load<u8>(p);
    p++;
  }
  runHigh = (high & HIGHS) != 0;
  return p;
}

function hex4(p: usize): i32 {
  let v = 0;
  for (let i: usize = 0; i < 4; i++) {
    let c = <i32>load<u8>(p + i);
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

/** Length of the escape at p (a backslash), or 0 after recording the error. */
function escapeLength(p: usize, end: usize): usize {
  if (p + 1 >= end) return failAt("unterminated escape", p);
  let e = load<u8>(p + 1);
  if (e == 0x75) { // \uXXXX
    if (p + 6 > end || hex4(p + 2) < 0) return failAt("bad \\u escape", p);
    return 6;
  }
  if (e == 0x22 || e == 0x5C || e == 0x2F || e == 0x62 || e == 0x66 || e == 0x6E || e == 0x72 || e == 0x74) return 2;
  return failAt("bad escape", p);
}

/**
 * Scans the string literal whose opening quote is at p. Returns the position after the closing quote
 * (or 0). Afterwards lastStringSpecial() tells whether it held an escape or a non-ASCII byte.
 * Malformed UTF-8 is accepted (decoding turns it into U+FFFD); when checking, it is noted for
 * documentHasBadUtf8().
 */
export function scanString(p: usize, end: usize): usize {
  // Most strings are one run of text, then the closing quote.
  let q = plainRun(p + 1, end);
  if (q < end && load<u8>(q) == 0x22) {
    lastSpecial = runHigh;
    if (runHigh && checkingUtf8 && !utf8Valid(p + 1, q)) sawBadUtf8 = true;
    return q + 1;
  }
  return scanStringRest(p + 1, q, end);
}

/** scanString of the literal whose text starts at `start`, from its first stop at p on. */
function scanStringRest(start: usize, p: usize, end: usize): usize {
  let high = runHigh;
  while (true) {
    if (p >= end) return failAt("unterminated string", p);
    let c = load<u8>(p);
    if (c == 0x22) break;
    if (c != 0x5C) return failAt("control character in string", p);
    let n = escapeLength(p, end);
    if (!n) return 0;
    p = plainRun(p + n, end);
    high = high || runHigh;
  }
  lastSpecial = true;
  if (high && checkingUtf8 && !utf8Valid(start, p)) sawBadUtf8 = true;
  return p + 1;
}

// ---- numbers and literals -----------------------------------------------------------------------

function digitsEnd(p: usize, end: usize): usize {
  while (p < end && <u32>load<u8>(p) - 0x30 < 10) p++;
  return p;
}

/** Scans a number (JSON grammar: no leading zeros, no bare '.', an exponent needs digits). */
function scanNumber(p: usize, end: usize): usize {
  if (load<u8>(p) == 0x2D) p++;
  if (p >= end) return failAt("bad number", p);
  let c = load<u8>(p);
  if (c == 0x30) p++;
  else if (<u32>c - 0x31 < 9) p = digitsEnd(p + 1, end);
  else return failAt("bad number", p);
  if (p < end && load<u8>(p) == 0x2E) {
    let q = digitsEnd(p + 1, end);
    if (q == p + 1) return failAt("bad number", q);
    p = q;
  }
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    if (p < end && (load<u8>(p) == 0x2B || load<u8>(p) == 0x2D)) p++;
    let q = digitsEnd(p, end);
    if (q == p) return failAt("bad number", q);
    p = q;
  }
  return p;
}

// "true", "null" and "alse" as little-endian u32 words.
const WORD_TRUE: u32 = 0x65757274;
const WORD_NULL: u32 = 0x6C6C756E;
const WORD_ALSE: u32 = 0x65736C61;

function literalEnd(p: usize, end: usize): usize {
  let c = load<u8>(p);
  if (c == 0x66) {
    if (p + 5 <= end && load<u32>(p + 1) == WORD_ALSE) return p + 5;
  } else if (p + 4 <= end) {
    let w = load<u32>(p);
    if (w == WORD_TRUE || w == WORD_NULL) return p + 4;
  }
  return failAt("invalid literal", p);
}

// ---- values -------------------------------------------------------------------------------------

/**
 * Scans (and validates) the value at p, which must not be whitespace. `depth` is the number of
 * containers around it. Returns the position after the value, or 0. Objects and arrays are recorded
 * on the tape.
 */
export function skipValue(p: usize, end: usize, depth: i32): usize {
  if (p >= end) return failAt("unexpected end of input", p);
  let c = load<u8>(p);
  if (c == 0x22) return scanString(p, end);
  if (c == 0x7B) return skipObject(p, end, depth);
  if (c == 0x5B) return skipArray(p, end, depth);
  if (c == 0x74 || c == 0x66 || c == 0x6E) return literalEnd(p, end);
  if (c == 0x2D || <u32>c - 0x30 < 10) return scanNumber(p, end);
  return failAt("unexpected character", p);
}

function skipObject(p: usize, end: usize, depth: i32): usize {
  if (depth >= JSON_MAX_DEPTH) return failAt("nesting too deep", p);
  let slot = tapeOpen(p, depth);
  p = ws(p + 1, end);
  if (p < end && load<u8>(p) == 0x7D) return tapeClose(slot, p + 1);
  while (true) {
    if (p >= end || load<u8>(p) != 0x22) return failAt("expected string key", p);
    p = scanString(p, end);
    if (!p) return 0;
    p = ws(p, end);
    if (p >= end || load<u8>(p) != 0x3A) return failAt("expected ':'", p);
    p = ws(p + 1, end);
    p = p < end && load<u8>(p) == 0x22 ? scanString(p, end) : skipValue(p, end, depth + 1);
    if (!p) return 0;
    p = ws(p, end);
    if (p >= end) return failAt("unterminated object", p);
    let c = load<u8>(p);
    if (c == 0x7D) return tapeClose(slot, p + 1);
    if (c != 0x2C) return failAt("expected ',' or '}'", p);
    p = ws(p + 1, end);
  }
}

function skipArray(p: usize, end: usize, depth: i32): usize {
  if (depth >= JSON_MAX_DEPTH) return failAt("nesting too deep", p);
  let slot = tapeOpen(p, depth);
  p = ws(p + 1, end);
  if (p < end && load<u8>(p) == 0x5D) return tapeClose(slot, p + 1);
  while (true) {
    p = p < end && load<u8>(p) == 0x22 ? scanString(p, end) : skipValue(p, end, depth + 1);
    if (!p) return 0;
    p = ws(p, end);
    if (p >= end) return failAt("unterminated array", p);
    let c = load<u8>(p);
    if (c == 0x5D) return tapeClose(slot, p + 1);
    if (c != 0x2C) return failAt("expected ',' or ']'", p);
    p = ws(p + 1, end);
  }
}

/**
 * Validates a whole document [start, end): one value, whitespace around it. Returns the position just
 * after the value (its start is ws(start, end)), or 0. Afterwards takeTape() has its containers.
 */
export function scanDocument(start: usize, end: usize, checkUtf8: bool): usize {
  beginDocument(start, checkUtf8);
  let q = skipValue(ws(start, end), end, 0);
  if (!q) return 0;
  let r = ws(q, end);
  if (r != end) return failAt("trailing characters", r);
  return q;
}

/**
 * The end of the value at p inside a document that was scanned already (base: its start, t: its
 * tape): containers are looked up on the tape, nothing is validated again.
 */
export function valueEnd(p: usize, end: usize, base: usize, t: ArrayBuffer | null): usize {
  let c = load<u8>(p);
  if (c == 0x22) return scanString(p, end);
  if (c == 0x7B || c == 0x5B) return base + <usize>tapeEnd(t!, <i32>(p - base));
  if (c == 0x74 || c == 0x6E) return p + 4;
  if (c == 0x66) return p + 5;
  return numberEnd(p, end);
}

/** The end of a number that was scanned already: the next ',', ']', '}' or whitespace. */
function numberEnd(p: usize, end: usize): usize {
  while (p < end) {
    let c = load<u8>(p);
    if (c == 0x2C || c == 0x5D || c == 0x7D || c <= 0x20) break;
    p++;
  }
  return p;
}

// ---- decoding -----------------------------------------------------------------------------------

/** Widens ASCII bytes to UTF-16 from s until a SPECIAL byte or stop; returns where it stopped. */
function widenRun(s: usize, stop: usize, d: usize): usize {
  while (s < stop) {
    let c = load<u8>(s);
    if (load<u8>(SPECIAL + <usize>c)) break;
    store<u16>(d, <u16>c);
    s++;
    d += 2;
  }
  return s;
}

/**
 * Decodes the string literal [p, e) (quotes included), which scanString accepted: escapes are
 * resolved (surrogate pairs written as two \u escapes recombine), malformed UTF-8 becomes U+FFFD.
 */
export function decodeLiteral(p: usize, e: usize): string {
  let s = p + 1;
  let stop = e - 1;
  // Every input byte yields at most one UTF-16 code unit.
  let out = scratch((stop - s) << 1);
  let d = out;
  while (true) {
    if (carefulDecoding) {
      // Multi-byte sequences one at a time, each checked by decodeOne.
      let q = widenRun(s, stop, d);
      d += (q - s) << 1;
      s = q;
    } else {
      s = decodeStep(s, stop, d, SPECIAL);
      d = decodeStepOut;
    }
    if (s >= stop) break;
    let c = load<u8>(s);
    if (c >= 0x80) {
      // A 4-byte or malformed sequence (or, when careful, any multi-byte one).
      s = decodeOne(s, stop, d);
      d = decodeStepOut;
      continue;
    }
    if (c != 0x5C) {
      // ASCII after a multi-byte run: the next step takes it. A '"' or control byte cannot be in a
      // scanned literal; it is kept as it is rather than looped on.
      if (load<u8>(SPECIAL + <usize>c)) {
        store<u16>(d, <u16>c);
        d += 2;
        s++;
      }
      continue;
    }
    let x = <u32>load<u8>(s + 1);
    let u: u32 = x; // \" \\ \/ stand for themselves
    s += 2;
    if (x == 0x75) {
      u = <u32>hex4(s);
      s += 4;
    } else if (x == 0x62) u = 0x08;
    else if (x == 0x66) u = 0x0C;
    else if (x == 0x6E) u = 0x0A;
    else if (x == 0x72) u = 0x0D;
    else if (x == 0x74) u = 0x09;
    store<u16>(d, <u16>u);
    d += 2;
  }
  return String.UTF16.decodeUnsafe(out, d - out);
}

/** Whether the n bytes at a equal the n bytes at b, for n in 4..16 (two overlapping words). */
// @ts-ignore: decorator
@inline export function shortBytesEqual(a: usize, b: usize, n: usize): bool {
  return n >= 8
    ? load<u64>(a) == load<u64>(b) && load<u64>(a + n - 8) == load<u64>(b + n - 8)
    : load<u32>(a) == load<u32>(b) && load<u32>(a + n - 4) == load<u32>(b + n - 4);
}

/** Whether the n bytes at p, which hold no escape and only ASCII, spell the string `s`. */
export function asciiEquals(p: usize, n: i32, s: string): bool {
  if (n != s.length) return false;
  let q = changetype<usize>(s);
  for (let i = 0; i < n; i++) {
    if (<u32>load<u8>(p + <usize>i) != <u32>load<u16>(q + (<usize>i << 1))) return false;
  }
  return true;
}

// Powers of ten that an f64 holds exactly.
const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/** Where the last digitsValue stopped. */
let digitsAt: usize = 0;

/** acc followed by the decimal digits from p (wrapping past 19 digits); digitsAt is where they stop. */
function digitsValue(p: usize, e: usize, acc: u64): u64 {
  while (p < e) {
    let d = <u32>load<u8>(p) - 0x30;
    if (d >= 10) break;
    acc = acc * 10 + <u64>d;
    p++;
  }
  digitsAt = p;
  return acc;
}

/**
 * The value of the number [p, e), which scanNumber accepted. With at most 15 digits and a decimal
 * exponent within ±22, mantissa and power of ten are exact doubles and one multiplication or division
 * rounds correctly (Clinger's fast path); anything else goes through parseFloat.
 */
export function numberValue(p: usize, e: usize): f64 {
  let s = p;
  let neg = load<u8>(p) == 0x2D;
  if (neg) p++;
  let start = p;
  let mant = digitsValue(p, e, 0);
  p = digitsAt;
  let digits = <i32>(p - start);
  let scale = 0;
  if (p < e && load<u8>(p) == 0x2E) {
    let f = p + 1;
    mant = digitsValue(f, e, mant);
    p = digitsAt;
    digits += <i32>(p - f);
    scale = -<i32>(p - f);
  }
  if (p < e) {
    // 'e' or 'E', a sign, digits; more than 4 digits is beyond any double's exponent
    p++;
    let c = load<u8>(p);
    let eneg = c == 0x2D;
    if (c == 0x2B || c == 0x2D) p++;
    let x = digitsValue(p, e, 0);
    scale = digitsAt - p > 4 ? 100000 : scale + (eneg ? -<i32>x : <i32>x);
  }
  if (digits <= 15 && scale >= -22 && scale <= 22) {
    let v = <f64>mant;
    v = scale >= 0 ? v * unchecked(POW10[scale]) : v / unchecked(POW10[-scale]);
    return neg ? -v : v;
  }
  return parseFloat(utf8Decode(s, e - s));
}
