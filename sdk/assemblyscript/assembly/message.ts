// FIPA-ACL messages as they cross the Caxton ABI (docs/agent-abi.md, section 4).

import {
  JSONKind, JSONValue, JSONObject, JSONString, JSONNull, JSONWriter, parseJSONBytes, jsonParseError,
} from "./json";

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

function optString(v: JSONValue): string | null {
  return v.kind == JSONKind.STRING ? changetype<JSONString>(v).value : null;
}

/**
 * One message. Absent (or null, or non-string) header fields are null; `content` is the raw JSON value
 * (JSON null when absent). Unknown fields, such as `trace_context`, are ignored on parse and not
 * written on serialize. When sending, leave `sender` and `message_id` null: the host fills them in.
 */
export class Message {
  message_id: string | null = null;
  performative: string = "";
  sender: string | null = null;
  receiver: string | null = null;
  capability: string | null = null;
  /** Publish to every subscriber of this topic (instead of receiver or capability). */
  topic: string | null = null;
  content: JSONValue = new JSONNull();
  conversation_id: string | null = null;
  reply_with: string | null = null;
  in_reply_to: string | null = null;
  reply_by: string | null = null;
  protocol: string | null = null;
  language: string | null = null;
  ontology: string | null = null;

  /** A new outgoing message. */
  static create(performative: string, receiver: string | null, content: JSONValue): Message {
    let m = new Message();
    m.performative = performative;
    m.receiver = receiver;
    m.content = content;
    return m;
  }

  /** Reads a message from a parsed JSON object; null if it is not an object or lacks a performative. */
  static fromJSON(v: JSONValue): Message | null {
    if (v.kind != JSONKind.OBJECT) {
      messageError = "message is not a JSON object";
      return null;
    }
    let o = changetype<JSONObject>(v);
    let m = new Message();
    let keys = o.keys;
    let values = o.values;
    let hasPerformative = false;
    for (let i = 0, n = keys.length; i < n; i++) {
      let k = unchecked(keys[i]);
      let val = unchecked(values[i]);
      if (k == "performative") {
        let s = optString(val);
        if (s !== null) {
          m.performative = s;
          hasPerformative = true;
        }
      } else if (k == "content") m.content = val;
      else if (k == "sender") m.sender = optString(val);
      else if (k == "receiver") m.receiver = optString(val);
      else if (k == "conversation_id") m.conversation_id = optString(val);
      else if (k == "reply_with") m.reply_with = optString(val);
      else if (k == "in_reply_to") m.in_reply_to = optString(val);
      else if (k == "message_id") m.message_id = optString(val);
      else if (k == "capability") m.capability = optString(val);
      else if (k == "topic") m.topic = optString(val);
      else if (k == "reply_by") m.reply_by = optString(val);
      else if (k == "protocol") m.protocol = optString(val);
      else if (k == "language") m.language = optString(val);
      else if (k == "ontology") m.ontology = optString(val);
    }
    if (!hasPerformative) {
      messageError = "message has no performative";
      return null;
    }
    return m;
  }

  /** Parses a message from `len` bytes of UTF-8 JSON at `ptr`. Null if invalid (see messageParseError()). */
  static parse(ptr: usize, len: i32): Message | null {
    let v = parseJSONBytes(ptr, len);
    if (v === null) {
      messageError = "invalid JSON: " + jsonParseError();
      return null;
    }
    return Message.fromJSON(v);
  }

  /** Parses a message from JSON text. */
  static parseString(text: string): Message | null {
    let buf = String.UTF8.encode(text);
    return Message.parse(changetype<usize>(buf), buf.byteLength);
  }

  /**
   * A reply: receiver = this message's sender, conversation_id and protocol copied, in_reply_to =
   * this message's reply_with (language and ontology are copied too).
   */
  reply(performative: string, content: JSONValue): Message {
    let m = new Message();
    m.performative = performative;
    m.receiver = this.sender;
    m.content = content;
    m.conversation_id = this.conversation_id;
    m.in_reply_to = this.reply_with;
    m.protocol = this.protocol;
    m.language = this.language;
    m.ontology = this.ontology;
    return m;
  }

  /** Writes the message as a compact JSON object; null fields are omitted, content is always written. */
  write(w: JSONWriter): void {
    w.byte(0x7B);
    w.key("performative", true);
    w.string(this.performative);
    writeOpt(w, "message_id", this.message_id);
    writeOpt(w, "sender", this.sender);
    writeOpt(w, "receiver", this.receiver);
    writeOpt(w, "capability", this.capability);
    writeOpt(w, "topic", this.topic);
    w.key("content", false);
    w.value(this.content);
    writeOpt(w, "conversation_id", this.conversation_id);
    writeOpt(w, "reply_with", this.reply_with);
    writeOpt(w, "in_reply_to", this.in_reply_to);
    writeOpt(w, "reply_by", this.reply_by);
    writeOpt(w, "protocol", this.protocol);
    writeOpt(w, "language", this.language);
    writeOpt(w, "ontology", this.ontology);
    w.byte(0x7D);
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

function writeOpt(w: JSONWriter, key: string, v: string | null): void {
  if (v !== null) {
    w.key(key, false);
    w.string(v);
  }
}
