'use strict';
// Self-test for test/model-server.js, without OpenCode: the request shapes below are the ones
// OpenCode 1.18.33 sends (see ../shared/fixtures/opencode-1.18.33/harness/README.md).
// Runs under `node --test` and `bun test`.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startModelServer } = require('../model-server.js');

const TOOLS = ['bash', 'read', 'write', 'task'].map((name) => ({
  type: 'function',
  function: { name, description: name, parameters: {} },
}));

async function call(model, { session, user = 'hello', tools = TOOLS, stream = true } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (session) headers['x-session-id'] = session;
  const body = {
    model: 'scripted',
    stream,
    stream_options: { include_usage: true },
    messages: [
      { role: 'system', content: 'sys' },
      { role: 'user', content: user },
    ],
  };
  if (tools) Object.assign(body, { tools, tool_choice: 'auto' });
  const res = await fetch(`${model.baseURL}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  if (!stream || !res.headers.get('content-type')?.includes('event-stream'))
    return { status: res.status, json: JSON.parse(text) };
  const events = text
    .split('\n\n')
    .filter(Boolean)
    .map((e) => e.replace(/^data: /, ''));
  assert.equal(events.pop(), '[DONE]');
  const chunks = events.map((e) => JSON.parse(e));
  // Reassemble the way @ai-sdk/openai-compatible does.
  const out = { status: res.status, content: '', reasoning: '', calls: [], finish: null, usage: null };
  for (const c of chunks) {
    if (c.usage) out.usage = c.usage;
    for (const ch of c.choices) {
      if (ch.delta.content) out.content += ch.delta.content;
      if (ch.delta.reasoning_content) out.reasoning += ch.delta.reasoning_content;
      for (const tc of ch.delta.tool_calls || []) {
        out.calls[tc.index] ??= { id: '', name: '', arguments: '' };
        if (tc.id) out.calls[tc.index].id = tc.id;
        if (tc.function?.name) out.calls[tc.index].name = tc.function.name;
        out.calls[tc.index].arguments += tc.function?.arguments || '';
      }
      if (ch.finish_reason) out.finish = ch.finish_reason;
    }
  }
  out.calls = out.calls.map((c) => ({ ...c, args: JSON.parse(c.arguments) }));
  return out;
}

test('steps play in order per session; title calls do not advance the script', async () => {
  const model = await startModelServer({
    title: 'A title',
    script: [
      {
        reasoning: 'think',
        text: 'running',
        tool: 'bash',
        args: { command: 'echo hi' },
        usage: { prompt: 120, cached: 20, completion: 30, reasoning: 5 },
      },
      { text: 'done' },
    ],
  });
  try {
    const title = await call(model, { session: 's1', tools: null });
    assert.equal(title.content, 'A title');
    const first = await call(model, { session: 's1' });
    assert.equal(first.reasoning, 'think');
    assert.equal(first.content, 'running');
    assert.deepEqual(
      first.calls.map((c) => [c.name, c.args]),
      [['bash', { command: 'echo hi' }]],
    );
    assert.equal(first.finish, 'tool_calls');
    assert.deepEqual(first.usage, {
      prompt_tokens: 120,
      completion_tokens: 30,
      total_tokens: 150,
      prompt_tokens_details: { cached_tokens: 20 },
      completion_tokens_details: { reasoning_tokens: 5 },
    });
    // another session starts the script from its first step
    assert.equal((await call(model, { session: 's2' })).calls[0].name, 'bash');
    const second = await call(model, { session: 's1' });
    assert.equal(second.content, 'done');
    assert.equal(second.finish, 'stop');
    assert.deepEqual(
      model.requests.map((r) => [r.kind, r.conversation, r.step]),
      [
        ['title', undefined, undefined],
        ['agent', 's1', 0],
        ['agent', 's2', 0],
        ['agent', 's1', 1],
      ],
    );
    assert.deepEqual(model.unexpected, []);
    await call(model, { session: 's1' });
    assert.equal(model.unexpected.length, 1, 'a call past the end of the script is recorded');
  } finally {
    await model.close();
  }
});

test('parallel tool calls, provider errors and non-streaming answers', async () => {
  const model = await startModelServer({
    script: [
      {
        tools: [
          { tool: 'read', args: { filePath: '/a' } },
          { tool: 'write', args: { filePath: '/b', content: 'x' } },
        ],
      },
      { error: { status: 400, message: 'bad request' } },
      { text: 'plain' },
    ],
  });
  try {
    const parallel = await call(model, { session: 's' });
    assert.deepEqual(
      parallel.calls.map((c) => c.name),
      ['read', 'write'],
    );
    assert.notEqual(parallel.calls[0].id, parallel.calls[1].id);
    const failed = await call(model, { session: 's' });
    assert.equal(failed.status, 400);
    assert.equal(failed.json.error.message, 'bad request');
    const plain = await call(model, { session: 's', stream: false });
    assert.equal(plain.json.choices[0].message.content, 'plain');
  } finally {
    await model.close();
  }
});

test("a task step's child script answers the session whose first user message is the task prompt", async () => {
  const model = await startModelServer();
  model.play({
    scripts: {
      PARENT: [
        {
          tool: 'task',
          args: { description: 'd', prompt: 'CHILD_PROMPT: go', subagent_type: 'general' },
          child: [{ tool: 'bash', args: { command: 'echo child' } }, { text: 'child done' }],
        },
        { text: 'parent done' },
      ],
    },
  });
  try {
    assert.equal((await call(model, { session: 'p', user: '"PARENT: start"' })).calls[0].name, 'task');
    assert.equal((await call(model, { session: 'c', user: 'CHILD_PROMPT: go' })).calls[0].args.command, 'echo child');
    assert.equal((await call(model, { session: 'c', user: 'CHILD_PROMPT: go' })).content, 'child done');
    assert.equal((await call(model, { session: 'p', user: '"PARENT: start"' })).content, 'parent done');
    assert.deepEqual(
      [...model.conversations.values()].map((c) => [c.key, c.label]),
      [
        ['p', 'script:PARENT'],
        ['c', 'child:CHILD_PROMPT: go'],
      ],
    );
  } finally {
    await model.close();
  }
});
