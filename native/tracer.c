/* tracer — config, log, state, queue and exporter wired together; see tracer.h. */
#include "tracer.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "live.h"
#include "log.h"
#include "otlp.h"
#include "outcome.h"
#include "platform.h"
#include "queue.h"
#include "spool.h"
#include "retry.h"
#include "spans.h"
#include "state.h"
#include "text.h"
#include "wallclock.h"

struct tracer {
  const char *const *envp;
  char *version;
  config *cfg;
  uint64_t env_fingerprint;
  platform_info file_stat[2];    /* config.yaml and config.json beside cfg->config_path, when
                                  * loaded (zeroed when absent): either changing means reload */
  char *project_dir;             /* the project's directory (tracer_set_project), or NULL */
  platform_info project_stat[3]; /* the project file read, and the two it could be in
                                  * project_dir/.opencode: any changing means reload */
  state *st;
  live_store *live; /* the plugin's live signals, until their spans are built */
  queue *q;
  spool *sp;     /* owned by q; kept to change its fsync setting */
  exporter *exp; /* the first destination's ("default": the single-backend settings) */
  /* Every destination: [0] is the first (exp), the rest harnesses.opencode.destinations, each
   * with its own exporter on its own slot of the queue. dest_lock guards the list (the writer
   * thread wakes them, tracer_flush waits on them); exporters of removed destinations are
   * stopped and kept in retired until tracer_free (a flush may still hold one). */
  pthread_mutex_t dest_lock;
  struct tracer_dest {
    char name[48];
    exporter *e;
    bool active; /* has a slot in the queue (the first one may be unconfigured) */
  } dests[CONFIG_MAX_DESTINATIONS];
  size_t n_dests;
  exporter *retired[4 * CONFIG_MAX_DESTINATIONS];
  size_t n_retired;
  bool dest_limit_logged;
  uint64_t payloads, rejected, spans_queued, encode_failures, spans_loaded;
  uint64_t items_skipped;      /* malformed items left out of payloads (each logged) */
  uint64_t numbers_unreadable; /* numbers beyond a double read as null (logged per payload) */
  /* the spans of the reconcile in progress, encoded, pushed to the queue together */
  uint8_t **batch;
  size_t *batch_lens;
  char **batch_keys; /* each span's dedup key (owned), for the writer's guard */
  size_t batch_len, batch_cap;
  bool batch_refused; /* max_spans_per_payload was reached in this reconcile */
  char last_rejection[256];
  uint64_t left_logged;      /* pending count the last "exit: ... stay in the spool" line named */
  bool freeing;              /* tracer_free has begun: no exporter starts again (dest_lock) */
  bool dry_run_at_open;      /* ARIZE_DRY_RUN at open: no spool, no marks recorded (tracer_open) */
  char host[256];            /* this machine's name: host.name, and the Turn's context */
  char opencode_version[64]; /* the last payload's OpenCode version: service.version */
};

/* ------------------------------------------------------------------------------------------ */
/* Config: loaded on the JS thread, reloaded when the file or our environment changes.         */

static bool env_is_ours(const char *entry) {
  static const char *const prefixes[] = {"ARIZE_", "PHOENIX_", "OTEL_", "OPENINFERENCE_"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (strncmp(entry, prefixes[i], strlen(prefixes[i])) == 0) return true;
  for (size_t i = 0; platform_home_variables[i]; i++) { /* "HOME=" */
    size_t n = strlen(platform_home_variables[i]);
    if (strncmp(entry, platform_home_variables[i], n) == 0 && entry[n] == '=') return true;
  }
  return false;
}

/* FNV-1a over the environment entries the config reads, in order. */
static uint64_t env_fingerprint(const char *const *envp) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; envp && envp[i]; i++) {
    if (!env_is_ours(envp[i])) continue;
    for (const char *p = envp[i]; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  }
  return h;
}

static void stat_or_zero(const char *path, platform_info *out) {
  if (!path || platform_target_info(path, out) != 0) memset(out, 0, sizeof *out);
}

/* Both config files of the config's directory: a config.yaml created next to the
 * config.json in use (or the other way round) is a change too. */
static void stat_config_files(const char *config_path, platform_info out[2]) {
  static const char *const names[] = {"config.yaml", "config.json"};
  const char *slash = platform_last_separator(config_path);
  size_t dir_len = slash ? (size_t)(slash - config_path) : 0;
  for (int i = 0; i < 2; i++) {
    char path[4096];
    if (dir_len + strlen(names[i]) + 2 > sizeof path) {
      memset(&out[i], 0, sizeof out[i]);
      continue;
    }
    snprintf(path, sizeof path, "%.*s%s%s", (int)dir_len, config_path, slash ? PLATFORM_SEP : "",
             names[i]);
    stat_or_zero(path, &out[i]);
  }
}

static bool same_file_version(const platform_info *a, const platform_info *b) {
  return a->identity == b->identity && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* The project file the config read, and the two a project file may be in the project's own
 * .opencode directory (one created there is a change too). */
static void stat_project_files(const char *dir, const char *read, platform_info out[3]) {
  stat_or_zero(read, &out[0]);
  static const char *const names[] = {"arize-tracing.yaml", "arize-tracing.json"};
  for (int i = 0; i < 2; i++) {
    char path[4096];
    if (!dir || strlen(dir) + strlen(names[i]) + 16 > sizeof path) {
      memset(&out[1 + i], 0, sizeof out[1 + i]);
      continue;
    }
    snprintf(path, sizeof path, "%s" PLATFORM_SEP ".opencode" PLATFORM_SEP "%s", dir, names[i]);
    stat_or_zero(path, &out[1 + i]);
  }
}

/* Whether the user's OTEL_RESOURCE_ATTRIBUTES set key (theirs win). */
static bool resource_has(const config *c, const char *key) {
  for (size_t i = 0; i < c->resource_attributes.len; i++)
    if (strcmp(c->resource_attributes.names[i], key) == 0) return true;
  return false;
}

/* The target of destination k (0: the first, the single-backend settings; k > 0:
 * c->destinations[k - 1]). */
static exporter_target *target_of(const tracer *tr, const config *c, const char *version,
                                  size_t k) {
  const config_destination *d = k ? &c->destinations[k - 1] : NULL;
  config_target kind = d ? d->target : c->target;
  exporter_target t = {
      .send = c->enabled && !c->dry_run && kind != CONFIG_TARGET_NONE,
      .discard = c->enabled && c->dry_run,
      .url = d ? d->endpoint : c->endpoint,
      .headers = d ? d->headers : c->headers,
      .header_secret = d ? d->header_secret : c->header_secret,
      .n_headers = d ? d->n_headers : c->n_headers,
      .service_name = c->service_name,
      .project_name = d ? d->project_name : c->project_name,
      .dest_name = d ? d->name : NULL,
      .kind = d ? config_target_name(kind) : NULL,
      .version = (char *)version,
      .settings = c->export,
  };
  for (size_t i = 0; i < c->resource_attributes.len; i++)
    span_attrs_set_string(&t.resource, c->resource_attributes.names[i],
                          c->resource_attributes.values[i],
                          strlen(c->resource_attributes.values[i]));
  /* OpenTelemetry's resource conventions, where we know them: the service is OpenCode */
  if (tr->host[0] && !resource_has(c, "host.name"))
    span_attrs_set_string(&t.resource, "host.name", tr->host, strlen(tr->host));
  if (tr->opencode_version[0] && !resource_has(c, "service.version"))
    span_attrs_set_string(&t.resource, "service.version", tr->opencode_version,
                          strlen(tr->opencode_version));
  exporter_target *copy = exporter_target_copy(&t);
  span_attrs_clear(&t.resource);
  return copy;
}

static exporter_target *target_from_config(const tracer *tr, const config *c, const char *version) {
  return target_of(tr, c, version, 0);
}

/* Every destination's exporter: notify (starts them) or wake (only the running ones). */
static void notify_all(tracer *t, bool start) {
  pthread_mutex_lock(&t->dest_lock);
  for (size_t i = 0; i < t->n_dests; i++)
    if (start && !t->freeing) exporter_notify(t->dests[i].e);
    else exporter_wake(t->dests[i].e);
  pthread_mutex_unlock(&t->dest_lock);
}

/* The destinations of c in effect: the first (when configured, or when it is the only one:
 * spans then wait in the spool for a backend, as before), then the further ones; each
 * destination keeps its slot (and its progress) across reloads, a new one gets a slot and the
 * spans still queued, a removed one is stopped and no longer holds spans back. JS thread. */
/* c's destinations in effect, in order, with their marker keys: the first (when configured,
 * or when it is the only one), then the further ones. Returns how many. */
static size_t destinations_of(const config *c, const char *names[CONFIG_MAX_DESTINATIONS],
                              uint32_t keys[CONFIG_MAX_DESTINATIONS], bool *first_active) {
  size_t n = 0;
  *first_active = c->target != CONFIG_TARGET_NONE || c->n_destinations == 0;
  if (*first_active) names[n] = CONFIG_FIRST_DESTINATION, keys[n++] = 0;
  for (size_t k = 0; k < c->n_destinations && n < CONFIG_MAX_DESTINATIONS; k++)
    names[n] = c->destinations[k].name, keys[n++] = config_destination_key(c->destinations[k].name);
  return n;
}

char *tracer_spool_census_json(const config *c) {
  const char *names[CONFIG_MAX_DESTINATIONS];
  uint32_t keys[CONFIG_MAX_DESTINATIONS];
  bool first_active;
  size_t n = destinations_of(c, names, keys, &first_active);
  return spool_census_json(c->spool_dir, names, keys, n);
}

static void apply_destinations(tracer *t, const config *c) {
  const char *names[CONFIG_MAX_DESTINATIONS];
  uint32_t keys[CONFIG_MAX_DESTINATIONS];
  bool first_active;
  size_t n = destinations_of(c, names, keys, &first_active);
  /* stop the exporters of destinations that go, or whose slot is taken away */
  pthread_mutex_lock(&t->dest_lock);
  for (size_t i = 1; i < t->n_dests;) {
    bool kept = false;
    for (size_t k = first_active ? 1 : 0; k < n && !kept; k++)
      kept = !strcmp(names[k], t->dests[i].name);
    if (kept) {
      i++;
      continue;
    }
    exporter *e = t->dests[i].e;
    t->dests[i] = t->dests[--t->n_dests];
    pthread_mutex_unlock(&t->dest_lock);
    exporter_stop(e, 0);
    pthread_mutex_lock(&t->dest_lock);
    if (t->n_retired < sizeof t->retired / sizeof *t->retired) t->retired[t->n_retired++] = e;
    else exporter_free(e); /* (never reached in practice: four times the limit of reloads) */
  }
  bool first_was = t->dests[0].active;
  pthread_mutex_unlock(&t->dest_lock);
  if (first_was && !first_active) exporter_stop(t->exp, 0);
  int slots[CONFIG_MAX_DESTINATIONS];
  queue_set_destinations(t->q, keys, n, slots);
  exporter_set_slot(t->exp, first_active ? slots[0] : -1);
  bool added = false;
  pthread_mutex_lock(&t->dest_lock);
  t->dests[0].active = first_active;
  for (size_t k = first_active ? 1 : 0; k < n; k++) {
    bool known = false;
    for (size_t i = 1; i < t->n_dests && !known; i++) known = !strcmp(t->dests[i].name, names[k]);
    if (known) continue;
    exporter *e = exporter_new_for(t->q, slots[k]);
    if (!e) {
      log_error("out of memory: destination %s is left out", names[k]);
      continue;
    }
    struct tracer_dest *d = &t->dests[t->n_dests++];
    snprintf(d->name, sizeof d->name, "%s", names[k]);
    d->e = e, d->active = true;
    added = true;
  }
  pthread_mutex_unlock(&t->dest_lock);
  /* a destination added by a reload has the queued spans to send now, not at the next turn */
  if (added && queue_get_stats(t->q).records > 0) notify_all(t, true);
}

/* The targets of every destination (a config change, a new OpenCode version). JS thread. */
static void apply_targets(tracer *t, const config *c) {
  exporter_target *target = target_from_config(t, c, t->version);
  if (target) exporter_set_target(t->exp, target);
  else log_error("out of memory while applying the config");
  pthread_mutex_lock(&t->dest_lock);
  for (size_t i = 1; i < t->n_dests; i++)
    for (size_t k = 0; k < c->n_destinations; k++) {
      if (strcmp(c->destinations[k].name, t->dests[i].name)) continue;
      exporter_target *dt = target_of(t, c, t->version, k + 1);
      if (dt) exporter_set_target(t->dests[i].e, dt);
    }
  pthread_mutex_unlock(&t->dest_lock);
}

static bool same_text(const char *a, const char *b) { return a && b && !strcmp(a, b); }

/* Installs a freshly loaded config: log file, log lines about its health (once per change),
 * and a new exporter target. */
static void install_config(tracer *t, config *c) {
  if (!t->cfg || strcmp(t->cfg->log_file, c->log_file) != 0) log_open(c->log_file);
  log_set_verbose(c->verbose);
  log_set_max_bytes(c->log_max_bytes);
  c->attrs.host = t->host[0] ? t->host : NULL; /* the one setting of the section that is ours */
  /* Where each export's outcome is left for `status`, which runs in a process of its own. */
  outcome_open(c->state_dir, config_target_name(c->target));
  /* A reload for the project's sake (tracer_set_project, its file changed) or for the
   * environment's (a variable of ours flipped) says again nothing the log already holds about
   * the same version of the user's file: a problem whose words did not change is not news (one
   * the environment changed has other words). */
  platform_info now[2];
  stat_config_files(c->config_path, now);
  bool file_same = t->cfg && !strcmp(t->cfg->config_path, c->config_path) &&
                   same_file_version(&now[0], &t->file_stat[0]) &&
                   same_file_version(&now[1], &t->file_stat[1]);
  if (c->warning && !(file_same && same_text(t->cfg->warning, c->warning)))
    log_warn("%s; using defaults for what it would have set", c->warning);
  if (c->unknown_keys && !(file_same && same_text(t->cfg->unknown_keys, c->unknown_keys)))
    log_warn("%s", c->unknown_keys);
  if (c->project_warning)
    log_warn("%s; %s", c->project_warning,
             c->project_broken ? "nothing of the project file is used (the user's settings apply)"
                               : "using the rest of the project file");
  else if (c->project_path)
    log_info("project settings from %s over %s", c->project_path, c->config_path);
  if (c->project_notice) log_warn("project file %s: %s", c->project_path, c->project_notice);
  if (!c->enabled && file_same && !t->cfg->enabled) {
    /* said already */
  } else if (!c->enabled)
    log_warn("tracing is disabled by ARIZE_TRACE_ENABLED=false: no spans are recorded; "
             "unset it or set it to true to trace");
  else if (c->dry_run) log_info("dry run (ARIZE_DRY_RUN): spans are built and logged, never sent");
  else if (c->why_not_sending) {
    if (!(file_same && same_text(t->cfg->why_not_sending, c->why_not_sending)))
      log_warn("%s", c->why_not_sending);
  } else {
    if (c->target != CONFIG_TARGET_NONE) {
      char *shown = text_url_for_display(c->endpoint);
      log_info("sending to %s (%s), project %s", shown ? shown : "?", config_target_name(c->target),
               c->project_name);
      free(shown);
    }
    for (size_t k = 0; k < c->n_destinations; k++) {
      const config_destination *d = &c->destinations[k];
      char *shown = text_url_for_display(d->endpoint);
      log_info("sending to destination %s too: %s (%s), project %s", d->name, shown ? shown : "?",
               config_target_name(d->target), d->project_name);
      free(shown);
    }
  }
  queue_set_max_bytes(t->q, c->spool_max_bytes);
  queue_set_max_age(t->q, c->spool_max_age_s);
  if (t->sp) spool_set_sync(t->sp, c->spool_fsync);
  apply_destinations(t, c);
  apply_targets(t, c);
  config_free(t->cfg);
  t->cfg = c;
  t->env_fingerprint = env_fingerprint(t->envp);
  stat_config_files(c->config_path, t->file_stat);
  stat_project_files(t->project_dir, c->project_path, t->project_stat);
}

void tracer_set_environment(tracer *t, const char *const *envp) { t->envp = envp; }

void tracer_refresh(tracer *t) {
  platform_info now[2], project[3];
  if (t->cfg) {
    stat_config_files(t->cfg->config_path, now);
    stat_project_files(t->project_dir, t->cfg->project_path, project);
    bool same = env_fingerprint(t->envp) == t->env_fingerprint;
    for (int i = 0; i < 2; i++) same = same && same_file_version(&now[i], &t->file_stat[i]);
    for (int i = 0; i < 3; i++) same = same && same_file_version(&project[i], &t->project_stat[i]);
    if (same) return;
  }
  config *c = config_load_in(NULL, t->project_dir, t->envp);
  if (c) install_config(t, c);
}

void tracer_set_project(tracer *t, const char *dir) {
  if (dir && !*dir) dir = NULL;
  if ((!dir && !t->project_dir) || (dir && t->project_dir && !strcmp(dir, t->project_dir))) return;
  char *copy = dir ? strdup(dir) : NULL;
  if (dir && !copy) return; /* out of memory: the settings stay as they are */
  free(t->project_dir);
  t->project_dir = copy;
  config *c = config_load_in(NULL, t->project_dir, t->envp);
  if (c) install_config(t, c);
}

/* ------------------------------------------------------------------------------------------ */

/* The writer made a unit's spans durable (or they left the queue first): record their marks
 * in the session state, so the next process does not emit them again. Writer thread. */
static void on_settled(void *ctx, const uint8_t *marks, size_t len, bool durable) {
  (void)durable;
  tracer *t = ctx;
  if (!t->dry_run_at_open) state_record(t->st, marks, len); /* a dry run records nothing */
}

/* The writer made spans durable: the exporter may send them now. Writer thread. */
static void on_written(void *ctx) {
  tracer *t = ctx;
  notify_all(t, false);
}

/* Marks stored in the spool by a process that may have died before recording them: record
 * them now (those already recorded are skipped), on the writer thread, before it stores
 * anything handed over in this process; a reconcile that emitted their spans again meanwhile
 * is caught by the guard (queue.h), which finds them recorded. */
static void on_marks_loaded(void *ctx, const uint8_t *marks, size_t len) {
  tracer *t = ctx;
  state_guard *g = state_guard_open(t->st, state_marks_each(marks, len, NULL, NULL));
  if (g) state_guard_record(g, marks, len);
  state_guard_close(g);
}

/* The writer finished loading what earlier processes left. Writer thread. */
static void on_spool_loaded(void *ctx, const spool_load_stats *stats) {
  tracer *t = ctx;
  __atomic_store_n(&t->spans_loaded, (uint64_t)stats->spans, __ATOMIC_RELAXED);
  if (stats->spans) {
    log_info("%zu unsent spans from an earlier run are queued again", stats->spans);
    notify_all(t, true);
  }
}

/* The writer's guard (queue.h): a unit's session file under its lock. Writer thread. */
static void *guard_open(void *ctx, const uint8_t *marks, size_t len) {
  tracer *t = ctx;
  return state_guard_open(t->st, state_marks_each(marks, len, NULL, NULL));
}
static bool guard_recorded(void *g, const char *key) { return state_guard_recorded(g, key); }
static void guard_record(void *g, const uint8_t *marks, size_t len) {
  state_guard_record(g, marks, len);
}
static void guard_close(void *g) { state_guard_close(g); }

tracer *tracer_open(const char *const *envp, const char *version) {
  tracer *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->envp = envp;
  t->version = strdup(version ? version : "0");
  platform_hostname(t->host, sizeof t->host);
  t->q = queue_new(SIZE_MAX); /* bounded by the config's spool.max_mb once it is read */
  t->exp = t->q ? exporter_new(t->q) : NULL;
  pthread_mutex_init(&t->dest_lock, NULL);
  snprintf(t->dests[0].name, sizeof t->dests[0].name, "%s", CONFIG_FIRST_DESTINATION);
  t->dests[0].e = t->exp, t->dests[0].active = true, t->n_dests = 1;
  t->live = live_new();
  if (!t->version || !t->q || !t->exp || !t->live) {
    tracer_free(t);
    return NULL;
  }
  tracer_refresh(t);
  t->st = t->cfg ? state_new(t->cfg->state_dir) : NULL;
  if (!t->st) {
    tracer_free(t);
    return NULL;
  }
  /* Spans an earlier process could not send (a crash, kill -9, no backend yet) go first; the
   * marks stored with them are recorded before any snapshot is reconciled (roll forward). */
  queue_on_settled(t->q, on_settled, t);
  queue_on_written(t->q, on_written, t);
  if (!t->cfg->dry_run) { /* a dry run records nothing, so it has nothing to guard */
    queue_guard guard = {guard_open, guard_recorded, guard_record, guard_close, t};
    queue_set_guard(t->q, &guard);
  }
  /* A dry run sends nothing, so it owns no spool: it neither adopts other processes' unsent
   * files (it would discard them) nor records marks (a later real run must still send what a
   * dry run only built). Its spans live in memory and are discarded, counted and logged. */
  t->dry_run_at_open = t->cfg->dry_run;
  t->sp = t->dry_run_at_open ? NULL : spool_open(t->cfg->spool_dir, t->cfg->spool_fsync);
  if (t->dry_run_at_open)
    log_info("dry run: the spool is not opened (other processes' unsent spans are left alone) "
             "and nothing is recorded as sent");
  /* The writer thread loads them (OpenCode's thread never waits on the spool) */
  queue_attach_spool(t->q, t->sp, on_marks_loaded, on_spool_loaded, t);
  return t;
}

/* reconcile's emit: the span is encoded once, here, and its bytes held for the batch that
 * tracer_reconcile queues (and spools) as a whole. */
static int emit_to_batch(void *ctx, span *s, const char *key) {
  tracer *t = ctx;
  if (t->cfg->max_spans_per_payload && t->batch_len >= t->cfg->max_spans_per_payload) {
    span_free(s); /* left unmarked: a later payload emits it */
    t->batch_refused = true;
    return -1;
  }
  if (t->cfg->dry_run) {
    char trace[33], id[17];
    span_hex(s->trace_id, 16, trace);
    span_hex(s->span_id, 8, id);
    const span_attr *kind = span_get(s, "openinference.span.kind");
    log_info("dry run: span \"%s\" %s trace %s span %s", s->name, kind ? kind->value.s : "?", trace,
             id);
  }
  uint8_t *bytes = NULL;
  size_t len = 0;
  int rc = otlp_encode_span(s, &bytes, &len);
  span_free(s);
  if (rc != 0) {
    t->encode_failures++;
    return -1;
  }
  if (t->batch_len == t->batch_cap) {
    size_t cap = t->batch_cap ? t->batch_cap * 2 : 64;
    uint8_t **batch = realloc(t->batch, cap * sizeof *batch);
    if (batch) t->batch = batch;
    size_t *lens = batch ? realloc(t->batch_lens, cap * sizeof *lens) : NULL;
    if (lens) t->batch_lens = lens;
    char **keys = lens ? realloc(t->batch_keys, cap * sizeof *keys) : NULL;
    if (keys) t->batch_keys = keys;
    if (!batch || !lens || !keys) {
      free(bytes);
      return -1;
    }
    t->batch_cap = cap;
  }
  t->batch[t->batch_len] = bytes;
  t->batch_keys[t->batch_len] = key ? strdup(key) : NULL; /* no memory: that span unguarded */
  t->batch_lens[t->batch_len++] = len;
  return 0;
}

/* The marks of spans [from, to) of the batch (their keys, after the session id that opens
 * marks), in a malloc'd buffer; NULL when out of memory. */
static uint8_t *unit_marks(const tracer *t, const uint8_t *marks, size_t from, size_t to,
                           size_t *len) {
  size_t ns = strlen((const char *)marks) + 1, total = ns;
  for (size_t i = from; i < to; i++) total += strlen(t->batch_keys[i]) + 1;
  uint8_t *out = malloc(total), *p = out;
  if (!out) return NULL;
  memcpy(p, marks, ns), p += ns;
  for (size_t i = from; i < to; i++) {
    size_t n = strlen(t->batch_keys[i]) + 1;
    memcpy(p, t->batch_keys[i], n), p += n;
  }
  *len = total;
  return out;
}

/* Hands the reconcile's spans over in memory, with the marks they answer for: this process
 * will not emit them again, and the session state records them only once the writer thread
 * has them in a durable spool file (queue.h). Never waits on the disk: a crash before that
 * leaves them unmarked, and the next snapshot re-derives them.
 * A large reconcile (a backfilled session, the first payload of a long turn) goes over in
 * units of at most one export batch (exporter.h), each with the marks of its own spans: each
 * is written, and sent, as soon as its own spool file is durable, not once the whole of it is.
 * The marks are each span's dedup key; were a key not kept (memory), it goes whole. */
static void queue_batch(tracer *t) {
  if (t->batch_len == 0) {
    state_rollback(t->st); /* nothing was marked */
    return;
  }
  uint8_t *marks = NULL;
  size_t marks_len = 0;
  if (state_hand_over(t->st, &marks, &marks_len) != 0) {
    /* out of memory: forget the marks; the spans still go, a later snapshot may repeat them */
    state_rollback(t->st);
  }
  bool keyed = marks != NULL;
  size_t bytes = 0;
  for (size_t i = 0; i < t->batch_len; i++) {
    keyed = keyed && t->batch_keys[i];
    bytes += t->batch_lens[i];
  }
  bool split = keyed && state_marks_each(marks, marks_len, NULL, NULL) &&
               (t->batch_len > EXPORTER_BATCH_MAX_SPANS || bytes > EXPORTER_BATCH_MAX_BYTES);
  for (size_t from = 0, to; split && from < t->batch_len; from = to) {
    size_t unit_bytes = 0;
    for (to = from; to < t->batch_len && to - from < EXPORTER_BATCH_MAX_SPANS; to++) {
      if (to > from && unit_bytes + t->batch_lens[to] > EXPORTER_BATCH_MAX_BYTES) break;
      unit_bytes += t->batch_lens[to];
    }
    size_t len = 0;
    uint8_t *unit = unit_marks(t, marks, from, to, &len);
    if (!unit && from == 0) {
      split = false; /* out of memory: as one unit */
      break;
    }
    /* (out of memory after the first unit: the rest go without marks; a later snapshot may
     * repeat them, as when state_hand_over fails) */
    queue_hand_over(t->q, t->batch + from, t->batch_lens + from,
                    (const char *const *)t->batch_keys + from, to - from, unit, unit ? len : 0);
    free(unit);
  }
  if (!split)
    queue_hand_over(t->q, t->batch, t->batch_lens, (const char *const *)t->batch_keys, t->batch_len,
                    marks, marks_len);
  free(marks);
  for (size_t i = 0; i < t->batch_len; i++) free(t->batch_keys[i]);
  t->spans_queued += t->batch_len;
  t->batch_len = 0;
  notify_all(t, true);
}

int tracer_reconcile(tracer *t, const char *json, size_t len, reconcile_result *result) {
  tracer_refresh(t);
  memset(result, 0, sizeof *result);
  if (!t->cfg->enabled) return 0;
  t->payloads++;
  if (t->cfg->max_payload_bytes && len > t->cfg->max_payload_bytes) {
    t->rejected++;
    snprintf(result->error, sizeof result->error,
             "payload of %zu bytes is over the limit of %zu (limits.max_payload_mb)", len,
             t->cfg->max_payload_bytes);
    snprintf(t->last_rejection, sizeof t->last_rejection, "%s", result->error);
    log_warn("payload rejected, nothing queued: %s", result->error);
    return -1;
  }
  int rc = reconcile_json_live(t->st, &t->cfg->attrs, t->live, json, len, emit_to_batch, t, result);
  t->items_skipped += result->items_skipped;
  t->numbers_unreadable += result->numbers_unreadable;
  if (result->opencode_version[0] && strcmp(result->opencode_version, t->opencode_version) != 0) {
    /* the resource says which OpenCode the spans come from (service.version) */
    snprintf(t->opencode_version, sizeof t->opencode_version, "%s", result->opencode_version);
    apply_targets(t, t->cfg);
  }
  if (t->batch_refused) {
    log_warn("a payload implied more than %zu new spans (limits.max_spans_per_payload); the "
             "rest follow with the next payloads",
             t->cfg->max_spans_per_payload);
    t->batch_refused = false;
  }
  queue_batch(t);
  if (rc == -1) {
    t->rejected++;
    snprintf(t->last_rejection, sizeof t->last_rejection, "%s", result->error);
    log_warn("payload rejected, nothing queued: %s", result->error);
  } else if (rc == -2) {
    log_error("out of memory while reconciling; %zu spans queued, the rest will be retried",
              result->spans);
  }
  return rc;
}

void tracer_flush(tracer *t, long timeout_ms, exporter_counts *out) {
  /* what earlier processes left counts as queued: the load ends first (flush runs off the JS
   * thread), then the rest of the bound goes to the export */
  int64_t start = wallclock_steady_ms();
  queue_wait_loaded(t->q, timeout_ms);
  /* every destination within the one bound (they send side by side; this only waits); the
   * counts are the first destination in use's, but pending is the most any destination still
   * has: a span one of them has not taken is still waiting in the spool */
  exporter *es[CONFIG_MAX_DESTINATIONS];
  size_t n = 0, main_at = 0;
  pthread_mutex_lock(&t->dest_lock);
  for (size_t i = 0; i < t->n_dests; i++)
    if (t->dests[i].active) es[n++] = t->dests[i].e;
  if (n == 0) es[n++] = t->exp;
  pthread_mutex_unlock(&t->dest_lock);
  for (size_t i = 0; i < n; i++) {
    long spent = (long)(wallclock_steady_ms() - start);
    exporter_counts c;
    exporter_flush(es[i], timeout_ms > spent ? timeout_ms - spent : 0, i == main_at ? out : &c);
    if (i != main_at && c.pending > out->pending) out->pending = c.pending;
  }
}

bool tracer_enabled(tracer *t) {
  tracer_refresh(t);
  return t->cfg->enabled;
}

long tracer_exit_bound_ms(tracer *t) {
  tracer_refresh(t);
  return t->cfg->shutdown_ms;
}

/* Within timeout_ms (+ the few ms an abort takes): send what can be sent, make durable what
 * is not, stop. Spans the backend did not take stay in the spool for the next process. */
void tracer_shutdown(tracer *t, long timeout_ms) {
  if (timeout_ms < 0) timeout_ms = t->cfg->shutdown_ms;
  int64_t start = platform_monotonic_ms();
  exporter *es[CONFIG_MAX_DESTINATIONS];
  char names[CONFIG_MAX_DESTINATIONS][48];
  size_t n_es = 0;
  pthread_mutex_lock(&t->dest_lock);
  for (size_t i = 0; i < t->n_dests; i++)
    memcpy(names[n_es], t->dests[i].name, sizeof names[n_es]), es[n_es++] = t->dests[i].e;
  pthread_mutex_unlock(&t->dest_lock);
  /* all of them flush side by side within the bound, then stop */
  for (size_t i = 0; i < n_es; i++) {
    long spent = (long)(platform_monotonic_ms() - start);
    exporter_counts ignored;
    if (timeout_ms > spent) exporter_flush(es[i], timeout_ms - spent, &ignored);
  }
  for (size_t i = 0; i < n_es; i++) exporter_stop(es[i], 0);
  long spent = (long)(platform_monotonic_ms() - start);
  /* the writer keeps up as spans arrive; whatever is left gets the rest, and at least 50 ms */
  queue_sync(t->q, timeout_ms - spent > 50 ? timeout_ms - spent : 50);
  queue_log_drops(t->q);
  /* Exit does not wait for a backend that does not answer: say what is left for the next
   * start, once per count (dispose and the environment's cleanup both end up here). */
  exporter_counts n = exporter_get_counts(t->exp);
  /* without a spool (its directory unusable, said at start) they end with this process */
  const char *fate = t->sp ? "stay in the spool for the next start"
                           : "are lost with this process (the spool directory is not usable)";
  if (n.pending > 0 && n.pending != t->left_logged) {
    queue_stats qs = queue_get_stats(t->q);
    log_warn("exit: %llu spans (%zu bytes) not yet accepted by the backend %s (%s)",
             (unsigned long long)n.pending, (size_t)qs.bytes, fate,
             n.last_error[0] ? n.last_error : "no answer yet");
    t->left_logged = n.pending;
  }
  for (size_t i = 1; i < n_es; i++) {
    exporter_counts d = exporter_get_counts(es[i]);
    if (d.pending > 0)
      log_warn("exit: %llu spans not yet accepted by destination %s %s (%s)",
               (unsigned long long)d.pending, names[i], fate,
               d.last_error[0] ? d.last_error : "no answer yet");
  }
}

/* One destination's part of status: where (for display), what its last answer was, what it
 * still has to send, whether it is paused (a refused key or a moved endpoint waits for a new
 * config). Never a credential. */
static json_t *destination_json(const char *name, config_target target, const char *url,
                                const char *project, bool from_project, const exporter_counts *n) {
  char *shown = url ? text_url_for_display(url) : NULL;
  bool paused = n->key_refused || n->moved;
  json_t *o = json_pack(
      "{s:s, s:s, s:s?, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, s:I, s:b, s:b, s:b}", "name",
      name, "target", config_target_name(target), "endpoint", shown, "project", project, "from",
      from_project ? "project" : "user", "pending", (json_int_t)n->pending, "exported",
      (json_int_t)n->exported, "dropped", (json_int_t)n->dropped, "requests",
      (json_int_t)n->requests, "failed_requests", (json_int_t)n->failed_requests, "status",
      (json_int_t)n->last_status, "error", n->last_error[0] ? n->last_error : NULL, "at_ms",
      (json_int_t)n->last_export_ms, "key_refused", n->key_refused, "moved", n->moved, "paused",
      paused);
  if (o && n->last_status >= 0) {
    const retry_class *class = retry_class_of_status(n->last_status);
    json_object_set_new(o, "class", json_string(class->name));
    json_object_set_new(o, "kept", json_boolean(class->keeps));
  }
  free(shown);
  return o;
}

/* Every destination in use: the first (when configured), then the further ones. */
static json_t *destinations_json(tracer *t, const config *c) {
  json_t *list = json_array();
  pthread_mutex_lock(&t->dest_lock);
  for (size_t i = 0; list && i < t->n_dests; i++) {
    if (!t->dests[i].active) continue;
    exporter_counts n = exporter_get_counts(t->dests[i].e);
    if (i == 0) {
      json_array_append_new(list, destination_json(CONFIG_FIRST_DESTINATION, c->target, c->endpoint,
                                                   c->project_name, false, &n));
      continue;
    }
    for (size_t k = 0; k < c->n_destinations; k++) {
      const config_destination *d = &c->destinations[k];
      if (strcmp(d->name, t->dests[i].name)) continue;
      json_array_append_new(list, destination_json(d->name, d->target, d->endpoint, d->project_name,
                                                   d->from_project, &n));
    }
  }
  pthread_mutex_unlock(&t->dest_lock);
  return list;
}

/* Sets key of the object at path (NULL: o itself) to v (the reference is taken). */
static void put(json_t *o, const char *path, const char *key, json_t *v) {
  json_t *at = path ? json_object_get(o, path) : o;
  if (json_is_object(at)) json_object_set_new(at, key, v);
  else json_decref(v);
}

/* One status model: the settings as config_describe_json tells them (state, reason, backend,
 * config, spool, project, sources, redaction, destinations...), and over them what this
 * process did with them. */
char *tracer_status_json(tracer *t) {
  tracer_refresh(t);
  const config *c = t->cfg;
  exporter_counts n = exporter_get_counts(t->exp);
  queue_stats qs = queue_get_stats(t->q);
  char *described = config_describe_json(c);
  json_t *status = described ? json_loads(described, 0, NULL) : NULL;
  free(described);
  if (!status) return NULL;
  put(status, NULL, "version", json_string(t->version));
  put(status, "config", "user_id_set", json_boolean(c->attrs.user_id != NULL));
  put(status, NULL, "unknown_keys", c->unknown_keys ? json_string(c->unknown_keys) : json_null());
  put(status, "config", "logging",
      json_pack("{s:b, s:b, s:b}", "prompts", c->attrs.log_prompts, "tool_details",
                c->attrs.log_tool_details, "tool_content", c->attrs.log_tool_content));
  /* the plugin's start-up sweep reads its window here (limits.recover_hours) */
  put(status, "config", "recover_hours", json_integer(c->recover_hours));
  put(status, NULL, "counters",
      json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                "s:I, s:I, s:I, s:I}",
                "payloads", (json_int_t)t->payloads, "rejected_payloads", (json_int_t)t->rejected,
                "items_skipped", (json_int_t)t->items_skipped, "spans_queued",
                (json_int_t)t->spans_queued, "spans_exported", (json_int_t)n.exported,
                "spans_dropped", (json_int_t)n.dropped, "spans_pending", (json_int_t)n.pending,
                "spans_restored", (json_int_t)__atomic_load_n(&t->spans_loaded, __ATOMIC_RELAXED),
                "spans_memory_only", (json_int_t)qs.not_durable, "spans_dropped_full",
                (json_int_t)qs.dropped_full, "spans_dropped_old", (json_int_t)qs.dropped_old,
                "requests", (json_int_t)n.requests, "failed_requests",
                (json_int_t)n.failed_requests, "retries", (json_int_t)n.retries, "spans_discarded",
                (json_int_t)n.discarded, "numbers_unreadable", (json_int_t)t->numbers_unreadable,
                "spans_deduplicated", (json_int_t)qs.deduplicated, "live_sessions",
                (json_int_t)live_sessions(t->live),
                /* what the live-signal store holds (live.h): signals waiting for their spans */
                "live_bytes", (json_int_t)live_bytes(t->live), "spans_damaged",
                (json_int_t)qs.loaded.damaged_spans));
  /* what the last answer means, in the words of the one table (retry.h), and the table */
  json_t *last =
      json_pack("{s:I, s:s?, s:I, s:b, s:b}", "status", (json_int_t)n.last_status, "error",
                n.last_error[0] ? n.last_error : NULL, "at_ms", (json_int_t)n.last_export_ms,
                "key_refused", n.key_refused, "moved", n.moved);
  if (last && n.last_status >= 0) {
    const retry_class *class = retry_class_of_status(n.last_status);
    json_object_set_new(last, "class", json_string(class->name));
    json_object_set_new(last, "kept", json_boolean(class->keeps));
  }
  put(status, NULL, "last_export", last);
  put(status, NULL, "last_rejection",
      t->last_rejection[0] ? json_string(t->last_rejection) : json_null());
  put(status, "spool", "pending_bytes", json_integer((json_int_t)qs.bytes));
  put(status, "spool", "writable", json_boolean(t->sp != NULL && !qs.spool_failing));
  put(status, "spool", "fsync", json_boolean(c->spool_fsync));
  put(status, "spool", "max_age_days", json_integer((json_int_t)(c->spool_max_age_s / 86400)));
  put(status, "spool", "loading", json_boolean(qs.loading));
  put(status, "spool", "foreign_files", json_integer((json_int_t)qs.loaded.foreign_files));
  char *classes = retry_classes_json();
  json_t *table = classes ? json_loads(classes, 0, NULL) : NULL;
  free(classes);
  if (table) put(status, NULL, "export_outcomes", table);
  /* each destination as this process sends to it (over config_describe_json's list) */
  put(status, NULL, "destinations", destinations_json(t, c));
  char *text = json_dumps(status, JSON_COMPACT);
  json_decref(status);
  return text;
}

void tracer_free(tracer *t) {
  if (!t) return;
  /* The exporter stops first (it reads the queue), but is freed only after the queue's writer
   * thread, which may still wake it while it finishes its last writes, has ended; from here on
   * that wake never starts an exporter again (a spool load ending now would have restarted one,
   * to read the queue while it is freed). */
  pthread_mutex_lock(&t->dest_lock);
  t->freeing = true;
  pthread_mutex_unlock(&t->dest_lock);
  for (size_t i = 0; i < t->n_dests; i++)
    if (t->dests[i].e) exporter_stop(t->dests[i].e, 0);
  queue_free(t->q);
  for (size_t i = 1; i < t->n_dests; i++) exporter_free(t->dests[i].e);
  for (size_t i = 0; i < t->n_retired; i++) exporter_free(t->retired[i]);
  if (t->exp) exporter_free(t->exp);
  if (t->n_dests) pthread_mutex_destroy(&t->dest_lock);
  outcome_close(); /* after the exporter thread: nothing records past this point */
  if (t->st) state_free(t->st);
  live_free(t->live);
  for (size_t i = 0; i < t->batch_len; i++) free(t->batch[i]), free(t->batch_keys[i]);
  free(t->batch);
  free(t->batch_lens);
  free(t->batch_keys);
  config_free(t->cfg);
  free(t->project_dir);
  free(t->version);
  free(t);
}

void tracer_reject(tracer *t, const char *reason, reconcile_result *result) {
  tracer_refresh(t);
  memset(result, 0, sizeof *result);
  if (!t->cfg->enabled) return;
  t->payloads++;
  t->rejected++;
  snprintf(result->error, sizeof result->error, "%s", reason);
  snprintf(t->last_rejection, sizeof t->last_rejection, "%s", result->error);
  log_warn("payload rejected, nothing queued: %s", result->error);
}
