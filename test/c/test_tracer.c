/* tracer tests: the whole library as binding.c drives it — environment and config file in, a
 * shared OpenCode capture reconciled, spans out to the in-test collector (server.h), and what
 * the log file and the status JSON say (never a secret). Each test has its own HOME. */
#include <ftw.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "log.h"
#include "server.h"
#include "tracer.h"

#define WAIT_MS 5000 /* upper bound for anything that should happen at once */
#define ONE_BASH "one-bash-call/snap-3-session.idle.json"
#define ONE_BASH_SPANS 4 /* turn, LLM, tool, LLM */

/* A temporary HOME and the environment entries that point at it. */
typedef struct {
  char dir[64];
  char home_entry[96]; /* "HOME=..." */
  char log_path[160];
  char config_path[160];
} home;

static void home_new(home *h) {
  snprintf(h->dir, sizeof h->dir, "/tmp/test_tracer.XXXXXX");
  CHECK(mkdtemp(h->dir) != NULL);
  snprintf(h->home_entry, sizeof h->home_entry, "HOME=%s", h->dir);
  snprintf(h->log_path, sizeof h->log_path, "%s/.arize/harness/logs/opencode.log", h->dir);
  snprintf(h->config_path, sizeof h->config_path, "%s/.arize/harness/config.yaml", h->dir);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void home_remove(home *h) { nftw(h->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* The whole file as text ("" when absent); caller frees. */
static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return strdup("");
  char *text = malloc(1 << 20);
  size_t n = fread(text, 1, (1 << 20) - 1, f);
  text[n] = '\0';
  fclose(f);
  return text;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static size_t lines_containing(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char *copy = strndup(line, len);
    n += strstr(copy, needle) != NULL;
    free(copy);
    line += len + (end ? 1 : 0);
  }
  return n;
}

/* The status JSON, parsed (caller decrefs); text gets the raw text when non-NULL (caller
 * frees). */
static json_t *status_of(tracer *t, char **text) {
  char *raw = tracer_status_json(t);
  CHECK(raw != NULL);
  json_t *status = raw ? json_loads(raw, 0, NULL) : NULL;
  CHECK(status != NULL);
  if (text) *text = raw;
  else free(raw);
  return status;
}

static const char *status_string(json_t *status, const char *group, const char *key) {
  json_t *g = group ? json_object_get(status, group) : status;
  return json_string_value(json_object_get(g, key));
}

static long long status_int(json_t *status, const char *group, const char *key) {
  return json_integer_value(json_object_get(json_object_get(status, group), key));
}

static int reconcile_fixture(tracer *t, const char *path, reconcile_result *r) {
  char *payload = fixture_payload(path, "close");
  CHECK(payload != NULL);
  int rc = payload ? tracer_reconcile(t, payload, strlen(payload), r) : -99;
  free(payload);
  return rc;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_fixture_spans_reach_phoenix_with_the_project_header(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  home h;
  home_new(&h);
  char endpoint[96];
  snprintf(endpoint, sizeof endpoint, "PHOENIX_ENDPOINT=http://127.0.0.1:%d", srv.port);
  const char *env[] = {h.home_entry, endpoint, NULL};
  tracer *t = tracer_open(env, "1.2.3");
  CHECK(t != NULL);

  reconcile_result r;
  CHECK_INT(reconcile_fixture(t, ONE_BASH, &r), 0);
  CHECK_INT(r.spans, ONE_BASH_SPANS);
  exporter_counts c;
  tracer_flush(t, WAIT_MS, &c);
  CHECK_INT(c.exported, ONE_BASH_SPANS);
  CHECK_INT(c.pending, 0);
  CHECK_INT(server_spans(&srv), ONE_BASH_SPANS);
  const server_request *req = server_request_at(&srv, 0);
  char value[64] = "";
  CHECK(req && server_header(req, "x-project-name", value, sizeof value));
  CHECK_STR(value, "opencode");
  CHECK(req && strcmp(req->path, "/v1/traces") == 0 && req->gzip && req->decoded);

  /* the same snapshot again: nothing is new */
  CHECK_INT(reconcile_fixture(t, ONE_BASH, &r), 0);
  CHECK_INT(r.spans, 0);
  tracer_flush(t, WAIT_MS, &c);
  CHECK_INT(c.exported, ONE_BASH_SPANS);
  CHECK_INT(server_requests(&srv), 1);

  json_t *status = status_of(t, NULL);
  CHECK_STR(status_string(status, NULL, "state"), "sending");
  CHECK_STR(status_string(status, "backend", "target"), "phoenix");
  CHECK_INT(status_int(status, "counters", "payloads"), 2);
  CHECK_INT(status_int(status, "counters", "spans_queued"), ONE_BASH_SPANS);
  CHECK_INT(status_int(status, "counters", "spans_exported"), ONE_BASH_SPANS);
  json_decref(status);
  tracer_free(t);
  server_free(&srv);
  home_remove(&h);
}

static void test_disabled_tracing_sends_nothing_and_says_so_once(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  home h;
  home_new(&h);
  char endpoint[96];
  snprintf(endpoint, sizeof endpoint, "PHOENIX_ENDPOINT=http://127.0.0.1:%d", srv.port);
  const char *env[] = {h.home_entry, endpoint, "ARIZE_TRACE_ENABLED=false", NULL};
  tracer *t = tracer_open(env, "1.2.3");
  CHECK(t != NULL);
  for (int i = 0; i < 3; i++) {
    reconcile_result r;
    CHECK_INT(reconcile_fixture(t, ONE_BASH, &r), 0);
    CHECK_INT(r.spans, 0);
    tracer_refresh(t);
    json_decref(status_of(t, NULL));
  }
  double start = server_now_ms();
  exporter_counts c;
  tracer_flush(t, WAIT_MS, &c);
  CHECK(server_now_ms() - start < 500);
  CHECK_INT(c.pending, 0);
  CHECK_INT(server_requests(&srv), 0);
  json_t *status = status_of(t, NULL);
  CHECK_STR(status_string(status, NULL, "state"), "disabled");
  CHECK(json_is_false(json_object_get(status, "enabled")));
  CHECK_INT(status_int(status, "counters", "spans_queued"), 0);
  json_decref(status);
  char *log = read_text(h.log_path);
  CHECK_INT(lines_containing(log, "tracing is disabled"), 1);
  free(log);
  tracer_free(t);
  server_free(&srv);
  home_remove(&h);
}

static void test_malformed_payload_is_rejected_logged_once_and_counted(void) {
  home h;
  home_new(&h);
  const char *env[] = {h.home_entry, NULL};
  tracer *t = tracer_open(env, "1.2.3");
  CHECK(t != NULL);
  const char *payload = "{\"type\": \"close\", \"sessionID\": ";
  reconcile_result r;
  CHECK_INT(tracer_reconcile(t, payload, strlen(payload), &r), -1);
  CHECK_INT(r.spans, 0);
  CHECK(r.error[0] != '\0');
  char *log = read_text(h.log_path);
  CHECK_INT(lines_containing(log, "payload rejected"), 1);
  free(log);
  json_t *status = status_of(t, NULL);
  CHECK_INT(status_int(status, "counters", "payloads"), 1);
  CHECK_INT(status_int(status, "counters", "rejected_payloads"), 1);
  CHECK_INT(status_int(status, "counters", "spans_queued"), 0);
  CHECK_STR(status_string(status, NULL, "last_rejection"), r.error);
  json_decref(status);
  tracer_free(t);
  home_remove(&h);
}

static void test_secrets_reach_the_backend_but_never_the_status_or_the_log(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  home h;
  home_new(&h);
  char endpoint[96];
  snprintf(endpoint, sizeof endpoint, "ARIZE_OTLP_ENDPOINT=http://127.0.0.1:%d", srv.port);
  const char *env[] = {h.home_entry, endpoint, "ARIZE_API_KEY=secret-key-123",
                       "ARIZE_SPACE_ID=space-id-456", NULL};
  tracer *t = tracer_open(env, "1.2.3");
  CHECK(t != NULL);
  reconcile_result r;
  CHECK_INT(reconcile_fixture(t, ONE_BASH, &r), 0);
  exporter_counts c;
  tracer_flush(t, WAIT_MS, &c);
  CHECK_INT(c.exported, ONE_BASH_SPANS);

  const server_request *req = server_request_at(&srv, 0);
  char value[64] = "";
  CHECK(req && server_header(req, "api_key", value, sizeof value));
  CHECK_STR(value, "secret-key-123");
  CHECK(req && server_header(req, "authorization", value, sizeof value));
  CHECK_STR(value, "secret-key-123");
  CHECK(req && server_header(req, "arize-space-id", value, sizeof value));
  CHECK_STR(value, "space-id-456");

  char *text = NULL;
  json_t *status = status_of(t, &text);
  CHECK_STR(status_string(status, "backend", "target"), "arize");
  CHECK(text && !strstr(text, "secret-key-123"));
  CHECK(text && !strstr(text, "space-id-456"));
  json_decref(status);
  free(text);
  tracer_free(t);
  char *log = read_text(h.log_path);
  CHECK(log[0] != '\0');
  CHECK(!strstr(log, "secret-key-123"));
  CHECK(!strstr(log, "space-id-456"));
  free(log);
  server_free(&srv);
  home_remove(&h);
}

static void test_config_file_edit_is_picked_up_without_restart(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  home h;
  home_new(&h);
  const char *env[] = {h.home_entry, NULL};
  tracer *t = tracer_open(env, "1.2.3");
  CHECK(t != NULL);
  json_t *status = status_of(t, NULL);
  CHECK_STR(status_string(status, NULL, "state"), "no-backend");
  json_decref(status);

  /* no backend yet: spans wait in the queue, and flush does not wait for them */
  reconcile_result r;
  CHECK_INT(reconcile_fixture(t, ONE_BASH, &r), 0);
  CHECK_INT(r.spans, ONE_BASH_SPANS);
  double start = server_now_ms();
  exporter_counts c;
  tracer_flush(t, WAIT_MS, &c);
  CHECK(server_now_ms() - start < 500);
  CHECK_INT(c.pending, ONE_BASH_SPANS);

  /* the user adds a backend to the file (the log already made ~/.arize/harness) */
  char yaml[256];
  snprintf(yaml, sizeof yaml,
           "harnesses:\n  opencode:\n    target: phoenix\n    endpoint: http://127.0.0.1:%d\n"
           "    project_name: edited\n",
           srv.port);
  write_text(h.config_path, yaml);
  status = status_of(t, NULL); /* as the plugin's next call would, this re-reads the file */
  CHECK_STR(status_string(status, NULL, "state"), "sending");
  CHECK_STR(status_string(status, "backend", "project"), "edited");
  json_decref(status);
  tracer_flush(t, WAIT_MS, &c);
  CHECK_INT(c.exported, ONE_BASH_SPANS);
  CHECK_INT(c.pending, 0);
  CHECK_INT(server_spans(&srv), ONE_BASH_SPANS);
  const server_request *req = server_request_at(&srv, 0);
  char value[64] = "";
  CHECK(req && server_header(req, "x-project-name", value, sizeof value));
  CHECK_STR(value, "edited");

  /* and edits it again, at once (same second, maybe the same mtime: the size differs) */
  snprintf(yaml, sizeof yaml,
           "harnesses:\n  opencode:\n    target: phoenix\n    endpoint: http://127.0.0.1:%d\n"
           "    project_name: edited-again\n",
           srv.port);
  write_text(h.config_path, yaml);
  tracer_refresh(t);
  status = status_of(t, NULL);
  CHECK_STR(status_string(status, "backend", "project"), "edited-again");
  json_decref(status);
  tracer_free(t);
  server_free(&srv);
  home_remove(&h);
}

static void test_restart_with_the_same_home_sends_nothing_new(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  home h;
  home_new(&h);
  char endpoint[96];
  snprintf(endpoint, sizeof endpoint, "PHOENIX_ENDPOINT=http://127.0.0.1:%d", srv.port);
  const char *env[] = {h.home_entry, endpoint, NULL};
  tracer *t = tracer_open(env, "1.2.3");
  reconcile_result r;
  CHECK_INT(reconcile_fixture(t, ONE_BASH, &r), 0);
  CHECK_INT(r.spans, ONE_BASH_SPANS);
  tracer_shutdown(t, WAIT_MS);
  tracer_free(t);
  CHECK_INT(server_spans(&srv), ONE_BASH_SPANS);

  t = tracer_open(env, "1.2.3"); /* OpenCode restarted: the same snapshot comes again */
  CHECK_INT(reconcile_fixture(t, ONE_BASH, &r), 0);
  CHECK_INT(r.spans, 0);
  tracer_free(t);
  CHECK_INT(server_requests(&srv), 1);
  server_free(&srv);
  home_remove(&h);
}

/* setenv may move the environment array (Node's process.env setter calls it): the tracer reads
 * the one handed over last, never the first (freed here, so ASan sees any read of it). */
static void test_an_environment_handed_over_later_replaces_the_first(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  home h;
  home_new(&h);
  const char **first = calloc(2, sizeof *first);
  first[0] = h.home_entry;
  tracer *t = tracer_open(first, "1.2.3");
  json_t *status = status_of(t, NULL);
  CHECK_STR(status_string(status, NULL, "state"), "no-backend");
  json_decref(status);

  char endpoint[96];
  snprintf(endpoint, sizeof endpoint, "PHOENIX_ENDPOINT=http://127.0.0.1:%d", srv.port);
  const char *now[] = {h.home_entry, endpoint, NULL};
  tracer_set_environment(t, now);
  free(first);
  reconcile_result r;
  CHECK_INT(reconcile_fixture(t, ONE_BASH, &r), 0);
  CHECK_INT(r.spans, ONE_BASH_SPANS);
  exporter_counts c;
  tracer_flush(t, WAIT_MS, &c);
  CHECK_INT(c.exported, ONE_BASH_SPANS);
  CHECK_INT(server_spans(&srv), ONE_BASH_SPANS);
  tracer_free(t);
  server_free(&srv);
  home_remove(&h);
}

/* A reload because the environment changed (a setting's variable flipped in the process) says
 * nothing again about the same version of the user's file: its out-of-range value and its
 * misspelt key are each one line; the file edited (a new version, the same problems), again. */
static void test_a_file_problem_is_said_once_per_version_of_the_file(void) {
  home h;
  home_new(&h);
  char dir[160];
  snprintf(dir, sizeof dir, "%s/.arize", h.dir);
  CHECK(mkdir(dir, 0700) == 0);
  snprintf(dir, sizeof dir, "%s/.arize/harness", h.dir);
  CHECK(mkdir(dir, 0700) == 0);
  const char *file =
      "harnesses:\n  opencode:\n    endpoint: http://127.0.0.1:9\n    projct_name: x\n"
      "export:\n  timeout_ms: 5\n";
  write_text(h.config_path, file);
  const char *first[] = {h.home_entry, NULL};
  tracer *t = tracer_open(first, "1.2.3");
  CHECK(t != NULL);
  const char *hide[] = {h.home_entry, "OPENINFERENCE_HIDE_INPUTS=true", NULL};
  tracer_set_environment(t, hide);
  tracer_refresh(t);
  const char *verbose[] = {h.home_entry, "OPENINFERENCE_HIDE_INPUTS=true", "ARIZE_VERBOSE=1", NULL};
  tracer_set_environment(t, verbose);
  tracer_refresh(t);
  char *log = read_text(h.log_path);
  CHECK_INT(lines_containing(log, "export.timeout_ms is not a whole number"), 1);
  CHECK_INT(lines_containing(log, "projct_name"), 1);
  free(log);
  char *edited = NULL;
  CHECK(asprintf(&edited, "# edited\n%s", file) > 0);
  write_text(h.config_path, edited);
  free(edited);
  tracer_refresh(t);
  log = read_text(h.log_path);
  CHECK_INT(lines_containing(log, "export.timeout_ms is not a whole number"), 2);
  CHECK_INT(lines_containing(log, "projct_name"), 2);
  free(log);
  tracer_free(t);
  home_remove(&h);
}

/* A closed turn of n model calls, each answering `bytes` of text: 1 + n spans. */
static char *long_turn(size_t n, size_t bytes) {
  char *text = malloc(bytes + 1);
  for (size_t i = 0; i < bytes; i++) text[i] = (char)('a' + (i * 7 + i / 13) % 26);
  text[bytes] = '\0';
  json_t *messages = json_array();
  json_array_append_new(messages,
                        json_pack("{s:{s:s, s:s, s:s, s:{s:I}}, s:[{s:s, s:s}]}", "info", "id",
                                  "msg_000000000001", "sessionID", "ses_long", "role", "user",
                                  "time", "created", (json_int_t)1795480000000, "parts", "type",
                                  "text", "text", "a long turn"));
  for (size_t i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "msg_%012zu", i + 2);
    json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:{s:I, s:I}}", "id", id, "sessionID",
                             "ses_long", "role", "assistant", "parentID", "msg_000000000001",
                             "time", "created", (json_int_t)(1795480000000 + 10 * i + 1),
                             "completed", (json_int_t)(1795480000000 + 10 * i + 9));
    json_array_append_new(messages, json_pack("{s:o, s:[{s:s, s:s}]}", "info", info, "parts",
                                              "type", "text", "text", text));
  }
  free(text);
  json_t *payload =
      json_pack("{s:s, s:s, s:o}", "type", "close", "sessionID", "ses_long", "messages", messages);
  char *out = json_dumps(payload, JSON_COMPACT);
  json_decref(payload);
  return out;
}

/* A reconcile of more spans than one export batch goes over in units of one batch (tracer.c
 * queue_batch), each written and sent on its own: every span arrives once, and each unit's
 * marks reach the state, so the same payload after a restart sends nothing. */
static void test_a_reconcile_larger_than_a_batch_is_sent_whole_and_once(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  home h;
  home_new(&h);
  char endpoint[96];
  snprintf(endpoint, sizeof endpoint, "PHOENIX_ENDPOINT=http://127.0.0.1:%d", srv.port);
  const char *env[] = {h.home_entry, endpoint, "ARIZE_SPOOL_FSYNC=false", NULL};
  const size_t calls = 700; /* 701 spans of about 9 KB: over the batch's span and byte limits */
  char *payload = long_turn(calls, 8000);
  tracer *t = tracer_open(env, "1.2.3");
  reconcile_result r;
  CHECK_INT(tracer_reconcile(t, payload, strlen(payload), &r), 0);
  CHECK_INT(r.spans, calls + 1);
  exporter_counts c;
  tracer_flush(t, 4 * WAIT_MS, &c);
  CHECK_INT(c.exported, calls + 1);
  CHECK_INT(c.pending, 0);
  tracer_shutdown(t, WAIT_MS);
  tracer_free(t);
  CHECK_INT(server_spans(&srv), calls + 1);
  size_t requests = server_requests(&srv);
  CHECK(requests >= 2);

  t = tracer_open(env, "1.2.3"); /* restarted: every unit's marks were recorded */
  CHECK_INT(tracer_reconcile(t, payload, strlen(payload), &r), 0);
  CHECK_INT(r.spans, 0);
  tracer_free(t);
  CHECK_INT(server_requests(&srv), requests);
  free(payload);
  server_free(&srv);
  home_remove(&h);
}

int main(void) {
  RUN(test_fixture_spans_reach_phoenix_with_the_project_header);
  RUN(test_disabled_tracing_sends_nothing_and_says_so_once);
  RUN(test_malformed_payload_is_rejected_logged_once_and_counted);
  RUN(test_secrets_reach_the_backend_but_never_the_status_or_the_log);
  RUN(test_config_file_edit_is_picked_up_without_restart);
  RUN(test_restart_with_the_same_home_sends_nothing_new);
  RUN(test_an_environment_handed_over_later_replaces_the_first);
  RUN(test_a_file_problem_is_said_once_per_version_of_the_file);
  RUN(test_a_reconcile_larger_than_a_batch_is_sent_whole_and_once);
  log_close();
  return check_done();
}
