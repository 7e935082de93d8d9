'use strict';
// Issue 27's figure: a healthy destination's delivery latency with and without a silent
// neighbour (a destination that accepts the TCP connection and never answers), measured side
// by side in one run: rounds alternate between the two configurations, each a fresh process
// reconciling SESSIONS sessions (one every INTERVAL ms) and the latency of each session being the
// time from its reconcile to its first span's arrival at the healthy receiver. Also prints the
// spans each destination received and the duplicates. A benchmark: it asserts nothing.
// Usage: node test/bench/destinations.js [--sessions 20] [--interval 100] [--rounds 3]
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { startReceiver } = require('../receiver.js');
const { tempHome, cleanEnv } = require('../helpers/run.js');

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SESSIONS = arg('sessions', 20);
const INTERVAL = arg('interval', 100);
const ROUNDS = arg('rounds', 3);
const MAIN = 'main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json';

// The traced process: SESSIONS distinct sessions, one every INTERVAL ms, each reconcile's wall
// clock printed; then a bounded flush (the silent neighbour never answers) and exit.
const CHILD = `
const { payload, variant } = require(${JSON.stringify(path.join(__dirname, '..', 'helpers', 'fixtures.js'))});
const api = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib'))});
const base = payload(${JSON.stringify(MAIN)});
const n = Number(process.argv[1]), interval = Number(process.argv[2]);
(async () => {
  const sent = [];
  for (let i = 0; i < n; i++) {
    const p = variant(base, i);
    const at = Date.now();
    api.reconcile(p);
    sent.push({ session: p.sessionID, at });
    await new Promise((r) => setTimeout(r, interval));
  }
  await api.flush(3000);
  const s = api.status();
  api.shutdown(0);
  process.stdout.write(JSON.stringify({ sent, destinations: s.destinations }));
})();
`;

function runChild(home) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, String(SESSIONS), String(INTERVAL)], {
      env: cleanEnv({ HOME: home, ARIZE_RETRY_INITIAL_MS: '50', ARIZE_RETRY_MAX_MS: '300' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`child exited ${code}: ${err}`));
      }
    });
  });
}

function config(home, healthy, silent) {
  const dir = path.join(home, '.arize', 'harness');
  fs.mkdirSync(dir, { recursive: true });
  let text = `harnesses:\n  opencode:\n    target: phoenix\n    endpoint: ${healthy}\n`;
  if (silent) text += `    destinations:\n      - {name: silent, target: phoenix, endpoint: '${silent}'}\n`;
  fs.writeFileSync(path.join(dir, 'config.yaml'), text, { mode: 0o600 });
}

// A destination that takes the connection and never answers.
async function silentServer() {
  const sockets = new Set();
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    connections: () => connections,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  };
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};

// Latency of each session at receiver r (first span arrival minus its reconcile), spans, duplicates.
function measure(r, sent) {
  const first = new Map();
  const count = new Map();
  for (const req of r.requests) {
    if (!(req.status >= 200 && req.status < 300)) continue;
    for (const s of req.spans) {
      const session = s.attributes['session.id'];
      if (!first.has(session)) first.set(session, req.receivedAt);
      count.set(s.spanId, (count.get(s.spanId) || 0) + 1);
    }
  }
  const lat = sent.filter((x) => first.has(x.session)).map((x) => first.get(x.session) - x.at);
  let dup = 0;
  for (const n of count.values()) dup += n - 1;
  return { latencies: lat, spans: count.size, duplicates: dup, missing: sent.length - lat.length };
}

async function main() {
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const results = { alone: [], beside: [] };
  let silentSpans = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of round % 2 ? ['beside', 'alone'] : ['alone', 'beside']) {
      const healthy = await startReceiver();
      const silent = kind === 'beside' ? await silentServer() : null;
      const home = tempHome();
      config(home, healthy.url, silent && silent.url);
      const out = await runChild(home);
      const m = measure(healthy, out.sent);
      const s = (out.destinations || []).find((d) => d.name === 'silent');
      if (s) silentSpans += s.exported;
      results[kind].push({
        ...m,
        silentPending: s ? s.pending : null,
        silentConnections: silent && silent.connections(),
      });
      await healthy.close();
      if (silent) await silent.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  }
  const row = (kind) => {
    const all = results[kind].flatMap((r) => r.latencies);
    const spans = results[kind].map((r) => r.spans);
    const dups = results[kind].reduce((n, r) => n + r.duplicates, 0);
    const missing = results[kind].reduce((n, r) => n + r.missing, 0);
    return {
      kind,
      sessions: all.length,
      p50: quantile(all, 0.5),
      p95: quantile(all, 0.95),
      max: Math.max(...all),
      spans,
      dups,
      missing,
    };
  };
  console.log(
    `destinations bench: ${SESSIONS} sessions (15 spans each) every ${INTERVAL} ms, ${ROUNDS} rounds of each, alternating; load average before: ${load}`,
  );
  console.log('healthy destination      sessions  p50 ms  p95 ms  max ms  spans per round        duplicates  missing');
  for (const kind of ['alone', 'beside']) {
    const r = row(kind);
    console.log(
      `${kind === 'alone' ? 'alone                ' : 'beside a silent one  '}    ${String(r.sessions).padStart(5)}  ${String(r.p50).padStart(6)}  ${String(r.p95).padStart(6)}  ${String(r.max).padStart(6)}  ${r.spans.join(', ').padEnd(21)}  ${String(r.dups).padStart(10)}  ${String(r.missing).padStart(7)}`,
    );
  }
  const beside = results.beside;
  console.log(
    `silent destination: exported ${silentSpans}, pending at exit per round ${beside.map((r) => r.silentPending).join(', ')} (kept in the spool), connections taken ${beside.map((r) => r.silentConnections).join(', ')}`,
  );
  console.log(
    `load average after: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
