import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { FUEL_EXPORT } from '../../../../src/sandbox/abi.js';
import { DEFAULT_FEATURES, DEFAULT_POLICY, makePolicy, type WasmFeature } from '../../../../src/sandbox/policy.js';
import { allowedMask } from '../../../../src/sandbox/wasm/features.js';
import { admitModule } from '../../../../src/sandbox/wasm/index.js';
import { rewriteModule } from '../../../../src/sandbox/wasm/rewrite.js';
import { parseModule } from '../../../../src/sandbox/wasm/sections.js';
import {
  agentBin,
  agentWat,
  expectError,
  functype,
  HEADER,
  I32,
  I64,
  leb,
  section,
  str,
  vec,
  wasm,
  wat,
} from './helpers.js';

const policy = DEFAULT_POLICY;
const admit = (bytes: Uint8Array, p = policy) => () => admitModule(bytes, p);
/** Our decoder alone, without V8's validation in front: the defence-in-depth path. */
const decodeOnly = (bytes: Uint8Array, p = policy) => () => {
  const allowed = allowedMask(p.features);
  rewriteModule(bytes, parseModule(bytes, p, allowed), p, allowed);
};
const without = (f: WasmFeature) => makePolicy({ features: DEFAULT_FEATURES.filter((x) => x !== f) });

describe('admitModule: accepted modules', () => {
  it('returns the rewritten module and what it learned', async () => {
    const src = await wat(
      agentWat(
        `(global (export "counter") i32 (i32.const 5))
        (func (export "agent_init") (param i32 i32) (result i32) i32.const 0)`,
        undefined,
        '(import "caxton" "kv_get" (func (param i32 i32 i32 i32) (result i32)))',
      ),
    );
    const a = admitModule(src, policy);
    assert.equal(a.sha256, createHash('sha256').update(src).digest('hex'));
    assert.deepEqual(a.imports, [{ module: 'caxton', name: 'kv_get' }]);
    assert.deepEqual(a.exports, [
      { name: 'memory', kind: 'memory' },
      { name: 'caxton_abi_version', kind: 'func' },
      { name: 'caxton_alloc', kind: 'func' },
      { name: 'handle_message', kind: 'func' },
      { name: 'counter', kind: 'global' },
      { name: 'agent_init', kind: 'func' },
    ]);
    assert.deepEqual(a.memory, { minPages: 1, maxPages: 1024 });
    assert.equal(a.hasStart, false);
    assert.equal(a.hasInit, true);
    assert.equal(a.hasShutdown, false);
    assert.deepEqual(a.stats, { functions: 4, checks: 4 });
    assert.ok(WebAssembly.validate(a.bytes));
    const mod = new WebAssembly.Module(a.bytes);
    assert.ok(WebAssembly.Module.exports(mod).some((e) => e.name === FUEL_EXPORT && e.kind === 'global'));
    const inst = new WebAssembly.Instance(mod, { caxton: { kv_get: () => 0 } });
    const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
    assert.equal(fuel.value, BigInt(policy.fuelPerCall));
    fuel.value = 5n; // mutable
    assert.equal((inst.exports.counter as WebAssembly.Global).value, 5);
  });

  it('creates the global section when absent and keeps custom sections byte for byte', () => {
    const custom = section(0, [...str('producers'), 1, 2, 3, 0xff]);
    const late = section(0, [...str('name'), 0, 0]);
    const src = agentBin({ leading: [custom], trailing: [late] });
    const a = admitModule(src, policy);
    const out = Buffer.from(a.bytes);
    assert.ok(out.indexOf(Buffer.from(custom)) === 8, 'the leading custom section stays first');
    assert.ok(out.subarray(out.length - late.length).equals(Buffer.from(late)), 'the trailing one stays last');
    const mod = new WebAssembly.Module(a.bytes);
    assert.deepEqual(
      WebAssembly.Module.customSections(mod, 'producers').map((b) => [...new Uint8Array(b)]),
      [[1, 2, 3, 0xff]],
    );
    assert.ok(WebAssembly.Module.exports(mod).some((e) => e.name === FUEL_EXPORT));
  });

  it('caps tables like memories', async () => {
    const src = await wat(agentWat('(table (export "t") 10 funcref)'));
    const a = admitModule(src, makePolicy({ maxTableElements: 100 }));
    const inst = new WebAssembly.Instance(new WebAssembly.Module(a.bytes), {});
    const t = inst.exports.t as WebAssembly.Table;
    t.grow(90);
    assert.throws(() => t.grow(1), RangeError);
    const small = admitModule(await wat(agentWat('(table (export "t") 1 5 funcref)')), makePolicy({ maxTableElements: 100 }));
    const t2 = new WebAssembly.Instance(new WebAssembly.Module(small.bytes), {}).exports.t as WebAssembly.Table;
    t2.grow(4);
    assert.throws(() => t2.grow(1), RangeError);
  });

  it('accepts every default feature and SIMD when the policy allows it', async () => {
    const src = await wat(
      agentWat(`
      (data $d "abc") (elem $e func $f)
      (table $t 1 funcref)
      (global $m (export "m") (mut i32) (i32.const 0))
      (func $f (param i32) (result i32 i32) (local.get 0) (i32.extend8_s (local.get 0)))
      (func (export "x") (param f32) (result i32)
        (memory.copy (i32.const 0) (i32.const 1) (i32.const 1))
        (memory.init $d (i32.const 0) (i32.const 0) (i32.const 1))
        (data.drop $d)
        (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 1))
        (drop (table.grow $t (ref.null func) (i32.const 1)))
        (drop (ref.is_null (ref.func $f)))
        (drop (select (result i32) (i32.const 1) (i32.const 2) (i32.const 0)))
        (block (result i32 i32) (call $f (i32.const 3)))
        drop drop
        (i32.trunc_sat_f32_s (local.get 0)))`),
    );
    const a = admitModule(src, policy);
    assert.ok(WebAssembly.validate(a.bytes));
    const simd = await wat(agentWat(`(func (export "s") (result i32) (i32x4.extract_lane 0 (v128.const i32x4 7 0 0 0)))`), { simd: true });
    expectError(admit(simd), 'CAXTON_ERR_MODULE_FEATURE', "operator 0xfd 0x0c (v128.const)", "'simd' feature", 'not enabled on this node');
    const s = admitModule(simd, makePolicy({ features: [...DEFAULT_FEATURES, 'simd'] }));
    const inst = new WebAssembly.Instance(new WebAssembly.Module(s.bytes), {});
    assert.equal((inst.exports.s as () => number)(), 7);
  });
});

describe('admitModule: size and structure', () => {
  it('refuses modules over maxModuleBytes before parsing', () => {
    const garbage = new Uint8Array(2000).fill(0xff);
    expectError(admit(garbage, makePolicy({ maxModuleBytes: 1000 })), 'CAXTON_ERR_MODULE_TOO_LARGE', '2000 bytes', 'limit of 1000');
    const ok = agentBin();
    expectError(admit(ok, makePolicy({ maxModuleBytes: ok.length - 1 })), 'CAXTON_ERR_MODULE_TOO_LARGE');
    admitModule(ok, makePolicy({ maxModuleBytes: ok.length }));
  });

  it('names a bad magic, version or header', () => {
    expectError(admit(new TextEncoder().encode('(module)')), 'CAXTON_ERR_MODULE_MALFORMED', 'bad magic', '28 6d 6f 64');
    expectError(admit(new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])), 'CAXTON_ERR_MODULE_MALFORMED', 'unsupported binary format version 2');
    expectError(admit(new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0])), 'CAXTON_ERR_MODULE_MALFORMED', 'component');
    expectError(admit(new Uint8Array([0, 0x61, 0x73])), 'CAXTON_ERR_MODULE_MALFORMED', 'shorter than the 8-byte header');
    expectError(admit(new Uint8Array([])), 'CAXTON_ERR_MODULE_MALFORMED', 'shorter than the 8-byte header');
  });

  it('names truncated sections, LEB128 overflows, unknown and misplaced sections', () => {
    const good = agentBin();
    expectError(admit(good.subarray(0, good.length - 3)), 'CAXTON_ERR_MODULE_MALFORMED', "truncated: section 'code'", 'declares');
    expectError(admit(wasm([1, 0xff, 0xff, 0xff, 0xff, 0x7f])), 'CAXTON_ERR_MODULE_MALFORMED', 'LEB128 overflow', "the size of section 'type'", 'offset 9');
    expectError(admit(wasm([1, 0x80])), 'CAXTON_ERR_MODULE_MALFORMED', 'truncated', 'offset 9');
    expectError(admit(wasm(section(14, []))), 'CAXTON_ERR_MODULE_MALFORMED', 'unknown section id 14 at offset 8');
    expectError(admit(wasm(section(3, [0]), section(1, [0]))), 'CAXTON_ERR_MODULE_MALFORMED', "section 'type' (id 1) at offset 11", 'out of order');
    expectError(admit(wasm(section(1, [0]), section(1, [0]))), 'CAXTON_ERR_MODULE_MALFORMED', "duplicate section 'type'");
    expectError(admit(wasm(section(1, [0, 0x60]))), 'CAXTON_ERR_MODULE_MALFORMED', "section 'type'", '1 unexpected bytes');
    expectError(admit(wasm(section(1, [0x05, 0x60]))), 'CAXTON_ERR_MODULE_MALFORMED', 'declares 5 types');
    expectError(admit(wasm(section(1, [1, 0x60, 0, 0]), section(3, [1, 0]))), 'CAXTON_ERR_MODULE_MALFORMED', 'function and code section have inconsistent lengths');
    expectError(admit(wasm(section(7, [1, 1, 0xff, 0, 0]))), 'CAXTON_ERR_MODULE_MALFORMED', 'export name', 'not valid UTF-8');
  });

  it('fails closed on unknown opcodes, naming the byte and offset', () => {
    const m = agentBin({ funcs: [{ body: [0xc5, 0x0b] }] });
    const e = expectError(admit(m), 'CAXTON_ERR_MODULE_MALFORMED', 'unknown operator 0xc5 in function #3 at offset');
    assert.equal(m[e.details?.offset as number], 0xc5);
    expectError(admit(agentBin({ funcs: [{ body: [0xfc, 0x12, 0x0b] }] })), 'CAXTON_ERR_MODULE_MALFORMED', 'unknown operator 0xfc 0x12');
    const simd = makePolicy({ features: [...DEFAULT_FEATURES, 'simd'] });
    expectError(admit(agentBin({ funcs: [{ body: [0xfd, 0x9a, 0x01, 0x0b] }] }), simd), 'CAXTON_ERR_MODULE_MALFORMED', 'unknown operator 0xfd 0x9a');
    expectError(admit(agentBin({ funcs: [{ body: [0x01] }] })), 'CAXTON_ERR_MODULE_MALFORMED', "without its final 'end'");
    expectError(admit(agentBin({ funcs: [{ body: [0x0b, 0x01] }] })), 'CAXTON_ERR_MODULE_MALFORMED', "final 'end'", 'followed by 1 more bytes');
  });

  it('reports what V8 rejects and our parser does not as INVALID, with V8 reason', () => {
    // (func) whose body leaves an i32 on the stack: a type error.
    expectError(admit(agentBin({ funcs: [{ body: [0x41, 0x01, 0x0b] }] })), 'CAXTON_ERR_MODULE_INVALID', 'fails WebAssembly validation', 'function #3');
  });
});

describe('admitModule: index checks (defence in depth, before any global is appended)', () => {
  it('rejects a global index that only the fuel global would make valid', () => {
    // The module has no globals; after appending the fuel global at index 0 this body would be a
    // valid "reset my own fuel" if the decoder did not check indices against the original module.
    const m = agentBin({ funcs: [{ body: [0x42, ...leb(0x7fffffff), 0x24, 0x00, 0x0b] }] });
    expectError(admit(m), 'CAXTON_ERR_MODULE_INVALID', 'global.set 0 in function #3', 'does not exist (0 globals)');
    expectError(decodeOnly(m), 'CAXTON_ERR_MODULE_INVALID', 'global.set 0 in function #3');
    const get = agentBin({ globals: [[I32, 0, 0x41, 0, 0x0b]], funcs: [{ body: [0x23, 0x01, 0x1a, 0x0b] }] });
    expectError(decodeOnly(get), 'CAXTON_ERR_MODULE_INVALID', 'global.get 1 in function #3', '(1 globals)');
    expectError(admit(get), 'CAXTON_ERR_MODULE_INVALID', 'global.get 1');
    const exp = agentBin({ exports: [[...str('g'), 0x03, 0x00]] });
    expectError(decodeOnly(exp), 'CAXTON_ERR_MODULE_INVALID', "export 'g'", 'global 0, which does not exist');
    const init = agentBin({ globals: [[I64, 1, 0x23, 0x00, 0x0b]] });
    expectError(decodeOnly(init), 'CAXTON_ERR_MODULE_INVALID', 'global.get 0 in the initialiser of global 0');
  });

  it('checks every other index kind', () => {
    const f = (body: number[], extra: Parameters<typeof agentBin>[0] = {}) =>
      decodeOnly(agentBin({ ...extra, funcs: [{ body, locals: [[1, I32]] }] }));
    expectError(f([0x20, 0x01, 0x1a, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'local.get 1 in function #3', '(1 locals)');
    expectError(f([0x10, 0x09, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'call 9 in function #3', '(4 functions)');
    expectError(f([0xd2, 0x04, 0x1a, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'ref.func 4');
    expectError(f([0x0c, 0x01, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'branch depth 1 of br', '1 enclosing labels');
    expectError(f([0x02, 0x40, 0x0e, 0x01, 0x00, 0x02, 0x0b, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'branch depth 2 of br_table');
    expectError(f([0x41, 0x00, 0x11, 0x07, 0x00, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'call_indirect', 'type 7');
    expectError(f([0x41, 0x00, 0x11, 0x03, 0x00, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'uses table 0, but the module has 0 tables');
    expectError(f([0x02, 0x09, 0x0b, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'block type 9');
    expectError(
      f([0x41, 0x00, 0x28, 0x02, 0x00, 0x1a, 0x0b], { memories: [], replaceExports: [] }),
      'CAXTON_ERR_MODULE_INVALID',
      'i32.load in function #3',
      'needs a memory',
    );
    expectError(f([0xfc, 0x09, 0x00, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'data.drop', 'needs a data count section');
    expectError(f([0xfc, 0x09, 0x01, 0x0b], { dataCount: 1, datas: [[0x01, 0x00]] }), 'CAXTON_ERR_MODULE_INVALID', 'data segment 1');
    expectError(f([0xfc, 0x0d, 0x00, 0x0b]), 'CAXTON_ERR_MODULE_INVALID', 'elem.drop', 'element segment 0');
    expectError(f([0x41, 0x00, 0x24, 0x00, 0x0b], { globals: [[I32, 0, 0x41, 0, 0x0b]] }), 'CAXTON_ERR_MODULE_INVALID', 'immutable');
    expectError(decodeOnly(agentBin({ start: 9 })), 'CAXTON_ERR_MODULE_INVALID', 'start function #9 does not exist');
    expectError(decodeOnly(agentBin({ start: 0 })), 'CAXTON_ERR_MODULE_INVALID', 'start function #0 has type (func (result i32))');
    expectError(
      decodeOnly(agentBin({ tables: [[0x70, 0x00, 0x01]], elems: [[0x00, 0x41, 0x00, 0x0b, 0x01, 0x08]] })),
      'CAXTON_ERR_MODULE_INVALID',
      'element 0 of segment 0',
      'function 8',
    );
    expectError(decodeOnly(agentBin({ funcs: [{ type: 9, body: [0x0b] }] })), 'CAXTON_ERR_MODULE_INVALID', 'uses type 9');
    expectError(decodeOnly(agentBin({ exports: [[...str('x'), 0x00, 0x09]] })), 'CAXTON_ERR_MODULE_INVALID', "export 'x'", 'func 9');
  });
});

describe('admitModule: imports', () => {
  it('accepts every host import with its exact signature', async () => {
    const src = await wat(
      agentWat('', undefined, `
      (import "caxton" "send" (func (param i32 i32) (result i32)))
      (import "caxton" "log" (func (param i32 i32 i32)))
      (import "caxton" "time_now_us" (func (result i64)))
      (import "caxton" "time_monotonic_us" (func (result i64)))
      (import "caxton" "random_fill" (func (param i32 i32) (result i32)))
      (import "caxton" "timer_set" (func (param i32 i32 i32) (result i32)))
      (import "caxton" "timer_cancel" (func (param i32) (result i32)))
      (import "caxton" "kv_get" (func (param i32 i32 i32 i32) (result i32)))
      (import "caxton" "kv_set" (func (param i32 i32 i32 i32) (result i32)))
      (import "caxton" "kv_delete" (func (param i32 i32) (result i32)))`),
    );
    assert.equal(admitModule(src, policy).imports.length, 10);
  });

  it('refuses imports outside the ABI, naming them', async () => {
    const imp = async (decl: string) => admit(await wat(agentWat('', undefined, decl)));
    expectError(
      await imp('(import "env" "abort" (func (param i32 i32 i32 i32)))'),
      'CAXTON_ERR_MODULE_IMPORT',
      "import 'env.abort' (func (param i32 i32 i32 i32)) is not part of the Caxton ABI",
    );
    expectError(await imp('(import "caxton" "exec" (func))'), 'CAXTON_ERR_MODULE_IMPORT', "import 'caxton.exec' (func) is not part of the Caxton ABI");
    expectError(await imp('(import "caxton" "toString" (func))'), 'CAXTON_ERR_MODULE_IMPORT', "'caxton.toString'");
    expectError(
      await imp('(import "caxton" "send" (func (param i64 i32) (result i32)))'),
      'CAXTON_ERR_MODULE_IMPORT',
      "import 'caxton.send' has type (func (param i64 i32) (result i32)), but the Caxton ABI defines it as (func (param i32 i32) (result i32))",
    );
    expectError(await imp('(import "caxton" "log" (func (param i32 i32 i32) (result i32)))'), 'CAXTON_ERR_MODULE_IMPORT', "'caxton.log' has type");
    expectError(admit(await wat(agentWat('', '(import "env" "memory" (memory 1)) (export "memory" (memory 0))'))), 'CAXTON_ERR_MODULE_IMPORT', "import 'env.memory' (memory)", 'define its own memory');
    expectError(await imp('(import "caxton" "t" (table 1 funcref))'), 'CAXTON_ERR_MODULE_IMPORT', "import 'caxton.t' (table)");
    expectError(await imp('(import "caxton" "g" (global i32))'), 'CAXTON_ERR_MODULE_IMPORT', "import 'caxton.g' (global)");
    expectError(admit(agentBin({ imports: [[...str('a\nb'), ...str('c'), 0x00, 0x03]] })), 'CAXTON_ERR_MODULE_IMPORT', "import 'a\\x0ab.c'");
  });
});

describe('admitModule: exports', () => {
  it('requires the ABI exports with exact signatures', async () => {
    const base = (mem: string, fns: string) => wat(`(module ${mem} ${fns})`);
    const abi = '(func (export "caxton_abi_version") (result i32) i32.const 1)';
    const alloc = '(func (export "caxton_alloc") (param i32) (result i32) i32.const 0)';
    const handle = '(func (export "handle_message") (param i32 i32) (result i32) i32.const 0)';
    const mem = '(memory (export "memory") 1)';
    expectError(admit(await base(mem, abi + alloc)), 'CAXTON_ERR_MODULE_EXPORT', "required export 'handle_message' (func (param i32 i32) (result i32)) is missing");
    expectError(
      admit(await base(mem, abi + handle + '(func (export "caxton_alloc") (param i64) (result i32) i32.const 0)')),
      'CAXTON_ERR_MODULE_EXPORT',
      "export 'caxton_alloc' has type (func (param i64) (result i32)), but the ABI requires (func (param i32) (result i32))",
    );
    expectError(
      admit(await base(mem, abi + alloc + '(global (export "handle_message") i32 (i32.const 0))')),
      'CAXTON_ERR_MODULE_EXPORT',
      "export 'handle_message' is a global, but the ABI requires a function",
    );
    expectError(admit(await base('(memory (export "mem") 1)', abi + alloc + handle)), 'CAXTON_ERR_MODULE_EXPORT', "required export 'memory'");
    expectError(admit(await base('(memory 1) (func (export "memory"))', abi + alloc + handle)), 'CAXTON_ERR_MODULE_EXPORT', "export 'memory' is a function");
    expectError(admit(await base('', abi + alloc + handle)), 'CAXTON_ERR_MODULE_EXPORT', 'defines no memory');
    expectError(
      admit(await base(mem, abi + alloc + handle + '(func (export "agent_init") (param i32) (result i32) i32.const 0)')),
      'CAXTON_ERR_MODULE_EXPORT',
      "export 'agent_init' has type (func (param i32) (result i32))",
    );
    expectError(admit(await base(mem, abi + alloc + handle + '(func (export "agent_shutdown"))')), 'CAXTON_ERR_MODULE_EXPORT', "'agent_shutdown'");
    const ok = admitModule(await base(mem, abi + alloc + handle + '(func (export "agent_shutdown") (result i32) i32.const 0)'), policy);
    assert.equal(ok.hasShutdown, true);
    assert.equal(ok.hasInit, false);
  });

  it('refuses reserved export names', async () => {
    expectError(admit(await wat(agentWat('(func (export "__caxton_fuel"))'))), 'CAXTON_ERR_MODULE_EXPORT', "export '__caxton_fuel' uses the prefix '__caxton'", 'reserved for the host');
    expectError(admit(await wat(agentWat('(global (export "__caxtonX") i32 (i32.const 0))'))), 'CAXTON_ERR_MODULE_EXPORT', "'__caxtonX'");
  });
});

describe('admitModule: memory, tables and limits', () => {
  it('enforces exactly one 32-bit unshared memory within the cap', async () => {
    expectError(
      admit(await wat(agentWat('', '(memory (export "memory") 65536)'))),
      'CAXTON_ERR_MODULE_LIMIT',
      'memory minimum 65536 pages (4 GiB) exceeds the cap of 1024 pages (64 MiB)',
    );
    expectError(admit(await wat(agentWat('', '(memory (export "memory") 2)')), makePolicy({ maxMemoryPages: 1 })), 'CAXTON_ERR_MODULE_LIMIT', 'memory minimum 2 pages (128 KiB) exceeds the cap of 1 pages (64 KiB)');
    expectError(
      admit(await wat(agentWat('', '(memory (export "memory") 1 2 shared)'), { threads: true })),
      'CAXTON_ERR_MODULE_FEATURE',
      "shared memory 0 (limits flag 0x03)",
      "needs the 'threads' feature, which Caxton does not allow",
    );
    expectError(admit(agentBin({ memories: [[0x04, 0x01]] })), 'CAXTON_ERR_MODULE_FEATURE', '64-bit memory 0', "'memory64'");
    expectError(admit(agentBin({ memories: [[0x00, 0x01], [0x00, 0x01]] })), 'CAXTON_ERR_MODULE_FEATURE', 'a second memory', "'multi-memory'");
    expectError(admit(agentBin({ memories: [[0x08, 0x01]] })), 'CAXTON_ERR_MODULE_MALFORMED', 'unknown limits flag 0x08');
    expectError(decodeOnly(agentBin({ memories: [[0x01, 0x02, 0x01]] })), 'CAXTON_ERR_MODULE_INVALID', 'maximum 1 pages below its minimum 2');
  });

  it('caps tables', async () => {
    expectError(admit(await wat(agentWat('(table 10001 funcref)'))), 'CAXTON_ERR_MODULE_LIMIT', 'table 0 minimum 10001 elements exceeds the cap of 10000 elements');
    expectError(admit(await wat(agentWat('(table 1 funcref) (table 1 funcref)')), without('reference-types')), 'CAXTON_ERR_MODULE_FEATURE', 'a second table', "'reference-types'");
  });

  it('enforces the structural caps', async () => {
    const funcs = await wat(agentWat('(func) (func)'));
    expectError(admit(funcs, makePolicy({ maxFunctions: 4 })), 'CAXTON_ERR_MODULE_LIMIT', '5 functions', 'limit of 4');
    admitModule(funcs, makePolicy({ maxFunctions: 5 }));
    const imports = await wat(agentWat('', undefined, '(import "caxton" "send" (func (param i32 i32) (result i32))) (import "caxton" "log" (func (param i32 i32 i32)))'));
    expectError(admit(imports, makePolicy({ maxImports: 1 })), 'CAXTON_ERR_MODULE_LIMIT', '2 imports', 'limit of 1');
    expectError(admit(funcs, makePolicy({ maxExports: 3 })), 'CAXTON_ERR_MODULE_LIMIT', '4 exports', 'limit of 3');
    const globals = await wat(agentWat('(global i32 (i32.const 0)) (global i32 (i32.const 0))'));
    expectError(admit(globals, makePolicy({ maxGlobals: 1 })), 'CAXTON_ERR_MODULE_LIMIT', '2 globals', 'limit of 1');
    const big = agentBin({ funcs: [{ body: [...new Array<number>(100).fill(0x01), 0x0b] }] });
    expectError(admit(big, makePolicy({ maxFunctionBodyBytes: 50 })), 'CAXTON_ERR_MODULE_LIMIT', 'function #3 body', '102 bytes', 'limit of 50 bytes');
  });
});

describe('admitModule: feature allow-list', () => {
  const fn = (body: string) => agentWat(`(func (export "f") ${body})`);

  it('names the never-allowed features by operator', async () => {
    expectError(
      admit(await wat(fn('(drop (memory.atomic.notify (i32.const 0) (i32.const 1)))'), { threads: true })),
      'CAXTON_ERR_MODULE_FEATURE',
      "operator 0xfe 0x00 (memory.atomic.notify) in function #3 at offset",
      "needs the 'threads' feature, which Caxton does not allow",
    );
    expectError(admit(await wat(fn('(drop (i32.atomic.load (i32.const 0)))'), { threads: true })), 'CAXTON_ERR_MODULE_FEATURE', 'operator 0xfe 0x10', "'threads'");
    expectError(admit(await wat(fn('(try (do) (catch_all))'), { exceptions: true })), 'CAXTON_ERR_MODULE_FEATURE', 'operator 0x06 (try)', "'exceptions'");
    expectError(admit(await wat(agentWat('(tag $t)'), { exceptions: true })), 'CAXTON_ERR_MODULE_FEATURE', 'tag section', "'exceptions'");
    expectError(admit(await wat(agentWat('(func $g) (func (export "f") (return_call $g))'), { tail_call: true })), 'CAXTON_ERR_MODULE_FEATURE', 'operator 0x12 (return_call)', "'tail-call'");
    expectError(admit(agentBin({ funcs: [{ body: [0xfb, 0x00, 0x0b] }] })), 'CAXTON_ERR_MODULE_FEATURE', 'operator 0xfb 0x00', "'gc'");
    expectError(admit(agentBin({ types: [[0x5f, 0x00]] })), 'CAXTON_ERR_MODULE_FEATURE', 'type #4 (form 0x5f)', "'gc'");
    expectError(admit(agentBin({ funcs: [{ body: [0x14, 0x00, 0x0b] }] })), 'CAXTON_ERR_MODULE_FEATURE', 'operator 0x14 (call_ref)', "'typed-function-references'");
    expectError(admit(agentBin({ funcs: [{ body: [0x0b], locals: [[1, 0x64, 0x70]] }] })), 'CAXTON_ERR_MODULE_FEATURE', 'value type 0x64', "'typed-function-references'");
    expectError(
      admit(agentBin({ funcs: [{ body: [0x41, 0x00, 0x28, 0x42, 0x01, 0x00, 0x1a, 0x0b] }] })),
      'CAXTON_ERR_MODULE_FEATURE',
      'i32.load with a memory index',
      "'multi-memory'",
    );
    expectError(admit(agentBin({ funcs: [{ body: [0x3f, 0x01, 0x1a, 0x0b] }] })), 'CAXTON_ERR_MODULE_FEATURE', 'memory.size on memory 1', "'multi-memory'");
    expectError(
      admit(await wat(agentWat('(global i32 (i32.add (i32.const 1) (i32.const 2)))'), { extended_const: true })),
      'CAXTON_ERR_MODULE_FEATURE',
      'operator 0x6a (i32.add) in the initialiser of global 0',
      "'extended-const'",
    );
    const simd = makePolicy({ features: [...DEFAULT_FEATURES, 'simd'] });
    expectError(
      admit(agentBin({ funcs: [{ body: [0xfd, 0x80, 0x02, 0x0b] }] }), simd),
      'CAXTON_ERR_MODULE_FEATURE',
      'operator 0xfd 0x100 (i8x16.relaxed_swizzle)',
      "'relaxed-simd' feature, which Caxton does not allow",
    );
    expectError(admit(agentBin({ funcs: [{ body: [0xfd, 0x80, 0x02, 0x0b] }] })), 'CAXTON_ERR_MODULE_FEATURE', "'relaxed-simd'");
  });

  it('gates each optional feature on the policy', async () => {
    const cases: [WasmFeature, Uint8Array, string][] = [
      ['sign-ext', await wat(fn('(drop (i32.extend8_s (i32.const 1)))')), 'operator 0xc0 (i32.extend8_s)'],
      ['nontrapping-fptoint', await wat(fn('(drop (i32.trunc_sat_f32_s (f32.const 1)))')), 'operator 0xfc 0x00 (i32.trunc_sat_f32_s)'],
      ['bulk-memory', await wat(fn('(memory.copy (i32.const 0) (i32.const 0) (i32.const 0))')), 'operator 0xfc 0x0a (memory.copy)'],
      ['bulk-memory', await wat(agentWat('(data "x")')), 'data segment 0 with flags 1'],
      ['bulk-memory', agentBin({ dataCount: 0, datas: [] }), 'the data count section'],
      ['multi-value', await wat(agentWat('(func (result i32 i32) (i32.const 1) (i32.const 2))')), "type #3 (func (result i32 i32))"],
      ['multi-value', agentBin({ funcs: [{ body: [0x02, 0x03, 0x0b, 0x0b] }] }), 'a block with type index 3'],
      ['reference-types', await wat(fn('(drop (ref.null extern))')), 'operator 0xd0 (ref.null)'],
      ['reference-types', await wat(agentWat('(table 1 externref)')), 'table 0 of externref'],
      ['reference-types', await wat(fn('(drop (select (result i32) (i32.const 1) (i32.const 1) (i32.const 0)))')), 'select (typed)'],
      ['reference-types', await wat(agentWat('(func (param externref))')), 'value type externref'],
      ['mutable-global', await wat(agentWat('(global (export "g") (mut i32) (i32.const 0))')), "export 'g' of a mutable global"],
    ];
    for (const [feature, bytes, phrase] of cases) {
      admitModule(bytes, policy); // allowed by default
      expectError(admit(bytes, without(feature)), 'CAXTON_ERR_MODULE_FEATURE', phrase, `'${feature}' feature`, 'not enabled on this node');
    }
  });
});

describe('admitModule: output', () => {
  it('never produces a module that fails validation (corpus)', async () => {
    const corpus = [
      agentBin(),
      await wat(agentWat('(func (export "x") (loop (loop (loop))) (block (loop (br 1))))')),
      await wat(agentWat('(func (export "y") (param i32) (result i32) (local i64 f32) (if (result i32) (local.get 0) (then (loop (result i32) (i32.const 1))) (else (i32.const 2))))')),
    ];
    // Many globals and functions push the fuel global's index and the function count past 1-byte LEBs.
    let many = '';
    for (let i = 0; i < 200; i++) many += `(global (mut i32) (i32.const ${i})) (func (loop (br_if 0 (i32.const 0))))`;
    corpus.push(await wat(agentWat(many)));
    for (const src of corpus) {
      const a = admitModule(src, policy);
      assert.ok(WebAssembly.validate(a.bytes));
      assert.ok(a.bytes.length > src.length);
    }
    assert.equal(HEADER.length, 8);
    assert.equal(vec([]).length, 1);
    assert.deepEqual(functype([], []), [0x60, 0, 0]);
  });
});
