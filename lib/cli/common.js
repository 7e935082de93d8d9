'use strict';
// What every command of the CLI shares: the package, the paths under the user's home, small
// file helpers. No command logic here.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const binary = require('../binary.js');

const ROOT = binary.ROOT;
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const MARKER = 'opencode-arize-tracing:managed';
const COPY_MARKER = '.installed-by-opencode-arize-tracing';
const PLUGIN_NAME = 'arize-tracing.ts';
const { REGIONS } = require('../settings.js'); // the core's (lib/settings.json)

class UsageError extends Error {}

const home = () => binary.userHome();
const harnessDir = () => path.join(home(), '.arize', 'harness');
const yamlPath = () => path.join(harnessDir(), 'config.yaml');
const jsonPath = () => path.join(harnessDir(), 'config.json');
// The file the core reads: config.yaml, or config.json when only that one exists.
const configPath = () => (!fs.existsSync(yamlPath()) && fs.existsSync(jsonPath()) ? jsonPath() : yamlPath());
const globalDir = () => path.join(process.env.XDG_CONFIG_HOME || path.join(home(), '.config'), 'opencode');
const projectDir = () => path.join(process.cwd(), '.opencode');
const cacheDir = () => path.join(process.env.XDG_CACHE_HOME || path.join(home(), '.cache'), 'opencode');
const packagesDir = () => path.join(harnessDir(), 'packages');
const tilde = (p) => (p && p.startsWith(home() + path.sep) ? '~' + p.slice(home().length) : p);

/**
 * Copies a file or a directory tree, file by file (regular files and directories only; a link
 * is copied as what it names). fs.cpSync is not used: the Windows Node under wine (the
 * tests' Windows) copies a tree's files but none of its directories with it, silently.
 */
function copyTree(from, to) {
  const st = fs.statSync(from);
  if (!st.isDirectory()) return fs.copyFileSync(from, to);
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) copyTree(path.join(from, name), path.join(to, name));
}

const readText = (file) => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

const readJson = (file) => {
  const text = readText(file);
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

// Writes next to the target and renames: a reader never sees half a file. Mode 0600: the
// file holds credentials. The temp file has an unguessable name and is created exclusively
// ('wx'), so a link planted beside the config is never written through; the rename replaces
// a link at the config's own name rather than following it.
function writePrivate(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(8).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, text);
    fs.fchmodSync(fd, 0o600); // whatever the umask
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

function removeIfEmpty(dir) {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty, or not there
  }
}

module.exports = {
  copyTree,
  ROOT,
  PKG,
  MARKER,
  COPY_MARKER,
  PLUGIN_NAME,
  REGIONS,
  UsageError,
  home,
  harnessDir,
  yamlPath,
  jsonPath,
  configPath,
  globalDir,
  projectDir,
  cacheDir,
  packagesDir,
  tilde,
  readText,
  readJson,
  writePrivate,
  removeIfEmpty,
};
