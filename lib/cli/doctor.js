'use strict';
// `doctor`: checks each link from OpenCode to the backend, with the copy of the package
// OpenCode itself loads (not the one running doctor, which may be an npx copy), and prints the
// fix for the first broken link.
const dns = require('node:dns');
const path = require('node:path');
const c = require('./common.js');
const reg = require('./registration.js');

// The package whose core OpenCode loads: the first registration's, in the order OpenCode
// reads them; this package when that one is not installed yet (an opencode.json entry before
// OpenCode's next start).
function loadedPackage(regs) {
  for (const r of regs) if (r.pkg && r.pkg.dir) return { dir: r.pkg.dir, version: r.pkg.version, via: r };
  return null;
}

// The HTTP status of an empty POST says whether the path is the OTLP traces path: a collector
// answers 400/415 (bad body) or 401/403 (credentials come later); 404/405 mean another path.
function endpointVerdict(code, endpoint, location) {
  const { outcomeClass } = require('./status.js');
  const cls = outcomeClass({ status: code });
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
      fix: `the endpoint redirects${location ? ` to ${location}` : ''}; spans are not sent there (${cls ? cls.effect : 'they wait'}): set the endpoint to the new location if it is your backend`,
    };
  if (code >= 500)
    return {
      ok: false,
      detail: `${endpoint} (HTTP ${code} to an empty request)`,
      fix: `the backend at ${endpoint} fails (HTTP ${code}): check its health; meanwhile ${cls ? `spans it answers so are ${cls.keeps ? 'kept' : 'not kept'}: ${cls.effect}` : 'see the log'}`,
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

async function doctor() {
  const results = [];
  const check = (name, ok, detail, fix) => {
    results.push({ name, ok, detail, fix });
    console.log(
      `  ${ok === null ? '--  ' : ok === 'warn' ? 'WARN' : ok ? 'ok  ' : 'FAIL'} ${name.padEnd(18)} ${detail}`,
    );
    return ok !== false;
  };
  console.log(`opencode-arize-tracing ${c.PKG.version} doctor`);
  const finish = () => {
    const broken = results.find((r) => r.ok === false);
    if (broken) {
      console.log(`\nfix (${broken.name}): ${broken.fix}`);
      process.exitCode = 1;
    } else console.log('\nall links work: OpenCode turns will arrive as traces');
  };

  // 1. the plugin is registered with OpenCode, once
  const regs = reg.findRegistrations();
  const used = loadedPackage(regs);
  if (!regs.length) {
    check(
      'plugin registered',
      false,
      'no plugin file, no opencode.json entry',
      'run `opencode-arize-tracing install` (or `opencode plugin opencode-arize-tracing`)',
    );
    return finish();
  }
  const first = regs[0];
  if (first.kind === 'file' && !first.pkg) {
    check(
      'plugin registered',
      false,
      `${c.tilde(first.file)}, but the package it imports is not there`,
      `run \`opencode-arize-tracing install\` again (it puts the package where ${c.tilde(first.file)} finds it)`,
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

  // 2. the native core OpenCode will load
  let lib;
  const root = used ? used.dir : c.ROOT;
  try {
    lib = require(path.join(root, 'lib', 'index.js'));
    check(
      'binary loads',
      true,
      `${lib.status().binary}${used ? '' : ' (this copy: OpenCode has not installed its own yet)'}${used && used.version !== c.PKG.version ? ` (version ${used.version})` : ''}`,
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
  const s = lib.status();

  // 3. the config file parses and names only known keys
  if (
    !check(
      'config parses',
      !s.config.warning,
      s.config.warning ||
        (require('node:fs').existsSync(s.config.path)
          ? c.tilde(s.config.path)
          : `${c.tilde(s.config.path)} (absent: environment only)`),
      `correct what the warning names in ${s.config.path} (or the environment variable it names)`,
    )
  )
    return finish();
  if (
    s.unknown_keys !== undefined &&
    !check(
      'config keys',
      !s.unknown_keys,
      s.unknown_keys || 'all known',
      `rename or remove the keys named in ${s.config.path}: they are ignored`,
    )
  )
    return finish();

  // secret redaction: a sample through the core OpenCode loads, so the user sees it work
  if (typeof lib.redact === 'function' && s.redaction) {
    const r = s.redaction;
    const sample = redactionSample();
    const out = lib.redact(sample);
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
      s.state === 'no-backend' && s.reason ? s.reason : 'run `opencode-arize-tracing install`',
    )
  )
    return finish();

  // 5. the endpoint resolves and answers as an OTLP traces receiver
  const url = new URL(s.backend.endpoint);
  try {
    await dns.promises.lookup(url.hostname.replace(/^\[|\]$/g, ''));
  } catch (error) {
    check(
      'endpoint resolves',
      false,
      `${url.hostname}: ${error.code || error.message}`,
      `check the host name in the endpoint (${s.backend.endpoint}) and this machine's DNS and network`,
    );
    return finish();
  }
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(0),
      redirect: 'manual', // the exporter follows only a 307/308 to the same host: doctor sees the answer itself
      signal: AbortSignal.timeout(10000),
    });
    let v = endpointVerdict(response.status, s.backend.endpoint, response.headers.get('location'));
    if ((response.status === 307 || response.status === 308) && response.headers.get('location')) {
      const target = new URL(response.headers.get('location'), url);
      if (target.hostname === url.hostname && !(url.protocol === 'https:' && target.protocol === 'http:'))
        v = {
          ok: true,
          detail: `${s.backend.endpoint} (HTTP ${response.status}: followed to ${target.origin}${target.pathname}; set the endpoint there to save a request per batch)`,
        };
    }
    if (!check('endpoint answers', v.ok, v.detail, v.fix)) return finish();
  } catch (error) {
    const why = (error.cause && (error.cause.code || error.cause.message)) || error.name || error.message;
    check(
      'endpoint answers',
      false,
      `${s.backend.endpoint}: ${why}`,
      `nothing answers at ${s.backend.endpoint}: start the backend, or correct the endpoint; a proxy or firewall may block it`,
    );
    return finish();
  }

  // 6. a test span goes through the library, as OpenCode's would
  if (s.state === 'dry-run') {
    check('test span', null, 'skipped: ARIZE_DRY_RUN is set');
    lib.shutdown(0);
    return finish();
  }
  const now = Date.now();
  const id = `doctor${now}${process.pid}`;
  const sid = `ses_${id}`;
  const result = lib.reconcile({
    type: 'close',
    sessionID: sid,
    messages: [
      {
        info: { id: `msg_${id}u`, sessionID: sid, role: 'user', time: { created: now - 2 } },
        parts: [
          {
            id: `prt_${id}u`,
            sessionID: sid,
            messageID: `msg_${id}u`,
            type: 'text',
            text: 'opencode-arize-tracing doctor: test span',
          },
        ],
      },
      {
        info: {
          id: `msg_${id}a`,
          sessionID: sid,
          role: 'assistant',
          parentID: `msg_${id}u`,
          modelID: 'doctor',
          providerID: 'opencode-arize-tracing',
          time: { created: now - 1, completed: now },
          cost: 0,
          finish: 'stop',
          tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } },
        },
        parts: [{ id: `prt_${id}a`, sessionID: sid, messageID: `msg_${id}a`, type: 'text', text: 'ok' }],
      },
    ],
  });
  const flushed = await lib.flush(15000);
  const after = lib.status();
  lib.shutdown(0);
  const e = after.last_export || {};
  const accepted =
    result.spans > 0 && flushed.pending === 0 && flushed.dropped === 0 && e.status >= 200 && e.status < 300;
  // The exporter's error already starts "HTTP <code>" when there was an answer.
  const answer = e.error ? e.error : e.status > 0 ? `HTTP ${e.status}` : 'no answer';
  const cls = e.status !== undefined ? require('./status.js').outcomeClass(e) : undefined;
  const refused =
    cls && cls.name === 'moved'
      ? `the endpoint moved (${answer}): spans are kept and not sent until the endpoint is changed; set it to the new location if it is your backend`
      : e.status === 401 || e.status === 403
        ? `the backend refused the credentials (HTTP ${e.status}): check the API key${s.backend.target === 'arize' ? ' and space id' : ''} in ${s.config.path} or the environment`
        : `the backend did not accept the span (${answer}${cls ? `: ${cls.effect}` : ''}); the log ${after.config.log_file} has the details`;
  check(
    'test span',
    accepted,
    accepted
      ? `accepted (${flushed.exported} spans exported, project "${s.backend.project}")`
      : `${result.error || `pending ${flushed.pending}, dropped ${flushed.dropped}`}, ${answer}`,
    refused,
  );
  return finish();
}

module.exports = { doctor, endpointVerdict, redactionSummary };
