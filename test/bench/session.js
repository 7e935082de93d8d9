'use strict';
// Synthetic OpenCode sessions for the benchmarks, shaped like the real captures in
// ../shared/fixtures (opencode-1.18.33): one user message per turn, one assistant message per
// model call with step-start, reasoning, text, tool and step-finish parts, tool outputs of a
// few kilobytes (bash, read, grep, edit), and now and then a `task` call with its child
// session. Deterministic: the same arguments give the same session, byte for byte.

// A small deterministic generator (mulberry32), so runs compare.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the function returns a value when called with an argument that is not null so we ' +
  'check the type first and then read the file into memory before parsing each line of the ' +
  'configuration which may contain comments quotes "like this" and tabs\tor backslashes \\ too'
).split(' ');
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function words(rand, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)]);
  return out.join(' ');
}

// Text of about `bytes` bytes in lines, like a file listing or command output.
function lines(rand, bytes, prefix) {
  const out = [];
  let size = 0;
  for (let i = 1; size < bytes; i++) {
    const line = `${prefix(i)}${words(rand, 4 + Math.floor(rand() * 10))}`;
    out.push(line);
    size += line.length + 1;
  }
  return out.join('\n');
}

function ids(sessionSeed, clock) {
  const rand = rng(sessionSeed);
  let counter = 0;
  const tail = () => {
    let s = '';
    for (let i = 0; i < 14; i++) s += ALNUM[Math.floor(rand() * ALNUM.length)];
    return s;
  };
  // OpenCode ids: a prefix, 12 hex digits that grow with time, 14 random characters.
  return (prefix) =>
    `${prefix}_${(clock.now * 16 + (counter++ % 16)).toString(16).slice(-12).padStart(12, '0')}${tail()}`;
}

const MODEL = { providerID: 'anthropic', modelID: 'claude-sonnet-4' };
const CWD = '/home/user/proj';

function tokens(rand) {
  const input = 500 + Math.floor(rand() * 3000),
    output = 20 + Math.floor(rand() * 400);
  const reasoning = Math.floor(rand() * 80),
    read = Math.floor(rand() * 20000),
    write = Math.floor(rand() * 500);
  return { total: input + output + reasoning + read + write, input, output, reasoning, cache: { read, write } };
}

// One tool part of a completed call; `kind` picks the tool.
function toolPart(ctx, messageID, kind, start) {
  const { rand, id, sessionID } = ctx;
  const callID = `toolu_${id('call').slice(5)}`;
  const end = start + 20 + Math.floor(rand() * 400);
  const base = { id: id('prt'), sessionID, messageID, type: 'tool', callID };
  const file = `${CWD}/src/${words(rand, 1)}_${Math.floor(rand() * 100)}.ts`;
  if (kind === 'bash') {
    const command = `npm test -- --grep "${words(rand, 2)}"`;
    const output = lines(rand, 1000 + Math.floor(rand() * 3000), (i) => `  ${i}) `);
    return {
      ...base,
      tool: 'bash',
      state: {
        status: 'completed',
        input: { command, description: words(rand, 4) },
        output,
        title: command,
        metadata: { output, exit: rand() < 0.8 ? 0 : 1, truncated: false },
        time: { start, end },
      },
    };
  }
  if (kind === 'read') {
    const content = lines(rand, 2000 + Math.floor(rand() * 6000), (i) => `${i}: `);
    return {
      ...base,
      tool: 'read',
      state: {
        status: 'completed',
        input: { filePath: file },
        output: `<path>${file}</path>\n<type>file</type>\n<content>\n${content}\n\n(End of file)\n</content>`,
        title: file.slice(CWD.length + 1),
        metadata: { preview: content.slice(0, 200), truncated: false, loaded: [] },
        time: { start, end },
      },
    };
  }
  if (kind === 'grep') {
    const output = lines(rand, 500 + Math.floor(rand() * 1500), (i) => `${file}:${i * 7}: `);
    return {
      ...base,
      tool: 'grep',
      state: {
        status: 'completed',
        input: { pattern: words(rand, 1), path: CWD },
        output,
        title: words(rand, 1),
        metadata: { matches: 12, truncated: false },
        time: { start, end },
      },
    };
  }
  if (kind === 'missing') {
    return {
      ...base,
      tool: 'read',
      state: {
        status: 'error',
        input: { filePath: `${file}.bak` },
        error: `File not found: ${file}.bak`,
        time: { start, end },
      },
    };
  }
  const oldString = lines(rand, 200 + Math.floor(rand() * 400), () => '  ');
  const newString = lines(rand, 200 + Math.floor(rand() * 400), () => '  ');
  return {
    ...base,
    tool: 'edit',
    state: {
      status: 'completed',
      input: { filePath: file, oldString, newString },
      output: 'Edit applied successfully.',
      title: file.slice(CWD.length + 1),
      metadata: { diagnostics: {}, diff: `--- ${file}\n+++ ${file}\n${oldString}\n${newString}`, truncated: false },
      time: { start, end },
    },
  };
}

function userMessage(ctx, prompt) {
  const { id, sessionID, clock } = ctx;
  const info = {
    id: id('msg'),
    sessionID,
    role: 'user',
    time: { created: clock.tick(1500) },
    agent: 'build',
    model: MODEL,
  };
  return { info, parts: [{ id: id('prt'), sessionID, messageID: info.id, type: 'text', text: prompt }] };
}

// One model call. `tools` lists the tool kinds it called ([] for the final answer); a
// `task` kind is resolved by the caller (child sessions).
function assistantMessage(ctx, parentID, tools, { finished = true } = {}) {
  const { rand, id, sessionID, clock } = ctx;
  const created = clock.tick(300);
  const info = {
    id: id('msg'),
    sessionID,
    role: 'assistant',
    time: { created },
    parentID,
    modelID: MODEL.modelID,
    providerID: MODEL.providerID,
    mode: 'build',
    agent: 'build',
    path: { cwd: CWD, root: CWD },
    cost: 0,
    tokens: tokens(rand),
    finish: tools.length ? 'tool-calls' : 'stop',
  };
  info.cost = Math.round(info.tokens.input * 3 + info.tokens.output * 15) / 1e6;
  const snapshot = 'f'.repeat(40);
  const parts = [{ id: id('prt'), sessionID, messageID: info.id, type: 'step-start', snapshot }];
  let t = created + 400 + Math.floor(rand() * 2000);
  parts.push({
    id: id('prt'),
    sessionID,
    messageID: info.id,
    type: 'reasoning',
    text: words(rand, 30 + Math.floor(rand() * 120)),
    time: { start: t, end: (t += 50) },
  });
  parts.push({
    id: id('prt'),
    sessionID,
    messageID: info.id,
    type: 'text',
    text: words(rand, 15 + Math.floor(rand() * (tools.length ? 40 : 150))),
    time: { start: t, end: (t += 80) },
  });
  for (const kind of tools) {
    const part = kind.part || toolPart(ctx, info.id, kind, t);
    if (kind.part) part.messageID = info.id;
    parts.push(part);
    t = part.state.time.end + 5;
  }
  parts.push({
    id: id('prt'),
    sessionID,
    messageID: info.id,
    type: 'step-finish',
    reason: info.finish,
    snapshot,
    cost: info.cost,
    tokens: info.tokens,
  });
  clock.now = Math.max(clock.now, t);
  if (finished) info.time.completed = clock.tick(10);
  return { info, parts };
}

// Turn sizes (user message included) from 3 to 20, about 10 on average; the first turn of a
// session of n messages is as long as it can be when n is small (n = 10: one turn).
function turnSizes(rand, n) {
  const sizes = [];
  let left = n;
  while (left > 0) {
    let size = 3 + Math.floor(rand() * 18);
    if (left - size < 3) size = left;
    sizes.push(size);
    left -= size;
  }
  return sizes;
}

const TOOL_KINDS = ['bash', 'read', 'read', 'grep', 'edit', 'bash', 'read', 'missing'];

/**
 * A session of `n` messages (root session only; child sessions come on top), every turn
 * finished (longTurn: {turn, size} makes that turn `size` messages long). Returns {sessionID,
 * messages, childSessions} — childSessions as the plugin sends them — plus `turns` (the user
 * message index of each turn).
 */
function makeSession(n, { seed = 1, childEvery = 12, longTurn = null } = {}) {
  const rand = rng(seed * 7919 + n);
  const clock = {
    now: 1795480000000 + seed * 1e7,
    tick(ms) {
      this.now += 1 + Math.floor(rand() * ms);
      return this.now;
    },
  };
  const id = ids(seed * 31 + n, clock);
  const sessionID = id('ses');
  const ctx = { rand, id, sessionID, clock };
  const messages = [],
    childSessions = [],
    turns = [];
  const sizes = turnSizes(rand, n);
  if (longTurn) sizes[longTurn.turn] = longTurn.size; // one turn of many model calls
  sizes.forEach((size, turn) => {
    turns.push(messages.length);
    const user = userMessage(ctx, words(rand, 10 + Math.floor(rand() * 60)));
    messages.push(user);
    for (let k = 1; k < size; k++) {
      const last = k === size - 1;
      const tools = last
        ? []
        : Array.from({ length: 1 + Math.floor(rand() * 2) }, () => TOOL_KINDS[Math.floor(rand() * TOOL_KINDS.length)]);
      if (!last && k === 1 && childEvery && turn % childEvery === childEvery - 1)
        tools.push({ part: childTask(ctx, childSessions) });
      messages.push(assistantMessage(ctx, user.info.id, tools));
    }
  });
  return { sessionID, messages, childSessions, turns };
}

// A `task` call and its child session of five messages (user, three calls, answer).
function childTask(parent, childSessions) {
  const { rand, id, clock } = parent;
  const childID = id('ses');
  const start = clock.tick(100);
  const child = { rand, id, sessionID: childID, clock };
  const prompt = words(rand, 20);
  const user = userMessage(child, prompt);
  const messages = [user];
  for (let k = 0; k < 3; k++) messages.push(assistantMessage(child, user.info.id, [TOOL_KINDS[k]]));
  messages.push(assistantMessage(child, user.info.id, []));
  const answer = words(rand, 40);
  const info = {
    id: childID,
    slug: 'brave-eagle',
    projectID: 'e940bd7b',
    directory: CWD,
    parentID: parent.sessionID,
    title: `${words(rand, 3)} (@general subagent)`,
    agent: 'general',
    version: '1.18.33',
    time: { created: start, updated: clock.now },
  };
  const part = {
    id: id('prt'),
    sessionID: parent.sessionID,
    messageID: '',
    type: 'tool',
    callID: `toolu_${id('call').slice(5)}`,
    tool: 'task',
    state: {
      status: 'completed',
      input: { description: words(rand, 3), prompt, subagent_type: 'general' },
      output: `<task id="${childID}" state="completed">\n<task_result>\n${answer}\n</task_result>\n</task>`,
      title: words(rand, 3),
      metadata: {
        parentSessionId: parent.sessionID,
        sessionId: childID,
        model: { modelID: MODEL.modelID, providerID: MODEL.providerID },
        truncated: false,
      },
      time: { start, end: clock.tick(50) },
    },
  };
  childSessions.push({
    sessionID: childID,
    parentSessionID: parent.sessionID,
    parentCallID: part.callID,
    info,
    messages,
  });
  return part;
}

/** The payload the plugin sends for a session (children included). */
function payload(session, type, messages = session.messages) {
  return { type, sessionID: session.sessionID, messages, childSessions: session.childSessions };
}

/** One more completed model call (with two tools, or the tools named) in the last turn of `session`. */
function oneMore(session, seed = 99, tools = ['bash', 'read']) {
  const rand = rng(seed);
  const last = session.messages[session.messages.length - 1].info;
  const clock = {
    now: last.time.completed + 1000,
    tick(ms) {
      this.now += 1 + Math.floor(rand() * ms);
      return this.now;
    },
  };
  const ctx = { rand, id: ids(seed, clock), sessionID: session.sessionID, clock };
  const user = session.messages[session.turns[session.turns.length - 1]];
  return assistantMessage(ctx, user.info.id, tools);
}

module.exports = { makeSession, payload, oneMore, rng };
