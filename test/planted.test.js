'use strict';
// Symbolic links and FIFOs planted where the core writes or reads: the outcome files and their
// temp files, the log and its rotation, a session's state file, spool files (a dead process's
// and this process's own, temp files included) and the config. Each scenario runs in a fresh
// process of the runtime running this file (Node under `node --test`, Bun under `bun test`)
// with a temp HOME, against a local receiver, under a generous hard timeout: a FIFO opened the
// plain way would hold the process forever (the child is then killed and the test fails). A
// file outside the temp HOME is the links' target: it must never change. Refusals are logged
// once, naming the path.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startReceiver } = require('./receiver.js');
const { tempHome, cleanEnv, run, readLog } = require('./helpers/run.js');
const { payload } = require('./helpers/fixtures.js');

const HARD_TIMEOUT_MS = 45000; // killed after this: a hang, never a slow pass (Bun's test bound is 60 s)
const SESSION = payload('one-bash-call/snap-3-session.idle.json').sessionID;
const SPANS = 4; // per session of that capture
const OUTSIDE_TEXT = 'a file outside ~/.arize: it must stay as it is\n';

const harness = (home, ...parts) => path.join(home, '.arize', 'harness', ...parts);
const stateDir = (home) => harness(home, 'state', 'opencode');
const spoolRoot = (home) => harness(home, 'spool', 'opencode');
const logFile = (home) => harness(home, 'logs', 'opencode.log');
// The state file of session n of the scenario (fixtures.js variant: ids get "v<n>").
const stateFile = (home, n) => path.join(stateDir(home), `${SESSION}v${n}.state`);

// A fresh HOME and n files outside it, each holding OUTSIDE_TEXT.
function setup(n) {
  const home = tempHome();
  const outsideDir = fs.mkdtempSync(path.join(os.tmpdir(), 'oat-outside-'));
  const outside = [];
  for (let i = 0; i < n; i++) {
    const f = path.join(outsideDir, `outside-${i}.txt`);
    fs.writeFileSync(f, OUTSIDE_TEXT);
    outside.push(f);
  }
  return { home, outside };
}

function assertUntouched(files) {
  for (const f of files) assert.equal(fs.readFileSync(f, 'utf8'), OUTSIDE_TEXT, `${f} was written through a link`);
}

async function scenario(steps, env) {
  return run('planted-scenario.js', { steps }, cleanEnv(env), { timeoutMs: HARD_TIMEOUT_MS });
}

const flushOf = (out) => out.steps.find((s) => s.flush).flush;

function mkfifo(at) {
  const made = spawnSync('mkfifo', ['-m', '600', at]);
  assert.equal(made.status, 0, `mkfifo ${at}: ${made.stderr}`);
}

test('links planted at the outcome files and their temp files: nothing outside is written', async () => {
  const receiver = await startReceiver();
  const { home, outside } = setup(3);
  try {
    const out = await scenario(
      [
        // the temp names the core used (<file>.<pid>.tmp), and the outcome file itself
        { link: [path.join(stateDir(home), 'last-export.json.{pid}.tmp'), outside[0]] },
        { link: [path.join(stateDir(home), 'processes', '{pid}.json.{pid}.tmp'), outside[1]] },
        { link: [path.join(stateDir(home), 'last-export.json'), outside[2]] },
        { session: 0 },
        { flush: 20000 },
      ],
      { HOME: home, PHOENIX_ENDPOINT: receiver.url },
    );
    assert.equal(flushOf(out).exported, SPANS);
    assertUntouched(outside);
    // the outcome is written all the same: the link at its name is replaced, not followed
    const last = path.join(stateDir(home), 'last-export.json');
    assert.ok(fs.lstatSync(last).isFile());
    assert.equal(JSON.parse(fs.readFileSync(last, 'utf8')).status, 200);
  } finally {
    await receiver.close();
  }
});

test('a link planted at the log: no line reaches the file outside, and stderr names the path', async () => {
  const receiver = await startReceiver();
  const { home, outside } = setup(1);
  fs.mkdirSync(path.dirname(logFile(home)), { recursive: true });
  fs.symlinkSync(outside[0], logFile(home));
  try {
    const out = await scenario([{ session: 0 }, { flush: 20000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
      ARIZE_VERBOSE: 'true', // many lines, none of which may land outside
    });
    assert.equal(flushOf(out).exported, SPANS);
    assertUntouched(outside);
    const refusals = out.stderr.split('\n').filter((l) => l.includes(logFile(home)));
    assert.equal(refusals.length, 1, out.stderr);
    assert.match(refusals[0], /cannot open .*: a symbolic link, which is not followed/);
  } finally {
    await receiver.close();
  }
});

test('log rotation over a link planted at opencode.log.1: the link is replaced, the file outside untouched', async () => {
  const receiver = await startReceiver();
  const { home, outside } = setup(1);
  fs.mkdirSync(path.dirname(logFile(home)), { recursive: true });
  fs.writeFileSync(logFile(home), 'x'.repeat(1024 * 1024 + 1) + '\n', { mode: 0o600 }); // past 1 MB
  fs.symlinkSync(outside[0], `${logFile(home)}.1`);
  try {
    const out = await scenario([{ session: 0 }, { flush: 20000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
      ARIZE_LOG_MAX_MB: '1',
      ARIZE_VERBOSE: 'true',
    });
    assert.equal(flushOf(out).exported, SPANS);
    assertUntouched(outside);
    assert.ok(fs.lstatSync(`${logFile(home)}.1`).isFile(), 'the rotated log is a file of its own');
    assert.ok(fs.statSync(logFile(home)).size < 1024 * 1024, 'a new log started');
  } finally {
    await receiver.close();
  }
});

test('a FIFO planted at the log: reconcile returns, spans are exported, stderr names the path', async () => {
  const receiver = await startReceiver();
  const { home } = setup(0);
  try {
    const out = await scenario([{ fifo: logFile(home) }, { session: 0 }, { flush: 20000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.deepEqual(out.steps[1].reconcile.spans, SPANS);
    assert.equal(flushOf(out).exported, SPANS);
    const refusals = out.stderr.split('\n').filter((l) => l.includes(logFile(home)));
    assert.equal(refusals.length, 1, out.stderr);
    assert.match(refusals[0], /cannot open .*: not a regular file/);
  } finally {
    await receiver.close();
  }
});

test("a FIFO or a link at a session's state file: reconcile returns, spans are exported, the log names it", async () => {
  const receiver = await startReceiver();
  const { home, outside } = setup(1);
  try {
    const out = await scenario(
      [
        { fifo: stateFile(home, 0) },
        { link: [stateFile(home, 1), outside[0]] },
        { session: 0 },
        { session: 1 },
        { flush: 20000 },
      ],
      { HOME: home, PHOENIX_ENDPOINT: receiver.url },
    );
    assert.equal(out.steps[2].reconcile.spans, SPANS);
    assert.equal(out.steps[3].reconcile.spans, SPANS);
    assert.equal(flushOf(out).exported, 2 * SPANS);
    assertUntouched(outside);
    const log = readLog(home);
    assert.match(log, new RegExp(`state file ${stateFile(home, 0)} is not usable \\(not a regular file`));
    assert.match(log, new RegExp(`state file ${stateFile(home, 1)} is not usable \\(a symbolic link`));
  } finally {
    await receiver.close();
  }
});

test("links and FIFOs among a dead process's spool files: never followed nor opened, the log names each", async () => {
  const receiver = await startReceiver();
  const { home, outside } = setup(2);
  // a directory of a process that is gone (no lock to hold, older than the grace period)
  const dead = path.join(spoolRoot(home), '999999-deadbeef');
  fs.mkdirSync(dead, { recursive: true, mode: 0o700 });
  fs.symlinkSync(outside[0], path.join(dead, 'lock'));
  fs.symlinkSync(outside[1], path.join(dead, '0000000000000001.spool'));
  mkfifo(path.join(dead, '0000000000000002.spool'));
  const anHourAgo = new Date(Date.now() - 3600 * 1000);
  fs.utimesSync(dead, anHourAgo, anHourAgo);
  try {
    const out = await scenario([{ session: 0 }, { flush: 20000 }], { HOME: home, PHOENIX_ENDPOINT: receiver.url });
    assert.equal(out.steps[0].reconcile.spans, SPANS);
    assert.equal(flushOf(out).exported, SPANS);
    assertUntouched(outside);
    const log = readLog(home);
    for (const name of ['0000000000000001.spool', '0000000000000002.spool'])
      assert.match(log, new RegExp(`spool file \\S*${name}: (a symbolic link|not a regular file)`), name);
  } finally {
    await receiver.close();
  }
});

test('links and FIFOs at the names of our own next spool files and temp files: every span still exported', async () => {
  const receiver = await startReceiver();
  const { home, outside } = setup(1);
  const steps = [{ session: 0 }, { flush: 20000 }];
  // the names the next writes would use: <16 hex id>.spool, and .<id>.spool.tmp as temp
  for (let id = 2; id <= 6; id++) {
    const name = id.toString(16).padStart(16, '0') + '.spool';
    steps.push({ fifo: `{spool}/.${name}.tmp` }, { link: [`{spool}/${name}`, outside[0]] });
  }
  steps.push({ session: 1 }, { session: 2 }, { session: 3 }, { flush: 20000 });
  try {
    const out = await scenario(steps, { HOME: home, PHOENIX_ENDPOINT: receiver.url });
    const flushes = out.steps.filter((s) => s.flush).map((s) => s.flush);
    assert.equal(flushes[1].exported, 4 * SPANS); // counted since the start
    assert.equal(flushes[1].pending, 0);
    assert.equal(new Set(receiver.spans().map((s) => s.spanId)).size, 4 * SPANS);
    assertUntouched(outside);
  } finally {
    await receiver.close();
  }
});

test('a FIFO or a link at the config file: a warning, no hang, and the file outside is only read', async () => {
  const receiver = await startReceiver();
  const { home, outside } = setup(1);
  fs.writeFileSync(outside[0], OUTSIDE_TEXT);
  try {
    const viaFifo = await scenario([{ fifo: harness(home, 'config.yaml') }, { session: 0 }, { flush: 20000 }], {
      HOME: home,
      PHOENIX_ENDPOINT: receiver.url,
    });
    assert.equal(flushOf(viaFifo).exported, SPANS);
    assert.match(readLog(home), /config \S*config\.yaml: not a regular file/);
    fs.rmSync(harness(home, 'config.yaml'));
    fs.symlinkSync(outside[0], harness(home, 'config.yaml'));
    const viaLink = await scenario([{ session: 1 }, { flush: 20000 }], { HOME: home, PHOENIX_ENDPOINT: receiver.url });
    assert.equal(flushOf(viaLink).exported, SPANS);
    assertUntouched(outside);
  } finally {
    await receiver.close();
  }
});

test("the CLI's config write (install) never writes through a link planted at a temp name or the config", () => {
  const { writePrivate } = require('../lib/cli/common.js');
  const { home, outside } = setup(2);
  const config = harness(home, 'config.yaml');
  fs.mkdirSync(path.dirname(config), { recursive: true });
  fs.symlinkSync(outside[0], `${config}.tmp-${process.pid}`); // the temp name it used to take
  fs.symlinkSync(outside[1], config);
  writePrivate(config, 'harnesses:\n  opencode:\n    target: phoenix\n');
  assertUntouched(outside);
  assert.ok(fs.lstatSync(config).isFile());
  assert.equal(fs.statSync(config).mode & 0o777, 0o600);
  assert.match(fs.readFileSync(config, 'utf8'), /target: phoenix/);
});
