// FIPA-ACL messages as they cross the Caxton ABI (docs/agent-abi.md, section 4).
//
// Parsing is one validating pass over the message's UTF-8 bytes (kept in a GC-managed copy). Header
// fields are not decoded then: each remembers where its string literal is, is decoded the first time
// it is read, and is written into a reply or a forwarded message by copying those bytes. `content`
// stays a lazy JSON value (see json.ts). A field that is assigned forgets its bytes.

import {
  JSONKind, JSONValue, JSONObject, JSONWriter, jsonNull, lazyValue, decodeAll, copyBytes,
} from "./json";
import {
  ws, scanString, skipValue, scanDocument, scanError, decodeLiteral, asciiEquals, shortBytesEqual, beginDocument,
  failAt, lastStringSpecial, documentHasBadUtf8, isNull, takeTape, setCarefulDecoding,
} from "./json-scan";
import { narrowRun, utf8Encode } from "./utf8";

/** The performatives the ABI names. */
export namespace Performative {
  export const REQUEST = "request";
  export const INFORM = "inform";
  export const QUERY_IF = "query-if";
  export const QUERY_REF = "query-ref";
  export const CFP = "cfp";
  export const PROPOSE = "propose";
  export const ACCEPT_PROPOSAL = "accept-proposal";
  export const REJECT_PROPOSAL = "reject-proposal";
  export const AGREE = "agree";
  export const REFUSE = "refuse";
  export const FAILURE = "failure";
  export const NOT_UNDERSTOOD = "not-understood";
  export const CANCEL = "cancel";
  export const SUBSCRIBE = "subscribe";
}

let messageError: string = "";
/** Why the last Message.parse returned null. */
export function messageParseError(): string { return messageError; }

// Field ids, in the order Message.write emits them.
const F_MESSAGE_ID = 0;
const F_SENDER = 1;
const F_RECEIVER = 2;
const F_CAPABILITY = 3;
const F_TOPIC = 4;
const F_CONVERSATION_ID = 5;
const F_REPLY_WITH = 6;
const F_IN_REPLY_TO = 7;
const F_REPLY_BY = 8;
const F_PROTOCOL = 9;
const F_LANGUAGE = 10;
const F_ONTOLOGY = 11;
const F_PERFORMATIVE = 12;
const F_CONTENT = 13;

// Candidate field by key length (0..15): a field id, -1 (none), or AMBIGUOUS_8 / AMBIGUOUS_10 for
// the lengths several names share. A table, not a switch: the meter charges a function's whole body
// on every call, whichever case runs.
const AMBIGUOUS_8: i8 = 100;
const AMBIGUOUS_10: i8 = 101;
const FIELD_BY_LENGTH = memory.data<i8>([
  -1, -1, -1, -1, -1, <i8>F_TOPIC, <i8>F_SENDER, <i8>F_CONTENT, AMBIGUOUS_8, -1, AMBIGUOUS_10,
  <i8>F_IN_REPLY_TO, <i8>F_PERFORMATIVE, -1, -1, <i8>F_CONVERSATION_ID,
]);

/** The field named by the n key bytes at p (plain ASCII, no escapes), or -1. */
function fieldOf(p: usize, n: i32): i32 {
  // Pick the one candidate by length (and a letter), then compare with its name in the prefix table.
  if (<u32>n > 15) return -1;
  let f = <i32>load<i8>(FIELD_BY_LENGTH + <usize>n);
  if (f == AMBIGUOUS_8) {
    let c = load<u8>(p);
    f = c == 0x70 ? F_PROTOCOL : c == 0x6C ? F_LANGUAGE : c == 0x6F ? F_ONTOLOGY
      : load<u8>(p + 2) == 0x63 ? F_RECEIVER : F_REPLY_BY; // "rec..." / "rep..."
  } else if (f == AMBIGUOUS_10) {
    let c = load<u8>(p);
    f = c == 0x72 ? F_REPLY_WITH : c == 0x6D ? F_MESSAGE_ID : F_CAPABILITY;
  } else if (f < 0) {
    return -1;
  }
  // The prefix is `,"name":` (or `{"name":`): the name starts 2 bytes in and is 4 bytes shorter.
  let slot = prefixAt(f);
  if (<i32>load<u8>(slot) - 4 != n) return -1;
  return shortBytesEqual(p, slot + 3, <usize>n) ? f : -1;
}

/** The field named by a decoded key (one that was written with escapes), or -1. */
function fieldOfName(key: string): i32 {
  for (let f = 0; f <= F_CONTENT; f++) {
    let slot = prefixAt(f);
    if (asciiEquals(slot + 3, <i32>load<u8>(slot) - 4, key)) return f;
  }
  return -1;
}

const P_PERFORMATIVE = F_PERFORMATIVE;
const P_CONTENT = F_CONTENT;

// The member prefixes (`,"name":`) as UTF-8 in static memory, in field-id order, written with one
// memory.copy each: slot i (32 bytes) holds the length, then the bytes. Filled on first use rather
// than at module start, where the SDK runs no code (see the note on the init globals in agent.ts).
const PREFIXES: usize = memory.data(14 * 32);
let prefixesFilled: bool = false;

function fillPrefixes(): void {
  // A local, not a global: the GC marks every object a global refers to on each cycle.
  const text: StaticArray<string> = [
    ",\"message_id\":", ",\"sender\":", ",\"receiver\":", ",\"capability\":", ",\"topic\":",
    ",\"conversation_id\":", ",\"reply_with\":", ",\"in_reply_to\":", ",\"reply_by\":", ",\"protocol\":",
    ",\"language\":", ",\"ontology\":", "{\"performative\":", ",\"content\":",
  ];
  for (let i = 0; i < text.length; i++) {
    let s = unchecked(text[i]);
    let slot = PREFIXES + (<usize>i << 5);
    store<u8>(slot, <u8>s.length);
    narrowRun(changetype<usize>(s), changetype<usize>(s) + (<usize>s.length << 1), slot + 1);
  }
  prefixesFilled = true;
}

// @ts-ignore: decorator
@inline function prefixAt(i: i32): usize {
  if (!prefixesFilled) fillPrefixes();
  return PREFIXES + (<usize>i << 5);
}

// @ts-ignore: decorator
@inline function writePrefix(w: JSONWriter, i: i32): void {
  let slot = prefixAt(i);
  w.bytes(slot + 1, <i32>load<u8>(slot));
}

// @ts-ignore: decorator
@inline function rawSlice(at: usize, len: usize): i64 {
  return (<i64>at << 32) | <i64>len;
}

/**
 * One message. Absent (or null, or non-string) header fields are null; `content` is the JSON value
 * (JSON null when absent). Unknown fields, such as `trace_context`, are ignored on parse and not
 * written on serialize. When sending, leave `sender` and `message_id` null: the host fills them in.
 */
export class Message {
  performative: string = "";

  // Internal state. No initialisers: the SDK makes messages with Message.blank() (zeroed memory, no
  // constructor), because AssemblyScript's constructor stores every reference field through a
  // write-barrier call, and the meter charges each call in full.
  /** The message's bytes, which raw fields and content point into. */
  _src: ArrayBuffer | null;
  /** Content: the value once made or set; else its JSON text _src[_contentAt, _contentEnd) if _contentAt > 0. */
  _content: JSONValue | null;
  /** The tape of _src (see json-scan.ts), for a content that is made from it. */
  _tape: ArrayBuffer | null;
  _contentAt: i32;
  _contentEnd: i32;
  // Header fields as their string literal in _src, (offset << 32 | length), or 0 (a literal inside an
  // object never starts at offset 0). Contiguous and in field-id order: rawAt() indexes them. A field
  // read for the first time is decoded from its literal; the literal is what gets written.
  _message_idRaw: i64;
  _senderRaw: i64;
  _receiverRaw: i64;
  _capabilityRaw: i64;
  _topicRaw: i64;
  _conversation_idRaw: i64;
  _reply_withRaw: i64;
  _in_reply_toRaw: i64;
  _reply_byRaw: i64;
  _protocolRaw: i64;
  _languageRaw: i64;
  _ontologyRaw: i64;
  // Header fields as strings: decoded from the literal on first read, or assigned. Contiguous and in
  // field-id order: strAt() indexes them.
  _message_id: string | null;
  _sender: string | null;
  _receiver: string | null;
  _capability: string | null;
  _topic: string | null;
  _conversation_id: string | null;
  _reply_with: string | null;
  _in_reply_to: string | null;
  _reply_by: string | null;
  _protocol: string | null;
  _language: string | null;
  _ontology: string | null;

  /** A zeroed message, made without running the constructor (see the note above). */
  static blank(): Message {
    let m = changetype<Message>(__new(offsetof<Message>(), idof<Message>()));
    m.performative = "";
    return m;
  }

  get message_id(): string | null { return this.field(F_MESSAGE_ID); }
  set message_id(v: string | null) { this.setField(F_MESSAGE_ID, v); }
  get sender(): string | null { return this.field(F_SENDER); }
  set sender(v: string | null) { this.setField(F_SENDER, v); }
  get receiver(): string | null { return this.field(F_RECEIVER); }
  set receiver(v: string | null) { this.setField(F_RECEIVER, v); }
  get capability(): string | null { return this.field(F_CAPABILITY); }
  set capability(v: string | null) { this.setField(F_CAPABILITY, v); }
  /** Publish to every subscriber of this topic (instead of receiver or capability). */
  get topic(): string | null { return this.field(F_TOPIC); }
  set topic(v: string | null) { this.setField(F_TOPIC, v); }
  get conversation_id(): string | null { return this.field(F_CONVERSATION_ID); }
  set conversation_id(v: string | null) { this.setField(F_CONVERSATION_ID, v); }
  get reply_with(): string | null { return this.field(F_REPLY_WITH); }
  set reply_with(v: string | null) { this.setField(F_REPLY_WITH, v); }
  get in_reply_to(): string | null { return this.field(F_IN_REPLY_TO); }
  set in_reply_to(v: string | null) { this.setField(F_IN_REPLY_TO, v); }
  get reply_by(): string | null { return this.field(F_REPLY_BY); }
  set reply_by(v: string | null) { this.setField(F_REPLY_BY, v); }
  get protocol(): string | null { return this.field(F_PROTOCOL); }
  set protocol(v: string | null) { this.setField(F_PROTOCOL, v); }
  get language(): string | null { return this.field(F_LANGUAGE); }
  set language(v: string | null) { this.setField(F_LANGUAGE, v); }
  get ontology(): string | null { return this.field(F_ONTOLOGY); }
  set ontology(v: string | null) { this.setField(F_ONTOLOGY, v); }

  /** The content (JSON null when the message has none). A parsed content is lazy (see json.ts). */
  get content(): JSONValue {
    let c = this._content;
    if (c !== null) return c;
    let v = this._contentAt > 0 ? lazyValue(this._src!, this._tape, this._contentAt, this._contentEnd) : jsonNull();
    this._content = v;
    return v;
  }
  set content(v: JSONValue) {
    this._content = v;
    this._contentAt = 0;
  }

  private decode(raw: i64): string {
    let p = changetype<usize>(this._src) + <usize>(raw >>> 32);
    return decodeLiteral(p, p + <usize>(<u32>raw));
  }

  /** Address of header field f's raw slice. */
  // @ts-ignore: decorator
  @inline private rawAt(f: i32): usize {
    return changetype<usize>(this) + offsetof<Message>("_message_idRaw") + (<usize>f << 3);
  }

  /** Address of header field f's string. */
  // @ts-ignore: decorator
  @inline private strAt(f: i32): usize {
    return changetype<usize>(this) + offsetof<Message>("_message_id") + <usize>f * sizeof<usize>();
  }

  /** Header field f: its string, decoded from its literal on first read. */
  private field(f: i32): string | null {
    let s = changetype<string | null>(load<usize>(this.strAt(f)));
    if (isNull(s)) {
      let raw = load<i64>(this.rawAt(f));
      if (raw != 0) {
        s = this.decode(raw);
        this.keep(f, s);
      }
    }
    return s;
  }

  /** Stores header field f's string, through the write barrier (as AssemblyScript's arrays do). */
  private keep(f: i32, v: string | null): void {
    store<usize>(this.strAt(f), changetype<usize>(v));
    if (!isNull(v)) __link(changetype<usize>(this), changetype<usize>(v), false);
  }

  /** Assigns header field f: the string, and no literal any more. */
  private setField(f: i32, v: string | null): void {
    this.keep(f, v);
    store<i64>(this.rawAt(f), 0);
  }

  /** Header field f of this message becomes header field g of `from` (its literal and its string). */
  private copyField(f: i32, from: Message, g: i32): void {
    store<i64>(this.rawAt(f), load<i64>(from.rawAt(g)));
    let s = load<usize>(from.strAt(g));
    if (s) this.keep(f, changetype<string>(s));
  }

  // @ts-ignore: decorator
  @inline private present(f: i32): bool {
    return load<i64>(this.rawAt(f)) != 0 || load<usize>(this.strAt(f)) != 0;
  }

  /** A new outgoing message. */
  static create(performative: string, receiver: string | null, content: JSONValue): Message {
    let m = Message.blank();
    m.performative = performative;
    if (!isNull(receiver)) m.keep(F_RECEIVER, receiver);
    m._content = content;
    return m;
  }

  /** Reads a message from a parsed JSON object; null if it is not an object or lacks a performative. */
  static fromJSON(v: JSONValue): Message | null {
    if (v.kind != JSONKind.OBJECT) {
      messageError = "message is not a JSON object";
      return null;
    }
    let src = v._src;
    if (src !== null) {
      // Still the text it was parsed from (already validated): read it like a received message.
      let m = Message.blank();
      let b = changetype<usize>(src);
      // Checked (or from the host) when it was parsed; a document with malformed UTF-8 has no raw values left.
      beginDocument(b, false);
      return m.read(src, b + <usize>v._at, b + <usize>v._end) ? m.finish() : null;
    }
    let o = changetype<JSONObject>(v);
    let m = Message.blank();
    let keys = o.keys;
    let values = o.values;
    let hasPerformative = false;
    for (let i = 0, n = keys.length; i < n; i++) {
      let f = fieldOfName(unchecked(keys[i]));
      if (f < 0) continue;
      let val = unchecked(values[i]);
      if (f == F_CONTENT) {
        m.content = val;
        continue;
      }
      let s = val.asString();
      if (f == F_PERFORMATIVE) {
        if (!isNull(s)) {
          m.performative = s!;
          hasPerformative = true;
        }
      } else {
        m.setField(f, s);
      }
    }
    if (!hasPerformative) {
      messageError = "message has no performative";
      return null;
    }
    return m;
  }

  /** Parses a message from `len` bytes of UTF-8 JSON at `ptr`. Null if invalid (see messageParseError()). */
  static parse(ptr: usize, len: i32): Message | null {
    if (len < 0) {
      messageError = "invalid JSON: negative length";
      return null;
    }
    return Message.parseOwned(copyBytes(ptr, len), true);
  }

  /** Internal: Message.parse for a buffer the host wrote (well-formed UTF-8 by construction). */
  static _fromHost(ptr: usize, len: i32): Message | null {
    if (len < 0) {
      messageError = "invalid JSON: negative length";
      return null;
    }
    return Message.parseOwned(copyBytes(ptr, len), false);
  }

  /** Parses a message from JSON text. */
  static parseString(text: string): Message | null {
    // utf8Encode writes lone surrogates as U+FFFD: the bytes are well-formed.
    return Message.parseOwned(utf8Encode(text), false);
  }

  private static parseOwned(buf: ArrayBuffer, checkUtf8: bool): Message | null {
    let b = changetype<usize>(buf);
    let end = b + <usize>buf.byteLength;
    beginDocument(b, checkUtf8);
    let p = ws(b, end);
    if (p >= end || load<u8>(p) != 0x7B) {
      // Not an object: say whether it is JSON at all, as a whole-document parse would.
      messageError = scanDocument(b, end, checkUtf8) ? "message is not a JSON object" : "invalid JSON: " + scanError();
      return null;
    }
    let m = Message.blank();
    if (!m.read(buf, p, end)) return null;
    return m.finish();
  }

  /**
   * Reads the envelope object at p (its '{'), which must run to `end` (trailing whitespace aside),
   * validating everything, content included. False (with messageError set) if it is not JSON.
   */
  private read(buf: ArrayBuffer, p: usize, end: usize): bool {
    let b = changetype<usize>(buf);
    this._src = buf;
    let hasPerformative = false;
    let q = ws(p + 1, end);
    if (q < end && load<u8>(q) == 0x7D) {
      q++;
    } else {
      while (true) {
        if (q >= end || load<u8>(q) != 0x22) return this.bad(failAt("expected string key", q));
        let k = q;
        q = scanString(q, end);
        if (!q) return this.bad(0);
        let f = lastStringSpecial() ? fieldOfName(decodeLiteral(k, q)) : fieldOf(k + 1, <i32>(q - k) - 2);
        q = ws(q, end);
        if (q >= end || load<u8>(q) != 0x3A) return this.bad(failAt("expected ':'", q));
        let v = ws(q + 1, end);
        let isString = v < end && load<u8>(v) == 0x22;
        q = isString ? scanString(v, end) : skipValue(v, end, 1);
        if (!q) return this.bad(0);
        if (f == F_CONTENT) {
          this._contentAt = <i32>(v - b);
          this._contentEnd = <i32>(q - b);
        } else if (f == F_PERFORMATIVE) {
          // A non-string performative is ignored, as if absent.
          if (isString) {
            this.performative = performativeAt(v, q, lastStringSpecial());
            hasPerformative = true;
          }
        } else if (f >= 0) {
          // A non-string header value reads as null, as if absent.
          store<i64>(this.rawAt(f), isString ? rawSlice(v - b, q - v) : 0);
        }
        q = ws(q, end);
        if (q >= end) return this.bad(failAt("unterminated object", q));
        let c = load<u8>(q);
        q++;
        if (c == 0x7D) break;
        if (c != 0x2C) return this.bad(failAt("expected ',' or '}'", q - 1));
        q = ws(q, end);
      }
    }
    q = ws(q, end);
    if (q != end) return this.bad(failAt("trailing characters", q));
    let t = takeTape(1); // header values and content are 1 deep (inside the envelope)
    if (t !== null) this._tape = t;
    if (!hasPerformative) {
      messageError = "message has no performative";
      return false;
    }
    return true;
  }

  private bad(_fail: usize): bool {
    messageError = "invalid JSON: " + scanError();
    return false;
  }

  /** Completes a successful read: a message holding malformed UTF-8 is decoded now (see decodeAll). */
  private finish(): Message {
    if (documentHasBadUtf8()) {
      setCarefulDecoding(true);
      for (let f = 0; f < F_PERFORMATIVE; f++) {
        let raw = load<i64>(this.rawAt(f));
        if (raw != 0) this.setField(f, this.decode(raw));
      }
      let c = this.content;
      decodeAll(c);
      this.content = c;
      setCarefulDecoding(false);
    }
    return this;
  }

  /**
   * A reply: receiver = this message's sender, conversation_id and protocol copied, in_reply_to =
   * this message's reply_with (language and ontology are copied too).
   */
  reply(performative: string, content: JSONValue): Message {
    let m = Message.blank();
    m.performative = performative;
    m._content = content;
    // Fields still held as literals are passed on as literals (they point into this message's _src).
    if (this._src !== null) m._src = this._src;
    m.copyField(F_RECEIVER, this, F_SENDER);
    m.copyField(F_CONVERSATION_ID, this, F_CONVERSATION_ID);
    m.copyField(F_IN_REPLY_TO, this, F_REPLY_WITH);
    m.copyField(F_PROTOCOL, this, F_PROTOCOL);
    m.copyField(F_LANGUAGE, this, F_LANGUAGE);
    m.copyField(F_ONTOLOGY, this, F_ONTOLOGY);
    return m;
  }

  /**
   * Writes the message as a compact JSON object; null fields are omitted, content is always written.
   * Field by field, not in a loop: the meter would charge every iteration for the rest of the
   * function; and presence is tested here, not in writeField, which it would charge in full per call.
   */
  write(w: JSONWriter): void {
    writePrefix(w, P_PERFORMATIVE);
    w.string(this.performative);
    if (this.present(F_MESSAGE_ID)) this.writeField(w, F_MESSAGE_ID);
    if (this.present(F_SENDER)) this.writeField(w, F_SENDER);
    if (this.present(F_RECEIVER)) this.writeField(w, F_RECEIVER);
    if (this.present(F_CAPABILITY)) this.writeField(w, F_CAPABILITY);
    if (this.present(F_TOPIC)) this.writeField(w, F_TOPIC);
    writePrefix(w, P_CONTENT);
    let c = this._content;
    if (c === null && this._contentAt > 0) {
      w.bytes(changetype<usize>(this._src) + <usize>this._contentAt, this._contentEnd - this._contentAt);
    } else {
      w.value(c !== null ? c : this.content);
    }
    if (this.present(F_CONVERSATION_ID)) this.writeField(w, F_CONVERSATION_ID);
    if (this.present(F_REPLY_WITH)) this.writeField(w, F_REPLY_WITH);
    if (this.present(F_IN_REPLY_TO)) this.writeField(w, F_IN_REPLY_TO);
    if (this.present(F_REPLY_BY)) this.writeField(w, F_REPLY_BY);
    if (this.present(F_PROTOCOL)) this.writeField(w, F_PROTOCOL);
    if (this.present(F_LANGUAGE)) this.writeField(w, F_LANGUAGE);
    if (this.present(F_ONTOLOGY)) this.writeField(w, F_ONTOLOGY);
    w.byte(0x7D);
  }

  /** Writes header field f, which is present: its literal if it has one, else its string. */
  private writeField(w: JSONWriter, f: i32): void {
    writePrefix(w, f);
    let raw = load<i64>(this.rawAt(f));
    if (raw != 0) {
      w.bytes(changetype<usize>(this._src) + <usize>(raw >>> 32), <i32>(<u32>raw));
    } else {
      w.string(changetype<string>(load<usize>(this.strAt(f))));
    }
  }

  /** The message as JSON text. */
  serialize(): string {
    let w = new JSONWriter();
    this.write(w);
    let s = w.toString();
    w.dispose();
    return s;
  }

  toString(): string { return this.serialize(); }

  is(performative: string): bool { return this.performative == performative; }
}

// rawAt() and strAt() index the header fields by field id, so each group must stay contiguous and in
// field-id order.
assert(offsetof<Message>("_ontologyRaw") - offsetof<Message>("_message_idRaw") == 8 * F_ONTOLOGY);
assert(offsetof<Message>("_ontology") - offsetof<Message>("_message_id") == sizeof<usize>() * F_ONTOLOGY);

/**
 * The performative whose string literal is [p, q). One of the ABI's becomes the Performative constant
 * itself: no allocation, and msg.is(Performative.X) compares pointers first.
 */
function performativeAt(p: usize, q: usize, special: bool): string {
  if (!special) {
    let known = knownPerformative(p + 1, <i32>(q - p) - 2);
    if (!isNull(known)) return known!;
  }
  return decodeLiteral(p, q);
}

/** The Performative constant spelled by the n plain ASCII bytes at p, or null. */
function knownPerformative(p: usize, n: i32): string | null {
  let s: string;
  switch (load<u8>(p)) {
    case 0x61: s = n == 5 ? Performative.AGREE : Performative.ACCEPT_PROPOSAL; break;
    case 0x63: s = n == 3 ? Performative.CFP : Performative.CANCEL; break;
    case 0x66: s = Performative.FAILURE; break;
    case 0x69: s = Performative.INFORM; break;
    case 0x6E: s = Performative.NOT_UNDERSTOOD; break;
    case 0x70: s = Performative.PROPOSE; break;
    case 0x71: s = n == 8 ? Performative.QUERY_IF : Performative.QUERY_REF; break;
    case 0x72: s = n == 7 ? Performative.REQUEST : n == 6 ? Performative.REFUSE : Performative.REJECT_PROPOSAL; break;
    case 0x73: s = Performative.SUBSCRIBE; break;
    default: return null;
  }
  return asciiEquals(p, n, s) ? s : null;
}
