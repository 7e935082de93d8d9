'use strict';
// Secret redaction with the real OpenCode (issue 25): the agent reads a .env with the read tool
// (OpenCode asks before reading *.env; the project's opencode.json allows it, as a user who
// lets the agent read it does); the trace that reaches the receiver carries the file with each
// secret replaced by its marker, every other line as it was, and nothing of any secret anywhere.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const { generator } = require('../redact/corpus.js');
const h = require('./harness.js');

const prerequisite = h.missingPrerequisite();
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// Fake but well-formed secrets, made here: none is committed.
function dotenv() {
  const g = generator(11);
  const secrets = {
    OPENAI_API_KEY: `sk-proj-${g.chars(ALNUM + '-_', 100)}`,
    ANTHROPIC_API_KEY: `sk-ant-api03-${g.chars(ALNUM + '-_', 93)}AA`,
    GITHUB_TOKEN: `ghp_${g.chars(ALNUM, 36)}`,
    DATABASE_PASSWORD: g.chars(ALNUM, 14),
    SESSION_SECRET: g.chars('0123456789abcdef', 64),
  };
  const text = [
    '# staging',
    'PORT=3000',
    `OPENAI_API_KEY=${secrets.OPENAI_API_KEY}`,
    `ANTHROPIC_API_KEY=${secrets.ANTHROPIC_API_KEY}`,
    `GITHUB_TOKEN=${secrets.GITHUB_TOKEN}`,
    `DATABASE_URL=postgres://app:${secrets.DATABASE_PASSWORD}@db.internal:5432/app`,
    `SESSION_SECRET=${secrets.SESSION_SECRET}`,
    'LOG_LEVEL=debug',
    '',
  ].join('\n');
  return { text, secrets };
}

describe('a .env read by the real OpenCode arrives redacted', { skip: prerequisite || false }, () => {
  let receiver, model, oc, run;
  const { text, secrets } = dotenv();

  before(async () => {
    receiver = await startReceiver();
    model = await startModelServer();
    oc = h.makeOpenCodeHome({
      route: 'plugin-file',
      tarball: h.packPackage().tarball,
      modelURL: model.baseURL,
      receiverURL: receiver.url,
      // this checkout's core: the bundled prebuild is regenerated from these sources at release
      env: { ARIZE_TRACING_NATIVE: path.join(__dirname, '..', '..', 'build', 'Release', 'arize_tracing.node') },
      files: { '.env': text },
    });
    const configFile = path.join(oc.project, 'opencode.json');
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    config.permission = { read: { '*.env': 'allow' } };
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    model.play({
      script: [
        { text: 'Reading the settings.', tool: 'read', args: { filePath: path.join(oc.project, '.env') } },
        { text: 'The app listens on port 3000.' },
      ],
      title: 'Port of the app',
    });
    run = await h.runOpenCode(oc, ['run', 'Which port does the app use? Look at .env'], { timeoutMs: 150000 });
  });

  after(async () => {
    await receiver?.close();
    await model?.close();
    oc?.remove();
  });

  test('the read span holds the file with markers in place of its secrets, and nothing else changed', async () => {
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    const spans = await h.settle(receiver, (s) => s.some((x) => x.name === 'Turn'), { timeoutMs: 20000 });
    const read = spans.find((s) => s.name === 'read');
    assert.ok(read, h.formatTree(spans));
    assert.equal(read.attributes['opencode.redactions'], 5);
    assert.equal(
      read.attributes['output.value'],
      [
        `<path>${path.join(oc.project, '.env')}</path>`,
        '<type>file</type>',
        '<content>',
        '1: # staging',
        '2: PORT=3000',
        '3: OPENAI_API_KEY=<redacted:openai-api-key>',
        '4: ANTHROPIC_API_KEY=<redacted:anthropic-api-key>',
        '5: GITHUB_TOKEN=<redacted:github-token>',
        '6: DATABASE_URL=postgres://app:<redacted:password-in-url>@db.internal:5432/app',
        '7: SESSION_SECRET=<redacted:secret-assignment>',
        '8: LOG_LEVEL=debug',
        '',
        '(End of file - total 8 lines)',
        '</content>',
      ].join('\n'),
    );
    const all = JSON.stringify(
      spans.map((s) => [s.name, s.attributes, s.status, s.events]),
      (k, v) => (typeof v === 'bigint' ? String(v) : v),
    );
    for (const [name, value] of Object.entries(secrets))
      assert.ok(!all.includes(value.slice(-10)), `nothing of ${name} in any span`);
    assert.match(all, /LOG_LEVEL=debug/);
  });
});
