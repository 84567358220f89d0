// {{name}}: subscribes to a topic and keeps what it hears in the key-value store.
//
//   agent_init                          -> subscribes to the config's "topic" (default "news")
//   a message published to the topic    -> kv "count" + 1, kv "last" = its content, logged at info
//   request (any content)               -> inform {"topic": t, "count": n, "last": <last content or null>}
// Publish with: caxton message send --topic news --performative inform --content '{"headline":"..."}'
import {
  Message, Performative, JSONValue, dispatch, init, reply, jsonObject, jsonNull, parseJSON, agentConfig, subscribe,
  kvGet, kvSet, logInfo, logError,
} from "@caxton/sdk-assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc } from "@caxton/sdk-assemblyscript/assembly";

let topicName = "news";

// agent_init: init() captures the name and config, then calls ready(); non-zero fails the start.
export function agent_init(ptr: i32, len: i32): i32 {
  return init(ptr, len, ready);
}

function ready(): i32 {
  let t = agentConfig().getString("topic");
  if (t !== null) topicName = t;
  let rc = subscribe(topicName); // lasts while the agent runs; made again after every restart
  if (rc != 0) logError("cannot subscribe to " + topicName + ": " + rc.toString());
  return rc;
}

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function onMessage(msg: Message): i32 {
  let topic = msg.topic;
  if (topic !== null && topic == topicName) {
    let stored = kvGet("count");
    let count = (stored !== null ? I64.parseInt(stored, 10) : 0) + 1;
    let text = msg.content.stringify();
    let rc = kvSet("last", text);
    if (rc == 0) rc = kvSet("count", count.toString());
    if (rc != 0) return rc;
    logInfo(topicName + " #" + count.toString() + ": " + text);
    return 0;
  }
  if (msg.is(Performative.REQUEST)) {
    let stored = kvGet("count");
    let last = kvGet("last");
    let parsed = last !== null ? parseJSON(last) : null;
    let lastValue: JSONValue = parsed !== null ? parsed : jsonNull();
    return reply(msg, Performative.INFORM, jsonObject()
      .setString("topic", topicName)
      .setNumber("count", stored !== null ? <f64>I64.parseInt(stored, 10) : 0)
      .set("last", lastValue));
  }
  return 0;
}
