// Loads plugin/arize-tracing.ts in real Bun, as OpenCode would, with a fake OpenCode client
// that answers from recorded snapshots, and replays the recorded events that triggered them.
// stdin: {"snapshots": "main-run/snapshots", "replays": 1, "hostileClient": false}
// stdout: {"logs": [...], "status": {...}, "hooks": [...], "reads": [{session, limit, before, messages}]}
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const { FIXTURES } = require("./fixtures.js")

const program = JSON.parse(readFileSync(0, "utf8"))
const dir = join(FIXTURES, program.snapshots)
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort()

const sessions = new Map<string, { session: any; messages: any[] }>()
const logs: unknown[] = []
const reads: { session: string; limit: number | null; before: string | null; messages: number }[] = []
const wrap = <T>(data: T) => Promise.resolve({ data, request: {}, response: {} })
const client = {
  session: {
    get: ({ path }: any) => {
      if (program.hostileClient) return Promise.reject(new Error("server went away"))
      return wrap(sessions.get(path.id)?.session)
    },
    // As OpenCode's GET /session/{id}/message: `limit` the most recent N, oldest first;
    // `before=<message id>` only those older than it.
    messages: ({ path, query }: any) => {
      let list = sessions.get(path.id)?.messages
      if (!list) return wrap(undefined)
      if (query?.before !== undefined) list = list.filter((m: any) => m.info.id < query.before)
      if (query?.limit !== undefined && query.limit > 0) list = list.slice(-query.limit)
      reads.push({ session: path.id, limit: query?.limit ?? null, before: query?.before ?? null, messages: list.length })
      return wrap(list)
    },
  },
  app: { log: ({ body }: any) => (logs.push(body), wrap(true)) },
}

const plugin = await import(join(import.meta.dir, "..", "..", "plugin", "arize-tracing.ts"))
const exported = Object.entries(plugin)
if (exported.some(([, v]) => typeof v !== "function")) throw new Error("the plugin exports a non-function")
const hooks = await (exported[0][1] as any)({ client, project: {}, directory: "/tmp", worktree: "/tmp", $: null })

for (let replay = 0; replay < (program.replays ?? 1); replay++) {
  for (const file of files) {
    const snap = JSON.parse(readFileSync(join(dir, file), "utf8"))
    sessions.set(snap.session.id, { session: snap.session, messages: snap.messages })
    for (const child of snap.children ?? []) sessions.set(child.id, { session: child.session, messages: child.messages })
    hooks.event({ event: snap.event }) // not awaited, as in OpenCode
    await new Promise((r) => setTimeout(r, 5))
  }
}
await hooks.dispose()
const api = require("../../lib/index.js")
process.stdout.write(JSON.stringify({ logs, status: api.status(), hooks: Object.keys(hooks), reads }))
