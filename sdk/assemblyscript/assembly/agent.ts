// ABI plumbing and host services for Caxton agents written in AssemblyScript.

import {
  caxton_send, caxton_log, caxton_time_now_us, caxton_time_monotonic_us, caxton_random_fill,
  caxton_timer_set, caxton_timer_cancel, caxton_kv_get, caxton_kv_set, caxton_kv_delete,
  caxton_capability_register, caxton_topic_subscribe, caxton_topic_unsubscribe, HostError, LogLevel,
} from "./host";
import { JSONKind, JSONValue, JSONWriter, jsonObject, parseJSONBytes, parseHostJSON, jsonParseError } from "./json";
import { Message, messageParseError } from "./message";
import { utf8Decode, utf8Encode } from "./utf8";

/** The ABI version this SDK implements. */
export const ABI_VERSION: i32 = 1;

// ---- required exports (re-export these from the agent's entry file) ----------------------------

/** `caxton_abi_version() -> i32`: always 1. */
export function caxton_abi_version(): i32 {
  return ABI_VERSION;
}

// The last input buffer dispatch()/init() were done with, kept for the next caxton_alloc that fits
// (one heap.alloc and one heap.free less per message). It is handed out at most once, so a handler
// that frees its buffer itself with heap.free, as the ABI allows, frees a block that is its own.
let spareInput: usize = 0;
let spareInputLen: i32 = 0;

/**
 * `caxton_alloc(len) -> ptr`: a buffer outside the GC heap for the host to write a message or the init
 * document into. dispatch()/init() release it once parsed (see spareInput). Returns 0 for a negative
 * or absurd length.
 * (If linear memory cannot grow enough, the allocator traps instead; the host treats that as a trap.)
 */
export function caxton_alloc(len: i32): usize {
  if (len < 0 || len > 0x3FFF0000) return 0;
  let spare = spareInput;
  if (spare) {
    spareInput = 0;
    if (len <= spareInputLen) return spare;
    heap.free(spare);
  }
  return heap.alloc(<usize>len);
}

/** Done with an input buffer from caxton_alloc (which may not hold more than `len` bytes' worth). */
function releaseInput(ptr: usize, len: i32): void {
  if (!ptr) return;
  if (spareInput) {
    heap.free(ptr);
    return;
  }
  spareInput = ptr;
  spareInputLen = len;
}

// ---- the init document ------------------------------------------------------------------------

// No global of the SDK is given an object at module start: AssemblyScript emits the incremental
// runtime's own lazily initialised globals where it first compiles their use, which can come after
// such an allocation (the object is then linked into a list that does not exist yet, and the first
// GC cycle that visits it traps). Objects are made on first use instead.
let initDone: bool = false;
let agentNameValue: string = "";
let agentIdValue: string = "";
let agentConfigValue: JSONValue | null = null;
let agentRestartsValue: i32 = 0;
let agentInitDoc: JSONValue | null = null;

/** This agent's name from the init document ("" before agent_init ran or if it is not exported). */
export function agentName(): string { return agentNameValue; }
/** This agent's id from the init document. */
export function agentId(): string { return agentIdValue; }
/** The operator's config JSON (`{}` if none). */
export function agentConfig(): JSONValue {
  let c = agentConfigValue;
  if (c === null) {
    c = jsonObject();
    agentConfigValue = c;
  }
  return c;
}
/** How often this agent has been brought back since it was deployed (0 on a fresh start). */
export function agentRestarts(): i32 { return agentRestartsValue; }
/** The whole init document (`{}` before agent_init ran). */
export function initDocument(): JSONValue {
  let d = agentInitDoc;
  if (d === null) {
    d = jsonObject();
    agentInitDoc = d;
  }
  return d;
}
/** Whether agent_init has run in this instance. */
export function agentInitialized(): bool { return initDone; }

/**
 * Parses and stores the init document, releases the buffer and then runs `ready` (if given). Returns
 * what `ready` returns, 0 without one, or -1 if the document is not valid JSON.
 */
export function init(ptr: usize, len: i32, ready: (() => i32) | null = null): i32 {
  let doc = parseHostJSON(ptr, len);
  releaseInput(ptr, len);
  if (doc === null || doc.kind != JSONKind.OBJECT) {
    log(LogLevel.ERROR, "caxton sdk: invalid init document: " + jsonParseError());
    return -1;
  }
  agentInitDoc = doc;
  let name = doc.getString("name");
  agentNameValue = name !== null ? name : "";
  let id = doc.getString("agent_id");
  agentIdValue = id !== null ? id : "";
  let config = doc.get("config");
  agentConfigValue = config !== null && !config.isNull() ? config : jsonObject();
  agentRestartsValue = <i32>doc.getNumber("restarts", 0);
  initDone = true;
  if (ready !== null) return ready();
  return 0;
}

/** `agent_init(ptr, len) -> i32` for agents that need nothing beyond capturing the init document. */
export function agent_init(ptr: usize, len: i32): i32 {
  return init(ptr, len, null);
}

// ---- message dispatch -------------------------------------------------------------------------

/** Error code returned by dispatch() when the message cannot be parsed. */
export const ERR_BAD_MESSAGE: i32 = -100;

/**
 * Implements handle_message: parses the message at ptr/len, releases the buffer (see caxton_alloc),
 * then calls `handler`.
 * Returns the handler's result, or ERR_BAD_MESSAGE (after logging why) if the message is invalid.
 */
export function dispatch(ptr: usize, len: i32, handler: (msg: Message) => i32): i32 {
  let msg = Message._fromHost(ptr, len);
  releaseInput(ptr, len);
  if (msg === null) {
    log(LogLevel.ERROR, "caxton sdk: dropped invalid message: " + messageParseError());
    return ERR_BAD_MESSAGE;
  }
  return handler(msg);
}

// ---- sending ----------------------------------------------------------------------------------

// One output buffer for send and timerSet, made on first use (see the note on the init globals).
let outWriter: JSONWriter | null = null;

function writer(): JSONWriter {
  let w = outWriter;
  if (w === null) {
    w = new JSONWriter();
    outWriter = w;
  }
  return w;
}

/** Sends a message. Returns 0 when accepted, or a negative HostError code. */
export function send(msg: Message): i32 {
  let w = writer();
  w.reset();
  msg.write(w);
  return caxton_send(w.ptr, w.len);
}

/** Sends `msg.reply(performative, content)`. */
export function reply(msg: Message, performative: string, content: JSONValue): i32 {
  return send(msg.reply(performative, content));
}

// ---- logging ----------------------------------------------------------------------------------

// Encodes a string as UTF-8 (lone surrogates become U+FFFD) into a GC-managed buffer.
function utf8(s: string): ArrayBuffer {
  return utf8Encode(s);
}

/** Logs a line (levels: LogLevel.TRACE..ERROR = 0..4). The host truncates lines over 4 KiB. */
export function log(level: i32, text: string): void {
  let b = utf8(text);
  caxton_log(level, changetype<usize>(b), b.byteLength);
}
export function logDebug(text: string): void { log(LogLevel.DEBUG, text); }
export function logInfo(text: string): void { log(LogLevel.INFO, text); }
export function logWarn(text: string): void { log(LogLevel.WARN, text); }
export function logError(text: string): void { log(LogLevel.ERROR, text); }

// ---- key-value store --------------------------------------------------------------------------

let kvError: i32 = 0;
/** The host code behind the last kvGet/kvSet/kvDelete call (0 = OK, -1 = not found, ...). */
export function kvLastError(): i32 { return kvError; }

const KV_SCRATCH_CAP: i32 = 512;
const kvScratch = memory.data(512);

// Reads a value into a heap buffer; returns [ptr, len] packed in an i64 or -1 on error. The caller
// frees ptr unless it is kvScratch.
function kvRead(key: string): i64 {
  let k = utf8(key);
  let kp = changetype<usize>(k);
  let kl = k.byteLength;
  let buf = kvScratch;
  let cap = KV_SCRATCH_CAP;
  while (true) {
    let n = caxton_kv_get(kp, kl, buf, cap);
    if (n < 0) {
      if (buf != kvScratch) heap.free(buf);
      kvError = n;
      return -1;
    }
    if (n <= cap) {
      kvError = 0;
      return (<i64>n << 32) | <i64>(<u32>buf);
    }
    // The value is larger than the buffer: retry with an exact-size one.
    if (buf != kvScratch) heap.free(buf);
    buf = heap.alloc(<usize>n);
    cap = n;
  }
}

/** The value stored under `key` as bytes, or null (not found or error; see kvLastError()). */
export function kvGetBytes(key: string): Uint8Array | null {
  let r = kvRead(key);
  if (r < 0) return null;
  let ptr = <usize>(<u32>r);
  let n = <i32>(r >>> 32);
  let out = new Uint8Array(n);
  memory.copy(out.dataStart, ptr, <usize>n);
  if (ptr != kvScratch) heap.free(ptr);
  return out;
}

/** The value stored under `key` decoded as UTF-8, or null (not found or error; see kvLastError()). */
export function kvGet(key: string): string | null {
  let r = kvRead(key);
  if (r < 0) return null;
  let ptr = <usize>(<u32>r);
  let n = <i32>(r >>> 32);
  let s = utf8Decode(ptr, <usize>n);
  if (ptr != kvScratch) heap.free(ptr);
  return s;
}

/** The value stored under `key` parsed as JSON, or null (not found, error or not JSON). */
export function kvGetJSON(key: string): JSONValue | null {
  let r = kvRead(key);
  if (r < 0) return null;
  let ptr = <usize>(<u32>r);
  let n = <i32>(r >>> 32);
  let v = parseJSONBytes(ptr, n);
  if (ptr != kvScratch) heap.free(ptr);
  return v;
}

/** Stores bytes under `key`. Returns 0 once durable, or a negative HostError code. */
export function kvSetBytes(key: string, value: Uint8Array): i32 {
  let k = utf8(key);
  kvError = caxton_kv_set(changetype<usize>(k), k.byteLength, value.dataStart, value.length);
  return kvError;
}

/** Stores a string (as UTF-8) under `key`. Returns 0 once durable, or a negative HostError code. */
export function kvSet(key: string, value: string): i32 {
  let k = utf8(key);
  let v = utf8(value);
  kvError = caxton_kv_set(changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
  return kvError;
}

/** Stores a JSON value (compact text) under `key`. */
export function kvSetJSON(key: string, value: JSONValue): i32 {
  let k = utf8(key);
  let w = new JSONWriter();
  w.value(value);
  kvError = caxton_kv_set(changetype<usize>(k), k.byteLength, w.ptr, w.len);
  w.dispose();
  return kvError;
}

/**
 * Registers this agent as a provider of `capability`, so that messages addressed to the capability
 * (instead of a receiver) can reach it. Call it from agent_init: registrations last as long as the
 * agent runs and are made again on every restart. Returns 0 or a negative HostError code.
 */
export function registerCapability(capability: string): i32 {
  let c = utf8(capability);
  return caxton_capability_register(changetype<usize>(c), c.byteLength);
}

/**
 * Subscribes this agent to `topic`: every message published to it (a message with `topic` instead of
 * a receiver) is delivered here. Call it from agent_init; it is made again on every restart.
 */
export function subscribe(topic: string): i32 {
  let t = utf8(topic);
  return caxton_topic_subscribe(changetype<usize>(t), t.byteLength);
}

/** Ends a subscription (0 also when there was none), or a negative HostError code. */
export function unsubscribe(topic: string): i32 {
  let t = utf8(topic);
  return caxton_topic_unsubscribe(changetype<usize>(t), t.byteLength);
}

/** Deletes `key` (0 also when it did not exist), or a negative HostError code. */
export function kvDelete(key: string): i32 {
  let k = utf8(key);
  kvError = caxton_kv_delete(changetype<usize>(k), k.byteLength);
  return kvError;
}

// ---- timers, time, randomness -----------------------------------------------------------------

/**
 * Delivers `msg` to this agent's own handle_message after `delayMs` (0..24 h). If msg.receiver is
 * null it is set to this agent's name (known after agent_init). Returns a timer id (> 0) or an error.
 */
export function timerSet(delayMs: i32, msg: Message): i32 {
  if (msg.receiver === null && agentNameValue.length > 0) msg.receiver = agentNameValue;
  let w = writer();
  w.reset();
  msg.write(w);
  return caxton_timer_set(delayMs, w.ptr, w.len);
}

/** Cancels a timer: 0, or HostError.NOT_FOUND if it already fired or never existed. */
export function timerCancel(id: i32): i32 {
  return caxton_timer_cancel(id);
}

/** Wall-clock microseconds since the Unix epoch. */
export function timeNowUs(): i64 { return caxton_time_now_us(); }
/** Monotonic microseconds from an arbitrary origin. */
export function timeMonotonicUs(): i64 { return caxton_time_monotonic_us(); }

/** Fills `buf` with cryptographically secure random bytes (in 64 KiB chunks). 0 or an error code. */
export function randomFill(buf: Uint8Array): i32 {
  let p = buf.dataStart;
  let left = buf.length;
  while (left > 0) {
    let n = min<i32>(left, 65536);
    let rc = caxton_random_fill(p, n);
    if (rc != 0) return rc;
    p += <usize>n;
    left -= n;
  }
  return 0;
}

/** `n` random bytes (traps if the host refuses, which it only does for bad arguments). */
export function randomBytes(n: i32): Uint8Array {
  let b = new Uint8Array(n);
  let rc = randomFill(b);
  if (rc != 0) throw new Error("caxton.random_fill failed: " + rc.toString());
  return b;
}

/** `nBytes` random bytes as lowercase hex (handy for ids). */
export function randomHex(nBytes: i32): string {
  let b = randomBytes(nBytes);
  // One string of the final length, filled in place (concatenation would allocate per digit).
  let out = changetype<usize>(__new(<usize>nBytes << 2, idof<String>()));
  let hex = changetype<usize>("0123456789abcdef");
  for (let i = 0; i < nBytes; i++) {
    let v = <usize>b[i];
    store<u16>(out + (<usize>i << 2), load<u16>(hex + ((v >> 4) << 1)));
    store<u16>(out + (<usize>i << 2) + 2, load<u16>(hex + ((v & 15) << 1)));
  }
  return changetype<string>(out);
}

// ---- abort ------------------------------------------------------------------------------------
// abort may run before this file's globals are initialised (it is referenced by the standard
// library), so everything here uses literal constants and a static buffer from memory.data().

function abortPutAscii(buf: usize, pos: usize, b: u32): usize {
  if (pos < 1024) store<u8>(buf + pos, <u8>b);
  return pos + 1;
}

// Appends a managed string (passed as a raw pointer) as ASCII ('?' for anything else) without
// allocating, so that abort works even when the heap or the shadow stack is what failed.
function abortPutStr(buf: usize, pos: usize, str: usize): usize {
  if (!str) return pos;
  let n = load<u32>(str - 4) >> 1; // rtSize of the string object, in UTF-16 code units
  for (let i: usize = 0; i < <usize>n && pos < 1024; i++) {
    let c = <u32>load<u16>(str + (i << 1));
    pos = abortPutAscii(buf, pos, c >= 0x20 && c < 0x7F ? c : 0x3F);
  }
  return pos;
}

function abortPutNum(buf: usize, pos: usize, v: u32): usize {
  let tmp: u32 = 1;
  while (tmp <= v / 10) tmp *= 10;
  while (tmp > 0) {
    pos = abortPutAscii(buf, pos, 0x30 + (v / tmp) % 10);
    tmp /= 10;
  }
  return pos;
}

/**
 * Replaces AssemblyScript's `env.abort` import (build with `--use abort=<path of this file without
 * .ts>/caxtonAbort`): logs "abort: <message> at <file>:<line>:<column>" at error level through
 * caxton.log, then traps with `unreachable`.
 */
export function caxtonAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  // Take raw pointers first: no managed value may stay live across a call, or the shadow-stack
  // pass would give this function a frame (and a stack check that calls abort again).
  let msgPtr = changetype<usize>(message);
  let filePtr = changetype<usize>(fileName);
  let buf = memory.data(1028);
  let flag = buf + 1024;
  if (!load<u8>(flag)) {
    store<u8>(flag, 1); // no second log line if logging itself aborts
    let pos: usize = 0;
    pos = abortPutStr(buf, pos, changetype<usize>("abort: "));
    pos = abortPutStr(buf, pos, msgPtr);
    if (filePtr) {
      pos = abortPutStr(buf, pos, changetype<usize>(" at "));
      pos = abortPutStr(buf, pos, filePtr);
      pos = abortPutAscii(buf, pos, 0x3A);
      pos = abortPutNum(buf, pos, line);
      pos = abortPutAscii(buf, pos, 0x3A);
      pos = abortPutNum(buf, pos, column);
    }
    caxton_log(4, buf, <i32>min<usize>(pos, 1024));
  }
  unreachable();
}

export { HostError, LogLevel };
