/*
 * caxton.h: the Caxton agent ABI (docs/agent-abi.md) for freestanding C, in one header.
 *
 *   - the host imports (module "caxton"): caxton_send, caxton_log, caxton_kv_get, ...;
 *   - the required exports caxton_abi_version and caxton_alloc, with a bump allocator that is reset
 *     when each call returns (nothing an agent allocates outlives a call, which is what the ABI's
 *     buffer ownership allows: keep state in static storage or the key-value store);
 *   - memcpy and memset (clang emits calls to them for struct copies and large initialisers);
 *   - small helpers: a top-level JSON object scan, a parsed message, a reply that carries the
 *     conversation over (as Message.reply in the AssemblyScript SDK), integers, kv counters, and the
 *     agent's name and config captured from the init document.
 *
 * No libc, no WASI. Include it in exactly one .c file (it defines the exports), then define
 * handle_message and, usually, agent_init:
 *
 *   #include "caxton.h"
 *   int agent_init(const u8 *ptr, int len) { return caxton_init(ptr, len); }
 *   int handle_message(const u8 *ptr, int len) {
 *     caxton_message m;
 *     int rc = caxton_parse_message(ptr, len, &m) == 0 && !caxton_is_self(m.sender)
 *                  ? caxton_reply(&m, "inform", m.content) : 0;
 *     caxton_heap_reset();   // frees the message buffer and everything allocated in this call
 *     return rc;
 *   }
 *
 * Build (the templates' Makefile does this; flags as scripts/build-agents.mjs):
 *   clang --target=wasm32 -nostdlib -O2 -Wall -Wextra -Werror -Wl,--no-entry -Wl,--strip-debug \
 *     -Wl,--export=caxton_abi_version -Wl,--export=caxton_alloc -Wl,--export=handle_message \
 *     -Wl,--export=agent_init -I path/to/sdk/c -o agent.wasm agent.c
 * Only the imports an agent calls end up in its module.
 */
#ifndef CAXTON_H
#define CAXTON_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef long long i64;
typedef __SIZE_TYPE__ size_t;

#define CAXTON_IMPORT(name) __attribute__((import_module("caxton"), import_name(name)))

/* ---- host imports (docs/agent-abi.md, section 3) -------------------------------------------- */

CAXTON_IMPORT("send") int caxton_send(const u8 *ptr, int len);
CAXTON_IMPORT("log") void caxton_log(int level, const u8 *ptr, int len);
CAXTON_IMPORT("time_now_us") i64 caxton_time_now_us(void);
CAXTON_IMPORT("time_monotonic_us") i64 caxton_time_monotonic_us(void);
CAXTON_IMPORT("random_fill") int caxton_random_fill(u8 *ptr, int len);
CAXTON_IMPORT("timer_set") int caxton_timer_set(int delay_ms, const u8 *ptr, int len);
CAXTON_IMPORT("timer_cancel") int caxton_timer_cancel(int id);
CAXTON_IMPORT("kv_get") int caxton_kv_get(const u8 *key, int key_len, u8 *buf, int buf_cap);
CAXTON_IMPORT("kv_set") int caxton_kv_set(const u8 *key, int key_len, const u8 *val, int val_len);
CAXTON_IMPORT("kv_delete") int caxton_kv_delete(const u8 *key, int key_len);
CAXTON_IMPORT("capability_register") int caxton_capability_register(const u8 *ptr, int len);
CAXTON_IMPORT("topic_subscribe") int caxton_topic_subscribe(const u8 *ptr, int len);
CAXTON_IMPORT("topic_unsubscribe") int caxton_topic_unsubscribe(const u8 *ptr, int len);

/* Log levels of caxton_log. */
enum { CAXTON_TRACE = 0, CAXTON_DEBUG = 1, CAXTON_INFO = 2, CAXTON_WARN = 3, CAXTON_ERROR = 4 };

/* Host error codes (docs/agent-abi.md, "Error codes"); 0 is success. */
enum {
  CAXTON_ERR_NOT_FOUND = -1, CAXTON_ERR_BOUNDS = -2, CAXTON_ERR_TOO_LARGE = -3, CAXTON_ERR_INVALID_MESSAGE = -4,
  CAXTON_ERR_QUOTA = -5, CAXTON_ERR_BACKPRESSURE = -6, CAXTON_ERR_UNAVAILABLE = -7, CAXTON_ERR_INVALID_ARGUMENT = -8,
};

/* ---- memory ------------------------------------------------------------------------------- */

void *memcpy(void *dst, const void *src, size_t n) {
  u8 *d = (u8 *)dst;
  const u8 *s = (const u8 *)src;
  while (n--) *d++ = *s++;
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  u8 *d = (u8 *)dst;
  while (n--) *d++ = (u8)c;
  return dst;
}

extern u8 __heap_base;
static u32 caxton_heap_top;

/* Frees everything allocated since the last reset: call it when handle_message / agent_init return. */
static inline void caxton_heap_reset(void) { caxton_heap_top = ((u32)&__heap_base + 15u) & ~15u; }

/* len bytes (16-aligned) from the bump heap, growing memory as needed; 0 when it cannot. */
static inline u8 *caxton_bump(u32 len) {
  if (caxton_heap_top == 0) caxton_heap_reset();
  u32 start = caxton_heap_top;
  u32 end = start + ((len + 15u) & ~15u);
  if (end < start) return 0; /* wrapped */
  u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
  if (end > have) {
    u32 pages = (end - have + 65535u) / 65536u;
    if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
  }
  caxton_heap_top = end;
  return (u8 *)start;
}

int caxton_abi_version(void) { return 1; }

/* The host's buffer for the next message or init document; 0 (cannot allocate) for a negative length. */
u8 *caxton_alloc(int len) { return len < 0 ? 0 : caxton_bump((u32)len); }

/* ---- reading JSON ------------------------------------------------------------------------- */

/* A slice of the input: a JSON value's bytes as they arrived (a string keeps its quotes). p == 0: absent. */
typedef struct { const u8 *p; u32 n; } caxton_span;

static inline caxton_span caxton_cstr(const char *s) {
  u32 n = 0;
  while (s[n]) n++;
  caxton_span r = { (const u8 *)s, n };
  return r;
}

static inline const u8 *caxton_skip_ws(const u8 *p, const u8 *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

/* p is at the opening quote; returns the position after the closing quote, or 0. */
static inline const u8 *caxton_skip_string(const u8 *p, const u8 *end) {
  for (p++; p < end; p++) {
    if (*p == '\\') { p++; continue; }
    if (*p == '"') return p + 1;
  }
  return 0;
}

/* The position after the value that starts at p (nested values skipped by bracket depth), or 0. */
static inline const u8 *caxton_skip_value(const u8 *p, const u8 *end) {
  if (p >= end) return 0;
  if (*p == '"') return caxton_skip_string(p, end);
  if (*p == '{' || *p == '[') {
    u32 depth = 0;
    while (p < end) {
      u8 c = *p;
      if (c == '"') {
        p = caxton_skip_string(p, end);
        if (!p) return 0;
        continue;
      }
      if (c == '{' || c == '[') depth++;
      else if ((c == '}' || c == ']') && --depth == 0) return p + 1;
      p++;
    }
    return 0;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') p++;
  return p; /* number, true, false, null */
}

static inline int caxton_span_eq(caxton_span a, caxton_span b) {
  if (a.n != b.n) return 0;
  for (u32 i = 0; i < a.n; i++) if (a.p[i] != b.p[i]) return 0;
  return 1;
}
static inline int caxton_is_null(caxton_span v) { return caxton_span_eq(v, caxton_cstr("null")); }
/* Present and not null. */
static inline int caxton_present(caxton_span v) { return v.p != 0 && !caxton_is_null(v); }
static inline int caxton_is_string(caxton_span v) { return v.n >= 2 && v.p[0] == '"'; }
static inline int caxton_is_object(caxton_span v) { return v.n >= 2 && v.p[0] == '{'; }
/* A JSON string token equal to the C string s (no escapes compared: fine for names and performatives). */
static inline int caxton_string_is(caxton_span v, const char *s) {
  caxton_span inner = { v.p + 1, v.n >= 2 ? v.n - 2 : 0 };
  return caxton_is_string(v) && caxton_span_eq(inner, caxton_cstr(s));
}

/* Calls fn for every member of the top-level object in [p, end) (key without its quotes); 0 or -1. */
typedef void (*caxton_member_fn)(caxton_span key, caxton_span value, void *ctx);

static inline int caxton_scan_object(const u8 *p, const u8 *end, caxton_member_fn fn, void *ctx) {
  p = caxton_skip_ws(p, end);
  if (p >= end || *p != '{') return -1;
  p = caxton_skip_ws(p + 1, end);
  if (p < end && *p == '}') return 0;
  for (;;) {
    p = caxton_skip_ws(p, end);
    if (p >= end || *p != '"') return -1;
    const u8 *k_end = caxton_skip_string(p, end);
    if (!k_end) return -1;
    caxton_span key = { p + 1, (u32)(k_end - p - 2) };
    p = caxton_skip_ws(k_end, end);
    if (p >= end || *p != ':') return -1;
    p = caxton_skip_ws(p + 1, end);
    const u8 *v_end = caxton_skip_value(p, end);
    if (!v_end) return -1;
    caxton_span value = { p, (u32)(v_end - p) };
    fn(key, value, ctx);
    p = caxton_skip_ws(v_end, end);
    if (p >= end) return -1;
    if (*p == '}') return 0;
    if (*p != ',') return -1;
    p++;
  }
}

typedef struct { caxton_span key, found; } caxton_lookup_;
static inline void caxton_lookup_member_(caxton_span key, caxton_span value, void *ctx) {
  caxton_lookup_ *l = (caxton_lookup_ *)ctx;
  if (caxton_span_eq(key, l->key)) l->found = value;
}

/* The member `key` of the object `obj` (p == 0 when absent or obj is not an object). */
static inline caxton_span caxton_get(caxton_span obj, const char *key) {
  caxton_lookup_ l = { caxton_cstr(key), { 0, 0 } };
  if (!caxton_is_object(obj) || caxton_scan_object(obj.p, obj.p + obj.n, caxton_lookup_member_, &l) != 0) {
    caxton_span none = { 0, 0 };
    return none;
  }
  return l.found;
}

/* A JSON integer (an optional '-', digits) into *out: 0, or -1 for anything else (fractions too). */
static inline int caxton_parse_int(caxton_span v, i64 *out) {
  u32 i = 0;
  int neg = v.n > 0 && v.p[0] == '-';
  if (neg) i = 1;
  if (i >= v.n) return -1;
  i64 x = 0;
  for (; i < v.n; i++) {
    if (v.p[i] < '0' || v.p[i] > '9' || x > 100000000000000000LL) return -1;
    x = x * 10 + (v.p[i] - '0');
  }
  *out = neg ? -x : x;
  return 0;
}

/* ---- messages ------------------------------------------------------------------------------ */

/* The fields of a message (docs/agent-abi.md, section 4), as spans into the host's buffer. */
typedef struct {
  caxton_span performative, sender, receiver, topic, content, conversation_id, reply_with, in_reply_to, protocol,
      language, ontology;
} caxton_message;

/* k is the string literal lit (its length known at compile time: no strlen per compare). */
#define CAXTON_KEY_IS_(k, lit) ((k).n == sizeof(lit) - 1 && caxton_bytes_eq_((k).p, (const u8 *)(lit), sizeof(lit) - 1))
static inline int caxton_bytes_eq_(const u8 *a, const u8 *b, u32 n) {
  for (u32 i = 0; i < n; i++) if (a[i] != b[i]) return 0;
  return 1;
}

/* The field of m that key k names, or 0. Lengths are compared first, so most keys cost no loop. */
static inline caxton_span *caxton_message_field_(caxton_message *m, caxton_span k) {
  return CAXTON_KEY_IS_(k, "performative")      ? &m->performative
         : CAXTON_KEY_IS_(k, "sender")          ? &m->sender
         : CAXTON_KEY_IS_(k, "receiver")        ? &m->receiver
         : CAXTON_KEY_IS_(k, "topic")           ? &m->topic
         : CAXTON_KEY_IS_(k, "content")         ? &m->content
         : CAXTON_KEY_IS_(k, "conversation_id") ? &m->conversation_id
         : CAXTON_KEY_IS_(k, "reply_with")      ? &m->reply_with
         : CAXTON_KEY_IS_(k, "in_reply_to")     ? &m->in_reply_to
         : CAXTON_KEY_IS_(k, "protocol")        ? &m->protocol
         : CAXTON_KEY_IS_(k, "language")        ? &m->language
         : CAXTON_KEY_IS_(k, "ontology")        ? &m->ontology
                                                : 0;
}

static inline void caxton_message_member_(caxton_span k, caxton_span v, void *ctx) {
  caxton_span *f = caxton_message_field_((caxton_message *)ctx, k);
  if (f) *f = v;
}

/* Parses the message at [ptr, ptr+len) into *m: 0, or -1 (logged at error) when it is not a JSON object. */
static inline int caxton_parse_message(const u8 *ptr, int len, caxton_message *m) {
  memset(m, 0, sizeof *m);
  if (len >= 0 && caxton_scan_object(ptr, ptr + len, caxton_message_member_, m) == 0) return 0;
  static const char bad[] = "dropped a message that is not a JSON object";
  caxton_log(CAXTON_ERROR, (const u8 *)bad, sizeof bad - 1);
  return -1;
}

/* m's performative is `p` ("request", "cfp", ...). */
static inline int caxton_is(const caxton_message *m, const char *p) { return caxton_string_is(m->performative, p); }

/* ---- writing JSON ------------------------------------------------------------------------- */
/* Writers take the output position and return the one after what they wrote; size the buffer first. */

static inline u8 *caxton_put(u8 *o, const char *s) {
  while (*s) *o++ = (u8)*s++;
  return o;
}
static inline u8 *caxton_put_span(u8 *o, caxton_span v) {
  memcpy(o, v.p, v.n);
  return o + v.n;
}
/* The inside of a JSON string token (its escapes kept), to splice it into another string. */
static inline u8 *caxton_put_string_inner(u8 *o, caxton_span s) {
  caxton_span inner = { s.p + 1, s.n - 2 };
  return caxton_is_string(s) ? caxton_put_span(o, inner) : o;
}
/* At most 20 bytes. */
static inline u8 *caxton_put_int(u8 *o, i64 x) {
  u8 digits[20];
  int n = 0;
  unsigned long long u = x < 0 ? (unsigned long long)(-(x + 1)) + 1 : (unsigned long long)x;
  if (x < 0) *o++ = '-';
  do { digits[n++] = (u8)('0' + u % 10); u /= 10; } while (u);
  while (n) *o++ = digits[--n];
  return o;
}
/* ,"key":value when the value is present and not null. */
static inline u8 *caxton_put_field(u8 *o, const char *key, caxton_span v) {
  if (!caxton_present(v)) return o;
  o = caxton_put(o, ",\"");
  o = caxton_put(o, key);
  o = caxton_put(o, "\":");
  return caxton_put_span(o, v);
}

/*
 * Sends `performative` with `content` (JSON text; absent means null) back to m's sender, carrying the
 * conversation over: conversation_id, in_reply_to = m's reply_with, protocol, language, ontology.
 * Returns caxton_send's code, or CAXTON_ERR_INVALID_MESSAGE when m has no string sender.
 */
static inline int caxton_reply(const caxton_message *m, const char *performative, caxton_span content) {
  if (!caxton_is_string(m->sender)) return CAXTON_ERR_INVALID_MESSAGE;
  u32 cap = 200 + caxton_cstr(performative).n + m->sender.n + content.n + m->conversation_id.n + m->reply_with.n +
            m->protocol.n + m->language.n + m->ontology.n;
  u8 *out = caxton_bump(cap);
  if (!out) return CAXTON_ERR_QUOTA;
  u8 *o = caxton_put(out, "{\"performative\":\"");
  o = caxton_put(o, performative);
  o = caxton_put(o, "\",\"receiver\":");
  o = caxton_put_span(o, m->sender);
  o = caxton_put(o, ",\"content\":");
  o = caxton_present(content) ? caxton_put_span(o, content) : caxton_put(o, "null");
  o = caxton_put_field(o, "conversation_id", m->conversation_id);
  o = caxton_put_field(o, "in_reply_to", m->reply_with);
  o = caxton_put_field(o, "protocol", m->protocol);
  o = caxton_put_field(o, "language", m->language);
  o = caxton_put_field(o, "ontology", m->ontology);
  o = caxton_put(o, "}");
  return caxton_send(out, (int)(o - out));
}

/* ---- logging, key-value ------------------------------------------------------------------- */

static inline void caxton_log_str(int level, const char *s) { caxton_log(level, (const u8 *)s, (int)caxton_cstr(s).n); }

/* The integer stored under key, or `otherwise` when there is none (or it is not an integer). */
static inline i64 caxton_kv_get_int(const char *key, i64 otherwise) {
  u8 buf[24];
  int n = caxton_kv_get((const u8 *)key, (int)caxton_cstr(key).n, buf, sizeof buf);
  caxton_span v = { buf, (u32)n };
  i64 x;
  return n < 0 || n > (int)sizeof buf || caxton_parse_int(v, &x) != 0 ? otherwise : x;
}

/* Stores x under key as decimal text; 0 or a host error code. */
static inline int caxton_kv_set_int(const char *key, i64 x) {
  u8 buf[24];
  u8 *end = caxton_put_int(buf, x);
  return caxton_kv_set((const u8 *)key, (int)caxton_cstr(key).n, buf, (int)(end - buf));
}

/* ---- the init document -------------------------------------------------------------------- */

#ifndef CAXTON_NAME_CAP
#define CAXTON_NAME_CAP 512
#endif
#ifndef CAXTON_CONFIG_CAP
#define CAXTON_CONFIG_CAP 4096
#endif
static u8 caxton_name_[CAXTON_NAME_CAP];     /* the agent's name as a JSON string token, quotes included */
static u8 caxton_config_[CAXTON_CONFIG_CAP]; /* its deployment config as JSON text */
static caxton_span caxton_name_span_, caxton_config_span_;

static inline void caxton_init_member_(caxton_span k, caxton_span v, void *ctx) {
  (void)ctx;
  if (caxton_span_eq(k, caxton_cstr("name")) && caxton_is_string(v) && v.n <= CAXTON_NAME_CAP) {
    memcpy(caxton_name_, v.p, v.n);
    caxton_name_span_.p = caxton_name_;
    caxton_name_span_.n = v.n;
  } else if (caxton_span_eq(k, caxton_cstr("config")) && caxton_is_object(v) && v.n <= CAXTON_CONFIG_CAP) {
    memcpy(caxton_config_, v.p, v.n);
    caxton_config_span_.p = caxton_config_;
    caxton_config_span_.n = v.n;
  }
}

/* Captures the agent's name and config from the init document (call it from agent_init); 0 or -1. */
static inline int caxton_init(const u8 *ptr, int len) {
  int rc = len >= 0 ? caxton_scan_object(ptr, ptr + len, caxton_init_member_, 0) : -1;
  caxton_heap_reset();
  return rc == 0 ? 0 : -1;
}

/* The agent's name as a JSON string token (p == 0 before caxton_init). */
static inline caxton_span caxton_agent_name(void) { return caxton_name_span_; }
/* The deployment config object (p == 0 when there is none or it is over CAXTON_CONFIG_CAP bytes). */
static inline caxton_span caxton_agent_config(void) { return caxton_config_span_; }
/* The sender is this agent itself (a timer, or its own message on a topic). */
static inline int caxton_is_self(caxton_span sender) {
  return caxton_name_span_.p != 0 && caxton_span_eq(sender, caxton_name_span_);
}

#endif /* CAXTON_H */
