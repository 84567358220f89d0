/**
 * memberlist v0.2.2 messages: one type byte, then the body (net.go messageType, util.go encode).
 *
 * ONLY APPEND to MessageType: the numbers are on the wire.
 *
 * | type | body                                                                  |
 * |------|-----------------------------------------------------------------------|
 * | 0-5  | msgpack ping, indirectPingReq, ackResp, suspect, alive, dead          |
 * | 6    | push/pull: header + node states + raw user state (streams only)       |
 * | 7    | compound: [count][u16 BE lengths][parts]                              |
 * | 8    | user message: raw delegate bytes (packets; streams add a header)      |
 * | 9    | msgpack compress{Algo, Buf}                                           |
 * | 10   | encrypted stream frame: [u32 BE length][sealed payload]               |
 * | 11   | msgpack nackResp                                                      |
 * | 12   | hasCrc: [u32 BE CRC-32/IEEE of the rest][message]                     |
 * | 13   | msgpack errResp                                                       |
 *
 * 244 (hasLabelMsg) exists only in memberlist >= 0.3.0 and is refused here like any unknown type.
 */
import { WireError } from './errors.js';
import { MAX_PUSH_STATE_BYTES } from './constants.js';
import { crc32 } from './crc32.js';
import { decodeCompoundMessage, makeCompoundMessage } from './compound.js';
import { MsgpackReader, MsgpackWriter } from './msgpack.js';
import { checkNodeFields, decodePushPullBody, writePushPull, type PushPull, type PushPullLimits } from './push-pull.js';
import { readStruct, writeStruct, type StructSchema } from './struct.js';
import {
  ackRespSchema,
  aliveSchema,
  compressSchema,
  deadSchema,
  errRespSchema,
  indirectPingReqSchema,
  nackRespSchema,
  pingSchema,
  suspectSchema,
  type AckResp,
  type Alive,
  type Compress,
  type Dead,
  type ErrResp,
  type IndirectPingReq,
  type NackResp,
  type Ping,
  type Suspect,
} from './schemas.js';

export const MessageType = {
  Ping: 0,
  IndirectPing: 1,
  AckResp: 2,
  Suspect: 3,
  Alive: 4,
  Dead: 5,
  PushPull: 6,
  Compound: 7,
  User: 8,
  Compress: 9,
  Encrypt: 10,
  NackResp: 11,
  HasCrc: 12,
  Err: 13,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

/** memberlist >= 0.3.0 label prefix; not understood by v0.2.2 peers (Debian serf). */
export const HAS_LABEL_MSG = 244;

/** Compound body: whole parts; on decode, `Truncated` counts parts the buffer did not hold. */
export interface Compound {
  readonly Parts: readonly Uint8Array[];
  readonly Truncated?: number;
}

/** An encrypted stream frame `[10][u32 BE len][Payload]`; Payload is `[vsn][nonce][ct||tag]`. */
export interface EncryptFrame {
  readonly Payload: Uint8Array;
}

/** `[12][crc][Payload]`: encoding computes the CRC, decoding verifies it. */
export interface HasCrc {
  readonly Payload: Uint8Array;
}

export interface MessageBodies {
  [MessageType.Ping]: Ping;
  [MessageType.IndirectPing]: IndirectPingReq;
  [MessageType.AckResp]: AckResp;
  [MessageType.Suspect]: Suspect;
  [MessageType.Alive]: Alive;
  [MessageType.Dead]: Dead;
  [MessageType.PushPull]: PushPull;
  [MessageType.Compound]: Compound;
  [MessageType.User]: Uint8Array;
  [MessageType.Compress]: Compress;
  [MessageType.Encrypt]: EncryptFrame;
  [MessageType.NackResp]: NackResp;
  [MessageType.HasCrc]: HasCrc;
  [MessageType.Err]: ErrResp;
}

/** A decoded message: `type` tells which body it carries. */
export type Message = { [K in MessageTypeCode]: { readonly type: K; readonly body: MessageBodies[K] } }[MessageTypeCode];

export interface DecodeMessageOptions extends PushPullLimits {}

const STRUCTS: { readonly [K in MessageTypeCode]?: StructSchema<object> } = {
  [MessageType.Ping]: pingSchema,
  [MessageType.IndirectPing]: indirectPingReqSchema,
  [MessageType.AckResp]: ackRespSchema,
  [MessageType.Suspect]: suspectSchema,
  [MessageType.Alive]: aliveSchema,
  [MessageType.Dead]: deadSchema,
  [MessageType.Compress]: compressSchema,
  [MessageType.NackResp]: nackRespSchema,
  [MessageType.Err]: errRespSchema,
};

/** True for the type bytes memberlist v0.2.2 defines (0-13). */
export function isMessageType(t: number): t is MessageTypeCode {
  return Number.isInteger(t) && t >= 0 && t <= 13;
}

/** Encodes a message: the type byte followed by its body, as memberlist's `encode(msgType, in)`. */
export function encodeMessage<T extends MessageTypeCode>(type: T, body: MessageBodies[T]): Uint8Array {
  const t: MessageTypeCode = type;
  switch (t) {
    case MessageType.Compound:
      return makeCompoundMessage((body as Compound).Parts);
    case MessageType.User: {
      const b = body as Uint8Array;
      const out = new Uint8Array(1 + b.length);
      out[0] = MessageType.User;
      out.set(b, 1);
      return out;
    }
    case MessageType.Encrypt: {
      const p = (body as EncryptFrame).Payload;
      const out = new Uint8Array(5 + p.length);
      out[0] = MessageType.Encrypt;
      new DataView(out.buffer).setUint32(1, p.length);
      out.set(p, 5);
      return out;
    }
    case MessageType.HasCrc: {
      const p = (body as HasCrc).Payload;
      const out = new Uint8Array(5 + p.length);
      out[0] = MessageType.HasCrc;
      new DataView(out.buffer).setUint32(1, crc32(p));
      out.set(p, 5);
      return out;
    }
    case MessageType.PushPull: {
      const w = new MsgpackWriter(256);
      w.byte(MessageType.PushPull);
      writePushPull(w, body as PushPull);
      return w.finish();
    }
    default: {
      if (t === MessageType.Alive) {
        const a = body as Alive;
        checkNodeFields(`alive ${a.Node}`, a.Meta, a.Vsn);
      }
      const schema = STRUCTS[t];
      if (schema === undefined) throw new WireError('unknown-message-type', `cannot encode message type ${String(t)}`);
      const w = new MsgpackWriter(64);
      w.byte(t);
      writeStruct(w, schema, body as object);
      return w.finish();
    }
  }
}

/**
 * Decodes one message from `buf` (type byte first). Msgpack bodies ignore trailing bytes, as Go's
 * decoder does; the wrappers (compound, compress, encrypt, hasCrc) are returned unopened: the packet
 * and stream pipelines open them. Throws WireError.
 */
export function decodeMessage(buf: Uint8Array, options: DecodeMessageOptions = {}): Message {
  if (buf.length === 0) throw new WireError('empty', 'empty message');
  const type = buf[0] ?? 0;
  const body = buf.subarray(1);
  if (!isMessageType(type)) {
    const note = type === HAS_LABEL_MSG ? ' (hasLabel, memberlist >= 0.3.0 only)' : '';
    throw new WireError('unknown-message-type', `unknown message type ${type}${note}`, { offset: 0 });
  }
  switch (type) {
    case MessageType.Compound: {
      const { parts, truncated } = decodeCompoundMessage(body);
      return { type, body: { Parts: parts, Truncated: truncated } };
    }
    case MessageType.User:
      return { type, body: body.slice() };
    case MessageType.Encrypt: {
      if (body.length < 4) throw new WireError('truncated', 'encrypt frame: missing length', { offset: 1, needed: 5 });
      const len = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
      if (len > MAX_PUSH_STATE_BYTES) {
        throw new WireError('too-large', `encrypted state of ${len} bytes is larger than the limit (${MAX_PUSH_STATE_BYTES})`, { offset: 1 });
      }
      if (body.length < 4 + len) throw new WireError('truncated', 'encrypt frame: payload incomplete', { offset: 5, needed: 5 + len });
      return { type, body: { Payload: body.slice(4, 4 + len) } };
    }
    case MessageType.HasCrc: {
      if (body.length < 4) throw new WireError('truncated', 'hasCrc: missing checksum', { offset: 1, needed: 5 });
      const expected = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
      const payload = body.subarray(4);
      const actual = crc32(payload);
      if (actual !== expected) {
        throw new WireError('crc-mismatch', `invalid checksum: ${actual.toString(16)}, expected ${expected.toString(16)}`, { offset: 1 });
      }
      return { type, body: { Payload: payload.slice() } };
    }
    case MessageType.PushPull:
      return { type, body: decodePushPullBody(body, options) };
    default: {
      const schema = STRUCTS[type];
      if (schema === undefined) throw new WireError('unknown-message-type', `unknown message type ${type}`, { offset: 0 });
      const r = new MsgpackReader(buf, 1, buf.length, options.maxDepth);
      return { type, body: readStruct(r, schema) } as Message;
    }
  }
}
