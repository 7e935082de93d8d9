'use strict';
// Writes lib/settings.json: the settings schema as the core states it (config.c's table, through
// binding.settingsSchema()). The CLI reads the file, so it works where the core does not load;
// test/settings.test.js fails when the file and the core disagree. Run after changing the table:
//   npm run build && node native/settings-schema.js
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const FILE = path.join(ROOT, 'lib', 'settings.json');
const schema = () => require('node-gyp-build')(ROOT).settingsSchema() + '\n';

if (require.main === module) fs.writeFileSync(FILE, schema());
module.exports = { FILE, schema };
