/*
 * {{name}}: a participant in FIPA contract net (protocol "fipa-contract-net"), for example in a
 * round run by Caxton's example manager (examples/contract-net/manager.ts).
 *
 *   cfp {"task": t}                  -> propose {"price": p}
 *   accept-proposal {"task": t, ...} -> inform {"result": "done", "task": t}, and kv "won" + 1
 *   reject-proposal                  -> nothing
 *   anything else                    -> nothing (logged at debug level)
 * The price is the deployment config's "price" if it is an integer (caxton deploy ... --config
 * '{"price": 42}'), else 10 + (FNV-1a of the agent's name) % 90: stable per name, so bidders with
 * different names differ. Replies carry the conversation over (caxton_reply).
 */
#include "caxton.h"

static i64 price = -1; /* worked out once: the init document does not change while the instance lives */

int agent_init(const u8 *ptr, int len) {
  int rc = caxton_init(ptr, len);
  if (rc != 0) return rc;
  if (caxton_parse_int(caxton_get(caxton_agent_config(), "price"), &price) == 0) return 0;
  /* FNV-1a-32 of the name's UTF-8 bytes (inside the quotes of its JSON string) */
  caxton_span name = caxton_agent_name();
  u32 h = 0x811C9DC5u;
  for (u32 i = 1; i + 1 < name.n; i++) {
    h ^= name.p[i];
    h *= 0x01000193u;
  }
  price = 10 + h % 90;
  return 0;
}

static int handle(const u8 *ptr, int len) {
  caxton_message m;
  if (caxton_parse_message(ptr, len, &m) != 0) return -1;
  if (caxton_is(&m, "cfp")) {
    u8 buf[40];
    u8 *o = caxton_put(buf, "{\"price\":");
    o = caxton_put_int(o, price);
    o = caxton_put(o, "}");
    caxton_span content = { buf, (u32)(o - buf) };
    return caxton_reply(&m, "propose", content);
  }
  if (caxton_is(&m, "accept-proposal")) {
    int rc = caxton_kv_set_int("won", caxton_kv_get_int("won", 0) + 1);
    if (rc != 0) return rc;
    caxton_span task = caxton_get(m.content, "task");
    u8 *out = caxton_bump(40 + task.n);
    if (!out) return CAXTON_ERR_QUOTA;
    u8 *o = caxton_put(out, "{\"result\":\"done\"");
    o = caxton_put_field(o, "task", task);
    o = caxton_put(o, "}");
    caxton_log_str(CAXTON_INFO, "won a task");
    caxton_span content = { out, (u32)(o - out) };
    return caxton_reply(&m, "inform", content);
  }
  caxton_log_str(CAXTON_DEBUG, "ignored a message that is neither cfp nor accept-proposal");
  return 0;
}

int handle_message(const u8 *ptr, int len) {
  int rc = handle(ptr, len);
  caxton_heap_reset(); /* frees the message buffer and everything allocated during the call */
  return rc;
}
