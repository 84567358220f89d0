// calculator: FIPA request and FIPA query over two-argument arithmetic.
//
//   request   {"op":"add"|"sub"|"mul"|"div","args":[a,b]} -> agree <same content>, then inform {"result":x}
//             division by zero                            -> agree, then failure {"error":"division by zero"}
//   query-ref {"op":...,"args":[a,b]}                       -> inform {"result":x}  (no agree)
//   query-if  {"op":...,"args":[a,b],"equals":y}            -> inform {"holds":true|false}
//             division by zero                            -> failure {"error":"division by zero"}
//   unknown op (well-formed content)                      -> refuse {"error":"unknown op: <op>"}
//   content not {"op":string,"args":[number,number]}      -> not-understood {"error":"..."}
//   any other performative                                -> not-understood {"error":"..."}
//   (a not-understood is never answered)
// It registers the capability "arithmetic".
import {
  Message, Performative, JSONValue, dispatch, reply, jsonObject, init, registerCapability,
} from "../../sdk/assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc } from "../../sdk/assemblyscript/assembly";

// Messages addressed to the capability "arithmetic" (instead of a receiver) reach a calculator.
export function agent_init(ptr: i32, len: i32): i32 {
  return init(ptr, len, registerArithmetic);
}

function registerArithmetic(): i32 {
  return registerCapability("arithmetic");
}

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function error(text: string): JSONValue {
  return jsonObject().setString("error", text);
}

function onMessage(msg: Message): i32 {
  let isRequest = msg.is(Performative.REQUEST);
  let isQueryIf = msg.is(Performative.QUERY_IF);
  if (!isRequest && !isQueryIf && !msg.is(Performative.QUERY_REF)) {
    if (!msg.is(Performative.NOT_UNDERSTOOD)) {
      reply(msg, Performative.NOT_UNDERSTOOD, error("calculator understands request, query-ref and query-if"));
    }
    return 0;
  }
  let c = msg.content;
  let op = c.getString("op");
  let args = c.get("args");
  if (op === null || args === null || !args.isArray() || args.size != 2 ||
      !args.at(0)!.isNumber() || !args.at(1)!.isNumber()) {
    reply(msg, Performative.NOT_UNDERSTOOD, error("content must be {\"op\":string,\"args\":[number,number]}"));
    return 0;
  }
  if (op != "add" && op != "sub" && op != "mul" && op != "div") {
    reply(msg, Performative.REFUSE, error("unknown op: " + op));
    return 0;
  }
  let a = args.at(0)!.asNumber();
  let b = args.at(1)!.asNumber();
  if (isRequest) reply(msg, Performative.AGREE, c);
  if (op == "div" && b == 0) {
    reply(msg, Performative.FAILURE, error("division by zero"));
    return 0;
  }
  let r: f64;
  if (op == "add") r = a + b;
  else if (op == "sub") r = a - b;
  else if (op == "mul") r = a * b;
  else r = a / b;
  if (isQueryIf) {
    // fipa-query query-if: is it true that op(args) equals "equals"?
    let expected = c.get("equals");
    if (expected === null || !expected.isNumber()) {
      reply(msg, Performative.NOT_UNDERSTOOD, error("query-if needs \"equals\": number"));
      return 0;
    }
    reply(msg, Performative.INFORM, jsonObject().setBool("holds", r == expected.asNumber()));
    return 0;
  }
  reply(msg, Performative.INFORM, jsonObject().setNumber("result", r));
  return 0;
}
