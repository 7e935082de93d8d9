'use strict';
// opencode-arize-tracing backfill: traces the sessions OpenCode ran before tracing was installed
// (or while it was off), and closes the turns a killed OpenCode left open (lib/recover.js).
//
// Source: OpenCode's own server API, from one `opencode serve --pure` (no plugins, bound to
// 127.0.0.1, a random password) that this command starts and stops: GET /project (every
// project), /session?directory= (their sessions, subagents included), /session/:id/message.
// `opencode session list` sees only the current project and `opencode export` costs an OpenCode
// start per session (3-4 s of CPU each, measured on 1.18.33); the server answers in
// milliseconds.
//
// The same core and the same ids as live tracing: a span the state records as sent is never
// sent again, so a re-run (or an interrupted run re-run) sends only what is left, and a session
// traced live gives nothing. Each session is one reconcile; its spans are durable in the spool
// before the state marks them sent. SIGINT stops after the session in progress, then flushes.
//
// --dry-run reconciles against a throwaway copy of the state (and spool) in a temp HOME, in a
// child process with ARIZE_DRY_RUN=true: what would be sent is counted, nothing is sent, the
// real state is never touched.
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const recover = require('./recover.js');

const SERVE_START_MS = 60000;
const FLUSH_MS = 15000;
const HTTP_TIMEOUT_MS = 60000;
const READ_AHEAD = 3; // sessions being read while one is traced

const USAGE = `usage: opencode-arize-tracing backfill [--since 7d|24h|<date>] [--session <id>] [--dry-run]

Traces past OpenCode sessions (every project) with the same ids as live tracing: what was
already sent is never sent again. Turns a killed OpenCode left open are closed as interrupted.
  --since 7d|24h|<date>   only sessions active since then (default: all)
  --session <id>          only this session (and its subagents)
  --dry-run               print what would be sent; send nothing, record nothing
Needs \`opencode\` on PATH. Safe to interrupt (ctrl-c) and run again.`;

class UsageError extends Error {}

function parseArgs(argv) {
  const o = { since: 0, session: null, dryRun: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => {
      const v = inline !== undefined ? inline : argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--dry-run') o.dryRun = true;
    else if (flag === '--help' || flag === '-h') o.help = true;
    else if (flag === '--session') o.session = value();
    else if (flag === '--since') o.since = parseSince(value());
    else {
      const near = require('./cli/common.js').closest(flag, ['--since', '--session', '--dry-run', '--help']);
      throw new UsageError(
        `backfill has no ${flag.startsWith('-') ? 'option' : 'argument'} ${flag}${near ? `: did you mean ${near}?` : ''}`,
      );
    }
  }
  return o;
}

/** "7d", "24h", "90m" before now, or a date Date.parse reads; ms since the epoch. */
function parseSince(text, now = Date.now()) {
  const rel = /^(\d+(?:\.\d+)?)\s*([dhm])$/i.exec(text.trim());
  if (rel) return now - Number(rel[1]) * { d: 86400e3, h: 3600e3, m: 60e3 }[rel[2].toLowerCase()];
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new UsageError(`--since ${text}: not a duration (7d, 24h, 90m) or a date (2026-11-20)`);
  return at;
}

// ---------------------------------------------------------------------------------------------
// OpenCode's server, started for this run

/** Starts `opencode serve`; resolves { url, auth, stop() } or rejects with a one-line reason. */
function startServer(env) {
  const password = crypto.randomBytes(18).toString('base64url');
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn('opencode', ['serve', '--pure', '--hostname', '127.0.0.1', '--port', '0'], {
        env: Object.assign({}, env, { OPENCODE_SERVER_PASSWORD: password }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      reject(notFound(error));
      return;
    }
    let out = '',
      settled = false;
    const stop = () => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          child.kill('SIGTERM');
        } catch {
          /* already gone */
        }
      }
    };
    const done = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        stop();
        reject(error);
      } else resolve(value);
    };
    const timer = setTimeout(
      () => done(new Error(`OpenCode's server did not start within ${SERVE_START_MS / 1000} s`)),
      SERVE_START_MS,
    );
    const read = (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m)
        done(null, { url: m[1], auth: 'Basic ' + Buffer.from(`opencode:${password}`).toString('base64'), stop, child });
      if (out.length > 65536) out = out.slice(-4096);
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('error', (error) => done(notFound(error)));
    child.on('exit', (code, signal) =>
      done(
        new Error(
          `opencode serve exited (${signal || `code ${code}`}) before it listened: ${out.trim().split('\n').pop() || 'no output'}`,
        ),
      ),
    );
  });
}

function notFound(error) {
  if (error && error.code === 'ENOENT')
    return Object.assign(
      new Error(
        'cannot find OpenCode: `opencode` is not on PATH (install it: npm install -g opencode-ai, or add its directory to PATH)',
      ),
      { exitCode: 2 },
    );
  return error;
}

async function get(server, route, query = {}) {
  const url = new URL(route, server.url);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const response = await fetch(url, {
    headers: { authorization: server.auth },
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`OpenCode's server answered ${response.status} to GET ${url.pathname}`);
  return response.json();
}

// ---------------------------------------------------------------------------------------------
// The run

/** Every session of every project: Map id -> { session, directory }. A project that cannot be
 * listed (its directory is gone, ...) costs only itself: one line. */
async function listSessions(server, out) {
  const projects = await get(server, '/project');
  const all = new Map();
  for (const project of Array.isArray(projects) ? projects : []) {
    if (!project || typeof project.worktree !== 'string') continue;
    let sessions;
    try {
      // OpenCode answers the 100 most recently updated unless asked for more (`limit`, no cap)
      sessions = await get(server, '/session', { directory: project.worktree, limit: recover.SESSIONS_LIMIT });
    } catch (error) {
      out.line(
        `project ${project.worktree}: its sessions cannot be listed (${String((error && error.message) || error)}); skipped`,
      );
      continue;
    }
    for (const s of Array.isArray(sessions) ? sessions : [])
      if (s && typeof s.id === 'string' && !all.has(s.id))
        all.set(s.id, { session: s, directory: s.directory || project.worktree });
  }
  return all;
}

function progress(stream) {
  const tty = Boolean(stream.isTTY);
  let last = '';
  return {
    tty,
    bar(text) {
      if (!tty) return;
      stream.write(`\r${text}${' '.repeat(Math.max(0, last.length - text.length))}`);
      last = text;
    },
    line(text) {
      if (tty && last) stream.write(`\r${' '.repeat(last.length)}\r`);
      last = '';
      stream.write(`${text}\n`);
    },
  };
}

async function run(o, out) {
  const startedAt = Date.now();
  const opencodeEnv = Object.assign({}, process.env);
  if (process.env.ARIZE_BACKFILL_HOME) opencodeEnv.HOME = process.env.ARIZE_BACKFILL_HOME;
  const liveHome = process.env.ARIZE_BACKFILL_HOME || undefined;
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    out.line('interrupted: finishing the session in progress, then flushing (ctrl-c again quits at once)');
  };
  process.on('SIGINT', onSigint);
  // OpenCode's server takes seconds to start: say so at once, and on a terminal count them.
  out.line(`${o.dryRun ? 'dry run: ' : ''}starting OpenCode's server (opencode serve) to read your sessions...`);
  const began = Date.now();
  const ticking = setInterval(
    () => out.bar(`starting OpenCode's server... ${Math.round((Date.now() - began) / 1000)} s`),
    1000,
  );
  let server;
  try {
    server = await startServer(opencodeEnv);
  } finally {
    clearInterval(ticking);
  }
  out.line(
    `OpenCode's server is up (${((Date.now() - began) / 1000).toFixed(1)} s); listing the sessions of every project`,
  );
  const api = require('./index.js');
  const totals = { sessions: 0, turns: 0, spans: 0, closed: 0, skipped: 0, failed: 0 };
  const timing = { listed: 0, waiting: 0, tracing: 0 };
  const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
  try {
    const all = await listSessions(server, out);
    const stopped = new Map(); // session -> when the OpenCode that worked on it was last seen alive
    const live = await recover.liveSessions(recover.liveDir(liveHome), null, stopped);
    const roots = [...all.values()]
      .filter(
        ({ session }) =>
          !session.parentID && (!o.session || session.id === o.session) && recover.updatedAt(session) >= o.since,
      )
      .sort((a, b) => recover.updatedAt(a.session) - recover.updatedAt(b.session));
    if (o.session && roots.length === 0) {
      const child = all.get(o.session);
      throw Object.assign(
        new Error(
          child
            ? `session ${o.session} is a subagent session: backfill its root session ${child.session.parentID}`
            : `no session ${o.session} in any OpenCode project`,
        ),
        { exitCode: 1 },
      );
    }
    out.line(
      `${o.dryRun ? 'dry run: ' : ''}${roots.length} session(s) to look at${o.since ? ` (active since ${new Date(o.since).toISOString()})` : ''}`,
    );
    timing.listed = performance.now();
    let done = 0;
    // A session (its messages and its subagents') is read while the ones before it are
    // reconciled: OpenCode's server works in its own process, so reading, tracing and sending
    // (the core's threads) overlap, and the run takes about what the reading takes.
    const load = async ({ session, directory }) => {
      const fetchChild = async (id) => ({
        info: all.has(id)
          ? all.get(id).session
          : await get(server, `/session/${encodeURIComponent(id)}`, { directory }).catch(() => null),
        messages: await get(server, `/session/${encodeURIComponent(id)}/message`, { directory }).catch(() => null),
      });
      const messages = await get(server, `/session/${encodeURIComponent(session.id)}/message`, { directory });
      return { messages, childSessions: await recover.childSessions(session.id, messages, fetchChild) };
    };
    const loads = [];
    let next = 0;
    const readAhead = () => {
      while (!interrupted && loads.length < READ_AHEAD && next < roots.length) {
        const loading = load(roots[next++]).then(
          (value) => ({ value }),
          (error) => ({ error }),
        );
        loads.push(loading);
      }
    };
    // the project file the core reads for a directory (null: none), once per directory
    const projectFiles = new Map();
    const projectFileOf = (dir) => {
      if (typeof dir !== 'string' || !dir) return null;
      if (!projectFiles.has(dir)) {
        let file = null;
        try {
          file = JSON.parse(require('./native.js').binding.configStatus(dir)).project?.path ?? null;
        } catch {
          // an older core: no project files
        }
        projectFiles.set(dir, file);
      }
      return projectFiles.get(dir);
    };
    let lastProjectFile;
    for (const { session } of roots) {
      if (interrupted) break;
      readAhead();
      const waitStart = performance.now();
      const loaded = await loads.shift();
      timing.waiting += performance.now() - waitStart;
      readAhead();
      let result;
      let closing = false;
      try {
        if (loaded.error) throw loaded.error;
        const { messages, childSessions } = loaded.value;
        // A session a live OpenCode works on gets what is complete only: its own process closes
        // its turn. Any other is over: its last turn is closed as it stands.
        closing = !live.has(session.id) && recover.updatedAt(session) < startedAt;
        // the whole session: its turns are numbered from 1; its own info for the Turn's context
        // (not the directory's git: what it holds now may not be what the session worked on)
        // Each session's project file (.opencode/arize-tracing.yaml) applies to its spans; the
        // spans queued under another project's file are sent before it changes (the export
        // frames a batch with the project's name and endpoint in effect when it is sent).
        const projectFile = projectFileOf(session.directory);
        if (projectFile !== lastProjectFile && lastProjectFile !== undefined) await api.flush(FLUSH_MS);
        lastProjectFile = projectFile;
        const whole = {
          sessionID: session.id,
          messages,
          childSessions,
          turnsBefore: 0,
          session: { id: session.id, title: session.title, version: session.version, directory: session.directory },
        };
        const traceStart = performance.now();
        result = api.reconcile(
          closing
            ? { type: 'close', abandoned: true, stoppedAt: stopped.get(session.id), ...whole }
            : { type: 'reconcile', ...whole },
          { turns: true },
        );
        timing.tracing += performance.now() - traceStart;
      } catch (error) {
        result = { spans: 0, error: String((error && error.message) || error) };
      }
      done++;
      totals.sessions++;
      if (result.error) totals.failed++;
      if (!closing) totals.skipped++;
      totals.turns += result.turns || 0;
      totals.spans += result.spans || 0;
      const what = result.error
        ? `failed: ${result.error}`
        : result.spans
          ? `${result.turns || 0} turn(s), ${result.spans} span(s)${o.dryRun ? ' would be sent' : ' queued'}`
          : 'nothing new';
      const title = typeof session.title === 'string' ? ` ${JSON.stringify(session.title.slice(0, 60))}` : '';
      if (!out.tty || result.spans || result.error)
        out.line(
          `${session.id}${title}: ${what}${closing ? '' : ' (in use by a running OpenCode: its open turn is left to it)'}`,
        );
      out.bar(`[${done}/${roots.length}] sessions, ${totals.spans} spans ${o.dryRun ? 'counted' : 'queued'}`);
    }
  } finally {
    server.stop();
    process.removeListener('SIGINT', onSigint);
  }
  // how long it took: waiting on OpenCode's server, tracing (the core's reconcile, on this
  // thread), the rest (reading the answers, finding the subagents)
  const took = timing.listed
    ? ` in ${seconds(performance.now() - timing.listed)} (${seconds(timing.waiting)} waiting on OpenCode, ${seconds(timing.tracing)} tracing)`
    : '';
  const summary =
    `${interrupted ? 'interrupted after' : 'done:'} ${totals.sessions} session(s), ${totals.turns} turn(s), ${totals.spans} span(s)${o.dryRun ? ' would be sent' : ' queued'}` +
    `${totals.failed ? `, ${totals.failed} failed` : ''}`;
  if (o.dryRun) {
    out.line(`${summary}; nothing was sent or recorded${took}`);
    api.shutdown(0);
    return interrupted ? 130 : totals.failed ? 1 : 0;
  }
  out.line(`${summary}${took}`);
  // what is left to send, as it goes (a terminal only)
  const flushStart = performance.now();
  const sending = out.tty
    ? setInterval(() => {
        const c = api.status().counters;
        out.bar(`sending: ${c.spans_exported} span(s) exported, ${c.spans_pending} to go`);
      }, 250)
    : undefined;
  const flushed = await api.flush(FLUSH_MS).finally(() => clearInterval(sending));
  const status = api.status();
  api.shutdown(1000);
  const where =
    status.state === 'sending' ? '' : ` (${status.reason || status.state}: they wait until a backend is configured)`;
  out.line(
    `exported ${flushed.exported} span(s); ${flushed.pending} wait in the spool${where}${flushed.pending && status.state === 'sending' ? ', sent by the next OpenCode start or backfill' : ''}` +
      `${flushed.dropped ? `; ${flushed.dropped} dropped (see the log)` : ''}${interrupted ? '; run backfill again to continue' : ''}` +
      ` (sending took ${seconds(performance.now() - flushStart)} more)`,
  );
  return interrupted ? 130 : totals.failed ? 1 : 0;
}

/** --dry-run: the same run in a child process, against a throwaway copy of the state. */
async function dryRun(argv) {
  const home = require('./binary.js').userHome();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'arize-backfill-dry-'));
  try {
    const harness = path.join(home, '.arize', 'harness');
    const copy = path.join(tmp, '.arize', 'harness');
    fs.mkdirSync(copy, { recursive: true });
    for (const name of ['config.yaml', 'config.json'])
      if (fs.existsSync(path.join(harness, name))) fs.copyFileSync(path.join(harness, name), path.join(copy, name));
    const state = path.join(harness, 'state');
    if (fs.existsSync(state)) fs.cpSync(state, path.join(copy, 'state'), { recursive: true });
    const env = Object.assign({}, process.env, {
      HOME: tmp,
      USERPROFILE: tmp, // the home on Windows
      ARIZE_DRY_RUN: 'true',
      ARIZE_BACKFILL_HOME: home,
      ARIZE_BACKFILL_CHILD: '1',
      ARIZE_LOG_FILE: path.join(tmp, 'dry-run.log'),
    });
    const child = spawn(process.execPath, [__filename, ...argv], { env, stdio: 'inherit' });
    const ignore = () => {}; // the child sees the same ctrl-c and stops itself
    process.on('SIGINT', ignore);
    const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 130 : 1))));
    process.removeListener('SIGINT', ignore);
    return code;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(argv) {
  let o;
  try {
    o = parseArgs(argv);
  } catch (error) {
    console.error(`opencode-arize-tracing backfill: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (o.help) return console.log(USAGE);
  try {
    process.exitCode =
      o.dryRun && !process.env.ARIZE_BACKFILL_CHILD
        ? await dryRun(argv)
        : await run(o, progress(process.stderr.isTTY ? process.stderr : process.stdout));
  } catch (error) {
    console.error(`opencode-arize-tracing backfill: ${String((error && error.message) || error).split('\n')[0]}`);
    process.exitCode = (error && error.exitCode) || 1;
  }
}

if (require.main === module) main(process.argv.slice(2));

module.exports = { main, parseArgs, parseSince, startServer }; // startServer: also test/bench/overhead.js
