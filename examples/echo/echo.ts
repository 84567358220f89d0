// echo: answers every message with `inform` carrying the same content (conversation_id, protocol and
// in_reply_to = the request's reply_with are set by Message.reply). Messages the agent sent to itself
// are not answered, so it can never loop on its own output.
import { Message, Performative, dispatch, reply, agentName } from "../../sdk/assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "../../sdk/assemblyscript/assembly";

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function onMessage(msg: Message): i32 {
  let sender = msg.sender;
  if (sender === null || sender == agentName()) return 0;
  let rc = reply(msg, Performative.INFORM, msg.content);
  return rc == 0 ? 0 : rc;
}
