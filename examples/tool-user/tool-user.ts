// tool-user: calls MCP tools for whoever asks it, and answers with what the tool said. It shows the
// SDK's tool helpers (sdk/assemblyscript/assembly/tools.ts) and the way an agent keeps a conversation
// open across messages: the question's sender is kept under the call's id until the answer comes.
//
//   request {"server": "s", "tool": "t", "arguments": {...}, "timeout_ms"?: n}
//            -> inform  {"server", "tool", "content": [...], "text"?: first text, "structuredContent"?}
//            -> failure {"server", "error": CAXTON_ERR_TOOL_..., "reason", ...the failure's details}
//   request {"server": "s", "list": "tools"}  -> inform {"server", "tools": [...]} or failure
//   anything else                             -> not-understood (a not-understood is never answered)
//
// Which tools it may call is the operator's business: the server's allow list names this agent (or a
// capability it registers: deploy it with config {"capability": "<name>"}), or the answer is a failure
// with CAXTON_ERR_TOOL_FORBIDDEN.
import {
  Message, Performative, dispatch, reply, send, jsonObject,
  callTool, listTools, toolAnswer, toolCallError, kvSetJSON, kvGetJSON, kvDelete, init, agentConfig, registerCapability,
} from "../../sdk/assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc } from "../../sdk/assemblyscript/assembly";

export function agent_init(ptr: i32, len: i32): i32 {
  return init(ptr, len, registerConfigured);
}

// A capability from the deployment's config, for allow lists that name capabilities.
function registerConfigured(): i32 {
  let capability = agentConfig().getString("capability");
  return capability === null ? 0 : registerCapability(capability);
}

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function onMessage(msg: Message): i32 {
  // An answer from a tool server (or the node's reply_timeout for a call): pass it on.
  let a = toolAnswer(msg);
  if (a !== null) {
    let key = "pending:" + a.inReplyTo;
    let asked = kvGetJSON(key);
    if (asked === null) return 0; // not ours, or answered already
    kvDelete(key);
    let back = Message.create(a.ok ? Performative.INFORM : Performative.FAILURE, asked.getString("to"), jsonObject());
    let out = jsonObject().setString("server", a.server);
    if (a.tool != "") out.setString("tool", a.tool);
    if (a.ok) {
      out.set(a.raw.get("tools") !== null ? "tools" : "content", a.content);
      let text = a.text();
      if (text !== null) out.setString("text", text);
      if (!a.structured.isNull()) out.set("structuredContent", a.structured);
    } else {
      // The failure as the server's bridge (or the node) wrote it: error, reason and the details
      // (retry_in_ms of a rate limit, the tool's own error content, ...).
      let whole = a.raw.asObject();
      if (whole !== null) out = whole.setString("server", a.server);
      else out.setString("error", a.error).setString("reason", a.reason);
    }
    back.content = out;
    let rw = asked.getString("reply_with");
    if (rw !== null) back.in_reply_to = rw;
    let cid = asked.getString("conversation_id");
    if (cid !== null) back.conversation_id = cid;
    send(back);
    return 0;
  }
  if (msg.is(Performative.NOT_UNDERSTOOD) || msg.is(Performative.FAILURE) || msg.is(Performative.INFORM)) return 0;
  let c = msg.content;
  let server = c.getString("server");
  if (!msg.is(Performative.REQUEST) || server === null) {
    reply(msg, Performative.NOT_UNDERSTOOD, jsonObject().setString("error", "tool-user takes request {\"server\", \"tool\", \"arguments\"} or {\"server\", \"list\": \"tools\"}"));
    return 0;
  }
  let timeout = <i32>c.getNumber("timeout_ms", 0);
  let tool = c.getString("tool");
  let id: string;
  if (tool !== null) {
    let args = c.get("arguments");
    id = callTool(server, tool, args !== null ? args : jsonObject(), timeout);
  } else {
    id = listTools(server, timeout);
  }
  if (id == "") {
    reply(msg, Performative.FAILURE, jsonObject().setString("error", "send refused").setNumber("code", <f64>toolCallError()));
    return 0;
  }
  // Who asked, under the call's id: the answer's in_reply_to finds it (and it survives a restart).
  let asked = jsonObject().setString("to", msg.sender!);
  let rw = msg.reply_with;
  if (rw !== null) asked.setString("reply_with", rw);
  let cid = msg.conversation_id;
  if (cid !== null) asked.setString("conversation_id", cid);
  kvSetJSON("pending:" + id, asked);
  return 0;
}
