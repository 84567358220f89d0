//! {{name}}: subscribes to a topic and keeps what it hears in the key-value store.
//!
//!   init                                -> subscribes to the config's "topic" (default "news")
//!   a message published to the topic    -> kv "count" + 1, kv "last" = its content, logged at info
//!   request (any content)               -> inform {"topic": t, "count": n, "last": <last content or null>}
//! Publish with: caxton message send --topic news --performative inform --content '{"headline":"..."}'
use caxton_sdk::json::write_string;
use caxton_sdk::{
    export_agent, kv_get_string, kv_set, log_error, log_info, performative, reply_json, topic_subscribe, Agent, Error, Init, Message, Value,
};

#[derive(Default)]
struct Subscriber {
    topic: String,
}

fn count() -> Result<i64, Error> {
    Ok(kv_get_string("count")?.and_then(|s| s.parse::<i64>().ok()).unwrap_or(0))
}

impl Agent for Subscriber {
    fn init(&mut self, init: &Init) -> Result<(), Error> {
        self.topic = init.config().get("topic").and_then(Value::as_str).unwrap_or("news").to_string();
        // Lasts while the agent runs; init makes it again after every restart.
        topic_subscribe(&self.topic).map_err(|e| {
            log_error("cannot subscribe to the topic");
            e
        })
    }

    fn handle(&mut self, msg: &Message) -> Result<(), Error> {
        if msg.topic() == Some(self.topic.as_str()) {
            // Kept as the JSON text it came as: nothing is parsed.
            kv_set("last", msg.content_json())?;
            kv_set("count", (count()? + 1).to_string())?;
            log_info(msg.content_json());
            return Ok(());
        }
        if msg.is(performative::REQUEST) && msg.sender().is_some() {
            // {"topic":t,"count":n,"last":<the stored JSON text, or null>}
            let mut content = String::from("{\"topic\":");
            write_string(&mut content, &self.topic);
            content.push_str(",\"count\":");
            content.push_str(&count()?.to_string());
            content.push_str(",\"last\":");
            content.push_str(kv_get_string("last")?.as_deref().unwrap_or("null"));
            content.push('}');
            return reply_json(msg, performative::INFORM, &content);
        }
        Ok(())
    }
}

export_agent!(Subscriber);
