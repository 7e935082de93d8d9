#!/usr/bin/env bash
# Builds jansson, libyaml and protobuf-c as static, position-independent libraries for the
# prebuilt addon: Debian's own .a files are not compiled with -fPIC, so they cannot go into a
# shared object. The sources are Debian's source packages of exactly the versions whose -dev
# packages are installed (Debian's patches applied), fetched with apt into a private list
# directory (no change to the system's apt configuration), compiled with
#   -O2 -fPIC -fvisibility=hidden -include native/prebuild/glibc_compat.h
# Result: OUT/include/{jansson.h,jansson_config.h,yaml.h,protobuf-c/protobuf-c.h} and
# OUT/lib/{libjansson,libyaml,libprotobuf-c}.a. A finished OUT is reused (OUT/.done names the
# versions it was built from).
#
#   usage: native/prebuild/static-deps.sh OUT
set -euo pipefail
OUT=$(realpath -m "${1:?usage: static-deps.sh OUT}")
HERE=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}

version_of() { dpkg-query -W -f='${source:Package}=${source:Version}' "$1"; }
WANT="$(version_of libjansson-dev) $(version_of libyaml-dev) $(version_of libprotobuf-c-dev)"
if [ -f "$OUT/.done" ] && [ "$(cat "$OUT/.done")" = "$WANT" ]; then
  echo "static libraries: $OUT is up to date ($WANT)"
  exit 0
fi
rm -rf "$OUT/src" "$OUT/apt" "$OUT/include" "$OUT/lib" "$OUT/stub"
mkdir -p "$OUT/src" "$OUT/apt/lists/partial" "$OUT/apt/parts" "$OUT/include/protobuf-c" "$OUT/lib"

# deb-src entries for the suites the system's own sources use, in a private apt state.
suites=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
  grep -E '^[a-z]+://[^ ]*/debian(-security)?/? ' | sort -u || true)
if [ -z "$suites" ]; then
  . /etc/os-release
  suites="http://deb.debian.org/debian/ $VERSION_CODENAME
http://deb.debian.org/debian-security/ $VERSION_CODENAME-security"
fi
echo "$suites" | while read -r uri suite; do
  [ -n "$uri" ] && echo "deb-src $uri $suite main"
done >"$OUT/apt/sources.list"
APT=(apt-get -q -o Dir::Etc::SourceList="$OUT/apt/sources.list" -o Dir::Etc::SourceParts="$OUT/apt/parts"
  -o Dir::State::Lists="$OUT/apt/lists" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
"${APT[@]}" update >/dev/null
(cd "$OUT/src" && "${APT[@]}" source --download-only $WANT >/dev/null)
for dsc in "$OUT"/src/*.dsc; do
  (cd "$OUT/src" && dpkg-source --no-check -x "$dsc" >/dev/null)
done

FLAGS=(-std=gnu11 -O2 -fPIC -fvisibility=hidden -D_GNU_SOURCE -include "$HERE/glibc_compat.h" -w)
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
  ar rcs "$OUT/lib/lib$name.a" "${objs[@]}"
}

# jansson: its configure step only writes jansson_config.h and a few HAVE_ macros.
J=$(echo "$OUT"/src/jansson-*/)
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
cat >"$OUT/src/jansson-private/jansson_private_config.h" <<'H'
#define HAVE_STDINT_H 1
#define HAVE_ENDIAN_H 1
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
compile jansson "$J/src" -DHAVE_CONFIG_H -I"$OUT/include" -I"$OUT/src/jansson-private" -- \
  dump.c error.c hashtable.c hashtable_seed.c load.c memory.c pack_unpack.c strbuffer.c \
  strconv.c utf.c value.c version.c

# libyaml: the version macros are all its configure step provides.
Y=$(echo "$OUT"/src/libyaml-*/)
YV=$(basename "$Y" | sed 's/^libyaml-//')
IFS=. read -r YMAJ YMIN YPAT <<<"$YV"
cp "$Y/include/yaml.h" "$OUT/include/"
compile yaml "$Y/src" -I"$Y/include" -DYAML_VERSION_MAJOR="$YMAJ" -DYAML_VERSION_MINOR="$YMIN" \
  -DYAML_VERSION_PATCH="$YPAT" -DYAML_VERSION_STRING="\"$YV\"" -- \
  api.c dumper.c emitter.c loader.c parser.c reader.c scanner.c writer.c

# protobuf-c: the runtime is one file.
P=$(echo "$OUT"/src/protobuf-c-*/)
cp "$P/protobuf-c/protobuf-c.h" "$OUT/include/protobuf-c/"
compile protobuf-c "$P/protobuf-c" -I"$P" -- protobuf-c.c

# libcurl stays the system's libcurl.so.4, but the addon is linked against a stub of it that
# has the same soname and no symbol versions: linked against Debian's library directly, every
# curl reference would require Debian's version tag (CURL_OPENSSL_4), and a libcurl.so.4 built
# without it (Fedora, Arch, ...) would print "no version information available" into the
# host's stderr at each start.
mkdir -p "$OUT/stub"
CURL_SO=$("$CC" -print-file-name=libcurl.so)
nm -D --defined-only "$(realpath "$CURL_SO")" | awk '$2 == "T" { sub(/@.*/, "", $3); print "void " $3 "(void) {}" }' |
  sort -u >"$OUT/stub/curl-stub.c"
"$CC" -shared -fPIC -w -Wl,-soname,libcurl.so.4 -o "$OUT/stub/libcurl.so" "$OUT/stub/curl-stub.c"

echo "$WANT" >"$OUT/.done"
echo "static libraries: built $WANT into $OUT"
