/** Value types, function types and the parsed shape of a module (everything but function bodies). */
import type { FuncSig, ValType } from '../abi.js';
import { at, hex, malformed } from './fail.js';
import {
  F_EXCEPTIONS,
  F_GC,
  F_REFERENCE_TYPES,
  F_SIMD,
  F_TYPED_FUNCTION_REFERENCES,
  requireFeature,
} from './features.js';
import type { Reader } from './reader.js';

export const T_I32 = 0x7f;
export const T_I64 = 0x7e;
export const T_F32 = 0x7d;
export const T_F64 = 0x7c;
export const T_V128 = 0x7b;
export const T_FUNCREF = 0x70;
export const T_EXTERNREF = 0x6f;

const VALTYPE_NAMES: Readonly<Record<number, ValType>> = {
  [T_I32]: 'i32',
  [T_I64]: 'i64',
  [T_F32]: 'f32',
  [T_F64]: 'f64',
  [T_V128]: 'v128',
  [T_FUNCREF]: 'funcref',
  [T_EXTERNREF]: 'externref',
};

export function valTypeName(t: number): ValType {
  return VALTYPE_NAMES[t] ?? 'i32';
}

/**
 * Checks a value type byte (already read at `offset`) against the allowed features; returns it.
 * Reference types outside tables need 'reference-types', v128 needs 'simd'.
 */
export function checkValType(t: number, allowed: number, r: Reader, offset: number): number {
  switch (t) {
    case T_I32:
    case T_I64:
    case T_F32:
    case T_F64:
      return t;
    case T_V128:
      requireFeature(allowed, F_SIMD, `value type v128 in ${r.context()} at ${at(offset)}`, offset);
      return t;
    case T_FUNCREF:
    case T_EXTERNREF:
      requireFeature(
        allowed,
        F_REFERENCE_TYPES,
        `value type ${valTypeName(t)} in ${r.context()} at ${at(offset)}`,
        offset,
      );
      return t;
    default:
      return rejectTypeByte(t, r, offset, 'value type');
  }
}

/** Throws the right error for a type byte that is not one of the seven types Caxton knows. */
export function rejectTypeByte(t: number, r: Reader, offset: number, what: string): never {
  const where = `${what} ${hex(t)} in ${r.context()} at ${at(offset)}`;
  if (t === 0x64 || t === 0x63) requireFeature(0, F_TYPED_FUNCTION_REFERENCES, where, offset);
  if (t === 0x69) requireFeature(0, F_EXCEPTIONS, where, offset);
  if ((t >= 0x65 && t <= 0x6e) || (t >= 0x71 && t <= 0x74)) requireFeature(0, F_GC, where, offset);
  return malformed(`unknown ${what} ${hex(t)} in ${r.context()} at ${at(offset)}`, offset);
}

export function readValType(r: Reader, allowed: number): number {
  const offset = r.pos;
  return checkValType(r.u8('a value type'), allowed, r, offset);
}

export interface FuncType {
  readonly params: readonly number[];
  readonly results: readonly number[];
}

export function formatSig(t: FuncType | FuncSig): string {
  const p = t.params.map((x) => (typeof x === 'number' ? valTypeName(x) : x));
  const q = t.results.map((x) => (typeof x === 'number' ? valTypeName(x) : x));
  let s = '(func';
  if (p.length > 0) s += ` (param ${p.join(' ')})`;
  if (q.length > 0) s += ` (result ${q.join(' ')})`;
  return s + ')';
}

export function sameSig(t: FuncType, sig: FuncSig): boolean {
  if (t.params.length !== sig.params.length || t.results.length !== sig.results.length) return false;
  for (let i = 0; i < t.params.length; i++) if (valTypeName(t.params[i]!) !== sig.params[i]) return false;
  for (let i = 0; i < t.results.length; i++) if (valTypeName(t.results[i]!) !== sig.results[i]) return false;
  return true;
}

export type ExportKind = 'func' | 'table' | 'memory' | 'global';

export interface Limits {
  readonly min: number;
  readonly max: number | null;
}

export interface SectionInfo {
  readonly id: number;
  /** Offset of the section id byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset one past the last content byte. */
  readonly end: number;
}

/** Everything admission learns from the sections other than function bodies. */
export interface ModuleInfo {
  readonly sections: SectionInfo[];
  readonly types: FuncType[];
  /** Offset just past the type section's count, when the section exists. */
  typeEntriesStart: number;
  readonly imports: { module: string; name: string }[];
  /** Type index of every function, imported ones first. */
  readonly funcTypes: number[];
  numImportedFuncs: number;
  readonly tables: { elemType: number; limits: Limits }[];
  memory: Limits | null;
  readonly globals: { type: number; mutable: boolean }[];
  /** Offset just past the global section's count, when the section exists. */
  globalEntriesStart: number;
  readonly exports: { name: string; kind: ExportKind; index: number }[];
  /** Offset just past the export section's count, when the section exists. */
  exportEntriesStart: number;
  start: number | null;
  /**
   * Functions whose index escapes the code: exported, the start function, listed in an element
   * segment or named by ref.func in a constant expression (a valid ref.func in code names one of
   * these too). Only these can be called from outside the module or through a table.
   */
  readonly referencedFuncs: Set<number>;
  elemSegments: number;
  dataCount: number | null;
  dataSegments: number;
  /** Function bodies: [start, end) of each, start at the body's first byte after its size. */
  readonly bodyStarts: number[];
  readonly bodyEnds: number[];
  /** Offset just past the code section's count. */
  codeEntriesStart: number;
}
