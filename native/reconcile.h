/* reconcile — an OpenCode session snapshot in, the OpenInference spans it newly implies out.
 *
 * The payload is the JSON the plugin builds:
 *   { "type": "reconcile" | "close", "sessionID": "...", "messages": [{info, parts}],
 *     "childSessions": [{sessionID, parentSessionID, parentCallID, info, messages}],
 *     "abandoned": true }                     optional, honoured with "close" only
 * "close" (session.idle) sends the last Turn once every model call of it finished. "abandoned"
 * says no OpenCode process works on the session any more (killed mid-turn, or quit before
 * session.idle was handled): the last turn is over as it stands. A call that never completed
 * (and its tools, and a subagent still running) is sent as ERROR "interrupted", ending at the
 * last time OpenCode recorded in it; the Turn is sent. Should OpenCode go on with that turn after
 * all, its later calls still hang off the Turn already sent (same ids); the calls sent as
 * interrupted are not sent again.
 * where messages are what OpenCode's client.session.messages() returns. The snapshot repeats
 * the whole history every time; `state` remembers what was emitted so only new spans leave.
 * Ids are derived from OpenCode's ids (hash.h), so a parent is computable from the snapshot
 * alone and a replay re-creates identical spans.
 */
#ifndef RECONCILE_H
#define RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include "spans.h"
#include "state.h"

typedef struct {
  bool log_prompts;      /* false: prompt and response text become "<redacted (N chars)>" */
  bool log_tool_details; /* false: tool arguments, command, file path, query, url, title */
  bool log_tool_content; /* false: tool input and output */
  const char *user_id;   /* user.id on every span; NULL for none */
  size_t max_attr_bytes; /* longer string attributes are cut with a marker; 0 = 32 KiB */

  /* OpenInference's own masking (OPENINFERENCE_HIDE_*): values become "__REDACTED__", and
   * hidden message lists are left out. */
  bool hide_inputs, hide_outputs, hide_input_messages, hide_output_messages;
  bool hide_input_text, hide_output_text;

  /* Custom attributes on every span (config `attributes:`); ours win on the same name. */
  const char *const *attribute_names;
  const char *const *attribute_values;
  size_t n_attributes;
} reconcile_options;

/* Receives each new span and owns it from then on (it must free it, whatever it returns).
 * Returns 0 when the span was kept (queued); anything else leaves it unmarked in state, so a
 * later payload produces it again. */
typedef int (*reconcile_emit_fn)(void *ctx, span *s);

typedef struct {
  size_t spans;          /* spans emit accepted */
  size_t turns;          /* of which Turn spans (backfill counts turns) */
  size_t children_unlinked; /* child sessions skipped: no authoritative link to a task call */
  size_t items_skipped;  /* malformed messages, parts, numbers, child sessions: each left out
                          * with one log line naming it (ids only), the rest traced */
  char error[256];       /* why the payload was rejected; "" when valid */
} reconcile_result;


/* Whether reconcile accepts this as an OpenCode id (non-empty, no control characters, under 256
 * bytes): ids become state keys and file names. */
bool reconcile_id_ok(const char *id);

/* Reconciles one payload. A valid payload opens its session in st (state_begin) and marks
 * what it emitted as pending: the caller calls state_commit once the spans are stored (or
 * state_rollback when they could not be). One bad item (a message, part, number or child
 * session that cannot be read or names another record) is skipped with one log line that
 * names it by ids, never by content, and everything else is traced: returns 0. Returns -1
 * when the payload is rejected whole because nothing in it can be trusted: not JSON, a wrong
 * shape, no valid session id, or a message of another session in the root's messages (a
 * privacy boundary). A rejected payload emits nothing; result->error says why, without
 * quoting content. Returns -2 when memory ran out (some spans may have been emitted). */
int reconcile_json(state *st, const reconcile_options *opt, const char *json, size_t len,
                   reconcile_emit_fn emit, void *ctx, reconcile_result *result);

#endif
