/* payload — reading the plugin's payload into checked views (payload.h). */
#include "payload.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "log.h"
#include "platform.h"

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

int payload_reject(const payload_report *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, PAYLOAD_ERROR_MAX, fmt, ap);
  va_end(ap);
  return -1;
}

void payload_skip(const payload_report *r, const char *fmt, ...) {
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  log_warn("reconcile: %s; skipped it, the rest is traced", line);
  (*r->skipped)++;
}

int payload_load_messages(session_view *view, json_t *messages, const payload_report *r) {
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

bool payload_is_continuation(const message_view *m) {
  if (!payload_is_user(m)) return false;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *type = payload_str(p, "type");
    if (!type) continue;
    if (strcmp(type, "compaction") == 0 && json_is_true(json_object_get(p, "auto"))) return true;
    if (strcmp(type, "text") == 0 &&
        json_is_true(payload_path(p, "metadata", "compaction_continue")))
      return true;
  }
  return false;
}

const char *payload_compaction(const message_view *m) {
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *type = payload_str(p, "type");
    if (type && strcmp(type, "compaction") == 0)
      return json_is_true(json_object_get(p, "auto")) ? "auto" : "manual";
  }
  return NULL;
}

bool payload_is_summary(const message_view *m) {
  const char *mode = payload_str(m->info, "mode");
  return payload_is_assistant(m) && (json_is_true(json_object_get(m->info, "summary")) ||
                                     (mode && strcmp(mode, "compaction") == 0));
}

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
                          const payload_report *r) {
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
    char reason[PAYLOAD_ERROR_MAX + 16];
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

/* ------------------------------------------------------------------------------------------ */
/* Strings far over the attribute limit are cut before jansson reads them                      */
/*
 * jansson reads a string byte by byte (about 140 instructions a byte): a 50 MB tool output cost
 * seconds on OpenCode's thread, to be cut to the attribute limit afterwards. So before parsing,
 * each string literal much longer than what any attribute can show keeps its head (enough for
 * every attribute cut from it), a separator naming it, and its tail (where OpenCode writes the
 * marks read at the end, "User aborted the command"); what lies between is measured (bytes and
 * characters, as text and as JSON text) and never decoded. payload_measure gives any value
 * holding such a string its true size, so attributes and their markers are what the whole
 * string would give. The separator holds two NULs and a random tag of this parse: no text can
 * forge it. One payload at a time per thread (reconcile's). */

#define CUT_TAIL 4096 /* raw bytes kept at a cut string's end */

typedef struct {
  size_t bytes, chars;                 /* the middle, as text */
  size_t escaped_bytes, escaped_chars; /* the middle, as jansson writes it in JSON */
} cut_middle;

typedef struct {
  char tag[40]; /* the separator's name part: "OATCUT" + 16 hex here; lib's own for its cuts */
  cut_middle *cuts;
  size_t n, cap;
} cut_set;

/* [0]: strings cut here before parsing; [1]: strings lib cut before writing the JSON text (it
 * names them in the payload's "$cuts", payload_register_cuts). */
static _Thread_local cut_set cut_sets[2];
#define cut_ctx (cut_sets[0])

static void cuts_reset(void) {
  for (size_t i = 0; i < 2; i++) {
    free(cut_sets[i].cuts);
    memset(&cut_sets[i], 0, sizeof cut_sets[i]);
  }
}

static bool cut_add(cut_set *set, cut_middle m) {
  if (set->n == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 8;
    cut_middle *grown = realloc(set->cuts, cap * sizeof *grown);
    if (!grown) return false;
    set->cuts = grown, set->cap = cap;
  }
  set->cuts[set->n++] = m;
  return true;
}

void payload_register_cuts(const json_t *cuts) {
  const char *tag = payload_str(cuts, "tag");
  json_t *items = json_object_get(cuts, "items");
  if (!tag || strlen(tag) < 8 || strlen(tag) >= sizeof cut_sets[1].tag ||
      strspn(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != strlen(tag))
    return;
  snprintf(cut_sets[1].tag, sizeof cut_sets[1].tag, "%s", tag);
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *it = json_array_get(items, i);
    int64_t v[4];
    for (size_t k = 0; k < 4; k++) v[k] = payload_count_known(json_array_get(it, k));
    cut_middle m = {0};
    if (v[0] >= 0 && v[1] >= 0 && v[2] >= 0 && v[3] >= 0)
      m = (cut_middle){(size_t)v[0], (size_t)v[1], (size_t)v[2], (size_t)v[3]};
    if (!cut_add(&cut_sets[1], m)) break; /* an unknown middle counts as empty */
  }
}

void payload_release(void) { cuts_reset(); }

/* One decoded unit of a JSON string's raw content at raw[i]: how many raw bytes it spans, and
 * what it adds as text and as JSON text. */
static size_t unit_at(const char *raw, size_t i, size_t end, cut_middle *add) {
  unsigned char c = (unsigned char)raw[i];
  if (c != '\\') {
    bool lead = (c & 0xC0) != 0x80;
    add->bytes += 1, add->chars += lead, add->escaped_bytes += 1, add->escaped_chars += lead;
    return 1;
  }
  if (i + 1 >= end) return 1;
  char e = raw[i + 1];
  if (e != 'u') {
    char d = e == 'b'   ? '\b'
             : e == 'f' ? '\f'
             : e == 'n' ? '\n'
             : e == 'r' ? '\r'
             : e == 't' ? '\t'
                        : e;
    bool escaped = d == '"' || d == '\\' || (unsigned char)d < 0x20;
    add->bytes += 1, add->chars += 1;
    add->escaped_bytes += escaped ? 2 : 1, add->escaped_chars += escaped ? 2 : 1;
    return 2;
  }
  if (i + 6 > end) return end - i;
  unsigned cp =
      (unsigned)strtoul((char[5]){raw[i + 2], raw[i + 3], raw[i + 4], raw[i + 5], 0}, NULL, 16);
  size_t span = 6, bytes;
  if (cp >= 0xD800 && cp < 0xDC00 && i + 12 <= end && raw[i + 6] == '\\' && raw[i + 7] == 'u' &&
      (raw[i + 8] == 'd' || raw[i + 8] == 'D') && strchr("cdefCDEF", raw[i + 9]))
    span = 12, bytes = 4;                          /* a surrogate pair */
  else if (cp >= 0xD800 && cp < 0xE000) bytes = 3; /* lone: read as U+FFFD */
  else bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
  add->bytes += bytes, add->chars += 1;
  if (cp < 0x20) add->escaped_bytes += strchr("\b\f\n\r\t", (int)cp) && cp ? 2 : 6;
  else if (cp == '"' || cp == '\\') add->escaped_bytes += 2;
  else add->escaped_bytes += bytes;
  add->escaped_chars += cp < 0x20                 ? (strchr("\b\f\n\r\t", (int)cp) && cp ? 2 : 6)
                        : cp == '"' || cp == '\\' ? 2
                                                  : 1;
  return span;
}

/* How many bytes at p (at most n) are printable ASCII other than '\\', eight at a time: the
 * common case of a long output, measured without looking at each byte alone. */
static size_t plain_run(const char *p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v, x;
    memcpy(&v, p + i, 8);
    x = v ^ 0x5c5c5c5c5c5c5c5cULL; /* '\\' becomes 0 */
    uint64_t stop = (v & 0x8080808080808080ULL) |
                    ((v - 0x2020202020202020ULL) & ~v & 0x8080808080808080ULL) |
                    ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL);
    if (stop) break;
  }
  return i;
}

/* The end of the string literal whose content starts at raw[i] (the closing quote), or end. */
static size_t string_end(const char *raw, size_t i, size_t end) {
  for (;;) {
    const char *q = memchr(raw + i, '"', end - i);
    if (!q) return end;
    size_t at = (size_t)(q - raw), slashes = 0;
    while (at - slashes > i && raw[at - slashes - 1] == '\\') slashes++;
    if (slashes % 2 == 0) return at;
    i = at + 1;
  }
}

/* A copy of json with each string literal of more than min raw bytes cut (see above), keeping
 * keep decoded bytes of its head; NULL when none is that long (or no memory). */
static char *cut_long_strings(const char *json, size_t len, size_t keep, size_t min,
                              size_t *out_len) {
  char *out = NULL;
  size_t o = 0, copied = 0; /* json[0..copied) is in out */
  for (size_t i = 0; i < len;) {
    const char *q = memchr(json + i, '"', len - i);
    if (!q) break;
    size_t start = (size_t)(q - json) + 1, end = string_end(json, start, len);
    if (end - start > min) {
      cut_middle head = {0}, middle = {0};
      size_t at = start;
      while (at < end && head.bytes < keep) at += unit_at(json, at, end, &head);
      size_t head_end = at, tail_from = end - CUT_TAIL;
      while (at < end && at < tail_from) {
        size_t run = plain_run(json + at, tail_from - at);
        middle.bytes += run, middle.chars += run;
        middle.escaped_bytes += run, middle.escaped_chars += run;
        at += run;
        if (at < tail_from) at += unit_at(json, at, end, &middle);
      }
      while (at < end && ((unsigned char)json[at] & 0xC0) == 0x80) /* a whole character */
        at += unit_at(json, at, end, &middle);
      size_t tail_start = at;
      if (!out) {
        out = malloc(len + 1);
        if (!out) return NULL;
        unsigned char r[8] = {0};
        platform_random(r, sizeof r);
        snprintf(cut_ctx.tag, sizeof cut_ctx.tag, "OATCUT%02x%02x%02x%02x%02x%02x%02x%02x", r[0],
                 r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
      }
      char sep[64];
      int n = snprintf(sep, sizeof sep, "\\u0000%s:%zu\\u0000", cut_ctx.tag, cut_ctx.n);
      if (!cut_add(&cut_ctx, middle)) break; /* the rest is parsed whole */
      memcpy(out + o, json + copied, head_end - copied), o += head_end - copied;
      memcpy(out + o, sep, (size_t)n), o += (size_t)n; /* shorter than what it replaces */
      copied = tail_start;
    }
    i = end + 1;
  }
  if (!out) return NULL;
  memcpy(out + o, json + copied, len - copied), o += len - copied;
  out[o] = '\0';
  *out_len = o;
  return out;
}

void payload_measure(const char *value, size_t len, payload_form form, size_t *bytes,
                     size_t *chars) {
  size_t unwanted;
  bool count = chars != NULL;
  if (!count) chars = &unwanted;
  if (form == PAYLOAD_AS_JSON_STRING) attrs_json_escaped_size(value, len, bytes, chars);
  else {
    *bytes = len, *chars = 0;
    for (size_t i = 0; count && i < len; i++) *chars += ((unsigned char)value[i] & 0xC0) != 0x80;
  }
  for (size_t set = 0; set < 2; set++) {
    if (!cut_sets[set].n || len < 8) continue;
    /* each separator in value: its own size out, its middle's in */
    const char *tag = cut_sets[set].tag;
    size_t tag_len = strlen(tag);
    for (const char *p = value, *end = value + len;
         (p = memmem(p, (size_t)(end - p), tag, tag_len)); p += tag_len) {
      size_t k = strtoul(p + tag_len + 1, NULL, 10);
      if (k >= cut_sets[set].n || p[tag_len] != ':') continue;
      size_t digits = strspn(p + tag_len + 1, "0123456789");
      size_t sep_text = 1 + tag_len + 1 + digits + 1; /* as text: NUL tag:k NUL */
      const cut_middle *m = &cut_sets[set].cuts[k];
      if (form == PAYLOAD_AS_TEXT) {
        *bytes += m->bytes - sep_text, *chars += m->chars - sep_text;
      } else { /* as JSON, the NULs are written \u0000 */
        *bytes += m->escaped_bytes - (sep_text + 10), *chars += m->escaped_chars - (sep_text + 10);
      }
    }
  }
}

json_t *payload_parse(const char *json, size_t len, size_t keep, char *error, size_t error_size,
                      size_t *nulled) {
  json_error_t jerr;
  *nulled = 0;
  cuts_reset();
  size_t cut_len = 0,
         min = keep * 2 + 2 * CUT_TAIL > (1u << 20) ? keep * 2 + 2 * CUT_TAIL : (1u << 20);
  char *cut = cut_long_strings(json, len, keep, min, &cut_len);
  if (cut) json = cut, len = cut_len;
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
               "null (counted in numbers_unreadable); an item that needs one as a number is "
               "skipped with its own line",
               overflowing);
      *nulled = overflowing;
      text = renumbered;
    } else {
      break;
    }
    payload = json_loadb(text, len, flags, &jerr);
  }
  free(repaired);
  free(renumbered);
  free(cut);
  if (!payload) {
    /* jansson quotes the text near the error: content, which must not reach the log */
    char *near = strstr(jerr.text, " near ");
    if (near) *near = '\0';
    snprintf(error, error_size, "payload is not JSON: line %d column %d: %s", jerr.line,
             jerr.column, jerr.text);
  }
  return payload;
}
