/**
 * Serf node tags in memberlist Meta (serf 0.9.4 serf.go encodeTags / decodeTags):
 *
 *     [0xFF] + msgpack map[string]string
 *
 * Serf protocol < 3 put the bare "role" string in Meta instead; decodeSerfTags maps anything without
 * the magic byte to `{ role: <the bytes as text> }` as Serf does (so empty Meta gives role ""). Go
 * iterates maps in random order; we write keys sorted so our bytes are stable. The encoded form must
 * fit in META_MAX_SIZE (512 bytes) or Serf refuses the tags.
 */
import { WireError, isWireError } from './errors.js';
import { META_MAX_SIZE } from './constants.js';
import { MsgpackReader, MsgpackWriter, fromUtf8 } from './msgpack.js';

export const TAG_MAGIC_BYTE = 0xff;

export type SerfTags = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

function entries(tags: SerfTags): [string, string][] {
  const list: [string, string][] = tags instanceof Map ? [...(tags as ReadonlyMap<string, string>)] : Object.entries(tags);
  for (const [k, v] of list) {
    if (typeof k !== 'string' || typeof v !== 'string') throw new WireError('invalid-value', 'Serf tags are string to string');
  }
  return list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Encodes tags for Meta. Throws WireError('meta-too-large') above 512 bytes, like serf.SetTags. */
export function encodeSerfTags(tags: SerfTags): Uint8Array {
  const list = entries(tags);
  const w = new MsgpackWriter(64);
  w.byte(TAG_MAGIC_BYTE);
  w.mapHeader(list.length);
  for (const [k, v] of list) w.str(k).str(v);
  const out = w.finish();
  if (out.length > META_MAX_SIZE) {
    throw new WireError('meta-too-large', `encoded length of tags exceeds limit of ${META_MAX_SIZE} bytes (${out.length})`);
  }
  return out;
}

/**
 * Decodes Meta into tags. Throws WireError('tags-invalid') when the map is malformed (Serf logs
 * "Failed to decode tags" and keeps what it decoded; we refuse the whole thing).
 */
export function decodeSerfTags(meta: Uint8Array | null): Map<string, string> {
  const tags = new Map<string, string>();
  if (meta === null || meta.length === 0 || meta[0] !== TAG_MAGIC_BYTE) {
    tags.set('role', fromUtf8(meta ?? new Uint8Array(0)));
    return tags;
  }
  const r = new MsgpackReader(meta, 1, meta.length, 2);
  try {
    if (r.tryNil()) return tags;
    const n = r.readMapHeader();
    for (let i = 0; i < n; i++) {
      const k = r.tryNil() ? '' : r.readString();
      const v = r.tryNil() ? '' : r.readString();
      tags.set(k, v);
    }
  } catch (err) {
    if (!isWireError(err)) throw err;
    throw new WireError('tags-invalid', `failed to decode tags: ${err.message}`, { offset: err.offset, cause: err });
  }
  return tags;
}
