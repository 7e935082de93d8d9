'use strict';
// `doctor`: checks each link from OpenCode to the backend, with the copy of the package
// OpenCode itself loads (not the one running doctor, which may be an npx copy), and prints the
// fix for the first broken one. `--json` prints the same checks as JSON.
//
// It changes nothing of the user's tracing: the settings are read without opening a tracer,
// and the test span is sent by a child process whose HOME is a throwaway directory holding a
// copy of the config file, so its spool, state, outcome files and log are its own, never mixed
// with (or sent along with) the user's spans; the directory is removed at the end.
const { spawn } = require('node:child_process');
const dns = require('node:dns');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const c = require('./common.js');
const reg = require('./registration.js');
const { outcomeClasses, outcomeClass } = require('./outcomes.js');
const { credentialKeys } = require('../settings.js');

// "API key and space id" (Arize AX): the credentials the backend requires, else its API key.
const credentialWords = (target) =>
  (credentialKeys(target).length ? credentialKeys(target) : ['api_key'])
    .map((k) => (k === 'api_key' ? 'API key' : k.replace(/_/g, ' ')))
    .join(' and ');

// The HTTP status of an empty POST says whether the path is the OTLP traces path: a collector
// answers 400/415 (bad body) or 401/403 (credentials come later); 404/405 mean another path.
// What the exporter does with such an answer is the core's table (classes).
function endpointVerdict(code, endpoint, location, classes = outcomeClasses()) {
  const cls = outcomeClass({ status: code }, classes);
  if (code === 404 || code === 405)
    return {
      ok: false,
      detail: `${endpoint} (HTTP ${code} to an empty request: nothing takes traces at this path)`,
      fix: `the endpoint answers but not as an OTLP/HTTP traces receiver: its path should end in /v1/traces (${endpoint}); check the host, port and path`,
    };
  if (code >= 300 && code < 400)
    return {
      ok: false,
      detail: `${endpoint} (HTTP ${code} to an empty request: moved${location ? ` to ${location}` : ''})`,
      fix: `the endpoint redirects${location ? ` to ${location}` : ''} and the exporter does not follow it (the spans: ${cls ? cls.effect : 'see the log'}): set the endpoint to the new location if it is your backend`,
    };
  if (code >= 500)
    return {
      ok: false,
      detail: `${endpoint} (HTTP ${code} to an empty request)`,
      fix: `the backend at ${endpoint} fails (HTTP ${code}): check its health. Meanwhile, for spans it answers so (${cls ? cls.name : 'see the log'}): ${cls ? cls.effect : ''}`,
    };
  return { ok: true, detail: `${endpoint} (HTTP ${code} to an empty request)` };
}

// The redaction in effect, in words: "built-in detectors on, 2 user patterns, 1 value, 1 allow
// pattern" (status and doctor say it the same way).
function redactionSummary(r) {
  if (!r) return 'unknown (an older core)';
  const n = (k, one, many) => `${k} ${k === 1 ? one : many}`;
  const rules = [
    r.patterns && n(r.patterns, 'user pattern', 'user patterns'),
    r.values && n(r.values, 'literal value', 'literal values'),
    r.allow && n(r.allow, 'allow pattern', 'allow patterns'),
  ].filter(Boolean);
  return `built-in detectors ${r.secrets ? 'on' : 'off'}${rules.length ? `, ${rules.join(', ')}` : ''}`;
}

// A sample secret made here (no well-formed token sits in this file): a fake GitHub token.
function redactionSample() {
  return `GITHUB_TOKEN=ghp_${'D0ct0rSample'.repeat(3)} PORT=8080`;
}

// Runs in the child: the test trace (Turn -> LLM: doctor) through the library OpenCode loads,
// flushed; prints {spans, error, flushed, last_export, log_file} as JSON.
const TEST_SPAN = `
const lib = require(process.argv[1]);
const now = Date.now(), id = 'doctor' + now + process.pid, sid = 'ses_' + id;
const result = lib.reconcile({ type: 'close', sessionID: sid, messages: [
  { info: { id: 'msg_' + id + 'u', sessionID: sid, role: 'user', time: { created: now - 2 } },
    parts: [{ id: 'prt_' + id + 'u', sessionID: sid, messageID: 'msg_' + id + 'u', type: 'text',
      text: 'opencode-arize-tracing doctor: test span' }] },
  { info: { id: 'msg_' + id + 'a', sessionID: sid, role: 'assistant', parentID: 'msg_' + id + 'u',
      modelID: 'doctor', providerID: 'opencode-arize-tracing', time: { created: now - 1, completed: now },
      cost: 0, finish: 'stop', tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } } },
    parts: [{ id: 'prt_' + id + 'a', sessionID: sid, messageID: 'msg_' + id + 'a', type: 'text', text: 'ok' }] } ] });
lib.flush(15000).then((flushed) => {
  const s = lib.status();
  lib.shutdown(0);
  process.stdout.write(JSON.stringify({ spans: result.spans, error: result.error, flushed,
    last_export: s.last_export || {}, destinations: s.destinations || [], log_file: s.config.log_file }));
});
`;

/** The test trace, sent from a throwaway HOME: {spans, error, flushed, last_export, log}. */
async function sendTestSpan(root, configFile) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'opencode-arize-tracing-doctor-'));
  try {
    const harness = path.join(home, '.arize', 'harness');
    fs.mkdirSync(harness, { recursive: true, mode: 0o700 });
    if (fs.existsSync(configFile)) fs.copyFileSync(configFile, path.join(harness, path.basename(configFile)));
    const log = path.join(home, 'doctor.log');
    const env = { ...process.env, HOME: home, ARIZE_LOG_FILE: log };
    const out = await new Promise((resolve) => {
      const child = spawn(process.execPath, ['-e', TEST_SPAN, path.join(root, 'lib', 'index.js')], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '',
        stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', (error) => resolve({ error: error.message }));
      child.on('close', (code) => {
        try {
          resolve(JSON.parse(stdout));
        } catch {
          resolve({ error: `the test process exited ${code}: ${stderr.trim().split('\n').pop() || 'no output'}` });
        }
      });
    });
    // The log's problem lines (never a secret): what the backend answered, in the core's words.
    const lines = (c.readText(log) || '').split('\n').filter((l) => / (WARN|ERROR) /.test(l));
    return { ...out, log: lines.slice(-3).map((l) => l.replace(/^\S+ (WARN|ERROR) /, '')) };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

const ANSWER_TIMEOUT_MS = 10000;

// One empty OTLP POST to url through node:http(s) (TLS verified), as the core sends: never
// fetch, which refuses ports of its own blocklist (9, 6000, 10080, ...) the core sends to.
// Resolves {status, location}; rejects with the socket's error, or a TimeoutError.
function postEmpty(url) {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-length': 0 },
      agent: false,
    });
    const timer = setTimeout(
      () => request.destroy(Object.assign(new Error('no answer'), { name: 'TimeoutError' })),
      ANSWER_TIMEOUT_MS,
    );
    request.on('response', (response) => {
      clearTimeout(timer);
      response.resume();
      resolve({ status: response.statusCode, location: response.headers.location || null });
      request.destroy();
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end();
  });
}

/** Checks that endpoint resolves and answers as an OTLP traces receiver ("endpoint resolves",
 * "endpoint answers", each followed by label). Returns false when one failed. */
async function probeEndpoint(endpoint, label, check, classes) {
  const url = new URL(endpoint);
  try {
    await dns.promises.lookup(url.hostname.replace(/^\[|\]$/g, ''));
  } catch (error) {
    return check(
      `endpoint resolves${label}`,
      false,
      `${url.hostname}: ${error.code || error.message}`,
      `check the host name in the endpoint (${endpoint}) and this machine's DNS and network`,
    );
  }
  try {
    const response = await postEmpty(url);
    let v = endpointVerdict(response.status, endpoint, response.location, classes);
    // the exporter follows a 307/308 to the same host (never https to http)
    if ((response.status === 307 || response.status === 308) && response.location) {
      const target = new URL(response.location, url);
      if (target.hostname === url.hostname && !(url.protocol === 'https:' && target.protocol === 'http:'))
        v = {
          ok: true,
          detail: `${endpoint} (HTTP ${response.status}: followed to ${target.origin}${target.pathname}; set the endpoint there to save a request per batch)`,
        };
    }
    return check(`endpoint answers${label}`, v.ok, v.detail, v.fix);
  } catch (error) {
    // a connection taken but never answered
    if (error.name === 'TimeoutError')
      return check(
        `endpoint answers${label}`,
        false,
        `${endpoint}: no answer within 10 s`,
        `${endpoint} did not answer within 10 s: check that the backend there is up and healthy, or correct the endpoint; a proxy or firewall may hold the connection`,
      );
    const why = error.code || error.message || error.name;
    return check(
      `endpoint answers${label}`,
      false,
      `${endpoint}: ${why}`,
      `nothing answers at ${endpoint}: start the backend, or correct the endpoint; a proxy or firewall may block it`,
    );
  }
}

const NAME_WIDTH = 18; // the column a check's detail starts after

async function doctor(flags = {}) {
  const results = [];
  const say = flags.json ? () => {} : (line) => console.log(line);
  const self = c.selfCommand();
  const check = (name, ok, detail, fix) => {
    results.push({ name, ok, detail, ...(fix && ok !== true ? { fix } : {}) });
    const mark = ok === null ? '--  ' : ok === 'warn' ? 'WARN' : ok ? 'ok  ' : 'FAIL';
    // details in one column; a longer name (a destination's) has its detail on the next line
    if (name.length <= NAME_WIDTH) say(`  ${mark} ${name.padEnd(NAME_WIDTH)} ${detail}`);
    else say(`  ${mark} ${name}\n  ${' '.repeat(4)} ${' '.repeat(NAME_WIDTH)} ${detail}`);
    return ok !== false;
  };
  say(`opencode-arize-tracing ${c.PKG.version} doctor`);
  const finish = () => {
    const broken = results.find((r) => r.ok === false);
    if (broken) process.exitCode = 1;
    if (flags.json) {
      console.log(
        JSON.stringify(
          { version: c.PKG.version, ok: !broken, checks: results, fix: broken ? broken.fix : null },
          null,
          2,
        ),
      );
    } else if (broken) say(`\nfix (${broken.name}): ${broken.fix}`);
    else say('\nall links work: OpenCode turns will arrive as traces');
  };

  // 1. the plugin is registered with OpenCode, once
  const regs = reg.findRegistrations();
  const used = reg.loadedPackage(regs);
  if (!regs.length) {
    check(
      'plugin registered',
      false,
      'no plugin file, no opencode.json entry',
      `run \`${self} install\` (or \`opencode plugin opencode-arize-tracing\`)`,
    );
    return finish();
  }
  const first = regs[0];
  if (first.kind === 'file' && !first.pkg) {
    check(
      'plugin registered',
      false,
      `${c.tilde(first.file)}, but the package it imports is not there`,
      `run \`${self} install\` again (it puts the package where ${c.tilde(first.file)} finds it)`,
    );
    return finish();
  }
  check(
    'plugin registered',
    true,
    `${reg.describe(first)}${first.pkg ? ` -> ${c.tilde(first.pkg.dir)}` : ' (OpenCode installs the package at its next start)'}`,
  );
  if (regs.length > 1)
    check(
      'registered once',
      'warn',
      `${regs.length} registrations: ${regs.map(reg.describe).join(', ')}`,
      'remove all but one: only the first copy OpenCode loads traces, the others stay idle',
    );

  // 2. the native core OpenCode will load (loaded, never opened: no tracer starts here)
  let native;
  const root = used ? used.dir : c.ROOT;
  try {
    native = require(path.join(root, 'lib', 'native.js'));
    check(
      'binary loads',
      true,
      `${c.tilde(native.file)}${used ? '' : ' (this copy: OpenCode has not installed its own yet)'}${used && used.version !== c.PKG.version ? ` (version ${used.version})` : ''}`,
    );
  } catch (error) {
    const lines = String(error.message).split('\n');
    check(
      'binary loads',
      false,
      `${c.tilde(root)}: ${lines[0]}`,
      lines.slice(1).join('\n  ').trim() || 'reinstall the package',
    );
    return finish();
  }
  // an older copy without configStatus: the settings as this copy's core reads them
  const reader = typeof native.binding.configStatus === 'function' ? native : require('../native.js');
  const dir = require('./status.js').projectDir(flags);
  const s = JSON.parse(reader.binding.configStatus(dir));
  const classes = outcomeClasses(reader);
  const unknownKeys = s.config.unknown_keys;

  // 3. the config file parses, its values are usable and its keys known. A file that cannot be
  // read stops here (nothing in it is used); a bad value or an unknown key is ignored by the core,
  // which goes on with the rest, so the checks after them still say what works.
  const present = fs.existsSync(s.config.path);
  if (
    !check(
      'config parses',
      !s.config.broken,
      s.config.broken
        ? `broken, nothing in it is used: ${s.config.warning}`
        : present
          ? c.tilde(s.config.path)
          : `${c.tilde(s.config.path)} (absent: environment only)`,
      `correct what the warning names in ${s.config.path}`,
    )
  )
    return finish();
  if (s.config.warning)
    check(
      'config values',
      false,
      `${s.config.warning} (the default is used meanwhile)`,
      `correct what the warning names in ${present ? s.config.path : 'the environment'} (a value in the file, or the environment variable it names)`,
    );
  if (unknownKeys !== undefined)
    check(
      'config keys',
      !unknownKeys,
      unknownKeys || 'all known',
      `rename or remove the keys named in ${s.config.path}: they are ignored`,
    );

  // the project's file (.opencode/arize-tracing.yaml), read over the user's
  if (s.project && s.project.path) {
    const p = s.project;
    const from = Object.entries(s.sources || {})
      .filter(([, v]) => v && v.split(' + ').includes(p.path))
      .map(([k]) => k);
    if (
      !check(
        'project settings',
        p.broken ? false : p.warning || p.notice ? 'warn' : true,
        p.broken
          ? `broken, nothing in it is used: ${p.warning}`
          : `${c.tilde(p.path)} sets ${from.join(', ') || 'nothing'}${p.warning ? `; ${p.warning}` : ''}${p.notice ? `; ${p.notice}` : ''}`,
        `correct what the warning names in ${p.path}`,
      )
    )
      return finish();
  }

  // secret redaction: a sample through the core OpenCode loads, so the user sees it work
  if (typeof reader.binding.redactText === 'function' && s.redaction) {
    const r = s.redaction;
    const sample = redactionSample();
    const out = reader.binding.redactText(sample, dir);
    const on = Boolean(r && r.secrets);
    check(
      'secret redaction',
      on && out.redactions > 0 ? true : 'warn',
      `${redactionSummary(r)}: "${sample}" is sent as "${out.text}"`,
      on
        ? 'a redact.allow pattern lets the sample through: check redact.allow'
        : 'keys and tokens in prompts and tool output are sent as they are: unset ARIZE_REDACT_SECRETS (or set redact.secrets: true)',
    );
  }

  // 4. tracing is on, with credentials and a backend
  if (s.state === 'disabled') {
    check(
      'tracing enabled',
      false,
      s.reason || 'tracing disabled by ARIZE_TRACE_ENABLED=false',
      'unset ARIZE_TRACE_ENABLED (or set it to true)',
    );
    return finish();
  }
  if (
    !check(
      'credentials',
      s.state === 'sending' || s.state === 'dry-run',
      s.state === 'sending' || s.state === 'dry-run'
        ? `${s.backend.target}, project "${s.backend.project}"${s.state === 'dry-run' ? ' (dry run: nothing is sent)' : ''}`
        : s.reason || s.state,
      s.state === 'no-backend' && s.reason ? s.reason : `run \`${self} install\``,
    )
  )
    return finish();

  // 5. each destination's endpoint resolves and answers as an OTLP traces receiver (the first's
  // checks keep their names; a further destination's carry its name)
  const dests =
    Array.isArray(s.destinations) && s.destinations.length
      ? s.destinations
      : [{ name: 'default', endpoint: s.backend.endpoint }];
  for (const d of dests) {
    const label = d.name === 'default' ? '' : ` ${d.name}`;
    if (!(await probeEndpoint(d.endpoint, label, check, classes))) return finish();
  }

  // 6. a test trace goes through the library, as OpenCode's would (in its own spool and state)
  if (s.state === 'dry-run') {
    check('test span', null, 'skipped: ARIZE_DRY_RUN is set');
    return finish();
  }
  const t = await sendTestSpan(root, s.config.path);
  const flushed = { ...(t.flushed || { exported: 0, pending: 0, dropped: 0 }) };
  // flush's pending counts every destination's: the first one's own is in its status entry
  const firstDest = (t.destinations || []).find((x) => x.name === 'default');
  if (firstDest) flushed.pending = firstDest.pending;
  const e = t.last_export || {};
  const accepted = t.spans > 0 && flushed.pending === 0 && flushed.dropped === 0 && e.status >= 200 && e.status < 300;
  // The exporter's error already starts "HTTP <code>" when there was an answer.
  const answer = e.error ? e.error : e.status > 0 ? `HTTP ${e.status}` : 'no answer';
  const cls = e.status !== undefined ? outcomeClass(e, classes) : undefined;
  const fix =
    (e.status <= 0 && c.cannotSend(e.error)
      ? `this machine cannot send yet: ${e.error}; until then OpenCode's spans wait in the spool, and the next OpenCode started with it sends them`
      : cls && cls.name === 'moved'
        ? `the endpoint moved (${answer}): set the endpoint to the new location if it is your backend; until then OpenCode's spans are ${cls.effect}`
        : e.status === 401 || e.status === 403
          ? `the backend refused the credentials (HTTP ${e.status}): check the ${credentialWords(s.backend.target)} in ${s.config.path} or the environment`
          : `the backend did not accept the test span (${answer})${cls ? `; OpenCode's spans answered so are ${cls.effect}` : ''}`) +
    (t.log && t.log.length ? `\n  the core's log of the test: ${t.log.join('\n    ')}` : '');
  // a further destination's test span: it took it (its own outcome in the test process's status)
  for (const d of (t.destinations || []).filter((x) => x.name !== 'default')) {
    const ok = d.pending === 0 && d.status >= 200 && d.status < 300;
    const why = d.error || (d.status > 0 ? `HTTP ${d.status}` : 'no answer');
    check(
      `test span ${d.name}`,
      ok,
      ok ? `accepted (${d.exported} spans exported, project "${d.project}")` : `pending ${d.pending}, ${why}`,
      d.key_refused
        ? `destination ${d.name} refused the credentials (HTTP ${d.status}): check its ${(credentialKeys(d.target).length ? credentialKeys(d.target) : ['api_key']).join(' and ')} or headers under harnesses.opencode.destinations in ${s.config.path}`
        : `destination ${d.name} did not accept the test span (${why})`,
    );
  }
  if (s.backend.target === 'none') return finish(); // further destinations only
  check(
    'test span',
    accepted,
    accepted
      ? `accepted (${flushed.exported} spans exported, project "${s.backend.project}")`
      : `${t.error || `pending ${flushed.pending}, dropped ${flushed.dropped}`}, ${answer}`,
    fix,
  );
  return finish();
}

module.exports = { doctor, endpointVerdict, redactionSummary };
