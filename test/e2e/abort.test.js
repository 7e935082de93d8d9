'use strict';
// A model call the user stops (POST /session/:id/abort, the TUI's Esc) keeps what it had said:
// OpenCode says session.idle once before it writes the call's partial text and error, and once
// after. Real OpenCode (`opencode serve`), the scripted model streaming a long answer slowly, the
// plugin installed from the packed tarball, a receiver on 127.0.0.1.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startReceiver } = require('../receiver.js');
const { startModelServer } = require('../model-server.js');
const h = require('./harness.js');

const prerequisite = h.missingPrerequisite();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('an aborted model call keeps its partial answer (the events-fed open part)', async (t) => {
  if (prerequisite) return t.skip(prerequisite);
  const pkg = h.packPackage();
  const receiver = await startReceiver();
  const model = await startModelServer({
    scripts: {
      ABORT_ME: [
        { tool: 'bash', args: { command: 'echo a1', description: 'A1' } },
        { text: 'word '.repeat(400), delayMs: 30 }, // ~12 s of streaming: stopped long before its end
        { text: 'Answered after the abort.' },
      ],
    },
  });
  const oc = h.makeOpenCodeHome({
    route: 'plugin-file',
    tarball: pkg.tarball,
    modelURL: model.baseURL,
    receiverURL: receiver.url,
  });
  const server = await h.startServe(oc);
  let stored;
  try {
    const id = (await server.call('POST', '/session', {})).json.id;
    await server.call('POST', `/session/${id}/prompt_async`, { parts: [{ type: 'text', text: 'ABORT_ME go' }] });
    // the second model call is streaming: let some of its text out, then stop it
    while (model.agentCalls().length < 2) await sleep(100);
    await sleep(2500);
    await server.call('POST', `/session/${id}/abort`);
    await h.waitIdle(server, id);
    await server.call('POST', `/session/${id}/prompt_async`, { parts: [{ type: 'text', text: 'again' }] });
    await sleep(500);
    await h.waitIdle(server, id);
    stored = (await server.call('GET', `/session/${id}/message`)).json;
  } finally {
    await server.stop();
  }
  try {
    const spans = await h.settle(receiver, (all) => all.filter((s) => s.name === 'Turn').length >= 2);
    const tree = `\n${h.formatTree(spans, { indent: '  ' })}`;
    assert.deepEqual(h.duplicateSpans(spans), [], tree);
    const aborted = stored.find((m) => m.info.error?.name === 'MessageAbortedError');
    const partial = aborted.parts.find((p) => p.type === 'text')?.text ?? '';
    assert.ok(partial.length > 0, 'OpenCode stored no partial text: the abort came too early');
    const calls = spans.filter((s) => s.attributes['openinference.span.kind'] === 'LLM' && s.status?.code === 2);
    assert.equal(calls.length, 1, tree);
    assert.equal(calls[0].attributes['output.value'], partial, `the aborted call's output${tree}`);
    const turn = spans.find((s) => s.name === 'Turn' && /ABORT_ME/.test(String(s.attributes['input.value'])));
    assert.equal(turn.attributes['output.value'], partial, `the aborted turn's output${tree}`);
  } finally {
    await receiver.close();
    await model.close();
    oc.remove();
    fs.rmSync(pkg.dir, { recursive: true, force: true });
  }
});
