/* spool — per-process spool directories with adoption of dead ones; see spool.h. */
#include "spool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "files.h"
#include "log.h"
#include "platform.h"

#define MAGIC "OATSPOOL2\n"
#define MAGIC_V1 "OATSPOOL1\n" /* records without a kind byte: all spans */
#define MAGIC_LEN (sizeof MAGIC - 1)
#define RECORD_MAX (64u * 1024 * 1024) /* a span is never this big: a larger length is damage */
#define ORPHAN_GRACE_S 60 /* a directory without a lock may be one being created right now */

struct spool {
  char *root, *dir; /* dir = root/<owner> */
  int lock_fd;
  pthread_mutex_t lock;
  uint64_t next_id;
  bool sync; /* fsync files and the directory */
};

/* ------------------------------------------------------------------------------------------ */

static void fsync_dir(const char *dir) { /* best effort: a lost rename is re-adopted */
  platform_sync_dir(dir);
}

static bool is_spool_file(const char *name) {
  size_t n = strlen(name);
  return n == 16 + 6 && strcmp(name + 16, ".spool") == 0 && strspn(name, "0123456789abcdef") == 16;
}

static void file_name(uint64_t id, char out[32]) {
  snprintf(out, 32, "%016llx.spool", (unsigned long long)id);
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spool files in dir, sorted (ids are zero-padded hex, so by age). Caller frees. */
static char **list_files(const char *dir, size_t *count) {
  *count = 0;
  platform_dir *d = platform_dir_open(dir);
  if (!d) return NULL;
  size_t cap = 16;
  char **names = malloc(cap * sizeof *names);
  const char *name;
  while (names && (name = platform_dir_next(d))) {
    if (!is_spool_file(name)) continue;
    if (*count == cap) {
      char **grown = realloc(names, (cap *= 2) * sizeof *names);
      if (!grown) break;
      names = grown;
    }
    if ((names[*count] = strdup(name))) (*count)++;
  }
  platform_dir_close(d);
  if (names) qsort(names, *count, sizeof *names, compare_names);
  return names;
}

static void free_names(char **names, size_t count) {
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
}

/* ------------------------------------------------------------------------------------------ */

/* Creates sp->dir and takes the lock in it. Returns the lock's fd, or -1 with errno set. */
static int make_locked_dir(spool *sp) {
  if (files_mkdir_p(sp->root) != 0) return -1;
  char *lock = files_join(sp->dir, "lock");
  int fd = -1;
  if (lock && (platform_mkdir(sp->dir) == 0 || errno == EEXIST))
    fd = platform_open(lock, PLATFORM_READ | PLATFORM_WRITE | PLATFORM_CREATE);
  if (fd >= 0 && !platform_try_lock(fd)) {
    int saved = errno;
    platform_close(fd);
    fd = -1;
    errno = saved;
  }
  free(lock);
  return fd;
}

spool *spool_open(const char *root, bool sync) {
  spool *sp = calloc(1, sizeof *sp);
  if (!sp) return NULL;
  pthread_mutex_init(&sp->lock, NULL);
  sp->lock_fd = -1;
  sp->next_id = 1;
  sp->sync = sync;
  char owner[64];
  uint32_t r;
  platform_random(&r, sizeof r);
  snprintf(owner, sizeof owner, "%ld-%08lx", platform_process_id(), (unsigned long)r);
  sp->root = strdup(root);
  sp->dir = sp->root ? files_join(root, owner) : NULL;
  if (sp->dir) sp->lock_fd = make_locked_dir(sp);
  if (sp->lock_fd < 0) {
    log_warn("spool directory %s is not usable (%s); unsent spans are kept in memory only", root,
             platform_error_text(errno));
    spool_close(sp);
    return NULL;
  }
  return sp;
}

void spool_set_sync(spool *sp, bool sync) {
  pthread_mutex_lock(&sp->lock);
  sp->sync = sync;
  pthread_mutex_unlock(&sp->lock);
}

bool spool_repair(spool *sp) {
  platform_info info;
  if (platform_target_info(sp->dir, &info) == 0)
    return false; /* still there: the trouble is elsewhere */
  int fd = make_locked_dir(sp);
  if (fd < 0) return false;
  pthread_mutex_lock(&sp->lock);
  int old = sp->lock_fd;
  sp->lock_fd = fd;
  pthread_mutex_unlock(&sp->lock);
  if (old >= 0) platform_close(old); /* the lock of a directory that no longer exists */
  log_warn("spool directory %s was removed while in use; created it again (spans it held were "
           "lost with it, unless already sent)",
           sp->dir);
  return true;
}

void spool_close(spool *sp) {
  if (!sp) return;
  if (sp->dir) {
    size_t count = 0;
    char **names = list_files(sp->dir, &count);
    free_names(names, count);
    if (count == 0) { /* nothing left to send: leave no trace */
      char *lock = files_join(sp->dir, "lock");
      if (lock) platform_remove(lock);
      free(lock);
      platform_remove_dir(sp->dir);
    }
  }
  if (sp->lock_fd >= 0) platform_close(sp->lock_fd); /* releases the lock */
  pthread_mutex_destroy(&sp->lock);
  free(sp->root);
  free(sp->dir);
  free(sp);
}

static uint64_t take_id(spool *sp) {
  pthread_mutex_lock(&sp->lock);
  uint64_t id = sp->next_id++;
  pthread_mutex_unlock(&sp->lock);
  return id;
}

/* A temp file is a spool write that was cut short (kill -9 between open and rename). Its spans
 * were never marked sent, so the next snapshot re-derives them: the file itself is garbage. */
static bool is_temp_file(const char *name) {
  size_t n = strlen(name);
  return name[0] == '.' && n > 5 && strcmp(name + n - 4, ".tmp") == 0;
}

static void remove_temp_files(const char *dir) {
  platform_dir *d = platform_dir_open(dir);
  if (!d) return;
  const char *name;
  while ((name = platform_dir_next(d))) {
    if (!is_temp_file(name)) continue;
    char *path = files_join(dir, name);
    if (path) platform_remove(path);
    free(path);
  }
  platform_dir_close(d);
}

/* Moves the files of a dead process's directory into ours, oldest first, under new ids. */
static void adopt(spool *sp, const char *other) {
  char *lock_path = files_join(other, "lock");
  if (!lock_path) return;
  int fd = platform_open(lock_path, PLATFORM_READ | PLATFORM_WRITE);
  if (fd < 0) {
    platform_info info;
    bool old = platform_target_info(other, &info) == 0 &&
               platform_realtime_ms() - info.mtime_ns / 1000000 > ORPHAN_GRACE_S * 1000;
    if (!old) {
      free(lock_path);
      return;
    }
    /* no lock and old: its owner died while creating it (or the lock was removed by hand) */
  } else if (!platform_try_lock(fd)) {
    platform_close(fd); /* alive */
    free(lock_path);
    return;
  }
  size_t count = 0, moved = 0;
  char **names = list_files(other, &count);
  for (size_t i = 0; i < count; i++) {
    char *from = files_join(other, names[i]);
    if (!from) continue;
    platform_info info;
    if (platform_path_info(from, &info) == 0 && info.kind != PLATFORM_FILE) {
      /* we only ever rename regular files into place: a link or FIFO was planted there */
      int why = info.kind == PLATFORM_LINK        ? ELOOP
                : info.kind == PLATFORM_DIRECTORY ? EISDIR
                                                  : PLATFORM_ENOTFILE;
      log_warn("spool file %s: %s; not adopted", from, platform_error_text(why));
      platform_remove(from);
      free(from);
      continue;
    }
    char mine[32];
    file_name(take_id(sp), mine);
    char *to = files_join(sp->dir, mine);
    if (to && platform_replace(from, to) == 0) moved++;
    free(from);
    free(to);
  }
  free_names(names, count);
  if (moved) {
    fsync_dir(sp->dir);
    log_info("picked up %zu unsent span files left by an earlier process", moved);
  }
  remove_temp_files(other); /* a write the dead process never finished: it never counted */
  platform_remove(lock_path);
  platform_remove_dir(other);
  if (fd >= 0) platform_close(fd);
  free(lock_path);
}

/* Reads one file's records into fn; skips damaged ones. Returns span records delivered. A link,
 * FIFO or anything else not a regular file at a spool file's name is refused (logged) and
 * removed: a spool file is only ever made by a rename of our own temp file. */
static size_t load_file(const char *path, uint64_t id, spool_record_fn fn, void *ctx) {
  int fd = platform_open(path, PLATFORM_READ);
  if (fd < 0) {
    if (errno == ELOOP || errno == PLATFORM_ENOTFILE || errno == EISDIR)
      log_warn("spool file %s: %s; skipped", path, platform_error_text(errno));
    return 0;
  }
  platform_info info;
  time_t born =
      platform_file_info(fd, &info) == 0 ? (time_t)(info.mtime_ns / 1000000000) : time(NULL);
  FILE *f = platform_read_stream(fd);
  if (!f) return 0;
  size_t delivered = 0;
  char magic[MAGIC_LEN];
  bool v1 = false;
  if (fread(magic, 1, MAGIC_LEN, f) != MAGIC_LEN ||
      (memcmp(magic, MAGIC, MAGIC_LEN) != 0 && !(v1 = memcmp(magic, MAGIC_V1, MAGIC_LEN) == 0))) {
    log_warn("spool file %s is not a spool file or is damaged; skipped", path);
    fclose(f);
    return 0;
  }
  size_t head_len = v1 ? 8 : 9;
  uint8_t head[9];
  size_t n;
  while ((n = fread(head, 1, head_len, f)) == head_len) {
    uint32_t len = get_u32(head), crc = get_u32(head + 4);
    int kind = v1 ? SPOOL_SPAN : head[8];
    uint8_t *data = len <= RECORD_MAX ? malloc(len ? len : 1) : NULL;
    if (!data || fread(data, 1, len, f) != len) {
      log_warn("spool file %s: a damaged record; the rest of the file is skipped", path);
      free(data);
      break;
    }
    uint32_t sum =
        v1 ? (uint32_t)crc32(0L, data, len) : (uint32_t)crc32(crc32(0L, head + 8, 1), data, len);
    if (sum != crc || (kind != SPOOL_SPAN && kind != SPOOL_MARKS)) {
      log_warn("spool file %s: a record failed its checksum; skipped", path);
      free(data);
      continue;
    }
    fn(ctx, id, born, kind, data, len);
    delivered += kind == SPOOL_SPAN;
  }
  if (n != 0 && n != head_len) log_warn("spool file %s: a torn record at its end; skipped", path);
  fclose(f);
  return delivered;
}

size_t spool_load(spool *sp, spool_record_fn fn, void *ctx) {
  platform_dir *d = platform_dir_open(sp->root);
  if (d) {
    const char *name;
    const char *mine = platform_last_separator(sp->dir) + 1;
    while ((name = platform_dir_next(d))) {
      if (name[0] == '.' || strcmp(name, mine) == 0) continue;
      char *other = files_join(sp->root, name);
      platform_info info;
      if (other && platform_path_info(other, &info) == 0 && info.kind == PLATFORM_DIRECTORY)
        adopt(sp, other);
      free(other);
    }
    platform_dir_close(d);
  }
  size_t count = 0, total = 0;
  char **names = list_files(sp->dir, &count);
  for (size_t i = 0; i < count; i++) {
    uint64_t id = strtoull(names[i], NULL, 16);
    char *path = files_join(sp->dir, names[i]);
    size_t got = path ? load_file(path, id, fn, ctx) : 0;
    if (path && got == 0) platform_remove(path); /* nothing usable in it */
    total += got;
    free(path);
    pthread_mutex_lock(&sp->lock);
    if (id >= sp->next_id) sp->next_id = id + 1;
    pthread_mutex_unlock(&sp->lock);
  }
  free_names(names, count);
  return total;
}

uint64_t spool_write(spool *sp, const spool_item *items, size_t n, time_t born) {
  size_t total = MAGIC_LEN;
  for (size_t i = 0; i < n; i++) total += 9 + items[i].len;
  uint8_t *buf = malloc(total), *p = buf;
  uint64_t id = take_id(sp);
  char name[32];
  file_name(id, name);
  char *path = files_join(sp->dir, name), *tmp = NULL;
  bool ok = buf && path;
  if (ok) {
    memcpy(p, MAGIC, MAGIC_LEN);
    p += MAGIC_LEN;
    for (size_t i = 0; i < n; i++) {
      uint8_t kind = (uint8_t)items[i].kind;
      put_u32(p, (uint32_t)items[i].len);
      put_u32(p + 4, (uint32_t)crc32(crc32(0L, &kind, 1), items[i].data, (uInt)items[i].len));
      p[8] = kind;
      memcpy(p + 9, items[i].data, items[i].len);
      p += 9 + items[i].len;
    }
    pthread_mutex_lock(&sp->lock);
    bool sync = sp->sync;
    pthread_mutex_unlock(&sp->lock);
    /* ".<name>.<random>.tmp", created exclusively: is_temp_file's pattern */
    int fd = platform_create_temp(path, &tmp);
    ok = fd >= 0 && files_write_all(fd, buf, total) == 0 && (!sync || platform_sync_file(fd) == 0);
    if (ok && born > 0) platform_set_mtime(fd, (int64_t)born);
    if (fd >= 0 && platform_close(fd) != 0) ok = false; /* NFS and full disks report here */
    ok = ok && platform_replace(tmp, path) == 0;
    int saved = errno;
    if (!ok && tmp) platform_remove(tmp);
    else if (sync) fsync_dir(sp->dir);
    errno = saved;
  } else {
    errno = ENOMEM;
  }
  int saved = errno;
  free(buf);
  free(path);
  free(tmp);
  errno = saved;
  return ok ? id : 0;
}

void spool_remove(spool *sp, uint64_t file_id) {
  char name[32];
  file_name(file_id, name);
  char *path = files_join(sp->dir, name);
  if (path) platform_remove(path);
  free(path);
}
