// ESM entry: the same API as index.js, plus OpenCode's plugin shape ({id, server}) as the
// default export. (OpenCode itself, given the package name in opencode.json, loads the
// "./server" export, plugin/index.mjs.) A .node file loads only through require, never import.
import { createRequire } from 'node:module';
import { ArizeTracing } from '../plugin/index.mjs';

const api = createRequire(import.meta.url)('./index.js');

export const { reconcile, flush, shutdown, status, redact, urlForDisplay, version } = api;
export default { id: 'opencode-arize-tracing', server: ArizeTracing, ...api };
