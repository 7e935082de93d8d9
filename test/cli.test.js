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
  fs.writeFileSync(script, `const m = await import(${JSON.stringify(file)}); console.log(Object.keys(m).join(), typeof m.ArizeTracing);`);
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
    const args = ['install', '--backend', 'phoenix', '--endpoint', receiver.url, '--api-key', 'px-secret-4242',
      '--project-name', 'cli-test', '--yes'];
    const first = await step(args);
    assert.equal(first.code, 0, first.stderr);
    const yaml = fs.readFileSync(configFile(home), 'utf8');
    assert.equal(mode(configFile(home)), '600');
    assert.match(yaml, /\n  opencode:\n    # opencode-arize-tracing:managed[^\n]*\n    project_name: "cli-test"\n    target: phoenix\n    endpoint: "http:\/\/127\.0\.0\.1:\d+"\n    api_key: "px-secret-4242"\n/);
    // every line of the other harnesses' file is still there, in order
    const kept = yaml.split('\n').filter((l) => OTHER_HARNESSES.split('\n').includes(l));
    assert.deepEqual(kept, OTHER_HARNESSES.split('\n'));
    assert.ok(yaml.indexOf('  opencode:') < yaml.indexOf('# logging applies to all'), 'the block sits inside harnesses');
    assert.match(fs.readFileSync(pluginFile(home), 'utf8'), /^\/\/ opencode-arize-tracing:managed/);
    assert.equal(await pluginLoads(pluginFile(home), home), 'ArizeTracing function');

    const again = await step(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already registered/);
    assert.equal(fs.readFileSync(configFile(home), 'utf8'), yaml, 'install twice writes the same file');

    const doctor = await step(['doctor']);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    for (const link of ['plugin registered', 'binary loads', 'config parses', 'credentials', 'endpoint answers', 'test span'])
      assert.match(doctor.stdout, new RegExp(`ok +${link}`));
    assert.match(doctor.stdout, /all links work/);
    assert.deepEqual(receiver.spans().map((s) => s.name).sort(), ['LLM: doctor', 'Turn']);
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

test('install --project registers the plugin in the project only; uninstall --project removes just that', async () => {
  const home = tempDir('oat-cli-home-');
  const project = tempDir('oat-cli-project-');
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=k%3D1' };
  const r = await run(home, ['install', '--project', '--yes'], { env, cwd: project });
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(project, '.opencode', 'plugin', 'arize-tracing.ts');
  assert.ok(fs.existsSync(file));
  assert.equal(fs.existsSync(pluginFile(home)), false);
  assert.match(fs.readFileSync(configFile(home), 'utf8'), /target: otlp\n    endpoint: "http:\/\/127\.0\.0\.1:4318"\n    headers:\n      "x-api-key": "k=1"\n/);
  assert.equal(await pluginLoads(file, home), 'ArizeTracing function');
  const u = await run(home, ['uninstall', '--project'], { cwd: project });
  assert.equal(u.code, 0, u.stderr);
  assert.equal(fs.existsSync(file), false);
  assert.ok(fs.existsSync(configFile(home)), 'the config block stays: other projects use it');
});

test('doctor stops at the first broken link and prints its fix', async () => {
  const home = tempDir('oat-cli-home-');
  // nothing configured: the plugin is missing first
  let r = await run(home, ['doctor']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAIL plugin registered/);
  assert.match(r.stdout, /fix \(plugin registered\): run `opencode-arize-tracing install`/);

  // an endpoint where nothing listens
  const closed = await startReceiver();
  const url = closed.url;
  await closed.close();
  assert.equal((await run(home, ['install', '--backend', 'otlp', '--endpoint', url, '--yes'])).code, 0);
  r = await run(home, ['doctor']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ok +credentials/);
  assert.match(r.stdout, /FAIL endpoint answers .*ECONNREFUSED/);
  assert.match(r.stdout, /fix \(endpoint answers\): nothing answers at http:\/\/127\.0\.0\.1:\d+\/v1\/traces: start the backend/);
  assert.doesNotMatch(r.stdout, /test span/);

  // a backend that refuses the credentials
  const refusing = await startReceiver({ respond: () => ({ status: 401, body: 'bad key' }) });
  try {
    assert.equal((await run(home, ['install', '--backend', 'otlp', '--endpoint', refusing.url, '--header', 'authorization=wrong', '--yes'])).code, 0);
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
  assert.match(r.stdout, /FAIL config parses +config \S+config\.yaml: line \d+/);
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
  const json = { harnesses: { codex: { project_name: 'codex', target: 'phoenix', endpoint: 'http://127.0.0.1:6006' } } };
  writeConfig(home, JSON.stringify(json), 'config.json');
  const file = path.join(home, '.arize', 'harness', 'config.json');
  const r = await run(home, ['install', '--backend', 'phoenix', '--endpoint', 'http://127.0.0.1:6006', '--project-name', 'p', '--yes']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.existsSync(configFile(home)), false, 'no config.yaml appears to shadow config.json');
  assert.equal(mode(file), '600');
  const written = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(written.harnesses.codex, json.harnesses.codex);
  assert.deepEqual(written.harnesses.opencode, { project_name: 'p', target: 'phoenix', endpoint: 'http://127.0.0.1:6006' });
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

test('in a terminal, install asks for what flags and environment did not give', { skip: !hasScript() && 'no `script` (util-linux) here' }, async () => {
  const home = tempDir('oat-cli-home-');
  // `script` gives the CLI a terminal; the answers are typed ahead and wait for their question
  const r = await runProcess('script', ['-qec', `${path.join(binDir, 'node')} ${cli} install`, '/dev/null'],
    { env: Object.assign(userEnv(home, binDir), { PATH: `${binDir}:/usr/bin:/bin` }), input: '3\nhttps://collector.example.com:4318\nx-key=abc\n\n' });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = r.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  assert.match(out, /Backend: 1\) Arize AX {2}2\) Phoenix {2}3\) another OTLP endpoint \[1\]: /);
  assert.match(out, /OTLP\/HTTP endpoint/);
  assert.match(out, /Project name \[opencode\]: /);
  assert.match(fs.readFileSync(configFile(home), 'utf8'),
    /project_name: "opencode"\n    target: otlp\n    endpoint: "https:\/\/collector\.example\.com:4318"\n    headers:\n      "x-key": "abc"\n/);
});

function hasScript() {
  try {
    require('node:child_process').execFileSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
