// {{name}}: a participant in FIPA contract net (protocol "fipa-contract-net"), for example in a
// round run by Caxton's example manager (examples/contract-net/manager.ts).
//
//   cfp {"task": t}                  -> propose {"price": p}
//   accept-proposal {"task": t, ...} -> inform {"result": "done", "task": t}, and kv "won" + 1
//   reject-proposal                  -> nothing
//   anything else                    -> nothing (logged at debug level)
// The price is the deployment config's "price" (caxton deploy ... --config '{"price": 42}'), else
// 10 + (FNV-1a of the agent's name) % 90: stable per name, so bidders with different names differ.
// Replies carry the conversation over (reply(): conversation_id, protocol, in_reply_to = reply_with).
import {
  Message, Performative, dispatch, reply, jsonObject, agentConfig, agentName, kvGet, kvSet, logDebug, logInfo,
} from "@caxton/sdk-assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "@caxton/sdk-assemblyscript/assembly";

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

// The init document does not change while the instance lives: the price is worked out once.
let priceValue: f64 = NaN;

function price(): f64 {
  if (isNaN(priceValue)) {
    let p = agentConfig().get("price");
    priceValue = p !== null && p.isNumber() ? p.asNumber() : <f64>(10 + fnv1a(agentName()) % 90);
  }
  return priceValue;
}

function onMessage(msg: Message): i32 {
  if (msg.is(Performative.CFP)) {
    return reply(msg, Performative.PROPOSE, jsonObject().setNumber("price", price()));
  }
  if (msg.is(Performative.ACCEPT_PROPOSAL)) {
    let stored = kvGet("won");
    let won = (stored !== null ? I64.parseInt(stored, 10) : 0) + 1;
    let rc = kvSet("won", won.toString());
    if (rc != 0) return rc;
    let task = msg.content.get("task");
    let result = jsonObject().setString("result", "done");
    if (task !== null) result.set("task", task);
    logInfo("won task " + (task !== null ? task.stringify() : "null") + " (" + won.toString() + " so far)");
    return reply(msg, Performative.INFORM, result);
  }
  logDebug("ignored " + msg.performative);
  return 0;
}
