'use strict';
// darwin-arm64 and darwin-x64: nothing here can load a Mach-O file, so the bundled cores are
// checked for what a Mac needs of them, each fact read twice (the recipe's own reader,
// native/prebuild/macho.js, and Debian's llvm-14 tools: llvm-objdump, llvm-nm; GNU nm reads
// -gU as --unicode): an MH_BUNDLE for its arch; exports only the two Node-API entry points;
// dylibs only from /usr/lib and /System; minimum macOS 11.0; an LC_UUID; on arm64 an ad-hoc
// code signature whose page hashes match the file. The C unit tests are compiled and linked
// for darwin-arm64 (zig's clang 16 with -Werror, ld64.lld-14 against macOS 11's libSystem),
// which catches a Linux-only call before the release workflow's Mac does.
// The first run on a Mac is the release workflow's (.github/workflows/release.yml).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT } = require('./helpers/package.js');
const prebuild = require('../native/prebuild/prebuild.js');
const macho = require('../native/prebuild/macho.js');
const { listSources } = require('../native/sources.js');

const OBJDUMP = 'llvm-objdump-14';
const NM = 'llvm-nm-14';
const LLD = 'ld64.lld-14';

function has(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const missing = [OBJDUMP, NM, LLD].filter((c) => !has(c));
const skip = missing.length ? `${missing.join(', ')} missing (Debian: apt-get install llvm-14 lld-14)` : false;
const out = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

for (const [key, arch, cputype] of [
  ['darwin-arm64', 'arm64', 'ARM64'],
  ['darwin-x64', 'x86_64', 'X86_64'],
]) {
  const file = path.join(ROOT, 'prebuilds', key, 'node.napi.node');

  test(
    `${key}: a Mach-O bundle for ${arch}, macOS 11.0, exporting the Node-API entry points only, linking only system dylibs`,
    { skip },
    () => {
      const info = prebuild.inspect(file, key);
      assert.deepEqual(prebuild.check(info, key), []);
      console.log(`# ${prebuild.describe(info)}`);
      // the same facts from llvm-14
      const header = out(OBJDUMP, ['--macho', '--private-header', file]);
      assert.match(header, new RegExp(`MH_MAGIC_64\\s+${cputype}\\s+\\S+\\s+\\S+\\s+BUNDLE\\b`));
      const exported = out(NM, ['-gU', file])
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).pop())
        .sort();
      assert.deepEqual(exported, ['_napi_register_module_v1', '_node_api_module_get_api_version_v1']);
      const dylibs = out(OBJDUMP, ['--macho', '--dylibs-used', file])
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(' (')[0])
        .filter(Boolean);
      // libcurl is not linked: the exporter's thread loads it (native/http.c)
      assert.deepEqual(dylibs, ['/usr/lib/libz.1.dylib', '/usr/lib/libSystem.B.dylib']);
      assert.deepEqual(dylibs, info.macho.dylibs);
      const loads = out(OBJDUMP, ['--macho', '--private-headers', file]);
      assert.match(loads, /cmd LC_BUILD_VERSION\n\s+cmdsize \d+\n\s+platform macos\n\s+sdk 11\.0\n\s+minos 11\.0\n/);
      const uuid = /cmd LC_UUID\n\s+cmdsize 24\n\s+uuid ([0-9A-F-]+)/.exec(loads);
      assert.ok(uuid, 'an LC_UUID (macOS 15 refuses a file without one)');
      assert.equal(uuid[1].replace(/-/g, '').toLowerCase(), info.macho.uuid);
      // Node-API comes from the host process: bound flat (-undefined dynamic_lookup), never a dylib
      const binds = out(OBJDUMP, ['--macho', '--lazy-bind', '--bind', file]);
      for (const line of binds.split('\n').filter((l) => /_napi_/.test(l)))
        assert.match(line, /flat-namespace/, `napi is looked up in the host: ${line}`);
      if (arch === 'arm64') {
        assert.match(loads, /cmd LC_CODE_SIGNATURE/, 'Apple Silicon loads signed code only');
        assert.equal(info.macho.signature.identifier, 'node.napi.node');
        assert.ok(info.macho.signature.valid, 'every page hash of the ad-hoc signature matches the file');
      }
    },
  );

  test(`${key}: its UUID is a hash of its content, so a rebuild gives the same bytes`, { skip }, () => {
    const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'oat-macho-')), 'node.napi.node');
    const bytes = fs.readFileSync(file);
    // a random UUID, as ld64.lld-14 writes, is replaced by the content hash again
    const mangled = Buffer.from(bytes);
    const at = mangled.indexOf(Buffer.from(macho.parse(bytes).uuid, 'hex'));
    mangled.fill(0xab, at, at + 16);
    fs.writeFileSync(copy, mangled);
    if (arch === 'arm64') assert.equal(macho.parse(mangled).signature.valid, false, 'the change breaks the signature');
    // (fixUuid refuses a file whose signature the linker did not write: re-sign first)
    if (arch !== 'arm64') {
      macho.fixUuid(copy);
      assert.deepEqual(fs.readFileSync(copy), bytes);
    }
    fs.writeFileSync(copy, bytes);
    macho.fixUuid(copy);
    assert.deepEqual(fs.readFileSync(copy), bytes, 'the committed file is its own fixed point');
  });

  // once, for arm64: the same sources, and the x64 core itself is compiled by the recipe
  if (arch !== 'arm64') continue;
  test(
    `${key}: the C unit tests compile and link for darwin (clang -Werror, macOS 11 libSystem)`,
    { skip },
    async () => {
      const tc = prebuild.toolchain(key);
      const st = prebuild.staticDir(key, tc);
      const work = fs.mkdtempSync(path.join(os.tmpdir(), `oat-ctest-${key}-`));
      const target = prebuild.TARGETS[key];
      const flags = [
        '-std=c11',
        '-D_GNU_SOURCE',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-O1',
        '-g0',
        ...target.cflags,
        '-I',
        path.join(ROOT, 'native'),
        '-I',
        path.join(ROOT, 'native', 'gen'),
        '-I',
        path.join(st, 'include'),
      ];
      const compile = (src) => {
        const obj = path.join(work, src.replace(/[/.]/g, '_') + '.o');
        execFileSync(tc.CC, [...flags, '-c', '-o', obj, path.join(ROOT, src)], { stdio: ['ignore', 'pipe', 'pipe'] });
        return obj;
      };
      const core = listSources()
        .filter((s) => s !== 'native/binding.c')
        .map(compile);
      const tests = fs
        .readdirSync(path.join(ROOT, 'test', 'c'))
        .filter((f) => /^test_.*\.c$/.test(f))
        .sort();
      assert.ok(tests.length >= 10);
      for (const t of tests) {
        const exe = path.join(work, t.replace(/\.c$/, ''));
        execFileSync(LLD, [
          '-arch',
          target.machine,
          '-platform_version',
          'macos',
          target.minos,
          target.minos,
          '-o',
          exe,
          compile(`test/c/${t}`),
          ...core,
          ...['jansson', 'yaml', 'protobuf-c'].map((l) => path.join(st, 'lib', `lib${l}.a`)),
          `-L${path.join(st, 'stub')}`,
          '-lz',
          '-lSystem',
        ]);
        assert.equal(macho.parse(fs.readFileSync(exe)).filetypeName, 'MH_EXECUTE');
      }
      console.log(`# ${key}: ${tests.length} C test programs compiled and linked`);
      fs.rmSync(work, { recursive: true, force: true });
    },
  );
}
