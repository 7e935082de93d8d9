'use strict';
// Live signals (plugin/live.mjs → native/live.c → the spans), under the real Bun: captures of the
// real OpenCode 1.18.33 (test/fixtures/live/<scenario>: every hook call and event, in order) are
// replayed through the plugin (test/helpers/live-scenario.ts), and the spans it sends are checked
// against what the capture says happened.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { ROOT, tempHome, cleanEnv, run } = require('./helpers/run.js');

const BUN = path.join(ROOT, 'node_modules', '.bin', 'bun');
const LIVE = path.join(__dirname, 'fixtures', 'live');

const jsonl = (scenario, file) =>
  fs
    .readFileSync(path.join(LIVE, scenario, file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const capture = (scenario) => ({
  hooks: jsonl(scenario, 'hooks.jsonl'),
  events: jsonl(scenario, 'events.jsonl'),
  sessions: JSON.parse(fs.readFileSync(path.join(LIVE, scenario, 'sessions.json'), 'utf8')),
  toolsSent: JSON.parse(fs.readFileSync(path.join(LIVE, scenario, 'tools-sent.json'), 'utf8')),
});

/** The session a span's work was done in: a subagent's own, else the root's. */
const ownSession = (s) => s.attributes['opencode.session.id'] ?? s.attributes['session.id'];

/** Replays a capture through the plugin; the spans it sent (one per id) and the scenario's output. */
async function replay(scenario, env = {}, program = {}) {
  const receiver = await startReceiver();
  try {
    const out = await run(
      'live-scenario.ts',
      { scenario, ...program },
      cleanEnv({ HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url, ...env }),
      { runtime: BUN, timeoutMs: 90000 },
    );
    const seen = new Map();
    for (const s of receiver.spans()) if (!seen.has(s.spanId)) seen.set(s.spanId, s);
    const spans = [...seen.values()].sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
    assert.equal(out.logs.length, 0, `no plugin errors: ${JSON.stringify(out.logs)}`);
    assert.equal(out.status.counters.items_skipped, 0);
    return { spans, out };
  } finally {
    await receiver.close();
  }
}

const kind = (s) => s.attributes['openinference.span.kind'];
const ofKind = (spans, k) => spans.filter((s) => kind(s) === k);
const event = (s, name) => s.events.filter((e) => e.name === name);
const ms = (ns) => Number(BigInt(ns) / 1000000n);

test('a permission asked and answered: events on the tool call with the wait, the rejected call an ERROR, the wait on the Turn', async () => {
  const c = capture('permission');
  const asked = c.events.filter((e) => e.type === 'permission.asked');
  const replied = c.events.filter((e) => e.type === 'permission.replied');
  assert.equal(asked.length, 2);
  const { spans, out } = await replay('permission');
  const tools = ofKind(spans, 'TOOL');
  let total = 0;
  for (const a of asked) {
    const tool = tools.find((t) => t.attributes['tool_call.id'] === a.properties.tool.callID);
    assert.ok(tool, `the tool call ${a.properties.tool.callID}`);
    const r = replied.find((e) => e.properties.requestID === a.properties.id);
    const [ask] = event(tool, 'opencode.permission.asked');
    const [answer] = event(tool, 'opencode.permission.replied');
    assert.equal(ask.attributes['opencode.permission.type'], a.properties.permission);
    assert.deepEqual(JSON.parse(ask.attributes['opencode.permission.patterns']), a.properties.patterns);
    assert.equal(answer.attributes['opencode.permission.reply'], r.properties.reply);
    assert.equal(answer.attributes['opencode.permission.wait_ms'], r.at - a.at);
    assert.equal(ms(ask.timeNs), a.at);
    assert.equal(ms(answer.timeNs), r.at);
    total += r.at - a.at;
    if (r.properties.reply === 'reject') {
      assert.equal(tool.status.code, 2);
      assert.match(tool.status.message, /rejected permission/);
      assert.equal(event(tool, 'exception')[0].attributes['exception.type'], 'PermissionRejected');
    } else assert.notEqual(tool.status.code, 2);
  }
  const [turn] = spans.filter((s) => s.name === 'Turn');
  assert.equal(turn.attributes['opencode.turn.permission_wait_ms'], total);
  assert.equal(out.status.counters.live_sessions, 0, 'nothing kept once the turn closed');
});

test('a 429 then OK: the model call carries the retry as an event and a count, the Turn the count', async () => {
  const c = capture('retry');
  const retries = c.events.filter((e) => e.type === 'session.status' && e.properties.status.type === 'retry');
  assert.equal(retries.length, 1);
  const { spans } = await replay('retry');
  const [llm] = ofKind(spans, 'LLM');
  const [r] = event(llm, 'opencode.retry');
  assert.equal(r.attributes['opencode.retry.attempt'], 1);
  assert.equal(r.attributes['opencode.retry.message'], retries[0].properties.status.message);
  assert.equal(r.attributes['opencode.retry.wait_ms'], retries[0].properties.status.next - retries[0].at);
  assert.equal(llm.attributes['opencode.llm.retries'], 1);
  assert.equal(llm.status.code === 2, false, 'retried, then answered');
  assert.equal(spans.find((s) => s.name === 'Turn').attributes['opencode.turn.retries'], 1);
});

test('a slash command: its name and arguments on the Turn', async () => {
  const c = capture('command');
  const before = c.hooks.find((h) => h.hook === 'command.execute.before');
  const { spans } = await replay('command');
  const [turn] = spans.filter((s) => s.name === 'Turn');
  assert.equal(turn.attributes['opencode.turn.command'], before.input.command);
  assert.equal(turn.attributes['opencode.turn.command.arguments'], before.input.arguments);
});

test('an edit that changes lines and a todo list: files, lines and the final list on the Turn, each tool its description', async () => {
  const c = capture('edit');
  const user = c.sessions[0].messages.find((m) => m.info.role === 'user');
  const diffs = user.info.summary.diffs;
  assert.ok(diffs.length >= 2);
  const todowrites = c.sessions[0].messages.flatMap((m) => m.parts.filter((p) => p.tool === 'todowrite'));
  const definitions = new Map(
    c.hooks.filter((h) => h.hook === 'tool.definition').map((h) => [h.input.toolID, h.output.description]),
  );
  const { spans } = await replay('edit');
  const [turn] = spans.filter((s) => s.name === 'Turn');
  assert.equal(turn.attributes['opencode.turn.files_changed'], diffs.length);
  assert.equal(
    turn.attributes['opencode.turn.lines_added'],
    diffs.reduce((n, d) => n + d.additions, 0),
  );
  assert.equal(
    turn.attributes['opencode.turn.lines_removed'],
    diffs.reduce((n, d) => n + d.deletions, 0),
  );
  assert.deepEqual(
    JSON.parse(turn.attributes['opencode.turn.files']),
    diffs.map((d) => ({ path: d.file, additions: d.additions, deletions: d.deletions })),
  );
  assert.deepEqual(JSON.parse(turn.attributes['opencode.turn.todos']), todowrites.at(-1).state.input.todos);
  for (const t of ofKind(spans, 'TOOL'))
    assert.equal(t.attributes['tool.description'], definitions.get(t.attributes['tool.name']), t.name);
});

test('each model call: the settings it was given and exactly the tools OpenCode offered it, a subagent its own', async () => {
  const c = capture('subagent');
  const params = c.hooks.filter((h) => h.hook === 'chat.params' && h.input.agent !== 'title');
  const { spans } = await replay('subagent');
  const llms = ofKind(spans, 'LLM');
  assert.equal(llms.length, params.length, 'one model call per chat.params (the title call has no span)');
  for (const s of llms) {
    // a subagent's own session (session.id is the root's on every span)
    const session = ownSession(s);
    const names = Object.keys(s.attributes)
      .filter((k) => /^llm\.tools\.\d+\.tool\.json_schema$/.test(k))
      .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
      .map((k) => JSON.parse(s.attributes[k]).function.name);
    assert.deepEqual(
      names,
      c.toolsSent[session].map((t) => t.function.name),
      `the tools sent in session ${session}`,
    );
    const p = JSON.parse(s.attributes['llm.invocation_parameters']);
    assert.equal(p.maxOutputTokens, params[0].output.maxOutputTokens);
  }
  assert.ok(new Set(llms.map(ownSession)).size === 2, 'the parent and the subagent');
});

test('a compaction: the summary call has its settings and no tools', async () => {
  const { spans } = await replay('compaction');
  const llms = ofKind(spans, 'LLM');
  const summary = llms.find((s) => JSON.parse(s.attributes.metadata).agent === 'compaction');
  assert.ok(summary);
  assert.ok(summary.attributes['llm.invocation_parameters']);
  assert.equal(Object.keys(summary.attributes).filter((k) => k.startsWith('llm.tools.')).length, 0);
  for (const s of llms.filter((x) => x !== summary)) assert.ok(s.attributes['llm.tools.0.tool.json_schema']);
});

test('a session error stored on no message ends its turn: the Turn is an ERROR with the exception', async () => {
  const c = capture('model-missing');
  const [error] = c.events.filter((e) => e.type === 'session.error');
  const { spans } = await replay('model-missing');
  const [turn] = spans.filter((s) => s.name === 'Turn');
  assert.ok(turn, 'the turn without a model call is sent');
  assert.equal(turn.status.code, 2);
  const [e] = event(turn, 'exception');
  assert.equal(e.attributes['exception.type'], error.properties.error.name);
  assert.equal(e.attributes['exception.message'], error.properties.error.data.message);
});

test('the system prompt OpenCode gave each model call is its first input message, role system, the history after it', async () => {
  const c = capture('edit');
  const requests = JSON.parse(fs.readFileSync(path.join(LIVE, 'edit', 'requests.json'), 'utf8')).filter(
    (r) => r.kind === 'agent',
  );
  const { spans } = await replay('edit');
  const llms = ofKind(spans, 'LLM');
  assert.equal(llms.length, requests.length, 'one LLM span per request the model server got');
  const prompts = c.hooks.filter((h) => h.hook === 'experimental.chat.system.transform' && h.input.model?.id);
  llms.forEach((s, i) => {
    assert.equal(s.attributes['llm.input_messages.0.message.role'], 'system');
    const system = s.attributes['llm.input_messages.0.message.content'];
    // what the model server received (the capture keeps its start) and what the hook gave
    assert.ok(system.startsWith(requests[i].system[0]), `call ${i}: the system prompt the model got`);
    assert.ok(
      prompts.some((h) => h.output.system.join('\n') === system),
      `call ${i}: the hook's prompt`,
    );
    assert.equal(s.attributes['llm.input_messages.1.message.role'], 'user');
  });
});

test('a secret in the system prompt is redacted on the span, like any other string', async () => {
  // built here, so no secret sits in the repository's text
  const chars = 'aZ3kQ9xLm2Pw7VbN5tR8cY4dF6gH1jK0sUe';
  const token = 'ghp_' + Array.from({ length: 36 }, (_, i) => chars[(i * 11 + 3) % 35]).join('');
  const { spans } = await replay('edit', {}, { systemExtra: `The deploy token is ${token}.` });
  const llms = ofKind(spans, 'LLM');
  assert.ok(llms.length > 0);
  for (const s of llms) {
    const system = s.attributes['llm.input_messages.0.message.content'];
    assert.match(system, /The deploy token is <redacted:github-token>\.$/);
    assert.ok(s.attributes['opencode.redactions'] >= 1);
  }
  assert.ok(
    !spans.some((s) => JSON.stringify(s, (k, v) => (typeof v === 'bigint' ? String(v) : v)).includes(token)),
    'the token left in no span',
  );
});

test('the privacy switches reach the live attributes', async () => {
  const { spans } = await replay('command', {
    ARIZE_LOG_PROMPTS: 'false',
    OPENINFERENCE_HIDE_INPUTS: 'true',
    OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS: 'true',
  });
  const [turn] = spans.filter((s) => s.name === 'Turn');
  assert.equal(turn.attributes['opencode.turn.command'], 'greet', 'a command name is no content');
  assert.match(
    turn.attributes['opencode.turn.command.arguments'],
    /^\{"redacted":"<redacted \(12 chars\)>"\}$|^<redacted \(12 chars\)>$/,
  );
  for (const s of ofKind(spans, 'LLM')) {
    assert.equal(s.attributes['llm.invocation_parameters'], undefined);
    assert.equal(Object.keys(s.attributes).filter((k) => k.startsWith('llm.tools.')).length, 0);
  }
  const permission = await replay('permission', { ARIZE_LOG_TOOL_DETAILS: 'false' });
  for (const t of ofKind(permission.spans, 'TOOL'))
    assert.match(event(t, 'opencode.permission.asked')[0].attributes['opencode.permission.patterns'], /^<redacted/);
});

// ---------------------------------------------------------------------------------------------
// plugin/live.mjs by itself, under Bun (test/helpers/live-unit.ts).

const unit = (c) =>
  run('live-unit.ts', { case: c }, cleanEnv({ HOME: tempHome() }), { runtime: BUN, timeoutMs: 60000 });

test('invocation parameters keep the settings and leave credentials and the system prompt out', async () => {
  const call = await unit('secrets');
  assert.deepEqual(call.params, {
    temperature: 0.2,
    topP: 0.9,
    maxOutputTokens: 1000,
    variant: 'high',
    options: { reasoningEffort: 'low', nested: { budget: 5 }, thinking: { type: 'enabled', budgetTokens: 1024 } },
  });
  assert.equal(call.system, 'You are a test.');
  assert.doesNotMatch(JSON.stringify(call), /sk-live|Bearer|t0k3n|system prompt again/);
});

test("a tool's parameters as JSON Schema: from OpenCode's Effect Schema, plain JSON Schema, or jsonSchema when set", async () => {
  const s = await unit('schemas');
  assert.deepEqual(s.effect, {
    type: 'object',
    properties: {
      command: { type: 'string', description: 'The command to execute' },
      timeout: { type: 'integer', exclusiveMinimum: 0, description: 'Optional timeout in milliseconds' },
      todos: {
        type: 'array',
        items: {
          type: 'object',
          properties: { status: { type: 'string', enum: ['pending', 'done'] } },
          required: ['status'],
        },
      },
    },
    required: ['command', 'todos'],
  });
  assert.deepEqual(s.json, { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] });
  assert.deepEqual(s.jsonSchema, s.json);
  assert.deepEqual(s.unknown, {});
});

test('no hook or event input makes the live capture throw into OpenCode', async () => {
  const r = await unit('hostile');
  assert.equal(r.threw, 0);
});

test('the live capture is bounded: sessions and calls per session', async () => {
  const r = await unit('bounded');
  assert.ok(r.sessions <= 64, `${r.sessions} sessions kept`);
  assert.ok(r.calls <= 64, `${r.calls} calls kept`);
  assert.equal(r.again, null, 'what was handed over is not kept');
});

test('with tracing off the hooks keep nothing', async () => {
  assert.equal((await unit('off')).took, null);
});
