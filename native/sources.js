'use strict';
// The one list of the core's C sources, read by binding.gyp (`node native/sources.js`), the
// prebuild recipe and its stale-prebuild check: every .c file in native/ and native/gen/
// (generated code may live there), sorted. Headers: listHeaders().
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DIRS = ['native', 'native/gen'];

function list(ext) {
  const out = [];
  for (const dir of DIRS) {
    let names = [];
    try {
      names = fs.readdirSync(path.join(ROOT, dir));
    } catch {
      continue;
    }
    for (const name of names) if (name.endsWith(ext)) out.push(`${dir}/${name}`);
  }
  return out.sort();
}

/** native/*.c and native/gen/*.c, relative to the package root. */
const listSources = () => list('.c');
/** native/*.h and native/gen/*.h, relative to the package root. */
const listHeaders = () => list('.h');

module.exports = { listSources, listHeaders };

if (require.main === module) process.stdout.write(listSources().join('\n') + '\n');
