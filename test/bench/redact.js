'use strict';
// The cost of secret redaction in the core: reconcile() of a closed turn whose one tool call
// printed a 50 MB output (secrets and all), the payload given as JSON text (the core's own cost:
// parse, spans, scan, cut), median of fresh sessions; and the same at 2,000 messages (R2 of
// run.js: the session plus one new call, as an event brings it). A benchmark, not a test.
//   node test/bench/redact.js [--native file.node] [--runs 7] [--mb 50]
// Compare cores: run it once with --native of a build without redaction and once with one that
// has it (or ARIZE_REDACT_SECRETS=false for the same core with the detectors off).
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
const MB = Number(option('--mb', '50'));
const native = option('--native', '');
if (native) process.env.ARIZE_TRACING_NATIVE = path.resolve(native);
else {
  const built = path.join(__dirname, '..', '..', 'build', 'Release', 'arize_tracing.node');
  if (fs.existsSync(built)) process.env.ARIZE_TRACING_NATIVE = built;
}
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

function timeBig() {
  const output = bigOutput(MB * 1024 * 1024);
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    const sid = `ses_big${process.pid}r${r}`;
    const json = JSON.stringify(turn(sid, output));
    const t0 = process.hrtime.bigint();
    const res = api.reconcile(json);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (!res.spans) throw new Error(`no span: ${JSON.stringify(res)}`);
  }
  return median(times);
}

// At 2,000 messages: the whole session as JSON text (no watermark cut: the core reads it all)
// plus one new completed call with two tools, a different one each repetition (3 new spans).
function timeEvent(n) {
  const session = makeSession(n);
  api.reconcile(JSON.stringify(payload(session, 'reconcile')));
  const times = [];
  for (let r = 0; r <= RUNS * 3; r++) {
    const json = JSON.stringify(payload(session, 'reconcile', [...session.messages, oneMore(session, 1000 + r)]));
    const t0 = process.hrtime.bigint();
    const res = api.reconcile(json);
    if (r > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e6); // the first warms up
    if (res.spans < 1) throw new Error(`nothing new: ${JSON.stringify(res)}`);
  }
  return median(times);
}

const big = timeBig();
const event = timeEvent(2000);
console.log(
  JSON.stringify({
    native: process.env.ARIZE_TRACING_NATIVE || 'default',
    redact_secrets: process.env.ARIZE_REDACT_SECRETS ?? 'default',
    [`reconcile_${MB}mb_tool_output_ms`]: Number(big.toFixed(1)),
    reconcile_2000_messages_plus_one_call_ms: Number(event.toFixed(2)),
    runs: RUNS,
  }),
);
api.shutdown(0);
