'use strict';
// What a reader of the trace sees, on real OpenCode 1.18.33 captures (test/fixtures/README.md):
// the model's input as OpenCode sent it, answers that are only tool calls, a call to a tool that
// does not exist, attachments, the agent on every span, the session as a user thinks of it, the
// Turn's context and number, compaction, and a tool cut off by a kill.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startReceiver } = require('./receiver.js');
const { tempHome, cleanEnv, run } = require('./helpers/run.js');
const { payload, snapshot } = require('./helpers/fixtures.js');

/** The spans the core sends for these payloads (one process, one HOME). */
async function spansOf(payloads, env = {}, home = tempHome()) {
  const receiver = await startReceiver();
  try {
    const steps = [].concat(payloads).map((p) => ({ payload: p }));
    const out = await run(
      'api-scenario.js',
      { steps: [...steps, { flush: 10000 }] },
      cleanEnv({ HOME: home, PHOENIX_ENDPOINT: receiver.url, ...env }),
    );
    for (const s of out.steps.slice(0, -1)) assert.equal(s.reconcile.error, undefined, s.reconcile.error);
    return receiver.spans();
  } finally {
    await receiver.close();
  }
}

const kind = (s) => s.attributes['openinference.span.kind'];
const byStart = (a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0);
const ownSession = (s) => s.attributes['opencode.session.id'] ?? s.attributes['session.id'];
const meta = (s) => JSON.parse(s.attributes.metadata);

/** llm.input_messages of a span as a list: [{role, content, contents, tool_calls, tool_call_id, name}]. */
function inputMessages(a) {
  const out = [];
  for (const [key, value] of Object.entries(a)) {
    const m = /^llm\.input_messages\.(\d+)\.message\.(.+)$/.exec(key);
    if (!m) continue;
    const msg = (out[Number(m[1])] ??= {});
    const rest = m[2];
    let c;
    if ((c = /^contents\.(\d+)\.message_content\.(.+)$/.exec(rest))) {
      const item = ((msg.contents ??= [])[Number(c[1])] ??= {});
      item[c[2]] = value;
    } else if ((c = /^tool_calls\.(\d+)\.tool_call\.(.+)$/.exec(rest))) {
      const call = ((msg.tool_calls ??= [])[Number(c[1])] ??= {});
      call[c[2]] = value;
    } else msg[rest] = value;
  }
  return out;
}

/** What OpenCode sent, in the shape inputMessages gives (images: only that there was one). */
function sentMessages(request) {
  return request.messages
    .filter((m) => m.role !== 'system')
    .map((m) => {
      const out = { role: m.role };
      if (m.role === 'tool') Object.assign(out, { tool_call_id: m.tool_call_id, content: m.content });
      else if (Array.isArray(m.content) && m.content.length === 1 && m.content[0].type === 'text')
        out.content = m.content[0].text;
      else if (Array.isArray(m.content))
        out.contents = m.content.map((c) => (c.type === 'text' ? { type: 'text', text: c.text } : { type: 'image' }));
      else if (m.content) out.content = m.content;
      if (m.tool_calls)
        out.tool_calls = m.tool_calls.map((t) => ({
          id: t.id,
          'function.name': t.function.name,
          'function.arguments': JSON.parse(t.function.arguments),
        }));
      return out;
    });
}

/** A span's input messages in the same shape (tool names aside, which OpenCode does not send). */
function receivedMessages(a) {
  return inputMessages(a).map((m) => {
    const out = { role: m.role };
    if (m.role === 'tool') Object.assign(out, { tool_call_id: m.tool_call_id, content: m.content });
    else if (m.contents)
      out.contents = m.contents.map((c) => (c.type === 'text' ? { type: 'text', text: c.text } : { type: c.type }));
    else if (m.content !== undefined) out.content = m.content;
    if (m.tool_calls)
      out.tool_calls = m.tool_calls.map((t) => ({
        id: t.id,
        'function.name': t['function.name'],
        'function.arguments': JSON.parse(t['function.arguments']),
      }));
    return out;
  });
}

test('llm.input_messages: every model call holds the messages OpenCode sent it, in order', async () => {
  const capture = snapshot('local/turn.json');
  const spans = await spansOf(payload('local/turn.json'));
  const sessions = [capture.session.id, ...capture.children.map((c) => c.id)];
  let compared = 0;
  for (const id of sessions) {
    const requests = capture.requests.filter((r) => r.session === id);
    const llms = spans.filter((s) => kind(s) === 'LLM' && ownSession(s) === id).sort(byStart);
    assert.equal(llms.length, requests.length, `one LLM span per model call of ${id}`);
    llms.forEach((s, i) => {
      assert.deepEqual(receivedMessages(s.attributes), sentMessages(requests[i]), `call ${i + 1} of ${id}`);
      compared++;
    });
  }
  assert.ok(compared >= 7, `${compared} calls compared`);
  // the last call of the turn was given the whole turn: prompt, 4 answers, 5 tool results
  const last = spans
    .filter((s) => kind(s) === 'LLM' && ownSession(s) === capture.session.id)
    .sort(byStart)
    .pop();
  assert.equal(inputMessages(last.attributes).length, 10);
  assert.equal(last.attributes['opencode.llm.input_messages.omitted'], undefined);
});

test('llm.input_messages: within the byte budget, the most recent messages, and how many were left out', async () => {
  const capture = snapshot('local/turn.json');
  const spans = await spansOf(payload('local/turn.json'), { ARIZE_MAX_INPUT_MESSAGES_BYTES: '1024' });
  const llms = spans.filter((s) => kind(s) === 'LLM' && ownSession(s) === capture.session.id).sort(byStart);
  const requests = capture.requests.filter((r) => r.session === capture.session.id);
  let cut = 0;
  llms.forEach((s, i) => {
    const sent = sentMessages(requests[i]);
    const kept = receivedMessages(s.attributes);
    const omitted = s.attributes['opencode.llm.input_messages.omitted'] ?? 0;
    assert.equal(kept.length + omitted, sent.length, `call ${i + 1}: kept + omitted = sent`);
    assert.deepEqual(kept, sent.slice(omitted), `call ${i + 1}: the most recent ones`);
    const bytes = Object.entries(s.attributes)
      .filter(([k]) => k.startsWith('llm.input_messages.'))
      .reduce((n, [, v]) => n + String(v).length, 0);
    assert.ok(kept.length === 1 || bytes <= 1024 + 512, `call ${i + 1}: ${bytes} bytes of input messages`);
    if (omitted) cut++;
  });
  assert.ok(cut >= 2, 'the later calls of the turn left their oldest messages out');
});

test('an answer that is only tool calls: its calls in llm.output_messages and a readable output.value', async () => {
  const capture = snapshot('local/turn.json');
  const spans = await spansOf(payload('local/turn.json'));
  const reads = spans
    .filter((s) => kind(s) === 'LLM')
    .find((s) => s.attributes['llm.output_messages.0.message.tool_calls.1.tool_call.function.name'] === 'read');
  const a = reads.attributes;
  assert.equal(a['llm.output_messages.0.message.content'], undefined, 'the model wrote no text');
  assert.equal(a['output.mime_type'], 'application/json');
  const calls = JSON.parse(a['output.value']);
  const parts = capture.messages
    .flatMap((m) => m.parts)
    .filter((p) => p.callID === calls[0].id || p.callID === calls[1].id);
  assert.deepEqual(
    calls,
    parts.map((p) => ({ id: p.callID, name: p.tool, arguments: p.state.input })),
  );
});

test('tool.description is never the call title: the title is opencode.tool.title', async () => {
  const capture = snapshot('local/turn.json');
  const spans = await spansOf(payload('local/turn.json'));
  const tools = spans.filter((s) => kind(s) === 'TOOL');
  assert.ok(tools.length >= 6);
  for (const s of tools) assert.equal(s.attributes['tool.description'], undefined, s.name);
  const bash = tools.find((s) => s.name === 'bash' && s.attributes['tool.command'] === 'echo hello');
  const part = capture.messages.flatMap((m) => m.parts).find((p) => p.callID === bash.attributes['tool.id']);
  assert.equal(bash.attributes['opencode.tool.title'], part.state.title);
});

test("a call to a tool that does not exist is named for what the model asked, ERROR with OpenCode's message", async () => {
  const capture = snapshot('local/turn.json');
  const part = capture.messages.flatMap((m) => m.parts).find((p) => p.tool === 'invalid');
  const spans = await spansOf(payload('local/turn.json'));
  const span = spans.find((s) => s.attributes['tool.id'] === part.callID);
  assert.equal(span.name, 'deploy_to_prod');
  assert.equal(span.attributes['tool.name'], 'deploy_to_prod');
  assert.equal(span.attributes['opencode.tool.invalid'], true);
  assert.equal(span.status.code, 2);
  assert.equal(span.status.message, part.state.output);
  assert.equal(span.events[0].attributes['exception.type'], 'InvalidToolCall');
  // the model's answer names the tool it asked for too
  const llm = spans.find((s) => s.spanId === span.parentSpanId);
  assert.equal(llm.attributes['llm.output_messages.0.message.tool_calls.0.tool_call.function.name'], 'deploy_to_prod');
});

test('attachments: a text file and an image as content entries, redaction applied, no data inlined', async () => {
  const capture = snapshot('local/turn.json');
  const image = capture.messages[0].parts.find((p) => p.type === 'file' && p.mime === 'image/png');
  const data = image.url.slice(image.url.indexOf(',') + 1);
  for (const prompts of ['true', 'false']) {
    const spans = await spansOf(payload('local/turn.json'), { ARIZE_LOG_PROMPTS: prompts });
    const first = spans.filter((s) => kind(s) === 'LLM' && !s.attributes['opencode.session.id']).sort(byStart)[0];
    const [user] = inputMessages(first.attributes);
    assert.equal(user.role, 'user');
    assert.deepEqual(
      user.contents.map((c) => c.type),
      ['text', 'text', 'text', 'text', 'image', 'text'],
    );
    const file = user.contents[1].text,
      url = user.contents[4]['image.image.url'];
    if (prompts === 'true') {
      assert.match(file, /Remember: the build needs make\./);
      assert.match(url, /^<data:image\/png, \d+ bytes, not inlined>$/);
    } else {
      assert.match(file, /^<redacted \(\d+ chars\)>$/);
      assert.match(url, /^<redacted \(\d+ chars\)>$/);
    }
    for (const s of spans)
      for (const v of Object.values(s.attributes)) assert.ok(!String(v).includes(data), `${s.name}: no image data`);
  }
});

test("every span carries its agent in tag.tags, a subagent's LLM and TOOL spans too", async () => {
  const spans = await spansOf(payload('local/parallel-subagents.json'));
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const agentOf = (s) => {
    for (let p = s; p; p = byId.get(p.parentSpanId)) if (kind(p) === 'AGENT') return p.attributes['agent.name'];
    return 'build';
  };
  assert.ok(spans.length >= 15);
  const seen = new Set();
  for (const s of spans) {
    assert.deepEqual(s.attributes['tag.tags'], ['opencode', agentOf(s)], `${s.name}`);
    seen.add(agentOf(s));
  }
  assert.deepEqual([...seen].sort(), ['build', 'delegator', 'explore', 'general']);
});

test('sessions as a user thinks of them: the root session.id on every span, the agents as a graph', async () => {
  const capture = snapshot('local/parallel-subagents.json');
  const root = capture.session.id;
  const spans = await spansOf(payload('local/parallel-subagents.json'));
  for (const s of spans) assert.equal(s.attributes['session.id'], root, s.name);
  const agents = spans.filter((s) => kind(s) === 'AGENT');
  assert.equal(agents.length, 3);
  const turn = spans.find((s) => s.name === 'Turn');
  assert.equal(turn.attributes['graph.node.id'], `agent:${root}`);
  assert.equal(turn.attributes['graph.node.name'], 'build');
  for (const a of agents) {
    const child = capture.children.find((c) => c.id === a.attributes['opencode.session.id']);
    assert.ok(child, a.name);
    assert.equal(a.attributes['graph.node.id'], `agent:${child.id}`);
    assert.equal(a.attributes['graph.node.parent_id'], `agent:${child.session.parentID}`);
    assert.equal(a.attributes['graph.node.name'], a.attributes['agent.name']);
  }
  const nested = agents.find((a) => a.attributes['agent.name'] === 'explore');
  const delegator = agents.find((a) => a.attributes['agent.name'] === 'delegator');
  assert.equal(nested.attributes['graph.node.parent_id'], delegator.attributes['graph.node.id']);
  // every span of a subagent names its own session beside the root's
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (const s of spans) {
    let p = s;
    while (p && kind(p) !== 'AGENT') p = byId.get(p.parentSpanId);
    assert.equal(s.attributes['opencode.session.id'], p ? p.attributes['opencode.session.id'] : undefined, s.name);
  }
  // the setting that restores the child's id in session.id
  const old = await spansOf(payload('local/parallel-subagents.json'), { ARIZE_SUBAGENT_SESSION_ID: 'child' });
  for (const s of old) {
    let p = s;
    while (p && kind(p) !== 'AGENT') p = old.find((x) => x.spanId === p.parentSpanId);
    const own = p ? capture.children.find((c) => `agent:${c.id}` === p.attributes['graph.node.id']).id : root;
    assert.equal(s.attributes['session.id'], own, s.name);
    assert.equal(s.attributes['opencode.session.id'], undefined);
  }
});

test('arize.project.name on every span, from ARIZE_PROJECT_NAME, PHOENIX_PROJECT_NAME or PHOENIX_PROJECT', async () => {
  const cases = [
    [{}, 'opencode'],
    [{ PHOENIX_PROJECT: 'p3' }, 'p3'],
    [{ PHOENIX_PROJECT: 'p3', PHOENIX_PROJECT_NAME: 'p2' }, 'p2'],
    [{ PHOENIX_PROJECT: 'p3', PHOENIX_PROJECT_NAME: 'p2', ARIZE_PROJECT_NAME: 'p1' }, 'p1'],
  ];
  for (const [env, project] of cases) {
    const spans = await spansOf(payload('local/turns.json'), env);
    assert.ok(spans.length > 0);
    for (const s of spans) assert.equal(s.attributes['arize.project.name'], project, JSON.stringify(env));
    assert.equal(spans[0].resource['openinference.project.name'], project);
  }
});

test('user.id: ARIZE_USER_ID, else harnesses.opencode.user_id, else the top-level user_id', async () => {
  const file = (text) => {
    const home = tempHome();
    fs.mkdirSync(path.join(home, '.arize', 'harness'), { recursive: true });
    fs.writeFileSync(path.join(home, '.arize', 'harness', 'config.yaml'), text);
    return home;
  };
  const both = 'user_id: top\nharnesses:\n  opencode:\n    user_id: mine\n';
  const cases = [
    [file('user_id: top\n'), {}, 'top'],
    [file(both), {}, 'mine'],
    [file(both), { ARIZE_USER_ID: 'env' }, 'env'],
  ];
  for (const [home, env, user] of cases) {
    const spans = await spansOf(payload('local/turns.json'), env, home);
    for (const s of spans) assert.equal(s.attributes['user.id'], user);
  }
});

/** A git repository with a remote that carries credentials, on a branch, with one commit. */
function repository() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'oat-git-')));
  const git = (...args) =>
    execFileSync('git', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
      .toString()
      .trim();
  git('init', '-q', '-b', 'feature/x');
  git('remote', 'add', 'origin', 'https://someone:s3cret-token@git.example.com/team/proj.git');
  fs.writeFileSync(path.join(dir, 'a.txt'), 'a\n');
  git('add', '.');
  git('-c', 'user.email=t@example.invalid', '-c', 'user.name=t', 'commit', '-qm', 'one');
  return { dir, git, commit: git('rev-parse', 'HEAD') };
}

test("the Turn's context: OpenCode's version, title, number, directory, git (no credentials), host", async () => {
  const { gitContext } = require('../lib/git.js');
  const repo = repository();
  const capture = snapshot('local/turn.json');
  const p = payload('local/turn.json');
  Object.assign(p, {
    turnsBefore: 0,
    session: { id: capture.session.id, title: 'Fix the build', version: capture.session.version, directory: repo.dir },
    context: { opencodeVersion: '1.18.33', directory: repo.dir, git: await gitContext(repo.dir) },
  });
  const spans = await spansOf(p);
  const turn = spans.find((s) => s.name === 'Turn');
  const m = meta(turn);
  assert.equal(m.opencode_version, '1.18.33');
  assert.equal(m.session_title, 'Fix the build');
  assert.equal(m.turn_number, 1);
  assert.equal(m.cwd, '/home/user/proj'); // where OpenCode ran the turn (the assistant's path.cwd)
  assert.deepEqual(m.git, {
    remote: 'https://git.example.com/team/proj.git',
    branch: 'feature/x',
    commit: repo.commit,
  });
  assert.equal(m.host, os.hostname());
  for (const s of spans) for (const v of Object.values(s.attributes)) assert.ok(!String(v).includes('s3cret'));
  assert.equal(turn.resource['host.name'], os.hostname());
  assert.equal(turn.resource['service.version'], '1.18.33');
});

test("git context read from the repository's files: packed refs, a detached HEAD, a worktree, a subdirectory", async () => {
  const { gitContext } = require('../lib/git.js');
  const repo = repository();
  repo.git('pack-refs', '--all');
  fs.mkdirSync(path.join(repo.dir, 'sub', 'deeper'), { recursive: true });
  assert.deepEqual(await gitContext(path.join(repo.dir, 'sub', 'deeper')), {
    remote: 'https://someone:s3cret-token@git.example.com/team/proj.git', // the core strips it
    branch: 'feature/x',
    commit: repo.commit,
  });
  const tree = path.join(path.dirname(repo.dir), `${path.basename(repo.dir)}-wt`);
  repo.git('worktree', 'add', '-q', '-b', 'other', tree);
  assert.deepEqual(await gitContext(tree), {
    remote: 'https://someone:s3cret-token@git.example.com/team/proj.git',
    branch: 'other',
    commit: repo.commit,
  });
  repo.git('checkout', '-q', '--detach');
  assert.deepEqual((await gitContext(repo.dir)).branch, undefined);
  assert.equal((await gitContext(repo.dir)).commit, repo.commit);
  assert.equal(await gitContext(os.tmpdir() === '/' ? '/nonexistent' : fs.mkdtempSync('/tmp/oat-nogit-')), undefined);
});

test('turn numbers: from the session start, continued from the state across payloads, absent when unknowable', async () => {
  const p = payload('local/turns.json');
  const users = p.messages.filter((m) => m.info.role === 'user');
  assert.equal(users.length, 3);
  const numbers = (spans) =>
    spans
      .filter((s) => s.name === 'Turn')
      .sort(byStart)
      .map((s) => meta(s).turn_number);
  // the whole session (as backfill reads it)
  assert.deepEqual(numbers(await spansOf({ ...p, turnsBefore: 0 })), [1, 2, 3]);
  // the plugin's way: the first payload from the session start, the next only the open turn
  const third = p.messages.findIndex((m) => m.info.id === users[2].info.id);
  const early = { ...p, messages: p.messages.slice(0, third), turnsBefore: 0 };
  const late = { ...p, messages: p.messages.slice(third), previousTurn: users[1].info.id };
  assert.deepEqual(numbers(await spansOf([early, late])), [1, 2, 3]);
  // another process, the same HOME: the state carries the count
  const home = tempHome();
  await spansOf(early, {}, home);
  assert.deepEqual(numbers(await spansOf(late, {}, home)), [3]);
  // a turn whose predecessors were never seen, or another turn than the state's last: unknown
  assert.deepEqual(numbers(await spansOf({ ...p, messages: p.messages.slice(third) })), [undefined]);
  const other = { ...late, previousTurn: users[0].info.id };
  const home2 = tempHome();
  await spansOf(early, {}, home2);
  assert.deepEqual(numbers(await spansOf(other, {}, home2)), [undefined]);
});

test('automatic compaction: one Turn, its summary call labelled, its tokens and cost counted apart', async () => {
  const capture = snapshot('local/compaction-auto.json');
  const spans = await spansOf(payload('local/compaction-auto.json'));
  const turns = spans.filter((s) => s.name === 'Turn').sort(byStart);
  assert.equal(turns.length, 2, 'the compaction and its "continue" belong to the turn they interrupted');
  const first = turns[0];
  const llms = spans.filter((s) => s.parentSpanId === first.spanId).sort(byStart);
  assert.equal(llms.length, 3);
  assert.deepEqual(
    llms.map((s) => [meta(s).kind, meta(s).compaction]),
    [
      [undefined, undefined],
      ['compaction', 'auto'],
      [undefined, undefined],
    ],
  );
  const assistants = capture.messages.slice(0, -2).filter((m) => m.info.role === 'assistant'); // turn 1
  const summary = assistants.find((m) => m.info.summary === true).info;
  const others = assistants.filter((m) => m.info.summary !== true);
  const a = first.attributes;
  assert.equal(a['opencode.turn.compaction.llm_calls'], 1);
  assert.equal(a['opencode.turn.compaction.token_count.prompt'], summary.tokens.input);
  assert.equal(a['opencode.turn.compaction.token_count.completion'], summary.tokens.output);
  assert.equal(a['opencode.turn.compaction.cost.total'], summary.cost);
  assert.equal(a['opencode.turn.llm_calls'], 2);
  assert.equal(
    a['opencode.turn.token_count.prompt'],
    others.reduce((n, m) => n + m.info.tokens.input, 0),
  );
  assert.equal(a['output.value'], 'Continuing after the summary.');
  // after the compaction the model is given the summary, not what it summed up
  const after = inputMessages(llms[2].attributes);
  assert.deepEqual(
    after.map((m) => m.role),
    ['assistant', 'user'],
  );
});

test('manual compaction (/compact): its own Turn, its call labelled manual', async () => {
  const spans = await spansOf(payload('local/compaction-manual.json'));
  const turns = spans.filter((s) => s.name === 'Turn').sort(byStart);
  assert.equal(turns.length, 3);
  assert.equal(meta(turns[1]).compaction, 'manual');
  const [call] = spans.filter((s) => s.parentSpanId === turns[1].spanId);
  assert.equal(meta(call).kind, 'compaction');
  assert.equal(meta(call).compaction, 'manual');
  assert.equal(turns[1].attributes['opencode.turn.compaction.llm_calls'], 1);
  assert.equal(turns[1].attributes['opencode.turn.llm_calls'], 0);
});

test('a bash call killed 5 s in lasts until its OpenCode was last seen alive, not until it started', async () => {
  const capture = snapshot('local/bash-killed.json');
  const part = capture.messages.flatMap((m) => m.parts).find((p) => p.tool === 'bash');
  const close = { ...payload('local/bash-killed.json'), abandoned: true };
  const ms = (s) => Number(s.endNs - s.startNs) / 1e6;
  const stoppedAt = part.state.time.start + 5000;
  const spans = await spansOf({ ...close, stoppedAt });
  const bash = spans.find((s) => s.name === 'bash');
  assert.equal(ms(bash), 5000);
  assert.equal(bash.status.code, 2);
  assert.match(bash.status.message, /interrupted/);
  const turn = spans.find((s) => s.name === 'Turn');
  assert.ok(ms(turn) >= ms(bash));
  assert.equal(Number(turn.endNs / 1000000n), stoppedAt);
  // a time before the last one OpenCode recorded changes nothing
  const early = await spansOf({ ...close, stoppedAt: part.state.time.start - 10000 });
  assert.equal(ms(early.find((s) => s.name === 'bash')), 0);
});
