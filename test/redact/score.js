'use strict';
// Scores the core's secret redaction (native/redact.h) on the labelled corpus (corpus.js):
// recall on the true secrets, false positives per MB of clean text. Through the real core: the
// addon's redactText, with no config file and no ARIZE_REDACT_* variable (the defaults).
//   node test/redact/score.js            the figures, per kind
//   node test/redact/score.js --verbose  also every miss and every false positive, in context
//   node test/redact/score.js --json     the figures as JSON
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { secrets, clean } = require('./corpus.js');

const TARGET_RECALL = 0.99;
const TARGET_FP_PER_MB = 1;

function binding() {
  // the defaults: an empty HOME (no config file), no redaction variable
  process.env.HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'oat-redact-'));
  for (const k of Object.keys(process.env)) if (/^ARIZE_REDACT/.test(k)) delete process.env[k];
  // the core of this checkout (as the tests use it) unless one is named
  const built = path.join(__dirname, '..', '..', 'build', 'Release', 'arize_tracing.node');
  if (!process.env.ARIZE_TRACING_NATIVE && fs.existsSync(built)) process.env.ARIZE_TRACING_NATIVE = built;
  return require('../../lib/native.js').binding;
}

// Whether any of the secret survives: a run of 12 of its characters (all of it when shorter).
function leaks(out, secret) {
  const w = Math.min(12, secret.length);
  for (let i = 0; i + w <= secret.length; i++) if (out.includes(secret.slice(i, i + w))) return true;
  return false;
}

function score({ verbose = false } = {}) {
  const b = binding();
  const perKind = {};
  const misses = [];
  const corpus = secrets();
  for (const s of corpus) {
    const r = b.redactText(s.text);
    const k = (perKind[s.kind] ??= { total: 0, found: 0, named: 0 });
    k.total++;
    if (leaks(r.text, s.secret)) misses.push({ ...s, out: r.text });
    else k.found++;
    if (r.text.includes(`<redacted:${s.kind}>`)) k.named++;
  }
  const texts = clean();
  let bytes = 0,
    fp = 0,
    standIns = 0,
    standInBytes = 0;
  const falsePositives = [];
  for (const t of texts) {
    const r = b.redactText(t.text);
    if (t.standIns) {
      standIns += r.redactions;
      standInBytes += Buffer.byteLength(t.text);
      continue;
    }
    bytes += Buffer.byteLength(t.text);
    fp += r.redactions;
    if (r.redactions && verbose)
      for (const m of r.text.matchAll(/<redacted:[a-z0-9-]+>/g))
        falsePositives.push({ file: t.name, at: r.text.slice(Math.max(0, m.index - 60), m.index + m[0].length + 30) });
  }
  const found = corpus.length - misses.length;
  const mb = bytes / (1024 * 1024);
  return {
    secrets: corpus.length,
    kinds: Object.keys(perKind).length,
    found,
    recall: found / corpus.length,
    clean_files: texts.filter((t) => !t.standIns).length,
    clean_opencode_files: texts.filter((t) => t.name.startsWith('opencode:')).length,
    clean_mb: mb,
    false_positives: fp,
    fp_per_mb: fp / mb,
    stand_in_files: texts.filter((t) => t.standIns).length,
    stand_ins_caught: standIns,
    fp_per_mb_with_stand_ins: (fp + standIns) / ((bytes + standInBytes) / (1024 * 1024)),
    per_kind: perKind,
    misses: misses.map((m) => ({ kind: m.kind, context: m.context, text: verbose ? m.out : undefined })),
    false_positive_examples: falsePositives,
    targets: { recall: TARGET_RECALL, fp_per_mb: TARGET_FP_PER_MB },
  };
}

function print(r) {
  const pct = (x) => `${(100 * x).toFixed(2)}%`;
  console.log(`secret redaction on the labelled corpus (test/redact/corpus.js)`);
  console.log(
    `  recall: ${r.found} of ${r.secrets} true secrets (${r.kinds} kinds) redacted: ${pct(r.recall)} (target >= ${pct(r.targets.recall)})`,
  );
  console.log(
    `  false positives: ${r.false_positives} in ${r.clean_mb.toFixed(2)} MB of clean text (${r.clean_files} files, ${r.clean_opencode_files} of them OpenCode's bundled JS): ${r.fp_per_mb.toFixed(2)} per MB (target <= ${r.targets.fp_per_mb})`,
  );
  console.log(
    `  the stand-in secrets of this repository's tests (${r.stand_in_files} files, kept apart): ${r.stand_ins_caught} redacted; counted as false positives they would make ${r.fp_per_mb_with_stand_ins.toFixed(2)} per MB`,
  );
  console.log('  per kind (found / total, named by their kind):');
  for (const [kind, k] of Object.entries(r.per_kind))
    console.log(
      `    ${kind.padEnd(24)} ${String(k.found).padStart(3)} / ${String(k.total).padEnd(3)} ${k.named} named`,
    );
  for (const m of r.misses) console.log(`  MISS ${m.kind} (context ${m.context})${m.text ? `:\n${m.text}` : ''}`);
  for (const f of r.false_positive_examples) console.log(`  FALSE POSITIVE ${f.file}: ${JSON.stringify(f.at)}`);
}

module.exports = { score, TARGET_RECALL, TARGET_FP_PER_MB };

if (require.main === module) {
  const args = process.argv.slice(2);
  const r = score({ verbose: args.includes('--verbose') });
  if (args.includes('--json')) console.log(JSON.stringify(r, null, 2));
  else print(r);
  process.exitCode = r.recall >= TARGET_RECALL && r.fp_per_mb <= TARGET_FP_PER_MB ? 0 : 1;
}
