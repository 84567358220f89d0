/**
 * Compound messages (util.go makeCompoundMessage / decodeCompoundMessage): several whole messages in
 * one packet, laid out as
 *
 *     [7][count u8][len u16 BE] x count [part 0][part 1]...
 *
 * Decoding follows Go: no count byte or a short length table is an error; when the bodies run out,
 * the parts that are whole are returned with the number of parts lost (memberlist logs "Compound
 * request had N truncated messages" and handles the rest). Bytes after the last part are ignored.
 *
 * Go quirk (left as is in v0.2.2): the table size is computed as uint8(count*2), so a Go receiver
 * mis-splits compounds of 128+ parts. This decoder uses the real size; senders that may talk to Go
 * should keep to GO_SAFE_COMPOUND_PARTS (127). A zero-length part makes Go's handleCommand index
 * past the end (a panic), so makeCompoundMessage refuses empty parts.
 */
import { WireError } from './errors.js';
import { MAX_COMPOUND_PART_BYTES, MAX_COMPOUND_PARTS } from './constants.js';

export const COMPOUND_MSG = 7;

export interface CompoundParts {
  /** Whole parts, each a full message starting with its type byte (views into the input). */
  readonly parts: Uint8Array[];
  /** How many parts the count promised but the buffer did not hold. */
  readonly truncated: number;
}

/** Builds `[7][count][lengths][parts]`. Throws for 0 or more than 255 parts, or an empty or >64 KiB part. */
export function makeCompoundMessage(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 0 || parts.length > MAX_COMPOUND_PARTS) {
    throw new WireError('too-many-parts', `a compound message holds 1 to ${MAX_COMPOUND_PARTS} parts, not ${parts.length}`);
  }
  let size = 2 + parts.length * 2;
  for (const p of parts) {
    if (p.length === 0) throw new WireError('invalid-value', 'compound parts must not be empty');
    if (p.length > MAX_COMPOUND_PART_BYTES) {
      throw new WireError('too-large', `compound part of ${p.length} bytes exceeds ${MAX_COMPOUND_PART_BYTES}`);
    }
    size += p.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = COMPOUND_MSG;
  out[1] = parts.length;
  let off = 2;
  for (const p of parts) {
    view.setUint16(off, p.length);
    off += 2;
  }
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Splits a compound body (the bytes after the type byte 7). */
export function decodeCompoundMessage(body: Uint8Array): CompoundParts {
  if (body.length < 1) throw new WireError('compound-malformed', 'compound: missing length byte', { offset: 0 });
  const count = body[0] ?? 0;
  const tableEnd = 1 + count * 2;
  if (body.length < tableEnd) {
    throw new WireError('compound-malformed', 'compound: truncated length table', { offset: 1, needed: tableEnd });
  }
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const parts: Uint8Array[] = [];
  let off = tableEnd;
  for (let i = 0; i < count; i++) {
    const len = view.getUint16(1 + i * 2);
    if (body.length - off < len) return { parts, truncated: count - i };
    parts.push(body.subarray(off, off + len));
    off += len;
  }
  return { parts, truncated: 0 };
}
