/* payload — the plugin's JSON payload read into checked views (see reconcile.h for its shape).
 *
 * Everything here reads; nothing emits. payload_parse turns the text into a jansson tree,
 * repairing what JavaScript writes and jansson refuses. payload_load_messages and
 * payload_load_children check each record (ids, ownership) and build views into the tree:
 * a bad item is skipped with one log line naming it by ids (payload_skip), a record of another
 * session rejects the whole payload (payload_reject). The accessors read one field each and say
 * what an absent or absurd value reads as. Every pointer in a view is borrowed from the json_t
 * tree the views were loaded from: the tree must outlive them; only the messages arrays (and
 * the children array) are owned, freed by the caller. */
#ifndef PAYLOAD_H
#define PAYLOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "text.h"

#define PAYLOAD_ID_MAX 256    /* ids are shorter (payload_id_ok) */
#define PAYLOAD_ERROR_MAX 256 /* the size of payload_report's error buffer */

/* Where reading a payload says what it found wrong, into its reader's result (borrowed): why
 * the whole payload was rejected (payload_reject writes error, PAYLOAD_ERROR_MAX bytes) and how
 * many items were left out (payload_skip counts them in *skipped). */
typedef struct {
  char *error;
  size_t *skipped;
} payload_report;

/* OpenCode's clocks are wall-clock milliseconds: before 2000 or beyond 1e13 ms (the year
 * 2286) a time is garbage, and past that its nanoseconds would overflow 64 bits. */
#define PAYLOAD_MIN_MS 946684800000LL /* 2000-01-01T00:00:00Z */
#define PAYLOAD_MAX_MS 10000000000000LL

typedef struct {
  json_t *info, *parts;
  const char *id, *role, *parent_id; /* parent_id: assistant → its user message */
} message_view;

typedef struct session_view session_view;
struct session_view {
  const char *id;
  json_t *info;           /* the child's Session (NULL for the payload's own session) */
  message_view *messages; /* owned by the caller once loaded: free(view->messages) */
  size_t n_messages;

  /* Children only: the link to the task call that started them (read from the payload). */
  const char *parent_session_id, *parent_call_id;

  /* Children only, filled by reconcile's session model (link_children), zero when loaded. */
  session_view *parent; /* resolved parent view, NULL until linked */
  json_t *task_part;    /* the parent's `task` tool part */
  const message_view *task_message;
  uint8_t trace_id[16];
  uint8_t agent_span_id[8];
  bool linked;
  bool turn_over; /* the root turn its task call ran in is over: what never finished, won't */
};

/* Parses the payload text. A string far longer than any attribute made from it can show is cut
 * before parsing, keeping its first keep bytes and its end (payload_measure says the size of
 * the whole). JavaScript's lone surrogates become U+FFFD; an integer past int64 is
 * read as a real; a number beyond a double reads as null (one log line; *nulled says how many),
 * so an item that needs it as a number is skipped alone (payload_skip counts it). Returns the tree
 * (caller json_decref's it), or NULL with error set (position and jansson's reason, never the text
 * near it: that is content). */
json_t *payload_parse(const char *json, size_t len, size_t keep, char *error, size_t error_size,
                      size_t *nulled);

/* How a value holding strings cut at parse time is measured (payload_measure). */
typedef enum {
  PAYLOAD_AS_TEXT,        /* value is text (a string of the payload, or text joined from them) */
  PAYLOAD_AS_JSON_TEXT,   /* value is JSON text written from the payload (a tool's arguments) */
  PAYLOAD_AS_JSON_STRING, /* value is text; its size once escaped as a JSON string's content */
} payload_form;

/* The true size of value (len bytes) as it would be had no string been cut at parse time: a
 * string of more than about twice the attribute limit (keep) keeps its head and tail around a
 * separator, and only its size is known beyond them. *bytes and *chars; without cuts, value's
 * own (chars may be NULL: not counted). Valid until the next payload_parse or payload_release on
 * this thread. */
void payload_measure(const char *value, size_t len, payload_form form, size_t *bytes,
                     size_t *chars);

/* Registers the strings lib cut before writing the payload's JSON text (its "$cuts": {"tag",
 * "items": [[bytes, chars, escaped bytes, escaped chars], ...]}, the sizes of what each cut
 * left out): payload_measure counts them like its own. */
void payload_register_cuts(const json_t *cuts);

/* Forgets the cuts of the last parse. */
void payload_release(void);

/* Whether this is an acceptable OpenCode id (non-empty, no control characters, under
 * PAYLOAD_ID_MAX bytes): ids become state keys and file names. */
bool payload_id_ok(const char *id);

/* Sets r->error to the formatted reason; returns -1 (the whole payload is rejected). */
int payload_reject(const payload_report *r, const char *fmt, ...) PLATFORM_PRINTF(2, 3);

/* One bad item costs only itself (docs/architecture.md): logs one line naming it (ids and position,
 * never content) and counts it in *r->skipped; the rest is traced. */
void payload_skip(const payload_report *r, const char *fmt, ...) PLATFORM_PRINTF(2, 3);

/* Reads messages into view (view->id set). A message or part that cannot be read, or a part
 * that names another message or session, is skipped (removed from the tree, so nothing later
 * reads it). A message of another session returns -1 with r->error set: the plugin read the
 * wrong session, and nothing in it can be trusted (a privacy boundary). view->messages is
 * allocated even on failure (caller frees). */
int payload_load_messages(session_view *view, json_t *messages, const payload_report *r);

/* Reads the child sessions (childSessions, may be NULL) into *out (owned by the caller, with
 * each child's messages). A child that cannot be trusted (no valid id or parent id, its own
 * parent or the root, an info that describes another session, messages of another session, a
 * duplicate) is skipped with one log line. Returns -1 only when memory ran out. */
int payload_load_children(json_t *list, const char *root_id, session_view **out, size_t *n_out,
                          const payload_report *r);

/* ---- Field accessors: absent, wrong type and absurd values, each read one stated way ---- */

/* A string member, or NULL when absent, not a string, or holding a NUL byte (\u0000): ids
 * and short fields must not be read as a shorter string than they are. */
const char *payload_str(const json_t *obj, const char *key);

/* A text member (prompt, answer, tool output) with its full length, NUL bytes included: the
 * span model turns those into U+FFFD instead of cutting the text there. */
const char *payload_text(const json_t *obj, const char *key, size_t *len);

/* obj.a.b, or NULL. */
json_t *payload_path(json_t *obj, const char *a, const char *b);

/* A millisecond timestamp, or -1 when absent or not a number. A number outside [PAYLOAD_MIN_MS,
 * PAYLOAD_MAX_MS] is a bad clock, not a missing time: it is clamped to the nearer bound, so a
 * message that says it completed still counts as completed. */
int64_t payload_ms(const json_t *v);

/* A token count: 0 when absent (OpenCode writes every bucket it has), -1 when present but not
 * a count (a string, null — what an overflowing number is read as —, a negative or
 * non-finite number): unknown, never read as 0. Past a trillion it saturates. */
int64_t payload_count_known(const json_t *v);

/* A count for sums (the Turn's roll-up): what is unknown adds nothing. */
int64_t payload_count(const json_t *v);

/* A cost in USD: 1 with *out set when known, 0 when absent (unknown, not free), -1 when
 * present but absurd (not a number, negative, not finite, above a billion). */
int payload_cost(const json_t *v, double *out);

/* ---- Reading OpenCode messages ---- */

bool payload_is_user(const message_view *m);
bool payload_is_assistant(const message_view *m);

/* OpenCode's automatic compaction (a model call past the context limit) goes on with the turn
 * it interrupted: the user message it writes (a `compaction` part with auto: true) and the
 * synthetic "continue" message after the summary (a text part whose metadata says
 * compaction_continue) are continuations of that turn, not prompts of the user. */
bool payload_is_continuation(const message_view *m);

/* "auto" or "manual" when user message m asks for a compaction (a `compaction` part), else
 * NULL. A manual one is the TUI's /compact (POST /session/:id/summarize). */
const char *payload_compaction(const message_view *m);

/* Whether assistant message m is a compaction's summary call (info.summary true, or the
 * compaction agent's mode). */
bool payload_is_summary(const message_view *m);

/* Whether an assistant message completed or failed (a model call that will not change). */
bool payload_finished(const message_view *m);
/* Whether the model's answer was stored whole although time.completed is not (yet) written:
 * info.finish is set and the last part is the step-finish. OpenCode shows the answer before it
 * writes the completion, so a quit the instant it appears leaves such a message. */
bool payload_answered(const message_view *m);
/* The model call's error as OpenCode stored it (info.error), or NULL when it has none or when
 * it is an abort of an answer stored whole: quitting the TUI (ctrl-c twice) the instant the
 * answer is drawn makes OpenCode stamp MessageAbortedError on a call whose answer, finish
 * reason and step-finish are all there. A call aborted while it streamed has no finish and no
 * step-finish, and keeps its error. */
json_t *payload_error(const message_view *m);

/* The latest millisecond time anywhere in the message: its completion, else (and for an abort
 * of an answer stored whole, whose completion is the quit) the last time a part reported.
 * Used to end spans of calls that never completed. */
int64_t payload_message_last_ms(const message_view *m);

/* The latest time anywhere in a session's messages (-1 when none). */
int64_t payload_session_last_ms(const session_view *sv);

/* Appends the text of m's parts of this type ("text" or "reasoning"), joined by blank lines;
 * synthetic and ignored parts (OpenCode's own insertions) are left out. */
void payload_parts_text(const message_view *m, const char *type, text *out);

#endif
