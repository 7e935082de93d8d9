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
// next question; a secret is not echoed, like a password prompt.
function prompter() {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  rl.setPrompt('');
  const queued = [];
  const waiting = [];
  let muted = false;
  const write = rl._writeToOutput.bind(rl);
  rl._writeToOutput = (text) => {
    if (!muted) write(text);
  };
  rl.on('line', (line) => (waiting.length ? waiting.shift()(line) : queued.push(line)));
  rl.on('close', () => {
    while (waiting.length) waiting.shift()('');
  });
  return {
    ask(question, { secret = false, fallback = '' } = {}) {
      process.stdout.write(`${question}${fallback && !secret ? ` [${fallback}]` : ''}: `);
      muted = secret;
      return new Promise((resolve) => {
        const take = (line) => {
          if (muted) process.stdout.write('\n');
          muted = false;
          resolve(line.trim() || fallback);
        };
        if (queued.length) take(queued.shift());
        else waiting.push(take);
      });
    },
    close: () => rl.close(),
  };
}

// The backend a stored block is for: its target, or Arize AX when it holds both credentials,
// or Phoenix for an endpoint alone (the core's own inference).
function storedBackend(stored) {
  if (!stored) return '';
  if (TARGETS.includes(stored.target)) return stored.target;
  if (stored.api_key && stored.space_id) return 'arize';
  return stored.endpoint ? 'phoenix' : '';
}

function parseHeaders(list, encoded) {
  const out = [];
  for (const h of list.filter((x) => x.trim())) {
    const [name, value] = h.split(/=(.*)/s);
    if (!name || value === undefined || !isHeaderName(name.trim()) || /[\x00-\x1f\x7f]/.test(value))
      throw new UsageError('--header wants name=value (a header name, a printable value)');
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

/**
 * The settings to write, from flags, the environment, the stored block and prompts:
 * {backend, values: {key: value}} (values for the managed keys; null removes one), or null
 * when nothing names a backend and nothing can be asked.
 */
async function gatherSettings(flags, stored) {
  const env = process.env;
  const kept = storedBackend(stored);
  let backend =
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
  try {
    if (!backend && !rl) return null;
    if (!backend) {
      const pick = await rl.ask('Backend: 1) Arize AX  2) Phoenix  3) another OTLP endpoint', { fallback: '1' });
      backend =
        { 1: 'arize', 2: 'phoenix', 3: 'otlp', arize: 'arize', phoenix: 'phoenix', otlp: 'otlp' }[pick.toLowerCase()] ||
        pick;
    }
    if (!TARGETS.includes(backend)) throw new UsageError(`--backend is ${orList(TARGETS)}, not ${backend}`);
    // What the file holds counts only for the backend it was written for.
    const old = backend === kept ? stored : {};
    const need = (value, question, opts) => (value || !rl ? value : rl.ask(question, opts));
    const v = { target: backend };
    if (backend === 'arize') {
      const region =
        flags.region ||
        env.ARIZE_REGION ||
        old.region ||
        (flags.endpoint || old.endpoint
          ? ''
          : await need('', `Arize AX region (${REGIONS.join(', ')})`, { fallback: REGIONS[0] })) ||
        '';
      if (region && !REGIONS.includes(region.toLowerCase()))
        throw new UsageError(`--region is ${orList(REGIONS)}, not ${region}`);
      v.region = region ? region.toLowerCase() : null;
      v.api_key = await need(flags.apiKey || env.ARIZE_API_KEY || old.api_key, 'Arize API key (Settings > API Keys)', {
        secret: true,
      });
      v.space_id = await need(flags.spaceId || env.ARIZE_SPACE_ID || old.space_id, 'Arize space id');
      // A region given now means the region's endpoint: an older explicit endpoint would win over it.
      v.endpoint = flags.endpoint || (flags.region || env.ARIZE_REGION ? null : old.endpoint) || null;
      v.headers = null;
      if (!v.api_key || !v.space_id)
        throw new UsageError('Arize AX needs --api-key and --space-id (or ARIZE_API_KEY and ARIZE_SPACE_ID)');
    } else if (backend === 'phoenix') {
      v.endpoint = await need(flags.endpoint || env.PHOENIX_ENDPOINT || old.endpoint, 'Phoenix endpoint', {
        fallback: 'http://localhost:6006',
      });
      v.api_key =
        flags.apiKey ||
        env.PHOENIX_API_KEY ||
        old.api_key ||
        (rl ? await rl.ask('Phoenix API key (empty for none)', { secret: true }) : '') ||
        null;
      v.region = null;
      v.space_id = null;
      v.headers = null;
      if (!v.endpoint) throw new UsageError('Phoenix needs --endpoint (or PHOENIX_ENDPOINT)');
    } else {
      v.endpoint = await need(
        flags.endpoint || env.OTEL_EXPORTER_OTLP_ENDPOINT || old.endpoint,
        'OTLP/HTTP endpoint (base URL or .../v1/traces)',
      );
      // --header values are taken as typed; OTEL_EXPORTER_OTLP_HEADERS is %-encoded (OTel spec).
      let headers = null;
      if (flags.headers.length) headers = parseHeaders(flags.headers, false);
      else if (env.OTEL_EXPORTER_OTLP_HEADERS) headers = parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS.split(','), true);
      else if (old.headers) headers = old.headers;
      else if (rl)
        headers = parseHeaders(
          (await rl.ask('Headers, name=value[,name=value] (empty for none)', { secret: true })).split(','),
          false,
        );
      v.headers = headers && headers.length ? headers : null;
      v.region = null;
      v.space_id = null;
      v.api_key = null;
      if (!v.endpoint) throw new UsageError('an OTLP backend needs --endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT)');
    }
    v.project_name =
      flags.projectName ||
      env.ARIZE_PROJECT_NAME ||
      (stored && stored.project_name) ||
      (rl ? await rl.ask('Project name', { fallback: 'opencode' }) : 'opencode');
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

async function install(flags) {
  const say = (line) => console.log(line);
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
    const what = changed ? `changed ${Object.keys(changes).join(', ')}; mode 0600` : 'unchanged';
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
  say('next:    run `opencode-arize-tracing doctor` to check the whole chain, then use OpenCode as usual');
}

module.exports = { install, gatherSettings, changesFrom };
