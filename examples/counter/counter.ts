// counter: a durable counter. All state lives in the key-value store under "count", so the count
// survives traps, restarts and re-instantiation (there is no in-memory copy).
//
//   request {"op":"increment","by":n}  -> inform {"count":N}   (by defaults to 1; integer)
//   request {"op":"get"}               -> inform {"count":N}
//   subscribe {...}                    -> agree, then inform {"count":N} after every increment
//                                         (fipa-subscribe; subscriptions are kept in the store too)
//   cancel (from a subscriber)         -> inform {"cancelled":true}; no more updates
//   anything else                      -> not-understood {"error":"..."}
//   (a not-understood is never answered, so two agents cannot loop on each other)
import {
  Message, Performative, JSONValue, dispatch, reply, kvGet, kvSet, kvLastError, HostError,
  jsonObject, jsonString, jsonArray, kvGetJSON, kvSetJSON, send, JSONArray,
} from "../../sdk/assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "../../sdk/assemblyscript/assembly";

const KEY = "count";
const SUBSCRIBERS = "subscribers";

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

function subscriptions(): JSONValue {
  let s = kvGetJSON(SUBSCRIBERS);
  return s !== null && s.isArray() ? s : jsonArray();
}

/** fipa-subscribe: remember who asked, in which conversation, and agree. */
function subscribe(msg: Message): i32 {
  let sender = msg.sender;
  if (sender === null) return 0;
  let list = subscriptions();
  let entry = jsonObject().setString("to", sender!);
  if (msg.conversation_id !== null) entry.setString("conversation_id", msg.conversation_id!);
  if (msg.reply_with !== null) entry.setString("reply_with", msg.reply_with!);
  changetype<JSONArray>(list).push(entry);
  let rc = kvSetJSON(SUBSCRIBERS, list);
  if (rc != 0) return storageFailure(msg, rc);
  reply(msg, Performative.AGREE, jsonObject().setString("subscribed", "count"));
  return 0;
}

function cancel(msg: Message): i32 {
  let list = subscriptions();
  let kept = jsonArray();
  for (let i = 0; i < list.size; i++) {
    let e = list.at(i)!;
    let to = e.getString("to");
    if (to === null || msg.sender === null || to! != msg.sender!) kept.push(e);
  }
  let rc = kvSetJSON(SUBSCRIBERS, kept);
  if (rc != 0) return storageFailure(msg, rc);
  reply(msg, Performative.INFORM, jsonObject().setBool("cancelled", true));
  return 0;
}

/** Tells every subscriber the new count, each in its own subscription's conversation. */
function notify(n: i64): void {
  let list = subscriptions();
  for (let i = 0; i < list.size; i++) {
    let e = list.at(i)!;
    let to = e.getString("to");
    if (to === null) continue;
    let m = Message.create(Performative.INFORM, to, jsonObject().setNumber("count", <f64>n));
    m.conversation_id = e.getString("conversation_id");
    m.in_reply_to = e.getString("reply_with");
    m.protocol = "fipa-subscribe";
    send(m);
  }
}

function onMessage(msg: Message): i32 {
  if (msg.is(Performative.SUBSCRIBE)) return subscribe(msg);
  if (msg.is(Performative.CANCEL)) return cancel(msg);
  if (!msg.is(Performative.REQUEST)) return notUnderstood(msg, "counter only understands request, subscribe and cancel");
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
    notify(n);
    return 0;
  }
  return notUnderstood(msg, "unknown op: " + op);
}

function storageFailure(msg: Message, code: i32): i32 {
  reply(msg, Performative.FAILURE, jsonObject().set("error", jsonString("storage error " + code.toString())));
  return 0;
}
