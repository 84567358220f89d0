// Caxton agent SDK for AssemblyScript. See ../README.md and docs/sdk-assemblyscript.md.
//
// An agent's entry file re-exports the ABI plumbing and defines handle_message:
//
//   import { Message, dispatch, reply, Performative } from "../../sdk/assemblyscript/assembly";
//   export { caxton_abi_version, caxton_alloc, agent_init } from "../../sdk/assemblyscript/assembly";
//   export function handle_message(ptr: i32, len: i32): i32 { return dispatch(ptr, len, onMessage); }
//   function onMessage(msg: Message): i32 { reply(msg, Performative.INFORM, msg.content); return 0; }

export * from "./host";
export * from "./json";
export * from "./message";
export * from "./agent";
export * from "./tools";
