/* Hostile input: what the model, the user's files or a broken caller can put into a snapshot
 * or a config file. Each case has one defined outcome: a rejected payload with a reason, a
 * bounded span (cut with a marker, invalid text replaced by U+FFFD), or a config warning;
 * never a crash, a hang or unbounded memory.
 *
 * Tests that trip UndefinedBehaviorSanitizer (which aborts the whole binary under SAN=1) run
 * last, so the others still report. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "fixture.h"
#include "otlp.h"
#include "reconcile.h"
#include "spans.h"
#include "state.h"

#define LIMIT 32768 /* reconcile's default max_attr_bytes */
#define MARKER_ROOM 128
#define FFFD "\xEF\xBF\xBD"

static const reconcile_options all_on = {
    .log_prompts = true, .log_tool_details = true, .log_tool_content = true};

/* ------------------------------------------------------------------------------------------ */
/* Payload builders: session "s", user message "u", assistant messages after it.              */

static json_t *user_message(const char *id, const char *text) {
  return json_pack("{s:{s:s, s:s, s:s, s:{s:I}}, s:[{s:s, s:s}]}", "info", "id", id, "sessionID",
                   "s", "role", "user", "time", "created", (json_int_t)1795480001000, "parts",
                   "type", "text", "text", text);
}

/* A completed assistant message answering "u"; parts is stolen. */
static json_t *assistant_message(const char *id, json_t *parts) {
  return json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:I}}, s:o}", "info", "id", id,
                   "sessionID", "s", "role", "assistant", "parentID", "u", "modelID", "m",
                   "providerID", "p", "time", "created", (json_int_t)1795480002000, "completed",
                   (json_int_t)1795480003000, "parts", parts);
}

static json_t *tool_part(const char *call_id, const char *tool, const char *status,
                         const char *output) {
  return json_pack("{s:s, s:s, s:s, s:{s:s, s:{s:s}, s:s, s:s, s:{s:I, s:I}}}", "type", "tool",
                   "callID", call_id, "tool", tool, "state", "status", status, "input", "command",
                   "x", "output", output, "error", output, "time", "start",
                   (json_int_t)1795480002100, "end", (json_int_t)1795480002200);
}

/* {"type":"close","sessionID":"s","messages":[...]} as text; messages is stolen. */
static char *payload_text(json_t *messages) {
  json_t *p = json_pack("{s:s, s:s, s:o}", "type", "close", "sessionID", "s", "messages", messages);
  char *text = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  return text;
}

/* user "u" (prompt text) → assistant "a" calling one tool → assistant "a2" answering. */
static char *tool_turn(const char *prompt, json_t *tool) {
  return payload_text(json_pack(
      "[o, o, o]", user_message("u", prompt), assistant_message("a", json_pack("[o]", tool)),
      assistant_message("a2", json_pack("[{s:s, s:s}]", "type", "text", "text", "done"))));
}

static int run(state *st, const reconcile_options *opt, const char *payload, size_t len,
               collected *c, reconcile_result *r) {
  int rc = reconcile_json(st, opt, payload, len, collect, c, r);
  state_commit(st);
  return rc;
}

/* Reconciles text into c with a fresh memory state. */
static int run_text(const char *payload, size_t len, collected *c, reconcile_result *r) {
  state *st = state_new(NULL);
  int rc = run(st, &all_on, payload, len, c, r);
  state_free(st);
  return rc;
}

static size_t longest_string(const span *s) {
  size_t n = strlen(s->name);
  if (s->status_message && strlen(s->status_message) > n) n = strlen(s->status_message);
  for (size_t i = 0; i < s->attrs.len; i++)
    if (s->attrs.items[i].type == SPAN_ATTR_STRING && strlen(s->attrs.items[i].value.s) > n)
      n = strlen(s->attrs.items[i].value.s);
  for (size_t e = 0; e < s->n_events; e++)
    for (size_t i = 0; i < s->events[e].attrs.len; i++)
      if (strlen(s->events[e].attrs.items[i].value.s) > n)
        n = strlen(s->events[e].attrs.items[i].value.s);
  return n;
}

/* Prints every string of s longer than limit, for failure messages. */
static void print_oversize(const span *s, size_t limit) {
  const char *kind = attr_s(s, "openinference.span.kind");
  if (strlen(s->name) > limit)
    fprintf(stderr, "  %s span: name is %zu bytes\n", kind, strlen(s->name));
  if (s->status_message && strlen(s->status_message) > limit)
    fprintf(stderr, "  %s span: status message is %zu bytes\n", kind, strlen(s->status_message));
  for (size_t i = 0; i < s->attrs.len; i++)
    if (s->attrs.items[i].type == SPAN_ATTR_STRING && strlen(s->attrs.items[i].value.s) > limit)
      fprintf(stderr, "  %s span: %s is %zu bytes\n", kind, s->attrs.items[i].key,
              strlen(s->attrs.items[i].value.s));
  for (size_t e = 0; e < s->n_events; e++)
    for (size_t i = 0; i < s->events[e].attrs.len; i++)
      if (strlen(s->events[e].attrs.items[i].value.s) > limit)
        fprintf(stderr, "  %s span: event %s: %s is %zu bytes\n", kind, s->events[e].name,
                s->events[e].attrs.items[i].key, strlen(s->events[e].attrs.items[i].value.s));
}

/* Which string of s is longest, for failure messages. */
static const char *longest_name(const span *s) {
  const char *which = "name";
  size_t n = strlen(s->name);
  if (s->status_message && strlen(s->status_message) > n)
    which = "status message", n = strlen(s->status_message);
  for (size_t i = 0; i < s->attrs.len; i++)
    if (s->attrs.items[i].type == SPAN_ATTR_STRING && strlen(s->attrs.items[i].value.s) > n)
      which = s->attrs.items[i].key, n = strlen(s->attrs.items[i].value.s);
  for (size_t e = 0; e < s->n_events; e++)
    for (size_t i = 0; i < s->events[e].attrs.len; i++)
      if (strlen(s->events[e].attrs.items[i].value.s) > n)
        which = s->events[e].attrs.items[i].key, n = strlen(s->events[e].attrs.items[i].value.s);
  return which;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = s ? strlen(s) : 0, b = strlen(suffix);
  return s && a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static char *filled(size_t n, char c) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Nesting                                                                                     */

static char *nested(size_t depth, const char *prefix, const char *suffix) {
  size_t a = strlen(prefix), b = strlen(suffix);
  char *s = malloc(a + 2 * depth + b + 1);
  memcpy(s, prefix, a);
  memset(s + a, '[', depth);
  memset(s + a + depth, ']', depth);
  memcpy(s + a + 2 * depth, suffix, b + 1);
  return s;
}

static void test_nesting_100000_levels_is_rejected_as_not_json(void) {
  char *text = nested(100000, "", "");
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), -1);
  CHECK_INT(c.len, 0);
  CHECK(strstr(r.error, "not JSON") != NULL);
  free(text);
}

static void test_nesting_100000_levels_inside_a_tool_input_rejects_the_payload(void) {
  char *text =
      nested(100000,
             "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":[{\"info\":{\"id\":\"u\","
             "\"sessionID\":\"s\",\"role\":\"user\"},\"parts\":[{\"type\":\"tool\",\"input\":",
             "}]}]}");
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), -1);
  CHECK_INT(c.len, 0);
  CHECK(strstr(r.error, "depth") != NULL);
  free(text);
}

static void test_nesting_under_the_parser_limit_gives_a_bounded_tool_input(void) {
  json_error_t err;
  char *deep = nested(2000, "", "");
  json_t *input = json_loads(deep, 0, &err);
  CHECK(input != NULL);
  json_t *tool = tool_part("c1", "bash", "completed", "ok");
  json_object_set_new(json_object_get(tool, "state"), "input", input);
  char *text = tool_turn("hi", tool);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
  span *s = find_span(&c, "bash");
  CHECK(s && strlen(attr_s(s, "input.value")) == 4000);
  collected_clear(&c);
  free(text), free(deep);
}

/* ------------------------------------------------------------------------------------------ */
/* Size                                                                                        */

static void test_100mb_tool_output_is_cut_with_a_marker_everywhere(void) {
  size_t n = 100u * 1024 * 1024;
  char *out = filled(n, 'x');
  memcpy(out + LIMIT - 100, "\xE2\x82\xAC\xE2\x82\xAC", 6); /* euros around the cut */
  memcpy(out + LIMIT - 60, "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC", 9);
  char *text = tool_turn("hi", tool_part("c1", "bash", "completed", out));
  free(out);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
  free(text);
  span *tool = find_span(&c, "bash");
  const char *value = attr_s(tool, "output.value");
  CHECK(value && strlen(value) <= LIMIT + MARKER_ROOM);
  CHECK(value && strstr(value, "…[truncated: ") && ends_with(value, "of 104857600 bytes shown]"));
  /* the next model call consumed that output: its input is cut too */
  for (size_t i = 0; i < c.len; i++) {
    CHECK(longest_string(c.items[i]) <= LIMIT + MARKER_ROOM);
    if (longest_string(c.items[i]) > LIMIT + MARKER_ROOM)
      fprintf(stderr, "  span %s: %s is %zu bytes\n", c.items[i]->name, longest_name(c.items[i]),
              longest_string(c.items[i]));
    uint8_t *bytes;
    size_t len;
    CHECK_INT(otlp_encode_span(c.items[i], &bytes, &len), 0);
    CHECK(len < 8 * LIMIT * 4);
    free(bytes);
  }
  collected_clear(&c);
}

/* Every string the snapshot can fill, not only the text attributes, is bounded: a tool name,
 * model id, agent, title, working directory or error message of a megabyte must not make a
 * megabyte span (the exporter batches at most 4 MiB; the spool and the backend pay for it). */
static void test_huge_values_outside_text_attributes_are_bounded(void) {
  size_t n = 1024 * 1024;
  char *big = filled(n, 'y');
  json_t *tool = tool_part("c1", big, "error", big);
  json_object_set_new(json_object_get(tool, "state"), "title", json_string(big));
  json_t *a = assistant_message("a", json_pack("[o]", tool));
  json_t *info = json_object_get(a, "info");
  json_object_set_new(info, "modelID", json_string(big));
  json_object_set_new(info, "providerID", json_string(big));
  json_object_set_new(info, "agent", json_string(big));
  json_object_set_new(info, "mode", json_string(big));
  json_object_set_new(info, "finish", json_string(big));
  json_object_set_new(info, "path", json_pack("{s:s}", "cwd", big));
  json_object_set_new(info, "error",
                      json_pack("{s:s, s:{s:s}}", "name", big, "data", "message", big));
  char *text = payload_text(json_pack("[o, o]", user_message("u", "hi"), a));
  free(big);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
  free(text);
  CHECK(c.len >= 3);
  for (size_t i = 0; i < c.len; i++) {
    CHECK(longest_string(c.items[i]) <= LIMIT + MARKER_ROOM);
    print_oversize(c.items[i], LIMIT + MARKER_ROOM);
  }
  collected_clear(&c);
}

/* ------------------------------------------------------------------------------------------ */
/* Text that is not plain UTF-8                                                                */

static void test_raw_invalid_utf8_rejects_the_payload_with_a_reason(void) {
  char *text = tool_turn("hi", tool_part("c1", "bash", "completed", "@@@@"));
  char *at = strstr(text, "@@@@");
  memcpy(at, "\xff\xfe\xc0\x80", 4);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), -1);
  CHECK_INT(c.len, 0);
  CHECK(strstr(r.error, "not JSON") != NULL);
  free(text);
}

/* A NUL (a binary file shown by `cat`) arrives as \u0000: the text after it must survive. */
static void test_nul_escape_in_tool_output_is_replaced_not_cut(void) {
  json_t *tool = tool_part("c1", "bash", "completed", "");
  json_object_set_new(json_object_get(tool, "state"), "output", json_stringn("abc\0def", 7));
  char *text = tool_turn("hi", tool);
  CHECK(strstr(text, "abc\\u0000def") != NULL);
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
  CHECK_STR(attr_s(find_span(&c, "bash"), "output.value"), "abc" FFFD "def");
  collected_clear(&c);
  free(text);
}

/* An id holding \u0000 is not the id before the NUL: "s\u0000x" must not pass for "s". */
static void test_nul_escape_in_a_session_id_is_not_read_as_a_shorter_id(void) {
  json_t *u = user_message("u", "hi");
  json_object_set_new(json_object_get(u, "info"), "sessionID", json_stringn("s\0other", 7));
  char *text = payload_text(json_pack("[o, o]", u, assistant_message("a", json_array())));
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), -1);
  CHECK_INT(c.len, 0);
  collected_clear(&c);
  free(text);
}

/* JSON.stringify writes a lone surrogate (a UTF-16 string cut in the middle of an emoji) as
 * "\ud800". The snapshot repeats the whole history, so a payload rejected for it would lose
 * the session for good: the surrogate must become U+FFFD instead. */
static void test_lone_surrogate_escape_is_replaced_not_rejected(void) {
  char *text = tool_turn("hi", tool_part("c1", "bash", "completed", "@@@@@@@@@@@@@@"));
  char *at = strstr(text, "@@@@@@@@@@@@@@");
  memcpy(at, "a\\ud800b\\udc00", 14); /* a lone high surrogate, then a lone low one */
  collected c = {0};
  reconcile_result r;
  int rc = run_text(text, strlen(text), &c, &r);
  CHECK_INT(rc, 0);
  if (rc != 0) fprintf(stderr, "  rejected: %s\n", r.error);
  CHECK_STR(attr_s(find_span(&c, "bash"), "output.value"), "a" FFFD "b" FFFD);
  collected_clear(&c);
  free(text);
}

/* reconcile.h: "result->error says why, without quoting content". jansson's error text ends
 * "near '<token>'", and the token can be a prompt or a tool output. */
static void test_rejection_reason_never_quotes_content(void) {
  static const char *const payloads[] = {
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":[{\"info\":{\"id\":\"u\",\"sessionID\":"
      "\"s\","
      "\"role\":\"user\"},\"parts\":[{\"type\":\"text\",\"text\":\"PROMPT-CONTENT-4711\x01\"}]}]}",
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":[\"x\" \"PROMPT-CONTENT-4711\"]}",
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":PROMPT-CONTENT-4711}",
  };
  for (size_t k = 0; k < sizeof payloads / sizeof payloads[0]; k++) {
    collected c = {0};
    reconcile_result r;
    CHECK_INT(run_text(payloads[k], strlen(payloads[k]), &c, &r), -1);
    CHECK(r.error[0] != '\0');
    CHECK(strstr(r.error, "PROMPT") == NULL);
    if (strstr(r.error, "PROMPT")) fprintf(stderr, "  error: %s\n", r.error);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Numbers                                                                                     */

static char *timed_turn(const char *created, const char *completed, const char *start,
                        const char *end) {
  char *text = malloc(2048);
  snprintf(
      text, 2048,
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
      "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":%s}},"
      "\"parts\":[]},"
      "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
      "\"time\":{\"created\":%s,\"completed\":%s}},\"parts\":[{\"type\":\"tool\",\"callID\":\"c\","
      "\"tool\":\"bash\",\"state\":{\"status\":\"completed\",\"time\":{\"start\":%s,\"end\":%s}}}]}"
      "]}",
      created, created, completed, start, end);
  return text;
}

/* 1e308, negative times and an end before its start: a span that ends no earlier than it
 * starts, at a time that did not wrap around 2^64 ns (year 2554). */
static void test_out_of_range_times_give_ordered_spans(void) {
  static const char *const cases[][4] = {
      {"1e308", "1e308", "-1", "-5"},
      {"-1", "-1", "1e308", "-1e308"},
      {"5000", "10", "9000", "20"}, /* end before start */
      {"20000000000000", "20000000000001", "30000000000000", "40000000000000"}, /* year 2603 */
      {"99999999999999", "99999999999999", "1", "99999999999999"},              /* year 5138 */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char *text = timed_turn(cases[k][0], cases[k][1], cases[k][2], cases[k][3]);
    collected c = {0};
    reconcile_result r;
    CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
    CHECK(c.len >= 1);
    for (size_t i = 0; i < c.len; i++) {
      const span *s = c.items[i];
      CHECK(s->end_ns >= s->start_ns);
      /* ns that wrapped past 2^64 come back smaller than their ms */
      CHECK(s->start_ns == 0 || s->start_ns >= 1000000ull * 1000);
      if (s->end_ns < s->start_ns)
        fprintf(stderr, "  case %zu: %s starts %llu, ends %llu\n", k, s->name,
                (unsigned long long)s->start_ns, (unsigned long long)s->end_ns);
    }
    collected_clear(&c);
    free(text);
  }
}

/* JavaScript writes 1e20 as "100000000000000000000", which jansson refuses ("too big
 * integer"). Tool arguments are whatever JSON the model made, and the snapshot repeats the
 * whole history: one such number must not make every later payload of the session fail. */
static void test_integer_beyond_int64_in_a_tool_input_keeps_the_payload(void) {
  json_t *tool = tool_part("c1", "bash", "completed", "ok");
  char *text = tool_turn("hi", tool);
  char *at = strstr(text, "\"command\":\"x\"");
  CHECK(at != NULL);
  char *fixed = malloc(strlen(text) + 64);
  snprintf(fixed, strlen(text) + 64,
           "%.*s\"n\":100000000000000000000,\"m\":-99999999999999999999,%s", (int)(at - text), text,
           at);
  collected c = {0};
  reconcile_result r;
  int rc = run_text(fixed, strlen(fixed), &c, &r);
  CHECK_INT(rc, 0);
  if (rc != 0) fprintf(stderr, "  rejected: %s\n", r.error);
  CHECK(find_span(&c, "bash") != NULL);
  collected_clear(&c);
  free(fixed), free(text);
}

/* An absurd cost is unknown (left out); the Turn sums the known ones. */
static void test_huge_costs_give_a_finite_turn_cost(void) {
  json_t *a1 = assistant_message("a1", json_array()), *a2 = assistant_message("a2", json_array());
  json_object_set_new(json_object_get(a1, "info"), "cost", json_real(1e308));
  json_object_set_new(json_object_get(a2, "info"), "cost", json_real(0.5));
  char *text = payload_text(json_pack("[o, o, o]", user_message("u", "hi"), a1, a2));
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
  const span_attr *cost = span_get(find_span(&c, "Turn"), "opencode.turn.cost.total");
  CHECK(cost && cost->type == SPAN_ATTR_DOUBLE && cost->value.d == 0.5);
  collected_clear(&c);
  free(text);
}

/* INT64_MAX tokens (a JSON integer jansson reads exactly) must saturate, not overflow: signed
 * overflow is undefined behaviour, and UBSan aborts here under SAN=1. */
static void test_int64_max_token_counts_do_not_overflow(void) {
  json_t *a = assistant_message("a", json_array());
  json_object_set_new(json_object_get(a, "info"), "tokens",
                      json_pack("{s:I, s:I, s:I, s:{s:I, s:I}}", "input", (json_int_t)INT64_MAX,
                                "output", (json_int_t)INT64_MAX, "reasoning", (json_int_t)INT64_MAX,
                                "cache", "read", (json_int_t)INT64_MAX, "write",
                                (json_int_t)INT64_MAX));
  char *text = payload_text(json_pack("[o, o]", user_message("u", "hi"), a));
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
  for (size_t i = 0; i < c.len; i++)
    for (size_t k = 0; k < c.items[i]->attrs.len; k++) {
      const span_attr *at = &c.items[i]->attrs.items[k];
      if (at->type == SPAN_ATTR_INT && strstr(at->key, "token_count")) CHECK(at->value.i >= 0);
    }
  collected_clear(&c);
  free(text);
}

/* ------------------------------------------------------------------------------------------ */
/* Ids                                                                                         */

static bool ids_unique(const collected *c) {
  for (size_t i = 0; i < c->len; i++)
    for (size_t j = i + 1; j < c->len; j++)
      if (memcmp(c->items[i]->span_id, c->items[j]->span_id, 8) == 0) return false;
  return true;
}

static void test_two_messages_with_one_id_give_one_llm_span(void) {
  char *text = payload_text(json_pack(
      "[o, o, o]", user_message("u", "hi"),
      assistant_message("a", json_pack("[{s:s, s:s}]", "type", "text", "text", "first")),
      assistant_message("a", json_pack("[{s:s, s:s}]", "type", "text", "text", "second"))));
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
  CHECK_INT(count_kind(&c, "LLM"), 1);
  CHECK_INT(count_kind(&c, "CHAIN"), 1);
  CHECK(ids_unique(&c));
  collected_clear(&c);
  free(text);
}

static void test_two_tool_parts_with_one_call_id_give_one_tool_span(void) {
  char *text = payload_text(json_pack(
      "[o, o]", user_message("u", "hi"),
      assistant_message("a", json_pack("[o, o]", tool_part("c1", "bash", "completed", "one"),
                                       tool_part("c1", "bash", "completed", "two")))));
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(text, strlen(text), &c, &r), 0);
  CHECK_INT(count_kind(&c, "TOOL"), 1);
  CHECK_STR(attr_s(find_span(&c, "bash"), "output.value"), "one");
  CHECK(ids_unique(&c));
  collected_clear(&c);
  free(text);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* A session id is a file name in the state directory: "../", "/" and the like must not
 * leave it, and a very long id must still make a valid name. */
static void test_ids_with_path_characters_stay_in_the_state_directory(void) {
  char root[] = "/tmp/test_hostile.XXXXXX";
  CHECK(mkdtemp(root) != NULL);
  char dir[256];
  snprintf(dir, sizeof dir, "%s/state", root);
  static const char *const ids[] = {"../../escape", "/etc/passwd", "a/b\\c", "..", ".", "~",
                                    "%2e%2e%2f",    NULL};
  state *st = state_new(dir);
  char long_id[256];
  memset(long_id, '/', 255);
  long_id[255] = '\0';
  for (size_t k = 0; k <= sizeof ids / sizeof ids[0] - 1; k++) {
    const char *id = ids[k] ? ids[k] : long_id;
    json_t *p =
        json_pack("{s:s, s:s, s:[{s:{s:s, s:s, s:s}, s:[]}]}", "type", "close", "sessionID", id,
                  "messages", "info", "id", "../../m", "sessionID", id, "role", "user", "parts");
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    collected c = {0};
    reconcile_result r;
    CHECK_INT(run(st, &all_on, text, strlen(text), &c, &r), 0);
    collected_clear(&c);
    free(text);
    /* a session's file is made by its first record (a user message alone marks nothing) */
    state_begin(st, id);
    state_mark(st, id, "turn:m");
    CHECK_INT(state_commit(st), 0);
  }
  state_free(st);
  /* only the state directory in root, and only plain files in it */
  DIR *d = opendir(root);
  struct dirent *e;
  size_t entries = 0;
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      entries++;
      CHECK_STR(e->d_name, "state");
    }
  if (d) closedir(d);
  CHECK_INT(entries, 1);
  d = opendir(dir);
  size_t files = 0;
  while (d && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    files++;
    CHECK(e->d_name[0] != '.');
    CHECK(ends_with(e->d_name, ".state"));
    CHECK(strlen(e->d_name) < STATE_NAME_MAX);
  }
  if (d) closedir(d);
  CHECK_INT(files, sizeof ids / sizeof ids[0]);
  struct stat sb;
  CHECK(stat("/tmp/escape.state", &sb) != 0);
  nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------------------------------ */
/* Foreign session records                                                                     */

/* Only a message of another session among the root's own rejects the whole payload: the
 * plugin read the wrong session (a privacy boundary). */
static void test_foreign_root_message_rejects_the_whole_payload(void) {
  static const char *const payload =
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":[{\"info\":{\"id\":\"u\",\"sessionID\":"
      "\"t\",\"role\":\"user\"},"
      "\"parts\":[{\"type\":\"text\",\"text\":\"x\"}]}]}";
  collected c = {0};
  reconcile_result r;
  CHECK_INT(run_text(payload, strlen(payload), &c, &r), -1);
  CHECK_INT(c.len, 0);
  CHECK(r.error[0] != '\0');
  CHECK(strstr(r.error, "\"x\"") == NULL); /* the reason names ids, never content */
}

/* Every other foreign or malformed record is one bad item: it is left out, the root's turn
 * is traced (docs/architecture.md, "One bad item costs only itself"). */
static void test_foreign_parts_and_children_are_skipped_alone(void) {
#define ROOT_TURN                                                                                  \
  "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":"           \
  "1795480001000}},"                                                                               \
  "\"parts\":[{\"type\":\"text\",\"text\":\"x\",\"sessionID\":\"s\",\"messageID\":\"u\"}%s]},"     \
  "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","         \
  "\"modelID\":\"m\","                                                                             \
  "\"time\":{\"created\":1795480002000,\"completed\":1795480003000}},\"parts\":[]}"
  static const char *const bad_parts[] = {
      ",{\"type\":\"text\",\"text\":\"x\",\"sessionID\":\"t\",\"messageID\":\"u\"}", /* another
                                                                                        session */
      ",{\"type\":\"text\",\"text\":\"x\",\"sessionID\":\"s\",\"messageID\":\"v\"}", /* another
                                                                                        message */
      ",7", /* not an object */
  };
  static const char *const bad_children[] = {
      /* a child whose messages belong to the parent */
      ("{\"sessionID\":\"c\",\"parentSessionID\":\"s\",\"messages\":[{\"info\":{\"id\":\"m\","
       "\"sessionID\":\"s\",\"role\":\"user\"},\"parts\":[]}]}"),
      /* a child whose info describes another session */
      "{\"sessionID\":\"c\",\"parentSessionID\":\"s\",\"info\":{\"id\":\"d\"},\"messages\":[]}",
      /* the session as its own child */
      "{\"sessionID\":\"s\",\"parentSessionID\":\"s\",\"messages\":[]}",
      /* no parentSessionID */
      "{\"sessionID\":\"c\",\"messages\":[]}",
  };
  char payload[4096];
  for (size_t k = 0; k < 3 + 4 + 1; k++) {
    char turn[2048];
    snprintf(turn, sizeof turn, ROOT_TURN, k < 3 ? bad_parts[k] : "");
    if (k < 3)
      snprintf(payload, sizeof payload,
               "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":[%s]}", turn);
    else if (k < 7)
      snprintf(payload, sizeof payload,
               "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":[%s],\"childSessions\":[%s]}",
               turn, bad_children[k - 3]);
    else /* a message that is not an object */
      snprintf(payload, sizeof payload,
               "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":[1,%s]}", turn);
    collected c = {0};
    reconcile_result r;
    CHECK_INT(run_text(payload, strlen(payload), &c, &r), 0);
    CHECK_INT(r.items_skipped, 1);
    CHECK(find_span(&c, "Turn") != NULL);
    CHECK(find_span(&c, "LLM: m") != NULL);
    CHECK_STR(attr_s(find_span(&c, "Turn"), "input.value"), "x"); /* the foreign text never */
    if (r.items_skipped != 1 || !find_span(&c, "Turn"))
      fprintf(stderr, "  case %zu: %s\n", k, r.error);
    collected_clear(&c);
  }
#undef ROOT_TURN
}

/* ------------------------------------------------------------------------------------------ */
/* Config files                                                                                */

static char config_dir[] = "/tmp/test_hostile_config.XXXXXX";

static config *load_at(const char *path) {
  static const char *const env[] = {"HOME=/nonexistent", NULL};
  return config_load(path, env);
}

static void test_config_that_is_a_directory_warns(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/dir.yaml", config_dir);
  mkdir(path, 0700);
  config *c = load_at(path);
  CHECK(c && c->warning && strstr(c->warning, "is a directory"));
  config_free(c);
}

static void test_unreadable_config_warns(void) {
  if (geteuid() == 0) {
    fprintf(stderr, "  (skipped: root reads a mode 000 file)\n");
    return;
  }
  char path[256];
  snprintf(path, sizeof path, "%s/unreadable.yaml", config_dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0);
  if (fd >= 0) close(fd);
  config *c = load_at(path);
  CHECK(c && c->warning && strstr(c->warning, "cannot read"));
  config_free(c);
}

static void test_empty_config_gives_defaults_without_warning(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/empty.yaml", config_dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) close(fd);
  config *c = load_at(path);
  CHECK(c && c->warning == NULL && c->target == CONFIG_TARGET_NONE);
  config_free(c);
}

static void test_10mb_config_is_refused_with_a_warning(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/big.yaml", config_dir);
  FILE *f = fopen(path, "w");
  for (int i = 0; f && i < 10 * 1024 * 1024 / 32; i++)
    fputs("# padding padding padding pad\n\n", f);
  if (f) fclose(f);
  config *c = load_at(path);
  CHECK(c && c->warning && strstr(c->warning, "larger than"));
  config_free(c);
}

static void test_fifo_and_device_configs_warn_without_blocking(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/fifo.yaml", config_dir);
  CHECK(mkfifo(path, 0600) == 0);
  config *c = load_at(path); /* would block forever in a plain open() */
  CHECK(c && c->warning && strstr(c->warning, "not a regular file"));
  config_free(c);
  snprintf(path, sizeof path, "%s/zero.yaml", config_dir);
  CHECK(symlink("/dev/zero", path) == 0);
  c = load_at(path);
  CHECK(c && c->warning && strstr(c->warning, "not a regular file"));
  config_free(c);
}

static void test_symlink_loop_config_warns(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/loop.yaml", config_dir);
  CHECK(symlink(path, path) == 0);
  config *c = load_at(path);
  CHECK(c && c->warning && strstr(c->warning, "cannot read"));
  config_free(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Decoding stored spans                                                                       */

static bool utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    size_t n = *p < 0x80             ? 1
               : (*p & 0xE0) == 0xC0 ? 2
               : (*p & 0xF0) == 0xE0 ? 3
               : (*p & 0xF8) == 0xF0 ? 4
                                     : 0;
    if (!n || (n == 2 && *p < 0xC2)) return false;
    for (size_t i = 1; i < n; i++)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += n;
  }
  return true;
}

/* Found by fuzz_otlp_response: a stored Span with an attribute key that is not UTF-8 decodes
 * into a span holding it, and re-encodes it (a receiver rejects the whole request). */
static void test_decoded_span_attribute_keys_are_valid_utf8(void) {
  span *s = span_new("x");
  memset(s->trace_id, 1, 16);
  memset(s->span_id, 2, 8);
  span_set_string(s, "k@y", "v");
  span_event *e = span_add_event(s, "ev", 1);
  span_event_set_string(e, "e@k", "v");
  uint8_t *bytes;
  size_t len;
  CHECK_INT(otlp_encode_span(s, &bytes, &len), 0);
  for (size_t i = 0; i + 3 <= len; i++)
    if (bytes[i + 1] == '@' && (bytes[i] == 'k' || bytes[i] == 'e')) bytes[i + 1] = 0xE0;
  span_free(s);
  span *back = otlp_decode_span(bytes, len);
  CHECK(back != NULL);
  for (size_t i = 0; back && i < back->attrs.len; i++) CHECK(utf8_valid(back->attrs.items[i].key));
  for (size_t i = 0; back && back->n_events && i < back->events[0].attrs.len; i++)
    CHECK(utf8_valid(back->events[0].attrs.items[i].key));
  span_free(back);
  free(bytes);
}

/* Found by fuzz_otlp_response once keys got U+FFFD replacement: two keys that differ only in
 * their invalid bytes become the same key, and must then be one attribute (OTLP keys are
 * unique; the second value replaces the first, as for any repeated key). */
static void test_keys_equal_after_replacement_are_one_attribute(void) {
  span *s = span_new("x");
  CHECK_INT(span_set_string(s, "k\xE0y", "first"), 0);
  CHECK_INT(span_set_string(s, "k\xFFy", "second"), 0);
  CHECK_INT(s->attrs.len, 1);
  CHECK_STR(attr_s(s, "k" FFFD "y"), "second");
  span_free(s);
}

/* Found by fuzz_reconcile: every TOOL span now carries tag.tags, a string list, and
 * otlp_decode_span drops array values, so a stored span does not read back as it was made. */
static void test_string_list_attribute_survives_decoding(void) {
  span *s = span_new("x");
  memset(s->trace_id, 1, 16);
  memset(s->span_id, 2, 8);
  const char *const tags[] = {"opencode", "tool"};
  CHECK_INT(span_set_string_list(s, "tag.tags", tags, 2), 0);
  uint8_t *bytes;
  size_t len;
  CHECK_INT(otlp_encode_span(s, &bytes, &len), 0);
  span *back = otlp_decode_span(bytes, len);
  const span_attr *a = back ? span_get(back, "tag.tags") : NULL;
  CHECK(a && a->type == SPAN_ATTR_STRING_LIST && a->value.list.n == 2);
  if (a && a->type == SPAN_ATTR_STRING_LIST && a->value.list.n == 2) {
    CHECK_STR(a->value.list.items[0], "opencode");
    CHECK_STR(a->value.list.items[1], "tool");
  }
  span_free(back);
  span_free(s);
  free(bytes);
}

/* ------------------------------------------------------------------------------------------ */
/* Redaction                                                                                   */

/* Prints and counts the strings of s (name, status, attributes, events) holding needle. */
static int count_holding(const span *s, const char *needle) {
  int n = 0;
  const char *kind = attr_s(s, "openinference.span.kind");
  if (strstr(s->name, needle)) n++, fprintf(stderr, "  %s span: name\n", kind);
  if (s->status_message && strstr(s->status_message, needle))
    n++, fprintf(stderr, "  %s span: status message\n", kind);
  for (size_t i = 0; i < s->attrs.len; i++)
    if (s->attrs.items[i].type == SPAN_ATTR_STRING && strstr(s->attrs.items[i].value.s, needle))
      n++, fprintf(stderr, "  %s span: %s\n", kind, s->attrs.items[i].key);
  for (size_t e = 0; e < s->n_events; e++)
    for (size_t i = 0; i < s->events[e].attrs.len; i++)
      if (s->events[e].attrs.items[i].type == SPAN_ATTR_STRING &&
          strstr(s->events[e].attrs.items[i].value.s, needle))
        n++, fprintf(stderr, "  %s span: event %s: %s\n", kind, s->events[e].name,
                     s->events[e].attrs.items[i].key);
  return n;
}

/* With prompts, tool details and tool content all off, nothing the user or a tool wrote
 * leaves in any span: not the prompt, the answer, the reasoning, a command, a tool's
 * output or its error text (bash's stderr, "File not found: <path>"), nor a subagent's. */
static void test_redaction_flags_leave_no_content_anywhere(void) {
  const char *payload =
      "{\"type\":\"close\",\"sessionID\":\"s\",\"messages\":["
      "{\"info\":{\"id\":\"u\",\"sessionID\":\"s\",\"role\":\"user\",\"time\":{\"created\":"
      "1795480001000}},"
      "\"parts\":[{\"type\":\"text\",\"text\":\"PRIVATE-prompt\"}]},"
      "{\"info\":{\"id\":\"a\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
      "\"modelID\":\"m\","
      "\"time\":{\"created\":1795480002000,\"completed\":1795480003000}},\"parts\":["
      "{\"type\":\"reasoning\",\"text\":\"PRIVATE-reasoning\"},{\"type\":\"text\",\"text\":"
      "\"PRIVATE-answer\"},"
      "{\"type\":\"tool\",\"callID\":\"c1\",\"tool\":\"bash\",\"state\":{\"status\":\"error\","
      "\"input\":{\"command\":\"PRIVATE-command\"},\"error\":\"PRIVATE-stderr\",\"title\":"
      "\"PRIVATE-title\","
      "\"time\":{\"start\":1795480002100,\"end\":1795480002200}}},"
      "{\"type\":\"tool\",\"callID\":\"c2\",\"tool\":\"read\",\"state\":{\"status\":\"completed\","
      "\"input\":{\"filePath\":\"/PRIVATE-path\"},\"output\":\"PRIVATE-file\","
      "\"time\":{\"start\":1795480002100,\"end\":1795480002200}}},"
      "{\"type\":\"tool\",\"callID\":\"c3\",\"tool\":\"task\",\"state\":{\"status\":\"error\","
      "\"input\":{\"prompt\":\"PRIVATE-task-prompt\",\"subagent_type\":\"general\"},\"error\":"
      "\"PRIVATE-task-error\","
      "\"metadata\":{\"sessionId\":\"child\"},\"time\":{\"start\":1795480002100,\"end\":"
      "1795480002900}}}]},"
      "{\"info\":{\"id\":\"a2\",\"sessionID\":\"s\",\"role\":\"assistant\",\"parentID\":\"u\","
      "\"time\":{\"created\":1795480003000,\"completed\":1795480004000}},\"parts\":[]}],"
      "\"childSessions\":[{\"sessionID\":\"child\",\"parentSessionID\":\"s\",\"parentCallID\":"
      "\"c3\","
      "\"info\":{\"id\":\"child\",\"parentID\":\"s\"},\"messages\":["
      "{\"info\":{\"id\":\"cu\",\"sessionID\":\"child\",\"role\":\"user\",\"time\":{\"created\":"
      "1795480002200}},"
      "\"parts\":[{\"type\":\"text\",\"text\":\"PRIVATE-task-prompt\"}]},"
      "{\"info\":{\"id\":\"ca\",\"sessionID\":\"child\",\"role\":\"assistant\",\"parentID\":\"cu\","
      "\"time\":{\"created\":1795480002300,\"completed\":1795480002800}},"
      "\"parts\":[{\"type\":\"text\",\"text\":\"PRIVATE-child-answer\"}]}]}]}";
  reconcile_options opt = {
      .log_prompts = false, .log_tool_details = false, .log_tool_content = false};
  state *st = state_new(NULL);
  collected c = {0};
  reconcile_result r;
  int rc = run(st, &opt, payload, strlen(payload), &c, &r);
  CHECK_INT(rc, 0);
  if (rc != 0) fprintf(stderr, "  rejected: %s\n", r.error);
  CHECK_INT(count_kind(&c, "AGENT"), 1);
  CHECK_INT(count_kind(&c, "TOOL"), 3);
  int leaks = 0;
  for (size_t i = 0; i < c.len; i++) leaks += count_holding(c.items[i], "PRIVATE-");
  CHECK_INT(leaks, 0);
  collected_clear(&c);
  state_free(st);
}

int main(void) {
  CHECK(mkdtemp(config_dir) != NULL);
  RUN(test_nesting_100000_levels_is_rejected_as_not_json);
  RUN(test_nesting_100000_levels_inside_a_tool_input_rejects_the_payload);
  RUN(test_nesting_under_the_parser_limit_gives_a_bounded_tool_input);
  RUN(test_100mb_tool_output_is_cut_with_a_marker_everywhere);
  RUN(test_huge_values_outside_text_attributes_are_bounded);
  RUN(test_raw_invalid_utf8_rejects_the_payload_with_a_reason);
  RUN(test_nul_escape_in_tool_output_is_replaced_not_cut);
  RUN(test_nul_escape_in_a_session_id_is_not_read_as_a_shorter_id);
  RUN(test_lone_surrogate_escape_is_replaced_not_rejected);
  RUN(test_rejection_reason_never_quotes_content);
  RUN(test_out_of_range_times_give_ordered_spans);
  RUN(test_integer_beyond_int64_in_a_tool_input_keeps_the_payload);
  RUN(test_huge_costs_give_a_finite_turn_cost);
  RUN(test_two_messages_with_one_id_give_one_llm_span);
  RUN(test_two_tool_parts_with_one_call_id_give_one_tool_span);
  RUN(test_ids_with_path_characters_stay_in_the_state_directory);
  RUN(test_foreign_root_message_rejects_the_whole_payload);
  RUN(test_foreign_parts_and_children_are_skipped_alone);
  RUN(test_config_that_is_a_directory_warns);
  RUN(test_unreadable_config_warns);
  RUN(test_empty_config_gives_defaults_without_warning);
  RUN(test_10mb_config_is_refused_with_a_warning);
  RUN(test_fifo_and_device_configs_warn_without_blocking);
  RUN(test_symlink_loop_config_warns);
  RUN(test_decoded_span_attribute_keys_are_valid_utf8);
  RUN(test_keys_equal_after_replacement_are_one_attribute);
  RUN(test_redaction_flags_leave_no_content_anywhere);
  RUN(test_string_list_attribute_survives_decoding);
  /* last: UBSan stops the binary here under SAN=1 while the overflow is there */
  RUN(test_int64_max_token_counts_do_not_overflow);
  nftw(config_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
  return check_done();
}
