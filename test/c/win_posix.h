/* Tests only: the few POSIX calls the C tests make to set up their files, for the Windows
 * build of the tests (`make -C test/c windows`, force-included with -include; mingw-w64 has
 * the rest: open/read/close/stat/opendir). The core never sees this file: it reaches the
 * system through native/platform.h only. Paths like "/tmp/x" name \tmp on the current drive
 * (Z:\tmp under wine, which is the Linux /tmp). */
#ifndef WIN_POSIX_H
#define WIN_POSIX_H
#ifdef _WIN32

#include <direct.h>
#include <errno.h>
#include <io.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <windows.h>

#undef near
#undef far

/* the core's strndup/memmem under their POSIX names (native/platform.h) */
#include "platform.h"

/* mkdir(path, mode): the mode has no meaning on Windows */
#define mkdir(path, mode) _mkdir(path)

static inline char *win_posix_mkdtemp(char *tmpl) {
  size_t n = strlen(tmpl);
  if (n < 6 || strcmp(tmpl + n - 6, "XXXXXX") != 0) {
    errno = EINVAL;
    return NULL;
  }
  static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int attempt = 0; attempt < 100; attempt++) {
    uint64_t r;
    platform_random(&r, sizeof r);
    for (int i = 0; i < 6; i++, r /= 36) tmpl[n - 6 + i] = letters[r % 36];
    if (_mkdir(tmpl) == 0) return tmpl;
    if (errno != EEXIST) return NULL;
  }
  return NULL;
}
#define mkdtemp win_posix_mkdtemp

/* never root on Windows: the tests that only root could break stay on */
static inline int geteuid(void) { return 1000; }

static inline int win_posix_utimes(const char *path, const struct timeval tv[2]) {
  int fd = platform_open(path, PLATFORM_WRITE);
  if (fd < 0) return -1;
  int rc = platform_set_mtime(fd, (int64_t)tv[1].tv_sec);
  platform_close(fd);
  return rc;
}
#define utimes win_posix_utimes

static inline long win_posix_pwrite(int fd, const void *buf, size_t n, int64_t off) {
  __int64 at = _lseeki64(fd, 0, SEEK_CUR);
  if (_lseeki64(fd, off, SEEK_SET) < 0) return -1;
  int w = _write(fd, buf, (unsigned)n);
  _lseeki64(fd, at, SEEK_SET);
  return w;
}
#define pwrite win_posix_pwrite

#endif
#endif
