/* tracer — the library as one object: config, log, dedup state, queue and exporter wired
 * together. binding.c turns JS calls into these; C tests drive it directly.
 *
 * Threads: every function here but tracer_flush is called on the JS thread; tracer_flush may
 * run on a worker thread (it only waits on the exporter). Config reloads happen on the JS
 * thread, so environ is never read concurrently with a setenv.
 */
#ifndef TRACER_H
#define TRACER_H

#include <stddef.h>

#include "exporter.h"
#include "reconcile.h"

typedef struct tracer tracer;

/* A tracer for envp (NULL-terminated "NAME=value", like environ; borrowed, read again on
 * each refresh). Never fails short of memory: a broken config is logged and defaults apply. */
tracer *tracer_open(const char *const *envp, const char *version);

/* Re-reads the config when the file's mtime or the relevant environment changed. */
void tracer_refresh(tracer *t);

/* Reconciles one payload (JSON text) and hands the new spans over to the queue in memory
 * (never waiting on the disk: the spool writer makes them durable, and only then records them
 * in the session state; see queue.h). Returns reconcile_json's status; a rejected payload is
 * logged once, as one line. */
int tracer_reconcile(tracer *t, const char *json, size_t len, reconcile_result *result);

/* Waits until what was queued so far is answered, or timeout_ms. */
void tracer_flush(tracer *t, long timeout_ms, exporter_counts *out);

/* Counters, the resolved backend and the config's health as JSON text (malloc'd, caller
 * frees). Never holds a secret. */
char *tracer_status_json(tracer *t);

/* Flushes for at most timeout_ms (negative: the configured shutdown bound, 2 s by default),
 * then stops the exporter (a request in flight is cut at once) and gives the spool writer what
 * is left of the bound, at least 50 ms, to make the last spans durable: it returns within
 * timeout_ms plus a few milliseconds whatever the backend does. What is unsent stays in the
 * spool; a later reconcile starts the exporter again. */
void tracer_shutdown(tracer *t, long timeout_ms);

void tracer_free(tracer *t);

/* ------------------------------------------------------------------------------------------ */
/* Fast path: what of a snapshot reconcile must see.
 *
 * OpenCode repeats the whole session in every snapshot. lib/ walks the messages (info.role,
 * .parentID, .sessionID; the ids of user messages and of the last turn), these two functions
 * decide which messages and child sessions reconcile must see, and only those are serialised
 * for tracer_reconcile. The spans that come out are the ones the whole payload would give:
 *
 *   - A turn whose Turn span was sent ("turn:<user message id>" in the state) is complete:
 *     none of its messages is kept. The session's last user message is always kept, so
 *     reconcile still knows which turn is the latest.
 *   - A turn whose Turn span may be sent now (a newer user message exists, or the payload is
 *     "close") is kept whole: the Turn needs every call of it, and its child sessions.
 *   - The open last turn (no newer user message, not "close") keeps its user message and each
 *     assistant message whose LLM span was not sent ("llm:<message id>"), with the assistant
 *     message before it (its tool results are the call's input); its latest assistant message
 *     also while a TOOL span of it was not sent ("tool:<message id>:<call id>"). An earlier
 *     assistant message whose LLM span was sent is complete with its tools: OpenCode finishes
 *     (or fails) the tools of a model call before it completes the message, and a reconcile
 *     that could queue only part of its spans (limits.max_spans_per_payload) stops at one
 *     point, so what it left out follows a message still kept.
 *   - A child session whose AGENT span was sent ("agent:<child session id>") is left out,
 *     unless a turn kept whole started it (the Turn's roll-ups count it); a child kept brings
 *     its parent child sessions along.
 *
 * Whenever the decision would need more, the functions say so (return 1) and the caller sends
 * the whole payload: reconcile then decides, and rejects, as always. What is left out is not
 * read beyond the fields above: a message of another session still rejects the payload (lib/
 * checks the sessionID of every message it walks, which is all of them but the complete turns
 * it already walked in this process), but an invalid id or a foreign part inside a complete
 * turn or child session no longer does, and a message added to a turn after its Turn span was
 * sent is not traced (the whole payload would trace it under that trace, outside the Turn's
 * roll-ups). Nothing left out reaches a span or the state. */

typedef enum { TRACER_ROLE_OTHER = 0, TRACER_ROLE_USER, TRACER_ROLE_ASSISTANT } tracer_role;

/* A message as the caller read it. */
typedef struct {
  const char *id;   /* info.id: set for user messages and the messages of the last turn (the
                     * only ones whose id the decision reads), NULL for the others */
  tracer_role role; /* info.role */
  long turn;        /* the index of the user message whose turn it is in (its own for a user
                     * message), -1 for none: reconcile.c's turn_owners */
} tracer_message_ref;

/* What to do with a message or a child session (tracer_select_*). */
enum {
  TRACER_SKIP = 0,  /* reconcile need not see it */
  TRACER_KEEP = 1,  /* reconcile must see it */
  TRACER_WHOLE = 2, /* root messages only: kept, in a turn whose Turn span may be sent now */
};

/* Decides, for the n messages of session_id's payload, which reconcile must see: keep[i] is
 * TRACER_SKIP, TRACER_KEEP or TRACER_WHOLE. closing: the payload's type is "close".
 * latest_calls: the callID of each `tool` part of the last turn's latest assistant message
 * (n_latest_calls of them). Returns 0, or 1 when the whole payload must go to
 * tracer_reconcile (an id reconcile would reject, refs that do not add up, out of memory).
 * Reads the state (state_begin ... state_rollback): call it before tracer_reconcile, never
 * between a reconcile and its commit. */
int tracer_select_messages(tracer *t, const char *session_id, bool closing,
                           const tracer_message_ref *messages, size_t n,
                           const char *const *latest_calls, size_t n_latest_calls,
                           unsigned char *keep);

/* A `task` tool part of a root message (borrowed strings). */
typedef struct {
  size_t message;               /* index of its root message */
  const char *child_session_id; /* state.metadata.sessionId; NULL when absent */
  const char *call_id;          /* callID; NULL when absent */
} tracer_task_ref;

/* A child session as the caller read it (borrowed): an object whose info is absent or an
 * object, and whose messages are records naming it. */
typedef struct {
  const char *session_id;        /* sessionID */
  const char *parent_session_id; /* parentSessionID */
  const char *parent_call_id;    /* parentCallID; NULL when absent */
  const char *info_id;           /* info.id when a string, else NULL */
} tracer_child_ref;

/* Decides which child sessions reconcile must see: keep[c] is TRACER_SKIP or TRACER_KEEP.
 * message_keep is what tracer_select_messages decided for the n_messages root messages; tasks
 * are (at least) the `task` parts of the messages it kept. Returns 0, or 1 when the whole
 * payload must go (a child reconcile would reject, a child it must see whose task call is in
 * a message left out, out of memory). Reads the state like tracer_select_messages. */
int tracer_select_children(tracer *t, const char *session_id, const tracer_child_ref *children,
                           size_t n, const tracer_task_ref *tasks, size_t n_tasks,
                           const unsigned char *message_keep, size_t n_messages,
                           unsigned char *keep);

/* Counts and logs a payload the caller could not even turn into JSON text (a value JSON cannot
 * hold, a cycle) as tracer_reconcile does a rejected one; result->error says why (reason is one
 * line naming the problem, never payload content). */
void tracer_reject(tracer *t, const char *reason, reconcile_result *result);

#endif
