'use strict';
// The shared OpenCode captures (../shared/fixtures beside the checkout) and the project's own
// (test/fixtures) as reconcile payloads.
const fs = require('node:fs');
const path = require('node:path');

const FIXTURES =
  process.env.ARIZE_FIXTURES || path.join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'opencode-1.18.33');

// The project's own captures (test/fixtures/README.md), named 'local/<scenario>.json'.
const LOCAL = path.join(__dirname, '..', 'fixtures', 'opencode-1.18.33');

function snapshot(relative) {
  const file = relative.startsWith('local/') ? path.join(LOCAL, relative.slice(6)) : path.join(FIXTURES, relative);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// The payload the plugin builds from a capture: its session, messages and children.
function payload(relative, type = 'close') {
  const snap = snapshot(relative);
  const childSessions = (snap.children || []).map((c) => ({
    sessionID: c.id,
    parentSessionID: c.session.parentID,
    parentCallID: c.parentCallID,
    info: c.session,
    messages: c.messages,
  }));
  return { type, sessionID: snap.session.id, messages: snap.messages, childSessions };
}

// The same payload with every OpenCode id made unique by a suffix: a distinct session.
function variant(p, n) {
  return JSON.parse(JSON.stringify(p).replace(/"(ses|msg|prt)_([A-Za-z0-9]+)"/g, `"$1_$2v${n}"`));
}

module.exports = { FIXTURES, LOCAL, snapshot, payload, variant };
