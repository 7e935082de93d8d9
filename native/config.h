/* config — ~/.arize/harness/config.yaml (libyaml) plus environment overrides, resolved
 * into one immutable struct. No other module reads the environment. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <time.h>

#include "attrs.h"
#include "exporter.h"

/* Settings in config.c's table, at most (each one's source is kept: setting_from). */
#define CONFIG_SETTINGS_MAX 64

/* Where a setting's value came from (setting_from, bits; none: its default). */
#define CONFIG_FROM_USER 1u    /* the user's file (~/.arize/harness/config.yaml) */
#define CONFIG_FROM_PROJECT 2u /* the project's file (.opencode/arize-tracing.yaml) */
#define CONFIG_FROM_ENV 4u     /* the environment (setting_env: which of its variables) */

/* A backend kind: a row of backend.h's table (its index + 1), or none. The names below
 * are the first rows' (config_target_name gives any row's); a new kind is a new row there. */
typedef enum {
  CONFIG_TARGET_NONE = 0, /* nothing configured: spans go nowhere */
  CONFIG_TARGET_ARIZE,    /* Arize AX */
  CONFIG_TARGET_PHOENIX,  /* Phoenix */
  CONFIG_TARGET_OTLP,     /* any other OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_*) */
} config_target;

/* Destinations: the single-backend settings are the first ("default"); up to
 * CONFIG_MAX_DESTINATIONS in all with harnesses.opencode.destinations (queue.h's limit). */
#define CONFIG_MAX_DESTINATIONS 8
#define CONFIG_FIRST_DESTINATION "default"

/* A list of name/value strings (custom attributes). Both arrays are owned. */
typedef struct {
  char **names;
  char **values;
  size_t len;
} config_pairs;

/* One further destination (harnesses.opencode.destinations), resolved like the first. */
typedef struct {
  char *name; /* 1 to 40 of letters, digits, . _ - (never "default") */
  config_target target;
  char *endpoint;      /* full URL ending /v1/traces */
  char *project_name;  /* its own, or the first's */
  char **headers;      /* "name: value" lines (its credentials: never logged) */
  bool *header_secret; /* per header */
  size_t n_headers;
  bool from_project; /* named by the project's file */
} config_destination;

typedef struct {
  bool enabled; /* ARIZE_TRACE_ENABLED: anything but "false" (any case) is on */

  config_target target;
  char *endpoint; /* full URL ending /v1/traces, NULL for NONE */

  /* Secrets: only ever copied into headers. Never logged, never shown in status. */
  char *api_key;
  char *space_id;
  char *phoenix_api_key;

  char **headers;      /* "name: value" lines for the backend (they hold the secrets) */
  bool *header_secret; /* per header: its value is a secret (masked wherever it is echoed) */
  size_t n_headers;

  /* The further destinations, after the first (the single backend above, which may be
   * unconfigured: target NONE, when only these are given). */
  config_destination destinations[CONFIG_MAX_DESTINATIONS - 1];
  size_t n_destinations;

  /* What spans carry (attrs.h): logging.*, user_id, the limits of attributes and input messages,
   * OPENINFERENCE_HIDE_*, subagent_session_id, and, set from the fields below, the project name,
   * the custom attributes and the redaction rules (borrowed from them; host is the tracer's).
   * reconcile reads it by pointer. */
  attrs_options attrs;

  char *home;          /* $HOME (never NULL; "." when unset) */
  char *config_path;   /* the file read (or that would be read) */
  time_t config_mtime; /* 0 when the file was absent */
  char *log_file;      /* ARIZE_LOG_FILE or ~/.arize/harness/logs/opencode.log */
  char *state_dir;     /* ~/.arize/harness/state/opencode */
  char *spool_dir;     /* ~/.arize/harness/spool/opencode */

  /* The settings of the table's CONFIG rows (settings.h: each one's key, variables, default,
   * bounds and meaning; the field holds the value in bytes or seconds where the key says MB or
   * days): project_name (never NULL), dry_run, verbose, spool_max_bytes, spool_max_age_s,
   * spool_fsync, shutdown_ms, max_payload_bytes, max_spans_per_payload, log_max_bytes,
   * recover_hours, redact_secrets, project_files, project_credentials. (api_key, space_id and
   * phoenix_api_key, filled by the backend's rules, are declared above.) */
#define CONFIG(id, kind, field, ...) CONFIG_FIELD_##kind(field)
#define CONFIG_FIELD_F_BACKEND(field)
#define CONFIG_FIELD_F_STR(field) char *field;
#define CONFIG_FIELD_F_BOOL(field) bool field;
#define CONFIG_FIELD_F_LONG(field) long field;
#define CONFIG_FIELD_F_SIZE(field) size_t field;
#include "settings.h"

  /* export.timeout_ms, export.retry_*, export.compression (exporter.h): each destination's
   * target holds a copy of it, whole */
  exporter_settings export;

  /* OpenInference */
  char *service_name;               /* never NULL */
  config_pairs resource_attributes; /* OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", %-decoded) */
  config_pairs span_attributes;     /* `attributes:` (global) then harnesses.opencode.attributes
                                     * (wins on the same name): added to every span */

  /* Secret redaction (redact.h): redact.secrets / ARIZE_REDACT_SECRETS, and the user's rules
   * (redact.patterns, redact.values, redact.allow) that passed their checks, compiled. */
  struct redact_rules *redact; /* never NULL once loaded */
  size_t redact_patterns, redact_values, redact_allow;

  /* Per-project settings: .opencode/arize-tracing.yaml (or .json) found from the project's
   * directory upwards, read over the user's file (config_load_in). */
  char *project_dir;     /* the directory given (NULL: none) */
  char *project_path;    /* the project file read, or the one that would be (NULL: none) */
  time_t project_mtime;  /* 0 when absent */
  char *project_warning; /* NULL or the first problem with the project file */
  bool project_broken;   /* the project file is there but none of it could be used */
  char *project_notice;  /* NULL or what of the project file was ignored, and why (one
                          * line: credentials, loosened privacy); names keys, never values */
  unsigned char setting_from[CONFIG_SETTINGS_MAX]; /* CONFIG_FROM_* bits, per setting */
  signed char setting_env[CONFIG_SETTINGS_MAX];    /* the variable that won (index), or -1 */

  char *why_not_sending; /* NULL when a backend is set; else a one-line reason + fix */
  char *warning;         /* NULL or the problems with the file (bad YAML, ...) or an
                          * environment value, on one line ("; " between them, the first
                          * first); names keys, never values */
  bool file_broken;      /* the file is there but none of it could be used (not readable, a
                          * directory, invalid YAML or JSON, not UTF-8, too large, too deep):
                          * `warning` says where */
  char *unknown_keys;    /* NULL or "config PATH: `harnesses.opencode.projet_name` (line 3): did
                          * you mean `project_name`?; ..." : keys of ours the file misspells or
                          * that do not exist; names keys, never values */
} config;

/* Resolves the config from envp (a NULL-terminated "NAME=value" array, like environ)
 * and the YAML file at config_path (NULL: $HOME/.arize/harness/config.yaml). A missing,
 * unreadable or malformed file is not an error: defaults apply and `warning` says what
 * was wrong. Returns NULL only when out of memory. Free with config_free. */
config *config_load(const char *config_path, const char *const *envp);

/* config_load, then the project file found from project_dir upwards (the first
 * `.opencode/arize-tracing.yaml` or `.json`, stopping at the directory that holds `.git`),
 * read over the user's file for the settings a project may set (the table's `project`
 * column); project_dir NULL is config_load. The environment still wins over both files. */
config *config_load_in(const char *config_path, const char *project_dir, const char *const *envp);
void config_free(config *c);

/* The resolved settings a user may see, as JSON text (malloc'd; NULL when out of memory):
 * {"enabled", "state": "sending"|"disabled"|"dry-run"|"no-backend", "reason",
 *  "backend": {"target", "endpoint" (without user:password@), "project"},
 *  "config": {"path", "warning", "broken" (the file is there but unusable, `warning` says where),
 *  "unknown_keys", "log_file"}, "spool": {"dir"}, "state_dir",
 *  "exit_flush_ms", "settings": {file key or variable: the value in effect, for every setting
 *  of the schema that is not a secret}, "redaction": {"secrets" (the built-in detectors on),
 *  "patterns", "values", "allow" (how many user rules of each are in effect)}}. Never a secret.
 * `status` reads it without opening a tracer, so without adopting anyone's spool. */
char *config_describe_json(const config *c);

/* The settings schema as JSON text (malloc'd; NULL when out of memory): {"settings": [{"keys"
 * (full file keys), "old_keys", "env" (the first set wins), "type", "default", "min", "max",
 * "choices", "secret"}], "backends": [{"name", "display", "one" (a sentence's name for one),
 * "menu", "default_scheme", "pick" (how it is picked without a target), "endpoint_env",
 * "endpoint_alone", "user_headers", "regions": [{"name", "long_name", "endpoint"}], "headers":
 * [{"name", "from", "prefix", "secret"}], "settings": [{"key", "env", "what", "hint",
 * "fallback", "required", "names_backend", "secret"}] (what install asks)}],
 * "header_name_symbols"}. lib/settings.json is this text (test/settings.test.js checks it). */
char *config_schema_json(void);

/* A destination's key in the queue and in the spool's progress markers: 0 for the first
 * ("default"), else a 32-bit hash of its name (never 0). Two names of one key would share
 * markers, so the loader leaves the second one out. */
uint32_t config_destination_key(const char *name);

/* The backend's name ("arize", "phoenix", "otlp", ...: its row's) or "none". */
const char *config_target_name(config_target t);

/* The modification time of the file the config was read from, now (0 when absent);
 * lets the caller reload when it changed. */
time_t config_file_mtime(const char *path);

#endif
