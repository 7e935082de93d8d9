'use strict';
// The C unit tests built for Windows (mingw-w64, the win32-x64 target's compiler, flags and
// static libraries: libcurl with Schannel, zlib, jansson, libyaml, protobuf-c) and run under
// wine, each started as a Windows parent starts it (test/helpers/wine.js) with a USERPROFILE
// and a temporary directory whose names have non-ASCII characters.
//
// Left out, with why: test_platform and test_hostile plant symbolic links and FIFOs with POSIX
// calls (Windows' own links need a privilege; Windows has no FIFOs at a path), test_state
// forks; test_http, test_exporter and test_tracer use the POSIX test server (test/c/server.h).
// test_door covers the door's contract those rely on, on every system.
const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { windows, winPath } = require('./helpers/wine.js');
const { ROOT, tempDir } = require('./helpers/package.js');
const { TARGETS } = require('../native/prebuild/targets.js');
const { listSources } = require('../native/sources.js');

const LEFT_OUT = ['test_platform', 'test_hostile', 'test_state', 'test_http', 'test_exporter', 'test_tracer'];
const TESTS = fs
  .readdirSync(path.join(ROOT, 'test', 'c'))
  .filter((f) => /^test_\w+\.c$/.test(f))
  .map((f) => f.slice(0, -2))
  .filter((t) => !LEFT_OUT.includes(t))
  .sort();

let win, out, st;

before(() => {
  win = windows();
  if (win.skip) return;
  out = tempDir('oat-win-c-');
  // the answer is the last line (a first build's progress goes to stderr, but be sure)
  const answer = (text) => JSON.parse(text.trim().split('\n').pop());
  st = answer(
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'native', 'prebuild', 'prebuild.js'), '--static-dir', 'win32-x64'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  );
  const t = TARGETS['win32-x64'];
  const flags = [
    '-std=c11',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-O1',
    '-D_GNU_SOURCE',
    ...t.cflags,
    '-I',
    path.join(ROOT, 'native'),
    '-I',
    path.join(ROOT, 'native', 'gen'),
    '-I',
    path.join(st.dir, 'include'),
  ];
  const objects = [];
  for (const src of listSources().filter((s) => s !== 'native/binding.c')) {
    const obj = path.join(out, src.replace(/[/.]/g, '_') + '.o');
    execFileSync(st.CC, [...flags, '-c', '-o', obj, path.join(ROOT, src)], { stdio: ['ignore', 'inherit', 'inherit'] });
    objects.push(obj);
  }
  const libs = ['jansson', 'yaml', 'protobuf-c', 'curl', 'z'].map((l) => path.join(st.dir, 'lib', `lib${l}.a`));
  for (const name of TESTS)
    execFileSync(
      st.CC,
      [
        ...flags,
        '-include',
        path.join(ROOT, 'test', 'c', 'win_posix.h'),
        '-o',
        path.join(out, `${name}.exe`),
        path.join(ROOT, 'test', 'c', `${name}.c`),
        ...objects,
        ...libs,
        ...t.ldflags,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
});

for (const name of TESTS)
  test(`${name}, built for Windows, passes under wine`, async (t) => {
    if (win.skip) return t.skip(win.skip);
    const home = tempDir('oat-hömé-Дом-家-');
    const tmp = tempDir('oat-tmp-été-');
    const r = await win.run(path.join(out, `${name}.exe`), [], {
      cwd: path.join(ROOT, 'test', 'c'),
      env: {
        USERPROFILE: winPath(home),
        HOME: null,
        OAT_TEST_HOME_UTF8: winPath(home),
        OAT_TEST_TMP: winPath(tmp),
        OAT_TEST_WINE: '1',
      },
      timeoutMs: 300000,
    });
    const report = (r.stdout + r.stderr).trimEnd();
    console.log(report.replace(/^/gm, '# '));
    assert.equal(r.code, 0, report);
    assert.match(report, /^\d+ passed, 0 failed$/m);
  });
