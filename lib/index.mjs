// ESM entry: the same API as index.js, plus OpenCode's plugin shape as the default export, so
// naming the package in opencode.json ("plugin": ["opencode-arize-tracing"]) loads the
// plugin. A .node file loads only through require, never import.
import { createRequire } from 'node:module';
import { ArizeTracing } from '../plugin/index.mjs';

const api = createRequire(import.meta.url)('./index.js');

export const { reconcile, flush, shutdown, status, version } = api;
export default { id: 'opencode-arize-tracing', server: ArizeTracing, ...api };
