/* queue — a locked singly-linked FIFO of encoded spans with a byte cap. */
#include "queue.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct node {
  queue_record record;
  struct node *next;
} node;

struct queue {
  pthread_mutex_t lock;
  node *head, *tail;
  size_t in_flight; /* records at the head lent out by queue_peek */
  size_t max_bytes;
  queue_stats stats;
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
  pthread_mutex_destroy(&q->lock);
  free(q);
}

/* The smallest seq still queued, minus one: everything at or below it is done. */
static void update_done(queue *q) {
  q->stats.done_seq = q->head ? q->head->record.seq - 1 : q->stats.last_seq;
}

/* Drops the oldest records that are not in flight until len more bytes fit (or nothing
 * droppable is left). Called with the lock held. */
static void make_room(queue *q, size_t len) {
  while (q->stats.bytes + len > q->max_bytes) {
    node *prev = NULL, *victim = q->head; /* the first record past the in-flight ones */
    for (size_t i = 0; i < q->in_flight && victim; i++) prev = victim, victim = victim->next;
    if (!victim) return;
    if (prev) prev->next = victim->next;
    else q->head = victim->next;
    if (q->tail == victim) q->tail = prev;
    q->stats.bytes -= victim->record.len;
    q->stats.records--;
    q->stats.dropped_full++;
    free(victim->record.data);
    free(victim);
  }
}

uint64_t queue_push(queue *q, uint8_t *data, size_t len) {
  node *n = malloc(sizeof *n);
  if (!n) {
    free(data);
    return 0;
  }
  pthread_mutex_lock(&q->lock);
  make_room(q, len);
  n->record = (queue_record){.data = data, .len = len, .seq = ++q->stats.last_seq};
  n->next = NULL;
  if (q->tail) q->tail->next = n;
  else q->head = n;
  q->tail = n;
  q->stats.records++;
  q->stats.bytes += len;
  q->stats.pushed++;
  update_done(q);
  uint64_t seq = n->record.seq;
  pthread_mutex_unlock(&q->lock);
  return seq;
}

size_t queue_peek(queue *q, const queue_record **out, size_t max_n, size_t max_bytes) {
  pthread_mutex_lock(&q->lock);
  size_t n = 0, bytes = 0;
  for (node *it = q->head; it && n < max_n; it = it->next) {
    if (n > 0 && bytes + it->record.len > max_bytes) break;
    out[n++] = &it->record;
    bytes += it->record.len;
  }
  q->in_flight = n;
  pthread_mutex_unlock(&q->lock);
  return n;
}

void queue_ack(queue *q, size_t n) {
  pthread_mutex_lock(&q->lock);
  for (size_t i = 0; i < n && q->head; i++) {
    node *it = q->head;
    q->head = it->next;
    if (!q->head) q->tail = NULL;
    q->stats.bytes -= it->record.len;
    q->stats.records--;
    free(it->record.data);
    free(it);
  }
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
