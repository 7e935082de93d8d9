/* text — growable string buffer (text.h). */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_add(text *t, const char *s, size_t n) {
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

void text_addf(text *t, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) text_add(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

char *text_printf(bool *oom, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) {
    s = NULL;
    *oom = true;
  }
  va_end(ap);
  return s;
}

const char *text_str(const text *t) { return t->data ? t->data : ""; }

char *text_url_for_display(const char *url) {
  if (!url) return NULL;
  const char *host = strstr(url, "://");
  host = host ? host + 3 : url;
  size_t scheme = (size_t)(host - url);
  const char *at = strchr(host, '@'), *slash = strchr(host, '/');
  if (at && (!slash || at < slash)) host = at + 1;
  size_t rest = strcspn(host, "?#");
  char *out = malloc(scheme + rest + 1);
  if (!out) return NULL;
  memcpy(out, url, scheme);
  memcpy(out + scheme, host, rest);
  out[scheme + rest] = '\0';
  return out;
}
