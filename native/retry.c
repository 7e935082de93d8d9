/* retry — classification of export answers and the backoff schedule; see retry.h. */
#include "retry.h"

#include <stdio.h>
#include <stdlib.h>

#include "http.h"
#include "otlp.h"

/* A backend's reason or first line is cut here: one log line, not a page. */
#define TEXT_MAX 199

retry_outcome retry_classify(int rc, long status, const char *error, double retry_after_s,
                             const uint8_t *body, size_t body_len, size_t n) {
  retry_outcome o = {.status = rc != 0 ? 0 : status, .retry_after_s = -1};
  if (rc == 0 && status >= 200 && status < 300) {
    int64_t rejected = 0;
    char *message = NULL;
    if (otlp_parse_response(body, body_len, &rejected, &message) != 0 || rejected < 0) rejected = 0;
    if (rejected > (int64_t)n) rejected = (int64_t)n;
    o.kind = rejected > 0 ? RETRY_PARTIAL : RETRY_OK;
    o.rejected = rejected;
    if (rejected > 0)
      snprintf(o.message, TEXT_MAX + 1, "%s", message ? message : "(no reason given)");
    free(message);
  } else if (rc != 0 || http_status_retryable(status)) {
    o.kind = RETRY_AGAIN;
    o.retry_after_s = retry_after_s;
    if (rc != 0) snprintf(o.message, sizeof o.message, "%s", error ? error : "network error");
    else snprintf(o.message, sizeof o.message, "HTTP %ld", status);
  } else {
    o.kind = status == 401 || status == 403 ? RETRY_REFUSED
             : status == 413                ? RETRY_SPLIT
                                            : RETRY_PERMANENT;
    http_body_first_line(body, body_len, o.message, TEXT_MAX);
  }
  return o;
}

long retry_delay_ms(int attempt, double retry_after_s, long initial_ms, long max_ms,
                    double jitter) {
  long base = initial_ms > 0 ? initial_ms : 1000;
  long max = max_ms > 0 ? max_ms : 30000;
  long delay = base;
  for (int i = 1; i < attempt && delay < max; i++) delay *= 2;
  if (delay > max) delay = max;
  if (jitter < 0 || jitter >= 1) jitter = 0;
  delay = delay / 2 + (long)(jitter * (double)(delay / 2 + 1));
  if (retry_after_s >= 0) {
    long asked = retry_after_s * 1000 > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS
                                                           : (long)(retry_after_s * 1000);
    if (asked > delay) delay = asked;
  }
  return delay;
}
