/* fuzz_common — small helpers shared by the libFuzzer harnesses. Header-only.
 *
 * A harness checks properties as well as memory safety: when one fails it calls
 * FUZZ_ASSERT, which prints the property and aborts, so libFuzzer saves the input as a
 * crash like any sanitizer report. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spans.h"

#define FUZZ_ASSERT(cond)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);                  \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* FNV-1a of the input: lets a harness choose options from the input without a prefix, so
 * seeds stay plain JSON or YAML and any edit of the input may flip an option. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ULL;
  return h;
}

/* Whether s[0..len) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static inline bool fuzz_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    unsigned char c = p[i];
    size_t n;
    unsigned int cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return false;
    if (i + n > len) return false;
    for (size_t k = 1; k < n; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (p[i + k] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

static inline bool fuzz_str_ok(const char *s) { return !s || fuzz_utf8_valid(s, strlen(s)); }

/* Every string a span holds, keys included, is valid UTF-8 (spans.h promises it; protobuf
 * requires it). */
static inline void fuzz_check_span_utf8(const span *s) {
  FUZZ_ASSERT(fuzz_str_ok(s->name));
  FUZZ_ASSERT(fuzz_str_ok(s->status_message));
  for (size_t i = 0; i < s->attrs.len; i++) {
    FUZZ_ASSERT(fuzz_str_ok(s->attrs.items[i].key));
    if (s->attrs.items[i].type == SPAN_ATTR_STRING)
      FUZZ_ASSERT(fuzz_str_ok(s->attrs.items[i].value.s));
    if (s->attrs.items[i].type == SPAN_ATTR_STRING_LIST)
      for (size_t k = 0; k < s->attrs.items[i].value.list.n; k++)
        FUZZ_ASSERT(fuzz_str_ok(s->attrs.items[i].value.list.items[k]));
  }
  for (size_t e = 0; e < s->n_events; e++) {
    FUZZ_ASSERT(fuzz_str_ok(s->events[e].name));
    for (size_t i = 0; i < s->events[e].attrs.len; i++) {
      FUZZ_ASSERT(fuzz_str_ok(s->events[e].attrs.items[i].key));
      FUZZ_ASSERT(fuzz_str_ok(s->events[e].attrs.items[i].value.s));
    }
  }
}

/* Whether an attribute list repeats a key. */
static inline bool fuzz_duplicate_keys(const span_attrs *a) {
  for (size_t i = 0; i < a->len; i++)
    for (size_t j = i + 1; j < a->len; j++)
      if (strcmp(a->items[i].key, a->items[j].key) == 0) return true;
  return false;
}

static inline bool fuzz_span_has_duplicate_keys(const span *s) {
  if (fuzz_duplicate_keys(&s->attrs)) return true;
  for (size_t e = 0; e < s->n_events; e++)
    if (fuzz_duplicate_keys(&s->events[e].attrs)) return true;
  return false;
}

/* Two attribute lists hold the same data (order included). */
static inline bool fuzz_attrs_equal(const span_attrs *a, const span_attrs *b) {
  if (a->len != b->len) return false;
  for (size_t i = 0; i < a->len; i++) {
    const span_attr *x = &a->items[i], *y = &b->items[i];
    if (strcmp(x->key, y->key) != 0 || x->type != y->type) return false;
    switch (x->type) {
    case SPAN_ATTR_STRING:
      if (strcmp(x->value.s, y->value.s) != 0) return false;
      break;
    case SPAN_ATTR_INT:
      if (x->value.i != y->value.i) return false;
      break;
    case SPAN_ATTR_DOUBLE: /* bitwise: NaN equals itself here */
      if (memcmp(&x->value.d, &y->value.d, sizeof(double)) != 0) return false;
      break;
    case SPAN_ATTR_BOOL:
      if (x->value.b != y->value.b) return false;
      break;
    case SPAN_ATTR_STRING_LIST:
      if (x->value.list.n != y->value.list.n) return false;
      for (size_t k = 0; k < x->value.list.n; k++)
        if (strcmp(x->value.list.items[k], y->value.list.items[k]) != 0) return false;
      break;
    }
  }
  return true;
}

static inline bool fuzz_spans_equal(const span *a, const span *b) {
  if (strcmp(a->name, b->name) != 0 || memcmp(a->trace_id, b->trace_id, 16) != 0 ||
      memcmp(a->span_id, b->span_id, 8) != 0 || a->has_parent != b->has_parent ||
      (a->has_parent && memcmp(a->parent_span_id, b->parent_span_id, 8) != 0) ||
      a->start_ns != b->start_ns || a->end_ns != b->end_ns || a->status != b->status ||
      !a->status_message != !b->status_message ||
      (a->status_message && strcmp(a->status_message, b->status_message) != 0) ||
      !fuzz_attrs_equal(&a->attrs, &b->attrs) || a->n_events != b->n_events)
    return false;
  for (size_t e = 0; e < a->n_events; e++)
    if (strcmp(a->events[e].name, b->events[e].name) != 0 ||
        a->events[e].time_ns != b->events[e].time_ns ||
        !fuzz_attrs_equal(&a->events[e].attrs, &b->events[e].attrs))
      return false;
  return true;
}

#endif
