#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "log.h"
#include "reconcile.h"
#include "state.h"

#define ONE_BASH "one-bash-call/snap-3-session.idle.json"
#define MAIN_IDLE "main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json"
#define ABORT_FIRST_IDLE                                                                           \
  "serve-scenarios/snapshots/001-session-idle-ses_df4ec102effeLX8V4zZ0sVQJHX.json"
#define ABORT_LAST_IDLE                                                                            \
  "serve-scenarios/snapshots/003-session-idle-ses_df4ec102effeLX8V4zZ0sVQJHX.json"
#define HTTP400_IDLE                                                                               \
  "serve-scenarios/snapshots/006-session-idle-ses_df4ebf792ffe4MdkvNoBH5HvdO.json"

static const reconcile_options all_on = {
    .log_prompts = true, .log_tool_details = true, .log_tool_content = true};

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

/* A tool output far over the limit is not escaped whole into the next call's input.value (a
 * 50 MB output cost seconds there): the attribute is what the whole JSON would have given, its
 * first bytes and a marker with the whole JSON's size. */
/* The one-bash capture with its bash output replaced by out, as payload text. */
static char *with_bash_output(const char *out) {
  char *text = fixture_payload(ONE_BASH, "close");
  json_t *p = json_loads(text, 0, NULL);
  free(text);
  json_t *messages = json_object_get(p, "messages");
  for (size_t i = 0; i < json_array_size(messages); i++) {
    json_t *parts = json_object_get(json_array_get(messages, i), "parts");
    for (size_t j = 0; j < json_array_size(parts); j++) {
      json_t *part = json_array_get(parts, j);
      if (json_is_string(json_object_get(part, "tool")))
        json_object_set_new(json_object_get(part, "state"), "output", json_string(out));
    }
  }
  char *payload = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  return payload;
}

static const char *marker_of(const char *value, size_t *keep) {
  const char *at = value ? strstr(value, "…[truncated: ") : NULL;
  *keep = at ? (size_t)(at - value) : 0;
  return at ? at : "";
}

/* A tool output far over the limit (50 MB cost seconds) is cut before it is parsed and is
 * neither escaped nor copied whole afterwards: every attribute made from it is what the whole
 * output gives (its first bytes, and markers with the whole size and character count), for
 * small and huge outputs alike (escapes, multibyte characters, surrogate pairs, controls). */
static void test_a_huge_tool_output_gives_the_same_attributes(void) {
  static const char unit[] = "ab\"c\nd\\e\xc3\xa9\xf0\x9f\x98\x80\x01z";
  for (size_t n = 100000; n <= 3000000; n += 2900000) {
    size_t u = sizeof unit - 1, count = n / u;
    char *out = malloc(count * u + 1);
    for (size_t i = 0; i < count; i++) memcpy(out + i * u, unit, u);
    out[count * u] = '\0';
    size_t out_len = count * u, out_chars = 0;
    for (size_t i = 0; i < out_len; i++) out_chars += ((unsigned char)out[i] & 0xC0) != 0x80;
    char *payload = with_bash_output(out);
    json_t *whole = json_pack("[{s:s, s:s, s:s}]", "tool_call_id", "call_bash_5", "tool", "bash",
                              "output", out);
    char *expected = json_dumps(whole, JSON_COMPACT);
    json_decref(whole);
    for (int hidden = 0; hidden < 2; hidden++) {
      reconcile_options opt = all_on;
      opt.max_attr_bytes = 4096;
      opt.log_tool_content = !hidden;
      state *st = state_new(NULL);
      collected c = {0};
      reconcile_result r;
      CHECK_INT(run(st, &opt, payload, &c, &r), 0);
      const char *input = NULL, *output = NULL;
      for (size_t i = 0; i < c.len; i++) {
        /* the call after the bash call: given the prompt, the call and its result */
        if (attr_s(c.items[i], "llm.input_messages.2.message.tool_call_id"))
          input = attr_s(c.items[i], "input.value");
        if (strcmp(c.items[i]->name, "bash") == 0) output = attr_s(c.items[i], "output.value");
      }
      char want[128];
      size_t keep;
      const char *m;
      if (!hidden) { /* hidden, the output is "<redacted>" in it */
        m = marker_of(input, &keep);
        snprintf(want, sizeof want, "…[truncated: %zu of %zu bytes shown]", keep, strlen(expected));
        CHECK_STR(m, want);
        CHECK(keep > 0 && strncmp(input, expected, keep) == 0);
      }
      if (hidden) {
        snprintf(want, sizeof want, "<redacted (%zu chars)>", out_chars);
        CHECK_STR(output ? output : "", want);
      } else {
        m = marker_of(output, &keep);
        snprintf(want, sizeof want, "…[truncated: %zu of %zu bytes shown]", keep, out_len);
        CHECK_STR(m, want);
        CHECK(keep > 0 && strncmp(output, out, keep) == 0);
      }
      collected_clear(&c);
      state_free(st);
    }
    free(expected);
    free(payload);
    free(out);
  }
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
    if (attr_s(c.items[i], "llm.finish_reason") &&
        strcmp(attr_s(c.items[i], "llm.finish_reason"), "tool-calls") == 0)
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
  CHECK_INT(run_fixture(st, &all_on, "one-bash-call/snap-1-message.updated.json", "reconcile", &c),
            0);
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
  /* the root session's id, as on every span of the turn; the subagent's own beside it */
  CHECK_STR(attr_s(agent, "session.id"), "ses_df4ec26e5ffeUa8cOB7B533OYC");
  CHECK_STR(attr_s(agent, "opencode.session.id"), "ses_df4ec1a8fffe6Z9lU7gc13I2Vp");
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
    if (c.items[i]->status == SPAN_STATUS_ERROR && strcmp(c.items[i]->name, "read") == 0)
      failed = c.items[i];
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
  while ((p = strstr(p, "\"sessionId\":\"ses_df4ec1a8fffe6Z9lU7gc13I2Vp\"")))
    memcpy(p + 13, "ses_XXXX", 8);
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
  CHECK_STR(llm ? span_attrs_get(&llm->events[0].attrs, "exception.type")->value.s : NULL,
            "MessageAbortedError");
  CHECK(turn && turn->status == SPAN_STATUS_ERROR);
  CHECK(attr_s(llm, "output.value") &&
        strstr(attr_s(llm, "output.value"), "This is a slow answer") != NULL);
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
    "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_a\",\"role\":\"user\",\"time\":{\"created\":"
    "1795480001000}},"
    " \"parts\":[{\"type\":\"text\",\"text\":\"first\",\"sessionID\":\"ses_a\",\"messageID\":\"msg_"
    "u1\"}]},"
    "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_a\",\"role\":\"assistant\",\"parentID\":"
    "\"msg_u1\","
    "  \"modelID\":\"m\",\"time\":{\"created\":1795480001100}},"
    " \"parts\":[{\"type\":\"text\",\"text\":\"partial\",\"time\":{\"start\":1795480001200,\"end\":"
    "1795480001300}},"
    "            "
    "{\"type\":\"tool\",\"callID\":\"c1\",\"tool\":\"bash\",\"state\":{\"status\":\"running\","
    "\"input\":{\"command\":\"sleep 9\"},\"time\":{\"start\":1795480001250}}}]},"
    "{\"info\":{\"id\":\"msg_u2\",\"sessionID\":\"ses_a\",\"role\":\"user\",\"time\":{\"created\":"
    "1795480005000}},"
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
#define OPEN_TURN(type, extra)                                                                     \
  "{\"type\":\"" type "\"" extra ",\"sessionID\":\"ses_k\",\"messages\":["                         \
  "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_k\",\"role\":\"user\",\"time\":{\"created\":"  \
  "1795480001000}},"                                                                               \
  " \"parts\":[{\"type\":\"text\",\"text\":\"slow one\"}]},"                                       \
  "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_k\",\"role\":\"assistant\",\"parentID\":"      \
  "\"msg_u1\","                                                                                    \
  "  \"modelID\":\"m\",\"time\":{\"created\":1795480001100}},"                                     \
  " \"parts\":[{\"type\":\"text\",\"text\":\"partial\",\"time\":{\"start\":1795480001200,\"end\":" \
  "1795480001300}},"                                                                               \
  "            "                                                                                   \
  "{\"type\":\"tool\",\"callID\":\"c1\",\"tool\":\"bash\",\"state\":{\"status\":\"running\","      \
  "\"input\":{\"command\":\"sleep 9\"},\"time\":{\"start\":1795480001450}}}]}"                     \
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
static const char *complete_turn = "{\"type\":\"%s\"%s,\"sessionID\":\"ses_q\",\"messages\":["
                                   "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_q\",\"role\":"
                                   "\"user\",\"time\":{\"created\":1795480001000}},"
                                   " \"parts\":[{\"type\":\"text\",\"text\":\"quick\"}]},"
                                   "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_q\",\"role\":"
                                   "\"assistant\",\"parentID\":\"msg_u1\","
                                   "  "
                                   "\"modelID\":\"m\",\"finish\":\"stop\",\"time\":{\"created\":"
                                   "1795480001100,\"completed\":1795480001900}},"
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

/* The fast quit in the TUI (measured on 1.18.33 in tmux): the answer is shown and stored whole
 * (finish, a step-finish part), but OpenCode had not yet written time.completed. */
static void test_abandoned_close_of_an_answer_stored_whole_is_no_error(void) {
  const char *payload =
      "{\"type\":\"close\",\"abandoned\":true,\"sessionID\":\"ses_t\",\"messages\":["
      "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_t\",\"role\":\"user\",\"time\":"
      "{\"created\":1795480001000}},\"parts\":[{\"type\":\"text\",\"text\":\"go\"}]},"
      "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_t\",\"role\":\"assistant\","
      "\"parentID\":\"msg_u1\",\"modelID\":\"m\",\"finish\":\"stop\",\"time\":{\"created\":"
      "1795480001100}},\"parts\":[{\"type\":\"step-start\"},{\"type\":\"text\",\"text\":"
      "\"DONE\",\"time\":{\"start\":1795480001200,\"end\":1795480001300}},{\"type\":"
      "\"step-finish\",\"reason\":\"stop\"}]},"
      "{\"info\":{\"id\":\"msg_u2\",\"sessionID\":\"ses_t\",\"role\":\"user\",\"time\":"
      "{\"created\":1795480002000}},\"parts\":[{\"type\":\"text\",\"text\":\"again\"}]},"
      "{\"info\":{\"id\":\"msg_a2\",\"sessionID\":\"ses_t\",\"role\":\"assistant\","
      "\"parentID\":\"msg_u2\",\"modelID\":\"m\",\"time\":{\"created\":1795480002100}},"
      "\"parts\":[{\"type\":\"step-start\"},{\"type\":\"text\",\"text\":\"half\","
      "\"time\":{\"start\":1795480002200}}]}]}";
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  CHECK_INT(c.len, 4);
  span *first = NULL, *second = NULL, *t1 = NULL, *t2 = NULL;
  for (size_t i = 0; i < c.len; i++) {
    const char *meta = attr_s(c.items[i], "metadata");
    bool one = meta && strstr(meta, "msg_u1") != NULL, llm = strcmp(c.items[i]->name, "Turn") != 0;
    if (llm && meta && strstr(meta, "msg_a1")) first = c.items[i];
    if (llm && meta && strstr(meta, "msg_a2")) second = c.items[i];
    if (!llm && one) t1 = c.items[i];
    if (!llm && !one) t2 = c.items[i];
  }
  /* stored whole: OK, ending at the last time its parts show */
  CHECK(first && first->status != SPAN_STATUS_ERROR &&
        first->end_ns == 1795480001300ULL * 1000000ULL);
  CHECK(t1 && t1->status != SPAN_STATUS_ERROR);
  /* cut short (no finish, no step-finish): interrupted, as before */
  CHECK(second && second->status == SPAN_STATUS_ERROR);
  CHECK(t2 && t2->status == SPAN_STATUS_ERROR);
  collected_clear(&c);
  state_free(st);
}

/* The fast quit in the real TUI (1.18.33 in tmux, ctrl-c twice the instant the answer is
 * drawn), as OpenCode stored it: the answer whole (finish "stop", the text, a step-finish with
 * its tokens) and time.completed, but with MessageAbortedError stamped on it and completed at
 * the quit, 2.7 s after the answer. The second turn is an abort while the answer streamed
 * (serve-scenarios capture: no finish, no step-finish, zero tokens): that one stays an error. */
static void test_an_abort_stamped_on_a_complete_answer_is_no_error(void) {
  const char *payload =
      "{\"type\":\"close\",\"abandoned\":true,\"sessionID\":\"ses_q\",\"messages\":["
      "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_q\",\"role\":\"user\",\"time\":"
      "{\"created\":1796499695725}},\"parts\":[{\"type\":\"text\",\"text\":\"FAST: hello\"}]},"
      "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_q\",\"role\":\"assistant\","
      "\"parentID\":\"msg_u1\",\"modelID\":\"scripted\",\"providerID\":\"mock\",\"cost\":0.00045,"
      "\"tokens\":{\"total\":110,\"input\":100,\"output\":10,\"reasoning\":0,\"cache\":{\"write\":"
      "0,"
      "\"read\":0}},\"time\":{\"created\":1796499696325,\"completed\":1796499740567},\"finish\":"
      "\"stop\",\"error\":{\"name\":\"MessageAbortedError\",\"data\":{\"message\":\"Aborted\"}}},"
      "\"parts\":[{\"type\":\"step-start\"},{\"type\":\"text\",\"text\":\"FAST_ANSWER_MARK is the "
      "whole answer.\",\"time\":{\"start\":1796499737684,\"end\":1796499737882}},{\"type\":"
      "\"step-finish\",\"reason\":\"stop\",\"tokens\":{\"total\":110,\"input\":100,\"output\":10,"
      "\"reasoning\":0,\"cache\":{\"write\":0,\"read\":0}},\"cost\":0.00045}]},"
      "{\"info\":{\"id\":\"msg_u2\",\"sessionID\":\"ses_q\",\"role\":\"user\",\"time\":"
      "{\"created\":1796499800000}},\"parts\":[{\"type\":\"text\",\"text\":\"slow\"}]},"
      "{\"info\":{\"id\":\"msg_a2\",\"sessionID\":\"ses_q\",\"role\":\"assistant\","
      "\"parentID\":\"msg_u2\",\"modelID\":\"scripted\",\"cost\":0,\"tokens\":{\"input\":0,"
      "\"output\":0,\"reasoning\":0,\"cache\":{\"read\":0,\"write\":0}},\"time\":{\"created\":"
      "1796499800100,\"completed\":1796499803400},\"error\":{\"name\":\"MessageAbortedError\","
      "\"data\":{\"message\":\"Aborted\"}}},\"parts\":[{\"type\":\"step-start\"},{\"type\":"
      "\"text\",\"text\":\"This is a slow answer. This \",\"time\":{\"start\":1796499801000}}]}]}";
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  CHECK_INT(c.len, 4);
  span *answered = NULL, *streaming = NULL, *t1 = NULL, *t2 = NULL;
  for (size_t i = 0; i < c.len; i++) {
    const char *meta = attr_s(c.items[i], "metadata");
    bool one = meta && strstr(meta, "msg_u1") != NULL, llm = strcmp(c.items[i]->name, "Turn") != 0;
    if (llm && meta && strstr(meta, "msg_a1")) answered = c.items[i];
    if (llm && meta && strstr(meta, "msg_a2")) streaming = c.items[i];
    if (!llm && one) t1 = c.items[i];
    if (!llm && !one) t2 = c.items[i];
  }
  /* the complete answer: OK, ending when the answer did, not at the quit */
  CHECK(answered && answered->status != SPAN_STATUS_ERROR);
  CHECK(answered && answered->end_ns == 1796499737882ULL * 1000000ULL);
  CHECK(answered && answered->n_events == 0);
  CHECK(t1 && t1->status != SPAN_STATUS_ERROR);
  /* aborted while it streamed: an error, as before */
  CHECK(streaming && streaming->status == SPAN_STATUS_ERROR);
  CHECK(t2 && t2->status == SPAN_STATUS_ERROR && t2->status_message &&
        strcmp(t2->status_message, "MessageAbortedError") == 0);
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
  const char *later = "{\"type\":\"close\",\"sessionID\":\"ses_k\",\"messages\":["
                      "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_k\",\"role\":\"user\","
                      "\"time\":{\"created\":1795480001000}},"
                      " \"parts\":[{\"type\":\"text\",\"text\":\"slow one\"}]},"
                      "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_k\",\"role\":\"assistant\","
                      "\"parentID\":\"msg_u1\","
                      "  "
                      "\"modelID\":\"m\",\"finish\":\"tool-calls\",\"time\":{\"created\":"
                      "1795480001100,\"completed\":1795480009000}},"
                      " \"parts\":[{\"type\":\"tool\",\"callID\":\"c1\",\"tool\":\"bash\","
                      "\"state\":{\"status\":\"completed\",\"input\":{},\"output\":\"\",\"time\":{"
                      "\"start\":1795480001450,\"end\":1795480008000}}}]},"
                      "{\"info\":{\"id\":\"msg_a2\",\"sessionID\":\"ses_k\",\"role\":\"assistant\","
                      "\"parentID\":\"msg_u1\","
                      "  "
                      "\"modelID\":\"m2\",\"finish\":\"stop\",\"time\":{\"created\":1795480009100,"
                      "\"completed\":1795480009900}},"
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
      "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_n\",\"role\":\"user\",\"time\":{"
      "\"created\":1795480001000}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"never answered\"}]}]}";
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  CHECK_INT(c.len, 1);
  span *turn = find_span(&c, "Turn");
  CHECK(turn && turn->status == SPAN_STATUS_ERROR &&
        strstr(turn->status_message, "first model call"));
  collected_clear(&c);
  state_free(st);
}

static void test_abandoned_close_ends_a_running_subagent_inside_its_turn(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  const char *payload =
      "{\"type\":\"close\",\"abandoned\":true,\"sessionID\":\"ses_p\",\"messages\":["
      "{\"info\":{\"id\":\"msg_u1\",\"sessionID\":\"ses_p\",\"role\":\"user\",\"time\":{"
      "\"created\":1795480001000}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"delegate\"}]},"
      "{\"info\":{\"id\":\"msg_a1\",\"sessionID\":\"ses_p\",\"role\":\"assistant\",\"parentID\":"
      "\"msg_u1\","
      "  \"modelID\":\"m\",\"time\":{\"created\":1795480001100}},"
      " \"parts\":[{\"type\":\"tool\",\"callID\":\"t1\",\"tool\":\"task\",\"state\":{\"status\":"
      "\"running\","
      "   "
      "\"input\":{\"prompt\":\"go\",\"subagent_type\":\"general\"},\"metadata\":{\"sessionId\":"
      "\"ses_c\"},\"time\":{\"start\":1795480001500}}}]}],"
      "\"childSessions\":[{\"sessionID\":\"ses_c\",\"parentSessionID\":\"ses_p\",\"parentCallID\":"
      "\"t1\","
      " \"info\":{\"id\":\"ses_c\",\"parentID\":\"ses_p\",\"agent\":\"general\"},\"messages\":["
      "{\"info\":{\"id\":\"msg_cu\",\"sessionID\":\"ses_c\",\"role\":\"user\",\"time\":{"
      "\"created\":1795480001600}},\"parts\":[]},"
      "{\"info\":{\"id\":\"msg_ca\",\"sessionID\":\"ses_c\",\"role\":\"assistant\",\"parentID\":"
      "\"msg_cu\","
      "  \"modelID\":\"mc\",\"time\":{\"created\":1795480001700}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"half\",\"time\":{\"start\":1795480001800,\"end\":"
      "1795480002500}}]}]}]}";
  CHECK_INT(run(st, &all_on, payload, &c, &r), 0);
  span *turn = find_span(&c, "Turn"), *task = find_span(&c, "task"),
       *agent = find_span(&c, "Agent: general");
  span *child_llm = find_span(&c, "LLM: mc");
  CHECK_INT(c.len, 5);
  CHECK(is_child_of(agent, task) && is_child_of(child_llm, agent));
  CHECK(agent && agent->status == SPAN_STATUS_ERROR && child_llm &&
        child_llm->status == SPAN_STATUS_ERROR);
  CHECK(turn && agent && child_llm && agent->end_ns <= turn->end_ns &&
        child_llm->end_ns <= turn->end_ns);
  CHECK(turn && turn->end_ns == 1795480002500ULL * 1000000ULL);
  collected_clear(&c);
  state_free(st);
}

/* A message of another session among the root's messages: the plugin read the wrong
 * session, nothing in the payload can be trusted (a privacy boundary). */
static void test_foreign_record_rejects_the_payload(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  char *text = fixture_payload(ONE_BASH, "close");
  json_t *snap = json_loads(text, 0, NULL);
  free(text);
  json_t *last = json_array_get(json_object_get(snap, "messages"),
                                json_array_size(json_object_get(snap, "messages")) - 1);
  CHECK(json_object_set_new(json_object_get(last, "info"), "sessionID", json_string("ses_OTHER")) ==
        0);
  char *payload = json_dumps(snap, JSON_COMPACT);
  json_decref(snap);
  CHECK_INT(run(st, &all_on, payload, &c, &r), -1);
  CHECK_INT(c.len, 0);
  CHECK(strstr(r.error, "another") != NULL);
  free(payload);
  state_free(st);
}

static void test_malformed_payloads_are_rejected_with_a_reason(void) {
  const char *bad[] = {
      "",
      "{",
      "[]",
      "{\"type\":\"x\",\"sessionID\":\"s\",\"messages\":[]}",
      "{\"type\":\"close\",\"messages\":[]}",
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":{}}",
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
           "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":"
           "1795480000001}},\"parts\":[{\"type\":\"text\",\"text\":\"%s\"}]},"
           "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
           "\"time\":{\"created\":1795480000002,\"completed\":1795480000003}},\"parts\":[]}]}",
           prompt);
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_options opt = {.log_prompts = true,
                           .log_tool_details = true,
                           .log_tool_content = true,
                           .max_attr_bytes = 1024};
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
      "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":-5}},"
      "\"parts\":[]},"
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
  reconcile_options opt = {.log_prompts = true,
                           .log_tool_details = true,
                           .log_tool_content = true,
                           .hide_inputs = true,
                           .hide_output_text = true};
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
  reconcile_options opt = {.log_prompts = true,
                           .log_tool_details = true,
                           .log_tool_content = true,
                           .attribute_names = names,
                           .attribute_values = values,
                           .n_attributes = 2};
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
  len += (size_t)snprintf(
      payload + len, cap - len,
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
      "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":"
      "1795480000001}},\"parts\":[]},"
      "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
      "\"time\":{\"created\":1795480000002,\"completed\":1795480000003}},\"parts\":[");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(payload + len, cap - len,
                            "%s{\"type\":\"tool\",\"callID\":\"c%zu\",\"tool\":\"write\",\"state\":"
                            "{\"status\":\"pending\",\"input\":{\"content\":\"%s\"}}}",
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
  CHECK(
      attr_s(llm, "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments") &&
      strstr(attr_s(llm, "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"),
             "truncated"));
  free(big);
  free(payload);
  collected_clear(&c);
  state_free(st);
}

/* ------------------------------------------------------------------------------------------ */
/* One bad item costs only itself; attributes as the OpenInference conventions say (issue 12)  */

static char log_path[] = "/tmp/test_reconcile_log.XXXXXX";

/* The log so far (then emptied): where skipped items are named. Caller frees. */
static char *log_taken(void) {
  FILE *f = fopen(log_path, "rb");
  char *text = calloc(1, 65536);
  if (f && text) fread(text, 1, 65535, f);
  if (f) fclose(f);
  if (truncate(log_path, 0) != 0) perror("truncate");
  return text;
}

static size_t count_lines(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)); p++) n++;
  return n;
}

static int run_close(const char *payload, collected *c, reconcile_result *r) {
  state *st = state_new(NULL);
  int rc = run(st, &all_on, payload, c, r);
  if (rc != 0) fprintf(stderr, "  reconcile: %s\n", r->error);
  state_free(st);
  return rc;
}

/* A root session "ses_r" whose turn "u" called a task "t1" that ran child "ses_c". The child
 * messages, the task's status and the root's answer are slots. */
#define TASK_ROOT_FMT                                                                              \
  "{\"type\":\"%s\",\"sessionID\":\"ses_r\",\"messages\":["                                        \
  "{\"info\":{\"id\":\"u\",\"sessionID\":\"ses_r\",\"role\":\"user\",\"time\":{\"created\":"       \
  "1795480001000}},"                                                                               \
  " \"parts\":[{\"type\":\"text\",\"text\":\"delegate\"}]},"                                       \
  "{\"info\":{\"id\":\"a1\",\"sessionID\":\"ses_r\",\"role\":\"assistant\",\"parentID\":\"u\","    \
  "\"modelID\":\"m\","                                                                             \
  "  \"finish\":\"tool-calls\",\"time\":{\"created\":1795480001100,\"completed\":1795480009000}}," \
  " \"parts\":[{\"type\":\"tool\",\"callID\":\"t1\",\"tool\":\"task\",\"state\":{\"status\":\"%"   \
  "s\","                                                                                           \
  "   \"input\":{\"prompt\":\"do it\",\"subagent_type\":\"general\"},\"output\":\"ok\","           \
  "   "                                                                                            \
  "\"metadata\":{\"sessionId\":\"ses_c\"},\"time\":{\"start\":1795480001200,\"end\":"              \
  "1795480008000}}}]}"                                                                             \
  "%s],"                                                                                           \
  "\"childSessions\":[{\"sessionID\":\"ses_c\",\"parentSessionID\":\"ses_r\",\"parentCallID\":"    \
  "\"t1\","                                                                                        \
  " \"info\":{\"id\":\"ses_c\",\"parentID\":\"ses_r\",\"agent\":\"general\"},\"messages\":["       \
  "{\"info\":{\"id\":\"cu\",\"sessionID\":\"ses_c\",\"role\":\"user\",\"time\":{\"created\":"      \
  "1795480001300}},"                                                                               \
  " \"parts\":[{\"type\":\"text\",\"text\":\"do it\"}]}%s]}]}"

#define ROOT_ANSWER                                                                                \
  ",{\"info\":{\"id\":\"a2\",\"sessionID\":\"ses_r\",\"role\":\"assistant\",\"parentID\":\"u\","   \
  "\"modelID\":\"m\","                                                                             \
  " \"finish\":\"stop\",\"time\":{\"created\":1795480008100,\"completed\":1795480009000}},"        \
  " \"parts\":[{\"type\":\"text\",\"text\":\"all done\"}]}"

/* A child call that ran bash (finished) but whose message never completed. */
#define CHILD_UNFINISHED_CALL                                                                      \
  ",{\"info\":{\"id\":\"ca1\",\"sessionID\":\"ses_c\",\"role\":\"assistant\",\"parentID\":\"cu\"," \
  "\"modelID\":\"m\","                                                                             \
  " \"time\":{\"created\":1795480001400}},"                                                        \
  " \"parts\":[{\"type\":\"tool\",\"callID\":\"b1\",\"tool\":\"bash\",\"state\":{\"status\":"      \
  "\"completed\","                                                                                 \
  "   "                                                                                            \
  "\"input\":{\"command\":\"ls\"},\"output\":\"x\",\"time\":{\"start\":1795480001500,\"end\":"     \
  "1795480001600}}}]}"

#define CHILD_FINISHED_CALL                                                                        \
  ",{\"info\":{\"id\":\"ca1\",\"sessionID\":\"ses_c\",\"role\":\"assistant\",\"parentID\":\"cu\"," \
  "\"modelID\":\"m\","                                                                             \
  " \"finish\":\"tool-calls\",\"time\":{\"created\":1795480001400,\"completed\":1795480001700}},"  \
  " \"parts\":[{\"type\":\"tool\",\"callID\":\"b1\",\"tool\":\"bash\",\"state\":{\"status\":"      \
  "\"completed\","                                                                                 \
  "   "                                                                                            \
  "\"input\":{\"command\":\"ls\"},\"output\":\"x\",\"time\":{\"start\":1795480001500,\"end\":"     \
  "1795480001600}}}]}"

/* The child's answer, still streaming (no completion, empty text) or complete. */
#define CHILD_ANSWER_PARTIAL                                                                       \
  ",{\"info\":{\"id\":\"ca2\",\"sessionID\":\"ses_c\",\"role\":\"assistant\",\"parentID\":\"cu\"," \
  "\"modelID\":\"m\","                                                                             \
  " \"time\":{\"created\":1795480001800}},\"parts\":[{\"type\":\"text\",\"text\":\"\"}]}"
#define CHILD_ANSWER_COMPLETE                                                                      \
  ",{\"info\":{\"id\":\"ca2\",\"sessionID\":\"ses_c\",\"role\":\"assistant\",\"parentID\":\"cu\"," \
  "\"modelID\":\"m\","                                                                             \
  " \"finish\":\"stop\",\"time\":{\"created\":1795480001800,\"completed\":1795480007000}},"        \
  " \"parts\":[{\"type\":\"text\",\"text\":\"child final answer\"}]}"

static char *task_payload(const char *type, const char *task_status, const char *root_answer,
                          const char *child_messages) {
  size_t n = strlen(TASK_ROOT_FMT) + strlen(root_answer) + strlen(child_messages) + 64;
  char *text = malloc(n);
  snprintf(text, n, TASK_ROOT_FMT, type, task_status, root_answer, child_messages);
  return text;
}

/* Item 1: as in a root session, a child call that never completed is sent as an interrupted
 * LLM span once its turn is over, so its finished tool has a parent. */
static void test_child_call_without_completion_is_sent_interrupted_as_its_tools_parent(void) {
  char *payload = task_payload("close", "completed", ROOT_ANSWER, CHILD_UNFINISHED_CALL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_close(payload, &c, &r), 0);
  span *bash = find_span(&c, "bash"), *agent = find_span(&c, "Agent: general");
  span *child_llm = NULL;
  for (size_t i = 0; i < c.len; i++)
    if (is_child_of(bash, c.items[i])) child_llm = c.items[i];
  CHECK(bash != NULL);
  CHECK(child_llm != NULL); /* the TOOL span's parent was sent */
  CHECK(child_llm && strcmp(attr_s(child_llm, "openinference.span.kind"), "LLM") == 0);
  CHECK(child_llm && child_llm->status == SPAN_STATUS_ERROR);
  CHECK(is_child_of(child_llm, agent));
  collected_clear(&c);
  free(payload);
}

/* Item 3: a child snapshot read while the child was still answering does not freeze the
 * AGENT span: it waits for the complete child, and then carries its final answer. */
static void test_agent_span_waits_for_the_complete_child_and_carries_its_answer(void) {
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  char *partial =
      task_payload("reconcile", "completed", "", CHILD_FINISHED_CALL CHILD_ANSWER_PARTIAL);
  char *complete =
      task_payload("close", "completed", ROOT_ANSWER, CHILD_FINISHED_CALL CHILD_ANSWER_COMPLETE);
  CHECK_INT(run(st, &all_on, partial, &c, &r), 0);
  CHECK(find_span(&c, "Agent: general") == NULL);
  CHECK_INT(run(st, &all_on, complete, &c, &r), 0);
  CHECK_INT(count_kind(&c, "AGENT"), 1);
  span *agent = find_span(&c, "Agent: general");
  CHECK_STR(attr_s(agent, "output.value"), "child final answer");
  /* its id is still the one derived from the child session */
  state *fresh = state_new(NULL);
  collected d = {0};
  CHECK_INT(run(fresh, &all_on, complete, &d, &r), 0);
  span *again = find_span(&d, "Agent: general");
  CHECK(agent && again && memcmp(agent->span_id, again->span_id, 8) == 0);
  collected_clear(&c), collected_clear(&d);
  state_free(st), state_free(fresh);
  free(partial), free(complete);
}

/* Item 1, the same for the AGENT span: a turn that is over with its task call never ended
 * (OpenCode was stopped) still sends the AGENT span, as an interrupted ERROR, so the child's
 * spans have their parent. */
static void test_agent_of_a_task_that_never_ended_is_sent_interrupted_when_the_turn_is_over(void) {
  char *payload =
      task_payload("close", "running", ROOT_ANSWER, CHILD_FINISHED_CALL CHILD_ANSWER_PARTIAL);
  /* a newer user message: the turn is over */
  const char *newer = ",{\"info\":{\"id\":\"u2\",\"sessionID\":\"ses_r\",\"role\":\"user\","
                      "\"time\":{\"created\":1795480010000}},\"parts\":[]}";
  char *at = strstr(payload, "],\"childSessions\"");
  CHECK(at != NULL);
  size_t n = strlen(payload) + strlen(newer) + 1;
  char *text = malloc(n);
  snprintf(text, n, "%.*s%s%s", (int)(at - payload), payload, newer, at);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_close(text, &c, &r), 0);
  span *agent = find_span(&c, "Agent: general"), *task = find_span(&c, "task");
  CHECK(agent && agent->status == SPAN_STATUS_ERROR);
  CHECK(is_child_of(agent, task));
  CHECK(agent && agent->end_ns >= agent->start_ns && agent->end_ns > 1795480001200ULL * 1000000ULL);
  for (size_t i = 0; i < c.len; i++) /* every parent was sent */
    if (c.items[i]->has_parent) {
      bool found = false;
      for (size_t j = 0; j < c.len; j++) found |= is_child_of(c.items[i], c.items[j]);
      CHECK(found);
    }
  collected_clear(&c);
  free(payload), free(text);
}

/* Item 2: a child whose info names another session, or that lacks parentSessionID, is left
 * out with one log line naming it; the root turn and the other children are traced. */
static void test_untrustworthy_child_session_is_skipped_and_the_root_turn_traced(void) {
  static const char *const breakages[][2] = {
      {"\"info\":{\"id\":\"ses_c\",", "\"info\":{\"id\":\"ses_z\","}, /* info of another session */
      {"\"parentSessionID\":\"ses_r\",", ""},                         /* no parentSessionID */
  };
  for (size_t k = 0; k < 2; k++) {
    char *payload =
        task_payload("close", "completed", ROOT_ANSWER, CHILD_FINISHED_CALL CHILD_ANSWER_COMPLETE);
    char *at = strstr(payload, breakages[k][0]);
    CHECK(at != NULL);
    size_t from = strlen(breakages[k][0]), to = strlen(breakages[k][1]);
    memmove(at + to, at + from, strlen(at + from) + 1);
    memcpy(at, breakages[k][1], to);
    collected c = {0};
    reconcile_result r;
    CHECK_INT(run_close(payload, &c, &r), 0);
    CHECK(find_span(&c, "Turn") != NULL);
    CHECK_INT(count_kind(&c, "LLM"), 2); /* the root's two calls; none of the child's */
    CHECK(find_span(&c, "task") != NULL);
    CHECK(find_span(&c, "Agent: general") == NULL);
    CHECK_INT(r.items_skipped, 1);
    char *log = log_taken();
    CHECK_INT(count_lines(log, "child session ses_c"), 1);
    CHECK(strstr(log, "do it") == NULL && strstr(log, "child final") == NULL); /* ids only */
    if (count_lines(log, "child session ses_c") != 1) fprintf(stderr, "  log: %s\n", log);
    free(log);
    collected_clear(&c);
    free(payload);
  }
}

/* Item 2: a part whose messageID names another message is left out; the message and the
 * rest of the turn are traced. */
static void test_part_of_another_message_is_skipped_and_the_rest_traced(void) {
  char *text = fixture_payload(ONE_BASH, "close");
  json_t *snap = json_loads(text, 0, NULL);
  free(text);
  /* the bash call's tool part claims another message */
  json_t *messages = json_object_get(snap, "messages");
  size_t changed = 0;
  for (size_t i = 0; i < json_array_size(messages); i++) {
    json_t *parts = json_object_get(json_array_get(messages, i), "parts");
    for (size_t j = 0; j < json_array_size(parts); j++) {
      json_t *part = json_array_get(parts, j);
      if (json_is_string(json_object_get(part, "tool")) && json_object_get(part, "messageID"))
        changed += json_object_set_new(part, "messageID", json_string("msg_other")) == 0;
    }
  }
  CHECK_INT(changed, 1);
  char *payload = json_dumps(snap, JSON_COMPACT);
  json_decref(snap);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_close(payload, &c, &r), 0);
  CHECK(find_span(&c, "Turn") != NULL);
  CHECK_INT(count_kind(&c, "LLM"), 2);
  CHECK(find_span(&c, "bash") == NULL);
  CHECK_INT(r.items_skipped, 1);
  char *log = log_taken();
  CHECK_INT(count_lines(log, "names another message"), 1);
  CHECK(strstr(log, "echo hi") == NULL);
  free(log);
  collected_clear(&c);
  free(payload);
}

/* Item 2: jansson refuses a whole text for one number past the range of a double; the call
 * holding it is traced without that count (and without its cost), the rest in full. */
static void test_overflowing_token_count_and_cost_leave_out_only_themselves(void) {
  const char *payload = "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
                        "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{"
                        "\"created\":1795480001000}},"
                        " \"parts\":[{\"type\":\"text\",\"text\":\"secret prompt\"}]},"
                        "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\","
                        "\"parentID\":\"u\",\"modelID\":\"m\","
                        "  "
                        "\"cost\":1e309,\"tokens\":{\"input\":10,\"output\":1e309,\"reasoning\":0,"
                        "\"cache\":{\"read\":2,\"write\":0}},"
                        "  \"time\":{\"created\":1795480001100,\"completed\":1795480002000}},"
                        " \"parts\":[{\"type\":\"text\",\"text\":\"answer\"}]}]}";
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_close(payload, &c, &r), 0);
  span *llm = find_span(&c, "LLM: m");
  CHECK(find_span(&c, "Turn") != NULL);
  CHECK_INT(attr_i(llm, "llm.token_count.prompt"), 12);
  CHECK(llm && span_get(llm, "llm.token_count.completion") == NULL);
  CHECK(llm && span_get(llm, "llm.token_count.total") == NULL);
  CHECK(llm && span_get(llm, "llm.cost.total") == NULL);
  CHECK_STR(attr_s(llm, "output.value"), "answer");
  CHECK_INT(r.items_skipped, 2);
  char *log = log_taken();
  CHECK_INT(count_lines(log, "message a: tokens.output is not a valid count"), 1);
  CHECK_INT(count_lines(log, "message a: its cost"), 1);
  CHECK(strstr(log, "secret") == NULL);
  free(log);
  collected_clear(&c);
}

/* Item 4: a redacted value is never plain text under a JSON type. */
static void test_redacted_tool_arguments_keep_their_json_types_honest(void) {
  reconcile_options opt = all_on;
  opt.log_tool_content = false;
  opt.log_tool_details = false;
  state *st = state_new(NULL);
  collected c = {0};
  CHECK_INT(run_fixture(st, &opt, ONE_BASH, "close", &c), 0);
  span *tool = find_span(&c, "bash");
  CHECK(attr_s(tool, "input.value") && strncmp(attr_s(tool, "input.value"), "<redacted", 9) == 0);
  CHECK_STR(attr_s(tool, "input.mime_type"), "text/plain");
  json_error_t e;
  json_t *params =
      json_loads(attr_s(tool, "tool.parameters") ? attr_s(tool, "tool.parameters") : "", 0, &e);
  CHECK(json_is_object(params));
  CHECK(!strstr(attr_s(tool, "tool.parameters") ? attr_s(tool, "tool.parameters") : "echo hi",
                "echo hi"));
  json_decref(params);
  for (size_t i = 0; i < c.len; i++)
    for (size_t k = 0; k < c.items[i]->attrs.len; k++) {
      const span_attr *a = &c.items[i]->attrs.items[k];
      size_t n = strlen(a->key);
      if (n < 19 || strcmp(a->key + n - 19, "function.arguments") != 0 ||
          a->type != SPAN_ATTR_STRING)
        continue;
      json_t *args = json_loads(a->value.s, 0, &e);
      CHECK(json_is_object(args));
      json_decref(args);
    }
  /* wherever application/json is claimed, the value parses */
  for (size_t i = 0; i < c.len; i++) {
    const char *mime = attr_s(c.items[i], "input.mime_type");
    if (!mime || strcmp(mime, "application/json") != 0) continue;
    json_t *v = json_loads(attr_s(c.items[i], "input.value"), JSON_DECODE_ANY, &e);
    CHECK(v != NULL);
    json_decref(v);
  }
  collected_clear(&c);
  state_free(st);
}

/* Item 4: OPENINFERENCE_HIDE_INPUTS/_OUTPUTS drop the mime type beside "__REDACTED__", as
 * OpenInference's own masking does. */
static void test_hide_inputs_and_outputs_drop_the_mime_types(void) {
  reconcile_options opt = all_on;
  opt.hide_inputs = opt.hide_outputs = true;
  state *st = state_new(NULL);
  collected c = {0};
  CHECK_INT(run_fixture(st, &opt, ONE_BASH, "close", &c), 0);
  CHECK(c.len == 4);
  for (size_t i = 0; i < c.len; i++) {
    CHECK(span_get(c.items[i], "input.mime_type") == NULL);
    CHECK(span_get(c.items[i], "output.mime_type") == NULL);
    CHECK_STR(attr_s(c.items[i], "input.value"), "__REDACTED__");
  }
  collected_clear(&c);
  state_free(st);
}

/* Item 6: message.content for a text-only output message, message.contents.N for a
 * multi-part one; never both on one message. */
static void test_text_only_output_uses_content_and_multi_part_uses_contents(void) {
  const char *payload = "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
                        "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{"
                        "\"created\":1795480001000}},"
                        " \"parts\":[{\"type\":\"text\",\"text\":\"q\"}]},"
                        "{\"info\":{\"id\":\"a1\",\"sessionID\":\"s\",\"role\":\"assistant\","
                        "\"parentID\":\"u\",\"modelID\":\"plain\","
                        "  \"time\":{\"created\":1795480001100,\"completed\":1795480002000}},"
                        " \"parts\":[{\"type\":\"text\",\"text\":\"just text\"}]},"
                        "{\"info\":{\"id\":\"a2\",\"sessionID\":\"s\",\"role\":\"assistant\","
                        "\"parentID\":\"u\",\"modelID\":\"thinker\","
                        "  \"time\":{\"created\":1795480002100,\"completed\":1795480003000}},"
                        " \"parts\":[{\"type\":\"reasoning\",\"text\":\"hmm\"},{\"type\":\"text\","
                        "\"text\":\"answer\"}]}]}";
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_close(payload, &c, &r), 0);
  span *plain = find_span(&c, "LLM: plain"), *thinker = find_span(&c, "LLM: thinker");
  CHECK_STR(attr_s(plain, "llm.output_messages.0.message.content"), "just text");
  CHECK(attr_s(plain, "llm.output_messages.0.message.contents.0.message_content.text") == NULL);
  CHECK(attr_s(thinker, "llm.output_messages.0.message.content") == NULL);
  CHECK_STR(attr_s(thinker, "llm.output_messages.0.message.contents.0.message_content.type"),
            "reasoning");
  CHECK_STR(attr_s(thinker, "llm.output_messages.0.message.contents.1.message_content.text"),
            "answer");
  collected_clear(&c);
}

/* Item 7: no cost field is an unknown cost, not a free call; the Turn sums the known costs
 * and has no cost when none is known. */
static void test_missing_cost_is_unknown_not_free(void) {
  const char *fmt =
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
      "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":"
      "1795480001000}},\"parts\":[]},"
      "{\"info\":{\"id\":\"a1\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
      "\"modelID\":\"m1\"%s,"
      "  \"time\":{\"created\":1795480001100,\"completed\":1795480002000}},\"parts\":[]},"
      "{\"info\":{\"id\":\"a2\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
      "\"modelID\":\"m2\","
      "  \"time\":{\"created\":1795480002100,\"completed\":1795480003000}},\"parts\":[]}]}";
  char payload[2048];
  snprintf(payload, sizeof payload, fmt, "");
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_close(payload, &c, &r), 0);
  CHECK(find_span(&c, "LLM: m1") && span_get(find_span(&c, "LLM: m1"), "llm.cost.total") == NULL);
  CHECK(find_span(&c, "Turn") &&
        span_get(find_span(&c, "Turn"), "opencode.turn.cost.total") == NULL);
  collected_clear(&c);
  snprintf(payload, sizeof payload, fmt, ",\"cost\":0.25");
  CHECK_INT(run_close(payload, &c, &r), 0);
  const span_attr *cost = span_get(find_span(&c, "LLM: m1"), "llm.cost.total");
  CHECK(cost && cost->type == SPAN_ATTR_DOUBLE && cost->value.d == 0.25);
  CHECK(span_get(find_span(&c, "LLM: m2"), "llm.cost.total") == NULL);
  const span_attr *turn_cost = span_get(find_span(&c, "Turn"), "opencode.turn.cost.total");
  CHECK(turn_cost && turn_cost->type == SPAN_ATTR_DOUBLE && turn_cost->value.d == 0.25);
  collected_clear(&c);
}

/* Item 8: a clock before 2000 gives spans at a clamped time, marked, never missing ones. */
static void test_clock_before_2000_gives_clamped_marked_spans_not_missing_ones(void) {
  const char *payload =
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
      "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":5000}},"
      " \"parts\":[{\"type\":\"text\",\"text\":\"q\"}]},"
      "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
      "\"modelID\":\"m\","
      "  \"time\":{\"created\":6000,\"completed\":9000}},"
      " \"parts\":[{\"type\":\"tool\",\"callID\":\"c\",\"tool\":\"bash\",\"state\":{\"status\":"
      "\"completed\","
      "   "
      "\"input\":{\"command\":\"ls\"},\"output\":\"x\",\"time\":{\"start\":7000,\"end\":8000}}}]}]"
      "}";
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_close(payload, &c, &r), 0);
  CHECK_INT(c.len, 3);
  CHECK(find_span(&c, "Turn") != NULL);
  CHECK(find_span(&c, "LLM: m") != NULL);
  for (size_t i = 0; i < c.len; i++) {
    const span_attr *mark = span_get(c.items[i], "opencode.time.clamped");
    CHECK(mark && mark->type == SPAN_ATTR_BOOL && mark->value.b);
    CHECK(c.items[i]->start_ns == 946684800000ULL * 1000000ULL);
  }
  collected_clear(&c);
}

/* Item 10: a tool the user aborted ends ERROR, like other interrupted tools. */
static void test_tool_the_user_aborted_ends_error(void) {
  static const char *const states[] = {
      /* bash completes an aborted command with what it printed and a metadata note */
      "{\"status\":\"completed\",\"input\":{\"command\":\"sleep 60\"},"
      "\"output\":\"partial\\n\\n<bash_metadata>\\nUser aborted the command\\n</bash_metadata>\","
      "\"metadata\":{\"exit\":130},\"time\":{\"start\":1795480001200,\"end\":1795480001300}}",
      /* a call cut off by the abort */
      "{\"status\":\"error\",\"input\":{\"command\":\"sleep 60\"},\"error\":\"Tool execution "
      "aborted\","
      "\"time\":{\"start\":1795480001200,\"end\":1795480001300}}",
  };
  for (size_t k = 0; k < 2; k++) {
    char payload[2048];
    snprintf(payload, sizeof payload,
             "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
             "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":"
             "1795480001000}},\"parts\":[]},"
             "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":"
             "\"u\",\"modelID\":\"m\","
             "  \"error\":{\"name\":\"MessageAbortedError\",\"data\":{\"message\":\"aborted\"}},"
             "  \"time\":{\"created\":1795480001100,\"completed\":1795480002000}},"
             " \"parts\":[{\"type\":\"tool\",\"callID\":\"c\",\"tool\":\"bash\",\"state\":%s}]}]}",
             states[k]);
    collected c = {0};
    reconcile_result r;
    CHECK_INT(run_close(payload, &c, &r), 0);
    span *tool = find_span(&c, "bash");
    CHECK(tool && tool->status == SPAN_STATUS_ERROR);
    CHECK(tool && tool->n_events == 1 &&
          strcmp(span_attrs_get(&tool->events[0].attrs, "exception.type")->value.s, "Aborted") ==
              0);
    collected_clear(&c);
  }
}

int main(void) {
  RUN(test_a_huge_tool_output_gives_the_same_attributes);
  int log_fd = mkstemp(log_path);
  if (log_fd >= 0) close(log_fd);
  log_open(log_path);
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
  RUN(test_abandoned_close_of_an_answer_stored_whole_is_no_error);
  RUN(test_an_abort_stamped_on_a_complete_answer_is_no_error);
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
  RUN(test_child_call_without_completion_is_sent_interrupted_as_its_tools_parent);
  RUN(test_agent_span_waits_for_the_complete_child_and_carries_its_answer);
  RUN(test_agent_of_a_task_that_never_ended_is_sent_interrupted_when_the_turn_is_over);
  RUN(test_untrustworthy_child_session_is_skipped_and_the_root_turn_traced);
  RUN(test_part_of_another_message_is_skipped_and_the_rest_traced);
  RUN(test_overflowing_token_count_and_cost_leave_out_only_themselves);
  RUN(test_redacted_tool_arguments_keep_their_json_types_honest);
  RUN(test_hide_inputs_and_outputs_drop_the_mime_types);
  RUN(test_text_only_output_uses_content_and_multi_part_uses_contents);
  RUN(test_missing_cost_is_unknown_not_free);
  RUN(test_clock_before_2000_gives_clamped_marked_spans_not_missing_ones);
  RUN(test_tool_the_user_aborted_ends_error);
  log_close();
  unlink(log_path);
  return check_done();
}
