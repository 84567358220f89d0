/**
 * Fuel as the host sees it through AgentInstance: the budget of each call, the fuel used it reports,
 * host functions charging the same counter the guest uses, and exhaustion by loops and by recursion.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentFault, AgentInstance, makePolicy } from '../../../src/sandbox/index.js';
import { DEFAULT_FUEL_PER_CALL } from '../../../src/sandbox/policy.js';
import { admitModule } from '../../../src/sandbox/wasm/index.js';
import { NullServices } from '../../helpers/null-services.js';
import { wat } from '../../helpers/wat.js';

// spin(n): entry 2 (block, loop), loop header 12 entered n + 1 times: 14 + 12n.
const spin = (n: number): number => 14 + 12 * n;
// caxton_alloc, charged to every call that delivers a message: i32.const, end.
const ALLOC = 2;

async function instance(body: string, fuelPerCall: number, svc = new NullServices(), imports = ''): Promise<AgentInstance> {
  const src = `(module
    ${imports}
    (memory (export "memory") 1)
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 1024)
    (func $spin (param $n i32) (local $i i32)
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))
    ${body})`;
  const policy = makePolicy({ fuelPerCall });
  const a = new AgentInstance(new WebAssembly.Module(admitModule(await wat(src), policy).bytes), svc, fuelPerCall);
  a.instantiate();
  return a;
}

function fuelFault(fn: () => unknown): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof AgentFault, String(e));
    assert.equal(e.kind, 'fuel_exhausted', e.message);
    return true;
  });
}

test('agent fuel - the fuel a call used is reported to the unit, and every call starts from the whole budget', async () => {
  // handle_message: local.get, call, i32.const, end = 4, then spin(message length).
  const a = await instance('(func (export "handle_message") (param $p i32) (param $n i32) (result i32) (call $spin (local.get $n)) (i32.const 0))', 100_000);
  const before = a.totalFuelUsed;
  const sizes = [0, 1, 100, 8000, 3];
  for (const n of sizes) {
    assert.equal(a.handle('x'.repeat(n)), 0);
    assert.equal(a.lastFuelUsed, ALLOC + 4 + spin(n), `a message of ${n} bytes`);
  }
  assert.equal(a.totalFuelUsed - before, sizes.reduce((s, n) => s + ALLOC + 4 + spin(n), 0));
  // 8000 bytes used 96% of the budget; the next call still has all of it.
  assert.equal(a.handle('x'.repeat(8000)), 0);
});

test('agent fuel - a host call made after the guest used most of its fuel charges the same counter', async () => {
  const lines: string[] = [];
  const svc = new NullServices();
  svc.log = (_level, text) => void lines.push(text);
  // handle_message: spin(n); log 4 bytes (500 + 4 units); spin(1); return 0.
  // Its own operators: local.get, call, i32.const x3, call, i32.const, call, i32.const, end = 10.
  const a = await instance(
    `(func (export "handle_message") (param $p i32) (param $n i32) (result i32)
       (call $spin (local.get $n))
       (call $log (i32.const 2) (i32.const 0) (i32.const 4))
       (call $spin (i32.const 1))
       (i32.const 0))`,
    100_000,
    svc,
    '(import "caxton" "log" (func $log (param i32 i32 i32)))',
  );
  const total = (n: number) => ALLOC + 10 + spin(n) + 504 + spin(1);
  // n = 8287 uses the budget to the unit.
  assert.equal(total(8287), 100_000);
  assert.equal(a.handle('x'.repeat(8287)), 0);
  assert.equal(a.lastFuelUsed, 100_000);
  assert.equal(lines.length, 1);
  // n = 8288: 518 left for the log, which takes 504; the guest's last loop then runs out.
  fuelFault(() => a.handle('x'.repeat(8288)));
  assert.equal(lines.length, 2, 'the log call went through');
  assert.equal(a.lastFuelUsed, 100_000);
  // n = 8290: 494 left, less than the log's base cost: the host refuses the call, nothing is logged.
  fuelFault(() => a.handle('x'.repeat(8290)));
  assert.equal(lines.length, 2);
});

test('agent fuel - deep recursion without any loop runs out of fuel under a small budget', async () => {
  // rec: 11 operators per call (local.get, i32.eqz, if, i32.const, else, local.get, i32.const,
  // i32.sub, call, end, end); inf: 3 per call (local.get, call, end).
  // handle_message: 10 operators; an empty message recurses forever, n bytes recurse n deep.
  const a = await instance(
    `(func $rec (param i32) (result i32)
       (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
         (else (call $rec (i32.sub (local.get 0) (i32.const 1))))))
     (func $inf (param i32) (result i32) (call $inf (local.get 0)))
     (func (export "handle_message") (param $p i32) (param $n i32) (result i32)
       (if (result i32) (i32.eqz (local.get $n)) (then (call $inf (i32.const 0))) (else (call $rec (local.get $n)))))`,
    1000,
  );
  assert.equal(a.handle('x'.repeat(88)), 0);
  assert.equal(a.lastFuelUsed, ALLOC + 10 + 11 * 89);
  fuelFault(() => a.handle('x'.repeat(89)));
  assert.equal(a.lastFuelUsed, 1000);
  // A few hundred frames deep, far from the stack's limit: fuel, not a stack overflow, stops it.
  fuelFault(() => a.handle(''));
  assert.equal(a.lastFuelUsed, 1000);
});

test('agent fuel - a loop that never ends stops with fuel_exhausted on the default budget, calls and all', async () => {
  const a = await instance(
    '(func (export "handle_message") (param i32 i32) (result i32) (loop $l (call $spin (i32.const 1)) (br $l)) (i32.const 0))',
    DEFAULT_FUEL_PER_CALL,
  );
  for (let i = 0; i < 3; i++) {
    fuelFault(() => a.handle('{}'));
    assert.equal(a.lastFuelUsed, DEFAULT_FUEL_PER_CALL);
  }
});
