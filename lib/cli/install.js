'use strict';
// `install`: choose a backend and credentials, write them to the harnesses.opencode block of
// ~/.arize/harness/config.yaml, register the plugin with OpenCode.
//
// Re-running it changes only what it is asked to change: each setting comes from a flag, then
// the environment, then what the file already holds for the same backend, then (in a
// terminal) a prompt; only keys whose value differs are rewritten, in place. Changing the
// region alone never asks for the key and space id again.
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const binary = require('../binary.js');
const c = require('./common.js');
const cfg = require('./config-file.js');
const reg = require('./registration.js');

const { UsageError, REGIONS } = c;
const { isHeaderName, orList, TARGETS } = require('../settings.js');

// Questions on the terminal. Lines typed ahead (or pasted at once) wait in a queue for the
// next question; a secret is not echoed, like a password prompt. An answer `check` refuses is
// asked again (with why); the end of the input stops install rather than asking forever.
function prompter() {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  rl.setPrompt('');
  const queued = [];
  const waiting = [];
  let muted = false,
    closed = false;
  const write = rl._writeToOutput.bind(rl);
  rl._writeToOutput = (text) => {
    if (!muted) write(text);
  };
  rl.on('line', (line) => (waiting.length ? waiting.shift()(line) : queued.push(line)));
  rl.on('close', () => {
    closed = true;
    while (waiting.length) waiting.shift()(null);
  });
  const line = () =>
    new Promise((resolve) => {
      if (queued.length) resolve(queued.shift());
      else if (closed) resolve(null);
      else waiting.push(resolve);
    });
  return {
    /**
     * question [shown default]: answer. Enter takes the fallback (a secret's is shown masked);
     * `clear` (for an optional value) is what `-` answers. check(answer) returns why it is
     * refused, or ''.
     */
    async ask(question, { secret = false, fallback = '', shown, check = () => '', clearable = false } = {}) {
      for (;;) {
        const hint = shown !== undefined ? shown : fallback;
        process.stdout.write(`${question}${hint ? ` [${hint}]` : ''}: `);
        muted = secret;
        const got = await line();
        if (muted) process.stdout.write('\n');
        muted = false;
        if (got === null) throw new UsageError(`no answer to "${question}": install stopped, nothing was changed`);
        const answer = clearable && got.trim() === '-' ? '' : got.trim() || fallback;
        const why = check(answer);
        if (!why) return answer;
        process.stdout.write(`  ${why}; try again\n`);
      }
    },
    close: () => rl.close(),
  };
}

// A secret's default as a prompt shows it: never its characters.
const masked = (value, from) => (value ? `${from}: ${'*'.repeat(8)}, Enter keeps it` : undefined);

// The backend a stored block is for: its target, or Arize AX when it holds both credentials,
// or Phoenix for an endpoint alone (the core's own inference).
function storedBackend(stored) {
  if (!stored) return '';
  if (TARGETS.includes(stored.target)) return stored.target;
  if (stored.api_key && stored.space_id) return 'arize';
  return stored.endpoint ? 'phoenix' : '';
}

/**
 * Why an endpoint is refused, or '': an http:// or https:// URL with a host, or (as the core
 * takes it) a bare host:port, which gets the backend's scheme.
 */
function endpointProblem(value) {
  const text = String(value || '').trim();
  if (!text) return 'an endpoint is needed';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (scheme && !/^https?$/i.test(scheme[1])) return `${text} is not an http:// or https:// URL`;
  let url;
  try {
    url = new URL(scheme ? text : `http://${text}`);
  } catch {
    return `${text} is not a URL (http://host:port or https://host/path)`;
  }
  if (!url.hostname) return `${text} has no host`;
  if (!scheme && !/^[^/]+:\d+(\/|$)/.test(text))
    return `${text} is not a URL: write it with http:// or https:// (or as host:port)`;
  return '';
}

function parseHeaders(list, encoded) {
  const out = [];
  for (const h of list.filter((x) => x.trim())) {
    const [name, value] = h.split(/=(.*)/s);
    if (!name || value === undefined || !isHeaderName(name.trim()) || /[\x00-\x1f\x7f]/.test(value))
      throw new UsageError('a header is name=value (a header name, a printable value)');
    let v = value.trim();
    if (encoded) {
      try {
        v = decodeURIComponent(v);
      } catch {
        throw new UsageError('OTEL_EXPORTER_OTLP_HEADERS has a broken %-escape');
      }
    }
    out.push([name.trim(), v]);
  }
  return out;
}

const BACKEND_CHOICES = { 1: 'arize', 2: 'phoenix', 3: 'otlp', arize: 'arize', phoenix: 'phoenix', otlp: 'otlp' };

/**
 * The settings to write, from flags, the environment, the stored block and prompts:
 * {backend, values: {key: value}} (values for the managed keys; null removes one), or null
 * when nothing names a backend and nothing can be asked.
 *
 * Without a terminal (or with --yes) each setting comes from its flag, else the environment,
 * else the stored block, else its default. In a terminal, a bare `install` asks every setting
 * with that value as the default (secrets masked), so running it again changes any of them;
 * with settings given as flags it asks only what is still missing. A wrong answer is asked
 * again.
 */
async function gatherSettings(flags, stored, env = process.env) {
  const kept = storedBackend(stored);
  const inferred =
    flags.backend ||
    (flags.spaceId ? 'arize' : '') ||
    (env.PHOENIX_ENDPOINT
      ? 'phoenix'
      : env.ARIZE_API_KEY && env.ARIZE_SPACE_ID
        ? 'arize'
        : env.OTEL_EXPORTER_OTLP_ENDPOINT
          ? 'otlp'
          : '') ||
    kept;
  const interactive = !flags.yes && process.stdin.isTTY && process.stdout.isTTY;
  const rl = interactive ? prompter() : null;
  const flagProblem = (flag, why) => new UsageError(`${flag}: ${why}`);
  try {
    if (flags.endpoint && endpointProblem(flags.endpoint))
      throw flagProblem('--endpoint', endpointProblem(flags.endpoint));
    // In a terminal, a bare `install` walks through every setting (to change any of them);
    // with settings on the command line, only what is still missing is asked.
    const given = ['backend', 'region', 'apiKey', 'spaceId', 'endpoint', 'projectName'].some((k) => flags[k]);
    const walk = rl && !given && !flags.headers.length;
    let backend = inferred;
    if (rl && (walk || !backend)) {
      const current = { arize: '1', phoenix: '2', otlp: '3' }[inferred] || '1';
      const pick = await rl.ask('Backend: 1) Arize AX  2) Phoenix  3) another OTLP endpoint', {
        fallback: current,
        check: (a) => (BACKEND_CHOICES[a.toLowerCase()] ? '' : `${a} is not 1, 2 or 3`),
      });
      backend = BACKEND_CHOICES[pick.toLowerCase()];
    }
    if (!backend) return null;
    if (!TARGETS.includes(backend)) throw new UsageError(`--backend is ${orList(TARGETS)}, not ${backend}`);
    // What the file holds counts only for the backend it was written for.
    const old = backend === kept ? stored : {};
    // A value: the flag's as given; else, in a terminal, asked with the environment's or the
    // stored one as its default; else that value.
    const value = async (flag, current, question, opts = {}) => {
      if (flag) return flag;
      if (!rl || (!walk && current)) return current || '';
      const from = opts.secret ? masked(current, opts.from || 'stored') : undefined;
      return rl.ask(question, { ...opts, fallback: current || opts.fallback || '', shown: from });
    };
    const v = { target: backend };
    if (backend === 'arize') {
      const regionCheck = (a) => (!a || REGIONS.includes(a.toLowerCase()) ? '' : `${a} is not ${orList(REGIONS)}`);
      if (flags.region && regionCheck(flags.region))
        throw flagProblem('--region', `${flags.region} is not ${orList(REGIONS)}`);
      const customEndpoint = flags.endpoint || old.endpoint;
      const region = customEndpoint
        ? flags.region || env.ARIZE_REGION || old.region || ''
        : await value(flags.region, env.ARIZE_REGION || old.region, `Arize AX region (${REGIONS.join(', ')})`, {
            fallback: REGIONS[0],
            check: regionCheck,
          });
      if (region && regionCheck(region)) throw new UsageError(`ARIZE_REGION is ${orList(REGIONS)}, not ${region}`);
      v.region = region ? region.toLowerCase() : null;
      const required = (what) => (a) => (a ? '' : `${what} is needed`);
      v.api_key = await value(flags.apiKey, env.ARIZE_API_KEY || old.api_key, 'Arize API key (Settings > API Keys)', {
        secret: true,
        from: env.ARIZE_API_KEY ? 'ARIZE_API_KEY' : 'stored',
        check: required('the API key'),
      });
      v.space_id = await value(flags.spaceId, env.ARIZE_SPACE_ID || old.space_id, 'Arize space id (Settings)', {
        secret: true,
        from: env.ARIZE_SPACE_ID ? 'ARIZE_SPACE_ID' : 'stored',
        check: required('the space id'),
      });
      // A region given now means the region's endpoint: an older explicit endpoint would win over it.
      v.endpoint = flags.endpoint || (flags.region || env.ARIZE_REGION ? null : old.endpoint) || null;
      v.headers = null;
      if (!v.api_key || !v.space_id)
        throw new UsageError('Arize AX needs --api-key and --space-id (or ARIZE_API_KEY and ARIZE_SPACE_ID)');
    } else if (backend === 'phoenix') {
      v.endpoint = await value(flags.endpoint, env.PHOENIX_ENDPOINT || old.endpoint, 'Phoenix endpoint', {
        fallback: 'http://localhost:6006',
        check: endpointProblem,
      });
      if (!v.endpoint) throw new UsageError('Phoenix needs --endpoint (or PHOENIX_ENDPOINT)');
      if (endpointProblem(v.endpoint)) throw new UsageError(`the Phoenix endpoint: ${endpointProblem(v.endpoint)}`);
      v.api_key =
        (await value(
          flags.apiKey,
          env.PHOENIX_API_KEY || old.api_key,
          `Phoenix API key (${env.PHOENIX_API_KEY || old.api_key ? '- for none' : 'empty for none'})`,
          { secret: true, from: env.PHOENIX_API_KEY ? 'PHOENIX_API_KEY' : 'stored', clearable: true },
        )) || null;
      v.region = null;
      v.space_id = null;
      v.headers = null;
    } else {
      v.endpoint = await value(
        flags.endpoint,
        env.OTEL_EXPORTER_OTLP_ENDPOINT || old.endpoint,
        'OTLP/HTTP endpoint (base URL or .../v1/traces)',
        { check: endpointProblem },
      );
      if (!v.endpoint) throw new UsageError('an OTLP backend needs --endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT)');
      if (endpointProblem(v.endpoint)) throw new UsageError(`the OTLP endpoint: ${endpointProblem(v.endpoint)}`);
      // --header values are taken as typed; OTEL_EXPORTER_OTLP_HEADERS is %-encoded (OTel spec).
      let headers = null;
      if (flags.headers.length) headers = parseHeaders(flags.headers, false);
      else {
        const current = env.OTEL_EXPORTER_OTLP_HEADERS
          ? parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS.split(','), true)
          : old.headers || null;
        if (rl && (walk || !current)) {
          const typed = await rl.ask(
            `Headers, name=value[,name=value] (${current ? '- for none' : 'empty for none'})`,
            {
              secret: true,
              shown: current
                ? masked(true, env.OTEL_EXPORTER_OTLP_HEADERS ? 'OTEL_EXPORTER_OTLP_HEADERS' : 'stored')
                : undefined,
              fallback: current ? '\0keep' : '',
              clearable: true,
              check: (a) => {
                if (a === '\0keep' || !a) return '';
                try {
                  parseHeaders(a.split(','), false);
                  return '';
                } catch (error) {
                  return error.message;
                }
              },
            },
          );
          headers = typed === '\0keep' ? current : typed ? parseHeaders(typed.split(','), false) : null;
        } else headers = current;
      }
      v.headers = headers && headers.length ? headers : null;
      v.region = null;
      v.space_id = null;
      v.api_key = null;
    }
    v.project_name = await value(
      flags.projectName,
      env.ARIZE_PROJECT_NAME || (stored && stored.project_name),
      'Project name',
      { fallback: 'opencode' },
    );
    v.project_name = v.project_name || 'opencode';
    return { backend, values: v };
  } finally {
    if (rl) rl.close();
  }
}

// Only the keys whose value differs from the stored one: a key left out stays as it is.
function changesFrom(values, stored) {
  const changes = {};
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  for (const key of cfg.KEYS) {
    if (values[key] === undefined) continue;
    if (!same(values[key], stored ? stored[key] : undefined)) changes[key] = values[key];
  }
  return changes;
}

const BACKEND_NAMES = { arize: 'Arize AX', phoenix: 'Phoenix', otlp: 'the OTLP backend' };

const DESTINATION_NAME = /^[A-Za-z0-9._-]{1,40}$/;

/**
 * `install --add-destination NAME`: one more backend in harnesses.opencode.destinations, beside
 * the one the single-backend keys name (which stays as it is). Its settings come from the flags
 * or prompts, never the environment (the environment's variables are the first destination's).
 * Nothing secret is echoed.
 */
async function addDestination(flags) {
  const say = (line) => console.log(line);
  const name = flags.addDestination;
  if (!DESTINATION_NAME.test(name) || name === 'default')
    throw new UsageError(
      `--add-destination: a name of 1 to 40 letters, digits, '.', '_' or '-' (not "default", the first destination's), not ${JSON.stringify(name)}`,
    );
  const refused = cfg.refuseToEdit();
  if (refused) throw refused;
  if (cfg.destinationNames().includes(name))
    throw new UsageError(
      `a destination named ${name} is already in ${c.tilde(c.configPath())}: edit it there, or choose another name`,
    );
  // Without --project-name it lands in the first destination's project (the entry then has no
  // project_name, so it follows that one): the default offered is that project, not "opencode".
  const stored = cfg.readStored();
  const inherited = (stored && stored.project_name) || 'opencode';
  const settings = await gatherSettings({ ...flags, projectName: flags.projectName }, { project_name: inherited }, {});
  if (!settings)
    throw new UsageError('--add-destination needs --backend and its settings (see --help), or a terminal to ask them');
  const v = settings.values;
  const entry = { name, target: settings.backend };
  for (const k of ['endpoint', 'region', 'api_key', 'space_id', 'headers', 'project_name'])
    if (v[k] !== null && v[k] !== undefined && v[k] !== '') entry[k] = v[k];
  if (flags.projectName === undefined && entry.project_name === inherited) delete entry.project_name;
  const { file } = cfg.appendDestination(entry);
  const where =
    settings.backend === 'arize'
      ? `Arize AX${v.endpoint ? ` at ${v.endpoint}` : ` (${v.region || 'us'})`}`
      : `${settings.backend === 'phoenix' ? 'Phoenix' : 'OTLP'} at ${v.endpoint}`;
  say(
    `config:  ${c.tilde(file)} (harnesses.opencode.destinations: added ${name}, ${where}, project "${v.project_name}"; mode 0600)`,
  );
  say(`next:    run \`${c.selfCommand()} doctor\` to check every destination's link`);
}

async function install(flags) {
  if (flags.addDestination !== undefined) return addDestination(flags);
  const say = (line) => console.log(line);
  // Before any question: a file install cannot read is not edited (nor asked about).
  const refused = cfg.refuseToEdit();
  if (refused) throw refused;
  const stored = cfg.readStored();
  const settings = await gatherSettings(flags, stored);
  if (settings) {
    const changes = changesFrom(settings.values, stored);
    const { file, changed } = cfg.writeConfig(changes);
    const v = settings.values;
    const where =
      settings.backend === 'arize'
        ? `Arize AX${v.endpoint ? ` at ${v.endpoint}` : ` (${v.region || 'us'})`}`
        : `${settings.backend === 'phoenix' ? 'Phoenix' : 'OTLP'} at ${v.endpoint}`;
    const has = (k) => Boolean(stored && stored[k] !== undefined);
    const added = Object.keys(changes).filter((k) => changes[k] !== null && !has(k));
    const altered = Object.keys(changes).filter((k) => changes[k] !== null && has(k));
    const removed = Object.keys(changes).filter((k) => changes[k] === null && has(k));
    const was = storedBackend(stored);
    const what = changed
      ? [
          added.length ? `added ${added.join(', ')}` : '',
          altered.length ? `changed ${altered.join(', ')}` : '',
          removed.length
            ? `removed ${removed.join(', ')}${was && was !== settings.backend ? ` (they were for ${BACKEND_NAMES[was]})` : ''}`
            : '',
        ]
          .filter(Boolean)
          .join('; ') + '; mode 0600'
      : 'unchanged';
    say(`config:  ${c.tilde(file)} (harnesses.opencode: ${where}, project "${v.project_name}"; ${what})`);
  } else {
    throw new UsageError(
      'no backend given: pass --backend and its settings (see --help), set ARIZE_API_KEY and ' +
        'ARIZE_SPACE_ID, PHOENIX_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, or run install in a terminal',
    );
  }
  if (flags.project) reg.registerProject(say);
  else reg.registerGlobal(say);
  const twice = reg.findRegistrations().filter((r) => !(r.kind === 'entry' && r.unreadable));
  if (twice.length > 1)
    say(
      `warning: the plugin is registered ${twice.length} times (${twice.map(reg.describe).join(', ')}): ` +
        "only one copy traces (the others stay idle and say so in OpenCode's log); remove all but one",
    );
  const release = binary.releaseFor();
  const bundled = fs.existsSync(path.join(c.ROOT, 'prebuilds', binary.platformKey(), 'node.napi.node'));
  if (!bundled && release) {
    const got = await binary.fetchBinary();
    say(`binary:  ${c.tilde(got.path)}${got.downloaded ? ' (downloaded)' : ''}`);
  }
  say(`next:    run \`${c.selfCommand()} doctor\` to check the whole chain, then use OpenCode as usual`);
}

module.exports = { install, gatherSettings, changesFrom, endpointProblem };
