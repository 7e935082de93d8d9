/* retry — what an export attempt's answer means, and how long to wait before the next one.
 *
 * Pure functions, no sockets, no clock, no locks: the exporter sends (http), asks
 * retry_classify what the answer means, and applies it (counters, log lines, acks, waits);
 * retry_delay_ms gives the wait before a retry from a jitter value the caller draws. Both are
 * tested from plain C without a server (test/c/test_retry.c).
 *
 * OTLP/HTTP: a 2xx is accepted (a partial_success in its body may reject some spans); 429,
 * 502, 503, 504 and network errors are retried, honouring Retry-After; 413 means "too large,
 * send less"; 401 and 403 refuse the credentials; a redirect that is not followed (http.h
 * follows a 307 or 308 to the same host) means the endpoint moved; any other status is final,
 * 500 included (the OTLP specification: "all other 4xx or 5xx response status codes MUST NOT
 * be retried").
 *
 * retry_classes is the one description of these classes: what answers fall in each and what
 * becomes of the spans. status() carries it (retry_classes_json), `status` and `doctor` say
 * its words, and docs/durability.md's table is checked against it, so the words cannot drift from
 * what retry_classify decides.
 */
#ifndef RETRY_H
#define RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  RETRY_OK,        /* accepted, every span */
  RETRY_PARTIAL,   /* accepted, but the backend rejected `rejected` of the spans (message) */
  RETRY_AGAIN,     /* retryable: network error or 429/502/503/504 (retry_after_s, -1: none) */
  RETRY_SPLIT,     /* 413: the request was too large */
  RETRY_REFUSED,   /* 401/403: the credentials were refused */
  RETRY_MOVED,     /* a 3xx not followed: the endpoint moved (message: the new location) */
  RETRY_PERMANENT, /* any other status: final (message: the body's first line) */
} retry_kind;

/* One class of answer, as status, doctor and the README say it. */
typedef struct {
  retry_kind kind;
  const char *name;    /* one word: "accepted", "retried", ... */
  const char *answers; /* which answers fall in it */
  const char *effect;  /* what becomes of the spans */
  bool keeps;          /* the spans stay in the spool (retried, or sent once the config changes) */
} retry_class;

/* The classes, in the order the README lists them (n set). Static; never freed. */
const retry_class *retry_classes(size_t *n);

/* The class of an HTTP status as the exporter treats it (0: no answer). A 2xx is "accepted"
 * (a partial_success is only known from the body); a 307/308 that reached the exporter was
 * not followed ("moved"). */
const retry_class *retry_class_of_status(long status);

/* {"classes": [{name, answers, effect, keeps, statuses: [[from, to], ...]}], "followed": ...}:
 * the table as JSON text (malloc'd, caller frees; NULL when out of memory), each class with
 * the status ranges retry_class_of_status gives it, for status() and the CLI. */
char *retry_classes_json(void);

typedef struct {
  retry_kind kind;
  long status;          /* HTTP status; 0 for a network error */
  int64_t rejected;     /* RETRY_PARTIAL: 1..n spans the backend rejected */
  double retry_after_s; /* RETRY_AGAIN: what the server asked for, -1 when it did not */
  /* PARTIAL: the backend's reason ("(no reason given)" when none); AGAIN: the network error
   * or "HTTP <status>"; MOVED: "moved to <location>" (shown without credentials or query);
   * SPLIT, REFUSED, PERMANENT: the body's first line, printable. May
   * echo what the backend was sent, secrets included: the caller scrubs it before any log.
   * Room for http_response.error; a reason or first line is cut to 199 bytes. */
  char message[256];
} retry_outcome;

/* What the answer to a request of n spans means. rc and status are http_post's (rc -1: no
 * answer, error says why); body is the response body (may be NULL) and retry_after_s its
 * Retry-After (-1: absent); location the redirect's target (NULL or "": none), for a 3xx. A
 * partial_success count outside 1..n (negative, unreadable body) is clamped: the backend's count is
 * trusted only within the batch. */
retry_outcome retry_classify(int rc, long status, const char *error, double retry_after_s,
                             const uint8_t *body, size_t body_len, size_t n, const char *location);

/* Longest wait a server's Retry-After may impose: a bogus value must not park the exporter
 * for hours. */
#define RETRY_AFTER_MAX_MS (5L * 60 * 1000)

/* The delay before retry number attempt (1, 2, ...): initial_ms doubled per attempt, capped
 * at max_ms (defaults 1000 and 30000 when 0 or less), then jittered to between half and all of
 * it by jitter in [0, 1) (the caller's random draw). A Retry-After (retry_after_s >= 0) wins
 * when it asks for longer, up to RETRY_AFTER_MAX_MS. */
long retry_delay_ms(int attempt, double retry_after_s, long initial_ms, long max_ms, double jitter);

#endif
