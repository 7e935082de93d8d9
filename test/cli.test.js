'use strict';
// The `opencode-arize-tracing` command (issue 6) as a user runs it: from the packed tarball
// installed without scripts, PATH with node and bun only, HOME a temporary directory, the
// backend a local receiver.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { NAME, tempDir, pack, install, barePath, userEnv, runProcess } = require('./helpers/package.js');

let binDir, cli;

before(() => {
  binDir = barePath();
  const app = tempDir('oat-cli-app-');
  install(app, pack().tarball, { binDir });
  cli = path.join(app, 'node_modules', '.bin', NAME);
});

function run(home, args, { env = {}, cwd } = {}) {
  return runProcess(path.join(binDir, 'node'), [cli, ...args], { env: userEnv(home, binDir, env), cwd: cwd || home });
}

const configFile = (home) => path.join(home, '.arize', 'harness', 'config.yaml');
const pluginFile = (home) => path.join(home, '.config', 'opencode', 'plugin', 'arize-tracing.ts');
const mode = (file) => (fs.statSync(file).mode & 0o777).toString(8);

const OTHER_HARNESSES = `# shared by every harness
harnesses:
  claude-code:
    project_name: claude
    api_key: "cc-key"

  codex:
    project_name: codex   # trailing comment

# logging applies to all
logging:
  prompts: false
`;

function writeConfig(home, text, name = 'config.yaml') {
  fs.mkdirSync(path.join(home, '.arize', 'harness'), { recursive: true });
  fs.writeFileSync(path.join(home, '.arize', 'harness', name), text, { mode: 0o644 });
}

// Bun imports the registered plugin file as OpenCode does; the plugin is a function.
async function pluginLoads(file, home) {
  const script = path.join(home, 'import-plugin.mjs');
  fs.writeFileSync(
    script,
    `const m = await import(${JSON.stringify(file)}); console.log(Object.keys(m).join(), typeof m.ArizeTracing);`,
  );
  const r = await runProcess(path.join(binDir, 'bun'), [script], { env: userEnv(home, binDir) });
  return r.code === 0 ? r.stdout.trim() : r.stderr;
}

test('install -> doctor -> uninstall against a local receiver, keeping the other harnesses', async () => {
  const receiver = await startReceiver();
  const home = tempDir('oat-cli-home-');
  try {
    writeConfig(home, OTHER_HARNESSES);
    const transcript = [];
    const step = async (args) => {
      const r = await run(home, args);
      transcript.push(`$ opencode-arize-tracing ${args.join(' ')}`, r.stdout.trimEnd(), r.stderr.trimEnd());
      return r;
    };
    const args = [
      'install',
      '--backend',
      'phoenix',
      '--endpoint',
      receiver.url,
      '--api-key',
      'px-secret-4242',
      '--project-name',
      'cli-test',
      '--yes',
    ];
    const first = await step(args);
    assert.equal(first.code, 0, first.stderr);
    const yaml = fs.readFileSync(configFile(home), 'utf8');
    assert.equal(mode(configFile(home)), '600');
    assert.match(
      yaml,
      /\n  opencode:\n    # opencode-arize-tracing:managed[^\n]*\n    project_name: "cli-test"\n    target: phoenix\n    endpoint: "http:\/\/127\.0\.0\.1:\d+"\n    api_key: "px-secret-4242"\n/,
    );
    // every line of the other harnesses' file is still there, in order
    const kept = yaml.split('\n').filter((l) => OTHER_HARNESSES.split('\n').includes(l));
    assert.deepEqual(kept, OTHER_HARNESSES.split('\n'));
    assert.ok(
      yaml.indexOf('  opencode:') < yaml.indexOf('# logging applies to all'),
      'the block sits inside harnesses',
    );
    assert.match(fs.readFileSync(pluginFile(home), 'utf8'), /^\/\/ opencode-arize-tracing:managed/);
    assert.equal(await pluginLoads(pluginFile(home), home), 'ArizeTracing function');

    const again = await step(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already registered/);
    assert.equal(fs.readFileSync(configFile(home), 'utf8'), yaml, 'install twice writes the same file');

    const doctor = await step(['doctor']);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    for (const link of [
      'plugin registered',
      'binary loads',
      'config parses',
      'credentials',
      'endpoint answers',
      'test span',
    ])
      assert.match(doctor.stdout, new RegExp(`ok +${link}`));
    assert.match(doctor.stdout, /all links work/);
    assert.deepEqual(
      receiver
        .spans()
        .map((s) => s.name)
        .sort(),
      ['LLM: doctor', 'Turn'],
    );
    const traced = receiver.requests.find((r) => r.spans.length);
    assert.equal(traced.headers['x-project-name'], 'cli-test');
    assert.equal(traced.headers.authorization, 'Bearer px-secret-4242');

    const status = await step(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /backend: +phoenix +http:\/\/127\.0\.0\.1:\d+\/v1\/traces +project "cli-test"/);
    assert.match(status.stdout, /binary: +\S+prebuilds\/linux-x64\/node\.napi\.node/);
    for (const r of [first, again, doctor, status]) assert.doesNotMatch(r.stdout + r.stderr, /px-secret-4242/);

    const removed = await step(['uninstall']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(fs.readFileSync(configFile(home), 'utf8'), OTHER_HARNESSES, 'the file is as it was');
    assert.equal(fs.existsSync(pluginFile(home)), false);
    assert.equal(fs.existsSync(path.join(home, '.arize', 'harness', 'packages')), false);
    const nothing = await step(['uninstall']);
    assert.match(nothing.stdout, /nothing to remove/);
    console.log(transcript.filter(Boolean).join('\n').replace(/^/gm, '# '));
  } finally {
    await receiver.close();
  }
});

test('install for Arize AX takes region and credentials from the environment, and status shows no secret', async () => {
  const home = tempDir('oat-cli-home-');
  const env = { ARIZE_API_KEY: 'ak-secret-77', ARIZE_SPACE_ID: 'space-9', ARIZE_REGION: 'eu' };
  const r = await run(home, ['install', '--yes'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Arize AX \(eu\)/);
  const yaml = fs.readFileSync(configFile(home), 'utf8');
  assert.match(yaml, /target: arize\n    region: eu\n    api_key: "ak-secret-77"\n    space_id: "space-9"\n/);
  const status = await run(home, ['status', '--json']); // credentials from the file only now
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout);
  assert.equal(s.backend.target, 'arize');
  assert.equal(s.backend.endpoint, 'https://otlp.eu-west-1a.arize.com/v1/traces');
  assert.equal(s.state, 'sending');
  assert.doesNotMatch(status.stdout, /ak-secret-77|space-9/);
});

test('install --project registers the plugin in the project only, in a form that works in any clone; uninstall --project removes just that', async () => {
  const home = tempDir('oat-cli-home-');
  const project = tempDir('oat-cli-project-');
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k%3D1' };
  const r = await run(home, ['install', '--project', '--yes'], { env, cwd: project });
  assert.equal(r.code, 0, r.stderr);
  const conf = path.join(project, '.opencode', 'opencode.json');
  assert.deepEqual(
    JSON.parse(fs.readFileSync(conf, 'utf8')).plugin,
    [NAME],
    'the package by name, as `opencode plugin` writes it',
  );
  // nothing in the project points into this user's home or this machine's paths
  for (const f of walk(project))
    assert.doesNotMatch(fs.readFileSync(f, 'utf8'), new RegExp(`${home}|/home/|/root/|\\.arize`), f);
  assert.equal(fs.existsSync(path.join(project, '.opencode', 'plugin')), false);
  assert.equal(fs.existsSync(pluginFile(home)), false);
  assert.match(
    fs.readFileSync(configFile(home), 'utf8'),
    /target: otlp\n    endpoint: "http:\/\/127\.0\.0\.1:4318"\n    headers:\n      "x-api-key": "k=1"\n/,
  );
  const u = await run(home, ['uninstall', '--project'], { cwd: project });
  assert.equal(u.code, 0, u.stderr);
  assert.equal(JSON.parse(fs.readFileSync(conf, 'utf8')).plugin, undefined);
  assert.ok(fs.existsSync(configFile(home)), 'the config block stays: other projects use it');
  // an entry in a file with comments is named for removal by hand, and nothing claims there is none
  await run(home, ['install', '--project', '--yes'], { env, cwd: project });
  fs.writeFileSync(conf, `{\n  "plugin": ["${NAME}"], // traced\n}\n`);
  const byHand = await run(home, ['uninstall', '--project'], { cwd: project });
  assert.equal(byHand.code, 0, byHand.stderr);
  assert.match(byHand.stdout, /left .*opencode\.json: remove "opencode-arize-tracing" from its "plugin" list by hand/);
  assert.doesNotMatch(byHand.stdout, /nothing to remove/);
});

test('status says not working when OpenCode would load no plugin, and finds a project registration from a subdirectory of the repository', async () => {
  const home = tempDir('oat-cli-home-');
  const repo = tempDir('oat-cli-repo-');
  const env = { PHOENIX_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' };
  const before = await run(home, ['status', '--json'], { env, cwd: repo });
  assert.equal(before.code, 2, before.stdout);
  assert.equal(JSON.parse(before.stdout).state, 'not-registered');
  fs.mkdirSync(path.join(repo, '.git'));
  assert.equal((await run(home, ['install', '--project', '--yes'], { env, cwd: repo })).code, 0);
  const sub = path.join(repo, 'src', 'lib');
  fs.mkdirSync(sub, { recursive: true });
  const after = await run(home, ['status', '--json'], { env, cwd: sub });
  const s = JSON.parse(after.stdout);
  assert.notEqual(s.state, 'not-registered', after.stdout);
  assert.deepEqual(
    s.registrations.map((r) => r.file),
    [path.join(repo, '.opencode', 'opencode.json')],
  );
});

function walk(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

test('doctor stops at the first broken link and prints its fix', async () => {
  const home = tempDir('oat-cli-home-');
  // nothing configured: the plugin is missing first
  let r = await run(home, ['doctor']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL plugin registered/);
  // the command as it works here: this test's PATH has no opencode-arize-tracing, npx finds it
  assert.match(r.stdout, /fix \(plugin registered\): run `npx opencode-arize-tracing install`/);

  // an endpoint where nothing listens
  const closed = await startReceiver();
  const url = closed.url;
  await closed.close();
  assert.equal((await run(home, ['install', '--backend', 'otlp', '--endpoint', url, '--yes'])).code, 0);
  r = await run(home, ['doctor']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ok +credentials/);
  assert.match(r.stdout, /FAIL endpoint answers .*ECONNREFUSED/);
  assert.match(
    r.stdout,
    /fix \(endpoint answers\): nothing answers at http:\/\/127\.0\.0\.1:\d+\/v1\/traces: start the backend/,
  );
  assert.doesNotMatch(r.stdout, /test span/);

  // a backend that refuses the credentials
  const refusing = await startReceiver({ respond: () => ({ status: 401, body: 'bad key' }) });
  try {
    assert.equal(
      (
        await run(home, [
          'install',
          '--backend',
          'otlp',
          '--endpoint',
          refusing.url,
          '--header',
          'authorization=wrong',
          '--yes',
        ])
      ).code,
      0,
    );
    r = await run(home, ['doctor']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /ok +endpoint answers .*HTTP 401/);
    assert.match(r.stdout, /FAIL test span/);
    assert.match(r.stdout, /fix \(test span\): the backend refused the credentials \(HTTP 401\)/);
    assert.doesNotMatch(r.stdout, /wrong/);
  } finally {
    await refusing.close();
  }

  // the file broken by hand
  fs.appendFileSync(configFile(home), 'logging: [unclosed\n');
  r = await run(home, ['doctor']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL config parses +broken, nothing in it is used: config \S+config\.yaml: line \d+/);
});

test('install needs a backend when it cannot ask, and leaves a plugin file it did not write alone', async () => {
  const home = tempDir('oat-cli-home-');
  let r = await run(home, ['install', '--yes']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no backend given: pass --backend/);
  assert.equal(fs.existsSync(configFile(home)), false);

  fs.mkdirSync(path.dirname(pluginFile(home)), { recursive: true });
  fs.writeFileSync(pluginFile(home), 'export const mine = () => ({})\n');
  r = await run(home, ['install', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:6006', '--yes']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /arize-tracing\.ts exists and was not written by install/);
  assert.equal(fs.readFileSync(pluginFile(home), 'utf8'), 'export const mine = () => ({})\n');
  r = await run(home, ['uninstall']);
  assert.equal(fs.readFileSync(pluginFile(home), 'utf8'), 'export const mine = () => ({})\n');
});

test('with only config.json (newer Python harness), install and uninstall edit that file', async () => {
  const home = tempDir('oat-cli-home-');
  const json = {
    harnesses: { codex: { project_name: 'codex', target: 'phoenix', endpoint: 'http://127.0.0.1:6006' } },
  };
  writeConfig(home, JSON.stringify(json), 'config.json');
  const file = path.join(home, '.arize', 'harness', 'config.json');
  const r = await run(home, [
    'install',
    '--backend',
    'phoenix',
    '--endpoint',
    'http://127.0.0.1:6006',
    '--project-name',
    'p',
    '--yes',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.existsSync(configFile(home)), false, 'no config.yaml appears to shadow config.json');
  assert.equal(mode(file), '600');
  const written = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(written.harnesses.codex, json.harnesses.codex);
  assert.deepEqual(written.harnesses.opencode, {
    project_name: 'p',
    target: 'phoenix',
    endpoint: 'http://127.0.0.1:6006',
  });
  const s = JSON.parse((await run(home, ['status', '--json'])).stdout);
  assert.equal(s.config.path, file);
  assert.equal(s.backend.project, 'p');
  await run(home, ['uninstall']);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), json);
});

test('a harnesses block in flow style is not rewritten', async () => {
  const home = tempDir('oat-cli-home-');
  const text = 'harnesses: {claude-code: {project_name: c}}\n';
  writeConfig(home, text);
  const r = await run(home, ['install', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:6006', '--yes']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not a block mapping/);
  assert.equal(fs.readFileSync(configFile(home), 'utf8'), text);
});

test(
  'in a terminal, install asks for what flags and environment did not give',
  { skip: !hasScript() && 'no `script` (util-linux) here' },
  async () => {
    const home = tempDir('oat-cli-home-');
    // `script` gives the CLI a terminal; the answers are typed ahead and wait for their question
    const r = await runProcess('script', ['-qec', `${path.join(binDir, 'node')} ${cli} install`, '/dev/null'], {
      env: Object.assign(userEnv(home, binDir), { PATH: `${binDir}:/usr/bin:/bin` }),
      input: '3\nhttps://collector.example.com:4318\nx-key=abc\n\n',
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = r.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    assert.match(out, /Backend: 1\) Arize AX {2}2\) Phoenix {2}3\) another OTLP endpoint \[1\]: /);
    assert.match(out, /OTLP\/HTTP endpoint/);
    assert.match(out, /Project name \[opencode\]: /);
    assert.match(
      fs.readFileSync(configFile(home), 'utf8'),
      /project_name: "opencode"\n    target: otlp\n    endpoint: "https:\/\/collector\.example\.com:4318"\n    headers:\n      "x-key": "abc"\n/,
    );
  },
);

function hasScript() {
  try {
    require('node:child_process').execFileSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------------
// Issue 13: what a user sees is true.

const USER_BLOCK = `# shared by every harness
harnesses:
  claude-code:
    project_name: claude
  opencode:
    # mine, by hand
    project_name: "mine"
    target: arize
    region: us                 # us | eu | ca
    api_key: "ak-stored-1"
    space_id: "sp-stored-1"
    attributes:
      team: platform           # who owns the traces
    export:
      timeout_ms: 5000
    limits:
      max_attribute_bytes: 4096
logging:
  prompts: false
`;

test('re-running install to change the region changes only the region: the other keys, comments and stored credentials stay', async () => {
  const home = tempDir('oat-cli-home-');
  writeConfig(home, USER_BLOCK);
  const r = await run(home, ['install', '--yes', '--region', 'eu']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /changed region/);
  const after = fs.readFileSync(configFile(home), 'utf8');
  assert.equal(
    after,
    USER_BLOCK.replace('region: us                 #', 'region: eu                 #'),
    'one line changed, nothing else',
  );
  const s = JSON.parse((await run(home, ['status', '--json'])).stdout);
  assert.equal(s.backend.endpoint, 'https://otlp.eu-west-1a.arize.com/v1/traces');
  assert.equal(s.backend.project, 'mine');
  // and once more with nothing to change: the file stays byte for byte
  const again = await run(home, ['install', '--yes']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /unchanged/);
  assert.equal(fs.readFileSync(configFile(home), 'utf8'), after);
  // uninstall takes back what install manages and leaves the user's own keys
  const u = await run(home, ['uninstall']);
  assert.equal(u.code, 0, u.stderr);
  const left = fs.readFileSync(configFile(home), 'utf8');
  assert.doesNotMatch(left, /api_key|space_id|region|target|project_name: "mine"/);
  assert.match(
    left,
    /  opencode:\n    # mine, by hand\n    attributes:\n      team: platform           # who owns the traces\n    export:\n      timeout_ms: 5000\n/,
  );
  assert.match(left, /claude-code:\n    project_name: claude\n/);
});

test('a misspelt config key is named with the closest known key in status, doctor and the log', async () => {
  const receiver = await startReceiver();
  const home = tempDir('oat-cli-home-');
  try {
    assert.equal((await run(home, ['install', '--backend', 'phoenix', '--endpoint', receiver.url, '--yes'])).code, 0);
    fs.appendFileSync(configFile(home), '    projet_name: typo\n    regoin: eu\n');
    const status = await run(home, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /`harnesses\.opencode\.projet_name` \(line \d+\): did you mean `project_name`\?/);
    assert.match(status.stdout, /`harnesses\.opencode\.regoin` \(line \d+\): did you mean `region`\?/);
    const doctor = await run(home, ['doctor']);
    assert.equal(doctor.code, 1);
    assert.match(doctor.stdout, /ok +config parses/);
    assert.match(doctor.stdout, /FAIL config keys .*did you mean `project_name`\?/);
    // status and doctor write nothing to the log: OpenCode's tracer does, once per version
    assert.equal(fs.existsSync(path.join(home, '.arize', 'harness', 'logs', 'opencode.log')), false);
    const lib = path.join(path.dirname(path.dirname(cli)), NAME, 'lib', 'index.js');
    await runProcess(
      path.join(binDir, 'node'),
      ['-e', `const l = require(${JSON.stringify(lib)}); l.status(); l.status()`],
      {
        env: userEnv(home, binDir),
      },
    );
    const log = fs.readFileSync(path.join(home, '.arize', 'harness', 'logs', 'opencode.log'), 'utf8');
    assert.equal(log.match(/did you mean `project_name`/g).length, 1, 'one log line per config version');
    assert.doesNotMatch(status.stdout + doctor.stdout + log, /typo/, 'values are never quoted');
  } finally {
    await receiver.close();
  }
});

test('doctor goes on past a bad value and a misspelt key: each named, the backend link still checked', async () => {
  const receiver = await startReceiver();
  const home = tempDir('oat-cli-home-');
  try {
    assert.equal((await run(home, ['install', '--backend', 'phoenix', '--endpoint', receiver.url, '--yes'])).code, 0);
    fs.appendFileSync(configFile(home), '    export:\n      timeout_ms: abc\n    projet_name: typo\n');
    const doctor = await run(home, ['doctor']);
    assert.equal(doctor.code, 1, doctor.stdout);
    assert.match(doctor.stdout, /ok +config parses/);
    assert.match(doctor.stdout, /FAIL config values .*timeout_ms is not a whole number.*the default is used/);
    assert.match(doctor.stdout, /FAIL config keys .*did you mean `project_name`\?/);
    assert.match(doctor.stdout, /ok +endpoint answers/, 'the links after the config are still checked');
    assert.match(doctor.stdout, /ok +test span/);
    assert.match(doctor.stdout, /fix \(config values\): correct what the warning names in/);
    assert.doesNotMatch(doctor.stdout, /\babc\b|typo/, 'values are never quoted');
  } finally {
    await receiver.close();
  }
});

test('status and doctor say which secret redaction is in effect; doctor shows a sample redacted by the core', async () => {
  const receiver = await startReceiver();
  const home = tempDir('oat-cli-home-');
  // this checkout's core: the bundled prebuild is regenerated from these sources at release
  const env = { ARIZE_TRACING_NATIVE: path.join(__dirname, '..', 'build', 'Release', 'arize_tracing.node') };
  try {
    assert.equal(
      (await run(home, ['install', '--backend', 'phoenix', '--endpoint', receiver.url, '--yes'], { env })).code,
      0,
    );
    const rules =
      'redact:\n  patterns:\n    - "ACME-[0-9]{6}"\n    - {pattern: "INT-\\\\d+", kind: internal-id}\n  values:\n    - corp-hunter-42\n';
    fs.appendFileSync(configFile(home), rules);
    let status = await run(home, ['status'], { env });
    assert.match(status.stdout, /redaction: +built-in detectors on, 2 user patterns, 1 literal value\n/);
    let doctor = await run(home, ['doctor'], { env });
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(
      doctor.stdout,
      /ok +secret redaction +built-in detectors on, 2 user patterns, 1 literal value: "GITHUB_TOKEN=ghp_\w{36} PORT=8080" is sent as "GITHUB_TOKEN=<redacted:github-token> PORT=8080"/,
    );
    doctor = await run(home, ['doctor'], { env: { ...env, ARIZE_REDACT_SECRETS: 'false' } });
    assert.match(doctor.stdout, /WARN secret redaction +built-in detectors off, 2 user patterns, 1 literal value: /);
    // a bad pattern is one warning naming its key and position, never its text
    fs.appendFileSync(configFile(home), 'harnesses:\n  opencode:\n    redact:\n      allow: ["(unclosed-Sec"]\n');
    status = await run(home, ['status'], { env });
    assert.match(
      status.stdout,
      /warning: .*line \d+: harnesses\.opencode\.redact\.allow\[0\] is not a usable pattern: unbalanced \( at offset 0; ignored/,
    );
    assert.doesNotMatch(status.stdout + status.stderr, /unclosed-Sec|corp-hunter/);
  } finally {
    await receiver.close();
  }
});

// A process that traces one turn with the installed package, then stays alive until killed.
function tracingProcess(home, url, label) {
  const lib = path.join(path.dirname(path.dirname(cli)), NAME, 'lib', 'index.js');
  const script = `
    const lib = require(${JSON.stringify(lib)});
    const now = Date.now(), id = ${JSON.stringify(label)} + now, sid = 'ses_' + id;
    const r = lib.reconcile({ type: 'close', sessionID: sid, messages: [
      { info: { id: 'msg_' + id + 'u', sessionID: sid, role: 'user', time: { created: now - 2 } },
        parts: [{ id: 'prt_' + id + 'u', sessionID: sid, messageID: 'msg_' + id + 'u', type: 'text', text: 'hi' }] },
      { info: { id: 'msg_' + id + 'a', sessionID: sid, role: 'assistant', parentID: 'msg_' + id + 'u', modelID: 'm', providerID: 'p',
        time: { created: now - 1, completed: now }, cost: 0, finish: 'stop', tokens: { input: 1, output: 1, reasoning: 0, cache: { read: 0, write: 0 } } },
        parts: [{ id: 'prt_' + id + 'a', sessionID: sid, messageID: 'msg_' + id + 'a', type: 'text', text: 'ok' }] } ] });
    lib.flush(1500).then((f) => { console.log(JSON.stringify({ spans: r.spans, pending: f.pending })); });
    setInterval(() => {}, 1000);`;
  const child = require('node:child_process').spawn(path.join(binDir, 'node'), ['-e', script], {
    env: userEnv(home, binDir, { PHOENIX_ENDPOINT: url }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out));
    });
    child.on('exit', (code) => reject(new Error(`tracing process exited ${code}`)));
  });
  return { child, ready };
}

const spoolListing = (home) => {
  const root = path.join(home, '.arize', 'harness', 'spool', 'opencode');
  return fs.existsSync(root)
    ? walk(root)
        .map((f) => `${path.relative(root, f)} ${fs.statSync(f).size}`)
        .sort()
    : [];
};

test("status reads every process's spool and the last export outcome, and never touches the spool", async () => {
  const refusing = await startReceiver({ respond: () => ({ status: 401, body: 'unauthorized' }) });
  const silent = await startReceiver({ hang: () => true });
  const home = tempDir('oat-cli-home-');
  const procs = [];
  try {
    fs.mkdirSync(path.dirname(configFile(home)), { recursive: true });
    fs.writeFileSync(
      configFile(home),
      `harnesses:\n  opencode:\n    target: phoenix\n    endpoint: "${refusing.url}"\n`,
    );
    // one process whose export the backend refused, one with spans the backend has not
    // answered, both still running, and one killed with its spans on disk
    const live = tracingProcess(home, silent.url, 'live');
    procs.push(live.child);
    assert.equal((await live.ready).pending, 2);
    const waiting = await run(home, ['status', '--json']);
    const first = JSON.parse(waiting.stdout);
    assert.equal(first.state, 'waiting', 'never "sending" while the backend has not answered');
    assert.equal(waiting.code, 1, 'degraded: spans wait');
    assert.equal(first.health, 'degraded');
    const refused = tracingProcess(home, refusing.url, 'refused');
    procs.push(refused.child);
    assert.equal((await refused.ready).spans, 2);
    const dead = tracingProcess(home, silent.url, 'dead');
    procs.push(dead.child);
    assert.equal((await dead.ready).pending, 2);
    dead.child.kill('SIGKILL');
    await new Promise((r) => dead.child.on('close', r));

    const before = spoolListing(home);
    const r = await run(home, ['status', '--json']);
    assert.equal(r.code, 2, `a refused key: not working\n${r.stderr}`);
    const s = JSON.parse(r.stdout);
    assert.equal(s.state, 'refused', `never "sending" after the backend refused the key: ${r.stdout}`);
    assert.equal(s.health, 'not working');
    assert.equal(s.last_export.status, 401);
    assert.equal(s.last_export.refused_key, true);
    assert.equal(
      s.spool.spans,
      6,
      'the spans of the running processes (a refused key keeps its spans) and of the killed one',
    );
    const byPid = Object.fromEntries(s.spool.processes.map((p) => [p.pid, p]));
    assert.equal(byPid[live.child.pid].live, true);
    assert.equal(byPid[live.child.pid].spans, 2);
    assert.equal(byPid[dead.child.pid].live, false);
    assert.equal(byPid[dead.child.pid].spans, 2);
    assert.deepEqual(
      { ...byPid[refused.child.pid].counters, at_ms: 0 },
      { requests: 1, failed_requests: 1, exported: 0, dropped: 0, last_status: 401, at_ms: 0 },
      'the live counters of another process',
    );
    const text = await run(home, ['status']);
    assert.match(text.stdout, /state: +refused: the backend refused the credentials: HTTP 401/);
    assert.match(text.stdout, /spool: +6 spans/);
    assert.match(text.stdout, /left by 1 exited process: 2 spans/);
    assert.match(
      text.stdout,
      new RegExp(
        `process ${refused.child.pid} \\(running\\): 2 spans \\(\\d+ bytes\\) waiting; exported 0, dropped 0, 1 requests \\(1 failed\\), last HTTP 401`,
      ),
    );
    assert.match(text.stdout, /last export: failed: HTTP 401: unauthorized, 2 spans/);
    assert.deepEqual(spoolListing(home), before, 'status adopted, moved or removed nothing');
    fs.utimesSync(configFile(home), new Date(), new Date(Date.now() + 2000)); // the user edits the file
    const edited = JSON.parse((await run(home, ['status', '--json'])).stdout);
    assert.equal(edited.state, 'changed', 'an outcome older than the settings says nothing about them');
    assert.equal(silent.requests.length, 2, 'status sent nothing');
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await refusing.close();
    await silent.close();
  }
});

test('doctor: a 404 is not an answering endpoint, texts are not doubled, disabled tracing is named as such', async () => {
  const wrongPath = await startReceiver(); // answers 404 off /v1/traces
  const home = tempDir('oat-cli-home-');
  try {
    assert.equal(
      (await run(home, ['install', '--backend', 'otlp', '--endpoint', `${wrongPath.url}/v1/traces/extra`, '--yes']))
        .code,
      0,
    );
    let r = await run(home, ['doctor']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL endpoint answers .*HTTP 404/);
    assert.match(r.stdout, /fix \(endpoint answers\): .*\/v1\/traces/);
    assert.doesNotMatch(r.stdout, /HTTP (\d+): HTTP \1/);
    r = await run(home, ['doctor'], { env: { ARIZE_TRACE_ENABLED: 'false' } });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL tracing enabled/);
    assert.doesNotMatch(r.stdout, /credentials/);
  } finally {
    await wrongPath.close();
  }
  const refusing = await startReceiver({ respond: () => ({ status: 400, body: 'Bad Request' }) });
  try {
    assert.equal((await run(home, ['install', '--backend', 'otlp', '--endpoint', refusing.url, '--yes'])).code, 0);
    const r = await run(home, ['doctor']);
    assert.match(r.stdout, /FAIL test span/);
    assert.doesNotMatch(r.stdout, /HTTP (\d+): HTTP \1/);
  } finally {
    await refusing.close();
  }
});

test('doctor checks the core OpenCode loads (the registered package), not its own copy', async () => {
  const home = tempDir('oat-cli-home-');
  const receiver = await startReceiver();
  try {
    assert.equal((await run(home, ['install', '--backend', 'phoenix', '--endpoint', receiver.url, '--yes'])).code, 0);
    const copy = fs
      .readdirSync(path.join(home, '.arize', 'harness', 'packages'))
      .map((n) => path.join(home, '.arize', 'harness', 'packages', n))[0];
    fs.writeFileSync(path.join(copy, 'prebuilds', 'linux-x64', 'node.napi.node'), 'not an ELF file');
    const r = await run(home, ['doctor']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stdout,
      new RegExp(
        `FAIL binary loads +~/\\.arize/harness/packages/${NAME}-[^:]+: opencode-arize-tracing: cannot load its native core`,
      ),
    );
  } finally {
    await receiver.close();
  }
});

test("uninstall after the README's by-hand route removes that registration and names the npm package left", async () => {
  const home = tempDir('oat-cli-home-');
  const configDir = path.join(home, '.config', 'opencode');
  install(configDir, pack().tarball, { binDir });
  fs.mkdirSync(path.join(configDir, 'plugin'), { recursive: true });
  fs.copyFileSync(path.join(configDir, 'node_modules', NAME, 'plugin', 'arize-tracing.ts'), pluginFile(home));
  const d = await run(home, ['doctor']);
  assert.match(
    d.stdout,
    /ok +plugin registered +~\/\.config\/opencode\/plugin\/arize-tracing\.ts -> ~\/\.config\/opencode\/node_modules\/opencode-arize-tracing/,
  );
  const r = await run(home, ['uninstall']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.existsSync(pluginFile(home)), false);
  assert.match(r.stdout, /removed ~\/\.config\/opencode\/plugin\/arize-tracing\.ts \(the plugin file copied by hand/);
  assert.match(r.stdout, /npm uninstall --prefix ~\/\.config\/opencode opencode-arize-tracing/);
  assert.doesNotMatch(r.stdout, /nothing to remove/);
});

test('a plugin registered twice (plugin file and opencode.json) is warned about by install and doctor', async () => {
  const home = tempDir('oat-cli-home-');
  const configDir = path.join(home, '.config', 'opencode');
  fs.mkdirSync(configDir, { recursive: true });
  fs.writeFileSync(path.join(configDir, 'opencode.json'), JSON.stringify({ plugin: [NAME] }));
  const r = await run(home, ['install', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:9', '--yes']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /warning: the plugin is registered 2 times \(~\/\.config\/opencode\/plugin\/arize-tracing\.ts, ~\/\.config\/opencode\/opencode\.json \("plugin": "opencode-arize-tracing"\)\)/,
  );
  const d = await run(home, ['doctor']);
  assert.match(d.stdout, /WARN registered once +2 registrations/);
});
