/*
 * {{name}}: answers FIPA requests, and keeps a count of them in the key-value store (which survives
 * restarts and upgrades; the agent's memory does not).
 *
 *   request {"name": "Ada"}   -> inform {"greeting": "Hello, Ada!", "count": n}   (n: requests answered so far)
 *   request without a "name"  -> refuse {"reason": "content needs a string \"name\""}
 *   anything else             -> not-understood {"reason": "send me a request"}
 * Replies carry the conversation over (caxton_reply: conversation_id, protocol, in_reply_to = reply_with).
 */
#include "caxton.h"

int agent_init(const u8 *ptr, int len) { return caxton_init(ptr, len); }

static int handle(const u8 *ptr, int len) {
  caxton_message m;
  if (caxton_parse_message(ptr, len, &m) != 0) return -1;
  if (!caxton_is_string(m.sender) || caxton_is_self(m.sender)) return 0;
  if (!caxton_is(&m, "request")) {
    /* Never answer a not-understood with one: two such agents would loop. */
    if (caxton_is(&m, "not-understood")) return 0;
    return caxton_reply(&m, "not-understood", caxton_cstr("{\"reason\":\"send me a request\"}"));
  }
  caxton_span name = caxton_get(m.content, "name");
  if (!caxton_is_string(name)) {
    return caxton_reply(&m, "refuse", caxton_cstr("{\"reason\":\"content needs a string \\\"name\\\"\"}"));
  }
  i64 count = caxton_kv_get_int("count", 0) + 1;
  int rc = caxton_kv_set_int("count", count);
  if (rc != 0) return rc; /* a negative return counts as an error in the agent's statistics */

  /* {"greeting":"Hello, <name>!","count":n}: the name is spliced in with its escapes as they came. */
  u8 *out = caxton_bump(64 + name.n);
  if (!out) return CAXTON_ERR_QUOTA;
  u8 *o = caxton_put(out, "{\"greeting\":\"Hello, ");
  o = caxton_put_string_inner(o, name);
  o = caxton_put(o, "!\",\"count\":");
  o = caxton_put_int(o, count);
  o = caxton_put(o, "}");
  caxton_log_str(CAXTON_INFO, "greeted a requester");
  caxton_span content = { out, (u32)(o - out) };
  return caxton_reply(&m, "inform", content);
}

int handle_message(const u8 *ptr, int len) {
  int rc = handle(ptr, len);
  caxton_heap_reset(); /* frees the message buffer and everything allocated during the call */
  return rc;
}
