/** Shared definitions of the msgpack writer and reader (see msgpack.ts for the encoding rules). */

/** Default limit on container nesting for the reader. memberlist structs nest 1 deep, Serf messages 4. */
export const DEFAULT_MAX_DEPTH = 16;

const utf8Encoder = new TextEncoder();
/** Go strings are byte strings; invalid UTF-8 decodes to U+FFFD rather than failing (Go never checks). */
const utf8Decoder = new TextDecoder('utf-8');

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return utf8Decoder.decode(b);
}

/** An extension value (fixext/ext) read by the generic reader. memberlist never sends these. */
export interface MsgpackExt {
  readonly extType: number;
  readonly data: Uint8Array;
}

/**
 * A msgpack value as the generic reader returns it. Raw strings come back as Uint8Array (the stream
 * cannot say whether a Go `string` or `[]byte` wrote them); uint64/int64 outside the safe integer
 * range come back as bigint.
 */
export type MsgpackValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | MsgpackValue[]
  | Map<MsgpackValue, MsgpackValue>
  | MsgpackExt;
