'use strict';
// Live signals end to end: the real OpenCode (`opencode serve`, driven over its HTTP API as the
// TUI drives it) with this package installed from its tarball, the scripted model and a local
// OTLP receiver. Each scenario is a session; the spans are checked against what OpenCode was
// told and did: the permissions asked and the answers this test gave, the 429 the model server
// sent, the slash command, the stored edits and todo list, the compaction, the tools and
// settings the model server received.
//
//   node --test test/e2e/live.test.js      (needs `npm ci` and `npm run build`)

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const h = require('./harness.js');

const KEEP = process.env.ARIZE_E2E_KEEP === '1';
const prerequisite = h.missingPrerequisite();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms = (ns) => Number(BigInt(ns) / 1000000n);
const kind = (s) => s.attributes['openinference.span.kind'];
// the session a span's work was done in: a subagent's own (session.id is the root's on every span)
const ownSession = (s) => s.attributes['opencode.session.id'] ?? s.attributes['session.id'];
const events = (s, name) => s.events.filter((e) => e.name === name);
const toolNames = (s) =>
  Object.keys(s.attributes)
    .filter((k) => /^llm\.tools\.\d+\.tool\.json_schema$/.test(k))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
    .map((k) => JSON.parse(s.attributes[k]).function);

/** A JSON Schema as a reader compares it: types, properties, required, enums, descriptions. */
function shape(schema) {
  if (!schema || typeof schema !== 'object') return schema;
  if (Array.isArray(schema)) return schema.map(shape);
  const out = {};
  for (const k of ['type', 'description', 'enum', 'items', 'properties', 'required', 'anyOf'])
    if (schema[k] !== undefined)
      out[k] =
        k === 'properties'
          ? Object.fromEntries(Object.entries(schema[k]).map(([p, v]) => [p, shape(v)]))
          : k === 'required'
            ? [...schema[k]].sort()
            : shape(schema[k]);
  return out;
}

describe('live signals of the real OpenCode on the spans', () => {
  test('prerequisites: OpenCode binary and native core', () => assert.equal(prerequisite, null, prerequisite));
  if (prerequisite) return;

  let receiver, model, oc, packed, server;
  const sessions = {}; // marker -> session id
  const answers = []; // {id, sessionID, reply, asked, replied}
  const stored = {}; // session id -> its messages
  let spans = [];

  before(async () => {
    receiver = await startReceiver();
    model = await startModelServer();
    packed = h.packPackage();
    oc = h.makeOpenCodeHome({
      route: 'plugin-file',
      tarball: packed.tarball,
      modelURL: model.baseURL,
      receiverURL: receiver.url,
      files: { 'notes.md': 'one\ntwo\nthree\n' },
      keep: KEEP,
    });
    if (KEEP) process.stderr.write(`kept: ${oc.base}\n`);
    const config = JSON.parse(fs.readFileSync(path.join(oc.project, 'opencode.json'), 'utf8'));
    config.permission.bash = 'ask';
    config.command = { greet: { template: 'COMMAND: greet $ARGUMENTS politely', description: 'Greets someone' } };
    fs.writeFileSync(path.join(oc.project, 'opencode.json'), JSON.stringify(config, null, 2));
    const P = (f) => path.join(oc.project, f);
    const todos = (status) => [
      { id: '1', content: 'Edit notes', status, priority: 'high' },
      { id: '2', content: 'Write summary', status: status === 'completed' ? 'completed' : 'pending', priority: 'low' },
    ];
    model.play({
      title: 'Live scenario',
      scripts: {
        'PERMISSION:': [
          { tool: 'bash', args: { command: 'echo allowed', description: 'Print allowed' } },
          { tool: 'bash', args: { command: 'echo refused', description: 'Print refused' } },
          { text: 'One ran, one was refused.' },
        ],
        'RETRY:': [
          { error: { status: 429, message: 'Rate limit reached, slow down' } },
          { text: 'Answered after a retry.' },
        ],
        'COMMAND:': [{ text: 'Hello, Ada.' }],
        'EDIT:': [
          { tool: 'todowrite', args: { todos: todos('in_progress') } },
          { tool: 'edit', args: { filePath: P('notes.md'), oldString: 'two\n', newString: '2\n2b\n' } },
          { tool: 'write', args: { filePath: P('summary.txt'), content: 'a\nb\nc\n' } },
          { tool: 'todowrite', args: { todos: todos('completed') } },
          { text: 'Edited and summarised.' },
        ],
        'COMPACT:': [{ text: 'First answer.' }, { text: 'After the compaction.' }],
        'TASK:': [
          {
            tool: 'task',
            args: { description: 'Look', prompt: 'CHILD: list files', subagent_type: 'general' },
            child: [{ tool: 'bash', args: { command: 'ls', description: 'List' } }, { text: 'Child done.' }],
          },
          { text: 'Parent done.' },
        ],
      },
    });
    const core = fs.existsSync(h.BUILT_ADDON) ? { ARIZE_TRACING_NATIVE: h.BUILT_ADDON } : {};
    server = await h.startServe(oc, { env: core });

    // Answers every permission OpenCode asks, after a moment (a wait the trace shows): the
    // PERMISSION session's second one is rejected, everything else allowed once.
    let answering = true;
    const answerer = (async () => {
      while (answering) {
        const { json } = await server.call('GET', '/permission').catch(() => ({ json: [] }));
        for (const p of Array.isArray(json) ? json : []) {
          if (answers.some((a) => a.id === p.id)) continue;
          const asked = Date.now();
          await sleep(300);
          const mine = answers.filter((a) => a.sessionID === p.sessionID).length;
          const reply = p.sessionID === sessions['PERMISSION:'] && mine === 1 ? 'reject' : 'once';
          answers.push({ id: p.id, sessionID: p.sessionID, reply, asked });
          await server.call('POST', `/permission/${p.id}/reply`, {
            reply,
            ...(reply === 'reject' ? { message: 'not this one' } : {}),
          });
        }
        await sleep(100);
      }
    })();

    const newSession = async (marker) => (sessions[marker] = (await server.call('POST', '/session', {})).json.id);
    const prompt = async (marker, text, extra = {}) => {
      const id = sessions[marker] ?? (await newSession(marker));
      await server.call('POST', `/session/${id}/prompt_async`, { parts: [{ type: 'text', text }], ...extra });
      await h.waitIdle(server, id);
    };
    try {
      await prompt('PERMISSION:', 'PERMISSION: run two commands');
      await prompt('RETRY:', 'RETRY: answer despite the rate limit');
      const command = await newSession('COMMAND:');
      await server.call('POST', `/session/${command}/command`, { command: 'greet', arguments: 'Ada Lovelace' });
      await h.waitIdle(server, command);
      await prompt('EDIT:', 'EDIT: change the notes and track it');
      await prompt('COMPACT:', 'COMPACT: first');
      await server.call('POST', `/session/${sessions['COMPACT:']}/summarize`, {
        providerID: 'mock',
        modelID: 'scripted',
        auto: false,
      });
      await h.waitIdle(server, sessions['COMPACT:']);
      await prompt('COMPACT:', 'after it');
      await prompt('TASK:', 'TASK: delegate');
      await prompt('NOMODEL:', 'NOMODEL: hello', { model: { providerID: 'mock', modelID: 'no-such-model' } });
      for (const id of Object.values(sessions)) stored[id] = (await server.call('GET', `/session/${id}/message`)).json;
    } finally {
      answering = false;
      await answerer;
      await server.stop();
    }
    spans = await h.settle(receiver, (all) => all.filter((s) => s.name === 'Turn').length >= 8, { timeoutMs: 30000 });
    spans = h.uniqueSpans(spans);
  });

  after(async () => {
    if (receiver) await receiver.close();
    if (model) await model.close();
    if (oc) oc.remove();
    if (packed) fs.rmSync(packed.dir, { recursive: true, force: true });
  });

  const of = (marker) => spans.filter((s) => s.attributes['session.id'] === sessions[marker]);
  const turnOf = (marker) => of(marker).filter((s) => s.name === 'Turn');

  test('permissions asked and answered: events on the tool call, the wait, the rejected call an ERROR; the Turn sums the waits', () => {
    const mine = answers.filter((a) => a.sessionID === sessions['PERMISSION:']);
    assert.deepEqual(
      mine.map((a) => a.reply),
      ['once', 'reject'],
    );
    const tools = of('PERMISSION:').filter((s) => kind(s) === 'TOOL');
    assert.equal(tools.length, 2, h.formatTree(spans));
    let total = 0;
    for (const [i, tool] of tools.entries()) {
      const [asked] = events(tool, 'opencode.permission.asked');
      const [replied] = events(tool, 'opencode.permission.replied');
      assert.ok(
        asked && replied,
        `${tool.name}: ${JSON.stringify(tool.events, (k, v) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
      assert.equal(asked.attributes['opencode.permission.type'], 'bash');
      assert.deepEqual(JSON.parse(asked.attributes['opencode.permission.patterns']), [tool.attributes['tool.command']]);
      assert.equal(replied.attributes['opencode.permission.reply'], mine[i].reply);
      const wait = replied.attributes['opencode.permission.wait_ms'];
      assert.equal(wait, ms(replied.timeNs) - ms(asked.timeNs));
      assert.ok(wait >= 300, `waited ${wait} ms for an answer given after 300`);
      total += wait;
    }
    assert.notEqual(tools[0].status.code, 2);
    assert.equal(tools[1].status.code, 2);
    assert.match(tools[1].status.message, /rejected permission.*not this one/);
    assert.equal(events(tools[1], 'exception')[0].attributes['exception.type'], 'PermissionRejected');
    assert.equal(turnOf('PERMISSION:')[0].attributes['opencode.turn.permission_wait_ms'], total);
  });

  test('a 429 then OK: the retry on the model call (attempt, message, wait), the counts on it and the Turn', () => {
    assert.deepEqual(
      model.requests.filter((r) => r.conversation === sessions['RETRY:']).map((r) => r.kind),
      ['agent:error', 'agent'],
    );
    const [llm] = of('RETRY:').filter((s) => kind(s) === 'LLM');
    const [retry] = events(llm, 'opencode.retry');
    assert.equal(retry.attributes['opencode.retry.attempt'], 1);
    assert.equal(retry.attributes['opencode.retry.message'], 'Rate limit reached, slow down');
    assert.ok(retry.attributes['opencode.retry.wait_ms'] > 0);
    assert.equal(llm.attributes['opencode.llm.retries'], 1);
    assert.notEqual(llm.status.code, 2);
    assert.equal(turnOf('RETRY:')[0].attributes['opencode.turn.retries'], 1);
  });

  test('a slash command: its name and arguments on the Turn', () => {
    const [turn] = turnOf('COMMAND:');
    assert.equal(turn.attributes['opencode.turn.command'], 'greet');
    assert.equal(turn.attributes['opencode.turn.command.arguments'], 'Ada Lovelace');
    assert.equal(turnOf('RETRY:')[0].attributes['opencode.turn.command'], undefined, 'a typed prompt has none');
  });

  test('an edit that changes lines and a todo list: files, lines and the final list on the Turn', () => {
    const [turn] = turnOf('EDIT:');
    const user = stored[sessions['EDIT:']].find((m) => m.info.role === 'user');
    const diffs = user.info.summary.diffs;
    assert.deepEqual(
      JSON.parse(turn.attributes['opencode.turn.files']),
      diffs.map((d) => ({ path: d.file, additions: d.additions, deletions: d.deletions })),
    );
    assert.equal(turn.attributes['opencode.turn.files_changed'], 2);
    assert.equal(turn.attributes['opencode.turn.lines_added'], 5); // 2b and 2 for two, a b c
    assert.equal(turn.attributes['opencode.turn.lines_removed'], 1);
    const final = JSON.parse(turn.attributes['opencode.turn.todos']);
    assert.deepEqual(
      final.map((t) => t.status),
      ['completed', 'completed'],
    );
  });

  test('each model call: exactly the tools the model was sent, with their schemas; its settings', () => {
    const llms = spans.filter((s) => kind(s) === 'LLM' && s.attributes['llm.tools.0.tool.json_schema']);
    assert.ok(llms.length >= 10, `${llms.length} model calls with tools`);
    const agentCalls = model.requests.filter((r) => r.kind.startsWith('agent') && r.body);
    for (const s of llms) {
      const sent = agentCalls.find((r) => r.conversation === ownSession(s)).body;
      const tools = toolNames(s);
      assert.deepEqual(
        tools.map((t) => t.name),
        sent.tools.map((t) => t.function.name),
        `the tools of ${s.name} in ${ownSession(s)}`,
      );
      for (const [i, t] of tools.entries()) {
        // task's description: OpenCode appends the agents it may start after the definition
        if (t.name === 'task') assert.ok(sent.tools[i].function.description.startsWith(t.description));
        else assert.equal(t.description, sent.tools[i].function.description, `description of ${t.name}`);
        assert.deepEqual(shape(t.parameters), shape(sent.tools[i].function.parameters), `parameters of ${t.name}`);
      }
      const params = JSON.parse(s.attributes['llm.invocation_parameters']);
      assert.equal(params.maxOutputTokens, sent.max_tokens);
      // the system prompt the model got is the span's first input message
      assert.equal(s.attributes['llm.input_messages.0.message.role'], 'system');
      const system = s.attributes['llm.input_messages.0.message.content'];
      const got = sent.messages.filter((m) => m.role === 'system').map((m) => m.content);
      assert.ok(got.length > 0 && got.every((c) => system.includes(c)), `the system prompt of ${s.name}`);
    }
    const child = spans.find((s) => kind(s) === 'AGENT');
    const childCall = llms.find((s) => ownSession(s) !== sessions['TASK:'] && s.parentSpanId === child.spanId);
    assert.ok(childCall, 'the subagent has model calls with tools');
    assert.ok(!toolNames(childCall).some((t) => t.name === 'task'), 'a subagent is not offered task');
  });

  test('each tool call: the description of its tool, from the definition the model got', () => {
    const sent = new Map(
      model.requests
        .filter((r) => r.kind.startsWith('agent') && r.body)
        .flatMap((r) => r.body.tools.map((t) => [t.function.name, t.function.description])),
    );
    const tools = spans.filter((s) => kind(s) === 'TOOL');
    assert.ok(tools.length >= 8);
    for (const t of tools)
      if (t.attributes['tool.name'] !== 'task')
        assert.equal(t.attributes['tool.description'], sent.get(t.attributes['tool.name']), t.name);
  });

  test('a compaction: its summary call carries its settings and offers no tools', () => {
    const llms = of('COMPACT:').filter((s) => kind(s) === 'LLM');
    const summary = llms.find((s) => JSON.parse(s.attributes.metadata).agent === 'compaction');
    assert.ok(summary, h.formatTree(of('COMPACT:')));
    assert.ok(summary.attributes['llm.invocation_parameters']);
    assert.equal(summary.attributes['llm.tools.0.tool.json_schema'], undefined);
  });

  test('a session error stored on no message: the Turn is an ERROR with the exception', () => {
    const [turn] = turnOf('NOMODEL:');
    assert.ok(turn, 'the turn without a model call is sent');
    assert.equal(turn.status.code, 2);
    const [e] = events(turn, 'exception');
    assert.match(e.attributes['exception.message'], /Model not found: mock\/no-such-model/);
  });
});
