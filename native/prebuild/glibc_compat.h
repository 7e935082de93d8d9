/* glibc_compat — force-included (-include) into every file of the prebuilt addon, the static
 * jansson, libyaml and protobuf-c included, so that the .node built on a current Debian loads
 * on an older glibc: each symbol whose default version is newer than the target's oldest
 * glibc (GLIBC_2.17 on both targets: 2.17 is also the first glibc for aarch64) is bound to the
 * old version that glibc still exports for compatibility, with the same behaviour.
 *
 * Only the Linux prebuild uses this header (native/prebuild/static-deps.sh and binding.gyp's
 * static_dir); `npm run build` and the C unit tests link against the system's glibc as usual.
 * native/prebuild/prebuild.js fails the build when a symbol newer than GLIBC_2.17 shows up,
 * naming it, so a new one is added here when the core starts using it. The old version names
 * differ by architecture: GLIBC_2.2.5 (x86_64) and GLIBC_2.17 (aarch64, its first). */
#ifndef GLIBC_COMPAT_H
#define GLIBC_COMPAT_H
#if defined(__linux__) && !defined(__ASSEMBLER__)
#include <features.h> /* defines __GLIBC__ (musl does not) */
#endif
#if defined(__GLIBC__) && !defined(__ASSEMBLER__) && (defined(__x86_64__) || defined(__aarch64__))

#if defined(__x86_64__)
#define GLIBC_COMPAT_BASE "GLIBC_2.2.5"
#define GLIBC_COMPAT_2_3_3 "GLIBC_2.3.3"
#define GLIBC_COMPAT_2_4 "GLIBC_2.4"
#define GLIBC_COMPAT_STAT_VER 1 /* _STAT_VER_LINUX */
#else
#define GLIBC_COMPAT_BASE "GLIBC_2.17"
#define GLIBC_COMPAT_2_3_3 "GLIBC_2.17"
#define GLIBC_COMPAT_2_4 "GLIBC_2.17"
#define GLIBC_COMPAT_STAT_VER 0 /* _STAT_VER_LINUX of the generic 64-bit ABI */
#endif
#define GLIBC_COMPAT_SYMVER(name, version) __asm__(".symver " #name "," #name "@" version)

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

/* glibc 2.34 moved the pthread functions from libpthread into libc under GLIBC_2.34; the
 * old versions are the same functions. */
GLIBC_COMPAT_SYMVER(pthread_create, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_join, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_once, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_detach, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_key_create, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_setspecific, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_getspecific, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_mutexattr_init, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_mutexattr_settype, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_condattr_init, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(pthread_condattr_setclock, GLIBC_COMPAT_2_3_3);

/* The same move for dlopen and friends (libdl into libc, GLIBC_2.34): libcurl is loaded with
 * them (native/http.c). */
GLIBC_COMPAT_SYMVER(dlopen, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(dlsym, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(dlerror, GLIBC_COMPAT_BASE);

/* glibc 2.33 made stat, fstat, lstat and fstatat real functions (GLIBC_2.33); before, they
 * were inline wrappers around __xstat64 and friends, which glibc still exports. _STAT_VER is
 * 1 on x86_64, 0 on aarch64. The macros are function-like, so `struct stat` is left alone. */
extern int __xstat64(int ver, const char *path, struct stat64 *buf);
extern int __lxstat64(int ver, const char *path, struct stat64 *buf);
extern int __fxstat64(int ver, int fd, struct stat64 *buf);
extern int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf, int flags);
GLIBC_COMPAT_SYMVER(__xstat64, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(__lxstat64, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(__fxstat64, GLIBC_COMPAT_BASE);
GLIBC_COMPAT_SYMVER(__fxstatat64, GLIBC_COMPAT_2_4);

static inline int glibc_compat_stat(const char *path, struct stat *buf) {
  return __xstat64(GLIBC_COMPAT_STAT_VER, path, (struct stat64 *)buf);
}
static inline int glibc_compat_lstat(const char *path, struct stat *buf) {
  return __lxstat64(GLIBC_COMPAT_STAT_VER, path, (struct stat64 *)buf);
}
static inline int glibc_compat_fstat(int fd, struct stat *buf) {
  return __fxstat64(GLIBC_COMPAT_STAT_VER, fd, (struct stat64 *)buf);
}
static inline int glibc_compat_fstatat(int dirfd, const char *path, struct stat *buf, int flags) {
  return __fxstatat64(GLIBC_COMPAT_STAT_VER, dirfd, path, (struct stat64 *)buf, flags);
}
#define stat(path, buf) glibc_compat_stat(path, buf)
#define lstat(path, buf) glibc_compat_lstat(path, buf)
#define fstat(fd, buf) glibc_compat_fstat(fd, buf)
#define fstatat(dirfd, path, buf, flags) glibc_compat_fstatat(dirfd, path, buf, flags)

#endif
#endif
