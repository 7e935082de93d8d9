'use strict';
// Spawns a scenario script in a child process of the current runtime (Bun under `bun test`,
// Node under `node --test`), with its own HOME, and returns its parsed JSON output.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

function tempHome() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'oat-home-'));
}

// The environment a scenario starts from: ours, minus anything that would configure tracing.
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(ARIZE_|PHOENIX_|OTEL_|OPENINFERENCE_)/.test(k)) env[k] = v;
  // The binary under test is not configuration: keep one chosen by the caller (npm run
  // test:asan points it at a sanitizer build).
  if (process.env.ARIZE_TRACING_NATIVE) env.ARIZE_TRACING_NATIVE = process.env.ARIZE_TRACING_NATIVE;
  if (!env.ARIZE_TRACING_NATIVE && fs.existsSync(path.join(ROOT, 'build/Release/arize_tracing.node')))
    env.ARIZE_TRACING_NATIVE = path.join(ROOT, 'build/Release/arize_tracing.node');
  // on Windows the home is USERPROFILE (the core and os.homedir() read it first)
  if (extra && extra.HOME) extra = { USERPROFILE: extra.HOME, ...extra };
  return Object.assign(env, extra);
}

// args: arguments before the script (a wrapper such as faketime runs the runtime itself).
function run(script, input, env, { runtime = process.execPath, args = [], timeoutMs = 30000, expectSignal } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(runtime, [...args, path.join(__dirname, script)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (expectSignal && signal === expectSignal) return resolve({ signal, stdout, stderr });
      if (code !== 0)
        return reject(new Error(`${script} exited ${code ?? signal}: ${stderr} (stdout: ${stdout.slice(0, 300)})`));
      try {
        resolve({ ...JSON.parse(stdout), stderr });
      } catch (error) {
        reject(new Error(`${script} printed no JSON: ${stdout} ${stderr}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

function readLog(home) {
  const file = path.join(home, '.arize', 'harness', 'logs', 'opencode.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

module.exports = { ROOT, tempHome, cleanEnv, run, readLog };
