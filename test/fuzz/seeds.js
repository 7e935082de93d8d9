'use strict';
// Writes the seed corpora of the fuzz harnesses into <out>/<harness>/: small inputs made
// here from the shared OpenCode captures and from a few hand-written cases, so no corpus
// file is committed.
//   node test/fuzz/seeds.js test/fuzz/out/seeds
const fs = require('node:fs');
const path = require('node:path');
const { FIXTURES, payload } = require('../helpers/fixtures.js');

const out = process.argv[2] || path.join(__dirname, 'out', 'seeds');

function write(harness, name, data) {
  const dir = path.join(out, harness);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), data);
}

// ---- fuzz_reconcile: snapshot payloads ------------------------------------------------

function snapshots() {
  const found = [];
  for (const dir of ['one-bash-call', 'main-run/snapshots', 'serve-scenarios/snapshots']) {
    const full = path.join(FIXTURES, dir);
    if (!fs.existsSync(full)) continue;
    for (const f of fs.readdirSync(full).sort()) if (f.endsWith('.json')) found.push(path.join(dir, f));
  }
  return found;
}

const ses = 'ses_seed';
const user = (id, text, created = 1000) => ({
  info: { id, sessionID: ses, role: 'user', time: { created } },
  parts: [{ id: `${id}_p`, sessionID: ses, messageID: id, type: 'text', text }],
});
const assistant = (id, parentID, parts, extra = {}) => ({
  info: {
    id,
    sessionID: ses,
    role: 'assistant',
    parentID,
    modelID: 'm',
    providerID: 'openai',
    time: { created: 1001, completed: 1005 },
    tokens: { input: 1, output: 2, reasoning: 0, cache: { read: 0, write: 0 } },
    cost: 0.5,
    ...extra,
  },
  parts: parts.map((p, i) => ({ id: `${id}_p${i}`, sessionID: ses, messageID: id, ...p })),
});
const tool = (callID, name, state) => ({ type: 'tool', callID, tool: name, state });

const handmade = {
  // a subagent: a task call in the parent, the child session linked by metadata.sessionId
  'child-session': {
    type: 'close',
    sessionID: ses,
    messages: [
      user('u1', 'delegate'),
      assistant('a1', 'u1', [
        tool('call_task', 'task', {
          status: 'completed',
          input: { prompt: 'look', subagent_type: 'general' },
          output: 'done',
          metadata: { sessionId: 'ses_child' },
          time: { start: 1002, end: 1004 },
        }),
        { type: 'text', text: 'ok' },
      ]),
    ],
    childSessions: [
      {
        sessionID: 'ses_child',
        parentSessionID: ses,
        parentCallID: 'call_task',
        info: { id: 'ses_child', parentID: ses, title: 'child' },
        messages: [
          {
            info: { id: 'cu1', sessionID: 'ses_child', role: 'user', time: { created: 1002 } },
            parts: [{ type: 'text', text: 'look' }],
          },
          {
            info: {
              id: 'ca1',
              sessionID: 'ses_child',
              role: 'assistant',
              parentID: 'cu1',
              time: { created: 1002, completed: 1003 },
            },
            parts: [
              {
                type: 'tool',
                callID: 'c1',
                tool: 'read',
                state: { status: 'completed', input: { filePath: '/x' }, output: 'y' },
              },
              { type: 'text', text: 'found' },
            ],
          },
        ],
      },
    ],
  },
  // errors: a failed tool, a failed model call with a status code, an interrupted call
  errors: {
    type: 'reconcile',
    sessionID: ses,
    messages: [
      user('u1', 'go'),
      assistant('a1', 'u1', [
        tool('c1', 'bash', {
          status: 'error',
          input: { command: 'false' },
          error: 'exit 1',
          time: { start: 1002, end: 1003 },
        }),
      ]),
      assistant('a2', 'u1', [], { error: { name: 'APIError', data: { message: 'bad', statusCode: 400 } } }),
      user('u2', 'again', 2000),
      assistant('a3', 'u2', [tool('c2', 'grep', { status: 'running', input: { pattern: 'x' } })], {
        time: { created: 2001 },
      }),
    ],
  },
  // odd values: NUL and lone surrogate escapes, out-of-range numbers, end before start
  'odd-values': {
    type: 'close',
    sessionID: ses,
    messages: [
      user('u1', 'nul \u0000 here \ud800 lone'),
      assistant(
        'a1',
        'u1',
        [
          tool('c1', 'bash', {
            status: 'completed',
            input: { command: 'a\u0000b' },
            output: '\udfff',
            metadata: { exit: -1 },
            time: { start: 1e308, end: -5 },
          }),
        ],
        {
          time: { created: 5000, completed: 1 },
          tokens: { input: -1, output: 1e300, cache: { read: 9e18 } },
          cost: -1e308,
        },
      ),
    ],
  },
  // duplicates: two messages with one id, two tool parts with one call id
  duplicates: {
    type: 'close',
    sessionID: ses,
    messages: [
      user('u1', 'dup'),
      assistant('a1', 'u1', [
        tool('c1', 'bash', { status: 'completed', input: {}, output: '1' }),
        tool('c1', 'bash', { status: 'completed', input: {}, output: '2' }),
      ]),
      assistant('a1', 'u1', [{ type: 'text', text: 'same id' }]),
    ],
  },
  minimal: { type: 'reconcile', sessionID: 's', messages: [] },
  // bad items that are skipped alone (issue 12): a part of another message, children that
  // cannot be trusted, an unfinished child call whose tool finished, an aborted tool
  'skipped-items': {
    type: 'close',
    sessionID: ses,
    messages: [
      user('u1', 'go'),
      assistant('a1', 'u1', [
        { type: 'text', text: 'x', messageID: 'other' },
        tool('c1', 'bash', {
          status: 'completed',
          input: { command: 'sleep 9' },
          output: 'User aborted the command',
          time: { start: 1002, end: 1003 },
        }),
        tool('call_task', 'task', {
          status: 'completed',
          input: { prompt: 'p' },
          output: 'ok',
          metadata: { sessionId: 'ses_c' },
        }),
      ]),
    ],
    childSessions: [
      {
        sessionID: 'ses_c',
        parentSessionID: ses,
        info: { id: 'ses_c', parentID: ses },
        messages: [
          { info: { id: 'cu', sessionID: 'ses_c', role: 'user', time: { created: 1002 } }, parts: [] },
          {
            info: { id: 'ca', sessionID: 'ses_c', role: 'assistant', parentID: 'cu', time: { created: 1002 } },
            parts: [
              { type: 'tool', callID: 'cb', tool: 'bash', state: { status: 'completed', input: {}, output: 'y' } },
            ],
          },
        ],
      },
      { sessionID: 'ses_d', parentSessionID: ses, info: { id: 'ses_other' }, messages: [] },
      { sessionID: 'ses_e', messages: [] },
    ],
  },
};

// ---- fuzz_config: config files (and environment after a NUL) -------------------------

const configs = {
  'arize.yaml':
    'harnesses:\n  opencode:\n    project_name: p\n    target: arize\n    endpoint: https://otlp.example.com\n' +
    '    api_key: k\n    space_id: s\nlogging:\n  prompts: false\n  tool_details: true\n  tool_content: no\nuser_id: u\n',
  'phoenix.yaml': 'harnesses:\n  opencode:\n    target: phoenix\n    endpoint: localhost:6006\n    api_key: "pk"\n',
  'inferred.yaml': 'harnesses:\n  opencode:\n    endpoint: http://127.0.0.1:6006/v1/traces/\n',
  'other-harness.yaml': 'harnesses:\n  claude-code:\n    api_key: other\n  opencode: ~\n',
  'anchors.yaml': 'base: &b {project_name: x}\nharnesses:\n  opencode: *b\n',
  'settings.yaml':
    'attributes:\n  team: a\nharnesses:\n  opencode:\n    attributes:\n      team: b\nspool:\n  max_mb: 5\n' +
    'export:\n  retry_initial_ms: 10\n  retry_max_ms: 100\n  timeout_ms: 500\n  shutdown_timeout_ms: 100\n  compression: none\n' +
    'limits:\n  max_attribute_bytes: 64\n  max_payload_mb: 1\n  max_spans_per_payload: 10\n  log_max_mb: 1\n',
  'flow.yaml': '{harnesses: {opencode: {project_name: "a\\tb", target: phoenix, endpoint: "h:1"}}}\n',
  'bad.yaml': 'harnesses:\n  opencode:\n   - [unclosed\n',
  'empty.yaml': '',
  'comment.yaml': '# nothing\n',
  'config.json': JSON.stringify({
    harnesses: { opencode: { project_name: 'j', target: 'phoenix', endpoint: 'http://h:1' } },
    logging: { prompts: true },
  }),
  'with-env':
    'user_id: u\n\0ARIZE_API_KEY=ek\nARIZE_SPACE_ID=es\nARIZE_PROJECT_NAME=ep\nOTEL_RESOURCE_ATTRIBUTES=a=b,c=d%2Ce\n' +
    'OTEL_SERVICE_NAME=svc\nARIZE_VERBOSE=true\nARIZE_DRY_RUN=1\nARIZE_TRACE_ENABLED=FALSE\nOPENINFERENCE_HIDE_INPUTS=true\n',
  'env-phoenix':
    '\0PHOENIX_ENDPOINT= http://127.0.0.1:6006/ \nPHOENIX_API_KEY=pk\nOTEL_EXPORTER_OTLP_COMPRESSION=gzip\n' +
    'OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318\nOTEL_EXPORTER_OTLP_HEADERS=a=b,c=d\nARIZE_SPOOL_MAX_MB=1\n',
};

// ---- fuzz_otlp_response: protobuf bodies ------------------------------------------------

function varint(n) {
  let v = BigInt.asUintN(64, BigInt(n));
  const bytes = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}
const key = (field, wire) => varint(field * 8 + wire);
const len = (field, buf) => Buffer.concat([key(field, 2), varint(buf.length), buf]);
const str = (field, s) => len(field, Buffer.from(s, 'utf8'));
const int = (field, n) => Buffer.concat([key(field, 0), varint(n)]);
const fixed64 = (field, n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return Buffer.concat([key(field, 1), b]);
};
const double = (field, d) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(d);
  return Buffer.concat([key(field, 1), b]);
};
const kv = (k, value) => len(9, Buffer.concat([str(1, k), len(2, value)]));

const spanBody = Buffer.concat([
  len(1, Buffer.alloc(16, 0xab)),
  len(2, Buffer.alloc(8, 0xcd)),
  len(4, Buffer.alloc(8, 0xef)),
  str(5, 'LLM: m1'),
  int(6, 1),
  fixed64(7, 1795480533666000000n),
  fixed64(8, 1795480534666000000n),
  kv('openinference.span.kind', str(1, 'LLM')),
  kv('llm.token_count.prompt', int(3, 120)),
  kv('llm.cost.total', double(4, 0.25)),
  kv('flag', int(2, 1)),
  kv('arr', len(5, str(1, 'x'))),
  len(
    11,
    Buffer.concat([
      fixed64(1, 1795480534000000000n),
      str(2, 'exception'),
      len(3, Buffer.concat([str(1, 'exception.message'), len(2, str(1, 'boom'))])),
    ]),
  ),
  len(15, Buffer.concat([str(2, 'APIError: bad'), int(3, 2)])),
]);

const responses = {
  empty: Buffer.alloc(0),
  partial: len(1, Buffer.concat([int(1, 3), str(2, '3 spans rejected: invalid trace id')])),
  'partial-negative': len(1, int(1, -1)),
  'partial-empty': len(1, Buffer.alloc(0)),
  'unknown-field': Buffer.concat([str(7, 'x'), len(1, str(2, 'm'))]),
  span: spanBody,
  'span-root': Buffer.concat([len(1, Buffer.alloc(16, 1)), len(2, Buffer.alloc(8, 2)), str(5, 'Turn')]),
  'json-body': Buffer.from('{"partialSuccess":{"rejectedSpans":"1"}}'),
};

// ---- write ------------------------------------------------------------------------------

for (const f of snapshots()) {
  const name = f.replace(/[/]/g, '_');
  write('fuzz_reconcile', `${name}-close`, JSON.stringify(payload(f, 'close')));
  if (/snap-1|001-|004-/.test(f)) write('fuzz_reconcile', `${name}-reconcile`, JSON.stringify(payload(f, 'reconcile')));
}
for (const [name, p] of Object.entries(handmade)) write('fuzz_reconcile', name, JSON.stringify(p));
// numbers past the range of a double, which only a text payload can hold
write(
  'fuzz_reconcile',
  'overflowing-numbers',
  JSON.stringify(handmade.errors).replace('"input":1,', '"input":1e309,').replace('"output":2', '"output":-1e400'),
);
for (const [name, text] of Object.entries(configs)) write('fuzz_config', name, text);
for (const [name, bytes] of Object.entries(responses)) write('fuzz_otlp_response', name, bytes);

// ---- fuzz_redact: texts with secrets (the redaction corpus: fake, made at run time) ----------

const { secrets } = require('../redact/corpus.js');
const seen = new Set();
for (const s of secrets(2)) {
  const key = `${s.kind}-${s.context}`;
  if (seen.has(key)) continue;
  seen.add(key);
  write('fuzz_redact', key, s.text);
}
write('fuzz_redact', 'pattern-then-text', '(?i)acme-[0-9]{6}|tok(en)?\\b\nticket ACME-123456 and TOKEN x');
write('fuzz_redact', 'json-escapes', '{"password":"a\\"b\\\\c\\u0041d","out":"l1\\nghp_x"}');
