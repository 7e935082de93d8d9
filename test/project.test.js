'use strict';
// Per-project settings (issue 27): a project's .opencode/arize-tracing.yaml, found from the
// OpenCode session's directory, read over the user's ~/.arize/harness/config.yaml. Real files,
// a real receiver on 127.0.0.1, each scenario in a fresh process of the runtime running this
// file (`node --test`: Node, `bun test`: Bun); status through the real CLI.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startReceiver } = require('./receiver.js');
const { ROOT, tempHome, cleanEnv, run, readLog } = require('./helpers/run.js');
const { payload } = require('./helpers/fixtures.js');

const CAPTURE = 'main-run/snapshots/009-session-idle-ses_df4ec26e5ffeUa8cOB7B533OYC.json';

// A user's home with config.yaml, and a project (a git checkout) whose .opencode holds `project`
// (text; null: no file). The session works in a subdirectory of the project.
function setup(user, project, name = 'arize-tracing.yaml') {
  const home = tempHome();
  fs.mkdirSync(path.join(home, '.arize', 'harness'), { recursive: true });
  fs.writeFileSync(path.join(home, '.arize', 'harness', 'config.yaml'), user, { mode: 0o600 });
  const dir = fs.mkdtempSync(path.join(home, 'checkout-'));
  fs.mkdirSync(path.join(dir, '.git'));
  fs.mkdirSync(path.join(dir, '.opencode'));
  fs.mkdirSync(path.join(dir, 'src', 'app'), { recursive: true });
  if (project !== null) fs.writeFileSync(path.join(dir, '.opencode', name), project, { mode: 0o600 });
  return { home, dir, file: path.join(dir, '.opencode', name), workdir: path.join(dir, 'src', 'app') };
}

// The shared capture, working in `directory`, with a read whose output holds both codes.
function session(directory) {
  const p = payload(CAPTURE);
  const part = p.messages.flatMap((m) => m.parts).find((x) => x.tool === 'read' && x.state.status === 'completed');
  part.state.output = 'ticket USR-1234 and ticket PRJ-5678 are both open';
  p.context = { directory };
  return p;
}

function promptText(p) {
  const user = p.messages.find((m) => (m.info || m).role === 'user');
  return user.parts.find((x) => x.type === 'text').text;
}

async function traced(setupResult, env = {}, receiver) {
  const own = !receiver;
  receiver = receiver || (await startReceiver());
  try {
    const p = session(setupResult.workdir);
    const out = await run(
      'api-scenario.js',
      { steps: [{ payload: p }, { flush: 10000 }, { status: true }] },
      cleanEnv({ HOME: setupResult.home, ...env }),
    );
    return { out, spans: receiver.spans(), requests: receiver.requests, prompt: promptText(p) };
  } finally {
    if (own) await receiver.close();
  }
}

function cli(args, home, env = {}) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'lib', 'cli.js'), ...args], {
    env: cleanEnv({ HOME: home, ...env }),
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const userFile = (url) => `harnesses:
  opencode:
    project_name: my-traces
    target: phoenix
    endpoint: ${url}
    attributes:
      team: platform
      env: dev
redact:
  patterns: ["USR-[0-9]{4}"]
`;

test("a project's file is read over the user's: its project, attributes, redaction and logging apply, nothing of the user's is lost", async () => {
  const receiver = await startReceiver();
  try {
    const s = setup(
      userFile(receiver.url),
      `project_name: checkout-service
attributes:
  env: prod
  repo: checkout
logging:
  prompts: false
redact:
  patterns: ["PRJ-[0-9]{4}"]
`,
    );
    const { out, spans, prompt } = await traced(s, {}, receiver);
    assert.ok(out.steps[0].reconcile.spans > 0, JSON.stringify(out.steps[0]));
    assert.equal(out.steps[1].flush.pending, 0);
    assert.ok(spans.length > 0);
    for (const span of spans) {
      assert.equal(span.attributes['arize.project.name'], 'checkout-service', span.name);
      assert.equal(span.attributes.repo, 'checkout', 'the project adds its attribute');
      assert.equal(span.attributes.env, 'prod', 'the project wins on the same name');
      assert.equal(span.attributes.team, 'platform', "the user's attribute stays");
    }
    const read = spans.find((x) => x.name === 'read');
    assert.equal(
      read.attributes['output.value'],
      'ticket <redacted:user-rule> and ticket <redacted:user-rule> are both open',
      "the user's rule and the project's both apply",
    );
    const all = JSON.stringify(spans.map((x) => x.attributes));
    assert.ok(!all.includes(prompt), 'logging.prompts: false from the project hides the prompt');
    // status says which file each setting came from
    const st = out.steps[2].status;
    assert.equal(st.project.path, s.file);
    assert.equal(st.sources.project_name, s.file);
    assert.equal(st.sources.endpoint, path.join(s.home, '.arize', 'harness', 'config.yaml'));
    assert.equal(st.sources['redact.patterns'], `${s.file} + ${path.join(s.home, '.arize', 'harness', 'config.yaml')}`);
    // the CLI, from the project's directory
    const r = cli(['status', '--project-dir', s.workdir], s.home);
    assert.match(r.stdout, /project: +.*arize-tracing\.yaml \(read over ~\/\.arize\/harness\/config\.yaml\)/);
    assert.match(r.stdout, /project_name +.*\.opencode\/arize-tracing\.yaml/);
    assert.match(r.stdout, /backend: +phoenix .* project "checkout-service"/);
  } finally {
    await receiver.close();
  }
});

test('a credential in a project file is ignored (one log line says why) unless the user allows it', async () => {
  const secret = 'prj-secret-0123456789abcdef';
  const project = `project_name: from-project
api_key: ${secret}
`;
  const s = setup(userFile('http://127.0.0.1:1'), project);
  const receiver = await startReceiver();
  try {
    fs.writeFileSync(
      path.join(s.home, '.arize', 'harness', 'config.yaml'),
      userFile(receiver.url).replace(
        'project_name: my-traces',
        'project_name: my-traces\n    api_key: user-phoenix-key-0001',
      ),
      { mode: 0o600 },
    );
    const { spans, requests } = await traced(s, {}, receiver);
    assert.ok(spans.length > 0);
    assert.equal(spans[0].attributes['arize.project.name'], 'from-project', 'the rest of the project file applies');
    for (const r of requests) {
      assert.ok(!JSON.stringify(r.headers).includes(secret), "the project's key is never sent");
      assert.equal(r.headers.authorization, 'Bearer user-phoenix-key-0001', "the user's key is");
    }
    const log = readLog(s.home);
    const lines = log.split('\n').filter((l) => l.includes('`api_key` ignored'));
    assert.equal(lines.length, 1, log);
    assert.match(lines[0], /project_credentials: true/);
    assert.ok(!log.includes(secret), 'the key never reaches the log');
  } finally {
    await receiver.close();
  }
  // the user's file says a project's credentials may be used (a fresh home: the first run's
  // spans are recorded as sent in the other)
  const receiver2 = await startReceiver();
  try {
    const s2 = setup(
      userFile(receiver2.url).replace(
        'project_name: my-traces',
        'project_name: my-traces\n    project_credentials: true',
      ),
      project,
    );
    const { requests } = await traced(s2, {}, receiver2);
    assert.ok(requests.length > 0);
    assert.equal(requests[0].headers.authorization, `Bearer ${secret}`);
  } finally {
    await receiver2.close();
  }
});

test("an endpoint a project file names gets none of the user's credentials", async () => {
  const mine = await startReceiver();
  const theirs = await startReceiver();
  try {
    const user = `harnesses:
  opencode:
    target: otlp
    endpoint: ${mine.url}
    headers:
      authorization: "Bearer user-token-0123456789"
`;
    const s = setup(user, `target: otlp\nendpoint: ${theirs.url}\n`);
    const { out } = await traced(s, {}, theirs);
    assert.equal(out.steps[1].flush.pending, 0);
    assert.ok(theirs.requests.length > 0, 'the project chose where its traces go');
    for (const r of theirs.requests) assert.equal(r.headers.authorization, undefined, JSON.stringify(r.headers));
    assert.equal(mine.requests.length, 0);
    assert.match(readLog(s.home), /the project names the endpoint, so your credentials are not sent to it/);
  } finally {
    await mine.close();
    await theirs.close();
  }
});

test("a broken project file is named (status exits 2, one log line) and the user's settings still apply", async () => {
  const receiver = await startReceiver();
  try {
    const s = setup(userFile(receiver.url), 'project_name: [checkout\nattributes: {repo: x}\n');
    const { spans, out } = await traced(s, {}, receiver);
    assert.ok(spans.length > 0, 'spans still go');
    for (const span of spans) {
      assert.equal(span.attributes['arize.project.name'], 'my-traces');
      assert.equal(span.attributes.team, 'platform');
      assert.equal(span.attributes.repo, undefined);
    }
    assert.equal(
      spans.find((x) => x.name === 'read').attributes['output.value'],
      'ticket <redacted:user-rule> and ticket PRJ-5678 are both open',
    );
    assert.equal(out.steps[2].status.project.broken, true);
    const lines = readLog(s.home)
      .split('\n')
      .filter((l) => l.includes(s.file));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /line \d+: .*nothing of the project file is used/);
    const r = cli(['status', '--project-dir', s.workdir], s.home);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /broken-project-config: the project's settings file is broken \(line \d+/);
    assert.ok(r.stdout.includes(s.file.replace(s.home, '~')), r.stdout);
  } finally {
    await receiver.close();
  }
});

test('a project file in JSON works the same; project_files: false turns them off', async () => {
  const receiver = await startReceiver();
  try {
    const s = setup(userFile(receiver.url), JSON.stringify({ project_name: 'json-project' }), 'arize-tracing.json');
    const a = await traced(s, {}, receiver);
    assert.equal(a.spans[0].attributes['arize.project.name'], 'json-project');
    const r = cli(['status', '--json', '--project-dir', s.dir], s.home, { ARIZE_PROJECT_FILES: 'false' });
    const st = JSON.parse(r.stdout);
    assert.equal(st.backend.project, 'my-traces');
    assert.equal(st.project.files, false);
  } finally {
    await receiver.close();
  }
});
