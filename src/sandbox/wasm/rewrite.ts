/**
 * Produces the admitted module: every section is copied byte for byte except
 * - memory and table, whose maximums are capped (limits flag 0x01);
 * - global, which gains the fuel counter (a mutable i64, initialised to the per-call budget so
 *   that a start function is metered too);
 * - export, which gains the fuel export (FUEL_EXPORT);
 * - code, whose bodies get a fuel check at entry and after every loop header (see code.ts).
 * Global and export sections are created in their place in the section order when absent.
 * Section and body sizes are recomputed as minimal LEB128s.
 */
import { FUEL_EXPORT } from '../abi.js';
import type { SandboxPolicy } from '../policy.js';
import { BodyDecoder, newCharges } from './code.js';
import { Reader } from './reader.js';
import {
  SEC_CODE,
  SEC_CUSTOM,
  SEC_EXPORT,
  SEC_GLOBAL,
  SEC_MEMORY,
  SEC_TABLE,
  SECTION_RANK,
} from './sections.js';
import type { ModuleInfo } from './types.js';
import { Writer, s64WidthNonNegative, u32Width } from './writer.js';

export interface RewriteResult {
  bytes: Uint8Array;
  memory: { minPages: number; maxPages: number };
  checks: number;
}

const FUEL_NAME = new TextEncoder().encode(FUEL_EXPORT);

export function rewriteModule(bytes: Uint8Array, m: ModuleInfo, policy: SandboxPolicy, allowed: number): RewriteResult {
  const fuelIndex = m.globals.length;
  const w = new Writer(bytes.length + (bytes.length >> 1) + 256);
  w.bytes(bytes, 0, 8);

  // The check sequence around its cost: global.get F; i64.const C; i64.sub; global.set F;
  // global.get F; i64.const 0; i64.lt_s; if (empty) unreachable end.
  const pre = new Writer(8);
  pre.u8(0x23);
  pre.u32(fuelIndex);
  pre.u8(0x42);
  const head = pre.result();
  const post = new Writer(24);
  post.u8(0x7d);
  post.u8(0x24);
  post.u32(fuelIndex);
  post.u8(0x23);
  post.u32(fuelIndex);
  for (const b of [0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b]) post.u8(b);
  const tail = post.result();
  const fixedCheckBytes = head.length + tail.length;

  let needGlobal = m.globalEntriesStart < 0;
  let needExport = m.exportEntriesStart < 0;
  const globalRank = SECTION_RANK[SEC_GLOBAL]!;
  const exportRank = SECTION_RANK[SEC_EXPORT]!;
  let checks = 0;
  const cap = policy.maxMemoryPages;
  const memMin = m.memory?.min ?? 0;
  const memMax = Math.min(m.memory?.max ?? cap, cap);

  const fuelGlobal = (): void => {
    w.u8(0x7e); // i64
    w.u8(0x01); // mutable
    w.u8(0x42); // i64.const
    w.sleb(policy.fuelPerCall);
    w.u8(0x0b);
  };
  const fuelExport = (): void => {
    w.u32(FUEL_NAME.length);
    w.bytes(FUEL_NAME, 0, FUEL_NAME.length);
    w.u8(0x03);
    w.u32(fuelIndex);
  };
  const newSection = (id: number, body: () => void): void => {
    w.u8(id);
    const at = w.reserveSize();
    body();
    w.patchSize(at);
  };
  const pending = (rank: number): void => {
    if (needGlobal && rank > globalRank) {
      needGlobal = false;
      newSection(SEC_GLOBAL, () => {
        w.u32(1);
        fuelGlobal();
      });
    }
    if (needExport && rank > exportRank) {
      needExport = false;
      newSection(SEC_EXPORT, () => {
        w.u32(1);
        fuelExport();
      });
    }
  };

  const r = new Reader(bytes);
  const decoder = new BodyDecoder(r, m, allowed);
  const ch = newCharges();

  for (const s of m.sections) {
    if (s.id !== SEC_CUSTOM) pending(SECTION_RANK[s.id]!);
    switch (s.id) {
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
      case SEC_GLOBAL:
        newSection(SEC_GLOBAL, () => {
          w.u32(m.globals.length + 1);
          w.bytes(bytes, m.globalEntriesStart, s.end);
          fuelGlobal();
        });
        break;
      case SEC_EXPORT:
        newSection(SEC_EXPORT, () => {
          w.u32(m.exports.length + 1);
          w.bytes(bytes, m.exportEntriesStart, s.end);
          fuelExport();
        });
        break;
      case SEC_CODE:
        newSection(SEC_CODE, () => {
          const n = m.bodyStarts.length;
          w.u32(n);
          for (let i = 0; i < n; i++) {
            const start = m.bodyStarts[i]!;
            const end = m.bodyEnds[i]!;
            const exprStart = decoder.decode(m.numImportedFuncs + i, start, end, ch);
            const count = ch.count;
            const positions = ch.positions;
            const costs = ch.costs;
            const dynCount = ch.dynCount;
            let size = end - start + count * fixedCheckBytes;
            for (let k = 0; k < count; k++) size += s64WidthNonNegative(costs[k]!);
            // Bulk operators need a scratch i32 local (appended after all others) for their length.
            const scratch = ch.numLocals;
            if (dynCount > 0) {
              size += u32Width(ch.numDecls + 1) - u32Width(ch.numDecls) + 2;
              for (let k = 0; k < dynCount; k++) size += dynamicCheckSize(scratch, fuelIndex, ch.dynShift[k]!);
            }
            w.ensure(size + 5);
            w.u32(size);
            // Hot path: write the body straight into the output buffer (capacity ensured above).
            const out = w.buf;
            let p: number;
            if (dynCount === 0) {
              p = copyRange(out, w.len, bytes, start, exprStart);
            } else {
              w.u32(ch.numDecls + 1);
              p = copyRange(out, w.len, bytes, ch.declsStart, exprStart);
              out[p++] = 0x01; // one more local ...
              out[p++] = 0x7f; // ... of type i32
            }
            // Insertion points in offset order: static check k at positions[k], dynamic check d
            // before the bulk operator at dynPositions[d] (a static check at the same offset first).
            let k = 0;
            let d = 0;
            let from = exprStart;
            while (k < count || d < dynCount) {
              const staticNext = k < count && (d >= dynCount || positions[k]! <= ch.dynPositions[d]!);
              const at = staticNext ? positions[k]! : ch.dynPositions[d]!;
              p = copyRange(out, p, bytes, from, at);
              from = at;
              if (staticNext) {
                for (let j = 0; j < head.length; j++) out[p++] = head[j]!;
                let c = costs[k]!;
                for (;;) {
                  const b = c % 128;
                  c = Math.floor(c / 128);
                  if (c === 0 && (b & 0x40) === 0) {
                    out[p++] = b;
                    break;
                  }
                  out[p++] = b | 0x80;
                }
                for (let j = 0; j < tail.length; j++) out[p++] = tail[j]!;
                k++;
              } else {
                p = writeDynamicCheck(out, p, scratch, fuelIndex, ch.dynShift[d]!);
                d++;
              }
            }
            p = copyRange(out, p, bytes, from, end);
            w.len = p;
            checks += count + dynCount;
          }
        });
        break;
      default:
        w.bytes(bytes, s.start, s.end);
    }
  }
  pending(Number.MAX_SAFE_INTEGER);
  return { bytes: w.result(), memory: { minPages: memMin, maxPages: memMax }, checks };
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

/**
 * The length-dependent check before a bulk operator whose length operand is on top of the stack:
 *   local.set S; global.get F; local.get S; i64.extend_i32_u; [i64.const h; i64.shr_u;] i64.sub;
 *   global.set F; global.get F; i64.const 0; i64.lt_s; if unreachable end; local.get S
 * It is stack-neutral: the length goes to the scratch local and comes back for the operator.
 */
function writeDynamicCheck(out: Uint8Array, p: number, scratch: number, fuel: number, shift: number): number {
  p = putU32(out, putOp(out, p, 0x21), scratch);
  p = putU32(out, putOp(out, p, 0x23), fuel);
  p = putU32(out, putOp(out, p, 0x20), scratch);
  out[p++] = 0xad; // i64.extend_i32_u
  if (shift > 0) {
    out[p++] = 0x42; // i64.const (shift < 64: one byte)
    out[p++] = shift;
    out[p++] = 0x88; // i64.shr_u
  }
  out[p++] = 0x7d; // i64.sub
  p = putU32(out, putOp(out, p, 0x24), fuel);
  p = putU32(out, putOp(out, p, 0x23), fuel);
  for (const b of [0x42, 0x00, 0x53, 0x04, 0x40, 0x00, 0x0b]) out[p++] = b;
  return putU32(out, putOp(out, p, 0x20), scratch);
}

function dynamicCheckSize(scratch: number, fuel: number, shift: number): number {
  return 3 * (1 + u32Width(scratch)) + 3 * (1 + u32Width(fuel)) + 1 + (shift > 0 ? 3 : 0) + 1 + 7;
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
