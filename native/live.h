/* live — the live signals of OpenCode (plugin/live.mjs), kept until their spans are built.
 *
 * What OpenCode's hooks and events say that its stored messages do not: the system prompt,
 * invocation parameters and tools a model call was given, provider retries, permission asks and
 * answers, the slash command that started a turn, session errors stored on no message, the
 * tools' definitions. The plugin hands them over with a payload (its `live` member):
 *
 *   "live": {
 *     "sessions": { "<session id>": {
 *       "calls":       [{at, user, agent, system?, systemSame?, params?: {...}, tools?: [id]}],
 *       "permissions": [{id, type?, patterns?: [..], message?, call?, asked?, replied?, reply?}],
 *       "retries":     [{at, attempt, message?, next?}],
 *       "errors":      [{at, name, message?}],
 *       "commands":    [{at, name, arguments?}] } },
 *     "tools": [{id, description, parameters: {JSON Schema}}] }
 *
 * Times are OpenCode's wall clock (ms) when the plugin saw the signal. A call (chat.params) is
 * seen after its assistant message was created and before the next one: the call of assistant
 * message A is the one of A's session whose user message is A's parent, whose agent is A's, and
 * whose time lies in [A created, next assistant of the session created). A command is seen just
 * before the user message it creates. A permission names its tool call (message and call id).
 * `systemSame` says the system prompt is the one of the session's previous call with the same
 * user message (the plugin sends each once per turn).
 *
 * The store is bounded (sessions, items per session, bytes; the least recently fed session goes
 * first) and owns copies of everything; reconcile frees what belongs to a turn once its Turn
 * span is built (live_release). Tool definitions are global (by tool id), at most
 * LIVE_TOOLS_MAX. Pointers returned by the lookups are borrowed: valid until the next
 * live_ingest, live_release or live_free. Not thread-safe (the JS thread's reconcile uses it). */
#ifndef LIVE_H
#define LIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIVE_SESSIONS_MAX 256
#define LIVE_ITEMS_MAX 256          /* calls, retries, permissions per session */
#define LIVE_TOOLS_MAX 512          /* tool definitions */
#define LIVE_TEXT_MAX (1024 * 1024) /* a system prompt, a tool definition: longer is cut */
#define LIVE_BYTES_MAX (32u << 20)  /* everything the sessions hold */

typedef struct live_store live_store;

/* What is known of one model call (its chat.params and the system prompt before it). */
typedef struct {
  const char *system; /* the system prompt, NULL when unknown */
  size_t system_len;
  const char *params;       /* invocation parameters as compact JSON text; NULL when none */
  const char *const *tools; /* ids of the tools offered */
  size_t n_tools;
  bool has_tools; /* the plugin knew them (an empty list is a list) */
} live_call;

typedef struct {
  int64_t at, attempt, next; /* next: when OpenCode tries again (ms), -1 unknown */
  char *message;
} live_retry;

typedef struct {
  char *id, *type, *message, *call, *reply;
  char **patterns;
  size_t n_patterns;
  int64_t asked, replied; /* -1 unknown */
} live_permission;

typedef struct {
  int64_t at;
  char *name, *message;
} live_error;

typedef struct {
  int64_t at;
  char *name, *arguments;
} live_command;

live_store *live_new(void);
void live_free(live_store *ls);

/* Copies the payload's `live` member (NULL or not an object: nothing) into the store. Returns
 * how many items could not be read (each left out; the caller logs the count), or -1 when
 * memory ran out (what was read stays). */
long live_ingest(live_store *ls, const json_t *live);

/* The call of session whose user message is user (NULL: any), whose agent is agent (NULL or
 * the call's unknown: any), seen in [from_ms, to_ms): false when none. A retried call is seen
 * again: the first sighting gives each field, a later one what the first did not have. */
bool live_call_for(const live_store *ls, const char *session, const char *user, const char *agent,
                   int64_t from_ms, int64_t to_ms, live_call *out);

/* The permissions asked for tool call (message, call) of session, oldest first. */
size_t live_permissions(const live_store *ls, const char *session, const char *message,
                        const char *call, const live_permission **out, size_t max);

/* Whether a permission was asked for tool call (message, call) of session and its answer is not
 * here yet: OpenCode may store the call's end before the plugin hears the answer. */
bool live_permission_pending(const live_store *ls, const char *session, const char *message,
                             const char *call);

/* The session errors seen in [from_ms, to_ms), oldest first. */
size_t live_errors(const live_store *ls, const char *session, int64_t from_ms, int64_t to_ms,
                   const live_error **out, size_t max);

/* What a turn adds up to: retries seen in [from_ms, to_ms) and the milliseconds permissions
 * asked in that window waited for their answer (a whole session when from_ms > to_ms is
 * not asked: pass INT64_MIN, INT64_MAX). */
void live_turn_totals(const live_store *ls, const char *session, int64_t from_ms, int64_t to_ms,
                      int64_t *retries, int64_t *permission_wait_ms);

/* A tool's definition: its description, and the OpenInference tool schema
 * ({"type":"function","function":{name, description, parameters}}) as JSON text; NULL when the
 * tool is not known. */
const char *live_tool_description(const live_store *ls, const char *tool);
const char *live_tool_schema(const live_store *ls, const char *tool);

/* Frees what session holds from from_ms to to_ms (the calls, retries, errors and commands seen
 * then, the permissions asked then), and the whole session when from_ms is INT64_MIN and to_ms
 * INT64_MAX. A session left empty is forgotten. */
void live_release(live_store *ls, const char *session, int64_t from_ms, int64_t to_ms);

/* ---- The signals of a payload's messages (the rules above, applied to a session's views) ---- */

struct session_view;

/* The call of assistant message i of sv (payload.h), and its retries. */
bool live_call_of(const live_store *ls, const struct session_view *sv, size_t i, live_call *out);
size_t live_retries_of(const live_store *ls, const struct session_view *sv, size_t i,
                       const live_retry **out, size_t max);

/* The window of the turn of user message u of sv: from its creation to the next user message's
 * (INT64_MAX when none); false when u has no creation time. */
bool live_turn_window(const struct session_view *sv, size_t u, int64_t *from_ms, int64_t *to_ms);

/* The slash command that created user message u of sv (seen after the user message before it
 * and at most when u was created), or NULL. */
const live_command *live_command_of(const live_store *ls, const struct session_view *sv, size_t u);

/* For tests and status: sessions held, and the bytes they hold. */
size_t live_sessions(const live_store *ls);
size_t live_bytes(const live_store *ls);

#endif
