'use strict';
// Backfill at the speed of reading: `opencode-arize-tracing backfill` over SESSIONS past
// sessions (about 100 spans each) against the time OpenCode's own server takes to hand over the
// same messages.
//
// Setup (not timed): a real 4-call tool turn recorded in a home without the plugin, a session of
// TURNS copies of it imported (`opencode import`, ids unique to the run), then forked
// SESSIONS - 1 times through `opencode serve` (POST /session/:id/fork: a new root session with
// new ids, the same messages) — one OpenCode start instead of one per session.
// Per run, alternating: the read alone (`opencode serve --pure` as backfill starts it; the
// projects and sessions listed; then every root session's messages read and parsed, one after
// the other, as backfill reads them), and backfill itself (the CLI, its state and spool fresh,
// spans to a local sink that answers at once). Both are timed from the end of the listing (the
// line "N session(s) to look at", as it reaches this process) to the end: the last read, or
// backfill's exit (every span exported). Medians of --runs.
// A benchmark: it prints figures and asserts nothing.
//   node test/bench/backfill.js [--sessions 200] [--turns 11] [--runs 3] [--native file.node]
// About 15 minutes on a quiet 2-core machine (most of it the setup).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn } = require('node:child_process');
const { SESSIONS_LIMIT } = require('../../lib/recover.js');
const { startModelServer } = require('../model-server.js');
const { decodeExportRequest } = require('../receiver.js');
const h = require('../e2e/harness.js');
const { longSession, importSession, seedTurn, SCRIPT } = require('./overhead.js');
const { startServer } = require('../../lib/backfill.js');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const SESSIONS = Number(option('--sessions', '200'));
const TURNS = Number(option('--turns', '11'));
const RUNS = Number(option('--runs', '3'));
const NATIVE = option('--native', '') && path.resolve(option('--native', ''));
const CLI = path.join(__dirname, '..', '..', 'lib', 'cli.js');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// A sink that answers at once and keeps the bodies, decoded only after the run (its own work
// must take as little as possible of the machine while backfill runs).
async function startSink() {
  let bodies = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies.push({ body: Buffer.concat(chunks), gzip: /gzip/i.test(req.headers['content-encoding'] || '') });
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    take() {
      const zlib = require('node:zlib');
      let spans = 0;
      for (const b of bodies) spans += decodeExportRequest(b.gzip ? zlib.gunzipSync(b.body) : b.body).length;
      const out = { spans, requests: bodies.length };
      bodies = [];
      return out;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections?.();
      }),
  };
}

/** `opencode serve --pure` in the home, as backfill starts it. */
function serve(oc) {
  return startServer({ ...oc.env, PWD: oc.project, PATH: `${path.dirname(h.OPENCODE_BIN)}:${process.env.PATH}` });
}

async function get(server, route, query = {}) {
  const url = new URL(route, server.url);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
  const response = await fetch(url, { headers: { authorization: server.auth } });
  if (!response.ok) throw new Error(`GET ${route}: HTTP ${response.status}`);
  return response.json();
}

/** SESSIONS root sessions in the home: one imported, the rest forks of it. */
async function setUp(oc, model) {
  const seed = await seedTurn(oc, model);
  const session = longSession(seed, TURNS * seed.messages.length, `bf${Date.now().toString(36)}`);
  const id = await importSession(oc, session);
  const server = await serve(oc);
  try {
    const started = Date.now();
    for (let i = 1; i < SESSIONS; i++) {
      const url = new URL(`/session/${id}/fork`, server.url);
      url.searchParams.set('directory', oc.project);
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: server.auth, 'content-type': 'application/json' },
        body: '{}',
      });
      if (!response.ok) throw new Error(`fork: HTTP ${response.status} ${await response.text()}`);
      await response.text();
      if (i % 50 === 0) console.error(`  ${i} forks (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  } finally {
    server.stop();
  }
  return session.messages.length;
}

/** The read alone: list as backfill lists, then every root session's messages, in its order. */
async function readAlone(oc) {
  const server = await serve(oc);
  try {
    const projects = await get(server, '/project');
    const sessions = [];
    for (const p of projects)
      sessions.push(...(await get(server, '/session', { directory: p.worktree, limit: SESSIONS_LIMIT })));
    const roots = sessions.filter((s) => !s.parentID).sort((a, b) => a.time.updated - b.time.updated);
    const t0 = performance.now();
    let messages = 0,
      bytes = 0;
    for (const s of roots) {
      const url = new URL(`/session/${encodeURIComponent(s.id)}/message`, server.url);
      url.searchParams.set('directory', s.directory);
      const text = await (await fetch(url, { headers: { authorization: server.auth } })).text();
      bytes += text.length;
      messages += JSON.parse(text).length;
    }
    return { ms: performance.now() - t0, sessions: roots.length, messages, bytes };
  } finally {
    server.stop();
  }
}

/** backfill itself, its state and spool fresh; timed from its "to look at" line to its exit. */
function backfill(oc, sink) {
  fs.rmSync(path.join(oc.home, '.arize'), { recursive: true, force: true });
  const env = {
    ...oc.env,
    PATH: `${path.dirname(h.OPENCODE_BIN)}:${process.env.PATH}`,
    PHOENIX_ENDPOINT: sink.url,
    ...(NATIVE ? { ARIZE_TRACING_NATIVE: NATIVE } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'backfill'], { cwd: oc.home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '',
      listed;
    const read = (d) => {
      out += d;
      if (listed === undefined && /session\(s\) to look at/.test(out)) listed = performance.now();
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('close', (code) => {
      const end = performance.now();
      if (code !== 0 || listed === undefined) reject(new Error(`backfill exited ${code}: ${out.slice(-800)}`));
      else resolve({ ms: end - listed, out });
    });
  });
}

async function main() {
  const missing = h.missingPrerequisite();
  if (missing) {
    console.log(`backfill benchmark skipped: ${missing}`);
    return;
  }
  const started = Date.now();
  const sink = await startSink();
  const model = await startModelServer({ script: SCRIPT });
  const oc = h.makeOpenCodeHome({ route: 'none', modelURL: model.baseURL });
  const reads = [],
    fills = [];
  let perSession, last;
  try {
    perSession = await setUp(oc, model);
    console.error(
      `  set up: ${SESSIONS} sessions of ${perSession} messages (${((Date.now() - started) / 60000).toFixed(1)} min)`,
    );
    await readAlone(oc); // warms the server's files and database
    for (let r = 0; r < RUNS; r++) {
      for (const step of r % 2 ? ['backfill', 'read'] : ['read', 'backfill']) {
        if (step === 'read') reads.push(await readAlone(oc));
        else {
          const b = await backfill(oc, sink);
          b.sink = sink.take();
          fills.push(b);
          last = b;
        }
      }
      console.error(
        `  run ${r + 1}: read ${reads[reads.length - 1].ms.toFixed(0)} ms, backfill ${fills[fills.length - 1].ms.toFixed(0)} ms (${fills[fills.length - 1].sink.spans} spans)`,
      );
    }
  } finally {
    oc.remove();
    await model.close();
    await sink.close();
  }
  const read = median(reads.map((x) => x.ms)),
    fill = median(fills.map((x) => x.ms));
  console.log(
    `backfill of ${reads[0].sessions} sessions (${reads[0].messages} messages, ${(reads[0].bytes / 1048576).toFixed(1)} MiB of JSON, ${last.sink.spans} spans in ${last.sink.requests} requests), median of ${RUNS} runs:`,
  );
  console.log(
    `  OpenCode's server handing the messages over (read and parsed, one session after the other): ${read.toFixed(0)} ms`,
  );
  console.log(`  backfill, from the listing to its exit (every span exported): ${fill.toFixed(0)} ms`);
  console.log(`  backfill ÷ read: ${(fill / read).toFixed(2)}`);
  console.log(
    `(${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}; ${((Date.now() - started) / 60000).toFixed(1)} min)`,
  );
  console.log(`backfill's last lines:\n${last.out.trim().split('\n').slice(-3).join('\n')}`);
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
