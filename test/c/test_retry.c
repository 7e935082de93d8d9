/* retry tests: what each export answer means and the backoff schedule, from plain values —
 * no server, no clock (the exporter's end-to-end behaviour is test_exporter.c's). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "retry.h"

/* An ExportTraceServiceResponse whose partial_success rejects 2 spans, by hand: field 1
 * (partial_success) { field 1 rejected_spans = 2, field 2 error_message = "too long" }. */
static const uint8_t PARTIAL_2[] = {0x0a, 0x0c, 0x08, 0x02, 0x12, 0x08, 't',
                                    'o',  'o',  ' ',  'l',  'o',  'n',  'g'};

static retry_outcome answer(long status, const char *body) {
  return retry_classify(0, status, "", -1, (const uint8_t *)body, body ? strlen(body) : 0, 4, NULL);
}

static void test_2xx_with_no_partial_success_is_ok(void) {
  retry_outcome o = answer(200, NULL);
  CHECK_INT(o.kind, RETRY_OK);
  CHECK_INT(o.status, 200);
  CHECK_INT(answer(204, NULL).kind, RETRY_OK);
}

static void test_partial_success_names_the_rejected_count_and_reason(void) {
  retry_outcome o = retry_classify(0, 200, "", -1, PARTIAL_2, sizeof PARTIAL_2, 4, NULL);
  CHECK_INT(o.kind, RETRY_PARTIAL);
  CHECK_INT(o.rejected, 2);
  CHECK_STR(o.message, "too long");
}

static void test_partial_success_is_trusted_only_within_the_batch(void) {
  /* 2 rejected of a 1-span batch: 1 */
  retry_outcome o = retry_classify(0, 200, "", -1, PARTIAL_2, sizeof PARTIAL_2, 1, NULL);
  CHECK_INT(o.kind, RETRY_PARTIAL);
  CHECK_INT(o.rejected, 1);
  /* rejected_spans = -1 (a ten-byte varint) and no message: all accepted */
  static const uint8_t negative[] = {0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  CHECK_INT(retry_classify(0, 200, "", -1, negative, sizeof negative, 4, NULL).kind, RETRY_OK);
  /* a body that is not a response (an HTML page on a 200): all accepted */
  CHECK_INT(answer(200, "<html>ok</html>").kind, RETRY_OK);
}

static void test_partial_success_without_a_reason_says_so(void) {
  static const uint8_t no_reason[] = {0x0a, 0x02, 0x08, 0x03};
  retry_outcome o = retry_classify(0, 202, "", -1, no_reason, sizeof no_reason, 4, NULL);
  CHECK_INT(o.kind, RETRY_PARTIAL);
  CHECK_INT(o.rejected, 3);
  CHECK_STR(o.message, "(no reason given)");
}

static void test_network_error_is_retried_with_its_error_line(void) {
  retry_outcome o = retry_classify(-1, 0, "connection refused", -1, NULL, 0, 4, NULL);
  CHECK_INT(o.kind, RETRY_AGAIN);
  CHECK_INT(o.status, 0);
  CHECK_STR(o.message, "connection refused");
  CHECK(o.retry_after_s < 0);
}

static void test_429_and_5xx_gateway_errors_are_retried_with_retry_after(void) {
  static const long retryable[] = {429, 502, 503, 504};
  for (size_t i = 0; i < sizeof retryable / sizeof retryable[0]; i++) {
    retry_outcome o = retry_classify(0, retryable[i], "", 7, NULL, 0, 4, NULL);
    CHECK_INT(o.kind, RETRY_AGAIN);
    CHECK_INT(o.status, retryable[i]);
    CHECK(o.retry_after_s == 7);
  }
  CHECK_STR(retry_classify(0, 503, "", -1, NULL, 0, 4, NULL).message, "HTTP 503");
}

static void test_413_asks_for_a_split(void) {
  retry_outcome o = answer(413, "request entity too large\nmore");
  CHECK_INT(o.kind, RETRY_SPLIT);
  CHECK_STR(o.message, "request entity too large");
}

static void test_401_and_403_refuse_the_credentials(void) {
  CHECK_INT(answer(401, "bad key").kind, RETRY_REFUSED);
  retry_outcome o = answer(403, "forbidden");
  CHECK_INT(o.kind, RETRY_REFUSED);
  CHECK_STR(o.message, "forbidden");
}

static void test_other_statuses_are_permanent_with_the_body_first_line(void) {
  static const long final[] = {400, 404, 405, 415, 500, 501};
  for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
    retry_outcome o = answer(final[i], "bad request: field x\nstack...");
    CHECK_INT(o.kind, RETRY_PERMANENT);
    CHECK_INT(o.status, final[i]);
    CHECK_STR(o.message, "bad request: field x");
  }
  /* a long first line is cut to one log line's worth */
  char *page = malloc(5000);
  memset(page, 'x', 4999);
  page[4999] = '\0';
  CHECK_INT(strlen(answer(400, page).message), 199);
  free(page);
}

static void test_a_redirect_not_followed_is_a_move_naming_its_location(void) {
  static const long moved[] = {300, 301, 302, 303, 307, 308};
  for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
    retry_outcome o =
        retry_classify(0, moved[i], "", -1, NULL, 0, 4, "https://new.example/v1/traces");
    CHECK_INT(o.kind, RETRY_MOVED);
    CHECK_STR(o.message, "moved to https://new.example/v1/traces");
  }
  CHECK_STR(retry_classify(0, 302, "", -1, NULL, 0, 4, NULL).message,
            "a redirect without a location");
}

/* The one description: every status has a class, and the classes' status ranges, computed from
 * retry_classify, are the ones their words name (a change to one without the other fails). */
static void test_the_class_table_matches_the_classifier(void) {
  CHECK_STR(retry_class_of_status(500)->name, "refused");
  CHECK(!retry_class_of_status(500)->keeps);
  CHECK_STR(retry_class_of_status(503)->name, "retried");
  CHECK(retry_class_of_status(503)->keeps);
  CHECK_STR(retry_class_of_status(0)->name, "retried");
  CHECK_STR(retry_class_of_status(401)->name, "key refused");
  CHECK_STR(retry_class_of_status(301)->name, "moved");
  CHECK_STR(retry_class_of_status(413)->name, "too large");
  CHECK_STR(retry_class_of_status(204)->name, "accepted");
  char *json = retry_classes_json();
  CHECK(json != NULL);
  CHECK(strstr(json, "\"name\":\"retried\",") != NULL);
  CHECK(strstr(json, "[[429,429],[502,504],[0,0]]") != NULL);
  CHECK(strstr(json, "[[401,401],[403,403]]") != NULL);
  CHECK(strstr(json, "[[300,399]]") != NULL);
  free(json);
}

static void test_backoff_doubles_per_attempt_up_to_the_maximum(void) {
  /* jitter 0.999...: the top of the range, i.e. the whole delay */
  const double top = 0.9999999;
  CHECK_INT(retry_delay_ms(1, -1, 100, 1000, top), 100);
  CHECK_INT(retry_delay_ms(2, -1, 100, 1000, top), 200);
  CHECK_INT(retry_delay_ms(3, -1, 100, 1000, top), 400);
  CHECK_INT(retry_delay_ms(4, -1, 100, 1000, top), 800);
  CHECK_INT(retry_delay_ms(5, -1, 100, 1000, top), 1000);
  CHECK_INT(retry_delay_ms(60, -1, 100, 1000, top), 1000); /* no overflow on a long outage */
}

static void test_jitter_spreads_the_delay_between_half_and_all_of_it(void) {
  CHECK_INT(retry_delay_ms(3, -1, 100, 1000, 0), 200);
  CHECK_INT(retry_delay_ms(3, -1, 100, 1000, 0.5), 300);
  for (int i = 0; i < 100; i++) {
    long d = retry_delay_ms(3, -1, 100, 1000, i / 100.0);
    CHECK(d >= 200 && d <= 400);
  }
  /* a draw outside [0, 1) is not trusted */
  CHECK_INT(retry_delay_ms(3, -1, 100, 1000, 7), 200);
}

static void test_unset_backoff_settings_mean_one_and_thirty_seconds(void) {
  CHECK_INT(retry_delay_ms(1, -1, 0, 0, 0), 500);
  CHECK_INT(retry_delay_ms(20, -1, -5, 0, 0), 15000);
}

static void test_retry_after_wins_when_longer_and_is_capped(void) {
  CHECK_INT(retry_delay_ms(1, 2, 100, 1000, 0), 2000); /* longer than the backoff */
  CHECK_INT(retry_delay_ms(1, 0, 100, 1000, 0), 50);   /* "0": the backoff stands */
  CHECK_INT(retry_delay_ms(1, 0.25, 100, 1000, 0), 250);
  CHECK_INT(retry_delay_ms(1, 86400, 100, 1000, 0), RETRY_AFTER_MAX_MS); /* a day: capped */
}

int main(void) {
  RUN(test_2xx_with_no_partial_success_is_ok);
  RUN(test_partial_success_names_the_rejected_count_and_reason);
  RUN(test_partial_success_is_trusted_only_within_the_batch);
  RUN(test_partial_success_without_a_reason_says_so);
  RUN(test_network_error_is_retried_with_its_error_line);
  RUN(test_429_and_5xx_gateway_errors_are_retried_with_retry_after);
  RUN(test_413_asks_for_a_split);
  RUN(test_401_and_403_refuse_the_credentials);
  RUN(test_other_statuses_are_permanent_with_the_body_first_line);
  RUN(test_a_redirect_not_followed_is_a_move_naming_its_location);
  RUN(test_the_class_table_matches_the_classifier);
  RUN(test_backoff_doubles_per_attempt_up_to_the_maximum);
  RUN(test_jitter_spreads_the_delay_between_half_and_all_of_it);
  RUN(test_unset_backoff_settings_mean_one_and_thirty_seconds);
  RUN(test_retry_after_wins_when_longer_and_is_capped);
  return check_done();
}
