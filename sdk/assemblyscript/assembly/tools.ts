// Tools through MCP (docs/tools.md, docs/agent-abi.md "Tools"): a tool call is a conversation with the
// host-provided receiver "mcp:<server>", not a host function. callTool sends the request and returns
// the reply_with its answer will carry as in_reply_to; toolAnswer reads that answer (an inform with the
// tool's result, or a failure with the error code) so a handler can match and use it:
//
//   let id = callTool("weather", "forecast", jsonObject().setString("city", "Oslo"));
//   ...
//   let a = toolAnswer(msg);            // in handle_message, for any message
//   if (a !== null && a.inReplyTo == id) { if (a.ok) use(a.content); else logWarn(a.error + ": " + a.reason); }

import { JSONValue, jsonObject, jsonNull } from "./json";
import { Message, Performative } from "./message";
import { send, randomHex, timeNowUs } from "./agent";

/** The receiver prefix of the node's MCP servers. */
export const MCP_PREFIX = "mcp:";

/** Why the last callTool or listTools returned "": the host's send error code (negative), 0 otherwise. */
let lastError: i32 = 0;
export function toolCallError(): i32 { return lastError; }

/**
 * Calls `tool` of MCP server `server` with `args` (a JSON object). Returns the request's reply_with (the
 * answer's in_reply_to), or "" when the host refused to send it (toolCallError() says why).
 * `timeoutMs` > 0 sets reply_by: the call is cancelled past it and the answer is a failure
 * CAXTON_ERR_TOOL_TIMEOUT (the server's own timeout applies too). `conversationId` null: a new one.
 */
export function callTool(server: string, tool: string, args: JSONValue, timeoutMs: i32 = 0, conversationId: string | null = null): string {
  let content = jsonObject().setString("tool", tool).set("arguments", args.isObject() ? args : jsonObject());
  return ask(Performative.REQUEST, server, content, timeoutMs, conversationId);
}

/** Asks MCP server `server` for its tools (an inform {"tools": [{name, description, inputSchema}, ...]}). Returns the reply_with, or "". */
export function listTools(server: string, timeoutMs: i32 = 0, conversationId: string | null = null): string {
  return ask(Performative.QUERY_REF, server, jsonObject().setString("list", "tools"), timeoutMs, conversationId);
}

/** Cancels a call in flight (its failure still follows). */
export function cancelTool(server: string, replyWith: string): i32 {
  let m = Message.create(Performative.CANCEL, MCP_PREFIX + server, jsonObject().setString("cancel", replyWith));
  m.in_reply_to = replyWith;
  return send(m);
}

function ask(performative: string, server: string, content: JSONValue, timeoutMs: i32, conversationId: string | null): string {
  let m = Message.create(performative, MCP_PREFIX + server, content);
  let id = "tool-" + randomHex(8);
  m.reply_with = id;
  m.conversation_id = conversationId !== null ? conversationId : id;
  if (timeoutMs > 0) m.reply_by = new Date((timeNowUs() / 1000) + <i64>timeoutMs).toISOString();
  let rc = send(m);
  lastError = rc;
  return rc == 0 ? id : "";
}

/** The answer to a tool call or a tool list, as toolAnswer reads it. */
export class ToolAnswer {
  /** The server that answered (without "mcp:"); "" when the node answered for it (a reply_by passed, the server is unknown). */
  server: string = "";
  /** The reply_with of the call this answers (callTool's return value). */
  inReplyTo: string = "";
  /** True for an inform. */
  ok: bool = false;
  /** The tool (an answer to callTool; "" for a tool list or a failure without it). */
  tool: string = "";
  /** ok: the tool's result `content` array (listTools: the `tools` array); a failure: the tool's own error content, if any, else JSON null. */
  content: JSONValue = jsonNull();
  /** ok: the tool's structuredContent when it gave one, else JSON null. */
  structured: JSONValue = jsonNull();
  /** A failure's code: CAXTON_ERR_TOOL_FORBIDDEN, ..._TIMEOUT, ..._ERROR, ... or the node's (reply_timeout, no_such_agent). */
  error: string = "";
  /** A failure's reason, for a log line. */
  reason: string = "";
  /** The whole message content, for anything else. */
  raw: JSONValue = jsonNull();

  /** The text of the first text item of `content` (what most tools answer), or null. */
  text(): string | null {
    if (!this.content.isArray()) return null;
    for (let i = 0; i < this.content.size; i++) {
      let item = this.content.at(i)!;
      let t = item.getString("type");
      if (t !== null && t == "text") return item.getString("text");
    }
    return null;
  }
}

/**
 * Reads `msg` as the answer to a tool call or list: from "mcp:<server>" (an inform or a failure), or a
 * failure from the node ("caxton") to a request the agent sent to one (a reply_by that passed). null for
 * any other message, so a handler can try it first.
 */
export function toolAnswer(msg: Message): ToolAnswer | null {
  let sender = msg.sender;
  let inReplyTo = msg.in_reply_to;
  if (sender === null || inReplyTo === null) return null;
  let fromServer = sender.startsWith(MCP_PREFIX);
  let fromNode = sender == "caxton" && inReplyTo.startsWith("tool-");
  if (!fromServer && !fromNode) return null;
  let isInform = msg.is(Performative.INFORM);
  if (!isInform && !msg.is(Performative.FAILURE) && !msg.is(Performative.NOT_UNDERSTOOD)) return null;
  let a = new ToolAnswer();
  a.server = fromServer ? sender.substring(MCP_PREFIX.length) : "";
  a.inReplyTo = inReplyTo;
  a.ok = isInform;
  let c = msg.content;
  a.raw = c;
  let tool = c.getString("tool");
  if (tool !== null) a.tool = tool;
  if (isInform) {
    let content = c.get("content");
    if (content === null) content = c.get("tools");
    if (content !== null) a.content = content;
    let structured = c.get("structuredContent");
    if (structured !== null) a.structured = structured;
  } else {
    let error = c.getString("error");
    a.error = error !== null ? error : "unknown";
    let reason = c.getString("reason");
    if (reason !== null) a.reason = reason;
    let content = c.get("content");
    if (content !== null) a.content = content;
  }
  return a;
}
