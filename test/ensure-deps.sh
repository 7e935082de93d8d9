#!/usr/bin/env bash
# Installs what building and testing need, when it is missing: Debian's C libraries (as root,
# or through sudo) and the npm dev dependencies. Quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# tmux: the end-to-end tests drive OpenCode's TUI in it (test/e2e/tui.test.js).
PACKAGES="build-essential pkg-config python3 git ca-certificates libcurl4-openssl-dev libjansson-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev clang clang-format libclang-rt-14-dev tmux"
if ! pkg-config --exists libcurl jansson yaml-0.1 libprotobuf-c 2>/dev/null || ! command -v cc >/dev/null ||
  ! command -v tmux >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  if ! command -v apt-get >/dev/null; then
    echo "missing C libraries: install libcurl, jansson, libyaml and protobuf-c development packages" >&2
    exit 1
  fi
  echo "installing build dependencies: $PACKAGES"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi
# linux-arm64: the cross toolchain that builds its prebuild (npm run prebuild) and what runs
# it here under qemu (test/arm64.test.js): Debian's arm64 multiarch C library, libcurl and
# zlib, which qemu-aarch64-static -L / finds under /. Debian x86-64 hosts only.
# The other prebuild targets (native/prebuild/targets.js): musl-gcc for linux-x64-musl,
# ld64.lld-14 for the darwin links, llvm-14's objdump and nm for the darwin checks; Debian's
# musl and musl:arm64 loaders and arm64 libstdc++ run the musl Bun in test/musl*.test.js.
# win32-x64: mingw-w64 builds its prebuild and the C tests; wine64 runs them and the Windows
# Node and Bun (test/windows*.test.js).
ARM64_PACKAGES="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static libc6:arm64 libcurl4:arm64 libcurl4-openssl-dev:arm64 zlib1g:arm64 zlib1g-dev:arm64 musl-tools lld-14 llvm-14 musl:arm64 libstdc++6:arm64 gcc-mingw-w64-x86-64-posix mingw-w64-x86-64-dev wine64"
if [ "$(uname -m)" = x86_64 ] && command -v dpkg >/dev/null &&
  { ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64-static >/dev/null ||
    [ ! -e /lib/ld-linux-aarch64.so.1 ] || [ ! -e /usr/lib/aarch64-linux-gnu/libcurl.so.4 ] ||
    [ ! -e /usr/include/aarch64-linux-gnu/curl/curl.h ] || [ ! -e /usr/lib/aarch64-linux-gnu/libz.so ] ||
    ! command -v musl-gcc >/dev/null || ! command -v ld64.lld-14 >/dev/null || ! command -v llvm-objdump-14 >/dev/null ||
    [ ! -e /lib/ld-musl-aarch64.so.1 ] || [ ! -e /usr/lib/aarch64-linux-gnu/libstdc++.so.6 ] ||
    ! command -v x86_64-w64-mingw32-gcc-posix >/dev/null || [ ! -x /usr/lib/wine/wine64 ]; }; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "installing the cross toolchains and runtimes: $ARM64_PACKAGES"
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $ARM64_PACKAGES >/dev/null
fi
# zig (compiles the core for darwin and musl; pinned in test/toolchain/zig) into a cache
# outside the clone, on linux-x64 hosts: test/ensure-zig.sh.
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  bash test/ensure-zig.sh >/dev/null || echo "zig is missing: the darwin compile check will fail" >&2
fi
# Bun and OpenCode place their binaries in install scripts, which the repository's .npmrc keeps
# off: run just those two.
if ! node_modules/.bin/bun --version >/dev/null 2>&1 || ! node_modules/.bin/opencode --version >/dev/null 2>&1 ||
  [ ! -d node_modules/node-api-headers ]; then
  echo "installing npm dependencies (npm ci)"
  [ -d node_modules/node-api-headers ] || npm ci --no-audit --no-fund --loglevel=error
  npm rebuild bun opencode-ai --ignore-scripts=false --loglevel=error
fi
