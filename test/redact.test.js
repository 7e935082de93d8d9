'use strict';
// Node only: the corpus scorer is long and measures the core, not the runtime (Bun runs the redaction behaviour in redaction.test.js).
// Secret redaction measured on the labelled corpus (test/redact/corpus.js, scored by
// test/redact/score.js through the real core): recall on at least 300 true secrets of every
// built-in kind, and false positives per MB of at least 2 MB of clean text (this repository and
// the JavaScript OpenCode ships).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { score, TARGET_RECALL, TARGET_FP_PER_MB } = require('./redact/score.js');

test('the corpus scores at least the targets: recall >= 99% on the secrets, <= 1 false positive per MB', () => {
  const r = score();
  assert.ok(r.secrets >= 300, `${r.secrets} true secrets in the corpus`);
  assert.ok(r.kinds >= 20, `${r.kinds} kinds in the corpus`);
  assert.ok(r.clean_mb >= 2, `${r.clean_mb.toFixed(2)} MB of clean text`);
  assert.ok(
    r.recall >= TARGET_RECALL,
    `recall ${(100 * r.recall).toFixed(2)}%; missed: ${JSON.stringify(r.misses.map((m) => `${m.kind}/${m.context}`))}`,
  );
  assert.ok(r.fp_per_mb <= TARGET_FP_PER_MB, `${r.false_positives} false positives in ${r.clean_mb.toFixed(2)} MB`);
  for (const [kind, k] of Object.entries(r.per_kind)) assert.ok(k.total >= 10, `${kind}: ${k.total} secrets`);
});
