/* files — shared filesystem chores; see files.h. */
#include "files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

/* One directory: created, or already there (EEXIST, or EACCES on an existing "/home"). */
static int ensure_dir(const char *path) {
  platform_info info;
  if (platform_mkdir(path) == 0 || errno == EEXIST) return 0;
  int saved = errno;
  if (platform_target_info(path, &info) == 0 && info.kind == PLATFORM_DIRECTORY) return 0;
  errno = saved;
  return -1;
}

int files_mkdir_p(const char *path) {
  char *copy = strdup(path);
  if (!copy) return -1;
  /* Every ancestor in turn; one that cannot be made or seen ("C:", "\\\\server", a "/home"
   * we may not list) is no failure unless the directory itself then cannot be made: its error
   * is the first one met on the way. */
  int first_err = 0;
  for (char *p = copy + 1; *p; p++) { /* +1: never mkdir("") for an absolute path */
    if (!platform_is_separator(*p) || platform_is_separator(p[-1])) continue;
    char sep = *p;
    *p = '\0';
    if (ensure_dir(copy) != 0 && !first_err) first_err = errno;
    *p = sep;
  }
  int rc = ensure_dir(copy);
  if (rc != 0 && first_err && errno == ENOENT) errno = first_err;
  free(copy);
  return rc;
}

char *files_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s" PLATFORM_SEP "%s", a, b);
  return out;
}

int files_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    int64_t n = platform_write(fd, p, len);
    if (n <= 0) return -1;
    p += n, len -= (size_t)n;
  }
  return 0;
}
