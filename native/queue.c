/* queue — a locked singly-linked FIFO of encoded spans with a byte cap, and the writer
 * thread that mirrors it in the spool; see queue.h.
 *
 * Each record knows the spool file holding it (a counted reference, NULL when none does) and
 * the unit it was handed over with until it counts towards that unit's settling. The writer
 * does every disk operation: group-commit writes, rewrites of files that lost some records
 * (so an acked or dropped span is never restored), deletions, and the settle callbacks. The
 * other threads only change the list under the lock, which is never held across I/O.
 */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "platform.h"
#include "wallclock.h"

#define DROP_LOG_INTERVAL_S 60
/* One write's size, when more is waiting: about one export batch (exporter.h), so the first
 * batch of a backlog is durable, and sent, while the next is written. */
#define GROUP_MAX_BYTES (4u * 1024 * 1024)
#define RETRY_INITIAL_MS 500 /* a failed write is tried again after... */
#define RETRY_MAX_MS 10000   /* ...doubling up to this */
#define EXPIRE_INTERVAL_S 60

typedef struct file_ref {
  uint64_t id;
  size_t live;  /* queued records it holds */
  bool partial; /* it also holds records that left the queue: rewrite the rest, then delete */
} file_ref;

typedef struct unit {
  uint8_t *marks;
  size_t len;
  size_t unsettled; /* records not yet durable nor gone */
  size_t lent;      /* records a destination's peek borrowed: the unit is not written meanwhile */
  bool all_durable;
  bool notified; /* its callback ran when a write made it durable */
  struct unit *next_settled;
} unit;

typedef struct node {
  queue_record record;
  file_ref *file;   /* the spool file holding it; NULL: none */
  unit *unit;       /* its unit until it counted towards settling it */
  char *key;        /* its dedup key (owned; NULL: none), for the guard */
  int64_t born;     /* steady clock ms when it was handed over (wallclock_steady_ms) */
  bool writing;     /* the writer is storing it: not sendable, not droppable */
  uint8_t done;     /* per destination slot: it accepted or finally refused this record */
  uint8_t lent;     /* per destination slot: its peek borrowed it (not droppable) */
  uint32_t ordinal; /* its position among the span records of its file (spool markers) */
  struct node *next;
} node;

typedef struct removal {
  uint64_t id;
  struct removal *next;
} removal;

struct queue {
  pthread_mutex_t lock;
  pthread_cond_t wake;   /* to the writer */
  pthread_cond_t synced; /* from the writer: a pass ended */
  node *head, *tail;
  /* Destinations (queue_set_destinations): a slot per destination, its key, and how far it
   * got: every record up to and including after[s] is done for slot s (NULL: look from the
   * head). lent_n[s]: records its peeks borrowed (at most two peeks: a batch being sent and the
   * next one being prepared). */
  uint8_t active;
  uint32_t keys[QUEUE_MAX_DESTINATIONS];
  node *after[QUEUE_MAX_DESTINATIONS];
  size_t lent_n[QUEUE_MAX_DESTINATIONS];
  size_t lent_first[QUEUE_MAX_DESTINATIONS]; /* of them, the oldest peek's (queue_peek_more_for) */
  size_t max_bytes;
  long max_age_s;
  spool *sp; /* owned; NULL: memory only */
  queue_stats stats;
  time_t last_drop_log;
  uint64_t dropped_since_log;
  queue_settled_fn on_settled;
  void *settled_ctx;
  void (*on_written)(void *ctx); /* records became sendable */
  void *written_ctx;
  unit *settled;     /* settled outside the writer: callbacks to run */
  removal *removals; /* spool files to delete */
  bool rescan;       /* a file turned partial or a write failed: look from the head */
  bool blocked;      /* what needs writing waits for the batch in flight: ack/unpeek wake */
  node *scan_from;   /* else the first record that may need a write */
  pthread_t writer;
  bool writer_started, stopping;
  int64_t retry_at_ms; /* a failed write is not tried again before this */
  long retry_ms;
  uint64_t kept_in_memory; /* records handed over while the spool was failing */
  int64_t last_expire;     /* steady ms */
  queue_guard guard;
  bool load_pending; /* the writer loads the spool before anything else */
  int stop_load;     /* set (atomically) to cut a load short at shutdown */
  queue_marks_fn on_marks;
  void (*on_loaded)(void *ctx, const spool_load_stats *stats);
  void *load_ctx;
};

queue *queue_new(size_t max_bytes) {
  queue *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  pthread_mutex_init(&q->lock, NULL);
  wallclock_cond_init(&q->wake);
  wallclock_cond_init(&q->synced);
  q->max_bytes = max_bytes;
  q->active = 1; /* one destination, slot 0, until queue_set_destinations says otherwise */
  q->retry_ms = RETRY_INITIAL_MS;
  q->last_expire = wallclock_steady_ms();
  return q;
}

void queue_on_written(queue *q, void (*fn)(void *ctx), void *ctx) {
  pthread_mutex_lock(&q->lock);
  q->on_written = fn;
  q->written_ctx = ctx;
  pthread_mutex_unlock(&q->lock);
}

void queue_set_guard(queue *q, const queue_guard *guard) {
  pthread_mutex_lock(&q->lock);
  q->guard = *guard;
  pthread_mutex_unlock(&q->lock);
}

void queue_on_settled(queue *q, queue_settled_fn fn, void *ctx) {
  pthread_mutex_lock(&q->lock);
  q->on_settled = fn;
  q->settled_ctx = ctx;
  pthread_mutex_unlock(&q->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* List bookkeeping (lock held)                                                                 */

static void update_done(queue *q) {
  q->stats.done_seq = q->head ? q->head->record.seq - 1 : q->stats.last_seq;
}

/* One record counted towards its unit: durable, or gone. Returns the unit when that settled it
 * (the caller runs or queues its callback). */
static unit *count_towards_unit(node *n, bool durable) {
  unit *u = n->unit;
  if (!u) return NULL;
  n->unit = NULL;
  if (!durable) u->all_durable = false;
  return --u->unsettled == 0 ? u : NULL;
}

static void queue_removal(queue *q, uint64_t id) {
  removal *r = malloc(sizeof *r);
  if (!r) return; /* the file stays: the next process restores it (a duplicate, not a loss) */
  r->id = id;
  r->next = q->removals;
  q->removals = r;
}

/* A record leaves file f: the file goes with its last record; until then it is partial. */
static void leave_file(queue *q, file_ref *f) {
  if (!f) return;
  if (--f->live == 0) {
    queue_removal(q, f->id);
    free(f);
  } else if (!f->partial) {
    f->partial = true;
    q->rescan = true;
  }
}

/* Unlinks and frees victim (prev is the node before it, NULL at the head). */
static void unlink_node(queue *q, node *prev, node *victim) {
  for (int s = 0; s < QUEUE_MAX_DESTINATIONS; s++)
    if (q->after[s] == victim) q->after[s] = prev;
  if (prev) prev->next = victim->next;
  else q->head = victim->next;
  if (q->tail == victim) q->tail = prev;
  if (q->scan_from == victim) q->scan_from = victim->next;
  q->stats.bytes -= victim->record.len;
  q->stats.records--;
  if (!victim->file) q->stats.not_durable--;
  leave_file(q, victim->file);
  unit *u = count_towards_unit(victim, false);
  if (u) u->next_settled = q->settled, q->settled = u;
  free(victim->record.data);
  free(victim->key);
  free(victim);
}

/* Whether the writer must (re)store n: no file holds it, or its file is partial. */
static bool needs_write(const queue *q, const node *n) {
  return q->sp && !n->writing && (!n->file || n->file->partial);
}

static void log_drops_locked(queue *q, bool force) {
  time_t now = (time_t)(wallclock_steady_ms() / 1000);
  if (q->dropped_since_log && (force || now - q->last_drop_log >= DROP_LOG_INTERVAL_S)) {
    log_warn("span queue full (%zu bytes) or spans too old: dropped %llu unsent spans (%llu "
             "in all: %llu for space, %llu for age)",
             q->max_bytes, (unsigned long long)q->dropped_since_log,
             (unsigned long long)(q->stats.dropped_full + q->stats.dropped_old),
             (unsigned long long)q->stats.dropped_full, (unsigned long long)q->stats.dropped_old);
    q->dropped_since_log = 0;
    q->last_drop_log = now;
  }
}

/* Whether every destination is done with n: it may leave the queue. Lock held. */
static bool all_done(const queue *q, const node *n) {
  return (n->done & q->active) == q->active && !n->lent && !n->writing;
}

/* The first droppable record (not lent to a destination, not being written) and its
 * predecessor. */
static node *first_droppable(queue *q, node **prev_out) {
  node *prev = NULL, *it = q->head;
  while (it && (it->writing || it->lent)) prev = it, it = it->next;
  *prev_out = prev;
  return it;
}

/* Drops the oldest records until len more bytes fit, finishing the spool file of the last one
 * dropped (a file's records are dropped together, so its file can go). Lock held. */
static void make_room(queue *q, size_t len) {
  file_ref *last_file = NULL;
  for (;;) {
    node *prev, *victim = first_droppable(q, &prev);
    if (!victim) break;
    bool over = q->stats.bytes + len > q->max_bytes;
    bool same_file = last_file && victim->file == last_file;
    if (!over && !same_file) break;
    /* a file freed by its last record is gone: compare before unlinking */
    last_file = victim->file && victim->file->live > 1 ? victim->file : NULL;
    unlink_node(q, prev, victim);
    q->stats.dropped_full++;
    q->dropped_since_log++;
  }
  log_drops_locked(q, false);
}

/* Appends one record. Lock held. Takes data; returns the node, or NULL when out of memory. */
static node *append(queue *q, uint8_t *data, size_t len, file_ref *file, unit *u, int64_t born) {
  node *n = malloc(sizeof *n);
  if (!n) {
    free(data);
    return NULL;
  }
  *n = (node){.record = {.data = data, .len = len, .seq = ++q->stats.last_seq},
              .file = file,
              .unit = u,
              .born = born};
  if (q->tail) q->tail->next = n;
  else q->head = n;
  q->tail = n;
  q->stats.records++;
  q->stats.bytes += len;
  q->stats.pushed++;
  if (!file) q->stats.not_durable++;
  if (file) file->live++;
  return n;
}

static void start_writer_locked(queue *q);

/* ------------------------------------------------------------------------------------------ */
/* Loading                                                                                      */

/* Drops the loader's reference to the file it was reading. Lock held. */
static void release_loader_ref(queue *q, file_ref *f) {
  if (f && --f->live == 0) { /* every record of it was dropped for space */
    queue_removal(q, f->id);
    free(f);
  }
}

typedef struct {
  queue *q;
  uint64_t file_id;
  file_ref *file;
  queue_marks_fn on_marks;
  void *ctx;
  uint32_t ordinal; /* of the next span record in the file */
  uint32_t done_key[SPOOL_MAX_KEYS], done_count[SPOOL_MAX_KEYS]; /* the file's markers */
  size_t n_done;
  uint64_t done_file; /* the file they belong to */
} loader;

/* The destination slots done with a loaded file's span record number ordinal (its markers).
 * Lock held. */
static uint8_t loaded_done(const queue *q, const loader *l, uint64_t file_id, uint32_t ordinal) {
  uint8_t done = 0;
  if (l->done_file != file_id) return 0;
  for (size_t k = 0; k < l->n_done; k++)
    for (int s = 0; s < QUEUE_MAX_DESTINATIONS; s++)
      if ((q->active & (1u << s)) && q->keys[s] == l->done_key[k] && ordinal < l->done_count[k])
        done |= (uint8_t)(1u << s);
  return done;
}

static void on_loaded(void *ctx, uint64_t file_id, int64_t age_ms, int kind, uint8_t *data,
                      size_t len) {
  loader *l = ctx;
  queue *q = l->q;
  if (kind == SPOOL_DONE) { /* a destination's progress through this file */
    if (l->done_file != file_id) l->done_file = file_id, l->n_done = 0;
    if (len == 8 && l->n_done < SPOOL_MAX_KEYS) {
      l->done_key[l->n_done] = (uint32_t)data[0] | (uint32_t)data[1] << 8 |
                               (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
      l->done_count[l->n_done++] = (uint32_t)data[4] | (uint32_t)data[5] << 8 |
                                   (uint32_t)data[6] << 16 | (uint32_t)data[7] << 24;
    }
    free(data);
    return;
  }
  if (kind == SPOOL_MARKS) {
    if (l->on_marks) l->on_marks(l->ctx, data, len);
    free(data);
    return;
  }
  pthread_mutex_lock(&q->lock);
  if (l->file_id != file_id || !l->file) {
    release_loader_ref(q, l->file);
    l->file = calloc(1, sizeof *l->file);
    l->file_id = file_id;
    l->ordinal = 0;
    if (l->file) l->file->id = file_id, l->file->live = 1; /* the loader's own reference */
  }
  make_room(q, len);
  uint32_t ordinal = l->ordinal++;
  uint8_t done = loaded_done(q, l, file_id, ordinal);
  if (done == q->active) { /* every destination had it: it stays out (the file goes with the
                            * last of its records) */
    free(data);
  } else if (l->file) {
    node *n = append(q, data, len, l->file, NULL, wallclock_steady_ms() - age_ms);
    if (n) n->done = done, n->ordinal = ordinal;
  } else {
    free(data); /* out of memory: the file stays, a later process loads it */
  }
  update_done(q);
  pthread_mutex_unlock(&q->lock);
}

void queue_attach_spool(queue *q, spool *sp, queue_marks_fn on_marks,
                        void (*on_loaded)(void *ctx, const spool_load_stats *stats), void *ctx) {
  pthread_mutex_lock(&q->lock);
  q->sp = sp;
  if (sp) {
    q->load_pending = q->stats.loading = true;
    q->on_marks = on_marks, q->on_loaded = on_loaded, q->load_ctx = ctx;
    start_writer_locked(q);
    pthread_cond_signal(&q->wake);
  }
  pthread_mutex_unlock(&q->lock);
}

size_t queue_wait_loaded(queue *q, long timeout_ms) {
  struct timespec ts = wallclock_deadline(timeout_ms > 0 ? timeout_ms : 0);
  pthread_mutex_lock(&q->lock);
  while (q->load_pending && q->writer_started)
    if (pthread_cond_timedwait(&q->synced, &q->lock, &ts) == ETIMEDOUT) break;
  size_t n = q->stats.loaded.spans;
  pthread_mutex_unlock(&q->lock);
  return n;
}

/* The load, on the writer thread, before it writes anything: the files of earlier processes
 * into the queue, their marks to on_marks. Called without the lock. */
static void load_spool(queue *q) {
  loader l = {.q = q, .on_marks = q->on_marks, .ctx = q->load_ctx};
  spool_load_stats stats;
  spool_load(q->sp, on_loaded, &l, &stats, &q->stop_load);
  /* A file whose every record was dropped for space at load goes now, not at the next start:
   * make_room queued its removal. Files not adopted whole (damaged records) are rewritten by
   * nothing: they go when their last record leaves. */
  pthread_mutex_lock(&q->lock);
  release_loader_ref(q, l.file);
  log_drops_locked(q, true);
  q->stats.loaded = stats;
  /* A load cut short by queue_free is not over: no one hears of it. Its listener would start
   * the exporters again (the tracer stops them before it frees the queue), and a thread then
   * read the queue as it was freed (a crash at exit during a large spool's load). */
  void (*done)(void *, const spool_load_stats *) = q->stopping ? NULL : q->on_loaded;
  void *ctx = q->load_ctx;
  pthread_mutex_unlock(&q->lock);
  if (done) done(ctx, &stats); /* before a waiter hears the load is over: it may flush */
  pthread_mutex_lock(&q->lock);
  q->load_pending = q->stats.loading = false;
  pthread_cond_broadcast(&q->synced);
  void (*written)(void *) = q->on_written;
  void *written_ctx = q->written_ctx;
  pthread_mutex_unlock(&q->lock);
  if (written) written(written_ctx);
}

/* ------------------------------------------------------------------------------------------ */
/* The writer thread                                                                            */

typedef struct {
  node **nodes;
  size_t n, cap;
  spool_item *items;
  size_t n_items, cap_items;
} write_job;

static int job_add_item(write_job *j, int kind, const uint8_t *data, size_t len) {
  if (j->n_items == j->cap_items) {
    size_t cap = j->cap_items ? j->cap_items * 2 : 64;
    spool_item *grown = realloc(j->items, cap * sizeof *grown);
    if (!grown) return -1;
    j->items = grown, j->cap_items = cap;
  }
  j->items[j->n_items++] = (spool_item){.kind = kind, .data = data, .len = len};
  return 0;
}

static int job_add_node(write_job *j, node *n) {
  if (j->n == j->cap) {
    size_t cap = j->cap ? j->cap * 2 : 64;
    node **grown = realloc(j->nodes, cap * sizeof *grown);
    if (!grown) return -1;
    j->nodes = grown, j->cap = cap;
  }
  j->nodes[j->n++] = n;
  return 0;
}

/* The bytes of the unit that starts at n (its records are contiguous), or n's alone. */
static size_t unit_bytes(const node *n) {
  size_t bytes = 0;
  for (const node *it = n; it && (it == n || (n->unit && it->unit == n->unit)); it = it->next)
    bytes += it->record.len;
  return bytes;
}

/* Collects what needs writing into j: whole units only (a file's marks must not speak for a
 * span it does not hold), none with a record in flight, GROUP_MAX_BYTES or so at a time.
 * Marks the nodes as writing. Lock held. */
static void collect_job(queue *q, write_job *j) {
  node *it = q->head;
  if (!q->rescan && q->scan_from) it = q->scan_from;
  else if (!q->rescan) it = NULL;
  q->rescan = false;
  q->scan_from = NULL;
  size_t bytes = 0;
  unit *current = NULL;
  for (; it; it = it->next) {
    if (!needs_write(q, it)) continue;
    if (it->lent || (it->unit && it->unit->lent)) {
      q->rescan = q->blocked = true; /* written once its batch is answered */
      continue;
    }
    bool unit_start = !it->unit || it->unit != current;
    /* the rest next time: a group stops at GROUP_MAX_BYTES, or before the unit that would take
     * it past that (a backlog's first batch is durable, and sent, while the next is written) */
    if (unit_start && bytes > 0 && bytes + unit_bytes(it) > GROUP_MAX_BYTES) {
      q->scan_from = it;
      break;
    }
    if (job_add_node(j, it) != 0) {
      q->scan_from = it;
      break;
    }
    current = it->unit;
    it->writing = true;
    bytes += it->record.len;
  }
}

static void log_write_failure(queue *q, int err) {
  queue_stats s = q->stats;
  log_warn("cannot write the spool (%s); %zu spans are kept in memory (sent from there if the "
           "backend takes them) and written when the disk works again",
           strerror(err), s.not_durable);
}

/* The guards of a job's sessions, opened in the order of their ids. */
typedef struct {
  const char *session; /* inside a unit's marks */
  void *guard;
} job_guard;

static int compare_guards(const void *a, const void *b) {
  return strcmp(((const job_guard *)a)->session, ((const job_guard *)b)->session);
}

static void *guard_of(job_guard *g, size_t n, const unit *u) {
  for (size_t i = 0; u && i < n; i++)
    if (strcmp(g[i].session, (const char *)u->marks) == 0) return g[i].guard;
  return NULL;
}

/* Opens the guards of j's sessions (blocking on other processes' writers only) and drops the
 * nodes whose key another process recorded: it stored those spans, they must not go twice.
 * Returns the guards (caller closes them), *n_out how many. Called without the lock. */
static job_guard *guard_job(queue *q, write_job *j, size_t *n_out) {
  *n_out = 0;
  if (!q->guard.open || j->n == 0) return NULL;
  job_guard *g = calloc(j->n, sizeof *g);
  if (!g) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < j->n; i++) {
    unit *u = j->nodes[i]->unit;
    if (!u || !u->len || u->marks[u->len - 1] != '\0') continue;
    bool known = false;
    for (size_t k = 0; k < n && !known; k++) known = strcmp(g[k].session, (char *)u->marks) == 0;
    if (!known) g[n++].session = (const char *)u->marks;
  }
  qsort(g, n, sizeof *g, compare_guards);
  for (size_t k = 0; k < n; k++) {
    const unit *u = NULL;
    for (size_t i = 0; i < j->n && !u; i++)
      if (j->nodes[i]->unit && strcmp((char *)j->nodes[i]->unit->marks, g[k].session) == 0)
        u = j->nodes[i]->unit;
    g[k].guard = q->guard.open(q->guard.ctx, u->marks, u->len);
  }
  /* what another process already stored leaves the queue unwritten */
  size_t kept = 0;
  pthread_mutex_lock(&q->lock);
  for (size_t i = 0; i < j->n; i++) {
    node *nd = j->nodes[i];
    void *guard = guard_of(g, n, nd->unit);
    if (!(guard && nd->key && q->guard.recorded(guard, nd->key))) {
      j->nodes[kept++] = nd;
      continue;
    }
    nd->writing = false;
    node *prev = NULL;
    for (node *it = q->head; it && it != nd; it = it->next) prev = it;
    unlink_node(q, prev, nd);
    q->stats.deduplicated++;
  }
  if (kept < j->n) update_done(q);
  pthread_mutex_unlock(&q->lock);
  if (kept < j->n)
    log_info("%zu spans were already stored by another process (or an earlier run's spool): left "
             "out, not sent twice",
             j->n - kept);
  j->n = kept;
  *n_out = n;
  return g;
}

static void close_guards(queue *q, job_guard *g, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (g[k].guard) q->guard.close(g[k].guard);
  free(g);
}

/* The items of j's file: each unit's marks before its first span, then the spans. */
static bool build_items(write_job *j) {
  j->n_items = 0;
  unit *current = NULL;
  for (size_t i = 0; i < j->n; i++) {
    node *it = j->nodes[i];
    bool unit_start = !it->unit || it->unit != current;
    if (unit_start && it->unit && job_add_item(j, SPOOL_MARKS, it->unit->marks, it->unit->len) != 0)
      return false;
    if (job_add_item(j, SPOOL_SPAN, it->record.data, it->record.len) != 0) return false;
    current = it->unit;
  }
  return true;
}

/* Stores j as one file and publishes the outcome. Called without the lock. */
static void run_job(queue *q, write_job *j) {
  size_t n_guards = 0;
  job_guard *guards = guard_job(q, j, &n_guards);
  if (j->n == 0 || !build_items(j)) {
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < j->n; i++) j->nodes[i]->writing = false;
    if (j->n) q->rescan = true; /* out of memory: tried again later */
    pthread_mutex_unlock(&q->lock);
    close_guards(q, guards, n_guards);
    return;
  }
  int64_t born = 0;
  for (size_t i = 0; i < j->n; i++)
    if (!born || j->nodes[i]->born < born) born = j->nodes[i]->born;
  file_ref *f = calloc(1, sizeof *f); /* before the write: once marks are recorded, no failing */
  if (!f) {
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < j->n; i++) j->nodes[i]->writing = false;
    q->rescan = true; /* out of memory: tried again later */
    pthread_mutex_unlock(&q->lock);
    close_guards(q, guards, n_guards);
    return;
  }
  uint64_t id = spool_write(q->sp, j->items, j->n_items, born);
  int err = errno;
  if (!id && spool_repair(q->sp)) id = spool_write(q->sp, j->items, j->n_items, born), err = errno;
  if (id) {
    /* Records rewritten from a partial file keep what each destination did with them: the new
     * file's markers say so before the old file can go (run_chores deletes it later). */
    uint32_t keys[QUEUE_MAX_DESTINATIONS], counts[QUEUE_MAX_DESTINATIONS];
    size_t n_markers = 0;
    pthread_mutex_lock(&q->lock);
    for (int s = 0; s < QUEUE_MAX_DESTINATIONS; s++) {
      if (!(q->active & (1u << s))) continue;
      uint32_t k = 0;
      while (k < j->n && (j->nodes[k]->done & (1u << s))) k++;
      if (k) keys[n_markers] = q->keys[s], counts[n_markers++] = k;
    }
    for (size_t i = 0; i < j->n; i++) j->nodes[i]->ordinal = (uint32_t)i;
    pthread_mutex_unlock(&q->lock);
    for (size_t k = 0; k < n_markers; k++) spool_mark_done(q->sp, id, keys[k], counts[k]);
    /* Settle first: the state records the marks before any of these spans can be sent,
     * acked and deleted (a crash then re-sends nothing already answered). */
    pthread_mutex_lock(&q->lock);
    unit *settled = NULL;
    for (size_t i = 0; i < j->n; i++) {
      unit *u = j->nodes[i]->unit;
      if (!u) continue;
      size_t in_job = 0; /* how many of u's unsettled records this job holds (contiguous) */
      for (size_t k = i; k < j->n && j->nodes[k]->unit == u; k++) in_job++;
      if (in_job == u->unsettled) u->notified = true, u->next_settled = settled, settled = u;
      i += in_job - 1;
    }
    queue_settled_fn fn = q->on_settled;
    void *ctx = q->settled_ctx;
    pthread_mutex_unlock(&q->lock);
    for (unit *u = settled; u; u = u->next_settled) {
      void *guard = guard_of(guards, n_guards, u);
      if (guard) q->guard.record(guard, u->marks, u->len); /* before the next process looks */
      else if (fn) fn(ctx, u->marks, u->len, u->all_durable);
    }
  }
  close_guards(q, guards, n_guards);
  pthread_mutex_lock(&q->lock);
  if (!id) free(f), f = NULL;
  if (f) f->id = id;
  for (size_t i = 0; i < j->n; i++) {
    node *n = j->nodes[i];
    n->writing = false;
    if (!id) continue;
    if (!n->file) q->stats.not_durable--;
    leave_file(q, n->file);
    n->file = f;
    f->live++;
    unit *u = count_towards_unit(n, true);
    if (u && u->notified) { /* its callback already ran */
      free(u->marks);
      free(u);
    } else if (u) { /* settled by a drop meanwhile */
      u->next_settled = q->settled, q->settled = u;
    }
  }
  if (id) {
    if (q->stats.spool_failing) {
      log_info("the spool is writable again: spans kept in memory are on disk now");
      q->kept_in_memory = 0;
    }
    q->stats.spool_failing = false;
    q->retry_ms = RETRY_INITIAL_MS;
    q->retry_at_ms = 0;
  } else {
    if (!q->stats.spool_failing) log_write_failure(q, err);
    q->stats.spool_failing = true;
    q->stats.write_failures++;
    q->retry_at_ms = wallclock_steady_ms() + q->retry_ms;
    q->retry_ms = q->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : q->retry_ms * 2;
    q->rescan = true;
  }
  if (f && f->live == 0) free(f); /* every record left meanwhile: impossible, they were writing */
  void (*written)(void *) = id || q->stats.spool_failing ? q->on_written : NULL;
  void *written_ctx = q->written_ctx;
  pthread_mutex_unlock(&q->lock);
  if (written) written(written_ctx); /* durable now (or sendable from memory): send them */
}

/* Deletes files and runs callbacks of units settled by acks and drops. Called without the
 * lock; takes it to take the lists. */
static void run_chores(queue *q) {
  pthread_mutex_lock(&q->lock);
  unit *settled = q->settled;
  removal *removals = q->removals;
  q->settled = NULL;
  q->removals = NULL;
  queue_settled_fn fn = q->on_settled;
  void *ctx = q->settled_ctx;
  pthread_mutex_unlock(&q->lock);
  for (unit *u = settled, *next; u; u = next) {
    next = u->next_settled;
    if (fn) fn(ctx, u->marks, u->len, u->all_durable);
    free(u->marks);
    free(u);
  }
  for (removal *r = removals, *next; r; r = next) {
    next = r->next;
    if (q->sp) spool_remove(q->sp, r->id);
    free(r);
  }
}

/* Whether the writer has something to do now. Lock held. */
static bool writer_has_work(queue *q) {
  if (q->settled || q->removals) return true;
  if (!q->sp || (!q->rescan && !q->scan_from) || q->blocked) return false;
  return !q->stats.spool_failing || wallclock_steady_ms() >= q->retry_at_ms;
}

static void *writer_main(void *arg) {
  queue *q = arg;
  platform_thread_name("arize-writer");
  write_job j = {0};
  pthread_mutex_lock(&q->lock);
  if (q->load_pending && q->sp) { /* first of all: what earlier processes left */
    pthread_mutex_unlock(&q->lock);
    load_spool(q);
    queue_expire(q);
    pthread_mutex_lock(&q->lock);
  }
  for (;;) {
    if (!writer_has_work(q)) {
      pthread_cond_broadcast(&q->synced);
      if (q->stopping) break;
      int64_t now = wallclock_steady_ms(), until = now + EXPIRE_INTERVAL_S * 1000L;
      if (q->stats.spool_failing && (q->rescan || q->scan_from) && q->retry_at_ms < until)
        until = q->retry_at_ms;
      struct timespec ts = wallclock_deadline((long)(until > now ? until - now : 0));
      pthread_cond_timedwait(&q->wake, &q->lock, &ts);
      if (q->max_age_s > 0 && wallclock_steady_ms() - q->last_expire >= EXPIRE_INTERVAL_S * 1000L) {
        pthread_mutex_unlock(&q->lock);
        queue_expire(q);
        pthread_mutex_lock(&q->lock);
      }
      continue;
    }
    j.n = j.n_items = 0;
    bool write = q->sp && (q->rescan || q->scan_from) &&
                 (!q->stats.spool_failing || wallclock_steady_ms() >= q->retry_at_ms);
    if (write) collect_job(q, &j);
    pthread_mutex_unlock(&q->lock);
    run_chores(q);
    if (j.n) run_job(q, &j);
    pthread_mutex_lock(&q->lock);
    pthread_cond_broadcast(&q->synced);
  }
  pthread_mutex_unlock(&q->lock);
  run_chores(q);
  free(j.nodes);
  free(j.items);
  return NULL;
}

/* Starts the writer on first use. Lock held. */
static void start_writer_locked(queue *q) {
  if (q->writer_started || q->stopping) return;
  if (pthread_create(&q->writer, NULL, writer_main, q) == 0) q->writer_started = true;
  else log_error("cannot start the spool writer thread; spans are kept in memory only");
}

void queue_free(queue *q) {
  if (!q) return;
  pthread_mutex_lock(&q->lock);
  bool join = q->writer_started;
  q->stopping = true;
  __atomic_store_n(&q->stop_load, 1, __ATOMIC_RELAXED); /* a load cut short stays on disk */
  pthread_cond_broadcast(&q->wake);
  pthread_mutex_unlock(&q->lock);
  if (join) pthread_join(q->writer, NULL);
  else run_chores(q);
  log_drops_locked(q, true);
  for (node *n = q->head, *next; n; n = next) {
    next = n->next;
    if (n->file && --n->file->live == 0) free(n->file);
    if (n->unit && --n->unit->unsettled == 0) free(n->unit->marks), free(n->unit);
    free(n->record.data);
    free(n->key);
    free(n);
  }
  spool_close(q->sp); /* unsent spans stay on disk for the next process */
  pthread_cond_destroy(&q->wake);
  pthread_cond_destroy(&q->synced);
  pthread_mutex_destroy(&q->lock);
  free(q);
}

/* ------------------------------------------------------------------------------------------ */

int queue_hand_over(queue *q, uint8_t **data, const size_t *lens, const char *const *keys, size_t n,
                    const uint8_t *marks, size_t marks_len) {
  if (n == 0) return 0;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += lens[i];
  unit *u = marks_len ? calloc(1, sizeof *u) : NULL;
  if (u && !(u->marks = malloc(marks_len))) free(u), u = NULL;
  if (marks_len && !u) {
    for (size_t i = 0; i < n; i++) free(data[i]);
    return -1;
  }
  if (u) {
    memcpy(u->marks, marks, marks_len);
    u->len = marks_len;
    u->all_durable = true;
  }
  int64_t born = wallclock_steady_ms();
  int rc = 0;
  pthread_mutex_lock(&q->lock);
  make_room(q, total);
  node *first = NULL;
  for (size_t i = 0; i < n; i++) {
    node *added = append(q, data[i], lens[i], NULL, u, born);
    if (!added) rc = -1;
    else if (u) u->unsettled++;
    if (added && keys && keys[i]) added->key = strdup(keys[i]); /* no memory: not guarded */
    if (!first) first = added;
  }
  if (u && u->unsettled == 0) free(u->marks), free(u);
  if (first && q->sp && !q->scan_from) q->scan_from = first;
  if (q->stats.spool_failing) q->kept_in_memory += n;
  update_done(q);
  start_writer_locked(q);
  pthread_cond_signal(&q->wake);
  pthread_mutex_unlock(&q->lock);
  return rc;
}

uint64_t queue_push(queue *q, uint8_t *data, size_t len) {
  size_t lens[] = {len};
  if (queue_hand_over(q, &data, lens, NULL, 1, NULL, 0) < 0) return 0;
  return queue_get_stats(q).last_seq;
}

/* Whether the exporter may send n: what is durable, and what the spool cannot hold (it fails,
 * or there is none, or no writer thread could be started). */
static bool sendable(const queue *q, const node *n) {
  return !n->writing && (n->file || !q->sp || q->stats.spool_failing || !q->writer_started);
}

/* The first record slot may still need to look at. Lock held. */
static node *slot_start(const queue *q, int slot) {
  return q->after[slot] ? q->after[slot]->next : q->head;
}

static void lend(node *n, int slot) {
  if (!n->lent && n->unit) n->unit->lent++;
  n->lent |= (uint8_t)(1u << slot);
}

static void give_back(node *n, int slot) {
  n->lent &= (uint8_t) ~(1u << slot);
  if (!n->lent && n->unit) n->unit->lent--;
}

/* Borrows the next batch for slot: after the records it has borrowed already when more, else
 * only when it has borrowed none. Lock held. */
static size_t peek_locked(queue *q, int slot, const queue_record **out, size_t max_n,
                          size_t max_bytes, bool more) {
  size_t n = 0, bytes = 0, whole_files = 0;
  uint8_t bit = (uint8_t)(1u << slot);
  node *it = slot_start(q, slot), *last = NULL, *stop = NULL;
  if (!(q->active & bit) || (q->lent_n[slot] && !more)) it = NULL;
  for (; it && n < max_n; it = it->next) {
    if (it->done & bit) continue; /* done before a restart (its file's marker) */
    if (it->lent & bit) continue; /* an earlier peek's: they are a prefix of what is left */
    if (!sendable(q, it)) break;
    if (n > 0 && bytes + it->record.len > max_bytes) break;
    if (last && it->file != last->file) whole_files = n;
    out[n++] = &it->record;
    bytes += it->record.len;
    last = it;
  }
  stop = it;
  while (stop && (stop->done & bit)) stop = stop->next;
  /* Stopped inside a file: end the batch on the last file boundary, if there is one. */
  if (stop && last && stop->file && stop->file == last->file && whole_files > 0) n = whole_files;
  /* lend the n records (they are out[0..n) in list order) */
  size_t k = 0;
  for (node *m = slot_start(q, slot); m && k < n; m = m->next)
    if (&m->record == out[k]) lend(m, slot), k++;
  if (!q->lent_n[slot]) q->lent_first[slot] = n;
  q->lent_n[slot] += n;
  return n;
}

size_t queue_peek_for(queue *q, int slot, const queue_record **out, size_t max_n,
                      size_t max_bytes) {
  if (slot < 0 || slot >= QUEUE_MAX_DESTINATIONS) return 0;
  pthread_mutex_lock(&q->lock);
  size_t n = peek_locked(q, slot, out, max_n, max_bytes, false);
  pthread_mutex_unlock(&q->lock);
  return n;
}

size_t queue_peek_more_for(queue *q, int slot, const queue_record **out, size_t max_n,
                           size_t max_bytes) {
  if (slot < 0 || slot >= QUEUE_MAX_DESTINATIONS) return 0;
  pthread_mutex_lock(&q->lock);
  size_t n = q->lent_n[slot] == q->lent_first[slot] && q->lent_n[slot]
                 ? peek_locked(q, slot, out, max_n, max_bytes, true)
                 : 0;
  pthread_mutex_unlock(&q->lock);
  return n;
}

size_t queue_peek(queue *q, const queue_record **out, size_t max_n, size_t max_bytes) {
  return queue_peek_for(q, 0, out, max_n, max_bytes);
}

/* A marker to write: destination key has done the first count span records of file id. */
typedef struct {
  uint64_t id;
  uint32_t key, count;
} done_marker;

void queue_ack_for(queue *q, int slot, size_t n) {
  if (slot < 0 || slot >= QUEUE_MAX_DESTINATIONS) return;
  uint8_t bit = (uint8_t)(1u << slot);
  done_marker markers[64];
  size_t n_markers = 0;
  bool markers_lost = false;
  pthread_mutex_lock(&q->lock);
  /* one destination: a file it finished part of is rewritten without those records (as
   * before destinations), so it needs no marker */
  bool several = (q->active & (q->active - 1)) != 0;
  size_t lent = q->lent_n[slot];
  if (n > lent) n = lent;
  /* the whole oldest batch answered: a later peek's records stay lent (being prepared) */
  size_t keep = n == q->lent_first[slot] ? lent - n : 0;
  node *prev = q->after[slot], *it = slot_start(q, slot);
  for (size_t seen = 0; it && seen < lent;) {
    node *next = it->next;
    if (!(it->lent & bit)) {
      prev = it, it = next;
      continue;
    }
    if (seen >= lent - keep) { /* the later peek's: lent still */
      seen++;
      prev = it, it = next;
      continue;
    }
    give_back(it, slot);
    if (seen++ < n) {
      it->done |= bit;
      /* this destination's progress through the file: the last acked record of each file */
      if (it->file && q->sp && several) {
        size_t m = 0;
        while (m < n_markers && markers[m].id != it->file->id) m++;
        if (m == n_markers && n_markers < sizeof markers / sizeof *markers)
          markers[n_markers++] = (done_marker){it->file->id, q->keys[slot], 0};
        else if (m == n_markers) markers_lost = true;
        if (m < n_markers && it->ordinal + 1 > markers[m].count) markers[m].count = it->ordinal + 1;
      }
    }
    if (all_done(q, it)) unlink_node(q, prev, it);
    else prev = it;
    it = next;
  }
  q->lent_n[slot] = q->lent_first[slot] = keep;
  /* how far this destination got now */
  for (node *m = slot_start(q, slot); m && (m->done & bit); m = m->next) q->after[slot] = m;
  q->blocked = false;
  update_done(q);
  /* The files of what every destination just took go now, on this thread: a crash a moment
   * later must not restore (and send again) what was answered. A file some destination still
   * needs gets this one's marker instead (spool_mark_done). */
  removal *removals = q->removals;
  q->removals = NULL;
  for (size_t m = 0; m < n_markers; m++)
    for (removal *r = removals; r; r = r->next)
      if (r->id == markers[m].id) markers[m].count = 0; /* the file goes: no marker */
  if (q->settled || q->rescan || q->scan_from) {
    start_writer_locked(q);
    pthread_cond_signal(&q->wake);
  }
  spool *sp = q->sp;
  pthread_mutex_unlock(&q->lock);
  if (markers_lost)
    log_debug("a batch spanned more spool files than its markers: some records "
              "may be sent again to that destination after a crash");
  for (size_t m = 0; m < n_markers; m++)
    if (sp && markers[m].count)
      spool_mark_done(sp, markers[m].id, markers[m].key, markers[m].count);
  for (removal *r = removals, *next; r; r = next) {
    next = r->next;
    if (sp) spool_remove(sp, r->id);
    free(r);
  }
}

void queue_ack(queue *q, size_t n) { queue_ack_for(q, 0, n); }

void queue_unpeek_for(queue *q, int slot) {
  if (slot < 0 || slot >= QUEUE_MAX_DESTINATIONS) return;
  uint8_t bit = (uint8_t)(1u << slot);
  pthread_mutex_lock(&q->lock);
  size_t lent = q->lent_n[slot];
  for (node *it = slot_start(q, slot); it && lent; it = it->next)
    if (it->lent & bit) give_back(it, slot), lent--;
  q->lent_n[slot] = q->lent_first[slot] = 0;
  q->blocked = false;
  pthread_cond_signal(&q->wake); /* a unit blocked by the batch may be written now */
  pthread_mutex_unlock(&q->lock);
}

void queue_unpeek(queue *q) { queue_unpeek_for(q, 0); }

/* Unlinks every record all destinations are done with. Lock held. */
static void sweep_done(queue *q) {
  node *prev = NULL;
  for (node *it = q->head, *next; it; it = next) {
    next = it->next;
    if (all_done(q, it)) unlink_node(q, prev, it);
    else prev = it;
  }
  update_done(q);
}

void queue_set_destinations(queue *q, const uint32_t *keys, size_t n, int *slots) {
  pthread_mutex_lock(&q->lock);
  uint8_t keep = 0;
  for (size_t i = 0; i < n; i++) {
    slots[i] = -1;
    for (int s = 0; s < QUEUE_MAX_DESTINATIONS && slots[i] < 0; s++)
      if ((q->active & (1u << s)) && q->keys[s] == keys[i] && !(keep & (1u << s)))
        slots[i] = s, keep |= (uint8_t)(1u << s);
  }
  /* a slot no longer named is free: its marks go */
  uint8_t freed = (uint8_t)(q->active & ~keep);
  uint8_t active = keep;
  for (size_t i = 0; i < n; i++) {
    if (slots[i] >= 0) continue;
    for (int s = 0; s < QUEUE_MAX_DESTINATIONS; s++)
      if (!(active & (1u << s))) {
        slots[i] = s;
        active |= (uint8_t)(1u << s);
        freed |= (uint8_t)(1u << s);
        q->keys[s] = keys[i];
        break;
      }
  }
  if (freed) {
    for (node *it = q->head; it; it = it->next) {
      it->done &= (uint8_t)~freed;
      for (int s = 0; s < QUEUE_MAX_DESTINATIONS; s++)
        if ((freed & (1u << s)) && (it->lent & (1u << s))) give_back(it, s);
    }
    for (int s = 0; s < QUEUE_MAX_DESTINATIONS; s++)
      if (freed & (1u << s)) q->after[s] = NULL, q->lent_n[s] = q->lent_first[s] = 0;
  }
  q->active = active ? active : 1;
  sweep_done(q); /* a destination removed no longer holds records back */
  removal *removals = q->removals;
  q->removals = NULL;
  spool *sp = q->sp;
  pthread_cond_signal(&q->wake);
  pthread_mutex_unlock(&q->lock);
  for (removal *r = removals, *next; r; r = next) {
    next = r->next;
    if (sp) spool_remove(sp, r->id);
    free(r);
  }
}

queue_dest_stats queue_get_dest_stats(queue *q, int slot) {
  queue_dest_stats d = {0};
  pthread_mutex_lock(&q->lock);
  d.done_seq = q->stats.last_seq;
  if (slot >= 0 && slot < QUEUE_MAX_DESTINATIONS && (q->active & (1u << slot))) {
    uint8_t bit = (uint8_t)(1u << slot);
    bool first = true;
    for (node *it = slot_start(q, slot); it; it = it->next) {
      if (it->done & bit) continue;
      if (first) d.done_seq = it->record.seq - 1, first = false;
      d.pending++;
    }
  }
  pthread_mutex_unlock(&q->lock);
  return d;
}

queue_stats queue_get_stats(queue *q) {
  pthread_mutex_lock(&q->lock);
  queue_stats s = q->stats;
  pthread_mutex_unlock(&q->lock);
  return s;
}

void queue_set_max_bytes(queue *q, size_t max_bytes) {
  pthread_mutex_lock(&q->lock);
  q->max_bytes = max_bytes;
  pthread_mutex_unlock(&q->lock);
}

void queue_set_max_age(queue *q, long max_age_s) {
  pthread_mutex_lock(&q->lock);
  q->max_age_s = max_age_s;
  pthread_mutex_unlock(&q->lock);
}

size_t queue_expire(queue *q) {
  size_t dropped = 0;
  pthread_mutex_lock(&q->lock);
  q->last_expire = wallclock_steady_ms();
  if (q->max_age_s > 0) {
    int64_t cutoff = wallclock_steady_ms() - (int64_t)q->max_age_s * 1000;
    node *prev, *it = first_droppable(q, &prev);
    while (it) {
      node *next = it->next;
      if (!it->writing && !it->lent && it->born < cutoff) {
        unlink_node(q, prev, it);
        dropped++;
      } else {
        prev = it;
      }
      it = next;
    }
    q->stats.dropped_old += dropped;
    q->dropped_since_log += dropped;
    if (dropped) {
      update_done(q);
      log_drops_locked(q, true);
      start_writer_locked(q);
      pthread_cond_signal(&q->wake);
    }
  }
  pthread_mutex_unlock(&q->lock);
  return dropped;
}

/* Whether a record up to goal still waits for its first write. Lock held. */
static bool unwritten_upto(queue *q, uint64_t goal) {
  if (!q->sp || q->stats.spool_failing) return false;
  for (node *n = q->head; n && n->record.seq <= goal; n = n->next)
    if (!n->file) return true;
  return false;
}

/* Nothing up to goal waits for the writer: first writes, rewrites, deletions, callbacks. */
static bool synced_upto(queue *q, uint64_t goal) {
  bool rewrites = q->sp && !q->stats.spool_failing && q->rescan;
  return !unwritten_upto(q, goal) && !rewrites && !q->settled && !q->removals;
}

bool queue_sync(queue *q, long timeout_ms) {
  struct timespec ts = wallclock_deadline(timeout_ms > 0 ? timeout_ms : 0);
  pthread_mutex_lock(&q->lock);
  uint64_t goal = q->stats.last_seq;
  bool done;
  while (!(done = synced_upto(q, goal)) && q->writer_started) {
    pthread_cond_signal(&q->wake);
    if (pthread_cond_timedwait(&q->synced, &q->lock, &ts) == ETIMEDOUT) break;
  }
  done = synced_upto(q, goal);
  pthread_mutex_unlock(&q->lock);
  return done;
}

void queue_log_drops(queue *q) {
  pthread_mutex_lock(&q->lock);
  log_drops_locked(q, true);
  pthread_mutex_unlock(&q->lock);
}
