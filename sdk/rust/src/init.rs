//! The init document (docs/agent-abi.md, section 5), read like a [`crate::Message`]: the config
//! stays JSON text until [`Init::config`] asks for it, so an agent that never reads its config
//! never links the number parser (about 19 KB of wasm).

use crate::json::{self, JsonError, Parser, Value};

/// `{"abi_version": 1, "agent_id": ..., "name": ..., "config": {...}, "restarts": n}`
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Init {
    pub name: String,
    pub agent_id: String,
    /// How often the agent was brought back since it was deployed (0 on a fresh start).
    pub restarts: u32,
    /// The config's JSON text ("{}" when the operator gave none).
    pub config_json: String,
}

impl Init {
    pub fn parse(text: &str) -> Result<Init, JsonError> {
        let mut init = Init { config_json: String::from("{}"), ..Init::default() };
        let mut p = Parser::new(text);
        p.expect(b'{', "the init document is a JSON object")?;
        if p.peek() == Some(b'}') {
            p.pos += 1;
        } else {
            loop {
                let key = p.string()?;
                p.expect(b':', "expected ':' after an object key")?;
                let is_string = p.peek() == Some(b'"');
                match key.as_ref() {
                    "name" if is_string => init.name = p.string()?.into_owned(),
                    "agent_id" if is_string => init.agent_id = p.string()?.into_owned(),
                    "config" => init.config_json = p.skip(1)?.to_string(),
                    // A count: digits only, read by hand (no float parsing for it).
                    "restarts" => init.restarts = p.skip(1)?.bytes().try_fold(0u32, |n, d| if d.is_ascii_digit() { Some(n.saturating_mul(10).saturating_add((d - b'0') as u32)) } else { None }).unwrap_or(0),
                    _ => {
                        p.skip(1)?;
                    }
                }
                if p.list_end(b'}', "expected ',' or '}' in the init document")? {
                    break;
                }
            }
        }
        p.end()?;
        Ok(init)
    }

    /// The operator's config as a [`Value`].
    pub fn config(&self) -> Value {
        json::parse(&self.config_json).unwrap_or_else(|_| Value::object())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_reads_the_document_and_keeps_config_raw() {
        let i = Init::parse(r#"{"abi_version":1,"agent_id":"2c1f","name":"b\u002d1","config":{"price":12.5},"restarts":3}"#).unwrap();
        assert_eq!((i.name.as_str(), i.agent_id.as_str(), i.restarts), ("b-1", "2c1f", 3));
        assert_eq!(i.config_json, r#"{"price":12.5}"#);
        assert_eq!(i.config().get("price").and_then(Value::as_f64), Some(12.5));
        let bare = Init::parse(r#"{"name":"x"}"#).unwrap();
        assert_eq!((bare.config_json.as_str(), bare.restarts), ("{}", 0));
        assert!(Init::parse("[]").is_err());
    }
}
