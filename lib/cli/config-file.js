'use strict';
// The harnesses.opencode block of ~/.arize/harness/config.yaml (or config.json), read and
// edited key by key. Only the keys install manages are touched (KEYS); every other key of the
// block (attributes, export.*, limits.*, ...), every comment and the rest of the file (other
// harnesses, order) stay byte for byte as they were.
const fs = require('node:fs');
const { MARKER, configPath, readText, writePrivate, tilde } = require('./common.js');
const { HARNESS_SETTINGS, TARGETS, REGIONS } = require('../settings.js');

/** The keys install writes, in the order a new block lists them: the harness block's settings. */
const KEYS = Object.keys(HARNESS_SETTINGS);
const isMap = (key) => HARNESS_SETTINGS[key].type === 'mapping';

const q = (s) => JSON.stringify(String(s)); // a JSON string is a valid YAML double-quoted scalar
const indentOf = (line) => /^ */.exec(line)[0].length;
const isContent = (line) => line.trim() !== '' && !line.trimStart().startsWith('#');
const keyRe = (key) => new RegExp(`^\\s*["']?${key}["']?\\s*:`);

// Where the harnesses block and its opencode child sit: {h, end, childIndent, o, oEnd}.
function locate(lines) {
  const h = lines.findIndex((l) => /^harnesses\s*:/.test(l));
  if (h < 0) return null;
  if (/^harnesses\s*:\s*[^\s#]/.test(lines[h]))
    throw new Error(
      'harnesses in the config file is not a block mapping (flow style?): edit the harnesses.opencode block by hand',
    );
  let end = h + 1;
  while (end < lines.length && !(isContent(lines[end]) && indentOf(lines[end]) === 0)) end++;
  const first = lines.slice(h + 1, end).find(isContent);
  const childIndent = first ? indentOf(first) : 2;
  let o = -1;
  for (let i = h + 1; i < end; i++) {
    if (isContent(lines[i]) && indentOf(lines[i]) === childIndent && keyRe('opencode').test(lines[i])) o = i;
  }
  let oEnd = -1;
  if (o >= 0) {
    if (/:\s*[^\s#]/.test(lines[o].replace(/^\s*["']?opencode["']?/, '')))
      throw new Error('harnesses.opencode in the config file is not a block mapping: edit it by hand');
    oEnd = o + 1;
    let last = o;
    while (oEnd < end && (!isContent(lines[oEnd]) || indentOf(lines[oEnd]) > childIndent)) {
      if (lines[oEnd].trim() !== '' && indentOf(lines[oEnd]) > childIndent) last = oEnd;
      oEnd++;
    }
    oEnd = last + 1; // trailing blank lines and the next block's comments stay
  }
  return { h, end, childIndent, o, oEnd };
}

// The indentation of the block's keys: its first key's, else two more than `opencode:`.
function keyIndentOf(lines, at) {
  for (let i = at.o + 1; i < at.oEnd; i++) if (isContent(lines[i])) return indentOf(lines[i]);
  return at.childIndent + 2;
}

// The lines [i, j) of `key:` in the block and what is nested under it, or null.
function findKey(lines, at, indent, key) {
  for (let i = at.o + 1; i < at.oEnd; i++) {
    if (!isContent(lines[i]) || indentOf(lines[i]) !== indent || !keyRe(key).test(lines[i])) continue;
    let j = i + 1;
    for (let k = i + 1; k < at.oEnd; k++) {
      if (isContent(lines[k]) && indentOf(lines[k]) <= indent) break;
      if (isContent(lines[k])) j = k + 1;
    }
    return [i, j];
  }
  return null;
}

// The text of a YAML scalar as written on one line: "double" (JSON escapes), 'single', plain
// (a trailing " # comment" is not part of it).
function scalar(text) {
  const t = text.trim();
  if (t.startsWith('"')) {
    const m = /^"(?:[^"\\]|\\.)*"/.exec(t);
    try {
      return m ? JSON.parse(m[0]) : t;
    } catch {
      return m[0].slice(1, -1);
    }
  }
  if (t.startsWith("'")) {
    const m = /^'(?:[^']|'')*'/.exec(t);
    return m ? m[0].slice(1, -1).replace(/''/g, "'") : t;
  }
  return t.replace(/\s+#.*$/, '');
}

// A trailing comment of a one-line `key: value  # comment`, kept when the value changes.
function trailingComment(line) {
  const after = line.replace(/^[^:]*:\s*/, '');
  const value = after.startsWith('"')
    ? /^"(?:[^"\\]|\\.)*"/.exec(after)
    : after.startsWith("'")
      ? /^'(?:[^']|'')*'/.exec(after)
      : null;
  const rest = value ? after.slice(value[0].length) : after.replace(/^[^#]*?(?=\s+#|$)/, '');
  const m = /^(\s+#.*)$/.exec(rest);
  return m ? m[1] : '';
}

function entryLines(key, value, indent) {
  const pad = ' '.repeat(indent);
  if (isMap(key)) return [`${pad}${key}:`, ...value.map(([n, v]) => `${pad}  ${q(n)}: ${q(v)}`)];
  // a backend or region name is written plain, like a user would; anything else quoted
  const plain = !HARNESS_SETTINGS[key].secret && (TARGETS.includes(value) || REGIONS.includes(value));
  return [`${pad}${key}: ${plain ? value : q(value)}`];
}

/** What the block holds of the keys install manages: {project_name, target, ..., headers}. */
function readBlock(text, isJson) {
  if (isJson) {
    let block;
    try {
      block = JSON.parse(text).harnesses?.opencode;
    } catch {
      return null;
    }
    if (!block || typeof block !== 'object') return null;
    const out = {};
    for (const k of KEYS) {
      if (!isMap(k) && typeof block[k] === 'string') out[k] = block[k];
      if (isMap(k) && block[k] && typeof block[k] === 'object')
        out[k] = Object.entries(block[k]).map(([n, v]) => [n, String(v)]);
    }
    return out;
  }
  const lines = text.replace(/\n$/, '').split('\n');
  let at;
  try {
    at = locate(lines);
  } catch {
    return null;
  }
  if (!at || at.o < 0) return null;
  const indent = keyIndentOf(lines, at);
  const out = {};
  for (const key of KEYS) {
    const span = findKey(lines, at, indent, key);
    if (!span) continue;
    if (isMap(key)) {
      out[key] = lines
        .slice(span[0] + 1, span[1])
        .filter(isContent)
        .map((l) => {
          const m = /^\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:]+?)\s*:\s*(.*)$/.exec(l);
          return m ? [scalar(m[1]), scalar(m[2])] : null;
        })
        .filter(Boolean);
    } else {
      const value = scalar(lines[span[0]].replace(keyRe(key), ''));
      if (value !== '' && value !== '~' && value !== 'null') out[key] = value;
    }
  }
  return out;
}

/**
 * The YAML text with the managed keys of harnesses.opencode changed: changes[key] is a string
 * (or [[name, value]] for headers) to set, null to remove, absent to leave as it is. With
 * changes null every managed key is removed (uninstall), and the block with them when nothing
 * else is left in it.
 */
function editYaml(text, changes) {
  const trailingNewline = text === '' || text.endsWith('\n');
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const remove = changes === null;
  const set = remove ? Object.fromEntries(KEYS.map((k) => [k, null])) : changes;
  let at = locate(lines);
  const adding = KEYS.filter((k) => set[k] !== undefined && set[k] !== null);
  if (!at || at.o < 0) {
    if (!adding.length) return text;
    const block = (indent) => [
      `${' '.repeat(indent)}opencode:`,
      `${' '.repeat(indent + 2)}# ${MARKER}: written by \`opencode-arize-tracing install\``,
      ...adding.flatMap((k) => entryLines(k, set[k], indent + 2)),
    ];
    if (!at) {
      if (lines.length && lines[lines.length - 1].trim() !== '') lines.push('');
      lines.push('harnesses:', ...block(2));
      return lines.join('\n') + '\n';
    }
    // after the last line of the harnesses block: blank lines and comments that are not
    // indented (they introduce the next top-level key) stay below
    let insert = at.end;
    while (
      insert > at.h + 1 &&
      (lines[insert - 1].trim() === '' ||
        (!isContent(lines[insert - 1]) && indentOf(lines[insert - 1]) < at.childIndent))
    )
      insert--;
    lines.splice(insert, 0, ...block(at.childIndent));
    return lines.join('\n') + (trailingNewline ? '\n' : '');
  }
  const indent = keyIndentOf(lines, at);
  for (const key of KEYS) {
    if (set[key] === undefined) continue;
    at = locate(lines);
    const span = findKey(lines, at, indent, key);
    if (set[key] === null) {
      if (span) lines.splice(span[0], span[1] - span[0]);
      continue;
    }
    const next = entryLines(key, set[key], indent);
    if (span) {
      if (!isMap(key) && span[1] - span[0] === 1) next[0] += trailingComment(lines[span[0]]);
      const same = next.length === span[1] - span[0] && next.every((l, k) => l === lines[span[0] + k]);
      if (!same) lines.splice(span[0], span[1] - span[0], ...next);
    } else {
      lines.splice(at.oEnd, 0, ...next);
    }
  }
  if (remove) {
    at = locate(lines);
    const marker = lines.findIndex((l, i) => i > at.o && i < at.oEnd && l.includes(MARKER));
    if (marker >= 0) lines.splice(marker, 1);
    at = locate(lines);
    if (!lines.slice(at.o + 1, at.oEnd).some(isContent)) lines.splice(at.o, at.oEnd - at.o);
    const again = locate(lines);
    if (again && !lines.slice(again.h + 1, again.end).some((l) => l.trim() !== ''))
      lines.splice(again.h, again.end - again.h);
  }
  const out = lines.join('\n');
  return out === '' ? '' : out + (trailingNewline ? '\n' : '');
}

function hasOurBlock(file) {
  const text = readText(file);
  if (text === null) return false;
  if (file.endsWith('.json')) return readBlock(text, true) !== null;
  try {
    const at = locate(text.replace(/\n$/, '').split('\n'));
    return Boolean(at && at.o >= 0);
  } catch {
    return false;
  }
}

/**
 * Why the config file in use cannot be edited safely, or '' (also when it does not exist): it
 * is not a regular file, not UTF-8, not valid JSON, or (as the core reads it) not valid YAML.
 * The reason says where: "line N: ...".
 */
function unparseable(file = configPath()) {
  let st;
  try {
    st = fs.statSync(file);
  } catch (error) {
    return error.code === 'ENOENT' || error.code === 'ENOTDIR' ? '' : `cannot be read (${error.code})`;
  }
  if (st.isDirectory()) return 'is a directory';
  if (!st.isFile()) return 'is not a regular file';
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    return `cannot be read (${error.code})`;
  }
  const lines = bytes.toString('latin1').split('\n');
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    try {
      decoder.decode(bytes.subarray(at, at + lines[i].length));
    } catch {
      return `line ${i + 1}: not UTF-8 text`;
    }
    at += lines[i].length + 1;
  }
  const text = bytes.toString('utf8');
  if (file.endsWith('.json')) {
    if (!text.trim()) return '';
    try {
      JSON.parse(text);
      return '';
    } catch (error) {
      const pos = /position (\d+)/.exec(error.message);
      const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : null;
      return `${line ? `line ${line}: ` : ''}invalid JSON`;
    }
  }
  // YAML: the core's own parser says (libyaml), when the core loads here; the line-based edit
  // below refuses what it cannot place anyway.
  let core;
  try {
    core = JSON.parse(require('../native.js').binding.configStatus());
  } catch {
    return '';
  }
  const config = core.config || {};
  if (!config.broken || config.path !== file) return '';
  const prefix = `config ${file}: `;
  return String(config.warning || 'invalid YAML').startsWith(prefix)
    ? config.warning.slice(prefix.length)
    : config.warning;
}

/** unparseable(file) as an Error for a command about to edit the file, or null. */
function refuseToEdit(file = configPath(), what = 'install') {
  const why = unparseable(file);
  if (!why) return null;
  return new Error(
    `${tilde(file)} ${/^(is|cannot) /.test(why) ? why : `cannot be parsed (${why})`}: ${what} edits only a file it can read; ` +
      'fix it (or move it away), then run this again',
  );
}

/** The stored managed keys of the file in use, or null when it has no harnesses.opencode. */
function readStored() {
  const file = configPath();
  const text = readText(file);
  return text === null ? null : readBlock(text, file.endsWith('.json'));
}

/** Applies changes (see editYaml) to the file in use. Returns {file, changed}. */
function writeConfig(changes) {
  const file = configPath();
  if (file.endsWith('.json')) {
    const before = readText(file) || '{}';
    const data = JSON.parse(before || '{}');
    const harnesses = data.harnesses || {};
    const block = harnesses.opencode || {};
    for (const key of KEYS) {
      const v = changes === null ? null : changes[key];
      if (v === undefined) continue;
      if (v === null) delete block[key];
      else block[key] = isMap(key) ? Object.fromEntries(v) : v;
    }
    if (Object.keys(block).length) harnesses.opencode = block;
    else delete harnesses.opencode;
    if (Object.keys(harnesses).length) data.harnesses = harnesses;
    else delete data.harnesses;
    const after = JSON.stringify(data, null, 2) + '\n';
    const changed = JSON.stringify(JSON.parse(before)) !== JSON.stringify(data);
    if (changed) writePrivate(file, after);
    return { file, changed };
  }
  const before = readText(file) ?? '';
  const after = editYaml(before, changes);
  const changed = after !== before;
  if (changes === null && after.trim() === '') fs.rmSync(file, { force: true });
  else if (changed || !fs.existsSync(file)) writePrivate(file, after);
  else fs.chmodSync(file, 0o600);
  return { file, changed };
}

/** The names of the further destinations the file in use lists (harnesses.opencode.destinations). */
function destinationNames(file = configPath()) {
  const text = readText(file);
  if (text === null) return [];
  if (file.endsWith('.json')) {
    try {
      const list = JSON.parse(text).harnesses?.opencode?.destinations;
      return Array.isArray(list) ? list.map((d) => d && String(d.name)) : [];
    } catch {
      return [];
    }
  }
  const lines = text.replace(/\n$/, '').split('\n');
  let at;
  try {
    at = locate(lines);
  } catch {
    return [];
  }
  if (!at || at.o < 0) return [];
  const span = findKey(lines, at, keyIndentOf(lines, at), 'destinations');
  if (!span) return [];
  return lines
    .slice(span[0] + 1, span[1])
    .map((l) => /^\s*(?:-\s*)?name\s*:\s*(.*)$/.exec(l))
    .filter(Boolean)
    .map((m) => scalar(m[1]));
}

// The YAML lines of one destination entry, as a list item at indent.
function destinationLines(entry, indent) {
  const pad = ' '.repeat(indent);
  const out = [];
  for (const [k, v] of Object.entries(entry)) {
    const lead = out.length ? `${pad}  ` : `${pad}- `;
    if (k === 'headers') out.push(`${lead}headers:`, ...v.map(([n, x]) => `${pad}    ${q(n)}: ${q(x)}`));
    else if (k === 'target' || k === 'region') out.push(`${lead}${k}: ${v}`);
    else out.push(`${lead}${k}: ${q(v)}`);
  }
  return out;
}

/**
 * Appends one destination {name, target, endpoint?, region?, api_key?, space_id?, headers?,
 * project_name} to harnesses.opencode.destinations of the file in use (created when absent); the
 * rest of the file stays byte for byte. Returns {file}.
 */
function appendDestination(entry) {
  const file = configPath();
  if (file.endsWith('.json')) {
    const data = JSON.parse(readText(file) || '{}');
    data.harnesses = data.harnesses || {};
    data.harnesses.opencode = data.harnesses.opencode || {};
    const list = data.harnesses.opencode.destinations || [];
    list.push({ ...entry, ...(entry.headers ? { headers: Object.fromEntries(entry.headers) } : {}) });
    data.harnesses.opencode.destinations = list;
    writePrivate(file, JSON.stringify(data, null, 2) + '\n');
    return { file };
  }
  let text = readText(file) ?? '';
  let lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  let at = locate(lines);
  if (!at || at.o < 0) {
    // no harnesses.opencode yet: the block, with only the list in it
    if (!at) {
      if (lines.length && lines[lines.length - 1].trim() !== '') lines.push('');
      lines.push('harnesses:', '  opencode:', `    # ${MARKER}: written by \`opencode-arize-tracing install\``);
    } else {
      lines.splice(at.end, 0, `${' '.repeat(at.childIndent)}opencode:`);
    }
    at = locate(lines);
  }
  const indent = keyIndentOf(lines, at);
  const span = findKey(lines, at, indent, 'destinations');
  if (span) {
    const item = lines.slice(span[0] + 1, span[1]).find((l) => /^\s*-/.test(l));
    lines.splice(span[1], 0, ...destinationLines(entry, item ? indentOf(item) : indent + 2));
  } else {
    lines.splice(at.oEnd, 0, `${' '.repeat(indent)}destinations:`, ...destinationLines(entry, indent + 2));
  }
  writePrivate(file, lines.join('\n') + '\n');
  return { file };
}

module.exports = {
  destinationNames,
  appendDestination,
  KEYS,
  editYaml,
  readBlock,
  readStored,
  writeConfig,
  hasOurBlock,
  locate,
  unparseable,
  refuseToEdit,
};
