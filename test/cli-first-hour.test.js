'use strict';
// Issue 26: a new user's first hour with the CLI, as a user runs it: the packed tarball
// installed without scripts (and through npx), PATH with node and bun only, HOME a temporary
// directory, the backend a local receiver. What it prints is true, and every command it prints
// works as printed.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { NAME, tempDir, npmCli, pack, install, barePath, userEnv, runProcess } = require('./helpers/package.js');

let binDir, cli, app;

before(() => {
  binDir = barePath();
  app = tempDir('oat-hour-app-');
  install(app, pack().tarball, { binDir });
  cli = path.join(app, 'node_modules', '.bin', NAME);
});

function run(home, args, { env = {}, cwd } = {}) {
  return runProcess(path.join(binDir, 'node'), [cli, ...args], { env: userEnv(home, binDir, env), cwd: cwd || home });
}

// In a terminal (util-linux `script`), the answers typed ahead: each waits for its question.
function runInTerminal(home, args, input, env = {}) {
  return runProcess('script', ['-qec', [path.join(binDir, 'node'), cli, ...args].join(' '), '/dev/null'], {
    env: Object.assign(userEnv(home, binDir, env), { PATH: `${binDir}:/usr/bin:/bin` }),
    input,
  }).then((r) => ({ ...r, out: r.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '') }));
}

function hasScript() {
  try {
    require('node:child_process').execFileSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const terminal = { skip: !hasScript() && 'no `script` (util-linux) here' };

const harness = (home) => path.join(home, '.arize', 'harness');
const configFile = (home) => path.join(harness(home), 'config.yaml');
function writeConfig(home, text) {
  fs.mkdirSync(harness(home), { recursive: true });
  fs.writeFileSync(configFile(home), text, { mode: 0o600 });
}
const walk = (dir) =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]))
    : [];

// ------------------------------------------------------------------------------------------
// Options

test('an unknown option or command is refused everywhere, with the closest valid one', async () => {
  const home = tempDir('oat-hour-home-');
  for (const [args, said] of [
    [['doctor', '--jsn'], /doctor has no option --jsn: did you mean --json\?/],
    [['status', '--josn'], /status has no option --josn: did you mean --json\?/],
    [['install', '--json'], /install has no option --json/],
    [['install', '--regoin', 'eu'], /install has no option --regoin: did you mean --region\?/],
    [['uninstall', '--yes'], /uninstall has no option --yes/],
    [['stauts'], /unknown command stauts: did you mean status\?/],
    [['status', 'now'], /status takes no argument "now"/],
    [['backfill', '--dry'], /backfill has no option --dry: did you mean --dry-run\?/],
  ]) {
    const r = await run(home, args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, said, args.join(' '));
    assert.equal(r.stdout, '', `${args.join(' ')} did nothing`);
  }
  assert.equal(fs.existsSync(harness(home)), false, 'nothing was written');
});

// ------------------------------------------------------------------------------------------
// status and doctor

test('status names a broken config file as broken (unparseable, a directory, not UTF-8) and exits 2', async () => {
  for (const [label, make, where] of [
    ['unparseable', (h) => writeConfig(h, 'harnesses:\n  opencode:\n    target: [phoenix\n'), /line \d+: /],
    ['a directory', (h) => fs.mkdirSync(configFile(h), { recursive: true }), /is a directory/],
    ['not UTF-8', (h) => writeConfig(h, 'harnesses:\n  opencode:\n    project_name: "caf\xe9"\n'), /line 3: /],
  ]) {
    const home = tempDir('oat-hour-home-');
    if (label === 'not UTF-8') {
      fs.mkdirSync(harness(home), { recursive: true });
      fs.writeFileSync(
        configFile(home),
        Buffer.from('harnesses:\n  opencode:\n    project_name: "caf\xe9"\n', 'latin1'),
      );
    } else make(home);
    const text = await run(home, ['status']);
    assert.equal(text.code, 2, `${label}: ${text.stdout}${text.stderr}`);
    assert.match(text.stdout, /state: +broken-config: the config file is broken \(/, label);
    assert.match(text.stdout, where, label);
    assert.doesNotMatch(text.stdout, /no backend configured/, label);
    const json = await run(home, ['status', '--json']);
    assert.equal(json.code, 2);
    const s = JSON.parse(json.stdout);
    assert.equal(s.state, 'broken-config');
    assert.equal(s.health, 'not working');
    assert.equal(s.config.broken, true);
    const doctor = await run(home, ['doctor']);
    assert.doesNotMatch(doctor.stdout, /no backend configured/, label);
  }
});

test('status exits 0 healthy, 1 degraded, 2 not working; doctor --json says the same as its text', async () => {
  const receiver = await startReceiver();
  const home = tempDir('oat-hour-home-');
  try {
    let r = await run(home, ['status']);
    assert.equal(r.code, 2, 'no backend: not working');
    assert.match(r.stdout, /health: +not working \(exit code 2\)/);
    assert.equal((await run(home, ['install', '--yes', '--backend', 'phoenix', '--endpoint', receiver.url])).code, 0);
    r = await run(home, ['status']);
    assert.equal(r.code, 0, `configured, nothing failed: healthy\n${r.stdout}`);
    assert.match(r.stdout, /health: +healthy \(exit code 0\)/);

    const text = await run(home, ['doctor']);
    const json = await run(home, ['doctor', '--json']);
    assert.equal(text.code, 0, text.stdout);
    assert.equal(json.code, 0, json.stdout);
    const d = JSON.parse(json.stdout);
    assert.equal(d.ok, true);
    assert.deepEqual(
      d.checks.map((c) => c.name),
      [
        'plugin registered',
        'binary loads',
        'config parses',
        'config keys',
        'secret redaction',
        'credentials',
        'endpoint answers',
        'test span',
      ],
    );
    for (const c of d.checks) assert.match(text.stdout, new RegExp(`ok +${c.name}`));
    r = await run(home, ['status']);
    assert.equal(r.code, 0, `the last export accepted: healthy\n${r.stdout}`);
  } finally {
    await receiver.close();
  }
});

/** One closed turn exported by a process of the installed package, in the user's home. */
async function exportOneTurn(home, env = {}) {
  const lib = path.join(app, 'node_modules', NAME, 'lib', 'index.js');
  const script = `const l = require(${JSON.stringify(lib)}); const now = Date.now(), sid = 'ses_x' + now;
    l.reconcile({ type: 'close', sessionID: sid, messages: [
      { info: { id: 'msg_' + now + 'u', sessionID: sid, role: 'user', time: { created: now - 2 } }, parts: [{ type: 'text', text: 'hi' }] },
      { info: { id: 'msg_' + now + 'a', sessionID: sid, role: 'assistant', parentID: 'msg_' + now + 'u', modelID: 'm',
        time: { created: now - 1, completed: now }, finish: 'stop' }, parts: [{ type: 'text', text: 'ok' }] }] });
    l.flush(5000).then(() => l.shutdown(0));`;
  await runProcess(path.join(binDir, 'node'), ['-e', script], { env: userEnv(home, binDir, env) });
}

test('an endpoint with a query string: status shows it without the query and, once accepted, healthy', async () => {
  const receiver = await startReceiver();
  const home = tempDir('oat-hour-home-');
  try {
    const endpoint = `${receiver.url}/v1/traces?tenant=team-a`;
    await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', endpoint]);
    await exportOneTurn(home);
    assert.ok(receiver.spans().length > 0, 'the spans arrived');
    const s = await run(home, ['status']);
    // before: the outcome's URL had no query, the settings' had one: "settings changed" forever
    assert.doesNotMatch(s.stdout, /settings changed/);
    assert.match(s.stdout, /state: +sending: last export accepted/);
    assert.doesNotMatch(s.stdout, /tenant=team-a/);
    assert.equal(s.code, 0, s.stdout);
  } finally {
    await receiver.close();
  }
});

// Ports fetch() refuses as "bad port" (the WHATWG blocklist), which the core sends to alike.
const FETCH_BLOCKED_PORTS = [6665, 6666, 6667, 6668, 6669, 6697, 10080, 6000, 5060, 5061, 4045];

test("doctor's endpoint check answers for any port the core sends to (fetch's blocked ports too)", async () => {
  let receiver;
  for (const port of FETCH_BLOCKED_PORTS) {
    receiver = await startReceiver({ port }).catch(() => null); // taken here: the next one
    if (receiver) break;
  }
  if (!receiver) return; // every one of them taken on this machine
  const home = tempDir('oat-hour-home-');
  try {
    await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', `${receiver.url}/v1/traces`]);
    const d = await run(home, ['doctor', '--json']);
    const check = Object.fromEntries(JSON.parse(d.stdout).checks.map((x) => [x.name, x]));
    assert.equal(check['endpoint answers'].ok, true, JSON.stringify(check['endpoint answers']));
    assert.equal(check['test span'].ok, true, 'the core sent there');
    assert.equal(d.code, 0, d.stdout);
    // nothing listening: said as what it is, not as a port fetch refuses
    await receiver.close();
    receiver = null;
    const down = await run(home, ['doctor', '--json']);
    const answers = JSON.parse(down.stdout).checks.find((x) => x.name === 'endpoint answers');
    assert.equal(answers.ok, false);
    assert.match(answers.detail, /: ECONNREFUSED$/);
    assert.doesNotMatch(down.stdout, /bad port/);
  } finally {
    if (receiver) await receiver.close();
  }
});

test('status and doctor say what the exporter does with a refused answer, as the log does', async () => {
  // 404 and 500 are final for the exporter: the batch is dropped (the log says so too)
  for (const code of [404, 500]) {
    const receiver = await startReceiver({ respond: () => ({ status: code, body: 'no' }) });
    const home = tempDir('oat-hour-home-');
    try {
      await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', `${receiver.url}/v1/traces`]);
      await exportOneTurn(home);
      const log = fs.readFileSync(path.join(harness(home), 'logs', 'opencode.log'), 'utf8');
      const s = await run(home, ['status']);
      // every span sent is lost, none waits: not working, not degraded
      assert.equal(s.code, 2, s.stdout);
      assert.match(s.stdout, /health: +not working \(exit code 2\)/);
      // the words of the core's table of outcome classes (native/retry.c), as the log says it
      assert.match(s.stdout, new RegExp(`state: +failing: .*HTTP ${code}.*; the spans: dropped, counted`));
      assert.match(s.stdout, new RegExp(`the spans: +HTTP ${code} \\(refused\\): dropped`));
      assert.doesNotMatch(s.stdout, /wait in the spool and are retried/);
      assert.match(log, /dropp/i, 'the log says dropped too');
      const d = await run(home, ['doctor']);
      assert.doesNotMatch(d.stdout, /spans wait in the spool meanwhile/);
      if (code === 500) assert.match(d.stdout, /dropped, counted/);
    } finally {
      await receiver.close();
    }
  }
});

test('status and doctor name the binary OpenCode loads, not the copy running them', async () => {
  const home = tempDir('oat-hour-home-');
  assert.equal(
    (await run(home, ['install', '--yes', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:9'])).code,
    0,
  );
  const copy = path.join(harness(home), 'packages', `${NAME}-${require('../package.json').version}`);
  const s = JSON.parse((await run(home, ['status', '--json'])).stdout);
  assert.equal(s.binary, path.join(copy, 'prebuilds', 'linux-x64', 'node.napi.node'));
  assert.match(s.binary_loaded_by, /plugin\/arize-tracing\.ts$/);
  assert.equal(s.this_copy, path.join(app, 'node_modules', NAME), 'the copy running status is another one');
  const text = await run(home, ['status']);
  assert.match(
    text.stdout,
    /binary: +~\/\.arize\/harness\/packages\/\S+\/node\.napi\.node \(OpenCode loads it through ~\/\.config\/opencode\/plugin\/arize-tracing\.ts\)/,
  );
  const d = await run(home, ['doctor']);
  assert.match(d.stdout, /ok +binary loads +~\/\.arize\/harness\/packages\/\S+\/node\.napi\.node/);
});

test("doctor's test spans go to their own spool and state, never the user's", async () => {
  const silent = await startReceiver({ hang: () => true });
  const accepting = await startReceiver();
  const home = tempDir('oat-hour-home-');
  const spool = path.join(harness(home), 'spool', 'opencode');
  const state = path.join(harness(home), 'state', 'opencode');
  try {
    // a backend that answers the empty probe but never the export: the test span stays unsent
    const probeOnly = await startReceiver({ hang: (req) => Number(req.headers['content-length'] || 0) > 0 });
    try {
      await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', `${probeOnly.url}/v1/traces`]);
      const d = await run(home, ['doctor'], {
        env: { ARIZE_EXIT_FLUSH_MS: '200', OTEL_EXPORTER_OTLP_TIMEOUT: '1000' },
      });
      assert.equal(d.code, 1, d.stdout);
      assert.match(d.stdout, /FAIL test span/);
    } finally {
      await probeOnly.close();
    }
    assert.deepEqual(
      walk(spool).filter((f) => f.endsWith('.spool')),
      [],
      "the unsent test span is not in the user's spool",
    );
    assert.deepEqual(
      walk(state).filter((f) => /doctor/.test(f)),
      [],
      "no state of doctor's session among the user's",
    );
    await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', `${accepting.url}/v1/traces`]);
    const ok = await run(home, ['doctor']);
    assert.equal(ok.code, 0, ok.stdout);
    assert.deepEqual(
      accepting
        .spans()
        .map((x) => x.name)
        .sort(),
      ['LLM: doctor', 'Turn'],
      'only the test trace reached the working backend: nothing of the earlier attempt',
    );
    assert.equal(fs.existsSync(path.join(state, 'last-export.json')), false, "the user's last export is the user's");
    assert.deepEqual(
      walk(state).filter((f) => /doctor/.test(f)),
      [],
    );
  } finally {
    await silent.close();
    await accepting.close();
  }
});

// ------------------------------------------------------------------------------------------
// install

test('install refuses a project name with a newline or another control character, in one line', async () => {
  const home = tempDir('oat-hour-home-');
  const base = ['install', '--yes', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:4318'];
  for (const name of ['my\nproject', 'tab\there', 'bell\u0007', 'del\u007f']) {
    const r = await run(home, [...base, '--project-name', name]);
    assert.equal(r.code, 2, `${JSON.stringify(name)}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^[^\n]*--project-name: a project name is one line without control characters/);
  }
  assert.equal(fs.existsSync(configFile(home)), false, 'nothing written');
  const fromEnv = await run(home, base, { env: { ARIZE_PROJECT_NAME: 'a\rb' } });
  assert.equal(fromEnv.code, 2, fromEnv.stdout + fromEnv.stderr);
  assert.match(fromEnv.stderr, /ARIZE_PROJECT_NAME: a project name is one line .*; give --project-name NAME/);
  assert.equal(fs.existsSync(configFile(home)), false, 'nothing written');
  const ok = await run(home, [...base, '--project-name', 'my project (ünïcode)']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(fs.readFileSync(configFile(home), 'utf8'), /project_name: "my project \(ünïcode\)"/);
});

test('install refuses endpoints that are not http(s) URLs with a host', async () => {
  const home = tempDir('oat-hour-home-');
  for (const [backend, endpoint] of [
    ['otlp', 'ftp://x'],
    ['phoenix', 'notaurl'],
    ['otlp', 'https://'],
  ]) {
    const r = await run(home, ['install', '--yes', '--backend', backend, '--endpoint', endpoint]);
    assert.equal(r.code, 2, `${endpoint}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /--endpoint: .*(not an http:\/\/ or https:\/\/ URL|not a URL)/, endpoint);
  }
  assert.equal(fs.existsSync(configFile(home)), false);
  for (const endpoint of ['http://127.0.0.1:4318', 'collector.example.com:4318', 'https://x.example.com/v1/traces'])
    assert.equal(
      (await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', endpoint])).code,
      0,
      endpoint,
    );
});

test('install refuses to edit a file it cannot parse, says where, and changes nothing', async () => {
  const cases = [
    [
      'config.yaml',
      'harnesses:\n  opencode:\n    project_name: "x\n  claude-code: {\n',
      /cannot be parsed \(line \d+: /,
    ],
    ['config.yaml', Buffer.from('harnesses:\n  codex:\n    project_name: "caf\xe9"\n', 'latin1'), /line 3: not UTF-8/],
    [
      'config.json',
      '{"harnesses": {\n  "codex": {"project_name": "c",}\n}}\n',
      /cannot be parsed \(line 2: invalid JSON\)/,
    ],
  ];
  for (const [name, text, said] of cases) {
    const home = tempDir('oat-hour-home-');
    fs.mkdirSync(harness(home), { recursive: true });
    const file = path.join(harness(home), name);
    fs.writeFileSync(file, text);
    const r = await run(home, ['install', '--yes', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:6006']);
    assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, said, name);
    assert.match(r.stderr, new RegExp(`~/\\.arize/harness/${name.replace('.', '\\.')}`));
    assert.deepEqual(fs.readFileSync(file), Buffer.from(text), 'the file is as it was');
    assert.equal(fs.existsSync(path.join(home, '.config', 'opencode', 'plugin')), false, 'nothing registered');
  }
});

test('a config path that is a directory is a clear error and leaves no temp file', async () => {
  const home = tempDir('oat-hour-home-');
  fs.mkdirSync(configFile(home), { recursive: true });
  const r = await run(home, ['install', '--yes', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:6006']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /~\/\.arize\/harness\/config\.yaml is a directory/);
  assert.doesNotMatch(r.stderr, /EISDIR/);
  assert.deepEqual(fs.readdirSync(harness(home)), ['config.yaml']);
});

test('install switching backend says what it removed', async () => {
  const home = tempDir('oat-hour-home-');
  await run(home, ['install', '--yes'], { env: { ARIZE_API_KEY: 'ak-1', ARIZE_SPACE_ID: 'sp-1' } });
  const r = await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', 'http://127.0.0.1:4318']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /removed api_key, space_id \(they were for Arize AX\)/);
  assert.match(r.stdout, /added endpoint; changed target/);
  assert.doesNotMatch(r.stdout, /ak-1|sp-1/);
});

test('in a terminal, a wrong answer is asked again', terminal, async () => {
  const home = tempDir('oat-hour-home-');
  // backend 7, then 1; region mars, then eu; an empty key, then one; the space id; the project
  const r = await runInTerminal(home, ['install'], '7\n1\nmars\neu\n\nak-typed-1\nsp-typed-1\n\n');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /7 is not 1, 2 or 3; try again/);
  assert.match(r.out, /mars is not us, eu or ca; try again/);
  assert.match(r.out, /the API key is needed; try again/);
  assert.doesNotMatch(r.out, /--backend|--region|--api-key/, 'no error about flags the user never typed');
  assert.match(
    fs.readFileSync(configFile(home), 'utf8'),
    /target: arize\n    region: eu\n    api_key: "ak-typed-1"\n    space_id: "sp-typed-1"\n/,
  );
  // an endpoint that is not a URL, then one that is
  const o = await runInTerminal(home, ['install'], '3\nftp://x\nnotaurl\nhttp://127.0.0.1:4318\n\n\n');
  assert.equal(o.code, 0, o.out);
  assert.match(o.out, /ftp:\/\/x is not an http:\/\/ or https:\/\/ URL; try again/);
  assert.match(o.out, /notaurl is not a URL.*; try again/);
  assert.match(o.out, /removed region, api_key, space_id \(they were for Arize AX\)/);
  // the input ends before an answer: nothing changes
  const before = fs.readFileSync(configFile(home), 'utf8');
  const cut = await runInTerminal(home, ['install'], '1\n');
  assert.notEqual(cut.code, 0);
  assert.equal(fs.readFileSync(configFile(home), 'utf8'), before);
});

test(
  'in a terminal, install run again offers every stored value as the default, secrets masked',
  terminal,
  async () => {
    const home = tempDir('oat-hour-home-');
    await run(home, [
      'install',
      '--yes',
      '--backend',
      'arize',
      '--region',
      'eu',
      '--api-key',
      'ak-stored-42',
      '--space-id',
      'sp-stored-42',
      '--project-name',
      'mine',
    ]);
    // Enter everywhere: nothing changes
    const same = await runInTerminal(home, ['install'], '\n\n\n\n\n');
    assert.equal(same.code, 0, same.out);
    assert.match(same.out, /Backend: .* \[1\]: /);
    assert.match(same.out, /Arize AX region \(us, eu, ca\) \[eu\]: /);
    assert.match(same.out, /Arize API key \(Settings > API Keys\) \[stored: \*+, Enter keeps it\]: /);
    assert.match(same.out, /Arize space id \(Settings\) \[stored: \*+, Enter keeps it\]: /);
    assert.match(same.out, /Project name \[mine\]: /);
    assert.match(same.out, /unchanged/);
    assert.doesNotMatch(same.out, /ak-stored-42|sp-stored-42/, 'no secret on the screen');
    // any value can be changed: here the region and the key
    const changed = await runInTerminal(home, ['install'], '\nca\nak-new-7\n\n\n');
    assert.equal(changed.code, 0, changed.out);
    assert.match(changed.out, /changed region, api_key/);
    const yaml = fs.readFileSync(configFile(home), 'utf8');
    assert.match(yaml, /region: ca\n    api_key: "ak-new-7"\n    space_id: "sp-stored-42"\n/);
    assert.match(yaml, /project_name: "mine"/);
    // a setting given as a flag: only that changes, nothing is asked
    const flag = await runInTerminal(home, ['install', '--region', 'us'], '');
    assert.equal(flag.code, 0, flag.out);
    assert.doesNotMatch(flag.out, /Backend:|API key|space id|Project name/);
    assert.match(flag.out, /changed region/);
  },
);

// ------------------------------------------------------------------------------------------
// Commands printed for the user

test('through npx, the commands printed are npx commands; from a global install, the bare name', async () => {
  const home = tempDir('oat-hour-home-');
  // npx runs the package's bin through sh: PATH holds node, bun and sh
  const npxBin = barePath();
  fs.symlinkSync('/bin/sh', path.join(npxBin, 'sh'));
  const cache = require('node:child_process')
    .execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' })
    .trim();
  const npx = (...args) =>
    runProcess(
      path.join(npxBin, 'node'),
      [npmCli(), 'exec', '--yes', '--prefer-offline', `--package=${pack().tarball}`, '--', NAME, ...args],
      { env: userEnv(home, npxBin, { npm_config_cache: cache }), cwd: home, timeoutMs: 120000 },
    );
  const installed = await npx('install', '--yes', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:9');
  assert.equal(installed.code, 0, installed.stdout + installed.stderr);
  assert.match(installed.stdout, /next: +run `npx opencode-arize-tracing doctor`/);
  fs.rmSync(path.join(home, '.config', 'opencode', 'plugin'), { recursive: true });
  const doctor = await npx('doctor');
  assert.match(doctor.stdout, /fix \(plugin registered\): run `npx opencode-arize-tracing install`/);
  const typo = await npx('statsu');
  assert.match(typo.stderr, /\(`npx opencode-arize-tracing --help` lists the commands and options\)/);

  // a global install: the name on PATH is this very script
  const global = tempDir('oat-hour-global-');
  fs.mkdirSync(path.join(global, 'bin'));
  fs.symlinkSync(path.join(app, 'node_modules', NAME, 'lib', 'cli.js'), path.join(global, 'bin', NAME));
  const g = await runProcess(path.join(binDir, 'node'), [path.join(global, 'bin', NAME), 'doctor'], {
    env: userEnv(tempDir('oat-hour-home-'), binDir, { PATH: `${binDir}:${path.join(global, 'bin')}` }),
  });
  assert.match(g.stdout, /fix \(plugin registered\): run `opencode-arize-tracing install`/);
});

test("the demo's closing hint starts with install, and each command in it runs as printed", () => {
  const { NEXT_STEPS } = require('./demo.js');
  const commands = NEXT_STEPS.split('\n')
    .map((l) => /npx opencode-arize-tracing ([^#\n]*)/.exec(l))
    .filter(Boolean)
    .map((m) => m[1].trim().split(/\s+/));
  assert.equal(commands[0][0], 'install');
  assert.ok(commands.some((c) => c[0] === 'doctor'));
  const { parseArgs } = require('../lib/cli.js');
  for (const args of commands) assert.doesNotThrow(() => parseArgs(args), args.join(' '));
});

// ------------------------------------------------------------------------------------------
// uninstall and backfill

test('uninstall lists what stays on disk and the one command that removes it', async () => {
  const home = tempDir('oat-hour-home-');
  await run(home, ['install', '--yes', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:9']);
  // what tracing leaves: a spool file, a state file, the log, OpenCode's cached copy
  const lib = path.join(app, 'node_modules', NAME, 'lib', 'index.js');
  const now = Date.now();
  const script = `const l = require(${JSON.stringify(lib)}); const sid = 'ses_u${now}';
    l.reconcile({ type: 'close', sessionID: sid, messages: [
      { info: { id: 'msg_${now}u', sessionID: sid, role: 'user', time: { created: ${now - 2} } }, parts: [{ type: 'text', text: 'hi' }] },
      { info: { id: 'msg_${now}a', sessionID: sid, role: 'assistant', parentID: 'msg_${now}u', modelID: 'm',
        time: { created: ${now - 1}, completed: ${now} }, finish: 'stop' }, parts: [{ type: 'text', text: 'ok' }] }] });
    l.flush(300).then(() => l.shutdown(0));`;
  await runProcess(path.join(binDir, 'node'), ['-e', script], {
    env: userEnv(home, binDir, { ARIZE_EXIT_FLUSH_MS: '100' }),
  });
  const cached = path.join(home, '.cache', 'opencode', 'packages', `${NAME}@latest`, 'node_modules', NAME);
  fs.mkdirSync(cached, { recursive: true });
  fs.writeFileSync(path.join(cached, 'package.json'), '{}');

  const r = await run(home, ['uninstall']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /left on disk/);
  assert.match(r.stdout, /~\/\.arize\/harness\/spool\/opencode +2 spans never sent/);
  assert.match(r.stdout, /~\/\.arize\/harness\/state\/opencode +which spans were sent/);
  assert.match(r.stdout, /~\/\.arize\/harness\/logs\/opencode\.log +the log/);
  assert.match(r.stdout, /~\/\.cache\/opencode\/packages\/opencode-arize-tracing@latest +OpenCode's cached copy/);
  const command = /remove them all: (.*)/.exec(r.stdout)[1];
  // the command works as printed, in a shell of this user
  const sh = await runProcess('sh', ['-c', command], { env: { HOME: home, PATH: '/usr/bin:/bin' } });
  assert.equal(sh.code, 0, sh.stderr);
  for (const p of ['spool/opencode', 'state/opencode', 'logs/opencode.log'])
    assert.equal(fs.existsSync(path.join(harness(home), p)), false, p);
  assert.equal(fs.existsSync(path.join(home, '.cache', 'opencode', 'packages', `${NAME}@latest`)), false);
  assert.doesNotMatch((await run(home, ['uninstall'])).stdout, /left on disk/);
});

test('doctor says a backend that takes the connection and never answers did not answer, not "TimeoutError"', async () => {
  const receiver = await startReceiver({ hang: () => true });
  try {
    const home = tempDir('oat-hour-home-');
    await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', receiver.tracesUrl]);
    const r = await run(home, ['doctor']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL endpoint answers +http:\/\/127\.0\.0\.1:\d+\/v1\/traces: no answer within 10 s\n/);
    assert.match(
      r.stdout,
      /fix \(endpoint answers\): .* did not answer within 10 s: check that the backend there is up/,
    );
    assert.doesNotMatch(r.stdout, /TimeoutError/);
  } finally {
    await receiver.close();
  }
});

test("on Windows, the command that removes what uninstall leaves is PowerShell's, with whole paths", () => {
  // rm -rf '~\.arize\...' (what uninstall printed on Windows) runs nowhere there: cmd and
  // PowerShell have no rm -rf, and in a POSIX shell the quoted ~ and backslashes name nothing
  const { removeCommand } = require(path.join(app, 'node_modules', NAME, 'lib', 'cli', 'uninstall.js'));
  const home = "C:\\Users\\Jörg O'Brien \u2019山田";
  const paths = [`${home}\\.arize\\harness\\spool\\opencode`, `${home}\\.arize\\harness\\logs\\opencode.log`];
  assert.equal(
    removeCommand(paths, 'win32'),
    "Remove-Item -Recurse -Force -LiteralPath 'C:\\Users\\Jörg O''Brien \u2019\u2019山田\\.arize\\harness\\spool\\opencode', " +
      "'C:\\Users\\Jörg O''Brien \u2019\u2019山田\\.arize\\harness\\logs\\opencode.log'",
  );
  assert.match(removeCommand(['/home/u/.arize/harness/logs/opencode.log'], 'linux'), /^rm -rf /);
});

test("backfill says what it is doing before OpenCode's server has started", async () => {
  const home = tempDir('oat-hour-home-');
  const bin = tempDir('oat-hour-bin-');
  const go = path.join(bin, 'go');
  // an `opencode` whose server never listens: it fails once the test has read backfill's first line
  fs.writeFileSync(
    path.join(bin, 'opencode'),
    `#!/bin/sh\nwhile [ ! -e ${go} ]; do sleep 0.05; done\necho "server failed to start" >&2\nexit 1\n`,
    { mode: 0o755 },
  );
  const child = require('node:child_process').spawn(path.join(binDir, 'node'), [cli, 'backfill'], {
    env: userEnv(home, binDir, { PATH: `${binDir}:${bin}:/usr/bin:/bin` }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let firstBeforeServer = null;
  child.stdout.on('data', (d) => {
    out += d;
    if (firstBeforeServer === null && out.includes('\n')) {
      firstBeforeServer = out.split('\n')[0];
      fs.writeFileSync(go, '');
    }
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.match(firstBeforeServer, /starting OpenCode's server \(opencode serve\) to read your sessions/);
  assert.equal(code, 1);
  assert.match(err, /opencode serve exited \(code 1\) before it listened: server failed to start/);
});

test('without a usable libcurl the core still traces, and doctor says what this machine lacks, not that the backend refused', async (t) => {
  // the core loads libcurl when it first sends (native/http.c): an old or broken one in the
  // loader's path (here a library of that name without curl's functions) is found then
  const fake = tempDir('oat-oldcurl-');
  fs.writeFileSync(path.join(fake, 'c.c'), 'int curl_global_init(long f) { return (int)f; }\n');
  try {
    require('node:child_process').execFileSync('cc', [
      '-shared',
      '-fPIC',
      '-o',
      path.join(fake, 'libcurl.so.4'),
      path.join(fake, 'c.c'),
    ]);
  } catch {
    return t.skip('no C compiler here');
  }
  const receiver = await startReceiver();
  const home = tempDir('oat-hour-home-');
  try {
    await run(home, ['install', '--yes', '--backend', 'otlp', '--endpoint', `${receiver.url}/v1/traces`]);
    const d = await run(home, ['doctor', '--json'], { env: { LD_LIBRARY_PATH: fake } });
    const check = Object.fromEntries(JSON.parse(d.stdout).checks.map((x) => [x.name, x]));
    assert.equal(check['binary loads'].ok, true, 'the core loads without libcurl');
    assert.equal(check['endpoint answers'].ok, true);
    assert.equal(check['test span'].ok, false);
    assert.match(
      check['test span'].fix,
      /^this machine cannot send yet: the system's libcurl is too old \(it has no curl_easy_init/,
    );
    assert.match(check['test span'].fix, /OpenCode's spans wait in the spool/);
    assert.doesNotMatch(check['test span'].fix, /did not accept/);
    // a turn traced on that machine: status says why nothing is sent, and that the spans wait
    await exportOneTurn(home, { LD_LIBRARY_PATH: fake });
    const s = await run(home, ['status'], { env: { LD_LIBRARY_PATH: fake } });
    assert.match(
      s.stdout,
      /state: +failing: this machine cannot send: the system's libcurl is too old \(it has no curl_easy_init.*; the spans wait in the spool for an OpenCode started with it/,
    );
    assert.doesNotMatch(s.stdout, /the backend is not accepting spans/);
    assert.match(s.stdout, /spool: +2 spans/);
    assert.equal(receiver.spans().length, 0);
    // with the system's libcurl, the same doctor's test span goes through
    const ok = await run(home, ['doctor', '--json']);
    assert.equal(JSON.parse(ok.stdout).checks.find((x) => x.name === 'test span').ok, true, ok.stdout);
  } finally {
    await receiver.close();
  }
});
