/* outcome — see outcome.h. */
#include "outcome.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "log.h"
#include "platform.h"
#include "retry.h"
#include "text.h"
#include "wallclock.h"

static pthread_mutex_t outcome_lock = PTHREAD_MUTEX_INITIALIZER;
static char *outcome_file;   /* <dir>/last-export.json; guarded by outcome_lock */
static char *outcome_procs;  /* <dir>/processes; guarded by outcome_lock */
static char *outcome_target; /* guarded by outcome_lock */
static int64_t outcome_started_ms;
static bool outcome_refusal_logged; /* guarded by outcome_lock: one line until a write works */

/* <procs>/<pid>.json, malloc'd. */
static char *process_file(const char *procs, long pid) {
  size_t n = strlen(procs) + 32;
  char *f = malloc(n);
  if (f) snprintf(f, n, "%s" PLATFORM_SEP "%ld.json", procs, pid);
  return f;
}

/* Removes the counters files of processes that no longer run: they would only pile up. */
static void remove_dead(const char *procs) {
  platform_dir *d = platform_dir_open(procs);
  if (!d) return;
  const char *name;
  while ((name = platform_dir_next(d))) {
    char *end;
    long pid = strtol(name, &end, 10);
    if (pid <= 0 || strcmp(end, ".json") != 0) continue;
    if (platform_process_alive(pid)) continue;
    char *f = process_file(procs, pid);
    if (f) platform_remove(f);
    free(f);
  }
  platform_dir_close(d);
}

void outcome_open(const char *dir, const char *target) {
  char *file = dir ? files_join(dir, "last-export.json") : NULL;
  char *procs = dir ? files_join(dir, "processes") : NULL;
  char *name = target ? strdup(target) : NULL;
  if (procs) remove_dead(procs); /* the directory itself appears with the first record */
  if (dir && files_mkdir_p(dir) != 0) {
    /* the state module shares the directory and says once that it is not usable (a read-only
     * home): a second line about the same directory would tell the user nothing new */
    log_debug("outcomes are not recorded: %s is not usable (%s)", dir, strerror(errno));
    free(file), free(procs);
    file = procs = NULL;
  }
  pthread_mutex_lock(&outcome_lock);
  free(outcome_file);
  free(outcome_procs);
  free(outcome_target);
  outcome_file = file;
  outcome_procs = procs;
  outcome_target = name;
  if (!outcome_started_ms) outcome_started_ms = wallclock_ms();
  pthread_mutex_unlock(&outcome_lock);
}

void outcome_close(void) {
  pthread_mutex_lock(&outcome_lock);
  char *own = outcome_procs ? process_file(outcome_procs, platform_process_id()) : NULL;
  if (own) platform_remove(own);
  free(own);
  pthread_mutex_unlock(&outcome_lock);
  outcome_open(NULL, NULL);
}

/* Writes text to file through a new temp file (an unguessable name, created exclusively: a
 * link or FIFO planted beside it is never followed) and a rename (which replaces whatever is at
 * file, a link included, without following it): a reader sees the old outcome or the new one,
 * never half of one. No fsync: losing the last outcome to a power cut costs nothing. A failure
 * is logged once until a write works again. Lock held. */
static void replace_file(const char *file, const char *text) {
  char *tmp = NULL;
  int fd = platform_create_temp(file, &tmp);
  bool ok = fd >= 0 && files_write_all(fd, text, strlen(text)) == 0;
  if (fd >= 0) ok = platform_close(fd) == 0 && ok;
  ok = ok && platform_replace(tmp, file) == 0;
  int saved = errno;
  if (!ok && tmp) platform_remove(tmp);
  free(tmp);
  if (ok) {
    outcome_refusal_logged = false;
  } else if (!outcome_refusal_logged) {
    outcome_refusal_logged = true;
    log_warn("cannot write %s: %s (the status command shows an older outcome)", file,
             platform_error_text(saved));
  }
}

void outcome_record(const char *url, long http_status, const char *error, size_t spans,
                    const outcome_totals *totals) {
  outcome_record_for(NULL, NULL, url, http_status, error, spans, totals);
}

void outcome_record_for(const char *dest, const char *target, const char *url, long http_status,
                        const char *error, size_t spans, const outcome_totals *totals) {
  pthread_mutex_lock(&outcome_lock);
  if (!outcome_file) {
    pthread_mutex_unlock(&outcome_lock);
    return;
  }
  /* a further destination's outcome: last-export-<name>.json beside the first's; the process
   * counters stay the first destination's */
  char *dest_file = NULL;
  if (dest) {
    size_t n = strlen(outcome_file);
    dest_file = malloc(n + strlen(dest) + 2);
    if (!dest_file) {
      pthread_mutex_unlock(&outcome_lock);
      return;
    }
    snprintf(dest_file, n + strlen(dest) + 2, "%.*s-%s.json", (int)(n - 5), outcome_file, dest);
    totals = NULL;
  }
  char *shown = text_url_for_display(url);
  bool ok = http_status >= 200 && http_status < 300;
  const retry_class *class = retry_class_of_status(http_status);
  json_t *o = json_pack(
      "{s:I, s:I, s:b, s:b, s:s, s:b, s:s?, s:s?, s:s?, s:I, s:I}", "at_ms",
      (json_int_t)wallclock_ms(), "status", (json_int_t)http_status, "ok", ok, "refused_key",
      http_status == 401 || http_status == 403, "class", class->name, "kept", class->keeps, "error",
      ok || !error || !*error ? NULL : error, "target", target ? target : outcome_target,
      "endpoint", shown, "spans", (json_int_t)spans, "pid", (json_int_t)platform_process_id());
  if (o && dest) json_object_set_new(o, "destination", json_string(dest));
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  if (text) replace_file(dest_file ? dest_file : outcome_file, text);
  free(dest_file);
  char *proc_text = NULL, *proc_file = NULL;
  if (totals && outcome_procs && files_mkdir_p(outcome_procs) == 0 &&
      (proc_file = process_file(outcome_procs, platform_process_id()))) {
    json_t *p = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "pid", (json_int_t)platform_process_id(),
        "at_ms", (json_int_t)wallclock_ms(), "started_ms", (json_int_t)outcome_started_ms,
        "requests", (json_int_t)totals->requests, "failed_requests",
        (json_int_t)totals->failed_requests, "exported", (json_int_t)totals->exported, "dropped",
        (json_int_t)totals->dropped, "last_status", (json_int_t)http_status);
    proc_text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    if (proc_text) replace_file(proc_file, proc_text);
    json_decref(p);
  }
  pthread_mutex_unlock(&outcome_lock);
  free(proc_text);
  free(proc_file);
  free(text);
  json_decref(o);
  free(shown);
}
