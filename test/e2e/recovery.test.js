'use strict';
// End to end, history and interruptions, with the real OpenCode (test/e2e/harness.js):
//   1. a session run without the plugin (`opencode run --pure`), with a subagent, is sent by
//      `opencode-arize-tracing backfill` (a Turn per turn, an AGENT per subagent), after a
//      --dry-run that sends nothing; a second backfill sends nothing;
//   2. an `opencode run` killed with SIGTERM while the model is still answering: the next
//      OpenCode start closes its turn from the snapshot; that start is itself interrupted with
//      SIGINT the instant its answer is printed (the fast quit): the start after it sends that
//      Turn, and its own live turn sends only itself.
// One OpenCode home (the plugin-file route), six OpenCode starts.
//
//   node --test test/e2e/recovery.test.js     (needs `npm ci` and `npm run build`)
//   ARIZE_E2E_KEEP=1 keeps the temp HOME

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const h = require('./harness.js');

const KEEP = process.env.ARIZE_E2E_KEEP === '1';
const prerequisite = h.missingPrerequisite();
const TASK_PROMPT = 'BF_CHILD: run echo for the parent';
const STALLED_TEXT = 'This answer is still streaming when OpenCode is killed, piece by piece.';
// a turn longer than what the start-up sweep reads first (50 messages): it pages back
const LONG_CALLS = 60;

// `opencode <args>` in the project; onOutput(text so far, child) may signal the child.
function start(ctx, args, onOutput = () => {}) {
  return new Promise((resolve) => {
    const began = Date.now();
    const child = spawn(h.OPENCODE_BIN, args, {
      cwd: ctx.oc.project,
      env: { ...ctx.oc.env, PWD: ctx.oc.project },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    const poll = setInterval(() => onOutput(out, child), 200); // also when OpenCode prints nothing
    const read = (d) => {
      out += d;
      onOutput(out, child);
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      const r = { label: `opencode ${args.join(' ')}`, code, signal, out, ms: Date.now() - began };
      ctx.runs.push(r);
      resolve(r);
    });
  });
}

// The package's own CLI, installed in the home as a user has it, with `opencode` on PATH.
function backfill(ctx, args = []) {
  const cli = path.join(ctx.oc.configDir, 'node_modules', 'opencode-arize-tracing', 'lib', 'cli.js');
  return new Promise((resolve) => {
    const env = { ...ctx.oc.env, PATH: `${path.dirname(h.OPENCODE_BIN)}${path.delimiter}${process.env.PATH}` };
    const child = spawn(process.execPath, [cli, 'backfill', ...args], {
      cwd: ctx.oc.home,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

const sessionOf = (model, label) => [...model.conversations.values()].find((c) => c.label.startsWith(label))?.key;
const ofSession = (spans, id) => h.uniqueSpans(spans).filter((s) => h.ownSession(s) === id);
const treeOf = (spans, ids) =>
  h.formatTree(
    h.uniqueSpans(spans).filter((s) => ids.includes(h.ownSession(s))),
    { indent: '  ' },
  ) || '  (nothing)';
const quiet = (ms) => new Promise((r) => setTimeout(r, ms));

describe('history and interruptions with the real OpenCode', () => {
  test('prerequisites: OpenCode binary and native core', () => assert.equal(prerequisite, null, prerequisite));
  if (prerequisite) return;

  const ctx = { runs: [] };
  const show = () =>
    `\nruns:\n${ctx.runs.map((r) => `  ${r.label}: ${r.code ?? r.signal} in ${r.ms} ms`).join('\n')}\n` +
    `received:\n${h.formatTree(ctx.receiver.spans(), { indent: '  ' })}\n`;
  let pkg;

  before(async () => {
    pkg = h.packPackage();
    ctx.receiver = await startReceiver();
    ctx.model = await startModelServer();
    ctx.oc = h.makeOpenCodeHome({
      route: 'plugin-file',
      tarball: pkg.tarball,
      modelURL: ctx.model.baseURL,
      receiverURL: ctx.receiver.url,
      keep: KEEP,
    });
    if (KEEP) process.stderr.write(`# home kept at ${ctx.oc.base}\n`);
    ctx.model.play({
      scripts: {
        BF_TASK: [
          {
            tool: 'task',
            args: { description: 'Echo child', prompt: TASK_PROMPT, subagent_type: 'general' },
            child: [
              { tool: 'bash', args: { command: 'echo from-child', description: 'Echo' } },
              { text: 'The child echoed.' },
            ],
          },
          { text: 'Parent done after its subagent.' },
        ],
        STALL: [{ text: STALLED_TEXT, delayMs: 6000 }],
        FAST_QUIT: [{ text: 'FAST_ANSWER_MARK is the whole answer.' }],
        NEXT_START: [{ text: 'Fresh start.' }],
        MANY_STEPS: [
          ...Array.from({ length: LONG_CALLS }, (_, k) => ({
            tool: 'bash',
            args: { command: `echo step-${k}`, description: `Step ${k}` },
          })),
          { text: STALLED_TEXT, delayMs: 8000 },
        ],
        AFTER_LONG: [{ text: 'After the long turn.' }],
      },
    });
  });
  after(async () => {
    await ctx.receiver?.close();
    await ctx.model?.close();
    ctx.oc?.remove();
    if (pkg && !KEEP) fs.rmSync(pkg.dir, { recursive: true, force: true });
  });

  describe('backfill', () => {
    let first, second, dry, task, child, afterFirst;

    before(async () => {
      await start(ctx, ['run', '--pure', 'BF_TASK: delegate to a subagent']);
      task = sessionOf(ctx.model, 'script:BF_TASK');
      child = sessionOf(ctx.model, 'child:');
      await quiet(500);
      ctx.beforeBackfill = ctx.receiver.spans().length;
      dry = await backfill(ctx, ['--dry-run']);
      ctx.afterDryRun = ctx.receiver.spans().length;
      first = await backfill(ctx);
      afterFirst = (await h.settle(ctx.receiver, (s) => h.turnsOf(s, task).length >= 1)).length;
      second = await backfill(ctx);
      await quiet(500);
      ctx.afterSecond = ctx.receiver.spans().length;
    });

    test('a session run without the plugin sends nothing by itself', () => {
      assert.ok(task && child, `the model never saw the session and its subagent${show()}`);
      assert.equal(ctx.beforeBackfill, 0, `spans arrived before backfill${show()}`);
    });

    test('--dry-run counts what would be sent and sends nothing', (t) => {
      t.diagnostic(`backfill --dry-run (exit ${dry.code}):\n${dry.out}`);
      assert.equal(dry.code, 0, dry.out);
      assert.match(dry.out, /1 turn\(s\), 8 span\(s\) would be sent/);
      assert.match(
        dry.out,
        /done: 1 session\(s\), 1 turn\(s\), 8 span\(s\) would be sent; nothing was sent or recorded/,
      );
      assert.equal(ctx.afterDryRun, 0, 'the dry run sent spans');
    });

    test('backfill sends a Turn per turn and an AGENT per subagent, linked as live', (t) => {
      t.diagnostic(`backfill (exit ${first.code}):\n${first.out}`);
      for (const line of treeOf(ctx.receiver.spans(), [task, child]).split('\n')) t.diagnostic(line);
      assert.equal(first.code, 0, first.out);
      assert.match(first.out, /done: 1 session\(s\), 1 turn\(s\), 8 span\(s\) queued/);
      assert.match(first.out, /exported 8 span\(s\); 0 wait in the spool/);
      const spans = ctx.receiver.spans();
      const turns = h.turnsOf(spans, task);
      assert.equal(turns.length, 1, show());
      const taskSpan = h.descendantsOf(spans, turns[0]).find((s) => s.attributes['tool.name'] === 'task');
      const agents = h.childrenOf(spans, taskSpan ?? {});
      assert.deepEqual(agents.map(h.kindOf), ['AGENT'], `the task call's children${show()}`);
      assert.equal(h.ownSession(agents[0]), child);
      assert.deepEqual(
        h
          .descendantsOf(spans, agents[0])
          .map((s) => s.name)
          .sort(),
        ['LLM: scripted', 'LLM: scripted', 'bash'],
        show(),
      );
      assert.deepEqual(h.childrenOf(spans, turns[0]).map(h.kindOf), ['LLM', 'LLM'], show());
      assert.equal(afterFirst, 8, show());
      assert.deepEqual(h.duplicateSpans(spans), []);
    });

    test('a second backfill sends nothing', (t) => {
      t.diagnostic(`second backfill (exit ${second.code}):\n${second.out}`);
      assert.equal(second.code, 0, second.out);
      assert.match(second.out, /done: 1 session\(s\), 0 turn\(s\), 0 span\(s\) queued/);
      assert.equal(ctx.afterSecond, afterFirst, show());
    });
  });

  describe('turns left open, then live turns', () => {
    let killed, fastQuit, next, stalled, quick, fresh, stalledBefore, stalledAfter, quickBefore, quickAfter, backfilled;

    before(async () => {
      backfilled = h.uniqueSpans(ctx.receiver.spans()).length;
      killed = await start(ctx, ['run', 'STALL: answer slowly'], (out, child) => {
        // SIGTERM while the model is still streaming this turn's answer
        if (!child.signalled && ctx.model.requests.some((r) => r.script === 'script:STALL')) {
          child.signalled = true;
          setTimeout(() => child.kill('SIGTERM'), 1500);
        }
      });
      stalled = sessionOf(ctx.model, 'script:STALL');
      await quiet(1000);
      stalledBefore = treeOf(ctx.receiver.spans(), [stalled]);
      ctx.stalledTurnsBefore = h.turnsOf(ctx.receiver.spans(), stalled).length;
      // The next start (its own turn is quit the instant its answer is printed).
      fastQuit = await start(ctx, ['run', 'FAST_QUIT: answer at once'], (out, child) => {
        if (!child.signalled && out.includes('FAST_ANSWER_MARK')) {
          child.signalled = true;
          child.kill('SIGINT');
        }
      });
      quick = sessionOf(ctx.model, 'script:FAST_QUIT');
      await h.settle(ctx.receiver, (s) => h.turnsOf(s, stalled).length >= 1, { timeoutMs: 10000 }).catch(() => {});
      stalledAfter = treeOf(ctx.receiver.spans(), [stalled]);
      quickBefore = treeOf(ctx.receiver.spans(), [quick]);
      ctx.quickTurnsBefore = h.turnsOf(ctx.receiver.spans(), quick).length;
      next = await start(ctx, ['run', 'NEXT_START: a new session']);
      fresh = sessionOf(ctx.model, 'script:NEXT_START');
      await h
        .settle(ctx.receiver, (s) => h.turnsOf(s, quick).length >= 1 && h.turnsOf(s, fresh).length >= 1, {
          timeoutMs: 15000,
        })
        .catch(() => {});
      quickAfter = treeOf(ctx.receiver.spans(), [quick]);
    });

    test('an OpenCode killed with SIGTERM mid-turn: the next start closes its turn as interrupted', (t) => {
      t.diagnostic(`killed run: ${killed.signal ?? killed.code} after ${killed.ms} ms`);
      t.diagnostic(`before the next start:\n${stalledBefore}`);
      t.diagnostic(`after it:\n${stalledAfter}`);
      assert.ok(stalled, `the model never saw the stalled session${show()}`);
      assert.equal(
        killed.signal ?? killed.code,
        'SIGTERM',
        `the run was not killed mid-turn: ${killed.out.slice(-500)}`,
      );
      assert.equal(ctx.stalledTurnsBefore, 0, `the killed turn had a root before the next start${show()}`);
      const spans = ctx.receiver.spans();
      const turns = h.turnsOf(spans, stalled);
      assert.equal(turns.length, 1, show());
      assert.equal(turns[0].status.code, 2, `Turn status ${JSON.stringify(turns[0].status)}`);
      assert.match(turns[0].status.message, /interrupted/);
      const llms = h.childrenOf(spans, turns[0]);
      assert.deepEqual(llms.map(h.kindOf), ['LLM'], show());
      assert.equal(llms[0].status.code, 2);
      assert.match(llms[0].status.message, /Interrupted/);
      assert.ok(
        llms[0].startNs >= turns[0].startNs && llms[0].endNs <= turns[0].endNs,
        'the LLM span lies outside its Turn',
      );
    });

    test('a fast quit (SIGINT the instant the answer is printed): the next start sends its Turn', (t) => {
      t.diagnostic(`fast-quit run: ${fastQuit.signal ?? fastQuit.code} after ${fastQuit.ms} ms`);
      t.diagnostic(`before the next start:\n${quickBefore}`);
      t.diagnostic(`after it:\n${quickAfter}`);
      assert.ok(quick, `the model never saw the fast-quit session${show()}`);
      // OpenCode prints the answer before it records the call complete, so the quit lands first;
      // a machine fast enough to send the Turn within those milliseconds leaves nothing to recover.
      if (ctx.quickTurnsBefore > 0) return t.skip('the Turn arrived before the quit landed: nothing to recover');
      const spans = ctx.receiver.spans();
      const turns = h.turnsOf(spans, quick);
      assert.equal(turns.length, 1, show());
      assert.deepEqual(h.childrenOf(spans, turns[0]).map(h.kindOf), ['LLM'], show());
      assert.match(String(turns[0].attributes['output.value']), /FAST_ANSWER_MARK/);
    });

    test('a live turn after backfill sends only itself, and nothing is received twice', () => {
      assert.equal(next.code, 0, next.out.slice(-2000));
      const spans = ctx.receiver.spans();
      assert.deepEqual(ofSession(spans, fresh).map(h.kindOf).sort(), ['CHAIN', 'LLM'], show());
      const others = h.uniqueSpans(spans).filter((s) => ![stalled, quick, fresh].includes(h.ownSession(s)));
      assert.equal(others.length, backfilled, `spans of the backfilled sessions changed${show()}`);
      assert.deepEqual(h.duplicateSpans(spans), [], show());
    });
  });

  // OpenCode's server pages a session back by a cursor it answers (X-Next-Cursor), and refuses a
  // message id as `before`: a turn longer than the first read is only reached through it.
  describe('a long turn killed mid-way', () => {
    let killed, long;

    before(async () => {
      killed = await start(ctx, ['run', 'MANY_STEPS: many steps'], (out, child) => {
        // kill -9 while the model streams the answer after the last tool call
        const asked = ctx.model.requests.filter((r) => r.script === 'script:MANY_STEPS').length;
        if (!child.signalled && asked > LONG_CALLS) {
          child.signalled = true;
          setTimeout(() => child.kill('SIGKILL'), 1500);
        }
      });
      long = sessionOf(ctx.model, 'script:MANY_STEPS');
      await start(ctx, ['run', 'AFTER_LONG: a new session']);
      await h.settle(ctx.receiver, (s) => h.turnsOf(s, long).length >= 1, { timeoutMs: 20000 }).catch(() => {});
    });

    test('the next start closes it whole: one Turn over every model call and tool', (t) => {
      assert.ok(long, `the model never saw the long session${show()}`);
      assert.equal(
        killed.signal ?? killed.code,
        'SIGKILL',
        `the run was not killed mid-turn: ${killed.out.slice(-500)}`,
      );
      const spans = ctx.receiver.spans();
      const turns = h.turnsOf(spans, long);
      t.diagnostic(`${turns.length} Turn(s) of the long session; ${ofSession(spans, long).length} spans`);
      assert.equal(turns.length, 1, `the long turn's root${show()}`);
      assert.match(String(turns[0].status?.message), /interrupted/);
      const llms = h.childrenOf(spans, turns[0]).filter((s) => h.kindOf(s) === 'LLM');
      assert.equal(llms.length, LONG_CALLS + 1, 'every model call under the Turn, the interrupted one too');
      const tools = h.descendantsOf(spans, turns[0]).filter((s) => h.kindOf(s) === 'TOOL');
      assert.equal(tools.length, LONG_CALLS);
      assert.deepEqual(h.duplicateSpans(spans), [], show());
    });
  });
});
