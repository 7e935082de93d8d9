// Loads plugin/arize-tracing.ts in real Bun, as OpenCode would, with a fake OpenCode client
// that answers from recorded snapshots, and replays the recorded events that triggered them.
// stdin: {"snapshots": "main-run/snapshots" | "synthetic": {messages, seed, childEvery}
//         | "local": "<capture>.json" (test/fixtures; its storage only, no event),
//         "from": 0, "to": <all>, "replays": 1, "hostileClient": false, "ignore": [],
//         "answers": "wrapped", "sweep": false, "waitMs": 0, "flushNeverAnswers": false}
// sweep: the client also lists the sessions (with their time.updated) and their status, as
// OpenCode does, so the plugin's start-up sweep can run; waitMs: how long to wait after the
// events before dispose (the sweep starts 3 s after the plugin).
// stdout: {"logs": [...], "status": {...}, "hooks": [...], "reads": [{session, limit, before, messages}],
//          "lists": [the query of each session listing]}
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const { FIXTURES, LOCAL } = require("./fixtures.js")

const program = JSON.parse(readFileSync(0, "utf8"))

// What OpenCode would show and say, in order: each frame sets what its server holds, then its
// event fires. Recorded captures, or a synthetic multi-turn session (test/bench/session.js):
// every model call completes (message.updated), every turn ends (session.idle), and each child
// session is complete before the task call that started it ends.
type Frame = { store: { session: any; messages: any[] }[]; event: any }
const frames: Frame[] = []
if (program.local) {
  // a capture of the project's own (test/fixtures): OpenCode's storage holds it, as left
  const snap = JSON.parse(readFileSync(join(LOCAL, program.local), "utf8"))
  const store = [{ session: snap.session, messages: snap.messages }]
  for (const child of snap.children ?? []) store.push({ session: child.session, messages: child.messages })
  frames.push({ store, event: { type: "server.connected", properties: {} } })
} else if (program.snapshots) {
  const dir = join(FIXTURES, program.snapshots)
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const snap = JSON.parse(readFileSync(join(dir, file), "utf8"))
    const store = [{ session: snap.session, messages: snap.messages }]
    for (const child of snap.children ?? []) store.push({ session: child.session, messages: child.messages })
    frames.push({ store, event: snap.event })
  }
} else {
  const { makeSession } = require("../bench/session.js")
  const { sessionID, messages, childSessions } = makeSession(program.synthetic.messages, program.synthetic)
  const children = childSessions.map((c: any) => ({ session: c.info, messages: c.messages }))
  for (let k = 1; k < messages.length; k++) {
    if (messages[k].info.role !== "assistant") continue
    const store = [{ session: { id: sessionID }, messages: messages.slice(0, k + 1) }, ...children]
    frames.push({ store, event: { type: "message.updated", properties: { info: messages[k].info } } })
    if (k + 1 === messages.length || messages[k + 1].info.role === "user")
      frames.push({ store, event: { type: "session.idle", properties: { sessionID } } })
  }
}
// Events delivered: frames [from, to) (the plugin loaded late, or OpenCode stopped early);
// OpenCode's storage holds what every frame up to the current one wrote.
const from = program.from ?? 0,
  to = program.to ?? frames.length

const sessions = new Map<string, { session: any; messages: any[] }>()
const logs: unknown[] = []
const reads: { session: string; limit: number | null; before: string | null; messages: number }[] = []
// answers: "wrapped" ({data, request, response}: the v1 SDK), "bare" (the value itself: other
// SDK versions), "odd" (a shape that is neither)
const answers = program.answers ?? "wrapped"
const wrap = <T>(data: T, headers: Record<string, string> = {}) =>
  Promise.resolve(
    answers === "bare"
      ? data
      : answers === "odd"
        ? (42 as any)
        : { data, request: {}, response: new Response(null, { status: 200, headers }) },
  )
// an error answer as the v1 SDK gives it: no data (a bare SDK throws)
const refuse = (status: number) =>
  answers === "wrapped"
    ? Promise.resolve({ error: { _tag: "BadRequest" }, request: {}, response: new Response(null, { status }) })
    : Promise.reject(new Error(`HTTP ${status}`))
// The root sessions as GET /session lists them: time.updated is the last time a message shows;
// the 100 most recently updated unless `limit` asks for more, as OpenCode answers. Each listing's
// query is kept (stdout's "lists").
const lists: unknown[] = []
const listSessions = (options?: any) => {
  lists.push(options?.query ?? null)
  const limit = options?.query?.limit ?? 100
  return wrap(
    [...sessions.values()]
      .filter(({ session }) => !session.parentID)
      .map(({ session, messages }) => ({
        ...session,
        time: {
          created: messages[0]?.info.time.created ?? 0,
          updated: Math.max(
            0,
            ...messages.map((m: any) => Math.max(m.info.time.created ?? 0, m.info.time.completed ?? 0)),
          ),
        },
      }))
      .sort((a, b) => b.time.updated - a.time.updated)
      .slice(0, limit),
  )
}
const client = {
  session: {
    get: ({ path }: any) => {
      if (program.hostileClient) return Promise.reject(new Error("server went away"))
      return wrap(sessions.get(path.id)?.session)
    },
    // As OpenCode 1.18's GET /session/{id}/message: `limit` the most recent N, oldest first,
    // with `X-Next-Cursor` while older ones remain; `before=<that cursor>` the page before it; a
    // message id as `before` refused (400). `before: "ids"` plays a server that takes a message
    // id and gives no cursor; `ignore` parameters an older or a broken server leaves out.
    messages: ({ path, query }: any) => {
      let list = sessions.get(path.id)?.messages
      if (!list) return wrap(undefined)
      const ignore = new Set(program.ignore ?? [])
      const ids = program.before === "ids"
      const before = query?.before
      if (before !== undefined && !ignore.has("before")) {
        const cursor = typeof before === "string" && before.startsWith("cursor:") ? before.slice(7) : undefined
        if (!ids && cursor === undefined) {
          reads.push({ session: path.id, limit: query?.limit ?? null, before, messages: 0 })
          return refuse(400)
        }
        const older = ids ? before : cursor
        list = list.filter((m: any) => m.info.id < older)
      }
      const all = list
      if (query?.limit !== undefined && query.limit > 0 && !ignore.has("limit")) list = list.slice(-query.limit)
      reads.push({
        session: path.id,
        limit: query?.limit ?? null,
        before: before ?? null,
        messages: list.length,
      })
      const more = !ids && !ignore.has("limit") && list.length < all.length
      return wrap(list, more ? { "x-next-cursor": `cursor:${list[0].info.id}` } : {})
    },
    ...(program.sweep ? { list: listSessions, status: () => wrap({}) } : {}),
  },
  app: { log: ({ body }: any) => (logs.push(body), Promise.resolve({ data: true })) },
}

// flushNeverAnswers: the flush's promise never settles, as when OpenCode's exit delays Bun's
// async-work completion: the plugin's exit bound must not depend on it.
if (program.flushNeverAnswers) require("../../lib/index.js").flush = () => new Promise(() => {})

const plugin = await import(join(import.meta.dir, "..", "..", "plugin", "arize-tracing.ts"))
const exported = Object.entries(plugin)
if (exported.some(([, v]) => typeof v !== "function")) throw new Error("the plugin exports a non-function")
const hooks = await (exported[0][1] as any)({ client, project: {}, directory: "/tmp", worktree: "/tmp", $: null })

for (let replay = 0; replay < (program.replays ?? 1); replay++) {
  for (let i = 0; i < to; i++) {
    for (const { session, messages } of frames[i].store) sessions.set(session.id, { session, messages })
    if (i < from) continue
    hooks.event({ event: frames[i].event }) // not awaited, as in OpenCode
    await new Promise((r) => setTimeout(r, program.synthetic ? 1 : 5))
  }
}
if (program.waitMs) await new Promise((r) => setTimeout(r, program.waitMs))
await hooks.dispose()
const api = require("../../lib/index.js")
process.stdout.write(JSON.stringify({ logs, status: api.status(), hooks: Object.keys(hooks), reads, lists }))
