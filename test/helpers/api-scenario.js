'use strict';
// Runs one scenario against the public API in a fresh process (the native core reads its
// environment once per process) and prints what happened as JSON on stdout.
// stdin: {"steps": [{"fixture": "path", "type": "close"} | {"payload": any} | {"flush": ms}
//                   | {"status": true} | {"shutdown": ms} | {"writeFile": [path, text]}
//                   | {"durable": ms} (wait until the spool holds every span handed over)
//                   | {"timedShutdown": ms} (how long shutdown took) | {"remove": path}
//                   | {"setenv": {name: value}} (process.env, as a library user would set it)
//                   | {"fixture": path, "timed": true} (its reconcile, and how long it took)
//                   | {"bigOutput": {mb, text}} (the one-bash-call capture with an output of mb MiB
//                     of text repeated, timed)],
//         "esm": true?}
const fs = require('node:fs');
const path = require('node:path');
const { payload, variant } = require('./fixtures.js');

// Waits (at most ms) until the writer thread holds every span handed over in a spool file.
async function durable(api, ms) {
  const until = Date.now() + ms;
  while (api.status().counters.spans_memory_only > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  return api.status().counters.spans_memory_only === 0;
}

async function main() {
  const program = JSON.parse(fs.readFileSync(0, 'utf8'));
  const lib = path.join(__dirname, '..', '..', 'lib');
  const api = program.esm ? await import(path.join(lib, 'index.mjs')) : require(lib);
  const out = [];
  for (const step of program.steps) {
    if ('fixture' in step && step.variants && step.quiet) {
      // many distinct sessions, nothing recorded but how many spans they gave
      let spans = 0;
      for (let i = 0; i < step.variants; i++)
        spans += api.reconcile(variant(payload(step.fixture, step.type), i + (step.offset || 0))).spans;
      out.push({ spans });
    } else if ('fixture' in step && step.variants) {
      // many distinct sessions: how long each reconcile took, and memory after
      const times = [];
      for (let i = 0; i < step.variants; i++) {
        const p = variant(payload(step.fixture, step.type), i + (step.offset || 0));
        const t0 = process.hrtime.bigint();
        api.reconcile(p);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      out.push({ times, rss: process.memoryUsage().rss });
    } else if ('fixture' in step && step.timed) {
      const p = variant(payload(step.fixture, step.type), step.offset || 0);
      const t0 = process.hrtime.bigint();
      const reconcile = api.reconcile(p);
      out.push({ reconcile, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    } else if ('fixture' in step)
      out.push({ reconcile: api.reconcile(payload(step.fixture, step.type), step.options) });
    else if ('bigOutput' in step) {
      const p = variant(payload('one-bash-call/snap-3-session.idle.json'), step.bigOutput.offset || 0);
      const unit = step.bigOutput.text || 'x';
      const text = unit.repeat(Math.ceil((step.bigOutput.mb * 1024 * 1024) / Buffer.byteLength(unit)));
      for (const m of p.messages) for (const part of m.parts) if (part.tool === 'bash') part.state.output = text;
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      let reconcile;
      try {
        reconcile = api.reconcile(p);
      } catch (error) {
        reconcile = { threw: String(error && error.message) };
      }
      const cpu = process.cpuUsage(c0); // the thread's work, whatever else the machine runs
      out.push({ reconcile, ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if ('payload' in step) out.push({ reconcile: api.reconcile(step.payload) });
    else if ('flush' in step) out.push({ flush: await api.flush(step.flush) });
    else if ('status' in step) out.push({ status: api.status() });
    else if ('shutdown' in step) out.push({ shutdown: api.shutdown(step.shutdown) ?? null });
    else if ('kill' in step) process.kill(process.pid, step.kill);
    else if ('durable' in step) out.push({ durable: await durable(api, step.durable) });
    else if ('sleep' in step)
      out.push({ slept: await new Promise((r) => setTimeout(() => r(step.sleep), step.sleep)) });
    else if ('timedShutdown' in step) {
      const t0 = process.hrtime.bigint();
      api.shutdown(step.timedShutdown);
      out.push({ shutdownMs: Number(process.hrtime.bigint() - t0) / 1e6 });
    } else if ('remove' in step)
      out.push({ removed: fs.rmSync(step.remove, { recursive: true, force: true }) ?? true });
    else if ('setenv' in step) out.push({ setenv: Object.assign(process.env, step.setenv) && true });
    else if ('writeFile' in step) out.push({ written: fs.writeFileSync(step.writeFile[0], step.writeFile[1]) ?? true });
  }
  const plugin = program.esm ? { id: api.default.id, server: typeof api.default.server } : undefined;
  // each step's watermark beside its reconcile result: the tests compare spans and errors
  for (const step of out)
    if (step.reconcile && step.reconcile.watermark) {
      step.watermark = step.reconcile.watermark;
      delete step.reconcile.watermark;
    }
  process.stdout.write(JSON.stringify({ steps: out, version: api.version, plugin }));
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error));
  process.exit(1);
});
