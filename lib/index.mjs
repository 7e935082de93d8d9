// ESM entry: the same API as index.js. A .node file loads only through require, never import.
import { createRequire } from 'node:module';

const api = createRequire(import.meta.url)('./index.js');

export const { reconcile, flush, shutdown, status, version } = api;
export default api;
