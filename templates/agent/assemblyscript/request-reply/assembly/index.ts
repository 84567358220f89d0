// {{name}}: answers FIPA requests, and keeps a count of them in the key-value store (which survives
// restarts and upgrades; the agent's memory does not).
//
//   request {"name": "Ada"}   -> inform {"greeting": "Hello, Ada!", "count": n}   (n: requests answered so far)
//   request without a "name"  -> refuse {"reason": "content needs a string \"name\""}
//   anything else             -> not-understood {"reason": "send me a request"}
// Replies carry the conversation over (reply(): conversation_id, protocol, in_reply_to = reply_with).
import {
  Message, Performative, dispatch, reply, jsonObject, kvGet, kvSet, agentName, logInfo,
} from "@caxton/sdk-assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "@caxton/sdk-assemblyscript/assembly";

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function onMessage(msg: Message): i32 {
  let sender = msg.sender;
  if (sender === null || sender == agentName()) return 0;
  if (!msg.is(Performative.REQUEST)) {
    // Never answer a not-understood with one: two such agents would loop.
    if (msg.is(Performative.NOT_UNDERSTOOD)) return 0;
    return reply(msg, Performative.NOT_UNDERSTOOD, jsonObject().setString("reason", "send me a request"));
  }
  let name = msg.content.getString("name");
  if (name === null) {
    return reply(msg, Performative.REFUSE, jsonObject().setString("reason", "content needs a string \"name\""));
  }
  let stored = kvGet("count"); // null until the first request
  let count = (stored !== null ? I64.parseInt(stored, 10) : 0) + 1;
  let rc = kvSet("count", count.toString());
  if (rc != 0) return rc; // a negative return counts as an error in the agent's statistics
  logInfo("greeted " + name + " (" + count.toString() + " so far)");
  return reply(msg, Performative.INFORM,
    jsonObject().setString("greeting", "Hello, " + name + "!").setNumber("count", <f64>count));
}
