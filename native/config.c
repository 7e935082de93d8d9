/* config — see config.h.
 *
 * config_load runs in three steps, each a small function below:
 *   1. read the file: cfgfile.c reads and parses it (config.yaml, or config.json when only
 *      that exists: the format newer Python harness releases write) and hands back its nodes;
 *      each setting of the table is read from them into `file_settings`, and the keys the table
 *      does not know are named (cfgfile's speller); any problem becomes one `warning` line;
 *   2. take each setting from the environment when set there, else from the file, else
 *      its default; numbers outside their bounds are refused with a warning;
 *   3. resolve the backend by backend.h's rows (Phoenix, an explicit target, Arize AX, the
 *      standard OTEL_EXPORTER_OTLP_* variables, or none) and build its headers.
 *
 * Secrets pass through here, so no message built in this file ever contains a value
 * read from the file or the environment: only key names, paths and line numbers. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "cfgfile.h"
#include "platform.h"
#include "redact.h"
#include "text.h"

#define CONFIG_MAX_PAIRS 256 /* custom attributes or headers per list */
#define TRACES_PATH "/v1/traces"
#define MIB (1024L * 1024L)

/* ---- the settings schema ----
 *
 * Every setting a user can give, in one table (its rows are settings.h, one line each): its type,
 * where it sits in the file (under harnesses.opencode, at the top level, or both: then
 * harnesses.opencode wins), its environment variables (the first one set wins; older names last),
 * its default, bounds and unit, whether it is a secret, and the field it fills: in the config, or
 * in one of its sections (`attrs`, what spans carry; `export`, how every destination sends),
 * which reach their module whole. Parsing the file, the environment override, the bounds check,
 * the defaults, the unknown-key warning (the known keys are this table's keys), the readable-file
 * warning (secrets) and config_schema_json (the CLI and the docs test read it) all walk this
 * table.
 *
 * Settings without a field (SETTING rows) are resolved by hand below (the backend, the resource,
 * the log file): their row still gives their keys, variables and defaults to everyone else. The
 * order is the order the file is read and the environment applied, so the first warning stays the
 * first. */
/* ST_LIST: an environment list "k=v,k2=v2"; ST_SEQUENCE: a file list (YAML sequence, JSON
 * array) of texts, each entry of redact.patterns also a mapping {pattern, kind}; the lists of
 * the top level and of harnesses.opencode add up. */
typedef enum {
  ST_STRING,
  ST_NUMBER,
  ST_FLAG,
  ST_SWITCH,
  ST_CHOICE,
  ST_MAP,
  ST_LIST,
  ST_SEQUENCE
} setting_type;
typedef enum { AT_ENV, AT_TOP, AT_HARNESS, AT_BOTH } setting_scope;
/* F_BACKEND: a string field the backend's rules fill (resolve_target), not resolve_table */
typedef enum { F_NONE, F_STR, F_BOOL, F_LONG, F_SIZE, F_BACKEND } field_kind;

/* The ids of the settings, in the table's order (settings.h). */
enum {
#define SETTING(id, ...) id,
#define CONFIG(id, ...) id,
#define ATTRS(id, ...) id,
#define EXPORT(id, ...) id,
#include "settings.h"
  S_COUNT
};
_Static_assert(S_COUNT <= CONFIG_SETTINGS_MAX, "config.h: CONFIG_SETTINGS_MAX too small");

/* Whether a project file (.opencode/arize-tracing.yaml) may set a setting: no; yes; yes but
 * it is a credential (read from there only when the user's file or environment says
 * project_credentials: true); yes, but only to make tracing more private (a logging switch may
 * go off, redact.secrets on, never the other way round). */
typedef enum { P_NO, P_YES, P_CREDENTIAL, P_TIGHTEN } project_rule;

#define SETTING_MAX_ENV 3
#define ENV(i) (settings[i].env[0]) /* a setting's first environment variable */

// clang-format off
static const struct setting {
  const char *key; /* dotted path below the scope's mapping, NULL for AT_ENV */
  setting_scope scope;
  const char *old_key;              /* an older name of key's last part, read when key is absent */
  const char *env[SETTING_MAX_ENV]; /* the first one set wins */
  setting_type type;
  const char *def_text; /* the default as a user writes it (NULL: none) */
  long def, min, max;   /* ST_NUMBER (in the unit the key names), ST_FLAG (0/1) */
  long unit;            /* ST_NUMBER: the field holds value * unit */
  const char *choices;  /* ST_CHOICE: "a|b|c" */
  bool secret;          /* never logged, never shown */
  field_kind field;
  size_t offset;        /* of the field in config */
  project_rule project; /* what a project file may do with it */
} settings[S_COUNT] = {
#define NUMBER(d, lo, hi, u) .type = ST_NUMBER, .def = d, .min = lo, .max = hi, .unit = u
#define SETTING(id, ...) [id] = {__VA_ARGS__, .field = F_NONE},
#define CONFIG(id, kind, name, ...) [id] = {__VA_ARGS__, .field = kind, .offset = offsetof(config, name)},
#define ATTRS(id, kind, name, ...) [id] = {__VA_ARGS__, .field = kind, .offset = offsetof(config, attrs.name)},
#define EXPORT(id, kind, name, ...) [id] = {__VA_ARGS__, .field = kind, .offset = offsetof(config, export.name)},
#include "settings.h"
#undef NUMBER
};
// clang-format on

/* ---- the backends (backend.h's rows) ---- */

/* The row of a target (NULL for none). */
static const backend *backend_of(config_target t) {
  return t > CONFIG_TARGET_NONE ? backend_at((size_t)t - 1) : NULL;
}

static config_target target_of(const backend *b) {
  for (size_t i = 0; b && i < backend_count(); i++)
    if (backend_at(i) == b) return (config_target)(i + 1);
  return CONFIG_TARGET_NONE;
}

/* The setting of a harnesses.opencode key ("api_key"), or S_COUNT. */
static int setting_of_key(const char *key) {
  for (int i = 0; i < S_COUNT; i++)
    if (settings[i].key && settings[i].scope != AT_ENV && !strcmp(settings[i].key, key)) return i;
  return S_COUNT;
}

/* The setting a variable belongs to, or S_COUNT. */
static int setting_of_env(const char *name) {
  for (int i = 0; name && i < S_COUNT; i++)
    for (size_t k = 0; k < SETTING_MAX_ENV && settings[i].env[k]; k++)
      if (!strcmp(settings[i].env[k], name)) return i;
  return S_COUNT;
}

/* A choice setting's choices "a|b|c" (the target's: the backends' names), into buf. */
static const char *setting_choices(int i, char *buf, size_t cap) {
  return settings[i].choices ? settings[i].choices : backend_names(buf, cap);
}

/* One entry of harnesses.opencode.destinations as the file gave it (strings owned, trimmed,
 * NULL when absent; target: the choice's index + 1, 0 when absent). */
typedef struct {
  char *name, *endpoint, *api_key, *space_id, *project_name, *region;
  int target;
  config_pairs headers;
  bool from_project;
} file_destination;

static void file_destination_free(file_destination *d) {
  free(d->name), free(d->endpoint), free(d->project_name), free(d->region);
  free(d->api_key), free(d->space_id);
  for (size_t i = 0; i < d->headers.len; i++) free(d->headers.names[i]), free(d->headers.values[i]);
  free(d->headers.names), free(d->headers.values);
  memset(d, 0, sizeof *d);
}

/* What the file said, before the environment is applied, indexed by setting. Strings are
 * owned, trimmed and never empty (NULL when absent); flags and choices (the index of the
 * choice) are -1 when absent. */
typedef struct {
  char *str[S_COUNT];
  int flag[S_COUNT];
  long num[S_COUNT];
  bool has_num[S_COUNT];
  config_pairs headers;      /* harnesses.opencode.headers (for target otlp) */
  config_pairs attributes;   /* attributes, then harnesses.opencode.attributes */
  config_pairs seq[S_COUNT]; /* ST_SEQUENCE: the entries (names), with a kind or "" (values) */
  file_destination dests[CONFIG_MAX_DESTINATIONS]; /* harnesses.opencode.destinations */
  size_t n_dests;
} file_settings;

typedef struct {
  config *c;
  const char *const *envp;
  file_settings file;
  unsigned file_mode; /* permissions of the config file read; 0 when none was read */
  bool oom;           /* set by every allocation that failed; config_load then returns NULL */
  /* The file being read: the user's, or (project_pass) the project's, whose problems go to
   * their own warning and broken flag. */
  const char *path;
  char **warning;
  bool *broken;
  bool project_pass;
  bool no_user_credentials; /* the project names the endpoint: the user's keys stay home */
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

/* An HTTP header name (RFC 9110 token): letters, digits and these (the CLI checks --header
 * names with the same set, from config_schema_json). */
#define HEADER_NAME_SYMBOLS "!#$%&'*+-.^_`|~"

static bool is_header_name(const char *s, size_t len) {
  if (len == 0) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!isalnum(ch) && !strchr(HEADER_NAME_SYMBOLS, ch)) return false;
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

static char *dup_str(loader *l, const char *s) { return s ? dup_trimmed(l, s, strlen(s)) : NULL; }

/* Sets the warning unless one is already set: the first problem is the one to fix.
 * Callers pass key names and positions only, never values. */
static void warn(loader *l, const char *fmt, ...) PLATFORM_PRINTF(2, 3);
#define WARNINGS_MAX_BYTES 1024 /* past this, one load's further problems are only counted */
#define WARNINGS_MORE "; and more problems after these"

/* Every problem of one load is said, on its one line: the first, then each other one after
 * "; " (up to WARNINGS_MAX_BYTES, then that there are more); the same problem again, once. */
static void warn(loader *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) l->oom = true;
  va_end(ap);
  if (!s) return;
  char *w = *l->warning, *both = NULL;
  if (!w) {
    *l->warning = s;
    return;
  }
  size_t n = strlen(w), more = strlen(WARNINGS_MORE);
  bool full = (n >= more && strcmp(w + n - more, WARNINGS_MORE) == 0) || strstr(w, s); /* said */
  if (!full &&
      asprintf(&both, n < WARNINGS_MAX_BYTES ? "%s; %s" : "%s" WARNINGS_MORE "%.0s", w, s) < 0)
    l->oom = true;
  if (both) free(w), *l->warning = both;
  free(s);
}

/* The file as a whole cannot be used: the warning says why, and file_broken says that nothing
 * of it was read (status names the file broken rather than a backend missing). */
#define broken(l, ...) (*(l)->broken = true, warn(l, __VA_ARGS__))

/* ---- name/value lists ---- */

/* Sets name to value (both copied; blanks around them kept as given): replaces the value
 * of an existing name (compared case-insensitively when fold_case, as header names are),
 * else appends. Refuses past CONFIG_MAX_PAIRS with a warning naming `what`. */
static void pairs_set(loader *l, config_pairs *p, const char *name, size_t nlen, const char *value,
                      size_t vlen, bool fold_case, const char *what) {
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

/* ---- step 1: the file (read and parsed by cfgfile.c) ---- */

/* cfgfile_each with the loader: fn(l, key, key_len, value, ctx). */
typedef void (*fn_entry)(loader *l, const char *key, size_t key_len, cfgfile_node value, void *ctx);
struct each_ctx {
  loader *l;
  fn_entry fn;
  void *ctx;
};
static void each_entry(void *p, const char *key, size_t key_len, cfgfile_node value) {
  struct each_ctx *e = p;
  e->fn(e->l, key, key_len, value, e->ctx);
}
static void fn_each(loader *l, cfgfile_node map, fn_entry fn, void *ctx) {
  struct each_ctx e = {l, fn, ctx};
  cfgfile_each(map, each_entry, &e);
}

/* Warns "config PATH: line N: <message>" (no line for JSON). */
static void warn_at(loader *l, cfgfile_node n, const char *fmt, ...) PLATFORM_PRINTF(3, 4);
static void warn_at(loader *l, cfgfile_node n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) l->oom = true;
  va_end(ap);
  if (!msg) return;
  char where[32] = "";
  if (cfgfile_line(n)) snprintf(where, sizeof where, "line %zu: ", cfgfile_line(n));
  warn(l, "config %s: %s%s", l->path, where, msg);
  free(msg);
}

/* Reads a string setting named `name` (for warnings) into *dst; a null or blank value
 * leaves it unset. */
static void read_string(loader *l, cfgfile_node node, const char *name, char **dst) {
  if (!cfgfile_exists(node) || cfgfile_is_null(node)) return;
  char buf[64];
  const char *s;
  size_t n;
  if (!cfgfile_scalar(node, buf, &s, &n)) {
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
static void read_bool(loader *l, cfgfile_node node, const char *name, int *dst) {
  if (!cfgfile_exists(node) || cfgfile_is_null(node)) return;
  char buf[64];
  const char *s;
  size_t n;
  if (!cfgfile_scalar(node, buf, &s, &n)) {
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

/* Reads numeric setting i from its node; `name` is its full key, for warnings. */
static void read_number(loader *l, cfgfile_node node, const char *name, int i) {
  const struct setting *st = &settings[i];
  if (!cfgfile_exists(node) || cfgfile_is_null(node)) return;
  char buf[64];
  const char *s;
  size_t n;
  long v;
  char *text = NULL;
  if (cfgfile_scalar(node, buf, &s, &n) && !(text = strndup(s, n))) {
    l->oom = true;
    return;
  }
  if (text && parse_long(text, st->min, st->max, &v)) {
    l->file.num[i] = v;
    l->file.has_num[i] = true;
  } else {
    warn_at(l, node, "%s is not a whole number from %ld to %ld, ignored", name, st->min, st->max);
  }
  free(text);
}

/* "a, b or c" for the choices "a|b|c", into buf. */
static const char *choices_text(const char *choices, char *buf, size_t cap) {
  size_t o = 0;
  for (const char *p = choices; *p && o + 4 < cap; p++) {
    if (*p != '|') {
      buf[o++] = *p;
      continue;
    }
    const char *sep = strchr(p + 1, '|') ? ", " : " or ";
    o += (size_t)snprintf(buf + o, cap - o, "%s", sep);
  }
  buf[o < cap ? o : cap - 1] = '\0';
  return buf;
}

/* The index of s among the choices "a|b|c" (any case, blanks around), or -1. */
static int choice_index(const char *choices, const char *s) {
  int i = 0;
  for (const char *p = choices; *p; i++) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    char word[32];
    if (n < sizeof word) {
      memcpy(word, p, n);
      word[n] = '\0';
      if (is_word(s, word)) return i;
    }
    p += n + (bar != NULL);
  }
  return -1;
}

static void read_choice(loader *l, cfgfile_node node, const char *name, int i) {
  char *v = NULL;
  read_string(l, node, name, &v);
  if (!v) return;
  char bars[80], list[80];
  const char *choices = setting_choices(i, bars, sizeof bars);
  int k = choice_index(choices, v);
  if (k >= 0) l->file.flag[i] = k;
  else warn_at(l, node, "%s is not %s", name, choices_text(choices, list, sizeof list));
  free(v);
}

/* One `attributes:` entry: a scalar value becomes a string attribute. */
static void read_attribute(loader *l, const char *key, size_t key_len, cfgfile_node value,
                           void *ctx) {
  const char *prefix = ctx;
  if (cfgfile_is_null(value)) return;
  char buf[64];
  const char *s;
  size_t n;
  if (!cfgfile_scalar(value, buf, &s, &n) || memchr(s, '\0', n) || memchr(key, '\0', key_len)) {
    warn_at(l, value, "%sattributes.%.*s is not a string", prefix, (int)key_len, key);
    return;
  }
  char what[600];
  snprintf(what, sizeof what, "config %s: %sattributes", l->path, prefix);
  pairs_set(l, &l->file.attributes, key, key_len, s, n, false, what);
}

static void read_attributes(loader *l, cfgfile_node node, const char *prefix) {
  if (!cfgfile_exists(node) || cfgfile_is_null(node)) return;
  if (!cfgfile_is_map(node)) {
    warn_at(l, node, "%sattributes is not a mapping", prefix);
    return;
  }
  fn_each(l, node, read_attribute, (void *)prefix);
}

/* One harnesses.opencode.headers entry (sent to an OTLP target; values are secrets). */
static void read_header(loader *l, const char *key, size_t key_len, cfgfile_node value, void *ctx) {
  (void)ctx;
  if (cfgfile_is_null(value)) return;
  char buf[64];
  const char *s;
  size_t n;
  if (!is_header_name(key, key_len)) {
    warn_at(l, value, "harnesses.opencode.headers has a name that is not a header name");
    return;
  }
  if (!cfgfile_scalar(value, buf, &s, &n)) {
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
  snprintf(what, sizeof what, "config %s: harnesses.opencode.headers", l->path);
  pairs_set(l, &l->file.headers, key, key_len, s, n, true, what);
}

/* ---- sequences ---- */

/* A text of a sequence entry (a scalar that is a string, without control characters but
 * tabs), as a malloc'd copy; NULL (with a warning naming the entry) when it is not one. */
static char *seq_text(loader *l, cfgfile_node node, const char *name, size_t k) {
  char buf[64];
  const char *s;
  size_t n;
  if (!cfgfile_exists(node) || !cfgfile_scalar(node, buf, &s, &n) || memchr(s, '\0', n)) {
    warn_at(l, node, "%s[%zu] is not a text, ignored", name, k);
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
      warn_at(l, node, "%s[%zu] contains a control character, ignored", name, k);
      return NULL;
    }
  char *d = strndup(s, n);
  if (!d) l->oom = true;
  return d;
}

/* One entry of a redact list, checked: a pattern the matcher accepts (redact.h), a kind name, a
 * value long enough. Warnings name the key and the entry's position, never its text (a value to
 * redact is a secret; a pattern may hold one). */
static void read_seq_entry(loader *l, int i, cfgfile_node item, const char *name, size_t k) {
  char *text = NULL, *kind = NULL;
  if (i == S_REDACT_PATTERNS && cfgfile_is_map(item)) {
    text = seq_text(l, cfgfile_get(item, "pattern"), name, k);
    cfgfile_node kn = cfgfile_get(item, "kind");
    if (text && cfgfile_exists(kn) && !cfgfile_is_null(kn)) {
      char label[160];
      snprintf(label, sizeof label, "%s[%zu].kind", name, k);
      read_string(l, kn, label, &kind);
      if (kind && !redact_kind_ok(kind)) {
        warn_at(l, kn,
                "%s is not a kind name (1 to 40 of a-z, 0-9 and -, first a letter); "
                "using user-rule",
                label);
        free(kind);
        kind = NULL;
      }
    }
  } else {
    text = seq_text(l, item, name, k);
  }
  char why[128];
  if (!text) {
  } else if (i == S_REDACT_VALUES && strlen(text) < REDACT_MIN_VALUE) {
    warn_at(l, item,
            "%s[%zu] is shorter than %d characters (it would redact ordinary text), "
            "ignored",
            name, k, REDACT_MIN_VALUE);
  } else if (i != S_REDACT_VALUES && redact_pattern_check(text, why, sizeof why) != 0) {
    warn_at(l, item, "%s[%zu] is not a usable pattern: %s; ignored", name, k, why);
  } else if (l->file.seq[i].len >= CONFIG_MAX_PAIRS) {
    warn_at(l, item, "%s: more than %d entries, the rest ignored", name, CONFIG_MAX_PAIRS);
  } else {
    config_pairs *p = &l->file.seq[i];
    char **names = realloc(p->names, (p->len + 1) * sizeof *names);
    if (names) p->names = names;
    char **values = names ? realloc(p->values, (p->len + 1) * sizeof *values) : NULL;
    if (values) p->values = values;
    char *kd = strdup(kind ? kind : "");
    if (!names || !values || !kd) {
      free(kd);
      l->oom = true;
    } else {
      p->names[p->len] = text, p->values[p->len++] = kd;
      text = NULL;
    }
  }
  free(text);
  free(kind);
}

static void read_sequence(loader *l, cfgfile_node node, const char *name, int i) {
  if (!cfgfile_exists(node) || cfgfile_is_null(node)) return;
  if (!cfgfile_is_seq(node)) {
    warn_at(l, node, "%s is not a list", name);
    return;
  }
  for (size_t k = 0; k < cfgfile_seq_len(node) && !l->oom; k++)
    read_seq_entry(l, i, cfgfile_seq_item(node, k), name, k);
}

/* A destination's name: 1 to 40 of letters, digits, '.', '_' and '-' (it names a file). */
static bool destination_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 40) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i])) return false;
  return true;
}

static const char *const destination_keys[] = {"name",     "target",  "endpoint",     "api_key",
                                               "space_id", "headers", "project_name", "region"};

static void check_destination_key(loader *l, const char *key, size_t key_len, cfgfile_node value,
                                  void *ctx) {
  const char *name = ctx;
  for (size_t i = 0; i < sizeof destination_keys / sizeof *destination_keys; i++)
    if (strlen(destination_keys[i]) == key_len && !strncmp(destination_keys[i], key, key_len))
      return;
  warn_at(l, value,
          "%s: `%.*s` is not a destination key (name, target, endpoint, api_key, "
          "space_id, headers, project_name, region), ignored",
          name, (int)key_len, key);
}

/* harnesses.opencode.destinations: a list of mappings. An entry without a usable name, with a
 * name already used (or "default", the single-backend settings' own), or past
 * CONFIG_MAX_DESTINATIONS - 1 entries is left out with a warning naming it (never a value). */
static void read_destinations(loader *l, cfgfile_node node, const char *name) {
  if (!cfgfile_exists(node) || cfgfile_is_null(node)) return;
  if (!cfgfile_is_seq(node)) {
    warn_at(l, node, "%s is not a list", name);
    return;
  }
  for (size_t k = 0; k < cfgfile_seq_len(node) && !l->oom; k++) {
    cfgfile_node item = cfgfile_seq_item(node, k);
    char label[160];
    snprintf(label, sizeof label, "%s[%zu]", name, k);
    if (!cfgfile_is_map(item)) {
      warn_at(l, item, "%s is not a mapping (name, target, endpoint, ...), ignored", label);
      continue;
    }
    fn_each(l, item, check_destination_key, label);
    file_destination d = {.from_project = l->project_pass};
    char key[200];
    snprintf(key, sizeof key, "%s.name", label);
    read_string(l, cfgfile_get(item, "name"), key, &d.name);
    if (!d.name || !destination_name_ok(d.name) || !strcmp(d.name, CONFIG_FIRST_DESTINATION)) {
      warn_at(l, item,
              "%s needs a name of 1 to 40 letters, digits, '.', '_' or '-' (not \"%s\"), "
              "ignored",
              label, CONFIG_FIRST_DESTINATION);
      file_destination_free(&d);
      continue;
    }
    bool taken = false;
    for (size_t i = 0; i < l->file.n_dests; i++)
      taken = taken || !strcmp(l->file.dests[i].name, d.name);
    if (taken) {
      warn_at(l, item, "%s: the name %s is used twice; the first one is kept", label, d.name);
      file_destination_free(&d);
      continue;
    }
    if (l->file.n_dests >= CONFIG_MAX_DESTINATIONS - 1) {
      warn_at(l, item,
              "%s: at most %d destinations (the first one included); %s and the rest "
              "ignored",
              label, CONFIG_MAX_DESTINATIONS, d.name);
      file_destination_free(&d);
      break;
    }
    cfgfile_node t = cfgfile_get(item, "target");
    if (cfgfile_exists(t) && !cfgfile_is_null(t)) {
      char *text = NULL;
      snprintf(key, sizeof key, "%s.target", label);
      read_string(l, t, key, &text);
      char bars[80], list[80];
      const char *choices = setting_choices(S_TARGET, bars, sizeof bars);
      int choice = text ? choice_index(choices, text) : -1;
      if (text && choice < 0)
        warn_at(l, t, "%s is not %s, ignored", key, choices_text(choices, list, sizeof list));
      d.target = choice + 1;
      free(text);
    }
    static const struct {
      const char *key;
      size_t offset;
    } strings[] = {{"endpoint", offsetof(file_destination, endpoint)},
                   {"api_key", offsetof(file_destination, api_key)},
                   {"space_id", offsetof(file_destination, space_id)},
                   {"project_name", offsetof(file_destination, project_name)},
                   {"region", offsetof(file_destination, region)}};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
      snprintf(key, sizeof key, "%s.%s", label, strings[i].key);
      read_string(l, cfgfile_get(item, strings[i].key), key,
                  (char **)((char *)&d + strings[i].offset));
    }
    cfgfile_node h = cfgfile_get(item, "headers");
    if (cfgfile_is_map(h)) { /* read_header fills l->file.headers: lend it this entry's */
      config_pairs own = l->file.headers;
      l->file.headers = (config_pairs){0};
      fn_each(l, h, read_header, NULL);
      d.headers = l->file.headers;
      l->file.headers = own;
    } else if (cfgfile_exists(h) && !cfgfile_is_null(h)) {
      warn_at(l, h, "%s.headers is not a mapping", label);
    }
    l->file.dests[l->file.n_dests++] = d;
  }
}

/* Reads setting i from below parent (the root, or harnesses.opencode with prefix
 * "harnesses.opencode."). */
static void read_setting(loader *l, cfgfile_node parent, const char *prefix, int i) {
  const struct setting *st = &settings[i];
  cfgfile_node node = cfgfile_at(parent, st->key);
  char name[128];
  snprintf(name, sizeof name, "%s%s", prefix, st->key);
  if ((!cfgfile_exists(node) || cfgfile_is_null(node)) && st->old_key) {
    /* the older name sits beside the key, in the same mapping */
    const char *dot = strrchr(st->key, '.');
    int dir = dot ? (int)(dot - st->key) : 0;
    char old[96];
    snprintf(old, sizeof old, "%.*s%s%s", dir, st->key, dot ? "." : "", st->old_key);
    node = cfgfile_at(parent, old);
    snprintf(name, sizeof name, "%s%s", prefix, old);
  }
  switch (st->type) {
  case ST_STRING: read_string(l, node, name, &l->file.str[i]); break;
  case ST_NUMBER: read_number(l, node, name, i); break;
  case ST_FLAG: read_bool(l, node, name, &l->file.flag[i]); break;
  case ST_CHOICE: read_choice(l, node, name, i); break;
  case ST_MAP:
    if (i == S_ATTRIBUTES) {
      read_attributes(l, node, prefix);
    } else if (cfgfile_is_map(node)) {
      fn_each(l, node, read_header, NULL);
    } else if (cfgfile_exists(node) && !cfgfile_is_null(node)) {
      warn_at(l, node, "%s is not a mapping", name);
    }
    break;
  case ST_SEQUENCE:
    if (i == S_DESTINATIONS) read_destinations(l, node, name);
    else read_sequence(l, node, name, i);
    break;
  case ST_SWITCH:
  case ST_LIST: break; /* environment only */
  }
}

/* ---- unknown keys (named by cfgfile's speller, from the table's keys) ----
 *
 * Every mapping this harness owns is checked against the keys the settings table names. The
 * user's file is shared with other harnesses, so at the top level and under `harnesses` only a
 * key close to one of ours is named. */

_Static_assert(4 * S_COUNT <= CFGFILE_KEYS_MAX, "cfgfile.h: CFGFILE_KEYS_MAX too small");
typedef cfgfile_keys key_paths;
#define add_path cfgfile_keys_add

/* Every full file key of the table (older names too), in reading order: the harness block's,
 * the top level's, the shared sections at the top level, then under harnesses.opencode. */
static void all_paths(key_paths *kp) {
  kp->n = 0;
  static const struct {
    setting_scope scope;
    const char *prefix;
  } passes[] = {{AT_HARNESS, "harnesses.opencode."},
                {AT_TOP, ""},
                {AT_BOTH, ""},
                {AT_BOTH, "harnesses.opencode."}};
  for (size_t p = 0; p < sizeof passes / sizeof *passes; p++)
    for (int i = 0; i < S_COUNT; i++) {
      if (settings[i].scope != passes[p].scope) continue;
      add_path(kp, passes[p].prefix, settings[i].key, NULL);
      if (settings[i].old_key) add_path(kp, passes[p].prefix, settings[i].key, settings[i].old_key);
    }
}

/* A project file's keys: those of the settings a project may set, at its top level. */
static void project_paths(key_paths *kp) {
  kp->n = 0;
  for (int i = 0; i < S_COUNT; i++)
    if (settings[i].project != P_NO) add_path(kp, "", settings[i].key, NULL);
}

static void check_unknown_keys(loader *l, cfgfile_node root) {
  key_paths *kp = malloc(sizeof *kp);
  if (!kp) {
    l->oom = true;
    return;
  }
  if (l->project_pass) project_paths(kp);
  else all_paths(kp);
  static const char *const shared[] = {"", "harnesses.", NULL};
  free(l->c->unknown_keys);
  l->c->unknown_keys = cfgfile_unknown_keys(
      root, kp, l->path, l->project_pass ? NULL : shared,
      l->project_pass ? "not a setting a project file may hold (the user's file may)"
                      : "not a known key",
      &l->oom);
  free(kp);
}

/* Only harnesses.opencode and a few top-level keys are ours; the same file configures
 * other harnesses (claude-code, ...), so everything else is ignored without a word. The
 * table's order is the reading order: the harness block, the top level, the shared
 * sections at the top level, then under harnesses.opencode (which wins). */
static void read_document(loader *l, cfgfile_node root) {
  if (!cfgfile_exists(root) || cfgfile_is_null(root)) return; /* empty file or only comments */
  if (!cfgfile_is_map(root)) {
    *l->broken = true;
    warn_at(l, root, "top level is not a mapping");
    return;
  }
  if (l->project_pass) { /* a project file: flat, and only what a project may set */
    for (int i = 0; i < S_COUNT; i++)
      if (settings[i].project != P_NO) read_setting(l, root, "", i);
    check_unknown_keys(l, root);
    return;
  }
  cfgfile_node oc = cfgfile_get(cfgfile_get(root, "harnesses"), "opencode");
  if (cfgfile_exists(oc) && !cfgfile_is_map(oc) && !cfgfile_is_null(oc))
    warn_at(l, oc, "harnesses.opencode is not a mapping");
  for (int i = 0; i < S_COUNT; i++)
    if (settings[i].scope == AT_HARNESS) read_setting(l, oc, "harnesses.opencode.", i);
  for (int i = 0; i < S_COUNT; i++)
    if (settings[i].scope == AT_TOP) read_setting(l, root, "", i);
  for (int i = 0; i < S_COUNT; i++)
    if (settings[i].scope == AT_BOTH) read_setting(l, root, "", i);
  for (int i = 0; i < S_COUNT; i++)
    if (settings[i].scope == AT_BOTH) read_setting(l, oc, "harnesses.opencode.", i);
  check_unknown_keys(l, root);
}

/* A key in a file other users may read is a leak waiting to happen: say so before any
 * other problem with the file (the warning then carries both). */
static void warn_if_readable_by_others(loader *l) {
  bool holds_secret = l->file.headers.len > 0;
  for (int i = 0; i < S_COUNT; i++)
    holds_secret |= settings[i].secret && (l->file.str[i] || l->file.seq[i].len);
  if (!(l->file_mode & 077) || !holds_secret) return; /* group or others may read or write */
  char *other = *l->warning;
  *l->warning = NULL;
  warn(l, "config %s: other users can read it (mode %03o) and it holds a key: chmod 600 %s%s%s",
       l->path, (unsigned)(l->file_mode & 0777), l->path, other ? "; and " : "",
       other ? other : "");
  if (*l->warning) free(other);
  else *l->warning = other;
}

static void parse_file(loader *l) {
  cfgfile_status st;
  cfgfile *f = cfgfile_read(l->path, &st);
  if (!l->project_pass) l->c->config_mtime = st.mtime;
  if (st.out_of_memory) l->oom = true;
  if (st.problem) broken(l, "%s", st.problem);
  l->file_mode = st.mode;
  if (f) read_document(l, cfgfile_root(f));
  cfgfile_free(f);
  free(st.problem);
  warn_if_readable_by_others(l); /* (mode 0 when nothing was read) */
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
static bool resolve_flag(loader *l, const char *env_name, int file_value, bool def) {
  const char *v = env_get(l->envp, env_name);
  bool b;
  if (v) return parse_bool(v, &b) ? b : def;
  return file_value < 0 ? def : file_value != 0;
}

static bool env_true(loader *l, const char *name) {
  const char *v = env_get(l->envp, name);
  return v && (is_word(v, "true") || is_word(v, "1"));
}

/* Numeric setting i: the environment (refused with a warning when not a number in its
 * bounds), else the file, else the default. */
static long resolve_number(loader *l, int i) {
  const struct setting *st = &settings[i];
  for (size_t k = 0; k < SETTING_MAX_ENV; k++) {
    const char *v = st->env[k] ? env_get(l->envp, st->env[k]) : NULL;
    long n;
    if (!v) continue;
    if (parse_long(v, st->min, st->max, &n)) return n;
    warn(l, "environment: %s is not a whole number from %ld to %ld, ignored", st->env[k], st->min,
         st->max);
  }
  return l->file.has_num[i] ? l->file.num[i] : st->def;
}

/* n * unit, saturated: a size past what size_t holds means "no limit". */
static size_t scaled(long n, long unit) {
  return (unsigned long long)n > SIZE_MAX / (size_t)unit ? SIZE_MAX : (size_t)n * (size_t)unit;
}

/* Every setting that has a field and no rule of its own: the environment, else the file,
 * else the default, into the field. */
static void resolve_table(loader *l) {
  for (int i = 0; i < S_COUNT && !l->oom; i++) {
    const struct setting *st = &settings[i];
    if (st->field == F_NONE || st->field == F_BACKEND) continue;
    void *field = (char *)l->c + st->offset;
    switch (st->type) {
    case ST_STRING: {
      const char *v = NULL;
      for (size_t k = 0; k < SETTING_MAX_ENV && !v && st->env[k]; k++) v = env_clean(l, st->env[k]);
      char *s = dup_str(l, either(v, l->file.str[i]));
      if (!s && st->def_text && !l->oom) s = dup_str(l, st->def_text);
      *(char **)field = s;
      break;
    }
    case ST_FLAG:
      *(bool *)field = resolve_flag(l, st->env[0], l->file.flag[i], st->def != 0);
      break;
    case ST_SWITCH: *(bool *)field = env_true(l, st->env[0]); break;
    case ST_NUMBER: {
      long n = resolve_number(l, i);
      if (st->field == F_SIZE) *(size_t *)field = scaled(n, st->unit);
      else *(long *)field = n * st->unit;
      break;
    }
    default: break;
    }
  }
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
    if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2])) {
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
    bool ok =
        eq && klen > 0 && percent_decode(l, key, klen, &dk) && percent_decode(l, value, vlen, &dv);
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

/* Choice setting i: the index of the environment's choice (one that is not a choice is refused
 * with a warning), else the file's, else 0 (the first choice is the default). */
static int resolve_choice(loader *l, int i) {
  const struct setting *st = &settings[i];
  int out = l->file.flag[i] >= 0 ? l->file.flag[i] : 0;
  for (size_t k = 0; k < SETTING_MAX_ENV; k++) {
    const char *v = st->env[k] ? env_get(l->envp, st->env[k]) : NULL;
    if (!v) continue;
    char bars[80], list[80];
    const char *choices = setting_choices(i, bars, sizeof bars);
    int choice = choice_index(choices, v);
    if (choice >= 0) return choice;
    warn(l, "environment: %s is not %s, ignored", st->env[k],
         choices_text(choices, list, sizeof list));
  }
  return out;
}

static void resolve_export(loader *l) {
  config *c = l->c;
  if (c->export.retry_max_ms < c->export.retry_initial_ms) {
    warn(l, "%s (%s) is below %s (%s); using the initial delay for both", ENV(S_RETRY_MAX_MS),
         settings[S_RETRY_MAX_MS].key, ENV(S_RETRY_INITIAL_MS), settings[S_RETRY_INITIAL_MS].key);
    c->export.retry_max_ms = c->export.retry_initial_ms;
  }
  c->export.gzip = resolve_choice(l, S_COMPRESSION) == 0;                     /* "gzip|none" */
  c->attrs.child_session_ids = resolve_choice(l, S_SUBAGENT_SESSION_ID) == 1; /* "root|child" */
}

static void resolve_openinference(loader *l) {
  config *c = l->c;
  parse_otel_list(l, ENV(S_RESOURCE_ATTRIBUTES), &c->resource_attributes, false);
  /* OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (the OTel spec);
   * service_name is then the only place it is kept. */
  const char *svc = env_clean(l, ENV(S_SERVICE_NAME));
  c->service_name = dup_str(l, either(svc, pairs_get(&c->resource_attributes, "service.name")));
  if (!c->service_name && !l->oom) c->service_name = dup_str(l, settings[S_SERVICE_NAME].def_text);
  pairs_remove(&c->resource_attributes, "service.name");

  /* The file's list moves over whole. */
  c->span_attributes = l->file.attributes;
  memset(&l->file.attributes, 0, sizeof l->file.attributes);
}

/* The redaction rules: the built-in detectors unless redact.secrets / ARIZE_REDACT_SECRETS is
 * false, and the lists read (already checked). */
static void resolve_redaction(loader *l) {
  config *c = l->c;
  const config_pairs *p = &l->file.seq[S_REDACT_PATTERNS], *v = &l->file.seq[S_REDACT_VALUES],
                     *a = &l->file.seq[S_REDACT_ALLOW];
  const char **kinds = calloc(p->len ? p->len : 1, sizeof *kinds);
  if (!kinds) {
    l->oom = true;
    return;
  }
  for (size_t k = 0; k < p->len; k++) kinds[k] = *p->values[k] ? p->values[k] : NULL;
  redact_config rc = {.builtin = c->redact_secrets,
                      .patterns = (const char *const *)p->names,
                      .kinds = kinds,
                      .n_patterns = p->len,
                      .values = (const char *const *)v->names,
                      .n_values = v->len,
                      .allow = (const char *const *)a->names,
                      .n_allow = a->len};
  c->redact = redact_new(&rc);
  free(kinds);
  if (!c->redact) l->oom = true;
  c->redact_patterns = p->len, c->redact_values = v->len, c->redact_allow = a->len;
}

static void resolve_settings(loader *l) {
  config *c = l->c;
  /* anything but "false" is on: a typo must not switch tracing off */
  const char *enabled = env_get(l->envp, ENV(S_ENABLED));
  c->enabled = !(enabled && is_word(enabled, "false"));

  resolve_table(l);

  const char *log_file = env_get(l->envp, ENV(S_LOG_FILE));
  c->log_file = log_file ? dup_str(l, log_file)
                         : text_printf(&l->oom,
                                       "%s" PLATFORM_SEP ".arize" PLATFORM_SEP
                                       "harness" PLATFORM_SEP "logs" PLATFORM_SEP "opencode.log",
                                       c->home);
  c->state_dir = text_printf(&l->oom,
                             "%s" PLATFORM_SEP ".arize" PLATFORM_SEP "harness" PLATFORM_SEP
                             "state" PLATFORM_SEP "opencode",
                             c->home);
  c->spool_dir = text_printf(&l->oom,
                             "%s" PLATFORM_SEP ".arize" PLATFORM_SEP "harness" PLATFORM_SEP
                             "spool" PLATFORM_SEP "opencode",
                             c->home);

  if (!l->oom) resolve_export(l);
  if (!l->oom) resolve_openinference(l);
  if (!l->oom) resolve_redaction(l);
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

/* Why an endpoint cannot be sent to (NULL: it can): another scheme ("ftp://"), or a "://"
 * after something that is no scheme ("ht!tp://", which would otherwise get a scheme put in
 * front and fail in every request). A bare "host:port" is fine (it gets the backend's). */
static const char *endpoint_problem(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  if (has_scheme(s)) return is_http_url(s) ? NULL : "is not an http:// or https:// URL";
  return strstr(s, "://") ? "has no scheme this can send to (http:// or https://)" : NULL;
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
  return text_printf(&l->oom, "%s%.*s%s", has_scheme(base) ? "" : default_scheme, (int)n, base,
                     has_path ? "" : TRACES_PATH);
}

/* Appends the header "name: value" (value[0..vlen)) and whether it is a secret. */
static void add_header(loader *l, const char *name, const char *prefix, const char *value,
                       size_t vlen, bool secret) {
  config *c = l->c;
  char **h = realloc(c->headers, (c->n_headers + 1) * sizeof *h);
  if (h) c->headers = h;
  bool *sec = realloc(c->header_secret, (c->n_headers + 1) * sizeof *sec);
  if (sec) c->header_secret = sec;
  char *line = h && sec ? text_printf(&l->oom, "%s: %s%.*s", name, prefix, (int)vlen, value) : NULL;
  if (!line) {
    l->oom = true;
    return;
  }
  c->headers[c->n_headers] = line;
  c->header_secret[c->n_headers++] = secret;
}

/* A setting's resolved value (a string field of config): NULL when unset or not one. */
static const char *resolved_string(const config *c, int setting) {
  const struct setting *st = &settings[setting];
  if (st->field != F_STR && st->field != F_BACKEND) return NULL;
  return *(char *const *)((const char *)c + st->offset);
}

/* Whether the file's backend settings are for b: its target names b, or it names none and b is
 * the one its credentials pick. */
static bool file_is_for(const loader *l, const backend *b) {
  const backend *named = backend_of((config_target)(l->file.flag[S_TARGET] + 1));
  return named ? named == b : b->pick == BACKEND_PICK_CREDENTIALS;
}

/* The config field a backend's variable fills (api_key, space_id, phoenix_api_key), or NULL. */
static char **credential_field(config *c, const backend_setting *a) {
  int env = setting_of_env(a->env);
  if (env == S_COUNT || settings[env].field != F_BACKEND) return NULL;
  return (char **)((char *)c + settings[env].offset);
}

/* The value of setting `key` for backend b (NULL: unset): the field its variable fills (or its
 * variable, when it fills none), else the file's when the file is for b or no other backend
 * reads the key; the other settings' own (project_name). */
static const char *backend_value(loader *l, const backend *b, const char *key) {
  const backend_setting *a = backend_ask(b, key);
  if (!a) return resolved_string(l->c, setting_of_key(key));
  char **field = credential_field(l->c, a);
  if (field) return *field;
  if (l->no_user_credentials) return NULL;
  const char *env = a->env ? env_clean(l, a->env) : NULL;
  size_t n = env ? strlen(env) : 0;
  if (env) trim(&env, &n);
  if (n) return env; /* use_backend cuts what trails */
  if (!file_is_for(l, b) && backend_others_read(b, key)) return NULL;
  int i = setting_of_key(key);
  return i < S_COUNT ? l->file.str[i] : NULL;
}

/* The credentials each backend reads from its variables (or the file when it is for that
 * backend), into their config fields. */
static void resolve_credentials(loader *l) {
  for (size_t i = 0; i < backend_count() && !l->oom; i++) {
    const backend *b = backend_at(i);
    for (const backend_setting *a = b->asks; a->key; a++) {
      char **field = credential_field(l->c, a);
      int k = setting_of_key(a->key);
      if (!field || *field || k == S_COUNT) continue;
      const char *file = l->file.str[k];
      if (!file_is_for(l, b) && backend_others_read(b, a->key)) file = NULL;
      *field = dup_str(l, either(env_clean(l, a->env), file));
    }
  }
}

/* Whether every credential b requires is known (and it requires one). */
static bool has_credentials(loader *l, const backend *b) {
  bool any = false;
  for (const backend_setting *a = b->asks; a->key; a++) {
    if (!a->required || !strcmp(a->key, "endpoint")) continue;
    if (!backend_value(l, b, a->key)) return false;
    any = true;
  }
  return any;
}

/* The region's endpoint of ARIZE_REGION or harnesses.opencode.region (the first region's when
 * neither is set, or the name is unknown: then with a warning). */
static const char *region_endpoint(loader *l, const backend *b) {
  const char *env = env_get(l->envp, ENV(S_REGION));
  const char *name = either(env, l->file.str[S_REGION]);
  if (!name) return b->regions[0].endpoint;
  char bars[64] = "", list[64];
  for (size_t i = 0; b->regions[i].name; i++) {
    if (is_word(name, b->regions[i].name) || is_word(name, b->regions[i].long_name))
      return b->regions[i].endpoint;
    snprintf(bars + strlen(bars), sizeof bars - strlen(bars), "%s%s", i ? "|" : "",
             b->regions[i].name);
  }
  choices_text(bars, list, sizeof list);
  if (env) warn(l, "environment: %s is not %s; using the US endpoint", ENV(S_REGION), list);
  else
    warn(l, "config %s: harnesses.opencode.%s is not %s; using the US endpoint", l->c->config_path,
         settings[S_REGION].key, list);
  return b->regions[0].endpoint;
}

/* The standard OTLP exporter variables: the signal-specific endpoint is used as given,
 * the generic one gets "/v1/traces" (OTel spec). NULL when neither is a usable URL. */
static char *otel_env_endpoint(loader *l) {
  const char *traces = env_clean(l, ENV(S_OTLP_TRACES_ENDPOINT));
  if (traces && !is_http_url(traces)) {
    warn(l, "environment: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not an http(s) URL, ignored");
    traces = NULL;
  }
  if (traces) return dup_str(l, traces);
  const char *base = env_clean(l, ENV(S_OTLP_ENDPOINT));
  if (base && !is_http_url(base)) {
    warn(l, "environment: OTEL_EXPORTER_OTLP_ENDPOINT is not an http(s) URL, ignored");
    base = NULL;
  }
  if (!base) return NULL;
  while (isspace((unsigned char)*base)) base++;
  size_t n = strlen(base);
  while (n > 0 && (base[n - 1] == '/' || isspace((unsigned char)base[n - 1]))) n--;
  return text_printf(&l->oom, "%.*s%s", (int)n, base, TRACES_PATH);
}

/* Whether b's endpoint variable is OTel's (read by the OTel rule, with the traces one). */
static bool is_otel(const backend *b) {
  return b->endpoint_env && !strcmp(b->endpoint_env, ENV(S_OTLP_ENDPOINT));
}

/* The traces URL b's endpoint variable names (owned), or NULL. */
static char *env_endpoint(loader *l, const backend *b) {
  if (is_otel(b)) return otel_env_endpoint(l);
  const char *base = b->endpoint_env ? env_clean(l, b->endpoint_env) : NULL;
  const char *problem = base ? endpoint_problem(base) : NULL;
  if (problem) warn(l, "environment: %s %s, ignored", b->endpoint_env, problem);
  return base && !problem ? traces_url(l, base, b->default_scheme) : NULL;
}

/* The file's endpoint as b's traces URL (owned), or NULL. */
static char *file_endpoint(loader *l, const backend *b) {
  const char *base = l->file.str[S_ENDPOINT];
  const char *problem = base ? endpoint_problem(base) : NULL;
  if (problem)
    warn(l, "config %s: harnesses.opencode.%s %s, ignored", l->c->config_path,
         settings[S_ENDPOINT].key, problem);
  return base && !problem ? traces_url(l, base, b->default_scheme) : NULL;
}

/* Backend b with its endpoint (owned; NULL: its region's) and its headers from its row, then
 * the user's when it takes them: the file's, then OTEL_EXPORTER_OTLP_HEADERS, then
 * OTEL_EXPORTER_OTLP_TRACES_HEADERS (a later one wins on the same name). */
static void use_backend(loader *l, const backend *b, char *endpoint) {
  config *c = l->c;
  c->target = target_of(b);
  /* a region names the endpoint (a wrong one is said even when an endpoint is given) */
  const char *regional = b->regions ? region_endpoint(l, b) : NULL;
  c->endpoint = endpoint ? endpoint : dup_str(l, regional);
  for (const backend_header *h = b->headers; h->name && !l->oom; h++) {
    const char *v = h->from ? backend_value(l, b, h->from) : "";
    size_t n = v ? strlen(v) : 0;
    if (v) trim(&v, &n);
    if (v) add_header(l, h->name, h->prefix, v, n, h->secret);
  }
  if (!b->user_headers) return;
  config_pairs u = l->file.headers;
  memset(&l->file.headers, 0, sizeof l->file.headers);
  if (l->no_user_credentials) pairs_free(&u); /* the project named the endpoint */
  /* the generic variable first, so the specific one wins */
  if (!l->no_user_credentials) {
    parse_otel_list(l, settings[S_HEADERS].env[1], &u, true);
    parse_otel_list(l, settings[S_HEADERS].env[0], &u, true);
  }
  for (size_t i = 0; i < u.len && !l->oom; i++)
    add_header(l, u.names[i], "", u.values[i], strlen(u.values[i]), settings[S_HEADERS].secret);
  pairs_free(&u);
}

/* "A and B (Arize AX), C (Phoenix) or D (any OTLP backend)": the variables that pick each
 * backend, into buf. */
static const char *picking_variables(char *buf, size_t cap) {
  size_t o = 0, n = 0, total = 0;
  for (size_t i = 0; i < backend_count(); i++) total += backend_at(i)->pick != BACKEND_PICK_TARGET;
  buf[0] = '\0';
  for (size_t i = 0; i < backend_count() && o < cap; i++) {
    const backend *b = backend_at(i);
    if (b->pick == BACKEND_PICK_TARGET) continue;
    const char *sep = !n++ ? "" : n == total ? " or " : ", ";
    o += (size_t)snprintf(buf + o, cap - o, "%s", sep);
    bool first = true;
    if (b->pick == BACKEND_PICK_CREDENTIALS)
      for (const backend_setting *a = b->asks; a->key && o < cap; a++)
        if (a->required && a->env && strcmp(a->key, "endpoint")) {
          o += (size_t)snprintf(buf + o, cap - o, "%s%s", first ? "" : " and ", a->env);
          first = false;
        }
    if (b->pick != BACKEND_PICK_CREDENTIALS && b->endpoint_env && o < cap)
      o += (size_t)snprintf(buf + o, cap - o, "%s", b->endpoint_env);
    if (o < cap)
      o += (size_t)snprintf(buf + o, cap - o, " (%s%s)", b->one ? "any" : b->display,
                            b->one ? strchr(b->one, ' ') : "");
  }
  return buf;
}

/* "no backend configured: target arize needs the Arize API key and the Arize space id: set
 * ARIZE_API_KEY and ARIZE_SPACE_ID or add harnesses.opencode.api_key and
 * harnesses.opencode.space_id to <path>": every required credential of b, by name. */
static char *explain_credentials(loader *l, const backend *b, const char *path) {
  char whats[256] = "", envs[256] = "", keys[256] = "";
  size_t n = 0, total = 0;
  for (const backend_setting *a = b->asks; a->key; a++)
    total += a->required && strcmp(a->key, "endpoint") != 0;
  for (const backend_setting *a = b->asks; a->key; a++) {
    if (!a->required || !strcmp(a->key, "endpoint")) continue;
    const char *sep = n == 0 ? "" : n + 1 == total ? " and " : ", ";
    n++;
    snprintf(whats + strlen(whats), sizeof whats - strlen(whats), "%sthe %s", sep, a->what);
    snprintf(envs + strlen(envs), sizeof envs - strlen(envs), "%s%s", sep,
             a->env ? a->env : a->key);
    snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%sharnesses.opencode.%s", sep,
             a->key);
  }
  return text_printf(&l->oom, "no backend configured: target %s needs %s: set %s or add %s to %s",
                     b->name, whats, envs, keys, path);
}

/* why_not_sending when no backend could be chosen: say what is missing and where to put
 * it. Names only, never values. */
static char *explain_none(loader *l) {
  const char *path = l->c->config_path;
  const backend *named = backend_of((config_target)(l->file.flag[S_TARGET] + 1));
  char vars[256];
  picking_variables(vars, sizeof vars);
  /* a broken file is what to fix first: whatever it names is not read */
  if (l->c->file_broken && l->c->warning)
    return text_printf(
        &l->oom, "the config file is broken, so nothing in it is used (%s): fix it, or set %s",
        l->c->warning, vars);
  /* what is missing: a setting, named by its variable and its file key */
  if (named && !named->regions) {
    const backend_setting *a = backend_ask(named, "endpoint");
    const char *env_of = a && a->env ? a->env : named->endpoint_env;
    if (!env_of)
      return text_printf(&l->oom,
                         "no backend configured: target %s needs an endpoint: add "
                         "harnesses.opencode.%s to %s",
                         named->name, settings[S_ENDPOINT].key, path);
    return text_printf(&l->oom,
                       "no backend configured: target %s needs an endpoint: set %s or add "
                       "harnesses.opencode.%s to %s",
                       named->name, env_of, settings[S_ENDPOINT].key, path);
  }
  /* some of the credentials of the backend they pick, not all */
  for (size_t i = 0; i < backend_count(); i++) {
    const backend *b = backend_at(i);
    const backend_setting *missing = NULL;
    bool known = false;
    if ((named && named != b) || b->pick != BACKEND_PICK_CREDENTIALS) continue;
    for (const backend_setting *a = b->asks; a->key; a++) {
      if (!a->required || !strcmp(a->key, "endpoint")) continue;
      if (backend_value(l, b, a->key)) known = true;
      else if (!missing) missing = a;
    }
    if (known && missing)
      return text_printf(&l->oom,
                         "no backend configured: the %s is missing: set %s or add "
                         "harnesses.opencode.%s to %s",
                         missing->what, missing->env ? missing->env : "it", missing->key, path);
    if (named == b && missing) /* the target they named, with none of its credentials */
      return explain_credentials(l, b, path);
  }
  return text_printf(&l->oom, "no backend configured: set %s, or add them to %s", vars, path);
}

/* Order: a backend whose variable wins over the file's target (Phoenix's endpoint); the
 * file's target with an endpoint (its variable's, else the file's); then a backend whose
 * credentials are all known (Arize AX); then a file endpoint without a target, which can only
 * mean the endpoint-alone backend (Phoenix); then a backend whose variable picks it last (the
 * standard OTEL_EXPORTER_OTLP_* variables); else none. The file's api_key belongs to whichever
 * backend the file is for. */
static void resolve_target(loader *l) {
  config *c = l->c;
  const file_settings *f = &l->file;
  /* the choice's index + 1 is the target: the backends' rows in order */
  const backend *named = backend_of((config_target)(f->flag[S_TARGET] + 1));
  /* a broken endpoint variable is said whichever backend is chosen (once: warn says a problem
   * once), before the credentials' */
  for (int pick = BACKEND_PICK_ENV_FIRST; pick <= BACKEND_PICK_CREDENTIALS; pick++)
    for (size_t i = 0; i < backend_count(); i++) {
      const backend *b = backend_at(i);
      if ((int)b->pick == pick && b->endpoint_env && !is_otel(b))
        (void)env_clean(l, b->endpoint_env);
    }
  if (!l->no_user_credentials) resolve_credentials(l);
  if (l->oom) return;

  const backend *use = NULL;
  char *endpoint = NULL;
  for (size_t i = 0; i < backend_count() && !use; i++)
    if (backend_at(i)->pick == BACKEND_PICK_ENV_FIRST &&
        (endpoint = env_endpoint(l, backend_at(i))))
      use = backend_at(i);
  if (!use && named && named->pick != BACKEND_PICK_CREDENTIALS) {
    endpoint = named->pick == BACKEND_PICK_ENV_FIRST ? NULL : env_endpoint(l, named);
    if (!endpoint) endpoint = file_endpoint(l, named);
    if (endpoint) use = named;
  }
  for (size_t i = 0; i < backend_count() && !use; i++) {
    const backend *b = backend_at(i);
    if (b->pick != BACKEND_PICK_CREDENTIALS || !has_credentials(l, b)) continue;
    use = b;
    endpoint = env_endpoint(l, b);
    if (!endpoint && file_is_for(l, b)) endpoint = file_endpoint(l, b);
  }
  for (size_t i = 0; i < backend_count() && !use && !named && f->str[S_ENDPOINT]; i++)
    if (backend_at(i)->endpoint_alone && (endpoint = file_endpoint(l, backend_at(i)))) {
      use = backend_at(i);
      /* the file's key is this backend's */
      for (const backend_setting *a = use->asks; a->key && !l->no_user_credentials; a++) {
        char **field = credential_field(c, a);
        int k = setting_of_key(a->key);
        if (field && !*field && k < S_COUNT) *field = dup_str(l, f->str[k]);
      }
    }
  /* a backend without regions needs an endpoint (one that was ignored leaves none) */
  if (use && !endpoint && !use->regions) use = NULL;
  for (size_t i = 0; i < backend_count() && !use; i++)
    if (backend_at(i)->pick == BACKEND_PICK_ENV_LAST && named != backend_at(i) &&
        (endpoint = env_endpoint(l, backend_at(i))))
      use = backend_at(i);

  if (use && !l->oom) use_backend(l, use, endpoint);
  else if (use) free(endpoint);
  else c->why_not_sending = explain_none(l);

  if (!c->enabled) {
    free(c->why_not_sending);
    c->why_not_sending = dup_str(l, "tracing disabled by ARIZE_TRACE_ENABLED=false");
  }
}

/* ---- further destinations ---- */

uint32_t config_destination_key(const char *name) {
  if (!strcmp(name, CONFIG_FIRST_DESTINATION)) return 0;
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  return h ? h : 1;
}

static void dest_header(loader *l, config_destination *d, const char *name, const char *prefix,
                        const char *value, bool secret) {
  char **h = realloc(d->headers, (d->n_headers + 1) * sizeof *h);
  if (h) d->headers = h;
  bool *sec = realloc(d->header_secret, (d->n_headers + 1) * sizeof *sec);
  if (sec) d->header_secret = sec;
  char *line = h && sec ? text_printf(&l->oom, "%s: %s%s", name, prefix, value) : NULL;
  if (!line) {
    l->oom = true;
    return;
  }
  d->headers[d->n_headers] = line;
  d->header_secret[d->n_headers++] = secret;
}

/* The value a backend header of a destination is built from (NULL: unset). */
static const char *dest_value(const file_destination *f, const config_destination *d,
                              const char *key) {
  if (!strcmp(key, "api_key")) return f->api_key;
  if (!strcmp(key, "space_id")) return f->space_id;
  if (!strcmp(key, "project_name")) return d ? d->project_name : NULL;
  return NULL;
}

/* Whether a destination has every credential b requires; else, with buf, "needs api_key and
 * space_id" (the keys it requires) into buf. */
static bool dest_credentials(const file_destination *f, const backend *b, char *buf, size_t cap) {
  bool all = true;
  for (const backend_setting *a = b->asks; a->key; a++)
    if (a->required && strcmp(a->key, "endpoint") && !dest_value(f, NULL, a->key)) all = false;
  if (all || !buf) return all;
  size_t o = (size_t)snprintf(buf, cap, "needs");
  for (const backend_setting *a = b->asks; a->key && o < cap; a++)
    if (a->required && strcmp(a->key, "endpoint"))
      o += (size_t)snprintf(buf + o, cap - o, "%s %s", o > 5 ? " and" : "", a->key);
  return false;
}

/* Each entry of harnesses.opencode.destinations as a backend, by the first one's rules: a
 * target (or, without one, Arize AX when it has both credentials, else Phoenix when it has an
 * endpoint), its endpoint (Arize AX: its region's when none), its headers from the backend
 * table with its own credentials. An entry that cannot send is left out with a warning. */
static void destination_free(config_destination *d) {
  free(d->name), free(d->endpoint), free(d->project_name);
  for (size_t i = 0; i < d->n_headers; i++) free(d->headers[i]);
  free(d->headers), free(d->header_secret);
  memset(d, 0, sizeof *d);
}

/* Whether two destinations would send the same spans to the same place: one endpoint, one
 * project, the same headers (credentials) in the same order. */
static bool same_sending(const char *url, const char *project, char *const *h, size_t n,
                         const config_destination *d) {
  if (!url || !d->endpoint || strcmp(url, d->endpoint) || n != d->n_headers) return false;
  if (!project != !d->project_name || (project && strcmp(project, d->project_name))) return false;
  for (size_t i = 0; i < n; i++)
    if (strcmp(h[i], d->headers[i])) return false;
  return true;
}

/* The destination before d that sends where d does (NULL: none): every span would go there
 * twice. */
static const char *sending_twin(const config *c, const config_destination *d) {
  if (c->target != CONFIG_TARGET_NONE &&
      same_sending(c->endpoint, c->project_name, c->headers, c->n_headers, d))
    return CONFIG_FIRST_DESTINATION;
  for (const config_destination *e = c->destinations; e < d; e++)
    if (same_sending(e->endpoint, e->project_name, e->headers, e->n_headers, d)) return e->name;
  return NULL;
}

static void resolve_destinations(loader *l) {
  config *c = l->c;
  for (size_t k = 0; k < l->file.n_dests && !l->oom; k++) {
    file_destination *f = &l->file.dests[k];
    const backend *b = backend_of((config_target)f->target);
    /* without a target: the backend its credentials pick, else the endpoint-alone one */
    for (size_t i = 0; !f->target && !b && i < backend_count(); i++)
      if (backend_at(i)->pick == BACKEND_PICK_CREDENTIALS &&
          dest_credentials(f, backend_at(i), NULL, 0))
        b = backend_at(i);
    for (size_t i = 0; !b && f->endpoint && i < backend_count(); i++)
      if (backend_at(i)->endpoint_alone) b = backend_at(i);
    char needs[96];
    const char *why = NULL;
    if (!b) {
      why = "needs a target and an endpoint (or api_key and space_id for Arize AX)";
    } else if (!b->regions && !f->endpoint) {
      why = "needs an endpoint";
    } else if (f->endpoint && endpoint_problem(f->endpoint)) {
      why = "has an endpoint that is not an http:// or https:// URL";
    } else if (!dest_credentials(f, b, needs, sizeof needs)) {
      snprintf(needs + strlen(needs), sizeof needs - strlen(needs), "%s",
               f->from_project ? " (a project file's are used only with project_credentials: true)"
                               : "");
      why = needs;
    }
    /* two names of one key would share the spool's progress markers: after a restart one would
     * take the other's progress for its own and never get spans it had not had */
    const char *twin = NULL;
    for (size_t i = 0; !why && i < c->n_destinations && !twin; i++)
      if (config_destination_key(c->destinations[i].name) == config_destination_key(f->name))
        twin = c->destinations[i].name;
    if (twin) {
      warn(l,
           "config %s: destination %s cannot be told apart from destination %s in the spool's "
           "progress markers (rename one); left out",
           f->from_project ? c->project_path : c->config_path, f->name, twin);
      continue;
    }
    if (why) {
      warn(l, "config %s: destination %s %s; left out",
           f->from_project ? c->project_path : c->config_path, f->name, why);
      continue;
    }
    config_destination *d = &c->destinations[c->n_destinations++];
    d->name = dup_str(l, f->name);
    d->target = target_of(b);
    d->from_project = f->from_project;
    d->project_name = dup_str(l, f->project_name ? f->project_name : c->project_name);
    if (f->endpoint) {
      d->endpoint = traces_url(l, f->endpoint, b->default_scheme);
    } else {
      const char *url = b->regions[0].endpoint;
      for (size_t i = 0; f->region && b->regions[i].name; i++)
        if (is_word(f->region, b->regions[i].name) || is_word(f->region, b->regions[i].long_name))
          url = b->regions[i].endpoint;
      d->endpoint = dup_str(l, url);
    }
    for (const backend_header *h = b->headers; h->name && !l->oom; h++) {
      const char *v = h->from ? dest_value(f, d, h->from) : "";
      if (v) dest_header(l, d, h->name, h->prefix, v, h->secret);
    }
    for (size_t i = 0; b->user_headers && i < f->headers.len && !l->oom; i++)
      dest_header(l, d, f->headers.names[i], "", f->headers.values[i], true);
    const char *same = l->oom ? NULL : sending_twin(c, d);
    if (same) {
      warn(l,
           "config %s: destination %s sends to the same endpoint, project and credentials as "
           "destination %s (every span would arrive twice); left out",
           f->from_project ? c->project_path : c->config_path, f->name, same);
      destination_free(d);
      c->n_destinations--;
    }
  }
  /* further destinations alone: tracing sends to them, the first one is simply unused */
  if (c->n_destinations && c->target == CONFIG_TARGET_NONE && c->enabled) {
    free(c->why_not_sending);
    c->why_not_sending = NULL;
  }
}

/* ---- the project's file ----
 *
 * .opencode/arize-tracing.yaml (or .json) of the project, found from its directory upwards,
 * read over the user's file: flat (the keys of harnesses.opencode and the logging and redact
 * sections, at its top level), and only for what the table's `project` column allows. A project
 * file comes with a repository, written by someone else: its credentials are used only when the
 * user's file (or environment) says project_credentials: true, an endpoint it names gets none of
 * the user's credentials without that either, and it may make tracing more private, never less. */

#define PROJECT_DIR_NAME ".opencode"
#define PROJECT_FILE_NAME "arize-tracing"
#define PROJECT_MAX_LEVELS 64

static bool path_exists(const char *path) {
  platform_info st;
  return platform_target_info(path, &st) == 0;
}

/* The parent of d, cut in place; false at the root. */
static bool up_one(char *d) {
  const char *sep = platform_last_separator(d);
  if (!sep || sep == d || sep[1] == '\0') return false;
  d[sep - d] = '\0';
  return true;
}

/* The project file found from dir upwards (malloc'd), or NULL: the first directory holding
 * .opencode/arize-tracing.yaml (else .json) wins. Upwards only inside the repository holding
 * dir (up to the directory with .git); outside one, dir alone: a file in a parent someone else
 * may write (/tmp) must not choose where a project's traces go. */
static char *find_project_file(loader *l, const char *dir) {
  char *d = dup_str(l, dir);
  int levels = 0; /* how many parents the search may climb */
  char *probe = dup_str(l, dir);
  for (int k = 0; probe && k < PROJECT_MAX_LEVELS; k++) {
    char *git = text_printf(&l->oom, "%s" PLATFORM_SEP ".git", probe);
    bool top = git && path_exists(git);
    free(git);
    if (top) {
      levels = k;
      break;
    }
    if (!up_one(probe)) break;
  }
  free(probe);
  for (int level = 0; d && level <= levels; level++) {
    static const char *const exts[] = {".yaml", ".json"};
    for (size_t k = 0; k < 2; k++) {
      char *f = text_printf(&l->oom,
                            "%s" PLATFORM_SEP PROJECT_DIR_NAME PLATFORM_SEP PROJECT_FILE_NAME "%s",
                            d, exts[k]);
      if (f && path_exists(f)) {
        free(d);
        return f;
      }
      free(f);
    }
    if (!up_one(d)) break;
  }
  free(d);
  return NULL;
}

/* Appends "; text" (or text) to *notice. */
static void add_notice(loader *l, char **notice, const char *fmt, ...) PLATFORM_PRINTF(3, 4);
static void add_notice(loader *l, char **notice, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  char *joined =
      msg ? text_printf(&l->oom, "%s%s%s", *notice ? *notice : "", *notice ? "; " : "", msg) : NULL;
  if (!msg) l->oom = true;
  free(msg);
  if (!joined) return;
  free(*notice);
  *notice = joined;
}

/* Whether setting i was given in the file settings f. */
static bool file_has(const file_settings *f, int i) {
  switch (settings[i].type) {
  case ST_STRING: return f->str[i] != NULL;
  case ST_NUMBER: return f->has_num[i];
  case ST_FLAG:
  case ST_CHOICE: return f->flag[i] >= 0;
  case ST_MAP: return i == S_ATTRIBUTES ? f->attributes.len > 0 : f->headers.len > 0;
  case ST_SEQUENCE: return i == S_DESTINATIONS ? f->n_dests > 0 : f->seq[i].len > 0;
  default: return false;
  }
}

/* The project's destinations over the user's: one with a name of the user's replaces it (none of
 * the user's credentials stay with it), the others are added. Their credentials (api_key,
 * space_id, headers) are used only when the user allows a project's credentials. */
static void merge_destinations(loader *l, file_settings *u, file_settings *p, bool credentials) {
  bool dropped = false;
  for (size_t k = 0; k < p->n_dests; k++) {
    file_destination *d = &p->dests[k];
    if (!credentials && (d->api_key || d->space_id || d->headers.len)) {
      dropped = true;
      file_destination keep = {.name = d->name,
                               .endpoint = d->endpoint,
                               .project_name = d->project_name,
                               .region = d->region,
                               .target = d->target};
      d->name = d->endpoint = d->project_name = d->region = NULL;
      file_destination_free(d);
      *d = keep;
    }
    d->from_project = true;
    size_t at = u->n_dests;
    for (size_t i = 0; i < u->n_dests; i++)
      if (!strcmp(u->dests[i].name, d->name)) at = i;
    if (at == u->n_dests && u->n_dests >= CONFIG_MAX_DESTINATIONS - 1) {
      warn(l,
           "config %s: destinations: at most %d (the first one included); %s and the rest "
           "ignored",
           l->path, CONFIG_MAX_DESTINATIONS, d->name);
      break;
    }
    if (at < u->n_dests) file_destination_free(&u->dests[at]);
    else u->n_dests++;
    u->dests[at] = *d;
    memset(d, 0, sizeof *d);
  }
  if (dropped)
    add_notice(l, &l->c->project_notice,
               "credentials of its destinations ignored: a credential is read from a project "
               "file only when %s says harnesses.opencode.%s: true",
               l->c->config_path, settings[S_PROJECT_CREDENTIALS].key);
}

/* The project's settings p over the user's u (u receives them; p keeps what was refused). */
static void merge_project(loader *l, file_settings *u, file_settings *p, bool credentials) {
  char **notice = &l->c->project_notice;
  char ignored[512] = "";
  for (int i = 0; i < S_COUNT && !l->oom; i++) {
    const struct setting *st = &settings[i];
    if (st->project == P_NO || !file_has(p, i)) continue;
    if (st->project == P_CREDENTIAL && !credentials) {
      size_t n = strlen(ignored);
      snprintf(ignored + n, sizeof ignored - n, "%s`%s`", n ? ", " : "", st->key);
      continue;
    }
    if (st->project == P_TIGHTEN) {
      /* a logging switch may only go off, redact.secrets only on */
      bool more_private = i == S_REDACT_SECRETS ? p->flag[i] == 1 : p->flag[i] == 0;
      if (!more_private) {
        bool user = u->flag[i] >= 0 ? u->flag[i] != 0 : st->def != 0;
        if (user != (p->flag[i] != 0))
          add_notice(l, notice,
                     "`%s: %s` ignored: a project file may make tracing more private, never "
                     "less (set it in %s)",
                     st->key, p->flag[i] ? "true" : "false", l->c->config_path);
        continue;
      }
    }
    l->c->setting_from[i] |= CONFIG_FROM_PROJECT;
    switch (st->type) {
    case ST_STRING:
      free(u->str[i]);
      u->str[i] = p->str[i];
      p->str[i] = NULL;
      l->c->setting_from[i] &= (unsigned char)~CONFIG_FROM_USER;
      break;
    case ST_FLAG:
    case ST_CHOICE:
      u->flag[i] = p->flag[i];
      l->c->setting_from[i] &= (unsigned char)~CONFIG_FROM_USER;
      break;
    case ST_MAP: {
      config_pairs *from = i == S_ATTRIBUTES ? &p->attributes : &p->headers;
      config_pairs *to = i == S_ATTRIBUTES ? &u->attributes : &u->headers;
      char what[600];
      snprintf(what, sizeof what, "config %s: %s", l->path, st->key);
      for (size_t k = 0; k < from->len; k++)
        pairs_set(l, to, from->names[k], strlen(from->names[k]), from->values[k],
                  strlen(from->values[k]), i != S_ATTRIBUTES, what);
      break;
    }
    case ST_SEQUENCE:
      if (i == S_DESTINATIONS) {
        merge_destinations(l, u, p, credentials);
        break;
      }
      {
        config_pairs *from = &p->seq[i], *to = &u->seq[i];
        for (size_t k = 0; k < from->len && !l->oom; k++) {
          if (to->len >= CONFIG_MAX_PAIRS) {
            warn(l, "config %s: %s: more than %d entries, the rest ignored", l->path, st->key,
                 CONFIG_MAX_PAIRS);
            break;
          }
          char **names = realloc(to->names, (to->len + 1) * sizeof *names);
          if (names) to->names = names;
          char **values = names ? realloc(to->values, (to->len + 1) * sizeof *values) : NULL;
          if (values) to->values = values;
          if (!names || !values) {
            l->oom = true;
            break;
          }
          to->names[to->len] = from->names[k], to->values[to->len++] = from->values[k];
          from->names[k] = from->values[k] = NULL;
        }
        break;
      }
    default: break;
    }
  }
  if (ignored[0])
    add_notice(l, notice,
               "%s ignored: a credential is read from a project file only when %s says "
               "harnesses.opencode.%s: true (or %s=true); keep it in %s or the environment",
               ignored, l->c->config_path, settings[S_PROJECT_CREDENTIALS].key,
               ENV(S_PROJECT_CREDENTIALS), l->c->config_path);
  /* an endpoint of the project's choosing gets none of the user's keys without that */
  if ((l->c->setting_from[S_ENDPOINT] & CONFIG_FROM_PROJECT) && !credentials) {
    l->no_user_credentials = true;
    add_notice(l, notice,
               "the project names the endpoint, so your credentials are not sent to it "
               "(harnesses.opencode.%s: true in %s allows it)",
               settings[S_PROJECT_CREDENTIALS].key, l->c->config_path);
  }
}

static void file_settings_init(file_settings *f) {
  memset(f, 0, sizeof *f);
  for (int i = 0; i < S_COUNT; i++) f->flag[i] = -1;
}

static void file_settings_free(file_settings *f) {
  for (int i = 0; i < S_COUNT; i++) free(f->str[i]);
  pairs_free(&f->headers);
  pairs_free(&f->attributes);
  for (int i = 0; i < S_COUNT; i++) pairs_free(&f->seq[i]);
  for (size_t i = 0; i < f->n_dests; i++) file_destination_free(&f->dests[i]);
  f->n_dests = 0;
}

/* Reads the project file found from dir over what the user's file said (l->file). */
static void read_project(loader *l, const char *dir) {
  config *c = l->c;
  for (int i = 0; i < S_COUNT; i++)
    if (file_has(&l->file, i)) c->setting_from[i] |= CONFIG_FROM_USER;
  c->project_dir = dup_str(l, dir);
  c->project_files = resolve_flag(l, ENV(S_PROJECT_FILES), l->file.flag[S_PROJECT_FILES], true);
  bool credentials =
      resolve_flag(l, ENV(S_PROJECT_CREDENTIALS), l->file.flag[S_PROJECT_CREDENTIALS], false);
  if (!c->project_dir || !c->project_files) return;
  c->project_path = find_project_file(l, c->project_dir);
  if (!c->project_path) return;
  c->project_mtime = config_file_mtime(c->project_path);

  file_settings user = l->file;
  file_settings_init(&l->file);
  char *user_unknown = c->unknown_keys;
  c->unknown_keys = NULL;
  unsigned user_mode = l->file_mode;
  l->path = c->project_path, l->warning = &c->project_warning, l->broken = &c->project_broken;
  l->project_pass = true;
  l->file_mode = 0;
  parse_file(l);
  if (!c->project_broken && (l->file_mode & 022)) {
    /* someone else could choose where this project's traces go */
    file_settings_free(&l->file);
    file_settings_init(&l->file);
    free(c->project_warning);
    c->project_warning = NULL;
    broken(l, "config %s: other users can write it (mode %03o): not used; chmod go-w %s",
           c->project_path, (unsigned)(l->file_mode & 0777), c->project_path);
  }
  if (c->project_broken) { /* nothing of it is used */
    file_settings_free(&l->file);
    file_settings_init(&l->file);
  }
  merge_project(l, &user, &l->file, credentials);
  l->project_pass = false;
  l->path = c->config_path, l->warning = &c->warning, l->broken = &c->file_broken;
  l->file_mode = user_mode;
  file_settings_free(&l->file);
  l->file = user;
  if (user_unknown && c->unknown_keys) {
    char *both = text_printf(&l->oom, "%s; %s", user_unknown, c->unknown_keys);
    if (both) free(c->unknown_keys), c->unknown_keys = both;
    free(user_unknown);
  } else if (user_unknown) {
    c->unknown_keys = user_unknown;
  }
}

/* Which variable of each setting won, and the sources of those set by none (config.h). */
static void record_sources(loader *l) {
  config *c = l->c;
  for (int i = 0; i < S_COUNT; i++) {
    c->setting_env[i] = -1;
    if (!c->project_dir && file_has(&l->file, i)) c->setting_from[i] |= CONFIG_FROM_USER;
    for (int k = 0; k < SETTING_MAX_ENV && settings[i].env[k]; k++)
      if (env_get(l->envp, settings[i].env[k])) {
        c->setting_env[i] = (signed char)k;
        c->setting_from[i] |= CONFIG_FROM_ENV;
        break;
      }
  }
}

/* ---- public ---- */

/* $HOME/.arize/harness/config.yaml, or config.json beside it when only that exists. */
static char *default_config_path(loader *l) {
  char *yaml = text_printf(
      &l->oom, "%s" PLATFORM_SEP ".arize" PLATFORM_SEP "harness" PLATFORM_SEP "config.yaml",
      l->c->home);
  char *json = text_printf(
      &l->oom, "%s" PLATFORM_SEP ".arize" PLATFORM_SEP "harness" PLATFORM_SEP "config.json",
      l->c->home);
  platform_info st;
  bool use_json = yaml && json && platform_target_info(yaml, &st) != 0 && errno == ENOENT &&
                  platform_target_info(json, &st) == 0;
  if (use_json) {
    free(yaml);
    return json;
  }
  free(json);
  return yaml;
}

config *config_load(const char *config_path, const char *const *envp) {
  return config_load_in(config_path, NULL, envp);
}

config *config_load_in(const char *config_path, const char *project_dir, const char *const *envp) {
  config *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  loader l = {.c = c, .envp = envp, .warning = &c->warning, .broken = &c->file_broken};
  file_settings_init(&l.file);

  const char *home = NULL; /* HOME; on Windows USERPROFILE first */
  for (size_t i = 0; !home && platform_home_variables[i]; i++)
    home = env_get(envp, platform_home_variables[i]);
  c->home = dup_str(&l, home);
  if (!c->home && !l.oom) c->home = dup_str(&l, ".");
  if (!l.oom) c->config_path = config_path ? strdup(config_path) : default_config_path(&l);
  if (!c->config_path) l.oom = true;
  l.path = c->config_path;

  if (!l.oom) parse_file(&l);
  if (!l.oom && project_dir) read_project(&l, project_dir);
  if (!l.oom) record_sources(&l);
  if (!l.oom) resolve_settings(&l);
  if (!l.oom) resolve_target(&l);
  if (!l.oom) resolve_destinations(&l);
  if (!l.oom) { /* the attrs section borrows what other fields own */
    c->attrs.project_name = c->project_name;
    c->attrs.redact = c->redact;
    c->attrs.attribute_names = (const char *const *)c->span_attributes.names;
    c->attrs.attribute_values = (const char *const *)c->span_attributes.values;
    c->attrs.n_attributes = c->span_attributes.len;
  }

  file_settings_free(&l.file);
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
  free(c->attrs.user_id);
  free(c->api_key);
  free(c->space_id);
  free(c->phoenix_api_key);
  for (size_t i = 0; i < c->n_headers; i++) free(c->headers[i]);
  free(c->headers);
  free(c->header_secret);
  for (size_t k = 0; k < c->n_destinations; k++) destination_free(&c->destinations[k]);
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
  free(c->project_dir);
  free(c->project_path);
  free(c->project_warning);
  free(c->project_notice);
  redact_free(c->redact);
  free(c);
}

/* {"file key or variable": value} of every setting with a field, in the unit its key names;
 * secrets are left out (the table says which). */
static json_t *config_values_json(const config *c) {
  json_t *o = json_object();
  for (int i = 0; o && i < S_COUNT; i++) {
    const struct setting *st = &settings[i];
    if (st->secret || st->field == F_NONE || st->field == F_BACKEND) continue;
    const void *field = (const char *)c + st->offset;
    const char *name = st->key ? st->key : st->env[0];
    json_t *v = NULL;
    switch (st->field) {
    case F_STR: v = *(char *const *)field ? json_string(*(char *const *)field) : json_null(); break;
    case F_BOOL: v = json_boolean(*(const bool *)field); break;
    case F_LONG: v = json_integer(*(const long *)field / st->unit); break;
    case F_SIZE: v = json_integer((json_int_t)(*(const size_t *)field / (size_t)st->unit)); break;
    default: break;
    }
    json_object_set_new(o, name, v);
  }
  return o;
}

static char *alloc_printf(const char *fmt, ...) PLATFORM_PRINTF(1, 2);
static char *alloc_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

/* {"file key or variable": where its value came from} for every setting: "environment:
 * VARIABLE", the path of the project's file, the user's, both (" + ": lists that add up), or
 * "default". Only sources, never values: secrets have a source too. */
static json_t *config_sources_json(const config *c) {
  json_t *o = json_object();
  for (int i = 0; o && i < S_COUNT; i++) {
    const struct setting *st = &settings[i];
    unsigned from = c->setting_from[i];
    char *text = NULL;
    if ((from & CONFIG_FROM_ENV) && c->setting_env[i] >= 0)
      text = alloc_printf("environment: %s", st->env[(int)c->setting_env[i]]);
    else if ((from & CONFIG_FROM_PROJECT) && (from & CONFIG_FROM_USER))
      text = alloc_printf("%s + %s", c->project_path, c->config_path);
    else if (from & CONFIG_FROM_PROJECT) text = strdup(c->project_path);
    else if (from & CONFIG_FROM_USER) text = strdup(c->config_path);
    else text = strdup("default");
    json_object_set_new(o, st->key ? st->key : st->env[0], text ? json_string(text) : json_null());
    free(text);
  }
  return o;
}

/* [{"name", "target", "endpoint" (for display), "project", "from": "user"|"project"|"env"}]:
 * every destination, the first ("default", the single-backend settings) included when it is
 * configured. Never a credential. */
static json_t *config_destinations_json(const config *c) {
  json_t *list = json_array();
  for (size_t k = 0; list && k <= c->n_destinations; k++) {
    const char *name = CONFIG_FIRST_DESTINATION, *url = c->endpoint, *project = c->project_name;
    config_target target = c->target;
    const char *from = c->setting_from[S_ENDPOINT] & CONFIG_FROM_PROJECT ? "project"
                       : c->setting_from[S_ENDPOINT] & CONFIG_FROM_ENV   ? "env"
                                                                         : "user";
    if (k > 0) {
      const config_destination *d = &c->destinations[k - 1];
      name = d->name, url = d->endpoint, project = d->project_name, target = d->target;
      from = d->from_project ? "project" : "user";
    } else if (target == CONFIG_TARGET_NONE) {
      continue;
    }
    char *shown = url ? text_url_for_display(url) : NULL;
    json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:s, s:s}", "name", name, "target",
                                          config_target_name(target), "endpoint", shown, "project",
                                          project, "from", from));
    free(shown);
  }
  return list;
}

char *config_describe_json(const config *c) {
  char *endpoint = NULL;
  if (c->endpoint) { /* as status may show it: a URL may carry credentials */
    endpoint = text_url_for_display(c->endpoint);
    if (!endpoint) return NULL;
  }
  const char *state = !c->enabled                                             ? "disabled"
                      : c->dry_run                                            ? "dry-run"
                      : c->target == CONFIG_TARGET_NONE && !c->n_destinations ? "no-backend"
                                                                              : "sending";
  json_t *o = json_pack("{s:b, s:s, s:s?, s:{s:s, s:s?, s:s}, s:{s:s, s:s?, s:b, s:s?, s:s}, "
                        "s:{s:s}, s:s, s:I}",
                        "enabled", c->enabled, "state", state, "reason", c->why_not_sending,
                        "backend", "target", config_target_name(c->target), "endpoint", endpoint,
                        "project", c->project_name, "config", "path", c->config_path, "warning",
                        c->warning, "broken", c->file_broken, "unknown_keys", c->unknown_keys,
                        "log_file", c->log_file, "spool", "dir", c->spool_dir, "state_dir",
                        c->state_dir, "exit_flush_ms", (json_int_t)c->shutdown_ms);
  if (o) json_object_set_new(o, "settings", config_values_json(c));
  if (o)
    json_object_set_new(o, "redaction",
                        json_pack("{s:b, s:I, s:I, s:I}", "secrets", c->redact_secrets, "patterns",
                                  (json_int_t)c->redact_patterns, "values",
                                  (json_int_t)c->redact_values, "allow",
                                  (json_int_t)c->redact_allow));
  if (o)
    json_object_set_new(o, "project",
                        json_pack("{s:s?, s:s?, s:b, s:s?, s:b, s:s?, s:b}", "dir", c->project_dir,
                                  "path", c->project_path, "files", c->project_files, "warning",
                                  c->project_warning, "broken", c->project_broken, "notice",
                                  c->project_notice, "credentials", c->project_credentials));
  if (o) json_object_set_new(o, "sources", config_sources_json(c));
  if (o) json_object_set_new(o, "destinations", config_destinations_json(c));
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  free(endpoint);
  return text;
}

const char *config_target_name(config_target t) {
  const backend *b = backend_of(t);
  return b ? b->name : "none";
}

time_t config_file_mtime(const char *path) {
  platform_info st;
  if (!path || platform_target_info(path, &st) != 0) return 0;
  return (time_t)(st.mtime_ns / 1000000000);
}

/* ---- the schema, for the CLI and the docs test (docs/settings.md) ---- */

static const char *const type_names[] = {
    [ST_STRING] = "string", [ST_NUMBER] = "number", [ST_FLAG] = "flag", [ST_SWITCH] = "switch",
    [ST_CHOICE] = "choice", [ST_MAP] = "mapping",   [ST_LIST] = "list", [ST_SEQUENCE] = "sequence"};

/* ["a", "b"] of "a|b". */
static json_t *choices_json(const char *choices) {
  json_t *a = json_array();
  for (const char *p = choices; a && p && *p;) {
    size_t n = strcspn(p, "|");
    json_array_append_new(a, json_stringn(p, n));
    p += n + (p[n] == '|');
  }
  return a;
}

static json_t *setting_json(int i) {
  const struct setting *st = &settings[i];
  json_t *keys = json_array(), *old = json_array(), *env = json_array();
  const char *prefixes[2];
  size_t np = 0;
  if (st->scope == AT_TOP || st->scope == AT_BOTH) prefixes[np++] = "";
  if (st->scope == AT_HARNESS || st->scope == AT_BOTH) prefixes[np++] = "harnesses.opencode.";
  key_paths one = {.n = 0};
  for (size_t k = 0; k < np; k++) {
    add_path(&one, prefixes[k], st->key, NULL);
    if (st->old_key) add_path(&one, prefixes[k], st->key, st->old_key);
  }
  for (size_t k = 0; k < one.n; k++)
    json_array_append_new(one.old[k] ? old : keys, json_string(one.path[k]));
  for (size_t k = 0; k < SETTING_MAX_ENV && st->env[k]; k++)
    json_array_append_new(env, json_string(st->env[k]));
  json_t *o =
      json_pack("{s:o, s:o, s:o, s:s, s:s?, s:b}", "keys", keys, "old_keys", old, "env", env,
                "type", type_names[st->type], "default", st->def_text, "secret", st->secret);
  if (!o) return NULL;
  if (st->type == ST_NUMBER) {
    json_object_set_new(o, "default", json_integer(st->def));
    json_object_set_new(o, "min", json_integer(st->min));
    json_object_set_new(o, "max", json_integer(st->max));
  }
  char bars[80];
  if (st->type == ST_CHOICE)
    json_object_set_new(o, "choices", choices_json(setting_choices(i, bars, sizeof bars)));
  static const char *const project_names[] = {
      [P_NO] = "no", [P_YES] = "yes", [P_CREDENTIAL] = "credential", [P_TIGHTEN] = "more-private"};
  json_object_set_new(o, "project", json_string(project_names[st->project]));
  return o;
}

/* A backend's row for the CLI: install asks and words from it (lib/cli/install.js). */
static json_t *backend_json(const backend *b) {
  json_t *regions = json_array(), *headers = json_array(), *asks = json_array();
  for (size_t i = 0; b->regions && b->regions[i].name; i++)
    json_array_append_new(regions,
                          json_pack("{s:s, s:s, s:s}", "name", b->regions[i].name, "long_name",
                                    b->regions[i].long_name, "endpoint", b->regions[i].endpoint));
  for (const backend_header *h = b->headers; h->name; h++) {
    json_array_append_new(headers, json_pack("{s:s, s:s?, s:s, s:b}", "name", h->name, "from",
                                             h->from, "prefix", h->prefix, "secret", h->secret));
  }
  for (const backend_setting *a = b->asks; a->key; a++) {
    int k = setting_of_key(a->key);
    json_array_append_new(asks,
                          json_pack("{s:s, s:s?, s:s, s:s?, s:s?, s:b, s:b, s:b}", "key", a->key,
                                    "env", a->env, "what", a->what, "hint", a->hint, "fallback",
                                    a->fallback, "required", a->required, "names_backend",
                                    a->names_backend, "secret", k < S_COUNT && settings[k].secret));
  }
  static const char *const picks[] = {[BACKEND_PICK_TARGET] = "target",
                                      [BACKEND_PICK_ENV_FIRST] = "env-first",
                                      [BACKEND_PICK_CREDENTIALS] = "credentials",
                                      [BACKEND_PICK_ENV_LAST] = "env-last"};
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:b, s:b, s:o, s:o, s:o}", "name", b->name,
                   "display", b->display, "one", b->one ? b->one : b->display, "menu", b->menu,
                   "default_scheme", b->default_scheme, "pick", picks[b->pick], "endpoint_env",
                   b->endpoint_env, "endpoint_alone", b->endpoint_alone, "user_headers",
                   b->user_headers, "regions", regions, "headers", headers, "settings", asks);
}

char *config_schema_json(void) {
  json_t *list = json_array(), *bk = json_array();
  for (int i = 0; list && i < S_COUNT; i++) json_array_append_new(list, setting_json(i));
  for (size_t i = 0; bk && i < backend_count(); i++)
    json_array_append_new(bk, backend_json(backend_at(i)));
  json_t *o = json_pack("{s:o, s:o, s:s}", "settings", list, "backends", bk, "header_name_symbols",
                        HEADER_NAME_SYMBOLS);
  char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  return text;
}
