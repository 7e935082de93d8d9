/* binding — the Node-API glue, and nothing else: argument checks, JS <-> C conversion, a
 * promise for flush(). All behaviour lives in tracer.c and below, which know nothing of
 * Node-API. One tracer per process, shared by every environment that loads the addon. */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#include "config.h"
#include "tracer.h"
#include "version.h"

extern char **environ;

/* Every napi_* status checked; on failure the pending exception (or a generic one) surfaces. */
#define NAPI_CALL(env, call)                                             \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      bool pending_;                                                     \
      napi_is_exception_pending((env), &pending_);                       \
      if (!pending_) napi_throw_error((env), NULL, "Node-API call failed: " #call); \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

#define ARGS(env, info, n)                                                    \
  size_t argc = (n);                                                          \
  napi_value argv[(n) > 0 ? (n) : 1];                                         \
  NAPI_CALL((env), napi_get_cb_info((env), (info), &argc, argv, NULL, NULL))

static tracer *the_tracer;
static int environments; /* loaded environments; the last one to go shuts the tracer down */

static tracer *get_tracer(napi_env env) {
  if (!the_tracer) the_tracer = tracer_open((const char *const *)environ, OAT_VERSION);
  if (!the_tracer) napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
  return the_tracer;
}

static napi_value make_int(napi_env env, double v) {
  napi_value out;
  return napi_create_double(env, v, &out) == napi_ok ? out : NULL;
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value out;
  return napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out) == napi_ok ? out : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* reconcile(payload: object | string) -> { spans, error?, childrenUnlinked? }
 * Text goes to the core as it is; any other value is serialised here (JSON.stringify), and
 * rejected saying why when it cannot be (a BigInt, a cycle). lib/ hands over only what the
 * core must see of a snapshot (select, below). Nothing here throws for payload content.     */

/* A growable byte buffer; `failed` once memory ran out. */
typedef struct {
  char *data;
  size_t len, cap;
  bool failed;
} buffer;

static char *buffer_reserve(buffer *b, size_t n) {
  if (b->failed) return NULL;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
      b->failed = true;
      return NULL;
    }
    b->data = data, b->cap = cap;
  }
  return b->data + b->len;
}

/* Appends the text of a JS string, whole. false when v is not a string or memory ran out. */
static bool buffer_add_string(napi_env env, napi_value v, buffer *b) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  char *at = buffer_reserve(b, len);
  if (!at || napi_get_value_string_utf8(env, v, at, len + 1, &len) != napi_ok) return false;
  b->len += len;
  return true;
}

/* A pending exception (a toJSON or getter that threw) is not ours to surface: clear it. */
static bool ok_or_clear(napi_env env, napi_status status) {
  if (status == napi_ok) return true;
  bool pending = false;
  napi_value ignored;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    napi_get_and_clear_last_exception(env, &ignored);
  return false;
}

/* The first line of the message of a thrown JS value, at most size - 1 bytes, into out. */
static void exception_text(napi_env env, napi_value error, char *out, size_t size) {
  napi_value message;
  napi_valuetype type = napi_undefined;
  size_t len = 0;
  out[0] = '\0';
  if (napi_typeof(env, error, &type) == napi_ok && type == napi_object &&
      ok_or_clear(env, napi_get_named_property(env, error, "message", &message)) &&
      napi_get_value_string_utf8(env, message, out, size, &len) == napi_ok)
    out[strcspn(out, "\r\n")] = '\0';
}

/* JSON.stringify(payload) into json. false when it threw (a BigInt, a cycle, a toJSON that
 * throws): why is in reason. Nothing as JSON (undefined, a function) gives "null", which the
 * core rejects. */
static bool payload_text(napi_env env, napi_value payload, buffer *json, char *reason, size_t size) {
  napi_value global, JSON, stringify, text;
  napi_valuetype type = napi_undefined;
  json->len = 0;
  if (napi_get_global(env, &global) != napi_ok ||
      napi_get_named_property(env, global, "JSON", &JSON) != napi_ok ||
      napi_get_named_property(env, JSON, "stringify", &stringify) != napi_ok) {
    ok_or_clear(env, napi_generic_failure);
    snprintf(reason, size, "payload cannot be written as JSON here (no JSON.stringify)");
    return false;
  }
  if (napi_call_function(env, JSON, stringify, 1, &payload, &text) != napi_ok) {
    bool pending = false;
    napi_value error;
    char why[120] = "";
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &error) == napi_ok)
      exception_text(env, error, why, sizeof why);
    snprintf(reason, size, "payload cannot be written as JSON (JSON.stringify: %s)", why[0] ? why : "it threw");
    return false;
  }
  if (napi_typeof(env, text, &type) == napi_ok && type == napi_string && buffer_add_string(env, text, json))
    return true;
  json->len = 0;
  char *at = buffer_reserve(json, 4);
  if (at) memcpy(at, "null", 5), json->len = 4;
  return true;
}

#define RETURN_MEMORY_AFTER (8u * 1024 * 1024) /* bytes of payload text */

static napi_value oat_reconcile(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  tracer *t = get_tracer(env);
  if (!t) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc > 0) NAPI_CALL(env, napi_typeof(env, argv[0], &type));
  else NAPI_CALL(env, napi_get_undefined(env, &argv[0]));

  buffer json = {0};
  char reason[200];
  bool written = true;
  if (type == napi_string) {
    if (!buffer_add_string(env, argv[0], &json)) json.failed = true;
  } else {
    written = payload_text(env, argv[0], &json, reason, sizeof reason);
  }
  reconcile_result r = {0};
  if (!written) {
    tracer_reject(t, reason, &r);
  } else if (json.failed || !json.data) {
    free(json.data);
    napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
    return NULL;
  } else {
    tracer_reconcile(t, json.data, json.len, &r);
  }
  free(json.data);
#ifdef __GLIBC__
  /* A big payload leaves its parse tree's memory with malloc, resident in OpenCode's process;
   * hand it back (a few ms, after large payloads only). */
  if (json.len >= RETURN_MEMORY_AFTER) malloc_trim(0);
#endif

  napi_value out;
  NAPI_CALL(env, napi_create_object(env, &out));
  NAPI_CALL(env, napi_set_named_property(env, out, "spans", make_int(env, (double)r.spans)));
  if (r.turns) NAPI_CALL(env, napi_set_named_property(env, out, "turns", make_int(env, (double)r.turns)));
  if (r.error[0])
    NAPI_CALL(env, napi_set_named_property(env, out, "error", make_string(env, r.error)));
  if (r.children_unlinked)
    NAPI_CALL(env, napi_set_named_property(env, out, "childrenUnlinked",
                                           make_int(env, (double)r.children_unlinked)));
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* The fast path (tracer.h): lib/ walks the snapshot, the core decides what reconcile must see.
 *
 * select(sessionID, closing, roles: Uint8Array, turns: Int32Array, ids, children, tasks, calls)
 *   -> Uint8Array keep, one byte per message then one per child session (0 skip, 1 keep,
 *      2 keep, in a turn that may close now), or undefined when the whole payload must go.
 *   roles[i]: 0 other, 1 user, 2 assistant; turns[i]: index of the turn's user message, -1
 *   none; ids: the info.id of each user message and of each message of the last turn, in
 *   message order; children: <count> then per child session <sessionID> <parentSessionID>
 *   <parentCallID> <info.id> <flags: 1 parentCallID set, 2 info.id set>; tasks: <count> then
 *   per `task` part of the messages <message index> <flags: 1 callID set, 2
 *   state.metadata.sessionId set> <callID> <sessionId>; calls: <count> then the callID of
 *   each `tool` part of the last turn's latest assistant message. Every field is ended by a NUL: ids
 *   hold none, and a field that does changes the count of fields, which is checked, and the
 *   whole payload goes.                                                                     */

/* NUL-ended fields read in order; `bad` once one is missing or malformed. */
typedef struct {
  char *at, *end;
  bool bad;
} fields;

static const char *field(fields *f) {
  if (f->at >= f->end) {
    f->bad = true;
    return "";
  }
  char *s = f->at;
  f->at += strlen(s) + 1;
  return s;
}

static size_t field_number(fields *f) {
  const char *s = field(f);
  char *end;
  unsigned long long n = strtoull(s, &end, 10);
  if (!*s || *end || n > 0x7fffffff) f->bad = true;
  return f->bad ? 0 : (size_t)n;
}

/* The NUL-ended fields of a JS string, in text (the caller frees text.data). */
static bool read_fields(napi_env env, napi_value v, buffer *text, fields *f) {
  if (!buffer_add_string(env, v, text)) return false;
  *f = (fields){text->data, text->data + text->len, false};
  return text->len > 0 && text->data[text->len - 1] == '\0';
}

/* A session id argument as a C string of at most 255 bytes (longer ones are invalid). */
static bool read_session_id(napi_env env, napi_value v, char out[260]) {
  size_t len = 0;
  return napi_get_value_string_utf8(env, v, out, 260, &len) == napi_ok && len < 259 &&
         strlen(out) == len;
}

static bool typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *n) {
  bool is = false;
  napi_typedarray_type type;
  napi_value buffer_v;
  size_t offset;
  return napi_is_typedarray(env, v, &is) == napi_ok && is &&
         napi_get_typedarray_info(env, v, &type, n, data, &buffer_v, &offset) == napi_ok && type == want;
}

/* A new Uint8Array of n bytes; its memory in *data. NULL when it cannot be made. */
static napi_value new_bytes(napi_env env, size_t n, unsigned char **data) {
  napi_value array_buffer, out;
  void *memory = NULL;
  static unsigned char none[1]; /* an empty array's memory may be NULL */
  if (napi_create_arraybuffer(env, n, &memory, &array_buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, n, array_buffer, 0, &out) != napi_ok)
    return NULL;
  *data = memory ? memory : none;
  return out;
}

/* The message refs from roles, turns and ids. */
static tracer_message_ref *read_messages(const unsigned char *roles, const int32_t *turns, size_t n, fields *f) {
  tracer_message_ref *refs = calloc(n ? n : 1, sizeof *refs);
  if (!refs) return NULL;
  long last_user = -1;
  for (size_t i = 0; i < n; i++) {
    refs[i].role = roles[i] == 1 ? TRACER_ROLE_USER : roles[i] == 2 ? TRACER_ROLE_ASSISTANT : TRACER_ROLE_OTHER;
    refs[i].turn = turns[i];
    if (refs[i].role == TRACER_ROLE_USER) last_user = (long)i;
  }
  for (size_t i = 0; i < n && !f->bad; i++)
    if (refs[i].role == TRACER_ROLE_USER || (last_user >= 0 && refs[i].turn == last_user))
      refs[i].id = field(f);
  return refs;
}

static tracer_child_ref *read_children(fields *f, size_t *n) {
  *n = field_number(f);
  tracer_child_ref *children = calloc(*n ? *n : 1, sizeof *children);
  for (size_t i = 0; children && i < *n && !f->bad; i++) {
    children[i].session_id = field(f);
    children[i].parent_session_id = field(f);
    const char *call_id = field(f), *info_id = field(f);
    size_t flags = field_number(f);
    children[i].parent_call_id = flags & 1 ? call_id : NULL;
    children[i].info_id = flags & 2 ? info_id : NULL;
  }
  return children;
}

static tracer_task_ref *read_tasks(fields *f, size_t *n) {
  *n = field_number(f);
  tracer_task_ref *tasks = calloc(*n ? *n : 1, sizeof *tasks);
  for (size_t k = 0; tasks && k < *n && !f->bad; k++) {
    tasks[k].message = field_number(f);
    size_t flags = field_number(f);
    const char *call_id = field(f), *child = field(f);
    tasks[k].call_id = flags & 1 ? call_id : NULL;
    tasks[k].child_session_id = flags & 2 ? child : NULL;
  }
  return tasks;
}

/* n strings: "<count>" then the strings. */
static const char **read_strings(fields *f, size_t *n) {
  *n = field_number(f);
  const char **out = calloc(*n ? *n : 1, sizeof *out);
  for (size_t k = 0; out && k < *n && !f->bad; k++) out[k] = field(f);
  return out;
}

static napi_value oat_select(napi_env env, napi_callback_info info) {
  ARGS(env, info, 8);
  tracer *t = get_tracer(env);
  if (!t) return NULL;
  char session_id[260];
  bool closing = false;
  void *roles = NULL, *turns = NULL;
  size_t n = 0, n_turns = 0, n_children = 0, n_tasks = 0, n_calls = 0;
  buffer ids_text = {0}, children_text = {0}, tasks_text = {0}, calls_text = {0};
  fields fi, fc, ft, fl;
  tracer_message_ref *refs = NULL;
  tracer_child_ref *children = NULL;
  tracer_task_ref *tasks = NULL;
  const char **calls = NULL;
  unsigned char *keep = NULL;
  napi_value out = NULL, undefined;
  NAPI_CALL(env, napi_get_undefined(env, &undefined));
  if (argc < 8 || !read_session_id(env, argv[0], session_id) ||
      napi_get_value_bool(env, argv[1], &closing) != napi_ok ||
      !typed_array(env, argv[2], napi_uint8_array, &roles, &n) ||
      !typed_array(env, argv[3], napi_int32_array, &turns, &n_turns) || n_turns != n ||
      !read_fields(env, argv[4], &ids_text, &fi) || !read_fields(env, argv[5], &children_text, &fc) ||
      !read_fields(env, argv[6], &tasks_text, &ft) || !read_fields(env, argv[7], &calls_text, &fl))
    goto done;
  refs = read_messages(roles, turns, n, &fi);
  children = read_children(&fc, &n_children);
  tasks = read_tasks(&ft, &n_tasks);
  calls = read_strings(&fl, &n_calls);
  if (!refs || !children || !tasks || !calls || fi.bad || fc.bad || ft.bad || fl.bad ||
      fi.at != fi.end || fc.at != fc.end || ft.at != ft.end || fl.at != fl.end)
    goto done;
  /* the typed arrays' memory was read above; from here the core works on its own copies */
  out = new_bytes(env, n + n_children, &keep);
  if (out && (tracer_select_messages(t, session_id, closing, refs, n, calls, n_calls, keep) != 0 ||
              tracer_select_children(t, session_id, children, n_children, tasks, n_tasks, keep, n,
                                     keep + n) != 0))
    out = NULL;
done:
  free(refs);
  free(children);
  free(tasks);
  free(calls);
  free(ids_text.data);
  free(children_text.data);
  free(tasks_text.data);
  free(calls_text.data);
  return out ? out : undefined;
}

/* flush(timeoutMs) -> Promise<{ exported, pending, dropped }>: waits off the JS thread. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  long timeout_ms;
  exporter_counts counts;
} flush_job;

static void flush_execute(napi_env env, void *data) {
  (void)env;
  flush_job *job = data;
  tracer_flush(the_tracer, job->timeout_ms, &job->counts);
}

static void flush_complete(napi_env env, napi_status status, void *data) {
  flush_job *job = data;
  napi_value out = NULL;
  if (status == napi_ok && napi_create_object(env, &out) == napi_ok) {
    napi_set_named_property(env, out, "exported", make_int(env, (double)job->counts.exported));
    napi_set_named_property(env, out, "pending", make_int(env, (double)job->counts.pending));
    napi_set_named_property(env, out, "dropped", make_int(env, (double)job->counts.dropped));
    napi_resolve_deferred(env, job->deferred, out);
  } else {
    napi_reject_deferred(env, job->deferred, make_string(env, "flush was cancelled"));
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

/* A timeout argument in ms: fallback when absent or not a number, clamped to [0, max] (NaN: 0). */
static bool timeout_arg(napi_env env, size_t argc, napi_value *argv, double fallback, double max,
                        double *out) {
  napi_valuetype type = napi_undefined;
  *out = fallback;
  if (argc > 0 && napi_typeof(env, argv[0], &type) != napi_ok) return false;
  if (type == napi_number && napi_get_value_double(env, argv[0], out) != napi_ok) return false;
  if (!(*out >= 0)) *out = 0;
  if (*out > max) *out = max;
  return true;
}

static napi_value oat_flush(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  double timeout_ms;
  if (!timeout_arg(env, argc, argv, 10000, 86400000, &timeout_ms)) return NULL;
  if (!get_tracer(env)) return NULL;

  flush_job *job = calloc(1, sizeof *job);
  napi_value promise, name;
  if (!job) {
    napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
    return NULL;
  }
  job->timeout_ms = (long)timeout_ms;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "arize-flush", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, flush_execute, flush_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "opencode-arize-tracing: cannot start flush");
    return NULL;
  }
  return promise;
}

/* shutdown(timeoutMs = 2000): flush with that bound, then stop the exporter thread. */
static napi_value oat_shutdown(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  double timeout_ms;
  if (!timeout_arg(env, argc, argv, 2000, 60000, &timeout_ms)) return NULL;
  if (the_tracer) tracer_shutdown(the_tracer, (long)timeout_ms);
  return NULL;
}

/* status() -> JSON text (lib/ parses it): counters and the resolved backend, no secrets. */
static napi_value oat_status(napi_env env, napi_callback_info info) {
  (void)info;
  tracer *t = get_tracer(env);
  if (!t) return NULL;
  char *json = tracer_status_json(t);
  if (!json) {
    napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
    return NULL;
  }
  napi_value out = make_string(env, json);
  free(json);
  return out;
}

/* configStatus() -> JSON text: the settings as resolved now (config.h's
 * config_describe_json). Read-only: it opens no tracer, so it adopts no spool, starts no
 * thread and sends nothing; `opencode-arize-tracing status` uses it. */
static napi_value oat_config_status(napi_env env, napi_callback_info info) {
  (void)info;
  config *c = config_load(NULL, (const char *const *)environ);
  char *json = c ? config_describe_json(c) : NULL;
  config_free(c);
  if (!json) {
    napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
    return NULL;
  }
  napi_value out = make_string(env, json);
  free(json);
  return out;
}

/* The last environment to unload stops the exporter with a short bound; what is unsent
 * stays queued (and, with the spool, on disk). */
static void on_environment_cleanup(void *arg) {
  free(arg);
  if (--environments > 0 || !the_tracer) return;
  tracer_shutdown(the_tracer, -1); /* the configured bound, 2 s by default */
  tracer_free(the_tracer);
  the_tracer = NULL;
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {
      {"reconcile", oat_reconcile},
      {"select", oat_select},
      {"flush", oat_flush},
      {"shutdown", oat_shutdown},
      {"status", oat_status},
      {"configStatus", oat_config_status},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    NAPI_CALL(env, napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH,
                                        functions[i].fn, NULL, &fn));
    NAPI_CALL(env, napi_set_named_property(env, exports, functions[i].name, fn));
  }
  napi_value version = make_string(env, OAT_VERSION);
  if (version) NAPI_CALL(env, napi_set_named_property(env, exports, "version", version));
  /* A fresh argument per registration: Node aborts when the same (hook, arg) pair is added
   * twice, which a second load of the addon in one environment would otherwise do. */
  void *token = malloc(1);
  if (token && napi_add_env_cleanup_hook(env, on_environment_cleanup, token) == napi_ok)
    environments++;
  else
    free(token);
  return exports;
}
