/*
 * c-echo: the echo agent in freestanding C, to show that the Caxton ABI (docs/agent-abi.md) is
 * language-neutral. No libc, no WASI: the module imports only caxton.send and caxton.log. The ABI
 * plumbing (exports, bump allocator, JSON scan, reply) is sdk/c/caxton.h (docs/sdk-c.md).
 *
 * Behaviour (same as examples/echo): every message is answered with
 *   {"performative":"inform","receiver":<sender>,"content":<content>,
 *    "conversation_id":<conversation_id>,"in_reply_to":<reply_with>,"protocol":<protocol>,
 *    "language":<language>,"ontology":<ontology>}
 * where absent or null fields are left out (content becomes null). Values are copied byte for byte,
 * so escapes survive unchanged. Messages from the agent itself (its name comes from agent_init) and
 * messages without a string sender are not answered. These are the fields Message.reply in the
 * AssemblyScript SDK sets.
 *
 * Build (scripts/build-agents.mjs does this):
 *   clang --target=wasm32 -nostdlib -O2 -Wl,--no-entry -Wl,--export=caxton_abi_version \
 *     -Wl,--export=caxton_alloc -Wl,--export=handle_message -Wl,--export=agent_init \
 *     -o build/agents/c-echo.wasm examples/c-echo/echo.c
 */
#include "../../sdk/c/caxton.h" /* relative: the build needs no -I */

int agent_init(const u8 *ptr, int len) { return caxton_init(ptr, len); }

static int handle(const u8 *ptr, int len) {
  caxton_message m;
  if (caxton_parse_message(ptr, len, &m) != 0) return -1; /* logged at error */
  if (!caxton_is_string(m.sender) || caxton_is_self(m.sender)) return 0; /* a timer: do not loop */
  return caxton_reply(&m, "inform", m.content);
}

int handle_message(const u8 *ptr, int len) {
  int rc = handle(ptr, len);
  caxton_heap_reset(); /* frees the message buffer and everything allocated during the call */
  return rc;
}
