// A small JSON library for Caxton agents: a value tree, a parser that reads UTF-8 bytes straight from
// linear memory, and a writer that produces UTF-8.
//
// Parsed values are lazy. Parsing validates the whole document in one pass over its bytes and keeps
// a copy of them; a value then stands for its slice of that copy until it is read:
// - a string is decoded to UTF-16 the first time `value` is read, a number parsed likewise;
// - an object or array builds its members (themselves lazy) the first time one is read;
// - a value that was never changed is written back out by copying its bytes, so forwarding content
//   costs a memory.copy, not a decode and an encode.
// Output is JSON.stringify's for values built or changed by the agent; a parsed value written back
// unchanged keeps its original spelling (escapes, number form, whitespace), which JSON.parse reads as
// the same value.

import {
  JSON_MAX_DEPTH, SPECIAL, ws, scanString, scanDocument, scanError, decodeLiteral, numberValue, valueEnd,
  takeTape, documentHasBadUtf8, isNull, lastStringSpecial, asciiEquals, setCarefulDecoding,
} from "./json-scan";
import { narrowRun, utf8Decode, utf8Encode } from "./utf8";

export { JSON_MAX_DEPTH };

export enum JSONKind {
  NULL = 0,
  BOOL = 1,
  NUMBER = 2,
  STRING = 3,
  ARRAY = 4,
  OBJECT = 5,
}

/** A JSON value. Check `kind` (or the is*() helpers) and use the as*() accessors. */
export class JSONValue {
  /**
   * Internal (parser and writer): while not null, this value is still exactly the JSON text
   * `_src[_at, _end)` it was parsed from, and is written by copying those bytes. (Fields without
   * initialisers start zeroed; an initialiser on a reference field would cost a write barrier.)
   */
  _src: ArrayBuffer | null;
  _at: i32;
  _end: i32;

  constructor(public readonly kind: JSONKind) {}

  isNull(): bool { return this.kind == JSONKind.NULL; }
  isBool(): bool { return this.kind == JSONKind.BOOL; }
  isNumber(): bool { return this.kind == JSONKind.NUMBER; }
  isString(): bool { return this.kind == JSONKind.STRING; }
  isArray(): bool { return this.kind == JSONKind.ARRAY; }
  isObject(): bool { return this.kind == JSONKind.OBJECT; }

  /** The boolean, or `def` if this is not a boolean. */
  asBool(def: bool = false): bool {
    return this.kind == JSONKind.BOOL ? changetype<JSONBool>(this).value : def;
  }
  /** The number, or `def` (NaN unless given) if this is not a number. */
  asNumber(def: f64 = NaN): f64 {
    return this.kind == JSONKind.NUMBER ? changetype<JSONNumber>(this).value : def;
  }
  /** True when this is a number with an integral value that an f64 holds exactly (|x| <= 2^53). */
  isInteger(): bool {
    if (this.kind != JSONKind.NUMBER) return false;
    let v = changetype<JSONNumber>(this).value;
    return isFinite(v) && Math.trunc(v) == v && Math.abs(v) <= 9007199254740992.0;
  }
  /** The string, or null if this is not a string. */
  asString(): string | null {
    return this.kind == JSONKind.STRING ? changetype<JSONString>(this).value : null;
  }
  asArray(): JSONArray | null {
    return this.kind == JSONKind.ARRAY ? changetype<JSONArray>(this) : null;
  }
  asObject(): JSONObject | null {
    return this.kind == JSONKind.OBJECT ? changetype<JSONObject>(this) : null;
  }

  /** Object member `key` (null if absent or if this is not an object). */
  get(key: string): JSONValue | null {
    return this.kind == JSONKind.OBJECT ? changetype<JSONObject>(this).get(key) : null;
  }
  /** Array element `i` (null if out of range or if this is not an array). */
  at(i: i32): JSONValue | null {
    if (this.kind != JSONKind.ARRAY) return null;
    let items = changetype<JSONArray>(this).items;
    return i >= 0 && i < items.length ? unchecked(items[i]) : null;
  }
  // The three getters below read a parsed, still unbuilt object straight from its bytes: they hand
  // out no JSONValue, so the object need not be built (and nothing is allocated but a string).

  /** Member `key` as a string, or null. */
  getString(key: string): string | null {
    if (this.kind == JSONKind.OBJECT && this._src !== null) {
      let m = rawMember(this, key);
      let p = <usize>(m >>> 32);
      return m != 0 && load<u8>(p) == 0x22 ? decodeLiteral(p, <usize>(<u32>m)) : null;
    }
    let v = this.get(key);
    return v ? v.asString() : null;
  }
  /** Member `key` as a number, or `def`. */
  getNumber(key: string, def: f64 = NaN): f64 {
    if (this.kind == JSONKind.OBJECT && this._src !== null) {
      let m = rawMember(this, key);
      let p = <usize>(m >>> 32);
      if (m == 0) return def;
      let c = load<u8>(p);
      return c == 0x2D || <u32>c - 0x30 < 10 ? numberValue(p, <usize>(<u32>m)) : def;
    }
    let v = this.get(key);
    return v ? v.asNumber(def) : def;
  }
  /** Member `key` as a boolean, or `def`. */
  getBool(key: string, def: bool = false): bool {
    if (this.kind == JSONKind.OBJECT && this._src !== null) {
      let m = rawMember(this, key);
      if (m == 0) return def;
      let c = load<u8>(<usize>(m >>> 32));
      return c == 0x74 ? true : c == 0x66 ? false : def;
    }
    let v = this.get(key);
    return v ? v.asBool(def) : def;
  }
  /** Number of elements (array) or members (object); 0 otherwise. */
  get size(): i32 {
    if (this.kind == JSONKind.ARRAY) return changetype<JSONArray>(this).items.length;
    if (this.kind == JSONKind.OBJECT) return changetype<JSONObject>(this)._count;
    return 0;
  }

  /** JSON text (compact for values the agent built; see the note at the top of json.ts). */
  stringify(): string {
    let w = new JSONWriter();
    w.value(this);
    let s = w.toString();
    w.dispose();
    return s;
  }
  toString(): string { return this.stringify(); }
}

export class JSONNull extends JSONValue {
  constructor() { super(JSONKind.NULL); }
}

export class JSONBool extends JSONValue {
  constructor(public value: bool) { super(JSONKind.BOOL); }
}

export class JSONNumber extends JSONValue {
  /** Internal: the value, valid once `_parsed`. */
  _v: f64;
  _parsed: bool = true;

  constructor(value: f64) {
    super(JSONKind.NUMBER);
    this._v = value;
  }

  get value(): f64 {
    if (!this._parsed) {
      let b = changetype<usize>(this._src);
      this._v = numberValue(b + <usize>this._at, b + <usize>this._end);
      this._parsed = true;
    }
    return this._v;
  }
  set value(v: f64) {
    this._v = v;
    this._parsed = true;
    this._src = null;
  }
}

export class JSONString extends JSONValue {
  /** Internal: the decoded string (null until a parsed string is first read). */
  _s: string | null;

  constructor(value: string) {
    super(JSONKind.STRING);
    this._s = value;
  }

  get value(): string {
    let s = this._s;
    if (isNull(s)) {
      let b = changetype<usize>(this._src);
      s = decodeLiteral(b + <usize>this._at, b + <usize>this._end);
      this._s = s;
    }
    return s!;
  }
  set value(v: string) {
    this._s = v;
    this._src = null;
  }
}

export class JSONArray extends JSONValue {
  _items: Array<JSONValue> | null;
  /** Internal: the tape of the document a parsed array came from (see json-scan.ts). */
  _tape: ArrayBuffer | null;

  constructor() { super(JSONKind.ARRAY); }

  /** The elements (a parsed array builds them, each lazy, on first use). */
  get items(): Array<JSONValue> {
    let items = this._items;
    return items !== null ? items : this.build();
  }
  set items(v: Array<JSONValue>) {
    this._items = v;
    this._src = null;
  }

  push(v: JSONValue): JSONArray {
    this.items.push(v);
    return this;
  }
  get length(): i32 { return this.items.length; }

  private build(): Array<JSONValue> {
    let items = new Array<JSONValue>();
    let src = this._src;
    if (src !== null) {
      let t = this._tape;
      let b = changetype<usize>(src);
      let end = b + <usize>this._end;
      let p = ws(b + <usize>this._at + 1, end);
      if (load<u8>(p) != 0x5D) {
        while (true) {
          let q = valueEnd(p, end, b, t);
          items.push(lazyValue(src, t, <i32>(p - b), <i32>(q - b)));
          p = ws(q, end);
          if (load<u8>(p) == 0x5D) break;
          p = ws(p + 1, end);
        }
      }
      // From here on the tree is the truth: an element may be changed in place.
      this._src = null;
    }
    this._items = items;
    return items;
  }
}

/**
 * An object; members keep their insertion order. `set` replaces an existing member. The parser keeps
 * duplicate keys as they come and `get` returns the last one, which is what JSON.parse does.
 */
export class JSONObject extends JSONValue {
  // Members are held in one of two forms (a parsed object has neither until first used):
  // - compact: keys and values interleaved, [k0, v0, k1, v1, ...], in one StaticArray with _n members
  //   (one allocation, where two Arrays take four);
  // - arrays: the public `keys` and `values`, made the first time either is read; from then on they
  //   are the members, so that changes made through them are seen.
  _kv: StaticArray<Object | null> | null;
  _n: i32;
  _keys: Array<string> | null;
  _values: Array<JSONValue> | null;
  /** Internal: the tape of the document a parsed object came from (see json-scan.ts). */
  _tape: ArrayBuffer | null;

  constructor() { super(JSONKind.OBJECT); }

  /** Member names, in insertion order. */
  get keys(): Array<string> {
    this.toArrays();
    return this._keys!;
  }
  set keys(v: Array<string>) {
    this.toArrays();
    this._keys = v;
  }
  /** Member values, in the order of `keys`. */
  get values(): Array<JSONValue> {
    this.toArrays();
    return this._values!;
  }
  set values(v: Array<JSONValue>) {
    this.toArrays();
    this._values = v;
  }

  /** Internal: number of members (without switching to the public arrays). */
  get _count(): i32 {
    if (this._src !== null) this.build();
    let keys = this._keys;
    return keys !== null ? keys.length : this._n;
  }

  indexOf(key: string): i32 {
    if (this._src !== null) this.build();
    let keys = this._keys;
    if (keys !== null) {
      for (let i = keys.length - 1; i >= 0; i--) {
        if (unchecked(keys[i]) == key) return i;
      }
      return -1;
    }
    let kv = this._kv;
    for (let i = this._n - 1; i >= 0; i--) {
      if (changetype<string>(unchecked(kv![i << 1])) == key) return i;
    }
    return -1;
  }
  has(key: string): bool {
    return this._src !== null ? rawMember(this, key) != 0 : this.indexOf(key) >= 0;
  }
  get(key: string): JSONValue | null {
    let i = this.indexOf(key);
    return i >= 0 ? this._valueAt(i) : null;
  }
  set(key: string, v: JSONValue): JSONObject {
    let i = this.indexOf(key);
    if (i < 0) {
      this.append(key, v);
    } else if (this._keys !== null) {
      this._values![i] = v;
    } else {
      unchecked(this._kv![(i << 1) + 1] = v);
    }
    return this;
  }
  /** Appends without looking for an existing member. */
  append(key: string, v: JSONValue): void {
    if (this._src !== null) this.build();
    if (this._keys !== null) {
      this._keys!.push(key);
      this._values!.push(v);
      return;
    }
    let kv = this._kv;
    let n = this._n;
    if (kv === null || (n << 1) >= kv.length) kv = this.grow(n < 2 ? 4 : n << 1);
    unchecked(kv[n << 1] = changetype<Object>(key));
    unchecked(kv[(n << 1) + 1] = v);
    this._n = n + 1;
  }
  delete(key: string): bool {
    let i = this.indexOf(key);
    if (i < 0) return false;
    if (this._keys !== null) {
      this._keys!.splice(i, 1);
      this._values!.splice(i, 1);
      return true;
    }
    let kv = this._kv!;
    let n = this._n;
    for (let j = i << 1, last = (n - 1) << 1; j < last; j++) unchecked(kv[j] = kv[j + 2]);
    unchecked(kv[(n - 1) << 1] = null);
    unchecked(kv[((n - 1) << 1) + 1] = null);
    this._n = n - 1;
    return true;
  }
  setString(key: string, v: string): JSONObject { return this.set(key, makeString(v)); }
  setNumber(key: string, v: f64): JSONObject { return this.set(key, makeNumber(v)); }
  setBool(key: string, v: bool): JSONObject { return this.set(key, new JSONBool(v)); }
  setNull(key: string): JSONObject { return this.set(key, new JSONNull()); }

  /** Internal: name of member i (0 <= i < count). */
  _keyAt(i: i32): string {
    let keys = this._keys;
    return keys !== null ? unchecked(keys[i]) : changetype<string>(unchecked(this._kv![i << 1]));
  }
  /** Internal: value of member i (0 <= i < count). */
  _valueAt(i: i32): JSONValue {
    let values = this._values;
    return values !== null ? unchecked(values[i]) : changetype<JSONValue>(unchecked(this._kv![(i << 1) + 1]));
  }

  /** Compact storage with room for `members`, holding the current ones. */
  private grow(members: i32): StaticArray<Object | null> {
    let kv = new StaticArray<Object | null>(members << 1);
    let old = this._kv;
    if (old !== null) {
      // Moving references between containers needs no barrier: the new array is stored below.
      memory.copy(changetype<usize>(kv), changetype<usize>(old), <usize>this._n << (alignof<usize>() + 1));
    }
    this._kv = kv;
    return kv;
  }

  /** Switches to the public arrays (see the note on the fields). */
  private toArrays(): void {
    if (this._keys !== null) return;
    if (this._src !== null) this.build();
    let n = this._n;
    let keys = new Array<string>(n);
    let values = new Array<JSONValue>(n);
    let kv = this._kv;
    for (let i = 0; i < n; i++) {
      unchecked(keys[i] = changetype<string>(kv![i << 1]));
      unchecked(values[i] = changetype<JSONValue>(kv![(i << 1) + 1]));
    }
    this._keys = keys;
    this._values = values;
    this._kv = null;
    this._n = 0;
  }

  /** Builds a parsed object's members (compact, each value lazy) from its bytes. */
  private build(): void {
    let src = this._src!;
    let t = this._tape;
    let b = changetype<usize>(src);
    let end = b + <usize>this._end;
    let p = ws(b + <usize>this._at + 1, end);
    // From here on the members are the truth: a member may be changed in place.
    this._src = null;
    if (load<u8>(p) == 0x7D) return;
    while (true) {
      let k = p;
      p = scanString(p, end);
      let key = decodeLiteral(k, p);
      let v = ws(ws(p, end) + 1, end); // past ':'
      p = valueEnd(v, end, b, t);
      this.append(key, lazyValue(src, t, <i32>(v - b), <i32>(p - b)));
      p = ws(p, end);
      if (load<u8>(p) == 0x7D) break;
      p = ws(p + 1, end);
    }
  }
}

/**
 * Internal: the value for the validated JSON text src[at, end), whose document's tape is `tape`.
 * Strings, numbers, objects and arrays stay lazy (see the top of this file); literals are made at once.
 */
export function lazyValue(src: ArrayBuffer, tape: ArrayBuffer | null, at: i32, end: i32): JSONValue {
  let c = load<u8>(changetype<usize>(src) + <usize>at);
  let v: JSONValue;
  if (c == 0x22) {
    v = blank<JSONString>(JSONKind.STRING);
  } else if (c == 0x7B) {
    let o = blank<JSONObject>(JSONKind.OBJECT);
    if (tape !== null) o._tape = tape;
    v = o;
  } else if (c == 0x5B) {
    let a = blank<JSONArray>(JSONKind.ARRAY);
    if (tape !== null) a._tape = tape;
    v = a;
  } else if (c == 0x74) return new JSONBool(true);
  else if (c == 0x66) return new JSONBool(false);
  else if (c == 0x6E) return new JSONNull();
  else v = blank<JSONNumber>(JSONKind.NUMBER); // _parsed is false: parsed on first read
  v._src = src;
  v._at = at;
  v._end = end;
  return v;
}

/**
 * Internal: member `key` of the unbuilt object `o`, found in its bytes: the value's first and end
 * position as (start << 32 | end), or 0 if absent. The last of duplicate keys wins, as in `get`.
 */
function rawMember(o: JSONValue, key: string): i64 {
  let t = changetype<JSONObject>(o)._tape;
  let b = changetype<usize>(o._src);
  let end = b + <usize>o._end;
  let p = ws(b + <usize>o._at + 1, end);
  let found: i64 = 0;
  if (load<u8>(p) == 0x7D) return 0;
  while (true) {
    let k = p;
    p = scanString(p, end);
    let hit = lastStringSpecial() ? decodeLiteral(k, p) == key : asciiEquals(k + 1, <i32>(p - k) - 2, key);
    let v = ws(ws(p, end) + 1, end); // past ':'
    p = valueEnd(v, end, b, t);
    if (hit) found = (<i64>v << 32) | <i64>p;
    p = ws(p, end);
    if (load<u8>(p) == 0x7D) return found;
    p = ws(p + 1, end);
  }
}

/**
 * A zeroed T of the given kind, made without running constructors: AssemblyScript's constructors
 * store every reference field through a write-barrier call, which the meter charges in full.
 */
// @ts-ignore: decorator
@inline function blank<T extends JSONValue>(kind: JSONKind): T {
  let v = changetype<T>(__new(offsetof<T>(), idof<T>()));
  store<i32>(changetype<usize>(v), kind, offsetof<JSONValue>("kind"));
  return v;
}

/**
 * Internal: decodes every string and number of `v` and builds every container, leaving nothing that
 * would be written by copying bytes. Used for documents holding malformed UTF-8, so that what is
 * written back is valid UTF-8 (with U+FFFD), as it was before values became lazy.
 */
export function decodeAll(v: JSONValue): void {
  if (v.kind == JSONKind.STRING) {
    let s = changetype<JSONString>(v);
    s.value = s.value;
  } else if (v.kind == JSONKind.NUMBER) {
    let n = changetype<JSONNumber>(v);
    n.value = n.value;
  } else if (v.kind == JSONKind.ARRAY) {
    let items = changetype<JSONArray>(v).items;
    for (let i = 0, n = items.length; i < n; i++) decodeAll(unchecked(items[i]));
  } else if (v.kind == JSONKind.OBJECT) {
    let o = changetype<JSONObject>(v);
    for (let i = 0, n = o._count; i < n; i++) decodeAll(o._valueAt(i));
  }
}

// ---- builders ---------------------------------------------------------------------------------

// The builders make values without running constructors (see blank()).
export function jsonNull(): JSONValue { return new JSONNull(); }
export function jsonBool(v: bool): JSONValue { return new JSONBool(v); }
export function jsonNumber(v: f64): JSONValue { return makeNumber(v); }
export function jsonString(v: string): JSONValue { return makeString(v); }
export function jsonArray(): JSONArray { return new JSONArray(); }
export function jsonObject(): JSONObject { return blank<JSONObject>(JSONKind.OBJECT); }

function makeString(v: string): JSONString {
  let s = blank<JSONString>(JSONKind.STRING);
  s._s = v;
  return s;
}

function makeNumber(v: f64): JSONNumber {
  let n = blank<JSONNumber>(JSONKind.NUMBER);
  n._v = v;
  n._parsed = true;
  return n;
}

/** JSON text of `v` (like JSON.stringify; see JSONValue.stringify). */
export function stringify(v: JSONValue): string { return v.stringify(); }

// ---- writer -----------------------------------------------------------------------------------

const HEX_DIGITS = "0123456789abcdef";

/** Code units escaped per reservation in JSONWriter.string (at most 6 output bytes each). */
const STRING_CHUNK: usize = 4096;

/**
 * Whether the 4 UTF-16 code units in w are all plain: below 0x80, not a control character, '"' or
 * '\\' (the "has less than" and "has zero" tests of Bit Twiddling Hacks, on 16-bit lanes).
 */
// @ts-ignore: decorator
@inline function plain4(w: u64): bool {
  if (w & 0xFF80FF80FF80FF80) return false;
  let q = w ^ 0x0022002200220022;
  let b = w ^ 0x005C005C005C005C;
  let flags = ((w - 0x0020002000200020) & ~w) | ((q - 0x0001000100010001) & ~q) | ((b - 0x0001000100010001) & ~b);
  return (flags & 0x8000800080008000) == 0;
}

/**
 * Copies UTF-16 [s, stop) to d as bytes while the code units need neither escaping nor multi-byte
 * encoding (four per step while it can); returns where it stopped.
 */
function plainRun16(s: usize, stop: usize, d: usize): usize {
  while (s + 8 <= stop) {
    let w = load<u64>(s);
    if (!plain4(w)) break;
    store<u32>(d, <u32>((w & 0xFF) | ((w >> 8) & 0xFF00) | ((w >> 16) & 0xFF0000) | ((w >> 24) & 0xFF000000)));
    s += 8;
    d += 4;
  }
  while (s < stop) {
    let c = <usize>load<u16>(s);
    if (c >= 0x80 || load<u8>(SPECIAL + c)) break;
    store<u8>(d, <u8>c);
    s += 2;
    d++;
  }
  return s;
}

/** Where the last encodeRun stopped writing. */
let encodeRunOut: usize = 0;

/**
 * Encodes UTF-16 [s, stop) as UTF-8 at d while the code units need no escape and are not surrogates
 * (ASCII, 2- and 3-byte forms); returns where it stopped, the output end is then in encodeRunOut.
 */
function encodeRun(s: usize, stop: usize, d: usize): usize {
  while (s < stop) {
    let c = <u32>load<u16>(s);
    if (c < 0x80) {
      if (load<u8>(SPECIAL + <usize>c)) break;
      store<u8>(d, <u8>c);
      d++;
    } else if (c < 0x800) {
      store<u8>(d, <u8>(0xC0 | (c >> 6)));
      store<u8>(d + 1, <u8>(0x80 | (c & 63)));
      d += 2;
    } else {
      if ((c & 0xF800) == 0xD800) break;
      store<u8>(d, <u8>(0xE0 | (c >> 12)));
      store<u8>(d + 1, <u8>(0x80 | ((c >> 6) & 63)));
      store<u8>(d + 2, <u8>(0x80 | (c & 63)));
      d += 3;
    }
    s += 2;
  }
  encodeRunOut = d;
  return s;
}

/**
 * Appends UTF-8 JSON to a growable buffer that lives outside the GC heap (heap.alloc). Call
 * dispose() when done, or reuse it with reset().
 */
export class JSONWriter {
  ptr: usize = 0;
  len: i32 = 0;
  cap: i32 = 0;

  reset(): void { this.len = 0; }

  dispose(): void {
    if (this.ptr) heap.free(this.ptr);
    this.ptr = 0;
    this.len = 0;
    this.cap = 0;
  }

  /** Room for `extra` more bytes. Inline, so that growing (rare) is a call of its own. */
  // @ts-ignore: decorator
  @inline ensure(extra: i32): void {
    if (this.len + extra > this.cap) this.grow(this.len + extra);
  }

  private grow(need: i32): void {
    let cap = max<i32>(max<i32>(this.cap << 1, need), 256);
    this.ptr = this.ptr ? heap.realloc(this.ptr, <usize>cap) : heap.alloc(<usize>cap);
    this.cap = cap;
  }

  byte(b: i32): void {
    this.ensure(1);
    store<u8>(this.ptr + <usize>this.len, <u8>b);
    this.len++;
  }

  bytes(src: usize, n: i32): void {
    this.ensure(n);
    memory.copy(this.ptr + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  /** Appends ASCII text verbatim (used for punctuation and literals). */
  ascii(s: string): void {
    let n = s.length;
    this.ensure(n);
    let src = changetype<usize>(s);
    narrowRun(src, src + (<usize>n << 1), this.ptr + <usize>this.len);
    this.len += n;
  }

  /** Appends a JSON string literal (quoted and escaped; lone surrogates become \uXXXX). */
  string(s: string): void {
    let n = <usize>s.length;
    let src = changetype<usize>(s);
    let end = src + (n << 1);
    // Most strings need no escape and are ASCII: one run between the quotes.
    this.ensure(<i32>n + 2);
    let d = this.ptr + <usize>this.len;
    store<u8>(d, 0x22);
    let q = plainRun16(src, end, d + 1);
    if (q == end) {
      store<u8>(d + 1 + n, 0x22);
      this.len += <i32>n + 2;
      return;
    }
    this.len += 1 + <i32>((q - src) >> 1);
    this.stringRest(q, end);
    this.byte(0x22);
  }

  /** Escapes and encodes UTF-16 [src, end) (the part of a string after its first plain run). */
  private stringRest(src: usize, end: usize): void {
    while (src < end) {
      let stop = min<usize>(end, src + (STRING_CHUNK << 1));
      this.ensure(<i32>((stop - src) >> 1) * 6);
      let d = this.ptr + <usize>this.len;
      while (true) {
        src = encodeRun(src, stop, d);
        d = encodeRunOut;
        if (src >= stop) break;
        let c = <u32>load<u16>(src);
        src += 2;
        store<u8>(d, 0x5C);
        if (c < 0x80) {
          // '"', '\\' or a control character
          let e: u32 = c;
          if (c == 0x08) e = 0x62;
          else if (c == 0x0C) e = 0x66;
          else if (c == 0x0A) e = 0x6E;
          else if (c == 0x0D) e = 0x72;
          else if (c == 0x09) e = 0x74;
          else if (c < 0x20) e = 0;
          if (e) {
            store<u8>(d + 1, <u8>e);
            d += 2;
          } else {
            d = unicodeEscape(d + 1, c);
          }
          continue;
        }
        // A surrogate: a valid pair becomes a 4-byte sequence, a lone one an escape.
        let c2: u32 = src < end ? <u32>load<u16>(src) : 0;
        if (c < 0xDC00 && (c2 & 0xFC00) == 0xDC00) {
          let cp = 0x10000 + (((c & 0x3FF) << 10) | (c2 & 0x3FF));
          store<u8>(d, <u8>(0xF0 | (cp >> 18)));
          store<u8>(d + 1, <u8>(0x80 | ((cp >> 12) & 63)));
          store<u8>(d + 2, <u8>(0x80 | ((cp >> 6) & 63)));
          store<u8>(d + 3, <u8>(0x80 | (cp & 63)));
          d += 4;
          src += 2; // may pass stop by one unit: the chunk reserved 6 bytes for the first
        } else {
          d = unicodeEscape(d + 1, c);
        }
      }
      this.len = <i32>(d - this.ptr);
    }
  }

  /** Appends a number. Non-finite numbers become null, as in JSON.stringify. */
  number(v: f64): void {
    if (!isFinite(v)) {
      this.ascii("null");
    } else if (Math.trunc(v) == v && Math.abs(v) < 1e21) {
      if (Math.abs(v) <= 9007199254740992.0) {
        this.integer(<i64>v);
      } else {
        // Large integral values: AssemblyScript prints them as "1e+300"-style or with ".0";
        // strip a trailing ".0" so the output stays what JSON.stringify would print.
        let s = v.toString();
        if (s.endsWith(".0")) s = s.substring(0, s.length - 2);
        this.ascii(s);
      }
    } else {
      this.ascii(v.toString());
    }
  }

  integer(v: i64): void {
    if (v == 0) { this.byte(0x30); return; }
    let neg = v < 0;
    let u: u64 = neg ? <u64>(-v) : <u64>v;
    let tmp = memory.data(24);
    let i = 24;
    while (u != 0) {
      i--;
      store<u8>(tmp + <usize>i, <u8>(0x30 + <i32>(u % 10)));
      u /= 10;
    }
    if (neg) this.byte(0x2D);
    this.bytes(tmp + <usize>i, 24 - i);
  }

  value(v: JSONValue): void {
    let src = v._src;
    if (src !== null) {
      // Parsed and unchanged: its text is already JSON.
      this.bytes(changetype<usize>(src) + <usize>v._at, v._end - v._at);
      return;
    }
    switch (v.kind) {
      case JSONKind.NULL: this.ascii("null"); break;
      case JSONKind.BOOL: this.ascii(changetype<JSONBool>(v).value ? "true" : "false"); break;
      case JSONKind.NUMBER: this.number(changetype<JSONNumber>(v).value); break;
      case JSONKind.STRING: this.string(changetype<JSONString>(v).value); break;
      case JSONKind.ARRAY: {
        let items = changetype<JSONArray>(v).items;
        this.byte(0x5B);
        for (let i = 0, n = items.length; i < n; i++) {
          if (i) this.byte(0x2C);
          this.value(unchecked(items[i]));
        }
        this.byte(0x5D);
        break;
      }
      case JSONKind.OBJECT: {
        let o = changetype<JSONObject>(v);
        this.byte(0x7B);
        for (let i = 0, n = o._count; i < n; i++) {
          if (i) this.byte(0x2C);
          this.string(o._keyAt(i));
          this.byte(0x3A);
          this.value(o._valueAt(i));
        }
        this.byte(0x7D);
        break;
      }
    }
  }

  /** Appends `"key":` (with a leading comma when `first` is false). */
  key(name: string, first: bool): void {
    if (!first) this.byte(0x2C);
    this.string(name);
    this.byte(0x3A);
  }

  toString(): string {
    return utf8Decode(this.ptr, <usize>this.len);
  }
}

/** Writes the hex digits of a \u escape (the backslash is already at d - 1); returns the new end. */
function unicodeEscape(d: usize, c: u32): usize {
  store<u8>(d, 0x75); // u
  let hex = changetype<usize>(HEX_DIGITS);
  store<u8>(d + 1, <u8>load<u16>(hex + (<usize>((c >> 12) & 15) << 1)));
  store<u8>(d + 2, <u8>load<u16>(hex + (<usize>((c >> 8) & 15) << 1)));
  store<u8>(d + 3, <u8>load<u16>(hex + (<usize>((c >> 4) & 15) << 1)));
  store<u8>(d + 4, <u8>load<u16>(hex + (<usize>(c & 15) << 1)));
  return d + 5;
}

// ---- parser -----------------------------------------------------------------------------------

let parseError: string = "";
/** Why the last parse returned null. */
export function jsonParseError(): string { return parseError; }

/** Internal: a GC-managed copy of n bytes at ptr (parsed values keep slices of it). */
export function copyBytes(ptr: usize, n: i32): ArrayBuffer {
  let buf = changetype<ArrayBuffer>(__new(<usize>n, idof<ArrayBuffer>()));
  memory.copy(changetype<usize>(buf), ptr, <usize>n);
  return buf;
}

/**
 * Parses the UTF-8 JSON held in `buf`, which the values keep. `checkUtf8`: false only for text from
 * the host, which is well-formed UTF-8 by construction (see json-scan.ts).
 */
function parseOwned(buf: ArrayBuffer, checkUtf8: bool): JSONValue | null {
  let b = changetype<usize>(buf);
  let end = b + <usize>buf.byteLength;
  let q = scanDocument(b, end, checkUtf8);
  if (!q) {
    parseError = scanError();
    return null;
  }
  let p = ws(b, end);
  let v = lazyValue(buf, takeTape(0), <i32>(p - b), <i32>(q - b)); // the root is 0 deep
  if (documentHasBadUtf8()) {
    setCarefulDecoding(true);
    decodeAll(v);
    setCarefulDecoding(false);
  }
  return v;
}

/** Parses `len` bytes of UTF-8 JSON at `ptr`. Returns null (see jsonParseError()) if invalid. */
export function parseJSONBytes(ptr: usize, len: i32): JSONValue | null {
  if (len < 0) { parseError = "negative length"; return null; }
  return parseOwned(copyBytes(ptr, len), true);
}

/** Internal: parseJSONBytes for a buffer the host wrote (the init document). */
export function parseHostJSON(ptr: usize, len: i32): JSONValue | null {
  if (len < 0) { parseError = "negative length"; return null; }
  return parseOwned(copyBytes(ptr, len), false);
}

/** Parses JSON text. Returns null (see jsonParseError()) if invalid. */
export function parseJSON(text: string): JSONValue | null {
  // utf8Encode writes lone surrogates as U+FFFD: the bytes are well-formed.
  return parseOwned(utf8Encode(text), false);
}

/** Parses UTF-8 JSON held in a Uint8Array. */
export function parseJSONBuffer(bytes: Uint8Array): JSONValue | null {
  return parseOwned(copyBytes(bytes.dataStart, bytes.length), true);
}
