/* http tests against the in-test collector (server.h) on 127.0.0.1: it records each request
 * and answers as scripted (or not at all). */
#include <stdlib.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "http.h"
#include "server.h"

/* The one request srv got (an empty one when none came, so checks fail instead of crashing). */
static const server_request *only_request(test_server *srv) {
  static server_request none = {.head = "", .body = (uint8_t *)""};
  CHECK_INT(server_requests(srv), 1);
  const server_request *r = server_request_at(srv, 0);
  return r ? r : &none;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_post_sends_headers_and_body(void) {
  test_server srv;
  server_reply script[] = {{.status = 200, .body = "ok"}};
  CHECK(server_start(&srv, script, 1) == 0);
  const char *headers[] = {"authorization: Bearer secret-token", "arize-space-id: U3BhY2U6MQ=="};
  http_request req = {.url = srv.url,
                      .headers = headers,
                      .n_headers = 2,
                      .body = (const uint8_t *)"\x0a\x03"
                                               "abc",
                      .body_len = 5,
                      .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 200);
  CHECK(resp.retry_after_s == -1);
  CHECK_INT(resp.body_len, 2);
  CHECK(resp.body && memcmp(resp.body, "ok", 2) == 0);
  const server_request *r = only_request(&srv);
  CHECK(strncmp(r->head, "POST /v1/traces HTTP/1.1\r\n", 26) == 0);
  CHECK(strcasestr(r->head, "\r\nauthorization: Bearer secret-token\r\n"));
  CHECK(strcasestr(r->head, "\r\narize-space-id: U3BhY2U6MQ==\r\n"));
  CHECK(strcasestr(r->head, "\r\ncontent-type: application/x-protobuf\r\n"));
  CHECK(!strcasestr(r->head, "content-encoding"));
  CHECK_INT(r->body_len, 5);
  CHECK(memcmp(r->body,
               "\x0a\x03"
               "abc",
               5) == 0);
  server_free(&srv);
  http_response_free(&resp);
}

static void test_content_type_can_be_overridden(void) {
  test_server srv;
  server_reply script[] = {{.status = 204}};
  CHECK(server_start(&srv, script, 1) == 0);
  http_request req = {.url = srv.url,
                      .body = (const uint8_t *)"{}",
                      .body_len = 2,
                      .timeout_ms = 5000,
                      .content_type = "application/json"};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 204);
  CHECK_INT(resp.body_len, 0);
  CHECK(strcasestr(only_request(&srv)->head, "\r\ncontent-type: application/json\r\n"));
  server_free(&srv);
  http_response_free(&resp);
}

static void test_gzip_body_decompresses_to_the_original(void) {
  test_server srv;
  CHECK(server_start(&srv, NULL, 0) == 0);
  size_t len = 20000;
  uint8_t *original = malloc(len);
  for (size_t i = 0; i < len; i++) original[i] = (uint8_t)("span attributes "[i % 16] ^ (i / 1000));
  http_request req = {
      .url = srv.url, .body = original, .body_len = len, .gzip = true, .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 200);
  const server_request *r = only_request(&srv);
  CHECK(strcasestr(r->head, "\r\ncontent-encoding: gzip\r\n"));
  CHECK(r->gzip);
  size_t gz_len = r->body_len;
  CHECK(gz_len > 18 && gz_len < len);
  CHECK(gz_len > 2 && r->body[0] == 0x1f && r->body[1] == 0x8b);

  uint8_t *inflated = malloc(len + 1);
  z_stream z = {0};
  CHECK(inflateInit2(&z, 15 + 16) == Z_OK);
  z.next_in = r->body;
  z.avail_in = (uInt)gz_len;
  z.next_out = inflated;
  z.avail_out = (uInt)len + 1;
  CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
  CHECK_INT(z.total_out, len);
  CHECK(memcmp(inflated, original, len) == 0);
  inflateEnd(&z);
  free(inflated);
  free(original);
  server_free(&srv);
  http_response_free(&resp);
}

static void test_503_with_retry_after_seconds(void) {
  test_server srv;
  server_reply script[] = {{.status = 503, .retry_after = "7", .body = "busy"}};
  CHECK(server_start(&srv, script, 1) == 0);
  http_request req = {
      .url = srv.url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 503);
  CHECK(http_status_retryable(resp.status));
  CHECK(resp.retry_after_s == 7);
  server_free(&srv);
  http_response_free(&resp);
}

static double retry_after_for(const char *value) {
  test_server srv;
  server_reply script[] = {{.status = 429, .retry_after = value}};
  CHECK(server_start(&srv, script, 1) == 0);
  http_request req = {
      .url = srv.url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 429);
  double s = resp.retry_after_s;
  http_response_free(&resp);
  server_free(&srv);
  return s;
}

static void test_retry_after_as_http_date(void) {
  char date[64];
  time_t when = time(NULL) + 120;
  struct tm tm;
  gmtime_r(&when, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  double s = retry_after_for(date);
  CHECK(s >= 115 && s <= 121);
}

static void test_retry_after_in_the_past_is_zero_and_garbage_is_absent(void) {
  CHECK(retry_after_for("Wed, 21 Oct 2015 07:28:00 GMT") == 0);
  CHECK(retry_after_for("soon") == -1);
}

static void test_large_response_body_is_capped_at_64_kib(void) {
  size_t body_len = 100 * 1024;
  char *body = malloc(body_len);
  memset(body, 'e', body_len);
  test_server srv;
  server_reply script[] = {{.status = 400, .body = body, .body_len = body_len}};
  CHECK(server_start(&srv, script, 1) == 0);
  http_request req = {
      .url = srv.url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 400);
  CHECK(!http_status_retryable(resp.status));
  CHECK_INT(resp.body_len, 64 * 1024);
  server_free(&srv);
  http_response_free(&resp);
  CHECK(resp.body == NULL);
  free(body);
}

static void test_connection_refused_is_a_network_error_without_secrets(void) {
  /* A bound socket that never listens: connecting to its port is refused, and keeping
   * it bound stops anything else from taking the port meanwhile. */
  int port;
  int fd = server_bind_loopback(&port);
  CHECK(fd >= 0);
  char url[128];
  snprintf(url, sizeof url, "http://user:hunter2@127.0.0.1:%d/v1/traces?api_key=topsecret", port);
  const char *headers[] = {"authorization: Bearer secret-token"};
  http_request req = {.url = url,
                      .headers = headers,
                      .n_headers = 1,
                      .body = (const uint8_t *)"x",
                      .body_len = 1,
                      .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == -1);
  close(fd);
  CHECK_INT(resp.status, 0);
  CHECK(resp.retry_after_s == -1);
  CHECK(resp.error[0] != '\0');
  CHECK(!strstr(resp.error, "hunter2"));
  CHECK(!strstr(resp.error, "topsecret"));
  CHECK(!strstr(resp.error, "secret-token"));
  http_response_free(&resp);
}

static void test_silent_server_times_out_within_the_timeout(void) {
  test_server srv;
  server_reply script[] = {{.hang = true}};
  CHECK(server_start(&srv, script, 1) == 0);
  http_request req = {
      .url = srv.url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 300};
  http_response resp;
  double start = server_now_ms();
  CHECK(http_post(&req, &resp) == -1);
  double elapsed = server_now_ms() - start;
  server_stop(&srv);
  CHECK(elapsed >= 250 && elapsed < 2000);
  CHECK_INT(resp.status, 0);
  CHECK(resp.error[0] != '\0');
  server_free(&srv);
  http_response_free(&resp);
}

static void test_one_connection_serves_consecutive_requests(void) {
  test_server srv;
  server_reply script[] = {{.status = 503, .retry_after = "1"},
                           {.status = 200, .body = "a"},
                           {.status = 400, .body = "b"}};
  CHECK(server_start(&srv, script, 3) == 0);
  http_request req = {
      .url = srv.url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 5000};
  long expected[] = {503, 200, 400, 200};
  for (size_t i = 0; i < 4; i++) {
    http_response resp;
    CHECK(http_post(&req, &resp) == 0);
    CHECK_INT(resp.status, expected[i]);
    http_response_free(&resp);
  }
  CHECK_INT(server_requests(&srv), 4);
  CHECK_INT(server_connections(&srv), 1);
  server_free(&srv);
}

static void test_only_http_and_https_urls_are_posted(void) {
  http_request req = {
      .url = "file:///etc/passwd", .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 1000};
  http_response resp;
  CHECK(http_post(&req, &resp) == -1);
  CHECK_INT(resp.status, 0);
  CHECK(resp.error[0] != '\0');
  http_response_free(&resp);
}

static void test_retryable_statuses_are_the_otlp_ones(void) {
  static const long retryable[] = {429, 502, 503, 504};
  static const long final[] = {200, 400, 401, 403, 404, 413, 500, 501};
  for (size_t i = 0; i < sizeof retryable / sizeof retryable[0]; i++)
    CHECK(http_status_retryable(retryable[i]));
  for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
    CHECK(!http_status_retryable(final[i]));
}

static void post_to(const char *url, http_response *resp) {
  static const char *const headers[] = {"api_key: secret-key-123"};
  http_request req = {.url = url,
                      .headers = headers,
                      .n_headers = 1,
                      .body = (const uint8_t *)"span bytes",
                      .body_len = 10,
                      .timeout_ms = 5000};
  http_post(&req, resp);
}

/* 307/308 to the same host are followed with the body and headers; the answer is the last. */
static void test_a_307_or_308_to_the_same_host_is_followed_with_the_body(void) {
  test_server srv;
  server_reply script[] = {{.status = 307, .location = "/v1/moved"}, {.status = 200}};
  CHECK_INT(server_start(&srv, script, 2), 0);
  http_response resp;
  post_to(srv.url, &resp);
  CHECK_INT(resp.status, 200);
  CHECK_INT(resp.hops, 1);
  CHECK_INT(server_requests(&srv), 2);
  const server_request *r = server_request_at(&srv, 1);
  CHECK_STR(r->path, "/v1/moved");
  CHECK_STR((const char *)r->body, "span bytes");
  char key[64];
  CHECK(server_header(r, "api_key", key, sizeof key));
  http_response_free(&resp);
  server_stop(&srv);
  server_free(&srv);
}

/* To another host (localhost is another name than 127.0.0.1), nothing is sent there: the
 * redirect is returned with its location, and the key never leaves for the other host. */
static void test_a_redirect_to_another_host_is_not_followed(void) {
  test_server other;
  CHECK_INT(server_start(&other, NULL, 0), 0);
  char elsewhere[128];
  snprintf(elsewhere, sizeof elsewhere, "http://localhost:%d/v1/traces?token=abc", other.port);
  test_server srv;
  server_reply script[] = {{.status = 308, .location = elsewhere}};
  CHECK_INT(server_start(&srv, script, 1), 0);
  http_response resp;
  post_to(srv.url, &resp);
  CHECK_INT(resp.status, 308);
  CHECK_INT(resp.hops, 0);
  char shown[128];
  snprintf(shown, sizeof shown, "http://localhost:%d/v1/traces", other.port);
  CHECK_STR(resp.location, shown); /* no query: it may hold a secret */
  CHECK_INT(server_requests(&other), 0);
  http_response_free(&resp);
  server_stop(&srv);
  server_free(&srv);
  server_stop(&other);
  server_free(&other);
}

static void test_a_redirect_loop_stops_after_the_hop_limit(void) {
  test_server srv;
  server_reply script[SERVER_MAX_SCRIPT];
  for (size_t i = 0; i < SERVER_MAX_SCRIPT; i++)
    script[i] = (server_reply){.status = 307, .location = "/v1/traces"};
  CHECK_INT(server_start(&srv, script, SERVER_MAX_SCRIPT), 0);
  http_response resp;
  post_to(srv.url, &resp);
  CHECK_INT(resp.status, 307);
  CHECK_INT(resp.hops, HTTP_MAX_HOPS);
  CHECK_INT(server_requests(&srv), HTTP_MAX_HOPS + 1);
  http_response_free(&resp);
  server_stop(&srv);
  server_free(&srv);
}

static void test_redirect_rules(void) {
  CHECK(http_redirect_allowed("http://a.example/v1/traces", "https://a.example/v1/traces"));
  CHECK(http_redirect_allowed("https://a.example/x", "https://A.example:443/y"));
  CHECK(!http_redirect_allowed("https://a.example/x", "http://a.example/x"));
  CHECK(!http_redirect_allowed("https://a.example/x", "https://b.example/x"));
  CHECK(!http_redirect_allowed("https://a.example/x", "https://a.example:8443/x"));
  CHECK(!http_redirect_allowed("https://a.example/x", NULL));
  char shown[128];
  http_url_display("https://user:pw@a.example:4318/v1/traces?k=1#f", shown, sizeof shown);
  CHECK_STR(shown, "https://a.example:4318/v1/traces");
}

static void test_body_first_line_is_printable_and_bounded(void) {
  char out[16];
  const char *body = "bad \x1b[31mkey\tx\r\nsecond line";
  http_body_first_line((const uint8_t *)body, strlen(body), out, 15);
  CHECK_STR(out, "bad ?[31mkey?x");
  http_body_first_line((const uint8_t *)"0123456789abcdefghij", 20, out, 8);
  CHECK_STR(out, "01234567");
  http_body_first_line(NULL, 0, out, 15);
  CHECK_STR(out, "");
  http_body_first_line((const uint8_t *)"\nafter", 6, out, 15);
  CHECK_STR(out, "");
}

int main(void) {
  if (http_global_init() != 0) {
    fprintf(stderr, "http_global_init failed\n");
    return 1;
  }
  RUN(test_post_sends_headers_and_body);
  RUN(test_content_type_can_be_overridden);
  RUN(test_gzip_body_decompresses_to_the_original);
  RUN(test_503_with_retry_after_seconds);
  RUN(test_retry_after_as_http_date);
  RUN(test_retry_after_in_the_past_is_zero_and_garbage_is_absent);
  RUN(test_large_response_body_is_capped_at_64_kib);
  RUN(test_connection_refused_is_a_network_error_without_secrets);
  RUN(test_silent_server_times_out_within_the_timeout);
  RUN(test_one_connection_serves_consecutive_requests);
  RUN(test_only_http_and_https_urls_are_posted);
  RUN(test_retryable_statuses_are_the_otlp_ones);
  RUN(test_body_first_line_is_printable_and_bounded);
  RUN(test_a_307_or_308_to_the_same_host_is_followed_with_the_body);
  RUN(test_a_redirect_to_another_host_is_not_followed);
  RUN(test_a_redirect_loop_stops_after_the_hop_limit);
  RUN(test_redirect_rules);
  http_thread_cleanup();
  return check_done();
}
