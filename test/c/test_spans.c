#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hash.h"
#include "spans.h"

static void test_sha256_matches_known_vectors(void) {
  uint8_t d[32];
  char hex[65];
  hash_sha256("abc", 3, d);
  span_hex(d, 32, hex);
  CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  hash_sha256("", 0, d);
  span_hex(d, 32, hex);
  CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *million = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  hash_sha256(million, strlen(million), d);
  span_hex(d, 32, hex);
  CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_ids_are_deterministic_and_separated(void) {
  uint8_t a[8], b[8], c[8];
  const char *p1[] = {"llm", "msg_1"}, *p2[] = {"llm", "msg_1"}, *p3[] = {"llmm", "sg_1"};
  hash_id(a, 8, p1, 2);
  hash_id(b, 8, p2, 2);
  hash_id(c, 8, p3, 2);
  CHECK(memcmp(a, b, 8) == 0);
  CHECK(memcmp(a, c, 8) != 0);
}

static void test_setting_a_key_twice_keeps_one_value(void) {
  span *s = span_new("Turn");
  CHECK(span_set_string(s, "input.value", "first") == 0);
  CHECK(span_set_int(s, "input.value", 7) == 0);
  CHECK(span_set_string(s, "input.value", "second") == 0);
  CHECK_INT(s->attrs.len, 1);
  CHECK_STR(span_get(s, "input.value")->value.s, "second");
  span_free(s);
}

/* A model call's span carries hundreds of keys (found through an index past a few): each one
 * set twice is kept once, in the order first set, through removals and invalid key bytes. */
static void test_many_keys_are_each_kept_once(void) {
  span *s = span_new("LLM");
  char key[64];
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 300; i++) {
      snprintf(key, sizeof key, "%s.%d.message.content", i % 2 ? "llm.input_messages" : "tag", i);
      CHECK(span_set_int(s, key, round * 1000 + i) == 0);
    }
  CHECK_INT(s->attrs.len, 300);
  for (int i = 0; i < 300; i++) {
    snprintf(key, sizeof key, "%s.%d.message.content", i % 2 ? "llm.input_messages" : "tag", i);
    CHECK(span_get(s, key) && span_get(s, key)->value.i == 1000 + i);
    CHECK(strcmp(s->attrs.items[i].key, key) == 0);
  }
  CHECK_INT(span_attrs_remove_prefix(&s->attrs, "tag."), 150);
  CHECK(span_get(s, "tag.0.message.content") == NULL);
  CHECK(span_set_int(s, "llm.input_messages.1.message.content", 5) == 0);
  CHECK(span_set_int(s, "tag.0.message.content", 6) == 0);
  CHECK_INT(s->attrs.len, 151);
  CHECK(span_get(s, "llm.input_messages.1.message.content")->value.i == 5);
  CHECK(span_get(s, "tag.0.message.content")->value.i == 6);
  CHECK(span_set_int(s, "k\xff", 1) == 0); /* stored as k U+FFFD: one attribute */
  CHECK(span_set_int(s, "k\xEF\xBF\xBD", 2) == 0);
  CHECK_INT(s->attrs.len, 152);
  CHECK(span_get(s, "k\xEF\xBF\xBD")->value.i == 2);
  span_free(s);
}

static void test_invalid_utf8_and_nul_become_replacement_characters(void) {
  span *s = span_new("x");
  CHECK(span_set_stringn(s, "k",
                         "a\xff"
                         "b\0c\xed\xa0\x80",
                         8) == 0);
  CHECK_STR(span_get(s, "k")->value.s, "a\xEF\xBF\xBD"
                                       "b\xEF\xBF\xBD"
                                       "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(span_set_string(s, "ok", "h\xC3\xA9llo \xF0\x9F\x99\x82") == 0);
  CHECK_STR(span_get(s, "ok")->value.s, "h\xC3\xA9llo \xF0\x9F\x99\x82");
  span_free(s);
}

/* Long values take the eight-bytes-at-a-time path: a bad byte or a NUL at any offset, and a
 * multi-byte character across an eight-byte boundary, come out as in the short case. */
static void test_long_values_are_checked_at_every_offset(void) {
  span *s = span_new("x");
  char in[41], want[48];
  for (int bad = 0; bad < 2; bad++)
    for (size_t at = 0; at < sizeof in; at++) {
      memset(in, 'a', sizeof in);
      in[at] = bad ? '\0' : (char)0xFF;
      memset(want, 'a', at);
      memcpy(want + at, "\xEF\xBF\xBD", 3);
      memset(want + at + 3, 'a', sizeof in - at - 1);
      want[sizeof in + 2] = '\0';
      CHECK(span_set_stringn(s, "k", in, sizeof in) == 0);
      CHECK_STR(span_get(s, "k")->value.s, want);
    }
  for (size_t at = 0; at + 4 <= 24; at++) {
    char text[25];
    memset(text, 'b', 24);
    memcpy(text + at, "\xF0\x9F\x99\x82", 4); /* U+1F642, kept whole wherever it falls */
    text[24] = '\0';
    CHECK(span_set_stringn(s, "k", text, 24) == 0);
    CHECK_STR(span_get(s, "k")->value.s, text);
  }
  span_free(s);
}

static void test_events_carry_their_attributes(void) {
  span *s = span_new("LLM: m1");
  span_event *e = span_add_event(s, "exception", 42);
  CHECK(e != NULL);
  CHECK(span_event_set_string(e, "exception.type", "APIError") == 0);
  CHECK(span_set_status(s, SPAN_STATUS_ERROR, "bad request") == 0);
  CHECK_INT(s->n_events, 1);
  CHECK_STR(span_attrs_get(&s->events[0].attrs, "exception.type")->value.s, "APIError");
  CHECK_STR(s->status_message, "bad request");
  span_free(s);
}

int main(void) {
  RUN(test_sha256_matches_known_vectors);
  RUN(test_ids_are_deterministic_and_separated);
  RUN(test_setting_a_key_twice_keeps_one_value);
  RUN(test_many_keys_are_each_kept_once);
  RUN(test_invalid_utf8_and_nul_become_replacement_characters);
  RUN(test_long_values_are_checked_at_every_offset);
  RUN(test_events_carry_their_attributes);
  return check_done();
}
