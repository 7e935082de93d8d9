'use strict';
// Which open turns may be closed (lib/recover.js): the markers of live processes, real files and
// real processes. Runs under Node and Bun (the plugin's runtime inside OpenCode).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const recover = require('../lib/recover.js');

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'arize-recover-'));
const waitFor = async (ok) => {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
};
const writeMarker = (dir, name, body) => {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), JSON.stringify(body));
};

test('a marker names the sessions its process works on, and is gone after remove', async () => {
  const dir = tempDir();
  const marker = new recover.Marker(dir);
  marker.add('ses_a');
  marker.add('ses_b');
  await waitFor(
    () => fs.existsSync(marker.file) && JSON.parse(fs.readFileSync(marker.file, 'utf8')).sessions.length === 2,
  );
  assert.deepEqual(JSON.parse(fs.readFileSync(marker.file, 'utf8')).sessions, ['ses_a', 'ses_b']);
  assert.deepEqual([...(await recover.liveSessions(dir, marker))], [], 'a process never counts its own marker');
  assert.deepEqual([...(await recover.liveSessions(dir, null))].sort(), ['ses_a', 'ses_b']);
  await marker.remove();
  assert.equal(fs.existsSync(marker.file), false);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('sessions of a running process are live; those of a process that is gone are not, and its marker is removed', async () => {
  const dir = tempDir();
  const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.on('exit', r));
  try {
    writeMarker(dir, 'live.json', { pid: running.pid, host: os.hostname(), sessions: ['ses_busy'] });
    writeMarker(dir, 'dead.json', { pid: gone.pid, host: os.hostname(), sessions: ['ses_killed'] });
    writeMarker(dir, 'other-host.json', { pid: 1, host: `${os.hostname()}-elsewhere`, sessions: ['ses_remote'] });
    const live = await recover.liveSessions(dir, null);
    assert.deepEqual([...live].sort(), ['ses_busy', 'ses_remote']);
    assert.equal(fs.existsSync(path.join(dir, 'dead.json')), false, 'the marker of a dead process stays');
  } finally {
    running.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a sweep looks only at root sessions active in its window, before it started, not live, newest first', () => {
  const now = 1_800_000_000_000,
    hour = 3600e3;
  const s = (id, updatedHoursAgo, extra = {}) => ({ id, time: { updated: now - updatedHoursAgo * hour }, ...extra });
  const sessions = [
    s('ses_old', 30),
    s('ses_recent', 1),
    s('ses_newest', 0.5),
    s('ses_child', 1, { parentID: 'ses_recent' }),
    s('ses_busy_elsewhere', 2),
    s('ses_after_start', -0.01),
    null,
    { id: 7 },
  ];
  const picked = recover.candidates(sessions, {
    startedAt: now,
    windowMs: 24 * hour,
    live: new Set(['ses_busy_elsewhere']),
    now,
  });
  assert.deepEqual(
    picked.map((x) => x.id),
    ['ses_newest', 'ses_recent'],
  );
});

test('the last turn of a snapshot starts at its last user message', () => {
  const m = (id, role, created) => ({ info: { id, role, time: { created } } });
  const messages = [m('u1', 'user', 1), m('a1', 'assistant', 2), m('u2', 'user', 3), m('a2', 'assistant', 4)];
  assert.deepEqual(
    recover.lastTurn(messages).map((x) => x.info.id),
    ['u2', 'a2'],
  );
  assert.equal(recover.lastTurn([m('a0', 'assistant', 1)]), undefined);
  assert.equal(recover.lastActivity(messages), 4);
});

test('backfill says in one line, exit code 2, when OpenCode is not on PATH', () => {
  const { spawnSync } = require('node:child_process');
  const home = tempDir();
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'lib', 'cli.js'), 'backfill'], {
    env: { HOME: home, PATH: home },
    encoding: 'utf8', // an empty directory: no opencode
  });
  fs.rmSync(home, { recursive: true, force: true });
  assert.equal(r.status, 2, r.stderr);
  assert.deepEqual(r.stderr.trim().split('\n'), [
    'opencode-arize-tracing backfill: cannot find OpenCode: `opencode` is not on PATH (install it: npm install -g opencode-ai, or add its directory to PATH)',
  ]);
});

test('a session a sweep found settled is skipped until OpenCode updates it again', async () => {
  const dir = tempDir();
  const first = await new recover.Settled(dir).load();
  const s = { id: 'ses_done', time: { updated: 1000 } };
  assert.equal(first.has(s), false);
  first.add(s);
  first.add({ id: 'ses_ancient', time: { updated: 10 } });
  await first.save(500);
  const next = await new recover.Settled(dir).load();
  assert.equal(next.has(s), true);
  assert.equal(next.has({ id: 'ses_done', time: { updated: 2000 } }), false, 'a session updated since is read again');
  assert.equal(
    next.has({ id: 'ses_ancient', time: { updated: 10 } }),
    false,
    'entries older than the window are dropped',
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a busy process beats: its marker says when it was last alive, and a sweep learns it once the process is gone', async () => {
  const dir = tempDir();
  const marker = new recover.Marker(dir);
  marker.add('ses_a');
  await waitFor(() => fs.existsSync(marker.file));
  const old = Date.now() / 1000 - 3600;
  fs.utimesSync(marker.file, old, old);
  marker.beat();
  await waitFor(() => fs.statSync(marker.file).mtimeMs > Date.now() - 60000);
  assert.ok(fs.statSync(marker.file).mtimeMs > Date.now() - 60000, 'beat touched the marker');
  fs.utimesSync(marker.file, old, old);
  marker.beat(); // at most every 2 s
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(Math.floor(fs.statSync(marker.file).mtimeMs / 1000), Math.floor(old));
  await marker.remove();
  // a gone process's marker: its sessions, and its last beat
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.on('exit', r));
  writeMarker(dir, `${os.hostname().replace(/[^\w.-]/g, '_')}.${gone.pid}.x.json`, {
    pid: gone.pid,
    host: os.hostname(),
    sessions: ['ses_b'],
  });
  const lastAlive = Date.now() - 5000;
  fs.utimesSync(
    path.join(dir, `${os.hostname().replace(/[^\w.-]/g, '_')}.${gone.pid}.x.json`),
    lastAlive / 1000,
    lastAlive / 1000,
  );
  const stopped = new Map();
  assert.deepEqual([...(await recover.liveSessions(dir, null, stopped))], []);
  assert.ok(Math.abs(stopped.get('ses_b') - lastAlive) <= 1, `${stopped.get('ses_b')} vs ${lastAlive}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the last turn of a session compacted mid-turn starts at the prompt before the compaction', () => {
  const { snapshot } = require('./helpers/fixtures.js');
  const { messages } = snapshot('local/compaction-auto.json');
  const firstTurn = messages.slice(0, 6); // the prompt, its answer, the compaction, the summary, "continue", the answer
  assert.equal(recover.lastTurn(firstTurn)[0].info.id, messages[0].info.id);
  assert.equal(recover.lastTurn(messages)[0].info.id, messages[6].info.id);
});
