// opencode-arize-tracing — live signals: what OpenCode's hooks and events say about a turn that
// its stored messages do not (the system prompt, the generation settings and the tools a model
// call was given, permission asks and answers, provider retries, the slash command, errors
// stored on no message). Captured on OpenCode's thread in O(1) per hook or event (a reference
// or a few fields kept; no fetch, no parse, no copy of anything large), bounded, and handed to
// the core with the next payload of the session's root (`live` member, native/live.h), which
// ties each signal to its span.
//
// Shapes read from OpenCode 1.18.33 (test/fixtures/live/: captures of the real binary):
// - experimental.chat.system.transform ({sessionID, model}, {system: string[]}) and then
//   chat.params ({sessionID, agent, model, provider, message: the user message}, {temperature,
//   topP, topK, maxOutputTokens, options}) run for every model call, in that order, after the
//   call's assistant message was created; also for the session-title call (agent "title"),
//   which makes no message and is left out.
// - tool.definition ({toolID}, {description, parameters, jsonSchema}) runs for each registered
//   tool before each model call, then experimental.chat.messages.transform (whose messages name
//   the session). `parameters` is an Effect Schema for OpenCode's own tools, `jsonSchema` JSON
//   Schema for the others.
// - command.execute.before ({command, sessionID, arguments}) runs before the command's user
//   message is created (command.executed comes after the turn, too late for its Turn span).
// - events permission.asked {id, sessionID, permission, patterns, tool: {messageID, callID}},
//   permission.replied {sessionID, requestID, reply}, session.status {type: "retry", attempt,
//   message, next}, session.error {sessionID, error: {name, data: {message}}}.
// - permission.ask (the hook) is not called by OpenCode 1.18.33; chat.message, session.diff,
//   todo.updated and session.compacted say nothing the stored messages do not (the user
//   message's summary.diffs, the todowrite calls, the compaction messages).
//
// Nothing here throws into OpenCode, and nothing changes what OpenCode does: outputs are read,
// never written.

const SESSIONS_MAX = 64 // sessions with signals not yet handed to the core
const CALLS_MAX = 64 // per session, between two payloads
const PERMISSIONS_MAX = 128
const RETRIES_MAX = 64
const ERRORS_MAX = 16
const COMMANDS_MAX = 8
const SYSTEM_QUEUE_MAX = 4 // system prompts waiting for their chat.params, per session
const TOOLS_MAX = 256 // tool definitions known
const TOOL_IDS_MAX = 256 // tool ids of one model call
const TEXT_MAX = 1024 * 1024 // a system prompt longer than this is cut (the core cuts far sooner)
const SCHEMA_NODES_MAX = 4000 // an Effect Schema bigger than this is not converted

/** @param {unknown} v */
const str = (v) => (typeof v === "string" ? v : undefined)
/** @param {unknown} v */
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined)

// Keys of provider options whose values never leave the machine: credentials (apiKey, api_key,
// accessToken, headers, authorization, ...; "...Tokens", a count, stays), and OpenAI's
// `instructions` (the system prompt again, sent apart for some providers).
const SECRET_KEY =
  /(key|secret|passw(or)?d|authori[sz]ation|auth|credentials?|cookies?|headers?|bearer|token|instructions)$/i

/**
 * A copy of provider options without secrets: plain values, arrays and objects, at most 4
 * levels and 64 keys each; anything else is left out.
 * @param {unknown} v @param {number} [depth]
 * @returns {unknown}
 */
function withoutSecrets(v, depth = 0) {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined
  if (typeof v !== "object" || depth >= 4) return undefined
  if (Array.isArray(v))
    return v
      .slice(0, 64)
      .map((x) => withoutSecrets(x, depth + 1))
      .filter((x) => x !== undefined)
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return undefined
  /** @type {Record<string, unknown>} */
  const out = {}
  let n = 0
  for (const k of Object.keys(v)) {
    if (n++ >= 64) break
    if (SECRET_KEY.test(k)) continue
    const x = withoutSecrets(/** @type {any} */ (v)[k], depth + 1)
    if (x !== undefined) out[k] = x
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Tool parameters as JSON Schema. OpenCode's own tools define theirs with Effect Schema; OpenCode
// converts them when it builds the request, where no hook sees the result. This reads the
// schema's AST (its `ast`: `_tag` String, Number, Boolean, Literal, Enum, Objects, Arrays,
// Union, ...) for what a reader of the trace needs: types, properties, required, descriptions,
// enums and bounds. Once per definition (cached), when it is handed to the core; unknown nodes
// read as {} (any value), a schema past SCHEMA_NODES_MAX as {}.

/** @type {Record<string, string>} */
const BOUNDS = {
  exclusiveMinimum: "exclusiveMinimum",
  exclusiveMaximum: "exclusiveMaximum",
  minimum: "minimum",
  maximum: "maximum",
  minLength: "minLength",
  maxLength: "maxLength",
  minItems: "minItems",
  maxItems: "maxItems",
}

/** @param {any} ast @param {{n: number}} budget @param {number} depth @returns {any} */
function astToJson(ast, budget, depth) {
  if (!ast || typeof ast !== "object" || ++budget.n > SCHEMA_NODES_MAX || depth > 32) return {}
  /** @type {any} */
  let out
  switch (ast._tag) {
    case "String":
      out = { type: "string" }
      break
    case "Number":
      out = { type: "number" }
      break
    case "Boolean":
      out = { type: "boolean" }
      break
    case "Null":
      out = { type: "null" }
      break
    case "Literal":
      out = ast.literal === null ? { type: "null" } : { type: typeof ast.literal, enum: [ast.literal] }
      break
    case "Enum":
      out = { enum: Array.isArray(ast.enums) ? ast.enums.map((/** @type {any} */ e) => e?.[1]) : [] }
      break
    case "Objects": {
      /** @type {Record<string, any>} */
      const properties = {}
      const required = []
      for (const p of Array.isArray(ast.propertySignatures) ? ast.propertySignatures : []) {
        if (typeof p?.name !== "string") continue
        properties[p.name] = astToJson(p.type, budget, depth + 1)
        if (!optional(p.type)) required.push(p.name)
      }
      out = { type: "object", properties, required }
      const index = Array.isArray(ast.indexSignatures) ? ast.indexSignatures[0] : undefined
      if (index) out.additionalProperties = astToJson(index.type, budget, depth + 1)
      break
    }
    case "Arrays": {
      const rest = Array.isArray(ast.rest) ? ast.rest : []
      const elements = Array.isArray(ast.elements) ? ast.elements : []
      out = { type: "array" }
      if (elements.length) out.prefixItems = elements.map((/** @type {any} */ e) => astToJson(e, budget, depth + 1))
      if (rest.length) out.items = astToJson(rest[0], budget, depth + 1)
      break
    }
    case "Union": {
      const types = (Array.isArray(ast.types) ? ast.types : []).filter(
        (/** @type {any} */ t) => t?._tag !== "Undefined",
      )
      const literals = types.every((/** @type {any} */ t) => t?._tag === "Literal" && typeof t.literal === "string")
      if (literals && types.length) out = { type: "string", enum: types.map((/** @type {any} */ t) => t.literal) }
      else if (types.length === 1) out = astToJson(types[0], budget, depth + 1)
      else out = { anyOf: types.map((/** @type {any} */ t) => astToJson(t, budget, depth + 1)) }
      break
    }
    default:
      out = {}
  }
  for (const check of Array.isArray(ast.checks) ? ast.checks : []) {
    const meta = check?.annotations?.meta
    if (!meta || typeof meta !== "object") continue
    if (meta._tag === "isInt" && out.type === "number") out.type = "integer"
    for (const k of Object.keys(meta)) if (BOUNDS[k] && typeof meta[k] === "number") out[BOUNDS[k]] = meta[k]
  }
  const a = ast.annotations
  if (a && typeof a === "object") {
    if (typeof a.description === "string") out.description = a.description
    if (typeof a.title === "string") out.title = a.title
  }
  return out
}

/** @param {any} ast */
function optional(ast) {
  if (ast?.context?.isOptional === true) return true
  return (
    ast?._tag === "Union" &&
    Array.isArray(ast.types) &&
    ast.types.some((/** @type {any} */ t) => t?._tag === "Undefined")
  )
}

/** @type {WeakMap<object, any>} */
const converted = new WeakMap()

/**
 * The JSON Schema of a tool's parameters as its definition gives them: `jsonSchema` when set
 * (OpenCode then sends that), a plain JSON Schema object, or an Effect Schema; else {}.
 * @param {{parameters?: any, jsonSchema?: any}} def
 */
export function parametersSchema(def) {
  const json = def.jsonSchema
  if (json && typeof json === "object") return json
  const p = def.parameters
  if (!p || typeof p !== "object") return {}
  if (converted.has(p)) return converted.get(p)
  let out = {}
  try {
    if (p.ast && typeof p.ast === "object") {
      const budget = { n: 0 }
      out = astToJson(p.ast, budget, 0)
      if (budget.n > SCHEMA_NODES_MAX) out = {}
    } else if (typeof p.type === "string" || (p.properties && typeof p.properties === "object")) {
      out = p // already JSON Schema
    }
  } catch {
    out = {}
  }
  converted.set(p, out)
  return out
}

// ---------------------------------------------------------------------------------------------
// The tools a model call is offered. tool.definition runs for every tool of OpenCode's registry;
// OpenCode then leaves out its internal `invalid` tool and every tool the agent's and the
// session's permission rules deny outright (the last rule naming the tool's permission, by
// OpenCode's wildcard, has pattern "*" and action "deny": webfetch: deny, a subagent's task and
// todowrite, ...). The same here, from the rules OpenCode's server lists (GET /agent, the
// session's `permission`).

/** @type {Map<string, RegExp>} */
const patterns = new Map()

/** OpenCode's wildcard: `*` any run, `?` one character, a trailing " *" also matches nothing. */
function wildcard(/** @type {string} */ text, /** @type {string} */ pattern) {
  let re = patterns.get(pattern)
  if (!re) {
    let source = pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")
    if (source.endsWith(" .*")) source = source.slice(0, -3) + "( .*)?"
    re = new RegExp("^" + source + "$", "s")
    if (patterns.size >= 256) patterns.clear()
    patterns.set(pattern, re)
  }
  return re.test(text)
}

const EDIT_TOOLS = ["edit", "write", "apply_patch"]
const READ_TOOLS = ["list_mcp_resources", "list_mcp_resource_templates", "read_mcp_resource"]

/**
 * The tools of `ids` OpenCode offers under these permission rules ([{permission, pattern,
 * action}], the agent's then the session's), sorted by name as OpenCode sends them.
 * @param {string[]} ids @param {any[]} rules
 */
export function offeredTools(ids, rules) {
  // in OpenCode's order: by name
  return [...new Set(ids)].sort().filter((id) => {
    if (id === "invalid") return false
    const key = EDIT_TOOLS.includes(id) ? "edit" : READ_TOOLS.includes(id) ? "read" : id
    let last
    for (const r of rules) if (typeof r?.permission === "string" && wildcard(key, r.permission)) last = r
    return !(last?.pattern === "*" && last?.action === "deny")
  })
}

// ---------------------------------------------------------------------------------------------

/**
 * The live signals of one OpenCode instance. `hooks` are OpenCode hooks (merged into the
 * plugin's), `event` reads a bus event, `take` hands what is pending for a root session (and the
 * sessions under it) to the next payload.
 * @param {{enabled: () => boolean}} options
 */
export function createLive({ enabled }) {
  /**
   * Per session: what is pending for the core.
   * @typedef {{calls: any[], permissions: Map<string, any>, retries: any[], errors: any[], commands: any[]}} Pending
   * @type {Map<string, Pending>}
   */
  const pending = new Map()
  /** @type {Map<string, {system: string[]}[]>} system prompts waiting for their chat.params */
  const systems = new Map()
  /** @type {Map<string, string[]>} the tool ids defined for a session's next model call */
  const bursts = new Map()
  /** @type {string[]} tool ids defined since the last experimental.chat.messages.transform */
  let burst = []
  /** @type {Map<string, {description?: string, parameters?: any, jsonSchema?: any, sent: boolean}>} */
  const tools = new Map()
  /** @type {Map<string, {user: string, text: string}>} per session: the system prompt the core has for the turn */
  const systemSent = new Map()

  /** @param {string} id @returns {Pending} */
  function slot(id) {
    let p = pending.get(id)
    if (p) return p
    if (pending.size >= SESSIONS_MAX) {
      const oldest = pending.keys().next().value
      if (oldest !== undefined) pending.delete(oldest)
    }
    p = { calls: [], permissions: new Map(), retries: [], errors: [], commands: [] }
    pending.set(id, p)
    return p
  }

  /** @param {any[]} list @param {any} item @param {number} max */
  const push = (list, item, max) => {
    if (list.length >= max) list.shift()
    list.push(item)
  }

  /** @param {Map<string, any>} map @param {string} key @param {any} value @param {number} max */
  const put = (map, key, value, max) => {
    map.delete(key)
    if (map.size >= max) {
      const oldest = map.keys().next().value
      if (oldest !== undefined) map.delete(oldest)
    }
    map.set(key, value)
  }

  /** Runs f, never letting it throw into OpenCode. @param {() => void} f */
  const guard = (f) => {
    try {
      if (enabled()) f()
    } catch {
      /* a signal is lost; OpenCode goes on */
    }
  }

  const hooks = {
    /** @param {any} input @param {any} output */
    "experimental.chat.system.transform": async (input, output) =>
      guard(() => {
        const id = str(input?.sessionID)
        if (!id || !Array.isArray(output?.system)) return
        const queue = systems.get(id) ?? []
        if (queue.length >= SYSTEM_QUEUE_MAX) queue.shift()
        queue.push({ system: output.system }) // read at hand-over: OpenCode may still join its parts
        put(systems, id, queue, SESSIONS_MAX)
      }),

    /** @param {any} input @param {any} output */
    "chat.params": async (input, output) =>
      guard(() => {
        const id = str(input?.sessionID)
        if (!id) return
        const queue = systems.get(id)
        const system = queue?.shift()
        if (queue && queue.length === 0) systems.delete(id)
        const agent = str(input?.agent)
        if (agent === "title") return // the session-title call: no message of its own
        const defined = bursts.get(id)
        bursts.delete(id)
        push(
          slot(id).calls,
          {
            at: Date.now(),
            user: str(input?.message?.id),
            agent,
            variant: str(input?.message?.model?.variant),
            system: system?.system,
            params: output, // read at hand-over: the values OpenCode sent, after every plugin
            tools: defined,
          },
          CALLS_MAX,
        )
      }),

    /** @param {any} input @param {any} output */
    "tool.definition": async (input, output) =>
      guard(() => {
        const id = str(input?.toolID)
        if (!id || !output) return
        const known = tools.get(id)
        const description = str(output.description)
        if (
          !known ||
          known.description !== description ||
          known.parameters !== output.parameters ||
          known.jsonSchema !== output.jsonSchema
        )
          put(
            tools,
            id,
            { description, parameters: output.parameters, jsonSchema: output.jsonSchema, sent: false },
            TOOLS_MAX,
          )
        if (burst.length < TOOL_IDS_MAX) burst.push(id)
      }),

    /** @param {any} _input @param {any} output */
    "experimental.chat.messages.transform": async (_input, output) =>
      guard(() => {
        const messages = output?.messages
        const id = Array.isArray(messages) ? str(messages[messages.length - 1]?.info?.sessionID) : undefined
        if (id && burst.length) put(bursts, id, burst, SESSIONS_MAX)
        burst = []
      }),

    /** @param {any} input */
    "command.execute.before": async (input) =>
      guard(() => {
        const id = str(input?.sessionID)
        const name = str(input?.command)
        if (!id || !name) return
        push(slot(id).commands, { at: Date.now(), name, arguments: str(input?.arguments) ?? "" }, COMMANDS_MAX)
      }),
  }

  /** @param {{type?: string, properties?: any}} event */
  function event(event) {
    guard(() => {
      const p = event?.properties
      switch (event?.type) {
        case "permission.asked": {
          const id = str(p?.id),
            session = str(p?.sessionID)
          if (!id || !session) return
          put(
            slot(session).permissions,
            id,
            {
              id,
              type: str(p.permission),
              patterns: Array.isArray(p.patterns)
                ? p.patterns.filter((/** @type {any} */ x) => typeof x === "string").slice(0, 16)
                : [],
              message: str(p.tool?.messageID),
              call: str(p.tool?.callID),
              asked: Date.now(),
            },
            PERMISSIONS_MAX,
          )
          return
        }
        case "permission.replied": {
          const id = str(p?.requestID),
            session = str(p?.sessionID)
          if (!id || !session) return
          const asked = pending.get(session)?.permissions.get(id)
          // asked before the last hand-over: the core has the ask, this completes it
          const entry = asked ?? { id }
          entry.reply = str(p.reply)
          entry.replied = Date.now()
          if (!asked) put(slot(session).permissions, id, entry, PERMISSIONS_MAX)
          return
        }
        case "session.status": {
          const session = str(p?.sessionID),
            s = p?.status
          if (!session || s?.type !== "retry") return
          push(
            slot(session).retries,
            { at: Date.now(), attempt: num(s.attempt), message: str(s.message), next: num(s.next) },
            RETRIES_MAX,
          )
          return
        }
        case "session.error": {
          const session = str(p?.sessionID)
          if (!session) return
          const e = p.error
          push(
            slot(session).errors,
            { at: Date.now(), name: str(e?.name) ?? "Error", message: str(e?.data?.message) ?? str(e?.message) },
            ERRORS_MAX,
          )
          return
        }
        case "session.deleted": {
          const session = str(p?.info?.id)
          if (session) forget(session)
          return
        }
      }
    })
  }

  /** @param {string} id */
  function forget(id) {
    pending.delete(id)
    systems.delete(id)
    bursts.delete(id)
    systemSent.delete(id)
  }

  /** The invocation parameters of a call, read from chat.params' output. @param {any} call */
  function invocation(call) {
    const o = call.params ?? {}
    /** @type {Record<string, unknown>} */
    const out = {}
    for (const k of ["temperature", "topP", "topK", "maxOutputTokens"]) if (num(o[k]) !== undefined) out[k] = o[k]
    if (call.variant) out.variant = call.variant
    const options = withoutSecrets(o.options)
    if (options && typeof options === "object" && Object.keys(options).length) out.options = options
    return out
  }

  /**
   * @param {string} session @param {any} call
   * @param {(session: string, agent: string | undefined) => any[] | undefined} rulesFor
   */
  function callOut(session, call, rulesFor) {
    /** @type {Record<string, unknown>} */
    const out = { at: call.at, params: invocation(call) }
    if (call.user) out.user = call.user
    if (call.agent) out.agent = call.agent
    const rules = call.tools ? rulesFor(session, call.agent) : undefined
    // without the rules the offered tools are not known: none listed rather than wrong ones
    if (rules) out.tools = offeredTools(call.tools, rules)
    if (Array.isArray(call.system)) {
      let text = call.system.filter((/** @type {unknown} */ s) => typeof s === "string").join("\n")
      if (text.length > TEXT_MAX) text = text.slice(0, TEXT_MAX)
      const sent = systemSent.get(session)
      // the core keeps a turn's system prompt: a call with the same one says so, not again
      if (sent && sent.user === call.user && sent.text === text) out.systemSame = true
      else {
        out.system = text
        put(systemSent, session, { user: call.user ?? "", text }, SESSIONS_MAX)
      }
    }
    return out
  }

  /**
   * What is pending for these sessions (a root and the sessions under it), as the payload's
   * `live` member, and the tool definitions the core has not had; undefined when nothing is.
   * What is taken is no longer kept here (see `handed`). rulesFor: a session's and agent's
   * permission rules, undefined when unknown.
   * @param {string[]} ids
   * @param {(session: string, agent: string | undefined) => any[] | undefined} rulesFor
   */
  function take(ids, rulesFor) {
    /** @type {Record<string, any>} */
    const sessions = {}
    let any = false
    for (const id of ids) {
      const p = pending.get(id)
      if (!p) continue
      pending.delete(id)
      /** @type {Record<string, unknown>} */
      const out = {}
      if (p.calls.length) out.calls = p.calls.map((c) => callOut(id, c, rulesFor))
      if (p.permissions.size) out.permissions = [...p.permissions.values()]
      if (p.retries.length) out.retries = p.retries
      if (p.errors.length) out.errors = p.errors
      if (p.commands.length) out.commands = p.commands
      sessions[id] = out
      any = true
    }
    const defs = []
    for (const [id, t] of tools)
      if (!t.sent) defs.push({ id, description: t.description ?? "", parameters: parametersSchema(t) })
    if (!any && defs.length === 0) return undefined
    /** @type {Record<string, unknown>} */
    const live = { sessions }
    if (defs.length) live.tools = defs
    return live
  }

  /** The core took this payload: the tool definitions in it are known there. @param {any} live */
  function handed(live) {
    for (const d of live?.tools ?? []) {
      const t = tools.get(d.id)
      if (t) t.sent = true
    }
  }

  /** The agents named by calls pending for these sessions. @param {string[]} ids */
  function agentsPending(ids) {
    const names = new Set()
    for (const id of ids) for (const c of pending.get(id)?.calls ?? []) if (c.agent && c.tools) names.add(c.agent)
    return names
  }

  /** Tracing turned off: nothing is kept. */
  function clear() {
    pending.clear()
    systems.clear()
    bursts.clear()
    systemSent.clear()
    burst = []
  }

  return { hooks, event, take, handed, forget, agentsPending, clear }
}
