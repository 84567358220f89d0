//! The handler entry: the [`Agent`] trait and what [`crate::export_agent!`] exports for it
//! (`caxton_abi_version`, `caxton_alloc`, `agent_init`, `handle_message`, `agent_shutdown`).

use std::alloc::{alloc, dealloc, Layout};

use crate::api::log_error;
use crate::error::Error;
use crate::init::Init;
use crate::message::Message;

/// An agent. One value of it lives per instance, made with `Default` before `init`; everything
/// in it is lost when the instance is (a trap, a restart, an upgrade), so keep what must survive
/// in the key-value store.
pub trait Agent: Default {
    /// Runs once per instantiation, before any message: register capabilities and topics here.
    /// An error fails the start.
    fn init(&mut self, init: &Init) -> Result<(), Error> {
        let _ = init;
        Ok(())
    }

    /// Handles one message. An error is counted in the agent's statistics; the message is not
    /// delivered again.
    fn handle(&mut self, msg: &Message) -> Result<(), Error>;

    /// Runs before a graceful stop or an upgrade.
    fn shutdown(&mut self) {}
}

static mut AGENT_NAME: String = String::new();

/// The agent's name, from the init document ("" before `init`).
pub fn agent_name() -> &'static str {
    // Single-threaded: written once per instance, in agent_init, before any message.
    unsafe { &*std::ptr::addr_of!(AGENT_NAME) }
}

fn layout(len: usize) -> Layout {
    // Zero-sized allocations are not allowed; one byte stands in for an empty buffer.
    Layout::from_size_align(len.max(1), 1).unwrap_or_else(|_| Layout::new::<u8>())
}

/// Reads the host's buffer, runs `f` on it, and frees it (the ABI hands it back to the agent).
unsafe fn with_buffer(ptr: *mut u8, len: i32, f: impl FnOnce(&str) -> i32) -> i32 {
    if ptr.is_null() || len < 0 {
        return Error::BOUNDS.0;
    }
    let bytes = std::slice::from_raw_parts(ptr, len as usize);
    let rc = match std::str::from_utf8(bytes) {
        Ok(text) => f(text),
        Err(_) => {
            log_error("caxton-sdk: the host passed text that is not UTF-8");
            Error::INVALID_MESSAGE.0
        }
    };
    dealloc(ptr, layout(len as usize));
    rc
}

#[doc(hidden)]
pub mod __entry {
    use super::*;

    pub fn alloc_buffer(len: i32) -> *mut u8 {
        if len < 0 {
            return std::ptr::null_mut();
        }
        unsafe { alloc(layout(len as usize)) }
    }

    pub unsafe fn init<A: Agent>(slot: &mut Option<A>, ptr: *mut u8, len: i32) -> i32 {
        // A panic is logged with its message before the instance traps (panic = abort).
        std::panic::set_hook(Box::new(|info| log_error(&info.to_string())));
        with_buffer(ptr, len, |text| {
            let init = match Init::parse(text) {
                Ok(init) => init,
                Err(e) => {
                    log_error(&(String::from("caxton-sdk: bad init document: ") + e.reason));
                    return -1;
                }
            };
            *std::ptr::addr_of_mut!(AGENT_NAME) = init.name.clone();
            match slot.get_or_insert_with(A::default).init(&init) {
                Ok(()) => 0,
                Err(e) => e.code(),
            }
        })
    }

    pub unsafe fn handle<A: Agent>(slot: &mut Option<A>, ptr: *mut u8, len: i32) -> i32 {
        with_buffer(ptr, len, |text| match Message::parse(text) {
            Ok(msg) => match slot.get_or_insert_with(A::default).handle(&msg) {
                Ok(()) => 0,
                Err(e) => e.code(),
            },
            Err(e) => {
                log_error(&(String::from("caxton-sdk: dropped a message that is not a message object: ") + e.reason));
                Error::INVALID_MESSAGE.0
            }
        })
    }

    pub fn shutdown<A: Agent>(slot: &mut Option<A>) -> i32 {
        if let Some(a) = slot.as_mut() {
            a.shutdown();
        }
        0
    }
}

/// Exports the ABI's entry points for an [`Agent`] type:
///
/// ```ignore
/// #[derive(Default)]
/// struct Echo;
/// impl caxton_sdk::Agent for Echo { /* ... */ }
/// caxton_sdk::export_agent!(Echo);
/// ```
#[macro_export]
macro_rules! export_agent {
    ($agent:ty) => {
        static mut __CAXTON_AGENT: ::core::option::Option<$agent> = ::core::option::Option::None;

        #[no_mangle]
        pub extern "C" fn caxton_abi_version() -> i32 {
            $crate::ABI_VERSION
        }

        #[no_mangle]
        pub extern "C" fn caxton_alloc(len: i32) -> *mut u8 {
            $crate::__entry::alloc_buffer(len)
        }

        #[no_mangle]
        pub unsafe extern "C" fn agent_init(ptr: *mut u8, len: i32) -> i32 {
            $crate::__entry::init(&mut *::core::ptr::addr_of_mut!(__CAXTON_AGENT), ptr, len)
        }

        #[no_mangle]
        pub unsafe extern "C" fn handle_message(ptr: *mut u8, len: i32) -> i32 {
            $crate::__entry::handle(&mut *::core::ptr::addr_of_mut!(__CAXTON_AGENT), ptr, len)
        }

        #[no_mangle]
        pub unsafe extern "C" fn agent_shutdown() -> i32 {
            $crate::__entry::shutdown(&mut *::core::ptr::addr_of_mut!(__CAXTON_AGENT))
        }
    };
}
