/* platform — see platform.h. The POSIX half (Linux, Darwin); the Windows half is platform_win.c. */
#include "platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- both systems ------------------------------------------------------------------------ */

int platform_create_temp(const char *target, char **path_out) {
  *path_out = NULL;
  const char *slash = platform_last_separator(target);
  size_t dir_len = slash ? (size_t)(slash - target) + 1 : 0;
  size_t n = strlen(target) + 2 + 16 + 5;
  char *path = malloc(n);
  if (!path) {
    errno = ENOMEM;
    return -1;
  }
  int fd = -1;
  /* A name nobody can guess; a collision (something planted, however unlikely) takes another. */
  for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
    uint64_t r;
    platform_random(&r, sizeof r);
    snprintf(path, n, "%.*s.%s.%016llx.tmp", (int)dir_len, target, target + dir_len,
             (unsigned long long)r);
    fd = platform_open(path, PLATFORM_WRITE | PLATFORM_CREATE | PLATFORM_EXCLUSIVE);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    int saved = errno;
    free(path);
    errno = saved;
    return -1;
  }
  *path_out = path;
  return fd;
}

const char *platform_error_text(int err) {
  switch (err) {
  case ELOOP: return "a symbolic link, which is not followed";
  case PLATFORM_ENOTFILE: return "not a regular file (a FIFO, socket or device is not opened)";
  default: return strerror(err);
  }
}

/* ---- POSIX -------------------------------------------------------------------------------- */

#ifndef _WIN32

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifndef O_NOATIME
#define O_NOATIME 0 /* Linux only */
#endif

/* Darwin names the nanosecond times of struct stat differently. */
#ifdef __APPLE__
#define MTIME_NS(st) ((int64_t)(st).st_mtimespec.tv_sec * 1000000000 + (st).st_mtimespec.tv_nsec)
#else
#define MTIME_NS(st) ((int64_t)(st).st_mtim.tv_sec * 1000000000 + (st).st_mtim.tv_nsec)
#endif

static void fill_info(const struct stat *st, platform_info *out) {
  out->kind = S_ISREG(st->st_mode)   ? PLATFORM_FILE
              : S_ISDIR(st->st_mode) ? PLATFORM_DIRECTORY
              : S_ISLNK(st->st_mode) ? PLATFORM_LINK
                                     : PLATFORM_OTHER;
  out->size = (int64_t)st->st_size;
  out->mtime_ns = MTIME_NS(*st);
  out->identity = (uint64_t)st->st_ino;
  out->permissions = (unsigned)(st->st_mode & 0777);
}

static int open_flags(int flags) {
  int o = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  bool writes = flags & (PLATFORM_WRITE | PLATFORM_APPEND);
  o |= writes ? (flags & PLATFORM_READ ? O_RDWR : O_WRONLY) : O_RDONLY;
  if (flags & PLATFORM_APPEND) o |= O_APPEND;
  if (flags & PLATFORM_CREATE) o |= O_CREAT;
  if (flags & PLATFORM_EXCLUSIVE) o |= O_EXCL;
  if (flags & PLATFORM_TRUNCATE) o |= O_TRUNC;
  if (!(flags & PLATFORM_FOLLOW)) o |= O_NOFOLLOW;
  return o;
}

static int open_retrying(const char *path, int o) {
  int fd;
  do fd = open(path, o, 0600);
  while (fd < 0 && errno == EINTR);
  return fd;
}

/* O_NONBLOCK keeps a FIFO (no writer, or no reader) or a device from holding the open; what
 * was opened is then checked to be a regular file, and made blocking again. O_TRUNC cannot
 * reach anything but a regular file: FIFOs and devices ignore it, O_NOFOLLOW stops links. */
int platform_open(const char *path, int flags) {
  int o = open_flags(flags);
  int fd = open_retrying(path, (flags & PLATFORM_NO_ATIME) ? o | O_NOATIME : o);
  if (fd < 0 && errno == EPERM && (flags & PLATFORM_NO_ATIME))
    fd = open_retrying(path, o); /* O_NOATIME is allowed on files we own only */
  if (fd < 0) {
    if (errno == ENXIO) errno = PLATFORM_ENOTFILE; /* a FIFO without a reader, a socket */
    return -1;
  }
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0) err = errno;
  else if (S_ISDIR(st.st_mode)) err = EISDIR;
  else if (!S_ISREG(st.st_mode)) err = PLATFORM_ENOTFILE;
  else if (ioctl(fd, FIONBIO, &(int){0}) != 0) /* blocking again (no fcntl64: GLIBC_2.28) */
    err = errno;
  if (err) {
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

int platform_close(int fd) { return close(fd); }

int64_t platform_read(int fd, void *buf, size_t len) {
  ssize_t n;
  do n = read(fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

int64_t platform_write(int fd, const void *buf, size_t len) {
  ssize_t n;
  do n = write(fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

int64_t platform_read_at(int fd, void *buf, size_t len, int64_t offset) {
  ssize_t n;
  do n = pread(fd, buf, len, (off_t)offset);
  while (n < 0 && errno == EINTR);
  return n;
}

int64_t platform_write_at(int fd, const void *buf, size_t len, int64_t offset) {
  ssize_t n;
  do n = pwrite(fd, buf, len, (off_t)offset);
  while (n < 0 && errno == EINTR);
  return n;
}

int platform_truncate(int fd, int64_t size) { return ftruncate(fd, (off_t)size); }

int platform_sync_file(int fd) { return fsync(fd); }

void platform_sync_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

int platform_set_mtime(int fd, int64_t sec) {
  struct timespec times[2] = {{.tv_sec = (time_t)sec}, {.tv_sec = (time_t)sec}};
  return futimens(fd, times);
}

FILE *platform_read_stream(int fd) {
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    int saved = errno;
    close(fd);
    errno = saved;
  }
  return f;
}

int platform_file_info(int fd, platform_info *out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  fill_info(&st, out);
  return 0;
}

int platform_path_info(const char *path, platform_info *out) {
  struct stat st;
  if (lstat(path, &st) != 0) return -1;
  fill_info(&st, out);
  return 0;
}

int platform_target_info(const char *path, platform_info *out) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  fill_info(&st, out);
  return 0;
}

int platform_mkdir(const char *path) { return mkdir(path, 0700); }

int platform_remove(const char *path) { return unlink(path); }

int platform_remove_dir(const char *path) { return rmdir(path); }

int platform_replace(const char *from, const char *to) { return rename(from, to); }

struct platform_dir {
  DIR *d;
};

platform_dir *platform_dir_open(const char *path) {
  platform_dir *d = malloc(sizeof *d);
  if (!d) {
    errno = ENOMEM;
    return NULL;
  }
  if (!(d->d = opendir(path))) {
    int saved = errno;
    free(d);
    errno = saved;
    return NULL;
  }
  return d;
}

const char *platform_dir_next(platform_dir *d) {
  struct dirent *e;
  while ((e = readdir(d->d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) return e->d_name;
  return NULL;
}

void platform_dir_close(platform_dir *d) {
  if (!d) return;
  closedir(d->d);
  free(d);
}

/* flock: advisory, whole-file, held by the open file description (so two descriptors of one
 * process exclude each other, as two processes do) on Linux and Darwin alike. */
int platform_lock(int fd) {
  int rc;
  do rc = flock(fd, LOCK_EX);
  while (rc != 0 && errno == EINTR);
  return rc;
}

bool platform_try_lock(int fd) { return flock(fd, LOCK_EX | LOCK_NB) == 0; }

int platform_unlock(int fd) { return flock(fd, LOCK_UN); }

long platform_process_id(void) { return (long)getpid(); }

bool platform_process_alive(long pid) {
  return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

void platform_hostname(char *out, size_t size) {
  if (size == 0) return;
  if (gethostname(out, size) != 0) out[0] = '\0';
  out[size - 1] = '\0';
}

int64_t platform_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t platform_realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t platform_steady_ms(void) {
  struct timespec ts;
#ifdef CLOCK_BOOTTIME /* Linux: counts a suspend too */
  clock_gettime(CLOCK_BOOTTIME, &ts);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint8_t boot_id[16];
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static void read_boot_id(void) {
  /* Linux. Darwin (kern.bootsessionuuid) and Windows: none yet, ages then go by the wall
   * clock across processes (spool.h). */
  char text[64] = "";
  int fd = platform_open("/proc/sys/kernel/random/boot_id", PLATFORM_READ | PLATFORM_FOLLOW);
  if (fd < 0) {
    fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  }
  int64_t n = fd >= 0 ? platform_read(fd, text, sizeof text - 1) : -1;
  if (fd >= 0) close(fd);
  text[n > 0 ? n : 0] = '\0';
  size_t digits = 0;
  for (const char *p = text; *p && digits < 32; p++) {
    int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (v < 0) continue;
    boot_id[digits / 2] = (uint8_t)(boot_id[digits / 2] << 4 | v);
    digits++;
  }
  if (digits != 32) memset(boot_id, 0, sizeof boot_id);
}

void platform_boot_id(uint8_t out[16]) {
  pthread_once(&boot_once, read_boot_id);
  memcpy(out, boot_id, 16);
}

#if defined(__APPLE__)
/* No pthread_condattr_setclock: waits stay on the wall clock there. */
void platform_cond_init(pthread_cond_t *cond) { pthread_cond_init(cond, NULL); }
struct timespec platform_cond_deadline(long ms) {
  int64_t at = platform_realtime_ms() + ms;
  return (struct timespec){.tv_sec = (time_t)(at / 1000), .tv_nsec = (long)(at % 1000) * 1000000L};
}
#else
void platform_cond_init(pthread_cond_t *cond) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(cond, &attr);
  pthread_condattr_destroy(&attr);
}

struct timespec platform_cond_deadline(long ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t ns = (int64_t)ts.tv_nsec + (int64_t)(ms % 1000) * 1000000;
  ts.tv_sec += (time_t)(ms / 1000) + (time_t)(ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  return ts;
}
#endif

void platform_random(void *buf, size_t len) {
  size_t got = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  while (fd >= 0 && got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (fd >= 0) close(fd);
  if (got == len) return;
  /* No /dev/urandom (a chroot): a mix of both clocks, the process and a counter. */
  static unsigned long counter;
  struct timespec a, b;
  clock_gettime(CLOCK_REALTIME, &a);
  clock_gettime(CLOCK_MONOTONIC, &b);
  uint64_t x = (uint64_t)a.tv_sec * 1000000007u ^ (uint64_t)a.tv_nsec ^ (uint64_t)b.tv_nsec << 20 ^
               (uint64_t)getpid() << 40 ^ (uint64_t)++counter;
  for (; got < len; got++) {
    x ^= x >> 33, x *= 0xff51afd7ed558ccdULL, x ^= x >> 29; /* splitmix-style mixing */
    ((unsigned char *)buf)[got] = (unsigned char)(x >> 24);
  }
}

const char *const platform_home_variables[] = {"HOME", NULL};

extern char **environ;

const char *const *platform_environment(void) { return (const char *const *)environ; }

bool platform_is_separator(char c) { return c == '/'; }

const char *platform_last_separator(const char *path) { return strrchr(path, '/'); }

platform_socket platform_socket_open(int family, int type, int protocol) {
#ifdef SOCK_CLOEXEC
  int s = socket(family, type | SOCK_CLOEXEC, protocol);
#else /* Darwin: no SOCK_CLOEXEC (nothing execs between these two calls in this process) */
  int s = socket(family, type, protocol);
  if (s >= 0) fcntl(s, F_SETFD, FD_CLOEXEC);
#endif
#ifdef SO_NOSIGPIPE /* Darwin: a write to a reset connection must not kill the host */
  if (s >= 0) setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &(int){1}, sizeof(int));
#endif
  return s;
}

void platform_socket_shutdown(platform_socket s) { shutdown(s, SHUT_RDWR); }

void platform_thread_name(const char *name) {
#if defined(__APPLE__)
  pthread_setname_np(name); /* Darwin names the calling thread only */
#elif defined(__linux__)
  /* prctl, not pthread_setname_np: that one is versioned GLIBC_2.34 when linked against a newer
   * glibc, past the cores' GLIBC_2.17 floor. Linux takes 15 bytes and the terminator. */
  char cut[16];
  snprintf(cut, sizeof cut, "%s", name);
  prctl(PR_SET_NAME, cut, 0, 0, 0);
#else
  (void)name;
#endif
}

int platform_socket_close(platform_socket s) { return close(s); }

void *platform_library_open(const char *const *names, char *err, size_t cap) {
  if (cap) err[0] = '\0';
  for (size_t i = 0; names[i]; i++) {
    void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (lib) return lib;
    const char *why = dlerror();
    if (i == 0 && cap) snprintf(err, cap, "%s", why ? why : names[i]);
  }
  return NULL;
}

void (*platform_library_function(void *lib, const char *name))(void) {
  void (*fn)(void);
  /* POSIX guarantees a function's address survives the trip through void * */
  *(void **)&fn = dlsym(lib, name);
  return fn;
}

#endif /* !_WIN32 */
