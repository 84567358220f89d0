//! rust-cn-bidder: the participant side of FIPA contract net, written with the Rust SDK. It behaves
//! as the AssemblyScript examples/contract-net/bidder.ts does, so the two mix in one round:
//!
//! Init config: {"price": n} sets the bid; without it the price is 10 + (FNV-1a-32 of the agent's
//! UTF-8 name) % 90. {"refuse": true} makes it refuse every cfp.
//!
//!   cfp {"task": t}     -> propose {"price": p}            or refuse {"reason": "not bidding"}
//!   accept-proposal     -> inform {"result": "done: <t>"}  (t verbatim if a string, else its JSON;
//!                          taken from the accept-proposal's "task", else from the cfp)
//!   reject-proposal     -> nothing
//!   anything else       -> nothing (logged at debug level)
use std::collections::BTreeMap;

use caxton_sdk::{export_agent, log_debug, performative, reply, Agent, Error, Init, Message, Value};

/// Open cfps kept at most (so unanswered rounds cannot grow the map forever).
const MAX_OPEN: usize = 1000;

#[derive(Default)]
struct Bidder {
    price: f64,
    refuse: bool,
    /// The task of each open cfp, by conversation_id.
    tasks: BTreeMap<String, Value>,
}

fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

impl Agent for Bidder {
    fn init(&mut self, init: &Init) -> Result<(), Error> {
        let config = init.config();
        self.price = match config.get("price").and_then(Value::as_f64) {
            Some(p) => p,
            None => (10 + fnv1a(&init.name) % 90) as f64,
        };
        self.refuse = config.get("refuse").and_then(Value::as_bool).unwrap_or(false);
        Ok(())
    }

    fn handle(&mut self, msg: &Message) -> Result<(), Error> {
        let key = msg.conversation_id().unwrap_or("").to_string();
        match msg.performative() {
            performative::CFP => {
                if self.refuse {
                    return reply(msg, performative::REFUSE, &Value::object().with("reason", "not bidding"));
                }
                let content = msg.content();
                let task = content.get("task").cloned().unwrap_or_else(|| content.clone());
                if self.tasks.len() >= MAX_OPEN {
                    self.tasks.clear();
                }
                self.tasks.insert(key, task);
                reply(msg, performative::PROPOSE, &Value::object().with("price", self.price))
            }
            performative::ACCEPT_PROPOSAL => {
                let open = self.tasks.remove(&key);
                let task = msg.content().get("task").cloned().or(open);
                let text = match &task {
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_json(),
                    None => String::new(),
                };
                reply(msg, performative::INFORM, &Value::object().with("result", String::from("done: ") + &text))
            }
            performative::REJECT_PROPOSAL => {
                self.tasks.remove(&key);
                Ok(())
            }
            other => {
                log_debug(&(String::from("rust-cn-bidder: ignored ") + other));
                Ok(())
            }
        }
    }
}

export_agent!(Bidder);
