/* outcome — the last export's outcome, on disk, for every process of this user to read.
 *
 * `opencode-arize-tracing status` runs in a process of its own: the counters of the OpenCode
 * that exported are not its own. So each answered (or failed) export request leaves one small
 * JSON file, replaced whole (temp file + rename), that status reads:
 *
 *   <state dir>/last-export.json
 *   {"at_ms": 1764240000000, "status": 401, "ok": false, "refused_key": true,
 *    "class": "key refused", "kept": true, "error": "HTTP 401: unauthorized", "target": "arize",
 *    "endpoint": "https://otlp.arize.com/v1/traces", "spans": 12, "pid": 4242}
 *
 * and, per running process, its counters so far (`status` shows those whose pid still runs):
 *
 *   <state dir>/processes/<pid>.json
 *   {"pid": 4242, "at_ms": ..., "started_ms": ..., "requests": 3, "failed_requests": 1,
 *    "exported": 24, "dropped": 0, "last_status": 401}
 *
 * Both are written on the exporter thread after each request, never on OpenCode's thread, and
 * appear with the first request (the state directory otherwise holds only sessions' state). A
 * process removes its own file when its tracer is freed; files of processes that died are
 * removed by the next outcome_open.
 *
 * status 0 is a network error (no HTTP answer). class is retry.h's name for what the answer
 * means, kept whether its spans stay in the spool (retry_classes says the rest). The endpoint is
 * shown without user:password@, query or fragment; the error text is the exporter's, already
 * scrubbed of header values. Nothing here ever holds a secret. Thread-safe; failures are silent
 * (status then shows an older outcome, or none). */
#ifndef OUTCOME_H
#define OUTCOME_H

#include <stddef.h>
#include <stdint.h>

/* Where outcomes go: dir (created 0700 when missing) and the backend's name for the file
 * ("arize", "phoenix", "otlp"). Both copied. NULL dir, or one that cannot be created (the state
 * module, which shares it, logs that once): outcomes are not recorded. */
void outcome_open(const char *dir, const char *target);

/* This process's totals so far, as the exporter counts them. */
typedef struct {
  uint64_t requests, failed_requests, exported, dropped;
} outcome_totals;

/* Records one export request's outcome: http_status (0 for a network error), error ("" or
 * NULL when it succeeded), the URL it went to (shown without credentials), how many spans it
 * carried, and the process's totals after it (NULL: not recorded). */
void outcome_record(const char *url, long http_status, const char *error, size_t spans,
                    const outcome_totals *totals);

/* outcome_record for a further destination (config.h's destinations): its outcome goes to
 * <state dir>/last-export-<dest>.json with "destination": dest and its own target name (NULL
 * dest: outcome_record's file; NULL target: outcome_open's). The process counters are the first
 * destination's only. dest is a destination name (letters, digits, . _ -). */
void outcome_record_for(const char *dest, const char *target, const char *url, long http_status,
                        const char *error, size_t spans, const outcome_totals *totals);

/* Removes this process's counters file and forgets the directory (process teardown, tests). */
void outcome_close(void);

#endif
