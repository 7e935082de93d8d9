/* watermark tests: the session model's answer (reconcile.h): after each payload, the oldest
 * message of the session that can still produce spans, and the child sessions that can. A
 * payload may be any tail of the session; cut there, it gives what the whole session gives.
 * Each test has its own HOME and no backend: spans stay queued. */
#include <ftw.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "tracer.h"

#define SESSION "ses_mark"
#define MAIN_RUN "main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json"
#define MAIN_CHILD "ses_df4ec1a8fffe6Z9lU7gc13I2Vp"

typedef struct {
  char dir[64];
  char home_entry[96];
  const char *envp[3];
  tracer *t;
} fixture_tracer;

static void open_tracer(fixture_tracer *f, const char *extra_env) {
  snprintf(f->dir, sizeof f->dir, "/tmp/test_watermark.XXXXXX");
  CHECK(mkdtemp(f->dir) != NULL);
  snprintf(f->home_entry, sizeof f->home_entry, "HOME=%s", f->dir);
  f->envp[0] = f->home_entry;
  f->envp[1] = extra_env;
  f->envp[2] = NULL;
  f->t = tracer_open(f->envp, "test");
  CHECK(f->t != NULL);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void close_tracer(fixture_tracer *f) {
  tracer_shutdown(f->t, 0);
  tracer_free(f->t);
  nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A session described as "u:m1 a:m2:m1 a:m3:m1-": role, id, parentID; a trailing '-' leaves
 * the assistant message unfinished. The JSON payload of type (caller frees). */
static char *build(const char *type, const char *spec) {
  json_t *messages = json_array();
  char *copy = strdup(spec), *save = NULL;
  json_int_t i = 0;
  for (char *word = strtok_r(copy, " ", &save); word; word = strtok_r(NULL, " ", &save), i++) {
    bool unfinished = word[strlen(word) - 1] == '-';
    if (unfinished) word[strlen(word) - 1] = '\0';
    char *role = strtok(word, ":"), *id = strtok(NULL, ":"), *parent = strtok(NULL, ":");
    bool user = strcmp(role, "u") == 0;
    json_t *info =
        json_pack("{s:s, s:s, s:s, s:{s:I}}", "id", id, "sessionID", SESSION, "role",
                  user ? "user" : "assistant", "time", "created", (json_int_t)1795480000000 + i);
    if (parent) json_object_set_new(info, "parentID", json_string(parent));
    if (!user && !unfinished)
      json_object_set_new(json_object_get(info, "time"), "completed",
                          json_integer(1795480000500 + i));
    json_array_append_new(messages,
                          json_pack("{s:o, s:[{s:s, s:s}]}", "info", info, "parts", "type", "text",
                                    "text", user ? "a prompt" : "an answer"));
  }
  free(copy);
  json_t *payload =
      json_pack("{s:s, s:s, s:o}", "type", type, "sessionID", SESSION, "messages", messages);
  char *text = json_dumps(payload, JSON_COMPACT);
  json_decref(payload);
  return text;
}

/* Reconciles spec as a payload of type; the result in *r, the number of spans returned. */
static size_t run_spec(tracer *t, const char *type, const char *spec, reconcile_result *r) {
  char *text = build(type, spec);
  CHECK_INT(tracer_reconcile(t, text, strlen(text), r), 0);
  free(text);
  return r->spans;
}

static void test_watermark_is_the_user_message_of_the_open_turn(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  CHECK_INT(run_spec(f.t, "reconcile", "u:m1 a:m2:m1 a:m3:m1 u:m4 a:m5:m4", &r),
            4); /* 3 LLM + Turn m1 */
  CHECK_STR(r.watermark, "m4");
  CHECK_INT(r.n_open_children, 0);
  close_tracer(&f);
}

static void test_watermark_stays_at_a_turn_whose_last_call_is_unfinished(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  run_spec(f.t, "close", "u:m1 a:m2:m1 a:m3:m1-", &r); /* idle too early: the turn is not over */
  CHECK_STR(r.watermark, "m1");
  CHECK_INT(run_spec(f.t, "close", "u:m1 a:m2:m1 a:m3:m1", &r), 2); /* m3, then the Turn */
  CHECK_STR(r.watermark, "m3");
  close_tracer(&f);
}

static void test_every_turn_sent_leaves_the_last_message_as_watermark(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  CHECK_INT(run_spec(f.t, "close", "u:m1 a:m2:m1 u:m3 a:m4:m3", &r), 4);
  CHECK_STR(r.watermark, "m4");
  /* the next turn's payload starts at the watermark: its first message belongs to a sent turn */
  CHECK_INT(run_spec(f.t, "reconcile", "a:m4:m3 u:m5 a:m6:m5", &r), 1);
  CHECK_STR(r.watermark, "m5");
  close_tracer(&f);
}

static void test_payload_starting_inside_an_unsent_turn_asks_for_its_user_message(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  /* a tail that starts inside turn m1 (OpenCode restarted, the plugin loaded mid-session):
   * the calls of m1 produce nothing yet (their turn is not in the payload), turn m4 does */
  CHECK_INT(run_spec(f.t, "reconcile", "a:m2:m1 a:m3:m1 u:m4 a:m5:m4", &r), 1);
  CHECK_STR(r.watermark, "m1");
  /* fetched back to m1: the calls of m1 and its Turn, nothing twice */
  CHECK_INT(run_spec(f.t, "reconcile", "u:m1 a:m2:m1 a:m3:m1 u:m4 a:m5:m4", &r), 3);
  CHECK_STR(r.watermark, "m4");
  close_tracer(&f);
}

static void test_payload_starting_inside_a_sent_turn_needs_nothing_older(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  run_spec(f.t, "reconcile", "u:m1 a:m2:m1 a:m3:m1 u:m4", &r);
  CHECK_STR(r.watermark, "m4");
  CHECK_INT(run_spec(f.t, "reconcile", "a:m3:m1 u:m4 a:m5:m4", &r), 1);
  CHECK_STR(r.watermark, "m4");
  close_tracer(&f);
}

static void test_watermark_survives_a_restart_through_the_state(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  CHECK_INT(run_spec(f.t, "reconcile", "u:m1 a:m2:m1 u:m3 a:m4:m3", &r), 3);
  tracer_shutdown(f.t, 0);
  tracer_free(f.t);
  f.t = tracer_open(f.envp, "test"); /* a new process, same HOME */
  /* a tail inside the sent turn m1 needs nothing older; inside the open turn m3 it asks back */
  CHECK_INT(run_spec(f.t, "reconcile", "a:m2:m1 u:m3 a:m4:m3 a:m5:m3", &r), 1);
  CHECK_STR(r.watermark, "m3");
  CHECK_INT(run_spec(f.t, "reconcile", "a:m5:m3 a:m6:m3", &r), 0);
  CHECK_STR(r.watermark, "m3");
  close_tracer(&f);
}

static void test_a_late_call_naming_a_turn_before_the_payload_waits_for_that_turn(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  /* m6 names turn m1, older than the payload: not traced under the turn in progress (m4) */
  CHECK_INT(run_spec(f.t, "reconcile", "u:m4 a:m5:m4 a:m6:m1", &r), 1);
  CHECK_STR(r.watermark, "m1");
  close_tracer(&f);
}

static void test_a_sent_child_is_held_until_its_turn_is_sent(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  char *text = fixture_payload(MAIN_RUN, "reconcile");
  reconcile_result r;
  CHECK_INT(tracer_reconcile(f.t, text, strlen(text), &r), 0);
  CHECK(r.spans > 0);
  CHECK_INT(r.n_open_children, 1); /* the Turn (not sent: "reconcile") still counts it */
  CHECK(!r.open_child_emits[0]);   /* its AGENT span went with its calls */
  CHECK(!r.open_children_all);
  free(text);
  text = fixture_payload(MAIN_RUN, "close"); /* the Turn goes: the child is done */
  CHECK_INT(tracer_reconcile(f.t, text, strlen(text), &r), 0);
  CHECK_INT(r.spans, 1);
  CHECK_INT(r.n_open_children, 0);
  free(text);
  close_tracer(&f);
}

static void test_a_child_whose_task_call_is_missing_stays_open(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  char *text = fixture_payload(MAIN_RUN, "reconcile");
  json_t *payload = json_loads(text, 0, NULL);
  free(text);
  json_array_clear(json_object_get(payload, "messages")); /* the task call is not in this payload */
  text = json_dumps(payload, JSON_COMPACT);
  json_decref(payload);
  reconcile_result r;
  CHECK_INT(tracer_reconcile(f.t, text, strlen(text), &r), 0);
  CHECK_INT(r.children_unlinked, 1);
  CHECK_INT(r.n_open_children, 1);
  CHECK_STR(r.open_children[0], MAIN_CHILD);
  CHECK_STR(r.watermark, ""); /* no message: nothing to say */
  free(text);
  close_tracer(&f);
}

static void test_rejected_payload_has_no_watermark(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  const char *bad = "{\"type\":\"reconcile\",\"sessionID\":\"ses_mark\",\"messages\":[{\"info\":{"
                    "\"id\":\"m1\",\"sessionID\":\"ses_x\",\"role\":\"user\"}}]}";
  CHECK_INT(tracer_reconcile(f.t, bad, strlen(bad), &r), -1);
  CHECK_STR(r.watermark, "");
  close_tracer(&f);
}

static void test_payload_the_caller_cannot_write_is_counted_and_logged_as_rejected(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_result r;
  tracer_reject(f.t, "payload cannot be written as JSON (JSON.stringify: a cycle)", &r);
  CHECK_INT(r.spans, 0);
  CHECK_STR(r.error, "payload cannot be written as JSON (JSON.stringify: a cycle)");
  char *text = tracer_status_json(f.t);
  json_t *status = text ? json_loads(text, 0, NULL) : NULL;
  CHECK_INT(
      json_integer_value(json_object_get(json_object_get(status, "counters"), "rejected_payloads")),
      1);
  CHECK_STR(json_string_value(json_object_get(status, "last_rejection")), r.error);
  json_decref(status);
  free(text);
  char log_path[160];
  snprintf(log_path, sizeof log_path, "%s/.arize/harness/logs/opencode.log", f.dir);
  FILE *log = fopen(log_path, "r");
  char line[512];
  bool logged = false;
  while (log && fgets(line, sizeof line, log))
    logged |= strstr(line, "payload rejected, nothing queued: payload cannot") != NULL;
  if (log) fclose(log);
  CHECK(logged);
  close_tracer(&f);
}

int main(void) {
  RUN(test_watermark_is_the_user_message_of_the_open_turn);
  RUN(test_watermark_stays_at_a_turn_whose_last_call_is_unfinished);
  RUN(test_every_turn_sent_leaves_the_last_message_as_watermark);
  RUN(test_payload_starting_inside_an_unsent_turn_asks_for_its_user_message);
  RUN(test_payload_starting_inside_a_sent_turn_needs_nothing_older);
  RUN(test_watermark_survives_a_restart_through_the_state);
  RUN(test_a_late_call_naming_a_turn_before_the_payload_waits_for_that_turn);
  RUN(test_a_sent_child_is_held_until_its_turn_is_sent);
  RUN(test_a_child_whose_task_call_is_missing_stays_open);
  RUN(test_rejected_payload_has_no_watermark);
  RUN(test_payload_the_caller_cannot_write_is_counted_and_logged_as_rejected);
  return check_done();
}
