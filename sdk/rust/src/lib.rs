//! caxton-sdk: write Caxton agents in Rust (docs/sdk-rust.md).
//!
//! An agent is a type implementing [`Agent`], exported with [`export_agent!`], built with
//! `--target wasm32-unknown-unknown` as a `cdylib`. No dependencies outside std.
//!
//! ```ignore
//! use caxton_sdk::{export_agent, performative, reply_json, Agent, Error, Message};
//!
//! #[derive(Default)]
//! struct Echo;
//!
//! impl Agent for Echo {
//!     fn handle(&mut self, msg: &Message) -> Result<(), Error> {
//!         reply_json(msg, performative::INFORM, msg.content_json())
//!     }
//! }
//! export_agent!(Echo);
//! ```
//!
//! The JSON value and the message types are plain Rust and are tested natively (`cargo test`);
//! the host functions exist only in the wasm32 build.

pub mod error;
pub mod init;
pub mod json;
pub mod message;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
pub mod host;

pub use error::Error;
pub use init::Init;
pub use json::Value;
pub use message::{performative, Message, Outgoing};

#[cfg(target_arch = "wasm32")]
pub use api::*;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use entry::__entry;
#[cfg(target_arch = "wasm32")]
pub use entry::{agent_name, Agent};

/// The ABI version this SDK implements (what `caxton_abi_version` returns).
pub const ABI_VERSION: i32 = 1;

/// Sends the reply to `msg` (see [`Message::reply`]).
#[cfg(target_arch = "wasm32")]
pub fn reply(msg: &Message, performative: &str, content: &Value) -> Result<(), Error> {
    send_json(&msg.reply_text(performative, &content.to_json()))
}

/// Sends the reply to `msg` with content given as JSON text.
#[cfg(target_arch = "wasm32")]
pub fn reply_json(msg: &Message, performative: &str, content_json: &str) -> Result<(), Error> {
    send_json(&msg.reply_text(performative, content_json))
}
