/** The clocks an agent reads: time_monotonic_us is one clock for every agent of the node, whatever worker runs it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteAgentStateStore } from '../../src/storage/index.js';
import { withPool } from '../helpers/pool.js';
import { wat } from '../helpers/wat.js';
import { until } from '../helpers/until.js';

// On each message, stores time_monotonic_us (8 bytes, little-endian) under the key "mono".
const CLOCK_READER = `(module
  (import "caxton" "time_monotonic_us" (func $mono (result i64)))
  (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "mono")
  (func (export "caxton_abi_version") (result i32) i32.const 1)
  (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
  (func (export "handle_message") (param i32 i32) (result i32)
    (i64.store (i32.const 16) (call $mono))
    (call $kvs (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 8))))`;

test('clocks - time_monotonic_us read by agents on two workers lies between two readings of the host clock', async () => {
  await withPool({ workers: 2 }, async (pool, { databasePath }) => {
    const m = await pool.admit(await wat(CLOCK_READER));
    await pool.spawn({ name: 'a', module: m.hash });
    await pool.spawn({ name: 'b', module: m.hash });
    assert.notEqual(pool.agent('a')?.worker, pool.agent('b')?.worker, 'one agent per worker');
    const store = new SqliteAgentStateStore(databasePath);
    try {
      const before = process.hrtime.bigint() / 1000n;
      for (const name of ['a', 'b']) pool.deliver(name, JSON.stringify({ performative: 'inform', sender: 'c', receiver: name, content: 1 }));
      const read = (name: string) => until(`${name} read its clock`, () => {
        const v = store.get(name, new TextEncoder().encode('mono'));
        return v === undefined ? undefined : Buffer.from(v).readBigInt64LE(0);
      });
      const [a, b] = [await read('a'), await read('b')];
      const after = process.hrtime.bigint() / 1000n;
      for (const [name, t] of [['a', a], ['b', b]] as const) {
        assert.ok(t >= before && t <= after, `${name}: ${t} µs is not within [${before}, ${after}]: the agents' clock is not the host's`);
      }
    } finally {
      store.close();
    }
  });
});
