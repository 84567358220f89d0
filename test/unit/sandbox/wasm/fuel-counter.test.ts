/**
 * The fuel counter inside a metered module: it travels as an extra parameter and result between the
 * module's own functions, and through the fuel global across the module's boundary (imports,
 * call_indirect, calls from the host). These tests pin that the charges stay exact on every path.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FUEL_CHARGE_EXPORT, FUEL_EXPORT } from '../../../../src/sandbox/abi.js';
import { makePolicy } from '../../../../src/sandbox/policy.js';
import { admitModule } from '../../../../src/sandbox/wasm/index.js';
import { agentBin, agentWat, expectError, functype, hostStubs, I32, leb, loadWabt, wat } from './helpers.js';

interface Metered {
  x: WebAssembly.Exports;
  fuel: WebAssembly.Global;
  /** Sets the counter, runs fn, returns the fuel it used. */
  used: (fn: () => unknown, budget?: bigint) => number;
}

function instantiate(bytes: Uint8Array, imports: WebAssembly.Imports = hostStubs()): Metered {
  const inst = new WebAssembly.Instance(new WebAssembly.Module(admitModule(bytes, makePolicy()).bytes), imports);
  const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
  const used = (fn: () => unknown, budget = 1_000_000n): number => {
    fuel.value = budget;
    fn();
    return Number(budget - (fuel.value as bigint));
  };
  return { x: inst.exports, fuel, used };
}

const isFuelTrap = (e: unknown): boolean => e instanceof WebAssembly.RuntimeError && /unreachable/.test(e.message);

// leaf: local.get, i32.const, i32.add, end = 4 units per call.
// chain(n): entry 2 (block, loop); the loop header 15 (the operators from the loop to the end of the
// function), entered n + 1 times; n calls of leaf. So 17 + 19n.
const CHAIN = `
  (func $leaf (export "leaf") (param $x i32) (result i32) (i32.add (local.get $x) (i32.const 1)))
  (func (export "chain") (param $n i32) (result i32) (local $acc i32)
    (block $d (loop $l
      (br_if $d (i32.eqz (local.get $n)))
      (local.set $acc (call $leaf (local.get $acc)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $acc))`;

test('fuel counter - a chain of direct calls is charged exactly, caller and callee alike', async () => {
  const { x, used } = instantiate(await wat(agentWat(CHAIN)));
  const chain = x['chain'] as (n: number) => number;
  const leaf = x['leaf'] as (n: number) => number;
  for (const n of [0, 1, 10, 1000]) {
    assert.equal(used(() => assert.equal(chain(n), n)), 17 + 19 * n, `chain(${n})`);
  }
  // leaf is exported and called inside the module: both ways it costs the same.
  assert.equal(used(() => assert.equal(leaf(41), 42)), 4);
});

test('fuel counter - exhaustion inside a callee leaves the exact negative counter in the global', async () => {
  const { x, fuel } = instantiate(await wat(agentWat(CHAIN)));
  const chain = x['chain'] as (n: number) => number;
  for (const k of [0, 3, 100]) {
    // After the entry and k iterations (17 + 19k), the (k+1)-th leaf call finds 2 units left and
    // charges 4: the trap happens there, at -2.
    fuel.value = BigInt(17 + 19 * k + 2);
    assert.throws(() => chain(k + 5), isFuelTrap);
    assert.equal(fuel.value, -2n, `k = ${k}`);
  }
});

test('fuel counter - an import sees the counter the guest has left, and the guest sees what the import charged', async () => {
  // spin(n): entry 2, loop header 12 entered n + 1 times: 14 + 12n.
  // probe(n): entry 8 (local.get, call, call, local.set, local.get, call, local.get, end), then
  // spin(n), the import, spin(n) again.
  const src = agentWat(
    `(func $spin (param $n i32) (local $i i32)
       (block $done (loop $l
         (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
         (local.set $i (i32.add (local.get $i) (i32.const 1)))
         (br $l))))
     (func (export "probe") (param $n i32) (result i64) (local $t i64)
       (call $spin (local.get $n))
       (local.set $t (call $now))
       (call $spin (local.get $n))
       (local.get $t))`,
    undefined,
    '(import "caxton" "time_now_us" (func $now (result i64)))',
  );
  const seen: bigint[] = [];
  let hostCharge = 0;
  let charge: ((units: number) => number) | undefined;
  const imports = hostStubs();
  (imports['caxton'] as Record<string, unknown>)['time_now_us'] = () => {
    seen.push(m.fuel.value as bigint);
    charge!(hostCharge);
    return 7n;
  };
  const m = instantiate(await wat(src), imports);
  charge = m.x[FUEL_CHARGE_EXPORT] as (units: number) => number;
  const probe = m.x['probe'] as (n: number) => bigint;
  const spin = (n: number): number => 14 + 12 * n;

  hostCharge = 1000;
  const budget = 100_000n;
  assert.equal(m.used(() => assert.equal(probe(50), 7n), budget), 8 + 2 * spin(50) + 1000);
  assert.deepEqual(seen, [budget - BigInt(8 + spin(50))], 'the import saw exactly what the guest had left');

  // A charge that takes the counter below zero stops the guest at its next check: spin's entry,
  // which finds -1 and charges 2.
  seen.length = 0;
  hostCharge = 100_000 - 8 - spin(50) + 1;
  m.fuel.value = budget;
  assert.throws(() => probe(50), isFuelTrap);
  assert.equal(m.fuel.value, -3n);
});

test('fuel counter - call_indirect reaches the same counter as a direct call', async () => {
  const src = agentWat(`
    (type $t (func (param i32) (result i32)))
    (table 1 funcref) (elem (i32.const 0) $leaf)
    (func $leaf (param $x i32) (result i32) (i32.add (local.get $x) (i32.const 1)))
    (func (export "direct") (param $x i32) (result i32) (call $leaf (local.get $x)))
    (func (export "indirect") (param $x i32) (result i32) (call_indirect (type $t) (local.get $x) (i32.const 0)))`);
  const { x, fuel, used } = instantiate(await wat(src));
  const direct = x['direct'] as (n: number) => number;
  const indirect = x['indirect'] as (n: number) => number;
  // direct: 3 (local.get, call, end) + leaf 4; indirect: 4 (one more operand) + leaf 4.
  assert.equal(used(() => assert.equal(direct(1), 2)), 7);
  assert.equal(used(() => assert.equal(indirect(1), 2)), 8);
  // Through the table, exhaustion in the callee still leaves the exact counter: 5 - 4 - 4.
  fuel.value = 5n;
  assert.throws(() => indirect(1), isFuelTrap);
  assert.equal(fuel.value, -3n);
});

test('fuel counter - branches out of the body, return and multi-value results keep their values and fuel', async () => {
  const src = agentWat(`
    (func $pair (export "pair") (param i32) (result i32 i32) (local.get 0) (i32.mul (local.get 0) (i32.const 2)))
    (func (export "early") (param $k i32) (result i32)
      (drop (br_if 0 (i32.const 10) (i32.eqz (local.get $k))))
      (i32.add
        (block $a (result i32)
          (br_table $a 1 (i32.const 20) (i32.sub (local.get $k) (i32.const 1))))
        (i32.const 100)))
    (func (export "ret") (param $k i32) (result i32)
      (block (block (br_if 1 (local.get $k)) (return (i32.add (call $pair (i32.const 3))))))
      (i32.const 7))
    (func (export "both") (result i32 i32) (br 0 (i32.const 1) (i32.const 2)))`);
  const { x, used } = instantiate(await wat(src));
  const early = x['early'] as (k: number) => number;
  const ret = x['ret'] as (k: number) => number;
  // early: 15 operators whatever the path (charged at entry); k = 0 leaves through br_if with 10,
  // k = 1 reaches the block ($a: 20 + 100), k >= 2 leaves through br_table's default with 20.
  assert.equal(used(() => assert.equal(early(0), 10)), 15);
  assert.equal(used(() => assert.equal(early(1), 120)), 15);
  assert.equal(used(() => assert.equal(early(5), 20)), 15);
  // ret: 12 operators; k = 0 returns from two blocks deep through pair (5): 3 + 6.
  assert.equal(used(() => assert.equal(ret(0), 9)), 17);
  assert.equal(used(() => assert.equal(ret(1), 7)), 12);
  assert.equal(used(() => assert.deepEqual((x['pair'] as (n: number) => number[])(4), [4, 8])), 5);
  assert.equal(used(() => assert.deepEqual((x['both'] as () => number[])(), [1, 2])), 4);
});

test('fuel counter - a call-heavy function keeps the counter out of memory: the fuel global only on its trap path', async () => {
  const src = agentWat(`(func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2)) (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1))) (call $fib (i32.sub (local.get $n) (i32.const 2)))))))`);
  const out = admitModule(await wat(src), makePolicy()).bytes;
  const wabt = await loadWabt();
  const mod = wabt.readWasm(out, { readDebugNames: false, multi_value: true, sat_float_to_int: true });
  let text: string;
  try {
    mod.generateNames();
    mod.applyNames();
    text = mod.toText({ foldExprs: false, inlineExport: false });
  } finally {
    mod.destroy();
  }
  const bodies = text.split(/\n {2}\(func /).filter((f) => f.includes('i32.lt_u'));
  assert.equal(bodies.length, 1, 'one metered body of fib');
  const body = bodies[0]!;
  assert.equal(body.match(/global\.get \$__caxton_fuel/g)?.length ?? 0, 0, body);
  assert.equal(body.match(/global\.set \$__caxton_fuel/g)?.length ?? 0, 1, body);
  assert.match(body, /global\.set \$__caxton_fuel\s+unreachable/, 'the one store is right before the trap');
  const x = new WebAssembly.Instance(new WebAssembly.Module(out), {}).exports;
  assert.equal((x['fib'] as (n: number) => number)(20), 6765);
});

test('fuel counter - the charge export subtracts, refills and reads exactly, up to the largest budget', async () => {
  const bytes = await wat(agentWat(''));
  const big = Number.MAX_SAFE_INTEGER;
  const inst = new WebAssembly.Instance(new WebAssembly.Module(admitModule(bytes, makePolicy({ fuelPerCall: big })).bytes), {});
  const charge = inst.exports[FUEL_CHARGE_EXPORT] as (units: number) => number;
  const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
  assert.equal(charge(0), big);
  assert.equal(charge(big - 10), 10);
  assert.equal(charge(15), -5);
  assert.equal(fuel.value, -5n);
  assert.equal(charge(-1_000_005), 1_000_000);
  fuel.value = 123n;
  assert.equal(charge(0), 123);
});

test('fuel counter - what V8 cannot take one more parameter, result or local for is refused with the reason', () => {
  const params = (n: number) => agentBin({ types: [functype(new Array<number>(n).fill(I32), [])], funcs: [{ type: 4, body: [0x0b] }] });
  admitModule(params(999), makePolicy());
  expectError(() => admitModule(params(1000), makePolicy()), 'CAXTON_ERR_MODULE_LIMIT', 'function #3', '1000 parameters', 'fuel counter', 'V8 allows 1000');
  const results = (n: number) =>
    agentBin({ types: [functype([], new Array<number>(n).fill(I32))], funcs: [{ type: 4, body: [0x00, 0x0b] }] });
  admitModule(results(999), makePolicy());
  expectError(() => admitModule(results(1000), makePolicy()), 'CAXTON_ERR_MODULE_LIMIT', '1000 results');
  const locals = (n: number, body = [0x0b]) => agentBin({ funcs: [{ locals: [[...leb(n), I32]], body }] });
  admitModule(locals(49_999), makePolicy());
  expectError(() => admitModule(locals(50_000), makePolicy()), 'CAXTON_ERR_MODULE_INVALID', 'function #3 has 50000 parameters and locals', 'one more (the fuel counter)');
  // memory.fill needs a scratch local on top of the counter.
  const fill = [0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x00, 0x0b];
  admitModule(locals(49_998, fill), makePolicy());
  expectError(() => admitModule(locals(49_999, fill), makePolicy()), 'CAXTON_ERR_MODULE_INVALID', 'uses bulk operators', 'two more');
});
