#!/usr/bin/env bash
# Installs what building and testing need, when it is missing: Debian's C libraries (as root,
# or through sudo) and the npm dev dependencies. Quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="build-essential pkg-config python3 git ca-certificates libcurl4-openssl-dev libjansson-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev clang libclang-rt-14-dev"
if ! pkg-config --exists libcurl jansson yaml-0.1 libprotobuf-c 2>/dev/null || ! command -v cc >/dev/null; then
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
# Bun and OpenCode place their binaries in install scripts, which the repository's .npmrc keeps
# off: run just those two.
if ! node_modules/.bin/bun --version >/dev/null 2>&1 || ! node_modules/.bin/opencode --version >/dev/null 2>&1 ||
  [ ! -d node_modules/node-api-headers ]; then
  echo "installing npm dependencies (npm ci)"
  [ -d node_modules/node-api-headers ] || npm ci --no-audit --no-fund --loglevel=error
  npm rebuild bun opencode-ai --ignore-scripts=false --loglevel=error
fi
