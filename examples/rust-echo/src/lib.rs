//! rust-echo: the echo agent written with the Rust SDK (sdk/rust). Every message is answered with
//! `inform` carrying the same content, copied as it came (conversation_id, protocol and
//! in_reply_to = the request's reply_with are set by Message::reply). Messages the agent sent to
//! itself are not answered, so it can never loop on its own output.
use caxton_sdk::{agent_name, export_agent, performative, reply_json, Agent, Error, Message};

#[derive(Default)]
struct Echo;

impl Agent for Echo {
    fn handle(&mut self, msg: &Message) -> Result<(), Error> {
        match msg.sender() {
            Some(sender) if sender != agent_name() => reply_json(msg, performative::INFORM, msg.content_json()),
            _ => Ok(()),
        }
    }
}

export_agent!(Echo);
