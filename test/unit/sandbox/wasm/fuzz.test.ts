import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FUEL_EXPORT } from '../../../../src/sandbox/abi.js';
import { CaxtonError } from '../../../../src/errors.js';
import { DEFAULT_FEATURES, makePolicy } from '../../../../src/sandbox/policy.js';
import { admitModule } from '../../../../src/sandbox/wasm/index.js';
import { agentWat, prng, section, sectionBoundaries, str, wat } from './helpers.js';

const policy = makePolicy({ features: [...DEFAULT_FEATURES, 'simd'] });

async function seeds(): Promise<Uint8Array[]> {
  const a = await wat(
    agentWat(
      `(global $g (mut i32) (i32.const 0))
      (table 2 funcref) (elem (i32.const 0) $loop $loop)
      (data (i32.const 8) "seed data")
      (func $loop (param $n i32) (result i32) (local $i i32)
        (block $b (loop $l
          (br_if $b (i32.ge_s (local.get $i) (local.get $n)))
          (global.set $g (i32.add (global.get $g) (i32.load8_u (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
        (global.get $g))
      (func (export "agent_init") (param i32 i32) (result i32)
        (call_indirect (param i32) (result i32) (i32.const 3) (i32.const 1)))`,
      undefined,
      '(import "caxton" "log" (func $log (param i32 i32 i32)))',
    ),
  );
  const b = await wat(
    agentWat(`
      (data $p "passive")
      (func $f (param i64 f64) (result i32 i64)
        (i32.wrap_i64 (local.get 0)) (i64.trunc_sat_f64_s (local.get 1)))
      (func (export "x") (result i32)
        (memory.init $p (i32.const 0) (i32.const 0) (i32.const 3))
        (drop (call $f (i64.const -5) (f64.const 2.5)))
        (drop (v128.const i32x4 1 2 3 4))
        (br_table 0 0 (i32.const 1))
        (unreachable))
      (func $s (nop)) (start $s)`),
    { simd: true },
  );
  const c = new Uint8Array([...(await wat(agentWat('(func (export "q") (result i64) (i64.const 0x7fffffffffff))'))), ...section(0, [...str('name'), 1, 2, 3])]);
  return [a, b, c];
}

function check(bytes: Uint8Array): 'ok' | 'rejected' {
  let out: Uint8Array;
  try {
    out = admitModule(bytes, policy).bytes;
  } catch (e) {
    assert.ok(e instanceof CaxtonError, `not a CaxtonError: ${String(e)}`);
    assert.ok(!e.message.startsWith('internal error'), e.message);
    assert.notEqual(e.message, 'rewriter produced an invalid module');
    assert.ok(e.message.length > 10);
    return 'rejected';
  }
  assert.ok(WebAssembly.validate(out), 'the output validates');
  assert.ok(WebAssembly.validate(bytes), 'what V8 rejects is never admitted');
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(out));
  assert.ok(exports.some((e) => e.name === FUEL_EXPORT && e.kind === 'global'), 'the fuel export is present');
  return 'ok';
}

describe('admission of damaged modules', () => {
  it('reports every truncation as MALFORMED (all prefixes of valid modules)', async () => {
    for (const full of await seeds()) {
      admitModule(full, policy);
      const boundaries = sectionBoundaries(full);
      let truncated = 0;
      for (let len = 0; len < full.length; len++) {
        const prefix = full.subarray(0, len);
        if (boundaries.has(len)) {
          // A prefix that ends exactly between sections is a well-formed module that merely lacks
          // the later sections: it is admitted or refused for what it lacks, never with a crash.
          check(prefix);
          continue;
        }
        let err: unknown;
        try {
          admitModule(prefix, policy);
        } catch (e) {
          err = e;
        }
        assert.ok(err instanceof CaxtonError, `prefix ${len}: expected a CaxtonError, got ${String(err)}`);
        assert.notEqual(err.message, 'rewriter produced an invalid module');
        assert.equal(err.code, 'CAXTON_ERR_MODULE_MALFORMED', `prefix ${len}: ${err.message}`);
        assert.match(err.message, /truncated|unexpected end/, `prefix ${len}: ${err.message}`);
        truncated++;
      }
      assert.ok(truncated > full.length - 20);
    }
  });

  it('survives random mutations: a CaxtonError or a valid metered module (bounded fuzz)', async () => {
    const rand = prng(0xc4a7);
    const base = await seeds();
    const deadline = Date.now() + 4000;
    const outcome = { ok: 0, rejected: 0 };
    let n = 0;
    for (; n < 2000 && Date.now() < deadline; n++) {
      const src = base[n % base.length]!;
      const bytes = Array.from(src);
      const edits = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < edits; k++) {
        const pos = 8 + Math.floor(rand() * (bytes.length - 8));
        const r = rand();
        if (r < 0.6) bytes[pos] = Math.floor(rand() * 256);
        else if (r < 0.75) bytes[pos] = bytes[pos]! ^ (1 << Math.floor(rand() * 8));
        else if (r < 0.85) bytes.splice(pos, 1);
        else if (r < 0.95) bytes.splice(pos, 0, Math.floor(rand() * 256));
        else bytes.length = pos;
      }
      outcome[check(new Uint8Array(bytes))]++;
    }
    assert.ok(n >= 500, `only ${n} mutations ran before the deadline`);
    assert.ok(outcome.ok > 0 && outcome.rejected > 0, JSON.stringify(outcome));
  });
});
