/** Small agents written in WAT for tests that need an agent to do one precise thing. */
import { wat } from './wat.js';

/**
 * An agent that stores every message it receives under the key-value key "last" and, on its first
 * message, sends `request` (JSON text) through caxton.send.
 */
export async function initiatorAgent(request: string): Promise<Uint8Array> {
  const escaped = request.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return wat(`(module
    (import "caxton" "send" (func $send (param i32 i32) (result i32)))
    (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "last")
    (data (i32.const 16) "${escaped}")
    (global $first (mut i32) (i32.const 1))
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "handle_message") (param $p i32) (param $n i32) (result i32)
      (drop (call $kvs (i32.const 0) (i32.const 4) (local.get $p) (local.get $n)))
      (if (global.get $first) (then
        (global.set $first (i32.const 0))
        (drop (call $send (i32.const 16) (i32.const ${Buffer.byteLength(request)})))))
      (i32.const 0)))`);
}

/** An agent that stores every message it receives under the key-value key "last", and does nothing else. */
export async function sinkAgent(): Promise<Uint8Array> {
  return wat(`(module
    (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "last")
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "handle_message") (param $p i32) (param $n i32) (result i32)
      (drop (call $kvs (i32.const 0) (i32.const 4) (local.get $p) (local.get $n)))
      (i32.const 0)))`);
}

/** Like sinkAgent, and subscribes to `topic` in agent_init. */
export async function subscriberAgent(topic: string): Promise<Uint8Array> {
  return wat(`(module
    (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
    (import "caxton" "topic_subscribe" (func $sub (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "last")
    (data (i32.const 16) "${topic}")
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "agent_init") (param i32 i32) (result i32) (call $sub (i32.const 16) (i32.const ${Buffer.byteLength(topic)})))
    (func (export "handle_message") (param $p i32) (param $n i32) (result i32)
      (drop (call $kvs (i32.const 0) (i32.const 4) (local.get $p) (local.get $n)))
      (i32.const 0)))`);
}

/**
 * An agent that keeps the document agent_init received under the key "init" (the last start wins),
 * and answers nothing.
 */
export async function initRecorderAgent(): Promise<Uint8Array> {
  return wat(`(module
    (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "init")
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param i32) (result i32) i32.const 8192)
    (func (export "agent_init") (param $p i32) (param $n i32) (result i32)
      (drop (call $kvs (i32.const 0) (i32.const 4) (local.get $p) (local.get $n)))
      (i32.const 0))
    (func (export "handle_message") (param i32 i32) (result i32) (i32.const 0)))`);
}
