//! {{name}}: a participant in FIPA contract net (protocol "fipa-contract-net"), for example in a
//! round run by Caxton's example manager (examples/contract-net/manager.ts).
//!
//!   cfp {"task": t}                  -> propose {"price": p}
//!   accept-proposal {"task": t, ...} -> inform {"result": "done", "task": t}, and kv "won" + 1
//!   reject-proposal                  -> nothing
//!   anything else                    -> nothing (logged at debug level)
//! The price is the deployment config's "price" if it is an integer (caxton deploy ... --config
//! '{"price": 42}'), else 10 + (FNV-1a of the agent's name) % 90: stable per name, so bidders with
//! different names differ. Replies carry the conversation over (Message::reply).
use caxton_sdk::{export_agent, kv_get_string, kv_set, log_debug, log_info, performative, reply, Agent, Error, Init, Message, Value};

#[derive(Default)]
struct Bidder {
    /// Worked out once: the init document does not change while the instance lives.
    price: i64,
}

/// FNV-1a-32 of the name's UTF-8 bytes.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

impl Agent for Bidder {
    fn init(&mut self, init: &Init) -> Result<(), Error> {
        self.price = match init.config().get("price").and_then(Value::as_i64) {
            Some(price) => price,
            None => 10 + (fnv1a(&init.name) % 90) as i64,
        };
        Ok(())
    }

    fn handle(&mut self, msg: &Message) -> Result<(), Error> {
        match msg.performative() {
            performative::CFP => reply(msg, performative::PROPOSE, &Value::object().with("price", self.price)),
            performative::ACCEPT_PROPOSAL => {
                let won = kv_get_string("won")?.and_then(|s| s.parse::<i64>().ok()).unwrap_or(0) + 1;
                kv_set("won", won.to_string())?;
                let mut content = Value::object().with("result", "done");
                if let Some(task) = msg.content().get("task") {
                    content.set("task", task.clone());
                }
                log_info("won a task");
                reply(msg, performative::INFORM, &content)
            }
            performative::REJECT_PROPOSAL => Ok(()),
            _ => {
                log_debug("ignored a message that is neither cfp nor accept-proposal");
                Ok(())
            }
        }
    }
}

export_agent!(Bidder);
