'use strict';
// The public API: reconcile a session snapshot into spans, flush them, read the status.
// Everything heavy happens in the native core; this file only adapts values.
const { binding, file } = require('./native.js');

/**
 * Turns what is new in an OpenCode session snapshot into spans on the export queue.
 * Synchronous; never touches the network; never throws for payload content.
 * @param {object|string} payload `{type, sessionID, messages, childSessions?}` or its JSON text
 * @returns {{spans: number, error?: string, childrenUnlinked?: number}}
 */
function reconcile(payload) {
  let json;
  try {
    json = typeof payload === 'string' ? payload : JSON.stringify(payload);
  } catch (error) {
    json = undefined;
  }
  if (typeof json !== 'string') json = 'null'; // the core rejects it with a reason and a log line
  return binding.reconcile(json);
}

/**
 * Resolves once every span queued so far was answered by the backend, or at the timeout.
 * @param {number} [timeoutMs=10000]
 * @returns {Promise<{exported: number, pending: number, dropped: number}>}
 */
function flush(timeoutMs = 10000) {
  return binding.flush(Number(timeoutMs));
}

/** Flushes for at most timeoutMs (default 2000), then stops the exporter thread. */
function shutdown(timeoutMs = 2000) {
  binding.shutdown(Number(timeoutMs));
}

/** Counters, the resolved backend and the config's health. Never a secret. */
function status() {
  return Object.assign(JSON.parse(binding.status()), { binary: file });
}

module.exports = { reconcile, flush, shutdown, status, version: binding.version };
