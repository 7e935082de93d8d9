'use strict';
// api-scenario.js, watching the fast path: for each reconcile step it also reports whether the
// core chose what to keep (binding.select answered) and how many messages and child sessions
// were handed over, out of how many. stdin: {"steps": [{"payload": any} | {"flush": ms}]}
const fs = require('node:fs');
const path = require('node:path');

async function main() {
  const program = JSON.parse(fs.readFileSync(0, 'utf8'));
  const lib = path.join(__dirname, '..', '..', 'lib');
  const api = require(lib);
  const { binding } = require(path.join(lib, 'native.js'));
  let seen;
  const select = binding.select, reconcile = binding.reconcile;
  binding.select = (...args) => {
    const keep = select(...args);
    seen.selected = keep !== undefined;
    return keep;
  };
  binding.reconcile = (payload) => {
    if (payload !== null && typeof payload === 'object' && Array.isArray(payload.messages)) {
      seen.messages = payload.messages.length;
      seen.children = Array.isArray(payload.childSessions) ? payload.childSessions.length : 0;
    }
    return reconcile(payload);
  };
  const out = [];
  for (const step of program.steps) {
    if ('payload' in step) {
      seen = { selected: false };
      const result = api.reconcile(step.payload);
      out.push({ reconcile: result, fast: seen });
    } else if ('flush' in step) {
      out.push({ flush: await api.flush(step.flush) });
    }
  }
  process.stdout.write(JSON.stringify({ steps: out }));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
