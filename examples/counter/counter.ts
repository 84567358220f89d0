// counter: a durable counter. All state lives in the key-value store under "count", so the count
// survives traps, restarts and re-instantiation (there is no in-memory copy).
//
//   request {"op":"increment","by":n}  -> inform {"count":N}   (by defaults to 1; integer)
//   request {"op":"get"}               -> inform {"count":N}
//   anything else                      -> not-understood {"error":"..."}
//   (a not-understood is never answered, so two agents cannot loop on each other)
import {
  Message, Performative, JSONValue, dispatch, reply, kvGet, kvSet, kvLastError, HostError,
  jsonObject, jsonString,
} from "../../sdk/assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "../../sdk/assemblyscript/assembly";

const KEY = "count";

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function notUnderstood(msg: Message, why: string): i32 {
  if (msg.is(Performative.NOT_UNDERSTOOD)) return 0;
  reply(msg, Performative.NOT_UNDERSTOOD, jsonObject().setString("error", why));
  return 0;
}

function readCount(): i64 {
  let s = kvGet(KEY);
  if (s === null) return 0; // not found (or unreadable: see kvLastError)
  return I64.parseInt(s, 10);
}

function countReply(msg: Message, n: i64): void {
  reply(msg, Performative.INFORM, jsonObject().setNumber("count", <f64>n));
}

function onMessage(msg: Message): i32 {
  if (!msg.is(Performative.REQUEST)) return notUnderstood(msg, "counter only understands request");
  let op = msg.content.getString("op");
  if (op === null) return notUnderstood(msg, "content must be {\"op\":\"increment\"|\"get\"}");
  if (op == "get") {
    let n = readCount();
    let err = kvLastError();
    if (err != 0 && err != HostError.NOT_FOUND) return storageFailure(msg, err);
    countReply(msg, n);
    return 0;
  }
  if (op == "increment") {
    let by: i64 = 1;
    let byValue: JSONValue | null = msg.content.get("by");
    if (byValue !== null) {
      if (!byValue.isInteger()) return notUnderstood(msg, "\"by\" must be an integer");
      by = <i64>byValue.asNumber();
    }
    let n = readCount();
    let err = kvLastError();
    if (err != 0 && err != HostError.NOT_FOUND) return storageFailure(msg, err);
    n += by;
    let rc = kvSet(KEY, n.toString());
    if (rc != 0) return storageFailure(msg, rc);
    countReply(msg, n);
    return 0;
  }
  return notUnderstood(msg, "unknown op: " + op);
}

function storageFailure(msg: Message, code: i32): i32 {
  reply(msg, Performative.FAILURE, jsonObject().set("error", jsonString("storage error " + code.toString())));
  return 0;
}
