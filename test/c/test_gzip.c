/* gzip tests: what gzip_encode writes is one gzip member any reader (zlib's inflate with the
 * gzip wrapper) turns back into the body, byte for byte, whether it was made in one stream or in
 * two halves at once; and two halves cost about what one stream costs on the wire. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "check.h"
#include "gzip.h"

/* Span-like bytes: repeated text with varying numbers, some random runs (tool outputs). */
static uint8_t *body_of(size_t len, unsigned seed) {
  uint8_t *b = malloc(len ? len : 1);
  unsigned x = seed * 2654435761u + 1;
  static const char words[] = "tool.output bash read grep edit {\"filePath\":\"/src/main.c\"} ";
  for (size_t i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    b[i] = (i / 4096) % 3 == 2 ? (uint8_t)(x >> 16)
                               : (uint8_t)words[(i + (x >> 28)) % (sizeof words - 1)];
  }
  return b;
}

/* The body a gzip reader gets from enc, or NULL when it is not one whole gzip member. */
static uint8_t *gunzip(const uint8_t *enc, size_t enc_len, size_t expect, size_t *got) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 15 + 16) != Z_OK) return NULL;
  uint8_t *out = malloc(expect + 16);
  z.next_in = (Bytef *)enc;
  z.avail_in = (uInt)enc_len;
  z.next_out = out;
  z.avail_out = (uInt)(expect + 16);
  int rc = inflate(&z, Z_FINISH);
  *got = (expect + 16) - z.avail_out;
  bool whole = rc == Z_STREAM_END && z.avail_in == 0; /* nothing after the member */
  inflateEnd(&z);
  if (!whole) free(out), out = NULL;
  return out;
}

static void round_trip(size_t len, int threads, size_t *enc_len_out) {
  uint8_t *body = body_of(len, (unsigned)len);
  uint8_t *enc = NULL;
  size_t enc_len = 0, got = 0;
  CHECK_INT(gzip_encode(body, len, threads, &enc, &enc_len), 0);
  CHECK(enc != NULL && enc_len >= 18);
  uint8_t *back = enc ? gunzip(enc, enc_len, len, &got) : NULL;
  CHECK(back != NULL);
  CHECK_INT(got, len);
  CHECK(back && memcmp(back, body, len) == 0);
  if (enc_len_out) *enc_len_out = enc_len;
  free(back);
  free(enc);
  free(body);
}

static void test_small_bodies_round_trip(void) {
  const size_t sizes[] = {0, 1, 100, 65536, GZIP_SLICE_MIN - 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    round_trip(sizes[i], 1, NULL);
    round_trip(sizes[i], 2, NULL);
  }
}

static void test_large_bodies_in_two_halves_round_trip(void) {
  const size_t sizes[] = {GZIP_SLICE_MIN, GZIP_SLICE_MIN + 1, 3500000, 4u * 1024 * 1024 + 7};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) round_trip(sizes[i], 2, NULL);
}

static void test_two_halves_cost_about_one_stream_on_the_wire(void) {
  size_t one = 0, two = 0;
  round_trip(3500000, 1, &one);
  round_trip(3500000, 2, &two);
  /* the second half starts with the first's last 32 KiB as its dictionary: a cut costs bytes
   * only where a match would have reached further back */
  CHECK(two <= one + one / 100 + 64);
}

static void test_the_same_body_gives_the_same_bytes(void) {
  uint8_t *body = body_of(3000000, 7);
  uint8_t *a = NULL, *b = NULL;
  size_t alen = 0, blen = 0;
  CHECK_INT(gzip_encode(body, 3000000, 2, &a, &alen), 0);
  CHECK_INT(gzip_encode(body, 3000000, 2, &b, &blen), 0);
  CHECK_INT(alen, blen);
  CHECK(a && b && memcmp(a, b, alen) == 0);
  free(a);
  free(b);
  free(body);
}

int main(void) {
  RUN(test_small_bodies_round_trip);
  RUN(test_large_bodies_in_two_halves_round_trip);
  RUN(test_two_halves_cost_about_one_stream_on_the_wire);
  RUN(test_the_same_body_gives_the_same_bytes);
  return check_done();
}
