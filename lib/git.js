'use strict';
// A directory's git context (remote, branch, commit), read from the repository's own files
// with asynchronous reads (libuv's thread pool): no `git` process, nothing on the calling
// thread but parsing a few short files. Used by the plugin once per directory (then refreshed
// in the background), so OpenCode's thread never waits on it. Never throws: what cannot be
// read is left out. The remote is given as the config holds it; the core strips credentials.
const fs = require('node:fs');
const path = require('node:path');

const MAX_LEVELS = 64; // directories looked at upward for a .git
const MAX_FILE = 1 << 20; // a .git/config or packed-refs past this is not read

async function readSmall(file) {
  try {
    const handle = await fs.promises.open(file, 'r');
    try {
      const { size } = await handle.stat();
      if (size > MAX_FILE) return undefined;
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

/** The repository of dir: {gitDir (HEAD's), commonDir (refs, config)}, or undefined. */
async function findRepository(dir) {
  let at = path.resolve(dir);
  for (let i = 0; i < MAX_LEVELS; i++) {
    const dotGit = path.join(at, '.git');
    const stat = await fs.promises.stat(dotGit).catch(() => undefined);
    if (stat && stat.isDirectory()) return { gitDir: dotGit, commonDir: dotGit };
    if (stat && stat.isFile()) {
      // a worktree or a submodule: "gitdir: <path>", and maybe a commondir beside HEAD
      const m = /^gitdir:\s*(.+?)\s*$/m.exec((await readSmall(dotGit)) || '');
      if (!m) return undefined;
      const gitDir = path.resolve(at, m[1]);
      const common = ((await readSmall(path.join(gitDir, 'commondir'))) || '').trim();
      return { gitDir, commonDir: common ? path.resolve(gitDir, common) : gitDir };
    }
    const up = path.dirname(at);
    if (up === at) return undefined;
    at = up;
  }
  return undefined;
}

/** The remote's URL from a git config text: origin's, else the first remote's. */
function remoteOf(config) {
  let section, first, origin;
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    const head = /^\[\s*remote\s+"([^"]*)"\s*\]$/.exec(line);
    if (head) {
      section = head[1];
      continue;
    }
    if (line.startsWith('[')) section = undefined;
    const url = section !== undefined && /^url\s*=\s*(.+)$/.exec(line);
    if (!url) continue;
    if (section === 'origin' && origin === undefined) origin = url[1].trim();
    if (first === undefined) first = url[1].trim();
  }
  return origin ?? first;
}

async function resolveRef(commonDir, gitDir, ref) {
  for (const dir of [gitDir, commonDir]) {
    const loose = ((await readSmall(path.join(dir, ref))) || '').trim();
    if (/^[0-9a-f]{40,64}$/.test(loose)) return loose;
  }
  const packed = (await readSmall(path.join(commonDir, 'packed-refs'))) || '';
  for (const line of packed.split('\n')) {
    const m = /^([0-9a-f]{40,64}) (.+)$/.exec(line.trim());
    if (m && m[2] === ref) return m[1];
  }
  return undefined;
}

/**
 * {remote?, branch?, commit?} of the repository dir is in, or undefined when it is in none.
 * @param {string} dir
 */
async function gitContext(dir) {
  try {
    const repo = typeof dir === 'string' && dir ? await findRepository(dir) : undefined;
    if (!repo) return undefined;
    const out = {};
    const head = ((await readSmall(path.join(repo.gitDir, 'HEAD'))) || '').trim();
    const ref = /^ref:\s*(\S+)$/.exec(head);
    if (ref) {
      if (ref[1].startsWith('refs/heads/')) out.branch = ref[1].slice('refs/heads/'.length);
      const commit = await resolveRef(repo.commonDir, repo.gitDir, ref[1]);
      if (commit) out.commit = commit;
    } else if (/^[0-9a-f]{40,64}$/.test(head)) {
      out.commit = head; // a detached HEAD
    }
    const remote = remoteOf((await readSmall(path.join(repo.commonDir, 'config'))) || '');
    if (remote) out.remote = remote;
    return out;
  } catch {
    return undefined;
  }
}

module.exports = { gitContext, remoteOf };
