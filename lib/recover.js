'use strict';
// Turns left open: closing, from OpenCode's own snapshot, the turns whose OpenCode is gone.
//
// A turn stays open until session.idle (a "close" payload) or a newer user message. When the
// OpenCode that ran it is killed (SIGTERM, a crash) or quits before its session.idle work ran
// (ctrl-c the instant the answer appears), neither comes, and its trace never gets a root.
// The plugin's start-up sweep and `backfill` close such turns with a "close" payload marked
// "abandoned" (native/reconcile.h): a model call that never completed becomes an LLM span with
// ERROR "interrupted", ending at the last time OpenCode recorded; the Turn is sent.
//
// The rule — a session's open turn is closed only when no running OpenCode works on it:
//   1. its last activity (the session's time.updated) is older than the sweeping process:
//      a session touched since then has a live OpenCode (this one, or another that was
//      alive after this one started);
//   2. no live plugin process names it: each plugin instance keeps a marker file
//      (~/.arize/harness/live/opencode/<host>.<pid>.<random>.json) listing the sessions it
//      saw activity in; a marker whose process is gone (same host, pid not running) does not
//      count, and is removed. A marker of another host counts as live for a day;
//   3. the sweeping OpenCode itself is not busy with it (client.session.status()).
// A pid reused by another program keeps a session open a while longer (the safe side). An
// OpenCode running without this plugin is invisible to rule 2; should it go on with a turn
// that was closed, its later calls still hang off the Turn already sent (the same ids), and
// the call sent as interrupted is not sent again.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = () => require('node:crypto'); // when a marker is written, not at the plugin's start

const { isContinuation } = require('./turns.js');

const MARKER_SESSIONS_MAX = 1000;
const BEAT_MS = 2000; // how often a busy process touches its marker (its last-seen-alive time)
const FOREIGN_MARKER_MS = 24 * 3600 * 1000;

/** The marker directory, beside the core's state and spool (the same home: binary.userHome). */
function liveDir(home = require('./binary.js').userHome()) {
  return path.join(home, '.arize', 'harness', 'live', 'opencode');
}

/**
 * This process's marker: the sessions it works on, for other processes' sweeps. Writes are
 * asynchronous and coalesced (never on OpenCode's thread's critical path); failures are
 * ignored (a missing marker only means another process may close a turn it should not, which
 * the ids make harmless).
 */
class Marker {
  constructor(dir) {
    this.dir = dir;
    this.file = path.join(
      dir,
      `${os.hostname().replace(/[^\w.-]/g, '_')}.${process.pid}.${crypto().randomBytes(4).toString('hex')}.json`,
    );
    this.sessions = new Set();
    this.writing = null;
    this.dirty = false;
    this.closed = false;
    this.onExit = () => {
      try {
        fs.rmSync(this.file, { force: true });
      } catch {
        /* nothing to do at exit */
      }
    };
    process.once('exit', this.onExit);
  }

  /** @param {string} sessionID */
  add(sessionID) {
    if (this.closed || typeof sessionID !== 'string' || this.sessions.has(sessionID)) return;
    if (this.sessions.size >= MARKER_SESSIONS_MAX) this.sessions.delete(this.sessions.values().next().value);
    this.sessions.add(sessionID);
    this.dirty = true;
    if (!this.writing) this.writing = this.flush();
  }

  has(sessionID) {
    return this.sessions.has(sessionID);
  }

  /**
   * The process is alive: the marker's modification time says so, at most every BEAT_MS. When
   * the process is killed mid-turn, the sweep that finds its marker dead ends the calls and
   * tools it cut off at that time (a bash call killed 5 s in lasts 5 s, not until the last time
   * OpenCode recorded in it). One asynchronous utimes, never awaited by the caller.
   */
  beat(now = Date.now()) {
    if (this.closed || this.sessions.size === 0 || now - (this.beaten || 0) < BEAT_MS) return;
    this.beaten = now;
    fs.promises.utimes(this.file, now / 1000, now / 1000).catch(() => {});
  }

  async flush() {
    try {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        const body = JSON.stringify({ pid: process.pid, host: os.hostname(), sessions: [...this.sessions] });
        await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
        const tmp = `${this.file}.tmp`;
        await fs.promises.writeFile(tmp, body, { mode: 0o600 });
        await fs.promises.rename(tmp, this.file);
      }
    } catch {
      /* see the class comment */
    } finally {
      this.writing = null;
    }
  }

  async remove() {
    this.closed = true;
    process.removeListener('exit', this.onExit);
    await this.writing;
    await fs.promises.rm(this.file, { force: true }).catch(() => {});
  }
}

function pidRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error && error.code === 'EPERM'; // alive, another user's
  }
}

/**
 * The sessions that live processes other than `self` (a Marker, or null) work on. Markers of
 * processes that are gone are removed; when `stopped` (a Map) is given, it gets, for each
 * session a gone process named, when that process was last seen alive (its marker's
 * modification time, ms). Never throws.
 * @returns {Promise<Set<string>>}
 */
async function liveSessions(dir, self, stopped) {
  const live = new Set();
  let names = [];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return live;
  }
  const host = os.hostname();
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const file = path.join(dir, name);
    if (self && file === self.file) continue;
    let marker;
    try {
      marker = JSON.parse(await fs.promises.readFile(file, 'utf8'));
    } catch {
      continue; // being written, or not ours to judge
    }
    if (!marker || !Array.isArray(marker.sessions)) continue;
    if (marker.host === host) {
      if (!Number.isInteger(marker.pid) || !pidRunning(marker.pid)) {
        const stat = stopped ? await fs.promises.stat(file).catch(() => null) : null;
        if (stat)
          for (const id of marker.sessions)
            if (typeof id === 'string') stopped.set(id, Math.max(stopped.get(id) || 0, Math.floor(stat.mtimeMs)));
        await fs.promises.rm(file, { force: true }).catch(() => {});
        continue;
      }
    } else {
      const stat = await fs.promises.stat(file).catch(() => null);
      if (!stat || Date.now() - stat.mtimeMs > FOREIGN_MARKER_MS) continue;
    }
    for (const id of marker.sessions) if (typeof id === 'string') live.add(id);
  }
  return live;
}

/**
 * What earlier sweeps found settled: session id -> the time.updated it had then. A session
 * not updated since has nothing new to close, and is not read again (a sweep at every start
 * would otherwise re-read every session of the window). Shared by the processes of a user;
 * the last writer wins, which costs at most a session read again.
 */
class Settled {
  constructor(dir) {
    this.file = path.join(dir, 'settled.json');
    this.seen = new Map();
  }

  async load() {
    try {
      const saved = JSON.parse(await fs.promises.readFile(this.file, 'utf8'));
      for (const [id, updated] of Object.entries(saved || {})) if (Number.isFinite(updated)) this.seen.set(id, updated);
    } catch {
      /* none yet, or unreadable: every session is read */
    }
    return this;
  }

  /** Whether session is as it was when a sweep found it settled. */
  has(session) {
    return this.seen.get(session.id) === updatedAt(session);
  }

  add(session) {
    this.seen.set(session.id, updatedAt(session));
  }

  /** Keeps the entries of the window only. Never throws. */
  async save(oldest) {
    try {
      const keep = {};
      for (const [id, updated] of this.seen) if (updated >= oldest) keep[id] = updated;
      await fs.promises.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await fs.promises.writeFile(tmp, JSON.stringify(keep), { mode: 0o600 });
      await fs.promises.rename(tmp, this.file);
    } catch {
      /* the next sweep reads these sessions again */
    }
  }
}

/** A session's time.updated (ms), or 0. */
const updatedAt = (session) => Number((session && session.time && session.time.updated) || 0);

/**
 * Which of `sessions` (OpenCode Session objects) a sweep may close: root sessions updated
 * within the window and before `startedAt`, not named in `live`, newest first.
 * @param {object[]} sessions @param {{startedAt: number, windowMs: number, live: Set<string>, now?: number}} o
 */
function candidates(sessions, { startedAt, windowMs, live, now = Date.now() }) {
  return sessions
    .filter(
      (s) =>
        s &&
        typeof s.id === 'string' &&
        !s.parentID &&
        updatedAt(s) >= now - windowMs &&
        updatedAt(s) < startedAt &&
        !live.has(s.id),
    )
    .sort((a, b) => updatedAt(b) - updatedAt(a));
}

/** The latest time OpenCode recorded in messages (ms), or 0. */
function lastActivity(messages) {
  let t = 0;
  for (const m of messages) {
    const time = (m && m.info && m.info.time) || {};
    t = Math.max(t, Number(time.created) || 0, Number(time.completed) || 0);
  }
  return t;
}

/**
 * The messages from the last turn's user message on, or undefined when none: a user message
 * that continues the turn before it (lib/turns.js) does not open one, so the last turn of a
 * session OpenCode compacted mid-turn starts at the prompt before the compaction.
 */
function lastTurn(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.info && m.info.role === 'user' && !isContinuation(m)) return messages.slice(i);
  }
  return undefined;
}

// Every session of a project: OpenCode's session list (GET /session) answers the 100 most
// recently updated unless given a `limit` (no cap). The start-up sweep and backfill both ask for it.
const SESSIONS_LIMIT = 1000000000;

/**
 * The child session a message part names: a `task` tool call runs a subagent in a session of its
 * own (its id in the call's metadata). The one place this rule lives on the JS side (the plugin,
 * the start-up sweep and backfill collect children through childSessions below).
 * @returns {string | undefined}
 */
function childOf(part) {
  const child =
    part && part.type === 'tool' && part.tool === 'task' && part.state && part.state.metadata
      ? part.state.metadata.sessionId
      : undefined;
  return typeof child === 'string' ? child : undefined;
}

/**
 * The child sessions named by `task` calls of messages (and theirs, depth first), as a payload
 * carries them: {sessionID, parentSessionID, parentCallID, info, messages}.
 * fetchChild(id) answers {info, messages} or nothing (then the child is left out).
 * options.closing false (the plugin between turns): a child whose task call has not ended yet is
 * left for later (it is still running); true (default): every child, as it stands.
 * options.reuse(id): an entry passed before, to pass again instead of fetching (the plugin keeps
 * the children the core said can no longer change), or undefined.
 */
async function childSessions(sessionID, messages, fetchChild, options = {}, seen = new Set([sessionID]), out = []) {
  const closing = options.closing !== false;
  for (const message of messages)
    for (const part of (message && message.parts) || []) {
      const child = childOf(part);
      if (child === undefined || seen.has(child)) continue;
      const status = part.state.status;
      if (!closing && status !== 'completed' && status !== 'error') continue;
      seen.add(child);
      let entry = options.reuse ? options.reuse(child) : undefined;
      if (!entry) {
        const got = await fetchChild(child);
        if (!got || !got.info || !Array.isArray(got.messages)) continue;
        entry = {
          sessionID: child,
          parentSessionID: sessionID,
          parentCallID: part.callID,
          info: got.info,
          messages: got.messages,
        };
      }
      out.push(entry);
      await childSessions(child, entry.messages, fetchChild, options, seen, out);
    }
  return out;
}

module.exports = {
  liveDir,
  Marker,
  Settled,
  liveSessions,
  candidates,
  SESSIONS_LIMIT,
  childOf,
  childSessions,
  updatedAt,
  lastActivity,
  lastTurn,
};
