/* spans — the span model. Plain data, no I/O; see spans.h for ownership rules. */
#include "spans.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence starting at p (at most n bytes), or 0 if invalid.
 * Rejects overlongs, surrogates and code points past U+10FFFF, as the encoders'
 * consumers (protobuf string fields) require. */
static size_t utf8_sequence(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned int cp;
  if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

/* How many leading bytes of p[0..n) are valid UTF-8 without a NUL byte. ASCII, the common
 * case, is checked eight bytes at a time. */
static size_t utf8_valid_prefix(const unsigned char *p, size_t n) {
  const uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
  size_t i = 0;
  while (i < n) {
    for (uint64_t w; i + 8 <= n; i += 8) {
      memcpy(&w, p + i, 8);
      if ((w & high) || ((w - ones) & ~w & high)) break; /* a non-ASCII or a NUL byte */
    }
    if (i >= n) break;
    size_t k = p[i] ? utf8_sequence(p + i, n - i) : 0;
    if (!k) break;
    i += k;
  }
  return i;
}

/* A NUL-terminated copy of value[0..len) that is valid UTF-8: invalid bytes and NUL
 * bytes (which a C string cannot carry) become U+FFFD. NULL when out of memory. */
static char *utf8_copy(const char *value, size_t len) {
  const unsigned char *p = (const unsigned char *)value;
  size_t valid = utf8_valid_prefix(p, len);
  size_t out_len = valid;
  for (size_t i = valid; i < len;) {
    size_t n = p[i] ? utf8_sequence(p + i, len - i) : 0;
    out_len += n ? n : 3;
    i += n ? n : 1;
  }
  char *out = malloc(out_len + 1), *o = out;
  if (!out) return NULL;
  memcpy(o, p, valid);
  o += valid;
  for (size_t i = valid; i < len;) {
    size_t n = p[i] ? utf8_sequence(p + i, len - i) : 0;
    if (n) {
      memcpy(o, p + i, n);
      o += n, i += n;
    } else {
      memcpy(o, "\xEF\xBF\xBD", 3);
      o += 3, i += 1;
    }
  }
  *o = '\0';
  return out;
}

/* Frees what the attribute's value owns (not its key). */
static void value_release(span_attr *a) {
  if (a->type == SPAN_ATTR_STRING) free(a->value.s);
  if (a->type == SPAN_ATTR_STRING_LIST) {
    for (size_t i = 0; i < a->value.list.n; i++) free(a->value.list.items[i]);
    free(a->value.list.items);
  }
}

static void attr_release(span_attr *a) {
  free(a->key);
  value_release(a);
}

void span_attrs_clear(span_attrs *a) {
  for (size_t i = 0; i < a->len; i++) attr_release(&a->items[i]);
  free(a->items);
  free(a->slots);
  *a = (span_attrs){0};
}

/* ---- Finding a key ----
 * A span carries up to hundreds of attributes (a model call's input messages, one key per
 * field of each), and every setter looks its key up first: a linear scan made building such
 * a span quadratic. Up to INDEX_FROM attributes the scan stays (as fast as a hash there);
 * past it, an index of the items by key hash. */
#define INDEX_FROM 12

static uint32_t key_hash(const char *key) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 16777619u;
  return h;
}

static void index_put(span_attrs *a, size_t item) {
  size_t mask = a->n_slots - 1;
  for (size_t i = key_hash(a->items[item].key) & mask;; i = (i + 1) & mask)
    if (!a->slots[i]) {
      a->slots[i] = (uint32_t)(item + 1);
      return;
    }
}

/* (Re)builds the index for at least `len` items; false when out of memory (then none: the
 * scan serves, a slower answer but the same). */
static bool index_build(span_attrs *a, size_t len) {
  size_t n = 64;
  while (n < 2 * len) n *= 2;
  uint32_t *slots = calloc(n, sizeof *slots);
  free(a->slots);
  a->slots = slots, a->n_slots = slots ? n : 0;
  if (!slots) return false;
  for (size_t i = 0; i < a->len; i++) index_put(a, i);
  return true;
}

size_t span_attrs_remove_prefix(span_attrs *a, const char *prefix) {
  size_t kept = 0, n = strlen(prefix);
  for (size_t i = 0; i < a->len; i++) {
    if (strncmp(a->items[i].key, prefix, n) == 0) attr_release(&a->items[i]);
    else a->items[kept++] = a->items[i];
  }
  size_t removed = a->len - kept;
  a->len = kept;
  if (removed && a->slots) {
    free(a->slots); /* the items moved: built again on the next lookup that needs it */
    a->slots = NULL, a->n_slots = 0;
  }
  return removed;
}

/* The item with this key, or NULL; build: make the index when it is missing and would serve. */
static span_attr *attrs_find(span_attrs *a, const char *key, bool build) {
  if (a->len > INDEX_FROM && (a->slots || (build && index_build(a, a->len)))) {
    size_t mask = a->n_slots - 1;
    for (size_t i = key_hash(key) & mask; a->slots[i]; i = (i + 1) & mask)
      if (strcmp(a->items[a->slots[i] - 1].key, key) == 0) return &a->items[a->slots[i] - 1];
    return NULL;
  }
  for (size_t i = 0; i < a->len; i++)
    if (strcmp(a->items[i].key, key) == 0) return &a->items[i];
  return NULL;
}

const span_attr *span_attrs_get(const span_attrs *a, const char *key) {
  /* a reader changes nothing (the index is made by the setters) */
  return attrs_find((span_attrs *)a, key, false);
}

/* The slot for key: the existing one (its old value released) or a new one appended.
 * NULL when out of memory. */
static span_attr *attrs_slot(span_attrs *a, const char *key) {
  /* Keys may come off the wire (otlp_decode_span): compare them as they will be stored, so
   * two keys that differ only in invalid bytes are one attribute. Ours are valid: looked up as
   * they are, copied only when new. */
  size_t klen = strlen(key);
  char *k = NULL;
  if (utf8_valid_prefix((const unsigned char *)key, klen) != klen) {
    k = utf8_copy(key, klen);
    if (!k) return NULL;
  }
  span_attr *existing = attrs_find(a, k ? k : key, true);
  if (existing) {
    free(k);
    value_release(existing);
    existing->type = SPAN_ATTR_INT;
    existing->value.i = 0;
    return existing;
  }
  if (!k) {
    k = malloc(klen + 1);
    if (!k) return NULL;
    memcpy(k, key, klen + 1);
  }
  if (a->len == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    span_attr *items = realloc(a->items, cap * sizeof *items);
    if (!items) {
      free(k);
      return NULL;
    }
    a->items = items, a->cap = cap;
  }
  span_attr *slot = &a->items[a->len++];
  slot->key = k;
  slot->type = SPAN_ATTR_INT;
  slot->value.i = 0;
  if (a->slots) {
    if (2 * a->len > a->n_slots) index_build(a, a->len);
    else index_put(a, a->len - 1);
  }
  return slot;
}

int span_attrs_set_string(span_attrs *a, const char *key, const char *value, size_t len) {
  char *copy = utf8_copy(value, len);
  if (!copy) return -1;
  span_attr *slot = attrs_slot(a, key);
  if (!slot) {
    free(copy);
    return -1;
  }
  slot->type = SPAN_ATTR_STRING;
  slot->value.s = copy;
  return 0;
}

span *span_new(const char *name) {
  span *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->name = utf8_copy(name, strlen(name));
  if (!s->name) {
    free(s);
    return NULL;
  }
  return s;
}

void span_free(span *s) {
  if (!s) return;
  free(s->name);
  free(s->status_message);
  span_attrs_clear(&s->attrs);
  for (size_t i = 0; i < s->n_events; i++) {
    free(s->events[i].name);
    span_attrs_clear(&s->events[i].attrs);
  }
  free(s->events);
  free(s);
}

int span_set_stringn(span *s, const char *key, const char *value, size_t len) {
  return span_attrs_set_string(&s->attrs, key, value, len);
}

int span_set_string(span *s, const char *key, const char *value) {
  return span_set_stringn(s, key, value, strlen(value));
}

int span_set_int(span *s, const char *key, int64_t value) {
  span_attr *slot = attrs_slot(&s->attrs, key);
  if (!slot) return -1;
  slot->type = SPAN_ATTR_INT;
  slot->value.i = value;
  return 0;
}

int span_set_double(span *s, const char *key, double value) {
  span_attr *slot = attrs_slot(&s->attrs, key);
  if (!slot) return -1;
  slot->type = SPAN_ATTR_DOUBLE;
  slot->value.d = value;
  return 0;
}

int span_set_bool(span *s, const char *key, bool value) {
  span_attr *slot = attrs_slot(&s->attrs, key);
  if (!slot) return -1;
  slot->type = SPAN_ATTR_BOOL;
  slot->value.b = value;
  return 0;
}

int span_set_string_list(span *s, const char *key, const char *const *items, size_t n) {
  char **copy = calloc(n ? n : 1, sizeof *copy);
  bool ok = copy != NULL;
  for (size_t i = 0; ok && i < n; i++)
    ok = (copy[i] = utf8_copy(items[i], strlen(items[i]))) != NULL;
  span_attr *slot = ok ? attrs_slot(&s->attrs, key) : NULL;
  if (!slot) {
    for (size_t i = 0; copy && i < n; i++) free(copy[i]);
    free(copy);
    return -1;
  }
  slot->type = SPAN_ATTR_STRING_LIST;
  slot->value.list.items = copy;
  slot->value.list.n = n;
  return 0;
}

int span_set_status(span *s, span_status status, const char *message) {
  char *copy = NULL;
  if (message && !(copy = utf8_copy(message, strlen(message)))) return -1;
  free(s->status_message);
  s->status = status;
  s->status_message = copy;
  return 0;
}

span_event *span_add_event(span *s, const char *name, uint64_t time_ns) {
  if (s->n_events == s->events_cap) {
    size_t cap = s->events_cap ? s->events_cap * 2 : 2;
    span_event *events = realloc(s->events, cap * sizeof *events);
    if (!events) return NULL;
    s->events = events, s->events_cap = cap;
  }
  char *copy = utf8_copy(name, strlen(name));
  if (!copy) return NULL;
  span_event *e = &s->events[s->n_events++];
  memset(e, 0, sizeof *e);
  e->name = copy;
  e->time_ns = time_ns;
  return e;
}

int span_event_set_string(span_event *e, const char *key, const char *value) {
  return span_attrs_set_string(&e->attrs, key, value, strlen(value));
}

int span_event_set_int(span_event *e, const char *key, int64_t value) {
  span_attr *slot = attrs_slot(&e->attrs, key);
  if (!slot) return -1;
  slot->type = SPAN_ATTR_INT;
  slot->value.i = value;
  return 0;
}

const span_attr *span_get(const span *s, const char *key) { return span_attrs_get(&s->attrs, key); }

void span_hex(const uint8_t *id, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[id[i] >> 4];
    out[2 * i + 1] = digits[id[i] & 15];
  }
  out[2 * len] = '\0';
}
