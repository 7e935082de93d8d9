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
// a link at the config's own name rather than following it. A target that is not a file is
// refused before anything is written, and a failed write leaves no temp file behind.
function writePrivate(file, text) {
  let st = null;
  try {
    st = fs.statSync(file);
  } catch {
    // not there yet
  }
  if (st && !st.isFile())
    throw new Error(
      `${tilde(file)} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}: move it away, then run this again`,
    );
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${crypto.randomBytes(8).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    try {
      fs.writeFileSync(fd, text);
      fs.fchmodSync(fd, 0o600); // whatever the umask
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

/** The candidate closest to word (edit distance), or '' when none is close. */
function closest(word, candidates) {
  const distance = (a, b) => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++)
        next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length];
  };
  // a word cut short (--dry for --dry-run) is the one it starts
  const longer = candidates.filter((c) => String(word).length >= 3 && c.startsWith(word));
  if (longer.length === 1) return longer[0];
  let best = '',
    bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(String(word).toLowerCase(), c.toLowerCase());
    if (d < bestDistance) ((best = c), (bestDistance = d));
  }
  return bestDistance <= Math.max(2, Math.floor(String(word).length / 3)) ? best : '';
}

/**
 * How the user runs this command, for the commands printed for them: `npx opencode-arize-tracing`
 * when this process runs through npx (npm exec) or from npx's cache, `pnpm dlx` or `bunx` when
 * run through those, the bare name when that name on the user's PATH is this very script (a
 * global install), else the npx form (which works from anywhere).
 */
function selfCommand(env = process.env, script = process.argv[1]) {
  const npx = `npx ${PKG.name}`;
  const real = (p) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return null;
    }
  };
  const me = script ? real(script) : null;
  if (env.npm_command === 'exec' || env.npm_lifecycle_event === 'npx') return npx;
  if (me && me.split(path.sep).includes('_npx')) return npx;
  const agent = env.npm_config_user_agent || '';
  if (/^pnpm\//.test(agent) && env.npm_command === 'dlx') return `pnpm dlx ${PKG.name}`;
  if (/^bun\//.test(agent) && me && /[\\/]bunx-/.test(me)) return `bunx ${PKG.name}`;
  // A node_modules/.bin on PATH is there for npm's own scripts, not in the user's shell.
  for (const dir of (env.PATH || '').split(path.delimiter)) {
    if (!dir || /node_modules[\\/]\.bin[\\/]?$/.test(dir)) continue;
    const found = real(path.join(dir, PKG.name));
    if (found) return found === me ? PKG.name : npx;
  }
  return npx;
}

function removeIfEmpty(dir) {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty, or not there
  }
}

// The core's words when this machine cannot send at all (native/http.c loads libcurl when it
// first sends): not a backend's answer.
const cannotSend = (error) => /system library libcurl is missing|system's libcurl is too old/.test(error || '');

module.exports = {
  cannotSend,
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
  closest,
  selfCommand,
};
