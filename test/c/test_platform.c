/* Tests for platform.c, the door to the operating system, and for each module that writes or
 * reads through it against symbolic links and FIFOs planted at its paths: nothing outside is
 * written, nothing waits (the whole binary runs under alarm(): a FIFO opened the plain way would
 * hold it forever, and SIGALRM then fails the run), each refusal is logged naming the path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "outcome.h"
#include "platform.h"
#include "spool.h"
#include "state.h"

#define OUTSIDE_TEXT "outside: must stay as it is\n"

static char tmpdir[] = "/tmp/test_platform.XXXXXX";
static char outside[600]; /* a file outside every directory the modules are given */
static char logpath[600]; /* the log of the module tests, read back for their refusals */

static char *slurp(const char *path) {
  static char buf[8192];
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (f) fputs(text, f), fclose(f);
}

static bool outside_untouched(void) {
  const char *s = slurp(outside);
  return s && strcmp(s, OUTSIDE_TEXT) == 0;
}

/* tmpdir/name, in a static buffer of its own per call slot. */
static const char *at(int slot, const char *name) {
  static char paths[4][700];
  snprintf(paths[slot], sizeof paths[slot], "%s/%s", tmpdir, name);
  return paths[slot];
}

static bool log_mentions(const char *a, const char *b) {
  const char *s = slurp(logpath);
  const char *line = s ? strstr(s, a) : NULL;
  return line && strstr(line, b);
}

/* ---- the door ------------------------------------------------------------------------- */

static const int every_use[] = {
    PLATFORM_READ,
    PLATFORM_WRITE,
    PLATFORM_READ | PLATFORM_WRITE,
    PLATFORM_APPEND | PLATFORM_CREATE,
    PLATFORM_READ | PLATFORM_APPEND | PLATFORM_CREATE,
    PLATFORM_WRITE | PLATFORM_CREATE | PLATFORM_TRUNCATE,
    PLATFORM_READ | PLATFORM_WRITE | PLATFORM_CREATE,
    PLATFORM_READ | PLATFORM_NO_ATIME,
};
#define USES (sizeof every_use / sizeof *every_use)

static void test_a_link_at_the_path_is_refused_for_every_use(void) {
  const char *link = at(0, "link");
  CHECK(symlink(outside, link) == 0);
  for (size_t i = 0; i < USES; i++) {
    errno = 0;
    CHECK_INT(platform_open(link, every_use[i]), -1);
    CHECK_INT(errno, ELOOP);
  }
  CHECK(outside_untouched());
  CHECK(strstr(platform_error_text(ELOOP), "symbolic link"));
  unlink(link);
}

static void test_a_dangling_link_is_never_created_through(void) {
  const char *link = at(0, "dangling"), *target = at(1, "would-be-created");
  CHECK(symlink(target, link) == 0);
  CHECK_INT(platform_open(link, PLATFORM_APPEND | PLATFORM_CREATE), -1);
  CHECK(access(target, F_OK) != 0);
  unlink(link);
}

static void test_a_fifo_at_the_path_is_refused_without_waiting(void) {
  const char *fifo = at(0, "fifo");
  CHECK(mkfifo(fifo, 0600) == 0);
  for (size_t i = 0; i < USES; i++) {
    errno = 0;
    CHECK_INT(platform_open(fifo, every_use[i]), -1);
    CHECK_INT(errno, PLATFORM_ENOTFILE);
  }
  CHECK(strstr(platform_error_text(PLATFORM_ENOTFILE), "not a regular file"));
  unlink(fifo);
}

static void test_a_directory_is_refused(void) {
  CHECK_INT(platform_open(tmpdir, PLATFORM_READ), -1);
  CHECK_INT(errno, EISDIR);
}

static void test_a_link_is_followed_only_when_asked(void) {
  const char *link = at(0, "config-link");
  CHECK(symlink(outside, link) == 0);
  int fd = platform_open(link, PLATFORM_READ | PLATFORM_FOLLOW);
  CHECK(fd >= 0);
  char buf[64] = {0};
  CHECK_INT(platform_read(fd, buf, sizeof buf - 1), (long long)strlen(OUTSIDE_TEXT));
  platform_close(fd);
  unlink(link);
}

static void test_an_opened_file_blocks_and_is_closed_on_exec(void) {
  const char *path = at(0, "regular");
  int fd = platform_open(path, PLATFORM_WRITE | PLATFORM_CREATE | PLATFORM_TRUNCATE);
  CHECK(fd >= 0);
  CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600);
  platform_close(fd);
  unlink(path);
}

static void test_exclusive_creation_fails_on_anything_planted(void) {
  const char *link = at(0, "planted");
  CHECK(symlink(outside, link) == 0);
  CHECK_INT(platform_open(link, PLATFORM_WRITE | PLATFORM_CREATE | PLATFORM_EXCLUSIVE), -1);
  CHECK_INT(errno, EEXIST);
  CHECK(outside_untouched());
  unlink(link);
}

static void test_temp_files_are_new_hidden_and_unguessable(void) {
  const char *target = at(0, "target.json");
  char *a = NULL, *b = NULL;
  int fa = platform_create_temp(target, &a), fb = platform_create_temp(target, &b);
  CHECK(fa >= 0 && fb >= 0 && a && b);
  CHECK(a && b && strcmp(a, b) != 0);
  CHECK(a && strncmp(a, at(1, ".target.json."), strlen(at(1, ".target.json."))) == 0);
  CHECK(a && strcmp(a + strlen(a) - 4, ".tmp") == 0);
  platform_close(fa), platform_close(fb);
  if (a) unlink(a);
  if (b) unlink(b);
  free(a), free(b);
}

static void test_replace_swaps_a_planted_link_not_its_target(void) {
  const char *from = at(0, "new"), *to = at(1, "final");
  write_text(from, "new\n");
  CHECK(symlink(outside, to) == 0);
  CHECK_INT(platform_replace(from, to), 0);
  CHECK(outside_untouched());
  CHECK_STR(slurp(to), "new\n");
  unlink(to);
}

static void test_path_info_tells_a_link_from_its_target(void) {
  const char *link = at(0, "info-link");
  CHECK(symlink(outside, link) == 0);
  platform_info a, b;
  CHECK_INT(platform_path_info(link, &a), 0);
  CHECK_INT(platform_target_info(link, &b), 0);
  CHECK_INT(a.kind, PLATFORM_LINK);
  CHECK_INT(b.kind, PLATFORM_FILE);
  CHECK_INT(b.size, (long long)strlen(OUTSIDE_TEXT));
  CHECK(b.mtime_ns > 0 && b.identity != 0);
  unlink(link);
}

static void test_a_lock_excludes_another_descriptor_until_released(void) {
  const char *path = at(0, "locked");
  int a = platform_open(path, PLATFORM_READ | PLATFORM_WRITE | PLATFORM_CREATE);
  int b = platform_open(path, PLATFORM_READ | PLATFORM_WRITE);
  CHECK(a >= 0 && b >= 0);
  CHECK(platform_try_lock(a));
  CHECK(!platform_try_lock(b));
  CHECK_INT(platform_unlock(a), 0);
  CHECK(platform_try_lock(b));
  platform_close(a), platform_close(b);
  unlink(path);
}

static void test_this_process_is_alive_and_a_reaped_one_is_not(void) {
  CHECK(platform_process_alive(platform_process_id()));
  pid_t child = fork();
  if (child == 0) _exit(0);
  int status;
  waitpid(child, &status, 0);
  CHECK(!platform_process_alive((long)child));
}

static void test_the_monotonic_clock_never_goes_back(void) {
  int64_t a = platform_monotonic_ms(), b = platform_monotonic_ms();
  CHECK(b >= a);
  CHECK(platform_realtime_ms() > 1700000000000LL); /* after 2023 */
}

/* ---- the modules through it ----------------------------------------------------------- */

static void test_the_log_refuses_a_link_and_a_fifo(void) {
  const char *link = at(0, "logs/link.log"), *fifo = at(1, "logs/fifo.log");
  mkdir(at(2, "logs"), 0700);
  CHECK(symlink(outside, link) == 0);
  CHECK(mkfifo(fifo, 0600) == 0);
  CHECK_INT(log_open(link), -1);
  log_warn("a line that must not reach the file outside");
  CHECK_INT(log_open(fifo), -1);
  log_warn("nor a FIFO");
  CHECK(outside_untouched());
  CHECK_INT(log_open(logpath), 0);
}

static void test_the_outcome_never_writes_through_planted_links(void) {
  char dir[300], tmp[800], final[800], procs[400];
  snprintf(dir, sizeof dir, "%s/state", tmpdir);
  snprintf(procs, sizeof procs, "%s/processes", dir);
  mkdir(dir, 0700), mkdir(procs, 0700);
  /* the temp name the core used to take (<file>.<pid>.tmp), and the outcome file itself */
  snprintf(tmp, sizeof tmp, "%s/last-export.json.%ld.tmp", dir, (long)getpid());
  snprintf(final, sizeof final, "%s/last-export.json", dir);
  CHECK(symlink(outside, tmp) == 0);
  CHECK(symlink(outside, final) == 0);
  snprintf(tmp, sizeof tmp, "%s/%ld.json.%ld.tmp", procs, (long)getpid(), (long)getpid());
  CHECK(symlink(outside, tmp) == 0);
  outcome_open(dir, "otlp");
  outcome_totals totals = {.requests = 1, .exported = 3};
  outcome_record("http://127.0.0.1:1/v1/traces", 200, NULL, 3, &totals);
  CHECK(outside_untouched());
  struct stat st;
  CHECK(lstat(final, &st) == 0 && S_ISREG(st.st_mode));
  CHECK(strstr(slurp(final), "\"status\":200"));
  outcome_close();
}

static void test_a_fifo_or_a_link_at_a_state_file_is_refused_and_named(void) {
  char dir[700], fifo[800], link[800];
  snprintf(dir, sizeof dir, "%s/sessions", tmpdir);
  mkdir(dir, 0700);
  snprintf(fifo, sizeof fifo, "%s/ses_fifo.state", dir);
  snprintf(link, sizeof link, "%s/ses_link.state", dir);
  CHECK(mkfifo(fifo, 0600) == 0);
  CHECK(symlink(outside, link) == 0);
  state *st = state_new(dir);
  state_begin(st, "ses_fifo"); /* returns: in memory only */
  CHECK_INT(state_mark(st, "ses_fifo", "k1"), 0);
  state_commit(st);
  CHECK(state_seen(st, "ses_fifo", "k1"));
  state_begin(st, "ses_link");
  CHECK_INT(state_mark(st, "ses_link", "k2"), 0);
  uint8_t *marks = NULL;
  size_t len = 0;
  CHECK_INT(state_hand_over(st, &marks, &len), 0);
  CHECK_INT(state_record(st, marks, len), -1); /* never appended through the link */
  free(marks);
  CHECK(state_seen(st, "ses_link", "k2"));
  state_free(st);
  CHECK(outside_untouched());
  CHECK(log_mentions(fifo, "not a regular file"));
  CHECK(log_mentions(link, "a symbolic link"));
}

static void count_record(void *ctx, uint64_t file_id, int64_t born, int kind, uint8_t *data,
                         size_t len) {
  (void)file_id, (void)born, (void)kind, (void)len;
  (*(size_t *)ctx)++;
  free(data);
}

static void test_planted_spool_files_of_a_dead_process_are_refused_and_named(void) {
  char root[700], dead[800], path[900];
  snprintf(root, sizeof root, "%s/spool", tmpdir);
  snprintf(dead, sizeof dead, "%s/999999-deadbeef", root);
  mkdir(root, 0700), mkdir(dead, 0700);
  snprintf(path, sizeof path, "%s/lock", dead);
  CHECK(symlink(outside, path) == 0);
  snprintf(path, sizeof path, "%s/0000000000000001.spool", dead);
  CHECK(symlink(outside, path) == 0);
  snprintf(path, sizeof path, "%s/0000000000000002.spool", dead);
  CHECK(mkfifo(path, 0600) == 0);
  struct timeval old[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
  CHECK(utimes(dead, old) == 0); /* past the grace period of a directory without a lock */
  spool *sp = spool_open(root, false);
  CHECK(sp != NULL);
  size_t records = 0;
  CHECK_INT(spool_load(sp, count_record, &records, NULL, NULL), 0);
  CHECK(outside_untouched());
  CHECK(log_mentions("0000000000000001.spool", "a symbolic link"));
  CHECK(log_mentions("0000000000000002.spool", "not a regular file"));
  /* and it still writes */
  spool_item item = {SPOOL_SPAN, (const uint8_t *)"span", 4};
  CHECK(spool_write(sp, &item, 1, 0) > 0);
  spool_close(sp);
}

int main(void) {
  alarm(120); /* a hang fails the run instead of holding it */
  if (!mkdtemp(tmpdir)) return 1;
  snprintf(outside, sizeof outside, "%s.outside", tmpdir);
  write_text(outside, OUTSIDE_TEXT);
  snprintf(logpath, sizeof logpath, "%s/test.log", tmpdir);
  log_open(logpath);
  RUN(test_a_link_at_the_path_is_refused_for_every_use);
  RUN(test_a_dangling_link_is_never_created_through);
  RUN(test_a_fifo_at_the_path_is_refused_without_waiting);
  RUN(test_a_directory_is_refused);
  RUN(test_a_link_is_followed_only_when_asked);
  RUN(test_an_opened_file_blocks_and_is_closed_on_exec);
  RUN(test_exclusive_creation_fails_on_anything_planted);
  RUN(test_temp_files_are_new_hidden_and_unguessable);
  RUN(test_replace_swaps_a_planted_link_not_its_target);
  RUN(test_path_info_tells_a_link_from_its_target);
  RUN(test_a_lock_excludes_another_descriptor_until_released);
  RUN(test_this_process_is_alive_and_a_reaped_one_is_not);
  RUN(test_the_monotonic_clock_never_goes_back);
  RUN(test_the_log_refuses_a_link_and_a_fifo);
  RUN(test_the_outcome_never_writes_through_planted_links);
  RUN(test_a_fifo_or_a_link_at_a_state_file_is_refused_and_named);
  RUN(test_planted_spool_files_of_a_dead_process_are_refused_and_named);
  log_close();
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf %s %s", tmpdir, outside);
  if (system(cmd) != 0) fprintf(stderr, "cannot clean %s\n", tmpdir);
  return check_done();
}
