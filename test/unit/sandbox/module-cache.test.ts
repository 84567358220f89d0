/** The module cache: bounded by bytes, least recently used first, never a module an agent needs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitInThread, type Admitter } from '../../../src/sandbox/admission.js';
import { ModuleCache } from '../../../src/sandbox/module-cache.js';
import { DEFAULT_POLICY } from '../../../src/sandbox/policy.js';
import { wat } from '../../helpers/wat.js';

/** An agent module of about `kib` KiB (a data segment of that size), distinct per `tag`. */
async function sized(tag: string, kib: number): Promise<Uint8Array> {
  const data = `${tag}:`.padEnd(kib * 1024, 'x');
  return wat(`(module
    (memory (export "memory") 1)
    (data (i32.const 0) "${data}")
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 1024)
    (func (export "handle_message") (param i32 i32) (result i32) i32.const 0))`);
}

/** admitInThread, counting its calls. */
function counting(): Admitter & { calls: number } {
  const a = {
    calls: 0,
    admit: (bytes: Uint8Array, policy: typeof DEFAULT_POLICY) => {
      a.calls++;
      return admitInThread.admit(bytes, policy);
    },
    close: () => admitInThread.close(),
  };
  return a;
}

test('module cache - within its bound nothing is forgotten; bytes and modules are counted', async () => {
  const cache = new ModuleCache(DEFAULT_POLICY, { admitter: admitInThread, maxBytes: 64 * 1024 });
  const a = await cache.admit(await sized('a', 10));
  const b = await cache.admit(await sized('b', 10));
  assert.equal(cache.size, 2);
  assert.equal(cache.bytes, a.admitted.bytes.length + b.admitted.bytes.length);
  assert.ok(cache.bytes > 20 * 1024);
  assert.equal(cache.evictions, 0);
});

test('module cache - past its bound the least recently used go first, and a use counts as recent', async () => {
  const evicted: string[] = [];
  const cache = new ModuleCache(DEFAULT_POLICY, { admitter: admitInThread, maxBytes: 35 * 1024, onEvict: (h) => evicted.push(h) });
  const a = await cache.admit(await sized('a', 10));
  const b = await cache.admit(await sized('b', 10));
  const c = await cache.admit(await sized('c', 10));
  assert.equal(cache.get(a.hash)?.hash, a.hash); // a is now more recent than b
  const d = await cache.admit(await sized('d', 10));
  assert.deepEqual(evicted, [b.hash]);
  assert.deepEqual(cache.hashes(), [c.hash, a.hash, d.hash]);
  assert.equal(cache.get(b.hash)?.hash, undefined);
  assert.equal(cache.evictions, 1);
  assert.ok(cache.bytes <= 35 * 1024);
});

test('module cache - a module an agent needs is never forgotten, even above the bound', async () => {
  const used = new Set<string>();
  const cache = new ModuleCache(DEFAULT_POLICY, { admitter: admitInThread, maxBytes: 15 * 1024, inUse: () => used });
  const a = await cache.admit(await sized('a', 10));
  used.add(a.hash);
  const b = await cache.admit(await sized('b', 10));
  // Both stay: a is in use, b was just admitted (its caller is about to start an agent from it).
  assert.deepEqual(cache.hashes(), [a.hash, b.hash]);
  assert.ok(cache.bytes > cache.maxBytes);
  const c = await cache.admit(await sized('c', 10));
  assert.deepEqual(cache.hashes(), [a.hash, c.hash], 'b, unused and least recent, went');
  used.clear();
  await cache.admit(await sized('d', 1));
  assert.equal(cache.get(a.hash)?.hash, undefined, 'a went once no agent needed it');
});

test('module cache - an evicted module can be admitted again from the same bytes', async () => {
  const admitter = counting();
  const cache = new ModuleCache(DEFAULT_POLICY, { admitter, maxBytes: 0 });
  const bytes = await sized('a', 4);
  const a = await cache.admit(bytes);
  await cache.admit(await sized('b', 4));
  assert.equal(cache.get(a.hash)?.hash, undefined);
  const again = await cache.admit(bytes);
  assert.equal(again.hash, a.hash);
  assert.equal(admitter.calls, 3);
});

test('module cache - the same bytes admitted twice at once are admitted once', async () => {
  const admitter = counting();
  const cache = new ModuleCache(DEFAULT_POLICY, { admitter });
  const bytes = await sized('a', 4);
  const [x, y] = await Promise.all([cache.admit(bytes), cache.admit(bytes)]);
  assert.ok(x === y, 'one entry for both');
  assert.equal(admitter.calls, 1);
  assert.ok((await cache.admit(bytes)) === x, 'a cache hit');
  assert.equal(admitter.calls, 1);
});
