/**
 * The function-body decoder. One pass over each body:
 * - checks every operator against the opcode table and the allowed features (unknown opcodes fail
 *   closed as CAXTON_ERR_MODULE_MALFORMED);
 * - range-checks every index it meets (functions, types, tables, memory 0, globals, locals, data and
 *   element segments, branch depths) so that nothing invalid can turn valid once the fuel global
 *   is appended;
 * - records the fuel charge points (function entry and every loop header) and their costs;
 * - records every other change the rewriter makes to the body (the `edit*` arrays of Charges): the
 *   fuel counter travels as an extra parameter and result of every defined function (rewrite.ts), so
 *   local indices past the parameters shift by one, direct calls pass and take back the counter, and
 *   calls that leave the module's own calling convention (imports, call_indirect) store it to the
 *   fuel global before and load it after.
 *
 * Cost model: each charge point is charged the number of operators from it to the next charge point
 * in linear code order (minimum 1), counting the original operators only. So one unit is about one
 * operator executed. It is an approximation: a branch that leaves a segment early still paid for the
 * whole segment, and the operators after a loop's `end` are charged to that loop's header (on every
 * iteration) when no later loop starts a new segment.
 */
import { at, hex, invalid, malformed } from './fail.js';
import {
  F_MULTI_MEMORY,
  F_MULTI_VALUE,
  F_REFERENCE_TYPES,
  F_RELAXED_SIMD,
  F_SIMD,
  featureName,
  requireFeature,
} from './features.js';
import {
  atomicName,
  FC_COUNT,
  FC_DATA_DROP,
  FC_ELEM_DROP,
  FC_MEMORY_COPY,
  FC_MEMORY_FILL,
  FC_MEMORY_INIT,
  FC_TABLE,
  FC_TABLE_COPY,
  FC_TABLE_INIT,
  FD_COUNT,
  FD_LANE,
  FD_MEMARG,
  FD_MEMARG_LANE,
  FD_RELAXED,
  FD_SHUFFLE,
  FD_V128_CONST,
  FEAT1,
  FEATFC,
  IMM1,
  IMM_BLOCK,
  IMM_BR_TABLE,
  IMM_CALL,
  IMM_CALL_INDIRECT,
  IMM_ELSE,
  IMM_END,
  IMM_F32,
  IMM_F64,
  IMM_GLOBAL_GET,
  IMM_GLOBAL_SET,
  IMM_I32,
  IMM_I64,
  IMM_LABEL,
  IMM_LOCAL,
  IMM_LOOP,
  IMM_MEMARG,
  IMM_MEMIDX,
  IMM_NONE,
  IMM_PREFIX_FC,
  IMM_PREFIX_FD,
  IMM_PREFIX_REJECT,
  IMM_REF_FUNC,
  IMM_REF_NULL,
  IMM_REJECT,
  IMM_RETURN,
  IMM_SELECT_T,
  IMM_TABLE,
  IMMFC,
  IMMFD,
  NAME1,
  NAMEFC,
  NAMEFD,
} from './opcodes.js';
import type { Reader } from './reader.js';
import { checkValType, readValType, rejectTypeByte, T_EXTERNREF, T_FUNCREF, type ModuleInfo } from './types.js';

/** V8's limit on the locals of one function (kV8MaxWasmFunctionLocals). */
export const MAX_LOCALS = 50000;

/**
 * Edit kinds, applied by the rewriter at `editAt[i]` (replacing the bytes up to `editEnd[i]`):
 * - E_CHECK: a fuel check charging `costs[editArg[i]]` (inserted);
 * - E_DYN: a length-dependent check before a bulk operator, charging its length operand >> `editArg[i]`
 *   (inserted);
 * - E_LOCAL: a local index immediate, rewritten to `editArg[i]`;
 * - E_CALL: a direct call to a defined function, rewritten to call function `editArg[i]` with the
 *   counter as its last argument and last result;
 * - E_FLUSH / E_RELOAD: the counter stored to / loaded from the fuel global (inserted around a call
 *   that leaves the module's own calling convention: an import or call_indirect);
 * - E_RETURN: the counter pushed as the last result (inserted before `return`);
 * - E_FINAL: before the body's final `end`: the end of the block that wraps the original body, then
 *   the counter pushed as the last result.
 */
export const E_CHECK = 0;
export const E_DYN = 1;
export const E_LOCAL = 2;
export const E_CALL = 3;
export const E_FLUSH = 4;
export const E_RELOAD = 5;
export const E_RETURN = 6;
export const E_FINAL = 7;

/** Charge points and edits of one function body; reused from body to body to avoid allocation. */
export interface Charges {
  /** costs[i]: fuel charged by check i (>= 1); check 0 is the function entry, the others loop headers. */
  costs: number[];
  count: number;
  /**
   * The number of length-dependent charges before bulk operators (memory.fill/copy/init,
   * table.fill/copy/init). Their cost depends on the length operand, so it is charged at run time
   * from a scratch local (E_DYN edits).
   */
  dynCount: number;
  /** Every change to the body, in offset order (E_* kinds above). */
  editKind: number[];
  editAt: number[];
  editEnd: number[];
  editArg: number[];
  editCount: number;
  /** The function's parameter count: the index its fuel counter parameter gets. */
  numParams: number;
  /** Params + declared locals of the original function. */
  numLocals: number;
  /** The number of local declaration groups, and the offset just after that count. */
  numDecls: number;
  declsStart: number;
}

export function newCharges(): Charges {
  return {
    costs: [],
    count: 0,
    dynCount: 0,
    editKind: [],
    editAt: [],
    editEnd: [],
    editArg: [],
    editCount: 0,
    numParams: 0,
    numLocals: 0,
    numDecls: 0,
    declsStart: 0,
  };
}

function edit(ch: Charges, kind: number, at: number, end: number, arg: number): void {
  const i = ch.editCount++;
  ch.editKind[i] = kind;
  ch.editAt[i] = at;
  ch.editEnd[i] = end;
  ch.editArg[i] = arg;
}

/** Bulk memory operators are charged one unit per 16 bytes (memset/memcpy run at ~10-20 GB/s). */
const BYTES_SHIFT = 4;
/** Bulk table operators are charged one unit per element. */
const ELEMS_SHIFT = 0;
/** 0xfc 17: table.fill (its length is the top operand, like the other bulk operators). */
const FC_TABLE_FILL_SUB = 17;

function opName(op: number): string {
  const n = NAME1[op];
  return n === undefined || n === '' ? 'unknown' : n;
}

function label(r: Reader, off: number): string {
  return `in function #${r.func} at ${at(off)}`;
}

/** Throws for the first feature of `need` that `allowed` lacks. */
function requireAll(allowed: number, need: number, what: string, off: number): void {
  for (let b = 1; b <= need; b <<= 1) {
    if ((need & b) !== 0 && (allowed & b) === 0) requireFeature(allowed, b, what, off);
  }
}

/** Feature error for the operator starting at `off` (single-byte or prefixed). */
function operatorFeature(r: Reader, op: number, off: number, allowed: number): never {
  let what: string;
  let bit = FEAT1[op]!;
  if (IMM1[op] === IMM_PREFIX_REJECT || IMM1[op] === IMM_PREFIX_FD) {
    const sub = r.u32('a prefixed opcode');
    let name: string;
    if (op === 0xfe) {
      name = atomicName(sub);
    } else if (op === 0xfd) {
      name = sub < FD_COUNT ? NAMEFD[sub]! : '';
      if (name === '') malformed(`unknown operator 0xfd ${hex(sub)} ${label(r, off)}`, off);
      if (IMMFD[sub] === FD_RELAXED) bit = F_RELAXED_SIMD;
    } else {
      name = 'gc operator';
    }
    what = `operator ${hex(op)} ${hex(sub)} (${name}) ${label(r, off)}`;
  } else {
    what = `operator ${hex(op)} (${opName(op)}) ${label(r, off)}`;
  }
  requireAll(allowed, bit, what, off);
  return invalid(`${what} needs '${featureName(bit)}'`, off);
}

/**
 * Decodes the function bodies of one module. Built once per module; `decode` is called per body.
 * Helpers are methods rather than closures so that nothing is allocated per body.
 */
export class BodyDecoder {
  private readonly r: Reader;
  private readonly m: ModuleInfo;
  private readonly allowed: number;
  private readonly numFuncs: number;
  private readonly numTypes: number;
  private readonly numTables: number;
  private readonly numGlobals: number;
  private readonly hasMemory: boolean;
  /** Per function index: the index a direct call goes to (with the counter), or -1 for imports. */
  private readonly callTargets: Int32Array;

  /**
   * `callTargets` maps each function index to the function a direct call must reach with the
   * counter passed along (-1: an import, called through the fuel global). By default every defined
   * function is called at its own index.
   */
  constructor(r: Reader, m: ModuleInfo, allowed: number, callTargets?: Int32Array) {
    this.r = r;
    this.m = m;
    this.allowed = allowed;
    if (callTargets === undefined) {
      callTargets = new Int32Array(m.funcTypes.length);
      for (let f = 0; f < callTargets.length; f++) callTargets[f] = f < m.numImportedFuncs ? -1 : f;
    }
    this.callTargets = callTargets;
    this.numFuncs = m.funcTypes.length;
    this.numTypes = m.types.length;
    this.numTables = m.tables.length;
    this.numGlobals = m.globals.length;
    this.hasMemory = m.memory !== null;
  }

  private needMemory(op: string, off: number): void {
    if (!this.hasMemory) invalid(`operator ${op} ${label(this.r, off)} needs a memory, but the module has none`, off);
  }

  private memByte(op: string, off: number): void {
    const b = this.r.u8('a memory index');
    if (b !== 0) requireFeature(0, F_MULTI_MEMORY, `operator ${op} on memory ${b} ${label(this.r, off)}`, off);
    this.needMemory(op, off);
  }

  private memarg(op: string, off: number): void {
    const r = this.r;
    const align = r.u32('a memory alignment');
    if ((align & 0x40) !== 0) {
      requireFeature(0, F_MULTI_MEMORY, `operator ${op} with a memory index ${label(r, off)}`, off);
    }
    r.u32('a memory offset');
    this.needMemory(op, off);
  }

  private tableIdx(op: string, off: number): void {
    const t = this.r.u32('a table index');
    if (t >= this.numTables) {
      invalid(`operator ${op} ${label(this.r, off)} uses table ${t}, but the module has ${this.numTables} tables`, off);
    }
  }

  private elemIdx(op: string, off: number): void {
    const e = this.r.u32('an element segment index');
    const n = this.m.elemSegments;
    if (e >= n) invalid(`operator ${op} ${label(this.r, off)} uses element segment ${e}, but the module has ${n}`, off);
  }

  private dataIdx(op: string, off: number): void {
    const d = this.r.u32('a data segment index');
    const n = this.m.dataCount;
    if (n === null) invalid(`operator ${op} ${label(this.r, off)} needs a data count section, which the module lacks`, off);
    if (d >= n) invalid(`operator ${op} ${label(this.r, off)} uses data segment ${d}, but the module has ${n}`, off);
  }

  private blockType(off: number): void {
    const r = this.r;
    const b = r.peek('a block type');
    if (b === 0x40) {
      r.pos++;
    } else if (b >= 0x40 && b < 0x80) {
      r.pos++;
      checkValType(b, this.allowed, r, off + 1);
    } else {
      const t = r.s33('a block type');
      if (t < 0) malformed(`invalid block type ${label(r, off)}`, off);
      if (t >= this.numTypes) {
        invalid(`block type ${t} ${label(r, off)} is not a type of the module (${this.numTypes} types)`, off);
      }
      requireFeature(this.allowed, F_MULTI_VALUE, `a block with type index ${t} ${label(r, off)}`, off);
    }
  }

  /** Records a length-dependent charge before the bulk operator at `off`. */
  dynamicCharge(ch: Charges, off: number, shift: number): void {
    if (ch.dynCount === 0 && ch.numLocals + 2 > MAX_LOCALS) {
      invalid(
        `function #${this.r.func} uses bulk operators and ${ch.numLocals} locals; metering needs two more ` +
          `(the fuel counter and a scratch local) and V8 allows ${MAX_LOCALS}`,
        off,
      );
    }
    edit(ch, E_DYN, off, off, shift);
    ch.dynCount++;
  }

  /**
   * Decodes and checks the body of function `func` occupying [start, end), filling `ch` with its
   * charge points. Returns the offset of the first operator (after the local declarations).
   */
  decode(func: number, start: number, end: number, ch: Charges): number {
    const r = this.r;
    const m = this.m;
    const allowed = this.allowed;
    r.pos = start;
    r.end = end;
    r.func = func;
    r.where = "section 'code'";
    const type = m.types[m.funcTypes[func]!]!;

    const numParams = type.params.length;
    let numLocals = numParams;
    const nDecl = r.count('local declarations', 2);
    ch.numDecls = nDecl;
    ch.declsStart = r.pos;
    ch.dynCount = 0;
    ch.editCount = 0;
    ch.numParams = numParams;
    for (let i = 0; i < nDecl; i++) {
      const off = r.pos;
      numLocals += r.u32('a local count');
      if (numLocals > MAX_LOCALS) {
        invalid(`function #${func} declares ${numLocals} or more locals at ${at(off)}, over V8's limit of ${MAX_LOCALS}`, off);
      }
      readValType(r, allowed);
    }

    if (numLocals + 1 > MAX_LOCALS) {
      invalid(
        `function #${func} has ${numLocals} parameters and locals; metering needs one more (the fuel counter) ` +
          `and V8 allows ${MAX_LOCALS}`,
        ch.declsStart,
      );
    }

    const exprStart = r.pos;
    ch.numLocals = numLocals;
    const buf = r.buf;
    const callTargets = this.callTargets;
    const numFuncs = this.numFuncs;
    const numTypes = this.numTypes;
    const numTables = this.numTables;
    const globals = m.globals;
    const numGlobals = this.numGlobals;
    const costs = ch.costs;
    let nCharges = 0;
    edit(ch, E_CHECK, exprStart, exprStart, 0);
    let ops = 0;
    let depth = 1; // the function's own label

    for (;;) {
      if (r.pos >= end) {
        malformed(`truncated: the body of function #${func} ends at ${at(end)} without its final 'end'`, end);
      }
      const off = r.pos;
      const op = buf[r.pos++]!;
      ops++;
      const need = FEAT1[op]!;
      if (need !== 0 && (need & ~allowed) !== 0) operatorFeature(r, op, off, allowed);
      switch (IMM1[op]) {
        case IMM_NONE:
        case IMM_ELSE:
          break;
        case IMM_RETURN:
          edit(ch, E_RETURN, off, off, 0);
          break;
        case IMM_BLOCK:
          this.blockType(off);
          depth++;
          break;
        case IMM_LOOP:
          this.blockType(off);
          depth++;
          costs[nCharges] = ops;
          nCharges++;
          edit(ch, E_CHECK, r.pos, r.pos, nCharges);
          ops = 0;
          break;
        case IMM_END:
          depth--;
          if (depth === 0) {
            if (r.pos !== end) {
              malformed(
                `function #${func}: its final 'end' at ${at(off)} is followed by ${end - r.pos} more bytes of the body`,
                off,
              );
            }
            costs[nCharges] = ops;
            nCharges++;
            ch.count = nCharges;
            edit(ch, E_FINAL, off, off, 0);
            for (let i = 0; i < nCharges; i++) if (costs[i]! < 1) costs[i] = 1;
            return exprStart;
          }
          break;
        case IMM_LABEL: {
          const d = r.u32('a branch depth');
          if (d >= depth) invalid(`branch depth ${d} of ${opName(op)} ${label(r, off)} exceeds the ${depth} enclosing labels`, off);
          break;
        }
        case IMM_BR_TABLE: {
          const n = r.count('br_table targets', 1);
          for (let i = 0; i <= n; i++) {
            const d = r.u32('a branch depth');
            if (d >= depth) invalid(`branch depth ${d} of br_table ${label(r, off)} exceeds the ${depth} enclosing labels`, off);
          }
          break;
        }
        case IMM_CALL:
        case IMM_REF_FUNC: {
          const f = r.u32('a function index');
          if (f >= numFuncs) {
            invalid(`${opName(op)} ${f} ${label(r, off)} refers to a function that does not exist (${numFuncs} functions)`, off);
          }
          if (op === 0x10) {
            const target = callTargets[f]!;
            if (target < 0) {
              edit(ch, E_FLUSH, off, off, 0);
              edit(ch, E_RELOAD, r.pos, r.pos, 0);
            } else {
              edit(ch, E_CALL, off, r.pos, target);
            }
          }
          break;
        }
        case IMM_CALL_INDIRECT: {
          const t = r.u32('a type index');
          if (t >= numTypes) invalid(`call_indirect ${label(r, off)} uses type ${t}, but the module has ${numTypes} types`, off);
          const tbl = r.u32('a table index');
          if (tbl !== 0) requireFeature(allowed, F_REFERENCE_TYPES, `call_indirect through table ${tbl} ${label(r, off)}`, off);
          if (tbl >= numTables) invalid(`call_indirect ${label(r, off)} uses table ${tbl}, but the module has ${numTables} tables`, off);
          edit(ch, E_FLUSH, off, off, 0);
          edit(ch, E_RELOAD, r.pos, r.pos, 0);
          break;
        }
        case IMM_LOCAL: {
          const l = r.u32('a local index');
          if (l >= numLocals) {
            invalid(`${opName(op)} ${l} ${label(r, off)} refers to a local that does not exist (${numLocals} locals)`, off);
          }
          // The counter parameter comes after the original parameters: declared locals shift by one.
          if (l >= numParams) edit(ch, E_LOCAL, off + 1, r.pos, l + 1);
          break;
        }
        case IMM_GLOBAL_GET:
        case IMM_GLOBAL_SET: {
          const g = r.u32('a global index');
          if (g >= numGlobals) {
            invalid(
              `${opName(op)} ${g} ${label(r, off)} refers to a global that does not exist (${numGlobals} globals)`,
              off,
            );
          }
          if (op === 0x24 && !globals[g]!.mutable) invalid(`global.set ${g} ${label(r, off)} writes an immutable global`, off);
          break;
        }
        case IMM_TABLE:
          this.tableIdx(opName(op), off);
          break;
        case IMM_MEMARG:
          this.memarg(opName(op), off);
          break;
        case IMM_MEMIDX:
          this.memByte(opName(op), off);
          break;
        case IMM_I32:
          r.skipSigned(32, 'an i32.const immediate');
          break;
        case IMM_I64:
          r.skipSigned(64, 'an i64.const immediate');
          break;
        case IMM_F32:
          r.skip(4, 'an f32.const immediate');
          break;
        case IMM_F64:
          r.skip(8, 'an f64.const immediate');
          break;
        case IMM_SELECT_T: {
          const n = r.u32('the number of select types');
          if (n !== 1) invalid(`typed select ${label(r, off)} lists ${n} types; exactly 1 is allowed`, off);
          readValType(r, allowed);
          break;
        }
        case IMM_REF_NULL: {
          const tOff = r.pos;
          const t = r.u8('a heap type');
          if (t !== T_FUNCREF && t !== T_EXTERNREF) rejectTypeByte(t, r, tOff, 'heap type');
          break;
        }
        case IMM_PREFIX_FC: {
          const sub = r.u32('a 0xfc opcode');
          if (sub >= FC_COUNT) malformed(`unknown operator 0xfc ${hex(sub)} ${label(r, off)}`, off);
          const name = NAMEFC[sub]!;
          const needFc = FEATFC[sub]!;
          if ((needFc & ~allowed) !== 0) {
            for (let b = 1; b <= needFc; b <<= 1) {
              if ((needFc & b) !== 0) requireFeature(allowed, b, `operator 0xfc ${hex(sub)} (${name}) ${label(r, off)}`, off);
            }
          }
          switch (IMMFC[sub]) {
            case FC_MEMORY_INIT:
            case FC_MEMORY_COPY:
            case FC_MEMORY_FILL:
            case FC_TABLE_INIT:
            case FC_TABLE_COPY:
              this.dynamicCharge(ch, off, IMMFC[sub] === FC_TABLE_INIT || IMMFC[sub] === FC_TABLE_COPY ? ELEMS_SHIFT : BYTES_SHIFT);
              break;
            default:
              break;
          }
          if (sub === FC_TABLE_FILL_SUB) this.dynamicCharge(ch, off, ELEMS_SHIFT);
          switch (IMMFC[sub]) {
            case FC_MEMORY_INIT:
              this.dataIdx(name, off);
              this.memByte(name, off);
              break;
            case FC_DATA_DROP:
              this.dataIdx(name, off);
              break;
            case FC_MEMORY_COPY:
              this.memByte(name, off);
              this.memByte(name, off);
              break;
            case FC_MEMORY_FILL:
              this.memByte(name, off);
              break;
            case FC_TABLE_INIT:
              this.elemIdx(name, off);
              this.tableIdx(name, off);
              break;
            case FC_ELEM_DROP:
              this.elemIdx(name, off);
              break;
            case FC_TABLE_COPY:
              this.tableIdx(name, off);
              this.tableIdx(name, off);
              break;
            case FC_TABLE:
              this.tableIdx(name, off);
              break;
            default:
              break;
          }
          break;
        }
        case IMM_PREFIX_FD: {
          const sub = r.u32('a SIMD opcode');
          const kind = sub < FD_COUNT ? IMMFD[sub]! : 0;
          if (kind === 0) malformed(`unknown operator 0xfd ${hex(sub)} ${label(r, off)}`, off);
          const name = NAMEFD[sub]!;
          if (kind === FD_RELAXED) {
            requireFeature(0, F_RELAXED_SIMD, `operator 0xfd ${hex(sub)} (${name}) ${label(r, off)}`, off);
          }
          requireFeature(allowed, F_SIMD, `operator 0xfd ${hex(sub)} (${name}) ${label(r, off)}`, off);
          switch (kind) {
            case FD_MEMARG:
              this.memarg(name, off);
              break;
            case FD_MEMARG_LANE:
              this.memarg(name, off);
              r.skip(1, 'a lane index');
              break;
            case FD_LANE:
              r.skip(1, 'a lane index');
              break;
            case FD_V128_CONST:
            case FD_SHUFFLE:
              r.skip(16, 'a 16-byte immediate');
              break;
            default:
              break;
          }
          break;
        }
        case IMM_REJECT:
        case IMM_PREFIX_REJECT:
          operatorFeature(r, op, off, 0);
          break;
        default:
          malformed(`unknown operator ${hex(op)} ${label(r, off)}`, off);
      }
    }
  }
}
