#!/bin/sh
# Regenerates the protobuf-c sources for OTLP traces from the .proto files here.
#
# The .proto files are the opentelemetry-proto v1.x definitions under flat file names
# (otlp_common.proto, …) with their upstream packages, so the generated files sit flat in
# native/gen/ (kept apart from the hand-written modules; native/sources.js lists both for
# the addon build and the C Makefiles), and the generated #include "otlp_common.pb-c.h"
# lines resolve beside the file that includes them.
#
# Usage: native/proto/regenerate.sh   (from any directory; needs protoc-c 1.4.1)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$here")/gen

version=$(protoc-c --version | sed -n 's/^protobuf-c \([0-9.]*\).*/\1/p')
if [ "$version" != "1.4.1" ]; then
  echo "regenerate.sh: expected protoc-c 1.4.1, found '${version:-none}'" >&2
  echo "regenerate.sh: the committed files were made with 1.4.1; regenerate only on purpose" >&2
  exit 1
fi

cd "$here"
protoc-c --proto_path=. --c_out="$out" \
  otlp_common.proto otlp_resource.proto otlp_trace.proto otlp_trace_service.proto

# The generated code must build with the project's -Wall -Wextra -Werror; check it here
# so a protoc-c upgrade that adds warnings fails now rather than in everyone's build.
cc=${CC:-cc}
flags=$(pkg-config --cflags libprotobuf-c 2>/dev/null || true)
for f in otlp_common otlp_resource otlp_trace otlp_trace_service; do
  # shellcheck disable=SC2086
  "$cc" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $flags -I"$out" \
    -c "$out/$f.pb-c.c" -o /dev/null
done
echo "regenerate.sh: wrote $out/otlp_*.pb-c.[ch]"
