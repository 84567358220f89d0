/*
 * c-json: the "JSON request" agent of the SDK benchmark (bench/sdks.bench.ts) in freestanding C,
 * beside c-echo (echo.c; the JSON scanning and the bump allocator are the same, see there). The
 * same agent exists in AssemblyScript (examples/json) and Rust (examples/rust-json).
 *
 *   request {"items": [{"sku": s, "qty": n, "price": p, ...}, ...]}
 *     -> inform {"count": <number of items>, "total": <sum of qty * price>}
 *   anything without an items array -> not-understood {"error": "expected {\"items\": [...]}"}
 *
 * Without a C library there is no strtod: qty and price are read as integers (an optional '-',
 * digits; anything after them, such as a fraction, is ignored), which is how the benchmark sends
 * them (prices in cents). Every item is scanned member by member, so the whole request is read.
 */

typedef unsigned char u8;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long size_t;

#define IMPORT(name) __attribute__((import_module("caxton"), import_name(name)))

IMPORT("send") int caxton_send(const u8 *ptr, int len);
IMPORT("log") void caxton_log(int level, const u8 *ptr, int len);

/* ---- memory (as echo.c) ------------------------------------------------------------------- */

extern u8 __heap_base;
static u32 heap_top;

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

static void heap_reset(void) { heap_top = ((u32)&__heap_base + 15u) & ~15u; }

static u8 *bump(u32 len) {
  if (heap_top == 0) heap_reset();
  u32 start = heap_top;
  u32 end = start + ((len + 15u) & ~15u);
  if (end < start) return 0;
  u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
  if (end > have) {
    u32 pages = (end - have + 65535u) / 65536u;
    if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
  }
  heap_top = end;
  return (u8 *)start;
}

int caxton_abi_version(void) { return 1; }

u8 *caxton_alloc(int len) {
  if (len < 0) return 0;
  return bump((u32)len);
}

/* ---- JSON scanning (as echo.c) ------------------------------------------------------------ */

typedef struct { const u8 *p; u32 n; } span;

static const u8 *skip_ws(const u8 *p, const u8 *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

static const u8 *skip_string(const u8 *p, const u8 *end) {
  for (p++; p < end; p++) {
    if (*p == '\\') { p++; continue; }
    if (*p == '"') return p + 1;
  }
  return 0;
}

static const u8 *skip_value(const u8 *p, const u8 *end) {
  if (p >= end) return 0;
  if (*p == '"') return skip_string(p, end);
  if (*p == '{' || *p == '[') {
    u32 depth = 0;
    while (p < end) {
      u8 c = *p;
      if (c == '"') {
        p = skip_string(p, end);
        if (!p) return 0;
        continue;
      }
      if (c == '{' || c == '[') depth++;
      else if (c == '}' || c == ']') {
        if (--depth == 0) return p + 1;
      }
      p++;
    }
    return 0;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') p++;
  return p;
}

static int key_is(span k, const char *name) {
  u32 i = 0;
  for (; name[i]; i++) {
    if (i >= k.n || k.p[i] != (u8)name[i]) return 0;
  }
  return i == k.n;
}

static int is_null(span v) { return v.n == 4 && v.p[0] == 'n' && v.p[1] == 'u' && v.p[2] == 'l' && v.p[3] == 'l'; }
static int present(span v) { return v.p != 0 && !is_null(v); }
static int is_string(span v) { return v.n >= 2 && v.p[0] == '"'; }

typedef void (*member_fn)(span key, span value, void *ctx);

static int scan_object(const u8 *p, const u8 *end, member_fn fn, void *ctx) {
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return -1;
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}') return 0;
  for (;;) {
    p = skip_ws(p, end);
    if (p >= end || *p != '"') return -1;
    const u8 *k_end = skip_string(p, end);
    if (!k_end) return -1;
    span key = { p + 1, (u32)(k_end - p - 2) };
    p = skip_ws(k_end, end);
    if (p >= end || *p != ':') return -1;
    p = skip_ws(p + 1, end);
    const u8 *v_end = skip_value(p, end);
    if (!v_end) return -1;
    span value = { p, (u32)(v_end - p) };
    fn(key, value, ctx);
    p = skip_ws(v_end, end);
    if (p >= end) return -1;
    if (*p == '}') return 0;
    if (*p != ',') return -1;
    p++;
  }
}

/* Calls back for every element of the array at [p, end); returns the count, or -1. */
typedef void (*element_fn)(span value, void *ctx);

static int scan_array(const u8 *p, const u8 *end, element_fn fn, void *ctx) {
  int n = 0;
  p = skip_ws(p, end);
  if (p >= end || *p != '[') return -1;
  p = skip_ws(p + 1, end);
  if (p < end && *p == ']') return 0;
  for (;;) {
    p = skip_ws(p, end);
    const u8 *v_end = skip_value(p, end);
    if (!v_end) return -1;
    span value = { p, (u32)(v_end - p) };
    fn(value, ctx);
    n++;
    p = skip_ws(v_end, end);
    if (p >= end) return -1;
    if (*p == ']') return n;
    if (*p != ',') return -1;
    p++;
  }
}

/* ---- agent -------------------------------------------------------------------------------- */

#define NAME_CAP 512
static u8 self_name[NAME_CAP];
static u32 self_name_len;

static void init_member(span key, span value, void *ctx) {
  (void)ctx;
  if (key_is(key, "name") && is_string(value) && value.n <= NAME_CAP) {
    memcpy(self_name, value.p, value.n);
    self_name_len = value.n;
  }
}

int agent_init(const u8 *ptr, int len) {
  int rc = scan_object(ptr, ptr + len, init_member, 0);
  heap_reset();
  return rc == 0 ? 0 : -1;
}

typedef struct { span sender, content, conversation_id, reply_with, protocol, language, ontology; } fields;

static void message_member(span key, span value, void *ctx) {
  fields *f = (fields *)ctx;
  if (key_is(key, "sender")) f->sender = value;
  else if (key_is(key, "content")) f->content = value;
  else if (key_is(key, "conversation_id")) f->conversation_id = value;
  else if (key_is(key, "reply_with")) f->reply_with = value;
  else if (key_is(key, "protocol")) f->protocol = value;
  else if (key_is(key, "language")) f->language = value;
  else if (key_is(key, "ontology")) f->ontology = value;
}

static void content_member(span key, span value, void *ctx) {
  if (key_is(key, "items")) *(span *)ctx = value;
}

static i64 integer(span v) {
  i64 n = 0;
  u32 i = 0;
  int neg = v.n > 0 && v.p[0] == '-';
  if (neg) i++;
  for (; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++) n = n * 10 + (v.p[i] - '0');
  return neg ? -n : n;
}

typedef struct { i64 qty, price; } item;

static void item_member(span key, span value, void *ctx) {
  item *it = (item *)ctx;
  if (key_is(key, "qty")) it->qty = integer(value);
  else if (key_is(key, "price")) it->price = integer(value);
}

static void add_item(span value, void *ctx) {
  item it = { 0, 0 };
  if (scan_object(value.p, value.p + value.n, item_member, &it) == 0) *(i64 *)ctx += it.qty * it.price;
}

static u8 *put(u8 *o, const char *s) {
  while (*s) *o++ = (u8)*s++;
  return o;
}

static u8 *put_span(u8 *o, span v) {
  memcpy(o, v.p, v.n);
  return o + v.n;
}

static u8 *put_int(u8 *o, i64 v) {
  u8 digits[20];
  int i = 0;
  unsigned long long u = v < 0 ? (unsigned long long)-v : (unsigned long long)v;
  if (v < 0) *o++ = '-';
  do {
    digits[i++] = (u8)('0' + u % 10);
    u /= 10;
  } while (u);
  while (i) *o++ = digits[--i];
  return o;
}

static u8 *put_field(u8 *o, const char *key, span v) {
  if (!present(v)) return o;
  o = put(o, ",\"");
  o = put(o, key);
  o = put(o, "\":");
  return put_span(o, v);
}

static const u8 bad_message[] = "c-json: dropped a message that is not a JSON object";

static int handle(const u8 *ptr, int len) {
  fields f = { { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 } };
  if (len < 0 || scan_object(ptr, ptr + len, message_member, &f) != 0) {
    caxton_log(4, bad_message, sizeof bad_message - 1);
    return -1;
  }
  if (!present(f.sender) || !is_string(f.sender)) return 0;
  if (self_name_len == f.sender.n) {
    u32 i = 0;
    while (i < self_name_len && self_name[i] == f.sender.p[i]) i++;
    if (i == self_name_len) return 0;
  }
  span items = { 0, 0 };
  i64 total = 0;
  int count = -1;
  if (present(f.content) && scan_object(f.content.p, f.content.p + f.content.n, content_member, &items) == 0 && present(items)) {
    count = scan_array(items.p, items.p + items.n, add_item, &total);
  }
  u32 cap = 200 + f.sender.n + f.conversation_id.n + f.reply_with.n + f.protocol.n + f.language.n + f.ontology.n;
  u8 *out = bump(cap);
  if (!out) return -2;
  u8 *o = put(out, "{\"performative\":");
  if (count < 0) {
    o = put(o, "\"not-understood\",\"content\":{\"error\":\"expected {\\\"items\\\": [...]}\"}");
  } else {
    o = put(o, "\"inform\",\"content\":{\"count\":");
    o = put_int(o, count);
    o = put(o, ",\"total\":");
    o = put_int(o, total);
    o = put(o, "}");
  }
  o = put(o, ",\"receiver\":");
  o = put_span(o, f.sender);
  o = put_field(o, "conversation_id", f.conversation_id);
  o = put_field(o, "in_reply_to", f.reply_with);
  o = put_field(o, "protocol", f.protocol);
  o = put_field(o, "language", f.language);
  o = put_field(o, "ontology", f.ontology);
  o = put(o, "}");
  int rc = caxton_send(out, (int)(o - out));
  return rc == 0 ? 0 : rc;
}

int handle_message(const u8 *ptr, int len) {
  int rc = handle(ptr, len);
  heap_reset();
  return rc;
}
