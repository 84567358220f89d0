//! What an agent can ask of the host: send, log, key-value state, timers, clocks, randomness,
//! capabilities and topics. Each is a thin, checked wrapper of one host function (src/host.rs).

use crate::error::{check, Error};
use crate::host;
use crate::message::Outgoing;

/// Sends a message. `Ok` means accepted for routing; a receiver that does not exist answers
/// later with a `failure` from `caxton` (docs/agent-abi.md, section 4).
pub fn send(msg: &Outgoing) -> Result<(), Error> {
    send_json(&msg.to_json())
}

/// Sends a message given as JSON text.
pub fn send_json(json: &str) -> Result<(), Error> {
    check(unsafe { host::send(json.as_ptr(), json.len() as i32) }).map(|_| ())
}

/// Log levels of `caxton.log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
}

/// Writes a line to the agent's log (over 4 KiB it is truncated; 100 lines per call at most).
pub fn log(level: Level, text: &str) {
    unsafe { host::log(level as i32, text.as_ptr(), text.len() as i32) }
}
pub fn log_debug(text: &str) {
    log(Level::Debug, text)
}
pub fn log_info(text: &str) {
    log(Level::Info, text)
}
pub fn log_warn(text: &str) {
    log(Level::Warn, text)
}
pub fn log_error(text: &str) {
    log(Level::Error, text)
}

/// Wall-clock microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    unsafe { host::time_now_us() }
}

/// The host's monotonic clock in microseconds.
pub fn monotonic_us() -> i64 {
    unsafe { host::time_monotonic_us() }
}

/// Fills `buf` with cryptographically secure random bytes (64 KiB per host call).
pub fn random_fill(buf: &mut [u8]) -> Result<(), Error> {
    for chunk in buf.chunks_mut(65536) {
        check(unsafe { host::random_fill(chunk.as_mut_ptr(), chunk.len() as i32) })?;
    }
    Ok(())
}

/// Delivers `msg` to this agent's handler after `delay_ms` (at most 24 h); the host sets the
/// receiver and sender to the agent. Returns the timer's id, durable once returned.
pub fn timer_set(delay_ms: u32, msg: &Outgoing) -> Result<i32, Error> {
    let json = msg.to_json();
    check(unsafe { host::timer_set(delay_ms as i32, json.as_ptr(), json.len() as i32) })
}

/// Cancels a timer; `Err(Error::NOT_FOUND)` if it already fired or never existed.
pub fn timer_cancel(id: i32) -> Result<(), Error> {
    check(unsafe { host::timer_cancel(id) }).map(|_| ())
}

/// The value stored under `key`, or None.
pub fn kv_get(key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
    let key = key.as_ref();
    // Most values are small: one call with a 256-byte buffer, a second one only when it was short.
    let mut buf = vec![0u8; 256];
    loop {
        let rc = unsafe { host::kv_get(key.as_ptr(), key.len() as i32, buf.as_mut_ptr(), buf.len() as i32) };
        if rc == Error::NOT_FOUND.0 {
            return Ok(None);
        }
        let len = check(rc)? as usize;
        if len <= buf.len() {
            buf.truncate(len);
            return Ok(Some(buf));
        }
        buf.resize(len, 0);
    }
}

/// The value under `key` as UTF-8 text (invalid bytes become U+FFFD), or None.
pub fn kv_get_string(key: impl AsRef<[u8]>) -> Result<Option<String>, Error> {
    Ok(kv_get(key)?.map(|v| match String::from_utf8(v) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

/// Stores `value` under `key` (1–256 bytes); durable once it returns Ok.
pub fn kv_set(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
    let (k, v) = (key.as_ref(), value.as_ref());
    check(unsafe { host::kv_set(k.as_ptr(), k.len() as i32, v.as_ptr(), v.len() as i32) }).map(|_| ())
}

/// Deletes `key` (Ok also when it did not exist).
pub fn kv_delete(key: impl AsRef<[u8]>) -> Result<(), Error> {
    let k = key.as_ref();
    check(unsafe { host::kv_delete(k.as_ptr(), k.len() as i32) }).map(|_| ())
}

/// Registers the agent as a provider of `name` (call it from `init`; it lasts while the agent runs).
pub fn capability_register(name: &str) -> Result<(), Error> {
    check(unsafe { host::capability_register(name.as_ptr(), name.len() as i32) }).map(|_| ())
}

/// Subscribes the agent to `topic` (call it from `init`).
pub fn topic_subscribe(topic: &str) -> Result<(), Error> {
    check(unsafe { host::topic_subscribe(topic.as_ptr(), topic.len() as i32) }).map(|_| ())
}

pub fn topic_unsubscribe(topic: &str) -> Result<(), Error> {
    check(unsafe { host::topic_unsubscribe(topic.as_ptr(), topic.len() as i32) }).map(|_| ())
}
