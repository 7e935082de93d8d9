// opencode-arize-tracing — the OpenCode plugin (plain ESM, so Node and Bun both load it; the
// package's ESM entry exports it as OpenCode's `{id, server}` default).
//
// On every completed assistant message it pulls the session snapshot and hands it to the
// native core ("reconcile"); on session.idle it does the same with "close", which lets the
// core finish the turn. The core decides what is new, builds the spans and exports them on
// its own thread. Subagent sessions travel inside their parent's payload.
//
// OpenCode rules this file follows (see the project's OPENCODE.md): only function exports;
// `event` is not awaited, so work is chained per session and `dispose` waits for it and
// flushes; a `.node` loads through require, never import; nothing we do may throw into
// OpenCode.
import { createRequire } from "node:module"

/** @typedef {import("../lib/index").ReconcilePayload} ReconcilePayload */
/** @typedef {{type?: string, tool?: string, callID?: string, state?: {metadata?: {sessionId?: string}}}} Part */
/** @typedef {{info?: {role?: string}, parts?: Part[]}} Message */

const SERVICE = "arize-tracing"
const INSTANCES = Symbol.for("opencode-arize-tracing.instances")
// How long exit waits for the backend when the core does not say (export.exit_flush_ms,
// ARIZE_EXIT_FLUSH_MS): spans are durable, so a backend that does not answer must not hold
// OpenCode's exit; what it has not accepted stays in the spool for the next start.
const EXIT_FLUSH_MS = 1000

// The API beside this file; a .node loads only through require, never import.
function loadApi() {
  return createRequire(import.meta.url)("../lib/index.js")
}

/** @param {unknown} error */
const text = (error) => String((error && /** @type {Error} */ (error).message) || error).split("\n").join(" ")

/** The configured exit bound (status().exit_flush_ms), or EXIT_FLUSH_MS from an older core. */
function exitFlushMs(api) {
  const ms = api.status().exit_flush_ms
  return typeof ms === "number" && ms >= 0 ? ms : EXIT_FLUSH_MS
}

/**
 * The plugin: OpenCode calls it once per instance with its SDK client and awaits the hooks.
 * @param {{client: any, directory?: string}} input
 */
export const ArizeTracing = async ({ client, directory }) => {
  /** @param {"warn" | "error"} level @param {string} message */
  const log = (level, message) =>
    Promise.resolve(client?.app?.log?.({ body: { service: SERVICE, level, message } })).catch(() => {})

  // Registered twice (a plugin file and an opencode.json entry, say), OpenCode loads two
  // copies into one instance: the first traces, the second says so and stays idle, so no turn
  // is traced twice. Keyed by the instance's directory in a registry every copy of this file
  // shares (a global symbol); dispose frees the key for the next instance there.
  const instances = (globalThis[INSTANCES] ??= new Map())
  const key = String(directory ?? "")
  if (instances.has(key)) {
    await log("warn", `opencode-arize-tracing is registered twice for ${key || "this instance"} (a plugin file and an ` +
      `opencode.json "plugin" entry?): this copy stays idle; remove one (\`npx opencode-arize-tracing doctor\` lists them)`)
    return {}
  }
  const token = {}
  instances.set(key, token)

  let api
  try {
    api = loadApi()
  } catch (error) {
    instances.delete(key)
    await log("error", `tracing is off: ${text(error)}`)
    return {}
  }

  /** @type {Map<string, string | null>} session id -> parentID (never changes) */
  const parentOf = new Map()
  /** @type {Map<string, Promise<unknown>>} per session: snapshots in event order */
  const chains = new Map()

  let shapeLogged = false
  /**
   * What an SDK call answered. The v1 SDK resolves to `{data, request, response}` (`data`
   * absent on an error); other SDK versions answer with the bare value: a session object, a
   * message list. Anything else traces nothing, so it is said once in OpenCode's log.
   * @param {Promise<unknown> | undefined} call
   */
  const data = async (call) => {
    const answer = /** @type {any} */ (await call)
    if (answer && typeof answer === "object" && !Array.isArray(answer)) {
      if ("data" in answer || "error" in answer || "response" in answer) return answer.data
      if (typeof answer.id === "string") return answer // a bare session
    }
    if (Array.isArray(answer)) return answer // a bare message list
    if (!shapeLogged) {
      shapeLogged = true
      await log("warn", `the OpenCode SDK answered with ${answer === null ? "null" : typeof answer}, neither {data} nor a session or message list: nothing is traced`)
    }
    return undefined
  }

  /** @param {string} sessionID */
  async function parentID(sessionID) {
    if (!parentOf.has(sessionID)) {
      const session = await data(client.session.get({ path: { id: sessionID } }))
      parentOf.set(sessionID, session?.parentID ?? null)
    }
    return parentOf.get(sessionID) ?? null
  }

  /**
   * Child sessions named by `task` tool calls, depth-first, each fetched once.
   * @param {string} sessionID @param {Message[]} messages @param {Set<string>} seen @param {object[]} out
   */
  async function children(sessionID, messages, seen, out) {
    for (const message of messages)
      for (const part of message.parts ?? []) {
        const child = part.type === "tool" && part.tool === "task" ? part.state?.metadata?.sessionId : undefined
        if (!child || seen.has(child)) continue
        seen.add(child)
        const [info, childMessages] = await Promise.all([
          data(client.session.get({ path: { id: child } })),
          data(client.session.messages({ path: { id: child } })),
        ])
        if (!info || !Array.isArray(childMessages)) continue
        out.push({ sessionID: child, parentSessionID: sessionID, parentCallID: part.callID, info, messages: childMessages })
        await children(child, childMessages, seen, out)
      }
    return out
  }

  /** @param {string} sessionID @param {"reconcile" | "close"} type */
  async function reconcile(sessionID, type) {
    if ((await parentID(sessionID)) !== null) return // its parent's payload carries it
    const messages = await data(client.session.messages({ path: { id: sessionID } }))
    if (!Array.isArray(messages)) return
    const childSessions = await children(sessionID, messages, new Set([sessionID]), [])
    api.reconcile({ type, sessionID, messages, childSessions })
  }

  /** @param {string} sessionID @param {"reconcile" | "close"} type */
  function schedule(sessionID, type) {
    const previous = chains.get(sessionID) ?? Promise.resolve()
    const next = previous
      .then(() => reconcile(sessionID, type))
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
    // snapshot, then wait for the backend at most the exit bound. If it has not answered by
    // then, the exporter stops (an in-flight request is aborted, the environment's cleanup
    // then has nothing left to wait for) and the core logs what stays in the spool for the
    // next start; a later snapshot in this process starts the exporter again.
    dispose: async () => {
      try {
        await Promise.allSettled([...chains.values()])
        const left = await api.flush(exitFlushMs(api))
        if (left.pending > 0) api.shutdown(0)
      } catch (error) {
        await log("warn", `flush at exit failed: ${text(error)}`)
      }
      if (instances.get(key) === token) instances.delete(key)
    },
  }
}
