'use strict';
// The package as users get it: `npm pack` of this tree, installed with install scripts off
// into an empty directory, run with a PATH that holds node and bun and nothing else (no
// compiler, no make, no python).
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const BUN = fs.realpathSync(path.join(ROOT, 'node_modules', '.bin', 'bun'));
const NAME = 'opencode-arize-tracing';

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// npm's own CLI script, so npm can run under the bare PATH with `node npm-cli.js`.
function npmCli() {
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) return process.env.npm_execpath;
  return fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
}

// A directory with only node and bun in it: the PATH of a machine without a toolchain.
function barePath() {
  const dir = tempDir('oat-bin-');
  fs.symlinkSync(process.execPath, path.join(dir, 'node'));
  fs.symlinkSync(BUN, path.join(dir, 'bun'));
  return dir;
}

let packed;
/** `npm pack` of the tree, once per process: {tarball, bytes, files}. */
function pack() {
  if (packed) return packed;
  const dir = tempDir('oat-pack-');
  const out = execFileSync(process.execPath, [npmCli(), 'pack', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const info = JSON.parse(out)[0];
  packed = {
    tarball: path.join(dir, info.filename),
    bytes: info.size,
    unpacked: info.unpackedSize,
    files: info.files.map((f) => f.path),
  };
  return packed;
}

/**
 * Installs spec (default: the packed tarball) into dir/node_modules with install scripts off,
 * npm itself running under the bare PATH. Returns the package directory.
 */
function install(dir, spec = pack().tarball, { binDir = barePath() } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.existsSync(path.join(dir, 'package.json')))
    fs.writeFileSync(path.join(dir, 'package.json'), '{"private": true}\n');
  execFileSync(
    process.execPath,
    [npmCli(), 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', spec],
    {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.assign({}, process.env, { PATH: binDir }),
    },
  );
  return path.join(dir, 'node_modules', NAME);
}

// The environment of a user's process: nothing of ours, a bare PATH, its own HOME.
function userEnv(home, binDir, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(ARIZE_|PHOENIX_|OTEL_|OPENINFERENCE_|npm_|XDG_)/.test(k)) continue;
    env[k] = v;
  }
  // USERPROFILE: the home on Windows (the release workflow's Windows job)
  return Object.assign(env, { HOME: home, USERPROFILE: home, PATH: binDir }, extra);
}

/** Runs a command; resolves {code, stdout, stderr} (never rejects on a non-zero exit). */
function runProcess(cmd, args, { env, cwd, input, timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout, stderr });
    });
    child.stdin.end(input || '');
  });
}

module.exports = { ROOT, BUN, NAME, tempDir, npmCli, barePath, pack, install, userEnv, runProcess };
