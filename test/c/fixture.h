/* fixture — OpenCode captures from ../shared/fixtures turned into reconcile payloads, and a
 * span collector for the emit callback. Header-only: test files include it once. */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile.h"
#include "spans.h"

#ifndef FIXTURES_DIR
#define FIXTURES_DIR "../../../shared/fixtures/opencode-1.18.33"
#endif

/* The payload the plugin would build from a capture ({session, messages, children?}), as JSON
 * text (malloc'd). type is "reconcile" or "close". */
static inline char *fixture_payload(const char *relative_path, const char *type) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, relative_path);
  json_error_t err;
  json_t *snap = json_load_file(path, 0, &err);
  if (!snap) {
    fprintf(stderr, "cannot read fixture %s: %s\n", path, err.text);
    return NULL;
  }
  json_t *session = json_object_get(snap, "session");
  json_t *payload =
      json_pack("{s:s, s:O, s:O}", "type", type, "sessionID", json_object_get(session, "id"),
                "messages", json_object_get(snap, "messages"));
  json_t *children = json_object_get(snap, "children"), *list = json_array();
  for (size_t i = 0; i < json_array_size(children); i++) {
    json_t *c = json_array_get(children, i), *info = json_object_get(c, "session");
    json_array_append_new(list,
                          json_pack("{s:O, s:O, s:O, s:O}", "sessionID", json_object_get(c, "id"),
                                    "parentSessionID", json_object_get(info, "parentID"), "info",
                                    info, "messages", json_object_get(c, "messages")));
  }
  json_object_set_new(payload, "childSessions", list);
  char *text = json_dumps(payload, JSON_COMPACT);
  json_decref(payload);
  json_decref(snap);
  return text;
}

typedef struct {
  span *items[512];
  size_t len;
  int refuse; /* when set, emit refuses spans (a full queue) */
} collected;

static inline int collect(void *ctx, span *s, const char *key) {
  (void)key;
  collected *c = ctx;
  if (c->refuse || c->len == sizeof c->items / sizeof c->items[0]) {
    span_free(s);
    return -1;
  }
  c->items[c->len++] = s;
  return 0;
}

static inline void collected_clear(collected *c) {
  for (size_t i = 0; i < c->len; i++) span_free(c->items[i]);
  c->len = 0;
}

static inline span *find_span(const collected *c, const char *name) {
  for (size_t i = 0; i < c->len; i++)
    if (strcmp(c->items[i]->name, name) == 0) return c->items[i];
  return NULL;
}

static inline size_t count_kind(const collected *c, const char *kind) {
  size_t n = 0;
  for (size_t i = 0; i < c->len; i++) {
    const span_attr *a = span_get(c->items[i], "openinference.span.kind");
    n += a && strcmp(a->value.s, kind) == 0;
  }
  return n;
}

static inline const char *attr_s(const span *s, const char *key) {
  const span_attr *a = s ? span_get(s, key) : NULL;
  return a && a->type == SPAN_ATTR_STRING ? a->value.s : NULL;
}

static inline long long attr_i(const span *s, const char *key) {
  const span_attr *a = s ? span_get(s, key) : NULL;
  return a && a->type == SPAN_ATTR_INT ? (long long)a->value.i : -999;
}

static inline int is_child_of(const span *child, const span *parent) {
  return child && parent && child->has_parent &&
         memcmp(child->parent_span_id, parent->span_id, 8) == 0 &&
         memcmp(child->trace_id, parent->trace_id, 16) == 0;
}

#endif
