/* http tests against a tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) in a thread:
 * it reads one request, records it, and writes a canned answer (or none at all). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "http.h"

#define SERVER_WAIT_MS 5000 /* upper bound on any wait in the server, so a bug cannot hang */

typedef struct {
  int listen_fd;
  int port;
  const char *reply; /* raw HTTP answer; NULL: read the request, then never answer */
  size_t reply_len;
  char *request;     /* what arrived, NUL-terminated (malloc'd) */
  size_t request_len;
  size_t body_offset; /* where the body starts in request */
  pthread_t thread;
} test_server;

/* Bytes read from fd appended to srv->request until the peer stops sending or the
 * wait runs out. 1 on data, 0 on end, -1 on error or timeout. */
static int server_read_more(test_server *srv, int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, SERVER_WAIT_MS) <= 0) return -1;
  char buf[8192];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return n == 0 ? 0 : -1;
  char *grown = realloc(srv->request, srv->request_len + (size_t)n + 1);
  if (!grown) return -1;
  srv->request = grown;
  memcpy(srv->request + srv->request_len, buf, (size_t)n);
  srv->request_len += (size_t)n;
  srv->request[srv->request_len] = '\0';
  return 1;
}

/* Reads one request: headers, then content-length bytes of body. */
static void server_read_request(test_server *srv, int fd) {
  char *end = NULL;
  while (!(end = srv->request ? strstr(srv->request, "\r\n\r\n") : NULL))
    if (server_read_more(srv, fd) <= 0) return;
  srv->body_offset = (size_t)(end + 4 - srv->request);
  const char *cl = strcasestr(srv->request, "\r\ncontent-length:");
  size_t body_len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
  while (srv->request_len < srv->body_offset + body_len)
    if (server_read_more(srv, fd) <= 0) return;
}

static void send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return;
    data += n, len -= (size_t)n;
  }
}

static void *server_main(void *arg) {
  test_server *srv = arg;
  struct pollfd p = {.fd = srv->listen_fd, .events = POLLIN};
  if (poll(&p, 1, SERVER_WAIT_MS) <= 0) return NULL;
  int fd = accept(srv->listen_fd, NULL, NULL);
  if (fd < 0) return NULL;
  server_read_request(srv, fd);
  if (srv->reply) {
    send_all(fd, srv->reply, srv->reply_len);
  } else {
    /* never answer: wait for the client to give up and close */
    while (server_read_more(srv, fd) > 0) {
    }
  }
  close(fd);
  return NULL;
}

/* A socket bound to 127.0.0.1 on an ephemeral port; *port gets the port. */
static int bind_loopback(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

static int server_start(test_server *srv, const char *reply, size_t reply_len) {
  memset(srv, 0, sizeof *srv);
  srv->reply = reply;
  srv->reply_len = reply ? (reply_len ? reply_len : strlen(reply)) : 0;
  srv->listen_fd = bind_loopback(&srv->port);
  if (srv->listen_fd < 0 || listen(srv->listen_fd, 1) < 0) return -1;
  return pthread_create(&srv->thread, NULL, server_main, srv) == 0 ? 0 : -1;
}

/* Waits for the server thread; what it recorded stays readable until server_free. */
static void server_stop(test_server *srv) {
  pthread_join(srv->thread, NULL);
  close(srv->listen_fd);
}

static void server_free(test_server *srv) {
  free(srv->request);
  srv->request = NULL;
}

static const char *server_body(const test_server *srv) {
  return srv->request ? srv->request + srv->body_offset : "";
}

static size_t server_body_len(const test_server *srv) {
  return srv->request ? srv->request_len - srv->body_offset : 0;
}

static void url_for(char *url, size_t len, int port) {
  snprintf(url, len, "http://127.0.0.1:%d/v1/traces", port);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_post_sends_headers_and_body(void) {
  test_server srv;
  CHECK(server_start(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", 0) == 0);
  char url[64];
  url_for(url, sizeof url, srv.port);
  const char *headers[] = {"authorization: Bearer secret-token", "arize-space-id: U3BhY2U6MQ=="};
  http_request req = {.url = url, .headers = headers, .n_headers = 2,
                      .body = (const uint8_t *)"\x0a\x03" "abc", .body_len = 5, .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 200);
  CHECK(resp.retry_after_s == -1);
  CHECK_INT(resp.body_len, 2);
  CHECK(resp.body && memcmp(resp.body, "ok", 2) == 0);
  CHECK(srv.request && strncmp(srv.request, "POST /v1/traces HTTP/1.1\r\n", 26) == 0);
  CHECK(srv.request && strcasestr(srv.request, "\r\nauthorization: Bearer secret-token\r\n"));
  CHECK(srv.request && strcasestr(srv.request, "\r\narize-space-id: U3BhY2U6MQ==\r\n"));
  CHECK(srv.request && strcasestr(srv.request, "\r\ncontent-type: application/x-protobuf\r\n"));
  CHECK(srv.request && !strcasestr(srv.request, "content-encoding"));
  CHECK_INT(server_body_len(&srv), 5);
  CHECK(memcmp(server_body(&srv), "\x0a\x03" "abc", 5) == 0);
  server_free(&srv);
  http_response_free(&resp);
}

static void test_content_type_can_be_overridden(void) {
  test_server srv;
  CHECK(server_start(&srv, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 0) == 0);
  char url[64];
  url_for(url, sizeof url, srv.port);
  http_request req = {.url = url, .body = (const uint8_t *)"{}", .body_len = 2,
                      .timeout_ms = 5000, .content_type = "application/json"};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 204);
  CHECK_INT(resp.body_len, 0);
  CHECK(srv.request && strcasestr(srv.request, "\r\ncontent-type: application/json\r\n"));
  server_free(&srv);
  http_response_free(&resp);
}

static void test_gzip_body_decompresses_to_the_original(void) {
  test_server srv;
  CHECK(server_start(&srv, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 0) == 0);
  char url[64];
  url_for(url, sizeof url, srv.port);
  size_t len = 20000;
  uint8_t *original = malloc(len);
  for (size_t i = 0; i < len; i++) original[i] = (uint8_t)("span attributes "[i % 16] ^ (i / 1000));
  http_request req = {.url = url, .body = original, .body_len = len, .gzip = true,
                      .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 200);
  CHECK(srv.request && strcasestr(srv.request, "\r\ncontent-encoding: gzip\r\n"));
  size_t gz_len = server_body_len(&srv);
  CHECK(gz_len > 18 && gz_len < len);
  CHECK(gz_len > 2 && (uint8_t)server_body(&srv)[0] == 0x1f && (uint8_t)server_body(&srv)[1] == 0x8b);

  uint8_t *inflated = malloc(len + 1);
  z_stream z = {0};
  CHECK(inflateInit2(&z, 15 + 16) == Z_OK);
  z.next_in = (Bytef *)server_body(&srv);
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
  CHECK(server_start(&srv,
                     "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n"
                     "Connection: close\r\n\r\nbusy",
                     0) == 0);
  char url[64];
  url_for(url, sizeof url, srv.port);
  http_request req = {.url = url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 5000};
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
  char reply[256];
  snprintf(reply, sizeof reply,
           "HTTP/1.1 429 Too Many Requests\r\nretry-after: %s\r\nContent-Length: 0\r\n"
           "Connection: close\r\n\r\n",
           value);
  test_server srv;
  CHECK(server_start(&srv, reply, 0) == 0);
  char url[64];
  url_for(url, sizeof url, srv.port);
  http_request req = {.url = url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 5000};
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
  char head[128];
  int head_len = snprintf(head, sizeof head,
                          "HTTP/1.1 400 Bad Request\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          body_len);
  char *reply = malloc((size_t)head_len + body_len);
  memcpy(reply, head, (size_t)head_len);
  memset(reply + head_len, 'e', body_len);
  test_server srv;
  CHECK(server_start(&srv, reply, (size_t)head_len + body_len) == 0);
  char url[64];
  url_for(url, sizeof url, srv.port);
  http_request req = {.url = url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 5000};
  http_response resp;
  CHECK(http_post(&req, &resp) == 0);
  server_stop(&srv);
  CHECK_INT(resp.status, 400);
  CHECK(!http_status_retryable(resp.status));
  CHECK_INT(resp.body_len, 64 * 1024);
  server_free(&srv);
  http_response_free(&resp);
  CHECK(resp.body == NULL);
  free(reply);
}

static void test_connection_refused_is_a_network_error_without_secrets(void) {
  /* A bound socket that never listens: connecting to its port is refused, and keeping
   * it bound stops anything else from taking the port meanwhile. */
  int port;
  int fd = bind_loopback(&port);
  CHECK(fd >= 0);
  char url[128];
  snprintf(url, sizeof url, "http://user:hunter2@127.0.0.1:%d/v1/traces?api_key=topsecret", port);
  const char *headers[] = {"authorization: Bearer secret-token"};
  http_request req = {.url = url, .headers = headers, .n_headers = 1,
                      .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 5000};
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
  CHECK(server_start(&srv, NULL, 0) == 0);
  char url[64];
  url_for(url, sizeof url, srv.port);
  http_request req = {.url = url, .body = (const uint8_t *)"x", .body_len = 1, .timeout_ms = 300};
  http_response resp;
  double start = now_ms();
  CHECK(http_post(&req, &resp) == -1);
  double elapsed = now_ms() - start;
  server_stop(&srv);
  CHECK(elapsed >= 250 && elapsed < 2000);
  CHECK_INT(resp.status, 0);
  CHECK(resp.error[0] != '\0');
  server_free(&srv);
  http_response_free(&resp);
}

static void test_only_http_and_https_urls_are_posted(void) {
  http_request req = {.url = "file:///etc/passwd", .body = (const uint8_t *)"x", .body_len = 1,
                      .timeout_ms = 1000};
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
  RUN(test_only_http_and_https_urls_are_posted);
  RUN(test_retryable_statuses_are_the_otlp_ones);
  RUN(test_body_first_line_is_printable_and_bounded);
  http_thread_cleanup();
  return check_done();
}
