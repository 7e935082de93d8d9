'use strict';
// linux-x64-musl (Alpine) as its users get it: the packed tarball installed with scripts off,
// loaded by the real musl Bun (npm @oven/bun-linux-x64-musl, started by the kernel through
// /lib/ld-musl-x86_64.so.1 exactly as on Alpine; test/helpers/musl.js says what stands in for
// Alpine's libstdc++ and libcurl). The package must pick its musl core by itself (the C
// library is detected, never guessed), reconcile a recorded OpenCode turn and export it over
// real HTTP to the receiver on 127.0.0.1; a process killed with SIGKILL leaves its spans in
// the spool, and the next start sends them; two processes at once each deliver theirs, once.
// Without libcurl (Alpine's base image has none) the core still loads and traces into the
// spool, says once what to install, and a start with libcurl sends what was kept.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startReceiver } = require('./receiver.js');
const { payload, variant } = require('./helpers/fixtures.js');
const { NAME, tempDir, pack, install, barePath, userEnv, runProcess } = require('./helpers/package.js');
const { muslBun } = require('./helpers/musl.js');

const FIXTURE = 'one-bash-call/snap-3-session.idle.json';
const SPANS = ['LLM: m1', 'LLM: m1', 'Turn', 'bash'];

// stdin: {payloads: [...], durable: bool, flush: ms, hold: bool}. Prints one JSON line; with
// hold, stays alive after it (the test kills it).
const SCENARIO = `
const fs = require('node:fs');
const api = require(require.resolve(${JSON.stringify(NAME)}, { paths: [process.cwd()] }));
(async () => {
  const job = JSON.parse(fs.readFileSync(0, 'utf8'));
  const out = { runtime: process.versions.bun ? 'bun' : 'node', arch: process.arch, spans: 0 };
  for (const p of job.payloads || []) out.spans += api.reconcile(p).spans;
  if (job.durable) {
    const until = Date.now() + 30000;
    while (api.status().counters.spans_memory_only > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }
  if (job.flush) out.flush = await api.flush(job.flush);
  out.status = api.status();
  process.stdout.write(JSON.stringify(out) + '\\n');
  if (job.hold) return setInterval(() => {}, 1000);
  api.shutdown();
})().catch((e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(1); });
`;

let musl, app, pkgDir, binDir, script;

before(async () => {
  musl = await muslBun('x64');
  if (musl.skip) return;
  binDir = barePath();
  app = tempDir('oat-musl-');
  pkgDir = install(app, pack().tarball, { binDir });
  script = path.join(app, 'scenario.js');
  fs.writeFileSync(script, SCENARIO);
});

function env(home, extra = {}) {
  return userEnv(home, binDir, musl.env(extra));
}

async function bun(job, environment) {
  const [cmd, args] = musl.command([script]);
  const r = await runProcess(cmd, args, { cwd: app, env: environment, input: JSON.stringify(job), timeoutMs: 120000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function spoolFiles(home) {
  const root = path.join(home, '.arize', 'harness', 'spool');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true }).filter((f) => String(f).endsWith('.spool'));
}

const skip = () => musl && musl.skip;
const spanNames = (receiver) =>
  receiver
    .spans()
    .map((s) => s.name)
    .sort();

test('the musl Bun loads the packed linux-x64-musl core by itself and exports a recorded turn', async (t) => {
  if (skip()) return t.skip(musl.skip);
  const receiver = await startReceiver();
  try {
    const out = await bun(
      { payloads: [payload(FIXTURE)], flush: 30000 },
      env(tempDir('oat-home-'), { PHOENIX_ENDPOINT: receiver.url }),
    );
    assert.equal(out.runtime, 'bun');
    assert.equal(out.arch, 'x64');
    assert.equal(out.status.binary, path.join(fs.realpathSync(pkgDir), 'prebuilds/linux-x64-musl/node.napi.node'));
    assert.equal(out.spans, 4);
    assert.deepEqual(out.flush, { exported: 4, pending: 0, dropped: 0 });
    assert.deepEqual(spanNames(receiver), SPANS);
  } finally {
    await receiver.close();
  }
});

test('on musl, a process killed with SIGKILL before sending loses nothing: the next start sends its spool', async (t) => {
  if (skip()) return t.skip(musl.skip);
  const home = tempDir('oat-home-');
  // no backend yet: the spans wait in the spool; the process is killed once they are on disk
  const [cmd, args] = musl.command([script]);
  const child = spawn(cmd, args, { cwd: app, env: env(home), stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(JSON.stringify({ payloads: [payload(FIXTURE)], durable: true, hold: true }));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('\n')) resolve();
    });
    child.on('exit', () => reject(new Error(`exited before it held its spans: ${stderr}`)));
  });
  const first = JSON.parse(stdout);
  assert.equal(first.spans, 4);
  assert.equal(first.status.counters.spans_memory_only, 0, 'every span was on disk');
  const gone = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal)));
  child.kill('SIGKILL');
  assert.equal(await gone, 'SIGKILL');
  assert.ok(spoolFiles(home).length > 0, 'the spool holds them');
  const receiver = await startReceiver();
  try {
    // the next start sees the same turn again: known, not emitted twice; the spool goes out
    const next = await bun(
      { payloads: [payload(FIXTURE)], flush: 30000 },
      env(home, { PHOENIX_ENDPOINT: receiver.url }),
    );
    assert.equal(next.spans, 0, 'the state knew them');
    assert.equal(next.status.counters.spans_restored, 4);
    assert.deepEqual(next.flush, { exported: 4, pending: 0, dropped: 0 });
    const ids = receiver.spans().map((s) => s.spanId);
    assert.equal(new Set(ids).size, 4, 'each span once');
    assert.deepEqual(spoolFiles(home), [], 'the spool is empty once the backend has everything');
  } finally {
    await receiver.close();
  }
});

test('on musl, two processes at once in one home each deliver their own turns, once', async (t) => {
  if (skip()) return t.skip(musl.skip);
  const home = tempDir('oat-home-');
  const receiver = await startReceiver();
  try {
    const base = payload(FIXTURE);
    const e = env(home, { PHOENIX_ENDPOINT: receiver.url });
    const [a, b] = await Promise.all([
      bun({ payloads: [variant(base, 1), variant(base, 2)], flush: 30000 }, e),
      bun({ payloads: [variant(base, 3), variant(base, 4)], flush: 30000 }, e),
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

test('the C library is detected, not guessed: glibc under Node and Bun, musl under the musl Bun', async (t) => {
  if (skip()) return t.skip(musl.skip);
  const probe = `const b = require(${JSON.stringify(path.join(fs.realpathSync(pkgDir), 'lib', 'binary.js'))});
    console.log(JSON.stringify({ libc: b.linuxLibc(), keys: b.platformKeys(), interp: b.elfInterpreter(process.execPath) }))`;
  const seen = {};
  for (const [name, [cmd, args], extra] of [
    ['node', [path.join(binDir, 'node'), ['-e', probe]], {}],
    ['bun', [path.join(binDir, 'bun'), ['-e', probe]], {}],
    ['musl bun', musl.command(['-e', probe]), musl.env()],
  ]) {
    const r = await runProcess(cmd, args, { cwd: app, env: userEnv(tempDir('oat-home-'), binDir, extra) });
    assert.equal(r.code, 0, r.stderr);
    seen[name] = JSON.parse(r.stdout);
  }
  assert.deepEqual(seen.node.keys, ['linux-x64']);
  assert.equal(seen.node.libc, 'glibc');
  assert.deepEqual(seen.bun.keys, ['linux-x64']);
  assert.equal(seen.bun.libc, 'glibc');
  assert.deepEqual(seen['musl bun'].keys, ['linux-x64-musl']);
  assert.equal(seen['musl bun'].libc, 'musl');
  assert.equal(seen['musl bun'].interp, '/lib/ld-musl-x86_64.so.1');
  assert.match(seen.node.interp, /\/ld-linux-x86-64\.so\.2$/);
});

test('on musl without libcurl, tracing runs into the spool, one line says what to install (apk add libcurl), and a start with it sends everything', async (t) => {
  if (skip()) return t.skip(musl.skip);
  // Alpine's base image: everything the musl Bun needs, but no libcurl. The core does not link
  // it (the exporter's thread loads it when it first sends), so the core still loads
  const lib = tempDir('oat-nocurl-');
  for (const f of fs.readdirSync(musl.lib))
    if (!f.startsWith('libcurl')) fs.symlinkSync(fs.realpathSync(path.join(musl.lib, f)), path.join(lib, f));
  const home = tempDir('oat-home-');
  const receiver = await startReceiver();
  try {
    const without = await bun(
      { payloads: [payload(FIXTURE)], durable: true, flush: 2000 },
      env(home, { PHOENIX_ENDPOINT: receiver.url, LD_LIBRARY_PATH: lib }),
    );
    assert.equal(without.status.binary, path.join(fs.realpathSync(pkgDir), 'prebuilds/linux-x64-musl/node.napi.node'));
    assert.equal(without.spans, 4, 'the turn is traced');
    assert.equal(without.flush.exported, 0);
    assert.equal(without.flush.pending, 4, 'nothing is dropped: the spans wait');
    assert.ok(spoolFiles(home).length > 0, 'the spool holds them');
    assert.equal(receiver.spans().length, 0);
    const log = fs.readFileSync(path.join(home, '.arize', 'harness', 'logs', 'opencode.log'), 'utf8');
    const errors = log.split('\n').filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, 1, log);
    assert.match(
      errors[0],
      /ERROR cannot send spans: the system library libcurl is missing \(.*libcurl\.so\.4.*; install it: apk add libcurl\); they stay queued and in the spool/,
    );
    assert.match(log, /exit: 4 spans .* stay in the spool for the next start \(the system library libcurl is missing/);
    // libcurl installed: the next start sends what the first one kept, each span once
    const next = await bun(
      { payloads: [payload(FIXTURE)], flush: 30000 },
      env(home, { PHOENIX_ENDPOINT: receiver.url }),
    );
    assert.equal(next.spans, 0, 'the state knew them');
    assert.deepEqual(next.flush, { exported: 4, pending: 0, dropped: 0 });
    assert.deepEqual(spanNames(receiver), SPANS);
    assert.deepEqual(spoolFiles(home), []);
  } finally {
    await receiver.close();
  }
});
