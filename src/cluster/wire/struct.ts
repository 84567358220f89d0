/**
 * Go structs as go-msgpack v0.5.x writes and reads them (codec/encode.go kStruct, codec/decode.go
 * kStruct), driven by a small schema per struct.
 *
 * Writing: a struct is a map keyed by the exact Go field names, **in byte order of the names** (the
 * encoder walks `typeInfo.sfi`, which helper.go sorts by encName; declaration order is used only for
 * the array form, which memberlist never selects). Fields tagged `codec:",omitempty"` are left out when
 * they hold the Go zero value (0, "", false, nil or empty slice), and the map header counts only the
 * fields written.
 *
 * Reading: a map with keys in any order, unknown keys skipped, duplicate keys last-wins, missing keys
 * left at the zero value; or an array holding the fields in declaration order (extra elements skipped).
 * nil decodes to the zero value. Byte fields accept str, bin, or an array of small integers (Go decodes
 * a msgpack array into a []uint8 element by element).
 */
import { WireError } from './errors.js';
import { MsgpackReader, MsgpackWriter } from './msgpack.js';

/** Go field kinds used by memberlist's wire structs. `int` is Go's 64-bit int, limited to safe integers. */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'int' | 'bool' | 'string' | 'bytes';

export interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  readonly omitEmpty?: boolean;
}

export interface StructSchema<T> {
  /** The Go type name, for error messages. */
  readonly goName: string;
  /** Fields in Go declaration order (the array form). */
  readonly fields: readonly FieldSpec[];
  /** Fields in encoding order (byte order of names). */
  readonly sorted: readonly FieldSpec[];
  readonly byName: ReadonlyMap<string, FieldSpec>;
  /** Phantom, so a schema carries its TS type. */
  readonly __type?: T;
}

export function defineStruct<T>(goName: string, fields: readonly FieldSpec[]): StructSchema<T> {
  // Go compares strings byte-wise; for the ASCII field names here, code-unit order is the same.
  const sorted = [...fields].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { goName, fields, sorted, byName: new Map(fields.map((f) => [f.name, f])) };
}

const RANGE: Record<'u8' | 'u16' | 'u32' | 'int', readonly [number, number]> = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  u32: [0, 0xffff_ffff],
  int: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function zeroOf(kind: FieldKind): number | boolean | string | null {
  switch (kind) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'bytes':
      return null;
    default:
      return 0;
  }
}

function isEmpty(kind: FieldKind, v: unknown): boolean {
  switch (kind) {
    case 'bool':
      return v !== true;
    case 'string':
      return v === undefined || v === '';
    case 'bytes':
      return v === undefined || v === null || (v instanceof Uint8Array && v.length === 0);
    default:
      return v === undefined || v === 0;
  }
}

function writeField(w: MsgpackWriter, goName: string, f: FieldSpec, v: unknown): void {
  switch (f.kind) {
    case 'bool':
      if (v !== undefined && typeof v !== 'boolean') throw bad(goName, f, v);
      w.bool(v === true);
      return;
    case 'string':
      if (v !== undefined && typeof v !== 'string') throw bad(goName, f, v);
      w.str(v ?? '');
      return;
    case 'bytes':
      if (v !== undefined && v !== null && !(v instanceof Uint8Array)) throw bad(goName, f, v);
      w.bytes(v ?? null);
      return;
    default: {
      const [min, max] = RANGE[f.kind];
      const n = v ?? 0;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw bad(goName, f, v);
      w.int(n);
    }
  }
}

function bad(goName: string, f: FieldSpec, v: unknown): WireError {
  return new WireError('invalid-value', `${goName}.${f.name}: ${String(v)} is not a valid ${f.kind}`);
}

/** Appends `value` to `w` as go-msgpack encodes the Go struct. */
export function writeStruct<T extends object>(w: MsgpackWriter, schema: StructSchema<T>, value: T): void {
  const rec = value as Readonly<Record<string, unknown>>;
  const present = schema.sorted.filter((f) => !(f.omitEmpty === true && isEmpty(f.kind, rec[f.name])));
  w.mapHeader(present.length);
  for (const f of present) {
    w.str(f.name);
    writeField(w, schema.goName, f, rec[f.name]);
  }
}

/** Encodes `value` alone (no type byte). */
export function encodeStruct<T extends object>(schema: StructSchema<T>, value: T): Uint8Array {
  const w = new MsgpackWriter(64);
  writeStruct(w, schema, value);
  return w.finish();
}

function readBytesField(r: MsgpackReader, depth: number): Uint8Array {
  const kind = r.peekKind();
  if (kind === 'str' || kind === 'bin') return r.readRawBytes();
  if (kind === 'array') {
    if (depth >= r.maxDepth) throw new WireError('too-deep', 'msgpack: nesting too deep', { offset: r.pos });
    const n = r.readArrayHeader();
    const out = new Uint8Array(n); // n <= remaining input bytes, checked by readArrayHeader
    for (let i = 0; i < n; i++) out[i] = r.readInt(0, 0xff);
    return out;
  }
  throw new WireError('type-mismatch', `msgpack: expected bytes, found ${kind} at offset ${r.pos}`, { offset: r.pos });
}

function readField(r: MsgpackReader, f: FieldSpec, depth: number): number | boolean | string | Uint8Array | null {
  if (r.tryNil()) return zeroOf(f.kind);
  switch (f.kind) {
    case 'bool':
      return r.readBool();
    case 'string':
      return r.readString();
    case 'bytes':
      return readBytesField(r, depth);
    default: {
      const [min, max] = RANGE[f.kind];
      return r.readInt(min, max);
    }
  }
}

/**
 * Reads one struct at the reader's position. `depth` is the number of containers already open around
 * it. Unknown map keys are skipped (go-msgpack's default, ErrorIfNoField = false).
 */
export function readStruct<T extends object>(r: MsgpackReader, schema: StructSchema<T>, depth = 0): T {
  const out: Record<string, unknown> = {};
  for (const f of schema.fields) out[f.name] = zeroOf(f.kind);
  if (depth >= r.maxDepth) throw new WireError('too-deep', 'msgpack: nesting too deep', { offset: r.pos });
  if (r.tryNil()) return out as T;
  const kind = r.peekKind();
  if (kind === 'map') {
    const n = r.readMapHeader();
    for (let i = 0; i < n; i++) {
      const keyKind = r.peekKind();
      let field: FieldSpec | undefined;
      if (keyKind === 'nil') {
        r.skip(depth + 1); // decodeString of nil is "", which names no field
      } else if (keyKind === 'str' || keyKind === 'bin') {
        field = schema.byName.get(r.readString());
      } else {
        throw new WireError('type-mismatch', `${schema.goName}: map key is ${keyKind}, not a string`, { offset: r.pos });
      }
      if (field === undefined) r.skip(depth + 1);
      else out[field.name] = readField(r, field, depth + 1);
    }
    return out as T;
  }
  if (kind === 'array') {
    const n = r.readArrayHeader();
    for (let i = 0; i < n; i++) {
      const field = schema.fields[i];
      if (field === undefined) r.skip(depth + 1);
      else out[field.name] = readField(r, field, depth + 1);
    }
    return out as T;
  }
  throw new WireError('type-mismatch', `${schema.goName}: expected a map, found ${kind}`, { offset: r.pos });
}

/** Decodes one struct from the start of `buf`; trailing bytes are ignored, as Go's decoder does. */
export function decodeStruct<T extends object>(schema: StructSchema<T>, buf: Uint8Array, maxDepth?: number): T {
  return readStruct(new MsgpackReader(buf, 0, buf.length, maxDepth), schema);
}
