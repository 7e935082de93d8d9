'use strict';
// Runs the real OpenCode (npm `opencode-ai`, pinned in package.json) with this package
// installed the way a user installs it, against test/model-server.js and test/receiver.js.
// Used by test/e2e/opencode.test.js and test/demo.js. Node built-ins only; 127.0.0.1 only.
//
//   const pkg = packPackage();                            // npm pack, with the native core inside
//   const oc = makeOpenCodeHome({ route: 'plugin-file', tarball: pkg.tarball, modelURL, receiverURL });
//   const run = await runOpenCode(oc, ['run', 'hello']);  // { code, stdout, stderr, ms, timedOut }
//   oc.remove();

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const OPENCODE_VERSION = '1.18.33';
const OPENCODE_BIN = path.join(ROOT, 'node_modules', '.bin', 'opencode');
const BUILT_ADDON = path.join(ROOT, 'build', 'Release', 'arize_tracing.node');
const PREBUILD_REL = path.join('prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node');

const quiet = { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' };

// The npm cache of whoever runs the tests. OpenCode's own installer (Arborist) and our
// `npm install` use it inside the temp HOME, so dependencies come from it when cached.
let npmCache;
function userNpmCache() {
  if (npmCache === undefined) {
    try {
      npmCache = execFileSync('npm', ['config', 'get', 'cache'], quiet).trim() || null;
    } catch {
      npmCache = null;
    }
  }
  return npmCache;
}

/** Why OpenCode or the native core cannot run here, or null when they can. */
function missingPrerequisite() {
  if (!fs.existsSync(OPENCODE_BIN)) return `the OpenCode binary is missing (${OPENCODE_BIN}): run \`npm ci\``;
  if (!fs.existsSync(path.join(ROOT, PREBUILD_REL)) && !fs.existsSync(BUILT_ADDON))
    return `the native core is not built (${path.relative(ROOT, BUILT_ADDON)} or ${PREBUILD_REL}): run \`npm run build\``;
  return null;
}

/**
 * `npm pack` of this package, with the native core in it: a temp copy of exactly the files
 * npm would pack, plus the built addon as prebuilds/<platform>-<arch>/node.napi.node when the
 * checkout has no prebuild of its own (lib/native.js loads that path first). `options.addon`:
 * that core file in the package instead (a benchmark of a core whose prebuild is not made yet).
 * @param {string} [outDir] @param {{addon?: string}} [options]
 * @returns {{tarball: string, dir: string, addon: string, files: string[]}}
 */
function packPackage(outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'arize-e2e-pack-')), options = {}) {
  const listing = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { ...quiet, cwd: ROOT }),
  );
  const copy = path.join(outDir, 'package');
  for (const f of listing[0].files) {
    fs.mkdirSync(path.dirname(path.join(copy, f.path)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f.path), path.join(copy, f.path));
  }
  let addon = path.join(ROOT, PREBUILD_REL);
  // ARIZE_E2E_NATIVE=<file.node>: pack that core (a branch whose native/ changed before its
  // prebuilds are regenerated: build/Release/arize_tracing.node)
  if (!options.addon && process.env.ARIZE_E2E_NATIVE)
    options = { ...options, addon: path.resolve(process.env.ARIZE_E2E_NATIVE) };
  if (options.addon) {
    fs.mkdirSync(path.dirname(path.join(copy, PREBUILD_REL)), { recursive: true });
    fs.copyFileSync(options.addon, path.join(copy, PREBUILD_REL));
    addon = options.addon;
  } else if (!fs.existsSync(path.join(copy, PREBUILD_REL))) {
    if (!fs.existsSync(BUILT_ADDON)) throw new Error(`no native core to pack: run \`npm run build\` (${BUILT_ADDON})`);
    fs.mkdirSync(path.dirname(path.join(copy, PREBUILD_REL)), { recursive: true });
    fs.copyFileSync(BUILT_ADDON, path.join(copy, PREBUILD_REL));
    addon = BUILT_ADDON;
  }
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], { ...quiet, cwd: copy }),
  );
  return {
    tarball: path.join(outDir, packed[0].filename),
    dir: outDir,
    addon,
    files: packed[0].files.map((f) => f.path),
  };
}

const write = (file, text) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
};
const writeJson = (file, value) => write(file, JSON.stringify(value, null, 2) + '\n');
const readJson = (file, fallback) => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
};

// At start OpenCode npm-installs @opencode-ai/plugin into every config dir whose node_modules
// is missing or whose package-lock.json root lacks a dependency of its package.json (offline
// that stalls ~70 s). Declaring it in both files, with a stub package on disk, skips that.
function seedConfigDir(dir) {
  const stub = path.join(dir, 'node_modules', '@opencode-ai', 'plugin', 'package.json');
  if (!fs.existsSync(stub)) writeJson(stub, { name: '@opencode-ai/plugin', version: OPENCODE_VERSION, private: true });
  const pkg = readJson(path.join(dir, 'package.json'), {});
  pkg.dependencies = Object.assign({}, pkg.dependencies, { '@opencode-ai/plugin': OPENCODE_VERSION });
  writeJson(path.join(dir, 'package.json'), pkg);
  const lock = readJson(path.join(dir, 'package-lock.json'), { lockfileVersion: 3, requires: true, packages: {} });
  lock.packages = lock.packages || {};
  const root = (lock.packages[''] = lock.packages[''] || {});
  root.dependencies = Object.assign({}, root.dependencies, { '@opencode-ai/plugin': OPENCODE_VERSION });
  lock.packages['node_modules/@opencode-ai/plugin'] = { version: OPENCODE_VERSION };
  writeJson(path.join(dir, 'package-lock.json'), lock);
}

/** The provider block that points OpenCode at the scripted model (cost per 1M tokens). */
function mockProviderConfig(modelURL) {
  return {
    $schema: 'https://opencode.ai/config.json',
    model: 'mock/scripted',
    small_model: 'mock/scripted',
    autoupdate: false,
    share: 'disabled',
    permission: { edit: 'allow', bash: 'allow', webfetch: 'deny', external_directory: 'allow' },
    provider: {
      mock: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Scripted model',
        options: { baseURL: modelURL, apiKey: 'scripted-key' },
        models: {
          scripted: {
            name: 'Scripted',
            tool_call: true,
            reasoning: true,
            limit: { context: 128000, output: 8192 },
            cost: { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
          },
        },
      },
    },
  };
}

/**
 * A temp HOME with OpenCode configured for the scripted model and this package installed:
 *   route 'plugin-file': `npm install` of the tarball into ~/.config/opencode/node_modules and
 *     plugin/arize-tracing.ts copied into ~/.config/opencode/plugin/ (the README's manual way);
 *   route 'config': `"plugin": ["opencode-arize-tracing@file:<tarball>"]` in opencode.json, which
 *     OpenCode installs itself into ~/.cache/opencode/packages/.
 *   route 'none': no plugin (a baseline).
 * The project is a git repo (OpenCode snapshots need git) at <tmp>/project.
 */
function makeOpenCodeHome({ route, tarball, modelURL, receiverURL, env: extraEnv = {}, files = {}, keep = false }) {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `arize-e2e-${route}-`)));
  const home = path.join(base, 'home');
  const project = path.join(base, 'project');
  const configDir = path.join(home, '.config', 'opencode');
  fs.mkdirSync(configDir, { recursive: true });
  fs.mkdirSync(project, { recursive: true });

  // npm (ours and OpenCode's Arborist) reads ~/.npmrc: use the user's cache, prefer it over
  // the registry, and stay quiet.
  const cache = userNpmCache();
  write(
    path.join(home, '.npmrc'),
    [
      cache ? `cache=${cache}` : '',
      'prefer-offline=true',
      'audit=false',
      'fund=false',
      'update-notifier=false',
      '',
    ].join('\n'),
  );

  const env = Object.assign({}, process.env, {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_DISABLE_AUTOUPDATE: '1',
    NO_COLOR: '1',
  });
  // Nothing of the caller's tracing setup, OpenCode config or `npm run` environment leaks in.
  for (const k of Object.keys(env)) if (/^(ARIZE_|PHOENIX_|OTEL_|OPENCODE_CONFIG|npm_)/i.test(k)) delete env[k];
  env.OPENCODE_DISABLE_MODELS_FETCH = '1';
  env.OPENCODE_DISABLE_AUTOUPDATE = '1';
  if (receiverURL) env.PHOENIX_ENDPOINT = receiverURL;
  Object.assign(env, extraEnv);

  const config = mockProviderConfig(modelURL);
  if (route === 'plugin-file') {
    writeJson(path.join(configDir, 'package.json'), { private: true, dependencies: {} });
    execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      ...quiet,
      cwd: configDir,
      env: { ...env, npm_config_userconfig: path.join(home, '.npmrc') },
    });
    fs.mkdirSync(path.join(configDir, 'plugin'), { recursive: true });
    fs.copyFileSync(
      path.join(configDir, 'node_modules', 'opencode-arize-tracing', 'plugin', 'arize-tracing.ts'),
      path.join(configDir, 'plugin', 'arize-tracing.ts'),
    );
  } else if (route === 'config') {
    config.plugin = [`opencode-arize-tracing@file:${tarball}`];
  } else if (route !== 'none') {
    throw new Error(`unknown route ${route}`);
  }
  seedConfigDir(configDir);
  writeJson(path.join(project, 'opencode.json'), config);

  write(path.join(project, 'hello.txt'), 'hello from the e2e project\n');
  for (const [name, text] of Object.entries(files)) write(path.join(project, name), text);
  const git = (...args) => execFileSync('git', args, { ...quiet, cwd: project, env });
  git('init', '-q');
  git('add', '.');
  git('-c', 'user.email=e2e@example.invalid', '-c', 'user.name=e2e', 'commit', '-qm', 'init');

  return {
    base,
    home,
    project,
    configDir,
    env,
    route,
    remove() {
      if (!keep) fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `opencode <args>` in the project. Resolves (never rejects) with
 * { code, signal, stdout, stderr, ms, timedOut }. On timeout the process we started is killed.
 */
function runOpenCode(oc, args, { timeoutMs = 90000, env = {} } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    // OpenCode takes its directory from $PWD when set, not from the process's cwd.
    const childEnv = Object.assign({}, oc.env, { PWD: oc.project }, env);
    const child = spawn(OPENCODE_BIN, args, { cwd: oc.project, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '',
      timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(error), ms: Date.now() - started, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

/** The newest OpenCode log file of a home, for failure messages. */
function openCodeLog(oc) {
  const dir = path.join(oc.home, '.local', 'share', 'opencode', 'log');
  try {
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .sort();
    return files.length ? fs.readFileSync(path.join(dir, files[files.length - 1]), 'utf8') : '';
  } catch {
    return '';
  }
}

/** Our core's log file in that home (~/.arize/harness/logs/opencode.log). */
function tracingLog(oc) {
  try {
    return fs.readFileSync(path.join(oc.home, '.arize', 'harness', 'logs', 'opencode.log'), 'utf8');
  } catch {
    return '';
  }
}

module.exports = {
  ROOT,
  OPENCODE_BIN,
  OPENCODE_VERSION,
  BUILT_ADDON,
  PREBUILD_REL,
  missingPrerequisite,
  packPackage,
  makeOpenCodeHome,
  runOpenCode,
  mockProviderConfig,
  openCodeLog,
  tracingLog,
};

// ---------------------------------------------------------------------------
// Reading what the receiver got.

const kindOf = (s) => s.attributes['openinference.span.kind'];
/** The session a span belongs to: a subagent's own (opencode.session.id), else session.id. */
const ownSession = (s) => s.attributes['opencode.session.id'] ?? s.attributes['session.id'];
const isTurn = (s) => kindOf(s) === 'CHAIN' && !s.parentSpanId;

/** The spans with each span id once (the first copy received). */
function uniqueSpans(spans) {
  const seen = new Map();
  for (const s of spans) if (!seen.has(s.spanId)) seen.set(s.spanId, s);
  return [...seen.values()];
}

/** Span ids received more than once: [{spanId, name, copies}]. */
function duplicateSpans(spans) {
  const count = new Map();
  for (const s of spans) count.set(s.spanId, (count.get(s.spanId) || 0) + 1);
  return uniqueSpans(spans)
    .filter((s) => count.get(s.spanId) > 1)
    .map((s) => ({ spanId: s.spanId, name: s.name, copies: count.get(s.spanId) }));
}

/** The Turn spans of a session, oldest first. */
function turnsOf(spans, sessionId) {
  return uniqueSpans(spans)
    .filter((s) => isTurn(s) && s.attributes['session.id'] === sessionId)
    .sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
}

const childrenOf = (spans, parent) =>
  uniqueSpans(spans)
    .filter((s) => s.parentSpanId === parent.spanId)
    .sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : a.name < b.name ? -1 : 1));

/** Every span below `root` (not root itself), depth first. */
function descendantsOf(spans, root) {
  const out = [];
  const walk = (s) => {
    for (const c of childrenOf(spans, s)) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/**
 * Waits until `ok(receiver.spans())` holds, then until no new OTLP request arrived for
 * `quietMs` (a late duplicate or straggler would show up then). Rejects at timeoutMs with
 * what was received.
 */
async function settle(receiver, ok, { timeoutMs = 15000, quietMs = 600 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (!ok(receiver.spans())) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for spans; received ${receiver.spans().length} span(s):\n${formatTree(receiver.spans())}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  let count = receiver.requests.length;
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    if (receiver.requests.length === count) return receiver.spans();
    count = receiver.requests.length;
  }
}

// ---------------------------------------------------------------------------
// The tree, for people: names, kinds, durations, tokens, cost, status.

function duration(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

function describeSpan(s) {
  const a = s.attributes;
  const bits = [`${s.name} [${kindOf(s) ?? '?'}] ${duration(Number(s.endNs - s.startNs) / 1e6)}`];
  const prompt = a['llm.token_count.prompt'] ?? a['opencode.turn.token_count.prompt'];
  const completion = a['llm.token_count.completion'] ?? a['opencode.turn.token_count.completion'];
  if (prompt !== undefined || completion !== undefined) {
    const cache = a['llm.token_count.prompt_details.cache_read'] ?? a['opencode.turn.token_count.cache_read'];
    const reasoning = a['llm.token_count.completion_details.reasoning'] ?? a['opencode.turn.token_count.reasoning'];
    const extra = [cache ? `cache read ${cache}` : '', reasoning ? `reasoning ${reasoning}` : '']
      .filter(Boolean)
      .join(', ');
    bits.push(`tokens ${prompt ?? 0} in / ${completion ?? 0} out${extra ? ` (${extra})` : ''}`);
  }
  const given = Object.keys(a).filter((k) => /^llm\.input_messages\.\d+\.message\.role$/.test(k)).length;
  if (given) bits.push(`given ${given} message${given === 1 ? '' : 's'}`);
  const cost = a['llm.cost.total'] ?? a['opencode.turn.cost.total'];
  if (typeof cost === 'number' && cost > 0) bits.push(`$${cost.toFixed(6)}`);
  const detail = a['tool.command'] ?? a['tool.file_path'] ?? a['tool.query'] ?? a['tool.url'];
  if (detail !== undefined)
    bits.push(JSON.stringify(String(detail).length > 60 ? String(detail).slice(0, 57) + '...' : detail));
  if (s.status && s.status.code === 2) bits.push(`ERROR: ${s.status.message}`);
  else bits.push(s.status && s.status.code === 1 ? 'OK' : 'ok');
  return bits.join('  ');
}

/** Roots first (then orphans), children by start time; a span id received twice is marked. */
function formatTree(spans, { indent = '' } = {}) {
  const dup = new Set(duplicateSpans(spans).map((d) => d.spanId));
  const all = uniqueSpans(spans);
  const byId = new Map(all.map((s) => [s.spanId, s]));
  const roots = all
    .filter((s) => !s.parentSpanId || !byId.has(s.parentSpanId))
    .sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
  const lines = [];
  const walk = (s, depth, seen) => {
    if (seen.has(s.spanId)) return;
    seen.add(s.spanId);
    const orphan = s.parentSpanId && !byId.has(s.parentSpanId) ? ` (parent ${s.parentSpanId} never received)` : '';
    lines.push(
      `${indent}${'  '.repeat(depth)}${depth ? '└─ ' : ''}${describeSpan(s)}${dup.has(s.spanId) ? '  [received twice]' : ''}${orphan}`,
    );
    for (const c of childrenOf(all, s)) walk(c, depth + 1, seen);
  };
  for (const r of roots) walk(r, 0, new Set());
  return lines.join('\n');
}

Object.assign(module.exports, {
  ownSession,
  kindOf,
  isTurn,
  uniqueSpans,
  duplicateSpans,
  turnsOf,
  childrenOf,
  descendantsOf,
  settle,
  formatTree,
  describeSpan,
});

// ---------------------------------------------------------------------------
// `opencode serve` in a home, driven over its HTTP API as the TUI drives it.

/**
 * Starts `opencode serve` on 127.0.0.1 (an ephemeral port, a random password) in the project.
 * Resolves with { url, call(method, route, body) -> {status, json}, stop() } once it listens;
 * stop() disposes the instance (OpenCode then runs the plugins' dispose) and ends the process.
 */
async function startServe(oc, { env = {}, timeoutMs = 90000 } = {}) {
  const password = require('node:crypto').randomBytes(12).toString('hex');
  const child = spawn(OPENCODE_BIN, ['serve', '--hostname', '127.0.0.1', '--port', '0', '--print-logs'], {
    cwd: oc.project,
    env: Object.assign({}, oc.env, { PWD: oc.project, OPENCODE_SERVER_PASSWORD: password }, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`opencode serve did not listen: ${output.slice(-1000)}`)),
      timeoutMs,
    );
    const seen = (d) => {
      output += d;
      if (output.length > 1 << 20) output = output.slice(-(1 << 19));
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) (clearTimeout(timer), resolve(m[1]));
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on(
      'exit',
      (code) => (clearTimeout(timer), reject(new Error(`opencode serve exited ${code}: ${output.slice(-1000)}`))),
    );
  });
  const headers = {
    authorization: 'Basic ' + Buffer.from(`opencode:${password}`).toString('base64'),
    'content-type': 'application/json',
  };
  async function call(method, route, body) {
    const r = await fetch(`${url}${route}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: r.status, json };
  }
  let stopped;
  return {
    url,
    call,
    get output() {
      return output;
    },
    stop() {
      stopped ??= (async () => {
        await call('POST', '/instance/dispose').catch(() => {});
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('close', resolve)));
      })();
      return stopped;
    },
  };
}

/** Waits until OpenCode says the session is idle (GET /session/status). */
async function waitIdle(server, id, timeoutMs = 120000) {
  const deadline = Date.now() + timeoutMs;
  await new Promise((r) => setTimeout(r, 300));
  while (Date.now() < deadline) {
    const { json } = await server.call('GET', '/session/status');
    if (!json || !json[id] || json[id].type === 'idle') return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`session ${id} still busy after ${timeoutMs} ms`);
}

Object.assign(module.exports, { startServe, waitIdle });
