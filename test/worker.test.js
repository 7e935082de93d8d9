'use strict';
// The addon in a process whose worker threads load it too (worker_threads): one tracer for
// the process (the spool and the state are per process), shared by every thread, each call
// serialised; a worker's end does not stop the exporter the other threads still use.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startReceiver } = require('./receiver.js');
const { tempHome, cleanEnv, run, readLog } = require('./helpers/run.js');

test('worker threads and the main thread reconcile at once: each span is delivered once', async () => {
  const receiver = await startReceiver();
  const home = tempHome();
  try {
    const workers = 3,
      sessions = 30,
      rounds = 3;
    const out = await run(
      'worker-scenario.js',
      { workers, sessions, rounds },
      cleanEnv({ HOME: home, PHOENIX_ENDPOINT: receiver.url }),
      { timeoutMs: 60000 },
    );
    const threads = [out.main, ...out.workers];
    for (const t of threads) {
      // its own sessions: 4 spans each the first round, nothing new after
      assert.deepEqual(t.own.slice(0, sessions), new Array(sessions).fill(4));
      assert.deepEqual(t.own.slice(sessions), new Array(sessions * (rounds - 1)).fill(0));
    }
    // the shared session's 4 spans went to exactly one of the threads, once
    const shared = threads.flatMap((t) => t.shared);
    assert.equal(
      shared.reduce((a, b) => a + b, 0),
      4,
    );
    assert.ok(
      shared.every((n) => n === 0 || n === 4),
      `shared: ${shared}`,
    );
    assert.deepEqual(out.exits, new Array(workers).fill(0)); // each worker ended, normally
    assert.equal(out.after, 4);
    const expected = ((workers + 1) * sessions + 1 + 1) * 4;
    assert.deepEqual(out.flush, { exported: expected, pending: 0, dropped: 0 });
    const spans = receiver.spans();
    assert.equal(spans.length, expected);
    assert.equal(new Set(spans.map((s) => s.spanId)).size, expected, 'no span twice');
    assert.doesNotMatch(readLog(home), /ERROR/);
  } finally {
    await receiver.close();
  }
});
