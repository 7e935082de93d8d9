/* exporter — batches from the queue to the backend on one thread; see exporter.h. */
#include "exporter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gzip.h"
#include "http.h"
#include "log.h"
#include "otlp.h"
#include "outcome.h"
#include "platform.h"
#include "redact.h"
#include "retry.h"
#include "wallclock.h"

#define BATCH_MAX_SPANS EXPORTER_BATCH_MAX_SPANS
#define BATCH_MAX_BYTES EXPORTER_BATCH_MAX_BYTES
#define RETRY_SAID_AGAIN_MS (60 * 60 * 1000) /* a backend still down is said again hourly */
#define OUTCOME_DEFER_MS 1000 /* a backlog's like answers are recorded at most this often */

struct exporter {
  queue *q;
  int slot; /* its destination's slot in q (queue_set_destinations) */
  pthread_mutex_t lock;
  pthread_cond_t wake;     /* to the thread: records, a new target, stop */
  pthread_cond_t progress; /* from the thread: a batch was answered */
  pthread_t thread;
  bool started, stopping;
  int abort_transfer;      /* read by the http layer's progress check */
  exporter_target *target; /* current; owned */
  exporter_target *in_use; /* the one a send is using, when it was replaced meanwhile */
  uint64_t target_changes; /* exporter_set_target calls: a new target ends a retry pause */
  exporter_counts counts;
  uint64_t answered_seq;  /* every record up to this seq was answered or given up on */
  size_t split_bytes;     /* after a 413: batches of at most this many span bytes (0: none) */
  bool refused;           /* 401/403 or a move with the current target: wait for a new one */
  bool no_http;           /* libcurl could not be loaded: this process sends nothing */
  bool redirect_logged;   /* the current target's redirects were logged */
  long recorded_status;   /* the last outcome recorded (outcome.h) when it was a 2xx; else -1 */
  int64_t recorded_at_ms; /* when (monotonic) */
};

/* ------------------------------------------------------------------------------------------ */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

void exporter_target_free(exporter_target *t) {
  if (!t) return;
  free(t->url);
  for (size_t i = 0; i < t->n_headers; i++) {
    /* header values are secrets: wipe them before the memory goes back */
    volatile char *p = t->headers[i];
    while (*p) *p++ = 0;
    free(t->headers[i]);
  }
  free(t->headers);
  free(t->header_secret);
  free(t->service_name);
  free(t->project_name);
  free(t->version);
  free(t->dest_name);
  span_attrs_clear(&t->resource);
  free(t);
}

exporter_target *exporter_target_copy(const exporter_target *t) {
  exporter_target *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  *c = *t;
  c->url = dup_or_null(t->url);
  c->service_name = dup_or_null(t->service_name);
  c->project_name = dup_or_null(t->project_name);
  c->version = dup_or_null(t->version);
  c->dest_name = dup_or_null(t->dest_name);
  c->resource = (span_attrs){0};
  bool attrs_ok = true;
  for (size_t i = 0; attrs_ok && i < t->resource.len; i++) {
    const span_attr *a = &t->resource.items[i];
    if (a->type == SPAN_ATTR_STRING)
      attrs_ok = span_attrs_set_string(&c->resource, a->key, a->value.s, strlen(a->value.s)) == 0;
  }
  c->headers = calloc(t->n_headers ? t->n_headers : 1, sizeof *c->headers);
  c->header_secret = NULL;
  if (t->header_secret && (c->header_secret = malloc(t->n_headers + 1)))
    for (size_t i = 0; i < t->n_headers; i++) c->header_secret[i] = t->header_secret[i];
  bool ok = attrs_ok && c->headers && (!t->header_secret || c->header_secret) &&
            (!t->url || c->url) && (!t->service_name || c->service_name) &&
            (!t->project_name || c->project_name) && (!t->version || c->version) &&
            (!t->dest_name || c->dest_name);
  for (size_t i = 0; ok && i < t->n_headers; i++)
    ok = (c->headers[i] = strdup(t->headers[i])) != NULL;
  if (!ok) {
    c->n_headers = c->headers ? t->n_headers : 0;
    exporter_target_free(c);
    return NULL;
  }
  return c;
}

/* ------------------------------------------------------------------------------------------ */

/* Sleeps the whole delay unless stop is asked for (a retry must not come early, new records
 * or not) or the target is replaced: the failure may have been the old endpoint's or
 * credentials', and the user who fixed them should not wait out the rest of a backoff.
 * changes is e->target_changes when the failed send took its target (it may have been
 * replaced during the send). Called with the lock held. Returns false when stopping. */
static bool pause_locked(exporter *e, long ms, uint64_t changes) {
  struct timespec until = wallclock_deadline(ms);
  while (!e->stopping && e->target_changes == changes)
    if (pthread_cond_timedwait(&e->wake, &e->lock, &until) == ETIMEDOUT) break;
  return !e->stopping;
}

/* Waits for anything (new records, a new target, stop) or ms. The caller re-checks its
 * condition, so a spurious wakeup is harmless. Called with the lock held. */
static void idle_locked(exporter *e, long ms) {
  struct timespec until = wallclock_deadline(ms);
  pthread_cond_timedwait(&e->wake, &e->lock, &until);
}

/* Marks records up to seq as answered and wakes flush waiters. Lock held. */
static void answered_locked(exporter *e, uint64_t seq) {
  if (seq > e->answered_seq) e->answered_seq = seq;
  pthread_cond_broadcast(&e->progress);
}

/* Replaces every occurrence of needle[0..n) in text with "<redacted>" (text has room for
 * cap bytes). */
static void scrub_one(char *text, size_t cap, const char *needle, size_t n) {
  static const char mask[] = "<redacted>";
  char *hit;
  while ((hit = memmem(text, strlen(text), needle, n))) {
    size_t tail = strlen(hit + n);
    size_t keep = (size_t)(hit - text) + (sizeof mask - 1) + tail + 1 <= cap ? tail : 0;
    memmove(hit + sizeof mask - 1, hit + n, keep);
    memcpy(hit, mask, sizeof mask - 1);
    hit[sizeof mask - 1 + keep] = '\0';
  }
}

/* A backend's refusal may echo what it was sent, credentials included ("invalid api key
 * ak-123"): every secret header value, and each word of it (a "Bearer <token>"), is masked
 * before the text reaches the log or status. A header typed not secret (a project name) is
 * left readable. */
static void scrub_secrets(const exporter_target *t, char *text, size_t cap) {
  for (size_t i = 0; i < t->n_headers; i++) {
    if (t->header_secret && !t->header_secret[i]) continue;
    const char *value = strchr(t->headers[i], ':');
    if (!value) continue;
    value += strspn(value + 1, " ") + 1;
    if (strlen(value) >= 4) scrub_one(text, cap, value, strlen(value));
    for (const char *w = value; *w;) {
      size_t n = strcspn(w, " ");
      if (n >= 6) scrub_one(text, cap, w, n);
      w += n + strspn(w + n, " ");
    }
  }
  /* It may echo other secrets too (a token from a request dump): the built-in detectors mask
   * them, whatever the span settings say, since a log is never the place for one. Built per
   * failed answer: rare, and nothing kept between them. */
  redact_rules *r = redact_new(&(redact_config){.builtin = true});
  char *out = NULL;
  size_t out_len = 0;
  if (r && redact_text(r, text, strlen(text), false, &out, &out_len) > 0)
    snprintf(text, cap, "%s", out);
  free(out);
  redact_free(r);
}

typedef enum { SEND_DONE, SEND_RETRY, SEND_SPLIT, SEND_REFUSED, SEND_STOP } send_step;

/* The one place where the outcome of an export attempt is known: HTTP status (0: no answer),
 * the error line (NULL: none; never a secret) and whether the key was refused. Status and
 * persistence of the last outcome hang off here. Lock held. */
static void record_outcome_locked(exporter *e, long status, const char *error, bool key_refused) {
  e->counts.last_status = status;
  e->counts.last_attempt_ms = wallclock_ms();
  size_t n = error ? strnlen(error, sizeof e->counts.last_error - 1) : 0;
  memcpy(e->counts.last_error, error ? error : "", n); /* cut to fit */
  e->counts.last_error[n] = '\0';
  e->counts.key_refused = key_refused;
  e->counts.moved = false;
  if (status >= 200 && status < 300) e->counts.last_export_ms = e->counts.last_attempt_ms;
}

/* Gives up on the n records of the batch (counted as dropped) and acks them. */
static void drop_batch(exporter *e, size_t n, uint64_t last_seq) {
  queue_ack_for(e->q, e->slot, n);
  pthread_mutex_lock(&e->lock);
  e->counts.dropped += n;
  answered_locked(e, last_seq);
  pthread_mutex_unlock(&e->lock);
}

/* A batch as the exporter sends it: n stored spans, framed into one request body, which is
 * gzip-encoded already when the target compresses (gzipped). */
typedef struct {
  size_t n, span_bytes, first_len;
  uint64_t last_seq;
  uint8_t *body;   /* owned: what goes on the wire */
  size_t body_len; /* the framed request's size (before compression), for log lines */
  size_t send_len; /* body's size */
  bool gzipped;
} framed_batch;

/* Stage 1: frames one ExportTraceServiceRequest around the stored span bytes and compresses
 * it for a target that asks for gzip (a body that cannot be compressed, for want of memory, is
 * left as it is: http_post tries again and says so). -1 (error says why) when a record is not
 * a span. */
static int frame_batch(const exporter_target *t, const queue_record **batch, size_t n,
                       framed_batch *fb, char *error, size_t cap) {
  const uint8_t *spans[BATCH_MAX_SPANS];
  size_t lens[BATCH_MAX_SPANS];
  *fb = (framed_batch){.n = n, .first_len = batch[0]->len, .last_seq = batch[n - 1]->seq};
  for (size_t i = 0; i < n; i++)
    spans[i] = batch[i]->data, lens[i] = batch[i]->len, fb->span_bytes += lens[i];
  otlp_resource res = {.service_name = t->service_name,
                       .project_name = t->project_name,
                       .scope_version = t->version,
                       .extra = t->resource};
  if (otlp_encode_request(&res, spans, lens, n, &fb->body, &fb->body_len, error, cap) != 0)
    return -1;
  fb->send_len = fb->body_len;
  uint8_t *gz = NULL;
  size_t gz_len = 0;
  /* a large body in two halves at once (gzip.h): compression is most of a batch's time */
  if (t->settings.gzip && gzip_encode(fb->body, fb->body_len, 2, &gz, &gz_len) == 0) {
    free(fb->body);
    fb->body = gz, fb->send_len = gz_len, fb->gzipped = true;
  }
  return 0;
}

/* The next batch, framed (and compressed) on a thread of its own while the current one is
 * sent: a backlog goes out at the pace of the slower of the two, not of their sum. Only one
 * request is ever in flight, in queue order. */
typedef struct {
  const exporter_target *t; /* the current send's: alive until both are done */
  const queue_record *batch[BATCH_MAX_SPANS];
  size_t n; /* 0: none */
  framed_batch fb;
  int rc;
  char error[256];
  pthread_t thread;
  bool threaded; /* prepared on its thread (else on the exporter's, after the send) */
} next_batch;

static void prepare_next(next_batch *nb) {
  nb->rc = frame_batch(nb->t, nb->batch, nb->n, &nb->fb, nb->error, sizeof nb->error);
}

static void *prepare_main(void *arg) {
  platform_thread_name("arize-prepare");
  prepare_next(arg);
  return NULL;
}

/* Stage 2: POSTs the framed batch to t and says what the answer means (retry.h). */
static retry_outcome send_framed(exporter *e, const exporter_target *t, const framed_batch *fb) {
  http_request req = {.url = t->url,
                      .headers = (const char *const *)t->headers,
                      .n_headers = t->n_headers,
                      .body = fb->body,
                      .body_len = fb->send_len,
                      .gzip = t->settings.gzip,
                      .gzipped = fb->gzipped,
                      .timeout_ms = t->settings.timeout_ms,
                      .abort_flag = &e->abort_transfer};
  http_response resp = {0};
  int rc = http_post(&req, &resp);
  retry_outcome o = retry_classify(rc, resp.status, resp.error, resp.retry_after_s, resp.body,
                                   resp.body_len, fb->n, resp.location);
  if (resp.hops && !e->redirect_logged) { /* once per target: the config should say where */
    char shown[512];
    http_url_display(t->url, shown, sizeof shown);
    log_info("the endpoint %s redirects (HTTP 307/308, %d hop%s); following it with the same "
             "body: set the endpoint to where it leads to save a request per batch",
             shown, resp.hops, resp.hops > 1 ? "s" : "");
    e->redirect_logged = true;
  }
  http_response_free(&resp);
  return o;
}

/* What a log line about t's answers starts with: its destination's name when it is not the
 * first, so that with several destinations the log says which one failed ("" for the first,
 * whose lines read as they always did). */
static const char *dest_prefix(const exporter_target *t, char *out, size_t size) {
  if (!t || !t->dest_name) return "";
  snprintf(out, size, "destination %s: ", t->dest_name);
  return out;
}

/* Stage 3: applies an outcome to the counters and the log (messages scrubbed first), and
 * says what becomes of the batch. Lock held. */
static send_step apply_outcome_locked(exporter *e, const exporter_target *t, const framed_batch *fb,
                                      retry_outcome *o) {
  size_t n = fb->n;
  char line[sizeof o->message + 100], who[64];
  const char *dp = dest_prefix(t, who, sizeof who);
  e->counts.requests++;
  if (o->kind != RETRY_OK && o->kind != RETRY_PARTIAL) e->counts.failed_requests++;
  if (o->kind != RETRY_OK) scrub_secrets(t, o->message, sizeof o->message);
  switch (o->kind) {
  case RETRY_OK:
    record_outcome_locked(e, o->status, NULL, false);
    /* no URL in log lines: it may carry user:password (the config's "sending to" line shows
     * it without them) */
    log_debug("exported %zu spans (%zu bytes): HTTP %ld", n, fb->body_len, o->status);
    e->counts.exported += n;
    return SEND_DONE;
  case RETRY_PARTIAL:
    snprintf(line, sizeof line, "HTTP %ld: backend rejected %lld of %zu spans: %s", o->status,
             (long long)o->rejected, n, o->message);
    log_warn("%s%s", dp, line);
    record_outcome_locked(e, o->status, line, false);
    e->counts.dropped += (uint64_t)o->rejected;
    e->counts.rejected += (uint64_t)o->rejected;
    e->counts.exported += n - (size_t)o->rejected;
    return SEND_DONE;
  case RETRY_AGAIN:
    record_outcome_locked(e, o->status, o->message, false);
    return e->stopping ? SEND_STOP : SEND_RETRY;
  default: break;
  }
  snprintf(line, sizeof line, "HTTP %ld: %s", o->status, o->message);
  bool refused = o->kind == RETRY_REFUSED;
  record_outcome_locked(e, o->status, line, refused);
  if (o->kind == RETRY_MOVED) {
    if (!e->refused)
      log_error(
          "%sthe endpoint answered HTTP %ld, %s; %zu spans (and those after them) are kept in "
          "the spool and sent once the configuration changes: set the endpoint to the new "
          "location if it is the backend you mean",
          dp, o->status, o->message, n);
    e->refused = true;
    e->counts.moved = true;
    return SEND_REFUSED;
  }
  if (refused) {
    if (!e->refused)
      log_error("%sbackend refused the credentials with HTTP %ld: %s; %zu spans (and those after "
                "them) are kept in the spool and sent once the configuration changes",
                dp, o->status, o->message, n);
    e->refused = true;
    return SEND_REFUSED;
  }
  if (o->kind == RETRY_SPLIT && n > 1) {
    e->split_bytes = fb->span_bytes / 2 ? fb->span_bytes / 2 : 1;
    log_warn("%sbackend refused a %zu-byte request of %zu spans as too large (HTTP 413); "
             "sending batches of at most %zu span bytes",
             dp, fb->body_len, n, e->split_bytes);
    return SEND_SPLIT;
  }
  if (o->kind == RETRY_SPLIT) {
    log_error("%sbackend refused a single span of %zu bytes (a %zu-byte request) as too large "
              "(HTTP 413); dropped",
              dp, fb->first_len, fb->body_len);
    e->counts.too_large++;
  } else {
    log_error("%sbackend refused %zu spans with HTTP %ld (not retryable, dropped): %s", dp, n,
              o->status, o->message);
  }
  e->counts.dropped += n;
  return SEND_DONE;
}

/* One attempt at one batch with target t: send it (framed by frame_batch: rc and error are
 * its outcome), apply the answer. Frees fb's body. Acks the batch unless it is to be tried
 * again (retryable, split, refused key, stopping); a next batch peeked meanwhile stays lent
 * after an ack of this one, and goes back with it otherwise. */
static send_step send_batch(exporter *e, const exporter_target *t, framed_batch *fb, int rc,
                            const char *error, bool more, double *retry_after_s) {
  size_t n = fb->n;
  if (rc != 0) {
    /* A record that is not a span can never be sent: drop the batch rather than loop. */
    log_error("dropping %zu spans: cannot build the export request: %s", n, error);
    drop_batch(e, n, fb->last_seq);
    return SEND_DONE;
  }
  retry_outcome o = send_framed(e, t, fb);
  free(fb->body);
  fb->body = NULL;
  *retry_after_s = o.retry_after_s;
  pthread_mutex_lock(&e->lock);
  send_step step = apply_outcome_locked(e, t, fb, &o);
  pthread_mutex_unlock(&e->lock);
  /* For `status` in other processes (outcome.h). Only this thread writes last_error. While a
   * backlog drains (more: the next batch is being prepared), an answer like the last one
   * recorded waits up to OUTCOME_DEFER_MS: two file replaces per request would cost the
   * send path more than the request on a fast backend. The batch that ends a backlog, and
   * every change of answer, is recorded before its flush waiters hear of it. */
  int64_t now_ms = platform_monotonic_ms();
  bool same = step == SEND_DONE && o.kind == RETRY_OK && o.status == e->recorded_status &&
              now_ms - e->recorded_at_ms < OUTCOME_DEFER_MS;
  if (!(more && same)) {
    outcome_totals totals = {e->counts.requests, e->counts.failed_requests, e->counts.exported,
                             e->counts.dropped};
    outcome_record_for(t->dest_name, t->kind, t->url, o.status, e->counts.last_error, n, &totals);
    e->recorded_status = o.kind == RETRY_OK ? o.status : -1;
    e->recorded_at_ms = now_ms;
  }

  if (step == SEND_DONE) {
    queue_ack_for(e->q, e->slot, n);
    pthread_mutex_lock(&e->lock);
    answered_locked(e, fb->last_seq);
    pthread_mutex_unlock(&e->lock);
  } else {
    queue_unpeek_for(e->q, e->slot);
  }
  return step;
}

/* Takes the current target for a send; it stays alive until release_target even if
 * exporter_set_target replaces it meanwhile. Lock held. */
static exporter_target *take_target_locked(exporter *e) {
  e->in_use = e->target;
  return e->target;
}

static void release_target_locked(exporter *e) {
  if (e->in_use && e->in_use != e->target) exporter_target_free(e->in_use);
  e->in_use = NULL;
}

/* libcurl could not be loaded (http.h): this process can send nothing. Said once per process;
 * the spans stay queued and in the spool, where the next process that has libcurl finds them;
 * a flush does not wait for them. The thread waits to be stopped. */
static void *exporter_without_http(exporter *e) {
  static int said;
  if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
    log_error("cannot send spans: %s; they stay queued and in the spool for an OpenCode started "
              "with it",
              http_global_error());
  pthread_mutex_lock(&e->lock);
  e->no_http = true;
  record_outcome_locked(e, 0, http_global_error(), false);
  /* the outcome file too, as for a send that failed, so that status and doctor say why (not "no
   * export answered yet"); written after the lock is let go, the target taken as a send takes it */
  const exporter_target *t = e->target && e->target->send ? take_target_locked(e) : NULL;
  outcome_totals totals = {e->counts.requests, e->counts.failed_requests, e->counts.exported,
                           e->counts.dropped};
  pthread_cond_broadcast(&e->progress);
  pthread_mutex_unlock(&e->lock);
  if (t) outcome_record_for(t->dest_name, t->kind, t->url, 0, http_global_error(), 0, &totals);
  pthread_mutex_lock(&e->lock);
  release_target_locked(e);
  while (!e->stopping) pthread_cond_wait(&e->wake, &e->lock);
  pthread_mutex_unlock(&e->lock);
  return NULL;
}

static void *exporter_main(void *arg) {
  exporter *e = arg;
  platform_thread_name("arize-export");
  /* libcurl is loaded here, on this thread, never on OpenCode's (http.h) */
  if (http_global_init() != 0) return exporter_without_http(e);
  const queue_record *batch[BATCH_MAX_SPANS];
  next_batch next = {0}; /* the batch after the one being sent */
  framed_batch fb;
  int frame_rc = 0;
  char frame_error[256] = "";
  bool carried = false; /* batch/fb hold the next batch of the last round, prepared */
  int attempt = 0;
  /* A backend that stays down gets one warning, not one per retry: said again when its answer
   * changes, every hour it stays the same, and once when sending works again. */
  long said_status = -1;
  int64_t said_at_ms = 0, failing_since_ms = 0;
  pthread_mutex_lock(&e->lock);
  while (!e->stopping) {
    queue_dest_stats qs = carried ? (queue_dest_stats){0} : queue_get_dest_stats(e->q, e->slot);
    const exporter_target *t = e->target;
    if (!carried && (qs.pending == 0 || !t || !t->send || e->refused)) {
      if (qs.pending > 0 && t && t->discard) { /* dry run: built, counted, not sent */
        size_t n = queue_peek_for(e->q, e->slot, batch, BATCH_MAX_SPANS, BATCH_MAX_BYTES);
        if (n == 0) { /* not written yet: the writer wakes us */
          idle_locked(e, 50);
          continue;
        }
        uint64_t last = batch[n - 1]->seq;
        queue_ack_for(e->q, e->slot, n);
        e->counts.discarded += n;
        log_info("dry run: %zu spans discarded, never sent (%llu in all)", n,
                 (unsigned long long)e->counts.discarded);
        answered_locked(e, last);
        continue;
      }
      pthread_cond_broadcast(&e->progress); /* a flush waiting on nothing sendable returns */
      idle_locked(e, 60000);
      continue;
    }
    size_t max_bytes =
        e->split_bytes && e->split_bytes < BATCH_MAX_BYTES ? e->split_bytes : BATCH_MAX_BYTES;
    size_t n = carried ? fb.n : queue_peek_for(e->q, e->slot, batch, BATCH_MAX_SPANS, max_bytes);
    if (n == 0) { /* the head is still being written: durable first, then sent (the writer
                   * notifies; the timeout only guards a notice that came before this look) */
      idle_locked(e, 20);
      continue;
    }
    uint64_t changes = e->target_changes;
    int slot = e->slot;
    exporter_target *target = take_target_locked(e);
    pthread_mutex_unlock(&e->lock);
    /* the next batch, if one is sendable already, is prepared while this one is framed (when
     * it was not carried: the start of a backlog) and sent; a batch that cannot be framed is
     * dropped by an ack, after which the next one stays lent (queue_ack_for) */
    next.n = queue_peek_more_for(e->q, slot, next.batch, BATCH_MAX_SPANS, max_bytes);
    next.t = target;
    next.threaded = next.n && pthread_create(&next.thread, NULL, prepare_main, &next) == 0;
    if (!carried) frame_rc = frame_batch(target, batch, n, &fb, frame_error, sizeof frame_error);
    carried = false;
    double retry_after_s = -1;
    send_step outcome =
        send_batch(e, target, &fb, frame_rc, frame_error, next.n > 0, &retry_after_s);
    if (next.threaded) pthread_join(next.thread, NULL);
    else if (next.n) prepare_next(&next); /* no thread: after the send, as before */
    pthread_mutex_lock(&e->lock);
    if (next.n) {
      /* carried into the next round only if nothing changed meanwhile; else it goes back to
       * the queue, to be peeked again (with the new target, size, or after the pause) */
      if (outcome == SEND_DONE && !e->stopping && !e->refused && e->target_changes == changes &&
          e->slot == slot) {
        carried = true;
        memcpy(batch, next.batch, next.n * sizeof *batch);
        fb = next.fb, frame_rc = next.rc;
        memcpy(frame_error, next.error, sizeof frame_error);
      } else {
        free(next.fb.body);
        if (outcome == SEND_DONE) queue_unpeek_for(e->q, slot); /* else it went back already */
      }
      next.n = 0;
    }
    if (outcome == SEND_RETRY) {
      attempt++;
      long delay = retry_delay_ms(attempt, retry_after_s, target->settings.retry_initial_ms,
                                  target->settings.retry_max_ms, rand() / ((double)RAND_MAX + 1));
      e->counts.retries++;
      char who[64];
      dest_prefix(target, who, sizeof who);
      int64_t now = platform_monotonic_ms();
      if (attempt == 1) failing_since_ms = now;
      if (attempt == 1 || e->counts.last_status != said_status ||
          now - said_at_ms >= RETRY_SAID_AGAIN_MS) {
        long most = target->settings.retry_max_ms;
        log_warn("%sexport failed (%s); %zu spans kept, retrying with backoff up to %ld %s (said "
                 "again when the answer changes or sending works)",
                 who, e->counts.last_error, n, most >= 1000 ? most / 1000 : most,
                 most >= 1000 ? "s" : "ms");
        said_status = e->counts.last_status, said_at_ms = now;
      } else {
        log_debug("%sexport failed (%s); retry %d in %ld ms, %zu spans kept", who,
                  e->counts.last_error, attempt, delay, n);
      }
      release_target_locked(e);
      pause_locked(e, delay, changes);
    } else if (outcome == SEND_REFUSED) {
      attempt = 0;
      release_target_locked(e);
      if (e->target_changes != changes) e->refused = false; /* replaced during the send */
    } else if (outcome == SEND_SPLIT) {
      release_target_locked(e); /* at once, smaller */
    } else {
      if (attempt > 0 && outcome == SEND_DONE && e->counts.last_status / 100 == 2) {
        char who[64];
        log_info("%ssending works again after %d failed attempts over %lld s",
                 dest_prefix(target, who, sizeof who), attempt,
                 (long long)((platform_monotonic_ms() - failing_since_ms) / 1000));
      }
      attempt = 0, said_status = -1;
      release_target_locked(e);
    }
  }
  if (carried) { /* stopping: a later start peeks it again */
    free(fb.body);
    queue_unpeek_for(e->q, e->slot);
  }
  pthread_cond_broadcast(&e->progress);
  pthread_mutex_unlock(&e->lock);
  http_thread_cleanup();
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */

exporter *exporter_new(queue *q) { return exporter_new_for(q, 0); }

exporter *exporter_new_for(queue *q, int slot) {
  exporter *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->q = q;
  e->slot = slot;
  pthread_mutex_init(&e->lock, NULL);
  wallclock_cond_init(&e->wake); /* waits on the steady clock: a clock set back stretches none */
  wallclock_cond_init(&e->progress);
  e->counts.last_status = -1;
  e->recorded_status = -1;
  return e;
}

void exporter_set_slot(exporter *e, int slot) {
  if (e->slot == slot) return; /* the usual reload: nothing moves */
  pthread_mutex_lock(&e->lock);
  e->slot = slot;
  pthread_cond_broadcast(&e->wake);
  pthread_mutex_unlock(&e->lock);
}

void exporter_set_target(exporter *e, exporter_target *t) {
  pthread_mutex_lock(&e->lock);
  exporter_target *old = e->target;
  e->target = t;
  e->target_changes++;
  e->refused = false; /* a new key (or endpoint) gets its chance */
  e->split_bytes = 0; /* and a new endpoint its own size limit */
  e->counts.key_refused = false;
  e->counts.moved = false;
  e->redirect_logged = false;
  if (old && old != e->in_use) exporter_target_free(old);
  pthread_cond_broadcast(&e->wake);
  pthread_mutex_unlock(&e->lock);
}

void exporter_notify(exporter *e) {
  pthread_mutex_lock(&e->lock);
  if (!e->started && !e->stopping) {
    if (pthread_create(&e->thread, NULL, exporter_main, e) == 0) e->started = true;
    else log_error("cannot start the exporter thread; spans stay queued");
  }
  pthread_cond_signal(&e->wake);
  pthread_mutex_unlock(&e->lock);
}

void exporter_wake(exporter *e) {
  pthread_mutex_lock(&e->lock);
  if (e->started) pthread_cond_signal(&e->wake);
  pthread_mutex_unlock(&e->lock);
}

static void fill_pending(exporter *e, exporter_counts *out) {
  queue_stats qs = queue_get_stats(e->q);
  out->pending = queue_get_dest_stats(e->q, e->slot).pending;
  out->dropped += qs.dropped_full + qs.dropped_old;
}

exporter_counts exporter_get_counts(exporter *e) {
  pthread_mutex_lock(&e->lock);
  exporter_counts c = e->counts;
  pthread_mutex_unlock(&e->lock);
  fill_pending(e, &c);
  return c;
}

void exporter_flush(exporter *e, long timeout_ms, exporter_counts *out) {
  uint64_t goal = queue_get_stats(e->q).last_seq;
  struct timespec until = wallclock_deadline(timeout_ms > 0 ? timeout_ms : 0);
  pthread_mutex_lock(&e->lock);
  while (e->started && !e->stopping && e->target && !e->refused && !e->no_http &&
         (e->target->send || e->target->discard)) {
    /* records dropped for space also count as answered: they will never be */
    if (e->answered_seq >= goal || queue_get_dest_stats(e->q, e->slot).done_seq >= goal) break;
    if (pthread_cond_timedwait(&e->progress, &e->lock, &until) == ETIMEDOUT) break;
  }
  *out = e->counts;
  pthread_mutex_unlock(&e->lock);
  fill_pending(e, out);
}

void exporter_stop(exporter *e, long timeout_ms) {
  exporter_counts ignored;
  if (timeout_ms > 0) exporter_flush(e, timeout_ms, &ignored);
  pthread_mutex_lock(&e->lock);
  bool join = e->started && !e->stopping;
  e->stopping = true;
  __atomic_store_n(&e->abort_transfer, 1, __ATOMIC_RELAXED);
  pthread_cond_broadcast(&e->wake);
  pthread_cond_broadcast(&e->progress); /* a flush waiting for the backend returns now */
  pthread_mutex_unlock(&e->lock);
  http_abort(&e->abort_transfer); /* a request in flight stops now, not at curl's next tick */
  if (join) pthread_join(e->thread, NULL);
  /* Stopped, not dead: a later exporter_notify starts a new thread (OpenCode may dispose an
   * instance and create another in the same process). */
  pthread_mutex_lock(&e->lock);
  e->started = false;
  e->stopping = false;
  __atomic_store_n(&e->abort_transfer, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&e->lock);
}

void exporter_free(exporter *e) {
  if (!e) return;
  exporter_stop(e, 0);
  exporter_target_free(e->target);
  pthread_cond_destroy(&e->wake);
  pthread_cond_destroy(&e->progress);
  pthread_mutex_destroy(&e->lock);
  free(e);
}
