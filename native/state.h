/* state — what was already emitted, per session: the dedup set behind "only new spans".
 *
 * A session's file lives as long as the spans it guards can be derived again: OpenCode keeps a
 * session until it is deleted, and a backfill a year later must send none of it twice, so no
 * file is removed for its age. Its size follows the session's spans: one line per span (about
 * 40 bytes: "llm:msg_...", "tool:msg_...:toolu_...") plus the header, a few hundred bytes to
 * some KiB per session, far below what OpenCode stores for the same messages (docs/durability.md).
 *
 * Keys are short strings built by reconcile ("llm:<message id>", "tool:<message id>:<call
 * id>", "turn:<user message id>", "agent:<child session id>"). With a directory, each
 * session's keys are also kept in a file there, so a new process (a restart, or a second
 * OpenCode on the same session) emits only what is new:
 *
 *   state_begin(st, session)   open the session's file, read what was recorded since
 *   state_seen / state_mark    marks are pending until...
 *   state_hand_over(st, ...)   ...the spans were handed over (in memory): the marks are
 *                              "handed" (seen by this process, not yet in the file);
 *                              state_record(st, marks) appends them once the spool holds the
 *                              spans durably (the writer thread calls it)
 *   state_commit(st)           or: append them now (roll-forward of marks found in the
 *                              spool at start, and tests)
 *   state_rollback(st)         or: forget them
 *
 * So the file never says "sent" for a span a crash could still lose: a span handed over but
 * not yet durable is re-derived from the next snapshot by the next process.
 *
 * Reading takes no lock and never waits: the file is append-only, a torn last line is left
 * unread, and the open is O_NOATIME, so a read dirties no inode (on ext4 an atime update
 * needs a journal handle, which waits behind a journal commit that another thread's fsync
 * started). Every append is one write() under the file's lock (state_commit, and
 * state_record on the writer thread), so two processes never interleave. File names are
 * sanitised session ids: nothing a session id holds can leave the directory.
 *
 * Threads: state_record may run on another thread than the rest (which run on one). It moves
 * the keys it wrote from "handed" to "recorded", both seen, under a mutex; the next begin moves
 * "recorded" into the committed set. So a key is always seen somewhere, even when a begin read
 * the file just before the key reached it.
 */
#ifndef STATE_H
#define STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct state state;

/* A state kept in dir (created 0700 if missing), or in memory only when dir is NULL.
 * NULL when out of memory. A directory that cannot be used is logged and memory is used. */
state *state_new(const char *dir);
void state_free(state *st);

/* Opens session for marking (see above). A file that cannot be read or is corrupt is logged
 * and started afresh: spans may be sent again, and the backend de-duplicates them by id. */
void state_begin(state *st, const char *session_id);

/* Whether key was marked for session (committed, or pending in the open session). */
bool state_seen(const state *st, const char *session_id, const char *key);

/* Marks key for session as pending. 0, or -1 when out of memory. Marking twice is harmless. */
int state_mark(state *st, const char *session_id, const char *key);

/* Makes the pending marks permanent (appends them to the session's file) and releases the
 * session. 0, or -1 when the file could not be written (the marks stay in memory). */
int state_commit(state *st);

/* Forgets the pending marks and releases the session. */
void state_rollback(state *st);

/* Moves the pending marks of the open session to the in-memory "handed" set and releases the
 * session. *marks (malloc'd, caller frees) gets them as "<session>\0<key>\0<key>\0...", for
 * state_record once the spans are durable; *marks is NULL when nothing was pending. 0, or -1
 * when out of memory (nothing moved: the caller commits or rolls back instead). */
int state_hand_over(state *st, uint8_t **marks, size_t *len);

/* Appends marks (as state_hand_over made them) to their session's file and then forgets them
 * from the handed set (the file holds them now; the next state_begin reads them). When the
 * file cannot be written they stay handed (this process still will not emit them again; the
 * next may, which duplicates rather than loses). Thread-safe against the other functions.
 * 0, or -1 when the file could not be written. */
int state_record(state *st, const uint8_t *marks, size_t len);

/* A session's file under its lock (blocking: for the writer thread only, never OpenCode's),
 * with the keys it holds: what the writer checks a unit's spans against before it stores them
 * (a key another process recorded meanwhile is a span that process already has: exactly once
 * between processes), and where it records the marks of what it stored, before the lock goes.
 * NULL when there is no directory or the file cannot be opened (the caller then stores and
 * records as it would without one). */
typedef struct state_guard state_guard;
state_guard *state_guard_open(state *st, const char *session_id);

/* Whether the file held key when the guard opened it (or a record through it added it). */
bool state_guard_recorded(const state_guard *g, const char *key);

/* Appends the keys of marks (state_hand_over's format, of the guard's session) that the file
 * does not hold yet, and moves them from handed to recorded (as state_record). 0, or -1. */
int state_guard_record(state_guard *g, const uint8_t *marks, size_t len);

/* Releases the lock. NULL is fine. */
void state_guard_close(state_guard *g);

/* Calls fn for each key of marks (as state_hand_over made them); returns the session id
 * (pointing into marks) or NULL when marks are malformed. */
const char *state_marks_each(const uint8_t *marks, size_t len,
                             void (*fn)(void *ctx, const char *session_id, const char *key),
                             void *ctx);

/* Keys that begin with STATE_ANCHOR_PREFIX are ordered (their text compares as their order):
 * the state remembers the greatest one marked or read for each session, in memory, so a
 * caller can continue a count from it without listing the keys (reconcile's turn numbers:
 * "turn#<user message id>#<number>"). */
#define STATE_ANCHOR_PREFIX "turn#"

/* The greatest anchor key of session seen so far (marked, or read at a begin), or NULL. The
 * pointer is valid until the next call that marks or begins. */
const char *state_anchor(const state *st, const char *session_id);

/* How many keys are held (for status). */
size_t state_size(const state *st);

/* The file name (not path) for a session id: [A-Za-z0-9_-] kept, every other byte as %XX,
 * long ids shortened with a hash. out must hold STATE_NAME_MAX bytes. */
#define STATE_NAME_MAX 256
void state_file_name(const char *session_id, char out[STATE_NAME_MAX]);

#endif
