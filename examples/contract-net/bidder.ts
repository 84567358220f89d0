// cn-bidder: the participant side of FIPA contract net.
//
// Init config: {"price": n} sets the bid; without it the price is 10 + (FNV-1a-32 of the agent's
// UTF-8 name) % 90, so every bidder has a stable, name-derived price in [10, 99]. {"refuse": true}
// makes it refuse every cfp.
//
//   cfp {"task": t}            -> propose {"price": p}        or  refuse {"reason": "not bidding"}
//   accept-proposal            -> inform {"result": "done: <t>"} (t verbatim if a string, else its JSON;
//                                 taken from the accept-proposal's "task", else from the cfp)
//   reject-proposal            -> nothing
//   anything else              -> nothing (logged at debug level)
// Replies use Message.reply: conversation_id, protocol and in_reply_to are carried over.
import {
  Message, Performative, JSONValue, dispatch, reply, jsonObject, agentConfig, agentName, logDebug,
} from "../../sdk/assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "../../sdk/assemblyscript/assembly";

// Tasks of open cfps by conversation_id (bounded, so unanswered rounds cannot grow it forever).
const tasks = new Map<string, JSONValue>();
const MAX_OPEN = 1000;

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function fnv1a(s: string): u32 {
  let b = Uint8Array.wrap(String.UTF8.encode(s));
  let h: u32 = 0x811C9DC5;
  for (let i = 0; i < b.length; i++) {
    h ^= <u32>b[i];
    h *= 0x01000193;
  }
  return h;
}

// The init document does not change while the instance lives, so the price is worked out once.
let priceValue: f64 = NaN;

function price(): f64 {
  if (isNaN(priceValue)) {
    let p = agentConfig().get("price");
    priceValue = p !== null && p.isNumber() ? p.asNumber() : <f64>(10 + fnv1a(agentName()) % 90);
  }
  return priceValue;
}

function onMessage(msg: Message): i32 {
  let cid = msg.conversation_id;
  let key = cid !== null ? cid : "";
  if (msg.is(Performative.CFP)) {
    if (agentConfig().getBool("refuse", false)) {
      reply(msg, Performative.REFUSE, jsonObject().setString("reason", "not bidding"));
      return 0;
    }
    let task = msg.content.get("task");
    if (tasks.size >= MAX_OPEN) tasks.clear();
    tasks.set(key, task !== null ? task : msg.content);
    reply(msg, Performative.PROPOSE, jsonObject().setNumber("price", price()));
    return 0;
  }
  if (msg.is(Performative.ACCEPT_PROPOSAL)) {
    let task = msg.content.get("task");
    if (tasks.has(key)) {
      if (task === null) task = tasks.get(key);
      tasks.delete(key);
    }
    let text = "";
    if (task !== null) {
      let s = task.asString();
      text = s !== null ? s : task.stringify();
    }
    reply(msg, Performative.INFORM, jsonObject().setString("result", "done: " + text));
    return 0;
  }
  if (msg.is(Performative.REJECT_PROPOSAL)) {
    tasks.delete(key);
    return 0;
  }
  logDebug("cn-bidder: ignored " + msg.performative);
  return 0;
}
