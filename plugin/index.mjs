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
import { createLive } from "./live.mjs"

/** @typedef {import("../lib/index").ReconcilePayload} ReconcilePayload */
/** @typedef {{type?: string, tool?: string, callID?: string, state?: {metadata?: {sessionId?: string}}}} Part */
/** @typedef {{info?: {role?: string}, parts?: Part[]}} Message */

const SERVICE = "arize-tracing"
const INSTANCES = Symbol.for("opencode-arize-tracing.instances")
// How long exit waits for the backend when the core does not say (export.exit_flush_ms,
// ARIZE_EXIT_FLUSH_MS): spans are durable, so a backend that does not answer must not hold
// OpenCode's exit; what it has not accepted stays in the spool for the next start.
const EXIT_FLUSH_MS = 1000
const SWEEP_DELAY_MS = 3000 // the start-up sweep waits this long, or for the first session.idle
const SWEEP_MAX_SESSIONS = 50
const SWEEP_TAIL = 50 // messages read first; a longer last turn pages further back
const SWEEP_EXIT_GRACE_MS = 1000 // at exit, a sweep under way goes on this long, then stops after its session
const TAIL = 20 // messages per event: a turn is about 5 to 10 (one per model call)
const PAGE_MAX = 2000 // messages per page when fetching further back

// The API beside this file; a .node loads only through require, never import.
function loadApi() {
  // OpenCode's thread never waits on the network: a release binary still to be downloaded is
  // fetched in the background, and tracing starts with the next OpenCode start.
  globalThis[Symbol.for("opencode-arize-tracing.background-download")] = true
  return createRequire(import.meta.url)("../lib/index.js")
}

/** @param {unknown} error */
const text = (error) =>
  String((error && /** @type {Error} */ (error).message) || error)
    .split("\n")
    .join(" ")

/** The configured exit bound (status().exit_flush_ms), or EXIT_FLUSH_MS from an older core. */
function exitFlushMs(api) {
  const ms = api.status().exit_flush_ms
  return typeof ms === "number" && ms >= 0 ? ms : EXIT_FLUSH_MS
}

/** @param {Message | undefined} m @returns {string | undefined} */
const idOf = (m) => /** @type {any} */ (m)?.info?.id

/**
 * How this plugin reads OpenCode, shared by the event path and the start-up sweep.
 * `data` unwraps an SDK answer: the v1 SDK resolves to `{data, request, response}` (`data`
 * absent on an error); other SDK versions answer with the bare value (a session object, a
 * message list). Anything else traces nothing, so it is said once in OpenCode's log.
 * `messagesBack` reads a session's messages newest first, oldest first in the result: the
 * last `limit`, then pages further back with `before` while the page was full and `enough`
 * (given the messages so far) says more are needed.
 * @param {any} client @param {(level: any, message: string) => Promise<unknown>} log
 */
function reader(client, log) {
  let shapeLogged = false
  /** @param {Promise<unknown> | undefined} call */
  const data = async (call) => {
    const answer = /** @type {any} */ (await call)
    if (answer && typeof answer === "object" && !Array.isArray(answer)) {
      if ("data" in answer || "error" in answer || "response" in answer) return answer.data
      if (typeof answer.id === "string") return answer // a bare session
    }
    if (Array.isArray(answer)) return answer // a bare message list
    if (!shapeLogged) {
      shapeLogged = true
      await log(
        "warn",
        `the OpenCode SDK answered with ${answer === null ? "null" : typeof answer}, neither {data} nor a session or message list: nothing is traced`,
      )
    }
    return undefined
  }

  /**
   * @param {string} id @param {number} limit @param {(messages: Message[]) => boolean} enough
   * @returns {Promise<Message[] | undefined>}
   */
  async function messagesBack(id, limit, enough) {
    const tail = await data(client.session.messages({ path: { id }, query: { limit } }))
    if (!Array.isArray(tail)) return undefined
    let messages = tail
    let more = tail.length === limit
    for (
      let oldest = idOf(messages[0]);
      more && typeof oldest === "string" && !enough(messages);
      oldest = idOf(messages[0])
    ) {
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

  /** A child session as a payload carries it (its info and all its messages), or undefined. */
  async function childSession(/** @type {string} */ id) {
    const [info, messages] = await Promise.all([
      data(client.session.get({ path: { id } })),
      data(client.session.messages({ path: { id } })),
    ])
    return info && Array.isArray(messages) ? { info, messages } : undefined
  }

  return { data, messagesBack, childSession }
}

/**
 * The plugin: OpenCode calls it once per instance with its SDK client and awaits the hooks.
 * @param {{client: any, directory?: string}} input
 */
export const ArizeTracing = async ({ client, directory }) => {
  /** @param {"info" | "warn" | "error"} level @param {string} message */
  const log = (level, message) =>
    Promise.resolve(client?.app?.log?.({ body: { service: SERVICE, level, message } })).catch(() => {})

  // Registered twice (a plugin file and an opencode.json entry, say), OpenCode loads two
  // copies into one instance: the first traces, the second says so and stays idle, so no turn
  // is traced twice. Keyed by the instance's directory in a registry every copy of this file
  // shares (a global symbol); dispose frees the key for the next instance there. OpenCode also
  // loads the plugins again while it disposes an instance whose dispose takes a while (a
  // backend that does not answer holds ours up to the exit bound): that copy stays idle
  // without a word, since nothing is registered twice.
  const instances = (globalThis[INSTANCES] ??= new Map())
  const key = String(directory ?? "")
  if (instances.has(key)) {
    if (instances.get(key).disposing) return {}
    await log(
      "warn",
      `opencode-arize-tracing is registered twice for ${key || "this instance"} (a plugin file and an ` +
        `opencode.json "plugin" entry?): this copy stays idle; remove one (\`npx opencode-arize-tracing doctor\` lists them)`,
    )
    return {}
  }
  const token = { disposing: false }
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
  /** @type {Map<string, any[]>} root session id -> its permission rules (for the tools offered) */
  const permissionOf = new Map()
  /** @type {Map<string, Promise<unknown>>} per session: snapshots in event order */
  const chains = new Map()
  const read = reader(client, log)
  const { data } = read
  const sweeper = startUpSweep(client, read, api, log)

  /** @param {string} sessionID */
  async function parentID(sessionID) {
    if (!parentOf.has(sessionID)) {
      const session = await data(client.session.get({ path: { id: sessionID } }))
      parentOf.set(sessionID, session?.parentID ?? null)
      if (!session?.parentID) {
        if (permissionOf.size >= SESSIONS_MAX) permissionOf.delete(permissionOf.keys().next().value)
        permissionOf.set(sessionID, Array.isArray(session?.permission) ? session.permission : [])
      }
    }
    return parentOf.get(sessionID) ?? null
  }

  // Live signals (plugin/live.mjs): captured by the hooks and events below, handed to the core
  // with the next payload of their session's root. `tracing` is what the core last said about
  // tracing being on (api.status(), read with each payload): off, nothing is captured.
  let tracing = api.status()?.enabled !== false
  const live = createLive({ enabled: () => tracing })
  /** @type {Map<string, any[]>} agent name -> its permission rules (GET /agent) */
  let agentRules = new Map()
  let agentsReadAt = -Infinity

  /** The agents' permission rules, read once, and again (at most once a minute) for an agent not known. */
  async function readAgents(/** @type {Set<string>} */ names) {
    if ([...names].every((n) => agentRules.has(n)) || performance.now() - agentsReadAt < 60000) return
    agentsReadAt = performance.now()
    const agents = typeof client?.app?.agents === "function" ? await data(client.app.agents()) : undefined
    if (Array.isArray(agents))
      agentRules = new Map(
        agents
          .filter((a) => typeof a?.name === "string")
          .map((a) => [a.name, Array.isArray(a.permission) ? a.permission : []]),
      )
  }

  /**
   * Per root session: where its open part starts (the core's watermark: the oldest message that
   * can still produce spans), which child sessions can still produce spans, and the children
   * last passed (a child the core is done with is passed again as it was, never fetched again).
   * @type {Map<string, {from: string | undefined, open: Set<string> | null, children: Map<string, any>}>}
   */
  const sessions = new Map()
  const SESSIONS_MAX = 256

  /**
   * The session's messages from `from` on (all of them when it has fewer), oldest first: the
   * tail, then pages further back while the oldest one fetched is newer than `from`. Without
   * a watermark yet (the first event of this process), the tail alone.
   * @param {string} id @param {string | undefined} from
   */
  const openPart = (id, from) =>
    read.messagesBack(id, TAIL, (messages) => from === undefined || !(String(idOf(messages[0])) > from))

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
          const got = await read.childSession(child)
          if (!got) continue
          entry = { sessionID: child, parentSessionID: sessionID, parentCallID: part.callID, ...got }
        }
        out.push(entry)
        await children(child, entry.messages, closing, known, seen, out)
      }
    return out
  }

  /**
   * @param {string} sessionID @param {"reconcile" | "close"} type
   * @returns {Promise<number>} the milliseconds spent in the core (the rest is reading OpenCode)
   */
  async function reconcile(sessionID, type) {
    let coreMs = 0
    // Tracing turned off (ARIZE_TRACE_ENABLED=false, or the config file; re-read on every
    // call, so turning it on again needs no restart): nothing is read from OpenCode.
    tracing = api.status()?.enabled !== false
    if (!tracing) {
      live.clear()
      return coreMs
    }
    if ((await parentID(sessionID)) !== null) return coreMs // its parent's payload carries it
    const known = sessions.get(sessionID) ?? { from: undefined, open: null, children: new Map() }
    let from = known.from
    for (let attempt = 0; attempt < 2; attempt++) {
      const fetched = await openPart(sessionID, from)
      if (!fetched) return coreMs
      // what the pages brought before the watermark does not go (lib/ would cut it too)
      const start = from === undefined ? 0 : fetched.findIndex((m) => String(idOf(m)) >= from)
      const messages = start > 0 ? fetched.slice(start) : fetched
      const childSessions = await children(sessionID, messages, type === "close", known, new Set([sessionID]), [])
      // the live signals of the session and of the child sessions this payload carries
      let signals
      if (attempt === 0) {
        const ids = [sessionID, ...childSessions.map((c) => c.sessionID)]
        const agents = live.agentsPending(ids)
        if (agents.size) await readAgents(agents).catch(() => {})
        const sessionRules = new Map(childSessions.map((c) => [c.sessionID, c.info?.permission]))
        sessionRules.set(sessionID, permissionOf.get(sessionID))
        signals = live.take(ids, (session, agent) => {
          const own = sessionRules.get(session)
          const rules = agent === undefined ? undefined : agentRules.get(agent)
          return rules ? [...rules, ...(Array.isArray(own) ? own : [])] : undefined
        })
      }
      const before = performance.now()
      const result = api.reconcile({ type, sessionID, messages, childSessions, live: signals })
      coreMs += performance.now() - before
      if (signals && result && !result.error) live.handed(signals)
      const watermark = result?.watermark
      if (!watermark) return coreMs
      known.from = watermark.messageID
      known.open = Array.isArray(watermark.openChildren) ? new Set(watermark.openChildren) : null
      known.children = new Map(childSessions.map((c) => [c.sessionID, c]))
      sessions.delete(sessionID)
      if (sessions.size >= SESSIONS_MAX) sessions.delete(sessions.keys().next().value)
      sessions.set(sessionID, known)
      // The first payload of this process may start inside a turn it could not finish (OpenCode
      // restarted, the plugin loaded mid-session): the core named that turn; fetch back to it.
      if (from !== undefined || fetched.length < TAIL || !(known.from < String(idOf(fetched[0])))) return coreMs
      from = known.from
    }
    return coreMs
  }

  // The benchmark (test/bench/overhead.js) reads how long each snapshot event took here, and
  // how much of it was the core's (the rest: reading OpenCode).
  const timingsFile = process.env.ARIZE_TRACING_BENCH_TIMINGS
  /** @type {number[]} */
  const timings = [],
    coreTimings = []

  /** @param {string} sessionID @param {"reconcile" | "close"} type */
  function schedule(sessionID, type) {
    const previous = chains.get(sessionID) ?? Promise.resolve()
    const next = previous
      .then(async () => {
        const started = performance.now()
        const coreMs = await reconcile(sessionID, type)
        if (timingsFile) (timings.push(performance.now() - started), coreTimings.push(coreMs))
      })
      .catch((error) => log("warn", `snapshot of ${sessionID} failed: ${text(error)}`))
    chains.set(sessionID, next)
    next.finally(() => {
      if (chains.get(sessionID) === next) chains.delete(sessionID)
    })
  }

  return {
    ...live.hooks,
    /** @param {{event: {type: string, properties?: any}}} input */
    event: async ({ event }) => {
      // Once OpenCode disposes this instance, nothing here calls its SDK again: a call would
      // make OpenCode create the instance anew (bootstrapping it, plugins and all) while it exits.
      if (token.disposing) return
      try {
        const p = event?.properties
        live.event(event)
        sweeper.saw(event)
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
      token.disposing = true
      try {
        const started = performance.now()
        await Promise.allSettled([...chains.values(), sweeper.stop()])
        const left = await api.flush(exitFlushMs(api))
        if (left.pending > 0) api.shutdown(0)
        if (timingsFile)
          appendFileSync(
            timingsFile,
            JSON.stringify({
              events: timings,
              core: coreTimings,
              sweepMs: sweeper.ms,
              disposeMs: performance.now() - started,
            }) + "\n",
          )
      } catch (error) {
        await log("warn", `flush at exit failed: ${text(error)}`)
      }
      if (instances.get(key) === token) instances.delete(key)
    },
  }
}

/**
 * Turns an earlier OpenCode left open (killed mid-turn, or quit before its session.idle work
 * ran) are closed from the snapshot: see lib/recover.js for the rule. Off OpenCode's start-up
 * path: it starts SWEEP_DELAY_MS after the plugin, or at the first session.idle, and looks at
 * the project's root sessions updated in the last limits.recover_hours (default 24) hours.
 * `saw` records the sessions this process works on (its marker, for other processes' sweeps);
 * `stop` cancels a sweep not yet started and waits for one under way.
 * @param {any} client @param {ReturnType<typeof reader>} read @param {any} api
 * @param {(level: any, message: string) => Promise<unknown>} log
 */
function startUpSweep(client, read, api, log) {
  const startedAt = Date.now()
  let recover,
    marker,
    sweep,
    stopping = false
  try {
    recover = createRequire(import.meta.url)("../lib/recover.js")
    marker = new recover.Marker(recover.liveDir())
  } catch (error) {
    log("warn", `turns left open by an earlier OpenCode are not closed: ${text(error)}`)
  }
  const { data } = read
  let ms = 0
  const start = () =>
    (sweep ??= marker
      ? (async () => {
          const t0 = performance.now()
          await run().catch((error) => log("warn", `closing turns left open failed: ${text(error)}`))
          ms = performance.now() - t0
        })()
      : Promise.resolve())
  const timer = setTimeout(start, SWEEP_DELAY_MS)
  timer.unref?.()

  /** The session's last turn (from its last user message on), read back as far as it goes. */
  async function snapshot(/** @type {string} */ id) {
    const messages = await read.messagesBack(id, SWEEP_TAIL, (m) => recover.lastTurn(m) !== undefined)
    return Array.isArray(messages) ? recover.lastTurn(messages) : undefined
  }

  async function run() {
    const status = api.status()
    const hours = Number(status?.config?.recover_hours ?? 24)
    // off (tracing or the sweep), or a host without it
    if (status?.enabled === false || !(hours > 0) || typeof client?.session?.list !== "function") return
    const [sessions, busy, live, settled] = await Promise.all([
      data(client.session.list()),
      // a map of session id -> status: {data} from the v1 SDK, the bare map from others
      client.session.status
        ? Promise.resolve(client.session.status())
            .then((a) => (a && typeof a === "object" && ("data" in a || "response" in a) ? a.data : a))
            .catch(() => ({}))
        : {},
      recover.liveSessions(recover.liveDir(), marker),
      new recover.Settled(recover.liveDir()).load(),
    ])
    if (!Array.isArray(sessions)) return
    let closed = 0,
      spans = 0
    const oldest = Date.now() - hours * 3600e3
    const todo = recover
      .candidates(sessions, { startedAt, windowMs: hours * 3600e3, live })
      .filter((s) => !settled.has(s))
    for (const session of todo.slice(0, SWEEP_MAX_SESSIONS)) {
      if (stopping) break // OpenCode is exiting: the next start does the rest
      const messages = await snapshot(session.id)
      // Checked again on the snapshot itself: anything this process or another did since it
      // started means a live OpenCode has the session.
      if (
        !messages ||
        marker.has(session.id) ||
        (busy?.[session.id] && busy[session.id].type !== "idle") ||
        recover.lastActivity(messages) >= startedAt
      )
        continue
      const childSessions = await recover.childSessions(session.id, messages, read.childSession)
      const result = api.reconcile(
        { type: "close", abandoned: true, sessionID: session.id, messages, childSessions },
        { turns: true },
      )
      if (result?.turns) closed += result.turns
      spans += result?.spans ?? 0
      if (result && !result.error) settled.add(session)
    }
    await settled.save(oldest)
    if (spans) log("info", `closed ${closed} turn(s) left open by an earlier OpenCode (${spans} spans)`)
  }

  return {
    get ms() {
      return ms
    },
    /** @param {{type?: string, properties?: any}} event */
    saw(event) {
      const p = event?.properties
      const id = p?.sessionID ?? p?.info?.sessionID
      if (
        marker &&
        typeof id === "string" &&
        (event.type === "message.updated" || event.type === "session.status" || event.type === "session.idle")
      )
        marker.add(id)
      if (event?.type === "session.idle") start()
    },
    async stop() {
      clearTimeout(timer)
      let grace
      if (sweep)
        await Promise.race([sweep, new Promise((resolve) => (grace = setTimeout(resolve, SWEEP_EXIT_GRACE_MS)))])
      clearTimeout(grace)
      stopping = true
      await sweep
      await marker?.remove()
    },
  }
}
