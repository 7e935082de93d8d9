/* reconcile — snapshot → new OpenInference spans: the session model.
 *
 * Two passes over the payload. The first (payload.c) checks its shape and that every record
 * belongs to the session it claims (a foreign record rejects the whole payload, before anything
 * is emitted). The second (here) walks the turns: each user message opens a turn; the assistant
 * messages whose parentID names it are its model calls; their tool parts are its tool calls;
 * a `task` tool call whose child session came along in childSessions gets an AGENT subtree.
 *
 * This file is the session model: turn ownership, completeness (when each span is due), child
 * links, dedup keys and the state marks, turn numbers, the watermark. What each span holds (its
 * id, name, times, attributes, status) is spanmap.c's; what an attribute may carry (redaction,
 * limits, OPENINFERENCE_HIDE_*) is decided in attrs.c only.
 */
#include "reconcile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "live.h"
#include "payload.h"
#include "spanmap.h"
#include "text.h"

_Static_assert(RECONCILE_ID_MAX >= PAYLOAD_ID_MAX, "a valid id fits reconcile_result's buffers");
_Static_assert(sizeof((reconcile_result *)0)->error == PAYLOAD_ERROR_MAX,
               "payload_reject writes reconcile_result's error");

/* One reconcile: what it reads and writes, borrowed for its duration. */
typedef struct {
  state *st;
  /* what the spans are built with (spanmap.h): the attribute policy (map.at.out_of_memory: a
   * span could not be built whole), the report (result's error and items_skipped), the root
   * session's id (the state namespace), "abandoned" ("close" with "abandoned": true: no
   * OpenCode works on it any more), "stoppedAt", "session", "context", the live signals */
  spanmap map;
  reconcile_emit_fn emit;
  void *emit_ctx;
  reconcile_result *result;
  bool closing;              /* type == "close" */
  int64_t turns_before;      /* "turnsBefore": user messages of the session before the payload's
                              * first one (-1 unknown) */
  const char *previous_turn; /* "previousTurn": the turn opened last before the payload */
  /* turn numbers (turn_number): the payload's base, once, and the heads counted so far */
  bool turn_base_known;
  int64_t turn_base, turn_heads;
  long turn_counted; /* the last message index counted in turn_heads */
} walk;

/* ------------------------------------------------------------------------------------------ */
/* Emission                                                                                    */

/* The last touch before a span leaves: OPENINFERENCE_HIDE_*, the custom attributes and the
 * size limits (attrs.h). */
static void finish_span(walk *w, span *s) {
  attrs_hide(&w->map.at, s);
  attrs_finish(&w->map.at, s);
}

/* Hands s (NULL: it could not be built) to emit and marks key as done when emit kept it. Frees
 * nothing itself: emit owns s. */
static void emit_span(walk *w, span *s, const char *key) {
  if (!s) return;
  finish_span(w, s);
  if (w->map.at.out_of_memory) {
    span_free(s);
    return;
  }
  if (w->emit(w->emit_ctx, s, key) != 0) return;
  if (state_mark(w->st, w->map.root_id, key) != 0) w->map.at.out_of_memory = true;
  w->result->spans++;
}

static bool seen(walk *w, const char *key) { return state_seen(w->st, w->map.root_id, key); }

/* The one recipe of a dedup key (reconcile.h): kind ":" id, then ":" call for a tool call
 * ("llm:<message>", "tool:<message>:<call>", "turn:<user message>", "agent:<child session>").
 * The caller frees key->data; key->failed when memory ran out. */
static void dedup_key(text *key, const char *kind, const char *id, const char *call) {
  text_add(key, kind, strlen(kind));
  text_add(key, ":", 1);
  text_add(key, id, strlen(id));
  if (call) {
    text_add(key, ":", 1);
    text_add(key, call, strlen(call));
  }
}

/* Builds the dedup key into key and answers whether its span is still to send (not marked:
 * neither sent nor pending in this reconcile). A key that cannot be built is out of memory. */
static bool due(walk *w, text *key, const char *kind, const char *id, const char *call) {
  dedup_key(key, kind, id, call);
  w->map.at.out_of_memory |= key->failed;
  return !key->failed && !seen(w, text_str(key));
}

/* Whether the span of kind:id was marked (sent, or pending in this reconcile). Out of memory
 * answers "not seen", which only makes the next payload longer. */
static bool seen_id(walk *w, const char *kind, const char *id) {
  text key = {0};
  dedup_key(&key, kind, id, NULL);
  bool out = !key.failed && seen(w, text_str(&key));
  free(key.data);
  return out;
}

/* One TOOL span for a finished tool part (or, when interrupted, an unfinished one). */
static void emit_tool(walk *w, const session_view *sv, const message_view *m, json_t *part,
                      const uint8_t trace_id[16], bool interrupted) {
  const char *call_id = payload_str(part, "callID"), *tool = payload_str(part, "tool");
  const char *status = payload_str(json_object_get(part, "state"), "status");
  if (!payload_id_ok(call_id) || !tool || !status) return;
  bool done = strcmp(status, "completed") == 0 || strcmp(status, "error") == 0;
  if (!done && !interrupted) return;
  /* asked for a permission whose answer the plugin has not heard yet (OpenCode stored the call's
   * end first): the span waits for it, until the turn is over */
  if (done && !interrupted && !w->closing && w->map.live &&
      live_permission_pending(w->map.live, sv->id, m->id, call_id))
    return;
  text key = {0};
  if (due(w, &key, "tool", m->id, call_id))
    emit_span(w, spanmap_tool(&w->map, sv, m, part, trace_id), text_str(&key));
  free(key.data);
}

/* The LLM span of model call i (an assistant message) of turn u, once it finished (or, when
 * interrupted, as it stands). */
static void emit_llm(walk *w, const session_view *sv, size_t i, long u, const long *owner,
                     const uint8_t trace_id[16], const uint8_t parent_id[8], bool interrupted) {
  const message_view *m = &sv->messages[i];
  if (!payload_finished(m) && !interrupted) return;
  text key = {0};
  if (due(w, &key, "llm", m->id, NULL))
    emit_span(w, spanmap_llm(&w->map, sv, i, u, owner, trace_id, parent_id), text_str(&key));
  free(key.data);
}

/* Once the Turn span left: what the live store held for the turn goes (the session's signals
 * up to the turn's end; its subagents' whole). */
static void live_turn_done(walk *w, const session_view *root, long u, session_view *children,
                           size_t n_children, const uint8_t trace_id[16], int64_t end_ms) {
  int64_t from, to;
  if (!w->map.live) return;
  /* a turn without a model call ends where the next begins (or holds the rest) */
  if (end_ms < 0 && live_turn_window(root, (size_t)u, &from, &to))
    end_ms = to == INT64_MAX ? INT64_MAX : to - 1;
  live_release(w->map.live, root->id, INT64_MIN, end_ms);
  for (size_t c = 0; c < n_children; c++)
    if (children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0)
      live_release(w->map.live, children[c].id, INT64_MIN, INT64_MAX);
}

/* Whether a session error stored on no message ended the turn of user message u, which has no
 * model call: OpenCode reported why (an unknown model, say) and stopped. */
static bool turn_failed_before_calls(walk *w, const session_view *root, size_t u) {
  int64_t from, to;
  const live_error *e[1];
  return w->map.live && live_turn_window(root, u, &from, &to) &&
         live_errors(w->map.live, root->id, from, to, e, 1) > 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Turns and child sessions                                                                    */

/* For each message, the index of the user message that opened its turn (-1: none). A user
 * message opens a turn, unless it continues the one before (OpenCode's automatic compaction:
 * payload_is_continuation) and the payload shows that one's user message. An assistant's
 * parentID names its user message, and it belongs to that message's turn; OpenCode keeps them
 * in creation order, so the search runs backwards from the latest user message and is short.
 * Turn heads are the user messages u with owner[u] == u. */
static long *turn_owners(const session_view *sv) {
  long *owner = malloc((sv->n_messages ? sv->n_messages : 1) * sizeof *owner);
  if (!owner) return NULL;
  long last_head = -1, last_user = -1;
  for (size_t i = 0; i < sv->n_messages; i++) {
    const message_view *m = &sv->messages[i];
    if (payload_is_user(m)) {
      owner[i] = last_head >= 0 && payload_is_continuation(m) ? last_head : (last_head = (long)i);
      last_user = (long)i;
      continue;
    }
    owner[i] = last_head;
    if (!m->parent_id) continue;
    bool found = false;
    for (long u = last_user; u >= 0 && !found; u--) {
      if (payload_is_user(&sv->messages[u]) && strcmp(sv->messages[u].id, m->parent_id) == 0) {
        owner[i] = owner[u];
        found = true;
      }
    }
    /* A parentID older than the payload's first message names a turn the payload does not
     * show (a tail of the session): the message waits for a payload that holds its turn. */
    if (!found && strcmp(m->parent_id, sv->messages[0].id) < 0) owner[i] = -1;
  }
  return owner;
}

static bool is_head(const session_view *sv, const long *owner, size_t i) {
  return owner[i] == (long)i && payload_is_user(&sv->messages[i]);
}

#define TURNS_MAX 1000000000LL /* more turns than any session has: a count past it is garbage */

/* How many turns of the root session come before the payload's first one, or -1 when that cannot
 * be known: "turnsBefore" when the plugin read the session from its start; else the number the
 * state remembers for the turn opened last (an anchor key "turn#<user message>#<n>" written with
 * every Turn sent), when that turn is in the payload, or is right before it and is the one the
 * plugin saw last ("previousTurn"). Once per payload (walk.turn_base). */
static int64_t turn_base(walk *w, const session_view *root, const long *owner) {
  if (w->turns_before >= 0) return w->turns_before;
  const char *anchor = state_anchor(w->st, w->map.root_id);
  const char *hash = anchor ? strrchr(anchor, '#') : NULL;
  size_t prefix = strlen(STATE_ANCHOR_PREFIX);
  if (!hash || (size_t)(hash - anchor) <= prefix) return -1;
  int64_t n = strtoll(hash + 1, NULL, 10);
  size_t id_len = (size_t)(hash - anchor) - prefix;
  const char *id = anchor + prefix;
  if (n <= 0 || n > TURNS_MAX) return -1; /* unknown, or a state file someone edited */
  int64_t at = 0;                         /* the anchor's turn among the payload's: count from it */
  const char *first = NULL;
  for (size_t i = 0; i < root->n_messages; i++) {
    if (!is_head(root, owner, i)) continue;
    at++;
    if (!first) first = root->messages[i].id;
    if (strlen(root->messages[i].id) == id_len && memcmp(root->messages[i].id, id, id_len) == 0)
      return n - at;
  }
  if (first) { /* before the payload: the turn right before its first, unless the plugin saw another
                */
    size_t first_len = strlen(first);
    int c = memcmp(id, first, id_len < first_len ? id_len : first_len);
    if (c > 0 || (c == 0 && id_len >= first_len)) return -1;
  }
  if (w->previous_turn &&
      (strlen(w->previous_turn) != id_len || memcmp(w->previous_turn, id, id_len) != 0))
    return -1;
  return n;
}

/* The number of the turn opened by user message u in the root session (1-based), or 0 when it
 * cannot be known (turn_base). */
static int64_t turn_number(walk *w, const session_view *root, const long *owner, long u) {
  if (!w->turn_base_known) {
    w->turn_base = turn_base(w, root, owner);
    w->turn_base_known = true;
  }
  if (w->turn_base < 0) return 0;
  /* the payload's turns up to u (walk_turns meets the turns in order: each message counted once) */
  for (long i = w->turn_counted + 1; i <= u; i++) w->turn_heads += is_head(root, owner, (size_t)i);
  if (u > w->turn_counted) w->turn_counted = u;
  return w->turn_base + w->turn_heads;
}

/* The Turn span of user message u (its dedup key: key), then the marks that go with it: its
 * continuations' keys, the anchor its session's turns are counted from; then the live signals
 * it held are released. */
static void emit_turn(walk *w, const session_view *root, const long *owner, long u,
                      session_view *children, size_t n_children, const char *key) {
  const message_view *user = &root->messages[u];
  int64_t number = turn_number(w, root, owner, u), end;
  span *s = spanmap_turn(&w->map, root, owner, u, children, n_children, number, &end);
  if (!s) return;
  size_t before = w->result->spans;
  emit_span(w, s, key);
  w->result->turns += w->result->spans - before;
  if (w->result->spans > before) {
    /* the continuations of the turn are sent with it: no payload reaches back for them */
    for (size_t i = (size_t)u + 1; i < root->n_messages; i++)
      if (owner[i] == u && payload_is_user(&root->messages[i])) {
        text k = {0};
        dedup_key(&k, "turn", root->messages[i].id, NULL);
        if (k.failed || state_mark(w->st, w->map.root_id, text_str(&k)) != 0)
          w->map.at.out_of_memory = true;
        free(k.data);
      }
    /* the anchor the next payloads count this session's turns from */
    text anchor = {0};
    text_addf(&anchor, "%s%s#%lld", STATE_ANCHOR_PREFIX, user->id, (long long)number);
    if (anchor.failed || state_mark(w->st, w->map.root_id, text_str(&anchor)) != 0)
      w->map.at.out_of_memory = true;
    free(anchor.data);
    uint8_t trace_id[16], span_id[8];
    spanmap_turn_ids(root->id, user, trace_id, span_id);
    live_turn_done(w, root, u, children, n_children, trace_id, end);
  }
}

/* Every model and tool call of the session, in one pass, then each Turn that is over: a newer
 * turn exists (a user message that is not a continuation), or the session went idle with every
 * model call of the turn finished, or no OpenCode works on the session any more ("abandoned").
 * A call of a turn that is over but never finished (OpenCode was killed) is emitted as
 * interrupted, so the trace shows where it stopped. */
static int walk_turns(walk *w, const session_view *root, const long *owner, session_view *children,
                      size_t n_children) {
  size_t n = root->n_messages ? root->n_messages : 1;
  size_t *n_assistant = calloc(n, sizeof *n_assistant), *n_finished = calloc(n, sizeof *n_finished);
  if (!n_assistant || !n_finished) {
    free(n_assistant), free(n_finished);
    return -1;
  }
  long last_head = -1;
  for (size_t i = 0; i < root->n_messages; i++)
    if (is_head(root, owner, i)) last_head = (long)i;
  for (size_t i = 0; i < root->n_messages; i++) {
    const message_view *m = &root->messages[i];
    long u = owner[i];
    if (!payload_is_assistant(m) || u < 0) continue;
    uint8_t trace_id[16], span_id[8];
    spanmap_turn_ids(root->id, &root->messages[u], trace_id, span_id);
    bool superseded = u != last_head || w->map.abandoned; /* over: its unfinished calls stopped */
    n_assistant[u]++;
    n_finished[u] += payload_finished(m);
    emit_llm(w, root, i, u, owner, trace_id, span_id, superseded);
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (payload_str(p, "type") && strcmp(payload_str(p, "type"), "tool") == 0)
        emit_tool(w, root, m, p, trace_id, superseded);
    }
  }
  for (size_t u = 0; u < root->n_messages; u++) {
    if (!is_head(root, owner, u)) continue;
    bool over = (long)u != last_head || w->map.abandoned ||
                (w->closing && n_assistant[u] > 0 && n_finished[u] == n_assistant[u]) ||
                (w->closing && n_assistant[u] == 0 && turn_failed_before_calls(w, root, u));
    if (!over) continue;
    text key = {0};
    if (due(w, &key, "turn", root->messages[u].id, NULL))
      emit_turn(w, root, owner, (long)u, children, n_children, text_str(&key));
    free(key.data);
  }
  free(n_assistant), free(n_finished);
  return 0;
}

/* Whether the turn opened by user message u is over: a newer turn exists, or the session went
 * idle ("close") with every model call of the turn finished. What has not finished by then
 * never will: it is sent as interrupted. */
static bool turn_over(const session_view *root, const long *owner, long u, bool closing) {
  size_t assistants = 0, finished = 0;
  for (size_t i = (size_t)u + 1; i < root->n_messages; i++) {
    const message_view *m = &root->messages[i];
    if (is_head(root, owner, i)) return true;
    if (owner[i] == u && payload_is_assistant(m)) assistants++, finished += payload_finished(m);
  }
  return closing && assistants > 0 && finished == assistants;
}

/* Finds the task call in parent that started child: a `task` tool part whose metadata names
 * the child session, or whose call id is the one the plugin reported (when the metadata does
 * not name another session). */
static json_t *find_task_part(const session_view *parent, const session_view *child,
                              const message_view **message) {
  for (size_t i = 0; i < parent->n_messages; i++) {
    const message_view *m = &parent->messages[i];
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      const char *tool = payload_str(p, "tool"), *call_id = payload_str(p, "callID");
      if (!tool || strcmp(tool, "task") != 0) continue;
      const char *named = payload_str(payload_path(p, "state", "metadata"), "sessionId");
      bool by_name = named && strcmp(named, child->id) == 0;
      bool by_call =
          !named && call_id && child->parent_call_id && strcmp(call_id, child->parent_call_id) == 0;
      if (by_name || by_call) {
        *message = m;
        return p;
      }
    }
  }
  return NULL;
}

/* Links each child to the task call that started it, parents before children (nested
 * subagents), and gives it its trace: the trace of the turn its root-level ancestor ran in.
 * A child whose Session does not name its parent, or whose task call is not in the parent's
 * snapshot, stays unlinked: a parent is never invented. */
static void link_children(const session_view *root, const long *owner, session_view *children,
                          size_t n, bool closing) {
  bool progress = true;
  while (progress) {
    progress = false;
    for (size_t c = 0; c < n; c++) {
      session_view *child = &children[c];
      if (child->linked) continue;
      const session_view *parent = NULL;
      if (strcmp(child->parent_session_id, root->id) == 0) parent = root;
      for (size_t k = 0; !parent && k < n; k++)
        if (children[k].linked && strcmp(children[k].id, child->parent_session_id) == 0)
          parent = &children[k];
      const char *declared = payload_str(child->info, "parentID");
      if (!parent || !declared || strcmp(declared, parent->id) != 0) continue;
      const message_view *task_message = NULL;
      json_t *task = find_task_part(parent, child, &task_message);
      if (!task) continue;
      if (parent == root) {
        long u = owner[task_message - root->messages];
        if (u < 0) continue;
        uint8_t span_id[8];
        spanmap_turn_ids(root->id, &root->messages[u], child->trace_id, span_id);
        child->turn_over = turn_over(root, owner, u, closing);
      } else {
        memcpy(child->trace_id, parent->trace_id, 16);
        child->turn_over = parent->turn_over;
      }
      spanmap_agent_id(child->id, child->agent_span_id);
      child->parent = (session_view *)parent;
      child->task_part = task;
      child->task_message = task_message;
      child->linked = true;
      progress = true;
    }
  }
}

/* Whether every model call of the child finished (and there is one): its final text is
 * there. A snapshot read while the child was still writing is partial. */
static bool child_complete(const session_view *child) {
  size_t assistants = 0;
  for (size_t i = 0; i < child->n_messages; i++) {
    const message_view *m = &child->messages[i];
    if (!payload_is_assistant(m)) continue;
    if (!payload_finished(m)) return false;
    assistants++;
  }
  return assistants > 0;
}

/* The AGENT span, once its task call ended and the child is complete, or once the turn is
 * over (what has not finished then never will; a task call that never ended makes it an
 * interrupted ERROR, as its TOOL span is). Sent once, its output.value must be the child's
 * final answer, not what a partial snapshot held. */
static void emit_agent(walk *w, const session_view *child) {
  const char *status = payload_str(json_object_get(child->task_part, "state"), "status");
  bool ended = status && (strcmp(status, "completed") == 0 || strcmp(status, "error") == 0);
  if (!child->turn_over && !w->map.abandoned && (!ended || !child_complete(child))) return;
  text key = {0};
  if (due(w, &key, "agent", child->id, NULL))
    emit_span(w, spanmap_agent(&w->map, child), text_str(&key));
  free(key.data);
}

/* A child session's model and tool calls under its AGENT span, then the AGENT span itself once
 * the task call that started it has finished. As in the root session, a call that never
 * finished is sent as interrupted once it never will (its turn is over, or a newer user
 * message exists in the child): a finished tool's LLM parent is never left unsent. */
static void walk_child(walk *w, const session_view *child) {
  long last_user = -1, current_user = -1;
  for (size_t i = 0; i < child->n_messages; i++)
    if (payload_is_user(&child->messages[i])) last_user = (long)i;
  for (size_t i = 0; i < child->n_messages; i++) {
    const message_view *m = &child->messages[i];
    if (payload_is_user(m)) {
      current_user = (long)i;
      continue;
    }
    if (!payload_is_assistant(m)) continue;
    bool interrupted = child->turn_over || current_user != last_user || w->map.abandoned;
    emit_llm(w, child, i, current_user, NULL, child->trace_id, child->agent_span_id, interrupted);
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (payload_str(p, "type") && strcmp(payload_str(p, "type"), "tool") == 0)
        emit_tool(w, child, m, p, child->trace_id, interrupted);
    }
  }
  emit_agent(w, child);
}

/* ------------------------------------------------------------------------------------------ */
/* The watermark: how much of the session the next payload must show (reconcile.h)            */

static void copy_id(char out[RECONCILE_ID_MAX], const char *id) {
  snprintf(out, RECONCILE_ID_MAX, "%s", id);
}

/* The oldest message that can still produce spans. A message whose turn the payload does not
 * show (owner -1: before the payload's first user message, or naming an older one) and whose
 * Turn span is unsent names it through its parentID: the next payload must reach back to that
 * user message (a continuation's key is marked with its turn's: emit_turn). Else the first
 * user message that opens a turn whose Turn span is unsent. */
static void find_watermark(walk *w, const session_view *root, const long *owner) {
  const char *oldest = NULL;
  for (size_t i = 0; i < root->n_messages; i++) {
    const char *p = root->messages[i].parent_id;
    if (owner[i] < 0 && !payload_is_user(&root->messages[i]) && payload_id_ok(p) &&
        !seen_id(w, "turn", p) && (!oldest || strcmp(p, oldest) < 0))
      oldest = p;
  }
  for (size_t i = 0; !oldest && i < root->n_messages; i++)
    if (is_head(root, owner, i) && !seen_id(w, "turn", root->messages[i].id))
      oldest = root->messages[i].id;
  if (!oldest && root->n_messages) oldest = root->messages[root->n_messages - 1].id;
  if (oldest) copy_id(w->result->watermark, oldest);
}

/* Whether a child session can still produce spans: its AGENT span is unsent, or one of its
 * model calls is unfinished (its spans follow when it finishes), or nothing links it yet. */
static bool child_open(walk *w, const session_view *child) {
  if (!child->linked || !seen_id(w, "agent", child->id)) return true;
  for (size_t i = 0; i < child->n_messages; i++)
    if (payload_is_assistant(&child->messages[i]) && !payload_finished(&child->messages[i]))
      return true;
  return false;
}

/* Whether the Turn that counts a linked child in its roll-ups is unsent. */
static bool child_turn_open(walk *w, const session_view *root, const long *owner,
                            const session_view *child) {
  while (child->parent && child->parent != root) child = child->parent;
  if (child->parent != root) return true;
  long u = owner[child->task_message - root->messages];
  return u < 0 || !seen_id(w, "turn", root->messages[u].id);
}

static void find_open_children(walk *w, const session_view *root, const long *owner,
                               const session_view *children, size_t n) {
  reconcile_result *r = w->result;
  for (size_t c = 0; c < n && !r->open_children_all; c++) {
    bool emits = child_open(w, &children[c]);
    if (!emits && !child_turn_open(w, root, owner, &children[c])) continue;
    if (r->n_open_children == RECONCILE_OPEN_CHILDREN) {
      r->open_children_all = true;
    } else {
      r->open_child_emits[r->n_open_children] = emits;
      copy_id(r->open_children[r->n_open_children++], children[c].id);
    }
  }
}

/* The payload's context members (reconcile.h), each read only when it has the shape it
 * must have: anything else is as if absent. A session of another id is left out (one line). */
static void read_context(walk *w, json_t *payload) {
  json_t *session = json_object_get(payload, "session");
  const char *id = payload_str(session, "id");
  if (json_is_object(session) && (!id || strcmp(id, w->map.root_id) == 0)) w->map.session = session;
  else if (json_is_object(session))
    payload_skip(&w->map.report, "session %s: its \"session\" describes another session",
                 w->map.root_id);
  json_t *context = json_object_get(payload, "context");
  if (json_is_object(context)) w->map.context = context;
  json_t *before = json_object_get(payload, "turnsBefore");
  w->turns_before = json_is_integer(before) && json_integer_value(before) >= 0 &&
                            json_integer_value(before) <= TURNS_MAX
                        ? (int64_t)json_integer_value(before)
                        : -1;
  const char *previous = payload_str(payload, "previousTurn");
  w->previous_turn = payload_id_ok(previous) ? previous : NULL;
  json_t *stopped = json_object_get(payload, "stoppedAt");
  w->map.stopped_at = json_is_number(stopped) ? payload_ms(stopped) : -1;
  const char *version = payload_str(w->map.context, "opencodeVersion");
  if (!version) version = payload_str(w->map.session, "version");
  if (version && strlen(version) < sizeof w->result->opencode_version)
    snprintf(w->result->opencode_version, sizeof w->result->opencode_version, "%s", version);
}

int reconcile_json(state *st, const reconcile_options *opt, const char *json, size_t len,
                   reconcile_emit_fn emit, void *ctx, reconcile_result *result) {
  return reconcile_json_live(st, opt, NULL, json, len, emit, ctx, result);
}

int reconcile_json_live(state *st, const reconcile_options *opt, live_store *live, const char *json,
                        size_t len, reconcile_emit_fn emit, void *ctx, reconcile_result *result) {
  memset(result, 0, sizeof *result);
  const payload_report report = {result->error, &result->items_skipped};
  /* what any attribute can show of one string, and some room: longer strings are cut unread */
  size_t keep = (opt->max_attr_bytes ? opt->max_attr_bytes : 32768) + 1024;
  json_t *payload = payload_parse(json, len, keep, result->error, sizeof result->error,
                                  &result->numbers_unreadable);
  if (!payload) {
    payload_release();
    return -1;
  }
  session_view root = {0};
  session_view *children = NULL;
  size_t n_children = 0;
  long *owner = NULL;
  int rc = -1;

  payload_register_cuts(json_object_get(payload, "$cuts")); /* lib's own cuts, if any */
  const char *type = payload_str(payload, "type");
  root.id = payload_str(payload, "sessionID");
  if (!json_is_object(payload)) {
    payload_reject(&report, "payload is not an object");
  } else if (!type || (strcmp(type, "reconcile") != 0 && strcmp(type, "close") != 0)) {
    payload_reject(&report, "type must be \"reconcile\" or \"close\"");
  } else if (!payload_id_ok(root.id)) {
    payload_reject(&report, "sessionID is missing or invalid");
  } else if (payload_load_messages(&root, json_object_get(payload, "messages"), &report) == 0 &&
             payload_load_children(json_object_get(payload, "childSessions"), root.id, &children,
                                   &n_children, &report) == 0) {
    owner = turn_owners(&root);
    /* the live signals first: the spans of this payload may be theirs */
    long unread = live ? live_ingest(live, json_object_get(payload, "live")) : 0;
    if (unread > 0)
      payload_skip(&report, "session %s: %ld live signals could not be read", root.id, unread);
    else if (unread < 0)
      payload_skip(&report, "session %s: out of memory keeping live signals", root.id);
    if (!owner) {
      payload_reject(&report, "out of memory");
    } else {
      walk w = {.st = st,
                .map = {.report = report,
                        .root_id = root.id,
                        .abandoned = strcmp(type, "close") == 0 &&
                                     json_is_true(json_object_get(payload, "abandoned")),
                        .live = live},
                .emit = emit,
                .emit_ctx = ctx,
                .result = result,
                .closing = strcmp(type, "close") == 0};
      read_context(&w, payload);
      w.turn_counted = -1;
      spanmap_init(&w.map, opt);
      state_begin(st, root.id); /* the caller commits once the spans are safe */
      link_children(&root, owner, children, n_children, w.closing);
      for (size_t c = 0; c < n_children; c++) {
        if (children[c].linked) walk_child(&w, &children[c]);
        else result->children_unlinked++;
      }
      if (walk_turns(&w, &root, owner, children, n_children) != 0) w.map.at.out_of_memory = true;
      find_watermark(&w, &root, owner);
      find_open_children(&w, &root, owner, children, n_children);
      rc = w.map.at.out_of_memory ? -2 : 0;
      if (w.map.at.out_of_memory) snprintf(result->error, sizeof result->error, "out of memory");
    }
  }
  free(owner);
  for (size_t c = 0; c < n_children; c++) free(children[c].messages);
  free(children);
  free(root.messages);
  json_decref(payload);
  payload_release();
  return rc;
}
