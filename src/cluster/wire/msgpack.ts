/**
 * A msgpack writer and reader that match hashicorp/go-msgpack v0.5.x (`codec.MsgpackHandle{}`, the
 * zero value memberlist v0.2.2 and serf 0.9.4 use) byte for byte on the way out and accept every
 * msgpack form on the way in. Spec: go-msgpack v0.5.5 codec/msgpack.go.
 *
 * Writing (WriteExt = false):
 * - Integers take the smallest form, whatever the Go type. `encodeUint`: 0..127 positive fixint,
 *   ..255 uint8 (0xcc), ..65535 uint16 (0xcd), ..2^32-1 uint32 (0xce), else uint64 (0xcf).
 *   `encodeInt`: a non-negative value goes through encodeUint (so a Go `int` 5 is 0x05 and 300 is
 *   0xcd 0x01 0x2c, never an int form); -32..-1 negative fixint, then int8/16/32/64 (0xd0..0xd3).
 * - Both `string` and `[]byte` are "raw str": fixstr when the length is < 32, str16 (0xda) when < 65536,
 *   else str32 (0xdb). Never str8 (0xd9: `writeContainerLen` uses the 8-bit form only when WriteExt is
 *   set) and never bin.
 * - A nil `[]byte` (and a nil map or slice) is 0xc0; an empty one is 0xa0.
 * - Arrays and maps: fix form when < 16 entries, then 16-bit, then 32-bit.
 *
 * Reading: str8/16/32, fixstr and bin8/16/32 are all accepted as raw bytes; nil decodes to the Go zero
 * value. Every length is checked against the bytes that remain before anything is allocated, so a
 * value can never make the reader allocate more than the input holds, and containers may nest at most
 * `maxDepth` deep. All failures are WireError.
 */
import { DEFAULT_MAX_DEPTH, type MsgpackValue } from './msgpack-value.js';
import { MsgpackReader } from './msgpack-reader.js';
import { MsgpackWriter } from './msgpack-writer.js';

export { DEFAULT_MAX_DEPTH, utf8, fromUtf8 } from './msgpack-value.js';
export type { MsgpackValue, MsgpackExt } from './msgpack-value.js';
export { MsgpackReader } from './msgpack-reader.js';
export type { MsgpackKind } from './msgpack-reader.js';
export { MsgpackWriter } from './msgpack-writer.js';

/** Decodes exactly one generic value from `buf` (trailing bytes are ignored, as Go's decoder does). */
export function decodeValue(buf: Uint8Array, maxDepth = DEFAULT_MAX_DEPTH): MsgpackValue {
  return new MsgpackReader(buf, 0, buf.length, maxDepth).readValue();
}

/** Encodes one generic value (see MsgpackWriter.value). */
export function encodeValue(v: MsgpackValue): Uint8Array {
  return new MsgpackWriter().value(v).finish();
}
