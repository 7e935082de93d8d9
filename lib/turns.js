'use strict';
// Where turns begin in a list of OpenCode messages, by the core's rule (native/payload.h,
// payload_is_continuation; native/reconcile.c, turn_owners): a user message opens a turn unless
// it continues the one before it, as the messages of OpenCode's automatic compaction do (a
// `compaction` part with `auto: true`, and the synthetic "continue" message after the summary,
// a text part whose metadata says `compaction_continue`). Used to say where a payload's turns
// stand in their session (the Turn's turn number) and where the last turn begins (the sweep).

/** @param {any} m an OpenCode message ({info, parts}) */
function isContinuation(m) {
  if (!m || !m.info || m.info.role !== 'user' || !Array.isArray(m.parts)) return false;
  return m.parts.some(
    (p) =>
      p &&
      ((p.type === 'compaction' && p.auto === true) ||
        (p.type === 'text' && p.metadata && p.metadata.compaction_continue === true)),
  );
}

/** The indices of the messages that open a turn (a continuation opens one only when none came before it). */
function heads(messages) {
  const out = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m && m.info && m.info.role === 'user' && (out.length === 0 || !isContinuation(m))) out.push(i);
  }
  return out;
}

/**
 * What the core needs to number a payload's turns, from the messages of the session that come
 * right before the payload (`before`, oldest first) and whether they start at the session's
 * first message: {turnsBefore} (how many turns they hold) when they do; {previousTurn} (the
 * user message that opened the last of them) when it is among them. Proportional to `before`.
 * @param {any[]} before @param {boolean} fromStart
 */
function turnPosition(before, fromStart) {
  const out = {};
  if (fromStart) out.turnsBefore = heads(before).length;
  for (let i = before.length - 1; i >= 0; i--) {
    const m = before[i];
    if (!m || !m.info || m.info.role !== 'user' || isContinuation(m)) continue;
    if (typeof m.info.id === 'string') out.previousTurn = m.info.id;
    break;
  }
  return out;
}

module.exports = { isContinuation, heads, turnPosition };
