'use strict';
// `uninstall`: remove what registers the plugin, by whichever route it was registered (install,
// the by-hand route of docs/install.md, an opencode.json entry), and the keys install wrote to the
// harnesses.opencode block. What it cannot remove safely it names, with the command that does;
// what stays on disk (spool, state, log, OpenCode's cached copy) it lists, with the one command
// that removes it all.
const fs = require('node:fs');
const path = require('node:path');
const c = require('./common.js');
const cfg = require('./config-file.js');
const reg = require('./registration.js');

function uninstall(flags) {
  let removed = 0,
    left = 0; // what it names for the user to remove by hand
  const say = (line) => console.log(line);
  const regs = reg.findRegistrations().filter((r) => !flags.project || r.scope === 'project');
  const entryFiles = new Set();
  for (const r of regs) {
    if (r.kind === 'file' && (r.managed || r.byHand)) {
      fs.rmSync(r.file);
      c.removeIfEmpty(path.dirname(r.file));
      say(`removed ${c.tilde(r.file)}${r.byHand ? ' (the plugin file copied by hand from the package)' : ''}`);
      removed++;
    } else if (r.kind === 'file') {
      say(`left ${c.tilde(r.file)}: it imports ${c.PKG.name} but was changed by hand; delete it to stop tracing`);
      left++;
    } else if (!entryFiles.has(r.file)) {
      entryFiles.add(r.file);
      if (reg.removeEntry(r.file)) {
        say(`removed "${r.spec}" from the "plugin" list of ${c.tilde(r.file)}`);
        removed++;
      } else {
        say(`left ${c.tilde(r.file)}: remove "${r.spec}" from its "plugin" list by hand (the file is not plain JSON)`);
        left++;
      }
    }
    // A package installed with npm next to the plugin file (the by-hand route of docs/install.md).
    const npmDir =
      r.pkg &&
      r.pkg.dir &&
      !fs.existsSync(path.join(r.pkg.dir, c.COPY_MARKER)) &&
      r.kind === 'file' &&
      path.basename(path.dirname(r.pkg.dir)) === 'node_modules'
        ? path.dirname(path.dirname(r.pkg.dir))
        : null;
    if (npmDir && fs.existsSync(path.join(npmDir, 'package.json')))
      say(
        `left the package installed with npm in ${c.tilde(npmDir)}: \`npm uninstall --prefix ${c.tilde(npmDir)} ${c.PKG.name}\` removes it`,
      );
  }
  if (!flags.project) {
    const dir = c.packagesDir();
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      const copy = path.join(dir, name);
      if (
        name.startsWith(c.PKG.name) &&
        fs.existsSync(path.join(copy, c.COPY_MARKER)) &&
        path.resolve(copy) !== path.resolve(c.ROOT)
      ) {
        fs.rmSync(copy, { recursive: true, force: true });
        say(`removed ${c.tilde(copy)}`);
        removed++;
      }
    }
    c.removeIfEmpty(dir);
    const file = c.configPath();
    const broken = cfg.unparseable(file);
    if (broken && fs.existsSync(file)) {
      say(
        `left ${c.tilde(file)}: it ${/^(is|cannot) /.test(broken) ? broken : `cannot be parsed (${broken})`}; remove the harnesses.opencode keys install wrote (${cfg.KEYS.join(', ')}) by hand`,
      );
      left++;
    } else if (cfg.hasOurBlock(file)) {
      cfg.writeConfig(null);
      const left = cfg.hasOurBlock(file);
      say(
        `removed the backend settings from ${c.tilde(file)}${
          !fs.existsSync(file)
            ? ' (nothing else was in it: file removed)'
            : left
              ? ' (your other harnesses.opencode keys stay)'
              : ' (the harnesses.opencode block)'
        }`,
      );
      removed++;
    }
  }
  if (!removed && !left)
    say('nothing to remove: no plugin file, opencode.json entry or backend settings of opencode-arize-tracing here');
  if (!flags.project) leftBehind(say);
}

// A path as the user can type it in a shell: ~ kept (unquoted, so it expands), anything
// unusual quoted.
const shellPath = (p) => {
  const t = c.tilde(p);
  return /^[\w@%+=:,./~-]+$/.test(t)
    ? t
    : t.startsWith('~/')
      ? `~/'${t.slice(2).replace(/'/g, "'\\''")}'`
      : `'${t.replace(/'/g, "'\\''")}'`;
};

// The one command that removes paths, in this platform's shell: on Windows PowerShell's (no
// rm -rf there, and neither ~ nor a quoted '~\...' leads to the home). PowerShell takes the
// typographic single quotes for ' too: each is doubled inside its literal strings.
function removeCommand(paths, platform = process.platform) {
  if (platform === 'win32')
    return `Remove-Item -Recurse -Force -LiteralPath ${paths.map((p) => `'${p.replace(/['\u2018\u2019\u201a\u201b]/g, '$&$&')}'`).join(', ')}`;
  return `rm -rf ${paths.map(shellPath).join(' ')}`;
}

// What tracing left on disk, listed (only what exists) with the one command that removes it.
function leftBehind(say) {
  let spoolDir = path.join(c.harnessDir(), 'spool', 'opencode');
  let stateDir = path.join(c.harnessDir(), 'state', 'opencode');
  let logFile = path.join(c.harnessDir(), 'logs', 'opencode.log');
  let native = null;
  try {
    native = require('../native.js');
    const s = JSON.parse(native.binding.configStatus());
    spoolDir = s.spool.dir;
    stateDir = s.state_dir;
    logFile = s.config.log_file;
  } catch {
    // no core here: the default places
  }
  const spans = require('./status.js')
    .readSpool(native)
    .reduce((n, p) => n + p.spans, 0);
  const items = [
    [spoolDir, spans ? `${spans} span${spans === 1 ? '' : 's'} never sent` : 'the spool (spans not yet sent)'],
    [stateDir, 'which spans were sent'],
    [logFile, 'the log'],
    [`${logFile}.1`, 'the log, rotated'],
    [path.join(c.harnessDir(), 'live', 'opencode'), 'which sessions running OpenCodes work on'],
  ];
  const cached = path.join(c.cacheDir(), 'packages');
  for (const name of fs.existsSync(cached) ? fs.readdirSync(cached) : [])
    if (name === c.PKG.name || name.startsWith(`${c.PKG.name}@`))
      items.push([path.join(cached, name), "OpenCode's cached copy of the package"]);
  const binaries = path.join(process.env.XDG_CACHE_HOME || path.join(c.home(), '.cache'), c.PKG.name);
  items.push([binaries, 'downloaded release binaries']);
  const present = items.filter(([p]) => fs.existsSync(p));
  if (!present.length) return;
  const width = Math.max(...present.map(([p]) => c.tilde(p).length));
  say('left on disk (uninstall keeps them; delete them when you no longer need them):');
  for (const [p, what] of present) say(`  ${c.tilde(p).padEnd(width)}  ${what}`);
  const shell = process.platform === 'win32' ? ' (PowerShell)' : '';
  say(`remove them all${shell}: ${removeCommand(present.map(([p]) => p))}`);
}

module.exports = { uninstall, removeCommand };
