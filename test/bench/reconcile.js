'use strict';
// The core's reconcile() of a closed 2,000-message session (as backfill hands it over, the
// payload as JSON text), secret redaction on and off, one or more cores side by side:
//   node test/bench/reconcile.js [--native a.node,b.node] [--rounds 5] [--calls 3] [--messages 2000]
//     [--dump dir]  (the spans each core and mode sent, decoded, as dir/<core>-<redact>.json, so
//                    two cores' spans can be compared: the same ids in every process)
//     [--secrets]   (one word in about every 40 of the session's text becomes a token of one of
//                    the detectors' kinds, in turn: the redaction path compared, not only timed)
// Each round spawns one process per core and mode (the order alternating between rounds), each
// reconciling the same session `calls` times under fresh ids (every span new each time); the
// figure is the median of the per-call times over all rounds, ms per call and µs per span, with
// the load average beside it. A benchmark, not a test: it asserts nothing about time.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function worker() {
  const { makeSession, payload } = require('./session.js');
  const api = require(path.join(__dirname, '..', '..', 'lib'));
  const session = makeSession(Number(option('--messages', '2000')));
  let text = JSON.stringify(payload(session, 'close'));
  if (args.includes('--secrets')) {
    const tokens = secretTokens();
    let k = 0;
    text = text.replace(/ (configuration|function|memory) /g, () => ` ${tokens[k++ % tokens.length]} `);
  }
  const out = [];
  for (let k = 0; k < Number(option('--calls', '3')); k++) {
    const fresh = text.replace(/"(ses|msg|prt)_/g, `"$1_${option('--tag', process.pid)}r${k}`);
    const t0 = process.hrtime.bigint();
    const res = api.reconcile(fresh);
    out.push({ ms: Number(process.hrtime.bigint() - t0) / 1e6, spans: res.spans });
    await api.flush(60000);
  }
  process.stdout.write(JSON.stringify(out));
  api.shutdown(0);
}

/** One token of each kind the built-in detectors know by their prefix and shape (fake values). */
function secretTokens() {
  const run = (set, n, seed) => Array.from({ length: n }, (_, i) => set[(i * 7 + seed) % set.length]).join('');
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const hex = '0123456789abcdef';
  const b32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return [
    `ghp_${run(alnum, 36, 1)}`,
    `github_pat_${run(alnum, 22, 2)}_${run(alnum, 59, 3)}`,
    `glpat-${run(alnum, 20, 4)}`,
    `xoxb-${run(hex, 12, 5)}-${run(hex, 12, 6)}-${run(alnum, 24, 7)}`,
    `sk_live_${run(alnum, 24, 8)}`,
    `whsec_${run(alnum, 32, 9)}`,
    `AIza${run(alnum, 35, 10)}`,
    `gsk_${run(alnum, 52, 11)}`,
    `hf_${run(alnum, 34, 12)}`,
    `npm_${run(alnum, 36, 13)}`,
    `dop_v1_${run(hex, 64, 14)}`,
    `AKIA${run(b32, 16, 15)}`,
    `sk-ant-api03-${run(alnum, 93, 16)}AA`,
    `https://admin:${run(alnum, 16, 17)}@db.example.com/x`,
    `password=${run(alnum, 14, 18)}`,
  ];
}

async function main() {
  const { startReceiver } = require('../receiver.js');
  const { cleanEnv } = require('../helpers/run.js');
  const natives = option('--native', path.join(__dirname, '..', '..', 'build', 'Release', 'arize_tracing.node'))
    .split(',')
    .map((f) => path.resolve(f));
  const runs = [];
  for (const native of natives) for (const redact of ['true', 'false']) runs.push({ native, redact, ms: [], spans: 0 });
  const loads = [];
  const receiver = await startReceiver();
  for (let r = 0; r < Number(option('--rounds', '5')); r++) {
    const order = r % 2 ? [...runs].reverse() : runs;
    for (const run of order) {
      const home = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'oat-bench-rec-'));
      const env = cleanEnv({
        HOME: home,
        PHOENIX_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
        ARIZE_TRACING_NATIVE: run.native,
        ARIZE_REDACT_SECRETS: run.redact,
      });
      const out = await new Promise((resolve, reject) => {
        const tag = option('--dump', '') ? ['--tag', 'dump'] : [];
        const child = spawn(process.execPath, [__filename, '--worker', ...args, ...tag], {
          env,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.on('close', (code) =>
          code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`worker exited ${code}`)),
        );
      });
      for (const c of out) (run.ms.push(c.ms), (run.spans = c.spans));
      loads.push(os.loadavg()[0]);
      fs.rmSync(home, { recursive: true, force: true });
      if (option('--dump', '') && r === 0) {
        const spans = receiver.spans().map((x) => JSON.stringify(x, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
        const name = `${path.basename(run.native, '.node')}-${run.redact}.json`;
        fs.writeFileSync(path.join(option('--dump', ''), name), spans.sort().join('\n'));
      }
      receiver.requests.length = 0;
    }
  }
  await receiver.close();
  console.table(
    runs.map((r) => ({
      core: path.relative(process.cwd(), r.native),
      redact: r.redact,
      spans: r.spans,
      msPerCall: Number(median(r.ms).toFixed(1)),
      usPerSpan: Number(((median(r.ms) * 1000) / r.spans).toFixed(1)),
      min: Number(Math.min(...r.ms).toFixed(1)),
    })),
  );
  console.log(
    `load average (1 min) during the runs: ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`,
  );
}

if (args[0] === '--worker') worker();
else main().catch((e) => (console.error(e), process.exit(1)));
