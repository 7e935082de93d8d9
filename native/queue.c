/* queue — a locked singly-linked FIFO of encoded spans with a byte cap, mirrored on disk by
 * the spool when one is attached.
 *
 * The records of one spool file are pushed (or loaded) together, so they are contiguous in
 * the list: a file can go once no neighbour of a leaving record shares its id. Batches end
 * on a file boundary where they can, so that a crash re-sends at most the batch in flight.
 */
#include "queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

#define DROP_LOG_INTERVAL_S 60

typedef struct node {
  queue_record record;
  uint64_t file_id; /* spool file holding it, 0 when in memory only */
  struct node *next;
} node;

struct queue {
  pthread_mutex_t lock;
  node *head, *tail;
  size_t in_flight; /* records at the head lent out by queue_peek */
  size_t max_bytes;
  spool *sp;        /* owned; NULL: memory only */
  queue_stats stats;
  time_t last_drop_log;
  uint64_t dropped_since_log;
};

queue *queue_new(size_t max_bytes) {
  queue *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  pthread_mutex_init(&q->lock, NULL);
  q->max_bytes = max_bytes;
  return q;
}

void queue_free(queue *q) {
  if (!q) return;
  for (node *n = q->head, *next; n; n = next) {
    next = n->next;
    free(n->record.data);
    free(n);
  }
  spool_close(q->sp); /* unsent spans stay on disk for the next process */
  pthread_mutex_destroy(&q->lock);
  free(q);
}

/* The smallest seq still queued, minus one: everything at or below it is done. */
static void update_done(queue *q) {
  q->stats.done_seq = q->head ? q->head->record.seq - 1 : q->stats.last_seq;
}

/* Called with the lock held when a record of file_id leaves and prev/next are its former
 * neighbours: the file goes when no other record of it remains. */
static void release_file(queue *q, uint64_t file_id, const node *prev, const node *next) {
  if (!file_id || !q->sp) return;
  if ((prev && prev->file_id == file_id) || (next && next->file_id == file_id)) return;
  spool_remove(q->sp, file_id);
}

static void unlink_node(queue *q, node *prev, node *victim) {
  if (prev) prev->next = victim->next;
  else q->head = victim->next;
  if (q->tail == victim) q->tail = prev;
  q->stats.bytes -= victim->record.len;
  q->stats.records--;
  release_file(q, victim->file_id, prev, victim->next);
  free(victim->record.data);
  free(victim);
}

/* Drops the oldest records that are not in flight until len more bytes fit (or nothing
 * droppable is left), and says so in the log, at most once a minute. Lock held. */
static void make_room(queue *q, size_t len) {
  while (q->stats.bytes + len > q->max_bytes) {
    node *prev = NULL, *victim = q->head; /* the first record past the in-flight ones */
    for (size_t i = 0; i < q->in_flight && victim; i++) prev = victim, victim = victim->next;
    if (!victim) break;
    unlink_node(q, prev, victim);
    q->stats.dropped_full++;
    q->dropped_since_log++;
  }
  time_t now = time(NULL);
  if (q->dropped_since_log && now - q->last_drop_log >= DROP_LOG_INTERVAL_S) {
    log_warn("span queue full (%zu bytes): dropped the %llu oldest unsent spans", q->max_bytes,
             (unsigned long long)q->dropped_since_log);
    q->dropped_since_log = 0;
    q->last_drop_log = now;
  }
}

/* Appends one record. Lock held. Takes data; returns 0, or -1 when out of memory. */
static int append(queue *q, uint8_t *data, size_t len, uint64_t file_id) {
  node *n = malloc(sizeof *n);
  if (!n) {
    free(data);
    return -1;
  }
  make_room(q, len);
  n->record = (queue_record){.data = data, .len = len, .seq = ++q->stats.last_seq};
  n->file_id = file_id;
  n->next = NULL;
  if (q->tail) q->tail->next = n;
  else q->head = n;
  q->tail = n;
  q->stats.records++;
  q->stats.bytes += len;
  q->stats.pushed++;
  return 0;
}

static void on_loaded(void *ctx, uint64_t file_id, uint8_t *data, size_t len) {
  queue *q = ctx;
  pthread_mutex_lock(&q->lock);
  append(q, data, len, file_id);
  update_done(q);
  pthread_mutex_unlock(&q->lock);
}

size_t queue_attach_spool(queue *q, spool *sp) {
  q->sp = sp;
  return sp ? spool_load(sp, on_loaded, q) : 0;
}

int queue_push_batch(queue *q, uint8_t **data, const size_t *lens, size_t n) {
  uint64_t file_id = 0;
  if (q->sp && n > 0) file_id = spool_write(q->sp, (const uint8_t *const *)data, lens, n);
  int rc = q->sp && !file_id ? 1 : 0;
  pthread_mutex_lock(&q->lock);
  for (size_t i = 0; i < n; i++)
    if (append(q, data[i], lens[i], file_id) != 0) rc = -1;
  update_done(q);
  pthread_mutex_unlock(&q->lock);
  return rc;
}

uint64_t queue_push(queue *q, uint8_t *data, size_t len) {
  size_t lens[] = {len};
  if (queue_push_batch(q, &data, lens, 1) < 0) return 0;
  return queue_get_stats(q).last_seq;
}

size_t queue_peek(queue *q, const queue_record **out, size_t max_n, size_t max_bytes) {
  pthread_mutex_lock(&q->lock);
  size_t n = 0, bytes = 0, whole_files = 0;
  node *it = q->head, *last = NULL;
  for (; it && n < max_n; last = it, it = it->next) {
    if (n > 0 && bytes + it->record.len > max_bytes) break;
    if (last && it->file_id != last->file_id) whole_files = n;
    out[n++] = &it->record;
    bytes += it->record.len;
  }
  /* Stopped inside a file: end the batch on the last file boundary, if there is one. */
  if (it && last && it->file_id && it->file_id == last->file_id && whole_files > 0) n = whole_files;
  q->in_flight = n;
  pthread_mutex_unlock(&q->lock);
  return n;
}

/* After a batch ended inside a file (one file larger than a batch), stores the file's records
 * still queued as a new file and drops the old one, so a restart does not re-send the part
 * that was acked. Lock held. */
static void rewrite_partial_file(queue *q) {
  uint64_t old = q->head ? q->head->file_id : 0;
  if (!old || !q->sp) return;
  size_t n = 0;
  for (node *it = q->head; it && it->file_id == old; it = it->next) n++;
  uint8_t **data = malloc(n * sizeof *data);
  size_t *lens = malloc(n * sizeof *lens);
  uint64_t id = 0;
  if (data && lens) {
    size_t i = 0;
    for (node *it = q->head; it && it->file_id == old; it = it->next, i++)
      data[i] = it->record.data, lens[i] = it->record.len;
    id = spool_write(q->sp, (const uint8_t *const *)data, lens, n);
  }
  if (id) {
    for (node *it = q->head; it && it->file_id == old; it = it->next) it->file_id = id;
    spool_remove(q->sp, old);
  }
  free(data);
  free(lens);
}

void queue_ack(queue *q, size_t n) {
  pthread_mutex_lock(&q->lock);
  uint64_t last_file = 0;
  for (size_t i = 0; i < n && q->head; i++) {
    last_file = q->head->file_id;
    unlink_node(q, NULL, q->head);
  }
  if (last_file && q->head && q->head->file_id == last_file) rewrite_partial_file(q);
  q->in_flight = 0;
  update_done(q);
  pthread_mutex_unlock(&q->lock);
}

void queue_unpeek(queue *q) {
  pthread_mutex_lock(&q->lock);
  q->in_flight = 0;
  pthread_mutex_unlock(&q->lock);
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
