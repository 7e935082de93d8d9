'use strict';
// Plants symbolic links and FIFOs where the core keeps its files, from inside the process under
// test (some names hold its pid or its spool directory), between calls of the public API, and
// prints what happened as JSON on stdout.
// stdin: {"steps": [step, ...]} where a step is one of
//   {"link": [at, target]}  a symbolic link at `at` naming `target` (parents created)
//   {"fifo": at}            a FIFO at `at` (mkfifo; parents created)
//   {"session": n}          reconcile session n (a distinct copy of the one-bash-call capture)
//   {"flush": ms} | {"status": true}
// In paths, {pid} is this process's id and {spool} its own spool directory (which exists after
// the first reconcile).
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { payload, variant } = require('./fixtures.js');

const ONE_BASH = 'one-bash-call/snap-3-session.idle.json';

function ownSpoolDir() {
  const root = path.join(process.env.HOME, '.arize', 'harness', 'spool', 'opencode');
  const mine = fs.readdirSync(root).find((d) => d.startsWith(`${process.pid}-`));
  if (!mine) throw new Error(`no spool directory of pid ${process.pid} in ${root}`);
  return path.join(root, mine);
}

function expand(p) {
  return p.replace('{pid}', String(process.pid)).replace('{spool}', () => ownSpoolDir());
}

async function main() {
  const { steps } = JSON.parse(fs.readFileSync(0, 'utf8'));
  const api = require(path.join(__dirname, '..', '..', 'lib'));
  const base = payload(ONE_BASH);
  const out = [];
  for (const step of steps) {
    if ('link' in step) {
      const at = expand(step.link[0]);
      fs.mkdirSync(path.dirname(at), { recursive: true });
      fs.symlinkSync(step.link[1], at);
      out.push({ planted: at });
    } else if ('fifo' in step) {
      const at = expand(step.fifo);
      fs.mkdirSync(path.dirname(at), { recursive: true });
      const made = spawnSync('mkfifo', ['-m', '600', at]);
      if (made.status !== 0) throw new Error(`mkfifo ${at}: ${made.stderr}`);
      out.push({ planted: at });
    } else if ('session' in step) out.push({ reconcile: api.reconcile(variant(base, step.session)) });
    else if ('flush' in step) out.push({ flush: await api.flush(step.flush) });
    else if ('status' in step) out.push({ status: api.status() });
  }
  process.stdout.write(JSON.stringify({ steps: out }));
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error));
  process.exit(1);
});
