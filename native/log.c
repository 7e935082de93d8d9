/* log — see log.h.
 *
 * One process-wide file descriptor behind a mutex. Each entry is formatted outside the
 * lock into one buffer and written with a single write(), so entries from several
 * threads never interleave (and, thanks to O_APPEND, neither do entries from several
 * processes sharing the file). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

/* Bytes of message kept per entry. A runaway message (a whole tool output, say) must not
 * turn the log into a copy of the session; longer messages end with "…". */
#define LOG_MESSAGE_MAX 4096
#define LOG_ELLIPSIS "\xe2\x80\xa6" /* "…" in UTF-8 */
#define LOG_PREFIX_MAX 128          /* "2026-11-24T01:02:03.456Z ERROR " with room to spare */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1; /* guarded by log_lock; -1 means stderr */
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

/* mkdir -p of everything before the last '/': the log's directory. */
static int make_parent_dirs(const char *path) {
  char *dir = strdup(path);
  if (!dir) return -1;
  char *slash = strrchr(dir, '/');
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
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    buf += n;
    len -= (size_t)n;
  }
}

/* "2026-11-24T01:02:03.456Z LEVEL " into dst (LOG_PREFIX_MAX bytes); returns its length. */
static size_t format_prefix(char *dst, log_level level) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(dst, LOG_PREFIX_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (int)(ts.tv_nsec / 1000000), level_name(level));
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

/* Past the size limit, the file becomes "<path>.1" (replacing an older one) and a new file
 * starts: the log never holds more than twice the limit. Lock held. */
static void rotate_locked(void) {
  struct stat st;
  if (!log_path || !log_max_bytes || log_fd < 0 || fstat(log_fd, &st) != 0 ||
      (size_t)st.st_size <= log_max_bytes)
    return;
  size_t n = strlen(log_path) + 3;
  char *old = malloc(n);
  if (!old) return;
  snprintf(old, n, "%s.1", log_path);
  int fd = -1;
  if (rename(log_path, old) == 0)
    fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd >= 0) {
    close(log_fd);
    log_fd = fd;
  }
  free(old);
}

int log_open(const char *path) {
  int fd = -1;
  int saved = 0;
  if (path && *path && make_parent_dirs(path) == 0)
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) saved = errno;

  char *copy = fd >= 0 ? strdup(path) : NULL;
  pthread_mutex_lock(&log_lock);
  int old = log_fd;
  log_fd = fd;
  free(log_path);
  log_path = copy;
  pthread_mutex_unlock(&log_lock);
  if (old >= 0) close(old);

  if (fd < 0) {
    /* Lands on stderr, the only place left. */
    log_error("log: cannot open %s: %s", path ? path : "(null)",
              saved ? strerror(saved) : "bad path");
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
  if (old >= 0) close(old);
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
  write_all(log_fd >= 0 ? log_fd : STDERR_FILENO, line, len);
  rotate_locked();
  pthread_mutex_unlock(&log_lock);

  errno = saved_errno;
}
