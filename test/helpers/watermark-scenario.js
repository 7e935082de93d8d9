'use strict';
// api-scenario.js, watching the one crossing: for each reconcile step it also reports how many
// messages and child sessions of the payload crossed into the core (lib/ cuts a whole snapshot
// at the core's watermark before it writes it as JSON text).
// stdin: {"steps": [{"payload": any} | {"flush": ms}]}
const fs = require('node:fs');
const path = require('node:path');

async function main() {
  const program = JSON.parse(fs.readFileSync(0, 'utf8'));
  const lib = path.join(__dirname, '..', '..', 'lib');
  const api = require(lib);
  const { binding } = require(path.join(lib, 'native.js'));
  let seen;
  const reconcile = binding.reconcile;
  binding.reconcile = (...args) => {
    seen.crossings++;
    seen.text = typeof args[0] === 'string';
    try {
      const payload = JSON.parse(args[0]);
      seen.messages = payload.messages.length;
      seen.children = Array.isArray(payload.childSessions) ? payload.childSessions.length : 0;
    } catch (error) {
      // not a payload this helper can count
    }
    return reconcile(...args);
  };
  const out = [];
  for (const step of program.steps) {
    if ('payload' in step) {
      seen = { crossings: 0 };
      const result = api.reconcile(step.payload);
      out.push({ reconcile: result, crossed: seen });
    } else if ('flush' in step) {
      out.push({ flush: await api.flush(step.flush) });
    }
  }
  process.stdout.write(JSON.stringify({ steps: out }));
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error));
  process.exit(1);
});
