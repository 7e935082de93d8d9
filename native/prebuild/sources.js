'use strict';
// The SHA-256 of everything a prebuild is made from (native sources, binding.gyp, the prebuild
// scripts, the pinned dependency list), recorded in prebuilds/manifest.json by `npm run release`. Run directly, it checks
// that the committed prebuild was built from the sources beside it:
//   node native/prebuild/sources.js --check
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { listSources, listHeaders } = require('../sources.js');
const { TARGETS } = require('./targets.js');

const ROOT = path.join(__dirname, '..', '..');
// The prebuilds the package carries, one per target; each must be listed in the manifest
// with its SHA-256.
const BUNDLED = Object.keys(TARGETS);

function sourcesHash() {
  const files = [
    'binding.gyp',
    'native/sources.js',
    ...listSources(),
    ...listHeaders(),
    ...fs
      .readdirSync(__dirname)
      .filter((f) => f !== 'sources.js')
      .map((f) => `native/prebuild/${f}`),
  ].sort();
  const hash = crypto.createHash('sha256');
  for (const f of files)
    hash
      .update(f)
      .update('\0')
      .update(fs.readFileSync(path.join(ROOT, f)))
      .update('\0');
  return hash.digest('hex');
}

if (require.main === module && process.argv.includes('--check')) {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'prebuilds', 'manifest.json'), 'utf8'));
  const now = sourcesHash();
  const problems = [];
  if (manifest.sources_sha256 !== now)
    problems.push(
      `the bundled prebuilds (${BUNDLED.join(', ')}) were built from other native sources ` +
        `(manifest ${manifest.sources_sha256 || 'has no sources hash'}, sources ${now})`,
    );
  for (const key of BUNDLED) {
    const file = path.join(ROOT, 'prebuilds', key, 'node.napi.node');
    const entry = manifest.binaries && manifest.binaries[key];
    if (!fs.existsSync(file)) problems.push(`prebuilds/${key}/node.napi.node is missing`);
    else if (!entry || entry.sha256 !== crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'))
      problems.push(`prebuilds/${key}/node.napi.node is not the file prebuilds/manifest.json lists`);
    else if (entry.bundled !== `${key}/node.napi.node`)
      problems.push(`prebuilds/manifest.json does not list prebuilds/${key}/node.napi.node as bundled`);
  }
  for (const key of fs.readdirSync(path.join(ROOT, 'prebuilds')))
    if (!BUNDLED.includes(key) && fs.statSync(path.join(ROOT, 'prebuilds', key)).isDirectory())
      problems.push(`prebuilds/${key}/ is no target of native/prebuild/targets.js`);
  if (problems.length) {
    console.error(
      `${problems.join('\n')}\nrun \`npm run release\` (rebuilds ${BUNDLED.join(', ')}) and commit prebuilds/`,
    );
    process.exit(1);
  }
  console.log(`the bundled prebuilds (${BUNDLED.join(', ')}) were built from these native sources`);
}

module.exports = { sourcesHash };
