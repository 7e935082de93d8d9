/* config — see config.h.
 *
 * config_load runs in three steps, each a small function below:
 *   1. read the file (bounded in size, regular files only), check its shape (nesting,
 *      anchors) with libyaml's event API, then parse it with the document API into
 *      `file_settings`; any problem becomes one `warning` line;
 *   2. take each setting from the environment when set there, else from the file;
 *   3. resolve the backend (Phoenix, Arize AX or none) and build its headers.
 *
 * Secrets pass through here, so no message built in this file ever contains a value
 * read from the file or the environment: only key names, paths and line numbers. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* A config file is a few lines; anything bigger is a mistake, not a config. */
#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_DEPTH 64     /* mapping/sequence levels; see shape_ok */
#define CONFIG_MAX_ANCHORS 1000 /* anchors plus aliases; see shape_ok */
#define ARIZE_DEFAULT_ENDPOINT "https://otlp.arize.com/v1/traces"
#define TRACES_PATH "/v1/traces"

/* What the file said, before the environment is applied. Strings are owned, trimmed
 * and never empty (NULL when absent); flags are -1 when absent. */
typedef struct {
  char *project_name;
  char *endpoint;
  char *api_key;
  char *space_id;
  char *user_id;
  config_target target; /* CONFIG_TARGET_NONE: not given, infer */
  int log_prompts;
  int log_tool_details;
  int log_tool_content;
} file_settings;

typedef struct {
  config *c;
  const char *const *envp;
  file_settings file;
  bool oom; /* set by every allocation that failed; config_load then returns NULL */
} loader;

/* ---- small helpers ---- */

/* The value of NAME in envp, or NULL when unset, empty or only blanks. */
static const char *env_get(const char *const *envp, const char *name) {
  size_t n = strlen(name);
  for (; envp && *envp; envp++) {
    if (strncmp(*envp, name, n) != 0 || (*envp)[n] != '=') continue;
    const char *v = *envp + n + 1;
    for (const char *p = v; *p; p++)
      if (!isspace((unsigned char)*p)) return v;
    return NULL;
  }
  return NULL;
}

/* True when s, ignoring surrounding blanks and case, is word. */
static bool is_word(const char *s, const char *word) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(word);
  if (strncasecmp(s, word, n) != 0) return false;
  for (s += n; *s; s++)
    if (!isspace((unsigned char)*s)) return false;
  return true;
}

/* Parses true/false/yes/no/1/0 (any case) into *out; false when s is none of them. */
static bool parse_bool(const char *s, bool *out) {
  if (is_word(s, "true") || is_word(s, "yes") || is_word(s, "1")) return *out = true, true;
  if (is_word(s, "false") || is_word(s, "no") || is_word(s, "0")) return *out = false, true;
  return false;
}

/* Narrows s[0..*len) to drop surrounding blanks: a pasted key often ends in a newline. */
static void trim(const char **s, size_t *len) {
  while (*len > 0 && isspace((unsigned char)**s)) (*s)++, (*len)--;
  while (*len > 0 && isspace((unsigned char)(*s)[*len - 1])) (*len)--;
}

/* Control characters (a NUL from a "\0" escape included) inside a value would end up
 * inside an HTTP header line. */
static bool has_control_char(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return true;
  return false;
}

/* A malloc'd copy of s[0..len) without surrounding blanks, or NULL when nothing is left
 * or on OOM (then l->oom is set). */
static char *dup_trimmed(loader *l, const char *s, size_t len) {
  trim(&s, &len);
  if (len == 0) return NULL;
  char *d = strndup(s, len);
  if (!d) l->oom = true;
  return d;
}

static char *dup_str(loader *l, const char *s) {
  return s ? dup_trimmed(l, s, strlen(s)) : NULL;
}

static char *fmt_str(loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *fmt_str(loader *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) {
    s = NULL;
    l->oom = true;
  }
  va_end(ap);
  return s;
}

/* Sets the warning unless one is already set: the first problem is the one to fix.
 * Callers pass key names and positions only, never values. */
static void warn(loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(loader *l, const char *fmt, ...) {
  if (l->c->warning) return;
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) l->oom = true;
  else l->c->warning = s;
  va_end(ap);
}

/* ---- step 1: the file ---- */

/* Reads the whole config file into *buf (malloc'd, NUL-terminated). Returns 0 when read,
 * 1 when there is nothing to parse (missing: silently; otherwise with a warning). */
static int read_config_file(loader *l, char **buf, size_t *len) {
  config *c = l->c;
  /* O_NONBLOCK: a FIFO at the path must not hang OpenCode's start. */
  int fd = open(c->config_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return 1;
    warn(l, "config %s: cannot read: %s", c->config_path, strerror(errno));
    c->config_mtime = config_file_mtime(c->config_path);
    return 1;
  }
  struct stat st;
  int rc = 1;
  if (fstat(fd, &st) != 0) {
    warn(l, "config %s: cannot read: %s", c->config_path, strerror(errno));
    goto out;
  }
  /* fstat of the open file: the mtime describes what we read (or something older, which
   * only causes one extra reload). */
  c->config_mtime = st.st_mtime;
  if (S_ISDIR(st.st_mode)) {
    warn(l, "config %s: is a directory", c->config_path);
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    warn(l, "config %s: not a regular file", c->config_path);
    goto out;
  }
  if (st.st_size > CONFIG_MAX_BYTES) {
    warn(l, "config %s: larger than 1 MiB, ignored", c->config_path);
    goto out;
  }
  /* The file may grow between fstat and read: read up to the cap plus one byte. */
  char *b = malloc(CONFIG_MAX_BYTES + 2);
  if (!b) {
    l->oom = true;
    goto out;
  }
  size_t n = 0;
  while (n <= CONFIG_MAX_BYTES) {
    ssize_t r = read(fd, b + n, CONFIG_MAX_BYTES + 1 - n);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      warn(l, "config %s: cannot read: %s", c->config_path, strerror(errno));
      free(b);
      goto out;
    }
    n += (size_t)r;
  }
  if (n > CONFIG_MAX_BYTES) {
    warn(l, "config %s: larger than 1 MiB, ignored", c->config_path);
    free(b);
    goto out;
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  rc = 0;
out:
  close(fd);
  return rc;
}

/* 1-based line of a node, for warnings. */
static size_t node_line(const yaml_node_t *node) { return node->start_mark.line + 1; }

static bool is_mapping(const yaml_node_t *node) {
  return node && node->type == YAML_MAPPING_NODE;
}

/* A plain scalar that YAML reads as null: "", "~", "null". */
static bool is_null_scalar(const yaml_node_t *node) {
  if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  const char *v = (const char *)node->data.scalar.value;
  return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
         !strcmp(v, "NULL");
}

/* The value of key in a mapping node, or NULL. A repeated key: the last one wins. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key) {
  if (!is_mapping(map)) return NULL;
  yaml_node_t *found = NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
      found = yaml_document_get_node(doc, p->value);
  }
  return found;
}

/* Reads a string setting named `name` (for warnings) into *dst; a null or blank value
 * leaves it unset. */
static void read_string(loader *l, yaml_node_t *node, const char *name, char **dst) {
  if (!node || is_null_scalar(node)) return;
  if (node->type != YAML_SCALAR_NODE) {
    warn(l, "config %s: line %zu: %s is not a string", l->c->config_path, node_line(node),
         name);
    return;
  }
  const char *s = (const char *)node->data.scalar.value;
  size_t n = node->data.scalar.length;
  trim(&s, &n);
  /* A control character inside a value would end up inside an HTTP header. */
  if (has_control_char(s, n)) {
    warn(l, "config %s: line %zu: %s contains a control character, ignored",
         l->c->config_path, node_line(node), name);
    return;
  }
  free(*dst);
  *dst = dup_trimmed(l, s, n);
}

/* Reads a boolean setting into *dst (1/0); a null value leaves it unset (-1). */
static void read_bool(loader *l, yaml_node_t *node, const char *name, int *dst) {
  if (!node || is_null_scalar(node)) return;
  bool b;
  if (node->type != YAML_SCALAR_NODE || !parse_bool((const char *)node->data.scalar.value, &b)) {
    warn(l, "config %s: line %zu: %s is not true or false", l->c->config_path,
         node_line(node), name);
    return;
  }
  *dst = b;
}

static void read_target(loader *l, yaml_node_t *node) {
  char *t = NULL;
  read_string(l, node, "harnesses.opencode.target", &t);
  if (!t) return;
  if (is_word(t, "arize")) l->file.target = CONFIG_TARGET_ARIZE;
  else if (is_word(t, "phoenix")) l->file.target = CONFIG_TARGET_PHOENIX;
  else
    warn(l, "config %s: line %zu: harnesses.opencode.target is not arize or phoenix",
         l->c->config_path, node_line(node));
  free(t);
}

/* Only harnesses.opencode, logging and user_id are ours; the same file configures other
 * harnesses (claude-code, ...), so everything else is ignored without a word. */
static void read_document(loader *l, yaml_document_t *doc) {
  yaml_node_t *root = yaml_document_get_root_node(doc);
  if (!root || is_null_scalar(root)) return; /* empty file or only comments */
  if (!is_mapping(root)) {
    warn(l, "config %s: line %zu: top level is not a mapping", l->c->config_path,
         node_line(root));
    return;
  }
  file_settings *f = &l->file;
  yaml_node_t *oc = map_get(doc, map_get(doc, root, "harnesses"), "opencode");
  if (oc && !is_mapping(oc) && !is_null_scalar(oc))
    warn(l, "config %s: line %zu: harnesses.opencode is not a mapping", l->c->config_path,
         node_line(oc));
  read_string(l, map_get(doc, oc, "project_name"), "harnesses.opencode.project_name",
              &f->project_name);
  read_target(l, map_get(doc, oc, "target"));
  read_string(l, map_get(doc, oc, "endpoint"), "harnesses.opencode.endpoint", &f->endpoint);
  read_string(l, map_get(doc, oc, "api_key"), "harnesses.opencode.api_key", &f->api_key);
  read_string(l, map_get(doc, oc, "space_id"), "harnesses.opencode.space_id", &f->space_id);

  yaml_node_t *lg = map_get(doc, root, "logging");
  read_bool(l, map_get(doc, lg, "prompts"), "logging.prompts", &f->log_prompts);
  read_bool(l, map_get(doc, lg, "tool_details"), "logging.tool_details", &f->log_tool_details);
  read_bool(l, map_get(doc, lg, "tool_content"), "logging.tool_content", &f->log_tool_content);

  read_string(l, map_get(doc, root, "user_id"), "user_id", &f->user_id);
}

/* 1-based line of a parse error. Reader errors (bad UTF-8) carry only a byte offset. */
static size_t error_line(const yaml_parser_t *p, const char *buf) {
  if (p->error != YAML_READER_ERROR) return p->problem_mark.line + 1;
  size_t line = 1;
  for (size_t i = 0; i < p->problem_offset && buf[i]; i++) line += buf[i] == '\n';
  return line;
}

static void parse_failed(loader *l, const yaml_parser_t *parser, const char *buf) {
  if (parser->error == YAML_MEMORY_ERROR) {
    l->oom = true;
    return;
  }
  /* libyaml's problem texts are fixed strings; they never quote the input. */
  warn(l, "config %s: line %zu: %s", l->c->config_path, error_line(parser, buf),
       parser->problem ? parser->problem : "invalid YAML");
}

/* True for events that carry an anchor ("&name") or are an alias ("*name"). */
static bool uses_anchor(const yaml_event_t *ev) {
  switch (ev->type) {
  case YAML_ALIAS_EVENT: return true;
  case YAML_SCALAR_EVENT: return ev->data.scalar.anchor != NULL;
  case YAML_SEQUENCE_START_EVENT: return ev->data.sequence_start.anchor != NULL;
  case YAML_MAPPING_START_EVENT: return ev->data.mapping_start.anchor != NULL;
  default: return false;
  }
}

/* libyaml slows down quadratically with nesting depth (a 1 MiB file of "[[[[" takes
 * minutes) and with the number of anchors and aliases (the loader looks each one up in a
 * list: 80,000 anchors take seconds), while a config needs three levels and no anchor.
 * So a quick pass over the events of the first document refuses such files before the
 * document is built; it stops at the first excess, so it costs little. Returns false
 * after setting a warning. */
static bool shape_ok(loader *l, const char *buf, size_t len) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    l->oom = true;
    return false;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  bool ok = true, done = false;
  int depth = 0, anchors = 0;
  while (ok && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      parse_failed(l, &parser, buf);
      ok = false;
      break;
    }
    if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
      if (++depth > CONFIG_MAX_DEPTH) {
        warn(l, "config %s: line %zu: nested deeper than %d levels", l->c->config_path,
             ev.start_mark.line + 1, CONFIG_MAX_DEPTH);
        ok = false;
      }
    } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
      depth--;
    } else if (ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT) {
      done = true; /* yaml_parser_load reads only the first document */
    }
    if (ok && uses_anchor(&ev) && ++anchors > CONFIG_MAX_ANCHORS) {
      warn(l, "config %s: line %zu: more than %d anchors and aliases", l->c->config_path,
           ev.start_mark.line + 1, CONFIG_MAX_ANCHORS);
      ok = false;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return ok;
}

static void parse_file(loader *l) {
  char *buf = NULL;
  size_t len = 0;
  if (read_config_file(l, &buf, &len) != 0) return;
  if (!shape_ok(l, buf, len)) {
    free(buf);
    return;
  }

  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    l->oom = true;
    free(buf);
    return;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  if (yaml_parser_load(&parser, &doc)) {
    read_document(l, &doc);
    yaml_document_delete(&doc);
  } else {
    parse_failed(l, &parser, buf);
  }
  yaml_parser_delete(&parser);
  free(buf);
}

/* ---- step 2: environment over file ---- */

/* The environment's value when set, else the file's (both may be NULL). */
static const char *either(const char *env, const char *file) { return env ? env : file; }

/* An environment value (untrimmed; callers copy it with dup_str), refused like a file
 * value when a control character inside it would break a header. */
static const char *env_clean(loader *l, const char *name) {
  const char *v = env_get(l->envp, name);
  if (!v) return NULL;
  const char *s = v;
  size_t n = strlen(v);
  trim(&s, &n);
  if (has_control_char(s, n)) {
    warn(l, "environment: %s contains a control character, ignored", name);
    return NULL;
  }
  return v;
}

/* A redaction flag: the environment's "false" (or no/0) turns it off, any other value
 * on; else the file; else on. */
static bool resolve_flag(loader *l, const char *env_name, int file_value) {
  const char *v = env_get(l->envp, env_name);
  bool b;
  if (v) return !(parse_bool(v, &b) && !b);
  return file_value != 0;
}

static bool env_true(loader *l, const char *name) {
  const char *v = env_get(l->envp, name);
  return v && (is_word(v, "true") || is_word(v, "1"));
}

static void resolve_settings(loader *l) {
  config *c = l->c;
  const char *enabled = env_get(l->envp, "ARIZE_TRACE_ENABLED");
  c->enabled = !(enabled && is_word(enabled, "false"));
  c->dry_run = env_true(l, "ARIZE_DRY_RUN");
  c->verbose = env_true(l, "ARIZE_VERBOSE");

  c->project_name = dup_str(l, either(env_clean(l, "ARIZE_PROJECT_NAME"), l->file.project_name));
  if (!c->project_name && !l->oom) c->project_name = dup_str(l, "opencode");
  c->user_id = dup_str(l, either(env_clean(l, "ARIZE_USER_ID"), l->file.user_id));

  c->log_prompts = resolve_flag(l, "ARIZE_LOG_PROMPTS", l->file.log_prompts);
  c->log_tool_details = resolve_flag(l, "ARIZE_LOG_TOOL_DETAILS", l->file.log_tool_details);
  c->log_tool_content = resolve_flag(l, "ARIZE_LOG_TOOL_CONTENT", l->file.log_tool_content);

  const char *log_file = env_get(l->envp, "ARIZE_LOG_FILE");
  c->log_file = log_file ? dup_str(l, log_file)
                         : fmt_str(l, "%s/.arize/harness/logs/opencode.log", c->home);
  c->state_dir = fmt_str(l, "%s/.arize/harness/state/opencode", c->home);
  c->spool_dir = fmt_str(l, "%s/.arize/harness/spool/opencode", c->home);
}

/* ---- step 3: the backend ---- */

/* "http:", "https:", ...: a URL scheme followed by "://". */
static bool has_scheme(const char *s) {
  if (!isalpha((unsigned char)*s)) return false;
  while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.') s++;
  return !strncmp(s, "://", 3);
}

/* The full traces URL for a configured endpoint: default_scheme is prepended when it has
 * none ("host:port"), trailing slashes are dropped, and "/v1/traces" is appended unless
 * the path already ends with it. */
static char *traces_url(loader *l, const char *base, const char *default_scheme) {
  while (isspace((unsigned char)*base)) base++;
  size_t n = strlen(base);
  while (n > 0 && (base[n - 1] == '/' || isspace((unsigned char)base[n - 1]))) n--;
  size_t suffix = strlen(TRACES_PATH);
  bool has_path = n >= suffix && !memcmp(base + n - suffix, TRACES_PATH, suffix);
  return fmt_str(l, "%s%.*s%s", has_scheme(base) ? "" : default_scheme, (int)n, base,
                 has_path ? "" : TRACES_PATH);
}

static void add_header(loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_header(loader *l, const char *fmt, ...) {
  config *c = l->c;
  char **h = realloc(c->headers, (c->n_headers + 1) * sizeof *h);
  if (!h) {
    l->oom = true;
    return;
  }
  c->headers = h;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&h[c->n_headers], fmt, ap) < 0) l->oom = true;
  else c->n_headers++;
  va_end(ap);
}

static void use_phoenix(loader *l, const char *base) {
  config *c = l->c;
  c->target = CONFIG_TARGET_PHOENIX;
  /* Phoenix usually runs locally without TLS, hence http for a bare host:port. */
  c->endpoint = traces_url(l, base, "http://");
  add_header(l, "x-project-name: %s", c->project_name);
  if (c->phoenix_api_key) add_header(l, "authorization: Bearer %s", c->phoenix_api_key);
}

static void use_arize(loader *l, const char *base) {
  config *c = l->c;
  c->target = CONFIG_TARGET_ARIZE;
  c->endpoint = base ? traces_url(l, base, "https://") : dup_str(l, ARIZE_DEFAULT_ENDPOINT);
  /* Both spellings of each: older Arize examples send api_key/space_id, newer ones
   * authorization/arize-space-id; sending both suits either intake. */
  add_header(l, "authorization: %s", c->api_key);
  add_header(l, "api_key: %s", c->api_key);
  add_header(l, "arize-space-id: %s", c->space_id);
  add_header(l, "space_id: %s", c->space_id);
  add_header(l, "arize-interface: otel");
}

/* why_not_sending when no backend could be chosen: say what is missing and where to put
 * it. Names only, never values. */
static char *explain_none(loader *l, bool file_wants_phoenix) {
  const char *path = l->c->config_path;
  if (file_wants_phoenix)
    return fmt_str(l,
                   "no backend configured: target phoenix needs an endpoint: set "
                   "PHOENIX_ENDPOINT or add harnesses.opencode.endpoint to %s",
                   path);
  if (l->c->api_key && !l->c->space_id)
    return fmt_str(l,
                   "no backend configured: the Arize space id is missing: set ARIZE_SPACE_ID "
                   "or add harnesses.opencode.space_id to %s",
                   path);
  if (!l->c->api_key && l->c->space_id)
    return fmt_str(l,
                   "no backend configured: the Arize API key is missing: set ARIZE_API_KEY "
                   "or add harnesses.opencode.api_key to %s",
                   path);
  return fmt_str(l,
                 "no backend configured: set ARIZE_API_KEY and ARIZE_SPACE_ID (Arize AX) or "
                 "PHOENIX_ENDPOINT (Phoenix), or add them to %s",
                 path);
}

/* Order: Phoenix named by the environment or the file's target; then Arize AX when both
 * its credentials are known; then a file endpoint without a target and without Arize
 * credentials, which can only mean Phoenix; else none. The file's api_key belongs to
 * whichever backend the file is for. */
static void resolve_target(loader *l) {
  config *c = l->c;
  const file_settings *f = &l->file;
  bool file_phoenix = f->target == CONFIG_TARGET_PHOENIX;
  bool file_arize = f->target == CONFIG_TARGET_ARIZE;

  const char *phoenix_env = env_clean(l, "PHOENIX_ENDPOINT");
  const char *arize_endpoint_env = env_clean(l, "ARIZE_OTLP_ENDPOINT");
  c->api_key = dup_str(l, either(env_clean(l, "ARIZE_API_KEY"), file_phoenix ? NULL : f->api_key));
  c->space_id = dup_str(l, either(env_clean(l, "ARIZE_SPACE_ID"), f->space_id));
  const char *phoenix_key_env = env_clean(l, "PHOENIX_API_KEY");
  c->phoenix_api_key = dup_str(l, either(phoenix_key_env, file_phoenix ? f->api_key : NULL));
  if (l->oom) return;

  if (phoenix_env) {
    use_phoenix(l, phoenix_env);
  } else if (file_phoenix && f->endpoint) {
    use_phoenix(l, f->endpoint);
  } else if (c->api_key && c->space_id) {
    use_arize(l, either(arize_endpoint_env, file_phoenix ? NULL : f->endpoint));
  } else if (!file_arize && !file_phoenix && f->endpoint) {
    /* Inferred Phoenix: the file's key is Phoenix's. */
    if (!c->phoenix_api_key) c->phoenix_api_key = dup_str(l, f->api_key);
    if (!l->oom) use_phoenix(l, f->endpoint);
  } else {
    c->why_not_sending = explain_none(l, file_phoenix);
  }

  if (!c->enabled) {
    free(c->why_not_sending);
    c->why_not_sending = dup_str(l, "tracing disabled by ARIZE_TRACE_ENABLED=false");
  }
}

/* ---- public ---- */

config *config_load(const char *config_path, const char *const *envp) {
  config *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  loader l = {.c = c,
              .envp = envp,
              .file = {.log_prompts = -1, .log_tool_details = -1, .log_tool_content = -1}};

  c->home = dup_str(&l, env_get(envp, "HOME"));
  if (!c->home && !l.oom) c->home = dup_str(&l, ".");
  if (!l.oom)
    c->config_path = config_path ? strdup(config_path)
                                 : fmt_str(&l, "%s/.arize/harness/config.yaml", c->home);
  if (!c->config_path) l.oom = true;

  if (!l.oom) parse_file(&l);
  if (!l.oom) resolve_settings(&l);
  if (!l.oom) resolve_target(&l);

  file_settings *f = &l.file;
  free(f->project_name);
  free(f->endpoint);
  free(f->api_key);
  free(f->space_id);
  free(f->user_id);
  if (l.oom) {
    config_free(c);
    return NULL;
  }
  return c;
}

void config_free(config *c) {
  if (!c) return;
  free(c->endpoint);
  free(c->project_name);
  free(c->user_id);
  free(c->api_key);
  free(c->space_id);
  free(c->phoenix_api_key);
  for (size_t i = 0; i < c->n_headers; i++) free(c->headers[i]);
  free(c->headers);
  free(c->home);
  free(c->config_path);
  free(c->log_file);
  free(c->state_dir);
  free(c->spool_dir);
  free(c->why_not_sending);
  free(c->warning);
  free(c);
}

const char *config_target_name(config_target t) {
  switch (t) {
  case CONFIG_TARGET_ARIZE: return "arize";
  case CONFIG_TARGET_PHOENIX: return "phoenix";
  case CONFIG_TARGET_NONE: break;
  }
  return "none";
}

time_t config_file_mtime(const char *path) {
  struct stat st;
  if (!path || stat(path, &st) != 0) return 0;
  return st.st_mtime;
}
