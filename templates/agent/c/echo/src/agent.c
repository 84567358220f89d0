/*
 * {{name}}: answers every message with `inform` carrying the same content. caxton_reply sets
 * receiver = the sender, conversation_id, protocol, language, ontology and in_reply_to = the
 * request's reply_with, copying the values byte for byte. Messages the agent sent to itself are not
 * answered, so it cannot loop on its own output. caxton.h (in the caxton package's sdk/c) has the ABI.
 */
#include "caxton.h"

int agent_init(const u8 *ptr, int len) { return caxton_init(ptr, len); } /* captures name and config */

static int handle(const u8 *ptr, int len) {
  caxton_message m;
  if (caxton_parse_message(ptr, len, &m) != 0) return -1;
  if (!caxton_is_string(m.sender) || caxton_is_self(m.sender)) return 0;
  return caxton_reply(&m, "inform", m.content); /* 0, or a negative host error code */
}

int handle_message(const u8 *ptr, int len) {
  int rc = handle(ptr, len);
  caxton_heap_reset(); /* frees the message buffer and everything allocated during the call */
  return rc;
}
