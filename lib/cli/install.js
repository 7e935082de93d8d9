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

const { UsageError } = c;
const { isHeaderName, orList, TARGETS, SCHEMA, HARNESS_SETTINGS } = require('../settings.js');

// The core's backend table (lib/settings.json, from native/backend.c's rows): every backend this
// command offers, asks for and names comes from a row; nothing here is per backend.
const ROWS = SCHEMA.backends;
const rowOf = (name) => ROWS.find((b) => b.name === name);
/** The credentials a backend requires (api_key, space_id): its required settings but the endpoint. */
const credentials = (b) => b.settings.filter((s) => s.required && s.key !== 'endpoint');
/** A backend in a sentence: "Arize AX", "Phoenix", or for a kind ("an OTLP backend") with `article`. */
const called = (b, article) => (article && b.one !== b.display ? b.one.replace(/^an? /, `${article} `) : b.one);
/** The flag of a setting: --api-key, --endpoint; its name in the parsed flags: apiKey. */
const flagName = (key) => `--${key.replace(/_/g, '-')}`;
const flagKey = (key) => key.replace(/_(.)/g, (_, ch) => ch.toUpperCase());

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

// The backend a stored block is for: its target, or the one its credentials pick (Arize AX
// when it holds both), or the endpoint-alone one (Phoenix) for an endpoint (the core's rule).
function storedBackend(stored) {
  if (!stored) return '';
  if (TARGETS.includes(stored.target)) return stored.target;
  const picked = ROWS.find(
    (b) => b.pick === 'credentials' && credentials(b).length && credentials(b).every((s) => stored[s.key]),
  );
  if (picked) return picked.name;
  const alone = ROWS.find((b) => b.endpoint_alone);
  return stored.endpoint && alone ? alone.name : '';
}

// The backend the environment picks, in the core's order: a variable that wins over the rest
// (PHOENIX_ENDPOINT), all of a backend's credentials (ARIZE_API_KEY and ARIZE_SPACE_ID), a
// variable that picks last (OTEL_EXPORTER_OTLP_ENDPOINT); '' for none.
function environmentBackend(env) {
  const set = (b) =>
    b.pick === 'credentials'
      ? credentials(b).length > 0 && credentials(b).every((s) => s.env && env[s.env])
      : Boolean(b.endpoint_env && env[b.endpoint_env]);
  for (const pick of ['env-first', 'credentials', 'env-last']) {
    const b = ROWS.find((r) => r.pick === pick && set(r));
    if (b) return b.name;
  }
  return '';
}

// The variables that pick each backend, for a sentence: "ARIZE_API_KEY and ARIZE_SPACE_ID,
// PHOENIX_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT".
const pickingVariables = () =>
  orList(
    ROWS.filter((b) => b.pick !== 'target').map((b) =>
      b.pick === 'credentials'
        ? credentials(b)
            .map((s) => s.env)
            .join(' and ')
        : b.endpoint_env,
    ),
  );

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

/** The answers install's menu takes: each backend's number (1, 2, ...) or name. */
const backendChoices = () =>
  Object.fromEntries(
    ROWS.flatMap((b, i) => [
      [String(i + 1), b.name],
      [b.name, b.name],
    ]),
  );

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
  // a flag only one backend asks for names it (--space-id: Arize AX)
  const named = ROWS.find((b) => b.settings.some((s) => s.names_backend && flags[flagKey(s.key)]));
  const inferred = flags.backend || (named ? named.name : '') || environmentBackend(env) || kept;
  const interactive = !flags.yes && process.stdin.isTTY && process.stdout.isTTY;
  const rl = interactive ? prompter() : null;
  const flagProblem = (flag, why) => new UsageError(`${flag}: ${why}`);
  try {
    if (flags.endpoint && endpointProblem(flags.endpoint))
      throw flagProblem('--endpoint', endpointProblem(flags.endpoint));
    if (projectNameProblem(flags.projectName))
      throw flagProblem('--project-name', projectNameProblem(flags.projectName));
    // In a terminal, a bare `install` walks through every setting (to change any of them);
    // with settings on the command line, only what is still missing is asked.
    const keys = ROWS.flatMap((b) => b.settings.map((s) => s.key)).filter((k) => k !== 'headers');
    const given = ['backend', 'region', 'projectName', ...keys.map(flagKey)].some((k) => flags[k]);
    const walk = rl && !given && !flags.headers.length;
    let backend = inferred;
    if (rl && (walk || !backend)) {
      const choices = backendChoices();
      const numbers = ROWS.map((_, i) => String(i + 1));
      const pick = await rl.ask(`Backend: ${ROWS.map((b, i) => `${i + 1}) ${b.menu}`).join('  ')}`, {
        fallback: String(ROWS.findIndex((b) => b.name === inferred) + 1 || 1),
        check: (a) => (choices[a.toLowerCase()] ? '' : `${a} is not ${orList(numbers)}`),
      });
      backend = choices[pick.toLowerCase()];
    }
    if (!backend) return null;
    if (!TARGETS.includes(backend)) throw new UsageError(`--backend is ${orList(TARGETS)}, not ${backend}`);
    const b = rowOf(backend);
    // What the file holds counts only for the backend it was written for.
    const old = backend === kept ? stored : {};
    // A value: the flag's as given; else, in a terminal, asked with the environment's or the
    // stored one as its default; else that value.
    const value = async (flag, current, question, opts = {}) => {
      if (flag) return flag;
      if (!rl || (!walk && current)) return current || '';
      const from = opts.secret ? masked(current, opts.from || 'stored') : opts.shown;
      return rl.ask(question, { ...opts, fallback: current || opts.fallback || '', shown: from });
    };
    const v = { target: backend, endpoint: null, region: null, api_key: null, space_id: null, headers: null };
    const needs = () => {
      const req = b.settings.filter((s) => s.required);
      const vars = req.map((s) => s.env).filter(Boolean);
      return new UsageError(
        `${called(b)} needs ${req.map((s) => flagName(s.key)).join(' and ')}${vars.length ? ` (or ${vars.join(' and ')})` : ''}`,
      );
    };
    if (b.regions.length) {
      // A backend with regions: the region names the endpoint, unless one is given.
      const REGION = HARNESS_SETTINGS.region.env[0]; // ARIZE_REGION
      const names = b.regions.map((r) => r.name);
      const regionCheck = (a) => (!a || names.includes(a.toLowerCase()) ? '' : `${a} is not ${orList(names)}`);
      if (flags.region && regionCheck(flags.region))
        throw flagProblem('--region', `${flags.region} is not ${orList(names)}`);
      const customEndpoint = flags.endpoint || old.endpoint;
      const region = customEndpoint
        ? flags.region || env[REGION] || old.region || ''
        : await value(flags.region, env[REGION] || old.region, `${b.display} region (${names.join(', ')})`, {
            fallback: names[0],
            check: regionCheck,
          });
      if (region && regionCheck(region)) throw new UsageError(`${REGION} is ${orList(names)}, not ${region}`);
      v.region = region ? region.toLowerCase() : null;
      // A region given now means the region's endpoint: an older explicit endpoint would win over it.
      v.endpoint = flags.endpoint || (flags.region || env[REGION] ? null : old.endpoint) || null;
    }
    for (const s of b.settings) {
      const current = (s.env && env[s.env]) || old[s.key];
      const from = s.env && env[s.env] ? s.env : 'stored';
      const question = s.hint
        ? `${s.what} (${s.hint})`
        : s.required
          ? s.what
          : `${s.what} (${current ? '- for none' : 'empty for none'})`;
      if (s.key === 'headers') v.headers = await askHeaders(rl, walk, flags, s, question, env, old);
      else if (s.key === 'endpoint') {
        v.endpoint = await value(flags.endpoint, current, question, {
          fallback: s.fallback || undefined,
          shown: current ? endpointForDisplay(current) : undefined,
          check: endpointProblem,
        });
        if (!v.endpoint && s.required) throw needs();
        if (v.endpoint && endpointProblem(v.endpoint))
          throw new UsageError(`the ${b.display} endpoint: ${endpointProblem(v.endpoint)}`);
      } else {
        // a credential: the flag's word drops the backend's ("the API key is needed")
        const word = s.what.replace(/^\S+ /, '');
        v[s.key] =
          (await value(flags[flagKey(s.key)], current, question, {
            secret: s.secret,
            from,
            ...(s.required ? { check: (a) => (a ? '' : `the ${word} is needed`) } : { clearable: true }),
          })) || null;
      }
    }
    if (credentials(b).some((s) => !v[s.key])) throw needs();
    const storedName = env.ARIZE_PROJECT_NAME || (stored && stored.project_name);
    v.project_name = await value(flags.projectName, storedName, 'Project name', {
      fallback: 'opencode',
      check: projectNameProblem,
    });
    v.project_name = v.project_name || 'opencode';
    // the environment's or the stored one, taken without a question
    if (projectNameProblem(v.project_name))
      throw new UsageError(
        `${env.ARIZE_PROJECT_NAME ? 'ARIZE_PROJECT_NAME' : 'the stored project_name'}: ${projectNameProblem(v.project_name)}; give --project-name NAME`,
      );
    return { backend, values: v };
  } finally {
    if (rl) rl.close();
  }
}

// The user's headers (a backend that sends them): --header values are taken as typed;
// its variable (OTEL_EXPORTER_OTLP_HEADERS) is %-encoded (OTel spec).
async function askHeaders(rl, walk, flags, s, question, env, old) {
  let headers = null;
  if (flags.headers.length) headers = parseHeaders(flags.headers, false);
  else {
    const current = s.env && env[s.env] ? parseHeaders(env[s.env].split(','), true) : old.headers || null;
    if (rl && (walk || !current)) {
      const typed = await rl.ask(question, {
        secret: true,
        shown: current ? masked(true, s.env && env[s.env] ? s.env : 'stored') : undefined,
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
      });
      headers = typed === '\0keep' ? current : typed ? parseHeaders(typed.split(','), false) : null;
    } else headers = current;
  }
  return headers && headers.length ? headers : null;
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

// The project name rides in an HTTP header and a span attribute: the core ignores one with a
// control character (native/config.c has_control_char: below 0x20, and 0x7f), so install refuses it.
function projectNameProblem(name) {
  return /[\u0000-\u001f\u007f]/.test(name || '')
    ? 'a project name is one line without control characters (a newline, a tab...)'
    : '';
}

// An endpoint as it may be shown: the core's one rule (urlForDisplay, text_url_for_display in
// native/text.c: no user:password@ before its host, no ?query or #fragment, where credentials
// ride), which status, doctor and the log follow. Where no core loads, or an older one without
// the rule, the endpoint is not shown at all rather than shown by a second rule.
function endpointForDisplay(url) {
  try {
    const { binding } = require('../native.js');
    if (typeof binding.urlForDisplay === 'function') return binding.urlForDisplay(url);
  } catch {
    // no core loads here: install still writes the settings
  }
  return '(endpoint not shown: no core here to hide its credentials)';
}

// "Arize AX (eu)", "Arize AX at URL", "Phoenix at URL": where install's settings send.
function whereTo(backend, v) {
  const b = rowOf(backend);
  if (b.regions.length && !v.endpoint) return `${b.display} (${v.region || b.regions[0].name})`;
  return `${b.display} at ${endpointForDisplay(v.endpoint)}`;
}

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
  const where = whereTo(settings.backend, v);
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
    const where = whereTo(settings.backend, v);
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
            ? `removed ${removed.join(', ')}${was && was !== settings.backend ? ` (they were for ${called(rowOf(was), 'the')})` : ''}`
            : '',
        ]
          .filter(Boolean)
          .join('; ') + '; mode 0600'
      : 'unchanged';
    say(`config:  ${c.tilde(file)} (harnesses.opencode: ${where}, project "${v.project_name}"; ${what})`);
  } else {
    throw new UsageError(
      `no backend given: pass --backend and its settings (see --help), set ${pickingVariables()}, ` +
        'or run install in a terminal',
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

module.exports = { install, gatherSettings, changesFrom, endpointProblem, backendChoices };
