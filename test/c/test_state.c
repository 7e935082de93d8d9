#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/* Whether a new state on dir (a process started now) sees key for session. */
static bool a_restart_sees(const char *session, const char *key) {
  state *st = state_new(dir);
  state_begin(st, session);
  bool seen = state_seen(st, session, key);
  state_rollback(st);
  state_free(st);
  return seen;
}

/* A fresh directory whose one session file holds one key; its path in path. */
static void file_with_one_key(const char *session, const char *key, char *path, size_t n) {
  fresh_dir();
  state *st = state_new(dir);
  mark_and_commit(st, session, key);
  state_free(st);
  file_path(session, path, n);
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

/* Forked processes append to the same session's file at once: every append is whole (the
 * flock), so a later process reads every key and the file has no torn or merged line. */
static void test_concurrent_appends_never_interleave(void) {
  fresh_dir();
  for (int p = 0; p < 4; p++) {
    if (fork() == 0) {
      state *st = state_new(dir);
      char key[64];
      for (int i = 0; i < 200; i++) {
        state_begin(st, "shared");
        snprintf(key, sizeof key, "p%d-k%d", p, i);
        state_mark(st, "shared", key);
        snprintf(key, sizeof key, "p%d-k%d-second", p, i); /* two keys: a multi-line append */
        state_mark(st, "shared", key);
        state_commit(st);
      }
      state_free(st);
      _exit(0);
    }
  }
  for (int p = 0; p < 4; p++) wait(NULL);
  state *st = state_new(dir);
  state_begin(st, "shared");
  char key[64];
  int seen = 0;
  for (int p = 0; p < 4; p++)
    for (int i = 0; i < 200; i++) {
      snprintf(key, sizeof key, "p%d-k%d", p, i);
      seen += state_seen(st, "shared", key);
      snprintf(key, sizeof key, "p%d-k%d-second", p, i);
      seen += state_seen(st, "shared", key);
    }
  state_rollback(st);
  state_free(st);
  CHECK_INT(seen, 1600);
  char path[512], line[128];
  file_path("shared", path, sizeof path);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  int lines = 0, bad = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (lines++ == 0) continue; /* the header */
    int p, i, n = 0;
    if (sscanf(line, "p%d-k%d%n", &p, &i, &n) != 2 ||
        (line[n] != '\n' && strcmp(line + n, "-second\n") != 0))
      bad++;
  }
  if (f) fclose(f);
  CHECK_INT(lines, 1601);
  CHECK_INT(bad, 0);
}

/* Reading a session's file never waits for a lock another process holds (OpenCode's thread
 * reads it on every reconcile): a process holding the flock forever does not stop it. */
static void test_reading_never_waits_for_another_process(void) {
  char path[512];
  file_with_one_key("s", "k1", path, sizeof path);
  int ready[2];
  CHECK(pipe(ready) == 0);
  pid_t holder = fork();
  if (holder == 0) {
    int fd = open(path, O_RDONLY);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(2);
    if (write(ready[1], "x", 1) != 1) _exit(2);
    pause(); /* holds it until killed */
    _exit(0);
  }
  char c;
  CHECK(read(ready[0], &c, 1) == 1);
  pid_t reader = fork();
  if (reader == 0) {
    alarm(10); /* a reader that waits for the lock is killed by SIGALRM: the check fails */
    state *b = state_new(dir);
    state_begin(b, "s");
    int ok = state_seen(b, "s", "k1") && !state_seen(b, "s", "k2");
    state_mark(b, "s", "k2");
    uint8_t *marks = NULL;
    size_t len = 0;
    ok = ok && state_hand_over(b, &marks, &len) == 0 && len > 0;
    free(marks);
    state_free(b);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(reader, &status, 0);
  kill(holder, SIGKILL);
  waitpid(holder, NULL, 0);
  close(ready[0]);
  close(ready[1]);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
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
  CHECK(a_restart_sees("s", "k"));
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
  char path[512];
  file_with_one_key("s", "k", path, sizeof path);
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
}

static void test_a_session_idle_for_a_month_is_still_remembered(void) {
  fresh_dir();
  state *st = state_new(dir);
  mark_and_commit(st, "old", "k");
  state_free(st);
  char path[512];
  file_path("old", path, sizeof path);
  struct timespec times[2] = {{time(NULL) - 31 * 86400, 0}, {time(NULL) - 31 * 86400, 0}};
  CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
  st = state_new(dir);
  state_begin(st, "old");
  CHECK(state_seen(st, "old", "k"));
  state_rollback(st);
  state_free(st);
}

/* The writer's guard: under the file's lock, what another process recorded is seen, and a
 * record adds only the keys the file lacks (two processes' writers never both store a span). */
static void test_the_guard_sees_what_another_process_recorded(void) {
  fresh_dir();
  state *a = state_new(dir), *b = state_new(dir);
  static const uint8_t marks[] = "ses\0llm:1\0llm:2";
  state_guard *g = state_guard_open(a, "ses");
  CHECK(g != NULL);
  CHECK(!state_guard_recorded(g, "llm:1"));
  CHECK_INT(state_guard_record(g, marks, sizeof marks), 0);
  state_guard_close(g);
  g = state_guard_open(b, "ses");
  CHECK(state_guard_recorded(g, "llm:1") && state_guard_recorded(g, "llm:2"));
  CHECK(!state_guard_recorded(g, "llm:3"));
  static const uint8_t again[] = "ses\0llm:2\0llm:3";
  CHECK_INT(state_guard_record(g, again, sizeof again), 0);
  state_guard_close(g);
  char path[512], text[256] = "";
  file_path("ses", path, sizeof path);
  FILE *f = fopen(path, "r");
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  CHECK_STR(text, "oat-state 1\n\nllm:1\nllm:2\n\nllm:3\n"); /* llm:2 once */
  state_begin(b, "ses");
  CHECK(state_seen(b, "ses", "llm:3"));
  state_rollback(b);
  state_free(a);
  state_free(b);
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
/* The writer thread records marks while OpenCode's thread is between reading the file and
 * deciding (reads take no lock): those keys are still seen, never emitted twice. */
static void test_marks_recorded_during_a_reconcile_are_still_seen(void) {
  fresh_dir();
  state *st = state_new(dir);
  state_begin(st, "s");
  state_mark(st, "s", "llm:m1");
  uint8_t *marks = NULL;
  size_t len = 0;
  CHECK_INT(state_hand_over(st, &marks, &len), 0);
  state_begin(st, "s");                       /* a reconcile has read the file: no llm:m1 yet */
  CHECK_INT(state_record(st, marks, len), 0); /* the writer records it now */
  CHECK(state_seen(st, "s", "llm:m1"));
  state_rollback(st);
  state_begin(st, "s"); /* and afterwards, from memory and the file */
  CHECK(state_seen(st, "s", "llm:m1"));
  state_rollback(st);
  free(marks);
  state_free(st);
}

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

/* Opening a new session creates no file (a file's creation can wait on the disk's journal,
 * and begin runs on OpenCode's thread): the first record makes it, on the writer's thread. */
static void test_a_new_session_gets_its_file_from_its_first_record(void) {
  fresh_dir();
  char path[512];
  file_path("ses_new", path, sizeof path);
  state *st = state_new(dir);
  state_begin(st, "ses_new");
  CHECK(!state_seen(st, "ses_new", "llm:msg_1"));
  state_mark(st, "ses_new", "llm:msg_1");
  uint8_t *marks = NULL;
  size_t len = 0;
  CHECK_INT(state_hand_over(st, &marks, &len), 0);
  struct stat sb;
  CHECK(stat(path, &sb) != 0); /* begin and hand-over made none */
  state_begin(st, "ses_new");
  CHECK(state_seen(st, "ses_new", "llm:msg_1")); /* handed: not emitted twice meanwhile */
  state_rollback(st);
  CHECK_INT(state_record(st, marks, len), 0);
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
  free(marks);
  CHECK(a_restart_sees("ses_new", "llm:msg_1"));
  /* a commit (the spool's roll-forward at start) creates it too */
  mark_and_commit(st, "ses_other", "turn:msg_0");
  CHECK(a_restart_sees("ses_other", "turn:msg_0"));
  state_free(st);
}

/* The greatest anchor key of a session is kept, marked here or read back by another state
 * (another process): a count continues from it without listing the keys. */
static void test_the_greatest_anchor_of_a_session_is_remembered(void) {
  fresh_dir();
  state *a = state_new(dir);
  CHECK(state_anchor(a, "ses_1") == NULL);
  mark_and_commit(a, "ses_1", STATE_ANCHOR_PREFIX "msg_2#2");
  mark_and_commit(a, "ses_1", STATE_ANCHOR_PREFIX "msg_1#1"); /* an older one changes nothing */
  mark_and_commit(a, "ses_1", "turn:msg_3");
  CHECK_STR(state_anchor(a, "ses_1"), STATE_ANCHOR_PREFIX "msg_2#2");
  CHECK(state_anchor(a, "ses_2") == NULL);
  state *b = state_new(dir);
  state_begin(b, "ses_1");
  CHECK_STR(state_anchor(b, "ses_1"), STATE_ANCHOR_PREFIX "msg_2#2");
  state_commit(b);
  mark_and_commit(a, "ses_1", STATE_ANCHOR_PREFIX "msg_3#3");
  state_begin(b, "ses_1"); /* b reads what a appended since */
  CHECK_STR(state_anchor(b, "ses_1"), STATE_ANCHOR_PREFIX "msg_3#3");
  state_commit(b);
  state_free(b);
  state_free(a);
  state *m = state_new(NULL); /* memory only */
  mark_and_commit(m, "ses_1", STATE_ANCHOR_PREFIX "msg_9#9");
  CHECK_STR(state_anchor(m, "ses_1"), STATE_ANCHOR_PREFIX "msg_9#9");
  state_free(m);
}

int main(void) {
  RUN(test_a_new_session_gets_its_file_from_its_first_record);
  RUN(test_the_greatest_anchor_of_a_session_is_remembered);
  RUN(test_handed_marks_reach_the_file_only_when_recorded);
  RUN(test_marks_recorded_during_a_reconcile_are_still_seen);
  RUN(test_a_restart_remembers_what_was_sent);
  RUN(test_rollback_forgets_pending_marks);
  RUN(test_a_second_process_sees_the_first_ones_marks);
  RUN(test_concurrent_appends_never_interleave);
  RUN(test_reading_never_waits_for_another_process);
  RUN(test_corrupt_file_is_started_afresh);
  RUN(test_torn_last_line_is_ignored_and_appends_still_work);
  RUN(test_hostile_session_ids_stay_inside_the_directory);
  RUN(test_files_are_private);
  RUN(test_a_session_idle_for_a_month_is_still_remembered);
  RUN(test_the_guard_sees_what_another_process_recorded);
  RUN(test_memory_only_state_needs_no_directory);
  RUN(test_many_sessions_stay_bounded_in_memory_and_still_dedup);
  fresh_dir();
  rmdir(dir);
  return check_done();
}
