'use strict';
// Node only: it checks the repository's files against the core's table, not the runtime.
// The settings schema is stated once, in the core (native/config.c's table): lib/settings.json
// is its copy for the CLI, and the settings table of docs/settings.md documents it. These tests
// fail when either drifts from the core.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { FILE, schema } = require('../native/settings-schema.js');

const ROOT = path.join(__dirname, '..');
const core = JSON.parse(schema());

// The rows of the settings table in docs/settings.md: [{envs, keys, defaults, line}], cells by
// their `code` spans (a variable is UPPER_CASE, a file key is lower-case and may be dotted).
function docRows() {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'settings.md'), 'utf8');
  const section = text.slice(text.indexOf('\n## Every setting\n'));
  const lines = section.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| variable | config file | default |'));
  assert.ok(start > 0, 'docs/settings.md has a settings table under "Every setting"');
  const rows = [];
  for (let i = start + 2; i < lines.length && lines[i].startsWith('|'); i++) {
    const cells = lines[i].replace(/^\|/, '').split(' | ');
    const code = (cell) => [...(cell || '').matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    rows.push({
      envs: code(cells[0]).filter((c) => /^[A-Z][A-Z0-9_]+$/.test(c)),
      keys: code(cells[1]).filter((c) => /^[a-z_]+(\.[a-z_]+)*$/.test(c)),
      defaults: code(cells[2]),
      line: lines[i],
    });
  }
  return rows;
}

test("lib/settings.json is the core's settings schema (run `node native/settings-schema.js` after changing it)", () => {
  assert.deepEqual(JSON.parse(fs.readFileSync(FILE, 'utf8')), core);
});

test('the settings table of docs/settings.md names every variable and file key of the schema, with its default', () => {
  const rows = docRows();
  for (const s of core.settings) {
    const names = [...s.env, s.keys[0], s.old_keys[0]].filter(Boolean);
    const row = rows.find((r) => names.some((n) => r.envs.includes(n) || r.keys.includes(n)));
    assert.ok(row, `a docs/settings.md row for ${names.join(', ')}`);
    for (const env of s.env) assert.ok(row.envs.includes(env), `${env} in the row: ${row.line}`);
    for (const key of [s.keys[0], s.old_keys[0]].filter(Boolean))
      assert.ok(
        row.keys.includes(key) || rows.some((r) => r.keys.includes(key)),
        `${key} in the docs/settings.md table`,
      );
    if (s.default !== null && s.default !== undefined)
      assert.ok(
        row.defaults.includes(String(s.default)),
        `default ${s.default} of ${names[0]} in the row: ${row.line}`,
      );
  }
});

test('the settings table of docs/settings.md names no variable or file key the schema lacks', () => {
  const envs = new Set(core.settings.flatMap((s) => s.env));
  const keys = new Set(core.settings.flatMap((s) => [...s.keys, ...s.old_keys]));
  for (const row of docRows()) {
    for (const env of row.envs) assert.ok(envs.has(env), `${env} (docs/settings.md) is a setting of the core`);
    for (const key of row.keys.filter((k) => k.includes('.') || keys.has(k)))
      assert.ok(keys.has(key), `${key} (docs/settings.md) is a file key of the core`);
  }
});

test('the CLI takes regions, backends and the header-name rule from the schema', () => {
  const s = require('../lib/settings.js');
  assert.deepEqual(
    s.REGIONS,
    core.backends.find((b) => b.name === 'arize').regions.map((r) => r.name),
  );
  assert.deepEqual(s.TARGETS, ['arize', 'phoenix', 'otlp']);
  assert.equal(s.isHeaderName('x-api-key'), true);
  assert.equal(s.isHeaderName('bad header'), false);
  assert.deepEqual(require('../lib/cli/config-file.js').KEYS, [
    'project_name',
    'target',
    'region',
    'endpoint',
    'api_key',
    'space_id',
    'headers',
  ]);
});
