/* exporter — a background thread that ships the queue to one backend (a destination).
 *
 * With several destinations there is one exporter per destination, each the one consumer of its
 * slot of the queue (queue.h): its own cursor, retry and backoff, pause on a refused key, counters
 * and outcome; one destination down never delays another.
 *
 * Each batch goes through three stages: frame (one ExportTraceServiceRequest around the
 * stored span bytes, otlp), send (http; the answer becomes a typed outcome, retry_classify),
 * apply (counters, log, ack; the delay before a retry is retry_delay_ms). It acks the batch on
 * a 2xx or a permanent failure; retryable failures (429, 502, 503, 504, network) are retried
 * with exponential backoff and jitter, honouring Retry-After. 413 halves the batch's size until it
 * passes (a single span still refused is dropped and logged with its size). 401 and 403 keep the
 * spans queued (and spooled) and stop sending until the target changes (a config reload), then send
 * them; so does a redirect that is not followed (http.h follows a 307/308 to the same host): the
 * endpoint moved. What each answer means is retry.h's one table of classes. The JS thread only
 * hands spans to the queue and reads counters: it never waits on the network.
 */
#ifndef EXPORTER_H
#define EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "spans.h"

/* One request carries at most this many spans and span bytes (the tracer hands a large
 * reconcile over in units of this size, so each is written, and sent, on its own). */
#define EXPORTER_BATCH_MAX_SPANS 512
#define EXPORTER_BATCH_MAX_BYTES (4u * 1024 * 1024)

/* How every destination sends: the config's `export` section (config.h), copied whole into each
 * target. The settings table's EXPORT rows (settings.h) declare its fields: timeout_ms (one export
 * request), retry_initial_ms (the backoff between retries, doubled up to retry_max_ms). */
typedef struct {
#define EXPORT(id, kind, field, ...) SETTINGS_CTYPE(kind) field;
#include "settings.h"
  bool gzip; /* export.compression: gzip (true) or none */
} exporter_settings;

/* Where and how to send: an immutable copy made from the config, swapped whole. */
typedef struct {
  bool send;    /* false: keep spans queued (no backend, tracing off) */
  bool discard; /* dry run: spans are built and dropped, never sent */
  char *url;
  char **headers;      /* secrets inside: never logged */
  bool *header_secret; /* per header: its value is masked when echoed (NULL: every one is) */
  size_t n_headers;
  char *service_name;
  char *project_name;
  char *version;
  char *dest_name;     /* the destination's name (NULL: the first, the single-backend settings) */
  const char *kind;    /* "arize", "phoenix", "otlp" (static; NULL: outcome_open's) */
  span_attrs resource; /* further resource attributes (OTEL_RESOURCE_ATTRIBUTES), owned */
  exporter_settings settings;
} exporter_target;

/* A deep copy of t (NULL when out of memory). */
exporter_target *exporter_target_copy(const exporter_target *t);
void exporter_target_free(exporter_target *t);

typedef struct {
  uint64_t exported;        /* spans the backend accepted */
  uint64_t dropped;         /* spans given up on: permanent errors, rejections, full queue */
  uint64_t pending;         /* spans still queued */
  uint64_t requests;        /* HTTP requests sent */
  uint64_t failed_requests; /* requests that did not end in a 2xx */
  uint64_t retries;
  uint64_t rejected;       /* of dropped: spans a 2xx refused (partial_success) */
  uint64_t too_large;      /* of dropped: single spans a 413 refused */
  uint64_t discarded;      /* dry run: spans built and thrown away, never sent */
  long last_status;        /* HTTP status of the last request, 0 for a network error, -1 none */
  char last_error[256];    /* the last failure, one line, no secrets */
  int64_t last_export_ms;  /* wall clock of the last 2xx, 0 if none */
  int64_t last_attempt_ms; /* wall clock of the last answer or failure, 0 if none */
  bool key_refused;        /* the backend answered 401/403: sending waits for a new config */
  bool moved;              /* the endpoint moved (a redirect not followed, last_error says
                            * where): sending waits for a new config */
} exporter_counts;

typedef struct exporter exporter;

/* The exporter for q (borrowed: it must outlive the exporter). The thread starts on the
 * first exporter_notify. */
exporter *exporter_new(queue *q);

/* The exporter of the destination in q's slot (queue_set_destinations). */
exporter *exporter_new_for(queue *q, int slot);

/* Moves the exporter to another slot (-1: none, it sends nothing). Stop it first when it was
 * sending (exporter_stop): a batch in flight belongs to the old slot. */
void exporter_set_slot(exporter *e, int slot);

/* Replaces the target (ownership moves in); the next batch uses it, at once even when the
 * thread is waiting to retry a failed one. */
void exporter_set_target(exporter *e, exporter_target *t);

/* Tells the thread new records are queued, starting it on first use. */
void exporter_notify(exporter *e);

/* Wakes the thread if it runs (records became sendable); never starts it. Any thread. */
void exporter_wake(exporter *e);

/* Waits until every record queued before the call has been answered by the backend (or
 * given up on), at most timeout_ms; returns at once when nothing can be sent. */
void exporter_flush(exporter *e, long timeout_ms, exporter_counts *out);

exporter_counts exporter_get_counts(exporter *e);

/* Flushes for at most timeout_ms, then stops the thread (an in-flight request is aborted);
 * what is unsent stays queued. Idempotent; a later exporter_notify starts it again. */
void exporter_stop(exporter *e, long timeout_ms);

/* Stops (if needed) and frees. */
void exporter_free(exporter *e);

#endif
