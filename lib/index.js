'use strict';
// The public API: reconcile a session snapshot into spans, flush them, read the status.
// Everything heavy happens in the native core; this file adapts values, and walks a snapshot's
// messages so that the core sees only what it has not finished with (the fast path, below).
const { binding, file } = require('./native.js');

/**
 * Turns what is new in an OpenCode session snapshot into spans on the export queue.
 * Synchronous; never touches the network; never throws for payload content.
 * @param {object|string} payload `{type, sessionID, messages, childSessions?, abandoned?}` or its JSON text
 * @param {{turns?: boolean}} [options] turns: also say how many of the spans are Turns
 * @returns {{spans: number, turns?: number, error?: string, childrenUnlinked?: number}}
 */
function reconcile(payload, options) {
  const result = reconcileWith(payload);
  if (options && options.turns) result.turns = result.turns || 0;
  else delete result.turns;
  return result;
}

function reconcileWith(payload) {
  if (typeof payload === 'string') return binding.reconcile(payload);
  if (typeof binding.select !== 'function') return binding.reconcile(serialise(payload)); // an older core
  let reduced;
  try {
    reduced = reduce(payload);
  } catch (error) {
    reduced = undefined; // a getter threw: the core serialises the payload, and rejects it
  }
  return binding.reconcile(reduced === undefined ? payload : reduced);
}

function serialise(payload) {
  try {
    const json = JSON.stringify(payload);
    return typeof json === 'string' ? json : 'null';
  } catch (error) {
    return 'null'; // the core rejects it with a reason and a log line
  }
}

// ---------------------------------------------------------------------------------------------
// The fast path (README, "Performance"; native/tracer.h). OpenCode repeats the whole session in
// every snapshot. Here each message's role, parentID and sessionID are read (a Node-API call per
// property would cost more than all the rest), the core decides which messages and child
// sessions it has not finished with (binding.select), and only those are handed over. undefined: the payload is not a shape the fast path handles (a record that is not an
// object, an id or role that is not a string, a message of another session...): the core then
// reads it whole, and rejects what it rejects.

const ROLE_OTHER = 0, ROLE_USER = 1, ROLE_ASSISTANT = 2;

// Per session (this process): how many leading messages form turns the core is done with, and
// the ids of the first and last of them. OpenCode lists a session's messages in the order of
// their ids, which grow with time: a snapshot that starts with the same two ids at both ends of
// that prefix starts with the same messages, and they are not walked again. Anything else
// (a message removed, another session, a payload built by hand) walks the whole list.
const prefixes = new Map();
const PREFIXES_MAX = 256;

/** @returns {object|undefined} the payload with only what the core must see */
function reduce(payload) {
  if (payload === null || typeof payload !== 'object') return undefined;
  const { type, sessionID, messages, childSessions, abandoned } = payload;
  if ((type !== 'reconcile' && type !== 'close') || typeof sessionID !== 'string' || !Array.isArray(messages))
    return undefined;
  if (childSessions != null && !Array.isArray(childSessions)) return undefined;
  const children = childSessions == null ? [] : childSessions;
  const childFields = childrenOf(children);
  if (childFields === undefined) return undefined;
  const prefix = prefixes.get(sessionID);
  const from = prefix !== undefined && prefix.length < messages.length && idAt(messages, 0) === prefix.first &&
    idAt(messages, prefix.length - 1) === prefix.last ? prefix.length : 0;
  const tasks = children.length > 0;
  const walked = walk(messages, sessionID, from, tasks) ?? (from > 0 ? walk(messages, sessionID, 0, tasks) : undefined);
  if (walked === undefined) return undefined;
  const { start, roles, turns, ids } = walked;
  const keep = binding.select(sessionID, type === 'close', roles, turns, ids, childFields, walked.tasks, walked.calls);
  if (keep === undefined) return undefined;
  const n = roles.length;
  remember(sessionID, messages, start, roles, keep);
  const kept = [], keptChildren = [];
  for (let i = 0; i < n; i++) if (keep[i] !== 0) kept.push(messages[start + i]);
  for (let c = 0; c < children.length; c++) if (keep[n + c] !== 0) keptChildren.push(children[c]);
  const out = { type, sessionID, messages: kept, childSessions: keptChildren };
  if (abandoned === true) out.abandoned = true; // the whole last turn is kept: it is "close"
  return out;
}

function idAt(messages, i) {
  const message = messages[i];
  const info = message !== null && typeof message === 'object' ? message.info : undefined;
  return info !== null && typeof info === 'object' ? info.id : undefined;
}

/**
 * Roles and turns of messages[start..] for binding.select (indices relative to start), the ids
 * it reads, and (withTasks) the `task` parts of those messages. undefined when a record is not
 * the shape the fast path handles, or when start > 0 and a message belongs to a turn before
 * start (the caller then walks from 0).
 */
function walk(messages, sessionID, start, withTasks) {
  const n = messages.length - start;
  const roles = new Uint8Array(n), turns = new Int32Array(n);
  const users = []; // indices (relative) of the user messages so far
  let tasks = '', taskCount = 0;
  for (let i = 0; i < n; i++) {
    const message = messages[start + i];
    const info = infoOf(message, sessionID);
    if (info === undefined) return undefined;
    if (withTasks && Array.isArray(message.parts)) {
      for (const part of message.parts) {
        if (part === null || typeof part !== 'object' || part.tool !== 'task') continue;
        tasks += taskFields(i, part);
        taskCount++;
      }
    }
    if (info.role === 'user') {
      roles[i] = ROLE_USER;
      turns[i] = i;
      users.push(i);
      continue;
    }
    if (start > 0 && users.length === 0) return undefined;
    roles[i] = info.role === 'assistant' ? ROLE_ASSISTANT : ROLE_OTHER;
    const turn = turnOf(messages, start, users, info.parentID);
    if (turn === undefined || (turn === NOT_FOUND && start > 0)) return undefined;
    turns[i] = turn === NOT_FOUND ? users[users.length - 1] : turn;
  }
  // The ids the core reads: every user message's (its Turn), and the last turn's (its calls),
  // and the tool calls of the last turn's latest call (whether their spans are out).
  const last = users.length ? users[users.length - 1] : -1;
  let ids = '', latest = -1;
  for (let i = 0; i < n; i++) {
    if (roles[i] === ROLE_USER || (last >= 0 && turns[i] === last)) ids += `${messages[start + i].info.id}\0`;
    if (last >= 0 && turns[i] === last && roles[i] === ROLE_ASSISTANT) latest = i;
  }
  let calls = '', callCount = 0;
  const parts = latest >= 0 ? messages[start + latest].parts : undefined;
  if (Array.isArray(parts)) {
    for (const part of parts) {
      if (part === null || typeof part !== 'object' || part.type !== 'tool' || typeof part.callID !== 'string') continue;
      calls += `${part.callID}\0`;
      callCount++;
    }
  }
  return { start, roles, turns, ids, tasks: `${taskCount}\0${tasks}`, calls: `${callCount}\0${calls}` };
}

/** A message's info when it is a record of this session with a string id and role. */
function infoOf(message, sessionID) {
  const info = message !== null && typeof message === 'object' ? message.info : undefined;
  if (info === null || typeof info !== 'object' || typeof info.id !== 'string' ||
      typeof info.role !== 'string' || info.sessionID !== sessionID)
    return undefined;
  return info;
}

/** A `task` part of message i: where a child session links (reconcile.c's find_task_part). */
function taskFields(i, part) {
  const state = part.state;
  const metadata = state !== null && typeof state === 'object' ? state.metadata : undefined;
  const named = metadata !== null && typeof metadata === 'object' && typeof metadata.sessionId === 'string';
  const call = typeof part.callID === 'string';
  return `${i}\0${(call ? 1 : 0) | (named ? 2 : 0)}\0${call ? part.callID : ''}\0${named ? metadata.sessionId : ''}\0`;
}

/**
 * The child sessions' own fields for binding.select, or undefined when one is not the shape
 * reconcile accepts. Their messages are not read here: a child kept goes to the core whole
 * (which checks each of them), one left out was checked when the core last needed it.
 */
function childrenOf(children) {
  let out = `${children.length}\0`;
  for (const child of children) {
    if (child === null || typeof child !== 'object') return undefined;
    const { sessionID, parentSessionID, parentCallID, info } = child;
    if (typeof sessionID !== 'string' || typeof parentSessionID !== 'string' || !Array.isArray(child.messages)) return undefined;
    if (info !== undefined && (info === null || typeof info !== 'object' || Array.isArray(info))) return undefined;
    const call = typeof parentCallID === 'string', infoID = info !== undefined && typeof info.id === 'string';
    out += `${sessionID}\0${parentSessionID}\0${call ? parentCallID : ''}\0${infoID ? info.id : ''}\0${(call ? 1 : 0) | (infoID ? 2 : 0)}\0`;
  }
  return out;
}

const NOT_FOUND = -2;

/**
 * reconcile.c's turn_owners: the user message a parentID names, searched from the latest one
 * back; the latest one when there is no parentID. NOT_FOUND when the parentID names none (the
 * core then takes the latest one too), -1 when there is no user message yet.
 */
function turnOf(messages, start, users, parentID) {
  const latest = users.length ? users[users.length - 1] : -1;
  if (typeof parentID !== 'string' || latest < 0 || messages[start + latest].info.id === parentID) return latest;
  if (parentID.includes('\0')) return undefined; // C compares up to a NUL: let the core decide
  for (let k = users.length - 2; k >= 0; k--) if (messages[start + users[k]].info.id === parentID) return users[k];
  return NOT_FOUND;
}

/** Remembers where the turns the core is done with end: at the first user message it kept. */
function remember(sessionID, messages, start, roles, keep) {
  let end = start;
  for (let i = 0; i < roles.length; i++) {
    if (roles[i] !== ROLE_USER) continue;
    if (keep[i] !== 0) break;
    end = -1; // a complete turn: the prefix runs to the next user message
    for (let j = i + 1; j < roles.length && end < 0; j++) if (roles[j] === ROLE_USER) end = start + j;
    if (end < 0) return; // cannot happen: the last user message is always kept
  }
  if (end === 0) return;
  prefixes.delete(sessionID);
  if (prefixes.size >= PREFIXES_MAX) prefixes.delete(prefixes.keys().next().value);
  prefixes.set(sessionID, { length: end, first: idAt(messages, 0), last: idAt(messages, end - 1) });
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
