/* queue — encoded spans waiting for the exporter, in arrival order, on disk as well when a
 * spool is attached (durable before sent).
 *
 * reconcile's side pushes (fast, never waits on the network); the exporter thread peeks a
 * batch from the head, sends it, and acks it. A record leaves the queue (and the disk) only
 * when acked, so a failed send keeps it. The queue is bounded in bytes: when full, the oldest
 * records not being sent are dropped, counted and logged. Thread-safe.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"

typedef struct queue queue;

typedef struct {
  uint8_t *data; /* an encoded OTLP Span (otlp_encode_span) */
  size_t len;
  uint64_t seq;  /* 1, 2, 3, ... in push order */
} queue_record;

typedef struct {
  size_t records, bytes;  /* waiting now (in flight included) */
  uint64_t pushed;        /* ever pushed */
  uint64_t dropped_full;  /* dropped because the queue was full */
  uint64_t last_seq;      /* seq of the newest record ever pushed */
  uint64_t done_seq;      /* every record with seq <= done_seq has left the queue */
} queue_stats;

queue *queue_new(size_t max_bytes);
void queue_free(queue *q);

/* Attaches a spool (the queue owns it from then on) and loads what it holds: spans an
 * earlier process left unsent. Returns how many were loaded. */
size_t queue_attach_spool(queue *q, spool *sp);

/* Appends n records, stored as one spool file first when a spool is attached (ownership of
 * every data[i] moves to the queue, even on failure). Returns 0 when they are queued (and on
 * disk, with a spool), 1 when queued in memory only because the spool could not be written,
 * -1 when out of memory. */
int queue_push_batch(queue *q, uint8_t **data, const size_t *lens, size_t n);

/* Appends one record; see queue_push_batch. Returns its seq, or 0 when out of memory. */
uint64_t queue_push(queue *q, uint8_t *data, size_t len);

/* Borrows up to max_n records from the head, at most max_bytes together (but always at least
 * one when any is waiting) into out, ending on a spool-file boundary where one is in reach. They stay queued, and are not dropped for space, until
 * queue_ack. Only one consumer may peek at a time. Returns how many. */
size_t queue_peek(queue *q, const queue_record **out, size_t max_n, size_t max_bytes);

/* Removes the n records the last peek returned (sent, or given up on). */
void queue_ack(queue *q, size_t n);

/* Returns the records a peek borrowed without removing them (the send will be retried). */
void queue_unpeek(queue *q);

queue_stats queue_get_stats(queue *q);

/* Changes the byte cap (a config change); the next push makes room if needed. */
void queue_set_max_bytes(queue *q, size_t max_bytes);

#endif
