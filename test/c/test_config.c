/* Tests for config.c: the file, the environment over it, and the backend they choose. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

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
static const char *const arize_env[] = {"ARIZE_API_KEY=env-key", "ARIZE_SPACE_ID=env-space",
                                        NULL};

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
  CHECK(c->user_id == NULL);
  CHECK(c->api_key == NULL && c->space_id == NULL && c->phoenix_api_key == NULL);
  CHECK_INT(c->n_headers, 0);
  CHECK(c->log_prompts && c->log_tool_details && c->log_tool_content);
  CHECK_STR(c->home, ".");
  CHECK_STR(c->config_path, "./.arize/harness/config.yaml");
  CHECK_INT(c->config_mtime, 0);
  CHECK_STR(c->log_file, "./.arize/harness/logs/opencode.log");
  CHECK_STR(c->state_dir, "./.arize/harness/state/opencode");
  CHECK_STR(c->spool_dir, "./.arize/harness/spool/opencode");
  CHECK_STR(c->why_not_sending,
            "no backend configured: set ARIZE_API_KEY and ARIZE_SPACE_ID (Arize AX) or "
            "PHOENIX_ENDPOINT (Phoenix), or add them to ./.arize/harness/config.yaml");
  CHECK(c->warning == NULL);
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
  CHECK_STR(c->config_path, "/home/someone/.arize/harness/config.yaml");
  CHECK_STR(c->log_file, "/home/someone/.arize/harness/logs/opencode.log");
  CHECK_STR(c->state_dir, "/home/someone/.arize/harness/state/opencode");
  CHECK_STR(c->spool_dir, "/home/someone/.arize/harness/spool/opencode");
  config_free(c);
}

static void test_default_config_file_is_read_from_home(void) {
  char dir[600], path[700], home[600];
  snprintf(home, sizeof home, "HOME=%s", tmpdir);
  snprintf(dir, sizeof dir, "%s/.arize", tmpdir);
  mkdir(dir, 0700);
  snprintf(dir, sizeof dir, "%s/.arize/harness", tmpdir);
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/config.yaml", dir);
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
  CHECK_STR(c->user_id, "file-user");
  CHECK_STR(c->api_key, "file-key");
  CHECK_STR(c->space_id, "file-space");
  CHECK_INT(c->target, CONFIG_TARGET_ARIZE);
  CHECK_STR(c->endpoint, "https://collector.example.com/v1/traces");
  CHECK(c->why_not_sending == NULL);
  CHECK(!c->log_prompts && !c->log_tool_details && !c->log_tool_content);
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
  CHECK_STR(c->user_id, "second");
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
  /* defaults apply: nothing from the broken file is used */
  CHECK(c->api_key == NULL);
  CHECK_INT(c->target, CONFIG_TARGET_NONE);
  CHECK_STR(c->project_name, "opencode");
  config_free(c);
}

static void test_invalid_utf8_warns_with_line(void) {
  config *c = load("user_id: a\nproject: \xff\xfe\n", no_env);
  CHECK(contains(c->warning, ": line 2: "));
  CHECK(c->user_id == NULL);
  config_free(c);
}

static void test_top_level_not_a_mapping_warns(void) {
  config *c = load("- api_key\n- space_id\n", no_env);
  CHECK(contains(c->warning, "top level is not a mapping"));
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
  CHECK_STR(c->project_name, "opencode");
  config_free(c);
  rmdir(dir);
}

static void test_empty_file_gives_no_warning(void) {
  config *c = load("", no_env);
  CHECK(c->warning == NULL);
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
  config *c = config_load(config_file, no_env);
  CHECK(contains(c->warning, "cannot read"));
  CHECK(c->user_id == NULL);
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
  CHECK(c->user_id == NULL);
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
  CHECK(c->log_prompts);
  config_free(c);
}

static void test_unknown_target_warns(void) {
  config *c = load("harnesses:\n  opencode:\n    target: jaeger\n", no_env);
  CHECK(contains(c->warning, "line 3: harnesses.opencode.target is not arize or phoenix"));
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
  CHECK_STR(c->user_id, "env-user");
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
  CHECK(c->log_prompts && c->log_tool_details && c->log_tool_content);
  config_free(c);
}

static void test_redaction_flags_from_file(void) {
  config *c = load("logging:\n  prompts: No\n  tool_details: \"FALSE\"\n  tool_content: 0\n",
                   no_env);
  CHECK(c->warning == NULL);
  CHECK(!c->log_prompts);
  CHECK(!c->log_tool_details);
  CHECK(!c->log_tool_content);
  config_free(c);
}

static void test_file_booleans_accept_true_variants(void) {
  config *c = load("logging:\n  prompts: TRUE\n  tool_details: 'yes'\n  tool_content: 1\n",
                   no_env);
  CHECK(c->warning == NULL);
  CHECK(c->log_prompts && c->log_tool_details && c->log_tool_content);
  config_free(c);
}

static void test_redaction_flags_from_env(void) {
  const char *env[] = {"ARIZE_LOG_PROMPTS=false", "ARIZE_LOG_TOOL_DETAILS=False",
                       "ARIZE_LOG_TOOL_CONTENT=FALSE", NULL};
  config *c = load(NULL, env);
  CHECK(!c->log_prompts && !c->log_tool_details && !c->log_tool_content);
  config_free(c);
}

static void test_redaction_env_overrides_file(void) {
  const char *env[] = {"ARIZE_LOG_PROMPTS=true", "ARIZE_LOG_TOOL_DETAILS=anything", NULL};
  config *c = load(full_file, env); /* the file turns all three off */
  CHECK(c->log_prompts);
  CHECK(c->log_tool_details);
  CHECK(!c->log_tool_content);
  config_free(c);
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
  CHECK_STR(config_target_name(CONFIG_TARGET_NONE), "none");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int main(void) {
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(config_file, sizeof config_file, "%s/config.yaml", tmpdir);
  snprintf(missing_file, sizeof missing_file, "%s/absent.yaml", tmpdir);

  RUN(test_defaults_with_empty_env);
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
  RUN(test_phoenix_bare_host_port_means_http);
  RUN(test_phoenix_env_wins_over_arize_credentials);
  RUN(test_file_target_phoenix_uses_file_endpoint_and_key);
  RUN(test_file_endpoint_without_target_or_arize_ids_means_phoenix);
  RUN(test_file_target_phoenix_without_endpoint_explains);

  RUN(test_missing_space_id_named_in_why_not_sending);
  RUN(test_missing_api_key_named_in_why_not_sending);

  RUN(test_redaction_flags_default_on);
  RUN(test_redaction_flags_from_file);
  RUN(test_file_booleans_accept_true_variants);
  RUN(test_redaction_flags_from_env);
  RUN(test_redaction_env_overrides_file);

  RUN(test_config_file_mtime);
  RUN(test_target_names);

  nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return check_done();
}
