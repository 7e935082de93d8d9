'use strict';
// `npm run prebuild`: builds prebuilds/<platform>-<arch>/node.napi.node, the addon users load
// without a compiler, for every target this machine can build: on Linux both linux-x64 and
// linux-arm64 (the one that is not the host's is cross-compiled with the Debian cross
// toolchain: gcc-aarch64-linux-gnu or gcc-x86-64-linux-gnu, plus the target's libcurl4 and
// libcurl4-openssl-dev, zlib1g-dev from multiarch), on macOS the host's arch.
//
// Every target is built the same way: jansson, libyaml and protobuf-c from the pinned,
// SHA-256-verified upstream sources of deps.json, compiled by static-deps.sh with -fPIC and
// hidden symbols and linked in statically; the addon itself by node-gyp from binding.gyp
// (its static_dir branch); libcurl is the system's (libcurl.so.4 on Linux, /usr/lib/libcurl
// on macOS). Then each file is checked: it exports the Node-API entry points only, and on
// Linux needs no glibc newer than MAX_GLIBC and no shared library beyond libcurl, zlib, libc.
//
//   node native/prebuild/prebuild.js [linux-x64 linux-arm64 ...]   (default: all of this OS)
//   ARIZE_TRACING_STATIC_DIR   where static libraries and downloads are built and cached
//                              (default node_modules/.cache/opencode-arize-tracing)
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const MAX_GLIBC = '2.17';
const EXPORTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];
const TRIPLETS = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const LOADERS = { x64: 'ld-linux-x86-64.so.2', arm64: 'ld-linux-aarch64.so.1' };

function run(cmd, args, env) {
  execFileSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: Object.assign({}, process.env, env) });
}

function output(cmd, args) {
  return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

function versionKey(v) {
  const [major = 0, minor = 0, patch = 0] = v.split('.').map(Number);
  return (major * 1000 + minor) * 1000 + patch;
}

// What a built addon exports, needs and weighs. ELF files are read with readelf, which reads
// every architecture's ELF (x86-64 and aarch64 alike); Mach-O files with nm.
function inspect(file) {
  const bytes = fs.statSync(file).size;
  const magic = fs.readFileSync(file).subarray(0, 4).toString('latin1');
  if (magic !== '\x7fELF') {
    const exported = output('nm', ['-gU', file])
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[2])
      .filter(Boolean)
      .map((s) => s.replace(/^_/, ''));
    return { file, bytes, format: 'mach-o', exported, glibc: [], maxGlibc: undefined, needed: [], machine: '' };
  }
  const syms = output('readelf', ['-W', '--dyn-syms', file]).split('\n');
  const exported = [];
  const versions = new Set();
  for (const line of syms) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^\d+:$/.test(f[0])) continue;
    const [name, version] = f[7].split(/@+/);
    if (version && /^GLIBC_[0-9.]+$/.test(version)) versions.add(version.slice(6));
    if (f[6] !== 'UND' && f[4] !== 'LOCAL' && name) exported.push(name);
  }
  const glibc = [...versions].sort((a, b) => versionKey(a) - versionKey(b));
  const needed = (output('readelf', ['-d', file]).match(/\(NEEDED\)\s+Shared library: \[[^\]]+\]/g) || []).map(
    (l) => /\[([^\]]+)\]/.exec(l)[1],
  );
  const machine = /Machine:\s+(.*)/.exec(output('readelf', ['-h', file]))[1].trim();
  return { file, bytes, format: 'elf', exported, glibc, maxGlibc: glibc[glibc.length - 1], needed, machine };
}

function check(info) {
  const problems = [];
  const extra = info.exported.filter((name) => !EXPORTS.includes(name));
  if (extra.length) problems.push(`exports more than the Node-API entry points: ${extra.join(', ')}`);
  if (!info.exported.includes('napi_register_module_v1')) problems.push('does not export napi_register_module_v1');
  if (info.format !== 'elf') return problems;
  if (info.maxGlibc && versionKey(info.maxGlibc) > versionKey(MAX_GLIBC))
    problems.push(
      `needs GLIBC_${info.maxGlibc}, more than GLIBC_${MAX_GLIBC}: ` +
        output('readelf', ['-W', '--dyn-syms', info.file])
          .split('\n')
          .filter((l) => l.includes(`GLIBC_${info.maxGlibc}`))
          .map((l) => l.trim().split(/\s+/)[7])
          .join(', '),
    );
  const allowed = ['libcurl.so.4', 'libz.so.1', 'libc.so.6', 'libm.so.6', 'libpthread.so.0', ...Object.values(LOADERS)];
  const unexpected = info.needed.filter((lib) => !allowed.includes(lib));
  if (unexpected.length)
    problems.push(`links shared libraries beyond libcurl, zlib and libc: ${unexpected.join(', ')}`);
  return problems;
}

// The compiler and binutils for a target: the host's own for the host's arch, else the
// Debian cross toolchain's <triplet>-gcc and friends.
function toolchain(key) {
  const [platform, arch] = key.split('-');
  if (platform !== 'linux' || arch === process.arch) {
    return { CC: process.env.CC || 'cc', AR: process.env.AR || 'ar', NM: process.env.NM || 'nm', STRIP: 'strip' };
  }
  const t = TRIPLETS[arch];
  if (!t) throw new Error(`no cross toolchain known for ${key}`);
  return { CC: `${t}-gcc`, AR: `${t}-ar`, NM: `${t}-nm`, STRIP: `${t}-strip` };
}

function defaultTargets() {
  if (process.platform === 'linux') return ['linux-x64', 'linux-arm64'];
  return [`${process.platform}-${process.arch}`];
}

function build(key, cacheDir) {
  const [platform, arch] = key.split('-');
  if (platform !== process.platform) throw new Error(`${key}: build it on ${platform} (this is ${process.platform})`);
  const tools = toolchain(key);
  try {
    output(tools.CC, ['--version']);
  } catch {
    throw new Error(
      `${key}: no C compiler ${tools.CC} (Debian: apt-get install gcc-${TRIPLETS[arch].replace(/_/g, '-')})`,
    );
  }
  const staticDir = path.join(cacheDir, 'static', key);
  run('bash', [path.join(__dirname, 'static-deps.sh'), staticDir, path.join(cacheDir, 'downloads')], tools);
  const prebuildify = require.resolve('prebuildify/bin.js', { paths: [ROOT] });
  run(process.execPath, [prebuildify, '--napi', '--strip', '--name=node.napi', `--arch=${arch}`], {
    ARIZE_TRACING_STATIC_DIR: staticDir,
    npm_config_nodedir: path.join(ROOT, 'native', 'nodedir'),
    CC: tools.CC,
    CXX: tools.CC, // there is no C++ source; node-gyp's Makefile still names a C++ compiler
    LINK: tools.CC,
    AR: tools.AR,
    PREBUILD_STRIP_BIN: tools.STRIP,
  });
  const file = path.join(ROOT, 'prebuilds', key, 'node.napi.node');
  const info = inspect(file);
  console.log(
    `${path.relative(ROOT, file)}: ${info.bytes} bytes${info.machine ? ` (${info.machine})` : ''}; ` +
      `exports ${info.exported.join(', ')}` +
      (info.format === 'elf'
        ? `; needs ${info.needed.join(', ')}; highest glibc symbol version GLIBC_${info.maxGlibc}`
        : ''),
  );
  const problems = check(info);
  if (problems.length) throw new Error(`${path.relative(ROOT, file)}:\n  ${problems.join('\n  ')}`);
}

function main(argv) {
  const targets = argv.length ? argv : defaultTargets();
  const cacheDir = path.resolve(
    process.env.ARIZE_TRACING_STATIC_DIR || path.join(ROOT, 'node_modules', '.cache', 'opencode-arize-tracing'),
  );
  run(process.execPath, [path.join(ROOT, 'native', 'nodedir', 'prepare.js')]);
  for (const key of targets) build(key, cacheDir);
  // build/ now holds the last target's static build (perhaps another architecture's): it is
  // not a source build of this machine, so it goes (`npm run build` makes one).
  fs.rmSync(path.join(ROOT, 'build'), { recursive: true, force: true });
}

module.exports = { inspect, check, MAX_GLIBC, EXPORTS };

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`prebuild: ${error.message}`);
    process.exit(1);
  }
}
