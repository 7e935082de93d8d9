#!/usr/bin/env bash
# The JS tests once more, with the addon built under AddressSanitizer + UndefinedBehavior-
# Sanitizer and loaded into an uninstrumented Node (and Bun) through LD_PRELOAD of the ASan
# runtime:  npm run test:asan   (optional; not part of npm test)
#   ASAN_RUNTIMES="node"  runtimes to try (default: "node bun")
#   ASAN_TESTS="test/api.test.js"  the test files (default: api, hostile, plugin)
# A sanitizer report from any process (the test runner, a scenario child, OpenCode's Bun)
# is written under test/c/out/addon-asan/reports/ and fails the run. Leak detection is off:
# the runtimes themselves never free everything at exit.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=test/c/out/addon-asan
CC=${CC:-gcc}
RUNTIMES=${ASAN_RUNTIMES:-node bun}
TESTS=${ASAN_TESTS:-test/api.test.js test/hostile.test.js test/plugin.test.js}
mkdir -p "$OUT"
rm -rf "$OUT/reports"
mkdir -p "$OUT/reports"

node native/nodedir/prepare.js || exit 1
mapfile -t SOURCES < <(node native/sources.js) # the list binding.gyp builds from
# shellcheck disable=SC2046
$CC -std=c11 -D_GNU_SOURCE -DNAPI_VERSION=8 -g -O1 -fno-omit-frame-pointer -fPIC -shared \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined -fvisibility=hidden \
  -Inative/nodedir/include/node -Inative -Inative/gen "${SOURCES[@]}" -o "$OUT/arize_tracing.node" \
  $(pkg-config --libs jansson yaml-0.1 libprotobuf-c) -ldl -lz -lpthread -lm || exit 1

RUNTIME_LIB=$($CC -print-file-name=libasan.so)
if [ ! -e "$RUNTIME_LIB" ]; then
  echo "asan: skipped: no ASan runtime for $CC" >&2
  exit 2
fi

export ARIZE_TRACING_NATIVE=$PWD/$OUT/arize_tracing.node
export ASAN_OPTIONS="detect_leaks=${ASAN_DETECT_LEAKS:-0}:abort_on_error=1:halt_on_error=1:log_path=$PWD/$OUT/reports/asan:allow_user_segv_handler=1:handle_segv=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$PWD/$OUT/reports/ubsan"

# The scenario children must load this build, not build/Release: check one does.
loaded=$(HOME=$(mktemp -d) LD_PRELOAD=$RUNTIME_LIB node -e "process.stdout.write(require('./lib').status().binary)")
if [ "$loaded" != "$ARIZE_TRACING_NATIVE" ]; then
  echo "asan: the API loaded $loaded, not $ARIZE_TRACING_NATIVE" >&2
  exit 1
fi

status=0
for runtime in $RUNTIMES; do
  echo "== JS tests under $runtime with the ASan addon"
  # shellcheck disable=SC2086
  case $runtime in
    node) LD_PRELOAD=$RUNTIME_LIB node --test --test-concurrency=1 $TESTS || status=1 ;;
    bun) LD_PRELOAD=$RUNTIME_LIB node_modules/.bin/bun test --timeout 120000 $TESTS || status=1 ;;
  esac
done
if compgen -G "$OUT/reports/*" >/dev/null; then
  echo "asan: sanitizer reports:"
  for f in "$OUT"/reports/*; do echo "--- $f"; head -40 "$f"; done
  status=1
fi
exit $status
