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

/** WAT data string for `text` (ASCII): quotes and backslashes escaped. */
function watString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/**
 * Two WAT helpers: `$find(p, n, k, kn)` returns the offset just past the first occurrence of the kn
 * bytes at k within the n bytes at p, or -1; `$copyq(src, dst)` copies bytes up to the next `"` and
 * returns the end of what it wrote.
 */
const SCAN_FUNCS = `
  (func $find (param $p i32) (param $n i32) (param $k i32) (param $kn i32) (result i32)
    (local $i i32) (local $j i32)
    (block $none
      (loop $outer
        (br_if $none (i32.gt_s (i32.add (local.get $i) (local.get $kn)) (local.get $n)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.eq (local.get $j) (local.get $kn)) (then (return (i32.add (local.get $i) (local.get $kn)))))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (local.get $p) (i32.add (local.get $i) (local.get $j))))
                                     (i32.load8_u (i32.add (local.get $k) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (i32.const -1))
  (func $copyq (param $s i32) (param $d i32) (result i32)
    (local $c i32)
    (block $done
      (loop $l
        (local.set $c (i32.load8_u (local.get $s)))
        (br_if $done (i32.eq (local.get $c) (i32.const 34)))
        (i32.store8 (local.get $d) (local.get $c))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (br $l)))
    (local.get $d))`;

/**
 * The reply part of the agents below: `$reply(p, n)` answers the message at p with
 * `{"performative":"inform","content":{"ok":true},"receiver":<its sender>,"in_reply_to":<its reply_with>}`.
 * Data it uses lives at 0..511; the reply is built at 1024. Messages are read at 32768 (caxton_alloc).
 */
function replyFuncs(): { data: string; funcs: string } {
  const parts = {
    sender: '"sender":"',
    replyWith: '"reply_with":"',
    head: '{"performative":"inform","content":{"ok":true},"receiver":"',
    mid: '","in_reply_to":"',
    tail: '"}',
  };
  const at = { sender: 16, replyWith: 32, head: 64, mid: 192, tail: 224 } as const;
  const len = (k: keyof typeof parts) => Buffer.byteLength(parts[k]);
  const data = (Object.keys(parts) as (keyof typeof parts)[]).map((k) => `(data (i32.const ${at[k]}) "${watString(parts[k])}")`).join('\n    ');
  const funcs = `${SCAN_FUNCS}
  (func $reply (param $p i32) (param $n i32)
    (local $s i32) (local $r i32) (local $o i32)
    (local.set $s (call $find (local.get $p) (local.get $n) (i32.const ${at.sender}) (i32.const ${len('sender')})))
    (if (i32.lt_s (local.get $s) (i32.const 0)) (then (return)))
    (memory.copy (i32.const 1024) (i32.const ${at.head}) (i32.const ${len('head')}))
    (local.set $o (call $copyq (i32.add (local.get $p) (local.get $s)) (i32.const ${1024 + len('head')})))
    (local.set $r (call $find (local.get $p) (local.get $n) (i32.const ${at.replyWith}) (i32.const ${len('replyWith')})))
    (if (i32.ge_s (local.get $r) (i32.const 0)) (then
      (memory.copy (local.get $o) (i32.const ${at.mid}) (i32.const ${len('mid')}))
      (local.set $o (call $copyq (i32.add (local.get $p) (local.get $r)) (i32.add (local.get $o) (i32.const ${len('mid')}))))))
    (memory.copy (local.get $o) (i32.const ${at.tail}) (i32.const ${len('tail')}))
    (local.set $o (i32.add (local.get $o) (i32.const ${len('tail')})))
    (drop (call $send (i32.const 1024) (i32.sub (local.get $o) (i32.const 1024)))))`;
  return { data, funcs };
}

/**
 * A trap-handler that only traps on poison: handle_message executes `unreachable` when the message
 * contains the text `poison`, and answers any other message with an inform `{"ok":true}` to its
 * sender, in reply to its reply_with.
 */
export async function poisonableAgent(): Promise<Uint8Array> {
  const r = replyFuncs();
  return wat(`(module
    (import "caxton" "send" (func $send (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "poison")
    ${r.data}
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param $len i32) (result i32)
      (if (result i32) (i32.le_u (local.get $len) (i32.const 32768)) (then (i32.const 32768)) (else (i32.const 0))))
    (func (export "agent_init") (param i32 i32) (result i32) (i32.const 0))
    ${r.funcs}
    (func (export "handle_message") (param $p i32) (param $n i32) (result i32)
      (if (i32.ge_s (call $find (local.get $p) (local.get $n) (i32.const 0) (i32.const 6)) (i32.const 0)) (then unreachable))
      (call $reply (local.get $p) (local.get $n))
      (i32.const 0)))`);
}

/**
 * An agent that a message can break for good: a message containing `break` makes it write the
 * key-value key "broken" and trap; from then on its agent_init traps while that key exists, so it
 * cannot be re-instantiated (a crash no single message explains). Other messages are answered like
 * poisonableAgent's.
 */
export async function brittleAgent(): Promise<Uint8Array> {
  const r = replyFuncs();
  return wat(`(module
    (import "caxton" "send" (func $send (param i32 i32) (result i32)))
    (import "caxton" "kv_get" (func $kvg (param i32 i32 i32 i32) (result i32)))
    (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "break")
    (data (i32.const 8) "broken")
    ${r.data}
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param $len i32) (result i32)
      (if (result i32) (i32.le_u (local.get $len) (i32.const 32768)) (then (i32.const 32768)) (else (i32.const 0))))
    (func (export "agent_init") (param i32 i32) (result i32)
      (if (i32.ge_s (call $kvg (i32.const 8) (i32.const 6) (i32.const 512) (i32.const 1)) (i32.const 0)) (then unreachable))
      (i32.const 0))
    ${r.funcs}
    (func (export "handle_message") (param $p i32) (param $n i32) (result i32)
      (if (i32.ge_s (call $find (local.get $p) (local.get $n) (i32.const 0) (i32.const 5)) (i32.const 0)) (then
        (drop (call $kvs (i32.const 8) (i32.const 6) (i32.const 0) (i32.const 1)))
        unreachable))
      (call $reply (local.get $p) (local.get $n))
      (i32.const 0)))`);
}

/**
 * An agent driven by the text of its messages, for timer tests:
 * - `arm:<ms>` (digits) sets a timer of that many ms whose message has content "tick", and stores
 *   the timer id (4 bytes, little-endian) under the key-value key "id";
 * - `cancel` cancels the timer whose id is under "id" and stores timer_cancel's result under "cancel";
 * - a message containing `tick` (its timer's) adds one to the 4-byte counter under "ticks".
 */
export async function timerAgent(): Promise<Uint8Array> {
  const tick = '{"performative":"inform","content":"tick"}';
  return wat(`(module
    (import "caxton" "timer_set" (func $tset (param i32 i32 i32) (result i32)))
    (import "caxton" "timer_cancel" (func $tcancel (param i32) (result i32)))
    (import "caxton" "kv_get" (func $kvg (param i32 i32 i32 i32) (result i32)))
    (import "caxton" "kv_set" (func $kvs (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "arm:")
    (data (i32.const 8) "cancel")
    (data (i32.const 16) "tick")
    (data (i32.const 24) "ticks")
    (data (i32.const 32) "id")
    (data (i32.const 40) "cancel")
    (data (i32.const 64) "${watString(tick)}")
    ${SCAN_FUNCS}
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param $len i32) (result i32)
      (if (result i32) (i32.le_u (local.get $len) (i32.const 32768)) (then (i32.const 32768)) (else (i32.const 0))))
    (func (export "handle_message") (param $p i32) (param $n i32) (result i32)
      (local $i i32) (local $ms i32) (local $c i32)
      ;; arm:<digits>
      (local.set $i (call $find (local.get $p) (local.get $n) (i32.const 0) (i32.const 4)))
      (if (i32.ge_s (local.get $i) (i32.const 0)) (then
        (block $end
          (loop $digits
            (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
            (br_if $end (i32.or (i32.lt_u (local.get $c) (i32.const 48)) (i32.gt_u (local.get $c) (i32.const 57))))
            (local.set $ms (i32.add (i32.mul (local.get $ms) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $digits)))
        (i32.store (i32.const 256) (call $tset (local.get $ms) (i32.const 64) (i32.const ${Buffer.byteLength(tick)})))
        (drop (call $kvs (i32.const 32) (i32.const 2) (i32.const 256) (i32.const 4)))
        (return (i32.const 0))))
      ;; cancel
      (if (i32.ge_s (call $find (local.get $p) (local.get $n) (i32.const 8) (i32.const 6)) (i32.const 0)) (then
        (drop (call $kvg (i32.const 32) (i32.const 2) (i32.const 256) (i32.const 4)))
        (i32.store (i32.const 260) (call $tcancel (i32.load (i32.const 256))))
        (drop (call $kvs (i32.const 40) (i32.const 6) (i32.const 260) (i32.const 4)))
        (return (i32.const 0))))
      ;; tick: ticks += 1
      (if (i32.ge_s (call $find (local.get $p) (local.get $n) (i32.const 16) (i32.const 4)) (i32.const 0)) (then
        (i32.store (i32.const 264) (i32.const 0))
        (drop (call $kvg (i32.const 24) (i32.const 5) (i32.const 264) (i32.const 4)))
        (i32.store (i32.const 264) (i32.add (i32.load (i32.const 264)) (i32.const 1)))
        (drop (call $kvs (i32.const 24) (i32.const 5) (i32.const 264) (i32.const 4)))))
      (i32.const 0)))`);
}

/**
 * An agent that logs every message it receives, whole (its JSON text), at info, and traps on a message
 * containing `crash`: a log line whose text the sender chooses (the dashboard's hostile-text test) and
 * a crash on demand.
 */
export async function loggingAgent(): Promise<Uint8Array> {
  return wat(`(module
    (import "caxton" "log" (func $log (param i32 i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 0) "crash")
    (func (export "caxton_abi_version") (result i32) i32.const 1)
    (func (export "caxton_alloc") (param $len i32) (result i32)
      (if (result i32) (i32.le_u (local.get $len) (i32.const 32768)) (then (i32.const 32768)) (else (i32.const 0))))
    ${SCAN_FUNCS}
    (func (export "handle_message") (param $p i32) (param $n i32) (result i32)
      (call $log (i32.const 2) (local.get $p) (local.get $n))
      (if (i32.ge_s (call $find (local.get $p) (local.get $n) (i32.const 0) (i32.const 5)) (i32.const 0)) (then unreachable))
      (i32.const 0)))`);
}
