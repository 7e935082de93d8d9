{
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
            "OTHER_CFLAGS": ["-Wall", "-Wextra", "-Werror", "-O2", "<!@(pkg-config --cflags jansson yaml-0.1 libprotobuf-c)"]
          },
          "libraries": ["<!@(pkg-config --libs jansson yaml-0.1 libprotobuf-c)"]
        }, {
          "cflags_c": ["<!@(pkg-config --cflags libcurl)"],
          "libraries": ["<!@(pkg-config --libs jansson yaml-0.1 libprotobuf-c)", "-ldl"]
        }]
      ]
    }
  ]
}
