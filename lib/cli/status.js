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

// native/spool.h: "OATSPOOL3\n", a 44-byte header (its spans count at offset 32), then records
// of [u32 sync][u32 length][u8 kind][u32 crc][u32 crc][bytes]; the formats before it:
// "OATSPOOL2\n" records of [u32 length][u32 crc32][u8 kind][bytes] (kind 1 a span, 2 the dedup
// marks of the spans after it) and "OATSPOOL1\n" (no kind byte: spans only). A file of
// another magic is another version's: counted as bytes only.
const SPOOL_MAGIC = { 'OATSPOOL1\n': 8, 'OATSPOOL2\n': 9 };
const SPAN_KIND = 1;

/** Spans and bytes of one spool file. */
function countSpoolFile(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return { spans: 0, bytes: 0 };
  }
  const magic = buf.toString('latin1', 0, 10);
  if (magic === 'OATSPOOL3\n') return { spans: buf.length >= 54 ? buf.readUInt32LE(42) : 0, bytes: buf.length };
  const head = SPOOL_MAGIC[magic];
  if (head === undefined) return { spans: 0, bytes: buf.length };
  let spans = 0;
  for (let at = 10; at + head <= buf.length; ) {
    const len = buf.readUInt32LE(at);
    if (at + head + len > buf.length) break; // a damaged tail: the loader skips it too
    if (head === 8 || buf[at + 8] === SPAN_KIND) spans++;
    at += head + len;
  }
  return { spans, bytes: buf.length };
}

function pidRuns(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Every process directory of the spool: [{dir, pid, live, files, spans, bytes}]. */
function readSpool(root) {
  let names = [];
  try {
    names = fs
      .readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
  return names
    .map((name) => {
      const dir = path.join(root, name);
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      const entry = { dir, pid: pid || null, live: pid ? pidRuns(pid) : false, files: 0, spans: 0, bytes: 0 };
      let files = [];
      try {
        files = fs.readdirSync(dir).filter((f) => /^[0-9a-f]{16}\.spool$/.test(f));
      } catch {
        // gone meanwhile: its owner finished with it
      }
      for (const f of files) {
        const n = countSpoolFile(path.join(dir, f));
        entry.files++;
        entry.spans += n.spans;
        entry.bytes += n.bytes;
      }
      return entry;
    })
    .filter((e) => e.files > 0 || e.live);
}

/**
 * The headline: {state, says} from the settings, the last outcome and the spool. An outcome
 * counts only for the settings it was made with: one from another endpoint, or older than the
 * config file, says nothing yet about the current ones.
 */
function headline(config, last, waiting) {
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
  const cls = last && outcomeClass(last);
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
  // The words for what became of the spans are the core's one table (native/retry.h).
  if (cls && cls.name === 'moved') return { state: 'moved', says: `the endpoint moved: ${why}${ago}; ${cls.effect}` };
  return {
    state: 'failing',
    says: `the backend is not accepting spans: ${why}${ago}; ${cls ? cls.effect : 'see the log'}`,
  };
}

let outcomeTable;
/** The core's classes of export answers (native/retry.h): [{name, answers, effect, keeps, statuses}]. */
function outcomeClasses() {
  if (!outcomeTable) {
    try {
      outcomeTable = JSON.parse(require('../native.js').binding.exportOutcomes());
    } catch {
      outcomeTable = { classes: [] };
    }
  }
  return outcomeTable.classes;
}

/** The class of an outcome (its own name when it has one, else the one its status falls in). */
function outcomeClass(last) {
  const classes = outcomeClasses();
  if (last.class) return classes.find((c) => c.name === last.class);
  const status = last.status > 0 ? last.status : 0;
  return classes.find((c) => c.statuses.some(([from, to]) => status >= from && status <= to));
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

/** Everything status shows, as one object (status --json prints it). */
function collect(native) {
  const config = JSON.parse(native.binding.configStatus());
  const processes = readSpool(config.spool.dir);
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
  const head = headline(config, last, total.spans > 0);
  return {
    version: c.PKG.version,
    binary: native.file,
    state: head.state,
    headline: head.says,
    reason: config.reason,
    backend: config.backend,
    config: config.config,
    exit_flush_ms: config.exit_flush_ms,
    settings: config.settings,
    redaction: config.redaction,
    spool: { dir: config.spool.dir, ...total, processes },
    last_export: last,
    export_outcomes: outcomeClasses(),
    registrations: reg.findRegistrations().map((r) => ({
      route: r.kind === 'file' ? 'plugin file' : 'opencode.json',
      file: r.file,
      spec: r.spec,
      package: r.pkg && r.pkg.dir,
    })),
  };
}

function status(flags) {
  const s = collect(require('../native.js'));
  if (flags.json) {
    console.log(JSON.stringify(s, null, 2));
    return;
  }
  const e = s.last_export;
  const lines = [
    `opencode-arize-tracing ${s.version}`,
    `state:       ${s.state}: ${s.headline}`,
    `backend:     ${s.backend.target}${s.backend.endpoint ? `  ${s.backend.endpoint}` : ''}  project "${s.backend.project}"`,
    `binary:      ${s.binary}`,
    `config:      ${s.config.path}${s.config.warning ? `\n  warning: ${s.config.warning}` : ''}${s.config.unknown_keys ? `\n  warning: ${s.config.unknown_keys}` : ''}`,
    `log:         ${s.config.log_file}`,
    `redaction:   ${require('./doctor.js').redactionSummary(s.redaction)}`,
    `plugin:      ${s.registrations.length ? s.registrations.map((r) => c.tilde(r.file) + (r.spec ? ` ("${r.spec}")` : '')).join(', ') : 'not registered (run install)'}`,
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
  // The exporter's error text already starts "HTTP <code>" when the backend answered.
  const outcome =
    e &&
    (e.ok ? `accepted: HTTP ${e.status}` : `failed: ${e.error || (e.status > 0 ? `HTTP ${e.status}` : 'no answer')}`);
  lines.push(
    `last export: ${e ? `${outcome}, ${e.spans} spans, ${when(e.at_ms)}, ${e.endpoint || ''} (process ${e.pid})` : 'none recorded yet'}`,
  );
  const tail = lastLogLines(s.config.log_file, 3);
  if (tail.length) lines.push('log tail:', ...tail.map((l) => `  ${l}`));
  console.log(lines.join('\n'));
}

module.exports = { status, collect, readSpool, headline, outcomeClasses, outcomeClass };
