/**
 * Test helpers: a WAT assembler (wabt, tests only), a tiny binary module builder for modules wabt
 * cannot express (invalid indices, unsupported opcodes), and error assertions.
 */
import assert from 'node:assert/strict';
import { CaxtonError, type ErrorCode } from '../../../../src/errors.js';

export { wat, loadWabt, type WatFeatures } from '../../../helpers/wat.js';

/** The three required exports plus memory; `extra` is spliced into the module after `imports`. */
export function agentWat(extra = '', memory = '(memory (export "memory") 1)', imports = ''): string {
  return `(module
  ${imports}
  ${memory}
  (func (export "caxton_abi_version") (result i32) i32.const 1)
  (func (export "caxton_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "handle_message") (param i32 i32) (result i32) i32.const 0)
  ${extra}
)`;
}

/** Runs fn and asserts a CaxtonError with `code` whose message contains every phrase. */
export function expectError(fn: () => unknown, code: ErrorCode, ...phrases: (string | RegExp)[]): CaxtonError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected ${code}, but nothing was thrown`);
  assert.ok(caught instanceof CaxtonError, `expected a CaxtonError, got ${String(caught)}`);
  assert.equal(caught.code, code, `wrong code; message: ${caught.message}`);
  for (const p of phrases) {
    if (typeof p === 'string') assert.ok(caught.message.includes(p), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(p)}`);
    else assert.match(caught.message, p);
  }
  return caught;
}

// ---- binary builder ----

export function leb(n: number): number[] {
  const out: number[] = [];
  let x = n >>> 0;
  do {
    let b = x & 0x7f;
    x >>>= 7;
    if (x !== 0) b |= 0x80;
    out.push(b);
  } while (x !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  let x = BigInt(n);
  for (;;) {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export function str(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...leb(b.length), ...b];
}

export function vec(items: readonly (readonly number[])[]): number[] {
  return [...leb(items.length), ...items.flat()];
}

export function section(id: number, content: readonly number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

export const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

export function wasm(...sections: (readonly number[])[]): Uint8Array {
  return new Uint8Array([...HEADER, ...sections.flat()]);
}

export const I32 = 0x7f;
export const I64 = 0x7e;

export function functype(params: number[], results: number[]): number[] {
  return [0x60, ...leb(params.length), ...params, ...leb(results.length), ...results];
}

export interface AgentParts {
  /** Extra types, appended after the base types 0: ()->i32, 1: (i32)->i32, 2: (i32 i32)->i32, 3: ()->(). */
  types?: number[][];
  /** Raw import entries (function imports shift every function index). */
  imports?: number[][];
  /** Extra functions after the three required ones. body = operators including the final end. */
  funcs?: { type?: number; locals?: number[][]; body: number[] }[];
  /** Raw table entries. */
  tables?: number[][];
  /** Raw memory entries; default one memory with min 1 and no max. */
  memories?: number[][];
  globals?: number[][];
  /** Raw export entries added to memory + the three required ones. */
  exports?: number[][];
  /** Replaces the default exports entirely. */
  replaceExports?: number[][];
  start?: number;
  elems?: number[][];
  dataCount?: number;
  datas?: number[][];
  /** Raw sections inserted right after the header (e.g. custom sections). */
  leading?: number[][];
  /** Raw sections appended at the end. */
  trailing?: number[][];
}

/** A minimal valid agent module, built by hand, with the given additions. */
export function agentBin(p: AgentParts = {}): Uint8Array {
  const nImports = (p.imports ?? []).length;
  const base = nImports; // imports are assumed to be functions
  const types = [functype([], [I32]), functype([I32], [I32]), functype([I32, I32], [I32]), functype([], []), ...(p.types ?? [])];
  const funcs = [
    { type: 0, locals: [] as number[][], body: [0x41, 0x01, 0x0b] },
    { type: 1, locals: [] as number[][], body: [0x41, 0x80, 0x08, 0x0b] },
    { type: 2, locals: [] as number[][], body: [0x41, 0x00, 0x0b] },
    ...(p.funcs ?? []).map((f) => ({ type: f.type ?? 3, locals: f.locals ?? [], body: f.body })),
  ];
  const exports = p.replaceExports ?? [
    [...str('memory'), 0x02, 0x00],
    [...str('caxton_abi_version'), 0x00, ...leb(base)],
    [...str('caxton_alloc'), 0x00, ...leb(base + 1)],
    [...str('handle_message'), 0x00, ...leb(base + 2)],
    ...(p.exports ?? []),
  ];
  const sections: number[][] = [...(p.leading ?? [])];
  sections.push(section(1, vec(types)));
  if (p.imports) sections.push(section(2, vec(p.imports)));
  sections.push(section(3, vec(funcs.map((f) => leb(f.type)))));
  if (p.tables) sections.push(section(4, vec(p.tables)));
  const memories = p.memories ?? [[0x00, 0x01]];
  if (memories.length > 0) sections.push(section(5, vec(memories)));
  if (p.globals) sections.push(section(6, vec(p.globals)));
  sections.push(section(7, vec(exports)));
  if (p.start !== undefined) sections.push(section(8, leb(p.start)));
  if (p.elems) sections.push(section(9, vec(p.elems)));
  if (p.dataCount !== undefined) sections.push(section(12, leb(p.dataCount)));
  sections.push(
    section(
      10,
      vec(
        funcs.map((f) => {
          const body = [...vec(f.locals), ...f.body];
          return [...leb(body.length), ...body];
        }),
      ),
    ),
  );
  if (p.datas) sections.push(section(11, vec(p.datas)));
  sections.push(...(p.trailing ?? []));
  return wasm(...sections);
}

/** Offsets at which each top-level section starts, plus the module length. */
export function sectionBoundaries(bytes: Uint8Array): Set<number> {
  const out = new Set<number>([8, bytes.length]);
  let p = 8;
  while (p < bytes.length) {
    p++; // id
    let size = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++]!;
      size += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    p += size;
    out.add(p);
  }
  return out;
}

export { prng } from '../../../helpers/prng.js';

/** Plain JS stubs for every host import. */
export function hostStubs(log: unknown[] = []): WebAssembly.Imports {
  const rec =
    (name: string, ret: number | bigint | undefined) =>
    (...args: unknown[]) => {
      log.push([name, ...args]);
      return ret;
    };
  return {
    caxton: {
      send: rec('send', 0),
      log: rec('log', undefined),
      time_now_us: rec('time_now_us', 0n),
      time_monotonic_us: rec('time_monotonic_us', 0n),
      random_fill: rec('random_fill', 0),
      timer_set: rec('timer_set', 1),
      timer_cancel: rec('timer_cancel', 0),
      kv_get: rec('kv_get', -1),
      kv_set: rec('kv_set', 0),
      kv_delete: rec('kv_delete', 0),
    },
  };
}
