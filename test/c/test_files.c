#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "platform.h"

static char root[64];

static void test_mkdir_p_creates_private_directories_and_accepts_existing_ones(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/a/b/c", root);
  CHECK_INT(files_mkdir_p(path), 0);
  CHECK_INT(files_mkdir_p(path), 0);
  struct stat st;
  CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && MODE_IS(st.st_mode, 0700));
}

static void test_mkdir_p_fails_on_a_file_in_the_way(void) {
  char file[256], path[300];
  snprintf(file, sizeof file, "%s/plain", root);
  close(open(file, O_CREAT | O_WRONLY, 0600));
  snprintf(path, sizeof path, "%s/below", file);
  CHECK_INT(files_mkdir_p(path), -1);
}

static void test_join_and_write_all(void) {
  char *p = files_join(root, "out");
  CHECK(p && strlen(p) == strlen(root) + 4 && strcmp(p + strlen(root), PLATFORM_SEP "out") == 0);
  int fd = open(p, O_CREAT | O_WRONLY, 0600);
  CHECK_INT(files_write_all(fd, "hello", 5), 0);
  close(fd);
  struct stat st;
  CHECK(stat(p, &st) == 0 && st.st_size == 5);
  CHECK_INT(files_write_all(-1, "x", 1), -1);
  free(p);
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/oat-files-XXXXXX");
  if (!mkdtemp(root)) return 1;
  RUN(test_mkdir_p_creates_private_directories_and_accepts_existing_ones);
  RUN(test_mkdir_p_fails_on_a_file_in_the_way);
  RUN(test_join_and_write_all);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  if (system(cmd) != 0) return 1;
  return check_done();
}
