/* config — see config.h.
 *
 * config_load runs in three steps, each a small function below:
 *   1. read the file (bounded in size, regular files only): config.yaml, or config.json
 *      when only that exists (the format newer Python harness releases write). YAML is
 *      first checked for shape (nesting, anchors) with libyaml's event API, then parsed
 *      with the document API; JSON is parsed with jansson. Both are walked through one
 *      small node interface (`fnode`) into `file_settings`; any problem becomes one
 *      `warning` line;
 *   2. take each setting from the environment when set there, else from the file, else
 *      its default; numbers outside their bounds are refused with a warning;
 *   3. resolve the backend (Phoenix, an explicit OTLP target, Arize AX, the standard
 *      OTEL_EXPORTER_OTLP_* variables, or none) and build its headers.
 *
 * Secrets pass through here, so no message built in this file ever contains a value
 * read from the file or the environment: only key names, paths and line numbers. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
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
#define CONFIG_MAX_PAIRS 256    /* custom attributes or headers per list */
#define ARIZE_DEFAULT_ENDPOINT "https://otlp.arize.com/v1/traces"
#define TRACES_PATH "/v1/traces"
#define MIB (1024L * 1024L)

/* Arize AX regions and their OTLP/HTTP trace endpoints, from Arize's "Data Regions" page
 * (https://arize.com/docs/ax/security-and-settings/compliance/data-regions). */
static const struct {
  const char *name, *long_name, *endpoint;
} arize_regions[] = {
    {"us", "us-central-1a", "https://otlp.arize.com/v1/traces"},
    {"eu", "eu-west-1a", "https://otlp.eu-west-1a.arize.com/v1/traces"},
    {"ca", "ca-central-1a", "https://otlp.ca-central-1a.arize.com/v1/traces"},
};

/* The numeric settings: each has a file key (`section.key`, at the top level or under
 * harnesses.opencode, which wins), an environment variable, a default and bounds. */
enum {
  NUM_SPOOL_MAX_MB,
  NUM_SPOOL_MAX_AGE_DAYS,
  NUM_RETRY_INITIAL_MS,
  NUM_RETRY_MAX_MS,
  NUM_EXPORT_TIMEOUT_MS,
  NUM_SHUTDOWN_MS,
  NUM_MAX_ATTR_BYTES,
  NUM_MAX_PAYLOAD_MB,
  NUM_MAX_SPANS,
  NUM_LOG_MAX_MB,
  NUM_RECOVER_HOURS,
  NUM_COUNT
};

static const struct numeric_setting {
  const char *section, *key;
  const char *env, *env_specific; /* env_specific (or NULL) wins over env */
  long def, min, max;
  const char *old_key; /* an older name of key, still read when key is absent (or NULL) */
} numerics[NUM_COUNT] = {
    [NUM_SPOOL_MAX_MB] = {"spool", "max_mb", "ARIZE_SPOOL_MAX_MB", NULL, 100, 1, 100 * 1024},
    [NUM_SPOOL_MAX_AGE_DAYS] = {"spool", "max_age_days", "ARIZE_SPOOL_MAX_AGE_DAYS", NULL, 7, 1,
                                3650},
    [NUM_RETRY_INITIAL_MS] = {"export", "retry_initial_ms", "ARIZE_RETRY_INITIAL_MS", NULL, 1000,
                              10, 600000},
    [NUM_RETRY_MAX_MS] = {"export", "retry_max_ms", "ARIZE_RETRY_MAX_MS", NULL, 30000, 100,
                          3600000},
    [NUM_EXPORT_TIMEOUT_MS] = {"export", "timeout_ms", "OTEL_EXPORTER_OTLP_TIMEOUT",
                               "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10000, 100, 600000},
    /* How long exit waits for the backend (the plugin's dispose, the environment's cleanup):
     * spans are durable, so a backend that does not answer must not hold OpenCode's exit.
     * ARIZE_SHUTDOWN_TIMEOUT_MS / shutdown_timeout_ms are its older names. */
    [NUM_SHUTDOWN_MS] = {"export", "exit_flush_ms", "ARIZE_SHUTDOWN_TIMEOUT_MS",
                         "ARIZE_EXIT_FLUSH_MS", 1000, 0, 60000, "shutdown_timeout_ms"},
    [NUM_MAX_ATTR_BYTES] = {"limits", "max_attribute_bytes", "ARIZE_MAX_ATTRIBUTE_BYTES", NULL,
                            32768, 256, 16 * MIB},
    [NUM_MAX_PAYLOAD_MB] = {"limits", "max_payload_mb", "ARIZE_MAX_PAYLOAD_MB", NULL, 256, 1, 4096},
    [NUM_MAX_SPANS] = {"limits", "max_spans_per_payload", "ARIZE_MAX_SPANS_PER_PAYLOAD", NULL,
                       20000, 1, 1000000},
    [NUM_LOG_MAX_MB] = {"limits", "log_max_mb", "ARIZE_LOG_MAX_MB", NULL, 10, 1, 1024},
    /* how far back (hours of session activity) the start-up sweep closes turns left open */
    [NUM_RECOVER_HOURS] = {"limits", "recover_hours", "ARIZE_RECOVER_HOURS", NULL, 24, 0, 8760},
};

/* What the file said, before the environment is applied. Strings are owned, trimmed
 * and never empty (NULL when absent); flags are -1 when absent. */
typedef struct {
  char *project_name;
  char *endpoint;
  char *api_key;
  char *space_id;
  char *user_id;
  char *region;
  config_target target; /* CONFIG_TARGET_NONE: not given, infer */
  int log_prompts;
  int log_tool_details;
  int log_tool_content;
  int gzip;             /* export.compression: 1 gzip, 0 none, -1 absent */
  int spool_fsync;      /* spool.fsync, -1 absent */
  long num[NUM_COUNT];
  bool has_num[NUM_COUNT];
  config_pairs headers;    /* harnesses.opencode.headers (for target otlp) */
  config_pairs attributes; /* attributes, then harnesses.opencode.attributes */
} file_settings;

typedef struct {
  config *c;
  const char *const *envp;
  file_settings file;
  mode_t file_mode; /* of the config file read; 0 when none was read */
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

/* Parses a whole decimal number (surrounding blanks allowed) within [min, max]. */
static bool parse_long(const char *s, long min, long max, long *out) {
  while (isspace((unsigned char)*s)) s++;
  if (!isdigit((unsigned char)*s) && !(*s == '+' && isdigit((unsigned char)s[1]))) return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  while (isspace((unsigned char)*end)) end++;
  if (errno || *end || v < min || v > max) return false;
  *out = (long)v;
  return true;
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

/* An HTTP header name (RFC 9110 token). */
static bool is_header_name(const char *s, size_t len) {
  if (len == 0) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!isalnum(ch) && !strchr("!#$%&'*+-.^_`|~", ch)) return false;
  }
  return true;
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

/* ---- name/value lists ---- */

/* Sets name to value (both copied; blanks around them kept as given): replaces the value
 * of an existing name (compared case-insensitively when fold_case, as header names are),
 * else appends. Refuses past CONFIG_MAX_PAIRS with a warning naming `what`. */
static void pairs_set(loader *l, config_pairs *p, const char *name, size_t nlen,
                      const char *value, size_t vlen, bool fold_case, const char *what) {
  for (size_t i = 0; i < p->len; i++) {
    bool same = strlen(p->names[i]) == nlen && (fold_case ? !strncasecmp(p->names[i], name, nlen)
                                                          : !strncmp(p->names[i], name, nlen));
    if (!same) continue;
    char *v = strndup(value, vlen);
    if (!v) {
      l->oom = true;
      return;
    }
    free(p->values[i]);
    p->values[i] = v;
    return;
  }
  if (p->len >= CONFIG_MAX_PAIRS) {
    warn(l, "%s: more than %d entries, the rest ignored", what, CONFIG_MAX_PAIRS);
    return;
  }
  char **names = realloc(p->names, (p->len + 1) * sizeof *names);
  if (names) p->names = names;
  char **values = realloc(p->values, (p->len + 1) * sizeof *values);
  if (values) p->values = values;
  char *n = strndup(name, nlen), *v = strndup(value, vlen);
  if (!names || !values || !n || !v) {
    free(n);
    free(v);
    l->oom = true;
    return;
  }
  p->names[p->len] = n;
  p->values[p->len] = v;
  p->len++;
}

/* Removes name (exact match) from the list. */
static void pairs_remove(config_pairs *p, const char *name) {
  for (size_t i = 0; i < p->len; i++) {
    if (strcmp(p->names[i], name) != 0) continue;
    free(p->names[i]);
    free(p->values[i]);
    memmove(p->names + i, p->names + i + 1, (p->len - i - 1) * sizeof *p->names);
    memmove(p->values + i, p->values + i + 1, (p->len - i - 1) * sizeof *p->values);
    p->len--;
    return;
  }
}

static const char *pairs_get(const config_pairs *p, const char *name) {
  for (size_t i = 0; i < p->len; i++)
    if (!strcmp(p->names[i], name)) return p->values[i];
  return NULL;
}

static void pairs_free(config_pairs *p) {
  for (size_t i = 0; i < p->len; i++) {
    free(p->names[i]);
    free(p->values[i]);
  }
  free(p->names);
  free(p->values);
  memset(p, 0, sizeof *p);
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
  l->file_mode = st.st_mode;
  rc = 0;
out:
  close(fd);
  return rc;
}

/* One node of the parsed file, YAML or JSON: the settings are read through these few
 * functions, so both formats mean the same keys. All pointers are borrowed. */
typedef struct {
  yaml_document_t *doc; /* YAML: the document and the node (y) */
  yaml_node_t *y;
  json_t *j; /* JSON */
} fnode;

static bool fn_exists(fnode n) { return n.y || n.j; }

/* A YAML plain scalar read as null ("", "~", "null") or a JSON null. */
static bool fn_is_null(fnode n) {
  if (n.j) return json_is_null(n.j);
  if (!n.y || n.y->type != YAML_SCALAR_NODE ||
      n.y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  const char *v = (const char *)n.y->data.scalar.value;
  return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
         !strcmp(v, "NULL");
}

static bool fn_is_map(fnode n) {
  return n.j ? json_is_object(n.j) : n.y && n.y->type == YAML_MAPPING_NODE;
}

/* The value of key in a mapping, or no node. A repeated YAML key: the last one wins. */
static fnode fn_get(fnode map, const char *key) {
  fnode found = {0};
  if (!fn_is_map(map)) return found;
  if (map.j) {
    found.j = json_object_get(map.j, key);
    return found;
  }
  for (yaml_node_pair_t *p = map.y->data.mapping.pairs.start; p < map.y->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(map.doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key)) {
      found.doc = map.doc;
      found.y = yaml_document_get_node(map.doc, p->value);
    }
  }
  return found;
}

/* The text of a scalar in (*s, *len): a YAML scalar; a JSON string, number or boolean (their
 * text is written to buf). False for mappings, sequences and nulls. */
static bool fn_scalar(fnode n, char buf[64], const char **s, size_t *len) {
  if (n.y) {
    if (n.y->type != YAML_SCALAR_NODE) return false;
    *s = (const char *)n.y->data.scalar.value;
    *len = n.y->data.scalar.length;
    return true;
  }
  if (json_is_string(n.j)) {
    *s = json_string_value(n.j);
    *len = json_string_length(n.j);
    return true;
  }
  if (json_is_integer(n.j)) snprintf(buf, 64, "%" JSON_INTEGER_FORMAT, json_integer_value(n.j));
  else if (json_is_real(n.j)) snprintf(buf, 64, "%.17g", json_real_value(n.j));
  else if (json_is_boolean(n.j)) snprintf(buf, 64, "%s", json_is_true(n.j) ? "true" : "false");
  else return false;
  *s = buf;
  *len = strlen(buf);
  return true;
}

/* "line N: " for a YAML node (1-based), "" for JSON (jansson keeps no positions). */
static const char *fn_where(fnode n, char buf[32]) {
  if (!n.y) return "";
  snprintf(buf, 32, "line %zu: ", (size_t)n.y->start_mark.line + 1);
  return buf;
}

/* Calls fn for each entry of a mapping whose key is a scalar. */
typedef void (*fn_entry)(loader *l, const char *key, size_t key_len, fnode value, void *ctx);
static void fn_each(loader *l, fnode map, fn_entry fn, void *ctx) {
  if (map.j) {
    const char *key;
    json_t *value;
    json_object_foreach(map.j, key, value) {
      fnode v = {.j = value};
      fn(l, key, strlen(key), v, ctx);
    }
    return;
  }
  for (yaml_node_pair_t *p = map.y->data.mapping.pairs.start; p < map.y->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(map.doc, p->key);
    if (!k || k->type != YAML_SCALAR_NODE) continue;
    fnode v = {.doc = map.doc, .y = yaml_document_get_node(map.doc, p->value)};
    if (v.y) fn(l, (const char *)k->data.scalar.value, k->data.scalar.length, v, ctx);
  }
}

/* Warns "config PATH: line N: <message>" (no line for JSON). */
static void warn_at(loader *l, fnode n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn_at(loader *l, fnode n, const char *fmt, ...) {
  if (l->c->warning) return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) l->oom = true;
  va_end(ap);
  if (!msg) return;
  char where[32];
  warn(l, "config %s: %s%s", l->c->config_path, fn_where(n, where), msg);
  free(msg);
}

/* Reads a string setting named `name` (for warnings) into *dst; a null or blank value
 * leaves it unset. */
static void read_string(loader *l, fnode node, const char *name, char **dst) {
  if (!fn_exists(node) || fn_is_null(node)) return;
  char buf[64];
  const char *s;
  size_t n;
  if (!fn_scalar(node, buf, &s, &n)) {
    warn_at(l, node, "%s is not a string", name);
    return;
  }
  trim(&s, &n);
  /* A control character inside a value would end up inside an HTTP header. */
  if (has_control_char(s, n)) {
    warn_at(l, node, "%s contains a control character, ignored", name);
    return;
  }
  free(*dst);
  *dst = dup_trimmed(l, s, n);
}

/* Reads a boolean setting into *dst (1/0); a null value leaves it unset (-1). */
static void read_bool(loader *l, fnode node, const char *name, int *dst) {
  if (!fn_exists(node) || fn_is_null(node)) return;
  char buf[64];
  const char *s;
  size_t n;
  if (!fn_scalar(node, buf, &s, &n)) {
    warn_at(l, node, "%s is not true or false", name);
    return;
  }
  char *text = strndup(s, n);
  bool b;
  if (!text) l->oom = true;
  else if (parse_bool(text, &b)) *dst = b;
  else warn_at(l, node, "%s is not true or false", name);
  free(text);
}

/* Reads numeric setting i from a section node; `prefix` is "" or "harnesses.opencode.". */
static void read_number(loader *l, fnode section, const char *prefix, int i) {
  const struct numeric_setting *ns = &numerics[i];
  fnode node = fn_get(section, ns->key);
  const char *key = ns->key;
  if ((!fn_exists(node) || fn_is_null(node)) && ns->old_key) {
    node = fn_get(section, ns->old_key);
    key = ns->old_key;
  }
  if (!fn_exists(node) || fn_is_null(node)) return;
  char buf[64];
  const char *s;
  size_t n;
  long v;
  char *text = NULL;
  if (fn_scalar(node, buf, &s, &n) && !(text = strndup(s, n))) {
    l->oom = true;
    return;
  }
  if (text && parse_long(text, ns->min, ns->max, &v)) {
    l->file.num[i] = v;
    l->file.has_num[i] = true;
  } else {
    warn_at(l, node, "%s%s.%s is not a whole number from %ld to %ld, ignored", prefix,
            ns->section, key, ns->min, ns->max);
  }
  free(text);
}

static void read_target(loader *l, fnode node) {
  char *t = NULL;
  read_string(l, node, "harnesses.opencode.target", &t);
  if (!t) return;
  if (is_word(t, "arize")) l->file.target = CONFIG_TARGET_ARIZE;
  else if (is_word(t, "phoenix")) l->file.target = CONFIG_TARGET_PHOENIX;
  else if (is_word(t, "otlp")) l->file.target = CONFIG_TARGET_OTLP;
  else warn_at(l, node, "harnesses.opencode.target is not arize, phoenix or otlp");
  free(t);
}

static void read_compression(loader *l, fnode section, const char *prefix) {
  fnode node = fn_get(section, "compression");
  char name[64];
  snprintf(name, sizeof name, "%sexport.compression", prefix);
  char *v = NULL;
  read_string(l, node, name, &v);
  if (!v) return;
  if (is_word(v, "gzip")) l->file.gzip = 1;
  else if (is_word(v, "none")) l->file.gzip = 0;
  else warn_at(l, node, "%s is not gzip or none", name);
  free(v);
}

/* One `attributes:` entry: a scalar value becomes a string attribute. */
static void read_attribute(loader *l, const char *key, size_t key_len, fnode value, void *ctx) {
  const char *prefix = ctx;
  if (fn_is_null(value)) return;
  char buf[64];
  const char *s;
  size_t n;
  if (!fn_scalar(value, buf, &s, &n) || memchr(s, '\0', n) || memchr(key, '\0', key_len)) {
    warn_at(l, value, "%sattributes.%.*s is not a string", prefix, (int)key_len, key);
    return;
  }
  char what[600];
  snprintf(what, sizeof what, "config %s: %sattributes", l->c->config_path, prefix);
  pairs_set(l, &l->file.attributes, key, key_len, s, n, false, what);
}

static void read_attributes(loader *l, fnode node, const char *prefix) {
  if (!fn_exists(node) || fn_is_null(node)) return;
  if (!fn_is_map(node)) {
    warn_at(l, node, "%sattributes is not a mapping", prefix);
    return;
  }
  fn_each(l, node, read_attribute, (void *)prefix);
}

/* One harnesses.opencode.headers entry (sent to an OTLP target; values are secrets). */
static void read_header(loader *l, const char *key, size_t key_len, fnode value, void *ctx) {
  (void)ctx;
  if (fn_is_null(value)) return;
  char buf[64];
  const char *s;
  size_t n;
  if (!is_header_name(key, key_len)) {
    warn_at(l, value, "harnesses.opencode.headers has a name that is not a header name");
    return;
  }
  if (!fn_scalar(value, buf, &s, &n)) {
    warn_at(l, value, "harnesses.opencode.headers.%.*s is not a string", (int)key_len, key);
    return;
  }
  trim(&s, &n);
  if (has_control_char(s, n)) {
    warn_at(l, value, "harnesses.opencode.headers.%.*s contains a control character, ignored",
            (int)key_len, key);
    return;
  }
  char what[600];
  snprintf(what, sizeof what, "config %s: harnesses.opencode.headers", l->c->config_path);
  pairs_set(l, &l->file.headers, key, key_len, s, n, true, what);
}

/* The sections that may appear at the top level and again under harnesses.opencode
 * (which is read second, so it wins). */
static void read_sections(loader *l, fnode parent, const char *prefix) {
  fnode spool = fn_get(parent, "spool"), exp = fn_get(parent, "export"),
        limits = fn_get(parent, "limits");
  for (int i = 0; i < NUM_COUNT; i++) {
    const char *s = numerics[i].section;
    read_number(l, !strcmp(s, "spool") ? spool : !strcmp(s, "export") ? exp : limits, prefix, i);
  }
  read_compression(l, exp, prefix);
  char name[64];
  snprintf(name, sizeof name, "%sspool.fsync", prefix);
  read_bool(l, fn_get(spool, "fsync"), name, &l->file.spool_fsync);
  read_attributes(l, fn_get(parent, "attributes"), prefix);
}

/* ---- unknown keys ----
 *
 * A misspelt key ("projet_name", "regoin") used to be ignored without a word: traces went to
 * the default project and region. Every mapping this harness owns is checked against the keys
 * it reads, and an unknown one is named (never its value) with the closest known key. The
 * file is shared with other harnesses, so at the top level and under `harnesses` only a key
 * close to one of ours is named: `claude-code:` is someone else's, `harnesess:` a typo. */

#define UNKNOWN_KEYS_MAX 8 /* named per file; the count says how many more */

static const char *const top_keys[] = {"harnesses", "logging", "user_id", "spool",
                                       "export",    "limits",  "attributes", NULL};
static const char *const harness_keys[] = {"opencode", NULL};
static const char *const opencode_keys[] = {"project_name", "target", "endpoint", "api_key",
                                            "space_id", "region", "headers", "spool",
                                            "export", "limits", "attributes", NULL};
static const char *const logging_keys[] = {"prompts", "tool_details", "tool_content", NULL};

/* Optimal string alignment distance (edits, adjacent swaps count as one), case-insensitive;
 * strings past 63 bytes count as far from everything. */
static size_t key_distance(const char *a, size_t n, const char *b) {
  size_t m = strlen(b);
  if (n > 63 || m > 63) return 99;
  size_t d[64][64];
  for (size_t i = 0; i <= n; i++) d[i][0] = i;
  for (size_t j = 0; j <= m; j++) d[0][j] = j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
      size_t best = d[i - 1][j - 1] + cost;
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[n][m];
}

/* The known key closest to key[0..n), or NULL when none is close: at most 2 edits, and
 * fewer than half the key's length (so "a" does not suggest "ab"). */
static const char *closest_key(const char *key, size_t n, const char *const *known) {
  const char *best = NULL;
  size_t best_d = 3;
  for (const char *const *k = known; *k; k++) {
    size_t d = key_distance(key, n, *k);
    if (d < best_d && d * 2 < (n > strlen(*k) ? n : strlen(*k))) best = *k, best_d = d;
  }
  return best;
}

typedef struct {
  const char *prefix;        /* "", "harnesses.", "harnesses.opencode.export.", ... */
  const char *const *known;  /* NULL: the numeric settings of section `section` */
  const char *section;
  bool only_close;           /* a shared mapping: name only keys close to ours */
  size_t *count;             /* unknown keys so far in this file */
} key_check;

static bool section_knows(const char *section, const char *key, size_t n) {
  for (int i = 0; i < NUM_COUNT; i++) {
    if (strcmp(numerics[i].section, section) != 0) continue;
    const char *names[] = {numerics[i].key, numerics[i].old_key};
    for (int k = 0; k < 2; k++)
      if (names[k] && strlen(names[k]) == n && !memcmp(names[k], key, n)) return true;
  }
  return !strcmp(section, "export") && n == 11 && !memcmp(key, "compression", 11);
}

static const char *section_closest(const char *section, const char *key, size_t n) {
  const char *known[NUM_COUNT + 2];
  size_t k = 0;
  for (int i = 0; i < NUM_COUNT; i++)
    if (!strcmp(numerics[i].section, section)) known[k++] = numerics[i].key;
  if (!strcmp(section, "export")) known[k++] = "compression";
  known[k] = NULL;
  return closest_key(key, n, known);
}

/* Appends one "`key` (line N): did you mean `x`?" to c->unknown_keys. */
static void note_unknown(loader *l, fnode at, const key_check *kc, const char *key, size_t n,
                         const char *suggestion) {
  if (memchr(key, '\0', n) || has_control_char(key, n)) return; /* not a name to quote */
  size_t count = ++*kc->count;
  if (count > UNKNOWN_KEYS_MAX) return;
  char where[32] = "";
  if (at.y) snprintf(where, sizeof where, " (line %zu)", (size_t)at.y->start_mark.line + 1);
  const char *old = l->c->unknown_keys;
  char *line = suggestion
                   ? fmt_str(l, "%s%s`%s%.*s`%s: did you mean `%s`?", old ? old : "",
                             old ? "; " : "", kc->prefix, (int)n, key, where, suggestion)
                   : fmt_str(l, "%s%s`%s%.*s`%s: not a known key, ignored", old ? old : "",
                             old ? "; " : "", kc->prefix, (int)n, key, where);
  if (!line) return;
  free(l->c->unknown_keys);
  l->c->unknown_keys = line;
}

/* at: the key's node (YAML), for its line; a JSON value carries none. */
static void check_key(loader *l, const char *key, size_t n, fnode at, void *ctx) {
  const key_check *kc = ctx;
  if (kc->known) {
    for (const char *const *k = kc->known; *k; k++)
      if (strlen(*k) == n && !memcmp(*k, key, n)) return;
  } else if (section_knows(kc->section, key, n)) {
    return;
  }
  const char *suggestion = kc->known ? closest_key(key, n, kc->known) : section_closest(kc->section, key, n);
  if (kc->only_close && !suggestion) return;
  note_unknown(l, at, kc, key, n, suggestion);
}

/* Like fn_each, but hands check_key the key's node: its line is the one to name. */
static void check_keys(loader *l, fnode map, const char *prefix, const char *const *known,
                       const char *section, bool only_close, size_t *count) {
  if (!fn_is_map(map)) return;
  key_check kc = {prefix, known, section, only_close, count};
  if (map.j) {
    fn_each(l, map, check_key, &kc);
    return;
  }
  for (yaml_node_pair_t *p = map.y->data.mapping.pairs.start; p < map.y->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(map.doc, p->key);
    if (!k || k->type != YAML_SCALAR_NODE) continue;
    fnode key = {.doc = map.doc, .y = k};
    check_key(l, (const char *)k->data.scalar.value, k->data.scalar.length, key, &kc);
  }
}

/* The sections of a mapping that holds spool/export/limits (root or harnesses.opencode). */
static void check_sections(loader *l, fnode parent, const char *prefix, size_t *count) {
  static const char *const sections[] = {"spool", "export", "limits"};
  for (size_t i = 0; i < 3; i++) {
    char p[64];
    snprintf(p, sizeof p, "%s%s.", prefix, sections[i]);
    check_keys(l, fn_get(parent, sections[i]), p, NULL, sections[i], false, count);
  }
}

static void check_unknown_keys(loader *l, fnode root) {
  size_t count = 0;
  check_keys(l, root, "", top_keys, NULL, true, &count);
  fnode harnesses = fn_get(root, "harnesses");
  check_keys(l, harnesses, "harnesses.", harness_keys, NULL, true, &count);
  fnode oc = fn_get(harnesses, "opencode");
  check_keys(l, oc, "harnesses.opencode.", opencode_keys, NULL, false, &count);
  check_keys(l, fn_get(root, "logging"), "logging.", logging_keys, NULL, false, &count);
  check_sections(l, root, "", &count);
  check_sections(l, oc, "harnesses.opencode.", &count);
  if (count > UNKNOWN_KEYS_MAX && l->c->unknown_keys) {
    char *more = fmt_str(l, "%s; and %zu more", l->c->unknown_keys, count - UNKNOWN_KEYS_MAX);
    if (more) {
      free(l->c->unknown_keys);
      l->c->unknown_keys = more;
    }
  }
  if (l->c->unknown_keys) {
    char *full = fmt_str(l, "config %s: %s", l->c->config_path, l->c->unknown_keys);
    if (full) {
      free(l->c->unknown_keys);
      l->c->unknown_keys = full;
    }
  }
}

/* Only harnesses.opencode and a few top-level keys are ours; the same file configures
 * other harnesses (claude-code, ...), so everything else is ignored without a word. */
static void read_document(loader *l, fnode root) {
  if (!fn_exists(root) || fn_is_null(root)) return; /* empty file or only comments */
  if (!fn_is_map(root)) {
    warn_at(l, root, "top level is not a mapping");
    return;
  }
  file_settings *f = &l->file;
  fnode oc = fn_get(fn_get(root, "harnesses"), "opencode");
  if (fn_exists(oc) && !fn_is_map(oc) && !fn_is_null(oc))
    warn_at(l, oc, "harnesses.opencode is not a mapping");
  read_string(l, fn_get(oc, "project_name"), "harnesses.opencode.project_name",
              &f->project_name);
  read_target(l, fn_get(oc, "target"));
  read_string(l, fn_get(oc, "endpoint"), "harnesses.opencode.endpoint", &f->endpoint);
  read_string(l, fn_get(oc, "api_key"), "harnesses.opencode.api_key", &f->api_key);
  read_string(l, fn_get(oc, "space_id"), "harnesses.opencode.space_id", &f->space_id);
  read_string(l, fn_get(oc, "region"), "harnesses.opencode.region", &f->region);
  fnode headers = fn_get(oc, "headers");
  if (fn_is_map(headers)) fn_each(l, headers, read_header, NULL);
  else if (fn_exists(headers) && !fn_is_null(headers))
    warn_at(l, headers, "harnesses.opencode.headers is not a mapping");

  fnode lg = fn_get(root, "logging");
  read_bool(l, fn_get(lg, "prompts"), "logging.prompts", &f->log_prompts);
  read_bool(l, fn_get(lg, "tool_details"), "logging.tool_details", &f->log_tool_details);
  read_bool(l, fn_get(lg, "tool_content"), "logging.tool_content", &f->log_tool_content);

  read_string(l, fn_get(root, "user_id"), "user_id", &f->user_id);

  read_sections(l, root, "");
  read_sections(l, oc, "harnesses.opencode.");
  check_unknown_keys(l, root);
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

static void parse_yaml(loader *l, const char *buf, size_t len) {
  if (!shape_ok(l, buf, len)) return;
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    l->oom = true;
    return;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  if (yaml_parser_load(&parser, &doc)) {
    fnode root = {.doc = &doc, .y = yaml_document_get_root_node(&doc)};
    read_document(l, root);
    yaml_document_delete(&doc);
  } else {
    parse_failed(l, &parser, buf);
  }
  yaml_parser_delete(&parser);
}

static void parse_json(loader *l, const char *buf, size_t len) {
  const char *s = buf;
  size_t n = len;
  trim(&s, &n);
  if (n == 0) return; /* an empty file, like an empty YAML file */
  json_error_t err;
  json_t *root = json_loadb(buf, len, 0, &err);
  if (!root) {
    /* jansson's texts may quote the input ("... near 'sk-...'"): keep what precedes it. */
    const char *near = strstr(err.text, " near ");
    int shown = near ? (int)(near - err.text) : (int)strlen(err.text);
    warn(l, "config %s: line %d: invalid JSON: %.*s", l->c->config_path, err.line, shown,
         err.text);
    return;
  }
  fnode r = {.j = root};
  read_document(l, r);
  json_decref(root);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* A key in a file other users may read is a leak waiting to happen: say so before any
 * other problem with the file (the warning then carries both). */
static void warn_if_readable_by_others(loader *l) {
  if (!(l->file_mode & (S_IRWXG | S_IRWXO)) || (!l->file.api_key && !l->file.headers.len)) return;
  char *other = l->c->warning;
  l->c->warning = NULL;
  warn(l, "config %s: other users can read it (mode %03o) and it holds a key: chmod 600 %s%s%s",
       l->c->config_path, (unsigned)(l->file_mode & 0777), l->c->config_path, other ? "; and " : "",
       other ? other : "");
  if (l->c->warning) free(other);
  else l->c->warning = other;
}

static void parse_file(loader *l) {
  char *buf = NULL;
  size_t len = 0;
  if (read_config_file(l, &buf, &len) != 0) return;
  if (ends_with(l->c->config_path, ".json")) parse_json(l, buf, len);
  else parse_yaml(l, buf, len);
  free(buf);
  warn_if_readable_by_others(l);
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

/* Numeric setting i: the environment (refused with a warning when not a number in its
 * bounds), else the file, else the default. */
static long resolve_number(loader *l, int i) {
  const struct numeric_setting *ns = &numerics[i];
  const char *names[] = {ns->env_specific, ns->env};
  for (size_t k = 0; k < 2; k++) {
    const char *v = names[k] ? env_get(l->envp, names[k]) : NULL;
    long n;
    if (!v) continue;
    if (parse_long(v, ns->min, ns->max, &n)) return n;
    warn(l, "environment: %s is not a whole number from %ld to %ld, ignored", names[k], ns->min,
         ns->max);
  }
  return l->file.has_num[i] ? l->file.num[i] : ns->def;
}

static size_t mib(long n) {
  return (unsigned long long)n > SIZE_MAX / MIB ? SIZE_MAX : (size_t)n * (size_t)MIB;
}

/* Decodes %XX escapes of s[0..len) into a malloc'd string (*out). Returns false (and
 * *out NULL) for a broken escape or an encoded NUL; sets l->oom when out of memory. */
static bool percent_decode(loader *l, const char *s, size_t len, char **out) {
  *out = NULL;
  char *d = malloc(len + 1);
  if (!d) {
    l->oom = true;
    return false;
  }
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '%') {
      d[o++] = s[i];
      continue;
    }
    if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
        !isxdigit((unsigned char)s[i + 2])) {
      free(d);
      return false;
    }
    char hex[3] = {s[i + 1], s[i + 2], 0};
    d[o] = (char)strtol(hex, NULL, 16);
    if (d[o] == '\0') {
      free(d);
      return false;
    }
    o++;
    i += 2;
  }
  d[o] = '\0';
  *out = d;
  return true;
}

/* Parses an OTEL list ("k=v,k2=v2", each side %-decoded and trimmed) from the variable
 * `name` into *out; later entries win. Headers (as_headers) must have a header name and a
 * value without control characters. A broken entry is skipped with a warning that names
 * the variable only: header values are secrets. */
static void parse_otel_list(loader *l, const char *name, config_pairs *out, bool as_headers) {
  const char *v = env_get(l->envp, name);
  char what[80];
  snprintf(what, sizeof what, "environment: %s", name);
  while (v && *v && !l->oom) {
    const char *end = strchr(v, ',');
    size_t n = end ? (size_t)(end - v) : strlen(v);
    const char *entry = v;
    v = end ? end + 1 : NULL;
    trim(&entry, &n);
    if (n == 0) continue; /* ",," or a trailing comma */
    const char *eq = memchr(entry, '=', n);
    const char *key = entry, *value = eq ? eq + 1 : NULL;
    size_t klen = eq ? (size_t)(eq - entry) : 0, vlen = eq ? n - klen - 1 : 0;
    if (eq) trim(&key, &klen), trim(&value, &vlen);
    char *dk = NULL, *dv = NULL;
    bool ok = eq && klen > 0 && percent_decode(l, key, klen, &dk) &&
              percent_decode(l, value, vlen, &dv);
    if (ok && as_headers) {
      const char *hv = dv;
      size_t hlen = strlen(dv);
      trim(&hv, &hlen);
      ok = is_header_name(dk, strlen(dk)) && !has_control_char(hv, hlen);
      if (ok) pairs_set(l, out, dk, strlen(dk), hv, hlen, true, what);
    } else if (ok) {
      pairs_set(l, out, dk, strlen(dk), dv, strlen(dv), false, what);
    }
    if (!ok && !l->oom)
      warn(l, "environment: %s has an entry that is not %s, skipped", name,
           as_headers ? "name=value with a header name and a printable value" : "key=value");
    free(dk);
    free(dv);
  }
}

static void resolve_export(loader *l) {
  config *c = l->c;
  c->spool_max_bytes = mib(resolve_number(l, NUM_SPOOL_MAX_MB));
  c->spool_max_age_s = resolve_number(l, NUM_SPOOL_MAX_AGE_DAYS) * 86400L;
  c->spool_fsync = resolve_flag(l, "ARIZE_SPOOL_FSYNC", l->file.spool_fsync);
  c->retry_initial_ms = resolve_number(l, NUM_RETRY_INITIAL_MS);
  c->retry_max_ms = resolve_number(l, NUM_RETRY_MAX_MS);
  if (c->retry_max_ms < c->retry_initial_ms) {
    warn(l, "ARIZE_RETRY_MAX_MS (export.retry_max_ms) is below ARIZE_RETRY_INITIAL_MS "
            "(export.retry_initial_ms); using the initial delay for both");
    c->retry_max_ms = c->retry_initial_ms;
  }
  c->export_timeout_ms = resolve_number(l, NUM_EXPORT_TIMEOUT_MS);
  c->shutdown_ms = resolve_number(l, NUM_SHUTDOWN_MS);
  c->max_attr_bytes = (size_t)resolve_number(l, NUM_MAX_ATTR_BYTES);
  c->max_payload_bytes = mib(resolve_number(l, NUM_MAX_PAYLOAD_MB));
  c->max_spans_per_payload = (size_t)resolve_number(l, NUM_MAX_SPANS);
  c->log_max_bytes = mib(resolve_number(l, NUM_LOG_MAX_MB));
  c->recover_hours = resolve_number(l, NUM_RECOVER_HOURS);

  c->gzip = l->file.gzip != 0;
  const char *names[] = {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"};
  for (size_t k = 0; k < 2; k++) {
    const char *v = env_get(l->envp, names[k]);
    if (!v) continue;
    if (is_word(v, "gzip") || is_word(v, "none")) {
      c->gzip = is_word(v, "gzip");
      break;
    }
    warn(l, "environment: %s is not gzip or none, ignored", names[k]);
  }
}

static void resolve_openinference(loader *l) {
  config *c = l->c;
  parse_otel_list(l, "OTEL_RESOURCE_ATTRIBUTES", &c->resource_attributes, false);
  /* OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (the OTel spec);
   * service_name is then the only place it is kept. */
  const char *svc = env_clean(l, "OTEL_SERVICE_NAME");
  c->service_name = dup_str(l, either(svc, pairs_get(&c->resource_attributes, "service.name")));
  if (!c->service_name && !l->oom) c->service_name = dup_str(l, "opencode");
  pairs_remove(&c->resource_attributes, "service.name");

  /* The file's list moves over whole. */
  c->span_attributes = l->file.attributes;
  memset(&l->file.attributes, 0, sizeof l->file.attributes);

  c->hide_inputs = env_true(l, "OPENINFERENCE_HIDE_INPUTS");
  c->hide_outputs = env_true(l, "OPENINFERENCE_HIDE_OUTPUTS");
  c->hide_input_messages = env_true(l, "OPENINFERENCE_HIDE_INPUT_MESSAGES");
  c->hide_output_messages = env_true(l, "OPENINFERENCE_HIDE_OUTPUT_MESSAGES");
  c->hide_input_text = env_true(l, "OPENINFERENCE_HIDE_INPUT_TEXT");
  c->hide_output_text = env_true(l, "OPENINFERENCE_HIDE_OUTPUT_TEXT");
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

  if (!l->oom) resolve_export(l);
  if (!l->oom) resolve_openinference(l);
}

/* ---- step 3: the backend ---- */

/* "http:", "https:", ...: a URL scheme followed by "://". */
static bool has_scheme(const char *s) {
  if (!isalpha((unsigned char)*s)) return false;
  while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.') s++;
  return !strncmp(s, "://", 3);
}

static bool is_http_url(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
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

/* The Arize AX endpoint of ARIZE_REGION or harnesses.opencode.region, NULL when neither
 * is set or the name is unknown (with a warning). */
static const char *region_endpoint(loader *l) {
  const char *env = env_get(l->envp, "ARIZE_REGION");
  const char *name = either(env, l->file.region);
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof arize_regions / sizeof *arize_regions; i++)
    if (is_word(name, arize_regions[i].name) || is_word(name, arize_regions[i].long_name))
      return arize_regions[i].endpoint;
  if (env) warn(l, "environment: ARIZE_REGION is not us, eu or ca; using the US endpoint");
  else
    warn(l, "config %s: harnesses.opencode.region is not us, eu or ca; using the US endpoint",
         l->c->config_path);
  return NULL;
}

static void use_arize(loader *l, const char *base) {
  config *c = l->c;
  c->target = CONFIG_TARGET_ARIZE;
  const char *regional = region_endpoint(l);
  c->endpoint = base       ? traces_url(l, base, "https://")
                : regional ? dup_str(l, regional)
                           : dup_str(l, ARIZE_DEFAULT_ENDPOINT);
  /* Both spellings of each: older Arize examples send api_key/space_id, newer ones
   * authorization/arize-space-id; sending both suits either intake. */
  add_header(l, "authorization: %s", c->api_key);
  add_header(l, "api_key: %s", c->api_key);
  add_header(l, "arize-space-id: %s", c->space_id);
  add_header(l, "space_id: %s", c->space_id);
  add_header(l, "arize-interface: otel");
}

/* The standard OTLP exporter variables: the signal-specific endpoint is used as given,
 * the generic one gets "/v1/traces" (OTel spec). NULL when neither is a usable URL. */
static char *otel_env_endpoint(loader *l) {
  const char *traces = env_clean(l, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (traces && !is_http_url(traces)) {
    warn(l, "environment: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not an http(s) URL, ignored");
    traces = NULL;
  }
  if (traces) return dup_str(l, traces);
  const char *base = env_clean(l, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (base && !is_http_url(base)) {
    warn(l, "environment: OTEL_EXPORTER_OTLP_ENDPOINT is not an http(s) URL, ignored");
    base = NULL;
  }
  if (!base) return NULL;
  while (isspace((unsigned char)*base)) base++;
  size_t n = strlen(base);
  while (n > 0 && (base[n - 1] == '/' || isspace((unsigned char)base[n - 1]))) n--;
  return fmt_str(l, "%.*s%s", (int)n, base, TRACES_PATH);
}

/* Any OTLP/HTTP backend: the file's headers, then OTEL_EXPORTER_OTLP_HEADERS, then
 * OTEL_EXPORTER_OTLP_TRACES_HEADERS (a later one wins on the same name). */
static void use_otlp(loader *l, char *endpoint) {
  config *c = l->c;
  c->target = CONFIG_TARGET_OTLP;
  c->endpoint = endpoint;
  config_pairs h = l->file.headers;
  memset(&l->file.headers, 0, sizeof l->file.headers);
  parse_otel_list(l, "OTEL_EXPORTER_OTLP_HEADERS", &h, true);
  parse_otel_list(l, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", &h, true);
  for (size_t i = 0; i < h.len && !l->oom; i++) add_header(l, "%s: %s", h.names[i], h.values[i]);
  pairs_free(&h);
}

/* why_not_sending when no backend could be chosen: say what is missing and where to put
 * it. Names only, never values. */
static char *explain_none(loader *l) {
  const char *path = l->c->config_path;
  if (l->file.target == CONFIG_TARGET_PHOENIX)
    return fmt_str(l,
                   "no backend configured: target phoenix needs an endpoint: set "
                   "PHOENIX_ENDPOINT or add harnesses.opencode.endpoint to %s",
                   path);
  if (l->file.target == CONFIG_TARGET_OTLP)
    return fmt_str(l,
                   "no backend configured: target otlp needs an endpoint: set "
                   "OTEL_EXPORTER_OTLP_ENDPOINT or add harnesses.opencode.endpoint to %s",
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
                 "no backend configured: set ARIZE_API_KEY and ARIZE_SPACE_ID (Arize AX), "
                 "PHOENIX_ENDPOINT (Phoenix) or OTEL_EXPORTER_OTLP_ENDPOINT (any OTLP "
                 "backend), or add them to %s",
                 path);
}

/* Order: Phoenix named by the environment or the file's target; an OTLP target named by
 * the file; then Arize AX when both its credentials are known; then a file endpoint
 * without a target and without Arize credentials, which can only mean Phoenix; then the
 * standard OTEL_EXPORTER_OTLP_* variables; else none. The file's api_key belongs to
 * whichever backend the file is for. */
static void resolve_target(loader *l) {
  config *c = l->c;
  const file_settings *f = &l->file;
  bool file_phoenix = f->target == CONFIG_TARGET_PHOENIX;
  bool file_arize = f->target == CONFIG_TARGET_ARIZE;
  bool file_otlp = f->target == CONFIG_TARGET_OTLP;
  bool file_other = file_phoenix || file_otlp; /* the file's key is not Arize's */

  const char *phoenix_env = env_clean(l, "PHOENIX_ENDPOINT");
  const char *arize_endpoint_env = env_clean(l, "ARIZE_OTLP_ENDPOINT");
  c->api_key = dup_str(l, either(env_clean(l, "ARIZE_API_KEY"), file_other ? NULL : f->api_key));
  c->space_id = dup_str(l, either(env_clean(l, "ARIZE_SPACE_ID"), f->space_id));
  const char *phoenix_key_env = env_clean(l, "PHOENIX_API_KEY");
  c->phoenix_api_key = dup_str(l, either(phoenix_key_env, file_phoenix ? f->api_key : NULL));
  if (l->oom) return;

  char *otel = NULL;
  if (phoenix_env) {
    use_phoenix(l, phoenix_env);
  } else if (file_phoenix && f->endpoint) {
    use_phoenix(l, f->endpoint);
  } else if (file_otlp && ((otel = otel_env_endpoint(l)) || f->endpoint)) {
    use_otlp(l, otel ? otel : traces_url(l, f->endpoint, "https://"));
  } else if (c->api_key && c->space_id) {
    use_arize(l, either(arize_endpoint_env, file_other ? NULL : f->endpoint));
  } else if (!file_arize && !file_other && f->endpoint) {
    /* Inferred Phoenix: the file's key is Phoenix's. */
    if (!c->phoenix_api_key) c->phoenix_api_key = dup_str(l, f->api_key);
    if (!l->oom) use_phoenix(l, f->endpoint);
  } else if (!file_otlp && (otel = otel_env_endpoint(l))) {
    use_otlp(l, otel);
  } else {
    c->why_not_sending = explain_none(l);
  }

  if (!c->enabled) {
    free(c->why_not_sending);
    c->why_not_sending = dup_str(l, "tracing disabled by ARIZE_TRACE_ENABLED=false");
  }
}

/* ---- public ---- */

/* $HOME/.arize/harness/config.yaml, or config.json beside it when only that exists. */
static char *default_config_path(loader *l) {
  char *yaml = fmt_str(l, "%s/.arize/harness/config.yaml", l->c->home);
  char *json = fmt_str(l, "%s/.arize/harness/config.json", l->c->home);
  struct stat st;
  bool use_json = yaml && json && stat(yaml, &st) != 0 && errno == ENOENT && stat(json, &st) == 0;
  if (use_json) {
    free(yaml);
    return json;
  }
  free(json);
  return yaml;
}

config *config_load(const char *config_path, const char *const *envp) {
  config *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  loader l = {.c = c,
              .envp = envp,
              .file = {.log_prompts = -1, .log_tool_details = -1, .log_tool_content = -1,
                       .gzip = -1, .spool_fsync = -1}};

  c->home = dup_str(&l, env_get(envp, "HOME"));
  if (!c->home && !l.oom) c->home = dup_str(&l, ".");
  if (!l.oom) c->config_path = config_path ? strdup(config_path) : default_config_path(&l);
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
  free(f->region);
  pairs_free(&f->headers);
  pairs_free(&f->attributes);
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
  free(c->service_name);
  pairs_free(&c->resource_attributes);
  pairs_free(&c->span_attributes);
  free(c->why_not_sending);
  free(c->warning);
  free(c->unknown_keys);
  free(c);
}

char *config_describe_json(const config *c) {
  char *endpoint = NULL;
  if (c->endpoint) { /* without user:password@: a URL may carry credentials */
    const char *host = strstr(c->endpoint, "://");
    host = host ? host + 3 : c->endpoint;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    endpoint = at && (!slash || at < slash)
                   ? malloc(strlen(c->endpoint) + 1)
                   : strdup(c->endpoint);
    if (endpoint && at && (!slash || at < slash)) {
      size_t n = (size_t)(host - c->endpoint);
      memcpy(endpoint, c->endpoint, n);
      strcpy(endpoint + n, at + 1);
    }
    if (!endpoint) return NULL;
  }
  const char *state = !c->enabled                        ? "disabled"
                      : c->dry_run                       ? "dry-run"
                      : c->target == CONFIG_TARGET_NONE ? "no-backend"
                                                         : "sending";
  json_t *o = json_pack("{s:b, s:s, s:s?, s:{s:s, s:s?, s:s}, s:{s:s, s:s?, s:s?, s:s}, "
                        "s:{s:s}, s:s, s:I}",
                        "enabled", c->enabled, "state", state, "reason", c->why_not_sending,
                        "backend", "target", config_target_name(c->target), "endpoint",
                        endpoint, "project", c->project_name, "config", "path",
                        c->config_path, "warning", c->warning, "unknown_keys", c->unknown_keys,
                        "log_file", c->log_file, "spool", "dir", c->spool_dir, "state_dir",
                        c->state_dir, "exit_flush_ms", (json_int_t)c->shutdown_ms);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  free(endpoint);
  return text;
}

const char *config_target_name(config_target t) {
  switch (t) {
  case CONFIG_TARGET_ARIZE: return "arize";
  case CONFIG_TARGET_PHOENIX: return "phoenix";
  case CONFIG_TARGET_OTLP: return "otlp";
  case CONFIG_TARGET_NONE: break;
  }
  return "none";
}

time_t config_file_mtime(const char *path) {
  struct stat st;
  if (!path || stat(path, &st) != 0) return 0;
  return st.st_mtime;
}
