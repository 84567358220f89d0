/**
 * TCP stream framing of memberlist v0.2.2 (net.go handleConn, readStream, rawSendMsgStream,
 * sendLocalState, readRemoteState, readUserMsg, sendUserMsg, sendPingAndWaitForAck).
 *
 * A stream carries one message each way. What goes on the wire is, from the outside in:
 *
 *     [10][u32 BE len][vsn][nonce][ct||tag]   when encryption is on (AAD = the first 5 bytes)
 *     [9] compress{Algo: 0, Buf}              when compression is on (always, no size check)
 *     the message: [6] push/pull | [8] userMsgHeader{UserMsgLen} + bytes | [0] ping | [2] ack | [13] errResp
 *
 * Each layer appears at most once and in that order: Go decrypts, then decompresses once, then takes
 * the next type byte as the message, so a compress inside a compress is an invalid type.
 *
 * A plaintext stream is refused when the ring holds keys and verifyIncoming is on; an encrypted one is
 * refused when the ring is empty. The encrypted length is capped at MAX_PUSH_STATE_BYTES (20 MiB), as
 * in Go; this reader also caps plaintext streams at `maxBytes` and what a compressed message may
 * inflate to at `maxDecompressedBytes` (Go v0.2.2 has neither).
 *
 * StreamReader takes a socket's chunks as they come and says when the message is whole, re-reading
 * only from the last whole msgpack object, so a large push/pull costs linear time.
 */
import { WireError, isWireError } from './errors.js';
import { MAX_PUSH_STATE_BYTES } from './constants.js';
import { compressPayload, decompressBuffer } from './compress.js';
import { decryptPayload, encryptPayload, encryptedLength, type EncryptionVersion } from './encryption.js';
import type { Keyring } from './keyring.js';
import { MessageType, encodeMessage } from './messages.js';
import { MsgpackReader, MsgpackWriter } from './msgpack.js';
import { PushPullParser, type ParseStep, type PushPull } from './push-pull.js';
import { readStruct, writeStruct } from './struct.js';
import {
  ackRespSchema,
  compressSchema,
  errRespSchema,
  pingSchema,
  userMsgHeaderSchema,
  type AckResp,
  type Compress,
  type ErrResp,
  type Ping,
} from './schemas.js';

export interface StreamEncodeOptions {
  /** EnableCompression (default true): compress the whole message, whatever the result's size. */
  readonly compress?: boolean;
  /** Encrypt with the primary key when this ring holds one. */
  readonly keyring?: Keyring;
  /** GossipVerifyOutgoing (default true). */
  readonly verifyOutgoing?: boolean;
  readonly encryptionVersion?: EncryptionVersion;
  /** Tests only: a fixed nonce for the encryption. */
  readonly nonce?: Uint8Array;
}

export interface StreamReaderOptions {
  /** Decrypt with this ring; an encrypted stream without keys is refused. */
  readonly keyring?: Keyring;
  /** GossipVerifyIncoming (default true): refuse plaintext when the ring holds keys. */
  readonly verifyIncoming?: boolean;
  /** Cap on the stream's bytes (default MAX_PUSH_STATE_BYTES, 20 MiB). */
  readonly maxBytes?: number;
  /** Cap on what a compressed message inflates to (default MAX_PUSH_STATE_BYTES). */
  readonly maxDecompressedBytes?: number;
  /** Cap on nodes in one push/pull (default MAX_PUSH_STATE_NODES). */
  readonly maxNodes?: number;
  /** msgpack nesting limit inside one object. */
  readonly maxDepth?: number;
  /**
   * Called once, as soon as the message's type is known (after decryption and decompression) and
   * before its body is parsed, as Go's readStream returns the type before the body is decoded. It may
   * throw to stop reading: the error propagates from push/finish, so a receiver can refuse a costly
   * message (a push/pull over its concurrency cap) without decoding it.
   */
  readonly onMessageType?: (type: number) => void;
}

/** The messages memberlist accepts on a stream. */
export type StreamMessage =
  | { readonly type: typeof MessageType.Ping; readonly body: Ping }
  | { readonly type: typeof MessageType.AckResp; readonly body: AckResp }
  | { readonly type: typeof MessageType.PushPull; readonly body: PushPull }
  | { readonly type: typeof MessageType.User; readonly body: Uint8Array }
  | { readonly type: typeof MessageType.Err; readonly body: ErrResp };

export interface StreamFrame {
  readonly message: StreamMessage;
  readonly encrypted: boolean;
  readonly compressed: boolean;
  /** Bytes of the stream the message took; anything after is ignored, as in Go. */
  readonly length: number;
}

const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------------------
// Encoding

/** encryptLocalState: `[10][u32 BE sealed length][sealed]`, the first 5 bytes being the AAD. */
export function encryptStreamFrame(plain: Uint8Array, key: Uint8Array, vsn: EncryptionVersion = 1, nonce?: Uint8Array): Uint8Array {
  const header = new Uint8Array(5);
  header[0] = MessageType.Encrypt;
  new DataView(header.buffer).setUint32(1, encryptedLength(vsn, plain.length));
  const sealed = encryptPayload(vsn, key, plain, header, nonce);
  const out = new Uint8Array(5 + sealed.length);
  out.set(header);
  out.set(sealed, 5);
  return out;
}

/** rawSendMsgStream: compress (if on) then encrypt (if keys and verifyOutgoing). */
export function encodeStream(msg: Uint8Array, options: StreamEncodeOptions = {}): Uint8Array {
  if (msg.length === 0) throw new WireError('empty', 'refusing to send an empty stream message');
  let out = options.compress === false ? msg : compressPayload(msg);
  const key = options.keyring?.primaryView();
  if (key !== undefined && options.verifyOutgoing !== false) {
    out = encryptStreamFrame(out, key, options.encryptionVersion ?? 1, options.nonce);
  }
  return out;
}

/** sendUserMsg's body: `[8]` + userMsgHeader{UserMsgLen} + the bytes (before compression/encryption). */
export function encodeUserMsgStreamMessage(payload: Uint8Array): Uint8Array {
  const w = new MsgpackWriter(16 + payload.length);
  w.byte(MessageType.User);
  writeStruct(w, userMsgHeaderSchema, { UserMsgLen: payload.length });
  w.raw(payload);
  return w.finish();
}

/** A push/pull (join or anti-entropy) ready for the socket. */
export function encodePushPullStream(msg: PushPull, options: StreamEncodeOptions = {}): Uint8Array {
  return encodeStream(encodeMessage(MessageType.PushPull, msg), options);
}

/** A user message over TCP (memberlist SendReliable). */
export function encodeUserMsgStream(payload: Uint8Array, options: StreamEncodeOptions = {}): Uint8Array {
  return encodeStream(encodeUserMsgStreamMessage(payload), options);
}

/** The TCP fallback probe. */
export function encodePingStream(ping: Ping, options: StreamEncodeOptions = {}): Uint8Array {
  return encodeStream(encodeMessage(MessageType.Ping, ping), options);
}

/** The answer to a TCP ping; Go sends `Payload: nil` here. */
export function encodeAckStream(ack: AckResp, options: StreamEncodeOptions = {}): Uint8Array {
  return encodeStream(encodeMessage(MessageType.AckResp, ack), options);
}

/** handleConn's reply when it could not read a stream. */
export function encodeErrStream(err: ErrResp, options: StreamEncodeOptions = {}): Uint8Array {
  return encodeStream(encodeMessage(MessageType.Err, err), options);
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface Limits {
  readonly maxDecompressed: number;
  readonly maxNodes: number | undefined;
  readonly maxDepth: number | undefined;
  readonly onMessageType: ((type: number) => void) | undefined;
}

/** Reads one msgpack struct at `pos`, mapping "ran out of bytes" to a request for more when allowed. */
function tryRead<T>(
  buf: Uint8Array,
  pos: number,
  end: number,
  limit: number,
  complete: boolean,
  maxDepth: number | undefined,
  read: (r: MsgpackReader) => T,
): { readonly value: T; readonly pos: number } | { readonly needed: number } {
  const r = new MsgpackReader(buf, pos, end, maxDepth);
  try {
    return { value: read(r), pos: r.pos };
  } catch (err) {
    if (complete || !isWireError(err, 'truncated')) throw err;
    const needed = Math.max(err.needed ?? end + 1, end + 1);
    if (needed > limit) throw new WireError('too-large', `stream message would exceed ${limit} bytes`, { offset: pos });
    return { needed };
  }
}

/** Parses the message (type byte at `start`) of a stream, incrementally or from a complete buffer. */
class MessageParser {
  #pushPull: PushPullParser | undefined;
  #typed = false;
  readonly #start: number;
  readonly #limit: number;
  readonly #complete: boolean;
  readonly #limits: Limits;

  constructor(start: number, limit: number, complete: boolean, limits: Limits) {
    this.#start = start;
    this.#limit = limit;
    this.#complete = complete;
    this.#limits = limits;
  }

  step(buf: Uint8Array, end: number): ParseStep<StreamMessage> {
    const start = this.#start;
    if (end <= start) {
      if (this.#complete) throw new WireError('empty', 'stream message is empty', { offset: start });
      return { done: false, needed: start + 1 };
    }
    const type = buf[start] ?? 0;
    const body = start + 1;
    if (!this.#typed) {
      this.#typed = true;
      this.#limits.onMessageType?.(type);
    }
    const struct = <T>(read: (r: MsgpackReader) => T): { value: T; pos: number } | { needed: number } =>
      tryRead(buf, body, end, this.#limit, this.#complete, this.#limits.maxDepth, read);
    switch (type) {
      case MessageType.PushPull: {
        this.#pushPull ??= new PushPullParser(body, this.#limit, this.#complete, {
          maxNodes: this.#limits.maxNodes,
          maxDepth: this.#limits.maxDepth,
        });
        const s = this.#pushPull.step(buf, end);
        return s.done ? { done: true, value: { type, body: s.value }, end: s.end } : s;
      }
      case MessageType.User: {
        const h = struct((r) => readStruct(r, userMsgHeaderSchema));
        if ('needed' in h) return { done: false, needed: h.needed };
        const len = h.value.UserMsgLen;
        if (len < 0) throw new WireError('int-range', `negative UserMsgLen ${len}`, { offset: body });
        const userEnd = h.pos + len;
        if (userEnd > this.#limit) {
          throw this.#complete
            ? new WireError('truncated', `failed to read full user message (${end - h.pos} / ${len})`, { offset: h.pos, needed: userEnd })
            : new WireError('too-large', `user message of ${len} bytes exceeds the stream limit`, { offset: h.pos });
        }
        if (userEnd > end) return { done: false, needed: userEnd };
        return { done: true, value: { type, body: buf.slice(h.pos, userEnd) }, end: userEnd };
      }
      case MessageType.Ping: {
        const p = struct((r) => readStruct(r, pingSchema));
        return 'needed' in p ? { done: false, needed: p.needed } : { done: true, value: { type, body: p.value }, end: p.pos };
      }
      case MessageType.AckResp: {
        const a = struct((r) => readStruct(r, ackRespSchema));
        return 'needed' in a ? { done: false, needed: a.needed } : { done: true, value: { type, body: a.value }, end: a.pos };
      }
      case MessageType.Err: {
        const e = struct((r) => readStruct(r, errRespSchema));
        return 'needed' in e ? { done: false, needed: e.needed } : { done: true, value: { type, body: e.value }, end: e.pos };
      }
      default:
        throw new WireError('unexpected-message-type', `received invalid msgType (${type}) on a stream`, { offset: start });
    }
  }
}

/** Parses a complete plaintext (after decryption): one optional compress layer, then the message. */
function parseComplete(plain: Uint8Array, limits: Limits): { message: StreamMessage; compressed: boolean } {
  if (plain.length === 0) throw new WireError('empty', 'decrypted stream is empty');
  let buf = plain;
  let compressed = false;
  if (buf[0] === MessageType.Compress) {
    const c = readStruct(new MsgpackReader(buf, 1, buf.length, limits.maxDepth), compressSchema);
    buf = decompressBuffer(c, limits.maxDecompressed);
    compressed = true;
  }
  const s = new MessageParser(0, buf.length, true, limits).step(buf, buf.length);
  if (!s.done) throw new WireError('truncated', 'stream message incomplete', { needed: s.needed });
  return { message: s.value, compressed };
}

type Phase =
  | { readonly kind: 'start' }
  | { readonly kind: 'encrypted' }
  | { readonly kind: 'compressed' }
  | { readonly kind: 'plain'; readonly parser: MessageParser };

/**
 * Incremental reader for one stream message. Feed it the socket's chunks with `push`; it returns the
 * frame once the message is whole (and undefined until then). Call `finish` when the socket ends.
 * Throws WireError for bad or oversized input; after a throw the reader is unusable.
 */
export class StreamReader {
  #buf = new Uint8Array(512);
  #len = 0;
  #need = 1;
  #phase: Phase = { kind: 'start' };
  #result: StreamFrame | undefined;
  #failed: WireError | undefined;
  readonly #keyring: Keyring | undefined;
  readonly #verifyIncoming: boolean;
  readonly #maxBytes: number;
  readonly #limits: Limits;

  constructor(options: StreamReaderOptions = {}) {
    this.#keyring = options.keyring;
    this.#verifyIncoming = options.verifyIncoming !== false;
    this.#maxBytes = options.maxBytes ?? MAX_PUSH_STATE_BYTES;
    this.#limits = {
      maxDecompressed: options.maxDecompressedBytes ?? MAX_PUSH_STATE_BYTES,
      maxNodes: options.maxNodes,
      maxDepth: options.maxDepth,
      onMessageType: options.onMessageType,
    };
  }

  /** The frame, once whole. */
  get result(): StreamFrame | undefined {
    return this.#result;
  }

  /** Bytes held so far. */
  get buffered(): number {
    return this.#len;
  }

  /** Adds a chunk; returns the frame when the message is complete (then ignores further bytes). */
  push(chunk: Uint8Array): StreamFrame | undefined {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#result !== undefined) return undefined;
    this.#append(chunk);
    if (this.#len < this.#need) return undefined;
    try {
      return this.#advance();
    } catch (err) {
      if (isWireError(err)) this.#failed = err;
      throw err;
    }
  }

  /** The socket ended: returns the frame, or throws `stream-incomplete`. */
  finish(): StreamFrame {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#result !== undefined) return this.#result;
    throw new WireError('stream-incomplete', `stream ended after ${this.#len} bytes, ${this.#need} needed`, {
      offset: this.#len,
      needed: this.#need,
    });
  }

  #append(chunk: Uint8Array): void {
    const need = this.#len + chunk.length;
    if (need > this.#buf.length) {
      let cap = this.#buf.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(chunk, this.#len);
    this.#len = need;
  }

  #done(message: StreamMessage, encrypted: boolean, compressed: boolean, length: number): StreamFrame {
    this.#result = { message, encrypted, compressed, length };
    this.#buf = EMPTY;
    return this.#result;
  }

  #wait(needed: number): undefined {
    if (needed > this.#maxBytes + 5) throw new WireError('too-large', `stream message exceeds ${this.#maxBytes} bytes`, { needed });
    this.#need = needed;
    return undefined;
  }

  #advance(): StreamFrame | undefined {
    const buf = this.#buf;
    const end = this.#len;
    if (this.#phase.kind === 'start') {
      const type = buf[0] ?? 0;
      const keyed = this.#keyring?.enabled === true;
      if (type === MessageType.Encrypt) {
        if (!keyed) throw new WireError('unexpected-encryption', 'remote state is encrypted and encryption is not configured', { offset: 0 });
        this.#phase = { kind: 'encrypted' };
      } else {
        if (keyed && this.#verifyIncoming) {
          throw new WireError('not-encrypted', 'encryption is configured but remote state is not encrypted', { offset: 0 });
        }
        this.#phase =
          type === MessageType.Compress ? { kind: 'compressed' } : { kind: 'plain', parser: new MessageParser(0, this.#maxBytes, false, this.#limits) };
      }
    }
    const phase = this.#phase;
    switch (phase.kind) {
      case 'encrypted': {
        if (end < 5) return this.#wait(5);
        const len = new DataView(buf.buffer, buf.byteOffset, end).getUint32(1);
        if (len > MAX_PUSH_STATE_BYTES || len > this.#maxBytes) {
          throw new WireError('too-large', `remote node state is larger than limit (${len})`, { offset: 1 });
        }
        if (end < 5 + len) return this.#wait(5 + len);
        const plain = decryptPayload(this.#keyring?.keysView() ?? [], buf.subarray(5, 5 + len), buf.subarray(0, 5));
        const { message, compressed } = parseComplete(plain, this.#limits);
        return this.#done(message, true, compressed, 5 + len);
      }
      case 'compressed': {
        const c = tryRead<Compress>(buf, 1, end, this.#maxBytes, false, this.#limits.maxDepth, (r) => readStruct(r, compressSchema));
        if ('needed' in c) return this.#wait(c.needed);
        const inner = decompressBuffer(c.value, this.#limits.maxDecompressed);
        const s = new MessageParser(0, inner.length, true, this.#limits).step(inner, inner.length);
        if (!s.done) throw new WireError('truncated', 'compressed stream message incomplete', { needed: s.needed });
        return this.#done(s.value, false, true, c.pos);
      }
      case 'plain': {
        const s = phase.parser.step(buf, end);
        if (!s.done) return this.#wait(s.needed);
        return this.#done(s.value, false, false, s.end);
      }
      default:
        return undefined;
    }
  }
}

/** Decodes a whole stream message already in memory. */
export function decodeStream(buf: Uint8Array, options: StreamReaderOptions = {}): StreamFrame {
  const reader = new StreamReader(options);
  return reader.push(buf) ?? reader.finish();
}
