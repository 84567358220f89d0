// json: the "JSON request" agent of the SDK benchmark (bench/sdks.bench.ts). The same agent exists
// in C (examples/c-echo/json.c) and Rust (examples/rust-json), so the three SDKs are compared on
// one job: a request of about 1 KB is parsed and answered.
//
//   request {"items": [{"sku": s, "qty": n, "price": p, ...}, ...]}
//     -> inform {"count": <number of items>, "total": <sum of qty * price>}
//   anything without an items array -> not-understood {"error": "expected {\"items\": [...]}"}
import { Message, Performative, dispatch, reply, jsonObject, agentName } from "../../sdk/assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "../../sdk/assemblyscript/assembly";

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function onMessage(msg: Message): i32 {
  let sender = msg.sender;
  if (sender === null || sender == agentName()) return 0;
  let items = msg.content.get("items");
  let list = items !== null ? items.asArray() : null;
  if (list === null) {
    return reply(msg, Performative.NOT_UNDERSTOOD, jsonObject().setString("error", "expected {\"items\": [...]}"));
  }
  let total: f64 = 0;
  let n = list.length;
  for (let i = 0; i < n; i++) {
    let item = list.at(i);
    if (item === null) continue;
    total += item.getNumber("qty", 0) * item.getNumber("price", 0);
  }
  return reply(msg, Performative.INFORM, jsonObject().setNumber("count", <f64>n).setNumber("total", total));
}
