'use strict';
// linux-arm64 as its users get it (issue 14): the packed tarball, installed with scripts off,
// loaded by the real Bun for aarch64 (npm @oven/bun-linux-aarch64, the version of the bun
// devDependency) running under qemu-aarch64-static, which reconciles a closed turn from a real
// OpenCode capture and exports it over real HTTP to the receiver on 127.0.0.1.
//
// There is no binfmt_misc here: qemu is called explicitly with `-L /`, and the aarch64 C
// library, libcurl and zlib come from Debian's multiarch packages (libc6:arm64, libcurl4:arm64,
// zlib1g:arm64), installed under / by test/ensure-deps.sh. Bun is slow under qemu: one run.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { payload } = require('./helpers/fixtures.js');
const { ROOT, NAME, tempDir, npmCli, pack, install, barePath, userEnv, runProcess } = require('./helpers/package.js');

const FIXTURE = 'one-bash-call/snap-3-session.idle.json';
const QEMU = '/usr/bin/qemu-aarch64-static';
const LOADER = '/lib/ld-linux-aarch64.so.1';
const BUN_VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'bun', 'package.json'), 'utf8')).version;
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'opencode-arize-tracing', `bun-linux-aarch64-${BUN_VERSION}`);

// The aarch64 Bun binary from the npm registry (cached). It declares os/cpu fields, so it is
// not a devDependency (npm ci on x64 would refuse it): its tarball is fetched with `npm pack`.
function aarch64Bun() {
  const bun = path.join(CACHE, 'package', 'bin', 'bun');
  if (fs.existsSync(bun)) return bun;
  fs.mkdirSync(CACHE, { recursive: true });
  const out = execFileSync(
    process.execPath,
    [npmCli(), 'pack', `@oven/bun-linux-aarch64@${BUN_VERSION}`, '--json', '--pack-destination', CACHE],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const tarball = path.join(CACHE, JSON.parse(out)[0].filename);
  execFileSync('tar', ['-xzf', tarball, '-C', CACHE]);
  fs.rmSync(tarball);
  fs.chmodSync(bun, 0o755);
  return bun;
}

const SCENARIO = `
const api = require(require.resolve(${JSON.stringify(NAME)}, { paths: [process.cwd()] }));
(async () => {
  const input = require('node:fs').readFileSync(0, 'utf8');
  const out = { runtime: process.versions.bun ? 'bun' : 'node', arch: process.arch };
  out.reconcile = api.reconcile(JSON.parse(input));
  out.flush = await api.flush(30000);
  out.status = api.status();
  api.shutdown();
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

let bun, app, pkgDir, binDir;

before(() => {
  for (const [file, pkg] of [
    [QEMU, 'qemu-user-static'],
    [LOADER, 'libc6:arm64'],
    ['/usr/lib/aarch64-linux-gnu/libcurl.so.4', 'libcurl4:arm64'],
    ['/lib/aarch64-linux-gnu/libz.so.1', 'zlib1g:arm64'],
  ])
    assert.ok(fs.existsSync(file), `${file} is missing: bash test/ensure-deps.sh installs ${pkg}`);
  bun = aarch64Bun();
  binDir = barePath();
  app = tempDir('oat-arm64-');
  pkgDir = install(app, pack().tarball, { binDir });
  fs.writeFileSync(path.join(app, 'scenario.js'), SCENARIO);
});

test('on linux-arm64, the real aarch64 Bun loads the packed prebuild and exports a closed turn to the receiver', async () => {
  const receiver = await startReceiver();
  try {
    const r = await runProcess(QEMU, ['-L', '/', bun, path.join(app, 'scenario.js')], {
      cwd: app,
      env: userEnv(tempDir('oat-home-'), binDir, { PHOENIX_ENDPOINT: receiver.url }),
      input: JSON.stringify(payload(FIXTURE)),
      timeoutMs: 180000,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.runtime, 'bun');
    assert.equal(out.arch, 'arm64', 'Bun runs as an aarch64 process');
    assert.equal(out.status.binary, path.join(fs.realpathSync(pkgDir), 'prebuilds/linux-arm64/node.napi.node'));
    assert.equal(out.reconcile.spans, 4);
    assert.equal(out.reconcile.error, undefined);
    assert.deepEqual(out.flush, { exported: 4, pending: 0, dropped: 0 });
    assert.deepEqual(
      receiver
        .spans()
        .map((s) => s.name)
        .sort(),
      ['LLM: m1', 'LLM: m1', 'Turn', 'bash'],
    );
  } finally {
    await receiver.close();
  }
});
