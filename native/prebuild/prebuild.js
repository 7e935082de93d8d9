'use strict';
// `npm run prebuild`: builds prebuilds/<platform>-<arch>/node.napi.node, the addon users load
// without a compiler. jansson, libyaml and protobuf-c are linked in statically (built with -fPIC
// by static-deps.sh), libcurl is the system's libcurl.so.4. Then it checks what the file
// exports and which glibc it needs, and refuses a file that exports more than the Node-API entry
// points or needs a newer glibc than MAX_GLIBC.
//
//   ARIZE_TRACING_STATIC_DIR   where the static libraries are built and cached
//                              (default node_modules/.cache/opencode-arize-tracing/static)
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const MAX_GLIBC = '2.17';
const EXPORTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];

function run(cmd, args, env) {
  execFileSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: Object.assign({}, process.env, env) });
}

function output(cmd, args) {
  return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8' });
}

function versionKey(v) {
  const [major = 0, minor = 0, patch = 0] = v.split('.').map(Number);
  return (major * 1000 + minor) * 1000 + patch;
}

// What a built addon exports, needs and weighs; the checks a release must pass.
function inspect(file) {
  const exported = output('nm', ['-D', '--defined-only', file]).split('\n')
    .map((line) => line.trim().split(/\s+/)[2]).filter(Boolean);
  const glibc = [...new Set(output('objdump', ['-T', file]).match(/GLIBC_[0-9.]+/g) || [])]
    .map((v) => v.slice(6)).sort((a, b) => versionKey(a) - versionKey(b));
  const needed = (output('objdump', ['-p', file]).match(/NEEDED\s+\S+/g) || []).map((l) => l.split(/\s+/)[1]);
  return { file, bytes: fs.statSync(file).size, exported, glibc, maxGlibc: glibc[glibc.length - 1], needed };
}

function check(info) {
  const problems = [];
  const extra = info.exported.filter((name) => !EXPORTS.includes(name));
  if (extra.length) problems.push(`exports more than the Node-API entry points: ${extra.join(', ')}`);
  if (!info.exported.includes('napi_register_module_v1')) problems.push('does not export napi_register_module_v1');
  if (info.maxGlibc && versionKey(info.maxGlibc) > versionKey(MAX_GLIBC))
    problems.push(`needs GLIBC_${info.maxGlibc}, more than GLIBC_${MAX_GLIBC}: ` +
      output('objdump', ['-T', info.file]).split('\n').filter((l) => l.includes(`GLIBC_${info.maxGlibc}`)).join('; '));
  const allowed = ['libcurl.so.4', 'libz.so.1', 'libc.so.6', 'libm.so.6', 'libpthread.so.0', 'ld-linux-x86-64.so.2'];
  const unexpected = info.needed.filter((lib) => !allowed.includes(lib));
  if (unexpected.length) problems.push(`links shared libraries beyond libcurl, zlib and libc: ${unexpected.join(', ')}`);
  return problems;
}

function main() {
  if (process.platform !== 'linux') throw new Error('npm run prebuild builds the Linux prebuild; run it on Linux');
  const staticDir = path.resolve(process.env.ARIZE_TRACING_STATIC_DIR ||
    path.join(ROOT, 'node_modules', '.cache', 'opencode-arize-tracing', 'static'));
  run('bash', [path.join(__dirname, 'static-deps.sh'), staticDir]);
  run(process.execPath, [path.join(ROOT, 'native', 'nodedir', 'prepare.js')]);
  const prebuildify = require.resolve('prebuildify/bin.js', { paths: [ROOT] });
  run(process.execPath, [prebuildify, '--napi', '--strip', '--name=node.napi'], {
    ARIZE_TRACING_STATIC_DIR: staticDir,
    npm_config_nodedir: path.join(ROOT, 'native', 'nodedir'),
  });
  const file = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node');
  const info = inspect(file);
  console.log(`${path.relative(ROOT, file)}: ${info.bytes} bytes; exports ${info.exported.join(', ')}; ` +
    `needs ${info.needed.join(', ')}; highest glibc symbol version GLIBC_${info.maxGlibc}`);
  const problems = check(info);
  if (problems.length) throw new Error(`${path.relative(ROOT, file)}:\n  ${problems.join('\n  ')}`);
}

module.exports = { inspect, check, MAX_GLIBC };

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`prebuild: ${error.message}`);
    process.exit(1);
  }
}
