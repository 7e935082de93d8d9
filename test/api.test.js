'use strict';
// The public JS API (lib/) against a local OTLP/HTTP receiver, each scenario in a fresh
// process of the runtime running this file: `node --test` tests Node, `bun test` tests Bun.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { ROOT, tempHome, cleanEnv, run, readLog } = require('./helpers/run.js');

const ONE_BASH = 'one-bash-call/snap-3-session.idle.json';
const ONE_BASH_EARLY = 'one-bash-call/snap-1-message.updated.json';

function scenario(steps, env, options) {
  return run('api-scenario.js', { steps }, cleanEnv(env), options);
}

function byName(spans, name) {
  return spans.filter((s) => s.name === name);
}

test('an idle snapshot arrives as one Turn -> LLM -> TOOL trace with OpenCode times', async () => {
  const receiver = await startReceiver();
  try {
    const out = await scenario([{ fixture: ONE_BASH, type: 'close' }, { flush: 10000 }], {
      HOME: tempHome(),
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.deepEqual(out.steps[0].reconcile, { spans: 4 });
    assert.deepEqual(out.steps[1].flush, { exported: 4, pending: 0, dropped: 0 });
    const spans = receiver.spans();
    assert.equal(spans.length, 4);
    const [turn] = byName(spans, 'Turn');
    const llms = byName(spans, 'LLM: m1');
    const [tool] = byName(spans, 'bash');
    assert.equal(turn.parentSpanId, '');
    assert.equal(turn.attributes['openinference.span.kind'], 'CHAIN');
    assert.equal(turn.attributes['input.value'], 'again');
    assert.equal(llms.length, 2);
    for (const llm of llms) {
      assert.equal(llm.parentSpanId, turn.spanId);
      assert.equal(llm.traceId, turn.traceId);
    }
    const caller = llms.find((l) => l.attributes['llm.finish_reason'] === 'tool-calls');
    assert.equal(tool.parentSpanId, caller.spanId);
    assert.equal(tool.attributes['tool.name'], 'bash');
    assert.equal(tool.attributes['tool.command'], 'echo hi');
    assert.equal(tool.attributes['tool.id'], 'call_bash_5');
    assert.equal(JSON.parse(tool.attributes['input.value']).command, 'echo hi');
    assert.equal(caller.attributes['llm.token_count.prompt'], 120);
    assert.equal(caller.attributes['llm.token_count.completion'], 30);
    assert.equal(caller.attributes['llm.token_count.total'], 150);
    assert.equal(caller.attributes['llm.token_count.prompt_details.cache_read'], 20);
    assert.equal(caller.attributes['llm.token_count.completion_details.reasoning'], 5);
    assert.equal(caller.attributes['llm.provider'], 'mock');
    // OpenCode's clocks: the user message's creation and the last completion
    assert.equal(turn.startNs, 1795480533666n * 1000000n);
    assert.equal(turn.endNs, BigInt(Math.max(...llms.map((l) => Number(l.endNs / 1000000n)))) * 1000000n);
    for (const s of spans) {
      assert.equal(s.attributes['session.id'], 'ses_df50545e4ffeLycEmyiOvrROkE');
      assert.ok(s.startNs >= turn.startNs && s.endNs <= turn.endNs, `${s.name} inside its turn`);
      assert.equal(s.resource['service.name'], 'opencode');
      assert.equal(s.resource['openinference.project.name'], 'opencode');
    }
    assert.equal(receiver.requests[0].headers['x-project-name'], 'opencode');
    assert.equal(receiver.requests[0].headers['content-type'], 'application/x-protobuf');
  } finally {
    await receiver.close();
  }
});

test('reconcile(payload, {turns: true}) says how many of the new spans are Turns; without it the result has no turns', async () => {
  const MAIN = 'main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json';
  const env = { HOME: tempHome() };
  const counted = await scenario(
    [
      { fixture: MAIN, options: { turns: true } },
      { fixture: MAIN, options: { turns: true } },
    ],
    env,
  );
  assert.equal(counted.steps[0].reconcile.spans, 15);
  assert.equal(counted.steps[0].reconcile.turns, 1, 'the one turn of the session');
  assert.equal(counted.steps[1].reconcile.turns, 0, 'nothing new: no Turn');
  const plain = await scenario([{ fixture: ONE_BASH, type: 'close' }], { HOME: tempHome() });
  assert.equal(plain.steps[0].reconcile.spans, 4);
  assert.equal('turns' in plain.steps[0].reconcile, false);
});

test('the same snapshots fed again produce nothing new', async () => {
  const receiver = await startReceiver();
  try {
    const out = await scenario(
      [
        { fixture: ONE_BASH_EARLY, type: 'reconcile' },
        { fixture: ONE_BASH, type: 'close' },
        { fixture: ONE_BASH, type: 'close' },
        { fixture: ONE_BASH_EARLY, type: 'reconcile' },
        { flush: 10000 },
      ],
      { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url },
    );
    assert.deepEqual(
      out.steps.slice(0, 4).map((s) => s.reconcile.spans),
      [2, 2, 0, 0],
    );
    const ids = receiver.spans().map((s) => s.spanId);
    assert.equal(ids.length, 4);
    assert.equal(new Set(ids).size, 4);
  } finally {
    await receiver.close();
  }
});

test('Arize AX gets its headers and project; no secret reaches status or the log', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  try {
    const out = await scenario([{ fixture: ONE_BASH }, { flush: 10000 }, { status: true }], {
      HOME: home,
      ARIZE_API_KEY: 'ak-secret-4242',
      ARIZE_SPACE_ID: 'space-77',
      ARIZE_OTLP_ENDPOINT: receiver.url,
      ARIZE_PROJECT_NAME: 'my-project',
      ARIZE_USER_ID: 'dev-1',
    });
    assert.equal(out.steps[1].flush.exported, 4);
    const headers = receiver.requests[0].headers;
    assert.equal(headers.authorization, 'ak-secret-4242');
    assert.equal(headers.api_key, 'ak-secret-4242');
    assert.equal(headers['arize-space-id'], 'space-77');
    assert.equal(headers.space_id, 'space-77');
    assert.equal(headers['arize-interface'], 'otel');
    assert.equal(receiver.requests[0].path, '/v1/traces');
    const span = receiver.spans()[0];
    assert.equal(span.resource['arize.project.name'], 'my-project');
    assert.equal(span.resource['openinference.project.name'], 'my-project');
    for (const s of receiver.spans()) assert.equal(s.attributes['user.id'], 'dev-1');
    const status = out.steps[2].status;
    assert.equal(status.backend.target, 'arize');
    assert.equal(status.backend.endpoint, `${receiver.url}/v1/traces`);
    assert.equal(status.backend.project, 'my-project');
    assert.equal(status.counters.spans_exported, 4);
    assert.doesNotMatch(JSON.stringify(status), /ak-secret-4242/);
    assert.doesNotMatch(readLog(home), /ak-secret-4242/);
  } finally {
    await receiver.close();
  }
});

test('malformed payloads return an error, queue nothing, and log one line each', async () => {
  const home = tempHome();
  const out = await scenario(
    [
      { payload: '{not json' },
      { payload: { type: 'close', sessionID: 's', messages: 'no' } },
      {
        payload: {
          type: 'close',
          sessionID: 's',
          messages: [{ info: { id: 'm', sessionID: 'other', role: 'user' }, parts: [] }],
        },
      },
      { payload: null },
      { status: true },
    ],
    { HOME: home },
  );
  for (const step of out.steps.slice(0, 4)) {
    assert.equal(step.reconcile.spans, 0);
    assert.equal(typeof step.reconcile.error, 'string');
  }
  assert.match(out.steps[2].reconcile.error, /another session/);
  assert.equal(out.steps[4].status.counters.rejected_payloads, 4);
  assert.equal(out.steps[4].status.counters.spans_queued, 0);
  assert.equal(
    readLog(home)
      .split('\n')
      .filter((l) => /payload rejected/.test(l)).length,
    4,
  );
});

test('ARIZE_TRACE_ENABLED=false is said once, in the log and in status', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  try {
    const out = await scenario([{ fixture: ONE_BASH }, { fixture: ONE_BASH }, { flush: 500 }, { status: true }], {
      HOME: home,
      ARIZE_TRACE_ENABLED: 'false',
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.equal(out.steps[0].reconcile.spans, 0);
    const status = out.steps[3].status;
    assert.equal(status.enabled, false);
    assert.equal(status.state, 'disabled');
    assert.match(status.reason, /ARIZE_TRACE_ENABLED=false/);
    assert.equal(
      readLog(home)
        .split('\n')
        .filter((l) => /disabled/.test(l)).length,
      1,
    );
    assert.equal(receiver.requests.length, 0);
  } finally {
    await receiver.close();
  }
});

test('with no backend, status says why and flush does not wait', async () => {
  const home = tempHome();
  const started = Date.now();
  const out = await scenario([{ fixture: ONE_BASH }, { flush: 20000 }, { status: true }], { HOME: home });
  assert.ok(Date.now() - started < 15000, 'flush returned without waiting for its timeout');
  assert.deepEqual(out.steps[1].flush, { exported: 0, pending: 4, dropped: 0 });
  assert.equal(out.steps[2].status.state, 'no-backend');
  assert.match(out.steps[2].status.reason, /ARIZE_API_KEY and ARIZE_SPACE_ID/);
  assert.match(readLog(home), /no backend configured/);
});

test('redaction flags replace text with its length and keep tool names', async () => {
  const receiver = await startReceiver();
  try {
    await scenario([{ fixture: ONE_BASH }, { flush: 10000 }], {
      HOME: tempHome(),
      PHOENIX_ENDPOINT: receiver.url,
      ARIZE_LOG_PROMPTS: 'false',
      ARIZE_LOG_TOOL_DETAILS: 'false',
      ARIZE_LOG_TOOL_CONTENT: 'false',
    });
    const spans = receiver.spans();
    const [turn] = byName(spans, 'Turn');
    const [tool] = byName(spans, 'bash');
    assert.equal(turn.attributes['input.value'], '<redacted (5 chars)>');
    assert.equal(tool.attributes['tool.name'], 'bash');
    assert.match(tool.attributes['tool.command'], /^<redacted \(\d+ chars\)>$/);
    assert.match(tool.attributes['output.value'], /^<redacted \(\d+ chars\)>$/);
    assert.doesNotMatch(JSON.stringify(spans.map((s) => s.attributes)), /echo hi/);
  } finally {
    await receiver.close();
  }
});

test('the config file is read, and a change to it applies without a restart', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  const dir = path.join(home, '.arize', 'harness');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.yaml'), 'harnesses:\n  opencode:\n    project_name: from-file\n');
  const file = path.join(dir, 'config.yaml');
  try {
    const out = await scenario(
      [
        { fixture: ONE_BASH_EARLY, type: 'reconcile' },
        { status: true },
        {
          writeFile: [
            file,
            `harnesses:\n  opencode:\n    project_name: from-file\n    target: phoenix\n    endpoint: ${receiver.url}\n`,
          ],
        },
        { fixture: ONE_BASH },
        { flush: 10000 },
        { status: true },
      ],
      { HOME: home },
    );
    assert.equal(out.steps[1].status.state, 'no-backend');
    assert.equal(out.steps[1].status.backend.project, 'from-file');
    assert.equal(out.steps[4].flush.exported, 4, 'spans queued before the change are sent too');
    assert.equal(out.steps[5].status.backend.target, 'phoenix');
    assert.equal(receiver.requests[0].headers['x-project-name'], 'from-file');
  } finally {
    await receiver.close();
  }
});

test('process.env changed after the core is loaded: no crash, and Node applies the new settings', async () => {
  // Node's process.env setter calls setenv, which moves environ when it grows: a core that
  // kept the array it first saw read freed memory at its next call (a segfault under Node).
  // Bun does not pass such changes on to the C environment: there the core keeps what it had.
  const receiver = await startReceiver();
  const home = tempHome();
  const many = {};
  for (let i = 0; i < 400; i++) many[`OAT_TEST_GROWTH_${i}`] = 'x'.repeat(64);
  try {
    const out = await scenario(
      [
        { status: true },
        { setenv: many },
        { setenv: { PHOENIX_ENDPOINT: receiver.url } },
        { status: true },
        { fixture: ONE_BASH },
        { flush: 10000 },
      ],
      { HOME: home },
    );
    assert.equal(out.steps[0].status.state, 'no-backend');
    if (process.versions.bun) return;
    assert.equal(out.steps[3].status.backend.target, 'phoenix');
    assert.equal(out.steps[5].flush.exported, 4);
    assert.equal(receiver.spans().length, 4);
  } finally {
    await receiver.close();
  }
});

test('the ESM entry exposes the same API, and the native version matches package.json', async () => {
  const out = await scenario([{ payload: '{}' }, { status: true }], { HOME: tempHome() }).catch((e) => {
    throw e;
  });
  const esm = await run('api-scenario.js', { esm: true, steps: [{ status: true }] }, cleanEnv({ HOME: tempHome() }));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(out.version, pkg.version);
  assert.equal(esm.version, pkg.version);
  assert.equal(esm.steps[0].status.version, pkg.version);
  // OpenCode loads a package named in opencode.json through this default export
  assert.deepEqual(esm.plugin, { id: 'opencode-arize-tracing', server: 'function' });
  const dts = fs.readFileSync(path.join(ROOT, 'lib', 'index.d.ts'), 'utf8');
  for (const name of ['reconcile', 'flush', 'shutdown', 'status'])
    assert.match(dts, new RegExp(`export function ${name}\\(`));
});

test('a session reconciled again in a new process emits nothing old', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  try {
    const env = { HOME: home, PHOENIX_ENDPOINT: receiver.url };
    const first = await scenario([{ fixture: ONE_BASH_EARLY, type: 'reconcile' }, { flush: 10000 }], env);
    const second = await scenario(
      [{ fixture: ONE_BASH, type: 'close' }, { fixture: ONE_BASH_EARLY, type: 'reconcile' }, { flush: 10000 }],
      env,
    );
    assert.equal(first.steps[0].reconcile.spans, 2);
    assert.equal(second.steps[0].reconcile.spans, 2, 'only the second model call and the Turn are new');
    assert.equal(second.steps[1].reconcile.spans, 0);
    const ids = receiver.spans().map((s) => s.spanId);
    assert.equal(ids.length, 4);
    assert.equal(new Set(ids).size, 4);
  } finally {
    await receiver.close();
  }
});
