'use strict';
// Where the native core comes from when the package carries no prebuild for this platform:
// prebuilds/manifest.json lists, per platform, the release file and its SHA-256; the file is
// downloaded from a release base URL into the user's cache, verified, and renamed into place
// in one step, so a half-written or tampered file is never loaded.
//
//   ARIZE_TRACING_BINARY_HOST   release base URL (default: the manifest's "host", else the
//                               GitHub release of this version: https://github.com/<owner>/
//                               <repo>/releases/download/v<version>, from package.json's
//                               repository); "off" turns downloads off
//   ARIZE_TRACING_PLATFORM      tests only: pretend to be another platform ("linux-arm64")
//   XDG_CACHE_HOME              the cache root (default ~/.cache)
// node:crypto is loaded when a download is verified, not with the package: inside OpenCode's
// Bun it is ~25 ms of start-up when nothing loaded it yet, and the plugin loads this file first
const crypto = () => require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const MAX_BYTES = 64 * 1024 * 1024; // a core is well under 1 MiB; anything this big is wrong

function readPackage() {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
}

function packageVersion() {
  return readPackage().version;
}

/** The GitHub release page's download base for a package.json, or '' when it names no GitHub repository. */
function defaultHost(pkg = readPackage(), version = pkg.version) {
  const repo = pkg.repository && (pkg.repository.url || pkg.repository);
  const m = typeof repo === 'string' && /github\.com[/:]([\w.-]+\/[\w.-]+?)(?:\.git)?$/.exec(repo);
  return m ? `https://github.com/${m[1]}/releases/download/v${version}` : '';
}

// The ELF interpreter a Linux executable asks for (/lib/ld-musl-x86_64.so.1,
// /lib64/ld-linux-x86-64.so.2, ...), from its program headers; '' when unreadable.
function elfInterpreter(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(64);
    if (fs.readSync(fd, head, 0, 64, 0) < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return '';
    const le = head[5] === 1;
    const u16 = (b, o) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b, o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b, o) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const phoff = u64(head, 32);
    const size = u16(head, 54);
    const count = Math.min(u16(head, 56), 64);
    const ph = Buffer.alloc(size * count);
    fs.readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < count; i++) {
      if (u32(ph, i * size) !== 3) continue; // PT_INTERP
      const name = Buffer.alloc(Math.min(u64(ph, i * size + 32), 256));
      fs.readSync(fd, name, 0, name.length, u64(ph, i * size + 8));
      return name.toString('latin1').replace(/\0.*$/s, '');
    }
    return '';
  } catch {
    return '';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * The C library of this Linux process: 'glibc', 'musl', or '' when it cannot be told (never
 * a guess). In order of cost (measured here: 0.3 ms, 1 ms, 7-130 ms): the C library mapped
 * into this process (/proc/self/maps), the interpreter the running executable asks for, the
 * runtime's own report (Node and Bun fill glibcVersionRuntime on glibc only).
 */
function linuxLibc() {
  if (process.platform !== 'linux') return '';
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    if (/\/(ld-musl-[\w-]+\.so\.1|libc\.musl-[\w-]+\.so\.1)$|-linux-musl\/libc\.so$/m.test(maps)) return 'musl';
    if (/\/libc\.so\.6$/m.test(maps)) return 'glibc';
  } catch {
    // no /proc
  }
  const interp = elfInterpreter(process.execPath);
  if (/\bld-musl-/.test(interp)) return 'musl';
  if (/\bld-linux/.test(interp)) return 'glibc';
  try {
    const report = process.report;
    const network = report.excludeNetwork;
    report.excludeNetwork = true; // Node would otherwise look up every interface's address
    let header;
    try {
      header = report.getReport().header;
    } finally {
      report.excludeNetwork = network;
    }
    if (header && header.glibcVersionRuntime) return 'glibc';
  } catch {
    // no process.report in this runtime
  }
  return '';
}

let detectedLibc;
/**
 * The prebuild keys that may fit this process, best first: "linux-x64" on glibc,
 * "linux-x64-musl" on musl, both (glibc first) when the C library cannot be told;
 * "darwin-arm64", ... elsewhere. ARIZE_TRACING_PLATFORM (tests) names one key instead.
 */
function platformKeys(env = process.env) {
  if (env.ARIZE_TRACING_PLATFORM) return [env.ARIZE_TRACING_PLATFORM];
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return [base];
  if (detectedLibc === undefined) detectedLibc = linuxLibc();
  if (detectedLibc === 'musl') return [`${base}-musl`];
  if (detectedLibc === 'glibc') return [base];
  return [base, `${base}-musl`];
}

/** The one key this process is known by: "linux-x64", "linux-x64-musl", "darwin-arm64", ... */
function platformKey(env = process.env) {
  return platformKeys(env)[0];
}

/** prebuilds/manifest.json, or an empty one when the package has none. */
function readManifest() {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'prebuilds', 'manifest.json'), 'utf8'));
  } catch {
    return { binaries: {} };
  }
}

/**
 * The user's home, as the core finds it (native/platform: HOME; on Windows USERPROFILE first,
 * which is what os.homedir() and so OpenCode use there; HOME only when a Unix-like shell set
 * nothing else).
 */
function userHome(env = process.env) {
  if (process.platform === 'win32') return env.USERPROFILE || env.HOME || os.homedir();
  return env.HOME || os.homedir();
}

function cacheDir(env = process.env, version = packageVersion()) {
  const base = env.XDG_CACHE_HOME || path.join(userHome(env), '.cache');
  return path.join(base, 'opencode-arize-tracing', version);
}

/** The manifest entry for this platform and where its download lives, or null. */
function releaseFor(env = process.env) {
  const manifest = readManifest();
  const key = platformKey(env);
  const entry = manifest.binaries && manifest.binaries[key];
  if (!entry || !/^[\w.+-]+$/.test(entry.file || '') || !/^[0-9a-f]{64}$/.test(entry.sha256 || '')) return null;
  const version = manifest.version || packageVersion();
  const host = env.ARIZE_TRACING_BINARY_HOST || manifest.host || defaultHost(readPackage(), version);
  return {
    key,
    file: entry.file,
    sha256: entry.sha256,
    bundled: entry.bundled || null,
    version,
    host: host === 'off' ? '' : host.replace(/\/+$/, ''),
    path: path.join(cacheDir(env, version), entry.file),
  };
}

function sha256File(file) {
  return crypto().createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

// Downloads must be TLS (verified: fetch verifies certificates), except from this machine.
function allowedUrl(url) {
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/**
 * Downloads the release file for this platform into the cache, checks its SHA-256 and renames
 * it into place. Resolves to {path, downloaded}; rejects with a message that says what failed.
 * Nothing half-written is left behind: the bytes go to a temporary file in the same directory.
 */
async function fetchBinary({ env = process.env, timeoutMs = 30000 } = {}) {
  const release = releaseFor(env);
  if (!release) throw new Error(`no release binary is listed for ${platformKey(env)} in prebuilds/manifest.json`);
  if (fs.existsSync(release.path) && sha256File(release.path) === release.sha256)
    return { path: release.path, downloaded: false };
  if (!release.host)
    throw new Error(
      'no download location: set ARIZE_TRACING_BINARY_HOST to the release base URL' +
        (env.ARIZE_TRACING_BINARY_HOST === 'off' ? ' (it is "off")' : ''),
    );
  const url = new URL(`${release.host}/${release.file}`);
  if (!allowedUrl(url)) throw new Error(`refusing to download over ${url.protocol} from ${url.host}: use https`);

  fs.mkdirSync(path.dirname(release.path), { recursive: true });
  const tmp = `${release.path}.tmp-${process.pid}-${crypto().randomBytes(4).toString('hex')}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let response;
    try {
      response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (error) {
      const why = controller.signal.aborted
        ? `no answer within ${timeoutMs} ms`
        : (error.cause && error.cause.message) || error.message;
      throw new Error(`download of ${url} failed: ${why}`);
    }
    if (!allowedUrl(new URL(response.url || url)))
      throw new Error(`download of ${url} was redirected to a plain-http URL`);
    if (!response.ok) throw new Error(`download of ${url} failed: HTTP ${response.status}`);
    const hash = crypto().createHash('sha256');
    const fd = fs.openSync(tmp, 'wx', 0o644);
    let bytes = 0;
    try {
      for await (const chunk of response.body) {
        bytes += chunk.length;
        if (bytes > MAX_BYTES) throw new Error(`download of ${url} is larger than ${MAX_BYTES} bytes`);
        hash.update(chunk);
        fs.writeSync(fd, chunk);
      }
      fs.fsyncSync(fd);
    } catch (error) {
      if (controller.signal.aborted) throw new Error(`download of ${url} failed: no answer within ${timeoutMs} ms`);
      throw error;
    } finally {
      fs.closeSync(fd);
    }
    const got = hash.digest('hex');
    if (got !== release.sha256)
      throw new Error(
        `download of ${url} does not match its checksum (expected sha256 ${release.sha256}, got ${got}); nothing was kept`,
      );
    fs.renameSync(tmp, release.path);
    return { path: release.path, downloaded: true };
  } finally {
    clearTimeout(timer);
    fs.rmSync(tmp, { force: true });
  }
}

module.exports = {
  ROOT,
  packageVersion,
  defaultHost,
  platformKey,
  platformKeys,
  userHome,
  linuxLibc,
  elfInterpreter,
  readManifest,
  cacheDir,
  releaseFor,
  sha256File,
  fetchBinary,
};

// `node lib/binary.js` (the loader's child process): downloads and prints {path} or {error}.
if (require.main === module) {
  fetchBinary({ timeoutMs: Number(process.argv[2]) || 30000 }).then(
    (result) => process.stdout.write(JSON.stringify(result)),
    (error) => process.stdout.write(JSON.stringify({ error: error.message })),
  );
}
