/* spool — per-process spool directories with adoption of dead ones; see spool.h. */
#include "spool.h"

#include <errno.h>
#include <jansson.h>
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
#include "wallclock.h"

#define MAGIC "OATSPOOL3\n"
#define MAGIC_V2 "OATSPOOL2\n" /* [len][crc][kind][bytes]: no sync word, no file header */
#define MAGIC_V1 "OATSPOOL1\n" /* records without a kind byte: all spans */
#define MAGIC_LEN (sizeof MAGIC - 1)
#define HEADER_LEN 44 /* wall ms, steady ms, boot id, spans, records, crc */
#define SYNC "\xffREC"
#define RECORD_HEAD 17                 /* sync, length, kind, head crc, data crc */
#define RECORD_MAX (64u * 1024 * 1024) /* a span is never this big: a larger length is damage */
#define ORPHAN_GRACE_S 60 /* a directory without a lock may be one being created right now */

struct spool {
  char *root, *dir; /* dir = root/<owner> */
  int lock_fd;
  pthread_mutex_t lock;
  uint64_t next_id;
  bool sync;                     /* fsync files and the directory */
  size_t *foreign_seen;          /* during spool_load: where adopt counts the files it leaves */
  uint32_t keys[SPOOL_MAX_KEYS]; /* destinations that may have markers here (spool_remove) */
  size_t n_keys;
};

/* Remembers a destination key whose markers spool_remove must delete. Lock held. */
static void know_key_locked(spool *sp, uint32_t key) {
  for (size_t i = 0; i < sp->n_keys; i++)
    if (sp->keys[i] == key) return;
  if (sp->n_keys < SPOOL_MAX_KEYS) sp->keys[sp->n_keys++] = key;
}

/* ------------------------------------------------------------------------------------------ */

static void fsync_dir(const char *dir) { /* best effort: a lost rename is re-adopted */
  platform_sync_dir(dir);
}

static bool is_spool_file(const char *name) {
  size_t n = strlen(name);
  return n == 16 + 6 && strcmp(name + 16, ".spool") == 0 && strspn(name, "0123456789abcdef") == 16;
}

/* "<16 hex id>.<8 hex key>.done": a destination's progress through a spool file. */
static bool is_marker_file(const char *name) {
  size_t n = strlen(name);
  return n == 16 + 1 + 8 + 5 && name[16] == '.' && strcmp(name + 25, ".done") == 0 &&
         strspn(name, "0123456789abcdef") == 16 && strspn(name + 17, "0123456789abcdef") == 8;
}

static void marker_name(uint64_t id, uint32_t key, char out[40]) {
  snprintf(out, 40, "%016llx.%08lx.done", (unsigned long long)id, (unsigned long)key);
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

static void put_u64(uint8_t *p, uint64_t v) {
  put_u32(p, (uint32_t)v), put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

static uint32_t crc(const uint8_t *p, size_t n) { return (uint32_t)crc32(0L, p, (uInt)n); }

/* Which format a file's first bytes name: 3, 2, 1, or 0 (not one of ours). */
static int format_of(const uint8_t *magic, size_t n) {
  if (n < MAGIC_LEN) return 0;
  if (memcmp(magic, MAGIC, MAGIC_LEN) == 0) return 3;
  if (memcmp(magic, MAGIC_V2, MAGIC_LEN) == 0) return 2;
  if (memcmp(magic, MAGIC_V1, MAGIC_LEN) == 0) return 1;
  return 0;
}

/* Whether path starts with one of our magics (unreadable: false). */
static bool readable_format(const char *path) {
  int fd = platform_open(path, PLATFORM_READ);
  if (fd < 0) return false;
  uint8_t magic[MAGIC_LEN];
  int64_t n = platform_read(fd, magic, sizeof magic);
  platform_close(fd);
  return n == (int64_t)MAGIC_LEN && format_of(magic, MAGIC_LEN) != 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir that pass keep, sorted (ids are zero-padded hex, so by age). Caller frees. */
static char **list_names(const char *dir, size_t *count, bool (*keep)(const char *name)) {
  *count = 0;
  platform_dir *d = platform_dir_open(dir);
  if (!d) return NULL;
  size_t cap = 16;
  char **names = malloc(cap * sizeof *names);
  const char *name;
  while (names && (name = platform_dir_next(d))) {
    if (!keep(name)) continue;
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

/* The spool files in dir, sorted by age. Caller frees. */
static char **list_files(const char *dir, size_t *count) {
  return list_names(dir, count, is_spool_file);
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
    if (count == 0) { /* nothing left to send: leave no trace (markers left by a removal that
                       * raced an ack are orphans now) */
      size_t n_markers = 0;
      char **markers = list_names(sp->dir, &n_markers, is_marker_file);
      for (size_t i = 0; i < n_markers; i++) {
        char *mp = files_join(sp->dir, markers[i]);
        if (mp) platform_remove(mp);
        free(mp);
      }
      free_names(markers, n_markers);
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
  size_t count = 0, moved = 0, n_markers = 0;
  char **names = list_files(other, &count);
  char **markers = list_names(other, &n_markers, is_marker_file);
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
    if (!readable_format(from)) { /* another version's: left where it is, for it */
      log_warn("spool file %s is not of a format this version reads; left untouched for the "
               "version that wrote it",
               from);
      if (sp->foreign_seen) (*sp->foreign_seen)++;
      free(from);
      continue;
    }
    char mine[32];
    uint64_t new_id = take_id(sp);
    file_name(new_id, mine);
    /* its destinations' markers first: a crash between leaves an orphan marker (removed at
     * load), never a file whose sent spans would be sent again */
    for (size_t k = 0; k < n_markers; k++) {
      if (strncmp(markers[k], names[i], 16) != 0) continue;
      char done[40];
      marker_name(new_id, (uint32_t)strtoul(markers[k] + 17, NULL, 16), done);
      char *mf = files_join(other, markers[k]), *mt = files_join(sp->dir, done);
      if (mf && mt) platform_replace(mf, mt);
      free(mf);
      free(mt);
    }
    char *to = files_join(sp->dir, mine);
    if (to && platform_replace(from, to) == 0) moved++;
    free(from);
    free(to);
  }
  free_names(names, count);
  for (size_t k = 0; k < n_markers; k++) { /* orphans: their spool file is gone */
    char *mf = files_join(other, markers[k]);
    if (mf) platform_remove(mf);
    free(mf);
  }
  free_names(markers, n_markers);
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

/* One record found in a file: where its bytes are and what it is. */
typedef struct {
  size_t at, len;
  int kind;
} found_record;

typedef struct {
  found_record *items;
  size_t n, cap;
  size_t damaged;       /* damaged records (or regions) met */
  size_t damaged_spans; /* of them, known to be spans */
  bool foreign;         /* a record of a kind this version must not drop: another version's */
} scan;

static bool scan_add(scan *sc, size_t at, size_t len, int kind) {
  if (sc->n == sc->cap) {
    size_t cap = sc->cap ? sc->cap * 2 : 64;
    found_record *grown = realloc(sc->items, cap * sizeof *grown);
    if (!grown) return false;
    sc->items = grown, sc->cap = cap;
  }
  sc->items[sc->n++] = (found_record){at, len, kind};
  return true;
}

/* A kind this version knows, one it may skip, or one that makes the file another version's. */
static void scan_kind(scan *sc, size_t at, size_t len, int kind) {
  if (kind == SPOOL_SPAN || kind == SPOOL_MARKS) scan_add(sc, at, len, kind);
  else if (!(kind & SPOOL_OPTIONAL)) sc->foreign = true;
}

/* Format 3: records behind sync words; after damage, the next sync word whose record header
 * checks. */
static void scan_v3(const uint8_t *b, size_t size, size_t pos, scan *sc) {
  bool in_damage = false;
  while (pos < size) {
    bool head_ok = size - pos >= RECORD_HEAD && memcmp(b + pos, SYNC, 4) == 0 &&
                   crc(b + pos + 4, 5) == get_u32(b + pos + 9);
    size_t len = head_ok ? get_u32(b + pos + 4) : 0;
    if (head_ok && len <= RECORD_MAX && len <= size - pos - RECORD_HEAD) {
      int kind = b[pos + 8];
      if (crc(b + pos + RECORD_HEAD, len) == get_u32(b + pos + 13))
        scan_kind(sc, pos + RECORD_HEAD, len, kind);
      else sc->damaged++, sc->damaged_spans += kind == SPOOL_SPAN; /* its length was sound */
      in_damage = false;
      pos += RECORD_HEAD + len;
      continue;
    }
    if (!in_damage) sc->damaged++, in_damage = true; /* a region up to the next sound record */
    const uint8_t *next = memmem(b + pos + 1, size - pos - 1, SYNC, 4);
    pos = next ? (size_t)(next - b) : size;
  }
}

/* Format 2 has no sync word: after damage, the next offset where a whole record checks (a
 * known kind, a length that fits, the bytes' checksum; a span starts with its trace id field,
 * marks end with a NUL), tried cheapest test first. */
static bool v2_record_at(const uint8_t *b, size_t size, size_t pos, size_t *len, int *kind) {
  if (size - pos < 9) return false;
  *len = get_u32(b + pos), *kind = b[pos + 8];
  if ((*kind != SPOOL_SPAN && *kind != SPOOL_MARKS) || *len > RECORD_MAX || *len > size - pos - 9)
    return false;
  const uint8_t *data = b + pos + 9;
  if (*kind == SPOOL_SPAN && (*len < 2 || data[0] != 0x0a || data[1] != 0x10)) return false;
  if (*kind == SPOOL_MARKS && (*len == 0 || data[*len - 1] != 0)) return false;
  uint8_t k = (uint8_t)*kind;
  return (uint32_t)crc32(crc32(0L, &k, 1), data, (uInt)*len) == get_u32(b + pos + 4);
}

static void scan_v2(const uint8_t *b, size_t size, size_t pos, scan *sc) {
  while (pos < size) {
    size_t len;
    int kind;
    if (v2_record_at(b, size, pos, &len, &kind)) {
      scan_kind(sc, pos + 9, len, kind);
      pos += 9 + len;
      continue;
    }
    /* a record of another kind that checks: another version's (only its kind is unknown) */
    if (size - pos >= 9 && (len = get_u32(b + pos)) <= size - pos - 9 && len <= RECORD_MAX) {
      uint8_t k = b[pos + 8];
      if (k != SPOOL_SPAN && k != SPOOL_MARKS &&
          (uint32_t)crc32(crc32(0L, &k, 1), b + pos + 9, (uInt)len) == get_u32(b + pos + 4)) {
        scan_kind(sc, pos + 9, len, k);
        pos += 9 + len;
        continue;
      }
    }
    sc->damaged++;
    for (pos++; pos < size && !v2_record_at(b, size, pos, &len, &kind); pos++) {}
  }
}

static void scan_v1(const uint8_t *b, size_t size, size_t pos, scan *sc) {
  while (pos < size) {
    if (size - pos < 8) {
      sc->damaged++;
      break;
    }
    size_t len = get_u32(b + pos);
    if (len > RECORD_MAX || len > size - pos - 8) {
      sc->damaged++;
      break;
    }
    if (crc(b + pos + 8, len) == get_u32(b + pos + 4)) scan_add(sc, pos + 8, len, SPOOL_SPAN);
    else sc->damaged++;
    pos += 8 + len;
  }
}

/* The whole file, read (NULL when it cannot be). */
static uint8_t *read_file(int fd, const platform_info *info, size_t *size) {
  if (info->kind != PLATFORM_FILE || info->size < 0) return NULL;
  *size = (size_t)info->size;
  uint8_t *b = malloc(*size ? *size : 1);
  size_t got = 0;
  while (b && got < *size) {
    int64_t n = platform_read_at(fd, b + got, *size - got, (int64_t)got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (b && got < *size) free(b), b = NULL;
  return b;
}

/* How old a file is (spool_record_fn): by the steady clock when it was written since this
 * boot, else by the wall clock, never negative. */
static int64_t file_age_ms(const uint8_t *header, bool sound, int64_t mtime_ms) {
  int64_t wall_now = wallclock_ms();
  if (!sound) {
    int64_t age = wall_now - mtime_ms;
    return age > 0 ? age : 0;
  }
  uint8_t boot[16], zero[16] = {0};
  wallclock_boot_id(boot);
  int64_t wall = (int64_t)get_u64(header), steady = (int64_t)get_u64(header + 8);
  if (memcmp(boot, zero, 16) != 0 && memcmp(boot, header + 16, 16) == 0) {
    int64_t age = wallclock_steady_ms() - steady;
    return age > 0 ? age : 0;
  }
  return wall_now - wall > 0 ? wall_now - wall : 0;
}

typedef enum { LOAD_USED, LOAD_EMPTY, LOAD_FOREIGN } load_result;

/* Reads one file's records into fn: its damaged ones are skipped (counted in stats and
 * logged), and nothing of a file of another version is read. A link, FIFO or anything else
 * not a regular file at a spool file's name is refused (logged) and removed: a spool file is
 * only ever made by a rename of our own temp file. */
/* One destination's marker: [magic "OATDONE1"][u32 count][u32 crc32 of the 12 bytes before].
 * 0 and *count set when sound. */
#define MARKER_MAGIC "OATDONE1"
#define MARKER_LEN 16
static int read_marker(const char *path, uint32_t *count) {
  int fd = platform_open(path, PLATFORM_READ);
  if (fd < 0) return -1;
  uint8_t b[MARKER_LEN];
  int64_t n = platform_read_at(fd, b, sizeof b, 0);
  platform_close(fd);
  if (n != MARKER_LEN || memcmp(b, MARKER_MAGIC, 8) != 0 || crc(b, 12) != get_u32(b + 12))
    return -1;
  *count = get_u32(b + 8);
  return 0;
}

typedef struct {
  uint32_t key, count;
} marker;

static load_result load_file(const char *path, uint64_t id, spool_record_fn fn, void *ctx,
                             spool_load_stats *stats, const marker *markers, size_t n_markers) {
  int fd = platform_open(path, PLATFORM_READ);
  if (fd < 0) {
    if (errno == ELOOP || errno == PLATFORM_ENOTFILE || errno == EISDIR) {
      log_warn("spool file %s: %s; skipped", path, platform_error_text(errno));
      return LOAD_EMPTY; /* planted: removed */
    }
    return LOAD_FOREIGN; /* cannot tell: left */
  }
  platform_info info;
  size_t size = 0;
  uint8_t *b = platform_file_info(fd, &info) == 0 ? read_file(fd, &info, &size) : NULL;
  platform_close(fd);
  if (!b) return LOAD_FOREIGN;
  int format = format_of(b, size);
  if (format == 0) {
    log_warn("spool file %s is not of a format this version reads; left untouched for the "
             "version that wrote it",
             path);
    free(b);
    stats->foreign_files++;
    return LOAD_FOREIGN;
  }
  scan sc = {0};
  size_t pos = MAGIC_LEN;
  bool header_sound = false;
  size_t declared_spans = 0;
  if (format == 3) {
    header_sound = size >= MAGIC_LEN + HEADER_LEN &&
                   crc(b + MAGIC_LEN, HEADER_LEN - 4) == get_u32(b + MAGIC_LEN + HEADER_LEN - 4);
    if (header_sound) declared_spans = get_u32(b + MAGIC_LEN + 32);
    pos += HEADER_LEN;
    if (!header_sound) sc.damaged++;
    scan_v3(b, size, pos < size ? pos : size, &sc);
  } else if (format == 2) {
    scan_v2(b, size, pos, &sc);
  } else {
    scan_v1(b, size, pos, &sc);
  }
  if (sc.foreign) {
    log_warn("spool file %s holds records of a kind this version does not know; left untouched "
             "for the version that wrote it",
             path);
    free(sc.items);
    free(b);
    stats->foreign_files++;
    return LOAD_FOREIGN;
  }
  int64_t age = file_age_ms(b + MAGIC_LEN, header_sound, info.mtime_ns / 1000000);
  /* Each destination's progress through the file, before its records (spool.h). After damage
   * a record's position is not known: the markers are not passed, so every destination gets the
   * file's spans again (doubled, never lost). */
  bool exact = !sc.damaged && (format != 3 || header_sound);
  for (size_t k = 0; exact && k < n_markers; k++) {
    uint8_t *data = malloc(8);
    if (!data) continue;
    put_u32(data, markers[k].key), put_u32(data + 4, markers[k].count);
    fn(ctx, id, age, SPOOL_DONE, data, 8);
  }
  size_t spans = 0;
  for (size_t i = 0; i < sc.n; i++) {
    uint8_t *data = malloc(sc.items[i].len ? sc.items[i].len : 1);
    if (!data) continue; /* out of memory: that record waits for a later load */
    memcpy(data, b + sc.items[i].at, sc.items[i].len);
    spans += sc.items[i].kind == SPOOL_SPAN;
    fn(ctx, id, age, sc.items[i].kind, data, sc.items[i].len);
  }
  size_t lost = 0;
  if (header_sound) lost = declared_spans > spans ? declared_spans - spans : 0;
  else if (sc.damaged) lost = sc.damaged > sc.damaged_spans ? sc.damaged : sc.damaged_spans;
  if (sc.damaged || lost) {
    log_warn("spool file %s: %zu damaged record%s skipped, %zu spans lost to it%s; the file's %zu "
             "sound spans still load",
             path, sc.damaged, sc.damaged == 1 ? "" : "s", lost,
             header_sound ? "" : " (at least: its header is damaged too)", spans);
    stats->damaged_spans += lost;
  }
  stats->spans += spans;
  free(sc.items);
  free(b);
  return spans ? LOAD_USED : LOAD_EMPTY;
}

size_t spool_load(spool *sp, spool_record_fn fn, void *ctx, spool_load_stats *stats,
                  const int *stop) {
  spool_load_stats own = {0};
  if (!stats) stats = &own;
  *stats = (spool_load_stats){0};
  sp->foreign_seen = &stats->foreign_files;
  platform_dir *d = platform_dir_open(sp->root);
  if (d) {
    const char *name;
    const char *mine = platform_last_separator(sp->dir) + 1;
    while ((name = platform_dir_next(d)) && !(stop && __atomic_load_n(stop, __ATOMIC_RELAXED))) {
      if (name[0] == '.' || strcmp(name, mine) == 0) continue;
      char *other = files_join(sp->root, name);
      platform_info info;
      if (other && platform_path_info(other, &info) == 0 && info.kind == PLATFORM_DIRECTORY)
        adopt(sp, other);
      free(other);
    }
    platform_dir_close(d);
  }
  sp->foreign_seen = NULL;
  size_t count = 0, n_markers = 0, next_marker = 0;
  char **names = list_files(sp->dir, &count);
  char **marker_names = list_names(sp->dir, &n_markers, is_marker_file);
  for (size_t i = 0; i < count; i++) {
    uint64_t id = strtoull(names[i], NULL, 16);
    /* both lists are sorted by id: the markers of this file, and orphans before it */
    marker found[SPOOL_MAX_KEYS];
    size_t n_found = 0;
    for (; next_marker < n_markers; next_marker++) {
      int cmp = strncmp(marker_names[next_marker], names[i], 16);
      if (cmp > 0) break;
      char *mp = files_join(sp->dir, marker_names[next_marker]);
      uint32_t done = 0;
      if (cmp < 0) { /* its file is gone */
        if (mp) platform_remove(mp);
      } else if (mp && read_marker(mp, &done) == 0 && n_found < SPOOL_MAX_KEYS) {
        uint32_t key = (uint32_t)strtoul(marker_names[next_marker] + 17, NULL, 16);
        found[n_found++] = (marker){key, done};
        pthread_mutex_lock(&sp->lock);
        know_key_locked(sp, key);
        pthread_mutex_unlock(&sp->lock);
      }
      free(mp);
    }
    pthread_mutex_lock(&sp->lock);
    if (id >= sp->next_id) sp->next_id = id + 1;
    pthread_mutex_unlock(&sp->lock);
    if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED)) continue; /* left for the next start */
    char *path = files_join(sp->dir, names[i]);
    load_result r = path ? load_file(path, id, fn, ctx, stats, found, n_found) : LOAD_FOREIGN;
    if (r == LOAD_EMPTY) spool_remove(sp, id); /* ours, and nothing sound in it */
    free(path);
  }
  for (; next_marker < n_markers; next_marker++) { /* orphans after the last file */
    char *mp = files_join(sp->dir, marker_names[next_marker]);
    if (mp) platform_remove(mp);
    free(mp);
  }
  free_names(names, count);
  free_names(marker_names, n_markers);
  return stats->spans;
}

/* spool_write's output: records are copied into a small buffer written whenever it fills, and a
 * large record goes from its own memory; a file of a whole export batch (megabytes) is neither
 * copied whole nor held twice. */
#define WRITE_STAGE (256u * 1024)
#define WRITE_DIRECT (32u * 1024) /* a record from this size on is written where it lies */

typedef struct {
  int fd;
  uint8_t *buf;
  size_t used;
  bool ok;
} staged;

static void stage_flush(staged *w) {
  if (w->ok && w->used && files_write_all(w->fd, w->buf, w->used) != 0) w->ok = false;
  w->used = 0;
}

static void stage_put(staged *w, const uint8_t *data, size_t len) {
  if (w->used + len > WRITE_STAGE) stage_flush(w);
  if (len >= WRITE_DIRECT) {
    stage_flush(w);
    if (w->ok && files_write_all(w->fd, data, len) != 0) w->ok = false;
    return;
  }
  memcpy(w->buf + w->used, data, len);
  w->used += len;
}

uint64_t spool_write(spool *sp, const spool_item *items, size_t n, int64_t born_ms) {
  size_t spans = 0;
  for (size_t i = 0; i < n; i++) spans += items[i].kind == SPOOL_SPAN;
  staged w = {.fd = -1, .buf = malloc(WRITE_STAGE), .ok = true};
  uint64_t id = take_id(sp);
  char name[32];
  file_name(id, name);
  char *path = files_join(sp->dir, name), *tmp = NULL;
  bool ok = w.buf && path;
  int64_t steady_now = wallclock_steady_ms(), wall_now = wallclock_ms();
  if (born_ms == 0 || born_ms > steady_now) born_ms = steady_now; /* before boot: allowed */
  int64_t born_wall = wall_now - (steady_now - born_ms);
  if (ok) {
    pthread_mutex_lock(&sp->lock);
    bool sync = sp->sync;
    pthread_mutex_unlock(&sp->lock);
    /* ".<name>.<random>.tmp", created exclusively: is_temp_file's pattern */
    int fd = platform_create_temp(path, &tmp);
    w.fd = fd, w.ok = fd >= 0;
    uint8_t head[MAGIC_LEN + HEADER_LEN], *p = head;
    memcpy(p, MAGIC, MAGIC_LEN);
    p += MAGIC_LEN;
    put_u64(p, (uint64_t)born_wall);
    put_u64(p + 8, (uint64_t)born_ms);
    wallclock_boot_id(p + 16);
    put_u32(p + 32, (uint32_t)spans);
    put_u32(p + 36, (uint32_t)n);
    put_u32(p + 40, crc(p, HEADER_LEN - 4));
    stage_put(&w, head, sizeof head);
    for (size_t i = 0; i < n && w.ok; i++) {
      uint8_t rec[RECORD_HEAD];
      memcpy(rec, SYNC, 4);
      put_u32(rec + 4, (uint32_t)items[i].len);
      rec[8] = (uint8_t)items[i].kind;
      put_u32(rec + 9, crc(rec + 4, 5));
      put_u32(rec + 13, crc(items[i].data, items[i].len));
      stage_put(&w, rec, sizeof rec);
      stage_put(&w, items[i].data, items[i].len);
    }
    stage_flush(&w);
    ok = w.ok && (!sync || platform_sync_file(fd) == 0);
    /* the mtime is the wall clock of the oldest span (status, older readers) */
    if (ok) platform_set_mtime(fd, born_wall / 1000);
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
  free(w.buf);
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
  /* then its markers (a crash between leaves orphans, removed at load) */
  pthread_mutex_lock(&sp->lock);
  uint32_t keys[SPOOL_MAX_KEYS];
  size_t n = sp->n_keys;
  memcpy(keys, sp->keys, n * sizeof *keys);
  pthread_mutex_unlock(&sp->lock);
  for (size_t i = 0; i < n; i++) {
    char done[40];
    marker_name(file_id, keys[i], done);
    char *mp = files_join(sp->dir, done);
    if (mp) platform_remove(mp);
    free(mp);
  }
}

int spool_mark_done(spool *sp, uint64_t file_id, uint32_t key, uint32_t count) {
  uint8_t b[MARKER_LEN];
  memcpy(b, MARKER_MAGIC, 8);
  put_u32(b + 8, count);
  put_u32(b + 12, crc(b, 12));
  char done[40];
  marker_name(file_id, key, done);
  pthread_mutex_lock(&sp->lock);
  know_key_locked(sp, key);
  bool sync = sp->sync;
  pthread_mutex_unlock(&sp->lock);
  char *path = files_join(sp->dir, done), *tmp = NULL;
  int fd = path ? platform_create_temp(path, &tmp) : -1;
  bool ok =
      fd >= 0 && files_write_all(fd, b, sizeof b) == 0 && (!sync || platform_sync_file(fd) == 0);
  if (fd >= 0 && platform_close(fd) != 0) ok = false;
  ok = ok && platform_replace(tmp, path) == 0;
  if (!ok && tmp) platform_remove(tmp);
  else if (ok && sync) fsync_dir(sp->dir);
  free(path);
  free(tmp);
  return ok ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* The census (spool_census_json): counts only, nothing opened for writing, nothing locked     */

/* The spans one file holds, as the loader would find them: format 3's header count when the
 * header checks (cheap: the header alone is read), else the sound span records. */
static size_t census_file_spans(const char *path, size_t *bytes) {
  int fd = platform_open(path, PLATFORM_READ);
  if (fd < 0) return 0;
  platform_info info;
  size_t size = 0, spans = 0;
  if (platform_file_info(fd, &info) != 0 || info.kind != PLATFORM_FILE) {
    platform_close(fd);
    return 0;
  }
  *bytes += (size_t)info.size;
  uint8_t head[MAGIC_LEN + HEADER_LEN];
  int64_t n = platform_read_at(fd, head, sizeof head, 0);
  if (n == (int64_t)sizeof head && format_of(head, sizeof head) == 3 &&
      crc(head + MAGIC_LEN, HEADER_LEN - 4) == get_u32(head + MAGIC_LEN + HEADER_LEN - 4)) {
    platform_close(fd);
    return get_u32(head + MAGIC_LEN + 32);
  }
  uint8_t *b =
      n >= (int64_t)MAGIC_LEN && format_of(head, (size_t)n) ? read_file(fd, &info, &size) : NULL;
  platform_close(fd);
  if (!b) return 0; /* another version's, or unreadable: bytes only */
  scan sc = {0};
  int format = format_of(b, size);
  if (format == 3)
    scan_v3(b, size, size < MAGIC_LEN + HEADER_LEN ? size : MAGIC_LEN + HEADER_LEN, &sc);
  else if (format == 2) scan_v2(b, size, MAGIC_LEN, &sc);
  else scan_v1(b, size, MAGIC_LEN, &sc);
  for (size_t i = 0; !sc.foreign && i < sc.n; i++) spans += sc.items[i].kind == SPOOL_SPAN;
  free(sc.items);
  free(b);
  return sc.foreign ? 0 : spans;
}

static json_t *census_dir(const char *dir, const char *name, const char *const *names,
                          const uint32_t *keys, size_t n) {
  char *end;
  long pid = strtol(name, &end, 10);
  bool has_pid = end != name && *end == '-' && pid > 0;
  size_t files = 0, spans = 0, bytes = 0, pending[SPOOL_MAX_KEYS] = {0};
  platform_dir *d = platform_dir_open(dir);
  const char *f;
  while (d && (f = platform_dir_next(d))) {
    if (!is_spool_file(f)) continue;
    char *path = files_join(dir, f);
    if (!path) continue;
    size_t s = census_file_spans(path, &bytes);
    files++, spans += s;
    uint64_t id = strtoull(f, NULL, 16);
    for (size_t k = 0; k < n && k < SPOOL_MAX_KEYS; k++) {
      char mname[40];
      marker_name(id, keys[k], mname);
      char *mpath = files_join(dir, mname);
      uint32_t done = 0;
      if (!mpath || read_marker(mpath, &done) != 0) done = 0;
      free(mpath);
      pending[k] += s > done ? s - done : 0;
    }
    free(path);
  }
  if (d) platform_dir_close(d);
  bool live = has_pid && platform_process_alive(pid);
  if (!files && !live) return NULL;
  json_t *p = json_object();
  for (size_t k = 0; p && k < n && k < SPOOL_MAX_KEYS; k++)
    json_object_set_new(p, names[k], json_integer((json_int_t)pending[k]));
  return json_pack("{s:s, s:o, s:b, s:I, s:I, s:I, s:o}", "dir", dir, "pid",
                   has_pid ? json_integer(pid) : json_null(), "live", live, "files",
                   (json_int_t)files, "spans", (json_int_t)spans, "bytes", (json_int_t)bytes,
                   "pending", p ? p : json_object());
}

char *spool_census_json(const char *root, const char *const *names, const uint32_t *keys,
                        size_t n) {
  json_t *list = json_array();
  platform_dir *d = root ? platform_dir_open(root) : NULL;
  const char *name;
  while (list && d && (name = platform_dir_next(d))) {
    if (name[0] == '.') continue;
    char *dir = files_join(root, name);
    platform_info info;
    if (dir && platform_path_info(dir, &info) == 0 && info.kind == PLATFORM_DIRECTORY) {
      json_t *one = census_dir(dir, name, names, keys, n);
      if (one) json_array_append_new(list, one);
    }
    free(dir);
  }
  if (d) platform_dir_close(d);
  char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
  json_decref(list);
  return text;
}
