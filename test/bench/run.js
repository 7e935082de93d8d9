'use strict';
// `npm run bench`: the performance figures of issue 7, under Node and under Bun.
// Each measurement runs in a fresh process of the runtime (test/bench/worker.js) with its own
// HOME and a local OTLP receiver on 127.0.0.1; this process prints the medians as tables.
// A benchmark, not a test: it prints figures and ratios and asserts nothing about time.
//
//   node test/bench/run.js [--quick] [--runtime node|bun] [--sizes 10,100,1000,5000]
//                          [--only r1,r2,r3,r4] [--r3-messages 1000] [--disk] [--native file.node]
// R1 and R2 run with HOME on tmpfs (/dev/shm) where there is one, so the figures are the
// work reconcile does: a reconcile that queues spans also makes its spool file durable (two
// fsyncs), which costs what the disk costs whatever the session's size. --disk keeps HOME on
// disk; the R2 disk figures are printed as well.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { decodeExportRequest } = require('../receiver.js');
const { ROOT, tempHome, cleanEnv } = require('../helpers/run.js');

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const QUICK = flag('--quick');
const SIZES = option('--sizes', '10,100,1000,5000').split(',').map(Number);
const RUNTIMES = [
  { name: 'node', bin: process.execPath, args: ['--expose-gc'] },
  { name: 'bun', bin: path.join(ROOT, 'node_modules', '.bin', 'bun'), args: [] },
].filter((r) => option('--runtime', r.name) === r.name);
const R3_MESSAGES = Number(option('--r3-messages', '1000'));
const R4_MESSAGES = 5000,
  R4_TIMES = QUICK ? 20 : 100;
const ONLY = option('--only', 'r1,r2,r3,r4').split(',');

// Repetitions per median: R2's calls take about a millisecond, so they get many.
function reps(n, task = 'r1') {
  const full = task === 'r2' ? 41 : n <= 100 ? 31 : n <= 1000 ? 21 : 15;
  return QUICK ? Math.max(3, Math.ceil(full / 3)) : full;
}

// A minimal OTLP/HTTP sink: answers 200 at once and keeps the bodies, so its own speed does not
// limit the export figures; bodies are decoded (test/receiver.js) only after the run.
async function startSink() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({ body: Buffer.concat(chunks), gzip: /gzip/i.test(req.headers['content-encoding'] || '') });
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections?.();
      }),
  };
}

const NATIVE = option('--native', '') && path.resolve(option('--native', ''));
const TMPFS = !flag('--disk') && fs.existsSync('/dev/shm') ? '/dev/shm' : null;

async function measure(runtime, task, a, b, extraEnv = {}, { memoryHome = false, mode = 'reused' } = {}) {
  const sink = await startSink();
  const home = memoryHome && TMPFS ? fs.mkdtempSync(path.join(TMPFS, 'oat-bench-')) : tempHome();
  const env = cleanEnv({ HOME: home, PHOENIX_ENDPOINT: sink.url, ...extraEnv });
  if (NATIVE) env.ARIZE_TRACING_NATIVE = NATIVE;
  try {
    const out = await new Promise((resolve, reject) => {
      const child = spawn(
        runtime.bin,
        [...runtime.args, path.join(__dirname, 'worker.js'), task, String(a), String(b ?? ''), mode],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '',
        stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) return reject(new Error(`${runtime.name} ${task} ${a}: exit ${code}: ${stderr}`));
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop()));
        } catch (e) {
          reject(new Error(`no JSON: ${stdout} ${stderr}`));
        }
      });
    });
    out.wire = {
      requests: sink.requests.length,
      bytes: sink.requests.reduce((s, r) => s + r.body.length, 0),
      gzip: sink.requests.length > 0 && sink.requests.every((r) => r.gzip),
    };
    if (task === 'r3') {
      let spans = 0,
        raw = 0;
      for (const r of sink.requests) {
        const body = r.gzip ? zlib.gunzipSync(r.body) : r.body;
        raw += body.length;
        spans += decodeExportRequest(body).length;
      }
      Object.assign(out.wire, { spans, uncompressedBytes: raw });
    }
    return out;
  } finally {
    await sink.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const fmt = (x, d = 2) => (x == null || Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(d));
function table(header, rows) {
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

async function main() {
  const started = Date.now();
  const versions = {};
  const r12 = [],
    fresh = [],
    r2disk = [],
    r3 = [],
    r4 = [];
  for (const runtime of RUNTIMES) {
    for (const n of ONLY.includes('r1') || ONLY.includes('r2') ? SIZES : []) {
      const one = ONLY.includes('r1') ? await measure(runtime, 'r1', n, reps(n), {}, { memoryHome: true }) : {};
      const two = ONLY.includes('r2') ? await measure(runtime, 'r2', n, reps(n, 'r2'), {}, { memoryHome: true }) : {};
      const oneFresh = ONLY.includes('r1')
        ? await measure(runtime, 'r1', n, reps(n), {}, { memoryHome: true, mode: 'fresh' })
        : {};
      const twoFresh = ONLY.includes('r2')
        ? await measure(runtime, 'r2', n, reps(n, 'r2'), {}, { memoryHome: true, mode: 'fresh' })
        : {};
      fresh.push({ runtime: runtime.name, n, one: oneFresh, two: twoFresh });
      const disk =
        ONLY.includes('r2') && TMPFS && (n === 10 || n === SIZES[SIZES.length - 1])
          ? await measure(runtime, 'r2', n, reps(n, 'r2'))
          : undefined;
      if (disk) r2disk.push({ runtime: runtime.name, n, disk });
      versions[runtime.name] = one.runtime || two.runtime;
      r12.push({ runtime: runtime.name, n, one, two });
      process.stderr.write(`  ${runtime.name} ${n} messages: done\n`);
    }
    for (const compression of ONLY.includes('r3') ? ['gzip', 'none'] : []) {
      const out = await measure(runtime, 'r3', R3_MESSAGES, '', { OTEL_EXPORTER_OTLP_COMPRESSION: compression });
      r3.push({ runtime: runtime.name, compression, out });
    }
    if (ONLY.includes('r4'))
      r4.push({ runtime: runtime.name, out: await measure(runtime, 'r4', R4_MESSAGES, R4_TIMES) });
    process.stderr.write(`  ${runtime.name}: export and memory done\n`);
  }

  const base = (runtime) => r12.find((r) => r.runtime === runtime && r.n === 10);
  console.log(`\nR1: reconcile() of a snapshot with nothing new ÷ JSON.stringify of it (goal ≤ 0.05 at 1,000)`);
  console.log(`R2: reconcile() with one new completed message ÷ the same at 10 messages (goal ≤ 2 at 5,000)\n`);
  console.log(
    table(
      [
        'runtime',
        'msgs',
        'payload MB',
        'stringify ms',
        'nothing new ms',
        'R1',
        'after close ms',
        'R1 closed',
        '+1 message ms',
        'spans',
        'R2',
      ],
      r12.map(({ runtime, n, one, two }) => [
        runtime,
        n,
        fmt(one.payloadBytes / 1048576),
        fmt(one.stringifyMs, 3),
        fmt(one.reconcileOpenMs, 3),
        fmt(one.reconcileOpenMs / one.stringifyMs, 3),
        fmt(one.reconcileClosedMs, 3),
        fmt(one.reconcileClosedMs / one.stringifyMs, 3),
        fmt(two.reconcileMs, 3),
        two.spansPerCall,
        base(runtime) ? fmt(two.reconcileMs / base(runtime).two.reconcileMs) : '-',
      ]),
    ),
  );

  if (fresh.some((f) => f.one.n || f.two.n)) {
    const at10 = (runtime) => fresh.find((r) => r.runtime === runtime && r.n === 10);
    console.log(
      `\nThe same with a freshly parsed snapshot for every call (as the plugin gets one from the SDK;\n` +
        `the parse leaves the CPU caches full of the snapshot)\n`,
    );
    console.log(
      table(
        ['runtime', 'msgs', 'stringify ms', 'nothing new ms', 'R1', '+1 message ms', 'R2'],
        fresh.map(({ runtime, n, one, two }) => [
          runtime,
          n,
          fmt(one.stringifyMs, 3),
          fmt(one.reconcileOpenMs, 3),
          fmt(one.reconcileOpenMs / one.stringifyMs, 3),
          fmt(two.reconcileMs, 3),
          at10(runtime) ? fmt(two.reconcileMs / at10(runtime).two.reconcileMs) : '-',
        ]),
      ),
    );
  }

  if (r2disk.length) {
    const at10 = (runtime) => r2disk.find((r) => r.runtime === runtime && r.n === 10);
    console.log(`\nR2 with HOME on disk (the spool file of each reconcile is fsync'd)\n`);
    console.log(
      table(
        ['runtime', 'msgs', '+1 message ms', 'R2'],
        r2disk.map(({ runtime, n, disk }) => [
          runtime,
          n,
          fmt(disk.reconcileMs, 3),
          at10(runtime) ? fmt(disk.reconcileMs / at10(runtime).disk.reconcileMs) : '-',
        ]),
      ),
    );
  }

  console.log(
    `\nR3: export of a closed ${R3_MESSAGES}-message session (reconcile + flush) to a local receiver, batched\n`,
  );
  console.log(
    table(
      [
        'runtime',
        'compression',
        'spans',
        'requests',
        'export s',
        'spans/s',
        'bytes/span wire',
        'bytes/span protobuf',
        'wire gzip',
      ],
      r3.map(({ runtime, compression, out }) => [
        runtime,
        compression,
        out.wire.spans,
        out.wire.requests,
        fmt(out.totalMs / 1000),
        fmt(out.wire.spans / (out.totalMs / 1000), 0),
        fmt(out.wire.bytes / out.wire.spans, 0),
        fmt(out.wire.uncompressedBytes / out.wire.spans, 0),
        out.wire.gzip ? 'yes' : 'no',
      ]),
    ),
  );
  if (r3.some((r) => r.compression === 'none' && r.out.wire.gzip))
    console.log("  note: OTEL_EXPORTER_OTLP_COMPRESSION=none was not honoured (the body was still gzip'd)");

  console.log(
    `\nR4: resident memory around ${R4_TIMES} reconciles of a ${R4_MESSAGES}-message session (the first emits and exports everything)\n`,
  );
  console.log(
    table(
      [
        'runtime',
        'spans',
        'before MB',
        'after 1st MB',
        `after ${R4_TIMES} MB`,
        'Δ MB',
        `Δ over the last ${R4_TIMES - 1} MB`,
      ],
      r4.map(({ runtime, out }) => [
        runtime,
        out.spans,
        fmt(out.beforeMB, 1),
        fmt(out.afterFirstMB, 1),
        fmt(out.afterMB, 1),
        fmt(out.deltaMB, 1),
        fmt(out.steadyDeltaMB, 1),
      ]),
    ),
  );

  const cpu = (os.cpus()[0] || {}).model || 'unknown CPU';
  console.log(
    `\nmachine: ${cpu}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 1073741824)} GiB, ${os.type()} ${os.release()}`,
  );
  console.log(
    `runtimes: ${Object.values(versions).join(', ')}; ${QUICK ? 'quick run; ' : ''}medians; ` +
      `R1, R2: HOME on ${TMPFS ? `tmpfs (${TMPFS})` : 'disk'}; ${Math.round((Date.now() - started) / 1000)} s`,
  );
}

main().catch((error) => {
  console.error(error.stack || error);
  process.exit(1);
});
