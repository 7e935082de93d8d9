/* hash — SHA-256, and the deterministic ids derived from OpenCode's own ids. */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

void hash_sha256(const void *data, size_t len, uint8_t out[32]);

/* out_len bytes (at most 32) of SHA-256 over the parts joined by NUL bytes, so that
 * ("ab","c") and ("a","bc") differ. NULL parts hash as empty strings. Never all zero
 * (an all-zero id is invalid in OTLP): a zero result has its last byte set to 1. */
void hash_id(uint8_t *out, size_t out_len, const char *const *parts, size_t n_parts);

#endif
