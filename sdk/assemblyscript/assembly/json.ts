// A small JSON library for Caxton agents: a value tree, a parser that reads UTF-8 bytes straight from
// linear memory, and a writer that produces UTF-8 (output matches JSON.stringify for the same tree,
// except that numbers that are not integers use AssemblyScript's shortest round-trip formatting).

/** Maximum nesting depth the parser accepts; deeper documents are rejected, not overflowed. */
export const JSON_MAX_DEPTH: i32 = 256;

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
  /** Member `key` as a string, or null. */
  getString(key: string): string | null {
    let v = this.get(key);
    return v ? v.asString() : null;
  }
  /** Member `key` as a number, or `def`. */
  getNumber(key: string, def: f64 = NaN): f64 {
    let v = this.get(key);
    return v ? v.asNumber(def) : def;
  }
  /** Member `key` as a boolean, or `def`. */
  getBool(key: string, def: bool = false): bool {
    let v = this.get(key);
    return v ? v.asBool(def) : def;
  }
  /** Number of elements (array) or members (object); 0 otherwise. */
  get size(): i32 {
    if (this.kind == JSONKind.ARRAY) return changetype<JSONArray>(this).items.length;
    if (this.kind == JSONKind.OBJECT) return changetype<JSONObject>(this).keys.length;
    return 0;
  }

  /** Compact JSON text, like JSON.stringify. */
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
  constructor(public value: f64) { super(JSONKind.NUMBER); }
}

export class JSONString extends JSONValue {
  constructor(public value: string) { super(JSONKind.STRING); }
}

export class JSONArray extends JSONValue {
  items: Array<JSONValue>;
  constructor() {
    super(JSONKind.ARRAY);
    this.items = new Array<JSONValue>();
  }
  push(v: JSONValue): JSONArray {
    this.items.push(v);
    return this;
  }
  get length(): i32 { return this.items.length; }
}

/**
 * An object; members keep their insertion order. `set` replaces an existing member. The parser keeps
 * duplicate keys as they come and `get` returns the last one, which is what JSON.parse does.
 */
export class JSONObject extends JSONValue {
  keys: Array<string>;
  values: Array<JSONValue>;
  constructor() {
    super(JSONKind.OBJECT);
    this.keys = new Array<string>();
    this.values = new Array<JSONValue>();
  }
  indexOf(key: string): i32 {
    let keys = this.keys;
    for (let i = keys.length - 1; i >= 0; i--) {
      if (unchecked(keys[i]) == key) return i;
    }
    return -1;
  }
  has(key: string): bool { return this.indexOf(key) >= 0; }
  get(key: string): JSONValue | null {
    let i = this.indexOf(key);
    return i >= 0 ? unchecked(this.values[i]) : null;
  }
  set(key: string, v: JSONValue): JSONObject {
    let i = this.indexOf(key);
    if (i >= 0) {
      this.values[i] = v;
    } else {
      this.keys.push(key);
      this.values.push(v);
    }
    return this;
  }
  /** Appends without looking for an existing member (used by the parser). */
  append(key: string, v: JSONValue): void {
    this.keys.push(key);
    this.values.push(v);
  }
  delete(key: string): bool {
    let i = this.indexOf(key);
    if (i < 0) return false;
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
    return true;
  }
  setString(key: string, v: string): JSONObject { return this.set(key, new JSONString(v)); }
  setNumber(key: string, v: f64): JSONObject { return this.set(key, new JSONNumber(v)); }
  setBool(key: string, v: bool): JSONObject { return this.set(key, new JSONBool(v)); }
  setNull(key: string): JSONObject { return this.set(key, new JSONNull()); }
}

// ---- builders ---------------------------------------------------------------------------------

export function jsonNull(): JSONValue { return new JSONNull(); }
export function jsonBool(v: bool): JSONValue { return new JSONBool(v); }
export function jsonNumber(v: f64): JSONValue { return new JSONNumber(v); }
export function jsonString(v: string): JSONValue { return new JSONString(v); }
export function jsonArray(): JSONArray { return new JSONArray(); }
export function jsonObject(): JSONObject { return new JSONObject(); }

/** Compact JSON text of `v` (like JSON.stringify). */
export function stringify(v: JSONValue): string { return v.stringify(); }

// ---- writer -----------------------------------------------------------------------------------

const HEX_DIGITS = "0123456789abcdef";

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

  ensure(extra: i32): void {
    let need = this.len + extra;
    if (need <= this.cap) return;
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
    let dst = this.ptr + <usize>this.len;
    for (let i = 0; i < n; i++) store<u8>(dst + <usize>i, <u8>load<u16>(src + (<usize>i << 1)));
    this.len += n;
  }

  /** Appends a JSON string literal (quoted and escaped; lone surrogates become \uXXXX). */
  string(s: string): void {
    let n = s.length;
    this.ensure(n * 3 + 2);
    let src = changetype<usize>(s);
    this.byte(0x22);
    for (let i = 0; i < n; i++) {
      let c = <u32>load<u16>(src + (<usize>i << 1));
      if (c < 0x80) {
        if (c == 0x22 || c == 0x5C) {
          this.byte(0x5C);
          this.byte(<i32>c);
        } else if (c < 0x20) {
          this.byte(0x5C);
          if (c == 0x08) this.byte(0x62);
          else if (c == 0x0C) this.byte(0x66);
          else if (c == 0x0A) this.byte(0x6E);
          else if (c == 0x0D) this.byte(0x72);
          else if (c == 0x09) this.byte(0x74);
          else this.unicodeEscape(c);
        } else {
          this.byte(<i32>c);
        }
      } else if (c < 0x800) {
        this.byte(<i32>(0xC0 | (c >> 6)));
        this.byte(<i32>(0x80 | (c & 63)));
      } else if ((c & 0xF800) == 0xD800) {
        // surrogate: a valid pair becomes a 4-byte sequence, a lone one an escape
        if (c < 0xDC00 && i + 1 < n) {
          let c2 = <u32>load<u16>(src + (<usize>(i + 1) << 1));
          if ((c2 & 0xFC00) == 0xDC00) {
            let cp = 0x10000 + (((c & 0x3FF) << 10) | (c2 & 0x3FF));
            this.byte(<i32>(0xF0 | (cp >> 18)));
            this.byte(<i32>(0x80 | ((cp >> 12) & 63)));
            this.byte(<i32>(0x80 | ((cp >> 6) & 63)));
            this.byte(<i32>(0x80 | (cp & 63)));
            i++;
            continue;
          }
        }
        this.byte(0x5C);
        this.unicodeEscape(c);
      } else {
        this.byte(<i32>(0xE0 | (c >> 12)));
        this.byte(<i32>(0x80 | ((c >> 6) & 63)));
        this.byte(<i32>(0x80 | (c & 63)));
      }
    }
    this.byte(0x22);
  }

  private unicodeEscape(c: u32): void {
    this.byte(0x75); // u
    for (let shift = 12; shift >= 0; shift -= 4) {
      this.byte(<i32>HEX_DIGITS.charCodeAt(<i32>((c >> <u32>shift) & 15)));
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
        let keys = o.keys;
        let values = o.values;
        this.byte(0x7B);
        for (let i = 0, n = keys.length; i < n; i++) {
          if (i) this.byte(0x2C);
          this.string(unchecked(keys[i]));
          this.byte(0x3A);
          this.value(unchecked(values[i]));
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
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len);
  }
}

// ---- parser -----------------------------------------------------------------------------------

let parseError: string = "";
/** Why the last parse returned null. */
export function jsonParseError(): string { return parseError; }

// Scratch buffer (outside the GC heap) for decoding string literals into UTF-16.
let scratch16: usize = 0;
let scratch16Cap: usize = 0;

class Parser {
  pos: usize;
  end: usize;
  start: usize;
  depth: i32 = 0;

  constructor(ptr: usize, len: usize) {
    this.pos = ptr;
    this.start = ptr;
    this.end = ptr + len;
  }

  fail(what: string): JSONValue | null {
    parseError = what + " at byte " + (<i32>(this.pos - this.start)).toString();
    return null;
  }

  skipWs(): void {
    let p = this.pos;
    let end = this.end;
    while (p < end) {
      let c = load<u8>(p);
      if (c != 0x20 && c != 0x0A && c != 0x0D && c != 0x09) break;
      p++;
    }
    this.pos = p;
  }

  literal(word: string, v: JSONValue): JSONValue | null {
    let n = word.length;
    if (this.pos + <usize>n > this.end) return this.fail("invalid literal");
    for (let i = 0; i < n; i++) {
      if (<u32>load<u8>(this.pos + <usize>i) != <u32>word.charCodeAt(i)) return this.fail("invalid literal");
    }
    this.pos += <usize>n;
    return v;
  }

  value(): JSONValue | null {
    this.skipWs();
    if (this.pos >= this.end) return this.fail("unexpected end of input");
    let c = load<u8>(this.pos);
    switch (c) {
      case 0x7B: return this.object();
      case 0x5B: return this.array();
      case 0x22: {
        let s = this.string();
        return s === null ? null : new JSONString(s);
      }
      case 0x74: return this.literal("true", new JSONBool(true));
      case 0x66: return this.literal("false", new JSONBool(false));
      case 0x6E: return this.literal("null", new JSONNull());
      default: {
        if (c == 0x2D || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail("unexpected character");
      }
    }
  }

  object(): JSONValue | null {
    if (++this.depth > JSON_MAX_DEPTH) return this.fail("nesting too deep");
    this.pos++; // {
    let o = new JSONObject();
    this.skipWs();
    if (this.pos < this.end && load<u8>(this.pos) == 0x7D) {
      this.pos++;
      this.depth--;
      return o;
    }
    while (true) {
      this.skipWs();
      if (this.pos >= this.end || load<u8>(this.pos) != 0x22) return this.fail("expected string key");
      let key = this.string();
      if (key === null) return null;
      this.skipWs();
      if (this.pos >= this.end || load<u8>(this.pos) != 0x3A) return this.fail("expected ':'");
      this.pos++;
      let v = this.value();
      if (v === null) return null;
      o.append(key, v);
      this.skipWs();
      if (this.pos >= this.end) return this.fail("unterminated object");
      let c = load<u8>(this.pos++);
      if (c == 0x7D) break;
      if (c != 0x2C) {
        this.pos--;
        return this.fail("expected ',' or '}'");
      }
    }
    this.depth--;
    return o;
  }

  array(): JSONValue | null {
    if (++this.depth > JSON_MAX_DEPTH) return this.fail("nesting too deep");
    this.pos++; // [
    let a = new JSONArray();
    this.skipWs();
    if (this.pos < this.end && load<u8>(this.pos) == 0x5D) {
      this.pos++;
      this.depth--;
      return a;
    }
    while (true) {
      let v = this.value();
      if (v === null) return null;
      a.items.push(v);
      this.skipWs();
      if (this.pos >= this.end) return this.fail("unterminated array");
      let c = load<u8>(this.pos++);
      if (c == 0x5D) break;
      if (c != 0x2C) {
        this.pos--;
        return this.fail("expected ',' or ']'");
      }
    }
    this.depth--;
    return a;
  }

  hex4(p: usize): i32 {
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

  /** Parses a string literal at pos (which is at the opening quote). */
  string(): string | null {
    let p = this.pos + 1;
    let end = this.end;
    // Fast path: find the closing quote; if there is no escape and no non-ASCII byte, decode directly.
    let q = p;
    let simple = true;
    while (q < end) {
      let c = load<u8>(q);
      if (c == 0x22) break;
      if (c == 0x5C || c >= 0x80) { simple = false; break; }
      if (c < 0x20) { this.pos = q; this.fail("control character in string"); return null; }
      q++;
    }
    if (simple) {
      if (q >= end) { this.pos = q; this.fail("unterminated string"); return null; }
      this.pos = q + 1;
      return String.UTF8.decodeUnsafe(p, q - p);
    }
    // Slow path: decode into the UTF-16 scratch buffer. Every input byte yields at most one code unit.
    let need = (end - p) << 1;
    if (need > scratch16Cap) {
      let cap = max<usize>(need, 256);
      scratch16 = scratch16 ? heap.realloc(scratch16, cap) : heap.alloc(cap);
      scratch16Cap = cap;
    }
    let out = scratch16;
    while (true) {
      if (p >= end) { this.pos = p; this.fail("unterminated string"); return null; }
      let c = <u32>load<u8>(p);
      if (c == 0x22) { p++; break; }
      if (c == 0x5C) {
        if (p + 1 >= end) { this.pos = p; this.fail("unterminated escape"); return null; }
        let e = <u32>load<u8>(p + 1);
        let u: u32 = 0;
        switch (e) {
          case 0x22: u = 0x22; break;
          case 0x5C: u = 0x5C; break;
          case 0x2F: u = 0x2F; break;
          case 0x62: u = 0x08; break;
          case 0x66: u = 0x0C; break;
          case 0x6E: u = 0x0A; break;
          case 0x72: u = 0x0D; break;
          case 0x74: u = 0x09; break;
          case 0x75: {
            if (p + 6 > end) { this.pos = p; this.fail("bad \\u escape"); return null; }
            let h = this.hex4(p + 2);
            if (h < 0) { this.pos = p; this.fail("bad \\u escape"); return null; }
            // Surrogate pairs arrive as two escapes; storing both code units recombines them.
            store<u16>(out, <u16>h);
            out += 2;
            p += 6;
            continue;
          }
          default: { this.pos = p; this.fail("bad escape"); return null; }
        }
        store<u16>(out, <u16>u);
        out += 2;
        p += 2;
        continue;
      }
      if (c < 0x20) { this.pos = p; this.fail("control character in string"); return null; }
      if (c < 0x80) {
        store<u16>(out, <u16>c);
        out += 2;
        p++;
        continue;
      }
      // UTF-8 multi-byte sequence; malformed input becomes U+FFFD (one per bad byte).
      let cp: u32 = 0xFFFD;
      let n: usize = 1;
      if (c >= 0xC2 && c <= 0xDF) {
        if (p + 1 < end && (load<u8>(p + 1) & 0xC0) == 0x80) {
          cp = ((c & 0x1F) << 6) | (<u32>load<u8>(p + 1) & 0x3F);
          n = 2;
        }
      } else if (c >= 0xE0 && c <= 0xEF) {
        if (p + 2 < end && (load<u8>(p + 1) & 0xC0) == 0x80 && (load<u8>(p + 2) & 0xC0) == 0x80) {
          let v = ((c & 0x0F) << 12) | ((<u32>load<u8>(p + 1) & 0x3F) << 6) | (<u32>load<u8>(p + 2) & 0x3F);
          if (v >= 0x800 && (v & 0xF800) != 0xD800) { cp = v; n = 3; }
        }
      } else if (c >= 0xF0 && c <= 0xF4) {
        if (p + 3 < end && (load<u8>(p + 1) & 0xC0) == 0x80 && (load<u8>(p + 2) & 0xC0) == 0x80 &&
            (load<u8>(p + 3) & 0xC0) == 0x80) {
          let v = ((c & 0x07) << 18) | ((<u32>load<u8>(p + 1) & 0x3F) << 12) |
                  ((<u32>load<u8>(p + 2) & 0x3F) << 6) | (<u32>load<u8>(p + 3) & 0x3F);
          if (v >= 0x10000 && v <= 0x10FFFF) { cp = v; n = 4; }
        }
      }
      if (cp >= 0x10000) {
        let v = cp - 0x10000;
        store<u16>(out, <u16>(0xD800 | (v >> 10)));
        store<u16>(out + 2, <u16>(0xDC00 | (v & 0x3FF)));
        out += 4;
      } else {
        store<u16>(out, <u16>cp);
        out += 2;
      }
      p += n;
    }
    this.pos = p;
    return String.UTF16.decodeUnsafe(scratch16, out - scratch16);
  }

  number(): JSONValue | null {
    let p = this.pos;
    let end = this.end;
    let s = p;
    let neg = false;
    if (load<u8>(p) == 0x2D) { neg = true; p++; }
    if (p >= end) return this.fail("bad number");
    let c = load<u8>(p);
    let digits = 0;
    let mant: i64 = 0;
    if (c == 0x30) {
      p++;
      digits = 1;
    } else if (c >= 0x31 && c <= 0x39) {
      while (p < end) {
        c = load<u8>(p);
        if (c < 0x30 || c > 0x39) break;
        if (digits < 18) mant = mant * 10 + <i64>(c - 0x30);
        digits++;
        p++;
      }
    } else {
      this.pos = p;
      return this.fail("bad number");
    }
    let simple = true;
    if (p < end && load<u8>(p) == 0x2E) {
      simple = false;
      p++;
      let fd = 0;
      while (p < end && load<u8>(p) >= 0x30 && load<u8>(p) <= 0x39) { p++; fd++; }
      if (!fd) { this.pos = p; return this.fail("bad number"); }
    }
    if (p < end && (load<u8>(p) | 0x20) == 0x65) {
      simple = false;
      p++;
      if (p < end && (load<u8>(p) == 0x2B || load<u8>(p) == 0x2D)) p++;
      let ed = 0;
      while (p < end && load<u8>(p) >= 0x30 && load<u8>(p) <= 0x39) { p++; ed++; }
      if (!ed) { this.pos = p; return this.fail("bad number"); }
    }
    this.pos = p;
    if (simple && digits <= 15) {
      let v = <f64>mant;
      return new JSONNumber(neg ? -v : v);
    }
    return new JSONNumber(parseFloat(String.UTF8.decodeUnsafe(s, p - s)));
  }
}

/** Parses `len` bytes of UTF-8 JSON at `ptr`. Returns null (see jsonParseError()) if invalid. */
export function parseJSONBytes(ptr: usize, len: i32): JSONValue | null {
  if (len < 0) { parseError = "negative length"; return null; }
  let p = new Parser(ptr, <usize>len);
  let v = p.value();
  if (v === null) return null;
  p.skipWs();
  if (p.pos != p.end) {
    p.fail("trailing characters");
    return null;
  }
  return v;
}

/** Parses JSON text. Returns null (see jsonParseError()) if invalid. */
export function parseJSON(text: string): JSONValue | null {
  let buf = String.UTF8.encode(text);
  return parseJSONBytes(changetype<usize>(buf), buf.byteLength);
}

/** Parses UTF-8 JSON held in a Uint8Array. */
export function parseJSONBuffer(bytes: Uint8Array): JSONValue | null {
  return parseJSONBytes(bytes.dataStart, bytes.length);
}
