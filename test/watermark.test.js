'use strict';
// Whole snapshots cut at the watermark (docs/performance.md): the core answers, with each
// result, the oldest message of the session that can still produce spans; lib/ cuts the next
// snapshot of the session there (a binary search) and leaves out the child sessions the core is
// done with, before the payload crosses as JSON text, once. These tests feed the same
// snapshots, in the same order, once as objects (cut) and once as JSON text (never cut: the
// whole payload, parsed by the core), each run in a fresh process with its own HOME and
// receiver, and compare what arrives. `node --test` tests Node, `bun test` tests Bun.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver, comparable } = require('./receiver.js');
const { tempHome, cleanEnv, run } = require('./helpers/run.js');
const { FIXTURES, snapshot, payload: fixturePayload } = require('./helpers/fixtures.js');
const { makeSession } = require('./bench/session.js');

// Runs payloads in order in one process; returns each reconcile's result and the spans that
// arrived, each span as comparable JSON.
async function feed(payloads, { asText = false, env = {} } = {}) {
  const receiver = await startReceiver();
  try {
    const steps = payloads.map((p) => ({ payload: asText ? JSON.stringify(p) : p }));
    const out = await run(
      'watermark-scenario.js',
      { steps: [...steps, { flush: 20000 }] },
      cleanEnv({ HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url, ...env }),
      { timeoutMs: 120000 },
    );
    const results = out.steps.slice(0, -1).map((s) => s.reconcile);
    const crossed = out.steps.slice(0, -1).map((s) => s.crossed);
    const flushed = out.steps[out.steps.length - 1].flush;
    assert.equal(flushed.pending, 0, 'every span was exported');
    const spans = receiver
      .spans()
      .map(comparable)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { results, spans, crossed };
  } finally {
    await receiver.close();
  }
}

// Both ways give the same results, call by call, and the same spans.
async function assertSameBothWays(payloads, env) {
  const [cut, whole] = await Promise.all([feed(payloads, { env }), feed(payloads, { asText: true, env })]);
  assert.deepEqual(cut.results, whole.results);
  assert.equal(cut.spans.length, whole.spans.length);
  assert.deepEqual(cut.spans, whole.spans);
  assert.equal(new Set(cut.spans.map((s) => s.id)).size, cut.spans.length, 'no span twice');
  cut.crossed.forEach((c, i) => assert.ok(c.crossings <= 1, `payload ${i} crossed at most once`));
  whole.crossed.forEach((c, i) => assert.equal(c.messages, payloads[i].messages.length, `JSON text ${i} went whole`));
  return cut;
}

// The captures of one directory in capture order, typed as the plugin types them; a child
// session's own captures are left out, as the plugin leaves them (its parent's payload has it).
function captures(dir) {
  return fs
    .readdirSync(path.join(FIXTURES, dir))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .filter((f) => !snapshot(path.join(dir, f)).session.parentID)
    .map((f) => fixturePayload(path.join(dir, f), /idle/.test(f) ? 'close' : 'reconcile'));
}

const clone = (x) => JSON.parse(JSON.stringify(x));

// A message of the synthetic session as OpenCode shows it while the model call runs: not
// completed, its tools running, its text still empty.
function inProgress(message) {
  const m = clone(message);
  delete m.info.time.completed;
  delete m.info.finish;
  m.parts = m.parts
    .filter((p) => p.type !== 'step-finish')
    .map((p) => {
      if (p.type === 'tool')
        return { ...p, state: { status: 'running', input: p.state.input, time: { start: p.state.time.start } } };
      if (p.type === 'text' || p.type === 'reasoning') return { ...p, text: '' };
      return p;
    });
  return m;
}

// The child sessions whose task call is in these messages (the plugin sends those).
function childrenIn(session, messages) {
  return session.childSessions.filter((c) =>
    messages.some((m) => m.parts.some((p) => p.tool === 'task' && p.state.metadata?.sessionId === c.sessionID)),
  );
}

// The payloads OpenCode's events would produce for a session, one message at a time: on each
// completed model call a "reconcile" (with the next call, just started, at the end), and a
// "close" at the end of each turn. A child session travels once its task call is there.
function eventByEvent(session, { killedAt = -1 } = {}) {
  const { sessionID, messages } = session;
  const out = [];
  const shown = (list) => childrenIn(session, list);
  for (let k = 1; k < messages.length; k++) {
    if (messages[k].info.role !== 'assistant') continue;
    const list = messages.slice(0, k + 1).map((m, i) => (i === killedAt ? inProgress(m) : m));
    const next = messages[k + 1];
    const turnEnds = !next || next.info.role === 'user';
    if (k === killedAt) continue; // OpenCode was killed during this call: no event for it
    out.push({
      type: 'reconcile',
      sessionID,
      messages: turnEnds ? list : [...list, inProgress(next)],
      childSessions: shown(list),
    });
    if (
      turnEnds &&
      !(killedAt >= 0 && killedAt < k && messages.slice(killedAt, k).every((m) => m.info.role !== 'user'))
    )
      out.push({ type: 'close', sessionID, messages: list, childSessions: shown(list) });
  }
  return out;
}

test('objects and JSON text give the same spans for the shared captures', async () => {
  const payloads = [
    ...captures('one-bash-call'),
    ...captures('main-run/snapshots'),
    ...captures('serve-scenarios/snapshots'),
  ];
  const { spans } = await assertSameBothWays(payloads);
  assert.ok(spans.length >= 20, `the captures make spans (${spans.length})`);
  assert.ok(
    spans.some((s) => s.attributes['openinference.span.kind'] === 'AGENT'),
    'a subagent among them',
  );
});

test('objects and JSON text give the same spans for a multi-turn session, event by event', async () => {
  const session = makeSession(48, { seed: 5, childEvery: 2 });
  const payloads = eventByEvent(session);
  const { spans, crossed } = await assertSameBothWays(payloads);
  // what crosses is the open turn (and the last message of the one before), not the session
  const longestTurn = Math.max(...session.turns.map((t, i) => (session.turns[i + 1] ?? session.messages.length) - t));
  crossed
    .slice(1)
    .forEach((c, i) =>
      assert.ok(
        c.messages <= longestTurn + 2,
        `payload ${i + 1}: ${c.messages} of ${payloads[i + 1].messages.length} messages crossed`,
      ),
    );
  const last = crossed[crossed.length - 1].messages,
    all = payloads[payloads.length - 1].messages.length;
  assert.ok(last * 2 < all, `the last payload: ${last} of ${all} messages crossed`);
  const kinds = (kind) => spans.filter((s) => s.attributes['openinference.span.kind'] === kind).length;
  const assistants = session.messages.filter((m) => m.info.role === 'assistant').length;
  assert.equal(kinds('CHAIN'), session.turns.length);
  assert.equal(kinds('LLM'), assistants + session.childSessions.length * 4);
  assert.equal(kinds('AGENT'), session.childSessions.length);
  assert.ok(session.childSessions.length >= 2);
});

test('a call cut short by a kill and a newer prompt is traced the same both ways', async () => {
  const session = makeSession(30, { seed: 6 });
  const killedAt = session.turns[1] - 1; // the last call of the first turn never completes
  const { spans } = await assertSameBothWays(eventByEvent(session, { killedAt }));
  const cut = spans.find(
    (s) => JSON.parse(s.attributes.metadata || '{}').message_id === session.messages[killedAt].info.id,
  );
  assert.equal(cut.status.code, 2);
});

test('a reconcile that may queue only some of its spans gives the same spans both ways', async () => {
  // limits.max_spans_per_payload: what is over the limit follows with the next payloads
  const session = makeSession(40, { seed: 10, childEvery: 2 });
  const { sessionID, messages } = session;
  const p = (k, type = 'reconcile') => ({
    type,
    sessionID,
    messages: messages.slice(0, k),
    childSessions: childrenIn(session, messages.slice(0, k)),
  });
  const cuts = [7, 13, 14, 22, 31, 40];
  const payloads = cuts.flatMap((k) => [p(k), p(k), p(k)]).concat([p(40, 'close'), p(40, 'close'), p(40, 'close')]);
  const { spans, results } = await assertSameBothWays(payloads, { ARIZE_MAX_SPANS_PER_PAYLOAD: '5' });
  assert.ok(results.every((r) => r.spans <= 5));
  assert.ok(spans.length > 5 * cuts.length, `${spans.length} spans, over several payloads`);
});

test('a call whose tools did not all fit in one reconcile has them sent with the next', async () => {
  const session = makeSession(10, { seed: 11, childEvery: 0 });
  const withTools = (message, n) => {
    const m = clone(message);
    const tool = m.parts.find((p) => p.type === 'tool');
    m.parts = [
      ...m.parts.filter((p) => p.type !== 'tool'),
      ...Array.from({ length: n }, (_, k) => ({ ...clone(tool), id: `${tool.id}${k}`, callID: `${tool.callID}_${k}` })),
    ];
    return m;
  };
  const [user, first, second] = session.messages;
  const p = {
    type: 'reconcile',
    sessionID: session.sessionID,
    messages: [user, withTools(first, 1), withTools(second, 2)],
    childSessions: [],
  };
  // LLM, TOOL, LLM fit; the last call's two tools wait for the next payload
  const { results } = await assertSameBothWays([p, p, p], { ARIZE_MAX_SPANS_PER_PAYLOAD: '3' });
  assert.deepEqual(
    results.map((r) => r.spans),
    [3, 2, 0],
  );
});

test('snapshots replayed or with earlier turns removed give the same spans both ways', async () => {
  const session = makeSession(40, { seed: 7 });
  const { sessionID, messages, turns } = session;
  const p = (list, type = 'reconcile') => ({ type, sessionID, messages: list, childSessions: [] });
  const upTo = (k) => messages.slice(0, k);
  const { crossed } = await assertSameBothWays([
    p(upTo(turns[2] + 2)), // turns 1 and 2 over, turn 3 open
    p(upTo(turns[2] + 2)), // replayed: nothing new
    p([...upTo(turns[1]), ...messages.slice(turns[2], turns[2] + 4)]), // turn 2 gone, turn 3 goes on
    p(messages.slice(turns[1], turns[2] + 5)), // turn 1 gone
    p(messages, 'close'),
    p(messages, 'close'),
    p(upTo(turns[2] + 2)), // an old snapshot, late
  ]);
  assert.equal(crossed[0].messages, turns[2] + 2); // all of it: nothing was sent yet
  assert.equal(crossed[1].messages, 2); // the open turn, from its prompt
  assert.equal(crossed[5].messages, 1); // every turn was sent: the last message only
});

test('an open part that found nothing new does not cross again unchanged, and crosses once changed', async () => {
  const session = makeSession(40, { seed: 12 });
  const { sessionID, messages, turns } = session;
  const p = (k, type = 'reconcile') => ({ type, sessionID, messages: messages.slice(0, k), childSessions: [] });
  const open = turns[2] + 3;
  const { results, crossed } = await feed([p(open), p(open), p(open), p(open + 1), p(open + 1), p(open + 1, 'close')]);
  assert.deepEqual(
    crossed.map((c) => c.crossings),
    [1, 1, 0, 1, 1, 1],
  );
  assert.deepEqual(
    results.map((r) => r.spans),
    [results[0].spans, 0, 0, results[3].spans, 0, results[5].spans],
  );
  assert.ok(results[3].spans > 0 && results[5].spans > 0);
  assert.deepEqual(results[2], results[1]);
});

test('JSON text still works: the same result, then nothing new either way', async () => {
  const p = fixturePayload('one-bash-call/snap-3-session.idle.json', 'close');
  const { results } = await feed([JSON.stringify(p), p, JSON.stringify(p)]);
  assert.deepEqual(
    results.map((r) => r.spans),
    [4, 0, 0],
  );
  assert.ok(results.every((r) => !r.error && r.watermark.messageID === p.messages[p.messages.length - 1].info.id));
  const second = await feed([p, JSON.stringify(p)]);
  assert.deepEqual(
    second.results.map((r) => r.spans),
    [4, 0],
  );
});

test('a message of another session rejects the payload, even inside a turn already sent', async () => {
  const session = makeSession(30, { seed: 8 });
  const { sessionID, messages } = session;
  const foreign = clone(messages[2]);
  foreign.info.sessionID = 'ses_someone_else';
  for (const part of foreign.parts) part.sessionID = 'ses_someone_else';
  const tampered = [...messages.slice(0, 2), foreign, ...messages.slice(3)];
  const p = (list, type = 'close') => ({ type, sessionID, messages: list, childSessions: [] });
  const { results, spans } = await feed([p(messages), p(tampered), p(tampered, 'reconcile'), p(messages)]);
  assert.ok(results[0].spans > 0);
  for (const r of results.slice(1, 3)) {
    assert.equal(r.spans, 0);
    assert.match(r.error, /belongs to another session/);
  }
  assert.equal(results[3].spans, 0);
  assert.equal(results[3].error, undefined);
  assert.equal(spans.length, results[0].spans);
});

// Documented (docs/performance.md): what lib/ cuts off is not read beyond each message's
// sessionID, and a message naming a turn older than the payload waits for that turn (a Turn
// already sent is final). OpenCode never writes these; the JSON text path reads every record.
test('inside a turn already sent, a foreign part or a message added later is not read', async () => {
  const session = makeSession(30, { seed: 9 });
  const { sessionID, messages, turns } = session;
  const p = (list, type = 'close') => ({ type, sessionID, messages: list, childSessions: [] });
  const firstTurn = messages.slice(0, turns[1]);
  const foreignPart = clone(firstTurn);
  foreignPart[1].parts[0].sessionID = 'ses_someone_else';
  const late = clone(messages[turns[1] - 1]); // one more call of the first turn, after the second began
  late.info.id = `${late.info.id}z`;
  late.info.time.created = messages[messages.length - 1].info.time.completed + 10;
  late.info.time.completed = late.info.time.created + 10;
  for (const part of late.parts) part.messageID = late.info.id;
  late.parts = late.parts.filter((part) => part.type !== 'tool');
  const secondTurn = messages.slice(turns[1], turns[2]);

  const fast = await feed([p(firstTurn), p(foreignPart), p([...firstTurn, ...secondTurn, late], 'reconcile')]);
  assert.equal(fast.results[1].spans, 0);
  assert.equal(fast.results[1].error, undefined); // the part was not read
  const secondTurnSpans = secondTurn
    .slice(1)
    .reduce((n, m) => n + 1 + m.parts.filter((part) => part.type === 'tool').length, 0);
  assert.equal(fast.results[2].spans, secondTurnSpans); // the second turn's calls, not the late one
  assert.ok(!fast.spans.some((s) => JSON.parse(s.attributes.metadata || '{}').message_id === late.info.id));

  // the whole path reads it, and skips that one part (issue 12: one bad item costs only itself)
  const whole = await feed([p(firstTurn), p(foreignPart)], { asText: true });
  assert.equal(whole.results[1].spans, 0);
  assert.equal(whole.results[1].error, undefined);
});
