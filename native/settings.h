/* settings — the one settings table: every setting a user can give, one line each (the rows of
 * config.c's `settings` table, and the declaration of the field each one fills).
 *
 * Not a header like the others: a list of rows, included where a use of them is defined (an
 * "X-macro"). Each row is one of four macros, named after the place its value lives:
 *   SETTING(id, row...)            resolved by config.c's own rules (the backend, the lists, ...)
 *   CONFIG(id, kind, field, row...) a field of `config` (config.h; F_BACKEND ones are declared
 *                                   there by hand, with the backend's other fields)
 *   ATTRS(id, kind, field, row...)  a field of attrs_options (attrs.h): what spans carry, read by
 *                                   attrs.c through the config's `attrs` section
 *   EXPORT(id, kind, field, row...) a field of exporter_settings (exporter.h): how every
 *                                   destination sends, the config's `export` section
 * kind is the field's type (F_STR: char *, F_BOOL: bool, F_LONG: long, F_SIZE: size_t; F_BACKEND:
 * a char * the backend rules fill). row is the rest of the row of struct setting (config.c): key,
 * scope, older key, environment variables, type, default as written, then designated members.
 * The ids (S_*) are numbered in this order, which is the order the file is read and the
 * environment applied (so the first warning stays the first).
 *
 * Lifetimes: the config owns its sections. `attrs` is read by pointer for one reconcile, on
 * OpenCode's thread, which is also where a reload swaps the config; `export` is copied whole into
 * each exporter's target (the exporters run on their own threads and outlive a config), so an
 * EXPORT field is a scalar, never a pointer into the config.
 *
 * A new setting that a module reads (a privacy option, an export knob) is its row here and the
 * code that uses it: config.h, attrs.h and exporter.h declare their fields from these rows,
 * config.c reads, checks, resolves and describes it from the same row. An includer defines the
 * macros it needs; the others expand to nothing. */
#ifndef SETTINGS_CTYPE
#define SETTINGS_CTYPE(kind) SETTINGS_CTYPE_##kind
#define SETTINGS_CTYPE_F_STR char *
#define SETTINGS_CTYPE_F_BACKEND char *
#define SETTINGS_CTYPE_F_BOOL bool
#define SETTINGS_CTYPE_F_LONG long
#define SETTINGS_CTYPE_F_SIZE size_t
#endif
#ifndef SETTING
#define SETTING(id, ...)
#endif
#ifndef CONFIG
#define CONFIG(id, kind, field, ...)
#endif
#ifndef ATTRS
#define ATTRS(id, kind, field, ...)
#endif
#ifndef EXPORT
#define EXPORT(id, kind, field, ...)
#endif

// clang-format off
/* Arize's own harness tracing reads the same variables, in this order */
CONFIG(S_PROJECT_NAME, F_STR, project_name, "project_name", AT_HARNESS, NULL, {"ARIZE_PROJECT_NAME", "PHOENIX_PROJECT_NAME", "PHOENIX_PROJECT"}, ST_STRING, "opencode", .project = P_YES)
SETTING(S_TARGET, "target", AT_HARNESS, NULL, {NULL}, ST_CHOICE, NULL, .choices = NULL /* the backends' names */, .project = P_YES)
SETTING(S_REGION, "region", AT_HARNESS, NULL, {"ARIZE_REGION"}, ST_STRING, "us", .project = P_YES)
SETTING(S_ENDPOINT, "endpoint", AT_HARNESS, NULL, {"ARIZE_OTLP_ENDPOINT"}, ST_STRING, NULL, .project = P_YES)
CONFIG(S_API_KEY, F_BACKEND, api_key, "api_key", AT_HARNESS, NULL, {"ARIZE_API_KEY"}, ST_STRING, NULL, .secret = true, .project = P_CREDENTIAL)
CONFIG(S_SPACE_ID, F_BACKEND, space_id, "space_id", AT_HARNESS, NULL, {"ARIZE_SPACE_ID"}, ST_STRING, NULL, .secret = true, .project = P_CREDENTIAL)
SETTING(S_HEADERS, "headers", AT_HARNESS, NULL, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"}, ST_MAP, NULL, .secret = true, .project = P_CREDENTIAL)
ATTRS(S_LOG_PROMPTS, F_BOOL, log_prompts, "logging.prompts", AT_TOP, NULL, {"ARIZE_LOG_PROMPTS"}, ST_FLAG, "true", .def = 1, .project = P_TIGHTEN)
ATTRS(S_LOG_TOOL_DETAILS, F_BOOL, log_tool_details, "logging.tool_details", AT_TOP, NULL, {"ARIZE_LOG_TOOL_DETAILS"}, ST_FLAG, "true", .def = 1, .project = P_TIGHTEN)
ATTRS(S_LOG_TOOL_CONTENT, F_BOOL, log_tool_content, "logging.tool_content", AT_TOP, NULL, {"ARIZE_LOG_TOOL_CONTENT"}, ST_FLAG, "true", .def = 1, .project = P_TIGHTEN)
/* harnesses.opencode.user_id wins over the top-level one, as in Arize's harness tracing */
ATTRS(S_USER_ID, F_STR, user_id, "user_id", AT_BOTH, NULL, {"ARIZE_USER_ID"}, ST_STRING, NULL)
/* a subagent's spans: the root session's id in session.id (and theirs in
 * opencode.session.id), or, "child", their own in session.id as before */
SETTING(S_SUBAGENT_SESSION_ID, "subagent_session_id", AT_BOTH, NULL, {"ARIZE_SUBAGENT_SESSION_ID"}, ST_CHOICE, "root", .choices = "root|child")
/* past it the oldest unsent spans are dropped */
CONFIG(S_SPOOL_MAX_MB, F_SIZE, spool_max_bytes, "spool.max_mb", AT_BOTH, NULL, {"ARIZE_SPOOL_MAX_MB"}, NUMBER(100, 1, 100 * 1024, MIB))
/* older unsent spans are dropped (a refused key keeps them until then) */
CONFIG(S_SPOOL_MAX_AGE_DAYS, F_LONG, spool_max_age_s, "spool.max_age_days", AT_BOTH, NULL, {"ARIZE_SPOOL_MAX_AGE_DAYS"}, NUMBER(7, 1, 3650, 86400))
EXPORT(S_RETRY_INITIAL_MS, F_LONG, retry_initial_ms, "export.retry_initial_ms", AT_BOTH, NULL, {"ARIZE_RETRY_INITIAL_MS"}, NUMBER(1000, 10, 600000, 1))
EXPORT(S_RETRY_MAX_MS, F_LONG, retry_max_ms, "export.retry_max_ms", AT_BOTH, NULL, {"ARIZE_RETRY_MAX_MS"}, NUMBER(30000, 100, 3600000, 1))
EXPORT(S_EXPORT_TIMEOUT_MS, F_LONG, timeout_ms, "export.timeout_ms", AT_BOTH, NULL, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"}, NUMBER(10000, 100, 600000, 1))
/* How long exit waits for the backend (the plugin's dispose, the environment's cleanup):
 * spans are durable, so a backend that does not answer must not hold OpenCode's exit.
 * ARIZE_SHUTDOWN_TIMEOUT_MS / shutdown_timeout_ms are its older names. */
CONFIG(S_SHUTDOWN_MS, F_LONG, shutdown_ms, "export.exit_flush_ms", AT_BOTH, "shutdown_timeout_ms", {"ARIZE_EXIT_FLUSH_MS", "ARIZE_SHUTDOWN_TIMEOUT_MS"}, NUMBER(1000, 0, 60000, 1))
ATTRS(S_MAX_ATTR_BYTES, F_SIZE, max_attr_bytes, "limits.max_attribute_bytes", AT_BOTH, NULL, {"ARIZE_MAX_ATTRIBUTE_BYTES"}, NUMBER(32768, 256, 16 * MIB, 1))
/* a model call's llm.input_messages: the most recent that fit in this many bytes */
ATTRS(S_MAX_INPUT_BYTES, F_SIZE, max_input_bytes, "limits.max_input_messages_bytes", AT_BOTH, NULL, {"ARIZE_MAX_INPUT_MESSAGES_BYTES"}, NUMBER(65536, 1024, 16 * MIB, 1))
/* Limits that protect the host: a bigger snapshot is rejected */
CONFIG(S_MAX_PAYLOAD_MB, F_SIZE, max_payload_bytes, "limits.max_payload_mb", AT_BOTH, NULL, {"ARIZE_MAX_PAYLOAD_MB"}, NUMBER(256, 1, 4096, MIB))
/* spans one snapshot may produce */
CONFIG(S_MAX_SPANS, F_SIZE, max_spans_per_payload, "limits.max_spans_per_payload", AT_BOTH, NULL, {"ARIZE_MAX_SPANS_PER_PAYLOAD"}, NUMBER(20000, 1, 1000000, 1))
/* the log rotates past it */
CONFIG(S_LOG_MAX_MB, F_SIZE, log_max_bytes, "limits.log_max_mb", AT_BOTH, NULL, {"ARIZE_LOG_MAX_MB"}, NUMBER(10, 1, 1024, MIB))
/* how far back (hours of session activity) the start-up sweep closes turns left open */
CONFIG(S_RECOVER_HOURS, F_LONG, recover_hours, "limits.recover_hours", AT_BOTH, NULL, {"ARIZE_RECOVER_HOURS"}, NUMBER(24, 0, 8760, 1))
SETTING(S_COMPRESSION, "export.compression", AT_BOTH, NULL, {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"}, ST_CHOICE, "gzip", .choices = "gzip|none")
/* the writer fsyncs each spool file (power loss covered); false: a process crash only */
CONFIG(S_SPOOL_FSYNC, F_BOOL, spool_fsync, "spool.fsync", AT_BOTH, NULL, {"ARIZE_SPOOL_FSYNC"}, ST_FLAG, "true", .def = 1)
SETTING(S_ATTRIBUTES, "attributes", AT_BOTH, NULL, {NULL}, ST_MAP, NULL, .project = P_YES)
SETTING(S_ENABLED, NULL, AT_ENV, NULL, {"ARIZE_TRACE_ENABLED"}, ST_FLAG, "true", .def = 1)
/* ARIZE_DRY_RUN=true: build spans, never send */
CONFIG(S_DRY_RUN, F_BOOL, dry_run, NULL, AT_ENV, NULL, {"ARIZE_DRY_RUN"}, ST_SWITCH, "false")
CONFIG(S_VERBOSE, F_BOOL, verbose, NULL, AT_ENV, NULL, {"ARIZE_VERBOSE"}, ST_SWITCH, "false")
SETTING(S_PHOENIX_ENDPOINT, NULL, AT_ENV, NULL, {"PHOENIX_ENDPOINT"}, ST_STRING, NULL)
CONFIG(S_PHOENIX_API_KEY, F_BACKEND, phoenix_api_key, NULL, AT_ENV, NULL, {"PHOENIX_API_KEY"}, ST_STRING, NULL, .secret = true)
SETTING(S_OTLP_TRACES_ENDPOINT, NULL, AT_ENV, NULL, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}, ST_STRING, NULL)
SETTING(S_OTLP_ENDPOINT, NULL, AT_ENV, NULL, {"OTEL_EXPORTER_OTLP_ENDPOINT"}, ST_STRING, NULL)
SETTING(S_SERVICE_NAME, NULL, AT_ENV, NULL, {"OTEL_SERVICE_NAME"}, ST_STRING, "opencode")
SETTING(S_RESOURCE_ATTRIBUTES, NULL, AT_ENV, NULL, {"OTEL_RESOURCE_ATTRIBUTES"}, ST_LIST, NULL)
ATTRS(S_HIDE_INPUTS, F_BOOL, hide_inputs, NULL, AT_ENV, NULL, {"OPENINFERENCE_HIDE_INPUTS"}, ST_SWITCH, "false")
ATTRS(S_HIDE_OUTPUTS, F_BOOL, hide_outputs, NULL, AT_ENV, NULL, {"OPENINFERENCE_HIDE_OUTPUTS"}, ST_SWITCH, "false")
ATTRS(S_HIDE_INPUT_MESSAGES, F_BOOL, hide_input_messages, NULL, AT_ENV, NULL, {"OPENINFERENCE_HIDE_INPUT_MESSAGES"}, ST_SWITCH, "false")
ATTRS(S_HIDE_OUTPUT_MESSAGES, F_BOOL, hide_output_messages, NULL, AT_ENV, NULL, {"OPENINFERENCE_HIDE_OUTPUT_MESSAGES"}, ST_SWITCH, "false")
ATTRS(S_HIDE_INPUT_TEXT, F_BOOL, hide_input_text, NULL, AT_ENV, NULL, {"OPENINFERENCE_HIDE_INPUT_TEXT"}, ST_SWITCH, "false")
ATTRS(S_HIDE_OUTPUT_TEXT, F_BOOL, hide_output_text, NULL, AT_ENV, NULL, {"OPENINFERENCE_HIDE_OUTPUT_TEXT"}, ST_SWITCH, "false")
ATTRS(S_HIDE_LLM_INVOCATION_PARAMETERS, F_BOOL, hide_llm_invocation_parameters, NULL, AT_ENV, NULL, {"OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS"}, ST_SWITCH, "false")
SETTING(S_LOG_FILE, NULL, AT_ENV, NULL, {"ARIZE_LOG_FILE"}, ST_STRING, "~/.arize/harness/logs/opencode.log")
/* Secret redaction (redact.h): the built-in detectors, and the user's rules. */
CONFIG(S_REDACT_SECRETS, F_BOOL, redact_secrets, "redact.secrets", AT_BOTH, NULL, {"ARIZE_REDACT_SECRETS"}, ST_FLAG, "true", .def = 1, .project = P_TIGHTEN)
SETTING(S_REDACT_PATTERNS, "redact.patterns", AT_BOTH, NULL, {NULL}, ST_SEQUENCE, NULL, .project = P_YES)
/* literal values to redact are secrets themselves */
SETTING(S_REDACT_VALUES, "redact.values", AT_BOTH, NULL, {NULL}, ST_SEQUENCE, NULL, .secret = true, .project = P_YES)
SETTING(S_REDACT_ALLOW, "redact.allow", AT_BOTH, NULL, {NULL}, ST_SEQUENCE, NULL, .project = P_YES)
/* Per-project settings: whether .opencode/arize-tracing.yaml (or .json) of the project is
 * read at all, and whether a credential in it (or the user's credentials sent to an
 * endpoint it names) is used. Only the user's file and environment set these. */
CONFIG(S_PROJECT_FILES, F_BOOL, project_files, "project_files", AT_HARNESS, NULL, {"ARIZE_PROJECT_FILES"}, ST_FLAG, "true", .def = 1)
CONFIG(S_PROJECT_CREDENTIALS, F_BOOL, project_credentials, "project_credentials", AT_HARNESS, NULL, {"ARIZE_PROJECT_CREDENTIALS"}, ST_FLAG, "false", .def = 0)
/* Further backends, each a mapping {name, target, endpoint, api_key, space_id, headers,
 * project_name} read like the single-backend keys, which stay the first destination
 * ("default"). Their credentials are secrets; a project file's follow the credential rule. */
SETTING(S_DESTINATIONS, "destinations", AT_HARNESS, NULL, {NULL}, ST_SEQUENCE, NULL, .secret = true, .project = P_YES)
// clang-format on

#undef SETTING
#undef CONFIG
#undef ATTRS
#undef EXPORT
