/* tracer — the library as one object: config, log, dedup state, queue and exporter wired
 * together. binding.c turns JS calls into these; C tests drive it directly.
 *
 * Threads: every function here but tracer_flush is called by one thread at a time (a JS
 * thread: binding.c serialises the main thread and any worker_threads that load the addon);
 * tracer_flush may run beside them on a thread-pool thread (it only waits on the exporter).
 * Config reloads happen on a JS thread; environ is read then, so a setenv on another JS
 * thread at that moment would race (Node's workers have their own process.env copy and do
 * not call setenv).
 */
#ifndef TRACER_H
#define TRACER_H

#include <stddef.h>

#include "config.h"
#include "exporter.h"
#include "reconcile.h"

typedef struct tracer tracer;

/* A tracer for envp (NULL-terminated "NAME=value", like environ; borrowed until
 * tracer_set_environment hands over another, read again on each refresh). Never fails short of
 * memory: a broken config is logged and defaults apply. */
tracer *tracer_open(const char *const *envp, const char *version);

/* The environment as it is now (borrowed until the next call). setenv may move environ's array
 * (Node's process.env setter calls it), freeing the one the tracer was opened with: a caller
 * whose environment can change hands the current array over before each call. */
void tracer_set_environment(tracer *t, const char *const *envp);

/* The project's directory (OpenCode's `directory`; NULL or "": none): its
 * .opencode/arize-tracing.yaml (config.h, config_load_in) is read over the user's file from now
 * on, and again when it changes. Nothing happens when the directory is the one already set. */
void tracer_set_project(tracer *t, const char *dir);

/* Re-reads the config when the file's mtime or the relevant environment changed. */
void tracer_refresh(tracer *t);

/* Reconciles one payload (JSON text, the whole or any tail of a session: reconcile.h) and hands
 * the new spans over to the queue in memory (never waiting on the disk: the spool writer makes
 * them durable, and only then records them in the session state; see queue.h); result carries
 * the session's watermark back. The session's state is locked once, for this call. Returns
 * reconcile_json's status; a rejected payload is logged once, as one line. */
int tracer_reconcile(tracer *t, const char *json, size_t len, reconcile_result *result);

/* Waits until what was queued so far (and what earlier processes left in the spool, which the
 * writer thread loads at start) is answered, or timeout_ms. */
void tracer_flush(tracer *t, long timeout_ms, exporter_counts *out);

/* Counters, the resolved backend and the config's health as JSON text (malloc'd, caller
 * frees). Never holds a secret. */
char *tracer_status_json(tracer *t);

/* The spool c names, counted without opening a tracer (spool_census_json with c's destinations
 * and their marker keys): `status` reads it, so no JavaScript parses the spool's format. */
char *tracer_spool_census_json(const config *c);

/* Whether tracing is on (settings re-read when they changed, as for a payload): the plugin's
 * door on every event, without the status JSON. */
bool tracer_enabled(tracer *t);

/* The configured exit bound in ms (export.exit_flush_ms), read now. */
long tracer_exit_bound_ms(tracer *t);

/* Flushes for at most timeout_ms (negative: the configured bound, export.exit_flush_ms),
 * then stops the exporter (a request in flight is cut at once) and gives the spool writer what
 * is left of the bound, at least 50 ms, to make the last spans durable: it returns within
 * timeout_ms plus a few milliseconds whatever the backend does. What is unsent stays in the
 * spool; a later reconcile starts the exporter again. */
void tracer_shutdown(tracer *t, long timeout_ms);

void tracer_free(tracer *t);

/* Counts and logs a payload the caller could not even turn into JSON text (a value JSON cannot
 * hold, a cycle) as tracer_reconcile does a rejected one; result->error says why (reason is one
 * line naming the problem, never payload content). */
void tracer_reject(tracer *t, const char *reason, reconcile_result *result);

#endif
