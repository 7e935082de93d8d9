'use strict';
// Tests only, run by the Windows node.exe under wine (test/helpers/wine.js): starts one
// Windows program the way a Windows parent does, with CreateProcessW's UTF-16 environment
// block, so that variables wine sets itself (USERPROFILE, APPDATA, ...) take the test's values,
// non-ASCII ones included. Its output goes to files (node.exe under wine cannot write to a
// pipe). argv: job.json, holding
//   { exe, args, cwd, env, stdout, stderr, result, killAfterLine }
// The result file gets { code, signal, killed, error }. killAfterLine: once the program has
// written a whole line to stdout, it is ended at once (TerminateProcess, as Task Manager's
// "End task" does), as a crash or a power cut would leave it.
const { spawn } = require('node:child_process');
const fs = require('node:fs');

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = fs.openSync(job.stdout, 'w');
const err = fs.openSync(job.stderr, 'w');
const env = { ...process.env, ...job.env };
for (const [k, v] of Object.entries(job.env)) if (v === null) delete env[k];
const child = spawn(job.exe, job.args, { cwd: job.cwd, env, stdio: ['ignore', out, err], windowsHide: true });
let killed = false;
let timer = null;
if (job.killAfterLine)
  timer = setInterval(() => {
    if (!killed && fs.readFileSync(job.stdout, 'utf8').includes('\n')) {
      killed = true;
      child.kill('SIGKILL');
    }
  }, 50);
const finish = (result) => {
  if (timer) clearInterval(timer);
  fs.writeFileSync(job.result, JSON.stringify({ killed, ...result }));
};
child.on('error', (e) => finish({ code: null, signal: null, error: e.message }));
child.on('exit', (code, signal) => finish({ code, signal }));
