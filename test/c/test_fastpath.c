/* fast path tests: tracer_select_messages and tracer_select_children (tracer.h) decide which
 * messages and child sessions of a snapshot reconcile must see, from what the state says was
 * already sent. Each test has its own HOME and no backend: spans stay queued. */
#include <ftw.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "tracer.h"

#define SESSION "ses_fast"
#define MAIN_RUN "main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json"
#define MAIN_SESSION "ses_df4ec26e5ffeUa8cOB7B533OYC"
#define MAIN_CHILD "ses_df4ec1a8fffe6Z9lU7gc13I2Vp"

typedef struct {
  char dir[64];
  char home_entry[96];
  const char *envp[3];
  tracer *t;
} fixture_tracer;

static void open_tracer(fixture_tracer *f, const char *extra_env) {
  snprintf(f->dir, sizeof f->dir, "/tmp/test_fastpath.XXXXXX");
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
 * the assistant message unfinished. The JSON payload (caller frees), and its refs. */
typedef struct {
  char ids[32][16];
  tracer_message_ref refs[32];
  size_t n;
} session_spec;

static char *build(const char *type, const char *spec, session_spec *out) {
  json_t *messages = json_array();
  memset(out, 0, sizeof *out);
  long last_user = -1;
  char *copy = strdup(spec), *save = NULL;
  for (char *word = strtok_r(copy, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
    size_t i = out->n++;
    bool unfinished = word[strlen(word) - 1] == '-';
    if (unfinished) word[strlen(word) - 1] = '\0';
    char *role = strtok(word, ":"), *id = strtok(NULL, ":"), *parent = strtok(NULL, ":");
    snprintf(out->ids[i], sizeof out->ids[i], "%s", id);
    out->refs[i].id = out->ids[i];
    bool user = strcmp(role, "u") == 0;
    out->refs[i].role = user ? TRACER_ROLE_USER : TRACER_ROLE_ASSISTANT;
    if (user) last_user = (long)i;
    out->refs[i].turn = last_user;
    json_t *info = json_pack("{s:s, s:s, s:s, s:{s:I}}", "id", id, "sessionID", SESSION, "role",
                             user ? "user" : "assistant", "time", "created", (json_int_t)1795480000000 + (json_int_t)i);
    if (parent) json_object_set_new(info, "parentID", json_string(parent));
    if (!user && !unfinished)
      json_object_set_new(json_object_get(info, "time"), "completed", json_integer(1795480000500 + (json_int_t)i));
    json_array_append_new(messages, json_pack("{s:o, s:[{s:s, s:s}]}", "info", info, "parts", "type",
                                              "text", "text", user ? "a prompt" : "an answer"));
  }
  free(copy);
  json_t *payload = json_pack("{s:s, s:s, s:o}", "type", type, "sessionID", SESSION, "messages", messages);
  char *text = json_dumps(payload, JSON_COMPACT);
  json_decref(payload);
  return text;
}

/* Reconciles spec as the payload of type; returns how many spans it queued. */
static size_t reconcile_spec(tracer *t, const char *type, const char *spec) {
  session_spec s;
  char *text = build(type, spec, &s);
  reconcile_result r;
  CHECK_INT(tracer_reconcile(t, text, strlen(text), &r), 0);
  free(text);
  return r.spans;
}

/* What tracer_select_messages keeps of spec, as a string of digits (0 skip, 1 keep, 2 whole). */
static void select_spec(tracer *t, bool closing, const char *spec, char *out, int *rc) {
  session_spec s;
  free(build("reconcile", spec, &s));
  unsigned char keep[32];
  *rc = tracer_select_messages(t, SESSION, closing, s.refs, s.n, NULL, 0, keep);
  for (size_t i = 0; i < s.n; i++) out[i] = (char)('0' + keep[i]);
  out[s.n] = '\0';
}

static void test_complete_turns_are_left_out_but_the_last_user_message(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  CHECK_INT(reconcile_spec(f.t, "close", "u:m1 a:m2:m1 u:m3 a:m4:m3"), 4); /* 2 Turns, 2 LLMs */
  char keep[32];
  int rc;
  select_spec(f.t, false, "u:m1 a:m2:m1 u:m3 a:m4:m3", keep, &rc);
  CHECK_INT(rc, 0);
  CHECK_STR(keep, "0010");
  close_tracer(&f);
}

static void test_open_turn_keeps_new_calls_and_the_call_before_each(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  CHECK_INT(reconcile_spec(f.t, "reconcile", "u:m1 a:m2:m1 a:m3:m1 a:m4:m1"), 3);
  char keep[32];
  int rc;
  select_spec(f.t, false, "u:m1 a:m2:m1 a:m3:m1 a:m4:m1 a:m5:m1", keep, &rc);
  CHECK_INT(rc, 0);
  CHECK_STR(keep, "10011");
  select_spec(f.t, false, "u:m1 a:m2:m1 a:m3:m1 a:m4:m1", keep, &rc); /* nothing new */
  CHECK_STR(keep, "1000");
  close_tracer(&f);
}

static void test_unfinished_call_stays_kept_until_sent(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  CHECK_INT(reconcile_spec(f.t, "reconcile", "u:m1 a:m2:m1 a:m3:m1-"), 1);
  char keep[32];
  int rc;
  select_spec(f.t, false, "u:m1 a:m2:m1 a:m3:m1-", keep, &rc);
  CHECK_STR(keep, "111");
  close_tracer(&f);
}

static void test_latest_call_stays_kept_while_a_tool_span_of_it_waits(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  CHECK_INT(reconcile_spec(f.t, "reconcile", "u:m1 a:m2:m1 a:m3:m1"), 2);
  session_spec s;
  free(build("reconcile", "u:m1 a:m2:m1 a:m3:m1", &s));
  unsigned char keep[8];
  const char *calls[] = {"call_1"}; /* a tool of m3 whose span is not out */
  CHECK_INT(tracer_select_messages(f.t, SESSION, false, s.refs, s.n, calls, 1, keep), 0);
  CHECK_INT(keep[1], TRACER_SKIP);
  CHECK_INT(keep[2], TRACER_KEEP);
  CHECK_INT(tracer_select_messages(f.t, SESSION, false, s.refs, s.n, NULL, 0, keep), 0);
  CHECK_INT(keep[2], TRACER_SKIP);
  close_tracer(&f);
}

static void test_turn_that_may_close_now_is_kept_whole(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  CHECK_INT(reconcile_spec(f.t, "reconcile", "u:m1 a:m2:m1 a:m3:m1"), 2);
  char keep[32];
  int rc;
  select_spec(f.t, true, "u:m1 a:m2:m1 a:m3:m1", keep, &rc); /* session.idle */
  CHECK_STR(keep, "222");
  select_spec(f.t, false, "u:m1 a:m2:m1 a:m3:m1 u:m4", keep, &rc); /* a newer prompt */
  CHECK_STR(keep, "2221");
  close_tracer(&f);
}

static void test_message_of_a_complete_turn_after_a_newer_prompt_is_left_out(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  reconcile_spec(f.t, "close", "u:m1 a:m2:m1");
  reconcile_spec(f.t, "reconcile", "u:m1 a:m2:m1 u:m3 a:m4:m3");
  session_spec s;
  free(build("reconcile", "u:m1 a:m2:m1 u:m3 a:m4:m3 a:m5:m1", &s));
  s.refs[4].turn = 0; /* m5 names m1, whose Turn was sent */
  unsigned char keep[8];
  CHECK_INT(tracer_select_messages(f.t, SESSION, false, s.refs, s.n, NULL, 0, keep), 0);
  CHECK_INT(keep[4], TRACER_SKIP);
  CHECK_INT(keep[2], TRACER_KEEP);
  close_tracer(&f);
}

static void test_ids_reconcile_would_reject_send_the_whole_payload(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  session_spec s;
  free(build("reconcile", "u:m1 a:m2:m1", &s));
  unsigned char keep[8];
  s.refs[1].id = "m\n2";
  CHECK_INT(tracer_select_messages(f.t, SESSION, false, s.refs, s.n, NULL, 0, keep), 1);
  s.refs[1].id = NULL; /* an id of the last turn must be there */
  CHECK_INT(tracer_select_messages(f.t, SESSION, false, s.refs, s.n, NULL, 0, keep), 1);
  s.refs[1].id = "m2";
  CHECK_INT(tracer_select_messages(f.t, "", false, s.refs, s.n, NULL, 0, keep), 1);
  s.refs[1].turn = 1; /* turns point back to user messages */
  CHECK_INT(tracer_select_messages(f.t, SESSION, false, s.refs, s.n, NULL, 0, keep), 1);
  close_tracer(&f);
}

static void test_disabled_tracing_keeps_nothing(void) {
  fixture_tracer f;
  open_tracer(&f, "ARIZE_TRACE_ENABLED=false");
  char keep[32];
  int rc;
  select_spec(f.t, true, "u:m1 a:m2:m1", keep, &rc);
  CHECK_INT(rc, 0);
  CHECK_STR(keep, "00");
  close_tracer(&f);
}

/* The main-run capture: a task call in message 4 started MAIN_CHILD. */
static const tracer_child_ref main_child = {MAIN_CHILD, MAIN_SESSION, "call_5_0", MAIN_CHILD};
static const tracer_task_ref main_task = {4, MAIN_CHILD, "call_5_0"};

static void test_child_whose_agent_span_was_sent_is_left_out(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  char *text = fixture_payload(MAIN_RUN, "close");
  reconcile_result r;
  CHECK_INT(tracer_reconcile(f.t, text, strlen(text), &r), 0);
  free(text);
  unsigned char message_keep[6] = {1, 0, 0, 0, 0, 0}, keep[1];
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, &main_child, 1, NULL, 0, message_keep, 6, keep), 0);
  CHECK_INT(keep[0], TRACER_SKIP);
  close_tracer(&f);
}

static void test_turn_kept_whole_brings_the_children_it_started(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  char *text = fixture_payload(MAIN_RUN, "reconcile"); /* agent span sent, Turn not */
  reconcile_result r;
  CHECK_INT(tracer_reconcile(f.t, text, strlen(text), &r), 0);
  free(text);
  unsigned char message_keep[6] = {2, 2, 2, 2, 2, 2}, keep[1];
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, &main_child, 1, &main_task, 1, message_keep, 6, keep), 0);
  CHECK_INT(keep[0], TRACER_KEEP); /* the Turn's roll-ups count it */
  unsigned char open_keep[6] = {1, 0, 0, 0, 0, 1};
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, &main_child, 1, NULL, 0, open_keep, 6, keep), 0);
  CHECK_INT(keep[0], TRACER_SKIP);
  close_tracer(&f);
}

static void test_new_child_whose_task_call_is_left_out_sends_the_whole_payload(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  unsigned char message_keep[6] = {1, 0, 0, 0, 0, 1}, keep[1];
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, &main_child, 1, NULL, 0, message_keep, 6, keep), 1);
  message_keep[4] = TRACER_KEEP; /* the task call's message is kept: the child links */
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, &main_child, 1, &main_task, 1, message_keep, 6, keep), 0);
  CHECK_INT(keep[0], TRACER_KEEP);
  close_tracer(&f);
}

static void test_child_sessions_reconcile_would_reject_send_the_whole_payload(void) {
  fixture_tracer f;
  open_tracer(&f, NULL);
  unsigned char message_keep[1] = {1}, keep[2];
  tracer_child_ref own = {MAIN_SESSION, MAIN_SESSION, NULL, NULL};
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, &own, 1, NULL, 0, message_keep, 1, keep), 1);
  tracer_child_ref other_info = {MAIN_CHILD, MAIN_SESSION, NULL, "ses_other"};
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, &other_info, 1, NULL, 0, message_keep, 1, keep), 1);
  tracer_child_ref twins[2] = {main_child, main_child};
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, twins, 2, NULL, 0, message_keep, 1, keep), 1);
  tracer_task_ref outside = {7, MAIN_CHILD, NULL};
  CHECK_INT(tracer_select_children(f.t, MAIN_SESSION, &main_child, 1, &outside, 1, message_keep, 1, keep), 1);
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
  CHECK_INT(json_integer_value(json_object_get(json_object_get(status, "counters"), "rejected_payloads")), 1);
  CHECK_STR(json_string_value(json_object_get(status, "last_rejection")), r.error);
  json_decref(status);
  free(text);
  char log_path[160];
  snprintf(log_path, sizeof log_path, "%s/.arize/harness/logs/opencode.log", f.dir);
  FILE *log = fopen(log_path, "r");
  char line[512];
  bool logged = false;
  while (log && fgets(line, sizeof line, log)) logged |= strstr(line, "payload rejected, nothing queued: payload cannot") != NULL;
  if (log) fclose(log);
  CHECK(logged);
  close_tracer(&f);
}

int main(void) {
  RUN(test_complete_turns_are_left_out_but_the_last_user_message);
  RUN(test_open_turn_keeps_new_calls_and_the_call_before_each);
  RUN(test_unfinished_call_stays_kept_until_sent);
  RUN(test_latest_call_stays_kept_while_a_tool_span_of_it_waits);
  RUN(test_turn_that_may_close_now_is_kept_whole);
  RUN(test_message_of_a_complete_turn_after_a_newer_prompt_is_left_out);
  RUN(test_ids_reconcile_would_reject_send_the_whole_payload);
  RUN(test_disabled_tracing_keeps_nothing);
  RUN(test_child_whose_agent_span_was_sent_is_left_out);
  RUN(test_turn_kept_whole_brings_the_children_it_started);
  RUN(test_new_child_whose_task_call_is_left_out_sends_the_whole_payload);
  RUN(test_child_sessions_reconcile_would_reject_send_the_whole_payload);
  RUN(test_payload_the_caller_cannot_write_is_counted_and_logged_as_rejected);
  return check_done();
}
