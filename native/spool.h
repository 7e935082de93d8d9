/* spool — encoded spans on disk until the backend has them (the durable half of the
 * hand-off; the whole durability protocol is written down in docs/durability.md).
 *
 * Each process writes into its own directory under the spool root, holding an exclusive lock
 * on it for as long as it lives. A directory whose lock is free belongs to a process that
 * died (a crash, kill -9, a laptop that lost power): the next process to open the spool
 * adopts its files and sends them. Two live processes never share a file.
 *
 *   <root>/<pid>-<random>/lock                 flock'ed by the owner
 *   <root>/<pid>-<random>/<16 hex id>.spool    one per group commit: "OATSPOOL2\n", then
 *                                              records of [u32 length][u32 crc32][u8 kind]
 *                                              [length bytes], little endian; the crc32
 *                                              covers kind and bytes
 *
 * Kinds: SPOOL_SPAN (an encoded OTLP Span: the very bytes that are sent) and SPOOL_MARKS (the
 * dedup keys of the spans that follow it: "<session id>\0<key>\0<key>\0..."). A file holds
 * the marks of its spans, so a process that dies after the file is durable but before the
 * session state recorded them leaves enough for the next process to record them (roll
 * forward) rather than emit those spans again. Files of the first format ("OATSPOOL1\n",
 * records without a kind byte) still load, as spans.
 *
 * A file appears whole or not at all (temp file, write, fsync, rename, fsync of the
 * directory; the fsyncs only when the spool syncs, see spool_open). A record whose checksum
 * fails is skipped with a log line; the rest of its file still loads. A file's mtime is the
 * hand-off time of its oldest span (the age limit reads it).
 *
 * Threads: spool_write and spool_remove may run on any thread; the rest on one at a time.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct spool spool;

enum { SPOOL_SPAN = 1, SPOOL_MARKS = 2 };

/* This process's spool under root (created 0700). sync: fsync each file and the directory
 * before a write counts as done (survives an OS crash or power loss; without it only a
 * process crash is covered). NULL when the directory cannot be used (logged): the caller
 * then keeps spans in memory only. */
spool *spool_open(const char *root, bool sync);

/* Changes whether writes fsync (a config change). */
void spool_set_sync(spool *sp, bool sync);

/* Releases the lock. Files stay for the next process; an empty directory is removed. */
void spool_close(spool *sp);

/* Receives one stored record: data is malloc'd and owned by the callee from then on. born is
 * the file's mtime. */
typedef void (*spool_record_fn)(void *ctx, uint64_t file_id, time_t born, int kind, uint8_t *data,
                                size_t len);

/* Adopts the files of dead processes, then passes every stored record to fn, oldest file
 * first. Returns how many span records were loaded. */
size_t spool_load(spool *sp, spool_record_fn fn, void *ctx);

/* One record to write (borrowed). */
typedef struct {
  int kind;
  const uint8_t *data;
  size_t len;
} spool_item;

/* Stores the items as one new file whose mtime is born (0: now). Returns its id (> 0), or 0
 * when it could not be written, with errno saying why (nothing of it is left behind).
 * Thread-safe; never logs (the caller knows what a failure costs). */
uint64_t spool_write(spool *sp, const spool_item *items, size_t n, time_t born);

/* Deletes a file whose records have all left the queue. Thread-safe. */
void spool_remove(spool *sp, uint64_t file_id);

/* After a failed write: when this process's directory (or the root) is gone, creates it
 * again and takes a new lock in it. Returns true when it did (logged). */
bool spool_repair(spool *sp);

#endif
