// {{name}}: answers every message with `inform` carrying the same content. Message.reply (through
// reply()) sets receiver = the sender, conversation_id, protocol and in_reply_to = the request's
// reply_with. Messages the agent sent to itself are not answered, so it cannot loop on its own output.
import { Message, Performative, dispatch, reply, agentName, logDebug } from "@caxton/sdk-assemblyscript/assembly";
// The ABI's required exports, and agent_init (captures the agent's name and config).
export { caxton_abi_version, caxton_alloc, agent_init } from "@caxton/sdk-assemblyscript/assembly";

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage); // parses, frees the host's buffer, calls onMessage
}

function onMessage(msg: Message): i32 {
  let sender = msg.sender;
  if (sender === null || sender == agentName()) return 0;
  logDebug("echo to " + sender);
  // 0 on success; a negative value counts as an error in the agent's statistics.
  return reply(msg, Performative.INFORM, msg.content);
}
