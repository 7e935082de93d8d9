'use strict';
// The SHA-256 of everything a prebuild is made from (native sources, binding.gyp, the prebuild
// scripts), recorded in prebuilds/manifest.json by `npm run release`. Run directly, it checks
// that the committed prebuild was built from the sources beside it:
//   node native/prebuild/sources.js --check
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

function sourcesHash() {
  const files = [
    'binding.gyp',
    ...fs.readdirSync(path.join(ROOT, 'native')).filter((f) => /\.(c|h)$/.test(f)).map((f) => `native/${f}`),
    ...fs.readdirSync(__dirname).filter((f) => f !== 'sources.js').map((f) => `native/prebuild/${f}`),
  ].sort();
  const hash = crypto.createHash('sha256');
  for (const f of files) hash.update(f).update('\0').update(fs.readFileSync(path.join(ROOT, f))).update('\0');
  return hash.digest('hex');
}

if (require.main === module && process.argv.includes('--check')) {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'prebuilds', 'manifest.json'), 'utf8'));
  const now = sourcesHash();
  if (manifest.sources_sha256 !== now) {
    console.error(`prebuilds/linux-x64/node.napi.node is stale: it was built from other native sources ` +
      `(manifest ${manifest.sources_sha256 || 'has no sources hash'}, sources ${now}); run \`npm run release\` and commit prebuilds/`);
    process.exit(1);
  }
  console.log('the bundled prebuild was built from these native sources');
}

module.exports = { sourcesHash };
