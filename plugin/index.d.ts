/** The OpenCode plugin: give it OpenCode's plugin input, get its hooks. */
export declare const ArizeTracing: (input: { client: unknown; [key: string]: unknown }) => Promise<{
  event?: (input: { event: { type: string; properties?: unknown } }) => Promise<void>
  dispose?: () => Promise<void>
  /** The live signals' hooks (plugin/live.mjs): they read what OpenCode hands them, never change it. */
  "experimental.chat.system.transform"?: (input: unknown, output: unknown) => Promise<void>
  "chat.params"?: (input: unknown, output: unknown) => Promise<void>
  "tool.definition"?: (input: unknown, output: unknown) => Promise<void>
  "experimental.chat.messages.transform"?: (input: unknown, output: unknown) => Promise<void>
  "command.execute.before"?: (input: unknown, output: unknown) => Promise<void>
}>
