/* reconcile — an OpenCode session snapshot in, the OpenInference spans it newly implies out.
 *
 * The payload is the JSON the plugin builds:
 *   { "type": "reconcile" | "close", "sessionID": "...", "messages": [{info, parts}],
 *     "childSessions": [{sessionID, parentSessionID, parentCallID, info, messages}],
 *     "abandoned": true,                      optional, honoured with "close" only
 *     "stoppedAt": ms,                        optional, with "abandoned": when the OpenCode that
 *                                             worked on the session was last seen alive
 *     "session": {Session},                   optional: the session's own info (title, version,
 *                                             directory), for the Turn's context
 *     "context": {opencodeVersion, directory, git: {remote, branch, commit}},   optional:
 *                                             what the plugin read off OpenCode's thread
 *     "turnsBefore": n,                       optional: turns of the session before the
 *                                             payload's first message (read from its start)
 *     "previousTurn": "msg_..." }             optional: the user message that opened the turn
 *                                             right before the payload, when the plugin saw it
 * where messages are what OpenCode's client.session.messages() returns: the whole session or
 * any tail of it (the open part, from the last watermark on), and childSessions the sessions
 * their `task` calls started (lib leaves out those result->open_children no longer names).
 * `state` remembers what was emitted so only new spans leave, and the watermark
 * (reconcile_result) says how much the next payload must show.
 * "close" (session.idle) sends the last Turn once every model call of it finished. "abandoned"
 * says no OpenCode process works on the session any more (killed mid-turn, or quit before
 * session.idle was handled): the last turn is over as it stands. A call that never completed
 * (and its tools, and a subagent still running) is sent as ERROR "interrupted", ending at the
 * last time OpenCode recorded in it; the Turn is sent. Should OpenCode go on with that turn after
 * all, its later calls still hang off the Turn already sent (same ids); the calls sent as
 * interrupted are not sent again.
 * Ids are derived from OpenCode's ids (spanmap.h), so a parent is computable from the snapshot
 * alone and a replay re-creates identical spans.
 */
#ifndef RECONCILE_H
#define RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include "attrs.h"
#include "spans.h"
#include "state.h"

/* What may leave the machine, and how big: the attribute policy's options (attrs.h). */
typedef attrs_options reconcile_options;

/* Receives each new span and owns it from then on (it must free it, whatever it returns), with
 * its dedup key (borrowed, for the call only). Returns 0 when the span was kept (queued);
 * anything else leaves it unmarked in state, so a later payload produces it again. */
typedef int (*reconcile_emit_fn)(void *ctx, span *s, const char *key);

/* The session model's answer for a valid payload: where the next payload of this session may
 * start, and which child sessions it must fetch again (see reconcile_json). */
#define RECONCILE_ID_MAX 256       /* ids are shorter (payload_id_ok) */
#define RECONCILE_OPEN_CHILDREN 32 /* more open children than this: all count as open */

typedef struct {
  size_t spans;              /* spans emit accepted */
  size_t turns;              /* of which Turn spans (backfill counts turns) */
  size_t children_unlinked;  /* child sessions skipped: no authoritative link to a task call */
  size_t items_skipped;      /* malformed messages, parts, numbers, child sessions: each left out
                              * with one log line naming it (ids only), the rest traced */
  size_t numbers_unreadable; /* numbers beyond a double, read as null (one log line for all) */
  char error[256];           /* why the payload was rejected; "" when valid */

  /* The watermark: the id of the oldest message of the session that can still produce spans
   * (the user message of the oldest turn whose Turn span is not sent, or the user message of a
   * turn the payload shows only the end of). Every message older than it, and every child
   * session started there, is done: the next payload may leave them out. When every turn of
   * the payload was sent, the payload's last message (a newer user message opens the next
   * turn after it). "" when the payload says nothing (no messages). */
  char watermark[RECONCILE_ID_MAX];
  /* The child sessions of the payload the next payload must carry: those that can still
   * produce spans (open: their AGENT span is unsent, one of their model calls is unfinished, or
   * no task call links them yet), which the caller fetches again, and those a Turn not yet
   * sent counts in its roll-ups, which it may pass again as it last fetched them. Any other
   * child is done. When there are more than RECONCILE_OPEN_CHILDREN, open_children_all is set
   * and every child counts as open. */
  char open_children[RECONCILE_OPEN_CHILDREN][RECONCILE_ID_MAX];
  bool open_child_emits[RECONCILE_OPEN_CHILDREN]; /* can still produce spans */
  size_t n_open_children;
  bool open_children_all;
  char opencode_version[64]; /* the payload's OpenCode version ("" unknown): service.version */
} reconcile_result;

/* Reconciles one payload. A valid payload opens its session in st (state_begin, the one lock
 * taken for the payload) and marks what it emitted as pending: the caller calls state_commit
 * once the spans are stored (or state_rollback when they could not be). One bad item (a
 * message, part, number or child session that cannot be read or names another record) is
 * skipped with one log line that names it by ids, never by content, and everything else is
 * traced: returns 0. Returns -1 when the payload is rejected whole because nothing in it can
 * be trusted: not JSON, a wrong shape, no valid session id, or a message of another session in
 * the root's messages (a privacy boundary). A rejected payload emits nothing; result->error
 * says why, without quoting content. Returns -2 when memory ran out (some spans may have been
 * emitted).
 *
 * The session model lives here and nowhere else: a user message opens a turn; an assistant
 * message belongs to the user message its parentID names; a turn is over once a newer user
 * message exists, or at "close" with every model call finished; a child session belongs to
 * the `task` call that names it; dedup keys are "llm:<message>", "tool:<message>:<call>",
 * "turn:<user message>", "agent:<child session>", and with each Turn the anchor
 * "turn#<user message>#<number>" (STATE_ANCHOR_PREFIX) later payloads count turns from. A user
 * message that continues the turn before it (OpenCode's automatic compaction:
 * payload_is_continuation) belongs to that turn when the payload shows it. A payload may be any
 * tail of the session: messages before its first user message belong to turns it does not show, and
 * produce no span (result->watermark then asks for their turn when it is not sent). */
int reconcile_json(state *st, const reconcile_options *opt, const char *json, size_t len,
                   reconcile_emit_fn emit, void *ctx, reconcile_result *result);

/* The same, with the process's live signals (live.h; NULL: none): the payload's `live` member is
 * taken into live first, and the spans carry what it holds for them. */
struct live_store;
int reconcile_json_live(state *st, const reconcile_options *opt, struct live_store *live,
                        const char *json, size_t len, reconcile_emit_fn emit, void *ctx,
                        reconcile_result *result);

#endif
