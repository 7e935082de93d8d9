/* Tests for config.c: the file, the environment over it, and the backend they choose. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "text.h"
#include "platform.h"
#include "redact.h"

/* where the core keeps its files under a home, with the system's separator */
#define HARNESS PLATFORM_SEP ".arize" PLATFORM_SEP "harness" PLATFORM_SEP

static char tmpdir[] = "/tmp/test_config.XXXXXX";
static char config_file[512]; /* tmpdir/config.yaml, rewritten by each test that needs it */
static char missing_file[512];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    return;
  }
  fputs(text, f);
  fclose(f);
  chmod(path, 0600); /* as a config file holding a key should be; see the permission tests */
}

/* Loads with `yaml` as the config file (NULL: no file at all) and env as environment. */
static config *load(const char *yaml, const char *const *env) {
  if (!yaml) return config_load(missing_file, env);
  write_file(config_file, yaml);
  return config_load(config_file, env);
}

static bool has_header(const config *c, const char *line) {
  for (size_t i = 0; i < c->n_headers; i++)
    if (strcmp(c->headers[i], line) == 0) return true;
  return false;
}

static bool starts_with(const char *s, const char *prefix) {
  return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool contains(const char *s, const char *part) { return s && strstr(s, part); }

static const char *const no_env[] = {NULL};
static const char *const arize_env[] = {"ARIZE_API_KEY=env-key", "ARIZE_SPACE_ID=env-space", NULL};

static const char full_file[] = "harnesses:\n"
                                "  opencode:\n"
                                "    project_name: file-project\n"
                                "    target: arize\n"
                                "    endpoint: https://collector.example.com\n"
                                "    api_key: file-key\n"
                                "    space_id: file-space\n"
                                "logging:\n"
                                "  prompts: false\n"
                                "  tool_details: false\n"
                                "  tool_content: false\n"
                                "user_id: file-user\n";

/* ---- defaults ---- */

static void test_defaults_with_empty_env(void) {
  config *c = config_load(NULL, no_env);
  CHECK(c != NULL);
  CHECK(c->enabled);
  CHECK(!c->dry_run);
  CHECK(!c->verbose);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK(c->endpoint == NULL);
  CHECK_STR(c->project_name, "opencode");
  CHECK(c->attrs.user_id == NULL);
  CHECK(c->api_key == NULL && c->space_id == NULL && c->phoenix_api_key == NULL);
  CHECK_INT(c->n_headers, 0);
  CHECK(c->attrs.log_prompts && c->attrs.log_tool_details && c->attrs.log_tool_content);
  CHECK_STR(c->home, ".");
  CHECK_STR(c->config_path, "." HARNESS "config.yaml");
  CHECK_INT(c->config_mtime, 0);
  CHECK_STR(c->log_file, "." HARNESS "logs" PLATFORM_SEP "opencode.log");
  CHECK_STR(c->state_dir, "." HARNESS "state" PLATFORM_SEP "opencode");
  CHECK_STR(c->spool_dir, "." HARNESS "spool" PLATFORM_SEP "opencode");
  CHECK_STR(c->why_not_sending,
            "no backend configured: set ARIZE_API_KEY and ARIZE_SPACE_ID (Arize AX), "
            "PHOENIX_ENDPOINT (Phoenix) or OTEL_EXPORTER_OTLP_ENDPOINT (any OTLP backend), or "
            "add them to ." HARNESS "config.yaml");
  CHECK(c->warning == NULL);
  config_free(c);
}

static void test_export_and_limit_defaults(void) {
  config *c = config_load(NULL, no_env);
  CHECK_INT(c->spool_max_bytes, 100L * 1024 * 1024);
  CHECK_INT(c->export.retry_initial_ms, 1000);
  CHECK_INT(c->export.retry_max_ms, 30000);
  CHECK_INT(c->export.timeout_ms, 10000);
  CHECK_INT(c->shutdown_ms, 1000); /* exit waits at most 1 s for the backend by default */
  CHECK(c->export.gzip);
  CHECK_STR(c->service_name, "opencode");
  CHECK_INT(c->resource_attributes.len, 0);
  CHECK_INT(c->span_attributes.len, 0);
  CHECK(!c->attrs.hide_inputs && !c->attrs.hide_outputs && !c->attrs.hide_input_messages &&
        !c->attrs.hide_output_messages && !c->attrs.hide_input_text && !c->attrs.hide_output_text);
  CHECK_INT(c->attrs.max_attr_bytes, 32768);
  CHECK_INT(c->max_payload_bytes, 256L * 1024 * 1024);
  CHECK_INT(c->max_spans_per_payload, 20000);
  CHECK_INT(c->log_max_bytes, 10L * 1024 * 1024);
  config_free(c);
}

static void test_null_envp_is_an_empty_environment(void) {
  config *c = config_load(missing_file, NULL);
  CHECK(c != NULL);
  CHECK_STR(c->home, ".");
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  config_free(c);
}

static void test_paths_follow_home(void) {
  const char *env[] = {"HOME=/home/someone", NULL};
  config *c = config_load(NULL, env);
  CHECK_STR(c->home, "/home/someone");
  CHECK_STR(c->config_path, "/home/someone" HARNESS "config.yaml");
  CHECK_STR(c->log_file, "/home/someone" HARNESS "logs" PLATFORM_SEP "opencode.log");
  CHECK_STR(c->state_dir, "/home/someone" HARNESS "state" PLATFORM_SEP "opencode");
  CHECK_STR(c->spool_dir, "/home/someone" HARNESS "spool" PLATFORM_SEP "opencode");
  config_free(c);
}

static void test_default_config_file_is_read_from_home(void) {
  char dir[600], path[700], home[600];
  snprintf(home, sizeof home, "HOME=%s", tmpdir);
  snprintf(dir, sizeof dir, "%s/.arize", tmpdir);
  mkdir(dir, 0700);
  snprintf(dir, sizeof dir, "%s" PLATFORM_SEP ".arize" PLATFORM_SEP "harness", tmpdir);
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s" PLATFORM_SEP "config.yaml", dir);
  write_file(path, "harnesses:\n  opencode:\n    project_name: from-home\n");
  const char *env[] = {home, NULL};
  config *c = config_load(NULL, env);
  CHECK_STR(c->config_path, path);
  CHECK_STR(c->project_name, "from-home");
  config_free(c);
  remove(path);
}

static void test_missing_file_gives_no_warning(void) {
  config *c = load(NULL, no_env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->config_mtime, 0);
  CHECK_STR(c->config_path, missing_file);
  config_free(c);
}

/* ---- the file ---- */

static void test_file_values_read(void) {
  config *c = load(full_file, no_env);
  CHECK(c->warning == NULL);
  CHECK_STR(c->project_name, "file-project");
  CHECK_STR(c->attrs.user_id, "file-user");
  CHECK_STR(c->api_key, "file-key");
  CHECK_STR(c->space_id, "file-space");
  CHECK_INT(c->target, CONFIG_TARGET_ARIZE);
  CHECK_STR(c->endpoint, "https://collector.example.com/v1/traces");
  CHECK(c->why_not_sending == NULL);
  CHECK(!c->attrs.log_prompts && !c->attrs.log_tool_details && !c->attrs.log_tool_content);
  CHECK(c->config_mtime > 0);
  config_free(c);
}

static void test_arize_headers_from_file(void) {
  config *c = load(full_file, no_env);
  CHECK_INT(c->n_headers, 5);
  CHECK(has_header(c, "authorization: file-key"));
  CHECK(has_header(c, "api_key: file-key"));
  CHECK(has_header(c, "arize-space-id: file-space"));
  CHECK(has_header(c, "space_id: file-space"));
  CHECK(has_header(c, "arize-interface: otel"));
  config_free(c);
}

static void test_other_harness_blocks_ignored(void) {
  config *c = load("harnesses:\n"
                   "  claude-code:\n"
                   "    project_name: claude\n"
                   "    api_key: cc-key\n"
                   "    space_id: cc-space\n"
                   "  opencode:\n"
                   "    project_name: mine\n"
                   "unknown_top: [1, 2]\n",
                   no_env);
  CHECK(c->warning == NULL);
  CHECK_STR(c->project_name, "mine");
  CHECK(c->api_key == NULL && c->space_id == NULL);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  config_free(c);
}

static void test_numeric_space_id_read_as_text(void) {
  config *c = load("harnesses:\n  opencode:\n    api_key: k\n    space_id: 12345\n", no_env);
  CHECK_STR(c->space_id, "12345");
  CHECK_INT(c->target, CONFIG_TARGET_ARIZE);
  config_free(c);
}

static void test_file_values_trimmed_and_null_values_unset(void) {
  config *c = load("harnesses:\n  opencode:\n    api_key: \"  k \\n\"\n    space_id: ~\n"
                   "    project_name:\n",
                   no_env);
  CHECK(c->warning == NULL);
  CHECK_STR(c->api_key, "k");
  CHECK(c->space_id == NULL);
  CHECK_STR(c->project_name, "opencode");
  config_free(c);
}

static void test_file_value_with_inner_control_char_refused(void) {
  config *c = load("harnesses:\n  opencode:\n    api_key: \"ab\\ncd-secret\"\n", no_env);
  CHECK(c->api_key == NULL);
  CHECK(contains(c->warning, "line 3: harnesses.opencode.api_key contains a control character"));
  CHECK(!contains(c->warning, "cd-secret"));
  config_free(c);
}

static void test_repeated_key_last_wins(void) {
  config *c = load("user_id: first\nuser_id: second\n", no_env);
  CHECK_STR(c->attrs.user_id, "second");
  config_free(c);
}

/* ---- bad files ---- */

static void test_malformed_yaml_warns_without_secret_values(void) {
  config *c = load("harnesses:\n"
                   "  opencode:\n"
                   "    api_key: sk-SECRET-4242\n"
                   "    space_id: a: b\n",
                   no_env);
  CHECK(starts_with(c->warning, "config "));
  CHECK(contains(c->warning, config_file));
  CHECK(contains(c->warning, ": line 4: "));
  CHECK(contains(c->warning, "mapping values are not allowed"));
  CHECK(!contains(c->warning, "SECRET"));
  CHECK(!contains(c->warning, "\n"));
  /* defaults apply: nothing from the broken file is used, and the reason names the file */
  CHECK(c->file_broken);
  CHECK(starts_with(c->why_not_sending, "the config file is broken"));
  CHECK(contains(c->why_not_sending, ": line 4: "));
  CHECK(c->api_key == NULL);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK_STR(c->project_name, "opencode");
  config_free(c);
}

static void test_unclosed_quote_names_the_line_it_opens_on(void) {
  /* libyaml finds the missing quote at the end of the file (line 5 of 4): the line to fix is 3 */
  config *c = load("harnesses:\n"
                   "  opencode:\n"
                   "    project_name: \"opencode\n"
                   "    target: phoenix\n",
                   no_env);
  CHECK(c->file_broken);
  CHECK(contains(c->warning, ": line 3: while scanning a quoted scalar: "));
  config_free(c);
  /* a flow sequence left open, the same */
  c = load("redact:\n  values: [one-value,\n\nuser_id: x\n", no_env);
  CHECK(c->file_broken);
  CHECK(contains(c->warning, ": line 2: while parsing a flow sequence: "));
  config_free(c);
  /* elsewhere the problem's own line stays (the context of a block mapping is its first key) */
  c = load("harnesses:\n  opencode:\n    target: phoenix\n   endpoint: x\n", no_env);
  CHECK(c->file_broken);
  CHECK(contains(c->warning, ": line 4: "));
  config_free(c);
}

static void test_invalid_utf8_warns_with_line(void) {
  config *c = load("user_id: a\nproject: \xff\xfe\n", no_env);
  CHECK(contains(c->warning, ": line 2: "));
  CHECK(c->file_broken);
  CHECK(c->attrs.user_id == NULL);
  config_free(c);
}

static void test_top_level_not_a_mapping_warns(void) {
  config *c = load("- api_key\n- space_id\n", no_env);
  CHECK(contains(c->warning, "top level is not a mapping"));
  CHECK(c->file_broken);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  config_free(c);
}

static void test_directory_as_config_warns(void) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/config.d", tmpdir);
  mkdir(dir, 0700);
  config *c = config_load(dir, no_env);
  CHECK(c != NULL);
  CHECK(starts_with(c->warning, "config "));
  CHECK(contains(c->warning, "is a directory"));
  CHECK(c->file_broken);
  CHECK(contains(c->why_not_sending, "is a directory"));
  CHECK_STR(c->project_name, "opencode");
  config_free(c);
  rmdir(dir);
}

static void test_empty_file_gives_no_warning(void) {
  config *c = load("", no_env);
  CHECK(c->warning == NULL);
  CHECK(!c->file_broken);
  CHECK_STR(c->project_name, "opencode");
  CHECK(c->config_mtime > 0);
  config_free(c);
}

static void test_comment_only_file_gives_no_warning(void) {
  config *c = load("# nothing yet\n---\n", no_env);
  CHECK(c->warning == NULL);
  config_free(c);
}

static void test_unreadable_file_warns(void) {
  if (geteuid() == 0) return; /* root reads mode 000 files: nothing to test */
  write_file(config_file, "user_id: x\n");
  chmod(config_file, 0);
  platform_info info;
  if (platform_path_info(config_file, &info) == 0 && info.permissions != 0)
    return; /* no mode bits (Windows) */
  config *c = config_load(config_file, no_env);
  CHECK(contains(c->warning, "cannot read"));
  CHECK(c->attrs.user_id == NULL);
  CHECK(c->config_mtime > 0);
  config_free(c);
  chmod(config_file, 0600);
}

static void test_file_over_one_mib_refused(void) {
  size_t n = 1024 * 1024 + 100;
  char *big = malloc(n + 1);
  memcpy(big, "user_id: x\n", 11);
  memset(big + 11, '#', n - 11);
  big[n] = '\0';
  config *c = load(big, no_env);
  CHECK(contains(c->warning, "larger than 1 MiB"));
  CHECK(c->attrs.user_id == NULL);
  config_free(c);
  free(big);
}

static void test_deep_nesting_refused(void) {
  size_t depth = 200000; /* libyaml alone would take minutes on this */
  char *yaml = malloc(2 * depth + 8);
  memcpy(yaml, "a: ", 3);
  memset(yaml + 3, '[', depth);
  memset(yaml + 3 + depth, ']', depth);
  strcpy(yaml + 3 + 2 * depth, "\n");
  config *c = load(yaml, no_env);
  CHECK(contains(c->warning, "line 1: nested deeper than 64 levels"));
  config_free(c);
  free(yaml);
}

static void test_many_anchors_refused(void) {
  size_t n = 5000, used = 0;
  char *yaml = malloc(n * 16 + 1);
  for (size_t i = 0; i < n; i++) used += (size_t)sprintf(yaml + used, "- &a%zu x\n", i);
  config *c = load(yaml, no_env);
  CHECK(contains(c->warning, "line 1001: more than 1000 anchors and aliases"));
  config_free(c);
  free(yaml);
}

static void test_alias_to_a_value_is_followed(void) {
  config *c = load("shared: &key abc\nharnesses:\n  opencode:\n    api_key: *key\n", no_env);
  CHECK(c->warning == NULL);
  CHECK_STR(c->api_key, "abc");
  config_free(c);
}

static void test_invalid_bool_warns_and_keeps_default(void) {
  config *c = load("logging:\n  prompts: sometimes\n", no_env);
  CHECK(contains(c->warning, "line 2: logging.prompts is not true or false"));
  CHECK(!contains(c->warning, "sometimes"));
  CHECK(c->attrs.log_prompts);
  config_free(c);
}

static void test_unknown_target_warns(void) {
  config *c = load("harnesses:\n  opencode:\n    target: jaeger\n", no_env);
  CHECK(contains(c->warning, "line 3: harnesses.opencode.target is not arize, phoenix or otlp"));
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  config_free(c);
}

/* ---- environment over file ---- */

static void test_env_overrides_file_api_key(void) {
  const char *env[] = {"ARIZE_API_KEY=env-key", NULL};
  config *c = load(full_file, env);
  CHECK_STR(c->api_key, "env-key");
  CHECK_STR(c->space_id, "file-space");
  CHECK(has_header(c, "authorization: env-key"));
  CHECK(!has_header(c, "authorization: file-key"));
  config_free(c);
}

static void test_env_overrides_file_project_user_and_space(void) {
  const char *env[] = {"ARIZE_PROJECT_NAME=env-project", "ARIZE_USER_ID=env-user",
                       "ARIZE_SPACE_ID=env-space", NULL};
  config *c = load(full_file, env);
  CHECK_STR(c->project_name, "env-project");
  CHECK_STR(c->attrs.user_id, "env-user");
  CHECK_STR(c->space_id, "env-space");
  config_free(c);
}

static void test_env_overrides_file_endpoint(void) {
  const char *env[] = {"ARIZE_OTLP_ENDPOINT=https://env.example.com", NULL};
  config *c = load(full_file, env);
  CHECK_STR(c->endpoint, "https://env.example.com/v1/traces");
  config_free(c);
}

static void test_empty_env_value_counts_as_unset(void) {
  const char *env[] = {"ARIZE_API_KEY=", "ARIZE_PROJECT_NAME=  ", "HOME=", NULL};
  config *c = load(full_file, env);
  CHECK_STR(c->api_key, "file-key");
  CHECK_STR(c->project_name, "file-project");
  CHECK_STR(c->home, ".");
  config_free(c);
}

static void test_env_name_prefix_does_not_match(void) {
  const char *env[] = {"ARIZE_API_KEY_OLD=old", "XARIZE_API_KEY=x", NULL};
  config *c = load(NULL, env);
  CHECK(c->api_key == NULL);
  config_free(c);
}

static void test_env_value_trailing_newline_trimmed(void) {
  const char *env[] = {"ARIZE_API_KEY=env-key\n", "ARIZE_SPACE_ID= env-space ", NULL};
  config *c = load(NULL, env);
  CHECK(c->warning == NULL);
  CHECK(has_header(c, "authorization: env-key"));
  CHECK(has_header(c, "space_id: env-space"));
  config_free(c);
}

static void test_env_value_with_inner_control_char_refused(void) {
  const char *env[] = {"ARIZE_API_KEY=env\r\nx-evil: 1", "ARIZE_SPACE_ID=s", NULL};
  config *c = load(NULL, env);
  CHECK(c->api_key == NULL);
  CHECK_STR(c->warning, "environment: ARIZE_API_KEY contains a control character, ignored");
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  config_free(c);
}

static void test_log_file_from_env(void) {
  const char *env[] = {"HOME=/h", "ARIZE_LOG_FILE=/var/tmp/oc.log", NULL};
  config *c = load(NULL, env);
  CHECK_STR(c->log_file, "/var/tmp/oc.log");
  config_free(c);
}

static void test_verbose_and_dry_run_from_env(void) {
  const char *on[] = {"ARIZE_VERBOSE=true", "ARIZE_DRY_RUN=1", NULL};
  const char *off[] = {"ARIZE_VERBOSE=yes please", "ARIZE_DRY_RUN=0", NULL};
  config *c = load(NULL, on);
  CHECK(c->verbose && c->dry_run);
  config_free(c);
  c = load(NULL, off);
  CHECK(!c->verbose && !c->dry_run);
  config_free(c);
}

/* ---- ARIZE_TRACE_ENABLED ---- */

static void test_trace_enabled_false_disables_but_keeps_target(void) {
  const char *env[] = {"ARIZE_TRACE_ENABLED=false", "ARIZE_API_KEY=k", "ARIZE_SPACE_ID=s", NULL};
  config *c = load(NULL, env);
  CHECK(!c->enabled);
  CHECK_INT(c->target, CONFIG_TARGET_ARIZE);
  CHECK_STR(c->why_not_sending, "tracing disabled by ARIZE_TRACE_ENABLED=false");
  config_free(c);
}

static void test_trace_enabled_upper_case_false_disables(void) {
  const char *env[] = {"ARIZE_TRACE_ENABLED=FALSE", NULL};
  config *c = load(NULL, env);
  CHECK(!c->enabled);
  CHECK_STR(c->why_not_sending, "tracing disabled by ARIZE_TRACE_ENABLED=false");
  config_free(c);
}

static void test_trace_enabled_anything_else_keeps_on(void) {
  const char *values[] = {"ARIZE_TRACE_ENABLED=true", "ARIZE_TRACE_ENABLED=0",
                          "ARIZE_TRACE_ENABLED=no", "ARIZE_TRACE_ENABLED=falsey"};
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
    const char *env[] = {values[i], NULL};
    config *c = load(NULL, env);
    CHECK(c->enabled);
    config_free(c);
  }
}

/* ---- Arize endpoints ---- */

static const char *arize_endpoint_for(const char *value, char *out, size_t n) {
  char var[256];
  snprintf(var, sizeof var, "ARIZE_OTLP_ENDPOINT=%s", value);
  const char *env[] = {"ARIZE_API_KEY=k", "ARIZE_SPACE_ID=s", var, NULL};
  config *c = load(NULL, env);
  snprintf(out, n, "%s", c->endpoint ? c->endpoint : "(null)");
  config_free(c);
  return out;
}

static void test_arize_default_endpoint(void) {
  config *c = load(NULL, arize_env);
  CHECK_INT(c->target, CONFIG_TARGET_ARIZE);
  CHECK_STR(c->endpoint, "https://otlp.arize.com/v1/traces");
  CHECK(c->why_not_sending == NULL);
  config_free(c);
}

static void test_endpoint_host_port_means_https_traces(void) {
  char buf[256];
  CHECK_STR(arize_endpoint_for("otlp.eu-west-1a.arize.com:443", buf, sizeof buf),
            "https://otlp.eu-west-1a.arize.com:443/v1/traces");
}

static void test_endpoint_http_base_gets_traces_path(void) {
  char buf[256];
  CHECK_STR(arize_endpoint_for("http://localhost:4318", buf, sizeof buf),
            "http://localhost:4318/v1/traces");
}

static void test_endpoint_https_base_gets_traces_path(void) {
  char buf[256];
  CHECK_STR(arize_endpoint_for("https://collector.example.com/otel", buf, sizeof buf),
            "https://collector.example.com/otel/v1/traces");
}

static void test_endpoint_https_with_traces_path_kept(void) {
  char buf[256];
  CHECK_STR(arize_endpoint_for("https://otlp.arize.com/v1/traces", buf, sizeof buf),
            "https://otlp.arize.com/v1/traces");
}

static void test_endpoint_trailing_slash_dropped(void) {
  char buf[256];
  CHECK_STR(arize_endpoint_for("https://collector.example.com//", buf, sizeof buf),
            "https://collector.example.com/v1/traces");
  CHECK_STR(arize_endpoint_for("https://otlp.arize.com/v1/traces/", buf, sizeof buf),
            "https://otlp.arize.com/v1/traces");
}

/* ---- Phoenix ---- */

static void test_phoenix_endpoint_without_key(void) {
  const char *env[] = {"PHOENIX_ENDPOINT=http://localhost:6006", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->target, CONFIG_TARGET_PHOENIX);
  CHECK_STR(c->endpoint, "http://localhost:6006/v1/traces");
  CHECK_INT(c->n_headers, 1);
  CHECK(has_header(c, "x-project-name: opencode"));
  CHECK(c->why_not_sending == NULL);
  config_free(c);
}

static void test_phoenix_endpoint_with_key(void) {
  const char *env[] = {"PHOENIX_ENDPOINT=https://app.phoenix.arize.com/s/me/",
                       "PHOENIX_API_KEY=px-key", "ARIZE_PROJECT_NAME=proj", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->target, CONFIG_TARGET_PHOENIX);
  CHECK_STR(c->endpoint, "https://app.phoenix.arize.com/s/me/v1/traces");
  CHECK_INT(c->n_headers, 2);
  CHECK(has_header(c, "x-project-name: proj"));
  CHECK(has_header(c, "authorization: Bearer px-key"));
  CHECK_STR(c->phoenix_api_key, "px-key");
  config_free(c);
}

/* Whether header `name` of c is typed secret (-1: no such header). */
static int header_is_secret(const config *c, const char *name) {
  for (size_t i = 0; i < c->n_headers; i++)
    if (!strncmp(c->headers[i], name, strlen(name)) && c->headers[i][strlen(name)] == ':')
      return c->header_secret[i];
  return -1;
}

static void test_backend_headers_are_typed_secret_or_not(void) {
  const char *phoenix[] = {"PHOENIX_ENDPOINT=http://localhost:6006", "PHOENIX_API_KEY=px-key",
                           NULL};
  config *c = load(NULL, phoenix);
  CHECK_INT(header_is_secret(c, "x-project-name"), 0);
  CHECK_INT(header_is_secret(c, "authorization"), 1);
  config_free(c);
  const char *arize[] = {"ARIZE_API_KEY=k", "ARIZE_SPACE_ID=s", NULL};
  c = load(NULL, arize);
  CHECK_INT(header_is_secret(c, "arize-interface"), 0);
  CHECK_INT(header_is_secret(c, "authorization"), 1);
  CHECK_INT(header_is_secret(c, "api_key"), 1);
  CHECK_INT(header_is_secret(c, "arize-space-id"), 1);
  CHECK_INT(header_is_secret(c, "space_id"), 1);
  config_free(c);
  const char *otlp[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318",
                        "OTEL_EXPORTER_OTLP_HEADERS=x-team=platform", NULL};
  c = load(NULL, otlp);
  CHECK_INT(header_is_secret(c, "x-team"), 1); /* a user's header may be a key: secret */
  config_free(c);
}

static void test_described_settings_show_every_value_in_effect_but_no_secret(void) {
  const char *env[] = {"ARIZE_API_KEY=key-secret-1", "ARIZE_SPACE_ID=space-secret-2",
                       "ARIZE_SPOOL_MAX_MB=50", "ARIZE_LOG_PROMPTS=false", NULL};
  config *c = load(NULL, env);
  char *text = config_describe_json(c);
  CHECK(text && strstr(text, "\"spool.max_mb\":50"));
  CHECK(text && strstr(text, "\"logging.prompts\":false"));
  CHECK(text && strstr(text, "\"export.exit_flush_ms\":1000"));
  CHECK(text && !strstr(text, "key-secret-1") && !strstr(text, "space-secret-2"));
  free(text);
  config_free(c);
}

/* The endpoint as status shows it: no user:password@, no ?query, no #fragment (either may carry
 * a credential), the same text the last export's outcome records, so status can compare them. */
static void test_described_endpoint_drops_userinfo_query_and_fragment(void) {
  const char *env[] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://me:pw-secret@otlp.example:4318/"
                       "v1/traces?token=q-secret#f",
                       NULL};
  config *c = load(NULL, env);
  char *text = config_describe_json(c);
  CHECK(text && strstr(text, "\"endpoint\":\"https://otlp.example:4318/v1/traces\""));
  CHECK(text && !strstr(text, "pw-secret") && !strstr(text, "q-secret"));
  free(text);
  char *shown = text_url_for_display("http://h:1/p?a=b");
  CHECK_STR(shown, "http://h:1/p");
  free(shown);
  CHECK(text_url_for_display(NULL) == NULL);
  config_free(c);
}

static void test_phoenix_bare_host_port_means_http(void) {
  const char *env[] = {"PHOENIX_ENDPOINT=localhost:6006", NULL};
  config *c = load(NULL, env);
  CHECK_STR(c->endpoint, "http://localhost:6006/v1/traces");
  config_free(c);
}

static void test_phoenix_env_wins_over_arize_credentials(void) {
  const char *env[] = {"PHOENIX_ENDPOINT=http://localhost:6006", "ARIZE_API_KEY=k",
                       "ARIZE_SPACE_ID=s", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->target, CONFIG_TARGET_PHOENIX);
  CHECK(!has_header(c, "api_key: k"));
  config_free(c);
}

static void test_file_target_phoenix_uses_file_endpoint_and_key(void) {
  config *c = load("harnesses:\n  opencode:\n    target: phoenix\n"
                   "    endpoint: http://phoenix.local:6006\n    api_key: px-file\n",
                   no_env);
  CHECK_INT(c->target, CONFIG_TARGET_PHOENIX);
  CHECK_STR(c->endpoint, "http://phoenix.local:6006/v1/traces");
  CHECK(has_header(c, "authorization: Bearer px-file"));
  CHECK(c->api_key == NULL); /* the file's key is Phoenix's, not Arize's */
  config_free(c);
}

static void test_file_endpoint_without_target_or_arize_ids_means_phoenix(void) {
  config *c = load("harnesses:\n  opencode:\n    endpoint: http://phoenix.local:6006\n", no_env);
  CHECK_INT(c->target, CONFIG_TARGET_PHOENIX);
  CHECK_STR(c->endpoint, "http://phoenix.local:6006/v1/traces");
  config_free(c);
}

static void test_file_target_phoenix_without_endpoint_explains(void) {
  config *c = load("harnesses:\n  opencode:\n    target: phoenix\n", no_env);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK(contains(c->why_not_sending, "target phoenix needs an endpoint"));
  CHECK(contains(c->why_not_sending, config_file));
  config_free(c);
}

static void test_file_target_arize_without_credentials_names_them(void) {
  config *c = load("harnesses:\n  opencode:\n    target: arize\n", no_env);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  char want[1024];
  snprintf(want, sizeof want,
           "no backend configured: target arize needs the Arize API key and the Arize space id: "
           "set ARIZE_API_KEY and ARIZE_SPACE_ID or add harnesses.opencode.api_key and "
           "harnesses.opencode.space_id to %s",
           config_file);
  CHECK_STR(c->why_not_sending, want);
  config_free(c);
  /* one of them given: the other is named alone, as before */
  c = load("harnesses:\n  opencode:\n    target: arize\n    space_id: U3BhY2U6MTIz\n", no_env);
  CHECK(contains(c->why_not_sending, "the Arize API key is missing: set ARIZE_API_KEY"));
  config_free(c);
}

/* ---- nothing configured ---- */

static void test_missing_space_id_named_in_why_not_sending(void) {
  const char *env[] = {"ARIZE_API_KEY=secret-key-value", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK(contains(c->why_not_sending, "ARIZE_SPACE_ID"));
  CHECK(contains(c->why_not_sending, "space id is missing"));
  CHECK(contains(c->why_not_sending, missing_file));
  CHECK(!contains(c->why_not_sending, "secret-key-value"));
  config_free(c);
}

static void test_missing_api_key_named_in_why_not_sending(void) {
  const char *env[] = {"ARIZE_SPACE_ID=s", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK(contains(c->why_not_sending, "API key is missing"));
  CHECK(contains(c->why_not_sending, "ARIZE_API_KEY"));
  config_free(c);
}

/* ---- redaction flags ---- */

static void test_redaction_flags_default_on(void) {
  config *c = load("logging: {}\n", no_env);
  CHECK(c->attrs.log_prompts && c->attrs.log_tool_details && c->attrs.log_tool_content);
  config_free(c);
}

static void test_redaction_flags_from_file(void) {
  config *c =
      load("logging:\n  prompts: No\n  tool_details: \"FALSE\"\n  tool_content: 0\n", no_env);
  CHECK(c->warning == NULL);
  CHECK(!c->attrs.log_prompts);
  CHECK(!c->attrs.log_tool_details);
  CHECK(!c->attrs.log_tool_content);
  config_free(c);
}

static void test_file_booleans_accept_true_variants(void) {
  config *c = load("logging:\n  prompts: TRUE\n  tool_details: 'yes'\n  tool_content: 1\n", no_env);
  CHECK(c->warning == NULL);
  CHECK(c->attrs.log_prompts && c->attrs.log_tool_details && c->attrs.log_tool_content);
  config_free(c);
}

static void test_redaction_flags_from_env(void) {
  const char *env[] = {"ARIZE_LOG_PROMPTS=false", "ARIZE_LOG_TOOL_DETAILS=False",
                       "ARIZE_LOG_TOOL_CONTENT=FALSE", NULL};
  config *c = load(NULL, env);
  CHECK(!c->attrs.log_prompts && !c->attrs.log_tool_details && !c->attrs.log_tool_content);
  config_free(c);
}

static void test_redaction_env_overrides_file(void) {
  const char *env[] = {"ARIZE_LOG_PROMPTS=true", "ARIZE_LOG_TOOL_DETAILS=anything", NULL};
  config *c = load(full_file, env); /* the file turns all three off */
  CHECK(c->attrs.log_prompts);
  CHECK(c->attrs.log_tool_details);
  CHECK(!c->attrs.log_tool_content);
  config_free(c);
}

/* ---- unknown keys ---- */

static void test_misspelt_keys_are_named_with_the_closest_known_key(void) {
  config *c = load("harnesses:\n  opencode:\n    projet_name: mine\n    regoin: eu\n"
                   "    api_key: k\n    space_id: s\n",
                   no_env);
  CHECK(c->warning == NULL);
  CHECK(contains(c->unknown_keys,
                 "`harnesses.opencode.projet_name` (line 3): did you mean `project_name`?"));
  CHECK(contains(c->unknown_keys, "`harnesses.opencode.regoin` (line 4): did you mean `region`?"));
  CHECK(!contains(c->unknown_keys, "mine")); /* names keys, never values */
  CHECK(starts_with(c->unknown_keys, "config "));
  CHECK(!strcmp(c->project_name, "opencode")); /* still ignored: the warning says so */
  config_free(c);
}

static void test_unknown_keys_in_sections_and_logging_are_named(void) {
  config *c = load("logging:\n  promts: false\nexport:\n  timeout: 5\n"
                   "harnesses:\n  opencode:\n    limits:\n      log_max: 2\n    colour: red\n",
                   no_env);
  CHECK(contains(c->unknown_keys, "`logging.promts` (line 2): did you mean `prompts`?"));
  /* the unit left off: the one key that is this one and a part more */
  CHECK(contains(c->unknown_keys, "`export.timeout` (line 4): did you mean `timeout_ms`?"));
  CHECK(contains(c->unknown_keys, "`harnesses.opencode.limits.log_max` (line 8)"));
  CHECK(
      contains(c->unknown_keys, "`harnesses.opencode.colour` (line 9): not a known key, ignored"));
  config_free(c);
}

/* The settings' dotted names (as docs/settings.md writes them) are not read as keys: one written
 * so is said with the nesting to write, at the shared top level too, and its value not used. */
static void test_a_dotted_name_is_said_with_the_nesting_to_write(void) {
  config *c = load("export.timeout_ms: 200\nfoo.bar: 1\nharnesses:\n  opencode:\n"
                   "    export.exit_flush_ms: 5\n",
                   no_env);
  CHECK_INT(c->export.timeout_ms, 10000);
  CHECK(contains(c->unknown_keys, "`export.timeout_ms` (line 1): a dotted name is not read here: "
                                  "nest it, `export:` then `timeout_ms:`"));
  CHECK(contains(c->unknown_keys,
                 "`harnesses.opencode.export.exit_flush_ms` (line 5): a dotted name is not read "
                 "here: nest it, `export:` then `exit_flush_ms:`"));
  CHECK(!contains(c->unknown_keys, "foo.bar")); /* not ours: another tool's, maybe */
  config_free(c);
}

static void test_other_harnesses_keys_are_not_ours_to_name(void) {
  config *c = load("collector:\n  port: 4318\nharnesses:\n  claude-code:\n    anything: 1\n"
                   "  opencode:\n    project_name: p\n    exit: 1\nbackend: x\n",
                   no_env);
  CHECK(contains(c->unknown_keys, "harnesses.opencode.exit"));
  CHECK(!contains(c->unknown_keys, "collector"));
  CHECK(!contains(c->unknown_keys, "claude-code"));
  CHECK(!contains(c->unknown_keys, "anything"));
  CHECK(!contains(c->unknown_keys, "backend"));
  config_free(c);
  c = load("harnesess:\n  opencode: {}\nharnesses:\n  opencod:\n    project_name: p\n", no_env);
  CHECK(contains(c->unknown_keys, "`harnesess` (line 1): did you mean `harnesses`?"));
  CHECK(contains(c->unknown_keys, "`harnesses.opencod` (line 4): did you mean `opencode`?"));
  config_free(c);
}

static void test_a_correct_file_has_no_unknown_keys(void) {
  config *c = load(full_file, no_env);
  CHECK(c->unknown_keys == NULL);
  config_free(c);
  c = load("export:\n  shutdown_timeout_ms: 10\n  exit_flush_ms: 20\n  compression: gzip\n",
           no_env);
  CHECK(c->unknown_keys == NULL);
  CHECK_INT(c->shutdown_ms, 20); /* the new name wins over the old one */
  config_free(c);
}

static void test_unknown_keys_in_json_config(void) {
  char json[600];
  snprintf(json, sizeof json, "%s/config.json", tmpdir);
  write_file(json, "{\"harnesses\": {\"opencode\": {\"projet_name\": \"x\"}}}");
  config *c = config_load(json, no_env);
  CHECK(
      contains(c->unknown_keys, "`harnesses.opencode.projet_name`: did you mean `project_name`?"));
  config_free(c);
  unlink(json);
}

static void test_exit_flush_from_env_new_name_wins(void) {
  const char *env[] = {"ARIZE_SHUTDOWN_TIMEOUT_MS=750", "ARIZE_EXIT_FLUSH_MS=250", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->shutdown_ms, 250);
  config_free(c);
}

/* ---- export, spool and limits ---- */

static void test_numbers_from_file(void) {
  config *c = load("spool:\n  max_mb: 5\n"
                   "export:\n  retry_initial_ms: 200\n  retry_max_ms: 4000\n"
                   "  timeout_ms: 1500\n  shutdown_timeout_ms: 0\n  compression: none\n"
                   "limits:\n  max_attribute_bytes: 1024\n  max_payload_mb: 2\n"
                   "  max_spans_per_payload: 50\n  log_max_mb: 3\n",
                   no_env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->spool_max_bytes, 5L * 1024 * 1024);
  CHECK_INT(c->export.retry_initial_ms, 200);
  CHECK_INT(c->export.retry_max_ms, 4000);
  CHECK_INT(c->export.timeout_ms, 1500);
  CHECK_INT(c->shutdown_ms, 0);
  CHECK(!c->export.gzip);
  CHECK_INT(c->attrs.max_attr_bytes, 1024);
  CHECK_INT(c->max_payload_bytes, 2L * 1024 * 1024);
  CHECK_INT(c->max_spans_per_payload, 50);
  CHECK_INT(c->log_max_bytes, 3L * 1024 * 1024);
  config_free(c);
}

static void test_numbers_under_harness_block_win_over_top_level(void) {
  config *c = load("spool:\n  max_mb: 5\nlimits:\n  log_max_mb: 3\n"
                   "harnesses:\n  opencode:\n    spool:\n      max_mb: 7\n",
                   no_env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->spool_max_bytes, 7L * 1024 * 1024);
  CHECK_INT(c->log_max_bytes, 3L * 1024 * 1024);
  config_free(c);
}

static void test_numbers_from_env_win_over_file(void) {
  const char *env[] = {"ARIZE_SPOOL_MAX_MB=9",          "ARIZE_RETRY_INITIAL_MS=50",
                       "ARIZE_RETRY_MAX_MS=500",        "OTEL_EXPORTER_OTLP_TIMEOUT=2500",
                       "ARIZE_SHUTDOWN_TIMEOUT_MS=750", "ARIZE_MAX_ATTRIBUTE_BYTES=4096",
                       "ARIZE_MAX_PAYLOAD_MB=8",        "ARIZE_MAX_SPANS_PER_PAYLOAD=100",
                       "ARIZE_LOG_MAX_MB= 4 ",          NULL};
  config *c = load("spool:\n  max_mb: 5\nexport:\n  timeout_ms: 1500\n", env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->spool_max_bytes, 9L * 1024 * 1024);
  CHECK_INT(c->export.retry_initial_ms, 50);
  CHECK_INT(c->export.retry_max_ms, 500);
  CHECK_INT(c->export.timeout_ms, 2500);
  CHECK_INT(c->shutdown_ms, 750);
  CHECK_INT(c->attrs.max_attr_bytes, 4096);
  CHECK_INT(c->max_payload_bytes, 8L * 1024 * 1024);
  CHECK_INT(c->max_spans_per_payload, 100);
  CHECK_INT(c->log_max_bytes, 4L * 1024 * 1024);
  config_free(c);
}

static void test_recover_hours_default_file_and_env(void) {
  config *c = load(NULL, no_env);
  CHECK_INT(c->recover_hours, 24);
  config_free(c);
  c = load("limits:\n  recover_hours: 0\n", no_env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->recover_hours, 0);
  config_free(c);
  const char *env[] = {"ARIZE_RECOVER_HOURS=72", NULL};
  c = load("limits:\n  recover_hours: 0\n", env);
  CHECK_INT(c->recover_hours, 72);
  config_free(c);
  const char *bad[] = {"ARIZE_RECOVER_HOURS=-1", NULL};
  c = load(NULL, bad);
  CHECK(c->warning != NULL);
  CHECK_INT(c->recover_hours, 24);
  config_free(c);
}

static void test_traces_timeout_wins_over_generic_timeout(void) {
  const char *env[] = {"OTEL_EXPORTER_OTLP_TIMEOUT=2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=3500",
                       NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->export.timeout_ms, 3500);
  config_free(c);
}

static void test_absurd_file_number_warns_with_its_key_and_keeps_default(void) {
  config *c = load("limits:\n  max_payload_mb: 999999\n", no_env);
  CHECK(contains(c->warning,
                 "line 2: limits.max_payload_mb is not a whole number from 1 to 4096, ignored"));
  CHECK(!contains(c->warning, "999999"));
  CHECK_INT(c->max_payload_bytes, 256L * 1024 * 1024);
  CHECK(!c->file_broken); /* one value refused: the rest of the file is used */
  config_free(c);
}

static void test_absurd_env_number_warns_and_keeps_file_value(void) {
  const char *env[] = {"ARIZE_SPOOL_MAX_MB=-1", NULL};
  config *c = load("spool:\n  max_mb: 5\n", env);
  CHECK_STR(c->warning,
            "environment: ARIZE_SPOOL_MAX_MB is not a whole number from 1 to 102400, ignored");
  CHECK_INT(c->spool_max_bytes, 5L * 1024 * 1024);
  config_free(c);
}

static void test_non_numeric_values_refused(void) {
  const char *env[] = {"ARIZE_RETRY_INITIAL_MS=1s", NULL};
  config *c = load(NULL, env);
  CHECK(contains(c->warning, "ARIZE_RETRY_INITIAL_MS is not a whole number"));
  CHECK_INT(c->export.retry_initial_ms, 1000);
  config_free(c);
  c = load("export:\n  timeout_ms: [1]\n", no_env);
  CHECK(contains(c->warning, "line 2: export.timeout_ms is not a whole number"));
  CHECK_INT(c->export.timeout_ms, 10000);
  config_free(c);
}

static void test_retry_max_below_initial_raised_to_initial(void) {
  const char *env[] = {"ARIZE_RETRY_INITIAL_MS=60000", NULL};
  config *c = load(NULL, env);
  CHECK(contains(c->warning, "ARIZE_RETRY_MAX_MS (export.retry_max_ms) is below"));
  CHECK_INT(c->export.retry_initial_ms, 60000);
  CHECK_INT(c->export.retry_max_ms, 60000);
  config_free(c);
}

static void test_compression_from_env(void) {
  const char *none[] = {"OTEL_EXPORTER_OTLP_COMPRESSION=none", NULL};
  config *c = load(NULL, none);
  CHECK(!c->export.gzip);
  config_free(c);
  const char *traces_wins[] = {"OTEL_EXPORTER_OTLP_COMPRESSION=none",
                               "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=GZIP", NULL};
  c = load("export:\n  compression: none\n", traces_wins);
  CHECK(c->export.gzip);
  config_free(c);
  const char *bad[] = {"OTEL_EXPORTER_OTLP_COMPRESSION=zstd", NULL};
  c = load(NULL, bad);
  CHECK(c->export.gzip);
  CHECK_STR(c->warning, "environment: OTEL_EXPORTER_OTLP_COMPRESSION is not gzip or none, ignored");
  config_free(c);
}

static void test_bad_file_compression_warns(void) {
  config *c = load("export:\n  compression: brotli\n", no_env);
  CHECK(contains(c->warning, "line 2: export.compression is not gzip or none"));
  CHECK(c->export.gzip);
  config_free(c);
}

/* ---- OpenInference ---- */

static void test_service_name_from_env(void) {
  const char *env[] = {"OTEL_SERVICE_NAME=my-agent",
                       "OTEL_RESOURCE_ATTRIBUTES=service.name=other,team=ml", NULL};
  config *c = load(NULL, env);
  CHECK_STR(c->service_name, "my-agent");
  CHECK_INT(c->resource_attributes.len, 1); /* service.name lives in service_name only */
  CHECK_STR(c->resource_attributes.names[0], "team");
  config_free(c);
}

static void test_service_name_from_resource_attributes(void) {
  const char *env[] = {"OTEL_RESOURCE_ATTRIBUTES=service.name=from-attrs", NULL};
  config *c = load(NULL, env);
  CHECK_STR(c->service_name, "from-attrs");
  CHECK_INT(c->resource_attributes.len, 0);
  config_free(c);
}

static void test_resource_attributes_decoded_and_trimmed(void) {
  const char *env[] = {
      "OTEL_RESOURCE_ATTRIBUTES= deployment.environment = prod%20eu ,team=a%2Cb,, k=v=w ,"
      "team.lead=x%3Dy,team=c",
      NULL};
  config *c = load(NULL, env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->resource_attributes.len, 4);
  CHECK_STR(c->resource_attributes.names[0], "deployment.environment");
  CHECK_STR(c->resource_attributes.values[0], "prod eu");
  CHECK_STR(c->resource_attributes.names[1], "team");
  CHECK_STR(c->resource_attributes.values[1], "c"); /* the later entry wins */
  CHECK_STR(c->resource_attributes.names[2], "k");
  CHECK_STR(c->resource_attributes.values[2], "v=w");
  CHECK_STR(c->resource_attributes.values[3], "x=y");
  config_free(c);
}

static void test_broken_resource_attribute_skipped_with_warning(void) {
  const char *env[] = {"OTEL_RESOURCE_ATTRIBUTES=secretvalue,a=%zz,b=ok,=nokey", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->resource_attributes.len, 1);
  CHECK_STR(c->resource_attributes.names[0], "b");
  CHECK_STR(c->warning,
            "environment: OTEL_RESOURCE_ATTRIBUTES has an entry that is not key=value, skipped");
  config_free(c);
}

static void test_span_attributes_from_file_harness_wins(void) {
  config *c = load("attributes:\n  team: platform\n  cost_center: 42\n  empty: ~\n"
                   "harnesses:\n  opencode:\n    attributes:\n      team: agents\n"
                   "      enabled: true\n",
                   no_env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->span_attributes.len, 3);
  CHECK_STR(c->span_attributes.names[0], "team");
  CHECK_STR(c->span_attributes.values[0], "agents");
  CHECK_STR(c->span_attributes.names[1], "cost_center");
  CHECK_STR(c->span_attributes.values[1], "42");
  CHECK_STR(c->span_attributes.names[2], "enabled");
  CHECK_STR(c->span_attributes.values[2], "true");
  config_free(c);
}

static void test_span_attribute_that_is_not_a_scalar_warns(void) {
  config *c = load("attributes:\n  tags: [a, b]\n  ok: yes\n", no_env);
  CHECK(contains(c->warning, "line 2: attributes.tags is not a string"));
  CHECK_INT(c->span_attributes.len, 1);
  CHECK_STR(c->span_attributes.values[0], "yes");
  config_free(c);
  c = load("attributes: [a]\n", no_env);
  CHECK(contains(c->warning, "line 1: attributes is not a mapping"));
  config_free(c);
}

static void test_too_many_span_attributes_capped(void) {
  char *yaml = malloc(300 * 32 + 32);
  size_t used = (size_t)sprintf(yaml, "attributes:\n");
  for (int i = 0; i < 300; i++) used += (size_t)sprintf(yaml + used, "  k%d: v\n", i);
  config *c = load(yaml, no_env);
  CHECK_INT(c->span_attributes.len, 256);
  CHECK(contains(c->warning, "attributes: more than 256 entries"));
  config_free(c);
  free(yaml);
}

static void test_hide_flags_from_env(void) {
  const char *env[] = {"OPENINFERENCE_HIDE_INPUTS=true",
                       "OPENINFERENCE_HIDE_OUTPUTS=TRUE",
                       "OPENINFERENCE_HIDE_INPUT_MESSAGES=true",
                       "OPENINFERENCE_HIDE_OUTPUT_MESSAGES=no",
                       "OPENINFERENCE_HIDE_INPUT_TEXT=false",
                       "OPENINFERENCE_HIDE_OUTPUT_TEXT=true",
                       NULL};
  config *c = load(NULL, env);
  CHECK(c->attrs.hide_inputs && c->attrs.hide_outputs && c->attrs.hide_input_messages);
  CHECK(!c->attrs.hide_output_messages && !c->attrs.hide_input_text);
  CHECK(c->attrs.hide_output_text);
  config_free(c);
}

/* ---- any OTLP backend ---- */

static void test_otel_traces_endpoint_used_as_is(void) {
  const char *env[] = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://collector.example.com/custom",
                       "OTEL_EXPORTER_OTLP_ENDPOINT=https://ignored.example.com", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->target, CONFIG_TARGET_OTLP);
  CHECK_STR(c->endpoint, "https://collector.example.com/custom");
  CHECK_INT(c->n_headers, 0);
  CHECK(c->why_not_sending == NULL);
  config_free(c);
}

static void test_otel_endpoint_gets_traces_path(void) {
  const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318/", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->target, CONFIG_TARGET_OTLP);
  CHECK_STR(c->endpoint, "http://127.0.0.1:4318/v1/traces");
  config_free(c);
}

static void test_otel_headers_decoded_and_traces_headers_win(void) {
  const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=https://collector.example.com",
                       "OTEL_EXPORTER_OTLP_HEADERS=Authorization=Basic%20abc%3D%3D, x-team = ml ",
                       "OTEL_EXPORTER_OTLP_TRACES_HEADERS=authorization=Bearer%20tok", NULL};
  config *c = load(NULL, env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->n_headers, 2);
  CHECK(has_header(c, "Authorization: Bearer tok"));
  CHECK(has_header(c, "x-team: ml"));
  config_free(c);
}

static void test_otel_header_with_line_break_refused_without_its_value(void) {
  const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=https://collector.example.com",
                       "OTEL_EXPORTER_OTLP_HEADERS=a=secret%0D%0Ax-evil: 1,bad name=v2,b=ok", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->n_headers, 1);
  CHECK(has_header(c, "b: ok"));
  CHECK(contains(c->warning, "environment: OTEL_EXPORTER_OTLP_HEADERS has an entry"));
  CHECK(!contains(c->warning, "secret"));
  config_free(c);
}

static void test_otel_endpoint_without_http_scheme_ignored(void) {
  const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=collector.example.com:4318", NULL};
  config *c = load(NULL, env);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK_STR(c->warning, "environment: OTEL_EXPORTER_OTLP_ENDPOINT is not an http(s) URL, ignored");
  config_free(c);
}

/* An endpoint that only looks like a URL is said once and not used: before, "ht!tp://" got
 * "http://" in front and "ftp://" was kept, and every request failed in curl, forever. */
static void test_endpoint_with_a_scheme_nothing_sends_to_is_ignored(void) {
  const char *mistyped[] = {"PHOENIX_ENDPOINT=ht!tp://127.0.0.1:6006", NULL};
  config *c = load(NULL, mistyped);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK(c->endpoint == NULL);
  CHECK_STR(c->warning, "environment: PHOENIX_ENDPOINT has no scheme this can send to (http:// or "
                        "https://), ignored");
  config_free(c);
  const char *ftp[] = {"PHOENIX_ENDPOINT=ftp://127.0.0.1:6006", NULL};
  c = load(NULL, ftp);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK_STR(c->warning, "environment: PHOENIX_ENDPOINT is not an http:// or https:// URL, ignored");
  config_free(c);
  c = load("harnesses:\n  opencode:\n    target: phoenix\n    endpoint: \"h ttp://x:1\"\n", no_env);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK(contains(c->warning, "harnesses.opencode.endpoint has no scheme this can send to"));
  config_free(c);
  /* the fuzzer's: a file endpoint alone (Phoenix inferred) that is ignored leaves no backend,
   * not Phoenix without an endpoint */
  c = load("harnesses:\n  opencode:\n    endpoint: hdtp://217.0.0.1:6006/v1/traces/\n", no_env);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK(c->endpoint == NULL);
  CHECK(contains(c->warning, "is not an http:// or https:// URL"));
  config_free(c);
  const char *bare[] = {"PHOENIX_ENDPOINT=127.0.0.1:6006", NULL}; /* a bare host:port is fine */
  c = load(NULL, bare);
  CHECK_INT(c->target, CONFIG_TARGET_PHOENIX);
  CHECK_STR(c->endpoint, "http://127.0.0.1:6006/v1/traces");
  CHECK(c->warning == NULL);
  config_free(c);
}

static void test_arize_and_phoenix_win_over_otel_variables(void) {
  const char *arize[] = {"ARIZE_API_KEY=k", "ARIZE_SPACE_ID=s",
                         "OTEL_EXPORTER_OTLP_ENDPOINT=https://collector.example.com",
                         "OTEL_EXPORTER_OTLP_HEADERS=x-secret=1", NULL};
  config *c = load(NULL, arize);
  CHECK_INT(c->target, CONFIG_TARGET_ARIZE);
  CHECK(!has_header(c, "x-secret: 1"));
  config_free(c);
  const char *phoenix[] = {"PHOENIX_ENDPOINT=http://127.0.0.1:6006",
                           "OTEL_EXPORTER_OTLP_ENDPOINT=https://collector.example.com", NULL};
  c = load(NULL, phoenix);
  CHECK_INT(c->target, CONFIG_TARGET_PHOENIX);
  config_free(c);
}

static void test_file_target_otlp_with_endpoint_and_headers(void) {
  const char *env[] = {"ARIZE_API_KEY=k", "ARIZE_SPACE_ID=s", NULL};
  config *c = load("harnesses:\n  opencode:\n    target: otlp\n"
                   "    endpoint: collector.example.com:4318\n"
                   "    headers:\n      x-api-key: file-secret\n      x-team: 7\n",
                   env);
  CHECK(c->warning == NULL);
  CHECK_INT(c->target, CONFIG_TARGET_OTLP);
  CHECK_STR(c->endpoint, "https://collector.example.com:4318/v1/traces");
  CHECK_INT(c->n_headers, 2);
  CHECK(has_header(c, "x-api-key: file-secret"));
  CHECK(has_header(c, "x-team: 7"));
  config_free(c);
}

static void test_file_target_otlp_env_endpoint_and_headers_win(void) {
  const char *env[] = {"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318",
                       "OTEL_EXPORTER_OTLP_HEADERS=x-api-key=env-secret", NULL};
  config *c = load("harnesses:\n  opencode:\n    target: otlp\n"
                   "    endpoint: https://file.example.com\n"
                   "    headers:\n      x-api-key: file-secret\n",
                   env);
  CHECK_STR(c->endpoint, "http://127.0.0.1:4318/v1/traces");
  CHECK_INT(c->n_headers, 1);
  CHECK(has_header(c, "x-api-key: env-secret"));
  config_free(c);
}

static void test_file_target_otlp_without_endpoint_explains(void) {
  config *c = load("harnesses:\n  opencode:\n    target: otlp\n", no_env);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK(contains(c->why_not_sending, "target otlp needs an endpoint"));
  config_free(c);
}

static void test_file_header_with_control_char_refused(void) {
  config *c = load("harnesses:\n  opencode:\n    target: otlp\n    endpoint: https://x.example\n"
                   "    headers:\n      x-key: \"se\\ncret\"\n",
                   no_env);
  CHECK_INT(c->n_headers, 0);
  CHECK(contains(c->warning, "line 6: harnesses.opencode.headers.x-key contains a control"));
  CHECK(!contains(c->warning, "cret"));
  config_free(c);
}

/* ---- Arize AX regions ---- */

static void test_arize_region_from_env(void) {
  const char *names[][2] = {
      {"ARIZE_REGION=eu", "https://otlp.eu-west-1a.arize.com/v1/traces"},
      {"ARIZE_REGION=CA", "https://otlp.ca-central-1a.arize.com/v1/traces"},
      {"ARIZE_REGION=us", "https://otlp.arize.com/v1/traces"},
      {"ARIZE_REGION=eu-west-1a", "https://otlp.eu-west-1a.arize.com/v1/traces"}};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const char *env[] = {"ARIZE_API_KEY=k", "ARIZE_SPACE_ID=s", names[i][0], NULL};
    config *c = load(NULL, env);
    CHECK(c->warning == NULL);
    CHECK_STR(c->endpoint, names[i][1]);
    config_free(c);
  }
}

static void test_arize_region_from_file_and_env_wins(void) {
  const char *env[] = {"ARIZE_REGION=ca", NULL};
  const char *file = "harnesses:\n  opencode:\n    api_key: k\n    space_id: s\n    region: eu\n";
  config *c = load(file, no_env);
  CHECK_STR(c->endpoint, "https://otlp.eu-west-1a.arize.com/v1/traces");
  config_free(c);
  c = load(file, env);
  CHECK_STR(c->endpoint, "https://otlp.ca-central-1a.arize.com/v1/traces");
  config_free(c);
}

static void test_arize_explicit_endpoint_wins_over_region(void) {
  const char *env[] = {"ARIZE_API_KEY=k", "ARIZE_SPACE_ID=s", "ARIZE_REGION=eu",
                       "ARIZE_OTLP_ENDPOINT=http://127.0.0.1:4318", NULL};
  config *c = load(NULL, env);
  CHECK_STR(c->endpoint, "http://127.0.0.1:4318/v1/traces");
  config_free(c);
}

static void test_unknown_region_warns_and_uses_us(void) {
  const char *env[] = {"ARIZE_API_KEY=k", "ARIZE_SPACE_ID=s", "ARIZE_REGION=mars", NULL};
  config *c = load(NULL, env);
  CHECK_STR(c->warning, "environment: ARIZE_REGION is not us, eu or ca; using the US endpoint");
  CHECK_STR(c->endpoint, "https://otlp.arize.com/v1/traces");
  config_free(c);
}

/* ---- config.json ---- */

static void write_home_file(const char *name, const char *text, char *path, size_t n) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/jhome", tmpdir);
  mkdir(dir, 0700);
  snprintf(dir, sizeof dir, "%s/jhome/.arize", tmpdir);
  mkdir(dir, 0700);
  snprintf(dir, sizeof dir, "%s/jhome" PLATFORM_SEP ".arize" PLATFORM_SEP "harness", tmpdir);
  mkdir(dir, 0700);
  snprintf(path, n, "%s" PLATFORM_SEP "%s", dir, name);
  write_file(path, text);
}

static const char json_file[] =
    "{\"harnesses\": {\"opencode\": {\"project_name\": \"json-project\", \"target\": \"arize\","
    " \"api_key\": \"json-key\", \"space_id\": 12345, \"region\": \"eu\","
    " \"attributes\": {\"team\": \"a\", \"n\": 3}, \"export\": {\"timeout_ms\": 2000}},"
    " \"claude-code\": {\"project_name\": \"cc\"}},"
    " \"logging\": {\"prompts\": false, \"tool_details\": \"false\"}, \"user_id\": \"json-user\","
    " \"limits\": {\"log_max_mb\": \"2\"}}";

static void test_config_json_read_when_no_yaml(void) {
  char path[700], home[600];
  write_home_file("config.json", json_file, path, sizeof path);
  snprintf(home, sizeof home, "HOME=%s/jhome", tmpdir);
  const char *env[] = {home, NULL};
  config *c = config_load(NULL, env);
  CHECK(c->warning == NULL);
  CHECK_STR(c->config_path, path);
  CHECK(c->config_mtime > 0);
  CHECK_STR(c->project_name, "json-project");
  CHECK_INT(c->target, CONFIG_TARGET_ARIZE);
  CHECK_STR(c->space_id, "12345");
  CHECK(has_header(c, "authorization: json-key"));
  CHECK_STR(c->endpoint, "https://otlp.eu-west-1a.arize.com/v1/traces");
  CHECK_STR(c->attrs.user_id, "json-user");
  CHECK(!c->attrs.log_prompts && !c->attrs.log_tool_details && c->attrs.log_tool_content);
  CHECK_INT(c->export.timeout_ms, 2000);
  CHECK_INT(c->log_max_bytes, 2L * 1024 * 1024);
  CHECK_INT(c->span_attributes.len, 2);
  CHECK_STR(c->span_attributes.values[1], "3");
  config_free(c);
  remove(path);
}

static void test_config_yaml_wins_over_json(void) {
  char json[700], yaml[700], home[600];
  write_home_file("config.json", json_file, json, sizeof json);
  write_home_file("config.yaml", "harnesses:\n  opencode:\n    project_name: yaml-project\n", yaml,
                  sizeof yaml);
  snprintf(home, sizeof home, "HOME=%s/jhome", tmpdir);
  const char *env[] = {home, NULL};
  config *c = config_load(NULL, env);
  CHECK_STR(c->config_path, yaml);
  CHECK_STR(c->project_name, "yaml-project");
  CHECK(c->api_key == NULL);
  config_free(c);
  remove(json);
  remove(yaml);
}

static void test_malformed_json_warns_with_line_without_secret(void) {
  char path[700];
  snprintf(path, sizeof path, "%s/config.json", tmpdir);
  write_file(path, "{\"harnesses\": {\"opencode\": {\n  \"api_key\": sk-SECRET-77}}}\n");
  config *c = config_load(path, no_env);
  CHECK(starts_with(c->warning, "config "));
  CHECK(contains(c->warning, ": line 2: invalid JSON"));
  CHECK(c->file_broken);
  CHECK(!contains(c->warning, "SECRET"));
  CHECK(c->api_key == NULL);
  config_free(c);
  write_file(path, "  \n");
  c = config_load(path, no_env);
  CHECK(c->warning == NULL);
  config_free(c);
  write_file(path, "[1]");
  c = config_load(path, no_env);
  CHECK(contains(c->warning, "top level is not a mapping"));
  config_free(c);
  remove(path);
}

static void test_json_value_of_wrong_type_warns_with_key(void) {
  char path[700];
  snprintf(path, sizeof path, "%s/config.json", tmpdir);
  write_file(path, "{\"harnesses\": {\"opencode\": {\"api_key\": {\"x\": 1}}},"
                   " \"logging\": {\"prompts\": 7}}");
  config *c = config_load(path, no_env);
  CHECK(contains(c->warning, "config.json: harnesses.opencode.api_key is not a string"));
  CHECK(c->api_key == NULL);
  CHECK(c->attrs.log_prompts); /* 7 is not true or false: the default stays */
  config_free(c);
  remove(path);
}

/* ---- file permissions ---- */

static void test_world_readable_file_with_a_key_warns_first(void) {
  write_file(config_file,
             "harnesses:\n  opencode:\n    api_key: k-SECRET\nlogging:\n  prompts: maybe\n");
  chmod(config_file, 0644);
  platform_info info;
  if (platform_path_info(config_file, &info) == 0 && info.permissions != 0644)
    return; /* no mode bits (Windows) */
  config *c = config_load(config_file, no_env);
  CHECK(starts_with(c->warning, "config "));
  CHECK(contains(c->warning, "other users can read it (mode 644) and it holds a key: chmod 600 "));
  CHECK(contains(c->warning, "; and config "));
  CHECK(contains(c->warning, "logging.prompts is not true or false"));
  CHECK(!contains(c->warning, "SECRET"));
  CHECK_STR(c->api_key, "k-SECRET"); /* still used: the warning is the nudge */
  config_free(c);
  chmod(config_file, 0600);
}

static void test_private_file_or_one_without_a_key_does_not_warn(void) {
  write_file(config_file, "harnesses:\n  opencode:\n    api_key: k\n");
  chmod(config_file, 0600);
  config *c = config_load(config_file, no_env);
  CHECK(c->warning == NULL);
  config_free(c);
  write_file(config_file, "harnesses:\n  opencode:\n    project_name: p\n");
  chmod(config_file, 0644);
  c = config_load(config_file, no_env);
  CHECK(c->warning == NULL);
  config_free(c);
  chmod(config_file, 0600);
}

/* ---- small functions ---- */

static void test_config_file_mtime(void) {
  write_file(config_file, "user_id: x\n");
  struct stat st;
  stat(config_file, &st);
  CHECK_INT(config_file_mtime(config_file), st.st_mtime);
  CHECK_INT(config_file_mtime(missing_file), 0);
  config *c = config_load(config_file, no_env);
  CHECK_INT(c->config_mtime, st.st_mtime);
  config_free(c);
}

static void test_target_names(void) {
  CHECK_STR(config_target_name(CONFIG_TARGET_ARIZE), "arize");
  CHECK_STR(config_target_name(CONFIG_TARGET_PHOENIX), "phoenix");
  CHECK_STR(config_target_name(CONFIG_TARGET_OTLP), "otlp");
  CHECK_STR(config_target_name(CONFIG_TARGET_NONE), "none");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* The redaction settings: the built-in detectors on by default, off by ARIZE_REDACT_SECRETS or
 * the file; the lists of both places add up; a bad entry is one warning by key and position. */
static void test_redact_settings_lists_and_switch(void) {
  config *c = load(NULL, no_env);
  CHECK(c->redact_secrets);
  CHECK(redact_active(c->redact));
  CHECK_INT(c->redact_patterns, 0);
  config_free(c);

  c = load("redact:\n"
           "  secrets: false\n"
           "  patterns:\n"
           "    - 'ACME-[0-9]{6}'\n"
           "    - {pattern: 'INT-\\d+', kind: internal-id}\n"
           "  values: [corp-hunter-42]\n"
           "harnesses:\n"
           "  opencode:\n"
           "    redact:\n"
           "      allow: ['^sk-test-']\n"
           "      patterns: ['ZZ-[a-z]{3}']\n",
           no_env);
  CHECK(c->warning == NULL);
  CHECK(!c->redact_secrets);
  CHECK_INT(c->redact_patterns, 3);
  CHECK_INT(c->redact_values, 1);
  CHECK_INT(c->redact_allow, 1);
  char *out = NULL;
  size_t len;
  const char *text = "ACME-123456 INT-9 ZZ-abc corp-hunter-42";
  CHECK_INT(redact_text(c->redact, text, strlen(text), false, &out, &len), 4);
  CHECK_STR(
      out,
      "<redacted:user-rule> <redacted:internal-id> <redacted:user-rule> <redacted:user-value>");
  free(out);
  config_free(c);

  const char *const off[] = {"ARIZE_REDACT_SECRETS=false", NULL};
  c = load(NULL, off);
  CHECK(!c->redact_secrets);
  CHECK(!redact_active(c->redact));
  config_free(c);

  /* bad entries: each left out, the first one warned about by key and position only */
  c = load("redact:\n  patterns:\n    - 'ok-[0-9]+'\n    - '(SeCrEt-unclosed'\n  values: [abc]\n",
           no_env);
  CHECK_INT(c->redact_patterns, 1);
  CHECK_INT(c->redact_values, 0);
  CHECK(c->warning && strstr(c->warning, "line 4: redact.patterns[1] is not a usable pattern: "
                                         "unbalanced ( at offset 0; ignored"));
  CHECK(c->warning && !strstr(c->warning, "SeCrEt"));
  config_free(c);
  c = load("redact:\n  values: [abc]\n", no_env);
  CHECK(c->warning && strstr(c->warning, "redact.values[0] is shorter than 4 characters"));
  CHECK(c->warning && !strstr(c->warning, "abc"));
  config_free(c);
  c = load("redact:\n  patterns: [{pattern: 'x+', kind: Bad_Kind}]\n", no_env);
  CHECK(c->warning && strstr(c->warning, "redact.patterns[0].kind is not a kind name"));
  CHECK_INT(c->redact_patterns, 1); /* kept, as user-rule */
  config_free(c);
  c = load("redact:\n  patterns: 'not-a-list'\n", no_env);
  CHECK(c->warning && strstr(c->warning, "redact.patterns is not a list"));
  config_free(c);
  /* status says which redaction is in effect, never a value */
  c = load("redact:\n  values: [corp-hunter-42]\n", no_env);
  char *json = config_describe_json(c);
  CHECK(json &&
        strstr(json, "\"redaction\":{\"secrets\":true,\"patterns\":0,\"values\":1,\"allow\":0}"));
  CHECK(json && !strstr(json, "corp-hunter"));
  free(json);
  config_free(c);
}

/* ---- the project's file (.opencode/arize-tracing.yaml) over the user's ---- */

/* tmpdir/proj (holding .git) with .opencode/arize-tracing.yaml = yaml (NULL: none), and a
 * subdirectory to start from; returns the subdirectory's path (static). */
static const char *project_with(const char *yaml) {
  static char sub[600];
  char path[700];
  snprintf(path, sizeof path, "%s/proj", tmpdir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/proj/.git", tmpdir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/proj/.opencode", tmpdir);
  mkdir(path, 0700);
  snprintf(sub, sizeof sub, "%s/proj/src", tmpdir);
  mkdir(sub, 0700);
  snprintf(path, sizeof path, "%s/proj/.opencode/arize-tracing.yaml", tmpdir);
  if (yaml) write_file(path, yaml);
  else unlink(path);
  return sub;
}

static config *load_in(const char *user, const char *project, const char *const *env) {
  const char *dir = project_with(project);
  write_file(config_file, user);
  return config_load_in(config_file, dir, env);
}

static void test_project_file_over_the_user_file(void) {
  config *c = load_in("harnesses:\n  opencode:\n    project_name: mine\n    endpoint: "
                      "http://127.0.0.1:6006\n    attributes: {team: a, env: dev}\n"
                      "redact:\n  patterns: ['USR-[0-9]+']\n",
                      "project_name: theirs\nattributes: {env: prod, repo: r}\n"
                      "logging: {prompts: false}\nredact: {patterns: ['PRJ-[0-9]+'], values: "
                      "[internal.corp]}\n",
                      no_env);
  CHECK(c != NULL);
  CHECK_STR(c->project_name, "theirs");
  CHECK(c->target == CONFIG_TARGET_PHOENIX);
  CHECK(!c->attrs.log_prompts);
  CHECK(c->attrs.log_tool_content);
  CHECK(c->span_attributes.len == 3);
  CHECK(c->redact_patterns == 2 && c->redact_values == 1);
  CHECK(
      contains(c->project_path, "proj" PLATFORM_SEP ".opencode" PLATFORM_SEP "arize-tracing.yaml"));
  CHECK(c->project_warning == NULL && !c->project_broken);
  char *d = config_describe_json(c);
  CHECK(contains(d, "\"project_name\":\"") && contains(d, "arize-tracing.yaml\""));
  CHECK(contains(d, "arize-tracing.yaml + "));
  free(d);
  config_free(c);
}

static void test_project_credentials_need_the_users_word(void) {
  const char *user = "harnesses:\n  opencode:\n    target: phoenix\n    endpoint: "
                     "http://127.0.0.1:6006\n";
  const char *project = "api_key: project-key-123\nheaders: {x-k: v}\n";
  config *c = load_in(user, project, no_env);
  CHECK(c->phoenix_api_key == NULL);
  CHECK(contains(c->project_notice, "`api_key`, `headers` ignored"));
  CHECK(!contains(c->project_notice, "project-key-123"));
  config_free(c);
  static const char *const allow[] = {"ARIZE_PROJECT_CREDENTIALS=true", NULL};
  c = load_in(user, project, allow);
  CHECK_STR(c->phoenix_api_key, "project-key-123");
  CHECK(c->project_notice == NULL);
  config_free(c);
}

static void test_project_endpoint_gets_no_user_credentials(void) {
  config *c = load_in(full_file, "endpoint: https://elsewhere.example.com\n", arize_env);
  CHECK(c->api_key == NULL && c->space_id == NULL);
  CHECK(!has_header(c, "api_key: env-key") && !has_header(c, "api_key: file-key"));
  CHECK(contains(c->project_notice, "the project names the endpoint"));
  config_free(c);
}

static void test_project_privacy_only_tightens(void) {
  config *c =
      load_in("logging:\n  prompts: false\n",
              "logging: {prompts: true, tool_content: false}\nredact: {secrets: false}\n", no_env);
  CHECK(!c->attrs.log_prompts);
  CHECK(!c->attrs.log_tool_content);
  CHECK(c->redact_secrets);
  CHECK(contains(c->project_notice, "`logging.prompts: true` ignored"));
  CHECK(contains(c->project_notice, "`redact.secrets: false` ignored"));
  config_free(c);
}

static void test_broken_project_file_keeps_the_user_settings(void) {
  config *c = load_in("harnesses:\n  opencode:\n    project_name: mine\n",
                      "project_name: [x\nlogging: {prompts: false}\n", no_env);
  CHECK(c->project_broken);
  CHECK(contains(c->project_warning, "arize-tracing.yaml: line"));
  CHECK(c->warning == NULL && !c->file_broken);
  CHECK_STR(c->project_name, "mine");
  CHECK(c->attrs.log_prompts);
  config_free(c);
}

static void test_project_unknown_keys_and_switch_off(void) {
  config *c = load_in("user_id: u\n", "spool: {max_mb: 1}\nprojet_name: x\n", no_env);
  CHECK(contains(c->unknown_keys, "`spool` (line 1): not a setting a project file may hold"));
  CHECK(contains(c->unknown_keys, "`projet_name` (line 2): did you mean `project_name`?"));
  CHECK(c->spool_max_bytes == 100u * 1024 * 1024);
  config_free(c);
  c = load_in("harnesses:\n  opencode:\n    project_files: false\n", "project_name: x\n", no_env);
  CHECK(c->project_path == NULL);
  CHECK_STR(c->project_name, "opencode");
  config_free(c);
  c = load_in("user_id: u\n", NULL, no_env); /* none found up to .git */
  CHECK(c->project_path == NULL && c->project_dir != NULL);
  config_free(c);
}

static void test_project_file_others_may_write_is_not_used(void) {
  const char *dir = project_with("project_name: theirs\n");
  char path[700];
  snprintf(path, sizeof path, "%s/proj/.opencode/arize-tracing.yaml", tmpdir);
  chmod(path, 0666);
  platform_info info;
  if (platform_path_info(path, &info) == 0 && info.permissions != 0666)
    return; /* no mode bits (Windows) */
  write_file(config_file, "harnesses:\n  opencode:\n    project_name: mine\n");
  config *c = config_load_in(config_file, dir, no_env);
  CHECK(c->project_broken);
  CHECK(contains(c->project_warning, "other users can write it (mode 666): not used"));
  CHECK_STR(c->project_name, "mine");
  config_free(c);
}

static void test_project_search_stays_inside_the_repository(void) {
  /* tmpdir/outer/.opencode/arize-tracing.yaml above a directory that is no repository */
  char outer[600], inner[700], path[800];
  snprintf(outer, sizeof outer, "%s/outer", tmpdir);
  mkdir(outer, 0700);
  snprintf(path, sizeof path, "%s/.opencode", outer);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/.opencode/arize-tracing.yaml", outer);
  write_file(path, "project_name: planted\n");
  snprintf(inner, sizeof inner, "%s/work", outer);
  mkdir(inner, 0700);
  config *c = config_load_in(missing_file, inner, no_env);
  CHECK(c->project_path == NULL);
  CHECK_STR(c->project_name, "opencode");
  config_free(c);
  /* the same directory in a repository whose top holds the file: found */
  snprintf(path, sizeof path, "%s/.git", outer);
  mkdir(path, 0700);
  c = config_load_in(missing_file, inner, no_env);
  CHECK_STR(c->project_name, "planted");
  config_free(c);
}

static bool dest_has_header(const config_destination *d, const char *line) {
  for (size_t i = 0; i < d->n_headers; i++)
    if (strcmp(d->headers[i], line) == 0) return true;
  return false;
}

static void test_destinations_beside_the_first(void) {
  config *c = load("harnesses:\n  opencode:\n    endpoint: http://127.0.0.1:6006\n"
                   "    destinations:\n"
                   "      - name: team\n        target: arize\n        api_key: team-key-123\n"
                   "        space_id: team-space\n        project_name: shared\n"
                   "      - name: local\n        target: otlp\n        endpoint: 127.0.0.1:4318\n"
                   "        headers: {x-token: tok-456}\n"
                   "      - name: local\n        target: phoenix\n        endpoint: x:1\n",
                   no_env);
  CHECK(c->target == CONFIG_TARGET_PHOENIX); /* the single-backend keys: the first, unchanged */
  CHECK_INT(c->n_destinations, 2);
  CHECK_STR(c->destinations[0].name, "team");
  CHECK(c->destinations[0].target == CONFIG_TARGET_ARIZE);
  CHECK_STR(c->destinations[0].endpoint, "https://otlp.arize.com/v1/traces");
  CHECK_STR(c->destinations[0].project_name, "shared");
  CHECK(dest_has_header(&c->destinations[0], "api_key: team-key-123"));
  CHECK(dest_has_header(&c->destinations[0], "space_id: team-space"));
  CHECK_STR(c->destinations[1].endpoint, "https://127.0.0.1:4318/v1/traces");
  CHECK_STR(c->destinations[1].project_name, "opencode");
  CHECK(dest_has_header(&c->destinations[1], "x-token: tok-456"));
  CHECK(contains(c->warning, "the name local is used twice"));
  char *d = config_describe_json(c);
  CHECK(contains(d, "\"name\":\"team\"") && contains(d, "\"name\":\"default\""));
  CHECK(!contains(d, "team-key-123") && !contains(d, "tok-456") && !contains(d, "team-space"));
  free(d);
  config_free(c);
}

/* Each problem of a file is named, not only the first (the attack round: a second bad
 * destination was dropped without a word); the same problem repeated is said once. */
static void test_every_problem_of_a_file_is_named_on_its_line(void) {
  config *c = load("harnesses:\n  opencode:\n    endpoint: http://127.0.0.1:6006\n"
                   "    export:\n      timeout_ms: abc\n"
                   "    destinations:\n"
                   "      - {name: one, target: phoenix, endpoint: 'ftp://127.0.0.1:1'}\n"
                   "      - {name: two, target: phoenix}\n"
                   "      - {name: ok, target: phoenix, endpoint: 'http://127.0.0.1:2'}\n",
                   no_env);
  CHECK_INT(c->n_destinations, 1);
  CHECK(contains(c->warning, "timeout_ms"));
  CHECK(contains(c->warning, "destination one"));
  CHECK(contains(c->warning, "destination two"));
  config_free(c);
}

/* A destination that sends where another already does would deliver every span twice (the
 * attack round: no word about it); one that differs in project or credentials is kept. */
static void test_a_destination_sending_where_another_does_is_left_out(void) {
  config *c =
      load("harnesses:\n  opencode:\n    endpoint: http://127.0.0.1:6006\n"
           "    destinations:\n"
           "      - {name: again, target: phoenix, endpoint: '127.0.0.1:6006/'}\n"
           "      - {name: other-project, target: phoenix, endpoint: 'http://127.0.0.1:6006',"
           " project_name: second}\n"
           "      - {name: twin, target: phoenix, endpoint: 'http://127.0.0.1:6006',"
           " project_name: second}\n",
           no_env);
  CHECK_INT(c->n_destinations, 1);
  CHECK_STR(c->destinations[0].name, "other-project");
  CHECK(contains(c->warning, "destination again sends to the same endpoint, project and "
                             "credentials as destination default"));
  CHECK(contains(c->warning, "destination twin sends to the same endpoint, project and "
                             "credentials as destination other-project"));
  config_free(c);
}

static void test_destinations_alone_send_and_more_than_eight_are_refused(void) {
  char yaml[4096] = "harnesses:\n  opencode:\n    destinations:\n";
  for (int i = 0; i < 9; i++)
    snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml),
             "      - {name: d%d, target: phoenix, endpoint: 'http://127.0.0.1:%d'}\n", i,
             7000 + i);
  config *c = load(yaml, no_env);
  CHECK(c->target == CONFIG_TARGET_NONE);
  CHECK(c->why_not_sending == NULL);
  CHECK_INT(c->n_destinations, CONFIG_MAX_DESTINATIONS - 1);
  CHECK(contains(c->warning, "at most 8 destinations"));
  config_free(c);
}

static void test_project_destinations_follow_the_credential_rule(void) {
  const char *user = "harnesses:\n  opencode:\n    endpoint: http://127.0.0.1:6006\n"
                     "    destinations:\n      - {name: team, target: arize, api_key: user-key-1, "
                     "space_id: user-space}\n";
  const char *project = "destinations:\n  - {name: team, target: otlp, endpoint: "
                        "'https://evil.example.com', headers: {x-k: project-key-9}}\n"
                        "  - {name: extra, target: phoenix, endpoint: 'http://127.0.0.1:7007'}\n";
  config *c = load_in(user, project, no_env);
  CHECK_INT(c->n_destinations, 2);
  /* the project's "team" replaced the user's: none of the user's credentials go with it, and
   * its own are ignored without the user's word */
  CHECK_STR(c->destinations[0].endpoint, "https://evil.example.com/v1/traces");
  CHECK_INT(c->destinations[0].n_headers, 0);
  CHECK(c->destinations[0].from_project);
  CHECK(contains(c->project_notice, "credentials of its destinations ignored"));
  CHECK(!contains(c->project_notice, "project-key-9"));
  config_free(c);
  static const char *const allow[] = {"ARIZE_PROJECT_CREDENTIALS=true", NULL};
  c = load_in(user, project, allow);
  CHECK(dest_has_header(&c->destinations[0], "x-k: project-key-9"));
  config_free(c);
}

int main(void) {
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(config_file, sizeof config_file, "%s/config.yaml", tmpdir);
  snprintf(missing_file, sizeof missing_file, "%s/absent.yaml", tmpdir);
  RUN(test_redact_settings_lists_and_switch);

  RUN(test_defaults_with_empty_env);
  RUN(test_export_and_limit_defaults);
  RUN(test_null_envp_is_an_empty_environment);
  RUN(test_paths_follow_home);
  RUN(test_default_config_file_is_read_from_home);
  RUN(test_missing_file_gives_no_warning);

  RUN(test_file_values_read);
  RUN(test_arize_headers_from_file);
  RUN(test_other_harness_blocks_ignored);
  RUN(test_numeric_space_id_read_as_text);
  RUN(test_file_values_trimmed_and_null_values_unset);
  RUN(test_file_value_with_inner_control_char_refused);
  RUN(test_repeated_key_last_wins);

  RUN(test_malformed_yaml_warns_without_secret_values);
  RUN(test_unclosed_quote_names_the_line_it_opens_on);
  RUN(test_invalid_utf8_warns_with_line);
  RUN(test_top_level_not_a_mapping_warns);
  RUN(test_directory_as_config_warns);
  RUN(test_empty_file_gives_no_warning);
  RUN(test_comment_only_file_gives_no_warning);
  RUN(test_unreadable_file_warns);
  RUN(test_file_over_one_mib_refused);
  RUN(test_deep_nesting_refused);
  RUN(test_many_anchors_refused);
  RUN(test_alias_to_a_value_is_followed);
  RUN(test_invalid_bool_warns_and_keeps_default);
  RUN(test_unknown_target_warns);

  RUN(test_env_overrides_file_api_key);
  RUN(test_env_overrides_file_project_user_and_space);
  RUN(test_env_overrides_file_endpoint);
  RUN(test_empty_env_value_counts_as_unset);
  RUN(test_env_name_prefix_does_not_match);
  RUN(test_env_value_trailing_newline_trimmed);
  RUN(test_env_value_with_inner_control_char_refused);
  RUN(test_log_file_from_env);
  RUN(test_verbose_and_dry_run_from_env);
  RUN(test_misspelt_keys_are_named_with_the_closest_known_key);
  RUN(test_unknown_keys_in_sections_and_logging_are_named);
  RUN(test_a_dotted_name_is_said_with_the_nesting_to_write);
  RUN(test_other_harnesses_keys_are_not_ours_to_name);
  RUN(test_a_correct_file_has_no_unknown_keys);
  RUN(test_unknown_keys_in_json_config);
  RUN(test_exit_flush_from_env_new_name_wins);

  RUN(test_trace_enabled_false_disables_but_keeps_target);
  RUN(test_trace_enabled_upper_case_false_disables);
  RUN(test_trace_enabled_anything_else_keeps_on);

  RUN(test_arize_default_endpoint);
  RUN(test_endpoint_host_port_means_https_traces);
  RUN(test_endpoint_http_base_gets_traces_path);
  RUN(test_endpoint_https_base_gets_traces_path);
  RUN(test_endpoint_https_with_traces_path_kept);
  RUN(test_endpoint_trailing_slash_dropped);

  RUN(test_phoenix_endpoint_without_key);
  RUN(test_phoenix_endpoint_with_key);
  RUN(test_backend_headers_are_typed_secret_or_not);
  RUN(test_described_settings_show_every_value_in_effect_but_no_secret);
  RUN(test_described_endpoint_drops_userinfo_query_and_fragment);
  RUN(test_phoenix_bare_host_port_means_http);
  RUN(test_phoenix_env_wins_over_arize_credentials);
  RUN(test_file_target_phoenix_uses_file_endpoint_and_key);
  RUN(test_file_endpoint_without_target_or_arize_ids_means_phoenix);
  RUN(test_file_target_phoenix_without_endpoint_explains);
  RUN(test_file_target_arize_without_credentials_names_them);

  RUN(test_missing_space_id_named_in_why_not_sending);
  RUN(test_missing_api_key_named_in_why_not_sending);

  RUN(test_redaction_flags_default_on);
  RUN(test_redaction_flags_from_file);
  RUN(test_file_booleans_accept_true_variants);
  RUN(test_redaction_flags_from_env);
  RUN(test_redaction_env_overrides_file);

  RUN(test_numbers_from_file);
  RUN(test_numbers_under_harness_block_win_over_top_level);
  RUN(test_numbers_from_env_win_over_file);
  RUN(test_recover_hours_default_file_and_env);
  RUN(test_traces_timeout_wins_over_generic_timeout);
  RUN(test_absurd_file_number_warns_with_its_key_and_keeps_default);
  RUN(test_absurd_env_number_warns_and_keeps_file_value);
  RUN(test_non_numeric_values_refused);
  RUN(test_retry_max_below_initial_raised_to_initial);
  RUN(test_compression_from_env);
  RUN(test_bad_file_compression_warns);
  RUN(test_service_name_from_env);
  RUN(test_service_name_from_resource_attributes);
  RUN(test_resource_attributes_decoded_and_trimmed);
  RUN(test_broken_resource_attribute_skipped_with_warning);
  RUN(test_span_attributes_from_file_harness_wins);
  RUN(test_span_attribute_that_is_not_a_scalar_warns);
  RUN(test_too_many_span_attributes_capped);
  RUN(test_hide_flags_from_env);
  RUN(test_otel_traces_endpoint_used_as_is);
  RUN(test_otel_endpoint_gets_traces_path);
  RUN(test_otel_headers_decoded_and_traces_headers_win);
  RUN(test_otel_header_with_line_break_refused_without_its_value);
  RUN(test_otel_endpoint_without_http_scheme_ignored);
  RUN(test_endpoint_with_a_scheme_nothing_sends_to_is_ignored);
  RUN(test_arize_and_phoenix_win_over_otel_variables);
  RUN(test_file_target_otlp_with_endpoint_and_headers);
  RUN(test_file_target_otlp_env_endpoint_and_headers_win);
  RUN(test_file_target_otlp_without_endpoint_explains);
  RUN(test_file_header_with_control_char_refused);
  RUN(test_arize_region_from_env);
  RUN(test_arize_region_from_file_and_env_wins);
  RUN(test_arize_explicit_endpoint_wins_over_region);
  RUN(test_unknown_region_warns_and_uses_us);
  RUN(test_config_json_read_when_no_yaml);
  RUN(test_config_yaml_wins_over_json);
  RUN(test_malformed_json_warns_with_line_without_secret);
  RUN(test_json_value_of_wrong_type_warns_with_key);

  RUN(test_world_readable_file_with_a_key_warns_first);
  RUN(test_private_file_or_one_without_a_key_does_not_warn);

  RUN(test_config_file_mtime);
  RUN(test_target_names);
  RUN(test_project_file_over_the_user_file);
  RUN(test_project_credentials_need_the_users_word);
  RUN(test_destinations_beside_the_first);
  RUN(test_every_problem_of_a_file_is_named_on_its_line);
  RUN(test_destinations_alone_send_and_more_than_eight_are_refused);
  RUN(test_a_destination_sending_where_another_does_is_left_out);
  RUN(test_project_destinations_follow_the_credential_rule);
  RUN(test_project_endpoint_gets_no_user_credentials);
  RUN(test_project_privacy_only_tightens);
  RUN(test_broken_project_file_keeps_the_user_settings);
  RUN(test_project_unknown_keys_and_switch_off);
  RUN(test_project_file_others_may_write_is_not_used);
  RUN(test_project_search_stays_inside_the_repository);

  nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return check_done();
}
