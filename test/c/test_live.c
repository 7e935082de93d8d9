/* The live-signal store (native/live.h): what it keeps, how each signal finds its model call,
 * tool call and turn, and what it frees. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "live.h"
#include "payload.h"
#include "reconcile.h"
#include "state.h"

static long feed(live_store *ls, const char *json) {
  json_error_t err;
  json_t *live = json_loads(json, 0, &err);
  if (!live) {
    fprintf(stderr, "bad test JSON: %s\n", err.text);
    abort();
  }
  long rc = live_ingest(ls, live);
  json_decref(live);
  return rc;
}

/* A session's messages as reconcile reads them (views into tree, which the caller frees). */
static session_view view_of(const char *id, const char *messages, json_t **tree) {
  json_error_t err;
  *tree = json_loads(messages, 0, &err);
  if (!*tree) abort();
  session_view sv = {.id = id};
  reconcile_result r;
  memset(&r, 0, sizeof r);
  const payload_report report = {r.error, &r.items_skipped};
  if (payload_load_messages(&sv, *tree, &report) != 0) abort();
  return sv;
}

/* Times are OpenCode's wall clock (ms), here from T = 1796500000000. One turn of ses_1: user u1 at
 * T+1000, assistants a1 (created 1100) and a2 (created 2000), then a second turn u2 at 5000 with a3
 * at 5100. */
static const char *TURNS =
    "["
    "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_1\",\"role\":\"user\",\"time\":{\"created\":"
    "1796500001000}},\"parts\":[]},"
    "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_1\",\"role\":\"assistant\",\"parentID\":"
    "\"msg_u1\",\"agent\":\"build\",\"time\":{\"created\":1796500001100,\"completed\":"
    "1796500001900}},\"parts\":[]},"
    "{\"info\":{\"id\":\"msg_a2\",\"sessionID\":\"ses_1\",\"role\":\"assistant\",\"parentID\":"
    "\"msg_u1\",\"agent\":\"build\",\"time\":{\"created\":1796500002000,\"completed\":"
    "1796500002900}},\"parts\":[]},"
    "{\"info\":{\"id\":\"msg_u2\",\"sessionID\":\"ses_1\",\"role\":\"user\",\"time\":{\"created\":"
    "1796500005000}},\"parts\":[]},"
    "{\"info\":{\"id\":\"msg_a3\",\"sessionID\":\"ses_1\",\"role\":\"assistant\",\"parentID\":"
    "\"msg_u2\",\"agent\":\"build\",\"time\":{\"created\":1796500005100,\"completed\":"
    "1796500005900}},\"parts\":[]}"
    "]";

static void test_each_call_goes_to_the_message_created_before_it(void) {
  live_store *ls = live_new();
  CHECK_INT(
      feed(ls, "{\"sessions\":{\"ses_1\":{\"calls\":["
               /* the session-title call: another agent, no message of its own */
               "{\"at\":1796500001150,\"user\":\"msg_u1\",\"agent\":\"title\",\"system\":\"T\"},"
               "{\"at\":1796500001200,\"user\":\"msg_u1\",\"agent\":\"build\",\"system\":\"S1\","
               "\"params\":{\"maxOutputTokens\":8192},\"tools\":[\"bash\",\"read\"]},"
               "{\"at\":1796500002100,\"user\":\"msg_u1\",\"agent\":\"build\",\"systemSame\":true,"
               "\"params\":{\"maxOutputTokens\":4096},\"tools\":[\"bash\"]},"
               "{\"at\":1796500005200,\"user\":\"msg_u2\",\"agent\":\"build\",\"systemSame\":true}"
               "]}}}"),
      0);
  json_t *tree;
  session_view sv = view_of("ses_1", TURNS, &tree);
  live_call c;
  CHECK(live_call_of(ls, &sv, 1, &c));
  size_t len = 0;
  CHECK_STR(c.system, "S1");
  len = c.system_len;
  CHECK_INT(len, 2);
  CHECK_STR(c.params, "{\"maxOutputTokens\":8192}");
  CHECK_INT(c.n_tools, 2);
  CHECK_STR(c.tools[1], "read");
  CHECK(live_call_of(ls, &sv, 2, &c));
  CHECK_STR(c.system, "S1"); /* the same prompt, sent once */
  CHECK_STR(c.params, "{\"maxOutputTokens\":4096}");
  CHECK_INT(c.n_tools, 1);
  /* the next turn's call said "the same" of a prompt its turn never had: unknown */
  CHECK(live_call_of(ls, &sv, 4, &c));
  CHECK(c.system == NULL);
  CHECK(!c.has_tools);
  free(sv.messages);
  json_decref(tree);
  live_free(ls);
}

static void test_a_retried_call_keeps_what_it_was_first_given(void) {
  live_store *ls = live_new();
  feed(ls, "{\"sessions\":{\"ses_1\":{\"calls\":["
           "{\"at\":1796500001200,\"user\":\"msg_u1\",\"agent\":\"build\",\"system\":\"S1\","
           "\"params\":{\"topP\":1},\"tools\":[\"bash\"]}],"
           "\"retries\":[{\"at\":1796500001300,\"attempt\":1,\"message\":\"Rate "
           "limited\",\"next\":1796500003300}]}}}");
  /* the retry runs chat.params again, without the tools (they are defined once per call) */
  feed(ls, "{\"sessions\":{\"ses_1\":{\"calls\":["
           "{\"at\":1796500003310,\"user\":\"msg_u1\",\"agent\":\"build\",\"systemSame\":true,"
           "\"params\":{\"topP\":1}}],"
           "\"retries\":[{\"at\":1796500003400,\"attempt\":2,\"next\":1796500007400}]}}}");
  json_t *tree;
  session_view sv = view_of("ses_1", TURNS, &tree);
  live_call c;
  CHECK(live_call_of(ls, &sv, 1, &c));
  CHECK_STR(c.system, "S1");
  CHECK_INT(c.n_tools, 1);
  const live_retry *r[4];
  /* a1's window ends when a2 was created (2000): the retry at 3400 is a2's */
  CHECK_INT(live_retries_of(ls, &sv, 1, r, 4), 1);
  CHECK_INT(r[0]->attempt, 1);
  CHECK_STR(r[0]->message, "Rate limited");
  CHECK_INT(r[0]->next - r[0]->at, 2000);
  CHECK_INT(live_retries_of(ls, &sv, 2, r, 4), 1);
  CHECK(r[0]->message == NULL);
  free(sv.messages);
  json_decref(tree);
  live_free(ls);
}

static void test_a_permission_answer_completes_its_ask(void) {
  live_store *ls = live_new();
  feed(ls, "{\"sessions\":{\"ses_1\":{\"permissions\":[{\"id\":\"per_1\",\"type\":\"bash\","
           "\"patterns\":[\"echo hi\"],\"message\":\"msg_a1\",\"call\":\"call_1\",\"asked\":1300}"
           "]}}}");
  feed(ls, "{\"sessions\":{\"ses_1\":{\"permissions\":[{\"id\":\"per_1\",\"reply\":\"once\","
           "\"replied\":1750}]}}}");
  const live_permission *p[2];
  CHECK_INT(live_permissions(ls, "ses_1", "msg_a1", "call_1", p, 2), 1);
  CHECK_STR(p[0]->type, "bash");
  CHECK_STR(p[0]->reply, "once");
  CHECK_INT(p[0]->n_patterns, 1);
  CHECK_STR(p[0]->patterns[0], "echo hi");
  CHECK_INT(p[0]->replied - p[0]->asked, 450);
  CHECK_INT(live_permissions(ls, "ses_1", "msg_a1", "call_2", p, 2), 0);
  CHECK_INT(live_permissions(ls, "ses_2", "msg_a1", "call_1", p, 2), 0);
  int64_t retries = 0, wait = 0;
  live_turn_totals(ls, "ses_1", 1000, 5000, &retries, &wait);
  CHECK_INT(wait, 450);
  CHECK_INT(retries, 0);
  live_free(ls);
}

static void test_a_command_belongs_to_the_user_message_it_made(void) {
  live_store *ls = live_new();
  feed(ls, "{\"sessions\":{\"ses_1\":{\"commands\":[{\"at\":1796500004950,\"name\":\"greet\","
           "\"arguments\":\"Ada\"}]}}}");
  json_t *tree;
  session_view sv = view_of("ses_1", TURNS, &tree);
  CHECK(live_command_of(ls, &sv, 0) == NULL);
  const live_command *k = live_command_of(ls, &sv, 3);
  CHECK(k != NULL);
  if (k) CHECK_STR(k->arguments, "Ada");
  int64_t from, to;
  CHECK(live_turn_window(&sv, 0, &from, &to));
  CHECK_INT(from, 1796500001000LL);
  CHECK_INT(to, 1796500005000LL);
  CHECK(live_turn_window(&sv, 3, &from, &to));
  CHECK(to == INT64_MAX);
  free(sv.messages);
  json_decref(tree);
  live_free(ls);
}

static void test_errors_are_found_in_their_window(void) {
  live_store *ls = live_new();
  feed(ls, "{\"sessions\":{\"ses_1\":{\"errors\":[{\"at\":1500,\"name\":\"UnknownError\","
           "\"message\":\"Model not found\"},{\"at\":6000,\"name\":\"APIError\"}]}}}");
  const live_error *e[4];
  CHECK_INT(live_errors(ls, "ses_1", 1000, 5000, e, 4), 1);
  CHECK_STR(e[0]->message, "Model not found");
  CHECK_INT(live_errors(ls, "ses_1", 5000, INT64_MAX, e, 4), 1);
  CHECK_STR(e[0]->name, "APIError");
  live_free(ls);
}

static void test_a_closed_turn_frees_its_signals(void) {
  live_store *ls = live_new();
  feed(ls, "{\"sessions\":{\"ses_1\":{"
           "\"calls\":[{\"at\":1200,\"user\":\"msg_u1\",\"system\":\"S\"},"
           "{\"at\":5200,\"user\":\"msg_u2\",\"system\":\"S2\"}],"
           "\"retries\":[{\"at\":1300,\"attempt\":1}],"
           "\"permissions\":[{\"id\":\"per_1\",\"asked\":1400,\"replied\":1500},"
           "{\"id\":\"per_2\",\"replied\":1600}],"
           "\"commands\":[{\"at\":900,\"name\":\"c\"}],\"errors\":[{\"at\":1950,\"name\":\"E\"}]},"
           "\"ses_child\":{\"calls\":[{\"at\":1300,\"user\":\"msg_cu\"}]}}}");
  CHECK_INT(live_sessions(ls), 2);
  size_t before = live_bytes(ls);
  CHECK(before > 0);
  live_release(ls, "ses_1", INT64_MIN, 2900);
  live_call c;
  CHECK(!live_call_for(ls, "ses_1", "msg_u1", NULL, 0, INT64_MAX, &c));
  CHECK(live_call_for(ls, "ses_1", "msg_u2", NULL, 0, INT64_MAX, &c));
  const live_permission *p[2];
  CHECK_INT(live_permissions(ls, "ses_1", NULL, NULL, p, 2), 0);
  CHECK(live_bytes(ls) < before);
  live_release(ls, "ses_child", INT64_MIN, INT64_MAX);
  CHECK_INT(live_sessions(ls), 1);
  live_release(ls, "ses_1", INT64_MIN, INT64_MAX);
  CHECK_INT(live_sessions(ls), 0);
  CHECK_INT(live_bytes(ls), 0);
  live_free(ls);
}

static void test_memory_is_bounded(void) {
  live_store *ls = live_new();
  /* more calls than a session keeps: the oldest go */
  char *big = malloc(64 * 1024);
  size_t n = 0;
  n += (size_t)snprintf(big + n, 64 * 1024 - n, "{\"sessions\":{\"ses_1\":{\"calls\":[");
  for (int i = 0; i < LIVE_ITEMS_MAX + 10; i++)
    n += (size_t)snprintf(big + n, 64 * 1024 - n, "%s{\"at\":%d,\"user\":\"msg_u\"}", i ? "," : "",
                          1000 + i);
  snprintf(big + n, 64 * 1024 - n, "]}}}");
  CHECK_INT(feed(ls, big), 0);
  live_call c;
  CHECK(!live_call_for(ls, "ses_1", NULL, NULL, 1000, 1010, &c));
  CHECK(live_call_for(ls, "ses_1", NULL, NULL, 1010, 1011, &c));
  /* more sessions than the store keeps: the least recently fed go */
  for (int i = 0; i < LIVE_SESSIONS_MAX + 5; i++) {
    snprintf(big, 4096, "{\"sessions\":{\"ses_n%d\":{\"calls\":[{\"at\":1}]}}}", i);
    feed(ls, big);
  }
  CHECK(live_sessions(ls) <= LIVE_SESSIONS_MAX);
  CHECK(!live_call_for(ls, "ses_1", NULL, NULL, 0, INT64_MAX, &c));
  CHECK(live_call_for(ls, "ses_n260", NULL, NULL, 0, INT64_MAX, &c));
  /* a system prompt past the limit is cut */
  char *huge = malloc(LIVE_TEXT_MAX + 4096);
  n = (size_t)snprintf(huge, 100, "{\"sessions\":{\"ses_big\":{\"calls\":[{\"at\":5,\"system\":\"");
  memset(huge + n, 'x', LIVE_TEXT_MAX + 100);
  n += LIVE_TEXT_MAX + 100;
  strcpy(huge + n, "\"}]}}}");
  feed(ls, huge);
  CHECK(live_call_for(ls, "ses_big", NULL, NULL, 0, INT64_MAX, &c));
  CHECK_INT(c.system_len, LIVE_TEXT_MAX);
  CHECK(live_bytes(ls) <= LIVE_BYTES_MAX + LIVE_TEXT_MAX);
  free(huge);
  free(big);
  live_free(ls);
}

static void test_what_cannot_be_read_is_skipped_and_counted(void) {
  live_store *ls = live_new();
  CHECK_INT(feed(ls, "{\"sessions\":{\"\":{},\"ses_1\":{\"calls\":[{\"user\":\"msg_u\"},"
                     "{\"at\":\"soon\"},{\"at\":-3},{\"at\":12}],"
                     "\"permissions\":[{\"type\":\"bash\"}],\"errors\":[{\"at\":3}],"
                     "\"commands\":[{\"name\":\"x\"}]},\"ses_2\":[]},"
                     "\"tools\":[{\"description\":\"no id\"},{\"id\":\"bash\"}]}"),
            9);
  live_call c;
  CHECK(live_call_for(ls, "ses_1", NULL, NULL, 0, INT64_MAX, &c));
  CHECK(c.params == NULL && c.system == NULL && !c.has_tools);
  CHECK_INT(feed(ls, "[1,2]"), 0);
  CHECK_INT(feed(ls, "{\"sessions\":7}"), 0);
  live_free(ls);
}

static void test_tool_definitions_are_kept_by_id(void) {
  live_store *ls = live_new();
  feed(ls, "{\"tools\":[{\"id\":\"bash\",\"description\":\"Runs a command\",\"parameters\":"
           "{\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"string\"}},"
           "\"required\":[\"command\"]}},{\"id\":\"read\",\"description\":\"Reads\"}]}");
  CHECK_STR(live_tool_description(ls, "bash"), "Runs a command");
  CHECK_STR(live_tool_schema(ls, "bash"),
            "{\"type\":\"function\",\"function\":{\"name\":\"bash\",\"description\":\"Runs a "
            "command\",\"parameters\":{\"type\":\"object\",\"properties\":{\"command\":{\"type\":"
            "\"string\"}},\"required\":[\"command\"]}}}");
  CHECK_STR(live_tool_schema(ls, "read"),
            "{\"type\":\"function\",\"function\":{\"name\":\"read\",\"description\":\"Reads\","
            "\"parameters\":{}}}");
  feed(ls, "{\"tools\":[{\"id\":\"bash\",\"description\":\"Runs it\"}]}");
  CHECK_STR(live_tool_description(ls, "bash"), "Runs it");
  CHECK(live_tool_schema(ls, "grep") == NULL);
  live_free(ls);
}

/* One turn: user u at T+1000, assistant a (created T+1100, completed T+1900) with a bash call
 * the user allowed, then the final answer b. live: what the plugin adds to the payload. */
static char *turn_payload(const char *type, const char *live) {
  char *out = malloc(8192);
  snprintf(
      out, 8192,
      "{\"type\":\"%s\",\"sessionID\":\"ses_p\",\"messages\":["
      "{\"info\":{\"id\":\"msg_u\",\"sessionID\":\"ses_p\",\"role\":\"user\",\"time\":{"
      "\"created\":1796500001000}},\"parts\":[{\"id\":\"prt_1\",\"sessionID\":\"ses_p\","
      "\"messageID\":\"msg_u\",\"type\":\"text\",\"text\":\"run it\"}]},"
      "{\"info\":{\"id\":\"msg_a\",\"sessionID\":\"ses_p\",\"role\":\"assistant\",\"parentID\":"
      "\"msg_u\",\"agent\":\"build\",\"finish\":\"tool-calls\",\"time\":{\"created\":"
      "1796500001100,\"completed\":1796500001900}},\"parts\":[{\"id\":\"prt_2\",\"sessionID\":"
      "\"ses_p\",\"messageID\":\"msg_a\",\"type\":\"tool\",\"callID\":\"call_1\",\"tool\":"
      "\"bash\",\"state\":{\"status\":\"completed\",\"input\":{\"command\":\"ls\"},\"output\":"
      "\"x\",\"time\":{\"start\":1796500001200,\"end\":1796500001800}}}]},"
      "{\"info\":{\"id\":\"msg_b\",\"sessionID\":\"ses_p\",\"role\":\"assistant\",\"parentID\":"
      "\"msg_u\",\"agent\":\"build\",\"finish\":\"stop\",\"time\":{\"created\":1796500002000,"
      "\"completed\":1796500002500}},\"parts\":[]}]%s%s}",
      type, live ? ",\"live\":" : "", live ? live : "");
  return out;
}

static int reconcile_live(state *st, live_store *ls, const char *payload, collected *c) {
  static const reconcile_options on = {
      .log_prompts = true, .log_tool_details = true, .log_tool_content = true};
  reconcile_result r;
  int rc = reconcile_json_live(st, &on, ls, payload, strlen(payload), collect, c, &r);
  state_commit(st);
  return rc;
}

static size_t events_named(const span *s, const char *name) {
  size_t n = 0;
  for (size_t i = 0; s && i < s->n_events; i++) n += strcmp(s->events[i].name, name) == 0;
  return n;
}

static void test_a_tool_call_waits_for_its_permission_answer(void) {
  state *st = state_new(NULL);
  live_store *ls = live_new();
  collected c = {0};
  /* the ask came with the payload, the answer not yet (OpenCode stored the call's end first) */
  char *p = turn_payload("reconcile",
                         "{\"sessions\":{\"ses_p\":{\"permissions\":[{\"id\":\"per_1\",\"type\":"
                         "\"bash\",\"patterns\":[\"ls\"],\"message\":\"msg_a\",\"call\":\"call_1\","
                         "\"asked\":1796500001300}]}}}");
  CHECK_INT(reconcile_live(st, ls, p, &c), 0);
  free(p);
  CHECK(find_span(&c, "bash") == NULL);
  CHECK_INT(count_kind(&c, "LLM"), 2);
  collected_clear(&c);
  /* the answer comes with the next payload: the span, with both events and the wait */
  p = turn_payload("reconcile", "{\"sessions\":{\"ses_p\":{\"permissions\":[{\"id\":\"per_1\","
                                "\"reply\":\"once\",\"replied\":1796500001700}]}}}");
  CHECK_INT(reconcile_live(st, ls, p, &c), 0);
  free(p);
  span *bash = find_span(&c, "bash");
  CHECK(bash != NULL);
  CHECK_INT(events_named(bash, "opencode.permission.asked"), 1);
  CHECK_INT(events_named(bash, "opencode.permission.replied"), 1);
  collected_clear(&c);
  /* the turn closes: its Turn carries the wait, and the store lets go of the session */
  p = turn_payload("close", NULL);
  CHECK_INT(reconcile_live(st, ls, p, &c), 0);
  free(p);
  CHECK_INT(attr_i(find_span(&c, "Turn"), "opencode.turn.permission_wait_ms"), 400);
  CHECK_INT(live_sessions(ls), 0);
  collected_clear(&c);
  live_free(ls);
  state_free(st);
}

static void test_a_turn_that_closes_without_the_answer_sends_the_call(void) {
  state *st = state_new(NULL);
  live_store *ls = live_new();
  collected c = {0};
  char *p =
      turn_payload("close", "{\"sessions\":{\"ses_p\":{\"permissions\":[{\"id\":\"per_1\",\"type\":"
                            "\"bash\",\"message\":\"msg_a\",\"call\":\"call_1\",\"asked\":"
                            "1796500001300}]}}}");
  CHECK_INT(reconcile_live(st, ls, p, &c), 0);
  free(p);
  span *bash = find_span(&c, "bash");
  CHECK(bash != NULL);
  CHECK_INT(events_named(bash, "opencode.permission.asked"), 1);
  CHECK_INT(events_named(bash, "opencode.permission.replied"), 0);
  CHECK(find_span(&c, "Turn") != NULL);
  CHECK_INT(live_sessions(ls), 0);
  collected_clear(&c);
  live_free(ls);
  state_free(st);
}

/* The system prompt the hook gave each call: input message 0, role system, the history after it
 * (the second call says it had the same one); a prompt, so the prompts switch hides it. */
static void test_the_system_prompt_is_the_first_input_message(void) {
  static const char *live =
      "{\"sessions\":{\"ses_p\":{\"calls\":[{\"at\":1796500001150,\"user\":\"msg_u\",\"agent\":"
      "\"build\",\"system\":\"You are a test agent.\"},{\"at\":1796500002050,\"user\":\"msg_u\","
      "\"agent\":\"build\",\"systemSame\":true}]}}}";
  for (int prompts = 1; prompts >= 0; prompts--) {
    state *st = state_new(NULL);
    live_store *ls = live_new();
    collected c = {0};
    char *p = turn_payload("close", live);
    reconcile_options opt = {
        .log_prompts = prompts, .log_tool_details = true, .log_tool_content = true};
    reconcile_result r;
    CHECK_INT(reconcile_json_live(st, &opt, ls, p, strlen(p), collect, &c, &r), 0);
    free(p);
    size_t llms = 0;
    for (size_t i = 0; i < c.len; i++) {
      const span *s = c.items[i];
      if (strncmp(s->name, "LLM", 3) != 0) continue;
      llms++;
      CHECK_STR(attr_s(s, "llm.input_messages.0.message.role"), "system");
      const char *system = attr_s(s, "llm.input_messages.0.message.content");
      CHECK(system != NULL);
      if (prompts) CHECK_STR(system, "You are a test agent.");
      else CHECK(system && strstr(system, "<redacted") == system);
      CHECK_STR(attr_s(s, "llm.input_messages.1.message.role"), "user");
    }
    CHECK_INT(llms, 2);
    collected_clear(&c);
    live_free(ls);
    state_free(st);
  }
}

static void test_without_live_signals_the_spans_are_as_before(void) {
  state *st = state_new(NULL);
  live_store *ls = live_new();
  collected c = {0};
  char *p = turn_payload("close", NULL);
  CHECK_INT(reconcile_live(st, ls, p, &c), 0);
  free(p);
  span *llm = find_span(&c, "LLM: unknown"), *turn = find_span(&c, "Turn");
  CHECK(llm && !span_get(llm, "llm.invocation_parameters") &&
        !span_get(llm, "opencode.llm.retries"));
  CHECK(turn && !span_get(turn, "opencode.turn.retries") &&
        !span_get(turn, "opencode.turn.permission_wait_ms") &&
        !span_get(turn, "opencode.turn.command"));
  CHECK(find_span(&c, "bash") != NULL);
  collected_clear(&c);
  live_free(ls);
  state_free(st);
}

int main(void) {
  RUN(test_each_call_goes_to_the_message_created_before_it);
  RUN(test_a_retried_call_keeps_what_it_was_first_given);
  RUN(test_a_permission_answer_completes_its_ask);
  RUN(test_a_command_belongs_to_the_user_message_it_made);
  RUN(test_errors_are_found_in_their_window);
  RUN(test_a_closed_turn_frees_its_signals);
  RUN(test_memory_is_bounded);
  RUN(test_what_cannot_be_read_is_skipped_and_counted);
  RUN(test_tool_definitions_are_kept_by_id);
  RUN(test_a_tool_call_waits_for_its_permission_answer);
  RUN(test_a_turn_that_closes_without_the_answer_sends_the_call);
  RUN(test_the_system_prompt_is_the_first_input_message);
  RUN(test_without_live_signals_the_spans_are_as_before);
  return check_done();
}
