'use strict';
// The plugin's cost where users feel it: a long-running OpenCode. Users keep one TUI open for
// hours; its server (`opencode serve`, what the TUI runs) is started once per run and driven
// through its HTTP API like the TUI drives it (a prompt through POST /session/:id/message, the
// event stream /event subscribed throughout), by the scripted model (test/model-server.js):
// TURNS consecutive 4-call tool turns on one session of N messages (imported as overhead.js
// imports them: copies of a recorded turn with ids unique to the run), without the plugin and
// with it (installed from the packed tarball as a user installs it), alternating, RUNS runs.
//
// Per turn: the OpenCode process's CPU (user + sys from /proc/<pid>/stat, all its threads, ours
// included; read when the turn is over and SETTLE ms have passed, so the plugin's work after
// session.idle and its export count in the turn), wall time (prompt to session.idle), RSS
// after the turn (/proc/<pid>/status). Inside the plugin (its ARIZE_TRACING_BENCH_TIMINGS
// lines, plugin/index.mjs): per snapshot job, the time our code held OpenCode's thread (the
// core's reconcile() included) apart from the time spent waiting on OpenCode's answers to our
// reads; per turn, that summed with the event hook's own time, and the CPU of the core's own
// threads (arize-writer, arize-export: /proc/<pid>/task). Start-up: the time from the
// spawn of OpenCode to its first model request (the plugin loads in between), STARTS times
// each way, alternating, on a new session, every kind in the same home (oneStart).
//
// A benchmark: it prints figures and asserts nothing.
//   node test/bench/longrun.js [--runs 3] [--turns 30] [--sizes 10,2000] [--starts 8] [--raw]
//                              [--native file.node | --tarball pkg.tgz] [--with-env K=V,...]
//                              [--settle 400] [--json out.json] [--kinds without,with,read]
//                              [--warmup 1] [--gc]
// --native: the core packed into the tarball instead of the checkout's prebuild (a branch
// that changed native/ before its prebuild is made: build/Release/arize_tracing.node);
// --tarball: a package packed before (another version of the plugin, to compare).
// About 40 minutes on a quiet 2-core machine at the defaults.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const crypto = require('node:crypto');
const { spawn, execFileSync } = require('node:child_process');
const { startModelServer } = require('../model-server.js');
const { decodeExportRequest } = require('../receiver.js');
const h = require('../e2e/harness.js');
const { longSession, importSession, seedTurn, SCRIPT } = require('./overhead.js');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const RUNS = Number(option('--runs', '3'));
const TURNS = Number(option('--turns', '30'));
const SIZES = option('--sizes', '10,2000').split(',').map(Number);
const STARTS = Number(option('--starts', '8'));
const WARMUP = Number(option('--warmup', '1')); // rounds not counted, before the first size's runs
const LONG_RUNS = RUNS + WARMUP > 0; // --runs 0 --warmup 0: the start phase alone
const SETTLE_MS = Number(option('--settle', '400'));
const RAW = args.includes('--raw');
const NATIVE = option('--native', '') && path.resolve(option('--native', ''));
const TARBALL = option('--tarball', '') && path.resolve(option('--tarball', ''));
const JSON_OUT = option('--json', '');
// --gc: a plugin file in every home (with and without ours) that runs Bun's full collection at
// each session.idle, so the RSS read after a turn is what stays alive rather than what waits for
// the collector (which moves RSS by ~100 MiB between turns, with the plugin and without)
const GC = args.includes('--gc');
const GC_PLUGIN =
  'export const BenchGc = async () => ({\n  event: async ({ event }) => {\n    if (event.type === "session.idle") Bun.gc(true)\n  },\n})\n';
const FROM_TURN = 3; // CPU and wall per turn: turns after the third (the first ones warm the process)
// --kinds without,with,read: "with" is the plugin as installed (it keeps the open part from
// OpenCode's events, plugin/open.mjs); "read" reads the open part through OpenCode's server on
// each event instead (ARIZE_TRACING_BENCH_OPEN=read, the way it was before); "events" is the
// same as "with" ("without" always: every ratio is against it)
// (--no-without: the plugin's own figures only, when the ratios are not wanted)
const KINDS = [
  ...new Set([...(args.includes('--no-without') ? [] : ['without']), ...option('--kinds', 'without,with').split(',')]),
].filter((k) => k !== 'without' || !args.includes('--no-without'));
const WITH_ENV = Object.fromEntries(
  option('--with-env', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

/** The environment of a kind's OpenCode, and its home (every kind with the plugin shares one). */
const envOf = (kind) =>
  kind === 'without' ? {} : { ...WITH_ENV, ...(kind === 'read' ? { ARIZE_TRACING_BENCH_OPEN: 'read' } : {}) };
const homeOf = (kind) => (kind === 'without' || kind === 'noop' ? kind : 'with');
// "noop": a home like "without" with a plugin file that does nothing (`plugin/noop.ts`): what
// OpenCode itself pays to load a plugin, apart from what ours does (start-up phase only).
// "pure": the plugin's home, the plugin not loaded (`opencode serve --pure`): the same home and
// database as the runs with it, so a difference between the homes cannot pass for the plugin's
const pureOf = (kind) => kind === 'pure';
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return !s.length ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const p99 = (xs) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))] : NaN;
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const idleMissed = (out) => out.turns.filter((t) => t.missed).length; // turns whose session.idle never came

// ---------------------------------------------------------------------------------------------
// The process, from /proc

const TICK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU milliseconds (user + sys) of the process, all its threads, ended ones included. */
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
}

/** CPU milliseconds of the core's own threads (named arize-*: the spool writer, the exporter,
 * a gzip helper while it lives), by name. */
function coreThreadsMs(pid) {
  const out = {};
  let tasks = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      if (!comm.startsWith('arize-')) continue;
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[comm] = (out[comm] || 0) + ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

const threadsTotal = (t) => Object.values(t).reduce((a, b) => a + b, 0);

/** Resident memory of the process, MiB. */
function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---------------------------------------------------------------------------------------------
// OpenCode's server, driven like the TUI drives it

/** `opencode serve` in the home's project; resolves once it listens. */
function startServe(oc, env, pure = false) {
  const password = crypto.randomBytes(12).toString('hex');
  const spawnedAt = Date.now();
  const child = spawn(
    h.OPENCODE_BIN,
    ['serve', ...(pure ? ['--pure'] : []), '--hostname', '127.0.0.1', '--port', '0'],
    {
      cwd: oc.project,
      env: { ...oc.env, PWD: oc.project, OPENCODE_SERVER_PASSWORD: password, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`opencode serve did not listen: ${out.slice(-500)}`)), 180000);
    const read = (d) => {
      out += d;
      if (out.length > 65536) out = out.slice(-8192);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.off('data', read);
      child.stderr.off('data', read);
      child.stdout.resume();
      child.stderr.resume();
      const exited = new Promise((r) => child.on('exit', r));
      resolve({
        pid: child.pid,
        url: m[1],
        auth: 'Basic ' + Buffer.from(`opencode:${password}`).toString('base64'),
        directory: oc.project,
        spawnedAt,
        listeningAt: Date.now(),
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 15000);
          await exited;
          clearTimeout(t);
        },
      });
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`opencode serve exited (${signal || code}): ${out.slice(-500)}`));
    });
  });
}

/** One API call; resolves with the parsed answer (or text). */
async function call(server, method, route, body) {
  const url = new URL(route, server.url);
  url.searchParams.set('directory', server.directory);
  const response = await fetch(url, {
    method,
    headers: { authorization: server.auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(600000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status} ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The event stream, as the TUI holds it open. `idle(sessionID)` resolves at the next
 * session.idle of that session. A stream that fails or ends (the server, just started, may
 * refuse it or drop it) is opened again, as the TUI's client does; `reconnects` counts those.
 */
function subscribe(server) {
  const waiters = [];
  const counts = {};
  const controller = new AbortController();
  const url = new URL('/event', server.url);
  url.searchParams.set('directory', server.directory);
  let reconnects = 0;
  const read = async () => {
    const response = await fetch(url, { headers: { authorization: server.auth }, signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`GET /event: ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let i; (i = buffer.indexOf('\n\n')) >= 0; ) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5))
          .join('');
        let event;
        try {
          event = JSON.parse(data);
        } catch {
          continue;
        }
        event = event && event.payload && event.payload.type ? event.payload : event;
        counts[event.type] = (counts[event.type] || 0) + 1;
        if (event.type !== 'session.idle') continue;
        for (let k = waiters.length - 1; k >= 0; k--)
          if (waiters[k].sessionID === event.properties?.sessionID) waiters.splice(k, 1)[0].resolve(Date.now());
      }
    }
  };
  const done = (async () => {
    while (!controller.signal.aborted) {
      await read().catch(() => {});
      if (controller.signal.aborted) break;
      reconnects++;
      await sleep(100);
    }
  })();
  return {
    counts,
    reconnects: () => reconnects,
    idle: (sessionID) => new Promise((resolve) => waiters.push({ sessionID, resolve })),
    close() {
      controller.abort();
      return done;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A sink for the spans: answers at once, keeps the bodies (decoded after the run), so its own
// work takes as little as possible of the machine's two cores.

async function startSink() {
  const bodies = [];
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
    spans() {
      const zlib = require('node:zlib');
      let n = 0;
      for (const b of bodies) n += decodeExportRequest(b.gzip ? zlib.gunzipSync(b.body) : b.body).length;
      return n;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections?.();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// One long-running OpenCode

const turnScript = (turns) => Array.from({ length: turns }, () => SCRIPT).flat();

/** The plugin's lines in file (plugin/index.mjs benchMeter), or []. */
function readTimings(file) {
  try {
    return fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/**
 * TURNS turns in one `opencode serve` on the session `id`. Returns the process's figures per
 * turn, the time to its first model request, and the plugin's jobs per turn.
 */
async function longRun(oc, model, id, kind, label) {
  const timings = path.join(oc.base, `timings-${label}.jsonl`);
  fs.rmSync(timings, { force: true });
  model.play({ script: turnScript(TURNS) });
  // a new conversation per run: without a session header the model keys one by its first user
  // message, the same in two runs on the same seed (the kinds with the plugin share a home):
  // the second run found the first one's script used up
  model.conversations.clear();
  model.requests.length = 0;
  const server = await startServe(oc, { ARIZE_TRACING_BENCH_TIMINGS: timings, ...envOf(kind) }, pureOf(kind));
  const turns = [];
  let events;
  try {
    for (let t = 0; t < TURNS; t++) {
      const cpu0 = cpuMs(server.pid),
        threads0 = threadsTotal(coreThreadsMs(server.pid));
      const at0 = Date.now();
      const w0 = performance.now();
      const posted = call(server, 'POST', `/session/${id}/message`, {
        parts: [{ type: 'text', text: `longrun turn ${t} (${label})` }],
      });
      // The first prompt goes out as soon as the server listens (the instance, plugins and all,
      // starts with it); the event stream is opened beside it, as the TUI does.
      if (t === 0) events = subscribe(server);
      const idle = t === 0 ? null : events.idle(id);
      await posted;
      const firstRequest = t === 0 ? model.requests[0] : undefined;
      // a turn whose session.idle never came (the stream lost it) is flagged, not measured as
      // a 60 s turn without a word
      const missed = idle ? (await Promise.race([idle, sleep(60000).then(() => 'missed')])) === 'missed' : false;
      const wall = performance.now() - w0;
      await sleep(SETTLE_MS);
      turns.push({
        cpu: cpuMs(server.pid) - cpu0,
        coreThreads: threadsTotal(coreThreadsMs(server.pid)) - threads0,
        wall,
        rss: rssMiB(server.pid),
        missed,
        at0,
        at1: Date.now(),
      });
      if (firstRequest)
        Object.assign(turns[0], {
          firstRequestMs: firstRequest.at - server.spawnedAt,
          promptToRequestMs: firstRequest.at - at0,
          listenMs: server.listeningAt - server.spawnedAt,
        });
      model.requests.length = 0; // their bodies grow with the session: keep none
    }
    // dispose runs the plugin's exit path (pending jobs, the flush) and writes its last line
    await call(server, 'POST', '/instance/dispose').catch(() => {});
  } finally {
    await events?.close();
    await server.stop();
  }
  await sleep(100);
  const lines = readTimings(timings);
  const jobs = lines.flatMap((l) => l.jobs ?? []);
  // each job belongs to the turn during which it started; hook time to the turn of its line
  for (const turn of turns) {
    turn.jobs = jobs.filter((j) => j.at >= turn.at0 && j.at < turn.at1);
    turn.hookMs = lines.filter((l) => l.at >= turn.at0 && l.at < turn.at1).reduce((n, l) => n + l.hookMs, 0);
  }
  const unexpected = model.unexpected.length;
  model.unexpected.length = 0;
  return { turns, lines, unexpected, events: events?.counts, reconnects: events?.reconnects() ?? 0 };
}

// The start phase compares the kinds in ONE home (the plugin's: its package installed in the
// config dir's node_modules for every kind, the same database): before each start the kind's
// plugin file alone is put in <configDir>/plugin/ — none for "without", a file that does
// nothing for "noop", and for the kinds with the plugin a bench-only file that does what the
// shipped plugin/arize-tracing.ts does (load "opencode-arize-tracing/plugin", export its
// ArizeTracing) with a clock around the import: the import's ms go to the timings file beside
// the plugin's own start (initMs, its function until it returned its hooks).
const NOOP_PLUGIN = 'export const Noop = async () => ({});\n';
const TIMED_PLUGIN = `// bench only (test/bench/longrun.js): the shipped arize-tracing.ts with a clock on its import
const t0 = performance.now();
const plugin = await import("opencode-arize-tracing/plugin");
const importMs = performance.now() - t0;
const file = process.env.ARIZE_TRACING_BENCH_TIMINGS;
if (file) (await import("node:fs")).appendFileSync(file, JSON.stringify({ importMs, at: Date.now() }) + "\\n");
export const ArizeTracing = plugin.ArizeTracing;
`;
const PLUGIN_FILES = ['arize-tracing.ts', 'noop.ts'];

/** Puts the kind's plugin file alone in the home's plugin directory. */
function placePlugin(oc, kind) {
  const dir = path.join(oc.configDir, 'plugin');
  fs.mkdirSync(dir, { recursive: true });
  for (const name of PLUGIN_FILES) fs.rmSync(path.join(dir, name), { force: true });
  if (kind === 'noop') fs.writeFileSync(path.join(dir, 'noop.ts'), NOOP_PLUGIN);
  else if (kind !== 'without') fs.writeFileSync(path.join(dir, 'arize-tracing.ts'), TIMED_PLUGIN);
}

/**
 * One start: the kind's plugin file placed, spawn, a new session, one prompt; the time to the
 * first model request, and (with the plugin) the import's and the plugin's own start from its
 * timings (written at dispose, asked for before the server stops).
 */
async function oneStart(oc, model, kind, label) {
  placePlugin(oc, kind);
  const timings = path.join(oc.base, `timings-start-${label}.jsonl`);
  fs.rmSync(timings, { force: true });
  model.play({ script: SCRIPT });
  model.requests.length = 0;
  const server = await startServe(oc, { ARIZE_TRACING_BENCH_TIMINGS: timings, ...envOf(kind) }, pureOf(kind));
  try {
    const session = await call(server, 'POST', '/session', {});
    const promptAt = Date.now();
    await call(server, 'POST', `/session/${session.id}/message`, {
      parts: [{ type: 'text', text: `start ${label}` }],
    });
    const first = model.requests[0];
    await call(server, 'POST', '/instance/dispose').catch(() => {});
    const lines = readTimings(timings);
    return {
      firstRequestMs: first.at - server.spawnedAt,
      promptToRequestMs: first.at - promptAt,
      listenMs: server.listeningAt - server.spawnedAt,
      importMs: lines.find((l) => l.importMs !== undefined)?.importMs ?? NaN,
      initMs: lines.find((l) => l.initMs !== undefined)?.initMs ?? NaN,
    };
  } finally {
    model.requests.length = 0;
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const missing = h.missingPrerequisite() || (process.platform !== 'linux' && 'it reads /proc (Linux only)');
  if (missing) {
    console.log(`long-running benchmark skipped: ${missing}`);
    return;
  }
  const started = Date.now();
  const { tarball } = TARBALL ? { tarball: TARBALL } : h.packPackage(undefined, NATIVE ? { addon: NATIVE } : {});
  const sink = await startSink();
  const model = await startModelServer({ script: SCRIPT });
  const homes = {
    ...(LONG_RUNS
      ? { without: h.makeOpenCodeHome({ route: 'none', modelURL: model.baseURL, receiverURL: sink.url }) }
      : {}),
    with: h.makeOpenCodeHome({ route: 'plugin-file', tarball, modelURL: model.baseURL, receiverURL: sink.url }),
  };
  if (KINDS.includes('noop') && LONG_RUNS) {
    homes.noop = h.makeOpenCodeHome({ route: 'none', modelURL: model.baseURL, receiverURL: sink.url });
    fs.mkdirSync(path.join(homes.noop.configDir, 'plugin'), { recursive: true });
    fs.writeFileSync(path.join(homes.noop.configDir, 'plugin', 'noop.ts'), 'export const Noop = async () => ({});\n');
  }
  if (GC)
    for (const oc of Object.values(homes)) {
      fs.mkdirSync(path.join(oc.configDir, 'plugin'), { recursive: true });
      fs.writeFileSync(path.join(oc.configDir, 'plugin', 'bench-gc.ts'), GC_PLUGIN);
    }
  const rows = [];
  const starts = Object.fromEntries(KINDS.map((k) => [k, []]));
  const raw = [];
  const loads = [];
  const progress = (text) => {
    loads.push(os.loadavg()[0]);
    console.error(`  [${((Date.now() - started) / 60000).toFixed(1)} min, load ${os.loadavg()[0].toFixed(1)}] ${text}`);
  };
  try {
    // the seed turn also warms the plugin's home (its database, files) for the start phase
    const seeds = { with: await seedTurn(homes.with, model) };
    if (LONG_RUNS) seeds.without = await seedTurn(homes.without, model);
    if (homes.noop) seeds.noop = await seedTurn(homes.noop, model);
    for (const n of LONG_RUNS ? SIZES : []) {
      const results = Object.fromEntries(KINDS.map((k) => [k, []]));
      for (let r = n === SIZES[0] ? -WARMUP : 0; r < RUNS; r++) {
        // a first round warms the homes (database, files) and is not counted
        const turn = (((r + 1) % KINDS.length) + KINDS.length) % KINDS.length;
        for (const kind of [...KINDS.slice(turn), ...KINDS.slice(0, turn)]) {
          const oc = homes[homeOf(kind)];
          const tag = `${n}L${r}${Date.now().toString(36)}`;
          const session = longSession(seeds[homeOf(kind)], n, tag);
          const id = await importSession(oc, session);
          const out = await longRun(oc, model, id, kind, tag);
          out.messages = session.messages.length;
          if (r >= 0) results[kind].push(out);
          progress(
            `${n} messages, ${r < 0 ? 'warm-up' : `run ${r + 1}/${RUNS}`}, ${kind}: CPU/turn ${mean(out.turns.slice(FROM_TURN).map((t) => t.cpu)).toFixed(0)} ms` +
              (out.unexpected ? ` (${out.unexpected} model calls beyond the script)` : '') +
              (out.reconnects ? ` (the event stream opened again ${out.reconnects} times)` : '') +
              (idleMissed(out)
                ? ` (WARNING: ${idleMissed(out)} turns never saw session.idle: their wall is 60 s)`
                : ''),
          );
        }
      }
      rows.push(summarise(n, results));
      raw.push({ n, results });
      // each size's table as soon as it is measured (a busy machine may not see the end)
      print(rows, { without: [] }, NaN, started, loads);
      if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ rows, starts, raw }, null, 1));
    }
    for (let i = 0; i < STARTS; i++)
      // a start whose server failed (it went away mid-prompt) is said and left out, not fatal
      for (const kind of [...KINDS.slice(i % KINDS.length), ...KINDS.slice(0, i % KINDS.length)])
        await oneStart(homes.with, model, kind, `${i}${kind}`).then(
          (s) => starts[kind].push(s),
          (error) => progress(`start ${i} ${kind} failed, left out: ${error.cause?.message ?? error.message}`),
        );
    if (STARTS) progress(`${STARTS} starts each way done`);
  } finally {
    for (const oc of Object.values(homes)) oc.remove();
    await model.close();
  }
  const spans = sink.spans();
  await sink.close();
  print(rows, starts, spans, started, loads);
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ rows, starts, raw }, null, 1));
}

/** The slope of a least-squares line through ys (per step), NaN under two points. */
function trend(ys) {
  const n = ys.length;
  if (n < 2) return NaN;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0,
    den = 0;
  ys.forEach((y, x) => ((num += (x - mx) * (y - my)), (den += (x - mx) ** 2)));
  return num / den;
}

/** Per size: medians over runs of each run's figures per turn. */
function summarise(n, results) {
  const perRun = (out) => {
    const counted = out.turns.slice(FROM_TURN);
    const rss = out.turns.map((t) => t.rss);
    return {
      cpu: mean(counted.map((t) => t.cpu)),
      wall: mean(counted.map((t) => t.wall)),
      rssGrowth: rss[rss.length - 1] - rss[Math.min(2, rss.length - 1)],
      // the same growth from a least-squares line through turns 3 to the last: Bun's collector
      // moves RSS up and down by ~100 MiB between turns, with and without the plugin
      rssTrend: trend(rss.slice(2)) * Math.max(0, rss.length - 3),
      rssEnd: rss[rss.length - 1],
      firstRequestMs: out.turns[0].firstRequestMs,
    };
  };
  const side = (kind) => {
    const runs = (results[kind] ?? []).map(perRun);
    return {
      runs,
      cpu: median(runs.map((r) => r.cpu)),
      wall: median(runs.map((r) => r.wall)),
      rssGrowth: median(runs.map((r) => r.rssGrowth)),
      rssTrend: median(runs.map((r) => r.rssTrend)),
      rssEnd: median(runs.map((r) => r.rssEnd)),
      firstRequestMs: median(runs.map((r) => r.firstRequestMs)),
      // the plugin's own start inside OpenCode (its function until it returned its hooks: the
      // package's load, the core's start), per process
      initMs: median((results[kind] ?? []).map((o) => o.lines.find((l) => l.initMs !== undefined)?.initMs ?? NaN)),
    };
  };
  const plugin = (kind) => {
    const withTurns = results[kind].flatMap((o) => o.turns);
    const jobs = withTurns.flatMap((t) => t.jobs);
    const turnOurs = withTurns.map((t) => t.jobs.reduce((s, j) => s + j.ours, 0) + t.hookMs);
    // the plugin's time on OpenCode's thread per turn (its jobs' synchronous sections and the
    // event hook: wall time, an upper bound of their CPU on a quiet machine), over the same turns
    // as the CPU per turn. (schedstat's sum is only as fresh as the scheduler's last tick, 4 ms
    // here: it overstates a section that starts long after one.)
    const turnCpu = results[kind]
      .flatMap((o) => o.turns.slice(FROM_TURN))
      .map((t) => t.jobs.reduce((s, j) => s + j.sync, 0) + t.hookMs);
    const turnRead = withTurns.map((t) => t.jobs.reduce((s, j) => s + j.read, 0));
    const turnThreads = results[kind].flatMap((o) => o.turns.slice(FROM_TURN)).map((t) => t.coreThreads);
    return {
      ...side(kind),
      jobs: jobs.length,
      jobsPerTurn: jobs.length / Math.max(1, withTurns.length),
      oursMedian: median(jobs.map((j) => j.ours)),
      oursP99: p99(jobs.map((j) => j.ours)),
      // the first turn of each process holds its first payload of the session (OpenCode just
      // started: the session's open part read, the code not yet compiled); after it, the steady state
      syncSteady: (() => {
        const steady = results[kind].flatMap((o) => o.turns.slice(1)).flatMap((t) => t.jobs);
        const sync = steady.map((j) => j.sync);
        const cpu = steady.filter((j) => typeof j.cpu === 'number').map((j) => j.cpu);
        return { median: median(sync), p99: p99(sync), cpuMedian: median(cpu), cpuP99: p99(cpu), jobs: steady.length };
      })(),
      syncFirstTurn: (() => {
        const first = results[kind].flatMap((o) => o.turns.slice(0, 1)).flatMap((t) => t.jobs);
        return {
          median: median(first.map((j) => j.sync)),
          max: Math.max(...first.map((j) => j.sync)),
          cpuMax: Math.max(...first.map((j) => j.cpu ?? NaN).filter(Number.isFinite)),
          jobs: first.length,
        };
      })(),
      coreMedian: median(jobs.map((j) => j.core)),
      readMedian: median(jobs.map((j) => j.read)),
      readP99: p99(jobs.map((j) => j.read)),
      readsPerJob: mean(jobs.map((j) => j.reads)),
      turnOurs: median(turnOurs),
      turnCpu: mean(turnCpu),
      turnRead: median(turnRead),
      turnThreads: mean(turnThreads),
      hookCalls: median(results[kind].flatMap((o) => o.lines.map((l) => l.hookCalls))),
      hookPerCall:
        results[kind].flatMap((o) => o.lines).reduce((n, l) => n + l.hookMs, 0) /
        Math.max(
          1,
          results[kind].flatMap((o) => o.lines).reduce((n, l) => n + l.hookCalls, 0),
        ),
      hookMax: Math.max(...results[kind].flatMap((o) => o.lines.map((l) => l.hookMax ?? NaN)).filter(Number.isFinite)),
      // the split of a job's time (plugin/index.mjs Clock): median and p99 of each part per job
      split: Object.fromEntries(
        [
          'ours',
          'sync',
          'cpu',
          'queued',
          'plugin',
          'cut',
          'stringify',
          'same',
          'core',
          'remember',
          'bytes',
          'read',
          'parse',
          'readBytes',
        ]
          .filter((k) => jobs.some((j) => typeof j[k] === 'number'))
          .map((k) => [
            k,
            {
              median: median(jobs.map((j) => j[k] ?? 0)),
              p99: p99(jobs.map((j) => j[k] ?? 0)),
              mean: mean(jobs.map((j) => j[k] ?? 0)),
            },
          ]),
      ),
      // the plugin's own synchronous code by section (plugin/index.mjs Clock.part)
      parts: Object.fromEntries(
        [...new Set(jobs.flatMap((j) => Object.keys(j.parts ?? {})))].map((k) => [
          k,
          { median: median(jobs.map((j) => j.parts?.[k] ?? 0)), p99: p99(jobs.map((j) => j.parts?.[k] ?? 0)) },
        ]),
      ),
    };
  };
  const plugins = KINDS.filter((k) => k !== 'without');
  return {
    n: results[plugins[0]][0]?.messages ?? n,
    without: side('without'),
    ...Object.fromEntries(plugins.map((k) => [k, plugin(k)])),
  };
}

function print(rows, starts, spans, started, loads = []) {
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const load = os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  console.log(
    rows.length
      ? `OpenCode ${h.OPENCODE_VERSION} serve, ${TURNS} consecutive 4-call tool turns per process, medians of ${RUNS} runs each way, alternating; CPU and wall per turn over turns ${FROM_TURN + 1}-${TURNS}`
      : `OpenCode ${h.OPENCODE_VERSION} serve, start-up only (--runs 0 --warmup 0)`,
  );
  console.log(
    `(${os.cpus().length} cores, load average ${load} at the end, 1-min load ${f(Math.min(...loads), 1)}-${f(Math.max(...loads), 1)} (median ${f(median(loads), 1)}) over the runs; ${((Date.now() - started) / 60000).toFixed(1)} min)`,
  );
  if (rows.length)
    console.log(
      'messages | CPU ms/turn without  with  ratio | wall ms/turn without  with  ratio | RSS MiB growth turn 3->last without, with (end; growth by the trend line) | plugin on the thread ms/job median p99 (core) | reads awaited ms/job median p99 (reads/job) | plugin ms/turn on thread, reads awaited | core threads ms/turn',
    );
  const plugins = KINDS.filter((k) => k !== 'without');
  for (const r of rows) {
    if (RAW)
      for (const kind of KINDS)
        console.error(
          `  ${r.n} ${kind}: cpu/turn ${r[kind].runs.map((x) => f(x.cpu)).join(' ')} | wall/turn ${r[kind].runs.map((x) => f(x.wall)).join(' ')} | rss growth ${r[kind].runs.map((x) => f(x.rssGrowth, 1)).join(' ')} | trend ${r[kind].runs.map((x) => f(x.rssTrend, 1)).join(' ')}`,
        );
    for (const kind of plugins) {
      const w = r[kind];
      console.log(
        `${String(r.n).padStart(8)}${plugins.length > 1 ? ` ${kind}` : ''} | ${f(r.without.cpu).padStart(19)} ${f(w.cpu).padStart(5)} ${f(w.cpu / r.without.cpu, 3).padStart(6)} |` +
          ` ${f(r.without.wall).padStart(20)} ${f(w.wall).padStart(5)} ${f(w.wall / r.without.wall, 3).padStart(6)} |` +
          ` ${f(r.without.rssGrowth, 1).padStart(6)}, ${f(w.rssGrowth, 1)} (${f(r.without.rssEnd)}, ${f(w.rssEnd)}; trend ${f(r.without.rssTrend, 1)}, ${f(w.rssTrend, 1)}) |` +
          ` ${f(w.oursMedian, 2)} ${f(w.oursP99, 2)} (${f(w.coreMedian, 2)}) | ${f(w.readMedian, 1)} ${f(w.readP99, 1)} (${f(w.readsPerJob, 2)}) |` +
          ` ${f(w.turnOurs, 1)}, ${f(w.turnRead, 1)} (${f(w.jobsPerTurn, 1)} jobs, ${f(w.hookCalls)} events) | ${f(w.turnThreads, 1)}`,
      );
    }
  }
  for (const r of rows)
    for (const kind of plugins) {
      const sp = r[kind].split;
      if (!sp || !sp.sync) continue;
      const cell = (k, d = 2) => (sp[k] ? `${f(sp[k].median, d)} / ${f(sp[k].p99, d)}` : '-');
      console.log(
        `split per job, ${r.n} messages ${kind} (median / p99, ms; ${r[kind].jobs} jobs): on the thread, synchronous ${cell('sync')}` +
          ` = plugin ${cell('plugin')} + cut ${cell('cut')} + stringify ${cell('stringify')} + repeat check ${cell('same')} + core ${cell('core')} + remember ${cell('remember')}` +
          ` | payload KiB ${cell('bytes') === '-' ? '-' : `${f(sp.bytes.median / 1024, 1)} / ${f(sp.bytes.p99 / 1024, 1)}`}` +
          ` | between awaits (upper bound) ${cell('ours')} | awaited reads ${cell('read', 1)}, their answers re-parsed ${cell('parse')} (KiB ${f(sp.readBytes.median / 1024, 1)} / ${f(sp.readBytes.p99 / 1024, 1)})` +
          ` | event hook ${f(r[kind].hookPerCall, 3)} ms per call (max ${f(r[kind].hookMax, 1)})`,
      );
      // the ratio from what the plugin's parts are measured to spend, against the processes'
      // spread without it (which decides what the measured ratio can resolve)
      const w = r[kind];
      const base = r.without.runs.map((x) => x.cpu);
      if (base.length && Number.isFinite(w.turnCpu))
        console.log(
          `  CPU per turn accounted: the plugin on OpenCode's thread ${f(w.turnCpu, 1)} ms + the core's threads ${f(w.turnThreads, 1)} ms = ${f(w.turnCpu + w.turnThreads, 1)} ms against ${f(r.without.cpu)} ms without: ratio ${f(1 + (w.turnCpu + w.turnThreads) / r.without.cpu, 3)} (the collector's extra work not counted); processes without the plugin spread ${f(Math.min(...base))}-${f(Math.max(...base))} ms per turn (${f((100 * (Math.max(...base) - Math.min(...base))) / r.without.cpu, 0)} % of the median)`,
        );
      const st = r[kind].syncSteady;
      const ft = r[kind].syncFirstTurn;
      if (st && ft)
        console.log(
          `  on the thread per job, synchronous (wall) and on a CPU (schedstat, as fresh as the scheduler's last tick), ms: turns 2-${TURNS} (${st.jobs} jobs) median ${f(st.median, 2)} / p99 ${f(st.p99, 2)}, on a CPU ${f(st.cpuMedian, 2)} / ${f(st.cpuP99, 2)};` +
            ` the first turn of each process (${ft.jobs} jobs: the session's open part read, the code cold) median ${f(ft.median, 2)}, max ${f(ft.max, 2)} (on a CPU ${f(ft.cpuMax, 2)}); all jobs on a CPU ${cell('cpu')}, waiting for a CPU ${cell('queued')}`,
        );
      const parts = Object.entries(r[kind].parts ?? {});
      if (parts.length)
        console.log(
          `  the plugin's own code by section (median / p99, ms): ${parts.map(([k, v]) => `${k} ${f(v.median, 2)} / ${f(v.p99, 2)}`).join(', ')}`,
        );
    }
  if (starts.without?.length) {
    const s = (kind, key) => median(starts[kind].map((x) => x[key]));
    console.log(
      `\nstart-up in one home (the kind's plugin file alone in it), median of ${starts.without.length} starts each way (spawn -> first model request | spawn -> listening | prompt -> first model request), ms; with the plugin, inside OpenCode: the import of "opencode-arize-tracing/plugin" and the plugin's own start (its function until it returned its hooks):`,
    );
    for (const kind of KINDS)
      console.log(
        `  ${kind.padEnd(7)} ${f(s(kind, 'firstRequestMs'))} | ${f(s(kind, 'listenMs'))} | ${f(s(kind, 'promptToRequestMs'))}` +
          (kind === 'without'
            ? ''
            : `  (difference ${f(s(kind, 'firstRequestMs') - s('without', 'firstRequestMs'))} ms; listening ${f(s(kind, 'listenMs') - s('without', 'listenMs'))} ms; prompt -> request ${f(s(kind, 'promptToRequestMs') - s('without', 'promptToRequestMs'))} ms)`) +
          (Number.isFinite(s(kind, 'importMs')) || Number.isFinite(s(kind, 'initMs'))
            ? `  import ${f(s(kind, 'importMs'), 1)} ms, initMs ${f(s(kind, 'initMs'), 1)} ms`
            : ''),
      );
    if (RAW)
      for (const kind of KINDS)
        console.error(
          `  starts ${kind}: ${starts[kind].map((x) => f(x.firstRequestMs)).join(' ')}` +
            (kind === 'without'
              ? ''
              : `; import ${starts[kind].map((x) => f(x.importMs, 1)).join(' ')}; initMs ${starts[kind].map((x) => f(x.initMs, 1)).join(' ')}`),
        );
  }
  for (const r of rows)
    console.log(
      `first model request of the long runs at ${r.n} messages (spawn -> request, median): ${KINDS.map((k) => `${k} ${f(r[k].firstRequestMs)} ms`).join(', ')}` +
        `; the plugin's own start inside OpenCode (its function until it gave its hooks), median: ${KINDS.filter((k) =>
          Number.isFinite(r[k].initMs),
        )
          .map((k) => `${k} ${f(r[k].initMs, 1)} ms`)
          .join(', ')}`,
    );
  console.log(`spans received: ${spans}`);
}

if (require.main === module)
  main().catch((error) => {
    console.error(error.stack || String(error));
    process.exit(1);
  });
