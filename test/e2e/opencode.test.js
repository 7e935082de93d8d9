'use strict';
// End to end: the real OpenCode (npm `opencode-ai`, pinned in package.json) with this package
// installed from its `npm pack` tarball the way a user installs it, a scripted model
// (test/model-server.js) and a local OTLP receiver (test/receiver.js), all on 127.0.0.1.
//
//   node --test test/e2e/          (needs `npm ci` and `npm run build`)
//   ARIZE_E2E_KEEP=1 node --test test/e2e/   keeps the temp HOMEs and prints where they are
//   ARIZE_E2E_TARBALL=/abs/pkg.tgz node --test test/e2e/   tests that tarball instead of packing
//
// Two OpenCode homes, four `opencode run`s:
//   1. plugin-file route (package in ~/.config/opencode/node_modules, plugin/arize-tracing.ts
//      copied into ~/.config/opencode/plugin/): one session, two turns (`--continue`). Turn 1
//      is a multi-step tool turn with reasoning, bash, a parallel read + write, a read that
//      fails and a `task` subagent that runs bash itself; turn 2 is a plain answer.
//   2. opencode.json "plugin" route (`opencode-arize-tracing@file:<tgz>`): a one-shot answer in
//      one session, then a turn that the provider fails with HTTP 400 in another.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const h = require('./harness.js');

const KEEP = process.env.ARIZE_E2E_KEEP === '1';
const RUN_TIMEOUT_MS = 120000;
// USD per 1M tokens, as in harness.mockProviderConfig (reasoning is billed as output).
const PRICE = { input: 3, output: 15, cache_read: 0.3 };

const prerequisite = h.missingPrerequisite();

// ARIZE_E2E_TARBALL=/abs/x.tgz tests that tarball (e.g. a release candidate) instead of packing.
let packed;
const pkg = () =>
  (packed ??= process.env.ARIZE_E2E_TARBALL
    ? { tarball: path.resolve(process.env.ARIZE_E2E_TARBALL) }
    : h.packPackage());

// What OpenCode would charge for a scripted usage, in USD.
const expectedCost = (u) =>
  ((u.prompt - (u.cached || 0)) * PRICE.input + (u.cached || 0) * PRICE.cache_read + u.completion * PRICE.output) / 1e6;

const loadErrors = (run) =>
  (run.stderr.match(/.*failed to load plugin.*|.*tracing is off.*/g) || []).map((l) => l.slice(0, 400));

// Everything a failing assertion should show.
function context(ctx) {
  const runs = ctx.runs
    .map(
      (r) =>
        `  ${r.label}: exit ${r.code}${r.timedOut ? ' (timed out)' : ''} in ${r.ms} ms${loadErrors(r).length ? `\n    ${loadErrors(r).join('\n    ')}` : ''}`,
    )
    .join('\n');
  return (
    `\nruns:\n${runs}\nreceived (${ctx.receiver.spans().length} spans in ${ctx.receiver.requests.length} OTLP requests):\n${h.formatTree(ctx.receiver.spans(), { indent: '  ' })}\n` +
    `model calls: ${ctx.model.requests.map((r) => `${r.kind}${r.script ? ` ${r.script}#${r.step}` : ''}`).join(', ')}\n` +
    (ctx.oc ? `home: ${ctx.oc.base}${KEEP ? '' : ' (removed; ARIZE_E2E_KEEP=1 keeps it)'}\n` : '')
  );
}

async function run(ctx, label, args) {
  const r = await h.runOpenCode(ctx.oc, ['run', '--print-logs', ...args], { timeoutMs: RUN_TIMEOUT_MS });
  r.label = `opencode ${args.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}`;
  ctx.runs.push(r);
  if (KEEP) fs.writeFileSync(path.join(ctx.oc.base, `${label}.stderr.log`), r.stderr);
  return r;
}

// The OpenCode session a script was played in (the model server keys conversations by it).
function sessionOf(model, label) {
  for (const c of model.conversations.values()) if (c.label === label || c.label.startsWith(label)) return c.key;
  return undefined;
}

async function setUp(route) {
  const ctx = { runs: [], receiver: await startReceiver(), model: await startModelServer() };
  ctx.oc = h.makeOpenCodeHome({
    route,
    tarball: pkg().tarball,
    modelURL: ctx.model.baseURL,
    receiverURL: ctx.receiver.url,
    keep: KEEP,
  });
  ctx.P = (f) => path.join(ctx.oc.project, f);
  if (KEEP) process.stderr.write(`# ${route} home kept at ${ctx.oc.base}\n`);
  return ctx;
}

async function tearDown(ctx) {
  if (!ctx) return;
  await ctx.receiver.close();
  await ctx.model.close();
  if (ctx.oc) ctx.oc.remove();
}

// Waits for the spans of the given sessions' turns unless a run already says nothing will come.
async function collect(ctx, expectedTurns) {
  const ready = (spans) =>
    Object.entries(expectedTurns).every(([session, n]) => session && h.turnsOf(spans, session).length >= n);
  const hopeless = ctx.runs.some((r) => r.timedOut || loadErrors(r).length);
  try {
    ctx.spans = hopeless ? ctx.receiver.spans() : await h.settle(ctx.receiver, ready, { timeoutMs: 15000 });
  } catch (error) {
    ctx.spans = ctx.receiver.spans();
    ctx.waitError = error.message.split('\n')[0];
  }
  ctx.unique = h.uniqueSpans(ctx.spans);
}

function assertLoaded(ctx) {
  for (const r of ctx.runs) {
    assert.deepEqual(loadErrors(r), [], `OpenCode could not load the plugin in ${r.label}${context(ctx)}`);
    assert.equal(r.timedOut, false, `${r.label} timed out${context(ctx)}`);
  }
}

function assertTokens(ctx, span, usage, what) {
  const a = span.attributes;
  const got = {
    prompt: a['llm.token_count.prompt'],
    completion: a['llm.token_count.completion'],
    total: a['llm.token_count.total'],
    cache_read: a['llm.token_count.prompt_details.cache_read'],
    reasoning: a['llm.token_count.completion_details.reasoning'],
  };
  // The provider's prompt_tokens include the cached ones and completion_tokens the reasoning
  // ones; OpenCode splits them (input + cache.read, output + reasoning); the span sums again.
  const want = {
    prompt: usage.prompt,
    completion: usage.completion,
    total: usage.prompt + usage.completion,
    cache_read: usage.cached || 0,
    reasoning: usage.reasoning || 0,
  };
  assert.deepEqual(got, want, `token counts of ${what}${context(ctx)}`);
  const cost = a['llm.cost.total'];
  assert.equal(typeof cost, 'number', `llm.cost.total of ${what} is ${cost}`);
  assert.ok(cost > 0, `llm.cost.total of ${what} is ${cost}, expected > 0`);
  assert.ok(
    Math.abs(cost - expectedCost(usage)) < 1e-9,
    `llm.cost.total of ${what} is ${cost}, expected ${expectedCost(usage)}`,
  );
}

function assertNoDuplicates(ctx) {
  const dups = h.duplicateSpans(ctx.spans);
  const where = dups.length
    ? '\nOTLP requests (arrival ms after the first run started, span count, duplicated names):\n' +
      ctx.receiver.requests
        .map(
          (r) =>
            `  +${r.receivedAt - ctx.started} ms: ${r.spans.length} spans${r.spans.some((s) => dups.some((d) => d.spanId === s.spanId)) ? ` [${[...new Set(r.spans.filter((s) => dups.some((d) => d.spanId === s.spanId)).map((s) => s.name))].join(', ')}]` : ''}`,
        )
        .join('\n') +
      '\nruns started at: ' +
      ctx.runStarts.map((t, i) => `${ctx.runs[i].label} +${t - ctx.started} ms`).join('; ')
    : '';
  assert.deepEqual(dups, [], `span ids received more than once${where}${context(ctx)}`);
}

function assertInsideTurns(ctx) {
  const byId = new Map(ctx.unique.map((s) => [s.spanId, s]));
  for (const turn of ctx.unique.filter(h.isTurn)) {
    assert.ok(turn.startNs <= turn.endNs, `Turn ${turn.spanId} ends before it starts`);
    for (const s of h.descendantsOf(ctx.unique, turn)) {
      const iv = (x) => `[${x.startMs}, ${x.endMs}]`;
      assert.equal(s.traceId, turn.traceId, `${s.name} ${s.spanId} is below Turn ${turn.spanId} but in another trace`);
      assert.ok(s.startNs <= s.endNs, `${s.name} ${s.spanId} ends before it starts ${iv(s)}`);
      assert.ok(
        s.startNs >= turn.startNs && s.endNs <= turn.endNs,
        `${s.name} ${s.spanId} ${iv(s)} is not inside its Turn ${iv(turn)}${context(ctx)}`,
      );
      const parent = byId.get(s.parentSpanId);
      assert.ok(
        s.startNs >= parent.startNs && s.endNs <= parent.endNs,
        `${s.name} ${s.spanId} ${iv(s)} is not inside its parent ${parent.name} ${iv(parent)}${context(ctx)}`,
      );
    }
  }
}

// The received tree in the test output, one diagnostic line per span.
function diagnoseTree(t, ctx) {
  t.diagnostic(`received ${ctx.spans.length} spans in ${ctx.receiver.requests.length} OTLP requests:`);
  for (const line of h.formatTree(ctx.spans).split('\n').filter(Boolean)) t.diagnostic(line);
}

describe('OpenCode end to end', () => {
  test('prerequisites: OpenCode binary and native core', () => {
    assert.equal(prerequisite, null, prerequisite);
  });
  if (prerequisite) return;
  after(() => {
    if (packed && packed.dir && !KEEP) fs.rmSync(packed.dir, { recursive: true, force: true });
  });

  describe('plugin-file route: one session, a multi-step tool turn with a subagent, then a second turn', () => {
    let ctx;
    const usage = {
      bash: { prompt: 120, cached: 20, completion: 30, reasoning: 5 },
      readWrite: { prompt: 300, cached: 200, completion: 40 },
      failingRead: { prompt: 400, cached: 300, completion: 20 },
      task: { prompt: 500, cached: 400, completion: 25 },
      final: { prompt: 600, cached: 500, completion: 15 },
      childBash: { prompt: 150, completion: 12 },
      childFinal: { prompt: 180, cached: 100, completion: 8 },
      second: { prompt: 700, cached: 600, completion: 9, reasoning: 2 },
    };
    const TASK_PROMPT = 'SUBAGENT_TASK: run echo and report back';
    let mainSession, childSession, turns;

    before(async () => {
      ctx = await setUp('plugin-file');
      const P = ctx.P;
      ctx.model.play({
        script: [
          // turn 1
          {
            reasoning: 'I should look around first.',
            text: 'Running a command.',
            tool: 'bash',
            args: { command: 'echo hi', description: 'Print hi' },
            usage: usage.bash,
          },
          {
            tools: [
              { tool: 'read', args: { filePath: P('hello.txt') } },
              { tool: 'write', args: { filePath: P('out.txt'), content: 'written by the e2e test\n' } },
            ],
            usage: usage.readWrite,
          },
          { tool: 'read', args: { filePath: P('missing.txt') }, usage: usage.failingRead },
          {
            tool: 'task',
            args: { description: 'Child task', prompt: TASK_PROMPT, subagent_type: 'general' },
            usage: usage.task,
            child: [
              {
                tool: 'bash',
                args: { command: 'echo from-child', description: 'Echo from the child' },
                usage: usage.childBash,
              },
              { text: 'The child ran echo and says hello.', usage: usage.childFinal },
            ],
          },
          {
            text: 'All done: hi, a file read and written, one missing file, and the child answered.',
            usage: usage.final,
          },
          // turn 2
          { text: 'Second turn: nothing else to do.', usage: usage.second },
        ],
      });
      ctx.started = Date.now();
      ctx.runStarts = [Date.now()];
      await run(ctx, 'turn-1', ['TURN_ONE: run the scripted tools']);
      ctx.runStarts.push(Date.now());
      await run(ctx, 'turn-2', ['--continue', 'TURN_TWO: anything else?']);
      mainSession = sessionOf(ctx.model, 'main');
      childSession = sessionOf(ctx.model, 'child:');
      await collect(ctx, { [mainSession]: 2 });
      turns = h.turnsOf(ctx.unique, mainSession);
    });
    after(() => tearDown(ctx));

    test('OpenCode loads the plugin and both runs finish', (t) => {
      t.diagnostic(`runtimes: ${ctx.runs.map((r) => `${r.label} ${r.ms} ms`).join('; ')}`);
      diagnoseTree(t, ctx);
      assertLoaded(ctx);
      for (const r of ctx.runs) assert.equal(r.code, 0, `${r.label} exited ${r.code}\n${r.stderr.slice(-3000)}`);
      assert.deepEqual(
        ctx.model.unexpected.map((r) => `${r.script}#${r.step}`),
        [],
        'model calls the script did not expect',
      );
      assert.ok(mainSession, 'the model never saw the main session');
      assert.ok(childSession, 'the model never saw the subagent session');
      assert.equal(
        fs.readFileSync(ctx.P('out.txt'), 'utf8'),
        'written by the e2e test\n',
        'the write tool did not run',
      );
      assert.equal(ctx.waitError, undefined, ctx.waitError);
    });

    test('one trace per turn', () => {
      assert.equal(turns.length, 2, `expected 2 Turn spans for session ${mainSession}${context(ctx)}`);
      assert.notEqual(turns[0].traceId, turns[1].traceId, 'both turns share a trace');
      for (const turn of turns) {
        const inTrace = ctx.unique.filter((s) => s.traceId === turn.traceId);
        const below = new Set(h.descendantsOf(ctx.unique, turn).map((s) => s.spanId));
        const strays = inTrace.filter((s) => s !== turn && !below.has(s.spanId));
        assert.deepEqual(
          strays.map((s) => `${s.name} ${s.spanId}`),
          [],
          `spans in trace ${turn.traceId} that are not below its Turn${context(ctx)}`,
        );
        assert.equal(inTrace.filter(h.isTurn).length, 1, `trace ${turn.traceId} has more than one Turn`);
      }
      // Every span of the session or its subagent belongs to one of the two turns.
      const traces = new Set(turns.map((t) => t.traceId));
      const outside = ctx.unique.filter(
        (s) => [mainSession, childSession].includes(h.ownSession(s)) && !traces.has(s.traceId),
      );
      assert.deepEqual(
        outside.map((s) => `${s.name} ${s.spanId} trace ${s.traceId}`),
        [],
        `spans of the session outside its turns' traces${context(ctx)}`,
      );
    });

    test('multi-step tool turn: Turn (CHAIN) → LLM → TOOL', () => {
      const turn = turns[0];
      assert.ok(turn, `no Turn span for session ${mainSession}${context(ctx)}`);
      assert.equal(turn.name, 'Turn');
      assert.equal(turn.attributes['session.id'], mainSession);
      const llms = h.childrenOf(ctx.unique, turn);
      assert.deepEqual(
        llms.map((s) => h.kindOf(s)),
        ['LLM', 'LLM', 'LLM', 'LLM', 'LLM'],
        `the Turn's children${context(ctx)}`,
      );
      const tools = llms.map((llm) =>
        h
          .childrenOf(ctx.unique, llm)
          .map((s) => `${h.kindOf(s)}:${s.attributes['tool.name']}`)
          .sort(),
      );
      assert.deepEqual(
        tools,
        [['TOOL:bash'], ['TOOL:read', 'TOOL:write'], ['TOOL:read'], ['TOOL:task'], []],
        `tools per LLM call${context(ctx)}`,
      );
      for (const s of [turn, ...h.descendantsOf(ctx.unique, turn)].filter(
        (x) => h.kindOf(x) !== 'AGENT' && h.ownSession(x) !== childSession,
      ))
        assert.equal(h.ownSession(s), mainSession, `${s.name} ${s.spanId} session.id`);
      assert.match(String(turn.attributes['output.value']), /All done/, 'the Turn output is the final answer');
    });

    test('tool attributes: tool.command for bash, tool.file_path for read and write', () => {
      const tools = h.descendantsOf(ctx.unique, turns[0] ?? {}).filter((s) => h.kindOf(s) === 'TOOL');
      const find = (name, pred) => tools.find((s) => s.attributes['tool.name'] === name && pred(s.attributes));
      const bash = find('bash', (a) => !a['opencode.session.id'] && a['session.id'] === mainSession);
      assert.ok(bash, `no bash TOOL span${context(ctx)}`);
      assert.equal(bash.attributes['tool.command'], 'echo hi');
      assert.ok(bash.attributes['tool_call.id'] || bash.attributes['tool.id'], 'bash span has no tool call id');
      const read = find('read', (a) => a['tool.file_path'] === ctx.P('hello.txt'));
      assert.ok(read, `no read TOOL span with tool.file_path ${ctx.P('hello.txt')}${context(ctx)}`);
      const write = find('write', (a) => a['tool.file_path'] === ctx.P('out.txt'));
      assert.ok(write, `no write TOOL span with tool.file_path ${ctx.P('out.txt')}${context(ctx)}`);
      assert.equal(
        read.parentSpanId,
        write.parentSpanId,
        'the parallel read and write are not children of the same LLM call',
      );
    });

    test('failing tool: the read of a missing file has ERROR status', () => {
      const tools = h.descendantsOf(ctx.unique, turns[0] ?? {}).filter((s) => h.kindOf(s) === 'TOOL');
      const failed = tools.find((s) => s.attributes['tool.file_path'] === ctx.P('missing.txt'));
      assert.ok(failed, `no TOOL span for the read of missing.txt${context(ctx)}`);
      assert.equal(failed.status.code, 2, `status of the failed read: ${JSON.stringify(failed.status)}`);
      assert.match(failed.status.message, /File not found/);
      assert.ok(
        failed.events.some((e) => e.name === 'exception'),
        'the failed read has no exception event',
      );
      const others = tools.filter((s) => s !== failed && s.status.code === 2);
      assert.deepEqual(
        others.map((s) => s.name),
        [],
        'tools that succeeded are marked ERROR',
      );
    });

    test('token counts (prompt = input + cache, completion = output + reasoning) and cost', () => {
      const llmsOf = (session) =>
        ctx.unique
          .filter((s) => h.kindOf(s) === 'LLM' && h.ownSession(s) === session)
          .sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
      const main = llmsOf(mainSession);
      const mainUsage = [usage.bash, usage.readWrite, usage.failingRead, usage.task, usage.final, usage.second];
      assert.equal(main.length, mainUsage.length, `LLM spans of the main session${context(ctx)}`);
      main.forEach((s, i) => assertTokens(ctx, s, mainUsage[i], `main LLM call #${i}`));
      const child = llmsOf(childSession);
      assert.equal(child.length, 2, `LLM spans of the subagent session${context(ctx)}`);
      child.forEach((s, i) => assertTokens(ctx, s, [usage.childBash, usage.childFinal][i], `subagent LLM call #${i}`));
    });

    test('subagent: AGENT span under the task TOOL span, with its own LLM and TOOL spans', () => {
      const task = h.descendantsOf(ctx.unique, turns[0] ?? {}).find((s) => s.attributes['tool.name'] === 'task');
      assert.ok(task, `no task TOOL span${context(ctx)}`);
      const below = h.childrenOf(ctx.unique, task);
      assert.deepEqual(
        below.map((s) => h.kindOf(s)),
        ['AGENT'],
        `children of the task span${context(ctx)}`,
      );
      const agent = below[0];
      assert.equal(h.ownSession(agent), childSession, 'the AGENT span names the child session');
      assert.equal(agent.traceId, task.traceId);
      const llms = h.childrenOf(ctx.unique, agent);
      assert.deepEqual(
        llms.map((s) => h.kindOf(s)),
        ['LLM', 'LLM'],
        `children of the AGENT span${context(ctx)}`,
      );
      const childTools = h.childrenOf(ctx.unique, llms[0]);
      assert.deepEqual(
        childTools.map((s) => [h.kindOf(s), s.attributes['tool.name'], s.attributes['tool.command']]),
        [['TOOL', 'bash', 'echo from-child']],
      );
      for (const s of [agent, ...llms, ...childTools]) {
        assert.equal(h.ownSession(s), childSession, `${s.name} opencode.session.id`);
        // a session's view holds its subagents' work: the root session.id on their spans too
        assert.equal(s.attributes['session.id'], mainSession, `${s.name} session.id`);
      }
      assert.deepEqual(h.childrenOf(ctx.unique, llms[1]), [], "the subagent's final answer has no tool spans");
    });

    test('two turns in one session (--continue): the second turn is its own trace', () => {
      assert.equal(turns.length, 2, `expected 2 Turn spans${context(ctx)}`);
      const [one, two] = turns;
      assert.ok(two.startNs >= one.endNs, 'turn 2 starts before turn 1 ends');
      const inTwo = ctx.unique.filter((s) => s.traceId === two.traceId);
      assert.deepEqual(
        inTwo.map((s) => h.kindOf(s)).sort(),
        ['CHAIN', 'LLM'],
        `spans in turn 2's trace${context(ctx)}`,
      );
      assert.match(String(two.attributes['output.value']), /Second turn/);
    });

    test('every span lies inside its Turn and its parent', () => assertInsideTurns(ctx));

    test('no span id is received twice', () => assertNoDuplicates(ctx));
  });

  describe('opencode.json "plugin" route: a one-shot answer, then a turn failed by a provider HTTP 400', () => {
    let ctx, oneShot, failed;
    const answerUsage = { prompt: 90, cached: 30, completion: 12, reasoning: 3 };

    before(async () => {
      ctx = await setUp('config');
      ctx.model.play({
        scripts: {
          ONE_SHOT: [{ reasoning: 'Easy.', text: 'The answer is 42.', usage: answerUsage }],
          FAIL_400: [{ error: { status: 400, message: 'scripted bad request: FAIL_400' } }],
        },
      });
      ctx.started = Date.now();
      ctx.runStarts = [Date.now()];
      await run(ctx, 'one-shot', ['ONE_SHOT: what is six times seven?']);
      ctx.runStarts.push(Date.now());
      await run(ctx, 'http-400', ['FAIL_400: this call fails']);
      oneShot = sessionOf(ctx.model, 'script:ONE_SHOT');
      failed = sessionOf(ctx.model, 'script:FAIL_400');
      await collect(ctx, { [oneShot]: 1, [failed]: 1 });
    });
    after(() => tearDown(ctx));

    test('OpenCode installs and loads the plugin from opencode.json', (t) => {
      t.diagnostic(`runtimes: ${ctx.runs.map((r) => `${r.label} ${r.ms} ms`).join('; ')}`);
      diagnoseTree(t, ctx);
      assertLoaded(ctx);
      assert.equal(ctx.runs[0].code, 0, `${ctx.runs[0].label} exited ${ctx.runs[0].code}`);
      assert.notEqual(ctx.runs[1].code, 0, 'the run whose provider call failed exited 0');
      assert.deepEqual(
        ctx.model.unexpected.map((r) => `${r.script}#${r.step}`),
        [],
        'model calls the script did not expect',
      );
      assert.equal(ctx.waitError, undefined, ctx.waitError);
    });

    test('one-shot answer: one trace, Turn → one LLM span, no tools, tokens and cost', () => {
      const turns = h.turnsOf(ctx.unique, oneShot);
      assert.equal(turns.length, 1, `Turn spans of the one-shot session${context(ctx)}`);
      const [turn] = turns;
      const below = h.descendantsOf(ctx.unique, turn);
      assert.deepEqual(
        below.map((s) => h.kindOf(s)),
        ['LLM'],
        `spans below the Turn${context(ctx)}`,
      );
      assert.deepEqual(ctx.unique.filter((s) => s.traceId === turn.traceId).length, 2, 'spans in the one-shot trace');
      assert.notEqual(turn.status.code, 2, 'the Turn is marked ERROR');
      assert.notEqual(below[0].status.code, 2, 'the LLM span is marked ERROR');
      assert.match(String(turn.attributes['output.value']), /42/);
      assertTokens(ctx, below[0], answerUsage, 'the one-shot LLM call');
    });

    test('provider HTTP 400: the Turn and its LLM span have ERROR status', () => {
      const turns = h.turnsOf(ctx.unique, failed);
      assert.equal(turns.length, 1, `Turn spans of the failed session${context(ctx)}`);
      const [turn] = turns;
      assert.equal(turn.status.code, 2, `Turn status ${JSON.stringify(turn.status)}`);
      const llms = h.descendantsOf(ctx.unique, turn);
      assert.deepEqual(
        llms.map((s) => h.kindOf(s)),
        ['LLM'],
        `spans below the failed Turn${context(ctx)}`,
      );
      const [llm] = llms;
      assert.equal(llm.status.code, 2, `LLM status ${JSON.stringify(llm.status)}`);
      assert.match(llm.status.message, /scripted bad request/);
      assert.equal(llm.attributes['http.response.status_code'], 400);
      assert.ok(
        llm.events.some((e) => e.name === 'exception'),
        'the failed LLM call has no exception event',
      );
      assert.notEqual(turn.traceId, h.turnsOf(ctx.unique, oneShot)[0]?.traceId, 'the two sessions share a trace');
    });

    test('every span lies inside its Turn and its parent', () => assertInsideTurns(ctx));

    test('no span id is received twice', () => assertNoDuplicates(ctx));
  });
});
