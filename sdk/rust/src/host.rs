//! The host functions of docs/agent-abi.md section 3, imported from the module `caxton`. Only the
//! ones an agent calls end up in its module (the linker drops the rest), so an agent imports only
//! what it uses, as the ABI asks.

#[link(wasm_import_module = "caxton")]
extern "C" {
    pub fn send(ptr: *const u8, len: i32) -> i32;
    pub fn log(level: i32, ptr: *const u8, len: i32);
    pub fn time_now_us() -> i64;
    pub fn time_monotonic_us() -> i64;
    pub fn random_fill(ptr: *mut u8, len: i32) -> i32;
    pub fn timer_set(delay_ms: i32, ptr: *const u8, len: i32) -> i32;
    pub fn timer_cancel(id: i32) -> i32;
    pub fn kv_get(key_ptr: *const u8, key_len: i32, buf_ptr: *mut u8, buf_cap: i32) -> i32;
    pub fn kv_set(key_ptr: *const u8, key_len: i32, val_ptr: *const u8, val_len: i32) -> i32;
    pub fn kv_delete(key_ptr: *const u8, key_len: i32) -> i32;
    pub fn capability_register(ptr: *const u8, len: i32) -> i32;
    pub fn topic_subscribe(ptr: *const u8, len: i32) -> i32;
    pub fn topic_unsubscribe(ptr: *const u8, len: i32) -> i32;
}
