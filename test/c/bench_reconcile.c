/* The core's reconcile() alone, without Node: a payload file reconciled CALLS times, each time
 * under a fresh state (every span new), the spans freed as they come. For a count of the work
 * that the machine's load does not change (valgrind --tool=callgrind: instructions, per
 * function) and a profile of it; a benchmark, not a test (the Makefile's `make` skips it):
 *   make -C test/c out/plain/bench_reconcile
 *   node -e "..." > payload.json   (test/bench/session.js: makeSession, payload)
 *   valgrind --tool=callgrind test/c/out/plain/bench_reconcile payload.json [calls] [redact 0|1]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reconcile.h"
#include "redact.h"
#include "spans.h"
#include "state.h"

static int drop(void *ctx, span *s, const char *key) {
  (void)key;
  *(size_t *)ctx += 1;
  span_free(s);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *json = malloc((size_t)n + 1);
  if (!json || fread(json, 1, (size_t)n, f) != (size_t)n) return 2;
  json[n] = 0;
  fclose(f);
  int calls = argc > 2 ? atoi(argv[2]) : 1;
  redact_config rc = {.builtin = true};
  redact_rules *rules = argc > 3 && atoi(argv[3]) ? redact_new(&rc) : NULL;
  reconcile_options opt = {.log_prompts = true,
                           .log_tool_details = true,
                           .log_tool_content = true,
                           .max_input_bytes = 256 * 1024,
                           .redact = rules};
  size_t spans = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < calls; i++) {
    state *st = state_new(NULL);
    reconcile_result r;
    if (reconcile_json(st, &opt, json, (size_t)n, drop, &spans, &r) != 0) {
      fprintf(stderr, "rejected: %s\n", r.error);
      return 1;
    }
    state_commit(st);
    state_free(st);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("{\"calls\": %d, \"spans\": %zu, \"ms_per_call\": %.3f}\n", calls, spans / (size_t)calls,
         ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / calls);
  redact_free(rules);
  free(json);
  return 0;
}
