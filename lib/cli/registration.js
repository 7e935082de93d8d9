'use strict';
// Where OpenCode finds the plugin, and which copy of the package (so which native core) it
// loads. Three routes register it:
//   - a plugin file in a config dir's plugin/ (or plugins/) that imports the package: written
//     by `install` (marked), or copied there by hand from the package (docs/install.md);
//   - an entry in an opencode.json / opencode.jsonc `"plugin"` list (by hand, `install
//     --project`, or `opencode plugin opencode-arize-tracing`): OpenCode installs the package
//     itself into ~/.cache/opencode/packages/<spec>/node_modules/;
// in the global config dir (~/.config/opencode), the project's .opencode/, or the project.
//
// The package is not copied into a config dir's node_modules: at each start OpenCode runs an
// npm install there for @opencode-ai/plugin, which removes every package its package.json
// does not list. So either the package is already installed there with npm (listed, kept:
// the plugin file imports it by name), or a copy goes to ~/.arize/harness/packages/ and the
// plugin file imports it by absolute path (the global route only: a project's files must
// work in any clone, so --project writes an opencode.json entry instead).
const fs = require('node:fs');
const path = require('node:path');
const url = require('node:url');
const c = require('./common.js');

const { PKG, MARKER, COPY_MARKER, PLUGIN_NAME, ROOT } = c;
const CONFIG_NAMES = ['opencode.json', 'opencode.jsonc'];

/** The plugin file install writes: the package's own file, or an import of a copy. */
function pluginText(importFrom) {
  const header = `// ${MARKER}: written by \`opencode-arize-tracing install\`; \`opencode-arize-tracing uninstall\` removes it.\n`;
  if (importFrom === PKG.name + '/plugin')
    return header + fs.readFileSync(path.join(ROOT, 'plugin', PLUGIN_NAME), 'utf8');
  return (
    header +
    '// opencode-arize-tracing: the OpenCode plugin, from the copy of the package install made.\n' +
    `export { ArizeTracing } from ${JSON.stringify(importFrom)}\n`
  );
}

// Where `import "opencode-arize-tracing/..."` in a file of dir finds the package: the
// node_modules directories of dir and its parents, as Bun and Node look them up.
function resolvesFrom(dir) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const pkg = path.join(d, 'node_modules', PKG.name, 'package.json');
    if (fs.existsSync(pkg)) {
      const json = c.readJson(pkg);
      return json ? { dir: path.dirname(pkg), version: json.version } : null;
    }
    if (path.dirname(d) === d) return null;
  }
}

// How the plugin file names the copy: its absolute path, or on Windows its file: URL (a
// "C:\\..." specifier is not a path to every loader).
function importSpecifier(file) {
  return process.platform === 'win32' ? url.pathToFileURL(file).href : file;
}

// The package a plugin file imports: by absolute path (a copy) or by name (node_modules).
function pluginTarget(file, text) {
  const m = /from\s+["']([^"']+)["']/.exec(text);
  if (!m) return null;
  if (path.isAbsolute(m[1]) || m[1].startsWith('file:')) {
    let target = m[1];
    try {
      if (target.startsWith('file:')) target = url.fileURLToPath(target);
    } catch {
      return null;
    }
    if (!fs.existsSync(target)) return null;
    const dir = path.dirname(path.dirname(target));
    return { dir, version: c.readJson(path.join(dir, 'package.json'))?.version };
  }
  return resolvesFrom(path.dirname(file));
}

// The "plugin" entries of an opencode.json(c) that name this package. JSONC comments are
// stripped well enough to read the list (strings holding "//" are kept).
function configEntries(file) {
  const text = c.readText(file);
  if (text === null) return [];
  let data;
  try {
    data = JSON.parse(
      text.replace(/("(?:[^"\\]|\\.)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m, s) => s || '').replace(/,(\s*[\]}])/g, '$1'),
    );
  } catch {
    return text.includes(`"${PKG.name}`) ? [{ spec: PKG.name, unreadable: true }] : [];
  }
  const list = Array.isArray(data?.plugin) ? data.plugin : [];
  return list
    .map((e) => (Array.isArray(e) ? e[0] : e))
    .filter((s) => typeof s === 'string' && (s === PKG.name || s.startsWith(`${PKG.name}@`)))
    .map((spec) => ({ spec }));
}

// Where OpenCode installed a plugin spec: ~/.cache/opencode/packages/<spec>/node_modules/<name>.
function cachedPackage(spec) {
  for (const s of spec.includes('@', 1) ? [spec] : [spec, `${spec}@latest`]) {
    const dir = path.join(c.cacheDir(), 'packages', s, 'node_modules', PKG.name);
    const json = c.readJson(path.join(dir, 'package.json'));
    if (json) return { dir, version: json.version };
  }
  return null;
}

/** cwd and its parents up to the worktree's root (the first holding .git), or cwd alone. */
function upToWorktree(cwd) {
  const dirs = [];
  for (let d = path.resolve(cwd); ; d = path.dirname(d)) {
    dirs.push(d);
    if (fs.existsSync(path.join(d, '.git'))) return dirs;
    if (path.dirname(d) === d) return [path.resolve(cwd)];
  }
}

/**
 * Every registration OpenCode would load for a project in cwd:
 * [{kind: 'file'|'entry', where, file, managed, byHand, spec, pkg: {dir, version}|null, scope}].
 */
function findRegistrations(cwd = process.cwd()) {
  const shipped = fs.readFileSync(path.join(ROOT, 'plugin', PLUGIN_NAME), 'utf8').trim();
  // OpenCode reads the global directory, $OPENCODE_CONFIG_DIR, and each .opencode/ and
  // opencode.json from the project's directory up to its worktree's root.
  const projectDirs = upToWorktree(cwd);
  const scopes = [
    ['global', c.globalDir()],
    ...(process.env.OPENCODE_CONFIG_DIR ? [['config dir', process.env.OPENCODE_CONFIG_DIR]] : []),
    ...projectDirs.map((d) => ['project', path.join(d, '.opencode')]),
  ];
  const found = [];
  for (const [scope, dir] of scopes) {
    for (const sub of ['plugin', 'plugins']) {
      const pdir = path.join(dir, sub);
      let names = [];
      try {
        names = fs.readdirSync(pdir).filter((n) => /\.(ts|js|mjs)$/.test(n));
      } catch {
        continue;
      }
      for (const name of names) {
        const file = path.join(pdir, name);
        const text = c.readText(file) || '';
        if (!text.includes(MARKER) && !new RegExp(`from\\s+["'][^"']*${PKG.name}`).test(text)) continue;
        found.push({
          kind: 'file',
          scope,
          file,
          managed: text.includes(MARKER),
          byHand: text.trim() === shipped,
          pkg: pluginTarget(file, text),
        });
      }
    }
  }
  const configFiles = [...scopes, ...projectDirs.map((d) => ['project', d])].flatMap(([scope, dir]) =>
    CONFIG_NAMES.map((name) => [scope, path.join(dir, name)]),
  );
  if (process.env.OPENCODE_CONFIG) configFiles.push(['config file', path.resolve(process.env.OPENCODE_CONFIG)]);
  for (const [scope, file] of configFiles)
    for (const e of configEntries(file))
      found.push({ kind: 'entry', scope, file, spec: e.spec, unreadable: e.unreadable, pkg: cachedPackage(e.spec) });
  return found;
}

/**
 * The package whose core OpenCode loads: the first registration's that is installed, in the
 * order OpenCode reads them, as {dir, version, via}; null when none is installed yet (an
 * opencode.json entry before OpenCode's next start).
 */
function loadedPackage(regs) {
  for (const r of regs) if (r.pkg && r.pkg.dir) return { dir: r.pkg.dir, version: r.pkg.version, via: r };
  return null;
}

const describe = (r) => (r.kind === 'file' ? c.tilde(r.file) : `${c.tilde(r.file)} ("plugin": "${r.spec}")`);

// A self-contained copy of this package (with node-gyp-build), marked so uninstall removes
// it and nothing else. Built beside its final place and renamed: never half there.
function copyPackage() {
  const dest = path.join(c.packagesDir(), `${PKG.name}-${PKG.version}`);
  if (path.resolve(dest) === path.resolve(ROOT)) return dest; // running from the copy itself
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const entry of ['package.json', 'README.md', 'lib', 'plugin', 'prebuilds']) {
    const from = path.join(ROOT, entry);
    if (fs.existsSync(from)) c.copyTree(from, path.join(tmp, entry));
  }
  const ngb = path.dirname(require.resolve('node-gyp-build/package.json', { paths: [ROOT] }));
  c.copyTree(ngb, path.join(tmp, 'node_modules', 'node-gyp-build'));
  fs.writeFileSync(path.join(tmp, COPY_MARKER), `copied by opencode-arize-tracing install ${PKG.version}\n`);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.renameSync(tmp, dest);
  return dest;
}

/** The global route: a marked plugin file in ~/.config/opencode/plugin/. */
function registerGlobal(say) {
  const pluginDir = path.join(c.globalDir(), 'plugin');
  const file = path.join(pluginDir, PLUGIN_NAME);
  const existing = c.readText(file);
  const shipped = fs.readFileSync(path.join(ROOT, 'plugin', PLUGIN_NAME), 'utf8');
  if (existing !== null && !existing.includes(MARKER) && existing.trim() !== shipped.trim())
    throw new Error(`${c.tilde(file)} exists and was not written by install: move it away, then run install again`);
  const found = resolvesFrom(pluginDir);
  let importFrom;
  if (found && found.version === PKG.version) {
    importFrom = PKG.name + '/plugin';
    say(`package: ${c.tilde(found.dir)} (installed with npm; used as it is)`);
  } else {
    const dest = copyPackage();
    importFrom = importSpecifier(path.join(dest, 'plugin', 'index.mjs'));
    say(`package: ${c.tilde(dest)}${found ? ` (${c.tilde(found.dir)} is version ${found.version})` : ''}`);
  }
  const text = pluginText(importFrom);
  if (existing !== null && !existing.includes(MARKER))
    say(`plugin:  ${c.tilde(file)} (copied there by hand; left as it is)`);
  else if (existing === text) say(`plugin:  ${c.tilde(file)} (already registered)`);
  else {
    fs.mkdirSync(pluginDir, { recursive: true });
    fs.writeFileSync(file, text);
    say(`plugin:  ${c.tilde(file)}${existing === null ? '' : ' (updated)'}`);
  }
}

/**
 * The project route: "opencode-arize-tracing" in the project's .opencode/opencode.json
 * "plugin" list, as `opencode plugin` writes it. OpenCode installs the package by name, so the
 * file works in any clone of the project; no path into anyone's home.
 */
function registerProject(say) {
  const dir = c.projectDir();
  const existing = CONFIG_NAMES.map((n) => path.join(dir, n)).find((f) => fs.existsSync(f));
  const file = existing || path.join(dir, 'opencode.json');
  if (configEntries(file).length) {
    say(`plugin:  ${c.tilde(file)} (already lists "${PKG.name}")`);
  } else {
    let data = {};
    if (existing) {
      try {
        data = JSON.parse(fs.readFileSync(existing, 'utf8'));
      } catch {
        throw new Error(
          `${c.tilde(existing)} is not plain JSON (comments?): add "${PKG.name}" to its "plugin" list by hand`,
        );
      }
    } else data = { $schema: 'https://opencode.ai/config.json' };
    data.plugin = [...(Array.isArray(data.plugin) ? data.plugin : []), PKG.name];
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
    say(`plugin:  ${c.tilde(file)} ("plugin": ["${PKG.name}"]; OpenCode installs the package at its next start)`);
  }
  // An earlier install --project wrote a plugin file importing a path in this user's home.
  const old = path.join(dir, 'plugin', PLUGIN_NAME);
  if ((c.readText(old) || '').includes(MARKER)) {
    fs.rmSync(old);
    c.removeIfEmpty(path.dirname(old));
    say(`removed: ${c.tilde(old)} (an earlier install's file, which worked on this machine only)`);
  }
}

/** Removes name from a JSON config's plugin list. true when the file changed. */
function removeEntry(file) {
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(data.plugin)) return false;
  const keep = data.plugin.filter((e) => {
    const s = Array.isArray(e) ? e[0] : e;
    return !(typeof s === 'string' && (s === PKG.name || s.startsWith(`${PKG.name}@`)));
  });
  if (keep.length === data.plugin.length) return false;
  if (keep.length) data.plugin = keep;
  else delete data.plugin;
  fs.writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return true;
}

module.exports = {
  CONFIG_NAMES,
  findRegistrations,
  loadedPackage,
  describe,
  registerGlobal,
  registerProject,
  removeEntry,
  resolvesFrom,
  configEntries,
};
