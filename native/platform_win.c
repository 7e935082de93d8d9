/* platform — the Windows half (see platform.h; the POSIX half is platform.c). Compiled on
 * every system, empty but on Windows.
 *
 * Paths arrive in UTF-8 and go to the wide-character (UTF-16) calls, so a user profile named
 * in any script works (the narrow C runtime calls use the ANSI code page). A file is a C
 * runtime descriptor around a handle from CreateFileW, shared for reading, writing AND
 * deletion: a file another process (or another descriptor of ours) holds open can still be
 * replaced or removed, as on POSIX. Reads and writes go to the handle itself (the C runtime's
 * text mode and its append emulation are never involved).
 *
 * What POSIX gives and Windows does not, and what stands in:
 *   flock            Windows locks are mandatory and per handle: a lock on data would block
 *                    the writes that state.c and spool.c make through a second descriptor
 *                    while holding the lock on the first. The lock is one byte at 2^62, far
 *                    past any end of file: it excludes other lockers and blocks no I/O.
 *   rename over      a POSIX-semantics rename (SetFileInformationByHandle, FileRenameInfoEx:
 *                    Windows 10 1709+, NTFS), which replaces a target open elsewhere with
 *                    FILE_SHARE_DELETE (all of ours); else MoveFileExW(REPLACE_EXISTING |
 *                    WRITE_THROUGH), which fails while the target is open. A scanner or indexer
 *                    holding it without FILE_SHARE_DELETE is waited for a little.
 *   O_APPEND         a handle with FILE_APPEND_DATA and no FILE_WRITE_DATA: every WriteFile
 *                    lands at the end, atomically, as with O_APPEND.
 *   O_NOFOLLOW       FILE_FLAG_OPEN_REPARSE_POINT, then a symbolic link or junction at the
 *                    path (a name-surrogate reparse point) is refused with ELOOP.
 *   fsync            FlushFileBuffers. A directory cannot be flushed: platform_sync_dir does
 *                    nothing (NTFS journals its metadata; a rename is durable once the
 *                    journal is, which MOVEFILE_WRITE_THROUGH asks for).
 *   kill(pid, 0)     OpenProcess + a zero wait on the process handle.
 *   0600 / 0700      nothing: new files and directories inherit the ACL of the user profile
 *                    they live in.
 */
#include "platform.h"

#ifdef _WIN32

#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00 /* Windows 10: what Node and Bun need anyway */
#endif

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
/* winsock2.h before windows.h */
#include <windows.h>
#include <bcrypt.h>

#undef near
#undef far

/* FileRenameInfoEx, which mingw-w64 10 names only for _WIN32_WINNT >= 0x0A000002 */
#define RENAME_INFO_EX ((FILE_INFO_BY_HANDLE_CLASS)22)
#define DISPOSITION_INFO_EX ((FILE_INFO_BY_HANDLE_CLASS)21) /* FileDispositionInfoEx, likewise */

/* 1601-01-01 to 1970-01-01 in 100 ns units. */
#define EPOCH_DIFF_100NS 116444736000000000LL
#define LOCK_OFFSET (1ULL << 62)

/* ---- errors, paths ------------------------------------------------------------------------ */

static int errno_from(DWORD e) {
  switch (e) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
  case ERROR_INVALID_DRIVE:
  case ERROR_BAD_NETPATH:
  case ERROR_BAD_NET_NAME:
  case ERROR_DELETE_PENDING: return ENOENT;
  case ERROR_ACCESS_DENIED:
  case ERROR_SHARING_VIOLATION:
  case ERROR_LOCK_VIOLATION:
  case ERROR_WRITE_PROTECT:
  case ERROR_PRIVILEGE_NOT_HELD: return EACCES;
  case ERROR_FILE_EXISTS:
  case ERROR_ALREADY_EXISTS: return EEXIST;
  case ERROR_DISK_FULL:
  case ERROR_HANDLE_DISK_FULL: return ENOSPC;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY: return ENOMEM;
  case ERROR_INVALID_NAME:
  case ERROR_INVALID_PARAMETER:
  case ERROR_BAD_PATHNAME:
  case ERROR_FILENAME_EXCED_RANGE: return EINVAL;
  case ERROR_DIR_NOT_EMPTY: return ENOTEMPTY;
  case ERROR_DIRECTORY: return ENOTDIR;
  case ERROR_CANT_RESOLVE_FILENAME: return ELOOP;
  case ERROR_INVALID_HANDLE: return EBADF;
  case ERROR_TOO_MANY_OPEN_FILES: return EMFILE;
  case ERROR_NOT_SUPPORTED: return ENOTSUP;
  default: return EIO;
  }
}

static int fail(void) {
  errno = errno_from(GetLastError());
  return -1;
}

/* UTF-8 to a malloc'd UTF-16 string; NULL with errno set (EINVAL for invalid UTF-8). */
static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0) {
    errno = EINVAL;
    return NULL;
  }
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (!w) {
    errno = ENOMEM;
    return NULL;
  }
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
  return w;
}

/* UTF-16 (len code units, or -1: NUL-terminated) to a malloc'd UTF-8 string, or NULL. */
static char *narrow(const wchar_t *w, int len) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, len, NULL, 0, NULL, NULL);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) return NULL;
  WideCharToMultiByte(CP_UTF8, 0, w, len, s, n, NULL, NULL);
  s[n] = '\0';
  return s;
}

bool platform_is_separator(char c) { return c == '/' || c == '\\'; }

const char *platform_last_separator(const char *path) {
  const char *last = NULL;
  for (const char *p = path; *p; p++)
    if (*p == '/' || *p == '\\') last = p;
  return last;
}

static HANDLE handle_of(int fd) {
  intptr_t h = _get_osfhandle(fd);
  return h == -1 ? INVALID_HANDLE_VALUE : (HANDLE)h;
}

static int64_t filetime_ns(FILETIME ft) {
  int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
  return (t - EPOCH_DIFF_100NS) * 100;
}

/* Whether a reparse point is a link to elsewhere (symbolic link, junction), by its tag. */
static bool is_link_tag(DWORD tag) { return IsReparseTagNameSurrogate(tag); }

static DWORD reparse_tag(HANDLE h) {
  FILE_ATTRIBUTE_TAG_INFO tag;
  if (!GetFileInformationByHandleEx(h, FileAttributeTagInfo, &tag, sizeof tag)) return 0;
  return (tag.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ? tag.ReparseTag : 0;
}

static void fill_info(const BY_HANDLE_FILE_INFORMATION *fi, DWORD tag, platform_info *out) {
  DWORD a = fi->dwFileAttributes;
  out->kind = (tag && is_link_tag(tag))        ? PLATFORM_LINK
              : (a & FILE_ATTRIBUTE_DIRECTORY) ? PLATFORM_DIRECTORY
                                               : PLATFORM_FILE;
  out->size = (int64_t)(((uint64_t)fi->nFileSizeHigh << 32) | fi->nFileSizeLow);
  out->mtime_ns = filetime_ns(fi->ftLastWriteTime);
  out->identity = ((uint64_t)fi->nFileIndexHigh << 32 | fi->nFileIndexLow) ^
                  ((uint64_t)fi->dwVolumeSerialNumber << 48);
  out->permissions = 0600;
}

/* ---- files -------------------------------------------------------------------------------- */

static HANDLE create(const wchar_t *w, DWORD access, DWORD disposition, DWORD flags) {
  return CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                     disposition, FILE_ATTRIBUTE_NORMAL | flags, NULL);
}

/* What the open handle is: 0 when a regular file we may use, else errno's value. */
static int check_opened(HANDLE h, int flags, bool *reopen_following) {
  *reopen_following = false;
  if (GetFileType(h) != FILE_TYPE_DISK) return PLATFORM_ENOTFILE; /* a pipe, console, NUL */
  BY_HANDLE_FILE_INFORMATION fi;
  if (!GetFileInformationByHandle(h, &fi)) return errno_from(GetLastError());
  if (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) return EISDIR;
  if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
    DWORD tag = reparse_tag(h);
    if (is_link_tag(tag)) return (flags & PLATFORM_FOLLOW) ? 0 : ELOOP;
    *reopen_following = true; /* another kind (a cloud placeholder, dedup): open its data */
  }
  return 0;
}

int platform_open(const char *path, int flags) {
  wchar_t *w = wide(path);
  if (!w) return -1;
  bool writes = flags & (PLATFORM_WRITE | PLATFORM_APPEND);
  DWORD access = FILE_READ_ATTRIBUTES | SYNCHRONIZE;
  if (flags & PLATFORM_READ || !writes) access |= GENERIC_READ;
  if (flags & PLATFORM_APPEND)
    access |= FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA | READ_CONTROL;
  else if (writes) access |= GENERIC_WRITE;
  DWORD disposition = OPEN_EXISTING;
  if (flags & PLATFORM_CREATE)
    disposition = (flags & PLATFORM_EXCLUSIVE) ? CREATE_NEW : OPEN_ALWAYS;
  /* A link is opened as itself (and refused below) unless it is to be followed. */
  DWORD no_follow = (flags & PLATFORM_FOLLOW) ? 0 : FILE_FLAG_OPEN_REPARSE_POINT;
  HANDLE h = create(w, access, disposition, no_follow);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    DWORD attrs = GetFileAttributesW(w);
    free(w);
    /* CreateFileW opens no directory without FILE_FLAG_BACKUP_SEMANTICS: ACCESS_DENIED */
    if (e == ERROR_ACCESS_DENIED && attrs != INVALID_FILE_ATTRIBUTES &&
        (attrs & FILE_ATTRIBUTE_DIRECTORY))
      errno = (attrs & FILE_ATTRIBUTE_REPARSE_POINT) && !(flags & PLATFORM_FOLLOW) ? ELOOP : EISDIR;
    else errno = errno_from(e);
    return -1;
  }
  bool reopen = false;
  int err = check_opened(h, flags, &reopen);
  if (!err && reopen) {
    CloseHandle(h);
    h = create(w, access, OPEN_EXISTING, 0);
    if (h == INVALID_HANDLE_VALUE) err = errno_from(GetLastError());
    else if (GetFileType(h) != FILE_TYPE_DISK) err = PLATFORM_ENOTFILE;
  }
  free(w);
  if (!err && (flags & PLATFORM_TRUNCATE)) {
    FILE_END_OF_FILE_INFO eof = {.EndOfFile.QuadPart = 0};
    if (!SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof eof))
      err = errno_from(GetLastError());
  }
  int fd = -1;
  if (!err) {
    fd = _open_osfhandle((intptr_t)h, (writes ? 0 : _O_RDONLY) | _O_BINARY | _O_NOINHERIT);
    if (fd < 0) err = errno ? errno : EMFILE;
  }
  if (err) {
    if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
    errno = err;
    return -1;
  }
  return fd;
}

int platform_close(int fd) {
  HANDLE h = handle_of(fd);
  if (h != INVALID_HANDLE_VALUE) { /* released now, not whenever the system gets to it */
    OVERLAPPED ov = {.Offset = (DWORD)LOCK_OFFSET, .OffsetHigh = (DWORD)(LOCK_OFFSET >> 32)};
    UnlockFileEx(h, 0, 1, 0, &ov);
  }
  return _close(fd);
}

int64_t platform_read(int fd, void *buf, size_t len) {
  HANDLE h = handle_of(fd);
  DWORD got = 0;
  if (len > 0x40000000) len = 0x40000000;
  if (!ReadFile(h, buf, (DWORD)len, &got, NULL)) {
    if (GetLastError() == ERROR_HANDLE_EOF || GetLastError() == ERROR_BROKEN_PIPE) return 0;
    return fail();
  }
  return got;
}

int64_t platform_write(int fd, const void *buf, size_t len) {
  HANDLE h = handle_of(fd);
  DWORD put = 0;
  if (len > 0x40000000) len = 0x40000000;
  if (!WriteFile(h, buf, (DWORD)len, &put, NULL)) return fail();
  return put;
}

/* A synchronous handle's position moves with an OVERLAPPED offset: put it back after. */
static int64_t transfer_at(int fd, void *buf, size_t len, int64_t offset, bool write) {
  HANDLE h = handle_of(fd);
  LARGE_INTEGER zero = {0}, pos;
  bool have_pos = SetFilePointerEx(h, zero, &pos, FILE_CURRENT);
  OVERLAPPED ov = {.Offset = (DWORD)offset, .OffsetHigh = (DWORD)((uint64_t)offset >> 32)};
  DWORD n = 0;
  if (len > 0x40000000) len = 0x40000000;
  BOOL ok = write ? WriteFile(h, buf, (DWORD)len, &n, &ov) : ReadFile(h, buf, (DWORD)len, &n, &ov);
  DWORD e = GetLastError();
  if (have_pos) SetFilePointerEx(h, pos, NULL, FILE_BEGIN);
  if (!ok) {
    if (!write && e == ERROR_HANDLE_EOF) return 0;
    errno = errno_from(e);
    return -1;
  }
  return n;
}

int64_t platform_read_at(int fd, void *buf, size_t len, int64_t offset) {
  return transfer_at(fd, buf, len, offset, false);
}

int64_t platform_write_at(int fd, const void *buf, size_t len, int64_t offset) {
  return transfer_at(fd, (void *)buf, len, offset, true);
}

int platform_truncate(int fd, int64_t size) {
  FILE_END_OF_FILE_INFO eof = {.EndOfFile.QuadPart = size};
  return SetFileInformationByHandle(handle_of(fd), FileEndOfFileInfo, &eof, sizeof eof) ? 0
                                                                                        : fail();
}

int platform_sync_file(int fd) { return FlushFileBuffers(handle_of(fd)) ? 0 : fail(); }

/* Windows cannot flush a directory (see the top of this file). */
void platform_sync_dir(const char *path) { (void)path; }

int platform_set_mtime(int fd, int64_t sec) {
  int64_t t = sec * 10000000 + EPOCH_DIFF_100NS;
  FILETIME ft = {.dwLowDateTime = (DWORD)t, .dwHighDateTime = (DWORD)((uint64_t)t >> 32)};
  return SetFileTime(handle_of(fd), NULL, &ft, &ft) ? 0 : fail();
}

FILE *platform_read_stream(int fd) {
  FILE *f = _fdopen(fd, "rb");
  if (!f) {
    int saved = errno;
    platform_close(fd);
    errno = saved;
  }
  return f;
}

/* ---- what is at a path -------------------------------------------------------------------- */

int platform_file_info(int fd, platform_info *out) {
  HANDLE h = handle_of(fd);
  BY_HANDLE_FILE_INFORMATION fi;
  if (!GetFileInformationByHandle(h, &fi)) return fail();
  fill_info(&fi, 0, out);
  return 0;
}

static int info_at(const char *path, platform_info *out, bool follow) {
  wchar_t *w = wide(path);
  if (!w) return -1;
  /* BACKUP_SEMANTICS opens directories too; no access right beyond reading attributes */
  HANDLE h =
      CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                  NULL, OPEN_EXISTING,
                  FILE_FLAG_BACKUP_SEMANTICS | (follow ? 0 : FILE_FLAG_OPEN_REPARSE_POINT), NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) return fail();
  BY_HANDLE_FILE_INFORMATION fi;
  int rc = 0;
  if (GetFileType(h) != FILE_TYPE_DISK) {
    memset(out, 0, sizeof *out);
    out->kind = PLATFORM_OTHER;
  } else if (GetFileInformationByHandle(h, &fi)) {
    fill_info(&fi, follow ? 0 : reparse_tag(h), out);
  } else {
    rc = fail();
  }
  CloseHandle(h);
  return rc;
}

int platform_path_info(const char *path, platform_info *out) { return info_at(path, out, false); }

int platform_target_info(const char *path, platform_info *out) { return info_at(path, out, true); }

/* ---- names in directories ----------------------------------------------------------------- */

int platform_mkdir(const char *path) {
  wchar_t *w = wide(path);
  if (!w) return -1;
  BOOL ok = CreateDirectoryW(w, NULL);
  free(w);
  return ok ? 0 : fail();
}

/* POSIX semantics (Windows 10 1709+, NTFS): the name goes at once, even while another process
 * holds the file open with FILE_SHARE_DELETE, so its directory can be removed and the name
 * reused; else DeleteFileW, which leaves the name until the last handle closes. A link is
 * removed itself (FILE_FLAG_OPEN_REPARSE_POINT), never what it names. */
static bool delete_posix(const wchar_t *w) {
  HANDLE h = CreateFileW(w, DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                         OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, NULL);
  if (h == INVALID_HANDLE_VALUE) return false;
  FILE_DISPOSITION_INFO_EX info = {FILE_DISPOSITION_FLAG_DELETE |
                                   FILE_DISPOSITION_FLAG_POSIX_SEMANTICS};
  BOOL ok = SetFileInformationByHandle(h, DISPOSITION_INFO_EX, &info, sizeof info);
  DWORD e = GetLastError();
  CloseHandle(h);
  SetLastError(e);
  return ok;
}

int platform_remove(const char *path) {
  wchar_t *w = wide(path);
  if (!w) return -1;
  BOOL ok = delete_posix(w) || DeleteFileW(w);
  free(w);
  return ok ? 0 : fail();
}

int platform_remove_dir(const char *path) {
  wchar_t *w = wide(path);
  if (!w) return -1;
  BOOL ok = RemoveDirectoryW(w);
  free(w);
  return ok ? 0 : fail();
}

/* The rename of POSIX: the target replaced even while another process holds it open (with
 * FILE_SHARE_DELETE, as all of ours are), the holder keeping the old file. Windows 10 1709+ on
 * NTFS; false (the reason in GetLastError) elsewhere. */
static bool rename_posix(const wchar_t *from, const wchar_t *to) {
  HANDLE h = CreateFileW(
      from, DELETE | SYNCHRONIZE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
      OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
  if (h == INVALID_HANDLE_VALUE) return false;
  wchar_t full[MAX_PATH * 4];
  DWORD n = GetFullPathNameW(to, sizeof full / sizeof full[0], full, NULL);
  size_t size = sizeof(FILE_RENAME_INFO) + (size_t)n * sizeof(wchar_t);
  FILE_RENAME_INFO *info = n && n < sizeof full / sizeof full[0] ? calloc(1, size) : NULL;
  BOOL ok = FALSE;
  if (info) {
    info->Flags = FILE_RENAME_FLAG_REPLACE_IF_EXISTS | FILE_RENAME_FLAG_POSIX_SEMANTICS;
    info->FileNameLength = n * sizeof(wchar_t);
    memcpy(info->FileName, full, (size_t)n * sizeof(wchar_t));
    ok = SetFileInformationByHandle(h, RENAME_INFO_EX, info, (DWORD)size);
  } else {
    SetLastError(ERROR_NOT_ENOUGH_MEMORY);
  }
  DWORD e = GetLastError();
  free(info);
  CloseHandle(h);
  SetLastError(e);
  return ok;
}

int platform_replace(const char *from, const char *to) {
  wchar_t *wf = wide(from), *wt = wf ? wide(to) : NULL;
  if (!wt) {
    free(wf);
    return -1;
  }
  BOOL ok = FALSE;
  DWORD e = 0;
  /* A virus scanner or the search indexer may hold the target for a moment without
   * FILE_SHARE_DELETE: a few short waits (31 ms at most), then the failure is reported. */
  for (int attempt = 0; attempt < 6; attempt++) {
    if (attempt) Sleep(1u << (attempt - 1));
    ok = rename_posix(wf, wt);
    if (!ok) /* no POSIX rename here (FAT, a network share, older Windows): the classic one */
      ok = MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);
    if (ok) break;
    e = GetLastError();
    if (e != ERROR_ACCESS_DENIED && e != ERROR_SHARING_VIOLATION) break;
  }
  free(wf);
  free(wt);
  if (!ok) {
    errno = errno_from(e);
    return -1;
  }
  return 0;
}

struct platform_dir {
  HANDLE find;
  WIN32_FIND_DATAW data;
  bool pending; /* data holds an entry not yet returned */
  char *name;   /* the last name returned, UTF-8 */
};

platform_dir *platform_dir_open(const char *path) {
  size_t n = strlen(path);
  char *pattern = malloc(n + 3);
  if (!pattern) {
    errno = ENOMEM;
    return NULL;
  }
  memcpy(pattern, path, n);
  size_t at = n;
  if (n > 0 && !platform_is_separator(path[n - 1])) pattern[at++] = '\\';
  pattern[at++] = '*';
  pattern[at] = '\0';
  wchar_t *w = wide(pattern);
  free(pattern);
  if (!w) return NULL;
  platform_dir *d = calloc(1, sizeof *d);
  if (!d) {
    free(w);
    errno = ENOMEM;
    return NULL;
  }
  d->find = FindFirstFileExW(w, FindExInfoBasic, &d->data, FindExSearchNameMatch, NULL, 0);
  DWORD e = GetLastError();
  free(w);
  if (d->find == INVALID_HANDLE_VALUE) {
    if (e == ERROR_FILE_NOT_FOUND) { /* an empty directory (no "." on some file systems) */
      d->pending = false;
      return d;
    }
    free(d);
    errno = errno_from(e);
    return NULL;
  }
  d->pending = true;
  return d;
}

const char *platform_dir_next(platform_dir *d) {
  while (d->find != INVALID_HANDLE_VALUE) {
    if (!d->pending && !FindNextFileW(d->find, &d->data)) return NULL;
    d->pending = false;
    const wchar_t *n = d->data.cFileName;
    if (wcscmp(n, L".") == 0 || wcscmp(n, L"..") == 0) continue;
    free(d->name);
    d->name = narrow(n, -1);
    if (d->name) return d->name;
  }
  return NULL;
}

void platform_dir_close(platform_dir *d) {
  if (!d) return;
  if (d->find != INVALID_HANDLE_VALUE) FindClose(d->find);
  free(d->name);
  free(d);
}

/* ---- locks -------------------------------------------------------------------------------- */

static bool lock_byte(int fd, DWORD how) {
  OVERLAPPED ov = {.Offset = (DWORD)LOCK_OFFSET, .OffsetHigh = (DWORD)(LOCK_OFFSET >> 32)};
  return LockFileEx(handle_of(fd), LOCKFILE_EXCLUSIVE_LOCK | how, 0, 1, 0, &ov);
}

int platform_lock(int fd) { return lock_byte(fd, 0) ? 0 : fail(); }

bool platform_try_lock(int fd) {
  if (lock_byte(fd, LOCKFILE_FAIL_IMMEDIATELY)) return true;
  DWORD e = GetLastError();
  errno = (e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING) ? EWOULDBLOCK : errno_from(e);
  return false;
}

int platform_unlock(int fd) {
  OVERLAPPED ov = {.Offset = (DWORD)LOCK_OFFSET, .OffsetHigh = (DWORD)(LOCK_OFFSET >> 32)};
  return UnlockFileEx(handle_of(fd), 0, 1, 0, &ov) ? 0 : fail();
}

/* ---- processes, clocks, randomness -------------------------------------------------------- */

long platform_process_id(void) { return (long)GetCurrentProcessId(); }

bool platform_process_alive(long pid) {
  if (pid <= 0) return false;
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, (DWORD)pid);
  if (!h) return GetLastError() == ERROR_ACCESS_DENIED; /* there, but not ours to query */
  bool alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  CloseHandle(h);
  return alive;
}

int64_t platform_monotonic_ms(void) {
  static LARGE_INTEGER freq; /* fixed at boot: a benign race sets it to the same value */
  LARGE_INTEGER now;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&now);
  return (int64_t)(now.QuadPart / freq.QuadPart * 1000 +
                   now.QuadPart % freq.QuadPart * 1000 / freq.QuadPart);
}

int64_t platform_realtime_ms(void) {
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  return filetime_ns(ft) / 1000000;
}

/* GetTickCount64 never steps and counts a suspend (10-16 ms resolution: enough for ages). */
int64_t platform_steady_ms(void) { return (int64_t)GetTickCount64(); }

/* Windows names no boot: zeros (ages then go by the wall clock across processes, spool.h). */
void platform_boot_id(uint8_t out[16]) { memset(out, 0, 16); }

/* winpthreads' timed waits run on the wall clock (as on Darwin). */
void platform_cond_init(pthread_cond_t *cond) { pthread_cond_init(cond, NULL); }

struct timespec platform_cond_deadline(long ms) {
  int64_t at = platform_realtime_ms() + ms;
  return (struct timespec){.tv_sec = (time_t)(at / 1000), .tv_nsec = (long)(at % 1000) * 1000000L};
}

void platform_random(void *buf, size_t len) {
  if (len <= ULONG_MAX &&
      BCRYPT_SUCCESS(BCryptGenRandom(NULL, buf, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
    return;
  /* Not expected: a mix of the clocks, the process and a counter. */
  static LONG counter;
  LARGE_INTEGER qpc;
  QueryPerformanceCounter(&qpc);
  uint64_t x = (uint64_t)platform_realtime_ms() * 1000000007u ^ (uint64_t)qpc.QuadPart << 20 ^
               (uint64_t)GetCurrentProcessId() << 40 ^ (uint64_t)InterlockedIncrement(&counter);
  for (size_t i = 0; i < len; i++) {
    x ^= x >> 33, x *= 0xff51afd7ed558ccdULL, x ^= x >> 29;
    ((unsigned char *)buf)[i] = (unsigned char)(x >> 24);
  }
}

/* USERPROFILE is what Node's and Bun's os.homedir() read on Windows (and so OpenCode and our
 * CLI); HOME when a Unix-like shell set only that. */
const char *const platform_home_variables[] = {"USERPROFILE", "HOME", NULL};

/* One UTF-8 copy of the environment block per version of it. Node sets variables with
 * SetEnvironmentVariableW (not the C runtime's environ), so the block is the truth. */
typedef struct env_copy {
  struct env_copy *older;
  wchar_t *block; /* the wide block it was made from, to notice a change */
  size_t block_len;
  char **entries;
} env_copy;

static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static env_copy *env_latest;

static env_copy *env_copy_new(const wchar_t *block, size_t block_len) {
  env_copy *c = calloc(1, sizeof *c);
  size_t count = 0;
  for (const wchar_t *p = block; *p; p += wcslen(p) + 1) count++;
  if (!c || !(c->block = malloc(block_len * sizeof(wchar_t))) ||
      !(c->entries = calloc(count + 1, sizeof(char *)))) {
    if (c) free(c->block);
    free(c);
    return NULL;
  }
  memcpy(c->block, block, block_len * sizeof(wchar_t));
  c->block_len = block_len;
  size_t i = 0;
  for (const wchar_t *p = block; *p; p += wcslen(p) + 1) {
    if (*p == L'=') continue; /* "=C:=C:\\dir": the shell's per-drive directories */
    char *e = narrow(p, -1);
    if (e) c->entries[i++] = e;
  }
  return c;
}

const char *const *platform_environment(void) {
  static const char *const empty[] = {NULL};
  wchar_t *block = GetEnvironmentStringsW();
  if (!block) return env_latest ? (const char *const *)env_latest->entries : empty;
  size_t len = 0;
  while (block[len] || block[len + 1]) len++;
  len += 2;
  pthread_mutex_lock(&env_lock);
  if (!env_latest || env_latest->block_len != len ||
      memcmp(env_latest->block, block, len * sizeof(wchar_t)) != 0) {
    env_copy *c = env_copy_new(block, len);
    if (c) {
      c->older = env_latest;
      env_latest = c;
    }
  }
  const char *const *out = env_latest ? (const char *const *)env_latest->entries : empty;
  pthread_mutex_unlock(&env_lock);
  FreeEnvironmentStringsW(block);
  return out;
}

/* ---- sockets ------------------------------------------------------------------------------ */

static pthread_once_t wsa_once = PTHREAD_ONCE_INIT;
static void wsa_start(void) {
  WSADATA data;
  WSAStartup(MAKEWORD(2, 2), &data);
}

platform_socket platform_socket_open(int family, int type, int protocol) {
  pthread_once(&wsa_once, wsa_start);
  SOCKET s =
      WSASocketW(family, type, protocol, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  return s == INVALID_SOCKET ? PLATFORM_NO_SOCKET : (platform_socket)s;
}

void platform_socket_shutdown(platform_socket s) { shutdown((SOCKET)s, SD_BOTH); }

/* The DNS host name, as gethostname gives it on POSIX; UTF-8, cut to fit. */
void platform_hostname(char *out, size_t size) {
  wchar_t wide[256];
  DWORD n = sizeof wide / sizeof wide[0];
  if (size == 0) return;
  out[0] = '\0';
  if (!GetComputerNameExW(ComputerNameDnsHostname, wide, &n)) return;
  if (WideCharToMultiByte(CP_UTF8, 0, wide, -1, out, (int)(size > INT_MAX ? INT_MAX : size), NULL,
                          NULL) == 0)
    out[0] = '\0';
  out[size - 1] = '\0';
}

/* SetThreadDescription exists from Windows 10 1607 on: looked up, so older systems still load. */
void platform_thread_name(const char *name) {
  typedef HRESULT(WINAPI * set_description)(HANDLE, PCWSTR);
  HMODULE kernel = GetModuleHandleW(L"kernel32.dll");
  set_description set =
      kernel ? (set_description)(void (*)(void))GetProcAddress(kernel, "SetThreadDescription")
             : NULL;
  wchar_t wide[64];
  if (!set || MultiByteToWideChar(CP_UTF8, 0, name, -1, wide, 64) == 0) return;
  set(GetCurrentThread(), wide);
}

int platform_socket_close(platform_socket s) { return closesocket((SOCKET)s) == 0 ? 0 : -1; }

/* ---- shared libraries ------------------------------------------------------------------- */

void *platform_library_open(const char *const *names, char *err, size_t cap) {
  if (cap) err[0] = '\0';
  for (size_t i = 0; names[i]; i++) {
    /* the system's directories only: never a DLL planted in the working directory */
    HMODULE lib = LoadLibraryExA(names[i], NULL, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    if (lib) return (void *)lib;
    if (i == 0 && cap) snprintf(err, cap, "%s: error %lu", names[i], (unsigned long)GetLastError());
  }
  return NULL;
}

void (*platform_library_function(void *lib, const char *name))(void) {
  return (void (*)(void))GetProcAddress((HMODULE)lib, name);
}

/* ---- what the C runtime lacks ------------------------------------------------------------- */

char *platform_strndup(const char *s, size_t n) {
  size_t len = 0;
  while (len < n && s[len]) len++;
  char *out = malloc(len + 1);
  if (!out) return NULL;
  memcpy(out, s, len);
  out[len] = '\0';
  return out;
}

void *platform_memmem(const void *hay, size_t hay_len, const void *needle, size_t needle_len) {
  if (needle_len == 0) return (void *)hay;
  const unsigned char *h = hay, *n = needle;
  for (size_t i = 0; needle_len <= hay_len && i <= hay_len - needle_len; i++)
    if (h[i] == n[0] && memcmp(h + i, n, needle_len) == 0) return (void *)(h + i);
  return NULL;
}

struct tm *platform_gmtime_r(const time_t *t, struct tm *out) {
  return gmtime_s(out, t) == 0 ? out : NULL;
}

#endif /* _WIN32 */
