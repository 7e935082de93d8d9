// opencode-arize-tracing — the OpenCode plugin (plain ESM, so Node and Bun both load it; the
// package's ESM entry exports it as OpenCode's `{id, server}` default).
//
// On every completed assistant message it reads the open part of the session (the messages
// that can still produce spans: the tail, `limit`/`before` pages back to the core's watermark)
// and hands it to the native core ("reconcile"); on session.idle it does the same with
// "close", which lets the core finish the turn. The core holds the session model: it decides
// what is new, builds the spans, exports them on its own thread, and answers where the open
// part starts. Subagent sessions travel inside their parent's payload, fetched when their
// task call ends.
//
// OpenCode rules this file follows (see the project's OPENCODE.md): only function exports;
// `event` is not awaited, so work is chained per session and `dispose` waits for it and
// flushes; a `.node` loads through require, never import; nothing we do may throw into
// OpenCode.
import { appendFileSync } from "node:fs"
import { createRequire } from "node:module"

/** @typedef {import("../lib/index").ReconcilePayload} ReconcilePayload */
/** @typedef {{type?: string, tool?: string, callID?: string, state?: {metadata?: {sessionId?: string}}}} Part */
/** @typedef {{info?: {role?: string}, parts?: Part[]}} Message */

const SERVICE = "arize-tracing"
const DISPOSE_FLUSH_MS = 5000
const TAIL = 20 // messages per event: a turn is about 5 to 10 (one per model call)
const PAGE_MAX = 2000 // messages per page when fetching further back

// The API beside this file; a .node loads only through require, never import.
function loadApi() {
  return createRequire(import.meta.url)("../lib/index.js")
}

/** @param {unknown} error */
const text = (error) => String((error && /** @type {Error} */ (error).message) || error).split("\n").join(" ")

/**
 * The plugin: OpenCode calls it once per instance with its SDK client and awaits the hooks.
 * @param {{client: any}} input
 */
export const ArizeTracing = async ({ client }) => {
  /** @param {"warn" | "error"} level @param {string} message */
  const log = (level, message) =>
    Promise.resolve(client?.app?.log?.({ body: { service: SERVICE, level, message } })).catch(() => {})

  let api
  try {
    api = loadApi()
  } catch (error) {
    await log("error", `tracing is off: ${text(error)}`)
    return {}
  }

  /** @type {Map<string, string | null>} session id -> parentID (never changes) */
  const parentOf = new Map()
  /** @type {Map<string, Promise<unknown>>} per session: snapshots in event order */
  const chains = new Map()

  /** The `data` of an SDK call. @param {Promise<{data?: any}> | undefined} call */
  const data = async (call) => (await call)?.data

  /** @param {string} sessionID */
  async function parentID(sessionID) {
    if (!parentOf.has(sessionID)) {
      const session = await data(client.session.get({ path: { id: sessionID } }))
      parentOf.set(sessionID, session?.parentID ?? null)
    }
    return parentOf.get(sessionID) ?? null
  }

  /**
   * Per root session: where its open part starts (the core's watermark: the oldest message that
   * can still produce spans), which child sessions can still produce spans, and the children
   * last passed (a child the core is done with is passed again as it was, never fetched again).
   * @type {Map<string, {from: string | undefined, open: Set<string> | null, children: Map<string, any>}>}
   */
  const sessions = new Map()
  const SESSIONS_MAX = 256

  /** @param {Message | undefined} m @returns {string | undefined} */
  const idOf = (m) => /** @type {any} */ (m)?.info?.id

  /**
   * The session's messages from `from` on (all of them when it has fewer), oldest first: the
   * tail, then pages further back with `before` while the oldest one fetched is newer than
   * `from`. Without a watermark yet (the first event of this process), the tail alone.
   * @param {string} id @param {string | undefined} from @returns {Promise<Message[] | undefined>}
   */
  async function openPart(id, from) {
    let limit = TAIL
    const tail = await data(client.session.messages({ path: { id }, query: { limit } }))
    if (!Array.isArray(tail)) return undefined
    let messages = tail
    let more = tail.length === limit
    for (let oldest = idOf(messages[0]); more && from !== undefined && typeof oldest === "string" && oldest > from; oldest = idOf(messages[0])) {
      limit = Math.min(limit * 4, PAGE_MAX)
      const page = await data(client.session.messages({ path: { id }, query: { limit, before: oldest } }))
      if (!Array.isArray(page)) break
      more = page.length === limit
      // only what is older: a server that ignores `before` answers the newest messages again
      const older = page.filter((m) => String(idOf(m)) < oldest)
      if (older.length === 0) break
      messages = older.concat(messages)
    }
    return messages
  }

  /**
   * Child sessions named by `task` tool calls, depth-first: a child is fetched once its task
   * call ended (or at "close": a call still running then will not end), and again only while
   * the core says it can still produce spans; otherwise it is passed as last fetched.
   * @param {string} sessionID @param {Message[]} messages @param {boolean} closing
   * @param {{open: Set<string> | null, children: Map<string, any>}} known @param {Set<string>} seen @param {any[]} out
   */
  async function children(sessionID, messages, closing, known, seen, out) {
    for (const message of messages)
      for (const part of message.parts ?? []) {
        const child = part.type === "tool" && part.tool === "task" ? part.state?.metadata?.sessionId : undefined
        const ended = part.state?.status === "completed" || part.state?.status === "error"
        if (!child || seen.has(child) || !(ended || closing)) continue
        seen.add(child)
        let entry = known.children.get(child)
        if (!entry || known.open === null || known.open.has(child)) {
          const [info, childMessages] = await Promise.all([
            data(client.session.get({ path: { id: child } })),
            data(client.session.messages({ path: { id: child } })),
          ])
          if (!info || !Array.isArray(childMessages)) continue
          entry = { sessionID: child, parentSessionID: sessionID, parentCallID: part.callID, info, messages: childMessages }
        }
        out.push(entry)
        await children(child, entry.messages, closing, known, seen, out)
      }
    return out
  }

  /** @param {string} sessionID @param {"reconcile" | "close"} type */
  async function reconcile(sessionID, type) {
    if ((await parentID(sessionID)) !== null) return // its parent's payload carries it
    const known = sessions.get(sessionID) ?? { from: undefined, open: null, children: new Map() }
    let from = known.from
    for (let attempt = 0; attempt < 2; attempt++) {
      const fetched = await openPart(sessionID, from)
      if (!fetched) return
      // what the pages brought before the watermark does not go (lib/ would cut it too)
      const start = from === undefined ? 0 : fetched.findIndex((m) => String(idOf(m)) >= from)
      const messages = start > 0 ? fetched.slice(start) : fetched
      const childSessions = await children(sessionID, messages, type === "close", known, new Set([sessionID]), [])
      const watermark = api.reconcile({ type, sessionID, messages, childSessions })?.watermark
      if (!watermark) return
      known.from = watermark.messageID
      known.open = Array.isArray(watermark.openChildren) ? new Set(watermark.openChildren) : null
      known.children = new Map(childSessions.map((c) => [c.sessionID, c]))
      sessions.delete(sessionID)
      if (sessions.size >= SESSIONS_MAX) sessions.delete(sessions.keys().next().value)
      sessions.set(sessionID, known)
      // The first payload of this process may start inside a turn it could not finish (OpenCode
      // restarted, the plugin loaded mid-session): the core named that turn; fetch back to it.
      if (from !== undefined || fetched.length < TAIL || !(known.from < String(idOf(fetched[0])))) return
      from = known.from
    }
  }

  // The benchmark (test/bench/overhead.js) reads how long each snapshot event took here.
  const timingsFile = process.env.ARIZE_TRACING_BENCH_TIMINGS
  /** @type {number[]} */
  const timings = []

  /** @param {string} sessionID @param {"reconcile" | "close"} type */
  function schedule(sessionID, type) {
    const previous = chains.get(sessionID) ?? Promise.resolve()
    const next = previous
      .then(async () => {
        const started = performance.now()
        await reconcile(sessionID, type)
        if (timingsFile) timings.push(performance.now() - started)
      })
      .catch((error) => log("warn", `snapshot of ${sessionID} failed: ${text(error)}`))
    chains.set(sessionID, next)
    next.finally(() => {
      if (chains.get(sessionID) === next) chains.delete(sessionID)
    })
  }

  return {
    /** @param {{event: {type: string, properties?: any}}} input */
    event: async ({ event }) => {
      try {
        const p = event?.properties
        if (event?.type === "message.updated" && p?.info?.role === "assistant" && p.info.time?.completed)
          schedule(p.info.sessionID, "reconcile")
        else if (event?.type === "session.idle" && p?.sessionID) schedule(p.sessionID, "close")
      } catch (error) {
        await log("warn", `event handling failed: ${text(error)}`)
      }
    },
    // Awaited at the end of `opencode run` and on instance dispose: finish every pending
    // snapshot, then wait (bounded) for the backend to answer. What is unsent stays queued.
    dispose: async () => {
      try {
        const started = performance.now()
        await Promise.allSettled([...chains.values()])
        await api.flush(DISPOSE_FLUSH_MS)
        if (timingsFile) appendFileSync(timingsFile, JSON.stringify({ events: timings, disposeMs: performance.now() - started }) + "\n")
      } catch (error) {
        await log("warn", `flush at exit failed: ${text(error)}`)
      }
    },
  }
}
