// opencode-arize-tracing — the OpenCode plugin (plain ESM, so Node and Bun both load it; the
// package's ESM entry exports it as OpenCode's `{id, server}` default).
//
// On every completed assistant message it takes the open part of the session (the messages
// that can still produce spans, from the core's watermark on) and hands it to the native core
// ("reconcile"). The open part is kept from OpenCode's events (plugin/open.mjs); it is read
// through OpenCode's server (the tail, `limit`/`before` pages back to the watermark) only when
// what is kept cannot stand for it: a session this process did not see from its start (after a
// restart), events missed; on session.idle it does the same with
// "close", which lets the core finish the turn. The core holds the session model: it decides
// what is new, builds the spans, exports them on its own thread, and answers where the open
// part starts. Subagent sessions travel inside their parent's payload, fetched when their
// task call ends.
//
// OpenCode rules this file follows (see the project's OPENCODE.md): only function exports;
// `event` is not awaited, so work is chained per session and `dispose` waits for it and
// flushes; a `.node` loads through require, never import; nothing we do may throw into
// OpenCode.
import { appendFileSync, readFileSync, promises as fsp } from "node:fs"
import { createRequire } from "node:module"
import { createLive } from "./live.mjs"
import { createOpenPart } from "./open.mjs"

/** @typedef {import("../lib/index").ReconcilePayload} ReconcilePayload */
/** @typedef {{type?: string, tool?: string, callID?: string, state?: {metadata?: {sessionId?: string}}}} Part */
/** @typedef {{info?: {role?: string}, parts?: Part[]}} Message */

const SERVICE = "arize-tracing"
const INSTANCES = Symbol.for("opencode-arize-tracing.instances")
const SWEEP_DELAY_MS = 3000 // the start-up sweep waits this long, or for the first session.idle
const SWEEP_MAX_SESSIONS = 50
const SWEEP_TAIL = 50 // messages read first; a longer last turn pages further back
const SWEEP_EXIT_GRACE_MS = 1000 // at exit, a sweep under way goes on this long, then stops after its session
const BEAT_MS = 2000 // while a session is busy, the liveness marker is touched this often
const TAIL = 20 // messages per event: a turn is about 5 to 10 (one per model call)
const PAGE_MAX = 2000 // messages per page when fetching further back

// The API beside this file; a .node loads only through require, never import.
function loadApi() {
  // OpenCode's thread never waits on the network: a release binary still to be downloaded is
  // fetched in the background, and tracing starts with the next OpenCode start.
  globalThis[Symbol.for("opencode-arize-tracing.background-download")] = true
  return requireHere("../lib/index.js")
}
const requireHere = createRequire(import.meta.url)
// lib/'s other modules where they are first needed, not at the plugin's start
const lib = (/** @type {string} */ name) => requireHere(`../lib/${name}`)
// Whether OpenCode runs on the process's main thread (the TUI runs its server in a worker), asked
// at dispose: Bun says it without node:worker_threads, whose load costs a fresh Bun ~10 ms.
const onMainThread = () => globalThis.Bun?.isMainThread ?? requireHere("node:worker_threads").isMainThread

/** @param {unknown} error */
const text = (error) =>
  String((error && /** @type {Error} */ (error).message) || error)
    .split("\n")
    .join(" ")

/**
 * Waits for the backend at most the configured exit bound (export.exit_flush_ms: spans are
 * durable, so a backend that does not answer must not hold OpenCode's exit), kept by a timer on this thread (the flush's own
 * answer comes through an async-work completion, which an exiting OpenCode delivers late), then
 * stops the exporter if spans are left: an in-flight request is aborted and the core logs what
 * stays in the spool for the next start.
 */
async function flushWithin(api) {
  const bound = api.exitBoundMs()
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer
  const answered = await Promise.race([
    api.flush(bound),
    new Promise((resolve) => (timer = setTimeout(() => resolve(undefined), bound))),
  ])
  clearTimeout(timer)
  const pending = answered ? answered.pending : (api.status()?.counters?.spans_pending ?? 1)
  if (pending > 0) api.shutdown(0)
}

/** @param {Message | undefined} m @returns {string | undefined} */
const idOf = (m) => /** @type {any} */ (m)?.info?.id

/**
 * How this plugin reads OpenCode, shared by the event path and the start-up sweep.
 * `data` unwraps an SDK answer: the v1 SDK resolves to `{data, request, response}` (`data`
 * absent on an error); other SDK versions answer with the bare value (a session object, a
 * message list). Anything else traces nothing, so it is said once in OpenCode's log.
 * `messagesBack` reads a session's messages newest first, oldest first in the result: the
 * last `limit`, then pages further back (`before`: the cursor OpenCode answered, or the oldest
 * message's id for a server that gives none) while older ones remain and `enough` (given the
 * messages so far) says more are needed; `all` says they are the session's every message (no
 * cursor and a page came back short: a server that ignores `limit` answers it whole).
 * @param {any} client @param {(level: any, message: string) => Promise<unknown>} log
 */
function reader(client, log) {
  let shapeLogged = false
  let cursors = false // the server answered a cursor once: from then on, none means no more
  /**
   * @param {() => Promise<unknown> | undefined} call the SDK call (made here, so a bench clock
   *   counts all of it as reading OpenCode) @param {Clock} [clock]
   */
  const data = async (call, clock) => {
    clock?.readStart()
    let answer
    try {
      answer = /** @type {any} */ (await call())
    } finally {
      clock?.readEnd()
    }
    clock?.answer(answer && typeof answer === "object" && "data" in answer ? answer.data : answer)
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
   * One page of a session's messages, the newest `limit` older than `before` (a cursor OpenCode
   * gave, or a message id for a server that takes one), and the cursor to the page before it:
   * OpenCode 1.18 answers `X-Next-Cursor` (and a `Link` rel="next") while older messages remain,
   * and refuses a message id as `before` (400).
   * @param {string} id @param {number} limit @param {string | undefined} before @param {Clock} [clock]
   * @returns {Promise<{list: unknown, cursor: string | undefined}>}
   */
  async function page(id, limit, before, clock) {
    /** @type {string | undefined} */
    let cursor
    const list = await data(async () => {
      const answer = await client.session.messages({
        path: { id },
        query: before === undefined ? { limit } : { limit, before },
      })
      const next = answer?.response?.headers?.get?.("x-next-cursor")
      if (typeof next === "string" && next) ((cursor = next), (cursors = true))
      return answer
    }, clock)
    return { list, cursor }
  }

  /**
   * @param {string} id @param {number} limit @param {(messages: Message[]) => boolean} enough
   * @param {Clock} [clock]
   * @returns {Promise<{messages: Message[], all: boolean} | undefined>}
   */
  async function messagesBack(id, limit, enough, clock) {
    const first = await page(id, limit, undefined, clock)
    if (!Array.isArray(first.list)) return undefined
    /** @type {Message[]} */
    let messages = first.list
    let cursor = first.cursor
    // older messages remain: the server said so (a cursor), or the page was full (a server that
    // gives no cursor)
    const remain = (/** @type {number} */ n) => cursor !== undefined || (!cursors && n === limit)
    let more = remain(messages.length)
    for (
      let oldest = idOf(messages[0]);
      more && typeof oldest === "string" && !enough(messages);
      oldest = idOf(messages[0])
    ) {
      limit = Math.min(limit * 4, PAGE_MAX)
      // a page refused (a server that takes no message id as `before`) ends the reading there
      const got = await page(id, limit, cursor ?? oldest, clock).catch(() => undefined)
      if (!got || !Array.isArray(got.list)) break
      cursor = got.cursor
      more = remain(got.list.length)
      // only what is older: a server that ignores `before` answers the newest messages again
      const older = got.list.filter((m) => String(idOf(m)) < oldest)
      if (older.length === 0) break
      messages = older.concat(messages)
    }
    return { messages, all: !more }
  }

  /**
   * A child session as a payload carries it (its info and all its messages), or undefined.
   * @param {string} id @param {Clock} [clock]
   */
  async function childSession(id, clock) {
    const [info, messages] = await Promise.all([
      data(() => client.session.get({ path: { id } }), clock),
      data(() => client.session.messages({ path: { id } }), clock),
    ])
    return info && Array.isArray(messages) ? { info, messages } : undefined
  }

  return { data, messagesBack, childSession }
}

/**
 * Where a snapshot job's time goes, for the benchmarks (test/bench/longrun.js, overhead.js):
 * `ours`, the wall time between awaits other than reads (an upper bound of the time our code
 * held OpenCode's thread: a microtask hop at an await lets OpenCode's queued work run, and
 * counts here); `sync`, the synchronous sections of the job itself, each timed on its own (what
 * our code did hold the thread: the plugin's own code, given apart as `plugin`, and lib/'s
 * reconcile: `cut` at the watermark, `stringify` of the payload, the repeat check in `same`,
 * the core's `reconcile()` in `core`, `remember`); `read`, the time spent waiting on OpenCode's
 * answers to our reads (their CPU is OpenCode's, counted by the benchmark in the process's CPU
 * per turn), with `parse` and `readBytes`: the answers written and parsed again as JSON, after
 * the fact and outside every other figure (a lower bound of what a read costs OpenCode's thread:
 * its server writes the answer, the SDK parses it).
 */
/**
 * The calling thread's time on a CPU and waiting for one, in ms (Linux: /proc/thread-self/schedstat),
 * or undefined. For the benchmarks: a synchronous section's wall time counts the moments another
 * thread or process had the CPU; this tells them apart, but only as fresh as the scheduler's last
 * tick (4 ms here), so it overstates a short section: the figures use wall time.
 * @returns {[number, number] | undefined}
 */
function schedstat() {
  try {
    const [run, wait] = readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")
    return [Number(run) / 1e6, Number(wait) / 1e6]
  } catch {
    return undefined
  }
}

class Clock {
  /** @param {string} session @param {string} type @param {any} split lib/'s benchSplit */
  constructor(session, type, split) {
    this.session = session
    this.type = type
    this.split = split
    this.at = Date.now()
    this.ours = this.read = this.reads = this.depth = this.sync = 0
    this.cut = this.stringify = this.same = this.core = this.remember = this.bytes = 0
    this.parse = this.readBytes = 0
    this.cpu = this.queued = 0 // of the synchronous sections: on a CPU, waiting for one (schedstat)
    this.sched = schedstat()
    this.t = performance.now()
    this.syncAt = this.markAt = this.t
    this.inSync = true
    /** @type {Record<string, number>} the plugin's own synchronous code, by section */
    this.parts = {}
  }
  #lap() {
    const now = performance.now()
    const ms = now - this.t
    this.t = now
    return ms
  }
  readStart() {
    this.syncEnd("open")
    this.reads++
    if (this.depth++ === 0) this.ours += this.#lap()
  }
  readEnd() {
    if (--this.depth === 0) this.read += this.#lap()
  }
  /** An answer read: written and parsed again as JSON, its time kept out of every other figure. */
  /** @param {unknown} value */
  answer(value) {
    if (value === undefined) return
    const t0 = performance.now()
    const json = JSON.stringify(value)
    const t1 = performance.now()
    JSON.parse(json)
    const t2 = performance.now()
    this.parse += t2 - t0
    this.readBytes += json.length
    this.t += t2 - t0
    this.syncAt += t2 - t0
    this.markAt += t2 - t0
    void t1
  }
  /** A synchronous section of the job starts (after an await) or ends (before one). */
  syncStart() {
    this.sched = schedstat()
    this.syncAt = this.markAt = performance.now()
    this.inSync = true
  }
  /** The synchronous section so far, since the last mark, is counted under name (plugin's own code). */
  /** @param {string} name */
  part(name) {
    if (!this.inSync) return
    const now = performance.now()
    this.parts[name] = (this.parts[name] ?? 0) + now - this.markAt
    this.markAt = now
  }
  /** @param {string} [name] */
  syncEnd(name = "other") {
    if (!this.inSync) return
    this.part(name)
    this.sync += this.markAt - this.syncAt
    this.inSync = false
    const now = schedstat()
    if (now && this.sched) ((this.cpu += now[0] - this.sched[0]), (this.queued += now[1] - this.sched[1]))
  }
  coreStart() {
    this.part("payload")
  }
  /** lib/'s split of the payload just reconciled. */
  coreEnd() {
    this.part("lib")
    const s = this.split
    if (!s) return
    this.cut += s.cut
    this.stringify += s.stringify
    this.same += s.same
    this.core += s.core
    this.remember += s.remember
    this.bytes += s.bytes
  }
  stop() {
    this.syncEnd("after")
    this.ours += this.#lap()
    const { session, type, at, ours, read, reads, sync, cut, stringify, same, core, remember, bytes } = this
    const plugin = sync - cut - stringify - same - core - remember
    return {
      ...{ session, type, at, ours, read, reads, sync, plugin, cut, stringify, same, core, remember, bytes },
      ...{ parse: this.parse, readBytes: this.readBytes, parts: this.parts, cpu: this.cpu, queued: this.queued },
    }
  }
}

/**
 * With ARIZE_TRACING_BENCH_TIMINGS set (benchmarks only), the jobs' clocks and the event hook's
 * own time are appended to that file as JSON lines: after each "close" job (off the thread:
 * an asynchronous append) and at dispose. Otherwise null, and nothing is measured.
 * @param {string | undefined} file
 */
function benchMeter(file) {
  if (!file) return null
  /** @type {ReturnType<Clock["stop"]>[]} */
  let jobs = []
  let hookMs = 0,
    hookCalls = 0,
    hookMax = 0
  /** @type {number | undefined} the plugin's own start (its load, the core's), said once */
  let initMs
  const take = (/** @type {object} */ extra) => {
    const line = JSON.stringify({ jobs, hookMs, hookCalls, hookMax, initMs, at: Date.now(), ...extra }) + "\n"
    initMs = undefined
    jobs = []
    hookMs = hookCalls = hookMax = 0
    return line
  }
  return {
    /** @param {number} ms the time the plugin's function took before it returned its hooks */
    started(ms) {
      initMs = ms
    },
    /** @param {string} session @param {string} type @param {any} split */
    clock: (session, type, split) => new Clock(session, type, split),
    /** @param {Clock} clock */
    done(clock) {
      jobs.push(clock.stop())
      if (clock.type === "close") fsp.appendFile(file, take({})).catch(() => {})
    },
    /** @param {number} ms */
    hook(ms) {
      hookMs += ms
      hookCalls++
      if (ms > hookMax) hookMax = ms
    },
    /** @param {object} extra */
    write(extra) {
      appendFileSync(file, take(extra))
    },
  }
}

/**
 * The plugin: OpenCode calls it once per instance with its SDK client and awaits the hooks.
 * @param {{client: any, directory?: string}} input
 */
export const ArizeTracing = async ({ client, directory }) => {
  const startedAt = performance.now()
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
  const meter = benchMeter(process.env.ARIZE_TRACING_BENCH_TIMINGS)
  const split = meter ? (api.benchSplit?.(true) ?? null) : null
  // Where the open part comes from: kept from OpenCode's events (plugin/open.mjs), read through
  // OpenCode's server only when what is kept cannot stand for it (a session joined late, after a
  // restart, a gap: events missed) — or read on every event ("read"). Measured in one run of
  // bench:longrun (docs/performance.md): kept, the plugin held OpenCode's thread less per event
  // (median 13 % less at 10 messages, half at 2,000; p99 2.3 and 4.5 times less) and no event
  // waited on a read (75 and 715 ms per event awaited, reading). ARIZE_TRACING_BENCH_OPEN=read chooses the read,
  // for the benchmarks (test/bench/longrun.js --kinds with).
  const open = process.env.ARIZE_TRACING_BENCH_OPEN === "read" ? null : createOpenPart({ enabled: () => tracing })
  const heldCloses = new Set() // model calls whose unfinished state held a close back once
  const HELD_CLOSES_MAX = 1024

  /** @param {string} sessionID @param {Clock} [clock] */
  async function parentID(sessionID, clock) {
    if (!parentOf.has(sessionID)) {
      const session = await data(() => client.session.get({ path: { id: sessionID } }), clock)
      parentOf.set(sessionID, session?.parentID ?? null)
      if (!infoOf.has(sessionID)) remember(session)
      if (!session?.parentID) {
        if (permissionOf.size >= SESSIONS_MAX) permissionOf.delete(permissionOf.keys().next().value)
        permissionOf.set(sessionID, Array.isArray(session?.permission) ? session.permission : [])
      }
    }
    return parentOf.get(sessionID) ?? null
  }

  // The context a Turn carries (native/reconcile.h, "session" and "context"), gathered without
  // reading anything big and never on OpenCode's critical path: the session's own info (kept
  // from session.get and from session.updated events, so a title OpenCode writes later is
  // seen), OpenCode's version (asked once), the directory's git remote, branch and commit
  // (read asynchronously from the repository's files once per directory, then again in the
  // background at most every GIT_REFRESH_MS while events come).
  /** @type {Map<string, {id: string, title?: string, version?: string, directory?: string}>} */
  const infoOf = new Map()
  /** @param {any} info */
  function remember(info) {
    if (!info || typeof info.id !== "string") return
    infoOf.delete(info.id)
    if (infoOf.size >= SESSIONS_MAX) infoOf.delete(infoOf.keys().next().value)
    const { id, title, version, directory: dir } = info
    infoOf.set(id, { id, title, version, directory: dir })
  }
  /** @type {Promise<string | undefined> | undefined} */
  let version
  const opencodeVersion = () =>
    (version ??= Promise.resolve()
      .then(() => client.global?.health?.())
      .then((a) => {
        const v = a && typeof a === "object" && "data" in a ? a.data : a
        return typeof v?.version === "string" ? v.version : undefined
      })
      .catch(() => undefined))
  const GIT_REFRESH_MS = 10000
  /** @type {Map<string, {at: number, value: any, read: Promise<any> | undefined}>} */
  const gitOf = new Map()
  /** @param {string} dir */
  function git(dir) {
    let entry = gitOf.get(dir)
    if (entry && entry.read === undefined && Date.now() - entry.at > GIT_REFRESH_MS) {
      // in the background: this payload takes what was read last
      const stale = /** @type {NonNullable<typeof entry>} */ (entry)
      stale.at = Date.now()
      stale.read = lib("git.js")
        .gitContext(dir)
        .then((v) => ((stale.value = v), (stale.read = undefined)))
    }
    if (entry) return entry.value !== undefined || entry.read === undefined ? entry.value : entry.read
    if (gitOf.size >= 16) gitOf.delete(gitOf.keys().next().value)
    const fresh = { at: Date.now(), value: undefined, read: /** @type {Promise<any> | undefined} */ (undefined) }
    fresh.read = lib("git.js")
      .gitContext(dir)
      .then((v) => ((fresh.value = v), (fresh.read = undefined), v))
    gitOf.set(dir, fresh)
    return fresh.read
  }
  /** @param {string} sessionID */
  async function contextOf(sessionID) {
    const dir = infoOf.get(sessionID)?.directory ?? directory
    const [opencode, repo] = await Promise.all([opencodeVersion(), typeof dir === "string" ? git(dir) : undefined])
    return { opencodeVersion: opencode, directory: dir, git: repo }
  }

  const sweeper = startUpSweep(client, read, api, log, async (/** @type {any} */ session) => {
    remember(session)
    return { session: infoOf.get(session.id), context: await contextOf(session.id) }
  })

  // Live signals (plugin/live.mjs): captured by the hooks and events below, handed to the core
  // with the next payload of their session's root. `tracing` is what the core last said about
  // tracing being on (api.enabled(), read with each payload): off, nothing is captured.
  let tracing = api.enabled() !== false
  const live = createLive({ enabled: () => tracing })
  /** @type {Map<string, any[]>} agent name -> its permission rules (GET /agent) */
  let agentRules = new Map()
  let agentsReadAt = -Infinity

  /** The agents' permission rules, read once, and again (at most once a minute) for an agent not known. */
  /** @param {Set<string>} names @param {Clock} [clock] */
  async function readAgents(names, clock) {
    if ([...names].every((n) => agentRules.has(n)) || performance.now() - agentsReadAt < 60000) return
    agentsReadAt = performance.now()
    const agents = typeof client?.app?.agents === "function" ? await data(() => client.app.agents(), clock) : undefined
    if (Array.isArray(agents))
      agentRules = new Map(
        agents
          .filter((a) => typeof a?.name === "string")
          .map((a) => [a.name, Array.isArray(a.permission) ? a.permission : []]),
      )
  }

  /**
   * Per root session: the child sessions last passed (a child the core says can no longer
   * produce spans is passed again as it was, never fetched again). Where the open part starts
   * and which children are open, lib/ remembers (api.openPart): the core said it.
   * @type {Map<string, Map<string, any>>}
   */
  const passedChildren = new Map()
  const SESSIONS_MAX = 256

  /**
   * The session's messages from `from` on (all of them when it has fewer), oldest first: the
   * tail, then pages further back while the oldest one fetched is newer than `from`. Without
   * a watermark yet (the first event of this process), the tail alone.
   * @param {string} id @param {string | undefined} from @param {Clock} [clock]
   */
  async function openPart(id, from, clock) {
    if (open) {
      // kept from the session's start: all of it (what is before the watermark numbers the turns)
      const since = open.since(id)
      const kept = since === undefined ? undefined : open.messages(id, since === "" ? undefined : from)
      if (kept) return { messages: kept, all: since === "" }
    }
    const got = await read.messagesBack(
      id,
      TAIL,
      (messages) => from === undefined || !(String(idOf(messages[0])) > from),
      clock,
    )
    if (got && open) open.seed(id, got.messages, got.all)
    return got
  }

  /** A child session as a payload carries it: from what events kept when they can stand for it. */
  async function childSession(id, clock) {
    if (open && open.since(id) === "" && open.info(id)) {
      const messages = open.messages(id)
      if (messages) return { info: open.info(id), messages }
    }
    const got = await read.childSession(id, clock)
    if (got && open) open.seed(id, got.messages, true, got.info)
    return got
  }

  /**
   * Child sessions named by `task` tool calls (lib/recover.js childSessions, the one collector):
   * a child is fetched once its task call ended (or at "close": a call still running then will
   * not end), and again only while the core says it can still produce spans; otherwise it is
   * passed as last fetched.
   * @param {string} sessionID @param {Message[]} messages @param {boolean} closing
   * @param {string[] | null | undefined} openChildren @param {Clock} [clock]
   */
  function children(sessionID, messages, closing, openChildren, clock) {
    const passed = passedChildren.get(sessionID)
    const open = openChildren ? new Set(openChildren) : null
    return lib("recover.js").childSessions(sessionID, messages, (id) => childSession(id, clock), {
      closing,
      reuse: (id) => (passed && open && !open.has(id) ? passed.get(id) : undefined),
    })
  }

  /**
   * @param {string} sessionID @param {"reconcile" | "close"} type @param {Clock} [clock]
   */
  async function reconcile(sessionID, type, clock) {
    // the bench clock's synchronous sections end at each await (what is awaited is evaluated first)
    const pause = clock
      ? (/** @type {any} */ p, /** @type {string} */ name) => (clock.syncEnd(name), p)
      : (/** @type {any} */ p) => p
    // Tracing turned off (ARIZE_TRACE_ENABLED=false, or the config file; re-read on every
    // call, so turning it on again needs no restart): nothing is read from OpenCode, nothing kept.
    tracing = api.enabled() !== false
    if (!tracing) {
      live.clear()
      open?.clear()
      return
    }
    clock?.part("enabled")
    const parent = await pause(parentID(sessionID, clock), "parent")
    clock?.syncStart()
    if (parent !== null) return // its parent's payload carries it
    let from = api.openPart(sessionID)?.from
    // A close while a model call is not completed: an abort or a provider error.
    // OpenCode says idle before it writes that call's partial text and its error, then idle again
    // after: closing now would close the call empty for good; the second idle closes it whole.
    // Held once per call: one that never completes (events missed) does not hold the session.
    if (type === "close" && open) {
      const since = open.since(sessionID)
      const kept = since === undefined ? undefined : open.messages(sessionID, since === "" ? undefined : from)
      const unfinished = (kept || []).filter((m) => m.info.role === "assistant" && !m.info.time?.completed)
      const fresh = unfinished.filter((m) => !heldCloses.has(m.info.id))
      if (fresh.length) {
        for (const m of fresh) heldCloses.add(m.info.id)
        if (heldCloses.size > HELD_CLOSES_MAX) heldCloses.delete(heldCloses.values().next().value)
        return
      }
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      const fetched = await pause(openPart(sessionID, from, clock), "open")
      clock?.syncStart()
      if (!fetched) return
      // every message read goes to lib/, which cuts the payload at the core's watermark and
      // says where its turns stand in the session (their numbers); children are looked for in
      // the open part only
      const { messages } = fetched
      const mark = api.openPart(sessionID)
      const tail = mark ? messages.filter((m) => !(String(idOf(m)) < mark.from)) : messages
      clock?.part("filter")
      const childSessions = await pause(
        children(sessionID, tail, type === "close", mark?.openChildren, clock),
        "children",
      )
      clock?.syncStart()
      // the live signals of the session and of the child sessions this payload carries
      let signals
      if (attempt === 0) {
        const ids = [sessionID, ...childSessions.map((c) => c.sessionID)]
        const agents = live.agentsPending(ids)
        clock?.part("live")
        if (agents.size) {
          await pause(
            readAgents(agents, clock).catch(() => {}),
            "agents",
          )
          clock?.syncStart()
        }
        const sessionRules = new Map(childSessions.map((c) => [c.sessionID, c.info?.permission]))
        sessionRules.set(sessionID, permissionOf.get(sessionID))
        signals = live.take(ids, (session, agent) => {
          const own = sessionRules.get(session)
          const rules = agent === undefined ? undefined : agentRules.get(agent)
          return rules ? [...rules, ...(Array.isArray(own) ? own : [])] : undefined
        })
      }
      clock?.part("live")
      const context = await pause(contextOf(sessionID), "context")
      clock?.syncStart()
      const payload = {
        type,
        sessionID,
        messages,
        childSessions,
        session: infoOf.get(sessionID),
        context,
        ...(fetched.all ? { turnsBefore: 0 } : {}),
        live: signals,
      }
      clock?.coreStart()
      const result = api.reconcile(payload)
      clock?.coreEnd()
      if (signals && result && !result.error) live.handed(signals)
      const watermark = result?.watermark
      if (!watermark) return
      open?.keepFrom(sessionID, watermark.messageID)
      passedChildren.delete(sessionID)
      if (passedChildren.size >= SESSIONS_MAX) passedChildren.delete(passedChildren.keys().next().value)
      passedChildren.set(sessionID, new Map(childSessions.map((c) => [c.sessionID, c])))
      // The first payload of this process may start inside a turn it could not finish (OpenCode
      // restarted, the plugin loaded mid-session): the core named that turn; fetch back to it.
      if (from !== undefined || fetched.all || !(watermark.messageID < String(idOf(messages[0])))) return
      from = watermark.messageID
    }
  }

  /** @param {string} sessionID @param {"reconcile" | "close"} type */
  function schedule(sessionID, type) {
    const previous = chains.get(sessionID) ?? Promise.resolve()
    const next = previous
      .then(async () => {
        const clock = meter?.clock(sessionID, type, split)
        try {
          await reconcile(sessionID, type, clock)
        } finally {
          if (clock) meter.done(clock)
        }
      })
      .catch((error) => log("warn", `snapshot of ${sessionID} failed: ${text(error)}`))
    chains.set(sessionID, next)
    next.finally(() => {
      if (chains.get(sessionID) === next) chains.delete(sessionID)
    })
  }

  meter?.started(performance.now() - startedAt)
  return {
    ...live.hooks,
    /** @param {{event: {type: string, properties?: any}}} input */
    event: async ({ event }) => {
      // Once OpenCode disposes this instance, nothing here calls its SDK again: a call would
      // make OpenCode create the instance anew (bootstrapping it, plugins and all) while it exits.
      if (token.disposing) return
      const started = meter && performance.now()
      try {
        const p = event?.properties
        live.event(event)
        sweeper.saw(event)
        open?.event(event)
        if (event?.type === "session.updated" && p?.info && infoOf.has(p.info.id)) remember(p.info)
        if (event?.type === "message.updated" && p?.info?.role === "assistant" && p.info.time?.completed)
          schedule(p.info.sessionID, "reconcile")
        else if (event?.type === "session.idle" && p?.sessionID) schedule(p.sessionID, "close")
      } catch (error) {
        await log("warn", `event handling failed: ${text(error)}`)
      }
      if (meter) meter.hook(performance.now() - started)
    },
    // Awaited at the end of `opencode run` and on instance dispose: finish every pending
    // snapshot (their spans are then the core's), and wait for the backend at most the exit
    // bound where nothing else will. On the main thread (`opencode run`, `opencode serve`) the
    // core does that wait itself at the environment's cleanup, after OpenCode's own exit work and
    // off its thread: a dispose that waits makes OpenCode load the instance's plugins again and
    // dispose that instance too, which held `opencode run`'s exit by 2 to 8 s more with a backend
    // that does not answer (measured). In a worker thread (the TUI runs OpenCode's server in one)
    // the environment's cleanup does not run at exit, so dispose waits, at most the bound. What
    // the backend has not accepted by then stays in the spool for the next start (logged); an
    // instance disposed while the process goes on loses nothing: the exporter keeps sending.
    dispose: async () => {
      token.disposing = true
      try {
        const started = performance.now()
        await Promise.allSettled([...chains.values(), sweeper.stop()])
        if (!onMainThread()) await flushWithin(api)
        meter?.write({ sweepMs: sweeper.ms, disposeMs: performance.now() - started })
      } catch (error) {
        await log("warn", `dispose failed: ${text(error)}`)
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
function startUpSweep(client, read, api, log, describe) {
  const startedAt = Date.now()
  let recover,
    turnPosition,
    marker,
    sweep,
    stopping = false,
    failed = false
  // lib/recover.js and this process's marker when first needed (a session seen, or the sweep's
  // start), not at the plugin's start: the marker holds nothing until a session is added
  const ready = () => {
    if (!marker && !failed)
      try {
        recover = lib("recover.js")
        ;({ turnPosition } = lib("turns.js"))
        marker = new recover.Marker(recover.liveDir())
      } catch (error) {
        failed = true
        log("warn", `turns left open by an earlier OpenCode are not closed: ${text(error)}`)
      }
    return marker
  }
  const { data } = read
  let ms = 0
  const start = () =>
    (sweep ??= ready()
      ? (async () => {
          const t0 = performance.now()
          await run().catch((error) => log("warn", `closing turns left open failed: ${text(error)}`))
          ms = performance.now() - t0
        })()
      : Promise.resolve())
  const timer = setTimeout(start, SWEEP_DELAY_MS)
  timer.unref?.()
  /** @type {Set<string>} */
  const busySessions = new Set()
  /** @type {ReturnType<typeof setInterval> | undefined} */
  let beating

  /**
   * The session's last turn (from its last user message on), read back as far as it goes, and
   * where it stands in the session (lib/turns.js: its number).
   */
  async function snapshot(/** @type {string} */ id) {
    const got = await read.messagesBack(id, SWEEP_TAIL, (m) => recover.lastTurn(m) !== undefined)
    const turn = got ? recover.lastTurn(got.messages) : undefined
    if (!turn) return undefined
    const before = got.messages.slice(0, got.messages.length - turn.length)
    return { messages: turn, position: turnPosition(before, got.all) }
  }

  async function run() {
    const status = api.status()
    const hours = Number(status?.config?.recover_hours ?? 24)
    // off (tracing or the sweep), or a host without it
    if (status?.enabled === false || !(hours > 0) || typeof client?.session?.list !== "function") return
    /** @type {Map<string, number>} when the OpenCode that worked on a session was last seen alive */
    const stopped = new Map()
    const [sessions, busy, live, settled] = await Promise.all([
      // every root session, not the 100 most recent OpenCode answers by default
      data(() => client.session.list({ query: { limit: recover.SESSIONS_LIMIT } })),
      // a map of session id -> status: {data} from the v1 SDK, the bare map from others
      client.session.status
        ? Promise.resolve(client.session.status())
            .then((a) => (a && typeof a === "object" && ("data" in a || "response" in a) ? a.data : a))
            .catch(() => ({}))
        : {},
      recover.liveSessions(recover.liveDir(), marker, stopped),
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
      const last = await snapshot(session.id)
      const messages = last?.messages
      // Checked again on the snapshot itself: anything this process or another did since it
      // started means a live OpenCode has the session.
      if (
        !messages ||
        marker.has(session.id) ||
        (busy?.[session.id] && busy[session.id].type !== "idle") ||
        recover.lastActivity(messages) >= startedAt
      )
        continue
      const childSessions = await recover.childSessions(session.id, messages, (id) => read.childSession(id))
      const payload = { type: "close", abandoned: true, sessionID: session.id, messages, childSessions }
      const result = api.reconcile(
        { ...payload, ...last.position, ...(await describe(session)), stoppedAt: stopped.get(session.id) },
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
        typeof id === "string" &&
        (event.type === "message.updated" || event.type === "session.status" || event.type === "session.idle") &&
        ready()
      )
        marker.add(id)
      if (event?.type === "session.idle") start()
      // alive: while a session is busy, at least every BEAT_MS (a tool can run for minutes
      // without an event), so a sweep that finds this process killed knows when it stopped
      if (event?.type === "session.status" && typeof id === "string") {
        if (p?.status?.type === "idle") busySessions.delete(id)
        else busySessions.add(id)
        if (busySessions.size && !beating) ((beating = setInterval(() => marker?.beat(), BEAT_MS)), beating.unref?.())
        if (!busySessions.size && beating) (clearInterval(beating), (beating = undefined))
      }
      if (event?.type === "session.idle" && typeof id === "string") busySessions.delete(id)
      marker?.beat()
    },
    async stop() {
      clearTimeout(timer)
      clearInterval(beating)
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
