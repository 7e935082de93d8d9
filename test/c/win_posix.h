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
#include <fcntl.h>
#include <io.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <winsock2.h>
/* winsock2.h before windows.h */
#include <windows.h>

#undef near
#undef far

/* the core's strndup/memmem under their POSIX names (native/platform.h) */
#include "platform.h"

/* Files the tests open() are bytes, as on POSIX: binary mode for every descriptor, not text
 * (which turns "\n" into "\r\n": a spool header written so no longer reads as ours). */
__attribute__((constructor)) static void win_posix_binary_files(void) { _fmode = _O_BINARY; }

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

/* utimes on a file or a directory (the spool's age tests age directories) */
static inline int win_posix_utimes(const char *path, const struct timeval tv[2]) {
  HANDLE h = CreateFileA(path, FILE_WRITE_ATTRIBUTES,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                         OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
  if (h == INVALID_HANDLE_VALUE) return -1;
  int64_t t = (int64_t)tv[1].tv_sec * 10000000 + 116444736000000000LL;
  FILETIME ft = {.dwLowDateTime = (DWORD)t, .dwHighDateTime = (DWORD)((uint64_t)t >> 32)};
  BOOL ok = SetFileTime(h, NULL, &ft, &ft);
  CloseHandle(h);
  return ok ? 0 : -1;
}
#define utimes win_posix_utimes

/* pread/pwrite at an offset, in binary mode (a descriptor from open() starts in text mode) */
static inline long win_posix_pread(int fd, void *buf, size_t n, int64_t off) {
  _setmode(fd, _O_BINARY);
  __int64 at = _lseeki64(fd, 0, SEEK_CUR);
  if (_lseeki64(fd, off, SEEK_SET) < 0) return -1;
  int r = _read(fd, buf, (unsigned)n);
  _lseeki64(fd, at, SEEK_SET);
  return r;
}
#define pread win_posix_pread

static inline long win_posix_pwrite(int fd, const void *buf, size_t n, int64_t off) {
  _setmode(fd, _O_BINARY);
  __int64 at = _lseeki64(fd, 0, SEEK_CUR);
  if (_lseeki64(fd, off, SEEK_SET) < 0) return -1;
  int w = _write(fd, buf, (unsigned)n);
  _lseeki64(fd, at, SEEK_SET);
  return w;
}
#define pwrite win_posix_pwrite

/* system("rm -rf A B/..."): the one shell command the tests run, to clean up (there is no rm
 * under wine's cmd.exe). Anything else is refused. */
static inline int win_posix_remove_tree(const char *path, bool keep_top) {
  platform_info info;
  if (platform_path_info(path, &info) != 0) return 0;
  if (info.kind != PLATFORM_DIRECTORY) return platform_remove(path);
  platform_dir *d = platform_dir_open(path);
  int rc = 0;
  for (const char *n; d && (n = platform_dir_next(d));) {
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/%s", path, n);
    rc |= win_posix_remove_tree(sub, false);
  }
  platform_dir_close(d);
  return keep_top ? rc : rc | platform_remove_dir(path);
}

static inline int win_posix_system(const char *cmd) {
  if (strncmp(cmd, "rm -rf ", 7) != 0) return -1;
  char args[2048];
  snprintf(args, sizeof args, "%s", cmd + 7);
  int rc = 0;
  for (char *a = strtok(args, " "); a; a = strtok(NULL, " ")) {
    size_t n = strlen(a);
    bool contents = n >= 2 && strcmp(a + n - 2, "/*") == 0;
    if (contents) a[n - 2] = '\0';
    rc |= win_posix_remove_tree(a, contents);
  }
  return rc ? 1 : 0;
}
#define system win_posix_system

#endif
#endif
