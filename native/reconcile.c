/* reconcile — snapshot → new OpenInference spans.
 *
 * Two passes over the payload. The first checks its shape and that every record belongs to
 * the session it claims (a foreign record rejects the whole payload, before anything is
 * emitted). The second walks the turns: each user message opens a turn; the assistant
 * messages whose parentID names it are its model calls; their tool parts are its tool calls;
 * a `task` tool call whose child session came along in childSessions gets an AGENT subtree.
 *
 * Ids (ARCHITECTURE.md, "Deterministic ids"):
 *   trace       = H("turn", session, user message id)            16 bytes
 *   Turn span   = H("turn-span", session, user message id)        8 bytes
 *   LLM span    = H("llm", message id)
 *   TOOL span   = H("tool", session, message id, call id)   call ids repeat across sessions
 *   AGENT span  = H("agent", child session id)
 */
#include "reconcile.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define DEFAULT_MAX_ATTR_BYTES (32 * 1024)
#define MAX_ID_LEN 256
#define MAX_SPAN_TEXT_BYTES (1024 * 1024)
#define MAX_NAME_BYTES 1024 /* span and event names */

/* ------------------------------------------------------------------------------------------ */
/* The payload, as views into the parsed JSON (all borrowed from the root json_t).            */

typedef struct {
  json_t *info, *parts;
  const char *id, *role, *parent_id; /* parent_id: assistant → its user message */
} message_view;

typedef struct session_view session_view;
struct session_view {
  const char *id;
  json_t *info; /* the child's Session (NULL for the payload's own session) */
  message_view *messages;
  size_t n_messages;

  /* Children only: the link to the task call that started them. */
  const char *parent_session_id, *parent_call_id;
  session_view *parent; /* resolved parent view, NULL until linked */
  json_t *task_part;    /* the parent's `task` tool part */
  const message_view *task_message;
  uint8_t trace_id[16];
  uint8_t agent_span_id[8];
  bool linked;
};

typedef struct {
  state *st;
  const reconcile_options *opt;
  size_t max_attr;
  reconcile_emit_fn emit;
  void *emit_ctx;
  reconcile_result *result;
  bool closing;           /* type == "close" */
  const char *root_id;    /* the payload's session: the state namespace */
  bool out_of_memory;
} walk;

/* ------------------------------------------------------------------------------------------ */
/* Small JSON helpers                                                                          */

/* A string member, or NULL when absent, not a string, or holding a NUL byte (\u0000): ids
 * and short fields must not be read as a shorter string than they are. */
static const char *jstr(const json_t *obj, const char *key) {
  const json_t *v = json_object_get(obj, key);
  const char *s = json_string_value(v);
  return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* A text member (prompt, answer, tool output) with its full length, NUL bytes included: the
 * span model turns those into U+FFFD instead of cutting the text there. */
static const char *jtext(const json_t *obj, const char *key, size_t *len) {
  const json_t *v = json_object_get(obj, key);
  *len = json_string_length(v);
  return json_string_value(v);
}

static json_t *jpath(json_t *obj, const char *a, const char *b) {
  return json_object_get(json_object_get(obj, a), b);
}

/* A millisecond timestamp, or -1 when absent or not a plausible time (negative, huge,
 * fractional garbage). JSON numbers may arrive as integers or reals. */
static int64_t jms(const json_t *v) {
  double d;
  if (json_is_integer(v)) d = (double)json_integer_value(v);
  else if (json_is_real(v)) d = json_real_value(v);
  else return -1;
  /* OpenCode's clocks are wall-clock milliseconds: before 2000 or beyond 1e13 ms (the year
   * 2286) a time is garbage, and past that its nanoseconds would overflow 64 bits. */
  if (!isfinite(d) || d < 946684800000.0 || d > 1e13) return -1;
  return (int64_t)d;
}

static uint64_t ms_to_ns(int64_t ms) { return ms < 0 ? 0 : (uint64_t)ms * 1000000ULL; }

/* A non-negative count (tokens), 0 when absent or invalid. */
#define MAX_COUNT 1000000000000LL /* a trillion tokens: beyond it, sums could overflow */

static int64_t jcount(const json_t *v) {
  double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : 0;
  if (!isfinite(d) || d < 0) return 0;
  return d > (double)MAX_COUNT ? MAX_COUNT : (int64_t)d;
}

/* A cost in USD; absurd values (negative, not finite, above a billion) count as unknown. */
static double jcost(const json_t *v) {
  double d = json_is_number(v) ? json_number_value(v) : 0;
  return isfinite(d) && d >= 0 && d <= 1e9 ? d : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Growable text buffer                                                                        */

typedef struct {
  char *data;
  size_t len, cap;
  bool failed;
} text;

static void text_add(text *t, const char *s, size_t n) {
  if (t->failed) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1) cap *= 2;
    char *data = realloc(t->data, cap);
    if (!data) {
      t->failed = true;
      return;
    }
    t->data = data, t->cap = cap;
  }
  memcpy(t->data + t->len, s, n);
  t->len += n;
  t->data[t->len] = '\0';
}

static void text_addf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_addf(text *t, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) text_add(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static const char *text_str(const text *t) { return t->data ? t->data : ""; }

/* ------------------------------------------------------------------------------------------ */
/* Validation (pass one)                                                                       */

bool reconcile_id_ok(const char *id) {
  if (!id || !*id) return false;
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++, n++)
    if (*p < 0x20 || *p == 0x7f || n >= MAX_ID_LEN) return false;
  return true;
}

static int reject(reconcile_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reject(reconcile_result *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  return -1;
}

/* Reads messages into view, checking each record belongs to session_id. */
static int load_messages(session_view *view, json_t *messages, reconcile_result *r) {
  if (!json_is_array(messages)) return reject(r, "session %s: messages is not an array", view->id);
  size_t n = json_array_size(messages);
  view->messages = calloc(n ? n : 1, sizeof *view->messages);
  if (!view->messages) return reject(r, "out of memory");
  for (size_t i = 0; i < n; i++) {
    json_t *m = json_array_get(messages, i);
    json_t *info = json_object_get(m, "info");
    json_t *parts = json_object_get(m, "parts");
    message_view *mv = &view->messages[view->n_messages];
    if (!json_is_object(info)) return reject(r, "message %zu: info is not an object", i);
    mv->info = info;
    mv->id = jstr(info, "id");
    mv->role = jstr(info, "role");
    mv->parent_id = jstr(info, "parentID");
    const char *owner = jstr(info, "sessionID");
    if (!reconcile_id_ok(mv->id)) return reject(r, "message %zu: missing or invalid id", i);
    if (!owner || strcmp(owner, view->id) != 0)
      return reject(r, "message %s belongs to another session, not %s", mv->id, view->id);
    if (!mv->role) return reject(r, "message %s: missing role", mv->id);
    if (parts && !json_is_array(parts)) return reject(r, "message %s: parts is not an array", mv->id);
    mv->parts = parts;
    for (size_t j = 0; j < json_array_size(parts); j++) {
      json_t *p = json_array_get(parts, j);
      if (!json_is_object(p)) return reject(r, "message %s: part %zu is not an object", mv->id, j);
      const char *ps = jstr(p, "sessionID"), *pm = jstr(p, "messageID");
      if ((ps && strcmp(ps, view->id) != 0) || (pm && strcmp(pm, mv->id) != 0))
        return reject(r, "message %s: part %zu belongs to another message or session", mv->id, j);
    }
    view->n_messages++;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Attribute helpers: redaction and size limits live here, nowhere else.                       */

static size_t utf8_chars(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
  return n;
}

/* Sets key to value, or to "<redacted (N chars)>" when redact, cut to the size limit with a
 * visible marker. */
/* Sets key to the first bytes of value that fit in limit (whole characters), followed by a
 * visible marker saying how much was cut. */
static void set_cut(walk *w, span *s, const char *key, const char *value, size_t len, size_t limit) {
  char marker[96];
  int m = snprintf(marker, sizeof marker, "…[truncated: %zu of %zu bytes shown]", len, len);
  size_t keep = limit > (size_t)m ? limit - (size_t)m : 0;
  if (keep > len) keep = len;
  while (keep > 0 && ((unsigned char)value[keep] & 0xC0) == 0x80) keep--; /* whole characters */
  snprintf(marker, sizeof marker, "…[truncated: %zu of %zu bytes shown]", keep, len);
  text t = {0};
  text_add(&t, value, keep);
  text_add(&t, marker, strlen(marker));
  if (t.failed || span_set_stringn(s, key, text_str(&t), t.len) != 0) w->out_of_memory = true;
  free(t.data);
}

/* Sets key to value, or to "<redacted (N chars)>" when redact, cut to the size limit with a
 * visible marker. */
static void set_text(walk *w, span *s, const char *key, const char *value, size_t len,
                     bool redact) {
  char marker[96];
  if (redact) {
    snprintf(marker, sizeof marker, "<redacted (%zu chars)>", utf8_chars(value, len));
    if (span_set_string(s, key, marker) != 0) w->out_of_memory = true;
  } else if (len <= w->max_attr) {
    if (span_set_stringn(s, key, value, len) != 0) w->out_of_memory = true;
  } else {
    set_cut(w, s, key, value, len, w->max_attr);
  }
}

/* A span is never bigger than a backend takes: while its strings together exceed
 * MAX_SPAN_TEXT_BYTES (a model call with hundreds of tool calls, each under the per-attribute
 * limit), the largest is cut in half, with the same visible marker. */
static void bound_span(walk *w, span *s) {
  for (;;) {
    size_t total = 0, largest = 0;
    span_attr *big = NULL;
    for (size_t i = 0; i < s->attrs.len; i++) {
      span_attr *a = &s->attrs.items[i];
      if (a->type != SPAN_ATTR_STRING) continue;
      size_t n = strlen(a->value.s);
      total += n;
      if (n > largest) largest = n, big = a;
    }
    if (total <= MAX_SPAN_TEXT_BYTES || !big || largest < 256) return;
    char *value = big->value.s, *key = strdup(big->key);
    big->value.s = strdup(""); /* keep the slot valid while the cut copy is made */
    if (!key || !big->value.s) {
      free(key);
      free(value);
      w->out_of_memory = true;
      return;
    }
    set_cut(w, s, key, value, largest, largest / 2);
    free(key);
    free(value);
    if (w->out_of_memory) return;
  }
}

static void set_str(walk *w, span *s, const char *key, const char *value) {
  if (value && span_set_string(s, key, value) != 0) w->out_of_memory = true;
}

static void set_int(walk *w, span *s, const char *key, int64_t value) {
  if (span_set_int(s, key, value) != 0) w->out_of_memory = true;
}

/* Serialises v compactly; NULL when it cannot (caller treats as absent). Caller frees. */
static char *dump(const json_t *v) {
  return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* The span's `metadata` attribute: meta as compact JSON. Takes meta (which may be NULL). */
static void set_metadata(walk *w, span *s, json_t *meta) {
  char *text = dump(meta);
  if (text) set_str(w, s, "metadata", text);
  free(text);
  json_decref(meta);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading OpenCode messages                                                                   */

/* The text of parts of this type ("text" or "reasoning"), joined by blank lines; synthetic
 * and ignored parts (OpenCode's own insertions) are left out. */
static void parts_text(const message_view *m, const char *type, text *out) {
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    size_t n;
    const char *t = jstr(p, "type"), *s = jtext(p, "text", &n);
    if (!t || strcmp(t, type) != 0 || !s || n == 0) continue;
    if (json_is_true(json_object_get(p, "synthetic")) || json_is_true(json_object_get(p, "ignored")))
      continue;
    if (out->len) text_add(out, "\n\n", 2);
    text_add(out, s, n);
  }
}

static bool is_assistant(const message_view *m) { return strcmp(m->role, "assistant") == 0; }
static bool is_user(const message_view *m) { return strcmp(m->role, "user") == 0; }

static bool assistant_finished(const message_view *m) {
  return jms(jpath(m->info, "time", "completed")) >= 0 || json_object_get(m->info, "error");
}

/* The latest millisecond time anywhere in the message: its completion, else the last time a
 * part reported. Used to end spans of calls that never completed. */
static int64_t message_last_ms(const message_view *m) {
  int64_t t = jms(jpath(m->info, "time", "completed"));
  if (t >= 0) return t;
  t = jms(jpath(m->info, "time", "created"));
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    json_t *time = json_object_get(p, "time");
    if (!time) time = jpath(p, "state", "time");
    int64_t a = jms(json_object_get(time, "start")), b = jms(json_object_get(time, "end"));
    if (a > t) t = a;
    if (b > t) t = b;
  }
  return t;
}

static void set_times(span *s, int64_t start_ms, int64_t end_ms) {
  if (start_ms < 0) start_ms = end_ms >= 0 ? end_ms : 0;
  if (end_ms < start_ms) end_ms = start_ms;
  s->start_ns = ms_to_ns(start_ms);
  s->end_ns = ms_to_ns(end_ms);
}

/* OpenInference's llm.system for OpenCode's provider ids, where one is known. */
static const char *llm_system(const char *provider) {
  static const struct { const char *provider, *system; } map[] = {
      {"anthropic", "anthropic"},   {"openai", "openai"},      {"azure", "openai"},
      {"google", "vertexai"},       {"google-vertex", "vertexai"}, {"mistral", "mistralai"},
      {"cohere", "cohere"},         {"amazon-bedrock", "anthropic"},
  };
  if (!provider) return NULL;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(map[i].provider, provider) == 0) return map[i].system;
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Emission                                                                                    */

#define REDACTED "__REDACTED__"

/* Replaces key's value (when present) with the OpenInference redaction marker. */
static void redact_value(walk *w, span *s, const char *key) {
  if (span_get(s, key) && span_set_string(s, key, REDACTED) != 0) w->out_of_memory = true;
}

/* The text inside the messages of one list (llm.input_messages or llm.output_messages). */
static void redact_message_text(walk *w, span *s, const char *list) {
  size_t n = strlen(list);
  for (size_t i = 0; i < s->attrs.len; i++) {
    span_attr *a = &s->attrs.items[i];
    if (a->type != SPAN_ATTR_STRING || strncmp(a->key, list, n) != 0) continue;
    size_t k = strlen(a->key);
    bool content = (k >= 16 && strcmp(a->key + k - 16, ".message.content") == 0) ||
                   (k >= 21 && strcmp(a->key + k - 21, ".message_content.text") == 0);
    if (content && span_set_string(s, a->key, REDACTED) != 0) w->out_of_memory = true;
  }
}

/* Cuts *value (owned) to limit bytes with the visible marker, when longer. */
static void cap_owned(walk *w, char **value, size_t limit) {
  size_t len = *value ? strlen(*value) : 0;
  if (len <= limit) return;
  span *tmp = span_new("");
  if (!tmp) {
    w->out_of_memory = true;
    return;
  }
  set_cut(w, tmp, "v", *value, len, limit);
  const span_attr *cut = span_get(tmp, "v");
  char *copy = cut ? strdup(cut->value.s) : NULL;
  if (copy) {
    free(*value);
    *value = copy;
  } else {
    w->out_of_memory = true;
  }
  span_free(tmp);
}

/* Every string a span carries stays within the attribute limit, whatever field of the
 * snapshot it came from: names (a 1 MB model id), status messages, event attributes. */
static void bound_strings(walk *w, span *s) {
  cap_owned(w, &s->name, MAX_NAME_BYTES);
  cap_owned(w, &s->status_message, w->max_attr);
  for (size_t i = 0; i < s->attrs.len; i++)
    if (s->attrs.items[i].type == SPAN_ATTR_STRING) cap_owned(w, &s->attrs.items[i].value.s, w->max_attr);
  for (size_t e = 0; e < s->n_events; e++) {
    cap_owned(w, &s->events[e].name, MAX_NAME_BYTES);
    for (size_t i = 0; i < s->events[e].attrs.len; i++)
      if (s->events[e].attrs.items[i].type == SPAN_ATTR_STRING)
        cap_owned(w, &s->events[e].attrs.items[i].value.s, w->max_attr);
  }
}

/* OPENINFERENCE_HIDE_* and the custom attributes: the last touch before a span leaves. */
static void finish_span(walk *w, span *s) {
  const reconcile_options *o = w->opt;
  if (o->hide_inputs) {
    redact_value(w, s, "input.value");
    span_attrs_remove_prefix(&s->attrs, "llm.input_messages.");
  }
  if (o->hide_outputs) {
    redact_value(w, s, "output.value");
    span_attrs_remove_prefix(&s->attrs, "llm.output_messages.");
  }
  if (o->hide_input_messages) span_attrs_remove_prefix(&s->attrs, "llm.input_messages.");
  if (o->hide_output_messages) span_attrs_remove_prefix(&s->attrs, "llm.output_messages.");
  if (o->hide_input_text) redact_message_text(w, s, "llm.input_messages.");
  if (o->hide_output_text) redact_message_text(w, s, "llm.output_messages.");
  if (!span_get(s, "tag.tags")) {
    /* tags users can filter on: the harness, and the agent that did the work */
    const span_attr *agent = span_get(s, "agent.name");
    const char *tags[] = {"opencode", agent && agent->type == SPAN_ATTR_STRING ? agent->value.s : NULL};
    if (span_set_string_list(s, "tag.tags", tags, tags[1] ? 2 : 1) != 0) w->out_of_memory = true;
  }
  for (size_t i = 0; i < o->n_attributes; i++)
    if (!span_get(s, o->attribute_names[i]) &&
        span_set_string(s, o->attribute_names[i], o->attribute_values[i]) != 0)
      w->out_of_memory = true;
  bound_strings(w, s);
  bound_span(w, s);
}

/* Hands s to emit and marks key as done when emit kept it. Frees nothing itself: emit owns s. */
static void emit_span(walk *w, span *s, const char *key) {
  finish_span(w, s);
  if (w->out_of_memory) {
    span_free(s);
    return;
  }
  if (w->emit(w->emit_ctx, s) != 0) return;
  if (state_mark(w->st, w->root_id, key) != 0) w->out_of_memory = true;
  w->result->spans++;
}

static bool seen(walk *w, const char *key) { return state_seen(w->st, w->root_id, key); }

static span *new_span(walk *w, const char *name, const char *kind, const uint8_t trace_id[16],
                      const uint8_t *span_id, const uint8_t *parent_id, const char *session_id) {
  span *s = span_new(name);
  if (!s) {
    w->out_of_memory = true;
    return NULL;
  }
  memcpy(s->trace_id, trace_id, 16);
  memcpy(s->span_id, span_id, 8);
  if (parent_id) {
    memcpy(s->parent_span_id, parent_id, 8);
    s->has_parent = true;
  }
  set_str(w, s, "openinference.span.kind", kind);
  set_str(w, s, "session.id", session_id);
  if (w->opt->user_id && *w->opt->user_id) set_str(w, s, "user.id", w->opt->user_id);
  return s;
}

static void tool_span_id(const char *session_id, const message_view *m, const char *call_id,
                         uint8_t out[8]) {
  const char *parts[] = {"tool", session_id, m->id, call_id};
  hash_id(out, 8, parts, 4);
}

static void llm_span_id(const message_view *m, uint8_t out[8]) {
  const char *parts[] = {"llm", m->id};
  hash_id(out, 8, parts, 2);
}

/* The attribute a tool's main argument goes to, by OpenCode tool name. */
static void tool_arguments(walk *w, span *s, const char *tool, json_t *input) {
  static const struct { const char *tool, *arg, *attr; } map[] = {
      {"bash", "command", "tool.command"},   {"read", "filePath", "tool.file_path"},
      {"edit", "filePath", "tool.file_path"}, {"write", "filePath", "tool.file_path"},
      {"grep", "pattern", "tool.query"},     {"glob", "pattern", "tool.query"},
      {"webfetch", "url", "tool.url"},       {"websearch", "query", "tool.query"},
      {"codesearch", "query", "tool.query"}, {"list", "path", "tool.file_path"},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    if (strcmp(map[i].tool, tool) != 0) continue;
    const char *v = jstr(input, map[i].arg);
    if (v) set_text(w, s, map[i].attr, v, strlen(v), !w->opt->log_tool_details);
  }
}

/* One TOOL span for a finished tool part (or, when interrupted, an unfinished one). */
static void emit_tool(walk *w, const session_view *sv, const message_view *m, json_t *part,
                      const uint8_t trace_id[16], bool interrupted) {
  const char *call_id = jstr(part, "callID"), *tool = jstr(part, "tool");
  json_t *st = json_object_get(part, "state");
  const char *status = jstr(st, "status");
  if (!reconcile_id_ok(call_id) || !tool || !status) return;
  bool done = strcmp(status, "completed") == 0 || strcmp(status, "error") == 0;
  if (!done && !interrupted) return;

  text key = {0};
  text_addf(&key, "tool:%s:", m->id);
  text_add(&key, call_id, strlen(call_id));
  if (key.failed || seen(w, text_str(&key))) {
    w->out_of_memory |= key.failed;
    free(key.data);
    return;
  }
  uint8_t id[8], parent[8];
  tool_span_id(sv->id, m, call_id, id);
  llm_span_id(m, parent);
  span *s = new_span(w, tool, "TOOL", trace_id, id, parent, sv->id);
  if (!s) {
    free(key.data);
    return;
  }
  int64_t start = jms(jpath(st, "time", "start")), end = jms(jpath(st, "time", "end"));
  if (start < 0) start = jms(jpath(m->info, "time", "created"));
  if (end < 0) end = message_last_ms(m);
  set_times(s, start, end);

  set_str(w, s, "tool.name", tool);
  set_str(w, s, "tool.id", call_id);
  set_str(w, s, "tool_call.id", call_id);
  json_t *input = json_object_get(st, "input");
  char *args = dump(input);
  if (args) {
    bool redact = !w->opt->log_tool_details || !w->opt->log_tool_content;
    set_text(w, s, "input.value", args, strlen(args), redact);
    set_str(w, s, "input.mime_type", "application/json");
    set_text(w, s, "tool.parameters", args, strlen(args), redact);
    free(args);
  }
  tool_arguments(w, s, tool, input);
  const char *title = jstr(st, "title");
  if (title && *title) set_text(w, s, "tool.description", title, strlen(title), !w->opt->log_tool_details);

  json_t *meta = json_pack("{s:s, s:s, s:s?}", "message_id", m->id, "session_id", sv->id, "agent",
                           jstr(m->info, "agent"));
  set_metadata(w, s, meta);

  if (strcmp(status, "completed") == 0) {
    size_t n;
    const char *output = jtext(st, "output", &n);
    if (output) {
      set_text(w, s, "output.value", output, n, !w->opt->log_tool_content);
      set_str(w, s, "output.mime_type", "text/plain");
    }
    json_t *exit_code = jpath(st, "metadata", "exit");
    double code = json_number_value(exit_code); /* 0 when absent */
    if (json_is_number(exit_code) && code >= -1e6 && code <= 1e6) set_int(w, s, "tool.exit_code", (int64_t)code);
  } else {
    size_t n = 0;
    const char *error = strcmp(status, "error") == 0 ? jtext(st, "error", &n) : NULL;
    const char *message = error ? error : "interrupted: OpenCode stopped before the tool finished";
    set_text(w, s, "output.value", message, error ? n : strlen(message), !w->opt->log_tool_content);
    set_str(w, s, "output.mime_type", "text/plain");
    /* the error text is tool output: status and event carry what output.value carries */
    const span_attr *out = span_get(s, "output.value");
    const char *shown = out && out->type == SPAN_ATTR_STRING ? out->value.s : "";
    if (span_set_status(s, SPAN_STATUS_ERROR, shown) != 0) w->out_of_memory = true;
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", error ? "ToolError" : "Interrupted") ||
        span_event_set_string(e, "exception.message", shown))
      w->out_of_memory = true;
  }
  emit_span(w, s, text_str(&key));
  free(key.data);
}

/* llm.input_messages and input.value for one model call: the user prompt for the first call
 * of a turn, the tool results it consumed (the previous call's tool parts) after that. */
static void llm_inputs(walk *w, span *s, const message_view *user, const message_view *previous) {
  if (!previous) {
    text prompt = {0};
    if (user) parts_text(user, "text", &prompt);
    set_str(w, s, "llm.input_messages.0.message.role", "user");
    set_text(w, s, "llm.input_messages.0.message.content", text_str(&prompt), prompt.len,
             !w->opt->log_prompts);
    set_text(w, s, "input.value", text_str(&prompt), prompt.len, !w->opt->log_prompts);
    set_str(w, s, "input.mime_type", "text/plain");
    w->out_of_memory |= prompt.failed;
    free(prompt.data);
    return;
  }
  json_t *results = json_array();
  size_t k = 0;
  char key[96];
  for (size_t i = 0; i < json_array_size(previous->parts); i++) {
    json_t *p = json_array_get(previous->parts, i);
    const char *type = jstr(p, "type"), *call_id = jstr(p, "callID");
    if (!type || strcmp(type, "tool") != 0 || !call_id) continue;
    json_t *st = json_object_get(p, "state");
    size_t out_len;
    const char *out = jtext(st, "output", &out_len);
    if (!out) out = jtext(st, "error", &out_len);
    if (!out) out = "", out_len = 0;
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.role", k);
    set_str(w, s, key, "tool");
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.tool_call_id", k);
    set_str(w, s, key, call_id);
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.name", k);
    set_str(w, s, key, jstr(p, "tool"));
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.content", k);
    set_text(w, s, key, out, out_len, !w->opt->log_tool_content);
    k++;
    json_t *r = json_pack("{s:s, s:s?, s:s}", "tool_call_id", call_id, "tool", jstr(p, "tool"),
                          "output", w->opt->log_tool_content ? out : "<redacted>");
    if (results && r) json_array_append_new(results, r);
  }
  char *json = dump(results);
  if (json) {
    set_text(w, s, "input.value", json, strlen(json), false);
    set_str(w, s, "input.mime_type", "application/json");
    free(json);
  }
  json_decref(results);
}

/* llm.output_messages.0: the reasoning and text of the call as content parts, the text as
 * content, and the tool calls it made. */
static void llm_outputs(walk *w, span *s, const message_view *m) {
  text reasoning = {0}, answer = {0};
  parts_text(m, "reasoning", &reasoning);
  parts_text(m, "text", &answer);
  bool redact = !w->opt->log_prompts;
  set_str(w, s, "llm.output_messages.0.message.role", "assistant");
  size_t c = 0;
  char key[128];
  if (reasoning.len) {
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.type", c);
    set_str(w, s, key, "reasoning");
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.text", c++);
    set_text(w, s, key, text_str(&reasoning), reasoning.len, redact);
  }
  if (answer.len) {
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.type", c);
    set_str(w, s, key, "text");
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.text", c++);
    set_text(w, s, key, text_str(&answer), answer.len, redact);
    set_text(w, s, "llm.output_messages.0.message.content", text_str(&answer), answer.len, redact);
  }
  set_text(w, s, "output.value", text_str(&answer), answer.len, redact);
  set_str(w, s, "output.mime_type", "text/plain");

  size_t j = 0;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *type = jstr(p, "type"), *call_id = jstr(p, "callID"), *tool = jstr(p, "tool");
    if (!type || strcmp(type, "tool") != 0 || !call_id || !tool) continue;
    snprintf(key, sizeof key, "llm.output_messages.0.message.tool_calls.%zu.tool_call.id", j);
    set_str(w, s, key, call_id);
    snprintf(key, sizeof key, "llm.output_messages.0.message.tool_calls.%zu.tool_call.function.name", j);
    set_str(w, s, key, tool);
    char *args = dump(jpath(p, "state", "input"));
    if (args) {
      snprintf(key, sizeof key,
               "llm.output_messages.0.message.tool_calls.%zu.tool_call.function.arguments", j);
      set_text(w, s, key, args, strlen(args), !w->opt->log_tool_details);
      free(args);
    }
    j++;
  }
  w->out_of_memory |= reasoning.failed || answer.failed;
  free(reasoning.data);
  free(answer.data);
}

/* Status ERROR and an exception event from an assistant message's `error`. */
static void llm_error(walk *w, span *s, json_t *error) {
  const char *name = error ? jstr(error, "name") : "Interrupted";
  const char *message = error ? jstr(json_object_get(error, "data"), "message")
                              : "OpenCode stopped before this model call completed";
  if (!message && error) message = jstr(error, "message");
  if (!name) name = "Error";
  if (!message) message = name;
  text t = {0};
  text_addf(&t, "%s: ", name);
  text_add(&t, message, strlen(message));
  if (span_set_status(s, SPAN_STATUS_ERROR, text_str(&t)) != 0) w->out_of_memory = true;
  span_event *e = span_add_event(s, "exception", s->end_ns);
  if (!e || span_event_set_string(e, "exception.type", name) ||
      span_event_set_string(e, "exception.message", message))
    w->out_of_memory = true;
  json_t *status_code = jpath(error, "data", "statusCode");
  if (json_is_number(status_code) && json_number_value(status_code) >= 0 && json_number_value(status_code) < 1000)
    set_int(w, s, "http.response.status_code", (int64_t)json_number_value(status_code));
  w->out_of_memory |= t.failed;
  free(t.data);
}

static void emit_llm(walk *w, const session_view *sv, const message_view *m,
                     const message_view *user, const message_view *previous,
                     const uint8_t trace_id[16], const uint8_t parent_id[8], bool interrupted) {
  if (!assistant_finished(m) && !interrupted) return;
  text key = {0};
  text_add(&key, "llm:", 4);
  text_add(&key, m->id, strlen(m->id));
  if (key.failed || seen(w, text_str(&key))) {
    w->out_of_memory |= key.failed;
    free(key.data);
    return;
  }
  const char *model = jstr(m->info, "modelID"), *provider = jstr(m->info, "providerID");
  text name = {0};
  text_add(&name, "LLM: ", 5);
  text_add(&name, model ? model : "unknown", strlen(model ? model : "unknown"));
  uint8_t id[8];
  llm_span_id(m, id);
  span *s = name.failed ? NULL : new_span(w, text_str(&name), "LLM", trace_id, id, parent_id, sv->id);
  free(name.data);
  if (!s) {
    free(key.data);
    return;
  }
  set_times(s, jms(jpath(m->info, "time", "created")), message_last_ms(m));
  if (model) set_str(w, s, "llm.model_name", model);
  if (provider) set_str(w, s, "llm.provider", provider);
  if (llm_system(provider)) set_str(w, s, "llm.system", llm_system(provider));
  const char *finish = jstr(m->info, "finish");
  if (finish) set_str(w, s, "llm.finish_reason", finish);

  /* OpenCode stores input without cache and output without reasoning; OpenInference's
   * prompt and completion include their detail buckets. */
  json_t *tokens = json_object_get(m->info, "tokens");
  int64_t input = jcount(json_object_get(tokens, "input")), output = jcount(json_object_get(tokens, "output"));
  int64_t reasoning = jcount(json_object_get(tokens, "reasoning"));
  int64_t cache_read = jcount(jpath(tokens, "cache", "read")), cache_write = jcount(jpath(tokens, "cache", "write"));
  int64_t prompt = input + cache_read + cache_write, completion = output + reasoning;
  set_int(w, s, "llm.token_count.prompt", prompt);
  set_int(w, s, "llm.token_count.completion", completion);
  set_int(w, s, "llm.token_count.total", prompt + completion);
  set_int(w, s, "llm.token_count.prompt_details.cache_read", cache_read);
  set_int(w, s, "llm.token_count.prompt_details.cache_write", cache_write);
  set_int(w, s, "llm.token_count.completion_details.reasoning", reasoning);
  if (span_set_double(s, "llm.cost.total", jcost(json_object_get(m->info, "cost"))) != 0)
    w->out_of_memory = true;

  llm_inputs(w, s, user, previous);
  llm_outputs(w, s, m);

  json_t *meta = json_pack("{s:s?, s:s?, s:s?, s:s, s:s}", "agent", jstr(m->info, "agent"),
                           "mode", jstr(m->info, "mode"), "cwd",
                           json_string_value(jpath(m->info, "path", "cwd")), "message_id", m->id,
                           "session_id", sv->id);
  set_metadata(w, s, meta);

  json_t *error = json_object_get(m->info, "error");
  if (error || !assistant_finished(m)) llm_error(w, s, error);
  emit_span(w, s, text_str(&key));
  free(key.data);
}

/* ------------------------------------------------------------------------------------------ */
/* Turns and child sessions                                                                    */

static void turn_ids(const char *session_id, const message_view *user, uint8_t trace_id[16],
                     uint8_t span_id[8]) {
  const char *t[] = {"turn", session_id, user->id}, *s[] = {"turn-span", session_id, user->id};
  hash_id(trace_id, 16, t, 3);
  hash_id(span_id, 8, s, 3);
}

/* For each message, the index of the user message whose turn it belongs to (-1: none). An
 * assistant's parentID names its user message; OpenCode keeps them in creation order, so the
 * search runs backwards from the latest user message and is short. */
static long *turn_owners(const session_view *sv) {
  long *owner = malloc((sv->n_messages ? sv->n_messages : 1) * sizeof *owner);
  if (!owner) return NULL;
  long last_user = -1;
  for (size_t i = 0; i < sv->n_messages; i++) {
    const message_view *m = &sv->messages[i];
    if (is_user(m)) {
      owner[i] = last_user = (long)i;
      continue;
    }
    owner[i] = last_user;
    if (!m->parent_id) continue;
    for (long u = last_user; u >= 0; u--) {
      if (owner[u] == u && strcmp(sv->messages[u].id, m->parent_id) == 0) {
        owner[i] = u;
        break;
      }
    }
    /* A parentID older than the payload's first message names a turn the payload does not
     * show (a tail of the session): the message waits for a payload that holds its turn. */
    if (owner[i] >= 0 && strcmp(sv->messages[owner[i]].id, m->parent_id) != 0 &&
        strcmp(m->parent_id, sv->messages[0].id) < 0)
      owner[i] = -1;
  }
  return owner;
}

typedef struct {
  int64_t prompt, completion, cache_read, cache_write, reasoning;
  double cost;
  int64_t llm_calls, tool_calls, tool_errors;
} rollup;

static void rollup_add(rollup *r, const session_view *sv, const long *owner, long user) {
  for (size_t i = 0; i < sv->n_messages; i++) {
    const message_view *m = &sv->messages[i];
    if (!is_assistant(m) || (owner && owner[i] != user)) continue;
    json_t *tokens = json_object_get(m->info, "tokens");
    int64_t cr = jcount(jpath(tokens, "cache", "read")), cw = jcount(jpath(tokens, "cache", "write"));
    int64_t reasoning = jcount(json_object_get(tokens, "reasoning"));
    r->prompt += jcount(json_object_get(tokens, "input")) + cr + cw;
    r->completion += jcount(json_object_get(tokens, "output")) + reasoning;
    r->cache_read += cr, r->cache_write += cw, r->reasoning += reasoning;
    r->cost += jcost(json_object_get(m->info, "cost"));
    r->llm_calls++;
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (!jstr(p, "type") || strcmp(jstr(p, "type"), "tool") != 0) continue;
      r->tool_calls++;
      const char *status = jstr(json_object_get(p, "state"), "status");
      if (status && strcmp(status, "error") == 0) r->tool_errors++;
    }
  }
}

/* The text of the last assistant message (of this turn, or of the whole session when owner is
 * NULL) that has any: the answer the user saw. */
static void final_text(const session_view *sv, const long *owner, long user, text *out) {
  for (size_t i = sv->n_messages; i-- > 0;) {
    const message_view *m = &sv->messages[i];
    if (!is_assistant(m) || (owner && owner[i] != user)) continue;
    parts_text(m, "text", out);
    if (out->len) return;
  }
}

static void emit_turn(walk *w, const session_view *root, const long *owner, long u,
                      session_view *children, size_t n_children, const char *key) {
  const message_view *user = &root->messages[u];
  uint8_t trace_id[16], span_id[8];
  turn_ids(root->id, user, trace_id, span_id);
  span *s = new_span(w, "Turn", "CHAIN", trace_id, span_id, NULL, root->id);
  if (!s) return;

  int64_t end = -1;
  const message_view *last = NULL;
  for (size_t i = (size_t)u + 1; i < root->n_messages; i++) {
    if (owner[i] != u || !is_assistant(&root->messages[i])) continue;
    last = &root->messages[i];
    int64_t t = message_last_ms(last);
    if (t > end) end = t;
  }
  set_times(s, jms(jpath(user->info, "time", "created")), end);

  text prompt = {0}, answer = {0};
  parts_text(user, "text", &prompt);
  final_text(root, owner, u, &answer);
  set_text(w, s, "input.value", text_str(&prompt), prompt.len, !w->opt->log_prompts);
  set_str(w, s, "input.mime_type", "text/plain");
  set_text(w, s, "output.value", text_str(&answer), answer.len, !w->opt->log_prompts);
  set_str(w, s, "output.mime_type", "text/plain");
  w->out_of_memory |= prompt.failed || answer.failed;
  free(prompt.data);
  free(answer.data);

  rollup r = {0};
  rollup_add(&r, root, owner, u);
  for (size_t c = 0; c < n_children; c++)
    if (children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0)
      rollup_add(&r, &children[c], NULL, 0);
  set_int(w, s, "opencode.turn.llm_calls", r.llm_calls);
  set_int(w, s, "opencode.turn.tool_calls", r.tool_calls);
  set_int(w, s, "opencode.turn.tool_errors", r.tool_errors);
  set_int(w, s, "opencode.turn.token_count.prompt", r.prompt);
  set_int(w, s, "opencode.turn.token_count.completion", r.completion);
  set_int(w, s, "opencode.turn.token_count.total", r.prompt + r.completion);
  set_int(w, s, "opencode.turn.token_count.cache_read", r.cache_read);
  set_int(w, s, "opencode.turn.token_count.cache_write", r.cache_write);
  set_int(w, s, "opencode.turn.token_count.reasoning", r.reasoning);
  if (span_set_double(s, "opencode.turn.cost.total", r.cost) != 0) w->out_of_memory = true;

  json_t *meta = json_pack("{s:s, s:s?, s:s?}", "user_message_id", user->id, "agent",
                           jstr(user->info, "agent"), "model",
                           jstr(json_object_get(user->info, "model"), "modelID"));
  set_metadata(w, s, meta);

  json_t *error = last ? json_object_get(last->info, "error") : NULL;
  if (error) {
    const char *name = jstr(error, "name");
    if (span_set_status(s, SPAN_STATUS_ERROR, name ? name : "Error") != 0) w->out_of_memory = true;
  } else if (last && !assistant_finished(last)) {
    if (span_set_status(s, SPAN_STATUS_ERROR, "interrupted: the turn ended before its last model call completed") != 0)
      w->out_of_memory = true;
  }
  emit_span(w, s, key);
}

/* Every model and tool call of the session, in one pass, then each Turn that is over: a newer
 * user message exists, or the session went idle with every model call of the turn finished.
 * A call of a turn that is over but never finished (OpenCode was killed) is emitted as
 * interrupted, so the trace shows where it stopped. */
static int walk_turns(walk *w, const session_view *root, const long *owner,
                      session_view *children, size_t n_children) {
  size_t n = root->n_messages ? root->n_messages : 1;
  long *previous = malloc(n * sizeof *previous); /* per user message: its latest assistant */
  size_t *n_assistant = calloc(n, sizeof *n_assistant), *n_finished = calloc(n, sizeof *n_finished);
  if (!previous || !n_assistant || !n_finished) {
    free(previous), free(n_assistant), free(n_finished);
    return -1;
  }
  long last_user = -1;
  for (size_t i = 0; i < root->n_messages; i++) {
    previous[i] = -1;
    if (is_user(&root->messages[i])) last_user = (long)i;
  }
  for (size_t i = 0; i < root->n_messages; i++) {
    const message_view *m = &root->messages[i];
    long u = owner[i];
    if (!is_assistant(m) || u < 0) continue;
    uint8_t trace_id[16], span_id[8];
    turn_ids(root->id, &root->messages[u], trace_id, span_id);
    bool superseded = u != last_user;
    n_assistant[u]++;
    n_finished[u] += assistant_finished(m);
    emit_llm(w, root, m, &root->messages[u], previous[u] >= 0 ? &root->messages[previous[u]] : NULL,
             trace_id, span_id, superseded);
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (jstr(p, "type") && strcmp(jstr(p, "type"), "tool") == 0)
        emit_tool(w, root, m, p, trace_id, superseded);
    }
    previous[u] = (long)i;
  }
  for (size_t u = 0; u < root->n_messages; u++) {
    if (!is_user(&root->messages[u])) continue;
    bool over = (long)u != last_user ||
                (w->closing && n_assistant[u] > 0 && n_finished[u] == n_assistant[u]);
    if (!over) continue;
    text key = {0};
    text_add(&key, "turn:", 5);
    text_add(&key, root->messages[u].id, strlen(root->messages[u].id));
    if (!key.failed && !seen(w, text_str(&key)))
      emit_turn(w, root, owner, (long)u, children, n_children, text_str(&key));
    w->out_of_memory |= key.failed;
    free(key.data);
  }
  free(previous), free(n_assistant), free(n_finished);
  return 0;
}

/* Finds the task call in parent that started child: a `task` tool part whose metadata names
 * the child session, or whose call id is the one the plugin reported (when the metadata does
 * not name another session). */
static json_t *find_task_part(const session_view *parent, const session_view *child,
                              const message_view **message) {
  for (size_t i = 0; i < parent->n_messages; i++) {
    const message_view *m = &parent->messages[i];
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      const char *tool = jstr(p, "tool"), *call_id = jstr(p, "callID");
      if (!tool || strcmp(tool, "task") != 0) continue;
      const char *named = jstr(jpath(p, "state", "metadata"), "sessionId");
      bool by_name = named && strcmp(named, child->id) == 0;
      bool by_call = !named && call_id && child->parent_call_id &&
                     strcmp(call_id, child->parent_call_id) == 0;
      if (by_name || by_call) {
        *message = m;
        return p;
      }
    }
  }
  return NULL;
}

/* Links each child to the task call that started it, parents before children (nested
 * subagents), and gives it its trace: the trace of the turn its root-level ancestor ran in.
 * A child whose Session does not name its parent, or whose task call is not in the parent's
 * snapshot, stays unlinked: a parent is never invented. */
static void link_children(const session_view *root, const long *owner, session_view *children,
                          size_t n) {
  bool progress = true;
  while (progress) {
    progress = false;
    for (size_t c = 0; c < n; c++) {
      session_view *child = &children[c];
      if (child->linked) continue;
      const session_view *parent = NULL;
      if (strcmp(child->parent_session_id, root->id) == 0) parent = root;
      for (size_t k = 0; !parent && k < n; k++)
        if (children[k].linked && strcmp(children[k].id, child->parent_session_id) == 0)
          parent = &children[k];
      const char *declared = jstr(child->info, "parentID");
      if (!parent || !declared || strcmp(declared, parent->id) != 0) continue;
      const message_view *task_message = NULL;
      json_t *task = find_task_part(parent, child, &task_message);
      if (!task) continue;
      if (parent == root) {
        long u = owner[task_message - root->messages];
        if (u < 0) continue;
        uint8_t span_id[8];
        turn_ids(root->id, &root->messages[u], child->trace_id, span_id);
      } else {
        memcpy(child->trace_id, parent->trace_id, 16);
      }
      const char *agent_parts[] = {"agent", child->id};
      hash_id(child->agent_span_id, 8, agent_parts, 2);
      child->parent = (session_view *)parent;
      child->task_part = task;
      child->task_message = task_message;
      child->linked = true;
      progress = true;
    }
  }
}

static void emit_agent(walk *w, const session_view *child) {
  const char *status = jstr(json_object_get(child->task_part, "state"), "status");
  if (!status || (strcmp(status, "completed") != 0 && strcmp(status, "error") != 0)) return;
  text key = {0};
  text_add(&key, "agent:", 6);
  text_add(&key, child->id, strlen(child->id));
  if (key.failed || seen(w, text_str(&key))) {
    w->out_of_memory |= key.failed;
    free(key.data);
    return;
  }
  json_t *st = json_object_get(child->task_part, "state");
  const char *agent = jstr(child->info, "agent");
  if (!agent) agent = jstr(json_object_get(st, "input"), "subagent_type");
  if (!agent) agent = "subagent";
  text name = {0};
  text_add(&name, "Agent: ", 7);
  text_add(&name, agent, strlen(agent));
  uint8_t parent_id[8];
  tool_span_id(child->parent->id, child->task_message, jstr(child->task_part, "callID"), parent_id);
  span *s = name.failed ? NULL
                        : new_span(w, text_str(&name), "AGENT", child->trace_id,
                                   child->agent_span_id, parent_id, child->id);
  free(name.data);
  if (!s) {
    free(key.data);
    return;
  }
  int64_t start = jms(jpath(st, "time", "start")), end = jms(jpath(st, "time", "end"));
  if (start < 0) start = jms(jpath(child->info, "time", "created"));
  set_times(s, start, end);
  set_str(w, s, "agent.name", agent);
  size_t prompt_len;
  const char *prompt = jtext(json_object_get(st, "input"), "prompt", &prompt_len);
  if (prompt) set_text(w, s, "input.value", prompt, prompt_len, !w->opt->log_prompts);
  set_str(w, s, "input.mime_type", "text/plain");
  text answer = {0};
  final_text(child, NULL, 0, &answer);
  set_text(w, s, "output.value", text_str(&answer), answer.len, !w->opt->log_prompts);
  set_str(w, s, "output.mime_type", "text/plain");
  w->out_of_memory |= answer.failed;
  free(answer.data);
  json_t *meta = json_pack("{s:s, s:s, s:s?}", "parent_session_id", child->parent->id,
                           "session_id", child->id, "title", jstr(child->info, "title"));
  set_metadata(w, s, meta);
  if (strcmp(status, "error") == 0) {
    size_t n = 0;
    const char *error = jtext(st, "error", &n);
    char shown[64];
    if (error && !w->opt->log_tool_content)
      snprintf(shown, sizeof shown, "<redacted (%zu chars)>", utf8_chars(error, n));
    if (span_set_status(s, SPAN_STATUS_ERROR,
                        !error ? "subagent failed" : w->opt->log_tool_content ? error : shown) != 0)
      w->out_of_memory = true;
  }
  emit_span(w, s, text_str(&key));
  free(key.data);
}

/* A child session's model and tool calls under its AGENT span, then the AGENT span itself once
 * the task call that started it has finished. */
static void walk_child(walk *w, const session_view *child) {
  const message_view *user = NULL, *previous = NULL;
  for (size_t i = 0; i < child->n_messages; i++) {
    const message_view *m = &child->messages[i];
    if (is_user(m)) {
      user = m;
      previous = NULL;
      continue;
    }
    if (!is_assistant(m)) continue;
    emit_llm(w, child, m, user, previous, child->trace_id, child->agent_span_id, false);
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (jstr(p, "type") && strcmp(jstr(p, "type"), "tool") == 0)
        emit_tool(w, child, m, p, child->trace_id, false);
    }
    previous = m;
  }
  emit_agent(w, child);
}

/* ------------------------------------------------------------------------------------------ */
/* The watermark: how much of the session the next payload must show (reconcile.h)            */

/* Whether prefix + id was marked (sent, or pending in this reconcile). Out of memory answers
 * "not seen", which only makes the next payload longer. */
static bool seen_id(walk *w, const char *prefix, const char *id) {
  text key = {0};
  text_add(&key, prefix, strlen(prefix));
  text_add(&key, id, strlen(id));
  bool out = !key.failed && seen(w, text_str(&key));
  free(key.data);
  return out;
}

static void copy_id(char out[RECONCILE_ID_MAX], const char *id) {
  snprintf(out, RECONCILE_ID_MAX, "%s", id);
}

/* The oldest message that can still produce spans. A message whose turn the payload does not
 * show (owner -1: before the payload's first user message, or naming an older one) and whose
 * Turn span is unsent names it through its parentID: the next payload must reach back to that
 * user message. Else the first user message whose Turn span is unsent. */
static void find_watermark(walk *w, const session_view *root, const long *owner) {
  const char *oldest = NULL;
  for (size_t i = 0; i < root->n_messages; i++) {
    const char *p = root->messages[i].parent_id;
    if (owner[i] < 0 && !is_user(&root->messages[i]) && reconcile_id_ok(p) &&
        !seen_id(w, "turn:", p) && (!oldest || strcmp(p, oldest) < 0))
      oldest = p;
  }
  for (size_t i = 0; !oldest && i < root->n_messages; i++)
    if (is_user(&root->messages[i]) && !seen_id(w, "turn:", root->messages[i].id))
      oldest = root->messages[i].id;
  if (!oldest && root->n_messages) oldest = root->messages[root->n_messages - 1].id;
  if (oldest) copy_id(w->result->watermark, oldest);
}

/* Whether a child session can still produce spans: its AGENT span is unsent, or one of its
 * model calls is unfinished (its spans follow when it finishes), or nothing links it yet. */
static bool child_open(walk *w, const session_view *child) {
  if (!child->linked || !seen_id(w, "agent:", child->id)) return true;
  for (size_t i = 0; i < child->n_messages; i++)
    if (is_assistant(&child->messages[i]) && !assistant_finished(&child->messages[i])) return true;
  return false;
}

/* Whether the Turn that counts a linked child in its roll-ups is unsent. */
static bool child_turn_open(walk *w, const session_view *root, const long *owner,
                            const session_view *child) {
  while (child->parent && child->parent != root) child = child->parent;
  if (child->parent != root) return true;
  long u = owner[child->task_message - root->messages];
  return u < 0 || !seen_id(w, "turn:", root->messages[u].id);
}

static void find_open_children(walk *w, const session_view *root, const long *owner,
                               const session_view *children, size_t n) {
  reconcile_result *r = w->result;
  for (size_t c = 0; c < n && !r->open_children_all; c++) {
    bool emits = child_open(w, &children[c]);
    if (!emits && !child_turn_open(w, root, owner, &children[c])) continue;
    if (r->n_open_children == RECONCILE_OPEN_CHILDREN) {
      r->open_children_all = true;
    } else {
      r->open_child_emits[r->n_open_children] = emits;
      copy_id(r->open_children[r->n_open_children++], children[c].id);
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Entry point                                                                                 */

static int load_children(json_t *list, const char *root_id, session_view **out, size_t *n_out,
                         reconcile_result *r) {
  *out = NULL, *n_out = 0;
  if (!list || json_is_null(list)) return 0;
  if (!json_is_array(list)) return reject(r, "childSessions is not an array");
  size_t n = json_array_size(list);
  session_view *children = calloc(n ? n : 1, sizeof *children);
  if (!children) return reject(r, "out of memory");
  *out = children;
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(list, i);
    session_view *child = &children[*n_out];
    child->id = jstr(c, "sessionID");
    child->parent_session_id = jstr(c, "parentSessionID");
    child->parent_call_id = jstr(c, "parentCallID");
    child->info = json_object_get(c, "info");
    if (!json_is_object(c) || !reconcile_id_ok(child->id) || !reconcile_id_ok(child->parent_session_id))
      return reject(r, "childSessions[%zu]: sessionID and parentSessionID are required", i);
    if (strcmp(child->id, root_id) == 0 || strcmp(child->id, child->parent_session_id) == 0)
      return reject(r, "childSessions[%zu]: a session cannot be its own child", i);
    if (child->info && (!json_is_object(child->info) ||
                        (jstr(child->info, "id") && strcmp(jstr(child->info, "id"), child->id) != 0)))
      return reject(r, "childSessions[%zu]: info describes another session", i);
    bool duplicate = false;
    for (size_t k = 0; k < *n_out; k++) duplicate |= strcmp(children[k].id, child->id) == 0;
    if (duplicate) continue;
    (*n_out)++;
    if (load_messages(child, json_object_get(c, "messages"), r) != 0) return -1;
  }
  return 0;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v << 4 | (unsigned)d;
  }
  *out = v;
  return 0;
}

/* JavaScript strings may hold lone UTF-16 surrogates, which JSON.stringify writes as "\udXXX"
 * escapes and jansson rejects, payload and all. A copy of json with each lone surrogate
 * escape replaced by "\ufffd" (same length), or NULL when there is none (or no memory). */
static char *repair_lone_surrogates(const char *json, size_t len) {
  char *copy = NULL;
  for (size_t i = 0; i + 6 <= len; i++) {
    if (json[i] != '\\') continue;
    if (json[i + 1] != 'u') { /* another escape: skip its character (the second of a "\\\\") */
      i++;
      continue;
    }
    unsigned unit, next;
    if (hex4(json + i + 2, &unit) != 0) continue;
    bool high = unit >= 0xD800 && unit <= 0xDBFF, low = unit >= 0xDC00 && unit <= 0xDFFF;
    if (high && i + 12 <= len && json[i + 6] == '\\' && json[i + 7] == 'u' &&
        hex4(json + i + 8, &next) == 0 && next >= 0xDC00 && next <= 0xDFFF) {
      i += 11; /* a proper pair */
      continue;
    }
    if (high || low) {
      if (!copy) {
        if (!(copy = malloc(len))) return NULL;
        memcpy(copy, json, len);
      }
      memcpy(copy + i + 2, "fffd", 4);
    }
    i += 5;
  }
  return copy;
}

int reconcile_json(state *st, const reconcile_options *opt, const char *json, size_t len,
                   reconcile_emit_fn emit, void *ctx, reconcile_result *result) {
  memset(result, 0, sizeof *result);
  json_error_t jerr;
  char *repaired = repair_lone_surrogates(json, len);
  const char *text = repaired ? repaired : json;
  size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
  json_t *payload = json_loadb(text, len, flags, &jerr);
  if (!payload && strstr(jerr.text, "too big")) /* an integer past int64 in a tool's input */
    payload = json_loadb(text, len, flags | JSON_DECODE_INT_AS_REAL, &jerr);
  free(repaired);
  if (!payload) {
    /* jansson quotes the text near the error: content, which must not reach the log */
    char *near = strstr(jerr.text, " near ");
    if (near) *near = '\0';
    snprintf(result->error, sizeof result->error, "payload is not JSON: line %d column %d: %s",
             jerr.line, jerr.column, jerr.text);
    return -1;
  }
  session_view root = {0};
  session_view *children = NULL;
  size_t n_children = 0;
  long *owner = NULL;
  int rc = -1;

  const char *type = jstr(payload, "type");
  root.id = jstr(payload, "sessionID");
  if (!json_is_object(payload)) {
    reject(result, "payload is not an object");
  } else if (!type || (strcmp(type, "reconcile") != 0 && strcmp(type, "close") != 0)) {
    reject(result, "type must be \"reconcile\" or \"close\"");
  } else if (!reconcile_id_ok(root.id)) {
    reject(result, "sessionID is missing or invalid");
  } else if (load_messages(&root, json_object_get(payload, "messages"), result) == 0 &&
             load_children(json_object_get(payload, "childSessions"), root.id, &children,
                           &n_children, result) == 0) {
    owner = turn_owners(&root);
    if (!owner) {
      reject(result, "out of memory");
    } else {
      walk w = {.st = st, .opt = opt, .emit = emit, .emit_ctx = ctx, .result = result,
                .closing = strcmp(type, "close") == 0, .root_id = root.id,
                .max_attr = opt->max_attr_bytes ? opt->max_attr_bytes : DEFAULT_MAX_ATTR_BYTES};
      state_begin(st, root.id); /* the caller commits once the spans are safe */
      link_children(&root, owner, children, n_children);
      for (size_t c = 0; c < n_children; c++) {
        if (children[c].linked) walk_child(&w, &children[c]);
        else result->children_unlinked++;
      }
      if (walk_turns(&w, &root, owner, children, n_children) != 0) w.out_of_memory = true;
      find_watermark(&w, &root, owner);
      find_open_children(&w, &root, owner, children, n_children);
      rc = w.out_of_memory ? -2 : 0;
      if (w.out_of_memory) snprintf(result->error, sizeof result->error, "out of memory");
    }
  }
  free(owner);
  for (size_t c = 0; c < n_children; c++) free(children[c].messages);
  free(children);
  free(root.messages);
  json_decref(payload);
  return rc;
}
