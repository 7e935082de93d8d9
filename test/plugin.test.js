'use strict';
// The OpenCode plugin file, loaded by the real Bun (the runtime inside OpenCode) with a fake
// OpenCode client answering from the shared captures, replaying their recorded events.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startReceiver, spanTree, comparable } = require('./receiver.js');
const { ROOT, tempHome, cleanEnv, run } = require('./helpers/run.js');

const BUN = path.join(ROOT, 'node_modules', '.bin', 'bun');

function replay(input, env) {
  return run('plugin-scenario.ts', input, cleanEnv(env), { runtime: BUN, timeoutMs: 60000 });
}

test('a real OpenCode run replayed through the plugin gives exactly the expected tree', async () => {
  const receiver = await startReceiver();
  try {
    const out = await replay({ snapshots: 'main-run/snapshots' }, { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url });
    assert.deepEqual(out.hooks.sort(), [
      'chat.params',
      'command.execute.before',
      'dispose',
      'event',
      'experimental.chat.messages.transform',
      'experimental.chat.system.transform',
      'tool.definition',
    ]);
    const spans = receiver.spans();
    assert.equal(
      spanTree(spans),
      [
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
      ].join('\n'),
    );
    assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span twice');
    assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, 'one trace for the turn');
    const [turn] = spans.filter((s) => s.name === 'Turn');
    // `opencode run` stores the prompt with the quotes it was given
    assert.equal(turn.attributes['input.value'], '"PROBE_MAIN: please run the scripted tool sequence"');
    assert.match(turn.attributes['output.value'], /^All done\. FINAL_ANSWER/);
    const [write] = spans.filter((s) => s.name === 'write');
    assert.equal(write.attributes['tool.file_path'], '/home/user/proj/out.txt');
    const costs = spans
      .filter((s) => s.attributes['openinference.span.kind'] === 'LLM')
      .map((s) => s.attributes['llm.cost.total']);
    assert.ok(
      costs.every((c) => c > 0),
      'every model call carries its cost',
    );
    // every span reached the backend by the end of the process (the core flushes at its cleanup)
    assert.equal(out.status.counters.spans_queued, spans.length);
    assert.equal(out.logs.length, 0, `no plugin errors: ${JSON.stringify(out.logs)}`);
  } finally {
    await receiver.close();
  }
});

test('replaying the same events again in one process sends nothing new', async () => {
  const receiver = await startReceiver();
  try {
    const out = await replay(
      { snapshots: 'main-run/snapshots', replays: 3 },
      { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url },
    );
    assert.equal(receiver.spans().length, 15);
    assert.equal(out.status.counters.spans_queued, 15);
  } finally {
    await receiver.close();
  }
});

test("dispose does not wait for the backend: the core's exit cleanup does, within the bound", async () => {
  // A dispose that waits makes OpenCode load the instance's plugins again and hold its exit;
  // and a flush's answer reaches OpenCode's thread late at exit. So dispose must not depend on
  // it: here the flush never answers and the backend never answers, and the process still ends,
  // its cleanup saying what stays in the spool.
  const silent = await startReceiver({ hang: () => true });
  const home = tempHome();
  try {
    const out = await replay(
      { snapshots: 'main-run/snapshots', flushNeverAnswers: true },
      { HOME: home, PHOENIX_ENDPOINT: silent.url, ARIZE_EXIT_FLUSH_MS: '300' },
    );
    assert.deepEqual(
      out.hooks.sort(),
      [
        'chat.params',
        'command.execute.before',
        'dispose',
        'event',
        'experimental.chat.messages.transform',
        'experimental.chat.system.transform',
        'tool.definition',
      ],
      'dispose returned',
    );
    assert.ok(silent.requests.length > 0, 'the export was under way');
    const log = require('node:fs').readFileSync(path.join(home, '.arize', 'harness', 'logs', 'opencode.log'), 'utf8');
    assert.match(
      log,
      /exit: \d+ spans \(\d+ bytes\) not yet accepted by the backend stay in the spool for the next start/,
    );
  } finally {
    await silent.close();
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
    const reasons = spans
      .filter((s) => s.name.startsWith('LLM'))
      .map((s) => s.events[0]?.attributes['exception.type'])
      .sort();
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

// ---------------------------------------------------------------------------------------------
// Reading only the open part of a session. A synthetic multi-turn session (with subagents) is
// replayed through the plugin, event by event, against a fake OpenCode that honours `limit`
// and `before` as OpenCode does; what arrives is compared with the whole session reconciled at
// once (JSON text, never cut).
const { makeSession } = require('./bench/session.js');

const LONG = { messages: 300, seed: 21, childEvery: 3, longTurn: { turn: 12, size: 60 } };

let reference;
/** The spans of the whole synthetic session, by span id. */
async function referenceSpans() {
  if (reference) return reference;
  const session = makeSession(LONG.messages, LONG);
  const receiver = await startReceiver();
  try {
    const payload = {
      type: 'close',
      sessionID: session.sessionID,
      messages: session.messages,
      childSessions: session.childSessions,
      turnsBefore: 0, // the whole session: its turns numbered from 1, as backfill numbers them
    };
    await run(
      'api-scenario.js',
      { steps: [{ payload: JSON.stringify(payload) }, { flush: 20000 }] },
      cleanEnv({ HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url }),
      { timeoutMs: 60000 },
    );
    reference = new Map(receiver.spans().map((s) => [s.spanId, comparable(s)]));
    return reference;
  } finally {
    await receiver.close();
  }
}

/** The synthetic session's events [from, to) through the plugin; its reads and the spans. */
async function replayLong(range, home, receiver) {
  // dispose's flush may take as long as the drain needs (the receiver answers): with the default
  // exit bound (1 s) a loaded machine left some of the ~850 spans in the spool for the next start
  const env = { HOME: home, PHOENIX_ENDPOINT: receiver.url, ARIZE_EXIT_FLUSH_MS: '30000' };
  const out = await replay({ synthetic: LONG, ...range }, env);
  assert.equal(out.logs.length, 0, `no plugin errors: ${JSON.stringify(out.logs)}`);
  return out;
}

const sessionOf = makeSession(LONG.messages, LONG);
const ROOT_ID = sessionOf.sessionID;
const CHILD_IDS = new Set(sessionOf.childSessions.map((c) => c.sessionID));
/** The frame index (see plugin-scenario.ts) of the completion of message k. */
function frameOf(k) {
  let frame = 0;
  for (let i = 1; i < k; i++) {
    if (sessionOf.messages[i].info.role !== 'assistant') continue;
    frame++;
    if (i + 1 === sessionOf.messages.length || sessionOf.messages[i + 1].info.role === 'user') frame++;
  }
  return frame;
}

test('a long session is read from its open turn on, never whole, and traced exactly', async () => {
  const expected = await referenceSpans();
  const receiver = await startReceiver();
  try {
    const out = await replayLong({}, tempHome(), receiver);
    const spans = receiver.spans();
    assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span twice');
    assert.deepEqual(new Map(spans.map((s) => [s.spanId, comparable(s)])), expected);
    const root = out.reads.filter((r) => r.session === ROOT_ID);
    assert.ok(
      root.every((r) => r.limit !== null),
      'every read of the session is bounded',
    );
    const read = root.reduce((n, r) => n + r.messages, 0);
    const whole = sessionOf.messages.reduce((n, m, k) => n + (m.info.role === 'assistant' ? k + 1 : 0), 0);
    assert.ok(
      root.every((r) => r.before !== null || r.messages <= 20),
      'each event reads the tail',
    );
    const back = root.filter((r) => r.before !== null).length;
    assert.ok(back <= LONG.longTurn.size, `${back} reads further back: only while the long turn is open`);
    assert.ok(read * 5 < whole, `${read} messages read, against ${whole} for whole snapshots`);
    for (const id of CHILD_IDS)
      assert.equal(out.reads.filter((r) => r.session === id).length, 1, `child ${id} fetched once`);
  } finally {
    await receiver.close();
  }
});

const LONG_TURN = sessionOf.turns[LONG.longTurn.turn]; // 60 messages: longer than a tail

/** A span as comparable() gives it, its Turn's metadata without turn_number. */
function unnumbered(c) {
  if (c.name !== 'Turn') return c;
  const { turn_number, ...rest } = JSON.parse(c.attributes.metadata);
  return { ...c, attributes: { ...c.attributes, metadata: JSON.stringify(rest) } };
}

test('the plugin loaded mid-session traces the turn in progress whole, and every turn after it', async () => {
  const expected = await referenceSpans();
  const receiver = await startReceiver();
  try {
    // its first 40 messages happened unseen: the first tail does not reach its prompt
    await replayLong({ from: frameOf(LONG_TURN + 40) }, tempHome(), receiver);
    const spans = receiver.spans();
    assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span twice');
    // a process that never saw the session's start cannot number its turns: no turn_number
    for (const s of spans) {
      if (s.name === 'Turn') assert.equal(JSON.parse(s.attributes.metadata).turn_number, undefined);
      assert.deepEqual(comparable(s), unnumbered(expected.get(s.spanId)), `${s.name} as the whole session gives it`);
    }
    const turnSpan = [...expected.values()].find(
      (s) =>
        s.name === 'Turn' &&
        JSON.parse(s.attributes.metadata).user_message_id === sessionOf.messages[LONG_TURN].info.id,
    );
    assert.equal(turnSpan.attributes['opencode.turn.llm_calls'] >= 59, true);
    const from = [...expected.values()].filter((s) => s.name === 'Turn' && BigInt(s.start) >= BigInt(turnSpan.start));
    assert.ok(from.length > 5);
    for (const t of from) {
      const whole = [...expected.values()]
        .filter((s) => s.trace === t.trace)
        .map((s) => s.id)
        .sort();
      assert.deepEqual(
        spans
          .filter((s) => s.traceId === t.trace)
          .map((s) => s.spanId)
          .sort(),
        whole,
        `turn ${JSON.parse(t.attributes.metadata).user_message_id} traced whole`,
      );
    }
  } finally {
    await receiver.close();
  }
});

test('OpenCode restarted with the same HOME: the new process finishes what the old one began, nothing twice', async () => {
  const expected = await referenceSpans();
  const cut = frameOf(LONG_TURN + 30); // the old process stops 30 calls into a 60-call turn
  const home = tempHome();
  const receiver = await startReceiver();
  try {
    await replayLong({ to: cut }, home, receiver);
    const first = receiver.spans().length;
    assert.ok(first > 0 && first < expected.size);
    const out = await replayLong({ from: cut }, home, receiver);
    assert.ok(
      out.reads.some((r) => r.before !== null),
      'the new process paged back to the open turn',
    );
    const spans = receiver.spans();
    assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span twice');
    assert.deepEqual(new Map(spans.map((s) => [s.spanId, comparable(s)])), expected);
  } finally {
    await receiver.close();
  }
});

for (const answers of ['wrapped', 'bare'])
  test(`the start-up sweep closes a long turn an earlier OpenCode left open, reading back page by page (${answers} SDK answers)`, async () => {
    const expected = await referenceSpans();
    const receiver = await startReceiver();
    try {
      // An earlier OpenCode stopped 55 calls into the 60-call turn: its storage holds them, no
      // event comes; the sweep starts 3 s after the plugin and closes that turn alone.
      const to = frameOf(LONG_TURN + 56);
      const out = await replay(
        // a bare answer has no headers, so no cursor: a server that takes a message id
        {
          synthetic: LONG,
          from: to,
          to,
          sweep: true,
          waitMs: 3500,
          answers,
          ...(answers === 'bare' ? { before: 'ids' } : {}),
        },
        { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url, ARIZE_RECOVER_HOURS: '8760' },
      );
      assert.equal(out.logs.filter((l) => l.level !== 'info').length, 0, `no warnings: ${JSON.stringify(out.logs)}`);
      const spans = receiver.spans();
      const turns = spans.filter((s) => s.name === 'Turn');
      assert.equal(turns.length, 1, 'one Turn: the open one');
      assert.equal(JSON.parse(turns[0].attributes.metadata).user_message_id, sessionOf.messages[LONG_TURN].info.id);
      assert.equal(turns[0].attributes['opencode.turn.llm_calls'], 55);
      const others = spans.filter((s) => s.name !== 'Turn');
      assert.equal(others.filter((s) => s.attributes['openinference.span.kind'] === 'LLM').length, 55);
      for (const s of others)
        assert.deepEqual(comparable(s), expected.get(s.spanId), `${s.name} as the whole session gives it`);
      const root = out.reads.filter((r) => r.session === ROOT_ID);
      assert.ok(
        root.every((r) => r.limit !== null),
        'never read whole',
      );
      assert.ok(
        root.some((r) => r.before !== null),
        'the turn is longer than the first read: paged back',
      );
      assert.ok(root.reduce((n, r) => n + r.messages, 0) <= LONG_TURN + 56, 'no message read twice');
    } finally {
      await receiver.close();
    }
  });

test('an OpenCode that ignores limit and before gets whole reads; one that ignores before does not loop', async () => {
  const expected = await referenceSpans();
  for (const ignore of [['limit', 'before'], ['before']]) {
    const receiver = await startReceiver();
    try {
      const out = await replay(
        { synthetic: LONG, ignore, from: frameOf(LONG_TURN + 40) },
        { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url },
      );
      assert.equal(out.logs.length, 0, `no plugin errors: ${JSON.stringify(out.logs)}`);
      const spans = receiver.spans();
      assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'no span twice');
      // whole reads see the session's start and number its turns; without `before` the
      // plugin never reaches it, and its turns have no number
      for (const s of spans)
        assert.deepEqual(
          comparable(s),
          ignore.includes('limit') ? expected.get(s.spanId) : unnumbered(expected.get(s.spanId)),
        );
      if (ignore.includes('limit'))
        assert.deepEqual(new Set(spans.map((s) => s.spanId)), new Set(expected.keys()), 'whole reads trace every turn');
      else assert.ok(spans.length > 0 && out.reads.length < 2000, `${out.reads.length} reads`);
    } finally {
      await receiver.close();
    }
  }
});

test("a child that finishes before its parent's task call ends is fetched once, when the call ends", async () => {
  const receiver = await startReceiver();
  try {
    const out = await replay({ snapshots: 'main-run/snapshots' }, { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url });
    const child = 'ses_df4ec1a8fffe6Z9lU7gc13I2Vp';
    assert.equal(out.reads.filter((r) => r.session === child).length, 1);
    const agent = receiver.spans().filter((s) => s.attributes['openinference.span.kind'] === 'AGENT');
    assert.equal(agent.length, 1);
    assert.equal(
      receiver.spans().filter((s) => s.parentSpanId === agent[0].spanId).length,
      2,
      'both of its model calls',
    );
  } finally {
    await receiver.close();
  }
});

test('with tracing turned off the plugin reads nothing from OpenCode and sends nothing', async () => {
  const receiver = await startReceiver();
  try {
    const out = await replay(
      { snapshots: 'main-run/snapshots' },
      { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url, ARIZE_TRACE_ENABLED: 'false' },
    );
    assert.deepEqual(out.reads, [], 'no session was read');
    assert.equal(receiver.spans().length, 0);
    assert.equal(out.logs.length, 0, `no plugin errors: ${JSON.stringify(out.logs)}`);
  } finally {
    await receiver.close();
  }
});

test('an SDK that answers with bare values instead of {data} is traced the same', async () => {
  const receiver = await startReceiver();
  try {
    const out = await replay(
      { snapshots: 'main-run/snapshots', answers: 'bare' },
      { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url },
    );
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

test('a turn killed mid-tool: the sweep ends the cut-off bash call when its OpenCode was last seen alive', async () => {
  // bash-killed: OpenCode killed (SIGINT) 5 s into a bash call; its storage holds the call
  // running. The dead process's liveness marker was last touched then (its heartbeat).
  const { snapshot } = require('./helpers/fixtures.js');
  const capture = snapshot('local/bash-killed.json');
  const part = capture.messages.flatMap((m) => m.parts).find((p) => p.tool === 'bash');
  const home = tempHome();
  const live = path.join(home, '.arize', 'harness', 'live', 'opencode');
  fs.mkdirSync(live, { recursive: true });
  const gone = spawnSync(process.execPath, ['-e', '']).pid; // a pid that no longer runs
  const marker = path.join(live, `${os.hostname().replace(/[^\w.-]/g, '_')}.${gone}.dead.json`);
  fs.writeFileSync(marker, JSON.stringify({ pid: gone, host: os.hostname(), sessions: [capture.session.id] }));
  const aliveUntil = part.state.time.start + 5000;
  fs.utimesSync(marker, aliveUntil / 1000, aliveUntil / 1000);
  const receiver = await startReceiver();
  try {
    const out = await replay(
      { local: 'bash-killed.json', from: 1, to: 1, sweep: true, waitMs: 3500 },
      { HOME: home, PHOENIX_ENDPOINT: receiver.url, ARIZE_RECOVER_HOURS: '8760' },
    );
    assert.equal(out.logs.filter((l) => l.level !== 'info').length, 0, JSON.stringify(out.logs));
    const spans = receiver.spans();
    const bash = spans.find((s) => s.name === 'bash');
    assert.ok(bash, spanTree(spans));
    assert.ok(Math.abs(Number(bash.endNs - bash.startNs) / 1e6 - 5000) <= 1, spanTree(spans)); // mtime: ms
    assert.match(bash.status.message, /interrupted/);
    assert.equal(spans.filter((s) => s.name === 'Turn').length, 1);
    assert.ok(!fs.existsSync(marker), 'the dead marker is removed');
    // every session of the project, not the 100 most recent OpenCode lists by default
    assert.ok(out.lists.length > 0 && out.lists.every((q) => q && q.limit > 100), JSON.stringify(out.lists));
  } finally {
    await receiver.close();
  }
});
