'use strict';
// The public API: reconcile a session snapshot into spans, flush them, read the status.
// Everything heavy happens in the native core, which holds the session model; this file writes
// the payload as JSON text (one crossing) and cuts a whole snapshot at the core's watermark.
const { binding, file } = require('./native.js');
const turns = () => require('./turns.js'); // at the first payload, not when the plugin starts

/**
 * Turns what is new in an OpenCode session snapshot (the whole session or any tail of it) into
 * spans on the export queue. Synchronous; never touches the network; never throws for payload
 * content. The result's watermark says how much of the session the next payload must show.
 * @param {object|string} payload `{type, sessionID, messages, childSessions?, abandoned?}` or its JSON text
 * @param {{turns?: boolean}} [options] turns: also say how many of the spans are Turns
 * @returns {{spans: number, turns?: number, error?: string, childrenUnlinked?: number,
 *   watermark?: {messageID: string, children: string[] | null, openChildren: string[] | null}}}
 */
function reconcile(payload, options) {
  let result;
  try {
    result = reconcileOnce(payload);
  } catch (error) {
    // a RangeError from a string the runtime could not make (memory), a getter that threw
    result = { spans: 0, error: `the payload could not be reconciled: ${firstLine(error)}` };
  }
  if (options && options.turns) result.turns = result.turns || 0;
  else delete result.turns;
  return result;
}

// The core answers every payload with a result; when memory ran out it may give nothing (no
// room even for the result object): reconcile never throws, it says so.
function call(...args) {
  let result;
  try {
    result = binding.reconcile(...args);
  } catch (error) {
    return { spans: 0, error: `the core could not take the payload: ${firstLine(error)}` };
  }
  return result !== null && typeof result === 'object' ? result : { spans: 0, error: 'out of memory' };
}

// The project whose .opencode/arize-tracing.yaml the core reads over the user's settings: the
// directory of the payload's session (OpenCode's `directory`), told to the core when it changes.
let projectDir;
function setProject(payload) {
  let dir;
  try {
    dir = (payload.context && payload.context.directory) || (payload.session && payload.session.directory);
  } catch {
    return; // a getter that threw: the project stays as it was
  }
  if (typeof dir !== 'string' || !dir || dir === projectDir || typeof binding.setProject !== 'function') return;
  projectDir = dir;
  binding.setProject(dir);
}

// For the benchmarks (the plugin's meter, ARIZE_TRACING_BENCH_TIMINGS): where the last payload's
// time went, in ms: cutting it at the watermark, writing it as JSON, the repeat check, the core's
// reconcile() (the crossing included), remembering the watermark; null (not measured) unless asked.
let split = null;

/** Turns the split of each payload's time on (it is then the object returned, filled per payload) or off. */
function benchSplit(on) {
  split = on ? { cut: 0, stringify: 0, same: 0, core: 0, remember: 0, bytes: 0 } : null;
  return split;
}

function reconcileOnce(payload) {
  if (typeof payload === 'string') return remember(undefined, call(payload));
  const t0 = split && performance.now();
  if (payload !== null && typeof payload === 'object') setProject(payload);
  const cut = cutAtWatermark(payload);
  const t1 = split && performance.now();
  let json;
  try {
    json = JSON.stringify(cutLongStrings(cut));
  } catch (error) {
    return call(undefined, `payload cannot be written as JSON (JSON.stringify: ${firstLine(error)})`);
  }
  if (typeof json !== 'string') json = 'null';
  const t2 = split && performance.now();
  const unchanged = sameAsLast(cut, json);
  if (!split) return unchanged !== undefined ? unchanged : remember(cut, call(json), json);
  const t3 = performance.now();
  const result = unchanged !== undefined ? unchanged : call(json);
  const t4 = performance.now();
  const out = unchanged !== undefined ? result : remember(cut, result, json);
  const t5 = performance.now();
  Object.assign(split, { cut: t1 - t0, stringify: t2 - t1, same: t3 - t2, core: t4 - t3, remember: t5 - t4 });
  split.bytes = json.length;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Strings far longer than any attribute can show (a 50 MB tool output) would be written whole
// as JSON, copied to the core and parsed there only to be cut to the attribute limit: seconds
// on OpenCode's thread. So each is cut here first to its head (what any attribute made from it
// shows, and some room) and its tail (where OpenCode writes the marks read at the end, "User
// aborted the command"), around a separator with this process's random tag; the payload's
// "$cuts" gives the size of what each left out, and the core's markers say the whole size
// (native/payload.h, payload_register_cuts). The payload object itself is never changed.
const CUT_TAIL = 4096; // UTF-16 units kept at a cut string's end
const CUT_MIN = 1 << 20; // shorter strings go whole
let cutTag;

/** The limit an attribute is cut to (limits.max_attribute_bytes), read when a string may need it. */
function attributeLimit() {
  try {
    return JSON.parse(binding.configStatus()).settings['limits.max_attribute_bytes'] || 32768;
  } catch {
    return 16 * 1024 * 1024; // the largest it can be: cut less, never too much
  }
}

function countOf(text, ch) {
  let n = 0;
  for (let i = text.indexOf(ch); i >= 0; i = text.indexOf(ch, i + 1)) n++;
  return n;
}

/** [bytes, characters, bytes and characters once escaped in JSON] of text, as the core counts them. */
function measure(text) {
  const bytes = Buffer.byteLength(text, 'utf8'); // a lone surrogate: 3, as its U+FFFD
  let pairs = 0;
  if (/[\uD800-\uDFFF]/.test(text)) {
    const re = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;
    while (re.exec(text)) pairs++;
  }
  let extra = countOf(text, '"') + countOf(text, '\\');
  for (const c of ['\b', '\f', '\n', '\r', '\t']) extra += countOf(text, c);
  if (/[\u0000-\u0007\u000b\u000e-\u001f]/.test(text)) {
    const re = /[\u0000-\u0007\u000b\u000e-\u001f]/g;
    while (re.exec(text)) extra += 5;
  }
  const chars = text.length - pairs;
  return [bytes, chars, bytes + extra, chars + extra];
}

/** The payload with its huge strings cut (a copy along their paths), or the payload itself. */
function cutLongStrings(payload) {
  let keep = 0;
  const items = [];
  const walk = (v, depth) => {
    if (typeof v === 'string') {
      if (v.length <= CUT_MIN) return v;
      if (!keep) keep = attributeLimit() + 1024;
      if (v.length <= 2 * keep + 2 * CUT_TAIL) return v;
      let head = keep,
        tail = v.length - CUT_TAIL;
      if (/[\uD800-\uDBFF]/.test(v[head - 1])) head++; // whole surrogate pairs
      if (/[\uDC00-\uDFFF]/.test(v[tail])) tail++;
      if (!cutTag) cutTag = `OATJS${require('node:crypto').randomBytes(8).toString('hex')}`;
      items.push(measure(v.slice(head, tail)));
      return `${v.slice(0, head)}\u0000${cutTag}:${items.length - 1}\u0000${v.slice(tail)}`;
    }
    if (v === null || typeof v !== 'object' || depth > 64 || typeof v.toJSON === 'function') return v;
    let copy;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const w = walk(v[i], depth + 1);
        if (w !== v[i]) (copy ||= v.slice())[i] = w;
      }
    } else {
      for (const k of Object.keys(v)) {
        const w = walk(v[k], depth + 1);
        if (w !== v[k]) (copy ||= { ...v })[k] = w;
      }
    }
    return copy || v;
  };
  try {
    const out = walk(payload, 0);
    if (!items.length || out === null || typeof out !== 'object' || Array.isArray(out)) return payload;
    return { ...out, $cuts: { tag: cutTag, items } };
  } catch {
    return payload; // a getter that throws, a cycle: written as it is, the core says what it finds
  }
}

function firstLine(error) {
  try {
    return String((error && error.message) || error || 'it threw').split(/\r?\n/)[0] || 'it threw';
  } catch (e) {
    return 'it threw';
  }
}

// ---------------------------------------------------------------------------------------------
// Whole snapshots. OpenCode repeats the whole session in every snapshot, but only its open part
// can still produce spans. The core says where that part starts (result.watermark: the session
// model lives in C, native/reconcile.h); a later snapshot of the same session is cut there
// before it is written as JSON, with a binary search (OpenCode's message ids ascend), and the
// child sessions the core called done are left out. Only a cut that finds the watermark message
// itself is made, and only when every message cut off is a record of this session (a foreign
// record still rejects the payload); anything else goes whole.

/** Per session (this process): the last watermark and the child sessions the core is done with. */
const marks = new Map();
const MARKS_MAX = 256;

function idOf(message) {
  const info = message !== null && typeof message === 'object' ? message.info : undefined;
  return info !== null && typeof info === 'object' && typeof info.id === 'string' ? info.id : undefined;
}

/** The payload without what the core said it is done with; the payload itself when nothing is cut. */
function cutAtWatermark(payload) {
  try {
    if (payload === null || typeof payload !== 'object') return payload;
    const { sessionID, messages, childSessions } = payload;
    const mark = typeof sessionID === 'string' ? marks.get(sessionID) : undefined;
    if (mark === undefined || !Array.isArray(messages)) return payload;
    const from = firstAtOrAfter(messages, mark.messageID);
    const ownedBefore =
      from > 0 &&
      messages
        .slice(0, from)
        .every(
          (m) =>
            m !== null &&
            typeof m === 'object' &&
            m.info !== null &&
            typeof m.info === 'object' &&
            m.info.sessionID === sessionID,
        );
    const cutMessages = ownedBefore ? messages.slice(from) : messages;
    const children =
      Array.isArray(childSessions) && mark.done.size > 0
        ? childSessions.filter((c) => !(c !== null && typeof c === 'object' && mark.done.has(c.sessionID)))
        : childSessions;
    // what was cut says where the payload's turns stand (their numbers, reconcile.h)
    const position = cutMessages === messages ? {} : cutPosition(payload, messages.slice(0, from));
    // a payload that starts at the watermark without saying which turn came before it: the one
    // an earlier payload showed
    const first = idOf(cutMessages[0]);
    const previous =
      position.turnsBefore === undefined &&
      position.previousTurn === undefined &&
      payload.turnsBefore === undefined &&
      payload.previousTurn === undefined &&
      mark.previous !== undefined &&
      first !== undefined &&
      first >= mark.messageID
        ? { previousTurn: mark.previous }
        : {};
    if (cutMessages === messages && children === childSessions && !previous.previousTurn) return payload;
    return { ...payload, ...position, ...previous, messages: cutMessages, childSessions: children };
  } catch (error) {
    return payload; // a getter threw: the core reads the payload as JSON.stringify writes it
  }
}

/** turnsBefore and previousTurn of a payload whose first messages (cut) are left out. */
function cutPosition(payload, cut) {
  const before = Number.isInteger(payload.turnsBefore) && payload.turnsBefore >= 0 ? payload.turnsBefore : undefined;
  const position = turns().turnPosition(cut, before !== undefined);
  if (before !== undefined) position.turnsBefore += before;
  if (position.previousTurn === undefined && typeof payload.previousTurn === 'string')
    position.previousTurn = payload.previousTurn;
  return position;
}

/** The index of the message whose id is `id` (binary search), or 0 when it is not found. */
function firstAtOrAfter(messages, id) {
  let lo = 0,
    hi = messages.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = idOf(messages[mid]);
    if (at === undefined) return 0;
    if (at < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < messages.length && idOf(messages[lo]) === id ? lo : 0;
}

// The open part of a session often repeats unchanged (OpenCode reports a completed message
// more than once, and goes idle twice after an error): a payload whose text is the one that
// last found nothing new for the session finds nothing new again (the state only grows), and
// does not cross. One text per session, each at most REPEAT_MAX_BYTES, all of them together at
// most REPEAT_TOTAL_BYTES (the least recently used sessions' texts go first).
const REPEAT_MAX_BYTES = 4 * 1024 * 1024;
const REPEAT_TOTAL_BYTES = 16 * 1024 * 1024;
let repeatBytes = 0; // the length of every text kept in marks

/** The last result again when json is the session's last payload text that found nothing new. */
function sameAsLast(payload, json) {
  const mark =
    payload !== null && typeof payload === 'object' && typeof payload.sessionID === 'string'
      ? marks.get(payload.sessionID)
      : undefined;
  if (mark === undefined || mark.text !== json) return undefined;
  return JSON.parse(JSON.stringify(mark.result));
}

/** Drops a session's mark (and its text from the total). */
function forget(sessionID) {
  const mark = marks.get(sessionID);
  if (mark !== undefined && mark.text !== undefined) repeatBytes -= mark.text.length;
  marks.delete(sessionID);
}

/** Keeps the result's watermark for the next snapshot of the session. */
function remember(payload, result, json) {
  const watermark = result && result.watermark;
  if (payload === null || typeof payload !== 'object' || typeof payload.sessionID !== 'string') return result;
  const { sessionID } = payload;
  if (!watermark) {
    if (result && result.error) forget(sessionID);
    return result;
  }
  const previous = marks.get(sessionID);
  const done = previous !== undefined && previous.messageID <= watermark.messageID ? previous.done : new Set();
  if (Array.isArray(payload.childSessions) && Array.isArray(watermark.children)) {
    const open = new Set(watermark.children);
    for (const c of payload.childSessions)
      if (c !== null && typeof c === 'object' && typeof c.sessionID === 'string' && !open.has(c.sessionID))
        done.add(c.sessionID);
  }
  forget(sessionID);
  if (marks.size >= MARKS_MAX) forget(marks.keys().next().value);
  const repeat = result.spans === 0 && !result.error && json !== undefined && json.length <= REPEAT_MAX_BYTES;
  if (repeat) {
    repeatBytes += json.length;
    for (const m of marks.values()) {
      if (repeatBytes <= REPEAT_TOTAL_BYTES) break;
      if (m.text !== undefined) ((repeatBytes -= m.text.length), (m.text = m.result = undefined));
    }
  }
  marks.set(sessionID, {
    messageID: watermark.messageID,
    previous: previousTurn(payload, watermark.messageID, previous),
    openChildren: Array.isArray(watermark.openChildren) ? watermark.openChildren : null,
    done,
    text: repeat ? json : undefined,
    result: repeat ? JSON.parse(JSON.stringify(result)) : undefined,
  });
  return result;
}

/** The user message that opened the last turn before `messageID` in the payload, or as known before. */
function previousTurn(payload, messageID, previous) {
  const messages = Array.isArray(payload.messages) ? payload.messages : [];
  let at = messages.findIndex((m) => !(String(idOf(m)) < messageID));
  if (at < 0) at = messages.length;
  const head = turns().heads(messages.slice(0, at)).pop();
  if (head !== undefined) return idOf(messages[head]);
  if (typeof payload.previousTurn === 'string') return payload.previousTurn;
  return previous !== undefined && previous.previous !== undefined && previous.previous < messageID
    ? previous.previous
    : undefined;
}

/**
 * Where the session's open part starts, as the core last said (this process): the oldest message
 * that can still produce spans (`from`), and the child sessions that can still produce spans
 * (`openChildren`, null: any may). undefined before the session's first payload. The one memory
 * of it: the plugin asks here how far back to read, and hands every message it read; the cut is
 * made here.
 * @param {string} sessionID
 * @returns {{from: string, openChildren: string[] | null} | undefined}
 */
function openPart(sessionID) {
  const mark = marks.get(sessionID);
  return mark === undefined ? undefined : { from: mark.messageID, openChildren: mark.openChildren };
}

/**
 * Resolves once every span queued so far was answered by the backend, or at the timeout.
 * exported/dropped are the first destination's; pending is the most any destination still has
 * to send (with several destinations, a span one of them has not taken still waits in the spool).
 * @param {number} [timeoutMs=10000]
 * @returns {Promise<{exported: number, pending: number, dropped: number}>}
 */
function flush(timeoutMs) {
  return binding.flush(ms(timeoutMs));
}

/**
 * Flushes for at most timeoutMs, then stops the exporter thread; without a timeout, the
 * configured exit bound (export.exit_flush_ms), read by the core.
 */
function shutdown(timeoutMs) {
  binding.shutdown(ms(timeoutMs));
}

/** Whether tracing is on (the settings as they are now), without the status JSON: per event. */
function enabled() {
  // a core older than this file has no door: its status says
  return typeof binding.enabled === 'function' ? binding.enabled() : JSON.parse(binding.status()).enabled !== false;
}

/** The configured exit bound in ms (export.exit_flush_ms, ARIZE_EXIT_FLUSH_MS). */
function exitBoundMs() {
  return typeof binding.exitBoundMs === 'function' ? binding.exitBoundMs() : JSON.parse(binding.status()).exit_flush_ms;
}

// A timeout as a number; absent stays absent, so the core's default applies (native/binding.c).
function ms(timeoutMs) {
  return timeoutMs === undefined ? undefined : Number(timeoutMs);
}

/** Counters, the resolved backend and the config's health. Never a secret. */
function status() {
  return Object.assign(JSON.parse(binding.status()), { binary: file });
}

/**
 * text with the secrets the current settings find replaced by "<redacted:KIND>" markers, as a
 * span would carry it (native/redact.h): {text, redactions}. Reads the settings; sends nothing.
 */
function redact(text) {
  return binding.redactText(String(text));
}

/**
 * url as it may be shown in a line or a summary: without the user:password@ before its host, its
 * ?query and its #fragment (the core's one rule, native/text.h; the log, status, doctor and
 * install show endpoints through it). Pure: reads no settings.
 */
function urlForDisplay(url) {
  return binding.urlForDisplay(String(url));
}

module.exports = {
  reconcile,
  openPart,
  benchSplit,
  flush,
  shutdown,
  enabled,
  exitBoundMs,
  status,
  redact,
  urlForDisplay,
  version: binding.version,
};
