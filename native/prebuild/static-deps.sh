#!/usr/bin/env bash
# Builds jansson, libyaml and protobuf-c as static, position-independent libraries for one
# prebuild target, from the pinned upstream release tarballs of deps.json (fetched and
# SHA-256-verified by deps.js; nothing is built from an unverified file). Every target, native
# or cross, Linux, musl or macOS, compiles the same files with the same flags:
#   -std=gnu11 -O2 -fPIC -fvisibility=hidden -ffile-prefix-map  (+ the target's EXTRA_CFLAGS,
#   e.g. -include glibc_compat.h for glibc targets)
# The libraries' configure steps are not run: their only outputs are the few config macros
# written below, the same on every POSIX target.
#
# Result: OUT/include/{jansson.h,jansson_config.h,yaml.h,protobuf-c/protobuf-c.h},
# OUT/lib/{libjansson,libyaml,libprotobuf-c}.a. prebuild.js calls it once per target into a
# fresh cache entry named by a hash of everything that goes in (this script, deps.json, the
# target's compiler and flags), so it never has to decide whether an old OUT is still good.
#
#   usage: CC=<compiler> AR=<ar> TARGET_OS=linux|darwin [EXTRA_CFLAGS=...] static-deps.sh OUT DOWNLOADS
set -euo pipefail
OUT=$(mkdir -p "${1:?usage: static-deps.sh OUT DOWNLOADS}" && cd "$1" && pwd)
DL=${2:?usage: static-deps.sh OUT DOWNLOADS}
HERE=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}
AR=${AR:-ar}
TARGET_OS=${TARGET_OS:?TARGET_OS: linux or darwin}
read -r -a EXTRA <<<"${EXTRA_CFLAGS:-}"

rm -rf "$OUT/src" "$OUT/include" "$OUT/lib"
mkdir -p "$OUT/src" "$OUT/include/protobuf-c" "$OUT/lib"

# name version tarball, one line each, every tarball verified against deps.json (plain
# variables, no associative arrays: macOS runs bash 3.2)
LIST=$(node "$HERE/deps.js" "$DL")
while read -r name version file; do
  mkdir -p "$OUT/src/$name"
  tar -xzf "$file" -C "$OUT/src/$name" --strip-components=1
done <<<"$LIST"
version_of() { echo "$LIST" | awk -v n="$1" '$1 == n { print $2 }'; }

# -ffile-prefix-map: the libraries' assert() messages name deps/<lib>/<file>.c, not this
# machine's build path, so the file is the same wherever it is built from the same sources.
FLAGS=(-std=gnu11 -O2 -g0 -fPIC -fvisibility=hidden -D_GNU_SOURCE -w "-ffile-prefix-map=$OUT/src/=deps/" ${EXTRA[@]+"${EXTRA[@]}"})
compile() { # lib-name srcdir [flags...] -- files...
  local name=$1 dir=$2
  shift 2
  local flags=()
  while [ "$1" != "--" ]; do flags+=("$1"); shift; done
  shift
  local objs=()
  for f in "$@"; do
    local o="$OUT/src/$name-$(basename "$f" .c).o"
    "$CC" "${FLAGS[@]}" "${flags[@]}" -c -o "$o" "$dir/$f"
    objs+=("$o")
  done
  rm -f "$OUT/lib/lib$name.a"
  "$AR" rcs "$OUT/lib/lib$name.a" "${objs[@]}"
}

# jansson: its configure step only writes jansson_config.h and a few HAVE_ macros.
J="$OUT/src/jansson"
cat >"$OUT/include/jansson_config.h" <<'H'
#ifndef JANSSON_CONFIG_H
#define JANSSON_CONFIG_H
#define JSON_INLINE inline
#define JSON_INTEGER_IS_LONG_LONG 1
#define JSON_HAVE_LOCALECONV 1
#define JSON_HAVE_ATOMIC_BUILTINS 1
#define JSON_HAVE_SYNC_BUILTINS 1
#define JSON_PARSER_MAX_DEPTH 2048
#endif
H
cp "$J/src/jansson.h" "$OUT/include/"
mkdir -p "$OUT/src/jansson-private"
{
  cat <<'H'
#define HAVE_STDINT_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_LOCALE_H 1
#define HAVE_SETLOCALE 1
#define HAVE_INT32_T 1
#define HAVE_UINT32_T 1
#define HAVE_UINT16_T 1
#define HAVE_UINT8_T 1
#define HAVE_SSIZE_T 1
#define HAVE_UNISTD_H 1
#define HAVE_FCNTL_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_SCHED_H 1
#define HAVE_GETPID 1
#define HAVE_GETTIMEOFDAY 1
#define HAVE_LOCALECONV 1
#define HAVE_OPEN 1
#define HAVE_READ 1
#define HAVE_CLOSE 1
#define HAVE_SCHED_YIELD 1
#define HAVE_ATOMIC_BUILTINS 1
#define HAVE_SYNC_BUILTINS 1
#define USE_URANDOM 1
#define INITIAL_HASHTABLE_ORDER 3
H
  # macOS has no <endian.h>: jansson's hash then reads byte by byte (same results).
  [ "$TARGET_OS" != linux ] || echo '#define HAVE_ENDIAN_H 1'
} >"$OUT/src/jansson-private/jansson_private_config.h"
compile jansson "$J/src" -DHAVE_CONFIG_H -I"$OUT/include" -I"$OUT/src/jansson-private" -- \
  dump.c error.c hashtable.c hashtable_seed.c load.c memory.c pack_unpack.c strbuffer.c \
  strconv.c utf.c value.c version.c

# libyaml: the version macros are all its configure step provides.
Y="$OUT/src/libyaml"
YV=$(version_of libyaml)
IFS=. read -r YMAJ YMIN YPAT <<<"$YV"
cp "$Y/include/yaml.h" "$OUT/include/"
compile yaml "$Y/src" -I"$Y/include" -DYAML_VERSION_MAJOR="$YMAJ" -DYAML_VERSION_MINOR="$YMIN" \
  -DYAML_VERSION_PATCH="$YPAT" -DYAML_VERSION_STRING="\"$YV\"" -- \
  api.c dumper.c emitter.c loader.c parser.c reader.c scanner.c writer.c

# protobuf-c: the runtime is one file.
P="$OUT/src/protobuf-c"
cp "$P/protobuf-c/protobuf-c.h" "$OUT/include/protobuf-c/"
compile protobuf-c "$P/protobuf-c" -I"$P" -- protobuf-c.c

echo "static libraries: built jansson $(version_of jansson), libyaml $YV, protobuf-c $(version_of protobuf-c) into $OUT"
