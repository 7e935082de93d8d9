'use strict';
// OpenInference fidelity at the receiver: nested subagents, reasoning, cache tokens, tool
// results as input messages, errors, custom and resource attributes, masking.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { tempHome, cleanEnv, run } = require('./helpers/run.js');

const T = 1795480000000;
const S = 'ses_parent', C1 = 'ses_child', C2 = 'ses_grandchild';

function msg(session, id, role, extra, parts) {
  return {
    info: { id, sessionID: session, role, time: { created: T }, ...extra },
    parts: parts.map((p, i) => ({ id: `prt_${id}_${i}`, sessionID: session, messageID: id, ...p })),
  };
}

function assistant(session, id, parent, created, completed, extra, parts) {
  return msg(session, id, 'assistant', {
    parentID: parent, modelID: 'claude-x', providerID: 'anthropic', mode: 'build', agent: 'build',
    path: { cwd: '/work/proj', root: '/work/proj' }, time: { created, completed }, cost: 0.01,
    tokens: { input: 100, output: 40, reasoning: 10, cache: { read: 300, write: 50 } }, finish: 'stop', ...extra,
  }, parts);
}

const task = (callID, child, prompt, start, end) => ({
  type: 'tool', callID, tool: 'task',
  state: { status: 'completed', input: { description: 'd', prompt, subagent_type: 'general' }, output: `<task id="${child}">ok</task>`,
    title: 'd', metadata: { sessionId: child, parentSessionId: 'x' }, time: { start, end } },
});

// A turn: reasoning + a read, then a task whose child runs a task of its own (a grandchild),
// then a final answer that failed with an output-length error.
function session() {
  const parent = [
    msg(S, 'msg_u1', 'user', {}, [{ type: 'text', text: 'fix the bug' }]),
    assistant(S, 'msg_a1', 'msg_u1', T + 10, T + 100, { finish: 'tool-calls' }, [
      { type: 'reasoning', text: 'look at the file first' },
      { type: 'text', text: 'Reading it.' },
      { type: 'tool', callID: 'call_r', tool: 'read', state: { status: 'completed', input: { filePath: '/work/proj/a.c' }, output: 'int main;', title: 'a.c', time: { start: T + 50, end: T + 60 } } },
    ]),
    assistant(S, 'msg_a2', 'msg_u1', T + 110, T + 900, { finish: 'tool-calls' }, [task('call_t', C1, 'investigate', T + 120, T + 880)]),
    assistant(S, 'msg_a3', 'msg_u1', T + 910, T + 990, { finish: 'length', error: { name: 'MessageOutputLengthError', data: {} } }, [
      { type: 'text', text: 'The fix is' },
    ]),
  ];
  const child = [
    msg(C1, 'msg_cu', 'user', {}, [{ type: 'text', text: 'investigate' }]),
    assistant(C1, 'msg_ca1', 'msg_cu', T + 130, T + 800, { agent: 'general' }, [task('call_g', C2, 'dig deeper', T + 140, T + 790)]),
    assistant(C1, 'msg_ca2', 'msg_cu', T + 805, T + 870, { agent: 'general' }, [{ type: 'text', text: 'child says: found it' }]),
  ];
  const grandchild = [
    msg(C2, 'msg_gu', 'user', {}, [{ type: 'text', text: 'dig deeper' }]),
    assistant(C2, 'msg_ga', 'msg_gu', T + 150, T + 780, { agent: 'explore' }, [
      { type: 'tool', callID: 'call_gb', tool: 'grep', state: { status: 'completed', input: { pattern: 'TODO' }, output: 'a.c:1', title: 'TODO', time: { start: T + 160, end: T + 170 } } },
      { type: 'text', text: 'grandchild found a TODO' },
    ]),
  ];
  return {
    type: 'close', sessionID: S, messages: parent,
    childSessions: [
      { sessionID: C2, parentSessionID: C1, parentCallID: 'call_g', info: { id: C2, parentID: C1, agent: 'explore', title: 'dig' }, messages: grandchild },
      { sessionID: C1, parentSessionID: S, parentCallID: 'call_t', info: { id: C1, parentID: S, agent: 'general', title: 'inv' }, messages: child },
    ],
  };
}

async function receive(env, payload = session()) {
  const receiver = await startReceiver();
  try {
    const out = await run('api-scenario.js', { steps: [{ payload }, { flush: 10000 }] },
      cleanEnv({ HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url, ...env }));
    assert.equal(out.steps[1].flush.pending, 0);
    return receiver.spans();
  } finally {
    await receiver.close();
  }
}

const one = (spans, name) => {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one ${name}`);
  return found[0];
};

test('nested subagents nest again, all in the parent turn\'s trace', async () => {
  const spans = await receive({});
  const turn = one(spans, 'Turn');
  const byCall = (id) => spans.find((s) => s.attributes['tool.id'] === id);
  const taskTool = byCall('call_t');
  const general = one(spans, 'Agent: general');
  const explore = one(spans, 'Agent: explore');
  const grep = one(spans, 'grep');
  assert.equal(general.parentSpanId, taskTool.spanId);
  assert.equal(general.attributes['agent.name'], 'general');
  assert.equal(general.attributes['session.id'], C1);
  assert.equal(general.attributes['input.value'], 'investigate');
  assert.equal(general.attributes['output.value'], 'child says: found it');
  const childTask = byCall('call_g');
  assert.equal(spans.find((s) => s.spanId === childTask.parentSpanId).parentSpanId, general.spanId);
  assert.equal(explore.parentSpanId, childTask.spanId);
  assert.equal(spans.find((s) => s.spanId === grep.parentSpanId).parentSpanId, explore.spanId);
  for (const s of spans) assert.equal(s.traceId, turn.traceId);
  assert.equal(spans.length, 1 + 3 + 1 + 1 + 1 + 2 + 1 + 1 + 1 + 1);
});

test('LLM spans carry the OpenInference fields OpenCode can fill', async () => {
  const spans = await receive({});
  const llms = spans.filter((s) => s.attributes['openinference.span.kind'] === 'LLM');
  const first = llms.find((s) => s.attributes['metadata'].includes('msg_a1'));
  const a = first.attributes;
  assert.equal(a['llm.system'], 'anthropic');
  assert.equal(a['llm.provider'], 'anthropic');
  assert.equal(a['llm.model_name'], 'claude-x');
  assert.equal(a['llm.finish_reason'], 'tool-calls');
  assert.equal(a['llm.token_count.prompt'], 450);
  assert.equal(a['llm.token_count.completion'], 50);
  assert.equal(a['llm.token_count.total'], 500);
  assert.equal(a['llm.token_count.prompt_details.cache_read'], 300);
  assert.equal(a['llm.token_count.prompt_details.cache_write'], 50);
  assert.equal(a['llm.token_count.completion_details.reasoning'], 10);
  assert.equal(a['llm.cost.total'], 0.01);
  assert.equal(a['llm.input_messages.0.message.role'], 'user');
  assert.equal(a['llm.input_messages.0.message.content'], 'fix the bug');
  assert.equal(a['llm.output_messages.0.message.role'], 'assistant');
  assert.equal(a['llm.output_messages.0.message.contents.0.message_content.type'], 'reasoning');
  assert.equal(a['llm.output_messages.0.message.contents.0.message_content.text'], 'look at the file first');
  assert.equal(a['llm.output_messages.0.message.contents.1.message_content.type'], 'text');
  assert.equal(a['llm.output_messages.0.message.tool_calls.0.tool_call.id'], 'call_r');
  assert.equal(a['llm.output_messages.0.message.tool_calls.0.tool_call.function.name'], 'read');
  assert.deepEqual(JSON.parse(a['llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments']), { filePath: '/work/proj/a.c' });
  assert.equal(a['input.mime_type'], 'text/plain');
  assert.equal(a['output.mime_type'], 'text/plain');
  assert.deepEqual(JSON.parse(a['metadata']), { agent: 'build', mode: 'build', cwd: '/work/proj', message_id: 'msg_a1', session_id: S });
  // the second call consumed the read's result
  const second = llms.find((s) => s.attributes['metadata'].includes('msg_a2')).attributes;
  assert.equal(second['llm.input_messages.0.message.role'], 'tool');
  assert.equal(second['llm.input_messages.0.message.tool_call_id'], 'call_r');
  assert.equal(second['llm.input_messages.0.message.content'], 'int main;');
  assert.equal(second['input.mime_type'], 'application/json');
});

test('errors: an output-length failure is an ERROR with an exception event, and the Turn reflects it', async () => {
  const spans = await receive({});
  const failed = spans.find((s) => s.attributes['metadata']?.includes('msg_a3'));
  assert.equal(failed.status.code, 2);
  assert.equal(failed.events[0].name, 'exception');
  assert.equal(failed.events[0].attributes['exception.type'], 'MessageOutputLengthError');
  assert.equal(one(spans, 'Turn').status.code, 2);
});

test('the Turn rolls up tokens, cost, calls and errors of the whole tree, subagents included', async () => {
  const turn = one(await receive({}), 'Turn').attributes;
  assert.equal(turn['opencode.turn.llm_calls'], 6);
  assert.equal(turn['opencode.turn.tool_calls'], 4);
  assert.equal(turn['opencode.turn.tool_errors'], 0);
  assert.equal(turn['opencode.turn.token_count.prompt'], 6 * 450);
  assert.equal(turn['opencode.turn.token_count.completion'], 6 * 50);
  assert.equal(turn['opencode.turn.token_count.total'], 6 * 500);
  assert.ok(Math.abs(turn['opencode.turn.cost.total'] - 0.06) < 1e-9);
});

test('tools: ids, mime types and their main argument', async () => {
  const spans = await receive({});
  const read = one(spans, 'read').attributes;
  assert.equal(read['tool.id'], 'call_r');
  assert.equal(read['tool_call.id'], 'call_r');
  assert.equal(read['tool.file_path'], '/work/proj/a.c');
  assert.equal(read['input.mime_type'], 'application/json');
  assert.equal(read['output.mime_type'], 'text/plain');
  assert.equal(one(spans, 'grep').attributes['tool.query'], 'TODO');
});

test('custom attributes, OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME arrive', async () => {
  const home = tempHome();
  fs.mkdirSync(path.join(home, '.arize', 'harness'), { recursive: true });
  fs.writeFileSync(path.join(home, '.arize', 'harness', 'config.yaml'),
    'attributes:\n  team: platform\n  env: dev\nharnesses:\n  opencode:\n    attributes:\n      env: laptop\n');
  const spans = await receive({ HOME: home, OTEL_SERVICE_NAME: 'my-agent', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test,owner=a%20b' });
  for (const s of spans) {
    assert.equal(s.attributes.team, 'platform');
    assert.equal(s.attributes.env, 'laptop', 'the harness block wins');
    assert.equal(s.resource['service.name'], 'my-agent');
    assert.equal(s.resource['deployment.environment'], 'test');
    assert.equal(s.resource.owner, 'a b');
  }
});

test('OPENINFERENCE_HIDE_INPUTS and _OUTPUT_MESSAGES mask what they name', async () => {
  const spans = await receive({ OPENINFERENCE_HIDE_INPUTS: 'true', OPENINFERENCE_HIDE_OUTPUT_MESSAGES: 'true' });
  for (const s of spans) {
    if ('input.value' in s.attributes) assert.equal(s.attributes['input.value'], '__REDACTED__');
    assert.ok(!Object.keys(s.attributes).some((k) => k.startsWith('llm.input_messages.') || k.startsWith('llm.output_messages.')));
  }
  assert.equal(one(spans, 'Turn').attributes['output.value'], 'The fix is');
});
