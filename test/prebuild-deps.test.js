'use strict';
// The prebuild recipe builds only from pinned, checksum-verified sources (issue 14):
// native/prebuild/deps.js fetches each tarball of deps.json and refuses one whose SHA-256 is
// not the pinned one, keeping nothing of it. Served over real HTTP from 127.0.0.1.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { ROOT, tempDir, runProcess } = require('./helpers/package.js');

const GOOD = Buffer.from('a release tarball, as published upstream\n');
const BAD = Buffer.concat([GOOD, Buffer.from('and something added on the way\n')]);
let server, base;

before(async () => {
  server = http.createServer((req, res) => {
    const body = { '/good.tar.gz': GOOD, '/bad.tar.gz': BAD }[req.url];
    if (!body) return res.writeHead(404).end();
    res.writeHead(200).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

// deps.js with its own deps.json beside it, as the recipe runs it.
function recipe(deps) {
  const dir = tempDir('oat-recipe-');
  fs.copyFileSync(path.join(ROOT, 'native', 'prebuild', 'deps.js'), path.join(dir, 'deps.js'));
  fs.writeFileSync(path.join(dir, 'deps.json'), JSON.stringify(deps));
  return dir;
}

const pinned = crypto.createHash('sha256').update(GOOD).digest('hex');

test('the pinned list names upstream release URLs, versions and SHA-256 checksums of jansson, libyaml and protobuf-c', () => {
  const deps = JSON.parse(fs.readFileSync(path.join(ROOT, 'native', 'prebuild', 'deps.json'), 'utf8'));
  for (const name of ['jansson', 'libyaml', 'protobuf-c']) {
    assert.match(deps[name].url, /^https:\/\/github\.com\//, `${name}: upstream URL`);
    assert.match(deps[name].sha256, /^[0-9a-f]{64}$/, `${name}: SHA-256`);
    assert.ok(deps[name].url.includes(deps[name].version), `${name}: the URL is the pinned version's`);
  }
});

test('a source tarball whose SHA-256 is not the pinned one is refused, and nothing of it is kept', async () => {
  const dir = recipe({ jansson: { version: '9.9', url: `${base}/bad.tar.gz`, sha256: pinned } });
  const downloads = tempDir('oat-dl-');
  const r = await runProcess(process.execPath, [path.join(dir, 'deps.js'), downloads], { env: process.env });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`jansson 9\\.9: SHA-256 [0-9a-f]{64} is not the pinned ${pinned}; nothing was built`),
  );
  assert.deepEqual(fs.readdirSync(downloads), []);
});

test('a source tarball that matches is kept and named, and a cached copy is checked again', async () => {
  const dir = recipe({ jansson: { version: '9.9', url: `${base}/good.tar.gz`, sha256: pinned } });
  const downloads = tempDir('oat-dl-');
  const r = await runProcess(process.execPath, [path.join(dir, 'deps.js'), downloads], { env: process.env });
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(downloads, 'jansson-9.9.tar.gz');
  assert.equal(r.stdout, `jansson 9.9 ${file}\n`);
  assert.deepEqual(fs.readFileSync(file), GOOD);
  // a cached file altered since is not trusted: fetched again (here from a source that is bad)
  fs.writeFileSync(file, BAD);
  fs.writeFileSync(
    path.join(dir, 'deps.json'),
    JSON.stringify({ jansson: { version: '9.9', url: `${base}/bad.tar.gz`, sha256: pinned } }),
  );
  const again = await runProcess(process.execPath, [path.join(dir, 'deps.js'), downloads], { env: process.env });
  assert.equal(again.code, 1);
  assert.deepEqual(fs.readdirSync(downloads), []);
});
