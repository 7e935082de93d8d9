/* log — see log.h.
 *
 * One process-wide file descriptor behind a mutex. Each entry is formatted outside the
 * lock into one buffer and written with a single write(), so entries from several
 * threads never interleave (and, thanks to O_APPEND, neither do entries from several
 * processes sharing the file). */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "files.h"
#include "platform.h"

/* Bytes of message kept per entry. A runaway message (a whole tool output, say) must not
 * turn the log into a copy of the session; longer messages end with "…". */
#define LOG_MESSAGE_MAX 4096
#define LOG_ELLIPSIS "\xe2\x80\xa6" /* "…" in UTF-8 */
#define LOG_PREFIX_MAX 128          /* "2026-11-24T01:02:03.456Z ERROR " with room to spare */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1; /* guarded by log_lock; -1 means stderr */
#define STDERR_FD 2     /* stderr's descriptor, everywhere */
static atomic_bool log_verbose;

static const char *level_name(log_level level) {
  switch (level) {
  case LOG_DEBUG: return "DEBUG";
  case LOG_INFO: return "INFO";
  case LOG_WARN: return "WARN";
  case LOG_ERROR: return "ERROR";
  }
  return "ERROR";
}

/* mkdir -p of everything before the last separator: the log's directory. */
static int make_parent_dirs(const char *path) {
  char *dir = strdup(path);
  if (!dir) return -1;
  char *slash = (char *)platform_last_separator(dir);
  int rc = 0;
  if (slash && slash != dir) {
    *slash = '\0';
    rc = files_mkdir_p(dir);
  }
  free(dir);
  return rc;
}

/* Writes all of buf, retrying short writes and EINTR. Failures are dropped: there is
 * nowhere left to report them. */
static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    int64_t n = platform_write(fd, buf, len);
    if (n <= 0) return;
    buf += n;
    len -= (size_t)n;
  }
}

/* "2026-11-24T01:02:03.456Z LEVEL " into dst (LOG_PREFIX_MAX bytes); returns its length. */
static size_t format_prefix(char *dst, log_level level) {
  int64_t now = platform_realtime_ms();
  time_t sec = (time_t)(now / 1000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  int n = snprintf(dst, LOG_PREFIX_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (int)(now % 1000), level_name(level));
  return n < 0 ? 0 : (size_t)n;
}

/* Formats the message into dst (LOG_MESSAGE_MAX + 1 bytes), cut with "…" when too long,
 * with CR and LF turned into spaces so one entry is one line. Returns its length. */
static size_t format_message(char *dst, const char *fmt, va_list ap) {
  int n = vsnprintf(dst, LOG_MESSAGE_MAX + 1, fmt, ap);
  if (n < 0) {
    static const char bad[] = "(unformattable log message)";
    memcpy(dst, bad, sizeof bad);
    return sizeof bad - 1;
  }
  size_t len = (size_t)n;
  if (len > LOG_MESSAGE_MAX) {
    size_t cut = LOG_MESSAGE_MAX - (sizeof LOG_ELLIPSIS - 1);
    /* Back up to the start of a UTF-8 character so the line stays valid UTF-8. */
    while (cut > 0 && ((unsigned char)dst[cut] & 0xC0) == 0x80) cut--;
    memcpy(dst + cut, LOG_ELLIPSIS, sizeof LOG_ELLIPSIS - 1);
    len = cut + sizeof LOG_ELLIPSIS - 1;
  }
  for (size_t i = 0; i < len; i++)
    if (dst[i] == '\n' || dst[i] == '\r') dst[i] = ' ';
  return len;
}

/* The file's path and size limit, for rotation; both under log_lock. */
static char *log_path;
static size_t log_max_bytes;

void log_set_max_bytes(size_t max_bytes) {
  pthread_mutex_lock(&log_lock);
  log_max_bytes = max_bytes;
  pthread_mutex_unlock(&log_lock);
}

/* The log file: appended to by every process, created 0600, never through a link or into a
 * FIFO planted at its path (platform_open). */
static int open_log_file(const char *path) {
  return platform_open(path, PLATFORM_APPEND | PLATFORM_CREATE);
}

/* Past the size limit, the file becomes "<path>.1" (replacing an older one, or whatever is
 * planted there: a rename never follows a link) and a new file starts: the log never holds
 * more than twice the limit. Lock held. */
static void rotate_locked(void) {
  platform_info st;
  if (!log_path || !log_max_bytes || log_fd < 0 || platform_file_info(log_fd, &st) != 0 ||
      (size_t)st.size <= log_max_bytes)
    return;
  size_t n = strlen(log_path) + 3;
  char *old = malloc(n);
  if (!old) return;
  snprintf(old, n, "%s.1", log_path);
  int fd = -1;
  if (platform_replace(log_path, old) == 0) {
    fd = open_log_file(log_path);
    if (fd < 0) { /* said in the file just rotated, the one still open */
      char line[LOG_PREFIX_MAX + LOG_MESSAGE_MAX];
      size_t len = format_prefix(line, LOG_ERROR);
      int n = snprintf(line + len, sizeof line - len, "log: cannot open %s after rotating: %s\n",
                       log_path, platform_error_text(errno));
      if (n > 0 && (size_t)n < sizeof line - len) write_all(log_fd, line, len + (size_t)n);
    }
  }
  if (fd >= 0) {
    platform_close(log_fd);
    log_fd = fd;
  }
  free(old);
}

int log_open(const char *path) {
  int fd = -1;
  int saved = 0;
  if (path && *path && make_parent_dirs(path) == 0) fd = open_log_file(path);
  if (fd < 0) saved = errno;

  char *copy = fd >= 0 ? strdup(path) : NULL;
  pthread_mutex_lock(&log_lock);
  int old = log_fd;
  log_fd = fd;
  free(log_path);
  log_path = copy;
  pthread_mutex_unlock(&log_lock);
  if (old >= 0) platform_close(old);

  if (fd < 0) {
    /* Lands on stderr, the only place left. */
    log_error("log: cannot open %s: %s", path ? path : "(null)",
              saved ? platform_error_text(saved) : "bad path");
    return -1;
  }
  return 0;
}

void log_close(void) {
  pthread_mutex_lock(&log_lock);
  int old = log_fd;
  log_fd = -1;
  free(log_path);
  log_path = NULL;
  pthread_mutex_unlock(&log_lock);
  if (old >= 0) platform_close(old);
}

void log_set_verbose(bool verbose) { atomic_store(&log_verbose, verbose); }

void log_write(log_level level, const char *fmt, ...) {
  bool verbose = atomic_load(&log_verbose);
  if (level == LOG_DEBUG && !verbose) return;
  int saved_errno = errno; /* callers log and then look at errno */

  char line[LOG_PREFIX_MAX + LOG_MESSAGE_MAX + 2];
  size_t len = format_prefix(line, level);
  va_list ap;
  va_start(ap, fmt);
  len += format_message(line + len, fmt, ap);
  va_end(ap);
  line[len++] = '\n';

  pthread_mutex_lock(&log_lock);
  /* Verbose or not, an open log file is the only place a line goes: inside OpenCode,
   * stderr is the terminal the TUI draws on, and a copy there lands over its prompt box. */
  write_all(log_fd >= 0 ? log_fd : STDERR_FD, line, len);
  rotate_locked();
  pthread_mutex_unlock(&log_lock);

  errno = saved_errno;
}
