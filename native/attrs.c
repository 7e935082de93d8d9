/* attrs — the attribute policy (attrs.h): redaction by class, size limits, OPENINFERENCE_HIDE_*,
 * custom attributes. Every redaction marker is written here and nowhere else. */
#include "attrs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    [ATTR_LLM_INPUT_PROMPT] = {"llm.input_messages.0.message.content", ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_INPUT_TOOL_RESULT] = {"llm.input_messages.%zu.message.content", ATTRS_TOOL_CONTENT,
                                    SHAPE_TEXT},
    [ATTR_LLM_INPUT_TOOL_RESULTS] = {"input.value", ATTRS_PUBLIC, SHAPE_JSON_VALUE},
    [ATTR_LLM_OUTPUT_CONTENT] = {"llm.output_messages.0.message.content", ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_OUTPUT_PART] = {"llm.output_messages.0.message.contents.%zu.message_content.text",
                              ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_LLM_TOOL_CALL_ARGUMENTS] =
        {"llm.output_messages.0.message.tool_calls.%zu.tool_call.function.arguments",
         ATTRS_TOOL_DETAILS, SHAPE_JSON},
    [ATTR_TOOL_INPUT] = {"input.value", ATTRS_TOOL_ARGUMENTS, SHAPE_JSON_VALUE},
    [ATTR_TOOL_PARAMETERS] = {"tool.parameters", ATTRS_TOOL_ARGUMENTS, SHAPE_JSON},
    [ATTR_TOOL_COMMAND] = {"tool.command", ATTRS_TOOL_DETAILS, SHAPE_TEXT},
    [ATTR_TOOL_FILE_PATH] = {"tool.file_path", ATTRS_TOOL_DETAILS, SHAPE_TEXT},
    [ATTR_TOOL_QUERY] = {"tool.query", ATTRS_TOOL_DETAILS, SHAPE_TEXT},
    [ATTR_TOOL_URL] = {"tool.url", ATTRS_TOOL_DETAILS, SHAPE_TEXT},
    [ATTR_TOOL_DESCRIPTION] = {"tool.description", ATTRS_TOOL_DETAILS, SHAPE_TEXT},
    [ATTR_TOOL_OUTPUT] = {"output.value", ATTRS_TOOL_CONTENT, SHAPE_TEXT},
    [ATTR_LLM_INVOCATION_PARAMETERS] = {"llm.invocation_parameters", ATTRS_PUBLIC, SHAPE_JSON},
    [ATTR_LLM_TOOL_SCHEMA] = {"llm.tools.%zu.tool.json_schema", ATTRS_PUBLIC, SHAPE_JSON},
    [ATTR_TURN_COMMAND_ARGUMENTS] = {"opencode.turn.command.arguments", ATTRS_PROMPT, SHAPE_TEXT},
    [ATTR_TURN_FILES] = {"opencode.turn.files", ATTRS_TOOL_DETAILS, SHAPE_JSON},
    [ATTR_TURN_TODOS] = {"opencode.turn.todos", ATTRS_PROMPT, SHAPE_JSON},
    [ATTR_TOOL_DEFINITION] = {"tool.description", ATTRS_PUBLIC, SHAPE_TEXT},
};

void attrs_init(attrs *a, const attrs_options *opt) {
  a->opt = opt;
  a->max_bytes = opt->max_attr_bytes ? opt->max_attr_bytes : DEFAULT_MAX_ATTR_BYTES;
  a->out_of_memory = false;
  a->measure = NULL;
}

bool attrs_hidden(const attrs *a, attrs_class c) {
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
  else *bytes = len, *chars = utf8_chars(value, len);
}

/* The text marker for a redacted value: says how much was left out, never what. */
static void redacted_marker(char *out, size_t size, size_t chars) {
  snprintf(out, size, "<redacted (%zu chars)>", chars);
}

/* Sets key to the first bytes of value that fit in limit (whole characters), followed by a
 * visible marker saying how much was cut. */
static void set_cut(attrs *a, span *s, const char *key, const char *value, size_t len,
                    size_t limit) {
  char marker[96];
  int m = snprintf(marker, sizeof marker, "…[truncated: %zu of %zu bytes shown]", len, len);
  size_t keep = limit > (size_t)m ? limit - (size_t)m : 0;
  if (keep > len) keep = len;
  while (keep > 0 && ((unsigned char)value[keep] & 0xC0) == 0x80) keep--; /* whole characters */
  snprintf(marker, sizeof marker, "…[truncated: %zu of %zu bytes shown]", keep, len);
  text t = {0};
  text_add(&t, value, keep);
  text_add(&t, marker, strlen(marker));
  if (t.failed || span_set_stringn(s, key, text_str(&t), t.len) != 0) a->out_of_memory = true;
  free(t.data);
}

/* Sets key to value, or to "<redacted (N chars)>" when redact, cut to the size limit (json:
 * value is JSON text, for its true size). */
static void set_text(attrs *a, span *s, const char *key, const char *value, size_t len, bool redact,
                     bool json) {
  char marker[96];
  size_t full, chars;
  true_size(a, value, len, json, &full, &chars);
  if (redact) {
    redacted_marker(marker, sizeof marker, chars);
    if (span_set_string(s, key, marker) != 0) a->out_of_memory = true;
  } else if (full <= a->max_bytes) {
    if (span_set_stringn(s, key, value, len) != 0) a->out_of_memory = true;
  } else {
    set_cut(a, s, key, value, full, a->max_bytes); /* reads the first max_bytes only */
  }
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
 * reader that parses the attribute never meets plain text there. */
static void set_json_text(attrs *a, span *s, const char *key, const char *json, bool redact) {
  size_t len = strlen(json), full, chars;
  true_size(a, json, len, true, &full, &chars);
  if (redact || full > a->max_bytes) set_json_marker(a, s, key, full, chars, redact);
  else set_text(a, s, key, json, len, false, true);
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
    snprintf(marker, sizeof marker, "<redacted (%zu chars)>", full_chars);
    if (span_set_string(s, name, marker) != 0) a->out_of_memory = true;
  } else {
    set_cut(a, s, name, value, full_len, a->max_bytes); /* reads the first max_bytes only */
  }
  if (keys[key].shape == SHAPE_JSON_VALUE) attrs_str(a, s, "input.mime_type", "text/plain");
}

/* input.value holding JSON text, with its mime type: application/json only while the value is
 * that JSON; a redaction marker or a cut value is text/plain. */
static void set_json_value(attrs *a, span *s, const char *key, const char *json, bool redact) {
  size_t len = strlen(json), full, chars;
  true_size(a, json, len, true, &full, &chars);
  set_text(a, s, key, json, len, redact, true);
  attrs_str(a, s, "input.mime_type",
            redact || full > a->max_bytes ? "text/plain" : "application/json");
}

void attrs_set_nth(attrs *a, span *s, attrs_key key, size_t n, const char *value, size_t len) {
  char name[128];
  snprintf(name, sizeof name, keys[key].name, n);
  bool redact = attrs_hidden(a, keys[key].class);
  switch (keys[key].shape) {
  case SHAPE_TEXT: set_text(a, s, name, value, len, redact, false); break;
  case SHAPE_JSON: set_json_text(a, s, name, value, redact); break;
  case SHAPE_JSON_VALUE: set_json_value(a, s, name, value, redact); break;
  }
}

void attrs_set(attrs *a, span *s, attrs_key key, const char *value, size_t len) {
  attrs_set_nth(a, s, key, 0, value, len);
}

const char *attrs_embedded(const attrs *a, attrs_class c, const char *value) {
  return attrs_hidden(a, c) ? "<redacted>" : value;
}

void attrs_set_error(attrs *a, span *s, attrs_class c, const char *message, size_t len) {
  char marker[64];
  size_t full, chars;
  true_size(a, message, len, false, &full, &chars);
  if (attrs_hidden(a, c)) redacted_marker(marker, sizeof marker, chars);
  if (span_set_status(s, SPAN_STATUS_ERROR, attrs_hidden(a, c) ? marker : message) != 0)
    a->out_of_memory = true;
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

/* Cuts *value (owned) to limit bytes with the visible marker, when longer. */
static void cap_owned(attrs *a, char **value, size_t limit) {
  size_t len = *value ? strlen(*value) : 0;
  if (len <= limit) return;
  span *tmp = span_new("");
  if (!tmp) {
    a->out_of_memory = true;
    return;
  }
  set_cut(a, tmp, "v", *value, len, limit);
  const span_attr *cut = span_get(tmp, "v");
  char *copy = cut ? strdup(cut->value.s) : NULL;
  if (copy) {
    free(*value);
    *value = copy;
  } else {
    a->out_of_memory = true;
  }
  span_free(tmp);
}

/* Every string a span carries stays within the attribute limit, whatever field of the
 * snapshot it came from: names (a 1 MB model id), status messages, event attributes. */
static void bound_strings(attrs *a, span *s) {
  cap_owned(a, &s->name, MAX_NAME_BYTES);
  cap_owned(a, &s->status_message, a->max_bytes);
  for (size_t i = 0; i < s->attrs.len; i++)
    if (s->attrs.items[i].type == SPAN_ATTR_STRING)
      cap_owned(a, &s->attrs.items[i].value.s, a->max_bytes);
  for (size_t e = 0; e < s->n_events; e++) {
    cap_owned(a, &s->events[e].name, MAX_NAME_BYTES);
    for (size_t i = 0; i < s->events[e].attrs.len; i++)
      if (s->events[e].attrs.items[i].type == SPAN_ATTR_STRING)
        cap_owned(a, &s->events[e].attrs.items[i].value.s, a->max_bytes);
  }
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
    set_cut(a, s, key, value, largest, largest / 2);
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
}
