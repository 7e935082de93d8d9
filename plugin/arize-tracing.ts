// opencode-arize-tracing — the OpenCode plugin.
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

type Api = {
  reconcile(payload: unknown): { spans: number; error?: string }
  flush(timeoutMs?: number): Promise<{ exported: number; pending: number; dropped: number }>
}

type Part = { type?: string; tool?: string; callID?: string; state?: { metadata?: { sessionId?: string } } }
type Message = { info?: { role?: string; time?: { completed?: number } }; parts?: Part[] }

const SERVICE = "arize-tracing"
const DISPOSE_FLUSH_MS = 5000

// The package's own lib/ when this file runs from the package; the installed package when the
// file was copied into a plugin directory (resolved from ~/.config/opencode/node_modules).
function loadApi(): Api {
  const require = createRequire(import.meta.url)
  const errors: string[] = []
  for (const specifier of ["../lib/index.js", "opencode-arize-tracing"]) {
    try {
      return require(specifier) as Api
    } catch (error) {
      errors.push(`${specifier}: ${String((error as Error)?.message ?? error).split("\n").join(" ")}`)
    }
  }
  throw new Error(`cannot load opencode-arize-tracing (${errors.join("; ")})`)
}

export const ArizeTracing = async ({ client }: { client: any }) => {
  const log = (level: "warn" | "error", message: string) =>
    Promise.resolve(client?.app?.log?.({ body: { service: SERVICE, level, message } })).catch(() => {})

  let api: Api
  try {
    api = loadApi()
  } catch (error) {
    await log("error", `tracing is off: ${(error as Error).message}`)
    return {}
  }

  const parentOf = new Map<string, string | null>() // session id -> parentID (never changes)
  const chains = new Map<string, Promise<void>>() // per session, snapshots in event order

  const data = async <T>(call: Promise<{ data?: T }> | undefined): Promise<T | undefined> => (await call)?.data

  async function parentID(sessionID: string): Promise<string | null> {
    if (!parentOf.has(sessionID)) {
      const session = await data<{ parentID?: string }>(client.session.get({ path: { id: sessionID } }))
      parentOf.set(sessionID, session?.parentID ?? null)
    }
    return parentOf.get(sessionID) ?? null
  }

  // Child sessions named by `task` tool calls, depth-first, each fetched once.
  async function children(sessionID: string, messages: Message[], seen: Set<string>, out: unknown[]) {
    for (const message of messages)
      for (const part of message.parts ?? []) {
        const child = part.type === "tool" && part.tool === "task" ? part.state?.metadata?.sessionId : undefined
        if (!child || seen.has(child)) continue
        seen.add(child)
        const [info, childMessages] = await Promise.all([
          data<Record<string, unknown>>(client.session.get({ path: { id: child } })),
          data<Message[]>(client.session.messages({ path: { id: child } })),
        ])
        if (!info || !Array.isArray(childMessages)) continue
        out.push({ sessionID: child, parentSessionID: sessionID, parentCallID: part.callID, info, messages: childMessages })
        await children(child, childMessages, seen, out)
      }
    return out
  }

  async function reconcile(sessionID: string, type: "reconcile" | "close") {
    if ((await parentID(sessionID)) !== null) return // its parent's payload carries it
    const messages = await data<Message[]>(client.session.messages({ path: { id: sessionID } }))
    if (!Array.isArray(messages)) return
    const childSessions = await children(sessionID, messages, new Set([sessionID]), [])
    api.reconcile({ type, sessionID, messages, childSessions })
  }

  function schedule(sessionID: string, type: "reconcile" | "close") {
    const previous = chains.get(sessionID) ?? Promise.resolve()
    const next = previous
      .then(() => reconcile(sessionID, type))
      .catch((error) => log("warn", `snapshot of ${sessionID} failed: ${(error as Error)?.message ?? error}`))
    chains.set(sessionID, next)
    next.finally(() => {
      if (chains.get(sessionID) === next) chains.delete(sessionID)
    })
  }

  return {
    event: async ({ event }: { event: { type: string; properties?: any } }) => {
      try {
        const p = event?.properties
        if (event?.type === "message.updated" && p?.info?.role === "assistant" && p.info.time?.completed)
          schedule(p.info.sessionID, "reconcile")
        else if (event?.type === "session.idle" && p?.sessionID) schedule(p.sessionID, "close")
      } catch (error) {
        await log("warn", `event handling failed: ${(error as Error)?.message ?? error}`)
      }
    },
    // Awaited at the end of `opencode run` and on instance dispose: finish every pending
    // snapshot, then wait (bounded) for the backend to answer. What is unsent stays queued.
    dispose: async () => {
      try {
        await Promise.allSettled([...chains.values()])
        await api.flush(DISPOSE_FLUSH_MS)
      } catch (error) {
        await log("warn", `flush at exit failed: ${(error as Error)?.message ?? error}`)
      }
    },
  }
}
