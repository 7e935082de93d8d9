/* http — one OTLP/HTTP POST with libcurl; see http.h.
 *
 * Each thread keeps one easy handle (http_thread_handle), reset between requests and reused so
 * that batches share a connection; nothing is shared between threads beyond curl's global
 * state, which http_global_init sets up exactly once.
 */
#include "http.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "gzip.h"
#include "platform.h"

#define HTTP_BODY_MAX (64 * 1024)      /* response bytes kept: enough for any error text */
#define HTTP_DEFAULT_TIMEOUT_MS 30000L /* when the caller gives none: never wait forever */
#define HTTP_USER_AGENT "opencode-arize-tracing"

/* ---- libcurl, loaded by the first thread that sends -------------------------------------
 *
 * On Linux and macOS the core does not link libcurl. Linked, it was loaded with the core, on
 * OpenCode's thread as the plugin started: libcurl and the ~30 libraries it needs (TLS, HTTP/2,
 * IDN, Kerberos, LDAP) took 13-19 ms of the core's load, for a library only the exporter's
 * threads use. http_global_init loads it instead, on the exporter's thread before its first
 * send; a machine without it (Alpine's base image has none) still traces into the spool, and the
 * exporter says once what to install. Windows links it in (CURL_STATICLIB): Windows has no
 * libcurl for programs. Every call below goes through this table. */
#define HTTP_LIBCURL(X)                                                                            \
  X(global_init, CURLcode, (long))                                                                 \
  X(easy_init, CURL *, (void))                                                                     \
  X(easy_cleanup, void, (CURL *))                                                                  \
  X(easy_reset, void, (CURL *))                                                                    \
  X(easy_perform, CURLcode, (CURL *))                                                              \
  X(easy_setopt, CURLcode, (CURL *, CURLoption, ...))                                              \
  X(easy_getinfo, CURLcode, (CURL *, CURLINFO, ...))                                               \
  X(easy_strerror, const char *, (CURLcode))                                                       \
  X(free, void, (void *))                                                                          \
  X(getdate, time_t, (const char *, const time_t *))                                               \
  X(slist_append, struct curl_slist *, (struct curl_slist *, const char *))                        \
  X(slist_free_all, void, (struct curl_slist *))                                                   \
  X(url, CURLU *, (void))                                                                          \
  X(url_cleanup, void, (CURLU *))                                                                  \
  X(url_get, CURLUcode, (CURLU *, CURLUPart, char **, unsigned int))                               \
  X(url_set, CURLUcode, (CURLU *, CURLUPart, const char *, unsigned int))

static struct {
#define HTTP_FIELD(name, ret, params) ret(*name) params;
  HTTP_LIBCURL(HTTP_FIELD)
#undef HTTP_FIELD
} libcurl;

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static int http_init_rc = -1;
static char http_init_error[400] = "libcurl is not loaded yet";

#ifdef CURL_STATICLIB
static int http_load_libcurl(void) {
#define HTTP_LINKED(name, ret, params) libcurl.name = curl_##name;
  HTTP_LIBCURL(HTTP_LINKED)
#undef HTTP_LINKED
  return 0;
}
#else
#ifdef __APPLE__
static const char *const http_libcurl_names[] = {"/usr/lib/libcurl.4.dylib", NULL};
#define HTTP_LIBCURL_INSTALL "it ships with macOS"
#else
/* Debian and Ubuntu also have a GnuTLS build under another name, with the same interface */
static const char *const http_libcurl_names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", NULL};
#ifdef __GLIBC__
#define HTTP_LIBCURL_INSTALL "apt-get install libcurl4, dnf install libcurl, ..."
#else
#define HTTP_LIBCURL_INSTALL "apk add libcurl"
#endif
#endif

static int http_load_libcurl(void) {
  char why[200];
  void *lib = platform_library_open(http_libcurl_names, why, sizeof why);
  if (!lib) {
    snprintf(http_init_error, sizeof http_init_error,
             "the system library libcurl is missing (%s; install it: %s)", why,
             HTTP_LIBCURL_INSTALL);
    return -1;
  }
  const char *missing = NULL;
#define HTTP_FIND(name, ret, params)                                                               \
  libcurl.name = (ret(*) params)platform_library_function(lib, "curl_" #name);                     \
  if (!libcurl.name && !missing) missing = "curl_" #name;
  HTTP_LIBCURL(HTTP_FIND)
#undef HTTP_FIND
  if (missing) {
    snprintf(http_init_error, sizeof http_init_error,
             "the system's libcurl is too old (it has no %s; 7.64 or later is needed)", missing);
    return -1;
  }
  return 0;
}
#endif

static void http_init_once(void) {
  if (http_load_libcurl() != 0) return;
  if (libcurl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(http_init_error, sizeof http_init_error, "libcurl failed to initialise");
    return;
  }
  http_init_rc = 0;
}

/* curl_global_init is not thread-safe in older libcurl; pthread_once makes it so. */
int http_global_init(void) {
  pthread_once(&http_once, http_init_once);
  return http_init_rc;
}

const char *http_global_error(void) {
  pthread_once(&http_once, http_init_once);
  return http_init_rc == 0 ? NULL : http_init_error;
}

/* ---- small helpers ---------------------------------------------------------------- */

static void http_set_error(http_response *resp, const char *fmt, ...) PLATFORM_PRINTF(2, 3);

static void http_set_error(http_response *resp, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(resp->error, sizeof resp->error, fmt, ap);
  va_end(ap);
}

bool http_status_retryable(long status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

/* Only ASCII printable bytes survive: the line goes into a log, where control bytes
 * (terminal escapes, newlines) could forge or garble entries. */
void http_body_first_line(const uint8_t *body, size_t len, char *out, size_t max_len) {
  size_t n = 0;
  for (size_t i = 0; body && i < len && n < max_len; i++) {
    uint8_t c = body[i];
    if (c == '\n' || c == '\r') break;
    out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  out[n] = '\0';
}

void http_response_free(http_response *resp) {
  if (!resp) return;
  free(resp->body);
  resp->body = NULL;
  resp->body_len = 0;
}

/* ---- response capture ------------------------------------------------------------ */

typedef struct {
  http_response *resp;
  size_t body_cap;
  bool body_oom;         /* stop keeping the body, but finish the transfer */
  char retry_after[128]; /* raw Retry-After value of the last response, "" if none */
} http_capture;

/* Keeps the first HTTP_BODY_MAX bytes. Always consumes everything, because returning
 * less would turn a long error page into a network error and hide the status. */
static size_t http_on_body(char *data, size_t size, size_t nmemb, void *userdata) {
  http_capture *cap = userdata;
  http_response *resp = cap->resp;
  size_t n = size * nmemb;
  size_t room = HTTP_BODY_MAX - resp->body_len;
  size_t keep = n < room ? n : room;
  if (keep == 0 || cap->body_oom) return n;
  if (resp->body_len + keep > cap->body_cap) {
    size_t want = cap->body_cap ? cap->body_cap * 2 : 4096;
    while (want < resp->body_len + keep) want *= 2;
    if (want > HTTP_BODY_MAX) want = HTTP_BODY_MAX;
    uint8_t *grown = realloc(resp->body, want);
    if (!grown) {
      cap->body_oom = true;
      return n;
    }
    resp->body = grown;
    cap->body_cap = want;
  }
  memcpy(resp->body + resp->body_len, data, keep);
  resp->body_len += keep;
  return n;
}

/* Records Retry-After. A status line starts a new response (after a 100 Continue, say),
 * and only the final response's headers count. */
static size_t http_on_header(char *line, size_t size, size_t nmemb, void *userdata) {
  http_capture *cap = userdata;
  size_t n = size * nmemb;
  static const char name[] = "retry-after:";
  if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    cap->retry_after[0] = '\0';
  } else if (n > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) {
    const char *v = line + sizeof name - 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && isspace((unsigned char)end[-1])) end--;
    size_t len = (size_t)(end - v);
    if (len >= sizeof cap->retry_after) len = sizeof cap->retry_after - 1;
    memcpy(cap->retry_after, v, len);
    cap->retry_after[len] = '\0';
  }
  return n;
}

/* Seconds to wait from a Retry-After value: delta-seconds or an HTTP date (RFC 9110
 * 10.2.3). Never negative; -1 when absent or unreadable. */
static double http_retry_after_seconds(const char *value) {
  if (!value[0]) return -1;
  const char *p = value;
  while (isdigit((unsigned char)*p)) p++;
  if (*p == '\0') {
    double s = strtod(value, NULL);
    return s > 0 ? s : 0;
  }
  time_t when = libcurl.getdate(value, NULL);
  if (when == (time_t)-1) return -1;
  double s = difftime(when, time(NULL));
  return s > 0 ? s : 0;
}

/* ---- request --------------------------------------------------------------------- */

void http_url_display(const char *url, char *out, size_t cap) {
  out[0] = '\0';
  CURLU *u = url && http_global_init() == 0 ? libcurl.url() : NULL;
  if (!u) return;
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
  if (libcurl.url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      libcurl.url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
      libcurl.url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    libcurl.url_get(u, CURLUPART_PORT, &port, 0); /* absent: the scheme's default */
    libcurl.url_get(u, CURLUPART_PATH, &path, 0);
    snprintf(out, cap, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
             path ? path : "");
  }
  libcurl.free(scheme), libcurl.free(host), libcurl.free(port), libcurl.free(path);
  libcurl.url_cleanup(u);
}

/* scheme, host and port (the scheme's default when absent) of url; false when unreadable. */
static bool http_origin(const char *url, char **scheme, char **host, char **port) {
  *scheme = *host = *port = NULL;
  CURLU *u = http_global_init() == 0 ? libcurl.url() : NULL;
  if (!u) return false;
  bool ok = libcurl.url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            libcurl.url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
            libcurl.url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
            libcurl.url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK;
  libcurl.url_cleanup(u);
  if (!ok) libcurl.free(*scheme), libcurl.free(*host), libcurl.free(*port);
  return ok;
}

bool http_redirect_allowed(const char *from, const char *to) {
  char *fs, *fh, *fp, *ts, *th, *tp;
  bool a = http_origin(from, &fs, &fh, &fp), b = to && http_origin(to, &ts, &th, &tp);
  bool ok = a && b && strcasecmp(fh, th) == 0 &&
            ((strcasecmp(fs, ts) == 0 && strcmp(fp, tp) == 0) ||
             (strcasecmp(fs, "http") == 0 && strcasecmp(ts, "https") == 0));
  if (a) libcurl.free(fs), libcurl.free(fh), libcurl.free(fp);
  if (b) libcurl.free(ts), libcurl.free(th), libcurl.free(tp);
  return ok;
}

static bool http_scheme_allowed(const char *url) {
  return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* Whether text shows part of the URL that may be secret (user, password, query). */
static bool http_text_leaks_url_secret(const char *url, const char *text) {
  CURLU *u = http_global_init() == 0 ? libcurl.url() : NULL;
  if (!u) return true; /* cannot tell: assume the worst */
  bool leaks = false;
  if (libcurl.url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
    static const CURLUPart parts[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_QUERY};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0] && !leaks; i++) {
      char *part = NULL;
      if (libcurl.url_get(u, parts[i], &part, 0) == CURLUE_OK && part && part[0] &&
          strstr(text, part))
        leaks = true;
      libcurl.free(part);
    }
  }
  libcurl.url_cleanup(u);
  return leaks;
}

/* The reason for a failed transfer: curl's detailed message when it has one and it
 * shows nothing secret from the URL, else the generic text for the code. Header values
 * never appear in curl's messages. */
static void http_describe_failure(http_response *resp, CURLcode rc, const char *url,
                                  const char *detail) {
  const char *generic = libcurl.easy_strerror(rc);
  if (detail[0] && !http_text_leaks_url_secret(url, detail))
    http_set_error(resp, "%s: %s", generic, detail);
  else http_set_error(resp, "%s", generic);
}

/* content-type, content-encoding, an empty Expect (curl would otherwise wait up to a
 * second for "100 Continue" before sending a larger body), then the caller's headers.
 * NULL when out of memory. */
static struct curl_slist *http_header_list(const http_request *req, bool gzip) {
  char content_type[256];
  snprintf(content_type, sizeof content_type, "content-type: %s",
           req->content_type ? req->content_type : "application/x-protobuf");
  struct curl_slist *list = NULL, *next;
  if (!(next = libcurl.slist_append(list, content_type))) goto oom;
  list = next;
  if (gzip && !(next = libcurl.slist_append(list, "content-encoding: gzip"))) goto oom;
  list = next;
  if (!(next = libcurl.slist_append(list, "Expect:"))) goto oom;
  list = next;
  for (size_t i = 0; i < req->n_headers; i++) {
    if (!req->headers[i]) continue;
    if (!(next = libcurl.slist_append(list, req->headers[i]))) goto oom;
    list = next;
  }
  return list;
oom:
  libcurl.slist_free_all(list);
  return NULL;
}

/* ---- abort ------------------------------------------------------------------------ */

/* libcurl calls the progress function about once a second while a transfer waits, so the
 * abort flag alone can keep a shutdown waiting that long on a silent backend. The sockets of
 * transfers that carry an abort flag are therefore registered here (opened and closed through
 * our callbacks), and http_abort shuts them down: libcurl's poll wakes at once. */
#define HTTP_SOCKETS_MAX 32
static pthread_mutex_t http_sockets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  const int *flag;
  curl_socket_t fd;
} http_sockets[HTTP_SOCKETS_MAX];
static size_t http_n_sockets;

static curl_socket_t http_open_socket(void *flag, curlsocktype purpose, struct curl_sockaddr *a) {
  (void)purpose;
  curl_socket_t fd = platform_socket_open(a->family, a->socktype, a->protocol);
  if (fd == CURL_SOCKET_BAD) return fd;
  pthread_mutex_lock(&http_sockets_lock);
  if (http_n_sockets < HTTP_SOCKETS_MAX) /* else it is only stopped by the progress check */
    http_sockets[http_n_sockets].flag = flag, http_sockets[http_n_sockets++].fd = fd;
  pthread_mutex_unlock(&http_sockets_lock);
  return fd;
}

/* Unregisters before closing, so http_abort never touches a descriptor reused meanwhile. */
static int http_close_socket(void *flag, curl_socket_t fd) {
  (void)flag;
  pthread_mutex_lock(&http_sockets_lock);
  for (size_t i = 0; i < http_n_sockets; i++)
    if (http_sockets[i].fd == fd) {
      http_sockets[i] = http_sockets[--http_n_sockets];
      break;
    }
  pthread_mutex_unlock(&http_sockets_lock);
  return platform_socket_close(fd);
}

void http_abort(const int *abort_flag) {
  pthread_mutex_lock(&http_sockets_lock);
  for (size_t i = 0; i < http_n_sockets; i++)
    if (http_sockets[i].flag == abort_flag) platform_socket_shutdown(http_sockets[i].fd);
  pthread_mutex_unlock(&http_sockets_lock);
}

/* Stops a transfer when the owner asks (shutdown must not wait out a slow backend). */
static int http_on_progress(void *flag, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow) {
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return __atomic_load_n((const int *)flag, __ATOMIC_RELAXED) ? 1 : 0;
}

/* The calling thread's handle: reset between requests, so options never leak from one to the
 * next, while libcurl keeps its connection cache for the next batch. */
static _Thread_local CURL *http_handle;

static CURL *http_thread_handle(void) {
  if (http_handle) libcurl.easy_reset(http_handle);
  else http_handle = libcurl.easy_init();
  return http_handle;
}

void http_thread_cleanup(void) {
  if (http_handle) libcurl.easy_cleanup(http_handle); /* a handle means libcurl is loaded */
  http_handle = NULL;
}

static CURLcode http_configure(CURL *curl, const http_request *req, const uint8_t *body,
                               size_t body_len, struct curl_slist *headers, http_capture *cap,
                               char *errbuf) {
  long timeout = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
  CURLcode rc = CURLE_OK;
#define HTTP_SETOPT(opt, val)                                                                      \
  if (rc == CURLE_OK) rc = libcurl.easy_setopt(curl, opt, val)
  HTTP_SETOPT(CURLOPT_ERRORBUFFER, errbuf);
  HTTP_SETOPT(CURLOPT_URL, req->url);
  HTTP_SETOPT(CURLOPT_NOSIGNAL, 1L); /* signals are process-wide: wrong in a thread */
  HTTP_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
  HTTP_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
  HTTP_SETOPT(CURLOPT_FOLLOWLOCATION, 0L); /* a redirected POST would lose its body */
  HTTP_SETOPT(CURLOPT_TIMEOUT_MS, timeout);
  HTTP_SETOPT(CURLOPT_USERAGENT, HTTP_USER_AGENT);
  HTTP_SETOPT(CURLOPT_POST, 1L);
  HTTP_SETOPT(CURLOPT_POSTFIELDS, (const char *)body);
  HTTP_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  HTTP_SETOPT(CURLOPT_HTTPHEADER, headers);
  HTTP_SETOPT(CURLOPT_WRITEFUNCTION, http_on_body);
  HTTP_SETOPT(CURLOPT_WRITEDATA, cap);
  HTTP_SETOPT(CURLOPT_HEADERFUNCTION, http_on_header);
  HTTP_SETOPT(CURLOPT_HEADERDATA, cap);
  if (req->abort_flag) {
    HTTP_SETOPT(CURLOPT_XFERINFOFUNCTION, http_on_progress);
    HTTP_SETOPT(CURLOPT_XFERINFODATA, (void *)req->abort_flag);
    HTTP_SETOPT(CURLOPT_NOPROGRESS, 0L);
    HTTP_SETOPT(CURLOPT_OPENSOCKETFUNCTION, http_open_socket);
    HTTP_SETOPT(CURLOPT_OPENSOCKETDATA, (void *)req->abort_flag);
    HTTP_SETOPT(CURLOPT_CLOSESOCKETFUNCTION, http_close_socket);
    HTTP_SETOPT(CURLOPT_CLOSESOCKETDATA, (void *)req->abort_flag);
  }
#undef HTTP_SETOPT
#if LIBCURL_VERSION_NUM >= 0x075500
  /* Belt and braces with http_scheme_allowed; an older runtime libcurl rejects the
   * option, which is fine. */
  if (rc == CURLE_OK) libcurl.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  return rc;
}

/* Runs the transfer on a configured handle and fills resp. */
static int http_perform(CURL *curl, const char *url, http_capture *cap, const char *errbuf) {
  http_response *resp = cap->resp;
  CURLcode rc = libcurl.easy_perform(curl);
  if (rc != CURLE_OK) {
    http_describe_failure(resp, rc, url, errbuf);
    return -1;
  }
  long status = 0;
  libcurl.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status == 0) {
    http_set_error(resp, "no HTTP status in the answer");
    return -1;
  }
  resp->status = status;
  resp->retry_after_s = http_retry_after_seconds(cap->retry_after);
  return 0;
}

int http_post(const http_request *req, http_response *resp) {
  memset(resp, 0, sizeof *resp);
  resp->retry_after_s = -1;
  if (http_global_init() < 0) {
    http_set_error(resp, "%s", http_global_error());
    return -1;
  }
  if (!req->url || !http_scheme_allowed(req->url)) {
    http_set_error(resp, "endpoint is not an http:// or https:// URL");
    return -1;
  }

  const uint8_t *body = req->body;
  size_t body_len = req->body_len;
  uint8_t *gz = NULL;
  if (req->gzip && !req->gzipped) {
    /* a large body in two halves at once (gzip.h): compression is most of an export's time */
    if (gzip_encode(req->body, req->body_len, 2, &gz, &body_len) < 0) {
      http_set_error(resp, "gzip of the request body failed");
      return -1;
    }
    body = gz;
  }

  int result = -1;
  char errbuf[CURL_ERROR_SIZE] = "";
  http_capture cap = {.resp = resp};
  struct curl_slist *headers = http_header_list(req, req->gzip || req->gzipped);
  CURL *curl = headers ? http_thread_handle() : NULL;
  if (!curl) {
    http_set_error(resp, "out of memory");
  } else {
    CURLcode rc = http_configure(curl, req, body ? body : (const uint8_t *)"", body_len, headers,
                                 &cap, errbuf);
    if (rc != CURLE_OK) http_set_error(resp, "libcurl setup: %s", libcurl.easy_strerror(rc));
    else result = http_perform(curl, req->url, &cap, errbuf);
    /* A 307/308 keeps the method and body: followed to the same host only (http.h). The
     * current URL and the target are libcurl's copies, valid until the next perform. */
    char *current = req->url ? strdup(req->url) : NULL;
    while (result == 0 && (resp->status >= 300 && resp->status < 400)) {
      char *target = NULL;
      libcurl.easy_getinfo(curl, CURLINFO_REDIRECT_URL, &target);
      bool follow = (resp->status == 307 || resp->status == 308) && current && target &&
                    http_scheme_allowed(target) && resp->hops < HTTP_MAX_HOPS &&
                    http_redirect_allowed(current, target);
      if (!follow) {
        if (target) http_url_display(target, resp->location, sizeof resp->location);
        break;
      }
      char *next = strdup(target);
      free(current);
      current = next;
      free(resp->body);
      resp->body = NULL, resp->body_len = 0, cap.body_cap = 0, cap.body_oom = false;
      resp->hops++;
      if (!next || libcurl.easy_setopt(curl, CURLOPT_URL, next) != CURLE_OK) {
        http_set_error(resp, "out of memory");
        result = -1;
        break;
      }
      result = http_perform(curl, next, &cap, errbuf);
    }
    free(current);
  }
  libcurl.slist_free_all(headers);
  free(gz);
  /* Cut off by http_abort (the exporter stopping at exit): libcurl says "Operation was aborted
   * by an application callback" or a receive error on the shut socket, neither of which is
   * what happened. */
  if (result < 0 && req->abort_flag && __atomic_load_n(req->abort_flag, __ATOMIC_RELAXED))
    http_set_error(resp, "no answer from the backend before tracing stopped: the request was cut "
                         "off at exit");
  if (result < 0) {
    resp->status = 0;
    resp->retry_after_s = -1;
  }
  return result;
}
