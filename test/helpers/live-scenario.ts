// Loads the plugin in real Bun, as OpenCode would, and replays a capture of the real OpenCode
// (test/fixtures/live/<scenario>/: every hook call and every event, in the order they came):
// each hook is called with what OpenCode gave it (and awaited, as OpenCode does), each event is
// delivered (not awaited), and a fake OpenCode client answers from what the events said so far
// (message.updated, message.part.updated, session.created/updated), so the plugin reads what
// OpenCode held at that moment. Date.now() answers the capture's time of each record.
// stdin: {"scenario": "permission", "systemExtra"?: "text added to each system prompt"}
// stdout: {"logs": [...], "status": {...}, "payloads": [{type, sessionID, live}], "hooks": [...]}
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const program = JSON.parse(readFileSync(0, "utf8"))
const dir = join(import.meta.dir, "..", "fixtures", "live", program.scenario)
const lines = (file: string) =>
  readFileSync(join(dir, file), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
const records = [
  ...lines("hooks.jsonl").map((r: any) => ({ kind: "hook", ...r })),
  ...lines("events.jsonl").map((r: any) => ({ kind: "event", ...r })),
].sort((a: any, b: any) => a.seq - b.seq)
const agents = JSON.parse(readFileSync(join(dir, "agents.json"), "utf8"))

// What OpenCode's storage held, rebuilt from the events.
const sessions = new Map<string, any>()
const messages = new Map<string, Map<string, { info: any; parts: any[] }>>()
function apply(event: any) {
  const p = event.properties ?? {}
  if (event.type === "session.created" || event.type === "session.updated") sessions.set(p.info.id, p.info)
  if (event.type === "message.updated") {
    const list = messages.get(p.info.sessionID) ?? new Map()
    messages.set(p.info.sessionID, list)
    const m = list.get(p.info.id)
    list.set(p.info.id, { info: p.info, parts: m?.parts ?? [] })
  }
  if (event.type === "message.part.updated") {
    const part = p.part
    const list = messages.get(part.sessionID) ?? new Map()
    messages.set(part.sessionID, list)
    const m = list.get(part.messageID) ?? { info: { id: part.messageID, sessionID: part.sessionID }, parts: [] }
    const at = m.parts.findIndex((x: any) => x.id === part.id)
    if (at >= 0) m.parts[at] = part
    else m.parts.push(part)
    list.set(part.messageID, m)
  }
}
const copy = (v: any) => JSON.parse(JSON.stringify(v))
const wrap = (data: any) =>
  Promise.resolve({ data: data === undefined ? undefined : copy(data), request: {}, response: {} })
const logs: unknown[] = []
const client = {
  session: {
    get: ({ path }: any) => wrap(sessions.get(path.id)),
    messages: ({ path, query }: any) => {
      let list = [...(messages.get(path.id)?.values() ?? [])].sort((a, b) => (a.info.id < b.info.id ? -1 : 1))
      if (query?.before !== undefined) list = list.filter((m) => m.info.id < query.before)
      if (query?.limit > 0) list = list.slice(-query.limit)
      return wrap(list)
    },
  },
  app: {
    agents: () => wrap(agents),
    log: ({ body }: any) => (logs.push(body), Promise.resolve({ data: true })),
  },
}

const api = require("../../lib/index.js")
const payloads: any[] = []
const reconcile = api.reconcile
api.reconcile = (payload: any, options: any) => {
  if (payload && typeof payload === "object")
    payloads.push({ type: payload.type, sessionID: payload.sessionID, live: payload.live })
  return reconcile(payload, options)
}

let now = records[0]?.at ?? Date.now()
Date.now = () => now

const plugin = await import(join(import.meta.dir, "..", "..", "plugin", "arize-tracing.ts"))
const exported = Object.entries(plugin)
if (exported.some(([, v]) => typeof v !== "function")) throw new Error("the plugin exports a non-function")
const hooks = await (exported[0][1] as any)({ client, project: {}, directory: "/tmp", worktree: "/tmp", $: null })

// OpenCode hands each hook the same objects each time where it has them (a tool's parameters
// schema); the capture wrote them out per call: the first copy of each stands for all.
const schemas = new Map<string, any>()
for (const r of records) {
  now = r.at
  if (r.kind === "hook") {
    const hook = hooks[r.hook]
    if (r.hook === "tool.definition")
      for (const field of ["parameters", "jsonSchema"]) {
        const key = field + JSON.stringify(r.output?.[field] ?? null)
        if (!schemas.has(key)) schemas.set(key, r.output?.[field])
        r.output[field] = schemas.get(key)
      }
    // the capture kept each message's info only
    if (r.hook === "experimental.chat.messages.transform")
      r.output = { messages: (r.output?.messages ?? []).map((m: any) => (m.info ? m : { info: m, parts: [] })) }
    // a text the test adds to each system prompt (a secret, say), as an instruction file would
    if (r.hook === "experimental.chat.system.transform" && program.systemExtra && Array.isArray(r.output?.system))
      r.output.system.push(program.systemExtra)
    if (hook) await hook(r.input, r.output)
  } else {
    const event = { type: r.type, properties: r.properties }
    apply(event)
    hooks.event({ event }) // not awaited, as in OpenCode
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
await new Promise((resolve) => setTimeout(resolve, 50))
await hooks.dispose()
process.stdout.write(JSON.stringify({ logs, status: api.status(), payloads, hooks: Object.keys(hooks).sort() }))
