'use strict';
// Finds and loads the compiled core. Order: an explicit ARIZE_TRACING_NATIVE path (tests,
// debugging), the prebuild for this platform at a fixed path (a literal require, so
// `bun build --compile` can embed it), then node-gyp-build (a local `npm rebuild`).
const path = require('node:path');

const root = path.join(__dirname, '..');

function fixedPrebuild() {
  const key = `${process.platform}-${process.arch}`;
  if (key === 'linux-x64') return require('../prebuilds/linux-x64/node.napi.node');
  throw Object.assign(new Error(`no prebuild bundled for ${key}`), { code: 'NO_PREBUILD' });
}

// Why a load failed, in words a user can act on.
function explain(error) {
  const message = String(error && error.message || error);
  const missing = /(lib[\w.+-]+\.so(?:\.\d+)*): cannot open shared object file/.exec(message);
  if (missing) return `the system library ${missing[1]} is missing (install it, e.g. apt-get install libcurl4)`;
  return message.split('\n')[0];
}

function load() {
  const tried = [];
  const explicit = process.env.ARIZE_TRACING_NATIVE;
  if (explicit) {
    try {
      return { binding: require(path.resolve(explicit)), file: path.resolve(explicit) };
    } catch (error) {
      tried.push(`${explicit}: ${explain(error)}`);
    }
  }
  try {
    return { binding: fixedPrebuild(), file: path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'node.napi.node') };
  } catch (error) {
    tried.push(`prebuilds/${process.platform}-${process.arch}/node.napi.node: ${explain(error)}`);
  }
  try {
    const nodeGypBuild = require('node-gyp-build');
    const file = nodeGypBuild.resolve(root);
    return { binding: require(file), file };
  } catch (error) {
    tried.push(`node-gyp-build: ${explain(error)}`);
  }
  const error = new Error(
    'opencode-arize-tracing: cannot load its native core.\n  tried:\n    ' + tried.join('\n    ') +
    '\n  to build it from source (needs a C compiler, libcurl, jansson, libyaml, protobuf-c): ' +
    'npm rebuild opencode-arize-tracing');
  error.code = 'ARIZE_TRACING_NATIVE_LOAD';
  throw error;
}

module.exports = load();
