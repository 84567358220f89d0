// Raw imports of the Caxton agent ABI, version 1 (docs/agent-abi.md, section 3).
// AssemblyScript only emits an import when a declared function is actually used, so an agent
// imports exactly the caxton.* functions it needs. Nothing outside module "caxton" may be imported.

@external("caxton", "send")
export declare function caxton_send(ptr: usize, len: i32): i32;

@external("caxton", "log")
export declare function caxton_log(level: i32, ptr: usize, len: i32): void;

@external("caxton", "time_now_us")
export declare function caxton_time_now_us(): i64;

@external("caxton", "time_monotonic_us")
export declare function caxton_time_monotonic_us(): i64;

@external("caxton", "random_fill")
export declare function caxton_random_fill(ptr: usize, len: i32): i32;

@external("caxton", "timer_set")
export declare function caxton_timer_set(delay_ms: i32, ptr: usize, len: i32): i32;

@external("caxton", "timer_cancel")
export declare function caxton_timer_cancel(id: i32): i32;

@external("caxton", "kv_get")
export declare function caxton_kv_get(key_ptr: usize, key_len: i32, buf_ptr: usize, buf_cap: i32): i32;

@external("caxton", "kv_set")
export declare function caxton_kv_set(key_ptr: usize, key_len: i32, val_ptr: usize, val_len: i32): i32;

@external("caxton", "kv_delete")
export declare function caxton_kv_delete(key_ptr: usize, key_len: i32): i32;

/** Host return codes (docs/agent-abi.md, "Error codes"). */
export namespace HostError {
  export const OK: i32 = 0;
  export const NOT_FOUND: i32 = -1;
  export const BOUNDS: i32 = -2;
  export const TOO_LARGE: i32 = -3;
  export const INVALID_MESSAGE: i32 = -4;
  export const QUOTA: i32 = -5;
  export const BACKPRESSURE: i32 = -6;
  export const UNAVAILABLE: i32 = -7;
  export const INVALID_ARGUMENT: i32 = -8;
}

/** Log levels accepted by caxton.log. */
export namespace LogLevel {
  export const TRACE: i32 = 0;
  export const DEBUG: i32 = 1;
  export const INFO: i32 = 2;
  export const WARN: i32 = 3;
  export const ERROR: i32 = 4;
}

@external("caxton", "capability_register")
export declare function caxton_capability_register(ptr: usize, len: i32): i32;

@external("caxton", "topic_subscribe")
export declare function caxton_topic_subscribe(ptr: usize, len: i32): i32;

@external("caxton", "topic_unsubscribe")
export declare function caxton_topic_unsubscribe(ptr: usize, len: i32): i32;
