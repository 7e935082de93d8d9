'use strict';
// The cost of secret redaction in the core, detectors on against off in the same process:
//   - reconcile() of a closed turn whose one tool call printed a 50 MB output (secrets and all),
//     the payload given as JSON text (the core's own cost: parse, spans, scan, cut);
//   - an event at 2,000 messages as the plugin brings it (R2 of run.js: the session plus one new
//     call with two tools, 3 new spans).
// Each timed call runs with the detectors on and off in turn (the order alternating), so both
// see the same load; the ratio is the median of the per-pair ratios. A benchmark, not a test.
//   node test/bench/redact.js [--native file.node] [--runs 7] [--event-runs 41] [--mb 50]
// Node only: the core re-reads ARIZE_REDACT_SECRETS when the environment changes, which Bun
// does not pass on. --native of a core without redaction gives "before" (on and off alike).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { generator } = require('../redact/corpus.js');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const RUNS = Number(option('--runs', '7'));
const EVENT_RUNS = Number(option('--event-runs', '41'));
const MB = Number(option('--mb', '50'));
const native = option('--native', '');
if (native) process.env.ARIZE_TRACING_NATIVE = path.resolve(native);
else {
  const built = path.join(__dirname, '..', '..', 'build', 'Release', 'arize_tracing.node');
  if (fs.existsSync(built)) process.env.ARIZE_TRACING_NATIVE = built;
}
// set before the core loads, and only ever changed after: the core keeps the environment array
// it was given, which adding a variable would reallocate
process.env.ARIZE_REDACT_SECRETS = 'true';
process.env.HOME = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'oat-bench-redact-'));
const api = require('../../lib/index.js');
const { makeSession, payload, oneMore } = require('./session.js');

// Tool output as an agent meets it: source lines, log lines, an .env now and then.
function bigOutput(bytes) {
  const g = generator(3);
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const lines = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const line =
      i % 500 === 0
        ? `GITHUB_TOKEN=ghp_${g.chars(alnum, 36)}`
        : i % 3 === 0
          ? `  const value${i} = await client.request({ path: "/v1/items/${i}", retries: 3 }); // line ${i}`
          : `2026-12-05T10:00:${String(i % 60).padStart(2, '0')}Z INFO worker-${i % 7} processed batch ${i} in ${i % 97} ms`;
    lines.push(line);
    n += line.length + 1;
  }
  return lines.join('\n');
}

function turn(sid, output) {
  const u = `msg_${sid}u`,
    a = `msg_${sid}a`;
  return {
    type: 'close',
    sessionID: sid,
    messages: [
      {
        info: { id: u, sessionID: sid, role: 'user', time: { created: 1000 } },
        parts: [{ id: `prt_${sid}u`, sessionID: sid, messageID: u, type: 'text', text: 'print the log' }],
      },
      {
        info: {
          id: a,
          sessionID: sid,
          role: 'assistant',
          parentID: u,
          modelID: 'm',
          providerID: 'openai',
          time: { created: 1001, completed: 1005 },
          finish: 'stop',
          tokens: { input: 1, output: 1, reasoning: 0, cache: { read: 0, write: 0 } },
          cost: 0,
        },
        parts: [
          {
            id: `prt_${sid}t`,
            sessionID: sid,
            messageID: a,
            type: 'tool',
            callID: 'call_1',
            tool: 'bash',
            state: {
              status: 'completed',
              input: { command: 'cat app.log' },
              output,
              title: 'cat app.log',
              metadata: { exit: 0 },
              time: { start: 1002, end: 1004 },
            },
          },
        ],
      },
    ],
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function paired(label, make, runs) {
  const on = [],
    off = [],
    ratios = [];
  for (let r = 0; r < runs; r++) {
    const t = {};
    for (const mode of r % 2 ? ['off', 'on'] : ['on', 'off']) {
      process.env.ARIZE_REDACT_SECRETS = mode === 'off' ? 'false' : 'true';
      const json = make(`${label}${process.pid}r${r}${mode}`);
      api.status(); // the config is re-read here, not in the timed call
      const t0 = process.hrtime.bigint();
      const res = api.reconcile(json);
      t[mode] = Number(process.hrtime.bigint() - t0) / 1e6;
      if (!res.spans) throw new Error(`nothing new: ${JSON.stringify(res)}`);
    }
    (on.push(t.on), off.push(t.off), ratios.push(t.on / t.off));
  }
  process.env.ARIZE_REDACT_SECRETS = 'true';
  return { on: median(on), off: median(off), ratio: median(ratios) };
}

function timeBig() {
  const output = bigOutput(MB * 1024 * 1024);
  return paired('big', (sid) => JSON.stringify(turn(`ses_${sid}`, output)), RUNS);
}

function timeEvent(n) {
  const session = makeSession(n);
  api.reconcile(payload(session, 'reconcile'));
  let seed = 1000;
  return paired(
    'event',
    () => payload(session, 'reconcile', [...session.messages, oneMore(session, seed++)]),
    EVENT_RUNS,
  );
}

const big = timeBig();
const event = timeEvent(2000);
const fmt = (r) => ({ on: Number(r.on.toFixed(2)), off: Number(r.off.toFixed(2)), ratio: Number(r.ratio.toFixed(3)) });
console.log(
  JSON.stringify({
    native: process.env.ARIZE_TRACING_NATIVE || 'default',
    runs: RUNS,
    event_runs: EVENT_RUNS,
    [`reconcile_${MB}mb_tool_output_ms`]: fmt(big),
    event_at_2000_messages_ms: fmt(event),
  }),
);
api.shutdown(0);
