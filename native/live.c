/* live — the live signals, kept until their spans are built; see live.h. */
#include "live.h"

#include <stdlib.h>
#include <string.h>

#include "payload.h"

#define PARAMS_MAX (16 * 1024) /* invocation parameters longer than this are left out */
#define SHORT_MAX 4096         /* a message, name, reply... is cut here */
#define PATTERNS_MAX 16
#define ERRORS_MAX 32
#define COMMANDS_MAX 16

/* A text several calls share (a turn's system prompt). */
typedef struct live_text {
  size_t refs, len;
  char data[];
} live_text;

typedef struct {
  int64_t at;
  char *user, *agent;
  live_text *system;
  char *params;
  char **tools;
  size_t n_tools;
  bool has_tools;
} call_rec;

typedef struct {
  char *id;
  uint64_t fed; /* when it was last fed (the store's clock): the least recent goes first */
  size_t bytes;
  call_rec *calls;
  size_t n_calls;
  live_retry *retries;
  size_t n_retries;
  live_permission *perms;
  size_t n_perms;
  live_error *errors;
  size_t n_errors;
  live_command *commands;
  size_t n_commands;
} session_rec;

typedef struct {
  char *id, *description, *schema;
} tool_rec;

struct live_store {
  session_rec *sessions;
  size_t n_sessions, cap_sessions;
  tool_rec *tools;
  size_t n_tools, cap_tools;
  uint64_t clock;
  size_t bytes;
};

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                                */

/* A copy of len bytes of s, cut to max bytes (at a character boundary). */
static char *copy_text(const char *s, size_t len, size_t max, bool *oom) {
  if (len > max) {
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;
  }
  char *out = malloc(len + 1);
  if (!out) {
    *oom = true;
    return NULL;
  }
  memcpy(out, s, len);
  out[len] = '\0';
  return out;
}

/* A copy of a JSON string member, cut to max bytes; NULL when absent. */
static char *copy_str(const json_t *obj, const char *key, size_t max, bool *oom) {
  const json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? copy_text(json_string_value(v), json_string_length(v), max, oom)
                           : NULL;
}

/* A millisecond time or count member; -1 when absent or not a finite number. */
static int64_t get_ms(const json_t *obj, const char *key) {
  const json_t *v = json_object_get(obj, key);
  if (!json_is_number(v)) return -1;
  double d = json_number_value(v);
  if (!(d >= 0 && d < 1e15)) return -1;
  return (int64_t)d;
}

static size_t slen(const char *s) { return s ? strlen(s) + 1 : 0; }

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static void text_unref(live_text *t) {
  if (t && --t->refs == 0) free(t);
}

static void free_list(char **items, size_t n) {
  for (size_t i = 0; i < n; i++) free(items[i]);
  free(items);
}

static void call_free(call_rec *c) {
  free(c->user);
  free(c->agent);
  text_unref(c->system);
  free(c->params);
  free_list(c->tools, c->n_tools);
}

static void perm_free(live_permission *p) {
  free(p->id);
  free(p->type);
  free(p->message);
  free(p->call);
  free(p->reply);
  free_list(p->patterns, p->n_patterns);
}

static void session_clear(session_rec *s) {
  for (size_t i = 0; i < s->n_calls; i++) call_free(&s->calls[i]);
  for (size_t i = 0; i < s->n_retries; i++) free(s->retries[i].message);
  for (size_t i = 0; i < s->n_perms; i++) perm_free(&s->perms[i]);
  for (size_t i = 0; i < s->n_errors; i++) free(s->errors[i].name), free(s->errors[i].message);
  for (size_t i = 0; i < s->n_commands; i++)
    free(s->commands[i].name), free(s->commands[i].arguments);
  free(s->calls), free(s->retries), free(s->perms), free(s->errors), free(s->commands);
  free(s->id);
}

live_store *live_new(void) { return calloc(1, sizeof(live_store)); }

void live_free(live_store *ls) {
  if (!ls) return;
  for (size_t i = 0; i < ls->n_sessions; i++) session_clear(&ls->sessions[i]);
  free(ls->sessions);
  for (size_t i = 0; i < ls->n_tools; i++)
    free(ls->tools[i].id), free(ls->tools[i].description), free(ls->tools[i].schema);
  free(ls->tools);
  free(ls);
}

static session_rec *find(const live_store *ls, const char *id) {
  for (size_t i = 0; id && i < ls->n_sessions; i++)
    if (strcmp(ls->sessions[i].id, id) == 0) return &ls->sessions[i];
  return NULL;
}

static void drop_session(live_store *ls, size_t i) {
  ls->bytes -= ls->sessions[i].bytes;
  session_clear(&ls->sessions[i]);
  ls->sessions[i] = ls->sessions[--ls->n_sessions];
}

/* The least recently fed session goes, until there is room for one more and the bytes fit. */
static void evict(live_store *ls, const session_rec *keep) {
  while (ls->n_sessions >= LIVE_SESSIONS_MAX || ls->bytes > LIVE_BYTES_MAX) {
    size_t oldest = SIZE_MAX;
    for (size_t i = 0; i < ls->n_sessions; i++)
      if (&ls->sessions[i] != keep &&
          (oldest == SIZE_MAX || ls->sessions[i].fed < ls->sessions[oldest].fed))
        oldest = i;
    if (oldest == SIZE_MAX) return;
    drop_session(ls, oldest);
  }
}

static session_rec *session_for(live_store *ls, const char *id) {
  session_rec *s = find(ls, id);
  if (s) return s;
  evict(ls, NULL);
  if (ls->n_sessions == ls->cap_sessions) {
    size_t cap = ls->cap_sessions ? ls->cap_sessions * 2 : 8;
    session_rec *grown = realloc(ls->sessions, cap * sizeof *grown);
    if (!grown) return NULL;
    ls->sessions = grown;
    ls->cap_sessions = cap;
  }
  s = &ls->sessions[ls->n_sessions];
  memset(s, 0, sizeof *s);
  if (!(s->id = strdup(id))) return NULL;
  ls->n_sessions++;
  return s;
}

/* Room for one more item in an array of n (of size each, at most max): the oldest goes when
 * full. Returns the slot, or NULL when memory ran out. */
static void *slot(void **items, size_t *n, size_t size, size_t max, void (*drop)(void *)) {
  if (*n >= max) {
    drop(*items);
    memmove(*items, (char *)*items + size, (*n - 1) * size);
    (*n)--;
  }
  void *grown = realloc(*items, (*n + 1) * size);
  if (!grown) return NULL;
  *items = grown;
  return (char *)grown + (*n)++ * size;
}

static void drop_call(void *p) { call_free(p); }
static void drop_retry(void *p) { free(((live_retry *)p)->message); }
static void drop_perm(void *p) { perm_free(p); }
static void drop_error(void *p) {
  live_error *e = p;
  free(e->name), free(e->message);
}
static void drop_command(void *p) {
  live_command *c = p;
  free(c->name), free(c->arguments);
}

/* A string array member as owned copies (at most max items); NULL/0 when absent. */
static char **copy_list(const json_t *arr, size_t max, size_t *n, bool *oom) {
  *n = 0;
  if (!json_is_array(arr)) return NULL;
  size_t total = json_array_size(arr) < max ? json_array_size(arr) : max;
  char **out = calloc(total ? total : 1, sizeof *out);
  if (!out) {
    *oom = true;
    return NULL;
  }
  for (size_t i = 0; i < total; i++) {
    const json_t *v = json_array_get(arr, i);
    if (!json_is_string(v)) continue;
    out[*n] = copy_text(json_string_value(v), json_string_length(v), SHORT_MAX, oom);
    if (out[*n]) (*n)++;
  }
  return out;
}

static size_t session_bytes(const session_rec *s) {
  size_t b = 0;
  for (size_t i = 0; i < s->n_calls; i++) {
    const call_rec *c = &s->calls[i];
    b += sizeof *c + slen(c->user) + slen(c->agent) + slen(c->params);
    for (size_t k = 0; k < c->n_tools; k++) b += slen(c->tools[k]);
    /* a shared system prompt counts once: the calls of a turn share it one after the other */
    if (c->system && (i == 0 || s->calls[i - 1].system != c->system)) b += c->system->len;
  }
  for (size_t i = 0; i < s->n_retries; i++) b += sizeof s->retries[i] + slen(s->retries[i].message);
  for (size_t i = 0; i < s->n_perms; i++) {
    const live_permission *p = &s->perms[i];
    b +=
        sizeof *p + slen(p->id) + slen(p->type) + slen(p->message) + slen(p->call) + slen(p->reply);
    for (size_t k = 0; k < p->n_patterns; k++) b += slen(p->patterns[k]);
  }
  for (size_t i = 0; i < s->n_errors; i++)
    b += sizeof s->errors[i] + slen(s->errors[i].name) + slen(s->errors[i].message);
  for (size_t i = 0; i < s->n_commands; i++)
    b += sizeof s->commands[i] + slen(s->commands[i].name) + slen(s->commands[i].arguments);
  return b;
}

/* The session's bytes counted again (after items came or went), and the store's total. */
static void recount(live_store *ls, session_rec *s) {
  ls->bytes -= s->bytes;
  s->bytes = session_bytes(s);
  ls->bytes += s->bytes;
}

/* ------------------------------------------------------------------------------------------ */
/* Ingest                                                                                       */

/* The system prompt of the session's latest call with this user message, for systemSame. */
static live_text *previous_system(const session_rec *s, const char *user) {
  for (size_t i = s->n_calls; i-- > 0;)
    if (same(s->calls[i].user, user) && s->calls[i].system) return s->calls[i].system;
  return NULL;
}

static int ingest_call(session_rec *s, const json_t *c) {
  int64_t at = get_ms(c, "at");
  if (at < 0) return 1;
  bool oom = false;
  call_rec r = {.at = at};
  r.user = copy_str(c, "user", SHORT_MAX, &oom);
  r.agent = copy_str(c, "agent", SHORT_MAX, &oom);
  const json_t *system = json_object_get(c, "system");
  if (json_is_string(system)) {
    size_t len = json_string_length(system);
    if (len > LIVE_TEXT_MAX) {
      len = LIVE_TEXT_MAX;
      while (len > 0 && ((unsigned char)json_string_value(system)[len] & 0xC0) == 0x80) len--;
    }
    r.system = malloc(sizeof *r.system + len + 1);
    if (r.system) {
      r.system->refs = 1;
      r.system->len = len;
      memcpy(r.system->data, json_string_value(system), len);
      r.system->data[len] = '\0';
    } else {
      oom = true;
    }
  } else if (json_is_true(json_object_get(c, "systemSame"))) {
    r.system = previous_system(s, r.user);
    if (r.system) r.system->refs++;
  }
  const json_t *params = json_object_get(c, "params");
  if (json_is_object(params) && json_object_size(params) > 0) {
    r.params = json_dumps(params, JSON_COMPACT);
    if (!r.params) oom = true;
    else if (strlen(r.params) > PARAMS_MAX) free(r.params), r.params = NULL;
  }
  const json_t *tools = json_object_get(c, "tools");
  if (json_is_array(tools)) {
    r.has_tools = true;
    r.tools = copy_list(tools, 512, &r.n_tools, &oom);
  }
  call_rec *to =
      oom ? NULL
          : slot((void **)&s->calls, &s->n_calls, sizeof *s->calls, LIVE_ITEMS_MAX, drop_call);
  if (!to) {
    call_free(&r);
    return -1;
  }
  *to = r;
  return 0;
}

static int ingest_retry(session_rec *s, const json_t *c) {
  int64_t at = get_ms(c, "at");
  if (at < 0) return 1;
  bool oom = false;
  live_retry r = {.at = at, .attempt = get_ms(c, "attempt"), .next = get_ms(c, "next")};
  r.message = copy_str(c, "message", SHORT_MAX, &oom);
  live_retry *to = oom ? NULL
                       : slot((void **)&s->retries, &s->n_retries, sizeof *s->retries,
                              LIVE_ITEMS_MAX, drop_retry);
  if (!to) {
    free(r.message);
    return -1;
  }
  *to = r;
  return 0;
}

/* A permission asked, or the answer to one asked before: merged by id. */
static int ingest_permission(session_rec *s, const json_t *c) {
  const char *id = payload_str(c, "id");
  if (!id || !*id) return 1;
  live_permission *p = NULL;
  for (size_t i = 0; i < s->n_perms && !p; i++)
    if (strcmp(s->perms[i].id, id) == 0) p = &s->perms[i];
  bool oom = false;
  if (!p) {
    p = slot((void **)&s->perms, &s->n_perms, sizeof *s->perms, LIVE_ITEMS_MAX, drop_perm);
    if (!p) return -1;
    memset(p, 0, sizeof *p);
    p->asked = p->replied = -1;
    if (!(p->id = strdup(id))) oom = true;
  }
  /* each field once: what the ask said, then what the answer adds */
#define FILL(field, key)                                                                           \
  if (!p->field) p->field = copy_str(c, key, SHORT_MAX, &oom);
  FILL(type, "type");
  FILL(message, "message");
  FILL(call, "call");
  FILL(reply, "reply");
#undef FILL
  if (!p->patterns) {
    p->patterns = copy_list(json_object_get(c, "patterns"), PATTERNS_MAX, &p->n_patterns, &oom);
  }
  if (p->asked < 0) p->asked = get_ms(c, "asked");
  if (p->replied < 0) p->replied = get_ms(c, "replied");
  return oom ? -1 : 0;
}

static int ingest_error(session_rec *s, const json_t *c) {
  int64_t at = get_ms(c, "at");
  if (at < 0 || !payload_str(c, "name")) return 1;
  bool oom = false;
  live_error e = {.at = at};
  e.name = copy_str(c, "name", SHORT_MAX, &oom);
  e.message = copy_str(c, "message", SHORT_MAX, &oom);
  live_error *to =
      oom ? NULL
          : slot((void **)&s->errors, &s->n_errors, sizeof *s->errors, ERRORS_MAX, drop_error);
  if (!to) {
    free(e.name), free(e.message);
    return -1;
  }
  *to = e;
  return 0;
}

static int ingest_command(session_rec *s, const json_t *c) {
  int64_t at = get_ms(c, "at");
  if (at < 0 || !payload_str(c, "name")) return 1;
  bool oom = false;
  live_command k = {.at = at};
  k.name = copy_str(c, "name", SHORT_MAX, &oom);
  k.arguments = copy_str(c, "arguments", LIVE_TEXT_MAX, &oom);
  live_command *to = oom ? NULL
                         : slot((void **)&s->commands, &s->n_commands, sizeof *s->commands,
                                COMMANDS_MAX, drop_command);
  if (!to) {
    free(k.name), free(k.arguments);
    return -1;
  }
  *to = k;
  return 0;
}

/* A tool definition, replacing an earlier one of the same id. */
static int ingest_tool(live_store *ls, const json_t *t) {
  const char *id = payload_str(t, "id");
  if (!payload_id_ok(id)) return 1;
  const char *description = payload_str(t, "description");
  json_t *parameters = json_object_get(t, "parameters");
  parameters = json_is_object(parameters) ? json_incref(parameters) : json_object();
  json_t *schema =
      json_pack("{s:s, s:{s:s, s:s, s:o}}", "type", "function", "function", "name", id,
                "description", description ? description : "", "parameters", parameters);
  char *text = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
  json_decref(schema);
  if (!text) return -1;
  if (strlen(text) > LIVE_TEXT_MAX) { /* cut JSON is not JSON: the schema without parameters */
    free(text);
    json_t *bare = json_pack("{s:s, s:{s:s, s:s}}", "type", "function", "function", "name", id,
                             "description", description ? description : "");
    text = bare ? json_dumps(bare, JSON_COMPACT) : NULL;
    json_decref(bare);
    if (!text) return -1;
  }
  char *desc = strdup(description ? description : "");
  tool_rec *r = NULL;
  for (size_t i = 0; i < ls->n_tools && !r; i++)
    if (strcmp(ls->tools[i].id, id) == 0) r = &ls->tools[i];
  if (!r) {
    if (ls->n_tools == LIVE_TOOLS_MAX) {
      free(text), free(desc);
      return 1;
    }
    if (ls->n_tools == ls->cap_tools) {
      size_t cap = ls->cap_tools ? ls->cap_tools * 2 : 16;
      tool_rec *grown = realloc(ls->tools, cap * sizeof *grown);
      if (!grown) {
        free(text), free(desc);
        return -1;
      }
      ls->tools = grown;
      ls->cap_tools = cap;
    }
    r = &ls->tools[ls->n_tools];
    r->id = strdup(id);
    r->description = r->schema = NULL;
    if (!r->id) {
      free(text), free(desc);
      return -1;
    }
    ls->n_tools++;
  }
  free(r->description), free(r->schema);
  r->description = desc;
  r->schema = text;
  return desc ? 0 : -1;
}

typedef int (*ingest_fn)(session_rec *s, const json_t *item);

static long ingest_list(session_rec *s, const json_t *arr, ingest_fn fn, bool *oom) {
  long skipped = 0;
  for (size_t i = 0; i < json_array_size(arr); i++) {
    int rc = fn(s, json_array_get(arr, i));
    if (rc > 0) skipped++;
    if (rc < 0) *oom = true;
  }
  return skipped;
}

long live_ingest(live_store *ls, const json_t *live) {
  if (!json_is_object(live)) return 0;
  long skipped = 0;
  bool oom = false;
  const json_t *tools = json_object_get(live, "tools");
  for (size_t i = 0; i < json_array_size(tools); i++) {
    int rc = ingest_tool(ls, json_array_get(tools, i));
    if (rc > 0) skipped++;
    if (rc < 0) oom = true;
  }
  const char *id;
  json_t *v;
  json_object_foreach((json_t *)json_object_get(live, "sessions"), id, v) {
    if (!payload_id_ok(id) || !json_is_object(v)) {
      skipped++;
      continue;
    }
    session_rec *s = session_for(ls, id);
    if (!s) {
      oom = true;
      break;
    }
    s->fed = ++ls->clock;
    skipped += ingest_list(s, json_object_get(v, "calls"), ingest_call, &oom);
    skipped += ingest_list(s, json_object_get(v, "retries"), ingest_retry, &oom);
    skipped += ingest_list(s, json_object_get(v, "permissions"), ingest_permission, &oom);
    skipped += ingest_list(s, json_object_get(v, "errors"), ingest_error, &oom);
    skipped += ingest_list(s, json_object_get(v, "commands"), ingest_command, &oom);
    recount(ls, s);
    evict(ls, s);
  }
  return oom ? -1 : skipped;
}

/* ------------------------------------------------------------------------------------------ */
/* Lookups                                                                                      */

bool live_call_for(const live_store *ls, const char *session, const char *user, const char *agent,
                   int64_t from_ms, int64_t to_ms, live_call *out) {
  memset(out, 0, sizeof *out);
  const session_rec *s = find(ls, session);
  bool found = false;
  for (size_t i = 0; s && i < s->n_calls; i++) {
    const call_rec *c = &s->calls[i];
    if (c->at < from_ms || c->at >= to_ms) continue;
    if (user && c->user && strcmp(user, c->user) != 0) continue;
    if (agent && c->agent && strcmp(agent, c->agent) != 0) continue;
    found = true;
    if (!out->system && c->system) out->system = c->system->data, out->system_len = c->system->len;
    if (!out->params && c->params) out->params = c->params;
    if (!out->has_tools && c->has_tools) {
      out->has_tools = true;
      out->tools = (const char *const *)c->tools;
      out->n_tools = c->n_tools;
    }
  }
  return found;
}

/* The retries of session seen in [from_ms, to_ms), oldest first, up to max in out; returns how
 * many there are (may exceed max). */
static size_t live_retries(const live_store *ls, const char *session, int64_t from_ms,
                           int64_t to_ms, const live_retry **out, size_t max) {
  const session_rec *s = find(ls, session);
  size_t n = 0;
  for (size_t i = 0; s && i < s->n_retries; i++) {
    const live_retry *r = &s->retries[i];
    if (r->at < from_ms || r->at >= to_ms) continue;
    if (n < max) out[n] = r;
    n++;
  }
  return n;
}

size_t live_permissions(const live_store *ls, const char *session, const char *message,
                        const char *call, const live_permission **out, size_t max) {
  const session_rec *s = find(ls, session);
  size_t n = 0;
  for (size_t i = 0; s && i < s->n_perms; i++) {
    const live_permission *p = &s->perms[i];
    if (!same(p->message, message) || !same(p->call, call)) continue;
    if (n < max) out[n] = p;
    n++;
  }
  return n;
}

bool live_permission_pending(const live_store *ls, const char *session, const char *message,
                             const char *call) {
  const live_permission *p[LIVE_ITEMS_MAX];
  size_t n = live_permissions(ls, session, message, call, p, LIVE_ITEMS_MAX);
  for (size_t i = 0; i < n && i < LIVE_ITEMS_MAX; i++)
    if (!p[i]->reply) return true;
  return false;
}

size_t live_errors(const live_store *ls, const char *session, int64_t from_ms, int64_t to_ms,
                   const live_error **out, size_t max) {
  const session_rec *s = find(ls, session);
  size_t n = 0;
  for (size_t i = 0; s && i < s->n_errors; i++) {
    const live_error *e = &s->errors[i];
    if (e->at < from_ms || e->at >= to_ms) continue;
    if (n < max) out[n] = e;
    n++;
  }
  return n;
}

/* The last command of session seen in (from_ms, to_ms], or NULL. */
static const live_command *live_command_for(const live_store *ls, const char *session,
                                            int64_t from_ms, int64_t to_ms) {
  const session_rec *s = find(ls, session);
  const live_command *found = NULL;
  for (size_t i = 0; s && i < s->n_commands; i++)
    if (s->commands[i].at > from_ms && s->commands[i].at <= to_ms) found = &s->commands[i];
  return found;
}

void live_turn_totals(const live_store *ls, const char *session, int64_t from_ms, int64_t to_ms,
                      int64_t *retries, int64_t *permission_wait_ms) {
  const session_rec *s = find(ls, session);
  for (size_t i = 0; s && i < s->n_retries; i++)
    if (s->retries[i].at >= from_ms && s->retries[i].at < to_ms) (*retries)++;
  for (size_t i = 0; s && i < s->n_perms; i++) {
    const live_permission *p = &s->perms[i];
    if (p->asked >= from_ms && p->asked < to_ms && p->replied >= p->asked)
      *permission_wait_ms += p->replied - p->asked;
  }
}

static const tool_rec *tool(const live_store *ls, const char *id) {
  for (size_t i = 0; id && i < ls->n_tools; i++)
    if (strcmp(ls->tools[i].id, id) == 0) return &ls->tools[i];
  return NULL;
}

const char *live_tool_description(const live_store *ls, const char *id) {
  const tool_rec *t = tool(ls, id);
  return t ? t->description : NULL;
}

const char *live_tool_schema(const live_store *ls, const char *id) {
  const tool_rec *t = tool(ls, id);
  return t ? t->schema : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* The signals of a payload's messages                                                          */

/* When message m was created (ms), -1 unknown. */
static int64_t created(const message_view *m) {
  return payload_ms(payload_path(m->info, "time", "created"));
}

/* [created of assistant i, created of the next assistant of the session): the only time its
 * chat.params and retries can have been seen (OpenCode's model calls in a session run one after
 * the other, each after its message was created). */
static bool call_window(const session_view *sv, size_t i, int64_t *from, int64_t *to) {
  *from = created(&sv->messages[i]);
  *to = INT64_MAX;
  for (size_t j = i + 1; j < sv->n_messages; j++)
    if (payload_is_assistant(&sv->messages[j])) {
      int64_t t = created(&sv->messages[j]);
      if (t >= 0) *to = t;
      break;
    }
  return *from >= 0;
}

bool live_call_of(const live_store *ls, const session_view *sv, size_t i, live_call *out) {
  int64_t from, to;
  memset(out, 0, sizeof *out);
  const message_view *m = &sv->messages[i];
  return call_window(sv, i, &from, &to) &&
         live_call_for(ls, sv->id, m->parent_id, payload_str(m->info, "agent"), from, to, out);
}

size_t live_retries_of(const live_store *ls, const session_view *sv, size_t i,
                       const live_retry **out, size_t max) {
  int64_t from, to;
  return call_window(sv, i, &from, &to) ? live_retries(ls, sv->id, from, to, out, max) : 0;
}

bool live_turn_window(const session_view *sv, size_t u, int64_t *from_ms, int64_t *to_ms) {
  *from_ms = created(&sv->messages[u]);
  *to_ms = INT64_MAX;
  for (size_t j = u + 1; j < sv->n_messages; j++)
    if (payload_is_user(&sv->messages[j])) {
      int64_t t = created(&sv->messages[j]);
      if (t >= 0) *to_ms = t;
      break;
    }
  return *from_ms >= 0;
}

const live_command *live_command_of(const live_store *ls, const session_view *sv, size_t u) {
  int64_t at = created(&sv->messages[u]), after = INT64_MIN;
  if (at < 0) return NULL;
  for (size_t j = u; j-- > 0;)
    if (payload_is_user(&sv->messages[j])) {
      after = created(&sv->messages[j]);
      break;
    }
  return live_command_for(ls, sv->id, after, at);
}

/* ------------------------------------------------------------------------------------------ */
/* Release                                                                                      */

/* Keeps the items of an array for which keep() says so, freeing the others. */
#define FILTER(arr, n, type, keep_expr, free_stmt)                                                 \
  do {                                                                                             \
    size_t kept_ = 0;                                                                              \
    for (size_t i_ = 0; i_ < (n); i_++) {                                                          \
      type *it = &(arr)[i_];                                                                       \
      if (keep_expr) (arr)[kept_++] = *it;                                                         \
      else {                                                                                       \
        free_stmt;                                                                                 \
      }                                                                                            \
    }                                                                                              \
    (n) = kept_;                                                                                   \
  } while (0)

static bool in(int64_t t, int64_t from, int64_t to) { return t >= from && t <= to; }

void live_release(live_store *ls, const char *session, int64_t from_ms, int64_t to_ms) {
  session_rec *s = find(ls, session);
  if (!s) return;
  FILTER(s->calls, s->n_calls, call_rec, !in(it->at, from_ms, to_ms), call_free(it));
  FILTER(s->retries, s->n_retries, live_retry, !in(it->at, from_ms, to_ms), free(it->message));
  /* a permission counts from its ask, or from its answer when the ask came before this process */
  FILTER(s->perms, s->n_perms, live_permission,
         !(in(it->asked >= 0 ? it->asked : it->replied, from_ms, to_ms) ||
           (from_ms == INT64_MIN && to_ms == INT64_MAX)),
         perm_free(it));
  FILTER(s->errors, s->n_errors, live_error, !in(it->at, from_ms, to_ms), drop_error(it));
  FILTER(s->commands, s->n_commands, live_command, !in(it->at, from_ms, to_ms), drop_command(it));
  recount(ls, s);
  if (!s->n_calls && !s->n_retries && !s->n_perms && !s->n_errors && !s->n_commands)
    drop_session(ls, (size_t)(s - ls->sessions));
}

size_t live_sessions(const live_store *ls) { return ls->n_sessions; }
size_t live_bytes(const live_store *ls) { return ls->bytes; }
