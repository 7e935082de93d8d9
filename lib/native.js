'use strict';
// Finds and loads the compiled core. Order:
//   1. an explicit ARIZE_TRACING_NATIVE path (tests, debugging);
//   2. the prebuild for this platform at a fixed path (a literal require, so
//      `bun build --compile` can embed it): linux-x64, linux-arm64 (glibc), linux-x64-musl,
//      linux-arm64-musl (musl: the C library is detected, lib/binary.js), darwin-x64,
//      darwin-arm64, win32-x64;
//   3. node-gyp-build: a source build (build/Release);
//   4. the release binary for this platform from the user's cache (~/.cache/opencode-arize-
//      tracing/<version>/), downloaded on first use by a child process (lib/binary.js) with a
//      bounded wait, and checked against prebuilds/manifest.json's SHA-256 on every load.
// When nothing loads, the error names each file tried, why it failed, and the fix.
const fs = require('node:fs');
const path = require('node:path');
const binary = require('./binary.js');

const root = binary.ROOT;
const DOWNLOAD_TIMEOUT_MS = 30000;
// Set by the plugin before it loads this file: never wait on a download (see fromRelease).
const BACKGROUND = Symbol.for('opencode-arize-tracing.background-download');

// One literal require per bundled target (native/prebuild/targets.js).
const PREBUILDS = {
  'linux-x64': () => require('../prebuilds/linux-x64/node.napi.node'),
  'linux-arm64': () => require('../prebuilds/linux-arm64/node.napi.node'),
  'linux-x64-musl': () => require('../prebuilds/linux-x64-musl/node.napi.node'),
  'linux-arm64-musl': () => require('../prebuilds/linux-arm64-musl/node.napi.node'),
  'darwin-x64': () => require('../prebuilds/darwin-x64/node.napi.node'),
  'darwin-arm64': () => require('../prebuilds/darwin-arm64/node.napi.node'),
  'win32-x64': () => require('../prebuilds/win32-x64/node.napi.node'),
};

function fixedPrebuild(key) {
  if (Object.hasOwn(PREBUILDS, key)) return PREBUILDS[key]();
  throw Object.assign(new Error(`no prebuild bundled for ${key}`), { code: 'NO_PREBUILD' });
}

// What to install for a missing system library, on glibc distributions and on musl (Alpine).
const INSTALL = {
  libcurl: { glibc: 'apt-get install libcurl4, dnf install libcurl, ...', musl: 'apk add libcurl' },
  libz: { glibc: 'apt-get install zlib1g, dnf install zlib, ...', musl: 'apk add zlib' },
};

// Why a load failed, in words a user can act on. glibc says "libcurl.so.4: cannot open shared
// object file"; musl "Error loading shared library libcurl.so.4: No such file or directory".
function explain(error) {
  const message = String((error && error.message) || error);
  const missing =
    /(lib[\w.+-]+\.so(?:\.\d+)*): cannot open shared object file/.exec(message) ||
    /Error loading shared library (lib[\w.+-]+\.so(?:\.\d+)*): No such file/.exec(message);
  if (missing) {
    const libc = /Error loading shared library/.test(message) ? 'musl' : 'glibc';
    const fix = INSTALL[missing[1].replace(/\.so.*$/, '')];
    const hint = fix ? ` (install it: ${fix[libc]})` : '';
    return `the system library ${missing[1]} is missing${hint}`;
  }
  const glibc = /version `(GLIBC_[\d.]+)' not found/.exec(message);
  if (glibc) return `this system's C library is older than the ${glibc[1]} the file needs`;
  if (error && error.code === 'MODULE_NOT_FOUND') return 'not in this package';
  return message.split('\n')[0];
}

// The release binary from the cache, downloading it first when it is not there yet.
function fromRelease(key, tried) {
  const release = binary.releaseFor();
  if (!release) return null;
  // A bundled file already failed above: the same bytes from the release would fail the same way.
  if (release.bundled && fs.existsSync(path.join(root, 'prebuilds', release.bundled))) return null;
  const where = release.path;
  if (!fs.existsSync(where)) {
    if (!release.host) {
      tried.push(`${where}: not downloaded, and no download location (ARIZE_TRACING_BINARY_HOST)`);
      return null;
    }
    // Inside OpenCode (the plugin sets BACKGROUND) its thread must not wait on the network:
    // the download runs in a detached child process, this load fails with a line saying so, and
    // the next start finds the file in the cache.
    if (globalThis[BACKGROUND] === true) {
      try {
        const { spawn } = require('node:child_process'); // here, not at every load: a fresh Bun's ~6 ms
        const child = spawn(process.execPath, [path.join(__dirname, 'binary.js'), String(DOWNLOAD_TIMEOUT_MS)], {
          env: Object.assign({}, process.env, { BUN_BE_BUN: '1' }),
          detached: true,
          stdio: 'ignore',
        });
        child.on('error', () => {});
        child.unref();
        tried.push(
          `${where}: being downloaded in the background (first start on ${key}); tracing starts with the next start`,
        );
      } catch (error) {
        tried.push(`${where}: the background download could not start: ${explain(error)}`);
      }
      return null;
    }
    // Elsewhere the loader is synchronous: the download runs in a child process of this same
    // runtime (BUN_BE_BUN makes a Bun-compiled host such as OpenCode act as plain Bun), at most
    // DOWNLOAD_TIMEOUT_MS, once: later starts find the file in the cache.
    const { spawnSync } = require('node:child_process');
    const child = spawnSync(process.execPath, [path.join(__dirname, 'binary.js'), String(DOWNLOAD_TIMEOUT_MS)], {
      env: Object.assign({}, process.env, { BUN_BE_BUN: '1' }),
      encoding: 'utf8',
      timeout: DOWNLOAD_TIMEOUT_MS + 5000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let result = null;
    try {
      result = JSON.parse(child.stdout);
    } catch {
      result = {
        error: child.error ? child.error.message : `the download process exited ${child.status ?? child.signal}`,
      };
    }
    if (result.error) {
      tried.push(`${where}: ${result.error}`);
      return null;
    }
  }
  if (binary.sha256File(where) !== release.sha256) {
    tried.push(
      `${where}: does not match the SHA-256 in prebuilds/manifest.json; delete it and run \`npx opencode-arize-tracing fetch-binary\``,
    );
    return null;
  }
  try {
    return { binding: require(where), file: where };
  } catch (error) {
    tried.push(`${where}: ${explain(error)}`);
    return null;
  }
}

function load() {
  const tried = [];
  // a bundled core of this machine that needs a system library: installing it is the fix (a
  // release binary is the same file, a build from source links the same library)
  let needs = null;
  const keys = binary.platformKeys();
  const key = keys[0];
  const explicit = process.env.ARIZE_TRACING_NATIVE;
  if (explicit) {
    try {
      return { binding: require(path.resolve(explicit)), file: path.resolve(explicit) };
    } catch (error) {
      tried.push(`${explicit} (ARIZE_TRACING_NATIVE): ${explain(error)}`);
    }
  }
  for (const k of keys) {
    const file = path.join(root, 'prebuilds', k, 'node.napi.node');
    try {
      return { binding: fixedPrebuild(k), file };
    } catch (error) {
      const why = error.code === 'NO_PREBUILD' ? error.message : explain(error);
      tried.push(`${file}: ${why}`);
      needs = needs || /^the system library (\S+) is missing(?: \(install it: (.+)\))?$/.exec(why);
    }
  }
  try {
    const nodeGypBuild = require('node-gyp-build');
    const file = nodeGypBuild.resolve(root);
    // a file of prebuilds/ is one of the keys above, already tried, or another platform's or
    // C library's (node-gyp-build does not tell musl from glibc): only a source build is new
    if (!file.startsWith(path.join(root, 'prebuilds') + path.sep)) {
      try {
        return { binding: require(file), file };
      } catch (error) {
        tried.push(`${file}: ${explain(error)}`);
      }
    }
  } catch (error) {
    tried.push(`node-gyp-build (build/Release, prebuilds/): ${explain(error).replace(/\s+$/, '')}`);
  }
  try {
    const released = fromRelease(key, tried);
    if (released) return released;
  } catch (error) {
    tried.push(`release binary: ${explain(error)}`);
  }
  const error = new Error(
    `opencode-arize-tracing: cannot load its native core for ${keys.join(' or ')}.\n  tried:\n    ` +
      tried.join('\n    ') +
      (needs
        ? `\n  fix: install ${needs[1]}${needs[2] ? ` (${needs[2]})` : ''}, then start again`
        : '\n  fix: `npx opencode-arize-tracing fetch-binary` downloads the release binary for this platform;' +
          '\n  or build it from source (needs a C compiler, libcurl, jansson, libyaml and protobuf-c' +
          ` development packages): npm run build --prefix "${root}"`),
  );
  error.code = 'ARIZE_TRACING_NATIVE_LOAD';
  throw error;
}

module.exports = load();
