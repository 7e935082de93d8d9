/* spanmap — what each span holds: the Turn (CHAIN), LLM, TOOL and AGENT spans built from the
 * views of one payload (payload.h), with their ids, names, times, attributes, events and status.
 *
 * Which spans exist, and when (a turn is over, a call finished, a child is linked, a key was
 * sent) is the session model's (reconcile.c): it asks for a span only once it is due, and emits
 * it. What an attribute may carry (redaction, limits, OPENINFERENCE_HIDE_*) is decided by the
 * attribute policy (attrs.h), through which every attribute here is set.
 *
 * Ids (ARCHITECTURE.md, "Deterministic ids"): derived from OpenCode's ids, so a parent is
 * computable from the snapshot alone and a replay re-creates identical spans: trace       =
 * H("turn", session, user message id)            16 bytes Turn span   = H("turn-span", session,
 * user message id)        8 bytes LLM span    = H("llm", message id) TOOL span   = H("tool",
 * session, message id, call id)   call ids repeat across sessions AGENT span  = H("agent", child
 * session id)
 */
#ifndef SPANMAP_H
#define SPANMAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attrs.h"
#include "live.h"
#include "payload.h"
#include "spans.h"

/* What every span of one payload is built with: borrowed for the payload's duration. */
typedef struct {
  attrs at; /* the attribute policy; at.out_of_memory: a span could not be built whole */
  payload_report report; /* where a value that cannot be read is counted (payload_skip) */
  const char *root_id;   /* the payload's session */
  bool abandoned;        /* no OpenCode works on the session any more ("abandoned") */
  int64_t stopped_at;    /* when the OpenCode that worked on it was last seen alive, ms; -1 */
  json_t *session;       /* "session": the root session's Session (title, version, directory) */
  json_t *context;       /* "context": what the plugin read off OpenCode's thread (git, version) */
  live_store *live;      /* the live signals (live.h); NULL: none */
} spanmap;

/* Sets sm->at to the attribute policy of opt, measuring strings cut at parse time at their
 * true size (payload_measure). The other members are the caller's to fill. */
void spanmap_init(spanmap *sm, const attrs_options *opt);

/* The trace of the turn opened by user message `user` of session_id, and its Turn span's id. */
void spanmap_turn_ids(const char *session_id, const message_view *user, uint8_t trace_id[16],
                      uint8_t span_id[8]);

/* The AGENT span's id of a child session. */
void spanmap_agent_id(const char *child_id, uint8_t out[8]);

/* Each builder returns the span, owned by the caller, not yet finished (attrs_hide,
 * attrs_finish); NULL when memory ran out (sm->at.out_of_memory is then set). A span built with
 * sm->at.out_of_memory set is incomplete: the caller drops it. */

/* The LLM span of model call i (an assistant message of sv) of the turn opened by message u
 * (owner: each message's turn, as reconcile's turn_owners; NULL in a child session, where every
 * message before i belongs to the call's history), under parent_id. A call that did not finish
 * is an interrupted ERROR. */
span *spanmap_llm(spanmap *sm, const session_view *sv, size_t i, long u, const long *owner,
                  const uint8_t trace_id[16], const uint8_t parent_id[8]);

/* The TOOL span of a tool part of message m of sv, under its LLM span. A part that did not end
 * (completed or error) is an interrupted ERROR. NULL also when the part has no valid call id,
 * tool or status. */
span *spanmap_tool(spanmap *sm, const session_view *sv, const message_view *m, json_t *part,
                   const uint8_t trace_id[16]);

/* The Turn span of user message u of root, with the roll-ups of its calls and of its linked
 * children's; number: the turn's number in its session (0 unknown). *end_ms: when the turn
 * ended (-1 when it has no model call). */
span *spanmap_turn(spanmap *sm, const session_view *root, const long *owner, long u,
                   const session_view *children, size_t n_children, int64_t number,
                   int64_t *end_ms);

/* The AGENT span of a linked child session, under the TOOL span of the task call that started
 * it. A task call that never ended makes it an interrupted ERROR. */
span *spanmap_agent(spanmap *sm, const session_view *child);

#endif
