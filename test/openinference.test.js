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
const S = 'ses_parent',
  C1 = 'ses_child',
  C2 = 'ses_grandchild';

function msg(session, id, role, extra, parts) {
  return {
    info: { id, sessionID: session, role, time: { created: T }, ...extra },
    parts: parts.map((p, i) => ({ id: `prt_${id}_${i}`, sessionID: session, messageID: id, ...p })),
  };
}

function assistant(session, id, parent, created, completed, extra, parts) {
  return msg(
    session,
    id,
    'assistant',
    {
      parentID: parent,
      modelID: 'claude-x',
      providerID: 'anthropic',
      mode: 'build',
      agent: 'build',
      path: { cwd: '/work/proj', root: '/work/proj' },
      time: { created, completed },
      cost: 0.01,
      tokens: { input: 100, output: 40, reasoning: 10, cache: { read: 300, write: 50 } },
      finish: 'stop',
      ...extra,
    },
    parts,
  );
}

const task = (callID, child, prompt, start, end) => ({
  type: 'tool',
  callID,
  tool: 'task',
  state: {
    status: 'completed',
    input: { description: 'd', prompt, subagent_type: 'general' },
    output: `<task id="${child}">ok</task>`,
    title: 'd',
    metadata: { sessionId: child, parentSessionId: 'x' },
    time: { start, end },
  },
});

// A turn: reasoning + a read, then a task whose child runs a task of its own (a grandchild),
// then a final answer that failed with an output-length error.
function session() {
  const parent = [
    msg(S, 'msg_u1', 'user', {}, [{ type: 'text', text: 'fix the bug' }]),
    assistant(S, 'msg_a1', 'msg_u1', T + 10, T + 100, { finish: 'tool-calls' }, [
      { type: 'reasoning', text: 'look at the file first' },
      { type: 'text', text: 'Reading it.' },
      {
        type: 'tool',
        callID: 'call_r',
        tool: 'read',
        state: {
          status: 'completed',
          input: { filePath: '/work/proj/a.c' },
          output: 'int main;',
          title: 'a.c',
          time: { start: T + 50, end: T + 60 },
        },
      },
    ]),
    assistant(S, 'msg_a2', 'msg_u1', T + 110, T + 900, { finish: 'tool-calls' }, [
      task('call_t', C1, 'investigate', T + 120, T + 880),
    ]),
    assistant(
      S,
      'msg_a3',
      'msg_u1',
      T + 910,
      T + 990,
      { finish: 'length', error: { name: 'MessageOutputLengthError', data: {} } },
      [{ type: 'text', text: 'The fix is' }],
    ),
  ];
  const child = [
    msg(C1, 'msg_cu', 'user', {}, [{ type: 'text', text: 'investigate' }]),
    assistant(C1, 'msg_ca1', 'msg_cu', T + 130, T + 800, { agent: 'general' }, [
      task('call_g', C2, 'dig deeper', T + 140, T + 790),
    ]),
    assistant(C1, 'msg_ca2', 'msg_cu', T + 805, T + 870, { agent: 'general' }, [
      { type: 'text', text: 'child says: found it' },
    ]),
  ];
  const grandchild = [
    msg(C2, 'msg_gu', 'user', {}, [{ type: 'text', text: 'dig deeper' }]),
    assistant(C2, 'msg_ga', 'msg_gu', T + 150, T + 780, { agent: 'explore' }, [
      {
        type: 'tool',
        callID: 'call_gb',
        tool: 'grep',
        state: {
          status: 'completed',
          input: { pattern: 'TODO' },
          output: 'a.c:1',
          title: 'TODO',
          time: { start: T + 160, end: T + 170 },
        },
      },
      { type: 'text', text: 'grandchild found a TODO' },
    ]),
  ];
  return {
    type: 'close',
    sessionID: S,
    messages: parent,
    childSessions: [
      {
        sessionID: C2,
        parentSessionID: C1,
        parentCallID: 'call_g',
        info: { id: C2, parentID: C1, agent: 'explore', title: 'dig' },
        messages: grandchild,
      },
      {
        sessionID: C1,
        parentSessionID: S,
        parentCallID: 'call_t',
        info: { id: C1, parentID: S, agent: 'general', title: 'inv' },
        messages: child,
      },
    ],
  };
}

async function receive(env, payload = session()) {
  const receiver = await startReceiver();
  try {
    const out = await run(
      'api-scenario.js',
      { steps: [{ payload }, { flush: 10000 }] },
      cleanEnv({ HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url, ...env }),
    );
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

test("nested subagents nest again, all in the parent turn's trace", async () => {
  const spans = await receive({});
  const turn = one(spans, 'Turn');
  const byCall = (id) => spans.find((s) => s.attributes['tool.id'] === id);
  const taskTool = byCall('call_t');
  const general = one(spans, 'Agent: general');
  const explore = one(spans, 'Agent: explore');
  const grep = one(spans, 'grep');
  assert.equal(general.parentSpanId, taskTool.spanId);
  assert.equal(general.attributes['agent.name'], 'general');
  assert.equal(general.attributes['session.id'], S); // the root session's, as every span of the turn
  assert.equal(general.attributes['opencode.session.id'], C1);
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
  assert.deepEqual(JSON.parse(a['llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments']), {
    filePath: '/work/proj/a.c',
  });
  assert.equal(a['input.mime_type'], 'text/plain');
  assert.equal(a['output.mime_type'], 'text/plain');
  assert.deepEqual(JSON.parse(a['metadata']), {
    agent: 'build',
    mode: 'build',
    cwd: '/work/proj',
    message_id: 'msg_a1',
    session_id: S,
  });
  // the second call was given the turn so far: the prompt, the first answer and its tool call,
  // the read's result
  const second = llms.find((s) => s.attributes['metadata'].includes('msg_a2')).attributes;
  assert.equal(second['llm.input_messages.0.message.role'], 'user');
  assert.equal(second['llm.input_messages.0.message.content'], 'fix the bug');
  assert.equal(second['llm.input_messages.1.message.role'], 'assistant');
  assert.equal(second['llm.input_messages.1.message.content'], 'Reading it.');
  assert.equal(second['llm.input_messages.1.message.tool_calls.0.tool_call.id'], 'call_r');
  assert.equal(second['llm.input_messages.2.message.role'], 'tool');
  assert.equal(second['llm.input_messages.2.message.tool_call_id'], 'call_r');
  assert.equal(second['llm.input_messages.2.message.content'], 'int main;');
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
  fs.writeFileSync(
    path.join(home, '.arize', 'harness', 'config.yaml'),
    'attributes:\n  team: platform\n  env: dev\nharnesses:\n  opencode:\n    attributes:\n      env: laptop\n',
  );
  const spans = await receive({
    HOME: home,
    OTEL_SERVICE_NAME: 'my-agent',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test,owner=a%20b',
  });
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
    assert.ok(
      !Object.keys(s.attributes).some(
        (k) => k.startsWith('llm.input_messages.') || k.startsWith('llm.output_messages.'),
      ),
    );
  }
  assert.equal(one(spans, 'Turn').attributes['output.value'], 'The fix is');
});

// ---------------------------------------------------------------------------
// Issue 12: one bad item never costs the rest; attributes exactly as the conventions say.

const userMsg = (session, id, text, created = T) =>
  msg(session, id, 'user', { time: { created } }, [{ type: 'text', text }]);
const childOf = (sessionID, messages, info = {}) => ({
  sessionID,
  parentSessionID: S,
  parentCallID: 'call_t',
  info: { id: sessionID, parentID: S, agent: 'general', title: 'c', ...info },
  messages,
});

test('one malformed child, part or number costs only itself: the rest of the turn arrives', async () => {
  const p = session();
  p.messages[1].parts[2].messageID = 'msg_someone_else'; // the read's part names another message
  p.childSessions[0].info.id = 'ses_not_this_one'; // the grandchild's info describes another session
  // a token count past the range of a double: JSON.stringify cannot write it, a text payload can
  const text = JSON.stringify(p).replace('"output":40', '"output":1e309');
  const receiver = await startReceiver();
  const home = tempHome();
  try {
    const out = await run(
      'api-scenario.js',
      { steps: [{ payload: text }, { flush: 10000 }, { status: true }] },
      cleanEnv({ HOME: home, PHOENIX_ENDPOINT: receiver.url }),
    );
    assert.equal(out.steps[0].reconcile.error, undefined);
    assert.equal(out.steps[2].status.counters.items_skipped, 3, 'status() counts what was left out');
    const spans = receiver.spans();
    assert.equal(one(spans, 'Turn').attributes['opencode.turn.llm_calls'], 5); // the grandchild's call is gone
    assert.equal(spans.filter((s) => s.name === 'read').length, 0);
    assert.equal(spans.filter((s) => s.name === 'Agent: explore').length, 0);
    assert.equal(one(spans, 'Agent: general').attributes['output.value'], 'child says: found it');
    const first = spans.find((s) => s.attributes.metadata?.includes('"msg_a1"')).attributes;
    assert.equal(first['llm.token_count.completion'], undefined, 'the unreadable count is left out, not 0');
    assert.equal(first['llm.token_count.prompt'], 450);
    const log = fs.readFileSync(path.join(home, '.arize', 'harness', 'logs', 'opencode.log'), 'utf8');
    const skipped = log.split('\n').filter((l) => /skipped it, the rest is traced/.test(l));
    assert.equal(skipped.length, 3, log);
    assert.ok(skipped.some((l) => /message msg_a1: part 2 names another message/.test(l)));
    assert.ok(skipped.some((l) => /child session ses_grandchild .*another session/.test(l)));
    assert.ok(skipped.some((l) => /message msg_a1: tokens.output is not a valid count/.test(l)));
    assert.ok(!/int main|fix the bug/.test(log), 'the log names items, never their content');
  } finally {
    await receiver.close();
  }
});

test('output messages: message.content when text-only, message.contents.N when multi-part, never both', async () => {
  const llms = (await receive({})).filter((s) => s.attributes['openinference.span.kind'] === 'LLM');
  const byMessage = (id) => llms.find((s) => s.attributes.metadata.includes(`"${id}"`)).attributes;
  const multi = byMessage('msg_a1'),
    textOnly = byMessage('msg_ca2');
  assert.equal(multi['llm.output_messages.0.message.content'], undefined);
  assert.equal(multi['llm.output_messages.0.message.contents.1.message_content.text'], 'Reading it.');
  assert.equal(textOnly['llm.output_messages.0.message.content'], 'child says: found it');
  assert.ok(!Object.keys(textOnly).some((k) => k.startsWith('llm.output_messages.0.message.contents.')));
});

test('a call without a cost field has no llm.cost.total; the Turn sums the known costs', async () => {
  const p = session();
  delete p.messages[1].info.cost;
  for (const c of p.childSessions) for (const m of c.messages) delete m.info.cost;
  const spans = await receive({}, p);
  const first = spans.find((s) => s.attributes.metadata?.includes('"msg_a1"')).attributes;
  assert.equal(first['llm.cost.total'], undefined, 'unknown is not free');
  assert.ok(Math.abs(one(spans, 'Turn').attributes['opencode.turn.cost.total'] - 0.02) < 1e-9);
  for (const m of p.messages) delete m.info.cost;
  assert.equal(
    one(await receive({}, p), 'Turn').attributes['opencode.turn.cost.total'],
    undefined,
    'no known cost: none',
  );
});

test('a clock before 2000 gives spans at a clamped, marked time, never missing ones', async () => {
  const old = 5000;
  const p = {
    type: 'close',
    sessionID: 'ses_clock',
    messages: [
      userMsg('ses_clock', 'msg_u', 'what time is it', old),
      assistant('ses_clock', 'msg_a', 'msg_u', old + 10, old + 100, {}, [{ type: 'text', text: '1970' }]),
    ],
  };
  const spans = await receive({}, p);
  assert.deepEqual(spans.map((s) => s.name).sort(), ['LLM: claude-x', 'Turn']);
  for (const s of spans) {
    assert.equal(s.attributes['opencode.time.clamped'], true);
    assert.equal(s.startMs, Date.UTC(2000, 0, 1));
  }
});

test('a tool the user aborted ends ERROR', async () => {
  const p = {
    type: 'close',
    sessionID: 'ses_abort',
    messages: [
      userMsg('ses_abort', 'msg_u', 'run it'),
      assistant(
        'ses_abort',
        'msg_a',
        'msg_u',
        T + 10,
        T + 100,
        { error: { name: 'MessageAbortedError', data: { message: 'aborted' } } },
        [
          {
            type: 'tool',
            callID: 'call_b',
            tool: 'bash',
            state: {
              status: 'completed',
              input: { command: 'sleep 60' },
              output: 'partial\n\n<bash_metadata>\nUser aborted the command\n</bash_metadata>',
              metadata: { exit: 130 },
              time: { start: T + 20, end: T + 90 },
            },
          },
        ],
      ),
    ],
  };
  const bash = one(await receive({}, p), 'bash');
  assert.equal(bash.status.code, 2);
  assert.equal(bash.events[0].attributes['exception.type'], 'Aborted');
});

test('a child call that never completed arrives as an interrupted LLM span, the parent of its finished tool', async () => {
  const p = session();
  const childCall = p.childSessions[1].messages[1];
  delete childCall.info.time.completed; // the child's call that ran the grandchild's task
  const spans = await receive({}, p);
  const childTask = spans.find((s) => s.attributes['tool.id'] === 'call_g');
  const parent = spans.find((s) => s.spanId === childTask.parentSpanId);
  assert.ok(parent, "the tool span's parent was sent");
  assert.equal(parent.attributes['openinference.span.kind'], 'LLM');
  assert.equal(parent.status.code, 2);
});

test('the AGENT span waits for the complete child and carries its final answer', async () => {
  const partial = session();
  const last = partial.childSessions[1].messages[2];
  delete last.info.time.completed;
  last.parts[0].text = ''; // still streaming
  partial.type = 'reconcile';
  partial.messages.pop(); // the parent's final call has not happened yet
  const receiver = await startReceiver();
  try {
    await run(
      'api-scenario.js',
      { steps: [{ payload: partial }, { payload: session() }, { flush: 10000 }] },
      cleanEnv({ HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url }),
    );
    const agents = receiver.spans().filter((s) => s.name === 'Agent: general');
    assert.equal(agents.length, 1);
    assert.equal(agents[0].attributes['output.value'], 'child says: found it');
  } finally {
    await receiver.close();
  }
});

test('redaction keeps JSON types honest: text/plain beside a marker, JSON where JSON is claimed', async () => {
  const spans = await receive({ ARIZE_LOG_TOOL_CONTENT: 'false', ARIZE_LOG_TOOL_DETAILS: 'false' });
  const read = one(spans, 'read').attributes;
  assert.match(read['input.value'], /^<redacted \(\d+ chars\)>$/);
  assert.equal(read['input.mime_type'], 'text/plain');
  assert.equal(typeof JSON.parse(read['tool.parameters']), 'object');
  for (const s of spans) {
    for (const [k, v] of Object.entries(s.attributes))
      if (k.endsWith('tool_call.function.arguments')) assert.equal(typeof JSON.parse(v), 'object', k);
    for (const side of ['input', 'output'])
      if (s.attributes[`${side}.mime_type`] === 'application/json') JSON.parse(s.attributes[`${side}.value`]);
  }
  const hidden = await receive({ OPENINFERENCE_HIDE_INPUTS: 'true', OPENINFERENCE_HIDE_OUTPUTS: 'true' });
  for (const s of hidden) {
    assert.equal(s.attributes['input.mime_type'], undefined, `${s.name}: input.mime_type beside __REDACTED__`);
    assert.equal(s.attributes['output.mime_type'], undefined, `${s.name}: output.mime_type beside __REDACTED__`);
  }
});
