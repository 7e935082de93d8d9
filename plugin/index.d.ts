/** The OpenCode plugin: give it OpenCode's plugin input, get its hooks. */
export declare const ArizeTracing: (input: { client: unknown; [key: string]: unknown }) => Promise<{
  event?: (input: { event: { type: string; properties?: unknown } }) => Promise<void>
  dispose?: () => Promise<void>
}>
