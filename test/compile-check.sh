#!/usr/bin/env bash
# Compiles every core source (node native/sources.js) and every C test (test/c/test_*.c) with
# -std=c11 -Wall -Wextra -Werror for a compiler or a system the normal build does not use, so
# what would stop the release workflow's macOS jobs (Apple clang is a clang) is caught here:
#   bash test/compile-check.sh clang    Debian's clang, for Linux
#   bash test/compile-check.sh darwin   zig 0.11 (clang 16 with Darwin's libc headers, from npm:
#                                       test/ensure-zig.sh) for aarch64-macos and x86_64-macos
#                                       11.0; libcurl, zlib, jansson, libyaml and protobuf-c
#                                       headers are Debian's, which suit any platform
# Nothing is linked (the darwin prebuild is the recipe's job); objects go to a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."

node native/nodedir/prepare.js # node_api.h for binding.c
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
FLAGS=(-std=c11 -D_GNU_SOURCE -DNAPI_VERSION=8 -Wall -Wextra -Werror
  -Inative -Inative/gen -Inative/nodedir/include/node)
# shellcheck disable=SC2207
FILES=($(node native/sources.js) $(ls test/c/test_*.c))

compile_all() { # label, compiler and its target flags...
  local label=$1 failed=0
  shift
  for f in "${FILES[@]}"; do
    if ! "$@" "${FLAGS[@]}" -c -o "$OUT/$(basename "$f" .c).o" "$f"; then
      echo "  $label: $f does not compile" >&2
      failed=1
    fi
  done
  [ "$failed" -eq 0 ] && echo "  $label: ${#FILES[@]} files compile"
  return "$failed"
}

case "${1:-}" in
clang)
  # shellcheck disable=SC2046
  compile_all "clang $(clang -dumpversion) linux" clang $(pkg-config --cflags libcurl jansson yaml-0.1 libprotobuf-c)
  ;;
darwin)
  ZIG=$(bash test/ensure-zig.sh)
  # Only the few library headers, not /usr/include: that would shadow Darwin's libc headers.
  INC="$OUT/include"
  mkdir -p "$INC/protobuf-c"
  CURL_INC=$(pkg-config --variable=includedir libcurl)
  [ -d "$CURL_INC/curl" ] || CURL_INC=/usr/include/$(gcc -dumpmachine)
  ln -s "$CURL_INC/curl" "$INC/curl"
  for h in zlib.h zconf.h jansson.h jansson_config.h yaml.h; do ln -s "/usr/include/$h" "$INC/$h"; done
  ln -s /usr/include/protobuf-c/protobuf-c.h "$INC/protobuf-c/protobuf-c.h"
  status=0
  for target in aarch64-macos.11.0 x86_64-macos.11.0; do
    compile_all "zig cc $target" "$ZIG" cc -target "$target" -I"$INC" || status=1
  done
  exit "$status"
  ;;
*)
  echo "usage: bash test/compile-check.sh clang|darwin" >&2
  exit 2
  ;;
esac
