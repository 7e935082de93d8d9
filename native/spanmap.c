/* spanmap — what each span holds (spanmap.h). */
#include "spanmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "platform.h"
#include "text.h"

/* ------------------------------------------------------------------------------------------ */
/* Ids, and what every span holds                                                              */

static uint64_t ms_to_ns(int64_t ms) { return ms < 0 ? 0 : (uint64_t)ms * 1000000ULL; }

/* attrs' measure (attrs.h): the true size of values holding strings cut at parse time. */
static void measure_cut(const char *value, size_t len, bool json, size_t *bytes, size_t *chars) {
  payload_measure(value, len, json ? PAYLOAD_AS_JSON_TEXT : PAYLOAD_AS_TEXT, bytes, chars);
}

void spanmap_init(spanmap *sm, const attrs_options *opt) {
  attrs_init(&sm->at, opt);
  sm->at.measure = measure_cut;
}

/* Serialises v compactly; NULL when it cannot (caller treats as absent). Caller frees. */
static char *dump(const json_t *v) {
  return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* The span's `metadata` attribute: meta as compact JSON. Takes meta (which may be NULL). */
static void set_metadata(spanmap *sm, span *s, json_t *meta) {
  char *text = dump(meta);
  if (text) attrs_str(&sm->at, s, "metadata", text);
  free(text);
  json_decref(meta);
}

/* A bad clock gives a span at a bad (clamped) time, marked, never a missing span:
 * opencode.time.clamped is true when a time was outside [2000, 2286] (payload_ms clamped it)
 * or the span would have ended before it started. */
static bool clock_clamped(int64_t ms) { return ms == PAYLOAD_MIN_MS || ms == PAYLOAD_MAX_MS; }

static void set_times(spanmap *sm, span *s, int64_t start_ms, int64_t end_ms) {
  bool clamped = clock_clamped(start_ms) || clock_clamped(end_ms) ||
                 (start_ms >= 0 && end_ms >= 0 && end_ms < start_ms);
  if (start_ms < 0) start_ms = end_ms >= 0 ? end_ms : 0;
  if (end_ms < start_ms) end_ms = start_ms;
  s->start_ns = ms_to_ns(start_ms);
  s->end_ns = ms_to_ns(end_ms);
  if (clamped && span_set_bool(s, "opencode.time.clamped", true) != 0) sm->at.out_of_memory = true;
}

/* Where a span of something that never finished ends: the last time OpenCode recorded in it,
 * or, for a turn no OpenCode works on any more, when its OpenCode was last seen alive
 * ("stoppedAt", from the plugin's liveness marker) when that is later. */
static int64_t interrupted_end(const spanmap *sm, int64_t last) {
  return sm->abandoned && sm->stopped_at > last ? sm->stopped_at : last;
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

void spanmap_turn_ids(const char *session_id, const message_view *user, uint8_t trace_id[16],
                      uint8_t span_id[8]) {
  const char *t[] = {"turn", session_id, user->id}, *s[] = {"turn-span", session_id, user->id};
  hash_id(trace_id, 16, t, 3);
  hash_id(span_id, 8, s, 3);
}

/* A span of the session sv (the payload's own, or a subagent's) done by agent (NULL: unknown).
 * Every span of a turn carries the root session's session.id, so a session's view holds its
 * subagents' work; a subagent's own session in opencode.session.id (or, with the
 * subagent_session_id setting at "child", in session.id as before). tag.tags: the harness and
 * the agent that did the work, on every span of that agent. */
static span *new_span(spanmap *sm, const char *name, const char *kind, const uint8_t trace_id[16],
                      const uint8_t *span_id, const uint8_t *parent_id, const char *session_id,
                      const char *agent) {
  span *s = span_new(name);
  if (!s) {
    sm->at.out_of_memory = true;
    return NULL;
  }
  memcpy(s->trace_id, trace_id, 16);
  memcpy(s->span_id, span_id, 8);
  if (parent_id) {
    memcpy(s->parent_span_id, parent_id, 8);
    s->has_parent = true;
  }
  attrs_str(&sm->at, s, "openinference.span.kind", kind);
  bool child = strcmp(session_id, sm->root_id) != 0;
  attrs_str(&sm->at, s, "session.id", sm->at.opt->child_session_ids ? session_id : sm->root_id);
  if (child && !sm->at.opt->child_session_ids)
    attrs_str(&sm->at, s, "opencode.session.id", session_id);
  attrs_user(&sm->at, s);
  const char *tags[] = {"opencode", agent && *agent ? agent : NULL};
  if (span_set_string_list(s, "tag.tags", tags, tags[1] ? 2 : 1) != 0) sm->at.out_of_memory = true;
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

void spanmap_agent_id(const char *child_id, uint8_t out[8]) {
  const char *parts[] = {"agent", child_id};
  hash_id(out, 8, parts, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* Live signals (live.h): what OpenCode's hooks and events said of a span that its stored      */
/* messages do not. Present only for what this process saw live; backfill and the start-up    */
/* sweep reconcile stored messages alone, and these attributes are then absent.               */

#define LIVE_LIST_MAX 64 /* retries, permissions, errors read per span */

/* The model call's generation settings, the tools it was offered and its retries. Returns
 * whether the call was seen live (and fills *call). */
static bool live_llm(spanmap *sm, span *s, const session_view *sv, size_t i, live_call *call) {
  if (!sm->live || !live_call_of(sm->live, sv, i, call)) return false;
  if (call->params)
    attrs_set(&sm->at, s, ATTR_LLM_INVOCATION_PARAMETERS, call->params, strlen(call->params));
  size_t k = 0;
  for (size_t t = 0; t < call->n_tools; t++) {
    const char *schema = live_tool_schema(sm->live, call->tools[t]);
    if (schema) attrs_set_nth(&sm->at, s, ATTR_LLM_TOOL_SCHEMA, k++, schema, strlen(schema));
  }
  const live_retry *r[LIVE_LIST_MAX];
  size_t n = live_retries_of(sm->live, sv, i, r, LIVE_LIST_MAX);
  for (size_t j = 0; j < n && j < LIVE_LIST_MAX; j++) {
    span_event *e = span_add_event(s, "opencode.retry", ms_to_ns(r[j]->at));
    if (!e) {
      sm->at.out_of_memory = true;
      break;
    }
    if (r[j]->attempt >= 0) attrs_event_int(&sm->at, e, "opencode.retry.attempt", r[j]->attempt);
    attrs_event_str(&sm->at, e, ATTRS_PUBLIC, "opencode.retry.message", r[j]->message);
    if (r[j]->next >= r[j]->at)
      attrs_event_int(&sm->at, e, "opencode.retry.wait_ms", r[j]->next - r[j]->at);
  }
  attrs_int(&sm->at, s, "opencode.llm.retries", (int64_t)n);
  return true;
}

/* The tool's description from its definition, and the permissions asked for this call: one
 * event when asked, one when answered (with the wait). Returns the last answer, or NULL. */
static const char *live_tool(spanmap *sm, span *s, const session_view *sv, const message_view *m,
                             const char *call_id, const char *tool) {
  if (!sm->live) return NULL;
  const char *description = live_tool_description(sm->live, tool);
  if (description && *description)
    attrs_set(&sm->at, s, ATTR_TOOL_DESCRIPTION, description, strlen(description));
  const live_permission *p[LIVE_LIST_MAX];
  size_t n = live_permissions(sm->live, sv->id, m->id, call_id, p, LIVE_LIST_MAX);
  const char *reply = NULL;
  for (size_t j = 0; j < n && j < LIVE_LIST_MAX; j++) {
    if (p[j]->asked >= 0) {
      span_event *e = span_add_event(s, "opencode.permission.asked", ms_to_ns(p[j]->asked));
      if (!e) {
        sm->at.out_of_memory = true;
        break;
      }
      attrs_event_str(&sm->at, e, ATTRS_PUBLIC, "opencode.permission.type", p[j]->type);
      json_t *patterns = json_array();
      for (size_t k = 0; patterns && k < p[j]->n_patterns; k++)
        json_array_append_new(patterns, json_string(p[j]->patterns[k]));
      char *text = dump(patterns);
      json_decref(patterns);
      attrs_event_str(&sm->at, e, ATTRS_TOOL_DETAILS, "opencode.permission.patterns", text);
      free(text);
    }
    if (p[j]->reply && p[j]->replied >= 0) {
      span_event *e = span_add_event(s, "opencode.permission.replied", ms_to_ns(p[j]->replied));
      if (!e) {
        sm->at.out_of_memory = true;
        break;
      }
      attrs_event_str(&sm->at, e, ATTRS_PUBLIC, "opencode.permission.reply", p[j]->reply);
      if (p[j]->asked >= 0 && p[j]->replied >= p[j]->asked)
        attrs_event_int(&sm->at, e, "opencode.permission.wait_ms", p[j]->replied - p[j]->asked);
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
static void turn_files(spanmap *sm, span *s, const message_view *user) {
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
  attrs_int(&sm->at, s, "opencode.turn.files_changed", files);
  attrs_int(&sm->at, s, "opencode.turn.lines_added", added);
  attrs_int(&sm->at, s, "opencode.turn.lines_removed", removed);
  char *text = dump(list);
  if (text) attrs_set(&sm->at, s, ATTR_TURN_FILES, text, strlen(text));
  free(text);
  json_decref(list);
}

/* The turn's last todo list: the input of its last todowrite call that completed. Stored. */
static void turn_todos(spanmap *sm, span *s, const session_view *sv, const long *owner, long u) {
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
  if (text) attrs_set(&sm->at, s, ATTR_TURN_TODOS, text, strlen(text));
  free(text);
}

/* The Turn's live signals: the slash command that started it, the retries and permission waits
 * of its calls (its subagents' included), and a session error stored on no message (the
 * turn's exception; the turn's status when nothing finished after it). Then everything the
 * turn held in the live store goes: its Turn span is the last that needs it. */
static void live_turn(spanmap *sm, span *s, const session_view *root, const long *owner, long u,
                      const session_view *children, size_t n_children, const uint8_t trace_id[16],
                      bool *failed) {
  turn_files(sm, s, &root->messages[u]);
  turn_todos(sm, s, root, owner, u);
  int64_t from, to;
  if (!sm->live || !live_turn_window(root, (size_t)u, &from, &to)) return;
  const live_command *k = live_command_of(sm->live, root, (size_t)u);
  if (k) {
    attrs_str(&sm->at, s, "opencode.turn.command", k->name);
    if (k->arguments)
      attrs_set(&sm->at, s, ATTR_TURN_COMMAND_ARGUMENTS, k->arguments, strlen(k->arguments));
  }
  bool seen = false;
  for (size_t i = (size_t)u + 1; i < root->n_messages && !seen; i++) {
    live_call c;
    seen = owner[i] == u && payload_is_assistant(&root->messages[i]) &&
           live_call_of(sm->live, root, i, &c);
  }
  int64_t retries = 0, wait = 0;
  live_turn_totals(sm->live, root->id, from, to, &retries, &wait);
  for (size_t c = 0; c < n_children; c++)
    if (children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0)
      live_turn_totals(sm->live, children[c].id, INT64_MIN, INT64_MAX, &retries, &wait);
  /* present when the turn was watched live (else unknown, which is not 0) */
  if (seen || retries || wait) {
    attrs_int(&sm->at, s, "opencode.turn.retries", retries);
    attrs_int(&sm->at, s, "opencode.turn.permission_wait_ms", wait);
  }
  const live_error *e[LIVE_LIST_MAX];
  size_t n = live_errors(sm->live, root->id, from, to, e, LIVE_LIST_MAX);
  for (size_t j = 0; j < n && j < LIVE_LIST_MAX; j++) {
    if (error_stored(root, owner, u, e[j])) continue;
    const char *message = e[j]->message ? e[j]->message : e[j]->name;
    span_event *ev = span_add_event(s, "exception", ms_to_ns(e[j]->at));
    if (!ev) {
      sm->at.out_of_memory = true;
      break;
    }
    attrs_event_str(&sm->at, ev, ATTRS_PUBLIC, "exception.type", e[j]->name);
    attrs_event_str(&sm->at, ev, ATTRS_PUBLIC, "exception.message", message);
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
        sm->at.out_of_memory = true;
      free(t.data);
      *failed = true;
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* TOOL spans                                                                                  */

/* The attributes a tool's main arguments go to, by OpenCode tool name: the field of the call's
 * input, and the attribute that carries it (what a tool was asked: the attribute policy gives
 * every one of them the class of tool details, attrs_set_tool_argument). A new tool, a new
 * argument of one, or a new attribute name for one, is a row here. */
static const struct {
  const char *tool, *field, *attr;
} tool_fields[] = {
    {"bash", "command", "tool.command"},    {"read", "filePath", "tool.file_path"},
    {"edit", "filePath", "tool.file_path"}, {"write", "filePath", "tool.file_path"},
    {"grep", "pattern", "tool.query"},      {"glob", "pattern", "tool.query"},
    {"webfetch", "url", "tool.url"},        {"websearch", "query", "tool.query"},
    {"codesearch", "query", "tool.query"},  {"list", "path", "tool.file_path"},
};

static void tool_arguments(spanmap *sm, span *s, const char *tool, json_t *input) {
  for (size_t i = 0; i < sizeof tool_fields / sizeof tool_fields[0]; i++) {
    if (strcmp(tool_fields[i].tool, tool) != 0) continue;
    const char *v = payload_str(input, tool_fields[i].field);
    if (v) attrs_set_tool_argument(&sm->at, s, tool_fields[i].attr, v, strlen(v));
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

span *spanmap_tool(spanmap *sm, const session_view *sv, const message_view *m, json_t *part,
                   const uint8_t trace_id[16]) {
  const char *call_id = payload_str(part, "callID"), *tool = payload_str(part, "tool");
  json_t *st = json_object_get(part, "state");
  const char *status = payload_str(st, "status");
  if (!payload_id_ok(call_id) || !tool || !status) return NULL;
  uint8_t id[8], parent[8];
  tool_span_id(sv->id, m, call_id, id);
  llm_span_id(m, parent);
  /* A call to a tool that does not exist: OpenCode runs its `invalid` tool instead, with the
   * name the model asked for and why in the input; the span is named for what was asked. */
  json_t *input = json_object_get(st, "input");
  const char *asked = invalid_tool_asked(tool, input);
  span *s = new_span(sm, asked ? asked : tool, "TOOL", trace_id, id, parent, sv->id,
                     payload_str(m->info, "agent"));
  if (!s) return NULL;
  int64_t start = payload_ms(payload_path(st, "time", "start")),
          end = payload_ms(payload_path(st, "time", "end"));
  if (start < 0) start = payload_ms(payload_path(m->info, "time", "created"));
  if (end < 0) end = interrupted_end(sm, payload_message_last_ms(m)); /* never finished */
  set_times(sm, s, start, end);

  attrs_str(&sm->at, s, "tool.name", asked ? asked : tool);
  attrs_str(&sm->at, s, "tool.id", call_id);
  attrs_str(&sm->at, s, "tool_call.id", call_id);
  char *args = dump(input);
  if (args) {
    attrs_set(&sm->at, s, ATTR_TOOL_INPUT, args, strlen(args));
    attrs_set(&sm->at, s, ATTR_TOOL_PARAMETERS, args, strlen(args));
    free(args);
  }
  tool_arguments(sm, s, tool, input);
  /* OpenCode's title of this call (its command, a file name...): not the tool's description,
   * which comes from the tool's definition (tool.description, set from the live signals) */
  const char *title = payload_str(st, "title");
  if (title && *title) attrs_set(&sm->at, s, ATTR_TOOL_TITLE, title, strlen(title));
  const char *reply = live_tool(sm, s, sv, m, call_id, tool);

  json_t *meta = json_pack("{s:s, s:s, s:s?}", "message_id", m->id, "session_id", sv->id, "agent",
                           payload_str(m->info, "agent"));
  set_metadata(sm, s, meta);

  size_t n = 0;
  const char *output = strcmp(status, "completed") == 0 ? payload_text(st, "output", &n) : NULL;
  if (output) {
    attrs_set(&sm->at, s, ATTR_TOOL_OUTPUT, output, n);
    attrs_str(&sm->at, s, "output.mime_type", "text/plain");
    json_t *exit_code = payload_path(st, "metadata", "exit");
    double code = json_number_value(exit_code); /* 0 when absent */
    if (json_is_number(exit_code) && code >= -1e6 && code <= 1e6)
      attrs_int(&sm->at, s, "tool.exit_code", (int64_t)code);
  }
  if (asked) {
    /* OpenCode's message is what the model was told: the call failed */
    if (span_set_bool(s, "opencode.tool.invalid", true) != 0) sm->at.out_of_memory = true;
    size_t why_len = 0;
    const char *why = output ? output : payload_text(input, "error", &why_len);
    if (output) why_len = n;
    if (!why) why = "the model called a tool that does not exist", why_len = strlen(why);
    attrs_set_error(&sm->at, s, ATTRS_TOOL_CONTENT, why, why_len);
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", "InvalidToolCall") ||
        span_event_set_string(e, "exception.message", s->status_message ? s->status_message : ""))
      sm->at.out_of_memory = true;
  } else if (output && tool_aborted(output, n)) {
    /* the user stopped it: OpenCode completes the call with what it printed so far */
    const char *why = "aborted: the user stopped the tool";
    if (span_set_status(s, SPAN_STATUS_ERROR, why) != 0) sm->at.out_of_memory = true;
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", "Aborted") ||
        span_event_set_string(e, "exception.message", why))
      sm->at.out_of_memory = true;
  } else if (strcmp(status, "completed") != 0) {
    const char *error = strcmp(status, "error") == 0 ? payload_text(st, "error", &n) : NULL;
    const char *message = error ? error : "interrupted: OpenCode stopped before the tool finished";
    attrs_set(&sm->at, s, ATTR_TOOL_OUTPUT, message, error ? n : strlen(message));
    attrs_str(&sm->at, s, "output.mime_type", "text/plain");
    /* the error text is tool output: status and event carry what output.value carries */
    const span_attr *out = span_get(s, "output.value");
    const char *shown = out && out->type == SPAN_ATTR_STRING ? out->value.s : "";
    const char *type = !error                                  ? "Interrupted"
                       : tool_aborted(error, n)                ? "Aborted"
                       : reply && strcmp(reply, "reject") == 0 ? "PermissionRejected"
                                                               : "ToolError";
    if (span_set_status(s, SPAN_STATUS_ERROR, shown) != 0) sm->at.out_of_memory = true;
    span_event *e = span_add_event(s, "exception", s->end_ns);
    if (!e || span_event_set_string(e, "exception.type", type) ||
        span_event_set_string(e, "exception.message", shown))
      sm->at.out_of_memory = true;
  }
  return s;
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

static size_t user_cost(const spanmap *sm, const message_view *m) {
  size_t n = INPUT_MESSAGE_OVERHEAD, len;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    if (sent_text(p, &len)) n += attrs_cost(&sm->at, ATTR_LLM_INPUT_PART, len);
    else if (attachment(p) != FILE_NONE) n += 64;
  }
  return n;
}

static size_t assistant_cost(const spanmap *sm, const message_view *m) {
  size_t n = INPUT_MESSAGE_OVERHEAD, len;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *type = payload_str(p, "type");
    if (type && strcmp(type, "text") == 0 && payload_text(p, "text", &len))
      n += attrs_cost(&sm->at, ATTR_LLM_INPUT_CONTENT, len);
    else if (is_tool_part(p))
      n += INPUT_MESSAGE_OVERHEAD +
           attrs_cost(&sm->at, ATTR_LLM_INPUT_TOOL_CALL,
                      json_size_at_most(payload_path(p, "state", "input"), sm->at.max_bytes));
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
static void input_history(const spanmap *sm, const session_view *sv, size_t i, long u,
                          const long *owner, size_t budget, input_list *l) {
  for (long j = (long)i - 1; j >= 0 && j >= u; j--) {
    const message_view *m = &sv->messages[j];
    if (owner && owner[j] != u) continue;
    if (payload_is_user(m)) {
      if (!payload_compaction(m)) /* a compaction's request has no text of the user's */
        input_add(l, budget, INPUT_USER, m, NULL, user_cost(sm, m));
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
                INPUT_MESSAGE_OVERHEAD + attrs_cost(&sm->at, ATTR_LLM_INPUT_TOOL_RESULT, len));
    }
    if (calls || has_text(m)) input_add(l, budget, INPUT_ASSISTANT, m, NULL, assistant_cost(sm, m));
    if (payload_is_summary(m)) break;
  }
}

static void input_role(spanmap *sm, span *s, size_t n, const char *role) {
  char key[96];
  snprintf(key, sizeof key, "llm.input_messages.%zu.message.role", n);
  attrs_str(&sm->at, s, key, role);
}

/* A user message: message.content when it is one text, else message.contents.K (its text
 * parts, attached images, other attachments named). An image's data: URL is never inlined. */
static void input_user(spanmap *sm, span *s, size_t n, const message_view *m) {
  input_role(sm, s, n, "user");
  size_t items = 0, len, only_len = 0;
  const char *only = NULL;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    const char *t = sent_text(p, &len);
    if (t || attachment(p) != FILE_NONE) items++;
    if (t && items == 1) only = t, only_len = len;
  }
  if (items == 1 && only) {
    attrs_set_nth(&sm->at, s, ATTR_LLM_INPUT_CONTENT, n, only, only_len);
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
    attrs_str(&sm->at, s, key, kind == FILE_IMAGE ? "image" : "text");
    if (t) {
      attrs_set_nth2(&sm->at, s, ATTR_LLM_INPUT_PART, n, c, t, len);
    } else if (kind == FILE_IMAGE) {
      size_t url_len;
      const char *url = payload_text(p, "url", &url_len);
      const char *shown = attrs_data_url(url, url_len, marker, sizeof marker);
      attrs_set_nth2(&sm->at, s, ATTR_LLM_INPUT_IMAGE, n, c, shown ? shown : url,
                     shown ? strlen(shown) : url_len);
    } else {
      const char *name = payload_str(p, "filename");
      snprintf(marker, sizeof marker, "<attachment %.60s (%.60s)>", name ? name : "",
               payload_str(p, "mime"));
      attrs_set_nth2(&sm->at, s, ATTR_LLM_INPUT_PART, n, c, marker, strlen(marker));
    }
    c++;
  }
}

/* An earlier answer of the model: its text and the tool calls it made. */
static void input_assistant(spanmap *sm, span *s, size_t n, const message_view *m) {
  input_role(sm, s, n, "assistant");
  text answer = {0};
  payload_parts_text(m, "text", &answer);
  if (answer.len)
    attrs_set_nth(&sm->at, s, ATTR_LLM_INPUT_CONTENT, n, text_str(&answer), answer.len);
  sm->at.out_of_memory |= answer.failed;
  free(answer.data);
  char key[160];
  size_t k = 0;
  for (size_t i = 0; i < json_array_size(m->parts); i++) {
    json_t *p = json_array_get(m->parts, i);
    if (!is_tool_part(p)) continue;
    snprintf(key, sizeof key, "llm.input_messages.%zu.message.tool_calls.%zu.tool_call.id", n, k);
    attrs_str(&sm->at, s, key, payload_str(p, "callID"));
    snprintf(key, sizeof key,
             "llm.input_messages.%zu.message.tool_calls.%zu.tool_call.function.name", n, k);
    attrs_str(&sm->at, s, key, payload_str(p, "tool"));
    char *args = dump(payload_path(p, "state", "input"));
    if (args) attrs_set_nth2(&sm->at, s, ATTR_LLM_INPUT_TOOL_CALL, n, k, args, strlen(args));
    free(args);
    k++;
  }
}

static void input_tool(spanmap *sm, span *s, size_t n, json_t *part) {
  char key[96];
  input_role(sm, s, n, "tool");
  snprintf(key, sizeof key, "llm.input_messages.%zu.message.tool_call_id", n);
  attrs_str(&sm->at, s, key, payload_str(part, "callID"));
  snprintf(key, sizeof key, "llm.input_messages.%zu.message.name", n);
  attrs_str(&sm->at, s, key, payload_str(part, "tool"));
  size_t len;
  const char *out = tool_result(part, &len);
  attrs_set_nth(&sm->at, s, ATTR_LLM_INPUT_TOOL_RESULT, n, out, len);
}

/* input.value as the tool results of answer m (JSON: [{tool_call_id, tool, output}]), when it
 * made tool calls; false when it made none. An output longer than the limit goes into the JSON
 * cut (the attribute is then over the limit anyway, and only its size is said): a 50 MB output
 * is neither copied nor escaped whole. */
static bool tool_results_value(spanmap *sm, span *s, const message_view *m) {
  json_t *results = json_array();
  size_t extra_bytes = 0, extra_chars = 0, cut_at = sm->at.max_bytes + 1;
  for (size_t k = 0; k < json_array_size(m->parts); k++) {
    json_t *p = json_array_get(m->parts, k);
    if (!is_tool_part(p)) continue;
    size_t out_len;
    const char *out = tool_result(p, &out_len);
    const char *embedded = attrs_embedded(&sm->at, ATTRS_TOOL_CONTENT, out);
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
    attrs_set_sized(&sm->at, s, ATTR_LLM_INPUT_TOOL_RESULTS, json, len, len + extra_bytes,
                    chars + extra_chars);
  } else if (json) {
    attrs_set(&sm->at, s, ATTR_LLM_INPUT_TOOL_RESULTS, json, strlen(json));
  }
  sm->at.out_of_memory |= any && !json;
  free(json);
  json_decref(results);
  return any;
}

/* input.value: what is new to this call. After an answer with tool calls, their results (JSON);
 * else the prompt of the nearest user message (its own text; OpenCode's synthetic text when it
 * has none, as after a compaction). */
static void llm_input_value(spanmap *sm, span *s, const session_view *sv, size_t i, long u,
                            const long *owner) {
  for (long j = (long)i - 1; j >= 0 && j >= u; j--) {
    const message_view *m = &sv->messages[j];
    if (owner && owner[j] != u) continue;
    if (payload_is_assistant(m)) {
      if (tool_results_value(sm, s, m)) return;
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
    attrs_set(&sm->at, s, ATTR_INPUT_TEXT, text_str(&prompt), prompt.len);
    attrs_str(&sm->at, s, "input.mime_type", "text/plain");
    sm->at.out_of_memory |= prompt.failed;
    free(prompt.data);
    return;
  }
  attrs_set(&sm->at, s, ATTR_INPUT_TEXT, "", 0);
  attrs_str(&sm->at, s, "input.mime_type", "text/plain");
}

/* llm.input_messages and input.value for model call i of turn u (see input_history). system:
 * the system prompt, when known (the live signals' hook): message 0, counted in the budget
 * first; NULL when unknown, and the history starts at 0. The most recent messages that fit in
 * the budget (limits.max_input_messages_bytes) are kept; opencode.llm.input_messages.omitted
 * says how many older ones were left out. */
static void llm_inputs(spanmap *sm, span *s, const session_view *sv, size_t i, long u,
                       const long *owner, const char *system, size_t system_len) {
  size_t budget = sm->at.opt->max_input_bytes ? sm->at.opt->max_input_bytes : 64 * 1024, n = 0;
  input_list l = {0};
  if (system) {
    input_role(sm, s, 0, "system");
    attrs_set_nth(&sm->at, s, ATTR_LLM_INPUT_CONTENT, 0, system, system_len);
    size_t cost = attrs_cost(&sm->at, ATTR_LLM_INPUT_CONTENT, system_len);
    budget = cost < budget ? budget - cost : 0;
    n = 1;
  }
  input_history(sm, sv, i, u, owner, budget, &l);
  for (size_t k = l.len; k-- > 0; n++) {
    const input_message *e = &l.items[k];
    if (e->kind == INPUT_USER) input_user(sm, s, n, e->m);
    else if (e->kind == INPUT_ASSISTANT) input_assistant(sm, s, n, e->m);
    else input_tool(sm, s, n, e->part);
  }
  if (l.omitted) attrs_int(&sm->at, s, "opencode.llm.input_messages.omitted", (int64_t)l.omitted);
  sm->at.out_of_memory |= l.failed;
  free(l.items);
  llm_input_value(sm, s, sv, i, u, owner);
}

/* ------------------------------------------------------------------------------------------ */
/* LLM spans: the output, the error, the tokens                                                */

/* llm.output_messages.0: the reasoning and text of the call as content parts, the text as
 * content, and the tool calls it made. */
static void llm_outputs(spanmap *sm, span *s, const message_view *m) {
  text reasoning = {0}, answer = {0};
  payload_parts_text(m, "reasoning", &reasoning);
  payload_parts_text(m, "text", &answer);
  attrs_str(&sm->at, s, "llm.output_messages.0.message.role", "assistant");
  size_t c = 0;
  char key[128];
  if (reasoning.len) {
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.type", c);
    attrs_str(&sm->at, s, key, "reasoning");
    attrs_set_nth(&sm->at, s, ATTR_LLM_OUTPUT_PART, c++, text_str(&reasoning), reasoning.len);
  }
  /* OpenInference: message.content for a text-only message, message.contents.N for a
   * multi-part one (reasoning and text), never both */
  if (answer.len && c > 0) {
    snprintf(key, sizeof key, "llm.output_messages.0.message.contents.%zu.message_content.type", c);
    attrs_str(&sm->at, s, key, "text");
    attrs_set_nth(&sm->at, s, ATTR_LLM_OUTPUT_PART, c++, text_str(&answer), answer.len);
  } else if (answer.len) {
    attrs_set(&sm->at, s, ATTR_LLM_OUTPUT_CONTENT, text_str(&answer), answer.len);
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
    attrs_str(&sm->at, s, key, call_id);
    snprintf(key, sizeof key,
             "llm.output_messages.0.message.tool_calls.%zu.tool_call.function.name", j);
    attrs_str(&sm->at, s, key, asked ? asked : tool);
    char *args = dump(input);
    if (args) {
      attrs_set_nth(&sm->at, s, ATTR_LLM_TOOL_CALL_ARGUMENTS, j, args, strlen(args));
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
    attrs_set(&sm->at, s, ATTR_LLM_OUTPUT_TOOL_CALLS, listed, strlen(listed));
  } else {
    attrs_set(&sm->at, s, ATTR_OUTPUT_TEXT, text_str(&answer), answer.len);
    attrs_str(&sm->at, s, "output.mime_type", "text/plain");
  }
  free(listed);
  json_decref(calls);
  sm->at.out_of_memory |= reasoning.failed || answer.failed;
  free(reasoning.data);
  free(answer.data);
}

/* Status ERROR and an exception event from an assistant message's `error`. */
static void llm_error(spanmap *sm, span *s, json_t *error) {
  const char *name = error ? payload_str(error, "name") : "Interrupted";
  const char *message = error ? payload_str(json_object_get(error, "data"), "message")
                              : "OpenCode stopped before this model call completed";
  if (!message && error) message = payload_str(error, "message");
  if (!name) name = "Error";
  if (!message) message = name;
  text t = {0};
  text_addf(&t, "%s: ", name);
  text_add(&t, message, strlen(message));
  if (span_set_status(s, SPAN_STATUS_ERROR, text_str(&t)) != 0) sm->at.out_of_memory = true;
  span_event *e = span_add_event(s, "exception", s->end_ns);
  if (!e || span_event_set_string(e, "exception.type", name) ||
      span_event_set_string(e, "exception.message", message))
    sm->at.out_of_memory = true;
  json_t *status_code = payload_path(error, "data", "statusCode");
  if (json_is_number(status_code) && json_number_value(status_code) >= 0 &&
      json_number_value(status_code) < 1000)
    attrs_int(&sm->at, s, "http.response.status_code", (int64_t)json_number_value(status_code));
  sm->at.out_of_memory |= t.failed;
  free(t.data);
}

/* OpenInference's token counts for one model call. A bucket that is not a count (an
 * overflowing or negative number, a string) is left out with one log line, and so is every
 * sum it is part of: an unknown count is never read as 0. */
static void llm_token_counts(spanmap *sm, span *s, const session_view *sv, const message_view *m,
                             json_t *tokens) {
  static const char *const names[] = {"input", "output", "reasoning", "cache.read", "cache.write"};
  json_t *cache = json_object_get(tokens, "cache");
  json_t *v[] = {json_object_get(tokens, "input"), json_object_get(tokens, "output"),
                 json_object_get(tokens, "reasoning"), json_object_get(cache, "read"),
                 json_object_get(cache, "write")};
  int64_t n[5];
  for (size_t i = 0; i < 5; i++)
    if ((n[i] = payload_count_known(v[i])) < 0)
      payload_skip(&sm->report, "session %s: message %s: tokens.%s is not a valid count", sv->id,
                   m->id, names[i]);
  enum { INPUT, OUTPUT, REASONING, CACHE_READ, CACHE_WRITE };
  /* OpenCode stores input without cache and output without reasoning; OpenInference's
   * prompt and completion include their detail buckets. */
  bool prompt_known = n[INPUT] >= 0 && n[CACHE_READ] >= 0 && n[CACHE_WRITE] >= 0;
  bool completion_known = n[OUTPUT] >= 0 && n[REASONING] >= 0;
  int64_t prompt = n[INPUT] + n[CACHE_READ] + n[CACHE_WRITE], completion = n[OUTPUT] + n[REASONING];
  if (prompt_known) attrs_int(&sm->at, s, "llm.token_count.prompt", prompt);
  if (completion_known) attrs_int(&sm->at, s, "llm.token_count.completion", completion);
  if (prompt_known && completion_known)
    attrs_int(&sm->at, s, "llm.token_count.total", prompt + completion);
  if (n[CACHE_READ] >= 0)
    attrs_int(&sm->at, s, "llm.token_count.prompt_details.cache_read", n[CACHE_READ]);
  if (n[CACHE_WRITE] >= 0)
    attrs_int(&sm->at, s, "llm.token_count.prompt_details.cache_write", n[CACHE_WRITE]);
  if (n[REASONING] >= 0)
    attrs_int(&sm->at, s, "llm.token_count.completion_details.reasoning", n[REASONING]);
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

span *spanmap_llm(spanmap *sm, const session_view *sv, size_t i, long u, const long *owner,
                  const uint8_t trace_id[16], const uint8_t parent_id[8]) {
  const message_view *m = &sv->messages[i];
  const char *model = payload_str(m->info, "modelID"),
             *provider = payload_str(m->info, "providerID");
  text name = {0};
  text_add(&name, "LLM: ", 5);
  text_add(&name, model ? model : "unknown", strlen(model ? model : "unknown"));
  uint8_t id[8];
  llm_span_id(m, id);
  span *s = name.failed ? NULL
                        : new_span(sm, text_str(&name), "LLM", trace_id, id, parent_id, sv->id,
                                   payload_str(m->info, "agent"));
  free(name.data);
  if (!s) return NULL;
  int64_t end = payload_message_last_ms(m);
  set_times(sm, s, payload_ms(payload_path(m->info, "time", "created")),
            payload_finished(m) ? end : interrupted_end(sm, end));
  if (model) attrs_str(&sm->at, s, "llm.model_name", model);
  if (provider) attrs_str(&sm->at, s, "llm.provider", provider);
  if (llm_system(provider)) attrs_str(&sm->at, s, "llm.system", llm_system(provider));
  const char *finish = payload_str(m->info, "finish");
  if (finish) attrs_str(&sm->at, s, "llm.finish_reason", finish);

  json_t *tokens = json_object_get(m->info, "tokens");
  if (tokens) llm_token_counts(sm, s, sv, m, tokens);
  double cost;
  int known = payload_cost(json_object_get(m->info, "cost"), &cost);
  if (known < 0)
    payload_skip(&sm->report, "session %s: message %s: its cost is not a valid amount", sv->id,
                 m->id);
  /* no cost field: unknown, which is not free */
  if (known > 0 && span_set_double(s, "llm.cost.total", cost) != 0) sm->at.out_of_memory = true;

  /* the system prompt is not in OpenCode's stored messages: the live signals pass it (the
   * first input message, role system), when this process heard the call */
  live_call call = {0};
  bool live = live_llm(sm, s, sv, (size_t)(m - sv->messages), &call);
  llm_inputs(sm, s, sv, i, u, owner, live ? call.system : NULL, live ? call.system_len : 0);
  llm_outputs(sm, s, m);

  const char *compaction = compaction_kind(sv, i);
  json_t *meta = json_pack(
      "{s:s?, s:s?, s:s?, s:s, s:s, s:s*, s:s*}", "agent", payload_str(m->info, "agent"), "mode",
      payload_str(m->info, "mode"), "cwd", json_string_value(payload_path(m->info, "path", "cwd")),
      "message_id", m->id, "session_id", sv->id, "kind", compaction ? "compaction" : NULL,
      "compaction", compaction && *compaction ? compaction : NULL);
  set_metadata(sm, s, meta);

  json_t *error = payload_error(m);
  /* a call cut short is an error; one whose answer was stored whole is not (OpenCode's
   * completion stamp missing, or an abort stamped on it: a quit the instant the answer
   * appeared) */
  if (error || (!payload_finished(m) && !payload_answered(m))) llm_error(sm, s, error);
  return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Turn spans                                                                                  */

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
static json_t *turn_metadata(spanmap *sm, const session_view *root, const long *owner, long u,
                             int64_t number) {
  const message_view *user = &root->messages[u];
  const char *cwd = NULL;
  for (size_t i = (size_t)u + 1; !cwd && i < root->n_messages; i++)
    if (owner[i] == u) cwd = context_str(json_object_get(root->messages[i].info, "path"), "cwd");
  if (!cwd) cwd = context_str(sm->session, "directory");
  if (!cwd) cwd = context_str(sm->context, "directory");
  const char *version = context_str(sm->context, "opencodeVersion");
  if (!version) version = context_str(sm->session, "version");
  json_t *meta =
      json_pack("{s:s, s:s?, s:s?, s:s*, s:s*, s:s*, s:s*, s:s*}", "user_message_id", user->id,
                "agent", payload_str(user->info, "agent"), "model",
                payload_str(json_object_get(user->info, "model"), "modelID"), "opencode_version",
                version, "session_title", context_str(sm->session, "title"), "cwd", cwd, "host",
                sm->at.opt->host, "compaction", payload_compaction(user));
  if (meta && number > 0) json_object_set_new(meta, "turn_number", json_integer(number));
  json_t *git = json_object_get(sm->context, "git");
  const char *remote = context_str(git, "remote"), *branch = context_str(git, "branch"),
             *commit = context_str(git, "commit");
  if (meta && (remote || branch || commit)) {
    text clean = {0};
    if (remote) remote_without_credentials(remote, &clean);
    json_t *g = json_pack("{s:s*, s:s*, s:s*}", "remote", remote ? text_str(&clean) : NULL,
                          "branch", branch, "commit", commit);
    if (g) json_object_set_new(meta, "git", g);
    sm->at.out_of_memory |= clean.failed;
    free(clean.data);
  }
  return meta;
}

static void set_usage(spanmap *sm, span *s, const char *prefix, const usage *u) {
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
    attrs_int(&sm->at, s, key, values[i]);
  }
  /* the sum of the costs that are known (a cost is unknown when OpenCode wrote none); none
   * known: no attribute, since unknown is not free */
  snprintf(key, sizeof key, "%scost.total", prefix);
  if (u->cost_known && span_set_double(s, key, u->cost) != 0) sm->at.out_of_memory = true;
}

span *spanmap_turn(spanmap *sm, const session_view *root, const long *owner, long u,
                   const session_view *children, size_t n_children, int64_t number,
                   int64_t *end_ms) {
  const message_view *user = &root->messages[u];
  uint8_t trace_id[16], span_id[8];
  spanmap_turn_ids(root->id, user, trace_id, span_id);
  const char *agent = payload_str(user->info, "agent");
  span *s = new_span(sm, "Turn", "CHAIN", trace_id, span_id, NULL, root->id, agent);
  *end_ms = -1;
  if (!s) return NULL;

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
  if (last && !payload_finished(last)) end = interrupted_end(sm, end);
  set_times(sm, s, payload_ms(payload_path(user->info, "time", "created")), end);

  text prompt = {0}, answer = {0};
  payload_parts_text(user, "text", &prompt);
  final_text(root, owner, u, &answer);
  attrs_set(&sm->at, s, ATTR_INPUT_TEXT, text_str(&prompt), prompt.len);
  attrs_str(&sm->at, s, "input.mime_type", "text/plain");
  attrs_set(&sm->at, s, ATTR_OUTPUT_TEXT, text_str(&answer), answer.len);
  attrs_str(&sm->at, s, "output.mime_type", "text/plain");
  sm->at.out_of_memory |= prompt.failed || answer.failed;
  free(prompt.data);
  free(answer.data);

  /* the root agent, as a node of the agent graph its subagents hang off */
  text node = {0};
  text_add(&node, "agent:", 6);
  text_add(&node, root->id, strlen(root->id));
  attrs_str(&sm->at, s, "graph.node.id", text_str(&node));
  attrs_str(&sm->at, s, "graph.node.name", agent ? agent : "opencode");
  sm->at.out_of_memory |= node.failed;
  free(node.data);

  rollup r = {0};
  rollup_add(&r, root, owner, u);
  for (size_t c = 0; c < n_children; c++)
    if (children[c].linked && memcmp(children[c].trace_id, trace_id, 16) == 0)
      rollup_add(&r, &children[c], NULL, 0);
  set_usage(sm, s, "opencode.turn.", &r.calls);
  attrs_int(&sm->at, s, "opencode.turn.tool_calls", r.tool_calls);
  attrs_int(&sm->at, s, "opencode.turn.tool_errors", r.tool_errors);
  if (r.compaction.llm_calls) set_usage(sm, s, "opencode.turn.compaction.", &r.compaction);

  set_metadata(sm, s, turn_metadata(sm, root, owner, u, number));

  json_t *error = last ? payload_error(last) : NULL;
  bool failed = error != NULL;
  live_turn(sm, s, root, owner, u, children, n_children, trace_id, &failed);
  if (error) {
    const char *name = payload_str(error, "name");
    if (span_set_status(s, SPAN_STATUS_ERROR, name ? name : "Error") != 0)
      sm->at.out_of_memory = true;
  } else if (failed) {
    /* live_turn set the status: a session error ended the turn */
  } else if (last && !payload_finished(last) && !payload_answered(last)) {
    if (span_set_status(s, SPAN_STATUS_ERROR,
                        "interrupted: the turn ended before its last model call completed") != 0)
      sm->at.out_of_memory = true;
  } else if (!last && sm->abandoned) {
    if (span_set_status(s, SPAN_STATUS_ERROR,
                        "interrupted: the turn ended before its first model call") != 0)
      sm->at.out_of_memory = true;
  }
  *end_ms = end;
  return s;
}

/* ------------------------------------------------------------------------------------------ */
/* AGENT spans                                                                                 */

span *spanmap_agent(spanmap *sm, const session_view *child) {
  const char *status = payload_str(json_object_get(child->task_part, "state"), "status");
  bool ended = status && (strcmp(status, "completed") == 0 || strcmp(status, "error") == 0);
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
                        : new_span(sm, text_str(&name), "AGENT", child->trace_id,
                                   child->agent_span_id, parent_id, child->id, agent);
  free(name.data);
  if (!s) return NULL;
  int64_t start = payload_ms(payload_path(st, "time", "start")),
          end = payload_ms(payload_path(st, "time", "end"));
  if (start < 0) start = payload_ms(payload_path(child->info, "time", "created"));
  if (end < 0) end = interrupted_end(sm, payload_session_last_ms(child)); /* where it stopped */
  set_times(sm, s, start, end);
  attrs_str(&sm->at, s, "agent.name", agent);
  /* this subagent instance as a node of the agent graph, under the agent that started it */
  text node = {0}, parent_node = {0};
  text_addf(&node, "agent:%s", child->id);
  text_addf(&parent_node, "agent:%s", child->parent->id);
  attrs_str(&sm->at, s, "graph.node.id", text_str(&node));
  attrs_str(&sm->at, s, "graph.node.parent_id", text_str(&parent_node));
  attrs_str(&sm->at, s, "graph.node.name", agent);
  sm->at.out_of_memory |= node.failed || parent_node.failed;
  free(node.data);
  free(parent_node.data);
  size_t prompt_len;
  const char *prompt = payload_text(json_object_get(st, "input"), "prompt", &prompt_len);
  if (prompt) attrs_set(&sm->at, s, ATTR_INPUT_TEXT, prompt, prompt_len);
  attrs_str(&sm->at, s, "input.mime_type", "text/plain");
  text answer = {0};
  final_text(child, NULL, 0, &answer);
  attrs_set(&sm->at, s, ATTR_OUTPUT_TEXT, text_str(&answer), answer.len);
  attrs_str(&sm->at, s, "output.mime_type", "text/plain");
  sm->at.out_of_memory |= answer.failed;
  free(answer.data);
  json_t *meta = json_pack("{s:s, s:s, s:s?}", "parent_session_id", child->parent->id, "session_id",
                           child->id, "title", payload_str(child->info, "title"));
  set_metadata(sm, s, meta);
  if (!ended) {
    if (span_set_status(s, SPAN_STATUS_ERROR,
                        "interrupted: OpenCode stopped before the subagent finished") != 0)
      sm->at.out_of_memory = true;
  } else if (strcmp(status, "error") == 0) {
    size_t n = 0;
    const char *error = payload_text(st, "error", &n);
    if (!error) {
      if (span_set_status(s, SPAN_STATUS_ERROR, "subagent failed") != 0)
        sm->at.out_of_memory = true;
    } else {
      attrs_set_error(&sm->at, s, ATTRS_TOOL_CONTENT, error, n); /* the task tool's error text */
    }
  }
  return s;
}
