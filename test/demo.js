'use strict';
// `npm run demo`: the real OpenCode with this plugin on a scripted two-turn session, traced
// into a local OTLP receiver and printed as a tree. No Arize account, no network: OpenCode, the
// scripted model and the receiver all talk over 127.0.0.1, in a temporary HOME.
//
//   npm run demo        (installs what is missing first; --keep leaves the temp HOME in place)

// `node --test` picks up files under test/: run as one, this is not a test (a test may require it)
if (process.env.NODE_TEST_CONTEXT && require.main === module) return;

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const KEEP = process.argv.includes('--keep');
const h = require('./e2e/harness.js');

const BUILD_HELP = `The native core needs, to build from source: a C compiler, make, python3, pkg-config and
the development files of libcurl, jansson, libyaml, protobuf-c and zlib, e.g. on Debian/Ubuntu:
  apt-get install build-essential python3 pkg-config libcurl4-openssl-dev libjansson-dev libyaml-dev libprotobuf-c-dev zlib1g-dev
then run:
  npm run build
and again:
  npm run demo`;

function fail(message) {
  process.stderr.write(`\ndemo: ${message}\n`);
  process.exit(1);
}

// OpenCode comes from the pinned devDependency; the native core from `npm run build`.
function ensurePrerequisites() {
  let missing = h.missingPrerequisite();
  if (missing && missing.includes('OpenCode'))
    fail(`${missing}\n(opencode-ai is a pinned devDependency of this package; \`npm ci\` installs it)`);
  if (missing) {
    process.stdout.write(`The native core is not built yet; running \`npm run build\` ...\n`);
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    missing = h.missingPrerequisite();
    if (built.status !== 0 || missing) fail(`\`npm run build\` did not produce the native core.\n\n${BUILD_HELP}`);
  }
}

// What the demo says last: how to trace your own sessions (test/cli.test.js runs each command as printed).
const NEXT_STEPS = `Every span above is what Arize AX (or Phoenix) would receive. To trace your own OpenCode
sessions:

  npx opencode-arize-tracing install    # asks: Arize AX, Phoenix or any OTLP endpoint; your keys
  npx opencode-arize-tracing doctor     # checks every link, up to a test span your backend accepted

then run OpenCode as usual. Or without questions, the keys taken from the environment:

  export ARIZE_API_KEY=<your API key>  ARIZE_SPACE_ID=<your space id>
  npx opencode-arize-tracing install --yes --backend arize

Phoenix instead: npx opencode-arize-tracing install --yes --backend phoenix --endpoint http://localhost:6006
The plugin logs to ~/.arize/harness/logs/opencode.log; every setting: docs/settings.md.
`;

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

// Two turns of one session: tools (parallel, failing), reasoning, a subagent with its own tools.
function demoScript(P) {
  return [
    // turn 1
    {
      reasoning: 'I should see what is in the project before writing anything.',
      text: 'Let me look at the project first.',
      tools: [
        { tool: 'bash', args: { command: 'git log --oneline | head -5', description: 'Show recent commits' } },
        { tool: 'read', args: { filePath: P('hello.txt') } },
      ],
      usage: { prompt: 2400, cached: 0, completion: 85, reasoning: 22 },
    },
    {
      text: 'Writing the notes.',
      tool: 'write',
      args: { filePath: P('NOTES.md'), content: '# Notes\n\n- hello.txt greets the reader.\n' },
      usage: { prompt: 2900, cached: 2400, completion: 60 },
    },
    {
      tool: 'task',
      args: {
        description: 'Review the notes',
        prompt: 'DEMO_REVIEW: check that NOTES.md describes hello.txt',
        subagent_type: 'general',
      },
      usage: { prompt: 3100, cached: 2900, completion: 48 },
      child: [
        {
          text: 'Reading both files.',
          tools: [
            { tool: 'read', args: { filePath: P('NOTES.md') } },
            { tool: 'bash', args: { command: 'wc -l hello.txt NOTES.md', description: 'Count lines' } },
          ],
          usage: { prompt: 1800, cached: 0, completion: 40 },
        },
        { text: 'NOTES.md describes hello.txt correctly.', usage: { prompt: 2100, cached: 1800, completion: 14 } },
      ],
    },
    {
      text: 'I wrote NOTES.md and a reviewer subagent confirmed it describes hello.txt.',
      usage: { prompt: 3300, cached: 3100, completion: 24 },
    },
    // turn 2 (opencode run --continue)
    {
      tool: 'read',
      args: { filePath: P('CHANGELOG.md') },
      usage: { prompt: 3500, cached: 3300, completion: 20 },
    },
    {
      tool: 'bash',
      args: { command: 'echo Added NOTES.md > CHANGELOG.md && cat CHANGELOG.md', description: 'Create the changelog' },
      usage: { prompt: 3650, cached: 3500, completion: 45 },
    },
    {
      text: 'There was no CHANGELOG.md, so I created one that mentions NOTES.md.',
      usage: { prompt: 3800, cached: 3650, completion: 18 },
    },
  ];
}

async function main() {
  ensurePrerequisites();
  const { startReceiver } = require('./receiver.js');
  const { startModelServer } = require('./model-server.js');

  process.stdout
    .write(`opencode-arize-tracing demo: the real OpenCode ${h.OPENCODE_VERSION} with the plugin, a scripted model and a
local OTLP receiver, all on 127.0.0.1 in a temporary HOME. No account and no network needed.\n\n`);

  let t = Date.now();
  const pkg = h.packPackage();
  const receiver = await startReceiver();
  const model = await startModelServer();
  const oc = h.makeOpenCodeHome({
    route: 'plugin-file',
    tarball: pkg.tarball,
    modelURL: model.baseURL,
    receiverURL: receiver.url,
    keep: KEEP,
  });
  const P = (f) => path.join(oc.project, f);
  model.play({ script: demoScript(P), title: 'Notes for the demo project' });
  process.stdout.write(
    `  packed ${path.basename(pkg.tarball)} and installed it into ${oc.home}/.config/opencode (${seconds(Date.now() - t)})\n`,
  );
  process.stdout.write(`  OTLP receiver   ${receiver.tracesUrl}   (PHOENIX_ENDPOINT=${receiver.url})\n`);
  process.stdout.write(`  scripted model  ${model.baseURL}\n\n`);

  const turns = [
    ['run', 'Write NOTES.md for this project and have someone review it'],
    ['run', '--continue', 'Now add a changelog'],
  ];
  const runs = [];
  let exitCode = 0;
  try {
    for (const args of turns) {
      process.stdout.write(`  $ opencode ${args.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}\n`);
      t = Date.now();
      const r = await h.runOpenCode(oc, args, { timeoutMs: 120000 });
      runs.push(r);
      const answer = r.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !/^>|^\u001b/.test(l))
        .pop();
      process.stdout.write(
        `    exit ${r.code}${r.timedOut ? ' (timed out)' : ''} after ${seconds(r.ms)}${answer ? `: ${answer}` : ''}\n`,
      );
      if (r.code !== 0) {
        process.stdout.write(`\nOpenCode failed; the end of its output:\n${r.stderr.slice(-3000)}\n`);
        exitCode = 1;
        break;
      }
    }

    // `opencode run` flushes at exit; wait until both turns are in and nothing more arrives.
    const session = [...model.conversations.values()].find((c) => c.label === 'main')?.key;
    let spans;
    try {
      spans = await h.settle(receiver, (s) => h.turnsOf(s, session).length >= runs.length, { timeoutMs: 10000 });
    } catch {
      spans = receiver.spans();
      exitCode = 1;
    }
    const traces = new Set(h.uniqueSpans(spans).map((s) => s.traceId));
    process.stdout.write(
      `\nReceived ${h.uniqueSpans(spans).length} spans in ${traces.size} trace(s), one per turn:\n\n`,
    );
    const turnSpans = h
      .uniqueSpans(spans)
      .filter(h.isTurn)
      .sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
    for (const [i, turn] of turnSpans.entries()) {
      const prompt = String(turn.attributes['input.value'] ?? '').replace(/^"|"$/g, '');
      process.stdout.write(`trace ${turn.traceId}  (turn ${i + 1}: ${JSON.stringify(prompt)})\n`);
      // the context the Turn carries (its metadata): what a reader sees beside the tree
      const meta = JSON.parse(turn.attributes.metadata || '{}');
      const git = meta.git ? `${meta.git.branch ?? 'detached'}@${String(meta.git.commit ?? '').slice(0, 8)}` : 'no git';
      process.stdout.write(
        `  turn ${meta.turn_number ?? '?'} of "${meta.session_title ?? ''}" in ${meta.cwd ?? '?'} (${git}), OpenCode ${meta.opencode_version ?? '?'} on ${meta.host ?? '?'}\n`,
      );
      process.stdout.write(
        h.formatTree(
          spans.filter((s) => s.traceId === turn.traceId),
          { indent: '  ' },
        ) + '\n\n',
      );
    }
    const loose = spans.filter((s) => !turnSpans.some((t) => t.traceId === s.traceId));
    if (loose.length) process.stdout.write(`spans outside any turn:\n${h.formatTree(loose, { indent: '  ' })}\n\n`);
    if (!turnSpans.length) {
      exitCode = 1;
      const log = h.tracingLog(oc);
      process.stdout.write(
        `No traces arrived.${log ? `\nThe plugin's log (${oc.home}/.arize/harness/logs/opencode.log):\n${log.slice(-3000)}` : ''}\n`,
      );
    }
  } finally {
    await receiver.close();
    await model.close();
    oc.remove();
    fs.rmSync(pkg.dir, { recursive: true, force: true });
  }

  process.stdout.write(`${NEXT_STEPS}${KEEP ? `\nThe demo's HOME was kept: ${oc.base}\n` : ''}`);
  process.exit(exitCode);
}

if (require.main === module) main().catch((error) => fail(error && error.stack ? error.stack : String(error)));

module.exports = { NEXT_STEPS };
