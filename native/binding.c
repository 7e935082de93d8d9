/* binding — the Node-API glue, and nothing else: argument checks, JS <-> C conversion, a
 * promise for flush(). All behaviour lives in tracer.c and below, which know nothing of
 * Node-API. One tracer per process, shared by every environment that loads the addon. */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

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

/* reconcile(json: string) -> { spans, error?, childrenUnlinked? } */
static napi_value oat_reconcile(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  napi_valuetype type = napi_undefined;
  if (argc > 0) NAPI_CALL(env, napi_typeof(env, argv[0], &type));
  if (type != napi_string) {
    napi_throw_type_error(env, NULL, "reconcile expects the payload as JSON text");
    return NULL;
  }
  size_t len;
  NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
  char *json = malloc(len + 1);
  if (!json) {
    napi_throw_error(env, NULL, "opencode-arize-tracing: out of memory");
    return NULL;
  }
  napi_status got = napi_get_value_string_utf8(env, argv[0], json, len + 1, &len);
  tracer *t = got == napi_ok ? get_tracer(env) : NULL;
  reconcile_result r = {0};
  if (t) tracer_reconcile(t, json, len, &r);
  free(json);
  if (!t) return NULL;

  napi_value out;
  NAPI_CALL(env, napi_create_object(env, &out));
  NAPI_CALL(env, napi_set_named_property(env, out, "spans", make_int(env, (double)r.spans)));
  if (r.error[0])
    NAPI_CALL(env, napi_set_named_property(env, out, "error", make_string(env, r.error)));
  if (r.children_unlinked)
    NAPI_CALL(env, napi_set_named_property(env, out, "childrenUnlinked",
                                           make_int(env, (double)r.children_unlinked)));
  return out;
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

static napi_value oat_flush(napi_env env, napi_callback_info info) {
  ARGS(env, info, 1);
  double timeout_ms = 10000;
  napi_valuetype type = napi_undefined;
  if (argc > 0) NAPI_CALL(env, napi_typeof(env, argv[0], &type));
  if (type == napi_number) NAPI_CALL(env, napi_get_value_double(env, argv[0], &timeout_ms));
  if (!(timeout_ms >= 0)) timeout_ms = 0; /* also NaN */
  if (timeout_ms > 86400000) timeout_ms = 86400000;
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
  double timeout_ms = 2000;
  napi_valuetype type = napi_undefined;
  if (argc > 0) NAPI_CALL(env, napi_typeof(env, argv[0], &type));
  if (type == napi_number) NAPI_CALL(env, napi_get_value_double(env, argv[0], &timeout_ms));
  if (!(timeout_ms >= 0)) timeout_ms = 0;
  if (timeout_ms > 60000) timeout_ms = 60000;
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
      {"flush", oat_flush},
      {"shutdown", oat_shutdown},
      {"status", oat_status},
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
