'use strict';
// Node only: spawns `node lib/cli.js` with the source build of the core.
// Backends as data (issue 28 item 5): the core's backend table (native/backend.c) is the one list
// of backend kinds. `install` offers, asks for and writes exactly the core's rows, and what it
// writes for each is the backend the core then resolves: a row added to the table is offered
// and works without a line of install.js, and install never offers what the core lacks.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const core = require('node-gyp-build')(ROOT); // the source build (build/Release), this tree's table
const CORE_FILE = require('node-gyp-build').path(ROOT);
const schema = JSON.parse(core.settingsSchema());
const names = schema.backends.map((b) => b.name);

test("install's menu and the settings' target choices are the core's backend rows, in order", () => {
  const { backendChoices } = require('../lib/cli/install.js');
  const choices = backendChoices();
  assert.deepEqual(
    names.map((_, i) => choices[String(i + 1)]),
    names,
  );
  assert.deepEqual([...new Set(Object.values(choices))], names);
  assert.deepEqual(require('../lib/settings.js').TARGETS, names);
  const target = schema.settings.find((s) => s.keys[0] === 'harnesses.opencode.target');
  assert.deepEqual(target.choices, names);
});

// A user's run: HOME a temporary directory, none of the backend variables of this shell.
function cli(home, args) {
  const env = { PATH: process.env.PATH, HOME: home, ARIZE_TRACING_NATIVE: CORE_FILE };
  return spawnSync(process.execPath, [path.join(ROOT, 'lib', 'cli.js'), ...args], { env, encoding: 'utf8' });
}

for (const b of schema.backends) {
  test(`install --backend ${b.name} writes settings the core resolves to ${b.name}`, () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'oat-backends-'));
    try {
      const flags = ['install', '--yes', '--backend', b.name];
      for (const s of b.settings.filter((x) => x.required))
        flags.push(`--${s.key.replace(/_/g, '-')}`, s.key === 'endpoint' ? 'http://127.0.0.1:9' : `test-${s.key}`);
      const put = cli(home, flags);
      assert.equal(put.status, 0, put.stderr);
      assert.match(put.stdout, new RegExp(`harnesses\\.opencode: ${b.display}`));
      const status = cli(home, ['status', '--json']);
      const s = JSON.parse(status.stdout);
      assert.equal(s.backend.target, b.name, status.stdout);
      // and the block alone (no target) is the same backend for install as for the core
      const file = path.join(home, '.arize', 'harness', 'config.yaml');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^\s*target: .*\n/m, ''));
      const again = JSON.parse(cli(home, ['status', '--json']).stdout);
      const rerun = cli(home, ['install', '--yes']);
      if (again.backend.target === 'none')
        assert.notEqual(rerun.status, 0, 'install found a backend the core does not');
      else
        assert.match(
          rerun.stdout,
          new RegExp(`harnesses\\.opencode: ${schema.backends.find((r) => r.name === again.backend.target).display}`),
        );
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
}

test("install's summary and its endpoint question show no password, query or fragment of the endpoint", () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'oat-backends-'));
  try {
    const endpoint = 'http://user:S3cretPassw0rd@127.0.0.1:9/base?token=S3cretToken#S3cretFragment';
    const put = cli(home, ['install', '--yes', '--backend', 'phoenix', '--endpoint', endpoint]);
    assert.equal(put.status, 0, put.stderr);
    assert.match(put.stdout, /Phoenix at http:\/\/127\.0\.0\.1:9\/base,/);
    assert.doesNotMatch(put.stdout + put.stderr, /S3cret/);
    // the file keeps the endpoint as given (it is what the core sends to)
    const file = path.join(home, '.arize', 'harness', 'config.yaml');
    assert.ok(fs.readFileSync(file, 'utf8').includes(endpoint));
    // asked again in a terminal, the stored endpoint is offered without its secrets
    const asked = spawnSync(
      'script',
      [
        '-qec',
        `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(ROOT, 'lib', 'cli.js'))} install`,
        '/dev/null',
      ],
      { env: { PATH: process.env.PATH, HOME: home, ARIZE_TRACING_NATIVE: CORE_FILE }, input: '2\n', encoding: 'utf8' },
    );
    if (asked.error) return; // no `script` (util-linux) here
    assert.match(asked.stdout, /endpoint \[http:\/\/127\.0\.0\.1:9\/base\]/);
    assert.doesNotMatch(asked.stdout, /S3cret/);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test("install shows an endpoint by the core's rule (urlForDisplay), and an older core without it shows none", () => {
  const endpoint = 'https://ops:S3cretPassw0rd@127.0.0.1:9/v1/traces?key=S3cretToken#S3cretFragment';
  assert.equal(core.urlForDisplay(endpoint), 'https://127.0.0.1:9/v1/traces');
  // anything but a string is a TypeError that names the door, as for redactText
  assert.throws(() => core.urlForDisplay(42), { name: 'TypeError', message: 'urlForDisplay takes a string' });
  assert.throws(() => core.redactText(), { name: 'TypeError', message: 'redactText takes a string' });
  const lib = spawnSync(
    process.execPath,
    ['-e', `console.log(require(${JSON.stringify(ROOT)}).urlForDisplay(${JSON.stringify(endpoint)}))`],
    { env: { PATH: process.env.PATH, ARIZE_TRACING_NATIVE: CORE_FILE }, encoding: 'utf8' },
  );
  assert.equal(lib.stdout, 'https://127.0.0.1:9/v1/traces\n', lib.stderr);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'oat-backends-'));
  try {
    // an older core: this build's, without the door (a package's lib and core normally match)
    const older = path.join(home, 'older-core.js');
    fs.writeFileSync(
      older,
      `const core = { ...require(${JSON.stringify(CORE_FILE)}) };\ndelete core.urlForDisplay;\nmodule.exports = core;\n`,
    );
    const put = spawnSync(
      process.execPath,
      [path.join(ROOT, 'lib', 'cli.js'), 'install', '--yes', '--backend', 'phoenix', '--endpoint', endpoint],
      { env: { PATH: process.env.PATH, HOME: home, ARIZE_TRACING_NATIVE: older }, encoding: 'utf8' },
    );
    assert.equal(put.status, 0, put.stderr);
    assert.match(put.stdout, /Phoenix at \(endpoint not shown: no core here to hide its credentials\)/);
    assert.doesNotMatch(put.stdout + put.stderr, /S3cret/);
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
});
