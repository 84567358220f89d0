import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { FUEL_EXPORT } from '../../../../src/sandbox/abi.js';
import { makePolicy } from '../../../../src/sandbox/policy.js';
import { admitModule } from '../../../../src/sandbox/wasm/index.js';
import { agentWat, hostStubs, wat } from './helpers.js';

interface Instance {
  fuel: WebAssembly.Global;
  exports: WebAssembly.Exports;
  memory: WebAssembly.Memory;
}

function instantiate(bytes: Uint8Array, log: unknown[] = []): Instance {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), hostStubs(log));
  return {
    fuel: inst.exports[FUEL_EXPORT] as WebAssembly.Global,
    exports: inst.exports,
    memory: inst.exports.memory as WebAssembly.Memory,
  };
}

// count(n): the function entry charges 2 (block, loop); the loop header charges the 13 operators
// from the loop to the end of the function in linear order (br_if condition 4, increment 4, br 1,
// two ends, local.get, final end), once per iteration, and the loop is entered n + 1 times.
const COUNT = `
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $i))
  (func (export "spin") (loop $l (br $l)))`;
const countCost = (n: number): number => 2 + 13 * (n + 1);

describe('fuel metering', () => {
  it('charges count(n) exactly and deterministically: success at the boundary, trap one iteration later', async () => {
    const admitted = admitModule(await wat(agentWat(COUNT)), makePolicy());
    const n = 999;
    const budget = BigInt(countCost(n)); // 13002
    for (let run = 0; run < 3; run++) {
      const { fuel, exports } = instantiate(admitted.bytes);
      const count = exports.count as (n: number) => number;
      fuel.value = budget;
      assert.equal(count(n), n);
      assert.equal(fuel.value, 0n, 'the whole budget is used, to the unit');
      fuel.value = budget;
      assert.throws(() => count(n + 1), (e: unknown) => e instanceof WebAssembly.RuntimeError && /unreachable/.test(e.message));
      assert.ok((fuel.value as bigint) < 0n, 'fuel is negative after the trap');
      assert.equal(fuel.value, budget - BigInt(countCost(n + 1)), 'the trap happens at the last loop header');
      // The instance is still usable once the fuel is reset.
      fuel.value = 1_000_000n;
      assert.equal(count(10), 10);
      assert.equal(fuel.value, 1_000_000n - BigInt(countCost(10)));
    }
  });

  it('stops an infinite loop with fuel < 0, for every budget', async () => {
    const { bytes } = admitModule(await wat(agentWat(COUNT)), makePolicy());
    const { fuel, exports } = instantiate(bytes);
    const spin = exports.spin as () => void;
    for (const budget of [0n, 1n, 10n, 1000n, 1_000_003n]) {
      fuel.value = budget;
      assert.throws(() => spin(), WebAssembly.RuntimeError);
      // Entry charges 1 (the loop operator); each iteration charges 3 (br, end, end).
      let expected = budget - 1n;
      while (expected >= 0n) expected -= 3n;
      assert.equal(fuel.value, expected);
    }
  });

  it('meters recursion at function entry', async () => {
    const { bytes } = admitModule(
      await wat(agentWat(`(func $rec (export "rec") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
          (else (call $rec (i32.sub (local.get 0) (i32.const 1))))))`)),
      makePolicy(),
    );
    const { fuel, exports } = instantiate(bytes);
    const rec = exports.rec as (n: number) => number;
    // One charge point per call: 11 operators (local.get, i32.eqz, if, i32.const, else, local.get,
    // i32.const, i32.sub, call, end, end); rec(n) makes n + 1 calls.
    for (const n of [0, 10, 20]) {
      fuel.value = 1_000_000n;
      assert.equal(rec(n), 0);
      assert.equal(1_000_000n - (fuel.value as bigint), BigInt(11 * (n + 1)));
    }
    fuel.value = 50n;
    assert.throws(() => rec(100), WebAssembly.RuntimeError);
  });

  it('initialises the fuel to fuelPerCall so a start function is metered', async () => {
    const startLoop = agentWat(`(func $s (loop $l (br $l))) (start $s)`);
    const admitted = admitModule(await wat(startLoop), makePolicy({ fuelPerCall: 5000 }));
    assert.equal(admitted.hasStart, true);
    assert.throws(() => instantiate(admitted.bytes), (e: unknown) => e instanceof WebAssembly.RuntimeError);

    const startFinite = agentWat(`(global $g (mut i32) (i32.const 0))
      (func $s (global.set $g (i32.const 7))) (start $s)
      (func (export "g") (result i32) (global.get $g))`);
    const ok = admitModule(await wat(startFinite), makePolicy({ fuelPerCall: 5000 }));
    const { fuel, exports } = instantiate(ok.bytes);
    assert.equal((exports.g as () => number)(), 7);
    // The start function has 3 operators (i32.const, global.set, end); the getter call was charged 2.
    assert.equal(fuel.value, 5000n - 3n - 2n);
  });

  it('caps memory: memory.grow past the cap returns -1', async () => {
    const src = agentWat(`(func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))`);
    const admitted = admitModule(await wat(src), makePolicy({ maxMemoryPages: 4 }));
    assert.deepEqual(admitted.memory, { minPages: 1, maxPages: 4 });
    const { exports, memory, fuel } = instantiate(admitted.bytes);
    fuel.value = 1000n;
    const grow = exports.grow as (n: number) => number;
    assert.equal(grow(3), 1);
    assert.equal(grow(1), -1);
    assert.equal(memory.buffer.byteLength, 4 * 65536);

    // A smaller declared maximum is kept; a larger one is lowered.
    const small = admitModule(await wat(agentWat('', '(memory (export "memory") 1 2)')), makePolicy({ maxMemoryPages: 4 }));
    assert.deepEqual(small.memory, { minPages: 1, maxPages: 2 });
    const big = admitModule(await wat(agentWat('', '(memory (export "memory") 1 65536)')), makePolicy({ maxMemoryPages: 4 }));
    assert.deepEqual(big.memory, { minPages: 1, maxPages: 4 });
    const inst = instantiate(big.bytes);
    assert.throws(() => inst.memory.grow(4), RangeError);
  });

  it('round trip: admitted modules instantiate and their exports and imports work', async () => {
    const src = `(module
      (import "caxton" "log" (func $log (param i32 i32 i32)))
      (import "caxton" "send" (func $send (param i32 i32) (result i32)))
      (import "caxton" "time_now_us" (func $now (result i64)))
      (memory (export "memory") 1)
      (data (i32.const 16) "hello")
      (table 2 funcref)
      (elem (i32.const 0) $a $b)
      (type $t (func (result i32)))
      (func $a (result i32) (i32.const 40))
      (func $b (result i32) (i32.const 2))
      (func (export "caxton_abi_version") (result i32) i32.const 1)
      (func (export "caxton_alloc") (param i32) (result i32) i32.const 1024)
      (func (export "handle_message") (param $p i32) (param $l i32) (result i32)
        (call $log (i32.const 2) (local.get $p) (local.get $l))
        (drop (call $send (i32.const 16) (i32.const 5)))
        (i32.add (call_indirect (type $t) (i32.const 0)) (call_indirect (type $t) (i32.const 1))))
      (func (export "agent_init") (param i32 i32) (result i32) (i32.wrap_i64 (call $now)))
      (func (export "agent_shutdown") (result i32) i32.const 0))`;
    const admitted = admitModule(await wat(src), makePolicy());
    assert.equal(admitted.hasInit, true);
    assert.equal(admitted.hasShutdown, true);
    assert.deepEqual(admitted.imports, [
      { module: 'caxton', name: 'log' },
      { module: 'caxton', name: 'send' },
      { module: 'caxton', name: 'time_now_us' },
    ]);
    const log: unknown[] = [];
    const { exports, memory, fuel } = instantiate(admitted.bytes, log);
    fuel.value = 10_000n;
    assert.equal((exports.agent_init as (p: number, l: number) => number)(0, 0), 0);
    new Uint8Array(memory.buffer).set(new TextEncoder().encode('{"x":1}'), 1024);
    assert.equal((exports.handle_message as (p: number, l: number) => number)(1024, 7), 42);
    assert.deepEqual(log.slice(1), [
      ['log', 2, 1024, 7],
      ['send', 16, 5],
    ]);
    assert.equal(new TextDecoder().decode(new Uint8Array(memory.buffer, 16, 5)), 'hello');
  });
});

test('fuel - bulk memory and table operators are charged by length, so a fill loop runs out fast', async () => {
  const bytes = await wat(agentWat(`
    (table 10 funcref)
    (func (export "fill") (param $n i32) (memory.fill (i32.const 0) (i32.const 0) (local.get $n)))
    (func (export "copy") (param $n i32) (memory.copy (i32.const 0) (i32.const 0) (local.get $n)))
    (func (export "tfill") (param $n i32) (table.fill (i32.const 0) (ref.null func) (local.get $n)))
    (func (export "spinfill") (loop $l (memory.fill (i32.const 0) (i32.const 0) (i32.const 0x10000)) (br $l)))`,
    '(memory (export "memory") 2)'));
  const policy = makePolicy({ fuelPerCall: 1_000_000 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(admitModule(bytes, policy).bytes), {});
  const x = inst.exports as Record<string, (n?: number) => void> & { __caxton_fuel: WebAssembly.Global };
  const used = (fn: () => void): number => {
    x.__caxton_fuel.value = 1_000_000n;
    fn();
    return 1_000_000 - Number(x.__caxton_fuel.value);
  };
  const small = used(() => x['fill']!(16));
  const big = used(() => x['fill']!(65536));
  assert.equal(big - small, (65536 >> 4) - (16 >> 4), 'one unit per 16 bytes filled');
  assert.equal(used(() => x['copy']!(65536)) - used(() => x['copy']!(16)), 4095);
  assert.equal(used(() => x['tfill']!(10)) - used(() => x['tfill']!(0)), 10, 'one unit per table element');
  // 64 KiB per iteration: 4096 units each, so a 1M budget stops the loop after ~244 iterations.
  x.__caxton_fuel.value = 1_000_000n;
  const t0 = performance.now();
  assert.throws(() => x['spinfill']!(), /unreachable/);
  assert.ok((x.__caxton_fuel.value as bigint) < 0n);
  assert.ok(performance.now() - t0 < 1000, 'stopped by fuel, not by running for hours');
});
