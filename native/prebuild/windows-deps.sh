#!/usr/bin/env bash
# win32-x64 only: the two libraries Windows does not have for programs, built as static
# libraries from the pinned sources of deps-windows.json (fetched and SHA-256-verified by
# prebuild.js through deps.js before this runs):
#   zlib    its 15 library files compiled by hand (Debian's repacked tarball has no win32
#           makefile; zlib needs no configure step on Windows)
#   libcurl configure --host=x86_64-w64-mingw32, TLS by Schannel (the system's certificate
#           store verifies the backend), HTTP and HTTPS only, Windows threads for the resolver
# Result: OUT/include/{zlib.h,zconf.h,curl/*.h}, OUT/lib/{libz,libcurl}.a.
#
#   usage: CC=<mingw gcc> AR=<mingw ar> windows-deps.sh OUT CURL_TARBALL ZLIB_TARBALL
set -euo pipefail
OUT=$(mkdir -p "${1:?usage: windows-deps.sh OUT CURL ZLIB}" && cd "$1" && pwd)
CURL_TGZ=${2:?curl tarball}
ZLIB_TGZ=${3:?zlib tarball}
CC=${CC:?CC: the mingw gcc}
AR=${AR:?AR: the mingw ar}
RANLIB=${AR%ar}ranlib
HOST=x86_64-w64-mingw32
SRC="$OUT/src-windows"
rm -rf "$SRC"
mkdir -p "$SRC/zlib" "$SRC/curl" "$OUT/include/curl" "$OUT/lib"
FLAGS=(-O2 -g0 -w "-ffile-prefix-map=$SRC/=deps/")

tar -xf "$ZLIB_TGZ" -C "$SRC/zlib" --strip-components=1
objs=()
for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate inftrees trees uncompr zutil; do
  "$CC" "${FLAGS[@]}" -c -o "$SRC/zlib/$f.o" "$SRC/zlib/$f.c"
  objs+=("$SRC/zlib/$f.o")
done
rm -f "$OUT/lib/libz.a"
"$AR" rcs "$OUT/lib/libz.a" "${objs[@]}"
cp "$SRC/zlib/zlib.h" "$SRC/zlib/zconf.h" "$OUT/include/"

tar -xf "$CURL_TGZ" -C "$SRC/curl" --strip-components=1
(
  cd "$SRC/curl"
  ./configure -q --host=$HOST --build=x86_64-linux-gnu CC="$CC" AR="$AR" RANLIB="$RANLIB" \
    CFLAGS="${FLAGS[*]}" CPPFLAGS="-DCURL_STATICLIB" \
    --disable-dependency-tracking --disable-shared --enable-static --with-schannel --without-zlib --disable-pthreads \
    --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
    --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
    --disable-ftp --disable-file --disable-manual --disable-ntlm --disable-docs --without-libpsl \
    --without-brotli --without-zstd --without-nghttp2 --without-libidn2 --without-librtmp \
    --disable-alt-svc --disable-hsts --disable-cookies --disable-netrc --disable-progress-meter \
    >/dev/null
  make -s -j2 -C lib >/dev/null
)
cp "$SRC/curl/lib/.libs/libcurl.a" "$OUT/lib/libcurl.a"
cp "$SRC/curl/include/curl/"*.h "$OUT/include/curl/"
rm -rf "$SRC"
echo "windows libraries: built zlib and libcurl (Schannel) into $OUT"
