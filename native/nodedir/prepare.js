'use strict';
// Puts the Node-API headers of the node-api-headers package where node-gyp looks for them
// (native/nodedir/include/node), so a build never downloads Node's headers.
const fs = require('node:fs');
const path = require('node:path');

const from = require('node-api-headers').include_dir;
const to = path.join(__dirname, 'include', 'node');
fs.mkdirSync(to, { recursive: true });
for (const file of fs.readdirSync(from)) if (file.endsWith('.h')) fs.copyFileSync(path.join(from, file), path.join(to, file));
