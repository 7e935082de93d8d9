'use strict';
// The package as users install it (issue 6): `npm pack`, installed with install scripts off
// into an empty directory where PATH holds node and bun only; loaded under Node and Bun; as
// OpenCode installs a plugin; and, where the package has no prebuild for the platform, the
// release binary downloaded from a local server, verified and cached.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { payload } = require('./helpers/fixtures.js');
const { ROOT, BUN, NAME, tempDir, pack, install, barePath, userEnv, runProcess } = require('./helpers/package.js');
const { TARGETS } = require('../native/prebuild/targets.js');

const FIXTURE = 'one-bash-call/snap-3-session.idle.json';

// Runs in the user's directory: loads the package by name, reconciles stdin's payload,
// flushes, prints what happened.
const SCENARIO = `
const api = require(require.resolve(${JSON.stringify(NAME)}, { paths: [process.cwd()] }));
(async () => {
  const input = require('node:fs').readFileSync(0, 'utf8');
  const out = { runtime: process.versions.bun ? 'bun' : 'node' };
  if (input) ({ watermark: out.watermark, ...out.reconcile } = api.reconcile(JSON.parse(input)));
  if (input) out.flush = await api.flush(10000);
  out.status = api.status();
  const esm = await import(${JSON.stringify(NAME)});
  out.esmServer = typeof esm.default.server;
  api.shutdown();
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

let app, pkgDir, binDir, scenarioFile;

before(() => {
  app = tempDir('oat-app-');
  binDir = barePath();
  pkgDir = install(app, pack().tarball, { binDir });
  scenarioFile = path.join(app, 'scenario.js');
  fs.writeFileSync(scenarioFile, SCENARIO);
});

async function scenario(runtime, env, input = '') {
  const r = await runProcess(runtime, [scenarioFile], { cwd: app, env, input });
  if (r.code !== 0) return { failed: true, ...r };
  return JSON.parse(r.stdout);
}

test('the tarball holds what runs and no install script; its size is reported', () => {
  const { files, bytes, unpacked } = pack();
  for (const f of [
    'package.json',
    'lib/index.js',
    'lib/index.mjs',
    'lib/index.d.ts',
    'lib/native.js',
    'lib/binary.js',
    'lib/cli.js',
    'plugin/index.mjs',
    'plugin/live.mjs',
    'plugin/arize-tracing.ts',
    ...Object.keys(TARGETS).map((key) => `prebuilds/${key}/node.napi.node`),
    'prebuilds/manifest.json',
    'native/sources.js',
    'binding.gyp',
    'native/config.c',
    'native/nodedir/include/node/node_api.h',
    'native/nodedir/prepare.js',
  ])
    assert.ok(files.includes(f), `${f} is packed`);
  for (const f of files)
    assert.doesNotMatch(f, /^(test|build|node_modules|\.ci|native\/prebuild|native\/proto)\//, `${f} is not packed`);
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare'])
    assert.equal(pkg.scripts?.[s], undefined, `no ${s} script`);
  assert.equal(pkg.gypfile, false);
  assert.deepEqual(Object.keys(pkg.dependencies), ['node-gyp-build']);
  assert.equal(pkg.bin[NAME], 'lib/cli.js');
  const sizes = Object.keys(TARGETS).map(
    (key) => `${key} ${fs.statSync(path.join(pkgDir, 'prebuilds', key, 'node.napi.node')).size}`,
  );
  console.log(`# npm pack: ${bytes} bytes packed, ${unpacked} unpacked; cores (bytes): ${sizes.join(', ')}`);
  // seven stripped cores are ~95 % of it (2.1 MB packed with several destinations); a debug
  // core, a source map or node_modules slipped in would cross this at once
  assert.ok(bytes < 2.5 * 1024 * 1024, `the tarball stays small (${bytes} bytes)`);
});

for (const [key, target] of Object.entries(TARGETS)) {
  test(
    `the bundled ${key} prebuild is built for ${key}, exports only the Node-API entry points, needs only its platform's system libraries, and is in the manifest`,
    { skip: !hasTool('readelf') && 'no binutils here' },
    () => {
      const { inspect, check, describe } = require('../native/prebuild/prebuild.js');
      const file = path.join(ROOT, 'prebuilds', key, 'node.napi.node');
      const info = inspect(file, key);
      assert.equal(info.machine, target.machine);
      assert.deepEqual(check(info, key), []);
      assert.deepEqual(info.exported.sort(), ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
      if (target.format === 'pe')
        // Windows has no libcurl for programs: it is linked in, and only system DLLs are imported
        assert.ok(!info.needed.some((lib) => /curl|libwinpthread|libgcc|\.\.\/|^lib/i.test(lib)), info.needed.join());
      // elsewhere libcurl is the system's, loaded by the exporter's thread when it first sends
      // (native/http.c): not linked, so the core's load does not load it on OpenCode's thread
      else assert.ok(!info.needed.some((lib) => /curl/i.test(lib)), info.needed.join());
      for (const lib of info.needed) assert.doesNotMatch(lib, /jansson|yaml|protobuf/, `${lib}: linked in statically`);
      if (target.libc === 'musl') assert.equal(info.maxGlibc, undefined, 'no glibc symbol version');
      console.log(`# ${describe(info)}`);
      const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'prebuilds', 'manifest.json'), 'utf8'));
      assert.equal(
        manifest.binaries[key].sha256,
        crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'),
        'prebuilds/manifest.json describes the bundled file (run `npm run release`)',
      );
      assert.equal(manifest.binaries[key].bundled, `${key}/node.napi.node`);
    },
  );
}

test('the bare PATH has no compiler, make or python', () => {
  for (const tool of ['cc', 'gcc', 'clang', 'make', 'python3', 'node-gyp'])
    assert.equal(fs.existsSync(path.join(binDir, tool)), false);
  assert.deepEqual(fs.readdirSync(binDir).sort(), ['bun', 'node']);
  assert.equal(fs.existsSync(path.join(pkgDir, 'build')), false, 'nothing was compiled at install');
});

for (const runtime of ['node', 'bun']) {
  test(`installed without scripts or a compiler, it loads its prebuild under ${runtime} and exports a turn`, async () => {
    const receiver = await startReceiver();
    try {
      const out = await scenario(
        path.join(binDir, runtime),
        userEnv(tempDir('oat-home-'), binDir, { PHOENIX_ENDPOINT: receiver.url }),
        JSON.stringify(payload(FIXTURE)),
      );
      assert.ok(!out.failed, out.stderr);
      assert.equal(out.runtime, runtime);
      assert.equal(out.status.binary, path.join(fs.realpathSync(pkgDir), 'prebuilds/linux-x64/node.napi.node'));
      assert.deepEqual(out.reconcile, { spans: 4 });
      assert.deepEqual(out.flush, { exported: 4, pending: 0, dropped: 0 });
      assert.deepEqual(
        receiver
          .spans()
          .map((s) => s.name)
          .sort(),
        ['LLM: m1', 'LLM: m1', 'Turn', 'bash'],
      );
      assert.equal(out.esmServer, 'function');
    } finally {
      await receiver.close();
    }
  });
}

test('installed the way OpenCode installs a plugin (name@file:tarball, scripts off), Bun loads plugin and core', async () => {
  const home = tempDir('oat-home-');
  const spec = `${NAME}@file:${pack().tarball}`;
  // OpenCode: ~/.cache/opencode/packages/<spec>/node_modules/<name>, installed with ignoreScripts
  const dir = path.join(home, '.cache', 'opencode', 'packages', spec.replace(/[^\w@.-]+/g, '_'));
  const pkg = install(dir, spec, { binDir });
  const script = path.join(home, 'load.mjs');
  fs.writeFileSync(
    script,
    `
    import { createRequire } from 'node:module';
    const server = await import(${JSON.stringify(path.join(pkg, 'plugin', 'index.mjs'))});
    const entry = await import(${JSON.stringify(pkg + '/lib/index.mjs')});
    const api = createRequire(import.meta.url)(${JSON.stringify(pkg)});
    console.log(JSON.stringify({ plugin: typeof server.ArizeTracing, entry: typeof entry.default.server,
      binary: api.status().binary, state: api.status().state }));
  `,
  );
  const r = await runProcess(path.join(binDir, 'bun'), [script], { env: userEnv(home, binDir) });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.plugin, 'function');
  assert.equal(out.entry, 'function');
  assert.equal(out.binary, path.join(fs.realpathSync(pkg), 'prebuilds/linux-x64/node.napi.node'));
  assert.equal(out.state, 'no-backend');
});

// ---- platforms without a bundled prebuild: the release binary -------------------------------

// A pretend platform that has no bundled prebuild (linux-x64 and linux-arm64 both have one).
const FAKE = 'linux-ppc64';
const RELEASE_FILE = `${NAME}-v0.0.0-test-${FAKE}.node`;
let server,
  serverUrl,
  served = {};
const held = [];

before(async () => {
  // The real prebuild stands in for another platform's release file.
  const bytes = fs.readFileSync(path.join(pkgDir, 'prebuilds/linux-x64/node.napi.node'));
  served = { good: bytes, held: bytes, bad: Buffer.concat([bytes, Buffer.from('tampered')]) };
  server = http.createServer((req, res) => {
    const [, kind, file] = req.url.split('/');
    if (file !== RELEASE_FILE || !served[kind]) {
      res.writeHead(404).end('not found');
      return;
    }
    served.requests = (served.requests || 0) + 1;
    if (kind === 'held') return held.push(res); // answered when the test says so
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(served[kind]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${server.address().port}`;
  const manifestFile = path.join(pkgDir, 'prebuilds', 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  manifest.binaries[FAKE] = {
    file: RELEASE_FILE,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
  };
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
});

after(() => server && server.close());

// A user's process on the fake platform: node-gyp-build is told the same (npm_config_arch).
function fakePlatformEnv(home, host, extra = {}) {
  return userEnv(
    home,
    binDir,
    Object.assign({ ARIZE_TRACING_PLATFORM: FAKE, npm_config_arch: 'ppc64', ARIZE_TRACING_BINARY_HOST: host }, extra),
  );
}

const cacheFile = (home) =>
  path.join(home, '.cache', NAME, JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'))).version, RELEASE_FILE);

for (const runtime of ['node', 'bun']) {
  test(`under ${runtime}, where no prebuild fits, the release binary is downloaded, verified, cached and loaded`, async () => {
    const home = tempDir('oat-home-');
    const before = served.requests || 0;
    const first = await scenario(path.join(binDir, runtime), fakePlatformEnv(home, `${serverUrl}/good`));
    assert.ok(!first.failed, first.stderr);
    assert.equal(first.status.binary, cacheFile(home));
    assert.equal(served.requests - before, 1);
    assert.deepEqual(fs.readdirSync(path.dirname(cacheFile(home))), [RELEASE_FILE], 'no temporary file left');
    // later starts: from the cache, no request (the host is unreachable now)
    const again = await scenario(path.join(binDir, runtime), fakePlatformEnv(home, 'http://127.0.0.1:9'));
    assert.ok(!again.failed, again.stderr);
    assert.equal(again.status.binary, cacheFile(home));
    assert.equal(served.requests - before, 1);
  });
}

for (const runtime of ['node', 'bun']) {
  test(`under ${runtime}, loaded by the plugin, a release binary still to be downloaded is fetched in the background, never waited for`, async () => {
    const home = tempDir('oat-home-');
    const plugin = `globalThis[Symbol.for('opencode-arize-tracing.background-download')] = true;
      try { require('${NAME}'); console.log(JSON.stringify({ loaded: true })); }
      catch (error) { console.log(JSON.stringify({ error: error.message })); }`;
    // the server holds the download: a load that waited for it could not return
    const r = await runProcess(path.join(binDir, runtime), ['-e', plugin], {
      cwd: app,
      env: fakePlatformEnv(home, `${serverUrl}/held`),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(JSON.parse(r.stdout).error, /being downloaded in the background .*tracing starts with the next start/);
    for (let i = 0; i < 200 && held.length === 0; i++) await new Promise((done) => setTimeout(done, 50));
    assert.equal(held.length, 1, 'the download went on after the load returned');
    assert.equal(fs.existsSync(cacheFile(home)), false);
    held.shift().writeHead(200, { 'content-type': 'application/octet-stream' }).end(served.held);
    for (let i = 0; i < 200 && !fs.existsSync(cacheFile(home)); i++) await new Promise((done) => setTimeout(done, 50));
    assert.ok(fs.existsSync(cacheFile(home)), 'the background download completed into the cache');
    const next = await scenario(path.join(binDir, runtime), fakePlatformEnv(home, 'http://127.0.0.1:9'));
    assert.ok(!next.failed, next.stderr);
    assert.equal(next.status.binary, cacheFile(home), 'the next start loads it');
  });
}

test('by default the release binary comes from the GitHub release of this version; ARIZE_TRACING_BINARY_HOST overrides it', () => {
  const binary = require(path.join(pkgDir, 'lib', 'binary.js'));
  const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
  const github = `https://github.com/arize-ai/opencode-arize-tracing/releases/download/v${version}`;
  const home = tempDir('oat-home-');
  assert.equal(binary.releaseFor({ HOME: home, ARIZE_TRACING_PLATFORM: FAKE }).host, github);
  assert.equal(
    binary.releaseFor({ HOME: home, ARIZE_TRACING_PLATFORM: FAKE, ARIZE_TRACING_BINARY_HOST: `${serverUrl}/good/` })
      .host,
    `${serverUrl}/good`,
  );
  assert.equal(
    binary.releaseFor({ HOME: home, ARIZE_TRACING_PLATFORM: FAKE, ARIZE_TRACING_BINARY_HOST: 'off' }).host,
    '',
  );
  // a manifest without a host (older releases) still points at the GitHub release
  const manifestFile = path.join(pkgDir, 'prebuilds', 'manifest.json');
  const saved = fs.readFileSync(manifestFile, 'utf8');
  try {
    fs.writeFileSync(manifestFile, JSON.stringify({ ...JSON.parse(saved), host: '' }));
    assert.equal(binary.releaseFor({ HOME: home, ARIZE_TRACING_PLATFORM: FAKE }).host, github);
  } finally {
    fs.writeFileSync(manifestFile, saved);
  }
});

test('a download that does not match its SHA-256 is refused, and nothing of it is kept', async () => {
  const home = tempDir('oat-home-');
  const out = await scenario('node', fakePlatformEnv(home, `${serverUrl}/bad`));
  assert.ok(out.failed);
  assert.match(out.stderr, /cannot load its native core for linux-ppc64/);
  assert.match(
    out.stderr,
    /does not match its checksum \(expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}\); nothing was kept/,
  );
  const dir = path.dirname(cacheFile(home));
  assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], []);
});

test('a failed download says so, names every file tried and the fix', async () => {
  const home = tempDir('oat-home-');
  const out = await scenario('node', fakePlatformEnv(home, `${serverUrl}/missing`));
  assert.ok(out.failed);
  assert.match(out.stderr, /prebuilds\/linux-ppc64\/node\.napi\.node: no prebuild bundled for linux-ppc64/);
  assert.match(out.stderr, /node-gyp-build .*No native build was found for platform=linux arch=ppc64/);
  assert.match(out.stderr, new RegExp(`${RELEASE_FILE}: download of .*/missing/${RELEASE_FILE} failed: HTTP 404`));
  assert.match(out.stderr, /npx opencode-arize-tracing fetch-binary/);
  assert.match(out.stderr, /npm run build --prefix/);
  const dir = path.dirname(cacheFile(home));
  assert.deepEqual(fs.existsSync(dir) ? fs.readdirSync(dir) : [], []);
});

test('a cached file that no longer matches the manifest is not loaded', async () => {
  const home = tempDir('oat-home-');
  fs.mkdirSync(path.dirname(cacheFile(home)), { recursive: true });
  fs.writeFileSync(cacheFile(home), served.bad);
  const out = await scenario('node', fakePlatformEnv(home, `${serverUrl}/good`));
  assert.ok(out.failed);
  assert.match(out.stderr, /does not match the SHA-256 in prebuilds\/manifest\.json; delete it/);
});

test('`opencode-arize-tracing fetch-binary` downloads the release binary ahead of time', async () => {
  const home = tempDir('oat-home-');
  const cli = path.join(app, 'node_modules', '.bin', NAME);
  const r = await runProcess(path.join(binDir, 'node'), [cli, 'fetch-binary'], {
    env: fakePlatformEnv(home, `${serverUrl}/good`),
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `downloaded: ${cacheFile(home).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(linux-ppc64, sha256 verified\\)`,
    ),
  );
  assert.equal(
    crypto
      .createHash('sha256')
      .update(fs.readFileSync(cacheFile(home)))
      .digest('hex'),
    crypto.createHash('sha256').update(served.good).digest('hex'),
  );
  const bad = await runProcess(path.join(binDir, 'node'), [cli, 'fetch-binary'], {
    env: fakePlatformEnv(tempDir('oat-home-'), `${serverUrl}/bad`),
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /does not match its checksum/);
  const plain = await runProcess(path.join(binDir, 'node'), [cli, 'fetch-binary'], {
    env: fakePlatformEnv(tempDir('oat-home-'), 'http://example.com/x'),
  });
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /refusing to download over http: from example\.com: use https/);
});

test('with no prebuild, no release binary and no build, the error names what was tried and how to build', async () => {
  const out = await scenario(
    'node',
    userEnv(tempDir('oat-home-'), binDir, { ARIZE_TRACING_PLATFORM: 'linux-riscv64', npm_config_arch: 'riscv64' }),
  );
  assert.ok(out.failed);
  assert.match(out.stderr, /cannot load its native core for linux-riscv64/);
  assert.match(out.stderr, /prebuilds\/linux-riscv64\/node\.napi\.node: no prebuild bundled for linux-riscv64/);
  assert.match(out.stderr, /build it from source \(needs a C compiler/);
});

test('where no core loads, status still answers: no-core, exit code 2, and why (text and --json)', async () => {
  // it failed instead, exit 1 with the loader's first line only, and --json printed nothing
  const cli = path.join(app, 'node_modules', '.bin', NAME);
  const env = userEnv(tempDir('oat-home-'), binDir, {
    ARIZE_TRACING_PLATFORM: 'linux-riscv64',
    npm_config_arch: 'riscv64',
  });
  const text = await runProcess(path.join(binDir, 'node'), [cli, 'status'], { env });
  assert.equal(text.code, 2, text.stderr);
  assert.match(
    text.stdout,
    /^state: +no-core: .*cannot load its native core for linux-riscv64: .*no prebuild bundled for linux-riscv64/m,
  );
  assert.match(text.stdout, /^health: +not working \(exit code 2\)$/m);
  const json = await runProcess(path.join(binDir, 'node'), [cli, 'status', '--json'], { env });
  assert.equal(json.code, 2, json.stderr);
  const s = JSON.parse(json.stdout);
  assert.equal(s.state, 'no-core');
  assert.equal(s.exit_code, 2);
  assert.equal(s.binary, null);
});

test(
  'a shared library the core needs but the system lacks is named as such',
  { skip: !hasCompiler() && 'no C compiler here' },
  async () => {
    const dir = tempDir('oat-lib-');
    fs.writeFileSync(path.join(dir, 'a.c'), 'int oat_missing_dep(void) { return 1; }\n');
    fs.writeFileSync(
      path.join(dir, 'b.c'),
      'int oat_missing_dep(void); int oat_use(void) { return oat_missing_dep(); }\n',
    );
    execFileSync('cc', [
      '-shared',
      '-fPIC',
      '-Wl,-soname,libz.so.99',
      '-o',
      path.join(dir, 'libz.so'),
      path.join(dir, 'a.c'),
    ]);
    execFileSync('cc', [
      '-shared',
      '-fPIC',
      '-o',
      path.join(dir, 'core.node'),
      path.join(dir, 'b.c'),
      `-L${dir}`,
      '-lz',
      '-Wl,--no-as-needed',
    ]);
    fs.rmSync(path.join(dir, 'libz.so'));
    const out = await scenario(
      'node',
      userEnv(tempDir('oat-home-'), binDir, {
        ARIZE_TRACING_NATIVE: path.join(dir, 'core.node'),
        ARIZE_TRACING_PLATFORM: 'linux-riscv64',
        npm_config_arch: 'riscv64',
      }),
    );
    assert.ok(out.failed);
    assert.match(
      out.stderr,
      /core\.node \(ARIZE_TRACING_NATIVE\): the system library libz\.so\.99 is missing \(install it: apt-get install zlib1g/,
    );
  },
);

function hasTool(name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function hasCompiler() {
  return hasTool('cc');
}

test(
  'a source build from the tarball works offline without node-api-headers',
  { skip: !hasCompiler() && 'no C compiler here' },
  async () => {
    // A user's fallback where no binary fits: `npm run build` in the installed package. npm's
    // bundled node-gyp builds it; the Node-API headers come from the package itself.
    const dir = tempDir('oat-src-');
    const pkg = install(dir, pack().tarball, { binDir });
    assert.equal(fs.existsSync(path.join(dir, 'node_modules', 'node-api-headers')), false);
    const r = await runProcess(
      process.execPath,
      [require('./helpers/package.js').npmCli(), 'run', 'build', '--prefix', pkg, '--offline'],
      { env: process.env, timeoutMs: 240000 },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const built = path.join(pkg, 'build', 'Release', 'arize_tracing.node');
    assert.ok(fs.existsSync(built));
    fs.rmSync(path.join(pkg, 'prebuilds', 'linux-x64'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'scenario.js'), SCENARIO);
    const loaded = await runProcess(path.join(binDir, 'node'), [path.join(dir, 'scenario.js')], {
      cwd: dir,
      env: userEnv(tempDir('oat-home-'), binDir),
    });
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(JSON.parse(loaded.stdout).status.binary, fs.realpathSync(built));
  },
);
