/* fuzz_redact — bytes through the secret redaction (redact.h): the built-in detectors on the
 * whole input, and the input's first line as a user pattern (the regex subset) on the rest.
 *
 * Input: any bytes. A hash of the input chooses whether the text is the head of a longer value
 * (more), so a seed stays plain text and any edit may flip it.
 *
 * Properties checked besides memory safety and time (libFuzzer's -timeout: the matcher is
 * linear, so no input may take long):
 *   - valid UTF-8 in, valid UTF-8 out (markers are ASCII and cover whole characters);
 *   - JSON in, JSON out (each secret is redacted inside its string; escapes stay whole);
 *   - redacting the output again keeps every marker (a marker is never rescanned); it may find
 *     more, since a marker can end the value of a key that a longer text did not look like;
 *   - the count is the number of markers added.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "redact.h"

static redact_rules *builtin;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  redact_config cfg = {.builtin = true};
  builtin = redact_new(&cfg);
  return 0;
}

/* The markers in s: "<redacted:" then a kind (1 to 40 of a-z 0-9 -) and ">". */
static size_t count_markers(const char *s, size_t n) {
  size_t k = 0;
  for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), "<redacted:", 10)); p += 10) {
    size_t i = (size_t)(p - s) + 10, j = i;
    while (j < n && j - i <= 40 &&
           ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= '0' && s[j] <= '9') || s[j] == '-'))
      j++;
    k += j > i && j < n && s[j] == '>';
  }
  return k;
}

static bool is_json(const char *s, size_t n) {
  json_error_t err;
  json_t *v = json_loadb(s, n, JSON_DECODE_ANY, &err);
  bool ok = v && (json_is_object(v) || json_is_array(v) || json_is_string(v));
  json_decref(v);
  return ok;
}

static void check(const redact_rules *r, const char *text, size_t len, bool more,
                  bool builtin_only) {
  char *out = NULL;
  size_t out_len = 0;
  long n = redact_text(r, text, len, more, &out, &out_len);
  FUZZ_ASSERT(n >= 0);
  if (n == 0) {
    FUZZ_ASSERT(out == NULL);
    return;
  }
  FUZZ_ASSERT(out && out[out_len] == 0 && (memchr(text, 0, len) || strlen(out) == out_len));
  FUZZ_ASSERT(count_markers(out, out_len) >= count_markers(text, len) + (size_t)n ||
              memchr(text, 0, len) != NULL);
  if (fuzz_utf8_valid(text, len) && !memchr(text, 0, len))
    FUZZ_ASSERT(fuzz_utf8_valid(out, out_len));
  if (!more && !memchr(text, 0, len) && is_json(text, len)) FUZZ_ASSERT(is_json(out, out_len));
  if (builtin_only) {
    char *again = NULL;
    size_t again_len;
    long m = redact_text(r, out, out_len, more, &again, &again_len);
    FUZZ_ASSERT(m >= 0);
    if (m > 0 && !memchr(text, 0, len))
      FUZZ_ASSERT(count_markers(again, again_len) == count_markers(out, out_len) + (size_t)m);
    free(again);
  }
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  bool more = fuzz_hash(data, size) & 1;
  check(builtin, text, size, more, true);

  const uint8_t *nl = memchr(data, '\n', size);
  if (!nl || nl - data > 200) return 0;
  char *pattern = strndup(text, (size_t)(nl - data));
  char why[128];
  if (pattern && redact_pattern_check(pattern, why, sizeof why) == 0) {
    const char *patterns[] = {pattern}, *allow[] = {"^x"};
    redact_config cfg = {.patterns = patterns, .n_patterns = 1, .allow = allow, .n_allow = more};
    redact_rules *r = redact_new(&cfg);
    FUZZ_ASSERT(r != NULL);
    check(r, (const char *)nl + 1, size - (size_t)(nl - data) - 1, false, false);
    redact_free(r);
  }
  free(pattern);
  return 0;
}
