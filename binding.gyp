{
  "variables": {
    "static_dir%": "<!(node -p \"process.env.ARIZE_TRACING_STATIC_DIR || ''\")"
  },
  "targets": [
    {
      "target_name": "arize_tracing",
      "sources": ["<!@(node native/sources.js)"],
      "include_dirs": [
        "native/nodedir/include/node",
        "native",
        "native/gen"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", "-O2"],
      "libraries": [
        "-lz",
        "-lpthread",
        "-lm"
      ],
      "conditions": [
        ["OS=='linux'", {
          "libraries": ["-Wl,--exclude-libs,ALL"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_C_LANGUAGE_STANDARD": "c11",
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "11.0",
            "OTHER_CFLAGS": ["-Wall", "-Wextra", "-Werror", "-O2"]
          }
        }],
        ["static_dir=='' and OS!='mac'", {
          "libraries": ["<!@(pkg-config --libs libcurl jansson yaml-0.1 libprotobuf-c)"]
        }],
        ["static_dir=='' and OS=='mac'", {
          "xcode_settings": {
            "OTHER_CFLAGS": ["<!@(pkg-config --cflags jansson yaml-0.1 libprotobuf-c)"]
          },
          "libraries": ["<!@(pkg-config --libs jansson yaml-0.1 libprotobuf-c)", "-lcurl"]
        }],
        ["static_dir!=''", {
          "include_dirs": ["<(static_dir)/include"],
          "libraries": [
            "<(static_dir)/lib/libjansson.a",
            "<(static_dir)/lib/libyaml.a",
            "<(static_dir)/lib/libprotobuf-c.a"
          ]
        }],
        ["static_dir!='' and OS=='linux'", {
          "cflags_c": ["-include<(module_root_dir)/native/prebuild/glibc_compat.h"],
          "libraries": [
            "-L<(static_dir)/stub",
            "-lcurl",
            "-Wl,--push-state,--no-as-needed",
            "-l:libpthread.so.0",
            "-Wl,--pop-state",
            "-Wl,--version-script=<(module_root_dir)/native/prebuild/exports.map",
            "-Wl,-z,now"
          ]
        }],
        ["static_dir!='' and OS=='mac'", {
          "libraries": [
            "-lcurl",
            "-Wl,-exported_symbols_list,<(module_root_dir)/native/prebuild/exports.darwin"
          ]
        }]
      ]
    }
  ]
}
