#!/usr/bin/env node
'use strict';
// opencode-arize-tracing: set up, check and remove tracing for OpenCode.
//
//   install       choose a backend and credentials, write them to ~/.arize/harness/config.yaml
//                 (only its harnesses.opencode block), register the plugin with OpenCode
//   uninstall     remove exactly what install added
//   status        version, binary, backend, project, spool, last export, counters (no secrets)
//   doctor        check each link from OpenCode to the backend; print the fix for the first
//                 broken one
//   fetch-binary  download the release binary for a platform the package has no prebuild for
const dns = require('node:dns');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const binary = require('./binary.js');

const ROOT = binary.ROOT;
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const MARKER = 'opencode-arize-tracing:managed';
const COPY_MARKER = '.installed-by-opencode-arize-tracing';
const PLUGIN_NAME = 'arize-tracing.ts';
const REGIONS = ['us', 'eu', 'ca'];

const USAGE = `usage: opencode-arize-tracing <command> [options]

commands:
  install        set up tracing: backend, credentials, project; registers the OpenCode plugin
  uninstall      remove what install added (the plugin file, the harnesses.opencode block)
  status         what is configured and loaded, spool and counters (never a secret)
  doctor         check every link to the backend, print the fix for the first broken one
  fetch-binary   download the native core for this platform (when the package has no prebuild)
  backfill       trace past OpenCode sessions, close turns a killed OpenCode left open (backfill --help)

install options (each falls back to the environment variable shown; prompts fill the rest
when run in a terminal, --yes never prompts):
  --backend arize|phoenix|otlp
  --region us|eu|ca               Arize AX region                      ARIZE_REGION
  --api-key KEY                   Arize AX or Phoenix API key          ARIZE_API_KEY, PHOENIX_API_KEY
  --space-id ID                   Arize AX space id                    ARIZE_SPACE_ID
  --endpoint URL                  Phoenix / OTLP endpoint (or Arize)   PHOENIX_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT
  --header name=value             OTLP header, repeatable              OTEL_EXPORTER_OTLP_HEADERS
  --project-name NAME             project the traces land in           ARIZE_PROJECT_NAME
  --project                       register the plugin in ./.opencode instead of ~/.config/opencode
  --yes                           never prompt
status options: --json`;

// ---------------------------------------------------------------------------------------------
// Arguments and paths

function parseArgs(argv) {
  const flags = { headers: [] };
  const names = { '--backend': 'backend', '--region': 'region', '--api-key': 'apiKey', '--space-id': 'spaceId',
    '--endpoint': 'endpoint', '--project-name': 'projectName', '--header': 'header' };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    if (flag === '--project') flags.project = true;
    else if (flag === '--yes' || flag === '-y') flags.yes = true;
    else if (flag === '--json') flags.json = true;
    else if (flag === '--force') flags.force = true;
    else if (flag === '--help' || flag === '-h') flags.help = true;
    else if (names[flag]) {
      const value = inline !== undefined ? inline : argv[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      if (flag === '--header') flags.headers.push(value);
      else flags[names[flag]] = value;
    } else if (flag.startsWith('-')) throw new UsageError(`unknown option ${flag}`);
    else positional.push(argv[i]);
  }
  return { command: positional[0], flags };
}

class UsageError extends Error {}

const home = () => process.env.HOME || os.homedir();
const harnessDir = () => path.join(home(), '.arize', 'harness');
const yamlPath = () => path.join(harnessDir(), 'config.yaml');
const jsonPath = () => path.join(harnessDir(), 'config.json');
// The file the core reads: config.yaml, or config.json when only that one exists.
const configPath = () => (!fs.existsSync(yamlPath()) && fs.existsSync(jsonPath()) ? jsonPath() : yamlPath());
const globalDir = () => path.join(process.env.XDG_CONFIG_HOME || path.join(home(), '.config'), 'opencode');
const opencodeDir = (flags) => (flags.project ? path.join(process.cwd(), '.opencode') : globalDir());
const tilde = (p) => (p && p.startsWith(home() + path.sep) ? '~' + p.slice(home().length) : p);

// ---------------------------------------------------------------------------------------------
// The harnesses.opencode block of config.yaml, edited as text: the rest of the file (other
// harnesses, comments, order) stays byte for byte as it was.

const q = (s) => JSON.stringify(String(s)); // a JSON string is a valid YAML double-quoted scalar

function blockLines(settings, indent) {
  const i2 = indent + '  ';
  const lines = [`${indent}opencode:`, `${i2}# ${MARKER}: written by \`opencode-arize-tracing install\``];
  lines.push(`${i2}project_name: ${q(settings.projectName)}`);
  lines.push(`${i2}target: ${settings.backend}`);
  if (settings.region) lines.push(`${i2}region: ${settings.region}`);
  if (settings.endpoint) lines.push(`${i2}endpoint: ${q(settings.endpoint)}`);
  if (settings.apiKey) lines.push(`${i2}api_key: ${q(settings.apiKey)}`);
  if (settings.spaceId) lines.push(`${i2}space_id: ${q(settings.spaceId)}`);
  if (settings.headers && settings.headers.length) {
    lines.push(`${i2}headers:`);
    for (const [name, value] of settings.headers) lines.push(`${i2}  ${q(name)}: ${q(value)}`);
  }
  return lines;
}

const indentOf = (line) => /^ */.exec(line)[0].length;
const isContent = (line) => line.trim() !== '' && !line.trimStart().startsWith('#');

// Where the harnesses block and its opencode child sit: {h, end, childIndent, o, oEnd}.
function locate(lines) {
  const h = lines.findIndex((l) => /^harnesses\s*:/.test(l));
  if (h < 0) return null;
  if (/^harnesses\s*:\s*[^\s#]/.test(lines[h]))
    throw new Error('harnesses in the config file is not a block mapping (flow style?): edit the harnesses.opencode block by hand');
  let end = h + 1;
  while (end < lines.length && !(isContent(lines[end]) && indentOf(lines[end]) === 0)) end++;
  const first = lines.slice(h + 1, end).find(isContent);
  const childIndent = first ? indentOf(first) : 2;
  let o = -1;
  for (let i = h + 1; i < end; i++) {
    if (isContent(lines[i]) && indentOf(lines[i]) === childIndent && /^\s*["']?opencode["']?\s*:/.test(lines[i])) o = i;
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

/** The YAML text with the harnesses.opencode block set (settings) or removed (null). */
function editYaml(text, settings) {
  const trailingNewline = text === '' || text.endsWith('\n');
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const at = locate(lines);
  if (!at) {
    if (!settings) return text;
    if (lines.length && lines[lines.length - 1].trim() !== '') lines.push('');
    lines.push('harnesses:', ...blockLines(settings, '  '));
    return lines.join('\n') + '\n';
  }
  const indent = ' '.repeat(at.childIndent);
  if (at.o >= 0) lines.splice(at.o, at.oEnd - at.o, ...(settings ? blockLines(settings, indent) : []));
  else if (settings) {
    // after the last line of the harnesses block: blank lines and comments that are not
    // indented (they introduce the next top-level key) stay below
    let insert = at.end;
    while (insert > at.h + 1 && (lines[insert - 1].trim() === '' ||
      (!isContent(lines[insert - 1]) && indentOf(lines[insert - 1]) < at.childIndent))) insert--;
    lines.splice(insert, 0, ...blockLines(settings, indent));
  }
  if (!settings) {
    const again = locate(lines);
    if (again && !lines.slice(again.h + 1, again.end).some((l) => l.trim() !== '')) lines.splice(again.h, again.end - again.h);
  }
  const out = lines.join('\n');
  return out === '' ? '' : out + (trailingNewline ? '\n' : '');
}

function hasOurBlock(file) {
  if (!fs.existsSync(file)) return false;
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    try {
      return Boolean(JSON.parse(text).harnesses?.opencode);
    } catch {
      return false;
    }
  }
  const at = locate(text.replace(/\n$/, '').split('\n'));
  return Boolean(at && at.o >= 0);
}

// Writes next to the target and renames: a reader never sees half a file. Mode 0600: the
// file holds credentials.
function writePrivate(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

function writeConfig(settings) {
  const file = configPath();
  if (file.endsWith('.json')) {
    const data = JSON.parse(fs.readFileSync(file, 'utf8') || '{}');
    if (settings) {
      const block = { project_name: settings.projectName, target: settings.backend };
      if (settings.region) block.region = settings.region;
      if (settings.endpoint) block.endpoint = settings.endpoint;
      if (settings.apiKey) block.api_key = settings.apiKey;
      if (settings.spaceId) block.space_id = settings.spaceId;
      if (settings.headers && settings.headers.length) block.headers = Object.fromEntries(settings.headers);
      data.harnesses = Object.assign(data.harnesses || {}, { opencode: block });
    } else if (data.harnesses) {
      delete data.harnesses.opencode;
      if (!Object.keys(data.harnesses).length) delete data.harnesses;
    }
    writePrivate(file, JSON.stringify(data, null, 2) + '\n');
    return file;
  }
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const after = editYaml(before, settings);
  if (!settings && after.trim() === '') fs.rmSync(file, { force: true });
  else if (after !== before || !fs.existsSync(file)) writePrivate(file, after);
  else fs.chmodSync(file, 0o600);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Prompts

// Questions on the terminal. Lines typed ahead (or pasted at once) wait in a queue for the
// next question; a secret is not echoed, like a password prompt.
function prompter() {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  rl.setPrompt('');
  const queued = [];
  const waiting = [];
  let muted = false;
  const write = rl._writeToOutput.bind(rl);
  rl._writeToOutput = (text) => {
    if (!muted) write(text);
  };
  rl.on('line', (line) => (waiting.length ? waiting.shift()(line) : queued.push(line)));
  rl.on('close', () => {
    while (waiting.length) waiting.shift()('');
  });
  return {
    ask(question, { secret = false, fallback = '' } = {}) {
      process.stdout.write(`${question}${fallback && !secret ? ` [${fallback}]` : ''}: `);
      muted = secret;
      return new Promise((resolve) => {
        const take = (line) => {
          if (muted) process.stdout.write('\n');
          muted = false;
          resolve(line.trim() || fallback);
        };
        if (queued.length) take(queued.shift());
        else waiting.push(take);
      });
    },
    close: () => rl.close(),
  };
}

// The backend settings from flags, then the environment, then (in a terminal) prompts.
async function gatherSettings(flags) {
  const env = process.env;
  let backend = flags.backend || (flags.spaceId ? 'arize' : '') ||
    (env.PHOENIX_ENDPOINT ? 'phoenix' : env.ARIZE_API_KEY && env.ARIZE_SPACE_ID ? 'arize' :
      env.OTEL_EXPORTER_OTLP_ENDPOINT ? 'otlp' : '');
  const interactive = !flags.yes && process.stdin.isTTY && process.stdout.isTTY;
  const rl = interactive ? prompter() : null;
  try {
    if (!backend && !rl) return null;
    if (!backend) {
      const pick = await rl.ask('Backend: 1) Arize AX  2) Phoenix  3) another OTLP endpoint', { fallback: '1' });
      backend = { 1: 'arize', 2: 'phoenix', 3: 'otlp', arize: 'arize', phoenix: 'phoenix', otlp: 'otlp' }[pick.toLowerCase()] || pick;
    }
    if (!['arize', 'phoenix', 'otlp'].includes(backend)) throw new UsageError(`--backend is arize, phoenix or otlp, not ${backend}`);
    const s = { backend, headers: [] };
    const need = (value, question, opts) => (value || !rl ? value : rl.ask(question, opts));
    if (backend === 'arize') {
      s.region = flags.region || env.ARIZE_REGION || (flags.endpoint ? '' : await need('', 'Arize AX region (us, eu, ca)', { fallback: 'us' })) || '';
      s.apiKey = await need(flags.apiKey || env.ARIZE_API_KEY, 'Arize API key (Settings > API Keys)', { secret: true });
      s.spaceId = await need(flags.spaceId || env.ARIZE_SPACE_ID, 'Arize space id');
      s.endpoint = flags.endpoint || '';
      if (s.region && !REGIONS.includes(s.region.toLowerCase())) throw new UsageError(`--region is us, eu or ca, not ${s.region}`);
      s.region = s.region.toLowerCase();
      if (!s.apiKey || !s.spaceId) throw new UsageError('Arize AX needs --api-key and --space-id (or ARIZE_API_KEY and ARIZE_SPACE_ID)');
    } else if (backend === 'phoenix') {
      s.endpoint = await need(flags.endpoint || env.PHOENIX_ENDPOINT, 'Phoenix endpoint', { fallback: 'http://localhost:6006' });
      s.apiKey = flags.apiKey || env.PHOENIX_API_KEY || (rl ? await rl.ask('Phoenix API key (empty for none)', { secret: true }) : '');
      if (!s.endpoint) throw new UsageError('Phoenix needs --endpoint (or PHOENIX_ENDPOINT)');
    } else {
      s.endpoint = await need(flags.endpoint || env.OTEL_EXPORTER_OTLP_ENDPOINT, 'OTLP/HTTP endpoint (base URL or .../v1/traces)');
      // --header values are taken as typed; OTEL_EXPORTER_OTLP_HEADERS is %-encoded (OTel spec).
      let headers = flags.headers;
      let encoded = false;
      if (!headers.length && env.OTEL_EXPORTER_OTLP_HEADERS) [headers, encoded] = [env.OTEL_EXPORTER_OTLP_HEADERS.split(','), true];
      if (!headers.length && rl) headers = (await rl.ask('Headers, name=value[,name=value] (empty for none)', { secret: true })).split(',');
      for (const h of headers.filter((x) => x.trim())) {
        const [name, value] = h.split(/=(.*)/s);
        if (!name || value === undefined || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name.trim()) || /[\x00-\x1f\x7f]/.test(value))
          throw new UsageError('--header wants name=value (a header name, a printable value)');
        let v = value.trim();
        if (encoded) {
          try {
            v = decodeURIComponent(v);
          } catch {
            throw new UsageError('OTEL_EXPORTER_OTLP_HEADERS has a broken %-escape');
          }
        }
        s.headers.push([name.trim(), v]);
      }
      if (!s.endpoint) throw new UsageError('an OTLP backend needs --endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT)');
    }
    s.projectName = flags.projectName || env.ARIZE_PROJECT_NAME ||
      (rl ? await rl.ask('Project name', { fallback: 'opencode' }) : 'opencode');
    return s;
  } finally {
    if (rl) rl.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The plugin registration: a marked plugin file, and the package where that file finds it.
//
// The package is not copied into the OpenCode config directory's node_modules: at each start
// OpenCode runs an npm install (arborist reify) there for @opencode-ai/plugin, which removes
// every package its package.json does not list. So either the package is already installed
// there with npm (listed, kept: the plugin file imports it by name), or a copy goes to
// ~/.arize/harness/packages/ and the plugin file imports it by absolute path.

const packagesDir = () => path.join(harnessDir(), 'packages');

function pluginText(importFrom) {
  const header = `// ${MARKER}: written by \`opencode-arize-tracing install\`; \`opencode-arize-tracing uninstall\` removes it.\n`;
  if (importFrom === PKG.name + '/plugin') return header + fs.readFileSync(path.join(ROOT, 'plugin', PLUGIN_NAME), 'utf8');
  return header + '// opencode-arize-tracing: the OpenCode plugin, from the copy of the package install made.\n' +
    `export { ArizeTracing } from ${JSON.stringify(importFrom)}\n`;
}

// Where `import "opencode-arize-tracing/..."` in a file of dir finds the package: the
// node_modules directories of dir and its parents, as Bun and Node look them up.
function resolvesFrom(dir) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const pkg = path.join(d, 'node_modules', PKG.name, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        return { dir: path.dirname(pkg), version: JSON.parse(fs.readFileSync(pkg, 'utf8')).version };
      } catch {
        return null;
      }
    }
    if (path.dirname(d) === d) return null;
  }
}

// A self-contained copy of this package (with node-gyp-build), marked so uninstall removes
// it and nothing else. Built beside its final place and renamed: never half there.
function copyPackage() {
  const dest = path.join(packagesDir(), `${PKG.name}-${PKG.version}`);
  if (path.resolve(dest) === path.resolve(ROOT)) return dest; // running from the copy itself
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const entry of ['package.json', 'README.md', 'lib', 'plugin', 'prebuilds']) {
    const from = path.join(ROOT, entry);
    if (fs.existsSync(from)) fs.cpSync(from, path.join(tmp, entry), { recursive: true });
  }
  const ngb = path.dirname(require.resolve('node-gyp-build/package.json', { paths: [ROOT] }));
  fs.cpSync(ngb, path.join(tmp, 'node_modules', 'node-gyp-build'), { recursive: true });
  fs.writeFileSync(path.join(tmp, COPY_MARKER), `copied by opencode-arize-tracing install ${PKG.version}\n`);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.renameSync(tmp, dest);
  return dest;
}

// The package a plugin file imports: by absolute path (a copy) or by name (node_modules).
function pluginTarget(file) {
  const m = /from\s+["']([^"']+)["']/.exec(fs.readFileSync(file, 'utf8'));
  if (!m) return null;
  if (path.isAbsolute(m[1])) return fs.existsSync(m[1]) ? { dir: path.dirname(path.dirname(m[1])) } : null;
  return resolvesFrom(path.dirname(file));
}

function registerPlugin(flags, say) {
  const ocDir = opencodeDir(flags);
  const pluginDir = path.join(ocDir, 'plugin');
  const file = path.join(pluginDir, PLUGIN_NAME);
  if (fs.existsSync(file) && !fs.readFileSync(file, 'utf8').includes(MARKER)) {
    const existing = fs.readFileSync(file, 'utf8');
    if (existing.trim() !== fs.readFileSync(path.join(ROOT, 'plugin', PLUGIN_NAME), 'utf8').trim())
      throw new Error(`${tilde(file)} exists and was not written by install: move it away, then run install again`);
  }
  const found = resolvesFrom(pluginDir);
  let importFrom;
  if (found && found.version === PKG.version) {
    importFrom = PKG.name + '/plugin';
    say(`package: ${tilde(found.dir)} (installed with npm; used as it is)`);
  } else {
    const dest = copyPackage();
    importFrom = path.join(dest, 'plugin', 'index.mjs');
    say(`package: ${tilde(dest)}${found ? ` (${tilde(found.dir)} is version ${found.version})` : ''}`);
  }
  const text = pluginText(importFrom);
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  if (existing !== null && !existing.includes(MARKER)) {
    say(`plugin:  ${tilde(file)} (copied there by hand; left as it is)`);
  } else if (existing === text) {
    say(`plugin:  ${tilde(file)} (already registered)`);
  } else {
    fs.mkdirSync(pluginDir, { recursive: true });
    fs.writeFileSync(file, text);
    say(`plugin:  ${tilde(file)}${existing === null ? '' : ' (updated)'}`);
  }
  const conf = ['opencode.json', 'opencode.jsonc'].map((n) => path.join(ocDir, n)).find((f) => fs.existsSync(f));
  if (conf && fs.readFileSync(conf, 'utf8').includes(`"${PKG.name}`))
    say(`warning: ${tilde(conf)} also lists "${PKG.name}" under "plugin": remove one of the two, or each turn is traced twice`);
}

// ---------------------------------------------------------------------------------------------
// Commands

async function install(flags) {
  const say = (line) => console.log(line);
  const settings = await gatherSettings(flags);
  const file = configPath();
  if (settings) {
    writeConfig(settings);
    const where = settings.backend === 'arize'
      ? `Arize AX${settings.endpoint ? ` at ${settings.endpoint}` : ` (${settings.region || 'us'})`}`
      : `${settings.backend === 'phoenix' ? 'Phoenix' : 'OTLP'} at ${settings.endpoint}`;
    say(`config:  ${tilde(file)} (harnesses.opencode: ${where}, project "${settings.projectName}"; mode 0600)`);
  } else if (hasOurBlock(file)) {
    say(`config:  ${tilde(file)} (kept the existing harnesses.opencode block)`);
  } else {
    throw new UsageError('no backend given: pass --backend and its settings (see --help), set ARIZE_API_KEY and ' +
      'ARIZE_SPACE_ID, PHOENIX_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, or run install in a terminal');
  }
  registerPlugin(flags, say);
  const release = binary.releaseFor();
  const bundled = fs.existsSync(path.join(ROOT, 'prebuilds', binary.platformKey(), 'node.napi.node'));
  if (!bundled && release) {
    const got = await binary.fetchBinary();
    say(`binary:  ${tilde(got.path)}${got.downloaded ? ' (downloaded)' : ''}`);
  }
  say('next:    run `opencode-arize-tracing doctor` to check the whole chain, then use OpenCode as usual');
}

function removeIfEmpty(dir) {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty, or not there
  }
}

function uninstall(flags) {
  let removed = 0;
  const dirs = flags.project ? [opencodeDir(flags)] : [globalDir(), path.join(process.cwd(), '.opencode')];
  for (const ocDir of dirs) {
    for (const sub of ['plugin', 'plugins']) {
      const file = path.join(ocDir, sub, PLUGIN_NAME);
      if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(MARKER)) {
        fs.rmSync(file);
        console.log(`removed ${tilde(file)}`);
        removed++;
        removeIfEmpty(path.dirname(file));
      }
    }
  }
  if (!flags.project) {
    for (const name of fs.existsSync(packagesDir()) ? fs.readdirSync(packagesDir()) : []) {
      const copy = path.join(packagesDir(), name);
      if (name.startsWith(PKG.name) && fs.existsSync(path.join(copy, COPY_MARKER)) && path.resolve(copy) !== path.resolve(ROOT)) {
        fs.rmSync(copy, { recursive: true, force: true });
        console.log(`removed ${tilde(copy)}`);
        removed++;
      }
    }
    removeIfEmpty(packagesDir());
    const file = configPath();
    if (hasOurBlock(file)) {
      writeConfig(null);
      console.log(`removed the harnesses.opencode block from ${tilde(file)}${fs.existsSync(file) ? '' : ' (nothing else was in it: file removed)'}`);
      removed++;
    }
  }
  if (!removed) console.log('nothing to remove: install left nothing behind here');
}

function loadLib() {
  return require('./index.js');
}

function when(ms) {
  return ms ? new Date(ms).toISOString() : 'never';
}

function lastLogLines(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}

function status(flags) {
  const lib = loadLib();
  const s = lib.status();
  lib.shutdown(0);
  if (flags.json) {
    console.log(JSON.stringify(s, null, 2));
    return;
  }
  const c = s.counters || {};
  const e = s.last_export || {};
  const lines = [
    `opencode-arize-tracing ${s.version}`,
    `binary:      ${s.binary}`,
    `backend:     ${s.backend.target}${s.backend.endpoint ? `  ${s.backend.endpoint}` : ''}  project "${s.backend.project}"`,
    `state:       ${s.state}${s.reason ? ` (${s.reason})` : ''}`,
    `config:      ${s.config.path}${s.config.warning ? `  warning: ${s.config.warning}` : ''}`,
    `log:         ${s.config.log_file}`,
  ];
  if (s.spool) lines.push(`spool:       ${s.spool.dir}  ${s.spool.pending_bytes} bytes waiting to be sent`);
  lines.push(`last export: ${c.requests ? `HTTP ${e.status}${e.error ? ` ${e.error}` : ''}, last success ${when(e.at_ms)}`
    : 'none from this process (OpenCode\'s own exports: see the log)'}`);
  lines.push(`counters:    ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const tail = lastLogLines(s.config.log_file, 3);
  if (tail.length) lines.push('log tail:', ...tail.map((l) => `  ${l}`));
  console.log(lines.join('\n'));
}

// One doctor check: {name, ok, detail, fix}.
async function doctor(flags) {
  const results = [];
  const check = (name, ok, detail, fix) => {
    results.push({ name, ok, detail, fix });
    console.log(`  ${ok === null ? '--  ' : ok ? 'ok  ' : 'FAIL'} ${name.padEnd(18)} ${detail}`);
    return ok !== false;
  };
  console.log(`opencode-arize-tracing ${PKG.version} doctor`);
  const finish = () => {
    const broken = results.find((r) => r.ok === false);
    if (broken) {
      console.log(`\nfix (${broken.name}): ${broken.fix}`);
      process.exitCode = 1;
    } else console.log('\nall links work: OpenCode turns will arrive as traces');
  };

  // 1. the plugin is registered with OpenCode
  const dirs = [globalDir(), path.join(process.cwd(), '.opencode')];
  const files = dirs.flatMap((d) => ['plugin', 'plugins'].map((s) => path.join(d, s, PLUGIN_NAME))).filter((f) => fs.existsSync(f));
  const listed = dirs.flatMap((d) => ['opencode.json', 'opencode.jsonc'].map((n) => path.join(d, n)))
    .concat(['opencode.json', 'opencode.jsonc'].map((n) => path.join(process.cwd(), n)))
    .filter((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').includes(`"${PKG.name}`));
  let resolved = null;
  for (const f of files) resolved = resolved || pluginTarget(f);
  if (files.length) {
    check('plugin registered', Boolean(resolved), resolved ? `${tilde(files[0])} -> ${tilde(resolved.dir)}` :
      `${tilde(files[0])}, but the package it imports is not there`,
    `run \`opencode-arize-tracing install\` again (it puts the package where ${tilde(files[0])} finds it)`);
  } else {
    check('plugin registered', listed.length > 0, listed.length ? `${tilde(listed[0])} lists it` : 'no plugin file, no opencode.json entry',
      'run `opencode-arize-tracing install` (or add "opencode-arize-tracing" to "plugin" in opencode.json)');
  }
  if (results.some((r) => r.ok === false)) return finish();

  // 2. the native core loads
  let lib;
  try {
    lib = loadLib();
    check('binary loads', true, lib.status().binary);
  } catch (error) {
    check('binary loads', false, error.message.split('\n')[0], error.message.split('\n').slice(1).join('\n  ').trim());
    return finish();
  }
  const s = lib.status();

  // 3. the config file parses
  if (!check('config parses', !s.config.warning, s.config.warning || (fs.existsSync(s.config.path) ? tilde(s.config.path) : `${tilde(s.config.path)} (absent: environment only)`),
    `correct what the warning names in ${s.config.path} (or the environment variable it names)`)) return finish();

  // 4. credentials and a backend
  const stateFix = {
    'no-backend': s.reason || 'run `opencode-arize-tracing install`',
    disabled: 'unset ARIZE_TRACE_ENABLED (or set it to true)',
  };
  if (!check('credentials', s.state === 'sending' || s.state === 'dry-run',
    s.state === 'sending' || s.state === 'dry-run' ? `${s.backend.target}, project "${s.backend.project}"${s.state === 'dry-run' ? ' (dry run: nothing is sent)' : ''}` : s.reason || s.state,
    stateFix[s.state] || 'run `opencode-arize-tracing install`')) return finish();

  // 5. the endpoint resolves and answers
  const url = new URL(s.backend.endpoint);
  try {
    await dns.promises.lookup(url.hostname.replace(/^\[|\]$/g, ''));
  } catch (error) {
    check('endpoint resolves', false, `${url.hostname}: ${error.code || error.message}`,
      `check the host name in the endpoint (${s.backend.endpoint}) and this machine's DNS and network`);
    return finish();
  }
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' },
      body: new Uint8Array(0), signal: AbortSignal.timeout(10000) });
    check('endpoint answers', true, `${s.backend.endpoint} (HTTP ${response.status} to an empty request)`);
  } catch (error) {
    const why = (error.cause && (error.cause.code || error.cause.message)) || error.name || error.message;
    check('endpoint answers', false, `${s.backend.endpoint}: ${why}`,
      `nothing answers at ${s.backend.endpoint}: start the backend, or correct the endpoint; a proxy or firewall may block it`);
    return finish();
  }

  // 6. a test span goes through the library, as OpenCode's would
  if (s.state === 'dry-run') {
    check('test span', null, 'skipped: ARIZE_DRY_RUN is set');
    lib.shutdown(0);
    return finish();
  }
  const now = Date.now();
  const id = `doctor${now}${process.pid}`;
  const sid = `ses_${id}`;
  const result = lib.reconcile({ type: 'close', sessionID: sid, messages: [
    { info: { id: `msg_${id}u`, sessionID: sid, role: 'user', time: { created: now - 2 } },
      parts: [{ id: `prt_${id}u`, sessionID: sid, messageID: `msg_${id}u`, type: 'text', text: 'opencode-arize-tracing doctor: test span' }] },
    { info: { id: `msg_${id}a`, sessionID: sid, role: 'assistant', parentID: `msg_${id}u`, modelID: 'doctor',
      providerID: 'opencode-arize-tracing', time: { created: now - 1, completed: now }, cost: 0, finish: 'stop',
      tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } } },
    parts: [{ id: `prt_${id}a`, sessionID: sid, messageID: `msg_${id}a`, type: 'text', text: 'ok' }] },
  ] });
  const flushed = await lib.flush(15000);
  const after = lib.status();
  lib.shutdown(0);
  const e = after.last_export || {};
  const accepted = result.spans > 0 && flushed.pending === 0 && flushed.dropped === 0 && e.status >= 200 && e.status < 300;
  const refused = e.status === 401 || e.status === 403
    ? `the backend refused the credentials (HTTP ${e.status}): check the API key${s.backend.target === 'arize' ? ' and space id' : ''} in ${s.config.path} or the environment`
    : `the backend did not accept the span (${e.status > 0 ? `HTTP ${e.status}` : 'no answer'}${e.error ? `: ${e.error}` : ''}); the log ${after.config.log_file} has the details`;
  check('test span', accepted, accepted ? `accepted (${flushed.exported} spans exported, project "${s.backend.project}")` :
    `${result.error || `pending ${flushed.pending}, dropped ${flushed.dropped}`}${e.status > 0 ? `, HTTP ${e.status}` : ''}`, refused);
  return finish();
}

async function fetchBinaryCommand(flags) {
  const key = binary.platformKey();
  if (!flags.force && fs.existsSync(path.join(ROOT, 'prebuilds', key, 'node.napi.node'))) {
    console.log(`nothing to download: the package carries a prebuild for ${key} (--force downloads anyway)`);
    return;
  }
  const got = await binary.fetchBinary();
  console.log(`${got.downloaded ? 'downloaded' : 'already in the cache'}: ${got.path} (${key}, sha256 verified)`);
}

async function main(argv) {
  if (argv[0] === 'backfill') return require('./backfill.js').main(argv.slice(1)); // its own options
  const { command, flags } = parseArgs(argv);
  if (flags.help || !command || command === 'help') return console.log(USAGE);
  if (command === 'install') return install(flags);
  if (command === 'uninstall') return uninstall(flags);
  if (command === 'status') return status(flags);
  if (command === 'doctor') return doctor(flags);
  if (command === 'fetch-binary') return fetchBinaryCommand(flags);
  if (command === 'version' || command === '--version') return console.log(PKG.version);
  throw new UsageError(`unknown command ${command}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`opencode-arize-tracing: ${error.message}`);
    if (error instanceof UsageError) console.error('(opencode-arize-tracing --help lists the commands and options)');
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}

module.exports = { editYaml, parseArgs };
