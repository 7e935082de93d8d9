'use strict';
// How long OpenCode's exit takes with a working backend and with one that accepts connections
// and never answers (`npm run bench:exit`): the real `opencode run` and the real TUI (in tmux),
// alternating, median of --runs (5) each after one warm-up. With tracing, exit waits for the
// backend at most export.exit_flush_ms (1 s); the rest is OpenCode's own.
//   opencode run: from the turn's export request reaching the receiver to the process's end
//     (OpenCode's start-up varies by seconds on a busy machine, so it is not counted).
//   TUI: from ctrl-c (the prompt empty: exit) to the process's end, the turn over and its
//     export answered (or hanging) for 1.5 s.
//
//   node test/bench/exit.js [--runs 5] [--only run|tui]

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('../e2e/harness.js');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const RUNS = Number(arg('--runs', 5));
const ONLY = arg('--only', '');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const missing = h.missingPrerequisite();
  if (missing) throw new Error(missing);
  const pkg = h.packPackage();
  const model = await startModelServer();
  const working = await startReceiver();
  const silent = await startReceiver({ hang: () => true });
  const scripts = {};
  for (let i = 0; i < 4 * RUNS + 4; i++) scripts[`B${i}:`] = [{ text: `ANSWER_${i}_DONE` }];
  model.play({ scripts });
  const oc = h.makeOpenCodeHome({
    route: 'plugin-file',
    tarball: pkg.tarball,
    modelURL: model.baseURL,
    receiverURL: working.url,
  });
  let n = 0;
  const receiverOf = (kind) => (kind === 'silent' ? silent : working);

  async function viaRun(kind) {
    const receiver = receiverOf(kind);
    const r = await h.runOpenCode(oc, ['run', `B${n++}: hi`], {
      env: { PHOENIX_ENDPOINT: receiver.url },
      timeoutMs: 180000,
    });
    const end = Date.now();
    if (r.code !== 0) throw new Error(`opencode run exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const arrivals = receiver.requests.filter((q) => q.receivedAt >= end - r.ms).map((q) => q.receivedAt);
    return end - Math.max(...arrivals);
  }

  const name = `oat-bench-exit-${process.pid}`;
  const tmux = (...a) => spawnSync('tmux', ['-L', name, ...a], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', name).stdout || '';
  async function waitFor(cond, what, ms = 180000) {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (cond()) return;
    throw new Error(`timed out waiting for ${what}:\n${screen()}`);
  }
  async function viaTui(kind) {
    const receiver = receiverOf(kind);
    const i = n++;
    const exitFile = path.join(oc.base, `exit-${i}`);
    const script = path.join(oc.base, 'tui.sh');
    const env = { ...oc.env, PWD: oc.project, PHOENIX_ENDPOINT: receiver.url };
    fs.writeFileSync(
      script,
      '#!/bin/sh\n' +
        Object.entries(env)
          .map(([k, v]) => `export ${k}='${String(v).replace(/'/g, "'\\''")}'`)
          .join('\n') +
        // the time OpenCode ended, also when a second ctrl-c reaches this shell as SIGINT
        `\ntrap "date +%s%3N > '${exitFile}'; exit 130" INT\ncd '${oc.project}'\n'${h.OPENCODE_BIN}'\ndate +%s%3N > '${exitFile}'\n`,
      { mode: 0o755 },
    );
    tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '45', script);
    await waitFor(() => /ctrl\+p|tab agents|enter send|Ask anything/i.test(screen()), 'the TUI');
    await sleep(1000);
    const before = receiver.requests.length;
    tmux('send-keys', '-t', name, '-l', `B${i}: hello`);
    tmux('send-keys', '-t', name, 'Enter');
    await waitFor(() => screen().includes(`ANSWER_${i}_DONE`), 'the answer');
    await waitFor(() => receiver.requests.length > before, 'the export request');
    await sleep(1500);
    const at = Date.now();
    tmux('send-keys', '-t', name, 'C-c');
    await waitFor(() => fs.existsSync(exitFile) && fs.readFileSync(exitFile, 'utf8').trim() !== '', 'the exit', 60000);
    return Number(fs.readFileSync(exitFile, 'utf8')) - at;
  }

  const results = [];
  try {
    for (const [label, measure] of [
      ['opencode run', viaRun],
      ['TUI (tmux)', viaTui],
    ]) {
      if (ONLY && !label.toLowerCase().includes(ONLY)) continue;
      await measure('healthy'); // warm-up
      const got = { healthy: [], silent: [] };
      for (let k = 0; k < RUNS; k++)
        for (const kind of ['healthy', 'silent']) {
          got[kind].push(await measure(kind));
          process.stderr.write(`${label} ${kind}: ${got[kind][got[kind].length - 1]} ms\n`);
        }
      results.push([label, got]);
    }
  } finally {
    tmux('kill-server');
    for (const r of [model, working, silent]) await r.close();
    oc.remove();
    fs.rmSync(pkg.dir, { recursive: true, force: true });
  }
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`exit time, median of ${RUNS} (ms); load average ${load}`);
  console.log('| | working backend | silent backend | difference |');
  console.log('|---|---:|---:|---:|');
  for (const [label, got] of results) {
    const a = median(got.healthy),
      b = median(got.silent);
    console.log(`| ${label} | ${a} (${got.healthy.join(', ')}) | ${b} (${got.silent.join(', ')}) | ${b - a} |`);
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
