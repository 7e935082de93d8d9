/* cfgfile — see cfgfile.h. */
#include "cfgfile.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "platform.h"
#include "text.h"

/* A config file is a few lines; anything bigger is a mistake, not a config. */
#define CFGFILE_MAX_BYTES (1024 * 1024)
#define CFGFILE_MAX_DEPTH 64     /* mapping/sequence levels; see shape_ok */
#define CFGFILE_MAX_ANCHORS 1000 /* anchors plus aliases; see shape_ok */
#define UNKNOWN_KEYS_MAX 8       /* named per file; the count says how many more */

struct cfgfile {
  bool yaml;
  yaml_document_t doc;
  json_t *json;
};

/* The first problem only: nothing after it is read. */
static void problem(cfgfile_status *st, const char *fmt, ...) PLATFORM_PRINTF(2, 3);
static void problem(cfgfile_status *st, const char *fmt, ...) {
  if (st->problem) return;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&st->problem, fmt, ap) < 0) {
    st->problem = NULL;
    st->out_of_memory = true;
  }
  va_end(ap);
}

/* ---- reading ---- */

/* Reads the whole file into *buf (malloc'd, NUL-terminated). Returns 0 when read, 1 when there
 * is nothing to parse (missing: silently; otherwise with a problem). */
static int read_whole(const char *path, cfgfile_status *st, char **buf, size_t *len) {
  int fd = platform_open(path, PLATFORM_READ | PLATFORM_FOLLOW);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return 1;
    if (err == EISDIR) problem(st, "config %s: is a directory", path);
    else if (err == PLATFORM_ENOTFILE) problem(st, "config %s: not a regular file", path);
    else problem(st, "config %s: cannot read: %s", path, strerror(err));
    platform_info info;
    if (platform_target_info(path, &info) == 0) st->mtime = (time_t)(info.mtime_ns / 1000000000);
    return 1;
  }
  platform_info info;
  int rc = 1;
  if (platform_file_info(fd, &info) != 0) {
    problem(st, "config %s: cannot read: %s", path, strerror(errno));
    goto out;
  }
  /* the open file's mtime describes what we read (or something older, which only causes one
   * extra reload) */
  st->mtime = (time_t)(info.mtime_ns / 1000000000);
  if (info.size > CFGFILE_MAX_BYTES) {
    problem(st, "config %s: larger than 1 MiB, ignored", path);
    goto out;
  }
  /* The file may grow between fstat and read: read up to the cap plus one byte. */
  char *b = malloc(CFGFILE_MAX_BYTES + 2);
  if (!b) {
    st->out_of_memory = true;
    goto out;
  }
  size_t n = 0;
  while (n <= CFGFILE_MAX_BYTES) {
    int64_t r = platform_read(fd, b + n, CFGFILE_MAX_BYTES + 1 - n);
    if (r == 0) break;
    if (r < 0) {
      problem(st, "config %s: cannot read: %s", path, strerror(errno));
      free(b);
      goto out;
    }
    n += (size_t)r;
  }
  if (n > CFGFILE_MAX_BYTES) {
    problem(st, "config %s: larger than 1 MiB, ignored", path);
    free(b);
    goto out;
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  st->mode = info.permissions;
  rc = 0;
out:
  platform_close(fd);
  return rc;
}

/* 1-based line of a parse error. Reader errors (bad UTF-8) carry only a byte offset. */
static size_t error_line(const yaml_parser_t *p, const char *buf) {
  if (p->error != YAML_READER_ERROR) return p->problem_mark.line + 1;
  size_t line = 1;
  for (size_t i = 0; i < p->problem_offset && buf[i]; i++) line += buf[i] == '\n';
  return line;
}

static void parse_failed(const char *path, cfgfile_status *st, const yaml_parser_t *parser,
                         const char *buf) {
  if (parser->error == YAML_MEMORY_ERROR) {
    st->out_of_memory = true;
    return;
  }
  /* libyaml's problem texts are fixed strings; they never quote the input. */
  const char *text = parser->problem ? parser->problem : "invalid YAML";
  size_t at = error_line(parser, buf);
  /* A quote or a flow collection left open is found where the file ends: the line to fix is
   * the one it opens on (libyaml's context mark). */
  const char *context = parser->error == YAML_READER_ERROR ? NULL : parser->context;
  if (context && (strstr(context, "quoted scalar") || strstr(context, "flow")) &&
      parser->context_mark.line + 1 < at)
    problem(st, "config %s: line %zu: %s: %s at line %zu", path, parser->context_mark.line + 1,
            context, text, at);
  else problem(st, "config %s: line %zu: %s", path, at, text);
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
 * after setting a problem. */
static bool shape_ok(const char *path, cfgfile_status *st, const char *buf, size_t len) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    st->out_of_memory = true;
    return false;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  bool ok = true, done = false;
  int depth = 0, anchors = 0;
  while (ok && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      parse_failed(path, st, &parser, buf);
      ok = false;
      break;
    }
    if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
      if (++depth > CFGFILE_MAX_DEPTH) {
        problem(st, "config %s: line %zu: nested deeper than %d levels", path,
                ev.start_mark.line + 1, CFGFILE_MAX_DEPTH);
        ok = false;
      }
    } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
      depth--;
    } else if (ev.type == YAML_DOCUMENT_END_EVENT || ev.type == YAML_STREAM_END_EVENT) {
      done = true; /* yaml_parser_load reads only the first document */
    }
    if (ok && uses_anchor(&ev) && ++anchors > CFGFILE_MAX_ANCHORS) {
      problem(st, "config %s: line %zu: more than %d anchors and aliases", path,
              ev.start_mark.line + 1, CFGFILE_MAX_ANCHORS);
      ok = false;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return ok;
}

static bool parse_yaml(cfgfile *f, const char *path, cfgfile_status *st, const char *buf,
                       size_t len) {
  if (!shape_ok(path, st, buf, len)) return false;
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    st->out_of_memory = true;
    return false;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  f->yaml = yaml_parser_load(&parser, &f->doc);
  if (!f->yaml) parse_failed(path, st, &parser, buf);
  yaml_parser_delete(&parser);
  return f->yaml;
}

static bool parse_json(cfgfile *f, const char *path, cfgfile_status *st, const char *buf,
                       size_t len) {
  bool blank = true;
  for (size_t i = 0; i < len && blank; i++) blank = isspace((unsigned char)buf[i]);
  if (blank) return true; /* an empty file, like an empty YAML file */
  json_error_t err;
  f->json = json_loadb(buf, len, 0, &err);
  if (!f->json) {
    /* jansson's texts may quote the input ("... near 'sk-...'"): keep what precedes it. */
    const char *near = strstr(err.text, " near ");
    int shown = near ? (int)(near - err.text) : (int)strlen(err.text);
    problem(st, "config %s: line %d: invalid JSON: %.*s", path, err.line, shown, err.text);
    return false;
  }
  return true;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

cfgfile *cfgfile_read(const char *path, cfgfile_status *st) {
  memset(st, 0, sizeof *st);
  char *buf = NULL;
  size_t len = 0;
  if (read_whole(path, st, &buf, &len) != 0) return NULL;
  cfgfile *f = calloc(1, sizeof *f);
  bool ok = f && (ends_with(path, ".json") ? parse_json(f, path, st, buf, len)
                                           : parse_yaml(f, path, st, buf, len));
  if (!f) st->out_of_memory = true;
  free(buf);
  if (!ok) {
    cfgfile_free(f);
    return NULL;
  }
  return f;
}

cfgfile_node cfgfile_root(const cfgfile *f) {
  cfgfile_node root = {0};
  if (f && f->yaml) {
    root.doc = (yaml_document_t *)&f->doc;
    root.y = yaml_document_get_root_node(root.doc);
  } else if (f) {
    root.j = f->json;
  }
  return root;
}

void cfgfile_free(cfgfile *f) {
  if (!f) return;
  if (f->yaml) yaml_document_delete(&f->doc);
  json_decref(f->json);
  free(f);
}

/* ---- nodes ---- */

bool cfgfile_exists(cfgfile_node n) { return n.y || n.j; }

bool cfgfile_is_null(cfgfile_node n) {
  if (n.j) return json_is_null(n.j);
  if (!n.y || n.y->type != YAML_SCALAR_NODE || n.y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  const char *v = (const char *)n.y->data.scalar.value;
  return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

bool cfgfile_is_map(cfgfile_node n) {
  return n.j ? json_is_object(n.j) : n.y && n.y->type == YAML_MAPPING_NODE;
}

bool cfgfile_is_seq(cfgfile_node n) {
  return n.j ? json_is_array(n.j) : n.y && n.y->type == YAML_SEQUENCE_NODE;
}

cfgfile_node cfgfile_get(cfgfile_node map, const char *key) {
  cfgfile_node found = {0};
  if (!cfgfile_is_map(map)) return found;
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

cfgfile_node cfgfile_at(cfgfile_node parent, const char *path) {
  char part[64];
  while (cfgfile_exists(parent)) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (n >= sizeof part) return (cfgfile_node){0};
    memcpy(part, path, n);
    part[n] = '\0';
    parent = cfgfile_get(parent, part);
    if (!dot) return parent;
    path = dot + 1;
  }
  return parent;
}

bool cfgfile_scalar(cfgfile_node n, char buf[64], const char **s, size_t *len) {
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
  if (json_is_integer(n.j)) snprintf(buf, 64, "%lld", (long long)json_integer_value(n.j));
  else if (json_is_real(n.j)) snprintf(buf, 64, "%.17g", json_real_value(n.j));
  else if (json_is_boolean(n.j)) snprintf(buf, 64, "%s", json_is_true(n.j) ? "true" : "false");
  else return false;
  *s = buf;
  *len = strlen(buf);
  return true;
}

size_t cfgfile_line(cfgfile_node n) { return n.y ? (size_t)n.y->start_mark.line + 1 : 0; }

void cfgfile_each(cfgfile_node map, cfgfile_entry_fn fn, void *ctx) {
  if (map.j) {
    const char *key;
    json_t *value;
    json_object_foreach(map.j, key, value) {
      cfgfile_node v = {.j = value};
      fn(ctx, key, strlen(key), v);
    }
    return;
  }
  if (!cfgfile_is_map(map)) return;
  for (yaml_node_pair_t *p = map.y->data.mapping.pairs.start; p < map.y->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(map.doc, p->key);
    if (!k || k->type != YAML_SCALAR_NODE) continue;
    cfgfile_node v = {.doc = map.doc, .y = yaml_document_get_node(map.doc, p->value)};
    if (v.y) fn(ctx, (const char *)k->data.scalar.value, k->data.scalar.length, v);
  }
}

size_t cfgfile_seq_len(cfgfile_node n) {
  if (n.j) return json_array_size(n.j);
  return (size_t)(n.y->data.sequence.items.top - n.y->data.sequence.items.start);
}

cfgfile_node cfgfile_seq_item(cfgfile_node n, size_t k) {
  cfgfile_node item = {0};
  if (n.j) {
    item.j = json_array_get(n.j, k);
  } else {
    item.doc = n.doc;
    item.y = yaml_document_get_node(n.doc, n.y->data.sequence.items.start[k]);
  }
  return item;
}

/* ---- the speller ----
 *
 * A misspelt key ("projet_name", "regoin") used to be ignored without a word: traces went to
 * the default project and region. Every mapping the known keys pass through is checked against
 * them, and an unknown key is named (never its value) with the closest known key. A shared
 * mapping (the config file also configures other harnesses) names only a key close to one of
 * ours: `claude-code:` is someone else's, `harnesess:` a typo. */

void cfgfile_keys_add(cfgfile_keys *kp, const char *prefix, const char *key, const char *old) {
  if (kp->n >= CFGFILE_KEYS_MAX) return;
  if (!old) {
    snprintf(kp->path[kp->n], CFGFILE_KEY_LEN, "%s%s", prefix, key);
  } else {
    const char *dot = strrchr(key, '.');
    snprintf(kp->path[kp->n], CFGFILE_KEY_LEN, "%s%.*s%s", prefix, dot ? (int)(dot - key + 1) : 0,
             key, old);
  }
  kp->old[kp->n++] = old != NULL;
}

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

/* The keys a mapping at `prefix` may hold: the next part of every known key below it. Older
 * names are known but never suggested (old[k]). */
typedef struct {
  char name[CFGFILE_KEYS_MAX][CFGFILE_KEY_LEN];
  bool old[CFGFILE_KEYS_MAX];
  size_t n;
} key_set;

static void known_at(const cfgfile_keys *kp, const char *prefix, key_set *ks) {
  size_t plen = strlen(prefix);
  ks->n = 0;
  for (size_t i = 0; i < kp->n; i++) {
    if (strncmp(kp->path[i], prefix, plen) != 0) continue;
    const char *rest = kp->path[i] + plen;
    size_t n = strcspn(rest, ".");
    bool seen = false;
    for (size_t k = 0; k < ks->n && !seen; k++)
      seen = strlen(ks->name[k]) == n && !memcmp(ks->name[k], rest, n);
    if (seen || ks->n >= CFGFILE_KEYS_MAX) continue;
    snprintf(ks->name[ks->n], CFGFILE_KEY_LEN, "%.*s", (int)n, rest);
    ks->old[ks->n++] = kp->old[i] && !rest[n];
  }
}

/* The known key closest to key[0..n), or NULL when none is close: at most 2 edits, and
 * fewer than half the key's length (so "a" does not suggest "ab"); else the one known key that
 * is the key with a part more after an underscore, at most twice as long (the unit left off:
 * "timeout" is "timeout_ms"). */
static const char *closest_key(const char *key, size_t n, const key_set *known) {
  const char *best = NULL, *longer = NULL;
  size_t best_d = 3, longer_count = 0;
  for (size_t k = 0; k < known->n; k++) {
    if (known->old[k]) continue;
    const char *name = known->name[k];
    size_t d = key_distance(key, n, name), len = strlen(name);
    if (d < best_d && d * 2 < (n > len ? n : len)) best = name, best_d = d;
    if (n && len > n && len <= 2 * n && name[n] == '_' && !strncasecmp(name, key, n))
      longer = name, longer_count++;
  }
  return best ? best : longer_count == 1 ? longer : NULL;
}

/* The speller's state over one file. */
typedef struct {
  const char *prefix; /* "", "harnesses.", "harnesses.opencode.export.", ... */
  const key_set *known;
  const cfgfile_keys *keys; /* every known key, whole */
  bool only_close;          /* a shared mapping: name only keys close to ours */
  const char *unknown;      /* what a key without a suggestion is called */
  size_t count;             /* unknown keys so far in this file */
  char *text;               /* what is said so far */
  bool oom;
} speller;

/* Appends one "`key` (line N): did you mean `x`?" to the text; with nested (a dotted name),
 * "`key` (line N): a dotted name is not read here: nest it, `a:` then `b:`". */
static void note_unknown(speller *sp, size_t line, const char *key, size_t n,
                         const char *suggestion, const char *nested) {
  for (size_t i = 0; i < n; i++) /* not a name to quote */
    if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f) return;
  if (++sp->count > UNKNOWN_KEYS_MAX) return;
  char where[32] = "";
  if (line) snprintf(where, sizeof where, " (line %zu)", line);
  const char *old = sp->text;
  char *text =
      nested ? text_printf(&sp->oom, "%s%s`%s%.*s`%s: a dotted name is not read here: nest it, %s",
                           old ? old : "", old ? "; " : "", sp->prefix, (int)n, key, where, nested)
      : suggestion ? text_printf(&sp->oom, "%s%s`%s%.*s`%s: did you mean `%s`?", old ? old : "",
                                 old ? "; " : "", sp->prefix, (int)n, key, where, suggestion)
                   : text_printf(&sp->oom, "%s%s`%s%.*s`%s: %s, ignored", old ? old : "",
                                 old ? "; " : "", sp->prefix, (int)n, key, where, sp->unknown);
  if (!text) return;
  free(sp->text);
  sp->text = text;
}

/* A known key written as one dotted name ("export.timeout_ms: 5") where the file nests a
 * mapping per part: said with the nesting to write, rather than not at all (the top level is
 * shared with other tools, where only names close to ours are said). True when said. */
static bool check_dotted(speller *sp, const char *key, size_t n, size_t line) {
  size_t plen = strlen(sp->prefix);
  if (!memchr(key, '.', n) || plen + n >= CFGFILE_KEY_LEN) return false;
  for (size_t i = 0; i < sp->keys->n; i++) {
    const char *p = sp->keys->path[i];
    if (strlen(p) != plen + n || strncmp(p, sp->prefix, plen) || strncmp(p + plen, key, n))
      continue;
    text nested = {0};
    text_add(&nested, "`", 1);
    for (size_t j = 0; j < n; j++)
      if (key[j] == '.') text_add(&nested, ":` then `", 9);
      else text_add(&nested, key + j, 1);
    text_add(&nested, ":`", 2);
    if (nested.failed) sp->oom = true;
    else note_unknown(sp, line, key, n, NULL, text_str(&nested));
    free(nested.data);
    return true;
  }
  return false;
}

static void check_key(speller *sp, const char *key, size_t n, size_t line) {
  for (size_t k = 0; k < sp->known->n; k++)
    if (strlen(sp->known->name[k]) == n && !memcmp(sp->known->name[k], key, n)) return;
  if (check_dotted(sp, key, n, line)) return;
  const char *suggestion = closest_key(key, n, sp->known);
  if (sp->only_close && !suggestion) return;
  note_unknown(sp, line, key, n, suggestion, NULL);
}

static void check_json_key(void *ctx, const char *key, size_t n, cfgfile_node value) {
  (void)value; /* a JSON value carries no line */
  check_key(ctx, key, n, 0);
}

/* The key's own node (YAML) gives the line to name. */
static void check_keys(speller *sp, cfgfile_node map, const char *prefix, const cfgfile_keys *kp,
                       const char *const *shared, key_set *known) {
  if (!cfgfile_is_map(map)) return;
  known_at(kp, prefix, known);
  sp->prefix = prefix, sp->known = known, sp->only_close = false;
  for (size_t i = 0; shared && shared[i]; i++) sp->only_close |= !strcmp(prefix, shared[i]);
  if (map.j) {
    cfgfile_each(map, check_json_key, sp);
    return;
  }
  for (yaml_node_pair_t *p = map.y->data.mapping.pairs.start; p < map.y->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(map.doc, p->key);
    if (!k || k->type != YAML_SCALAR_NODE) continue;
    check_key(sp, (const char *)k->data.scalar.value, k->data.scalar.length,
              (size_t)k->start_mark.line + 1);
  }
}

/* Checks every mapping the known keys pass through ("", "harnesses.", "logging.", ...), in
 * the order they first appear. */
char *cfgfile_unknown_keys(cfgfile_node root, const cfgfile_keys *kp, const char *path,
                           const char *const *shared, const char *unknown, bool *out_of_memory) {
  speller sp = {.unknown = unknown, .keys = kp};
  key_set *maps = malloc(sizeof *maps), *known = malloc(sizeof *known);
  if (!maps || !known) {
    free(maps);
    free(known);
    *out_of_memory = true;
    return NULL;
  }
  maps->n = 0;
  snprintf(maps->name[maps->n++], CFGFILE_KEY_LEN, "%s", "");
  for (size_t i = 0; i < kp->n; i++)
    for (const char *dot = strchr(kp->path[i], '.'); dot; dot = strchr(dot + 1, '.')) {
      int n = (int)(dot - kp->path[i] + 1);
      bool seen = false;
      for (size_t k = 0; k < maps->n && !seen; k++)
        seen = (int)strlen(maps->name[k]) == n && !strncmp(maps->name[k], kp->path[i], (size_t)n);
      if (!seen && maps->n < CFGFILE_KEYS_MAX)
        snprintf(maps->name[maps->n++], CFGFILE_KEY_LEN, "%.*s", n, kp->path[i]);
    }
  for (size_t k = 0; k < maps->n; k++) {
    char at[CFGFILE_KEY_LEN];
    snprintf(at, sizeof at, "%s", maps->name[k]);
    size_t n = strlen(at);
    if (n) at[n - 1] = '\0'; /* "harnesses.opencode." -> "harnesses.opencode" */
    check_keys(&sp, n ? cfgfile_at(root, at) : root, maps->name[k], kp, shared, known);
  }
  free(maps);
  free(known);
  if (sp.count > UNKNOWN_KEYS_MAX && sp.text) {
    char *more = text_printf(&sp.oom, "%s; and %zu more", sp.text, sp.count - UNKNOWN_KEYS_MAX);
    if (more) free(sp.text), sp.text = more;
  }
  if (sp.text) {
    char *full = text_printf(&sp.oom, "config %s: %s", path, sp.text);
    if (full) free(sp.text), sp.text = full;
  }
  if (sp.oom) *out_of_memory = true;
  return sp.text;
}
