'use strict';
// `status`: what is true for this user now, across every OpenCode process, read-only.
//
// The status process is not the one that traces: its own counters would say nothing. So it
// reads what the tracing processes leave on disk:
//   - the settings as the core resolves them (binding.configStatus(): no tracer is opened, so
//     no spool is adopted, no thread started, nothing sent);
//   - the spool, ~/.arize/harness/spool/opencode/<pid>-<random>/<16 hex>.spool: each directory
//     belongs to one process, live (its pid runs) or gone (the next start adopts its files);
//     the files are counted, never moved, opened for writing or sent;
//   - the last export's outcome, ~/.arize/harness/state/opencode/last-export.json, written by
//     whichever process exported last, and each running process's counters,
//     state/opencode/processes/<pid>.json (native/outcome.h: written on the exporter thread
//     after each request);
//   - the log's last lines.
// The headline follows the outcome: never "sending" after a refusal or while the backend fails.
const fs = require('node:fs');
const path = require('node:path');
const c = require('./common.js');
const reg = require('./registration.js');
const { outcomeClasses, outcomeClass, exporterAction } = require('./outcomes.js');

function pidRuns(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Every process directory of the spool the settings name, counted by the core (spoolStatus():
 * no JavaScript reads the spool's format): [{dir, pid, live, files, spans, bytes, pending:
 * {destination: spans it has still to send}}]; [] when no core loads here.
 */
function readSpool(native, dir) {
  // an older core OpenCode loads: this copy's core counts (it reads every format before it)
  for (const core of [native, () => require('../native.js')]) {
    try {
      const n = typeof core === 'function' ? core() : core;
      if (n && typeof n.binding.spoolStatus === 'function') return JSON.parse(n.binding.spoolStatus(dir));
    } catch {
      // no core here either: nothing can be counted
    }
  }
  return [];
}

/**
 * Each destination (config.destinations: the first, "default", when configured, then
 * harnesses.opencode.destinations): its last outcome (last-export.json for the first,
 * last-export-<name>.json for the others), the spans it has still to send, whether it is paused
 * (a refused key or a moved endpoint waits for a new config) and its state and health.
 */
function destinationStates(config, processes, classes) {
  const list = Array.isArray(config.destinations) ? config.destinations : [];
  const pending = Object.fromEntries(
    list.map((d) => [d.name, processes.reduce((n, p) => n + ((p.pending && p.pending[d.name]) || 0), 0)]),
  );
  return list.map((d) => {
    const file = d.name === 'default' ? 'last-export.json' : `last-export-${d.name}.json`;
    let last = c.readJson(path.join(config.state_dir, file)) || null;
    if (last && last.endpoint && d.endpoint && last.endpoint !== d.endpoint) last = null; // another endpoint's
    const cls = last && outcomeClass(last, classes);
    const paused = Boolean(last && (last.refused_key || (cls && cls.name === 'moved')));
    const state = !last
      ? pending[d.name] > 0
        ? 'waiting'
        : 'sending'
      : last.refused_key
        ? 'refused'
        : cls && cls.name === 'moved'
          ? 'moved'
          : last.ok
            ? 'sending'
            : 'failing';
    return {
      ...d,
      state,
      paused,
      pending: pending[d.name],
      last_export: last,
      ...health(state, pending[d.name] > 0, Boolean(state === 'failing' && cls && cls.keeps === false)),
    };
  });
}

/**
 * The headline: {state, says} from the settings, the last outcome and the spool. An outcome
 * counts only for the settings it was made with: one from another endpoint, or older than the
 * config file, says nothing yet about the current ones. A broken config file comes first:
 * nothing in it is used, whatever the environment gives. `classes`: the core's outcome table
 * (the registered core's when the caller read it, else this copy's).
 */
function headline(config, last, waiting, classes = outcomeClasses()) {
  if (config.project && config.project.broken) {
    const prefix = `config ${config.project.path}: `;
    const where = String(config.project.warning || '').startsWith(prefix)
      ? config.project.warning.slice(prefix.length)
      : config.project.warning;
    return {
      state: 'broken-project-config',
      says: `the project's settings file is broken (${where}), so nothing in it is used (the project's name, attributes, redaction rules and logging switches do not apply; your own settings do): fix ${c.tilde(config.project.path)}`,
    };
  }
  if (config.config && config.config.broken) {
    const prefix = `config ${config.config.path}: `;
    const where = String(config.config.warning || '').startsWith(prefix)
      ? config.config.warning.slice(prefix.length)
      : config.config.warning;
    return {
      state: 'broken-config',
      says: `the config file is broken (${where}), so nothing in it is used${config.state === 'sending' ? ' (the backend comes from the environment)' : ''}: fix ${c.tilde(config.config.path)}`,
    };
  }
  if (config.state !== 'sending') return { state: config.state, says: config.reason || config.state };
  let changed = 0;
  try {
    changed = fs.statSync(config.config.path).mtimeMs;
  } catch {
    // environment only
  }
  if (
    last &&
    ((last.endpoint && config.backend.endpoint && last.endpoint !== config.backend.endpoint) || changed > last.at_ms)
  ) {
    return {
      state: 'changed',
      says:
        `settings changed since the last export (${last.ok ? 'accepted' : `failed: ${last.error || `HTTP ${last.status}`}`}, ` +
        `${when(last.at_ms)}); the next export tells whether they work${waiting ? '; spans waiting' : ''}`,
    };
  }
  const ago = last ? ` (${when(last.at_ms)})` : '';
  const cls = last && outcomeClass(last, classes);
  if (!last && waiting)
    return { state: 'waiting', says: "no export answered yet: spans wait for the backend's first answer" };
  if (!last) return { state: 'sending', says: 'configured; nothing exported yet' };
  if (last.refused_key)
    return {
      state: 'refused',
      says: `the backend refused the credentials: HTTP ${last.status}${ago}; spans wait until the key changes`,
    };
  if (last.ok) return { state: 'sending', says: `last export accepted${ago}` };
  const why = last.error || (last.status > 0 ? `HTTP ${last.status}` : 'no answer');
  // The words for what became of the spans are the core's one table (native/retry.c).
  if (cls && cls.name === 'moved')
    return { state: 'moved', says: `the endpoint moved: ${why}${ago}; the spans: ${cls.effect}` };
  if (last.status <= 0 && c.cannotSend(why))
    return {
      state: 'failing',
      says: `this machine cannot send: ${why}${ago}; the spans wait in the spool for an OpenCode started with it`,
    };
  return {
    state: 'failing',
    says: `the backend is not accepting spans: ${why}${ago}; ${cls ? `the spans: ${cls.effect}` : 'see the log'}`,
    // an answer whose class keeps nothing (a 404, a 500): every span sent is lost, not waiting
    dropping: Boolean(cls && cls.keeps === false),
  };
}

// Exit codes for scripts (documented in docs/troubleshooting.md): 0 healthy, 1 degraded (spans
// wait, or the last export failed and they are kept), 2 not working (nothing reaches the
// backend, or what is sent is dropped).
const NOT_WORKING = [
  'not-registered',
  'broken-config',
  'broken-project-config',
  'no-backend',
  'refused',
  'moved',
  'disabled',
  'dry-run',
  'no-core',
];
function health(state, waiting, dropping = false) {
  if (NOT_WORKING.includes(state) || dropping) return { health: 'not working', exit_code: 2 };
  if (state === 'failing' || state === 'waiting' || waiting) return { health: 'degraded', exit_code: 1 };
  return { health: 'healthy', exit_code: 0 };
}

function when(ms) {
  if (!ms) return 'never';
  const s = Math.round((Date.now() - ms) / 1000);
  const rel =
    s < 90
      ? `${s} s ago`
      : s < 5400
        ? `${Math.round(s / 60)} min ago`
        : s < 129600
          ? `${Math.round(s / 3600)} h ago`
          : `${Math.round(s / 86400)} days ago`;
  return `${new Date(ms).toISOString()}, ${rel}`;
}

function lastLogLines(file, n) {
  const text = c.readText(file);
  return text ? text.trimEnd().split('\n').slice(-n) : [];
}

/**
 * The core OpenCode loads, to read the settings as it resolves them: the registered package's
 * (registration.loadedPackage), else this copy. {native, file, via, error}: native null and
 * error set when that core does not load.
 */
function openCodeCore(regs) {
  const used = reg.loadedPackage(regs);
  const root = used ? used.dir : c.ROOT;
  try {
    const native = require(path.join(root, 'lib', 'native.js'));
    if (typeof native.binding.configStatus !== 'function') throw new Error('an older core without configStatus');
    return { native, file: native.file, via: used ? used.via : null, root };
  } catch (error) {
    return { native: null, file: null, via: used ? used.via : null, root, error: loadError(error) };
  }
}

// The loader's error on one line: its first line and why each file failed (the missing system
// library and its install command are there), without the generic fix lines.
function loadError(error) {
  const lines = String(error.message).split('\n');
  const tried = [];
  for (let i = lines.indexOf('  tried:') + 1; i > 0 && i < lines.length && /^ {4}\S/.test(lines[i]); i++)
    tried.push(lines[i].trim());
  return lines[0].replace(/\.$/, '') + (tried.length ? `: ${tried.join('; ')}` : '');
}

// What status can say when no core loads here, without the core's reading of the settings:
// the default places, nothing about the backend.
function corelessConfig() {
  const dir = c.harnessDir();
  return {
    state: 'no-core',
    reason: null,
    backend: { target: 'unknown', endpoint: null, project: null },
    config: {
      path: c.configPath(),
      warning: null,
      broken: false,
      unknown_keys: null,
      log_file: path.join(dir, 'logs', 'opencode.log'),
    },
    exit_flush_ms: null,
    settings: null,
    redaction: null,
    spool: { dir: path.join(dir, 'spool', 'opencode') },
    state_dir: path.join(dir, 'state', 'opencode'),
  };
}

/** Everything status shows, as one object (status --json prints it). */
function collect(flags = {}) {
  const regs = reg.findRegistrations();
  let core = openCodeCore(regs);
  // The core OpenCode would load does not load: the settings are still read with this copy's.
  const reader = core.native || (core.root !== c.ROOT ? openCodeCore([]).native : null);
  // Neither loads (no core for this machine, a system library missing): status still answers,
  // no-core (exit 2) with why, rather than failing.
  const config = reader ? JSON.parse(reader.binding.configStatus(projectDir(flags))) : corelessConfig();
  const processes = readSpool(reader, projectDir(flags));
  const total = processes.reduce(
    (t, p) => ({ files: t.files + p.files, spans: t.spans + p.spans, bytes: t.bytes + p.bytes }),
    { files: 0, spans: 0, bytes: 0 },
  );
  const last = c.readJson(path.join(config.state_dir, 'last-export.json')) || null;
  // Counters of the processes that still run; one with counters but no spool dir is listed too.
  const countersDir = path.join(config.state_dir, 'processes');
  let counterFiles = [];
  try {
    counterFiles = fs.readdirSync(countersDir).filter((f) => /^\d+\.json$/.test(f));
  } catch {
    // no process has exported yet
  }
  for (const f of counterFiles) {
    const pid = Number(f.slice(0, -5));
    if (!pidRuns(pid)) continue;
    const counters = c.readJson(path.join(countersDir, f));
    if (!counters) continue;
    let p = processes.find((x) => x.pid === pid);
    if (!p) processes.push((p = { dir: null, pid, live: true, files: 0, spans: 0, bytes: 0 }));
    p.counters = {
      requests: counters.requests,
      failed_requests: counters.failed_requests,
      exported: counters.exported,
      dropped: counters.dropped,
      last_status: counters.last_status,
      at_ms: counters.at_ms,
    };
  }
  const classes = outcomeClasses(core.native || reader);
  const destinations = destinationStates(config, processes, classes);
  // the first destination's spool count is its own when there are several
  const first = destinations.find((d) => d.name === 'default');
  const waiting = destinations.length > 1 ? Boolean(first && first.pending > 0) : total.spans > 0;
  let head = headline(config, last, waiting, classes);
  // Without a registration OpenCode loads nothing of ours: settings that would send mean
  // nothing, no turn is traced (what is wrong with the settings or the spans waiting is said
  // first: those need fixing either way).
  if (!regs.length && head.state === 'sending')
    head = {
      state: 'not-registered',
      says: `OpenCode does not load the plugin (no plugin file in ${c.tilde(c.globalDir())}/plugin or the project's .opencode/plugin, no "plugin" entry in an opencode.json): no turn is traced; run \`${c.selfCommand()} install\``,
    };
  if (!core.native)
    head = {
      state: 'no-core',
      says: `the core OpenCode loads (${c.tilde(core.root)}) does not load: ${core.error}; \`${c.selfCommand()} doctor\` says how to fix it`,
    };
  return {
    version: c.PKG.version,
    binary: core.file,
    binary_loaded_by: core.via ? reg.describe(core.via) : null,
    this_copy: c.ROOT,
    state: head.state,
    headline: head.says,
    // a destination not working counts: the worst of the first's and each one's
    ...[health(head.state, waiting, head.dropping), ...destinations].reduce((w, h) =>
      h.exit_code > w.exit_code ? { health: h.health, exit_code: h.exit_code } : w,
    ),
    destinations,
    reason: config.reason,
    backend: config.backend,
    config: config.config,
    project: config.project,
    sources: config.sources,
    exit_flush_ms: config.exit_flush_ms,
    settings: config.settings,
    redaction: config.redaction,
    spool: { dir: config.spool.dir, ...total, processes },
    last_export: last && { ...last, exporter: exporterAction(last, classes) },
    export_outcomes: classes,
    registrations: regs.map((r) => ({
      route: r.kind === 'file' ? 'plugin file' : 'opencode.json',
      file: r.file,
      spec: r.spec,
      package: r.pkg && r.pkg.dir,
    })),
  };
}

/** The project directory status and doctor read the project's settings from: --project-dir, else
 * the current directory (where OpenCode would be started). */
function projectDir(flags) {
  return path.resolve((flags && flags.projectDir) || process.cwd());
}

/** "project:" and "settings from:" lines: the project's file, and each setting not at its
 * default with the file (or variable) it came from. */
function projectLines(s) {
  const p = s.project;
  const lines = [];
  if (!p) return lines; // a core older than project files
  if (!p.files) lines.push(`project:     project files off (harnesses.opencode.project_files: false)`);
  else if (!p.path) lines.push(`project:     no .opencode/arize-tracing.yaml from ${c.tilde(p.dir || '')} up`);
  else
    lines.push(
      `project:     ${c.tilde(p.path)}${p.broken ? ' (broken: nothing in it is used)' : ` (read over ${c.tilde(s.config.path)})`}` +
        (p.warning ? `\n  warning: ${p.warning}` : '') +
        (p.notice ? `\n  note: ${p.notice}` : ''),
    );
  const from = Object.entries(s.sources || {}).filter(([, v]) => v && v !== 'default');
  if (from.length) {
    const width = Math.max(...from.map(([k]) => k.length));
    lines.push(
      'settings from:',
      ...from.map(([k, v]) => `  ${k.padEnd(width)}  ${v.split(' + ').map(c.tilde).join(' + ')}`),
    );
  }
  return lines;
}

function status(flags) {
  const s = collect(flags);
  process.exitCode = s.exit_code;
  if (flags.json) {
    console.log(JSON.stringify(s, null, 2));
    return;
  }
  const e = s.last_export;
  const lines = [
    `opencode-arize-tracing ${s.version}`,
    `state:       ${s.state}: ${s.headline}`,
    `health:      ${s.health} (exit code ${s.exit_code})`,
    `backend:     ${s.backend.target}${s.backend.endpoint ? `  ${s.backend.endpoint}` : ''}${s.backend.project != null ? `  project "${s.backend.project}"` : ' (no core loads here to read the settings)'}`,
    `binary:      ${s.binary ? c.tilde(s.binary) : 'does not load'}${s.binary_loaded_by ? ` (OpenCode loads it through ${s.binary_loaded_by})` : ' (this copy: no registration leads OpenCode to another)'}`,
    `config:      ${c.tilde(s.config.path)}${s.config.broken ? ' (broken: nothing in it is used)' : ''}${s.config.warning ? `\n  warning: ${s.config.warning}` : ''}${s.config.unknown_keys ? `\n  warning: ${s.config.unknown_keys}` : ''}`,
    ...projectLines(s),
    `log:         ${c.tilde(s.config.log_file)}`,
    `redaction:   ${s.redaction || s.binary ? require('./doctor.js').redactionSummary(s.redaction) : 'unknown (no core loads here)'}`,
    `plugin:      ${s.registrations.length ? s.registrations.map((r) => c.tilde(r.file) + (r.spec ? ` ("${r.spec}")` : '')).join(', ') : `not registered (run \`${c.selfCommand()} install\`)`}`,
  ];
  const live = s.spool.processes.filter((p) => p.live),
    gone = s.spool.processes.filter((p) => !p.live);
  lines.push(
    `spool:       ${s.spool.spans} spans (${s.spool.bytes} bytes) waiting to be sent in ${c.tilde(s.spool.dir)}`,
  );
  for (const p of live) {
    const n = p.counters;
    lines.push(
      `  process ${p.pid} (running): ${p.spans} spans (${p.bytes} bytes) waiting` +
        (n
          ? `; exported ${n.exported}, dropped ${n.dropped}, ${n.requests} requests (${n.failed_requests} failed), last HTTP ${n.last_status || 'none (no answer)'}`
          : '; no export request answered yet'),
    );
  }
  if (gone.length)
    lines.push(
      `  left by ${gone.length} exited process${gone.length > 1 ? 'es' : ''}: ${gone.reduce((n, p) => n + p.spans, 0)} spans (the next OpenCode start sends them)`,
    );
  // one line per destination when there are several
  if (s.destinations && s.destinations.length > 1) {
    lines.push(`destinations: ${s.destinations.length}`);
    const width = Math.max(...s.destinations.map((d) => d.name.length));
    for (const d of s.destinations) {
      const l = d.last_export;
      const said = !l
        ? 'no export answered yet'
        : l.ok
          ? `accepted: HTTP ${l.status}, ${when(l.at_ms)}`
          : `${l.refused_key ? 'key refused' : 'failed'}: ${l.error || (l.status > 0 ? `HTTP ${l.status}` : 'no answer')}, ${when(l.at_ms)}`;
      lines.push(
        `  ${d.name.padEnd(width)}  ${d.target}  ${d.endpoint || ''}  project "${d.project}"${d.from === 'project' ? ' (project file)' : ''}: ${d.state}${d.paused ? ' (paused until the settings change)' : ''}; ${said}; ${d.pending} spans waiting; ${d.health}`,
      );
    }
  }
  // The exporter's error text already starts "HTTP <code>" when the backend answered.
  const outcome =
    e &&
    (e.ok ? `accepted: HTTP ${e.status}` : `failed: ${e.error || (e.status > 0 ? `HTTP ${e.status}` : 'no answer')}`);
  lines.push(
    `last export: ${e ? `${outcome}, ${e.spans} spans, ${when(e.at_ms)}, ${e.endpoint || ''} (process ${e.pid})` : 'none recorded yet'}`,
  );
  if (e && !e.ok) lines.push(`  the spans:   ${e.exporter}`);
  const tail = lastLogLines(s.config.log_file, 3);
  if (tail.length) lines.push('log tail:', ...tail.map((l) => `  ${l}`));
  console.log(lines.join('\n'));
}

module.exports = {
  status,
  collect,
  readSpool,
  headline,
  health,
  projectDir,
  projectLines,
  destinationStates,
};
