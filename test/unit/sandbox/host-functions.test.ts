import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createHostImports, type AgentServices } from '../../../src/sandbox/host-functions.js';
import { GuestMemory } from '../../../src/sandbox/guest-memory.js';
import { HostError, HOST_IMPORTS } from '../../../src/sandbox/abi.js';
import { SqliteAgentStateStore } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';
import { wat } from '../../helpers/wat.js';

// A raw guest that re-exports every host import, so the test can call them with any arguments.
const GUEST = `
(module
  (import "caxton" "send" (func $send (param i32 i32) (result i32)))
  (import "caxton" "log" (func $log (param i32 i32 i32)))
  (import "caxton" "time_now_us" (func $now (result i64)))
  (import "caxton" "time_monotonic_us" (func $mono (result i64)))
  (import "caxton" "random_fill" (func $rnd (param i32 i32) (result i32)))
  (import "caxton" "timer_set" (func $ts (param i32 i32 i32) (result i32)))
  (import "caxton" "timer_cancel" (func $tc (param i32) (result i32)))
  (import "caxton" "kv_get" (func $kvg (param i32 i32 i32 i32) (result i32)))
  (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
  (import "caxton" "kv_delete" (func $kvd (param i32 i32) (result i32)))
  (import "caxton" "capability_register" (func $cap (param i32 i32) (result i32)))
  (memory (export "memory") 1 32)
  (func (export "send") (param i32 i32) (result i32) local.get 0 local.get 1 call $send)
  (func (export "log") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 call $log)
  (func (export "now") (result i64) call $now)
  (func (export "mono") (result i64) call $mono)
  (func (export "rnd") (param i32 i32) (result i32) local.get 0 local.get 1 call $rnd)
  (func (export "ts") (param i32 i32 i32) (result i32) local.get 0 local.get 1 local.get 2 call $ts)
  (func (export "tc") (param i32) (result i32) local.get 0 call $tc)
  (func (export "kvg") (param i32 i32 i32 i32) (result i32) local.get 0 local.get 1 local.get 2 local.get 3 call $kvg)
  (func (export "kvs") (param i32 i32 i32 i32) (result i32) local.get 0 local.get 1 local.get 2 local.get 3 call $kvs)
  (func (export "kvd") (param i32 i32) (result i32) local.get 0 local.get 1 call $kvd)
  (func (export "cap") (param i32 i32) (result i32) local.get 0 local.get 1 call $cap)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))`;

type Fn = (...a: number[]) => number;
interface Guest {
  memory: WebAssembly.Memory;
  send: Fn; log: Fn; rnd: Fn; ts: Fn; tc: Fn; kvg: Fn; kvs: Fn; kvd: Fn; cap: Fn; grow: Fn;
  now(): bigint; mono(): bigint;
}

class Recorder implements AgentServices {
  readonly name = 'me';
  maxMessageBytes = 1024;
  sent: string[] = [];
  logs: [number, string][] = [];
  faults: string[] = [];
  timers: [number, string][] = [];
  capabilities: string[] = [];
  failStorage = false;
  quotaFull = false;
  constructor(readonly store: SqliteAgentStateStore) {}
  send(json: string): number { this.sent.push(json); return 0; }
  log(level: number, text: string): void { this.logs.push([level, text]); }
  kvGet(k: Uint8Array) { if (this.failStorage) throw new Error('disk on fire'); return this.store.get(this.name, k); }
  kvSet(k: Uint8Array, v: Uint8Array) { if (this.failStorage) throw new Error('disk on fire'); if (this.quotaFull) return HostError.QUOTA; this.store.set(this.name, k, v); return 0; }
  kvDelete(k: Uint8Array) { this.store.delete(this.name, k); }
  timerSet(delay: number, json: string): number { this.timers.push([delay, json]); return this.timers.length; }
  timerCancel(id: number): number { return id <= this.timers.length ? 0 : HostError.NOT_FOUND; }
  registerCapability(c: string): number { this.capabilities.push(c); return 0; }
  subscribe(): number { return 0; }
  hostFault(what: string): void { this.faults.push(what); }
}

let dir: ReturnType<typeof tempDir>;
let store: SqliteAgentStateStore;
let module: WebAssembly.Module;
before(async () => {
  dir = tempDir();
  store = new SqliteAgentStateStore(join(dir.path, 'kv.db'));
  module = new WebAssembly.Module(await wat(GUEST));
});
after(() => { store.close(); dir.cleanup(); });

function guest(): { g: Guest; svc: Recorder; put(at: number, s: string | Uint8Array): number } {
  const svc = new Recorder(store);
  const mem = new GuestMemory();
  const inst = new WebAssembly.Instance(module, createHostImports(mem, svc));
  const g = inst.exports as unknown as Guest;
  mem.attach(g.memory);
  const put = (at: number, s: string | Uint8Array) => {
    const bytes = typeof s === 'string' ? new TextEncoder().encode(s) : s;
    new Uint8Array(g.memory.buffer).set(bytes, at);
    return bytes.length;
  };
  return { g, svc, put };
}

const OOB = [
  [0xfffffff0 | 0, 100], // "negative" pointer
  [65530, 100], // runs off the end of the only page
  [0, -1], // "negative" length
  [65536, 1], // one past the end
] as const;

test('host send - a valid message is completed and handed to the services', () => {
  const { g, svc, put } = guest();
  const n = put(100, '{"performative":"inform","receiver":"you","content":"hi"}');
  assert.equal(g.send(100, n), HostError.OK);
  const m = JSON.parse(svc.sent[0]!);
  assert.equal(m.sender, 'me');
  assert.equal(m.receiver, 'you');
  assert.equal(m.content, 'hi');
});

test('host send - out-of-bounds, oversized, invalid UTF-8 and spoofed messages are refused with codes', () => {
  const { g, svc, put } = guest();
  for (const [p, l] of OOB) assert.equal(g.send(p, l), HostError.BOUNDS, `send(${p}, ${l})`);
  assert.equal(g.send(0, 2000), HostError.TOO_LARGE);
  const bad = put(0, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
  assert.equal(g.send(0, bad), HostError.INVALID_MESSAGE);
  const spoof = put(0, '{"performative":"inform","sender":"boss","receiver":"you"}');
  assert.equal(g.send(0, spoof), HostError.INVALID_MESSAGE);
  assert.equal(svc.sent.length, 0, 'nothing refused reached the router');
  assert.ok(svc.logs.some(([lvl, t]) => lvl === 3 && /sender "boss"/.test(t)), 'the refusal is logged for the agent author');
});

test('host log - levels, truncation at 4 KiB, and out-of-range pointers ignored', () => {
  const { g, svc, put } = guest();
  const n = put(0, 'hello');
  g.log(2, 0, n);
  g.log(99, 0, n);
  put(1000, 'x'.repeat(5000));
  g.log(4, 1000, 5000);
  for (const [p, l] of OOB) g.log(2, p, l);
  assert.deepEqual(svc.logs[0], [2, 'hello']);
  assert.equal(svc.logs[1]![0], 2, 'unknown level becomes info');
  assert.equal(svc.logs[2]![1].length, 4097, '4096 bytes and an ellipsis');
  assert.equal(svc.logs.length, 3);
});

test('host time - wall clock in µs and a monotonic clock', () => {
  const { g } = guest();
  const now = Number(g.now());
  assert.ok(Math.abs(now / 1000 - Date.now()) < 50, `time_now_us ${now} is near Date.now()`);
  const a = g.mono();
  const b = g.mono();
  assert.ok(b >= a);
});

test('host random_fill - fills the range, refuses bad ranges and over 64 KiB', () => {
  const { g } = guest();
  assert.equal(g.rnd(0, 4096), HostError.OK);
  const bytes = new Uint8Array(g.memory.buffer, 0, 4096);
  assert.ok(new Set(bytes).size > 200, 'looks random');
  assert.equal(g.rnd(0, 0), HostError.OK);
  for (const [p, l] of OOB) assert.equal(g.rnd(p, l), HostError.BOUNDS);
  g.grow(1);
  assert.equal(g.rnd(0, 64 * 1024 + 1), HostError.TOO_LARGE);
});

test('host kv - set, get (whole and partial), delete, persisted in SQLite', () => {
  const { g, put } = guest();
  const k = put(0, 'counter');
  const v = put(100, '12345');
  assert.equal(g.kvs(0, k, 100, v), HostError.OK);
  assert.equal(new TextDecoder().decode(store.get('me', new TextEncoder().encode('counter'))), '12345', 'the value is in the database');
  assert.equal(g.kvg(0, k, 200, 64), 5);
  assert.equal(new TextDecoder().decode(new Uint8Array(g.memory.buffer, 200, 5)), '12345');
  new Uint8Array(g.memory.buffer, 300, 8).fill(0);
  assert.equal(g.kvg(0, k, 300, 2), 5, 'the full length is returned when the buffer is short');
  assert.deepEqual([...new Uint8Array(g.memory.buffer, 300, 3)], [0x31, 0x32, 0], 'only buf_cap bytes written');
  assert.equal(g.kvd(0, k), HostError.OK);
  assert.equal(g.kvg(0, k, 200, 64), HostError.NOT_FOUND);
  assert.equal(g.kvd(0, k), HostError.OK, 'deleting a missing key is fine');
});

test('host kv - bad keys, bad ranges, oversized values, storage failures', () => {
  const { g, svc, put } = guest();
  put(0, 'k');
  assert.equal(g.kvs(0, 0, 100, 1), HostError.INVALID_ARGUMENT, 'empty key');
  assert.equal(g.kvs(0, 257, 100, 1), HostError.TOO_LARGE, 'key over 256 bytes');
  for (const [p, l] of OOB) {
    assert.equal(g.kvs(p, l, 100, 1), HostError.BOUNDS);
    assert.equal(g.kvs(0, 1, p, l), HostError.BOUNDS);
    assert.equal(g.kvg(p, l, 100, 1), HostError.BOUNDS);
    assert.equal(g.kvg(0, 1, p, l), HostError.BOUNDS);
    assert.equal(g.kvd(p, l), HostError.BOUNDS);
  }
  g.grow(16); // 17 pages: room for a value one byte over the limit
  assert.equal(g.kvs(0, 1, 0, 1024 * 1024 + 1), HostError.TOO_LARGE);
  svc.failStorage = true;
  assert.equal(g.kvs(0, 1, 100, 1), HostError.UNAVAILABLE);
  assert.equal(g.kvg(0, 1, 100, 1), HostError.UNAVAILABLE);
  assert.deepEqual(svc.faults, ['kv_set', 'kv_get']);
});

test('host memory - views follow memory.grow', () => {
  const { g, put } = guest();
  assert.equal(g.grow(1), 1);
  const at = 65536 + 10; // only exists after the grow
  const k = put(at, 'late');
  const v = put(at + 100, 'value');
  assert.equal(g.kvs(at, k, at + 100, v), HostError.OK);
  assert.equal(g.kvg(at, k, at + 200, 16), 5);
});

test('host timers - a timer message goes to the agent itself; bad delays are refused', () => {
  const { g, svc, put } = guest();
  const n = put(0, '{"performative":"inform","receiver":"someone-else","content":"tick"}');
  assert.equal(g.ts(50, 0, n), 1);
  const [delay, json] = svc.timers[0]!;
  assert.equal(delay, 50);
  assert.equal(JSON.parse(json).receiver, 'me');
  assert.equal(JSON.parse(json).sender, 'me');
  // Whatever address it had (a capability, a topic) gives way to the agent itself.
  for (const address of ['"capability":"pricing"', '"topic":"news"']) {
    const m = put(0, `{"performative":"inform",${address},"content":"tick","ontology":"my.timer"}`);
    assert.ok(g.ts(5, 0, m) > 0, address);
    const sent = JSON.parse(svc.timers.at(-1)![1]) as Record<string, unknown>;
    assert.deepEqual([sent['receiver'], sent['capability'], sent['topic'], sent['ontology']], ['me', undefined, undefined, 'my.timer']);
  }
  assert.equal(g.ts(-1, 0, n), HostError.INVALID_ARGUMENT);
  assert.equal(g.ts(24 * 3600 * 1000 + 1, 0, n), HostError.INVALID_ARGUMENT);
  for (const [p, l] of OOB) assert.equal(g.ts(10, p, l), HostError.BOUNDS);
  const junk = put(0, 'nope');
  assert.equal(g.ts(10, 0, junk), HostError.INVALID_MESSAGE);
  assert.equal(g.tc(1), HostError.OK);
  assert.equal(g.tc(99), HostError.NOT_FOUND);
});

test('host timers - a timer message is checked as a send is: a key twice and deep nesting are refused with a code, never thrown', () => {
  const { g, svc, put } = guest();
  // The receiver a repeated sender would hide from another parser: refused, as caxton.send refuses it.
  const dup = put(0, '{"performative":"inform","sender":"other","sender":"me","content":"tick"}');
  assert.equal(g.ts(10, 0, dup), HostError.INVALID_MESSAGE);
  assert.match(svc.logs.at(-1)?.[1] ?? '', /^timer_set refused: \/sender: the key "sender" appears more than once/);
  // 50,000 levels: JSON.stringify would run out of stack in the host import; refused by the depth check.
  svc.maxMessageBytes = 200_000;
  assert.ok(g.grow(2) >= 0);
  const levels = 50_000;
  const deep = put(0, `{"performative":"inform","content":${'['.repeat(levels)}1${']'.repeat(levels)}}`);
  assert.equal(g.ts(10, 0, deep), HostError.INVALID_MESSAGE);
  assert.match(svc.logs.at(-1)?.[1] ?? '', /^timer_set refused: \/content: nests deeper than 128 levels/);
  assert.equal(svc.timers.length, 0, 'no timer was set');
  // A timer message without a receiver gets the agent's name; the rest of its text is kept as written.
  const plain = put(0, '{"performative":"inform","content":{"k":[1, 2]},"x-mine":true}');
  assert.equal(g.ts(10, 0, plain), 1);
  const [, json] = svc.timers[0]!;
  assert.match(json, /"content":\{"k":\[1, 2\]\},"x-mine":true\}$/, 'spliced, not re-serialized');
  assert.deepEqual([JSON.parse(json).receiver, JSON.parse(json).sender], ['me', 'me']);
});

test('host imports - the import object offers exactly the ABI table', () => {
  const imports = createHostImports(new GuestMemory(), new Recorder(store));
  assert.deepEqual(Object.keys(imports['caxton']!).sort(), Object.keys(HOST_IMPORTS).sort());
});

test('host capability_register - valid names reach the services; bad ones get codes', () => {
  const { g, svc, put } = guest();
  const n = put(0, 'arithmetic/v1');
  assert.equal(g.cap(0, n), HostError.OK);
  assert.deepEqual(svc.capabilities, ['arithmetic/v1']);
  for (const bad of ['', '-x', 'has space', 'ü']) {
    const m = put(100, bad);
    assert.equal(g.cap(100, m), HostError.INVALID_ARGUMENT, JSON.stringify(bad));
  }
  const bytes = put(200, new Uint8Array([0xff, 0xfe]));
  assert.equal(g.cap(200, bytes), HostError.INVALID_ARGUMENT, 'invalid UTF-8');
  assert.equal(g.cap(0, 129), HostError.TOO_LARGE);
  for (const [p, l] of OOB) assert.equal(g.cap(p, l), HostError.BOUNDS);
  assert.deepEqual(svc.capabilities, ['arithmetic/v1']);
});

test('host kv - a full quota is reported to the guest as ERR_QUOTA', () => {
  const { g, svc, put } = guest();
  const k = put(0, 'big');
  svc.quotaFull = true;
  assert.equal(g.kvs(0, k, 100, 10), HostError.QUOTA);
});
