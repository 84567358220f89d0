//! The host's error codes (docs/agent-abi.md, "Error codes"), as a Rust error.

use std::fmt;

/// A negative code a host function returned, or one an agent returns from its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error(pub i32);

impl Error {
    pub const NOT_FOUND: Error = Error(-1);
    pub const BOUNDS: Error = Error(-2);
    pub const TOO_LARGE: Error = Error(-3);
    pub const INVALID_MESSAGE: Error = Error(-4);
    pub const QUOTA: Error = Error(-5);
    pub const BACKPRESSURE: Error = Error(-6);
    pub const UNAVAILABLE: Error = Error(-7);
    pub const INVALID_ARGUMENT: Error = Error(-8);

    /// The ABI's name of the code ("ERR_QUOTA"), or "agent error" for codes the ABI does not define.
    pub fn name(self) -> &'static str {
        match self.0 {
            -1 => "ERR_NOT_FOUND",
            -2 => "ERR_BOUNDS",
            -3 => "ERR_TOO_LARGE",
            -4 => "ERR_INVALID_MESSAGE",
            -5 => "ERR_QUOTA",
            -6 => "ERR_BACKPRESSURE",
            -7 => "ERR_UNAVAILABLE",
            -8 => "ERR_INVALID_ARGUMENT",
            _ => "agent error",
        }
    }

    /// What `handle_message` returns for it: the code when negative, else -1.
    pub fn code(self) -> i32 {
        if self.0 < 0 {
            self.0
        } else {
            -1
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl std::error::Error for Error {}

/// Turns a host return value into a Result: negative is an error, anything else the value.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))] // only the wasm32 host API calls it
pub(crate) fn check(rc: i32) -> Result<i32, Error> {
    if rc < 0 {
        Err(Error(rc))
    } else {
        Ok(rc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_the_abi_codes() {
        assert_eq!(Error::QUOTA.to_string(), "ERR_QUOTA (-5)");
        assert_eq!(Error(7).code(), -1, "a positive agent code still fails the call");
        assert_eq!(check(3), Ok(3));
        assert_eq!(check(-1), Err(Error::NOT_FOUND));
    }
}
