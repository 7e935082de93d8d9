#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "state.h"

static char dir[256];

static void fresh_dir(void) {
  char cmd[300];
  if (dir[0]) {
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot clean %s\n", dir);
  }
  snprintf(dir, sizeof dir, "/tmp/oat-state-XXXXXX");
  if (!mkdtemp(dir)) abort();
}

static void file_path(const char *session, char *out, size_t n) {
  char name[STATE_NAME_MAX];
  state_file_name(session, name);
  snprintf(out, n, "%s/%s", dir, name);
}

static void mark_and_commit(state *st, const char *session, const char *key) {
  state_begin(st, session);
  if (!state_seen(st, session, key)) state_mark(st, session, key);
  state_commit(st);
}

static void test_a_restart_remembers_what_was_sent(void) {
  fresh_dir();
  state *a = state_new(dir);
  mark_and_commit(a, "ses_1", "llm:msg_1");
  mark_and_commit(a, "ses_1", "tool:msg_1:call_1");
  state_free(a);
  state *b = state_new(dir);
  state_begin(b, "ses_1");
  CHECK(state_seen(b, "ses_1", "llm:msg_1"));
  CHECK(state_seen(b, "ses_1", "tool:msg_1:call_1"));
  CHECK(!state_seen(b, "ses_1", "llm:msg_2"));
  CHECK(!state_seen(b, "ses_2", "llm:msg_1"));
  state_commit(b);
  state_free(b);
}

static void test_rollback_forgets_pending_marks(void) {
  fresh_dir();
  state *st = state_new(dir);
  state_begin(st, "s");
  state_mark(st, "s", "k");
  CHECK(state_seen(st, "s", "k"));
  state_rollback(st);
  CHECK(!state_seen(st, "s", "k"));
  state_free(st);
  state *again = state_new(dir);
  state_begin(again, "s");
  CHECK(!state_seen(again, "s", "k"));
  state_rollback(again);
  state_free(again);
}

static void test_a_second_process_sees_the_first_ones_marks(void) {
  fresh_dir();
  state *a = state_new(dir), *b = state_new(dir);
  mark_and_commit(a, "s", "k1");
  state_begin(b, "s");
  CHECK(state_seen(b, "s", "k1"));
  state_commit(b);
  mark_and_commit(a, "s", "k2"); /* appended after b read the file: b reads only the tail */
  state_begin(b, "s");
  CHECK(state_seen(b, "s", "k2"));
  state_commit(b);
  state_free(a);
  state_free(b);
}

/* Forked processes race on the same session; the flock lets exactly one emit each key. */
static void test_concurrent_processes_emit_each_key_once(void) {
  fresh_dir();
  int fds[2];
  CHECK(pipe(fds) == 0);
  for (int p = 0; p < 4; p++) {
    if (fork() == 0) {
      close(fds[0]);
      state *st = state_new(dir);
      char key[32];
      for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        state_begin(st, "shared");
        if (!state_seen(st, "shared", key)) {
          state_mark(st, "shared", key);
          if (write(fds[1], "x", 1) != 1) _exit(2);
        }
        state_commit(st);
      }
      state_free(st);
      _exit(0);
    }
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n, total = 0;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) total += n;
  close(fds[0]);
  for (int p = 0; p < 4; p++) wait(NULL);
  CHECK_INT(total, 200);
}

static void test_corrupt_file_is_started_afresh(void) {
  fresh_dir();
  char path[512];
  file_path("s", path, sizeof path);
  FILE *f = fopen(path, "w");
  fputs("\x01\x02garbage that is not a state file\n", f);
  fclose(f);
  state *st = state_new(dir);
  state_begin(st, "s");
  CHECK(!state_seen(st, "s", "garbage that is not a state file"));
  state_mark(st, "s", "k");
  CHECK_INT(state_commit(st), 0);
  state_free(st);
  state *again = state_new(dir);
  state_begin(again, "s");
  CHECK(state_seen(again, "s", "k"));
  state_commit(again);
  state_free(again);
}

static void test_torn_last_line_is_ignored_and_appends_still_work(void) {
  fresh_dir();
  char path[512];
  file_path("s", path, sizeof path);
  FILE *f = fopen(path, "w");
  fputs("oat-state 1\nllm:a\nllm:to", f); /* a crash in the middle of a write */
  fclose(f);
  state *st = state_new(dir);
  state_begin(st, "s");
  CHECK(state_seen(st, "s", "llm:a"));
  CHECK(!state_seen(st, "s", "llm:to"));
  state_mark(st, "s", "llm:b");
  state_commit(st);
  state_free(st);
  state *again = state_new(dir);
  state_begin(again, "s");
  CHECK(state_seen(again, "s", "llm:a"));
  CHECK(state_seen(again, "s", "llm:b"));
  state_commit(again);
  state_free(again);
}

static void test_hostile_session_ids_stay_inside_the_directory(void) {
  fresh_dir();
  const char *ids[] = {"../../escape", "/etc/passwd", "..", "a/b", "ses_ok-1"};
  state *st = state_new(dir);
  for (size_t i = 0; i < 5; i++) mark_and_commit(st, ids[i], "k");
  state_free(st);
  char name[STATE_NAME_MAX];
  state_file_name("../../escape", name);
  CHECK_STR(name, "%2E%2E%2F%2E%2E%2Fescape.state");
  state_file_name("ses_ok-1", name);
  CHECK_STR(name, "ses_ok-1.state");
  char big[1000];
  memset(big, '/', sizeof big - 1);
  big[sizeof big - 1] = 0;
  state_file_name(big, name);
  CHECK(strlen(name) < 256 && strchr(name, '/') == NULL);
  DIR *d = opendir(dir);
  int files = 0;
  struct dirent *e;
  while ((e = readdir(d))) files += e->d_name[0] != '.';
  closedir(d);
  CHECK_INT(files, 5);
  struct stat sb;
  char outside[300];
  snprintf(outside, sizeof outside, "%s/../../escape.state", dir);
  CHECK(stat(outside, &sb) != 0);
}

static void test_files_are_private(void) {
  fresh_dir();
  state *st = state_new(dir);
  mark_and_commit(st, "s", "k");
  state_free(st);
  char path[512];
  file_path("s", path, sizeof path);
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
}

static void test_gc_forgets_sessions_idle_for_a_week(void) {
  fresh_dir();
  state *st = state_new(dir);
  mark_and_commit(st, "old", "k");
  mark_and_commit(st, "new", "k");
  char path[512];
  file_path("old", path, sizeof path);
  struct timespec times[2] = {{time(NULL) - 8 * 86400, 0}, {time(NULL) - 8 * 86400, 0}};
  CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
  CHECK_INT(state_gc(st, time(NULL) - 7 * 86400), 1);
  struct stat sb;
  CHECK(stat(path, &sb) != 0);
  file_path("new", path, sizeof path);
  CHECK(stat(path, &sb) == 0);
  state_free(st);
}

static void test_memory_only_state_needs_no_directory(void) {
  state *st = state_new(NULL);
  mark_and_commit(st, "s", "k");
  state_begin(st, "s");
  CHECK(state_seen(st, "s", "k"));
  state_commit(st);
  CHECK_INT(state_size(st), 1);
  state_free(st);
}

/* A long-running OpenCode sees many sessions: only the recent ones stay in memory, and an
 * evicted one still de-duplicates, from its file. */
static void test_many_sessions_stay_bounded_in_memory_and_still_dedup(void) {
  fresh_dir();
  state *st = state_new(dir);
  char session[32], key[32];
  for (int i = 0; i < 100; i++) {
    snprintf(session, sizeof session, "ses_%d", i);
    for (int k = 0; k < 10; k++) {
      snprintf(key, sizeof key, "llm:m%d", k);
      mark_and_commit(st, session, key);
    }
  }
  CHECK(state_size(st) <= 33 * 10);
  state_begin(st, "ses_0"); /* long evicted */
  CHECK(state_seen(st, "ses_0", "llm:m9"));
  CHECK(!state_seen(st, "ses_0", "llm:m10"));
  state_commit(st);
  state_free(st);
}

/* The hand-off: handed marks are seen by this process at once, but the file (what the next
 * process reads) has them only once state_record says the spool holds their spans. */
static void test_handed_marks_reach_the_file_only_when_recorded(void) {
  fresh_dir();
  state *a = state_new(dir);
  state_begin(a, "ses_1");
  state_mark(a, "ses_1", "llm:msg_1");
  state_mark(a, "ses_1", "tool:msg_1:c");
  uint8_t *marks = NULL;
  size_t len = 0;
  CHECK_INT(state_hand_over(a, &marks, &len), 0);
  CHECK(marks != NULL);
  state_begin(a, "ses_1");
  CHECK(state_seen(a, "ses_1", "llm:msg_1")); /* this process will not emit it again */
  state_rollback(a);
  state *other = state_new(dir); /* a process started now (or after a crash) */
  state_begin(other, "ses_1");
  CHECK(!state_seen(other, "ses_1", "llm:msg_1")); /* not durable yet: re-derived */
  state_rollback(other);
  CHECK_INT(state_record(a, marks, len), 0);
  state_begin(other, "ses_1");
  CHECK(state_seen(other, "ses_1", "llm:msg_1"));
  CHECK(state_seen(other, "ses_1", "tool:msg_1:c"));
  state_rollback(other);
  state_begin(a, "ses_1"); /* and this process still knows them, from the file now */
  CHECK(state_seen(a, "ses_1", "tool:msg_1:c"));
  state_rollback(a);
  const char *keys[4];
  size_t n = 0;
  CHECK_STR(state_marks_each(marks, len, NULL, NULL), "ses_1");
  for (const char *k = (const char *)marks + 6; k < (const char *)marks + len && n < 4;
       k += strlen(k) + 1)
    keys[n++] = k;
  CHECK_INT(n, 2);
  CHECK(strcmp(keys[0], keys[1]) != 0);
  free(marks);
  state_free(other);
  state_free(a);
}

int main(void) {
  RUN(test_handed_marks_reach_the_file_only_when_recorded);
  RUN(test_a_restart_remembers_what_was_sent);
  RUN(test_rollback_forgets_pending_marks);
  RUN(test_a_second_process_sees_the_first_ones_marks);
  RUN(test_concurrent_processes_emit_each_key_once);
  RUN(test_corrupt_file_is_started_afresh);
  RUN(test_torn_last_line_is_ignored_and_appends_still_work);
  RUN(test_hostile_session_ids_stay_inside_the_directory);
  RUN(test_files_are_private);
  RUN(test_gc_forgets_sessions_idle_for_a_week);
  RUN(test_memory_only_state_needs_no_directory);
  RUN(test_many_sessions_stay_bounded_in_memory_and_still_dedup);
  fresh_dir();
  rmdir(dir);
  return check_done();
}
