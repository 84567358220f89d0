//! {{name}}: answers FIPA requests, and keeps a count of them in the key-value store (which
//! survives restarts and upgrades; the agent's memory does not).
//!
//!   request {"name": "Ada"}   -> inform {"greeting": "Hello, Ada!", "count": n}   (n: requests answered so far)
//!   request without a "name"  -> refuse {"reason": "content needs a string \"name\""}
//!   anything else             -> not-understood {"reason": "send me a request"}
//! Replies carry the conversation over (Message::reply: conversation_id, protocol, in_reply_to = reply_with).
use caxton_sdk::{agent_name, export_agent, kv_get_string, kv_set, log_info, performative, reply, Agent, Error, Message, Value};

#[derive(Default)]
struct Greeter;

impl Agent for Greeter {
    fn handle(&mut self, msg: &Message) -> Result<(), Error> {
        match msg.sender() {
            Some(sender) if sender != agent_name() => {}
            _ => return Ok(()),
        }
        if !msg.is(performative::REQUEST) {
            // Never answer a not-understood with one: two such agents would loop.
            if msg.is(performative::NOT_UNDERSTOOD) {
                return Ok(());
            }
            return reply(msg, performative::NOT_UNDERSTOOD, &Value::object().with("reason", "send me a request"));
        }
        let content = msg.content();
        let name = match content.get("name").and_then(Value::as_str) {
            Some(name) => name,
            None => return reply(msg, performative::REFUSE, &Value::object().with("reason", "content needs a string \"name\"")),
        };
        let count = kv_get_string("count")?.and_then(|s| s.parse::<i64>().ok()).unwrap_or(0) + 1;
        // An error from the host (a full store, ...) fails the call: it counts in the agent's statistics.
        kv_set("count", count.to_string())?;
        log_info("greeted a requester");
        let greeting = String::from("Hello, ") + name + "!";
        reply(msg, performative::INFORM, &Value::object().with("greeting", greeting).with("count", count))
    }
}

export_agent!(Greeter);
