/* server — a small OTLP/HTTP collector for tests, on 127.0.0.1 (ephemeral port). Header-only.
 *
 * It answers by a script: reply i goes to the i-th request in arrival order (from 0); past the
 * script's end every request gets 200 with an empty body. Every request is recorded: path,
 * headers, body, and the spans of the ExportTraceServiceRequest inside (gunzipped first when
 * content-encoding is gzip). Connections are kept alive, as a real collector keeps them
 * (libcurl reuses one across batches): one thread accepts, one thread serves each connection,
 * and server_stop wakes and joins them all. Every wait inside is bounded, so a bug in the
 * code under test fails a check instead of hanging the suite.
 *
 *   test_server srv;
 *   server_reply script[] = {{.status = 503, .retry_after = "1"}, {.hang = true}};
 *   server_start(&srv, script, 2);      ... post to srv.url ...
 *   server_wait_requests(&srv, 2, 5000);
 *   server_stop(&srv);                  ... read server_request_at(&srv, i) ...
 *   server_free(&srv);
 */
#ifndef SERVER_H
#define SERVER_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "otlp_trace_service.pb-c.h"

#define SERVER_MAX_SCRIPT 16
#define SERVER_IDLE_MS 10000        /* a connection silent this long is closed */
#define SERVER_HANG_MS 30000        /* a "hang" reply gives up after this, stopped or not */
#define SERVER_MAX_BODY (64u << 20) /* request bodies (and inflated ones) larger are refused */

typedef struct {
  int status;              /* 0 means 200 */
  const char *retry_after; /* Retry-After value; NULL for none */
  const void *body;        /* borrowed (must outlive the server); NULL for none */
  size_t body_len;         /* 0 with a body: strlen(body) */
  bool hang;               /* read the request, never answer: until server_stop or the client
                            * hangs up */
  const char *location;    /* Location value (a redirect); NULL for none */
} server_reply;

typedef struct {
  char method[16];
  char path[256];
  char *head;    /* request line and header lines, each ending "\r\n" */
  uint8_t *body; /* as received (still compressed when gzip); NUL-terminated */
  size_t body_len;
  bool gzip;      /* content-encoding: gzip */
  bool decoded;   /* the (inflated) body is an ExportTraceServiceRequest */
  size_t n_spans; /* spans in it (all resource and scope groups) */
  uint8_t (*span_ids)[8];
  int answered; /* the status sent back; 0 for a hang */
  double at_ms; /* server_now_ms() when the whole request had arrived */
} server_request;

typedef struct {
  int port;
  char url[64]; /* http://127.0.0.1:PORT/v1/traces */
  /* private */
  int listen_fd, stop_pipe[2];
  bool running;
  pthread_t acceptor;
  pthread_mutex_t lock;
  pthread_cond_t changed; /* a request was recorded */
  server_reply script[SERVER_MAX_SCRIPT];
  size_t n_script;
  server_request **requests; /* stable pointers: the array grows, the records never move */
  size_t n_requests, requests_cap;
  pthread_t *workers;
  size_t n_workers, workers_cap;
} test_server;

static inline double server_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* fd closed on exec and blocking (an accepted socket inherits O_NONBLOCK from the listening
 * one on Darwin and the BSDs, not on Linux): portable where SOCK_CLOEXEC and accept4 are not. */
static inline int server_own_fd(int fd) {
  if (fd >= 0) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  return fd;
}

/* A socket bound to 127.0.0.1 on an ephemeral port (not listening yet); *port gets the port.
 * -1 on failure. */
static inline int server_bind_loopback(int *port) {
  int fd = server_own_fd(socket(AF_INET, SOCK_STREAM, 0));
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

/* ---- one request in -------------------------------------------------------------- */

typedef struct {
  uint8_t *data;
  size_t len, cap;
} server_buf;

/* Appends what fd has to b. 1 on data; 0 when the peer hung up, the server is stopping or the
 * connection sat idle too long; -1 on an error. */
static inline int server_fill(test_server *s, int fd, server_buf *b) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_pipe[0], .events = POLLIN}};
  int ready = poll(p, 2, SERVER_IDLE_MS);
  if (ready <= 0) return ready == 0 ? 0 : -1;
  if (p[1].revents) return 0;
  if (b->cap - b->len < 16384) {
    size_t cap = b->cap ? b->cap * 2 : 65536;
    if (cap > SERVER_MAX_BODY + 65536) return -1;
    uint8_t *grown = realloc(b->data, cap);
    if (!grown) return -1;
    b->data = grown, b->cap = cap;
  }
  ssize_t n = recv(fd, b->data + b->len, b->cap - b->len, 0);
  if (n <= 0) return n == 0 ? 0 : -1;
  b->len += (size_t)n;
  return 1;
}

/* The value of header name in a request head (case-insensitive name), copied into out. */
static inline bool server_header(const server_request *r, const char *name, char *out,
                                 size_t out_len) {
  size_t n = strlen(name);
  for (const char *line = strstr(r->head, "\r\n"); line && line[2];
       line = strstr(line + 2, "\r\n")) {
    const char *h = line + 2;
    if (strncasecmp(h, name, n) != 0 || h[n] != ':') continue;
    const char *v = h + n + 1, *end = strstr(v, "\r\n");
    while (*v == ' ' || *v == '\t') v++;
    size_t len = (size_t)(end - v);
    if (len >= out_len) len = out_len - 1;
    memcpy(out, v, len);
    out[len] = '\0';
    return true;
  }
  return false;
}

/* Reads one whole request (head, then content-length bytes of body) from the connection; the
 * bytes after it stay in b for the next one. false when none came (or it was unreadable). */
static inline bool server_read_request(test_server *s, int fd, server_buf *b, server_request *r) {
  uint8_t *end = NULL;
  while (b->len < 4 || !(end = memmem(b->data, b->len, "\r\n\r\n", 4)))
    if (server_fill(s, fd, b) <= 0) return false;
  size_t head_len = (size_t)(end - b->data) + 2, body_at = head_len + 2;
  if (!(r->head = strndup((const char *)b->data, head_len))) return false;
  if (sscanf(r->head, "%15s %255s", r->method, r->path) != 2) return false;
  char value[64];
  if (server_header(r, "transfer-encoding", value, sizeof value)) return false; /* unsupported */
  size_t body_len =
      server_header(r, "content-length", value, sizeof value) ? strtoul(value, NULL, 10) : 0;
  if (body_len > SERVER_MAX_BODY) return false;
  r->gzip =
      server_header(r, "content-encoding", value, sizeof value) && strcasecmp(value, "gzip") == 0;
  while (b->len < body_at + body_len)
    if (server_fill(s, fd, b) <= 0) return false;
  if (!(r->body = malloc(body_len + 1))) return false;
  memcpy(r->body, b->data + body_at, body_len);
  r->body[body_len] = 0;
  r->body_len = body_len;
  b->len -= body_at + body_len;
  memmove(b->data, b->data + body_at + body_len, b->len);
  return true;
}

/* gzip (windowBits 15 + 16) to a malloc'd buffer. -1 when it is not gzip or too large. */
static inline int server_gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len) {
  z_stream z = {0};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return -1;
  size_t cap = len * 4 + 1024;
  uint8_t *buf = malloc(cap);
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)len;
  int rc = Z_OK;
  while (buf && rc == Z_OK) {
    if (z.total_out == cap) {
      uint8_t *grown = cap < SERVER_MAX_BODY ? realloc(buf, cap * 2) : NULL;
      if (!grown) break;
      buf = grown, cap *= 2;
    }
    z.next_out = buf + z.total_out;
    z.avail_out = (uInt)(cap - z.total_out);
    rc = inflate(&z, Z_NO_FLUSH);
  }
  *out_len = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    free(buf);
    return -1;
  }
  *out = buf;
  return 0;
}

/* Fills the span fields of r when its body is an ExportTraceServiceRequest. */
static inline void server_decode(server_request *r) {
  const uint8_t *data = r->body;
  size_t len = r->body_len;
  uint8_t *inflated = NULL;
  if (r->gzip) {
    if (server_gunzip(r->body, r->body_len, &inflated, &len) != 0) return;
    data = inflated;
  }
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len,
                                                                                       data);
  free(inflated);
  if (!req) return;
  size_t n = 0;
  for (size_t i = 0; i < req->n_resource_spans; i++)
    for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++)
      n += req->resource_spans[i]->scope_spans[j]->n_spans;
  r->span_ids = calloc(n ? n : 1, sizeof *r->span_ids);
  for (size_t i = 0; r->span_ids && i < req->n_resource_spans; i++)
    for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++) {
      Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = req->resource_spans[i]->scope_spans[j];
      for (size_t k = 0; k < ss->n_spans; k++) {
        if (ss->spans[k]->span_id.len == 8)
          memcpy(r->span_ids[r->n_spans], ss->spans[k]->span_id.data, 8);
        r->n_spans++;
      }
    }
  r->decoded = r->span_ids != NULL;
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                          NULL);
}

static inline void server_request_free(server_request *r) {
  if (!r) return;
  free(r->head);
  free(r->body);
  free(r->span_ids);
  free(r);
}

/* Keeps r (ownership moves in) and returns the script's reply for it. */
static inline server_reply server_record(test_server *s, server_request *r) {
  pthread_mutex_lock(&s->lock);
  size_t index = s->n_requests;
  server_reply reply = index < s->n_script ? s->script[index] : (server_reply){.status = 200};
  r->answered = reply.hang ? 0 : reply.status ? reply.status : 200;
  if (s->n_requests == s->requests_cap) {
    size_t cap = s->requests_cap ? s->requests_cap * 2 : 16;
    server_request **grown = realloc(s->requests, cap * sizeof *grown);
    if (grown) s->requests = grown, s->requests_cap = cap;
  }
  if (s->n_requests < s->requests_cap) s->requests[s->n_requests++] = r;
  else server_request_free(r);
  pthread_cond_broadcast(&s->changed);
  pthread_mutex_unlock(&s->lock);
  return reply;
}

/* ---- one answer out -------------------------------------------------------------- */

static inline const char *server_reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "Status";
  }
}

static inline bool server_send_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n <= 0) return false;
    p += n, len -= (size_t)n;
  }
  return true;
}

static inline bool server_answer(int fd, const server_reply *reply) {
  int status = reply->status ? reply->status : 200;
  size_t body_len = !reply->body ? 0 : reply->body_len ? reply->body_len : strlen(reply->body);
  char head[512];
  int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n", status, server_reason(status));
  if (reply->retry_after)
    n += snprintf(head + n, sizeof head - (size_t)n, "Retry-After: %s\r\n", reply->retry_after);
  if (reply->location)
    n += snprintf(head + n, sizeof head - (size_t)n, "Location: %s\r\n", reply->location);
  if (status != 204) /* a 204 has no body, so no length (RFC 9110 8.6) */
    n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", body_len);
  n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
  return server_send_all(fd, head, (size_t)n) && server_send_all(fd, reply->body, body_len);
}

/* A hanging reply: nothing is sent until the server stops or the client gives up. */
static inline void server_hang(test_server *s, int fd) {
  double until = server_now_ms() + SERVER_HANG_MS;
  char sink[4096];
  for (double now; (now = server_now_ms()) < until;) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_pipe[0], .events = POLLIN}};
    if (poll(p, 2, (int)(until - now) + 1) < 0 || p[1].revents) return;
    if (p[0].revents && recv(fd, sink, sizeof sink, 0) <= 0) return;
  }
}

/* ---- threads --------------------------------------------------------------------- */

typedef struct {
  test_server *s;
  int fd;
} server_connection;

/* Serves one connection: request after request (keep-alive) until it closes. */
static inline void *server_worker(void *arg) {
  server_connection c = *(server_connection *)arg;
  free(arg);
  server_buf b = {0};
  for (;;) {
    server_request *r = calloc(1, sizeof *r);
    if (!r || !server_read_request(c.s, c.fd, &b, r)) {
      server_request_free(r);
      break;
    }
    r->at_ms = server_now_ms();
    server_decode(r);
    server_reply reply = server_record(c.s, r);
    if (reply.hang) {
      server_hang(c.s, c.fd);
      break;
    }
    if (!server_answer(c.fd, &reply)) break;
  }
  free(b.data);
  close(c.fd);
  return NULL;
}

static inline void *server_acceptor(void *arg) {
  test_server *s = arg;
  for (;;) {
    struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
                          {.fd = s->stop_pipe[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0 || p[1].revents) return NULL;
    int fd = server_own_fd(accept(s->listen_fd, NULL, NULL));
    if (fd < 0) continue;
    server_connection *c = malloc(sizeof *c);
    bool started = false;
    pthread_mutex_lock(&s->lock);
    if (c && s->n_workers == s->workers_cap) {
      size_t cap = s->workers_cap ? s->workers_cap * 2 : 8;
      pthread_t *grown = realloc(s->workers, cap * sizeof *grown);
      if (grown) s->workers = grown, s->workers_cap = cap;
    }
    if (c && s->n_workers < s->workers_cap) {
      *c = (server_connection){.s = s, .fd = fd};
      started = pthread_create(&s->workers[s->n_workers], NULL, server_worker, c) == 0;
      if (started) s->n_workers++;
    }
    pthread_mutex_unlock(&s->lock);
    if (!started) {
      free(c);
      close(fd);
    }
  }
}

/* ---- public ---------------------------------------------------------------------- */

/* Starts listening with a copy of script (bodies borrowed). 0, or -1. */
static inline int server_start(test_server *s, const server_reply *script, size_t n_script) {
  memset(s, 0, sizeof *s);
  s->listen_fd = s->stop_pipe[0] = s->stop_pipe[1] = -1;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->changed, NULL); /* waits on CLOCK_REALTIME: see server_wait */
  if (n_script > SERVER_MAX_SCRIPT) return -1;
  if (n_script) memcpy(s->script, script, n_script * sizeof *script);
  s->n_script = n_script;
  s->listen_fd = server_bind_loopback(&s->port);
  if (s->listen_fd < 0 || listen(s->listen_fd, 16) < 0 || pipe(s->stop_pipe) < 0) return -1;
  /* non-blocking: a connection reset between poll and accept must not block the acceptor */
  fcntl(s->listen_fd, F_SETFL, O_NONBLOCK);
  snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/v1/traces", s->port);
  s->running = pthread_create(&s->acceptor, NULL, server_acceptor, s) == 0;
  return s->running ? 0 : -1;
}

/* Stops accepting, ends hanging replies, closes every connection and joins every thread. The
 * records stay readable until server_free. Idempotent. */
static inline void server_stop(test_server *s) {
  if (s->running) {
    /* never read: the pipe stays readable, so every thread polling it sees the stop */
    if (write(s->stop_pipe[1], "x", 1) != 1) perror("server_stop");
    pthread_join(s->acceptor, NULL);
    for (size_t i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
    s->running = false;
  }
  if (s->listen_fd >= 0) close(s->listen_fd);
  for (int i = 0; i < 2; i++)
    if (s->stop_pipe[i] >= 0) close(s->stop_pipe[i]);
  s->listen_fd = s->stop_pipe[0] = s->stop_pipe[1] = -1;
}

/* Stops (when needed) and frees the records. */
static inline void server_free(test_server *s) {
  server_stop(s);
  for (size_t i = 0; i < s->n_requests; i++) server_request_free(s->requests[i]);
  free(s->requests);
  free(s->workers);
  pthread_cond_destroy(&s->changed);
  pthread_mutex_destroy(&s->lock);
  memset(s, 0, sizeof *s);
  s->listen_fd = s->stop_pipe[0] = s->stop_pipe[1] = -1;
}

static inline size_t server_requests(test_server *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = s->n_requests;
  pthread_mutex_unlock(&s->lock);
  return n;
}

/* The i-th request (NULL when there is none yet). The record stays valid until server_free. */
static inline const server_request *server_request_at(test_server *s, size_t i) {
  pthread_mutex_lock(&s->lock);
  const server_request *r = i < s->n_requests ? s->requests[i] : NULL;
  pthread_mutex_unlock(&s->lock);
  return r;
}

/* Spans in the requests answered with a 2xx: what the collector accepted. */
static inline size_t server_spans_locked(const test_server *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->n_requests; i++)
    if (s->requests[i]->answered >= 200 && s->requests[i]->answered < 300)
      n += s->requests[i]->n_spans;
  return n;
}

static inline size_t server_spans(test_server *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = server_spans_locked(s);
  pthread_mutex_unlock(&s->lock);
  return n;
}

/* Waits until at least n requests (want_spans false) or n accepted spans (true) have arrived,
 * at most timeout_ms. Whether they did. */
static inline bool server_wait(test_server *s, size_t n, bool want_spans, long timeout_ms) {
  /* The deadline is on the monotonic clock; each wait is a short realtime one (Darwin has no
   * pthread_condattr_setclock), so a clock step costs at most one slice. */
  double deadline = server_now_ms() + (double)timeout_ms;
  pthread_mutex_lock(&s->lock);
  bool reached;
  while (!(reached = (want_spans ? server_spans_locked(s) : s->n_requests) >= n)) {
    double left = deadline - server_now_ms();
    if (left <= 0) break;
    long slice = left < 100 ? (long)left + 1 : 100;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += slice / 1000;
    until.tv_nsec += (slice % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&s->changed, &s->lock, &until);
  }
  reached = (want_spans ? server_spans_locked(s) : s->n_requests) >= n;
  pthread_mutex_unlock(&s->lock);
  return reached;
}

static inline bool server_wait_requests(test_server *s, size_t n, long timeout_ms) {
  return server_wait(s, n, false, timeout_ms);
}

static inline bool server_wait_spans(test_server *s, size_t n, long timeout_ms) {
  return server_wait(s, n, true, timeout_ms);
}

/* Whether an accepted request carried the span with this id. */
static inline bool server_accepted_span(test_server *s, const uint8_t id[8]) {
  bool found = false;
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->n_requests && !found; i++) {
    const server_request *r = s->requests[i];
    if (r->answered < 200 || r->answered >= 300) continue;
    for (size_t k = 0; k < r->n_spans && !found; k++) found = memcmp(r->span_ids[k], id, 8) == 0;
  }
  pthread_mutex_unlock(&s->lock);
  return found;
}

/* How many connections were accepted (keep-alive reuses one). */
static inline size_t server_connections(test_server *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = s->n_workers;
  pthread_mutex_unlock(&s->lock);
  return n;
}

#endif
