// opencode-arize-tracing — the open part of each session, as OpenCode's events tell it.
//
// OpenCode stores every change to a message and then publishes it: `message.updated` carries
// the message's whole info, `message.part.updated` the whole part (a tool's state, a text once
// it ended), `message.removed` / `message.part.removed` what went. Kept here, per session, they
// are what a read of the session through OpenCode's server would answer (compared on the
// shared captures, event by event), so a payload is assembled from them without a read: a read
// costs OpenCode ~25 ms of its own CPU per event, at any session size; keeping an event costs a
// map update.
//
// This is not a session model: the core holds that (which message belongs to which turn, what is
// new, where the open part starts). Here are only the messages, their parts, the sessions'
// infos, and from which message on what is kept stands for the session (`since`):
// - a session this process saw created (`session.created`) is known from its start;
// - any other (OpenCode restarted, the plugin loaded late) from the oldest message a read gave
//   (`seed`: a read answers every message from its oldest on), kept up to date by the events;
// - what the core's watermark left behind goes (`keepFrom`), and so does a session the core is
//   done with (`drop`);
// - gaps say so: a message with parts but no info, or a completed assistant message without
//   parts and without an error (events were missed), make `messages` answer undefined, and the
//   plugin reads.
// Bounded: SESSIONS_MAX sessions (the least recently changed go first, and are read again if
// they come back) and MESSAGES_MAX messages per session (past it, the session is read).

const SESSIONS_MAX = 256
const MESSAGES_MAX = 4000

/** @typedef {{id: string, sessionID: string, role?: string, time?: {created?: number, completed?: number}}} Info */
/** @typedef {{id: string, sessionID: string, messageID: string}} Part */
/** @typedef {{info: Info | undefined, parts: Map<string, Part>}} Entry */
/**
 * since: every message from this id on is kept ("": from the session's start; undefined: none
 * can be vouched for, a read is needed)
 * @typedef {{info: any, since: string | undefined, messages: Map<string, Entry>}} Session
 */

/**
 * How far along a part is: a tool call pending, running, then over; a text or reasoning
 * streaming, then ended; any other part is written once.
 * @param {any} part
 */
function stage(part) {
  if (part.type === "tool") return { pending: 0, running: 1 }[part.state?.status] ?? 2
  if (part.type === "text" || part.type === "reasoning") return part.time?.end ? 2 : 1
  return 2
}

/** @param {Map<string, any>} map @returns {any[]} the values, by key (OpenCode's ids ascend in time) */
const byId = (map) => [...map.keys()].sort().map((k) => map.get(k))

/**
 * @param {{enabled?: () => boolean, sessionsMax?: number, messagesMax?: number}} [options]
 *   enabled: whether to keep anything (tracing on); off, events are not kept
 */
export function createOpenPart(options = {}) {
  const enabled = options.enabled ?? (() => true)
  const sessionsMax = options.sessionsMax ?? SESSIONS_MAX
  const messagesMax = options.messagesMax ?? MESSAGES_MAX
  /** @type {Map<string, Session>} by last change, oldest first */
  const sessions = new Map()

  /** The session's entry, made most recent; created (vouching for nothing) when absent. */
  function touch(/** @type {string} */ id) {
    let s = sessions.get(id)
    if (s) sessions.delete(id)
    else s = { info: undefined, since: undefined, messages: new Map() }
    sessions.set(id, s)
    if (sessions.size > sessionsMax) sessions.delete(sessions.keys().next().value)
    return s
  }

  /** @param {Session} s @param {string} id */
  function entry(s, id) {
    let m = s.messages.get(id)
    if (!m) {
      m = { info: undefined, parts: new Map() }
      s.messages.set(id, m)
      // a turn this long is read instead: what is kept stays bounded
      if (s.messages.size > messagesMax) (s.messages.clear(), (s.since = undefined))
    }
    return m
  }

  return {
    /**
     * One OpenCode event: kept if it changes a message, a part or a session. O(1), never throws
     * for its content.
     * @param {{type?: string, properties?: any}} event
     */
    event(event) {
      const p = event?.properties
      if (!p || typeof p !== "object" || !enabled()) return
      switch (event.type) {
        case "message.part.updated": {
          const part = p.part
          if (typeof part?.sessionID !== "string" || typeof part.messageID !== "string" || typeof part.id !== "string")
            return
          entry(touch(part.sessionID), part.messageID).parts.set(part.id, part)
          return
        }
        case "message.updated": {
          const info = p.info
          if (typeof info?.sessionID !== "string" || typeof info.id !== "string") return
          entry(touch(info.sessionID), info.id).info = info
          return
        }
        case "message.part.removed":
          if (typeof p.sessionID === "string")
            sessions.get(p.sessionID)?.messages.get(p.messageID)?.parts.delete(p.partID)
          return
        case "message.removed":
          if (typeof p.sessionID === "string") sessions.get(p.sessionID)?.messages.delete(p.messageID)
          return
        case "session.created":
        case "session.updated": {
          const info = p.info
          if (typeof info?.id !== "string") return
          const s = touch(info.id)
          s.info = info
          // created here: every message it will hold is seen from its start
          if (event.type === "session.created" && s.messages.size === 0) s.since = ""
          return
        }
        case "session.deleted":
          if (typeof p.info?.id === "string") sessions.delete(p.info.id)
          return
      }
    },

    /**
     * From which message on what is kept stands for the session ("": its start), or undefined.
     * @param {string} id
     */
    since: (id) => sessions.get(id)?.since,

    /** The session's info as its last event gave it, or undefined. @param {string} id */
    info: (id) => sessions.get(id)?.info,

    /**
     * The session's messages from `from` on (from its start when undefined), oldest first, as
     * a read would give them; undefined when what is kept cannot stand for them.
     * @param {string} id @param {string} [from]
     */
    messages(id, from) {
      const s = sessions.get(id)
      const since = s?.since
      if (since === undefined || (since !== "" && (from === undefined || from < since))) return undefined
      const out = []
      for (const id of [...s.messages.keys()].sort()) {
        if (from !== undefined && id < from) continue
        const m = /** @type {Entry} */ (s.messages.get(id))
        // parts without their message, a prompt without parts, a model call that finished
        // without parts and without an error (one refused at once has none), a model call whose
        // prompt is not kept: events were missed
        const info = m.info
        if (!info || (m.parts.size === 0 && (info.role === "user" || (info.time?.completed && !info.error))))
          return undefined
        const parent = info.role === "assistant" && typeof info.parentID === "string" ? info.parentID : undefined
        if (parent !== undefined && (from === undefined || parent >= from) && !s.messages.get(parent)?.info)
          return undefined
        out.push({ info, parts: byId(m.parts) })
      }
      return out
    },

    /**
     * What a read gave, every message from its oldest on (`all`: the session's every message):
     * kept where events have not said more (an event is never older than the read it raced,
     * unless events were missed: then what is further along wins, a finished message or part
     * over an unfinished one), and from now on the session stands on what is kept.
     * @param {string} id @param {{info?: any, parts?: any[]}[]} messages @param {boolean} all
     * @param {any} [info] the session's info, when read
     */
    seed(id, messages, all, info) {
      if (!enabled()) return
      const s = touch(id)
      if (info && !s.info) s.info = info
      const oldest = all ? "" : messages[0]?.info?.id
      if (typeof oldest !== "string") return
      for (const m of messages) {
        if (typeof m?.info?.id !== "string") continue
        const e = entry(s, m.info.id)
        if (!e.info || (!e.info.time?.completed && m.info.time?.completed)) e.info = m.info
        for (const part of Array.isArray(m.parts) ? m.parts : []) {
          if (typeof part?.id !== "string") continue
          const kept = e.parts.get(part.id)
          if (!kept || stage(part) > stage(kept)) e.parts.set(part.id, part)
        }
      }
      if (s.messages.size > messagesMax) (s.messages.clear(), (s.since = undefined))
      else if (s.since === undefined || oldest < s.since) s.since = oldest
    },

    /**
     * Forgets the session's messages older than `from` (the core's watermark).
     * @param {string} id @param {string} from
     */
    keepFrom(id, from) {
      const s = sessions.get(id)
      if (!s) return
      let dropped = false
      for (const k of [...s.messages.keys()]) if (k < from) dropped = s.messages.delete(k)
      // from the session's start only while nothing of it went
      if (s.since !== undefined && s.since < from && (dropped || s.since !== "")) s.since = from
    },

    /** Forgets the session (the core is done with it). @param {string} id */
    drop(id) {
      sessions.delete(id)
    },

    /** Forgets everything (tracing turned off). */
    clear() {
      sessions.clear()
    },

    /** How much is kept: sessions and messages. */
    size() {
      let messages = 0
      for (const s of sessions.values()) messages += s.messages.size
      return { sessions: sessions.size, messages }
    },
  }
}
