'use strict';
// What a model call's input messages cost (issue 23): one long turn (N model calls, 1 or 2
// tools of 0.5 to 8 KB each, as test/bench/session.js makes them) reconciled the way the
// plugin does, one event per completed call, each payload the open turn so far; and the same
// turn closed in one payload (as backfill reads it). Printed per N: the core's time for the
// last event and for all of them, bytes per LLM span (protobuf, uncompressed) and of the whole
// turn on the wire. Each figure in a fresh process of its own (the core reads its environment
// once), HOME on tmpfs where there is one.
// A benchmark: it asserts nothing.
//   node test/bench/history.js [--calls 10,50,200] [--native a.node,b.node] [--budget 65536]
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};

if (args[0] === '--worker') return worker(Number(args[1]));

const CALLS = option('--calls', '10,50,200').split(',').map(Number);
const NATIVES = option('--native', '')
  .split(',')
  .filter(Boolean)
  .map((f) => path.resolve(f));
const BUDGET = option('--budget', '');

async function main() {
  const { startReceiver } = require('../receiver.js');
  const { tempHome, cleanEnv } = require('../helpers/run.js');
  const rows = [];
  for (const calls of CALLS)
    for (const native of NATIVES.length ? NATIVES : [undefined]) {
      const receiver = await startReceiver();
      const home = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/oat-bench-') : tempHome();
      const env = cleanEnv({
        HOME: home,
        PHOENIX_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
        ...(native ? { ARIZE_TRACING_NATIVE: native } : {}),
        ...(BUDGET ? { ARIZE_MAX_INPUT_MESSAGES_BYTES: BUDGET } : {}),
      });
      const out = await new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [__filename, '--worker', String(calls)], {
          env,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let text = '';
        child.stdout.on('data', (d) => (text += d));
        child.on('close', (code) =>
          code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`worker exited ${code}`)),
        );
      });
      const spans = receiver.spans();
      const llms = spans.filter((s) => s.attributes['openinference.span.kind'] === 'LLM');
      const bytes = receiver.requests.reduce((n, r) => n + r.bytes, 0);
      const inputBytes = llms.map((s) =>
        Object.entries(s.attributes)
          .filter(([k]) => k.startsWith('llm.input_messages.'))
          .reduce((n, [, v]) => n + String(v).length, 0),
      );
      rows.push({
        calls,
        core: native ? path.basename(native) : 'build',
        lastEventMs: out.lastEventMs.toFixed(2),
        allEventsMs: out.allEventsMs.toFixed(1),
        closedMs: out.closedMs.toFixed(1),
        spans: spans.length / 2,
        kbPerTurn: (bytes / 2 / 1024).toFixed(0), // two runs of the turn reached the receiver
        bytesPerSpan: Math.round(bytes / spans.length),
        inputKbMax: (Math.max(0, ...inputBytes) / 1024).toFixed(1),
      });
      await receiver.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  console.log(
    `One turn of N model calls: the core's time per event (the last, and all N together), the\n` +
      `same turn closed in one payload (as backfill reads it), what one turn sends (protobuf,\n` +
      `uncompressed), and the largest input messages of one LLM span.\n`,
  );
  console.table(rows);
  console.log(`machine: ${os.cpus()[0].model}, ${os.cpus().length} CPUs; node ${process.versions.node}`);
}

// One measurement: the turn event by event, then (in a fresh HOME's state: another session id)
// the same turn closed at once.
async function worker(calls) {
  const { makeSession } = require('./session.js');
  const api = require(path.join(__dirname, '..', '..', 'lib'));
  const s = makeSession(calls + 1, { seed: 5, childEvery: 0, longTurn: { turn: 0, size: calls + 1 } });
  const messages = s.messages.slice(0, calls + 1);
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  let all = 0,
    last = 0;
  for (let k = 2; k <= messages.length; k++) {
    const p = {
      type: k === messages.length ? 'close' : 'reconcile',
      sessionID: s.sessionID,
      messages: messages.slice(0, k),
    };
    const text = JSON.stringify(p);
    const t0 = now();
    api.reconcile(text);
    last = now() - t0;
    all += last;
  }
  await api.flush(60000);
  const other = JSON.parse(
    JSON.stringify({ type: 'close', sessionID: s.sessionID, messages }).replace(/"(ses|msg|prt)_/g, '"$1_x'),
  );
  const text = JSON.stringify(other);
  const t0 = now();
  api.reconcile(text);
  const closedMs = now() - t0;
  await api.flush(60000);
  process.stdout.write(JSON.stringify({ lastEventMs: last, allEventsMs: all, closedMs }));
}

if (require.main === module && args[0] !== '--worker') main().catch((e) => (console.error(e), process.exit(1)));
