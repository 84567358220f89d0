/** AgentInstance on the test's own thread: ABI checks, metered calls and fault classification. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentFault, AgentInstance, makePolicy, type AgentServices } from '../../../src/sandbox/index.js';
import { NullServices } from '../../helpers/null-services.js';
import { admitModule } from '../../../src/sandbox/wasm/index.js';
import { fixtureWasm } from '../../helpers/agents.js';
import { wat } from '../../helpers/wat.js';

const policy = makePolicy({ fuelPerCall: 100_000 });

class Services extends NullServices {
  sent: string[] = [];
  override send(json: string): number {
    this.sent.push(json);
    return 0;
  }
}

function instance(bytes: Uint8Array, svc: AgentServices = new Services()): AgentInstance {
  return new AgentInstance(new WebAssembly.Module(admitModule(bytes, policy).bytes), svc, policy.fuelPerCall);
}

function fault(fn: () => unknown, kind: string, phase: string, message?: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof AgentFault, String(e));
    assert.equal(e.kind, kind);
    assert.equal(e.phase, phase);
    if (message) assert.match(e.message, message);
    return true;
  });
}

// handle_message: 0 -> return 0; 1 -> unreachable; 2 -> spin; 3 -> return -7; anything else: recurse.
const SWITCH = `(module
  (memory (export "memory") 1)
  (func (export "caxton_abi_version") (result i32) i32.const 1)
  (func (export "caxton_alloc") (param i32) (result i32) i32.const 1024)
  (func $rec (param i32) (result i32) (i32.add (call $rec (local.get 0)) (i32.const 1)))
  (func (export "handle_message") (param $p i32) (param $n i32) (result i32) (local $c i32)
    (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
    (if (i32.eqz (local.get $c)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $c) (i32.const 1)) (then unreachable))
    (if (i32.eq (local.get $c) (i32.const 2)) (then (loop $l (br $l))))
    (if (i32.eq (local.get $c) (i32.const 3)) (then (return (i32.const -7))))
    (call $rec (i32.const 0))))`;

test('agent instance - handle returns the agent status; fuel use is measured and deterministic', async () => {
  const a = instance(await wat(SWITCH));
  a.instantiate();
  a.init('{}');
  assert.equal(a.handle('0'), 0);
  const used = a.lastFuelUsed;
  assert.ok(used > 0 && used < 100, `fuel for a trivial call: ${used}`);
  assert.equal(a.handle('0'), 0);
  assert.equal(a.lastFuelUsed, used, 'same call, same fuel');
  assert.equal(a.handle('3'), -7);
  assert.ok(a.totalFuelUsed >= 3 * used);
  assert.equal(a.memoryBytes, 65536);
});

test('agent instance - trap, fuel exhaustion and stack overflow are told apart', async () => {
  const bytes = await wat(SWITCH);
  const a = instance(bytes);
  a.instantiate();
  fault(() => a.handle('1'), 'trap', 'message', /unreachable/);
  const b = instance(bytes);
  b.instantiate();
  fault(() => b.handle('2'), 'fuel_exhausted', 'message', /^fuel exhausted \(CPU limit reached\)$/);
  assert.equal(b.lastFuelUsed, policy.fuelPerCall, 'an exhausted call used its whole budget');
  const c = instance(bytes);
  c.instantiate();
  fault(() => c.handle('9'), 'stack_overflow', 'message');
  // A fresh instance of the same module is fine: that is what re-instantiation relies on.
  const d = instance(bytes);
  d.instantiate();
  assert.equal(d.handle('0'), 0);
});

test('agent instance - an infinite start function is stopped by fuel during instantiation', () => {
  fault(() => instance(fixtureWasm('start-loop')).instantiate(), 'fuel_exhausted', 'start');
});

test('agent instance - the ABI version is checked', () => {
  fault(() => instance(fixtureWasm('wrong-abi-version')).instantiate(), 'bad_abi', 'start', /returned 2; this host speaks version 1/);
});

test('agent instance - a caxton_alloc result outside memory is refused before anything is written', () => {
  const a = instance(fixtureWasm('alloc-out-of-bounds'));
  a.instantiate();
  fault(() => a.init('{"abi_version":1}'), 'alloc_failed', 'init', /caxton_alloc\(17\) returned 4294967280/);
});

test('agent instance - agent_init returning non-zero fails the start', async () => {
  const a = instance(
    await wat(`(module (memory (export "memory") 1)
      (func (export "caxton_abi_version") (result i32) i32.const 1)
      (func (export "caxton_alloc") (param i32) (result i32) i32.const 64)
      (func (export "agent_init") (param i32 i32) (result i32) i32.const 3)
      (func (export "handle_message") (param i32 i32) (result i32) i32.const 0))`),
  );
  a.instantiate();
  fault(() => a.init('{}'), 'init_failed', 'init', /agent_init returned 3/);
});

test('agent instance - a module that skipped admission is refused', async () => {
  const raw = await wat(`(module (memory (export "memory") 1)
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 64)
    (func (export "handle_message") (param i32 i32) (result i32) i32.const 0))`);
  const a = new AgentInstance(new WebAssembly.Module(raw), new Services(), 1000);
  fault(() => a.instantiate(), 'bad_abi', 'start', /not admitted/);
});

test('agent instance - messages are written as UTF-8 into the buffer caxton_alloc returned', async () => {
  const svc = new Services();
  // Echoes the raw bytes it received back through caxton.send.
  const a = instance(
    await wat(`(module
      (import "caxton" "send" (func $send (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "caxton_abi_version") (result i32) i32.const 1)
      (func (export "caxton_alloc") (param i32) (result i32) i32.const 4096)
      (func (export "handle_message") (param i32 i32) (result i32) (call $send (local.get 0) (local.get 1))))`),
    svc,
  );
  a.instantiate();
  const text = '{"performative":"inform","receiver":"x","content":"ünï ✓ 𝄞"}';
  assert.equal(a.handle(text), 0);
  assert.equal(JSON.parse(svc.sent[0]!).content, 'ünï ✓ 𝄞');
});

test('agent instance - host calls are charged to fuel: a loop of log calls runs out', async () => {
  const svc = new Services();
  let lines = 0;
  svc.log = () => void lines++;
  const a = instance(
    await wat(`(module
      (import "caxton" "log" (func $log (param i32 i32 i32)))
      (memory (export "memory") 1)
      (func (export "caxton_abi_version") (result i32) i32.const 1)
      (func (export "caxton_alloc") (param i32) (result i32) i32.const 1024)
      (func (export "handle_message") (param i32 i32) (result i32)
        (loop $l (call $log (i32.const 2) (i32.const 0) (i32.const 4000)) (br $l))
        (i32.const 0)))`),
    svc,
  );
  a.instantiate();
  fault(() => a.handle('x'), 'fuel_exhausted', 'message');
  // 100,000 fuel at 500 + 4000 per line: the 23rd line overdraws the budget.
  assert.equal(lines, 22);
});
