/* darwin_pending — TEMPORARY, force-included into the darwin targets only, until the port's
 * native/platform.{h,c} lands on main (issue 21): the two Linux-only names today's sources use.
 * SOCK_CLOEXEC 0 leaves the exporter's socket inheritable across exec (the core never execs). */
#ifndef DARWIN_PENDING_H
#define DARWIN_PENDING_H
#ifdef __APPLE__
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif
#define st_mtim st_mtimespec
#endif

/* The C unit tests' Linux-only calls (test/c/server.h), for test/darwin.test.js's compile of
 * them for darwin (DARWIN_PENDING_TESTS): also the port's, also temporary. */
#if defined(__APPLE__) && defined(DARWIN_PENDING_TESTS)
#define accept4(fd, addr, len, flags) accept(fd, addr, len)
#define pthread_condattr_setclock(attr, clock) 0
#endif
#endif
