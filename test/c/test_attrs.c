/* attrs: the one attribute policy — every content attribute is sent when its option allows it,
 * and replaced by a marker that says how much, never what, when it does not. */
#include <stdlib.h>

#include "attrs.h"
#include "check.h"
#include "spans.h"

#define VALUE "{\"cmd\":\"rm -rf ~/secret\"}" /* JSON, so every shape takes it as is */

/* Whether some string attribute of s holds exactly value. */
static bool carries(const span *s, const char *value) {
  for (size_t i = 0; i < s->attrs.len; i++)
    if (s->attrs.items[i].type == SPAN_ATTR_STRING && strcmp(s->attrs.items[i].value.s, value) == 0)
      return true;
  return false;
}

/* The span attrs_set_nth leaves for key under opt. Caller span_free's it. */
static span *set_one(const attrs_options *opt, attrs_key key) {
  attrs a;
  attrs_init(&a, opt);
  span *s = span_new("t");
  attrs_set_nth(&a, s, key, 3, VALUE, strlen(VALUE));
  CHECK(!a.out_of_memory);
  return s;
}

static void test_every_content_attribute_is_sent_when_logging_allows_it(void) {
  const attrs_options all_on = {
      .log_prompts = true, .log_tool_details = true, .log_tool_content = true};
  for (int k = 0; k < ATTRS_N_KEYS; k++) {
    span *s = set_one(&all_on, (attrs_key)k);
    if (!carries(s, VALUE)) fprintf(stderr, "  key %d does not carry its value\n", k);
    CHECK(carries(s, VALUE));
    span_free(s);
  }
}

static void test_no_content_attribute_leaks_when_logging_is_off(void) {
  const attrs_options all_off = {0};
  attrs a;
  attrs_init(&a, &all_off);
  for (int k = 0; k < ATTRS_N_KEYS; k++) {
    if (k == ATTR_LLM_INPUT_TOOL_RESULTS)
      continue; /* public: its outputs go through attrs_embedded */
    if (k == ATTR_LLM_INVOCATION_PARAMETERS || k == ATTR_LLM_TOOL_SCHEMA ||
        k == ATTR_TOOL_DESCRIPTION)
      continue; /* public: settings and tool definitions, not content (the plugin leaves
                 * credentials out of the settings) */
    span *s = set_one(&all_off, (attrs_key)k);
    if (carries(s, VALUE)) fprintf(stderr, "  key %d leaks its value\n", k);
    CHECK(!carries(s, VALUE));
    CHECK(s->attrs.len > 0 && strstr(s->attrs.items[0].value.s, "redacted"));
    span_free(s);
  }
  CHECK_STR(attrs_embedded(&a, ATTRS_TOOL_CONTENT, "secret output"), "<redacted>");
}

/* The span attrs_set_tool_argument leaves for the attribute name under opt. Caller span_free's
 * it. */
static span *set_tool_argument(const attrs_options *opt, const char *name) {
  attrs a;
  attrs_init(&a, opt);
  span *s = span_new("t");
  attrs_set_tool_argument(&a, s, name, VALUE, strlen(VALUE));
  CHECK(!a.out_of_memory);
  return s;
}

/* A tool's main argument, whatever its attribute's name, is what the tool was asked: sent with
 * log_tool_details, a marker that says how much without it. */
static void test_a_tool_argument_of_any_name_is_a_tool_detail(void) {
  const attrs_options details = {.log_tool_details = true}, none = {0};
  const char *names[] = {"tool.command", "tool.file_path", "tool.query", "tool.url",
                         "tool.some_new_argument"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    span *on = set_tool_argument(&details, names[i]), *off = set_tool_argument(&none, names[i]);
    const span_attr *shown = span_get(on, names[i]), *hidden = span_get(off, names[i]);
    CHECK(shown && strcmp(shown->value.s, VALUE) == 0);
    CHECK(hidden && strstr(hidden->value.s, "redacted") && !carries(off, VALUE));
    span_free(on);
    span_free(off);
  }
}

static void test_tool_arguments_need_both_details_and_content(void) {
  const attrs_options details_only = {.log_prompts = true, .log_tool_details = true};
  span *input = set_one(&details_only, ATTR_TOOL_INPUT),
       *command = set_tool_argument(&details_only, "tool.command");
  CHECK(!carries(input, VALUE));
  CHECK(carries(command, VALUE));
  span_free(input);
  span_free(command);
}

static void test_redaction_marker_counts_characters_not_bytes(void) {
  const attrs_options opt = {.log_prompts = true, .log_tool_details = true};
  attrs a;
  attrs_init(&a, &opt);
  span *s = span_new("t");
  attrs_set(&a, s, ATTR_TOOL_OUTPUT, "h\xc3\xa9llo", 6);
  attrs_set_error(&a, s, ATTRS_TOOL_CONTENT, "h\xc3\xa9llo", 6);
  const span_attr *out = span_get(s, "output.value");
  CHECK(out && strcmp(out->value.s, "<redacted (5 chars)>") == 0);
  CHECK_STR(s->status_message, "<redacted (5 chars)>");
  span_free(s);
}

int main(void) {
  RUN(test_every_content_attribute_is_sent_when_logging_allows_it);
  RUN(test_no_content_attribute_leaks_when_logging_is_off);
  RUN(test_a_tool_argument_of_any_name_is_a_tool_detail);
  RUN(test_tool_arguments_need_both_details_and_content);
  RUN(test_redaction_marker_counts_characters_not_bytes);
  return check_done();
}
