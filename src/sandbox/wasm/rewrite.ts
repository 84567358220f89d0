/**
 * Produces the admitted module: every section is copied byte for byte except
 * - type, which gains the metered function types (below), block types for them and the type of the
 *   fuel charge function;
 * - function, whose defined functions get their metered types, plus the moved bodies (below) and the
 *   fuel charge function;
 * - memory and table, whose maximums are capped (limits flag 0x01);
 * - global, which gains the fuel global (a mutable i64, initialised to the per-call budget so that a
 *   start function is metered too);
 * - export, which gains the fuel exports (FUEL_EXPORT, the global; FUEL_CHARGE_EXPORT, the function);
 * - code, whose bodies get a fuel check at entry and after every loop header (see code.ts), plus the
 *   wrappers, moved bodies and the fuel charge function.
 * Type, function, global, export and code sections are created in their place in the section order
 * when absent. Section and body sizes are recomputed as minimal LEB128s.
 *
 * Where the counter lives. A counter in a global costs a load, a subtraction and a store per check,
 * and each check's load waits for the previous check's store: on a call-heavy workload that chain
 * through memory costs more than the calls (fib(30): 1.75× with a global, 1.0× without). So inside
 * the module the counter is a value: every defined function takes it as one more (last) parameter
 * and returns what is left as one more (last) result, and keeps it in that parameter local in between.
 * The body is wrapped in a block of its original result type, so that every branch out of the body
 * ends at that block's end, where the counter is pushed; `return` pushes it too.
 *
 * The fuel global carries the counter across the module's boundary: whenever control leaves the
 * module's own calling convention the counter is stored to it before and loaded back after: calls to
 * imports (host functions charge the global, HostMeter), call_indirect, and entries from outside.
 * Functions that can be entered from outside (exported, start, in a table or named by ref.func:
 * ModuleInfo.referencedFuncs) keep their index and type, which now belongs to a small wrapper (load
 * the global, call the metered body, store the global); the metered body moves to an appended index.
 * So exports, element segments, ref.func and start need no change. An exhausted check stores the
 * (negative) counter to the global before it traps, so the host sees the same value as before; a
 * loop header's check stores it on every iteration (see writeBody). The host reads and charges the
 * counter through the charge function (FUEL_CHARGE_EXPORT), not the global's BigInt accessors.
 */
import { FUEL_CHARGE_EXPORT, FUEL_EXPORT } from '../abi.js';
import type { SandboxPolicy } from '../policy.js';
import {
  BodyDecoder,
  E_CALL,
  E_CHECK,
  E_DYN,
  E_FINAL,
  E_FLUSH,
  E_LOCAL,
  E_RELOAD,
  E_RETURN,
  newCharges,
  type Charges,
} from './code.js';
import { limit } from './fail.js';
import { Reader } from './reader.js';
import {
  SEC_CODE,
  SEC_CUSTOM,
  SEC_EXPORT,
  SEC_FUNCTION,
  SEC_GLOBAL,
  SEC_MEMORY,
  SEC_TABLE,
  SEC_TYPE,
  SECTION_RANK,
} from './sections.js';
import { T_F64, T_I64, type FuncType, type ModuleInfo, type SectionInfo } from './types.js';
import { Writer } from './writer.js';

export interface RewriteResult {
  bytes: Uint8Array;
  memory: { minPages: number; maxPages: number };
  checks: number;
}

const FUEL_NAME = new TextEncoder().encode(FUEL_EXPORT);
const CHARGE_NAME = new TextEncoder().encode(FUEL_CHARGE_EXPORT);

/** V8's limits (wasm-limits.h) that the extra parameter, result, types and functions must respect. */
const V8_MAX_PARAMS = 1000;
const V8_MAX_RESULTS = 1000;
const V8_MAX_TYPES = 1_000_000;
const V8_MAX_FUNCTIONS = 1_000_000;

/** Bytes one edit can add at most (a dynamic check with 5-byte indices); bounds each body's output. */
const MAX_EDIT_BYTES = 64;

/** How the defined functions are laid out after the rewrite. */
interface Layout {
  /** Per function index: where a direct call goes (with the counter), or -1 for imports. */
  callTargets: Int32Array;
  /** Defined functions entered from outside, ascending: each keeps its index for a wrapper. */
  wrapped: number[];
  /** Per function index: 1 if wrapped. */
  isWrapped: Uint8Array;
  /** Per original type index: the metered type's index (-1 when no defined function uses it). */
  meteredType: Int32Array;
  /** Per original type index: the block type encoding (bytes) of its results, when metered. */
  blockType: (Uint8Array | undefined)[];
  /** Types appended to the type section, in order (the last one is the charge function's). */
  newTypes: FuncType[];
  /** The fuel charge function's index (after the moved bodies) and type index. */
  chargeFunc: number;
  chargeType: number;
}

function layout(m: ModuleInfo): Layout {
  const nImp = m.numImportedFuncs;
  const nFuncs = m.funcTypes.length;
  const nDef = nFuncs - nImp;
  const isWrapped = new Uint8Array(nFuncs);
  const wrapped: number[] = [];
  for (const f of m.referencedFuncs) if (f >= nImp) isWrapped[f] = 1;
  for (let f = nImp; f < nFuncs; f++) if (isWrapped[f] === 1) wrapped.push(f);
  const callTargets = new Int32Array(nFuncs);
  let moved = nFuncs;
  for (let f = 0; f < nFuncs; f++) callTargets[f] = f < nImp ? -1 : isWrapped[f] === 1 ? moved++ : f;
  if (nFuncs + wrapped.length + 1 > V8_MAX_FUNCTIONS) {
    limit(
      `the module has ${nFuncs} functions, ${wrapped.length} of them entered from outside (exported or in a table); ` +
        `metering adds a wrapper for each, and V8 allows ${V8_MAX_FUNCTIONS} functions`,
    );
  }

  const meteredType = new Int32Array(m.types.length).fill(-1);
  const blockType: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(m.types.length);
  const newTypes: FuncType[] = [];
  for (let f = nImp; f < nImp + nDef; f++) {
    const t = m.funcTypes[f]!;
    if (meteredType[t] !== -1) continue;
    const type = m.types[t]!;
    if (type.params.length + 1 > V8_MAX_PARAMS || type.results.length + 1 > V8_MAX_RESULTS) {
      limit(
        `function #${f} has ${type.params.length} parameters and ${type.results.length} results; metering ` +
          `passes the fuel counter as one more of each, and V8 allows ${V8_MAX_PARAMS} parameters and ` +
          `${V8_MAX_RESULTS} results`,
      );
    }
    meteredType[t] = m.types.length + newTypes.length;
    newTypes.push({ params: [...type.params, T_I64], results: [...type.results, T_I64] });
    const r = type.results;
    if (r.length === 0) {
      blockType[t] = Uint8Array.of(0x40);
    } else if (r.length === 1) {
      blockType[t] = Uint8Array.of(r[0]!);
    } else {
      // A block of several results needs a type index: [] -> results.
      const w = new Writer(8);
      w.sleb(m.types.length + newTypes.length);
      blockType[t] = w.result();
      newTypes.push({ params: [], results: r });
    }
  }
  const chargeType = m.types.length + newTypes.length;
  newTypes.push({ params: [T_F64], results: [T_F64] });
  if (m.types.length + newTypes.length > V8_MAX_TYPES) {
    limit(
      `the module has ${m.types.length} types; metering adds ${newTypes.length} and V8 allows ${V8_MAX_TYPES}`,
    );
  }
  return { callTargets, wrapped, isWrapped, meteredType, blockType, newTypes, chargeFunc: moved, chargeType };
}

export function rewriteModule(bytes: Uint8Array, m: ModuleInfo, policy: SandboxPolicy, allowed: number): RewriteResult {
  const fuelIndex = m.globals.length;
  const w = new Writer(bytes.length + (bytes.length >> 1) + 256);
  w.bytes(bytes, 0, 8);

  const present = new Set(m.sections.map((s) => s.id));
  /** Sections the rewrite needs that the module lacks, created at their place in the order. */
  const missing = [SEC_TYPE, SEC_FUNCTION, SEC_GLOBAL, SEC_EXPORT, SEC_CODE].filter((id) => !present.has(id));
  let checks = 0;
  const cap = policy.maxMemoryPages;
  const memMin = m.memory?.min ?? 0;
  const memMax = Math.min(m.memory?.max ?? cap, cap);
  const nImp = m.numImportedFuncs;
  const nDef = m.bodyStarts.length;
  const lay = layout(m);

  const fuelGlobal = (): void => {
    w.u8(0x7e); // i64
    w.u8(0x01); // mutable
    w.u8(0x42); // i64.const
    w.sleb(policy.fuelPerCall);
    w.u8(0x0b);
  };
  const fuelExports = (): void => {
    w.u32(FUEL_NAME.length);
    w.bytes(FUEL_NAME, 0, FUEL_NAME.length);
    w.u8(0x03);
    w.u32(fuelIndex);
    w.u32(CHARGE_NAME.length);
    w.bytes(CHARGE_NAME, 0, CHARGE_NAME.length);
    w.u8(0x00);
    w.u32(lay.chargeFunc);
  };
  const newSection = (id: number, body: () => void): void => {
    w.u8(id);
    const at = w.reserveSize();
    body();
    w.patchSize(at);
  };
  const r = new Reader(bytes);
  const decoder = new BodyDecoder(r, m, allowed, lay.callTargets);
  const ch = newCharges();

  const emit = (id: number, s: SectionInfo | undefined): void => {
    switch (id) {
      case SEC_TYPE:
        newSection(SEC_TYPE, () => {
          w.u32(m.types.length + lay.newTypes.length);
          if (s !== undefined) w.bytes(bytes, m.typeEntriesStart, s.end);
          for (const t of lay.newTypes) {
            w.u8(0x60);
            w.u32(t.params.length);
            for (const v of t.params) w.u8(v);
            w.u32(t.results.length);
            for (const v of t.results) w.u8(v);
          }
        });
        break;
      case SEC_FUNCTION:
        newSection(SEC_FUNCTION, () => {
          w.u32(nDef + lay.wrapped.length + 1);
          for (let f = nImp; f < nImp + nDef; f++) {
            const t = m.funcTypes[f]!;
            w.u32(lay.isWrapped[f] === 1 ? t : lay.meteredType[t]!);
          }
          for (const f of lay.wrapped) w.u32(lay.meteredType[m.funcTypes[f]!]!);
          w.u32(lay.chargeType);
        });
        break;
      case SEC_GLOBAL:
        newSection(SEC_GLOBAL, () => {
          w.u32(m.globals.length + 1);
          if (s !== undefined) w.bytes(bytes, m.globalEntriesStart, s.end);
          fuelGlobal();
        });
        break;
      case SEC_EXPORT:
        newSection(SEC_EXPORT, () => {
          w.u32(m.exports.length + 2);
          if (s !== undefined) w.bytes(bytes, m.exportEntriesStart, s.end);
          fuelExports();
        });
        break;
      case SEC_CODE:
        newSection(SEC_CODE, () => {
          w.u32(nDef + lay.wrapped.length + 1);
          // The metered bodies of wrapped functions go after all others, at their new indices.
          const moved = new Writer(lay.wrapped.length === 0 ? 0 : bytes.length >> 2);
          for (let i = 0; i < nDef; i++) {
            const f = nImp + i;
            const start = m.bodyStarts[i]!;
            const end = m.bodyEnds[i]!;
            const exprStart = decoder.decode(f, start, end, ch);
            const t = m.funcTypes[f]!;
            if (lay.isWrapped[f] === 1) {
              writeWrapper(w, m.types[t]!.params.length, lay.callTargets[f]!, fuelIndex);
              writeBody(moved, bytes, start, end, exprStart, ch, lay.blockType[t]!, fuelIndex);
            } else {
              writeBody(w, bytes, start, end, exprStart, ch, lay.blockType[t]!, fuelIndex);
            }
            checks += ch.count + ch.dynCount;
          }
          w.bytes(moved.buf, 0, moved.len);
          writeChargeFunction(w, fuelIndex);
        });
        break;
    }
  };
  const pending = (rank: number): void => {
    while (missing.length > 0 && SECTION_RANK[missing[0]!]! < rank) emit(missing.shift()!, undefined);
  };

  for (const s of m.sections) {
    if (s.id !== SEC_CUSTOM) pending(SECTION_RANK[s.id]!);
    switch (s.id) {
      case SEC_TYPE:
      case SEC_FUNCTION:
      case SEC_GLOBAL:
      case SEC_EXPORT:
      case SEC_CODE:
        emit(s.id, s);
        break;
      case SEC_TABLE:
        newSection(SEC_TABLE, () => {
          w.u32(m.tables.length);
          for (const t of m.tables) {
            w.u8(t.elemType);
            w.u8(0x01);
            w.u32(t.limits.min);
            w.u32(Math.min(t.limits.max ?? policy.maxTableElements, policy.maxTableElements));
          }
        });
        break;
      case SEC_MEMORY:
        newSection(SEC_MEMORY, () => {
          w.u32(1);
          w.u8(0x01);
          w.u32(memMin);
          w.u32(memMax);
        });
        break;
      default:
        w.bytes(bytes, s.start, s.end);
    }
  }
  pending(Number.MAX_SAFE_INTEGER);
  return { bytes: w.result(), memory: { minPages: memMin, maxPages: memMax }, checks };
}

/** The entry from outside: (params) -> (results), calling the metered body with the fuel global. */
function writeWrapper(w: Writer, numParams: number, target: number, fuel: number): void {
  const at = w.reserveSize();
  w.u8(0x00); // no locals
  for (let i = 0; i < numParams; i++) {
    w.u8(0x20); // local.get i
    w.u32(i);
  }
  w.u8(0x23); // global.get F
  w.u32(fuel);
  w.u8(0x10); // call the metered body
  w.u32(target);
  w.u8(0x24); // global.set F: the counter it returned
  w.u32(fuel);
  w.u8(0x0b);
  w.patchSize(at);
}

/**
 * The host's access to the counter (FUEL_CHARGE_EXPORT): (param f64 units) (result f64 left),
 *   global.get F; local.get 0; i64.trunc_sat_f64_s; i64.sub; local.tee 1; global.set F;
 *   local.get 1; f64.convert_i64_s
 * Exact while the counter and the units stay within ±2^53 (budgets are safe integers).
 */
function writeChargeFunction(w: Writer, fuel: number): void {
  const at = w.reserveSize();
  w.u8(0x01); // one local group: ...
  w.u8(0x01); // ... one ...
  w.u8(0x7e); // ... i64
  w.u8(0x23);
  w.u32(fuel);
  w.u8(0x20);
  w.u8(0x00);
  w.u8(0xfc); // i64.trunc_sat_f64_s
  w.u8(0x06);
  w.u8(0x7d); // i64.sub
  w.u8(0x22);
  w.u8(0x01);
  w.u8(0x24);
  w.u32(fuel);
  w.u8(0x20);
  w.u8(0x01);
  w.u8(0xb9); // f64.convert_i64_s
  w.u8(0x0b);
  w.patchSize(at);
}

/**
 * One metered body: the original with the edits of `ch` applied, its expression wrapped in
 * `block <blockType> ... end local.get L` (L: the counter parameter, after the original ones).
 */
function writeBody(
  w: Writer,
  bytes: Uint8Array,
  start: number,
  end: number,
  exprStart: number,
  ch: Charges,
  blockType: Uint8Array,
  fuel: number,
): void {
  const at = w.reserveSize();
  w.ensure(end - start + 8 + ch.editCount * MAX_EDIT_BYTES);
  const out = w.buf;
  const L = ch.numParams;
  const S = ch.numLocals + 1; // the scratch local of bulk operators, after L and the original locals
  let p = w.len;
  if (ch.dynCount === 0) {
    p = copyRange(out, p, bytes, start, exprStart);
  } else {
    p = putU32(out, p, ch.numDecls + 1);
    p = copyRange(out, p, bytes, ch.declsStart, exprStart);
    out[p++] = 0x01; // one more local ...
    out[p++] = 0x7f; // ... of type i32
  }
  out[p++] = 0x02; // block <the function's results>
  for (let j = 0; j < blockType.length; j++) out[p++] = blockType[j]!;

  const kinds = ch.editKind;
  const ats = ch.editAt;
  const ends = ch.editEnd;
  const args = ch.editArg;
  let from = exprStart;
  for (let i = 0; i < ch.editCount; i++) {
    p = copyRange(out, p, bytes, from, ats[i]!);
    from = ends[i]!;
    switch (kinds[i]) {
      case E_CHECK: {
        // local.get L; i64.const C; i64.sub; local.tee L; then the test (below).
        const k = args[i]!;
        p = putU32(out, putOp(out, p, 0x20), L);
        p = putS64NonNegative(out, putOp(out, p, 0x42), ch.costs[k]!);
        out[p++] = 0x7d;
        p = putU32(out, putOp(out, p, 0x22), L);
        // Charge 0 is the function entry, the others are loop headers. In a loop the global's address
        // stays in a register, so storing the counter on every iteration is cheap and leaves a bare
        // `if unreachable` test, which V8 compiles to a conditional trap: sum loop 1.05× instead of
        // 1.09×. At a function entry the same store costs as much as the old global counter (fib:
        // 1.7×), so there the store happens only on the trap path.
        p = k === 0 ? writeExhausted(out, p, L, fuel) : writeStoreAndTest(out, p, L, fuel);
        break;
      }
      case E_DYN: {
        // The length operand is on top of the stack: keep it in S, charge it, put it back.
        const shift = args[i]!;
        p = putU32(out, putOp(out, p, 0x21), S);
        p = putU32(out, putOp(out, p, 0x20), L);
        p = putU32(out, putOp(out, p, 0x20), S);
        out[p++] = 0xad; // i64.extend_i32_u
        if (shift > 0) {
          out[p++] = 0x42; // i64.const (shift < 64: one byte)
          out[p++] = shift;
          out[p++] = 0x88; // i64.shr_u
        }
        out[p++] = 0x7d; // i64.sub
        p = putU32(out, putOp(out, p, 0x22), L);
        p = writeExhausted(out, p, L, fuel);
        p = putU32(out, putOp(out, p, 0x20), S);
        break;
      }
      case E_LOCAL:
        p = putU32(out, p, args[i]!);
        break;
      case E_CALL:
        p = putU32(out, putOp(out, p, 0x20), L);
        p = putU32(out, putOp(out, p, 0x10), args[i]!);
        p = putU32(out, putOp(out, p, 0x21), L);
        break;
      case E_FLUSH:
        p = putU32(out, putOp(out, p, 0x20), L);
        p = putU32(out, putOp(out, p, 0x24), fuel);
        break;
      case E_RELOAD:
        p = putU32(out, putOp(out, p, 0x23), fuel);
        p = putU32(out, putOp(out, p, 0x21), L);
        break;
      case E_RETURN:
        p = putU32(out, putOp(out, p, 0x20), L);
        break;
      case E_FINAL:
        out[p++] = 0x0b; // the end of the wrapping block
        p = putU32(out, putOp(out, p, 0x20), L);
        break;
    }
  }
  p = copyRange(out, p, bytes, from, end);
  w.len = p;
  w.patchSize(at);
}

/** The test on the counter just computed: i64.const 0; i64.lt_s; if: store it to the global, trap. */
function writeExhausted(out: Uint8Array, p: number, L: number, fuel: number): number {
  out[p++] = 0x42; // i64.const 0
  out[p++] = 0x00;
  out[p++] = 0x53; // i64.lt_s
  out[p++] = 0x04; // if (empty)
  out[p++] = 0x40;
  p = putU32(out, putOp(out, p, 0x20), L);
  p = putU32(out, putOp(out, p, 0x24), fuel);
  out[p++] = 0x00; // unreachable
  out[p++] = 0x0b;
  return p;
}

/** global.set F (the counter just computed); local.get L; i64.const 0; i64.lt_s; if unreachable end. */
function writeStoreAndTest(out: Uint8Array, p: number, L: number, fuel: number): number {
  p = putU32(out, putOp(out, p, 0x24), fuel);
  p = putU32(out, putOp(out, p, 0x20), L);
  out[p++] = 0x42; // i64.const 0
  out[p++] = 0x00;
  out[p++] = 0x53; // i64.lt_s
  out[p++] = 0x04; // if (empty)
  out[p++] = 0x40;
  out[p++] = 0x00; // unreachable
  out[p++] = 0x0b;
  return p;
}

/** Copies src[from, to) to out at p; returns the new end. */
function copyRange(out: Uint8Array, p: number, src: Uint8Array, from: number, to: number): number {
  if (to - from < 256) {
    for (let i = from; i < to; i++) out[p++] = src[i]!;
    return p;
  }
  out.set(src.subarray(from, to), p);
  return p + (to - from);
}

function putOp(out: Uint8Array, p: number, op: number): number {
  out[p] = op;
  return p + 1;
}

function putU32(out: Uint8Array, p: number, v: number): number {
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out[p++] = b;
  } while (v !== 0);
  return p;
}

/** Signed LEB128 of a non-negative safe integer (an i64.const immediate). */
function putS64NonNegative(out: Uint8Array, p: number, v: number): number {
  for (;;) {
    const b = v % 128;
    v = Math.floor(v / 128);
    if (v === 0 && (b & 0x40) === 0) {
      out[p++] = b;
      return p;
    }
    out[p++] = b | 0x80;
  }
}
