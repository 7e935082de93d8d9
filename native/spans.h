/* spans — the span model: ids, times, attributes, events, status.
 *
 * A span here is plain data with no I/O. reconcile builds spans, otlp encodes them.
 * Every string stored in a span is owned by the span (copied on set) and freed by
 * span_free(). Setters return 0 on success and -1 when out of memory.
 */
#ifndef SPANS_H
#define SPANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  SPAN_STATUS_UNSET = 0,
  SPAN_STATUS_OK = 1,
  SPAN_STATUS_ERROR = 2,
} span_status;

typedef enum {
  SPAN_ATTR_STRING,
  SPAN_ATTR_INT,
  SPAN_ATTR_DOUBLE,
  SPAN_ATTR_BOOL,
  SPAN_ATTR_STRING_LIST, /* e.g. tag.tags */
} span_attr_type;

typedef struct {
  char *key;
  span_attr_type type;
  union {
    char *s; /* owned, NUL-terminated, valid UTF-8 */
    int64_t i;
    double d;
    bool b;
    struct {
      char **items; /* owned, each valid UTF-8 */
      size_t n;
    } list;
  } value;
} span_attr;

typedef struct {
  span_attr *items;
  size_t len, cap;
  /* Past a few attributes, a key is found through this index (open addressing on the key's
   * hash, item index + 1, 0 free; n_slots a power of two, at least twice len), built on first
   * need and kept by the setters; NULL below that. Owned; span_attrs_clear frees it. A zeroed
   * span_attrs is an empty list. */
  uint32_t *slots;
  size_t n_slots;
} span_attrs;

typedef struct {
  char *name;
  uint64_t time_ns;
  span_attrs attrs;
} span_event;

typedef struct {
  uint8_t trace_id[16];
  uint8_t span_id[8];
  uint8_t parent_span_id[8];
  bool has_parent;
  char *name;
  uint64_t start_ns, end_ns; /* unix epoch nanoseconds */
  span_status status;
  char *status_message; /* NULL or owned */
  span_attrs attrs;
  span_event *events;
  size_t n_events, events_cap;
} span;

/* A new span with the given name (copied), or NULL when out of memory. */
span *span_new(const char *name);
void span_free(span *s);

/* Attribute setters replace an existing value of the same key. Strings are copied;
 * invalid UTF-8 is replaced with U+FFFD so an encoder never sees it. */
int span_set_string(span *s, const char *key, const char *value);
int span_set_stringn(span *s, const char *key, const char *value, size_t len);
int span_set_int(span *s, const char *key, int64_t value);
int span_set_double(span *s, const char *key, double value);
int span_set_bool(span *s, const char *key, bool value);
int span_set_string_list(span *s, const char *key, const char *const *items, size_t n);
int span_set_status(span *s, span_status status, const char *message);

/* Appends an event and returns it (owned by the span), or NULL when out of memory. */
span_event *span_add_event(span *s, const char *name, uint64_t time_ns);
int span_event_set_string(span_event *e, const char *key, const char *value);
int span_event_set_int(span_event *e, const char *key, int64_t value);

/* The attribute with this key, or NULL. */
const span_attr *span_get(const span *s, const char *key);
const span_attr *span_attrs_get(const span_attrs *a, const char *key);

/* The same attribute helpers on a bare list (events, resources). */
int span_attrs_set_string(span_attrs *a, const char *key, const char *value, size_t len);

/* Removes every attribute whose key starts with prefix; returns how many. */
size_t span_attrs_remove_prefix(span_attrs *a, const char *prefix);
void span_attrs_clear(span_attrs *a);

/* Lowercase hex of an id: out must hold 2*len+1 bytes. */
void span_hex(const uint8_t *id, size_t len, char *out);

#endif
