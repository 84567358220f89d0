/**
 * The compress wrapper (util.go compressPayload / decompressPayload): a whole message, type byte
 * included, LZW-compressed into `[9] compress{Algo: 0, Buf}`.
 *
 * Packets use it only when the result is smaller than the message (net.go rawSendMsgPacket); streams
 * use it whenever compression is enabled, even if it grows the message (rawSendMsgStream).
 */
import { WireError } from './errors.js';
import { LZW_ALGO, MAX_PUSH_STATE_BYTES } from './constants.js';
import { lzwCompress, lzwDecompress } from './lzw.js';
import { MessageType, encodeMessage } from './messages.js';
import { MsgpackReader } from './msgpack.js';
import { readStruct } from './struct.js';
import { compressSchema, type Compress } from './schemas.js';

/** `[9]` + compress{Algo: 0, Buf: lzw(msg)}. */
export function compressPayload(msg: Uint8Array): Uint8Array {
  return encodeMessage(MessageType.Compress, { Algo: LZW_ALGO, Buf: lzwCompress(msg) });
}

/** The packet rule: the compressed form if it is strictly smaller, else `msg` itself. */
export function compressIfSmaller(msg: Uint8Array): Uint8Array {
  const c = compressPayload(msg);
  return c.length < msg.length ? c : msg;
}

/** decompressBuffer: checks the algorithm and inflates `Buf` (at most `maxOutput` bytes). */
export function decompressBuffer(c: Compress, maxOutput: number = MAX_PUSH_STATE_BYTES): Uint8Array {
  if (c.Algo !== LZW_ALGO) throw new WireError('compress-algo', `cannot decompress unknown algorithm ${c.Algo}`);
  return lzwDecompress(c.Buf ?? new Uint8Array(0), maxOutput);
}

/** decompressPayload: decodes a compress body (after the type byte 9) and inflates it. */
export function decompressPayload(body: Uint8Array, maxOutput: number = MAX_PUSH_STATE_BYTES, maxDepth?: number): Uint8Array {
  return decompressBuffer(readStruct(new MsgpackReader(body, 0, body.length, maxDepth), compressSchema), maxOutput);
}
