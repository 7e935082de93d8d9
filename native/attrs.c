/* attrs — the attribute policy (attrs.h): redaction by class, secret redaction (redact.h), size
 * limits, OPENINFERENCE_HIDE_*, custom attributes. Every redaction marker is placed here (the
 * secret markers are written by redact.c) and nowhere else. */
#include "attrs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "text.h"

#define DEFAULT_MAX_ATTR_BYTES (32 * 1024)
#define MAX_SPAN_TEXT_BYTES (1024 * 1024)
#define MAX_NAME_BYTES 1024   /* span and event names */
#define HIDDEN "__REDACTED__" /* OpenInference's own marker (OPENINFERENCE_HIDE_*) */

typedef enum {
  SHAPE_TEXT,       /* plain text: the marker is "<redacted (N chars)>", a long value is cut */
  SHAPE_JSON,       /* JSON text: the marker is a JSON object, since cut JSON is not JSON */
  SHAPE_JSON_VALUE, /* input.value holding JSON text, with input.mime_type saying which */
} shape;

/* Each attribute that can carry user content: its name, the option that lets it through, and
 * what its marker looks like. */
static const struct {
  const char *name;
  attrs_class class;
  shape shape;
} keys[ATTRS_N_KEYS] = {
    [ATTR_INPUT_TEXT] = {"input.value", ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_OUTPUT_TEXT] = {"output.value", ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_INPUT_CONTENT] = {"llm.input_messages.%zu.message.content", ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_INPUT_PART] = {"llm.input_messages.%zu.message.contents.%zu.message_content.text",
                             ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_INPUT_IMAGE] =
        {"llm.input_messages.%zu.message.contents.%zu.message_content.image.image.url",
         ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_INPUT_TOOL_CALL] =
        {"llm.input_messages.%zu.message.tool_calls.%zu.tool_call.function.arguments",
         ATTRS_TOOL_DETAILS, SHAPE_JSON},
    [ATTR_LLM_INPUT_TOOL_RESULT] = {"llm.input_messages.%zu.message.content", ATTRS_TOOL_CONTENT,
                                    SHAPE_TEXT},
    [ATTR_LLM_INPUT_TOOL_RESULTS] = {"input.value", ATTRS_PUBLIC, SHAPE_JSON_VALUE},
    [ATTR_LLM_OUTPUT_CONTENT] = {"llm.output_messages.0.message.content", ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_OUTPUT_PART] = {"llm.output_messages.0.message.contents.%zu.message_content.text",
                              ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_TOOL_CALL_ARGUMENTS] =
        {"llm.output_messages.0.message.tool_calls.%zu.tool_call.function.arguments",
         ATTRS_TOOL_DETAILS, SHAPE_JSON},
    [ATTR_LLM_OUTPUT_TOOL_CALLS] = {"output.value", ATTRS_TOOL_DETAILS, SHAPE_JSON_VALUE},
    [ATTR_TOOL_INPUT] = {"input.value", ATTRS_TOOL_ARGUMENTS, SHAPE_JSON_VALUE},
    [ATTR_TOOL_PARAMETERS] = {"tool.parameters", ATTRS_TOOL_ARGUMENTS, SHAPE_JSON},
    [ATTR_TOOL_DESCRIPTION] = {"tool.description", ATTRS_PUBLIC, SHAPE_TEXT},
    [ATTR_TOOL_TITLE] = {"opencode.tool.title", ATTRS_TOOL_DETAILS, SHAPE_TEXT},
    [ATTR_TOOL_OUTPUT] = {"output.value", ATTRS_TOOL_CONTENT, SHAPE_TEXT},
    [ATTR_LLM_INVOCATION_PARAMETERS] = {"llm.invocation_parameters", ATTRS_PUBLIC, SHAPE_JSON},
    [ATTR_LLM_TOOL_SCHEMA] = {"llm.tools.%zu.tool.json_schema", ATTRS_PUBLIC, SHAPE_JSON},
    [ATTR_TURN_COMMAND_ARGUMENTS] = {"opencode.turn.command.arguments", ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_TURN_FILES] = {"opencode.turn.files", ATTRS_TOOL_DETAILS, SHAPE_JSON},
    [ATTR_TURN_TODOS] = {"opencode.turn.todos", ATTRS_PROMPT, SHAPE_JSON},
};

void attrs_init(attrs *a, const attrs_options *opt) {
  a->opt = opt;
  a->max_bytes = opt->max_attr_bytes ? opt->max_attr_bytes : DEFAULT_MAX_ATTR_BYTES;
  a->out_of_memory = false;
  a->measure = NULL;
  a->n_screened = 0;
  memset(a->screened_slot, 0, sizeof a->screened_slot);
}

/* A hash of a string's bytes, eight at a time (it tells a value changed in place from the one
 * scanned; nobody chooses these strings to collide with their own earlier value). */
static uint64_t content_hash(const char *s, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ n, w;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    memcpy(&w, s + i, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  w = 0;
  memcpy(&w, s + i, n - i);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
  return h ^ (h >> 29);
}

/* The slot of screened_slot[] that holds p, or the free one where it would go. */
static size_t screened_find(const attrs *a, const char *p) {
  size_t i = (size_t)(((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL) >> 40);
  for (;; i++) {
    i &= ATTRS_SCREENED_SLOTS - 1;
    uint16_t k = a->screened_slot[i];
    if (!k || a->screened[k - 1].p == p) return i;
  }
}

/* Remembers that the string stored at p was scanned (it is what prepare returned). */
static void remember_screened(attrs *a, const char *p) {
  if (!p) return;
  size_t i = screened_find(a, p), k = a->screened_slot[i];
  if (!k) {
    if (a->n_screened == ATTRS_SCREENED_MAX) return;
    k = ++a->n_screened;
    a->screened_slot[i] = (uint16_t)k;
  }
  size_t len = strlen(p);
  a->screened[k - 1].p = p;
  a->screened[k - 1].len = len;
  a->screened[k - 1].hash = content_hash(p, len);
}

/* Whether the string at p is one attrs_set* scanned, unchanged since (same place, length and
 * hash: whoever set it again after that gets it scanned). */
static bool was_screened(const attrs *a, const char *p) {
  if (!a->n_screened) return false;
  size_t k = a->screened_slot[screened_find(a, p)];
  if (!k) return false;
  size_t len = strlen(p);
  return len == a->screened[k - 1].len && content_hash(p, len) == a->screened[k - 1].hash;
}

/* Forgets every remembered string (the next span starts afresh). */
static void forget_screened(attrs *a) {
  if (a->n_screened) memset(a->screened_slot, 0, sizeof a->screened_slot);
  a->n_screened = 0;
}

static void remember_attr(attrs *a, span *s, const char *key) {
  const span_attr *at = span_get(s, key);
  if (at && at->type == SPAN_ATTR_STRING) remember_screened(a, at->value.s);
}

/* Whether values of this class are replaced by a marker. */
static bool attrs_hidden(const attrs *a, attrs_class c) {
  const attrs_options *o = a->opt;
  switch (c) {
  case ATTRS_PROMPT: return !o->log_prompts;
  case ATTRS_TOOL_DETAILS: return !o->log_tool_details;
  case ATTRS_TOOL_CONTENT: return !o->log_tool_content;
  case ATTRS_TOOL_ARGUMENTS: return !o->log_tool_details || !o->log_tool_content;
  case ATTRS_PUBLIC: break;
  }
  return false;
}

static size_t utf8_chars(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
  return n;
}

/* The true size of value: its own, or what measure says when parts of it were cut. */
static void true_size(const attrs *a, const char *value, size_t len, bool json, size_t *bytes,
                      size_t *chars) {
  if (a->measure) a->measure(value, len, json, bytes, chars);
  else {
    *bytes = len;
    if (chars) *chars = utf8_chars(value, len);
  }
}

/* The text marker for a redacted value: says how much was left out, never what. */
static void redacted_marker(char *out, size_t size, size_t chars) {
  snprintf(out, size, "<redacted (%zu chars)>", chars);
}

/* The redaction markers a span holds: opencode.redactions, raised by n. */
static void count_redactions(attrs *a, span *s, long n) {
  if (n <= 0) return;
  const span_attr *at = span_get(s, ATTRS_REDACTIONS);
  int64_t before = at && at->type == SPAN_ATTR_INT ? at->value.i : 0;
  if (span_set_int(s, ATTRS_REDACTIONS, before + n) != 0) a->out_of_memory = true;
}

/* The first bytes of value[0..len) that fit in limit (whole characters, never half a redaction
 * marker) followed by a visible marker saying how much of total bytes was kept: malloc'd, or
 * NULL when out of memory. */
static char *cut_text(const char *value, size_t len, size_t total, size_t limit, size_t *out_len) {
  char marker[96];
  int m = snprintf(marker, sizeof marker, "…[truncated: %zu of %zu bytes shown]", total, total);
  size_t keep = limit > (size_t)m ? limit - (size_t)m : 0;
  if (keep > len) keep = len;
  while (keep > 0 && ((unsigned char)value[keep] & 0xC0) == 0x80) keep--; /* whole characters */
  for (size_t k = keep; k > 0 && keep - k < 64; k--) { /* a redaction marker is kept whole */
    if (value[k - 1] == '>') break;
    if (value[k - 1] == '<' && strncmp(value + k - 1, "<redacted:", 10) == 0) {
      keep = k - 1;
      break;
    }
  }
  snprintf(marker, sizeof marker, "…[truncated: %zu of %zu bytes shown]", keep, total);
  text t = {0};
  text_add(&t, value, keep);
  text_add(&t, marker, strlen(marker));
  if (t.failed) {
    free(t.data);
    return NULL;
  }
  *out_len = t.len;
  return t.data;
}

/* A value as it may leave: borrowed, or owned when redacted or cut. */
typedef struct {
  const char *p;
  size_t len;
  char *owned;
  bool cut;
} view;

/* value[0..len) (of a value total bytes long: more when parts past the limit were cut before
 * parsing) with its secrets redacted (redact.h) and, past limit, cut with the visible marker.
 * Only what can be sent is scanned: the part under the limit and REDACT_MARGIN bytes past it, so
 * a secret across the cut is seen whole and leaves nothing of itself before the cut. The markers
 * made are added to *redactions. Out of memory: an empty view, out_of_memory set (the span is
 * then dropped, never sent unscanned). */
static view prepare(attrs *a, const char *value, size_t len, size_t total, size_t limit,
                    long *redactions) {
  view v = {value, len, NULL, false};
  size_t window = len;
  if (len > limit && len - limit > REDACT_MARGIN) window = limit + REDACT_MARGIN;
  char *red = NULL;
  size_t red_len = 0;
  long k = redact_text(a->opt->redact, value, window, window < len || total > len, &red, &red_len);
  if (k < 0) {
    a->out_of_memory = true;
    return (view){"", 0, NULL, false};
  }
  if (k > 0) {
    *redactions += k;
    v.p = red, v.len = red_len, v.owned = red;
  }
  if (total <= limit && v.len <= limit) return v;
  size_t cut_len = 0;
  char *cut = cut_text(v.p, window < len && k == 0 ? window : v.len, total, limit, &cut_len);
  free(v.owned);
  if (!cut) {
    a->out_of_memory = true;
    return (view){"", 0, NULL, false};
  }
  return (view){cut, cut_len, cut, true};
}

/* Sets key to value[0..len) (total bytes in all), secrets redacted, cut to the size limit.
 * Returns whether the value was cut. */
static bool set_value(attrs *a, span *s, const char *key, const char *value, size_t len,
                      size_t total) {
  long n = 0;
  view v = prepare(a, value, len, total, a->max_bytes, &n);
  if (!a->out_of_memory && span_set_stringn(s, key, v.p, v.len) != 0) a->out_of_memory = true;
  free(v.owned);
  count_redactions(a, s, n);
  remember_attr(a, s, key);
  return v.cut;
}

/* Sets key to value, or to "<redacted (N chars)>" when redact; secrets redacted, cut to the size
 * limit (json: value is JSON text, for its true size). Returns whether the value was cut. */
static bool set_text(attrs *a, span *s, const char *key, const char *value, size_t len, bool redact,
                     bool json) {
  char marker[96];
  size_t full, chars = 0;
  true_size(a, value, len, json, &full, redact ? &chars : NULL); /* chars: for the marker only */
  if (redact) {
    redacted_marker(marker, sizeof marker, chars);
    if (span_set_string(s, key, marker) != 0) a->out_of_memory = true;
    return false;
  }
  return set_value(a, s, key, value, len, full);
}

/* The marker of a JSON value that is redacted (chars: its length) or over the limit (len). */
static void set_json_marker(attrs *a, span *s, const char *key, size_t len, size_t chars,
                            bool redact) {
  char marker[96];
  if (redact) snprintf(marker, sizeof marker, "{\"redacted\":\"<redacted (%zu chars)>\"}", chars);
  else /* cut JSON is not JSON */
    snprintf(marker, sizeof marker, "{\"truncated\":\"<%zu bytes, over the attribute limit>\"}",
             len);
  if (span_set_string(s, key, marker) != 0) a->out_of_memory = true;
}

/* Sets key, whose value is JSON text (tool arguments), to json, or when redact to a JSON
 * object that says what was left out: a marker that is still JSON of the same type, so a
 * reader that parses the attribute never meets plain text there. Secrets inside are redacted
 * string by string (the text stays JSON). */
static void set_json_text(attrs *a, span *s, const char *key, const char *json, bool redact) {
  size_t len = strlen(json), full, chars;
  true_size(a, json, len, true, &full, &chars);
  if (redact || full > a->max_bytes) {
    set_json_marker(a, s, key, full, chars, redact);
    return;
  }
  long n = 0;
  view v = prepare(a, json, len, len, SIZE_MAX, &n); /* whole: cut JSON is not JSON */
  bool fits = v.len <= a->max_bytes;
  if (fits && !a->out_of_memory && span_set_stringn(s, key, v.p, v.len) != 0)
    a->out_of_memory = true;
  free(v.owned);
  count_redactions(a, s, n);
  if (fits) remember_attr(a, s, key);
  else set_json_marker(a, s, key, len, chars, false);
}

void attrs_json_escaped_size(const char *value, size_t n, size_t *bytes, size_t *chars) {
  size_t b = 0, c = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)value[i];
    if (ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' || ch == '\n' || ch == '\r' ||
        ch == '\t')
      b += 2, c += 2;
    else if (ch < 0x20) b += 6, c += 6;
    else b++, c += (ch & 0xC0) != 0x80;
  }
  *bytes = b, *chars = c;
}

/* The mime type beside a JSON_VALUE key: input.mime_type, or output.mime_type for output.value. */
static const char *mime_key(const char *key) {
  return strcmp(key, "output.value") == 0 ? "output.mime_type" : "input.mime_type";
}

void attrs_set_sized(attrs *a, span *s, attrs_key key, const char *value, size_t len,
                     size_t full_len, size_t full_chars) {
  if (full_len <= a->max_bytes || len <= a->max_bytes) { /* not cut after all */
    attrs_set(a, s, key, value, len);
    return;
  }
  char name[128], marker[96];
  snprintf(name, sizeof name, keys[key].name, (size_t)0);
  bool redact = attrs_hidden(a, keys[key].class);
  if (keys[key].shape == SHAPE_JSON) {
    set_json_marker(a, s, name, full_len, full_chars, redact);
    return;
  }
  if (redact) {
    redacted_marker(marker, sizeof marker, full_chars);
    if (span_set_string(s, name, marker) != 0) a->out_of_memory = true;
  } else {
    set_value(a, s, name, value, len, full_len); /* scans and keeps the first max_bytes only */
  }
  if (keys[key].shape == SHAPE_JSON_VALUE) attrs_str(a, s, mime_key(name), "text/plain");
}

/* input.value or output.value holding JSON text, with its mime type (input.mime_type,
 * output.mime_type): application/json only while the value is that JSON; a redaction marker or
 * a cut value is text/plain. */
static void set_json_value(attrs *a, span *s, const char *key, const char *json, bool redact) {
  size_t len = strlen(json);
  bool cut = set_text(a, s, key, json, len, redact, true);
  attrs_str(a, s, mime_key(key), redact || cut ? "text/plain" : "application/json");
}

void attrs_set_nth2(attrs *a, span *s, attrs_key key, size_t n, size_t k, const char *value,
                    size_t len) {
  char name[160];
  snprintf(name, sizeof name, keys[key].name, n, k); /* a name with one index ignores k */
  bool redact = attrs_hidden(a, keys[key].class);
  switch (keys[key].shape) {
  case SHAPE_TEXT: set_text(a, s, name, value, len, redact, false); break;
  case SHAPE_JSON: set_json_text(a, s, name, value, redact); break;
  case SHAPE_JSON_VALUE: set_json_value(a, s, name, value, redact); break;
  }
}

void attrs_set_nth(attrs *a, span *s, attrs_key key, size_t n, const char *value, size_t len) {
  attrs_set_nth2(a, s, key, n, 0, value, len);
}

void attrs_set(attrs *a, span *s, attrs_key key, const char *value, size_t len) {
  attrs_set_nth(a, s, key, 0, value, len);
}

void attrs_set_tool_argument(attrs *a, span *s, const char *name, const char *value, size_t len) {
  set_text(a, s, name, value, len, attrs_hidden(a, ATTRS_TOOL_DETAILS), false);
}

size_t attrs_cost(const attrs *a, attrs_key key, size_t len) {
  if (attrs_hidden(a, keys[key].class)) return 24; /* "<redacted (N chars)>" */
  return len < a->max_bytes ? len : a->max_bytes;
}

const char *attrs_data_url(const char *url, size_t len, char *out, size_t size) {
  if (len < 5 || strncmp(url, "data:", 5) != 0) return NULL;
  const char *comma = memchr(url, ',', len);
  size_t header = comma ? (size_t)(comma - url) : len, mime = 0;
  while (5 + mime < header && url[5 + mime] != ';' && url[5 + mime] != ',') mime++;
  if (mime > 100) mime = 100;
  size_t data = comma ? len - header - 1 : 0;
  bool base64 = header >= 7 && memcmp(url + header - 7, ";base64", 7) == 0;
  size_t bytes = base64 ? data / 4 * 3 : data; /* about: padding is not subtracted */
  const char *type = mime ? url + 5 : "application/octet-stream";
  snprintf(out, size, "<data:%.*s, %zu bytes, not inlined>", mime ? (int)mime : (int)strlen(type),
           type, bytes);
  return out;
}

const char *attrs_embedded(const attrs *a, attrs_class c, const char *value) {
  return attrs_hidden(a, c) ? "<redacted>" : value;
}

void attrs_set_error(attrs *a, span *s, attrs_class c, const char *message, size_t len) {
  char marker[64];
  size_t full, chars;
  true_size(a, message, len, false, &full, &chars);
  if (attrs_hidden(a, c)) {
    redacted_marker(marker, sizeof marker, chars);
    if (span_set_status(s, SPAN_STATUS_ERROR, marker) != 0) a->out_of_memory = true;
    return;
  }
  long n = 0;
  view v = prepare(a, message, len, full, a->max_bytes, &n);
  if (!a->out_of_memory) {
    char *status = v.owned ? v.owned : strndup(v.p, v.len);
    if (!status || span_set_status(s, SPAN_STATUS_ERROR, status) != 0) a->out_of_memory = true;
    if (status != v.owned) free(status);
    remember_screened(a, s->status_message);
  }
  free(v.owned);
  count_redactions(a, s, n);
}

void attrs_str(attrs *a, span *s, const char *key, const char *value) {
  if (value && span_set_string(s, key, value) != 0) a->out_of_memory = true;
}

void attrs_int(attrs *a, span *s, const char *key, int64_t value) {
  if (span_set_int(s, key, value) != 0) a->out_of_memory = true;
}

void attrs_event_str(attrs *a, span_event *e, attrs_class c, const char *key, const char *value) {
  if (!value) return;
  char marker[96];
  size_t len = strlen(value);
  if (attrs_hidden(a, c)) {
    size_t full, chars;
    true_size(a, value, len, false, &full, &chars);
    redacted_marker(marker, sizeof marker, chars);
    value = marker;
  }
  /* long values are cut with the span's strings (attrs_finish) */
  if (span_event_set_string(e, key, value) != 0) a->out_of_memory = true;
}

void attrs_event_int(attrs *a, span_event *e, const char *key, int64_t value) {
  if (span_event_set_int(e, key, value) != 0) a->out_of_memory = true;
}

void attrs_user(attrs *a, span *s) {
  if (a->opt->user_id && *a->opt->user_id) attrs_str(a, s, "user.id", a->opt->user_id);
  /* as Arize's own harness tracing does: AX requires the project on each span */
  if (a->opt->project_name && *a->opt->project_name)
    attrs_str(a, s, "arize.project.name", a->opt->project_name);
}

/* Replaces key's value (when present) with the OpenInference redaction marker. */
static void hide_value(attrs *a, span *s, const char *key) {
  if (span_get(s, key) && span_set_string(s, key, HIDDEN) != 0) a->out_of_memory = true;
}

/* The text inside the messages of one list (llm.input_messages or llm.output_messages). */
static void hide_message_text(attrs *a, span *s, const char *list) {
  size_t n = strlen(list);
  for (size_t i = 0; i < s->attrs.len; i++) {
    span_attr *at = &s->attrs.items[i];
    if (at->type != SPAN_ATTR_STRING || strncmp(at->key, list, n) != 0) continue;
    size_t k = strlen(at->key);
    bool content = (k >= 16 && strcmp(at->key + k - 16, ".message.content") == 0) ||
                   (k >= 21 && strcmp(at->key + k - 21, ".message_content.text") == 0);
    if (content && span_set_string(s, at->key, HIDDEN) != 0) a->out_of_memory = true;
  }
}

void attrs_hide(attrs *a, span *s) {
  const attrs_options *o = a->opt;
  /* as OpenInference's own masking does: the value becomes the marker, its mime type goes */
  if (o->hide_inputs) {
    hide_value(a, s, "input.value");
    span_attrs_remove_prefix(&s->attrs, "input.mime_type");
    span_attrs_remove_prefix(&s->attrs, "llm.input_messages.");
    span_attrs_remove_prefix(&s->attrs, "llm.tools."); /* the tools advertised to the model */
  }
  if (o->hide_llm_invocation_parameters)
    span_attrs_remove_prefix(&s->attrs, "llm.invocation_parameters");
  if (o->hide_outputs) {
    hide_value(a, s, "output.value");
    span_attrs_remove_prefix(&s->attrs, "output.mime_type");
    span_attrs_remove_prefix(&s->attrs, "llm.output_messages.");
  }
  if (o->hide_input_messages) span_attrs_remove_prefix(&s->attrs, "llm.input_messages.");
  if (o->hide_output_messages) span_attrs_remove_prefix(&s->attrs, "llm.output_messages.");
  if (o->hide_input_text) hide_message_text(a, s, "llm.input_messages.");
  if (o->hide_output_text) hide_message_text(a, s, "llm.output_messages.");
}

/* *value (owned) with its secrets redacted and cut to limit bytes with the visible marker. */
static void screen_owned(attrs *a, char **value, size_t limit, long *redactions) {
  if (!*value || was_screened(a, *value)) return;
  size_t len = strlen(*value);
  view v = prepare(a, *value, len, len, limit, redactions);
  if (!v.owned) return; /* unchanged (or out of memory) */
  free(*value);
  *value = v.owned;
}

/* Every string a span carries is scanned for secrets and stays within its limit, whatever field
 * of the snapshot it came from and whoever set it: names (a 1 MB model id), attributes, string
 * lists, status messages, events. */
static void bound_strings(attrs *a, span *s) {
  long n = 0;
  screen_owned(a, &s->name, MAX_NAME_BYTES, &n);
  screen_owned(a, &s->status_message, a->max_bytes, &n);
  for (size_t i = 0; i < s->attrs.len; i++) {
    span_attr *at = &s->attrs.items[i];
    if (at->type == SPAN_ATTR_STRING) screen_owned(a, &at->value.s, a->max_bytes, &n);
    if (at->type == SPAN_ATTR_STRING_LIST)
      for (size_t k = 0; k < at->value.list.n; k++)
        screen_owned(a, &at->value.list.items[k], a->max_bytes, &n);
  }
  for (size_t e = 0; e < s->n_events; e++) {
    screen_owned(a, &s->events[e].name, MAX_NAME_BYTES, &n);
    for (size_t i = 0; i < s->events[e].attrs.len; i++)
      if (s->events[e].attrs.items[i].type == SPAN_ATTR_STRING)
        screen_owned(a, &s->events[e].attrs.items[i].value.s, a->max_bytes, &n);
  }
  count_redactions(a, s, n);
}

/* A span is never bigger than a backend takes: while its strings together exceed
 * MAX_SPAN_TEXT_BYTES (a model call with hundreds of tool calls, each under the per-attribute
 * limit), the largest is cut in half, with the same visible marker. */
static void bound_span(attrs *a, span *s) {
  for (;;) {
    size_t total = 0, largest = 0;
    span_attr *big = NULL;
    for (size_t i = 0; i < s->attrs.len; i++) {
      span_attr *at = &s->attrs.items[i];
      if (at->type != SPAN_ATTR_STRING) continue;
      size_t n = strlen(at->value.s);
      total += n;
      if (n > largest) largest = n, big = at;
    }
    if (total <= MAX_SPAN_TEXT_BYTES || !big || largest < 256) return;
    char *value = big->value.s, *key = strdup(big->key);
    big->value.s = strdup(""); /* keep the slot valid while the cut copy is made */
    if (!key || !big->value.s) {
      free(key);
      free(value);
      a->out_of_memory = true;
      return;
    }
    size_t cut_len = 0;
    char *cut = cut_text(value, largest, largest, largest / 2, &cut_len);
    if (!cut || span_set_stringn(s, key, cut, cut_len) != 0) a->out_of_memory = true;
    free(cut);
    free(key);
    free(value);
    if (a->out_of_memory) return;
  }
}

void attrs_finish(attrs *a, span *s) {
  const attrs_options *o = a->opt;
  for (size_t i = 0; i < o->n_attributes; i++)
    if (!span_get(s, o->attribute_names[i]) &&
        span_set_string(s, o->attribute_names[i], o->attribute_values[i]) != 0)
      a->out_of_memory = true;
  bound_strings(a, s);
  bound_span(a, s);
  forget_screened(a);
}
