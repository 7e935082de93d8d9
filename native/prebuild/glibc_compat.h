/* glibc_compat — force-included (-include) into every file of the prebuilt addon, the static
 * jansson, libyaml and protobuf-c included, so that the .node built on a current Debian loads
 * on an older glibc: each symbol whose default version is newer than GLIBC_2.17 is bound to
 * the old version that glibc still exports for compatibility, with the same behaviour.
 *
 * Only the prebuild uses this header (see binding.gyp's static_dir); `npm run build` and the
 * C unit tests link against the system's glibc as usual. native/prebuild/prebuild.js fails
 * the build when a symbol newer than GLIBC_2.17 shows up, naming it, so a new one is added
 * here when the core starts using it. x86_64 only: the old version names differ by arch. */
#ifndef GLIBC_COMPAT_H
#define GLIBC_COMPAT_H
#if !defined(__ASSEMBLER__)
#include <features.h> /* defines __GLIBC__ */
#endif
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__ASSEMBLER__)

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

/* glibc 2.34 moved the pthread functions from libpthread into libc under GLIBC_2.34; the
 * GLIBC_2.2.5 versions are the same functions. */
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_join,pthread_join@GLIBC_2.2.5");
__asm__(".symver pthread_once,pthread_once@GLIBC_2.2.5");
__asm__(".symver pthread_detach,pthread_detach@GLIBC_2.2.5");
__asm__(".symver pthread_key_create,pthread_key_create@GLIBC_2.2.5");
__asm__(".symver pthread_setspecific,pthread_setspecific@GLIBC_2.2.5");
__asm__(".symver pthread_getspecific,pthread_getspecific@GLIBC_2.2.5");
__asm__(".symver pthread_mutexattr_init,pthread_mutexattr_init@GLIBC_2.2.5");
__asm__(".symver pthread_mutexattr_settype,pthread_mutexattr_settype@GLIBC_2.2.5");
__asm__(".symver pthread_condattr_init,pthread_condattr_init@GLIBC_2.2.5");
__asm__(".symver pthread_condattr_setclock,pthread_condattr_setclock@GLIBC_2.3.3");

/* glibc 2.33 made stat, fstat, lstat and fstatat real functions (GLIBC_2.33); before, they
 * were inline wrappers around __xstat64 and friends, which glibc still exports. _STAT_VER is
 * 1 on x86_64. The macros are function-like, so `struct stat` is left alone. */
extern int __xstat64(int ver, const char *path, struct stat64 *buf);
extern int __lxstat64(int ver, const char *path, struct stat64 *buf);
extern int __fxstat64(int ver, int fd, struct stat64 *buf);
extern int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf, int flags);
__asm__(".symver __xstat64,__xstat64@GLIBC_2.2.5");
__asm__(".symver __lxstat64,__lxstat64@GLIBC_2.2.5");
__asm__(".symver __fxstat64,__fxstat64@GLIBC_2.2.5");
__asm__(".symver __fxstatat64,__fxstatat64@GLIBC_2.4");

static inline int glibc_compat_stat(const char *path, struct stat *buf) {
  return __xstat64(1, path, (struct stat64 *)buf);
}
static inline int glibc_compat_lstat(const char *path, struct stat *buf) {
  return __lxstat64(1, path, (struct stat64 *)buf);
}
static inline int glibc_compat_fstat(int fd, struct stat *buf) {
  return __fxstat64(1, fd, (struct stat64 *)buf);
}
static inline int glibc_compat_fstatat(int dirfd, const char *path, struct stat *buf, int flags) {
  return __fxstatat64(1, dirfd, path, (struct stat64 *)buf, flags);
}
#define stat(path, buf) glibc_compat_stat(path, buf)
#define lstat(path, buf) glibc_compat_lstat(path, buf)
#define fstat(fd, buf) glibc_compat_fstat(fd, buf)
#define fstatat(dirfd, path, buf, flags) glibc_compat_fstatat(dirfd, path, buf, flags)

#endif
#endif
