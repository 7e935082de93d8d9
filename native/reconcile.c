/* reconcile — snapshot → new OpenInference spans.
 *
 * Two passes over the payload. The first (payload.c) checks its shape and that every record
 * belongs to the session it claims (a foreign record rejects the whole payload, before anything
 * is emitted). The second (here) walks the turns: each user message opens a turn; the assistant
 * messages whose parentID names it are its model calls; their tool parts are its tool calls;
 * a `task` tool call whose child session came along in childSessions gets an AGENT subtree.
 *
 * Ids (ARCHITECTURE.md, "Deterministic ids"):
 *   trace       = H("turn", session, user message id)            16 bytes
 *   Turn span   = H("turn-span", session, user message id)        8 bytes
 *   LLM span    = H("llm", message id)
 *   TOOL span   = H("tool", session, message id, call id)   call ids repeat across sessions
 *   AGENT span  = H("agent", child session id)
 *
 * This file is the session model (turn ownership, completeness, child links, dedup keys, the
 * watermark) and the mapping of each kind of span. What an attribute may carry (redaction,
 * limits, OPENINFERENCE_HIDE_*) is decided in attrs.c only.
 */
#include "reconcile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "hash.h"
#include "live.h"
#include "payload.h"
#include "platform.h"
#include "text.h"

_Static_assert(RECONCILE_ID_MAX >= PAYLOAD_ID_MAX, "a valid id fits reconcile_result's buffers");
_Static_assert(sizeof((reconcile_result *)0)->error == PAYLOAD_ERROR_MAX,
               "payload_reject writes reconcile_result's error");

/* One reconcile: what it reads and writes, borrowed for its duration. */
typedef struct {
  state *st;
  attrs at; /* the attribute policy; at.out_of_memory: a span could not be built whole */
  reconcile_emit_fn emit;
  void *emit_ctx;
  reconcile_result *result;
  payload_report report; /* result's error and items_skipped, for payload_skip */
  bool closing;          /* type == "close" */
  bool abandoned;        /* "close" with "abandoned": true: no OpenCode works on it any more */
  const char *root_id;   /* the payload's session: the state namespace */
  int64_t stopped_at;    /* "stoppedAt" (abandoned only): when the OpenCode that worked on the
                          * session was last seen alive, ms; -1 unknown */
  json_t *session;       /* "session": the root session's Session (title, version, directory) */
  json_t *context;       /* "context": what the plugin read off OpenCode's thread (git, version) */
  int64_t turns_before;  /* "turnsBefore": user messages of the session before the payload's
                          * first one (-1 unknown) */
  const char *previous_turn; /* "previousTurn": the turn opened last before the payload */
  live_store *live;          /* the live signals (live.h); NULL: none */
  /* turn numbers (turn_number): the payload's base, once, and the heads counted so far */
  bool turn_base_known;
  int64_t turn_base, turn_heads;
  long turn_counted; /* the last message index counted in turn_heads */
} walk;

static uint64_t ms_to_ns(int64_t ms) { return ms < 0 ? 0 : (uint64_t)ms * 1000000ULL; }

/* attrs' measure (attrs.h): the true size of values holding strings cut at parse time. */
static void measure_cut(const char *value, size_t len, bool json, size_t *bytes, size_t *chars) {
  payload_measure(value, len, json ? PAYLOAD_AS_JSON_TEXT : PAYLOAD_AS_TEXT, bytes, chars);
}

/* Serialises v compactly; NULL when it cannot (caller treats as absent). Caller frees. */
static char *dump(const json_t *v) {
  return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* The span's `metadata` attribute: meta as compact JSON. Takes meta (which may be NULL). */
static void set_metadata(walk *w, span *s, json_t *meta) {
  char *text = dump(meta);
  if (text) attrs_str(&w->at, s, "metadata", text);
  free(text);
  json_decref(meta);
}

/* A bad clock gives a span at a bad (clamped) time, marked, never a missing span:
 * opencode.time.clamped is true when a time was outside [2000, 2286] (payload_ms clamped it)
 * or the span would have ended before it started. */
static bool clock_clamped(int64_t ms) { return ms == PAYLOAD_MIN_MS || ms == PAYLOAD_MAX_MS; }

static void set_times(walk *w, span *s, int64_t start_ms, int64_t end_ms) {
  bool clamped = clock_clamped(start_ms) || clock_clamped(end_ms) ||
                 (start_ms >= 0 && end_ms >= 0 && end_ms < start_ms);
  if (start_ms < 0) start_ms = end_ms >= 0 ? end_ms : 0;
  if (end_ms < start_ms) end_ms = start_ms;
  s->start_ns = ms_to_ns(start_ms);
  s->end_ns = ms_to_ns(end_ms);
  if (clamped && span_set_bool(s, "opencode.time.clamped", true) != 0) w->at.out_of_memory = true;
}

/* Where a span of something that never finished ends: the last time OpenCode recorded in it,
 * or, for a turn no OpenCode works on any more, when its OpenCode was last seen alive
 * ("stoppedAt", from the plugin's liveness marker) when that is later. */
static int64_t interrupted_end(const walk *w, int64_t last) {
  return w->abandoned && w->stopped_at > last ? w->stopped_at : last;
}

/* OpenInference's llm.system for OpenCode's provider ids, where one is known. */
static const char *llm_system(const char *provider) {
  static const struct {
    const char *provider, *system;
  } map[] = {
      {"anthropic", "anthropic"},    {"openai", "openai"},
      {"azure", "openai"},           {"google", "vertexai"},
      {"google-vertex", "vertexai"}, {"mistral", "mistralai"},
      {"cohere", "cohere"},          {"amazon-bedrock", "anthropic"},
  };
  if (!provider) return NULL;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(map[i].provider, provider) == 0) return map[i].system;
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Emission                                                                                    */

/* The last touch before a span leaves: OPENINFERENCE_HIDE_*, the custom attributes and the
 * size limits (attrs.h). */
static void finish_span(walk *w, span *s) {
  attrs_hide(&w->at, s);
  attrs_finish(&w->at, s);
}

/* Hands s to emit and marks key as done when emit kept it. Frees nothing itself: emit owns s. */
static void emit_span(walk *w, span *s, const char *key) {
  finish_span(w, s);
  if (w->at.out_of_memory) {
    span_free(s);
    return;
  }
  if (w->emit(w->emit_ctx, s, key) != 0) return;
  if (state_mark(w->st, w->root_id, key) != 0) w->at.out_of_memory = true;
  w->result->spans++;
}

static bool seen(walk *w, const char *key) { return state_seen(w->st, w->root_id, key); }

/* A span of the session sv (the payload's own, or a subagent's) done by agent (NULL: unknown).
 * Every span of a turn carries the root session's session.id, so a session's view holds its
 * subagents' work; a subagent's own session in opencode.session.id (or, with the
 * subagent_session_id setting at "child", in session.id as before). tag.tags: the harness and
 * the agent that did the work, on every span of that agent. */
static span *new_span(walk *w, const char *name, const char *kind, const uint8_t trace_id[16],
                      const uint8_t *span_id, const uint8_t *parent_id, const char *session_id,
                      const char *agent) {
  span *s = span_new(name);
  if (!s) {
    w->at.out_of_memory = true;
    return NULL;
  }
  memcpy(s->trace_id, trace_id, 16);
  memcpy(s->span_id, span_id, 8);
  if (parent_id) {
    memcpy(s->parent_span_id, parent_id, 8);
    s->has_parent = true;
  }
  attrs_str(&w->at, s, "openinference.span.kind", kind);
  bool child = strcmp(session_id, w->root_id) != 0;
  attrs_str(&w->at, s, "session.id", w->at.opt->child_session_ids ? session_id : w->root_id);
  if (child && !w->at.opt->child_session_ids)
    attrs_str(&w->at, s, "opencode.session.id", session_id);
  attrs_user(&w->at, s);
  const char *tags[] = {"opencode", agent && *agent ? agent : NULL};
  if (span_set_string_list(s, "tag.tags", tags, tags[1] ? 2 : 1) != 0) w->at.out_of_memory = true;
  return s;
}

static void tool_span_id(const char *session_id, const message_view *m, const char *call_id,
                         uint8_t out[8]) {
  const char *parts[] = {"tool", session_id, m->id, call_id};
  hash_id(out, 8, parts, 4);
}

static void llm_span_id(const message_view *m, uint8_t out[8]) {
  const char *parts[] = {"llm", m->id};
  hash_id(out, 8, parts, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* Live signals (live.h): what OpenCode's hooks and events said of a span that its stored      */
/* messages do not. Present only for what this process saw live; backfill and the start-up    */
/* sweep reconcile stored messages alone, and these attributes are then absent.               */

#define LIVE_LIST_MAX 64 /* retries, permissions, errors read per span */

/* The model call's generation settings, the tools it was offered and its retries. Returns
 * whether the call was seen live (and fills *call). */
static bool live_llm(walk *w, span *s, const session_view *sv, size_t i, live_call *call) {
  if (!w->live || !live_call_of(w->live, sv, i, call)) return false;
  if (call->params)
    attrs_set(&w->at, s, ATTR_LLM_INVOCATION_PARAMETERS, call->params, strlen(call->params));
  size_t k = 0;
  for (size_t t = 0; t < call->n_tools; t++) {
    const char *schema = live_tool_schema(w->live, call->tools[t]);
    if (schema) attrs_set_nth(&w->at, s, ATTR_LLM_TOOL_SCHEMA, k++, schema, strlen(schema));
  }
  const live_retry *r[LIVE_LIST_MAX];
  size_t n = live_retries_of(w->live, sv, i, r, LIVE_LIST_MAX);
  for (size_t j = 0; j < n && j < LIVE_LIST_MAX; j++) {
    span_event *e = span_add_event(s, "opencode.retry", ms_to_ns(r[j]->at));
    if (!e) {
      w->at.out_of_memory = true;
      break;
    }
    if (r[j]->attempt >= 0) attrs_event_int(&w->at, e, "opencode.retry.attempt", r[j]->attempt);
    attrs_event_str(&w->at, e, ATTRS_PUBLIC, "opencode.retry.message", r[j]->message);
    if (r[j]->next >= r[j]->at)
      attrs_event_int(&w->at, e, "opencode.retry.wait_ms", r[j]->next - r[j]->at);
  }
  attrs_int(&w->at, s, "opencode.llm.retries", (int64_t)n);
  return true;
}

/* The tool's description from its definition, and the permissions asked for this call: one
 * event when asked, one when answered (with the wait). Returns the last answer, or NULL. */
static const char *live_tool(walk *w, span *s, const session_view *sv, const message_view *m,
                             const char *call_id, const char *tool) {
  if (!w->live) return NULL;
  const char *description = live_tool_description(w->live, tool);
  if (description && *description)
    attrs_set(&w->at, s, ATTR_TOOL_DESCRIPTION, description, strlen(description));
  const live_permission *p[LIVE_LIST_MAX];
  size_t n = live_permissions(w->live, sv->id, m->id, call_id, p, LIVE_LIST_MAX);
  const char *reply = NULL;
  for (size_t j = 0; j < n && j < LIVE_LIST_MAX; j++) {
    if (p[j]->asked >= 0) {
      span_event *e = span_add_event(s, "opencode.permission.asked", ms_to_ns(p[j]->asked));
      if (!e) {
        w->at.out_of_memory = true;
        break;
      }
      attrs_event_str(&w->at, e, ATTRS_PUBLIC, "opencode.permission.type", p[j]->type);
      json_t *patterns = json_array();
      for (size_t k = 0; patterns && k < p[j]->n_patterns; k++)
        json_array_append_new(patterns, json_string(p[j]->patterns[k]));
      char *text = dump(patterns);
      json_decref(patterns);
      attrs_event_str(&w->at, e, ATTRS_TOOL_DETAILS, "opencode.permission.patterns", text);
      free(text);
    }
    if (p[j]->reply && p[j]->replied >= 0) {
      span_event *e = span_add_event(s, "opencode.permission.replied", ms_to_ns(p[j]->replied));
      if (!e) {
        w->at.out_of_memory = true;
        break;
      }
      attrs_event_str(&w->at, e, ATTRS_PUBLIC, "opencode.permission.reply", p[j]->reply);
      if (p[j]->asked >= 0 && p[j]->replied >= p[j]->asked)
        attrs_event_int(&w->at, e, "opencode.permission.wait_ms", p[j]->replied - p[j]->asked);
      reply = p[j]->reply;
    }
  }
  return reply;
}

/* Whether a session error was stored on one of the turn's model calls (OpenCode also stores
 * most errors it reports): such an error is the call's, not the turn's. */
static bool error_stored(const session_view *sv, const long *owner, long u, const live_error *e) {
  for (size_t i = (size_t)u + 1; i < sv->n_messages; i++) {
    if (owner && owner[i] != u) continue;
    json_t *error = json_object_get(sv->messages[i].info, "error");
    const char *name = payload_str(error, "name");
    if (name && strcmp(name, e->name) == 0) return true;
  }
  return false;
}

/* The turn's files, from what OpenCode stored on its user message (summary.diffs): counts, and
 * the list. Stored, so backfill has them too. */
static void turn_files(walk *w, span *s, const message_view *user) {
  json_t *diffs = payload_path(user->info, "summary", "diffs");
  if (!json_is_array(diffs)) return;
  int64_t added = 0, removed = 0, files = 0;
  json_t *list = json_array();
  for (size_t i = 0; i < json_array_size(diffs); i++) {
    json_t *d = json_array_get(diffs, i);
    const char *file = payload_str(d, "file");
    if (!file) continue;
    int64_t a = payload_count(json_object_get(d, "additions")),
            r = payload_count(json_object_get(d, "deletions"));
    added += a, removed += r, files++;
    if (list)
      json_array_append_new(list, json_pack("{s:s, s:I, s:I}", "path", file, "additions",
                                            (json_int_t)a, "deletions", (json_int_t)r));
  }
  attrs_int(&w->at, s, "opencode.turn.files_changed", files);
  attrs_int(&w->at, s, "opencode.turn.lines_added", added);
  attrs_int(&w->at, s, "opencode.turn.lines_removed", removed);
  char *text = dump(list);
  if (text) attrs_set(&w->at, s, ATTR_TURN_FILES, text, strlen(text));
  free(text);
  json_decref(list);
}

/* The turn's last todo list: the input of its last todowrite call that completed. Stored. */
static void turn_todos(walk *w, span *s, const session_view *sv, const long *owner, long u) {
  json_t *todos = NULL;
  for (size_t i = (size_t)u + 1; i < sv->n_messages; i++) {
    if (owner[i] != u || !payload_is_assistant(&sv->messages[i])) continue;
    json_t *parts = sv->messages[i].parts;
    for (size_t j = 0; j < json_array_size(parts); j++) {
      json_t *p = json_array_get(parts, j);
      const char *tool = payload_str(p, "tool");
      const char *status = payload_str(json_object_get(p, "state"), "status");
      json_t *list = payload_path(json_object_get(p, "state"), "input", "todos");
      if (tool && strcmp(tool, "todowrite") == 0 && status && strcmp(status, "completed") == 0 &&
          json_is_array(list))
        todos = list;
    }
  }
  char *text = dump(todos);
  if (text) attrs_set(&w->at, s, ATTR_TURN_TODOS, text, strlen(text));
  free(text);
}

/* The Turn's live signals: the slash command that started it, the retries and permission waits
 * of its calls (its subagents' included), and a session error stored on no message (the
 * turn's exception; the turn's status when nothing finished after it). Then everything the
 * turn held in the live store goes: its Turn span is the last that needs it. */
static void live_turn(walk *w, span *s, const session_view *root, const long *owner, long u,
                      session_view *children, size_t n_children, const uint8_t trace_id[16],
                      bool *failed) {
  turn_files(w, s, &root->messages[u]);
  turn_todos(w, s, root, owner, u);
  int64_t from, to;
  if (!w->live || !live_turn_window(root, (size_t)u, &from, &to)) return;
  const live_command *k = live_command_of(w->live, root, (size_t)u);
  if (k) {
    attrs_str(&w->at, s, "opencode.turn.command", k->name);
    if (k->arguments)
      attrs_set(&w->at, s, ATTR_TURN_COMMAND_ARGUMENTS, k->arguments, strlen(k->arguments));
  }
  bool seen = false;
  for (size_t i = (size_t)u + 1; i < root->n_messages && !seen; i++) {
    live_call c;
    seen = owner[i] == u && payload_is_assistant(&root->messages[i]) &&
           live_call_of(w->live, root, i, &c);
  }
  int64_t retries = 0, wait = 0;
  live_turn_totals(w->live, root->id, from, to, &retries, &wait);
  for (size_t c = 0; c < n_children; c++)
    if (children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0)
      live_turn_totals(w->live, children[c].id, INT64_MIN, INT64_MAX, &retries, &wait);
  /* present when the turn was watched live (else unknown, which is not 0) */
  if (seen || retries || wait) {
    attrs_int(&w->at, s, "opencode.turn.retries", retries);
    attrs_int(&w->at, s, "opencode.turn.permission_wait_ms", wait);
  }
  const live_error *e[LIVE_LIST_MAX];
  size_t n = live_errors(w->live, root->id, from, to, e, LIVE_LIST_MAX);
  for (size_t j = 0; j < n && j < LIVE_LIST_MAX; j++) {
    if (error_stored(root, owner, u, e[j])) continue;
    const char *message = e[j]->message ? e[j]->message : e[j]->name;
    span_event *ev = span_add_event(s, "exception", ms_to_ns(e[j]->at));
    if (!ev) {
      w->at.out_of_memory = true;
      break;
    }
    attrs_event_str(&w->at, ev, ATTRS_PUBLIC, "exception.type", e[j]->name);
    attrs_event_str(&w->at, ev, ATTRS_PUBLIC, "exception.message", message);
    /* the turn failed when no model call finished after the error */
    bool recovered = false;
    for (size_t i = (size_t)u + 1; i < root->n_messages && !recovered; i++)
      recovered = owner[i] == u && payload_is_assistant(&root->messages[i]) &&
                  payload_finished(&root->messages[i]) &&
                  payload_ms(payload_path(root->messages[i].info, "time", "created")) >= e[j]->at;
    if (!recovered && !*failed) {
      text t = {0};
      text_addf(&t, "%s: ", e[j]->name);
      text_add(&t, message, strlen(message));
      if (t.failed || span_set_status(s, SPAN_STATUS_ERROR, text_str(&t)) != 0)
        w->at.out_of_memory = true;
      free(t.data);
      *failed = true;
    }
  }
}

/* Once the Turn span left: what the live store held for the turn goes (the session's signals
 * up to the turn's end; its subagents' whole). */
static void live_turn_done(walk *w, const session_view *root, long u, session_view *children,
                           size_t n_children, const uint8_t trace_id[16], int64_t end_ms) {
  int64_t from, to;
  if (!w->live) return;
  /* a turn without a model call ends where the next begins (or holds the rest) */
  if (end_ms < 0 && live_turn_window(root, (size_t)u, &from, &to))
    end_ms = to == INT64_MAX ? INT64_MAX : to - 1;
  live_release(w->live, root->id, INT64_MIN, end_ms);
  for (size_t c = 0; c < n_children; c++)
    if (children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0)
      live_release(w->live, children[c].id, INT64_MIN, INT64_MAX);
}

/* Whether a session error stored on no message ended the turn of user message u, which has no
 * model call: OpenCode reported why (an unknown model, say) and stopped. */
static bool turn_failed_before_calls(walk *w, const session_view *root, size_t u) {
  int64_t from, to;
  const live_error *e[1];
  return w->live && live_turn_window(root, u, &from, &to) &&
         live_errors(w->live, root->id, from, to, e, 1) > 0;
}

/* The attributes a tool's main arguments go to, by OpenCode tool name: the field of the call's
 * input, and the attribute (attrs.h: its name and redaction class) that carries it. A new tool,
 * or a new argument of one, is a row here; a new attribute name is a key in attrs.h/attrs.c. */
static const struct {
  const char *tool, *field;
  attrs_key attr;
} tool_fields[] = {
    {"bash", "command", ATTR_TOOL_COMMAND},    {"read", "filePath", ATTR_TOOL_FILE_PATH},
    {"edit", "filePath", ATTR_TOOL_FILE_PATH}, {"write", "filePath", ATTR_TOOL_FILE_PATH},
    {"grep", "pattern", ATTR_TOOL_QUERY},      {"glob", "pattern", ATTR_TOOL_QUERY},
    {"webfetch", "url", ATTR_TOOL_URL},        {"websearch", "query", ATTR_TOOL_QUERY},
    {"codesearch", "query", ATTR_TOOL_QUERY},  {"list", "path", ATTR_TOOL_FILE_PATH},
};

static void tool_arguments(walk *w, span *s, const char *tool, json_t *input) {
  for (size_t i = 0; i < sizeof tool_fields / sizeof tool_fields[0]; i++) {
    if (strcmp(tool_fields[i].tool, tool) != 0) continue;
    const char *v = payload_str(input, tool_fields[i].field);
    if (v) attrs_set(&w->at, s, tool_fields[i].attr, v, strlen(v));
  }
}

/* Whether a tool's output or error says the user aborted it. OpenCode's bash tool completes
 * an aborted command with its output so far and "User aborted the command" in a trailing
 * metadata block; a call cut off by an abort ends as an error "Tool execution aborted". */
static bool tool_aborted(const char *text, size_t len) {
  static const char *const marks[] = {"User aborted the command", "Tool execution aborted"};
  for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
    if (memmem(text, len, marks[i], strlen(marks[i]))) return true;
  return false;
}

/* The tool the model asked for when OpenCode ran its `invalid` tool in its place (the call
 * named a tool that does not exist), else NULL. */
static const char *invalid_tool_asked(const char *tool, json_t *input) {
  const char *asked = strcmp(tool, "invalid") == 0 ? payload_str(input, "tool") : NULL;
  return asked && *asked ? asked : NULL;
}

/* One TOOL span for a finished tool part (or, when interrupted, an unfinished one). */
static void emit_tool(walk *w, const session_view *sv, const message_view *m, json_t *part,
                      const uint8_t trace_id[16], bool interrupted) {
  const char *call_id = payload_str(part, "callID"), *tool = payload_str(part, "tool");
  json_t *st = json_object_get(part, "state");
  const char *status = payload_str(st, "status");
  if (!payload_id_ok(call_id) || !tool || !status) return;
  bool done = strcmp(status, "completed") == 0 || strcmp(status, "error") == 0;
  if (!done && !interrupted) return;
  /* asked for a permission whose answer the plugin has not heard yet (OpenCode stored the call's
   * end first): the span waits for it, until the turn is over */
  if (done && !interrupted && !w->closing && w->live &&
      live_permission_pending(w->live, sv->id, m->id, call_id))
    return;

  text key = {0};
  text_addf(&key, "tool:%s:", m->id);
  text_add(&key, call_id, strlen(call_id));
  if (key.failed || seen(w, text_str(&key))) {
    w->at.out_of_memory |= key.failed;
    free(key.data);
    return;
  }
  uint8_t id[8], parent[8];
  tool_span_id(sv->id, m, call_id, id);
  llm_span_id(m, parent);
  /* A call to a tool that does not exist: OpenCode runs its `invalid` tool instead, with the
   * name the model asked for and why in the input; the span is named for what was asked. */
  json_t *input = json_object_get(st, "input");
  const char *asked = invalid_tool_asked(tool, input);
  span *s = new_span(w, asked ? asked : tool, "TOOL", trace_id, id, parent, sv->id,
                     payload_str(m->info, "agent"));
  if (!s) {
    free(key.data);
    return;
  }
  int64_t start = payload_ms(payload_path(st, "time", "start")),
          end = payload_ms(payload_path(st, "time", "end"));
  if (start < 0) start = payload_ms(payload_path(m->info, "time", "created"));
  if (end < 0) end = interrupted_end(w, payload_message_last_ms(m)); /* never finished */
  set_times(w, s, start, end);

  attrs_str(&w->at, s, "tool.name", asked ? asked : tool);
  attrs_str(&w->at, s, "tool.id", call_id);
  attrs_str(&w->at, s, "tool_call.id", call_id);
  char *args = dump(input);
  if (args) {
    attrs_set(&w->at, s, ATTR_TOOL_INPUT, args, strlen(args));
    attrs_set(&w->at, s, ATTR_TOOL_PARAMETERS, args, strlen(args));
    free(args);
  }
  tool_arguments(w, s, tool, input);
  /* OpenCode's title of this call (its command, a file name...): not the tool's description,
   * which comes from the tool's definition (tool.description, set from the live signals) */
  const char *title = payload_str(st, "title");
  if (title && *title) attrs_set(&w->at, s, ATTR_TOOL_TITLE, title, strlen(title));
  const char *reply = live_tool(w, s, sv, m, call_id, tool);

  json_t *meta = json_pack("{s:s, s:s, s:s?}", "message_id", m->id, "session_id", sv->id, "agent",
                           payload_str(m->info, "agent"));
  set_metadata(w, s, meta);

  size_t n = 0;
  const char *output = strcmp(status, "completed") == 0 ? payload_text(st, "output", &n) : NULL;
  if (output) {
    attrs_set(&w->at, s, ATTR_TOOL_OUTPUT, output, n);
    attrs_str(&w->at, s, "output.mime_type", "text/plain");
    json_t *exit_code = payload_path(st, "metadata", "exit");
    double code = json_number_value(exit_code); /* 0 when absent */
    if (json_is_number(exit_code) && code >= -1e6 && code <= 1e6)
      attrs_int(&w->at, s, "tool.exit_code", (int64_t)code);
  }
  if (asked) {
    /* OpenCode's message is what the model was told: the call failed */
    if (span_set_bool(s, "opencode.tool.invalid", true) != 0) w->at.out_of_memory = true;
    size_t why_len = 0;
    const char *why = output ? output : payload_text(input, "error", &why_len);
    if (output) why_len = n;
    if (!why) why = "the model called a tool that does not exist", why_len = strlen(why);
    attrs_set_error(&w->at, s, ATTRS_TOOL_CONTENT, why, why_len);
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", "InvalidToolCall") ||
        span_event_set_string(e, "exception.message", s->status_message ? s->status_message : ""))
      w->at.out_of_memory = true;
  } else if (output && tool_aborted(output, n)) {
    /* the user stopped it: OpenCode completes the call with what it printed so far */
    const char *why = "aborted: the user stopped the tool";
    if (span_set_status(s, SPAN_STATUS_ERROR, why) != 0) w->at.out_of_memory = true;
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", "Aborted") ||
        span_event_set_string(e, "exception.message", why))
      w->at.out_of_memory = true;
  } else if (strcmp(status, "completed") != 0) {
    const char *error = strcmp(status, "error") == 0 ? payload_text(st, "error", &n) : NULL;
    const char *message = error ? error : "interrupted: OpenCode stopped before the tool finished";
    attrs_set(&w->at, s, ATTR_TOOL_OUTPUT, message, error ? n : strlen(message));
    attrs_str(&w->at, s, "output.mime_type", "text/plain");
    /* the error text is tool output: status and event carry what output.value carries */
    const span_attr *out = span_get(s, "output.value");
    const char *shown = out && out->type == SPAN_ATTR_STRING ? out->value.s : "";
    const char *type = !error                                  ? "Interrupted"
                       : tool_aborted(error, n)                ? "Aborted"
                       : reply && strcmp(reply, "reject") == 0 ? "PermissionRejected"
                                                               : "ToolError";
    if (span_set_status(s, SPAN_STATUS_ERROR, shown) != 0) w->at.out_of_memory = true;
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", type) ||
        span_event_set_string(e, "exception.message", shown))
      w->at.out_of_memory = true;
  }
  emit_span(w, s, text_str(&key));
  free(key.data);
}

/* ------------------------------------------------------------------------------------------ */
/* llm.input_messages: the messages a model call was given                                     */

/* One message of a model call's input, as OpenCode sends it: a user message (its text parts and
 * attachments), an earlier answer of the model (its text and tool calls), or one tool result. */
typedef enum { INPUT_USER, INPUT_ASSISTANT, INPUT_TOOL } input_kind;
typedef struct {
  input_kind kind;
  const message_view *m;
  json_t *part; /* INPUT_TOOL: its tool part */
} input_message;

typedef struct {
  input_message *items; /* newest first */
  size_t len, cap;
  size_t used;    /* bytes the kept messages take (about: attrs_cost) */
  size_t omitted; /* older messages that did not fit */
  bool full;
  bool failed;
} input_list;

#define INPUT_MESSAGE_OVERHEAD 32 /* role, ids and names of one message, about */

static bool is_tool_part(json_t *p) {
  const char *type = payload_str(p, "type");
  return type && strcmp(type, "tool") == 0 && payload_str(p, "callID") && payload_str(p, "tool");
}

/* A text part OpenCode sends to the model: synthetic ones too (an attached file's content),
 * not those it marks ignored. */
static const char *sent_text(json_t *p, size_t *len) {
  const char *type = payload_str(p, "type");
  if (!type || strcmp(type, "text") != 0 || json_is_true(json_object_get(p, "ignored")))
    return NULL;
  const char *t = payload_text(p, "text", len);
  return t && *len ? t : NULL;
}

/* What OpenCode sends as a tool part's result: its output, its error, or what it says for a
 * call that never finished or whose output it cleared to save room. */
static const char *tool_result(json_t *part, size_t *len) {
  static const char cleared[] = "[Old tool result content cleared]";
  static const char interrupted[] = "[Tool execution was interrupted]";
  json_t *st = json_object_get(part, "state");
  const char *status = payload_str(st, "status"), *out = NULL;
  if (status && strcmp(status, "completed") == 0) {
    if (payload_path(st, "time", "compacted")) {
      *len = sizeof cleared - 1;
      return cleared;
    }
    out = payload_text(st, "output", len);
  } else if (status && strcmp(status, "error") == 0) {
    out = payload_text(st, "error", len);
  }
  if (out) return out;
  *len = sizeof interrupted - 1;
  return interrupted;
}

/* A user message's file part as the model gets it: an image (its URL), nothing (a text file or
 * a directory: OpenCode sends their content as synthetic text parts), or another kind of file,
 * shown as a line naming it. */
typedef enum { FILE_NONE, FILE_IMAGE, FILE_OTHER } file_kind;
static file_kind attachment(json_t *p) {
  const char *type = payload_str(p, "type"), *mime = payload_str(p, "mime");
  if (!type || strcmp(type, "file") != 0 || !payload_str(p, "url")) return FILE_NONE;
  if (!mime || strcmp(mime, "text/plain") == 0 || strcmp(mime, "application/x-directory") == 0)
    return FILE_NONE;
  return strncmp(mime, "image/", 6) == 0 ? FILE_IMAGE : FILE_OTHER;
}

/* The size of v's JSON text, or a number above limit once it is larger: stops early, so a
 * huge argument costs no more than the limit to weigh. */
static size_t json_size_at_most(const json_t *v, size_t limit) {
  size_t n = 0;
  if (json_is_string(v)) return json_string_length(v) + 2;
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    n = 2;
    json_object_foreach((json_t *)v, k, x) {
      n += strlen(k) + 4 + json_size_at_most(x, limit);
      if (n > limit) return n;
    }
    return n;
  }
  if (json_is_array(v)) {
    n = 2;
    for (size_t i = 0; i < json_array_size(v) && n <= limit; i++)
      n += 1 + json_size_at_most(json_array_get(v, i), limit);
    return n;
  }
  return 8;
}

static size_t user_cost(const walk *w, const message_view *m) {
  size_t n = INPUT_MESSAGE_OVERHEAD, len;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    if (sent_text(p, &len)) n += attrs_cost(&w->at, ATTR_LLM_INPUT_PART, len);
    else if (attachment(p) != FILE_NONE) n += 64;
  }
  return n;
}

static size_t assistant_cost(const walk *w, const message_view *m) {
  size_t n = INPUT_MESSAGE_OVERHEAD, len;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *type = payload_str(p, "type");
    if (type && strcmp(type, "text") == 0 && payload_text(p, "text", &len))
      n += attrs_cost(&w->at, ATTR_LLM_INPUT_CONTENT, len);
    else if (is_tool_part(p))
      n += INPUT_MESSAGE_OVERHEAD +
           attrs_cost(&w->at, ATTR_LLM_INPUT_TOOL_CALL,
                      json_size_at_most(payload_path(p, "state", "input"), w->at.max_bytes));
  }
  return n;
}

/* Keeps the message when it fits in the budget (the newest always does), else counts it out. */
static void input_add(input_list *l, size_t budget, input_kind kind, const message_view *m,
                      json_t *part, size_t cost) {
  if (l->full || (l->len > 0 && l->used + cost > budget)) {
    l->full = true;
    l->omitted++;
    return;
  }
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    input_message *items = realloc(l->items, cap * sizeof *items);
    if (!items) {
      l->failed = true;
      l->full = true;
      return;
    }
    l->items = items, l->cap = cap;
  }
  l->items[l->len++] = (input_message){kind, m, part};
  l->used += cost;
}

static bool has_text(const message_view *m) {
  size_t len;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *type = payload_str(p, "type");
    if (type && strcmp(type, "text") == 0 && payload_text(p, "text", &len) && len) return true;
  }
  return false;
}

/* The messages model call i was given, from the turn's messages before it (those of turn u;
 * owner NULL: a subagent's session, where every message from u on is its turn), newest first,
 * as many as fit in the budget (at least one): OpenCode's history as the model got it. What
 * the payload does not hold (turns before this one) is not there. A compaction's summary ends
 * the walk: OpenCode sends nothing older than it. The work is a walk over the turn's messages
 * and parts, weighing each once; only what is kept is written later. */
static void input_history(const walk *w, const session_view *sv, size_t i, long u,
                          const long *owner, size_t budget, input_list *l) {
  for (long j = (long)i - 1; j >= 0 && j >= u; j--) {
    const message_view *m = &sv->messages[j];
    if (owner && owner[j] != u) continue;
    if (payload_is_user(m)) {
      if (!payload_compaction(m)) /* a compaction's request has no text of the user's */
        input_add(l, budget, INPUT_USER, m, NULL, user_cost(w, m));
      continue;
    }
    if (!payload_is_assistant(m)) continue;
    bool calls = false;
    for (size_t k = json_array_size(m->parts); k-- > 0;) {
      json_t *p = json_array_get(m->parts, k);
      if (!is_tool_part(p)) continue;
      size_t len;
      tool_result(p, &len);
      calls = true;
      input_add(l, budget, INPUT_TOOL, m, p,
                INPUT_MESSAGE_OVERHEAD + attrs_cost(&w->at, ATTR_LLM_INPUT_TOOL_RESULT, len));
    }
    if (calls || has_text(m)) input_add(l, budget, INPUT_ASSISTANT, m, NULL, assistant_cost(w, m));
    if (payload_is_summary(m)) break;
  }
}

static void input_role(walk *w, span *s, size_t n, const char *role) {
  char key[96];
  snprintf(key, sizeof key, "llm.input_messages.%zu.message.role", n);
  attrs_str(&w->at, s, key, role);
}

/* A user message: message.content when it is one text, else message.contents.K (its text
 * parts, attached images, other attachments named). An image's data: URL is never inlined. */
static void input_user(walk *w, span *s, size_t n, const message_view *m) {
  input_role(w, s, n, "user");
  size_t items = 0, len, only_len = 0;
  const char *only = NULL;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *t = sent_text(p, &len);
    if (t || attachment(p) != FILE_NONE) items++;
    if (t && items == 1) only = t, only_len = len;
  }
  if (items == 1 && only) {
    attrs_set_nth(&w->at, s, ATTR_LLM_INPUT_CONTENT, n, only, only_len);
    return;
  }
  char key[128], marker[160];
  size_t c = 0;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *t = sent_text(p, &len);
    file_kind kind = attachment(p);
    if (!t && kind == FILE_NONE) continue;
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.contents.%zu.message_content.type", n,
             c);
    attrs_str(&w->at, s, key, kind == FILE_IMAGE ? "image" : "text");
    if (t) {
      attrs_set_nth2(&w->at, s, ATTR_LLM_INPUT_PART, n, c, t, len);
    } else if (kind == FILE_IMAGE) {
      size_t url_len;
      const char *url = payload_text(p, "url", &url_len);
      const char *shown = attrs_data_url(url, url_len, marker, sizeof marker);
      attrs_set_nth2(&w->at, s, ATTR_LLM_INPUT_IMAGE, n, c, shown ? shown : url,
                     shown ? strlen(shown) : url_len);
    } else {
      const char *name = payload_str(p, "filename");
      snprintf(marker, sizeof marker, "<attachment %.60s (%.60s)>", name ? name : "",
               payload_str(p, "mime"));
      attrs_set_nth2(&w->at, s, ATTR_LLM_INPUT_PART, n, c, marker, strlen(marker));
    }
    c++;
  }
}

/* An earlier answer of the model: its text and the tool calls it made. */
static void input_assistant(walk *w, span *s, size_t n, const message_view *m) {
  input_role(w, s, n, "assistant");
  text answer = {0};
  payload_parts_text(m, "text", &answer);
  if (answer.len)
    attrs_set_nth(&w->at, s, ATTR_LLM_INPUT_CONTENT, n, text_str(&answer), answer.len);
  w->at.out_of_memory |= answer.failed;
  free(answer.data);
  char key[160];
  size_t k = 0;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    if (!is_tool_part(p)) continue;
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.tool_calls.%zu.tool_call.id", n, k);
    attrs_str(&w->at, s, key, payload_str(p, "callID"));
    snprintf(key, sizeof key,
             "llm.input_messages.%zu.message.tool_calls.%zu.tool_call.function.name", n, k);
    attrs_str(&w->at, s, key, payload_str(p, "tool"));
    char *args = dump(payload_path(p, "state", "input"));
    if (args) attrs_set_nth2(&w->at, s, ATTR_LLM_INPUT_TOOL_CALL, n, k, args, strlen(args));
    free(args);
    k++;
  }
}

static void input_tool(walk *w, span *s, size_t n, json_t *part) {
  char key[96];
  input_role(w, s, n, "tool");
  snprintf(key, sizeof key, "llm.input_messages.%zu.message.tool_call_id", n);
  attrs_str(&w->at, s, key, payload_str(part, "callID"));
  snprintf(key, sizeof key, "llm.input_messages.%zu.message.name", n);
  attrs_str(&w->at, s, key, payload_str(part, "tool"));
  size_t len;
  const char *out = tool_result(part, &len);
  attrs_set_nth(&w->at, s, ATTR_LLM_INPUT_TOOL_RESULT, n, out, len);
}

/* input.value as the tool results of answer m (JSON: [{tool_call_id, tool, output}]), when it
 * made tool calls; false when it made none. An output longer than the limit goes into the JSON
 * cut (the attribute is then over the limit anyway, and only its size is said): a 50 MB output
 * is neither copied nor escaped whole. */
static bool tool_results_value(walk *w, span *s, const message_view *m) {
  json_t *results = json_array();
  size_t extra_bytes = 0, extra_chars = 0, cut_at = w->at.max_bytes + 1;
  for (size_t k = 0; k < json_array_size(m->parts); k++) {
    json_t *p = json_array_get(m->parts, k);
    if (!is_tool_part(p)) continue;
    size_t out_len;
    const char *out = tool_result(p, &out_len);
    const char *embedded = attrs_embedded(&w->at, ATTRS_TOOL_CONTENT, out);
    size_t embedded_len = embedded == out ? out_len : strlen(embedded);
    if (embedded_len > cut_at) {
      size_t cut = cut_at;
      while (cut > 0 && ((unsigned char)embedded[cut] & 0xC0) == 0x80) cut--; /* whole chars */
      size_t b, c;
      payload_measure(embedded + cut, embedded_len - cut, PAYLOAD_AS_JSON_STRING, &b, &c);
      extra_bytes += b, extra_chars += c;
      embedded_len = cut;
    }
    json_t *r = json_pack("{s:s, s:s?, s:s%}", "tool_call_id", payload_str(p, "callID"), "tool",
                          payload_str(p, "tool"), "output", embedded, embedded_len);
    if (results && r) json_array_append_new(results, r);
  }
  bool any = json_array_size(results) > 0;
  char *json = any ? dump(results) : NULL;
  if (json && extra_bytes) {
    size_t len = strlen(json), chars = 0;
    for (size_t i = 0; i < len; i++) chars += ((unsigned char)json[i] & 0xC0) != 0x80;
    attrs_set_sized(&w->at, s, ATTR_LLM_INPUT_TOOL_RESULTS, json, len, len + extra_bytes,
                    chars + extra_chars);
  } else if (json) {
    attrs_set(&w->at, s, ATTR_LLM_INPUT_TOOL_RESULTS, json, strlen(json));
  }
  w->at.out_of_memory |= any && !json;
  free(json);
  json_decref(results);
  return any;
}

/* input.value: what is new to this call. After an answer with tool calls, their results (JSON);
 * else the prompt of the nearest user message (its own text; OpenCode's synthetic text when it
 * has none, as after a compaction). */
static void llm_input_value(walk *w, span *s, const session_view *sv, size_t i, long u,
                            const long *owner) {
  for (long j = (long)i - 1; j >= 0 && j >= u; j--) {
    const message_view *m = &sv->messages[j];
    if (owner && owner[j] != u) continue;
    if (payload_is_assistant(m)) {
      if (tool_results_value(w, s, m)) return;
      continue;
    }
    if (!payload_is_user(m) || payload_compaction(m)) continue; /* a compaction: what it sums up */
    text prompt = {0};
    payload_parts_text(m, "text", &prompt);
    for (size_t k = 0; prompt.len == 0 && k < json_array_size(m->parts); k++) {
      size_t len;
      const char *t = sent_text(json_array_get(m->parts, k), &len);
      if (t) text_add(&prompt, t, len);
    }
    attrs_set(&w->at, s, ATTR_INPUT_TEXT, text_str(&prompt), prompt.len);
    attrs_str(&w->at, s, "input.mime_type", "text/plain");
    w->at.out_of_memory |= prompt.failed;
    free(prompt.data);
    return;
  }
  attrs_set(&w->at, s, ATTR_INPUT_TEXT, "", 0);
  attrs_str(&w->at, s, "input.mime_type", "text/plain");
}

/* llm.input_messages and input.value for model call i of turn u (see input_history). system:
 * the system prompt, when known (the live signals' hook): message 0, counted in the budget
 * first; NULL when unknown, and the history starts at 0. The most recent messages that fit in
 * the budget (limits.max_input_messages_bytes) are kept; opencode.llm.input_messages.omitted
 * says how many older ones were left out. */
static void llm_inputs(walk *w, span *s, const session_view *sv, size_t i, long u,
                       const long *owner, const char *system, size_t system_len) {
  size_t budget = w->at.opt->max_input_bytes ? w->at.opt->max_input_bytes : 64 * 1024, n = 0;
  input_list l = {0};
  if (system) {
    input_role(w, s, 0, "system");
    attrs_set_nth(&w->at, s, ATTR_LLM_INPUT_CONTENT, 0, system, system_len);
    size_t cost = attrs_cost(&w->at, ATTR_LLM_INPUT_CONTENT, system_len);
    budget = cost < budget ? budget - cost : 0;
    n = 1;
  }
  input_history(w, sv, i, u, owner, budget, &l);
  for (size_t k = l.len; k-- > 0; n++) {
    const input_message *e = &l.items[k];
    if (e->kind == INPUT_USER) input_user(w, s, n, e->m);
    else if (e->kind == INPUT_ASSISTANT) input_assistant(w, s, n, e->m);
    else input_tool(w, s, n, e->part);
  }
  if (l.omitted) attrs_int(&w->at, s, "opencode.llm.input_messages.omitted", (int64_t)l.omitted);
  w->at.out_of_memory |= l.failed;
  free(l.items);
  llm_input_value(w, s, sv, i, u, owner);
}

/* llm.output_messages.0: the reasoning and text of the call as content parts, the text as
 * content, and the tool calls it made. */
static void llm_outputs(walk *w, span *s, const message_view *m) {
  text reasoning = {0}, answer = {0};
  payload_parts_text(m, "reasoning", &reasoning);
  payload_parts_text(m, "text", &answer);
  attrs_str(&w->at, s, "llm.output_messages.0.message.role", "assistant");
  size_t c = 0;
  char key[128];
  if (reasoning.len) {
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.type", c);
    attrs_str(&w->at, s, key, "reasoning");
    attrs_set_nth(&w->at, s, ATTR_LLM_OUTPUT_PART, c++, text_str(&reasoning), reasoning.len);
  }
  /* OpenInference: message.content for a text-only message, message.contents.N for a
   * multi-part one (reasoning and text), never both */
  if (answer.len && c > 0) {
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.type", c);
    attrs_str(&w->at, s, key, "text");
    attrs_set_nth(&w->at, s, ATTR_LLM_OUTPUT_PART, c++, text_str(&answer), answer.len);
  } else if (answer.len) {
    attrs_set(&w->at, s, ATTR_LLM_OUTPUT_CONTENT, text_str(&answer), answer.len);
  }
  /* an answer that is only tool calls reads as those calls: [{id, name, arguments}] */
  json_t *calls = answer.len ? NULL : json_array();
  size_t j = 0;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    if (!is_tool_part(p)) continue;
    const char *call_id = payload_str(p, "callID"), *tool = payload_str(p, "tool");
    json_t *input = payload_path(p, "state", "input");
    const char *asked = invalid_tool_asked(tool, input); /* the name the model used */
    snprintf(key, sizeof key, "llm.output_messages.0.message.tool_calls.%zu.tool_call.id", j);
    attrs_str(&w->at, s, key, call_id);
    snprintf(key, sizeof key,
             "llm.output_messages.0.message.tool_calls.%zu.tool_call.function.name", j);
    attrs_str(&w->at, s, key, asked ? asked : tool);
    char *args = dump(input);
    if (args) {
      attrs_set_nth(&w->at, s, ATTR_LLM_TOOL_CALL_ARGUMENTS, j, args, strlen(args));
      free(args);
    }
    json_t *call = calls ? json_pack("{s:s, s:s, s:O?}", "id", call_id, "name",
                                     asked ? asked : tool, "arguments", input)
                         : NULL;
    if (call) json_array_append_new(calls, call);
    j++;
  }
  char *listed = json_array_size(calls) ? dump(calls) : NULL;
  if (listed) {
    attrs_set(&w->at, s, ATTR_LLM_OUTPUT_TOOL_CALLS, listed, strlen(listed));
  } else {
    attrs_set(&w->at, s, ATTR_OUTPUT_TEXT, text_str(&answer), answer.len);
    attrs_str(&w->at, s, "output.mime_type", "text/plain");
  }
  free(listed);
  json_decref(calls);
  w->at.out_of_memory |= reasoning.failed || answer.failed;
  free(reasoning.data);
  free(answer.data);
}

/* Status ERROR and an exception event from an assistant message's `error`. */
static void llm_error(walk *w, span *s, json_t *error) {
  const char *name = error ? payload_str(error, "name") : "Interrupted";
  const char *message = error ? payload_str(json_object_get(error, "data"), "message")
                              : "OpenCode stopped before this model call completed";
  if (!message && error) message = payload_str(error, "message");
  if (!name) name = "Error";
  if (!message) message = name;
  text t = {0};
  text_addf(&t, "%s: ", name);
  text_add(&t, message, strlen(message));
  if (span_set_status(s, SPAN_STATUS_ERROR, text_str(&t)) != 0) w->at.out_of_memory = true;
  span_event *e = span_add_event(s, "exception", s->end_ns);
  if (!e || span_event_set_string(e, "exception.type", name) ||
      span_event_set_string(e, "exception.message", message))
    w->at.out_of_memory = true;
  json_t *status_code = payload_path(error, "data", "statusCode");
  if (json_is_number(status_code) && json_number_value(status_code) >= 0 &&
      json_number_value(status_code) < 1000)
    attrs_int(&w->at, s, "http.response.status_code", (int64_t)json_number_value(status_code));
  w->at.out_of_memory |= t.failed;
  free(t.data);
}

/* OpenInference's token counts for one model call. A bucket that is not a count (an
 * overflowing or negative number, a string) is left out with one log line, and so is every
 * sum it is part of: an unknown count is never read as 0. */
static void llm_token_counts(walk *w, span *s, const session_view *sv, const message_view *m,
                             json_t *tokens) {
  static const char *const names[] = {"input", "output", "reasoning", "cache.read", "cache.write"};
  json_t *cache = json_object_get(tokens, "cache");
  json_t *v[] = {json_object_get(tokens, "input"), json_object_get(tokens, "output"),
                 json_object_get(tokens, "reasoning"), json_object_get(cache, "read"),
                 json_object_get(cache, "write")};
  int64_t n[5];
  for (size_t i = 0; i < 5; i++)
    if ((n[i] = payload_count_known(v[i])) < 0)
      payload_skip(&w->report, "session %s: message %s: tokens.%s is not a valid count", sv->id,
                   m->id, names[i]);
  enum { INPUT, OUTPUT, REASONING, CACHE_READ, CACHE_WRITE };
  /* OpenCode stores input without cache and output without reasoning; OpenInference's
   * prompt and completion include their detail buckets. */
  bool prompt_known = n[INPUT] >= 0 && n[CACHE_READ] >= 0 && n[CACHE_WRITE] >= 0;
  bool completion_known = n[OUTPUT] >= 0 && n[REASONING] >= 0;
  int64_t prompt = n[INPUT] + n[CACHE_READ] + n[CACHE_WRITE], completion = n[OUTPUT] + n[REASONING];
  if (prompt_known) attrs_int(&w->at, s, "llm.token_count.prompt", prompt);
  if (completion_known) attrs_int(&w->at, s, "llm.token_count.completion", completion);
  if (prompt_known && completion_known)
    attrs_int(&w->at, s, "llm.token_count.total", prompt + completion);
  if (n[CACHE_READ] >= 0)
    attrs_int(&w->at, s, "llm.token_count.prompt_details.cache_read", n[CACHE_READ]);
  if (n[CACHE_WRITE] >= 0)
    attrs_int(&w->at, s, "llm.token_count.prompt_details.cache_write", n[CACHE_WRITE]);
  if (n[REASONING] >= 0)
    attrs_int(&w->at, s, "llm.token_count.completion_details.reasoning", n[REASONING]);
}

/* For a compaction's summary call (message i): "auto" or "manual", from the user message that
 * asked for it; "" when that message is not in the payload; NULL for any other call. */
static const char *compaction_kind(const session_view *sv, size_t i) {
  const message_view *m = &sv->messages[i];
  if (!payload_is_summary(m)) return NULL;
  for (size_t j = i; m->parent_id && j-- > 0;)
    if (strcmp(sv->messages[j].id, m->parent_id) == 0) {
      const char *kind = payload_compaction(&sv->messages[j]);
      return kind ? kind : "";
    }
  return "";
}

/* The LLM span of model call i (an assistant message) of turn u (owner: as in input_history). */
static void emit_llm(walk *w, const session_view *sv, size_t i, long u, const long *owner,
                     const uint8_t trace_id[16], const uint8_t parent_id[8], bool interrupted) {
  const message_view *m = &sv->messages[i];
  if (!payload_finished(m) && !interrupted) return;
  text key = {0};
  text_add(&key, "llm:", 4);
  text_add(&key, m->id, strlen(m->id));
  if (key.failed || seen(w, text_str(&key))) {
    w->at.out_of_memory |= key.failed;
    free(key.data);
    return;
  }
  const char *model = payload_str(m->info, "modelID"),
             *provider = payload_str(m->info, "providerID");
  text name = {0};
  text_add(&name, "LLM: ", 5);
  text_add(&name, model ? model : "unknown", strlen(model ? model : "unknown"));
  uint8_t id[8];
  llm_span_id(m, id);
  span *s = name.failed ? NULL
                        : new_span(w, text_str(&name), "LLM", trace_id, id, parent_id, sv->id,
                                   payload_str(m->info, "agent"));
  free(name.data);
  if (!s) {
    free(key.data);
    return;
  }
  int64_t end = payload_message_last_ms(m);
  set_times(w, s, payload_ms(payload_path(m->info, "time", "created")),
            payload_finished(m) ? end : interrupted_end(w, end));
  if (model) attrs_str(&w->at, s, "llm.model_name", model);
  if (provider) attrs_str(&w->at, s, "llm.provider", provider);
  if (llm_system(provider)) attrs_str(&w->at, s, "llm.system", llm_system(provider));
  const char *finish = payload_str(m->info, "finish");
  if (finish) attrs_str(&w->at, s, "llm.finish_reason", finish);

  json_t *tokens = json_object_get(m->info, "tokens");
  if (tokens) llm_token_counts(w, s, sv, m, tokens);
  double cost;
  int known = payload_cost(json_object_get(m->info, "cost"), &cost);
  if (known < 0)
    payload_skip(&w->report, "session %s: message %s: its cost is not a valid amount", sv->id,
                 m->id);
  /* no cost field: unknown, which is not free */
  if (known > 0 && span_set_double(s, "llm.cost.total", cost) != 0) w->at.out_of_memory = true;

  /* the system prompt is not in OpenCode's stored messages: the live signals pass it (the
   * first input message, role system), when this process heard the call */
  live_call call = {0};
  bool live = live_llm(w, s, sv, (size_t)(m - sv->messages), &call);
  llm_inputs(w, s, sv, i, u, owner, live ? call.system : NULL, live ? call.system_len : 0);
  llm_outputs(w, s, m);

  const char *compaction = compaction_kind(sv, i);
  json_t *meta = json_pack(
      "{s:s?, s:s?, s:s?, s:s, s:s, s:s*, s:s*}", "agent", payload_str(m->info, "agent"), "mode",
      payload_str(m->info, "mode"), "cwd", json_string_value(payload_path(m->info, "path", "cwd")),
      "message_id", m->id, "session_id", sv->id, "kind", compaction ? "compaction" : NULL,
      "compaction", compaction && *compaction ? compaction : NULL);
  set_metadata(w, s, meta);

  json_t *error = payload_error(m);
  /* a call cut short is an error; one whose answer was stored whole is not (OpenCode's
   * completion stamp missing, or an abort stamped on it: a quit the instant the answer
   * appeared) */
  if (error || (!payload_finished(m) && !payload_answered(m))) llm_error(w, s, error);
  emit_span(w, s, text_str(&key));
  free(key.data);
}

/* ------------------------------------------------------------------------------------------ */
/* Turns and child sessions                                                                    */

static void turn_ids(const char *session_id, const message_view *user, uint8_t trace_id[16],
                     uint8_t span_id[8]) {
  const char *t[] = {"turn", session_id, user->id}, *s[] = {"turn-span", session_id, user->id};
  hash_id(trace_id, 16, t, 3);
  hash_id(span_id, 8, s, 3);
}

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

typedef struct {
  int64_t prompt, completion, cache_read, cache_write, reasoning;
  double cost;
  bool cost_known; /* any call with a known cost: the sum of known costs, else no attribute */
  int64_t llm_calls;
} usage;

typedef struct {
  usage calls;      /* the model calls of the turn, its subagents' included */
  usage compaction; /* its compactions' summary calls, counted apart */
  int64_t tool_calls, tool_errors;
} rollup;

static void usage_add(usage *u, const message_view *m) {
  json_t *tokens = json_object_get(m->info, "tokens");
  int64_t cr = payload_count(payload_path(tokens, "cache", "read")),
          cw = payload_count(payload_path(tokens, "cache", "write"));
  int64_t reasoning = payload_count(json_object_get(tokens, "reasoning"));
  u->prompt += payload_count(json_object_get(tokens, "input")) + cr + cw;
  u->completion += payload_count(json_object_get(tokens, "output")) + reasoning;
  u->cache_read += cr, u->cache_write += cw, u->reasoning += reasoning;
  double cost;
  if (payload_cost(json_object_get(m->info, "cost"), &cost) > 0)
    u->cost += cost, u->cost_known = true;
  u->llm_calls++;
}

static void rollup_add(rollup *r, const session_view *sv, const long *owner, long user) {
  for (size_t i = 0; i < sv->n_messages; i++) {
    const message_view *m = &sv->messages[i];
    if (!payload_is_assistant(m) || (owner && owner[i] != user)) continue;
    usage_add(payload_is_summary(m) ? &r->compaction : &r->calls, m);
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (!payload_str(p, "type") || strcmp(payload_str(p, "type"), "tool") != 0) continue;
      r->tool_calls++;
      const char *status = payload_str(json_object_get(p, "state"), "status");
      if (status && strcmp(status, "error") == 0) r->tool_errors++;
    }
  }
}

/* The text of the last assistant message (of this turn, or of the whole session when owner is
 * NULL) that has any: the answer the user saw. A compaction's summary only when the turn has
 * no other answer (a turn that is a /compact). */
static void final_text(const session_view *sv, const long *owner, long user, text *out) {
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = sv->n_messages; i-- > 0;) {
      const message_view *m = &sv->messages[i];
      if (!payload_is_assistant(m) || (owner && owner[i] != user)) continue;
      if (pass == 0 && payload_is_summary(m)) continue;
      payload_parts_text(m, "text", out);
      if (out->len) return;
    }
}

/* A git remote without the credentials a URL may carry (https://user:token@host/...): the
 * scheme, then everything after the userinfo. scp-like remotes (git@host:org/repo) name a user,
 * not a secret, and stay as they are. */
static void remote_without_credentials(const char *url, text *out) {
  const char *scheme = strstr(url, "://");
  const char *host = scheme ? scheme + 3 : NULL;
  const char *at = host ? strchr(host, '@') : NULL, *slash = host ? strchr(host, '/') : NULL;
  if (!at || (slash && at > slash)) {
    text_add(out, url, strlen(url));
    return;
  }
  text_add(out, url, (size_t)(host - url));
  text_add(out, at + 1, strlen(at + 1));
}

#define TURNS_MAX 1000000000LL /* more turns than any session has: a count past it is garbage */

/* How many turns of the root session come before the payload's first one, or -1 when that cannot
 * be known: "turnsBefore" when the plugin read the session from its start; else the number the
 * state remembers for the turn opened last (an anchor key "turn#<user message>#<n>" written with
 * every Turn sent), when that turn is in the payload, or is right before it and is the one the
 * plugin saw last ("previousTurn"). Once per payload (walk.turn_base). */
static int64_t turn_base(walk *w, const session_view *root, const long *owner) {
  if (w->turns_before >= 0) return w->turns_before;
  const char *anchor = state_anchor(w->st, w->root_id);
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

/* A context string (a title, a remote, a path) at most CONTEXT_MAX bytes, else NULL: the
 * metadata stays far below the attribute limit, so it is never cut (cut JSON is not JSON). */
#define CONTEXT_MAX 1024
static const char *context_str(const json_t *obj, const char *key) {
  const char *s = payload_str(obj, key);
  return s && strlen(s) <= CONTEXT_MAX ? s : NULL;
}

/* The Turn's metadata: ids, agent and model, and the context a reader wants beside a turn:
 * OpenCode's version, the session's title, the turn's number, the working directory, the git
 * remote (without credentials), branch and commit when it is a repository, the host. */
static json_t *turn_metadata(walk *w, const session_view *root, const long *owner, long u,
                             int64_t number) {
  const message_view *user = &root->messages[u];
  const char *cwd = NULL;
  for (size_t i = (size_t)u + 1; !cwd && i < root->n_messages; i++)
    if (owner[i] == u) cwd = context_str(json_object_get(root->messages[i].info, "path"), "cwd");
  if (!cwd) cwd = context_str(w->session, "directory");
  if (!cwd) cwd = context_str(w->context, "directory");
  const char *version = context_str(w->context, "opencodeVersion");
  if (!version) version = context_str(w->session, "version");
  json_t *meta =
      json_pack("{s:s, s:s?, s:s?, s:s*, s:s*, s:s*, s:s*, s:s*}", "user_message_id", user->id,
                "agent", payload_str(user->info, "agent"), "model",
                payload_str(json_object_get(user->info, "model"), "modelID"), "opencode_version",
                version, "session_title", context_str(w->session, "title"), "cwd", cwd, "host",
                w->at.opt->host, "compaction", payload_compaction(user));
  if (meta && number > 0) json_object_set_new(meta, "turn_number", json_integer(number));
  json_t *git = json_object_get(w->context, "git");
  const char *remote = context_str(git, "remote"), *branch = context_str(git, "branch"),
             *commit = context_str(git, "commit");
  if (meta && (remote || branch || commit)) {
    text clean = {0};
    if (remote) remote_without_credentials(remote, &clean);
    json_t *g = json_pack("{s:s*, s:s*, s:s*}", "remote", remote ? text_str(&clean) : NULL,
                          "branch", branch, "commit", commit);
    if (g) json_object_set_new(meta, "git", g);
    w->at.out_of_memory |= clean.failed;
    free(clean.data);
  }
  return meta;
}

static void set_usage(walk *w, span *s, const char *prefix, const usage *u) {
  static const char *const names[] = {"llm_calls",
                                      "token_count.prompt",
                                      "token_count.completion",
                                      "token_count.total",
                                      "token_count.cache_read",
                                      "token_count.cache_write",
                                      "token_count.reasoning"};
  const int64_t values[] = {u->llm_calls,  u->prompt,      u->completion, u->prompt + u->completion,
                            u->cache_read, u->cache_write, u->reasoning};
  char key[96];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(key, sizeof key, "%s%s", prefix, names[i]);
    attrs_int(&w->at, s, key, values[i]);
  }
  /* the sum of the costs that are known (a cost is unknown when OpenCode wrote none); none
   * known: no attribute, since unknown is not free */
  snprintf(key, sizeof key, "%scost.total", prefix);
  if (u->cost_known && span_set_double(s, key, u->cost) != 0) w->at.out_of_memory = true;
}

static void emit_turn(walk *w, const session_view *root, const long *owner, long u,
                      session_view *children, size_t n_children, const char *key) {
  const message_view *user = &root->messages[u];
  uint8_t trace_id[16], span_id[8];
  turn_ids(root->id, user, trace_id, span_id);
  const char *agent = payload_str(user->info, "agent");
  span *s = new_span(w, "Turn", "CHAIN", trace_id, span_id, NULL, root->id, agent);
  if (!s) return;

  int64_t end = -1;
  const message_view *last = NULL;
  for (size_t i = (size_t)u + 1; i < root->n_messages; i++) {
    if (owner[i] != u || !payload_is_assistant(&root->messages[i])) continue;
    last = &root->messages[i];
    int64_t t = payload_message_last_ms(last);
    if (t > end) end = t;
  }
  for (size_t c = 0; c < n_children; c++) { /* a subagent cut off runs past its task part */
    int64_t t = children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0
                    ? payload_session_last_ms(&children[c])
                    : -1;
    if (t > end) end = t;
  }
  if (last && !payload_finished(last)) end = interrupted_end(w, end);
  set_times(w, s, payload_ms(payload_path(user->info, "time", "created")), end);

  text prompt = {0}, answer = {0};
  payload_parts_text(user, "text", &prompt);
  final_text(root, owner, u, &answer);
  attrs_set(&w->at, s, ATTR_INPUT_TEXT, text_str(&prompt), prompt.len);
  attrs_str(&w->at, s, "input.mime_type", "text/plain");
  attrs_set(&w->at, s, ATTR_OUTPUT_TEXT, text_str(&answer), answer.len);
  attrs_str(&w->at, s, "output.mime_type", "text/plain");
  w->at.out_of_memory |= prompt.failed || answer.failed;
  free(prompt.data);
  free(answer.data);

  /* the root agent, as a node of the agent graph its subagents hang off */
  text node = {0};
  text_add(&node, "agent:", 6);
  text_add(&node, root->id, strlen(root->id));
  attrs_str(&w->at, s, "graph.node.id", text_str(&node));
  attrs_str(&w->at, s, "graph.node.name", agent ? agent : "opencode");
  w->at.out_of_memory |= node.failed;
  free(node.data);

  rollup r = {0};
  rollup_add(&r, root, owner, u);
  for (size_t c = 0; c < n_children; c++)
    if (children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0)
      rollup_add(&r, &children[c], NULL, 0);
  set_usage(w, s, "opencode.turn.", &r.calls);
  attrs_int(&w->at, s, "opencode.turn.tool_calls", r.tool_calls);
  attrs_int(&w->at, s, "opencode.turn.tool_errors", r.tool_errors);
  if (r.compaction.llm_calls) set_usage(w, s, "opencode.turn.compaction.", &r.compaction);

  int64_t number = turn_number(w, root, owner, u);
  set_metadata(w, s, turn_metadata(w, root, owner, u, number));

  json_t *error = last ? payload_error(last) : NULL;
  bool failed = error != NULL;
  live_turn(w, s, root, owner, u, children, n_children, trace_id, &failed);
  if (error) {
    const char *name = payload_str(error, "name");
    if (span_set_status(s, SPAN_STATUS_ERROR, name ? name : "Error") != 0)
      w->at.out_of_memory = true;
  } else if (failed) {
    /* live_turn set the status: a session error ended the turn */
  } else if (last && !payload_finished(last) && !payload_answered(last)) {
    if (span_set_status(s, SPAN_STATUS_ERROR,
                        "interrupted: the turn ended before its last model call completed") != 0)
      w->at.out_of_memory = true;
  } else if (!last && w->abandoned) {
    if (span_set_status(s, SPAN_STATUS_ERROR,
                        "interrupted: the turn ended before its first model call") != 0)
      w->at.out_of_memory = true;
  }
  size_t before = w->result->spans;
  emit_span(w, s, key);
  w->result->turns += w->result->spans - before;
  if (w->result->spans > before) {
    /* the continuations of the turn are sent with it: no payload reaches back for them */
    for (size_t i = (size_t)u + 1; i < root->n_messages; i++)
      if (owner[i] == u && payload_is_user(&root->messages[i])) {
        text k = {0};
        text_addf(&k, "turn:%s", root->messages[i].id);
        if (k.failed || state_mark(w->st, w->root_id, text_str(&k)) != 0)
          w->at.out_of_memory = true;
        free(k.data);
      }
    /* the anchor the next payloads count this session's turns from */
    text anchor = {0};
    text_addf(&anchor, "%s%s#%lld", STATE_ANCHOR_PREFIX, user->id, (long long)number);
    if (anchor.failed || state_mark(w->st, w->root_id, text_str(&anchor)) != 0)
      w->at.out_of_memory = true;
    free(anchor.data);
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
    turn_ids(root->id, &root->messages[u], trace_id, span_id);
    bool superseded = u != last_head || w->abandoned; /* over: its unfinished calls stopped */
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
    bool over = (long)u != last_head || w->abandoned ||
                (w->closing && n_assistant[u] > 0 && n_finished[u] == n_assistant[u]) ||
                (w->closing && n_assistant[u] == 0 && turn_failed_before_calls(w, root, u));
    if (!over) continue;
    text key = {0};
    text_add(&key, "turn:", 5);
    text_add(&key, root->messages[u].id, strlen(root->messages[u].id));
    if (!key.failed && !seen(w, text_str(&key)))
      emit_turn(w, root, owner, (long)u, children, n_children, text_str(&key));
    w->at.out_of_memory |= key.failed;
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
        turn_ids(root->id, &root->messages[u], child->trace_id, span_id);
        child->turn_over = turn_over(root, owner, u, closing);
      } else {
        memcpy(child->trace_id, parent->trace_id, 16);
        child->turn_over = parent->turn_over;
      }
      const char *agent_parts[] = {"agent", child->id};
      hash_id(child->agent_span_id, 8, agent_parts, 2);
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
  if (!child->turn_over && !w->abandoned && (!ended || !child_complete(child))) return;
  text key = {0};
  text_add(&key, "agent:", 6);
  text_add(&key, child->id, strlen(child->id));
  if (key.failed || seen(w, text_str(&key))) {
    w->at.out_of_memory |= key.failed;
    free(key.data);
    return;
  }
  json_t *st = json_object_get(child->task_part, "state");
  const char *agent = payload_str(child->info, "agent");
  if (!agent) agent = payload_str(json_object_get(st, "input"), "subagent_type");
  if (!agent) agent = "subagent";
  text name = {0};
  text_add(&name, "Agent: ", 7);
  text_add(&name, agent, strlen(agent));
  uint8_t parent_id[8];
  tool_span_id(child->parent->id, child->task_message, payload_str(child->task_part, "callID"),
               parent_id);
  span *s = name.failed ? NULL
                        : new_span(w, text_str(&name), "AGENT", child->trace_id,
                                   child->agent_span_id, parent_id, child->id, agent);
  free(name.data);
  if (!s) {
    free(key.data);
    return;
  }
  int64_t start = payload_ms(payload_path(st, "time", "start")),
          end = payload_ms(payload_path(st, "time", "end"));
  if (start < 0) start = payload_ms(payload_path(child->info, "time", "created"));
  if (end < 0) end = interrupted_end(w, payload_session_last_ms(child)); /* where it stopped */
  set_times(w, s, start, end);
  attrs_str(&w->at, s, "agent.name", agent);
  /* this subagent instance as a node of the agent graph, under the agent that started it */
  text node = {0}, parent_node = {0};
  text_addf(&node, "agent:%s", child->id);
  text_addf(&parent_node, "agent:%s", child->parent->id);
  attrs_str(&w->at, s, "graph.node.id", text_str(&node));
  attrs_str(&w->at, s, "graph.node.parent_id", text_str(&parent_node));
  attrs_str(&w->at, s, "graph.node.name", agent);
  w->at.out_of_memory |= node.failed || parent_node.failed;
  free(node.data);
  free(parent_node.data);
  size_t prompt_len;
  const char *prompt = payload_text(json_object_get(st, "input"), "prompt", &prompt_len);
  if (prompt) attrs_set(&w->at, s, ATTR_INPUT_TEXT, prompt, prompt_len);
  attrs_str(&w->at, s, "input.mime_type", "text/plain");
  text answer = {0};
  final_text(child, NULL, 0, &answer);
  attrs_set(&w->at, s, ATTR_OUTPUT_TEXT, text_str(&answer), answer.len);
  attrs_str(&w->at, s, "output.mime_type", "text/plain");
  w->at.out_of_memory |= answer.failed;
  free(answer.data);
  json_t *meta = json_pack("{s:s, s:s, s:s?}", "parent_session_id", child->parent->id, "session_id",
                           child->id, "title", payload_str(child->info, "title"));
  set_metadata(w, s, meta);
  if (!ended) {
    if (span_set_status(s, SPAN_STATUS_ERROR,
                        "interrupted: OpenCode stopped before the subagent finished") != 0)
      w->at.out_of_memory = true;
  } else if (strcmp(status, "error") == 0) {
    size_t n = 0;
    const char *error = payload_text(st, "error", &n);
    if (!error) {
      if (span_set_status(s, SPAN_STATUS_ERROR, "subagent failed") != 0) w->at.out_of_memory = true;
    } else {
      attrs_set_error(&w->at, s, ATTRS_TOOL_CONTENT, error, n); /* the task tool's error text */
    }
  }
  emit_span(w, s, text_str(&key));
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
    bool interrupted = child->turn_over || current_user != last_user || w->abandoned;
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

/* Whether prefix + id was marked (sent, or pending in this reconcile). Out of memory answers
 * "not seen", which only makes the next payload longer. */
static bool seen_id(walk *w, const char *prefix, const char *id) {
  text key = {0};
  text_add(&key, prefix, strlen(prefix));
  text_add(&key, id, strlen(id));
  bool out = !key.failed && seen(w, text_str(&key));
  free(key.data);
  return out;
}

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
        !seen_id(w, "turn:", p) && (!oldest || strcmp(p, oldest) < 0))
      oldest = p;
  }
  for (size_t i = 0; !oldest && i < root->n_messages; i++)
    if (is_head(root, owner, i) && !seen_id(w, "turn:", root->messages[i].id))
      oldest = root->messages[i].id;
  if (!oldest && root->n_messages) oldest = root->messages[root->n_messages - 1].id;
  if (oldest) copy_id(w->result->watermark, oldest);
}

/* Whether a child session can still produce spans: its AGENT span is unsent, or one of its
 * model calls is unfinished (its spans follow when it finishes), or nothing links it yet. */
static bool child_open(walk *w, const session_view *child) {
  if (!child->linked || !seen_id(w, "agent:", child->id)) return true;
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
  return u < 0 || !seen_id(w, "turn:", root->messages[u].id);
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
  if (json_is_object(session) && (!id || strcmp(id, w->root_id) == 0)) w->session = session;
  else if (json_is_object(session))
    payload_skip(&w->report, "session %s: its \"session\" describes another session", w->root_id);
  json_t *context = json_object_get(payload, "context");
  if (json_is_object(context)) w->context = context;
  json_t *before = json_object_get(payload, "turnsBefore");
  w->turns_before = json_is_integer(before) && json_integer_value(before) >= 0 &&
                            json_integer_value(before) <= TURNS_MAX
                        ? (int64_t)json_integer_value(before)
                        : -1;
  const char *previous = payload_str(payload, "previousTurn");
  w->previous_turn = payload_id_ok(previous) ? previous : NULL;
  json_t *stopped = json_object_get(payload, "stoppedAt");
  w->stopped_at = json_is_number(stopped) ? payload_ms(stopped) : -1;
  const char *version = payload_str(w->context, "opencodeVersion");
  if (!version) version = payload_str(w->session, "version");
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
                .emit = emit,
                .emit_ctx = ctx,
                .result = result,
                .report = report,
                .closing = strcmp(type, "close") == 0,
                .root_id = root.id,
                .abandoned = strcmp(type, "close") == 0 &&
                             json_is_true(json_object_get(payload, "abandoned")),
                .live = live};
      read_context(&w, payload);
      w.turn_counted = -1;
      attrs_init(&w.at, opt);
      w.at.measure = measure_cut;
      state_begin(st, root.id); /* the caller commits once the spans are safe */
      link_children(&root, owner, children, n_children, w.closing);
      for (size_t c = 0; c < n_children; c++) {
        if (children[c].linked) walk_child(&w, &children[c]);
        else result->children_unlinked++;
      }
      if (walk_turns(&w, &root, owner, children, n_children) != 0) w.at.out_of_memory = true;
      find_watermark(&w, &root, owner);
      find_open_children(&w, &root, owner, children, n_children);
      rc = w.at.out_of_memory ? -2 : 0;
      if (w.at.out_of_memory) snprintf(result->error, sizeof result->error, "out of memory");
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
