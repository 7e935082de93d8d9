/* exporter tests: real encoded spans from a queue to the in-test collector (server.h), with
 * scripted failures: retries, Retry-After, permanent errors, partial success, a backend that
 * never answers, targets that do not send, and targets swapped while running. */
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include "check.h"
#include "exporter.h"
#include "log.h"
#include "otlp.h"
#include "outcome.h"
#include "server.h"

#define WAIT_MS 5000 /* upper bound for anything that should happen at once */

static char log_path[256];

/* The span with id n (nonzero, distinct per n), encoded and queued. */
static void span_id_for(uint32_t n, uint8_t id[8]) {
  memcpy(id, "\x5a\x00\x00\x00", 4);
  for (int i = 0; i < 4; i++) id[4 + i] = (uint8_t)(n >> (24 - 8 * i));
}

static uint8_t *encode_span(uint32_t n, size_t *len) {
  span *s = span_new("test span");
  memset(s->trace_id, 0xab, sizeof s->trace_id);
  span_id_for(n, s->span_id);
  s->start_ns = 1700000000000000000ull + n;
  s->end_ns = s->start_ns + 1000;
  span_set_string(s, "openinference.span.kind", "CHAIN");
  uint8_t *bytes = NULL;
  CHECK(otlp_encode_span(s, &bytes, len) == 0);
  span_free(s);
  return bytes;
}

static void push_span(queue *q, uint32_t n) {
  size_t len = 0;
  uint8_t *bytes = encode_span(n, &len);
  CHECK(queue_push(q, bytes, len) != 0);
}

/* Spans first..first+n-1, handed over together (as one reconcile does: one group commit, so
 * one batch however busy the machine), and the exporter told. */
static void push_spans(queue *q, exporter *e, uint32_t first, uint32_t n) {
  uint8_t *data[64];
  size_t lens[64];
  CHECK(n <= 64);
  for (uint32_t i = 0; i < n && i < 64; i++) data[i] = encode_span(first + i, &lens[i]);
  CHECK(queue_hand_over(q, data, lens, NULL, n, NULL, 0) == 0);
  exporter_notify(e);
}

static bool accepted_all(test_server *srv, uint32_t first, uint32_t n) {
  uint8_t id[8];
  for (uint32_t i = 0; i < n; i++) {
    span_id_for(first + i, id);
    if (!server_accepted_span(srv, id)) return false;
  }
  return true;
}

/* A target for url with fast retries (so the tests are fast), gzip on. Owned by the caller
 * until exporter_set_target. */
static exporter_target *target_for(const char *url) {
  char *headers[] = {"x-test-header: present"};
  exporter_target t = {
      .send = true,
      .url = (char *)url,
      .headers = headers,
      .n_headers = 1,
      .service_name = "test",
      .project_name = "test-project",
      .version = "0.0.1",
      .settings = {
          .gzip = true, .timeout_ms = 10000, .retry_initial_ms = 20, .retry_max_ms = 5000}};
  return exporter_target_copy(&t);
}

typedef struct {
  queue *q;
  exporter *e;
} pipeline;

static pipeline pipeline_to(const char *url) {
  pipeline p = {.q = queue_new(1 << 24)};
  p.e = exporter_new(p.q);
  if (url) exporter_set_target(p.e, target_for(url));
  return p;
}

static void pipeline_free(pipeline *p) {
  exporter_free(p->e);
  queue_free(p->q);
}

static char *read_log(void) {
  FILE *f = fopen(log_path, "rb");
  if (!f) return strdup("");
  char *text = malloc(1 << 20);
  size_t n = fread(text, 1, (1 << 20) - 1, f);
  text[n] = '\0';
  fclose(f);
  return text;
}

/* Empties the log, so a test reads only its own lines. */
static void clear_log(void) { CHECK(truncate(log_path, 0) == 0); }

/* ---- tests ----------------------------------------------------------------------- */

static void test_spans_reach_the_backend_and_flush_reports_them(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 5);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 5);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.dropped, 0);
  CHECK_INT(c.requests, 1);
  CHECK_INT(c.failed_requests, 0);
  CHECK_INT(c.last_status, 200);
  CHECK(c.last_export_ms > 0);
  CHECK_STR(c.last_error, "");
  CHECK_INT(server_spans(&srv), 5);
  CHECK(accepted_all(&srv, 1, 5));
  const server_request *r = server_request_at(&srv, 0);
  CHECK(r && r->gzip && r->decoded);
  CHECK(r && strcmp(r->path, "/v1/traces") == 0);
  char value[64] = "";
  CHECK(r && server_header(r, "x-test-header", value, sizeof value));
  CHECK_STR(value, "present");
  pipeline_free(&p);
  server_free(&srv);
}

static void test_flush_with_nothing_queued_returns_at_once(void) {
  pipeline p = pipeline_to("http://127.0.0.1:9/v1/traces");
  double start = server_now_ms();
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK(server_now_ms() - start < 500);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.requests, 0);
  CHECK_INT(c.last_status, -1);
  pipeline_free(&p);
}

static void test_503_is_retried_until_everything_arrives(void) {
  test_server srv;
  server_reply script[] = {{.status = 503}, {.status = 503, .retry_after = "0"}, {.status = 429}};
  CHECK(server_start(&srv, script, 3) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 7);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 7);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.dropped, 0);
  CHECK_INT(c.requests, 4);
  CHECK_INT(c.failed_requests, 3);
  CHECK_INT(c.retries, 3);
  CHECK_INT(c.last_status, 200);
  CHECK_STR(c.last_error, "");
  CHECK_INT(server_requests(&srv), 4);
  CHECK_INT(server_spans(&srv), 7); /* the 503s saw them too, but only the 200 accepted */
  CHECK(accepted_all(&srv, 1, 7));
  pipeline_free(&p);
  server_free(&srv);
}

/* A backlog goes out batch after batch, the next one prepared while one is sent: in queue
 * order, each span accepted exactly once, also when a batch fails while the one after it is
 * being prepared (both go back to the queue; the failed one is sent again first). */
static void test_a_backlog_goes_in_order_once_when_a_batch_fails_midway(void) {
  test_server srv;
  server_reply script[] = {{.status = 200}, {.status = 503, .retry_after = "0"}};
  CHECK(server_start(&srv, script, 2) == 0);
  pipeline p = pipeline_to(srv.url);
  uint32_t total = 3 * EXPORTER_BATCH_MAX_SPANS - 100; /* three batches */
  for (uint32_t i = 1; i <= total; i++) push_span(p.q, i);
  exporter_notify(p.e);
  exporter_counts c;
  exporter_flush(p.e, 4 * WAIT_MS, &c);
  CHECK_INT(c.exported, total);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.dropped, 0);
  CHECK_INT(c.requests, 4);
  CHECK_INT(c.failed_requests, 1);
  CHECK(accepted_all(&srv, 1, total));
  size_t accepted = 0;
  uint8_t expect[8];
  for (size_t i = 0; i < server_requests(&srv); i++) {
    const server_request *r = server_request_at(&srv, i);
    if (!r || r->answered != 200) continue;
    span_id_for((uint32_t)accepted + 1, expect); /* each batch starts where the last ended */
    CHECK(r->n_spans > 0 && memcmp(r->span_ids[0], expect, 8) == 0);
    accepted += r->n_spans;
  }
  CHECK_INT(accepted, total); /* none twice */
  pipeline_free(&p);
  server_free(&srv);
}

static void test_retry_after_is_honoured(void) {
  test_server srv;
  server_reply script[] = {{.status = 503, .retry_after = "1"}};
  CHECK(server_start(&srv, script, 1) == 0);
  pipeline p = pipeline_to(srv.url); /* backoff 20 ms: the wait is the server's */
  push_spans(p.q, p.e, 1, 2);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 2);
  CHECK_INT(c.retries, 1);
  CHECK_INT(server_requests(&srv), 2);
  const server_request *first = server_request_at(&srv, 0), *second = server_request_at(&srv, 1);
  double gap = first && second ? second->at_ms - first->at_ms : 0;
  CHECK(gap >= 950 && gap < 2500);
  pipeline_free(&p);
  server_free(&srv);
}

/* A backend that echoes what it was sent: the secret header's value is masked in the error,
 * the log and the counters; a header typed not secret (the project name) stays readable. */
static void test_only_secret_header_values_are_masked_in_an_echoed_error(void) {
  test_server srv;
  server_reply script[] = {
      {.status = 400, .body = "project my-project-name: key phx-secret-7890 refused"}};
  CHECK(server_start(&srv, script, 1) == 0);
  pipeline p = pipeline_to(NULL);
  char *headers[] = {"x-project-name: my-project-name", "authorization: Bearer phx-secret-7890"};
  bool secret[] = {false, true};
  exporter_target t = {
      .send = true,
      .url = srv.url,
      .headers = headers,
      .header_secret = secret,
      .n_headers = 2,
      .service_name = "test",
      .project_name = "my-project-name",
      .version = "0.0.1",
      .settings = {
          .gzip = true, .timeout_ms = 10000, .retry_initial_ms = 20, .retry_max_ms = 5000}};
  exporter_set_target(p.e, exporter_target_copy(&t));
  push_spans(p.q, p.e, 1, 1);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.last_status, 400);
  CHECK_STR(c.last_error, "HTTP 400: project my-project-name: key <redacted> refused");
  char *log = read_log();
  CHECK(strstr(log, "phx-secret-7890") == NULL);
  CHECK(strstr(log, "project my-project-name") != NULL);
  free(log);
  pipeline_free(&p);
  server_free(&srv);
}

/* A backend's answer may echo a secret that is not ours (a token from a request dump): the
 * built-in detectors mask it in the error, the status and the log, for an answer that is
 * retried (503) as for one that is final (500). */
static void test_other_secrets_in_an_answer_never_reach_the_log(void) {
  test_server srv;
  server_reply script[] = {
      {.status = 503,
       .retry_after = "0",
       .body = "busy; saw GITHUB_TOKEN=ghp_R3tryB0dyS3cr3tR3tryB0dyS3cr3t12"},
      {.status = 500, .body = "db down; request had ghp_F1nalB0dyS3cr3tF1nalB0dyS3cr3t1234"}};
  CHECK(server_start(&srv, script, 2) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 1);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.last_status, 500);
  CHECK(strstr(c.last_error, "ghp_") == NULL);
  CHECK(strstr(c.last_error, "<redacted:github-token>") != NULL);
  char *log = read_log();
  CHECK(strstr(log, "R3tryB0dyS3cr3t") == NULL);
  CHECK(strstr(log, "F1nalB0dyS3cr3t") == NULL);
  CHECK(strstr(log, "db down; request had <redacted:github-token>") != NULL);
  free(log);
  pipeline_free(&p);
  server_free(&srv);
}

static void test_400_drops_the_batch_and_later_spans_still_go(void) {
  test_server srv;
  server_reply script[] = {{.status = 400, .body = "invalid span: no name\nsecond line"}};
  CHECK(server_start(&srv, script, 1) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 3);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 0);
  CHECK_INT(c.dropped, 3);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.retries, 0);
  CHECK_INT(c.failed_requests, 1);
  CHECK_INT(c.last_status, 400);
  CHECK_STR(c.last_error, "HTTP 400: invalid span: no name");
  char *log = read_log();
  CHECK(strstr(log, "invalid span: no name") != NULL);
  free(log);

  push_spans(p.q, p.e, 10, 2); /* the exporter is idle now: it must wake for these */
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 2);
  CHECK_INT(c.dropped, 3);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.last_status, 200);
  CHECK_STR(c.last_error, "");
  CHECK(accepted_all(&srv, 10, 2));
  pipeline_free(&p);
  server_free(&srv);
}

/* An ExportTraceServiceResponse body with partial_success.rejected_spans = rejected. */
static size_t partial_success(int64_t rejected, uint8_t *out, size_t cap) {
  Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
  ps.rejected_spans = rejected;
  ps.error_message = "span too old";
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
  resp.partial_success = &ps;
  size_t len =
      opentelemetry__proto__collector__trace__v1__export_trace_service_response__get_packed_size(
          &resp);
  CHECK(len <= cap);
  return opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp,
                                                                                         out);
}

static void test_partial_success_rejections_count_as_dropped(void) {
  uint8_t body[128];
  size_t len = partial_success(2, body, sizeof body);
  test_server srv;
  server_reply script[] = {{.status = 200, .body = body, .body_len = len}};
  CHECK(server_start(&srv, script, 1) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 5);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 3);
  CHECK_INT(c.dropped, 2);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.failed_requests, 0);
  char *log = read_log();
  CHECK(strstr(log, "span too old") != NULL);
  free(log);
  pipeline_free(&p);
  server_free(&srv);
}

/* A 2xx whose body rejects some spans is a refusal of those spans: the log says "rejected N
 * of M spans", never "exported", and status().last_export.error says why. */
static void test_partial_success_is_reported_as_a_rejection_not_an_export(void) {
  uint8_t body[128];
  size_t len = partial_success(2, body, sizeof body);
  test_server srv;
  server_reply script[] = {{.status = 200, .body = body, .body_len = len}};
  CHECK(server_start(&srv, script, 1) == 0);
  clear_log();
  log_set_verbose(true); /* the "exported" line is a debug line */
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 5);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK(strstr(c.last_error, "rejected 2 of 5 spans: span too old") != NULL);
  char *log = read_log();
  CHECK(strstr(log, "rejected 2 of 5 spans: span too old") != NULL);
  CHECK(strstr(log, "exported 5 spans") == NULL);
  free(log);
  log_set_verbose(false);
  pipeline_free(&p);
  server_free(&srv);
}

static void test_nonsense_rejected_counts_stay_within_the_batch(void) {
  uint8_t negative[128], too_many[128];
  size_t negative_len = partial_success(-4, negative, sizeof negative);
  size_t too_many_len = partial_success(1000, too_many, sizeof too_many);
  test_server srv;
  server_reply script[] = {{.status = 200, .body = negative, .body_len = negative_len},
                           {.status = 200, .body = too_many, .body_len = too_many_len}};
  CHECK(server_start(&srv, script, 2) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 3);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 3); /* a negative count rejects nothing */
  CHECK_INT(c.dropped, 0);
  push_spans(p.q, p.e, 10, 3);
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 3); /* more than were sent rejects the batch, no more */
  CHECK_INT(c.dropped, 3);
  pipeline_free(&p);
  server_free(&srv);
}

/* A 413 halves the batch until it passes, and one span refused alone is dropped with its
 * size in the log; nothing else is lost or sent twice. */
static void test_413_splits_the_batch_and_drops_only_a_lone_span_too_large(void) {
  test_server srv;
  server_reply script[] = {
      {.status = 413}, {.status = 413}, {.status = 0}, {.status = 0}, {.status = 413}};
  CHECK(server_start(&srv, script, 5) == 0);
  pipeline p = pipeline_to(srv.url);
  clear_log();
  push_spans(p.q, p.e, 1, 4); /* 4: 413; 2: 413; 1: ok; 1: ok; 1: 413, dropped; 1: ok */
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.exported, 3);
  CHECK_INT(c.dropped, 1);
  CHECK(accepted_all(&srv, 1, 2));
  CHECK(accepted_all(&srv, 4, 1));
  CHECK_INT(server_requests(&srv), 6);
  char *log = read_log();
  CHECK(strstr(log, "as too large (HTTP 413); sending batches of at most") != NULL);
  CHECK(strstr(log, "refused a single span of ") != NULL);
  free(log);
  pipeline_free(&p);
  server_free(&srv);
}

/* 401/403 keep the spans (not dropped, not retried) until the target changes; then they go. */
static void test_refused_key_keeps_spans_until_the_target_changes(void) {
  test_server srv;
  server_reply script[] = {{.status = 401, .body = "bad key"}};
  CHECK(server_start(&srv, script, 1) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 3);
  CHECK(server_wait_requests(&srv, 1, WAIT_MS));
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c); /* returns at once: nothing can be sent now */
  CHECK_INT(c.pending, 3);
  CHECK_INT(c.dropped, 0);
  CHECK(c.key_refused);
  CHECK_INT(c.last_status, 401);
  usleep(200 * 1000);
  CHECK_INT(server_requests(&srv), 1);           /* no retries against a refused key */
  exporter_set_target(p.e, target_for(srv.url)); /* a config reload */
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 3);
  CHECK_INT(c.pending, 0);
  CHECK(!c.key_refused);
  CHECK(accepted_all(&srv, 1, 3));
  pipeline_free(&p);
  server_free(&srv);
}

static void test_silent_backend_flush_times_out_and_stop_aborts_the_send(void) {
  test_server srv;
  server_reply script[] = {{.hang = true}};
  CHECK(server_start(&srv, script, 1) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 4);
  CHECK(server_wait_requests(&srv, 1, WAIT_MS));
  double start = server_now_ms();
  exporter_counts c;
  exporter_flush(p.e, 200, &c);
  double flushed = server_now_ms() - start;
  CHECK(flushed >= 190 && flushed < 1000);
  CHECK_INT(c.pending, 4);
  CHECK_INT(c.exported, 0);

  start = server_now_ms();
  exporter_stop(p.e, 100);
  double stopped = server_now_ms() - start;
  /* not the 10 s request timeout; libcurl runs the abort check ~1 s apart on an idle transfer */
  CHECK(stopped < 1500);
  c = exporter_get_counts(p.e);
  CHECK_INT(c.pending, 4);
  CHECK_INT(c.exported, 0);
  CHECK_INT(c.dropped, 0);
  CHECK_INT(queue_get_stats(p.q).records, 4);
  CHECK_INT(server_requests(&srv), 1);
  /* what status, the log's exit line and last-export.json then say: what happened, not
   * libcurl's "Operation was aborted by an application callback" */
  CHECK(strstr(c.last_error, "no answer from the backend before tracing stopped") != NULL);
  CHECK(strstr(c.last_error, "callback") == NULL);
  pipeline_free(&p);
  server_free(&srv);
}

static void test_target_that_does_not_send_keeps_spans_and_flush_returns_at_once(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  pipeline p = pipeline_to(NULL);
  exporter_target *t = target_for(srv.url);
  t->send = false;
  exporter_set_target(p.e, t);
  push_spans(p.q, p.e, 1, 3);
  double start = server_now_ms();
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK(server_now_ms() - start < 500);
  CHECK_INT(c.pending, 3);
  CHECK_INT(c.requests, 0);
  CHECK_INT(server_requests(&srv), 0);

  /* a target that sends (credentials added later): the queued spans go */
  exporter_set_target(p.e, target_for(srv.url));
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 3);
  CHECK_INT(c.pending, 0);
  CHECK(accepted_all(&srv, 1, 3));
  pipeline_free(&p);
  server_free(&srv);
}

static void test_dry_run_target_drops_spans_without_sending(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  pipeline p = pipeline_to(NULL);
  exporter_target *t = target_for(srv.url);
  t->send = false;
  t->discard = true;
  exporter_set_target(p.e, t);
  push_spans(p.q, p.e, 1, 3);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.pending, 0);
  CHECK_INT(c.exported, 0);
  CHECK_INT(c.requests, 0);
  CHECK_INT(server_requests(&srv), 0);
  pipeline_free(&p);
  server_free(&srv);
}

static void test_stop_then_notify_starts_again_and_delivers(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  pipeline p = pipeline_to(srv.url);
  push_spans(p.q, p.e, 1, 2);
  exporter_stop(p.e, WAIT_MS); /* flushes first */
  CHECK(accepted_all(&srv, 1, 2));
  exporter_stop(p.e, WAIT_MS); /* idempotent */

  push_span(p.q, 10);
  exporter_counts c;
  exporter_flush(p.e, 100, &c); /* stopped: nothing can be sent */
  CHECK_INT(c.pending, 1);
  exporter_notify(p.e);
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 3);
  CHECK_INT(c.pending, 0);
  CHECK(accepted_all(&srv, 10, 1));
  pipeline_free(&p);
  server_free(&srv);
}

static void test_swapped_target_is_used_for_the_next_batch(void) {
  test_server first, second;
  CHECK(server_start(&first, NULL, 0) == 0);
  CHECK(server_start(&second, NULL, 0) == 0);
  pipeline p = pipeline_to(first.url);
  push_spans(p.q, p.e, 1, 2);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 2);

  exporter_set_target(p.e, target_for(second.url));
  push_spans(p.q, p.e, 10, 3);
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 5);
  CHECK_INT(server_spans(&first), 2);
  CHECK_INT(server_spans(&second), 3);
  CHECK(accepted_all(&second, 10, 3));
  pipeline_free(&p);
  server_free(&first);
  server_free(&second);
}

static void test_swapped_target_cuts_a_long_backoff_short(void) {
  test_server failing, working;
  server_reply script[] = {{.status = 503, .retry_after = "30"}};
  CHECK(server_start(&failing, script, 1) == 0);
  CHECK(server_start(&working, NULL, 0) == 0);
  exporter_target *t = target_for(failing.url);
  t->settings.retry_max_ms = 60000; /* so the 30 s Retry-After is obeyed */
  pipeline p = pipeline_to(NULL);
  exporter_set_target(p.e, t);
  push_spans(p.q, p.e, 1, 2);
  CHECK(server_wait_requests(&failing, 1, WAIT_MS));

  /* the user fixes the endpoint: the new one is tried now, not in 30 s */
  double start = server_now_ms();
  exporter_set_target(p.e, target_for(working.url));
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK(server_now_ms() - start < 2000);
  CHECK_INT(c.exported, 2);
  CHECK(accepted_all(&working, 1, 2));
  CHECK_INT(server_requests(&failing), 1);
  pipeline_free(&p);
  server_free(&failing);
  server_free(&working);
}

static void test_credentials_in_the_url_stay_out_of_the_log(void) {
  test_server srv;
  server_reply script[] = {{.status = 503}};
  CHECK(server_start(&srv, script, 1) == 0);
  char url[128];
  snprintf(url, sizeof url, "http://user:hunter2-secret@127.0.0.1:%d/v1/traces", srv.port);
  pipeline p = pipeline_to(url);
  clear_log();
  push_spans(p.q, p.e, 1, 1);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, 1);
  CHECK_INT(c.retries, 1);
  char *log = read_log();
  CHECK(strstr(log, "retry") != NULL);          /* the retry was logged ... */
  CHECK(strstr(log, "hunter2-secret") == NULL); /* ... without the password */
  free(log);
  pipeline_free(&p);
  server_free(&srv);
}

#ifdef __linux__
/* A backlog records its outcome for `status` (outcome.h) when it has been sent, and when the
 * answer changes, not after each request: two file replaces per request cost the send path
 * more than a request to a fast backend. What is recorded at the end is the whole backlog. */
static void test_a_backlog_records_its_outcome_when_sent_not_per_request(void) {
  char dir[] = "/tmp/test_exporter_outcome.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  outcome_open(dir, "test");
  int watch = inotify_init1(IN_NONBLOCK);
  CHECK(watch >= 0 && inotify_add_watch(watch, dir, IN_CREATE) >= 0);
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  pipeline p = pipeline_to(srv.url);
  /* 8 batches of EXPORTER_BATCH_MAX_SPANS, all queued before the exporter looks */
  uint32_t total = 8 * EXPORTER_BATCH_MAX_SPANS;
  for (uint32_t first = 1; first <= total; first += 64) {
    uint8_t *data[64];
    size_t lens[64];
    for (uint32_t i = 0; i < 64; i++) data[i] = encode_span(first + i, &lens[i]);
    CHECK(queue_hand_over(p.q, data, lens, NULL, 64, NULL, 0) == 0);
  }
  exporter_notify(p.e);
  exporter_counts c;
  exporter_flush(p.e, WAIT_MS, &c);
  CHECK_INT(c.exported, total);
  CHECK_INT(c.requests, 8);
  /* how often last-export.json was replaced: each replace writes a temp file first */
  char events[64 * 1024];
  int replaced = 0;
  ssize_t got;
  while ((got = read(watch, events, sizeof events)) > 0)
    for (char *at = events; at < events + got;) {
      struct inotify_event *ev = (struct inotify_event *)at;
      if (ev->len && strncmp(ev->name, ".last-export.json.", 18) == 0) replaced++;
      at += sizeof *ev + ev->len;
    }
  close(watch);
  CHECK(replaced >= 1 && replaced < 8);
  /* the process counters `status` reads say the whole backlog went */
  char path[300];
  snprintf(path, sizeof path, "%s/processes/%ld.json", dir, (long)getpid());
  FILE *f = fopen(path, "rb");
  char text[1024] = "";
  if (f) text[fread(text, 1, sizeof text - 1, f)] = '\0', fclose(f);
  char want[64];
  snprintf(want, sizeof want, "\"exported\":%u", total);
  CHECK(strstr(text, "\"requests\":8,") != NULL && strstr(text, want) != NULL);
  pipeline_free(&p);
  server_free(&srv);
  outcome_close();
  outcome_open(NULL, NULL);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0);
}
#endif

int main(void) {
  char dir[] = "/tmp/test_exporter.XXXXXX";
  if (!mkdtemp(dir)) return 1;
  snprintf(log_path, sizeof log_path, "%s/exporter.log", dir);
  log_open(log_path); /* the exporter's warnings go here, not into the test output */
  RUN(test_spans_reach_the_backend_and_flush_reports_them);
  RUN(test_flush_with_nothing_queued_returns_at_once);
  RUN(test_503_is_retried_until_everything_arrives);
  RUN(test_retry_after_is_honoured);
  RUN(test_a_backlog_goes_in_order_once_when_a_batch_fails_midway);
  RUN(test_400_drops_the_batch_and_later_spans_still_go);
  RUN(test_only_secret_header_values_are_masked_in_an_echoed_error);
  RUN(test_other_secrets_in_an_answer_never_reach_the_log);
  RUN(test_partial_success_rejections_count_as_dropped);
  RUN(test_partial_success_is_reported_as_a_rejection_not_an_export);
  RUN(test_nonsense_rejected_counts_stay_within_the_batch);
  RUN(test_silent_backend_flush_times_out_and_stop_aborts_the_send);
  RUN(test_413_splits_the_batch_and_drops_only_a_lone_span_too_large);
  RUN(test_refused_key_keeps_spans_until_the_target_changes);
  RUN(test_target_that_does_not_send_keeps_spans_and_flush_returns_at_once);
  RUN(test_dry_run_target_drops_spans_without_sending);
  RUN(test_stop_then_notify_starts_again_and_delivers);
  RUN(test_swapped_target_is_used_for_the_next_batch);
  RUN(test_swapped_target_cuts_a_long_backoff_short);
  RUN(test_credentials_in_the_url_stay_out_of_the_log);
#ifdef __linux__
  RUN(test_a_backlog_records_its_outcome_when_sent_not_per_request);
#endif
  log_close();
  unlink(log_path);
  rmdir(dir);
  return check_done();
}
