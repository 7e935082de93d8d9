'use strict';
// The addon loaded by the main thread and by worker threads of one process at once
// (worker_threads): every thread reconciles its own sessions and one session they share,
// concurrently; a worker then ends while the main thread goes on. Prints JSON on stdout.
// stdin: {"workers": n, "sessions": per thread, "rounds": times each thread repeats its work}
const fs = require('node:fs');
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { payload, variant } = require('./fixtures.js');

const FIXTURE = 'one-bash-call/snap-3-session.idle.json';
const api = require(path.join(__dirname, '..', '..', 'lib'));

// One thread's work: its own sessions (variants first .. first + count - 1) and the shared
// one (the fixture itself) after each of them, rounds times; returns the spans each reconcile gave, in order.
function work(first, count, rounds) {
  const own = [],
    shared = [];
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < count; i++) {
      own.push(api.reconcile(variant(payload(FIXTURE, 'close'), first + i)).spans);
      shared.push(api.reconcile(payload(FIXTURE, 'close')).spans);
    }
  }
  return { own, shared, counters: api.status().counters };
}

if (!isMainThread) {
  parentPort.once('message', () => {
    parentPort.postMessage(work(workerData.first, workerData.count, workerData.rounds));
  });
} else {
  (async () => {
    const { workers: n, sessions, rounds } = JSON.parse(fs.readFileSync(0, 'utf8'));
    const workers = [],
      exited = [];
    for (let w = 0; w < n; w++) {
      const worker = new Worker(__filename, { workerData: { first: (w + 1) * 1000, count: sessions, rounds } });
      workers.push(worker);
      // a worker ends by itself once it has answered (nothing keeps its loop alive)
      exited.push(new Promise((resolve) => worker.once('exit', resolve)));
    }
    // every worker has loaded the addon (its first reconcile is the first thing it does once
    // told to start): start them together, then work here at the same time
    const results = workers.map(
      (worker) =>
        new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    for (const worker of workers) worker.postMessage('go');
    const main = work(0, sessions, rounds);
    const fromWorkers = await Promise.all(results);
    const exits = await Promise.all(exited);
    // the workers are gone; the tracer they shared with this thread still works
    const after = api.reconcile(variant(payload(FIXTURE, 'close'), 999)).spans;
    const flush = await api.flush(20000);
    process.stdout.write(JSON.stringify({ main, workers: fromWorkers, exits, after, flush }));
  })().catch((error) => {
    process.stderr.write(String((error && error.stack) || error));
    process.exit(1);
  });
}
