/* state — the dedup set, in memory and in one append-only file per session; see state.h.
 *
 * File format: a header line "oat-state 1", then one key per line. Appends are single
 * write()s under the file's lock (platform_lock), so two processes never interleave; reads
 * take no lock; a torn last line (a crash, or an append under way) is left unread and, after a
 * crash, terminated before the next append.
 */
#include "state.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "hash.h"
#include "log.h"
#include "platform.h"

#define HEADER "oat-state 1\n"
#define HEADER_LEN (sizeof HEADER - 1)
#define SUFFIX ".state"

/* ------------------------------------------------------------------------------------------ */
/* keyset: an open-addressing hash set of "session\x1fkey" strings.                            */

typedef struct {
  char **slots; /* NULL = empty; owned strings */
  size_t cap;   /* power of two */
  size_t len;
} keyset;

/* FNV-1a over session, a unit separator, then key: the same bytes the stored string has. */
static uint64_t key_hash(const char *session_id, const char *key) {
  uint64_t h = 1469598103934665603ULL;
  for (const char *p = session_id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  h = (h ^ 0x1f) * 1099511628211ULL;
  for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  return h;
}

static bool key_equals(const char *stored, const char *session_id, const char *key) {
  size_t n = strlen(session_id);
  return strncmp(stored, session_id, n) == 0 && stored[n] == 0x1f &&
         strcmp(stored + n + 1, key) == 0;
}

/* The slot holding (session, key), or the empty slot where it would go. */
static size_t find_slot(char *const *slots, size_t cap, const char *session_id, const char *key) {
  size_t i = (size_t)key_hash(session_id, key) & (cap - 1);
  while (slots[i] && !key_equals(slots[i], session_id, key)) i = (i + 1) & (cap - 1);
  return i;
}

static bool keyset_has(const keyset *k, const char *session_id, const char *key) {
  return k->cap && k->slots[find_slot(k->slots, k->cap, session_id, key)] != NULL;
}

/* Doubles the table, keeping the load factor under one half so probes stay short. Session
 * ids never hold 0x1f (reconcile rejects control characters), so the first one splits. */
static int keyset_grow(keyset *k) {
  size_t cap = k->cap ? k->cap * 2 : 64;
  char **slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < k->cap; i++) {
    char *s = k->slots[i];
    if (!s) continue;
    char *sep = strchr(s, 0x1f);
    *sep = '\0';
    slots[find_slot(slots, cap, s, sep + 1)] = s;
    *sep = 0x1f;
  }
  free(k->slots);
  k->slots = slots, k->cap = cap;
  return 0;
}

/* Adds (session, key); 1 when added, 0 when present, -1 when out of memory. */
static int keyset_add(keyset *k, const char *session_id, const char *key) {
  if ((k->len + 1) * 2 > k->cap && keyset_grow(k) != 0) return -1;
  size_t i = find_slot(k->slots, k->cap, session_id, key);
  if (k->slots[i]) return 0;
  size_t ns = strlen(session_id), nk = strlen(key);
  char *s = malloc(ns + nk + 2);
  if (!s) return -1;
  memcpy(s, session_id, ns);
  s[ns] = 0x1f;
  memcpy(s + ns + 1, key, nk + 1);
  k->slots[i] = s;
  k->len++;
  return 1;
}

/* Drops every key of session, rehashing the rest. */
static void keyset_remove_session(keyset *k, const char *session_id) {
  keyset kept = {0};
  size_t n = strlen(session_id);
  for (size_t i = 0; i < k->cap; i++) {
    char *s = k->slots[i];
    if (!s) continue;
    if (strncmp(s, session_id, n) == 0 && s[n] == 0x1f) {
      free(s);
      continue;
    }
    if ((kept.len + 1) * 2 > kept.cap && keyset_grow(&kept) != 0) { /* no memory: keep it all */
      free(kept.slots);
      return;
    }
    char *sep = strchr(s, 0x1f);
    *sep = '\0';
    kept.slots[find_slot(kept.slots, kept.cap, s, sep + 1)] = s;
    *sep = 0x1f;
    kept.len++;
  }
  free(k->slots);
  *k = kept;
}

static void keyset_clear(keyset *k) {
  for (size_t i = 0; i < k->cap; i++) free(k->slots[i]);
  free(k->slots);
  memset(k, 0, sizeof *k);
}

/* ------------------------------------------------------------------------------------------ */
/* Per-session file bookkeeping                                                                */

typedef struct session_file {
  char *session_id;
  uint64_t ino;   /* identity of the file last read */
  int64_t loaded; /* bytes of it already read into the set */
  uint64_t used;  /* the tick of its last begin: the least recently used is evicted first */
  bool in_memory; /* its keys are in the set */
  char *anchor;   /* the greatest STATE_ANCHOR_PREFIX key seen (owned), or NULL */
  struct session_file *next;
} session_file;

/* Sessions whose keys stay in memory at once. A long-running OpenCode (serve, the desktop app)
 * sees many sessions; an evicted one is read back from its file on its next begin. */
#define SESSIONS_IN_MEMORY 32

struct state {
  char *dir; /* NULL: memory only */
  keyset committed, pending;
  pthread_mutex_t handed_lock; /* guards handed and recorded (the writer thread moves keys) */
  keyset handed;               /* handed over, not yet recorded in the file */
  keyset recorded; /* recorded by the writer since the last begin: seen, until begin moves them
                    * into committed (a begin may have read the file before they reached it) */
  session_file *files;
  uint64_t tick;
  /* the open session (between begin and commit/rollback) */
  char *open_session;
  int open_fd;     /* -1 when memory only, the file is unusable or not made yet; read-only */
  char *open_path; /* its path (NULL: memory only), to write through a second descriptor */
  session_file *open_file;
};

void state_file_name(const char *session_id, char out[STATE_NAME_MAX]) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)session_id; *p && n < STATE_NAME_MAX - 64;
       p++) {
    bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '_' || *p == '-';
    if (plain) {
      out[n++] = (char)*p;
    } else {
      out[n++] = '%', out[n++] = hex[*p >> 4], out[n++] = hex[*p & 15];
    }
  }
  if (n >= STATE_NAME_MAX - 64) { /* a long id: a prefix plus a hash of the whole */
    uint8_t h[8];
    const char *parts[] = {session_id};
    hash_id(h, sizeof h, parts, 1);
    out[n++] = '~';
    for (size_t i = 0; i < sizeof h; i++) out[n++] = hex[h[i] >> 4], out[n++] = hex[h[i] & 15];
  }
  memcpy(out + n, SUFFIX, sizeof SUFFIX);
}

static session_file *find_file(const state *st, const char *session_id) {
  for (session_file *f = st->files; f; f = f->next)
    if (strcmp(f->session_id, session_id) == 0) return f;
  return NULL;
}

static session_file *file_for(state *st, const char *session_id) {
  session_file *f = find_file(st, session_id);
  if (f) return f;
  f = calloc(1, sizeof *f);
  if (!f || !(f->session_id = strdup(session_id))) {
    free(f);
    return NULL;
  }
  f->next = st->files;
  st->files = f;
  return f;
}

/* Remembers key as f's anchor when it is one and greater than the one held. */
static void note_anchor(session_file *f, const char *key) {
  static const size_t n = sizeof STATE_ANCHOR_PREFIX - 1;
  if (!f || strncmp(key, STATE_ANCHOR_PREFIX, n) != 0) return;
  if (f->anchor && strcmp(key, f->anchor) <= 0) return;
  char *copy = strdup(key);
  if (!copy) return; /* out of memory: the older anchor stays, a count starts unknown */
  free(f->anchor);
  f->anchor = copy;
}

const char *state_anchor(const state *st, const char *session_id) {
  const session_file *f = find_file(st, session_id);
  return f ? f->anchor : NULL;
}

state *state_new(const char *dir) {
  state *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->open_fd = -1;
  pthread_mutex_init(&st->handed_lock, NULL);
  if (dir) {
    if (files_mkdir_p(dir) == 0) {
      st->dir = strdup(dir);
      if (!st->dir) {
        free(st);
        return NULL;
      }
    } else {
      log_warn("state directory %s is not usable (%s); what was sent is remembered in memory only",
               dir, strerror(errno));
    }
  }
  return st;
}

void state_free(state *st) {
  if (!st) return;
  state_rollback(st);
  keyset_clear(&st->committed);
  keyset_clear(&st->pending);
  keyset_clear(&st->handed);
  keyset_clear(&st->recorded);
  pthread_mutex_destroy(&st->handed_lock);
  for (session_file *f = st->files, *next; f; f = next) {
    next = f->next;
    free(f->session_id);
    free(f->anchor);
    free(f);
  }
  free(st->dir);
  free(st);
}

/* The session file opened for writing, beside the read-only descriptor that holds its lock
 * (the lock belongs to that descriptor: closing this one keeps it). Opening a file for writing
 * and closing it are what can wait on the file system's journal, so the reconcile path reads
 * only; writes are for the rare reset and the roll-forward. -1 on failure. Session files are
 * never opened through a link or a FIFO planted at their path (platform_open): a FIFO would
 * hold the open, and with it OpenCode's thread, forever. */
static int open_for_reading(const char *path) {
  return platform_open(path, PLATFORM_READ | PLATFORM_NO_ATIME);
}

static int open_for_writing(const char *path) {
  return path ? platform_open(path, PLATFORM_APPEND) : -1;
}

/* Starts a session file afresh: truncated, with just the header; under the lock, and only if
 * it still does not start with the header (another process may have just written it). */
static void reset_file(const char *path, session_file *f) {
  f->loaded = 0;
  int fd = path ? platform_open(path, PLATFORM_READ | PLATFORM_WRITE) : -1;
  if (fd < 0) return;
  char head[HEADER_LEN];
  if (platform_lock(fd) == 0) {
    if (platform_read_at(fd, head, HEADER_LEN, 0) == (int64_t)HEADER_LEN &&
        memcmp(head, HEADER, HEADER_LEN) == 0)
      f->loaded = 0; /* ours after all: read it whole next time */
    else if (platform_truncate(fd, 0) == 0 &&
             platform_write_at(fd, HEADER, HEADER_LEN, 0) == (int64_t)HEADER_LEN)
      f->loaded = (int64_t)HEADER_LEN;
  }
  platform_close(fd); /* drops the lock */
}

/* Reads the keys appended since f->loaded (by us or another process). */
static void read_new_keys(state *st, int fd, session_file *f, const char *path) {
  platform_info sb;
  if (platform_file_info(fd, &sb) != 0) return;
  if (sb.identity != f->ino || sb.size < f->loaded) f->loaded = 0; /* replaced or truncated */
  f->ino = sb.identity;
  if (sb.size == 0) {
    f->loaded = 0; /* a new file: its first append writes the header */
    return;
  }
  if (sb.size == f->loaded) return;
  size_t len = (size_t)(sb.size - f->loaded);
  char *buf = malloc(len + 1);
  if (!buf) return;
  int64_t got = platform_read_at(fd, buf, len, f->loaded);
  if (got != (int64_t)len) {
    free(buf);
    return;
  }
  buf[len] = '\0';
  char *p = buf;
  if (f->loaded == 0) {
    if (len < HEADER_LEN && memcmp(buf, HEADER, len) == 0) { /* a header being written: later */
      free(buf);
      return;
    }
    if (len < HEADER_LEN || memcmp(buf, HEADER, HEADER_LEN) != 0) {
      log_warn("state file %s is not ours or is corrupt; starting it afresh (spans of that "
               "session may be sent again; backends keep one copy per span id)",
               path);
      reset_file(path, f);
      free(buf);
      return;
    }
    p += HEADER_LEN;
  }
  char *end = buf + len, *line;
  while (p < end && (line = memchr(p, '\n', (size_t)(end - p)))) {
    *line = '\0';
    if (*p) note_anchor(f, p);
    if (*p && keyset_add(&st->committed, f->session_id, p) < 0) break;
    p = line + 1;
  }
  /* a torn last line stays unread: the next append starts a new line */
  f->loaded += (int64_t)(p - buf);
  free(buf);
}

/* Forgets the keys of the least recently used sessions beyond SESSIONS_IN_MEMORY (never
 * current): their files hold them. */
static void evict(state *st, const session_file *current) {
  size_t resident = 0;
  for (session_file *f = st->files; f; f = f->next) resident += f->in_memory;
  while (resident > SESSIONS_IN_MEMORY) {
    session_file *oldest = NULL;
    for (session_file *f = st->files; f; f = f->next)
      if (f->in_memory && f != current && (!oldest || f->used < oldest->used)) oldest = f;
    if (!oldest) return;
    keyset_remove_session(&st->committed, oldest->session_id);
    oldest->in_memory = false;
    oldest->loaded = 0; /* read it whole next time */
    oldest->ino = 0;
    resident--;
  }
}

/* Moves the keys the writer recorded into committed (those of sessions whose keys are in
 * memory; an evicted session reads its file whole on its next begin). Before the file is read:
 * a key the writer records meanwhile stays in recorded, seen, until the next begin. */
static void drain_recorded(state *st) {
  pthread_mutex_lock(&st->handed_lock);
  for (size_t i = 0; st->recorded.len && i < st->recorded.cap; i++) {
    char *s = st->recorded.slots[i];
    if (!s) continue;
    char *sep = strchr(s, 0x1f);
    *sep = '\0';
    const session_file *f = find_file(st, s);
    if (f && f->in_memory)
      keyset_add(&st->committed, s, sep + 1); /* out of memory: the file has it */
    *sep = 0x1f;
  }
  keyset_clear(&st->recorded);
  pthread_mutex_unlock(&st->handed_lock);
}

void state_begin(state *st, const char *session_id) {
  state_rollback(st);
  drain_recorded(st);
  st->open_session = strdup(session_id);
  if (!st->dir || !st->open_session) return;
  session_file *f = file_for(st, session_id);
  if (!f) return;
  f->used = ++st->tick;
  f->in_memory = true;
  evict(st, f);
  char name[STATE_NAME_MAX];
  state_file_name(session_id, name);
  size_t n = strlen(st->dir) + strlen(name) + 2;
  char *path = malloc(n);
  if (!path) return;
  snprintf(path, n, "%s" PLATFORM_SEP "%s", st->dir, name);
  /* Read-only, never O_CREAT, without a lock and O_NOATIME: nothing here waits on another
   * process or the journal (creating a file needs a journal handle, which can wait behind a
   * commit that the spool's fsync started). A new session has no file and nothing to read:
   * its first record creates it (state_record, on the writer thread; or state_commit). */
  int fd = open_for_reading(path);
  if (fd < 0 && errno == ENOENT) {
    f->loaded = 0, f->ino = 0; /* when it appears, it is read whole */
    st->open_path = path;
    st->open_file = f;
    return;
  }
  if (fd < 0) {
    log_warn("state file %s is not usable (%s); this session is de-duplicated in memory only", path,
             platform_error_text(errno));
    free(path);
    return;
  }
  read_new_keys(st, fd, f, path);
  st->open_fd = fd;
  st->open_path = path;
  st->open_file = f;
}

bool state_seen(const state *st, const char *session_id, const char *key) {
  if (keyset_has(&st->committed, session_id, key) || keyset_has(&st->pending, session_id, key))
    return true;
  pthread_mutex_t *lock = (pthread_mutex_t *)&st->handed_lock;
  pthread_mutex_lock(lock);
  bool handed =
      keyset_has(&st->handed, session_id, key) || keyset_has(&st->recorded, session_id, key);
  pthread_mutex_unlock(lock);
  return handed;
}

int state_mark(state *st, const char *session_id, const char *key) {
  if (strncmp(key, STATE_ANCHOR_PREFIX, sizeof STATE_ANCHOR_PREFIX - 1) == 0)
    note_anchor(file_for(st, session_id), key); /* a session without a file keeps one too */
  if (state_seen(st, session_id, key) && !keyset_has(&st->pending, session_id, key)) return 0;
  return keyset_add(&st->pending, session_id, key) < 0 ? -1 : 0;
}

/* Releases the open session's file and lock. */
static void release(state *st) {
  if (st->open_fd >= 0) platform_close(st->open_fd); /* closing drops the lock */
  st->open_fd = -1;
  free(st->open_path);
  st->open_path = NULL;
  st->open_file = NULL;
  free(st->open_session);
  st->open_session = NULL;
}

/* Appends the pending keys of the open session as one write. */
static int append_pending(state *st) {
  session_file *f = st->open_file;
  size_t total = 1 + HEADER_LEN;
  for (size_t i = 0; i < st->pending.cap; i++)
    if (st->pending.slots[i]) total += strlen(strchr(st->pending.slots[i], 0x1f) + 1) + 1;
  char *buf = malloc(total), *p = buf;
  if (!buf) return -1;
  platform_info sb;
  char last = '\n';
  if (platform_lock(st->open_fd) != 0) {
    free(buf);
    return -1;
  }
  bool sized = platform_file_info(st->open_fd, &sb) == 0;
  if (sized && sb.size == 0) { /* a new file starts with its header */
    memcpy(p, HEADER, HEADER_LEN);
    p += HEADER_LEN;
  }
  if (sized && sb.size > 0 && platform_read_at(st->open_fd, &last, 1, sb.size - 1) != 1)
    last = '\n';
  if (last != '\n') *p++ = '\n'; /* after a torn line */
  for (size_t i = 0; i < st->pending.cap; i++) {
    if (!st->pending.slots[i]) continue;
    const char *key = strchr(st->pending.slots[i], 0x1f) + 1;
    size_t n = strlen(key);
    memcpy(p, key, n);
    p += n;
    *p++ = '\n';
  }
  /* we hold the lock: nobody appends between the size check and this write */
  int64_t at = sized ? sb.size : -1;
  int wfd = open_for_writing(st->open_path);
  int64_t wrote = wfd >= 0 ? platform_write(wfd, buf, (size_t)(p - buf)) : -1;
  int saved = errno;
  if (wfd >= 0 && platform_close(wfd) != 0 && wrote >= 0) wrote = -1, saved = errno;
  bool ok = at >= 0 && wrote == p - buf;
  if (ok && f->loaded == at && at > 0) f->loaded += wrote; /* our own keys need no re-read */
  free(buf); /* the lock goes with the file (release) */
  errno = saved;
  return ok ? 0 : -1;
}

int state_commit(state *st) {
  int rc = 0;
  if (st->open_fd < 0 && st->open_path && st->pending.len > 0) /* a new session's first keys */
    st->open_fd = platform_open(st->open_path, PLATFORM_READ | PLATFORM_WRITE | PLATFORM_CREATE);
  if (st->open_path && st->pending.len > 0 && (st->open_fd < 0 || append_pending(st) != 0)) {
    log_warn("cannot record sent spans in the state file (%s); a restart may send them again",
             strerror(errno));
    rc = -1;
  }
  for (size_t i = 0; i < st->pending.cap; i++) {
    char *s = st->pending.slots[i];
    if (!s) continue;
    char *sep = strchr(s, 0x1f);
    *sep = '\0';
    if (keyset_add(&st->committed, s, sep + 1) < 0) rc = -1;
    *sep = 0x1f;
  }
  keyset_clear(&st->pending);
  release(st);
  return rc;
}

void state_rollback(state *st) {
  keyset_clear(&st->pending);
  release(st);
}

size_t state_size(const state *st) { return st->committed.len; }

/* ------------------------------------------------------------------------------------------ */
/* The hand-off: marks recorded only once the spool holds their spans                          */

/* Rebuilds handed without the keys of marks (open addressing has no delete). Lock held. */
static void forget_handed(state *st, const uint8_t *marks, size_t len) {
  const char *session = (const char *)marks, *end = (const char *)marks + len;
  size_t ns = strlen(session);
  keyset kept = {0};
  for (size_t i = 0; i < st->handed.cap; i++) {
    char *s = st->handed.slots[i];
    if (!s) continue;
    bool drop = false;
    if (strncmp(s, session, ns) == 0 && s[ns] == 0x1f)
      for (const char *k = session + ns + 1; k < end && !drop; k += strlen(k) + 1)
        drop = strcmp(s + ns + 1, k) == 0;
    if (drop) {
      free(s);
      continue;
    }
    if ((kept.len + 1) * 2 > kept.cap && keyset_grow(&kept) != 0) { /* keep them all */
      free(kept.slots);
      return;
    }
    char *sep = strchr(s, 0x1f);
    *sep = '\0';
    kept.slots[find_slot(kept.slots, kept.cap, s, sep + 1)] = s;
    *sep = 0x1f;
    kept.len++;
  }
  /* slots of dropped keys were freed above; the old table only lost its pointers */
  free(st->handed.slots);
  st->handed = kept;
}

int state_hand_over(state *st, uint8_t **marks, size_t *len) {
  *marks = NULL;
  *len = 0;
  if (st->pending.len == 0 || !st->open_session) {
    state_rollback(st);
    return 0;
  }
  size_t ns = strlen(st->open_session), total = ns + 1;
  for (size_t i = 0; i < st->pending.cap; i++)
    if (st->pending.slots[i]) total += strlen(st->pending.slots[i]) - ns;
  uint8_t *buf = malloc(total), *p = buf;
  if (!buf) return -1;
  memcpy(p, st->open_session, ns + 1);
  p += ns + 1;
  bool ok = true;
  pthread_mutex_lock(&st->handed_lock);
  for (size_t i = 0; ok && i < st->pending.cap; i++) {
    char *slot = st->pending.slots[i];
    if (!slot) continue;
    char *sep = strchr(slot, 0x1f);
    size_t nk = strlen(sep + 1);
    memcpy(p, sep + 1, nk + 1);
    p += nk + 1;
    *sep = '\0';
    ok = keyset_add(&st->handed, slot, sep + 1) >= 0;
    *sep = 0x1f;
  }
  if (!ok) forget_handed(st, buf, (size_t)(p - buf)); /* undo: pending keys were never handed */
  pthread_mutex_unlock(&st->handed_lock);
  if (!ok) {
    free(buf);
    return -1;
  }
  keyset_clear(&st->pending);
  release(st);
  *marks = buf;
  *len = (size_t)(p - buf);
  return 0;
}

const char *state_marks_each(const uint8_t *marks, size_t len,
                             void (*fn)(void *ctx, const char *session_id, const char *key),
                             void *ctx) {
  if (!marks || len == 0 || marks[len - 1] != '\0') return NULL;
  const char *session = (const char *)marks, *end = (const char *)marks + len;
  for (const char *k = session + strlen(session) + 1; k < end; k += strlen(k) + 1)
    if (*k && fn) fn(ctx, session, k);
  return session;
}

/* ------------------------------------------------------------------------------------------ */
/* The guard: a session's file under its lock, for the writer thread                          */

struct state_guard {
  state *st;
  char *session;
  int fd;      /* read-write, appending; holds the flock */
  keyset keys; /* the keys in the file (under the lock, no other process adds any) */
  bool header; /* the file starts with the header */
};

state_guard *state_guard_open(state *st, const char *session_id) {
  if (!st->dir || !session_id) return NULL;
  char name[STATE_NAME_MAX];
  state_file_name(session_id, name);
  char *path = files_join(st->dir, name);
  state_guard *g = calloc(1, sizeof *g);
  int fd = path ? platform_open(path, PLATFORM_READ | PLATFORM_APPEND | PLATFORM_CREATE) : -1;
  platform_info sb;
  if (!g || fd < 0 || platform_lock(fd) != 0 || platform_file_info(fd, &sb) != 0 ||
      !(g->session = strdup(session_id))) {
    int saved = errno;
    if (fd >= 0) platform_close(fd);
    free(g);
    free(path);
    errno = saved;
    return NULL;
  }
  free(path);
  g->st = st, g->fd = fd;
  size_t len = (size_t)sb.size;
  char *buf = len ? malloc(len + 1) : NULL;
  if (buf && platform_read_at(fd, buf, len, 0) == (int64_t)len) {
    buf[len] = '\0';
    g->header = len >= HEADER_LEN && memcmp(buf, HEADER, HEADER_LEN) == 0;
    char *p = g->header ? buf + HEADER_LEN : buf + len, *end = buf + len, *line;
    while (p < end && (line = memchr(p, '\n', (size_t)(end - p)))) {
      *line = '\0';
      if (*p) keyset_add(&g->keys, session_id, p); /* out of memory: a key unseen, a duplicate */
      p = line + 1;
    }
  }
  free(buf);
  return g;
}

bool state_guard_recorded(const state_guard *g, const char *key) {
  return g && keyset_has(&g->keys, g->session, key);
}

typedef struct {
  state_guard *g;
  char *buf;
  size_t len;
} missing_lines;

static void add_missing(void *ctx, const char *session_id, const char *key) {
  (void)session_id;
  missing_lines *m = ctx;
  if (keyset_has(&m->g->keys, m->g->session, key)) return;
  size_t n = strlen(key);
  memcpy(m->buf + m->len, key, n);
  m->len += n;
  m->buf[m->len++] = '\n';
  keyset_add(&m->g->keys, m->g->session, key);
}

struct moved {
  state *st;
  bool ok;
};

static void add_recorded(void *ctx, const char *session_id, const char *key) {
  struct moved *m = ctx;
  if (keyset_add(&m->st->recorded, session_id, key) < 0) m->ok = false;
}

int state_guard_record(state_guard *g, const uint8_t *marks, size_t len) {
  const char *session = state_marks_each(marks, len, NULL, NULL);
  if (!g || !session || strcmp(session, g->session) != 0) return -1;
  missing_lines m = {.g = g, .buf = malloc(HEADER_LEN + len + 2)};
  if (!m.buf) return -1;
  if (!g->header) memcpy(m.buf, HEADER, HEADER_LEN), m.len = HEADER_LEN;
  m.buf[m.len++] = '\n'; /* a leading newline ends a torn line; empty lines are skipped */
  size_t before = m.len;
  state_marks_each(marks, len, add_missing, &m);
  bool ok = true;
  int saved = 0;
  if (m.len > before || !g->header) {
    platform_info sb;
    if (!g->header && platform_file_info(g->fd, &sb) == 0 && sb.size > 0) /* not ours: afresh */
      ok = platform_truncate(g->fd, 0) == 0;
    ok = ok && files_write_all(g->fd, m.buf, m.len) == 0;
    saved = errno;
    if (ok) g->header = true;
  }
  free(m.buf);
  if (!ok) {
    log_warn("cannot record sent spans in the state file (%s); they are remembered in memory, "
             "and a restart may send them again",
             platform_error_text(saved));
    return -1;
  }
  /* handed -> recorded: still seen by a begin that read the file before this write */
  pthread_mutex_lock(&g->st->handed_lock);
  struct moved moved = {g->st, true};
  state_marks_each(marks, len, add_recorded, &moved);
  if (moved.ok) forget_handed(g->st, marks, len); /* out of memory: they stay handed */
  pthread_mutex_unlock(&g->st->handed_lock);
  return 0;
}

void state_guard_close(state_guard *g) {
  if (!g) return;
  platform_close(g->fd); /* drops the lock */
  keyset_clear(&g->keys);
  free(g->session);
  free(g);
}

int state_record(state *st, const uint8_t *marks, size_t len) {
  const char *session = state_marks_each(marks, len, NULL, NULL);
  if (!session || !st->dir) return -1; /* memory only: they stay handed */
  state_guard *g = state_guard_open(st, session);
  if (!g) {
    log_warn("cannot record sent spans in the state file of session %s (%s); they are remembered "
             "in memory, and a restart may send them again",
             session, platform_error_text(errno));
    return -1;
  }
  int rc = state_guard_record(g, marks, len);
  state_guard_close(g);
  return rc;
}
