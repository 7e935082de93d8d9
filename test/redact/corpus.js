'use strict';
// The labelled corpus of secret redaction (native/redact.h), built at run time:
//   - secrets(): true secrets of every built-in kind, fake but well-formed, from a seeded
//     generator (the same corpus on every run, and no secret is ever written to the repository:
//     only this recipe is), each embedded in a document as a coding agent meets it: prose, code,
//     JSON, shell output, .env files read by a tool, diffs, URLs, YAML;
//   - clean(): real text with no secrets: this repository's sources and docs, and the JavaScript
//     OpenCode itself ships (its bundle, from the binary of the opencode-ai package).
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

// mulberry32: a small seeded generator, so the corpus is reproducible.
function generator(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (list) => list[Math.floor(next() * list.length)];
  const chars = (alphabet, n) => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(next() * alphabet.length)];
    return s;
  };
  return { next, int, pick, chars };
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const HEX = '0123456789abcdef';
const B32 = UPPER + '234567';
const B64URL = ALNUM + '-_';
const B64 = ALNUM + '+/';
const PASSWORD = ALNUM + '!#%^*_-+=.~';

const b64url = (s) => Buffer.from(s).toString('base64url');

// Each kind: how one secret of it looks, as {value, secret} (secret: its unguessable part, which
// must not survive redaction), and the contexts (a function of the value) it is met in.
function kinds(g) {
  const uuid = () =>
    `${g.chars(HEX, 8)}-${g.chars(HEX, 4)}-4${g.chars(HEX, 3)}-a${g.chars(HEX, 3)}-${g.chars(HEX, 12)}`;
  const tok = (prefix, alphabet, n) => {
    const body = g.chars(alphabet, n);
    return { value: prefix + body, secret: body };
  };
  const pem = (label, bytes) => {
    const body = g.chars(B64, bytes);
    const lines = body.match(/.{1,64}/g).join('\n');
    return { value: `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----`, secret: body };
  };
  const password = () => {
    let p;
    do p = g.chars(PASSWORD, g.int(10, 20));
    while (!/[0-9]/.test(p) || !/[A-Z]/.test(p));
    return p;
  };
  return {
    'openai-api-key': () =>
      g.pick([
        () => tok('sk-proj-', B64URL, 156),
        () => {
          const a = g.chars(ALNUM, 20),
            b = g.chars(ALNUM, 20);
          return { value: `sk-${a}T3BlbkFJ${b}`, secret: a + b };
        },
        () => tok('sk-svcacct-', B64URL, 120),
      ])(),
    'anthropic-api-key': () => {
      const body = g.chars(B64URL, 93);
      return { value: `sk-ant-api03-${body}AA`, secret: body };
    },
    'openrouter-api-key': () => tok('sk-or-v1-', HEX, 64),
    'google-api-key': () => tok('AIza', B64URL, 35),
    'groq-api-key': () => tok('gsk_', ALNUM, 52),
    'mistral-api-key': () => tok('', ALNUM, 32),
    'huggingface-token': () => tok('hf_', UPPER + LOWER, 34),
    'arize-api-key': () => {
      const tail = g.chars(B64URL, 32);
      const id = uuid();
      return { value: `ak-${id}-${tail}`, secret: id.replace(/-/g, '') + tail };
    },
    'aws-access-key': () => tok(g.pick(['AKIA', 'ASIA']), B32, 16),
    'aws-secret-access-key': () => tok('', B64, 40),
    'gcp-service-account': () => pem('PRIVATE KEY', g.int(600, 1600)),
    'azure-key': () => {
      const key = Buffer.from(g.chars(ALNUM, 64)).toString('base64');
      return { value: key, secret: key.slice(0, 80) };
    },
    'github-token': () =>
      g.pick([
        () => tok(g.pick(['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_']), ALNUM, 36),
        () => {
          const a = g.chars(ALNUM, 22),
            b = g.chars(ALNUM, 59);
          return { value: `github_pat_${a}_${b}`, secret: a + b };
        },
      ])(),
    'gitlab-token': () => tok('glpat-', B64URL, 20),
    'slack-token': () => {
      const t = g.chars(ALNUM, 24);
      return {
        value: `${g.pick(['xoxb', 'xoxp'])}-${g.chars(DIGITS, 12)}-${g.chars(DIGITS, 13)}-${t}`,
        secret: t,
      };
    },
    'slack-webhook': () => {
      const t = g.chars(ALNUM, 24);
      return {
        value: `https://hooks.slack.com/services/T${g.chars(UPPER + DIGITS, 8)}/B${g.chars(UPPER + DIGITS, 10)}/${t}`,
        secret: t,
      };
    },
    'stripe-key': () => tok(g.pick(['sk_live_', 'rk_live_']), ALNUM, g.int(24, 99)),
    jwt: () => {
      const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
      const payload = b64url(
        JSON.stringify({ sub: g.chars(DIGITS, 10), name: g.chars(LOWER, 8), iat: g.int(1.6e9, 1.8e9) }),
      );
      const sig = g.chars(B64URL, 43);
      return { value: `${header}.${payload}.${sig}`, secret: sig };
    },
    'private-key': () =>
      pem(g.pick(['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'PRIVATE KEY']), g.int(200, 1600)),
    'bearer-token': () => tok('', B64URL, g.int(32, 64)),
    'basic-auth': () => {
      const v = `${g.pick(['admin', 'deploy', 'ci', 'svc'])}:${password()}`;
      const b = Buffer.from(v).toString('base64');
      return { value: b, secret: b };
    },
    'password-in-url': () => {
      const p = password().replace(/[#]/g, 'x');
      return { value: p, secret: p };
    },
    'password-argument': () => {
      const p = password().replace(/[#]/g, 'x');
      return { value: p, secret: p };
    },
    'secret-assignment': () =>
      g.pick([
        () => tok('', HEX, 32),
        () => tok('', HEX, 64),
        () => tok('', ALNUM, g.int(24, 48)),
        () => tok('', B64, 44),
        () => ({ ...((p) => ({ value: p, secret: p }))(password()) }),
      ])(),
  };
}

// Where a secret of each kind is met. Each context is a function (value, g) -> document.
const lineNumbers = (text) =>
  text
    .split('\n')
    .map((l, i) => `${i + 1}: ${l}`)
    .join('\n');
const readOutput = (file, text) =>
  `<path>${file}</path>\n<type>file</type>\n<content>\n${lineNumbers(text)}\n\n(End of file - total ${text.split('\n').length} lines)\n</content>`;

function contexts(kind) {
  const envName = {
    'openai-api-key': 'OPENAI_API_KEY',
    'anthropic-api-key': 'ANTHROPIC_API_KEY',
    'openrouter-api-key': 'OPENROUTER_API_KEY',
    'google-api-key': 'GEMINI_API_KEY',
    'groq-api-key': 'GROQ_API_KEY',
    'mistral-api-key': 'MISTRAL_API_KEY',
    'huggingface-token': 'HF_TOKEN',
    'arize-api-key': 'ARIZE_API_KEY',
    'aws-access-key': 'AWS_ACCESS_KEY_ID',
    'aws-secret-access-key': 'AWS_SECRET_ACCESS_KEY',
    'github-token': 'GITHUB_TOKEN',
    'gitlab-token': 'GITLAB_TOKEN',
    'slack-token': 'SLACK_BOT_TOKEN',
    'slack-webhook': 'SLACK_WEBHOOK_URL',
    'stripe-key': 'STRIPE_SECRET_KEY',
    jwt: 'SESSION_JWT',
    'bearer-token': 'API_TOKEN',
    'secret-assignment': 'SESSION_SECRET',
  }[kind];
  const generic = [
    (v) => `Here is the key I use for the staging box: ${v} (rotate it next week).`,
    (v) => `const client = createClient({ region: 'eu', apiKey: "${v}", retries: 3 });`,
    (v) => JSON.stringify({ name: 'staging', credentials: { value: v }, retries: 3 }),
    (v) => JSON.stringify({ tool: 'bash', output: `$ cat secrets.txt\n${v}\n$ ` }),
    (v) => `diff --git a/config.py b/config.py\n@@ -1,3 +1,3 @@\n-TOKEN = None\n+TOKEN = "${v}"\n DEBUG = False`,
    (v) => `$ printenv | sort\nHOME=/home/dev\n${envName || 'SECRET_VALUE'}=${v}\nPATH=/usr/bin:/bin`,
    (v) => readOutput('/home/dev/app/.env', `# local settings\nPORT=3000\n${envName || 'API_SECRET'}=${v}\nDEBUG=true`),
    (v) => `settings:\n  service: billing\n  ${(envName || 'api_key').toLowerCase()}: ${v}\n  timeout: 30`,
    (v) => `[tool.deploy]\nregion = "eu"\napi_key = "${v}"\n`,
    (v) => `services:\n  web:\n    environment:\n      - ${envName || 'API_KEY'}=${v}\n      - PORT=80`,
    (v) => `settings = {'api_key': '${v}', 'timeout': 10}`,
  ];
  switch (kind) {
    case 'mistral-api-key':
      return [
        (v) => `MISTRAL_API_KEY=${v}`,
        (v) => `my mistral key is ${v}, use it for the eval`,
        (v) => readOutput('/srv/.env', `MISTRAL_API_KEY="${v}"\nMODEL=mistral-large`),
        (v) => JSON.stringify({ provider: 'mistral', apiKey: v }),
        (v) => `client = Mistral(api_key="${v}")`,
      ];
    case 'aws-secret-access-key':
      return [
        (v) => `[default]\naws_secret_access_key = ${v}\nregion = eu-west-1`,
        (v) => `export AWS_SECRET_ACCESS_KEY=${v}`,
        (v) =>
          JSON.stringify({
            Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: v, Expiration: '2026-01-01T00:00:00Z' },
          }),
        (v) => readOutput('/home/dev/.aws/credentials', `[prod]\naws_secret_access_key=${v}`),
        (v) => `AWS_SECRET_ACCESS_KEY: "${v}"`,
      ];
    case 'gcp-service-account':
      return [
        (v) =>
          JSON.stringify(
            {
              type: 'service_account',
              project_id: 'demo-project',
              private_key_id: 'x',
              private_key: `${v}\n`,
              client_email: 'svc@demo-project.iam.gserviceaccount.com',
            },
            null,
            2,
          ),
        (v) =>
          readOutput(
            '/work/sa.json',
            JSON.stringify({ type: 'service_account', private_key: `${v}\n`, client_id: '1234' }, null, 2),
          ),
      ];
    case 'azure-key':
      return [
        (v) =>
          `AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=demoacct;AccountKey=${v};EndpointSuffix=core.windows.net"`,
        (v) =>
          `Endpoint=sb://demo.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${v.slice(0, 44)}`,
        (v) => JSON.stringify({ storage: `DefaultEndpointsProtocol=https;AccountName=a1;AccountKey=${v}` }),
      ];
    case 'slack-webhook':
      return [
        (v) => `curl -X POST -d '{"text":"deployed"}' ${v}`,
        (v) => `SLACK_WEBHOOK_URL=${v}`,
        (v) => JSON.stringify({ webhook: v, channel: '#ops' }),
        (v) => `Post the summary to ${v} when done.`,
      ];
    case 'bearer-token':
      return [
        (v) => `curl -s -H "Authorization: Bearer ${v}" https://api.example.com/v1/me`,
        (v) => `GET /v1/items HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${v}\r\n\r\n`,
        (v) => JSON.stringify({ headers: { Authorization: `Bearer ${v}`, Accept: 'application/json' } }),
        (v) => `fetch(url, { headers: { authorization: 'Bearer ${v}' } })`,
        (v) => `requests.get(url, headers={"Authorization": "Bearer ${v}"})`,
      ];
    case 'basic-auth':
      return [
        (v) => `Authorization: Basic ${v}`,
        (v) => `curl -H "Authorization: Basic ${v}" https://registry.example.com/v2/`,
        (v) => JSON.stringify({ auths: { 'registry.example.com': { auth: v } } }),
      ];
    case 'password-in-url':
      return [
        (v) => `DATABASE_URL=postgres://app:${v}@db.internal:5432/app`,
        (v) => `git clone https://deploy:${v}@git.example.com/team/repo.git`,
        (v) => JSON.stringify({ redis: `redis://default:${v}@cache:6379/0` }),
        (v) => `Connecting to mongodb+srv://admin:${v}@cluster0.example.net/test ...`,
        (v) => `amqp://guest2:${v}@rabbit:5672/`,
      ];
    case 'password-argument':
      return [
        (v) => `mysql -h db.internal -u app -p${v} app < schema.sql`,
        (v) => `$ mysqldump -uroot -p'${v}' --single-transaction shop > shop.sql`,
        (v) => `curl -u admin:${v} https://jenkins.example.com/api/json`,
        (v) => `curl -s --user "deploy:${v}" -X POST https://registry.example.com/v2/`,
        (v) => `sshpass -p '${v}' ssh deploy@10.0.0.5 uptime`,
        (v) => JSON.stringify({ command: `mariadb -u ci -p${v} -e 'select 1'`, description: 'check the db' }),
      ];
    case 'secret-assignment':
      return [
        (v) => `DB_PASSWORD=${v}`,
        (v) => `export JWT_SECRET="${v}"`,
        (v) => JSON.stringify({ client_id: 'web', client_secret: v }),
        (v) => `app.config["SECRET_KEY"] = '${v}'`,
        (v) => `  password: "${v}"`,
        (v) => readOutput('/app/.env', `NODE_ENV=production\nSESSION_SECRET=${v}\nPORT=8080`),
        (v) => `mysql --user=root --password=${v} app`,
        (v) => `+ENCRYPTION_KEY=${v}`,
        (v) => `const config = { webhookSecret: '${v}', port: 3000 };`,
      ];
    case 'jwt':
      return [
        ...generic,
        (v) => `curl -H "Authorization: Bearer ${v}" http://localhost:3000/api`,
        (v) => `Set-Cookie: session=${v}; HttpOnly; Secure`,
      ];
    default:
      return generic;
  }
}

/** The true secrets: [{kind, context, text, value, secret}], at least `perKind` of each kind. */
function secrets(perKind = 14, seed = 20261205) {
  const g = generator(seed);
  const make = kinds(g);
  const out = [];
  for (const kind of Object.keys(make)) {
    const ctx = contexts(kind);
    for (let i = 0; i < Math.max(perKind, ctx.length); i++) {
      const { value, secret } = make[kind]();
      const c = i % ctx.length;
      out.push({ kind, context: c, text: ctx[c](value, g), value, secret });
    }
  }
  return out;
}

// ---- clean text --------------------------------------------------------------------------------

// Tests of this repository that hold stand-in secrets on purpose ("ak-secret-4242",
// "hunter2-secret": they check that a secret never reaches a log or `status`). Redacting those
// is right; the scorer counts them apart, and not as clean text.
const STAND_INS = [
  'test/api.test.js',
  'test/cli.test.js',
  'test/fidelity.test.js', // a git remote with a password in its URL: the core strips it
  'test/fixtures/capture.js', // the same, in the captures' repository
  'test/helpers/live-unit.ts', // an invocation's apiKey, which must not reach a span
  'test/hostile.test.js',
  'test/project.test.js', // a project file's credential and redaction rules
  'test/c/test_config.c',
  'test/c/test_exporter.c',
  'test/c/test_outcome.c',
  'test/c/test_tracer.c',
  'test/fuzz/fuzz_config.c',
];

// This repository's text files: sources, tests, docs. Left out: what holds secrets on purpose
// (this corpus, the redaction tests and fuzz seeds), generated binaries, dependencies.
function repoFiles() {
  const skip = new Set(['node_modules', '.git', 'build', 'prebuilds', 'out', 'nodedir']);
  const skipFiles = [/^test\/redact\//, /^test\/c\/test_redact\.c$/, /^test\/fuzz\/fuzz_redact/];
  const files = [];
  const walk = (dir) => {
    for (const d of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${d.name}` : d.name;
      if (d.isDirectory()) {
        if (!skip.has(d.name)) walk(rel);
      } else if (/\.(c|h|js|mjs|ts|json|md|yml|yaml|sh|gyp|txt|map|dict)$/.test(d.name) || d.name === 'Makefile') {
        if (!skipFiles.some((re) => re.test(rel))) files.push(rel);
      }
    }
  };
  walk('');
  return files.sort().map((rel) => ({
    name: rel,
    text: fs.readFileSync(path.join(ROOT, rel), 'utf8'),
    standIns: STAND_INS.includes(rel),
  }));
}

// The OpenCode binary of this platform (the opencode-ai package's optional dependency).
function opencodeBinary() {
  const dirs = [
    path.join(ROOT, 'node_modules'),
    path.join(path.dirname(fs.realpathSync(path.join(ROOT, 'node_modules'))), 'node_modules'),
  ];
  for (const dir of dirs)
    for (const name of ['opencode-linux-x64', 'opencode-linux-x64-baseline', 'opencode-linux-arm64']) {
      const file = path.join(dir, name, 'bin', 'opencode');
      if (fs.existsSync(file)) return file;
    }
  return null;
}

// The JavaScript bundled in OpenCode's binary (Bun's standalone module graph, the ELF section
// .bun): its runs of text of at least 2 KiB, up to `limit` bytes.
function opencodeJs(limit) {
  const file = opencodeBinary();
  if (!file) return [];
  const fd = fs.openSync(file, 'r');
  try {
    const h = Buffer.alloc(64);
    fs.readSync(fd, h, 0, 64, 0);
    if (h.toString('latin1', 0, 4) !== '\x7fELF') return [];
    const shoff = Number(h.readBigUInt64LE(0x28)),
      shentsize = h.readUInt16LE(0x3a),
      shnum = h.readUInt16LE(0x3c),
      shstrndx = h.readUInt16LE(0x3e);
    const sh = Buffer.alloc(shentsize * shnum);
    fs.readSync(fd, sh, 0, sh.length, shoff);
    const sec = (i) => ({
      name: sh.readUInt32LE(i * shentsize),
      off: Number(sh.readBigUInt64LE(i * shentsize + 0x18)),
      size: Number(sh.readBigUInt64LE(i * shentsize + 0x20)),
    });
    const strs = sec(shstrndx);
    const names = Buffer.alloc(strs.size);
    fs.readSync(fd, names, 0, strs.size, strs.off);
    let bun = null;
    for (let i = 0; i < shnum; i++) {
      const s = sec(i);
      if (names.toString('latin1', s.name, names.indexOf(0, s.name)) === '.bun') bun = s;
    }
    if (!bun) return [];
    const buf = Buffer.alloc(Math.min(bun.size, limit * 4));
    fs.readSync(fd, buf, 0, buf.length, bun.off);
    const out = [];
    let total = 0;
    // a run of text: printable ASCII, tabs, newlines, UTF-8 beyond ASCII
    let start = 0;
    for (let i = 0; i <= buf.length && total < limit; i++) {
      const b = i < buf.length ? buf[i] : 0;
      if (b === 9 || b === 10 || b === 13 || (b >= 32 && b !== 127)) continue;
      if (i - start >= 2048) {
        const text = buf.toString('utf8', start, i);
        if (!text.includes('\ufffd')) {
          out.push({ name: `opencode:.bun+${start}`, text: text.slice(0, limit - total) });
          total += Buffer.byteLength(out[out.length - 1].text);
        }
      }
      start = i + 1;
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** The clean text: [{name, text}], this repository's files and OpenCode's bundled JavaScript. */
function clean({ opencodeBytes = 2.5 * 1024 * 1024 } = {}) {
  return [...repoFiles(), ...opencodeJs(opencodeBytes)];
}

module.exports = { secrets, clean, generator };
