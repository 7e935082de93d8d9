'use strict';
// The attacks of issue 22, each measured as a user would see it: spans expected, delivered,
// duplicated and counted, and seconds on OpenCode's thread. Real processes of this runtime,
// real files, a receiver on 127.0.0.1. Prints one JSON line per attack, then a table.
//   node test/bench/attacks.js [--only a,b]
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startReceiver, deliveries } = require('../receiver.js');
const { tempHome, cleanEnv, run, readLog } = require('../helpers/run.js');

const MAIN = 'main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json';
const PER = 15; // spans of MAIN
const FAST = { ARIZE_RETRY_INITIAL_MS: '50', ARIZE_RETRY_MAX_MS: '300', OTEL_EXPORTER_OTLP_TIMEOUT: '2000' };
const only = (process.argv.find((a) => a.startsWith('--only=')) || '').slice(7).split(',').filter(Boolean);

const scenario = (steps, env, options) => run('api-scenario.js', { steps }, cleanEnv(env), options);
const spoolRoot = (home) => path.join(home, '.arize', 'harness', 'spool', 'opencode');
const stateDir = (home) => path.join(home, '.arize', 'harness', 'state', 'opencode');

function spoolFiles(home) {
  const out = [];
  const root = spoolRoot(home);
  if (!fs.existsSync(root)) return out;
  for (const d of fs.readdirSync(root)) {
    const dir = path.join(root, d);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.spool')) out.push(path.join(dir, f));
  }
  return out.sort();
}

const counted = (status) => {
  const c = status.counters;
  return {
    dropped: c.spans_dropped,
    ...(c.spans_discarded !== undefined ? { discarded: c.spans_discarded } : {}),
    ...(c.spans_damaged !== undefined ? { damaged: c.spans_damaged } : {}),
  };
};

// Spans left in the spool by a process with no backend (it exits normally: they stay).
async function leaveSpool(home, variants, offset = 0) {
  await scenario([{ fixture: MAIN, variants, offset, quiet: true }, { durable: 10000 }, { shutdown: 0 }], {
    HOME: home,
  });
}

const attacks = {
  async dryrun() {
    const home = tempHome();
    await leaveSpool(home, 3);
    const dry = await scenario(
      [{ fixture: MAIN, variants: 1, offset: 10, quiet: true }, { flush: 3000 }, { status: true }],
      {
        HOME: home,
        ARIZE_DRY_RUN: 'true',
      },
    );
    const receiver = await startReceiver();
    try {
      await scenario([{ flush: 10000 }], { HOME: home, PHOENIX_ENDPOINT: receiver.url, ...FAST });
      return { expected: 3 * PER, ...deliveries(receiver), counted_by_dry_run: counted(dry.steps[2].status) };
    } finally {
      await receiver.close();
    }
  },

  async redirects() {
    const out = {};
    for (const code of [301, 302, 307, 308]) {
      const receiver = await startReceiver({
        respond: (r) =>
          r.path === '/v1/traces' ? { status: code, headers: { location: '/v1/moved' } } : { status: 200 },
      });
      try {
        const res = await scenario([{ fixture: MAIN }, { flush: 5000 }, { status: true }], {
          HOME: tempHome(),
          PHOENIX_ENDPOINT: receiver.url,
          ...FAST,
        });
        const st = res.steps[2].status;
        out[code] = {
          expected: PER,
          at_target: receiver.requests.filter((r) => r.path === '/v1/moved').reduce((n, r) => n + r.spans.length, 0),
          pending: st.counters.spans_pending,
          dropped: st.counters.spans_dropped,
        };
      } finally {
        await receiver.close();
      }
    }
    return out;
  },

  async http500() {
    const receiver = await startReceiver({ respond: (r, i) => (i < 2 ? { status: 500, body: 'oops' } : undefined) });
    try {
      const res = await scenario([{ fixture: MAIN }, { flush: 8000 }, { status: true }], {
        HOME: tempHome(),
        PHOENIX_ENDPOINT: receiver.url,
        ...FAST,
      });
      return { expected: PER, ...deliveries(receiver), counted: counted(res.steps[2].status) };
    } finally {
      await receiver.close();
    }
  },

  async futureSpool() {
    const home = tempHome();
    const dead = path.join(spoolRoot(home), '999999-deadbeef');
    fs.mkdirSync(dead, { recursive: true });
    fs.writeFileSync(
      path.join(dead, '0000000000000001.spool'),
      Buffer.concat([Buffer.from('OATSPOOL9\n'), Buffer.alloc(64, 7)]),
    );
    // a current-format file holding one record of a kind this version does not know (3)
    const data = Buffer.from('from a newer version');
    const head = Buffer.alloc(9);
    head.writeUInt32LE(data.length, 0);
    head.writeUInt32LE(
      require('node:zlib').crc32 ? require('node:zlib').crc32(data, require('node:zlib').crc32(Buffer.from([3]))) : 0,
      4,
    );
    head[8] = 3;
    fs.writeFileSync(
      path.join(dead, '0000000000000002.spool'),
      Buffer.concat([Buffer.from('OATSPOOL2\n'), head, data]),
    );
    const past = new Date(Date.now() - 120000);
    fs.utimesSync(dead, past, past);
    await scenario([{ fixture: MAIN }, { shutdown: 0 }], { HOME: home });
    const left = fs
      .readdirSync(spoolRoot(home), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.spool'));
    const kept = left.filter((f) => {
      const b = fs.readFileSync(path.join(spoolRoot(home), f));
      return b.subarray(0, 10).toString() === 'OATSPOOL9\n' || b.includes(data);
    }).length;
    return { files_of_newer_version: 2, kept, log: (readLog(home).match(/spool file .*/g) || []).slice(0, 2) };
  },

  async badLength() {
    const home = tempHome();
    await scenario(
      [{ fixture: MAIN, variants: 2, quiet: true }, { durable: 10000 }, { kill: 'SIGKILL' }],
      { HOME: home },
      { expectSignal: 'SIGKILL' },
    );
    // the biggest file; its second record's length field made wrong by 3
    const files = spoolFiles(home).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
    const file = files[0];
    const buf = fs.readFileSync(file);
    const magic = buf.subarray(0, 10).toString();
    let records = 0,
      spans = 0,
      second = -1;
    if (magic === 'OATSPOOL2\n') {
      for (let at = 10; at + 9 <= buf.length; at += 9 + buf.readUInt32LE(at)) {
        if (records === 1) second = at;
        records++;
        if (buf[at + 8] === 1) spans++;
      }
      buf.writeUInt32LE(buf.readUInt32LE(second) + 3, second);
    } else if (magic === 'OATSPOOL3\n') {
      for (let at = 10 + 44; at + 17 <= buf.length; at += 17 + buf.readUInt32LE(at + 4)) {
        if (records === 1) second = at;
        records++;
        if (buf[at + 8] === 1) spans++;
      }
      buf.writeUInt32LE(buf.readUInt32LE(second + 4) + 3, second + 4);
    } else {
      return { skipped: `format ${JSON.stringify(magic)}` };
    }
    fs.writeFileSync(file, buf);
    const allSpans = 2 * PER;
    const receiver = await startReceiver();
    try {
      const res = await scenario([{ flush: 10000 }, { status: true }], {
        HOME: home,
        PHOENIX_ENDPOINT: receiver.url,
        ...FAST,
      });
      return {
        expected: allSpans,
        spans_in_damaged_file: spans,
        damaged_records: 1,
        ...deliveries(receiver),
        counted: counted(res.steps[1].status),
      };
    } finally {
      await receiver.close();
    }
  },

  async twoProcesses() {
    const rounds = [];
    for (let round = 0; round < 3; round++) {
      const home = tempHome();
      const receiver = await startReceiver();
      try {
        const env = { HOME: home, PHOENIX_ENDPOINT: receiver.url, ...FAST };
        const steps = [{ fixture: MAIN, variants: 20, quiet: true }, { flush: 15000 }];
        await Promise.all([scenario(steps, env), scenario(steps, env)]);
        rounds.push({ expected: 20 * PER, ...deliveries(receiver) });
      } finally {
        await receiver.close();
      }
    }
    return rounds;
  },

  async weekIdle() {
    const home = tempHome();
    const receiver = await startReceiver();
    try {
      const env = { HOME: home, PHOENIX_ENDPOINT: receiver.url, ...FAST };
      await scenario([{ fixture: MAIN }, { flush: 10000 }], env);
      const old = new Date(Date.now() - 8 * 86400 * 1000);
      for (const f of fs.readdirSync(stateDir(home))) fs.utimesSync(path.join(stateDir(home), f), old, old);
      const later = await scenario([{ fixture: MAIN }, { flush: 10000 }], env);
      return { expected: PER, sent_again: later.steps[0].reconcile.spans, ...deliveries(receiver) };
    } finally {
      await receiver.close();
    }
  },

  async bigSpool() {
    const out = {};
    for (const [name, copies, variants] of [
      ['20000 files', 20000, 1],
      ['86 MB', 0, 60],
    ]) {
      const home = tempHome();
      await leaveSpool(home, variants);
      const files = spoolFiles(home);
      const dead = path.join(spoolRoot(home), '999998-feedface');
      fs.mkdirSync(dead);
      let n = 0,
        bytes = 0;
      const target =
        copies || Math.ceil((86 * 1024 * 1024) / files.reduce((t, f) => t + fs.statSync(f).size, 0)) * files.length;
      while (n < target)
        for (const f of files) {
          if (n >= target) break;
          const name = `${(0x100000 + n++).toString(16).padStart(16, '0')}.spool`;
          fs.copyFileSync(f, path.join(dead, name));
          bytes += fs.statSync(f).size;
        }
      const past = new Date(Date.now() - 120000);
      fs.utimesSync(dead, past, past);
      const res = await scenario(
        [{ fixture: MAIN, timed: true, offset: 500 }, { fixture: MAIN, timed: true, offset: 501 }, { shutdown: 0 }],
        {
          HOME: home,
        },
        { timeoutMs: 120000 },
      );
      out[name] = { files: n, bytes, first_call_s: res.steps[0].ms / 1000, second_call_s: res.steps[1].ms / 1000 };
    }
    return out;
  },

  async bigOutput() {
    const res = await scenario(
      [{ bigOutput: { mb: 50, text: 'x' } }, { bigOutput: { mb: 50, text: 'line of output\n' } }],
      {
        HOME: tempHome(),
        ARIZE_DRY_RUN: 'true',
      },
      { timeoutMs: 120000 },
    );
    return {
      ascii_s: res.steps[0].ms / 1000,
      lines_s: res.steps[1].ms / 1000,
      results: res.steps.map((s) => s.reconcile.spans ?? s.reconcile),
    };
  },

  async ulimit() {
    const home = tempHome();
    const input = JSON.stringify({
      steps: [{ bigOutput: { mb: 200, text: 'x' } }, { fixture: MAIN, timed: true, offset: 1 }],
    });
    const env = cleanEnv({ HOME: home, ARIZE_DRY_RUN: 'true' });
    const r = spawnSync('bash', ['-c', `ulimit -v 1572864; exec "${process.execPath}" test/helpers/api-scenario.js`], {
      cwd: path.join(__dirname, '..', '..'),
      env,
      input,
      encoding: 'utf8',
      timeout: 120000,
    });
    let steps;
    try {
      steps = JSON.parse(r.stdout).steps;
    } catch {
      return { exit: r.status, stderr: r.stderr.split('\n').slice(0, 3).join(' | ') };
    }
    return { big: steps[0].reconcile, after: steps[1].reconcile.spans };
  },

  async clock() {
    const ft = spawnSync('which', ['faketime'], { encoding: 'utf8' }).stdout.trim();
    if (!ft) return { skipped: 'faketime is not installed' };
    const home = tempHome();
    const input = JSON.stringify({ steps: [{ fixture: MAIN }, { durable: 10000 }, { shutdown: 0 }] });
    spawnSync(ft, ['-f', '-8d', process.execPath, 'test/helpers/api-scenario.js'], {
      cwd: path.join(__dirname, '..', '..'),
      env: cleanEnv({ HOME: home }),
      input,
      encoding: 'utf8',
    });
    const receiver = await startReceiver();
    try {
      const res = await scenario([{ flush: 10000 }, { status: true }], {
        HOME: home,
        PHOENIX_ENDPOINT: receiver.url,
        ...FAST,
      });
      return { expected: PER, ...deliveries(receiver), dropped_old: res.steps[1].status.counters.spans_dropped_old };
    } finally {
      await receiver.close();
    }
  },

  async itemsSkipped() {
    const home = tempHome();
    const { payload } = require('../helpers/fixtures.js');
    const p = payload(MAIN);
    p.messages[1].info.tokens.input = 'many';
    p.messages.push({ info: { role: 'user' }, parts: [] });
    p.messages[2].parts.push(42);
    const res = await scenario([{ payload: p }, { status: true }], { HOME: home, ARIZE_DRY_RUN: 'true' });
    const logged = (readLog(home).match(/skipped/g) || []).length;
    return { logged_skips: logged, items_skipped: res.steps[1].status.counters.items_skipped };
  },
};

async function main() {
  const results = {};
  for (const [name, fn] of Object.entries(attacks)) {
    if (only.length && !only.includes(name)) continue;
    const t0 = Date.now();
    try {
      results[name] = await fn();
    } catch (error) {
      results[name] = { error: String(error.message).slice(0, 300) };
    }
    console.log(JSON.stringify({ attack: name, ...results[name], wall_s: (Date.now() - t0) / 1000 }));
  }
}

main();
