/* Tests for outcome.c: the last export's outcome, left on disk for `status`. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "outcome.h"

static char tmpdir[] = "/tmp/test_outcome.XXXXXX";

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static const char *file_in(const char *dir) {
  static char path[700];
  snprintf(path, sizeof path, "%s/last-export.json", dir);
  return path;
}

static void test_a_refused_key_is_recorded_without_credentials(void) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/state/opencode", tmpdir); /* created on open */
  outcome_open(dir, "arize");
  outcome_record("https://user:pw-secret@collector.example.com/v1/traces?token=q-secret", 401,
                 "HTTP 401: unauthorized", 12, NULL);
  const char *s = slurp(file_in(dir));
  CHECK(s != NULL);
  CHECK(s && strstr(s, "\"status\":401"));
  CHECK(s && strstr(s, "\"refused_key\":true"));
  CHECK(s && strstr(s, "\"ok\":false"));
  CHECK(s && strstr(s, "\"error\":\"HTTP 401: unauthorized\""));
  CHECK(s && strstr(s, "\"endpoint\":\"https://collector.example.com/v1/traces\""));
  CHECK(s && strstr(s, "\"target\":\"arize\""));
  CHECK(s && strstr(s, "\"spans\":12"));
  CHECK(s && !strstr(s, "secret"));
  struct stat st;
  CHECK(stat(file_in(dir), &st) == 0 && MODE_IS(st.st_mode, 0600));
  outcome_close();
}

static void test_a_later_success_replaces_the_failure(void) {
  outcome_open(tmpdir, "phoenix");
  outcome_record("http://127.0.0.1:6006/v1/traces", 0, "Timeout was reached", 3, NULL);
  const char *s = slurp(file_in(tmpdir));
  CHECK(s && strstr(s, "\"status\":0") && strstr(s, "Timeout was reached"));
  outcome_record("http://127.0.0.1:6006/v1/traces", 200, "", 3, NULL);
  s = slurp(file_in(tmpdir));
  CHECK(s && strstr(s, "\"status\":200") && strstr(s, "\"ok\":true"));
  CHECK(s && strstr(s, "\"error\":null"));
  CHECK(s && !strstr(s, "Timeout"));
  outcome_close();
}

static void test_nothing_is_written_before_open(void) {
  outcome_close();
  unlink(file_in(tmpdir));
  outcome_record("http://127.0.0.1:1/v1/traces", 500, "HTTP 500", 1, NULL);
  CHECK(access(file_in(tmpdir), F_OK) != 0);
}

/* A running process's counters are there for status; a dead process's go at the next open,
 * and a process's own go when it closes. */
static void test_process_counters_are_left_while_the_process_runs(void) {
  char procs[700], own[800], dead[800];
  snprintf(procs, sizeof procs, "%s/processes", tmpdir);
  snprintf(own, sizeof own, "%s/%ld.json", procs, (long)getpid());
  snprintf(dead, sizeof dead, "%s/999999999.json", procs); /* beyond pid_max: never runs */
  outcome_open(tmpdir, "otlp");
  outcome_totals totals = {.requests = 3, .failed_requests = 1, .exported = 24, .dropped = 2};
  outcome_record("http://127.0.0.1:4318/v1/traces", 200, "", 8, &totals);
  const char *s = slurp(own);
  CHECK(s && strstr(s, "\"requests\":3") && strstr(s, "\"failed_requests\":1"));
  CHECK(s && strstr(s, "\"exported\":24") && strstr(s, "\"dropped\":2"));
  CHECK(s && strstr(s, "\"last_status\":200"));
  FILE *f = fopen(dead, "w");
  if (f) fclose(f);
  outcome_open(tmpdir, "otlp");
  CHECK(access(dead, F_OK) != 0);
  CHECK(access(own, F_OK) == 0);
  outcome_close();
  CHECK(access(own, F_OK) != 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  RUN(test_a_refused_key_is_recorded_without_credentials);
  RUN(test_a_later_success_replaces_the_failure);
  RUN(test_nothing_is_written_before_open);
  RUN(test_process_counters_are_left_while_the_process_runs);
  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return check_done();
}
