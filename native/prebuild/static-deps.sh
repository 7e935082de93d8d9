#!/usr/bin/env bash
# Builds jansson, libyaml and protobuf-c as static, position-independent libraries for one
# prebuild target, from the pinned upstream release tarballs of deps.json (fetched and
# SHA-256-verified by deps.js; nothing is built from an unverified file). Every target, native
# or cross, Linux or macOS, compiles the same files with the same flags:
#   -std=gnu11 -O2 -fPIC -fvisibility=hidden -ffile-prefix-map  (+ -include glibc_compat.h for
#   glibc targets)
# The libraries' configure steps are not run: their only outputs are the few config macros
# written below, the same on every POSIX target.
#
# Result: OUT/include/{jansson.h,jansson_config.h,yaml.h,protobuf-c/protobuf-c.h[,curl/]},
# OUT/lib/{libjansson,libyaml,libprotobuf-c}.a and, on Linux, OUT/stub/libcurl.so (see below).
# A finished OUT is reused while deps.json, this script, glibc_compat.h and the compiler stay
# the same (OUT/.done).
#
#   usage: CC=<compiler> [AR=<ar>] [NM=<nm>] native/prebuild/static-deps.sh OUT [DOWNLOADS]
set -euo pipefail
OUT=$(mkdir -p "${1:?usage: static-deps.sh OUT [DOWNLOADS]}" && cd "$1" && pwd)
DL=${2:-$OUT/../downloads}
HERE=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}
AR=${AR:-ar}
NM=${NM:-nm}
MACHINE=$("$CC" -dumpmachine)

STAMP="$MACHINE $("$CC" --version | head -1) $(cat "$HERE/deps.json" "$HERE/static-deps.sh" "$HERE/glibc_compat.h" | cksum)"
if [ -f "$OUT/.done" ] && [ "$(cat "$OUT/.done")" = "$STAMP" ]; then
  echo "static libraries for $MACHINE: $OUT is up to date"
  exit 0
fi
rm -rf "$OUT/src" "$OUT/include" "$OUT/lib" "$OUT/stub" "$OUT/.done"
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
FLAGS=(-std=gnu11 -O2 -fPIC -fvisibility=hidden -D_GNU_SOURCE -w "-ffile-prefix-map=$OUT/src/=deps/")
case "$MACHINE" in
  *-linux-gnu*) FLAGS+=(-include "$HERE/glibc_compat.h") ;;
  # the addon's MACOSX_DEPLOYMENT_TARGET (binding.gyp): the libraries must not need a newer macOS
  *-apple-darwin*) FLAGS+=(-mmacosx-version-min=11.0) ;;
esac
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
  case "$MACHINE" in *-linux-*) echo '#define HAVE_ENDIAN_H 1' ;; esac
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

case "$MACHINE" in
  *-linux-*)
    # libcurl stays the system's libcurl.so.4, but the addon is linked against a stub of it
    # that has the same soname and no symbol versions: linked against Debian's library
    # directly, every curl reference would require Debian's version tag (CURL_OPENSSL_4), and
    # a libcurl.so.4 built without it (Fedora, Arch, ...) would print "no version information
    # available" into the host's stderr at each start. The stub is made from the target's
    # libcurl.so.4 (multiarch: /usr/lib/<triplet>/, libcurl4:<arch>) and its headers are the
    # target's (libcurl4-openssl-dev:<arch>), copied so a cross build never sees the host's.
    TRIPLET=$("$CC" -print-multiarch 2>/dev/null || true)
    [ -n "$TRIPLET" ] || TRIPLET=$MACHINE
    CURL_SO=""
    for so in "/usr/lib/$TRIPLET/libcurl.so.4" "/lib/$TRIPLET/libcurl.so.4" "$("$CC" -print-file-name=libcurl.so.4)"; do
      if [ -f "$so" ]; then CURL_SO=$so; break; fi
    done
    [ -n "$CURL_SO" ] || { echo "static-deps: no libcurl.so.4 for $TRIPLET (apt-get install libcurl4:<arch>)" >&2; exit 1; }
    for inc in "/usr/include/$TRIPLET/curl" /usr/include/curl; do
      if [ -f "$inc/curl.h" ]; then cp -R "$inc" "$OUT/include/curl"; break; fi
    done
    [ -f "$OUT/include/curl/curl.h" ] || { echo "static-deps: no curl headers for $TRIPLET (libcurl4-openssl-dev:<arch>)" >&2; exit 1; }
    mkdir -p "$OUT/stub"
    "$NM" -D --defined-only "$(realpath "$CURL_SO")" | awk '$2 == "T" { sub(/@.*/, "", $3); print "void " $3 "(void) {}" }' |
      sort -u >"$OUT/stub/curl-stub.c"
    "$CC" -shared -fPIC -w -Wl,-soname,libcurl.so.4 -o "$OUT/stub/libcurl.so" "$OUT/stub/curl-stub.c"
    ;;
esac

echo "$STAMP" >"$OUT/.done"
echo "static libraries for $MACHINE: built jansson $(version_of jansson), libyaml $YV, protobuf-c $(version_of protobuf-c) into $OUT"
