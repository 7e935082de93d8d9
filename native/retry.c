/* retry — classification of export answers and the backoff schedule; see retry.h. */
#include "retry.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "http.h"
#include "otlp.h"

/* A backend's reason or first line is cut here: one log line, not a page. */
#define TEXT_MAX 199

/* The words for each class. A class's answers are what retry_classify decides (the JSON form
 * adds the status ranges computed from it); its effect is what exporter.c does with them. */
static const retry_class classes[] = {
    {RETRY_OK, "accepted", "2xx", "the spans leave the spool", false},
    {RETRY_PARTIAL, "partly rejected", "2xx whose partial_success rejects some spans",
     "the spans it rejected are dropped, counted (spans_dropped) and logged with its reason; the "
     "rest are accepted",
     false},
    {RETRY_AGAIN, "retried", "429, 502, 503, 504, and no answer (network error, timeout)",
     "kept in the spool and retried with backoff and jitter, honouring Retry-After", true},
    {RETRY_SPLIT, "too large", "413",
     "the batch is halved until it passes; a single span still refused is dropped, counted and "
     "logged with its size",
     true},
    {RETRY_REFUSED, "key refused", "401, 403",
     "kept in the spool (up to its cap and age limit); sending pauses until the configuration "
     "changes",
     true},
    {RETRY_MOVED, "moved",
     "301, 302, 303 and any other 3xx, and a 307 or 308 that is not followed (to another host, "
     "from https to http, past 5 hops)",
     "kept in the spool (up to its cap and age limit); sending pauses until the configuration "
     "changes; status and doctor name the new location",
     true},
    {RETRY_PERMANENT, "refused", "any other status (400, 404, 500, 501, ...): final in OTLP",
     "dropped, counted (spans_dropped) and logged with the first line of the answer", false},
};

#define FOLLOWED_WORDS                                                                             \
  "a 307 or 308 to the same host (http to https allowed, never https to http) is followed with "   \
  "the same body, at most 5 hops; the last answer is the one classified"

const retry_class *retry_classes(size_t *n) {
  *n = sizeof classes / sizeof classes[0];
  return classes;
}

/* The class of a kind. */
static const retry_class *retry_class_of(retry_kind kind) {
  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
    if (classes[i].kind == kind) return &classes[i];
  return &classes[sizeof classes / sizeof classes[0] - 1];
}

const retry_class *retry_class_of_status(long status) {
  return retry_class_of(retry_classify(status > 0 ? 0 : -1, status, "", -1, NULL, 0, 1, NULL).kind);
}

char *retry_classes_json(void) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < sizeof classes / sizeof classes[0]; i++) {
    const retry_class *c = &classes[i];
    json_t *ranges = json_array();
    long from = -1;
    for (long st = 100; st <= 600; st++) {
      bool in = st < 600 && retry_class_of_status(st) == c;
      if (in && from < 0) from = st;
      if (!in && from >= 0) {
        json_array_append_new(ranges, json_pack("[I, I]", (json_int_t)from, (json_int_t)(st - 1)));
        from = -1;
      }
    }
    if (retry_class_of_status(0) == c) json_array_append_new(ranges, json_pack("[i, i]", 0, 0));
    json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", c->name, "answers",
                                          c->answers, "effect", c->effect, "keeps", c->keeps,
                                          "statuses", ranges ? ranges : json_array()));
  }
  json_t *out = list ? json_pack("{s:o, s:s}", "classes", list, "followed", FOLLOWED_WORDS) : NULL;
  char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
  json_decref(out);
  return text;
}

retry_outcome retry_classify(int rc, long status, const char *error, double retry_after_s,
                             const uint8_t *body, size_t body_len, size_t n, const char *location) {
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
  } else if (status >= 300 && status < 400) {
    o.kind = RETRY_MOVED;
    if (location && *location) snprintf(o.message, TEXT_MAX + 1, "moved to %s", location);
    else snprintf(o.message, TEXT_MAX + 1, "a redirect without a location");
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
