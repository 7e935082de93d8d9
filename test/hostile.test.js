'use strict';
// Hostile input through the public JS API, each scenario in a fresh process of the runtime
// running this file (Node under `node --test`, Bun under `bun test`), against a local
// receiver: every case has a defined outcome (a bounded span, or a rejected payload with a
// clear log line) and the process keeps working. Then secrets (never in a log line, status,
// error or debug output) and file modes (0600 files in 0700 directories).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { tempHome, cleanEnv, run, readLog } = require('./helpers/run.js');

const ONE_BASH = 'one-bash-call/snap-3-session.idle.json';
const LIMIT = 32768; // reconcile's default max_attr_bytes
const MARKER_ROOM = 128;
const T0 = 1795480533666; // a plausible OpenCode time (ms)
// Sanitizer builds (npm run test:asan) use several times the memory; only the bound there
// is the test's timeout.
const SANITIZED = /asan/i.test(process.env.ARIZE_TRACING_NATIVE || '');

function scenario(steps, env, { umask, timeoutMs = 120000 } = {}) {
  return run('hostile-scenario.js', { steps, umask }, cleanEnv(env), { timeoutMs });
}

function rejections(home) {
  return readLog(home)
    .split('\n')
    .filter((l) => /payload rejected/.test(l));
}

const byteLength = (s) => Buffer.byteLength(s, 'utf8');

// ------------------------------------------------------------------------------------------
// Hostile input

test('a 100 MB tool output becomes one bounded span with a marker; memory stays bounded', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  try {
    const out = await scenario([{ memory: true }, { bash: { output: '{100MB}' } }, { flush: 20000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.deepEqual(out.steps[1].reconcile, { spans: 4 });
    assert.equal(out.steps[2].flush.exported, 4);
    const [tool] = receiver.spans().filter((s) => s.name === 'bash');
    const value = tool.attributes['output.value'];
    assert.ok(byteLength(value) <= LIMIT + MARKER_ROOM, `output.value is ${byteLength(value)} bytes`);
    assert.match(value, /^x+…\[truncated: \d+ of 104857600 bytes shown\]$/);
    for (const s of receiver.spans())
      for (const [k, v] of Object.entries(s.attributes))
        if (typeof v === 'string')
          assert.ok(byteLength(v) <= LIMIT + MARKER_ROOM, `${s.name} ${k}: ${byteLength(v)} bytes`);
    assert.ok(
      receiver.requests.every((r) => r.bytes < 1024 * 1024),
      'requests stay small',
    );
    // The string exists in JS (100 MB), as JSON text (100 MB), as the copy Node-API hands to
    // C (100 MB) and as jansson's string: peak about 9x the output today, measured 0.9 GB.
    const growthMiB = (out.steps[1].memory.maxRSSKiB - out.steps[0].memory.maxRSSKiB) / 1024;
    if (!SANITIZED) assert.ok(growthMiB < 1200, `peak memory grew by ${Math.round(growthMiB)} MiB`);
    assert.ok(fs.statSync(path.join(home, '.arize', 'harness', 'logs', 'opencode.log')).size < 64 * 1024);
  } finally {
    await receiver.close();
  }
});

// OpenCode's snapshot repeats the whole history: a payload refused for its size once is refused
// for every later turn of the session too. The output must be cut, not the session dropped.
test('a session with a 100 MB tool output goes on being traced', async () => {
  const home = tempHome();
  const out = await scenario([{ bash: { output: '{100MB}' } }, { bash: { output: '{100MB}' }, nextTurn: true }], {
    HOME: home,
    ARIZE_DRY_RUN: 'true',
  });
  assert.equal(out.steps[0].reconcile.error, undefined);
  assert.equal(out.steps[1].reconcile.error, undefined);
  assert.ok(out.steps[1].reconcile.spans >= 2, `the next turn made ${out.steps[1].reconcile.spans} spans`);
});

// JSON.stringify writes a lone surrogate (a UTF-16 string cut inside an emoji) as "\ud800".
// OpenCode's snapshot repeats the whole history, so a rejected payload loses the session.
test('a lone surrogate in a tool output is replaced by U+FFFD, not a rejected snapshot', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  try {
    const out = await scenario([{ bash: { output: 'a\ud800b\udc00c' } }, { flush: 10000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.deepEqual(out.steps[0].reconcile, { spans: 4 });
    const [tool] = receiver.spans().filter((s) => s.name === 'bash');
    assert.equal(tool.attributes['output.value'], 'a\ufffdb\ufffdc');
  } finally {
    await receiver.close();
  }
});

test('a lone surrogate inside JSON text passed as a string is replaced too', async () => {
  const home = tempHome();
  const text = JSON.stringify({
    type: 'close',
    sessionID: 's',
    messages: [
      {
        info: { id: 'u', sessionID: 's', role: 'user', time: { created: T0 } },
        parts: [{ type: 'text', text: 'PLACEHOLDER' }],
      },
      {
        info: {
          id: 'a',
          sessionID: 's',
          role: 'assistant',
          parentID: 'u',
          time: { created: T0 + 1, completed: T0 + 2 },
        },
        parts: [],
      },
    ],
  }).replace('PLACEHOLDER', 'x\ud800y'); // a raw lone surrogate code unit, not an escape
  const out = await scenario([{ text }], { HOME: home, ARIZE_DRY_RUN: 'true' });
  assert.deepEqual(out.steps[0].reconcile, { spans: 2 });
});

test('a NUL in a tool output is replaced by U+FFFD, and the text after it kept', async () => {
  const receiver = await startReceiver();
  try {
    await scenario([{ bash: { output: 'abc\u0000def' } }, { flush: 10000 }], {
      HOME: tempHome(),
      PHOENIX_ENDPOINT: receiver.url,
    });
    const [tool] = receiver.spans().filter((s) => s.name === 'bash');
    assert.equal(tool.attributes['output.value'], 'abc\ufffddef');
  } finally {
    await receiver.close();
  }
});

test('nesting 100,000 levels is rejected with a reason, once in the log, and tracing goes on', async () => {
  const home = tempHome();
  const out = await scenario([{ deepString: 100000 }, { deepObject: 100000 }, { bash: {} }, { status: true }], {
    HOME: home,
    ARIZE_DRY_RUN: 'true',
  });
  assert.equal(out.steps[0].reconcile.spans, 0);
  assert.match(out.steps[0].reconcile.error, /depth/);
  assert.equal(out.steps[1].reconcile.spans, 0);
  assert.equal(typeof out.steps[1].reconcile.error, 'string');
  assert.deepEqual(out.steps[2].reconcile, { spans: 4 });
  assert.equal(out.steps[3].status.counters.rejected_payloads, 2);
  assert.equal(rejections(home).length, 2);
});

test('a payload JSON cannot represent (a BigInt, a cycle) is rejected saying so', async () => {
  const home = tempHome();
  const out = await scenario([{ value: 'bigint' }, { value: 'circular' }], { HOME: home, ARIZE_DRY_RUN: 'true' });
  for (const step of out.steps) {
    assert.equal(step.reconcile.spans, 0);
    assert.match(step.reconcile.error, /BigInt|circular|serializ|serialis|stringify/i, step.reconcile.error);
  }
  assert.equal(rejections(home).length, 2);
});

test('a rejection reason names the problem without quoting the payload', async () => {
  const home = tempHome();
  const good = JSON.stringify({
    type: 'close',
    sessionID: 's',
    messages: [
      { info: { id: 'u', sessionID: 's', role: 'user' }, parts: [{ type: 'text', text: 'PROMPT-CONTENT-4711' }] },
    ],
  });
  // jansson's error text ends "near '<the token>'": the token may be payload content
  const texts = [
    good.replace('PROMPT-CONTENT-4711', 'PROMPT-CONTENT-4711\u0001'), // raw control character
    good.replace('{"type":"text","text":"PROMPT-CONTENT-4711"}', '"x" "PROMPT-CONTENT-4711"'), // missing comma
    good.replace('"PROMPT-CONTENT-4711"', 'PROMPT-CONTENT-4711'), // bare word
  ];
  const out = await scenario(
    texts.map((text) => ({ text })),
    { HOME: home, ARIZE_DRY_RUN: 'true' },
  );
  for (const step of out.steps) {
    assert.equal(step.reconcile.spans, 0);
    assert.doesNotMatch(step.reconcile.error, /PROMPT/);
  }
  assert.equal(rejections(home).length, 3);
  assert.doesNotMatch(readLog(home), /PROMPT/);
});

test('out-of-range numbers and times give ordered spans', async () => {
  const receiver = await startReceiver();
  try {
    const p = require('./helpers/fixtures.js').payload(ONE_BASH, 'close');
    const [user, first, second] = p.messages;
    user.info.time.created = 1e308;
    first.info.time = { created: -1, completed: 1e308 };
    first.info.tokens = { input: -1, output: 1e308, reasoning: NaN, cache: { read: Infinity, write: -0 } };
    first.info.cost = -1e308;
    const bash = first.parts.find((x) => x.tool === 'bash');
    bash.state.time = { start: 5000, end: 10 };
    second.info.time = { created: 1.8e13, completed: 1.9e13 }; // the end is past 2^64 ns (year 2554)
    const out = await scenario([{ payload: p }, { flush: 10000 }], {
      HOME: tempHome(),
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.equal(out.steps[0].reconcile.error, undefined);
    for (const s of receiver.spans()) {
      assert.ok(s.endNs >= s.startNs, `${s.name}: ${s.startNs} .. ${s.endNs}`);
      for (const [k, v] of Object.entries(s.attributes))
        if (/token_count/.test(k)) assert.ok(v >= 0, `${s.name} ${k} = ${v}`);
    }
  } finally {
    await receiver.close();
  }
});

// Tool arguments are whatever JSON the model wrote: 1e20 there is written back by
// JSON.stringify as "100000000000000000000", beyond int64. Rejecting it would lose the session.
test('a number beyond int64 in a tool argument does not reject the snapshot', async () => {
  const home = tempHome();
  const p = require('./helpers/fixtures.js').payload(ONE_BASH, 'close');
  p.messages[1].parts.find((x) => x.tool === 'bash').state.input.n = 1e20;
  const out = await scenario([{ payload: p }], { HOME: home, ARIZE_DRY_RUN: 'true' });
  assert.deepEqual(out.steps[0].reconcile, { spans: 4 });
});

test('ids with path characters keep the state inside its directory', async () => {
  const home = tempHome();
  const ids = ['../../../escape', '/etc/passwd', 'a/b', '..', '%2e%2e%2f'];
  const steps = ids.map((id) => ({
    payload: {
      type: 'close',
      sessionID: id,
      messages: [{ info: { id: '../m', sessionID: id, role: 'user' }, parts: [] }],
    },
  }));
  const out = await scenario(steps, { HOME: home, ARIZE_DRY_RUN: 'true' });
  for (const step of out.steps) assert.equal(step.reconcile.error, undefined);
  const arize = path.join(home, '.arize');
  // nothing beside .arize (Bun keeps its own ~/.bun)
  assert.deepEqual(
    fs.readdirSync(home).filter((n) => n !== '.bun'),
    ['.arize'],
  );
  const dir = path.join(arize, 'harness', 'state', 'opencode');
  for (const name of fs.readdirSync(dir)) {
    assert.ok(!name.startsWith('.') && name.endsWith('.state'), name);
    assert.ok(fs.lstatSync(path.join(dir, name)).isFile());
  }
});

test('duplicate ids and foreign records: one span per id, foreign payloads rejected', async () => {
  const home = tempHome();
  const p = require('./helpers/fixtures.js').payload(ONE_BASH, 'close');
  const dup = JSON.parse(JSON.stringify(p));
  dup.messages.push(JSON.parse(JSON.stringify(dup.messages[1]))); // a message id twice
  const bash = dup.messages[1].parts.find((x) => x.tool === 'bash');
  dup.messages[1].parts.push({ ...bash, id: 'prt_other' }); // a call id twice
  const foreign = JSON.parse(JSON.stringify(p));
  foreign.messages[1].info.sessionID = 'ses_someone_else';
  const out = await scenario([{ payload: foreign }, { payload: dup }], { HOME: home, ARIZE_DRY_RUN: 'true' });
  assert.equal(out.steps[0].reconcile.spans, 0);
  assert.match(out.steps[0].reconcile.error, /another session/);
  assert.deepEqual(out.steps[1].reconcile, { spans: 4 });
  assert.equal(rejections(home).length, 1);
});

test('a config file that is a directory, empty, unreadable or 10 MB: a warning, and tracing works', async () => {
  const cases = {
    directory: (file) => fs.mkdirSync(file),
    empty: (file) => fs.writeFileSync(file, ''),
    unreadable: (file) => fs.writeFileSync(file, 'user_id: x\n', { mode: 0 }),
    big: (file) => fs.writeFileSync(file, '#'.repeat(10 * 1024 * 1024)),
  };
  for (const [name, make] of Object.entries(cases)) {
    const home = tempHome();
    const dir = path.join(home, '.arize', 'harness');
    fs.mkdirSync(dir, { recursive: true });
    make(path.join(dir, 'config.yaml'));
    const out = await scenario([{ bash: {} }, { status: true }], { HOME: home, ARIZE_DRY_RUN: 'true' });
    assert.deepEqual(out.steps[0].reconcile, { spans: 4 }, name);
    const warning = out.steps[1].status.config.warning;
    if (name === 'empty' || (name === 'unreadable' && process.getuid && process.getuid() === 0)) {
      assert.equal(warning, null, name); // root reads a mode 000 file
    } else {
      assert.match(warning, /is a directory|cannot read|larger than/, name);
      assert.match(readLog(home), /WARN config .*config\.yaml/, name);
    }
  }
});

// ------------------------------------------------------------------------------------------
// Secrets

const SECRET = 'ak-S3CRET-value-0xC0FFEE';
const SPACE = 'space-S3CRET-77';

// Everything a user or a bug report could show: stdout (results, status, errors), stderr
// (verbose mode copies log lines there) and the log file.
function assertNoSecret(out, home, secrets) {
  const places = { 'results and status': JSON.stringify(out.steps), stderr: out.stderr, log: readLog(home) };
  for (const secret of secrets)
    for (const [where, text] of Object.entries(places))
      assert.ok(!text.includes(secret), `${secret} appears in ${where}`);
}

test('no API key or authorization value in logs, status, errors or a verbose run (Arize AX)', async () => {
  let calls = 0;
  const receiver = await startReceiver({
    respond: () => (++calls === 1 ? { status: 503, body: 'try later' } : calls === 2 ? { status: 502 } : undefined),
  });
  const home = tempHome();
  try {
    const out = await scenario([{ bash: {} }, { text: '{broken' }, { flush: 20000 }, { status: true }], {
      HOME: home,
      ARIZE_API_KEY: SECRET,
      ARIZE_SPACE_ID: SPACE,
      ARIZE_OTLP_ENDPOINT: receiver.url,
      ARIZE_VERBOSE: 'true',
      ARIZE_RETRY_INITIAL_MS: '50',
    });
    assert.equal(out.steps[2].flush.exported, 4);
    assert.equal(receiver.requests.at(-1).headers.authorization, SECRET, 'the key did reach the backend');
    assert.doesNotMatch(out.stderr, /DEBUG|INFO/, 'verbose lines go to the log file, never to the terminal');
    assert.match(readLog(home), /DEBUG/, 'verbose mode wrote debug lines to the log');
    assertNoSecret(out, home, [SECRET, SPACE]);
  } finally {
    await receiver.close();
  }
});

test('no Phoenix key or bearer token in logs, status or errors, with a refusing backend', async () => {
  const receiver = await startReceiver({ respond: () => ({ status: 401, body: 'unauthorized' }) });
  const home = tempHome();
  try {
    const out = await scenario([{ bash: {} }, { flush: 5000 }, { status: true }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
      PHOENIX_API_KEY: SECRET,
      ARIZE_VERBOSE: 'true',
    });
    assert.equal(receiver.requests[0].headers.authorization, `Bearer ${SECRET}`);
    assert.match(out.steps[2].status.last_export.error, /401/);
    assertNoSecret(out, home, [SECRET]);
  } finally {
    await receiver.close();
  }
});

// Some backends quote what they were sent in an error ("invalid api key: ..."): the first line
// of a refusal goes to the log and to status, so the key must be scrubbed from it.
test('a backend that echoes the key in its refusal does not put the key in the log or status', async () => {
  const receiver = await startReceiver({
    respond: (record) => ({ status: 401, body: `invalid api key: ${record.headers.authorization}` }),
  });
  const home = tempHome();
  try {
    const out = await scenario([{ bash: {} }, { flush: 5000 }, { status: true }], {
      HOME: home,
      ARIZE_API_KEY: SECRET,
      ARIZE_SPACE_ID: SPACE,
      ARIZE_OTLP_ENDPOINT: receiver.url,
    });
    assert.match(out.steps[2].status.last_export.error, /401/);
    assertNoSecret(out, home, [SECRET]);
  } finally {
    await receiver.close();
  }
});

test('a key in the config file stays out of status and the log; a world-readable one warns', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  const dir = path.join(home, '.arize', 'harness');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    file,
    `harnesses:\n  opencode:\n    endpoint: ${receiver.url}\n    api_key: ${SECRET}\n    space_id: ${SPACE}\n` +
      `    target: arize\nlogging:\n  prompts: nonsense-${SECRET}\n`,
  );
  fs.chmodSync(file, 0o644);
  try {
    const out = await scenario([{ bash: {} }, { flush: 10000 }, { status: true }], {
      HOME: home,
      ARIZE_VERBOSE: 'true',
    });
    assert.equal(out.steps[1].flush.exported, 4);
    assertNoSecret(out, home, [SECRET, SPACE]);
    const status = out.steps[2].status;
    assert.match(
      `${status.config.warning} ${readLog(home)}`,
      /readable|permission|0600|chmod/i,
      'a world-readable config holding a key gets a warning',
    );
  } finally {
    await receiver.close();
  }
});

test('an endpoint with user:password@ shows neither in status or the log', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  try {
    const url = receiver.url.replace('http://', `http://user:${SECRET}@`);
    const out = await scenario([{ bash: {} }, { flush: 10000 }, { status: true }], {
      HOME: home,
      PHOENIX_ENDPOINT: url,
      ARIZE_VERBOSE: 'true',
    });
    assert.equal(out.steps[2].status.backend.endpoint, `${receiver.url}/v1/traces`);
    assertNoSecret(out, home, [SECRET]);
  } finally {
    await receiver.close();
  }
});

// ------------------------------------------------------------------------------------------
// File modes

function walk(dir, out = []) {
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name);
    const st = fs.lstatSync(full);
    out.push({ path: full, dir: st.isDirectory(), mode: st.mode & 0o777 });
    if (st.isDirectory()) walk(full, out);
  }
  return out;
}

test('log, state and spool files are 0600 in 0700 directories, even with umask 000', async () => {
  const receiver = await startReceiver({ respond: () => ({ status: 503 }) }); // the spool keeps them
  const home = tempHome();
  try {
    await scenario(
      [{ bash: { type: 'reconcile' } }, { bash: {} }, { flush: 300 }],
      { HOME: home, PHOENIX_ENDPOINT: receiver.url, ARIZE_RETRY_INITIAL_MS: '50' },
      { umask: 0 },
    );
    const harness = path.join(home, '.arize', 'harness');
    const entries = walk(path.join(home, '.arize'));
    for (const sub of ['logs', 'state', 'spool'])
      assert.ok(
        entries.some((e) => e.path.startsWith(path.join(harness, sub)) && !e.dir),
        `files in ${sub}`,
      );
    for (const e of entries) assert.equal(e.mode.toString(8), e.dir ? '700' : '600', e.path.slice(home.length));
  } finally {
    await receiver.close();
  }
});
