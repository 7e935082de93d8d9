#include "check.h"
#include "fixture.h"
#include "reconcile.h"
#include "state.h"

#define ONE_BASH "one-bash-call/snap-3-session.idle.json"
#define MAIN_IDLE "main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json"
#define ABORT_FIRST_IDLE "serve-scenarios/snapshots/001-session-idle-ses_df4ec102effeLX8V4zZ0sVQJHX.json"
#define ABORT_LAST_IDLE "serve-scenarios/snapshots/003-session-idle-ses_df4ec102effeLX8V4zZ0sVQJHX.json"
#define HTTP400_IDLE "serve-scenarios/snapshots/006-session-idle-ses_df4ebf792ffe4MdkvNoBH5HvdO.json"

static const reconcile_options all_on = {.log_prompts = true, .log_tool_details = true,
                                         .log_tool_content = true};

/* Reconciles a payload text into c with st; returns reconcile's status. */
static int run(state *st, const reconcile_options *opt, const char *payload, collected *c,
               reconcile_result *r) {
  int rc = reconcile_json(st, opt, payload, strlen(payload), collect, c, r);
  state_commit(st);
  return rc;
}

static int run_fixture(state *st, const reconcile_options *opt, const char *path, const char *type,
                       collected *c) {
  char *payload = fixture_payload(path, type);
  reconcile_result r;
  int rc = payload ? run(st, opt, payload, c, &r) : -99;
  if (rc != 0 && payload) fprintf(stderr, "  reconcile: %s\n", r.error);
  free(payload);
  return rc;
}

static void test_idle_snapshot_makes_turn_llm_tool_tree(void) {
  state *st = state_new(NULL);
  collected c = {0};
  CHECK_INT(run_fixture(st, &all_on, ONE_BASH, "close", &c), 0);
  CHECK_INT(c.len, 4);
  span *turn = find_span(&c, "Turn"), *tool = find_span(&c, "bash");
  CHECK(turn && !turn->has_parent);
  CHECK_STR(attr_s(turn, "openinference.span.kind"), "CHAIN");
  CHECK_STR(attr_s(turn, "input.value"), "again");
  CHECK_INT(count_kind(&c, "LLM"), 2);
  span *first_llm = NULL;
  for (size_t i = 0; i < c.len; i++)
    if (attr_s(c.items[i], "llm.finish_reason") && strcmp(attr_s(c.items[i], "llm.finish_reason"), "tool-calls") == 0)
      first_llm = c.items[i];
  CHECK(is_child_of(first_llm, turn));
  CHECK(is_child_of(tool, first_llm));
  CHECK_STR(attr_s(tool, "tool.command"), "echo hi");
  CHECK_STR(attr_s(tool, "tool.id"), "call_bash_5");
  CHECK_STR(attr_s(tool, "input.mime_type"), "application/json");
  CHECK_STR(attr_s(first_llm, "llm.model_name"), "m1");
  CHECK_STR(attr_s(first_llm, "llm.provider"), "mock");
  /* OpenCode stored input 100, cache.read 20, output 25, reasoning 5 for a model report of
   * prompt 120, completion 30. */
  CHECK_INT(attr_i(first_llm, "llm.token_count.prompt"), 120);
  CHECK_INT(attr_i(first_llm, "llm.token_count.completion"), 30);
  CHECK_INT(attr_i(first_llm, "llm.token_count.total"), 150);
  CHECK_INT(attr_i(first_llm, "llm.token_count.prompt_details.cache_read"), 20);
  CHECK_INT(attr_i(first_llm, "llm.token_count.completion_details.reasoning"), 5);
  CHECK_STR(attr_s(first_llm, "session.id"), "ses_df50545e4ffeLycEmyiOvrROkE");
  /* OpenCode's millisecond clocks, not ours */
  CHECK(turn && turn->start_ns == 1795480533666ULL * 1000000ULL);
  CHECK(first_llm && first_llm->end_ns == 1795480536537ULL * 1000000ULL);
  CHECK(turn && tool && tool->start_ns >= turn->start_ns && tool->end_ns <= turn->end_ns);
  collected_clear(&c);
  state_free(st);
}

static void test_same_snapshot_twice_emits_nothing_new(void) {
  state *st = state_new(NULL);
  collected c = {0};
  CHECK_INT(run_fixture(st, &all_on, ONE_BASH, "close", &c), 0);
  size_t first = c.len;
  CHECK_INT(run_fixture(st, &all_on, ONE_BASH, "close", &c), 0);
  CHECK_INT(c.len, first);
  collected_clear(&c);
  state_free(st);
}

static void test_a_fresh_state_recreates_identical_ids(void) {
  state *a = state_new(NULL), *b = state_new(NULL);
  collected ca = {0}, cb = {0};
  run_fixture(a, &all_on, ONE_BASH, "close", &ca);
  run_fixture(b, &all_on, ONE_BASH, "close", &cb);
  CHECK_INT(ca.len, cb.len);
  for (size_t i = 0; i < ca.len && i < cb.len; i++) {
    CHECK(memcmp(ca.items[i]->span_id, cb.items[i]->span_id, 8) == 0);
    CHECK(memcmp(ca.items[i]->trace_id, cb.items[i]->trace_id, 16) == 0);
  }
  collected_clear(&ca), collected_clear(&cb);
  state_free(a), state_free(b);
}

static void test_completed_message_before_idle_emits_no_turn_yet(void) {
  state *st = state_new(NULL);
  collected c = {0};
  CHECK_INT(run_fixture(st, &all_on, "one-bash-call/snap-1-message.updated.json", "reconcile", &c), 0);
  CHECK_INT(count_kind(&c, "CHAIN"), 0);
  CHECK_INT(count_kind(&c, "LLM"), 1);
  CHECK_INT(count_kind(&c, "TOOL"), 1);
  CHECK_INT(run_fixture(st, &all_on, ONE_BASH, "close", &c), 0);
  CHECK_INT(count_kind(&c, "CHAIN"), 1);
  CHECK_INT(count_kind(&c, "LLM"), 2);
  CHECK_INT(count_kind(&c, "TOOL"), 1);
  collected_clear(&c);
  state_free(st);
}

static void test_refused_span_is_offered_again(void) {
  state *st = state_new(NULL);
  collected c = {0};
  c.refuse = 1;
  CHECK_INT(run_fixture(st, &all_on, ONE_BASH, "close", &c), 0);
  CHECK_INT(c.len, 0);
  c.refuse = 0;
  CHECK_INT(run_fixture(st, &all_on, ONE_BASH, "close", &c), 0);
  CHECK_INT(c.len, 4);
  collected_clear(&c);
  state_free(st);
}

static void test_subagent_nests_under_its_task_call(void) {
  state *st = state_new(NULL);
  collected c = {0};
  CHECK_INT(run_fixture(st, &all_on, MAIN_IDLE, "close", &c), 0);
  span *turn = find_span(&c, "Turn"), *task = find_span(&c, "task");
  span *agent = find_span(&c, "Agent: general");
  CHECK(is_child_of(task, turn) == 0); /* task hangs off an LLM span, not the Turn */
  CHECK(is_child_of(agent, task));
  CHECK_STR(attr_s(agent, "session.id"), "ses_df4ec1a8fffe6Z9lU7gc13I2Vp");
  CHECK_STR(attr_s(agent, "agent.name"), "general");
  CHECK_STR(attr_s(agent, "input.value"), "CHILD_TASK: run echo and report back");
  size_t child_llms = 0, child_bash = 0;
  for (size_t i = 0; i < c.len; i++) {
    span *s = c.items[i];
    if (is_child_of(s, agent) && strcmp(attr_s(s, "openinference.span.kind"), "LLM") == 0) {
      child_llms++;
      for (size_t j = 0; j < c.len; j++)
        child_bash += is_child_of(c.items[j], s) && strcmp(c.items[j]->name, "bash") == 0;
    }
  }
  CHECK_INT(child_llms, 2);
  CHECK_INT(child_bash, 1);
  for (size_t i = 0; i < c.len; i++) CHECK(memcmp(c.items[i]->trace_id, turn->trace_id, 16) == 0);
  /* the failing read: ERROR with OpenCode's message */
  span *failed = NULL;
  for (size_t i = 0; i < c.len; i++)
    if (c.items[i]->status == SPAN_STATUS_ERROR && strcmp(c.items[i]->name, "read") == 0) failed = c.items[i];
  CHECK(failed != NULL);
  CHECK(failed && strstr(failed->status_message, "File not found") != NULL);
  /* roll-up: the Turn sums the parent's five calls and the child's two */
  CHECK_INT(attr_i(turn, "opencode.turn.llm_calls"), 7);
  CHECK_INT(attr_i(turn, "opencode.turn.tool_errors"), 1);
  collected_clear(&c);
  state_free(st);
}

static void test_child_without_a_task_call_is_never_attached(void) {
  state *st = state_new(NULL);
  collected c = {0};
  char *payload = fixture_payload(MAIN_IDLE, "close");
  /* rename the child everywhere the parent's task call names it: the link is gone */
  char *p = payload;
  while ((p = strstr(p, "\"sessionId\":\"ses_df4ec1a8fffe6Z9lU7gc13I2Vp\""))) memcpy(p + 13, "ses_XXXX", 8);
  reconcile_result r;
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  CHECK_INT(r.children_unlinked, 1);
  CHECK(find_span(&c, "Agent: general") == NULL);
  CHECK_INT(count_kind(&c, "LLM"), 5);
  free(payload);
  collected_clear(&c);
  state_free(st);
}

static void test_first_idle_of_an_abort_waits_for_the_message(void) {
  state *st = state_new(NULL);
  collected c = {0};
  CHECK_INT(run_fixture(st, &all_on, ABORT_FIRST_IDLE, "close", &c), 0);
  CHECK_INT(c.len, 0);
  CHECK_INT(run_fixture(st, &all_on, ABORT_LAST_IDLE, "close", &c), 0);
  span *turn = find_span(&c, "Turn"), *llm = find_span(&c, "LLM: mock-model");
  CHECK_INT(c.len, 2);
  CHECK(llm && llm->status == SPAN_STATUS_ERROR);
  CHECK(llm && llm->n_events == 1);
  CHECK_STR(llm ? span_attrs_get(&llm->events[0].attrs, "exception.type")->value.s : NULL, "MessageAbortedError");
  CHECK(turn && turn->status == SPAN_STATUS_ERROR);
  CHECK(attr_s(llm, "output.value") && strstr(attr_s(llm, "output.value"), "This is a slow answer") != NULL);
  collected_clear(&c);
  state_free(st);
}

static void test_provider_error_marks_llm_and_turn(void) {
  state *st = state_new(NULL);
  collected c = {0};
  CHECK_INT(run_fixture(st, &all_on, HTTP400_IDLE, "close", &c), 0);
  span *llm = find_span(&c, "LLM: mock-model");
  CHECK(llm && llm->status == SPAN_STATUS_ERROR);
  CHECK(llm && strstr(llm->status_message, "APIError: mock bad request") != NULL);
  CHECK_INT(attr_i(llm, "http.response.status_code"), 400);
  collected_clear(&c);
  state_free(st);
}

static const char *two_turns =
    "{\"type\":\"reconcile\",\"sessionID\":\"ses_a\",\"messages\":["
    "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_a\",\"role\":\"user\",\"time\":{\"created\":1795480001000}},"
    " \"parts\":[{\"type\":\"text\",\"text\":\"first\",\"sessionID\":\"ses_a\",\"messageID\":\"msg_u1\"}]},"
    "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_a\",\"role\":\"assistant\",\"parentID\":\"msg_u1\","
    "  \"modelID\":\"m\",\"time\":{\"created\":1795480001100}},"
    " \"parts\":[{\"type\":\"text\",\"text\":\"partial\",\"time\":{\"start\":1795480001200,\"end\":1795480001300}},"
    "            {\"type\":\"tool\",\"callID\":\"c1\",\"tool\":\"bash\",\"state\":{\"status\":\"running\",\"input\":{\"command\":\"sleep 9\"},\"time\":{\"start\":1795480001250}}}]},"
    "{\"info\":{\"id\":\"msg_u2\",\"sessionID\":\"ses_a\",\"role\":\"user\",\"time\":{\"created\":1795480005000}},"
    " \"parts\":[{\"type\":\"text\",\"text\":\"second\"}]}]}";

static void test_newer_user_message_closes_an_interrupted_turn(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run(st, &all_on, two_turns, &c, &r), 0);
  CHECK_INT(c.len, 3);
  span *turn = find_span(&c, "Turn"), *llm = find_span(&c, "LLM: m"), *tool = find_span(&c, "bash");
  CHECK_STR(attr_s(turn, "input.value"), "first");
  CHECK(turn && turn->status == SPAN_STATUS_ERROR);
  CHECK(llm && llm->status == SPAN_STATUS_ERROR && llm->end_ns == 1795480001300ULL * 1000000ULL);
  CHECK(tool && tool->status == SPAN_STATUS_ERROR && is_child_of(tool, llm));
  collected_clear(&c);
  state_free(st);
}


/* One turn cut off by SIGTERM: the model call and its tool never finished. */
#define OPEN_TURN(type, extra)                                                                         \
  "{\"type\":\"" type "\"" extra ",\"sessionID\":\"ses_k\",\"messages\":["                             \
  "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_k\",\"role\":\"user\",\"time\":{\"created\":1795480001000}}," \
  " \"parts\":[{\"type\":\"text\",\"text\":\"slow one\"}]},"                                           \
  "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_k\",\"role\":\"assistant\",\"parentID\":\"msg_u1\","  \
  "  \"modelID\":\"m\",\"time\":{\"created\":1795480001100}},"                                          \
  " \"parts\":[{\"type\":\"text\",\"text\":\"partial\",\"time\":{\"start\":1795480001200,\"end\":1795480001300}}," \
  "            {\"type\":\"tool\",\"callID\":\"c1\",\"tool\":\"bash\",\"state\":{\"status\":\"running\",\"input\":{\"command\":\"sleep 9\"},\"time\":{\"start\":1795480001450}}}]}" \
  "]}"

static void test_close_leaves_a_turn_open_while_its_model_call_runs(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run(st, &all_on, OPEN_TURN("close", ""), &c, &r), 0);
  CHECK_INT(run(st, &all_on, OPEN_TURN("reconcile", ",\"abandoned\":true"), &c, &r), 0);
  CHECK_INT(c.len, 0);
  collected_clear(&c);
  state_free(st);
}

static void test_abandoned_close_ends_an_open_turn_as_interrupted(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run(st, &all_on, OPEN_TURN("close", ",\"abandoned\":true"), &c, &r), 0);
  CHECK_INT(c.len, 3);
  CHECK_INT(r.spans, 3);
  CHECK_INT(r.turns, 1);
  span *turn = find_span(&c, "Turn"), *llm = find_span(&c, "LLM: m"), *tool = find_span(&c, "bash");
  CHECK(turn && !turn->has_parent && turn->status == SPAN_STATUS_ERROR);
  CHECK(turn && strstr(turn->status_message, "interrupted") != NULL);
  CHECK(is_child_of(llm, turn) && is_child_of(tool, llm));
  /* each ends at the last thing OpenCode recorded: the tool's start */
  CHECK(llm && llm->status == SPAN_STATUS_ERROR && llm->end_ns == 1795480001450ULL * 1000000ULL);
  CHECK(llm && strstr(llm->status_message, "Interrupted") != NULL);
  CHECK(turn && turn->end_ns == 1795480001450ULL * 1000000ULL);
  CHECK(tool && tool->status == SPAN_STATUS_ERROR);
  CHECK_INT(run(st, &all_on, OPEN_TURN("close", ",\"abandoned\":true"), &c, &r), 0);
  CHECK_INT(c.len, 3); /* closed once */
  collected_clear(&c);
  state_free(st);
}

/* The fast quit: the answer was complete, the session.idle work never ran. */
static const char *complete_turn =
    "{\"type\":\"%s\"%s,\"sessionID\":\"ses_q\",\"messages\":["
    "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_q\",\"role\":\"user\",\"time\":{\"created\":1795480001000}},"
    " \"parts\":[{\"type\":\"text\",\"text\":\"quick\"}]},"
    "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_q\",\"role\":\"assistant\",\"parentID\":\"msg_u1\","
    "  \"modelID\":\"m\",\"finish\":\"stop\",\"time\":{\"created\":1795480001100,\"completed\":1795480001900}},"
    " \"parts\":[{\"type\":\"text\",\"text\":\"the answer\"}]}]}";

static void test_abandoned_close_sends_the_turn_of_a_complete_answer_once(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  char payload[2048];
  snprintf(payload, sizeof payload, complete_turn, "reconcile", "");
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0); /* the live LLM span, before the quit */
  CHECK_INT(c.len, 1);
  snprintf(payload, sizeof payload, complete_turn, "close", ",\"abandoned\":true");
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  CHECK_INT(c.len, 2);
  span *turn = find_span(&c, "Turn");
  CHECK(turn && turn->status != SPAN_STATUS_ERROR);
  CHECK_STR(attr_s(turn, "output.value"), "the answer");
  CHECK(is_child_of(find_span(&c, "LLM: m"), turn));
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  CHECK_INT(c.len, 2);
  collected_clear(&c);
  state_free(st);
}

/* Closed as abandoned, then OpenCode went on with the same turn after all (a process the
 * rule could not see): what follows still hangs off the Turn already sent. */
static void test_a_turn_that_continues_after_an_abandoned_close_keeps_its_root(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run(st, &all_on, OPEN_TURN("close", ",\"abandoned\":true"), &c, &r), 0);
  const char *later =
      "{\"type\":\"close\",\"sessionID\":\"ses_k\",\"messages\":["
      "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_k\",\"role\":\"user\",\"time\":{\"created\":1795480001000}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"slow one\"}]},"
      "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_k\",\"role\":\"assistant\",\"parentID\":\"msg_u1\","
      "  \"modelID\":\"m\",\"finish\":\"tool-calls\",\"time\":{\"created\":1795480001100,\"completed\":1795480009000}},"
      " \"parts\":[{\"type\":\"tool\",\"callID\":\"c1\",\"tool\":\"bash\",\"state\":{\"status\":\"completed\",\"input\":{},\"output\":\"\",\"time\":{\"start\":1795480001450,\"end\":1795480008000}}}]},"
      "{\"info\":{\"id\":\"msg_a2\",\"sessionID\":\"ses_k\",\"role\":\"assistant\",\"parentID\":\"msg_u1\","
      "  \"modelID\":\"m2\",\"finish\":\"stop\",\"time\":{\"created\":1795480009100,\"completed\":1795480009900}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"done after all\"}]}]}";
  CHECK_INT(run(st, &all_on, later, &c, &r), 0);
  CHECK_INT(c.len, 4); /* only the new call: the Turn, the first call and its tool went once */
  span *turn = find_span(&c, "Turn"), *llm2 = find_span(&c, "LLM: m2");
  CHECK(is_child_of(llm2, turn));
  collected_clear(&c);
  state_free(st);
}

static void test_abandoned_close_of_a_turn_without_a_model_call(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  const char *payload =
      "{\"type\":\"close\",\"abandoned\":true,\"sessionID\":\"ses_n\",\"messages\":["
      "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_n\",\"role\":\"user\",\"time\":{\"created\":1795480001000}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"never answered\"}]}]}";
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  CHECK_INT(c.len, 1);
  span *turn = find_span(&c, "Turn");
  CHECK(turn && turn->status == SPAN_STATUS_ERROR && strstr(turn->status_message, "first model call"));
  collected_clear(&c);
  state_free(st);
}

static void test_abandoned_close_ends_a_running_subagent_inside_its_turn(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  const char *payload =
      "{\"type\":\"close\",\"abandoned\":true,\"sessionID\":\"ses_p\",\"messages\":["
      "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_p\",\"role\":\"user\",\"time\":{\"created\":1795480001000}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"delegate\"}]},"
      "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_p\",\"role\":\"assistant\",\"parentID\":\"msg_u1\","
      "  \"modelID\":\"m\",\"time\":{\"created\":1795480001100}},"
      " \"parts\":[{\"type\":\"tool\",\"callID\":\"t1\",\"tool\":\"task\",\"state\":{\"status\":\"running\","
      "   \"input\":{\"prompt\":\"go\",\"subagent_type\":\"general\"},\"metadata\":{\"sessionId\":\"ses_c\"},\"time\":{\"start\":1795480001500}}}]}],"
      "\"childSessions\":[{\"sessionID\":\"ses_c\",\"parentSessionID\":\"ses_p\",\"parentCallID\":\"t1\","
      " \"info\":{\"id\":\"ses_c\",\"parentID\":\"ses_p\",\"agent\":\"general\"},\"messages\":["
      "{\"info\":{\"id\":\"msg_cu\",\"sessionID\":\"ses_c\",\"role\":\"user\",\"time\":{\"created\":1795480001600}},\"parts\":[]},"
      "{\"info\":{\"id\":\"msg_ca\",\"sessionID\":\"ses_c\",\"role\":\"assistant\",\"parentID\":\"msg_cu\","
      "  \"modelID\":\"mc\",\"time\":{\"created\":1795480001700}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"half\",\"time\":{\"start\":1795480001800,\"end\":1795480002500}}]}]}]}";
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  span *turn = find_span(&c, "Turn"), *task = find_span(&c, "task"), *agent = find_span(&c, "Agent: general");
  span *child_llm = find_span(&c, "LLM: mc");
  CHECK_INT(c.len, 5);
  CHECK(is_child_of(agent, task) && is_child_of(child_llm, agent));
  CHECK(agent && agent->status == SPAN_STATUS_ERROR && child_llm && child_llm->status == SPAN_STATUS_ERROR);
  CHECK(turn && agent && child_llm && agent->end_ns <= turn->end_ns && child_llm->end_ns <= turn->end_ns);
  CHECK(turn && turn->end_ns == 1795480002500ULL * 1000000ULL);
  collected_clear(&c);
  state_free(st);
}

static void test_foreign_record_rejects_the_payload(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  char *payload = fixture_payload(ONE_BASH, "close");
  char *p = strstr(payload, "\"messageID\":\"msg_20afabed5001ycV3zWovLt4chQ\"");
  CHECK(p != NULL);
  p = strstr(payload, "\"sessionID\":\"ses_df50545e4ffeLycEmyiOvrROkE\",\"messageID\":\"msg_20afabed");
  if (p) memcpy(p + 13, "ses_OTHER", 9);
  CHECK_INT(run(st, &all_on, payload, &c, &r), -1);
  CHECK_INT(c.len, 0);
  CHECK(strstr(r.error, "another") != NULL);
  free(payload);
  state_free(st);
}

static void test_malformed_payloads_are_rejected_with_a_reason(void) {
  const char *bad[] = {"", "{", "[]", "{\"type\":\"x\",\"sessionID\":\"s\",\"messages\":[]}",
                       "{\"type\":\"close\",\"messages\":[]}",
                       "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":{}}",
                       "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":[1]}",
                       "{\"type\":\"close\",\"sessionID\":\"s\",\"sessionID\":\"t\",\"messages\":[]}",
                       "{\"type\":\"close\",\"sessionID\":\"a\\nb\",\"messages\":[]}"};
  state *st = state_new(NULL);
  collected c = {0};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    reconcile_result r;
    CHECK_INT(run(st, &all_on, bad[i], &c, &r), -1);
    CHECK(r.error[0] != '\0');
  }
  CHECK_INT(c.len, 0);
  state_free(st);
}

static void test_redaction_replaces_text_but_keeps_tool_names(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_options opt = {.user_id = "u-7"};
  CHECK_INT(run_fixture(st, &opt, ONE_BASH, "close", &c), 0);
  span *turn = find_span(&c, "Turn"), *tool = find_span(&c, "bash");
  CHECK_STR(attr_s(turn, "input.value"), "<redacted (5 chars)>");
  CHECK_STR(attr_s(tool, "tool.name"), "bash");
  CHECK_STR(attr_s(tool, "tool.command"), "<redacted (7 chars)>");
  CHECK(strncmp(attr_s(tool, "output.value"), "<redacted (", 11) == 0);
  CHECK_STR(attr_s(tool, "user.id"), "u-7");
  for (size_t i = 0; i < c.len; i++)
    for (size_t k = 0; k < c.items[i]->attrs.len; k++) {
      const span_attr *a = &c.items[i]->attrs.items[k];
      CHECK(a->type != SPAN_ATTR_STRING || strstr(a->value.s, "echo hi") == NULL);
    }
  collected_clear(&c);
  state_free(st);
}

static void test_long_attributes_are_cut_with_a_marker(void) {
  size_t big = 100000;
  char *prompt = malloc(big + 1);
  memset(prompt, 'x', big);
  prompt[big] = 0;
  char *payload = malloc(big + 512);
  snprintf(payload, big + 512,
           "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
           "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":1795480000001}},\"parts\":[{\"type\":\"text\",\"text\":\"%s\"}]},"
           "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\",\"time\":{\"created\":1795480000002,\"completed\":1795480000003}},\"parts\":[]}]}",
           prompt);
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_options opt = {.log_prompts = true, .log_tool_details = true,
                           .log_tool_content = true, .max_attr_bytes = 1024};
  reconcile_result r;
  CHECK_INT(run(st, &opt, payload, &c, &r), 0);
  const char *input = attr_s(find_span(&c, "Turn"), "input.value");
  CHECK(input && strlen(input) <= 1024);
  CHECK(input && strstr(input, "truncated") && strstr(input, "of 100000 bytes shown"));
  free(prompt), free(payload);
  collected_clear(&c);
  state_free(st);
}

static void test_hostile_numbers_and_times_stay_bounded(void) {
  const char *payload =
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
      "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":-5}},\"parts\":[]},"
      "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
      "\"tokens\":{\"input\":1e308,\"output\":-3},\"cost\":1e400,"
      "\"time\":{\"created\":9000,\"completed\":10}},\"parts\":[]}]}";
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  int rc = run(st, &all_on, payload, &c, &r);
  /* 1e400 is out of a double's range: rejected as malformed, or read as a bounded value */
  CHECK(rc == 0 || rc == -1);
  for (size_t i = 0; i < c.len; i++) CHECK(c.items[i]->end_ns >= c.items[i]->start_ns);
  collected_clear(&c);
  state_free(st);
}

static void test_openinference_hide_flags_mask_values_and_drop_messages(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_options opt = {.log_prompts = true, .log_tool_details = true, .log_tool_content = true,
                           .hide_inputs = true, .hide_output_text = true};
  CHECK_INT(run_fixture(st, &opt, ONE_BASH, "close", &c), 0);
  span *llm = NULL;
  for (size_t i = 0; i < c.len; i++)
    if (attr_s(c.items[i], "llm.output_messages.0.message.content")) llm = c.items[i];
  CHECK(llm != NULL);
  CHECK_STR(attr_s(llm, "input.value"), "__REDACTED__");
  CHECK(attr_s(llm, "llm.input_messages.0.message.role") == NULL);
  CHECK_STR(attr_s(llm, "llm.output_messages.0.message.content"), "__REDACTED__");
  CHECK_STR(attr_s(llm, "llm.output_messages.0.message.role"), "assistant");
  CHECK(attr_s(llm, "output.value") && strcmp(attr_s(llm, "output.value"), "__REDACTED__") != 0);
  CHECK_STR(attr_s(find_span(&c, "Turn"), "input.value"), "__REDACTED__");
  collected_clear(&c);
  state_free(st);
}

static void test_custom_attributes_reach_every_span_but_never_override_ours(void) {
  state *st = state_new(NULL);
  collected c = {0};
  const char *names[] = {"team", "session.id"}, *values[] = {"platform", "spoofed"};
  reconcile_options opt = {.log_prompts = true, .log_tool_details = true, .log_tool_content = true,
                           .attribute_names = names, .attribute_values = values, .n_attributes = 2};
  CHECK_INT(run_fixture(st, &opt, ONE_BASH, "close", &c), 0);
  CHECK_INT(c.len, 4);
  for (size_t i = 0; i < c.len; i++) {
    CHECK_STR(attr_s(c.items[i], "team"), "platform");
    CHECK_STR(attr_s(c.items[i], "session.id"), "ses_df50545e4ffeLycEmyiOvrROkE");
  }
  collected_clear(&c);
  state_free(st);
}

/* A model call with 400 tool calls of 30 KB arguments each: every attribute is under the
 * limit, the span as a whole would be 24 MB. */
static void test_a_span_never_exceeds_what_a_backend_takes(void) {
  size_t n = 400, arg = 30000;
  char *big = malloc(arg + 1);
  memset(big, 'a', arg);
  big[arg] = 0;
  size_t cap = n * (arg + 200) + 1024, len = 0;
  char *payload = malloc(cap);
  len += (size_t)snprintf(payload + len, cap - len,
                          "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
                          "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":1795480000001}},\"parts\":[]},"
                          "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\",\"time\":{\"created\":1795480000002,\"completed\":1795480000003}},\"parts\":[");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(payload + len, cap - len,
                            "%s{\"type\":\"tool\",\"callID\":\"c%zu\",\"tool\":\"write\",\"state\":{\"status\":\"pending\",\"input\":{\"content\":\"%s\"}}}",
                            i ? "," : "", i, big);
  snprintf(payload + len, cap - len, "]}]}");
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  span *llm = NULL;
  for (size_t i = 0; i < c.len; i++)
    if (attr_s(c.items[i], "llm.output_messages.0.message.role")) llm = c.items[i];
  size_t total = 0;
  for (size_t i = 0; llm && i < llm->attrs.len; i++)
    if (llm->attrs.items[i].type == SPAN_ATTR_STRING) total += strlen(llm->attrs.items[i].value.s);
  CHECK(llm != NULL);
  CHECK(total <= 1024 * 1024);
  CHECK(attr_s(llm, "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments") &&
        strstr(attr_s(llm, "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"), "truncated"));
  free(big);
  free(payload);
  collected_clear(&c);
  state_free(st);
}

int main(void) {
  RUN(test_idle_snapshot_makes_turn_llm_tool_tree);
  RUN(test_same_snapshot_twice_emits_nothing_new);
  RUN(test_a_fresh_state_recreates_identical_ids);
  RUN(test_completed_message_before_idle_emits_no_turn_yet);
  RUN(test_refused_span_is_offered_again);
  RUN(test_subagent_nests_under_its_task_call);
  RUN(test_child_without_a_task_call_is_never_attached);
  RUN(test_first_idle_of_an_abort_waits_for_the_message);
  RUN(test_provider_error_marks_llm_and_turn);
  RUN(test_newer_user_message_closes_an_interrupted_turn);
  RUN(test_close_leaves_a_turn_open_while_its_model_call_runs);
  RUN(test_abandoned_close_ends_an_open_turn_as_interrupted);
  RUN(test_abandoned_close_sends_the_turn_of_a_complete_answer_once);
  RUN(test_a_turn_that_continues_after_an_abandoned_close_keeps_its_root);
  RUN(test_abandoned_close_of_a_turn_without_a_model_call);
  RUN(test_abandoned_close_ends_a_running_subagent_inside_its_turn);
  RUN(test_foreign_record_rejects_the_payload);
  RUN(test_malformed_payloads_are_rejected_with_a_reason);
  RUN(test_redaction_replaces_text_but_keeps_tool_names);
  RUN(test_long_attributes_are_cut_with_a_marker);
  RUN(test_hostile_numbers_and_times_stay_bounded);
  RUN(test_openinference_hide_flags_mask_values_and_drop_messages);
  RUN(test_custom_attributes_reach_every_span_but_never_override_ours);
  RUN(test_a_span_never_exceeds_what_a_backend_takes);
  return check_done();
}
