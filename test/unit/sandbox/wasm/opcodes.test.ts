/**
 * Cross-checks the operator table against wabt, an independent encoder: every operator is
 * assembled from our name inside `unreachable <op> drop` (stack-polymorphic, so any operator type
 * checks) and our decoder must find exactly the opcode we list and exactly four operators, which
 * proves the immediate layout too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_FEATURES, makePolicy } from '../../../../src/sandbox/policy.js';
import { BodyDecoder, newCharges } from '../../../../src/sandbox/wasm/code.js';
import { allowedMask } from '../../../../src/sandbox/wasm/features.js';
import {
  FD_COUNT,
  FD_LANE,
  FD_MEMARG_LANE,
  FD_RELAXED,
  FD_SHUFFLE,
  FD_V128_CONST,
  IMM1,
  IMM_F32,
  IMM_F64,
  IMM_I32,
  IMM_I64,
  IMM_MEMARG,
  IMM_MEMIDX,
  IMM_NONE,
  IMMFD,
  NAME1,
  NAMEFC,
  NAMEFD,
} from '../../../../src/sandbox/wasm/opcodes.js';
import { Reader } from '../../../../src/sandbox/wasm/reader.js';
import { parseModule } from '../../../../src/sandbox/wasm/sections.js';
import { expectError, wat } from './helpers.js';

const policy = makePolicy({ features: [...DEFAULT_FEATURES, 'simd'] });
const allowed = allowedMask(policy.features);

const PRELUDE = `(memory 1) (table 1 funcref) (data "x") (elem func 0) (global (mut i32) (i32.const 0))`;

/** Assembles `unreachable <op> drop`, then decodes it with our decoder. */
async function roundTrip(op: string): Promise<{ opBytes: number[]; ops: number }> {
  const bytes = await wat(`(module ${PRELUDE} (func (param i32) unreachable ${op} drop))`, { simd: true, relaxed_simd: true });
  const m = parseModule(bytes, policy, allowed);
  const start = m.bodyStarts[0]!;
  const end = m.bodyEnds[0]!;
  const ch = newCharges();
  const exprStart = new BodyDecoder(new Reader(bytes), m, allowed).decode(0, start, end, ch);
  assert.equal(bytes[exprStart], 0x00);
  // The opcode: one byte, or a prefix and a LEB128.
  const first = bytes[exprStart + 1]!;
  const opBytes = [first];
  if (first >= 0xfb) {
    let sub = 0;
    let shift = 0;
    let p = exprStart + 2;
    for (;;) {
      const b = bytes[p++]!;
      sub |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    opBytes.push(sub);
  }
  assert.equal(ch.count, 1, `${op}: no loop, so one charge point`);
  assert.ok(WebAssembly.validate(bytes), `${op}: V8 accepts wabt's encoding`);
  return { opBytes, ops: ch.costs[0]! };
}

function immText(kind: number): string {
  switch (kind) {
    case IMM_I32:
    case IMM_I64:
      return ' -5';
    case IMM_F32:
    case IMM_F64:
      return ' 1.5';
    default:
      return '';
  }
}

describe('opcode table', () => {
  it('matches wabt for every single-byte operator with plain immediates', async () => {
    let n = 0;
    for (let op = 0; op < 256; op++) {
      const kind = IMM1[op]!;
      const plain = kind === IMM_NONE || kind === IMM_MEMARG || kind === IMM_MEMIDX || kind === IMM_I32 || kind === IMM_I64 || kind === IMM_F32 || kind === IMM_F64;
      if (!plain || [0x00, 0x01, 0x0f, 0x1a, 0x1b].includes(op)) continue;
      const r = await roundTrip(NAME1[op]! + immText(kind));
      assert.deepEqual(r.opBytes, [op], NAME1[op]);
      assert.equal(r.ops, 4, `${NAME1[op]}: immediates decoded to the byte`);
      n++;
    }
    assert.equal(n, 158, `${n} operators checked`);
    for (const op of ['local.get 0', 'global.get 0', 'global.set 0', 'table.get 0', 'table.set 0', 'ref.null func', 'ref.func 0', 'call 0', 'br 0', 'br_table 0 0 0', 'select (result i32)']) {
      assert.equal((await roundTrip(op)).ops, 4, op);
    }
  });

  it('matches wabt for every 0xfc operator', async () => {
    const imm: Record<string, string> = {
      'memory.init': ' 0',
      'data.drop': ' 0',
      'table.init': ' 0 0',
      'elem.drop': ' 0',
      'table.copy': ' 0 0',
      'table.grow': ' 0',
      'table.size': ' 0',
      'table.fill': ' 0',
    };
    for (let sub = 0; sub < NAMEFC.length; sub++) {
      const name = NAMEFC[sub]!;
      const r = await roundTrip(name + (imm[name] ?? ''));
      assert.deepEqual(r.opBytes, [0xfc, sub], name);
      assert.equal(r.ops, 4, name);
    }
  });

  it('matches wabt for every SIMD operator and recognises relaxed SIMD', async () => {
    let n = 0;
    for (let sub = 0; sub < FD_COUNT; sub++) {
      const name = NAMEFD[sub]!;
      if (name === '') continue;
      const kind = IMMFD[sub]!;
      const text =
        name +
        (kind === FD_V128_CONST
          ? ' i32x4 1 2 3 4'
          : kind === FD_SHUFFLE
            ? ' 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15'
            : kind === FD_LANE || kind === FD_MEMARG_LANE
              ? ' 1'
              : '');
      if (kind === FD_RELAXED) {
        const bytes = await wat(`(module ${PRELUDE} (func (param i32) unreachable ${text} drop))`, { simd: true, relaxed_simd: true });
        const m = parseModule(bytes, policy, allowed);
        const d = new BodyDecoder(new Reader(bytes), m, allowed);
        expectError(() => d.decode(0, m.bodyStarts[0]!, m.bodyEnds[0]!, newCharges()), 'CAXTON_ERR_MODULE_FEATURE', `(${name})`, `0x${sub.toString(16)}`, 'relaxed-simd');
      } else {
        const r = await roundTrip(text);
        assert.deepEqual(r.opBytes, [0xfd, sub], name);
        assert.equal(r.ops, 4, name);
      }
      n++;
    }
    assert.equal(n, 236 + 20, 'all SIMD and relaxed SIMD operators are named');
  });

  it('has unique names', () => {
    const names = [...NAME1, ...NAMEFC, ...NAMEFD].filter((x) => x !== '' && !x.endsWith('prefix'));
    assert.equal(new Set(names).size, names.length);
  });
});
