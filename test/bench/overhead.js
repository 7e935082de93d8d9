'use strict';
// The plugin's cost inside OpenCode, at scale. For each session size, long sessions are
// imported with `opencode import` (N messages: copies of a real 4-call tool turn, recorded in
// the same home, with fresh ascending ids), then the same tool turn is run on them by the real
// OpenCode without the plugin and with it (installed from the packed tarball, the way a user
// installs it), alternating, RUNS times each, each run on a freshly imported session. Printed:
// medians of the OpenCode process's CPU (user + sys, from /usr/bin/time), wall time and peak
// RSS, their ratios, and the plugin's own time per snapshot event (median and p99 of every
// event of every run at that size, and how long its dispose waited at exit, from the plugin's
// ARIZE_TRACING_BENCH_TIMINGS hook).
// A benchmark: it asserts nothing.
//   node test/bench/overhead.js [--runs 3] [--sizes 10,500,2000]
// About 10 minutes on a quiet 2-core machine at the defaults (most of it OpenCode at 2,000).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const h = require('../e2e/harness.js');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const RUNS = Number(option('--runs', '3'));
const SIZES = option('--sizes', '10,500,2000').split(',').map(Number);
const TIME = '/usr/bin/time';
// --with-env K=V[,K=V]: more environment for the runs with the plugin (e.g. ARIZE_RECOVER_HOURS=0)
const WITH_ENV = Object.fromEntries(
  option('--with-env', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const RAW = args.includes('--raw');

const SCRIPT = [
  {
    tool: 'bash',
    args: { command: 'ls', description: 'List files' },
    usage: { prompt: 1200, completion: 40, cached: 400 },
  },
  {
    tools: [
      { tool: 'read', args: { filePath: 'hello.txt' } },
      { tool: 'glob', args: { pattern: '*.txt' } },
    ],
    usage: { prompt: 1500, completion: 30 },
  },
  { tool: 'write', args: { filePath: 'out.txt', content: 'done\n' }, usage: { prompt: 1700, completion: 25 } },
  { text: 'All done.', usage: { prompt: 1800, completion: 12 } },
];

// What the design of the plugin's reads rests on: at each size, OpenCode's server answering
// the whole session against its tail (`limit`), median of 5 each, through `opencode serve` in
// the home without the plugin (milliseconds of the request, bytes of the answer).
async function reads(oc, id) {
  const { startServer } = require('../../lib/backfill.js');
  const env = { ...oc.env, PWD: oc.project, PATH: `${path.dirname(h.OPENCODE_BIN)}:${process.env.PATH}` };
  const server = await startServer(env);
  try {
    const time = async (query) => {
      const url = new URL(`/session/${id}/message`, server.url);
      url.searchParams.set('directory', oc.project);
      if (query) url.searchParams.set('limit', String(query));
      const ms = [];
      let bytes = 0,
        count = 0;
      for (let i = 0; i < 6; i++) {
        const t0 = performance.now();
        const body = await (await fetch(url, { headers: { authorization: server.auth } })).text();
        if (i > 0) ms.push(performance.now() - t0); // the first warms the server
        bytes = body.length;
        count = (JSON.parse(body) || []).length;
      }
      return { ms: median(ms), bytes, count };
    };
    return { whole: await time(0), tail: await time(20) };
  } finally {
    server.stop();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];

// `opencode <args>` under /usr/bin/time: wall seconds, user + sys CPU seconds (the process and
// what it waited for: the tools' commands, the same with and without the plugin), peak RSS.
function timedOpenCode(oc, argv, env = {}) {
  const out = path.join(oc.base, `time-${process.hrtime.bigint()}.txt`);
  return new Promise((resolve) => {
    const child = spawn(TIME, ['-f', '%e %U %S %M', '-o', out, h.OPENCODE_BIN, ...argv], {
      cwd: oc.project,
      env: { ...oc.env, PWD: oc.project, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const [wall, user, sys, kb] = fs.existsSync(out)
        ? fs.readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number)
        : [];
      resolve({ code, stdout, stderr, wall, cpu: user + sys, peakMiB: kb / 1024 });
    });
  });
}

// OpenCode ids: a prefix, 12 hex digits that ascend with time (or descend, for sessions), and
// 14 random characters.
const hexOf = (id) => parseInt(id.slice(4, 16), 16);
const makeId = (prefix, value, tail) =>
  `${prefix}_${value.toString(16).padStart(12, '0')}${tail.padEnd(14, '0').slice(0, 14)}`;

/**
 * An export of `seed` (one user message and its four model calls) grown to n messages: copies
 * of the turn before it, each with fresh ascending ids older than the seed's, times moved back.
 */
function longSession(seed, n, tag) {
  const turn = seed.messages;
  const copies = Math.max(1, Math.round(n / turn.length));
  const sessionID = makeId('ses', hexOf(seed.info.id), `bench${tag}`);
  let next = hexOf(turn[0].info.id) - (copies * turn.length * 40 + 40) * 0x1000 * 1000;
  // Message and part ids are unique per tag: `opencode import` skips records whose id it
  // already holds (another run's copy), which would leave the session without its history.
  const tail = `c${tag.replace(/[^A-Za-z0-9]/g, 'x')}`;
  const id = (prefix) => makeId(prefix, (next += 0x1000 * 1000), tail);
  const span = Math.max(1, turn[turn.length - 1].info.time.completed - turn[0].info.time.created) + 1000;
  const messages = [];
  for (let k = 0; k < copies; k++) {
    const shift = (copies - k) * span;
    const ids = new Map();
    for (const m of turn) ids.set(m.info.id, id('msg'));
    for (const m of turn) {
      const copy = JSON.parse(JSON.stringify(m), (key, value) => {
        if (typeof value === 'number' && /^(created|completed|start|end|updated)$/.test(key)) return value - shift;
        return value;
      });
      copy.info.id = ids.get(m.info.id);
      copy.info.sessionID = sessionID;
      if (copy.info.parentID) copy.info.parentID = ids.get(copy.info.parentID);
      for (const part of copy.parts) {
        part.id = id('prt');
        part.sessionID = sessionID;
        part.messageID = copy.info.id;
        if (part.callID) part.callID = `${part.callID}_${k}`;
      }
      messages.push(copy);
    }
  }
  return { info: { ...seed.info, id: sessionID, title: `bench ${n} ${tag}` }, messages };
}

async function importSession(oc, session) {
  const file = path.join(oc.base, `import-${session.info.id}.json`);
  fs.writeFileSync(file, JSON.stringify(session));
  const r = await h.runOpenCode(oc, ['import', file], { timeoutMs: 300000 });
  fs.rmSync(file, { force: true });
  if (r.code !== 0) throw new Error(`opencode import exited ${r.code}: ${r.stderr.slice(-500)}`);
  return session.info.id;
}

async function seedTurn(oc, model) {
  model.play({ script: SCRIPT });
  const r = await h.runOpenCode(oc, ['run', 'seed turn'], { timeoutMs: 300000 });
  if (r.code !== 0) throw new Error(`opencode (seed) exited ${r.code}: ${r.stderr.slice(-500)}`);
  const list = await h.runOpenCode(oc, ['session', 'list', '--format', 'json']);
  const id = JSON.parse(list.stdout)[0].id;
  const exported = await h.runOpenCode(oc, ['export', id]);
  return JSON.parse(exported.stdout.slice(exported.stdout.indexOf('{')));
}

async function main() {
  const missing = h.missingPrerequisite() || (!fs.existsSync(TIME) && `${TIME} is missing (apt-get install time)`);
  if (missing) {
    console.log(`overhead benchmark skipped: ${missing}`);
    return;
  }
  const started = Date.now();
  const { tarball } = h.packPackage();
  const receiver = await startReceiver();
  const model = await startModelServer({ script: SCRIPT });
  const timings = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'arize-bench-')), 'timings.jsonl');
  const homes = {
    without: h.makeOpenCodeHome({ route: 'none', modelURL: model.baseURL, receiverURL: receiver.url }),
    with: h.makeOpenCodeHome({
      route: 'plugin-file',
      tarball,
      modelURL: model.baseURL,
      receiverURL: receiver.url,
      env: { ARIZE_TRACING_BENCH_TIMINGS: timings, ...WITH_ENV },
    }),
  };
  const rows = [];
  try {
    const seeds = { without: await seedTurn(homes.without, model), with: await seedTurn(homes.with, model) };
    for (const n of SIZES) {
      const results = { without: [], with: [] };
      // A first pair at each size warms OpenCode's caches and the database for both homes; it
      // is not counted (its times are the size's first, not the steady state).
      for (let i = -1; i < RUNS; i++) {
        if (i === 0) fs.rmSync(timings, { force: true });
        for (const kind of i % 2 ? ['with', 'without'] : ['without', 'with']) {
          const oc = homes[kind];
          const session = longSession(seeds[kind], n, `${n}r${i}`);
          const id = await importSession(oc, session);
          model.play({ script: SCRIPT });
          const r = await timedOpenCode(oc, ['run', '--session', id, `overhead run ${n} ${i} ${kind}`]);
          if (r.code !== 0)
            throw new Error(`opencode (${kind}, ${n} messages) exited ${r.code}: ${r.stderr.slice(-500)}`);
          if (i >= 0) results[kind].push({ ...r, messages: session.messages.length, id });
        }
      }
      const lines = fs.existsSync(timings)
        ? fs
            .readFileSync(timings, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l))
        : [];
      // the plugin's lines (plugin/index.mjs, benchMeter): its jobs, then at dispose the exit wait
      const jobs = lines.flatMap((l) => l.jobs ?? []);
      const events = jobs.map((j) => j.ours + j.read),
        core = jobs.map((j) => j.core),
        dispose = lines.filter((l) => l.disposeMs !== undefined).map((l) => l.disposeMs),
        sweep = lines.filter((l) => l.disposeMs !== undefined).map((l) => l.sweepMs ?? 0);
      const read = await reads(homes.without, results.without[results.without.length - 1].id).catch((error) => ({
        error: String(error.message || error),
      }));
      const row = (kind) => ({
        cpu: median(results[kind].map((r) => r.cpu)),
        wall: median(results[kind].map((r) => r.wall)),
        rss: median(results[kind].map((r) => r.peakMiB)),
      });
      rows.push({
        n: results.with[0].messages,
        without: row('without'),
        with: row('with'),
        eventMedian: events.length ? median(events) : NaN,
        eventP99: events.length ? p99(events) : NaN,
        coreMedian: core.length ? median(core) : NaN,
        events: events.length,
        dispose: dispose.length ? median(dispose) : NaN,
        sweep: sweep.length ? median(sweep) : NaN,
        read,
      });
      if (RAW)
        for (const kind of ['without', 'with'])
          console.error(
            `  ${n} ${kind}: cpu ${results[kind].map((r) => r.cpu.toFixed(2)).join(' ')} | wall ${results[kind]
              .map((r) => r.wall.toFixed(2))
              .join(' ')} | rss ${results[kind].map((r) => r.peakMiB.toFixed(0)).join(' ')}`,
          );
      console.error(`  ${n} messages done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  } finally {
    for (const oc of Object.values(homes)) oc.remove();
    await model.close();
    await receiver.close();
  }
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(
    `OpenCode ${h.OPENCODE_VERSION} — the same 4-call tool turn on an imported session, median of ${RUNS} runs each, alternating`,
  );
  console.log(
    `(${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} at the end; ${((Date.now() - started) / 60000).toFixed(1)} min)`,
  );
  console.log(
    'messages |  CPU s without  with  ratio | wall s without  with  ratio | peak RSS MiB without  with  diff | plugin ms/event median  p99 (events), core median | plugin at exit, start-up sweep (medians)',
  );
  for (const r of rows) {
    console.log(
      `${String(r.n).padStart(8)} | ${f(r.without.cpu).padStart(14)} ${f(r.with.cpu).padStart(5)} ${f(r.with.cpu / r.without.cpu, 3).padStart(6)} |` +
        ` ${f(r.without.wall).padStart(14)} ${f(r.with.wall).padStart(5)} ${f(r.with.wall / r.without.wall, 3).padStart(6)} |` +
        ` ${f(r.without.rss, 0).padStart(20)} ${f(r.with.rss, 0).padStart(5)} ${f(r.with.rss - r.without.rss, 0).padStart(5)} |` +
        ` ${f(r.eventMedian, 1).padStart(22)} ${f(r.eventP99, 1).padStart(4)} (${r.events}), ${f(r.coreMedian, 1)} | exit wait ${f(r.dispose, 0)} ms, sweep ${f(r.sweep, 0)} ms`,
    );
  }
  console.log(
    "\nreads through OpenCode's server (`opencode serve`), median of 5: the whole session against its last 20 messages",
  );
  for (const r of rows)
    console.log(
      r.read.error
        ? `${String(r.n).padStart(8)} | ${r.read.error}`
        : `${String(r.n).padStart(8)} | whole ${f(r.read.whole.ms, 1)} ms, ${r.read.whole.count} messages, ${(r.read.whole.bytes / 1024).toFixed(0)} KiB | tail ${f(r.read.tail.ms, 1)} ms, ${r.read.tail.count} messages, ${(r.read.tail.bytes / 1024).toFixed(0)} KiB`,
    );
  const first = rows[0],
    last = rows[rows.length - 1];
  if (rows.length > 1)
    console.log(
      `plugin time per event at ${last.n} ÷ at ${first.n} messages: ${f(last.eventMedian / first.eventMedian, 2)} (median)`,
    );
  console.log(`spans received: ${receiver.spans().length}`);
}

if (require.main === module)
  main().catch((error) => {
    console.error(error.stack || String(error));
    process.exit(1);
  });
module.exports = { longSession, importSession, seedTurn, SCRIPT, reads };
