/* platform — the one door to the operating system. Every file, lock, directory, process,
 * clock and socket call of the core goes through here, so the differences between Linux,
 * macOS (Darwin) and Windows live in platform.c only: no other module calls the system for
 * these or tests which system it runs on (threads are pthreads everywhere: winpthreads on
 * Windows).
 *
 * Files are opened by what they are for (PLATFORM_READ, PLATFORM_APPEND, ...), never through a
 * symbolic link at their last component, never blocking (a FIFO, a socket or a device at the
 * path is refused: opening one could wait forever on OpenCode's thread), always close-on-exec
 * and in binary mode, created 0600. A planted link or FIFO therefore costs a refusal with
 * errno set (platform_error_text says which), never a write outside our directories nor a hang.
 *
 * A file is an int descriptor (on Windows a C runtime descriptor around a handle opened with
 * FILE_SHARE_DELETE, so a file another process holds open can still be replaced or removed).
 *
 * Two halves: platform.c for POSIX (Linux, Darwin; musl as glibc), platform_win.c for Windows
 * (Win32 wide-character calls on UTF-8 paths). Each compiles to nothing on the other system.
 * Paths are UTF-8 everywhere; on Windows both '/' and '\\' separate their parts.
 */
#ifndef PLATFORM_H
#define PLATFORM_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* printf-style checking of a function's format string: on Windows (mingw-w64, built with
 * __USE_MINGW_ANSI_STDIO=1) the C99 printf that knows %zu and %lld, not Microsoft's. */
#ifdef __MINGW_PRINTF_FORMAT
#define PLATFORM_PRINTF(fmt, args) __attribute__((format(__MINGW_PRINTF_FORMAT, fmt, args)))
#else
#define PLATFORM_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

/* What Windows' C library lacks, under the POSIX names (implemented in platform_win.c). */
#ifdef _WIN32
#include <time.h>
char *platform_strndup(const char *s, size_t n);
void *platform_memmem(const void *hay, size_t hay_len, const void *needle, size_t needle_len);
struct tm *platform_gmtime_r(const time_t *t, struct tm *out);
#define strndup platform_strndup
#define memmem platform_memmem
#undef gmtime_r
#define gmtime_r platform_gmtime_r
#endif

/* ---- threads --------------------------------------------------------------------------- */

/* Names the calling thread (cut to 15 bytes where the system allows no more), so a profiler,
 * top -H or /proc/<pid>/task/<tid>/comm tells the core's threads apart. Best effort. */
void platform_thread_name(const char *name);

/* ---- files ---------------------------------------------------------------------------- */

enum {
  PLATFORM_READ = 1 << 0,      /* for reading */
  PLATFORM_WRITE = 1 << 1,     /* for writing */
  PLATFORM_APPEND = 1 << 2,    /* every write at the end, atomically (implies WRITE) */
  PLATFORM_CREATE = 1 << 3,    /* created (0600) when missing */
  PLATFORM_EXCLUSIVE = 1 << 4, /* with CREATE: fails (EEXIST) when anything is at the path */
  PLATFORM_TRUNCATE = 1 << 5,  /* emptied on open */
  PLATFORM_NO_ATIME = 1 << 6,  /* a hint: the read does not update the access time (Linux, our
                                  own files; ignored where not allowed) */
  PLATFORM_FOLLOW = 1 << 7,    /* a symbolic link at the path is followed (read-only opens of
                                  a file the user may keep elsewhere: the config) */
};

/* Opens the regular file at path. flags: PLATFORM_* above. Returns a descriptor, or -1 with
 * errno set: ELOOP for a symbolic link (unless PLATFORM_FOLLOW), EISDIR for a directory,
 * PLATFORM_ENOTFILE for a FIFO, socket or device, else the system's reason. */
int platform_open(const char *path, int flags);

/* What platform_open and platform_create_temp set errno to for something that is neither a
 * regular file nor a directory. */
#define PLATFORM_ENOTFILE ENODEV

/* Creates a new file beside target, named ".<target's name>.<random>.tmp", for writing
 * (PLATFORM_EXCLUSIVE: nothing planted at a name can be followed or reused). *path_out gets
 * its malloc'd path. Returns the descriptor, or -1 with errno set (*path_out NULL). */
int platform_create_temp(const char *target, char **path_out);

/* A line for the log: strerror(err), with the refusals above said plainly. */
const char *platform_error_text(int err);

/* 0, or -1 with errno set. Closing a descriptor releases its lock. */
int platform_close(int fd);

/* One read / write at the file position (or, PLATFORM_APPEND, at the end), retried on EINTR.
 * Bytes moved, 0 at the end of the file, or -1 with errno set. */
int64_t platform_read(int fd, void *buf, size_t len);
int64_t platform_write(int fd, const void *buf, size_t len);

/* A read / write at offset, without moving the file position. As above. */
int64_t platform_read_at(int fd, void *buf, size_t len, int64_t offset);
int64_t platform_write_at(int fd, const void *buf, size_t len, int64_t offset);

/* Cuts or extends the file to size bytes. 0, or -1 with errno set. */
int platform_truncate(int fd, int64_t size);

/* Waits until the file's data is on the disk (fsync). 0, or -1 with errno set. */
int platform_sync_file(int fd);

/* Makes the directory's entries durable (fsync of the directory: a rename or a new file in it
 * survives a power loss). Best effort: nothing to do where the system has no such thing. */
void platform_sync_dir(const char *path);

/* Sets the file's modification (and access) time to sec seconds since the epoch. 0, or -1
 * with errno set. */
int platform_set_mtime(int fd, int64_t sec);

/* A stdio stream reading the descriptor (which it then owns: fclose closes it). NULL with
 * errno set; the descriptor is closed then too. */
FILE *platform_read_stream(int fd);

/* The separator the core puts between the parts of the paths it makes (the user sees them in
 * logs and in status): "/", on Windows "\\". */
#ifdef _WIN32
#define PLATFORM_SEP "\\"
#else
#define PLATFORM_SEP "/"
#endif

/* Whether c separates the parts of a path ('/'; on Windows '\\' too). */
bool platform_is_separator(char c);

/* The last separator in path, or NULL. */
const char *platform_last_separator(const char *path);

/* ---- what is at a path ---------------------------------------------------------------- */

typedef enum {
  PLATFORM_FILE,      /* a regular file */
  PLATFORM_DIRECTORY, /* a directory */
  PLATFORM_LINK,      /* a symbolic link (platform_path_info only) */
  PLATFORM_OTHER,     /* a FIFO, socket or device */
} platform_kind;

typedef struct {
  platform_kind kind;
  int64_t size;         /* bytes */
  int64_t mtime_ns;     /* last modification, ns since the epoch */
  uint64_t identity;    /* the file itself, across renames: inode (POSIX), file index (Windows) */
  unsigned permissions; /* POSIX mode bits (0777); 0600 where there are none (Windows) */
} platform_info;

/* What the open file is. 0, or -1 with errno set. */
int platform_file_info(int fd, platform_info *out);

/* What is at path; a symbolic link there is reported as such (PLATFORM_LINK), not followed.
 * 0, or -1 with errno set (ENOENT: nothing). */
int platform_path_info(const char *path, platform_info *out);

/* Same, following a symbolic link to what it names. */
int platform_target_info(const char *path, platform_info *out);

/* ---- names in directories ------------------------------------------------------------- */

/* Creates the directory (0700: only the user; on Windows it inherits the profile's ACL). 0, or
 * -1 with errno set (EEXIST when something is at path). */
int platform_mkdir(const char *path);

/* Removes the file (or link, or FIFO: never what a link names) / the empty directory. 0, or -1
 * with errno set. */
int platform_remove(const char *path);
int platform_remove_dir(const char *path);

/* Renames from to to, replacing whatever is at to (a link there is replaced, not followed),
 * atomically where the system can: a reader sees the old file or the new one. 0, or -1 with
 * errno set. */
int platform_replace(const char *from, const char *to);

typedef struct platform_dir platform_dir;

/* The names in a directory, "." and ".." left out, in no order. NULL with errno set. */
platform_dir *platform_dir_open(const char *path);
/* The next name (valid until the next call), or NULL at the end. */
const char *platform_dir_next(platform_dir *d);
void platform_dir_close(platform_dir *d);

/* ---- locks ---------------------------------------------------------------------------- */

/* An advisory lock on the whole file, exclusive between processes and between descriptors of
 * one process: it excludes other platform_lock callers and never blocks a read or a write (on
 * Windows a lock on one byte far past the end, since Windows locks are mandatory). Held until
 * platform_unlock or the descriptor is closed. platform_lock waits; platform_try_lock does not
 * (false, errno EWOULDBLOCK, when another holds it). 0 / true on success. */
int platform_lock(int fd);
bool platform_try_lock(int fd);
int platform_unlock(int fd);

/* ---- processes, clocks, randomness ---------------------------------------------------- */

long platform_process_id(void);

/* Whether a process with this id runs (possibly as another user). */
bool platform_process_alive(long pid);

/* This machine's name into out (size bytes, NUL-terminated, cut to fit); "" when unknown. */
void platform_hostname(char *out, size_t size);

/* Milliseconds on a clock that never steps (for durations). */
int64_t platform_monotonic_ms(void);

/* Milliseconds since the epoch (the wall clock, which may step). */
int64_t platform_realtime_ms(void);

/* Milliseconds on a clock that never steps and, where the system has one, also counts a
 * suspend (Linux CLOCK_BOOTTIME); its zero is the boot: compare values of one boot only. */
int64_t platform_steady_ms(void);

/* An id of the current boot (Linux: /proc/sys/kernel/random/boot_id), all zeros where the
 * system gives none. Read once. */
void platform_boot_id(uint8_t out[16]);

/* A condition variable whose timed waits run on the monotonic clock where the system allows
 * (not Darwin: there on the wall clock), and the absolute deadline ms from now on that clock:
 * a wall clock set back neither stretches nor cuts a bounded wait. */
void platform_cond_init(pthread_cond_t *cond);
struct timespec platform_cond_deadline(long ms);

/* len unpredictable bytes (the system's random source; a mix of clocks and the process id
 * where that fails). */
void platform_random(void *buf, size_t len);

/* The environment variables that name the user's home directory, in the order to try them,
 * NULL-terminated: config.c reads them (it alone reads the environment). */
extern const char *const platform_home_variables[];

/* The process's environment, NULL-terminated "NAME=value" entries in UTF-8 (POSIX: environ
 * itself; Windows: a UTF-8 copy of the wide environment block, made anew when it changed,
 * earlier copies kept alive for whoever still holds one). */
const char *const *platform_environment(void);

/* ---- sockets -------------------------------------------------------------------------- */

/* A socket as the system names it (libcurl's curl_socket_t is the same type). */
#ifdef _WIN32
typedef uintptr_t platform_socket; /* SOCKET */
#define PLATFORM_NO_SOCKET (~(platform_socket)0)
#else
typedef int platform_socket;
#define PLATFORM_NO_SOCKET (-1)
#endif

/* A socket closed on exec, that never raises SIGPIPE. PLATFORM_NO_SOCKET on failure. */
platform_socket platform_socket_open(int family, int type, int protocol);

/* Stops both directions at once: a poll on it wakes (how a transfer is aborted). */
void platform_socket_shutdown(platform_socket s);

/* 0, or -1. */
int platform_socket_close(platform_socket s);

/* ---- shared libraries ----------------------------------------------------------------- */

/* The first of `names` (NULL-terminated) that loads, its symbols kept to itself; NULL with the
 * loader's reason for the first name in err when none does. Never unloaded. */
void *platform_library_open(const char *const *names, char *err, size_t cap);

/* A function of a library platform_library_open gave, or NULL. */
void (*platform_library_function(void *lib, const char *name))(void);

#endif
