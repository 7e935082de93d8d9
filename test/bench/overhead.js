'use strict';
// The plugin's cost inside OpenCode: the same scripted session (a multi-step tool turn) run by
// the real OpenCode without the plugin and with it (installed from the packed tarball, the way
// a user installs it), alternating, RUNS times each. Prints median wall time and peak RSS of the
// OpenCode process (VmHWM sampled from /proc) and their ratios. A benchmark: it asserts nothing.
//   node test/bench/overhead.js [runs=5]
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const h = require('../e2e/harness.js');

const RUNS = Number(process.argv[2] || 5);

const SCRIPT = [
  { tool: 'bash', args: { command: 'ls', description: 'List files' }, usage: { prompt: 1200, completion: 40, cached: 400 } },
  { tools: [{ tool: 'read', args: { filePath: 'hello.txt' } }, { tool: 'glob', args: { pattern: '*.txt' } }], usage: { prompt: 1500, completion: 30 } },
  { tool: 'write', args: { filePath: 'out.txt', content: 'done\n' }, usage: { prompt: 1700, completion: 25 } },
  { text: 'All done.', usage: { prompt: 1800, completion: 12 } },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Runs `opencode run` and samples the process's peak resident set (VmHWM) until it exits.
function measuredRun(oc, prompt) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(h.OPENCODE_BIN, ['run', prompt], {
      cwd: oc.project, env: { ...oc.env, PWD: oc.project }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let peakKb = 0, stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const sample = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch { /* exited */ }
    }, 20);
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.on('close', (code) => {
      clearInterval(sample);
      clearTimeout(timer);
      resolve({ code, ms: Number(process.hrtime.bigint() - started) / 1e6, peakMb: peakKb / 1024, stderr });
    });
  });
}

async function main() {
  const missing = h.missingPrerequisite();
  if (missing) {
    console.log(`overhead benchmark skipped: ${missing}`);
    return;
  }
  const { tarball } = h.packPackage();
  const receiver = await startReceiver();
  const model = await startModelServer({ script: SCRIPT });
  const homes = {
    without: h.makeOpenCodeHome({ route: 'none', modelURL: model.baseURL, receiverURL: receiver.url }),
    with: h.makeOpenCodeHome({ route: 'plugin-file', tarball, modelURL: model.baseURL, receiverURL: receiver.url }),
  };
  const results = { without: [], with: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const kind of i % 2 ? ['with', 'without'] : ['without', 'with']) {
        model.play({ script: SCRIPT });
        const r = await measuredRun(homes[kind], `overhead run ${i} ${kind}`);
        if (r.code !== 0) throw new Error(`opencode (${kind}) exited ${r.code}: ${r.stderr.slice(-500)}`);
        results[kind].push(r);
      }
    }
  } finally {
    for (const oc of Object.values(homes)) oc.remove();
    await model.close();
    await receiver.close();
  }
  const row = (kind) => ({ ms: median(results[kind].map((r) => r.ms)), mb: median(results[kind].map((r) => r.peakMb)) });
  const a = row('without'), b = row('with');
  console.log(`OpenCode ${h.OPENCODE_VERSION ?? ''} — one 4-call tool turn, median of ${RUNS} runs each`);
  console.log('                    wall time    peak RSS');
  console.log(`  without plugin   ${a.ms.toFixed(0).padStart(7)} ms   ${a.mb.toFixed(1).padStart(7)} MiB`);
  console.log(`  with plugin      ${b.ms.toFixed(0).padStart(7)} ms   ${b.mb.toFixed(1).padStart(7)} MiB`);
  console.log(`  ratio            ${(b.ms / a.ms).toFixed(3).padStart(10)}   ${(b.mb / a.mb).toFixed(3).padStart(10)}`);
  console.log(`  difference       ${(b.ms - a.ms).toFixed(0).padStart(7)} ms   ${(b.mb - a.mb).toFixed(1).padStart(7)} MiB`);
  console.log(`  spans received   ${receiver.spans().length} (${RUNS} traced turns)`);
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
