'use strict';
// Per-project settings with the real OpenCode (issue 27): the project OpenCode runs in carries
// .opencode/arize-tracing.yaml beside OpenCode's own .opencode files; OpenCode runs as usual
// (the file is not one of its own), and every span that reaches the receiver carries the
// project's name and attributes, with the project's logging switch and redaction rule applied
// over the user's config.yaml; `status` in that directory names the file each setting came from.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const h = require('./harness.js');

const prerequisite = h.missingPrerequisite();
const CORE = path.join(__dirname, '..', '..', 'build', 'Release', 'arize_tracing.node');

describe('the real OpenCode in a project with .opencode/arize-tracing.yaml', { skip: prerequisite || false }, () => {
  let receiver, model, oc, run;

  before(async () => {
    receiver = await startReceiver();
    model = await startModelServer();
    oc = h.makeOpenCodeHome({
      route: 'plugin-file',
      tarball: h.packPackage().tarball,
      modelURL: model.baseURL,
      receiverURL: receiver.url,
      // this checkout's core: the bundled prebuild is regenerated from these sources at release
      env: { ARIZE_TRACING_NATIVE: CORE },
      files: {
        '.opencode/arize-tracing.yaml': [
          'project_name: checkout-service',
          'attributes:',
          '  repo: checkout',
          'logging:',
          '  tool_content: false',
          'redact:',
          '  patterns: ["TICKET-[0-9]{4}"]',
          '',
        ].join('\n'),
      },
    });
    // the user's own file: an attribute of theirs, kept beside the project's
    const userDir = path.join(oc.home, '.arize', 'harness');
    fs.mkdirSync(userDir, { recursive: true });
    fs.writeFileSync(
      path.join(userDir, 'config.yaml'),
      'harnesses:\n  opencode:\n    project_name: my-traces\n    attributes:\n      team: platform\n',
      { mode: 0o600 },
    );
    model.play({
      script: [
        { text: 'Reading it.', tool: 'read', args: { filePath: path.join(oc.project, 'hello.txt') } },
        { text: 'It says hello; see TICKET-1234.' },
      ],
      title: 'What hello says',
    });
    run = await h.runOpenCode(oc, ['run', 'What does hello.txt say?'], { timeoutMs: 150000 });
  });

  after(async () => {
    await receiver?.close();
    await model?.close();
    oc?.remove();
  });

  test("every span carries the project's name and attributes, and its switches and rules apply", async () => {
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    const spans = await h.settle(receiver, (s) => s.some((x) => x.name === 'Turn'), { timeoutMs: 20000 });
    assert.ok(spans.length >= 3, h.formatTree(spans));
    for (const s of spans) {
      assert.equal(s.attributes['arize.project.name'], 'checkout-service', s.name);
      assert.equal(s.attributes.repo, 'checkout');
      assert.equal(s.attributes.team, 'platform', "the user's attribute stays");
    }
    const read = spans.find((s) => s.name === 'read');
    assert.ok(read, h.formatTree(spans));
    assert.ok(!JSON.stringify(read.attributes).includes('hello from the e2e project'), 'tool_content: false');
    const all = JSON.stringify(spans.map((s) => s.attributes));
    assert.ok(!all.includes('TICKET-1234'), "the project's rule redacts");
    assert.match(all, /<redacted:user-rule>/);
  });

  test('status in the project names the file each setting came from', () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'lib', 'cli.js'), 'status'], {
      cwd: oc.project,
      env: { ...oc.env, ARIZE_TRACING_NATIVE: CORE },
      encoding: 'utf8',
    });
    assert.match(
      r.stdout,
      /project: +.*\.opencode\/arize-tracing\.yaml \(read over ~\/\.arize\/harness\/config\.yaml\)/,
    );
    assert.match(r.stdout, /project_name +.*\.opencode\/arize-tracing\.yaml/);
    assert.match(r.stdout, /attributes +.*\.opencode\/arize-tracing\.yaml \+ ~\/\.arize\/harness\/config\.yaml/);
    console.log(r.stdout);
  });
});
