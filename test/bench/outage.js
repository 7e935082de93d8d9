'use strict';
// Issue 3's figure: a 200-turn session reconciled turn by turn while the backend is down for
// its first 20 seconds. Prints spans queued, received, duplicates and the time from recovery
// to the last span. Usage: node test/bench/outage.js [downSeconds=20] [turns=200]
const net = require('node:net');
const { startReceiver } = require('../receiver.js');
const { tempHome, cleanEnv } = require('../helpers/run.js');

const DOWN_S = Number(process.argv[2] || 20);
const TURNS = Number(process.argv[3] || 200);

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// One turn: a prompt, a model call with a bash tool, a final answer.
function turn(session, i, t0) {
  const u = `msg_u${i}`,
    a1 = `msg_a${i}x`,
    a2 = `msg_a${i}y`,
    t = t0 + i * 10000;
  const part = (m, extra) => ({
    id: `prt_${m}_${Object.keys(extra).length}`,
    sessionID: session,
    messageID: m,
    ...extra,
  });
  const tokens = { input: 100, output: 20, reasoning: 0, cache: { read: 0, write: 0 } };
  return [
    {
      info: { id: u, sessionID: session, role: 'user', time: { created: t } },
      parts: [part(u, { type: 'text', text: `prompt ${i}` })],
    },
    {
      info: {
        id: a1,
        sessionID: session,
        role: 'assistant',
        parentID: u,
        modelID: 'm',
        providerID: 'p',
        time: { created: t + 10, completed: t + 500 },
        tokens,
        cost: 0.001,
        finish: 'tool-calls',
      },
      parts: [
        part(a1, {
          type: 'tool',
          callID: `c${i}`,
          tool: 'bash',
          state: {
            status: 'completed',
            input: { command: `echo ${i}` },
            output: `${i}\n`,
            title: 'echo',
            time: { start: t + 100, end: t + 400 },
          },
        }),
      ],
    },
    {
      info: {
        id: a2,
        sessionID: session,
        role: 'assistant',
        parentID: u,
        modelID: 'm',
        providerID: 'p',
        time: { created: t + 600, completed: t + 900 },
        tokens,
        cost: 0.001,
        finish: 'stop',
      },
      parts: [part(a2, { type: 'text', text: `answer ${i}` })],
    },
  ];
}

async function main() {
  const port = await freePort();
  const home = tempHome();
  Object.assign(process.env, cleanEnv({ HOME: home, PHOENIX_ENDPOINT: `http://127.0.0.1:${port}` }));
  const api = require('../../lib');
  const session = 'ses_outage';
  const messages = [];
  const started = Date.now();
  let queued = 0;
  for (let i = 0; i < TURNS; i++) {
    messages.push(...turn(session, i, 1795480000000));
    queued += api.reconcile({ type: 'close', sessionID: session, messages }).spans;
  }
  console.log(`queued ${queued} spans for ${TURNS} turns in ${Date.now() - started} ms while the backend is down`);
  await new Promise((r) => setTimeout(r, Math.max(0, DOWN_S * 1000 - (Date.now() - started))));
  const receiver = await startReceiver({ port });
  const recovered = Date.now();
  console.log(`backend up after ${((recovered - started) / 1000).toFixed(1)} s`);
  const flushed = await api.flush(120000);
  const last = Math.max(...receiver.requests.map((r) => r.receivedAt));
  const ids = receiver.spans().map((s) => s.spanId);
  const status = api.status();
  console.log(
    JSON.stringify(
      {
        spans_queued: queued,
        spans_received: ids.length,
        distinct: new Set(ids).size,
        duplicates: ids.length - new Set(ids).size,
        flush: flushed,
        recovery_to_last_span_ms: last - recovered,
        retries: status.counters.retries,
        failed_requests: status.counters.failed_requests,
        requests_after_recovery: receiver.requests.length,
      },
      null,
      1,
    ),
  );
  api.shutdown();
  await receiver.close();
}

main();
