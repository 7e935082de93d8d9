'use strict';
// Secret redaction end to end: a real OpenCode session (the shared capture) in which the agent
// reads a .env file arrives at a local OTLP receiver with the secrets replaced by markers and
// everything else intact; ARIZE_REDACT_SECRETS=false sends them as they are. Each scenario runs
// in a fresh process of the runtime running this file (`node --test`: Node, `bun test`: Bun).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startReceiver } = require('./receiver.js');
const { tempHome, cleanEnv, run } = require('./helpers/run.js');
const { payload } = require('./helpers/fixtures.js');
const { generator } = require('./redact/corpus.js');

const CAPTURE = 'main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json';

// A .env with fake but well-formed secrets (made here: no secret is committed).
function dotenv() {
  const g = generator(7);
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const secrets = {
    openai: `sk-proj-${g.chars(alnum + '-_', 120)}`,
    github: `ghp_${g.chars(alnum, 36)}`,
    aws: `AKIA${g.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`,
    password: `Zq8${g.chars(alnum, 10)}!x`,
  };
  const text = [
    '# local settings',
    'PORT=3000',
    `OPENAI_API_KEY=${secrets.openai}`,
    `GITHUB_TOKEN=${secrets.github}`,
    `AWS_ACCESS_KEY_ID=${secrets.aws}`,
    `DATABASE_URL=postgres://app:${secrets.password}@db.internal:5432/app`,
    'LOG_LEVEL=debug',
  ].join('\n');
  return { text, secrets };
}

// The capture with its completed `read` call turned into a read of .env, in OpenCode's own
// output shape for the read tool.
function envSession(text) {
  const p = payload(CAPTURE);
  const part = p.messages.flatMap((m) => m.parts).find((x) => x.tool === 'read' && x.state.status === 'completed');
  const numbered = text
    .split('\n')
    .map((l, i) => `${i + 1}: ${l}`)
    .join('\n');
  part.state.input.filePath = '/home/user/proj/.env';
  part.state.title = '.env';
  part.state.output = `<path>/home/user/proj/.env</path>\n<type>file</type>\n<content>\n${numbered}\n\n(End of file - total ${text.split('\n').length} lines)\n</content>`;
  return p;
}

async function traced(env) {
  const { text, secrets } = dotenv();
  const receiver = await startReceiver();
  try {
    const out = await run(
      'api-scenario.js',
      { steps: [{ payload: envSession(text) }, { flush: 10000 }] },
      cleanEnv({ HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url, ...env }),
    );
    assert.ok(out.steps[0].reconcile.spans > 0, JSON.stringify(out.steps[0]));
    assert.equal(out.steps[1].flush.pending, 0);
    return { spans: receiver.spans(), secrets };
  } finally {
    await receiver.close();
  }
}

test('a .env read by a tool arrives redacted, everything else intact', async () => {
  const { spans, secrets } = await traced({});
  const read = spans.find((s) => s.name === 'read' && s.attributes['tool.file_path'] === '/home/user/proj/.env');
  assert.ok(read, 'the read span arrived');
  assert.equal(
    read.attributes['output.value'],
    [
      '<path>/home/user/proj/.env</path>',
      '<type>file</type>',
      '<content>',
      '1: # local settings',
      '2: PORT=3000',
      '3: OPENAI_API_KEY=<redacted:openai-api-key>',
      '4: GITHUB_TOKEN=<redacted:github-token>',
      '5: AWS_ACCESS_KEY_ID=<redacted:aws-access-key>',
      '6: DATABASE_URL=postgres://app:<redacted:password-in-url>@db.internal:5432/app',
      '7: LOG_LEVEL=debug',
      '',
      '(End of file - total 7 lines)',
      '</content>',
    ].join('\n'),
  );
  assert.equal(read.attributes['opencode.redactions'], 4);
  assert.equal(read.attributes['tool.name'], 'read');
  // the model call that consumed the output carries it too, as text and inside JSON
  const consumer = spans.find(
    (s) =>
      s !== read &&
      Object.values(s.attributes).some((v) => typeof v === 'string' && v.includes('AWS_ACCESS_KEY_ID=<redacted')),
  );
  assert.ok(consumer, 'the next model call shows the redacted output');
  const input = consumer.attributes['input.value'];
  assert.equal(consumer.attributes['input.mime_type'], 'application/json');
  assert.match(JSON.parse(input)[0].output, /GITHUB_TOKEN=<redacted:github-token>/);
  // nothing of any secret, anywhere
  const all = JSON.stringify(
    spans.map((s) => [s.name, s.attributes, s.status, s.events]),
    (k, v) => (typeof v === 'bigint' ? String(v) : v),
  );
  for (const [name, value] of Object.entries(secrets))
    assert.ok(!all.includes(value.slice(-12)), `no part of the ${name} secret in any span`);
  // spans without a secret carry no count
  assert.ok(spans.some((s) => s.attributes['opencode.redactions'] === undefined));
});

test('ARIZE_REDACT_SECRETS=false sends the .env as it was read', async () => {
  const { spans, secrets } = await traced({ ARIZE_REDACT_SECRETS: 'false' });
  const read = spans.find((s) => s.name === 'read' && s.attributes['tool.file_path'] === '/home/user/proj/.env');
  assert.ok(read.attributes['output.value'].includes(`3: OPENAI_API_KEY=${secrets.openai}`));
  assert.ok(read.attributes['output.value'].includes(secrets.password));
  assert.equal(read.attributes['opencode.redactions'], undefined);
  assert.ok(!JSON.stringify(spans.map((s) => s.attributes)).includes('<redacted:'));
});
