'use strict';
// The OpenCode plugin file, loaded by the real Bun (the runtime inside OpenCode) with a fake
// OpenCode client answering from the shared captures, replaying their recorded events.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { startReceiver, spanTree } = require('./receiver.js');
const { ROOT, tempHome, cleanEnv, run } = require('./helpers/run.js');

const BUN = path.join(ROOT, 'node_modules', '.bin', 'bun');

function replay(input, env) {
  return run('plugin-scenario.ts', input, cleanEnv(env), { runtime: BUN, timeoutMs: 60000 });
}

test('a real OpenCode run replayed through the plugin gives exactly the expected tree', async () => {
  const receiver = await startReceiver();
  try {
    const out = await replay({ snapshots: 'main-run/snapshots' }, { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url });
    assert.deepEqual(out.hooks.sort(), ['dispose', 'event']);
    const spans = receiver.spans();
    assert.equal(spanTree(spans), [
      'Turn [CHAIN] 3801ms',
      '  LLM: mock-model [LLM] 1655ms',
      '    bash [TOOL] 134ms',
      '  LLM: mock-model [LLM] 270ms',
      '    read [TOOL] 53ms',
      '    write [TOOL] 23ms',
      '  LLM: mock-model [LLM] 218ms',
      '    read [TOOL] 25ms ERROR: File not found: /home/user/proj/does-not-exist.txt',
      '  LLM: mock-model [LLM] 592ms',
      '    task [TOOL] 443ms',
      '      Agent: general [AGENT] 443ms',
      '        LLM: mock-model [LLM] 233ms',
      '          bash [TOOL] 46ms',
      '        LLM: mock-model [LLM] 157ms',
      '  LLM: mock-model [LLM] 217ms',
    ].join('\n'));
    assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span twice');
    assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, 'one trace for the turn');
    const [turn] = spans.filter((s) => s.name === 'Turn');
    // `opencode run` stores the prompt with the quotes it was given
    assert.equal(turn.attributes['input.value'], '"PROBE_MAIN: please run the scripted tool sequence"');
    assert.match(turn.attributes['output.value'], /^All done\. FINAL_ANSWER/);
    const [write] = spans.filter((s) => s.name === 'write');
    assert.equal(write.attributes['tool.file_path'], '/home/user/proj/out.txt');
    const costs = spans.filter((s) => s.attributes['openinference.span.kind'] === 'LLM').map((s) => s.attributes['llm.cost.total']);
    assert.ok(costs.every((c) => c > 0), 'every model call carries its cost');
    assert.equal(out.status.counters.spans_exported, spans.length);
    assert.equal(out.logs.length, 0, `no plugin errors: ${JSON.stringify(out.logs)}`);
  } finally {
    await receiver.close();
  }
});

test('replaying the same events again in one process sends nothing new', async () => {
  const receiver = await startReceiver();
  try {
    const out = await replay({ snapshots: 'main-run/snapshots', replays: 3 }, { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url });
    assert.equal(receiver.spans().length, 15);
    assert.equal(out.status.counters.spans_queued, 15);
  } finally {
    await receiver.close();
  }
});

test('abort, provider error and mid-stream failure each end their turn with an error', async () => {
  const receiver = await startReceiver();
  try {
    await replay({ snapshots: 'serve-scenarios/snapshots' }, { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url });
    const spans = receiver.spans();
    const turns = spans.filter((s) => s.name === 'Turn');
    assert.equal(turns.length, 3);
    for (const t of turns) assert.equal(t.status.code, 2, `${t.attributes['input.value']} is an error`);
    const reasons = spans.filter((s) => s.name.startsWith('LLM')).map((s) => s.events[0]?.attributes['exception.type']).sort();
    assert.deepEqual(reasons, ['APIError', 'MessageAbortedError', 'UnknownError']);
  } finally {
    await receiver.close();
  }
});

test('a failing OpenCode client is logged through OpenCode, never thrown', async () => {
  const out = await replay({ snapshots: 'main-run/snapshots', hostileClient: true }, { HOME: tempHome() });
  assert.ok(out.logs.length > 0);
  assert.match(out.logs[0].message, /server went away/);
  assert.equal(out.logs[0].service, 'arize-tracing');
  assert.equal(out.status.counters.spans_queued, 0);
});

test('an SDK that answers with bare values instead of {data} is traced the same', async () => {
  const receiver = await startReceiver();
  try {
    const out = await replay({ snapshots: 'main-run/snapshots', answers: 'bare' }, { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url });
    const spans = receiver.spans();
    assert.equal(spans.length, 15);
    assert.equal(spans.filter((s) => s.name === 'Agent: general').length, 1, 'the child session too');
    assert.equal(out.logs.length, 0, `no plugin errors: ${JSON.stringify(out.logs)}`);
  } finally {
    await receiver.close();
  }
});

test('an SDK answer of an unknown shape is said once in the log, never thrown', async () => {
  const out = await replay({ snapshots: 'main-run/snapshots', answers: 'odd' }, { HOME: tempHome() });
  const said = out.logs.filter((l) => /neither \{data\} nor/.test(l.message));
  assert.equal(said.length, 1, JSON.stringify(out.logs));
  assert.equal(said[0].level, 'warn');
  assert.equal(out.status.counters.spans_queued, 0);
});
