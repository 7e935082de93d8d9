'use strict';
// Nothing lost, nothing doubled, nothing written outside (issue 22): each attack of the third
// outside round as a user would see it. Real processes of the runtime running this file (Node
// under `node --test`, Bun under `bun test`), real files, a receiver on 127.0.0.1.
// test/bench/attacks.js prints the same attacks' figures.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { startReceiver, deliveries } = require('./receiver.js');
const { tempHome, cleanEnv, run, readLog, ROOT } = require('./helpers/run.js');

// This process loads the core too (status.js, the README check): the one the children load.
process.env.ARIZE_TRACING_NATIVE = cleanEnv({}).ARIZE_TRACING_NATIVE || process.env.ARIZE_TRACING_NATIVE || '';
if (!process.env.ARIZE_TRACING_NATIVE) delete process.env.ARIZE_TRACING_NATIVE;

const MAIN = 'main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json';
const PER = 15; // spans of MAIN; each variant is a distinct session
const FAST = { ARIZE_RETRY_INITIAL_MS: '50', ARIZE_RETRY_MAX_MS: '300', OTEL_EXPORTER_OTLP_TIMEOUT: '3000' };

const scenario = (steps, env, options) => run('api-scenario.js', { steps }, cleanEnv(env), options);
const spoolRoot = (home) => path.join(home, '.arize', 'harness', 'spool', 'opencode');

function spoolFiles(home) {
  const root = spoolRoot(home);
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .flatMap((d) => {
      const dir = path.join(root, d);
      return fs.statSync(dir).isDirectory()
        ? fs
            .readdirSync(dir)
            .filter((f) => f.endsWith('.spool'))
            .map((f) => path.join(dir, f))
        : [];
    })
    .sort();
}

// ------------------------------------------------------------------------------------------
// Final answers: redirects, 500, and the words status and doctor use for them

test('a 307 or 308 to the same host is followed with the body: every span arrives at the new path', async () => {
  for (const code of [307, 308]) {
    const receiver = await startReceiver({
      respond: (r) =>
        r.path === '/v1/traces' ? { status: code, headers: { location: '/moved/v1/traces' } } : { status: 200 },
    });
    try {
      const out = await scenario([{ fixture: MAIN }, { flush: 10000 }, { status: true }], {
        HOME: tempHome(),
        PHOENIX_ENDPOINT: receiver.url,
        ...FAST,
      });
      assert.deepEqual(out.steps[1].flush, { exported: PER, pending: 0, dropped: 0 }, `HTTP ${code}`);
      const moved = receiver.requests.filter((r) => r.path === '/moved/v1/traces' && r.status === 200);
      assert.equal(
        moved.reduce((n, r) => n + r.spans.length, 0),
        PER,
      );
      assert.ok(
        moved.every((r) => r.gzip && r.headers['content-type'] === 'application/x-protobuf'),
        'the same body',
      );
    } finally {
      await receiver.close();
    }
  }
});

test('301 and 302 keep the spans and pause sending; status names the new location; a new endpoint sends them', async () => {
  for (const code of [301, 302]) {
    const target = await startReceiver();
    const old = await startReceiver({
      respond: () => ({ status: code, headers: { location: `${target.url}/v1/traces` } }),
    });
    const home = tempHome();
    const dir = path.join(home, '.arize', 'harness');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'config.yaml');
    const config = (url) => `harnesses:\n  opencode:\n    target: phoenix\n    endpoint: ${url}\n`;
    fs.writeFileSync(file, config(old.url), { mode: 0o600 });
    try {
      const out = await scenario(
        [
          { fixture: MAIN, variants: 2, quiet: true },
          { flush: 3000 },
          { status: true },
          { writeFile: [file, config(target.url)] },
          { status: true },
          { flush: 10000 },
          { status: true },
        ],
        { HOME: home, ...FAST },
      );
      const paused = out.steps[2].status;
      assert.equal(paused.counters.spans_dropped, 0, `HTTP ${code}: nothing dropped`);
      assert.equal(paused.counters.spans_pending, 2 * PER);
      assert.equal(paused.last_export.class, 'moved');
      assert.equal(paused.last_export.moved, true);
      assert.match(paused.last_export.error, new RegExp(`moved to ${target.url}/v1/traces`));
      assert.equal(old.requests.length, 1, 'no retries against a moved endpoint');
      assert.match(readLog(home), new RegExp(`HTTP ${code}, moved to ${target.url}/v1/traces; 2?\\d+ spans`));
      assert.equal(out.steps[5].flush.exported, 2 * PER);
      assert.deepEqual(deliveries(target), { delivered: 2 * PER, duplicated: 0 });
    } finally {
      await old.close();
      await target.close();
    }
  }
});

test('a 307 to another host sends nothing there, keeps the spans, and never carries the key away', async () => {
  const other = await startReceiver();
  // localhost is another host name than 127.0.0.1: the credentials are meant for one host only
  const elsewhere = other.url.replace('127.0.0.1', 'localhost');
  const receiver = await startReceiver({
    respond: () => ({ status: 307, headers: { location: `${elsewhere}/v1/traces` } }),
  });
  try {
    const out = await scenario([{ fixture: MAIN }, { flush: 3000 }, { status: true }], {
      HOME: tempHome(),
      PHOENIX_ENDPOINT: receiver.url,
      PHOENIX_API_KEY: 'phx-secret-key-123',
      ...FAST,
    });
    assert.equal(other.requests.length, 0);
    assert.equal(out.steps[2].status.counters.spans_pending, PER);
    assert.equal(out.steps[2].status.last_export.class, 'moved');
  } finally {
    await receiver.close();
    await other.close();
  }
});

test('HTTP 500 is final as OTLP says: dropped, counted, logged, and status says exactly that', async () => {
  const receiver = await startReceiver({
    respond: (r, i) => (i === 0 ? { status: 500, body: 'database down' } : undefined),
  });
  try {
    const out = await scenario([{ fixture: MAIN }, { flush: 10000 }, { status: true }], {
      HOME: tempHome(),
      PHOENIX_ENDPOINT: receiver.url,
      ...FAST,
    });
    const status = out.steps[2].status;
    assert.equal(status.counters.spans_dropped, PER);
    assert.equal(receiver.requests.length, 1, 'not retried');
    assert.equal(status.last_export.class, 'refused');
    assert.equal(status.last_export.kept, false);
    const refused = status.export_outcomes.classes.find((c) => c.name === 'refused');
    assert.ok(refused.statuses.some(([from, to]) => from <= 500 && 500 <= to));
    assert.match(refused.effect, /dropped/);
    assert.ok(
      !status.export_outcomes.classes.find((c) => c.keeps && c.statuses.some(([f, t]) => f <= 500 && 500 <= t)),
      'no class that keeps spans claims 500',
    );
  } finally {
    await receiver.close();
  }
});

test("status's headline for a 500 says the spans were dropped, not that they wait", async () => {
  const { headline } = require('../lib/cli/status.js');
  const config = { state: 'sending', config: { path: '/nonexistent' }, backend: {} };
  const failing = headline(
    config,
    { ok: false, status: 500, error: 'HTTP 500: database down', at_ms: Date.now() },
    false,
  );
  assert.doesNotMatch(failing.says, /wait in the spool|retried/);
  assert.match(failing.says, /dropped, counted/);
  const busy = headline(config, { ok: false, status: 503, error: 'HTTP 503', at_ms: Date.now() }, true);
  assert.match(busy.says, /kept in the spool and retried/);
  const moved = headline(
    config,
    { ok: false, status: 301, class: 'moved', error: 'HTTP 301: moved to https://x/v1/traces', at_ms: Date.now() },
    true,
  );
  assert.equal(moved.state, 'moved');
  assert.match(moved.says, /moved to https:\/\/x\/v1\/traces/);
});

test('docs/durability.md says what each answer does in the words of the core table', () => {
  const { binding } = require('../lib/native.js');
  const table = JSON.parse(binding.exportOutcomes());
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'durability.md'), 'utf8');
  for (const c of table.classes)
    assert.ok(doc.includes(`| ${c.name} | ${c.answers} | ${c.effect} |`), `a row for ${c.name}`);
  assert.ok(doc.includes(table.followed), 'it says which redirects are followed');
});

// ------------------------------------------------------------------------------------------
// What a process does not own

test('a dry run beside a non-empty spool neither adopts nor deletes it; what it discards is counted', async () => {
  const home = tempHome();
  // an earlier process with no backend leaves 3 sessions unsent
  await scenario([{ fixture: MAIN, variants: 3, quiet: true }, { durable: 10000 }, { shutdown: 0 }], { HOME: home });
  const before = spoolFiles(home).map((f) => [f, fs.readFileSync(f)]);
  assert.ok(before.length > 0);
  const dry = await scenario(
    [{ fixture: MAIN, variants: 1, offset: 10, quiet: true }, { flush: 5000 }, { status: true }],
    {
      HOME: home,
      ARIZE_DRY_RUN: 'true',
    },
  );
  const counters = dry.steps[2].status.counters;
  assert.equal(counters.spans_discarded, PER, 'its own spans, built and discarded, are counted');
  assert.equal(counters.spans_restored, 0, 'nothing adopted');
  for (const [f, bytes] of before) assert.deepEqual(fs.readFileSync(f), bytes, `${f} untouched`);
  assert.match(readLog(home), /dry run: 15 spans discarded, never sent/);
  const receiver = await startReceiver();
  try {
    // the next real start sends the earlier spans, and the dry run's session too (it recorded nothing)
    const out = await scenario([{ fixture: MAIN, variants: 1, offset: 10, quiet: true }, { flush: 10000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
      ...FAST,
    });
    assert.equal(out.steps[0].spans, PER);
    assert.deepEqual(deliveries(receiver), { delivered: 4 * PER, duplicated: 0 });
  } finally {
    await receiver.close();
  }
});

// ------------------------------------------------------------------------------------------
// Dedup state lives as long as the spans it guards can be derived again

test('a session idle for a month is not sent again by a later backfill or restart', async () => {
  const home = tempHome();
  const receiver = await startReceiver();
  try {
    const env = { HOME: home, PHOENIX_ENDPOINT: receiver.url, ...FAST };
    await scenario([{ fixture: MAIN }, { flush: 10000 }], env);
    const dir = path.join(home, '.arize', 'harness', 'state', 'opencode');
    const month = new Date(Date.now() - 31 * 86400 * 1000);
    let bytes = 0;
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.state'))) {
      fs.utimesSync(path.join(dir, f), month, month);
      bytes += fs.statSync(path.join(dir, f)).size;
    }
    console.log(`# dedup state of a ${PER}-span session: ${bytes} bytes`);
    const later = await scenario([{ fixture: MAIN }, { flush: 10000 }], env);
    assert.equal(later.steps[0].reconcile.spans, 0);
    assert.deepEqual(deliveries(receiver), { delivered: PER, duplicated: 0 });
  } finally {
    await receiver.close();
  }
});

// ------------------------------------------------------------------------------------------
// Spool files: other versions' files are theirs; damage costs only the damaged record

// A dead process's directory (its lock free, old enough to adopt) holding these files.
function deadDir(home, files) {
  const dir = path.join(spoolRoot(home), '999999-deadbeef');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
  const past = new Date(Date.now() - 120000);
  fs.utimesSync(dir, past, past);
  return dir;
}

// A record of format 2 (the format before this one): [len][crc32 of kind and bytes][kind][bytes].
function v2Record(kind, data) {
  const head = Buffer.alloc(9);
  head.writeUInt32LE(data.length, 0);
  head.writeUInt32LE(crc32(Buffer.concat([Buffer.from([kind]), data])), 4);
  head[8] = kind;
  return Buffer.concat([head, data]);
}

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

test('spool files of a newer version (unknown magic, or only unknown record kinds) are left untouched', async () => {
  const home = tempHome();
  const newer = Buffer.concat([Buffer.from('OATSPOOL9\n'), Buffer.alloc(64, 7)]);
  const unknownKind = Buffer.concat([Buffer.from('OATSPOOL2\n'), v2Record(3, Buffer.from('from a newer version'))]);
  const dir = deadDir(home, { '0000000000000001.spool': newer, '0000000000000002.spool': unknownKind });
  const out = await scenario([{ fixture: MAIN }, { flush: 2000 }, { status: true }, { shutdown: 0 }], { HOME: home });
  const left = spoolFiles(home).map((f) => fs.readFileSync(f));
  assert.ok(
    left.some((b) => b.equals(newer)),
    'the unknown format is still there, byte for byte',
  );
  assert.ok(
    left.some((b) => b.equals(unknownKind)),
    'the file of unknown kinds is still there, byte for byte',
  );
  assert.equal(out.steps[2].status.spool.foreign_files, 2);
  assert.doesNotMatch(readLog(home), /is not a spool file or is damaged; skipped/);
  assert.match(readLog(home), /left untouched for the version that wrote it/);
  assert.ok(fs.existsSync(dir) || left.length === 2);
});

test('one bad length field loses only its record; the rest of the file arrives and the loss is counted', async () => {
  const home = tempHome();
  // this version's format: spans from a process killed once they were durable
  await scenario(
    [{ fixture: MAIN, variants: 2, quiet: true }, { durable: 10000 }, { kill: 'SIGKILL' }],
    { HOME: home },
    { expectSignal: 'SIGKILL' },
  );
  const [file] = spoolFiles(home).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  const buf = fs.readFileSync(file);
  assert.equal(buf.subarray(0, 10).toString(), 'OATSPOOL3\n');
  const spansInFile = buf.readUInt32LE(10 + 32);
  // the second record's length field, 3 too long
  let at = 10 + 44;
  at += 17 + buf.readUInt32LE(at + 4);
  buf.writeUInt32LE(buf.readUInt32LE(at + 4) + 3, at + 4);
  fs.writeFileSync(file, buf);
  // and a file of the previous format (as an upgrade finds it) with a bad length too
  const { payload, variant } = require('./helpers/fixtures.js');
  (void payload, void variant);
  const receiver = await startReceiver();
  try {
    const out = await scenario([{ flush: 10000 }, { status: true }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
      ...FAST,
    });
    const got = deliveries(receiver);
    assert.equal(got.delivered, 2 * PER - 1, `only the damaged span is lost (${spansInFile} in its file)`);
    assert.equal(got.duplicated, 0);
    assert.equal(out.steps[1].status.counters.spans_damaged, 1);
    assert.match(readLog(home), /1 damaged record skipped, 1 spans lost to it/);
  } finally {
    await receiver.close();
  }
});

test('a file of the previous format with a bad length field loses only its record', async () => {
  const home = tempHome();
  // four spans of a real session in format 2, the second one's length field wrong
  const spans = [];
  await scenario(
    [{ fixture: MAIN }, { durable: 10000 }, { kill: 'SIGKILL' }],
    { HOME: home },
    { expectSignal: 'SIGKILL' },
  );
  for (const f of spoolFiles(home)) {
    const b = fs.readFileSync(f);
    for (let at = 10 + 44; at + 17 <= b.length; ) {
      const len = b.readUInt32LE(at + 4);
      if (b[at + 8] === 1) spans.push(b.subarray(at + 17, at + 17 + len));
      at += 17 + len;
    }
    fs.rmSync(f);
  }
  fs.rmSync(path.join(home, '.arize', 'harness', 'state'), { recursive: true, force: true });
  const records = spans.slice(0, 4).map((s) => v2Record(1, s));
  records[1].writeUInt32LE(records[1].readUInt32LE(0) + 3, 0);
  deadDir(home, { '0000000000000001.spool': Buffer.concat([Buffer.from('OATSPOOL2\n'), ...records]) });
  const receiver = await startReceiver();
  try {
    const out = await scenario([{ flush: 10000 }, { status: true }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
      ...FAST,
    });
    assert.equal(deliveries(receiver).delivered, 3);
    assert.equal(out.steps[1].status.counters.spans_damaged, 1);
  } finally {
    await receiver.close();
  }
});

// ------------------------------------------------------------------------------------------
// Exactly once between processes

test('two processes reconciling the same sessions at once send each span once', async () => {
  for (let round = 0; round < 3; round++) {
    const home = tempHome();
    const receiver = await startReceiver();
    try {
      const env = { HOME: home, PHOENIX_ENDPOINT: receiver.url, ...FAST };
      const steps = [{ fixture: MAIN, variants: 20, quiet: true }, { flush: 15000 }, { status: true }];
      const [a, b] = await Promise.all([scenario(steps, env), scenario(steps, env)]);
      const got = deliveries(receiver);
      const dedup = a.steps[2].status.counters.spans_deduplicated + b.steps[2].status.counters.spans_deduplicated;
      console.log(
        `# round ${round}: emitted ${a.steps[0].spans}+${b.steps[0].spans}, left out ${dedup}, ${JSON.stringify(got)}`,
      );
      assert.deepEqual(got, { delivered: 20 * PER, duplicated: 0 });
      assert.equal(a.steps[0].spans + b.steps[0].spans - dedup, 20 * PER, 'every emitted span sent or left out, once');
    } finally {
      await receiver.close();
    }
  }
});

// ------------------------------------------------------------------------------------------
// Clocks and OpenCode's thread

test('spans spooled under a clock 8 days behind are not dropped as old at the next start', async (t) => {
  const faketime = ['/usr/bin/faketime', '/usr/local/bin/faketime'].find((f) => fs.existsSync(f));
  if (!faketime) return t.skip('faketime is not installed (apt-get install faketime)');
  const home = tempHome();
  // only the wall clock is wrong: the steady clock of the boot is not set by anyone
  await run(
    'api-scenario.js',
    { steps: [{ fixture: MAIN }, { durable: 10000 }, { shutdown: 0 }] },
    cleanEnv({ HOME: home, FAKETIME_DONT_FAKE_MONOTONIC: '1' }),
    {
      runtime: faketime,
      args: ['-f', '-8d', process.execPath],
    },
  );
  assert.ok(spoolFiles(home).length > 0);
  const receiver = await startReceiver();
  try {
    const out = await scenario([{ flush: 10000 }, { status: true }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
      ...FAST,
    });
    assert.equal(out.steps[1].status.counters.spans_dropped_old, 0);
    assert.deepEqual(deliveries(receiver), { delivered: PER, duplicated: 0 });
  } finally {
    await receiver.close();
  }
});

test("a large spool is loaded off OpenCode's thread: the first reconcile does not wait for it", async () => {
  const home = tempHome();
  await scenario([{ fixture: MAIN, variants: 2, quiet: true }, { durable: 10000 }, { shutdown: 0 }], { HOME: home });
  const files = spoolFiles(home);
  const dir = deadDir(home, {});
  for (let i = 0; i < 3000; i++)
    fs.copyFileSync(files[i % files.length], path.join(dir, `${(0x1000 + i).toString(16).padStart(16, '0')}.spool`));
  const past = new Date(Date.now() - 120000);
  fs.utimesSync(dir, past, past);
  const out = await scenario(
    [{ fixture: MAIN, timed: true, offset: 50 }, { status: true }, { flush: 1 }, { status: true }, { shutdown: 0 }],
    { HOME: home },
    { timeoutMs: 120000 },
  );
  // Not a timing assertion: the reconcile returned while the load was still under way.
  assert.equal(out.steps[1].status.spool.loading, true, 'the first call returned before the spool was loaded');
  assert.equal(out.steps[0].reconcile.spans, PER);
});

test('a 50 MB tool output is cut before it is written or parsed, and its spans say its whole size', async () => {
  const receiver = await startReceiver();
  try {
    // escapes, multibyte characters and a surrogate pair in every line: the sizes must be exact
    const unit = 'line "é" \\ 😀\tend\n';
    const mb = 50;
    const output = unit.repeat(Math.ceil((mb * 1024 * 1024) / Buffer.byteLength(unit)));
    const out = await scenario(
      [{ bigOutput: { mb, text: unit } }, { flush: 10000 }],
      { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url, ...FAST },
      { timeoutMs: 120000 },
    );
    assert.equal(out.steps[0].reconcile.spans, 4);
    console.log(
      `# 50 MB tool output: reconcile() ${Math.round(out.steps[0].ms)} ms, ${Math.round(out.steps[0].cpuMs)} ms of CPU`,
    );
    const tool = receiver.spans().find((s) => s.name === 'bash');
    const shown = /…\[truncated: (\d+) of (\d+) bytes shown\]$/.exec(tool.attributes['output.value']);
    assert.ok(shown, 'a marker');
    assert.equal(Number(shown[2]), Buffer.byteLength(output), 'the whole size');
    const prefix = Buffer.from(tool.attributes['output.value']).subarray(0, Number(shown[1]));
    assert.ok(prefix.equals(Buffer.from(output.slice(0, prefix.length)).subarray(0, prefix.length)), 'its first bytes');
    // the call after the bash call: its input messages hold the bash result (role tool)
    const llm = receiver
      .spans()
      .find((s) =>
        Object.entries(s.attributes).some(
          ([k, v]) => /^llm\.input_messages\.\d+\.message\.role$/.test(k) && v === 'tool',
        ),
      );
    const whole = JSON.stringify([{ tool_call_id: 'call_bash_5', tool: 'bash', output }]);
    const inShown = /…\[truncated: (\d+) of (\d+) bytes shown\]$/.exec(llm.attributes['input.value']);
    // jansson writes "é" and the emoji as UTF-8, like JSON.stringify: the same bytes
    assert.equal(Number(inShown[2]), Buffer.byteLength(whole));
  } finally {
    await receiver.close();
  }
});

test('under ulimit -v 1.5G a 100 MB tool output is traced, and reconcile() never throws', async (t) => {
  const { spawnSync } = require('node:child_process');
  const input = JSON.stringify({
    steps: [{ bigOutput: { mb: 100, text: 'x' } }, { fixture: MAIN, timed: true, offset: 3 }],
  });
  const probe = spawnSync('bash', ['-c', `ulimit -v 1572864; exec "${process.execPath}" -e 0`]);
  if (probe.status !== 0) return t.skip('this runtime does not start under ulimit -v 1.5G');
  const r = spawnSync(
    'bash',
    ['-c', `ulimit -v 1572864; exec "${process.execPath}" "${path.join(__dirname, 'helpers', 'api-scenario.js')}"`],
    {
      env: cleanEnv({ HOME: tempHome(), ARIZE_DRY_RUN: 'true' }),
      input,
      encoding: 'utf8',
      timeout: 240000,
    },
  );
  const out = JSON.parse(r.stdout);
  assert.equal(out.steps[0].reconcile.threw, undefined, 'no exception');
  assert.equal(out.steps[0].reconcile.error, undefined, out.steps[0].reconcile.error);
  assert.equal(out.steps[0].reconcile.spans, 4);
  assert.equal(out.steps[1].reconcile.spans, PER, 'and it goes on tracing');
});

// ------------------------------------------------------------------------------------------
// Counters that tell the truth

test('every item the log says was skipped is counted in items_skipped, and nothing else is', async () => {
  const home = tempHome();
  const { payload } = require('./helpers/fixtures.js');
  const p = payload(MAIN);
  p.messages[1].info.tokens.input = 'many'; // a count that is not a count: skipped, counted
  p.messages.push({ info: { role: 'user' }, parts: [] }); // a message without an id: skipped, counted
  // numbers beyond a double inside a tool's arguments: read as null, no item skipped
  const text = JSON.stringify(p)
    .replace('"tokens":{', '"big":1e999,"tokens":{')
    .replace('"input":{', '"input":{"n":1e400,');
  const out = await scenario([{ payload: text }, { status: true }], { HOME: home, ARIZE_DRY_RUN: 'true' });
  const counters = out.steps[1].status.counters;
  const lines = readLog(home).split('\n');
  const said = lines.filter((l) => /skipped it, the rest is traced|items holding them are skipped/.test(l)).length;
  assert.equal(counters.items_skipped, said, lines.filter((l) => /skipped/.test(l)).join('\n'));
  assert.ok(counters.items_skipped >= 2);
  assert.equal(counters.numbers_unreadable, 2);
});

module.exports = { spoolFiles, deliveries, scenario, spoolRoot, MAIN, PER, FAST, zlib };

// ------------------------------------------------------------------------------------------
// A home where nothing can be kept (read-only, or a file where a directory should be)

test('an unusable state and spool directory: one line each, and exit says unsent spans are lost, not kept', async () => {
  const home = tempHome();
  const harness = path.join(home, '.arize', 'harness');
  fs.mkdirSync(harness, { recursive: true });
  fs.writeFileSync(path.join(harness, 'state'), 'a file where the state directory goes');
  fs.writeFileSync(path.join(harness, 'spool'), 'a file where the spool directory goes');
  const gone = await startReceiver();
  const url = gone.url;
  await gone.close(); // nothing answers there: the spans stay unsent
  await scenario([{ fixture: MAIN, variants: 1, quiet: true }, { flush: 300 }, { shutdown: 200 }], {
    HOME: home,
    PHOENIX_ENDPOINT: url,
    ...FAST,
  });
  const log = readLog(home);
  assert.equal(log.match(/state directory .* is not usable/g)?.length, 1, log);
  assert.equal(log.match(/spool directory .* is not usable/g)?.length, 1, log);
  assert.doesNotMatch(log, /cannot write .*last-export/, 'the outcome file shares the state directory: said once');
  assert.match(log, /exit: 15 spans .* are lost with this process \(the spool directory is not usable\)/);
  assert.doesNotMatch(log, /stay in the spool/);
});

test('a backend down for many retries is one warning, not one per retry, and its recovery is said once', async () => {
  let refusals = 0;
  // 503 (retried) until a dozen attempts have failed, then accepted
  const receiver = await startReceiver({
    respond: () => (refusals < 12 ? (refusals++, { status: 503, body: 'down for maintenance' }) : undefined),
  });
  const home = tempHome();
  try {
    await scenario([{ fixture: MAIN, variants: 1, quiet: true }, { flush: 20000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
      ...FAST,
    });
    assert.equal(refusals, 12);
    assert.deepEqual(deliveries(receiver), { delivered: PER, duplicated: 0 });
    const log = readLog(home);
    assert.equal(log.match(/export failed/g)?.length, 1, log);
    assert.match(log, /export failed \(HTTP 503.*\); 15 spans kept, retrying with backoff up to 300 ms/);
    assert.equal(log.match(/sending works again after 12 failed attempts/g)?.length, 1, log);
  } finally {
    await receiver.close();
  }
});
