/* text — a small growable string buffer for building keys, names and joined texts.
 *
 * A zero-initialised text is empty and valid. The buffer owns data (free it with free()); an
 * allocation failure sets failed and makes every later add a no-op, so a caller checks once at
 * the end instead of after each add. data is always NUL-terminated once anything was added. */
#ifndef TEXT_H
#define TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "platform.h"

typedef struct {
  char *data; /* owned; NULL while empty */
  size_t len, cap;
  bool failed; /* an allocation failed: the content is incomplete */
} text;

/* Appends n bytes of s (which may hold NUL bytes). */
void text_add(text *t, const char *s, size_t n);

/* Appends printf-formatted text, up to 511 bytes of it. */
void text_addf(text *t, const char *fmt, ...) PLATFORM_PRINTF(2, 3);

/* printf-formatted text in a string of its own (malloc'd): NULL, with *oom set, when out of
 * memory. */
char *text_printf(bool *oom, const char *fmt, ...) PLATFORM_PRINTF(2, 3);

/* The content, "" while empty; borrowed from t. */
const char *text_str(const text *t);

/* A URL as logs and status may show it: without user:password@, ?query and #fragment (either
 * may carry a credential). The one rule, so what status compares always matches. malloc'd;
 * NULL for NULL or out of memory. */
char *text_url_for_display(const char *url);

#endif
