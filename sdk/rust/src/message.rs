//! FIPA-ACL messages: the one an agent receives ([`Message`], read lazily) and the ones it sends
//! ([`Outgoing`], a builder). Pure code: tested natively with `cargo test`.

use std::borrow::Cow;

use crate::json::{self, JsonError, Parser, Value};

/// The performatives of docs/messages.md, as the host spells them.
pub mod performative {
    pub const REQUEST: &str = "request";
    pub const INFORM: &str = "inform";
    pub const QUERY_IF: &str = "query-if";
    pub const QUERY_REF: &str = "query-ref";
    pub const CFP: &str = "cfp";
    pub const PROPOSE: &str = "propose";
    pub const ACCEPT_PROPOSAL: &str = "accept-proposal";
    pub const REJECT_PROPOSAL: &str = "reject-proposal";
    pub const AGREE: &str = "agree";
    pub const REFUSE: &str = "refuse";
    pub const FAILURE: &str = "failure";
    pub const NOT_UNDERSTOOD: &str = "not-understood";
    pub const CANCEL: &str = "cancel";
    pub const SUBSCRIBE: &str = "subscribe";
}

/// A message the agent received. The FIPA string fields are decoded (borrowed from the host's
/// buffer unless they had escapes); `content` is kept as its JSON text, checked but not built into
/// a [`Value`] until [`Message::content`] asks for it, so an agent that forwards content as it came
/// (echo) never pays for a tree.
#[derive(Debug, Default)]
pub struct Message<'a> {
    performative: Option<Cow<'a, str>>,
    sender: Option<Cow<'a, str>>,
    receiver: Option<Cow<'a, str>>,
    capability: Option<Cow<'a, str>>,
    topic: Option<Cow<'a, str>>,
    message_id: Option<Cow<'a, str>>,
    conversation_id: Option<Cow<'a, str>>,
    reply_with: Option<Cow<'a, str>>,
    in_reply_to: Option<Cow<'a, str>>,
    reply_by: Option<Cow<'a, str>>,
    protocol: Option<Cow<'a, str>>,
    language: Option<Cow<'a, str>>,
    ontology: Option<Cow<'a, str>>,
    content: &'a str,
}

impl<'a> Message<'a> {
    /// Reads a message object. Unknown fields are checked and skipped (the host may add some);
    /// a string field that is null or not a string counts as absent.
    pub fn parse(text: &'a str) -> Result<Message<'a>, JsonError> {
        let mut m = Message { content: "null", ..Message::default() };
        let mut p = Parser::new(text);
        p.expect(b'{', "a message is a JSON object")?;
        if p.peek() == Some(b'}') {
            p.pos += 1;
        } else {
            loop {
                let key = p.string()?;
                p.expect(b':', "expected ':' after an object key")?;
                let slot = match key.as_ref() {
                    "content" => {
                        m.content = p.skip(1)?;
                        None
                    }
                    "performative" => Some(&mut m.performative),
                    "sender" => Some(&mut m.sender),
                    "receiver" => Some(&mut m.receiver),
                    "capability" => Some(&mut m.capability),
                    "topic" => Some(&mut m.topic),
                    "message_id" => Some(&mut m.message_id),
                    "conversation_id" => Some(&mut m.conversation_id),
                    "reply_with" => Some(&mut m.reply_with),
                    "in_reply_to" => Some(&mut m.in_reply_to),
                    "reply_by" => Some(&mut m.reply_by),
                    "protocol" => Some(&mut m.protocol),
                    "language" => Some(&mut m.language),
                    "ontology" => Some(&mut m.ontology),
                    _ => {
                        p.skip(1)?;
                        None
                    }
                };
                if let Some(slot) = slot {
                    *slot = if p.peek() == Some(b'"') {
                        Some(p.string()?)
                    } else {
                        p.skip(1)?;
                        None
                    };
                }
                if p.list_end(b'}', "expected ',' or '}' in the message")? {
                    break;
                }
            }
        }
        p.end()?;
        Ok(m)
    }

    /// The performative, "" when absent.
    pub fn performative(&self) -> &str {
        self.performative.as_deref().unwrap_or("")
    }
    /// True when the performative is `p` (see [`performative`]).
    pub fn is(&self, p: &str) -> bool {
        self.performative() == p
    }
    pub fn sender(&self) -> Option<&str> {
        self.sender.as_deref()
    }
    pub fn receiver(&self) -> Option<&str> {
        self.receiver.as_deref()
    }
    /// The capability the message was addressed to (instead of a receiver).
    pub fn capability(&self) -> Option<&str> {
        self.capability.as_deref()
    }
    /// The topic the message was published to: a subscriber's messages arrive as sent.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }
    pub fn conversation_id(&self) -> Option<&str> {
        self.conversation_id.as_deref()
    }
    pub fn reply_with(&self) -> Option<&str> {
        self.reply_with.as_deref()
    }
    pub fn in_reply_to(&self) -> Option<&str> {
        self.in_reply_to.as_deref()
    }
    pub fn reply_by(&self) -> Option<&str> {
        self.reply_by.as_deref()
    }
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }
    pub fn ontology(&self) -> Option<&str> {
        self.ontology.as_deref()
    }

    /// The content's JSON text as it arrived ("null" when absent).
    pub fn content_json(&self) -> &'a str {
        self.content
    }

    /// The content parsed into a [`Value`] (it was checked when the message was read).
    pub fn content(&self) -> Value {
        json::parse(self.content).unwrap_or(Value::Null)
    }

    /// The answer to this message, as docs/agent-abi.md "Replying" asks: `receiver` = our sender,
    /// `in_reply_to` = its `reply_with`, and the same `conversation_id`, `protocol`, `language` and
    /// `ontology`.
    pub fn reply(&self, performative: &str, content: &Value) -> Outgoing {
        self.reply_json(performative, &content.to_json())
    }

    /// The JSON text of [`Message::reply_json`]'s message, written in one pass into one string (no
    /// [`Outgoing`] in between): what [`crate::reply`] sends.
    pub fn reply_text(&self, performative: &str, content_json: &str) -> String {
        let mut out = String::with_capacity(160 + content_json.len());
        out.push_str("{\"performative\":");
        json::write_string(&mut out, performative);
        for (key, value) in [
            ("receiver", self.sender()),
            ("conversation_id", self.conversation_id()),
            ("in_reply_to", self.reply_with()),
            ("protocol", self.protocol()),
            ("language", self.language()),
            ("ontology", self.ontology()),
        ] {
            if let Some(v) = value {
                out.push_str(",\"");
                out.push_str(key);
                out.push_str("\":");
                json::write_string(&mut out, v);
            }
        }
        out.push_str(",\"content\":");
        out.push_str(content_json);
        out.push('}');
        out
    }

    /// [`Message::reply`] with content given as JSON text (for example [`Message::content_json`]).
    pub fn reply_json(&self, performative: &str, content_json: &str) -> Outgoing {
        let mut o = Outgoing::new_json(performative, content_json);
        o.receiver = self.sender.as_deref().map(str::to_string);
        o.in_reply_to = self.reply_with.as_deref().map(str::to_string);
        o.conversation_id = self.conversation_id.as_deref().map(str::to_string);
        o.protocol = self.protocol.as_deref().map(str::to_string);
        o.language = self.language.as_deref().map(str::to_string);
        o.ontology = self.ontology.as_deref().map(str::to_string);
        o
    }
}

/// A message to send (with [`crate::send`]) or to deliver to oneself later ([`crate::timer_set`]).
/// Address it with [`Outgoing::to`], [`Outgoing::capability`] or [`Outgoing::topic`]. The host
/// fills in `sender` and `message_id`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outgoing {
    pub performative: String,
    /// JSON text.
    pub content: String,
    pub receiver: Option<String>,
    pub capability: Option<String>,
    pub topic: Option<String>,
    pub conversation_id: Option<String>,
    pub reply_with: Option<String>,
    pub in_reply_to: Option<String>,
    /// An RFC 3339 time by which an answer is due (the node answers `reply_timeout` after it).
    pub reply_by: Option<String>,
    pub protocol: Option<String>,
    pub language: Option<String>,
    pub ontology: Option<String>,
}

impl Outgoing {
    pub fn new(performative: &str, content: &Value) -> Outgoing {
        Outgoing::new_json(performative, &content.to_json())
    }

    /// A message whose content is JSON text, written as given (it must be valid JSON, not null).
    pub fn new_json(performative: &str, content_json: &str) -> Outgoing {
        Outgoing { performative: performative.to_string(), content: content_json.to_string(), ..Outgoing::default() }
    }

    pub fn to(mut self, receiver: &str) -> Outgoing {
        self.receiver = Some(receiver.to_string());
        self
    }
    pub fn capability(mut self, capability: &str) -> Outgoing {
        self.capability = Some(capability.to_string());
        self
    }
    pub fn topic(mut self, topic: &str) -> Outgoing {
        self.topic = Some(topic.to_string());
        self
    }
    pub fn conversation_id(mut self, id: &str) -> Outgoing {
        self.conversation_id = Some(id.to_string());
        self
    }
    pub fn reply_with(mut self, id: &str) -> Outgoing {
        self.reply_with = Some(id.to_string());
        self
    }
    pub fn in_reply_to(mut self, id: &str) -> Outgoing {
        self.in_reply_to = Some(id.to_string());
        self
    }
    pub fn reply_by(mut self, rfc3339: &str) -> Outgoing {
        self.reply_by = Some(rfc3339.to_string());
        self
    }
    pub fn protocol(mut self, protocol: &str) -> Outgoing {
        self.protocol = Some(protocol.to_string());
        self
    }
    pub fn language(mut self, language: &str) -> Outgoing {
        self.language = Some(language.to_string());
        self
    }
    pub fn ontology(mut self, ontology: &str) -> Outgoing {
        self.ontology = Some(ontology.to_string());
        self
    }

    /// The message as the JSON object the host reads; absent fields are left out.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + self.content.len());
        out.push_str("{\"performative\":");
        json::write_string(&mut out, &self.performative);
        let fields = [
            ("receiver", &self.receiver),
            ("capability", &self.capability),
            ("topic", &self.topic),
            ("conversation_id", &self.conversation_id),
            ("reply_with", &self.reply_with),
            ("in_reply_to", &self.in_reply_to),
            ("reply_by", &self.reply_by),
            ("protocol", &self.protocol),
            ("language", &self.language),
            ("ontology", &self.ontology),
        ];
        for (key, value) in fields {
            if let Some(v) = value {
                out.push_str(",\"");
                out.push_str(key);
                out.push_str("\":");
                json::write_string(&mut out, v);
            }
        }
        out.push_str(",\"content\":");
        out.push_str(&self.content);
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFP: &str = r#"{"message_id":"m-1","performative":"cfp","sender":"manager","receiver":"b\u0031",
        "content":{"task":"paint","budget":[1,2]},"conversation_id":"c-1","reply_with":"r-1",
        "in_reply_to":null,"protocol":"fipa-contract-net","trace_context":{"traceparent":"00-x"}}"#;

    #[test]
    fn message_reads_fipa_fields_and_keeps_content_raw() {
        let m = Message::parse(CFP).unwrap();
        assert!(m.is(performative::CFP));
        assert_eq!(m.sender(), Some("manager"));
        assert_eq!(m.receiver(), Some("b1"), "escapes are decoded");
        assert_eq!(m.in_reply_to(), None, "null is absent");
        assert_eq!(m.ontology(), None);
        assert_eq!(m.topic(), None);
        assert_eq!(Message::parse(r#"{"topic":"news","content":1}"#).unwrap().topic(), Some("news"));
        assert_eq!(m.content_json(), r#"{"task":"paint","budget":[1,2]}"#);
        assert_eq!(m.content().get("task").and_then(Value::as_str), Some("paint"));
    }

    #[test]
    fn message_refuses_what_is_not_a_message_object() {
        assert!(Message::parse("[]").is_err());
        assert!(Message::parse(r#"{"content":}"#).is_err());
        assert!(Message::parse(r#"{"performative":"inform"} x"#).is_err());
        assert_eq!(Message::parse("{}").unwrap().content_json(), "null");
    }

    #[test]
    fn message_reply_carries_the_conversation_over() {
        let m = Message::parse(CFP).unwrap();
        let r = m.reply(performative::PROPOSE, &Value::object().with("price", 42));
        let text = r#"{"performative":"propose","receiver":"manager","conversation_id":"c-1","in_reply_to":"r-1","protocol":"fipa-contract-net","content":{"price":42}}"#;
        assert_eq!(r.to_json(), text);
        assert_eq!(m.reply_text(performative::PROPOSE, r#"{"price":42}"#), text, "the one-pass form writes the same");
    }

    #[test]
    fn message_outgoing_escapes_its_strings() {
        let o = Outgoing::new_json("inform", "1").topic("news/\"x\"").ontology("a\nb");
        assert_eq!(o.to_json(), r#"{"performative":"inform","topic":"news/\"x\"","ontology":"a\nb","content":1}"#);
    }
}
