#!/usr/bin/env bash
# Builds the libFuzzer harnesses, writes their seed corpora and runs each for a bounded time.
#   npm run fuzz                       every harness, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=20 bash test/fuzz/run.sh fuzz_config
# The corpus grows in test/fuzz/out/corpus/<harness>/ and is kept between runs; a crash is
# saved as test/fuzz/out/crashes/<harness>-crash-<sha1> and makes the script fail. Replay one
# with: test/fuzz/out/<harness> <file>. Exits 2 (and says why) when clang's fuzzer runtime is
# missing (Debian: apt-get install clang libclang-rt-14-dev).
set -uo pipefail
cd "$(dirname "$0")"

SECONDS_EACH=${FUZZ_SECONDS:-60}
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(fuzz_reconcile fuzz_config fuzz_otlp_response fuzz_redact)

if ! make --no-print-directory check-cc; then
  echo "fuzz: skipped: clang with libFuzzer is missing (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
make --no-print-directory || exit 1
# Overwritten, not removed first: two rounds may run side by side.
node seeds.js out/seeds || exit 1
mkdir -p out/crashes

status=0
summary=()
for h in "${HARNESSES[@]}"; do
  mkdir -p "out/corpus/$h"
  dict=()
  [ -f "$h.dict" ] && dict=("-dict=$h.dict")
  log="out/$h.log"
  echo "== $h: ${SECONDS_EACH}s"
  # -timeout: one input taking 10 s is a hang, reported like a crash. -rss_limit_mb: a
  # harness that keeps 2 GiB is a leak or an unbounded allocation, reported too.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "./out/$h" "out/corpus/$h" "out/seeds/$h" "${dict[@]}" \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="out/crashes/$h-" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    status=1
    grep -E 'ERROR: |SUMMARY: |property failed|runtime error' "$log" | head -5
    grep -E 'Test unit written to' "$log" | tail -1
    summary+=("$h: FAILED after ${runs:-?} executions (log: test/fuzz/$log)")
  else
    summary+=("$h: ${runs:-?} executions, ${rate:-?} exec/s, ${cov:-?}, corpus $(ls "out/corpus/$h" | wc -l) files")
  fi
done
echo
for line in "${summary[@]}"; do echo "fuzz: $line"; done
exit $status
