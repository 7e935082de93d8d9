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
#include "text.h"

/* One reconcile: what it reads and writes, borrowed for its duration. */
typedef struct {
  state *st;
  attrs at; /* the attribute policy; at.out_of_memory: a span could not be built whole */
  reconcile_emit_fn emit;
  void *emit_ctx;
  reconcile_result *result;
  bool closing;        /* type == "close" */
  bool abandoned;      /* "close" with "abandoned": true: no OpenCode works on it any more */
  const char *root_id; /* the payload's session: the state namespace */
  live_store *live;    /* the live signals (live.h); NULL: none */
} walk;

static uint64_t ms_to_ns(int64_t ms) { return ms < 0 ? 0 : (uint64_t)ms * 1000000ULL; }

bool reconcile_id_ok(const char *id) { return payload_id_ok(id); }

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

/* The last touch before a span leaves: OPENINFERENCE_HIDE_*, the tags, the custom attributes
 * and the size limits (attrs.h). */
static void finish_span(walk *w, span *s) {
  attrs_hide(&w->at, s);
  if (!span_get(s, "tag.tags")) {
    /* tags users can filter on: the harness, and the agent that did the work */
    const span_attr *agent = span_get(s, "agent.name");
    const char *tags[] = {"opencode",
                          agent && agent->type == SPAN_ATTR_STRING ? agent->value.s : NULL};
    if (span_set_string_list(s, "tag.tags", tags, tags[1] ? 2 : 1) != 0) w->at.out_of_memory = true;
  }
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

static span *new_span(walk *w, const char *name, const char *kind, const uint8_t trace_id[16],
                      const uint8_t *span_id, const uint8_t *parent_id, const char *session_id) {
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
  attrs_str(&w->at, s, "session.id", session_id);
  attrs_user(&w->at, s);
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
    attrs_set(&w->at, s, ATTR_TOOL_DEFINITION, description, strlen(description));
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

/* One TOOL span for a finished tool part (or, when interrupted, an unfinished one). */
static void emit_tool(walk *w, const session_view *sv, const message_view *m, json_t *part,
                      const uint8_t trace_id[16], bool interrupted) {
  const char *call_id = payload_str(part, "callID"), *tool = payload_str(part, "tool");
  json_t *st = json_object_get(part, "state");
  const char *status = payload_str(st, "status");
  if (!reconcile_id_ok(call_id) || !tool || !status) return;
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
  span *s = new_span(w, tool, "TOOL", trace_id, id, parent, sv->id);
  if (!s) {
    free(key.data);
    return;
  }
  int64_t start = payload_ms(payload_path(st, "time", "start")),
          end = payload_ms(payload_path(st, "time", "end"));
  if (start < 0) start = payload_ms(payload_path(m->info, "time", "created"));
  if (end < 0) end = payload_message_last_ms(m);
  set_times(w, s, start, end);

  attrs_str(&w->at, s, "tool.name", tool);
  attrs_str(&w->at, s, "tool.id", call_id);
  attrs_str(&w->at, s, "tool_call.id", call_id);
  json_t *input = json_object_get(st, "input");
  char *args = dump(input);
  if (args) {
    attrs_set(&w->at, s, ATTR_TOOL_INPUT, args, strlen(args));
    attrs_set(&w->at, s, ATTR_TOOL_PARAMETERS, args, strlen(args));
    free(args);
  }
  tool_arguments(w, s, tool, input);
  const char *title = payload_str(st, "title");
  if (title && *title) attrs_set(&w->at, s, ATTR_TOOL_DESCRIPTION, title, strlen(title));
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
  if (output && tool_aborted(output, n)) {
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

/* llm.input_messages and input.value for one model call: the user prompt for the first call
 * of a turn, the tool results it consumed (the previous call's tool parts) after that. */
static void llm_inputs(walk *w, span *s, const message_view *user, const message_view *previous) {
  if (!previous) {
    text prompt = {0};
    if (user) payload_parts_text(user, "text", &prompt);
    attrs_str(&w->at, s, "llm.input_messages.0.message.role", "user");
    attrs_set(&w->at, s, ATTR_LLM_INPUT_PROMPT, text_str(&prompt), prompt.len);
    attrs_set(&w->at, s, ATTR_INPUT_TEXT, text_str(&prompt), prompt.len);
    attrs_str(&w->at, s, "input.mime_type", "text/plain");
    w->at.out_of_memory |= prompt.failed;
    free(prompt.data);
    return;
  }
  json_t *results = json_array();
  size_t k = 0;
  char key[96];
  /* An output longer than the limit goes into the results' JSON cut (that attribute is then
   * over the limit anyway, and only its size is said): a 50 MB output is neither copied nor
   * escaped whole. extra_*: what the cut left out, as escaped JSON text. */
  size_t extra_bytes = 0, extra_chars = 0, cut_at = w->at.max_bytes + 1;
  for (size_t i = 0; i < json_array_size(previous->parts); i++) {
    json_t *p = json_array_get(previous->parts, i);
    const char *type = payload_str(p, "type"), *call_id = payload_str(p, "callID");
    if (!type || strcmp(type, "tool") != 0 || !call_id) continue;
    json_t *st = json_object_get(p, "state");
    size_t out_len;
    const char *out = payload_text(st, "output", &out_len);
    if (!out) out = payload_text(st, "error", &out_len);
    if (!out) out = "", out_len = 0;
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.role", k);
    attrs_str(&w->at, s, key, "tool");
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.tool_call_id", k);
    attrs_str(&w->at, s, key, call_id);
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.name", k);
    attrs_str(&w->at, s, key, payload_str(p, "tool"));
    attrs_set_nth(&w->at, s, ATTR_LLM_INPUT_TOOL_RESULT, k, out, out_len);
    k++;
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
    json_t *r = json_pack("{s:s, s:s?, s:s%}", "tool_call_id", call_id, "tool",
                          payload_str(p, "tool"), "output", embedded, embedded_len);
    if (results && r) json_array_append_new(results, r);
  }
  char *json = dump(results);
  if (json && extra_bytes) {
    size_t len = strlen(json), chars = 0;
    for (size_t i = 0; i < len; i++) chars += ((unsigned char)json[i] & 0xC0) != 0x80;
    attrs_set_sized(&w->at, s, ATTR_LLM_INPUT_TOOL_RESULTS, json, len, len + extra_bytes,
                    chars + extra_chars);
  } else if (json) {
    attrs_set(&w->at, s, ATTR_LLM_INPUT_TOOL_RESULTS, json, strlen(json));
  }
  free(json);
  json_decref(results);
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
  attrs_set(&w->at, s, ATTR_OUTPUT_TEXT, text_str(&answer), answer.len);
  attrs_str(&w->at, s, "output.mime_type", "text/plain");

  size_t j = 0;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *type = payload_str(p, "type"), *call_id = payload_str(p, "callID"),
               *tool = payload_str(p, "tool");
    if (!type || strcmp(type, "tool") != 0 || !call_id || !tool) continue;
    snprintf(key, sizeof key, "llm.output_messages.0.message.tool_calls.%zu.tool_call.id", j);
    attrs_str(&w->at, s, key, call_id);
    snprintf(key, sizeof key,
             "llm.output_messages.0.message.tool_calls.%zu.tool_call.function.name", j);
    attrs_str(&w->at, s, key, tool);
    char *args = dump(payload_path(p, "state", "input"));
    if (args) {
      attrs_set_nth(&w->at, s, ATTR_LLM_TOOL_CALL_ARGUMENTS, j, args, strlen(args));
      free(args);
    }
    j++;
  }
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
      payload_skip(w->result, "session %s: message %s: tokens.%s is not a valid count", sv->id,
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

static void emit_llm(walk *w, const session_view *sv, const message_view *m,
                     const message_view *user, const message_view *previous,
                     const uint8_t trace_id[16], const uint8_t parent_id[8], bool interrupted) {
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
  span *s =
      name.failed ? NULL : new_span(w, text_str(&name), "LLM", trace_id, id, parent_id, sv->id);
  free(name.data);
  if (!s) {
    free(key.data);
    return;
  }
  set_times(w, s, payload_ms(payload_path(m->info, "time", "created")), payload_message_last_ms(m));
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
    payload_skip(w->result, "session %s: message %s: its cost is not a valid amount", sv->id,
                 m->id);
  /* no cost field: unknown, which is not free */
  if (known > 0 && span_set_double(s, "llm.cost.total", cost) != 0) w->at.out_of_memory = true;

  llm_inputs(w, s, user, previous);
  llm_outputs(w, s, m);
  live_call call;
  live_llm(w, s, sv, (size_t)(m - sv->messages), &call);

  json_t *meta = json_pack("{s:s?, s:s?, s:s?, s:s, s:s}", "agent", payload_str(m->info, "agent"),
                           "mode", payload_str(m->info, "mode"), "cwd",
                           json_string_value(payload_path(m->info, "path", "cwd")), "message_id",
                           m->id, "session_id", sv->id);
  set_metadata(w, s, meta);

  json_t *error = json_object_get(m->info, "error");
  /* a call cut short is an error; one whose answer was stored whole is not (only OpenCode's
   * completion stamp is missing: a quit the instant the answer appeared) */
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

/* For each message, the index of the user message whose turn it belongs to (-1: none). An
 * assistant's parentID names its user message; OpenCode keeps them in creation order, so the
 * search runs backwards from the latest user message and is short. */
static long *turn_owners(const session_view *sv) {
  long *owner = malloc((sv->n_messages ? sv->n_messages : 1) * sizeof *owner);
  if (!owner) return NULL;
  long last_user = -1;
  for (size_t i = 0; i < sv->n_messages; i++) {
    const message_view *m = &sv->messages[i];
    if (payload_is_user(m)) {
      owner[i] = last_user = (long)i;
      continue;
    }
    owner[i] = last_user;
    if (!m->parent_id) continue;
    for (long u = last_user; u >= 0; u--) {
      if (owner[u] == u && strcmp(sv->messages[u].id, m->parent_id) == 0) {
        owner[i] = u;
        break;
      }
    }
    /* A parentID older than the payload's first message names a turn the payload does not
     * show (a tail of the session): the message waits for a payload that holds its turn. */
    if (owner[i] >= 0 && strcmp(sv->messages[owner[i]].id, m->parent_id) != 0 &&
        strcmp(m->parent_id, sv->messages[0].id) < 0)
      owner[i] = -1;
  }
  return owner;
}

typedef struct {
  int64_t prompt, completion, cache_read, cache_write, reasoning;
  double cost;
  bool cost_known; /* any call with a known cost: the sum of known costs, else no attribute */
  int64_t llm_calls, tool_calls, tool_errors;
} rollup;

static void rollup_add(rollup *r, const session_view *sv, const long *owner, long user) {
  for (size_t i = 0; i < sv->n_messages; i++) {
    const message_view *m = &sv->messages[i];
    if (!payload_is_assistant(m) || (owner && owner[i] != user)) continue;
    json_t *tokens = json_object_get(m->info, "tokens");
    int64_t cr = payload_count(payload_path(tokens, "cache", "read")),
            cw = payload_count(payload_path(tokens, "cache", "write"));
    int64_t reasoning = payload_count(json_object_get(tokens, "reasoning"));
    r->prompt += payload_count(json_object_get(tokens, "input")) + cr + cw;
    r->completion += payload_count(json_object_get(tokens, "output")) + reasoning;
    r->cache_read += cr, r->cache_write += cw, r->reasoning += reasoning;
    double cost;
    if (payload_cost(json_object_get(m->info, "cost"), &cost) > 0)
      r->cost += cost, r->cost_known = true;
    r->llm_calls++;
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
 * NULL) that has any: the answer the user saw. */
static void final_text(const session_view *sv, const long *owner, long user, text *out) {
  for (size_t i = sv->n_messages; i-- > 0;) {
    const message_view *m = &sv->messages[i];
    if (!payload_is_assistant(m) || (owner && owner[i] != user)) continue;
    payload_parts_text(m, "text", out);
    if (out->len) return;
  }
}

static void emit_turn(walk *w, const session_view *root, const long *owner, long u,
                      session_view *children, size_t n_children, const char *key) {
  const message_view *user = &root->messages[u];
  uint8_t trace_id[16], span_id[8];
  turn_ids(root->id, user, trace_id, span_id);
  span *s = new_span(w, "Turn", "CHAIN", trace_id, span_id, NULL, root->id);
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

  rollup r = {0};
  rollup_add(&r, root, owner, u);
  for (size_t c = 0; c < n_children; c++)
    if (children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0)
      rollup_add(&r, &children[c], NULL, 0);
  attrs_int(&w->at, s, "opencode.turn.llm_calls", r.llm_calls);
  attrs_int(&w->at, s, "opencode.turn.tool_calls", r.tool_calls);
  attrs_int(&w->at, s, "opencode.turn.tool_errors", r.tool_errors);
  attrs_int(&w->at, s, "opencode.turn.token_count.prompt", r.prompt);
  attrs_int(&w->at, s, "opencode.turn.token_count.completion", r.completion);
  attrs_int(&w->at, s, "opencode.turn.token_count.total", r.prompt + r.completion);
  attrs_int(&w->at, s, "opencode.turn.token_count.cache_read", r.cache_read);
  attrs_int(&w->at, s, "opencode.turn.token_count.cache_write", r.cache_write);
  attrs_int(&w->at, s, "opencode.turn.token_count.reasoning", r.reasoning);
  /* the sum of the costs that are known (a cost is unknown when OpenCode wrote none); none
   * known: no attribute, since unknown is not free */
  if (r.cost_known && span_set_double(s, "opencode.turn.cost.total", r.cost) != 0)
    w->at.out_of_memory = true;

  json_t *meta = json_pack("{s:s, s:s?, s:s?}", "user_message_id", user->id, "agent",
                           payload_str(user->info, "agent"), "model",
                           payload_str(json_object_get(user->info, "model"), "modelID"));
  set_metadata(w, s, meta);

  json_t *error = last ? json_object_get(last->info, "error") : NULL;
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
  if (w->result->spans > before) live_turn_done(w, root, u, children, n_children, trace_id, end);
}

/* Every model and tool call of the session, in one pass, then each Turn that is over: a newer
 * user message exists, or the session went idle with every model call of the turn finished,
 * or no OpenCode works on the session any more ("abandoned").
 * A call of a turn that is over but never finished (OpenCode was killed) is emitted as
 * interrupted, so the trace shows where it stopped. */
static int walk_turns(walk *w, const session_view *root, const long *owner, session_view *children,
                      size_t n_children) {
  size_t n = root->n_messages ? root->n_messages : 1;
  long *previous = malloc(n * sizeof *previous); /* per user message: its latest assistant */
  size_t *n_assistant = calloc(n, sizeof *n_assistant), *n_finished = calloc(n, sizeof *n_finished);
  if (!previous || !n_assistant || !n_finished) {
    free(previous), free(n_assistant), free(n_finished);
    return -1;
  }
  long last_user = -1;
  for (size_t i = 0; i < root->n_messages; i++) {
    previous[i] = -1;
    if (payload_is_user(&root->messages[i])) last_user = (long)i;
  }
  for (size_t i = 0; i < root->n_messages; i++) {
    const message_view *m = &root->messages[i];
    long u = owner[i];
    if (!payload_is_assistant(m) || u < 0) continue;
    uint8_t trace_id[16], span_id[8];
    turn_ids(root->id, &root->messages[u], trace_id, span_id);
    bool superseded = u != last_user || w->abandoned; /* over: its unfinished calls stopped */
    n_assistant[u]++;
    n_finished[u] += payload_finished(m);
    emit_llm(w, root, m, &root->messages[u], previous[u] >= 0 ? &root->messages[previous[u]] : NULL,
             trace_id, span_id, superseded);
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (payload_str(p, "type") && strcmp(payload_str(p, "type"), "tool") == 0)
        emit_tool(w, root, m, p, trace_id, superseded);
    }
    previous[u] = (long)i;
  }
  for (size_t u = 0; u < root->n_messages; u++) {
    if (!payload_is_user(&root->messages[u])) continue;
    bool over = (long)u != last_user || w->abandoned ||
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
  free(previous), free(n_assistant), free(n_finished);
  return 0;
}

/* Whether the turn of user message u is over: a newer user message exists, or the session
 * went idle ("close") with every model call of the turn finished. What has not finished by
 * then never will: it is sent as interrupted. */
static bool turn_over(const session_view *root, const long *owner, long u, bool closing) {
  size_t assistants = 0, finished = 0;
  for (size_t i = (size_t)u + 1; i < root->n_messages; i++) {
    const message_view *m = &root->messages[i];
    if (payload_is_user(m)) return true;
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
                                   child->agent_span_id, parent_id, child->id);
  free(name.data);
  if (!s) {
    free(key.data);
    return;
  }
  int64_t start = payload_ms(payload_path(st, "time", "start")),
          end = payload_ms(payload_path(st, "time", "end"));
  if (start < 0) start = payload_ms(payload_path(child->info, "time", "created"));
  if (end < 0) end = payload_session_last_ms(child); /* never ended: where the subagent stopped */
  set_times(w, s, start, end);
  attrs_str(&w->at, s, "agent.name", agent);
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
  const message_view *user = NULL, *previous = NULL;
  long last_user = -1, current_user = -1;
  for (size_t i = 0; i < child->n_messages; i++)
    if (payload_is_user(&child->messages[i])) last_user = (long)i;
  for (size_t i = 0; i < child->n_messages; i++) {
    const message_view *m = &child->messages[i];
    if (payload_is_user(m)) {
      user = m;
      current_user = (long)i;
      previous = NULL;
      continue;
    }
    if (!payload_is_assistant(m)) continue;
    bool interrupted = child->turn_over || current_user != last_user || w->abandoned;
    emit_llm(w, child, m, user, previous, child->trace_id, child->agent_span_id, interrupted);
    for (size_t j = 0; j < json_array_size(m->parts); j++) {
      json_t *p = json_array_get(m->parts, j);
      if (payload_str(p, "type") && strcmp(payload_str(p, "type"), "tool") == 0)
        emit_tool(w, child, m, p, child->trace_id, interrupted);
    }
    previous = m;
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
 * user message. Else the first user message whose Turn span is unsent. */
static void find_watermark(walk *w, const session_view *root, const long *owner) {
  const char *oldest = NULL;
  for (size_t i = 0; i < root->n_messages; i++) {
    const char *p = root->messages[i].parent_id;
    if (owner[i] < 0 && !payload_is_user(&root->messages[i]) && reconcile_id_ok(p) &&
        !seen_id(w, "turn:", p) && (!oldest || strcmp(p, oldest) < 0))
      oldest = p;
  }
  for (size_t i = 0; !oldest && i < root->n_messages; i++)
    if (payload_is_user(&root->messages[i]) && !seen_id(w, "turn:", root->messages[i].id))
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

int reconcile_json(state *st, const reconcile_options *opt, const char *json, size_t len,
                   reconcile_emit_fn emit, void *ctx, reconcile_result *result) {
  return reconcile_json_live(st, opt, NULL, json, len, emit, ctx, result);
}

int reconcile_json_live(state *st, const reconcile_options *opt, live_store *live, const char *json,
                        size_t len, reconcile_emit_fn emit, void *ctx, reconcile_result *result) {
  memset(result, 0, sizeof *result);
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
    payload_reject(result, "payload is not an object");
  } else if (!type || (strcmp(type, "reconcile") != 0 && strcmp(type, "close") != 0)) {
    payload_reject(result, "type must be \"reconcile\" or \"close\"");
  } else if (!reconcile_id_ok(root.id)) {
    payload_reject(result, "sessionID is missing or invalid");
  } else if (payload_load_messages(&root, json_object_get(payload, "messages"), result) == 0 &&
             payload_load_children(json_object_get(payload, "childSessions"), root.id, &children,
                                   &n_children, result) == 0) {
    owner = turn_owners(&root);
    /* the live signals first: the spans of this payload may be theirs */
    long unread = live ? live_ingest(live, json_object_get(payload, "live")) : 0;
    if (unread > 0)
      payload_skip(result, "session %s: %ld live signals could not be read", root.id, unread);
    else if (unread < 0)
      payload_skip(result, "session %s: out of memory keeping live signals", root.id);
    if (!owner) {
      payload_reject(result, "out of memory");
    } else {
      walk w = {.st = st,
                .emit = emit,
                .emit_ctx = ctx,
                .result = result,
                .closing = strcmp(type, "close") == 0,
                .root_id = root.id,
                .abandoned = strcmp(type, "close") == 0 &&
                             json_is_true(json_object_get(payload, "abandoned")),
                .live = live};
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
