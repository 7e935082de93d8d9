'use strict';
// The real musl Bun (npm @oven/bun-linux-x64-musl, @oven/bun-linux-aarch64-musl), runnable on
// this Debian machine as it runs on Alpine: started by the kernel through its own interpreter
// (/lib/ld-musl-<arch>.so.1, Debian's musl / musl:arm64; aarch64 under qemu-aarch64-static),
// with LD_LIBRARY_PATH naming a directory that holds what Alpine would have installed:
//   libstdc++.so.6, libgcc_s.so.1   Debian's (glibc) builds, plus a stand-in for the few
//                                   glibc-only symbols they bind (musl-glibc-shim.c, built as
//                                   the ld-linux soname they need): tests only
//   libcurl.so.4, libz.so.1         musl builds of Debian's curl 7.88.1 and zlib 1.2.13
//                                   sources (pinned, SHA-256-checked .orig tarballs; curl
//                                   without TLS: the tests talk plain HTTP to 127.0.0.1)
// Everything is cached in the build cache (native/prebuild/tools.js), one entry per arch and
// hash of its inputs: ~5 min per arch the first time, nothing after.
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const tools = require('../../native/prebuild/tools.js');
const { fetchOne } = require('../../native/prebuild/deps.js');

const RUNTIMES = JSON.parse(fs.readFileSync(path.join(__dirname, 'musl-runtimes.json'), 'utf8'));
const SHIM = path.join(__dirname, 'musl-glibc-shim.c');

const ARCHES = {
  x64: {
    bun: 'bun-linux-x64-musl',
    loader: '/lib/ld-musl-x86_64.so.1',
    multiarch: 'x86_64-linux-gnu',
    glibcLoader: 'ld-linux-x86-64.so.2',
    host: 'x86_64-linux-musl',
    apt: 'musl',
    compiler: () => ({ CC: 'musl-gcc', AR: 'ar' }),
  },
  arm64: {
    bun: 'bun-linux-aarch64-musl',
    loader: '/lib/ld-musl-aarch64.so.1',
    multiarch: 'aarch64-linux-gnu',
    glibcLoader: 'ld-linux-aarch64.so.1',
    host: 'aarch64-linux-musl',
    apt: 'musl:arm64 libstdc++6:arm64 qemu-user-static',
    qemu: '/usr/bin/qemu-aarch64-static',
    compiler: () => require('../../native/prebuild/prebuild.js').toolchain('linux-arm64-musl'),
  },
};

function missing(a) {
  const files = [a.loader, `/usr/lib/${a.multiarch}/libstdc++.so.6`, `/lib/${a.multiarch}/libgcc_s.so.1`];
  if (a.qemu) files.push(a.qemu);
  const absent = files.filter((f) => !fs.existsSync(f));
  return absent.length ? `${absent.join(', ')} missing (Debian: apt-get install ${a.apt})` : '';
}

function sh(cmd, cwd, env) {
  execFileSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

async function buildLibs(a, dir) {
  const tc = a.compiler();
  const dl = path.join(tools.cacheRoot(), 'downloads');
  const lib = path.join(dir, 'lib');
  fs.mkdirSync(lib);
  fs.symlinkSync(`/usr/lib/${a.multiarch}/libstdc++.so.6`, path.join(lib, 'libstdc++.so.6'));
  fs.symlinkSync(`/lib/${a.multiarch}/libgcc_s.so.1`, path.join(lib, 'libgcc_s.so.1'));
  execFileSync(tc.CC, [
    '-shared',
    '-fPIC',
    '-O2',
    `-Wl,-soname,${a.glibcLoader}`,
    '-o',
    path.join(lib, a.glibcLoader),
    SHIM,
  ]);
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const env = { CC: tc.CC, AR: tc.AR, CFLAGS: '-O2 -g0' };
  // zlib: its own configure (not autoconf), shared library only
  const zlib = await fetchOne({ name: 'zlib', ...RUNTIMES.zlib }, dl);
  execFileSync('tar', ['-xf', zlib, '-C', src]);
  const zdir = path.join(
    src,
    fs.readdirSync(src).find((d) => d.startsWith('zlib')),
  );
  sh('./configure --shared --prefix=/usr && make -j2 libz.so.1.2.13', zdir, env);
  fs.copyFileSync(path.join(zdir, 'libz.so.1.2.13'), path.join(lib, 'libz.so.1'));
  fs.symlinkSync('libz.so.1', path.join(lib, 'libz.so'));
  // curl: the library only, HTTP and nothing else it does not need. Configured with Debian's
  // musl-gcc (its hundreds of probes through zig take ~20 min), then compiled by the arch's
  // compiler: the answers are musl's, the same on both 64-bit archs.
  const curl = await fetchOne({ name: 'curl', ...RUNTIMES.curl }, dl);
  execFileSync('tar', ['-xf', curl, '-C', src]);
  const cdir = path.join(src, `curl-${RUNTIMES.curl.version}`);
  sh(
    './configure --host=x86_64-linux-musl --build=x86_64-linux-gnu --enable-shared --disable-static ' +
      '--without-ssl --without-zlib --disable-ldap --disable-ldaps --disable-rtsp --disable-dict ' +
      '--disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp ' +
      '--disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-manual --disable-ntlm ' +
      '--without-libpsl --without-brotli --without-zstd --without-nghttp2 --without-libidn2 ' +
      '--without-librtmp --disable-alt-svc --disable-hsts',
    cdir,
    { CC: 'musl-gcc', CFLAGS: '-O2 -g0' },
  );
  // the objects only: libtool's link step keeps the compiler configure saw (musl-gcc); the
  // library is linked here by the arch's own compiler
  sh(`make -j2 -k -C lib CC='${tc.CC}' || true`, cdir, env);
  const objects = execFileSync('find', ['lib', '-path', '*/.libs/libcurl_la-*.o'], { cwd: cdir, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .sort();
  if (objects.length < 100) throw new Error(`curl: only ${objects.length} objects were compiled`);
  execFileSync(
    tc.CC,
    ['-shared', '-fPIC', '-Wl,-soname,libcurl.so.4', '-o', path.join(lib, 'libcurl.so.4'), ...objects],
    {
      cwd: cdir,
    },
  );
  fs.rmSync(src, { recursive: true, force: true });
}

// The cache entry of arch's libraries: named by a hash of what they are made from.
function runtimeDir(arch) {
  const hash = crypto.createHash('sha256');
  hash.update(JSON.stringify(RUNTIMES)).update(fs.readFileSync(SHIM)).update(buildLibs.toString()).update(arch);
  return path.join(tools.cacheRoot(), 'musl-runtime', `${arch}-${hash.digest('hex').slice(0, 16)}`);
}

/**
 * The musl Bun for arch ('x64' | 'arm64') and how to run it:
 *   { skip } when this machine lacks what it needs (the reason), else
 *   { bun, lib, command(args) -> [cmd, args], env(extra) -> env additions }.
 */
async function muslBun(arch) {
  const a = ARCHES[arch];
  const why = missing(a);
  if (why) return { skip: why };
  const bunDir = tools.npmPackage(RUNTIMES[a.bun]);
  const bun = path.join(bunDir, 'bin', 'bun');
  fs.chmodSync(bun, 0o755);
  const dir = runtimeDir(arch);
  // one build at a time per entry: another process (a parallel test run) building it is
  // waited for
  const lock = `${dir}.lock`;
  for (;;) {
    if (fs.existsSync(path.join(dir, '.complete'))) break;
    try {
      fs.mkdirSync(path.dirname(lock), { recursive: true });
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      let owner = 0;
      try {
        owner = Number(fs.readFileSync(lock, 'utf8'));
        process.kill(owner, 0);
      } catch {
        if (owner) fs.rmSync(lock, { force: true }); // its builder is gone
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    // tools.entry takes a synchronous maker: build in a private directory first
    const tmp = fs.mkdtempSync(path.join(tools.cacheRoot(), 'musl-runtime-build-'));
    try {
      await buildLibs(a, tmp);
      tools.entry(dir, (out) =>
        fs.cpSync(path.join(tmp, 'lib'), path.join(out, 'lib'), { recursive: true, verbatimSymlinks: true }),
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.rmSync(lock, { force: true });
    }
  }
  const lib = path.join(dir, 'lib');
  return {
    bun,
    lib,
    // qemu-user runs the aarch64 Bun; -L / lets it find /lib/ld-musl-aarch64.so.1
    command: (args) => (a.qemu ? [a.qemu, ['-L', '/', bun, ...args]] : [bun, args]),
    env: (extra = {}) => ({ LD_LIBRARY_PATH: lib, LD_PRELOAD: path.join(lib, a.glibcLoader), ...extra }),
  };
}

module.exports = { muslBun, runtimeDir, ARCHES };
