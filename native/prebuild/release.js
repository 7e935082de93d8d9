'use strict';
// `npm run release`: the release files and prebuilds/manifest.json.
//
// Each prebuild in prebuilds/<key>/node.napi.node (bundled in the package: every target of
// targets.js) and each one given with --add <key>=<file> (built elsewhere, downloaded on
// demand by the loader; keys like linux-x64-musl are fine) is
// copied to OUT/opencode-arize-tracing-v<version>-<platform>.node, and the manifest lists, per
// platform, that file name, its SHA-256 and size. The files in OUT are what goes to the
// release page the loader downloads from (ARIZE_TRACING_BINARY_HOST, or the manifest's host).
//
//   node native/prebuild/release.js [--out DIR] [--host URL] [--add platform=file ...]
//     --out   default build/release
//     --host  release base URL written into the manifest (default $ARIZE_TRACING_BINARY_HOST,
//             else GitHub's releases/download/v<version> of package.json's repository)
// A full release of every bundled prebuild is one command on a Debian 12 x86-64 machine with
// the toolchains test/ensure-deps.sh installs: `npm run release`. Every file is checked for
// its target (prebuild.js check(): ELF with readelf, Mach-O read here) before it is listed.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { inspect, check } = require('./prebuild.js');
const { TARGETS } = require('./targets.js');
const { sourcesHash } = require('./sources.js');
const { defaultHost } = require('../../lib/binary.js');

const ROOT = path.join(__dirname, '..', '..');

function parseArgs(argv) {
  const args = { out: path.join(ROOT, 'build', 'release'), host: process.env.ARIZE_TRACING_BINARY_HOST || '', add: [] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--out') args.out = path.resolve(value());
    else if (flag === '--host') args.host = value();
    else if (flag === '--add') args.add.push(value());
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const sources = [];
  for (const key of fs.readdirSync(path.join(ROOT, 'prebuilds'))) {
    const file = path.join(ROOT, 'prebuilds', key, 'node.napi.node');
    if (fs.existsSync(file)) {
      if (!TARGETS[key]) throw new Error(`prebuilds/${key}/ is no target of native/prebuild/targets.js`);
      sources.push({ key, file, bundled: `${key}/node.napi.node` });
    }
  }
  for (const spec of args.add) {
    const [key, file] = spec.split(/=(.*)/s);
    if (!/^[a-z0-9]+-[a-z0-9]+(-[a-z0-9]+)?$/.test(key || '') || !file)
      throw new Error(`--add wants key=file, e.g. linux-x64-musl=./node.napi.node, not ${spec}`);
    sources.push({ key, file: path.resolve(file), bundled: null });
  }
  if (!sources.length) throw new Error('no prebuild to release: run `npm run prebuild` first');

  fs.mkdirSync(args.out, { recursive: true });
  const manifest = {
    version: pkg.version,
    host: args.host || defaultHost(pkg),
    sources_sha256: sourcesHash(),
    binaries: {},
  };
  for (const { key, file, bundled } of sources) {
    // a key of targets.js is checked against its target; another only for its exports
    const problems = check(inspect(file, key), key).filter((p) => TARGETS[key] || !/^no target /.test(p));
    if (problems.length) throw new Error(`${file}:\n  ${problems.join('\n  ')}`);
    const bytes = fs.readFileSync(file);
    const name = `${pkg.name}-v${pkg.version}-${key}.node`;
    fs.writeFileSync(path.join(args.out, name), bytes);
    manifest.binaries[key] = {
      file: name,
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      ...(bundled ? { bundled } : {}),
    };
    console.log(`${path.relative(ROOT, path.join(args.out, name))}  ${manifest.binaries[key].sha256}`);
  }
  const text = JSON.stringify(manifest, null, 2) + '\n';
  fs.writeFileSync(path.join(args.out, 'manifest.json'), text);
  fs.writeFileSync(path.join(ROOT, 'prebuilds', 'manifest.json'), text);
  console.log(
    `prebuilds/manifest.json: ${Object.keys(manifest.binaries).join(', ')}` +
      (manifest.host ? `; downloads from ${manifest.host}` : '; no host: downloads need ARIZE_TRACING_BINARY_HOST'),
  );
}

try {
  main();
} catch (error) {
  console.error(`release: ${error.message}`);
  process.exit(1);
}
