'use strict';
// Runs hostile payloads through the public API in a fresh process and prints what happened
// as JSON. The payloads are built here, in the process under test, so a 100 MB string never
// crosses a pipe.
// stdin: {"steps": [step, ...], "umask"?: number} where a step is one of
//   {"bash": {output?, command?}, "type"?, "nextTurn"?}  the one-bash-call capture with its
//                         bash call changed (and one more turn after it)
//   {"deepString": n}     "[[[...]]]" n levels, passed as JSON text
//   {"deepObject": n}     the capture with a tool input nested n levels, passed as an object
//   {"text": "..."}       JSON text as given (may hold lone surrogates as raw code units)
//   {"value": kind}       a value JSON.stringify cannot make: "bigint" | "circular"
//   {"payload": any}      any payload, as an object
//   {"flush": ms} | {"status": true} | {"memory": true}
// Every `output` and `command` string may use "{100MB}"-style placeholders: "{N MB of x}".
const fs = require('node:fs');
const path = require('node:path');
const { payload } = require('./fixtures.js');

const ONE_BASH = 'one-bash-call/snap-3-session.idle.json';

function expand(s) {
  if (typeof s !== 'string') return s;
  return s.replace(/\{(\d+)MB\}/g, (_, mb) => 'x'.repeat(Number(mb) * 1024 * 1024));
}

// The capture's turn, then (nextTurn) one more turn: a user message and a finished answer.
function withNextTurn(p) {
  const [user, , last] = p.messages;
  const t = last.info.time.completed + 1000;
  const u = JSON.parse(JSON.stringify(user)),
    a = JSON.parse(JSON.stringify(last));
  u.info.id = 'msg_next_user';
  u.info.time = { created: t };
  for (const part of u.parts) {
    part.messageID = u.info.id;
    part.id = `${part.id}_next`;
  }
  a.info.id = 'msg_next_answer';
  a.info.parentID = u.info.id;
  a.info.time = { created: t + 10, completed: t + 20 };
  for (const part of a.parts) {
    part.messageID = a.info.id;
    part.id = `${part.id}_next`;
  }
  p.messages.push(u, a);
  return p;
}

function bashPayload(change, type, nextTurn) {
  const p = payload(ONE_BASH, type || 'close');
  if (nextTurn) withNextTurn(p);
  for (const m of p.messages)
    for (const part of m.parts)
      if (part.type === 'tool' && part.tool === 'bash') {
        if ('output' in change) part.state.output = expand(change.output);
        if ('command' in change) part.state.input.command = expand(change.command);
      }
  return p;
}

function memory() {
  const m = process.memoryUsage();
  const usage = process.resourceUsage ? process.resourceUsage() : {};
  return { rss: m.rss, heapUsed: m.heapUsed, maxRSSKiB: usage.maxRSS };
}

async function main() {
  const program = JSON.parse(fs.readFileSync(0, 'utf8'));
  if (typeof program.umask === 'number') process.umask(program.umask);
  const api = require(path.join(__dirname, '..', '..', 'lib'));
  const out = [];
  for (const step of program.steps) {
    if ('bash' in step) {
      let p = bashPayload(step.bash, step.type, step.nextTurn);
      const result = api.reconcile(p);
      p = null; // let the big strings go before measuring
      if (global.gc) global.gc();
      else if (typeof Bun !== 'undefined') Bun.gc(true);
      out.push({ reconcile: result, memory: memory() });
    } else if ('deepString' in step) {
      out.push({ reconcile: api.reconcile('['.repeat(step.deepString) + ']'.repeat(step.deepString)) });
    } else if ('deepObject' in step) {
      const p = payload(ONE_BASH, 'close');
      let v = {};
      for (let i = 0; i < step.deepObject; i++) v = { v };
      for (const m of p.messages) for (const part of m.parts) if (part.tool === 'bash') part.state.input = v;
      out.push({ reconcile: api.reconcile(p) });
    } else if ('text' in step) {
      out.push({ reconcile: api.reconcile(step.text) });
    } else if ('value' in step) {
      const p = payload(ONE_BASH, 'close');
      if (step.value === 'bigint') p.messages[1].info.cost = 10n;
      if (step.value === 'circular') p.messages[1].info.self = p;
      out.push({ reconcile: api.reconcile(p) });
    } else if ('payload' in step) {
      out.push({ reconcile: api.reconcile(step.payload) });
    } else if ('flush' in step) {
      out.push({ flush: await api.flush(step.flush) });
    } else if ('status' in step) {
      out.push({ status: api.status() });
    } else if ('memory' in step) {
      out.push({ memory: memory() });
    }
  }
  // each step's watermark beside its reconcile result: the tests compare spans and errors
  for (const step of out)
    if (step.reconcile && step.reconcile.watermark) {
      step.watermark = step.reconcile.watermark;
      delete step.reconcile.watermark;
    }
  process.stdout.write(JSON.stringify({ steps: out, runtime: process.versions.bun ? 'bun' : 'node' }));
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error));
  process.exit(1);
});
