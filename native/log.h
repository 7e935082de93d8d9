/* log — one log file for the whole library; thread-safe; never given secrets. */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "platform.h"

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Opens (creates, mode 0600, parent directories 0700) and appends to path. Until
 * opened, or when opening fails, lines go to stderr. Returns 0 or -1. Reopening with
 * another path switches files. */
int log_open(const char *path);
void log_close(void);

/* Past max_bytes (0: no limit) the file is renamed "<path>.1", replacing an older one, and
 * a new one starts, so the log holds at most about twice the limit. */
void log_set_max_bytes(size_t max_bytes);

/* DEBUG lines are written only when verbose. Verbose never copies anything to stderr: in
 * OpenCode that is the terminal the TUI draws on (the CLI prints what it needs itself). */
void log_set_verbose(bool verbose);

/* One line: "2026-11-24T01:02:03.456Z LEVEL message\n"; newlines inside the message
 * are replaced by spaces so every entry is one line. */
void log_write(log_level level, const char *fmt, ...) PLATFORM_PRINTF(2, 3);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
