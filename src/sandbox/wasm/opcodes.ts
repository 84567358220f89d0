/**
 * The operator table: for every opcode, its name, the shape of its immediates and the features it
 * needs. Opcodes not listed here are unknown and fail closed (CAXTON_ERR_MODULE_MALFORMED).
 */
import {
  F_BULK_MEMORY,
  F_EXCEPTIONS,
  F_GC,
  F_NONTRAPPING_FPTOINT,
  F_REFERENCE_TYPES,
  F_SIGN_EXT,
  F_SIMD,
  F_TAIL_CALL,
  F_THREADS,
  F_TYPED_FUNCTION_REFERENCES,
} from './features.js';

// Immediate shapes of single-byte opcodes.
export const IMM_UNKNOWN = 0;
export const IMM_NONE = 1;
export const IMM_BLOCK = 2; // block, if: block type; opens a label
export const IMM_LOOP = 3; // loop: block type; opens a label; fuel charge point
export const IMM_ELSE = 4;
export const IMM_END = 5;
export const IMM_LABEL = 6; // br, br_if
export const IMM_BR_TABLE = 7;
export const IMM_CALL = 8; // function index
export const IMM_CALL_INDIRECT = 9; // type index, table index
export const IMM_LOCAL = 10;
export const IMM_GLOBAL_GET = 11;
export const IMM_GLOBAL_SET = 12;
export const IMM_TABLE = 13; // table.get, table.set
export const IMM_MEMARG = 14;
export const IMM_MEMIDX = 15; // memory.size, memory.grow
export const IMM_I32 = 16;
export const IMM_I64 = 17;
export const IMM_F32 = 18;
export const IMM_F64 = 19;
export const IMM_SELECT_T = 20;
export const IMM_REF_NULL = 21;
export const IMM_REF_FUNC = 22;
export const IMM_PREFIX_FC = 23;
export const IMM_PREFIX_FD = 24;
/** Recognised but never allowed (its feature bit is never in the allowed mask). */
export const IMM_REJECT = 25;
/** A prefix whose whole space is never allowed (0xFB gc, 0xFE threads). */
export const IMM_PREFIX_REJECT = 26;
/** return: no immediate, but the rewriter passes the fuel counter back before it. */
export const IMM_RETURN = 27;

export const IMM1 = new Uint8Array(256);
export const FEAT1 = new Uint32Array(256);
export const NAME1: string[] = new Array<string>(256).fill('');

function def1(op: number, name: string, imm: number, feat = 0): void {
  IMM1[op] = imm;
  NAME1[op] = name;
  FEAT1[op] = feat;
}

def1(0x00, 'unreachable', IMM_NONE);
def1(0x01, 'nop', IMM_NONE);
def1(0x02, 'block', IMM_BLOCK);
def1(0x03, 'loop', IMM_LOOP);
def1(0x04, 'if', IMM_BLOCK);
def1(0x05, 'else', IMM_ELSE);
def1(0x06, 'try', IMM_REJECT, F_EXCEPTIONS);
def1(0x07, 'catch', IMM_REJECT, F_EXCEPTIONS);
def1(0x08, 'throw', IMM_REJECT, F_EXCEPTIONS);
def1(0x09, 'rethrow', IMM_REJECT, F_EXCEPTIONS);
def1(0x0a, 'throw_ref', IMM_REJECT, F_EXCEPTIONS);
def1(0x0b, 'end', IMM_END);
def1(0x0c, 'br', IMM_LABEL);
def1(0x0d, 'br_if', IMM_LABEL);
def1(0x0e, 'br_table', IMM_BR_TABLE);
def1(0x0f, 'return', IMM_RETURN);
def1(0x10, 'call', IMM_CALL);
def1(0x11, 'call_indirect', IMM_CALL_INDIRECT);
def1(0x12, 'return_call', IMM_REJECT, F_TAIL_CALL);
def1(0x13, 'return_call_indirect', IMM_REJECT, F_TAIL_CALL);
def1(0x14, 'call_ref', IMM_REJECT, F_TYPED_FUNCTION_REFERENCES);
def1(0x15, 'return_call_ref', IMM_REJECT, F_TYPED_FUNCTION_REFERENCES);
def1(0x18, 'delegate', IMM_REJECT, F_EXCEPTIONS);
def1(0x19, 'catch_all', IMM_REJECT, F_EXCEPTIONS);
def1(0x1a, 'drop', IMM_NONE);
def1(0x1b, 'select', IMM_NONE);
def1(0x1c, 'select (typed)', IMM_SELECT_T, F_REFERENCE_TYPES);
def1(0x1f, 'try_table', IMM_REJECT, F_EXCEPTIONS);
def1(0x20, 'local.get', IMM_LOCAL);
def1(0x21, 'local.set', IMM_LOCAL);
def1(0x22, 'local.tee', IMM_LOCAL);
def1(0x23, 'global.get', IMM_GLOBAL_GET);
def1(0x24, 'global.set', IMM_GLOBAL_SET);
def1(0x25, 'table.get', IMM_TABLE, F_REFERENCE_TYPES);
def1(0x26, 'table.set', IMM_TABLE, F_REFERENCE_TYPES);

const MEM_OPS =
  'i32.load i64.load f32.load f64.load i32.load8_s i32.load8_u i32.load16_s i32.load16_u ' +
  'i64.load8_s i64.load8_u i64.load16_s i64.load16_u i64.load32_s i64.load32_u ' +
  'i32.store i64.store f32.store f64.store i32.store8 i32.store16 i64.store8 i64.store16 i64.store32';
MEM_OPS.split(' ').forEach((name, i) => def1(0x28 + i, name, IMM_MEMARG));
def1(0x3f, 'memory.size', IMM_MEMIDX);
def1(0x40, 'memory.grow', IMM_MEMIDX);
def1(0x41, 'i32.const', IMM_I32);
def1(0x42, 'i64.const', IMM_I64);
def1(0x43, 'f32.const', IMM_F32);
def1(0x44, 'f64.const', IMM_F64);

const cmpI = 'eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u';
const cmpF = 'eq ne lt gt le ge';
const unI = 'clz ctz popcnt';
const binI = 'add sub mul div_s div_u rem_s rem_u and or xor shl shr_s shr_u rotl rotr';
const unF = 'abs neg ceil floor trunc nearest sqrt';
const binF = 'add sub mul div min max copysign';
const NUMERIC = [
  'i32.eqz',
  ...cmpI.split(' ').map((n) => 'i32.' + n),
  'i64.eqz',
  ...cmpI.split(' ').map((n) => 'i64.' + n),
  ...cmpF.split(' ').map((n) => 'f32.' + n),
  ...cmpF.split(' ').map((n) => 'f64.' + n),
  ...unI.split(' ').map((n) => 'i32.' + n),
  ...binI.split(' ').map((n) => 'i32.' + n),
  ...unI.split(' ').map((n) => 'i64.' + n),
  ...binI.split(' ').map((n) => 'i64.' + n),
  ...unF.split(' ').map((n) => 'f32.' + n),
  ...binF.split(' ').map((n) => 'f32.' + n),
  ...unF.split(' ').map((n) => 'f64.' + n),
  ...binF.split(' ').map((n) => 'f64.' + n),
  ...(
    'i32.wrap_i64 i32.trunc_f32_s i32.trunc_f32_u i32.trunc_f64_s i32.trunc_f64_u i64.extend_i32_s ' +
    'i64.extend_i32_u i64.trunc_f32_s i64.trunc_f32_u i64.trunc_f64_s i64.trunc_f64_u f32.convert_i32_s ' +
    'f32.convert_i32_u f32.convert_i64_s f32.convert_i64_u f32.demote_f64 f64.convert_i32_s f64.convert_i32_u ' +
    'f64.convert_i64_s f64.convert_i64_u f64.promote_f32 i32.reinterpret_f32 i64.reinterpret_f64 ' +
    'f32.reinterpret_i32 f64.reinterpret_i64'
  ).split(' '),
];
NUMERIC.forEach((name, i) => def1(0x45 + i, name, IMM_NONE));
'i32.extend8_s i32.extend16_s i64.extend8_s i64.extend16_s i64.extend32_s'
  .split(' ')
  .forEach((name, i) => def1(0xc0 + i, name, IMM_NONE, F_SIGN_EXT));
def1(0xd0, 'ref.null', IMM_REF_NULL, F_REFERENCE_TYPES);
def1(0xd1, 'ref.is_null', IMM_NONE, F_REFERENCE_TYPES);
def1(0xd2, 'ref.func', IMM_REF_FUNC, F_REFERENCE_TYPES);
def1(0xd3, 'ref.eq', IMM_REJECT, F_GC);
def1(0xd4, 'ref.as_non_null', IMM_REJECT, F_TYPED_FUNCTION_REFERENCES);
def1(0xd5, 'br_on_null', IMM_REJECT, F_TYPED_FUNCTION_REFERENCES);
def1(0xd6, 'br_on_non_null', IMM_REJECT, F_TYPED_FUNCTION_REFERENCES);
def1(0xfb, 'gc prefix', IMM_PREFIX_REJECT, F_GC);
def1(0xfc, 'misc prefix', IMM_PREFIX_FC);
def1(0xfd, 'simd prefix', IMM_PREFIX_FD, F_SIMD);
def1(0xfe, 'atomics prefix', IMM_PREFIX_REJECT, F_THREADS);

// 0xFC prefix.
export const FC_NONE = 1;
export const FC_MEMORY_INIT = 2; // data index, memory byte
export const FC_DATA_DROP = 3; // data index
export const FC_MEMORY_COPY = 4; // memory byte, memory byte
export const FC_MEMORY_FILL = 5; // memory byte
export const FC_TABLE_INIT = 6; // element index, table index
export const FC_ELEM_DROP = 7; // element index
export const FC_TABLE_COPY = 8; // table index, table index
export const FC_TABLE = 9; // table index

export const FC_COUNT = 18;
export const IMMFC = new Uint8Array(FC_COUNT);
export const FEATFC = new Uint32Array(FC_COUNT);
export const NAMEFC: string[] = new Array<string>(FC_COUNT).fill('');
const FC_DEFS: ReadonlyArray<readonly [string, number, number]> = [
  ['i32.trunc_sat_f32_s', FC_NONE, F_NONTRAPPING_FPTOINT],
  ['i32.trunc_sat_f32_u', FC_NONE, F_NONTRAPPING_FPTOINT],
  ['i32.trunc_sat_f64_s', FC_NONE, F_NONTRAPPING_FPTOINT],
  ['i32.trunc_sat_f64_u', FC_NONE, F_NONTRAPPING_FPTOINT],
  ['i64.trunc_sat_f32_s', FC_NONE, F_NONTRAPPING_FPTOINT],
  ['i64.trunc_sat_f32_u', FC_NONE, F_NONTRAPPING_FPTOINT],
  ['i64.trunc_sat_f64_s', FC_NONE, F_NONTRAPPING_FPTOINT],
  ['i64.trunc_sat_f64_u', FC_NONE, F_NONTRAPPING_FPTOINT],
  ['memory.init', FC_MEMORY_INIT, F_BULK_MEMORY],
  ['data.drop', FC_DATA_DROP, F_BULK_MEMORY],
  ['memory.copy', FC_MEMORY_COPY, F_BULK_MEMORY],
  ['memory.fill', FC_MEMORY_FILL, F_BULK_MEMORY],
  ['table.init', FC_TABLE_INIT, F_BULK_MEMORY | F_REFERENCE_TYPES],
  ['elem.drop', FC_ELEM_DROP, F_BULK_MEMORY | F_REFERENCE_TYPES],
  ['table.copy', FC_TABLE_COPY, F_BULK_MEMORY | F_REFERENCE_TYPES],
  ['table.grow', FC_TABLE, F_BULK_MEMORY | F_REFERENCE_TYPES],
  ['table.size', FC_TABLE, F_BULK_MEMORY | F_REFERENCE_TYPES],
  ['table.fill', FC_TABLE, F_BULK_MEMORY | F_REFERENCE_TYPES],
];
FC_DEFS.forEach(([name, imm, feat], i) => {
  IMMFC[i] = imm;
  FEATFC[i] = feat;
  NAMEFC[i] = name;
});

// 0xFD prefix (SIMD; 0x100-0x113 relaxed SIMD).
export const FD_NONE = 1;
export const FD_MEMARG = 2;
export const FD_V128_CONST = 3; // 16 bytes
export const FD_SHUFFLE = 4; // 16 lane indices
export const FD_LANE = 5; // 1 lane index
export const FD_MEMARG_LANE = 6;
export const FD_RELAXED = 7;

export const FD_COUNT = 0x114;
export const IMMFD = new Uint8Array(FD_COUNT);
export const NAMEFD: string[] = new Array<string>(FD_COUNT).fill('');

const SIMD_NAMES =
  // 0x00
  'v128.load v128.load8x8_s v128.load8x8_u v128.load16x4_s v128.load16x4_u v128.load32x2_s v128.load32x2_u ' +
  'v128.load8_splat v128.load16_splat v128.load32_splat v128.load64_splat v128.store v128.const i8x16.shuffle ' +
  'i8x16.swizzle i8x16.splat ' +
  // 0x10
  'i16x8.splat i32x4.splat i64x2.splat f32x4.splat f64x2.splat i8x16.extract_lane_s i8x16.extract_lane_u ' +
  'i8x16.replace_lane i16x8.extract_lane_s i16x8.extract_lane_u i16x8.replace_lane i32x4.extract_lane ' +
  'i32x4.replace_lane i64x2.extract_lane i64x2.replace_lane f32x4.extract_lane ' +
  // 0x20
  'f32x4.replace_lane f64x2.extract_lane f64x2.replace_lane i8x16.eq i8x16.ne i8x16.lt_s i8x16.lt_u i8x16.gt_s ' +
  'i8x16.gt_u i8x16.le_s i8x16.le_u i8x16.ge_s i8x16.ge_u i16x8.eq i16x8.ne i16x8.lt_s ' +
  // 0x30
  'i16x8.lt_u i16x8.gt_s i16x8.gt_u i16x8.le_s i16x8.le_u i16x8.ge_s i16x8.ge_u i32x4.eq i32x4.ne i32x4.lt_s ' +
  'i32x4.lt_u i32x4.gt_s i32x4.gt_u i32x4.le_s i32x4.le_u i32x4.ge_s ' +
  // 0x40
  'i32x4.ge_u f32x4.eq f32x4.ne f32x4.lt f32x4.gt f32x4.le f32x4.ge f64x2.eq f64x2.ne f64x2.lt f64x2.gt ' +
  'f64x2.le f64x2.ge v128.not v128.and v128.andnot ' +
  // 0x50
  'v128.or v128.xor v128.bitselect v128.any_true v128.load8_lane v128.load16_lane v128.load32_lane ' +
  'v128.load64_lane v128.store8_lane v128.store16_lane v128.store32_lane v128.store64_lane v128.load32_zero ' +
  'v128.load64_zero f32x4.demote_f64x2_zero f64x2.promote_low_f32x4 ' +
  // 0x60
  'i8x16.abs i8x16.neg i8x16.popcnt i8x16.all_true i8x16.bitmask i8x16.narrow_i16x8_s i8x16.narrow_i16x8_u ' +
  'f32x4.ceil f32x4.floor f32x4.trunc f32x4.nearest i8x16.shl i8x16.shr_s i8x16.shr_u i8x16.add ' +
  'i8x16.add_sat_s ' +
  // 0x70
  'i8x16.add_sat_u i8x16.sub i8x16.sub_sat_s i8x16.sub_sat_u f64x2.ceil f64x2.floor i8x16.min_s i8x16.min_u ' +
  'i8x16.max_s i8x16.max_u f64x2.trunc i8x16.avgr_u i16x8.extadd_pairwise_i8x16_s ' +
  'i16x8.extadd_pairwise_i8x16_u i32x4.extadd_pairwise_i16x8_s i32x4.extadd_pairwise_i16x8_u ' +
  // 0x80
  'i16x8.abs i16x8.neg i16x8.q15mulr_sat_s i16x8.all_true i16x8.bitmask i16x8.narrow_i32x4_s ' +
  'i16x8.narrow_i32x4_u i16x8.extend_low_i8x16_s i16x8.extend_high_i8x16_s i16x8.extend_low_i8x16_u ' +
  'i16x8.extend_high_i8x16_u i16x8.shl i16x8.shr_s i16x8.shr_u i16x8.add i16x8.add_sat_s ' +
  // 0x90
  'i16x8.add_sat_u i16x8.sub i16x8.sub_sat_s i16x8.sub_sat_u f64x2.nearest i16x8.mul i16x8.min_s i16x8.min_u ' +
  'i16x8.max_s i16x8.max_u - i16x8.avgr_u i16x8.extmul_low_i8x16_s i16x8.extmul_high_i8x16_s ' +
  'i16x8.extmul_low_i8x16_u i16x8.extmul_high_i8x16_u ' +
  // 0xa0
  'i32x4.abs i32x4.neg - i32x4.all_true i32x4.bitmask - - i32x4.extend_low_i16x8_s i32x4.extend_high_i16x8_s ' +
  'i32x4.extend_low_i16x8_u i32x4.extend_high_i16x8_u i32x4.shl i32x4.shr_s i32x4.shr_u i32x4.add - ' +
  // 0xb0
  '- i32x4.sub - - - i32x4.mul i32x4.min_s i32x4.min_u i32x4.max_s i32x4.max_u i32x4.dot_i16x8_s - ' +
  'i32x4.extmul_low_i16x8_s i32x4.extmul_high_i16x8_s i32x4.extmul_low_i16x8_u i32x4.extmul_high_i16x8_u ' +
  // 0xc0
  'i64x2.abs i64x2.neg - i64x2.all_true i64x2.bitmask - - i64x2.extend_low_i32x4_s i64x2.extend_high_i32x4_s ' +
  'i64x2.extend_low_i32x4_u i64x2.extend_high_i32x4_u i64x2.shl i64x2.shr_s i64x2.shr_u i64x2.add - ' +
  // 0xd0
  '- i64x2.sub - - - i64x2.mul i64x2.eq i64x2.ne i64x2.lt_s i64x2.gt_s i64x2.le_s i64x2.ge_s ' +
  'i64x2.extmul_low_i32x4_s i64x2.extmul_high_i32x4_s i64x2.extmul_low_i32x4_u i64x2.extmul_high_i32x4_u ' +
  // 0xe0
  'f32x4.abs f32x4.neg - f32x4.sqrt f32x4.add f32x4.sub f32x4.mul f32x4.div f32x4.min f32x4.max f32x4.pmin ' +
  'f32x4.pmax f64x2.abs f64x2.neg - f64x2.sqrt ' +
  // 0xf0
  'f64x2.add f64x2.sub f64x2.mul f64x2.div f64x2.min f64x2.max f64x2.pmin f64x2.pmax ' +
  'i32x4.trunc_sat_f32x4_s i32x4.trunc_sat_f32x4_u f32x4.convert_i32x4_s f32x4.convert_i32x4_u ' +
  'i32x4.trunc_sat_f64x2_s_zero i32x4.trunc_sat_f64x2_u_zero f64x2.convert_low_i32x4_s ' +
  'f64x2.convert_low_i32x4_u ' +
  // 0x100 relaxed SIMD
  'i8x16.relaxed_swizzle i32x4.relaxed_trunc_f32x4_s i32x4.relaxed_trunc_f32x4_u ' +
  'i32x4.relaxed_trunc_f64x2_s_zero i32x4.relaxed_trunc_f64x2_u_zero f32x4.relaxed_madd f32x4.relaxed_nmadd ' +
  'f64x2.relaxed_madd f64x2.relaxed_nmadd i8x16.relaxed_laneselect i16x8.relaxed_laneselect ' +
  'i32x4.relaxed_laneselect i64x2.relaxed_laneselect f32x4.relaxed_min f32x4.relaxed_max f64x2.relaxed_min ' +
  'f64x2.relaxed_max i16x8.relaxed_q15mulr_s i16x8.relaxed_dot_i8x16_i7x16_s ' +
  'i32x4.relaxed_dot_i8x16_i7x16_add_s';

SIMD_NAMES.split(' ').forEach((name, i) => {
  if (name === '-') return;
  NAMEFD[i] = name;
  IMMFD[i] =
    i >= 0x100
      ? FD_RELAXED
      : i <= 0x0b || i === 0x5c || i === 0x5d
        ? FD_MEMARG
        : i === 0x0c
          ? FD_V128_CONST
          : i === 0x0d
            ? FD_SHUFFLE
            : i >= 0x15 && i <= 0x22
              ? FD_LANE
              : i >= 0x54 && i <= 0x5b
                ? FD_MEMARG_LANE
                : FD_NONE;
});

/** Names of the atomic operators (0xFE prefix), for error messages only. */
export function atomicName(sub: number): string {
  const fixed = ['memory.atomic.notify', 'memory.atomic.wait32', 'memory.atomic.wait64', 'atomic.fence'];
  const n = fixed[sub];
  if (n !== undefined) return n;
  if (sub >= 0x10 && sub <= 0x4e) return 'atomic memory operator';
  return 'unknown atomic operator';
}
