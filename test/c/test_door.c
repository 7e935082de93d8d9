/* The door's contract (native/platform.h) as the durability design relies on it, through the
 * door only, so the same tests run on Linux, on Darwin and, built for Windows, under wine:
 * a lock held on one descriptor excludes others and blocks no read or write through another;
 * a file open elsewhere can be replaced and removed, and its reader keeps the old bytes; an
 * append lands at the end whatever else wrote; a positioned read leaves the position alone;
 * paths with non-ASCII names round-trip through the directory listing; the environment comes
 * back as UTF-8. (test_platform.c covers links and FIFOs, with POSIX calls to plant them.) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "files.h"
#include "platform.h"

static char root[512];

/* A variable of the environment in UTF-8 (getenv gives Windows' ANSI code page). */
static const char *env_utf8(const char *name) {
  size_t n = strlen(name);
  for (const char *const *e = platform_environment(); e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

static const char *at(int slot, const char *name) {
  static char paths[4][700];
  snprintf(paths[slot], sizeof paths[slot], "%s/%s", root, name);
  return paths[slot];
}

static int create_with(const char *path, const char *text) {
  int fd =
      platform_open(path, PLATFORM_READ | PLATFORM_WRITE | PLATFORM_CREATE | PLATFORM_TRUNCATE);
  if (fd >= 0) files_write_all(fd, text, strlen(text));
  return fd;
}

static void test_a_lock_excludes_another_descriptor_and_blocks_no_write(void) {
  const char *p = at(0, "locked");
  int holder = create_with(p, "0123456789");
  int other = platform_open(p, PLATFORM_READ | PLATFORM_WRITE);
  CHECK(holder >= 0 && other >= 0);
  CHECK_INT(platform_lock(holder), 0);
  CHECK(!platform_try_lock(other));
  /* the data stays writable and readable through the other descriptor */
  CHECK_INT(platform_write_at(other, "AB", 2, 0), 2);
  char buf[11] = {0};
  CHECK_INT(platform_read_at(other, buf, 10, 0), 10);
  CHECK_STR(buf, "AB23456789");
  CHECK_INT(platform_unlock(holder), 0);
  CHECK(platform_try_lock(other));
  platform_close(other); /* closing releases the lock */
  CHECK(platform_try_lock(holder));
  platform_close(holder);
}

/* wine 8 has no POSIX-semantics rename or delete (FileRenameInfoEx, FileDispositionInfoEx):
 * a file open elsewhere can be neither replaced nor removed by name there. What NTFS does is
 * not checked by any run of these tests yet (docs/platforms.md). */
static bool wine_lacks(const char *what) {
  if (!env_utf8("OAT_TEST_WINE")) return false;
  fprintf(stderr, "  not checked under wine (no POSIX-semantics %s)\n", what);
  return true;
}

static void test_a_file_open_elsewhere_is_replaced_and_its_reader_keeps_the_old_bytes(void) {
  if (wine_lacks("rename")) return;
  const char *target = at(0, "target"), *fresh = at(1, "fresh");
  int reader = create_with(target, "old");
  platform_close(create_with(fresh, "new"));
  CHECK(reader >= 0);
  CHECK_INT(platform_replace(fresh, target), 0);
  char buf[8] = {0};
  CHECK_INT(platform_read_at(reader, buf, sizeof buf - 1, 0), 3);
  CHECK_STR(buf, "old");
  platform_close(reader);
  int now = platform_open(target, PLATFORM_READ);
  memset(buf, 0, sizeof buf);
  CHECK_INT(platform_read(now, buf, sizeof buf - 1), 3);
  CHECK_STR(buf, "new");
  platform_close(now);
  platform_info info;
  CHECK(platform_path_info(fresh, &info) != 0);
}

static void test_a_file_open_elsewhere_can_be_removed(void) {
  if (wine_lacks("delete")) return;
  const char *p = at(0, "doomed");
  int fd = create_with(p, "x");
  CHECK(fd >= 0);
  CHECK_INT(platform_remove(p), 0);
  platform_close(fd);
  platform_info info;
  CHECK(platform_path_info(p, &info) != 0);
  /* and the name can be used again at once */
  int again = create_with(p, "y");
  CHECK(again >= 0);
  platform_close(again);
  platform_remove(p);
}

static void test_appends_land_at_the_end_whatever_else_wrote(void) {
  const char *p = at(0, "appended");
  platform_close(create_with(p, "head\n"));
  int app = platform_open(p, PLATFORM_APPEND);
  int rw = platform_open(p, PLATFORM_READ | PLATFORM_WRITE);
  CHECK(app >= 0 && rw >= 0);
  CHECK_INT(platform_write(app, "one\n", 4), 4);
  CHECK_INT(platform_write_at(rw, "middle\n", 7, 9), 7); /* grows the file elsewhere */
  CHECK_INT(platform_write(app, "two\n", 4), 4);
  char buf[64] = {0};
  CHECK_INT(platform_read_at(rw, buf, sizeof buf - 1, 0), 20);
  CHECK_STR(buf, "head\none\nmiddle\ntwo\n");
  platform_close(app);
  platform_close(rw);
}

static void test_a_positioned_read_leaves_the_position_alone(void) {
  const char *p = at(0, "positions");
  int fd = create_with(p, "abcdef");
  platform_close(fd);
  fd = platform_open(p, PLATFORM_READ);
  char c[3] = {0};
  CHECK_INT(platform_read(fd, c, 2), 2);
  CHECK_STR(c, "ab");
  CHECK_INT(platform_read_at(fd, c, 2, 4), 2);
  CHECK_STR(c, "ef");
  CHECK_INT(platform_read(fd, c, 2), 2);
  CHECK_STR(c, "cd");
  platform_close(fd);
}

static void test_bytes_are_written_as_given_no_text_mode(void) {
  const char *p = at(0, "binary");
  int fd = create_with(p, "a\nb\r\n\x1a"
                          "c");
  platform_info info;
  CHECK_INT(platform_file_info(fd, &info), 0);
  CHECK_INT(info.size, 7);
  CHECK(info.kind == PLATFORM_FILE);
  platform_close(fd);
  FILE *f = platform_read_stream(platform_open(p, PLATFORM_READ));
  char buf[16] = {0};
  CHECK_INT(f ? fread(buf, 1, sizeof buf, f) : 0, 7);
  CHECK(memcmp(buf,
               "a\nb\r\n\x1a"
               "c",
               7) == 0);
  if (f) fclose(f);
}

static void test_non_ascii_names_round_trip(void) {
  const char *dir = at(0, "d\xc3\xb6m-\xd0\x94\xd0\xbe\xd0\xbc-\xe5\xae\xb6"); /* döm-Дом-家 */
  char sub[800];
  snprintf(sub, sizeof sub, "%s/a/b", dir);
  CHECK_INT(files_mkdir_p(sub), 0);
  char file[900];
  snprintf(file, sizeof file, "%s/\xc3\xa9t\xc3\xa9.json", dir); /* été.json */
  platform_close(create_with(file, "{}"));
  platform_info info;
  CHECK_INT(platform_path_info(file, &info), 0);
  CHECK(info.kind == PLATFORM_FILE);
  CHECK_INT(platform_path_info(sub, &info), 0);
  CHECK(info.kind == PLATFORM_DIRECTORY);
  platform_dir *d = platform_dir_open(dir);
  CHECK(d != NULL);
  int seen = 0;
  for (const char *n; d && (n = platform_dir_next(d));)
    seen += strcmp(n, "\xc3\xa9t\xc3\xa9.json") == 0 ? 1 : strcmp(n, "a") == 0 ? 10 : 100;
  platform_dir_close(d);
  CHECK_INT(seen, 11);
}

static void test_identity_follows_the_file_across_a_rename(void) {
  const char *a = at(0, "ident-a"), *b = at(1, "ident-b");
  platform_close(create_with(a, "x"));
  platform_info before, after, other;
  CHECK_INT(platform_path_info(a, &before), 0);
  CHECK_INT(platform_replace(a, b), 0);
  CHECK_INT(platform_path_info(b, &after), 0);
  CHECK(before.identity == after.identity);
  platform_close(create_with(a, "x"));
  CHECK_INT(platform_path_info(a, &other), 0);
  CHECK(other.identity != after.identity);
}

static void test_mtime_is_set_in_whole_seconds(void) {
  const char *p = at(0, "dated");
  int fd = create_with(p, "x");
  CHECK_INT(platform_set_mtime(fd, 1700000000), 0);
  platform_info info;
  CHECK_INT(platform_file_info(fd, &info), 0);
  CHECK_INT(info.mtime_ns / 1000000000, 1700000000);
  platform_close(fd);
}

static void test_the_process_and_clocks(void) {
  CHECK(platform_process_alive(platform_process_id()));
  CHECK(!platform_process_alive(-1));
  int64_t now = platform_realtime_ms();
  CHECK(now > 1700000000000LL); /* after November 2023 */
  int64_t a = platform_monotonic_ms(), b = platform_monotonic_ms();
  CHECK(b >= a);
  unsigned char r1[16] = {0}, r2[16] = {0};
  platform_random(r1, sizeof r1);
  platform_random(r2, sizeof r2);
  CHECK(memcmp(r1, r2, sizeof r1) != 0);
}

static void test_the_environment_is_utf8_and_names_a_home(void) {
  const char *const *env = platform_environment();
  CHECK(env != NULL);
  const char *home = NULL;
  for (size_t v = 0; !home && platform_home_variables[v]; v++) {
    size_t n = strlen(platform_home_variables[v]);
    for (size_t i = 0; env && env[i]; i++)
      if (strncmp(env[i], platform_home_variables[v], n) == 0 && env[i][n] == '=')
        home = env[i] + n + 1;
  }
  CHECK(home != NULL && *home);
  const char *expect = env_utf8("OAT_TEST_HOME_UTF8"); /* set by the runner: the home in UTF-8 */
  if (expect && home) CHECK_STR(home, expect);
}

int main(void) {
  const char *base = env_utf8("OAT_TEST_TMP");
  snprintf(root, sizeof root, "%s/oat-door-%ld-%lld", base ? base : "/tmp", platform_process_id(),
           (long long)platform_realtime_ms());
  if (files_mkdir_p(root) != 0) return 1;
  RUN(test_a_lock_excludes_another_descriptor_and_blocks_no_write);
  RUN(test_a_file_open_elsewhere_is_replaced_and_its_reader_keeps_the_old_bytes);
  RUN(test_a_file_open_elsewhere_can_be_removed);
  RUN(test_appends_land_at_the_end_whatever_else_wrote);
  RUN(test_a_positioned_read_leaves_the_position_alone);
  RUN(test_bytes_are_written_as_given_no_text_mode);
  RUN(test_non_ascii_names_round_trip);
  RUN(test_identity_follows_the_file_across_a_rename);
  RUN(test_mtime_is_set_in_whole_seconds);
  RUN(test_the_process_and_clocks);
  RUN(test_the_environment_is_utf8_and_names_a_home);
  return check_done();
}
