/**
 * The one error type of the memberlist wire codec. Every failure to decode, decrypt, decompress or
 * encode bytes for the cluster wire is a WireError with a machine-readable `reason`. Nothing in this
 * directory throws anything else for bad input (test/unit/cluster/wire/fuzz.test.ts checks it).
 *
 * These errors describe a peer's bytes, not a user's request, so they are not in the user-facing
 * catalogue (src/errors.ts): the cluster layer logs them and drops the packet or closes the stream,
 * as memberlist does.
 */

export const WIRE_ERROR_REASONS = [
  // msgpack
  'truncated', // the input ended inside a value; `needed` says how many bytes were required
  'invalid-format', // a byte that starts no msgpack value (0xc1), or an unknown wire layout
  'type-mismatch', // a value of the wrong msgpack type for the schema field
  'int-range', // an integer that does not fit the Go type of its field
  'too-deep', // containers nested deeper than the depth limit
  'too-large', // a length above a configured limit
  'invalid-value', // a value we refuse to encode (wrong type, out of range, Vsn not 6 bytes)
  // messages
  'empty', // a message or packet with no bytes
  'unknown-message-type', // a type byte memberlist v0.2.2 does not define
  'unexpected-message-type', // a defined type that is not allowed here (e.g. pushPull in a packet)
  'meta-too-large', // node Meta above MetaMaxSize (512)
  'compound-malformed', // a compound message without its count byte or length table
  'too-many-parts', // more than 255 compound parts
  'nesting-too-deep', // compound/compress wrappers nested beyond the limit
  'compress-algo', // compress.Algo other than 0 (LZW)
  'lzw-invalid', // an LZW code outside the table
  'lzw-truncated', // the LZW stream ended before its EOF code
  'crc-mismatch', // the CRC32 of a hasCrc message is wrong
  // encryption
  'key-size', // a key that is not 16, 24 or 32 bytes
  'key-not-found', // UseKey with a key that is not on the ring
  'remove-primary', // RemoveKey of the primary key
  'no-keys', // an operation that needs a key on an empty ring
  'encrypt-version', // an encryption version byte other than 0 or 1
  'decrypt-failed', // no key on the ring authenticates the message
  'not-encrypted', // plaintext where encryption is required
  'unexpected-encryption', // an encrypted stream while encryption is not configured
  // streams
  'stream-incomplete', // the stream ended before the message was whole
  // serf
  'tags-invalid', // Serf tag metadata that is not a msgpack map[string]string
] as const;

export type WireErrorReason = (typeof WIRE_ERROR_REASONS)[number];

export interface WireErrorOptions {
  /** Byte offset in the buffer being decoded where the problem was found. */
  readonly offset?: number;
  /** For `truncated`: the total number of bytes the buffer needed to hold at least. */
  readonly needed?: number;
  readonly cause?: unknown;
}

export class WireError extends Error {
  override readonly name = 'WireError';
  readonly reason: WireErrorReason;
  readonly offset: number | undefined;
  readonly needed: number | undefined;

  constructor(reason: WireErrorReason, message: string, options: WireErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.offset = options.offset;
    this.needed = options.needed;
  }
}

/** True when `err` is a WireError, optionally with the given reason. */
export function isWireError(err: unknown, reason?: WireErrorReason): err is WireError {
  return err instanceof WireError && (reason === undefined || err.reason === reason);
}
