/* spool — encoded spans on disk until the backend has them (the durable half of the
 * hand-off; the whole durability protocol is written down in docs/durability.md).
 *
 * Each process writes into its own directory under the spool root, holding an exclusive lock
 * on it for as long as it lives. A directory whose lock is free belongs to a process that
 * died (a crash, kill -9, a laptop that lost power): the next process to open the spool
 * adopts its files and sends them. Two live processes never share a file.
 *
 *   <root>/<pid>-<random>/lock                 locked by the owner (platform_lock)
 *   <root>/<pid>-<random>/<16 hex id>.spool    one per group commit
 *
 * A file (format 3, little endian):
 *   "OATSPOOL3\n"
 *   header: [u64 wall ms][u64 steady ms][16 boot id][u32 spans][u32 records][u32 crc32 of
 *           the 40 bytes before it]: when the oldest span in it was handed over, on the wall
 *           clock and on the steady clock of that boot (wallclock.h), and what the file holds
 *   records: [u32 SYNC "\xffREC"][u32 length][u8 kind][u32 crc32 of length and kind]
 *            [u32 crc32 of the bytes][length bytes]
 * The sync word and the header checksum let a reader find the next record after a damaged one
 * (a bad length field loses that record only); the file header's counts say exactly how many
 * spans damage cost. Kinds: SPOOL_SPAN (an encoded OTLP Span: the very bytes that are sent)
 * and SPOOL_MARKS (the dedup keys of the spans that follow it: "<session id>\0<key>\0..."). A
 * kind with bit 0x80 set may be skipped by a reader that does not know it; any other unknown
 * kind means the file is another version's: it is left untouched for that version, as is a
 * file whose magic is not one of ours. Files of the earlier formats still load:
 * "OATSPOOL2\n" ([u32 length][u32 crc32 of kind and bytes][u8 kind][bytes], re-synchronised
 * after damage by looking for a record that checks) and "OATSPOOL1\n" (no kind: spans).
 *
 * With several destinations, each one's progress through a file is a marker beside it
 *   <root>/<pid>-<random>/<16 hex id>.<8 hex key>.done   (spool_mark_done)
 * The file format itself is unchanged (still 3): an older version ignores the markers and
 * sends the file's spans to its one backend.
 *
 * A file holds the marks of its spans, so a process that dies after the file is durable but
 * before the session state recorded them leaves enough for the next process to record them
 * (roll forward) rather than emit those spans again.
 *
 * A file appears whole or not at all (temp file, write, fsync, rename, fsync of the
 * directory; the fsyncs only when the spool syncs, see spool_open). A damaged record is
 * skipped, counted and logged; the rest of its file still loads.
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

/* SPOOL_DONE is never written in a file: spool_load passes a file's destination markers as
 * records of this kind (8 bytes: [u32 key][u32 count]) before the file's other records. */
enum { SPOOL_SPAN = 1, SPOOL_MARKS = 2, SPOOL_DONE = 3, SPOOL_OPTIONAL = 0x80 };

/* Destination keys a spool keeps markers for, at most. */
#define SPOOL_MAX_KEYS 16

/* This process's spool under root (created 0700). sync: fsync each file and the directory
 * before a write counts as done (survives an OS crash or power loss; without it only a
 * process crash is covered). NULL when the directory cannot be used (logged): the caller
 * then keeps spans in memory only. */
spool *spool_open(const char *root, bool sync);

/* Changes whether writes fsync (a config change). */
void spool_set_sync(spool *sp, bool sync);

/* Releases the lock. Files stay for the next process; an empty directory is removed. */
void spool_close(spool *sp);

/* Receives one stored record: data is malloc'd and owned by the callee from then on. age_ms is
 * how long ago the file's oldest span was handed over: by the steady clock when the file was
 * written since this boot (a wall clock set wrong meanwhile does not matter), else by the wall
 * clock (never negative); for files of the earlier formats, by their mtime. */
typedef void (*spool_record_fn)(void *ctx, uint64_t file_id, int64_t age_ms, int kind,
                                uint8_t *data, size_t len);

typedef struct {
  size_t spans;         /* span records loaded */
  size_t damaged_spans; /* spans lost to damaged records (exact when the file header is
                         * intact; else each damaged record counts as one span) */
  size_t foreign_files; /* files left untouched for the version that wrote them */
} spool_load_stats;

/* Adopts the files of dead processes, then passes every stored record to fn, oldest file
 * first. Fills stats (may be NULL). stop (may be NULL) is read between files: when it becomes
 * nonzero the load ends there (the rest stay on disk). Returns how many span records were
 * loaded. */
size_t spool_load(spool *sp, spool_record_fn fn, void *ctx, spool_load_stats *stats,
                  const int *stop);

/* One record to write (borrowed). */
typedef struct {
  int kind;
  const uint8_t *data;
  size_t len;
} spool_item;

/* Stores the items as one new file whose oldest span was handed over at born_ms on the steady
 * clock (wallclock_steady_ms; 0: now). Returns its id (> 0), or 0 when it could not be
 * written, with errno saying why (nothing of it is left behind). Thread-safe; never logs (the
 * caller knows what a failure costs). */
uint64_t spool_write(spool *sp, const spool_item *items, size_t n, int64_t born_ms);

/* Deletes a file whose records have all left the queue. Thread-safe. */
void spool_remove(spool *sp, uint64_t file_id);

/* Several destinations (queue.h): destination `key` (a hash of its name) has finished with the
 * first `count` span records of file_id (accepted or finally refused them). Written as its own
 * small file beside the spool file, "<16 hex id>.<8 hex key>.done" (temp file, rename, fsync
 * when the spool syncs), so that after a crash a restart neither sends those spans to that
 * destination again nor loses them for the others. spool_load passes a file's markers as
 * SPOOL_DONE records before its spans (none when the file is damaged: a record's position is then
 * unknown, so every destination gets its spans again); spool_remove deletes them with the file;
 * markers whose file is gone are removed at load; adoption moves them with their file. Returns
 * 0, or -1 (errno). Thread-safe. */
int spool_mark_done(spool *sp, uint64_t file_id, uint32_t key, uint32_t count);

/* After a failed write: when this process's directory (or the root) is gone, creates it
 * again and takes a new lock in it. Returns true when it did (logged). */
bool spool_repair(spool *sp);

/* What the spool under root holds, read without opening, locking or adopting anything (the
 * status command's census), as JSON text (malloc'd; NULL when out of memory):
 * [{"dir", "pid" (null when the name holds none), "live" (that process runs), "files", "spans",
 *   "bytes", "pending": {name: spans that destination has still to send}}] for every process
 * directory holding spool files, or whose process runs. A file of another version counts in
 * "bytes" only; a damaged one counts the spans its header declares (or the sound records). The
 * destinations are given as names with their marker keys (spool_mark_done). */
char *spool_census_json(const char *root, const char *const *names, const uint32_t *keys, size_t n);

#endif
