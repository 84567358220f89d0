//! {{name}}: answers every message with `inform` carrying the same content. `reply_json` sets
//! receiver = the sender, conversation_id, protocol, language, ontology and in_reply_to = the
//! request's reply_with; the content is copied as it came, never parsed. Messages the agent sent to
//! itself are not answered, so it cannot loop on its own output.
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
