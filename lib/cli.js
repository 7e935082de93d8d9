#!/usr/bin/env node
'use strict';
// opencode-arize-tracing: set up, check and remove tracing for OpenCode. A thin shell: the
// arguments, then one small module per command under lib/cli/.
//
//   install       choose a backend and credentials, write them to ~/.arize/harness/config.yaml
//                 (only the keys it manages, under harnesses.opencode), register the plugin
//   uninstall     remove the plugin's registration and the keys install wrote
//   status        backend, last export, spool across every OpenCode process (read-only)
//   doctor        check each link from OpenCode to the backend; print the fix for the first
//                 broken one
//   fetch-binary  download the release binary for a platform the package has no prebuild for
const fs = require('node:fs');
const path = require('node:path');
const binary = require('./binary.js');
const { PKG, ROOT, UsageError, closest, selfCommand } = require('./cli/common.js');
const { TARGETS, REGIONS } = require('./settings.js'); // the core's backend rows

const USAGE = `usage: opencode-arize-tracing <command> [options]

commands:
  install        set up tracing: backend, credentials, project; registers the OpenCode plugin
  uninstall      remove the plugin's registration (any route) and the backend settings install wrote
  status         what is true now for every OpenCode process: backend, last export, spool (read-only)
  doctor         check every link to the backend, print the fix for the first broken one
  fetch-binary   download the native core for this platform (when the package has no prebuild)
  backfill       trace past OpenCode sessions, close turns a killed OpenCode left open (backfill --help)

install options (each falls back to the environment variable shown; prompts fill the rest
when run in a terminal, --yes never prompts):
  --backend ${TARGETS.join('|')}
  ${`--region ${REGIONS.join('|')}`.padEnd(32)}Arize AX region                      ARIZE_REGION
  --api-key KEY                   Arize AX or Phoenix API key          ARIZE_API_KEY, PHOENIX_API_KEY
  --space-id ID                   Arize AX space id                    ARIZE_SPACE_ID
  --endpoint URL                  Phoenix / OTLP endpoint (or Arize)   PHOENIX_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT
  --header name=value             OTLP header, repeatable              OTEL_EXPORTER_OTLP_HEADERS
  --project-name NAME             project the traces land in           ARIZE_PROJECT_NAME
  --add-destination NAME          add a further destination (harnesses.opencode.destinations)
                                  with the backend options above, beside the one you have; its
                                  settings come from these flags or prompts, never the environment
  --project                       register the plugin for this project only: "opencode-arize-tracing"
                                  in ./.opencode/opencode.json (works in any clone)
  --yes                           never prompt
status and doctor options: --json (status exits 0 healthy, 1 degraded, 2 not working),
  --project-dir DIR (the project whose .opencode/arize-tracing.yaml is read; default: the current directory)`;

// The options each command takes (--help everywhere): an option another command takes, or a
// typo, is refused with the closest one this command knows.
const VALUE_OPTIONS = {
  '--backend': 'backend',
  '--region': 'region',
  '--api-key': 'apiKey',
  '--space-id': 'spaceId',
  '--endpoint': 'endpoint',
  '--project-name': 'projectName',
  '--header': 'header',
  '--project-dir': 'projectDir',
  '--add-destination': 'addDestination',
};
const SWITCHES = { '--project': 'project', '--yes': 'yes', '-y': 'yes', '--json': 'json', '--force': 'force' };
const OPTIONS = {
  install: [...Object.keys(VALUE_OPTIONS).filter((o) => o !== '--project-dir'), '--project', '--yes', '-y'],
  uninstall: ['--project'],
  status: ['--json', '--project-dir'],
  doctor: ['--json', '--project-dir'],
  'fetch-binary': ['--force'],
  help: [],
  version: [],
};

function parseArgs(argv) {
  const flags = { headers: [] };
  const positional = [];
  const seen = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    if (flag === '--help' || flag === '-h') flags.help = true;
    else if (flag === '--version') positional.push('version');
    else if (SWITCHES[flag]) {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
      flags[SWITCHES[flag]] = true;
      seen.push(flag);
    } else if (VALUE_OPTIONS[flag]) {
      const value = inline !== undefined ? inline : argv[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      if (flag === '--header') flags.headers.push(value);
      else flags[VALUE_OPTIONS[flag]] = value;
      seen.push(flag);
    } else if (flag.startsWith('-') && flag !== '-') {
      seen.push(flag);
    } else positional.push(argv[i]);
  }
  const command = positional[0];
  if (command && OPTIONS[command]) {
    const known = [...OPTIONS[command], '--help'];
    for (const flag of seen)
      if (!known.includes(flag)) {
        const near = closest(flag, known);
        throw new UsageError(
          `${command} has no option ${flag}${near ? `: did you mean ${near}?` : ''} (its options: ${known.join(', ')})`,
        );
      }
    if (positional.length > 1) throw new UsageError(`${command} takes no argument ${JSON.stringify(positional[1])}`);
  }
  return { command, flags };
}

async function fetchBinaryCommand(flags) {
  const key = binary.platformKey();
  if (!flags.force && fs.existsSync(path.join(ROOT, 'prebuilds', key, 'node.napi.node'))) {
    console.log(`nothing to download: the package carries a prebuild for ${key} (--force downloads anyway)`);
    return;
  }
  const got = await binary.fetchBinary();
  console.log(`${got.downloaded ? 'downloaded' : 'already in the cache'}: ${got.path} (${key}, sha256 verified)`);
}

const COMMANDS = {
  install: (flags) => require('./cli/install.js').install(flags),
  uninstall: (flags) => require('./cli/uninstall.js').uninstall(flags),
  status: (flags) => require('./cli/status.js').status(flags),
  doctor: (flags) => require('./cli/doctor.js').doctor(flags),
  'fetch-binary': fetchBinaryCommand,
};

async function main(argv) {
  if (argv[0] === 'backfill') return require('./backfill.js').main(argv.slice(1)); // its own options
  const { command, flags } = parseArgs(argv);
  if (flags.help || !command || command === 'help') return console.log(USAGE);
  if (command === 'version' || command === '--version') return console.log(PKG.version);
  if (!COMMANDS[command]) {
    const near = closest(command, [...Object.keys(COMMANDS), 'backfill']);
    throw new UsageError(`unknown command ${command}${near ? `: did you mean ${near}?` : ''}`);
  }
  return COMMANDS[command](flags);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`opencode-arize-tracing: ${error.message}`);
    if (error instanceof UsageError) console.error(`(\`${selfCommand()} --help\` lists the commands and options)`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}

module.exports = { parseArgs, main };
