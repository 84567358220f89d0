//! rust-json: the "JSON request" agent of the SDK benchmark (bench/sdks.bench.ts), written with the
//! Rust SDK. The same agent exists in AssemblyScript (examples/json) and C (examples/c-echo/json.c).
//!
//!   request {"items": [{"sku": s, "qty": n, "price": p, ...}, ...]}
//!     -> inform {"count": <number of items>, "total": <sum of qty * price>}
//!   anything without an items array -> not-understood {"error": "expected {\"items\": [...]}"}
//!
//! The whole content is parsed into a tree (json::Value), as an agent that reads its request would.
use caxton_sdk::{agent_name, export_agent, performative, reply, Agent, Error, Message, Value};

#[derive(Default)]
struct Json;

impl Agent for Json {
    fn handle(&mut self, msg: &Message) -> Result<(), Error> {
        match msg.sender() {
            Some(sender) if sender != agent_name() => {}
            _ => return Ok(()),
        }
        let content = msg.content();
        let items = match content.get("items").and_then(Value::as_array) {
            Some(items) => items,
            None => return reply(msg, performative::NOT_UNDERSTOOD, &Value::object().with("error", "expected {\"items\": [...]}")),
        };
        let num = |item: &Value, k: &str| item.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let total: f64 = items.iter().map(|item| num(item, "qty") * num(item, "price")).sum();
        reply(msg, performative::INFORM, &Value::object().with("count", items.len() as f64).with("total", total))
    }
}

export_agent!(Json);
