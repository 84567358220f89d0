/** The per-agent key-value quota, through a WorkerRuntime on the test's thread with a real store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitModule } from '../../../src/sandbox/wasm/index.js';
import { makePolicy } from '../../../src/sandbox/policy.js';
import { AbiLimits, HostError } from '../../../src/sandbox/abi.js';
import { wat } from '../../helpers/wat.js';
import { inThreadRuntime } from '../../helpers/runtime.js';

// Writes keys 0, 1, 2, ... (4 bytes each, 4-byte values) until kv_set fails; returns that code.
// A second message deletes key 0 and writes one new key.
const FILLER = `(module
  (import "caxton" "kv_set" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "caxton" "kv_delete" (func $del (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $round (mut i32) (i32.const 0))
  (func (export "caxton_abi_version") (result i32) i32.const 1)
  (func (export "caxton_alloc") (param i32) (result i32) i32.const 4096)
  (func (export "handle_message") (param i32 i32) (result i32) (local $i i32) (local $rc i32)
    (if (global.get $round) (then
      (i32.store (i32.const 0) (i32.const 0))
      (drop (call $del (i32.const 0) (i32.const 4)))
      (i32.store (i32.const 0) (i32.const 999999))
      (return (call $set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 4)))))
    (global.set $round (i32.const 1))
    (loop $l
      (i32.store (i32.const 0) (local.get $i))
      (local.set $rc (call $set (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 4)))
      (if (i32.eqz (local.get $rc)) (then (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))
    (local.get $rc)))`;

test('kv quota - an agent can hold at most maxKeysPerAgent keys; deleting makes room again', async () => {
  const t = inThreadRuntime({ fuelPerCall: 1e12, mailboxCapacity: 10 }); // the loop makes 10,000 storage calls
  const { rt, store } = t;
  try {
    rt.addModule('h', new WebAssembly.Module(admitModule(await wat(FILLER), makePolicy()).bytes));
    rt.spawn({ op: 'spawn', key: 1, id: 'i', name: 'filler', hash: 'h', config: '{}', restarts: 0, hold: false });
    const msg = JSON.stringify({ performative: 'inform', sender: 'c', receiver: 'filler', content: 1 });
    rt.deliverBatch(['filler', msg, 1]);
    assert.deepEqual(store.usage('filler'), { keys: AbiLimits.maxKeysPerAgent, bytes: AbiLimits.maxKeysPerAgent * 8 });
    const [s1] = rt.stats();
    assert.equal(s1!.errors, 1, `the loop ended with ERR_QUOTA (${HostError.QUOTA}) as its status`);
    rt.deliverBatch(['filler', msg, 1]);
    const [s2] = rt.stats();
    assert.equal(s2!.errors, 1, 'after a delete, the next write fits');
    assert.equal(store.usage('filler').keys, AbiLimits.maxKeysPerAgent);
    rt.stop('filler');
  } finally {
    t.close();
  }
});
