/* binding — the Node-API glue, and nothing else: argument checks, JS <-> C conversion, a
 * promise for flush(). All behaviour lives in tracer.c and below, which know nothing of
 * Node-API.
 *
 * One tracer per process (the spool, the state and the exporter thread are the process's),
 * shared by every environment that loads the addon: the main thread and any worker_threads.
 * Their JS threads run at the same time, and the tracer expects one caller at a time, so every
 * call into it from a JS thread holds tracer_lock; flush waits off the lock (tracer_flush may
 * run beside the others). The tracer is freed when the last environment has gone and no flush
 * still uses it. */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#include "config.h"
#include "platform.h"
#include "redact.h"
#include "retry.h"
#include "text.h"
#include "tracer.h"
#include "version.h"

/* Every napi_* status checked; on failure the pending exception (or a generic one) surfaces. */
#define NAPI_CALL(env, call)                                                                       \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      bool pending_;                                                                               \
      napi_is_exception_pending((env), &pending_);                                                 \
      if (!pending_) napi_throw_error((env), NULL, "Node-API call failed: " #call);                \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

#define ARGS(env, info, n)                                                                         \
  size_t argc = (n);                                                                               \
  napi_value argv[(n) > 0 ? (n) : 1];                                                              \
  NAPI_CALL((env), napi_get_cb_info((env), (info), &argc, argv, NULL, NULL))

static pthread_mutex_t tracer_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the three below */
static tracer *the_tracer;
static int environments; /* loaded environments; the last one to go shuts the tracer down */
static int flushes;      /* flush jobs that hold the tracer (they run off the lock) */

/* The process's tracer, opened on first use, with the environment as it is now (a setenv since
 * the last call may have moved environ); throws and returns NULL when out of memory.
 * tracer_lock held. */
static tracer *get_tracer_locked(napi_env env) {
  if (!the_tracer) the_tracer = tracer_open(platform_environment(), OAT_VERSION);
  if (!the_tracer) napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
  else tracer_set_environment(the_tracer, platform_environment());
  return the_tracer;
}

/* Frees the tracer once nothing uses it: no environment, no flush. tracer_lock held. */
static void release_tracer_locked(void) {
  if (environments > 0 || flushes > 0 || !the_tracer) return;
  tracer_free(the_tracer);
  the_tracer = NULL;
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
/* reconcile(json: string, reason?: string)
 *   -> { spans, error?, childrenUnlinked?, watermark?: { messageID, children, openChildren } }
 * The payload crosses once, as JSON text (lib/ writes it: JSON.stringify is the cheapest way
 * from a JS object to bytes, docs/performance.md); nothing here calls back into JS. Anything
 * but a string is counted and logged as a rejected payload, for `reason` (lib/'s words for why
 * it could not write the text) or "payload is not JSON text". Nothing here throws for payload
 * content. */

/* The text of a JS string, whole, in a malloc'd buffer (*len bytes plus a NUL). NULL when v is
 * not a string or memory ran out (*len is then SIZE_MAX). */
static char *string_value(napi_env env, napi_value v, size_t *len) {
  /* One pass over the string: room for its UTF-16 units at 3 bytes each (the most UTF-8 takes
   * for one; a surrogate pair takes 4 for two) instead of a first call that only measures it,
   * which walks the whole payload once more on OpenCode's thread. */
  size_t units = 0;
  *len = 0;
  if (napi_get_value_string_utf16(env, v, NULL, 0, &units) != napi_ok) return NULL;
  size_t room = units <= (SIZE_MAX - 1) / 3 ? units * 3 + 1 : 0;
  char *text = room ? malloc(room) : NULL;
  if (!text || napi_get_value_string_utf8(env, v, text, room, len) != napi_ok) {
    free(text);
    *len = SIZE_MAX;
    return NULL;
  }
  return text;
}

/* The first argument as a malloc'd string (its length in *len), or NULL with a TypeError
 * thrown ("<name> takes a string") when it is not a string. */
static char *string_argument(napi_env env, size_t argc, napi_value *argv, const char *name,
                             size_t *len) {
  char *text = argc > 0 ? string_value(env, argv[0], len) : NULL;
  if (!text) {
    char message[64];
    snprintf(message, sizeof message, "%s takes a string", name);
    napi_throw_type_error(env, NULL, message);
  }
  return text;
}

/* The ids of the open children (emitting_only: of those that can still produce spans), or
 * null when every child counts as open. */
static napi_value make_children(napi_env env, const reconcile_result *r, bool emitting_only) {
  napi_value out;
  if (r->open_children_all) return napi_get_null(env, &out) == napi_ok ? out : NULL;
  if (napi_create_array(env, &out) != napi_ok) return NULL;
  uint32_t k = 0;
  for (size_t i = 0; i < r->n_open_children; i++)
    if ((!emitting_only || r->open_child_emits[i]) &&
        napi_set_element(env, out, k++, make_string(env, r->open_children[i])) != napi_ok)
      return NULL;
  return out;
}

/* result's watermark as { messageID, children, openChildren } (reconcile.h). */
static napi_value make_watermark(napi_env env, const reconcile_result *r) {
  napi_value out, children, open;
  if (napi_create_object(env, &out) != napi_ok ||
      napi_set_named_property(env, out, "messageID", make_string(env, r->watermark)) != napi_ok ||
      !(children = make_children(env, r, false)) || !(open = make_children(env, r, true)) ||
      napi_set_named_property(env, out, "children", children) != napi_ok ||
      napi_set_named_property(env, out, "openChildren", open) != napi_ok)
    return NULL;
  return out;
}

#define RETURN_MEMORY_AFTER (8u * 1024 * 1024) /* bytes of payload text */

static napi_value oat_reconcile(napi_env env, napi_callback_info info) {
  ARGS(env, info, 2);
  napi_valuetype type = napi_undefined;
  if (argc > 0) NAPI_CALL(env, napi_typeof(env, argv[0], &type));

  /* about 9 KB: the watermark's ids; on the heap, the JS thread's stack is not ours */
  reconcile_result *r = calloc(1, sizeof *r);
  size_t len = 0;
  char *json = type == napi_string ? string_value(env, argv[0], &len) : NULL;
  if (!r || (type == napi_string && !json)) {
    /* Out of memory is a result, never an exception (lib/index.d.ts): the payload is counted
     * and logged as rejected when the tracer is there, and the caller gets {spans: 0, error}. */
    free(json);
    static const char why[] = "out of memory: the payload could not be copied for the core";
    pthread_mutex_lock(&tracer_lock);
    tracer *t = the_tracer;
    reconcile_result *counted = r ? r : NULL;
    if (t && counted) {
      tracer_set_environment(t, platform_environment());
      tracer_reject(t, why, counted);
    }
    pthread_mutex_unlock(&tracer_lock);
    free(r);
    napi_value out = NULL;
    if (napi_create_object(env, &out) != napi_ok ||
        napi_set_named_property(env, out, "spans", make_int(env, 0)) != napi_ok ||
        napi_set_named_property(env, out, "error", make_string(env, why)) != napi_ok)
      return NULL; /* not even that: undefined, which lib reads as this error */
    return out;
  }
  pthread_mutex_lock(&tracer_lock);
  tracer *t = get_tracer_locked(env);
  if (t && json) tracer_reconcile(t, json, len, r);
  else if (t) {
    char reason[200] = "";
    napi_valuetype why_type = napi_undefined;
    size_t n = 0;
    if (argc > 1 && napi_typeof(env, argv[1], &why_type) == napi_ok && why_type == napi_string)
      napi_get_value_string_utf8(env, argv[1], reason, sizeof reason, &n);
    reason[strcspn(reason, "\r\n")] = '\0';
    tracer_reject(t, reason[0] ? reason : "payload is not JSON text", r);
  }
  pthread_mutex_unlock(&tracer_lock);
  free(json);
  if (!t) {
    free(r);
    return NULL;
  }
#ifdef __GLIBC__
  /* A big payload leaves its parse tree's memory with malloc, resident in OpenCode's process;
   * hand it back (a few ms, after large payloads only). */
  if (len >= RETURN_MEMORY_AFTER) malloc_trim(0);
#endif

  napi_value out = NULL, watermark = NULL;
  if (napi_create_object(env, &out) != napi_ok ||
      napi_set_named_property(env, out, "spans", make_int(env, (double)r->spans)) != napi_ok ||
      (r->turns &&
       napi_set_named_property(env, out, "turns", make_int(env, (double)r->turns)) != napi_ok) ||
      (r->error[0] &&
       napi_set_named_property(env, out, "error", make_string(env, r->error)) != napi_ok) ||
      (r->children_unlinked &&
       napi_set_named_property(env, out, "childrenUnlinked",
                               make_int(env, (double)r->children_unlinked)) != napi_ok) ||
      (r->watermark[0] && (!(watermark = make_watermark(env, r)) ||
                           napi_set_named_property(env, out, "watermark", watermark) != napi_ok)))
    out = NULL;
  free(r);
  return out; /* NULL (no memory for the result object): undefined, which lib reads as an error */
}

/* flush(timeoutMs) -> Promise<{ exported, pending, dropped }>: waits off the JS thread. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  long timeout_ms;
  tracer *t; /* counted in flushes until flush_complete */
  exporter_counts counts;
} flush_job;

static void flush_execute(napi_env env, void *data) {
  (void)env;
  flush_job *job = data;
  tracer_flush(job->t, job->timeout_ms, &job->counts);
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
  pthread_mutex_lock(&tracer_lock);
  flushes--;
  release_tracer_locked();
  pthread_mutex_unlock(&tracer_lock);
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

  flush_job *job = calloc(1, sizeof *job);
  napi_value promise, name;
  if (!job) {
    napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
    return NULL;
  }
  job->timeout_ms = (long)timeout_ms;
  pthread_mutex_lock(&tracer_lock);
  job->t = get_tracer_locked(env);
  if (job->t) flushes++;
  pthread_mutex_unlock(&tracer_lock);
  if (!job->t) {
    free(job);
    return NULL;
  }
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "arize-flush", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, flush_execute, flush_complete, job, &job->work) !=
          napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    pthread_mutex_lock(&tracer_lock);
    flushes--;
    release_tracer_locked();
    pthread_mutex_unlock(&tracer_lock);
    napi_throw_error(env, NULL, "opencode-arize-tracing: cannot start flush");
    return NULL;
  }
  return promise;
}

/* shutdown(timeoutMs): flush with that bound, then stop the exporter thread; without one, the
 * configured bound (export.exit_flush_ms, read by the core). */
static napi_value oat_shutdown(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  double timeout_ms;
  if (!timeout_arg(env, argc, argv, 0, 60000, &timeout_ms)) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc > 0 && napi_typeof(env, argv[0], &type) != napi_ok) return NULL;
  if (type != napi_number) timeout_ms = -1; /* the core's configured bound */
  pthread_mutex_lock(&tracer_lock);
  if (the_tracer) tracer_shutdown(the_tracer, (long)timeout_ms);
  pthread_mutex_unlock(&tracer_lock);
  return NULL;
}

/* enabled() -> boolean: whether tracing is on, without the status JSON (read per event). */
static napi_value oat_enabled(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_mutex_lock(&tracer_lock);
  tracer *t = get_tracer_locked(env);
  bool on = t && tracer_enabled(t);
  pthread_mutex_unlock(&tracer_lock);
  napi_value out = NULL;
  if (t) NAPI_CALL(env, napi_get_boolean(env, on, &out));
  return out;
}

/* exitBoundMs() -> number: the configured exit bound (export.exit_flush_ms). */
static napi_value oat_exit_bound_ms(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_mutex_lock(&tracer_lock);
  tracer *t = get_tracer_locked(env);
  long ms = t ? tracer_exit_bound_ms(t) : 0;
  pthread_mutex_unlock(&tracer_lock);
  return t ? make_int(env, (double)ms) : NULL;
}

/* A JSON text the core made (malloc'd; freed here) as a JS string; NULL (out of memory) throws. */
static napi_value json_text(napi_env env, char *json) {
  if (!json) {
    napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
    return NULL;
  }
  napi_value out = make_string(env, json);
  free(json);
  return out;
}

/* status() -> JSON text (lib/ parses it): counters and the resolved backend, no secrets. */
static napi_value oat_status(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_mutex_lock(&tracer_lock);
  tracer *t = get_tracer_locked(env);
  char *json = t ? tracer_status_json(t) : NULL;
  pthread_mutex_unlock(&tracer_lock);
  return t ? json_text(env, json) : NULL;
}

/* configStatus() -> JSON text: the settings as resolved now (config.h's
 * config_describe_json). Read-only: it opens no tracer, so it adopts no spool, starts no
 * thread and sends nothing; `opencode-arize-tracing status` uses it. */
static napi_value oat_config_status(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  size_t len;
  char *dir = argc > 0 ? string_value(env, argv[0], &len) : NULL; /* the project's directory */
  config *c = config_load_in(NULL, dir, platform_environment());
  free(dir);
  char *json = c ? config_describe_json(c) : NULL;
  config_free(c);
  return json_text(env, json);
}

/* spoolStatus(projectDir?) -> JSON text: the spool the settings name, counted per process
 * directory and per destination (tracer_spool_census_json). Read-only like configStatus. */
static napi_value oat_spool_status(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  size_t len;
  char *dir = argc > 0 ? string_value(env, argv[0], &len) : NULL;
  config *c = config_load_in(NULL, dir, platform_environment());
  free(dir);
  char *json = c ? tracer_spool_census_json(c) : NULL;
  config_free(c);
  return json_text(env, json);
}

/* setProject(directory: string): the project whose .opencode/arize-tracing.yaml is read over
 * the user's settings (tracer_set_project); anything but a string means none. */
static napi_value oat_set_project(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  size_t len;
  char *dir = argc > 0 ? string_value(env, argv[0], &len) : NULL;
  pthread_mutex_lock(&tracer_lock);
  tracer *t = get_tracer_locked(env);
  if (t) tracer_set_project(t, dir);
  pthread_mutex_unlock(&tracer_lock);
  free(dir);
  return NULL;
}

/* redactText(text: string) -> { text, redactions }: text as a span would carry it, with the
 * secrets the settings in effect now find replaced by markers (redact.h). Read-only like
 * configStatus: `doctor` shows a sample through it. Anything but a string throws. */
static napi_value oat_redact_text(napi_env env, napi_callback_info info) {
  ARGS(env, info, 2);
  size_t len;
  char *in = string_argument(env, argc, argv, "redactText", &len);
  if (!in) return NULL;
  size_t dir_len;
  char *dir = argc > 1 ? string_value(env, argv[1], &dir_len) : NULL; /* the project's directory */
  config *c = config_load_in(NULL, dir, platform_environment());
  free(dir);
  char *red = NULL;
  size_t red_len = 0;
  long n = c ? redact_text(c->redact, in, len, false, &red, &red_len) : -1;
  config_free(c);
  napi_value out = NULL, text = NULL;
  if (n >= 0 && napi_create_object(env, &out) == napi_ok &&
      napi_create_string_utf8(env, n > 0 ? red : in, n > 0 ? red_len : len, &text) == napi_ok) {
    napi_set_named_property(env, out, "text", text);
    napi_set_named_property(env, out, "redactions", make_int(env, (double)n));
  } else if (n < 0) {
    napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
  }
  free(in);
  free(red);
  return out;
}

/* settingsSchema() -> JSON text: every setting's file keys, environment variables, default,
 * bounds and secrecy, and the backends (config.h's config_schema_json). */
static napi_value oat_settings_schema(napi_env env, napi_callback_info info) {
  (void)info;
  return json_text(env, config_schema_json());
}

/* exportOutcomes() -> JSON text: what each kind of backend answer means for the spans
 * (retry.h's one table of classes, with the statuses each covers); status and doctor say its
 * words. */
static napi_value oat_export_outcomes(napi_env env, napi_callback_info info) {
  (void)info;
  return json_text(env, retry_classes_json());
}

/* urlForDisplay(url: string) -> string: the URL as it may be shown (text.h's one rule: no
 * user:password@, ?query or #fragment); install shows endpoints through it, as the core's own
 * lines do. Anything but a string throws. */
static napi_value oat_url_for_display(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  size_t len;
  char *url = string_argument(env, argc, argv, "urlForDisplay", &len);
  if (!url) return NULL;
  char *shown = text_url_for_display(url);
  free(url);
  return json_text(env, shown);
}

/* The last environment to unload (a worker's end is not the process's) stops the exporter
 * with a short bound; what is unsent stays queued (and, with the spool, on disk). */
static void on_environment_cleanup(void *arg) {
  free(arg);
  pthread_mutex_lock(&tracer_lock);
  if (--environments == 0 && the_tracer) {
    tracer_shutdown(the_tracer, -1); /* the configured bound (export.exit_flush_ms) */
    release_tracer_locked();
  }
  pthread_mutex_unlock(&tracer_lock);
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {
      {"reconcile", oat_reconcile},
      {"flush", oat_flush},
      {"shutdown", oat_shutdown},
      {"status", oat_status},
      {"enabled", oat_enabled},
      {"exitBoundMs", oat_exit_bound_ms},
      {"configStatus", oat_config_status},
      {"spoolStatus", oat_spool_status},
      {"setProject", oat_set_project},
      {"settingsSchema", oat_settings_schema},
      {"exportOutcomes", oat_export_outcomes},
      {"redactText", oat_redact_text},
      {"urlForDisplay", oat_url_for_display},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    NAPI_CALL(env, napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn,
                                        NULL, &fn));
    NAPI_CALL(env, napi_set_named_property(env, exports, functions[i].name, fn));
  }
  napi_value version = make_string(env, OAT_VERSION);
  if (version) NAPI_CALL(env, napi_set_named_property(env, exports, "version", version));
  /* A fresh argument per registration: Node aborts when the same (hook, arg) pair is added
   * twice, which a second load of the addon in one environment would otherwise do. */
  void *token = malloc(1);
  pthread_mutex_lock(&tracer_lock);
  if (token && napi_add_env_cleanup_hook(env, on_environment_cleanup, token) == napi_ok)
    environments++;
  else free(token);
  pthread_mutex_unlock(&tracer_lock);
  return exports;
}
