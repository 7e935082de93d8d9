/* queue tests: order, peek limits, acks, the byte cap, and one producer racing one consumer. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "queue.h"

/* A record of len bytes whose first bytes hold tag (so a check can tell records apart). */
static uint64_t push_tagged(queue *q, uint32_t tag, size_t len) {
  uint8_t *data = calloc(1, len < sizeof tag ? sizeof tag : len);
  memcpy(data, &tag, sizeof tag);
  return queue_push(q, data, len);
}

static uint32_t tag_of(const queue_record *r) {
  uint32_t tag;
  memcpy(&tag, r->data, sizeof tag);
  return tag;
}

static void test_push_peek_ack_keep_arrival_order(void) {
  queue *q = queue_new(1 << 20);
  CHECK_INT(push_tagged(q, 10, 8), 1);
  CHECK_INT(push_tagged(q, 11, 8), 2);
  CHECK_INT(push_tagged(q, 12, 8), 3);
  const queue_record *batch[8];
  CHECK_INT(queue_peek(q, batch, 8, 1 << 20), 3);
  for (size_t i = 0; i < 3; i++) {
    CHECK_INT(batch[i]->seq, i + 1);
    CHECK_INT(tag_of(batch[i]), 10 + i);
    CHECK_INT(batch[i]->len, 8);
  }
  queue_ack(q, 2);
  queue_stats s = queue_get_stats(q);
  CHECK_INT(s.records, 1);
  CHECK_INT(s.bytes, 8);
  CHECK_INT(s.pushed, 3);
  CHECK_INT(queue_peek(q, batch, 8, 1 << 20), 1);
  CHECK_INT(batch[0]->seq, 3);
  CHECK_INT(tag_of(batch[0]), 12);
  queue_ack(q, 1);
  CHECK_INT(queue_get_stats(q).records, 0);
  CHECK_INT(queue_get_stats(q).bytes, 0);
  CHECK_INT(queue_peek(q, batch, 8, 1 << 20), 0);
  queue_free(q);
}

static void test_peek_is_limited_by_count_and_bytes_but_returns_at_least_one(void) {
  queue *q = queue_new(1 << 20);
  for (uint32_t i = 0; i < 5; i++) push_tagged(q, i, 100);
  const queue_record *batch[8];
  CHECK_INT(queue_peek(q, batch, 8, 50), 1); /* one record larger than the limit still goes */
  CHECK_INT(batch[0]->seq, 1);
  queue_unpeek(q);
  CHECK_INT(queue_peek(q, batch, 8, 250), 2);
  queue_unpeek(q);
  CHECK_INT(queue_peek(q, batch, 8, 300), 3); /* exactly at the limit fits */
  queue_unpeek(q);
  CHECK_INT(queue_peek(q, batch, 4, 1 << 20), 4);
  queue_unpeek(q);
  CHECK_INT(queue_peek(q, batch, 0, 1 << 20), 0);
  queue_free(q);
}

static void test_unpeek_keeps_the_records_for_the_next_peek(void) {
  queue *q = queue_new(1 << 20);
  for (uint32_t i = 0; i < 3; i++) push_tagged(q, i, 16);
  const queue_record *batch[8];
  CHECK_INT(queue_peek(q, batch, 2, 1 << 20), 2);
  queue_unpeek(q);
  queue_stats s = queue_get_stats(q);
  CHECK_INT(s.records, 3);
  CHECK_INT(s.bytes, 48);
  CHECK_INT(s.done_seq, 0);
  CHECK_INT(queue_peek(q, batch, 8, 1 << 20), 3);
  CHECK_INT(batch[0]->seq, 1);
  CHECK_INT(batch[2]->seq, 3);
  queue_ack(q, 3);
  queue_free(q);
}

static void test_full_queue_drops_the_oldest_and_counts_it(void) {
  queue *q = queue_new(300);
  for (uint32_t i = 1; i <= 3; i++) push_tagged(q, i, 100);
  CHECK_INT(queue_get_stats(q).dropped_full, 0);
  CHECK_INT(push_tagged(q, 4, 100), 4);
  queue_stats s = queue_get_stats(q);
  CHECK_INT(s.dropped_full, 1);
  CHECK_INT(s.records, 3);
  CHECK_INT(s.bytes, 300);
  CHECK_INT(s.pushed, 4);
  CHECK_INT(s.done_seq, 1); /* the dropped record has left the queue */
  const queue_record *batch[8];
  CHECK_INT(queue_peek(q, batch, 8, 1 << 20), 3);
  CHECK_INT(batch[0]->seq, 2);
  CHECK_INT(batch[2]->seq, 4);
  queue_ack(q, 3);
  /* a big record makes room for itself by dropping as many as it takes */
  for (uint32_t i = 5; i <= 7; i++) push_tagged(q, i, 100);
  push_tagged(q, 8, 250);
  s = queue_get_stats(q);
  CHECK_INT(s.dropped_full, 4);
  CHECK_INT(s.records, 1);
  CHECK_INT(s.bytes, 250);
  queue_free(q);
}

static void test_full_queue_never_drops_a_record_in_flight(void) {
  queue *q = queue_new(300);
  for (uint32_t i = 1; i <= 3; i++) push_tagged(q, i, 100);
  const queue_record *batch[8];
  CHECK_INT(queue_peek(q, batch, 2, 1 << 20), 2); /* 1 and 2 are being sent */
  push_tagged(q, 4, 100);                         /* drops 3, the oldest not in flight */
  push_tagged(q, 5, 100);                         /* drops 4 */
  queue_stats s = queue_get_stats(q);
  CHECK_INT(s.dropped_full, 2);
  CHECK_INT(s.records, 3);
  CHECK_INT(s.done_seq, 0); /* 1 and 2 are still queued */
  /* the borrowed records are intact (ASan would see a use after free) */
  CHECK_INT(tag_of(batch[0]), 1);
  CHECK_INT(tag_of(batch[1]), 2);
  queue_ack(q, 2);
  s = queue_get_stats(q);
  CHECK_INT(s.records, 1);
  CHECK_INT(s.done_seq, 4);
  CHECK_INT(queue_peek(q, batch, 8, 1 << 20), 1);
  CHECK_INT(batch[0]->seq, 5);
  CHECK_INT(tag_of(batch[0]), 5);
  queue_ack(q, 1);
  queue_free(q);
}

/* The exporter prepares the next batch while one is sent: a second peek takes what follows the
 * first, an ack of the whole first keeps the second lent (never peeked twice, never dropped),
 * and a failed send (unpeek) gives both back in order. */
static void test_the_next_batch_is_lent_while_the_first_is_sent(void) {
  queue *q = queue_new(600);
  for (uint32_t i = 1; i <= 6; i++) push_tagged(q, i, 100);
  const queue_record *first[8], *next[8];
  CHECK_INT(queue_peek_more_for(q, 0, next, 8, 1 << 20), 0); /* nothing lent: no "next" */
  CHECK_INT(queue_peek_for(q, 0, first, 2, 1 << 20), 2);
  CHECK_INT(queue_peek_for(q, 0, next, 2, 1 << 20), 0); /* one plain peek at a time */
  CHECK_INT(queue_peek_more_for(q, 0, next, 2, 1 << 20), 2);
  CHECK_INT(next[0]->seq, 3);
  CHECK_INT(next[1]->seq, 4);
  CHECK_INT(queue_peek_more_for(q, 0, next, 2, 1 << 20), 0); /* two batches at most */
  push_tagged(q, 7, 100); /* the queue is full: 5 goes (the oldest not lent), never 3 or 4 */
  CHECK_INT(queue_get_stats(q).dropped_full, 1);
  queue_ack_for(q, 0, 2); /* the first batch answered: the next stays lent */
  CHECK_INT(queue_get_stats(q).done_seq, 2);
  CHECK_INT(queue_peek_for(q, 0, first, 8, 1 << 20), 0);
  CHECK_INT(tag_of(next[0]), 3);
  CHECK_INT(queue_peek_more_for(q, 0, first, 8, 1 << 20), 2); /* 6, 7 behind it */
  CHECK_INT(first[0]->seq, 6);
  queue_unpeek_for(q, 0); /* a failed send: 3, 4, 6, 7 all back, in order */
  CHECK_INT(queue_peek_for(q, 0, first, 8, 1 << 20), 4);
  CHECK_INT(first[0]->seq, 3);
  CHECK_INT(first[2]->seq, 6);
  CHECK_INT(queue_peek_more_for(q, 0, next, 8, 1 << 20), 0); /* nothing after them */
  queue_ack_for(q, 0, 1); /* part of the first: the rest goes back */
  CHECK_INT(queue_peek_for(q, 0, first, 8, 1 << 20), 3);
  CHECK_INT(first[0]->seq, 4);
  queue_ack_for(q, 0, 3);
  CHECK_INT(queue_get_stats(q).records, 0);
  CHECK_INT(queue_get_stats(q).done_seq, 7);
  queue_free(q);
}

static void test_full_queue_of_records_in_flight_keeps_them_all(void) {
  queue *q = queue_new(200);
  push_tagged(q, 1, 100);
  push_tagged(q, 2, 100);
  const queue_record *batch[8];
  CHECK_INT(queue_peek(q, batch, 8, 1 << 20), 2);
  push_tagged(q, 3, 100); /* nothing may be dropped: the cap is exceeded until the ack */
  queue_stats s = queue_get_stats(q);
  CHECK_INT(s.dropped_full, 0);
  CHECK_INT(s.records, 3);
  CHECK_INT(tag_of(batch[1]), 2);
  queue_ack(q, 2);
  push_tagged(q, 4, 100);
  push_tagged(q, 5, 100); /* now 3 is droppable */
  s = queue_get_stats(q);
  CHECK_INT(s.dropped_full, 1);
  CHECK_INT(s.records, 2);
  CHECK_INT(s.done_seq, 3);
  queue_free(q);
}

static void test_done_seq_and_last_seq_follow_pushes_and_acks(void) {
  queue *q = queue_new(1 << 20);
  queue_stats s = queue_get_stats(q);
  CHECK_INT(s.last_seq, 0);
  CHECK_INT(s.done_seq, 0);
  for (uint32_t i = 0; i < 3; i++) push_tagged(q, i, 4);
  s = queue_get_stats(q);
  CHECK_INT(s.last_seq, 3);
  CHECK_INT(s.done_seq, 0);
  const queue_record *batch[8];
  queue_peek(q, batch, 1, 1 << 20);
  queue_ack(q, 1);
  CHECK_INT(queue_get_stats(q).done_seq, 1);
  queue_peek(q, batch, 8, 1 << 20);
  queue_ack(q, 2);
  s = queue_get_stats(q);
  CHECK_INT(s.done_seq, 3);
  CHECK_INT(s.last_seq, 3);
  push_tagged(q, 9, 4);
  s = queue_get_stats(q);
  CHECK_INT(s.last_seq, 4);
  CHECK_INT(s.done_seq, 3);
  CHECK_INT(s.pushed, 4);
  queue_free(q);
}

/* ---- one producer, one consumer --------------------------------------------------- */

#define STRESS_RECORDS 20000

typedef struct {
  queue *q;
  size_t len;
} producer_arg;

static void *produce(void *arg) {
  producer_arg *p = arg;
  for (uint32_t i = 1; i <= STRESS_RECORDS; i++) push_tagged(p->q, i, p->len);
  return NULL;
}

/* The consumer side of the exporter: peek a batch, check it, ack it (or now and then unpeek and
 * take it again, as a retry does), until every pushed record was consumed or dropped. */
static void stress(size_t max_bytes, size_t len) {
  queue *q = queue_new(max_bytes);
  producer_arg arg = {.q = q, .len = len};
  pthread_t producer;
  CHECK(pthread_create(&producer, NULL, produce, &arg) == 0);
  const queue_record *batch[64];
  uint64_t consumed = 0, last_seen = 0, rounds = 0;
  bool in_order = true;
  for (;;) {
    size_t n = queue_peek(q, batch, 64, 64 * len);
    for (size_t i = 0; i < n; i++) {
      /* seq and content agree, and seqs only grow: nothing is reordered or corrupted */
      in_order = in_order && batch[i]->seq == tag_of(batch[i]) && batch[i]->seq > last_seen &&
                 batch[i]->len == len;
      if (i > 0) in_order = in_order && batch[i]->seq > batch[i - 1]->seq;
    }
    if (n > 0 && ++rounds % 7 == 0) {
      queue_unpeek(q);
      continue;
    }
    if (n > 0) last_seen = batch[n - 1]->seq;
    queue_ack(q, n);
    consumed += n;
    queue_stats s = queue_get_stats(q);
    if (s.pushed == STRESS_RECORDS && s.records == 0) break;
    if (rounds > 10 * STRESS_RECORDS) break; /* bound: a bug must fail, not hang */
    if (n == 0) sched_yield();
  }
  pthread_join(producer, NULL);
  queue_stats s = queue_get_stats(q);
  CHECK(in_order);
  CHECK_INT(s.pushed, STRESS_RECORDS);
  CHECK_INT(s.records, 0);
  CHECK_INT(s.bytes, 0);
  CHECK_INT(consumed + s.dropped_full, STRESS_RECORDS);
  CHECK_INT(s.done_seq, STRESS_RECORDS);
  CHECK_INT(s.last_seq, STRESS_RECORDS);
  if (max_bytes >= STRESS_RECORDS * len) CHECK_INT(s.dropped_full, 0);
  queue_free(q);
}

static void test_one_thread_pushes_while_another_peeks_and_acks(void) { stress(1u << 30, 32); }

static void test_small_cap_under_load_drops_but_never_loses_count(void) {
  stress(64 * 32, 32); /* whether it drops depends on timing */
}

int main(void) {
  RUN(test_push_peek_ack_keep_arrival_order);
  RUN(test_peek_is_limited_by_count_and_bytes_but_returns_at_least_one);
  RUN(test_unpeek_keeps_the_records_for_the_next_peek);
  RUN(test_the_next_batch_is_lent_while_the_first_is_sent);
  RUN(test_full_queue_drops_the_oldest_and_counts_it);
  RUN(test_full_queue_never_drops_a_record_in_flight);
  RUN(test_full_queue_of_records_in_flight_keeps_them_all);
  RUN(test_done_seq_and_last_seq_follow_pushes_and_acks);
  RUN(test_one_thread_pushes_while_another_peeks_and_acks);
  RUN(test_small_cap_under_load_drops_but_never_loses_count);
  return check_done();
}
