'use strict';
// Puts the Node-API headers of the node-api-headers package where node-gyp looks for them
// (native/nodedir/include/node), so a build never downloads Node's headers. The published
// package carries these headers itself (package.json "files"), so a user's source build
// (`npm run build` in the installed package) needs neither node-api-headers nor a network.
const fs = require('node:fs');
const path = require('node:path');

const to = path.join(__dirname, 'include', 'node');
let from;
try {
  from = require('node-api-headers').include_dir;
} catch (error) {
  if (fs.existsSync(path.join(to, 'node_api.h'))) process.exit(0); // the packaged copy
  console.error('native/nodedir/prepare.js: no Node-API headers: run `npm ci` (node-api-headers)');
  process.exit(1);
}
fs.mkdirSync(to, { recursive: true });
for (const file of fs.readdirSync(from))
  if (file.endsWith('.h')) fs.copyFileSync(path.join(from, file), path.join(to, file));
