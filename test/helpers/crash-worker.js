'use strict';
// One life of a process in the kill -9 trials: reconciles the snapshot as it stands at this
// process's time (sessions 0 .. upto-1, each a distinct copy of a real capture; the ones an
// earlier life already traced come again, as OpenCode's storage gives them again), with short
// pauses, then idles until the test kills it. stdin: {"fixture": path, "upto": n}.
const fs = require('node:fs');
const path = require('node:path');
const { payload, variant } = require('./fixtures.js');

async function main() {
  const { fixture, upto } = JSON.parse(fs.readFileSync(0, 'utf8'));
  const api = require(path.join(__dirname, '..', '..', 'lib'));
  const base = payload(fixture);
  for (let i = 0; i < upto; i++) {
    api.reconcile(variant(base, i));
    if (i % 3 === 2) await new Promise((r) => setTimeout(r, Math.random() * 15));
  }
  process.stdout.write('{"reconciled":true}');
  await new Promise((r) => setTimeout(r, 60000));
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error));
  process.exit(1);
});
