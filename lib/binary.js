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
const crypto = require('node:crypto');
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

/** "linux-x64", ... (or ARIZE_TRACING_PLATFORM, for tests). */
function platformKey(env = process.env) {
  return env.ARIZE_TRACING_PLATFORM || `${process.platform}-${process.arch}`;
}

/** prebuilds/manifest.json, or an empty one when the package has none. */
function readManifest() {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'prebuilds', 'manifest.json'), 'utf8'));
  } catch {
    return { binaries: {} };
  }
}

function cacheDir(env = process.env, version = packageVersion()) {
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
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
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
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
  const tmp = `${release.path}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
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
    const hash = crypto.createHash('sha256');
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
