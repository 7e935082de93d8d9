'use strict';
// Install routes with the real OpenCode (issue 13):
//   - `opencode plugin <module>` ("install plugin and update config") installs the package and
//     lists it in the project's .opencode/opencode.json; turns are traced; `doctor` run from
//     that copy finds the registration and checks the core OpenCode loads from its cache;
//   - registered twice (that entry and the README's plugin file), one copy traces and the
//     other says so in OpenCode's log: no span arrives twice;
//   - `uninstall` finds both routes and removes them.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const h = require('./harness.js');

const prerequisite = h.missingPrerequisite();
const RUN_TIMEOUT_MS = 120000;
const NAME = 'opencode-arize-tracing';

describe('install routes with the real OpenCode', { skip: prerequisite || false }, () => {
  let packed, model, receiver, oc, spec;
  const runs = {};

  const opencode = async (label, args) => {
    const r = await h.runOpenCode(oc, args, { timeoutMs: RUN_TIMEOUT_MS });
    runs[label] = r;
    assert.equal(
      r.code,
      0,
      `${label}: opencode ${args.join(' ')} exited ${r.code}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`,
    );
    return r;
  };
  const cli = (args) => {
    const copy = path.join(oc.home, '.cache', 'opencode', 'packages', spec, 'node_modules', NAME, 'lib', 'cli.js');
    try {
      return {
        code: 0,
        stdout: execFileSync(process.execPath, [copy, ...args], {
          cwd: oc.project,
          env: { ...oc.env, PWD: oc.project },
          encoding: 'utf8',
        }),
      };
    } catch (error) {
      return { code: error.status, stdout: String(error.stdout), stderr: String(error.stderr) };
    }
  };
  const turns = (marker) =>
    h
      .uniqueSpans(receiver.spans())
      .filter((s) => !s.parentSpanId && String(s.attributes['input.value']).includes(marker));

  before(async () => {
    packed = h.packPackage();
    spec = `${NAME}@file:${packed.tarball}`;
    model = await startModelServer();
    receiver = await startReceiver();
    oc = h.makeOpenCodeHome({
      route: 'none',
      tarball: packed.tarball,
      modelURL: model.baseURL,
      receiverURL: receiver.url,
    });
    // OpenCode npm-installs @opencode-ai/plugin into every config dir without node_modules;
    // the project's .opencode becomes one. A stub keeps it offline (see harness.js).
    const dot = path.join(oc.project, '.opencode');
    fs.mkdirSync(path.join(dot, 'node_modules', '@opencode-ai', 'plugin'), { recursive: true });
    fs.writeFileSync(
      path.join(dot, 'node_modules', '@opencode-ai', 'plugin', 'package.json'),
      JSON.stringify({ name: '@opencode-ai/plugin', version: h.OPENCODE_VERSION }),
    );
    fs.writeFileSync(
      path.join(dot, 'package.json'),
      JSON.stringify({ dependencies: { '@opencode-ai/plugin': h.OPENCODE_VERSION } }),
    );
    fs.writeFileSync(
      path.join(dot, 'package-lock.json'),
      JSON.stringify({
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { dependencies: { '@opencode-ai/plugin': h.OPENCODE_VERSION } },
          'node_modules/@opencode-ai/plugin': { version: h.OPENCODE_VERSION },
        },
      }),
    );
    model.play({
      scripts: {
        VIA_PLUGIN_COMMAND: [{ text: 'Traced through opencode plugin.', usage: { prompt: 10, completion: 2 } }],
        REGISTERED_TWICE: [{ text: 'Traced once.', usage: { prompt: 10, completion: 2 } }],
      },
    });
  });
  after(async () => {
    for (const r of [receiver, model]) if (r) await r.close();
    if (oc) oc.remove();
    if (packed) fs.rmSync(packed.dir, { recursive: true, force: true });
  });

  test('`opencode plugin <module>` installs the package, lists it, and the next run is traced', async () => {
    await opencode('plugin', ['plugin', spec]);
    const listed = JSON.parse(fs.readFileSync(path.join(oc.project, '.opencode', 'opencode.json'), 'utf8')).plugin;
    assert.deepEqual(listed, [spec]);
    await opencode('run-1', ['run', '--print-logs', 'VIA_PLUGIN_COMMAND: hello']);
    await h.settle(receiver, () => turns('VIA_PLUGIN_COMMAND').length > 0, { timeoutMs: 20000 });
    assert.equal(turns('VIA_PLUGIN_COMMAND').length, 1);
  });

  test('doctor, run from that copy, finds the opencode.json entry and checks the core OpenCode loads', () => {
    const r = cli(['doctor']);
    assert.match(
      r.stdout,
      /ok +plugin registered +\.opencode\/opencode\.json|ok +plugin registered +\S*\.opencode\/opencode\.json/,
    );
    assert.match(r.stdout, /-> ~\/\.cache\/opencode\/packages\/.*node_modules\/opencode-arize-tracing/);
    assert.match(
      r.stdout,
      /ok +binary loads +\S*\.cache\/opencode\/packages\/\S*\/prebuilds\/linux-x64\/node\.napi\.node/,
    );
  });

  test('registered twice (that entry and a plugin file), one copy traces: no span arrives twice', async () => {
    const configDir = path.join(oc.home, '.config', 'opencode');
    execFileSync(
      'npm',
      ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', packed.tarball],
      { cwd: configDir, env: { ...oc.env, npm_config_userconfig: path.join(oc.home, '.npmrc') }, stdio: 'ignore' },
    );
    fs.mkdirSync(path.join(configDir, 'plugin'), { recursive: true });
    fs.copyFileSync(
      path.join(configDir, 'node_modules', NAME, 'plugin', 'arize-tracing.ts'),
      path.join(configDir, 'plugin', 'arize-tracing.ts'),
    );
    const before = receiver.spans().length;
    const r = await opencode('run-2', ['run', '--print-logs', 'REGISTERED_TWICE: hello']);
    await h.settle(receiver, () => turns('REGISTERED_TWICE').length > 0, { timeoutMs: 20000 });
    const fresh = receiver.spans().slice(before);
    assert.deepEqual(h.duplicateSpans(fresh), [], 'a span arrived twice');
    assert.ok(fresh.length >= 2, `spans of the turn arrived: ${fresh.length}`);
    assert.match(r.stderr + h.openCodeLog(oc), /registered twice/, "the idle copy says so in OpenCode's log");
  });

  test('uninstall removes both registrations', () => {
    const r = cli(['uninstall']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(oc.project, '.opencode', 'opencode.json'), 'utf8')).plugin,
      undefined,
    );
    assert.equal(fs.existsSync(path.join(oc.home, '.config', 'opencode', 'plugin', 'arize-tracing.ts')), false);
    assert.match(r.stdout, /npm uninstall --prefix ~\/\.config\/opencode opencode-arize-tracing/);
  });
});
