'use strict';
// The settings schema for JS: lib/settings.json, written from the core's tables (native/config.c's
// settings, native/backend.c's backend rows; `node native/settings-schema.js`), so the CLI names no
// file key, backend, region or header rule of its own. A plain JSON read: it works where the core does not load.
const SCHEMA = require('./settings.json');

const HARNESS = 'harnesses.opencode.';
const BACKENDS = Object.fromEntries(SCHEMA.backends.map((b) => [b.name, b]));

/** The region names (us, eu, ...) of the backend that has regions (Arize AX), the default first. */
const REGIONS = (SCHEMA.backends.find((b) => b.regions.length)?.regions ?? []).map((r) => r.name);

/** The keys of the credentials a backend requires (api_key, space_id; [] when none or unknown). */
const credentialKeys = (name) =>
  (BACKENDS[name]?.settings ?? []).filter((s) => s.required && s.key !== 'endpoint').map((s) => s.key);

/** The backend's settings of the harnesses.opencode block (install manages these), by key:
 * {project_name: {...}, ...}. The block's other keys (project_files, project_credentials: what a
 * project's file may do) are the user's to write; the schema says so (project: "no"). The list of
 * further destinations is not one of them (install --add-destination appends to it). */
const HARNESS_SETTINGS = Object.fromEntries(
  SCHEMA.settings
    .filter((s) => s.keys.length === 1 && s.keys[0].startsWith(HARNESS) && s.project !== 'no' && s.type !== 'sequence')
    .map((s) => [s.keys[0].slice(HARNESS.length), s]),
);

/** The backend names a file's `target` may hold: the core's backend rows, in order. */
const TARGETS = SCHEMA.backends.map((b) => b.name);

const WORD = /^[0-9A-Za-z]$/;
/** An HTTP header name as the core accepts it (RFC 9110 token). */
const isHeaderName = (name) =>
  name.length > 0 && [...name].every((ch) => WORD.test(ch) || SCHEMA.header_name_symbols.includes(ch));

/** "a, b or c". */
const orList = (names) =>
  names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : names.join('');

module.exports = { SCHEMA, BACKENDS, REGIONS, HARNESS_SETTINGS, TARGETS, credentialKeys, isHeaderName, orList };
