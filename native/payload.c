/* payload — reading the plugin's payload into checked views (payload.h). */
#include "payload.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

const char *payload_str(const json_t *obj, const char *key) {
  const json_t *v = json_object_get(obj, key);
  const char *s = json_string_value(v);
  return s && strlen(s) == json_string_length(v) ? s : NULL;
}

const char *payload_text(const json_t *obj, const char *key, size_t *len) {
  const json_t *v = json_object_get(obj, key);
  *len = json_string_length(v);
  return json_string_value(v);
}

json_t *payload_path(json_t *obj, const char *a, const char *b) {
  return json_object_get(json_object_get(obj, a), b);
}

int64_t payload_ms(const json_t *v) {
  double d;
  if (json_is_integer(v)) d = (double)json_integer_value(v);
  else if (json_is_real(v)) d = json_real_value(v);
  else return -1;
  if (isnan(d) || d < (double)PAYLOAD_MIN_MS) return PAYLOAD_MIN_MS;
  if (d > (double)PAYLOAD_MAX_MS) return PAYLOAD_MAX_MS;
  return (int64_t)d;
}

#define MAX_COUNT 1000000000000LL /* a trillion tokens: beyond it, sums could overflow */

int64_t payload_count_known(const json_t *v) {
  if (!v) return 0;
  double d = json_is_integer(v) ? (double)json_integer_value(v)
             : json_is_real(v)  ? json_real_value(v)
                                : -1;
  if (!isfinite(d) || d < 0) return -1;
  return d > (double)MAX_COUNT ? MAX_COUNT : (int64_t)d;
}

int64_t payload_count(const json_t *v) {
  int64_t n = payload_count_known(v);
  return n < 0 ? 0 : n;
}

int payload_cost(const json_t *v, double *out) {
  *out = 0;
  if (!v) return 0;
  double d = json_is_number(v) ? json_number_value(v) : -1;
  if (!isfinite(d) || d < 0 || d > 1e9) return -1;
  *out = d;
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Validation (pass one)                                                                       */

bool payload_id_ok(const char *id) {
  if (!id || !*id) return false;
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++, n++)
    if (*p < 0x20 || *p == 0x7f || n >= PAYLOAD_ID_MAX) return false;
  return true;
}

int payload_reject(reconcile_result *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  return -1;
}

void payload_skip(reconcile_result *r, const char *fmt, ...) {
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  log_warn("reconcile: %s; skipped it, the rest is traced", line);
  r->items_skipped++;
}

int payload_load_messages(session_view *view, json_t *messages, reconcile_result *r) {
  if (!json_is_array(messages))
    return payload_reject(r, "session %s: messages is not an array", view->id);
  size_t n = json_array_size(messages);
  view->messages = calloc(n ? n : 1, sizeof *view->messages);
  if (!view->messages) return payload_reject(r, "out of memory");
  for (size_t i = 0; i < n; i++) {
    json_t *m = json_array_get(messages, i);
    json_t *info = json_object_get(m, "info");
    json_t *parts = json_object_get(m, "parts");
    message_view *mv = &view->messages[view->n_messages];
    if (!json_is_object(info)) {
      payload_skip(r, "session %s: message %zu has no info object", view->id, i);
      continue;
    }
    const char *id = payload_str(info, "id"), *owner = payload_str(info, "sessionID"),
               *role = payload_str(info, "role");
    if (!payload_id_ok(id)) {
      payload_skip(r, "session %s: message %zu has no valid id", view->id, i);
      continue;
    }
    /* present but not this session's id (another id, or one with a NUL inside): foreign */
    if (json_object_get(info, "sessionID") && (!owner || strcmp(owner, view->id) != 0))
      return payload_reject(r, "message %s belongs to another session, not %s", id, view->id);
    if (!owner || !role) {
      payload_skip(r, "session %s: message %s has no %s", view->id, id,
                   owner ? "role" : "session id");
      continue;
    }
    if (parts && !json_is_array(parts)) {
      payload_skip(r, "session %s: message %s: its parts are not a list", view->id, id);
      parts = NULL;
    }
    mv->info = info;
    mv->id = id;
    mv->role = role;
    mv->parent_id = payload_str(info, "parentID");
    mv->parts = parts;
    for (size_t j = 0, k = 0; j < json_array_size(parts); k++) {
      json_t *p = json_array_get(parts, j);
      const char *ps = payload_str(p, "sessionID"), *pm = payload_str(p, "messageID");
      const char *why = !json_is_object(p)                ? "is not an object"
                        : ps && strcmp(ps, view->id) != 0 ? "names another session"
                        : pm && strcmp(pm, id) != 0       ? "names another message"
                                                          : NULL;
      if (!why) {
        j++;
        continue;
      }
      payload_skip(r, "session %s: message %s: part %zu %s", view->id, id, k, why);
      json_array_remove(parts, j);
    }
    view->n_messages++;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading OpenCode messages                                                                   */

void payload_parts_text(const message_view *m, const char *type, text *out) {
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    size_t n;
    const char *t = payload_str(p, "type"), *s = payload_text(p, "text", &n);
    if (!t || strcmp(t, type) != 0 || !s || n == 0) continue;
    if (json_is_true(json_object_get(p, "synthetic")) ||
        json_is_true(json_object_get(p, "ignored")))
      continue;
    if (out->len) text_add(out, "\n\n", 2);
    text_add(out, s, n);
  }
}

bool payload_is_assistant(const message_view *m) { return strcmp(m->role, "assistant") == 0; }
bool payload_is_user(const message_view *m) { return strcmp(m->role, "user") == 0; }

bool payload_finished(const message_view *m) {
  return payload_ms(payload_path(m->info, "time", "completed")) >= 0 ||
         json_object_get(m->info, "error");
}

bool payload_answered(const message_view *m) {
  size_t n = json_array_size(m->parts);
  const char *last = n ? payload_str(json_array_get(m->parts, n - 1), "type") : NULL;
  return payload_str(m->info, "finish") && last && strcmp(last, "step-finish") == 0;
}

json_t *payload_error(const message_view *m) {
  json_t *error = json_object_get(m->info, "error");
  const char *name = error ? payload_str(error, "name") : NULL;
  if (name && strcmp(name, "MessageAbortedError") == 0 && payload_answered(m)) return NULL;
  return error;
}

int64_t payload_message_last_ms(const message_view *m) {
  int64_t t = payload_ms(payload_path(m->info, "time", "completed"));
  /* an abort stamped on an answer stored whole completes it at the quit, not at the answer */
  if (t >= 0 && (json_object_get(m->info, "error") == NULL || payload_error(m) != NULL)) return t;
  t = payload_ms(payload_path(m->info, "time", "created"));
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    json_t *time = json_object_get(p, "time");
    if (!time) time = payload_path(p, "state", "time");
    int64_t a = payload_ms(json_object_get(time, "start")),
            b = payload_ms(json_object_get(time, "end"));
    if (a > t) t = a;
    if (b > t) t = b;
  }
  return t;
}

int64_t payload_session_last_ms(const session_view *sv) {
  int64_t t = -1;
  for (size_t i = 0; i < sv->n_messages; i++) {
    int64_t m = payload_message_last_ms(&sv->messages[i]);
    if (m > t) t = m;
  }
  return t;
}

int payload_load_children(json_t *list, const char *root_id, session_view **out, size_t *n_out,
                          reconcile_result *r) {
  *out = NULL, *n_out = 0;
  if (!list || json_is_null(list)) return 0;
  if (!json_is_array(list)) {
    payload_skip(r, "session %s: childSessions is not a list", root_id);
    return 0;
  }
  size_t n = json_array_size(list);
  session_view *children = calloc(n ? n : 1, sizeof *children);
  if (!children) return payload_reject(r, "out of memory");
  *out = children;
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(list, i);
    session_view *child = &children[*n_out];
    child->id = payload_str(c, "sessionID");
    child->parent_session_id = payload_str(c, "parentSessionID");
    child->parent_call_id = payload_str(c, "parentCallID");
    child->info = json_object_get(c, "info");
    const char *info_id = payload_str(child->info, "id");
    const char *why =
        !json_is_object(c) || !payload_id_ok(child->id) ? "has no valid sessionID"
        : !payload_id_ok(child->parent_session_id)      ? "has no valid parentSessionID"
        : strcmp(child->id, root_id) == 0 || strcmp(child->id, child->parent_session_id) == 0
            ? "names itself as its own child or parent"
        : child->info && !json_is_object(child->info) ? "has an info that is not an object"
        : info_id && strcmp(info_id, child->id) != 0  ? "has an info that describes another session"
                                                      : NULL;
    bool duplicate = false;
    for (size_t k = 0; !why && k < *n_out; k++) duplicate |= strcmp(children[k].id, child->id) == 0;
    char reason[sizeof r->error + 16];
    if (!why && !duplicate &&
        payload_load_messages(child, json_object_get(c, "messages"), r) != 0) {
      if (strcmp(r->error, "out of memory") == 0) return -1;
      snprintf(reason, sizeof reason, "is unusable: %s", r->error); /* ids only */
      why = reason;
      r->error[0] = '\0';
    }
    if (why) {
      if (payload_id_ok(child->id))
        payload_skip(r, "session %s: child session %s (childSessions[%zu]) %s", root_id, child->id,
                     i, why);
      else payload_skip(r, "session %s: childSessions[%zu] %s", root_id, i, why);
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
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
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

json_t *payload_parse(const char *json, size_t len, char *error, size_t error_size) {
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
               "null: the items holding them are skipped",
               overflowing);
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
    snprintf(error, error_size, "payload is not JSON: line %d column %d: %s", jerr.line,
             jerr.column, jerr.text);
  }
  return payload;
}
