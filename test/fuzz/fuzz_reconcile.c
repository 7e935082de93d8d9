/* fuzz_reconcile — JSON text in, through reconcile_json with a memory-only state.
 *
 * Beyond memory safety (ASan, UBSan), each input checks what reconcile.h promises:
 *   - the status is 0 (valid) or -1 (rejected, with a reason and no span emitted); -2 only
 *     comes from a failed allocation, which the fuzzer's allocator never returns;
 *   - every span holds valid UTF-8 and unique attribute keys, has non-zero ids unique within
 *     the payload, ends no earlier than it starts, and survives
 *     otlp_encode_span → otlp_decode_span unchanged; the payload's spans together make one
 *     valid ExportTraceServiceRequest;
 *   - the same payload reconciled again emits nothing after a commit (except what emit
 *     refused), and the same spans again after a rollback.
 * The reconcile options (redaction and hiding flags, the secret scan, attribute limit, user id,
 * custom attributes) come from a hash of the input, so seeds stay plain JSON and any mutation may
 * change them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "redact.h"
#include "otlp.h"
#include "reconcile.h"
#include "spans.h"
#include "state.h"

#define MAX_SPANS 4096

typedef struct {
  uint8_t *bytes[MAX_SPANS];
  size_t lens[MAX_SPANS];
  uint8_t ids[MAX_SPANS][8];
  size_t n;
  size_t emitted; /* all spans emit saw, kept or not */
} sink;

static int emit(void *ctx, span *s, const char *key) {
  (void)key;
  sink *k = ctx;
  k->emitted++;
  fuzz_check_span_utf8(s);
  FUZZ_ASSERT(!fuzz_span_has_duplicate_keys(s));
  static const uint8_t zero[16];
  FUZZ_ASSERT(memcmp(s->trace_id, zero, 16) != 0);
  FUZZ_ASSERT(memcmp(s->span_id, zero, 8) != 0);
  FUZZ_ASSERT(s->end_ns >= s->start_ns);
  for (size_t i = 0; i < k->n; i++) FUZZ_ASSERT(memcmp(k->ids[i], s->span_id, 8) != 0);

  uint8_t *bytes = NULL;
  size_t len = 0;
  FUZZ_ASSERT(otlp_encode_span(s, &bytes, &len) == 0);
  span *back = otlp_decode_span(bytes, len);
  FUZZ_ASSERT(back != NULL);
  FUZZ_ASSERT(fuzz_spans_equal(s, back));
  span_free(back);
  if (k->n == MAX_SPANS) { /* refuse, like a full queue: the span stays unmarked */
    free(bytes);
    span_free(s);
    return -1;
  }
  memcpy(k->ids[k->n], s->span_id, 8);
  k->bytes[k->n] = bytes;
  k->lens[k->n] = len;
  k->n++;
  span_free(s);
  return 0;
}

static void sink_clear(sink *k) {
  for (size_t i = 0; i < k->n; i++) free(k->bytes[i]);
  k->n = 0;
  k->emitted = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sink k; /* static: 4096 records do not belong on the stack */
  uint64_t h = fuzz_hash(data, size);
  static const size_t limits[] = {0, 1, 8, 48, 64, 300, 4096, 0};
  /* custom attributes: one that collides with ours, one with invalid UTF-8 */
  static const char *const names[] = {"team", "session.id", "bad\xff"};
  static const char *const values[] = {"fuzz", "not-the-session", "\xc0\x80"};
  reconcile_options opt = {
      .log_prompts = h & 1,
      .log_tool_details = h & 2,
      .log_tool_content = h & 4,
      .user_id = (h & 8) ? "fuzz-user" : NULL,
      .max_attr_bytes = limits[(h >> 4) & 7],
      .hide_inputs = h & (1 << 9),
      .hide_outputs = h & (1 << 10),
      .hide_input_messages = h & (1 << 11),
      .hide_output_messages = h & (1 << 12),
      .hide_input_text = h & (1 << 13),
      .hide_output_text = h & (1 << 14),
      .attribute_names = (h & (1 << 15)) ? names : NULL,
      .attribute_values = (h & (1 << 15)) ? values : NULL,
      .n_attributes = (h & (1 << 15)) ? 3 : 0,
  };
  /* the secret redaction, built-in detectors, for half the inputs */
  static redact_rules *redact;
  if (!redact) redact = redact_new(&(redact_config){.builtin = true});
  if (h & (1 << 16)) opt.redact = redact;

  state *st = state_new(NULL);
  FUZZ_ASSERT(st != NULL);
  reconcile_result r;
  int rc = reconcile_json(st, &opt, (const char *)data, size, emit, &k, &r);
  FUZZ_ASSERT(rc == 0 || rc == -1);
  FUZZ_ASSERT(memchr(r.error, '\0', sizeof r.error) != NULL);
  if (rc == -1) {
    FUZZ_ASSERT(r.error[0] != '\0');
    FUZZ_ASSERT(k.emitted == 0 && r.spans == 0);
  } else {
    FUZZ_ASSERT(r.error[0] == '\0');
    FUZZ_ASSERT(r.spans == k.n);
  }
  if (k.n > 0) {
    otlp_resource res = {.service_name = "opencode", .project_name = "fuzz", .scope_version = "0"};
    uint8_t *req = NULL;
    size_t req_len = 0;
    char error[128];
    FUZZ_ASSERT(otlp_encode_request(&res, (const uint8_t *const *)k.bytes, k.lens, k.n, &req,
                                    &req_len, error, sizeof error) == 0);
    free(req);
  }
  size_t first_emitted = k.emitted, first_kept = k.n;
  sink_clear(&k);
  if (h & 0x100) state_rollback(st);
  else state_commit(st);

  /* Again: after a commit, nothing is new; after a rollback, the same spans come back. */
  int again = reconcile_json(st, &opt, (const char *)data, size, emit, &k, &r);
  FUZZ_ASSERT(again == rc);
  FUZZ_ASSERT(k.emitted == ((h & 0x100) ? first_emitted : first_emitted - first_kept));
  state_commit(st);
  sink_clear(&k);
  state_free(st);
  return 0;
}
