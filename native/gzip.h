/* gzip — the gzip encoding of an export request body (RFC 1952: one member, what
 * `content-encoding: gzip` means), at zlib's fastest level.
 *
 * Compression is most of an export's CPU time (a 3.5 MB batch of tool outputs takes ~20 ms at
 * level 1, where framing it takes 1). A body of GZIP_SLICE_MIN bytes or more is cut in two
 * and both halves are compressed at once, the second on a thread of its own, as pigz does:
 * each half is a raw deflate stream, the second primed with the last 32 KiB before its start
 * (so matches cross the cut as in one stream), the first ended on a byte boundary (a sync
 * flush: 5 bytes); the CRC-32 is the whole body's. Any gzip reader reads the one member.
 * A smaller body, or a helper thread that cannot start, takes one stream on the caller's
 * thread.
 */
#ifndef GZIP_H
#define GZIP_H

#include <stddef.h>
#include <stdint.h>

/* Bodies from this size on are compressed in two halves at once. */
#define GZIP_SLICE_MIN (1024u * 1024u)

/* The gzip encoding of data[0..len) in a malloc'd *out (*out_len bytes). threads: 1 for the
 * caller's thread only, 2 to cut a large body in two. Returns 0, or -1 (out of memory, or a
 * body over UINT_MAX / 2 bytes: OTLP batches are far smaller) with nothing allocated. */
int gzip_encode(const uint8_t *data, size_t len, int threads, uint8_t **out, size_t *out_len);

#endif
