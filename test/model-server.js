'use strict';
// A scripted OpenAI-compatible chat-completions server for driving the real OpenCode in tests.
// CommonJS and node: built-ins only, so the same file runs under Node and Bun. Listens on
// 127.0.0.1 only, on an ephemeral port.
//
//   const model = await startModelServer({ script: [
//     { tool: 'bash', args: { command: 'echo hi', description: 'Print hi' } },
//     { text: 'done', usage: { prompt: 120, cached: 20, completion: 30, reasoning: 5 } },
//   ] });
//   // opencode.json: provider.mock.options.baseURL = model.baseURL
//   model.play({ script, scripts })   // load other scripts for conversations not yet started
//
// Conversations. OpenCode sends `x-session-id: <session id>` on every model call, so one
// OpenCode session is one conversation, and each conversation walks its own script in order:
// its n-th agent call (a request that carries `tools`) gets step n. A continued session
// (`opencode run --continue`) is the same conversation, so a two-turn script is simply the
// first turn's steps followed by the second turn's. Calls without `tools` are OpenCode's title
// generator: they get `options.title` and do not advance any script.
//
// Which script a new conversation plays: a `task` step's `child` script when the conversation's
// first user message contains that task call's `prompt` (that is how a subagent's session
// starts); else the first `scripts` entry whose marker the first user message contains; else
// `script`. Without a session header, the conversation is keyed by its first user message.
//
// A step is one model call:
//   { text?, reasoning?, usage?, delayMs? }             a text answer (finish_reason "stop")
//   { tool, args, id?, text?, reasoning?, usage? }      one tool call (finish_reason "tool_calls")
//   { tools: [{ tool, args, id? }, ...], text?, ... }   parallel tool calls in one step
//   { tool: 'task', args: { description, prompt, subagent_type }, child: [steps] }
//                                                       a subagent; its session plays `child`
//   { error: { status: 400, message?, type?, code? } }  the provider fails with that HTTP status
// usage = { prompt, completion, cached?, reasoning? } as the provider reports them:
// prompt_tokens includes the cached ones, completion_tokens the reasoning ones (default
// { prompt: 100, completion: 10 }). `text`/`reasoning` stream in small chunks `delayMs` apart
// (default 2), reasoning as delta.reasoning_content, which @ai-sdk/openai-compatible turns
// into a reasoning part.
//
// Everything is recorded: `model.requests` holds every HTTP request (method, url, headers,
// body, conversation, step, kind), `model.unexpected` the agent calls that found no step
// left (they get a short text so OpenCode still finishes), `model.conversations` the state.

const http = require('node:http');

const DEFAULT_USAGE = { prompt: 100, completion: 10, cached: 0, reasoning: 0 };

function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((c) => (c && typeof c.text === 'string' ? c.text : '')).join('');
  return '';
}

function firstUserText(body) {
  const m = (body.messages || []).find((x) => x && x.role === 'user');
  return m ? textOf(m.content) : '';
}

// The tool calls of a step, normalised to [{name, args, id?}].
function toolCallsOf(step) {
  if (Array.isArray(step.tools))
    return step.tools.map((t) => ({ name: t.tool, args: t.args || {}, id: t.id, child: t.child }));
  if (step.tool) return [{ name: step.tool, args: step.args || {}, id: step.id, child: step.child }];
  return [];
}

function pieces(text, size) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function startModelServer(initial = {}) {
  let options, title, childScripts, namedScripts;
  const requests = [];
  const unexpected = [];
  const conversations = new Map(); // key -> { key, script, label, calls, firstUser }
  const sockets = new Set();
  let seq = 0;

  // Task steps anywhere in the scripts register their child script up front: a child
  // conversation is recognised by its task prompt.
  const register = (steps) => {
    for (const step of steps || [])
      for (const call of toolCallsOf(step))
        if (call.child && call.args && typeof call.args.prompt === 'string') {
          childScripts.push({ prompt: call.args.prompt, steps: call.child });
          register(call.child);
        }
  };
  // Loads the scripts that new conversations will play (conversations already started keep
  // theirs). Lets a test start the server first and write the script once it knows its paths.
  function play(next = {}) {
    options = next;
    title = options.title ?? 'Scripted session';
    childScripts = [];
    namedScripts = Object.entries(options.scripts || {});
    register(options.script);
    for (const [, steps] of namedScripts) register(steps);
  }
  play(initial);

  function conversationFor(req, body) {
    const first = firstUserText(body);
    const header = req.headers['x-session-id'];
    const key = typeof header === 'string' && header ? header : `first-user:${first}`;
    let c = conversations.get(key);
    if (!c) {
      const child = childScripts.find((s) => first.includes(s.prompt));
      const named = !child && namedScripts.find(([marker]) => first.includes(marker));
      c = child
        ? { script: child.steps, label: `child:${child.prompt.slice(0, 40)}` }
        : named
          ? { script: named[1], label: `script:${named[0]}` }
          : { script: options.script || [], label: 'main' };
      Object.assign(c, { key, calls: 0, firstUser: first });
      conversations.set(key, c);
    }
    return c;
  }

  function writeChunk(res, obj) {
    res.write(`data: ${JSON.stringify(obj)}\n\n`);
  }

  async function stream(res, body, step, n) {
    const id = `chatcmpl-scripted-${n}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (choices, extra) =>
      Object.assign({ id, object: 'chat.completion.chunk', created, model: body.model, choices }, extra);
    const delta = (d, finish = null) => chunk([{ index: 0, delta: d, finish_reason: finish }]);
    const delay = step.delayMs ?? 2;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    writeChunk(res, delta({ role: 'assistant', content: '' }));
    for (const piece of step.reasoning ? pieces(step.reasoning, 16) : []) {
      if (res.destroyed) return;
      writeChunk(res, delta({ reasoning_content: piece }));
      await sleep(delay);
    }
    for (const piece of step.text ? pieces(step.text, 16) : []) {
      if (res.destroyed) return;
      writeChunk(res, delta({ content: piece }));
      await sleep(delay);
    }
    const calls = toolCallsOf(step);
    calls.forEach((call, i) => {
      const args = JSON.stringify(call.args);
      const half = Math.floor(args.length / 2);
      // The first delta names the call; the arguments arrive split, as real providers do.
      writeChunk(
        res,
        delta({
          tool_calls: [
            {
              index: i,
              id: call.id || `call_${n}_${i}`,
              type: 'function',
              function: { name: call.name, arguments: args.slice(0, half) },
            },
          ],
        }),
      );
      writeChunk(res, delta({ tool_calls: [{ index: i, function: { arguments: args.slice(half) } }] }));
    });
    writeChunk(res, delta({}, calls.length ? 'tool_calls' : 'stop'));
    const u = Object.assign({}, DEFAULT_USAGE, step.usage);
    writeChunk(
      res,
      chunk([], {
        usage: {
          prompt_tokens: u.prompt,
          completion_tokens: u.completion,
          total_tokens: u.prompt + u.completion,
          prompt_tokens_details: { cached_tokens: u.cached || 0 },
          completion_tokens_details: { reasoning_tokens: u.reasoning || 0 },
        },
      }),
    );
    res.write('data: [DONE]\n\n');
    res.end();
  }

  function answerJson(res, body, step, n) {
    const calls = toolCallsOf(step);
    const message = { role: 'assistant', content: step.text || null };
    if (step.reasoning) message.reasoning_content = step.reasoning;
    if (calls.length)
      message.tool_calls = calls.map((c, i) => ({
        id: c.id || `call_${n}_${i}`,
        type: 'function',
        function: { name: c.name, arguments: JSON.stringify(c.args) },
      }));
    const u = Object.assign({}, DEFAULT_USAGE, step.usage);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl-scripted-${n}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message, finish_reason: calls.length ? 'tool_calls' : 'stop' }],
        usage: {
          prompt_tokens: u.prompt,
          completion_tokens: u.completion,
          total_tokens: u.prompt + u.completion,
          prompt_tokens_details: { cached_tokens: u.cached || 0 },
          completion_tokens_details: { reasoning_tokens: u.reasoning || 0 },
        },
      }),
    );
  }

  async function handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = null;
    }
    const n = ++seq;
    const record = { n, at: Date.now(), method: req.method, url: req.url, headers: req.headers, body, kind: 'other' };
    requests.push(record);

    const path = (req.url || '').split('?')[0];
    if (req.method === 'GET' && path.endsWith('/models')) {
      record.kind = 'models';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'scripted', object: 'model', owned_by: 'test' }] }));
      return;
    }
    if (req.method !== 'POST' || !path.endsWith('/chat/completions') || !body) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no such endpoint: ${req.method} ${path}` } }));
      return;
    }

    let step;
    if (!Array.isArray(body.tools) || body.tools.length === 0) {
      record.kind = 'title';
      step = { text: title, usage: { prompt: 50, completion: 4 } };
    } else {
      const c = conversationFor(req, body);
      record.kind = 'agent';
      record.conversation = c.key;
      record.script = c.label;
      record.step = c.calls++;
      step = c.script[record.step];
      if (!step) {
        unexpected.push(record);
        step = { text: '(the script has no step left)' };
      }
    }
    if (step.error) {
      const status = step.error.status || 400;
      record.kind += ':error';
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            message: step.error.message || `scripted provider error ${status}`,
            type: step.error.type || 'invalid_request_error',
            code: step.error.code || `scripted_${status}`,
          },
        }),
      );
      return;
    }
    if (body.stream) await stream(res, body, step, n);
    else answerJson(res, body, step, n);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String((err && err.message) || err) } }));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${server.address().port}`;

  let closing;
  return {
    url,
    baseURL: `${url}/v1`,
    requests,
    unexpected,
    conversations,
    play,
    /** The agent calls (with tools) in arrival order; `conversation` names the session. */
    agentCalls: () => requests.filter((r) => r.kind.startsWith('agent')),
    close() {
      if (!closing) {
        closing = new Promise((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
      }
      return closing;
    },
  };
}

module.exports = { startModelServer };
