'use strict';
// One benchmark measurement in this process (run.js spawns one per runtime and task: the
// native core reads its environment once per process). Prints one JSON object on stdout.
//   worker.js r1 <messages> <reps> [reused|fresh]   reconcile of a snapshot with nothing new
//                                                   vs JSON.stringify
//   worker.js r2 <messages> <reps> [reused|fresh]   reconcile of a snapshot with one new
//                                                   completed message
//   worker.js r3 <messages>          export of a whole session to the receiver at PHOENIX_ENDPOINT
//   worker.js r4 <messages> <times>  resident memory around <times> reconciles of one session
// Figures only: nothing here asserts a timing.
const path = require('node:path');
const { makeSession, payload, oneMore } = require('./session.js');

const api = require(path.join(__dirname, '..', '..', 'lib'));

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const gc = () => {
  if (typeof Bun !== 'undefined') Bun.gc(true);
  else if (global.gc) global.gc();
};
const rssMB = () => process.memoryUsage().rss / 1048576;

function time(fn) {
  const t0 = now();
  const out = fn();
  return [now() - t0, out];
}

// Everything in the snapshot is reconciled once (and exported) before measuring.
async function warm(p) {
  const first = api.reconcile(p);
  if (first.error) throw new Error(`warm-up rejected: ${first.error}`);
  await api.flush(120000);
  return first.spans;
}

// The snapshot each timed call gets. "fresh": its own freshly parsed copy, as the plugin gets
// one from OpenCode's SDK for every event (parsed after a full collection, so no call pays for
// the garbage of the one before); the parse leaves the CPU caches full of the snapshot.
// "reused": the same message objects every time, in a new payload object and array: what
// reconcile costs by itself.
function snapshotter(mode) {
  const parsed = new Map();
  return (text) => {
    if (mode === 'fresh') {
      gc();
      return JSON.parse(text);
    }
    if (!parsed.has(text)) parsed.set(text, JSON.parse(text));
    const p = parsed.get(text);
    return { ...p, messages: p.messages.slice() };
  };
}

// R1: the last turn is open (a "reconcile" after a completed message; every finished call is
// already out): reconcile finds nothing new. "closed": the same after session.idle, every
// turn out.
async function r1(n, reps, mode) {
  const snapshot = snapshotter(mode);
  const session = makeSession(n);
  const open = JSON.stringify(payload(session, 'reconcile')),
    closed = JSON.stringify(payload(session, 'close'));
  const warmSpans = await warm(JSON.parse(open));
  const stringify = [],
    reconcileOpen = [],
    reconcileClosed = [];
  let spans = 0;
  for (let i = 0; i < reps; i++) {
    let copy = snapshot(open);
    const [ts] = time(() => JSON.stringify(copy));
    copy = snapshot(open);
    const [tr, r] = time(() => api.reconcile(copy));
    (stringify.push(ts), reconcileOpen.push(tr), (spans += r.spans));
  }
  const closing = api.reconcile(JSON.parse(closed)); // emits the last Turn
  await api.flush(60000);
  for (let i = 0; i < reps; i++) {
    const copy = snapshot(closed);
    const [tr, r] = time(() => api.reconcile(copy));
    (reconcileClosed.push(tr), (spans += r.spans));
  }
  return {
    n,
    reps,
    mode,
    warmSpans,
    closeSpans: closing.spans,
    newSpansWhileMeasuring: spans,
    payloadBytes: open.length,
    stringifyMs: median(stringify),
    reconcileOpenMs: median(reconcileOpen),
    reconcileClosedMs: median(reconcileClosed),
  };
}

// R2: each repetition sends the snapshot plus one new completed model call (two tools) in the
// open last turn; a different call each time, so exactly one is new.
async function r2(n, reps, mode) {
  const session = makeSession(n);
  const warmSpans = await warm(JSON.parse(JSON.stringify(payload(session, 'reconcile'))));
  const base = mode === 'fresh' ? null : JSON.parse(JSON.stringify(payload(session, 'reconcile')));
  const times = [],
    spans = [];
  for (let i = 0; i < reps + 1; i++) {
    const extra = oneMore(session, 1000 + i);
    let copy;
    if (base) copy = { ...base, messages: [...base.messages, JSON.parse(JSON.stringify(extra))] };
    else copy = snapshotter('fresh')(JSON.stringify(payload(session, 'reconcile', [...session.messages, extra])));
    const [t, r] = time(() => api.reconcile(copy));
    if (i > 0) (times.push(t), spans.push(r.spans)); // the first one warms the code paths
    await api.flush(60000);
  }
  return { n, reps, mode, warmSpans, spansPerCall: median(spans), reconcileMs: median(times) };
}

// R3: one whole session, closed, reconciled and flushed; the receiver counts the bytes.
async function r3(n) {
  const session = makeSession(n, { seed: 3 });
  const p = payload(session, 'close');
  const t0 = now();
  const r = api.reconcile(p);
  const t1 = now();
  const flushed = await api.flush(300000);
  const t2 = now();
  const status = api.status();
  return {
    n,
    spans: r.spans,
    reconcileMs: t1 - t0,
    exportMs: t2 - t1,
    totalMs: t2 - t0,
    flushed,
    requests: status.counters.requests,
    failed: status.counters.failed_requests,
  };
}

// R4: resident memory before and after reconciling one session `times` times (the first
// emits everything, exported to the receiver; the rest find nothing new).
async function r4(n, times) {
  const session = makeSession(n, { seed: 4 });
  const p = payload(session, 'close');
  api.status(); // opens the core
  gc();
  const before = rssMB();
  const first = api.reconcile(p);
  await api.flush(300000);
  gc();
  const afterFirst = rssMB();
  for (let i = 1; i < times; i++) api.reconcile(p);
  await api.flush(60000);
  gc();
  const after = rssMB();
  return {
    n,
    times,
    spans: first.spans,
    beforeMB: before,
    afterFirstMB: afterFirst,
    afterMB: after,
    deltaMB: after - before,
    steadyDeltaMB: after - afterFirst,
  };
}

async function main() {
  const [task, a, b, mode = 'reused'] = process.argv.slice(2);
  const tasks = { r1, r2, r3, r4 };
  if (!tasks[task]) throw new Error(`unknown task ${task}`);
  const out = await tasks[task](Number(a), Number(b), mode);
  out.runtime = typeof Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.versions.node}`;
  process.stdout.write(JSON.stringify(out) + '\n');
  api.shutdown(2000);
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + '\n');
  process.exit(1);
});
