/* queue — the hand-off: encoded spans waiting for the exporter, in arrival order, and the
 * writer thread that makes them durable in the spool (see docs/durability.md).
 *
 * reconcile's side hands a unit over (the spans of one reconcile and the dedup marks they
 * answer for) and returns at once: it never waits on the disk or the network. The writer
 * thread collects every unit handed over since its last write and stores them as one spool
 * file (group commit: one fsync for all of them). A unit is "settled" once each of its spans
 * is durable or has left the queue (sent, or given up on); then the settle callback receives
 * its marks on the writer thread (a unit settled by an ack or a drop waits for its next round;
 * a queue whose writer never started runs them in queue_free), and the caller records them in
 * the session state. So the state never says "sent" for a span that could still vanish with the
 * process.
 *
 * Each destination's exporter thread peeks a batch from its own cursor (queue_peek_for), sends
 * it and acks it. It sends only spans that are durable, or that the spool cannot hold (disk
 * trouble, no spool): nothing is sent before it could be restored after a crash, unless the
 * disk refuses it. A record leaves the queue (and the disk) only when every destination acked
 * it, so a failed send keeps it.
 *
 * The queue is bounded in bytes: when full, the oldest whole spool files not being sent are
 * dropped (so a dropped span is never restored again), counted exactly and logged. Spans
 * older than the age limit go the same way. Thread-safe.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "spool.h"

typedef struct queue queue;

/* Destinations (several backends fed from one queue): each has a slot 0..7 and its own cursor.
 * A record leaves the queue (and its spool file) only when every destination has accepted or
 * finally refused it (acked it); each destination peeks and acks on its own, so one that fails
 * never holds another back. Each destination's progress through a spool file is written beside
 * the file (spool_mark_done), so a restart neither loses nor doubles a span for any of them.
 * Until queue_set_destinations, there is one destination, slot 0. */
#define QUEUE_MAX_DESTINATIONS 8

typedef struct {
  uint8_t *data; /* an encoded OTLP Span (otlp_encode_span) */
  size_t len;
  uint64_t seq; /* 1, 2, 3, ... in push order */
} queue_record;

typedef struct {
  size_t records, bytes;   /* waiting now (in flight included) */
  uint64_t pushed;         /* ever pushed (restored ones included) */
  uint64_t dropped_full;   /* dropped because the queue was full */
  uint64_t dropped_old;    /* dropped because they were older than the age limit */
  uint64_t last_seq;       /* seq of the newest record ever pushed */
  uint64_t done_seq;       /* every record with seq <= done_seq has left the queue */
  size_t not_durable;      /* records waiting now that no spool file holds */
  uint64_t write_failures; /* spool writes that failed */
  bool spool_failing;      /* the last spool write failed */
  uint64_t deduplicated;   /* spans another process had already stored (queue_set_guard):
                            * never written, never sent */
  bool loading;            /* the spool of earlier processes is still being loaded */
  spool_load_stats loaded; /* what the load found (once it is over) */
} queue_stats;

/* Receives a settled unit's marks (as handed over; the callee must not keep the pointer).
 * durable: the unit's spans reached a spool file (false: they were sent or dropped before
 * the disk held them). */
typedef void (*queue_settled_fn)(void *ctx, const uint8_t *marks, size_t len, bool durable);

/* Receives marks found in the spool at load time (spans of a dead process), on the writer
 * thread, before any span handed over in this process is written. */
typedef void (*queue_marks_fn)(void *ctx, const uint8_t *marks, size_t len);

/* Exactly once between processes: before the writer stores a unit, it opens the guard of the
 * unit's session (open(ctx, marks): blocking, on the writer thread; NULL: none), leaves out
 * the spans whose key recorded() says is already recorded (another process stored them), and
 * records the marks of what it stored through record() before close() lets the next process
 * look. Sessions are opened in one order (by id), so two writers never wait on each other in a
 * circle. */
typedef struct {
  void *(*open)(void *ctx, const uint8_t *marks, size_t len);
  bool (*recorded)(void *guard, const char *key);
  void (*record)(void *guard, const uint8_t *marks, size_t len);
  void (*close)(void *guard);
  void *ctx;
} queue_guard;

/* Sets the guard. Call before the first hand-over. */
void queue_set_guard(queue *q, const queue_guard *guard);

queue *queue_new(size_t max_bytes);

/* Stops the writer thread (a write in progress finishes) and frees everything. Spans on disk
 * stay for the next process. */
void queue_free(queue *q);

/* Sets who hears of settled units. Call before the first hand-over. */
void queue_on_settled(queue *q, queue_settled_fn fn, void *ctx);

/* Sets who hears that the writer made records sendable (the exporter, so that it does not
 * wait for its next look). Called on the writer thread, without the queue's lock. */
void queue_on_written(queue *q, void (*fn)(void *ctx), void *ctx);

/* Attaches a spool (the queue owns it from then on) and has the writer thread load what it
 * holds: spans earlier processes left unsent. Never waits: the caller (OpenCode's thread)
 * returns at once. Their marks go to on_marks before the writer stores anything handed over
 * here, and the guard leaves out what they already hold, so nothing is doubled by a reconcile
 * that ran before the load ended. on_loaded (may be NULL) hears when the load is over (writer
 * thread); not when queue_free cut it short. */
void queue_attach_spool(queue *q, spool *sp, queue_marks_fn on_marks,
                        void (*on_loaded)(void *ctx, const spool_load_stats *stats), void *ctx);

/* Waits (at most timeout_ms) until the spool's load is over; returns how many spans it loaded
 * (so far, when it is not over). Tests and tools; OpenCode's thread never calls it. */
size_t queue_wait_loaded(queue *q, long timeout_ms);

/* Hands n records over (ownership of every data[i] moves to the queue, even on failure),
 * with each one's dedup key (keys[i], copied; keys may be NULL) and the marks they answer for
 * (copied; may be NULL/0). Never touches the disk: the writer
 * thread stores them. Returns 0, or -1 when out of memory (the records are then dropped and
 * their marks never settle: a later snapshot emits them again). */
int queue_hand_over(queue *q, uint8_t **data, const size_t *lens, const char *const *keys, size_t n,
                    const uint8_t *marks, size_t marks_len);

/* One record without marks; see queue_hand_over. Returns its seq, or 0 when out of memory. */
uint64_t queue_push(queue *q, uint8_t *data, size_t len);

/* Borrows up to max_n sendable records from the head, at most max_bytes together (but always
 * at least one when any is sendable) into out, ending on a spool-file boundary where one is
 * in reach. They stay queued, and are not dropped, until queue_ack. Only one consumer may peek
 * at a time. Returns how many. */
size_t queue_peek(queue *q, const queue_record **out, size_t max_n, size_t max_bytes);

/* Removes the first n records the last peek returned (sent, or given up on) and returns the
 * rest of them to the queue. Spool files left without records are deleted before it returns
 * (on the caller's thread: the exporter's). */
void queue_ack(queue *q, size_t n);

/* Returns the records a peek borrowed without removing them (the send will be retried). */
void queue_unpeek(queue *q);

/* The destinations, by key (a stable hash of each one's name, at most QUEUE_MAX_DESTINATIONS):
 * slots[i] receives key i's slot. A key already known keeps its slot (and its progress); a new
 * one gets a free slot and has every queued record still to send; a slot whose key is no longer
 * named is freed (its exporter must be stopped first), and records only it held back leave the
 * queue. Any thread. */
void queue_set_destinations(queue *q, const uint32_t *keys, size_t n, int *slots);

/* queue_peek / queue_ack / queue_unpeek for the destination in slot (each destination's
 * exporter is the one consumer of its slot). A record is lent to a destination until it acks
 * or unpeeks; a lent record is neither dropped nor written. The plain functions are slot 0's. */
size_t queue_peek_for(queue *q, int slot, const queue_record **out, size_t max_n, size_t max_bytes);
void queue_ack_for(queue *q, int slot, size_t n);
void queue_unpeek_for(queue *q, int slot);

/* The next batch while one is being sent (so that it is prepared meanwhile): borrows, as
 * queue_peek_for would, the sendable records after those slot has borrowed, when it has
 * borrowed exactly one batch (0 otherwise). queue_ack_for of that whole first batch keeps this
 * one lent, as if peeked then; an ack of fewer (or queue_unpeek_for) returns both. */
size_t queue_peek_more_for(queue *q, int slot, const queue_record **out, size_t max_n,
                           size_t max_bytes);

typedef struct {
  size_t pending;    /* records this destination has still to send */
  uint64_t done_seq; /* every record with seq <= done_seq is done for it, or gone */
} queue_dest_stats;

queue_dest_stats queue_get_dest_stats(queue *q, int slot);

queue_stats queue_get_stats(queue *q);

/* Changes the byte cap (a config change); the next hand-over makes room if needed. */
void queue_set_max_bytes(queue *q, size_t max_bytes);

/* Spans handed over more than max_age_s seconds ago are dropped (0: no limit). Ages are kept
 * on the steady clock (wallclock.h): a wall clock set wrong neither ages nor rejuvenates them. */
void queue_set_max_age(queue *q, long max_age_s);

/* Drops what is past the age limit now (counted like the cap's drops). Returns how many. */
size_t queue_expire(queue *q);

/* Waits until every record handed over before the call is durable (or the spool failed to
 * hold it, or there is no spool), at most timeout_ms. Returns true when that holds. */
bool queue_sync(queue *q, long timeout_ms);

/* Logs the drops not logged yet (the cap's log line is rate-limited); for shutdown. */
void queue_log_drops(queue *q);

#endif
