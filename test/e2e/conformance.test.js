'use strict';
// Conformance, read by an independent reader: the real OpenCode drives this package (as in
// opencode.test.js), and what the core sends is decoded here with the *official*
// opentelemetry-proto files (test/e2e/proto/, unmodified) and an npm protobuf library
// (protobufjs), by a receiver of this file's own: neither our encoder (native/otlp.c) nor our
// test decoder (test/receiver.js) takes part. Every span attribute key must then be an
// OpenInference semantic convention (@arizeai/openinference-semantic-conventions, its exported
// constants) or one of the custom keys listed explicitly below, with the value type either
// one says. Any other key is a failure.
//
//   node --test test/e2e/conformance.test.js     (needs `npm ci` and `npm run build`)

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const http = require('node:http');
const path = require('node:path');
const zlib = require('node:zlib');
const protobuf = require('protobufjs');
const {
  SemanticConventions: SC,
  OpenInferenceSpanKind,
  MimeType,
  SEMRESATTRS_PROJECT_NAME,
} = require('@arizeai/openinference-semantic-conventions');
const { startModelServer } = require('../model-server.js');
const h = require('./harness.js');

const PROTO_DIR = path.join(__dirname, 'proto');
const RUN_TIMEOUT_MS = 120000;
const prerequisite = h.missingPrerequisite();

// ---------------------------------------------------------------------------
// What a key may hold. OTLP AnyValue cases: string_value, int_value, double_value,
// bool_value, array_value (of strings here).
const STRING = 'string_value',
  INT = 'int_value',
  DOUBLE = 'double_value',
  BOOL = 'bool_value',
  STRINGS = 'array_value';

// OpenInference's own keys, by their exported constants.
const CONVENTIONS = new Map([
  [SC.OPENINFERENCE_SPAN_KIND, STRING],
  [SC.INPUT_VALUE, STRING],
  [SC.INPUT_MIME_TYPE, STRING],
  [SC.OUTPUT_VALUE, STRING],
  [SC.OUTPUT_MIME_TYPE, STRING],
  [SC.SESSION_ID, STRING],
  [SC.USER_ID, STRING],
  [SC.METADATA, STRING],
  [SC.TAG_TAGS, STRINGS],
  [SC.AGENT_NAME, STRING],
  [SC.LLM_MODEL_NAME, STRING],
  [SC.LLM_PROVIDER, STRING],
  [SC.LLM_SYSTEM, STRING],
  [SC.LLM_FINISH_REASON, STRING],
  [SC.LLM_TOKEN_COUNT_PROMPT, INT],
  [SC.LLM_TOKEN_COUNT_COMPLETION, INT],
  [SC.LLM_TOKEN_COUNT_TOTAL, INT],
  [SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ, INT],
  [SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE, INT],
  [SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING, INT],
  [SC.LLM_COST_TOTAL, DOUBLE],
  [SC.TOOL_NAME, STRING],
  [SC.TOOL_DESCRIPTION, STRING],
  [SC.TOOL_PARAMETERS, STRING],
  [SC.TOOL_ID, STRING],
  [SC.TOOL_CALL_ID, STRING],
  [SC.GRAPH_NODE_ID, STRING],
  [SC.GRAPH_NODE_NAME, STRING],
  [SC.GRAPH_NODE_PARENT_ID, STRING],
  [SC.LLM_INVOCATION_PARAMETERS, STRING], // live: chat.params
]);

// Inside llm.input_messages.N. / llm.output_messages.N.
const MESSAGE_KEYS = new Map([
  [SC.MESSAGE_ROLE, STRING],
  [SC.MESSAGE_CONTENT, STRING],
  [SC.MESSAGE_NAME, STRING],
  [SC.MESSAGE_TOOL_CALL_ID, STRING],
]);
const CONTENT_KEYS = new Map([
  [SC.MESSAGE_CONTENT_TYPE, STRING],
  [SC.MESSAGE_CONTENT_TEXT, STRING],
  [`${SC.MESSAGE_CONTENT_IMAGE}.${SC.IMAGE_URL}`, STRING],
]);
const TOOL_CALL_KEYS = new Map([
  [SC.TOOL_CALL_ID, STRING],
  [SC.TOOL_CALL_FUNCTION_NAME, STRING],
  [SC.TOOL_CALL_FUNCTION_ARGUMENTS_JSON, STRING],
]);

// Ours, not in the conventions: the explicit allow-list. A new key must be added here on
// purpose (and documented in the README's span table).
const CUSTOM = new Map([
  ['arize.project.name', STRING], // Arize's own harness tracing puts it on each span
  ['opencode.session.id', STRING], // a subagent's own session (session.id is the root's)
  ['opencode.llm.input_messages.omitted', INT],
  ['opencode.tool.title', STRING],
  ['opencode.tool.invalid', BOOL],
  ['opencode.turn.compaction.llm_calls', INT],
  ['opencode.turn.compaction.token_count.prompt', INT],
  ['opencode.turn.compaction.token_count.completion', INT],
  ['opencode.turn.compaction.token_count.total', INT],
  ['opencode.turn.compaction.token_count.cache_read', INT],
  ['opencode.turn.compaction.token_count.cache_write', INT],
  ['opencode.turn.compaction.token_count.reasoning', INT],
  ['opencode.turn.compaction.cost.total', DOUBLE],
  ['tool.command', STRING],
  ['tool.file_path', STRING],
  ['tool.query', STRING],
  ['tool.url', STRING],
  ['tool.exit_code', INT],
  ['http.response.status_code', INT], // OpenTelemetry's HTTP semantic convention (a provider's refusal)
  ['opencode.turn.llm_calls', INT],
  ['opencode.turn.tool_calls', INT],
  ['opencode.turn.tool_errors', INT],
  ['opencode.turn.token_count.prompt', INT],
  ['opencode.turn.token_count.completion', INT],
  ['opencode.turn.token_count.total', INT],
  ['opencode.turn.token_count.cache_read', INT],
  ['opencode.turn.token_count.cache_write', INT],
  ['opencode.turn.token_count.reasoning', INT],
  ['opencode.turn.cost.total', DOUBLE],
  ['opencode.time.clamped', BOOL],
  ['opencode.redactions', INT], // how many secrets the span's strings had replaced by markers
  // the live signals (native/live.c, docs/spans.md "Live signals")
  ['opencode.llm.retries', INT],
  ['opencode.turn.retries', INT],
  ['opencode.turn.permission_wait_ms', INT],
  ['opencode.turn.command', STRING],
  ['opencode.turn.command.arguments', STRING],
  ['opencode.turn.files_changed', INT],
  ['opencode.turn.lines_added', INT],
  ['opencode.turn.lines_removed', INT],
  ['opencode.turn.files', STRING],
  ['opencode.turn.todos', STRING],
]);
// Event attributes: OpenTelemetry's exception convention, and the live signals' events
// (opencode.retry, opencode.permission.asked / .replied).
const EVENT_KEYS = new Map([
  ['exception.type', STRING],
  ['exception.message', STRING],
  ['opencode.retry.attempt', INT],
  ['opencode.retry.message', STRING],
  ['opencode.retry.wait_ms', INT],
  ['http.response.status_code', INT],
  ['opencode.permission.type', STRING],
  ['opencode.permission.patterns', STRING],
  ['opencode.permission.reply', STRING],
  ['opencode.permission.wait_ms', INT],
]);

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const MESSAGE_RE = new RegExp(`^(${escape(SC.LLM_INPUT_MESSAGES)}|${escape(SC.LLM_OUTPUT_MESSAGES)})\\.(\\d+)\\.(.+)$`);
const CONTENTS_RE = new RegExp(`^${escape(SC.MESSAGE_CONTENTS)}\\.(\\d+)\\.(.+)$`);
const TOOL_CALLS_RE = new RegExp(`^${escape(SC.MESSAGE_TOOL_CALLS)}\\.(\\d+)\\.(.+)$`);
// llm.tools.N.tool.json_schema: the tools a model call was offered (live: tool.definition)
const LLM_TOOLS_RE = new RegExp(`^${escape(SC.LLM_TOOLS)}\\.\\d+\\.${escape(SC.TOOL_JSON_SCHEMA)}$`);

/** The value type a key must have, or undefined when the key is neither a convention nor ours. */
function expectedType(key) {
  if (CONVENTIONS.has(key)) return CONVENTIONS.get(key);
  if (CUSTOM.has(key)) return CUSTOM.get(key);
  if (LLM_TOOLS_RE.test(key)) return STRING;
  const m = MESSAGE_RE.exec(key);
  if (!m) return undefined;
  const rest = m[3];
  if (MESSAGE_KEYS.has(rest)) return MESSAGE_KEYS.get(rest);
  const c = CONTENTS_RE.exec(rest);
  if (c) return CONTENT_KEYS.get(c[2]);
  const t = TOOL_CALLS_RE.exec(rest);
  if (t) return TOOL_CALL_KEYS.get(t[2]);
  return undefined;
}

// ---------------------------------------------------------------------------
// Decoding with the official .proto files.

function loadRequestType() {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
  root.loadSync(path.join(PROTO_DIR, 'opentelemetry/proto/collector/trace/v1/trace_service.proto'), { keepCase: true });
  return root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
}

/** One request body → [{span, resource}] as plain objects (bytes as hex, 64-bit as strings). */
function decodeRequest(Request, body) {
  const message = Request.decode(body);
  const obj = Request.toObject(message, { longs: String, bytes: String, oneofs: true, defaults: false, arrays: true });
  const hex = (b64) => (b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('hex'));
  const out = [];
  for (const rs of obj.resource_spans) {
    for (const ss of rs.scope_spans) {
      for (const span of ss.spans) {
        Object.assign(span, {
          trace_id: hex(span.trace_id),
          span_id: hex(span.span_id),
          parent_span_id: hex(span.parent_span_id),
        });
        out.push({ span, resource: rs.resource });
      }
    }
  }
  return out;
}

/** {key: {type, value}} of a KeyValue list. */
function attributesOf(list = []) {
  const out = {};
  for (const kv of list) {
    const v = kv.value || {};
    const type = v.value; // the oneof case
    out[kv.key] = {
      type,
      value: type === STRINGS ? (v.array_value.values || []).map((x) => x.string_value) : v[type],
      arrayTypes: type === STRINGS ? (v.array_value.values || []).map((x) => x.value) : undefined,
    };
  }
  return out;
}

// A receiver of our own: raw bodies kept, 200 with an empty ExportTraceServiceResponse.
async function startRawReceiver() {
  const bodies = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let body = Buffer.concat(chunks);
    if (/\bgzip\b/i.test(req.headers['content-encoding'] || '')) body = zlib.gunzipSync(body);
    if (req.method === 'POST' && (req.url || '').startsWith('/v1/traces')) bodies.push(body);
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
    res.end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    bodies,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}

const isJson = (text) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
const isJsonObject = (text) => {
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
};

/** Every way a span departs from the conventions (and our allow-list), as lines. */
function violations({ span, resource }) {
  const where = `${span.name} ${span.span_id}`;
  const out = [];
  const attrs = attributesOf(span.attributes);
  if (!/^[0-9a-f]{32}$/.test(span.trace_id || '') || /^0+$/.test(span.trace_id))
    out.push(`${where}: trace_id ${span.trace_id}`);
  if (!/^[0-9a-f]{16}$/.test(span.span_id || '') || /^0+$/.test(span.span_id))
    out.push(`${where}: span_id ${span.span_id}`);
  if (span.parent_span_id && !/^[0-9a-f]{16}$/.test(span.parent_span_id))
    out.push(`${where}: parent_span_id ${span.parent_span_id}`);
  for (const [key, { type, value, arrayTypes }] of Object.entries(attrs)) {
    const want = expectedType(key);
    if (!want) out.push(`${where}: ${key} is neither an OpenInference convention nor on the allow-list`);
    else if (type !== want) out.push(`${where}: ${key} is ${type}, the convention says ${want}`);
    else if (arrayTypes && arrayTypes.some((t) => t !== STRING))
      out.push(`${where}: ${key} holds ${arrayTypes.join(',')}`);
    if (type === STRING && typeof value !== 'string') out.push(`${where}: ${key} has no string`);
  }
  const s = (k) => (attrs[k] && attrs[k].type === STRING ? attrs[k].value : undefined);
  const kind = s(SC.OPENINFERENCE_SPAN_KIND);
  if (!Object.values(OpenInferenceSpanKind).includes(kind)) out.push(`${where}: span kind ${kind}`);
  for (const [valueKey, mimeKey] of [
    [SC.INPUT_VALUE, SC.INPUT_MIME_TYPE],
    [SC.OUTPUT_VALUE, SC.OUTPUT_MIME_TYPE],
  ]) {
    const mime = s(mimeKey),
      value = s(valueKey);
    if (mime !== undefined && !Object.values(MimeType).includes(mime)) out.push(`${where}: ${mimeKey} ${mime}`);
    if (mime === MimeType.JSON && !isJson(value))
      out.push(`${where}: ${valueKey} is not JSON beside ${mimeKey} ${mime}`);
    // OpenInference's masking drops the mime type beside its marker
    if (value === '__REDACTED__' && mime !== undefined) out.push(`${where}: ${mimeKey} beside a redacted ${valueKey}`);
  }
  for (const [key, a] of Object.entries(attrs)) {
    const jsonObject =
      key === SC.TOOL_PARAMETERS ||
      key === SC.METADATA ||
      key === SC.LLM_INVOCATION_PARAMETERS ||
      LLM_TOOLS_RE.test(key) ||
      key.endsWith(`.${SC.TOOL_CALL_FUNCTION_ARGUMENTS_JSON}`);
    if (jsonObject && a.type === STRING && !isJsonObject(a.value)) out.push(`${where}: ${key} is not a JSON object`);
  }
  // a message is text-only (message.content) or multi-part (message.contents.N), never both
  const messages = new Map();
  for (const key of Object.keys(attrs)) {
    const m = MESSAGE_RE.exec(key);
    if (!m) continue;
    const id = `${m[1]}.${m[2]}`,
      entry = messages.get(id) || { content: false, contents: false };
    if (m[3] === SC.MESSAGE_CONTENT) entry.content = true;
    if (m[3].startsWith(`${SC.MESSAGE_CONTENTS}.`)) entry.contents = true;
    messages.set(id, entry);
  }
  for (const [id, e] of messages)
    if (e.content && e.contents) out.push(`${where}: ${id} has both message.content and message.contents`);
  for (const event of span.events || []) {
    for (const [key, { type }] of Object.entries(attributesOf(event.attributes))) {
      if (!EVENT_KEYS.has(key)) out.push(`${where}: event ${event.name}: ${key} is not an event attribute of the list`);
      else if (EVENT_KEYS.get(key) !== type) out.push(`${where}: event ${event.name}: ${key} is ${type}`);
    }
  }
  const res = attributesOf(resource && resource.attributes);
  if (!res[SEMRESATTRS_PROJECT_NAME] || res[SEMRESATTRS_PROJECT_NAME].type !== STRING)
    out.push(`${where}: resource has no ${SEMRESATTRS_PROJECT_NAME}`);
  return out;
}

// ---------------------------------------------------------------------------

describe('conformance of what the real OpenCode run sends', () => {
  test('prerequisites: OpenCode binary and native core', () => assert.equal(prerequisite, null, prerequisite));
  if (prerequisite) return;

  let receiver,
    model,
    oc,
    packed,
    decoded = [],
    Request;
  const runs = [];
  // Four sessions: everything logged, a small input-messages budget; tool details, content and
  // prompts redacted; OpenInference's own masking (OPENINFERENCE_HIDE_INPUTS/_OUTPUTS); and a
  // turn OpenCode compacts on the way (its model call reports more than the context holds).
  // Each prompt comes with a text file and an image attached.
  const SESSIONS = {
    FULL: { ARIZE_MAX_INPUT_MESSAGES_BYTES: '1024' },
    REDACTED: { ARIZE_LOG_TOOL_DETAILS: 'false', ARIZE_LOG_TOOL_CONTENT: 'false', ARIZE_LOG_PROMPTS: 'false' },
    HIDDEN: { OPENINFERENCE_HIDE_INPUTS: 'true', OPENINFERENCE_HIDE_OUTPUTS: 'true' },
    COMPACT: {},
  };
  // a 2x2 PNG
  const PNG = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGP4z8DAAMIM/4EAAB/uBfsL2WiLAAAAAElFTkSuQmCC',
    'base64',
  );

  before(async () => {
    Request = loadRequestType();
    receiver = await startRawReceiver();
    model = await startModelServer();
    const steps = (marker) => [
      {
        reasoning: 'Look first.',
        text: 'Running a command.',
        tool: 'bash',
        args: { command: `echo ${marker}`, description: 'Echo' },
        usage: { prompt: 120, cached: 20, completion: 30, reasoning: 5 },
      },
      {
        tools: [
          { tool: 'read', args: { filePath: path.join(oc.project, 'hello.txt') } },
          { tool: 'read', args: { filePath: path.join(oc.project, 'missing.txt') } },
        ],
      },
      { tool: 'no_such_tool', args: { x: 1 } }, // OpenCode answers with its `invalid` tool
      {
        tool: 'task',
        args: { description: 'Child task', prompt: `CHILD_${marker}: echo and report`, subagent_type: 'general' },
        child: [
          { tool: 'bash', args: { command: 'echo child', description: 'Echo child' } },
          { text: `Child ${marker} done.` },
        ],
      },
      { text: `All done for ${marker}.` },
    ];
    packed = h.packPackage();
    oc = h.makeOpenCodeHome({
      route: 'plugin-file',
      tarball: packed.tarball,
      modelURL: model.baseURL,
      receiverURL: receiver.url,
      files: { 'notes.txt': 'Remember: the build needs make.\n', 'pixel.png': PNG },
    });
    // a model that takes images, with a context a step can overflow
    const config = JSON.parse(fs.readFileSync(path.join(oc.project, 'opencode.json'), 'utf8'));
    Object.assign(config.provider.mock.models.scripted, {
      attachment: true,
      modalities: { input: ['text', 'image'], output: ['text'] },
      limit: { context: 8000, output: 1000 },
    });
    fs.writeFileSync(path.join(oc.project, 'opencode.json'), JSON.stringify(config, null, 2));
    const scripts = Object.fromEntries(Object.keys(SESSIONS).map((k) => [k, steps(k)]));
    scripts.COMPACT = [{ text: 'A long answer.', usage: { prompt: 7900, completion: 50 } }, { text: 'Continued.' }];
    model.play({ scripts });
    // The core of these sources: a source build when there is one (as test/helpers/run.js
    // does), else the bundled prebuild the tarball carries.
    const core = fs.existsSync(h.BUILT_ADDON) ? { ARIZE_TRACING_NATIVE: h.BUILT_ADDON } : {};
    for (const [marker, env] of Object.entries(SESSIONS)) {
      const r = await h.runOpenCode(
        oc,
        ['run', `${marker}: run the scripted tools`, '-f', 'notes.txt', '-f', 'pixel.png'],
        {
          timeoutMs: RUN_TIMEOUT_MS,
          env: { ...core, ...env },
        },
      );
      r.label = marker;
      runs.push(r);
    }
    // the runs flush at exit (dispose); give a late request a moment
    const turns = () =>
      receiver.bodies.flatMap((b) => decodeRequest(Request, b)).filter((x) => x.span.name === 'Turn').length;
    for (let waited = 0; turns() < 4 && waited < 15000; waited += 200) await new Promise((r) => setTimeout(r, 200));
    decoded = receiver.bodies.flatMap((b) => decodeRequest(Request, b));
  });
  after(async () => {
    if (receiver) await receiver.close();
    if (model) await model.close();
    if (oc) oc.remove();
    if (packed) fs.rmSync(packed.dir, { recursive: true, force: true });
  });

  test('the four runs finish and send every turn', () => {
    for (const r of runs)
      assert.equal(
        r.code,
        0,
        `${r.label} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}\n${r.stderr.slice(-2000)}`,
      );
    const turns = decoded.filter((x) => x.span.name === 'Turn');
    assert.equal(turns.length, 4, `Turn spans: ${turns.length} of ${decoded.length} spans`);
    for (const kind of ['CHAIN', 'LLM', 'TOOL', 'AGENT'])
      assert.ok(
        decoded.some((x) => attributesOf(x.span.attributes)[SC.OPENINFERENCE_SPAN_KIND]?.value === kind),
        `no ${kind} span`,
      );
  });

  test('every attribute key is an OpenInference convention or on the explicit allow-list, with its value type', () => {
    assert.ok(decoded.length > 0, 'nothing was decoded');
    const problems = [...new Set(decoded.flatMap(violations))];
    assert.deepEqual(problems, []);
  });

  test('the run holds every key of the list this file keeps, besides those of rare failures', () => {
    const emitted = new Set(decoded.flatMap((x) => Object.keys(attributesOf(x.span.attributes))));
    const general = (k) =>
      k.replace(/^(llm\.(input|output)_messages)\.\d+\./, '$1.N.').replace(/\.(contents|tool_calls)\.\d+\./, '.$1.N.');
    const shapes = new Set([...emitted].map(general));
    // a clamped clock, a provider's HTTP status, the query and url tools, a secret in the
    // content are not in this run; nor are a slash command, an edit or a todo list
    // (test/e2e/live.test.js drives those through the real OpenCode)
    const rare = new Set([
      'opencode.time.clamped',
      'http.response.status_code',
      'tool.query',
      'tool.url',
      'opencode.redactions',
      'opencode.turn.command',
      'opencode.turn.command.arguments',
      'opencode.turn.files_changed',
      'opencode.turn.lines_added',
      'opencode.turn.lines_removed',
      'opencode.turn.files',
      'opencode.turn.todos',
    ]);
    const missing = [...CUSTOM.keys()].filter((k) => !rare.has(k) && !emitted.has(k));
    assert.deepEqual(missing, [], 'keys of the list the real run never sent');
    for (const k of [
      SC.GRAPH_NODE_ID,
      SC.GRAPH_NODE_NAME,
      SC.GRAPH_NODE_PARENT_ID,
      'llm.input_messages.N.message.contents.N.message_content.image.image.url',
      'llm.input_messages.N.message.tool_calls.N.tool_call.function.arguments',
      'llm.output_messages.N.message.tool_calls.N.tool_call.function.name',
      SC.LLM_INVOCATION_PARAMETERS,
      `${SC.LLM_TOOLS}.0.${SC.TOOL_JSON_SCHEMA}`,
      SC.TOOL_DESCRIPTION,
    ])
      assert.ok(shapes.has(k), `${k} in the real run`);
  });

  test('the live signals of the real run: the system prompt first, the tools offered, the settings', () => {
    const own = (x) => attributesOf(x.span.attributes);
    // the runs went one after the other, in SESSIONS' order (a redacted prompt names no marker)
    const turns = decoded
      .filter((x) => x.span.name === 'Turn')
      .sort((a, b) => (BigInt(a.span.start_time_unix_nano) < BigInt(b.span.start_time_unix_nano) ? -1 : 1));
    const session = (marker) => {
      const turn = turns[Object.keys(SESSIONS).indexOf(marker)];
      assert.ok(turn, `the ${marker} turn`);
      return decoded.filter((x) => x.span.trace_id === turn.span.trace_id);
    };
    const llms = (spans) => spans.filter((x) => own(x)[SC.OPENINFERENCE_SPAN_KIND]?.value === 'LLM');
    const full = llms(session('FULL'));
    assert.ok(full.length > 0);
    full.sort((x, y) => (BigInt(x.span.start_time_unix_nano) < BigInt(y.span.start_time_unix_nano) ? -1 : 1));
    // the first call was given the prompt; later ones, past this run's small budget, the newest
    assert.equal(own(full[0])[`${SC.LLM_INPUT_MESSAGES}.1.${SC.MESSAGE_ROLE}`]?.value, 'user');
    for (const x of full) {
      const a = own(x);
      // the system prompt is message 0 (OpenCode's own, which names the working directory)
      assert.equal(a[`${SC.LLM_INPUT_MESSAGES}.0.${SC.MESSAGE_ROLE}`]?.value, 'system');
      assert.match(a[`${SC.LLM_INPUT_MESSAGES}.0.${SC.MESSAGE_CONTENT}`].value, /opencode|OpenCode/);
      assert.ok(['user', 'assistant', 'tool'].includes(a[`${SC.LLM_INPUT_MESSAGES}.1.${SC.MESSAGE_ROLE}`]?.value));
      const params = JSON.parse(a[SC.LLM_INVOCATION_PARAMETERS].value);
      assert.equal(typeof params, 'object');
      const tools = Object.keys(a)
        .filter((k) => LLM_TOOLS_RE.test(k))
        .map((k) => JSON.parse(a[k].value).function.name);
      if (JSON.parse(a[SC.METADATA].value).agent === 'general') assert.ok(tools.includes('bash'), tools.join());
      else assert.ok(tools.includes('bash') && tools.includes('task'), tools.join());
      assert.equal(a['opencode.llm.retries'].value, '0');
    }
    // a tool's description is its definition's, never OpenCode's title of the call
    for (const x of session('FULL').filter((y) => own(y)[SC.OPENINFERENCE_SPAN_KIND]?.value === 'TOOL')) {
      const a = own(x);
      if (a[SC.TOOL_NAME].value === 'no_such_tool') continue; // no definition
      assert.ok(a[SC.TOOL_DESCRIPTION]?.value.length > 40, `${a[SC.TOOL_NAME].value}: tool.description`);
      assert.notEqual(a[SC.TOOL_DESCRIPTION].value, a['opencode.tool.title']?.value);
    }
    // prompts off: the system prompt is a prompt; the tools and settings are definitions
    for (const x of llms(session('REDACTED'))) {
      const a = own(x);
      assert.equal(a[`${SC.LLM_INPUT_MESSAGES}.0.${SC.MESSAGE_ROLE}`]?.value, 'system');
      assert.match(a[`${SC.LLM_INPUT_MESSAGES}.0.${SC.MESSAGE_CONTENT}`].value, /^<redacted/);
      assert.ok(a[SC.LLM_INVOCATION_PARAMETERS] && a[`${SC.LLM_TOOLS}.0.${SC.TOOL_JSON_SCHEMA}`]);
    }
    // OPENINFERENCE_HIDE_INPUTS: no input messages, no tools
    for (const x of llms(session('HIDDEN')))
      assert.ok(
        !Object.keys(own(x)).some((k) => k.startsWith(`${SC.LLM_TOOLS}.`) || k.startsWith(`${SC.LLM_INPUT_MESSAGES}.`)),
      );
  });

  test("the Turn's context from the real OpenCode: version, title, number, directory, git", () => {
    for (const x of decoded.filter((y) => y.span.name === 'Turn')) {
      const meta = JSON.parse(attributesOf(x.span.attributes)[SC.METADATA].value);
      assert.equal(meta.opencode_version, h.OPENCODE_VERSION);
      assert.equal(typeof meta.session_title, 'string');
      assert.equal(meta.turn_number, 1);
      assert.equal(meta.cwd, oc.project);
      assert.match(meta.git.commit, /^[0-9a-f]{40}$/);
      assert.equal(typeof meta.git.branch, 'string');
      assert.equal(meta.host, os.hostname());
      const res = attributesOf(x.resource.attributes);
      assert.equal(res['service.version'].value, h.OPENCODE_VERSION);
      assert.equal(res['host.name'].value, os.hostname());
    }
  });

  test('redacted values keep JSON types honest, and masked ones drop their mime type', () => {
    const attrs = decoded.map((x) => attributesOf(x.span.attributes));
    const redacted = attrs.filter((a) => String(a[SC.INPUT_VALUE]?.value).startsWith('<redacted'));
    assert.ok(redacted.length > 0, 'the REDACTED session sent no redacted input.value');
    for (const a of redacted) assert.equal(a[SC.INPUT_MIME_TYPE]?.value, MimeType.TEXT);
    const hidden = attrs.filter((a) => a[SC.INPUT_VALUE]?.value === '__REDACTED__');
    assert.ok(hidden.length > 0, 'the HIDDEN session sent no masked input.value');
    for (const a of hidden) assert.equal(a[SC.INPUT_MIME_TYPE], undefined);
  });
});
