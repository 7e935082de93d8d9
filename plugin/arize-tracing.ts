// opencode-arize-tracing: drop this file into ~/.config/opencode/plugin/ (or a project's
// .opencode/plugin/) with the package installed where OpenCode resolves it
// (~/.config/opencode/node_modules). The plugin itself lives in the package.
export { ArizeTracing } from "opencode-arize-tracing/plugin"
