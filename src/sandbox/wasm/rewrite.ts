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
import { Writer, s64WidthNonNegative } from './writer.js';

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
            let size = end - start + count * fixedCheckBytes;
            for (let k = 0; k < count; k++) size += s64WidthNonNegative(costs[k]!);
            w.ensure(size + 5);
            w.u32(size);
            // Hot path: write the body straight into the output buffer (capacity ensured above).
            const out = w.buf;
            let p = copyRange(out, w.len, bytes, start, exprStart);
            for (let k = 0; k < count; k++) {
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
              p = copyRange(out, p, bytes, positions[k]!, k + 1 < count ? positions[k + 1]! : end);
            }
            w.len = p;
            checks += count;
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
