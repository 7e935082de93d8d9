'use strict';
// `npm run prebuild`: builds prebuilds/<key>/node.napi.node, the cores users load without a
// compiler, for every target of targets.js, all on one Debian 12 x86-64 machine:
//   linux-x64, linux-arm64            Debian's gcc and its aarch64 cross gcc, glibc >= 2.17
//   linux-x64-musl                    Debian's musl-gcc (musl-tools)
//   linux-arm64-musl                  zig 0.11 (npm) for aarch64-linux-musl
//   darwin-x64, darwin-arm64          zig 0.11 compiles, Debian's ld64.lld-14 links a Mach-O
//                                     bundle against text stubs (.tbd) of /usr/lib/libz.1.dylib
//                                     and zig's libSystem
//
// Every target is built the same way: jansson, libyaml and protobuf-c from the pinned,
// SHA-256-verified upstream sources of deps.json, compiled by static-deps.sh with -fPIC and
// hidden symbols, linked in statically; each core source (native/sources.js) compiled with
// the same flags; zlib is the system's, linked against stubs made from Debian's multiarch
// packages (names and sonames only, no symbol versions); libcurl is the system's too, but only
// its headers are used here: the core loads it at run time, on the exporter's thread
// (native/http.c), so its load does not sit on OpenCode's. The result is the same
// bytes on every run and in every directory: no paths, no timestamps, sorted inputs; the
// Mach-O UUID is a hash of the file's content (macho.js), and the arm64 signature re-made.
// Then each file is checked (check()): it exports the Node-API entry points only, needs no
// library beyond its target's list, no glibc newer than its floor; a Mach-O file is an
// MH_BUNDLE for its arch, minimum macOS 11.0, links only /usr/lib and /System dylibs, and on
// arm64 carries a valid ad-hoc signature.
//
//   node native/prebuild/prebuild.js [KEY ...]        (default: every target)
//   node native/prebuild/prebuild.js --out DIR [KEY ...] builds into DIR/<key>/ instead
//   node native/prebuild/prebuild.js --check [KEY ...] checks the files in prebuilds/ only
//   node native/prebuild/prebuild.js --static-dir KEY  prints {dir, CC, AR}: KEY's static
//                                                      libraries (built when missing)
//   ARIZE_TRACING_BUILD_CACHE   where toolchains and static libraries are cached (tools.js)
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { TARGETS } = require('./targets.js');
const tools = require('./tools.js');
const macho = require('./macho.js');
const pe = require('./pe.js');
const { fetchOne } = require('./deps.js');
const { listSources } = require('../sources.js');

const ROOT = path.join(__dirname, '..', '..');
const EXPORTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];
const MAX_GLIBC = '2.17';
const LLD = 'ld64.lld-14';
const CFLAGS = [
  '-std=c11',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-O2',
  '-g0', // zig's clang emits debug info unless told not to (the Mach-O link then records paths and times)
  '-fPIC',
  '-fvisibility=hidden',
  '-DNAPI_VERSION=8',
  '-D_GNU_SOURCE',
];
// The functions of macOS 11's libcurl (7.64.1): Debian's 7.88 list less what came after
// 7.64, so that a core using a newer one fails to link here, not to load on a Mac.
const CURL_AFTER_7_64 = [
  'curl_easy_header',
  'curl_easy_nextheader',
  'curl_easy_option_by_id',
  'curl_easy_option_by_name',
  'curl_easy_option_next',
  'curl_multi_poll',
  'curl_multi_wakeup',
  'curl_url_strerror',
  'curl_ws_meta',
  'curl_ws_recv',
  'curl_ws_send',
];

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
    env: Object.assign({}, process.env, opts.env),
  });
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function versionKey(v) {
  const [major = 0, minor = 0, patch = 0] = v.split('.').map(Number);
  return (major * 1000 + minor) * 1000 + patch;
}

// ---- toolchains --------------------------------------------------------------------------

function which(cmd) {
  try {
    return run('sh', ['-c', `command -v ${cmd}`]).trim();
  } catch {
    return '';
  }
}

// zig from npm, behind a one-line wrapper per target so that every script (static-deps.sh,
// configure) sees one compiler command. zig keeps its per-target libc and compiler-rt in the
// build cache.
function zigWrapper(target, zigTarget) {
  const zig = path.join(tools.tool('zig'), 'zig');
  const dir = path.join(tools.cacheRoot(), 'bin');
  fs.mkdirSync(dir, { recursive: true });
  const zigCache = path.join(tools.cacheRoot(), 'zig');
  const write = (name, body) => {
    const file = path.join(dir, name);
    const text = `#!/bin/sh\nexport ZIG_GLOBAL_CACHE_DIR="${zigCache}" ZIG_LOCAL_CACHE_DIR="${zigCache}"\n${body}\n`;
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
      fs.writeFileSync(`${file}.tmp${process.pid}`, text, { mode: 0o755 });
      fs.renameSync(`${file}.tmp${process.pid}`, file);
    }
    return file;
  };
  return {
    CC: write(`zig-cc-${zigTarget}`, `exec "${zig}" cc -target ${zigTarget} "$@"`),
    AR: write('zig-ar', `exec "${zig}" ar "$@"`),
  };
}

function toolchain(key) {
  const t = TARGETS[key];
  if (!t.cc.zig) {
    const cc = which(t.cc[0]);
    if (!cc) throw new Error(`${key}: no C compiler ${t.cc[0]} (Debian: apt-get install ${t.apt})`);
    const ar = t.ar ? which(t.ar) : t.cc[0].endsWith('-gcc') ? which(t.cc[0].replace(/gcc$/, 'ar')) || 'ar' : 'ar';
    if (!ar) throw new Error(`${key}: no archiver ${t.ar} (Debian: apt-get install ${t.apt})`);
    return { CC: cc, AR: ar };
  }
  return zigWrapper(key, t.cc.zig);
}

function requireTool(cmd, pkg) {
  if (!which(cmd)) throw new Error(`${cmd} is missing (Debian: apt-get install ${pkg})`);
}

// ---- libcurl and zlib: headers and link stubs --------------------------------------------

// Debian's multiarch libcurl.so.4 and libz.so.1 for a target: the exported function names.
function systemLibrary(multiarch, soname, pkg) {
  for (const dir of [`/usr/lib/${multiarch}`, `/lib/${multiarch}`]) {
    const file = path.join(dir, soname);
    if (fs.existsSync(file)) return fs.realpathSync(file);
  }
  throw new Error(`no ${soname} for ${multiarch} (Debian: apt-get install ${pkg})`);
}

function exportedFunctions(file) {
  const names = new Set();
  for (const line of run('readelf', ['-W', '--dyn-syms', file]).split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[3] !== 'FUNC' || f[4] !== 'GLOBAL' || f[6] === 'UND') continue;
    names.add(f[7].split('@')[0]);
  }
  return [...names].sort();
}

function stubInputs(t) {
  const arch = t.multiarch.split('-')[0] === 'aarch64' ? 'arm64' : 'amd64';
  return {
    curl: systemLibrary(t.multiarch, 'libcurl.so.4', `libcurl4:${arch}`),
    get files() {
      return [this.curl, this.zlib, ...this.zlibHeaders];
    },
    zlib: systemLibrary(t.multiarch, 'libz.so.1', `zlib1g:${arch}`),
    curlHeaders: (() => {
      const dir = `/usr/include/${t.multiarch}/curl`;
      if (!fs.existsSync(path.join(dir, 'curl.h')))
        throw new Error(`no curl headers in ${dir} (Debian: apt-get install libcurl4-openssl-dev:${arch})`);
      return dir;
    })(),
    zlibHeaders: ['/usr/include/zlib.h', '/usr/include/zconf.h'].map((f) => {
      if (!fs.existsSync(f)) throw new Error(`no ${f} (Debian: apt-get install zlib1g-dev)`);
      return f;
    }),
  };
}

// ELF: a shared library with the real one's soname and every function as an empty body, so
// the core records libcurl.so.4 / libz.so.1 without Debian's symbol versions (a libcurl built
// elsewhere, Alpine's, Fedora's, then loads it without "no version information" warnings).
function elfStubs(dir, inputs, tc) {
  systemHeaders(dir, inputs);
  for (const [name, file, soname] of [
    ['curl', inputs.curl, 'libcurl.so.4'],
    ['z', inputs.zlib, 'libz.so.1'],
  ]) {
    const src = path.join(dir, `${name}-stub.c`);
    fs.writeFileSync(
      src,
      exportedFunctions(file)
        .map((f) => `void ${f}(void) {}\n`)
        .join(''),
    );
    run(tc.CC, ['-shared', '-fPIC', '-w', `-Wl,-soname,${soname}`, '-o', path.join(dir, `lib${name}.so`), src]);
  }
}

// Mach-O: text stubs (tapi v4) with the macOS install names; libSystem is zig's.
function tbd(installName, current, compat, symbols) {
  return [
    '--- !tapi-tbd',
    'tbd-version:     4',
    'targets:         [ x86_64-macos, arm64-macos ]',
    `install-name:    '${installName}'`,
    `current-version: ${current}`,
    `compatibility-version: ${compat}`,
    'exports:',
    '  - targets:         [ x86_64-macos, arm64-macos ]',
    `    symbols:         [ ${symbols.map((s) => `_${s}`).join(', ')} ]`,
    '...',
    '',
  ].join('\n');
}

function machoStubs(dir, inputs) {
  systemHeaders(dir, inputs);
  const curl = exportedFunctions(inputs.curl).filter((f) => /^curl_/.test(f) && !CURL_AFTER_7_64.includes(f));
  fs.writeFileSync(path.join(dir, 'libcurl.tbd'), tbd('/usr/lib/libcurl.4.dylib', '9', '7', curl));
  const zlib = exportedFunctions(inputs.zlib).filter((f) => !/^_/.test(f));
  fs.writeFileSync(path.join(dir, 'libz.tbd'), tbd('/usr/lib/libz.1.dylib', '1.2.11', '1', zlib));
  const zig = tools.tool('zig');
  fs.copyFileSync(path.join(zig, 'lib', 'libc', 'darwin', 'libSystem.11.tbd'), path.join(dir, 'libSystem.tbd'));
}

// A target's static libraries, headers and stubs: one cache entry per hash of its inputs.
// prepared: what the format's prepare() fetched (win32: the verified curl and zlib sources).
function staticDir(key, tc, prepared = {}) {
  const t = TARGETS[key];
  const fmt = FORMATS[t.format];
  const inputs = fmt.inputs ? fmt.inputs(t, prepared) : stubInputs(t);
  const hash = crypto.createHash('sha256');
  for (const f of ['deps.json', 'static-deps.sh', 'glibc_compat.h', ...(fmt.files || [])])
    hash.update(fs.readFileSync(path.join(__dirname, f)));
  // the code below that fills the entry is part of what it is made from
  for (const fn of [
    staticDir,
    stubInputs,
    exportedFunctions,
    elfStubs,
    machoStubs,
    tbd,
    systemHeaders,
    ...(fmt.code || []),
  ])
    hash.update(fn.toString());
  hash
    .update(JSON.stringify(t).split(ROOT).join(''))
    .update(JSON.stringify(CURL_AFTER_7_64))
    .update(run(tc.CC, ['--version']));
  for (const f of inputs.files) hash.update(f).update(fs.readFileSync(f));
  const dir = path.join(tools.cacheRoot(), 'static', `${key}-${hash.digest('hex').slice(0, 16)}`);
  return tools.entry(dir, (tmp) => {
    execFileSync('bash', [path.join(__dirname, 'static-deps.sh'), tmp, path.join(tools.cacheRoot(), 'downloads')], {
      cwd: ROOT,
      stdio: ['ignore', 2, 'inherit'], // its progress on stderr: stdout carries --static-dir's answer
      env: Object.assign({}, process.env, tc, { TARGET_OS: t.os, EXTRA_CFLAGS: t.cflags.join(' ') }),
    });
    const stub = path.join(tmp, 'stub');
    fs.mkdirSync(stub);
    fmt.stubs(stub, inputs, tc, t);
    fs.rmSync(path.join(tmp, 'src'), { recursive: true, force: true });
  });
}

// ELF and Mach-O: the system's libcurl and zlib headers beside the static libraries.
function systemHeaders(stub, inputs) {
  const include = path.join(path.dirname(stub), 'include');
  fs.cpSync(inputs.curlHeaders, path.join(include, 'curl'), { recursive: true });
  for (const f of inputs.zlibHeaders) fs.copyFileSync(f, path.join(include, path.basename(f)));
}

// ---- compile and link --------------------------------------------------------------------

// Two compiles at a time (the CI machine has two cores).
function compileAll(tc, flags, sources, objDir) {
  const { spawn } = require('node:child_process');
  const queue = sources.map((src) => ({ src, obj: path.join(objDir, src.replace(/[/.]/g, '_') + '.o') }));
  const objects = queue.map((q) => q.obj);
  return new Promise((resolve, reject) => {
    let running = 0;
    let failed = null;
    const next = () => {
      if (failed) return;
      if (!queue.length && !running) return resolve(objects);
      while (
        running < Math.max(1, Math.min(2, os.availableParallelism ? os.availableParallelism() : 2)) &&
        queue.length
      ) {
        const { src, obj } = queue.shift();
        running++;
        const child = spawn(tc.CC, [...flags, '-c', '-o', obj, src], {
          cwd: ROOT,
          stdio: ['ignore', 'inherit', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        child.on('close', (code) => {
          running--;
          if (code !== 0) {
            failed = new Error(`${src} does not compile:\n${err}`);
            return reject(failed);
          }
          if (err) process.stderr.write(err);
          next();
        });
      }
    };
    next();
  });
}

// ---- per binary format: link stubs, link, checks (a new format, Windows' PE, adds one) ----

function linkElf(t, tc, st, objects, out) {
  run(tc.CC, [
    '-shared',
    '-o',
    out,
    ...objects,
    ...['jansson', 'yaml', 'protobuf-c'].map((l) => path.join(st, 'lib', `lib${l}.a`)),
    `-L${path.join(st, 'stub')}`,
    '-Wl,--as-needed',
    '-lz',
    ...t.ldflags,
    `-Wl,--version-script=${path.join(__dirname, 'exports.map')}`,
    '-Wl,-z,now',
    '-s',
  ]);
}

function linkMacho(t, tc, st, objects, out) {
  requireTool(LLD, 'lld-14');
  run(LLD, [
    '-arch',
    t.machine,
    '-platform_version',
    'macos',
    t.minos,
    t.minos,
    '-bundle',
    '-undefined',
    'dynamic_lookup',
    '-exported_symbols_list',
    path.join(__dirname, 'exports.darwin'),
    '-dead_strip',
    '-x',
    '-S',
    t.sign ? '-adhoc_codesign' : '-no_adhoc_codesign',
    '-o',
    out,
    ...objects,
    ...['jansson', 'yaml', 'protobuf-c'].map((l) => path.join(st, 'lib', `lib${l}.a`)),
    `-L${path.join(st, 'stub')}`,
    '-lz',
    '-lSystem',
  ]);
  macho.fixUuid(out);
}

async function build(key, outRoot = path.join(ROOT, 'prebuilds')) {
  const t = TARGETS[key];
  if (!t) throw new Error(`unknown target ${key} (known: ${Object.keys(TARGETS).join(', ')})`);
  const started = Date.now();
  const tc = toolchain(key);
  const fmt = FORMATS[t.format];
  const st = staticDir(key, tc, fmt.prepare ? await fmt.prepare(t) : {});
  // objects live in a directory of their own, named the same on every run (the file name
  // is the link's output name, and lld records it in the Mach-O signature's identifier).
  const work = path.join(tools.cacheRoot(), 'build', key);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const flags = [
    ...CFLAGS,
    ...t.cflags,
    `-ffile-prefix-map=${ROOT}/=`,
    `-ffile-prefix-map=${st}/=`,
    '-I',
    'native/nodedir/include/node',
    '-I',
    'native',
    '-I',
    'native/gen',
    '-I',
    path.join(st, 'include'),
  ];
  const objects = await compileAll(tc, flags, listSources(), work);
  const built = path.join(work, 'node.napi.node');
  FORMATS[t.format].link(t, tc, st, objects, built);
  const file = path.join(outRoot, key, 'node.napi.node');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(built, file);
  fs.rmSync(work, { recursive: true, force: true });
  const info = inspect(file, key);
  console.log(`${describe(info)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const problems = check(info, key);
  if (problems.length) throw new Error(`${path.relative(ROOT, file)}:\n  ${problems.join('\n  ')}`);
}

// ---- inspect and check -------------------------------------------------------------------

/** What a built core is: format, machine, exports, needs, and for Mach-O its load commands. */
function inspect(file, key) {
  const bytes = fs.readFileSync(file);
  const magic = bytes.subarray(0, 4).toString('latin1');
  const base = { file, key, bytes: bytes.length, sha256: sha256(bytes) };
  if (magic === '\x7fELF') {
    const exported = [];
    const versions = new Set();
    const glibcSyms = {};
    for (const line of run('readelf', ['-W', '--dyn-syms', file]).split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || !/^\d+:$/.test(f[0])) continue;
      const [name, version] = f[7].split(/@+/);
      if (version && /^GLIBC_[0-9.]+$/.test(version)) {
        versions.add(version.slice(6));
        (glibcSyms[version.slice(6)] = glibcSyms[version.slice(6)] || []).push(name);
      }
      if (f[6] !== 'UND' && f[4] !== 'LOCAL' && name) exported.push(name);
    }
    const glibc = [...versions].sort((a, b) => versionKey(a) - versionKey(b));
    const needed = [...run('readelf', ['-d', file]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map(
      (m) => m[1],
    );
    const machine = /Machine:\s+(.*)/.exec(run('readelf', ['-h', file]))[1].trim();
    const maxGlibc = glibc[glibc.length - 1];
    return { ...base, format: 'elf', exported, needed, machine, maxGlibc, newest: glibcSyms[maxGlibc] || [] };
  }
  if (macho.isMachO(bytes)) {
    // read here, not with nm: the same answer on Linux, on a Mac and on the publishing runner
    // (test/darwin.test.js holds it against llvm-nm-14 and llvm-objdump-14)
    const m = macho.parse(bytes);
    const exported = m.exported.map((s) => s.replace(/^_/, ''));
    return { ...base, format: 'macho', exported, needed: m.dylibs, machine: m.arch, macho: m };
  }
  if (pe.isPE(bytes)) {
    const p = pe.parse(bytes);
    return {
      ...base,
      format: 'pe',
      exported: p.exported,
      needed: [...p.imports, ...p.delayed],
      machine: p.machine,
      pe: p,
    };
  }
  return { ...base, format: 'unknown', exported: [], needed: [], machine: '' };
}

function describe(info) {
  const rel = path.relative(ROOT, info.file);
  const head = `${rel}: ${info.bytes} bytes, ${info.format} ${info.machine}; exports ${info.exported.join(', ')}; needs ${info.needed.join(', ')}`;
  if (info.format === 'elf')
    return head + (info.maxGlibc ? `; highest glibc symbol version GLIBC_${info.maxGlibc}` : '');
  if (info.format === 'pe')
    return `${head}; DLL, Node-API delay-loaded from ${info.pe.delayed.join(', ')} (the host executable), timestamp ${info.pe.timestamp}`;
  if (info.format === 'macho') {
    const m = info.macho;
    return `${head}; ${m.filetypeName}, minos ${m.minos}, uuid ${m.uuid}, ${m.signature ? `signed (${m.signature.identifier}, ${m.signature.valid ? 'hashes valid' : 'HASHES INVALID'})` : 'unsigned'}`;
  }
  return head;
}

/** The problems of a built core for its target (an empty list when it is fit to ship). */
function check(info, key = info.key) {
  const t = TARGETS[key];
  const problems = [];
  const extra = info.exported.filter((name) => !EXPORTS.includes(name));
  if (extra.length) problems.push(`exports more than the Node-API entry points: ${extra.join(', ')}`);
  if (!info.exported.includes('napi_register_module_v1')) problems.push('does not export napi_register_module_v1');
  if (!t) return [...problems, `no target ${key}`];
  if (info.format !== t.format) return [...problems, `is ${info.format}, not ${t.format}`];
  if (info.machine !== t.machine) problems.push(`is built for ${info.machine}, not ${t.machine}`);
  return [...problems, ...FORMATS[t.format].check(info, t)];
}

function checkElf(info, t) {
  const problems = [];
  const unexpected = info.needed.filter((lib) => !t.needed.includes(lib));
  if (unexpected.length)
    problems.push(`links shared libraries beyond ${t.needed.join(', ')}: ${unexpected.join(', ')}`);
  if (t.libc === 'musl' && info.maxGlibc)
    problems.push(`a musl core with glibc symbol versions (GLIBC_${info.maxGlibc})`);
  if (t.maxGlibc && info.maxGlibc && versionKey(info.maxGlibc) > versionKey(t.maxGlibc))
    problems.push(`needs GLIBC_${info.maxGlibc}, more than GLIBC_${t.maxGlibc}: ${info.newest.join(', ')}`);
  return problems;
}

function checkMacho(info, t) {
  const problems = [];
  const m = info.macho;
  if (m.filetypeName !== 'MH_BUNDLE') problems.push(`is ${m.filetypeName}, not MH_BUNDLE`);
  if (m.minos !== t.minos) problems.push(`minimum macOS is ${m.minos}, not ${t.minos}`);
  if (m.platform !== 'macos') problems.push(`platform is ${m.platform}, not macos`);
  const foreign = m.dylibs.filter((d) => !/^\/(usr\/lib|System)\//.test(d));
  if (foreign.length) problems.push(`links dylibs outside /usr/lib and /System: ${foreign.join(', ')}`);
  if (!m.uuid) problems.push('has no LC_UUID (dyld of macOS 15 refuses such a file)');
  if (t.sign && !m.signature) problems.push('has no code signature (Apple Silicon refuses to load it)');
  if (m.signature && !m.signature.valid) problems.push('its code signature does not match its content');
  return problems;
}

// ---- Windows PE (win32-x64): mingw-w64 links a DLL with everything inside it ----------------

const WINDOWS_DEPS = JSON.parse(fs.readFileSync(path.join(__dirname, 'deps-windows.json'), 'utf8'));
const DELAY_HOOK = path.join(__dirname, 'win_delay_load_hook.c');

// Node-API's functions as node.exe exports them: every NAPI_EXTERN of the Node-API headers
// (native/nodedir, the same list as node-api-headers' node_api.def).
const NODE_API_HEADERS = ['js_native_api.h', 'node_api.h'].map((h) =>
  path.join(ROOT, 'native', 'nodedir', 'include', 'node', h),
);
function nodeApiDef() {
  const names = new Set();
  for (const h of NODE_API_HEADERS)
    for (const m of fs.readFileSync(h, 'utf8').matchAll(/NAPI_EXTERN[^;{]*?\b((?:napi|node_api)_\w+)\s*\(/g))
      names.add(m[1]);
  if (!names.size) throw new Error('no Node-API functions in native/nodedir (node native/nodedir/prepare.js)');
  return ['LIBRARY node.exe', 'EXPORTS', ...[...names].sort(), ''].join('\n');
}

// The verified curl and zlib source tarballs (deps.js: upstream, else Debian's .orig).
async function prepareWindows() {
  const dl = path.join(tools.cacheRoot(), 'downloads');
  fs.mkdirSync(dl, { recursive: true });
  const out = {};
  for (const name of ['curl', 'zlib']) out[name] = await fetchOne({ name, ...WINDOWS_DEPS[name] }, dl);
  return out;
}

function windowsInputs(t, prepared) {
  if (!prepared.curl) throw new Error('win32-x64: the curl and zlib sources were not fetched (prepare)');
  return { ...prepared, files: [prepared.curl, prepared.zlib, ...NODE_API_HEADERS] };
}

// Static zlib and libcurl (Schannel): a cache entry of their own (curl's configure is the
// slowest step of the whole recipe), named by what they are made from.
function windowsLibs(inputs, tc) {
  const hash = crypto.createHash('sha256');
  for (const f of ['deps-windows.json', 'windows-deps.sh']) hash.update(fs.readFileSync(path.join(__dirname, f)));
  for (const f of [inputs.curl, inputs.zlib]) hash.update(fs.readFileSync(f));
  hash.update(run(tc.CC, ['--version'])).update(tc.AR);
  const dir = path.join(tools.cacheRoot(), 'windows-libs', hash.digest('hex').slice(0, 16));
  return tools.entry(dir, (tmp) =>
    execFileSync('bash', [path.join(__dirname, 'windows-deps.sh'), tmp, inputs.curl, inputs.zlib], {
      cwd: ROOT,
      stdio: ['ignore', 2, 'inherit'], // its progress on stderr, as above
      env: Object.assign({}, process.env, tc),
    }),
  );
}

// The static libraries above, and the delay-load import library of Node-API: the core
// imports napi_* from "node.exe", answered at load time by the executable that loads it
// (win_delay_load_hook.c), so one file serves node.exe and bun.exe.
function windowsStubs(stub, inputs, tc) {
  const root = path.dirname(stub);
  const libs = windowsLibs(inputs, tc);
  for (const f of ['libz.a', 'libcurl.a']) fs.copyFileSync(path.join(libs, 'lib', f), path.join(root, 'lib', f));
  fs.cpSync(path.join(libs, 'include'), path.join(root, 'include'), { recursive: true });
  const dlltool = tc.AR.replace(/ar$/, 'dlltool');
  const def = path.join(stub, 'node.def');
  fs.writeFileSync(def, nodeApiDef());
  // names relative to the stub directory: dlltool names the descriptor's symbols after the
  // output path (__DLL_HANDLE_<path>), so an absolute one made every cache place its own core
  run(dlltool, ['-d', 'node.def', '-D', 'node.exe', '-t', 'napi', '-y', 'libnode_delay.a'], { cwd: stub });
}

function linkPe(t, tc, st, objects, out) {
  const hook = path.join(path.dirname(out), 'win_delay_load_hook.o');
  run(tc.CC, ['-O2', '-g0', '-Wall', '-Wextra', '-Werror', '-c', '-o', hook, DELAY_HOOK]);
  run(tc.CC, [
    '-shared',
    '-o',
    out,
    ...objects,
    hook,
    ...['jansson', 'yaml', 'protobuf-c', 'curl', 'z'].map((l) => path.join(st, 'lib', `lib${l}.a`)),
    path.join(st, 'stub', 'libnode_delay.a'),
    '-ldelayimp',
    ...t.ldflags,
    path.join(__dirname, 'exports.def'),
  ]);
}

function checkPe(info, t) {
  const problems = [];
  const p = info.pe;
  if (!p.dll) problems.push('is not a DLL');
  const unexpected = p.imports.filter((d) => !t.imports.some((ok) => ok.toLowerCase() === d.toLowerCase()));
  if (unexpected.length)
    problems.push(`imports DLLs beyond the system's (${t.imports.join(', ')}): ${unexpected.join(', ')}`);
  if (p.delayed.join() !== t.delayed.join())
    problems.push(`delay-loads ${p.delayed.join(', ') || 'nothing'}, not ${t.delayed.join(', ')}`);
  if (p.timestamp !== 0 || p.exportTimestamp !== 0) problems.push('carries a link timestamp (not reproducible)');
  return problems;
}

const FORMATS = {
  elf: { stubs: elfStubs, link: linkElf, check: checkElf },
  macho: { stubs: machoStubs, link: linkMacho, check: checkMacho },
  pe: {
    prepare: prepareWindows,
    inputs: windowsInputs,
    stubs: windowsStubs,
    link: linkPe,
    check: checkPe,
    files: ['deps-windows.json', 'windows-deps.sh', 'win_delay_load_hook.c'],
    get code() {
      return [prepareWindows, windowsInputs, windowsStubs, windowsLibs, nodeApiDef];
    },
  },
};

async function main(argv) {
  const checkOnly = argv.includes('--check');
  const outAt = argv.indexOf('--out');
  const outRoot = outAt >= 0 ? path.resolve(argv[outAt + 1]) : path.join(ROOT, 'prebuilds');
  const keys = argv.filter((a, i) => a !== '--check' && (outAt < 0 || (i !== outAt && i !== outAt + 1)));
  const targets = keys.length ? keys : Object.keys(TARGETS);
  const staticAt = argv.indexOf('--static-dir');
  if (staticAt >= 0) {
    // the static libraries and headers of one target (built when missing): the C tests
    // built for that target link them (test/windows-c.test.js)
    const key = argv[staticAt + 1];
    const t = TARGETS[key];
    if (!t) throw new Error(`unknown target ${key}`);
    const tc = toolchain(key);
    const fmt = FORMATS[t.format];
    const st = staticDir(key, tc, fmt.prepare ? await fmt.prepare(t) : {});
    process.stdout.write(JSON.stringify({ dir: st, ...tc }) + '\n');
    return;
  }
  if (checkOnly) {
    let bad = 0;
    for (const key of targets) {
      const info = inspect(path.join(ROOT, 'prebuilds', key, 'node.napi.node'), key);
      const problems = check(info, key);
      console.log(describe(info) + (problems.length ? `\n  ${problems.join('\n  ')}` : ''));
      if (problems.length) bad++;
    }
    if (bad) throw new Error(`${bad} of ${targets.length} prebuilds are not fit to ship`);
    return;
  }
  run(process.execPath, [path.join(ROOT, 'native', 'nodedir', 'prepare.js')]);
  for (const key of targets) await build(key, outRoot);
}

module.exports = { inspect, check, describe, toolchain, staticDir, EXPORTS, MAX_GLIBC, TARGETS };

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`prebuild: ${error.message}`);
    process.exit(1);
  });
}
