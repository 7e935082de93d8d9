'use strict';
// The hand-off and the export, measured (a benchmark: it prints figures, asserts nothing).
//
//   node test/bench/durability.js [--runtime node|bun|both] [--only d1,d2] [--native file] [--calls N]
//
// D1: reconcile() latency, p50 and p99, for one new model call with four tools (5 spans) per
//     call, HOME on a real disk (the temp directory; the machine's /tmp is ext4 here), with the
//     spool's fsync on (the default) and off. The caller's thread only hands the spans over: the
//     writer thread makes them durable.
// D2: export throughput: a closed 1,000-message session (2,312 spans) reconciled, then flush()
//     to a local sink (gzip, and none): spans per second of the export alone (from the end of
//     reconcile to the end of flush) and of the whole; beside it, gzip alone (level 1, this
//     runtime's zlib) on the same request bytes, and the export's share of that ceiling. Also the
//     CPU the worker process spent during the export (every thread: the spool writer, the
//     exporter, the one preparing the next batch, gzip's second half) against gzip alone's CPU.
//     The sink is warmed with a few requests first: its cold start is not the exporter's time.
//
//   --native a.node,b.node   alternate two builds (e.g. main's core built into a temp dir, then
//                            this tree's), one process each, in every round
//   --rounds N               repeat N times (default 1); with N > 1 a table of medians follows,
//                            with the 1-min load (os.loadavg) beside each figure
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { cleanEnv } = require('../helpers/run.js');
const { makeSession, payload, oneMore } = require('./session.js');

const args = process.argv.slice(2);
const option = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function worker(task, calls) {
  const api = require(path.join(__dirname, '..', '..', 'lib'));
  if (task === 'd1') {
    const session = makeSession(10);
    const base = JSON.parse(JSON.stringify(payload(session, 'reconcile')));
    api.reconcile(base);
    await api.flush(30000);
    const times = [],
      spans = [];
    for (let i = 0; i < calls + 20; i++) {
      const extra = oneMore(session, 5000 + i, ['bash', 'read', 'grep', 'edit']);
      const copy = { ...base, messages: [...base.messages, extra] };
      const t0 = now();
      const r = api.reconcile(copy);
      const t = now() - t0;
      if (i >= 20) (times.push(t), spans.push(r.spans)); // the first ones warm the paths
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5)); // let the event loop breathe
    }
    const flushed = await api.flush(60000);
    // the same snapshot again and again: nothing new, nothing handed over (the machine's noise)
    const idle = [];
    const last = { ...base, messages: [...base.messages] };
    for (let i = 0; i < calls; i++) {
      const t0 = now();
      api.reconcile({ ...last, messages: [...last.messages] });
      idle.push(now() - t0);
    }
    return {
      p50: pct(times, 0.5),
      p99: pct(times, 0.99),
      max: Math.max(...times),
      spans: pct(spans, 0.5),
      calls,
      flushed,
      idleP50: pct(idle, 0.5),
      idleP99: pct(idle, 0.99),
    };
  }
  const session = makeSession(1000, { seed: 3 });
  const p = payload(session, 'close');
  const t0 = now();
  const r = api.reconcile(p);
  const t1 = now();
  const cpu0 = process.cpuUsage();
  const flushed = await api.flush(300000);
  const t2 = now();
  const cpu = process.cpuUsage(cpu0);
  return {
    spans: r.spans,
    reconcileMs: t1 - t0,
    exportMs: t2 - t1,
    exportCpuMs: (cpu.user + cpu.system) / 1000,
    totalMs: t2 - t0,
    flushed,
    requests: api.status().counters.requests,
  };
}

async function startSink() {
  const bodies = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      bodies.push({ body: Buffer.concat(chunks), gzip: /gzip/.test(req.headers['content-encoding'] || '') });
      res.writeHead(200, { 'content-length': '0' });
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  // warm: the sink's first large requests run its HTTP code cold (up to ~90 ms here), which is
  // the sink's time, not the exporter's; a real backend is warm
  for (let i = 0; i < 3; i++) await fetch(url, { method: 'POST', body: Buffer.alloc(4 << 20, 7) });
  bodies.length = 0;
  return {
    url,
    bodies,
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections?.();
      }),
  };
}

async function measure(runtime, task, env, native) {
  const sink = await startSink();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'oat-dbench-'));
  const e = cleanEnv({ HOME: home, PHOENIX_ENDPOINT: sink.url, ...env });
  if (native) e.ARIZE_TRACING_NATIVE = path.resolve(native);
  try {
    const out = await new Promise((resolve, reject) => {
      const child = spawn(
        runtime === 'bun' ? 'node_modules/.bin/bun' : process.execPath,
        [__filename, '--worker', task, String(option('--calls', '400'))],
        { env: e, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '',
        stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(stderr))));
    });
    out.bodies = sink.bodies;
    return out;
  } finally {
    await sink.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

async function main() {
  if (args[0] === '--worker') {
    process.stdout.write(JSON.stringify(await worker(args[1], Number(args[2]))));
    return;
  }
  const which = option('--runtime', 'both');
  const runtimes = which === 'both' ? ['node', 'bun'] : [which];
  const f = (x) => x.toFixed(2);
  const only = option('--only', 'd1,d2').split(',');
  const natives = option('--native') ? option('--native').split(',') : [undefined];
  const label = (native) => (natives.length > 1 ? `${path.basename(native)} ` : '');
  const rounds = Number(option('--rounds', '1'));
  const load = () => os.loadavg()[0];
  if (only.includes('d1')) console.log('D1: reconcile() of one new model call with 4 tools (5 spans), HOME on disk');
  for (const rt of only.includes('d1') ? runtimes : [])
    for (const fsync of ['true', 'false'])
      for (const native of natives) {
        const o = await measure(rt, 'd1', { ARIZE_SPOOL_FSYNC: fsync }, native);
        console.log(
          `  ${label(native)}${rt.padEnd(5)} fsync ${fsync.padEnd(5)}  p50 ${f(o.p50)} ms  p99 ${f(o.p99)} ms  max ${f(o.max)} ms  (${o.calls} calls, ${o.spans} spans each, flushed ${JSON.stringify(o.flushed)}); ` +
            `nothing new: p50 ${f(o.idleP50)} ms  p99 ${f(o.idleP99)} ms`,
        );
      }
  if (only.includes('d2')) console.log('D2: export of a closed 1,000-message session to a local sink');
  const d2 = [
    ['true', 'gzip'],
    ['false', 'gzip'],
    ['false', 'none'],
  ];
  const results = new Map(); // "native runtime fsync compression" -> [{ratio, ...}]
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1 && only.includes('d2')) console.log(` round ${round} of ${rounds}`);
    for (const rt of only.includes('d2') ? runtimes : [])
      for (const [fsync, compression] of d2)
        for (const native of natives) {
          const loadBefore = load();
          const o = await measure(
            rt,
            'd2',
            { ARIZE_SPOOL_FSYNC: fsync, OTEL_EXPORTER_OTLP_COMPRESSION: compression },
            native,
          );
          const raw = o.bodies.map((b) => (b.gzip ? zlib.gunzipSync(b.body) : b.body));
          const rawBytes = raw.reduce((n, b) => n + b.length, 0),
            wire = o.bodies.reduce((n, b) => n + b.body.length, 0);
          // gzip alone on the same request bytes, in this process (best of 3): the ceiling the
          // export is measured against
          const best = (fn) => Math.min(...[0, 1, 2].map(() => ((t) => (fn(), now() - t))(now())));
          const cpuOf = (fn) =>
            ((c) => (fn(), ((u) => (u.user + u.system) / 1000)(process.cpuUsage(c))))(process.cpuUsage());
          const gzipCpuMs = Math.min(
            ...[0, 1, 2].map(() => cpuOf(() => raw.forEach((b) => zlib.gzipSync(b, { level: 1 })))),
          );
          const gzipMs = best(() => raw.forEach((b) => zlib.gzipSync(b, { level: 1 })));
          const gzip6Ms = best(() => raw.forEach((b) => zlib.gzipSync(b, { level: 6 })));
          const level6 = raw.reduce((n, b) => n + zlib.gzipSync(b, { level: 6 }).length, 0);
          const exporting = o.spans / (o.exportMs / 1000),
            alone = o.spans / (gzipMs / 1000);
          const loadAvg = (loadBefore + load()) / 2;
          console.log(
            `  ${label(native)}${rt.padEnd(5)} fsync ${fsync.padEnd(5)} ${compression.padEnd(4)} ${o.spans} spans in ${o.requests} requests: reconcile ${f(o.reconcileMs)} ms, export ${f(o.exportMs)} ms ` +
              `→ ${Math.round(exporting)} spans/s exporting, ${Math.round(o.spans / (o.totalMs / 1000))} spans/s reconcile+export; ` +
              `${Math.round(rawBytes / o.spans)} bytes/span protobuf, ${Math.round(wire / o.spans)} on the wire; gzip of these bodies alone in this process: level 1 ${f(gzipMs)} ms ` +
              `(${Math.round(alone)} spans/s: export ÷ gzip alone ${f(exporting / alone)}), level 6 ${f(gzip6Ms)} ms (${Math.round(level6 / o.spans)} bytes/span); ` +
              `export CPU ${f(o.exportCpuMs)} ms, gzip alone's CPU ${f(gzipCpuMs)} ms (÷ ${f(o.exportCpuMs / gzipCpuMs)}); load ${loadAvg.toFixed(1)}`,
          );
          const key = `${label(native)}${rt} fsync ${fsync} ${compression}`;
          if (!results.has(key)) results.set(key, []);
          results.get(key).push({
            ratio: exporting / alone,
            exporting,
            alone,
            cpu: o.exportCpuMs / gzipCpuMs,
            load: loadAvg,
          });
        }
  }
  if (rounds > 1 && results.size) {
    const median = (xs) => pct(xs, 0.5);
    console.log(
      `D2 medians over ${rounds} rounds (export ÷ gzip alone, wall; export CPU ÷ gzip alone's CPU; 1-min load)`,
    );
    for (const [key, rs] of results)
      console.log(
        `  ${key.padEnd(40)} export ${Math.round(median(rs.map((r) => r.exporting)))} spans/s, gzip alone ${Math.round(median(rs.map((r) => r.alone)))} spans/s: ` +
          `export ÷ gzip alone ${f(median(rs.map((r) => r.ratio)))} (${rs.map((r) => f(r.ratio)).join(' ')}); CPU ${f(median(rs.map((r) => r.cpu)))}; ` +
          `load ${median(rs.map((r) => r.load)).toFixed(1)} (${rs.map((r) => r.load.toFixed(1)).join(' ')})`,
      );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
