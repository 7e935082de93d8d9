{
  "variables": {
    "static_dir%": "<!(node -p \"process.env.ARIZE_TRACING_STATIC_DIR || ''\")"
  },
  "targets": [
    {
      "target_name": "arize_tracing",
      "sources": [
        "native/binding.c",
        "native/tracer.c",
        "native/reconcile.c",
        "native/spans.c",
        "native/hash.c",
        "native/state.c",
        "native/queue.c",
        "native/spool.c",
        "native/files.c",
        "native/exporter.c",
        "native/outcome.c",
        "native/otlp.c",
        "native/http.c",
        "native/config.c",
        "native/log.c",
        "native/otlp_common.pb-c.c",
        "native/otlp_resource.pb-c.c",
        "native/otlp_trace.pb-c.c",
        "native/otlp_trace_service.pb-c.c"
      ],
      "include_dirs": [
        "native/nodedir/include/node",
        "native"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", "-O2"],
      "libraries": [
        "-lz",
        "-lpthread",
        "-lm",
        "-Wl,--exclude-libs,ALL"
      ],
      "conditions": [
        ["static_dir==''", {
          "libraries": ["<!@(pkg-config --libs libcurl jansson yaml-0.1 libprotobuf-c)"]
        }, {
          "include_dirs": ["<(static_dir)/include"],
          "cflags_c": ["-include<(module_root_dir)/native/prebuild/glibc_compat.h"],
          "libraries": [
            "<(static_dir)/lib/libjansson.a",
            "<(static_dir)/lib/libyaml.a",
            "<(static_dir)/lib/libprotobuf-c.a",
            "-L<(static_dir)/stub",
            "-lcurl",
            "-Wl,--push-state,--no-as-needed",
            "-l:libpthread.so.0",
            "-Wl,--pop-state",
            "-Wl,--version-script=<(module_root_dir)/native/prebuild/exports.map",
            "-Wl,-z,now"
          ]
        }]
      ]
    }
  ]
}
