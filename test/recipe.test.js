'use strict';
// The prebuild recipe is reproducible: every target of native/prebuild/targets.js, rebuilt
// from a copy of these sources in another directory, is the committed prebuild byte for byte
// (the Mach-O UUID included: macho.js makes it a hash of the content). The toolchains and
// static libraries come from the build cache (native/prebuild/tools.js), filled on first use.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, tempDir, runProcess } = require('./helpers/package.js');
const { TARGETS } = require('../native/prebuild/targets.js');

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('every target rebuilt from a copy of these sources elsewhere is the committed prebuild, byte for byte', async () => {
  const copy = tempDir('oat-recipe-copy-');
  for (const f of ['package.json', 'binding.gyp', 'native'])
    fs.cpSync(path.join(ROOT, f), path.join(copy, f), { recursive: true });
  const out = tempDir('oat-recipe-out-');
  const r = await runProcess(process.execPath, [path.join(copy, 'native/prebuild/prebuild.js'), '--out', out], {
    env: process.env,
    timeoutMs: 45 * 60 * 1000,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'prebuilds', 'manifest.json'), 'utf8'));
  for (const key of Object.keys(TARGETS)) {
    const built = path.join(out, key, 'node.napi.node');
    assert.equal(
      sha256(built),
      sha256(path.join(ROOT, 'prebuilds', key, 'node.napi.node')),
      `${key}: the rebuild differs from prebuilds/${key}/node.napi.node`,
    );
    assert.equal(sha256(built), manifest.binaries[key].sha256);
  }
  console.log(
    `# ${
      r.stdout
        .trim()
        .split('\n')
        .filter((l) => /^prebuilds|node\.napi\.node:/.test(l)).length
    } cores rebuilt, identical`,
  );
});
