/* Tests for log.c: one line per entry, in a private file, from any thread. */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static char tmpdir[] = "/tmp/test_log.XXXXXX";

/* A path inside the temp dir; returns a static buffer (one at a time is enough). */
static const char *tmp_path(const char *name) {
  static char buf[4][512];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  return p;
}

/* The whole file as a malloc'd string ("" when missing). */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return strdup("");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fclose(f);
  return s;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* The message part of the first line: after "<timestamp> <LEVEL> ". */
static const char *message_of(const char *line) {
  const char *p = strchr(line, ' ');
  p = p ? strchr(p + 1, ' ') : NULL;
  return p ? p + 1 : "";
}

/* Redirects fd 2 into path until capture_end; returns the saved descriptor. */
static int capture_begin(const char *path) {
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, STDERR_FILENO);
  close(fd);
  return saved;
}

static void capture_end(int saved) {
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void test_open_creates_parent_dirs_0700_and_file_0600(void) {
  const char *path = tmp_path("a/b/opencode.log");
  CHECK_INT(log_open(path), 0);
  struct stat st;
  CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
  CHECK(MODE_IS(st.st_mode, 0600));
  CHECK(stat(tmp_path("a"), &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(MODE_IS(st.st_mode, 0700));
  CHECK(stat(tmp_path("a/b"), &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(MODE_IS(st.st_mode, 0700));
  log_close();
}

static void test_line_is_utc_timestamp_level_message(void) {
  const char *path = tmp_path("format.log");
  CHECK_INT(log_open(path), 0);
  log_info("hello %d", 42);
  log_close();
  char *s = slurp(path);
  /* 2026-11-24T01:02:03.456Z INFO hello 42\n */
  const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
  CHECK(strlen(s) > strlen(shape));
  for (size_t i = 0; s[0] && i < strlen(shape); i++) {
    if (shape[i] == 'd') CHECK(s[i] >= '0' && s[i] <= '9');
    else CHECK(s[i] == shape[i]);
  }
  CHECK_STR(s + strlen(shape), "INFO hello 42\n");
  free(s);
}

static void test_each_level_is_named(void) {
  const char *path = tmp_path("levels.log");
  CHECK_INT(log_open(path), 0);
  log_info("i");
  log_warn("w");
  log_error("e");
  log_close();
  char *s = slurp(path);
  CHECK(strstr(s, "Z INFO i\n") != NULL);
  CHECK(strstr(s, "Z WARN w\n") != NULL);
  CHECK(strstr(s, "Z ERROR e\n") != NULL);
  free(s);
}

static void test_embedded_newlines_stay_on_one_line(void) {
  const char *path = tmp_path("newlines.log");
  CHECK_INT(log_open(path), 0);
  log_warn("first\nsecond\r\nthird");
  log_close();
  char *s = slurp(path);
  CHECK_INT(count_lines(s), 1);
  CHECK_STR(message_of(s), "first second  third\n");
  free(s);
}

static void test_existing_file_is_appended_to(void) {
  const char *path = tmp_path("append.log");
  CHECK_INT(log_open(path), 0);
  log_info("one");
  log_close();
  CHECK_INT(log_open(path), 0);
  log_info("two");
  log_close();
  char *s = slurp(path);
  CHECK_INT(count_lines(s), 2);
  CHECK(strstr(s, "INFO one\n") != NULL && strstr(s, "INFO two\n") != NULL);
  free(s);
}

static void test_reopen_switches_files(void) {
  const char *first = tmp_path("first.log"), *second = tmp_path("second.log");
  CHECK_INT(log_open(first), 0);
  log_info("to first");
  CHECK_INT(log_open(second), 0);
  log_info("to second");
  log_close();
  char *a = slurp(first), *b = slurp(second);
  CHECK(strstr(a, "to first") && !strstr(a, "to second"));
  CHECK(strstr(b, "to second") && !strstr(b, "to first"));
  free(a);
  free(b);
}

static void test_debug_suppressed_unless_verbose(void) {
  const char *path = tmp_path("debug.log");
  const char *err = tmp_path("debug.stderr");
  CHECK_INT(log_open(path), 0);
  log_debug("hidden");
  int saved = capture_begin(err);
  log_set_verbose(true);
  log_debug("shown");
  log_set_verbose(false);
  capture_end(saved);
  log_debug("hidden again");
  log_close();
  char *s = slurp(path);
  CHECK_INT(count_lines(s), 1);
  CHECK(strstr(s, "Z DEBUG shown\n") != NULL);
  CHECK(strstr(s, "hidden") == NULL);
  free(s);
}

/* In OpenCode stderr is the terminal the TUI draws on: verbose lines go to the file only. */
static void test_verbose_never_writes_to_stderr(void) {
  const char *path = tmp_path("verbose.log");
  const char *err = tmp_path("verbose.stderr");
  CHECK_INT(log_open(path), 0);
  int saved = capture_begin(err);
  log_set_verbose(true);
  log_info("to the file");
  log_debug("debug to the file");
  log_set_verbose(false);
  capture_end(saved);
  log_close();
  char *e = slurp(err), *s = slurp(path);
  CHECK(e[0] == '\0');
  CHECK(strstr(s, "Z INFO to the file\n") != NULL);
  CHECK(strstr(s, "Z DEBUG debug to the file\n") != NULL);
  free(e);
  free(s);
}

static void test_lines_before_open_go_to_stderr(void) {
  const char *err = tmp_path("before.stderr");
  log_close();
  int saved = capture_begin(err);
  log_info("nowhere else to go");
  capture_end(saved);
  char *e = slurp(err);
  CHECK(strstr(e, "Z INFO nowhere else to go\n") != NULL);
  free(e);
}

static void test_open_failure_falls_back_to_stderr(void) {
  const char *err = tmp_path("failure.stderr");
  FILE *f = fopen(tmp_path("plainfile"), "w"); /* a file where a directory should be */
  fclose(f);
  int saved = capture_begin(err);
  int rc = log_open(tmp_path("plainfile/sub/x.log"));
  log_info("after failure");
  capture_end(saved);
  CHECK_INT(rc, -1);
  char *e = slurp(err);
  CHECK(strstr(e, "ERROR log: cannot open ") != NULL);
  CHECK(strstr(e, "Z INFO after failure\n") != NULL);
  free(e);
}

static void test_long_message_truncated_with_ellipsis(void) {
  const char *path = tmp_path("long.log");
  char *big = malloc(10001);
  memset(big, 'x', 10000);
  big[10000] = '\0';
  CHECK_INT(log_open(path), 0);
  log_info("%s", big);
  log_close();
  char *s = slurp(path);
  CHECK_INT(count_lines(s), 1);
  const char *m = message_of(s);
  size_t len = strlen(m);
  CHECK(len <= 4096 + 1);
  CHECK(len > 4000);
  CHECK(len >= 4 && strcmp(m + len - 4, "\xe2\x80\xa6\n") == 0);
  free(s);
  free(big);
}

static void test_truncation_never_splits_a_utf8_character(void) {
  const char *path = tmp_path("utf8.log");
  char *big = malloc(10001);
  for (int i = 0; i < 10000; i += 2) memcpy(big + i, "\xc3\xa9", 2); /* "é" */
  big[10000] = '\0';
  CHECK_INT(log_open(path), 0);
  log_info("%s", big); /* a plain cut at 4096 - 3 bytes would land mid-character */
  log_close();
  char *s = slurp(path);
  const char *m = message_of(s);
  size_t body = strlen(m) - 4; /* minus "…\n" */
  CHECK_INT(body % 2, 0);
  CHECK(strncmp(m + body, "\xe2\x80\xa6\n", 4) == 0);
  free(s);
  free(big);
}

enum { THREADS = 8, LINES_PER_THREAD = 400 };

static void *write_lines(void *arg) {
  int id = (int)(intptr_t)arg;
  for (int i = 0; i < LINES_PER_THREAD; i++)
    log_info("thread %d line %d %s end", id, i, "padding-padding-padding-padding-padding");
  return NULL;
}

static void test_threads_write_whole_lines(void) {
  const char *path = tmp_path("threads.log");
  CHECK_INT(log_open(path), 0);
  pthread_t t[THREADS];
  for (intptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, write_lines, (void *)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  log_close();
  char *s = slurp(path);
  CHECK_INT(count_lines(s), THREADS * LINES_PER_THREAD);
  int whole = 0;
  for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
    size_t n = strlen(line);
    whole +=
        strncmp(message_of(line), "thread ", 7) == 0 && n > 4 && strcmp(line + n - 4, " end") == 0;
  }
  CHECK_INT(whole, THREADS * LINES_PER_THREAD);
  free(s);
}

static void test_a_full_log_rotates_and_stays_bounded(void) {
  const char *path = tmp_path("rotating/opencode.log");
  char old[600];
  snprintf(old, sizeof old, "%s.1", path);
  CHECK_INT(log_open(path), 0);
  log_set_max_bytes(4096);
  for (int i = 0; i < 500; i++) log_info("line %d of a log that must not grow without bound", i);
  log_set_max_bytes(0);
  log_close();
  struct stat a, b;
  CHECK(stat(path, &a) == 0 && a.st_size <= 4096 + 200);
  CHECK(stat(old, &b) == 0 && b.st_size <= 4096 + 200);
  CHECK(MODE_IS(a.st_mode, 0600) && MODE_IS(b.st_mode, 0600));
  char *text = slurp(path);
  CHECK(strstr(text, "line 499 of") != NULL);
  free(text);
}

int main(void) {
  umask(022); /* file and directory modes must not depend on the caller's umask */
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_open_creates_parent_dirs_0700_and_file_0600);
  RUN(test_line_is_utc_timestamp_level_message);
  RUN(test_each_level_is_named);
  RUN(test_embedded_newlines_stay_on_one_line);
  RUN(test_existing_file_is_appended_to);
  RUN(test_reopen_switches_files);
  RUN(test_debug_suppressed_unless_verbose);
  RUN(test_verbose_never_writes_to_stderr);
  RUN(test_lines_before_open_go_to_stderr);
  RUN(test_open_failure_falls_back_to_stderr);
  RUN(test_long_message_truncated_with_ellipsis);
  RUN(test_truncation_never_splits_a_utf8_character);
  RUN(test_threads_write_whole_lines);
  RUN(test_a_full_log_rotates_and_stays_bounded);
  nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return check_done();
}
