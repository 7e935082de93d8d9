/* config — ~/.arize/harness/config.yaml (libyaml) plus environment overrides, resolved
 * into one immutable struct. No other module reads the environment. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef enum {
  CONFIG_TARGET_NONE = 0, /* nothing configured: spans go nowhere */
  CONFIG_TARGET_ARIZE,    /* Arize AX */
  CONFIG_TARGET_PHOENIX,  /* Phoenix */
} config_target;

typedef struct {
  bool enabled;    /* ARIZE_TRACE_ENABLED: anything but "false" (any case) is on */
  bool dry_run;    /* ARIZE_DRY_RUN=true: build spans, never send */
  bool verbose;    /* ARIZE_VERBOSE=true */

  config_target target;
  char *endpoint;     /* full URL ending /v1/traces, NULL for NONE */
  char *project_name; /* never NULL; default "opencode" */
  char *user_id;      /* NULL when not configured */

  /* Secrets: only ever copied into headers. Never logged, never shown in status. */
  char *api_key;
  char *space_id;
  char *phoenix_api_key;

  char **headers; /* "name: value" lines for the backend (they hold the secrets) */
  size_t n_headers;

  bool log_prompts;      /* false: prompt and response text redacted */
  bool log_tool_details; /* false: tool arguments and command/file_path/query/url/description */
  bool log_tool_content; /* false: tool input and output */

  char *home;        /* $HOME (never NULL; "." when unset) */
  char *config_path; /* the file read (or that would be read) */
  time_t config_mtime; /* 0 when the file was absent */
  char *log_file;    /* ARIZE_LOG_FILE or ~/.arize/harness/logs/opencode.log */
  char *state_dir;   /* ~/.arize/harness/state/opencode */
  char *spool_dir;   /* ~/.arize/harness/spool/opencode */

  char *why_not_sending; /* NULL when a backend is set; else a one-line reason + fix */
  char *warning;         /* NULL or the first one-line problem with the file (bad YAML,
                          * ...) or an environment value; names keys, never values */
} config;

/* Resolves the config from envp (a NULL-terminated "NAME=value" array, like environ)
 * and the YAML file at config_path (NULL: $HOME/.arize/harness/config.yaml). A missing,
 * unreadable or malformed file is not an error: defaults apply and `warning` says what
 * was wrong. Returns NULL only when out of memory. Free with config_free. */
config *config_load(const char *config_path, const char *const *envp);
void config_free(config *c);

/* "arize", "phoenix" or "none". */
const char *config_target_name(config_target t);

/* The modification time of the file the config was read from, now (0 when absent);
 * lets the caller reload when it changed. */
time_t config_file_mtime(const char *path);

#endif
