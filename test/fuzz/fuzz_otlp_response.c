/* fuzz_otlp_response — bytes a backend (or anything between) might answer, through
 * otlp_parse_response; and the same bytes as a stored Span through otlp_decode_span (the
 * spool's records are read back with it).
 *
 * Properties checked besides memory safety:
 *   - a parsed response gives a message that is NULL or a NUL-terminated string, and a
 *     failed parse gives neither message nor count;
 *   - a decoded span holds valid UTF-8 (keys included) and unique keys, re-encodes, decodes
 *     again to the same span, and makes a valid one-span ExportTraceServiceRequest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "otlp.h"
#include "spans.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int64_t rejected = -12345;
  char *message = (char *)1;
  int rc = otlp_parse_response(data, size, &rejected, &message);
  FUZZ_ASSERT(rc == 0 || rc == -1);
  if (rc == 0) {
    if (message) FUZZ_ASSERT(strlen(message) < size);
  } else {
    FUZZ_ASSERT(message == NULL);
  }
  free(message);
  /* NULL out-parameters are allowed too. */
  FUZZ_ASSERT(otlp_parse_response(data, size, NULL, NULL) == rc);

  span *s = otlp_decode_span(data, size);
  if (!s) return 0;
  fuzz_check_span_utf8(s);
  uint8_t *bytes = NULL;
  size_t len = 0;
  FUZZ_ASSERT(otlp_encode_span(s, &bytes, &len) == 0);
  span *again = otlp_decode_span(bytes, len);
  FUZZ_ASSERT(again != NULL);
  FUZZ_ASSERT(!fuzz_span_has_duplicate_keys(s));
  FUZZ_ASSERT(fuzz_spans_equal(s, again));

  otlp_resource res = {.service_name = "opencode", .project_name = "fuzz", .scope_version = "0"};
  const uint8_t *spans[1] = {bytes};
  uint8_t *req = NULL;
  size_t req_len = 0;
  char error[128];
  FUZZ_ASSERT(otlp_encode_request(&res, spans, &len, 1, &req, &req_len, error, sizeof error) == 0);
  free(req);
  free(bytes);
  span_free(again);
  span_free(s);
  return 0;
}
