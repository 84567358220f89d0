/**
 * Constant expressions (global initialisers, segment offsets, element expressions). Only the
 * MVP/reference-types forms are accepted; arithmetic is 'extended-const', which Caxton refuses.
 * Every index is range-checked.
 */
import { at, hex, invalid, malformed } from './fail.js';
import { F_EXTENDED_CONST, F_REFERENCE_TYPES, F_SIMD, requireFeature } from './features.js';
import { NAME1 } from './opcodes.js';
import type { Reader } from './reader.js';
import { rejectTypeByte, T_EXTERNREF, T_FUNCREF, type ModuleInfo } from './types.js';

export interface ConstExprScope {
  readonly m: ModuleInfo;
  readonly allowed: number;
  /** global.get may name globals below this index. */
  readonly globalLimit: number;
  /** ref.null / ref.func need 'reference-types' (not in element expressions, gated by the segment kind). */
  readonly refOpsNeedFeature: boolean;
}

/** Reads one constant expression up to and including its `end`. */
export function readConstExpr(r: Reader, s: ConstExprScope, what: string): void {
  const exprStart = r.pos;
  for (;;) {
    const offset = r.pos;
    const op = r.u8(`an operator of ${what}`);
    switch (op) {
      case 0x0b:
        if (offset === exprStart) invalid(`${what} in ${r.context()} at ${at(exprStart)} is empty`, exprStart);
        return;
      case 0x41:
        r.skipSigned(32, 'an i32.const immediate');
        break;
      case 0x42:
        r.skipSigned(64, 'an i64.const immediate');
        break;
      case 0x43:
        r.skip(4, 'an f32.const immediate');
        break;
      case 0x44:
        r.skip(8, 'an f64.const immediate');
        break;
      case 0x23: {
        const g = r.u32('a global index');
        if (g >= s.globalLimit) {
          invalid(
            `global.get ${g} in ${what} (${r.context()}) at ${at(offset)} refers to a global that does not exist ` +
              `or is not yet defined (${s.globalLimit} available)`,
            offset,
          );
        }
        break;
      }
      case 0xd0: {
        if (s.refOpsNeedFeature) {
          requireFeature(s.allowed, F_REFERENCE_TYPES, `operator ref.null in ${what} at ${at(offset)}`, offset);
        }
        const tOff = r.pos;
        const t = r.u8('a heap type');
        if (t !== T_FUNCREF && t !== T_EXTERNREF) rejectTypeByte(t, r, tOff, 'heap type');
        break;
      }
      case 0xd2: {
        if (s.refOpsNeedFeature) {
          requireFeature(s.allowed, F_REFERENCE_TYPES, `operator ref.func in ${what} at ${at(offset)}`, offset);
        }
        const f = r.u32('a function index');
        if (f >= s.m.funcTypes.length) {
          invalid(
            `ref.func ${f} in ${what} (${r.context()}) at ${at(offset)} refers to a function that does not exist ` +
              `(${s.m.funcTypes.length} functions)`,
            offset,
          );
        }
        s.m.referencedFuncs.add(f);
        break;
      }
      case 0xfd: {
        const sub = r.u32('a SIMD opcode');
        if (sub !== 0x0c) {
          invalid(`SIMD operator 0xfd ${hex(sub)} is not allowed in ${what} at ${at(offset)}`, offset);
        }
        requireFeature(s.allowed, F_SIMD, `operator 0xfd 0x0c (v128.const) in ${what} at ${at(offset)}`, offset);
        r.skip(16, 'a v128.const immediate');
        break;
      }
      case 0x6a:
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        requireFeature(
          0,
          F_EXTENDED_CONST,
          `operator ${hex(op)} (${NAME1[op]}) in ${what} (${r.context()}) at ${at(offset)}`,
          offset,
        );
        break;
      default: {
        const name = NAME1[op];
        if (name === undefined || name === '') {
          malformed(`unknown operator ${hex(op)} in ${what} (${r.context()}) at ${at(offset)}`, offset);
        }
        invalid(
          `operator ${hex(op)} (${name}) is not allowed in ${what} (${r.context()}) at ${at(offset)}`,
          offset,
        );
      }
    }
  }
}
