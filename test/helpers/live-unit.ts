// plugin/live.mjs by itself under real Bun: what its hooks keep and hand over for given inputs.
// stdin: {"case": "secrets" | "schemas" | "hostile" | "bounded" | "off"}; stdout: the case's result.
import { readFileSync } from "node:fs"
import { join } from "node:path"

const { createLive, parametersSchema } = await import(join(import.meta.dir, "..", "..", "plugin", "live.mjs"))
const program = JSON.parse(readFileSync(0, "utf8"))
const rules = () => [{ permission: "*", pattern: "*", action: "allow" }]
let out: unknown

/** One model call of ses_1 with this chat.params output. */
async function call(live: any, output: any, session = "ses_1") {
  await live.hooks["experimental.chat.system.transform"]({ sessionID: session }, { system: ["You are a test."] })
  await live.hooks["chat.params"](
    { sessionID: session, agent: "build", message: { id: "msg_u", model: { variant: "high" } } },
    output,
  )
}

switch (program.case) {
  case "secrets": {
    const live = createLive({ enabled: () => true })
    await call(live, {
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 1000,
      options: {
        reasoningEffort: "low",
        apiKey: "sk-live-0123456789",
        headers: { Authorization: "Bearer abc" },
        nested: { accessToken: "t0k3n", budget: 5 },
        instructions: "the system prompt again",
        thinking: { type: "enabled", budgetTokens: 1024 },
      },
    })
    out = live.take(["ses_1"], rules).sessions.ses_1.calls[0]
    break
  }
  case "schemas": {
    // the shapes Effect Schema gives OpenCode's own tools (see test/fixtures/live/*/hooks.jsonl)
    const str = (description?: string) => ({ _tag: "String", ...(description ? { annotations: { description } } : {}) })
    const optional = (type: any, description: string) => ({
      _tag: "Union",
      types: [type, { _tag: "Undefined" }],
      annotations: { description },
      context: { isOptional: true },
    })
    const int = {
      _tag: "Number",
      checks: [
        { annotations: { meta: { _tag: "isInt" } } },
        { annotations: { meta: { _tag: "isGreaterThan", exclusiveMinimum: 0 } } },
      ],
    }
    const effect = {
      ast: {
        _tag: "Objects",
        propertySignatures: [
          { name: "command", type: str("The command to execute") },
          { name: "timeout", type: optional(int, "Optional timeout in milliseconds") },
          {
            name: "todos",
            type: {
              _tag: "Arrays",
              elements: [],
              rest: [
                {
                  _tag: "Objects",
                  propertySignatures: [
                    {
                      name: "status",
                      type: {
                        _tag: "Union",
                        types: ["pending", "done"].map((literal) => ({ _tag: "Literal", literal })),
                      },
                    },
                  ],
                  indexSignatures: [],
                },
              ],
            },
          },
        ],
        indexSignatures: [],
      },
    }
    const json = { type: "object", properties: { a: { type: "string" } }, required: ["a"] }
    out = {
      effect: parametersSchema({ parameters: effect }),
      json: parametersSchema({ parameters: json }),
      jsonSchema: parametersSchema({ parameters: effect, jsonSchema: json }),
      unknown: parametersSchema({ parameters: 42 }),
    }
    break
  }
  case "hostile": {
    // nothing OpenCode could hand a hook or an event makes it throw
    const live = createLive({ enabled: () => true })
    const odd: any[] = [
      undefined,
      null,
      0,
      "x",
      [],
      {},
      { sessionID: 5 },
      new Proxy(
        {},
        {
          get: () => {
            throw new Error("boom")
          },
        },
      ),
    ]
    let threw = 0
    for (const [name, hook] of Object.entries(live.hooks) as [string, any][])
      for (const a of odd)
        for (const b of odd)
          try {
            await hook(a, b)
          } catch {
            threw++
          }
    for (const a of odd)
      try {
        live.event(a)
        live.event({ type: "permission.asked", properties: a })
        live.event({ type: "session.status", properties: a })
      } catch {
        threw++
      }
    let took
    try {
      took = live.take(["ses_1", "5"], rules)
    } catch {
      threw++
    }
    out = { threw, took: took === undefined ? null : took }
    break
  }
  case "bounded": {
    const live = createLive({ enabled: () => true })
    for (let s = 0; s < 500; s++) for (let i = 0; i < 100; i++) await call(live, { maxOutputTokens: i }, `ses_${s}`)
    const kept = live.take(
      Array.from({ length: 500 }, (_, s) => `ses_${s}`),
      rules,
    )
    out = {
      sessions: Object.keys(kept.sessions).length,
      calls: Math.max(...Object.values(kept.sessions).map((x: any) => x.calls.length)),
      again: live.take(["ses_499"], rules) ?? null,
    }
    break
  }
  case "off": {
    const live = createLive({ enabled: () => false })
    await call(live, { maxOutputTokens: 1 })
    live.event({ type: "session.error", properties: { sessionID: "ses_1", error: { name: "E" } } })
    out = { took: live.take(["ses_1"], rules) ?? null }
    break
  }
}
process.stdout.write(JSON.stringify(out))
