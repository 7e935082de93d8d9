/* spool — encoded spans on disk until the backend has them.
 *
 * Each process writes into its own directory under the spool root, holding an exclusive lock
 * on it for as long as it lives. A directory whose lock is free belongs to a process that
 * died (a crash, kill -9, a laptop that lost power): the next process to open the spool
 * adopts its files and sends them. Two live processes never share a file.
 *
 *   <root>/<pid>-<random>/lock                 flock'ed by the owner
 *   <root>/<pid>-<random>/<16 hex id>.spool    one per write: "OATSPOOL1\n", then records
 *                                              of [u32 length][u32 crc32][bytes], little endian
 *
 * A file appears whole or not at all (temp file, fsync, rename, fsync of the directory). A
 * record whose checksum fails is skipped with a log line; the rest of its file still loads.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct spool spool;

/* This process's spool under root (created 0700). NULL when the directory cannot be used
 * (logged): the caller then keeps spans in memory only. */
spool *spool_open(const char *root);

/* Releases the lock. Files stay for the next process; an empty directory is removed. */
void spool_close(spool *sp);

/* Receives one stored record: data is malloc'd and owned by the callee from then on. */
typedef void (*spool_record_fn)(void *ctx, uint64_t file_id, uint8_t *data, size_t len);

/* Adopts the files of dead processes, then passes every stored record to fn, oldest file
 * first. Returns how many records were loaded. */
size_t spool_load(spool *sp, spool_record_fn fn, void *ctx);

/* Stores records as one new file. Returns its id (> 0), or 0 when it could not be written
 * (logged once per failure streak). Thread-safe. */
uint64_t spool_write(spool *sp, const uint8_t *const *records, const size_t *lens, size_t n);

/* Deletes a file whose records have all left the queue. Thread-safe. */
void spool_remove(spool *sp, uint64_t file_id);

#endif
