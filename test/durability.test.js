'use strict';
// Never lose a span: OTLP retry rules, the spool across crashes, corrupt files, a hanging
// backend. Real processes of the runtime running this file, real HTTP on 127.0.0.1.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { tempHome, cleanEnv, run, readLog } = require('./helpers/run.js');

const ONE_BASH = 'one-bash-call/snap-3-session.idle.json';
const MAIN = 'main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json';
const ABORT = 'serve-scenarios/snapshots/003-session-idle-ses_df4ec102effeLX8V4zZ0sVQJHX.json';
const FAST_RETRY = { ARIZE_RETRY_INITIAL_MS: '50', ARIZE_RETRY_MAX_MS: '400' };

function scenario(steps, env, options) {
  return run('api-scenario.js', { steps }, cleanEnv(env), options);
}

function spoolFiles(home) {
  const root = path.join(home, '.arize', 'harness', 'spool', 'opencode');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((d) => {
    const dir = path.join(root, d);
    return fs.statSync(dir).isDirectory()
      ? fs
          .readdirSync(dir)
          .filter((f) => f.endsWith('.spool'))
          .map((f) => path.join(dir, f))
      : [];
  });
}

test('503s, with and without Retry-After, are retried until every span arrives', async () => {
  const receiver = await startReceiver({
    respond: (record, i) =>
      i < 3 ? { status: 503, headers: i === 1 ? { 'retry-after': '1' } : {}, body: 'busy' } : undefined,
  });
  try {
    const out = await scenario([{ fixture: ONE_BASH }, { flush: 20000 }, { status: true }], {
      HOME: tempHome(),
      PHOENIX_ENDPOINT: receiver.url,
      ...FAST_RETRY,
    });
    assert.deepEqual(out.steps[1].flush, { exported: 4, pending: 0, dropped: 0 });
    assert.deepEqual(
      receiver.requests.map((r) => r.status),
      [503, 503, 503, 200],
    );
    const gap = receiver.requests[2].receivedAt - receiver.requests[1].receivedAt;
    assert.ok(gap >= 900, `Retry-After: 1 was honoured (waited ${gap} ms)`);
    assert.equal(out.steps[2].status.counters.retries, 3);
    assert.equal(receiver.spans().length, 4);
  } finally {
    await receiver.close();
  }
});

test('a 400 drops its batch with a log line saying why, and later spans still go', async () => {
  const receiver = await startReceiver({
    respond: (record, i) => (i === 0 ? { status: 400, body: 'invalid project name\nmore detail' } : undefined),
  });
  const home = tempHome();
  try {
    const out = await scenario(
      [{ fixture: ONE_BASH }, { flush: 10000 }, { fixture: ABORT }, { flush: 10000 }, { status: true }],
      { HOME: home, PHOENIX_ENDPOINT: receiver.url, ...FAST_RETRY },
    );
    assert.deepEqual(out.steps[1].flush, { exported: 0, pending: 0, dropped: 4 });
    assert.deepEqual(out.steps[3].flush, { exported: 2, pending: 0, dropped: 4 });
    assert.equal(receiver.requests.length, 2, 'a 400 is not retried');
    const line = readLog(home)
      .split('\n')
      .find((l) => /HTTP 400/.test(l));
    assert.match(line, /invalid project name/);
    assert.doesNotMatch(line, /more detail/);
    assert.equal(out.steps[4].status.counters.spans_dropped, 4);
  } finally {
    await receiver.close();
  }
});

test('a process killed with SIGKILL before sending loses nothing: the next one delivers', async () => {
  const home = tempHome();
  const killed = await scenario(
    [{ fixture: MAIN }, { durable: 10000 }, { kill: 'SIGKILL' }],
    { HOME: home },
    { expectSignal: 'SIGKILL' },
  );
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(spoolFiles(home).length > 0, 'the spans were on disk before the process died');
  const receiver = await startReceiver();
  try {
    // the same snapshot again: the restored spans are not emitted a second time
    const out = await scenario([{ fixture: MAIN }, { flush: 10000 }, { status: true }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
    });
    // The spool loads on the writer thread: a snapshot reconciled before the load ended emits
    // them again, and the writer, finding them stored, leaves them out (never sent twice).
    assert.equal(
      out.steps[0].reconcile.spans,
      out.steps[2].status.counters.spans_deduplicated,
      'emitted again only what the writer then left out',
    );
    assert.equal(out.steps[2].status.counters.spans_restored, 15);
    assert.equal(out.steps[1].flush.exported, 15);
    const ids = receiver.spans().map((s) => s.spanId);
    assert.equal(ids.length, 15);
    assert.equal(new Set(ids).size, 15, 'none twice');
    assert.deepEqual(spoolFiles(home), [], 'the spool is empty once the backend has everything');
  } finally {
    await receiver.close();
  }
});

test('a process killed before its spans were durable loses nothing: the next snapshot re-derives them', async () => {
  const home = tempHome();
  // reconcile returns before the disk is touched; the kill comes straight after it
  await scenario([{ fixture: MAIN }, { kill: 'SIGKILL' }], { HOME: home }, { expectSignal: 'SIGKILL' });
  const receiver = await startReceiver();
  try {
    const out = await scenario([{ fixture: MAIN }, { flush: 10000 }, { status: true }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
    });
    // Whatever reached the disk before the kill is restored; the rest is emitted again. A span
    // both restored and emitted again (the snapshot reconciled before the writer thread's load
    // ended) is left out by the writer: counted once, sent once.
    const { spans_restored: restored, spans_deduplicated: left } = out.steps[2].status.counters;
    assert.equal(out.steps[0].reconcile.spans + restored - left, 15, 'each span either restored or emitted again');
    const ids = receiver.spans().map((s) => s.spanId);
    assert.equal(new Set(ids).size, 15);
    assert.equal(ids.length, 15, 'none twice');
  } finally {
    await receiver.close();
  }
});

test('a kill -9 inside a spool write never stops the next start: the leftover temp file is cleaned', async () => {
  // The state such a kill leaves: a directory without its lock, holding a half-written temp
  // file (and the process's earlier spool files), older than the orphan grace period.
  const home = tempHome();
  await scenario(
    [{ fixture: MAIN }, { durable: 10000 }, { kill: 'SIGKILL' }],
    { HOME: home },
    { expectSignal: 'SIGKILL' },
  );
  const [file] = spoolFiles(home);
  const dir = path.dirname(file);
  fs.unlinkSync(path.join(dir, 'lock'));
  fs.writeFileSync(path.join(dir, '.0000000000000002.spool.tmp'), 'OATSPOOL1\nhalf a wr');
  const hourAgo = new Date(Date.now() - 3600e3);
  fs.utimesSync(dir, hourAgo, hourAgo);
  const receiver = await startReceiver();
  try {
    // run() rejects on an abort (exit 134): each step used to crash the host here
    const out = await scenario([{ status: true }, { fixture: ONE_BASH }, { flush: 10000 }, { status: true }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.equal(out.steps[2].flush.exported, 15 + 4);
    assert.equal(new Set(receiver.spans().map((s) => s.spanId)).size, 19);
    assert.ok(!fs.existsSync(dir), 'the dead directory, temp file and all, is gone');
    await scenario([{ status: true }], { HOME: home, PHOENIX_ENDPOINT: receiver.url }); // and the start after
  } finally {
    await receiver.close();
  }
});

test('a batch in flight when the process dies is sent again, and nothing else twice', async () => {
  const home = tempHome();
  const hanging = await startReceiver({ hang: () => true });
  try {
    await scenario(
      [{ fixture: MAIN }, { fixture: ONE_BASH }, { sleep: 300 }, { kill: 'SIGKILL' }],
      { HOME: home, PHOENIX_ENDPOINT: hanging.url },
      { expectSignal: 'SIGKILL' },
    );
    assert.ok(hanging.requests.length >= 1, 'a batch was in flight');
  } finally {
    await hanging.close();
  }
  const receiver = await startReceiver();
  try {
    await scenario([{ flush: 10000 }], { HOME: home, PHOENIX_ENDPOINT: receiver.url });
    const ids = receiver.spans().map((s) => s.spanId);
    assert.equal(new Set(ids).size, 19, 'all 15 + 4 spans arrived');
    assert.equal(ids.length, 19, 'the hung backend never answered, so nothing arrived twice');
  } finally {
    await receiver.close();
  }
});

test('a spool file that is not ours and a corrupt state file are logged and left; the rest arrives', async () => {
  const home = tempHome();
  await scenario(
    [{ fixture: MAIN }, { durable: 10000 }, { kill: 'SIGKILL' }],
    { HOME: home },
    { expectSignal: 'SIGKILL' },
  );
  const [good] = spoolFiles(home);
  fs.writeFileSync(path.join(path.dirname(good), '00000000000000ff.spool'), 'not a spool file at all');
  const stateDir = path.join(home, '.arize', 'harness', 'state', 'opencode');
  fs.writeFileSync(path.join(stateDir, 'ses_df50545e4ffeLycEmyiOvrROkE.state'), '\u0000\u0001garbage');
  const receiver = await startReceiver();
  try {
    const out = await scenario([{ fixture: ONE_BASH }, { flush: 10000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.equal(out.steps[0].reconcile.spans, 4, 'the corrupt state starts afresh');
    assert.equal(new Set(receiver.spans().map((s) => s.spanId)).size, 19);
    const log = readLog(home);
    assert.match(log, /spool file \S+\.spool is not of a format this version reads; left untouched/);
    assert.match(log, /state file .*ses_df50545e4ffeLycEmyiOvrROkE\.state is not ours or is corrupt/);
  } finally {
    await receiver.close();
  }
});

test('a hanging backend never blocks reconcile, memory stays bounded, spans go once it recovers', async () => {
  let hangs = true;
  const receiver = await startReceiver({ hang: () => hangs });
  const home = tempHome();
  try {
    const run1 = scenario(
      [
        { fixture: MAIN, variants: 20 },
        { fixture: MAIN, variants: 200, offset: 20 },
        { sleep: 1500 },
        { flush: 20000 },
        { status: true },
      ],
      { HOME: home, PHOENIX_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_TIMEOUT: '1000', ...FAST_RETRY },
      { timeoutMs: 60000 },
    );
    // the backend recovers a little after its first request hung
    await receiver.waitForRequests(1, 20000);
    await new Promise((r) => setTimeout(r, 700));
    hangs = false;
    const out = await run1;
    const [warm, many] = [out.steps[0], out.steps[1]];
    assert.equal(many.times.length, 200, 'every reconcile returned while the backend hung');
    assert.ok(
      many.rss - warm.rss < 64 * 1024 * 1024,
      `memory grew ${((many.rss - warm.rss) / 1048576).toFixed(1)} MiB`,
    );
    const flushed = out.steps[3].flush;
    assert.equal(flushed.pending, 0);
    assert.equal(flushed.exported, 220 * 15);
    assert.equal(new Set(receiver.spans().map((s) => s.spanId)).size, 220 * 15);
  } finally {
    await receiver.close();
  }
});

test('exit is clean with and without shutdown(), and a reconcile after shutdown() sends again', async () => {
  const receiver = await startReceiver();
  try {
    const env = { HOME: tempHome(), PHOENIX_ENDPOINT: receiver.url };
    // run() rejects on a non-zero exit or a signal: a crash at exit fails here
    await scenario([{ fixture: ONE_BASH }], env);
    const out = await scenario(
      [{ fixture: ABORT }, { shutdown: 2000 }, { fixture: MAIN }, { flush: 10000 }, { shutdown: 2000 }],
      env,
    );
    assert.equal(out.steps[3].flush.pending, 0);
    assert.equal(new Set(receiver.spans().map((s) => s.spanId)).size, 4 + 2 + 15);
  } finally {
    await receiver.close();
  }
});

test('unsent spans wait in the spool while no backend is configured, and go once one is', async () => {
  const home = tempHome();
  const first = await scenario([{ fixture: ONE_BASH }, { flush: 1000 }, { status: true }], { HOME: home });
  assert.equal(first.steps[2].status.state, 'no-backend');
  assert.equal(first.steps[2].status.counters.spans_pending, 4);
  assert.ok(first.steps[2].status.spool.pending_bytes > 0);
  const receiver = await startReceiver();
  try {
    const second = await scenario([{ flush: 10000 }], { HOME: home, PHOENIX_ENDPOINT: receiver.url });
    assert.equal(second.steps[0].flush.exported, 4);
  } finally {
    await receiver.close();
  }
});
