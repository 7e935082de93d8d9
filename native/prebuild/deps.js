'use strict';
// Fetches the pinned release tarballs of deps.json into a download directory and verifies
// each one's SHA-256 before anything is built from it.
//
//   node native/prebuild/deps.js DIR     prints one line per library: name version tarball
//
// Where a tarball comes from, in order: DIR already holding it (checked again); its upstream
// url (when it has one); on a Debian machine that cannot reach upstream, Debian's .orig tarball of the same
// release (`apt-get source --download-only`, in a private apt state that leaves the system's
// configuration alone), which for these three libraries is the upstream file byte for byte.
// Whatever the route, a file whose SHA-256 differs from deps.json is deleted and the build stops.
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const DEPS = JSON.parse(fs.readFileSync(path.join(__dirname, 'deps.json'), 'utf8'));
const TIMEOUT_MS = 60000;

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function libraries() {
  return Object.entries(DEPS)
    .filter(([name]) => name !== 'comment')
    .map(([name, d]) => ({ name, ...d }));
}

async function fromUpstream(dep, file) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch(dep.url, { signal: controller.signal, redirect: 'follow' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    fs.writeFileSync(file, Buffer.from(await response.arrayBuffer()));
  } finally {
    clearTimeout(timer);
  }
}

// Debian's source package of the pinned release: only its .orig tarball is used (no Debian
// patches). The deb-src lines name the suites the system's own apt sources use.
function fromDebian(dep, file, dir) {
  const apt = path.join(dir, 'apt');
  fs.mkdirSync(path.join(apt, 'lists', 'partial'), { recursive: true });
  fs.mkdirSync(path.join(apt, 'parts'), { recursive: true });
  let suites = '';
  try {
    suites = execFileSync('apt-get', ['indextargets', '--format', '$(REPO_URI) $(RELEASE)'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^[a-z]+:\/\/\S*\/debian(-security)?\/? /.test(l));
  } catch {
    suites = [];
  }
  if (!suites.length)
    suites = ['http://deb.debian.org/debian/ bookworm', 'http://deb.debian.org/debian-security/ bookworm-security'];
  fs.writeFileSync(path.join(apt, 'sources.list'), [...new Set(suites)].map((s) => `deb-src ${s} main\n`).join(''));
  const args = [
    '-q',
    '-o',
    `Dir::Etc::SourceList=${path.join(apt, 'sources.list')}`,
    '-o',
    `Dir::Etc::SourceParts=${path.join(apt, 'parts')}`,
    '-o',
    `Dir::State::Lists=${path.join(apt, 'lists')}`,
    '-o',
    'Debug::NoLocking=1',
    '-o',
    'APT::Sandbox::User=root',
  ];
  if (!fs.existsSync(path.join(apt, '.updated'))) {
    execFileSync('apt-get', [...args, 'update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.writeFileSync(path.join(apt, '.updated'), '');
  }
  const work = fs.mkdtempSync(path.join(dir, 'debian-'));
  try {
    execFileSync('apt-get', [...args, 'source', '--download-only', dep.debian], {
      cwd: work,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const orig = fs.readdirSync(work).find((f) => /\.orig\.tar\.[a-z0-9]+$/.test(f));
    if (!orig) throw new Error(`${dep.debian} has no .orig tarball`);
    fs.renameSync(path.join(work, orig), file);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function fetchOne(dep, dir) {
  const file = path.join(dir, dep.file || `${dep.name}-${dep.version}.tar.gz`);
  if (fs.existsSync(file) && sha256(file) === dep.sha256) return file;
  fs.rmSync(file, { force: true });
  const tmp = `${file}.part`;
  const failures = [];
  try {
    if (!dep.url) throw new Error('no upstream URL (Debian only)');
    await fromUpstream(dep, tmp);
  } catch (error) {
    failures.push(`${dep.url || dep.name}: ${(error.cause && error.cause.message) || error.message}`);
    fs.rmSync(tmp, { force: true });
    if (dep.debian) {
      try {
        fromDebian(dep, tmp, dir);
      } catch (e) {
        failures.push(`Debian source package ${dep.debian}: ${e.message.split('\n')[0]}`);
        fs.rmSync(tmp, { force: true });
      }
    }
  }
  if (!fs.existsSync(tmp)) throw new Error(`cannot fetch ${dep.name} ${dep.version}:\n  ${failures.join('\n  ')}`);
  const got = sha256(tmp);
  if (got !== dep.sha256) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`${dep.name} ${dep.version}: SHA-256 ${got} is not the pinned ${dep.sha256}; nothing was built`);
  }
  fs.renameSync(tmp, file);
  return file;
}

async function main(dir) {
  if (!dir) throw new Error('usage: node native/prebuild/deps.js DIR');
  fs.mkdirSync(dir, { recursive: true });
  const lines = [];
  for (const dep of libraries()) lines.push(`${dep.name} ${dep.version} ${await fetchOne(dep, path.resolve(dir))}`);
  process.stdout.write(lines.join('\n') + '\n');
}

module.exports = { libraries, sha256, fetchOne };

if (require.main === module) {
  main(process.argv[2]).catch((error) => {
    console.error(`deps: ${error.message}`);
    process.exit(1);
  });
}
