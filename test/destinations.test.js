'use strict';
// Several destinations from one spool (issue 27 stage 2): the single-backend settings stay the
// first destination, harnesses.opencode.destinations adds more; each gets every span once, one
// down or refusing its key never holds the other back, and a kill -9 in the middle of export
// neither loses nor doubles a span for either. Real processes of the runtime running this file
// (Node under `node --test`, Bun under `bun test`), real files, two receivers on 127.0.0.1.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const { startReceiver, deliveries } = require('./receiver.js');
const { tempHome, cleanEnv, run, ROOT } = require('./helpers/run.js');

const MAIN = 'main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json';
const PER = 15; // spans of MAIN; each variant is a distinct session
const FAST = { ARIZE_RETRY_INITIAL_MS: '50', ARIZE_RETRY_MAX_MS: '300', OTEL_EXPORTER_OTLP_TIMEOUT: '3000' };

const scenario = (steps, env, options) => run('api-scenario.js', { steps }, cleanEnv(env), options);

// A home whose config sends to `first` (the single-backend keys) and to the destination `second`.
function homeWith(first, second, extra = '') {
  const home = tempHome();
  const dir = path.join(home, '.arize', 'harness');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.yaml'),
    `harnesses:\n  opencode:\n    target: phoenix\n    endpoint: ${first}\n    destinations:\n` +
      `      - name: second\n        target: phoenix\n        endpoint: ${second}\n${extra}`,
    { mode: 0o600 },
  );
  return home;
}

// A port nothing listens on (taken, then freed): connections to it are refused.
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const byName = (status) => Object.fromEntries(status.destinations.map((d) => [d.name, d]));

test('two destinations: every span arrives once at each, and status lists both without credentials', async () => {
  const a = await startReceiver();
  const b = await startReceiver();
  try {
    const home = homeWith(a.url, b.url, '        headers: {x-token: dest-secret-123}\n');
    const out = await scenario([{ fixture: MAIN, variants: 3, quiet: true }, { flush: 10000 }, { status: true }], {
      HOME: home,
      ...FAST,
    });
    assert.deepEqual(deliveries(a), { delivered: 3 * PER, duplicated: 0 });
    assert.deepEqual(deliveries(b), { delivered: 3 * PER, duplicated: 0 });
    const d = byName(out.steps[2].status);
    assert.deepEqual(Object.keys(d), ['default', 'second']);
    assert.equal(d.default.exported, 3 * PER);
    assert.equal(d.second.exported, 3 * PER);
    assert.equal(d.second.pending, 0);
    assert.equal(d.second.endpoint, `${b.url}/v1/traces`);
    assert.equal(d.second.paused, false);
    assert.doesNotMatch(JSON.stringify(out.steps[2].status), /dest-secret-123/);
  } finally {
    await a.close();
    await b.close();
  }
});

test('one destination down, then up: the other gets everything meanwhile, the first catches up after a restart, each span once', async () => {
  const a = await startReceiver();
  const port = await closedPort();
  const home = homeWith(a.url, `http://127.0.0.1:${port}`);
  let b;
  try {
    const first = await scenario([{ fixture: MAIN, variants: 2, quiet: true }, { flush: 4000 }, { status: true }], {
      HOME: home,
      ...FAST,
    });
    // the healthy one has everything although the other never answered
    assert.deepEqual(deliveries(a), { delivered: 2 * PER, duplicated: 0 });
    const d = byName(first.steps[2].status);
    assert.equal(d.default.pending, 0);
    assert.equal(d.second.pending, 2 * PER);
    assert.equal(d.second.status, 0, 'no answer: a network error');
    assert.equal(d.second.kept, true);
    // flush() answers what still waits in the spool: the down destination's spans (backfill prints it)
    assert.equal(first.steps[1].flush.pending, 2 * PER);
    // it comes up; the next process sends it what it missed, and the first one nothing again
    b = await startReceiver({ port });
    const second = await scenario([{ flush: 10000 }, { status: true }], { HOME: home, ...FAST });
    assert.deepEqual(deliveries(b), { delivered: 2 * PER, duplicated: 0 });
    assert.deepEqual(deliveries(a), { delivered: 2 * PER, duplicated: 0 });
    const after = byName(second.steps[1].status);
    assert.equal(after.second.pending, 0);
    assert.equal(after.default.pending, 0);
  } finally {
    await a.close();
    if (b) await b.close();
  }
});

test('one destination refusing the key (401): the other is unaffected, the refused one is paused and says so', async () => {
  const a = await startReceiver();
  const b = await startReceiver({ respond: () => ({ status: 401, body: 'invalid api key' }) });
  try {
    const home = homeWith(a.url, b.url);
    const out = await scenario([{ fixture: MAIN, variants: 2, quiet: true }, { flush: 4000 }, { status: true }], {
      HOME: home,
      ...FAST,
    });
    assert.deepEqual(deliveries(a), { delivered: 2 * PER, duplicated: 0 });
    const d = byName(out.steps[2].status);
    assert.equal(d.default.pending, 0);
    assert.equal(d.default.paused, false);
    assert.equal(d.second.paused, true);
    assert.equal(d.second.key_refused, true);
    assert.equal(d.second.status, 401);
    assert.equal(d.second.pending, 2 * PER, 'kept for when the key is fixed');
    assert.equal(b.requests.length, 1, 'no retries against a refused key');
    // the log says which destination refused its key (with two, an unnamed line is a guess)
    const log = fs.readFileSync(path.join(home, '.arize', 'harness', 'logs', 'opencode.log'), 'utf8');
    assert.match(log, /ERROR destination second: backend refused the credentials with HTTP 401/);
    assert.doesNotMatch(log, /ERROR backend refused/, 'the first destination was never refused');
    // `status`, a process of its own reading what the tracing process left: one line per
    // destination, the refused one paused, and the exit code says a destination is not working
    const cli = (args) =>
      spawnSync(process.execPath, [path.join(ROOT, 'lib', 'cli.js'), ...args], {
        env: cleanEnv({ HOME: home }),
        cwd: home,
        encoding: 'utf8',
      });
    const json = cli(['status', '--json']);
    const st = JSON.parse(json.stdout);
    const dest = Object.fromEntries(st.destinations.map((x) => [x.name, x]));
    assert.equal(dest.second.state, 'refused');
    assert.equal(dest.second.paused, true);
    assert.equal(dest.second.pending, 2 * PER);
    assert.equal(dest.default.state, 'sending');
    assert.equal(dest.default.pending, 0);
    assert.equal(json.status, 2, 'a destination not working: exit 2');
    const text = cli(['status']);
    assert.match(text.stdout, /destinations: 2/);
    assert.match(
      text.stdout,
      /\n {2}second +phoenix +http:\/\/127\.0\.0\.1:\d+\/v1\/traces .*refused \(paused until the settings change\).*30 spans waiting/,
    );
    assert.match(text.stdout, /\n {2}default +phoenix .*sending; accepted: HTTP 200.*0 spans waiting/);
  } finally {
    await a.close();
    await b.close();
  }
});

test('kill -9 in the middle of export, then a restart: every span once per destination', async () => {
  let phase = 1;
  // the first destination takes two requests and leaves the third unanswered; the second takes
  // one and leaves the next unanswered: at the kill, each has a different part of the spool
  const a = await startReceiver({ hang: (r, i) => phase === 1 && i >= 2 });
  const b = await startReceiver({ hang: (r, i) => phase === 1 && i >= 1 });
  const home = homeWith(a.url, b.url);
  try {
    await scenario(
      [
        { fixture: MAIN, variants: 1, quiet: true, offset: 0 },
        { flush: 5000 },
        { fixture: MAIN, variants: 1, quiet: true, offset: 1 },
        { durable: 5000 },
        { sleep: 400 },
        { fixture: MAIN, variants: 1, quiet: true, offset: 2 },
        { durable: 5000 },
        { sleep: 600 },
        { kill: 'SIGKILL' },
      ],
      { HOME: home, ...FAST },
      { expectSignal: 'SIGKILL' },
    );
    const before = { a: deliveries(a).delivered, b: deliveries(b).delivered };
    assert.ok(
      before.a >= PER && before.b >= PER,
      `each had the first session before the kill (${JSON.stringify(before)})`,
    );
    phase = 2;
    const out = await scenario([{ flush: 10000 }, { status: true }], { HOME: home, ...FAST });
    assert.deepEqual(deliveries(a), { delivered: 3 * PER, duplicated: 0 });
    assert.deepEqual(deliveries(b), { delivered: 3 * PER, duplicated: 0 });
    const d = byName(out.steps[1].status);
    assert.equal(d.default.pending, 0);
    assert.equal(d.second.pending, 0);
    // nothing is left on disk: every file went once both had it
    const root = path.join(home, '.arize', 'harness', 'spool', 'opencode');
    const left = fs.existsSync(root)
      ? fs
          .readdirSync(root)
          .flatMap((dir) => fs.readdirSync(path.join(root, dir)).filter((f) => /\.(spool|done)$/.test(f)))
      : [];
    assert.deepEqual(left, []);
  } finally {
    await a.close();
    await b.close();
  }
});

test('install --add-destination appends a destination to the user file, echoes no secret, and the next run sends to it', async () => {
  const a = await startReceiver();
  const b = await startReceiver();
  try {
    const home = tempHome();
    const dir = path.join(home, '.arize', 'harness');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'config.yaml');
    const before = `# mine\nharnesses:\n  opencode:\n    target: phoenix\n    endpoint: ${a.url}\n    project_name: checkout-service\nlogging:\n  prompts: false\n`;
    fs.writeFileSync(file, before, { mode: 0o600 });
    const cli = (args) =>
      spawnSync(process.execPath, [path.join(ROOT, 'lib', 'cli.js'), ...args], {
        env: cleanEnv({ HOME: home, ARIZE_API_KEY: 'env-key-not-for-it' }),
        cwd: home,
        encoding: 'utf8',
      });
    const add = cli([
      'install',
      '--add-destination',
      'local',
      '--backend',
      'otlp',
      '--endpoint',
      b.url,
      '--header',
      'x-token=tok-secret-789',
      '--yes',
    ]);
    assert.equal(add.status, 0, add.stderr);
    assert.match(add.stdout, /harnesses\.opencode\.destinations: added local, OTLP at http:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(add.stdout + add.stderr, /tok-secret-789/);
    const after = fs.readFileSync(file, 'utf8');
    assert.ok(
      after.startsWith(
        `# mine\nharnesses:\n  opencode:\n    target: phoenix\n    endpoint: ${a.url}\n    project_name: checkout-service\n`,
      ),
    );
    assert.ok(after.endsWith('logging:\n  prompts: false\n'), 'the rest of the file stays');
    assert.doesNotMatch(after, /env-key-not-for-it/, "the environment's key is the first destination's");
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const again = cli(['install', '--add-destination', 'local', '--backend', 'phoenix', '--endpoint', b.url, '--yes']);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /a destination named local is already in/);
    const out = await scenario([{ fixture: MAIN }, { flush: 10000 }, { status: true }], { HOME: home, ...FAST });
    assert.deepEqual(deliveries(a), { delivered: PER, duplicated: 0 });
    assert.deepEqual(deliveries(b), { delivered: PER, duplicated: 0 });
    assert.ok(b.requests.every((r) => r.headers['x-token'] === 'tok-secret-789'));
    // no --project-name: its traces land in the first destination's project, as the docs say
    // (it was given "opencode", the installer's default, and the team's Phoenix split in two)
    assert.match(add.stdout, /project "checkout-service"/);
    assert.deepEqual(
      [...new Set(b.requests.flatMap((r) => r.spans.map((s) => s.resource['openinference.project.name'])))],
      ['checkout-service'],
    );
    assert.deepEqual(
      out.steps[2].status.destinations.map((d) => d.name),
      ['default', 'local'],
    );
  } finally {
    await a.close();
    await b.close();
  }
});

test('doctor checks each destination: its endpoint, and that it took the test span; a refused key is the fix it names', async () => {
  const a = await startReceiver();
  const b = await startReceiver({ respond: () => ({ status: 401, body: 'bad key' }) });
  try {
    const home = tempHome();
    const env = cleanEnv({ HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') });
    const cli = (args) =>
      spawnSync(process.execPath, [path.join(ROOT, 'lib', 'cli.js'), ...args], { env, cwd: home, encoding: 'utf8' });
    assert.equal(cli(['install', '--backend', 'phoenix', '--endpoint', a.url, '--yes']).status, 0);
    const add = cli(['install', '--add-destination', 'second', '--backend', 'phoenix', '--endpoint', b.url, '--yes']);
    assert.equal(add.status, 0, add.stderr);
    // asynchronously: the receivers answer from this process
    const doctor = await new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'lib', 'cli.js'), 'doctor', '--json'], { env, cwd: home });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('close', (status) => resolve({ status, stdout }));
    });
    const out = JSON.parse(doctor.stdout);
    const check = Object.fromEntries(out.checks.map((x) => [x.name, x]));
    assert.equal(check['endpoint answers'].ok, true);
    assert.equal(check['endpoint answers second'].ok, true, 'a 401 to an empty request: an OTLP receiver');
    assert.equal(check['test span'].ok, true);
    assert.equal(check['test span second'].ok, false);
    assert.match(out.fix, /destination second refused the credentials \(HTTP 401\)/);
    assert.equal(doctor.status, 1);
    // as a person reads it: every check's detail starts in one column, whatever the name's length
    const text = await new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'lib', 'cli.js'), 'doctor'], { env, cwd: home });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.on('close', () => resolve(stdout));
    });
    const column = (url) =>
      text
        .split('\n')
        .find((l) => l.includes(url) && !l.includes('fix'))
        .indexOf(url);
    assert.ok(text.includes('endpoint answers second'), text);
    assert.equal(column(b.url), column(a.url), `details start in one column:\n${text}`);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a destination removed from the config no longer holds spans back: they leave the spool', async () => {
  const a = await startReceiver();
  const port = await closedPort();
  const home = homeWith(a.url, `http://127.0.0.1:${port}`);
  const file = path.join(home, '.arize', 'harness', 'config.yaml');
  try {
    const out = await scenario(
      [
        { fixture: MAIN, variants: 2, quiet: true },
        { flush: 3000 },
        { status: true },
        { writeFile: [file, `harnesses:\n  opencode:\n    target: phoenix\n    endpoint: ${a.url}\n`] },
        { status: true },
      ],
      { HOME: home, ...FAST },
    );
    assert.equal(byName(out.steps[2].status).second.pending, 2 * PER);
    assert.ok(out.steps[2].status.spool.pending_bytes > 0, 'held for the second one');
    const after = out.steps[4].status;
    assert.deepEqual(
      after.destinations.map((d) => d.name),
      ['default'],
    );
    assert.equal(after.spool.pending_bytes, 0);
    const root = path.join(home, '.arize', 'harness', 'spool', 'opencode');
    const left = fs.existsSync(root)
      ? fs
          .readdirSync(root)
          .flatMap((dir) => fs.readdirSync(path.join(root, dir)).filter((f) => /\.(spool|done)$/.test(f)))
      : [];
    assert.deepEqual(left, []);
    assert.deepEqual(deliveries(a), { delivered: 2 * PER, duplicated: 0 });
  } finally {
    await a.close();
  }
});

test('destinations alone (no single backend): spans go to them, and status says sending', async () => {
  const b = await startReceiver();
  try {
    const home = tempHome();
    const dir = path.join(home, '.arize', 'harness');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'config.yaml'),
      `harnesses:\n  opencode:\n    destinations:\n      - {name: only, target: phoenix, endpoint: '${b.url}'}\n`,
      { mode: 0o600 },
    );
    const out = await scenario([{ fixture: MAIN, variants: 2, quiet: true }, { flush: 10000 }, { status: true }], {
      HOME: home,
      ...FAST,
    });
    assert.deepEqual(deliveries(b), { delivered: 2 * PER, duplicated: 0 });
    const s = out.steps[2].status;
    assert.equal(s.state, 'sending');
    assert.deepEqual(
      s.destinations.map((d) => [d.name, d.pending, d.exported]),
      [['only', 0, 2 * PER]],
    );
    assert.deepEqual(out.steps[1].flush, { exported: 2 * PER, pending: 0, dropped: 0 });
  } finally {
    await b.close();
  }
});

test('two names whose marker keys collide, or a non-http endpoint: left out with a warning, not silently starved or retried forever', async () => {
  // "d4hs3a" and "dgsaac" hash to one 32-bit key (FNV-1a): sharing markers, the one that was down
  // took the other's progress for its own after a restart and never got its spans
  const a = await startReceiver();
  const b = await startReceiver();
  try {
    const home = homeWith(a.url, b.url);
    fs.appendFileSync(
      path.join(home, '.arize', 'harness', 'config.yaml'),
      // projects of their own: not the same sending as 'second' and 'default' (that is left out too)
      `      - name: d4hs3a\n        target: phoenix\n        endpoint: ${b.url}\n        project_name: p1\n` +
        `      - name: dgsaac\n        target: phoenix\n        endpoint: ${a.url}\n        project_name: p2\n`,
    );
    const out = await scenario([{ fixture: MAIN, variants: 1, quiet: true }, { flush: 10000 }, { status: true }], {
      HOME: home,
      ...FAST,
    });
    assert.deepEqual(Object.keys(byName(out.steps[2].status)), ['default', 'second', 'd4hs3a']);
    const log = fs.readFileSync(path.join(home, '.arize', 'harness', 'logs', 'opencode.log'), 'utf8');
    assert.match(log, /WARN .*destination dgsaac cannot be told apart from destination d4hs3a.*left out/);
    // a URL that can never send is a config error, named once, not a destination failing forever
    // (before: retried with backoff and its spans kept in the spool for good)
    const typo = homeWith(a.url, 'htp://127.0.0.1:4318');
    const bad = await scenario(
      [{ fixture: MAIN, variants: 1, quiet: true, offset: 5 }, { flush: 10000 }, { status: true }],
      {
        HOME: typo,
        ...FAST,
      },
    );
    assert.deepEqual(Object.keys(byName(bad.steps[2].status)), ['default']);
    const badLog = fs.readFileSync(path.join(typo, '.arize', 'harness', 'logs', 'opencode.log'), 'utf8');
    assert.match(
      badLog,
      /WARN .*destination second has an endpoint that is not an http:\/\/ or https:\/\/ URL; left out/,
    );
    assert.doesNotMatch(badLog, /export failed/);
  } finally {
    await a.close();
    await b.close();
  }
});
