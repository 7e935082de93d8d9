'use strict';
// linux-arm64-musl (Alpine on aarch64) as its users get it: the packed tarball installed with
// scripts off, loaded by the real aarch64 musl Bun (npm @oven/bun-linux-aarch64-musl) under
// qemu-aarch64-static, through Debian's musl:arm64 loader (test/helpers/musl.js: the stand-in
// for Alpine's libstdc++, musl libcurl and zlib built for aarch64 with zig). The package must
// pick its aarch64 musl core by itself, reconcile a recorded OpenCode turn and export it over
// real HTTP to the receiver on 127.0.0.1. Bun is slow under qemu: one run.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { payload } = require('./helpers/fixtures.js');
const { NAME, tempDir, pack, install, barePath, userEnv, runProcess } = require('./helpers/package.js');
const { muslBun } = require('./helpers/musl.js');

const FIXTURE = 'one-bash-call/snap-3-session.idle.json';

const SCENARIO = `
const api = require(require.resolve(${JSON.stringify(NAME)}, { paths: [process.cwd()] }));
(async () => {
  const input = require('node:fs').readFileSync(0, 'utf8');
  const out = { runtime: process.versions.bun ? 'bun' : 'node', arch: process.arch };
  out.reconcile = api.reconcile(JSON.parse(input));
  out.flush = await api.flush(60000);
  out.status = api.status();
  api.shutdown();
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(1); });
`;

let musl, app, pkgDir, binDir;

before(async () => {
  musl = await muslBun('arm64');
  if (musl.skip) return;
  binDir = barePath();
  app = tempDir('oat-arm64-musl-');
  pkgDir = install(app, pack().tarball, { binDir });
  fs.writeFileSync(path.join(app, 'scenario.js'), SCENARIO);
});

test('on linux-arm64-musl, the real aarch64 musl Bun loads the packed core by itself and exports a recorded turn', async (t) => {
  if (musl.skip) return t.skip(musl.skip);
  const receiver = await startReceiver();
  try {
    const [cmd, args] = musl.command([path.join(app, 'scenario.js')]);
    const r = await runProcess(cmd, args, {
      cwd: app,
      env: userEnv(tempDir('oat-home-'), binDir, musl.env({ PHOENIX_ENDPOINT: receiver.url })),
      input: JSON.stringify(payload(FIXTURE)),
      timeoutMs: 300000,
    });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.runtime, 'bun');
    assert.equal(out.arch, 'arm64', 'Bun runs as an aarch64 process');
    assert.equal(out.status.binary, path.join(fs.realpathSync(pkgDir), 'prebuilds/linux-arm64-musl/node.napi.node'));
    assert.equal(out.reconcile.spans, 4);
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
