/*
 * {{name}}: subscribes to a topic and keeps what it hears in the key-value store.
 *
 *   agent_init                          -> subscribes to the config's "topic" (default "news")
 *   a message published to the topic    -> kv "count" + 1, kv "last" = its content, logged at info
 *   request (any content)               -> inform {"topic": t, "count": n, "last": <last content or null>}
 * Publish with: caxton message send --topic news --performative inform --content '{"headline":"..."}'
 */
#include "caxton.h"

#define TOPIC_CAP 258
static u8 topic[TOPIC_CAP] = "\"news\""; /* the topic as a JSON string token, quotes included */
static u32 topic_len = 6;

int agent_init(const u8 *ptr, int len) {
  int rc = caxton_init(ptr, len);
  if (rc != 0) return rc;
  caxton_span t = caxton_get(caxton_agent_config(), "topic");
  if (caxton_is_string(t) && t.n <= TOPIC_CAP) {
    memcpy(topic, t.p, t.n);
    topic_len = t.n;
  }
  /* Lasts while the agent runs; agent_init makes it again after every restart. */
  rc = caxton_topic_subscribe(topic + 1, (int)topic_len - 2);
  if (rc != 0) caxton_log_str(CAXTON_ERROR, "cannot subscribe to the topic");
  return rc;
}

static int handle(const u8 *ptr, int len) {
  caxton_message m;
  if (caxton_parse_message(ptr, len, &m) != 0) return -1;
  caxton_span mine = { topic, topic_len };
  if (caxton_span_eq(m.topic, mine)) {
    caxton_span content = caxton_present(m.content) ? m.content : caxton_cstr("null");
    int rc = caxton_kv_set((const u8 *)"last", 4, content.p, (int)content.n);
    if (rc == 0) rc = caxton_kv_set_int("count", caxton_kv_get_int("count", 0) + 1);
    if (rc != 0) return rc;
    caxton_log(CAXTON_INFO, content.p, (int)content.n);
    return 0;
  }
  if (caxton_is(&m, "request") && caxton_is_string(m.sender)) {
    /* The last content: ask for its length first, then read it into a buffer that size. */
    int last_len = caxton_kv_get((const u8 *)"last", 4, 0, 0);
    u8 *out = caxton_bump(300 + topic_len + (last_len > 0 ? (u32)last_len : 0));
    if (!out) return CAXTON_ERR_QUOTA;
    u8 *o = caxton_put(out, "{\"topic\":");
    o = caxton_put_span(o, mine);
    o = caxton_put(o, ",\"count\":");
    o = caxton_put_int(o, caxton_kv_get_int("count", 0));
    o = caxton_put(o, ",\"last\":");
    if (last_len > 0) o += caxton_kv_get((const u8 *)"last", 4, o, last_len);
    else o = caxton_put(o, "null");
    o = caxton_put(o, "}");
    caxton_span content = { out, (u32)(o - out) };
    return caxton_reply(&m, "inform", content);
  }
  return 0;
}

int handle_message(const u8 *ptr, int len) {
  int rc = handle(ptr, len);
  caxton_heap_reset(); /* frees the message buffer and everything allocated during the call */
  return rc;
}
