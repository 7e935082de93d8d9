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
#include "log.h"

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
  bool turn_over; /* the root turn its task call ran in is over: what never finished, won't */
};

typedef struct {
  state *st;
  const reconcile_options *opt;
  size_t max_attr;
  reconcile_emit_fn emit;
  void *emit_ctx;
  reconcile_result *result;
  bool closing;           /* type == "close" */
  bool abandoned;         /* "close" with "abandoned": true: no OpenCode works on it any more */
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

/* OpenCode's clocks are wall-clock milliseconds: before 2000 or beyond 1e13 ms (the year
 * 2286) a time is garbage, and past that its nanoseconds would overflow 64 bits. */
#define MIN_MS 946684800000LL /* 2000-01-01T00:00:00Z */
#define MAX_MS 10000000000000LL

/* A millisecond timestamp, or -1 when absent or not a number. A number outside [MIN_MS,
 * MAX_MS] is a bad clock, not a missing time: it is clamped to the nearer bound (set_times
 * marks the span), so a message that says it completed still counts as completed. JSON
 * numbers may arrive as integers or reals. */
static int64_t jms(const json_t *v) {
  double d;
  if (json_is_integer(v)) d = (double)json_integer_value(v);
  else if (json_is_real(v)) d = json_real_value(v);
  else return -1;
  if (isnan(d) || d < (double)MIN_MS) return MIN_MS;
  if (d > (double)MAX_MS) return MAX_MS;
  return (int64_t)d;
}

static uint64_t ms_to_ns(int64_t ms) { return ms < 0 ? 0 : (uint64_t)ms * 1000000ULL; }

#define MAX_COUNT 1000000000000LL /* a trillion tokens: beyond it, sums could overflow */

/* A token count: 0 when absent (OpenCode writes every bucket it has), -1 when present but not
 * a count (a string, null — what an overflowing number is read as —, a negative or
 * non-finite number): unknown, never read as 0. Past a trillion it saturates. */
static int64_t jcount_known(const json_t *v) {
  if (!v) return 0;
  double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : -1;
  if (!isfinite(d) || d < 0) return -1;
  return d > (double)MAX_COUNT ? MAX_COUNT : (int64_t)d;
}

/* A count for sums (the Turn's roll-up): what is unknown adds nothing. */
static int64_t jcount(const json_t *v) {
  int64_t n = jcount_known(v);
  return n < 0 ? 0 : n;
}

/* A cost in USD: 1 with *out set when known, 0 when absent (unknown, not free), -1 when
 * present but absurd (not a number, negative, not finite, above a billion). */
static int jcost(const json_t *v, double *out) {
  *out = 0;
  if (!v) return 0;
  double d = json_is_number(v) ? json_number_value(v) : -1;
  if (!isfinite(d) || d < 0 || d > 1e9) return -1;
  *out = d;
  return 1;
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

/* One bad item costs only itself (ARCHITECTURE.md): it is left out with one log line that
 * names it by its ids and position, never by its content, and counted; the rest is traced. */
static void skip(reconcile_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void skip(reconcile_result *r, const char *fmt, ...) {
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  log_warn("reconcile: %s; skipped it, the rest is traced", line);
  r->items_skipped++;
}

/* Reads messages into view. A message or part that cannot be read, or a part that names
 * another message or session, is skipped (removed from the payload, so nothing later reads
 * it). A message of another session returns -1 with r->error set: the plugin read the wrong
 * session, and nothing in it can be trusted (a privacy boundary). */
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
    if (!json_is_object(info)) {
      skip(r, "session %s: message %zu has no info object", view->id, i);
      continue;
    }
    const char *id = jstr(info, "id"), *owner = jstr(info, "sessionID"), *role = jstr(info, "role");
    if (!reconcile_id_ok(id)) {
      skip(r, "session %s: message %zu has no valid id", view->id, i);
      continue;
    }
    /* present but not this session's id (another id, or one with a NUL inside): foreign */
    if (json_object_get(info, "sessionID") && (!owner || strcmp(owner, view->id) != 0))
      return reject(r, "message %s belongs to another session, not %s", id, view->id);
    if (!owner || !role) {
      skip(r, "session %s: message %s has no %s", view->id, id, owner ? "role" : "session id");
      continue;
    }
    if (parts && !json_is_array(parts)) {
      skip(r, "session %s: message %s: its parts are not a list", view->id, id);
      parts = NULL;
    }
    mv->info = info;
    mv->id = id;
    mv->role = role;
    mv->parent_id = jstr(info, "parentID");
    mv->parts = parts;
    for (size_t j = 0, k = 0; j < json_array_size(parts); k++) {
      json_t *p = json_array_get(parts, j);
      const char *ps = jstr(p, "sessionID"), *pm = jstr(p, "messageID");
      const char *why = !json_is_object(p)                ? "is not an object"
                        : ps && strcmp(ps, view->id) != 0 ? "names another session"
                        : pm && strcmp(pm, id) != 0        ? "names another message"
                                                           : NULL;
      if (!why) {
        j++;
        continue;
      }
      skip(r, "session %s: message %s: part %zu %s", view->id, id, k, why);
      json_array_remove(parts, j);
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

/* Sets key, an attribute whose value is JSON text (tool arguments), to json, or when redact
 * to a JSON object that says what was left out: a marker that is still JSON of the same type,
 * so a reader that parses the attribute never meets plain text there. */
static void set_json_text(walk *w, span *s, const char *key, const char *json, bool redact) {
  char marker[96];
  size_t len = strlen(json);
  if (redact)
    snprintf(marker, sizeof marker, "{\"redacted\":\"<redacted (%zu chars)>\"}", utf8_chars(json, len));
  else if (len > w->max_attr) /* cut JSON is not JSON */
    snprintf(marker, sizeof marker, "{\"truncated\":\"<%zu bytes, over the attribute limit>\"}", len);
  else {
    set_text(w, s, key, json, len, false);
    return;
  }
  if (span_set_string(s, key, marker) != 0) w->out_of_memory = true;
}

/* input.value or output.value (value_key) holding JSON text, with its mime type (mime_key):
 * application/json only while the value is that JSON; a redaction marker or a cut value is
 * text/plain. */
static void set_json_value(walk *w, span *s, const char *value_key, const char *mime_key,
                           const char *json, bool redact) {
  size_t len = strlen(json);
  set_text(w, s, value_key, json, len, redact);
  if (span_set_string(s, mime_key, redact || len > w->max_attr ? "text/plain" : "application/json") != 0)
    w->out_of_memory = true;
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

/* The latest time anywhere in a session's messages (-1 when none). */
static int64_t session_last_ms(const session_view *sv) {
  int64_t t = -1;
  for (size_t i = 0; i < sv->n_messages; i++) {
    int64_t m = message_last_ms(&sv->messages[i]);
    if (m > t) t = m;
  }
  return t;
}

/* A bad clock gives a span at a bad (clamped) time, marked, never a missing span:
 * opencode.time.clamped is true when a time was outside [2000, 2286] (jms clamped it) or the
 * span would have ended before it started. */
static void set_times(walk *w, span *s, int64_t start_ms, int64_t end_ms) {
  bool clamped = start_ms == MIN_MS || start_ms == MAX_MS || end_ms == MIN_MS || end_ms == MAX_MS ||
                 (start_ms >= 0 && end_ms >= 0 && end_ms < start_ms);
  if (start_ms < 0) start_ms = end_ms >= 0 ? end_ms : 0;
  if (end_ms < start_ms) end_ms = start_ms;
  s->start_ns = ms_to_ns(start_ms);
  s->end_ns = ms_to_ns(end_ms);
  if (clamped && span_set_bool(s, "opencode.time.clamped", true) != 0) w->out_of_memory = true;
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
  /* as OpenInference's own masking does: the value becomes the marker, its mime type goes */
  if (o->hide_inputs) {
    redact_value(w, s, "input.value");
    span_attrs_remove_prefix(&s->attrs, "input.mime_type");
    span_attrs_remove_prefix(&s->attrs, "llm.input_messages.");
  }
  if (o->hide_outputs) {
    redact_value(w, s, "output.value");
    span_attrs_remove_prefix(&s->attrs, "output.mime_type");
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

/* Whether a tool's output or error says the user aborted it. OpenCode's bash tool completes
 * an aborted command with its output so far and "User aborted the command" in a trailing
 * metadata block; a call cut off by an abort ends as an error "Tool execution aborted". */
static bool tool_aborted(const char *text, size_t len) {
  static const char *const marks[] = {"User aborted the command", "Tool execution aborted"};
  for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
    if (memmem(text, len, marks[i], strlen(marks[i]))) return true;
  return false;
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
  set_times(w, s, start, end);

  set_str(w, s, "tool.name", tool);
  set_str(w, s, "tool.id", call_id);
  set_str(w, s, "tool_call.id", call_id);
  json_t *input = json_object_get(st, "input");
  char *args = dump(input);
  if (args) {
    bool redact = !w->opt->log_tool_details || !w->opt->log_tool_content;
    set_json_value(w, s, "input.value", "input.mime_type", args, redact);
    set_json_text(w, s, "tool.parameters", args, redact);
    free(args);
  }
  tool_arguments(w, s, tool, input);
  const char *title = jstr(st, "title");
  if (title && *title) set_text(w, s, "tool.description", title, strlen(title), !w->opt->log_tool_details);

  json_t *meta = json_pack("{s:s, s:s, s:s?}", "message_id", m->id, "session_id", sv->id, "agent",
                           jstr(m->info, "agent"));
  set_metadata(w, s, meta);

  size_t n = 0;
  const char *output = strcmp(status, "completed") == 0 ? jtext(st, "output", &n) : NULL;
  if (output) {
    set_text(w, s, "output.value", output, n, !w->opt->log_tool_content);
    set_str(w, s, "output.mime_type", "text/plain");
    json_t *exit_code = jpath(st, "metadata", "exit");
    double code = json_number_value(exit_code); /* 0 when absent */
    if (json_is_number(exit_code) && code >= -1e6 && code <= 1e6) set_int(w, s, "tool.exit_code", (int64_t)code);
  }
  if (output && tool_aborted(output, n)) {
    /* the user stopped it: OpenCode completes the call with what it printed so far */
    const char *why = "aborted: the user stopped the tool";
    if (span_set_status(s, SPAN_STATUS_ERROR, why) != 0) w->out_of_memory = true;
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", "Aborted") ||
        span_event_set_string(e, "exception.message", why))
      w->out_of_memory = true;
  } else if (strcmp(status, "completed") != 0) {
    const char *error = strcmp(status, "error") == 0 ? jtext(st, "error", &n) : NULL;
    const char *message = error ? error : "interrupted: OpenCode stopped before the tool finished";
    set_text(w, s, "output.value", message, error ? n : strlen(message), !w->opt->log_tool_content);
    set_str(w, s, "output.mime_type", "text/plain");
    /* the error text is tool output: status and event carry what output.value carries */
    const span_attr *out = span_get(s, "output.value");
    const char *shown = out && out->type == SPAN_ATTR_STRING ? out->value.s : "";
    const char *type = !error ? "Interrupted" : tool_aborted(error, n) ? "Aborted" : "ToolError";
    if (span_set_status(s, SPAN_STATUS_ERROR, shown) != 0) w->out_of_memory = true;
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", type) ||
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
    set_json_value(w, s, "input.value", "input.mime_type", json, false);
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
  /* OpenInference: message.content for a text-only message, message.contents.N for a
   * multi-part one (reasoning and text), never both */
  if (answer.len && c > 0) {
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.type", c);
    set_str(w, s, key, "text");
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.text", c++);
    set_text(w, s, key, text_str(&answer), answer.len, redact);
  } else if (answer.len) {
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
      set_json_text(w, s, key, args, !w->opt->log_tool_details);
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

/* OpenInference's token counts for one model call. A bucket that is not a count (an
 * overflowing or negative number, a string) is left out with one log line, and so is every
 * sum it is part of: an unknown count is never read as 0. */
static void llm_token_counts(walk *w, span *s, const session_view *sv, const message_view *m,
                             json_t *tokens) {
  static const char *const names[] = {"input", "output", "reasoning", "cache.read", "cache.write"};
  json_t *cache = json_object_get(tokens, "cache");
  json_t *v[] = {json_object_get(tokens, "input"), json_object_get(tokens, "output"),
                 json_object_get(tokens, "reasoning"), json_object_get(cache, "read"),
                 json_object_get(cache, "write")};
  int64_t n[5];
  for (size_t i = 0; i < 5; i++)
    if ((n[i] = jcount_known(v[i])) < 0)
      skip(w->result, "session %s: message %s: tokens.%s is not a valid count", sv->id, m->id, names[i]);
  enum { INPUT, OUTPUT, REASONING, CACHE_READ, CACHE_WRITE };
  /* OpenCode stores input without cache and output without reasoning; OpenInference's
   * prompt and completion include their detail buckets. */
  bool prompt_known = n[INPUT] >= 0 && n[CACHE_READ] >= 0 && n[CACHE_WRITE] >= 0;
  bool completion_known = n[OUTPUT] >= 0 && n[REASONING] >= 0;
  int64_t prompt = n[INPUT] + n[CACHE_READ] + n[CACHE_WRITE], completion = n[OUTPUT] + n[REASONING];
  if (prompt_known) set_int(w, s, "llm.token_count.prompt", prompt);
  if (completion_known) set_int(w, s, "llm.token_count.completion", completion);
  if (prompt_known && completion_known) set_int(w, s, "llm.token_count.total", prompt + completion);
  if (n[CACHE_READ] >= 0) set_int(w, s, "llm.token_count.prompt_details.cache_read", n[CACHE_READ]);
  if (n[CACHE_WRITE] >= 0) set_int(w, s, "llm.token_count.prompt_details.cache_write", n[CACHE_WRITE]);
  if (n[REASONING] >= 0) set_int(w, s, "llm.token_count.completion_details.reasoning", n[REASONING]);
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
  set_times(w, s, jms(jpath(m->info, "time", "created")), message_last_ms(m));
  if (model) set_str(w, s, "llm.model_name", model);
  if (provider) set_str(w, s, "llm.provider", provider);
  if (llm_system(provider)) set_str(w, s, "llm.system", llm_system(provider));
  const char *finish = jstr(m->info, "finish");
  if (finish) set_str(w, s, "llm.finish_reason", finish);

  json_t *tokens = json_object_get(m->info, "tokens");
  if (tokens) llm_token_counts(w, s, sv, m, tokens);
  double cost;
  int known = jcost(json_object_get(m->info, "cost"), &cost);
  if (known < 0) skip(w->result, "session %s: message %s: its cost is not a valid amount", sv->id, m->id);
  /* no cost field: unknown, which is not free */
  if (known > 0 && span_set_double(s, "llm.cost.total", cost) != 0) w->out_of_memory = true;

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
  bool cost_known; /* any call with a known cost: the sum of known costs, else no attribute */
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
    double cost;
    if (jcost(json_object_get(m->info, "cost"), &cost) > 0) r->cost += cost, r->cost_known = true;
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
  for (size_t c = 0; c < n_children; c++) { /* a subagent cut off runs past its task part */
    int64_t t = children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0
                    ? session_last_ms(&children[c]) : -1;
    if (t > end) end = t;
  }
  set_times(w, s, jms(jpath(user->info, "time", "created")), end);

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
  /* the sum of the costs that are known (a cost is unknown when OpenCode wrote none); none
   * known: no attribute, since unknown is not free */
  if (r.cost_known && span_set_double(s, "opencode.turn.cost.total", r.cost) != 0) w->out_of_memory = true;

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
  } else if (!last && w->abandoned) {
    if (span_set_status(s, SPAN_STATUS_ERROR, "interrupted: the turn ended before its first model call") != 0)
      w->out_of_memory = true;
  }
  size_t before = w->result->spans;
  emit_span(w, s, key);
  w->result->turns += w->result->spans - before;
}

/* Every model and tool call of the session, in one pass, then each Turn that is over: a newer
 * user message exists, or the session went idle with every model call of the turn finished,
 * or no OpenCode works on the session any more ("abandoned").
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
    bool superseded = u != last_user || w->abandoned; /* over: its unfinished calls stopped */
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
    bool over = (long)u != last_user || w->abandoned ||
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

/* Whether the turn of user message u is over: a newer user message exists, or the session
 * went idle ("close") with every model call of the turn finished. What has not finished by
 * then never will: it is sent as interrupted. */
static bool turn_over(const session_view *root, const long *owner, long u, bool closing) {
  size_t assistants = 0, finished = 0;
  for (size_t i = (size_t)u + 1; i < root->n_messages; i++) {
    const message_view *m = &root->messages[i];
    if (is_user(m)) return true;
    if (owner[i] == u && is_assistant(m)) assistants++, finished += assistant_finished(m);
  }
  return closing && assistants > 0 && finished == assistants;
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
                          size_t n, bool closing) {
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
        child->turn_over = turn_over(root, owner, u, closing);
      } else {
        memcpy(child->trace_id, parent->trace_id, 16);
        child->turn_over = parent->turn_over;
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

/* Whether every model call of the child finished (and there is one): its final text is
 * there. A snapshot read while the child was still writing is partial. */
static bool child_complete(const session_view *child) {
  size_t assistants = 0;
  for (size_t i = 0; i < child->n_messages; i++) {
    const message_view *m = &child->messages[i];
    if (!is_assistant(m)) continue;
    if (!assistant_finished(m)) return false;
    assistants++;
  }
  return assistants > 0;
}

/* The AGENT span, once its task call ended and the child is complete, or once the turn is
 * over (what has not finished then never will; a task call that never ended makes it an
 * interrupted ERROR, as its TOOL span is). Sent once, its output.value must be the child's
 * final answer, not what a partial snapshot held. */
static void emit_agent(walk *w, const session_view *child) {
  const char *status = jstr(json_object_get(child->task_part, "state"), "status");
  bool ended = status && (strcmp(status, "completed") == 0 || strcmp(status, "error") == 0);
  if (!child->turn_over && !w->abandoned && (!ended || !child_complete(child))) return;
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
  if (end < 0) end = session_last_ms(child); /* never ended: where the subagent stopped */
  set_times(w, s, start, end);
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
  if (!ended) {
    if (span_set_status(s, SPAN_STATUS_ERROR, "interrupted: OpenCode stopped before the subagent finished") != 0)
      w->out_of_memory = true;
  } else if (strcmp(status, "error") == 0) {
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
 * the task call that started it has finished. As in the root session, a call that never
 * finished is sent as interrupted once it never will (its turn is over, or a newer user
 * message exists in the child): a finished tool's LLM parent is never left unsent. */
static void walk_child(walk *w, const session_view *child) {
  const message_view *user = NULL, *previous = NULL;
  long last_user = -1, current_user = -1;
  for (size_t i = 0; i < child->n_messages; i++)
    if (is_user(&child->messages[i])) last_user = (long)i;
  for (size_t i = 0; i < child->n_messages; i++) {
    const message_view *m = &child->messages[i];
    if (is_user(m)) {
      user = m;
      current_user = (long)i;
      previous = NULL;
      continue;
    }
    if (!is_assistant(m)) continue;
    bool interrupted = child->turn_over || current_user != last_user || w->abandoned;
    emit_llm(w, child, m, user, previous, child->trace_id, child->agent_span_id, interrupted);
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (jstr(p, "type") && strcmp(jstr(p, "type"), "tool") == 0)
        emit_tool(w, child, m, p, child->trace_id, interrupted);
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

/* Reads the child sessions. A child that cannot be trusted (no valid id or parent id, its own
 * parent or the root, an info that describes another session, messages of another session)
 * is skipped with one log line; the root and the other children are traced. */
static int load_children(json_t *list, const char *root_id, session_view **out, size_t *n_out,
                         reconcile_result *r) {
  *out = NULL, *n_out = 0;
  if (!list || json_is_null(list)) return 0;
  if (!json_is_array(list)) {
    skip(r, "session %s: childSessions is not a list", root_id);
    return 0;
  }
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
    const char *info_id = jstr(child->info, "id");
    const char *why = !json_is_object(c) || !reconcile_id_ok(child->id) ? "has no valid sessionID"
                      : !reconcile_id_ok(child->parent_session_id)       ? "has no valid parentSessionID"
                      : strcmp(child->id, root_id) == 0 || strcmp(child->id, child->parent_session_id) == 0
                          ? "names itself as its own child or parent"
                      : child->info && !json_is_object(child->info) ? "has an info that is not an object"
                      : info_id && strcmp(info_id, child->id) != 0   ? "has an info that describes another session"
                                                                     : NULL;
    bool duplicate = false;
    for (size_t k = 0; !why && k < *n_out; k++) duplicate |= strcmp(children[k].id, child->id) == 0;
    char reason[sizeof r->error + 16];
    if (!why && !duplicate && load_messages(child, json_object_get(c, "messages"), r) != 0) {
      if (strcmp(r->error, "out of memory") == 0) return -1;
      snprintf(reason, sizeof reason, "is unusable: %s", r->error); /* ids only */
      why = reason;
      r->error[0] = '\0';
    }
    if (why) {
      if (reconcile_id_ok(child->id))
        skip(r, "session %s: child session %s (childSessions[%zu]) %s", root_id, child->id, i, why);
      else
        skip(r, "session %s: childSessions[%zu] %s", root_id, i, why);
    }
    if (why || duplicate) {
      free(child->messages);
      memset(child, 0, sizeof *child);
      continue;
    }
    (*n_out)++;
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

static bool number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* jansson refuses a whole text for one number beyond the range of a double ("1e309": "real
 * number overflow"). A copy of json with each such number (outside strings) replaced by
 * "null" padded with spaces (same length), so the item holding it reads as "not a number"
 * and is skipped alone; NULL when there is none (or no memory). *count: how many. */
static char *repair_overflowing_numbers(const char *json, size_t len, size_t *count) {
  char *copy = NULL;
  *count = 0;
  bool in_string = false;
  for (size_t i = 0; i < len; i++) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c != '-' && !(c >= '0' && c <= '9')) continue;
    size_t j = i;
    while (j < len && number_char(json[j])) j++;
    if (j - i >= 4) { /* shorter numbers fit a double: 9e99 */
      char *token = strndup(json + i, j - i);
      if (!token) {
        free(copy);
        return NULL;
      }
      double d = strtod(token, NULL);
      free(token);
      if (isinf(d)) {
        if (!copy && !(copy = malloc(len))) return NULL;
        if (*count == 0) memcpy(copy, json, len);
        memcpy(copy + i, "null", 4);
        memset(copy + i + 4, ' ', j - i - 4);
        (*count)++;
      }
    }
    i = j - 1;
  }
  return copy;
}

int reconcile_json(state *st, const reconcile_options *opt, const char *json, size_t len,
                   reconcile_emit_fn emit, void *ctx, reconcile_result *result) {
  memset(result, 0, sizeof *result);
  json_error_t jerr;
  char *repaired = repair_lone_surrogates(json, len), *renumbered = NULL;
  const char *text = repaired ? repaired : json;
  size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
  json_t *payload = json_loadb(text, len, flags, &jerr);
  for (int attempt = 0; !payload && attempt < 2; attempt++) {
    size_t overflowing = 0;
    if (strstr(jerr.text, "too big")) { /* an integer past int64 in a tool's input */
      flags |= JSON_DECODE_INT_AS_REAL;
    } else if (!renumbered && strstr(jerr.text, "overflow") &&
               (renumbered = repair_overflowing_numbers(text, len, &overflowing))) {
      log_warn("reconcile: %zu numbers beyond the range of a double in the payload are read as "
               "null: the items holding them are skipped", overflowing);
      text = renumbered;
    } else {
      break;
    }
    payload = json_loadb(text, len, flags, &jerr);
  }
  free(repaired);
  free(renumbered);
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
                .abandoned = strcmp(type, "close") == 0 &&
                             json_is_true(json_object_get(payload, "abandoned")),
                .max_attr = opt->max_attr_bytes ? opt->max_attr_bytes : DEFAULT_MAX_ATTR_BYTES};
      state_begin(st, root.id); /* the caller commits once the spans are safe */
      link_children(&root, owner, children, n_children, w.closing);
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
