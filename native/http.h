/* http — one OTLP/HTTP POST with libcurl. Blocking; called only from the exporter thread.
 * TLS peer and host verification are always on. */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Loads libcurl (on Linux and macOS the core does not link it: http.c says why) and runs
 * curl_global_init, exactly once per process (pthread_once): safe to call from any thread, any
 * number of times; the exporter's thread calls it, never OpenCode's. 0 on success. */
int http_global_init(void);

/* NULL when http_global_init succeeded, else why not, in one line that names what to install
 * ("the system library libcurl is missing (...; install it: apk add libcurl)"). */
const char *http_global_error(void);

typedef struct {
  const char *url;
  const char *const *headers; /* "name: value" lines; they may hold secrets: never logged */
  size_t n_headers;
  const uint8_t *body;
  size_t body_len;
  bool gzip;                /* compress the body and send content-encoding: gzip */
  bool gzipped;             /* the body is gzip already (gzip_encode): sent as is, with
                             * content-encoding: gzip */
  long timeout_ms;          /* whole request; 0 or less means 30 s, never unbounded */
  const char *content_type; /* default application/x-protobuf */
  const int *abort_flag;    /* when non-NULL and it becomes nonzero, the transfer stops at once */
} http_request;

typedef struct {
  long status;          /* HTTP status, 0 when no answer (network error, timeout) */
  double retry_after_s; /* from Retry-After (seconds or HTTP date), -1 when absent */
  uint8_t *body;        /* malloc'd response body (at most 64 KiB kept), may be NULL */
  size_t body_len;
  char error[256];    /* for status 0: what went wrong; never header values, and
                       * never the URL's user, password or query */
  char location[512]; /* a 3xx not followed: where it points (http_url_display form), or "" */
  int hops;           /* redirects followed to reach this answer */
} http_response;

/* Sends the request. Returns 0 when an HTTP answer arrived (any status), -1 on a network
 * error or timeout (response.status 0, response.error says why). URLs other than http://
 * and https:// are refused. A 307 or 308 (which keep the method and body) to the same host is
 * followed, at most HTTP_MAX_HOPS times, with the same body and headers; http to https is
 * allowed, https to http never, and another host never: the headers carry credentials meant
 * for the configured host only (libcurl's own following would send custom headers such as
 * api_key to any host), and the spans themselves are content the user sent to that host.
 * Any other redirect is returned as it is, with response.location. The timeout covers each
 * hop. The response must be released with http_response_free in both cases. Calls
 * http_global_init itself if needed. */
#define HTTP_MAX_HOPS 5
int http_post(const http_request *req, http_response *resp);
void http_response_free(http_response *resp);

/* Sets nothing itself: stops, at once, every transfer whose request carries abort_flag (the
 * caller sets the flag first, so a transfer about to start stops too). Any thread. */
void http_abort(const int *abort_flag);

/* Each thread keeps one libcurl handle so that batches reuse the connection (one TLS
 * handshake, not one per batch). A thread that used http_post calls this before it ends. */
void http_thread_cleanup(void);

/* url as status and logs may show it: scheme, host, port and path, without user, password,
 * query or fragment (out holds cap bytes; "" when it cannot be read). */
void http_url_display(const char *url, char *out, size_t cap);

/* Whether a redirect from one URL to another may be followed with our headers and body: the
 * same host, the same scheme and port or http upgraded to https, never https to http. */
bool http_redirect_allowed(const char *from, const char *to);

/* OTLP/HTTP: 429, 502, 503, 504 are retryable; other statuses are final. */
bool http_status_retryable(long status);

/* The first line of a body as printable text (at most max_len bytes), for a log line:
 * bytes outside printable ASCII become '?'. out must hold max_len + 1 bytes. */
void http_body_first_line(const uint8_t *body, size_t len, char *out, size_t max_len);

#endif
